//! Must show: process-kill through a run kills the test's own child, matched by its exact
//! name; with no supervisor to restart it, the steady state deviates (exit 1: a finding).

mod run_common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use run_common::{example, faultdrill, wait_until};

#[test]
fn process_kill_kills_the_named_child_and_the_run_deviates() {
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // A name no other test (or host process) uses: a copy of sleep with a unique comm.
    let name = format!("fdk{}", std::process::id());
    let exe = work.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = Command::new(&exe).arg("120").spawn().unwrap();
    let pid = child.id();
    let _cleanup = KillOnDrop(pid, name.clone());
    // Reap it as soon as it dies: a zombie would still count as a process by that name.
    let waiter = std::thread::spawn(move || child.wait().unwrap());
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim() == name)));

    let output = faultdrill(state.path())
        .arg("run")
        .arg(example("process-kill.yaml"))
        .args(["--set", &format!("process={name}"), "--set", "recovery=500ms", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "deviated: nothing restarted it; stderr:\n{stderr}");

    let status = waiter.join().unwrap();
    assert_eq!(status.signal(), Some(9), "killed with SIGKILL");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "deviated");
    let injections = report["injections"].as_array().unwrap();
    assert_eq!(injections.len(), 1);
    assert_eq!(injections[0]["held"], false, "instantaneous: nothing to hold or undo");
    assert!(report["rollbacks"].as_array().unwrap().is_empty());
    let after: Vec<_> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "probe_sample" && e["event"]["phase"] == "after")
        .collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["event"]["ok"], false);
    assert_eq!(after[0]["event"]["sample"]["value"], 0.0);
}

/// Kills the child if the test ends before the fault did (only if the PID is still it).
struct KillOnDrop(u32, String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.0)).unwrap_or_default();
        if comm.trim() == self.1 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0 as i32), nix::sys::signal::SIGKILL);
        }
    }
}
