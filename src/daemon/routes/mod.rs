//! The v1 API's routes, one file per resource.

mod alertmanager;
mod health;
mod host;
mod injections;
mod prometheus;
mod runs;

use axum::Router;
use axum::routing::{delete, get, post};

use super::auth::require_token;
use super::state::Shared;

/// Every route; all but `/v1/health` need the token.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/metrics", get(prometheus::metrics))
        .route("/v1/host/metrics", get(host::metrics))
        .route("/v1/injections", post(injections::create).get(injections::list))
        .route("/v1/injections/{id}", delete(injections::roll_back).get(injections::show))
        .route("/v1/injections/{id}/lease", post(injections::renew))
        .route("/v1/runs", post(runs::submit).get(runs::list))
        .route("/v1/runs/{id}", get(runs::show))
        .route("/v1/runs/{id}/events", get(runs::events))
        .route("/v1/runs/{id}/stop", post(runs::stop))
        .route("/v1/runs/{id}/guardrails/{name}/trip", post(runs::trip))
        .route("/v1/alertmanager", post(alertmanager::receive))
        .route("/v1/openapi.json", get(super::openapi::serve))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    Router::new().route("/v1/health", get(health::health)).merge(protected).fallback(not_found).with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> super::api_error::ApiError {
    super::api_error::ApiError::not_found(format!("find {uri}: no such endpoint; the v1 API is under /v1/"))
}
