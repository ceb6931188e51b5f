//! The running phase: one loop that owns the run state and `select!`s over worker
//! messages, guardrail and steady-state samples, their ticks, lease renewals, signals,
//! stop and trip requests, and deadlines. Workers and samplers only send messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};
use tracing::warn;

use crate::experiment::{GuardrailAction, GuardrailPlan};
use crate::guardrail::{GuardrailJudge, Judgement};
use crate::journal::now_ms;
use crate::report::{Event, InjectionSummary, ProbePhase, RollbackRecord, TripSource};

use super::control::{TripRefused, TripRequest};
use super::host::{FaultEnd, LeaseState};
use super::local_host::error_chain;
use super::outcome::Abort;
use super::probe_clock::ProbeClock;
use super::probe_rate::{RecentSamples, window_of};
use super::rollback_phase::{InFlight, progress_ticker};
use super::run::{Live, ReactionStart, Run};
use super::sampling::{GuardrailSample, SampleBatch, sample_record};
use super::scheduler::Scheduler;
use super::signals::next_signal;
use super::worker::{GroupJob, WorkerMsg, run_group};

/// How long past its deadline an injection may stay before the loop rolls it back itself.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// How long workers get to finish an inject or rollback in flight once the run is cancelled.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(70);

/// What renewing one injection's lease found.
struct Renewal {
    injection: crate::ids::InjectionId,
    result: Result<LeaseState, String>,
}

/// The tasks and timers of the running phase.
struct Running {
    scheduler: Scheduler,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    rx: mpsc::UnboundedReceiver<WorkerMsg>,
    cancel: watch::Sender<bool>,
    workers: JoinSet<()>,
    samples: JoinSet<SampleBatch>,
    renewals: JoinSet<Renewal>,
    probes: Option<ProbeClock>,
    guardrails_in_flight: bool,
    judge: GuardrailJudge,
    /// Rollbacks of overdue injections, each in its own task.
    overdue: InFlight,
    /// Steady-state samples that `probe:` guardrails read.
    recent: RecentSamples,
}

impl Run {
    /// Runs the action groups until they complete or the run is aborted, then stops the workers.
    pub(super) async fn run_groups(&mut self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = Running {
            scheduler: Scheduler::new(&self.plan.groups),
            tx,
            rx,
            cancel: watch::channel(false).0,
            workers: JoinSet::new(),
            samples: JoinSet::new(),
            renewals: JoinSet::new(),
            probes: None,
            guardrails_in_flight: false,
            judge: GuardrailJudge::new(),
            overdue: InFlight::new(),
            recent: RecentSamples::for_rules(&self.plan.guardrails.rules),
        };
        let steady = self.plan.steady_state.as_ref().filter(|s| s.check_during && !s.probes.is_empty());
        st.probes = steady.map(ProbeClock::new);
        let mut probe_tick = st.probes.as_ref().map(|c| ticker(c.tick()));
        let checks_during = st.probes.is_some();
        self.tallies = Default::default();
        let mut guard_tick = (!self.plan.guardrails.rules.is_empty()).then(|| ticker(self.plan.guardrails.interval));
        let mut lease_tick = Some(ticker((self.plan.lease / 3).max(Duration::from_millis(100))));
        let time_box = tokio::time::Instant::now() + self.time_box();
        // Trips asked for before the run got here (an alert already firing) stop it before
        // anything is injected.
        self.take_notes();
        while let Ok(trip) = self.trip_rx.try_recv() {
            self.on_trip_request(trip, &mut st);
        }
        self.start_ready_groups(&mut st);
        loop {
            if self.abort.is_some() || st.scheduler.is_done() {
                break;
            }
            if st.scheduler.is_stuck() {
                self.abort =
                    Some(Abort::Stuck { message: "the action groups' `after` order can never complete".into() });
                break;
            }
            let overdue = self.next_deadline();
            tokio::select! {
                biased;
                signal = next_signal(&mut self.signals) => {
                    self.emit(Event::Signal { signal: signal.to_string() });
                    self.abort.get_or_insert(Abort::Signal { name: signal.to_string() });
                }
                Some(stop) = self.stop_rx.recv() => {
                    self.emit(Event::StopRequested { reason: stop.reason.clone() });
                    self.abort.get_or_insert(Abort::Stopped { reason: stop.reason });
                }
                Some(trip) = self.trip_rx.recv() => self.on_trip_request(trip, &mut st),
                Some(message) = self.notes_rx.recv() => self.emit(Event::Warning { message }),
                Some(batch) = st.samples.join_next() => self.on_samples(batch.ok(), &mut st),
                Some(msg) = st.rx.recv() => {
                    self.on_worker(msg, &mut st);
                    self.start_ready_groups(&mut st);
                }
                Some(joined) = st.workers.join_next() => {
                    if let Err(e) = joined {
                        self.abort.get_or_insert(Abort::ActionFailed { message: format!("a group worker crashed: {e}") });
                    }
                }
                _ = tick(&mut guard_tick) => self.sample_guardrails(&mut st),
                _ = tick(&mut probe_tick) => self.sample_probes(&mut st),
                _ = tick(&mut lease_tick) => self.renew_leases(&mut st),
                Some(Ok(renewal)) = st.renewals.join_next() => self.on_renewal(renewal),
                () = sleep_until(overdue) => self.roll_back_overdue(&mut st),
                Some(record) = st.overdue.next() => self.on_overdue_rolled_back(record),
                () = tokio::time::sleep_until(time_box) => {
                    self.abort = Some(Abort::Stuck { message: "the run outlived its time box".into() });
                }
            }
        }
        self.stop_workers(st).await;
        if checks_during {
            self.end_phase(ProbePhase::During);
        }
    }

