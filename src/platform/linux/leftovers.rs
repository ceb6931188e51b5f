//! What an undone fault may have left behind, looked at afresh: a file (or its space,
//! held by an open descriptor), an nftables table, a root qdisc, a stopped process, a
//! live helper. Each check returns what is still there, in words for an operator;
//! nothing here changes anything.

use std::path::Path;
use std::time::{Duration, Instant};

use super::procs::{ProcRef, all_pids, read_stat};
use super::tc::{self, TcError};
use super::{conntrack, fusemount, helpers, iproute, netns, nft};
use crate::ids::InjectionId;

/// How long a process just sent SIGCONT may take to leave the stopped state.
const SETTLE: Duration = Duration::from_millis(500);

fn where_(netns: Option<&str>) -> String {
    netns.map(|n| format!(" in network namespace `{n}`")).unwrap_or_default()
}

/// What is left of a deleted file: the file itself, or the space of it that a process
/// still holds open (unlinked, but not freed until that descriptor is closed).
pub fn file(path: &Path) -> Vec<String> {
    if path.symlink_metadata().is_ok() {
        return vec![format!("the file {} still exists", path.display())];
    }
    holders_of_deleted(path)
        .into_iter()
        .map(|(pid, comm)| {
            format!(
                "{} is deleted but pid {pid} ({comm}) still holds it open, so its space is not freed; \
                 stop that process or close the file",
                path.display()
            )
        })
        .collect()
}

/// The processes with an open descriptor on `path` after it was unlinked.
fn holders_of_deleted(path: &Path) -> Vec<(i32, String)> {
    let wanted = format!("{} (deleted)", path.display());
    let mut holders = Vec::new();
    for pid in all_pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        let holds =
            fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == wanted.as_str()));
        if holds {
            holders.push((pid, read_stat(pid).map(|s| s.comm).unwrap_or_default()));
        }
    }
    holders
}

/// The nftables table, if it is still there (or could not be looked at).
pub fn nft_table(netns: Option<&str>, family: &str, table: &str) -> Option<String> {
    match nft::table_exists(netns, family, table) {
        Ok(false) => None,
        Ok(true) => Some(format!("nftables table {family} {table}{} is still there", where_(netns))),
        Err(e) => Some(format!("could not check that nftables table {family} {table}{} is gone: {e}", where_(netns))),
    }
}

/// The root qdisc of `device`, if it still carries `handle` or is not back to `before`
/// (the kind of the kernel's default root recorded before the fault, when known).
pub fn root_qdisc(netns: Option<&str>, device: &str, handle: &str, before: Option<&str>) -> Option<String> {
    if netns.is_some_and(|name| !netns::exists(name)) {
        return None;
    }
    let root = match tc::root_qdisc(netns, device) {
        Ok(root) => root,
        Err(TcError::DeviceMissing { .. }) | Err(TcError::Netns(netns::NetnsError::Missing { .. })) => return None,
        Err(e) => return Some(format!("could not check the root qdisc of {device}{}: {e}", where_(netns))),
    };
    let now = format!("{} {}", root.kind, tc::handle_text(root.major));
    if tc::handle_text(root.major) == handle {
        return Some(format!("root qdisc {now} of {device}{} is still there", where_(netns)));
    }
    match before {
        Some(kind) if !(root.is_default() && root.kind == kind) => {
            Some(format!("the root qdisc of {device}{} is {now}, not the recorded {kind} 0:", where_(netns)))
        }
        _ => None,
    }
}

/// The fwmark policy-routing rule, if it is still there (or could not be looked at).
pub fn ip_rule(netns: Option<&str>, ipv6: bool, priority: u32, fwmark: u32, table: u32) -> Option<String> {
    let rule = format!("ip rule priority {priority} fwmark {fwmark:#x} lookup {table}");
    match iproute::rule_exists(netns, ipv6, priority, fwmark, table) {
        Ok(false) => None,
        Ok(true) => Some(format!("{rule}{} is still there", where_(netns))),
        Err(e) => Some(format!("could not check that {rule}{} is gone: {e}", where_(netns))),
    }
}

/// The network device, if it is still there (or could not be looked at).
pub fn link(netns: Option<&str>, device: &str) -> Option<String> {
    match iproute::link_exists(netns, device) {
        Ok(false) => None,
        Ok(true) => Some(format!("device {device}{} is still there", where_(netns))),
        Err(e) => Some(format!("could not check that device {device}{} is gone: {e}", where_(netns))),
    }
}

