//! Traffic control: faultdrill-owned root qdiscs, created and deleted with `tc`.
//!
//! faultdrill only ever *adds* a root qdisc (never `replace`), and only where
//! the kernel's default root is in place (handle `0:`). Its own root handles
//! lie in `fd00:`..`fdff:`, so a root carrying one is recognisably faultdrill's.

use std::sync::{Mutex, OnceLock};

use tracing::warn;

use super::names::{self, NameError};
use super::netns::{self, NetnsError};
use super::{UndoError, UndoOutcome};

/// The lowest root handle major faultdrill uses (`fd00:`).
pub const OWN_HANDLE_FIRST: u16 = 0xfd00;
/// The highest root handle major faultdrill uses (`fdff:`).
pub const OWN_HANDLE_LAST: u16 = 0xfdff;

/// Why a `tc` operation failed. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum TcError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// The device does not exist (in that namespace).
    #[error("find network device `{device}`{where_}: it does not exist (`ip link` lists devices)")]
    DeviceMissing { device: String, where_: String },
    /// `tc` ran and refused.
    #[error("run `{command}`: {stderr}")]
    Failed { command: String, stderr: String },
    /// The device name is not one (it would be parsed as `tc` syntax).
    #[error(transparent)]
    BadDevice(#[from] NameError),
}

/// The root qdisc of a device, as `tc qdisc show dev X root` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootQdisc {
    /// `noqueue`, `pfifo_fast`, `htb`, ...
    pub kind: String,
    /// The handle major (`0` for the kernel's default root).
    pub major: u16,
}

impl RootQdisc {
    /// Whether this is the kernel's default root (nobody configured it).
    pub fn is_default(&self) -> bool {
        self.major == 0
    }

    /// Whether this root carries a faultdrill handle.
    pub fn is_faultdrill(&self) -> bool {
        (OWN_HANDLE_FIRST..=OWN_HANDLE_LAST).contains(&self.major)
    }
}

/// Formats a handle major as `tc` writes it: `fd42:`.
pub fn handle_text(major: u16) -> String {
    format!("{major:x}:")
}

fn parse_handle(text: &str) -> Option<u16> {
    u16::from_str_radix(text.strip_suffix(':')?, 16).ok()
}

fn where_(netns: Option<&str>) -> String {
    netns.map(|n| format!(" in network namespace `{n}`")).unwrap_or_default()
}

fn failure(netns: Option<&str>, device: &str, command: String, stderr: &[u8]) -> TcError {
    let stderr = String::from_utf8_lossy(stderr).trim().to_string();
    if stderr.contains("Cannot find device") {
        return TcError::DeviceMissing { device: device.to_string(), where_: where_(netns) };
    }
    TcError::Failed { command, stderr }
}

