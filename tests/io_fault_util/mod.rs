//! Helpers for the io fault tests: a directory with a file to read, timing of
//! single `read(2)` calls, and the mount table scoped to one directory (tests
//! run in parallel processes that share the mount namespace, so a whole-table
//! comparison would see the other tests' mounts come and go).
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A directory holding `data.bin` (64 KiB of a known pattern).
pub struct Target {
    pub dir: tempfile::TempDir,
}

pub const CONTENT_LEN: usize = 64 * 1024;

pub fn content() -> Vec<u8> {
    (0..CONTENT_LEN).map(|i| (i % 251) as u8).collect()
}

impl Target {
    pub fn new() -> Target {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("data.bin"), content()).unwrap();
        Target { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    pub fn file(&self) -> PathBuf {
        self.path().join("data.bin")
    }

    pub fn param(&self) -> String {
        format!("path={}", self.path().display())
    }

    /// The lines of /proc/self/mountinfo whose mount point is this directory or under it.
    pub fn mounts(&self) -> Vec<String> {
        mounts_under(&self.path())
    }

    pub fn is_mounted(&self) -> bool {
        !self.mounts().is_empty()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // A failed test must not leave its mount behind for the next one.
        for _ in self.mounts() {
            let _ = nix::mount::umount2(&self.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Mount table lines (as written) whose mount point is `dir` or below it.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|mp| Path::new(&mp.replace("\\040", " ")).starts_with(dir)))
        .map(str::to_string)
        .collect()
}

/// The time of each of `count` single 4 KiB `pread`s of an already open file.
pub fn read_times(path: &Path, count: usize) -> Vec<Duration> {
    let file = File::open(path).expect("open the file");
    let mut buf = vec![0u8; 4096];
    (0..count)
        .map(|i| {
            let start = Instant::now();
            let n = file.read_at(&mut buf, (i * 4096 % CONTENT_LEN) as u64).expect("read");
            let took = start.elapsed();
            assert_eq!(n, 4096);
            took
        })
        .collect()
}

pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The errno of one `read` of `path` (opened first), or `None` if it succeeded.
pub fn read_errno(path: &Path) -> Option<i32> {
    let file = File::open(path).expect("open the file");
    let mut buf = vec![0u8; 16];
    file.read_at(&mut buf, 0).err().map(|e| e.raw_os_error().expect("an errno"))
}
