//! Shared world of the torture tests: one network namespace (a veth pair inside it, so tc
//! and nft faults have a device of their own, and a resolv.conf of its own for dns-fault),
//! a data dir for disk-fill, a directory for the io faults' FUSE mounts, a sleeper for
//! process-pause, victims for process-kill, and an observation of everything faultdrill
//! could leave behind (tc, nft, policy-routing rules, routes, links such as network-delay's
//! TUN devices, the namespace's resolv.conf, mounts, files, helper processes, paused processes).
//!
//! Include it with `#[path = "torture_common/mod.rs"] mod torture_common;` after
//! `mod run_common;`.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faultdrill::journal::Journal;

#[path = "../io_fault_util/mod.rs"]
mod io_fault_util;

use io_fault_util::mounts_under;

use crate::run_common::{Owned, entries, faultdrill, pids_with_cmdline, run_state, sleeper, wait_until};

/// The fault kinds of the library, in the order the matrix prints them.
pub const KINDS: &[&str] = &[
    "cpu-burn",
    "memory-stress",
    "disk-fill",
    "process-pause",
    "process-kill",
    "network-delay",
    "network-loss",
    "network-partition",
    "network-bandwidth",
    "tcp-proxy-latency",
    "dns-fault",
    "io-latency",
    "io-error",
];

/// The kinds whose undo has a helper of its own and more than one kind of thing to undo
/// (network-delay here takes its user-space path: TUN device, fwmark rules, routes, nft
/// table, helper; dns-fault: nft redirect, resolver, watchdog; io faults: FUSE mount, helper,
/// guard). The matrix runs them as a test of their own, beside the others.
pub const HELPER_KINDS: &[&str] = &["network-delay", "dns-fault", "io-latency", "io-error"];

/// A network namespace with a veth pair `ta`/`tb` (10.88.0.1/24, 10.88.0.2/24), deleted on drop.
pub struct TortureNetns {
    pub name: String,
}

impl TortureNetns {
    pub fn new(tag: &str) -> TortureNetns {
        let name = format!("fdx{tag}{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).stderr(Stdio::null()).status();
        let ns = TortureNetns { name };
        sh(&["ip", "netns", "add", &ns.name]);
        let n = ns.name.clone();
        sh(&["ip", "-n", &n, "link", "set", "lo", "up"]);
        // No duplicate address detection: the veths' IPv6 link-local addresses (and their
        // local routes) come at once, not a second or two into the first observation.
        let no_dad = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"];
        sh(&[&["ip", "netns", "exec", &n, "sysctl", "-qw"][..], &no_dad].concat());
        sh(&["ip", "-n", &n, "link", "add", "ta", "type", "veth", "peer", "name", "tb"]);
        sh(&["ip", "-n", &n, "addr", "add", "10.88.0.1/24", "dev", "ta"]);
        sh(&["ip", "-n", &n, "addr", "add", "10.88.0.2/24", "dev", "tb"]);
        sh(&["ip", "-n", &n, "link", "set", "ta", "up"]);
        sh(&["ip", "-n", &n, "link", "set", "tb", "up"]);
        let settled =
            || sh(&["ip", "-n", &n, "-6", "route", "show", "table", "local"]).matches("local fe80::").count() == 2;
        assert!(wait_until(Duration::from_secs(10), settled), "the veths' link-local addresses did not come up");
        // What processes in the namespace read as /etc/resolv.conf (`ip netns exec` binds it):
        // dns-fault redirects queries to this nameserver.
        std::fs::create_dir_all(ns.etc()).unwrap();
        std::fs::write(ns.etc().join("resolv.conf"), RESOLV_CONF).unwrap();
        ns
    }

    /// `/etc/netns/NAME`: the files `ip netns exec` binds over /etc.
    pub fn etc(&self) -> std::path::PathBuf {
        Path::new("/etc/netns").join(&self.name)
    }

    /// Its qdiscs, the filters on `ta`, its whole nft ruleset, its policy-routing rules,
    /// the routes of every table, its links, and its resolv.conf.
    pub fn snapshot(&self) -> String {
        let n = self.name.as_str();
        let mut text = sh(&["ip", "netns", "exec", n, "tc", "qdisc", "show"]);
        text.push_str(&sh(&["ip", "netns", "exec", n, "tc", "filter", "show", "dev", "ta"]));
        text.push_str("--- nft\n");
        text.push_str(&sh(&["ip", "netns", "exec", n, "nft", "list", "ruleset"]));
        for ip in [
            &["-4", "rule", "show"][..],
            &["-6", "rule", "show"],
            &["-4", "route", "show", "table", "all"],
            &["-6", "route", "show", "table", "all"],
            &["link", "show"],
        ] {
            text.push_str(&format!("--- ip {}\n", ip.join(" ")));
            text.push_str(&sh(&[&["ip", "-n", n][..], ip].concat()));
        }
        text.push_str("--- resolv.conf\n");
        text.push_str(&std::fs::read_to_string(self.etc().join("resolv.conf")).unwrap_or_else(|e| e.to_string()));
        text
    }
}

/// The namespace's resolv.conf: a nameserver on its loopback (nothing listens there; no
/// query is sent in these tests, dns-fault only needs a resolver to redirect).
const RESOLV_CONF: &str = "nameserver 127.0.0.1\n";

impl Drop for TortureNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = std::fs::remove_dir_all(self.etc());
    }
}

