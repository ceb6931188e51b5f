//! JUnit XML for CI: one testcase for the run's outcome, then one per steady-state check
//! (probe × phase), per action, per guardrail and per rollback. A deviation or a trip is a
//! failure with its message (a trip is a success when the drill expected it); a steady state
//! that did not hold before anything was injected is an error: a broken drill, not a finding.

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::model::{Event, Outcome, ProbePhase, Report};

/// Renders the report as a JUnit XML document.
pub fn to_junit(report: &Report) -> String {
    let mut junit = quick_junit::Report::new(format!("faultdrill: {}", report.experiment));
    let mut properties = vec![
        Property::new("run_id", report.run_id.as_str()),
        Property::new("outcome", report.outcome.map_or("unfinished", |o| o.as_str())),
        Property::new("exit_code", report.exit_code.map_or("-".to_string(), |c| c.to_string())),
    ];
    if let Some(e) = report.expectation {
        properties.push(Property::new("expected_outcome", e.expected.as_str()));
    }
    for mut suite in [
        outcome_suite(report),
        steady_state_suite(report),
        actions_suite(report),
        guardrails_suite(report),
        rollback_suite(report),
    ] {
        suite.add_properties(properties.clone());
        junit.add_test_suite(suite);
    }
    junit.to_string().unwrap_or_else(|e| format!("<!-- failed to render JUnit: {e} -->"))
}

fn failure(kind: NonSuccessKind, ty: &str, message: String, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(ty).set_message(message).set_description(description);
    status
}

/// One testcase: how the run ended, and why (its exit code decides success).
fn outcome_suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new("outcome");
    let outcome = report.outcome.map_or("unfinished", |o| o.as_str());
    let reason = report.reason.clone().unwrap_or_default();
    let status = match (report.outcome, report.exit_code) {
        (Some(_), Some(0)) => TestCaseStatus::success(),
        (Some(Outcome::NotSteadyBefore), _) => failure(
            NonSuccessKind::Error,
            "not-steady-before",
            reason,
            "not steady before: nothing injected. The steady state did not hold before any fault was \
             injected (a wrong URL, a service already down): a broken drill, not a finding"
                .into(),
        ),
        (_, _) if report.expectation.is_some_and(|e| !e.met) => failure(
            NonSuccessKind::Failure,
            "expected-outcome-missed",
            reason,
            format!(
                "the drill expected `{}` and ended `{outcome}`",
                report.expectation.map_or("", |e| e.expected.as_str())
            ),
        ),
        (Some(Outcome::Deviated | Outcome::GuardrailTripped), _) => {
            failure(NonSuccessKind::Failure, outcome, reason, format!("the run ended `{outcome}`"))
        }
        (_, _) => failure(NonSuccessKind::Error, outcome, reason, format!("the run ended `{outcome}`")),
    };
    let mut case = TestCase::new(format!("outcome: {outcome}"), status);
    case.set_classname("run");
    suite.add_test_case(case);
    suite
}

fn phase_name(phase: ProbePhase) -> &'static str {
    match phase {
        ProbePhase::Before => "before",
        ProbePhase::During => "during",
        ProbePhase::After => "after",
    }
}

fn steady_state_suite(report: &Report) -> TestSuite {
    // (phase, probe) → (samples, failing samples, first failure)
    let mut checks: BTreeMap<(u8, String), (usize, usize, Option<String>)> = BTreeMap::new();
    for entry in &report.timeline {
        if let Event::ProbeSample { phase, probe, ok, failures, .. } = &entry.event {
            let slot = checks.entry((*phase as u8, probe.clone())).or_default();
            slot.0 += 1;
            if !ok {
                slot.1 += 1;
                slot.2.get_or_insert_with(|| failures.join("; "));
            }
        }
    }
    // A probe with an error budget may fail samples and still hold: its verdict is the
    // `probe_deviated` event. A strict probe deviates on its first failed sample.
    let has_budget = |name: &str| {
        let probes = report.plan.steady_state.iter().flat_map(|s| &s.probes);
        probes.filter(|p| p.name == name).any(|p| !p.budget.is_strict() || !p.budget.latency.is_empty())
    };
    let verdict = |phase: ProbePhase, name: &str| {
        report.timeline.iter().find_map(|e| match &e.event {
            Event::ProbeDeviated { phase: p, probe, message } if *p == phase && probe == name => Some(message.clone()),
            _ => None,
        })
    };
    let mut suite = TestSuite::new("steady-state");
    for ((phase, probe), (samples, failed, first)) in checks {
        let phase = [ProbePhase::Before, ProbePhase::During, ProbePhase::After][phase as usize];
        let name = format!("{}: {probe}", phase_name(phase));
        let judged = has_budget(&probe);
        let deviated = if judged { verdict(phase, &probe) } else { None };
        let status = match (first, deviated) {
            (_, Some(message)) if judged => failure(
                NonSuccessKind::Failure,
                "deviation",
                format!("{message} ({failed} of {samples} samples failed)"),
                format!("steady-state probe `{probe}` deviated {} the faults", phase_name(phase)),
            ),
            (_, None) if judged => TestCaseStatus::success(),
            (None, _) => TestCaseStatus::success(),
            (Some(first), _) => failure(
                NonSuccessKind::Failure,
                "deviation",
                format!("{failed} of {samples} samples failed: {first}"),
                format!("steady-state probe `{probe}` deviated {} the faults", phase_name(phase)),
            ),
        };
        let mut case = TestCase::new(name, status);
        case.set_classname("steady_state").set_assertions(samples);
        suite.add_test_case(case);
    }
    suite
}

