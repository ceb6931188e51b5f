//! The remote side of the Host seam: each call goes to a daemon through
//! [`DaemonClient`], and its answers become the same types a local host returns.
//! Like a local one, a remote injection is journaled (on the controller) before the daemon
//! is asked for it, so `faultdrill recover --all` can always reach it again.

use std::path::Path;
use std::sync::Arc;

use tracing::warn;

use crate::client::wire::{ErrorKind, Injection, InjectionRequest};
use crate::client::{ClientError, DaemonClient};
use crate::experiment::HostMetric;
use crate::ids::InjectionId;
use crate::journal::{InjectionState, Journal, NewRemoteInjection, RemoteReach, now_ms};

use super::host::{FaultEnd, HostError, InjectRequest, InjectionView, LeaseState, RollbackResult};

/// A host reached through its daemon, and where its injections are journaled.
pub struct RemoteHost {
    pub client: DaemonClient,
    /// How a fresh process reaches the daemon again (never the token itself).
    pub reach: RemoteReach,
    /// The controller's journal (`None`: nothing is journaled, e.g. in tests).
    pub journal: Option<Arc<Journal>>,
}

impl RemoteHost {
    /// Records a journal write that failed after the daemon acted: the fault is still tracked
    /// by the run; only a later `recover` would lack it.
    fn journal_failed(&self, what: &str, e: &crate::journal::JournalError) {
        warn!(host = %self.client.name(), error = %crate::engine::error_chain(e), "{what} could not be journaled.");
    }
}

/// Injects through the daemon; its lease is the run's (renewed by the engine). The journal
/// holds the request as pending before the daemon hears of it.
pub async fn inject(remote: &RemoteHost, req: InjectRequest) -> Result<InjectionView, HostError> {
    let client = &remote.client;
    let key = InjectionId::generate();
    let journal = remote.journal.as_ref().filter(|_| !req.dry_run);
    if let Some(journal) = journal {
        let pending = NewRemoteInjection {
            key: key.clone(),
            run: req.run.clone(),
            reach: remote.reach.clone(),
            fault: req.fault.clone(),
            deadline_ms: now_ms() + req.duration.as_millis() as i64,
        };
        off_the_runtime(journal, move |j| j.record_remote_pending(&pending)).await?;
    }
    let body = InjectionRequest {
        fault: req.fault.clone(),
        params: req.params.to_raw(),
        duration: humantime::format_duration(req.duration).to_string(),
        lease: req.lease.map(|l| humantime::format_duration(l).to_string()),
        run: req.run.clone(),
        dry_run: req.dry_run,
    };
    let mut answer = client.inject(&body).await;
    if let Some(journal) = journal {
        let key = key.clone();
        // The answer goes to the journal's thread and comes back.
        let (recorded, back) = off_the_runtime(journal, move |j| (journal_answer(j, &key, &answer), answer)).await;
        answer = back;
        if let Err(e) = recorded {
            remote.journal_failed("The daemon's answer", &e);
        }
    }
    let injection = answer.map_err(|e| host_error(client, &req.fault, e))?;
    Ok(InjectionView {
        id: injection.id,
        host: client.name().to_string(),
        fault: injection.fault,
        params: req.params,
        state: injection.state,
        deadline_ms: injection.deadline_ms,
        preview: injection.preview,
    })
}

