//! One run of an experiment: its state, its phases (preflight, running, rolling back,
//! finished), and the report it produces. The select loop of the running phase lives in
//! `dispatcher.rs`; both work on the one [`Run`] value that owns all run state.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};
use tracing::{error, warn};

use crate::experiment::{ExperimentPlan, ProbePlan, RollbackPolicy};
use crate::ids::{InjectionId, RunId};
use crate::journal::{Journal, now_ms};
use crate::probe::Prober;
use crate::report::{
    ActionRef, Event, GuardrailReaction, InjectionSummary, ProbePhase, Report, RollbackRecord, RunState,
    SCHEMA_VERSION, TimelineEntry,
};

use super::control::{RunControl, StopRequest, TripRequest};
use super::dry_run::prepare_everywhere;
use super::host::Host;
use super::local_host::error_chain;
use super::outcome::{Abort, FailedRollbacks, decide, expectation};
use super::progress::RunObserver;
use super::sampling::{Sampler, sample_record};
use super::signals::Signals;
use super::targets::ResolvedTargets;

/// How a run is set up.
pub struct RunOptions {
    pub run_id: RunId,
    /// Where the run and its injections are recorded (`None`: not recorded, e.g. in tests).
    pub journal: Option<Arc<Journal>>,
    /// Roll back and finish on SIGINT/SIGTERM (the CLI; a daemon handles signals itself).
    pub handle_signals: bool,
    pub prober: Arc<Prober>,
}

/// An injection this run made that may still be in place.
pub(super) struct Live {
    pub id: InjectionId,
    pub host: Arc<Host>,
    pub action: ActionRef,
    /// When the loop rolls it back itself if no worker has (the duration asked for, from the
    /// host's answer, plus a grace), on the monotonic clock: neither a step of the wall clock
    /// nor a host whose clock is off this one's ends or extends a fault.
    pub overdue_at: tokio::time::Instant,
    /// When its hold is planned to end (Unix milliseconds).
    pub planned_end_ms: i64,
    /// The same on the monotonic clock.
    pub planned_end_at: std::time::Instant,
    /// When its lease was last renewed (or it was injected), Unix milliseconds (for reports).
    pub renewed_ms: i64,
    /// The same on the monotonic clock, which judges whether the lease has run out.
    pub renewed_at: std::time::Instant,
    /// How long its rollback may take (a custom action's steps: minutes).
    pub rollback_limit: std::time::Duration,
    /// Its duration ended and its worker is done with it (rolled back, failed to, or left).
    pub ended: bool,
    /// Left in place on purpose (`rollback: never`).
    pub left: bool,
    /// It ended before its hold did, without this run asking (recorded once).
    pub lost: bool,
}

/// The start of a guardrail reaction, completed once everything is rolled back.
pub(super) struct ReactionStart {
    pub guardrail: String,
    pub breach_sample_ms: i64,
    pub sampled_at: Instant,
    pub tripped_ms: i64,
}

/// A run: the one owner of its state.
pub struct Run {
    pub(super) plan: Arc<ExperimentPlan>,
    pub(super) targets: Arc<ResolvedTargets>,
    pub(super) options: RunOptions,
    pub(super) report: Report,
    pub(super) observer: Box<dyn RunObserver>,
    pub(super) stop_rx: mpsc::UnboundedReceiver<StopRequest>,
    pub(super) trip_rx: mpsc::UnboundedReceiver<TripRequest>,
    /// Warnings from outside (see [`RunControl::warn`]).
    pub(super) notes_rx: mpsc::UnboundedReceiver<String>,
    pub(super) events: broadcast::Sender<TimelineEntry>,
    pub(super) signals: Option<Signals>,
    pub(super) sampler: Arc<Sampler>,
    /// Every injection made, in order; rolled back in reverse.
    pub(super) live: Vec<Live>,
    pub(super) abort: Option<Abort>,
    /// The first failed steady-state check during or after the run.
    pub(super) deviated: Option<String>,
    pub(super) reaction: Option<ReactionStart>,
    /// Keeps the report's timeline bounded on long runs with fast probes.
    pub(super) samples: crate::report::SampleBudget,
    /// Steady-state samples of the current phase, against each probe's budget.
    pub(super) tallies: super::budget::PhaseTallies,
    /// The run's start and states, written off the async threads.
    pub(super) journal: super::run_journal::RunJournal,
}

