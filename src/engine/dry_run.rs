//! `--dry-run`: the resolved plan with exactly what each action would change on each
//! host, from each fault's own preview. Nothing is injected or journaled. A run's
//! preflight is the same round of prepares, tagged with the run.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::experiment::{ExpectedOutcome, ExperimentPlan, GroupMode, Measure, OnUnmeasured, Params, RollbackPolicy};
use crate::ids::RunId;
use crate::report::ResolvedTarget;

use super::host::{Host, InjectRequest};
use super::local_host::error_chain;
use super::targets::ResolvedTargets;
use super::worker::{CALL_TIMEOUT, FANOUT_LIMIT, injection_duration};

/// The resolved plan.
#[derive(Clone, Debug, Serialize)]
pub struct DryRunPlan {
    pub experiment: String,
    pub targets: Vec<ResolvedTarget>,
    pub steady_state: Vec<String>,
    pub guardrails: Vec<String>,
    pub groups: Vec<DryRunGroup>,
    pub rollback: RollbackPolicy,
    #[serde(with = "crate::experiment::humantime_serde_compat")]
    pub lease: Duration,
    /// The outcome the drill is meant to end with, if it declares one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_outcome: Option<ExpectedOutcome>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DryRunGroup {
    pub name: String,
    pub target: String,
    pub mode: GroupMode,
    /// Names of the groups it waits for.
    pub after: Vec<String>,
    pub actions: Vec<DryRunAction>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DryRunAction {
    pub label: String,
    pub fault: String,
    pub params: Params,
    #[serde(with = "crate::experiment::humantime_serde_compat::option")]
    pub duration: Option<Duration>,
    #[serde(with = "crate::experiment::humantime_serde_compat")]
    pub wait_before: Duration,
    #[serde(with = "crate::experiment::humantime_serde_compat")]
    pub wait_after: Duration,
    pub hosts: Vec<DryRunHost>,
}

/// What one action would do on one host, or why it could not.
#[derive(Clone, Debug, Serialize)]
pub struct DryRunHost {
    pub host: String,
    pub preview: Vec<String>,
    pub error: Option<String>,
}

impl DryRunPlan {
    /// Whether every action could be prepared on every host.
    pub fn is_ok(&self) -> bool {
        self.groups.iter().flat_map(|g| &g.actions).flat_map(|a| &a.hosts).all(|h| h.error.is_none())
    }

    /// The plan as text for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "experiment {} (dry run: nothing will be injected)", self.experiment);
        for t in &self.targets {
            let _ = writeln!(out, "target {}: {}", t.name, t.hosts.join(", "));
        }
        for probe in &self.steady_state {
            let _ = writeln!(out, "steady state: {probe}");
        }
        for rule in &self.guardrails {
            let _ = writeln!(out, "guardrail: {rule}");
        }
        if let Some(expected) = self.expect_outcome {
            let _ = writeln!(
                out,
                "expected outcome: {}: exit 0 when a guardrail trips and everything rolls back, 1 when none trips",
                expected.as_str()
            );
        }
        for g in &self.groups {
            let after =
                if g.after.is_empty() { "at start".to_string() } else { format!("after {}", g.after.join(", ")) };
            let mode = format!("{:?}", g.mode).to_lowercase();
            let _ = writeln!(out, "group {} on {} ({mode}, {after})", g.name, g.target);
            for a in &g.actions {
                let mut hold = a
                    .duration
                    .map_or("instantaneous".to_string(), |d| format!("for {}", humantime::format_duration(d)));
                if crate::fault::find_fault(&a.fault).is_some_and(|f| f.is_irreversible(&a.params)) {
                    hold.push_str(", cannot be undone");
                }
                let params: Vec<String> = a.params.iter().map(|(k, v)| format!("{k}={}", show(v))).collect();
                let _ = writeln!(out, "  {} {hold} [{}]", a.label, params.join(" "));
                for h in &a.hosts {
                    match &h.error {
                        Some(e) => {
                            let _ = writeln!(out, "    on {}: ERROR: {e}", h.host);
                        }
                        None => {
                            for line in &h.preview {
                                let _ = writeln!(out, "    on {}: {line}", h.host);
                            }
                        }
                    }
                }
            }
        }
        let rollback = match self.rollback {
            RollbackPolicy::Always => "always",
            RollbackPolicy::Never => "never (faults stay in place: demo only)",
        };
        let _ = writeln!(out, "rollback: {rollback}; lease {}", humantime::format_duration(self.lease));
        out
    }
}

