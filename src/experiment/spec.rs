//! The experiment format as written (version 1): the spec types.
//!
//! These types are the schema: `faultdrill schema` is generated from them,
//! and the decoder fills them from the YAML node tree, keeping each value's
//! position so later checks can point at it. Every field is an `Option` so a
//! missing required key does not stop the other checks; `#[schemars(required)]`
//! marks what the schema requires. Nothing here is checked yet: durations,
//! comparisons and references are still text.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::yaml::Span;

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A field as written: absent, written wrongly and already reported (so a check that
/// needs it stays quiet instead of saying it is missing), or present with its value.
///
/// In the schema it is the value's schema, optional (`#[schemars(with = "Option<T>")]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    /// The key is not in the file.
    #[default]
    Absent,
    /// The key is there but its value is not usable (a wrong type, a template
    /// parameter with no valid value, a misspelled key); a diagnostic already says so.
    Invalid,
    /// The key and a usable value.
    Present(T),
}

impl<T> Field<T> {
    /// The value, when present.
    pub fn present(&self) -> Option<&T> {
        match self {
            Field::Present(v) => Some(v),
            Field::Absent | Field::Invalid => None,
        }
    }
}

/// A mapping from names the user chooses to values, keys kept with their positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T>(pub Vec<(Spanned<String>, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<T: JsonSchema> JsonSchema for Named<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Named_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "additionalProperties": generator.subschema_for::<T>() })
    }
}

/// A human duration such as `500ms`, `30s` or `5m`.
#[derive(Clone, Debug, PartialEq)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `500ms`, `30s`, `5m` or `1h 30m`.",
            "examples": ["500ms", "30s", "5m"]
        })
    }
}

/// A comparison such as `< 300ms`, `>= 90`, `between 1 and 5`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonText(pub String);

impl JsonSchema for ComparisonText {
    fn schema_name() -> Cow<'static, str> {
        "Comparison".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "`<`, `<=`, `>`, `>=`, `==` or `!=` and a number (with `ms`/`s` or `%`), or `between A and B`.",
            "examples": ["< 300ms", ">= 90", "between 1 and 5"]
        })
    }
}

/// Free text where YAML would also read a number or boolean (`run: [sleep, 5]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarText(pub String);

impl JsonSchema for ScalarText {
    fn schema_name() -> Cow<'static, str> {
        "ScalarText".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// Any YAML value (fault parameters, parameter defaults), converted to JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct AnyValue(pub serde_json::Value);

impl JsonSchema for AnyValue {
    fn schema_name() -> Cow<'static, str> {
        "AnyValue".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!(true)
    }
}

/// A word from a fixed set, decoded from a scalar.
pub trait Word: Sized + Copy + 'static {
    /// Every accepted spelling, in the order the schema lists them.
    const WORDS: &'static [&'static str];
    /// The value for `WORDS[i]`.
    fn from_index(i: usize) -> Self;
}

macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[schemars(rename = $word)] $variant),+
        }

        impl Word for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];
            fn from_index(i: usize) -> Self {
                const ALL: &[$name] = &[$($name::$variant),+];
                ALL[i.min(ALL.len() - 1)]
            }
        }
    };
}

words!(
    /// How the actions of a group run.
    ModeWord { Sequential = "sequential", Parallel = "parallel" }
);
words!(
    /// Whether injected faults are rolled back at the end.
    RollbackWord { Always = "always", Never = "never" }
);
words!(
    /// What to do when no host matches a target.
    OnEmptyWord { Fail = "fail", Skip = "skip" }
);
words!(
    /// When the steady-state hypothesis is evaluated.
    CheckWord { Before = "before", During = "during", After = "after" }
);
words!(
    /// What a tripped guardrail does.
    GuardrailActionWord { Rollback = "rollback", Warn = "warn" }
);
words!(
    /// An outcome a drill may declare as its purpose.
    ExpectOutcomeWord { GuardrailTripped = "guardrail_tripped" }
);
words!(
    /// What a guardrail does with a sample that could not be taken.
    OnUnmeasuredWord { Breach = "breach", Ignore = "ignore" }
);
words!(
    /// A host metric.
    HostMetricWord {
        CpuPercent = "cpu_percent",
        MemoryPercent = "memory_percent",
        DiskUsedPercent = "disk_used_percent",
        Load1 = "load1",
        Load1PerCore = "load1_per_core",
        ProcessCount = "process_count",
    }
);
words!(
    /// The type of a template parameter.
    ParamTypeWord {
        String = "string",
        Integer = "integer",
        Percent = "percent",
        Duration = "duration",
        Bool = "bool",
        List = "list",
        Enum = "enum",
    }
);

