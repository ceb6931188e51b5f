//! `POST /v1/alertmanager`: a receiver for Alertmanager's webhook, so an existing alerting
//! setup can stop a drill. A firing alert names the guardrail to trip with the label
//! `faultdrill_guardrail`, and optionally the run with `faultdrill_run`; without a run
//! label it trips that guardrail in every unfinished run that has one. Resolved alerts,
//! and alerts without a guardrail label, are reported back as ignored, never an error:
//! Alertmanager retries non-2xx answers, and an alert is not a malformed request.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::engine::TripRefused;

use super::super::api_error::{ApiError, ApiJson};
use super::super::state::Shared;

/// The label naming the guardrail to trip.
pub const GUARDRAIL_LABEL: &str = "faultdrill_guardrail";
/// The label naming the run (optional).
pub const RUN_LABEL: &str = "faultdrill_run";

/// Alertmanager's webhook payload (version 4); only what the receiver reads.
#[derive(Debug, Deserialize)]
pub struct Webhook {
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What the receiver did with each alert.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WebhookAnswer {
    pub tripped: Vec<Tripped>,
    pub ignored: Vec<Ignored>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Tripped {
    pub run_id: String,
    pub guardrail: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Ignored {
    pub alertname: Option<String>,
    pub why: String,
}

pub async fn receive(
    State(state): State<Shared>,
    ApiJson(hook): ApiJson<Webhook>,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let mut answer = WebhookAnswer::default();
    for alert in hook.alerts {
        let alertname = alert.labels.get("alertname").cloned();
        let ignore = |why: String| Ignored { alertname: alertname.clone(), why };
        if alert.status != "firing" {
            answer.ignored.push(ignore(format!("status is {}, not firing", alert.status)));
            continue;
        }
        let Some(guardrail) = alert.labels.get(GUARDRAIL_LABEL) else {
            answer.ignored.push(ignore(format!("no `{GUARDRAIL_LABEL}` label: nothing to trip")));
            continue;
        };
        let runs: Vec<_> = match alert.labels.get(RUN_LABEL) {
            Some(run) => state.runs.all().into_iter().filter(|e| e.id.as_str() == run).collect(),
            None => state.runs.all().into_iter().filter(|e| !e.is_finished()).collect(),
        };
        if runs.is_empty() {
            let which = alert.labels.get(RUN_LABEL).map_or("no unfinished run".to_string(), |r| format!("no run {r}"));
            answer.ignored.push(ignore(format!("{which} on this daemon")));
            continue;
        }
        let reason = format!("alert {} fired", alertname.as_deref().unwrap_or("(unnamed)"));
        for entry in runs {
            match entry.control.trip(guardrail, reason.clone()).await {
                Ok(()) => answer.tripped.push(Tripped { run_id: entry.id.to_string(), guardrail: guardrail.clone() }),
                Err(e @ (TripRefused::UnknownGuardrail { .. } | TripRefused::Finished { .. })) => {
                    answer.ignored.push(ignore(format!("run {}: {e}", entry.id)))
                }
            }
        }
    }
    Ok(Json(answer))
}
