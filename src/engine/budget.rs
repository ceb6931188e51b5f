//! Steady-state verdicts with error budgets: every probe sample of a phase is tallied per
//! probe and host; a strict probe deviates on its first failed sample, `tolerate: N` on the
//! N+1-th failure in a row, and `error_rate` and latency percentiles are judged when the
//! phase ends.

use std::collections::BTreeMap;

use crate::experiment::ProbePlan;

use super::sampling::ProbeSample;

/// One probe on one host over one phase.
#[derive(Default)]
struct Tally {
    samples: u32,
    failures: u32,
    /// Failed samples in a row, up to the latest.
    consecutive: u32,
    latencies_ms: Vec<f64>,
    first_failure: Option<String>,
    /// Its budget was already exhausted in this phase (said once).
    deviated: bool,
}

/// Every probe's tally over the current phase.
#[derive(Default)]
pub struct PhaseTallies {
    by_probe: BTreeMap<(usize, Option<String>), Tally>,
}

impl PhaseTallies {
    /// Tallies a sample of `probe`; returns the deviation if it exhausts the probe's budget now.
    pub fn add(&mut self, probe: &ProbePlan, sample: &ProbeSample) -> Option<String> {
        let tally = self.by_probe.entry((sample.probe, sample.host.clone())).or_default();
        tally.samples += 1;
        tally.latencies_ms.extend(sample.observation.latency_ms);
        if sample.verdict.ok {
            tally.consecutive = 0;
            return None;
        }
        let what = sample.verdict.failures.join("; ");
        tally.failures += 1;
        tally.consecutive += 1;
        tally.first_failure.get_or_insert_with(|| what.clone());
        let budget = &probe.budget;
        let on = on(&sample.host);
        let exhausted =
            if budget.is_strict() { true } else { budget.error_rate.is_none() && tally.consecutive > budget.tolerate };
        if !exhausted || tally.deviated {
            return None;
        }
        tally.deviated = true;
        if budget.is_strict() {
            return Some(format!("{}{on}: {what}", probe.name));
        }
        Some(format!(
            "{}{on}: {} failed samples in a row, more than its `tolerate: {}` (last: {what})",
            probe.name, tally.consecutive, budget.tolerate
        ))
    }

    /// The probes whose latest sample failed but which may still recover (`tolerate`):
    /// before and after the faults, they are sampled again.
    pub fn to_retry(&self, probes: &[ProbePlan]) -> Vec<usize> {
        let mut retry: Vec<usize> = self
            .by_probe
            .iter()
            .filter(|((p, _), t)| {
                let budget = &probes[*p].budget;
                budget.error_rate.is_none() && t.consecutive > 0 && t.consecutive <= budget.tolerate
            })
            .map(|((p, _), _)| *p)
            .collect();
        retry.dedup();
        retry
    }

    /// At the end of a phase: every probe (by index) whose error rate or latency percentiles
    /// fail, with why.
    pub fn judge(&self, probes: &[ProbePlan]) -> Vec<(usize, String)> {
        self.by_probe
            .iter()
            .filter_map(|((index, host), tally)| judge_one(&probes[*index], host, tally).map(|m| (*index, m)))
            .collect()
    }
}

/// Why `probe` on `host` fails its error rate or a latency percentile over the phase, if it does.
fn judge_one(probe: &ProbePlan, host: &Option<String>, tally: &Tally) -> Option<String> {
    let on = on(host);
    if let Some(rate) = probe.budget.error_rate {
        let share = 100.0 * f64::from(tally.failures) / f64::from(tally.samples.max(1));
        if !rate.holds(share) {
            let first = tally.first_failure.as_deref().unwrap_or("-");
            return Some(format!(
                "{}{on}: {} of {} samples failed ({share:.1}%), outside its `error_rate: {rate}%` (first: {first})",
                probe.name, tally.failures, tally.samples
            ));
        }
    }
    for p in &probe.budget.latency {
        let Some(value) = percentile(&tally.latencies_ms, p.rank) else {
            return Some(format!("{}{on}: no latency measured for its p{} (every sample failed)", probe.name, p.rank));
        };
        if !p.holds.holds(value) {
            let n = tally.latencies_ms.len();
            return Some(format!(
                "{}{on}: p{} latency {value:.1}ms over {n} samples, expected {}ms",
                probe.name, p.rank, p.holds
            ));
        }
    }
    None
}

fn on(host: &Option<String>) -> String {
    host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default()
}

/// The nearest-rank percentile of `values` (`None` when empty).
fn percentile(values: &[f64], rank: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((rank / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[index.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 95.0), None);
    }
}