fn actions_suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new("actions");
    for entry in &report.timeline {
        let mut case = match &entry.event {
            Event::ActionStarted { action, host, injection, irreversible, .. } => {
                let status = match lost(report, injection) {
                    None => TestCaseStatus::success(),
                    Some((ended_ms, planned_end_ms, why)) => failure(
                        NonSuccessKind::Failure,
                        "fault-not-held",
                        format!(
                            "{} on {host} ended {:.1}s before its hold did, at {}: {why}",
                            action.fault,
                            (planned_end_ms - ended_ms) as f64 / 1000.0,
                            super::model::format_ms(ended_ms)
                        ),
                        format!(
                            "the fault was not held as planned on {host}: the hypothesis was not tested as written"
                        ),
                    ),
                };
                let mut case = TestCase::new(format!("{} on {host}", action.label), status);
                case.add_property(Property::new("injection", injection.as_str()));
                if *irreversible {
                    case.add_property(Property::new("irreversible", "true"));
                    case.set_system_out(format!("{}: irreversible, cannot be undone (no rollback)", action.label));
                }
                case
            }
            Event::ActionFailed { action, host, error } => {
                let why = format!("{} could not be injected on {host}", action.fault);
                let status = failure(NonSuccessKind::Error, "inject-error", error.clone(), why);
                TestCase::new(format!("{} on {host}", action.label), status)
            }
            _ => continue,
        };
        case.set_classname("action");
        suite.add_test_case(case);
    }
    suite
}

/// When and why injection `id` ended before its hold did, if it did.
fn lost(report: &Report, id: &crate::ids::InjectionId) -> Option<(i64, i64, String)> {
    report.timeline.iter().find_map(|e| match &e.event {
        Event::FaultEnded { injection, ended_ms, planned_end_ms, why, .. } if injection == id => {
            Some((*ended_ms, *planned_end_ms, why.clone()))
        }
        _ => None,
    })
}

fn guardrails_suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new("guardrails");
    for rule in &report.plan.guardrails.rules {
        let trip = report.timeline.iter().find_map(|e| match &e.event {
            Event::GuardrailTripped { guardrail, message, action, .. } if *guardrail == rule.name => {
                Some((message.clone(), action.clone()))
            }
            _ => None,
        });
        let expected_trip = report.expectation.is_some_and(|e| e.met && e.expected == Outcome::GuardrailTripped);
        let status = match trip {
            None => TestCaseStatus::success(),
            // The drill was meant to trip it (`expect_outcome: guardrail_tripped`).
            Some(_) if expected_trip => TestCaseStatus::success(),
            Some((message, action)) => failure(
                NonSuccessKind::Failure,
                "guardrail-tripped",
                message,
                format!("guardrail `{}` (breach {}) tripped; action: {action}", rule.name, rule.breach),
            ),
        };
        let mut case = TestCase::new(format!("guardrail: {}", rule.name), status);
        case.set_classname("guardrail");
        // Whether samples that could not be taken counted toward the breach.
        case.add_property(Property::new("on_unmeasured", rule.on_unmeasured.as_str()));
        suite.add_test_case(case);
    }
    for rule in &report.plan.guardrails.external {
        let trip = report.timeline.iter().find_map(|e| match &e.event {
            Event::GuardrailTripped { guardrail, message, action, .. } if *guardrail == rule.name => {
                Some((message.clone(), action.clone()))
            }
            _ => None,
        });
        let expected_trip = report.expectation.is_some_and(|e| e.met && e.expected == Outcome::GuardrailTripped);
        let status = match trip {
            Some((message, action)) if !expected_trip => failure(
                NonSuccessKind::Failure,
                "guardrail-tripped",
                message,
                format!("external guardrail `{}` tripped; action: {action}", rule.name),
            ),
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(format!("guardrail: {}", rule.name), status);
        case.set_classname("guardrail");
        case.add_property(Property::new("external", "true"));
        suite.add_test_case(case);
    }
    suite
}

fn rollback_suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new("rollback");
    // One testcase per injection: its final result, however many attempts it took.
    for (r, _) in report.final_rollbacks() {
        let label = r.action.clone().unwrap_or_else(|| r.fault.clone());
        let status = if r.ok {
            TestCaseStatus::success()
        } else {
            failure(
                NonSuccessKind::Error,
                "rollback-failed",
                r.detail.clone(),
                format!(
                    "injection {} may still be in place on {}; run `faultdrill recover {}`",
                    r.injection, r.host, r.injection
                ),
            )
        };
        let mut case = TestCase::new(format!("rollback: {label} on {}", r.host), status);
        case.set_classname("rollback");
        case.set_time(std::time::Duration::from_millis((r.finished_ms - r.started_ms).max(0) as u64));
        case.add_property(Property::new("reason", r.reason.as_str()));
        case.add_property(Property::new("result", r.detail.as_str()));
        case.add_property(Property::new("verification", r.verdict().as_str()));
        suite.add_test_case(case);
    }
    suite
}
