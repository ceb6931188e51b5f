//! The report of one run: what was planned, where it ran, what happened when, and how it ended.
//!
//! This is the stable, versioned document behind `report.json`, `--json`, JUnit and HTML.
//! Timestamps are Unix milliseconds. Bump [`SCHEMA_VERSION`] on any incompatible change.

use serde::{Deserialize, Serialize};

use crate::experiment::ExperimentPlan;
use crate::ids::{InjectionId, RunId};

/// The version of the report format written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// A Unix-millisecond time as RFC 3339 UTC (`2026-11-29T16:20:41.123Z`), as reports show it.
pub fn format_ms(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// The whole report of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: RunId,
    pub experiment: String,
    pub plan: ExperimentPlan,
    /// Targets as resolved once at run start.
    pub targets: Vec<ResolvedTarget>,
    pub state: RunState,
    /// `None` until the run has finished.
    pub outcome: Option<Outcome>,
    /// The process exit code the outcome maps to (DESIGN §2).
    pub exit_code: Option<u8>,
    /// One sentence on why the run ended the way it did.
    pub reason: Option<String>,
    /// Set when the experiment declares `expect_outcome`: what was expected and whether
    /// the run met it (which decides `exit_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<OutcomeExpectation>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// Every injection made, in the order made.
    pub injections: Vec<InjectionSummary>,
    /// Every rollback carried out, in the order carried out.
    pub rollbacks: Vec<RollbackRecord>,
    /// Set when a guardrail stopped the run: from the sample that completed the breach
    /// to everything rolled back.
    pub guardrail_reaction: Option<GuardrailReaction>,
    pub timeline: Vec<TimelineEntry>,
}

impl Report {
    /// Whether every injection that needed a rollback was rolled back in the end.
    pub fn all_rolled_back(&self) -> bool {
        self.final_rollbacks().iter().all(|(r, _)| r.ok)
    }

    /// One rollback result per injection, in the order first attempted: the attempt that
    /// succeeded if one did, else the last one; and how many attempts there were.
    pub fn final_rollbacks(&self) -> Vec<(&RollbackRecord, usize)> {
        let mut out: Vec<(&RollbackRecord, usize)> = Vec::new();
        for r in &self.rollbacks {
            match out.iter_mut().find(|(seen, _)| seen.injection == r.injection) {
                Some((seen, attempts)) => {
                    *attempts += 1;
                    if !seen.ok {
                        *seen = r;
                    }
                }
                None => out.push((r, 1)),
            }
        }
        out
    }

    /// The injections whose rollback still failed at the end, one record each.
    pub fn failed_rollbacks(&self) -> Vec<&RollbackRecord> {
        self.final_rollbacks().into_iter().filter(|(r, _)| !r.ok).map(|(r, _)| r).collect()
    }
}

/// An expected outcome (`expect_outcome`) and whether the run met it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeExpectation {
    pub expected: Outcome,
    pub met: bool,
}

/// A target and the hosts it resolved to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTarget {
    pub name: String,
    pub hosts: Vec<String>,
    /// The seed `pick` used, when it picked.
    pub seed: Option<u64>,
}

/// Where a run is in its life (DESIGN §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Pending,
    Preflight,
    Running,
    RollingBack,
    Finished,
}

impl RunState {
    /// The name used in the journal and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Preflight => "preflight",
            RunState::Running => "running",
            RunState::RollingBack => "rolling_back",
            RunState::Finished => "finished",
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Deviated,
    GuardrailTripped,
    Error,
    RollbackFailed,
    Interrupted,
    /// The steady state did not hold before anything was injected: nothing was injected.
    NotSteadyBefore,
    /// A fault was not held for its planned duration on every targeted host.
    FaultNotHeld,
}

impl Outcome {
    /// The name used in the journal, the API and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Deviated => "deviated",
            Outcome::GuardrailTripped => "guardrail_tripped",
            Outcome::Error => "error",
            Outcome::RollbackFailed => "rollback_failed",
            Outcome::Interrupted => "interrupted",
            Outcome::NotSteadyBefore => "not_steady_before",
            Outcome::FaultNotHeld => "fault_not_held",
        }
    }

    /// The documented exit code of this outcome.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Passed => crate::exit::PASSED,
            Outcome::Deviated => crate::exit::DEVIATED,
            Outcome::GuardrailTripped => crate::exit::GUARDRAIL_TRIPPED,
            Outcome::Error => crate::exit::ERROR,
            Outcome::RollbackFailed => crate::exit::ROLLBACK_FAILED,
            Outcome::Interrupted => crate::exit::INTERRUPTED,
            Outcome::NotSteadyBefore => crate::exit::NOT_STEADY_BEFORE,
            Outcome::FaultNotHeld => crate::exit::FAULT_NOT_HELD,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which action of the plan an event concerns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRef {
    /// Index into `plan.groups`.
    pub group: usize,
    /// Index into that group's actions.
    pub action: usize,
    /// The action's label, e.g. `fill/disk-fill#1`.
    pub label: String,
    pub fault: String,
}

/// One injection made during the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectionSummary {
    pub id: InjectionId,
    pub action: ActionRef,
    pub host: String,
    pub injected_ms: i64,
    /// When the fault must be gone at the latest.
    pub deadline_ms: i64,
    /// Whether the fault was held (false for instantaneous faults).
    pub held: bool,
    /// Whether it cannot be undone (process-kill; exec or http-call with `irreversible: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub irreversible: bool,
    /// What was changed.
    pub preview: Vec<String>,
}

