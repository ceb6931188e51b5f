//! Choosing a target's hosts from an inventory: by name or by labels, then
//! `pick` (all, a count, a percentage) with a recorded seed, then the `max`
//! blast-radius cap and `on_empty`.
//!
//! The pick is a seeded shuffle with its own generator (SplitMix64), so a
//! seed recorded in a report selects the same hosts in any later version.

use crate::experiment::{OnEmpty, Pick, TargetPlan, TargetSelector};

use super::inventory::Inventory;

/// The hosts a target resolved to, and the seed its pick used (if it picked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Host names, in inventory order (`local` is kept as is).
    pub hosts: Vec<String>,
    pub seed: Option<u64>,
}

/// Why a target could not be resolved. Reads after "failed to ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("resolve target {target}: host {host} is not in the inventory (it has: {known})")]
    UnknownHost { target: String, host: String, known: String },
    #[error("resolve target {target}: it matched no host and says `on_empty: fail`")]
    Empty { target: String },
    #[error(
        "resolve target {target}: it matched {count} hosts, more than its `max: {max}`; narrow the selection or raise max"
    )]
    OverMax { target: String, count: usize, max: u32 },
}

/// Resolves one target against `inventory`. `fresh_seed` is used (and
/// recorded) when the target picks a subset and gives no seed of its own.
pub fn select_hosts(target: &TargetPlan, inventory: &Inventory, fresh_seed: u64) -> Result<Selection, SelectError> {
    let matched: Vec<String> = match &target.selector {
        TargetSelector::Hosts(names) => {
            let mut hosts = Vec::new();
            for name in names {
                if name != "local" && inventory.host(name).is_none() {
                    let known: Vec<_> = inventory.hosts.iter().map(|h| h.name.as_str()).collect();
                    return Err(SelectError::UnknownHost {
                        target: target.name.clone(),
                        host: name.clone(),
                        known: if known.is_empty() { "no hosts".into() } else { known.join(", ") },
                    });
                }
                if !hosts.contains(name) {
                    hosts.push(name.clone());
                }
            }
            hosts
        }
        TargetSelector::Labels(labels) => inventory.select(labels).into_iter().map(|h| h.name.clone()).collect(),
    };
    let (hosts, seed) = pick(&matched, target.pick, target.seed.unwrap_or(fresh_seed));
    if hosts.is_empty() && target.on_empty == OnEmpty::Fail {
        return Err(SelectError::Empty { target: target.name.clone() });
    }
    if let Some(max) = target.max {
        if hosts.len() > max as usize {
            return Err(SelectError::OverMax { target: target.name.clone(), count: hosts.len(), max });
        }
    }
    Ok(Selection { hosts, seed })
}

/// How many of `n` hosts a pick takes: a percentage rounds up (50 % of 3 is 2).
pub fn pick_count(n: usize, pick: Pick) -> usize {
    match pick {
        Pick::All => n,
        Pick::Count(c) => (c as usize).min(n),
        Pick::Percent(p) => ((n as f64 * p.clamp(0.0, 100.0) / 100.0).ceil() as usize).min(n),
    }
}

fn pick(hosts: &[String], how: Pick, seed: u64) -> (Vec<String>, Option<u64>) {
    let count = pick_count(hosts.len(), how);
    if how == Pick::All {
        return (hosts.to_vec(), None);
    }
    // Fisher–Yates over indices, then keep the chosen ones in inventory order.
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    let mut state = seed;
    for i in (1..order.len()).rev() {
        let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut chosen = order[..count].to_vec();
    chosen.sort_unstable();
    (chosen.into_iter().map(|i| hosts[i].clone()).collect(), Some(seed))
}

/// SplitMix64: small, fast, and fixed forever (recorded seeds must replay).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;

    fn inventory() -> Inventory {
        let mut text = String::from("hosts:\n");
        for (i, zone) in ["az-1", "az-2", "az-1", "az-1", "az-2"].iter().enumerate() {
            text.push_str(&format!(
                "  - {{name: h{i}, url: \"http://127.0.0.1:{}\", labels: {{zone: {zone}}}}}\n",
                7000 + i
            ));
        }
        Inventory::parse(Path::new("inv.yaml"), &text).unwrap()
    }

    fn target(selector: TargetSelector, pick: Pick) -> TargetPlan {
        TargetPlan { name: "t".into(), selector, pick, max: None, on_empty: OnEmpty::Fail, seed: None }
    }

    fn zone(z: &str) -> TargetSelector {
        TargetSelector::Labels(BTreeMap::from([("zone".to_string(), z.to_string())]))
    }

    #[test]
    fn labels_select_exactly_the_matching_hosts() {
        let s = select_hosts(&target(zone("az-1"), Pick::All), &inventory(), 1).unwrap();
        assert_eq!(s, Selection { hosts: vec!["h0".into(), "h2".into(), "h3".into()], seed: None });
    }

    #[test]
    fn picks_are_seeded_recorded_and_replayable() {
        let inv = inventory();
        let t = target(zone("az-1"), Pick::Count(2));
        let a = select_hosts(&t, &inv, 42).unwrap();
        assert_eq!((a.hosts.len(), a.seed), (2, Some(42)));
        assert_eq!(select_hosts(&t, &inv, 42).unwrap(), a, "same seed, same hosts");
        let replay = TargetPlan { seed: Some(42), ..t.clone() };
        assert_eq!(select_hosts(&replay, &inv, 7).unwrap(), a, "a recorded seed wins over a fresh one");
        let distinct: std::collections::BTreeSet<_> =
            (0..50).map(|s| select_hosts(&t, &inv, s).unwrap().hosts).collect();
        assert!(distinct.len() > 1, "different seeds pick differently");
    }

    #[test]
    fn percent_rounds_up() {
        for (n, p, want) in [(3, 50.0, 2), (5, 20.0, 1), (5, 1.0, 1), (4, 100.0, 4), (4, 0.0, 0), (0, 50.0, 0)] {
            assert_eq!(pick_count(n, Pick::Percent(p)), want, "{p}% of {n}");
        }
    }

    #[test]
    fn max_on_empty_and_unknown_hosts_are_errors() {
        let inv = inventory();
        let capped = TargetPlan { max: Some(2), ..target(zone("az-1"), Pick::All) };
        assert_eq!(
            select_hosts(&capped, &inv, 0).unwrap_err().to_string(),
            "resolve target t: it matched 3 hosts, more than its `max: 2`; narrow the selection or raise max"
        );
        let empty = target(zone("az-9"), Pick::All);
        assert!(matches!(select_hosts(&empty, &inv, 0), Err(SelectError::Empty { .. })));
        let skip = TargetPlan { on_empty: OnEmpty::Skip, ..empty };
        assert_eq!(select_hosts(&skip, &inv, 0).unwrap().hosts, Vec::<String>::new());
        let unknown = target(TargetSelector::Hosts(vec!["h1".into(), "nope".into()]), Pick::All);
        assert_eq!(
            select_hosts(&unknown, &inv, 0).unwrap_err().to_string(),
            "resolve target t: host nope is not in the inventory (it has: h0, h1, h2, h3, h4)"
        );
        let named = target(TargetSelector::Hosts(vec!["h4".into(), "local".into(), "h4".into()]), Pick::All);
        assert_eq!(select_hosts(&named, &inv, 0).unwrap().hosts, ["h4", "local"]);
    }
}
