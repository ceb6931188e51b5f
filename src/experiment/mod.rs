//! Experiments: the YAML format as written (spec), its loader, and the checked plan.

mod budget;
mod builtin;
mod catalog;
mod check;
mod cycles;
mod decode;
mod diag;
mod expect;
mod fault_params;
mod load;
mod merge;
mod params;
pub mod plan;
mod schema;
pub mod spec;
mod template;
mod yaml;

pub use builtin::{BuiltinTemplate, template, templates};
pub use catalog::FaultCatalog;
pub use expect::parse_comparison;
pub use load::{Diagnostic, Diagnostics, load_file, load_str, load_template, parse_sets, render_str};
pub use params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value, parse_bytes};
pub use plan::*;
pub use schema::{schema, schema_json};

#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod test_catalog;