/// Sets up a run and the handle that steers it.
pub fn new_run(
    plan: ExperimentPlan,
    targets: ResolvedTargets,
    options: RunOptions,
    observer: Box<dyn RunObserver>,
) -> (Run, RunControl) {
    let (stop_tx, stop_rx) = mpsc::unbounded_channel();
    let (trip_tx, trip_rx) = mpsc::unbounded_channel();
    let (notes_tx, notes_rx) = mpsc::unbounded_channel();
    let (events, _) = broadcast::channel(1024);
    let targets = Arc::new(targets);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        run_id: options.run_id.clone(),
        experiment: plan.name.clone(),
        plan: plan.clone(),
        targets: targets.records().to_vec(),
        state: RunState::Pending,
        outcome: None,
        exit_code: None,
        reason: None,
        expectation: None,
        started_ms: now_ms(),
        finished_ms: None,
        injections: Vec::new(),
        rollbacks: Vec::new(),
        guardrail_reaction: None,
        timeline: Vec::new(),
    };
    let sampler = Arc::new(Sampler { prober: options.prober.clone(), targets: targets.clone() });
    let options_journal = options.journal.clone();
    let control = RunControl { stop: stop_tx, trip: trip_tx, notes: notes_tx, events: events.clone() };
    let run = Run {
        plan: Arc::new(plan),
        targets,
        options,
        report,
        observer,
        stop_rx,
        trip_rx,
        notes_rx,
        events,
        signals: None,
        sampler,
        live: Vec::new(),
        abort: None,
        deviated: None,
        reaction: None,
        samples: crate::report::SampleBudget::default(),
        tallies: Default::default(),
        journal: super::run_journal::RunJournal::new(options_journal),
    };
    (run, control)
}

impl Run {
    /// The report as it stands: before [`Run::execute`], the stub a killed run leaves behind.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Runs to the end, always rolling back, and returns the report.
    pub async fn execute(mut self) -> Report {
        if self.options.handle_signals {
            match Signals::register() {
                Ok(signals) => self.signals = Some(signals),
                Err(e) => warn!(error = %e, "Signal handlers could not be installed; Ctrl-C will not roll back."),
            }
        }
        let (run, name) = (self.report.run_id.clone(), self.plan.name.clone());
        self.journal.write(move |journal| {
            if let Err(e) = journal.record_run_start(&run, &name) {
                warn!(%run, error = %error_chain(&e), "The run could not be journaled.");
            }
        });
        if self.plan.rollback == RollbackPolicy::Never {
            self.emit(Event::Warning {
                message: "rollback: never — faults stay in place when their duration ends (demo only); \
                          `faultdrill recover --all` removes them"
                    .into(),
            });
        }
        self.set_state(RunState::Preflight);
        self.preflight().await;
        if self.abort.is_none() {
            self.set_state(RunState::Running);
            self.run_groups().await;
        }
        self.set_state(RunState::RollingBack);
        self.roll_back_everything().await;
        // After a signal or a stop, leave quickly; if nothing was injected, there is nothing to check.
        let skip_after = matches!(
            self.abort,
            Some(Abort::Signal { .. } | Abort::Stopped { .. } | Abort::DeviatedBefore { .. } | Abort::Preflight { .. })
        );
        if !skip_after {
            self.check_steady_state(ProbePhase::After).await;
            self.check_recovery().await;
        }
        self.finish().await
    }

    /// Checks the steady state before anything is injected, then that every action can be
    /// prepared on every host, all hosts at once (nothing changes).
    async fn preflight(&mut self) {
        if let Some(failure) = self.check_steady_state(ProbePhase::Before).await {
            self.abort = Some(Abort::DeviatedBefore { message: failure });
            return;
        }
        let prepared = prepare_everywhere(&self.plan, &self.targets, Some(self.report.run_id.clone())).await;
        for (g, group) in prepared.groups.into_iter().enumerate() {
            for (a, action) in group.actions.into_iter().enumerate() {
                for host in action.hosts {
                    let Some(error) = host.error else { continue };
                    let message = format!("preflight of {} failed: {error}", action.label);
                    let action_ref =
                        ActionRef { group: g, action: a, label: action.label.clone(), fault: action.fault.clone() };
                    self.emit(Event::ActionFailed { action: action_ref, host: host.host, error });
                    self.abort.get_or_insert(Abort::Preflight { message });
                }
            }
        }
    }

