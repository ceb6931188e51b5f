//! `recover` on a controller: roll back, through their daemons, the remote injections the
//! controller's journal holds as pending, active or failed, all hosts at once, and say what
//! was reached and what was not.

use std::sync::Arc;

use futures_util::StreamExt as _;
use tracing::warn;

use crate::client::{ClientError, DaemonClient, InventoryHost, TokenSource};
use crate::fault::UndoOutcome;
use crate::ids::InjectionId;
use crate::journal::{InjectionState, Journal, JournalError, RemoteInjectionRecord, RemoteReach};

use super::remote_host::rollback_reaching;
use super::worker::FANOUT_LIMIT;

/// How far apart (ms) the controller's record and the daemon's injection of a run-less
/// inject may have been made and still be taken for the same (clock skew and a slow answer).
const SAME_TIME_MS: i64 = 30_000;

/// What recovering one remote injection did.
#[derive(Clone, Debug)]
pub struct RemoteRecovery {
    /// The run that injected it.
    pub run: Option<crate::ids::RunId>,
    pub host: String,
    pub url: String,
    pub fault: String,
    /// The daemon's injection id (several records when the answer to the inject was lost and
    /// the daemon held more than one of the run's injections of that fault).
    pub injection: Option<InjectionId>,
    /// `Ok` with what the undo found; `Err` with why not (`reached` says if the daemon answered).
    pub outcome: Result<UndoOutcome, String>,
    /// Whether the daemon answered at all.
    pub reached: bool,
}

impl RemoteRecovery {
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Rolls back every live remote injection of the journal, all daemons at once.
pub async fn recover_remote(journal: &Arc<Journal>, reason: &str) -> Result<Vec<RemoteRecovery>, JournalError> {
    let records = journal.live_remote()?;
    let calls = records.into_iter().map(|record| {
        let (journal, reason) = (journal.clone(), reason.to_string());
        async move { recover_one(&journal, record, &reason).await }
    });
    let done: Vec<Vec<RemoteRecovery>> =
        futures_util::stream::iter(calls).buffer_unordered(FANOUT_LIMIT).collect().await;
    Ok(done.into_iter().flatten().collect())
}

/// Rolls back one journaled remote injection through its daemon.
pub async fn recover_one(journal: &Journal, record: RemoteInjectionRecord, reason: &str) -> Vec<RemoteRecovery> {
    // What recovering `injection` of this record found.
    let found = |injection: Option<InjectionId>, outcome: Result<UndoOutcome, String>, reached: bool| RemoteRecovery {
        run: record.run.clone(),
        host: record.reach.host.clone(),
        url: record.reach.url.clone(),
        fault: record.fault.clone(),
        injection,
        outcome,
        reached,
    };
    let failed = |message: String, reached: bool| found(record.injection.clone(), Err(message), reached);
    let client = match connect(&record.reach) {
        Ok(client) => client,
        Err(e) => return vec![failed(super::error_chain(&e), false)],
    };
    let ids = match &record.injection {
        Some(id) => vec![id.clone()],
        // The controller died before the daemon's answer reached its journal: ask the daemon
        // which of the run's injections of this fault it holds.
        None => match client.injections().await {
            Ok(list) => list
                .into_iter()
                // By run and fault; an injection of no run (`inject --daemon`) by fault and by
                // when it was made (a host holds one live injection of a fault at a time).
                .filter(|i| i.is_live() && i.fault == record.fault && i.run == record.run)
                .filter(|i| record.run.is_some() || (i.created_ms - record.created_ms).abs() <= SAME_TIME_MS)
                .map(|i| i.id)
                .collect(),
            Err(e) => {
                let reached = !matches!(e, ClientError::Unreachable { .. });
                return vec![failed(super::error_chain(&e), reached)];
            }
        },
    };
    if ids.is_empty() {
        let note = "never injected: the daemon holds no live injection of this run and fault";
        record_state(journal, &record, InjectionState::RolledBack, note);
        return vec![found(None, Ok(UndoOutcome::AlreadyGone), true)];
    }
    let mut results = Vec::new();
    let mut all_ok = true;
    for id in ids {
        let (result, reached) = rollback_reaching(&client, &id, Some(&record.fault), reason).await;
        all_ok &= result.is_ok();
        results.push(found(Some(id), result.outcome, reached));
    }
    let (state, note) = if all_ok {
        (InjectionState::RolledBack, format!("rolled back: {reason}"))
    } else {
        (InjectionState::Failed, "recovery failed; run `faultdrill recover --all` again".to_string())
    };
    record_state(journal, &record, state, &note);
    results
}

/// Journals what recovery found; a failed write only means the next `recover` asks again.
fn record_state(journal: &Journal, record: &RemoteInjectionRecord, state: InjectionState, note: &str) {
    if let Err(e) = journal.set_remote_state(&record.key, state, Some(note)) {
        warn!(host = %record.reach.host, error = %super::error_chain(&e), "Recovery could not be journaled.");
    }
}

/// A client of the daemon, its token read again from where the inventory said.
fn connect(reach: &RemoteReach) -> Result<DaemonClient, ClientError> {
    let token = match (&reach.token_env, &reach.token_file) {
        (Some(var), _) => Some(TokenSource::Env(var.clone())),
        (None, Some(file)) => Some(TokenSource::File(file.clone())),
        (None, None) => None,
    };
    let host = InventoryHost {
        name: reach.host.clone(),
        url: reach.url.clone(),
        labels: Default::default(),
        token,
        ca: reach.ca_file.clone(),
    };
    host.connect()
}
