//! An `exec` inject command still running when its controller is killed with `kill -9`
//! (a cloud `stop-instances` takes minutes) must never finish after the rollback: the
//! rollback would start the instance, the orphaned inject would then stop it, and nothing
//! would say so. `recover --all`, and a daemon started again on the same state dir, kill
//! what still runs of the inject (its whole process group) before they run the rollback.
//! The same holds for a slow `verify_injected`, and for a rollback command itself: a
//! controller killed mid-rollback leaves its work running, and `recover` kills it before it
//! runs the rollback again, so two rollbacks never race.
//!
//! The inject here is a wrapper that runs the real work in a child shell (`sleep; touch
//! EFFECT`), as a script around a cloud CLI does: the wrapper (the group's leader) dies
//! with its controller (PR_SET_PDEATHSIG), its child does not, and only the recovery's
//! kill keeps EFFECT from appearing after the rollback removed it.

#[path = "common/daemon.rs"]
mod harness;
mod run_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faultdrill::ids::InjectionId;
use faultdrill::journal::{InjectionState, Journal};
use faultdrill::platform::linux::procs::{all_pids, read_stat};
use run_common::{experiment, faultdrill, log, spawn_logged, wait_exit, wait_until};
use serde_json::json;

/// How long the inject's real work takes before it makes its change.
const INJECT_TAKES: Duration = Duration::from_secs(6);

/// Paths of one scene: the effect the slow inject leaves, the rollback's log.
struct Scene {
    work: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        Scene { work: tempfile::tempdir().unwrap() }
    }

    /// What the inject makes when it completes ("the instance is stopped").
    fn effect(&self) -> PathBuf {
        self.work.path().join("STOPPED")
    }

    fn rollback_log(&self) -> PathBuf {
        self.work.path().join("rollbacks.log")
    }

    fn rollbacks(&self) -> usize {
        std::fs::read_to_string(self.rollback_log()).unwrap_or_default().lines().count()
    }

    /// The inject's argv: a wrapper whose child shell does the slow work.
    fn inject(&self, sh: &str) -> Vec<String> {
        let secs = INJECT_TAKES.as_secs();
        vec![sh.into(), "-c".into(), format!("sh -c 'sleep {secs}; touch {}'; true", self.effect().display())]
    }

    /// The rollback's argv: removes the effect and logs that it ran.
    fn rollback(&self, sh: &str) -> Vec<String> {
        let script = format!("rm -f {}; echo rollback >> {}", self.effect().display(), self.rollback_log().display());
        vec![sh.into(), "-c".into(), script]
    }
}

/// The leader of the running command recorded in `state`, once it is recorded with one.
fn recorded_leader(state: &Path) -> Option<i32> {
    let dir = state.join(faultdrill::fault::RUNNING_DIR);
    let file =
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.extension() == Some("json".as_ref()))?;
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    record["leader"]["pid"].as_i64().map(|pid| pid as i32)
}

/// The processes of group `pgid` still running (zombies are gone).
fn group_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter_map(read_stat)
        .filter(|s| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
        .map(|s| s.pid)
        .collect()
}

/// Waits until the inject's leader is recorded and its child shell runs; the leader's PID.
fn wait_for_running_inject(state: &Path, what_failed: impl Fn() -> String) -> i32 {
    let mut leader = None;
    let found = wait_until(Duration::from_secs(20), || {
        leader = recorded_leader(state);
        leader.is_some_and(|pgid| group_members(pgid).len() >= 3)
    });
    assert!(found, "the inject never ran (wrapper, child shell, sleep): {}", what_failed());
    leader.unwrap()
}

/// After the rollback: the group is gone, and past the time the inject would have made its
/// change, the change is not there, and the rollback ran once.
fn assert_nothing_left_injected(scene: &Scene, pgid: i32, started: Instant) {
    assert!(group_members(pgid).is_empty(), "the orphaned inject's group is gone: {:?}", group_members(pgid));
    let past_its_end = (started + INJECT_TAKES + Duration::from_secs(2)).saturating_duration_since(Instant::now());
    std::thread::sleep(past_its_end);
    assert!(!scene.effect().exists(), "the orphaned inject finished after the rollback: the fault is back");
    assert_eq!(scene.rollbacks(), 1, "the rollback ran once");
}

