//! `POST /v1/alertmanager`: a receiver for Alertmanager's webhook, so an existing alerting
//! setup can stop a drill. A firing alert names the guardrail to trip with the label
//! `faultdrill_guardrail`, and selects runs with `faultdrill_run`, `faultdrill_experiment`
//! or `faultdrill_label_<key>`; without any it trips that guardrail in every unfinished run
//! that has one. Firing alerts are kept until they resolve: a run that starts meanwhile
//! trips before it injects anything.
//!
//! An alert meant for faultdrill that trips nothing (a typo in a label, a run or a
//! guardrail) is never silent: it is logged (WARN), counted in `/metrics`, and written to
//! the events of the unfinished runs it may have been meant for. When nothing in a webhook
//! tripped and such an alert is in it, the answer is 422, which Alertmanager logs as a
//! failed notification (it does not retry 4xx). Resolved alerts, alerts without any
//! `faultdrill_` label, and alerts arriving while no run is active are not errors: 200.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::client::wire::ErrorKind;
use crate::engine::TripRefused;

use super::super::alerts::{self, EXPERIMENT_LABEL, GUARDRAIL_LABEL, LABEL_PREFIX, Labels, RUN_LABEL};
use super::super::api_error::ApiJson;
use super::super::runs::RunEntry;
use super::super::state::Shared;

/// Alertmanager's webhook payload (version 4); only what the receiver reads.
#[derive(Debug, Deserialize)]
pub struct Webhook {
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: Labels,
}

/// What the receiver did with each alert; with `error` and `kind` when it answers 422.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WebhookAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
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
    /// For programs: `resolved`, `not_for_faultdrill`, `no_active_run`, `run_finished`
    /// (not errors), or one of the reasons counted in `faultdrill_alerts_ignored_total`.
    pub reason: String,
    pub why: String,
}

/// One webhook's handling.
struct Receipt<'a> {
    state: &'a Shared,
    answer: WebhookAnswer,
    /// Alerts ignored for a reason that is a misconfiguration.
    problems: usize,
}

impl Receipt<'_> {
    fn benign(&mut self, alertname: &Option<String>, reason: &str, why: String) {
        self.answer.ignored.push(Ignored { alertname: alertname.clone(), reason: reason.into(), why });
    }

    /// An alert meant for faultdrill that trips nothing: logged, counted, and written to the
    /// events of the runs it may have been meant for.
    fn problem(&mut self, alertname: &Option<String>, reason: &str, why: String, runs: &[std::sync::Arc<RunEntry>]) {
        let name = alertname.as_deref().unwrap_or("(unnamed)");
        warn!(alertname = name, reason, why = %why, "Alert ignored: it trips nothing.");
        self.state.metrics.alert_ignored(reason);
        for run in runs {
            run.control.warn(format!("alert {name} ignored: {why}"));
        }
        self.problems += 1;
        self.benign(alertname, reason, why);
    }

    async fn alert(&mut self, alert: Alert) {
        let labels = alert.labels;
        let alertname = labels.get("alertname").cloned();
        if alert.status != "firing" {
            self.state.alerts.resolved(&labels);
            return self.benign(&alertname, "resolved", format!("status is {}, not firing", alert.status));
        }
        let ours: Vec<&String> = labels.keys().filter(|k| k.starts_with("faultdrill_")).collect();
        if ours.is_empty() {
            let why = format!("no `{GUARDRAIL_LABEL}` label: not for faultdrill");
            return self.benign(&alertname, "not_for_faultdrill", why);
        }
        let unfinished: Vec<_> = self.state.runs.all().into_iter().filter(|e| !e.is_finished()).collect();
        if let Some(unknown) = ours.iter().find(|k| !alerts::is_known_label(k)) {
            let known = [GUARDRAIL_LABEL, RUN_LABEL, EXPERIMENT_LABEL];
            let hint = crate::experiment::positioned::closest(unknown, known)
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            let why = format!(
                "label `{unknown}` is not one faultdrill reads ({GUARDRAIL_LABEL}, {RUN_LABEL}, \
                 {EXPERIMENT_LABEL}, {LABEL_PREFIX}<key>): {hint}correct the alert rule's labels"
            );
            return self.problem(&alertname, "unknown_label", why, &unfinished);
        }
        let Some(guardrail) = labels.get(GUARDRAIL_LABEL).cloned() else {
            let why = format!("no `{GUARDRAIL_LABEL}` label: add one naming the guardrail to trip");
            return self.problem(&alertname, "no_guardrail_label", why, &unfinished);
        };
        self.state.alerts.fired(&labels, std::time::Instant::now());
        info!(alertname = alertname.as_deref().unwrap_or("(unnamed)"), %guardrail, "Firing alert received.");
        if let Some(run) = labels.get(RUN_LABEL) {
            if !self.state.runs.all().iter().any(|e| e.id.as_str() == run) {
                let why = format!("no run {run} on this daemon (`faultdrill runs` lists them)");
                return self.problem(&alertname, "unknown_run", why, &unfinished);
            }
        }
        let matched: Vec<_> = unfinished.iter().filter(|e| alerts::selects(&labels, e)).cloned().collect();
        if matched.is_empty() {
            if let Some(run) = labels.get(RUN_LABEL) {
                return self.benign(&alertname, "run_finished", format!("run {run} has finished"));
            }
            if unfinished.is_empty() {
                let why = format!(
                    "no run is active: kept until it resolves; a run with guardrail {guardrail} that starts \
                     meanwhile trips before injecting"
                );
                return self.benign(&alertname, "no_active_run", why);
            }
            let why = "no unfinished run matches its faultdrill_ labels".to_string();
            return self.problem(&alertname, "no_matching_run", why, &unfinished);
        }
        let reason = format!("alert {} fired", alertname.as_deref().unwrap_or("(unnamed)"));
        for entry in matched {
            match entry.control.trip(&guardrail, reason.clone()).await {
                Ok(()) => {
                    self.answer.tripped.push(Tripped { run_id: entry.id.to_string(), guardrail: guardrail.clone() })
                }
                Err(e @ TripRefused::UnknownGuardrail { .. }) => {
                    let why = format!("run {} ({}): {e}", entry.id, entry.experiment);
                    self.problem(&alertname, "unknown_guardrail", why, std::slice::from_ref(&entry));
                }
                Err(e @ TripRefused::Finished { .. }) => {
                    self.benign(&alertname, "run_finished", format!("run {}: {e}", entry.id))
                }
            }
        }
    }
}

pub async fn receive(State(state): State<Shared>, ApiJson(hook): ApiJson<Webhook>) -> Response {
    let mut receipt = Receipt { state: &state, answer: WebhookAnswer::default(), problems: 0 };
    for alert in hook.alerts {
        receipt.alert(alert).await;
    }
    let Receipt { mut answer, problems, .. } = receipt;
    if problems > 0 && answer.tripped.is_empty() {
        answer.error = Some(format!(
            "{problems} alert(s) for faultdrill tripped nothing (see `ignored`): the drill is not guarded by them"
        ));
        answer.kind = Some(ErrorKind::TripRefused);
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(answer)).into_response();
    }
    Json(answer).into_response()
}
