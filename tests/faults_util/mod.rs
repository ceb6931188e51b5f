//! Test helpers for the fault library's integration tests: the real binary in a
//! temp state dir, uniquely named victim processes, per-test tmpfs mounts, and
//! /proc readings. Every guard cleans up in `Drop`, even when a test fails.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use faultdrill::platform::linux::ProcRef;
use faultdrill::platform::linux::procs;

#[path = "../common/root.rs"]
mod root;

#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub use root::root_or_skip;

/// A short random lowercase suffix.
pub fn unique(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len).map(|_| (b'a' + rng.random_range(0..26u8)) as char).collect()
}

/// The faultdrill binary with its own state dir.
pub struct Drill {
    pub state: tempfile::TempDir,
}

impl Drill {
    pub fn new() -> Drill {
        Drill { state: tempfile::tempdir().expect("a temp state dir") }
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultdrill"));
        cmd.env("FAULTDRILL_STATE_DIR", self.state.path()).env_remove("FAULTDRILL_LOG");
        cmd
    }

    /// Runs faultdrill to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().expect("run faultdrill")
    }

    /// Starts `faultdrill inject ...` and waits for the injection id on stdout.
    pub fn start_inject(&self, args: &[&str]) -> Injecting {
        let mut child = self
            .cmd()
            .arg("inject")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn faultdrill inject");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the injection id");
        let id = line.trim().to_string();
        if !id.starts_with("i-") {
            let out = child.wait_with_output().unwrap();
            panic!("inject printed no id: {line:?}; stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        Injecting { child: Some(child), id, state_dir: self.state.path().to_path_buf() }
    }
}

/// A running `faultdrill inject`. Dropping it kills it and recovers its state dir.
pub struct Injecting {
    pub child: Option<Child>,
    pub id: String,
    state_dir: PathBuf,
}

impl Injecting {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
    }

    /// Waits for the exit (at most `within`), returning the code and stderr.
    pub fn wait(&mut self, within: Duration) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        let give_up = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut stderr);
                }
                return (status.code(), stderr);
            }
            if Instant::now() > give_up {
                let _ = child.kill();
                let _ = child.wait();
                panic!("faultdrill inject did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Injecting {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_faultdrill"))
            .args(["recover", "--all"])
            .env("FAULTDRILL_STATE_DIR", &self.state_dir)
            .output();
    }
}

/// A victim process: a copy of `sleep` under a unique name (`fdtest-xxxxxxxx`,
/// 15 characters, so its comm is exactly that). Killed (and resumed) on drop.
pub struct Victim {
    pub name: String,
    pub child: Child,
    _dir: tempfile::TempDir,
}

impl Victim {
    pub fn spawn() -> Victim {
        let name = format!("fdtest-{}", unique(8));
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(&name);
        std::fs::copy("/bin/sleep", &exe).expect("copy /bin/sleep");
        let child = Command::new(&exe).arg("600").stdin(Stdio::null()).spawn().expect("spawn the victim");
        let victim = Victim { name, child, _dir: dir };
        wait_until(Duration::from_secs(5), || procs::read_stat(victim.pid()).is_some_and(|s| s.comm == victim.name));
        victim
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The process state letter (R, S, T, Z …), `None` once reaped.
    pub fn state(&self) -> Option<char> {
        procs::read_stat(self.pid()).map(|s| s.state)
    }

    pub fn proc_ref(&self) -> ProcRef {
        ProcRef::of_pid(self.pid()).unwrap()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 64 MiB tmpfs at a unique mountpoint, unmounted on drop.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    pub fn mount() -> Tmpfs {
        let path = std::env::temp_dir().join(format!("fdtest-tmpfs-{}", unique(10)));
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "fdtest"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs at {}", path.display());
        Tmpfs { path }
    }

    pub fn used_percent(&self) -> f64 {
        faultdrill::platform::linux::files::fs_usage(&self.path).unwrap().used_percent()
    }

    pub fn used_bytes(&self) -> u64 {
        faultdrill::platform::linux::files::fs_usage(&self.path).unwrap().used
    }

    /// Files faultdrill left in the mount.
    pub fn fill_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.path)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("faultdrill-"))
            .collect()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Live helper processes of an injection (the same tag `recover` looks for).
pub fn helpers_of(id: &str) -> Vec<i32> {
    procs::all_pids()
        .into_iter()
        .filter(|&pid| procs::read_stat(pid).is_some_and(|s| s.state != 'Z'))
        .filter(|&pid| {
            procs::cmdline(pid).is_some_and(|a| a.iter().any(|x| x == "helper") && a.iter().any(|x| x == id))
        })
        .collect()
}

/// Polls `cond` until it holds, panicking after `within`.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < give_up, "condition not met within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CPU use of a process over `window`, in percent of one core, from /proc/PID/stat.
pub fn cpu_percent(pid: i32, window: Duration) -> f64 {
    let ticks = procs::clock_ticks_per_second() as f64;
    let before = procs::read_stat(pid).expect("the process is running").cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(window);
    let after = procs::read_stat(pid).expect("the process is still running").cpu_ticks();
    (after - before) as f64 / ticks / start.elapsed().as_secs_f64() * 100.0
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
