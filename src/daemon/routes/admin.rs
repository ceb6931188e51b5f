//! Admin reads: `GET /v1/audit` (the audit trail) and `GET /v1/policy` (the policy in force).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::client::wire::ErrorKind;
use crate::daemon::api_error::ApiError;
use crate::daemon::audit::AuditRecord;
use crate::daemon::policy::Policy;
use crate::daemon::state::Shared;

/// The most records one `GET /v1/audit` returns.
const MAX_RECORDS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Unix milliseconds; records from then on.
    since_ms: Option<i64>,
    limit: Option<usize>,
}

/// `GET /v1/audit?since_ms=…&limit=…`: oldest first.
pub async fn audit(
    State(state): State<Shared>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field(ErrorKind::InvalidRequest, "query", e.body_text()))?;
    let limit = q.limit.unwrap_or(1000).min(MAX_RECORDS);
    let records = state
        .audit
        .since(q.since_ms.unwrap_or(0), limit)
        .map_err(|e| ApiError::internal(crate::engine::error_chain(&e)))?;
    Ok(Json(records))
}

/// `GET /v1/policy`: the policy in force, with the line of each rule set by the file.
pub async fn policy(State(state): State<Shared>) -> Json<Policy> {
    Json(state.policy.clone())
}
