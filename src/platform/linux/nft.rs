//! nftables: faultdrill-owned tables, created and deleted with `nft`.

use crate::fault::{UndoError, UndoOutcome};

pub fn delete_table(netns: Option<&str>, family: &str, table: &str) -> Result<UndoOutcome, UndoError> {
    let _ = (netns, family, table);
    Err(UndoError { what: "not built yet".into(), source: None })
}
