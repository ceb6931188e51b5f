//! Guardrails with a `probe` source: the failure rate of a steady-state probe over a
//! recent window, measured from the probe's own samples (no request of its own).

use std::time::Duration;

use super::diag::{Sink, closest};
use super::plan::{ProbeSource, SteadyStatePlan};
use super::spec::{GuardrailSpec, ProbeRateSpec, SteadyStateSpec};
use super::units::parse_duration;

/// The window when `window` is not given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// The source of a `probe:` guardrail, checked against the steady state: the probe must
/// exist and be sampled during the run, and the rule may have no other source.
pub(super) fn source(
    sink: &mut Sink<'_>,
    name: &str,
    g: &GuardrailSpec,
    p: &ProbeRateSpec,
    steady: Option<(&SteadyStateSpec, &SteadyStatePlan)>,
) -> Option<ProbeSource> {
    let others = [
        ("metric", g.metric.is_some()),
        ("http", g.http.is_some()),
        ("prometheus", g.prometheus.is_some()),
        ("tcp", g.tcp.is_some()),
        ("command", g.command.is_some()),
    ];
    if let Some((key, _)) = others.iter().find(|(_, given)| *given) {
        sink.error(g.span, format!("`{name}` takes exactly one source: `probe` or `{key}`, not both"));
        return None;
    }
    let probe = p.name.as_ref()?;
    // Names as written: a probe whose own definition has a problem is still declared.
    let written = steady.and_then(|(spec, _)| spec.probes.as_deref()).unwrap_or_default();
    let names: Vec<&str> = written.iter().filter_map(|p| p.name.as_ref().map(|n| n.value.as_str())).collect();
    if !names.contains(&probe.value.as_str()) {
        let hint = match closest(&probe.value, names.iter().copied()) {
            Some(near) => format!("; did you mean `{near}`?"),
            None if names.is_empty() => "; this experiment has no steady-state probes".into(),
            None => format!("; steady-state probes: {}", names.join(", ")),
        };
        sink.error(
            probe.span,
            format!("guardrail `{name}` reads probe `{}`, which is not declared{hint}", probe.value),
        );
        return None;
    }
    if steady.is_some_and(|(_, plan)| !plan.check_during) {
        sink.error(
            probe.span,
            format!(
                "guardrail `{name}` reads probe `{}`, but the steady state is not checked `during` the run, \
                 so the probe has no samples to read; add `during` to `steady_state.check`",
                probe.value
            ),
        );
        return None;
    }
    let window = match &p.window {
        None => DEFAULT_WINDOW,
        Some(w) => match parse_duration(&w.value.0) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                sink.error(
                    w.span,
                    format!("`window` must be a duration greater than zero, such as `10s`, found `{}`", w.value.0),
                );
                return None;
            }
        },
    };
    Some(ProbeSource::ProbeFailures { probe: probe.value.clone(), window })
}

#[cfg(test)]
mod tests {
    use super::super::load::load_str;
    use super::super::test_catalog::TestCatalog;
    use super::*;

    const TEXT: &str = "version: 1
name: t
steady_state:
  probes:
    - name: front
      http: {url: \"http://127.0.0.1:9/\"}
      expect: {status: 200}
guardrails:
  rules:
    - name: errors
      probe: {name: front, window: 5s}
      breach: \">= 50%\"
action_groups:
  - name: g
    actions: [{fault: process-kill, params: {name: x}}]
";

    fn errors(text: &str) -> Vec<String> {
        let err = load_str("t.yaml", text, &[], &TestCatalog).unwrap_err();
        err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect()
    }

    #[test]
    fn a_probe_guardrail_reads_a_declared_probe_over_its_window() {
        let plan = load_str("t.yaml", TEXT, &[], &TestCatalog).unwrap_or_else(|d| panic!("{d}"));
        let rule = &plan.guardrails.rules[0];
        assert!(
            matches!(&rule.source, ProbeSource::ProbeFailures { probe, window } if probe == "front" && *window == Duration::from_secs(5)),
            "{:?}",
            rule.source
        );
        assert!(rule.breach.holds(50.0) && !rule.breach.holds(49.9));
    }

    #[test]
    fn a_probe_guardrail_is_checked_against_the_steady_state() {
        assert_eq!(
            errors(&TEXT.replace("{name: front,", "{name: fronts,")),
            ["11:21 guardrail `errors` reads probe `fronts`, which is not declared; did you mean `front`?"]
        );
        assert_eq!(
            errors(&TEXT.replace("  probes:", "  check: [before, after]\n  probes:")),
            ["12:21 guardrail `errors` reads probe `front`, but the steady state is not checked `during` the run, \
              so the probe has no samples to read; add `during` to `steady_state.check`"]
        );
        assert_eq!(
            errors(&TEXT.replace("window: 5s", "window: 0s")),
            ["11:36 `window` must be a duration greater than zero, such as `10s`, found `0s`"]
        );
        assert_eq!(
            errors(&TEXT.replace("      breach:", "      tcp: {address: \"127.0.0.1:9\"}\n      breach:")),
            ["10:7 `errors` takes exactly one source: `probe` or `tcp`, not both"]
        );
        assert_eq!(errors(&TEXT.replace("\">= 50%\"", "\">= 5s\"")).len(), 1, "a time is no failure rate");
    }
}
