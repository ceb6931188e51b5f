//! Traffic control: faultdrill-owned root qdiscs, created and deleted with `tc`.

use crate::fault::{UndoError, UndoOutcome};

pub fn delete_root_qdisc(netns: Option<&str>, device: &str, handle: &str) -> Result<UndoOutcome, UndoError> {
    let _ = (netns, device, handle);
    Err(UndoError { what: "not built yet".into(), source: None })
}
