//! Must show: a daemon judges deadlines and leases on the boot clock, so a step of its wall
//! clock (NTP, an operator's `date -s`) neither ends a controller's fault early (+1 h: before,
//! the reaper rolled back every live injection at once and the run said "fault not held") nor
//! keeps a lost controller's fault an hour too long (-1 h: DESIGN §4, nothing is left
//! injected after a lost controller). And a controller judges "ended before its hold did" on
//! its own monotonic clock too: a daemon whose clock is an hour ahead, restarted mid-hold,
//! makes the run `fault_not_held`, not "passed"; and it times its own backstop rollback from
//! the duration it asked for, so a daemon an hour behind keeps its fault for the whole hold
//! (before, the controller rolled it back 2 s in and said "passed"). An injection journaled
//! in another boot (the host rebooted under it) is rolled back by the reaper at once.
//!
//! The fault is a real process-pause of a `sleep` the test owns, held by a real daemon for a
//! real `faultdrill run --inventory`; the test reads the process's state from /proc before,
//! during and after. The step is made with libfaketime (Debian package `faketime`, installed
//! by tests/setup.sh): its offset file is read at every call and the monotonic clocks are
//! left alone, so only the daemon (and the controller), never the machine, see the step.

#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon::{BIN, Daemon, DaemonSpec};
use faultdrill::journal::{InjectionRecord, InjectionState};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const TOKEN: &str = "clock-token-0123456789";
const LEASE: Duration = Duration::from_secs(15);
const HOUR: i64 = 3600;

/// A daemon and a controller whose wall clocks follow one offset file, and a process to pause.
struct Scene {
    work: tempfile::TempDir,
    offset: PathBuf,
    daemon: Daemon,
    sleeper: Child,
}

impl Scene {
    fn new() -> Scene {
        Scene::with_offset(0)
    }

    /// A scene whose daemon's wall clock is `seconds` off from the start.
    fn with_offset(seconds: i64) -> Scene {
        assert!(daemon::is_root(), "this test needs root (the daemon pauses a process); CI runs it as root");
        assert!(Path::new(LIBFAKETIME).exists(), "{LIBFAKETIME} is missing: run tests/setup.sh (package faketime)");
        let work = tempfile::tempdir().unwrap();
        let offset = work.path().join("faketime");
        std::fs::write(&offset, format!("{seconds:+}\n")).unwrap();
        let daemon = Daemon::start(DaemonSpec {
            token: Some(TOKEN.into()),
            env: faketime_env(&offset),
            ..DaemonSpec::default()
        });
        let sleeper = Command::new("sleep").arg("600").stdin(Stdio::null()).spawn().unwrap();
        Scene { work, offset, daemon, sleeper }
    }

    fn pid(&self) -> u32 {
        self.sleeper.id()
    }

