//! Entry points for the fuzz targets (`tests/fuzz`): what the daemon does with each JSON
//! body it accepts, up to the point where it needs a running daemon (the host, the runs).
//! Bad input must come back as an error, never a panic.

use crate::client::wire::{InjectionRequest, RunRequest};

use super::super::alerts;
use super::super::api_error::parse_json;

/// `POST /v1/injections`: parsed and checked as the handler does (fault, params, duration,
/// lease), nothing injected.
pub fn injection_body(bytes: &[u8]) -> Result<(), String> {
    let body: InjectionRequest = parse_json(bytes).map_err(|e| e.body.error)?;
    super::injections::check(body).map(drop).map_err(|e| e.body.error)
}

/// `POST /v1/runs`: parsed, and the experiment loaded with its `sets`, as the handler does.
pub fn run_body(bytes: &[u8]) -> Result<(), String> {
    let body: RunRequest = parse_json(bytes).map_err(|e| e.body.error)?;
    let origin = body.origin.unwrap_or_else(|| "experiment".into());
    let sets: Vec<(String, String)> = body.sets.into_iter().collect();
    crate::experiment::load_str(&origin, &body.experiment, &sets, crate::fault::catalog())
        .map(drop)
        .map_err(|d| d.to_string())
}

/// `POST /v1/alertmanager`: parsed, and each alert's labels judged as the receiver does
/// before it looks for runs; returns how many alerts name a guardrail.
pub fn alertmanager_body(bytes: &[u8]) -> Result<usize, String> {
    let hook: super::alertmanager::Webhook = parse_json(bytes).map_err(|e| e.body.error)?;
    let mut guardrails = 0;
    for alert in hook.alerts {
        for key in alert.labels.keys().filter(|k| k.starts_with("faultdrill_")) {
            if !alerts::is_known_label(key) {
                let known = [alerts::GUARDRAIL_LABEL, alerts::RUN_LABEL, alerts::EXPERIMENT_LABEL];
                let _ = crate::experiment::positioned::closest(key, known);
            }
        }
        guardrails += usize::from(alert.labels.contains_key(alerts::GUARDRAIL_LABEL));
    }
    Ok(guardrails)
}
