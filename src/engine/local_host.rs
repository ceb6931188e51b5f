//! The `local` host: faults applied by this process, journaled in its state dir.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::{error, info, warn};

pub use crate::errors::error_chain;
use crate::experiment::check_duration_limit;
use crate::failpoint;
use crate::fault::{FaultError, InjectContext, NotVerified, Undo, UndoOutcome, find_fault, stop_running_step, verify};
use crate::ids::InjectionId;
use crate::journal::{InjectionRecord, InjectionState, Journal, NewInjection, Now, now_ms};

use super::host::{HostError, InjectRequest, InjectionView, RollbackResult};
use super::sidecar::Sidecars;

/// Applies faults on this machine.
#[derive(Clone)]
pub struct LocalHost {
    name: String,
    journal: Arc<Journal>,
    protected_ports: Vec<u16>,
    protected_addresses: Vec<std::net::IpAddr>,
    /// The faultdrill executable that helper processes (burners, holders, proxies,
    /// watchdogs) are spawned from: this very binary, unless a test says otherwise.
    helper_exe: std::path::PathBuf,
}

impl LocalHost {
    pub fn new(journal: Arc<Journal>) -> LocalHost {
        LocalHost {
            name: "local".into(),
            journal,
            protected_ports: Vec::new(),
            protected_addresses: Vec::new(),
            helper_exe: std::env::current_exe().unwrap_or_else(|_| "faultdrill".into()),
        }
    }

    /// Spawns helper processes from `exe` (for callers that are not the faultdrill binary,
    /// such as tests linking the library).
    pub fn with_helper_exe(mut self, exe: impl Into<std::path::PathBuf>) -> LocalHost {
        self.helper_exe = exe.into();
        self
    }

