//! The checked plan: what the loader produces and everything downstream consumes.
//!
//! Nothing here holds an unchecked value: names are resolved, durations are
//! positive, percentages are in range, fault parameters are typed, and the
//! `after` graph is acyclic. Plans serialise into the run report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::host_checks::HostConstraint;
use super::params::Params;

/// One experiment, ready to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentPlan {
    pub name: String,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub targets: Vec<TargetPlan>,
    pub steady_state: Option<SteadyStatePlan>,
    pub guardrails: GuardrailsPlan,
    /// In file order; `after` names groups by index into this list.
    pub groups: Vec<GroupPlan>,
    pub rollback: RollbackPolicy,
    #[serde(with = "humantime_serde_compat")]
    pub lease: Duration,
    /// The outcome this drill is meant to end with (`expect_outcome`); meeting it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_outcome: Option<ExpectedOutcome>,
    /// Template parameters whose addresses must (or must not) hold a target's hosts,
    /// checked when the run resolves its targets against the inventory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_constraints: Vec<HostConstraint>,
    /// What must answer again after the rollback (`recovery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryPlan>,
}

/// A recovery check: each probe, once per host of `target` (`{address}` replaced), retried
/// every `interval` after the rollback until it passes or `within` has passed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecoveryPlan {
    pub target: String,
    #[serde(with = "humantime_serde_compat")]
    pub within: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    pub probes: Vec<ProbePlan>,
}

/// An outcome a drill may declare as its purpose (`expect_outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    /// The drill proves a guardrail: it passes when a guardrail trips and everything rolls back.
    GuardrailTripped,
}

impl ExpectedOutcome {
    /// Every accepted word, for `--expect-outcome`.
    pub const WORDS: &'static [&'static str] = &["guardrail_tripped"];

    /// The word used in experiment files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::GuardrailTripped => "guardrail_tripped",
        }
    }

    /// Parses the word (for `--expect-outcome`).
    pub fn from_word(word: &str) -> Option<ExpectedOutcome> {
        (word == "guardrail_tripped").then_some(ExpectedOutcome::GuardrailTripped)
    }
}

/// A named set of hosts, resolved once at run start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetPlan {
    pub name: String,
    pub selector: TargetSelector,
    pub pick: Pick,
    /// Blast-radius cap, checked after `pick`.
    pub max: Option<u32>,
    pub on_empty: OnEmpty,
    /// Seed for `pick`; chosen at random and recorded when not given.
    pub seed: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSelector {
    /// Host names from the inventory, or `local`.
    Hosts(Vec<String>),
    /// Every inventory host carrying all these labels.
    Labels(BTreeMap<String, String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    All,
    Count(u32),
    Percent(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEmpty {
    Fail,
    Skip,
}

/// The steady-state hypothesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteadyStatePlan {
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    pub check_before: bool,
    pub check_during: bool,
    pub check_after: bool,
    pub probes: Vec<ProbePlan>,
}

/// One steady-state probe and what it must show.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbePlan {
    pub name: String,
    pub source: ProbeSource,
    pub expect: Vec<Expectation>,
    /// Its own sampling interval during the run (default: the steady state's).
    #[serde(default, with = "humantime_serde_compat::option")]
    pub interval: Option<Duration>,
    /// How many failed samples a phase may hold before the probe counts as deviated.
    #[serde(default)]
    pub budget: ProbeBudget,
}

/// A probe's error budget over each phase (before, during, after). The default is strict:
/// any failed sample is a deviation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeBudget {
    /// Consecutive failed samples allowed (`tolerate: N`); one more is a deviation.
    #[serde(default)]
    pub tolerate: u32,
    /// The share of failed samples (percent) a phase must satisfy (`error_rate: "< 1%"`),
    /// judged when the phase ends.
    #[serde(default)]
    pub error_rate: Option<Comparison>,
    /// Latency percentiles a phase must satisfy (`latency: "p95 < 300ms"`), judged when the
    /// phase ends; milliseconds.
    #[serde(default)]
    pub latency: Vec<Percentile>,
}

