//! What the loader needs to know about faults, without depending on the fault library.
//!
//! The fault library sits above `experiment` in the layering, so it hands the
//! loader a catalog (`fault::catalog()`) instead of the loader importing it.

use super::params::{ParamSpec, Params};

/// The faults an experiment may name.
pub trait FaultCatalog: Sync {
    /// The parameters of fault `name`, or `None` if there is no such fault.
    fn params_of(&self, name: &str) -> Option<&'static [ParamSpec]>;

    /// Whether fault `name` is held for a duration (process-kill is not).
    fn is_held(&self, name: &str) -> bool;

    /// Cross-parameter checks of fault `name` (e.g. "exactly one of name, pattern, pid").
    fn check(&self, name: &str, params: &Params) -> Result<(), String>;

    /// Every fault name, for "expected one of" messages.
    fn names(&self) -> Vec<&'static str>;
}