/// Runs a command, returning stdout; panics with stderr if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).env("LC_ALL", "C").output().expect("spawn");
    assert!(out.status.success(), "`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What faultdrill could leave behind, compared before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub net: String,
    pub files: Vec<String>,
    pub sleeper: Option<&'static str>,
    /// Helper processes of any injection the journal knows (burners, holders, proxies, watchdogs).
    pub helpers: Vec<u32>,
    /// Anything listening on the proxy port.
    pub proxy_listening: bool,
    /// Mount table lines (/proc/self/mountinfo) at or below the io faults' directory.
    pub mounts: Vec<String>,
}

/// The world one torture test works in.
pub struct World {
    pub ns: TortureNetns,
    pub data: tempfile::TempDir,
    /// The directory io-latency and io-error mount over (holds one file).
    pub io: tempfile::TempDir,
    /// Its real path, as mount points are recorded (resolved once: a dead FUSE mount cannot be).
    pub io_path: std::path::PathBuf,
    pub work: tempfile::TempDir,
    pub sleeper: Owned,
    pub proxy_port: u16,
}

impl World {
    pub fn new(tag: &str, proxy_port: u16) -> World {
        let io = io_dir();
        World {
            ns: TortureNetns::new(tag),
            data: tempfile::tempdir().unwrap(),
            io_path: io.path().canonicalize().unwrap(),
            io,
            work: tempfile::tempdir().unwrap(),
            sleeper: sleeper(),
            proxy_port,
        }
    }

    /// Everything a fault could change, with the helpers of `journal`'s injections.
    pub fn observe(&self, state: &Path) -> Observed {
        Observed {
            net: self.ns.snapshot(),
            files: entries(self.data.path()),
            sleeper: run_state(self.sleeper.pid()),
            helpers: helpers_of(state),
            proxy_listening: std::net::TcpStream::connect(("127.0.0.1", self.proxy_port)).is_ok(),
            mounts: mounts_under(&self.io_path),
        }
    }

    /// One action of `kind` (YAML list item, indented for `actions:`), holding for `hold`.
    /// `victim` is the PID process-kill kills.
    pub fn action(&self, kind: &str, hold: &str, victim: u32) -> String {
        let ns = &self.ns.name;
        let params = match kind {
            "cpu-burn" => "{percent: 10, cores: 1}".to_string(),
            "memory-stress" => "{size: 8MiB}".to_string(),
            "disk-fill" => format!("{{path: {}, size: 1MiB}}", self.data.path().display()),
            "process-pause" => format!("{{pid: {}}}", self.sleeper.pid()),
            "process-kill" => format!("{{pid: {victim}, signal: SIGKILL}}"),
            "network-delay" => format!("{{latency: 50ms, interface: ta, netns: {ns}}}"),
            "network-loss" => format!("{{percent: 50, destinations: [10.88.0.2], netns: {ns}}}"),
            "network-partition" => format!("{{destinations: [10.88.0.2], ports: [9], netns: {ns}}}"),
            "network-bandwidth" => format!("{{rate: 1mbit, interface: ta, destinations: [10.88.0.2], netns: {ns}}}"),
            "tcp-proxy-latency" => {
                format!("{{listen: \"127.0.0.1:{}\", upstream: \"127.0.0.1:9\", latency: 10ms}}", self.proxy_port)
            }
            "dns-fault" => format!("{{names: [bad.test], effect: nxdomain, netns: {ns}}}"),
            "io-latency" => format!("{{path: {}, latency: 10ms}}", self.io_path.display()),
            "io-error" => format!("{{path: {}, errno: EIO}}", self.io_path.display()),
            other => panic!("no torture action for {other}"),
        };
        let duration = if kind == "process-kill" { String::new() } else { format!("\n        duration: {hold}") };
        format!("      - fault: {kind}\n        params: {params}{duration}\n")
    }
}