    /// Samples every probe once (when the plan checks this phase) and records it; a failed
    /// probe with `tolerate: N` is sampled again, at its interval, up to N times. Returns the
    /// first deviation, judged against each probe's budget.
    pub(super) async fn check_steady_state(&mut self, phase: ProbePhase) -> Option<String> {
        let steady = self.plan.steady_state.as_ref()?;
        let wanted = match phase {
            ProbePhase::Before => steady.check_before,
            ProbePhase::During => steady.check_during,
            ProbePhase::After => steady.check_after,
        };
        if !wanted || steady.probes.is_empty() {
            return None;
        }
        let base = steady.interval;
        let probes: Arc<Vec<ProbePlan>> = Arc::new(steady.probes.clone());
        self.tallies = Default::default();
        let mut which: Vec<usize> = (0..probes.len()).collect();
        loop {
            let samples = self.sampler.clone().sample_probes(probes.clone(), which).await;
            if let Some(deviation) = self.record_probe_samples(phase, samples) {
                return Some(deviation);
            }
            which = self.tallies.to_retry(&probes);
            let Some(wait) = which.iter().map(|&i| probes[i].interval.unwrap_or(base)).min() else { break };
            tokio::time::sleep(wait).await;
        }
        self.end_phase(phase)
    }

    /// At the end of a phase: judges error rates and latency percentiles; notes a deviation
    /// during or after.
    pub(super) fn end_phase(&mut self, phase: ProbePhase) -> Option<String> {
        let probes = &self.plan.steady_state.as_ref()?.probes;
        let failed = std::mem::take(&mut self.tallies).judge(probes);
        let names: Vec<String> = failed.iter().map(|(i, _)| probes[*i].name.clone()).collect();
        let mut first = None;
        for ((_, message), probe) in failed.into_iter().zip(names) {
            first.get_or_insert_with(|| message.clone());
            self.emit(Event::ProbeDeviated { phase, probe, message });
        }
        self.note_deviation(phase, first.clone());
        first
    }

    /// Records probe samples; returns the first one that exhausts its probe's budget, and
    /// notes a deviation during or after.
    pub(super) fn record_probe_samples(
        &mut self,
        phase: ProbePhase,
        samples: Vec<super::sampling::ProbeSample>,
    ) -> Option<String> {
        let mut first = None;
        for sample in samples {
            let Some(probe) = self.plan.steady_state.as_ref().map(|s| s.probes[sample.probe].clone()) else { continue };
            let deviation = self.tallies.add(&probe, &sample);
            self.emit(Event::ProbeSample {
                phase,
                probe: probe.name.clone(),
                sample: sample_record(sample.host.as_deref(), &sample.observation),
                ok: sample.verdict.ok,
                failures: sample.verdict.failures,
            });
            if let Some(message) = deviation {
                first.get_or_insert_with(|| message.clone());
                self.emit(Event::ProbeDeviated { phase, probe: probe.name, message });
            }
        }
        self.note_deviation(phase, first.clone());
        first
    }

    fn note_deviation(&mut self, phase: ProbePhase, failure: Option<String>) {
        if phase != ProbePhase::Before && self.deviated.is_none() {
            let when = if phase == ProbePhase::During { "during" } else { "after" };
            self.deviated = failure.map(|f| format!("{f} ({when} the faults)"));
        }
    }

    /// Rolls back every injection still in place, newest first; never skips one.
    async fn roll_back_everything(&mut self) {
        let completed = self.abort.is_none();
        let leave = completed && self.plan.rollback == RollbackPolicy::Never;
        let reason = self.abort.as_ref().map_or_else(|| "run completed".to_string(), Abort::rollback_reason);
        let live = std::mem::take(&mut self.live);
        let (left, to_undo): (Vec<Live>, Vec<Live>) = live.into_iter().partition(|l| leave && l.left);
        for l in &left {
            self.emit(Event::LeftInPlace {
                injection: l.id.clone(),
                host: l.host.name().to_string(),
                fault: l.action.fault.clone(),
            });
        }
        if !to_undo.is_empty() {
            self.emit(Event::RollbackStarted { reason: reason.clone(), count: to_undo.len() });
            // Independent injections at once, one that depends on another first; the run
            // keeps answering signals, stop and trip meanwhile.
            let all_ok = self.roll_back_in_waves(to_undo, &reason).await;
            self.emit(Event::RollbackFinished { ok: all_ok });
        }
        if let Some(start) = self.reaction.take() {
            let reaction = GuardrailReaction {
                guardrail: start.guardrail,
                breach_sample_ms: start.breach_sample_ms,
                tripped_ms: start.tripped_ms,
                rolled_back_ms: now_ms(),
                reaction_us: start.sampled_at.elapsed().as_micros() as u64,
            };
            self.report.guardrail_reaction = Some(reaction);
        }
    }