impl ProbeBudget {
    /// Whether any failed sample is a deviation at once.
    pub fn is_strict(&self) -> bool {
        self.tolerate == 0 && self.error_rate.is_none()
    }
}

/// `pNN <comparison>`: the NN-th percentile of a phase's values must satisfy the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    /// In (0, 100].
    pub rank: f64,
    pub holds: Comparison,
}

/// Where a probe's measurement comes from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum ProbeSource {
    /// A host metric read on the target's hosts (`local` when no target is named).
    Metric { metric: HostMetric, path: Option<PathBuf>, process: Option<String>, target: Option<String> },
    Http {
        url: String,
        method: String,
        #[serde(with = "humantime_serde_compat")]
        timeout: Duration,
        headers: BTreeMap<String, String>,
    },
    Prometheus {
        url: String,
        query: String,
        #[serde(with = "humantime_serde_compat")]
        timeout: Duration,
        bearer_token_env: Option<String>,
    },
    /// The percentage of steady-state probe `probe`'s samples that failed over the last
    /// `window` (guardrails only: the run loop measures it from the probe's own samples).
    ProbeFailures {
        probe: String,
        #[serde(with = "humantime_serde_compat")]
        window: Duration,
    },
    /// A TCP connect to `address` (`host:port`); its latency is the connect time.
    Tcp {
        address: String,
        #[serde(with = "humantime_serde_compat")]
        timeout: Duration,
    },
    Command {
        argv: Vec<String>,
        #[serde(with = "humantime_serde_compat")]
        timeout: Duration,
    },
}

/// Host metrics a probe or guardrail can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostMetric {
    CpuPercent,
    MemoryPercent,
    /// Needs `path`.
    DiskUsedPercent,
    Load1,
    /// The 1-minute load average divided by the online CPUs (a threshold that fits any host).
    Load1PerCore,
    /// Needs `process` (exact comm name).
    ProcessCount,
}

impl HostMetric {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            HostMetric::CpuPercent => "cpu_percent",
            HostMetric::MemoryPercent => "memory_percent",
            HostMetric::DiskUsedPercent => "disk_used_percent",
            HostMetric::Load1 => "load1",
            HostMetric::Load1PerCore => "load1_per_core",
            HostMetric::ProcessCount => "process_count",
        }
    }
}

/// A numeric comparison: `< 300`, `>= 90`, `between 1 and 5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    Eq(f64),
    Ne(f64),
    Between(f64, f64),
}

impl Comparison {
    /// Whether `x` satisfies the comparison.
    pub fn holds(self, x: f64) -> bool {
        match self {
            Comparison::Lt(v) => x < v,
            Comparison::Le(v) => x <= v,
            Comparison::Gt(v) => x > v,
            Comparison::Ge(v) => x >= v,
            Comparison::Eq(v) => x == v,
            Comparison::Ne(v) => x != v,
            Comparison::Between(lo, hi) => lo <= x && x <= hi,
        }
    }

    /// The threshold(s), for drawing lines on a timeline.
    pub fn thresholds(self) -> Vec<f64> {
        match self {
            Comparison::Lt(v)
            | Comparison::Le(v)
            | Comparison::Gt(v)
            | Comparison::Ge(v)
            | Comparison::Eq(v)
            | Comparison::Ne(v) => vec![v],
            Comparison::Between(lo, hi) => vec![lo, hi],
        }
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comparison::Lt(v) => write!(f, "< {v}"),
            Comparison::Le(v) => write!(f, "<= {v}"),
            Comparison::Gt(v) => write!(f, "> {v}"),
            Comparison::Ge(v) => write!(f, ">= {v}"),
            Comparison::Eq(v) => write!(f, "== {v}"),
            Comparison::Ne(v) => write!(f, "!= {v}"),
            Comparison::Between(lo, hi) => write!(f, "between {lo} and {hi}"),
        }
    }
}