    /// Takes a guardrail sample, unless one is still being taken; rules that read a probe's
    /// failure rate are judged at once from the samples already in.
    fn sample_guardrails(&mut self, st: &mut Running) {
        self.judge_probe_rates(st);
        if !st.guardrails_in_flight {
            st.guardrails_in_flight = true;
            let (sampler, rules) = (self.sampler.clone(), Arc::new(self.plan.guardrails.rules.clone()));
            st.samples.spawn(async move { SampleBatch::Guardrails(sampler.sample_guardrails(rules).await) });
        }
    }

    /// Judges every `probe:` guardrail on the share of its probe's samples that failed
    /// within its window (a rule whose probe has no sample yet is not judged).
    fn judge_probe_rates(&mut self, st: &mut Running) {
        let (now, now_wall) = (Instant::now(), now_ms());
        let samples: Vec<GuardrailSample> = (self.plan.guardrails.rules.iter().enumerate())
            .filter_map(|(rule, plan)| {
                let (probe, window) = window_of(&plan.source)?;
                let (failed, total) = st.recent.failures(probe, window, now)?;
                let value = 100.0 * failed as f64 / total as f64;
                let observation = crate::probe::Observation { value: Some(value), ..Default::default() };
                Some(GuardrailSample { rule, host: None, observation, sampled_ms: now_wall, sampled_at: now })
            })
            .collect();
        if !samples.is_empty() {
            self.judge_guardrails(samples, st);
        }
    }

    /// Samples the steady-state probes that are due (none twice at once).
    fn sample_probes(&mut self, st: &mut Running) {
        let Some(due) = st.probes.as_mut().map(ProbeClock::take_due).filter(|d| !d.is_empty()) else { return };
        let probes = Arc::new(self.plan.steady_state.as_ref().map(|s| s.probes.clone()).unwrap_or_default());
        let sampler = self.sampler.clone();
        st.samples.spawn(async move {
            let samples = sampler.sample_probes(probes, due.clone()).await;
            SampleBatch::Probes(due, samples)
        });
    }

    /// Judges guardrail samples and records steady-state ones the moment they arrive.
    fn on_samples(&mut self, batch: Option<SampleBatch>, st: &mut Running) {
        match batch {
            Some(SampleBatch::Guardrails(samples)) => {
                st.guardrails_in_flight = false;
                self.judge_guardrails(samples, st);
            }
            Some(SampleBatch::Probes(probes, samples)) => {
                if let Some(clock) = st.probes.as_mut() {
                    clock.landed(Some(&probes));
                }
                let (now, names) = (Instant::now(), self.plan.steady_state.as_ref().map(|s| &s.probes));
                for sample in &samples {
                    if let Some(probe) = names.and_then(|p| p.get(sample.probe)) {
                        st.recent.add(&probe.name, sample.verdict.ok, now);
                    }
                }
                self.record_probe_samples(ProbePhase::During, samples);
            }
            None => {
                if let Some(clock) = st.probes.as_mut() {
                    clock.landed(None);
                }
                st.guardrails_in_flight = false;
            }
        }
    }

