//! Helper processes tagged with an injection id: spawning them, setting one up,
//! finding them again from /proc alone, and stopping them.
//!
//! A helper is `faultdrill helper KIND --injection ID --deadline-ms T ...`. The
//! id on its command line is the tag: a fresh process (`faultdrill recover`)
//! finds every helper of an injection by scanning /proc, so a PID recycled by
//! an unrelated process is never mistaken for one.
#![expect(unsafe_code, reason = "sigaction and pre_exec have no safe form")]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};

use super::procs::{ProcRef, all_pids, cmdline};
use super::signals::{Delivery, send};
use super::{UndoError, UndoOutcome};
use crate::ids::InjectionId;

/// The line a helper prints on stdout once its fault is in place.
pub const READY_LINE: &str = "ready";

/// Why a helper could not be started. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("start the helper process {exe}")]
    Spawn {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    #[error("start the helper process: it exited before it was ready ({status}){stderr}")]
    Exited { status: String, stderr: String },
    #[error("start the helper process: it was not ready within {0:?}, so it was stopped")]
    NotReady(Duration),
}

/// Whether `args` (a command line) is a helper of `injection`.
pub fn is_helper_of(args: &[String], injection: &InjectionId) -> bool {
    let id = injection.as_str();
    let tagged = args.windows(2).any(|w| w[0] == "--injection" && w[1] == id)
        || args.iter().any(|a| a.strip_prefix("--injection=") == Some(id));
    tagged && args.iter().any(|a| a == "helper")
}

/// The injection a helper's command line (`EXE helper KIND --injection ID ...`) is tagged
/// with, or `None` for any other command line.
pub fn helper_tag(args: &[String]) -> Option<InjectionId> {
    if args.get(1).map(String::as_str) != Some("helper") {
        return None;
    }
    let value = args.windows(2).find(|w| w[0] == "--injection").map(|w| w[1].clone());
    let value = value.or_else(|| args.iter().find_map(|a| a.strip_prefix("--injection=").map(str::to_string)))?;
    (!value.is_empty()).then(|| InjectionId::from_string(value))
}

/// Every live helper process of any injection, with its tag (for a journal-less sweep).
pub fn find_all_helpers() -> Vec<(InjectionId, ProcRef)> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter_map(|pid| Some((helper_tag(&cmdline(pid)?)?, ProcRef::of_pid(pid)?)))
        .filter(|(_, p)| p.is_alive())
        .collect()
}

/// Every live helper process of `injection`.
pub fn find_helpers(injection: &InjectionId) -> Vec<ProcRef> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|&pid| cmdline(pid).is_some_and(|args| is_helper_of(&args, injection)))
        .filter_map(ProcRef::of_pid)
        .filter(ProcRef::is_alive)
        .collect()
}

/// Kills every helper of `injection` and waits until they are gone. Idempotent.
///
/// `known` are the helpers recorded when they were started: those are signalled
/// directly (each pinned by its start time). Only when none were recorded (the
/// controller died between spawning and recording) is /proc searched for the tag.
pub fn stop_helpers(injection: &InjectionId, known: &[ProcRef]) -> Result<UndoOutcome, UndoError> {
    let mut outcome = UndoOutcome::AlreadyGone;
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let helpers = if known.is_empty() {
            find_helpers(injection)
        } else {
            known.iter().copied().filter(ProcRef::is_alive).collect()
        };
        if helpers.is_empty() {
            return Ok(outcome);
        }
        if Instant::now() >= give_up {
            let pids: Vec<String> = helpers.iter().map(|p| p.pid.to_string()).collect();
            return Err(UndoError {
                what: format!(
                    "stop the helpers of {injection}: pid {} still running after SIGKILL; check them with `ps -p`",
                    pids.join(",")
                ),
                source: None,
            });
        }
        for helper in &helpers {
            match send(helper, Signal::SIGKILL) {
                Ok(Delivery::Sent) => outcome = UndoOutcome::Undone,
                Ok(Delivery::Gone) => {}
                Err(e) => {
                    return Err(UndoError {
                        what: format!("stop helper pid {} of {injection}", helper.pid),
                        source: Some(e),
                    });
                }
            }
        }
        crate::failpoint::hit("rollback.mid");
        // SIGKILL is asynchronous: wait for the processes to die (or be reaped).
        let settle = Instant::now() + Duration::from_millis(500);
        while Instant::now() < settle && helpers.iter().any(ProcRef::is_alive) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Spawns `exe args...` as a helper and waits until it prints [`READY_LINE`].
///
/// The helper runs in a session of its own: a Ctrl-C or hangup aimed at the
/// controller's terminal does not bypass the rollback, and the scheduler's
/// autogroups treat the helper's load as its own instead of sharing one slot
/// with the controller's session. Stdin is closed. A thread reaps the helper
/// when it exits so no zombie is left behind in a long-lived controller.
pub fn spawn_helper(exe: &Path, args: &[String], ready_within: Duration) -> Result<ProcRef, HelperError> {
    let mut command = Command::new(exe);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setsid(2), which is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    let mut child = command.spawn().map_err(|source| HelperError::Spawn { exe: exe.display().to_string(), source })?;
    crate::failpoint::hit("apply.mid");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let ready = BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == READY_LINE;
        let _ = tx.send(ready);
    });
    match rx.recv_timeout(ready_within) {
        Ok(true) => {
            let pid = child.id() as i32;
            let proc_ref = ProcRef::of_pid(pid).unwrap_or(ProcRef { pid, start_time: 0 });
            reap_in_background(child);
            Ok(proc_ref)
        }
        Ok(false) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(exited(child)),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(HelperError::NotReady(ready_within))
        }
    }
}

