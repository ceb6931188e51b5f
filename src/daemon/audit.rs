//! The audit trail: every mutating call, allowed or refused, with its actor, peer,
//! request, target and outcome, in `<state-dir>/audit.db` (0600), kept across restarts.
//!
//! It never holds a secret: no header, no body, no query string is stored; an error
//! answer contributes only its first line, cut short.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use rusqlite::{Connection, params};
use tracing::error;

pub use crate::client::wire::AuditEntry as AuditRecord;
use crate::client::wire::ErrorBody;

use super::state::Shared;
use super::tokens::Caller;

/// The audit file's name in the state dir.
pub const AUDIT_FILE: &str = "audit.db";
/// The most audit records kept, whatever their age (a few hundred bytes each).
pub const AUDIT_KEEP_ROWS: i64 = 100_000;
/// The longest message kept per record, in characters.
const MAX_MESSAGE: usize = 200;

/// What a handler adds to its answer for the audit trail: what it acted on.
#[derive(Clone, Debug)]
pub struct AuditNote {
    pub target: String,
    pub message: String,
}

/// Why the audit trail could not be opened or read. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
#[error("use the audit trail {}", path.display())]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: rusqlite::Error,
}

/// The audit trail, written in the request's path (a few microseconds in WAL mode).
pub struct AuditLog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    peer TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at_ms);";

impl AuditLog {
    /// Opens (or creates, 0600) the trail in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<AuditLog, AuditError> {
        let path = state_dir.join(AUDIT_FILE);
        let fail = |source| AuditError { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(fail)?;
        // Only takes on a new file: then pruning gives pages back to the filesystem.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        super::private_files::make_private(&path).map_err(|e| AuditError {
            path: path.clone(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        Ok(AuditLog { conn: Mutex::new(conn), path })
    }

    /// Appends one record; a failure is logged, never hidden and never fatal to the call.
    pub fn record(&self, r: &AuditRecord) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let done = conn.execute(
            "INSERT INTO audit (at_ms, actor, role, peer, method, path, target, status, message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![r.at_ms, r.actor, r.role, r.peer, r.method, r.path, r.target, r.status, r.message],
        );
        if let Err(e) = done {
            error!(error = %e, path = %self.path.display(), "Could not write the audit trail.");
        }
    }

    /// Removes records older than the retention's age, and the oldest beyond
    /// [`AUDIT_KEEP_ROWS`]; returns how many went.
    pub fn prune(&self, retention: &crate::journal::Retention) -> Result<usize, AuditError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let cutoff = retention.cutoff_ms(crate::journal::now_ms());
        let prune = || -> rusqlite::Result<usize> {
            let n = conn.execute(
                "DELETE FROM audit WHERE at_ms < ?1 OR seq <= (SELECT MAX(seq) FROM audit) - ?2",
                params![cutoff, AUDIT_KEEP_ROWS],
            )?;
            if n > 0 {
                conn.execute_batch("PRAGMA incremental_vacuum;")?;
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            Ok(n)
        };
        prune().map_err(|source| AuditError { path: self.path.clone(), source })
    }

    /// Records from `since_ms` on, oldest first, at most `limit`.
    pub fn since(&self, since_ms: i64, limit: usize) -> Result<Vec<AuditRecord>, AuditError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        read_since(&conn, since_ms, limit).map_err(|source| AuditError { path: self.path.clone(), source })
    }
}

/// Reads the trail of `state_dir` from outside the daemon (`faultdrill audit`).
pub fn read(state_dir: &Path, since_ms: i64, limit: usize) -> Result<Vec<AuditRecord>, AuditError> {
    let path = state_dir.join(AUDIT_FILE);
    let fail = |source| AuditError { path: path.clone(), source };
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(fail)?;
    read_since(&conn, since_ms, limit).map_err(fail)
}