    /// Spawns a worker for every group whose `after` groups have finished.
    fn start_ready_groups(&mut self, st: &mut Running) {
        if self.abort.is_some() {
            return;
        }
        for index in st.scheduler.take_ready() {
            let plan = Arc::new(self.plan.groups[index].clone());
            self.emit(Event::GroupStarted { group: index, name: plan.name.clone() });
            let job = GroupJob {
                index,
                hosts: self.targets.hosts(&plan.target).to_vec(),
                plan,
                run: self.report.run_id.clone(),
                lease: self.plan.lease,
                rollback: self.plan.rollback,
                tx: st.tx.clone(),
                cancel: st.cancel.subscribe(),
            };
            st.workers.spawn(run_group(job));
        }
    }

    fn on_worker(&mut self, msg: WorkerMsg, st: &mut Running) {
        match msg {
            WorkerMsg::Injected { action, host, view, at_ms } => {
                let held = view.state == crate::journal::InjectionState::Active;
                let params = &self.plan.groups[action.group].actions[action.action].params;
                let irreversible = crate::fault::find_fault(&action.fault).is_some_and(|f| f.is_irreversible(params));
                self.record_injection(InjectionSummary {
                    id: view.id.clone(),
                    action: action.clone(),
                    host: host.name().to_string(),
                    injected_ms: at_ms,
                    deadline_ms: view.deadline_ms,
                    held,
                    irreversible,
                    preview: view.preview.clone(),
                });
                self.emit(Event::ActionStarted {
                    action: action.clone(),
                    host: host.name().to_string(),
                    injection: view.id.clone(),
                    held,
                    irreversible,
                    hit: if held { Vec::new() } else { view.preview.clone() },
                });
                // Injected while a trip's rollback was already under way: say it too.
                if let (true, Some(Abort::Guardrail { name, .. })) = (irreversible, &self.abort) {
                    let name = name.clone();
                    self.warn_irreversible(&name);
                }
                if held {
                    let plan = &self.plan.groups[action.group].actions[action.action];
                    let hold = plan.duration.unwrap_or_default();
                    // The duration asked for, from its answer, on this controller's clock: the
                    // host's deadline is on the host's wall clock, which may be hours off this
                    // one (a daemon an hour behind had its fault rolled back 2 s in).
                    let asked = super::worker::injection_duration(plan);
                    self.live.push(Live {
                        id: view.id,
                        host,
                        action,
                        overdue_at: tokio::time::Instant::now() + asked + DEADLINE_GRACE,
                        planned_end_ms: at_ms + hold.as_millis() as i64,
                        planned_end_at: Instant::now() + hold,
                        renewed_ms: at_ms,
                        renewed_at: Instant::now(),
                        rollback_limit: super::worker::rollback_time_limit(&plan.params),
                        ended: false,
                        left: false,
                        lost: false,
                    });
                }
            }
            WorkerMsg::InjectFailed { action, host, error } => {
                // The host's error already reads `inject FAULT on HOST: …`: say it once.
                let cause = [format!("inject {} on {host}: ", action.fault), format!("inject {}: ", action.fault)]
                    .iter()
                    .find_map(|prefix| error.strip_prefix(prefix.as_str()))
                    .unwrap_or(&error);
                let message = format!("inject {} on {host}: {cause}", action.label);
                self.emit(Event::ActionFailed { action, host, error });
                self.abort.get_or_insert(Abort::ActionFailed { message });
            }
            WorkerMsg::HoldEnded { action, host, injection, rollback, lost } => {
                if let Some(end) = lost {
                    self.fault_lost(&injection, end);
                }
                let rolled_back = rollback.as_ref().is_some_and(|r| r.ok);
                if let Some(record) = rollback {
                    self.record_rollback(record);
                }
                if let Some(index) = self.live.iter().position(|l| l.id == injection) {
                    if rolled_back {
                        self.live.remove(index);
                    } else {
                        // Left in place (`rollback: never`) or failed: the final rollback retries it.
                        let live = &mut self.live[index];
                        live.ended = true;
                        live.left = self.plan.rollback == crate::experiment::RollbackPolicy::Never;
                    }
                }
                self.emit(Event::ActionEnded { action, host, injection, rolled_back });
            }
            WorkerMsg::GroupFinished { group } => {
                st.scheduler.finish(group);
                let name = self.plan.groups[group].name.clone();
                self.emit(Event::GroupFinished { group, name });
            }
        }
    }

