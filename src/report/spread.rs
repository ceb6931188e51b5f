//! One probe or guardrail measured on many hosts at once (a host metric on a fleet target):
//! its samples folded into rounds, each drawn as a median with a min–max band, instead of
//! one line zig-zagging through every host's value.

use std::collections::BTreeSet;

/// One round of samples: one per host, taken together.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub at_ms: i64,
    pub lo: f64,
    pub median: f64,
    pub hi: f64,
}

/// A series measured on several hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Spread {
    /// How many hosts were measured.
    pub hosts: usize,
    /// `None` where no host could be measured in that round (a gap in the line).
    pub rounds: Vec<Option<Round>>,
}

/// Folds samples `(at, host, value)`, in the order taken, into rounds: a round ends when a
/// host comes up a second time. `None` when at most one host was measured.
pub fn spread(samples: &[(i64, Option<&str>, Option<f64>)]) -> Option<Spread> {
    let hosts: BTreeSet<Option<&str>> = samples.iter().map(|s| s.1).collect();
    if hosts.len() <= 1 {
        return None;
    }
    let mut rounds = Vec::new();
    let mut seen = BTreeSet::new();
    let mut values = Vec::new();
    let mut at_ms = None;
    for &(at, host, value) in samples {
        if !seen.insert(host) {
            rounds.push(round(at_ms.unwrap_or(at), &mut values));
            seen.clear();
            seen.insert(host);
            at_ms = None;
        }
        at_ms.get_or_insert(at);
        values.extend(value);
    }
    if let Some(at) = at_ms {
        rounds.push(round(at, &mut values));
    }
    Some(Spread { hosts: hosts.len(), rounds })
}

fn round(at_ms: i64, values: &mut Vec<f64>) -> Option<Round> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    let round = Round { at_ms, lo: values[0], median, hi: values[n - 1] };
    values.clear();
    Some(round)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_is_no_spread() {
        assert_eq!(spread(&[(0, Some("local"), Some(1.0)), (500, Some("local"), Some(2.0))]), None);
    }

    #[test]
    fn rounds_end_when_a_host_repeats_and_keep_gaps() {
        let samples = [
            (1000, Some("h2"), Some(30.0)),
            (1001, Some("h1"), Some(10.0)),
            (1002, Some("h3"), Some(20.0)),
            (1500, Some("h1"), None),
            (1501, Some("h2"), None),
            (2000, Some("h2"), Some(5.0)),
            (2001, Some("h1"), Some(7.0)),
        ];
        let got = spread(&samples).unwrap();
        assert_eq!(got.hosts, 3);
        assert_eq!(
            got.rounds,
            [
                Some(Round { at_ms: 1000, lo: 10.0, median: 20.0, hi: 30.0 }),
                None,
                Some(Round { at_ms: 2000, lo: 5.0, median: 6.0, hi: 7.0 }),
            ]
        );
    }
}
