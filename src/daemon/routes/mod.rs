//! The v1 API's routes, one file per resource.

mod admin;
mod alertmanager;
#[doc(hidden)]
pub mod fuzz_entry;
mod health;
mod host;
mod injections;
mod prometheus;
mod runs;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{delete, get, post};

use super::audit::record_calls;
use super::auth::authenticate;
use super::state::Shared;

/// The largest request body accepted (larger: 413).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Every route; all but `/v1/health` need a token whose role allows the call, and
/// every call that changes something is audited, refused ones included.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/metrics", get(prometheus::metrics))
        .route("/v1/host/metrics", get(host::metrics))
        .route("/v1/injections", post(injections::create).get(injections::list))
        .route("/v1/injections/{id}", delete(injections::roll_back).layer(from_fn(drain_body)).get(injections::show))
        .route("/v1/injections/{id}/lease", post(injections::renew).layer(from_fn(drain_body)))
        .route("/v1/runs", post(runs::submit).get(runs::list))
        .route("/v1/runs/{id}", get(runs::show))
        .route("/v1/runs/{id}/events", get(runs::events))
        .route("/v1/runs/{id}/stop", post(runs::stop).layer(from_fn(drain_body)))
        .route("/v1/runs/{id}/guardrails/{name}/trip", post(runs::trip).layer(from_fn(drain_body)))
        .route("/v1/alertmanager", post(alertmanager::receive))
        .route("/v1/audit", get(admin::audit))
        .route("/v1/policy", get(admin::policy))
        .route("/v1/openapi.json", get(super::openapi::serve))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/v1/health", get(health::health))
        .merge(protected)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_calls))
        .with_state(state)
}

/// For routes that take no body: a body sent anyway is read and dropped, so the
/// connection stays usable for the client's next call (an unread body makes hyper
/// close it after answering).
async fn drain_body(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    // Bounded by the body limit; an unreadable body is dropped all the same.
    let _ = axum::body::to_bytes(body, MAX_BODY).await;
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::empty())).await
}

async fn not_found(uri: axum::http::Uri) -> super::api_error::ApiError {
    super::api_error::ApiError::not_found(format!("find {uri}: no such endpoint; the v1 API is under /v1/"))
}
