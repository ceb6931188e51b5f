//! `/v1/runs`: submit, list, show, follow (server-sent events), stop, trip.

use std::convert::Infallible;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::{Extension, Json};
use futures_util::stream::Stream;
use tokio::sync::broadcast;

use crate::client::wire::{ErrorKind, RunAccepted, RunAck, RunRequest, RunStatus, run_events};
use crate::daemon::api_error::{ApiError, ApiJson, ApiPath};
use crate::daemon::audit::AuditNote;
use crate::daemon::policy::check_plan;
use crate::daemon::runs::{self, RunMessage};
use crate::daemon::state::Shared;
use crate::engine::TripRefused;
use crate::ids::RunId;

/// `POST /v1/runs`: the experiment is checked like `faultdrill validate` would.
/// Then the policy judges every action and probe; nothing starts unless all pass.
pub async fn submit(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<RunRequest>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<RunAccepted>), ApiError> {
    let origin = body.origin.unwrap_or_else(|| "experiment".into());
    let sets: Vec<(String, String)> = body.sets.into_iter().collect();
    let plan = crate::experiment::load_str(&origin, &body.experiment, &sets, crate::fault::catalog())
        .map_err(|d| ApiError::field(ErrorKind::InvalidExperiment, "experiment", d.to_string()))?;
    check_plan(&state.policy, &plan).await?;
    let running = state.runs.all().iter().filter(|e| !e.is_finished()).count();
    let cap = &state.policy.max_runs;
    if running >= cap.value {
        return Err(ApiError::too_many(format!(
            "start the run: {running} runs are unfinished on this daemon, its limit (`{}`) is {}; wait for one to finish",
            cap.rule, cap.value
        )));
    }
    let experiment = plan.name.clone();
    let run_id = runs::start(&state, plan, peer.ip())
        .map_err(|e| ApiError::field(ErrorKind::InvalidExperiment, "experiment", e.to_string()))?;
    let note = AuditNote { target: run_id.to_string(), message: format!("experiment {experiment}") };
    Ok((StatusCode::CREATED, Extension(note), Json(RunAccepted { run_id })))
}

/// `GET /v1/runs`: runs of this daemon's journal, newest first.
pub async fn list(State(state): State<Shared>) -> Result<Json<Vec<crate::journal::RunRecord>>, ApiError> {
    Ok(Json(state.host.journal().runs(100)?))
}

/// `GET /v1/runs/{id}`: its state; once finished, its outcome, exit code and report.
pub async fn show(State(state): State<Shared>, ApiPath(id): ApiPath<String>) -> Result<Json<RunStatus>, ApiError> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::bad_id("run", &id))?;
    if let Some(entry) = state.runs.get(&id) {
        return Ok(Json(entry.status()));
    }
    let path = crate::report::report_path(&state.state_dir, &id);
    if let Ok(report) = crate::report::read_report(&path) {
        return Ok(Json(runs::status_of(&report)));
    }
    let record = state.host.journal().runs(1000)?.into_iter().find(|r| r.id == id).ok_or_else(|| no_such(&id))?;
    Ok(Json(RunStatus {
        run_id: record.id,
        experiment: record.name,
        state: record.state,
        outcome: record.outcome,
        exit_code: None,
        reason: None,
        started_ms: record.started_ms,
        finished_ms: record.finished_ms,
        report: None,
    }))
}

/// `GET /v1/runs/{id}/events`: the timeline so far, then live, then `end`.
pub async fn events(
    State(state): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::bad_id("run", &id))?;
    let entry = state.runs.get(&id).ok_or_else(|| no_such(&id))?;
    let slot = state.runs.follower_slot().ok_or_else(|| {
        ApiError::too_many(format!(
            "follow run {id}: {} clients already follow runs on this daemon; close one, or poll GET /v1/runs/{id}",
            runs::MAX_FOLLOWERS
        ))
    })?;
    let (backlog, live) = entry.follow();
    let stream = futures_util::stream::unfold(
        (backlog.into_iter(), live, false, slot),
        |(mut backlog, mut live, ended, slot)| async move {
            if ended {
                return None;
            }
            let message = match backlog.next() {
                Some(m) => m,
                None => loop {
                    match live.recv().await {
                        Ok(m) => break m,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                },
            };
            let (event, is_end) = match &message {
                RunMessage::Entry(e) => (SseEvent::default().event(run_events::TIMELINE).json_data(&**e), false),
                RunMessage::End(s) => (SseEvent::default().event(run_events::END).json_data(s), true),
            };
            let event = event.unwrap_or_else(|e| SseEvent::default().comment(format!("unserialisable event: {e}")));
            Some((Ok(event), (backlog, live, is_end, slot)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `POST /v1/runs/{id}/stop`: stop and roll back (the run finishes by itself).
pub async fn stop(
    State(state): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<RunAck>), ApiError> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::bad_id("run", &id))?;
    let entry = state.runs.get(&id).ok_or_else(|| no_such(&id))?;
    let message = if entry.control.stop("stopped through the daemon API") {
        "stopping: the run rolls back everything it injected".to_string()
    } else {
        "the run has already finished".to_string()
    };
    Ok((StatusCode::ACCEPTED, Json(RunAck { run_id: id, message })))
}

/// `POST /v1/runs/{id}/guardrails/{name}/trip`: as if the guardrail's samples had breached.
pub async fn trip(
    State(state): State<Shared>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<RunAck>), ApiError> {
    let id = RunId::parse(&id).ok_or_else(|| ApiError::bad_id("run", &id))?;
    let entry = state.runs.get(&id).ok_or_else(|| no_such(&id))?;
    match entry.control.trip(&name, "tripped through the daemon API").await {
        Ok(()) => Ok((StatusCode::ACCEPTED, Json(RunAck { run_id: id, message: format!("guardrail {name} tripped") }))),
        Err(e @ TripRefused::UnknownGuardrail { .. }) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, ErrorKind::TripRefused, e.to_string()))
        }
        Err(e @ TripRefused::Finished { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, ErrorKind::TripRefused, e.to_string()))
        }
    }
}

fn no_such(id: &RunId) -> ApiError {
    ApiError::not_found(format!("find run {id}: this daemon has no such run"))
}
