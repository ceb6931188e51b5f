//! Retention in the daemon: prunes the journal, the audit trail and old run reports when
//! it starts, then every [`PRUNE_EVERY`], so a daemon under constant use stays bounded.

use std::time::Duration;

use tracing::{error, info};

use super::state::{AppState, Shared};

/// How often the daemon prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Prunes now, then every [`PRUNE_EVERY`], until the process ends.
pub async fn run(state: Shared) {
    loop {
        let s = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || prune(&s)).await {
            error!(error = %e, "Pruning the journal stopped short.");
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}

/// Prunes the journal, the audit trail and the run reports by the daemon's retention.
pub fn prune(state: &AppState) {
    let retention = &state.retention;
    let journal = match state.host.journal().prune(retention) {
        Ok(p) => p,
        Err(e) => {
            error!(error = %crate::engine::error_chain(&e), "Could not prune the journal.");
            Default::default()
        }
    };
    let audit = state.audit.prune(retention).unwrap_or_else(|e| {
        error!(error = %crate::engine::error_chain(&e), "Could not prune the audit trail.");
        0
    });
    let reports = crate::report::prune_reports(&state.state_dir, retention);
    if !journal.is_empty() || audit > 0 || reports > 0 {
        info!(
            runs = journal.runs,
            injections = journal.injections + journal.remote_injections,
            audit,
            reports,
            "Pruned what the retention no longer keeps."
        );
    }
}
