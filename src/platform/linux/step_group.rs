//! A custom action's command as a process group: spawned as the leader of a group of its
//! own that is killed with the process that started it (best effort), and found and killed
//! again later from a record alone, never touching a process that merely reuses its PID.
#![expect(unsafe_code, reason = "prctl(PR_SET_PDEATHSIG) in the forked child needs a pre_exec hook")]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::procs::{ProcRef, all_pids, environ_has, read_stat};
use super::signals::{Delivery, send};
use super::{UndoError, UndoOutcome};

/// Spawns `command` as the leader of a new process group, so that a time limit or a
/// recovery kills what it started too (`sh -c`, a cloud CLI's own children).
///
/// The leader also gets SIGKILL when the thread that spawned it exits
/// (`PR_SET_PDEATHSIG`): a controller killed with `kill -9` takes its running command down
/// with it instead of leaving it to finish after a rollback. Linux ties that signal to the
/// spawning *thread*, not the process, so the caller must stay in that thread until the
/// child has exited (`CommandStep::run` blocks until then); a pool thread that went back
/// to idle and exited would kill a command still wanted. Only the leader gets the signal,
/// not what it started, and it is cleared when the leader executes a set-user-ID program:
/// [`StepProcesses::stop`] is what guarantees the whole group is gone.
pub fn spawn_group_leader(command: &mut Command) -> std::io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    command.process_group(0);
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2) and
    // getppid(2), which are async-signal-safe; building an io::Error from an errno allocates
    // nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between the fork and the prctl: nothing would ever wait for
            // this command, so it must not start.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// What tells the processes of one command apart from every other, from its record alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepProcesses {
    /// The group's leader as recorded when it was spawned (its PID is the group's id),
    /// pinned by start time. `None`: the record was written before the spawn but not after,
    /// so only the environment names its processes.
    pub leader: Option<ProcRef>,
    /// `NAME=value` entries every process of the command inherited (its injection and
    /// step); never empty.
    pub env: Vec<String>,
}

impl StepProcesses {
    /// The processes of the command alive now (zombies are gone). With a leader recorded:
    /// every member of its group while the leader is the very process recorded (same PID
    /// and start time: a reused PID never matches), and once the leader is gone, the members
    /// that still carry the command's environment. Without one: every process carrying it.
    pub fn alive(&self) -> Vec<ProcRef> {
        if self.env.is_empty() {
            return Vec::new();
        }
        let me = std::process::id() as i32;
        let leader_is_ours = self.leader.is_some_and(|l| l.is_alive());
        all_pids()
            .into_iter()
            .filter(|&pid| pid != me)
            .filter_map(read_stat)
            .filter(|s| s.state != 'Z' && s.state != 'X')
            .filter(|s| match self.leader {
                Some(leader) => s.pgrp == leader.pid && (leader_is_ours || environ_has(s.pid, &self.env)),
                None => environ_has(s.pid, &self.env),
            })
            .map(|s| s.proc_ref())
            .collect()
    }