/// Redirected flows to `port` the kernel still tracks (they would keep going to a
/// resolver that is gone), if any (or if they could not be looked at).
pub fn redirected_flows(netns: Option<&str>, port: u16) -> Option<String> {
    match conntrack::count_redirected(netns, port) {
        Ok(0) => None,
        Ok(n) => Some(format!("{n} redirected flow(s) to port {port}{} are still tracked", where_(netns))),
        Err(e) => {
            Some(format!("could not check that no redirected flow to port {port}{} is tracked: {e}", where_(netns)))
        }
    }
}

/// The FUSE mount faultdrill made at `mountpoint`, if it is still mounted there (or
/// mountinfo could not be read).
pub fn fuse_mount(mountpoint: &Path, source: &str) -> Option<String> {
    match fusemount::mounts() {
        Ok(mounts) => mounts
            .iter()
            .any(|m| m.mountpoint == mountpoint && m.source == source)
            .then(|| format!("the FUSE mount {source} on {} is still there", mountpoint.display())),
        Err(e) => Some(format!("could not read mountinfo to check {} is unmounted: {e}", mountpoint.display())),
    }
}

/// The recorded processes that are still stopped (state `T`), after a short settle.
pub fn stopped(processes: &[ProcRef]) -> Vec<String> {
    let still = || -> Vec<(ProcRef, String)> {
        processes
            .iter()
            .filter_map(|p| {
                read_stat(p.pid).filter(|s| s.start_time == p.start_time && s.state == 'T').map(|s| (*p, s.comm))
            })
            .collect()
    };
    let give_up = Instant::now() + SETTLE;
    let mut left = still();
    while !left.is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
        left = still();
    }
    left.into_iter()
        .map(|(p, comm)| {
            format!("pid {} ({comm}) is still stopped (state T); send it SIGCONT: `kill -CONT {}`", p.pid, p.pid)
        })
        .collect()
}

/// The helpers of `injection` still alive: the recorded ones (same PID and start time),
/// and any other process carrying its tag.
pub fn helpers(injection: &InjectionId, known: &[ProcRef]) -> Vec<String> {
    let still = || {
        let mut alive: Vec<ProcRef> = known.iter().copied().filter(ProcRef::is_alive).collect();
        for found in helpers::find_helpers(injection) {
            if !alive.contains(&found) {
                alive.push(found);
            }
        }
        alive
    };
    // A helper's own companion (the io guard, which unmounts if its helper dies) ends by
    // itself once the helper is gone: give it the same short settle as a resumed process.
    let give_up = Instant::now() + SETTLE;
    let mut alive = still();
    while !alive.is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
        alive = still();
    }
    alive
        .into_iter()
        .map(|p| format!("helper pid {} of {injection} is still running; stop it with `kill -9 {}`", p.pid, p.pid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_there_or_held_open_after_unlink_is_left_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faultdrill-fill-x");
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(file(&path).len(), 1, "the file itself");
        let held = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let left = file(&path);
        assert!(left.len() == 1 && left[0].contains("still holds it open"), "{left:?}");
        drop(held);
        assert!(file(&path).is_empty());
    }

    #[test]
    fn a_live_helper_is_left_over_recorded_or_only_tagged() {
        let id = InjectionId::generate();
        // A stand-in helper: a shell that keeps the tag in its argv.
        let script = format!("echo {}; while :; do sleep 0.1; done", helpers::READY_LINE);
        let tagged = vec!["-c".into(), script, "helper".into(), "--injection".into(), id.to_string()];
        let helper = helpers::spawn_helper(Path::new("/bin/sh"), &tagged, Duration::from_secs(5)).unwrap();
        // (A child the shell has forked but not yet exec'd carries the tag too, briefly.)
        assert!(helpers(&id, &[helper]).iter().any(|l| l.contains(&format!("pid {} ", helper.pid))), "recorded");
        assert!(!helpers(&id, &[]).is_empty(), "found by its tag");
        helpers::stop_helpers(&id, &[helper]).unwrap();
        let give_up = Instant::now() + Duration::from_secs(2);
        while !helpers(&id, &[helper]).is_empty() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(helpers(&id, &[helper]).is_empty());
    }

    #[test]
    fn a_stopped_process_is_left_over_until_it_runs() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let p = ProcRef::of_pid(child.id() as i32).unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), nix::sys::signal::Signal::SIGSTOP).unwrap();
        while read_stat(p.pid).unwrap().state != 'T' {
            std::thread::sleep(Duration::from_millis(5));
        }
        let left = stopped(&[p]);
        assert!(left.len() == 1 && left[0].contains("still stopped"), "{left:?}");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), nix::sys::signal::Signal::SIGCONT).unwrap();
        assert!(stopped(&[p]).is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
