//! Journal retention: old finished runs and rolled-back injections are pruned, so a
//! journal under constant use stays bounded. Never a pending, active or failed injection
//! (a failed or "NOT verified" rollback is never forgotten: DESIGN §4 rule 9), nor a run
//! that still has one.

use std::time::Duration;

use rusqlite::params;

use super::store::{Journal, JournalError, now_ms};

/// Default age after which finished runs and rolled-back injections go: 30 days.
pub const DEFAULT_KEEP_DAYS: u32 = 30;
/// Default count of finished runs (and, separately, rolled-back injections) kept.
pub const DEFAULT_KEEP_RUNS: u32 = 1000;

/// How much history a journal keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Finished runs and rolled-back injections older than this go.
    pub max_age: Duration,
    /// At most this many finished runs, and this many rolled-back injections, are kept
    /// (the newest).
    pub keep: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention::new(DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS)
    }
}

impl Retention {
    /// `keep_days` days and `keep_runs` records.
    pub fn new(keep_days: u32, keep_runs: u32) -> Self {
        Retention { max_age: Duration::from_secs(u64::from(keep_days) * 86_400), keep: keep_runs }
    }

    /// The oldest time (unix ms) a record may end at and still be kept by age, at `now`.
    pub fn cutoff_ms(&self, now: i64) -> i64 {
        now.saturating_sub(i64::try_from(self.max_age.as_millis()).unwrap_or(i64::MAX))
    }
}

/// What one pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: usize,
    pub injections: usize,
    pub remote_injections: usize,
}

impl Pruned {
    /// True when nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.runs + self.injections + self.remote_injections == 0
    }
}

/// Rolled-back injections beyond the age or the count (only `rolled_back` ones).
const PRUNE_INJECTIONS: &str = "DELETE FROM injections WHERE state = 'rolled_back' AND (updated_ms < ?1 OR id IN (\
     SELECT id FROM injections WHERE state = 'rolled_back' ORDER BY updated_ms DESC, rowid DESC LIMIT -1 OFFSET ?2))";

/// The controller's records of remote injections, same rule.
const PRUNE_REMOTE: &str = "DELETE FROM remote_injections WHERE state = 'rolled_back' AND (updated_ms < ?1 OR key IN (\
     SELECT key FROM remote_injections WHERE state = 'rolled_back' ORDER BY updated_ms DESC, rowid DESC \
     LIMIT -1 OFFSET ?2))";

/// Finished runs beyond the age or the count, unless one of their injections is still
/// pending, active or failed.
const PRUNE_RUNS: &str = "DELETE FROM runs WHERE finished_ms IS NOT NULL AND (finished_ms < ?1 OR id IN (\
     SELECT id FROM runs WHERE finished_ms IS NOT NULL ORDER BY finished_ms DESC, rowid DESC LIMIT -1 OFFSET ?2)) \
     AND id NOT IN (SELECT run_id FROM injections WHERE run_id IS NOT NULL AND state != 'rolled_back') \
     AND id NOT IN (SELECT run_id FROM remote_injections WHERE run_id IS NOT NULL AND state != 'rolled_back')";

