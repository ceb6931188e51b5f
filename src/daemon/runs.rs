//! Runs submitted to this daemon: each executes with the same engine as an
//! embedded run, on this host, and keeps its timeline so clients can follow it
//! live (server-sent events) or read it afterwards.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};
use tracing::{error, info, warn};

use crate::client::wire::RunStatus;
use crate::engine::{self, RunControl, RunOptions, Silent, TargetEnv, TargetError};
use crate::experiment::ExperimentPlan;
use crate::ids::RunId;
use crate::probe::Prober;
use crate::report::{Event, Report, TimelineEntry};

use super::alerts;
use super::state::Shared;

/// How many finished runs stay in memory (older ones are read from disk).
const KEEP_FINISHED: usize = 20;
/// How many clients may follow runs' events at once (each holds a connection).
pub const MAX_FOLLOWERS: usize = 64;

/// A message to a follower: one timeline entry, or the end.
#[derive(Clone, Debug)]
pub enum RunMessage {
    /// Shared by every follower: a backlog costs a pointer per entry, not a copy.
    Entry(Arc<TimelineEntry>),
    End(RunStatus),
}

struct Log {
    entries: Vec<Arc<TimelineEntry>>,
    samples: crate::report::SampleBudget,
    end: Option<RunStatus>,
}

/// One run on this daemon.
pub struct RunEntry {
    pub id: RunId,
    pub experiment: String,
    /// The experiment's labels (alerts may select runs by them).
    pub labels: BTreeMap<String, String>,
    /// The names of its guardrails.
    pub guardrails: Vec<String>,
    pub started_ms: i64,
    pub control: RunControl,
    log: Mutex<Log>,
    tx: broadcast::Sender<RunMessage>,
}

impl RunEntry {
    /// What happened so far, and a receiver of what happens next (no gap, no overlap).
    pub fn follow(&self) -> (Vec<RunMessage>, broadcast::Receiver<RunMessage>) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let mut backlog: Vec<RunMessage> = log.entries.iter().cloned().map(RunMessage::Entry).collect();
        backlog.extend(log.end.clone().map(RunMessage::End));
        (backlog, self.tx.subscribe())
    }

    /// The run's status now.
    pub fn status(&self) -> RunStatus {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(end) = &log.end {
            return end.clone();
        }
        let state = log.entries.iter().rev().find_map(|e| match &e.event {
            Event::State { state } => serde_json::to_value(state).ok()?.as_str().map(String::from),
            _ => None,
        });
        RunStatus {
            run_id: self.id.clone(),
            experiment: self.experiment.clone(),
            state: state.unwrap_or_else(|| "pending".into()),
            outcome: None,
            exit_code: None,
            reason: None,
            started_ms: self.started_ms,
            finished_ms: None,
            report: None,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).end.is_some()
    }

    fn push(&self, message: RunMessage) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        match &message {
            RunMessage::Entry(e) => {
                log.entries.push(e.clone());
                let Log { entries, samples, .. } = &mut *log;
                samples.after_push(entries, |e| crate::report::is_sample(e));
            }
            RunMessage::End(s) => log.end = Some(s.clone()),
        }
        // No receiver is fine: nobody follows.
        let _ = self.tx.send(message);
    }
}

/// The runs this daemon executes or executed.
#[derive(Default)]
pub struct Runs {
    by_id: Mutex<BTreeMap<RunId, Arc<RunEntry>>>,
    followers: Arc<std::sync::atomic::AtomicUsize>,
}

/// One client following a run's events; its place is given back when dropped.
pub struct FollowerSlot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for FollowerSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Runs {
    /// A place for one more follower, or `None` at [`MAX_FOLLOWERS`].
    pub fn follower_slot(&self) -> Option<FollowerSlot> {
        use std::sync::atomic::Ordering;
        let taken = self.followers.fetch_add(1, Ordering::SeqCst);
        let slot = FollowerSlot(self.followers.clone());
        (taken < MAX_FOLLOWERS).then_some(slot)
    }

    pub fn get(&self, id: &RunId) -> Option<Arc<RunEntry>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<RunEntry>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    fn insert(&self, entry: Arc<RunEntry>) {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(entry.id.clone(), entry);
        let finished: Vec<RunId> = map.values().filter(|e| e.is_finished()).map(|e| e.id.clone()).collect();
        if finished.len() > KEEP_FINISHED {
            let mut oldest: Vec<_> = finished.iter().map(|id| (map[id].started_ms, id.clone())).collect();
            oldest.sort();
            for (_, id) in oldest.into_iter().take(finished.len() - KEEP_FINISHED) {
                map.remove(&id);
            }
        }
    }