    /// Judges each guardrail sample the moment it arrives.
    fn judge_guardrails(&mut self, samples: Vec<GuardrailSample>, st: &mut Running) {
        for sample in samples {
            let rule = self.plan.guardrails.rules[sample.rule].clone();
            let host = sample.host.clone().unwrap_or_else(|| "-".into());
            let value = measured(&rule, &sample.observation);
            let judgement = st.judge.judge(sample.rule, &rule, &host, value);
            self.emit(Event::GuardrailSample {
                guardrail: rule.name.clone(),
                sample: sample_record(sample.host.as_deref(), &sample.observation),
                breached: judgement.is_breach(),
                consecutive: judgement.consecutive(),
                for_samples: rule.for_samples,
            });
            if let Judgement::Tripped { consecutive } = judgement {
                let seen = match (value, &sample.observation.error) {
                    (Some(v), _) if let Some((probe, window)) = window_of(&rule.source) => format!(
                        "{v:.1}% of probe {probe}'s samples failed over the last {}",
                        humantime::format_duration(window)
                    ),
                    (Some(v), _) => format!("{v:.1}"),
                    (None, Some(error)) => format!("unmeasured ({error})"),
                    (None, None) => format!("unmeasured (no {})", rule.measure.as_str()),
                };
                let on = sample.host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default();
                let message = format!("{seen}{on}, breach {} for {consecutive} sample(s)", rule.breach);
                self.trip(&rule.name, rule.action, TripSource::Samples, message, sample.sampled_ms, sample.sampled_at);
            }
        }
    }

    fn on_trip_request(&mut self, request: TripRequest, _st: &mut Running) {
        let answer = match self.plan.guardrails.action_of(&request.guardrail) {
            Some(action) => {
                self.trip(&request.guardrail, action, TripSource::External, request.reason, now_ms(), Instant::now());
                Ok(())
            }
            None => Err(TripRefused::UnknownGuardrail {
                guardrail: request.guardrail,
                known: self.plan.guardrails.names().join(", "),
            }),
        };
        if let Some(reply) = request.reply {
            let _ = reply.send(answer);
        }
    }

    fn trip(
        &mut self,
        name: &str,
        rule_action: GuardrailAction,
        source: TripSource,
        message: String,
        sample_ms: i64,
        at: Instant,
    ) {
        let action = match rule_action {
            GuardrailAction::Rollback => "rollback",
            GuardrailAction::Warn => "warn",
        };
        warn!(run = %self.report.run_id, guardrail = %name, action, detail = %message, "Guardrail tripped.");
        self.emit(Event::GuardrailTripped {
            guardrail: name.to_string(),
            source,
            action: action.into(),
            message: message.clone(),
        });
        if rule_action == GuardrailAction::Rollback && self.abort.is_none() {
            self.warn_irreversible(name);
            self.abort = Some(Abort::Guardrail { name: name.to_string(), message });
            self.reaction = Some(ReactionStart {
                guardrail: name.to_string(),
                breach_sample_ms: sample_ms,
                sampled_at: at,
                tripped_ms: now_ms(),
            });
        }
    }

    /// A trip rolls back what it can; says which injected actions it cannot undo.
    fn warn_irreversible(&mut self, guardrail: &str) {
        let cannot: Vec<String> = self
            .report
            .injections
            .iter()
            .filter(|i| i.irreversible)
            .map(|i| format!("{} on {}", i.action.label, i.host))
            .collect();
        if !cannot.is_empty() {
            let message = format!(
                "guardrail {guardrail} tripped: rolling back, but {} cannot be undone (irreversible, no rollback): {}",
                if cannot.len() == 1 { "one action" } else { "these actions" },
                cannot.join(", ")
            );
            warn!(run = %self.report.run_id, guardrail, "Guardrail tripped after irreversible actions.");
            self.emit(Event::Warning { message });
        }
    }

    fn renew_leases(&mut self, st: &mut Running) {
        for live in self.live.iter().filter(|l| !l.ended && !l.lost) {
            let (host, id) = (live.host.clone(), live.id.clone());
            st.renewals.spawn(async move {
                let result = host.renew_lease(&id).await.map_err(|e| error_chain(&e));
                Renewal { injection: id, result }
            });
        }
    }

