//! What carrying out an undo found, or why it failed: the result every platform undo
//! (delete a file, stop helpers, resume processes, delete a table or qdisc) returns.
//! It lives here, at the bottom layer, so platform code needs nothing from above it.

use serde::{Deserialize, Serialize};

/// What carrying out an undo found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoOutcome {
    /// The fault was there and is now gone.
    Undone,
    /// Nothing was left to undo (idempotent success).
    AlreadyGone,
    /// The undo ran and said it succeeded, but nothing can check that the fault is gone
    /// (an exec or http-call action that gave no `verify_rolled_back`).
    UndoneUnchecked,
}

/// Why an undo failed: the fault may still be in place.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct UndoError {
    pub what: String,
    #[source]
    pub source: Option<std::io::Error>,
}
