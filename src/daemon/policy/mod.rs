//! The daemon's policy: what callers may make root do on this host (DESIGN §6).

mod address;
mod check;
mod file;
mod rules;

pub use check::{check_action, check_plan};
pub use file::load;
pub use rules::{Policy, Refusal};
