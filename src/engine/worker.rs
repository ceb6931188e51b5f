//! Group workers: run one action group's actions (sequential or parallel) through the
//! `Host` seam, and report every step to the run loop over a channel.
//!
//! A worker shares no mutable state with the loop. It only waits (`wait_before`, the hold,
//! `wait_after`) where cancellation is allowed; an inject or a rollback in flight always
//! completes and is reported, so the loop never loses track of an injection.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::experiment::{ActionPlan, GroupMode, GroupPlan, Params, RollbackPolicy};
use crate::fault::{UndoOutcome, inject_steps_time, rollback_steps_time};
use crate::ids::RunId;
use crate::journal::{InjectionState, now_ms};
use crate::report::{ActionRef, RollbackRecord};

use super::host::{FaultEnd, Host, InjectRequest, InjectionView, RollbackResult};
use super::local_host::{INSTANT, error_chain};

/// The longest a single inject or rollback call may take before it is reported as failed,
/// besides what a custom action's own steps may take ([`inject_time_limit`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// No call is waited for longer than this, whatever a custom action's steps add up to.
const LONGEST_CALL: Duration = Duration::from_secs(24 * 3600);

/// How long an inject of an action with `params` may take: a custom action's own steps (a
/// cloud CLI stopping instances: minutes) on top of the usual limit. Given up on sooner, the
/// inject would go on and take effect with no run that knows of it.
pub fn inject_time_limit(params: &Params) -> Duration {
    let steps = params.get::<Option<Duration>>("timeout").ok().flatten().map_or(Duration::ZERO, inject_steps_time);
    (CALL_TIMEOUT + steps).min(LONGEST_CALL)
}

/// How long a rollback of an action with `params` may take: a custom action's checks, tries
/// and waits on top of the usual limit. Cut short, a rollback that succeeds a minute later
/// would be reported as failed.
pub fn rollback_time_limit(params: &Params) -> Duration {
    (CALL_TIMEOUT + rollback_steps_time(params)).min(LONGEST_CALL)
}

/// How many hosts are called at once when one step goes to many (prepares, rollbacks).
pub const FANOUT_LIMIT: usize = 256;

/// How long past its hold an injection's deadline lies: the engine's rollback at the end of
/// the hold is what ends a fault; the deadline (helpers exit by themselves, a daemon sweeps)
/// is the safety net behind it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// The duration to ask a host for: the hold plus [`DEADLINE_MARGIN`], or a token one for
/// instantaneous faults.
pub fn injection_duration(action: &ActionPlan) -> Duration {
    action.duration.map_or(INSTANT, |hold| hold + DEADLINE_MARGIN)
}

/// The rollback reason at the end of a hold.
pub const HOLD_ENDED: &str = "duration ended";

/// What a worker tells the run loop.
pub enum WorkerMsg {
    /// A fault is in place on a host (or, for an instantaneous fault, was applied).
    Injected { action: ActionRef, host: Arc<Host>, view: InjectionView, at_ms: i64 },
    /// A fault could not be injected on a host; the run must stop.
    InjectFailed { action: ActionRef, host: String, error: String },
    /// A held fault's duration ended; `rollback` is `None` with `rollback: never`. `lost` says
    /// how it ended when its rollback found it already ended by something else.
    HoldEnded {
        action: ActionRef,
        host: String,
        injection: crate::ids::InjectionId,
        rollback: Option<RollbackRecord>,
        lost: Option<FaultEnd>,
    },
    /// Every action of the group completed.
    GroupFinished { group: usize },
}

/// Everything one group worker needs; cloned into each parallel action.
#[derive(Clone)]
pub struct GroupJob {
    pub index: usize,
    pub plan: Arc<GroupPlan>,
    pub hosts: Vec<Arc<Host>>,
    pub run: RunId,
    pub lease: Duration,
    pub rollback: RollbackPolicy,
    pub tx: mpsc::UnboundedSender<WorkerMsg>,
    pub cancel: watch::Receiver<bool>,
}

