//! What exec and http-call share: the parameters of a custom action's rollback (whether
//! it has one, how often it is retried) and how they are read, declared once here.

use std::time::Duration;

use super::context::FaultError;
use crate::experiment::{ParamKind, ParamSpec, Params};

/// `irreversible`: an action with no rollback.
pub(super) const IRREVERSIBLE: ParamSpec = ParamSpec {
    name: "irreversible",
    kind: ParamKind::Bool,
    default: Some("false"),
    required: false,
    doc: "true: the action has no rollback and cannot be undone; the dry run, report and JUnit say so",
};

/// `rollback_retries`: tries of the rollback after the first.
pub(super) const ROLLBACK_RETRIES: ParamSpec = ParamSpec {
    name: "rollback_retries",
    kind: ParamKind::Integer { min: 0, max: 20 },
    default: Some("3"),
    required: false,
    doc: "tries of the rollback after the first one fails",
};

/// `retry_backoff`: the first wait between rollback tries, doubled each time.
pub(super) const RETRY_BACKOFF: ParamSpec = ParamSpec {
    name: "retry_backoff",
    kind: ParamKind::Duration,
    default: Some("1s"),
    required: false,
    doc: "wait before the first retry of the rollback, doubled before each next one",
};

/// Whether the action declares `irreversible: true`.
pub(super) fn is_declared_irreversible(params: &Params) -> bool {
    params.bool("irreversible") == Some(true)
}

/// How the rollback is retried: (retries, first backoff in ms), defaults from the declarations.
pub(super) fn rollback_retry(params: &Params) -> Result<(u32, u64), FaultError> {
    let retries: i64 = params.get("rollback_retries")?;
    let backoff: Duration = params.get("retry_backoff")?;
    Ok((retries.clamp(0, 20) as u32, backoff.as_millis() as u64))
}