fn show(v: &crate::experiment::ParamValue) -> String {
    serde_json::to_value(v).map(|j| j.as_str().map_or_else(|| j.to_string(), String::from)).unwrap_or_default()
}

/// Prepares every action on every host of its target without changing anything.
pub async fn dry_run(plan: &ExperimentPlan, targets: &ResolvedTargets) -> DryRunPlan {
    prepare_everywhere(plan, targets, None).await
}

/// Prepares every action on every host, [`FANOUT_LIMIT`] calls at a time, and returns the
/// resolved plan with each host's preview or error. `run` tags the calls (a run's preflight).
pub(super) async fn prepare_everywhere(
    plan: &ExperimentPlan,
    targets: &ResolvedTargets,
    run: Option<RunId>,
) -> DryRunPlan {
    let mut calls = Vec::new();
    for group in &plan.groups {
        for action in &group.actions {
            for host in targets.hosts(&group.target) {
                let req = InjectRequest {
                    fault: action.fault.clone(),
                    params: action.params.clone(),
                    duration: injection_duration(action),
                    lease: Some(plan.lease),
                    run: run.clone(),
                    dry_run: true,
                };
                calls.push(prepare_on(host.clone(), req));
            }
        }
    }
    let answers: Vec<DryRunHost> = futures_util::stream::iter(calls).buffered(FANOUT_LIMIT).collect().await;
    let mut answers = answers.into_iter();
    let mut groups = Vec::new();
    for group in &plan.groups {
        let mut actions = Vec::new();
        for action in &group.actions {
            let hosts = answers.by_ref().take(targets.hosts(&group.target).len()).collect();
            actions.push(DryRunAction {
                label: action.label.clone(),
                fault: action.fault.clone(),
                params: action.params.clone(),
                duration: action.duration,
                wait_before: action.wait_before,
                wait_after: action.wait_after,
                hosts,
            });
        }
        groups.push(DryRunGroup {
            name: group.name.clone(),
            target: group.target.clone(),
            mode: group.mode,
            after: group.after.iter().filter_map(|&i| plan.groups.get(i)).map(|g| g.name.clone()).collect(),
            actions,
        });
    }
    DryRunPlan {
        experiment: plan.name.clone(),
        targets: targets.records().to_vec(),
        steady_state: plan
            .steady_state
            .iter()
            .flat_map(|s| &s.probes)
            .map(|p| format!("{} ({} expectation(s))", p.name, p.expect.len()))
            .collect(),
        guardrails: plan
            .guardrails
            .rules
            .iter()
            .map(|r| {
                let quantity = match r.measure {
                    Measure::Value => String::new(),
                    m => format!("{} ", m.as_str()),
                };
                let unmeasured = match r.on_unmeasured {
                    OnUnmeasured::Breach => "unmeasured samples count as breaching (on_unmeasured: breach)",
                    OnUnmeasured::Ignore => "unmeasured samples are ignored (on_unmeasured: ignore)",
                };
                format!(
                    "{}: breach {quantity}{} for {} sample(s) every {}; {unmeasured}",
                    r.name,
                    r.breach,
                    r.for_samples,
                    humantime::format_duration(plan.guardrails.interval)
                )
            })
            .chain(
                plan.guardrails
                    .external
                    .iter()
                    .map(|e| format!("{}: external, tripped only from outside (an alert, `faultdrill trip`)", e.name)),
            )
            .collect(),
        groups,
        rollback: plan.rollback,
        lease: plan.lease,
        expect_outcome: plan.expect_outcome,
    }
}

/// One dry-run prepare on one host, time-boxed.
async fn prepare_on(host: Arc<Host>, req: InjectRequest) -> DryRunHost {
    let (preview, error) = match tokio::time::timeout(CALL_TIMEOUT, host.inject(req)).await {
        Ok(Ok(view)) => (view.preview, None),
        Ok(Err(e)) => (Vec::new(), Some(error_chain(&e))),
        Err(_) => (Vec::new(), Some(format!("no answer within {}s", CALL_TIMEOUT.as_secs()))),
    };
    DryRunHost { host: host.name().to_string(), preview, error }
}