fn exited(mut child: Child) -> HelperError {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = match child.wait() {
        Ok(status) => status.to_string(),
        Err(e) => e.to_string(),
    };
    let stderr = stderr.trim();
    let stderr = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
    HelperError::Exited { status, stderr }
}

/// The first line a helper writes on stdout (what it says once its fault is in place),
/// or "" when it says nothing within `within`.
pub fn first_line(child: &mut Child, within: Duration) -> String {
    let Some(stdout) = child.stdout.take() else { return String::new() };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(within).unwrap_or_default()
}

/// A helper that started: pinned while it is still our unreaped child (so its PID cannot have
/// been recycled), then reaped in the background once it exits, so a long-lived daemon keeps no
/// zombies. Nobody reads its stderr from now on.
pub fn started(child: Child) -> Option<ProcRef> {
    let helper = i32::try_from(child.id()).ok().and_then(ProcRef::of_pid);
    reap_in_background(child);
    helper
}

/// A helper that did not start: killed and reaped; the last thing it wrote on stderr.
pub fn abandon(mut child: Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("it said nothing").trim().to_string()
}

fn reap_in_background(mut child: Child) {
    drop(child.stderr.take());
    std::thread::Builder::new()
        .name("helper-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        })
        .map(drop)
        .unwrap_or_else(|_| {
            // No thread for the reaper: the child becomes a zombie until we exit,
            // which is harmless (a zombie has no command line, so it is never "found").
        });
}

/// The longest a helper holds a fault: `experiment::MAX_DURATION` (24 h).
const HELPER_MAX_HOLD: Duration = Duration::from_secs(24 * 60 * 60);

/// Sets up the current process as a helper that cannot outlive `deadline_ms`
/// (unix milliseconds) by more than `grace`. Returns the time left, or `None` if
/// the deadline has passed.
///
/// Signal masks and ignored dispositions survive exec, so a helper started from
/// a shell with `nohup` or a blocked SIGALRM would otherwise be immune to its
/// own backstop: every signal is unblocked and the terminating ones reset to
/// their defaults. Then `alarm(2)` is armed a little after the deadline: the
/// kernel ends the process even if its own timing loop were stuck.
///
/// The wall clock is read once, here, to turn the deadline into the time left; from then on
/// a helper times itself on the monotonic clock (`sleep`, `Instant`, and `alarm(2)`, whose
/// timer a clock step does not move), so a later step of the wall clock neither ends its fault
/// early nor holds it longer (tests/torture_clock.rs, tests/daemon_clock.rs).
pub fn become_helper(deadline_ms: i64, grace: Duration) -> Option<Duration> {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for signal in [Signal::SIGALRM, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: installing SIG_DFL runs no code of ours in signal context.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
    }
    let left_ms = deadline_ms.saturating_sub(crate::journal::now_ms());
    if left_ms <= 0 {
        return None;
    }
    // Faults never hold past `experiment::MAX_DURATION`; a hand-made deadline
    // further out is cut to that, so `now + left` cannot overflow.
    let left = Duration::from_millis(left_ms as u64).min(HELPER_MAX_HOLD);
    let alarm_secs = (left + grace).as_secs().saturating_add(2).min(u64::from(u32::MAX)) as u32;
    nix::unistd::alarm::set(alarm_secs);
    Some(left)
}

/// Tells the spawning process the fault is in place (see [`spawn_helper`]), then points
/// stderr at /dev/null: the spawner stops reading it once the helper is ready.
pub fn report_ready() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{READY_LINE}");
    let _ = out.flush();
    silence_stderr();
}

/// Raises this process's scheduling priority to nice `nice` (negative: more CPU
/// sooner), so a helper that keeps time (the delay helper) stays on time on a
/// host that other faults load. Best effort: without the privilege it stays as it is.
pub fn prefer_cpu(nice: i32) {
    // SAFETY: setpriority(2) takes no pointers; `0` means this process.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
}

