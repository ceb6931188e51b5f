//! The record of a custom action's command while it runs: `<state>/running/<injection>.json`
//! (0600), naming the step (`inject`, `verify_injected`), its process group's leader pinned
//! by start time, and the boot it runs in. Written before the spawn and again right after
//! it, removed when the command ends.
//!
//! A controller (or daemon) killed with `kill -9` mid-command leaves the record behind,
//! and the command may still be running, orphaned: a cloud `stop-instances` that would
//! finish *after* `recover` ran the rollback, leaving the fault in place. So every local
//! rollback first calls [`stop_running_step`]: whatever of that command still runs is
//! killed with its whole group, and only then does the rollback run.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::undo::Undo;
use crate::ids::InjectionId;
use crate::platform::linux::step_group::StepProcesses;
use crate::platform::linux::{ProcRef, UndoError, UndoOutcome, procs};

/// The folder of running-command records in a state dir.
pub const RUNNING_DIR: &str = "running";

/// The variable naming the injection, in every command's environment.
pub(super) const ENV_INJECTION: &str = "FAULTDRILL_INJECTION_ID";
/// The variable naming the step (`inject`, `rollback`, ...), in every command's environment.
pub(super) const ENV_STEP: &str = "FAULTDRILL_STEP";

/// The steps whose command a rollback must never run beside (the checks and the rollback
/// itself are never recorded).
const RECORDED_STEPS: [&str; 2] = ["inject", "verify_injected"];

/// How long a rollback waits for the killed command to be gone.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// What the record holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RunningStep {
    injection: InjectionId,
    step: String,
    /// `/proc/sys/kernel/random/boot_id` when it was written: after a reboot nothing of it runs.
    boot_id: Option<String>,
    /// The group's leader (`None`: written before the spawn, not yet after).
    leader: Option<ProcRef>,
}

/// Where one step of one injection records its command while it runs.
#[derive(Clone, Debug)]
pub struct StepRecord {
    path: PathBuf,
    injection: InjectionId,
    step: String,
}

impl StepRecord {
    pub fn new(state_dir: &Path, injection: &InjectionId, step: &str) -> StepRecord {
        StepRecord { path: record_path(state_dir, injection), injection: injection.clone(), step: step.to_string() }
    }

    /// The record file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Recorded before the spawn: a controller killed between the spawn and
    /// [`StepRecord::started`] leaves a record whose processes the environment names.
    pub(super) fn starting(&self) -> std::io::Result<()> {
        self.write(None)
    }

    /// Recorded right after the spawn, with the group's leader.
    pub(super) fn started(&self, leader: Option<ProcRef>) -> std::io::Result<()> {
        self.write(leader)
    }

    /// The command has ended: the record goes. A failure only makes a later rollback look
    /// for processes that are gone.
    pub(super) fn ended(&self) {
        if let Err(e) = remove(&self.path) {
            tracing::warn!(injection = %self.injection, step = %self.step, error = %e, "The record of a finished command could not be removed.");
        }
    }

    fn write(&self, leader: Option<ProcRef>) -> std::io::Result<()> {
        let record = RunningStep {
            injection: self.injection.clone(),
            step: self.step.clone(),
            boot_id: procs::boot_id(),
            leader,
        };
        // Written whole, then renamed over the last one: a reader never sees half of it. No
        // fsync: a process killed keeps what it wrote, and a machine that crashes runs
        // nothing of the command any more (the boot id tells so).
        if let Some(dir) = self.path.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let partial = self.path.with_extension("json.partial");
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial)?;
        file.write_all(&serde_json::to_vec(&record).expect("records serialise"))?;
        std::fs::rename(&partial, &self.path)
    }
}

fn record_path(state_dir: &Path, injection: &InjectionId) -> PathBuf {
    state_dir.join(RUNNING_DIR).join(format!("{injection}.json"))
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Kills whatever still runs of `injection`'s recorded command (an inject or verify_injected
/// whose controller was killed), with its whole process group, waits until it is gone, then
/// removes the record. Call it before the injection's rollback. Idempotent: no record, or
/// nothing left running, is `AlreadyGone`.
pub fn stop_running_step(state_dir: &Path, injection: &InjectionId) -> Result<UndoOutcome, UndoError> {
    let path = record_path(state_dir, injection);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UndoOutcome::AlreadyGone),
        Err(e) => return Err(UndoError { what: format!("read {}", path.display()), source: Some(e) }),
    };
    let outcome = undo_of(injection, &bytes).carry_out()?;
    remove(&path).map_err(|e| UndoError { what: format!("remove {}", path.display()), source: Some(e) })?;
    Ok(outcome)
}

/// Kills every process still carrying `injection`'s id in its environment, whatever its
/// step: a rollback command orphaned by a controller killed mid-rollback (it is not recorded,
/// and PR_SET_PDEATHSIG kills only its leader), or a background child any step left. Call
/// it before running a custom action's rollback again, so two rollbacks never run side by
/// side (`RollbackCommand::carry_out` calls it). Idempotent: nothing left is `AlreadyGone`.
pub(super) fn stop_leftover_commands(injection: &InjectionId) -> Result<UndoOutcome, UndoError> {
    let outcome =
        StepProcesses { leader: None, env: vec![format!("{ENV_INJECTION}={injection}")] }.stop(STOP_WITHIN)?;
    if outcome == UndoOutcome::Undone {
        tracing::warn!(%injection, "A command of this injection was still running (its controller was killed mid-step): killed it before the rollback.");
    }
    Ok(outcome)
}

