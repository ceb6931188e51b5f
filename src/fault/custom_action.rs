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

/// How long a custom action's inject may take beyond a host's usual limit: its `inject` and
/// then its `verify_injected` step, each up to `step` (its `timeout`).
pub fn inject_steps_time(step: Duration) -> Duration {
    step.saturating_mul(2)
}

/// How long a custom action's rollback may take beyond a host's usual limit: a first check
/// (`verify_rolled_back`), then the rollback and the check again for each of its
/// `rollback_retries` + 1 tries, each step up to its `timeout`, and the waits between tries
/// (`retry_backoff`, doubled each time). Zero for a fault that is not a custom action.
pub fn rollback_steps_time(params: &Params) -> Duration {
    let Some(step) = params.get::<Option<Duration>>("timeout").ok().flatten() else { return Duration::ZERO };
    let (retries, backoff_ms) = rollback_retry(params).unwrap_or((0, 0));
    let waits = Duration::from_millis(backoff_ms).saturating_mul((1u32 << retries) - 1);
    step.saturating_mul(1 + 2 * (retries + 1)).saturating_add(waits)
}
