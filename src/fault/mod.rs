//! The fault library: one fault per file, the parameters they take, and undo records.

mod context;
mod library;
mod undo;

pub use crate::experiment::{
    ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value, parse_bytes,
};
pub use context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
pub use library::{all_faults, catalog, find_fault};
pub use undo::{Undo, UndoError, UndoOutcome};
