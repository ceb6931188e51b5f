//! The reaper: rolls back whatever is past its deadline or lease, even when
//! no controller is left (DESIGN §4 rules 3 and 4).
//!
//! It sleeps until the earliest deadline, lease expiry or retry of a failed rollback
//! (at most [`MAX_SLEEP`]), and is woken early when an inject or a renewal moves one.
//! A failed rollback is retried with backoff until it succeeds: "failed" never means
//! "forgotten" (DESIGN §4 rule 9).
//!
//! Deadlines and leases are judged on the boot clock the journal keeps beside the wall clock
//! (`journal::clock`), and the reaper sleeps on tokio's monotonic clock: a step of the wall
//! clock neither rolls back every live injection at once nor keeps a lost controller's
//! faults in place for as long as the step.

use std::time::Duration;

use tracing::{error, warn};

use crate::journal::Now;

use super::state::Shared;

/// The longest the reaper sleeps without looking at the journal.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Runs until the process ends.
pub async fn run(state: Shared) {
    loop {
        let wait = match state.host.journal().next_due_in(&Now::read()) {
            Ok(Some(left)) => Duration::from_millis(left.clamp(0, MAX_SLEEP.as_millis() as i64) as u64),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                error!(error = %e, "Reaper could not read the journal.");
                MAX_SLEEP
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = state.reaper_wake.notified() => continue,
            }
        }
        reap(&state).await;
    }
}

/// Rolls back every overdue injection now.
pub async fn reap(state: &Shared) {
    let _guard = state.mutate.lock().await;
    match state.host.roll_back_overdue().await {
        Ok(results) => {
            for r in &results {
                state.metrics.rollback(r);
                match &r.outcome {
                    Ok(_) => warn!(injection = %r.id, fault = %r.fault, "Deadline or lease passed: rolled back."),
                    Err(e) => {
                        error!(injection = %r.id, fault = %r.fault, error = %e, "Rollback of an overdue injection failed.")
                    }
                }
            }
        }
        Err(e) => error!(error = %crate::engine::error_chain(&e), "Reaper could not roll back."),
    }
}
