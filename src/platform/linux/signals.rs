//! Signals to processes pinned by start time.
//!
//! A signal goes through a pidfd opened *after* checking nothing and verified
//! *before* sending: the pidfd pins one process, and its start time must still
//! be the recorded one. So a PID recycled between the journal and now is never
//! signalled.
#![expect(unsafe_code, reason = "pidfd_open and pidfd_send_signal have no safe wrapper in nix")]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::sys::signal::Signal;

use super::ProcRef;
use super::{UndoError, UndoOutcome};

/// What sending a signal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The process was there and got the signal.
    Sent,
    /// The process is gone (or its PID now names another process): nothing was sent.
    Gone,
}

/// Sends `signal` to `process` if, and only if, it is still that very process.
pub fn send(process: &ProcRef, signal: Signal) -> io::Result<Delivery> {
    let Some(pidfd) = pidfd_open(process.pid)? else { return Ok(Delivery::Gone) };
    // The pidfd now pins whatever process has this PID; make sure it is ours.
    if !process.is_alive() {
        return Ok(Delivery::Gone);
    }
    // SAFETY: the fd is a valid pidfd we own for the duration of the call; a null
    // siginfo asks the kernel to fill it in as kill(2) would.
    let rc = unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), signal as libc::c_int, std::ptr::null::<u8>(), 0)
    };
    if rc == 0 {
        return Ok(Delivery::Sent);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(Delivery::Gone),
        _ => Err(err),
    }
}

/// A pidfd for `pid`, or `None` if there is no such process.
fn pidfd_open(pid: i32) -> io::Result<Option<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; it
    // touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }))
}

/// SIGCONTs each recorded process that is still that process and still stopped;
/// gone or already running ones are fine.
///
/// Only the recorded processes are touched. `Undone` if at least one was resumed.
pub fn resume(processes: &[ProcRef]) -> Result<UndoOutcome, UndoError> {
    let mut outcome = UndoOutcome::AlreadyGone;
    let mut failures = Vec::new();
    for process in processes {
        // Not stopped (any more): nothing to undo, and a running process gets no stray SIGCONT.
        let is_stopped =
            super::procs::read_stat(process.pid).is_some_and(|s| s.start_time == process.start_time && s.state == 'T');
        if !is_stopped {
            continue;
        }
        match send(process, Signal::SIGCONT) {
            Ok(Delivery::Sent) => outcome = UndoOutcome::Undone,
            Ok(Delivery::Gone) => {}
            Err(e) => failures.push(format!("pid {}: {e}", process.pid)),
        }
    }
    if failures.is_empty() {
        Ok(outcome)
    } else {
        Err(UndoError {
            what: format!("resume paused processes ({}); send them SIGCONT by hand", failures.join("; ")),
            source: None,
        })
    }
}

/// Parses a signal as an operator writes it: `SIGKILL`, `KILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("{n} is not a signal number"));
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map_err(|_| format!("unknown signal `{t}`; use a name such as SIGKILL or SIGTERM"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_every_usual_spelling() {
        for text in ["SIGKILL", "KILL", "kill", "9"] {
            assert_eq!(parse_signal(text), Ok(Signal::SIGKILL), "{text}");
        }
        assert_eq!(parse_signal("sigterm"), Ok(Signal::SIGTERM));
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn a_recycled_pid_is_never_signalled() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let real = ProcRef::of_pid(child.id() as i32).unwrap();
        let impostor = ProcRef { start_time: real.start_time + 1, ..real };
        assert_eq!(send(&impostor, Signal::SIGKILL).unwrap(), Delivery::Gone);
        assert!(real.is_alive());
        assert_eq!(send(&real, Signal::SIGKILL).unwrap(), Delivery::Sent);
        child.wait().unwrap();
        assert_eq!(send(&real, Signal::SIGKILL).unwrap(), Delivery::Gone);
    }

    #[test]
    fn resuming_gone_processes_is_success() {
        let gone = ProcRef { pid: i32::MAX - 1, start_time: 1 };
        assert_eq!(resume(&[gone]).unwrap(), UndoOutcome::AlreadyGone);
    }
}
