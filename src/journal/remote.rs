//! The controller's record of injections it asked daemons for: which host (inventory name
//! and URL), how to reach it again (where its token comes from, never the token, and its CA
//! file), the run and fault, and the daemon's injection id once it answered.
//!
//! A record is written `pending` *before* the daemon is asked, so a controller killed at any
//! point leaves enough for `faultdrill recover --all` to find and roll back, through the
//! daemon, whatever it may have injected (by id, or by run and fault if the answer was lost).

use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::ids::{InjectionId, RunId};

use super::store::{InjectionState, Journal, JournalError, now_ms};

pub(super) const REMOTE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS remote_injections (
    key TEXT PRIMARY KEY,
    run_id TEXT,
    host TEXT NOT NULL,
    url TEXT NOT NULL,
    token_env TEXT,
    token_file TEXT,
    ca_file TEXT,
    fault TEXT NOT NULL,
    injection_id TEXT,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    note TEXT
);
CREATE INDEX IF NOT EXISTS remote_injections_state ON remote_injections(state);
";

const COLUMNS: &str = "key, run_id, host, url, token_env, token_file, ca_file, fault, injection_id, state, \
     created_ms, updated_ms, deadline_ms, note";

/// How to reach a daemon again from a fresh process: never the token itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteReach {
    /// The inventory name of the host.
    pub host: String,
    pub url: String,
    /// The controller's environment variable holding the token.
    pub token_env: Option<String>,
    /// The controller's file holding the token.
    pub token_file: Option<PathBuf>,
    /// A private CA (PEM) to trust for https.
    pub ca_file: Option<PathBuf>,
}

/// What is journaled before a daemon is asked to inject.
#[derive(Clone, Debug)]
pub struct NewRemoteInjection {
    /// The controller's own key for the record (the daemon's id is not known yet).
    pub key: InjectionId,
    pub run: Option<RunId>,
    pub reach: RemoteReach,
    pub fault: String,
    pub deadline_ms: i64,
}

/// One remote injection as the controller's journal holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteInjectionRecord {
    pub key: InjectionId,
    pub run: Option<RunId>,
    pub reach: RemoteReach,
    pub fault: String,
    /// The daemon's id, once it answered.
    pub injection: Option<InjectionId>,
    pub state: InjectionState,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub deadline_ms: i64,
    pub note: Option<String>,
}

impl Journal {
    /// Commits a remote injection as `pending`, before the daemon is asked for it.
    pub fn record_remote_pending(&self, new: &NewRemoteInjection) -> Result<(), JournalError> {
        let now = now_ms();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        self.with(|c| {
            c.execute(
                "INSERT INTO remote_injections (key, run_id, host, url, token_env, token_file, ca_file, fault, \
                 state, created_ms, updated_ms, deadline_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9, ?10)",
                params![
                    new.key.as_str(),
                    new.run.as_ref().map(|r| r.as_str().to_string()),
                    new.reach.host,
                    new.reach.url,
                    new.reach.token_env,
                    path(&new.reach.token_file),
                    path(&new.reach.ca_file),
                    new.fault,
                    now,
                    new.deadline_ms,
                ],
            )
            .map(|_| ())
        })
    }

