//! Runs whose controller is gone (`kill -9`): their report stub and journal entry are
//! brought up to date by `faultdrill recover`, and `faultdrill runs` shows them as abandoned.

use std::path::Path;

use crate::engine::{RemoteRecovery, RollbackResult, control_socket_path, is_listening};
use crate::ids::RunId;
use crate::journal::{Journal, now_ms};
use crate::report::{RollbackRecord, format_ms, read_report, report_path, write_report};

use super::cmd_run::UNFINISHED;

/// The journal state of a run whose controller died before finishing it.
pub const ABANDONED: &str = "abandoned";

/// Whether run `id` (journal state `state`) was left unfinished by a controller that is
/// gone: its stub report is still unfinished and nobody answers on its control socket.
/// Removes the stale socket.
pub fn is_abandoned(state_dir: &Path, id: &RunId, state: &str) -> bool {
    if state == "finished" || state == ABANDONED {
        return false;
    }
    let Ok(report) = read_report(&report_path(state_dir, id)) else { return false };
    if report.finished_ms.is_some() || report.reason.as_deref() != Some(UNFINISHED) {
        return false;
    }
    let socket = control_socket_path(state_dir, id.as_str());
    if is_listening(&socket) {
        return false;
    }
    // Gone already is fine: the socket only mattered while its run was alive.
    let _ = std::fs::remove_file(&socket);
    true
}

/// Marks every abandoned run as such, and records in its report stub what recovery rolled
/// How many injections were recovered and how many were not. An injection counts as
/// recovered once any of its rollbacks worked (a retry may). One whose id the killed
/// controller never journaled shows first as `unknown`, then under the id a later recovery
/// found on its daemon: the same host and fault.
fn count_recovered(rollbacks: &[RollbackRecord]) -> (usize, usize) {
    let key = |r: &RollbackRecord| -> String {
        if r.injection.as_str() != UNKNOWN {
            return r.injection.to_string();
        }
        let known =
            rollbacks.iter().find(|o| o.injection.as_str() != UNKNOWN && o.host == r.host && o.fault == r.fault);
        known.map_or_else(|| format!("{}/{}", r.host, r.fault), |o| o.injection.to_string())
    };
    let mut injections: Vec<(String, bool)> = Vec::new();
    for r in rollbacks {
        let k = key(r);
        match injections.iter_mut().find(|(id, _)| *id == k) {
            Some(entry) => entry.1 |= r.ok,
            None => injections.push((k, r.ok)),
        }
    }
    let failed = injections.iter().filter(|(_, ok)| !ok).count();
    (injections.len() - failed, failed)
}

/// The id written for an injection whose id the killed controller never journaled.
const UNKNOWN: &str = "unknown";

/// back for it. Returns the runs closed.
pub fn close_abandoned_runs(
    state_dir: &Path,
    journal: &Journal,
    local: &[RollbackResult],
    remote: &[RemoteRecovery],
) -> Vec<RunId> {
    let runs = journal.runs(1000).unwrap_or_default();
    let mut closed = Vec::new();
    let ours = |id: &RunId| {
        remote.iter().any(|r| r.run.as_ref() == Some(id))
            || local.iter().any(|r| journal.get(&r.id).ok().flatten().is_some_and(|rec| rec.run.as_ref() == Some(id)))
    };
    // Newly abandoned runs, and runs closed before that this recovery did more for.
    let candidates =
        runs.into_iter().filter(|r| (r.state == ABANDONED && ours(&r.id)) || is_abandoned(state_dir, &r.id, &r.state));
    for run in candidates {
        let path = report_path(state_dir, &run.id);
        let Ok(mut report) = read_report(&path) else { continue };
        let now = now_ms();
        let record =
            |injection, host: &str, fault: &str, outcome: &Result<crate::fault::UndoOutcome, String>| RollbackRecord {
                injection,
                host: host.to_string(),
                fault: fault.to_string(),
                action: None,
                reason: "recovered by `faultdrill recover` after the controller was gone".into(),
                ok: outcome.is_ok(),
                detail: match outcome {
                    Ok(found) => serde_json::to_value(found).ok().and_then(|v| v.as_str().map(String::from)),
                    Err(e) => Some(e.clone()),
                }
                .unwrap_or_default(),
                verified: outcome.is_ok(),
                started_ms: now,
                finished_ms: now,
            };
        for r in local {
            let ours = journal.get(&r.id).ok().flatten().is_some_and(|rec| rec.run.as_ref() == Some(&run.id));
            if ours {
                report.rollbacks.push(record(r.id.clone(), &r.host, &r.fault, &r.outcome));
            }
        }
        for r in remote.iter().filter(|r| r.run.as_ref() == Some(&run.id)) {
            let id = r.injection.clone().unwrap_or_else(|| crate::ids::InjectionId::from_string(UNKNOWN));
            report.rollbacks.push(record(id, &r.host, &r.fault, &r.outcome));
        }
        let (recovered, failed) = count_recovered(&report.rollbacks);
        let failed = if failed > 0 { format!(", {failed} could not be") } else { String::new() };
        report.reason = Some(format!(
            "abandoned: its controller stopped without finishing it (killed?); `faultdrill recover` at {} \
             rolled back {recovered} injection(s) it left{failed}",
            format_ms(now)
        ));
        if let Err(e) = write_report(state_dir, &report) {
            tracing::warn!(run = %run.id, error = %e, "The abandoned run's report could not be completed.");
            continue;
        }
        if let Err(e) = journal.record_run_state(&run.id, ABANDONED, None) {
            tracing::warn!(run = %run.id, error = %e, "The abandoned run could not be marked in the journal.");
        }
        closed.push(run.id);
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollback(id: &str, host: &str, fault: &str, ok: bool) -> RollbackRecord {
        RollbackRecord {
            injection: crate::ids::InjectionId::from_string(id),
            host: host.into(),
            fault: fault.into(),
            action: None,
            reason: String::new(),
            ok,
            detail: String::new(),
            verified: ok,
            started_ms: 0,
            finished_ms: 0,
        }
    }

    #[test]
    fn an_injection_first_unknown_then_found_by_a_later_recovery_counts_once() {
        let rollbacks = [
            rollback("i-a", "h1", "cpu-burn", true),
            rollback(UNKNOWN, "h2", "disk-fill", false),
            rollback("i-b", "h2", "cpu-burn", false),
            rollback("i-c", "h2", "disk-fill", true),
            rollback("i-b", "h2", "cpu-burn", true),
        ];
        assert_eq!(count_recovered(&rollbacks), (3, 0));
        assert_eq!(count_recovered(&rollbacks[..3]), (1, 2));
    }
}
