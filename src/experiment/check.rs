//! Spec types into the checked plan: ranges, durations, references, cycles, faults.
//!
//! Every problem goes to the sink; the plan built alongside uses safe
//! placeholders where a value was wrong, and is thrown away if anything was
//! reported, so nothing downstream ever sees an unchecked value.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::catalog::FaultCatalog;
use super::check_groups::groups;
use super::check_guardrails::guardrails;
use super::check_sources::source;
use super::diag::{Sink, closest};
use super::expect::{expectations, value_unit};
use super::plan::*;
use super::spec::*;

pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_LEASE: Duration = Duration::from_secs(15);
pub(super) const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(2);
pub(super) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The implicit target: this host, no daemon.
pub const LOCAL: &str = "local";

/// Checks a decoded experiment into a plan; problems go to `sink`.
pub fn plan(
    sink: &mut Sink<'_>,
    spec: &ExperimentSpec,
    catalog: &dyn FaultCatalog,
    source: Option<PathBuf>,
) -> ExperimentPlan {
    if let Some(v) = &spec.version {
        if v.value != 1 {
            sink.error(v.span, format!("unsupported format version {}; this faultdrill reads `version: 1`", v.value));
        }
    }
    let name = spec.name.as_ref().map_or_else(String::new, |n| non_empty(sink, n, "name"));
    let targets = targets(sink, spec.targets.as_ref());
    let target_names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let steady_state = spec.steady_state.as_ref().map(|s| steady_state(sink, s, &target_names));
    let recovery = spec.recovery.as_ref().and_then(|r| recovery(sink, r, &target_names));
    let steady = spec.steady_state.as_ref().zip(steady_state.as_ref());
    let guardrails = guardrails(sink, spec.guardrails.as_ref(), &target_names, steady);
    let group_specs = spec.action_groups.as_ref().map(|g| g.value.as_slice()).unwrap_or_default();
    if let Some(g) = spec.action_groups.as_ref().filter(|g| g.value.is_empty()) {
        sink.error(g.span, "`action_groups` is empty; an experiment needs at least one group");
    }
    let groups = groups(sink, group_specs, &target_names, catalog);
    ExperimentPlan {
        name,
        description: spec.description.as_ref().map(|d| d.value.clone()),
        labels: spec.labels.as_ref().map(strings).unwrap_or_default(),
        source,
        targets,
        steady_state,
        guardrails,
        groups,
        rollback: match spec.rollback.as_ref().map(|r| r.value) {
            Some(RollbackWord::Never) => RollbackPolicy::Never,
            _ => RollbackPolicy::Always,
        },
        lease: positive(sink, spec.lease.as_ref()).unwrap_or(DEFAULT_LEASE),
        expect_outcome: spec.expect_outcome.as_ref().map(|e| match e.value {
            ExpectOutcomeWord::GuardrailTripped => ExpectedOutcome::GuardrailTripped,
        }),
        // Filled by the loader from the template's parameters.
        host_constraints: Vec::new(),
        recovery,
    }
}

pub(super) fn strings(named: &Named<Spanned<ScalarText>>) -> BTreeMap<String, String> {
    named.0.iter().map(|(k, v)| (k.value.clone(), v.value.0.clone())).collect()
}

pub(super) fn non_empty(sink: &mut Sink<'_>, s: &Spanned<String>, what: &str) -> String {
    if s.value.trim().is_empty() {
        sink.error(s.span, format!("`{what}` must not be empty"));
    }
    s.value.clone()
}

/// A duration that must be greater than zero.
pub(super) fn positive(sink: &mut Sink<'_>, d: Option<&Spanned<DurationText>>) -> Option<Duration> {
    let d = d?;
    let parsed = parse_duration(sink, d)?;
    if parsed.is_zero() {
        sink.error(d.span, format!("duration `{}` must be greater than zero", d.value.0));
        return None;
    }
    Some(parsed)
}

