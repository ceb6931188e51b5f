//! The recent samples of each steady-state probe, kept for guardrails that read a
//! probe's failure rate (`probe: {name, window}`): pure bookkeeping, judged in the loop.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::experiment::{GuardrailPlan, ProbeSource};

/// Each probe's samples (when, and whether it passed) over the longest window a rule reads.
#[derive(Debug, Default)]
pub struct RecentSamples {
    by_probe: HashMap<String, VecDeque<(Instant, bool)>>,
    keep: Duration,
}

impl RecentSamples {
    /// Keeps what the rules' longest window needs (nothing when no rule reads a probe).
    pub fn for_rules(rules: &[GuardrailPlan]) -> RecentSamples {
        let keep = rules.iter().filter_map(|r| window_of(&r.source).map(|(_, w)| w)).max().unwrap_or_default();
        RecentSamples { by_probe: HashMap::new(), keep }
    }

    /// Records one sample of `probe`.
    pub fn add(&mut self, probe: &str, ok: bool, at: Instant) {
        if self.keep.is_zero() {
            return;
        }
        let samples = self.by_probe.entry(probe.to_string()).or_default();
        samples.push_back((at, ok));
        while samples.front().is_some_and(|(t, _)| at.duration_since(*t) > self.keep) {
            samples.pop_front();
        }
    }

    /// The failed and total samples of `probe` taken within `window` before `now`
    /// (`None`: no sample yet, so nothing to judge).
    pub fn failures(&self, probe: &str, window: Duration, now: Instant) -> Option<(usize, usize)> {
        let recent = self.by_probe.get(probe)?.iter().filter(|(t, _)| now.saturating_duration_since(*t) <= window);
        let (failed, total) = recent.fold((0, 0), |(f, n), (_, ok)| (f + usize::from(!ok), n + 1));
        (total > 0).then_some((failed, total))
    }
}

/// The probe and window a rule reads, if it reads one.
pub fn window_of(source: &ProbeSource) -> Option<(&str, Duration)> {
    match source {
        ProbeSource::ProbeFailures { probe, window } => Some((probe.as_str(), *window)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_window_and_forgets_what_no_rule_needs() {
        let mut recent = RecentSamples { by_probe: HashMap::new(), keep: Duration::from_secs(10) };
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(recent.failures("front", s(5), t0), None, "no sample yet: nothing to judge");
        for (at, ok) in [(0, true), (4, false), (6, false), (8, true), (12, false)] {
            recent.add("front", ok, t0 + s(at));
        }
        assert_eq!(recent.failures("front", s(5), t0 + s(12)), Some((1, 2)));
        assert_eq!(recent.failures("front", s(10), t0 + s(12)), Some((3, 4)), "the sample at 0s is gone");
        assert_eq!(recent.by_probe["front"].len(), 4);
        assert_eq!(recent.failures("other", s(5), t0 + s(12)), None);
    }
}
