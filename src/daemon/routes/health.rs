//! `GET /v1/health`: liveness, version and uptime (no token needed).

use axum::Json;
use axum::extract::State;

use crate::client::wire::Health;
use crate::daemon::state::Shared;

pub async fn health(State(state): State<Shared>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        name: state.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
    })
}