/// The shortest sampling interval: faster sampling measures the probe more than the
/// system, and fills the timeline (and a daemon's memory) for nothing.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// A probe or guardrail sampling interval: at least [`MIN_INTERVAL`].
pub(super) fn sampling_interval(sink: &mut Sink<'_>, d: Option<&Spanned<DurationText>>) -> Option<Duration> {
    let parsed = positive(sink, d)?;
    if parsed < MIN_INTERVAL {
        let d = d?;
        sink.error(
            d.span,
            format!("interval `{}` is shorter than the minimum of 100ms; sample at 100ms or slower", d.value.0),
        );
        return None;
    }
    Some(parsed)
}

/// A duration that may be zero (waits).
pub(super) fn parse_duration(sink: &mut Sink<'_>, d: &Spanned<DurationText>) -> Option<Duration> {
    let text = d.value.0.trim();
    if text.starts_with('-') {
        sink.error(d.span, format!("duration `{text}` is negative; durations are positive, such as `30s`"));
        return None;
    }
    match super::units::parse_duration(text) {
        Ok(parsed) => match super::limits::check_duration_limit(parsed) {
            Ok(()) => Some(parsed),
            Err(m) => {
                sink.error(d.span, format!("duration `{text}`: {m}"));
                None
            }
        },
        Err(e) => {
            sink.error(d.span, e);
            None
        }
    }
}

fn targets(sink: &mut Sink<'_>, spec: Option<&Named<TargetSpec>>) -> Vec<TargetPlan> {
    let mut out: Vec<TargetPlan> = Vec::new();
    for (name, t) in spec.map(|n| n.0.as_slice()).unwrap_or_default() {
        let selector = match (&t.hosts, &t.select) {
            (Some(hosts), None) => {
                if hosts.value.is_empty() {
                    sink.error(hosts.span, format!("target `{}` has an empty `hosts` list", name.value));
                }
                TargetSelector::Hosts(hosts.value.iter().map(|h| h.value.clone()).collect())
            }
            (None, Some(select)) => {
                TargetSelector::Labels(select.labels.as_ref().map(|l| strings(&l.value)).unwrap_or_default())
            }
            (Some(hosts), Some(_)) => {
                sink.error(hosts.span, format!("target `{}` takes `hosts` or `select`, not both", name.value));
                TargetSelector::Hosts(Vec::new())
            }
            (None, None) if sink.has_error_within(t.span) => TargetSelector::Hosts(Vec::new()),
            (None, None) => {
                sink.error(name.span, format!("target `{}` needs `hosts` or `select`", name.value));
                TargetSelector::Hosts(Vec::new())
            }
        };
        out.push(TargetPlan {
            name: name.value.clone(),
            selector,
            pick: t.pick.as_ref().map_or(Pick::All, |p| pick(sink, p)),
            max: t.max.as_ref().and_then(|m| at_least_one(sink, m, "max")),
            on_empty: match t.on_empty.as_ref().map(|o| o.value) {
                Some(OnEmptyWord::Skip) => OnEmpty::Skip,
                _ => OnEmpty::Fail,
            },
            seed: t.seed.as_ref().and_then(|s| match u64::try_from(s.value) {
                Ok(seed) => Some(seed),
                Err(_) => {
                    sink.error(s.span, format!("`seed` must not be negative, found {}", s.value));
                    None
                }
            }),
        });
    }
    if !out.iter().any(|t| t.name == LOCAL) {
        out.push(TargetPlan {
            name: LOCAL.into(),
            selector: TargetSelector::Hosts(vec![LOCAL.into()]),
            pick: Pick::All,
            max: None,
            on_empty: OnEmpty::Fail,
            seed: None,
        });
    }
    out
}

pub(super) fn at_least_one(sink: &mut Sink<'_>, n: &Spanned<i64>, what: &str) -> Option<u32> {
    match u32::try_from(n.value) {
        Ok(v) if v >= 1 => Some(v),
        _ => {
            sink.error(n.span, format!("`{what}` must be between 1 and {}, found {}", u32::MAX, n.value));
            None
        }
    }
}