    /// `faultdrill run` of a process-pause held `hold` on the daemon, with a lease of `lease`.
    fn controller(&self, hold: Duration, lease: Duration) -> Command {
        let inventory = self.work.path().join("inventory.yaml");
        std::fs::write(
            &inventory,
            format!("hosts:\n  - name: d1\n    url: {}\n    token: {{env: CLOCK_TOKEN}}\n", self.daemon.url),
        )
        .unwrap();
        let experiment = self.work.path().join("pause.yaml");
        std::fs::write(
            &experiment,
            format!(
                "version: 1\nname: clock-remote\nlease: {}s\ntargets:\n  d:\n    hosts: [d1]\n\
                 action_groups:\n  - name: pause\n    target: d\n    actions:\n      - fault: process-pause\n        \
                 params: {{pid: {}}}\n        duration: {}s\n",
                lease.as_secs(),
                self.pid(),
                hold.as_secs()
            ),
        )
        .unwrap();
        let mut c = Command::new(BIN);
        c.arg("--state-dir").arg(self.work.path().join("controller"));
        c.arg("run").arg("--inventory").arg(&inventory).arg(&experiment);
        c.env("CLOCK_TOKEN", TOKEN).env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Steps the wall clock of every process started with [`faketime_env`] by `seconds`.
    fn step_wall_clock(&self, seconds: i64) {
        std::fs::write(&self.offset, format!("{seconds:+}\n")).unwrap();
    }

    fn is_paused(&self) -> bool {
        proc_state(self.pid()) == Some('T')
    }

    /// The daemon's one injection.
    fn injection(&self) -> InjectionRecord {
        let mut all = self.daemon.journal().recent(10).unwrap();
        assert_eq!(all.len(), 1, "one injection: {all:?}");
        all.remove(0)
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

fn faketime_env(offset: &Path) -> Vec<(String, String)> {
    [
        ("LD_PRELOAD", LIBFAKETIME.to_string()),
        ("FAKETIME_TIMESTAMP_FILE", offset.display().to_string()),
        ("FAKETIME_NO_CACHE", "1".into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Polls `f` every 50 ms until it holds or `timeout` passes; whether it held.
fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn text(out: &std::process::Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn daemon_clock_a_wall_clock_step_forward_mid_hold_rolls_nothing_back_early() {
    const HOLD: Duration = Duration::from_secs(22);
    let scene = Scene::new();
    assert!(wait_until(Duration::from_secs(5), || proc_state(scene.pid()) == Some('S')), "before: it sleeps");
    let mut cmd = scene.controller(HOLD, LEASE);
    cmd.envs(faketime_env(&scene.offset));
    let controller = cmd.spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || scene.is_paused()), "paused: {}", scene.daemon.stderr());
    let paused = Instant::now();
    let lease_before = scene.injection().boot.expect("journaled on the boot clock").lease_expires_ms.unwrap();

    std::thread::sleep(Duration::from_secs(2));
    scene.step_wall_clock(HOUR);
    // Still paused from the step until past the lease it had then: renewals went on.
    let mut resumed_at = None;
    while paused.elapsed() < HOLD + Duration::from_secs(5) {
        if !scene.is_paused() {
            resumed_at = Some(paused.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = resumed_at.expect("resumed at the end of its hold");
    let out = controller.wait_with_output().unwrap();
    println!("wall clock +1h 2 s into a {HOLD:?} remote hold (lease {LEASE:?}): held {held:.2?}");
    assert!(held >= HOLD - Duration::from_millis(300), "rolled back early: held {held:?}\n{}", text(&out));
    assert!(held <= HOLD + Duration::from_secs(3), "held too long: {held:?}\n{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "the run passes; {}", text(&out));

    let record = scene.injection();
    assert_eq!(record.state, InjectionState::RolledBack);
    let note = record.note.clone().unwrap_or_default();
    assert!(!note.contains("lease expired") && !note.contains("deadline passed"), "the controller ended it: {note}");
    let lease_after = record.boot.unwrap().lease_expires_ms.unwrap();
    let moved = Duration::from_millis((lease_after - lease_before) as u64);
    assert!(moved >= HOLD - Duration::from_secs(6), "renewals moved the lease on the boot clock by {moved:?}");
    assert!(wait_until(Duration::from_secs(2), || proc_state(scene.pid()) == Some('S')), "after: it sleeps again");
}

#[test]
fn daemon_clock_a_wall_clock_step_back_after_the_controller_is_killed_rolls_back_at_the_lease() {
    let scene = Scene::new();
    assert!(wait_until(Duration::from_secs(5), || proc_state(scene.pid()) == Some('S')), "before: it sleeps");
    let mut controller = scene.controller(Duration::from_secs(120), LEASE).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || scene.is_paused()), "paused: {}", scene.daemon.stderr());
    // Let a renewal or two land, then lose the controller for good.
    std::thread::sleep(Duration::from_secs(6));
    let renewed = scene.injection().updated_ms;
    controller.kill().unwrap(); // SIGKILL: it rolls nothing back
    let killed = Instant::now();
    controller.wait().unwrap();
    scene.step_wall_clock(-HOUR);

    let resumed = wait_until(LEASE + Duration::from_secs(10), || !scene.is_paused());
    let after = killed.elapsed();
    let record = scene.injection();
    println!(
        "wall clock -1h after kill -9 of the controller: rolled back {after:.2?} after the kill (lease {LEASE:?})"
    );
    assert!(resumed, "still paused {after:?} after the kill: the step kept the fault in place; {record:?}");
    assert!(after <= LEASE + Duration::from_secs(3), "rolled back {after:?} after the kill");
    // The last renewal was at most a third of the lease before the kill.
    assert!(after >= LEASE - LEASE / 3 - Duration::from_secs(1), "rolled back before the lease ran out: {after:?}");
    assert_eq!(record.state, InjectionState::RolledBack, "{record:?}");
    assert_eq!(record.note.as_deref(), Some("rolled back: lease expired: the controller went silent"));
    assert!(record.updated_ms < renewed, "the journal's wall-clock times show the step: {record:?}");
    assert!(wait_until(Duration::from_secs(2), || proc_state(scene.pid()) == Some('S')), "after: it sleeps again");
}

#[test]
fn daemon_clock_a_fault_ended_early_on_a_daemon_whose_clock_is_an_hour_ahead_is_not_held() {
    const HOLD: Duration = Duration::from_secs(8);
    let mut scene = Scene::with_offset(HOUR);
    let controller = scene.controller(HOLD, Duration::from_secs(3)).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || scene.is_paused()), "paused: {}", scene.daemon.stderr());
    std::thread::sleep(Duration::from_secs(1));
    // kill -9 and start again on the same state dir: the new daemon rolls back what the old
    // one left, some 7 s before the hold ends; its journal dates that an hour after the
    // controller's planned end.
    scene.daemon.restart();
    assert!(wait_until(Duration::from_secs(5), || !scene.is_paused()), "the restarted daemon resumed it");
    let out = controller.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(6), "fault_not_held exits 6; {}", text(&out));
    assert!(stdout.contains("fault NOT HELD: pause/process-pause#1 on d1 ended "), "{stdout}");
    assert!(stdout.contains("daemon restarted"), "the summary says why: {stdout}");
}

#[test]
fn daemon_clock_a_daemon_whose_clock_is_an_hour_behind_holds_the_fault_for_its_whole_duration() {
    const HOLD: Duration = Duration::from_secs(8);
    let scene = Scene::with_offset(-HOUR);
    let controller = scene.controller(HOLD, LEASE).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || scene.is_paused()), "paused: {}", scene.daemon.stderr());
    let paused = Instant::now();
    assert!(wait_until(HOLD + Duration::from_secs(5), || !scene.is_paused()), "resumed at the end of its hold");
    let held = paused.elapsed();
    let out = controller.wait_with_output().unwrap();
    println!("daemon's wall clock 1h behind the controller's: held {held:.2?} of {HOLD:?}");
    assert!(held >= HOLD - Duration::from_millis(300), "rolled back early: held {held:?}\n{}", text(&out));
    assert!(held <= HOLD + Duration::from_secs(3), "held too long: {held:?}\n{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "the run passes; {}", text(&out));
}

#[test]
fn daemon_clock_an_injection_journaled_in_another_boot_is_rolled_back_at_once() {
    let scene = Scene::new();
    let fill = scene.work.path().join("faultdrill-left-by-the-last-boot");
    std::fs::write(&fill, "x").unwrap();
    // A live injection with an hour to go and a lease of an hour, as if the host had
    // rebooted under it: its boot-clock values count from a boot that is not this one.
    let journal = scene.daemon.journal();
    let id = faultdrill::ids::InjectionId::generate();
    journal
        .record_pending(&faultdrill::journal::NewInjection {
            id: id.clone(),
            run: None,
            fault: "disk-fill".into(),
            params: serde_json::json!({}),
            undo: serde_json::json!({"kind": "delete_file", "path": fill}),
            deadline_ms: faultdrill::journal::now_ms() + 3_600_000,
            lease_ms: Some(3_600_000),
        })
        .unwrap();
    let db = rusqlite::Connection::open(journal.path()).unwrap();
    db.execute(
        "UPDATE injections SET boot_id = 'a-boot-before-this-one', state = 'active' WHERE id = ?1",
        [id.as_str()],
    )
    .unwrap();
    // The undo runs first, then the journal says so: wait for both.
    let rolled_back = || journal.get(&id).unwrap().is_some_and(|r| r.state == InjectionState::RolledBack);
    let gone = wait_until(Duration::from_secs(3), || !fill.exists() && rolled_back());
    assert!(gone, "the daemon's reaper rolled it back: {:?}\n{}", journal.get(&id), scene.daemon.stderr());
    let record = journal.get(&id).unwrap().unwrap();
    assert_eq!(record.note.as_deref(), Some("rolled back: the host rebooted since it was injected"));
}
