//! Keeping a timeline bounded: past a number of samples, every other sample is dropped
//! (events such as injections, trips and rollbacks are always kept), so a long run with
//! fast probes keeps its shape in a fixed amount of memory.

use super::model::{Event, TimelineEntry};

/// The most probe and guardrail samples a timeline keeps.
pub const MAX_TIMELINE_SAMPLES: usize = 20_000;

/// Whether an entry is a sample (the only kind that may be thinned).
pub fn is_sample(entry: &TimelineEntry) -> bool {
    matches!(entry.event, Event::ProbeSample { .. } | Event::GuardrailSample { .. })
}

/// Counts samples as they are appended, and halves them when the cap is reached.
#[derive(Clone, Debug, Default)]
pub struct SampleBudget {
    samples: usize,
}

impl SampleBudget {
    /// Call after appending `entry` to `entries`; `sample_of` tells samples apart.
    pub fn after_push<T>(&mut self, entries: &mut Vec<T>, sample_of: impl Fn(&T) -> bool) {
        let Some(last) = entries.last() else { return };
        if !sample_of(last) {
            return;
        }
        self.samples += 1;
        if self.samples <= MAX_TIMELINE_SAMPLES {
            return;
        }
        let mut nth = 0usize;
        entries.retain(|e| {
            if !sample_of(e) {
                return true;
            }
            nth += 1;
            nth % 2 == 0
        });
        self.samples = nth / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_halved_at_the_cap_and_other_events_are_kept() {
        let mut entries: Vec<(bool, usize)> = Vec::new();
        let mut budget = SampleBudget::default();
        for i in 0..(3 * MAX_TIMELINE_SAMPLES) {
            entries.push((i % 100 != 0, i));
            budget.after_push(&mut entries, |e| e.0);
        }
        let samples = entries.iter().filter(|e| e.0).count();
        assert!(samples <= MAX_TIMELINE_SAMPLES, "{samples}");
        assert!(samples >= MAX_TIMELINE_SAMPLES / 2, "{samples}");
        assert_eq!(entries.iter().filter(|e| !e.0).count(), 3 * MAX_TIMELINE_SAMPLES / 100, "every event kept");
        assert!(entries.windows(2).all(|w| w[0].1 < w[1].1), "order kept");
    }
}
