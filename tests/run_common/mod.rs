//! Shared helpers for the `run_*` end-to-end tests: the real binary, a per-test state dir,
//! throwaway processes and filesystems that are cleaned up even when a test fails.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../common/root.rs"]
mod root;

#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub use root::root_or_skip;

/// The `faultdrill` binary with a private state dir and no colour.
pub fn faultdrill(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultdrill"));
    cmd.arg("--state-dir").arg(state).env("NO_COLOR", "1").env_remove("FAULTDRILL_STATE_DIR");
    cmd
}

/// The repository's `experiments/` file `name`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join(name)
}

/// A 64 MiB tmpfs mounted for one test, unmounted on drop.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "faultdrill-test"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs");
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Used percent, as `df` counts it.
    pub fn used_percent(&self) -> f64 {
        let st = nix::sys::statvfs::statvfs(self.path()).unwrap();
        let used = (st.blocks() - st.blocks_free()) as f64;
        let avail = st.blocks_available() as f64;
        used / (used + avail) * 100.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A child process killed (after a SIGCONT) on drop.
pub struct Owned(pub Child);

impl Owned {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0.id() as i32), nix::sys::signal::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `sleep 120`, owned by the test.
pub fn sleeper() -> Owned {
    Owned(Command::new("sleep").arg("120").spawn().unwrap())
}

/// Starts `faultdrill` in the background, stderr to `log`, stdout to `out`.
pub fn spawn_logged(mut cmd: Command, dir: &Path) -> Owned {
    let err = File::create(dir.join("stderr.log")).unwrap();
    let out = File::create(dir.join("stdout.log")).unwrap();
    Owned(cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err)).spawn().unwrap())
}

