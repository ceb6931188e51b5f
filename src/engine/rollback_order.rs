//! The order of a final rollback: an injection is rolled back before every injection it was
//! made after on purpose (a later action of a sequential group, a group `after` another);
//! injections with no such relation are independent and rolled back at once.

use crate::experiment::{GroupMode, GroupPlan};
use crate::report::ActionRef;

/// Whether the plan made action `later` only after action `earlier` had been injected.
fn depends_on(groups: &[GroupPlan], before: &[Vec<bool>], later: &ActionRef, earlier: &ActionRef) -> bool {
    if later.group == earlier.group {
        return groups[later.group].mode == GroupMode::Sequential && earlier.action < later.action;
    }
    before.get(later.group).and_then(|b| b.get(earlier.group)).copied().unwrap_or(false)
}

/// `before[g][h]`: group `h` must finish before group `g` starts (transitively through `after`).
fn groups_before(groups: &[GroupPlan]) -> Vec<Vec<bool>> {
    let n = groups.len();
    let mut before = vec![vec![false; n]; n];
    for (g, group) in groups.iter().enumerate() {
        for &h in group.after.iter().filter(|&&h| h < n) {
            before[g][h] = true;
        }
    }
    // Transitive closure (plans have a handful of groups).
    for k in 0..n {
        let via = before[k].clone();
        for row in before.iter_mut().filter(|row| row[k]) {
            for (cell, through) in row.iter_mut().zip(&via) {
                *cell |= *through;
            }
        }
    }
    before
}

/// Groups the injections `actions` (in the order they were made) into waves: every wave is
/// rolled back at once, the first wave first; an injection's wave comes before the wave of
/// any injection it depends on. Returns indices into `actions`.
pub fn rollback_waves(groups: &[GroupPlan], actions: &[&ActionRef]) -> Vec<Vec<usize>> {
    let before = groups_before(groups);
    let mut depth = vec![0usize; actions.len()];
    for i in 0..actions.len() {
        depth[i] = (0..i)
            .filter(|&j| depends_on(groups, &before, actions[i], actions[j]))
            .map(|j| depth[j] + 1)
            .max()
            .unwrap_or(0);
    }
    let deepest = depth.iter().copied().max().map_or(0, |d| d + 1);
    let mut waves = vec![Vec::new(); deepest];
    for (i, d) in depth.into_iter().enumerate() {
        waves[deepest - 1 - d].push(i);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a group's mode and `after` matter to the order.
    fn group(mode: GroupMode, after: &[usize], _actions: usize) -> GroupPlan {
        GroupPlan { name: "g".into(), target: "local".into(), mode, after: after.to_vec(), actions: Vec::new() }
    }

    fn action(group: usize, action: usize) -> ActionRef {
        ActionRef { group, action, label: format!("{group}/{action}"), fault: "cpu-burn".into() }
    }

    #[test]
    fn parallel_actions_and_unrelated_groups_roll_back_at_once() {
        let groups = [group(GroupMode::Parallel, &[], 3), group(GroupMode::Sequential, &[], 1)];
        let (a, b, c, d) = (action(0, 0), action(0, 1), action(0, 2), action(1, 0));
        assert_eq!(rollback_waves(&groups, &[&a, &b, &c, &d]), [vec![0, 1, 2, 3]]);
    }

    #[test]
    fn sequential_actions_and_after_groups_roll_back_newest_first() {
        let groups = [
            group(GroupMode::Sequential, &[], 2),
            group(GroupMode::Parallel, &[0], 2),
            group(GroupMode::Parallel, &[], 1),
        ];
        let made = [action(0, 0), action(2, 0), action(0, 1), action(1, 0), action(1, 1)];
        let refs: Vec<&ActionRef> = made.iter().collect();
        // 1/x after 0/1 after 0/0; 2/0 depends on nothing.
        assert_eq!(rollback_waves(&groups, &refs), [vec![3, 4], vec![2], vec![0, 1]]);
    }

    #[test]
    fn dependencies_are_transitive_through_after() {
        let groups = [
            group(GroupMode::Parallel, &[], 1),
            group(GroupMode::Parallel, &[0], 0),
            group(GroupMode::Parallel, &[1], 1),
        ];
        let made = [action(0, 0), action(2, 0)];
        let refs: Vec<&ActionRef> = made.iter().collect();
        assert_eq!(rollback_waves(&groups, &refs), [vec![1], vec![0]]);
    }
}