    /// The daemon answered: its injection id, and whether the fault is held (`active`) or
    /// already over (an instantaneous fault: `rolled_back`).
    pub fn record_remote_injected(
        &self,
        key: &InjectionId,
        injection: &InjectionId,
        state: InjectionState,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE remote_injections SET injection_id = ?2, state = ?3, updated_ms = ?4 WHERE key = ?1",
                params![key.as_str(), injection.as_str(), state.as_str(), now_ms()],
            )
            .map(|_| ())
        })
    }

    /// Moves the record of key `key` to `state`, with a note saying why.
    pub fn set_remote_state(
        &self,
        key: &InjectionId,
        state: InjectionState,
        note: Option<&str>,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE remote_injections SET state = ?2, note = COALESCE(?3, note), updated_ms = ?4 WHERE key = ?1",
                params![key.as_str(), state.as_str(), note, now_ms()],
            )
            .map(|_| ())
        })
    }

    /// Moves the record of the daemon's injection `injection` at `url` to `state`.
    pub fn set_remote_state_of(
        &self,
        url: &str,
        injection: &InjectionId,
        state: InjectionState,
        note: Option<&str>,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE remote_injections SET state = ?3, note = COALESCE(?4, note), updated_ms = ?5 \
                 WHERE url = ?1 AND injection_id = ?2",
                params![url, injection.as_str(), state.as_str(), note, now_ms()],
            )
            .map(|_| ())
        })
    }

    /// Every remote injection that may still be in place (pending, active, or whose rollback
    /// failed or never reached its daemon), newest first (in the order they were journaled,
    /// which no clock step changes).
    pub fn live_remote(&self) -> Result<Vec<RemoteInjectionRecord>, JournalError> {
        self.query_remote("WHERE state IN ('pending', 'active', 'failed') ORDER BY rowid DESC", [])
    }

    /// The remote injection whose daemon id is `injection`, if any.
    pub fn remote_by_injection(&self, injection: &InjectionId) -> Result<Option<RemoteInjectionRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM remote_injections WHERE injection_id = ?1 OR key = ?1");
        self.with(|c| c.query_row(&sql, [injection.as_str()], row_to_remote).optional())
    }

    fn query_remote<P: rusqlite::Params>(
        &self,
        tail: &str,
        args: P,
    ) -> Result<Vec<RemoteInjectionRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM remote_injections {tail}");
        self.with(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(args, row_to_remote)?;
            rows.collect()
        })
    }
}

fn row_to_remote(r: &rusqlite::Row<'_>) -> rusqlite::Result<RemoteInjectionRecord> {
    Ok(RemoteInjectionRecord {
        key: InjectionId::from_string(r.get::<_, String>(0)?),
        run: r.get::<_, Option<String>>(1)?.map(RunId::from_string),
        reach: RemoteReach {
            host: r.get(2)?,
            url: r.get(3)?,
            token_env: r.get(4)?,
            token_file: r.get::<_, Option<String>>(5)?.map(PathBuf::from),
            ca_file: r.get::<_, Option<String>>(6)?.map(PathBuf::from),
        },
        fault: r.get(7)?,
        injection: r.get::<_, Option<String>>(8)?.map(InjectionId::from_string),
        state: InjectionState::parse(&r.get::<_, String>(9)?),
        created_ms: r.get(10)?,
        updated_ms: r.get(11)?,
        deadline_ms: r.get(12)?,
        note: r.get(13)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(fault: &str) -> NewRemoteInjection {
        NewRemoteInjection {
            key: InjectionId::generate(),
            run: Some(RunId::generate()),
            reach: RemoteReach {
                host: "web-1".into(),
                url: "http://127.0.0.1:7878".into(),
                token_env: Some("TOK".into()),
                ..RemoteReach::default()
            },
            fault: fault.into(),
            deadline_ms: now_ms() + 60_000,
        }
    }

    #[test]
    fn a_remote_injection_is_live_from_before_the_ask_until_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let pending = new("network-partition");
        journal.record_remote_pending(&pending).unwrap();
        let live = journal.live_remote().unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].state, live[0].injection.as_ref()), (InjectionState::Pending, None));
        assert_eq!(live[0].reach.token_env.as_deref(), Some("TOK"));

        let daemon_id = InjectionId::generate();
        journal.record_remote_injected(&pending.key, &daemon_id, InjectionState::Active).unwrap();
        assert_eq!(journal.remote_by_injection(&daemon_id).unwrap().unwrap().key, pending.key);
        assert!(journal.live().unwrap().is_empty(), "local recovery never sees remote records");

        journal
            .set_remote_state_of("http://127.0.0.1:7878", &daemon_id, InjectionState::RolledBack, Some("done"))
            .unwrap();
        assert!(journal.live_remote().unwrap().is_empty());
        let record = journal.remote_by_injection(&daemon_id).unwrap().unwrap();
        assert_eq!((record.state, record.note.as_deref()), (InjectionState::RolledBack, Some("done")));
    }
}