/// Runs a journal call on a blocking thread, off the async worker threads.
async fn off_the_runtime<T: Send + 'static>(
    journal: &Arc<Journal>,
    call: impl FnOnce(&Journal) -> T + Send + 'static,
) -> T {
    let journal = journal.clone();
    match tokio::task::spawn_blocking(move || call(&journal)).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Journals the daemon's answer to the inject journaled as `key`: its id and state; nothing
/// applied (it answered with an error: a failed apply is cleaned up there); or no answer (it
/// may have applied it: `recover` asks the daemon by run and fault).
pub fn journal_answer(
    journal: &Journal,
    key: &InjectionId,
    answer: &Result<Injection, ClientError>,
) -> Result<(), crate::journal::JournalError> {
    match answer {
        Ok(injection) => journal.record_remote_injected(key, &injection.id, injection.state),
        Err(e @ ClientError::Api { .. }) => {
            let note = format!("not injected: {}", crate::engine::error_chain(e));
            journal.set_remote_state(key, InjectionState::RolledBack, Some(&note))
        }
        Err(e) => journal.set_remote_state(key, InjectionState::Pending, Some(&crate::engine::error_chain(e))),
    }
}

/// Rolls back through the daemon (idempotent there), and journals what it found.
pub async fn rollback(remote: &RemoteHost, id: &InjectionId, fault: Option<&str>, reason: &str) -> RollbackResult {
    let result = rollback_on(&remote.client, id, fault, reason).await;
    if let Some(journal) = &remote.journal {
        let (state, note) = match &result.outcome {
            Ok(_) => (InjectionState::RolledBack, format!("rolled back: {reason}")),
            Err(e) => (InjectionState::Failed, format!("rollback failed: {e}")),
        };
        let (url, id) = (remote.client.url().to_string(), id.clone());
        let recorded = off_the_runtime(journal, move |j| j.set_remote_state_of(&url, &id, state, Some(&note)));
        if let Err(e) = recorded.await {
            remote.journal_failed("A rollback", &e);
        }
    }
    result
}

/// Rolls back through the daemon (idempotent there).
pub async fn rollback_on(client: &DaemonClient, id: &InjectionId, fault: Option<&str>, reason: &str) -> RollbackResult {
    rollback_reaching(client, id, fault, reason).await.0
}

/// Rolls back through the daemon, and says whether the daemon answered at all.
pub async fn rollback_reaching(
    client: &DaemonClient,
    id: &InjectionId,
    fault: Option<&str>,
    reason: &str,
) -> (RollbackResult, bool) {
    let outcome = client.rollback(id, reason).await;
    let reached = !matches!(outcome, Err(ClientError::Unreachable { .. }));
    let fault = match &outcome {
        Ok(r) => r.fault.clone(),
        Err(_) => fault.unwrap_or("?").to_string(),
    };
    let outcome = match outcome {
        Ok(r) => r.outcome.ok_or_else(|| r.error.unwrap_or_else(|| "the daemon reported no outcome".into())),
        Err(e @ ClientError::Unreachable { .. }) => Err(format!(
            "{}; unconfirmed: a daemon cut off from its controller rolls the fault back by itself once the \
             injection's lease runs out, since no renewal reaches it",
            crate::engine::error_chain(&e)
        )),
        Err(e) => Err(crate::engine::error_chain(&e)),
    };
    (RollbackResult { id: id.clone(), host: client.name().to_string(), fault, outcome }, reached)
}

/// Renews the lease of one injection. A daemon answering 410 (the injection ended) or 404
/// (its journal no longer holds it) says the fault is gone; its record says when and why.
pub async fn renew_lease(remote: &RemoteHost, id: &InjectionId) -> Result<LeaseState, HostError> {
    let state = lease_state(&remote.client, id).await?;
    if let (LeaseState::Ended(end), Some(journal)) = (&state, &remote.journal) {
        let note = format!("ended by its daemon: {}", end.why);
        let (url, id) = (remote.client.url().to_string(), id.clone());
        let recorded = off_the_runtime(journal, move |j| {
            j.set_remote_state_of(&url, &id, InjectionState::RolledBack, Some(&note))
        });
        if let Err(e) = recorded.await {
            remote.journal_failed("A fault's end", &e);
        }
    }
    Ok(state)
}

async fn lease_state(client: &DaemonClient, id: &InjectionId) -> Result<LeaseState, HostError> {
    let error = match client.renew_lease(id).await {
        Ok(_) => return Ok(LeaseState::Renewed),
        Err(e) => e,
    };
    match error.kind() {
        Some(ErrorKind::Gone) => {
            let said = error.body().map(|b| b.error.clone()).unwrap_or_default();
            let end = match show(client, id).await {
                Ok(record) => FaultEnd { at_ms: record.updated_ms, why: record.note.unwrap_or(said) },
                Err(_) => FaultEnd { at_ms: crate::journal::now_ms(), why: said },
            };
            Ok(LeaseState::Ended(end))
        }
        Some(ErrorKind::NotFound) => Ok(LeaseState::Ended(FaultEnd {
            at_ms: crate::journal::now_ms(),
            why: format!("the daemon at {} no longer knows this injection (was its state dir reset?)", client.url()),
        })),
        _ => Err(remote(client, error)),
    }
}

/// `GET /v1/injections/{id}`: one injection as the daemon's journal holds it.
pub async fn show(client: &DaemonClient, id: &InjectionId) -> Result<Injection, ClientError> {
    let what = format!("show injection {id}");
    client.call(reqwest::Method::GET, &format!("/v1/injections/{id}"), None::<&()>, &what).await
}

/// Reads one metric from the daemon's `/v1/host/metrics`.
pub async fn sample_metric(
    client: &DaemonClient,
    metric: HostMetric,
    path: Option<&Path>,
    process: Option<&str>,
) -> Result<f64, HostError> {
    let sample = client.host_metrics(Some(metric.name()), path, process).await.map_err(|e| remote(client, e))?;
    let value = match metric {
        HostMetric::CpuPercent => sample.cpu_percent,
        HostMetric::MemoryPercent => sample.memory_percent,
        HostMetric::DiskUsedPercent => sample.disk_used_percent,
        HostMetric::Load1 => sample.load1,
        HostMetric::Load1PerCore => sample.load1_per_core,
        HostMetric::ProcessCount => sample.process_count,
    };
    value.ok_or_else(|| HostError::Remote {
        host: client.name().to_string(),
        message: sample
            .errors
            .get(metric.name())
            .cloned()
            .unwrap_or_else(|| format!("no {} in the sample", metric.name())),
    })
}

/// A client error as the engine's host error: conflicts and bad requests keep their kind.
fn host_error(client: &DaemonClient, fault: &str, e: ClientError) -> HostError {
    let host = client.name().to_string();
    match e.body() {
        Some(body) => match body.kind {
            ErrorKind::Conflict => match &body.active {
                Some(active) => HostError::Conflict { host, fault: fault.to_string(), active: active.clone() },
                None => remote(client, e),
            },
            ErrorKind::UnknownFault => HostError::UnknownFault { fault: fault.to_string() },
            ErrorKind::BadParams | ErrorKind::InvalidRequest => {
                HostError::BadParams { fault: fault.to_string(), message: format!("on {host}: {}", body.error) }
            }
            _ => remote(client, e),
        },
        None => remote(client, e),
    }
}

fn remote(client: &DaemonClient, e: ClientError) -> HostError {
    HostError::Remote { host: client.name().to_string(), message: crate::engine::error_chain(&e) }
}