/// A faultdrill experiment (format version 1), or a template: an experiment with `parameters`.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(title = "faultdrill experiment", deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Format version; always `1`.
    #[schemars(required, range(min = 1, max = 1))]
    pub version: Option<Spanned<i64>>,
    /// The experiment's name, used in reports.
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    /// Free labels, copied into the report.
    pub labels: Option<Named<Spanned<ScalarText>>>,
    /// Template parameters, used in values as `${name}`.
    pub parameters: Option<Named<ParameterSpec>>,
    /// Named sets of hosts. `local` (this host) needs no entry.
    pub targets: Option<Named<TargetSpec>>,
    /// The steady-state hypothesis: probes that must hold.
    pub steady_state: Option<SteadyStateSpec>,
    /// Rules that stop the experiment and roll back when breached.
    pub guardrails: Option<GuardrailsSpec>,
    /// What must answer again after the rollback, per host of a target, within a time.
    pub recovery: Option<RecoverySpec>,
    /// The faults to inject, by group.
    #[schemars(required)]
    pub action_groups: Option<Spanned<Vec<ActionGroupSpec>>>,
    /// `always` (default) or `never` (demos only).
    pub rollback: Option<Spanned<RollbackWord>>,
    /// How long a remote injection survives without hearing from the controller (default 15s).
    pub lease: Option<Spanned<DurationText>>,
    /// The outcome this drill is meant to end with: `guardrail_tripped` for a drill that
    /// proves a guardrail. Meeting it exits 0; missing it exits non-zero (see the README).
    pub expect_outcome: Option<Spanned<ExpectOutcomeWord>>,
}

/// A typed template parameter.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ParameterSpec {
    #[schemars(required)]
    pub r#type: Option<Spanned<ParamTypeWord>>,
    /// The value when `--set` does not give one.
    pub default: Option<Spanned<AnyValue>>,
    /// Whether `--set` must give a value (no default).
    pub required: Option<Spanned<bool>>,
    pub description: Option<Spanned<String>>,
    /// The accepted words of an `enum` parameter.
    pub values: Option<Vec<Spanned<String>>>,
    /// Another parameter this one must never equal (a failed zone and a surviving zone).
    pub differs_from: Option<Spanned<String>>,
    /// `"PARAMETER == WORD"`: this parameter must be given (not empty) when that enum
    /// parameter has that word (the command of an optional step that is on).
    pub required_when: Option<Spanned<String>>,
    /// A target whose every host's address (from the inventory) must lie in this list of
    /// addresses or CIDRs; checked when the run resolves its targets.
    pub covers_hosts_of: Option<Spanned<String>>,
    /// A target none of whose hosts' addresses may lie in this list of addresses or CIDRs.
    pub excludes_hosts_of: Option<Spanned<String>>,
}

/// A named set of hosts: by name (`hosts`) or by labels (`select`).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TargetSpec {
    /// Inventory host names, or `local`.
    pub hosts: Option<Spanned<Vec<Spanned<String>>>>,
    pub select: Option<SelectSpec>,
    /// `all` (default), `{count: N}` or `{percent: P}`.
    pub pick: Option<Spanned<PickSpec>>,
    /// Blast-radius cap, checked after `pick`.
    #[schemars(range(min = 1))]
    pub max: Option<Spanned<i64>>,
    pub on_empty: Option<Spanned<OnEmptyWord>>,
    /// Seed for `pick` (chosen at random and recorded when absent).
    pub seed: Option<Spanned<i64>>,
    #[schemars(skip)]
    pub span: Span,
}

/// Select inventory hosts by labels.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SelectSpec {
    #[schemars(required)]
    pub labels: Option<Spanned<Named<Spanned<ScalarText>>>>,
}

/// Which of the selected hosts to use.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum PickSpec {
    All,
    Count(#[schemars(range(min = 1))] Spanned<i64>),
    Percent(#[schemars(range(min = 0, max = 100))] Spanned<f64>),
}

/// The steady-state hypothesis.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SteadyStateSpec {
    /// Sampling interval during the run (default 1s).
    pub interval: Option<Spanned<DurationText>>,
    /// When it is evaluated (default all three).
    pub check: Option<Spanned<Vec<Spanned<CheckWord>>>>,
    #[schemars(required)]
    pub probes: Option<Vec<ProbeSpec>>,
}

