//! One step of a custom action: an argv (never a shell) run with its own environment and
//! a time limit; on failure, its exit status and the end of its stderr, for the report.
//!
//! The step is data (it is journaled inside an [`super::Undo`]), so `recover` in a fresh
//! process runs exactly the command the controller would have run.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::running_step::StepRecord;
use crate::platform::linux::step_group::spawn_group_leader;
use crate::platform::linux::{ProcRef, UndoError, UndoOutcome};

/// How much of a failed command's stderr a message keeps (its end: where the error is).
const STDERR_KEPT: usize = 400;

/// How long a finished command's stderr may still be read (a background child may hold it).
const STDERR_GRACE: Duration = Duration::from_millis(100);

/// A command to run: argv, extra environment, time limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandStep {
    /// Program and arguments, exactly as the user wrote them.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment (`FAULTDRILL_*`): never secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Killed (with its whole process group) after this long.
    pub timeout_ms: u64,
}

/// Why a step did not succeed. Reads after "failed to run ...: ".
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("`{command}` could not start: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` {status}{}", stderr_part(.stderr))]
    Failed { command: String, status: String, stderr: String },
    #[error("`{command}` did not finish within {} and was killed", humantime::format_duration(*.after))]
    TimedOut { command: String, after: Duration },
    #[error(
        "`{command}` was not run (or was killed at once): its record {path} could not be written; check that the \
         state dir is writable and not full"
    )]
    Record {
        command: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Removes a command's record when dropped (the command has ended, or never started).
struct Ended<'a>(Option<&'a StepRecord>);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        if let Some(record) = self.0 {
            record.ended();
        }
    }
}

fn stderr_part(stderr: &str) -> String {
    if stderr.is_empty() { String::new() } else { format!("; stderr: {stderr}") }
}

impl CommandStep {
    /// The command as a person would type it (each word quoted when it needs to be).
    pub fn shown(&self) -> String {
        self.argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// Runs the command once; `Ok` when it exits 0 within its time limit.
    pub fn run(&self) -> Result<(), StepError> {
        self.run_with(None)
    }

    /// Runs the command once, recorded in `record` from before its spawn until it ends, so
    /// a rollback after a crash kills it first if it is still running (an inject, a
    /// verify_injected).
    pub fn run_recorded(&self, record: &StepRecord) -> Result<(), StepError> {
        self.run_with(Some(record))
    }

    fn run_with(&self, record: Option<&StepRecord>) -> Result<(), StepError> {
        let command = self.shown();
        let Some((program, args)) = self.argv.split_first() else {
            return Err(StepError::Failed { command, status: "is empty".into(), stderr: String::new() });
        };
        let unrecorded = |r: &StepRecord, source| StepError::Record {
            command: command.clone(),
            path: r.path().display().to_string(),
            source,
        };
        if let Some(r) = record {
            r.starting().map_err(|source| unrecorded(r, source))?;
        }
        // Removes the record however this returns, once the command has ended.
        let _ended = Ended(record);
        let mut spawned = Command::new(program);
        spawned.args(args).envs(&self.env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        // Its own process group, so a timeout kills what it started too (`sh -c`); killed
        // if this thread dies (it stays here until the command has exited).
        let mut child =
            spawn_group_leader(&mut spawned).map_err(|source| StepError::Spawn { command: command.clone(), source })?;
        let pgid = child.id() as i32;
        if let Some(r) = record {
            if let Err(source) = r.started(ProcRef::of_pid(pgid)) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::SIGKILL);
                let _ = child.wait();
                return Err(unrecorded(r, source));
            }
        }
        // stderr is read on its own thread: a program that leaves a background process
        // holding the pipe (a started service) must not keep the step waiting.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (eof_tx, eof_rx) = mpsc::channel();
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                    if kept.len() < 64 * 1024 {
                        kept.extend_from_slice(&chunk[..n]);
                    }
                }
                let _ = eof_tx.send(());
            });
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(self.timeout()) {
            Ok(status) => status,
            Err(_) => {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::SIGKILL);
                let _ = rx.recv_timeout(Duration::from_secs(5));
                return Err(StepError::TimedOut { command, after: self.timeout() });
            }
        };
        let _ = eof_rx.recv_timeout(STDERR_GRACE);
        let stderr = std::mem::take(&mut *stderr.lock().unwrap_or_else(|p| p.into_inner()));
        let status = status.map_err(|source| StepError::Spawn { command: command.clone(), source })?;
        if status.success() {
            return Ok(());
        }
        let status = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        };
        Err(StepError::Failed { command, status, stderr: trimmed(&stderr) })
    }
}