/// Runs an exec action whose `slow_step` (`inject` or `verify_injected`) is the slow
/// wrapper, kills the run with `kill -9` mid-step, runs `recover --all` at once, and checks
/// nothing is left injected.
fn kill_9_mid_step_then_recover(slow_step: &str) {
    let scene = Scene::new();
    let state = tempfile::tempdir().unwrap();
    let argv = |words: Vec<String>| serde_json::to_string(&words).unwrap();
    let steps = match slow_step {
        "inject" => format!("inject: {}", argv(scene.inject("sh"))),
        _ => format!("inject: [\"true\"]\n          verify_injected: {}", argv(scene.inject("sh"))),
    };
    let yaml = format!(
        "version: 1\nname: slow-stop\naction_groups:\n  - name: instances\n    target: local\n    actions:\n      - fault: exec\n        params:\n          {steps}\n          rollback: {}\n          timeout: 5m\n        duration: 60s\n",
        argv(scene.rollback("sh")),
    );
    let file = experiment(scene.work.path(), "slow-stop.yaml", &yaml);
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(file);
    let started = Instant::now();
    let mut run = spawn_logged(cmd, scene.work.path());
    let pgid = wait_for_running_inject(state.path(), || log(scene.work.path(), "stderr.log"));

    run.0.kill().unwrap(); // SIGKILL, mid-step: no rollback can run
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by a signal");
    // The wrapper died with its controller; its child shell runs on, orphaned.
    assert!(wait_until(Duration::from_secs(2), || read_stat(pgid).is_none_or(|s| s.state == 'Z')), "PDEATHSIG");
    assert!(!group_members(pgid).is_empty(), "the step's work still runs, orphaned");
    let live = Journal::open(state.path()).unwrap().live().unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].state, InjectionState::Pending, "killed before the apply returned");

    let recover = faultdrill(state.path()).args(["recover", "--all"]).output().unwrap();
    let said = format!("{}\n{}", String::from_utf8_lossy(&recover.stdout), String::from_utf8_lossy(&recover.stderr));
    assert_eq!(recover.status.code(), Some(0), "{said}");
    assert!(started.elapsed() < INJECT_TAKES, "recover ran while the step still ran: {:?}", started.elapsed());
    assert_nothing_left_injected(&scene, pgid, started);
    assert!(said.contains("still running"), "recover says it killed the command: {said}");
    assert!(Journal::open(state.path()).unwrap().live().unwrap().is_empty());
    assert!(recorded_leader(state.path()).is_none(), "the record is gone");
}

#[test]
fn an_inject_orphaned_by_kill_9_is_killed_before_recover_runs_the_rollback() {
    kill_9_mid_step_then_recover("inject");
}

#[test]
fn a_verify_injected_orphaned_by_kill_9_is_killed_before_recover_runs_the_rollback() {
    kill_9_mid_step_then_recover("verify_injected");
}

