//! `/v1/runs`: submit, list, show, follow, stop, trip.
//!
//! Listing and showing read the journal. Submitting, following, stopping and
//! tripping need the engine's run loop; until it is merged they answer 501.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::client::wire::ErrorKind;
use crate::daemon::api_error::ApiError;
use crate::daemon::state::Shared;
use crate::ids::RunId;
use crate::journal::RunRecord;

fn not_built() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        ErrorKind::NotImplemented,
        "run experiments on this daemon: this build has no run engine yet; inject faults with POST /v1/injections",
    )
}

/// `POST /v1/runs`.
pub async fn submit(State(_state): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    Err(not_built())
}

/// `GET /v1/runs`.
pub async fn list(State(state): State<Shared>) -> Result<Json<Vec<RunRecord>>, ApiError> {
    Ok(Json(state.host.journal().runs(100)?))
}

/// `GET /v1/runs/{id}`.
pub async fn show(State(state): State<Shared>, Path(id): Path<String>) -> Result<Json<RunRecord>, ApiError> {
    let id = RunId::from_string(id);
    state
        .host
        .journal()
        .runs(1000)?
        .into_iter()
        .find(|r| r.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("find run {id}: this daemon has no such run")))
}

/// `GET /v1/runs/{id}/events`.
pub async fn events(State(_state): State<Shared>, Path(_id): Path<String>) -> Result<Json<()>, ApiError> {
    Err(not_built())
}

/// `POST /v1/runs/{id}/stop`.
pub async fn stop(State(_state): State<Shared>, Path(_id): Path<String>) -> Result<Json<()>, ApiError> {
    Err(not_built())
}

/// `POST /v1/runs/{id}/guardrails/{name}/trip`.
pub async fn trip(State(_state): State<Shared>, Path(_ids): Path<(String, String)>) -> Result<Json<()>, ApiError> {
    Err(not_built())
}
