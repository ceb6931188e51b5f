//! Alerts from Alertmanager: which runs an alert selects (by run id, experiment name or
//! experiment labels), and the firing alerts the daemon has received, kept until they
//! resolve (bounded in number and age), so a run that starts while one fires trips before
//! it injects anything: Alertmanager does not send a firing alert again before its
//! `repeat_interval`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::warn;

use super::runs::RunEntry;

/// The label naming the guardrail to trip.
pub const GUARDRAIL_LABEL: &str = "faultdrill_guardrail";
/// The label naming the run (optional).
pub const RUN_LABEL: &str = "faultdrill_run";
/// The label naming the experiment (optional).
pub const EXPERIMENT_LABEL: &str = "faultdrill_experiment";
/// Labels `faultdrill_label_<key>: <value>` select runs whose experiment has `labels: {<key>: <value>}`.
pub const LABEL_PREFIX: &str = "faultdrill_label_";

/// How many firing alerts are kept; beyond it the oldest is forgotten.
pub const MAX_KEPT: usize = 256;
/// How long a firing alert is kept without being received again. Alertmanager sends a
/// still-firing alert again every `repeat_interval` (4h by default).
pub const MAX_AGE: Duration = Duration::from_secs(5 * 3600);

/// Alert labels, as Alertmanager sends them (also the alert's identity).
pub type Labels = BTreeMap<String, String>;

/// Whether `name` is a label faultdrill reads.
pub fn is_known_label(name: &str) -> bool {
    [GUARDRAIL_LABEL, RUN_LABEL, EXPERIMENT_LABEL].contains(&name)
        || name.strip_prefix(LABEL_PREFIX).is_some_and(|k| !k.is_empty())
}

/// Whether an alert with `labels` is meant for `run`: every selector it carries (run id,
/// experiment name, experiment labels) matches; an alert without any selects every run.
pub fn selects(labels: &Labels, run: &RunEntry) -> bool {
    labels.iter().all(|(name, value)| match name.as_str() {
        RUN_LABEL => run.id.as_str() == value,
        EXPERIMENT_LABEL => run.experiment == *value,
        _ => match name.strip_prefix(LABEL_PREFIX) {
            Some(key) => run.labels.get(key) == Some(value),
            None => true,
        },
    })
}

/// The firing alerts received and not resolved yet.
#[derive(Default)]
pub struct FiringAlerts {
    kept: Mutex<BTreeMap<Labels, Instant>>,
}

impl FiringAlerts {
    /// Keeps (or refreshes) a firing alert.
    pub fn fired(&self, labels: &Labels, now: Instant) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.insert(labels.clone(), now);
        prune(&mut kept, now);
    }

    /// Forgets a resolved alert.
    pub fn resolved(&self, labels: &Labels) {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).remove(labels);
    }

    /// The alerts firing now (received within [`MAX_AGE`] and not resolved).
    pub fn firing(&self, now: Instant) -> Vec<Labels> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut kept, now);
        kept.keys().cloned().collect()
    }
}

/// Drops alerts older than [`MAX_AGE`], then the oldest beyond [`MAX_KEPT`].
fn prune(kept: &mut BTreeMap<Labels, Instant>, now: Instant) {
    kept.retain(|_, at| now.saturating_duration_since(*at) <= MAX_AGE);
    while kept.len() > MAX_KEPT {
        let Some(oldest) = kept.iter().min_by_key(|(_, at)| **at).map(|(l, _)| l.clone()) else { break };
        warn!(
            alertname = oldest.get("alertname").map_or("", String::as_str),
            kept = MAX_KEPT,
            "Too many firing alerts kept; the oldest is forgotten."
        );
        kept.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str) -> Labels {
        [("alertname".to_string(), name.to_string()), (GUARDRAIL_LABEL.to_string(), "g".to_string())].into()
    }

    #[test]
    fn a_firing_alert_is_kept_until_it_resolves() {
        let alerts = FiringAlerts::default();
        let now = Instant::now();
        alerts.fired(&alert("A"), now);
        alerts.fired(&alert("A"), now);
        alerts.fired(&alert("B"), now);
        assert_eq!(alerts.firing(now).len(), 2);
        alerts.resolved(&alert("A"));
        assert_eq!(alerts.firing(now), vec![alert("B")]);
    }

    #[test]
    fn kept_alerts_are_bounded_in_age_and_number() {
        let alerts = FiringAlerts::default();
        let start = Instant::now();
        alerts.fired(&alert("old"), start);
        assert!(alerts.firing(start + MAX_AGE + Duration::from_secs(1)).is_empty());
        for i in 0..MAX_KEPT + 10 {
            alerts.fired(&alert(&format!("a{i}")), start + Duration::from_millis(i as u64));
        }
        let firing = alerts.firing(start + Duration::from_secs(1));
        assert_eq!(firing.len(), MAX_KEPT);
        assert!(!firing.contains(&alert("a0")), "the oldest went first");
        assert!(firing.contains(&alert(&format!("a{}", MAX_KEPT + 9))));
    }

    #[test]
    fn known_labels() {
        for (name, known) in [
            ("faultdrill_guardrail", true),
            ("faultdrill_run", true),
            ("faultdrill_experiment", true),
            ("faultdrill_label_team", true),
            ("faultdrill_label_", false),
            ("faultdrill_gaurdrail", false),
            ("faultdrill_runs", false),
        ] {
            assert_eq!(is_known_label(name), known, "{name}");
        }
    }
}
