//! Must show: the wall clock stepping forward or back an hour in the middle of a run (NTP,
//! an operator's `date -s`) neither ends a fault early nor holds it longer: the run holds it
//! for its duration on the monotonic clock, rolls it back, and passes.
//!
//! The step is made with libfaketime (Debian package `faketime`, installed by
//! tests/setup.sh), whose offset file is read at every call, with the monotonic clock left
//! alone: only this run and its helpers see the step, never the machine.

mod run_common;

use std::path::Path;
use std::time::{Duration, Instant};

use run_common::{Scene, log, proc_state, wait_exit, wait_until};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const HOLD: Duration = Duration::from_secs(6);

/// Runs a process-pause held for [`HOLD`] (with a guardrail sampled every 2.5 s: the loop
/// wakes then, and before the fix computed the deadline from the stepped wall clock; a
/// 6 s fault ended at 4.5 s, and the run still said "passed"), steps the run's wall clock by `step` (seconds)
/// one second in; how long the process stayed paused, and the exit code.
fn paused_for_with_a_step(step: i64) -> (Duration, Option<i32>, String) {
    assert!(Path::new(LIBFAKETIME).exists(), "{LIBFAKETIME} is missing: run tests/setup.sh (package faketime)");
    let scene = Scene::new();
    let offset = scene.work.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let yaml = format!(
        "version: 1\nname: clock\n\
         guardrails:\n  interval: 2500ms\n  rules:\n    - name: never\n      metric: {{host: memory_percent}}\n      \
         breach: \">= 101\"\n      action: warn\n\
         action_groups:\n  - name: pause\n    target: local\n    actions:\n      \
         - fault: process-pause\n        params: {{pid: {}}}\n        duration: {}s\n",
        scene.sleeper.pid(),
        HOLD.as_secs()
    );
    let mut cmd = run_common::faultdrill(scene.state.path());
    cmd.arg("run").arg(run_common::experiment(scene.work.path(), "clock.yaml", &yaml));
    cmd.env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME_TIMESTAMP_FILE", &offset)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    let mut run = run_common::spawn_logged(cmd, scene.work.path());
    let pid = scene.sleeper.pid();
    assert!(wait_until(Duration::from_secs(20), || proc_state(pid) == Some('T')), "paused");
    let paused = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&offset, format!("{step:+}\n")).unwrap();
    wait_until(Duration::from_secs(20), || proc_state(pid) != Some('T'));
    let held = paused.elapsed();
    let code = wait_exit(&mut run, Duration::from_secs(20));
    (held, code, log(scene.work.path(), "stderr.log"))
}

#[test]
fn a_wall_clock_step_forward_does_not_end_a_fault_early() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let (held, code, stderr) = paused_for_with_a_step(3600);
    println!("wall clock +1h one second in: held {held:.2?} of {HOLD:?}, exit {code:?}");
    assert!(held >= HOLD - Duration::from_millis(300), "ended early: held {held:?}\n{stderr}");
    assert!(held <= HOLD + Duration::from_millis(1500), "held too long: {held:?}\n{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_wall_clock_step_back_does_not_hold_a_fault_longer() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let (held, code, stderr) = paused_for_with_a_step(-3600);
    println!("wall clock -1h one second in: held {held:.2?} of {HOLD:?}, exit {code:?}");
    assert!(held >= HOLD - Duration::from_millis(300), "ended early: held {held:?}\n{stderr}");
    assert!(held <= HOLD + Duration::from_millis(1500), "held too long: {held:?}\n{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
}
