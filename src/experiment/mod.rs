//! Experiments: the YAML format as written (spec), its loader, and the checked plan.

mod budget;
mod builtin;
mod catalog;
mod check;
mod check_groups;
mod check_guardrails;
mod check_sources;
mod cycles;
mod decode;
mod diag;
mod expect;
mod external;
mod fault_params;
mod host_checks;
mod limits;
mod load;
mod merge;
mod param_read;
mod param_relations;
mod param_schema;
mod params;
pub mod plan;
mod probe_rate;
mod request_param;
mod schema;
pub mod spec;
mod template;
mod units;
mod yaml;

pub use builtin::{BuiltinTemplate, template, templates};
pub use catalog::FaultCatalog;
pub use expect::parse_comparison;
pub use limits::{MAX_DURATION, check_duration_limit};
pub use load::{Diagnostic, Diagnostics, load_file, load_str, load_template, parse_sets, render_str};
pub(crate) use param_read::param_words;
pub use param_read::{FromParam, ParamReadError};
pub use param_schema::{ParamsFor, params_schema};
pub use params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value};
pub use plan::*;
pub use schema::{schema, schema_json};
pub use units::{DURATION_FORMS, parse_bytes, parse_duration};

/// The positioned YAML reader and its diagnostics, for the other files a user writes
/// (the daemon's token and policy files): one pipeline, one `file:line:col` format.
pub mod positioned {
    pub use super::decode::Fields;
    pub use super::diag::{Diagnostics, Sink, closest};
    pub use super::yaml::{Node, Span, Value, parse};
}

#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod test_catalog;