    /// Records a rollback result (from a worker or the final rollback).
    pub(super) fn record_rollback(&mut self, record: RollbackRecord) {
        if !record.ok {
            error!(
                run = %self.report.run_id, injection = %record.injection, host = %record.host, error = %record.detail,
                "Rollback failed; the fault may still be in place."
            );
        }
        self.report.rollbacks.push(record.clone());
        self.emit(Event::RolledBack { record });
    }

    /// Records an injection in the report.
    pub(super) fn record_injection(&mut self, summary: InjectionSummary) {
        self.report.injections.push(summary);
    }

    /// Records the warnings sent from outside that have not been recorded yet.
    pub(super) fn take_notes(&mut self) {
        while let Ok(message) = self.notes_rx.try_recv() {
            self.emit(Event::Warning { message });
        }
    }

    async fn finish(mut self) -> Report {
        self.take_notes();
        // One per injection: a rollback that failed and then succeeded on retry is not a
        // failure, and one that failed twice is one failure.
        let mut failed = FailedRollbacks::default();
        let here = self.targets.local().name().to_string();
        for record in self.report.failed_rollbacks() {
            if record.host == here {
                failed.here += 1;
            } else {
                failed.remote.push(record.host.clone());
            }
        }
        let (outcome, reason) = decide(self.abort.as_ref(), self.deviated.as_deref(), &failed);
        let (exit_code, met, note) = expectation(outcome, self.plan.expect_outcome);
        let reason = note.map_or_else(|| reason.clone(), |note| format!("{reason}; {note}"));
        let reason = match irreversible_note(&self.report) {
            Some(cannot) => format!("{reason}; {cannot}"),
            None => reason,
        };
        self.report.outcome = Some(outcome);
        self.report.exit_code = Some(exit_code);
        self.report.expectation = met;
        self.report.reason = Some(reason.clone());
        self.report.finished_ms = Some(now_ms());
        self.set_state(RunState::Finished);
        self.emit(Event::Finished { outcome, exit_code, reason });
        let run = self.report.run_id.clone();
        self.journal.write(move |journal| {
            let _ = journal.record_run_state(&run, RunState::Finished.as_str(), Some(outcome.as_str()));
        });
        // The journal says finished before the caller reads it (`runs`, `status`).
        self.journal.close().await;
        self.observer.finish();
        self.report
    }

    pub(super) fn set_state(&mut self, state: RunState) {
        self.report.state = state;
        if state != RunState::Finished {
            let run = self.report.run_id.clone();
            self.journal.write(move |journal| {
                let _ = journal.record_run_state(&run, state.as_str(), None);
            });
        }
        self.emit(Event::State { state });
    }

    /// Appends to the timeline, shows it, and tells followers.
    pub(super) fn emit(&mut self, event: Event) {
        let entry = TimelineEntry { at_ms: now_ms(), event };
        self.observer.on_event(&entry);
        let _ = self.events.send(entry.clone());
        self.report.timeline.push(entry);
        self.samples.after_push(&mut self.report.timeline, crate::report::is_sample);
    }
}

/// "… cannot be undone: …", when the run injected actions declared `irreversible: true`
/// (process-kill is said to be instantaneous already, and is left out).
fn irreversible_note(report: &Report) -> Option<String> {
    let cannot: Vec<String> = report
        .injections
        .iter()
        .filter(|i| i.irreversible && i.held)
        .map(|i| format!("{} on {}", i.action.label, i.host))
        .collect();
    (!cannot.is_empty()).then(|| format!("irreversible, not rolled back (cannot be undone): {}", cannot.join(", ")))
}
