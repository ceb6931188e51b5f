//! Connection tracking: forgetting the flows a redirect bound, with `conntrack`
//! (Debian package conntrack). Deleting an nft table stops new flows from being
//! redirected, but a flow the kernel already tracks keeps its binding (to a port
//! nobody listens on any more) for as long as it stays busy; forgetting it makes
//! its next packet a new flow that goes where it was addressed.

use super::netns::{self, NetnsError};
use super::{UndoError, UndoOutcome};

/// Whether the `conntrack` tool runs here. `Err` says why not.
pub fn probe() -> Result<(), String> {
    let mut cmd = netns::command(None, "conntrack").map_err(|e| e.to_string())?;
    cmd.arg("--version");
    match netns::run(cmd, None) {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("conntrack failed").to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How many redirected (`--dst-nat`) UDP and TCP flows to `port` the kernel still
/// tracks in `netns` (0 when the namespace is gone).
pub fn count_redirected(netns: Option<&str>, port: u16) -> Result<usize, String> {
    if netns.is_some_and(|name| !netns::exists(name)) {
        return Ok(0);
    }
    let mut count = 0;
    for family in ["ipv4", "ipv6"] {
        for proto in ["udp", "tcp"] {
            let mut cmd = netns::command(netns, "conntrack").map_err(|e| e.to_string())?;
            cmd.args(["-L", "-f", family, "-p", proto, "--orig-port-dst", &port.to_string(), "--dst-nat"]);
            let out = netns::run(cmd, None).map_err(|e| e.to_string())?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(stderr.lines().next().unwrap_or("conntrack -L failed").trim().to_string());
            }
            count += String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count();
        }
    }
    Ok(count)
}

/// Deletes, in `netns`, the tracked UDP and TCP flows (IPv4 and IPv6) to `port`
/// whose destination was rewritten (`--dst-nat`: a redirect). Idempotent: none
/// left, or no namespace, is "already gone". A flow that was not redirected is
/// never touched.
pub fn forget_redirected(netns: Option<&str>, port: u16) -> Result<UndoOutcome, UndoError> {
    if netns.is_some_and(|name| !netns::exists(name)) {
        return Ok(UndoOutcome::AlreadyGone);
    }
    let fail = |what: String| UndoError { what, source: None };
    let mut outcome = UndoOutcome::AlreadyGone;
    for family in ["ipv4", "ipv6"] {
        for proto in ["udp", "tcp"] {
            let mut cmd = netns::command(netns, "conntrack").map_err(|e| fail(e.to_string()))?;
            let port = port.to_string();
            cmd.args(["-D", "-f", family, "-p", proto, "--orig-port-dst", &port, "--dst-nat"]);
            let out = match netns::run(cmd, None) {
                Ok(out) => out,
                Err(NetnsError::Missing { .. }) => return Ok(UndoOutcome::AlreadyGone),
                Err(e) => return Err(fail(format!("forget redirected {proto} flows to port {port}: {e}"))),
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                outcome = UndoOutcome::Undone;
            } else if !stderr.contains(" 0 flow entries have been deleted") {
                let said = stderr.lines().next().unwrap_or("conntrack failed").trim().to_string();
                return Err(fail(format!("forget redirected {family} {proto} flows to port {port}: {said}")));
            }
        }
    }
    Ok(outcome)
}