fn pick(sink: &mut Sink<'_>, p: &Spanned<PickSpec>) -> Pick {
    match &p.value {
        PickSpec::All => Pick::All,
        PickSpec::Count(n) => at_least_one(sink, n, "count").map_or(Pick::All, Pick::Count),
        PickSpec::Percent(v) => {
            if v.value <= 0.0 || v.value > 100.0 {
                sink.error(
                    v.span,
                    format!("pick percent {} is out of range: use more than 0 and at most 100", v.value),
                );
            }
            Pick::Percent(v.value)
        }
    }
}

/// Reports a reference to an undefined target.
pub(super) fn check_target(sink: &mut Sink<'_>, target: &Spanned<String>, known: &[&str]) {
    if !known.contains(&target.value.as_str()) {
        let hint = closest(&target.value, known.iter().copied())
            .map_or_else(|| format!("; defined targets: {}", known.join(", ")), |n| format!("; did you mean `{n}`?"));
        sink.error(target.span, format!("undefined target `{}`{hint}", target.value));
    }
}

fn steady_state(sink: &mut Sink<'_>, spec: &SteadyStateSpec, targets: &[&str]) -> SteadyStatePlan {
    let check = spec.check.as_ref().map(|c| c.value.clone()).unwrap_or_default();
    if let Some(c) = spec.check.as_ref().filter(|c| c.value.is_empty()) {
        sink.error(c.span, "`check` is empty; name at least one of before, during, after");
    }
    let has = |w: CheckWord| spec.check.is_none() || check.iter().any(|c| c.value == w);
    let mut seen: Vec<&str> = Vec::new();
    let mut probes = Vec::new();
    for p in spec.probes.as_deref().unwrap_or_default() {
        let name = p.name.as_ref().map_or_else(String::new, |n| unique(sink, n, &mut seen, "probe"));
        let Some((source, kind)) =
            source(sink, &name, (&p.metric, &p.http, &p.prometheus, &p.tcp, &p.command), p, targets)
        else {
            continue;
        };
        let unit = value_unit(&source);
        let (budget, expect) = super::budget::probe_budget(sink, p, kind);
        let expect = expect.as_ref().map(|e| expectations(sink, e, kind, &unit)).unwrap_or_default();
        let interval = sampling_interval(sink, p.interval.as_ref());
        probes.push(ProbePlan { name, source, expect, interval, budget });
    }
    SteadyStatePlan {
        interval: sampling_interval(sink, spec.interval.as_ref()).unwrap_or(DEFAULT_INTERVAL),
        check_before: has(CheckWord::Before),
        check_during: has(CheckWord::During),
        check_after: has(CheckWord::After),
        probes,
    }
}

/// The recovery check: its target must exist; its probes are checked like steady-state ones.
fn recovery(sink: &mut Sink<'_>, spec: &RecoverySpec, targets: &[&str]) -> Option<RecoveryPlan> {
    let target = spec.target.as_ref()?;
    check_target(sink, target, targets);
    let within = positive(sink, spec.within.as_ref())?;
    let interval = positive(sink, spec.interval.as_ref()).unwrap_or(Duration::from_millis(500));
    let probes = SteadyStateSpec { interval: None, check: None, probes: spec.probes.clone() };
    let probes = steady_state(sink, &probes, targets).probes;
    Some(RecoveryPlan { target: target.value.clone(), within, interval, probes })
}

/// Reports a name already used in this list; returns the name.
pub(super) fn unique<'a>(
    sink: &mut Sink<'_>,
    name: &'a Spanned<String>,
    seen: &mut Vec<&'a str>,
    what: &str,
) -> String {
    if seen.contains(&name.value.as_str()) {
        sink.error(name.span, format!("duplicate {what} name `{}`", name.value));
    } else if name.value.trim().is_empty() {
        sink.error(name.span, format!("{what} name must not be empty"));
    }
    seen.push(&name.value);
    name.value.clone()
}
