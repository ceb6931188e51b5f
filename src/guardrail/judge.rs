//! The breach counter: pure bookkeeping, no I/O, so it is judged in the run loop
//! right after each sample arrives. A sample that could not be taken counts as a
//! breach unless its rule says `on_unmeasured: ignore` (fail safe, DESIGN §4.8).

use std::collections::HashMap;

use crate::experiment::{GuardrailPlan, OnUnmeasured};

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
    /// Nothing could be measured and the rule says `on_unmeasured: ignore`: the count
    /// neither grows nor resets. (By default an unmeasured sample counts as a breach.)
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

    /// Judges one sample of rule `index` taken on `host`; `None` when it could not be
    /// measured, which counts as a breach unless the rule says `on_unmeasured: ignore`.
    pub fn judge(&mut self, index: usize, rule: &GuardrailPlan, host: &str, value: Option<f64>) -> Judgement {
        let streak = self.streaks.entry((index, host.to_string())).or_insert(0);
        match value.filter(|v| !v.is_nan()) {
            None if rule.on_unmeasured == OnUnmeasured::Ignore => return Judgement::Unknown { consecutive: *streak },
            None => {}
            Some(value) if !rule.breach.holds(value) => {
                *streak = 0;
                return Judgement::Clear;
            }
            Some(_) => {}
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
    use crate::experiment::{Comparison, GuardrailAction, HostMetric, Measure, ProbeSource};

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
            on_unmeasured: OnUnmeasured::Breach,
            measure: Measure::Value,
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
                    Judgement::Tripped { consecutive: 2 },
                    Judgement::StillBreaching { consecutive: 3 },
                ],
            ),
            (&[None, None], 2, &[Judgement::Breaching { consecutive: 1 }, Judgement::Tripped { consecutive: 2 }]),
            (
                &[None, Some(10.0), None],
                2,
                &[Judgement::Breaching { consecutive: 1 }, Judgement::Clear, Judgement::Breaching { consecutive: 1 }],
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
            (&[Some(f64::NAN)], 1, &[Judgement::Tripped { consecutive: 1 }]),
        ];
        for (samples, for_samples, expected) in cases {
            let rule = rule(Comparison::Ge(90.0), *for_samples);
            let mut judge = GuardrailJudge::new();
            let got: Vec<_> = samples.iter().map(|v| judge.judge(0, &rule, "local", *v)).collect();
            assert_eq!(&got, expected, "samples {samples:?} for {for_samples}");
        }
    }

    #[test]
    fn unmeasured_samples_are_skipped_only_when_the_rule_says_ignore() {
        let rule = GuardrailPlan { on_unmeasured: OnUnmeasured::Ignore, ..rule(Comparison::Ne(200.0), 2) };
        let mut judge = GuardrailJudge::new();
        let got: Vec<_> =
            [Some(500.0), None, None, Some(500.0)].iter().map(|v| judge.judge(0, &rule, "-", *v)).collect();
        assert_eq!(
            got,
            [
                Judgement::Breaching { consecutive: 1 },
                Judgement::Unknown { consecutive: 1 },
                Judgement::Unknown { consecutive: 1 },
                Judgement::Tripped { consecutive: 2 },
            ]
        );
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