/// The io faults' directory, with a file in it.
fn io_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), b"torture").unwrap();
    dir
}

/// PIDs of helper processes of every injection `state`'s journal knows.
pub fn helpers_of(state: &Path) -> Vec<u32> {
    let Ok(journal) = Journal::open(state) else { return Vec::new() };
    let mut pids: Vec<u32> = journal
        .recent(10_000)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|r| pids_with_cmdline(&format!("--injection {}", r.id)))
        .collect();
    pids.sort_unstable();
    pids
}

/// A process for process-kill to kill.
pub fn victim() -> Owned {
    Owned(Command::new("sleep").arg("300").stdin(Stdio::null()).spawn().unwrap())
}

/// Waits until no `tc`/`nft` is still running in this world's namespace (one started by a
/// killed faultdrill finishes without its caller; recover must run after it, as an
/// operator's would). Tools of other tests, in other namespaces, are not waited for.
pub fn wait_for_orphan_tools(world: &World) {
    use std::os::unix::fs::MetadataExt;
    let Ok(ours) = std::fs::metadata(format!("/run/netns/{}", world.ns.name)).map(|m| m.ino()) else { return };
    let busy = || {
        ["tc -batch -", "nft -j -f -", "nft delete table"]
            .iter()
            .flat_map(|c| pids_with_cmdline(c))
            .any(|pid| std::fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| m.ino() == ours))
    };
    wait_until(Duration::from_secs(5), || !busy());
}

/// `faultdrill recover --all` on `state`; its exit code and output.
pub fn recover_all(state: &Path) -> (Option<i32>, String) {
    let out = faultdrill(state).args(["recover", "--all"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// How one crash ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Killed at the point, leaving something in place that recovery then undid.
    Undone,
    /// Killed at the point, with nothing in place yet (or already gone); still as before.
    Clean,
    /// The point is never reached for this kind (the run ended by itself, clean).
    NotReached,
    /// Something was left behind.
    Dirty,
}

impl Cell {
    pub fn text(self) -> &'static str {
        match self {
            Cell::Undone => "undone",
            Cell::Clean => "clean",
            Cell::NotReached => "n/r",
            Cell::Dirty => "DIRTY",
        }
    }
}

/// Whether everything is back as `before` and the journal holds nothing live; waits a
/// little for helpers killed by the recovery to be reaped.
pub fn is_restored(world: &World, state: &Path, before: &Observed) -> Result<(), String> {
    let mut last = None;
    let ok = wait_until(Duration::from_secs(5), || {
        let now = world.observe(state);
        let same = &now == before;
        last = Some(now);
        same
    });
    let live = Journal::open(state).map(|j| j.live().unwrap_or_default().len()).unwrap_or(0);
    if ok && live == 0 {
        return Ok(());
    }
    Err(format!("live in the journal: {live}; before: {before:#?}\nafter: {last:#?}"))
}

/// Prints a table: one row per label, one column per header.
pub fn print_matrix(title: &str, headers: &[&str], rows: &[(String, Vec<Cell>)]) {
    let first = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0).max(10);
    let widths: Vec<usize> = headers.iter().map(|h| h.len().max(5)).collect();
    let mut text = format!("\n{title}\n{:first$}", "");
    for (h, w) in headers.iter().zip(&widths) {
        text.push_str(&format!(" | {h:w$}"));
    }
    text.push('\n');
    for (label, cells) in rows {
        text.push_str(&format!("{label:first$}"));
        for (cell, w) in cells.iter().zip(&widths) {
            text.push_str(&format!(" | {:w$}", cell.text()));
        }
        text.push('\n');
    }
    println!("{text}");
}

/// Waits for a child to end; `Some(signal)` when a signal killed it.
pub fn wait_child(child: &mut Owned, timeout: Duration) -> Result<Option<i32>, String> {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return Ok(status.signal());
        }
        if start.elapsed() > timeout {
            return Err(format!("did not exit within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
