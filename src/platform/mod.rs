//! Operating-system specifics. Everything Linux-only (and every `unsafe`) lives under `linux`.

pub mod linux;
