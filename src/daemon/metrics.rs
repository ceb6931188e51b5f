//! The daemon's Prometheus metrics (`GET /metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::engine::RollbackResult;
use crate::fault::UndoOutcome;
use crate::report::Report;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultState {
    fault: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabel {
    fault: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

/// Why an alert for faultdrill tripped nothing (`faultdrill_alerts_ignored_total{reason}`).
pub const IGNORED_REASONS: [&str; 5] =
    ["unknown_label", "no_guardrail_label", "unknown_run", "no_matching_run", "unknown_guardrail"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardrailLabel {
    guardrail: String,
}

/// Run outcomes (DESIGN §4).
const OUTCOMES: [&str; 8] = [
    "passed",
    "deviated",
    "guardrail_tripped",
    "error",
    "rollback_failed",
    "interrupted",
    "not_steady_before",
    "fault_not_held",
];

/// Counters and gauges the daemon exports.
pub struct Metrics {
    registry: Registry,
    /// Injections that reached a state, by fault and state (`active`, `rolled_back`, `failed`).
    injections: Family<FaultState, Counter>,
    /// Injections live now, by fault and state (`pending`, `active`), refreshed at each scrape.
    live: Family<FaultState, Gauge>,
    runs: Family<OutcomeLabel, Counter>,
    trips: Family<GuardrailLabel, Counter>,
    rollback_failures: Family<FaultLabel, Counter>,
    /// Alerts meant for faultdrill that tripped nothing, by reason.
    alerts_ignored: Family<ReasonLabel, Counter>,
    /// Connections closed at once for being over the connection caps.
    pub connections_refused: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("faultdrill");
        let injections = Family::<FaultState, Counter>::default();
        let live = Family::<FaultState, Gauge>::default();
        let runs = Family::<OutcomeLabel, Counter>::default();
        let trips = Family::<GuardrailLabel, Counter>::default();
        let rollback_failures = Family::<FaultLabel, Counter>::default();
        let connections_refused = Counter::default();
        let alerts_ignored = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "alerts_ignored",
            "Alerts meant for faultdrill (a faultdrill_ label) that tripped nothing, by reason",
            alerts_ignored.clone(),
        );
        for reason in IGNORED_REASONS {
            let _ = alerts_ignored.get_or_create(&ReasonLabel { reason: reason.into() });
        }
        registry.register(
            "connections_refused",
            "Connections closed on arrival because the daemon's connection caps were reached",
            connections_refused.clone(),
        );
        registry.register("injections", "Injections that reached a state, by fault and state", injections.clone());
        registry.register("injections_live", "Injections pending or active now, by fault and state", live.clone());
        registry.register("runs", "Runs finished on this daemon, by outcome", runs.clone());
        registry.register("guardrail_trips", "Guardrail trips in runs on this daemon", trips.clone());
        registry.register(
            "rollback_failures",
            "Rollbacks that failed: something may still be injected",
            rollback_failures.clone(),
        );
        // Known series start at zero, so dashboards and alerts see them before the first event.
        for fault in crate::fault::all_faults().iter().map(|f| f.info().name) {
            for state in ["active", "rolled_back", "failed"] {
                let _ = injections.get_or_create(&FaultState { fault: fault.into(), state: state.into() });
            }
            let _ = rollback_failures.get_or_create(&FaultLabel { fault: fault.into() });
        }
        for outcome in OUTCOMES {
            let _ = runs.get_or_create(&OutcomeLabel { outcome: outcome.into() });
        }
        Metrics { registry, injections, live, runs, trips, rollback_failures, alerts_ignored, connections_refused }
    }

    /// Counts an injection reaching `state`.
    pub fn injection(&self, fault: &str, state: &str) {
        self.injections.get_or_create(&FaultState { fault: fault.into(), state: state.into() }).inc();
    }

    /// Counts the result of rolling back a live injection (pending, active, or failed
    /// before). Both undo outcomes end it: `AlreadyGone` is a fault that went by itself (a
    /// helper at its deadline) and is now rolled back in the journal too. Callers never pass
    /// the answer to a repeated rollback of an injection already rolled back.
    pub fn rollback(&self, result: &RollbackResult) {
        match &result.outcome {
            Ok(UndoOutcome::Undone | UndoOutcome::AlreadyGone | UndoOutcome::UndoneUnchecked) => {
                self.injection(&result.fault, "rolled_back")
            }
            Err(_) => self.rollback_failed(&result.fault),
        }
    }

    fn rollback_failed(&self, fault: &str) {
        self.injection(fault, "failed");
        self.rollback_failures.get_or_create(&FaultLabel { fault: fault.into() }).inc();
    }

    /// Counts what a run on this daemon injected and rolled back on this host itself (its
    /// engine calls the host directly, not through the API, which counts its own calls).
    /// Remote injections are counted by the daemons that made them.
    pub fn run_injections(&self, report: &Report, host: &str) {
        for injection in report.injections.iter().filter(|i| i.host == host) {
            self.injection(&injection.action.fault, "active");
        }
        for rollback in report.rollbacks.iter().filter(|r| r.host == host) {
            if rollback.ok {
                self.injection(&rollback.fault, "rolled_back");
            } else {
                self.rollback_failed(&rollback.fault);
            }
        }
    }

    /// Counts a run that finished with `outcome`.
    pub fn run_finished(&self, outcome: &str) {
        self.runs.get_or_create(&OutcomeLabel { outcome: outcome.into() }).inc();
    }

    /// Counts an alert meant for faultdrill that tripped nothing.
    pub fn alert_ignored(&self, reason: &str) {
        self.alerts_ignored.get_or_create(&ReasonLabel { reason: reason.into() }).inc();
    }

    /// Counts a guardrail trip.
    pub fn guardrail_tripped(&self, guardrail: &str) {
        self.trips.get_or_create(&GuardrailLabel { guardrail: guardrail.into() }).inc();
    }

    /// The text exposition, with live injections as given (fault, state).
    pub fn encode(&self, live: &[(String, String)]) -> String {
        self.live.clear();
        for fault in crate::fault::all_faults().iter().map(|f| f.info().name) {
            for state in ["pending", "active"] {
                let _ = self.live.get_or_create(&FaultState { fault: fault.into(), state: state.into() });
            }
        }
        for (fault, state) in live {
            self.live.get_or_create(&FaultState { fault: fault.clone(), state: state.clone() }).inc();
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
