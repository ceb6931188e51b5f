//! Experiments: the YAML format as written (spec), its loader, and the checked plan.

mod catalog;
mod params;
pub mod plan;

pub use catalog::FaultCatalog;
pub use params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value, parse_bytes};
pub use plan::*;