/// Runs a group to completion or cancellation.
pub async fn run_group(job: GroupJob) {
    let completed = match job.plan.mode {
        GroupMode::Sequential => {
            let mut ok = true;
            for index in 0..job.plan.actions.len() {
                if !run_action(job.clone(), index).await {
                    ok = false;
                    break;
                }
            }
            ok
        }
        GroupMode::Parallel => {
            let mut set = JoinSet::new();
            for index in 0..job.plan.actions.len() {
                set.spawn(run_action(job.clone(), index));
            }
            let mut ok = true;
            while let Some(done) = set.join_next().await {
                ok &= done.unwrap_or(false);
            }
            ok
        }
    };
    if completed {
        let _ = job.tx.send(WorkerMsg::GroupFinished { group: job.index });
    }
}

/// One action on every host of the group's target. Returns false when the group must stop.
async fn run_action(mut job: GroupJob, index: usize) -> bool {
    let action = &job.plan.actions[index];
    let action_ref =
        ActionRef { group: job.index, action: index, label: action.label.clone(), fault: action.fault.clone() };
    if !wait_unless_cancelled(action.wait_before, &mut job.cancel).await || is_cancelled(&job.cancel) {
        return false;
    }
    let held = inject_everywhere(&job, action, &action_ref).await;
    let Some(held) = held else { return false };
    if !held.is_empty() {
        let hold = action.duration.unwrap_or(Duration::ZERO);
        if !wait_unless_cancelled(hold, &mut job.cancel).await {
            return false;
        }
        // One action's injections sit on different hosts: they are rolled back all at once.
        let ends = held.into_iter().map(|(host, view)| {
            let (tx, action_ref) = (job.tx.clone(), action_ref.clone());
            async move {
                let rollback = match job.rollback {
                    RollbackPolicy::Always => Some(roll_back(&host, &view, &action_ref, HOLD_ENDED).await),
                    RollbackPolicy::Never => None,
                };
                // "Already gone" at the end of a hold: did something else end it first?
                let lost = match &rollback {
                    Some(r) if r.ok && r.detail == "already_gone" => host.ended_by_others(&view.id, HOLD_ENDED).await,
                    _ => None,
                };
                let _ = tx.send(WorkerMsg::HoldEnded {
                    action: action_ref,
                    host: host.name().to_string(),
                    injection: view.id,
                    rollback,
                    lost,
                });
            }
        });
        futures_util::stream::iter(ends).buffer_unordered(FANOUT_LIMIT).collect::<()>().await;
    }
    wait_unless_cancelled(action.wait_after, &mut job.cancel).await
}

/// Injects on every host at once. `None` if any host failed; else the held injections.
async fn inject_everywhere(
    job: &GroupJob,
    action: &ActionPlan,
    action_ref: &ActionRef,
) -> Option<Vec<(Arc<Host>, InjectionView)>> {
    let mut set = JoinSet::new();
    for host in &job.hosts {
        let (host, req) = (host.clone(), request(job, action));
        set.spawn(async move {
            let limit = inject_time_limit(&req.params);
            let result = tokio::time::timeout(limit, host.inject(req)).await;
            let result = match result {
                Ok(Ok(view)) => Ok(view),
                Ok(Err(e)) => Err(error_chain(&e)),
                Err(_) => Err(format!("no answer within {}s", limit.as_secs())),
            };
            (host, result)
        });
    }
    let mut held = Vec::new();
    let mut failed = false;
    while let Some(joined) = set.join_next().await {
        let Ok((host, result)) = joined else {
            failed = true;
            continue;
        };
        match result {
            Ok(view) => {
                if view.state == InjectionState::Active {
                    held.push((host.clone(), view.clone()));
                }
                let _ = job.tx.send(WorkerMsg::Injected { action: action_ref.clone(), host, view, at_ms: now_ms() });
            }
            Err(error) => {
                failed = true;
                let _ = job.tx.send(WorkerMsg::InjectFailed {
                    action: action_ref.clone(),
                    host: host.name().to_string(),
                    error,
                });
            }
        }
    }
    (!failed).then_some(held)
}