    /// A renewal's answer: renewed, the fault found ended, or no answer. A host out of reach
    /// for longer than the lease has rolled the fault back by itself (dead man's switch).
    fn on_renewal(&mut self, renewal: Renewal) {
        let Some(live) = self.live.iter_mut().find(|l| l.id == renewal.injection) else { return };
        match renewal.result {
            Ok(LeaseState::Renewed) => (live.renewed_ms, live.renewed_at) = (now_ms(), Instant::now()),
            Ok(LeaseState::Ended(end)) => self.fault_lost(&renewal.injection, end),
            Err(error) => {
                let (host, silent_since, silent_for) =
                    (live.host.name().to_string(), live.renewed_ms, live.renewed_at.elapsed());
                self.emit(Event::LeaseRenewFailed { injection: renewal.injection.clone(), host, error: error.clone() });
                let lease_ms = self.plan.lease.as_millis() as i64;
                // Timed on the monotonic clock: a wall-clock step neither declares a reachable
                // host lost (+1 h) nor hides one that is (-1 h).
                if silent_for > self.plan.lease {
                    let why = format!(
                        "out of reach for longer than the lease ({}): its daemon rolls the fault back by itself \
                         once no renewal reaches it; last error: {error}",
                        humantime::format_duration(self.plan.lease)
                    );
                    self.fault_lost(&renewal.injection, FaultEnd { at_ms: silent_since + lease_ms, why });
                }
            }
        }
    }

    /// When the next live injection will be overdue (its deadline plus a grace period).
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        self.live.iter().filter(|l| !l.ended).map(|l| l.overdue_at).min()
    }

    /// Starts rolling back injections past their deadline that no worker has ended
    /// (time-box), each in its own task: a slow one never holds up the loop.
    fn roll_back_overdue(&mut self, st: &mut Running) {
        let now = tokio::time::Instant::now();
        for live in self.live.iter_mut().filter(|l| !l.ended && l.overdue_at <= now) {
            // Ended for the loop: a failed rollback is retried by the final rollback.
            live.ended = true;
            st.overdue.start(live, "deadline passed");
            st.overdue.total += 1;
        }
    }

    /// An overdue injection's rollback ended: a rolled-back one is no longer live.
    fn on_overdue_rolled_back(&mut self, record: RollbackRecord) {
        if record.ok {
            self.live.retain(|l| l.id != record.injection);
        }
        self.record_rollback(record);
    }

    /// The longest the running phase may last: every action's waits and hold, as if all
    /// ran one after another, plus a margin for injects and rollbacks.
    fn time_box(&self) -> Duration {
        let actions = self.plan.groups.iter().flat_map(|g| &g.actions);
        let total: Duration =
            actions.map(|a| a.wait_before + a.duration.unwrap_or(Duration::ZERO) + a.wait_after).sum();
        total + Duration::from_secs(60)
    }

    /// Cancels the workers and waits for injects and rollbacks in flight, recording them,
    /// while still answering signals, stop and trip, and reporting progress.
    async fn stop_workers(&mut self, mut st: Running) {
        let _ = st.cancel.send(true);
        st.samples.abort_all();
        st.renewals.abort_all();
        let mut tick = progress_ticker();
        let give_up = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let mut drained = false;
        while !drained {
            if st.workers.is_empty() && st.overdue.is_empty() {
                drained = true;
                continue;
            }
            tokio::select! {
                Some(msg) = st.rx.recv() => self.on_worker(msg, &mut st),
                Some(_) = st.workers.join_next() => {}
                Some(record) = st.overdue.next() => self.on_overdue_rolled_back(record),
                control = self.next_control(&mut tick) => {
                    let workers = (!st.workers.is_empty())
                        .then(|| format!("{} group worker(s) finishing an inject or rollback", st.workers.len()));
                    let progress = st.overdue.progress(workers);
                    self.on_control_while_rolling_back(control, progress);
                }
                () = tokio::time::sleep_until(give_up) => break,
            }
        }
        if !drained {
            warn!(run = %self.report.run_id, "Workers did not finish in time; rolling back what they reported.");
            st.workers.abort_all();
        }
        while let Ok(msg) = st.rx.try_recv() {
            self.on_worker(msg, &mut st);
        }
    }
}

/// The quantity a guardrail compares; `None` when the sample could not be taken.
fn measured(rule: &GuardrailPlan, observation: &crate::probe::Observation) -> Option<f64> {
    if observation.error.is_some() {
        return None;
    }
    rule.measure.pick(observation.value, observation.latency_ms, observation.status)
}

fn ticker(period: Duration) -> Interval {
    let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
