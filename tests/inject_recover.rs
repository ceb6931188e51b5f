//! `inject` and `recover` end to end: crash safety (kill -9, then recover), idempotent
//! undo, and the command-line contract (ids on stdout, exit codes).

mod faults_util;

use std::time::Duration;

use faultdrill::fault::{Undo, UndoOutcome};
use faultdrill::ids::InjectionId;
use faults_util::{Drill, Tmpfs, Victim, helpers_of, root_or_skip, stderr, stdout, wait_until};
use nix::sys::signal::Signal;

#[test]
fn kill_9_of_inject_then_recover_all_leaves_no_burner_file_or_paused_process() {
    if !root_or_skip("kill_9_of_inject_then_recover_all_leaves_no_burner_file_or_paused_process") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    let baseline = fs.used_bytes();
    let victim = Victim::spawn();
    let path = format!("path={}", fs.path.display());
    let mut burn = drill.start_inject(&["cpu-burn", "-p", "percent=20", "-p", "cores=1", "--duration", "120s"]);
    let mut fill = drill.start_inject(&[
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "size=8MiB",
        "--duration",
        "120s",
    ]);
    let mut pause =
        drill.start_inject(&["process-pause", "-p", &format!("name={}", victim.name), "--duration", "120s"]);
    wait_until(Duration::from_secs(5), || victim.state() == Some('T') && !fs.fill_files().is_empty());
    for inject in [&mut burn, &mut fill, &mut pause] {
        inject.signal(Signal::SIGKILL);
        let (code, _) = inject.wait(Duration::from_secs(10));
        assert_eq!(code, None, "killed by SIGKILL");
    }
    // The faults outlived their controllers.
    assert_eq!(helpers_of(&burn.id).len(), 1);
    assert_eq!(fs.fill_files().len(), 1);
    assert_eq!(victim.state(), Some('T'));

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (inject, fault) in [(&burn, "cpu-burn"), (&fill, "disk-fill"), (&pause, "process-pause")] {
        assert!(stdout(&out).contains(&format!("{} {fault}: rolled back, verified\n", inject.id)), "{}", stdout(&out));
    }
    assert!(helpers_of(&burn.id).is_empty(), "no burner left");
    assert!(fs.fill_files().is_empty(), "no fill file left");
    assert_eq!(fs.used_bytes(), baseline);
    assert!(matches!(victim.state(), Some('S' | 'R')), "resumed: {:?}", victim.state());

    let again = drill.run(&["recover", "--all"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stderr(&again).contains("Nothing to recover"), "{}", stderr(&again));
}

#[test]
fn recover_by_id_rolls_back_just_that_injection() {
    let drill = Drill::new();
    let mut burn = drill.start_inject(&["cpu-burn", "-p", "percent=10", "-p", "cores=1", "--duration", "120s"]);
    burn.signal(Signal::SIGKILL);
    let _ = burn.wait(Duration::from_secs(10));
    let out = drill.run(&["recover", &burn.id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{} cpu-burn: rolled back, verified\n", burn.id));
    assert!(helpers_of(&burn.id).is_empty());
}

#[test]
fn recover_of_an_unknown_injection_is_invalid_input() {
    let drill = Drill::new();
    let out = drill.run(&["recover", "i-doesnotexist"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("no injection i-doesnotexist in the journal"), "{}", stderr(&out));
}

#[test]
fn inject_input_mistakes_exit_64() {
    let drill = Drill::new();
    let cases: &[(&[&str], &str)] = &[
        (&["inject", "cpu-brun", "--duration", "1s"], "unknown fault `cpu-brun`; expected one of: cpu-burn"),
        (&["inject", "cpu-burn", "-p", "percent=150", "--duration", "1s"], "150 is out of range 1..100 percent"),
        (&["inject", "cpu-burn", "-p", "percent", "--duration", "1s"], "expected KEY=VALUE"),
        (&["inject", "cpu-burn", "--duration", "soon"], "expected a duration such as `30s`"),
        (&["inject", "cpu-burn", "--duration", "0s"], "--duration must be greater than zero"),
        (&["inject", "disk-fill", "-p", "path=tmp", "-p", "size=1MiB", "--duration", "1s"], "must be absolute"),
    ];
    for (args, expected) in cases {
        let out = drill.run(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn inject_through_an_unreachable_daemon_names_it_and_exits_3() {
    let drill = Drill::new();
    let out = drill.run(&["inject", "cpu-burn", "--duration", "1s", "--daemon", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach http://127.0.0.1:1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("check that `faultdrill daemon` runs there"), "{}", stderr(&out));
}

#[test]
fn faults_lists_every_fault_with_params_and_defaults() {
    let drill = Drill::new();
    let out = drill.run(&["faults"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for name in ["cpu-burn", "memory-stress", "disk-fill", "process-kill", "process-pause"] {
        assert!(text.lines().any(|l| l == name), "{name} in {text}");
    }
    assert!(text.contains("    signal         text                   default SIGKILL"), "{text}");

    let out = drill.run(&["faults", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = &json["faults"][0];
    assert_eq!(cpu["name"], "cpu-burn");
    assert_eq!(cpu["held"], true);
    assert_eq!(cpu["params"][0]["name"], "percent");
    assert_eq!(cpu["params"][0]["default"], "50");
    assert_eq!(cpu["params"][0]["kind"], "percent 1..100");
}

/// Every undo kind, carried out twice against real things: the second is `AlreadyGone`.
#[test]
fn undo_carried_out_twice_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faultdrill-fill-twice");
    std::fs::write(&file, b"x").unwrap();
    let victim = Victim::spawn();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim.pid()), Signal::SIGSTOP).unwrap();
    wait_until(Duration::from_secs(5), || victim.state() == Some('T'));
    let undo = Undo::All {
        steps: vec![
            Undo::DeleteFile { path: file.clone() },
            Undo::Resume { processes: vec![victim.proc_ref()] },
            Undo::stop_helpers(&InjectionId::generate()),
            Undo::Nothing,
        ],
    };
    assert_eq!(undo.carry_out().unwrap(), UndoOutcome::Undone);
    assert!(!file.exists());
    wait_until(Duration::from_secs(5), || matches!(victim.state(), Some('S' | 'R')));
    assert_eq!(undo.carry_out().unwrap(), UndoOutcome::AlreadyGone);
    // Resuming a process that has since exited is also fine, and touches nobody else.
    let gone = victim.proc_ref();
    drop(victim);
    assert_eq!(Undo::Resume { processes: vec![gone] }.carry_out().unwrap(), UndoOutcome::AlreadyGone);
}

/// Time-box everything: with its controller killed and nobody running `recover`,
/// the watchdog still undoes a pause and a fill at the deadline.
#[test]
fn the_watchdog_rolls_back_at_the_deadline_when_the_controller_is_gone() {
    if !root_or_skip("the_watchdog_rolls_back_at_the_deadline_when_the_controller_is_gone") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    let baseline = fs.used_bytes();
    let victim = Victim::spawn();
    let path = format!("path={}", fs.path.display());
    let mut fill = drill.start_inject(&[
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "size=8MiB",
        "--duration",
        "3s",
    ]);
    let mut pause = drill.start_inject(&["process-pause", "-p", &format!("name={}", victim.name), "--duration", "3s"]);
    wait_until(Duration::from_secs(5), || victim.state() == Some('T') && !fs.fill_files().is_empty());
    for inject in [&mut fill, &mut pause] {
        inject.signal(Signal::SIGKILL);
        let _ = inject.wait(Duration::from_secs(10));
    }
    assert_eq!(victim.state(), Some('T'), "still paused right after the kill");
    wait_until(Duration::from_secs(15), || matches!(victim.state(), Some('S' | 'R')) && fs.fill_files().is_empty());
    assert_eq!(fs.used_bytes(), baseline);
    wait_until(Duration::from_secs(5), || helpers_of(&fill.id).is_empty() && helpers_of(&pause.id).is_empty());
}

#[test]
fn a_normal_rollback_stops_the_watchdog_too() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    let mut pause = drill.start_inject(&["process-pause", "-p", &format!("pid={}", victim.pid()), "--duration", "60s"]);
    assert_eq!(helpers_of(&pause.id).len(), 1, "one watchdog");
    pause.signal(Signal::SIGTERM);
    let (code, err) = pause.wait(Duration::from_secs(20));
    assert_eq!(code, Some(130), "{err}");
    assert!(helpers_of(&pause.id).is_empty(), "no watchdog left");
    assert!(matches!(victim.state(), Some('S' | 'R')));
}
