//! faultdrill: a chaos fault-injection experiment runner for Linux hosts.
//!
//! Layers, highest first (imports only flow downwards):
//! `cli`, `daemon` → `engine` → `fault`, `probe`, `guardrail`, `client` →
//! `experiment`, `journal`, `platform`. `exit` and `ids` are shared vocabulary.

pub mod cli;
pub mod client;
pub mod daemon;
pub mod engine;
pub mod errors;
pub mod exit;
pub mod experiment;
pub mod fault;
pub mod guardrail;
pub mod ids;
pub mod journal;
pub mod platform;
pub mod probe;
pub mod report;
pub mod tls;
