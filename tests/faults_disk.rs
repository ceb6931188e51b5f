//! disk-fill on a real 64 MiB tmpfs, one per test.

mod faults_util;

use std::time::Duration;

use faults_util::{Drill, Tmpfs, root_or_skip, stderr, stdout, wait_until};

#[test]
fn disk_fill_reaches_the_requested_level_and_rollback_returns_to_baseline() {
    if !root_or_skip("disk_fill_reaches_the_requested_level_and_rollback_returns_to_baseline") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    std::fs::write(fs.path.join("existing-data"), vec![7u8; 3 << 20]).unwrap();
    let baseline = fs.used_bytes();
    let path = format!("path={}", fs.path.display());
    let mut inject = drill.start_inject(&[
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "fill_to_percent=80",
        "--duration",
        "3s",
    ]);
    wait_until(Duration::from_secs(5), || !fs.fill_files().is_empty());
    let level = fs.used_percent();
    assert!((79.0..=80.5).contains(&level), "filled to {level:.2} %");
    assert_eq!(fs.fill_files(), vec![format!("faultdrill-fill-{}", inject.id)]);
    let (code, err) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    assert!(fs.fill_files().is_empty(), "the fill file is gone");
    assert_eq!(fs.used_bytes(), baseline, "usage is back to its baseline");
    assert!(fs.path.join("existing-data").exists(), "other files are untouched");
}

#[test]
fn disk_fill_by_size_writes_that_much() {
    if !root_or_skip("disk_fill_by_size_writes_that_much") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    let baseline = fs.used_bytes();
    let path = format!("path={}", fs.path.display());
    let mut inject = drill.start_inject(&[
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "size=16MiB",
        "--duration",
        "2s",
    ]);
    wait_until(Duration::from_secs(5), || !fs.fill_files().is_empty());
    assert_eq!(fs.used_bytes() - baseline, 16 << 20);
    let (code, err) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fs.used_bytes(), baseline);
}

#[test]
fn disk_fill_past_99_percent_is_refused_and_changes_nothing() {
    if !root_or_skip("disk_fill_past_99_percent_is_refused_and_changes_nothing") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    let baseline = fs.used_bytes();
    let path = format!("path={}", fs.path.display());
    let out = drill.run(&[
        "inject",
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "size=64MiB",
        "--duration",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would take it to 100.0 % used; faultdrill never fills past 99 %"),
        "{}",
        stderr(&out)
    );
    assert!(fs.fill_files().is_empty());
    assert_eq!(fs.used_bytes(), baseline);

    // A level past 99 % is not even a valid parameter.
    let out = drill.run(&[
        "inject",
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "fill_to_percent=99.5",
        "--duration",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("out of range 1..99 percent"), "{}", stderr(&out));

    // 99 % itself is allowed, and lands at 99 % at most.
    let mut inject = drill.start_inject(&[
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "fill_to_percent=99",
        "--duration",
        "1s",
    ]);
    wait_until(Duration::from_secs(5), || !fs.fill_files().is_empty());
    let level = fs.used_percent();
    assert!((98.0..=99.0).contains(&level), "filled to {level:.2} %");
    let (code, err) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fs.used_bytes(), baseline);
}

#[test]
fn disk_fill_dry_run_describes_the_change_and_makes_none() {
    if !root_or_skip("disk_fill_dry_run_describes_the_change_and_makes_none") {
        return;
    }
    let drill = Drill::new();
    let fs = Tmpfs::mount();
    let path = format!("path={}", fs.path.display());
    let out = drill.run(&[
        "inject",
        "disk-fill",
        "-p",
        &path,
        "-p",
        "allow_memory_backed=true",
        "-p",
        "fill_to_percent=50",
        "--duration",
        "5s",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("dry run: disk-fill would change, and nothing was changed"), "{text}");
    assert!(text.contains("of 32.0 MiB"), "{text}");
    assert!(text.contains("to 50.0 % used of 64.0 MiB"), "{text}");
    assert!(text.contains("memory-backed filesystem: this fill takes RAM (and swap), not disk"), "{text}");
    assert!(fs.fill_files().is_empty());
    let recover = drill.run(&["recover", "--all"]);
    assert!(stderr(&recover).contains("Nothing to recover"), "a dry run journals nothing: {}", stderr(&recover));
}