/// Every running-command record in `state_dir`, with the undo that kills what still runs
/// of it (for `recover --sweep`, which has no journal to say which rollback follows).
pub fn running_records(state_dir: &Path) -> Vec<(PathBuf, InjectionId, Result<Undo, String>)> {
    let Ok(entries) = std::fs::read_dir(state_dir.join(RUNNING_DIR)) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let injection = InjectionId::from_string(path.file_stem()?.to_str()?);
            let undo = std::fs::read(&path).map(|bytes| undo_of(&injection, &bytes)).map_err(|e| e.to_string());
            Some((path, injection, undo))
        })
        .collect()
}

/// What undoes a record: kill what still runs of its command. A record of another boot
/// names nothing running; a damaged one (never written half, but damaged all the same)
/// names every recorded step of the injection, by its environment.
fn undo_of(injection: &InjectionId, bytes: &[u8]) -> Undo {
    let stop = |step: &str, leader| Undo::StopCommand { injection: injection.clone(), step: step.to_string(), leader };
    match serde_json::from_slice::<RunningStep>(bytes) {
        Ok(record) if record.boot_id.is_some() && record.boot_id != procs::boot_id() => Undo::Nothing,
        Ok(record) => stop(&record.step, record.leader),
        Err(_) => Undo::All { steps: RECORDED_STEPS.iter().map(|step| stop(step, None)).collect() },
    }
}

/// The processes of `injection`'s `step`: its group while `leader` is the recorded process,
/// and whatever carries the step's environment.
fn processes(injection: &InjectionId, step: &str, leader: Option<ProcRef>) -> StepProcesses {
    StepProcesses { leader, env: vec![format!("{ENV_INJECTION}={injection}"), format!("{ENV_STEP}={step}")] }
}

/// Kills what still runs of `injection`'s `step` ([`Undo::StopCommand`]).
pub(super) fn stop_command(
    injection: &InjectionId,
    step: &str,
    leader: Option<ProcRef>,
) -> Result<UndoOutcome, UndoError> {
    let outcome = processes(injection, step, leader).stop(STOP_WITHIN)?;
    if outcome == UndoOutcome::Undone {
        tracing::warn!(%injection, step, "A command of this injection was still running (its controller was killed): killed it with its process group.");
    }
    Ok(outcome)
}

/// What still runs of `injection`'s `step`, in words (empty: nothing).
pub(super) fn command_leftovers(injection: &InjectionId, step: &str, leader: Option<ProcRef>) -> Vec<String> {
    let alive = processes(injection, step, leader).alive();
    if alive.is_empty() {
        return Vec::new();
    }
    let pids: Vec<String> = alive.iter().map(|p| p.pid.to_string()).collect();
    vec![format!("the {step} command of {injection} still runs: pid {}", pids.join(","))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_record_is_private_and_gone_when_the_command_ends() {
        let state = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let record = StepRecord::new(state.path(), &id, "inject");
        record.starting().unwrap();
        record.started(ProcRef::of_pid(std::process::id() as i32)).unwrap();
        let mode = std::fs::metadata(record.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read: RunningStep = serde_json::from_slice(&std::fs::read(record.path()).unwrap()).unwrap();
        assert_eq!(read.step, "inject");
        assert_eq!(read.boot_id, procs::boot_id());
        record.ended();
        record.ended();
        assert!(!record.path().exists());
        assert_eq!(stop_running_step(state.path(), &id).unwrap(), UndoOutcome::AlreadyGone, "no record");
    }

    /// `sh -c SCRIPT` run recorded as `injection`'s inject, on a thread of its own.
    fn run_in_background(
        state: &Path,
        injection: &InjectionId,
        script: &str,
    ) -> std::thread::JoinHandle<Result<(), super::super::StepError>> {
        let env = [(ENV_INJECTION, injection.to_string()), (ENV_STEP, "inject".to_string())];
        let step = super::super::CommandStep {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            timeout_ms: 60_000,
        };
        let record = StepRecord::new(state, injection, "inject");
        std::thread::spawn(move || step.run_recorded(&record))
    }

    #[test]
    fn an_inject_still_running_is_killed_with_its_children_and_its_record_removed() {
        let state = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let running = run_in_background(state.path(), &id, "sleep 30; true");
        let path = record_path(state.path(), &id);
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let has_leader = || {
            std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<RunningStep>(&b).ok())
                .is_some_and(|r| r.leader.is_some())
        };
        while command_leftovers(&id, "inject", None).is_empty() || !has_leader() {
            assert!(std::time::Instant::now() < until, "the inject never ran");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(stop_running_step(state.path(), &id).unwrap(), UndoOutcome::Undone);
        let e = running.join().unwrap().unwrap_err().to_string();
        assert!(e.ends_with("was killed by a signal"), "{e}");
        assert!(command_leftovers(&id, "inject", None).is_empty());
        assert!(!path.exists());
        assert_eq!(stop_running_step(state.path(), &id).unwrap(), UndoOutcome::AlreadyGone, "idempotent");
    }

    #[test]
    fn a_record_from_another_boot_kills_nothing_and_is_removed() {
        let state = tempfile::tempdir().unwrap();
        let id = InjectionId::generate();
        let path = record_path(state.path(), &id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // This very process as the leader: under another boot id it must not be touched.
        let stale = RunningStep {
            injection: id.clone(),
            step: "inject".into(),
            boot_id: Some("00000000-0000-0000-0000-000000000000".into()),
            leader: ProcRef::of_pid(std::process::id() as i32),
        };
        std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(stop_running_step(state.path(), &id).unwrap(), UndoOutcome::AlreadyGone);
        assert!(!path.exists());
    }
}