    /// Names the host (a daemon uses its own name) and sets what network faults must spare.
    pub fn with_identity(mut self, name: &str, ports: Vec<u16>, addresses: Vec<std::net::IpAddr>) -> LocalHost {
        self.name = name.to_string();
        self.protected_ports = ports;
        self.protected_addresses = addresses;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Journals the undo, then applies the fault (DESIGN §4 rule 1).
    pub async fn inject(&self, req: InjectRequest) -> Result<InjectionView, HostError> {
        let fault = find_fault(&req.fault).ok_or_else(|| HostError::UnknownFault { fault: req.fault.clone() })?;
        fault.check(&req.params).map_err(|message| HostError::BadParams { fault: req.fault.clone(), message })?;
        check_duration_limit(req.duration)
            .map_err(|m| HostError::BadParams { fault: req.fault.clone(), message: format!("duration: {m}") })?;
        let info = fault.info();
        // Checked early so a dry run (a run's preflight) reports it too; checked again,
        // atomically, when the injection is journaled.
        if fault.is_exclusive() {
            let name = info.name;
            if let Some(active) = self.journal_call(move |j| j.live_of_fault(name)).await?.into_iter().next() {
                return Err(self.conflict(&req.fault, active.id));
            }
        }
        let id = InjectionId::generate();
        let deadline = SystemTime::now() + req.duration;
        let cx = InjectContext {
            injection: id.clone(),
            run: req.run.clone(),
            host: self.name.clone(),
            deadline,
            exe: self.helper_exe.clone(),
            protected_ports: self.protected_ports.clone(),
            protected_addresses: self.protected_addresses.clone(),
            state_dir: self.journal.path().parent().map(std::path::Path::to_path_buf).unwrap_or_default(),
        };
        let inject_error =
            |source: FaultError| HostError::Inject { host: self.name.clone(), fault: req.fault.clone(), source };
        let prepared = fault.prepare(&req.params, &cx).map_err(inject_error)?;
        let deadline_ms = now_ms() + req.duration.as_millis() as i64;
        let mut view = InjectionView {
            id: id.clone(),
            host: self.name.clone(),
            fault: req.fault.clone(),
            params: req.params.clone(),
            state: InjectionState::Pending,
            deadline_ms,
            preview: prepared.preview,
        };
        if req.dry_run {
            return Ok(view);
        }
        let pending = NewInjection {
            id: id.clone(),
            run: req.run.clone(),
            fault: req.fault.clone(),
            params: serde_json::to_value(&req.params).expect("params serialise"),
            undo: serde_json::to_value(&prepared.undo).expect("undo serialises"),
            deadline_ms,
            lease_ms: req.lease.map(|l| l.as_millis() as i64),
        };
        let journaled = std::time::Instant::now();
        failpoint::hit("journal.pending.before");
        if !fault.is_exclusive() {
            self.journal_call(move |j| j.record_pending(&pending)).await?;
        } else if let Some(active) = self.journal_call(move |j| j.record_pending_exclusive(&pending)).await? {
            return Err(self.conflict(&req.fault, active));
        }
        failpoint::hit("journal.pending.after");
        // What a journal-less sweep could not find by itself, written before the change too.
        if let Err(e) = self.sidecars(&id).write_for(&prepared.undo) {
            let what = format!("write the sidecar of {id} in {} before applying", self.state_dir().display());
            let (failed, note) = (id.clone(), format!("not applied: {what}: {e}"));
            let _ = self.journal_call(move |j| j.set_state(&failed, InjectionState::RolledBack, Some(&note))).await;
            return Err(inject_error(FaultError::io(what, e)));
        }
        let apply = prepared.apply;
        let apply = move || {
            failpoint::hit("apply.start");
            let applied = apply();
            if applied.is_ok() {
                failpoint::hit("apply.done");
            }
            applied
        };
        let applied = tokio::task::spawn_blocking(apply).await.unwrap_or_else(|join| {
            Err(FaultError::Apply { context: format!("the apply task panicked: {join}"), source: None })
        });
        let applied = match applied {
            Ok(applied) => applied,
            Err(source) => {
                self.clean_up_failed_apply(&id, prepared.undo, &source).await?;
                return Err(inject_error(source));
            }
        };
        // What the change did (process-kill: the processes signalled) replaces what it would do.
        if !applied.report.is_empty() {
            view.preview = applied.report.clone();
        }
        if info.is_held {
            // The helpers it started are now known: a rollback stops exactly them.
            let refined = prepared.undo.clone().with_helpers(&applied.helpers);
            let json = (refined != prepared.undo).then(|| serde_json::to_value(&refined).expect("undo serialises"));
            let (active, applying) = (id.clone(), journaled.elapsed());
            if let Err(e) = self.journal_call(move |j| j.activate(&active, json.as_ref(), applying)).await {
                // The journal cannot hold it as active (full, locked, damaged): do not leave
                // a fault in place that this call reports as failed.
                let source = FaultError::Apply { context: format!("record {id} as active: {e}"), source: None };
                self.clean_up_failed_apply(&id, refined, &source).await.ok();
                return Err(e.into());
            }
            failpoint::hit("journal.active.after");
            view.state = InjectionState::Active;
            view.deadline_ms += applying.as_millis() as i64;
        } else {
            let done = id.clone();
            self.journal_call(move |j| {
                j.set_state(&done, InjectionState::RolledBack, Some("instantaneous fault: nothing to undo"))
            })
            .await?;
            view.state = InjectionState::RolledBack;
        }
        info!(host = %self.name, injection = %id, fault = %req.fault, "Injected.");
        Ok(view)
    }

    /// A failed apply may have left a partial change: undoes it now and keeps the record honest.
    async fn clean_up_failed_apply(
        &self,
        id: &InjectionId,
        undo: Undo,
        source: &FaultError,
    ) -> Result<(), crate::journal::JournalError> {
        let cleanup = tokio::task::spawn_blocking(move || carry_out_verified(&undo)).await;
        let note = format!("inject failed: {source}");
        let state = match cleanup {
            Ok(Ok(_)) => {
                self.remove_sidecars(id);
                InjectionState::RolledBack
            }
            _ => {
                error!(host = %self.name, injection = %id, "Rollback after a failed inject failed too.");
                InjectionState::Failed
            }
        };
        let id = id.clone();
        self.journal_call(move |j| j.set_state(&id, state, Some(&note))).await
    }

    /// Carries out the journaled undo. Idempotent: an injection already rolled back is success.
    pub async fn rollback(&self, id: &InjectionId, reason: &str) -> RollbackResult {
        let wanted = id.clone();
        let record = match self.journal_call(move |j| j.get(&wanted)).await {
            Ok(Some(record)) => record,
            Ok(None) => return self.result(id, "?", Err(format!("no injection {id} in the journal"))),
            Err(e) => return self.result(id, "?", Err(e.to_string())),
        };
        self.rollback_record(record, reason).await
    }

    /// Rolls back one journaled injection.
    pub async fn rollback_record(&self, record: InjectionRecord, reason: &str) -> RollbackResult {
        let id = record.id.clone();
        // `Failed` means an apply or an earlier undo failed: the fault may still be in place, so retry.
        if !matches!(record.state, InjectionState::Pending | InjectionState::Active | InjectionState::Failed) {
            return self.result(&id, &record.fault, Ok(UndoOutcome::AlreadyGone));
        }
        let undo: Undo = match serde_json::from_value(record.undo.clone()) {
            Ok(undo) => undo,
            Err(e) => return self.result(&id, &record.fault, Err(format!("unreadable undo record: {e}"))),
        };
        let (state_dir, running) = (self.state_dir().to_path_buf(), id.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            failpoint::hit("rollback.start");
            // An inject still running (its controller was killed mid-command) would finish
            // after the rollback and leave the fault in place: it goes first, group and all.
            stop_running_step(&state_dir, &running).map_err(RollbackError::Undo)?;
            let outcome = carry_out_verified(&undo);
            failpoint::hit("journal.rolled_back.before");
            outcome
        })
        .await
        .unwrap_or_else(|join| {
            Err(RollbackError::Undo(crate::fault::UndoError { what: format!("undo panicked: {join}"), source: None }))
        });
        match outcome {
            Ok(found) => {
                self.remove_sidecars(&id);
                let note = format!("rolled back: {reason}");
                let done = id.clone();
                let recorded = self.journal_call(move |j| j.set_state(&done, InjectionState::RolledBack, Some(&note)));
                if let Err(e) = recorded.await {
                    warn!(injection = %id, error = %e, "Rolled back, but the journal could not record it.");
                }
                info!(host = %self.name, injection = %id, fault = %record.fault, reason, "Rolled back.");
                self.result(&id, &record.fault, Ok(found))
            }
            Err(e) => {
                let text = match &e {
                    RollbackError::Undo(e) => error_chain(e),
                    RollbackError::NotVerified(e) => e.to_string(),
                };
                error!(host = %self.name, injection = %id, fault = %record.fault, error = %text, "Rollback failed.");
                let (failed, note) = (id.clone(), format!("rollback failed: {text}"));
                let _ = self.journal_call(move |j| j.set_state(&failed, InjectionState::Failed, Some(&note))).await;
                self.result(&id, &record.fault, Err(text))
            }
        }
    }

