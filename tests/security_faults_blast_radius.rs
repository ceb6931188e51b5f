//! Audit finding 10 (issue 10) and issue 12 item 4: the blast radius of a
//! process selection. A `name` or `pattern` matching more than `max_matches`
//! (10) processes is refused, saying how many and how to raise it; a
//! deny-list (direct children of PID 1, sshd, container runtimes, beside PID
//! 1, faultdrill, its ancestors and kernel threads) is never hit by name or
//! pattern; process-kill prints the PIDs and names it signalled.

mod faults_util;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use faultdrill::platform::linux::procs;
use faults_util::{Drill, Victim, stderr, stdout, unique, wait_until};

/// `n` copies of `sleep` under one unique name, killed on drop.
struct Herd {
    name: String,
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl Herd {
    fn spawn(n: usize) -> Herd {
        Herd::named(&format!("fdherd-{}", unique(8)), n)
    }

    fn named(name: &str, n: usize) -> Herd {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let children: Vec<_> =
            (0..n).map(|_| Command::new(&exe).arg("600").stdin(Stdio::null()).spawn().unwrap()).collect();
        let comm = &name[..name.len().min(15)];
        for c in &children {
            let pid = c.id() as i32;
            wait_until(Duration::from_secs(5), || procs::read_stat(pid).is_some_and(|s| s.comm == comm));
        }
        Herd { name: name.to_string(), children, _dir: dir }
    }

    fn alive(&self) -> usize {
        self.children.iter().filter(|c| procs::read_stat(c.id() as i32).is_some_and(|s| s.state != 'Z')).count()
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `pattern: "."` is only ever tried as a dry run here: if fewer processes than the cap
/// matched, a real run would signal every one of them (other tests, the runner's
/// siblings). A herd of 12 makes sure the cap is passed; the real runs use a pattern
/// that matches the herd alone.
#[test]
fn a_pattern_matching_everything_is_refused_and_nothing_is_signalled() {
    let herd = Herd::spawn(12);
    let drill = Drill::new();
    let only_herd = format!("pattern={}", herd.name);
    for fault in ["process-kill", "process-pause"] {
        for (pattern, dry_run) in [("pattern=.", true), (only_herd.as_str(), true), (only_herd.as_str(), false)] {
            let mut args = vec!["inject", fault, "-p", pattern, "-p", "count=100000", "--duration", "1s"];
            if dry_run {
                args.push("--dry-run");
            }
            let out = drill.run(&args);
            assert_eq!(out.status.code(), Some(3), "{fault} {pattern}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains("whose command line matches `"), "{fault}: names how many: {err}");
            assert!(err.contains("more than max_matches (10)"), "{err}");
            assert!(err.contains("raise `max_matches` to at least"), "says how to raise it: {err}");
            assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        }
    }
    assert_eq!(herd.alive(), 12, "nothing was signalled");
}

#[test]
fn a_name_over_the_cap_is_refused_until_max_matches_is_raised_and_the_kills_are_printed() {
    let mut herd = Herd::spawn(12);
    let drill = Drill::new();
    let name = format!("name={}", herd.name);
    let out = drill.run(&["inject", "process-kill", "-p", &name, "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the processes named `{}` number 12, more than max_matches (10)", herd.name)),
        "{err}"
    );
    assert!(err.contains("raise `max_matches` to at least 12"), "{err}");
    assert_eq!(herd.alive(), 12, "nothing was killed");

    let out = drill.run(&["inject", "process-kill", "-p", &name, "-p", "max_matches=12", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err.lines().find(|l| l.contains("signalled SIGKILL (12): ")).unwrap_or_else(|| panic!("{err}"));
    for child in &mut herd.children {
        let pid = child.id();
        assert!(line.contains(&format!("pid {pid} ({})", herd.name)), "pid {pid} is printed: {line}");
        assert_eq!(child.wait().unwrap().signal(), Some(9), "pid {pid} was killed");
    }
}

#[test]
fn a_run_prints_and_reports_the_processes_it_killed() {
    let mut victim = Victim::spawn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: kill-one\naction_groups:\n  - name: kill\n    target: local\n    actions:\n      - fault: process-kill\n        params: {{name: {}}}\n",
            victim.name
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let drill = Drill::new();
    let out = drill.run(&["run", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected = format!("signalled SIGKILL (1): pid {} ({})", victim.pid(), victim.name);
    assert!(stderr(&out).contains(&expected), "printed live: {}", stderr(&out));
    let report = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    assert!(report.contains(&expected), "in the report: {report}");
    assert_eq!(victim.child.wait().unwrap().signal(), Some(9));
}

/// A copy of sleep named `name`, orphaned at once so that PID 1 (or the nearest
/// subreaper) adopts it; killed on drop.
struct Orphan {
    pid: i32,
    _dir: tempfile::TempDir,
}

impl Orphan {
    fn spawn(name: &str) -> Orphan {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let out =
            Command::new("sh").arg("-c").arg(format!("'{}' 600 >/dev/null 2>&1 & echo $!", exe.display())).output();
        let pid: i32 = String::from_utf8_lossy(&out.unwrap().stdout).trim().parse().unwrap();
        wait_until(Duration::from_secs(5), || procs::read_stat(pid).is_some_and(|s| s.ppid != 0 && s.comm == name));
        Orphan { pid, _dir: dir }
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// On a systemd host every service is a child of PID 1: killing one by name is the drill
/// SREs run most, so PID 1's children are not refused as a class (`max_matches` bounds
/// the blast radius instead).
#[test]
fn a_service_adopted_by_pid_1_can_be_killed_by_name() {
    let name = format!("fdorph-{}", unique(8));
    let orphan = Orphan::spawn(&name);
    let ppid = procs::read_stat(orphan.pid).unwrap().ppid;
    assert_eq!(ppid, 1, "the orphan is adopted by PID 1 (no subreaper between): ppid {ppid}");
    let drill = Drill::new();
    let by_name = format!("name={name}");
    let out = drill.run(&["inject", "process-kill", "-p", &by_name, "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("({name})")) || stderr(&out).contains(&format!("({name})")),
        "the PID it signalled is printed"
    );
    wait_until(Duration::from_secs(5), || procs::read_stat(orphan.pid).is_none_or(|s| s.state == 'Z'));
}

#[test]
fn sshd_and_container_runtimes_are_never_hit_by_name() {
    let drill = Drill::new();
    for name in ["sshd", "conmon", "containerd-shim-runc-v2", "systemd-logind", "dbus-daemon"] {
        // Dry runs only: a real sshd on this host must never be at risk from this test.
        let herd = Herd::named(name, 1);
        let by_name = format!("name={name}");
        let out = drill.run(&["inject", "process-kill", "-p", &by_name, "--duration", "1s", "--dry-run"]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("it is remote access, host plumbing or a container runtime (deny-listed)"),
            "{}",
            stderr(&out)
        );
        assert_eq!(herd.alive(), 1);
    }
}