    /// Asks every unfinished run to stop, and waits (up to `grace`) for their rollbacks.
    pub async fn stop_all(&self, reason: &str, grace: Duration) {
        let running: Vec<_> = self.all().into_iter().filter(|e| !e.is_finished()).collect();
        for entry in &running {
            entry.control.stop(reason);
        }
        let deadline = tokio::time::Instant::now() + grace;
        for entry in running {
            let (_, mut rx) = entry.follow();
            while !entry.is_finished() && tokio::time::Instant::now() < deadline {
                let _ = tokio::time::timeout_at(deadline, rx.recv()).await;
            }
        }
    }
}

/// Starts `plan` on this host for the controller at `peer`, whose address its network
/// faults spare (DESIGN §4 rule 6); the run continues after the request returns.
pub fn start(state: &Shared, plan: ExperimentPlan, peer: IpAddr) -> Result<RunId, TargetError> {
    let env = TargetEnv { local: state.host_for(peer), inventory: None };
    let targets = engine::resolve_targets(&plan, &env)?;
    let run_id = RunId::generate();
    let options = RunOptions {
        run_id: run_id.clone(),
        journal: Some(state.host.journal().clone()),
        handle_signals: false,
        prober: Arc::new(Prober::new()),
    };
    let experiment = plan.name.clone();
    let labels = plan.labels.clone();
    let guardrails = plan.guardrails.names();
    let (run, control) = engine::new_run(plan, targets, options, Box::new(Silent));
    let (tx, _) = broadcast::channel(1024);
    let entry = Arc::new(RunEntry {
        id: run_id.clone(),
        experiment,
        labels,
        guardrails,
        started_ms: crate::journal::now_ms(),
        control: control.clone(),
        log: Mutex::new(Log { entries: Vec::new(), samples: Default::default(), end: None }),
        tx,
    });
    state.runs.insert(entry.clone());
    trip_on_firing_alerts(state, &entry);
    let events = control.subscribe();
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(collect(entry.clone(), events, done_rx, state.clone()));
    tokio::spawn(async move {
        let report = run.execute().await;
        let _ = done_tx.send(report);
    });
    info!(run = %run_id, "Run started for a controller.");
    Ok(run_id)
}

/// Trips the new run's guardrails named by alerts already firing, before it executes: it
/// then stops before injecting anything.
fn trip_on_firing_alerts(state: &Shared, entry: &RunEntry) {
    for labels in state.alerts.firing(std::time::Instant::now()) {
        let Some(guardrail) = labels.get(alerts::GUARDRAIL_LABEL) else { continue };
        if !entry.guardrails.contains(guardrail) || !alerts::selects(&labels, entry) {
            continue;
        }
        let alertname = labels.get("alertname").map_or("(unnamed)", String::as_str);
        warn!(run = %entry.id, %guardrail, alertname, "Alert already firing at the start of the run.");
        entry.control.trip_soon(guardrail, format!("alert {alertname} was already firing when the run started"));
    }
}

/// Copies the run's events into its log, then its end (after the last event).
async fn collect(
    entry: Arc<RunEntry>,
    mut events: broadcast::Receiver<TimelineEntry>,
    mut done: oneshot::Receiver<Report>,
    state: Shared,
) {
    let report = loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Ok(e) => entry.push(RunMessage::Entry(Arc::new(e))),
                Err(broadcast::error::RecvError::Lagged(n)) => warn!(run = %entry.id, n, "Run events dropped."),
                Err(broadcast::error::RecvError::Closed) => break (&mut done).await.ok(),
            },
            report = &mut done => break report.ok(),
        }
    };
    while let Ok(e) = events.try_recv() {
        entry.push(RunMessage::Entry(Arc::new(e)));
    }
    let Some(report) = report else {
        error!(run = %entry.id, "The run task ended without a report.");
        return;
    };
    if let Err(e) = crate::report::write_report(&state.state_dir, &report) {
        error!(run = %entry.id, error = %e, "Could not write the run report.");
    }
    crate::report::prune_reports(&state.state_dir, &state.retention);
    if let Some(outcome) = report.outcome {
        state.metrics.run_finished(outcome.as_str());
    }
    state.metrics.run_injections(&report, state.host.name());
    for e in &report.timeline {
        if let Event::GuardrailTripped { guardrail, .. } = &e.event {
            state.metrics.guardrail_tripped(guardrail);
        }
    }
    entry.push(RunMessage::End(status_of(&report)));
}

/// The status of a finished run, with its report.
pub fn status_of(report: &Report) -> RunStatus {
    RunStatus {
        run_id: report.run_id.clone(),
        experiment: report.experiment.clone(),
        state: serde_json::to_value(report.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        outcome: report.outcome.map(|o| o.as_str().to_string()),
        exit_code: report.exit_code,
        reason: report.reason.clone(),
        started_ms: report.started_ms,
        finished_ms: report.finished_ms,
        report: serde_json::to_value(report).ok(),
    }
}