/// Points stderr at /dev/null. Every helper does once it is ready ([`report_ready`]; the dns helper once it says where it listens): its
/// spawner stops reading stderr then, and a log line written into that closed pipe would
/// make tracing panic and the helper die with its fault half in place.
pub fn silence_stderr() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// Asks the kernel to pick this process first when memory runs out (memory-stress).
pub fn prefer_oom_kill() {
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helper_holds_no_longer_than_any_fault() {
        assert_eq!(HELPER_MAX_HOLD, crate::experiment::MAX_DURATION);
    }

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn helpers_are_recognised_by_their_exact_tag() {
        let id = InjectionId::from_string("i-abc");
        assert!(is_helper_of(&args("faultdrill helper burn-cpu --injection i-abc --cores 1"), &id));
        assert!(is_helper_of(&args("faultdrill helper burn-cpu --injection=i-abc"), &id));
        assert!(!is_helper_of(&args("faultdrill helper burn-cpu --injection i-abcd"), &id));
        assert!(!is_helper_of(&args("faultdrill inject --injection i-abc"), &id));
        assert!(!is_helper_of(&args("vim i-abc helper"), &id));
    }

    #[test]
    fn a_sweep_reads_the_tag_of_helper_command_lines_only() {
        let tag = |text: &str| helper_tag(&args(text)).map(|id| id.to_string());
        assert_eq!(tag("/usr/bin/faultdrill helper burn-cpu --injection i-abc --cores 1").as_deref(), Some("i-abc"));
        assert_eq!(tag("faultdrill helper expire --injection=i-x").as_deref(), Some("i-x"));
        assert_eq!(tag("sh -c x helper --injection i-abc"), None);
        assert_eq!(tag("faultdrill inject --injection i-abc"), None);
        assert_eq!(tag("faultdrill helper burn-cpu"), None);
    }

    #[test]
    fn stopping_helpers_of_an_unknown_injection_is_already_gone() {
        let id = InjectionId::generate();
        assert_eq!(stop_helpers(&id, &[]).unwrap(), UndoOutcome::AlreadyGone);
    }

    #[test]
    fn a_tagged_process_is_found_and_stopped_twice_safely() {
        let id = InjectionId::generate();
        // A stand-in helper: a shell that keeps the tag in its argv and never exits by itself.
        let sh = Path::new("/bin/sh");
        let script = format!("echo {READY_LINE}; while :; do sleep 0.1; done");
        let tagged = vec!["-c".into(), script, "helper".into(), "--injection".into(), id.to_string()];
        let helper = spawn_helper(sh, &tagged, Duration::from_secs(5)).unwrap();
        // (A child the shell has forked but not yet exec'd carries the tag too, briefly.)
        assert!(find_helpers(&id).contains(&helper));
        assert_eq!(stop_helpers(&id, &[]).unwrap(), UndoOutcome::Undone);
        assert!(!helper.is_alive());
        assert_eq!(stop_helpers(&id, &[]).unwrap(), UndoOutcome::AlreadyGone);
    }

    fn stand_in_helper(id: &InjectionId) -> ProcRef {
        let script = format!("echo {READY_LINE}; while :; do sleep 0.1; done");
        let tagged = vec!["-c".into(), script, "helper".into(), "--injection".into(), id.to_string()];
        spawn_helper(Path::new("/bin/sh"), &tagged, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn recorded_helpers_are_stopped_exactly_and_a_recycled_pid_is_spared() {
        let id = InjectionId::generate();
        let recorded = stand_in_helper(&id);
        let unrecorded = stand_in_helper(&id);
        // The same PID with another start time: what a recycled PID looks like in the record.
        let recycled = ProcRef { pid: unrecorded.pid, start_time: unrecorded.start_time + 1 };
        assert_eq!(stop_helpers(&id, &[recorded, recycled]).unwrap(), UndoOutcome::Undone);
        assert!(!recorded.is_alive());
        assert!(unrecorded.is_alive(), "only the recorded helpers are signalled, never a recycled pid");
        assert_eq!(stop_helpers(&id, &[recorded, recycled]).unwrap(), UndoOutcome::AlreadyGone);
        // An empty record falls back to the tag search, which finds the other one.
        assert_eq!(stop_helpers(&id, &[]).unwrap(), UndoOutcome::Undone);
        assert!(!unrecorded.is_alive());
    }

    #[test]
    fn a_helper_that_fails_says_why() {
        let sh = Path::new("/bin/sh");
        let err =
            spawn_helper(sh, &["-c".into(), "echo no memory >&2; exit 3".into()], Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("no memory"), "{err}");
    }
}
