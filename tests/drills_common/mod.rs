//! Shared helpers for the drill tests: run a built-in template through the real
//! binary, and throwaway services (uniquely named, in their own process group)
//! that are killed on drop, even when a test fails.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

/// `faultdrill --state-dir STATE run --template NAME --set …  --json`, as a command.
pub fn template_run(state: &Path, name: &str, sets: &[String]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--state-dir").arg(state).env("NO_COLOR", "1").env_remove("FAULTDRILL_STATE_DIR");
    cmd.args(["run", "--template", name]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd.arg("--json");
    cmd
}

/// The run's JSON report from stdout (panics with stderr when it is not JSON).
pub fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report JSON: {e}; stderr:\n{}", String::from_utf8_lossy(&out.stderr)))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process group started by the test (a supervisor and its children), killed as a whole on drop.
pub struct Group(pub Child);

impl Group {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(mut cmd: Command) -> Group {
        cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        Group(cmd.spawn().expect("spawn test process"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(-(self.0.id() as i32));
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::SIGCONT);
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// A copy of `sleep` under a name no other process on the machine has (≤ 15
/// characters, so /proc/PID/comm shows it whole): a service a drill may kill by name.
pub fn unique_service(dir: &Path, tag: &str) -> (PathBuf, String) {
    let name = format!("fd{tag}{}", std::process::id());
    assert!(name.len() <= 15, "{name} is too long for comm");
    let sleep = which("sleep");
    let path = dir.join(&name);
    std::fs::copy(sleep, &path).unwrap();
    (path, name)
}

/// The absolute path of a program on PATH (resolving shims such as pyenv's is the caller's job).
pub fn which(program: &str) -> PathBuf {
    let out = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "{program} is not installed (tests/setup.sh installs it)");
    PathBuf::from(path)
}

/// The real python3 interpreter (not a shim), so command lines are predictable.
pub fn python3() -> PathBuf {
    let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Live (non-zombie) PIDs whose /proc/PID/comm is exactly `name`.
pub fn pids_by_comm(name: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rfind(')').and_then(|i| stat[i + 2..].chars().next()) == Some('Z');
        if comm.trim_end() == name && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// `nft list ruleset` inside a network namespace.
pub fn nft_ruleset(netns: &str) -> String {
    let out = Command::new("ip").args(["netns", "exec", netns, "nft", "list", "ruleset"]).output().unwrap();
    assert!(out.status.success(), "nft list ruleset in {netns}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a TCP connection from inside `netns` to `addr:port` succeeds within `timeout_s`.
pub fn tcp_connects(netns: &str, addr: &str, port: u16, timeout_s: f64) -> bool {
    let code = format!(
        "import socket,sys\ntry:\n    socket.create_connection(('{addr}', {port}), timeout={timeout_s}).close()\nexcept OSError:\n    sys.exit(1)"
    );
    Command::new("ip").args(["netns", "exec", netns]).arg(python3()).args(["-c", &code]).status().unwrap().success()
}

/// Whether an HTTP GET of `url` from inside `netns` (or here, when `None`) answers 200.
pub fn http_ok(netns: Option<&str>, url: &str) -> bool {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "curl"]);
            c
        }
        None => Command::new("curl"),
    };
    cmd.args(["-fs", "-o", "/dev/null", "-m", "3", url]).status().unwrap().success()
}
