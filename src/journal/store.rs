//! SQLite persistence for injections and runs (WAL, `synchronous=FULL`).
//!
//! The undo record of an injection is committed as `pending` *before* the fault
//! is applied, then marked `active`; anything left `pending` or `active` after a
//! crash is what `faultdrill recover` and a starting daemon roll back.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::clock::{BootStamp, BootTimes, Due, Now, due_in};
use crate::ids::{InjectionId, RunId};

/// Milliseconds since the Unix epoch, the journal's clock.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Where an injection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectionState {
    /// The undo is journaled; the fault may or may not have been applied yet.
    Pending,
    /// The fault is applied.
    Active,
    /// The undo was carried out.
    RolledBack,
    /// Applying or undoing failed; `note` says what.
    Failed,
}

impl InjectionState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            InjectionState::Pending => "pending",
            InjectionState::Active => "active",
            InjectionState::RolledBack => "rolled_back",
            InjectionState::Failed => "failed",
        }
    }

    pub(super) fn parse(s: &str) -> InjectionState {
        match s {
            "pending" => InjectionState::Pending,
            "active" => InjectionState::Active,
            "rolled_back" => InjectionState::RolledBack,
            _ => InjectionState::Failed,
        }
    }
}

/// The shortest wait before a failed rollback is tried again, in milliseconds.
pub const RETRY_MIN_MS: i64 = 1_000;
/// The longest wait between two tries of a failed rollback, in milliseconds.
pub const RETRY_MAX_MS: i64 = 60_000;

/// When a failed rollback is tried again: half its age so far after its last try,
/// between [`RETRY_MIN_MS`] and [`RETRY_MAX_MS`] (a backoff that needs no counter).
pub fn retry_due_ms(r: &InjectionRecord) -> i64 {
    r.updated_ms + ((r.updated_ms - r.created_ms) / 2).clamp(RETRY_MIN_MS, RETRY_MAX_MS)
}

/// What is journaled before a fault is applied.
#[derive(Clone, Debug)]
pub struct NewInjection {
    pub id: InjectionId,
    pub run: Option<RunId>,
    pub fault: String,
    /// Checked parameters, as JSON.
    pub params: serde_json::Value,
    /// The undo record, as JSON (a `fault::Undo`).
    pub undo: serde_json::Value,
    pub deadline_ms: i64,
    /// Lease TTL for remote injections; `None` for local ones.
    pub lease_ms: Option<i64>,
}

/// One injection as the journal holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectionRecord {
    pub id: InjectionId,
    pub run: Option<RunId>,
    pub fault: String,
    pub params: serde_json::Value,
    pub undo: serde_json::Value,
    pub state: InjectionState,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub deadline_ms: i64,
    pub lease_ms: Option<i64>,
    pub lease_expires_ms: Option<i64>,
    /// Why it ended the way it did (rollback reason, error text).
    pub note: Option<String>,
    /// The deadline and lease on the boot clock, which decide (see `journal::clock`); `None`
    /// for a record journaled by an older faultdrill or where the boot clock was unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootTimes>,
    /// The last change on the boot clock (the retry backoff of a failed rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_boot: Option<BootStamp>,
}

/// One run as the journal holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub name: String,
    pub state: String,
    pub outcome: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

