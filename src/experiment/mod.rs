//! Experiments: the YAML format as written (spec), its loader, and the checked plan.

pub mod plan;

pub use plan::*;
