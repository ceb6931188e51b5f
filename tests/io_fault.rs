//! io-latency and io-error end to end: a real FUSE pass-through over a real
//! directory, timed and failed `read(2)`s of the test's own files, and a mount
//! table without a trace of it after the rollback.

mod faults_util;
mod io_fault_util;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use faults_util::{Drill, helpers_of, root_or_skip, wait_until};
use io_fault_util::{Target, content, median, read_errno, read_times};
use nix::sys::signal::Signal;

#[test]
fn at_50ms_a_read_under_the_path_takes_50_to_60ms_and_a_file_elsewhere_is_unaffected() {
    if !root_or_skip("at_50ms_a_read_under_the_path_takes_50_to_60ms_and_a_file_elsewhere_is_unaffected") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let elsewhere = Target::new();
    let before = target.mounts();
    let mut inject =
        drill.start_inject(&["io-latency", "-p", &target.param(), "-p", "latency=50ms", "--duration", "60s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    assert_eq!(helpers_of(&inject.id).len(), 2, "a helper serves the mount, and its guard watches it");

    // This machine's scheduling noise, measured in the same run: how late a 50 ms sleep
    // wakes (about 0.1 ms when idle; tens of ms when a dozen builds share two cores).
    let mut slow = Vec::new();
    let mut late = Vec::new();
    for _ in 0..10 {
        slow.extend(read_times(&target.file(), 1));
        let start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(50));
        late.push(start.elapsed() - Duration::from_millis(50));
    }
    let fast = read_times(&elsewhere.file(), 10);
    let (slow_p50, fast_p50, noise) = (median(slow.clone()), median(fast), median(late));
    assert!(slow.iter().all(|t| *t >= Duration::from_millis(50)), "every read is delayed: {slow:?}");
    assert!(
        slow_p50 <= Duration::from_millis(60) + noise,
        "reads take 50-60 ms (plus this machine's wake-up lateness, {noise:?}): {slow:?}"
    );
    assert!(fast_p50 < Duration::from_millis(5), "a file elsewhere is unaffected: {fast_p50:?}");
    // The data read through the pass-through is the file's.
    assert_eq!(std::fs::read(target.file()).unwrap(), content());

    inject.signal(Signal::SIGTERM);
    let (code, err) = inject.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(target.mounts(), before, "nothing is mounted after the rollback");
    assert!(helpers_of(&inject.id).is_empty(), "the helper is gone");
    assert!(median(read_times(&target.file(), 10)) < Duration::from_millis(5), "reads are normal again");
    assert_eq!(std::fs::read(target.file()).unwrap(), content());
}

#[test]
fn io_error_at_100_percent_fails_reads_with_eio_and_writes_with_the_chosen_errno() {
    if !root_or_skip("io_error_at_100_percent_fails_reads_with_eio_and_writes_with_the_chosen_errno") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    let before = target.mounts();
    let mut inject = drill.start_inject(&["io-error", "-p", &target.param(), "-p", "ops=read", "--duration", "60s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    assert_eq!(read_errno(&target.file()), Some(libc::EIO));
    // ops=read: writes, opens and listings still work.
    std::fs::write(target.path().join("new.txt"), b"written").unwrap();
    assert!(std::fs::read_dir(target.path()).unwrap().count() >= 2);
    inject.signal(Signal::SIGINT);
    let (code, err) = inject.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(target.mounts(), before);
    assert_eq!(read_errno(&target.file()), None);
    assert_eq!(std::fs::read(target.path().join("new.txt")).unwrap(), b"written", "the write reached the real file");

    let mut inject = drill.start_inject(&[
        "io-error",
        "-p",
        &target.param(),
        "-p",
        "errno=ENOSPC",
        "-p",
        "ops=write",
        "--duration",
        "60s",
    ]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    let mut file = std::fs::OpenOptions::new().append(true).open(target.file()).unwrap();
    let err = file.write_all(b"more").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    assert_eq!(read_errno(&target.file()), None, "ops=write: reads work");
    drop(file);
    inject.signal(Signal::SIGTERM);
    let _ = inject.wait(Duration::from_secs(15));
    assert_eq!(target.mounts(), before);
    assert_eq!(std::fs::read(target.file()).unwrap(), content(), "the failed write changed nothing");
}

#[test]
fn a_pid_filter_fails_only_that_process() {
    if !root_or_skip("a_pid_filter_fails_only_that_process") {
        return;
    }
    let drill = Drill::new();
    let target = Target::new();
    // A shell that waits for a line, then becomes `cat` of the file (same pid).
    let script = format!("read go; exec cat '{}' > /dev/null", target.file().display());
    let mut victim =
        Command::new("sh").args(["-c", &script]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = format!("pid={}", victim.id());
    let mut inject = drill.start_inject(&["io-error", "-p", &target.param(), "-p", &pid, "--duration", "60s"]);
    wait_until(Duration::from_secs(10), || target.is_mounted());
    assert_eq!(read_errno(&target.file()), None, "the test process is not selected");
    victim.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = victim.wait_with_output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("Input/output error"), "{said}");
    inject.signal(Signal::SIGTERM);
    let _ = inject.wait(Duration::from_secs(15));
    assert!(!target.is_mounted());
}
