//! The resilience score: a weighted share of checks passed, from 0 to 100.
//!
//! Weights (documented in the README): a steady-state sample taken before or after
//! the faults counts 2, one taken during them 1, and each guardrail rule 3 (passed
//! when it never tripped). Rollback results are reported beside the score, not in it:
//! they measure faultdrill, not the system under test. A drill that expects a guardrail to
//! trip (`expect_outcome: guardrail_tripped`) is not punished for it: its guardrail rules pass
//! together when the run met that expectation, and fail together when it did not.

use std::collections::BTreeSet;

use super::model::{Event, Outcome, ProbePhase, Report};

/// Weight of a steady-state sample taken before or after the faults.
pub const WEIGHT_EDGE_SAMPLE: u32 = 2;
/// Weight of a steady-state sample taken while faults were in place.
pub const WEIGHT_DURING_SAMPLE: u32 = 1;
/// Weight of a guardrail rule.
pub const WEIGHT_GUARDRAIL: u32 = 3;

/// The score, or `None` when the run made no check at all.
pub fn resilience_score(report: &Report) -> Option<f64> {
    let (mut passed, mut total) = (0u32, 0u32);
    for entry in &report.timeline {
        if let Event::ProbeSample { phase, ok, .. } = &entry.event {
            let w = if *phase == ProbePhase::During { WEIGHT_DURING_SAMPLE } else { WEIGHT_EDGE_SAMPLE };
            total += w;
            if *ok {
                passed += w;
            }
        }
    }
    let tripped: BTreeSet<&str> = report
        .timeline
        .iter()
        .filter_map(|e| match &e.event {
            Event::GuardrailTripped { guardrail, .. } => Some(guardrail.as_str()),
            _ => None,
        })
        .collect();
    let expected_trip = report.expectation.filter(|e| e.expected == Outcome::GuardrailTripped);
    for rule in &report.plan.guardrails.rules {
        total += WEIGHT_GUARDRAIL;
        let ok = match expected_trip {
            Some(e) => e.met,
            None => !tripped.contains(rule.name.as_str()),
        };
        if ok {
            passed += WEIGHT_GUARDRAIL;
        }
    }
    (total > 0).then(|| (f64::from(passed) / f64::from(total) * 1000.0).round() / 10.0)
}
