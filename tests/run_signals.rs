//! Must show: SIGTERM (and SIGINT) in the middle of a run roll everything back, then exit 130
//! (disk-fill + process-pause, and memory-stress with its holder process).

mod run_common;

use std::time::Duration;

use faultdrill::journal::{InjectionState, Journal};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use run_common::{
    Scene, SweepHelpers, entries, faultdrill, helpers_by_injection, log, mem_available, memory_holder,
    memory_stress_experiment, proc_state, rss_bytes, spawn_logged, wait_exit, wait_until,
};

fn interrupted_mid_run_rolls_back_and_exits_130(signal: Signal) {
    let scene = Scene::new();
    let before = scene.observe();
    let (data, pid) = (scene.data.path().display(), scene.sleeper.pid());
    let yaml = format!(
        "version: 1
name: interrupted
action_groups:
  - name: hold
    target: local
    mode: parallel
    actions:
      - fault: disk-fill
        params: {{path: {data}, size: 2MiB}}
        duration: 60s
      - fault: process-pause
        params: {{pid: {pid}}}
        duration: 60s
"
    );
    let mut run = scene.spawn_run("held.yaml", &yaml, &["--json"]);
    let injected = wait_until(Duration::from_secs(20), || {
        entries(scene.data.path()).len() == 1 && proc_state(scene.sleeper.pid()) == Some('T')
    });
    assert!(injected, "both faults in place; stderr:\n{}", log(scene.work.path(), "stderr.log"));
    kill(Pid::from_raw(run.pid() as i32), signal).unwrap();
    let code = wait_exit(&mut run, Duration::from_secs(20));
    let stderr = log(scene.work.path(), "stderr.log");
    assert_eq!(code, Some(130), "exit 130 after rollback; stderr:\n{stderr}");
    assert_eq!(scene.observe(), before, "state before == state after");
    let report: serde_json::Value = serde_json::from_str(&log(scene.work.path(), "stdout.log")).unwrap();
    assert_eq!(report["outcome"], "interrupted");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 2);
    assert!(rollbacks.iter().all(|r| r["ok"] == true));
    // Reverse order: the last injection made is the first undone.
    let injections = report["injections"].as_array().unwrap();
    assert_eq!(rollbacks[0]["injection"], injections[1]["id"]);
    assert_eq!(rollbacks[1]["injection"], injections[0]["id"]);
    assert!(stderr.contains(&format!("{} received: rolling back", signal.as_str())), "{stderr}");
}

#[test]
fn sigterm_mid_run_rolls_back_and_exits_130() {
    interrupted_mid_run_rolls_back_and_exits_130(Signal::SIGTERM);
}

#[test]
fn sigint_mid_run_rolls_back_and_exits_130() {
    interrupted_mid_run_rolls_back_and_exits_130(Signal::SIGINT);
}

/// What a memory-stress test holds: modest, so a noisy shared host is not starved.
const HELD: u64 = 128 << 20;

#[test]
fn sigterm_mid_memory_stress_stops_the_holder_and_exits_130() {
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let journal = Journal::open(state.path()).unwrap();
    let _sweep = SweepHelpers(state.path().to_path_buf());
    let before = helpers_by_injection(&journal);
    let available_before = mem_available();
    let file = memory_stress_experiment(work.path(), "128MiB");
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(&file).arg("--json");
    let mut run = spawn_logged(cmd, work.path());
    let held = wait_until(Duration::from_secs(30), || {
        memory_holder(&journal).is_some_and(|(_, pids)| pids.len() == 1 && rss_bytes(pids[0]) >= HELD)
    });
    assert!(held, "one holder with 128 MiB resident; stderr:\n{}", log(work.path(), "stderr.log"));
    let (id, _) = memory_holder(&journal).unwrap();

    kill(Pid::from_raw(run.pid() as i32), Signal::SIGTERM).unwrap();
    let code = wait_exit(&mut run, Duration::from_secs(20));
    let stderr = log(work.path(), "stderr.log");
    assert_eq!(code, Some(i32::from(faultdrill::exit::INTERRUPTED)), "exit 130 after rollback; stderr:\n{stderr}");
    // The strict check: no helper process of this state dir's injections is left.
    assert_eq!(helpers_by_injection(&journal), before, "state before == state after");
    let record = journal.get(&id).unwrap().unwrap();
    assert_eq!(record.state, InjectionState::RolledBack, "{record:?}");
    let report: serde_json::Value = serde_json::from_str(&log(work.path(), "stdout.log")).unwrap();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["rollbacks"][0]["injection"], id.as_str(), "{report:#}");
    assert_eq!(report["rollbacks"][0]["ok"], true, "{report:#}");
    // The memory is the kernel's again. Loose: other builds share this host.
    assert!(
        wait_until(Duration::from_secs(15), || mem_available() + 4 * HELD >= available_before),
        "MemAvailable {} back near {available_before}",
        mem_available()
    );
}