/// The scheduler state letter of a process (`S`, `R`, `T`, …), if it exists.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// PIDs whose command line contains `needle`.
pub fn pids_with_cmdline(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) && proc_state(pid) != Some('Z') {
            pids.push(pid);
        }
    }
    pids
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Waits for a child to exit, with a timeout; its exit code, or `None` if killed by a signal.
pub fn wait_exit(child: &mut Owned, timeout: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(start.elapsed() < timeout, "faultdrill did not exit within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Files in `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Writes an experiment file into `dir`.
pub fn experiment(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The text of a log written by `spawn_logged`.
pub fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Whether a process is stopped (`T`) or running (`S`, `R`, `D`: the same to a user;
/// a process just resumed may be caught runnable), for before/after comparisons.
pub fn run_state(pid: u32) -> Option<&'static str> {
    proc_state(pid).map(|s| if matches!(s, 'T' | 't') { "stopped" } else { "running" })
}

/// The world of a run test, cleaned up on drop: a work dir (experiment file, logs), a
/// data dir for disk-fill, a private state dir, and a sleeper for process-pause.
pub struct Scene {
    pub work: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub sleeper: Owned,
}

impl Scene {
    pub fn new() -> Scene {
        let dir = || tempfile::tempdir().unwrap();
        Scene { work: dir(), data: dir(), state: dir(), sleeper: sleeper() }
    }

    /// What "state before == state after" compares: the data dir's files and whether
    /// the sleeper runs.
    pub fn observe(&self) -> (Vec<String>, Option<&'static str>) {
        (entries(self.data.path()), run_state(self.sleeper.pid()))
    }

    /// Writes the experiment `name` into the work dir and starts `faultdrill run` on it
    /// (with `args`) in the background, logging to `stdout.log` and `stderr.log` there.
    pub fn spawn_run(&self, name: &str, yaml: &str, args: &[&str]) -> Owned {
        let mut cmd = faultdrill(self.state.path());
        cmd.arg("run").arg(experiment(self.work.path(), name, yaml)).args(args);
        spawn_logged(cmd, self.work.path())
    }
}

/// Helper processes (`faultdrill helper … --injection ID`) of every injection `journal`
/// knows, by injection id: the per-state-dir process set compared before and after a run.
pub fn helpers_by_injection(journal: &faultdrill::journal::Journal) -> Vec<(String, Vec<u32>)> {
    let records = journal.recent(1000).unwrap();
    let mut found: Vec<(String, Vec<u32>)> = records
        .into_iter()
        .map(|r| {
            let id = r.id.to_string();
            let pids = pids_with_cmdline(&format!("--injection {id}"));
            (id, pids)
        })
        .filter(|(_, pids)| !pids.is_empty())
        .collect();
    found.sort();
    found
}

/// Resident memory of a process in bytes (0 once it is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    kib.unwrap_or(0u64) * 1024
}

/// The host's MemAvailable in bytes.
pub fn mem_available() -> u64 {
    faultdrill::platform::linux::meminfo::meminfo().unwrap().available
}

/// Writes an experiment that holds a memory-stress of `size` for 60 s (longer than any test waits).
pub fn memory_stress_experiment(dir: &Path, size: &str) -> PathBuf {
    let yaml = format!(
        "version: 1
name: memory-held
action_groups:
  - name: hold
    target: local
    actions:
      - fault: memory-stress
        params: {{size: {size}}}
        duration: 60s
"
    );
    experiment(dir, "memory.yaml", &yaml)
}

/// The active memory-stress injection in `journal` and the PIDs of its helper processes.
pub fn memory_holder(journal: &faultdrill::journal::Journal) -> Option<(faultdrill::ids::InjectionId, Vec<u32>)> {
    let record = journal
        .live()
        .unwrap()
        .into_iter()
        .find(|r| r.fault == "memory-stress" && r.state == faultdrill::journal::InjectionState::Active)?;
    let pids = pids_with_cmdline(&format!("--injection {}", record.id));
    Some((record.id, pids))
}

/// On drop, SIGKILLs every helper process still tagged with an injection of the state dir's
/// journal: a failing test leaves no memory held and no CPU burning.
pub struct SweepHelpers(pub PathBuf);

impl Drop for SweepHelpers {
    fn drop(&mut self) {
        let Ok(journal) = faultdrill::journal::Journal::open(&self.0) else { return };
        for pid in helpers_by_injection(&journal).into_iter().flat_map(|(_, pids)| pids) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
        }
    }
}

/// What a memory-stress run test holds: modest, so a noisy shared host is not starved.
pub const MEMORY_HELD: u64 = 128 << 20;

/// The world of a memory-stress run test: work and state dirs, the journal, and what
/// "before" was (helper processes, MemAvailable). Every helper of the state dir is killed
/// on drop, so a failing test leaves no memory held.
pub struct MemoryScene {
    /// First, so it drops while the state dir still exists.
    _sweep: SweepHelpers,
    pub work: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub journal: faultdrill::journal::Journal,
    helpers_before: Vec<(String, Vec<u32>)>,
    available_before: u64,
}

impl MemoryScene {
    pub fn new() -> MemoryScene {
        let state = tempfile::tempdir().unwrap();
        let journal = faultdrill::journal::Journal::open(state.path()).unwrap();
        MemoryScene {
            _sweep: SweepHelpers(state.path().to_path_buf()),
            work: tempfile::tempdir().unwrap(),
            helpers_before: helpers_by_injection(&journal),
            available_before: mem_available(),
            state,
            journal,
        }
    }

    /// Starts `faultdrill run` (with `args`) on a memory-stress of [`MEMORY_HELD`] held 60 s and
    /// waits until its one holder is resident: the run, the injection and its holder PIDs.
    pub fn start_run(&self, args: &[&str]) -> (Owned, faultdrill::ids::InjectionId, Vec<u32>) {
        let mut cmd = faultdrill(self.state.path());
        cmd.arg("run").arg(memory_stress_experiment(self.work.path(), "128MiB")).args(args);
        let run = spawn_logged(cmd, self.work.path());
        let held = wait_until(Duration::from_secs(30), || {
            memory_holder(&self.journal).is_some_and(|(_, pids)| pids.len() == 1 && rss_bytes(pids[0]) >= MEMORY_HELD)
        });
        assert!(held, "one holder with 128 MiB resident; stderr:\n{}", log(self.work.path(), "stderr.log"));
        let (id, holders) = memory_holder(&self.journal).unwrap();
        (run, id, holders)
    }

    /// State before == state after: no helper process of this state dir's injections is
    /// left (the strict check), and the memory is the kernel's again (loose: other builds
    /// share this host).
    pub fn assert_released(&self) {
        assert_eq!(helpers_by_injection(&self.journal), self.helpers_before, "state before == state after");
        assert!(
            wait_until(Duration::from_secs(15), || mem_available() + 4 * MEMORY_HELD >= self.available_before),
            "MemAvailable {} back near {}",
            mem_available(),
            self.available_before
        );
    }
}
