//! Rollbacks never make the run deaf: each runs in its own task, independent ones at once
//! (waves in reverse dependency order, see `rollback_order.rs`), while the run keeps
//! answering SIGINT/SIGTERM, stop and trip, and reports progress every second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};

use crate::ids::InjectionId;
use crate::journal::now_ms;
use crate::report::{Event, RollbackRecord};

use super::control::{StopRequest, TripRefused, TripRequest};
use super::outcome::Abort;
use super::rollback_order::rollback_waves;
use super::run::{Live, Run};
use super::signals::next_signal;
use super::worker::{FANOUT_LIMIT, roll_back_id};

/// How often progress is reported while rollbacks run.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Something asked of the run while it rolls back.
pub(super) enum Control {
    Signal(&'static str),
    Stop(StopRequest),
    Trip(TripRequest),
    Note(String),
    Tick,
}

/// Rollbacks in flight: what each is (for progress), and how many are done.
pub(super) struct InFlight {
    pub set: JoinSet<RollbackRecord>,
    what: HashMap<tokio::task::Id, Pending>,
    pub done: usize,
    /// How many rollbacks this phase has to do (set by the caller).
    pub total: usize,
    limit: Arc<Semaphore>,
}

/// One rollback in flight.
struct Pending {
    id: InjectionId,
    host: String,
    fault: String,
    label: String,
    since: Instant,
}

impl InFlight {
    pub fn new() -> InFlight {
        InFlight {
            set: JoinSet::new(),
            what: HashMap::new(),
            done: 0,
            total: 0,
            limit: Arc::new(Semaphore::new(FANOUT_LIMIT)),
        }
    }

    /// Starts rolling back `live` in its own task.
    pub fn start(&mut self, live: &Live, reason: &str) {
        let (host, id, fault, label, within) = (
            live.host.clone(),
            live.id.clone(),
            live.action.fault.clone(),
            live.action.label.clone(),
            live.rollback_limit,
        );
        let (reason, limit) = (reason.to_string(), self.limit.clone());
        let pending = Pending {
            id: id.clone(),
            host: host.name().to_string(),
            fault: fault.clone(),
            label: label.clone(),
            since: Instant::now(),
        };
        let task = self.set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            roll_back_id(&host, &id, &fault, Some(&label), &reason, within).await
        });
        self.what.insert(task.id(), pending);
    }

    /// The next rollback to end (a task that panicked counts as a failed rollback).
    pub async fn next(&mut self) -> Option<RollbackRecord> {
        let joined = self.set.join_next_with_id().await?;
        self.done += 1;
        Some(match joined {
            Ok((task, record)) => {
                self.what.remove(&task);
                record
            }
            Err(e) => {
                let pending = self.what.remove(&e.id());
                let (id, host, fault, label) = pending
                    .map(|p| (p.id, p.host, p.fault, Some(p.label)))
                    .unwrap_or_else(|| (InjectionId::from_string("unknown"), "?".into(), "?".into(), None));
                RollbackRecord {
                    injection: id.clone(),
                    host,
                    fault,
                    action: label,
                    reason: "rollback task failed".into(),
                    ok: false,
                    verified: false,
                    detail: format!("the rollback task ended abnormally ({e}); run `faultdrill recover {id}`"),
                    started_ms: now_ms(),
                    finished_ms: now_ms(),
                }
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// What progress shows: `action on host` still awaited, and the longest wait so far.
    pub fn progress(&self, extra: Option<String>) -> Event {
        let mut waiting: Vec<&Pending> = self.what.values().collect();
        waiting.sort_by_key(|p| p.since);
        let waited_ms = waiting.first().map_or(0, |p| p.since.elapsed().as_millis() as u64);
        let mut waiting: Vec<String> = waiting.iter().map(|p| format!("{} on {}", p.label, p.host)).collect();
        waiting.extend(extra);
        Event::RollbackProgress { done: self.done, total: self.total, waiting, waited_ms }
    }
}

/// A ticker for progress while rolling back (first tick after one period).
pub(super) fn progress_ticker() -> Interval {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

impl Run {
    /// The next request to answer while rolling back, or a progress tick.
    pub(super) async fn next_control(&mut self, tick: &mut Interval) -> Control {
        tokio::select! {
            biased;
            signal = next_signal(&mut self.signals) => Control::Signal(signal),
            Some(stop) = self.stop_rx.recv() => Control::Stop(stop),
            Some(trip) = self.trip_rx.recv() => Control::Trip(trip),
            Some(note) = self.notes_rx.recv() => Control::Note(note),
            _ = tick.tick() => Control::Tick,
        }
    }

    /// Answers what arrives while rolling back: everything is being rolled back already, so a
    /// signal or a stop is acknowledged (and decides the outcome if nothing else did), a trip
    /// is accepted and noted, and progress is reported.
    pub(super) fn on_control_while_rolling_back(&mut self, control: Control, progress: Event) {
        match control {
            Control::Signal(signal) => {
                self.emit(Event::Signal { signal: signal.to_string() });
                self.abort.get_or_insert(Abort::Signal { name: signal.to_string() });
            }
            Control::Stop(stop) => {
                self.emit(Event::StopRequested { reason: stop.reason.clone() });
                self.abort.get_or_insert(Abort::Stopped { reason: stop.reason });
            }
            Control::Trip(request) => {
                let answer = if self.plan.guardrails.action_of(&request.guardrail).is_some() {
                    let message = format!(
                        "guardrail {} tripped while rolling back ({}): everything is being rolled back already",
                        request.guardrail, request.reason
                    );
                    self.emit(Event::Warning { message });
                    Ok(())
                } else {
                    Err(TripRefused::UnknownGuardrail {
                        guardrail: request.guardrail,
                        known: self.plan.guardrails.names().join(", "),
                    })
                };
                if let Some(reply) = request.reply {
                    let _ = reply.send(answer);
                }
                return;
            }
            Control::Note(message) => {
                self.emit(Event::Warning { message });
                return;
            }
            Control::Tick => {}
        }
        if matches!(&progress, Event::RollbackProgress { waiting, .. } if !waiting.is_empty()) {
            self.emit(progress);
        }
    }

    /// Rolls back `to_undo` (in the order they were injected): wave by wave, newest
    /// dependency first, each wave's injections at once. Returns whether all succeeded.
    pub(super) async fn roll_back_in_waves(&mut self, to_undo: Vec<Live>, reason: &str) -> bool {
        let refs: Vec<_> = to_undo.iter().map(|l| &l.action).collect();
        let waves = rollback_waves(&self.plan.groups, &refs);
        let mut in_flight = InFlight::new();
        in_flight.total = to_undo.len();
        let mut tick = progress_ticker();
        let mut all_ok = true;
        for wave in waves {
            for i in wave {
                in_flight.start(&to_undo[i], reason);
            }
            while !in_flight.is_empty() {
                tokio::select! {
                    Some(record) = in_flight.next() => {
                        all_ok &= record.ok;
                        self.record_rollback(record);
                    }
                    control = self.next_control(&mut tick) => {
                        let progress = in_flight.progress(None);
                        self.on_control_while_rolling_back(control, progress);
                    }
                }
            }
        }
        all_ok
    }
}
