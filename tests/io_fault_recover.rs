//! io faults and crashes: kill -9 of the controller or of the helper (a dead
//! FUSE mount), then `recover`; the helper's own deadline; what is refused; and
//! a host without FUSE.

mod faults_util;
mod io_fault_util;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use faults_util::{Drill, helpers_of, root_or_skip, stderr, stdout, wait_until};
use io_fault_util::{Target, content, median, read_errno, read_times};
use nix::sys::signal::Signal;

fn kill9(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
}

#[test]
fn kill_9_of_inject_then_recover_unmounts_and_reads_are_normal() {
    if !root_or_skip("kill_9_of_inject_then_recover_unmounts_and_reads_are_normal") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let before = target.mounts();
    let mut inject =
        drill.start_inject(&["io-latency", "-p", &target.param(), "-p", "latency=20ms", "--duration", "120s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    inject.signal(Signal::SIGKILL);
    let (code, _) = inject.wait(Duration::from_secs(10));
    assert_eq!(code, None, "killed by SIGKILL");
    assert!(target.is_mounted(), "the fault outlived its controller");
    assert!(median(read_times(&target.file(), 3)) >= Duration::from_millis(20));

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("{} io-latency: rolled back", inject.id)), "{}", stdout(&out));
    assert_eq!(target.mounts(), before, "no mount left");
    assert!(helpers_of(&inject.id).is_empty(), "no helper left");
    assert!(median(read_times(&target.file(), 5)) < Duration::from_millis(5));
    let again = drill.run(&["recover", "--all"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

/// The io helper of an injection (`helper io-fault`), not its guard (`helper io-guard`).
fn io_helper(id: &str) -> Vec<i32> {
    helpers_of(id)
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(8).any(|w| w == b"io-fault"))
        })
        .collect()
}

#[test]
fn a_killed_helper_s_mount_is_detached_by_its_guard_without_recover() {
    if !root_or_skip("a_killed_helper_s_mount_is_detached_by_its_guard_without_recover") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let before = target.mounts();
    let inject = drill.start_inject(&["io-error", "-p", &target.param(), "--duration", "120s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    let helper = io_helper(&inject.id);
    assert_eq!(helper.len(), 1);
    kill9(helper[0]);
    wait_until(Duration::from_secs(5), || target.mounts() == before);
    wait_until(Duration::from_secs(5), || helpers_of(&inject.id).is_empty());
    assert_eq!(read_errno(&target.file()), None, "reads reach the real file again");
}

#[test]
fn a_killed_helper_and_guard_leave_a_dead_mount_that_recover_removes() {
    if !root_or_skip("a_killed_helper_and_guard_leave_a_dead_mount_that_recover_removes") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let before = target.mounts();
    let mut inject = drill.start_inject(&["io-error", "-p", &target.param(), "--duration", "120s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    inject.signal(Signal::SIGKILL);
    let _ = inject.wait(Duration::from_secs(10));
    // The guard first, so nothing is left to detach the mount.
    let helper = io_helper(&inject.id);
    for guard in helpers_of(&inject.id).into_iter().filter(|p| !helper.contains(p)) {
        kill9(guard);
    }
    kill9(helper[0]);
    wait_until(Duration::from_secs(5), || helpers_of(&inject.id).is_empty());
    let dead = std::fs::metadata(target.file()).unwrap_err();
    // The kernel answers a mount whose server died with ENOTCONN, or ECONNABORTED while
    // it is still aborting the connection: either is a dead mount.
    let dead_errnos = [Some(libc::ENOTCONN), Some(libc::ECONNABORTED)];
    assert!(dead_errnos.contains(&dead.raw_os_error()), "a dead mount: {dead}");

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(target.mounts(), before, "the dead mount is gone");
    assert_eq!(read_errno(&target.file()), None);
    assert_eq!(std::fs::read(target.file()).unwrap(), content());
}

#[test]
fn the_helper_unmounts_by_itself_at_its_deadline_and_a_second_io_fault_on_the_path_is_refused() {
    if !root_or_skip("the_helper_unmounts_by_itself_at_its_deadline_and_a_second_io_fault_on_the_path_is_refused") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 3000;
    let path = target.path().display().to_string();
    let mut helper = drill
        .cmd()
        .args(["helper", "io-fault", "--injection", "i-deadline", "--deadline-ms", &deadline.to_string()])
        .args(["--path", &path, "--source", "faultdrill:i-deadline", "--latency-us", "1000"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(5), || target.is_mounted());

    let second = drill.run(&["inject", "io-error", "-p", &target.param(), "--duration", "10s"]);
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    assert!(stderr(&second).contains("one io fault per path at a time"), "{}", stderr(&second));

    let status = helper.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!target.is_mounted(), "the helper detached its mount at the deadline");
}

#[test]
fn without_fuse_the_fault_exits_3_says_why_and_changes_nothing() {
    let drill = Drill::new();
    let target = Target::new();
    let before = target.mounts();
    let out = drill
        .cmd()
        .env("FAULTDRILL_FUSE_DEVICE", "/nonexistent/fuse")
        .args(["inject", "io-latency", "-p", &target.param(), "-p", "latency=10ms", "--duration", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("io faults need FUSE, and /nonexistent/fuse does not exist"), "{}", stderr(&out));
    assert_eq!(target.mounts(), before);
    let recover = drill.run(&["recover", "--all"]);
    assert!(stderr(&recover).contains("Nothing to recover"), "nothing was journaled: {}", stderr(&recover));
}

#[test]
fn off_limits_paths_are_refused() {
    let drill = Drill::new();
    let state = drill.state.path().display().to_string();
    let file = Target::new();
    let not_a_dir = file.file().display().to_string();
    for path in ["/", "/proc", "/sys", "/dev", "/dev/shm", &state, "/no/such/dir", &not_a_dir, "relative/dir"] {
        let out = drill.run(&["inject", "io-error", "-p", &format!("path={path}"), "--duration", "5s"]);
        assert_eq!(out.status.code(), Some(3), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains("refused: parameter `path`"), "{path}: {}", stderr(&out));
    }
}

#[test]
fn a_dry_run_shows_the_mount_and_the_helper_command_and_mounts_nothing() {
    let drill = Drill::new();
    let target = Target::new();
    let out = drill.run(&[
        "inject",
        "io-latency",
        "-p",
        &target.param(),
        "-p",
        "latency=10ms",
        "-p",
        "jitter=2ms",
        "-p",
        "comm=postgres",
        "--duration",
        "30s",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let path = target.path().display().to_string();
    assert!(text.contains("mount a FUSE pass-through (fstype fuse, source faultdrill:i-"), "{text}");
    assert!(text.contains(&format!("over {path}, served by `")), "{text}");
    assert!(text.contains("helper io-fault --injection i-"), "{text}");
    assert!(text.contains("--latency-us 10000 --jitter-us 2000 --comm postgres"), "{text}");
    assert!(text.contains("delay by 10ms ± 2ms, on 100 % of all operations of comm postgres"), "{text}");
    assert!(text.contains(&format!("rollback runs `umount -l {path}`")), "{text}");
    assert!(!target.is_mounted());
}
