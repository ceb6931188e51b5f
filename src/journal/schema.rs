//! The journal's tables, and how a journal written by an older faultdrill is brought up to
//! date in place.
//!
//! The tables are created as the first schema had them; every column added since is listed
//! in [`ADDED_COLUMNS`] and added with `ALTER TABLE … ADD COLUMN` where it is missing. A new
//! file goes through the very same steps, so every test that opens a journal runs the
//! migration. Added columns are nullable, without a default: an older faultdrill names the
//! columns it reads and writes, so it keeps working on a migrated journal, and the rows it
//! writes (NULL in the new columns) read as "not known" (see `clock`: judged on the wall
//! clock). The check and the additions are one immediate transaction, so two processes
//! opening an old journal at once never both add a column.

use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS injections (
    id TEXT PRIMARY KEY,
    run_id TEXT,
    fault TEXT NOT NULL,
    params TEXT NOT NULL,
    undo TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    lease_ms INTEGER,
    lease_expires_ms INTEGER,
    note TEXT
);
CREATE INDEX IF NOT EXISTS injections_state ON injections(state);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
";

/// Columns added after the first schema, oldest first: (table, column, type).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // The deadline and lease on the boot clock (`clock`).
    ("injections", "boot_id", "TEXT"),
    ("injections", "deadline_boot_ms", "INTEGER"),
    ("injections", "lease_expires_boot_ms", "INTEGER"),
    ("injections", "updated_boot_id", "TEXT"),
    ("injections", "updated_boot_ms", "INTEGER"),
];

/// WAL mode, full syncs, the tables, and the columns added since.
pub(super) fn set_up(conn: &Connection) -> rusqlite::Result<()> {
    // Only takes on a new file (before any table): then pruning gives pages back (retention.rs).
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The WAL is cut back to this after a checkpoint, so it cannot stay at its peak size.
    conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(super::remote::REMOTE_SCHEMA)?;
    add_missing_columns(conn)
}

fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    // The usual case, a journal already up to date, takes no write lock.
    if missing_columns(conn)?.is_empty() {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    // Read again under the lock: another process may have just added them.
    for (table, column, kind) in missing_columns(&tx)? {
        tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    tx.commit()
}

fn missing_columns(conn: &Connection) -> rusqlite::Result<Vec<(&'static str, &'static str, &'static str)>> {
    let mut missing = Vec::new();
    for &(table, column, kind) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, column],
            |row| row.get(0),
        )?;
        if !present {
            missing.push((table, column, kind));
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InjectionId;
    use crate::journal::clock::{Due, Now, due_in};
    use crate::journal::{InjectionState, Journal, now_ms};

    /// A journal as faultdrill wrote it before the boot clock: the first schema, one live
    /// injection whose lease (wall clock) expires in 10 s.
    fn old_journal(dir: &std::path::Path) -> InjectionId {
        let c = Connection::open(dir.join("journal.db")).unwrap();
        c.execute_batch(SCHEMA).unwrap();
        let id = InjectionId::generate();
        let now = now_ms();
        c.execute(
            "INSERT INTO injections (id, fault, params, undo, state, created_ms, updated_ms, deadline_ms, lease_ms, \
             lease_expires_ms) VALUES (?1, 'cpu-burn', '{}', '{\"kind\":\"nothing\"}', 'active', ?2, ?2, ?3, 15000, ?4)",
            rusqlite::params![id.as_str(), now, now + 60_000, now + 10_000],
        )
        .unwrap();
        id
    }

    #[test]
    fn an_old_journal_gains_the_boot_clock_columns_and_keeps_its_injections() {
        let dir = tempfile::tempdir().unwrap();
        let id = old_journal(dir.path());
        let journal = Journal::open(dir.path()).unwrap();
        let missing = journal.with(missing_columns).unwrap();
        assert!(missing.is_empty(), "{missing:?}");
        let live = journal.live().unwrap();
        assert_eq!(live.len(), 1);
        let old = &live[0];
        assert_eq!((&old.id, old.state, old.boot.as_ref()), (&id, InjectionState::Active, None));
        // Judged on the wall clock, as when it was written: its lease has some 10 s left.
        let (left, why) = due_in(old, &Now::read()).unwrap();
        assert!((5_000..=10_000).contains(&left) && why == Due::Lease, "{left} ms, {why:?}");
        // A renewal moves its wall-clock lease; it has no boot-clock one to move.
        assert!(journal.renew_lease(&id).unwrap());
        let renewed = journal.get(&id).unwrap().unwrap();
        assert!(renewed.lease_expires_ms.unwrap() >= now_ms() + 10_000);
        assert_eq!(renewed.boot, None);
        // Opening it again changes nothing.
        drop(journal);
        assert_eq!(Journal::open(dir.path()).unwrap().live().unwrap().len(), 1);
    }

    #[test]
    fn several_connections_migrating_one_old_journal_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        old_journal(dir.path());
        let path = dir.path().to_path_buf();
        std::thread::scope(|scope| {
            let opens: Vec<_> =
                (0..6).map(|_| scope.spawn(|| Journal::open(&path).map(|j| j.live().unwrap().len()))).collect();
            for open in opens {
                assert_eq!(open.join().unwrap().unwrap(), 1);
            }
        });
    }
}