impl Journal {
    /// Removes what `retention` no longer keeps, then gives the free pages back to the
    /// filesystem (incremental vacuum) and truncates the WAL, so the files stay bounded.
    pub fn prune(&self, retention: &Retention) -> Result<Pruned, JournalError> {
        let cutoff = retention.cutoff_ms(now_ms());
        let keep = i64::from(retention.keep);
        self.with(|c| {
            let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            let pruned = Pruned {
                injections: tx.execute(PRUNE_INJECTIONS, params![cutoff, keep])?,
                remote_injections: tx.execute(PRUNE_REMOTE, params![cutoff, keep])?,
                runs: tx.execute(PRUNE_RUNS, params![cutoff, keep])?,
            };
            tx.commit()?;
            if !pruned.is_empty() {
                // Frees pages only in a journal created with auto_vacuum=incremental; an older
                // one reuses its free pages instead, which bounds it just the same.
                c.execute_batch("PRAGMA incremental_vacuum;")?;
                // A busy reader makes this a partial checkpoint; the next pruning finishes it.
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            Ok(pruned)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InjectionId, RunId};
    use crate::journal::{InjectionState, NewInjection};

    fn inject(journal: &Journal, state: InjectionState, run: Option<&RunId>) -> InjectionId {
        let id = InjectionId::generate();
        journal
            .record_pending(&NewInjection {
                id: id.clone(),
                run: run.cloned(),
                fault: "disk-fill".into(),
                params: serde_json::json!({"path": "/tmp"}),
                undo: serde_json::json!({"kind": "nothing", "pad": "x".repeat(2000)}),
                deadline_ms: now_ms() + 60_000,
                lease_ms: None,
            })
            .unwrap();
        if state != InjectionState::Pending {
            journal.set_state(&id, state, Some("test")).unwrap();
        }
        id
    }

    /// Makes every record look `days` days old.
    fn age(journal: &Journal, days: i64) {
        let then = now_ms() - days * 86_400_000;
        journal
            .with(|c| {
                c.execute("UPDATE injections SET created_ms = ?1, updated_ms = ?1", [then])?;
                c.execute("UPDATE runs SET started_ms = ?1, finished_ms = CASE WHEN finished_ms IS NULL THEN NULL ELSE ?1 END", [then])
            })
            .unwrap();
    }

    #[test]
    fn old_rolled_back_injections_go_but_active_pending_and_failed_ones_survive() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let active = inject(&journal, InjectionState::Active, None);
        let pending = inject(&journal, InjectionState::Pending, None);
        let failed = inject(&journal, InjectionState::Failed, None);
        let gone = inject(&journal, InjectionState::RolledBack, None);
        age(&journal, 400);
        let pruned = journal.prune(&Retention::default()).unwrap();
        assert_eq!(pruned, Pruned { runs: 0, injections: 1, remote_injections: 0 });
        for id in [&active, &pending, &failed] {
            assert!(journal.get(id).unwrap().is_some(), "{id} must survive pruning");
        }
        assert!(journal.get(&gone).unwrap().is_none());
        assert_eq!(journal.live().unwrap().len(), 3);
    }

    #[test]
    fn only_the_newest_rolled_back_injections_and_finished_runs_are_kept_by_count() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let failed = inject(&journal, InjectionState::Failed, None);
        for _ in 0..10 {
            inject(&journal, InjectionState::RolledBack, None);
        }
        let unfinished = RunId::generate();
        journal.record_run_start(&unfinished, "still-running").unwrap();
        let with_failed = RunId::generate();
        journal.record_run_start(&with_failed, "failed-rollback").unwrap();
        journal.record_run_state(&with_failed, "finished", Some("rollback_failed")).unwrap();
        inject(&journal, InjectionState::Failed, Some(&with_failed));
        for _ in 0..10 {
            let run = RunId::generate();
            journal.record_run_start(&run, "done").unwrap();
            journal.record_run_state(&run, "finished", Some("passed")).unwrap();
            inject(&journal, InjectionState::RolledBack, Some(&run));
        }
        let pruned = journal.prune(&Retention::new(DEFAULT_KEEP_DAYS, 3)).unwrap();
        assert_eq!(pruned.injections, 17);
        assert!(journal.get(&failed).unwrap().is_some());
        let runs: Vec<String> = journal.runs(100).unwrap().into_iter().map(|r| r.id.to_string()).collect();
        assert!(runs.contains(&unfinished.to_string()), "an unfinished run is kept");
        assert!(runs.contains(&with_failed.to_string()), "a run with a failed injection is kept");
        assert!(runs.len() <= 5, "{runs:?}");
        assert_eq!(journal.recent(100).unwrap().len(), 3 + 2);
    }

    #[test]
    fn the_journal_file_stays_bounded_under_churn_once_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let size = |j: &Journal| {
            let wal = j.path().with_extension("db-wal");
            std::fs::metadata(j.path()).unwrap().len() + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
        };
        let retention = Retention::new(DEFAULT_KEEP_DAYS, 30);
        let mut sizes = Vec::new();
        for _round in 0..4 {
            for _ in 0..100 {
                inject(&journal, InjectionState::RolledBack, None);
            }
            journal.prune(&retention).unwrap();
            sizes.push(size(&journal));
        }
        assert_eq!(journal.recent(1000).unwrap().len(), 30);
        let (first, last) = (sizes[1], *sizes.last().unwrap());
        assert!(last <= first + 64 * 1024, "the journal grew from {first} to {last} bytes: {sizes:?}");
    }
}
