//! The remote side of the Host seam: each call goes to a daemon through
//! [`DaemonClient`], and its answers become the same types a local host returns.

use std::path::Path;

use crate::client::wire::{ErrorKind, Injection, InjectionRequest};
use crate::client::{ClientError, DaemonClient};
use crate::experiment::HostMetric;
use crate::ids::InjectionId;

use super::host::{FaultEnd, HostError, InjectRequest, InjectionView, LeaseState, RollbackResult};

/// Injects through the daemon; its lease is the run's (renewed by the engine).
pub async fn inject(client: &DaemonClient, req: InjectRequest) -> Result<InjectionView, HostError> {
    let body = InjectionRequest {
        fault: req.fault.clone(),
        params: req.params.to_raw(),
        duration: humantime::format_duration(req.duration).to_string(),
        lease: req.lease.map(|l| humantime::format_duration(l).to_string()),
        run: req.run.clone(),
        dry_run: req.dry_run,
    };
    let injection = client.inject(&body).await.map_err(|e| host_error(client, &req.fault, e))?;
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

/// Rolls back through the daemon (idempotent there).
pub async fn rollback(client: &DaemonClient, id: &InjectionId, fault: Option<&str>, reason: &str) -> RollbackResult {
    let outcome = client.rollback(id, reason).await;
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
    RollbackResult { id: id.clone(), host: client.name().to_string(), fault, outcome }
}

/// Renews the lease of one injection. A daemon answering 410 (the injection ended) or 404
/// (its journal no longer holds it) says the fault is gone; its record says when and why.
pub async fn renew_lease(client: &DaemonClient, id: &InjectionId) -> Result<LeaseState, HostError> {
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
