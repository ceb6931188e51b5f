//! Helper processes tagged with an injection id: finding and stopping them.

use crate::fault::{UndoError, UndoOutcome};

pub fn stop_helpers(injection: &crate::ids::InjectionId) -> Result<UndoOutcome, UndoError> {
    let _ = injection;
    Err(UndoError { what: "not built yet".into(), source: None })
}
