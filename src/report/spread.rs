//! One probe or guardrail measured on many hosts at once (a host metric on a fleet target):
//! its samples folded into rounds, each drawn as a median with a min–max band, instead of
//! one line zig-zagging through every host's value.

use std::collections::BTreeSet;

/// One round of samples: one per host, taken together.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub at_ms: i64,
    /// Lowest, median and highest value; `None` when no host could be measured (a gap).
    pub values: Option<(f64, f64, f64)>,
    /// Samples that failed their expectation (or breached).
    pub failed: usize,
    /// Lowest and highest value among those, when measured.
    pub failed_values: Option<(f64, f64)>,
    /// Whether a failed sample had no value at all.
    pub failed_unmeasured: bool,
}

/// A series measured on several hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    /// How many hosts were measured.
    pub hosts: usize,
    pub rounds: Vec<Round>,
}

/// One sample as folded: when, on which host, its value, whether it met its expectation.
pub type HostSample<'a> = (i64, Option<&'a str>, Option<f64>, bool);

/// Folds samples, in the order taken, into rounds: a round ends when a host comes up a
/// second time. `None` when at most one host was measured.
pub fn spread(samples: &[HostSample<'_>]) -> Option<Spread> {
    let hosts: BTreeSet<Option<&str>> = samples.iter().map(|s| s.1).collect();
    if hosts.len() <= 1 {
        return None;
    }
    let mut rounds = Vec::new();
    let mut seen = BTreeSet::new();
    let mut start = 0;
    for (i, &(_, host, _, _)) in samples.iter().enumerate() {
        if !seen.insert(host) {
            rounds.push(round(&samples[start..i]));
            seen.clear();
            seen.insert(host);
            start = i;
        }
    }
    if start < samples.len() {
        rounds.push(round(&samples[start..]));
    }
    Some(Spread { hosts: hosts.len(), rounds })
}

fn round(samples: &[HostSample<'_>]) -> Round {
    let mut values: Vec<f64> = samples.iter().filter_map(|s| s.2).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let values = (n > 0).then(|| {
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        (values[0], median, values[n - 1])
    });
    let failed: Vec<Option<f64>> = samples.iter().filter(|s| !s.3).map(|s| s.2).collect();
    let failed_values = failed
        .iter()
        .flatten()
        .fold(None, |range: Option<(f64, f64)>, &v| Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))));
    Round {
        at_ms: samples[0].0,
        values,
        failed: failed.len(),
        failed_values,
        failed_unmeasured: failed.iter().any(Option::is_none),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_is_no_spread() {
        assert_eq!(spread(&[(0, Some("local"), Some(1.0), true), (500, Some("local"), Some(2.0), true)]), None);
    }

    #[test]
    fn rounds_end_when_a_host_repeats_and_keep_gaps_and_failures() {
        let samples = [
            (1000, Some("h2"), Some(30.0), false),
            (1001, Some("h1"), Some(10.0), true),
            (1002, Some("h3"), Some(20.0), true),
            (1500, Some("h1"), None, false),
            (1501, Some("h2"), None, true),
            (2000, Some("h2"), Some(5.0), true),
            (2001, Some("h1"), Some(7.0), true),
        ];
        let got = spread(&samples).unwrap();
        assert_eq!(got.hosts, 3);
        let round = |at_ms, values, failed, failed_values, failed_unmeasured| Round {
            at_ms,
            values,
            failed,
            failed_values,
            failed_unmeasured,
        };
        assert_eq!(
            got.rounds,
            [
                round(1000, Some((10.0, 20.0, 30.0)), 1, Some((30.0, 30.0)), false),
                round(1500, None, 1, None, true),
                round(2000, Some((5.0, 6.0, 7.0)), 0, None, false),
            ]
        );
    }
}
