//! Files faultdrill creates (disk-fill) and their idempotent removal.

use crate::fault::{UndoError, UndoOutcome};

pub fn delete_file(path: &std::path::Path) -> Result<UndoOutcome, UndoError> {
    let _ = path;
    Err(UndoError { what: "not built yet".into(), source: None })
}
