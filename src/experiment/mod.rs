//! Experiments: the YAML format as written (spec), its loader, and the checked plan.

mod catalog;
mod load;
mod params;
pub mod plan;

pub use catalog::FaultCatalog;
pub use load::{Diagnostics, load_file, load_str};
pub use params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value, parse_bytes};
pub use plan::*;