    /// Kills (SIGKILL) every process of the command and waits until they are gone, `within`
    /// at most. Idempotent: nothing left is `AlreadyGone`.
    pub fn stop(&self, within: Duration) -> Result<UndoOutcome, UndoError> {
        let mut outcome = UndoOutcome::AlreadyGone;
        let give_up = Instant::now() + within;
        loop {
            let alive = self.alive();
            if alive.is_empty() {
                return Ok(outcome);
            }
            if Instant::now() >= give_up {
                let pids: Vec<String> = alive.iter().map(|p| p.pid.to_string()).collect();
                return Err(UndoError {
                    what: format!(
                        "stop the command still running: pid {} still there after SIGKILL; check them with \
                         `ps -o pid,pgid,stat,cmd -p {}`",
                        pids.join(","),
                        pids.join(",")
                    ),
                    source: None,
                });
            }
            for process in &alive {
                match send(process, Signal::SIGKILL) {
                    Ok(Delivery::Sent) => outcome = UndoOutcome::Undone,
                    Ok(Delivery::Gone) => {}
                    Err(e) => {
                        return Err(UndoError {
                            what: format!("kill pid {} of a command still running", process.pid),
                            source: Some(e),
                        });
                    }
                }
            }
            // SIGKILL is asynchronous: wait for them to die (or be reaped).
            let settle = Instant::now() + Duration::from_millis(500);
            while Instant::now() < settle && alive.iter().any(ProcRef::is_alive) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// An environment entry no other process carries.
    fn marker() -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("FAULTDRILL_TEST_MARK={}-{n}", std::process::id())
    }

    /// `sh -c SCRIPT` as a group leader carrying `mark`, and a thread reaping it.
    fn group(script: &str, mark: &str) -> ProcRef {
        let (name, value) = mark.split_once('=').unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", script]).env(name, value).stdin(Stdio::null()).stdout(Stdio::null());
        let mut child = spawn_group_leader(&mut command).unwrap();
        let leader = ProcRef::of_pid(child.id() as i32).unwrap();
        std::thread::spawn(move || child.wait());
        leader
    }

    fn wait_until(mut check: impl FnMut() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn a_recorded_group_is_killed_whole_children_included() {
        let mark = marker();
        let leader = group("sleep 30 & sleep 30; true", &mark);
        let step = StepProcesses { leader: Some(leader), env: vec![mark] };
        assert!(wait_until(|| step.alive().len() >= 3), "sh and both sleeps: {:?}", step.alive());
        assert_eq!(step.stop(Duration::from_secs(5)).unwrap(), UndoOutcome::Undone);
        assert!(step.alive().is_empty() && !leader.is_alive());
        assert_eq!(step.stop(Duration::from_secs(5)).unwrap(), UndoOutcome::AlreadyGone, "idempotent");
    }

    #[test]
    fn members_left_by_a_dead_leader_are_found_by_their_environment() {
        let mark = marker();
        let leader = group("sleep 30 & sleep 30; true", &mark);
        let step = StepProcesses { leader: Some(leader), env: vec![mark] };
        assert!(wait_until(|| step.alive().len() >= 3));
        send(&leader, Signal::SIGKILL).unwrap();
        assert!(wait_until(|| !leader.is_alive()));
        assert_eq!(step.alive().len(), 2, "the sleeps outlive their leader");
        assert_eq!(step.stop(Duration::from_secs(5)).unwrap(), UndoOutcome::Undone);
        assert!(step.alive().is_empty());
    }

    #[test]
    fn a_reused_pid_is_never_killed() {
        // An unrelated process leading its own group, with a recorded leader of the same
        // PID but another start time (the PID was reused) and none of the step's environment.
        let other = group("exec sleep 30", "FAULTDRILL_TEST_OTHER=1");
        let recorded = ProcRef { pid: other.pid, start_time: other.start_time.wrapping_sub(1) };
        let step = StepProcesses { leader: Some(recorded), env: vec![marker()] };
        assert!(step.alive().is_empty(), "{:?}", step.alive());
        assert_eq!(step.stop(Duration::from_secs(1)).unwrap(), UndoOutcome::AlreadyGone);
        std::thread::sleep(Duration::from_millis(50));
        assert!(other.is_alive(), "the unrelated process still runs");
        send(&other, Signal::SIGKILL).unwrap();
    }

    #[test]
    fn without_a_leader_only_the_environment_names_the_processes() {
        let mark = marker();
        let ours = group("exec sleep 30", &mark);
        let other = group("exec sleep 30", &marker());
        let step = StepProcesses { leader: None, env: vec![mark] };
        assert!(wait_until(|| step.alive() == vec![ours]), "{:?}", step.alive());
        assert_eq!(step.stop(Duration::from_secs(5)).unwrap(), UndoOutcome::Undone);
        assert!(!ours.is_alive() && other.is_alive());
        assert!(StepProcesses { leader: None, env: vec![] }.alive().is_empty(), "no environment matches nothing");
        send(&other, Signal::SIGKILL).unwrap();
    }

    #[test]
    fn the_leader_dies_with_the_thread_that_spawned_it() {
        let mark = marker();
        let spawner = std::thread::spawn({
            let mark = mark.clone();
            move || {
                let (name, value) = mark.split_once('=').unwrap();
                let mut command = Command::new("sleep");
                command.arg("30").env(name, value);
                let child = spawn_group_leader(&mut command).unwrap();
                (ProcRef::of_pid(child.id() as i32).unwrap(), child)
            }
        });
        let (leader, mut child) = spawner.join().unwrap();
        // The thread is gone: the kernel sent the leader SIGKILL.
        assert!(wait_until(|| !leader.is_alive()), "PR_SET_PDEATHSIG killed it");
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    }
}