/// One steady-state probe: a source and what it must show.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProbeSpec {
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    pub metric: Option<MetricSpec>,
    pub http: Option<HttpSpec>,
    pub prometheus: Option<PrometheusSpec>,
    pub tcp: Option<TcpSpec>,
    pub command: Option<CommandSpec>,
    /// What each sample must show. `latency` may also be a percentile over each phase
    /// (`p95 < 300ms`), judged when the phase ends.
    #[schemars(required)]
    pub expect: Option<ExpectSpec>,
    /// This probe's sampling interval during the run (default: the steady state's `interval`).
    pub interval: Option<Spanned<DurationText>>,
    /// Consecutive failed samples allowed before the probe deviates (default 0: strict).
    /// Before and after the faults, a failed sample is taken again up to this many times.
    #[schemars(range(min = 0))]
    pub tolerate: Option<Spanned<i64>>,
    /// The share of failed samples allowed over each phase, e.g. `"< 1%"` (default: none).
    pub error_rate: Option<Spanned<ComparisonText>>,
    /// Where the probe key itself is (for "needs exactly one source").
    #[schemars(skip)]
    pub span: Span,
}

/// A host metric read on a target's hosts.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MetricSpec {
    #[schemars(required)]
    pub host: Option<Spanned<HostMetricWord>>,
    /// The filesystem path, for `disk_used_percent`.
    #[schemars(with = "Option<Spanned<String>>")]
    pub path: Field<Spanned<String>>,
    /// The exact process name, for `process_count`.
    #[schemars(with = "Option<Spanned<String>>")]
    pub name: Field<Spanned<String>>,
    /// The target whose hosts are read (default `local`).
    pub target: Option<Spanned<String>>,
}

/// An HTTP request.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HttpSpec {
    #[schemars(required)]
    pub url: Option<Spanned<String>>,
    /// Default `GET`.
    pub method: Option<Spanned<String>>,
    /// Default 2s.
    pub timeout: Option<Spanned<DurationText>>,
    pub headers: Option<Named<Spanned<ScalarText>>>,
}

/// A Prometheus instant query.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PrometheusSpec {
    #[schemars(required)]
    pub url: Option<Spanned<String>>,
    #[schemars(required)]
    pub query: Option<Spanned<String>>,
    /// Default 2s.
    pub timeout: Option<Spanned<DurationText>>,
    /// The environment variable holding a bearer token.
    pub bearer_token_env: Option<Spanned<String>>,
}

/// A TCP connect to `host:port`: its latency is the connect time; a refused or
/// timed-out connect is a failed sample.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TcpSpec {
    /// `host:port`, e.g. `127.0.0.1:5432` or `[::1]:5432` or `db.internal:5432`.
    #[schemars(required)]
    pub address: Option<Spanned<String>>,
    /// Default 2s.
    pub timeout: Option<Spanned<DurationText>>,
}

/// A command, run without a shell.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CommandSpec {
    /// The argv: program, then arguments.
    #[schemars(required)]
    pub run: Option<Spanned<Vec<Spanned<ScalarText>>>>,
    /// Default 10s.
    pub timeout: Option<Spanned<DurationText>>,
}

/// What a probe's observation must show.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The numeric value (metric, Prometheus, a number on a command's stdout).
    pub value: Option<Spanned<ComparisonText>>,
    /// HTTP latency, e.g. `< 300ms`.
    pub latency: Option<Spanned<ComparisonText>>,
    /// HTTP status code.
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<Spanned<i64>>,
    /// Command exit code.
    pub exit: Option<Spanned<i64>>,
    /// A regex the body (HTTP) or stdout (command) must match.
    pub regex: Option<Spanned<String>>,
    pub jsonpath: Option<JsonPathSpec>,
    #[schemars(skip)]
    pub span: Span,
}

/// A JSON path into an HTTP body, and what its value must be.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct JsonPathSpec {
    /// Such as `$.status` or `$.items[0].ready`.
    #[schemars(required)]
    pub path: Option<Spanned<String>>,
    pub equals: Option<Spanned<AnyValue>>,
    pub compare: Option<Spanned<ComparisonText>>,
}