#[tokio::test]
async fn an_inject_orphaned_by_a_killed_daemon_is_killed_before_the_restarted_daemon_rolls_back() {
    let scene = Scene::new();
    let sh = ["/usr/bin/sh", "/bin/sh"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let policy = scene.work.path().join("policy.yaml");
    std::fs::write(&policy, format!("version: 1\nexec:\n  commands: [{sh}]\n")).unwrap();
    let mut daemon =
        harness::Daemon::start(harness::DaemonSpec { policy: Some(policy), ..harness::DaemonSpec::default() });
    let body = json!({
        "fault": "exec",
        "params": {"inject": scene.inject(sh), "rollback": scene.rollback(sh), "timeout": "5m"},
        "duration": "60s",
        "lease": "60s",
    });
    // The request waits for the inject; it fails when the daemon is killed.
    let (url, token) = (format!("{}/v1/injections", daemon.url), daemon.spec.token.clone().unwrap());
    faultdrill::client::install_crypto_provider();
    let request =
        tokio::spawn(async move { reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await });
    let started = Instant::now();
    let state = daemon.state_dir.clone();
    let pgid = tokio::task::spawn_blocking(move || wait_for_running_inject(&state, String::new)).await.unwrap();
    let id: InjectionId = daemon.journal().live().unwrap().remove(0).id;

    daemon.restart(); // kill -9, then the same state dir again: it recovers what the last one left
    assert!(request.await.unwrap().is_err(), "the daemon died under the request");
    let record = harness::wait_for(Duration::from_secs(20), "the restarted daemon to roll back", || {
        daemon.journal().get(&id).unwrap().filter(|r| r.state == InjectionState::RolledBack)
    });
    assert!(started.elapsed() < INJECT_TAKES, "rolled back while the inject still ran: {:?}", started.elapsed());
    assert!(record.note.unwrap_or_default().contains("daemon restarted"));
    tokio::task::spawn_blocking(move || assert_nothing_left_injected(&scene, pgid, started)).await.unwrap();
    assert!(daemon.stderr().contains("still running"), "the daemon says it killed the inject:\n{}", daemon.stderr());
}

/// A controller killed mid-*rollback* leaves the rollback's work running too (its wrapper dies
/// with the controller, the wrapper's child does not). `recover --all` runs the rollback again:
/// it first kills what is left of the first one, so the two never run side by side (two
/// `start-instances`, two switch-backs racing each other).
#[test]
fn a_rollback_orphaned_by_kill_9_is_killed_before_recover_runs_it_again() {
    let work = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log_file = work.path().join("rollback.log");
    let lines =
        |word: &str| std::fs::read_to_string(&log_file).unwrap_or_default().lines().filter(|l| *l == word).count();
    // The rollback says it started, then its child shell works 3 s and says it ended.
    let rollback = [
        "sh".to_string(),
        "-c".into(),
        format!("echo start >> {l}; sh -c 'sleep 3; echo end >> {l}'; true", l = log_file.display()),
    ];
    let yaml = format!(
        "version: 1\nname: slow-start\naction_groups:\n  - name: instances\n    target: local\n    actions:\n      - fault: exec\n        params:\n          inject: [\"true\"]\n          rollback: {}\n          timeout: 5m\n        duration: 1s\n",
        serde_json::to_string(&rollback).unwrap()
    );
    let file = experiment(work.path(), "slow-start.yaml", &yaml);
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(file);
    let mut run = spawn_logged(cmd, work.path());
    assert!(
        wait_until(Duration::from_secs(20), || lines("start") == 1),
        "the rollback started: {}",
        log(work.path(), "stderr.log")
    );
    std::thread::sleep(Duration::from_millis(200)); // its child shell is sleeping now
    let orphaned_at = Instant::now();
    run.0.kill().unwrap(); // SIGKILL, mid-rollback
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by a signal");

    let recover = faultdrill(state.path()).args(["recover", "--all"]).output().unwrap();
    let said = format!("{}\n{}", String::from_utf8_lossy(&recover.stdout), String::from_utf8_lossy(&recover.stderr));
    assert_eq!(recover.status.code(), Some(0), "{said}");
    assert_eq!(lines("start"), 2, "recover ran the rollback again: {said}");
    // Past the time the orphaned rollback would have ended: only recover's own rollback ended.
    std::thread::sleep((orphaned_at + Duration::from_secs(4)).saturating_duration_since(Instant::now()));
    assert_eq!(lines("end"), 1, "the orphaned rollback ran on beside recover's: {said}");
    assert!(said.contains("still running"), "recover says it killed the orphan: {said}");
    assert!(Journal::open(state.path()).unwrap().live().unwrap().is_empty());
}