/// Why the journal could not be read or written. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("create the state directory {path}; pass --state-dir or set FAULTDRILL_STATE_DIR to a writable directory")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("use the journal {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The database file is damaged or is not one (see `journal::failure`).
    #[error(
        "use the journal {path}: it is damaged, so it cannot say what faultdrill injected. Move it aside: \
         `{move_aside}`; then run `faultdrill recover --sweep` (with --dry-run to look first), which rolls back \
         what faultdrill owns on this host without the journal"
    )]
    Damaged {
        path: PathBuf,
        move_aside: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The state dir's filesystem has no room left.
    #[error(
        "write the journal {path}: the state dir's filesystem ({dir}) is full. faultdrill journals every undo \
         before it injects, so nothing is injected until there is room: free space there, or point --state-dir \
         (FAULTDRILL_STATE_DIR) at another filesystem"
    )]
    Full {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Another process held the database locked longer than faultdrill waits.
    #[error(
        "use the journal {path}: another process has held it locked for longer than faultdrill waits ({} s), so \
         this call gave up and left nothing injected. Find that process with `fuser -v {path}` (a `sqlite3` shell \
         left open, a stuck faultdrill), let it finish, and retry",
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// The journal of one state directory. Cheap to share behind an `Arc`.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const INJECTION_COLUMNS: &str = "id, run_id, fault, params, undo, state, created_ms, updated_ms, \
     deadline_ms, lease_ms, lease_expires_ms, note, boot_id, deadline_boot_ms, lease_expires_boot_ms, \
     updated_boot_id, updated_boot_ms";

impl Journal {
    /// Opens (creating if needed) `<state_dir>/journal.db`.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|source| JournalError::StateDir { path: state_dir.to_path_buf(), source })?;
        let path = state_dir.join("journal.db");
        let sql = |source| super::failure::classify(&path, source);
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        // Switching to WAL and creating the schema can meet another process doing the same
        // on a fresh file; SQLite answers "busy" there without waiting, so wait here.
        let give_up = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match super::schema::set_up(&conn) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < give_up => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(sql(e)),
            }
        }
        Ok(Journal { path, conn: Mutex::new(conn) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, JournalError> {
        let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn).map_err(|source| super::failure::classify(&self.path, source))
    }

    /// Commits an injection's undo as `pending`, before the fault is applied.
    pub fn record_pending(&self, new: &NewInjection) -> Result<(), JournalError> {
        self.with(|c| insert_pending(c, new))
    }

    /// Like [`Journal::record_pending`], unless an injection of the same fault is still
    /// pending or active: then nothing is written and that injection's id is returned.
    /// The check and the write are one immediate transaction, so two controllers sharing
    /// this journal (a run and an API inject, a CLI and a daemon) cannot both pass it.
    pub fn record_pending_exclusive(&self, new: &NewInjection) -> Result<Option<InjectionId>, JournalError> {
        self.with(|c| {
            let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            let live: Option<String> = tx
                .query_row(
                    "SELECT id FROM injections WHERE fault = ?1 AND state IN ('pending', 'active') \
                     ORDER BY created_ms DESC LIMIT 1",
                    [&new.fault],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(id) = live {
                return Ok(Some(InjectionId::from_string(&id)));
            }
            insert_pending(&tx, new)?;
            tx.commit()?;
            Ok(None)
        })
    }

    /// Marks an applied injection `active`, replacing its undo record when applying
    /// learned more (e.g. the helper processes it started), in one write.
    ///
    /// Its hold and its lease start now, not when it was journaled as pending: `applying`
    /// (how long the apply took, on the caller's monotonic clock) moves the deadline, and the
    /// lease runs from now. An apply can take minutes (a cloud CLI stopping instances), and
    /// until it ends the controller does not know the id it would renew: counted from the
    /// request, the lease would expire under an apply longer than it, and the deadline would
    /// cut the hold short by the apply's length.
    pub fn activate(
        &self,
        id: &InjectionId,
        refined_undo: Option<&serde_json::Value>,
        applying: std::time::Duration,
    ) -> Result<(), JournalError> {
        let now = Now::read();
        let shift = applying.as_millis().min(i64::MAX as u128) as i64;
        self.with(|c| {
            c.execute(
                "UPDATE injections SET state = 'active', undo = COALESCE(?2, undo), updated_ms = ?3, \
                 updated_boot_id = ?4, updated_boot_ms = ?5, \
                 deadline_ms = deadline_ms + ?6, deadline_boot_ms = deadline_boot_ms + ?6, \
                 lease_expires_ms = ?3 + lease_ms, \
                 lease_expires_boot_ms = CASE WHEN boot_id = ?4 THEN ?5 + lease_ms ELSE lease_expires_boot_ms END \
                 WHERE id = ?1",
                params![
                    id.as_str(),
                    refined_undo.map(|u| u.to_string()),
                    now.wall_ms,
                    now.boot.map(|b| b.id),
                    now.boot.map(|b| b.ms),
                    shift
                ],
            )
            .map(|_| ())
        })
    }

    /// Moves an injection to `state`, with a note saying why.
    pub fn set_state(&self, id: &InjectionId, state: InjectionState, note: Option<&str>) -> Result<(), JournalError> {
        let now = Now::read();
        self.with(|c| {
            c.execute(
                "UPDATE injections SET state = ?2, note = COALESCE(?3, note), updated_ms = ?4, \
                 updated_boot_id = ?5, updated_boot_ms = ?6 WHERE id = ?1",
                params![id.as_str(), state.as_str(), note, now.wall_ms, now.boot.map(|b| b.id), now.boot.map(|b| b.ms)],
            )
            .map(|_| ())
        })
    }

    /// Pushes the lease of an injection `lease_ms` into the future, on both clocks. Returns
    /// false if unknown. The boot-clock lease of a record from another boot is left as it is:
    /// the host rebooted under it, so it is due now whatever a controller says.
    pub fn renew_lease(&self, id: &InjectionId) -> Result<bool, JournalError> {
        let now = Now::read();
        self.with(|c| {
            c.execute(
                "UPDATE injections SET lease_expires_ms = ?2 + lease_ms, updated_ms = ?2, \
                 lease_expires_boot_ms = CASE WHEN boot_id = ?3 THEN ?4 + lease_ms ELSE lease_expires_boot_ms END, \
                 updated_boot_id = ?3, updated_boot_ms = ?4 \
                 WHERE id = ?1 AND lease_ms IS NOT NULL AND state IN ('pending', 'active')",
                params![id.as_str(), now.wall_ms, now.boot.map(|b| b.id), now.boot.map(|b| b.ms)],
            )
            .map(|n| n > 0)
        })
    }

    /// One injection by id.
    pub fn get(&self, id: &InjectionId) -> Result<Option<InjectionRecord>, JournalError> {
        let sql = format!("SELECT {INJECTION_COLUMNS} FROM injections WHERE id = ?1");
        self.with(|c| c.query_row(&sql, [id.as_str()], row_to_injection).optional())
    }

    /// Every injection that is pending, active, or whose rollback failed (it may still be
    /// in place: DESIGN §4 rule 9), newest first (the rollback order). "Newest" is the order
    /// they were journaled in (SQLite's rowid only grows while a row is kept), never their
    /// wall-clock times, which a clock step can put out of order.
    pub fn live(&self) -> Result<Vec<InjectionRecord>, JournalError> {
        self.query_injections("WHERE state IN ('pending', 'active', 'failed') ORDER BY rowid DESC", [])
    }

    /// Live injections of one fault kind (to refuse a second one on the same host).
    pub fn live_of_fault(&self, fault: &str) -> Result<Vec<InjectionRecord>, JournalError> {
        self.query_injections(
            "WHERE state IN ('pending', 'active', 'failed') AND fault = ?1 ORDER BY created_ms DESC",
            [fault],
        )
    }

    /// The most recent injections, any state.
    pub fn recent(&self, limit: usize) -> Result<Vec<InjectionRecord>, JournalError> {
        self.query_injections("ORDER BY created_ms DESC, rowid DESC LIMIT ?1", [limit as i64])
    }

    /// Live injections whose deadline or lease has passed at `now`, and failed rollbacks
    /// whose next retry has come, newest first, each with why it is due (see `journal::clock`:
    /// the boot clock decides, never a step of the wall clock).
    pub fn overdue(&self, now: &Now) -> Result<Vec<(InjectionRecord, Due)>, JournalError> {
        Ok(self
            .live()?
            .into_iter()
            .filter_map(|r| match due_in(&r, now) {
                Some((left, why)) if left <= 0 => Some((r, why)),
                _ => None,
            })
            .collect())
    }

    /// How long until the next live injection is due (see [`Journal::overdue`]), in
    /// milliseconds (zero or less: one is due now); `None` when nothing is live.
    pub fn next_due_in(&self, now: &Now) -> Result<Option<i64>, JournalError> {
        Ok(self.live()?.iter().filter_map(|r| due_in(r, now)).map(|(left, _)| left).min())
    }

    fn query_injections<P: rusqlite::Params>(&self, tail: &str, args: P) -> Result<Vec<InjectionRecord>, JournalError> {
        let sql = format!("SELECT {INJECTION_COLUMNS} FROM injections {tail}");
        self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(args, row_to_injection)?;
            rows.collect()
        })
    }

    /// Records that a run started.
    pub fn record_run_start(&self, id: &RunId, name: &str) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO runs (id, name, state, started_ms) VALUES (?1, ?2, 'running', ?3)",
                params![id.as_str(), name, now_ms()],
            )
            .map(|_| ())
        })
    }

    /// Records a run's state, and its outcome once it has one.
    pub fn record_run_state(&self, id: &RunId, state: &str, outcome: Option<&str>) -> Result<(), JournalError> {
        let finished = outcome.map(|_| now_ms());
        self.with(|c| {
            c.execute(
                "UPDATE runs SET state = ?2, outcome = COALESCE(?3, outcome), \
                 finished_ms = COALESCE(?4, finished_ms) WHERE id = ?1",
                params![id.as_str(), state, outcome, finished],
            )
            .map(|_| ())
        })
    }

    /// The most recent runs.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, JournalError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, name, state, outcome, started_ms, finished_ms FROM runs \
                 ORDER BY started_ms DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok(RunRecord {
                    id: RunId::from_string(r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    state: r.get(2)?,
                    outcome: r.get(3)?,
                    started_ms: r.get(4)?,
                    finished_ms: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }
}

fn row_to_injection(r: &rusqlite::Row<'_>) -> rusqlite::Result<InjectionRecord> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let text: String = r.get(i)?;
        serde_json::from_str(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    Ok(InjectionRecord {
        id: InjectionId::from_string(r.get::<_, String>(0)?),
        run: r.get::<_, Option<String>>(1)?.map(RunId::from_string),
        fault: r.get(2)?,
        params: json(3)?,
        undo: json(4)?,
        state: InjectionState::parse(&r.get::<_, String>(5)?),
        created_ms: r.get(6)?,
        updated_ms: r.get(7)?,
        deadline_ms: r.get(8)?,
        lease_ms: r.get(9)?,
        lease_expires_ms: r.get(10)?,
        note: r.get(11)?,
        boot: match (r.get::<_, Option<String>>(12)?, r.get::<_, Option<i64>>(13)?) {
            (Some(boot_id), Some(deadline_ms)) => {
                Some(BootTimes { boot_id, deadline_ms, lease_expires_ms: r.get(14)? })
            }
            _ => None,
        },
        updated_boot: match (r.get::<_, Option<String>>(15)?, r.get::<_, Option<i64>>(16)?) {
            (Some(boot_id), Some(ms)) => Some(BootStamp { boot_id, ms }),
            _ => None,
        },
    })
}

/// How long a journal call waits for another process holding the database.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Inserts a new injection as `pending`, its deadline and lease on both clocks. The caller
/// read the deadline as "now + duration" on the wall clock a moment before: it is anchored on
/// the boot clock here, at the same reading as the lease.
fn insert_pending(c: &Connection, new: &NewInjection) -> rusqlite::Result<()> {
    let Now { wall_ms: now, boot } = Now::read();
    let (boot_id, boot_ms) = (boot.map(|b| b.id), boot.map(|b| b.ms));
    c.execute(
        "INSERT INTO injections (id, run_id, fault, params, undo, state, created_ms, updated_ms, \
         deadline_ms, lease_ms, lease_expires_ms, boot_id, deadline_boot_ms, lease_expires_boot_ms, \
         updated_boot_id, updated_boot_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10, ?13)",
        params![
            new.id.as_str(),
            new.run.as_ref().map(|r| r.as_str().to_string()),
            new.fault,
            new.params.to_string(),
            new.undo.to_string(),
            now,
            new.deadline_ms,
            new.lease_ms,
            new.lease_ms.map(|l| now + l),
            boot_id,
            boot_ms.map(|b| b + (new.deadline_ms - now)),
            boot_ms.zip(new.lease_ms).map(|(b, l)| b + l),
            boot_ms,
        ],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::BootNow;

    fn sample(id: &InjectionId, fault: &str) -> NewInjection {
        NewInjection {
            id: id.clone(),
            run: None,
            fault: fault.into(),
            params: serde_json::json!({"path": "/tmp"}),
            undo: serde_json::json!({"kind": "nothing"}),
            deadline_ms: now_ms() + 60_000,
            lease_ms: None,
        }
    }

    #[test]
    fn pending_then_active_then_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let id = InjectionId::generate();
        journal.record_pending(&sample(&id, "disk-fill")).unwrap();
        assert_eq!(journal.live().unwrap().len(), 1);
        journal.set_state(&id, InjectionState::Active, None).unwrap();
        assert_eq!(journal.live_of_fault("disk-fill").unwrap().len(), 1);
        journal.set_state(&id, InjectionState::RolledBack, Some("completed")).unwrap();
        assert!(journal.live().unwrap().is_empty());
        let rec = journal.get(&id).unwrap().unwrap();
        assert_eq!(rec.state, InjectionState::RolledBack);
        assert_eq!(rec.note.as_deref(), Some("completed"));
    }

    #[test]
    fn an_exclusive_pending_record_is_refused_while_one_of_its_fault_is_live() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let (first, second) = (InjectionId::generate(), InjectionId::generate());
        assert_eq!(journal.record_pending_exclusive(&sample(&first, "cpu-burn")).unwrap(), None);
        assert_eq!(journal.record_pending_exclusive(&sample(&second, "cpu-burn")).unwrap(), Some(first.clone()));
        assert!(journal.get(&second).unwrap().is_none(), "the refused one is not written");
        assert_eq!(journal.record_pending_exclusive(&sample(&second, "disk-fill")).unwrap(), None);
        journal.set_state(&first, InjectionState::RolledBack, None).unwrap();
        let third = InjectionId::generate();
        assert_eq!(journal.record_pending_exclusive(&sample(&third, "cpu-burn")).unwrap(), None);
    }

    #[test]
    fn two_journals_on_one_file_never_both_pass_the_exclusive_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let winners: usize = std::thread::scope(|scope| {
            let tries: Vec<_> = (0..8)
                .map(|_| {
                    let path = path.clone();
                    scope.spawn(move || {
                        let journal = Journal::open(&path).unwrap();
                        let id = InjectionId::generate();
                        journal.record_pending_exclusive(&sample(&id, "memory-stress")).unwrap().is_none() as usize
                    })
                })
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
        assert_eq!(Journal::open(&path).unwrap().live_of_fault("memory-stress").unwrap().len(), 1);
    }

    #[test]
    fn journal_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        Journal::open(dir.path()).unwrap().record_pending(&sample(&id, "cpu-burn")).unwrap();
        let again = Journal::open(dir.path()).unwrap();
        assert_eq!(again.live().unwrap()[0].id, id);
    }

    #[test]
    fn overdue_finds_expired_leases() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let id = InjectionId::generate();
        journal.record_pending(&NewInjection { lease_ms: Some(10), ..sample(&id, "cpu-burn") }).unwrap();
        let now = Now::read();
        let at = |ms: i64| Now { wall_ms: now.wall_ms + ms, boot: now.boot.map(|b| BootNow { ms: b.ms + ms, ..b }) };
        assert!(journal.overdue(&at(-1_000)).unwrap().is_empty());
        let overdue = journal.overdue(&at(20)).unwrap();
        assert_eq!((overdue.len(), overdue[0].1), (1, Due::Lease));
        assert!(journal.renew_lease(&id).unwrap());
    }

    #[test]
    fn a_wall_clock_step_makes_nothing_overdue_and_a_reboot_makes_everything_overdue() {
        const HOUR: i64 = 3_600_000;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let id = InjectionId::generate();
        journal.record_pending(&NewInjection { lease_ms: Some(15_000), ..sample(&id, "cpu-burn") }).unwrap();
        let now = Now::read();
        let boot = now.boot.expect("the boot clock is readable here");
        let at = |wall_ms, boot_ms| Now { wall_ms, boot: Some(BootNow { ms: boot_ms, ..boot }) };
        assert!(journal.overdue(&at(now.wall_ms + HOUR, boot.ms)).unwrap().is_empty(), "a step forward");
        let left = journal.next_due_in(&at(now.wall_ms + HOUR, boot.ms)).unwrap().unwrap();
        assert!((14_000..=15_000).contains(&left), "the lease has {left} ms left");
        let back = journal.overdue(&at(now.wall_ms - HOUR, boot.ms + 15_001)).unwrap();
        assert_eq!(back.iter().map(|(r, why)| (&r.id, *why)).collect::<Vec<_>>(), [(&id, Due::Lease)], "a step back");
        let rebooted = Now { wall_ms: now.wall_ms, boot: Some(BootNow { id: "another-boot", ms: 1_000 }) };
        assert_eq!(journal.overdue(&rebooted).unwrap()[0].1, Due::Rebooted);
        assert_eq!(journal.next_due_in(&rebooted).unwrap(), Some(0));
    }

    #[test]
    fn live_injections_come_newest_first_even_when_the_wall_clock_stepped_back_between_them() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let (first, second) = (InjectionId::generate(), InjectionId::generate());
        journal.record_pending(&sample(&first, "cpu-burn")).unwrap();
        journal.record_pending(&sample(&second, "disk-fill")).unwrap();
        journal
            .with(|c| {
                c.execute("UPDATE injections SET created_ms = created_ms - 3600000 WHERE id = ?1", [second.as_str()])
            })
            .unwrap();
        let order: Vec<_> = journal.live().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(order, [second, first], "rolled back in the reverse of the order they were applied");
    }
}
