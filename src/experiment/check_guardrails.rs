//! The `guardrails` section checked into its plan: each rule's source, breach threshold
//! (in the source's unit), `for` count and action, and the external (webhook) rules.

use super::check::{DEFAULT_INTERVAL, at_least_one, sampling_interval, unique};
use super::check_sources::source;
use super::diag::Sink;
use super::expect::{SourceKind, Unit, ValueUnit, check_unit, latency_name, threshold, value_unit};
use super::plan::*;
use super::spec::*;

pub(super) fn guardrails(
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