/// One thing a probe's observation must show.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// The probe's numeric value (metric, Prometheus, command stdout number).
    Value(Comparison),
    /// HTTP latency, in milliseconds.
    LatencyMs(Comparison),
    /// HTTP status code.
    Status(u16),
    /// Command exit code.
    Exit(i32),
    /// The body (HTTP) or stdout (command) matches this regex (checked at load time).
    Regex(String),
    /// A JSON path into the body, whose value must match.
    JsonPath { path: String, equals: Option<serde_json::Value>, compare: Option<Comparison> },
}

/// Guardrails: judged right after each sample.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GuardrailsPlan {
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    pub rules: Vec<GuardrailPlan>,
    /// Guardrails without a source, tripped only from outside (`external: true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<ExternalGuardrailPlan>,
}

impl GuardrailsPlan {
    /// Every guardrail's name, sampled ones first.
    pub fn names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).chain(self.external.iter().map(|e| e.name.clone())).collect()
    }

    /// What guardrail `name` does when it trips, if the plan has it.
    pub fn action_of(&self, name: &str) -> Option<GuardrailAction> {
        let sampled = self.rules.iter().find(|r| r.name == name).map(|r| r.action);
        sampled.or_else(|| self.external.iter().find(|e| e.name == name).map(|e| e.action))
    }
}

/// A guardrail tripped only from outside: an Alertmanager webhook, `faultdrill trip`, or
/// the daemon's trip endpoint. Nothing samples it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExternalGuardrailPlan {
    pub name: String,
    pub action: GuardrailAction,
}

/// One guardrail rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GuardrailPlan {
    pub name: String,
    pub source: ProbeSource,
    pub breach: Comparison,
    /// Consecutive breaching samples before it trips.
    pub for_samples: u32,
    pub action: GuardrailAction,
    /// Whether a sample that could not be taken counts toward the breach (DESIGN §4.8).
    #[serde(default)]
    pub on_unmeasured: OnUnmeasured,
    /// Which quantity of an observation `breach` is compared with.
    #[serde(default)]
    pub measure: Measure,
}

/// What a guardrail does with a sample that could not be taken (timeout, refused,
/// command failure, no series).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnmeasured {
    /// Fail safe: it counts as a breaching sample.
    #[default]
    Breach,
    /// It neither counts toward the breach nor resets the count.
    Ignore,
}

impl OnUnmeasured {
    /// The word used in experiment files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnmeasured::Breach => "breach",
            OnUnmeasured::Ignore => "ignore",
        }
    }
}

/// The quantity of an observation a guardrail compares: the numeric value (metric,
/// Prometheus, a number on a command's stdout), or for an HTTP source the status code
/// (a threshold without a unit, `!= 200`) or the latency (a threshold in time, `> 300ms`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    #[default]
    Value,
    Status,
    LatencyMs,
}

impl Measure {
    /// The quantity out of an observation's fields; `None` when it was not measured.
    pub fn pick(self, value: Option<f64>, latency_ms: Option<f64>, status: Option<u16>) -> Option<f64> {
        let x = match self {
            Measure::Value => value,
            Measure::Status => status.map(f64::from),
            Measure::LatencyMs => latency_ms,
        };
        x.filter(|v| v.is_finite())
    }

    /// How the quantity is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Value => "value",
            Measure::Status => "status",
            Measure::LatencyMs => "latency (ms)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailAction {
    Rollback,
    Warn,
}

/// Actions on one target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupPlan {
    pub name: String,
    pub target: String,
    pub mode: GroupMode,
    /// Indices of groups that must finish first.
    pub after: Vec<usize>,
    pub actions: Vec<ActionPlan>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMode {
    Sequential,
    Parallel,
}

/// One fault with checked params.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionPlan {
    /// A label for progress and reports, e.g. `fill/disk-fill#1`.
    pub label: String,
    pub fault: String,
    pub params: Params,
    /// How long the fault is held; `None` for instantaneous faults.
    #[serde(with = "humantime_serde_compat::option")]
    pub duration: Option<Duration>,
    #[serde(with = "humantime_serde_compat")]
    pub wait_before: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub wait_after: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackPolicy {
    Always,
    Never,
}

/// Durations serialise as human strings (`"1s 500ms"`) in reports and plans.
pub mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
        }
    }
}
