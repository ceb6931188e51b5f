//! nftables: faultdrill-owned tables, created and deleted with `nft`.
//!
//! A table is created with one `nft -j -f -` transaction (nft JSON) starting
//! with `create table`, so it either appears whole or not at all, and an
//! existing table of the same name is an error, never overwritten.

use std::sync::OnceLock;

use super::netns::{self, NetnsError};
use super::{UndoError, UndoOutcome};

/// Why an `nft` operation failed. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// `nft` ran and refused.
    #[error("run `nft`: {stderr}")]
    Failed { stderr: String },
}

/// Applies an nft JSON document (`{"nftables": [...]}`) as one transaction in
/// `netns`: values travel as JSON strings and numbers, never as nft syntax.
pub fn apply_json(netns: Option<&str>, document: &serde_json::Value) -> Result<(), NftError> {
    let mut cmd = netns::command(netns, "nft")?;
    cmd.args(["-j", "-f", "-"]);
    let out = netns::run_then(cmd, Some(&document.to_string()), || crate::failpoint::hit("apply.mid"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().find(|l| l.contains("Error")).unwrap_or(stderr.trim()).to_string();
    Err(NftError::Failed { stderr: first.replace("/dev/stdin:", "line ") })
}

/// Deletes table `family table` in `netns`. A missing namespace or table is "already gone".
pub fn delete_table(netns: Option<&str>, family: &str, table: &str) -> Result<UndoOutcome, UndoError> {
    if let Some(name) = netns {
        if !netns::exists(name) {
            return Ok(UndoOutcome::AlreadyGone);
        }
    }
    let undo_error = |what: String| UndoError { what, source: None };
    let mut cmd = netns::command(netns, "nft").map_err(|e| undo_error(e.to_string()))?;
    cmd.args(["delete", "table", family, table]);
    let out = match netns::run_then(cmd, None, || crate::failpoint::hit("rollback.mid")) {
        Ok(out) => out,
        Err(NetnsError::Missing { .. }) => return Ok(UndoOutcome::AlreadyGone),
        Err(e) => return Err(undo_error(format!("delete nftables table {family} {table}: {e}"))),
    };
    if out.status.success() {
        return Ok(UndoOutcome::Undone);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No such file or directory") {
        return Ok(UndoOutcome::AlreadyGone);
    }
    Err(undo_error(format!(
        "delete nftables table {family} {table}: {}",
        stderr.lines().next().unwrap_or("nft failed").trim()
    )))
}

/// Whether table `family table` exists in `netns` (a missing namespace holds no table).
pub fn table_exists(netns: Option<&str>, family: &str, table: &str) -> Result<bool, NftError> {
    if netns.is_some_and(|name| !netns::exists(name)) {
        return Ok(false);
    }
    let mut cmd = netns::command(netns, "nft")?;
    cmd.args(["list", "table", family, table]);
    let out = match netns::run(cmd, None) {
        Ok(out) => out,
        Err(NetnsError::Missing { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if out.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No such file or directory") {
        return Ok(false);
    }
    Err(NftError::Failed { stderr: stderr.lines().next().unwrap_or("nft failed").trim().to_string() })
}

/// Every table in `netns`, as `(family, name)`.
pub fn list_tables(netns: Option<&str>) -> Result<Vec<(String, String)>, NftError> {
    let mut cmd = netns::command(netns, "nft")?;
    cmd.args(["list", "tables"]);
    let out = netns::run(cmd, None)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(NftError::Failed { stderr: stderr.lines().next().unwrap_or("nft failed").trim().to_string() });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["table", family, name] => Some((family.to_string(), name.to_string())),
            _ => None,
        })
        .collect())
}

/// Whether this kernel and `nft` can build what faultdrill's tables use
/// (an inet table, filter hooks, `numgen`), tried in a throwaway network namespace.
/// `Err` carries what `nft` said. Remembered for the life of the process.
pub fn probe() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let script = "create table inet faultdrill_probe\n\
                 add chain inet faultdrill_probe output { type filter hook output priority filter; policy accept; }\n\
                 add rule inet faultdrill_probe output meta l4proto { tcp, udp } th dport { 1 } numgen random mod 100 < 1 drop\n";
            let mut cmd = netns::command_in_throwaway("nft");
            cmd.args(["-f", "-"]);
            match netns::run(cmd, Some(script)) {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("nft failed").to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
}

/// Whether this kernel and `nft` can redirect locally sent traffic to a local
/// port (a nat chain on the output hook of an inet table, `redirect`, `meta
/// mark`), as dns-fault does; tried in a throwaway network namespace.
/// `Err` carries what `nft` said. Remembered for the life of the process.
pub fn probe_redirect() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let script = "create table inet faultdrill_probe\n\
                 add chain inet faultdrill_probe output { type nat hook output priority -100; policy accept; }\n\
                 add rule inet faultdrill_probe output meta mark 1 return\n\
                 add rule inet faultdrill_probe output meta l4proto { tcp, udp } th dport 53 redirect to :5353\n";
            let mut cmd = netns::command_in_throwaway("nft");
            cmd.args(["-f", "-"]);
            match netns::run(cmd, Some(script)) {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("nft failed").to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
}
