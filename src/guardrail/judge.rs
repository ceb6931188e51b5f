//! The breach counter: pure bookkeeping, no I/O, so it is judged in the run loop
//! right after each sample arrives.

use std::collections::HashMap;

use crate::experiment::GuardrailPlan;

/// What one sample means for its guardrail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The sample is within bounds; the breach count is reset.
    Clear,
    /// The sample breaches, but the `for` window is not complete yet.
    Breaching { consecutive: u32 },
    /// This sample completed the `for` window: trip now.
    Tripped { consecutive: u32 },
    /// Still breaching after a trip (only reached by `warn` rules, which keep going).
    StillBreaching { consecutive: u32 },
    /// Nothing could be measured; the count neither grows nor resets.
    Unknown { consecutive: u32 },
}

impl Judgement {
    /// Whether the sample itself breached.
    pub fn is_breach(self) -> bool {
        matches!(self, Judgement::Breaching { .. } | Judgement::Tripped { .. } | Judgement::StillBreaching { .. })
    }

    /// Consecutive breaching samples so far.
    pub fn consecutive(self) -> u32 {
        match self {
            Judgement::Clear => 0,
            Judgement::Breaching { consecutive }
            | Judgement::Tripped { consecutive }
            | Judgement::StillBreaching { consecutive }
            | Judgement::Unknown { consecutive } => consecutive,
        }
    }
}

/// Counts consecutive breaches of every guardrail rule, per host.
#[derive(Debug, Default)]
pub struct GuardrailJudge {
    streaks: HashMap<(usize, String), u32>,
}

impl GuardrailJudge {
    pub fn new() -> GuardrailJudge {
        GuardrailJudge::default()
    }

    /// Judges one sample of rule `index` taken on `host`; `None` when it could not be measured.
    pub fn judge(&mut self, index: usize, rule: &GuardrailPlan, host: &str, value: Option<f64>) -> Judgement {
        let streak = self.streaks.entry((index, host.to_string())).or_insert(0);
        let Some(value) = value.filter(|v| !v.is_nan()) else {
            return Judgement::Unknown { consecutive: *streak };
        };
        if !rule.breach.holds(value) {
            *streak = 0;
            return Judgement::Clear;
        }
        *streak = streak.saturating_add(1);
        let needed = rule.for_samples.max(1);
        match (*streak).cmp(&needed) {
            std::cmp::Ordering::Less => Judgement::Breaching { consecutive: *streak },
            std::cmp::Ordering::Equal => Judgement::Tripped { consecutive: *streak },
            std::cmp::Ordering::Greater => Judgement::StillBreaching { consecutive: *streak },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{Comparison, GuardrailAction, HostMetric, ProbeSource};

    fn rule(breach: Comparison, for_samples: u32) -> GuardrailPlan {
        GuardrailPlan {
            name: "disk-90".into(),
            source: ProbeSource::Metric {
                metric: HostMetric::DiskUsedPercent,
                path: Some("/data".into()),
                process: None,
                target: None,
            },
            breach,
            for_samples,
            action: GuardrailAction::Rollback,
        }
    }

    #[test]
    fn trips_exactly_when_the_window_completes() {
        type Case<'a> = (&'a [Option<f64>], u32, &'a [Judgement]);
        let cases: &[Case] = &[
            (
                &[Some(91.0), Some(92.0)],
                2,
                &[Judgement::Breaching { consecutive: 1 }, Judgement::Tripped { consecutive: 2 }],
            ),
            (&[Some(95.0)], 1, &[Judgement::Tripped { consecutive: 1 }]),
            (
                &[Some(91.0), Some(50.0), Some(91.0)],
                2,
                &[Judgement::Breaching { consecutive: 1 }, Judgement::Clear, Judgement::Breaching { consecutive: 1 }],
            ),
            (
                &[Some(91.0), None, Some(91.0)],
                2,
                &[
                    Judgement::Breaching { consecutive: 1 },
                    Judgement::Unknown { consecutive: 1 },
                    Judgement::Tripped { consecutive: 2 },
                ],
            ),
            (
                &[Some(90.0), Some(90.0), Some(99.0)],
                2,
                &[
                    Judgement::Breaching { consecutive: 1 },
                    Judgement::Tripped { consecutive: 2 },
                    Judgement::StillBreaching { consecutive: 3 },
                ],
            ),
            (&[Some(f64::NAN)], 1, &[Judgement::Unknown { consecutive: 0 }]),
        ];
        for (samples, for_samples, expected) in cases {
            let rule = rule(Comparison::Ge(90.0), *for_samples);
            let mut judge = GuardrailJudge::new();
            let got: Vec<_> = samples.iter().map(|v| judge.judge(0, &rule, "local", *v)).collect();
            assert_eq!(&got, expected, "samples {samples:?} for {for_samples}");
        }
    }

    #[test]
    fn hosts_and_rules_count_separately() {
        let rule = rule(Comparison::Ge(90.0), 2);
        let mut judge = GuardrailJudge::new();
        assert_eq!(judge.judge(0, &rule, "a", Some(95.0)), Judgement::Breaching { consecutive: 1 });
        assert_eq!(judge.judge(0, &rule, "b", Some(95.0)), Judgement::Breaching { consecutive: 1 });
        assert_eq!(judge.judge(1, &rule, "a", Some(95.0)), Judgement::Breaching { consecutive: 1 });
        assert_eq!(judge.judge(0, &rule, "a", Some(95.0)), Judgement::Tripped { consecutive: 2 });
        assert!(judge.judge(0, &rule, "b", Some(10.0)) == Judgement::Clear);
    }
}
