//! What each action did across its hosts: the report's per-(action, host) events folded into
//! one summary per action, so a run on a hundred hosts reads as one line per action.

use std::collections::BTreeMap;

use crate::ids::InjectionId;

use super::hostlist::natural_cmp;
use super::model::{Event, Report};

/// How one action ended on one host.
#[derive(Clone, Debug, PartialEq)]
pub enum HostResult {
    /// Rolled back (`undone` or `already_gone`).
    RolledBack(String),
    /// Its last rollback failed: the fault may still be in place.
    RollbackFailed(String),
    /// The fault could not be injected.
    InjectFailed(String),
    /// An instantaneous fault: nothing to roll back.
    Done,
    /// Left in place on purpose (`rollback: never`).
    LeftInPlace,
    /// Held, and no rollback recorded (yet).
    InPlace,
}

impl HostResult {
    /// Whether this result needs the operator's attention.
    pub fn is_failure(&self) -> bool {
        matches!(self, HostResult::RollbackFailed(_) | HostResult::InjectFailed(_))
    }
}

/// One action on one host.
#[derive(Clone, Debug)]
pub struct HostRun {
    pub host: String,
    pub injection: Option<InjectionId>,
    /// When it was injected, or when the injection failed.
    pub at_ms: i64,
    /// When the fault was gone (rolled back or its hold ended), if it was.
    pub ended_ms: Option<i64>,
    pub held: bool,
    pub result: HostResult,
    /// The fault ended before its hold did, without the run asking: when, and why.
    pub lost: Option<(i64, String)>,
}

impl HostRun {
    /// Whether this host needs the operator's attention.
    pub fn is_failure(&self) -> bool {
        self.result.is_failure() || self.lost.is_some()
    }
}

/// One action across every host it ran on.
#[derive(Clone, Debug)]
pub struct ActionRun {
    pub label: String,
    pub fault: String,
    /// Whether it cannot be undone (process-kill; a custom action declared `irreversible`).
    pub irreversible: bool,
    /// Failures first, then natural host order.
    pub hosts: Vec<HostRun>,
}

impl ActionRun {
    /// Hosts where the fault was injected.
    pub fn hit(&self) -> Vec<String> {
        self.hosts.iter().filter(|h| h.injection.is_some()).map(|h| h.host.clone()).collect()
    }

    /// Hosts whose result matches `pick`, in the order shown.
    pub fn hosts_where(&self, pick: impl Fn(&HostResult) -> bool) -> Vec<String> {
        self.hosts.iter().filter(|h| pick(&h.result)).map(|h| h.host.clone()).collect()
    }

    /// First and last injection (or failed attempt).
    pub fn injected_span(&self) -> (i64, i64) {
        let times = self.hosts.iter().map(|h| h.at_ms);
        (times.clone().min().unwrap_or(0), times.max().unwrap_or(0))
    }

    /// Held injections as (injected, ended) pairs, `end_ms` for one still in place.
    pub fn held_spans(&self, end_ms: i64) -> Vec<(i64, i64)> {
        self.hosts
            .iter()
            .filter(|h| h.held && h.injection.is_some())
            .map(|h| (h.at_ms, h.ended_ms.unwrap_or(end_ms).max(h.at_ms)))
            .collect()
    }
}

type ActionKey = (usize, usize);

fn host_mut<'a>(
    runs: &'a mut BTreeMap<ActionKey, ActionRun>,
    by_injection: &BTreeMap<String, (ActionKey, usize)>,
    id: &str,
) -> Option<&'a mut HostRun> {
    let (key, i) = by_injection.get(id)?;
    runs.get_mut(key)?.hosts.get_mut(*i)
}

/// Every attempt to inject, per action: the actions in the order they first ran, and where
/// each injection's host row is.
struct Attempts {
    order: Vec<ActionKey>,
    runs: BTreeMap<ActionKey, ActionRun>,
    by_injection: BTreeMap<String, (ActionKey, usize)>,
}

fn attempts(r: &Report) -> Attempts {
    let mut order: Vec<ActionKey> = Vec::new();
    let mut runs: BTreeMap<ActionKey, ActionRun> = BTreeMap::new();
    let mut by_injection: BTreeMap<String, (ActionKey, usize)> = BTreeMap::new();
    for e in &r.timeline {
        let (action, host, injection, held, irreversible, result) = match &e.event {
            Event::ActionStarted { action, host, injection, held, irreversible, .. } => {
                let result = if *held { HostResult::InPlace } else { HostResult::Done };
                (action, host, Some(injection.clone()), *held, *irreversible, result)
            }
            Event::ActionFailed { action, host, error } => {
                (action, host, None, false, false, HostResult::InjectFailed(error.clone()))
            }
            _ => continue,
        };
        let key = (action.group, action.action);
        let run = runs.entry(key).or_insert_with(|| {
            order.push(key);
            let (label, fault) = (action.label.clone(), action.fault.clone());
            ActionRun { label, fault, irreversible: false, hosts: Vec::new() }
        });
        run.irreversible |= irreversible;
        if let Some(id) = &injection {
            by_injection.insert(id.to_string(), (key, run.hosts.len()));
        }
        let ended_ms = None;
        run.hosts.push(HostRun { host: host.clone(), injection, at_ms: e.at_ms, ended_ms, held, result, lost: None });
    }
    Attempts { order, runs, by_injection }
}

/// Folds the report's action events into one [`ActionRun`] per action, in the order the
/// actions first ran.
pub fn action_runs(r: &Report) -> Vec<ActionRun> {
    let Attempts { order, mut runs, by_injection } = attempts(r);
    for e in &r.timeline {
        match &e.event {
            Event::ActionEnded { injection, rolled_back, .. } => {
                if let Some(h) = host_mut(&mut runs, &by_injection, injection.as_str()) {
                    h.ended_ms = h.ended_ms.or(Some(e.at_ms).filter(|_| *rolled_back));
                }
            }
            Event::FaultEnded { injection, ended_ms, why, .. } => {
                if let Some(h) = host_mut(&mut runs, &by_injection, injection.as_str()) {
                    h.ended_ms = Some(h.ended_ms.map_or(*ended_ms, |t| t.min(*ended_ms)));
                    h.lost = Some((*ended_ms, why.clone()));
                }
            }
            Event::LeftInPlace { injection, .. } => {
                if let Some(h) = host_mut(&mut runs, &by_injection, injection.as_str()) {
                    h.result = HostResult::LeftInPlace;
                }
            }
            _ => {}
        }
    }
    // Rollbacks in the order carried out: a retry that succeeded overrides a failure.
    for rb in &r.rollbacks {
        if let Some(h) = host_mut(&mut runs, &by_injection, rb.injection.as_str()) {
            if rb.ok {
                h.ended_ms = Some(h.ended_ms.map_or(rb.finished_ms, |t| t.min(rb.finished_ms)));
                h.result = HostResult::RolledBack(rb.detail.clone());
            } else if !matches!(h.result, HostResult::RolledBack(_)) {
                h.result = HostResult::RollbackFailed(rb.detail.clone());
            }
        }
    }
    order
        .into_iter()
        .filter_map(|key| runs.remove(&key))
        .map(|mut run| {
            run.hosts.sort_by(|a, b| b.is_failure().cmp(&a.is_failure()).then_with(|| natural_cmp(&a.host, &b.host)));
            run
        })
        .collect()
}
