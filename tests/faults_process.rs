//! process-kill and process-pause against real processes the tests spawn.

mod faults_util;

use std::time::Duration;

use faults_util::{Drill, Victim, stderr, stdout, unique, wait_until};

#[test]
fn process_kill_kills_a_child_matched_by_name() {
    let drill = Drill::new();
    let mut victim = Victim::spawn();
    let bystander = Victim::spawn();
    let out = drill.run(&["inject", "process-kill", "-p", &format!("name={}", victim.name), "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).trim().starts_with("i-"), "the injection id is printed: {}", stdout(&out));
    let status = victim.child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
    assert!(matches!(bystander.state(), Some('S' | 'R')), "another process is untouched");
}

#[test]
fn process_kill_sends_the_requested_signal_to_count_matches_of_a_pattern() {
    let drill = Drill::new();
    let mut first = Victim::spawn();
    let second = Victim::spawn();
    // A pattern matching both victims' command lines; count=1 takes the oldest.
    let pattern = format!("^/.*/({}|{}) 600$", first.name, second.name);
    let args = ["inject", "process-kill", "-p", &format!("pattern={pattern}"), "-p", "count=1", "-p", "signal=TERM"];
    let out = drill.run(&[&args[..], &["--duration", "1s"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(first.child.wait().unwrap().signal(), Some(15));
    assert!(matches!(second.state(), Some('S' | 'R')), "count=1 leaves the second match alone");
}

#[test]
fn process_kill_refuses_pid_1() {
    let drill = Drill::new();
    let out = drill.run(&["inject", "process-kill", "-p", "pid=1", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused: pid 1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("PID 1 (init) is never touched"), "{}", stderr(&out));
}

#[test]
fn process_kill_refuses_faultdrill_itself_and_its_parent() {
    let drill = Drill::new();
    // Only faultdrill's own command line contains this pattern.
    let marker = format!("fdself{}", unique(8));
    let out =
        drill.run(&["inject", "process-kill", "-p", &format!("pattern={marker}"), "-p", "count=1", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("every match is protected"), "{}", stderr(&out));
    assert!(stderr(&out).contains("it is faultdrill itself"), "{}", stderr(&out));

    // This test process is faultdrill's parent.
    let me = std::process::id().to_string();
    let out = drill.run(&["inject", "process-kill", "-p", &format!("pid={me}"), "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("it is an ancestor of faultdrill"), "{}", stderr(&out));
}

#[test]
fn process_kill_of_a_missing_name_is_an_error_not_a_success() {
    let drill = Drill::new();
    let name = format!("fdnone-{}", unique(8));
    let out = drill.run(&["inject", "process-kill", "-p", &format!("name={name}"), "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("find a process named `{name}`: there is none")), "{}", stderr(&out));
}

#[test]
fn process_selection_mistakes_are_invalid_input() {
    let drill = Drill::new();
    let cases: &[(&[&str], &str)] = &[
        (&["-p", "pattern=sleep"], "`count` is required with `pattern`"),
        (&["-p", "name=a", "-p", "pid=3"], "give exactly one of `name`, `pattern` or `pid`"),
        (&["-p", "pid=3", "-p", "signal=SIGNOPE"], "unknown signal `SIGNOPE`"),
        (&["-p", "pid=abc"], "expected an integer"),
        (&["-p", "nmae=x"], "unknown parameter `nmae`"),
    ];
    for (params, expected) in cases {
        let out = drill.run(&[&["inject", "process-kill"], *params, &["--duration", "1s"]].concat());
        assert_eq!(out.status.code(), Some(64), "{params:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{params:?}: {}", stderr(&out));
    }
}

#[test]
fn process_pause_stops_the_child_and_rollback_resumes_it() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    let before = victim.proc_ref();
    let mut inject = drill.start_inject(&["process-pause", "-p", &format!("name={}", victim.name), "--duration", "2s"]);
    wait_until(Duration::from_secs(5), || victim.state() == Some('T'));
    let (code, err) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    assert!(matches!(victim.state(), Some('S' | 'R')), "resumed: {:?}", victim.state());
    assert!(before.is_alive(), "the same process, never restarted");
}

#[test]
fn process_pause_rolls_back_on_sigterm_and_exits_130() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    let inject_args = ["process-pause", "-p", &format!("pid={}", victim.pid()), "--duration", "60s"];
    let mut inject = drill.start_inject(&inject_args);
    wait_until(Duration::from_secs(5), || victim.state() == Some('T'));
    inject.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, err) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(matches!(victim.state(), Some('S' | 'R')), "resumed: {:?}", victim.state());
}

#[test]
fn process_pause_leaves_an_already_stopped_process_alone() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim.pid()), nix::sys::signal::Signal::SIGSTOP).unwrap();
    wait_until(Duration::from_secs(5), || victim.state() == Some('T'));
    let out = drill.run(&["inject", "process-pause", "-p", &format!("name={}", victim.name), "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("already stopped"), "{}", stderr(&out));
    assert_eq!(victim.state(), Some('T'), "still stopped, as before");
}

#[test]
fn recover_after_the_pausing_inject_is_killed_resumes_the_child() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    let mut inject =
        drill.start_inject(&["process-pause", "-p", &format!("name={}", victim.name), "--duration", "60s"]);
    wait_until(Duration::from_secs(5), || victim.state() == Some('T'));
    inject.signal(nix::sys::signal::Signal::SIGKILL);
    let (code, _) = inject.wait(Duration::from_secs(10));
    assert_eq!(code, None, "killed by a signal");
    assert_eq!(victim.state(), Some('T'), "still paused: nobody rolled back yet");
    let out = drill.run(&["recover", &inject.id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("{} process-pause: rolled back", inject.id)), "{}", stdout(&out));
    assert!(matches!(victim.state(), Some('S' | 'R')), "resumed: {:?}", victim.state());
    // A second recover is a no-op, not an error.
    let again = drill.run(&["recover", &inject.id]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing to do, already rolled back"), "{}", stdout(&again));
}
