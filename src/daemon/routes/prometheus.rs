//! `GET /metrics`: Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::daemon::api_error::ApiError;
use crate::daemon::state::Shared;

pub async fn metrics(State(state): State<Shared>) -> Result<impl IntoResponse, ApiError> {
    let live: Vec<(String, String)> = state
        .host
        .journal()
        .live()?
        .into_iter()
        .map(|r| {
            (r.fault, serde_json::to_value(r.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default())
        })
        .collect();
    let text = state.metrics.encode(&live);
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text))
}