/// The end of a command's stderr, on one line, at most [`STDERR_KEPT`] bytes.
fn trimmed(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.len() <= STDERR_KEPT {
        return one_line;
    }
    let mut start = one_line.len() - STDERR_KEPT;
    while !one_line.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &one_line[start..])
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// How a rollback command is retried, and how its effect is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackCommand {
    /// The rollback command.
    pub rollback: CommandStep,
    /// Exits 0 when the fault is gone (`verify_rolled_back`): checked first (0: nothing to
    /// do, "already gone") and after each try (not 0: the try failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<CommandStep>,
    /// Tries after the first one.
    #[serde(default)]
    pub retries: u32,
    /// Wait before the first retry; doubled before each next one.
    #[serde(default)]
    pub backoff_ms: u64,
}

impl RollbackCommand {
    /// Whether the fault is really gone: `verify_rolled_back` run once (`None`: the action
    /// gave none, so only the rollback command's exit status speaks for it).
    pub fn verify_gone(&self) -> Option<Result<(), String>> {
        self.verify.as_ref().map(|v| v.run().map_err(|e| format!("verify_rolled_back {e}")))
    }

    /// Runs the rollback until it (and its verification) succeeds, `retries` more times at most.
    ///
    /// First, whatever of this injection's commands still runs is killed (found by the
    /// injection id in its environment): a rollback orphaned by a controller killed
    /// mid-rollback (PR_SET_PDEATHSIG kills only its leader), or a background child of any
    /// step. Two rollbacks never run side by side.
    pub fn carry_out(&self) -> Result<UndoOutcome, UndoError> {
        if let Some(injection) = self.rollback.env.get(super::running_step::ENV_INJECTION) {
            super::running_step::stop_leftover_commands(&crate::ids::InjectionId::from_string(injection))?;
        }
        let verify = self.verify.as_ref().map(|v| move || v.run().map_err(|e| format!("verify_rolled_back {e}")));
        Retried { what: "rollback command", retries: self.retries, backoff_ms: self.backoff_ms }.carry_out(
            &self.rollback.shown(),
            || self.rollback.run().map_err(|e| e.to_string()),
            verify,
        )
    }
}

/// How a rollback step (a command, a request) is tried again.
pub(super) struct Retried {
    /// Names the step in the error: `rollback command`, `rollback request`.
    pub what: &'static str,
    pub retries: u32,
    pub backoff_ms: u64,
}

