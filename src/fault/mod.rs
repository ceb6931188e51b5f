//! The fault library: one fault per file, the parameters they take, and undo records.

mod context;
mod library;
mod params;
mod undo;

pub use context::{Fault, FaultError, FaultInfo, InjectContext, Prepared};
pub use library::{all_faults, find_fault};
pub use params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawParams, check_value, parse_bytes};
pub use undo::{Undo, UndoError, UndoOutcome};