/// A recovery check: after the rollback, each probe is requested once per host of `target`
/// (`{address}` in an `http` url or a `tcp` address is that host's inventory address) and
/// retried every `interval` until it passes; one still failing after `within` is a deviation.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RecoverySpec {
    /// The target whose hosts must recover.
    #[schemars(required)]
    pub target: Option<Spanned<String>>,
    /// How long after the rollback they have, e.g. `30s`.
    #[schemars(required)]
    pub within: Option<Spanned<DurationText>>,
    /// How often a failing probe is retried (default 500ms).
    pub interval: Option<Spanned<DurationText>>,
    #[schemars(required)]
    pub probes: Option<Vec<ProbeSpec>>,
}

/// Guardrails: judged right after each sample.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GuardrailsSpec {
    /// Sampling interval (default 1s).
    pub interval: Option<Spanned<DurationText>>,
    #[schemars(required)]
    pub rules: Option<Vec<GuardrailSpec>>,
}

/// One guardrail: a source, a breach condition, and what to do.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GuardrailSpec {
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    pub metric: Option<MetricSpec>,
    pub http: Option<HttpSpec>,
    pub prometheus: Option<PrometheusSpec>,
    pub tcp: Option<TcpSpec>,
    pub command: Option<CommandSpec>,
    /// The failure rate of a steady-state probe: the percentage of its samples that failed
    /// over the last `window` of the run (`breach: ">= 50%"`).
    pub probe: Option<ProbeRateSpec>,
    /// `true`: no source and no `breach`; tripped only from outside (an Alertmanager
    /// webhook, `faultdrill trip`, the daemon's trip endpoint).
    pub external: Option<Spanned<bool>>,
    /// The condition on the sampled value that counts as a breach, e.g. `>= 90`
    /// (required, except with `external: true`).
    pub breach: Option<Spanned<ComparisonText>>,
    /// Consecutive breaching samples before it trips (default 1).
    #[schemars(range(min = 1))]
    pub r#for: Option<Spanned<i64>>,
    /// `rollback` (default) or `warn`.
    pub action: Option<Spanned<GuardrailActionWord>>,
    /// A sample that cannot be taken (timeout, refused, command failure, no series):
    /// `breach` (default, fail safe) counts it toward `for`; `ignore` skips it.
    pub on_unmeasured: Option<Spanned<OnUnmeasuredWord>>,
    #[schemars(skip)]
    pub span: Span,
}

/// A guardrail source that reads a steady-state probe's recent samples (no request of its own).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProbeRateSpec {
    /// The steady-state probe (checked `during` the run).
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    /// How far back samples count, e.g. `10s` (default 10s).
    pub window: Option<Spanned<DurationText>>,
}

/// Actions on one target.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ActionGroupSpec {
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    /// The target (default `local`).
    pub target: Option<Spanned<String>>,
    /// `sequential` (default) or `parallel`.
    pub mode: Option<Spanned<ModeWord>>,
    /// Groups that must finish first. Absent: the previous group; `[]`: at once.
    pub after: Option<Vec<Spanned<String>>>,
    #[schemars(required)]
    pub actions: Option<Spanned<Vec<ActionSpec>>>,
}

/// One fault.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ActionSpec {
    /// A fault from `faultdrill faults`.
    #[schemars(required)]
    pub fault: Option<Spanned<String>>,
    /// The fault's parameters.
    // `Invalid`: one was already reported as wrong (such as an undeclared `${param}`),
    // so they are not checked further.
    #[schemars(with = "Option<Spanned<Named<Spanned<AnyValue>>>>")]
    pub params: Field<Spanned<Named<Spanned<AnyValue>>>>,
    /// How long the fault is held (held faults only).
    // `Invalid` also when an unknown key was reported: it may be a misspelled `duration`.
    #[schemars(with = "Option<Spanned<DurationText>>")]
    pub duration: Field<Spanned<DurationText>>,
    /// Pause before injecting (default 0s).
    pub wait_before: Option<Spanned<DurationText>>,
    /// Pause after the fault ends (default 0s).
    pub wait_after: Option<Spanned<DurationText>>,
    /// `false` leaves the action out of the run (it is still checked). Templates choose
    /// between actions with it: `enabled: ${isolation == full}`.
    pub enabled: Option<Spanned<bool>>,
    #[schemars(skip)]
    pub span: Span,
}