impl Retried {
    /// `verify` first (it passes: already gone), then `attempt` and `verify` until both
    /// pass, `retries` more times at most, the wait doubling from `backoff_ms`.
    pub fn carry_out<A, V>(&self, shown: &str, attempt: A, verify: Option<V>) -> Result<UndoOutcome, UndoError>
    where
        A: Fn() -> Result<(), String>,
        V: Fn() -> Result<(), String>,
    {
        if verify.as_ref().is_some_and(|v| v().is_ok()) {
            return Ok(UndoOutcome::AlreadyGone);
        }
        let mut wait = Duration::from_millis(self.backoff_ms);
        let mut last = String::new();
        for try_number in 0..=self.retries {
            if try_number > 0 {
                tracing::warn!(attempt = try_number, step = %shown, error = %last, "Rollback retried.");
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
            match (attempt(), &verify) {
                (Err(e), _) => last = e,
                (Ok(()), None) => return Ok(UndoOutcome::UndoneUnchecked),
                (Ok(()), Some(v)) => match v() {
                    Ok(()) => return Ok(UndoOutcome::Undone),
                    Err(e) => last = format!("`{shown}` succeeded, but {e}"),
                },
            }
        }
        let tries = self.retries + 1;
        let noun = if tries == 1 { "try" } else { "tries" };
        Err(UndoError { what: format!("{} failed ({tries} {noun}): {last}", self.what), source: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(argv: &[&str], timeout_ms: u64) -> CommandStep {
        CommandStep { argv: argv.iter().map(|w| w.to_string()).collect(), env: BTreeMap::new(), timeout_ms }
    }

    #[test]
    fn a_failure_names_the_command_its_status_and_its_stderr() {
        let e = step(&["sh", "-c", "echo 'db is\n locked' >&2; exit 3"], 5000).run().unwrap_err().to_string();
        assert_eq!(e, "`sh -c 'echo '\\''db is\n locked'\\'' >&2; exit 3'` exited with status 3; stderr: db is locked");
    }

    #[test]
    fn a_slow_command_and_its_children_are_killed_at_the_timeout() {
        let started = std::time::Instant::now();
        let e = step(&["sh", "-c", "sleep 30; true"], 200).run().unwrap_err();
        assert!(matches!(e, StepError::TimedOut { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn the_environment_reaches_the_command() {
        let mut s = step(&["sh", "-c", "test \"$FAULTDRILL_HOST\" = local"], 5000);
        s.env.insert("FAULTDRILL_HOST".into(), "local".into());
        assert!(s.run().is_ok());
    }

    #[test]
    fn a_background_child_holding_stderr_does_not_hold_the_step() {
        let started = std::time::Instant::now();
        step(&["sh", "-c", "sleep 3 & echo started"], 2000).run().unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn a_command_whose_record_cannot_be_written_is_not_run() {
        let dir = tempfile::tempdir().unwrap();
        // The state dir is a file: no `running/` folder can be made in it.
        let state = dir.path().join("not-a-dir");
        std::fs::write(&state, "").unwrap();
        let marker = dir.path().join("ran");
        let id = crate::ids::InjectionId::generate();
        let record = StepRecord::new(&state, &id, "inject");
        let e = step(&["touch", marker.to_str().unwrap()], 5000).run_recorded(&record).unwrap_err().to_string();
        assert!(e.contains("was not run (or was killed at once): its record"), "{e}");
        assert!(!marker.exists());
    }

    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        assert!(matches!(step(&["/nonexistent/x"], 1000).run(), Err(StepError::Spawn { .. })));
    }

    #[test]
    fn rollback_retries_then_reports_the_last_error() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let script = format!("echo x >> {0}; test $(wc -l < {0}) -ge 3", count.display());
        let rb =
            RollbackCommand { rollback: step(&["sh", "-c", &script], 5000), verify: None, retries: 2, backoff_ms: 1 };
        assert_eq!(rb.carry_out().unwrap(), UndoOutcome::UndoneUnchecked, "third try succeeds; nothing checks it");
        std::fs::remove_file(&count).unwrap();
        let rb = RollbackCommand { retries: 1, ..rb };
        let e = rb.carry_out().unwrap_err().to_string();
        assert!(e.starts_with("rollback command failed (2 tries): `sh -c"), "{e}");
    }

    #[test]
    fn verify_rolled_back_first_means_already_gone() {
        let rb = RollbackCommand {
            rollback: step(&["false"], 1000),
            verify: Some(step(&["true"], 1000)),
            retries: 0,
            backoff_ms: 0,
        };
        assert_eq!(rb.carry_out().unwrap(), UndoOutcome::AlreadyGone);
    }
}
