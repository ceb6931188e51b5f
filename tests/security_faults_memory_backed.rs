//! Audit finding 8 (issue 10): disk-fill on tmpfs, ramfs or devtmpfs fills RAM,
//! not disk (a dry run of /dev/shm at 99 % planned 23 GiB). Such a path is
//! refused, saying why and how to allow it, unless `allow_memory_backed: true`;
//! a dry run says when it is allowed.

mod faults_util;

use std::path::PathBuf;
use std::process::Command;

use faults_util::{Drill, Tmpfs, root_or_skip, stderr, stdout, unique};

/// A ramfs at a unique mountpoint, unmounted on drop.
struct Ramfs {
    path: PathBuf,
}

impl Ramfs {
    fn mount() -> Ramfs {
        let path = std::env::temp_dir().join(format!("fdtest-ramfs-{}", unique(10)));
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount").args(["-t", "ramfs", "fdtest"]).arg(&path).status().unwrap();
        assert!(status.success(), "mount a ramfs at {}", path.display());
        Ramfs { path }
    }
}

impl Drop for Ramfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn disk_fill_refuses_tmpfs_ramfs_and_dev_shm_unless_allowed() {
    if !root_or_skip("disk_fill_refuses_tmpfs_ramfs_and_dev_shm_unless_allowed") {
        return;
    }
    let drill = Drill::new();
    let tmpfs = Tmpfs::mount();
    let ramfs = Ramfs::mount();
    for (dir, kind) in [(&tmpfs.path, "tmpfs"), (&ramfs.path, "ramfs"), (&PathBuf::from("/dev/shm"), "tmpfs")] {
        if !dir.is_dir() {
            continue;
        }
        let before = files_in(dir);
        let path = format!("path={}", dir.display());
        for extra in [&["--dry-run"][..], &[]] {
            let mut args = vec!["inject", "disk-fill", "-p", &path, "-p", "size=1MiB", "--duration", "2s"];
            args.extend_from_slice(extra);
            let out = drill.run(&args);
            assert_eq!(out.status.code(), Some(3), "{} {extra:?}: {}", dir.display(), stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(&format!("is on {kind}")), "{err}");
            assert!(err.contains("filling it takes RAM (and swap), not disk"), "says why: {err}");
            assert!(err.contains("`allow_memory_backed: true`"), "says how to allow it: {err}");
            assert!(stdout(&out).is_empty(), "nothing injected: {}", stdout(&out));
        }
        assert_eq!(files_in(dir), before, "{}: no fill file", dir.display());
    }

    // Allowed explicitly: the dry run says what it means (a ramfs has no size, so the tmpfs).
    let path = format!("path={}", tmpfs.path.display());
    let out = drill.run(&[
        "inject",
        "disk-fill",
        "-p",
        &path,
        "-p",
        "size=1MiB",
        "-p",
        "allow_memory_backed=true",
        "--duration",
        "2s",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is on tmpfs (or devtmpfs), a memory-backed filesystem: this fill takes RAM"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_disk_backed_path_needs_no_allowance() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let kind = nix::sys::statfs::statfs(dir.path()).unwrap().filesystem_type();
    if kind == nix::sys::statfs::TMPFS_MAGIC {
        eprintln!("the target dir is itself on tmpfs: nothing disk-backed to try");
        return;
    }
    let path = format!("path={}", dir.path().display());
    let out =
        Drill::new().run(&["inject", "disk-fill", "-p", &path, "-p", "size=1MiB", "--duration", "1s", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("memory-backed"), "{}", stdout(&out));
}
