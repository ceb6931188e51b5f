//! Audit finding 7 (issue 10): process-kill with a stopping signal froze a
//! process with no deadline and no rollback. SIGSTOP, SIGTSTP, SIGTTIN and
//! SIGTTOU are refused (validate: file:line:col; inject: exit 64), pointing at
//! process-pause, and the victim keeps running.

mod faults_util;

use faults_util::{Drill, Victim, stderr, stdout};

#[test]
fn validate_refuses_sigstop_at_the_signal_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stop.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: stop\ntargets:\n  here: {hosts: [local]}\naction_groups:\n  - name: freeze\n    target: here\n    actions:\n      - fault: process-kill\n        params: {name: fdtest-nobody, signal: SIGSTOP}\n",
    )
    .unwrap();
    let out = Drill::new().run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let err = stderr(&out);
    let at = format!("{}:10:47", file.display());
    assert!(err.contains(&at), "points at the signal ({at}): {err}");
    assert!(err.contains("SIGSTOP stops a process"), "{err}");
    assert!(err.contains("use the process-pause fault"), "{err}");
}

#[test]
fn inject_refuses_every_stopping_signal_and_the_victim_runs_on() {
    let victim = Victim::spawn();
    let drill = Drill::new();
    let name = format!("name={}", victim.name);
    for signal in ["SIGSTOP", "STOP", "19", "SIGTSTP", "sigttin", "SIGTTOU"] {
        let signal_param = format!("signal={signal}");
        let out = drill.run(&["inject", "process-kill", "-p", &name, "-p", &signal_param, "--duration", "1s"]);
        assert_eq!(out.status.code(), Some(64), "{signal}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{signal}: nothing injected: {}", stdout(&out));
        assert!(stderr(&out).contains("process-pause"), "{signal}: {}", stderr(&out));
    }
    assert!(matches!(victim.state(), Some('S' | 'R')), "never stopped: {:?}", victim.state());
}