fn read_since(conn: &Connection, since_ms: i64, limit: usize) -> rusqlite::Result<Vec<AuditRecord>> {
    let mut stmt = conn.prepare(
        "SELECT at_ms, actor, role, peer, method, path, target, status, message FROM audit
         WHERE at_ms >= ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![since_ms, limit as i64], |r| {
        Ok(AuditRecord {
            at_ms: r.get(0)?,
            actor: r.get(1)?,
            role: r.get(2)?,
            peer: r.get(3)?,
            method: r.get(4)?,
            path: r.get(5)?,
            target: r.get(6)?,
            status: r.get(7)?,
            message: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// Middleware (outermost): records every call that is not a read, with what
/// authentication and the handler said about it.
pub async fn record_calls(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path: String = req.uri().path().chars().take(300).collect();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_string(), |c| c.0.ip().to_canonical().to_string());
    let at_ms = crate::journal::now_ms();
    let resp = next.run(req).await;
    let caller = resp.extensions().get::<Caller>().cloned();
    let note = resp.extensions().get::<AuditNote>().cloned();
    let status = resp.status().as_u16();
    let (resp, error_text) = if status >= 400 { error_message(resp).await } else { (resp, None) };
    let record = AuditRecord {
        at_ms,
        actor: caller.as_ref().map_or_else(|| "-".to_string(), |c| c.name.clone()),
        role: caller.map(|c| c.role.to_string()),
        peer,
        method,
        target: note.as_ref().map(|n| n.target.clone()).or_else(|| target_in(&path)),
        path,
        status,
        message: error_text.or(note.map(|n| n.message)).map(|m| shorten(&m)),
    };
    state.audit.record(&record);
    resp
}

/// The injection or run id in a path such as `/v1/injections/i-…/lease`.
fn target_in(path: &str) -> Option<String> {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some("injections" | "runs"), Some(id)) if !id.is_empty() => Some(id.to_string()),
        _ => None,
    }
}

/// Takes the error message out of an error answer, and puts the answer back together.
async fn error_message(resp: Response) -> (Response, Option<String>) {
    let (parts, body) = resp.into_parts();
    // Error answers are ours and already in memory (they may echo up to a request's size).
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            let text = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error);
            (Response::from_parts(parts, axum::body::Body::from(bytes)), text)
        }
        Err(_) => (Response::from_parts(parts, axum::body::Body::empty()), Some("unreadable error answer".into())),
    }
}

fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let mut out: String = first.chars().take(MAX_MESSAGE).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_audit_records_are_pruned_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        let now = crate::journal::now_ms();
        let mut r = AuditRecord {
            at_ms: now - 40 * 86_400_000,
            actor: "ci".into(),
            role: None,
            peer: "127.0.0.1".into(),
            method: "DELETE".into(),
            path: "/v1/injections/i-1".into(),
            target: None,
            status: 200,
            message: None,
        };
        log.record(&r);
        r.at_ms = now;
        log.record(&r);
        assert_eq!(log.prune(&crate::journal::Retention::default()).unwrap(), 1);
        assert_eq!(log.since(0, 10).unwrap().len(), 1);
    }

    #[test]
    fn records_are_kept_in_order_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        let mut r = AuditRecord {
            at_ms: 10,
            actor: "ci".into(),
            role: Some("operator".into()),
            peer: "127.0.0.1".into(),
            method: "POST".into(),
            path: "/v1/injections".into(),
            target: Some("i-1".into()),
            status: 201,
            message: None,
        };
        log.record(&r);
        r.status = 403;
        log.record(&r);
        drop(log);
        let back = read(dir.path(), 0, 10).unwrap();
        assert_eq!(back.iter().map(|r| r.status).collect::<Vec<_>>(), [201, 403]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(AUDIT_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn targets_come_from_the_path_and_messages_are_one_short_line() {
        assert_eq!(target_in("/v1/injections/i-abc/lease").as_deref(), Some("i-abc"));
        assert_eq!(target_in("/v1/runs/r-1/stop").as_deref(), Some("r-1"));
        assert_eq!(target_in("/v1/alertmanager"), None);
        assert_eq!(shorten("first\nsecond"), "first…");
    }
}