fn request(job: &GroupJob, action: &ActionPlan) -> InjectRequest {
    InjectRequest {
        fault: action.fault.clone(),
        params: action.params.clone(),
        duration: injection_duration(action),
        lease: Some(job.lease),
        run: Some(job.run.clone()),
        dry_run: false,
    }
}

/// Rolls back one injection through its host, time-boxed, and records the result.
pub async fn roll_back(host: &Host, view: &InjectionView, action: &ActionRef, reason: &str) -> RollbackRecord {
    roll_back_id(host, &view.id, &view.fault, Some(&action.label), reason, rollback_time_limit(&view.params)).await
}

/// Rolls back injection `id` on `host`, time-boxed, and records the result.
pub async fn roll_back_id(
    host: &Host,
    id: &crate::ids::InjectionId,
    fault: &str,
    action: Option<&str>,
    reason: &str,
    limit: Duration,
) -> RollbackRecord {
    let started_ms = now_ms();
    let result = tokio::time::timeout(limit, host.rollback(id, reason)).await.unwrap_or_else(|_| RollbackResult {
        id: id.clone(),
        host: host.name().to_string(),
        fault: fault.to_string(),
        outcome: Err(format!("no answer within {}s; run `faultdrill recover {id}`", limit.as_secs())),
    });
    let (ok, detail) = match &result.outcome {
        Ok(found) => {
            (true, serde_json::to_value(found).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default())
        }
        Err(e) => (false, e.clone()),
    };
    RollbackRecord {
        injection: id.clone(),
        host: host.name().to_string(),
        fault: fault.to_string(),
        action: action.map(String::from),
        reason: reason.to_string(),
        ok,
        detail,
        // A host reports success only once it has checked the fault is gone, except for an
        // undo nothing can check (a custom action without `verify_rolled_back`).
        verified: ok && !matches!(result.outcome, Ok(UndoOutcome::UndoneUnchecked)),
        started_ms,
        finished_ms: now_ms(),
    }
}

fn is_cancelled(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

/// Waits `duration`; false if the run was cancelled first.
async fn wait_unless_cancelled(duration: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    if is_cancelled(cancel) {
        return false;
    }
    if duration.is_zero() {
        return true;
    }
    let slept = tokio::select! {
        () = tokio::time::sleep(duration) => true,
        _ = cancel.wait_for(|c| *c) => false,
    };
    slept && !is_cancelled(cancel)
}

#[cfg(test)]
mod time_limit_tests {
    use super::*;
    use crate::experiment::RawParams;

    fn params(fault: &str, raw: serde_json::Value) -> Params {
        let raw: RawParams = serde_json::from_value(raw).unwrap();
        Params::check(crate::fault::find_fault(fault).unwrap().info().params, &raw).unwrap()
    }

    #[test]
    fn a_custom_actions_own_step_limits_extend_the_calls_that_run_them() {
        let burn = params("cpu-burn", serde_json::json!({}));
        assert_eq!((inject_time_limit(&burn), rollback_time_limit(&burn)), (CALL_TIMEOUT, CALL_TIMEOUT));
        // A cloud CLI: 5 min per step; 3 retries (the default) 1 s apart, doubling.
        let stop = params(
            "exec",
            serde_json::json!({"inject": ["aws", "stop"], "rollback": ["aws", "start"], "timeout": "5m"}),
        );
        assert_eq!(inject_time_limit(&stop), CALL_TIMEOUT + Duration::from_secs(2 * 300));
        // The first check, then 4 tries of rollback + check, and waits of 1 + 2 + 4 s.
        assert_eq!(rollback_time_limit(&stop), CALL_TIMEOUT + Duration::from_secs(9 * 300 + 7));
        let huge = params(
            "exec",
            serde_json::json!({"inject": ["x"], "rollback": ["y"], "timeout": "24h", "rollback_retries": 20}),
        );
        assert_eq!(rollback_time_limit(&huge), LONGEST_CALL);
    }
}
