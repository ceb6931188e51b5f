//! Policy routing with `ip`: faultdrill's own fwmark rules, routes in its own
//! table, and its own links, each added and deleted by exact selectors so a
//! delete never takes someone else's rule or device.

use super::netns::{self, NetnsError};
use super::{UndoError, UndoOutcome, names};

/// Why an `ip` command failed. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum IpError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// `ip` ran and refused.
    #[error("run `{command}`: {stderr}")]
    Failed { command: String, stderr: String },
}

/// `-4` or `-6`.
fn family(ipv6: bool) -> &'static str {
    if ipv6 { "-6" } else { "-4" }
}

/// Runs `ip ARGS` in `netns`, returning stdout.
pub fn ip(netns: Option<&str>, args: &[String]) -> Result<String, IpError> {
    let mut cmd = netns::command(netns, "ip")?;
    cmd.args(args);
    let out = netns::run(cmd, None)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(IpError::Failed {
        command: format!("ip {}", args.join(" ")),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The words of `ip rule add|del` for one fwmark rule.
pub fn rule_args(verb: &str, ipv6: bool, priority: u32, fwmark: u32, table: u32) -> Vec<String> {
    [family(ipv6), "rule", verb, "priority", &priority.to_string(), "fwmark", &format!("{fwmark:#x}")]
        .iter()
        .map(|s| s.to_string())
        .chain(["lookup".to_string(), table.to_string()])
        .collect()
}

/// The words of `ip route add default dev DEVICE table TABLE`.
pub fn default_route_args(ipv6: bool, device: &str, table: u32) -> Vec<String> {
    [family(ipv6), "route", "add", "default", "dev", device, "table", &table.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The MTU of `device` in `netns`.
pub fn mtu(netns: Option<&str>, device: &str) -> Result<u32, IpError> {
    let out = ip(netns, &["-o".into(), "link".into(), "show".into(), "dev".into(), device.into()])?;
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w == "mtu" {
            if let Some(n) = words.next().and_then(|n| n.parse().ok()) {
                return Ok(n);
            }
        }
    }
    Err(IpError::Failed {
        command: format!("ip link show dev {device}"),
        stderr: format!("no mtu in `{}`", out.trim()),
    })
}

fn missing_namespace(netns: Option<&str>) -> bool {
    netns.is_some_and(|n| !netns::exists(n))
}

/// Deletes one fwmark rule by all its selectors. Gone already (or its namespace gone) is success.
pub fn delete_rule(
    netns: Option<&str>,
    ipv6: bool,
    priority: u32,
    fwmark: u32,
    table: u32,
) -> Result<UndoOutcome, UndoError> {
    if missing_namespace(netns) {
        return Ok(UndoOutcome::AlreadyGone);
    }
    match ip(netns, &rule_args("del", ipv6, priority, fwmark, table)) {
        Ok(_) => Ok(UndoOutcome::Undone),
        Err(IpError::Failed { stderr, .. }) if stderr.contains("No such file or directory") => {
            Ok(UndoOutcome::AlreadyGone)
        }
        Err(IpError::Netns(NetnsError::Missing { .. })) => Ok(UndoOutcome::AlreadyGone),
        Err(e) => {
            Err(UndoError { what: format!("delete ip rule fwmark {fwmark:#x} lookup {table}: {e}"), source: None })
        }
    }
}

/// Deletes TUN device `device`, only if it still exists and is a TUN device
/// whose name starts with `prefix`. Gone already (or its namespace gone) is success.
pub fn delete_tun_link(netns: Option<&str>, device: &str, prefix: &str) -> Result<UndoOutcome, UndoError> {
    let undo_error = |what: String| UndoError { what, source: None };
    if !device.starts_with(prefix) || names::check_interface(device).is_err() {
        return Err(undo_error(format!("delete link `{device}`: not a faultdrill device name (`{prefix}...`)")));
    }
    if missing_namespace(netns) {
        return Ok(UndoOutcome::AlreadyGone);
    }
    let shown = match ip(netns, &["-d".into(), "-o".into(), "link".into(), "show".into(), "dev".into(), device.into()])
    {
        Ok(text) => text,
        Err(IpError::Failed { stderr, .. }) if stderr.contains("does not exist") => {
            return Ok(UndoOutcome::AlreadyGone);
        }
        Err(IpError::Netns(NetnsError::Missing { .. })) => return Ok(UndoOutcome::AlreadyGone),
        Err(e) => return Err(undo_error(format!("delete link {device}: {e}"))),
    };
    if !shown.contains(" tun ") {
        tracing::warn!(device, "A device of faultdrill's name is not a TUN device; left alone.");
        return Ok(UndoOutcome::AlreadyGone);
    }
    match ip(netns, &["link".into(), "del".into(), "dev".into(), device.into()]) {
        Ok(_) => Ok(UndoOutcome::Undone),
        // Its helper exited between our look and our delete, taking the device with it.
        Err(IpError::Failed { stderr, .. }) if stderr.contains("Cannot find device") => Ok(UndoOutcome::AlreadyGone),
        Err(e) => Err(undo_error(format!("delete link {device}: {e}"))),
    }
}

/// Whether the fwmark rule is still there (`None`: its namespace is gone, so it is too).
pub fn rule_exists(netns: Option<&str>, ipv6: bool, priority: u32, fwmark: u32, table: u32) -> Result<bool, IpError> {
    if missing_namespace(netns) {
        return Ok(false);
    }
    let shown =
        ip(netns, &[family(ipv6).into(), "rule".into(), "show".into(), "priority".into(), priority.to_string()])?;
    let wanted = format!("fwmark {fwmark:#x} lookup {table}");
    Ok(shown.lines().any(|line| line.contains(&wanted)))
}

/// The fwmark rules at `priority` (faultdrill's own), as (ipv6, fwmark, table).
pub fn rules_at(netns: Option<&str>, priority: u32) -> Result<Vec<(bool, u32, u32)>, IpError> {
    let mut rules = Vec::new();
    for ipv6 in [false, true] {
        let shown =
            ip(netns, &[family(ipv6).into(), "rule".into(), "show".into(), "priority".into(), priority.to_string()])?;
        for line in shown.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1));
            let fwmark = after("fwmark").and_then(|m| u32::from_str_radix(m.trim_start_matches("0x"), 16).ok());
            let table = after("lookup").and_then(|t| t.parse().ok());
            if let (Some(fwmark), Some(table)) = (fwmark, table) {
                rules.push((ipv6, fwmark, table));
            }
        }
    }
    Ok(rules)
}

/// Whether link `device` still exists (`false` also when its namespace is gone).
pub fn link_exists(netns: Option<&str>, device: &str) -> Result<bool, IpError> {
    if missing_namespace(netns) {
        return Ok(false);
    }
    match ip(netns, &["-o".into(), "link".into(), "show".into(), "dev".into(), device.into()]) {
        Ok(_) => Ok(true),
        Err(IpError::Failed { stderr, .. }) if stderr.contains("does not exist") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The links whose names start with `prefix`.
pub fn links_with_prefix(netns: Option<&str>, prefix: &str) -> Result<Vec<String>, IpError> {
    let shown = ip(netns, &["-o".into(), "link".into(), "show".into()])?;
    Ok(shown
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .map(|name| name.trim().split('@').next().unwrap_or_default().to_string())
        .filter(|name| name.starts_with(prefix))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_named_by_every_selector() {
        assert_eq!(
            rule_args("del", true, 31, 0x0fd1_0042, 265_355_330).join(" "),
            "-6 rule del priority 31 fwmark 0xfd10042 lookup 265355330"
        );
        assert_eq!(default_route_args(false, "fdly1", 7).join(" "), "-4 route add default dev fdly1 table 7");
    }

    #[test]
    fn only_faultdrill_names_are_ever_deleted() {
        assert!(delete_tun_link(None, "eth0", "fdly").is_err());
        assert_eq!(delete_tun_link(None, "fdlynotthere", "fdly").unwrap(), UndoOutcome::AlreadyGone);
    }
}