    /// Rolls back everything the journal holds as pending, active or failed, newest first.
    pub async fn recover_all(&self, reason: &str) -> Result<Vec<RollbackResult>, HostError> {
        let mut results = Vec::new();
        for record in self.journal_call(|j| j.live()).await? {
            results.push(self.rollback_record(record, reason).await);
        }
        Ok(results)
    }

    /// Rolls back every live injection whose deadline or lease has passed.
    /// Judged on the boot clock (`journal::clock`): a wall-clock step moves nothing.
    pub async fn roll_back_overdue(&self) -> Result<Vec<RollbackResult>, HostError> {
        let now = Now::read();
        let mut results = Vec::new();
        for (record, why) in self.journal_call(move |j| j.overdue(&now)).await? {
            results.push(self.rollback_record(record, why.reason()).await);
        }
        Ok(results)
    }

    /// Runs a journal call on a blocking thread: SQLite (an fsync per commit, a lock shared
    /// with other callers) never stalls the async worker threads.
    async fn journal_call<T: Send + 'static>(&self, call: impl FnOnce(&Journal) -> T + Send + 'static) -> T {
        let journal = self.journal.clone();
        match tokio::task::spawn_blocking(move || call(&journal)).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The state dir: the journal's folder, where the sidecars live.
    fn state_dir(&self) -> &std::path::Path {
        self.journal.path().parent().unwrap_or(std::path::Path::new("."))
    }

    fn sidecars<'a>(&'a self, id: &'a InjectionId) -> Sidecars<'a> {
        Sidecars { state_dir: self.state_dir(), injection: id }
    }

    /// Removes the sidecars of a rollback that is verified; a failure only costs a sweep
    /// a look at a process or file that is already fine.
    fn remove_sidecars(&self, id: &InjectionId) {
        if let Err(e) = self.sidecars(id).remove() {
            warn!(injection = %id, error = %e, "Rolled back, but its sidecar could not be removed.");
        }
    }

    fn conflict(&self, fault: &str, active: InjectionId) -> HostError {
        HostError::Conflict { host: self.name.clone(), fault: fault.to_string(), active }
    }

    fn result(&self, id: &InjectionId, fault: &str, outcome: Result<UndoOutcome, String>) -> RollbackResult {
        RollbackResult { id: id.clone(), host: self.name.clone(), fault: fault.to_string(), outcome }
    }
}

/// Why a rollback is not done: the undo failed, or it ran and its fault is still there.
#[derive(Debug)]
enum RollbackError {
    Undo(crate::fault::UndoError),
    NotVerified(NotVerified),
}

/// Carries out `undo`, then checks that its fault is really gone (DESIGN §5): a rollback
/// whose fault is still there is a failed rollback, retried like any other.
fn carry_out_verified(undo: &Undo) -> Result<UndoOutcome, RollbackError> {
    let found = undo.carry_out().map_err(RollbackError::Undo)?;
    verify(undo).map_err(RollbackError::NotVerified)?;
    Ok(found)
}

/// How long an instantaneous fault's injection record is kept "held" (it is not).
pub const INSTANT: Duration = Duration::from_secs(1);
