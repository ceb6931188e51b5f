//! Spec types into the checked plan: ranges, durations, references, cycles, faults.
//!
//! Every problem goes to the sink; the plan built alongside uses safe
//! placeholders where a value was wrong, and is thrown away if anything was
//! reported, so nothing downstream ever sees an unchecked value.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::catalog::FaultCatalog;
use super::diag::{Sink, closest};
use super::expect::{SourceKind, Unit, ValueUnit, check_unit, expectations, latency_name, threshold, value_unit};
use super::plan::*;
use super::spec::*;
use super::yaml::Span;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_LEASE: Duration = Duration::from_secs(15);
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

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

fn strings(named: &Named<Spanned<ScalarText>>) -> BTreeMap<String, String> {
    named.0.iter().map(|(k, v)| (k.value.clone(), v.value.0.clone())).collect()
}

fn non_empty(sink: &mut Sink<'_>, s: &Spanned<String>, what: &str) -> String {
    if s.value.trim().is_empty() {
        sink.error(s.span, format!("`{what}` must not be empty"));
    }
    s.value.clone()
}

/// A duration that must be greater than zero.
fn positive(sink: &mut Sink<'_>, d: Option<&Spanned<DurationText>>) -> Option<Duration> {
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
fn sampling_interval(sink: &mut Sink<'_>, d: Option<&Spanned<DurationText>>) -> Option<Duration> {
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
fn parse_duration(sink: &mut Sink<'_>, d: &Spanned<DurationText>) -> Option<Duration> {
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

fn at_least_one(sink: &mut Sink<'_>, n: &Spanned<i64>, what: &str) -> Option<u32> {
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
fn check_target(sink: &mut Sink<'_>, target: &Spanned<String>, known: &[&str]) {
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
fn unique<'a>(sink: &mut Sink<'_>, name: &'a Spanned<String>, seen: &mut Vec<&'a str>, what: &str) -> String {
    if seen.contains(&name.value.as_str()) {
        sink.error(name.span, format!("duplicate {what} name `{}`", name.value));
    } else if name.value.trim().is_empty() {
        sink.error(name.span, format!("{what} name must not be empty"));
    }
    seen.push(&name.value);
    name.value.clone()
}

/// The sources a probe or guardrail may name; exactly one must be present.
type Sources<'a> = (
    &'a Option<MetricSpec>,
    &'a Option<HttpSpec>,
    &'a Option<PrometheusSpec>,
    &'a Option<TcpSpec>,
    &'a Option<CommandSpec>,
);

trait HasSpan {
    fn span(&self) -> Span;
}
impl HasSpan for ProbeSpec {
    fn span(&self) -> Span {
        self.span
    }
}
impl HasSpan for GuardrailSpec {
    fn span(&self) -> Span {
        self.span
    }
}

fn source(
    sink: &mut Sink<'_>,
    name: &str,
    (metric, http, prometheus, tcp, command): Sources<'_>,
    at: &dyn HasSpan,
    targets: &[&str],
) -> Option<(ProbeSource, SourceKind)> {
    let count = [metric.is_some(), http.is_some(), prometheus.is_some(), tcp.is_some(), command.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if count == 0 && sink.has_error_within(at.span()) {
        return None;
    }
    if count != 1 {
        let what = if count == 0 { "needs" } else { "takes exactly" };
        let mut span = at.span();
        span.end = span.start;
        sink.error(span, format!("`{name}` {what} one source: metric, http, prometheus, tcp or command"));
        return None;
    }
    if let Some(m) = metric {
        return metric_source(sink, m, targets).map(|s| (s, SourceKind::Metric));
    }
    if let Some(h) = http {
        let url = url(sink, h.url.as_ref())?;
        let method = h.method.as_ref().map_or_else(|| "GET".to_string(), |m| http_method(sink, m));
        let timeout = positive(sink, h.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let headers = h.headers.as_ref().map(strings).unwrap_or_default();
        return Some((ProbeSource::Http { url, method, timeout, headers }, SourceKind::Http));
    }
    if let Some(p) = prometheus {
        let url = url(sink, p.url.as_ref())?;
        let query = p.query.as_ref().map(|q| non_empty(sink, q, "query"))?;
        let timeout = positive(sink, p.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        let bearer_token_env = p.bearer_token_env.as_ref().map(|b| b.value.clone());
        return Some((ProbeSource::Prometheus { url, query, timeout, bearer_token_env }, SourceKind::Prometheus));
    }
    if let Some(t) = tcp {
        let address = t.address.as_ref().and_then(|a| tcp_address(sink, a))?;
        let timeout = positive(sink, t.timeout.as_ref()).unwrap_or(DEFAULT_HTTP_TIMEOUT);
        return Some((ProbeSource::Tcp { address, timeout }, SourceKind::Tcp));
    }
    let c = command.as_ref()?;
    let run = c.run.as_ref()?;
    if run.value.is_empty() {
        sink.error(run.span, "`run` is empty; give the program and its arguments, as in `[curl, -sf, URL]`");
    }
    let argv = run.value.iter().map(|a| a.value.0.clone()).collect();
    let timeout = positive(sink, c.timeout.as_ref()).unwrap_or(DEFAULT_COMMAND_TIMEOUT);
    Some((ProbeSource::Command { argv, timeout }, SourceKind::Command))
}

/// A `host:port` address: a host (a name, an IPv4 address or a bracketed IPv6 one) and a port 1..65535.
fn tcp_address(sink: &mut Sink<'_>, address: &Spanned<String>) -> Option<String> {
    let text = address.value.trim();
    let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => !host.is_empty() && !host.contains(':') && !host.contains(char::is_whitespace),
        };
        host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if valid {
        Some(text.to_string())
    } else {
        sink.error(
            address.span,
            format!(
                "`{text}` is not a `host:port` address, such as `127.0.0.1:5432`, `[::1]:5432` or `db.internal:5432`"
            ),
        );
        None
    }
}

fn metric_source(sink: &mut Sink<'_>, m: &MetricSpec, targets: &[&str]) -> Option<ProbeSource> {
    let host = m.host.as_ref()?;
    let metric = match host.value {
        HostMetricWord::CpuPercent => HostMetric::CpuPercent,
        HostMetricWord::MemoryPercent => HostMetric::MemoryPercent,
        HostMetricWord::DiskUsedPercent => HostMetric::DiskUsedPercent,
        HostMetricWord::Load1 => HostMetric::Load1,
        HostMetricWord::Load1PerCore => HostMetric::Load1PerCore,
        HostMetricWord::ProcessCount => HostMetric::ProcessCount,
    };
    match (m.path.present(), metric) {
        (None, HostMetric::DiskUsedPercent) if m.path == Field::Absent => {
            sink.error(host.span, "`disk_used_percent` needs a `path`")
        }
        (Some(p), HostMetric::DiskUsedPercent) if !p.value.starts_with('/') => {
            sink.error(p.span, format!("`path` must be absolute, found `{}`", p.value))
        }
        (Some(p), m) if m != HostMetric::DiskUsedPercent => {
            sink.error(p.span, format!("`path` applies to `disk_used_percent` only, not `{}`", m.name()))
        }
        _ => {}
    }
    match (m.name.present(), metric) {
        (None, HostMetric::ProcessCount) if m.name == Field::Absent => {
            sink.error(host.span, "`process_count` needs a `name` (the exact process name)")
        }
        (Some(n), m) if m != HostMetric::ProcessCount => {
            sink.error(n.span, format!("`name` applies to `process_count` only, not `{}`", m.name()))
        }
        _ => {}
    }
    if let Some(t) = &m.target {
        check_target(sink, t, targets);
    }
    Some(ProbeSource::Metric {
        metric,
        path: m.path.present().map(|p| PathBuf::from(&p.value)),
        process: m.name.present().map(|n| n.value.clone()),
        target: m.target.as_ref().map(|t| t.value.clone()),
    })
}

fn url(sink: &mut Sink<'_>, url: Option<&Spanned<String>>) -> Option<String> {
    let url = url?;
    if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
        sink.error(url.span, format!("expected an http:// or https:// URL, found `{}`", url.value));
    }
    Some(url.value.clone())
}

fn http_method(sink: &mut Sink<'_>, m: &Spanned<String>) -> String {
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let upper = m.value.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        sink.error(m.span, format!("unknown HTTP method `{}`; expected one of: {}", m.value, METHODS.join(", ")));
    }
    upper
}

fn guardrails(
    sink: &mut Sink<'_>,
    spec: Option<&GuardrailsSpec>,
    targets: &[&str],
    steady: Option<(&SteadyStateSpec, &SteadyStatePlan)>,
) -> GuardrailsPlan {
    let Some(spec) = spec else {
        return GuardrailsPlan { interval: DEFAULT_INTERVAL, rules: Vec::new(), external: Vec::new() };
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    let mut external = Vec::new();
    for g in spec.rules.as_deref().unwrap_or_default() {
        let name = g.name.as_ref().map_or_else(String::new, |n| unique(sink, n, &mut seen, "guardrail"));
        if let Some(e) = g.external.as_ref().filter(|e| e.value) {
            external.extend(super::external::external_rule(sink, g, name, e.span));
            continue;
        }
        let source = match &g.probe {
            // A probe's failure rate is a plain value, in percent.
            Some(p) => super::probe_rate::source(sink, &name, g, p, steady).map(|s| (s, SourceKind::Metric)),
            None => source(sink, &name, (&g.metric, &g.http, &g.prometheus, &g.tcp, &g.command), g, targets),
        };
        let breach = g.breach.as_ref().and_then(|b| threshold(sink, &b.value.0, b.span));
        let for_samples = g.r#for.as_ref().map_or(Some(1), |f| at_least_one(sink, f, "for"));
        let action = match g.action.as_ref().map(|a| a.value) {
            Some(GuardrailActionWord::Warn) => GuardrailAction::Warn,
            _ => GuardrailAction::Rollback,
        };
        let on_unmeasured = match g.on_unmeasured.as_ref().map(|o| o.value) {
            Some(OnUnmeasuredWord::Ignore) => OnUnmeasured::Ignore,
            _ => OnUnmeasured::Breach,
        };
        if let (Some((source, kind)), Some((breach, unit)), Some(for_samples)) = (source, breach, for_samples) {
            let measure = match (kind, unit) {
                (SourceKind::Http, Unit::Time) => Measure::LatencyMs,
                (SourceKind::Http, _) => Measure::Status,
                (SourceKind::Tcp, _) => Measure::LatencyMs,
                _ => Measure::Value,
            };
            let b = g.breach.as_ref().expect("parsed above");
            let source_unit = match measure {
                Measure::LatencyMs => ValueUnit::new(Unit::Time, latency_name(kind)),
                Measure::Status => ValueUnit::new(Unit::None, "an HTTP guardrail's status code"),
                Measure::Value => value_unit(&source),
            };
            if !check_unit(sink, b.span, &b.value.0, unit, &source_unit) {
                continue;
            }
            rules.push(GuardrailPlan { name, source, breach, for_samples, action, on_unmeasured, measure });
        }
    }
    let interval = sampling_interval(sink, spec.interval.as_ref()).unwrap_or(DEFAULT_INTERVAL);
    GuardrailsPlan { interval, rules, external }
}

fn groups(
    sink: &mut Sink<'_>,
    specs: &[ActionGroupSpec],
    targets: &[&str],
    catalog: &dyn FaultCatalog,
) -> Vec<GroupPlan> {
    let mut seen: Vec<&str> = Vec::new();
    let names: Vec<&str> = specs.iter().map(|g| g.name.as_ref().map_or("", |n| n.value.as_str())).collect();
    let mut out = Vec::new();
    for (i, g) in specs.iter().enumerate() {
        let name = g.name.as_ref().map_or_else(String::new, |n| unique(sink, n, &mut seen, "group"));
        if let Some(t) = &g.target {
            check_target(sink, t, targets);
        }
        let after = match &g.after {
            None => (i > 0).then(|| i - 1).into_iter().collect(),
            Some(after) => after.iter().filter_map(|a| group_ref(sink, a, &name, &names)).collect(),
        };
        let actions = match &g.actions {
            Some(actions) if actions.value.is_empty() => {
                sink.error(actions.span, format!("group `{name}` has no actions"));
                Vec::new()
            }
            Some(actions) => actions
                .value
                .iter()
                .enumerate()
                .filter_map(|(n, a)| {
                    // A disabled action is checked all the same (its fault, its keys, its
                    // duration), then left out; only its parameters' values are not: a template
                    // leaves the values of a step that is off empty.
                    let enabled = a.enabled.as_ref().is_none_or(|e| e.value);
                    let plan = action(sink, a, &name, n + 1, catalog, enabled)?;
                    enabled.then_some(plan)
                })
                .collect(),
            None => Vec::new(),
        };
        out.push(GroupPlan {
            name,
            target: g.target.as_ref().map_or_else(|| LOCAL.to_string(), |t| t.value.clone()),
            mode: match g.mode.as_ref().map(|m| m.value) {
                Some(ModeWord::Parallel) => GroupMode::Parallel,
                _ => GroupMode::Sequential,
            },
            after,
            actions,
        });
    }
    super::cycles::report(sink, specs, &out);
    out
}

fn group_ref(sink: &mut Sink<'_>, a: &Spanned<String>, me: &str, names: &[&str]) -> Option<usize> {
    if a.value == me {
        sink.error(a.span, format!("group `{me}` cannot run after itself"));
        return None;
    }
    let found = names.iter().position(|n| *n == a.value);
    if found.is_none() {
        let hint = closest(&a.value, names.iter().copied())
            .map_or_else(|| format!("; groups: {}", names.join(", ")), |n| format!("; did you mean `{n}`?"));
        sink.error(a.span, format!("undefined group `{}` in `after`{hint}", a.value));
    }
    found
}

fn action(
    sink: &mut Sink<'_>,
    a: &ActionSpec,
    group: &str,
    n: usize,
    catalog: &dyn FaultCatalog,
    enabled: bool,
) -> Option<ActionPlan> {
    let fault = a.fault.as_ref()?;
    let wait_before = a.wait_before.as_ref().and_then(|w| parse_duration(sink, w)).unwrap_or_default();
    let wait_after = a.wait_after.as_ref().and_then(|w| parse_duration(sink, w)).unwrap_or_default();
    let duration = positive(sink, a.duration.present());
    let Some(specs) = catalog.params_of(&fault.value) else {
        let names = catalog.names();
        let message = match closest(&fault.value, names.iter().copied()) {
            Some(near) => format!("unknown fault `{}`; did you mean `{near}`?", fault.value),
            None => format!("unknown fault `{}`", fault.value),
        };
        let help = if names.is_empty() {
            "this build knows no faults".to_string()
        } else {
            format!("known faults: {}", names.join(", "))
        };
        sink.error_help(fault.span, message, help);
        return None;
    };
    let held = catalog.is_held(&fault.value);
    match (&a.duration, held) {
        (Field::Invalid, _) => {}
        (Field::Absent, true) => sink.error(
            fault.span,
            format!("fault `{}` needs a `duration` (how long to hold it, such as `30s`)", fault.value),
        ),
        (Field::Present(d), false) => {
            sink.error(d.span, format!("fault `{}` is instantaneous; remove `duration`", fault.value))
        }
        _ => {}
    }
    let params = match &a.params {
        Field::Invalid => return None,
        given if enabled => super::fault_params::check(sink, catalog, fault, given.present(), specs)?,
        given => return super::fault_params::check_keys(sink, fault, given.present(), specs),
    };
    Some(ActionPlan {
        label: format!("{group}/{}#{n}", fault.value),
        fault: fault.value.clone(),
        params,
        duration: if held { duration } else { None },
        wait_before,
        wait_after,
    })
}