/// The root qdisc of `device` in `netns`.
pub fn root_qdisc(netns: Option<&str>, device: &str) -> Result<RootQdisc, TcError> {
    names::check_interface(device)?;
    let mut cmd = netns::command(netns, "tc")?;
    cmd.args(["qdisc", "show", "dev", device, "root"]);
    let out = netns::run(cmd, None)?;
    if !out.status.success() {
        return Err(failure(netns, device, format!("tc qdisc show dev {device} root"), &out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("qdisc ")).unwrap_or("");
    let words: Vec<&str> = line.split_whitespace().collect();
    match (words.get(1), words.get(2).and_then(|h| parse_handle(h))) {
        (Some(kind), Some(major)) => Ok(RootQdisc { kind: kind.to_string(), major }),
        _ => Err(TcError::Failed {
            command: format!("tc qdisc show dev {device} root"),
            stderr: format!("unexpected output `{}`", text.trim()),
        }),
    }
}

/// Every root qdisc in `netns` that carries a faultdrill handle, as `(device, handle)`.
pub fn own_roots(netns: Option<&str>) -> Result<Vec<(String, String)>, TcError> {
    let mut cmd = netns::command(netns, "tc")?;
    cmd.args(["qdisc", "show"]);
    let out = netns::run(cmd, None)?;
    if !out.status.success() {
        return Err(failure(netns, "", "tc qdisc show".into(), &out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    for line in text.lines() {
        // `qdisc htb fd12: dev va root refcnt 2 ...`
        let words: Vec<&str> = line.split_whitespace().collect();
        let is_root = words.contains(&"root");
        let device = words.iter().position(|w| *w == "dev").and_then(|i| words.get(i + 1));
        let handle = words.get(2).and_then(|h| parse_handle(h));
        if let (true, Some(device), Some(major)) = (is_root, device, handle) {
            if (OWN_HANDLE_FIRST..=OWN_HANDLE_LAST).contains(&major) {
                found.push((device.to_string(), handle_text(major)));
            }
        }
    }
    Ok(found)
}

/// Runs `tc` commands (without the leading `tc`) in one `tc -batch -`, stopping at the first failure.
pub fn run_batch(netns: Option<&str>, device: &str, commands: &[String]) -> Result<(), TcError> {
    run_batch_then(netns, device, commands, || {})
}

/// Applies a fault's `tc` commands: [`run_batch`], with the crash point `apply.mid` of the
/// torture tests. Armed, it splits the batch after its first command (the root qdisc) and
/// crashes there, leaving what a crash in the middle of `tc -batch` leaves: a root qdisc
/// without its classes and filters (`tc -batch` is not a transaction either).
pub fn apply_batch(netns: Option<&str>, device: &str, commands: &[String]) -> Result<(), TcError> {
    if crate::failpoint::is_armed("apply.mid") && commands.len() > 1 {
        run_batch(netns, device, &commands[..1])?;
        crate::failpoint::hit("apply.mid");
        return run_batch(netns, device, &commands[1..]);
    }
    run_batch(netns, device, commands)
}

fn run_batch_then(
    netns: Option<&str>,
    device: &str,
    commands: &[String],
    started: impl FnOnce(),
) -> Result<(), TcError> {
    // The device is the one free word in the script: never let anything else through.
    names::check_interface(device)?;
    let mut cmd = netns::command(netns, "tc")?;
    cmd.args(["-batch", "-"]);
    let script: String = commands.iter().map(|c| format!("{c}\n")).collect();
    let out = netns::run_then(cmd, Some(&script), started)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `tc -batch` names the failing line as "Command failed -:N".
    let failed = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Command failed -:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .and_then(|n| commands.get(n.saturating_sub(1)))
        .map_or_else(|| "tc -batch -".to_string(), |c| format!("tc {c}"));
    let detail: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("Command failed")).collect();
    Err(failure(netns, device, failed, detail.join("; ").as_bytes()))
}

/// Deletes the root qdisc of `device` in `netns`, only if it still carries `handle`
/// (the kernel checks the handle in the same request, so a root that changed
/// hands in between is never deleted). A missing namespace, device or handle is
/// "already gone".
pub fn delete_root_qdisc(netns: Option<&str>, device: &str, handle: &str) -> Result<UndoOutcome, UndoError> {
    let undo_error = |what: String| UndoError { what, source: None };
    if let Some(name) = netns {
        if !netns::exists(name) {
            return Ok(UndoOutcome::AlreadyGone);
        }
    }
    let wanted = parse_handle(handle).ok_or_else(|| undo_error(format!("read qdisc handle `{handle}`")))?;
    match root_qdisc(netns, device) {
        Ok(root) if root.major == wanted => {}
        Ok(root) => {
            if !root.is_default() {
                warn!(device, handle, found = %handle_text(root.major), "Root qdisc no longer faultdrill's; left alone.");
            }
            return Ok(UndoOutcome::AlreadyGone);
        }
        Err(TcError::DeviceMissing { .. }) | Err(TcError::Netns(NetnsError::Missing { .. })) => {
            return Ok(UndoOutcome::AlreadyGone);
        }
        Err(e) => return Err(undo_error(format!("delete root qdisc {handle} of {device}: {e}"))),
    }
    let command = format!("qdisc del dev {device} root handle {handle}");
    match run_batch_then(netns, device, &[command], || crate::failpoint::hit("rollback.mid")) {
        Ok(()) => Ok(UndoOutcome::Undone),
        Err(TcError::DeviceMissing { .. }) => Ok(UndoOutcome::AlreadyGone),
        Err(e) => match root_qdisc(netns, device) {
            // Someone else removed it between our look and our delete.
            Ok(root) if root.major != wanted => Ok(UndoOutcome::AlreadyGone),
            _ => Err(undo_error(format!("delete root qdisc {handle} of {device}: {e}"))),
        },
    }
}

/// The qdisc kinds among `kinds` this kernel cannot create, found by adding each
/// as the root of `lo` in a throwaway network namespace (nothing visible changes).
/// Results are remembered for the life of the process.
pub fn missing_qdisc_kinds(kinds: &[&'static str]) -> Result<Vec<&'static str>, NetnsError> {
    static KNOWN: OnceLock<Mutex<Vec<(&'static str, bool)>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Mutex::new(Vec::new()));
    let mut missing = Vec::new();
    for &kind in kinds {
        let cached = known.lock().expect("probe cache").iter().find(|(k, _)| *k == kind).map(|(_, ok)| *ok);
        let supported = match cached {
            Some(ok) => ok,
            None => {
                let mut cmd = netns::command_in_throwaway("tc");
                cmd.args(["qdisc", "add", "dev", "lo", "root", "handle", "1:", kind]);
                if kind == "tbf" {
                    cmd.args(["rate", "1mbit", "burst", "10kb", "latency", "10ms"]);
                }
                let out = netns::run(cmd, None)?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                // Only the kernel's own answer means the kind is missing; any other failure
                // (tc itself broken, out of memory) is an error, said as it is and not cached.
                if !out.status.success() && !stderr.contains("kind is unknown") && !stderr.contains("Unknown qdisc") {
                    return Err(NetnsError::Failed {
                        command: format!(
                            "tc qdisc add dev lo root handle 1: {kind} (in a throwaway network namespace)"
                        ),
                        stderr: stderr.trim().to_string(),
                    });
                }
                let ok = out.status.success();
                known.lock().expect("probe cache").push((kind, ok));
                ok
            }
        };
        if !supported {
            missing.push(kind);
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_print_and_parse_like_tc() {
        assert_eq!(handle_text(0xfd42), "fd42:");
        assert_eq!(parse_handle("fd42:"), Some(0xfd42));
        assert_eq!(parse_handle("0:"), Some(0));
        assert_eq!(parse_handle("fd42"), None);
        assert!(RootQdisc { kind: "htb".into(), major: 0xfd00 }.is_faultdrill());
        assert!(!RootQdisc { kind: "htb".into(), major: 0x8001 }.is_faultdrill());
        assert!(RootQdisc { kind: "noqueue".into(), major: 0 }.is_default());
    }
}
