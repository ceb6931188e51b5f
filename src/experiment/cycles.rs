//! Cycles in the `after` graph of action groups, reported once per cycle.

use super::diag::Sink;
use super::plan::GroupPlan;
use super::spec::ActionGroupSpec;

/// Reports every cycle among `groups` (whose `after` indices are resolved), at
/// the `after` entry that closes it.
pub fn report(sink: &mut Sink<'_>, specs: &[ActionGroupSpec], groups: &[GroupPlan]) {
    let mut done = vec![false; groups.len()];
    loop {
        peel(groups, &mut done);
        let Some(start) = done.iter().position(|d| !d) else { return };
        // Every group left waits on another group left: walking `after` must repeat.
        let mut path = vec![start];
        let cycle_start = loop {
            let last = *path.last().unwrap_or(&start);
            let Some(&next) = groups[last].after.iter().find(|a| !done[**a]) else { return };
            if let Some(at) = path.iter().position(|p| *p == next) {
                break at;
            }
            path.push(next);
        };
        let cycle = &path[cycle_start..];
        let mut names: Vec<&str> = cycle.iter().map(|i| groups[*i].name.as_str()).collect();
        names.push(&groups[cycle[0]].name);
        // Point at an explicit `after` entry that closes the cycle, if there is one.
        let edges = cycle.iter().zip(cycle.iter().cycle().skip(1));
        let explicit = edges.clone().find_map(|(from, to)| {
            specs[*from].after.as_ref()?.iter().find(|a| a.value == groups[*to].name).map(|a| a.span)
        });
        let message = format!("cycle in `after`: {}", names.join(" → "));
        match explicit {
            Some(span) => sink.error(span, message),
            None => {
                let from = cycle[0];
                let span = specs[from].name.as_ref().map(|n| n.span).unwrap_or_default();
                sink.error(span, message);
            }
        }
        for i in cycle {
            done[*i] = true;
        }
    }
}

/// Marks every group whose prerequisites are all done, until nothing changes.
fn peel(groups: &[GroupPlan], done: &mut [bool]) {
    let mut changed = true;
    while changed {
        changed = false;
        for (i, g) in groups.iter().enumerate() {
            if !done[i] && g.after.iter().all(|a| done[*a]) {
                done[i] = true;
                changed = true;
            }
        }
    }
}
