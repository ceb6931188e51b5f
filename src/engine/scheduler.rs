//! Which action groups may start: a group starts once every group in its `after` has finished.
//!
//! Pure bookkeeping owned by the run loop; the loader has already rejected cycles and
//! out-of-range indices, but a plan built by hand is checked here too.

use crate::experiment::GroupPlan;

/// Tracks the groups of one run.
#[derive(Debug)]
pub struct Scheduler {
    after: Vec<Vec<usize>>,
    started: Vec<bool>,
    finished: Vec<bool>,
}

impl Scheduler {
    pub fn new(groups: &[GroupPlan]) -> Scheduler {
        let after = groups.iter().map(|g| g.after.iter().copied().filter(|&i| i < groups.len()).collect()).collect();
        Scheduler { after, started: vec![false; groups.len()], finished: vec![false; groups.len()] }
    }

    /// Groups whose dependencies have all finished and that have not started; marks them started.
    pub fn take_ready(&mut self) -> Vec<usize> {
        let ready = self.ready();
        for &g in &ready {
            self.started[g] = true;
        }
        ready
    }

    fn ready(&self) -> Vec<usize> {
        (0..self.after.len()).filter(|&g| !self.started[g] && self.after[g].iter().all(|&d| self.finished[d])).collect()
    }

    pub fn finish(&mut self, group: usize) {
        if let Some(f) = self.finished.get_mut(group) {
            *f = true;
        }
    }

    /// Whether every group has finished.
    pub fn is_done(&self) -> bool {
        self.finished.iter().all(|&f| f)
    }

    /// Whether some group can never start (a cycle in a hand-built plan): nothing runs,
    /// nothing is ready, and not everything has finished.
    pub fn is_stuck(&self) -> bool {
        let running = self.started.iter().zip(&self.finished).any(|(s, f)| *s && !*f);
        !self.is_done() && !running && self.ready().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::GroupMode;

    fn groups(after: &[&[usize]]) -> Vec<GroupPlan> {
        after
            .iter()
            .enumerate()
            .map(|(i, a)| GroupPlan {
                name: format!("g{i}"),
                target: "t".into(),
                mode: GroupMode::Sequential,
                after: a.to_vec(),
                actions: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn starts_groups_as_their_dependencies_finish() {
        // g0 at once, g1 after g0, g2 at once, g3 after g1 and g2.
        let mut s = Scheduler::new(&groups(&[&[], &[0], &[], &[1, 2]]));
        assert_eq!(s.take_ready(), vec![0, 2]);
        assert_eq!(s.take_ready(), Vec::<usize>::new());
        s.finish(2);
        assert!(s.take_ready().is_empty());
        s.finish(0);
        assert_eq!(s.take_ready(), vec![1]);
        s.finish(1);
        assert_eq!(s.take_ready(), vec![3]);
        assert!(!s.is_done());
        s.finish(3);
        assert!(s.is_done());
        assert!(!s.is_stuck());
    }

    #[test]
    fn a_hand_built_cycle_is_detected_not_waited_on() {
        let mut s = Scheduler::new(&groups(&[&[1], &[0]]));
        assert!(s.take_ready().is_empty());
        assert!(s.is_stuck());
    }

    #[test]
    fn no_groups_is_done_at_once() {
        let s = Scheduler::new(&[]);
        assert!(s.is_done());
    }
}
