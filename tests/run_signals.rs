//! Must show: SIGTERM (and SIGINT) in the middle of a run roll everything back, then exit 130
//! (disk-fill + process-pause, and memory-stress with its holder process).

mod run_common;

use std::time::Duration;

use faultdrill::journal::InjectionState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use run_common::{MemoryScene, Scene, entries, log, proc_state, wait_exit, wait_until};

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
    // The actions of a parallel group are independent: rolled back at once, each once.
    let injections = report["injections"].as_array().unwrap();
    let mut undone: Vec<&str> = rollbacks.iter().map(|r| r["injection"].as_str().unwrap()).collect();
    let mut made: Vec<&str> = injections.iter().map(|i| i["id"].as_str().unwrap()).collect();
    undone.sort_unstable();
    made.sort_unstable();
    assert_eq!(undone, made);
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

#[test]
fn sigterm_mid_memory_stress_stops_the_holder_and_exits_130() {
    let scene = MemoryScene::new();
    let (mut run, id, _) = scene.start_run(&["--json"]);

    kill(Pid::from_raw(run.pid() as i32), Signal::SIGTERM).unwrap();
    let code = wait_exit(&mut run, Duration::from_secs(20));
    let stderr = log(scene.work.path(), "stderr.log");
    assert_eq!(code, Some(i32::from(faultdrill::exit::INTERRUPTED)), "exit 130 after rollback; stderr:\n{stderr}");
    scene.assert_released();
    let record = scene.journal.get(&id).unwrap().unwrap();
    assert_eq!(record.state, InjectionState::RolledBack, "{record:?}");
    let report: serde_json::Value = serde_json::from_str(&log(scene.work.path(), "stdout.log")).unwrap();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["rollbacks"][0]["injection"], id.as_str(), "{report:#}");
    assert_eq!(report["rollbacks"][0]["ok"], true, "{report:#}");
}