/// The result of rolling back one injection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RollbackRecord {
    pub injection: InjectionId,
    pub host: String,
    pub fault: String,
    /// The action label, when the injection came from this run's plan.
    pub action: Option<String>,
    /// Why it was rolled back (`duration ended`, `guardrail disk-90 tripped`, …).
    pub reason: String,
    pub ok: bool,
    /// `undone` or `already_gone` when ok; the error otherwise.
    pub detail: String,
    /// Whether the host looked afterwards and found the fault gone (DESIGN §5): every
    /// successful rollback is verified; reports written before this was kept say false.
    #[serde(default)]
    pub verified: bool,
    pub started_ms: i64,
    pub finished_ms: i64,
}

impl RollbackRecord {
    /// What the rollback came to, for people: `rolled back, verified`, `rolled back, NOT
    /// verified: <what is still there>`, or why it failed.
    pub fn verdict(&self) -> String {
        match (self.ok, self.verified) {
            (true, true) => crate::fault::VERDICT_VERIFIED.to_string(),
            (true, false) if self.detail == "undone_unchecked" => crate::fault::VERDICT_UNCHECKED.to_string(),
            (true, false) => format!("rolled back ({})", self.detail.replace('_', " ")),
            (false, _) => self.detail.clone(),
        }
    }
}

/// How quickly a guardrail trip turned into a clean host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardrailReaction {
    pub guardrail: String,
    /// When the sample that completed the `for` window was taken.
    pub breach_sample_ms: i64,
    /// When the trip was judged.
    pub tripped_ms: i64,
    /// When the last rollback finished.
    pub rolled_back_ms: i64,
    /// The same span in microseconds of the monotonic clock, for benchmarks.
    pub reaction_us: u64,
}

/// When a steady-state check was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbePhase {
    Before,
    During,
    After,
}

/// Who tripped a guardrail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripSource {
    /// Its own samples breached for `for` consecutive samples.
    Samples,
    /// An external request (`faultdrill trip`, the API, an alert webhook).
    External,
}

/// One measurement as recorded in the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    pub host: Option<String>,
    pub value: Option<f64>,
    pub latency_ms: Option<f64>,
    pub status: Option<u16>,
    pub exit: Option<i32>,
    /// Why nothing could be measured.
    pub error: Option<String>,
}

/// One entry of the timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at_ms: i64,
    pub event: Event,
}

/// Everything that can happen during a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    State {
        state: RunState,
    },
    /// A warning for the operator (e.g. `rollback: never`).
    Warning {
        message: String,
    },
    GroupStarted {
        group: usize,
        name: String,
    },
    GroupFinished {
        group: usize,
        name: String,
    },
    /// An action was injected on a host.
    ActionStarted {
        action: ActionRef,
        host: String,
        injection: InjectionId,
        held: bool,
        /// Whether it cannot be undone (see [`InjectionSummary::irreversible`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        irreversible: bool,
        /// What an instantaneous action hit (process-kill: the processes it signalled).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hit: Vec<String>,
    },
    /// A held action's duration ended (and, with `rollback: always`, it was rolled back).
    ActionEnded {
        action: ActionRef,
        host: String,
        injection: InjectionId,
        rolled_back: bool,
    },
    /// An action could not be injected.
    ActionFailed {
        action: ActionRef,
        host: String,
        error: String,
    },
    ProbeSample {
        phase: ProbePhase,
        probe: String,
        sample: SampleRecord,
        ok: bool,
        failures: Vec<String>,
    },
    /// A steady-state probe exhausted its budget in a phase (strict: its first failed sample;
    /// `tolerate`: one failure too many in a row; `error_rate` or a latency percentile: judged
    /// when the phase ended). The verdict, as distinct from the samples.
    ProbeDeviated {
        phase: ProbePhase,
        probe: String,
        message: String,
    },
    GuardrailSample {
        guardrail: String,
        sample: SampleRecord,
        breached: bool,
        /// Consecutive breaching samples so far.
        consecutive: u32,
        for_samples: u32,
    },
    GuardrailTripped {
        guardrail: String,
        source: TripSource,
        /// `rollback` stops the run; `warn` only records.
        action: String,
        message: String,
    },
    LeaseRenewFailed {
        injection: InjectionId,
        host: String,
        error: String,
    },
    /// A held fault ended before its planned hold did, without this run asking: its daemon
    /// rolled it back (restarted, stopping, lease or deadline passed), or the host stayed out
    /// of reach longer than the lease (its daemon rolls it back by itself then).
    FaultEnded {
        action: ActionRef,
        host: String,
        injection: InjectionId,
        /// When the fault ended (as the host recorded it, or as inferred from the lease).
        ended_ms: i64,
        /// When its hold was planned to end.
        planned_end_ms: i64,
        /// Why, in the host's words.
        why: String,
    },
    /// SIGINT or SIGTERM arrived.
    Signal {
        signal: String,
    },
    StopRequested {
        reason: String,
    },
    RollbackStarted {
        reason: String,
        count: usize,
    },
    RolledBack {
        record: RollbackRecord,
    },
    /// Rollbacks still running, every second while they run and whenever the run is asked
    /// something while rolling back (a signal, a stop).
    RollbackProgress {
        done: usize,
        total: usize,
        /// What is still awaited (`action on host`).
        waiting: Vec<String>,
        /// How long the oldest of them has been awaited.
        waited_ms: u64,
    },
    RollbackFinished {
        ok: bool,
    },
    /// A live injection was left in place (`rollback: never`).
    LeftInPlace {
        injection: InjectionId,
        host: String,
        fault: String,
    },
    Finished {
        outcome: Outcome,
        exit_code: u8,
        reason: String,
    },
}
