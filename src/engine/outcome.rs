//! Why a run stopped early, and how that (with deviations and rollback results) becomes
//! the run's outcome.

use crate::exit;
use crate::experiment::ExpectedOutcome;
use crate::report::{Outcome, OutcomeExpectation};

/// Why a run stopped before completing its action groups.
#[derive(Clone, Debug, PartialEq)]
pub enum Abort {
    /// A guardrail with `action: rollback` tripped.
    Guardrail { name: String, message: String },
    /// An action could not be injected.
    ActionFailed { message: String },
    /// An action could not even be prepared: nothing was injected.
    Preflight { message: String },
    /// SIGINT or SIGTERM.
    Signal { name: String },
    /// A stop request (the API, `faultdrill stop`).
    Stopped { reason: String },
    /// The steady state did not hold before anything was injected.
    DeviatedBefore { message: String },
    /// The run outlived its time box, or the plan cannot make progress.
    Stuck { message: String },
    /// A fault ended before its hold did on some host: the hypothesis was not tested as planned.
    FaultNotHeld { message: String },
}

impl Abort {
    /// The rollback reason recorded in the journal and the report.
    pub fn rollback_reason(&self) -> String {
        match self {
            Abort::Guardrail { name, .. } => format!("guardrail {name} tripped"),
            Abort::ActionFailed { .. } => "an action failed".into(),
            Abort::Preflight { .. } => "preflight failed".into(),
            Abort::Signal { name } => format!("{name} received"),
            Abort::Stopped { reason } => format!("stopped: {reason}"),
            Abort::DeviatedBefore { .. } => "the steady state did not hold".into(),
            Abort::Stuck { message } => message.clone(),
            Abort::FaultNotHeld { .. } => "a fault was not held as planned".into(),
        }
    }
}

/// Injections whose rollback still failed at the end of the run (each counted once,
/// however many attempts it took), by where they were made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailedRollbacks {
    /// Injections made by this process (its own journal holds them).
    pub here: usize,
    /// The daemon host of each injection made through a daemon.
    pub remote: Vec<String>,
}

impl FailedRollbacks {
    pub fn count(&self) -> usize {
        self.here + self.remote.len()
    }

    /// What an operator does about them: a daemon that was lost rolls back what its journal
    /// holds when it starts again (the controller's journal has no record of remote faults);
    /// this process's own faults are rolled back by `faultdrill recover --all` here.
    fn remedy(&self) -> String {
        let mut hosts: Vec<&str> = self.remote.iter().map(String::as_str).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let mut steps = Vec::new();
        if !hosts.is_empty() {
            steps.push(format!(
                "on {}: make sure `faultdrill daemon` runs again (on start it rolls back what its journal \
                 holds; cut off, it rolls back by itself when the lease runs out)",
                hosts.join(", ")
            ));
        }
        if self.here > 0 {
            steps.push("here: `faultdrill recover --all`".to_string());
        }
        steps.join("; ")
    }
}

/// The outcome of a run and one sentence saying why. A failed rollback outranks
/// everything: something may still be injected.
pub fn decide(abort: Option<&Abort>, deviated: Option<&str>, failed: &FailedRollbacks) -> (Outcome, String) {
    let count = failed.count();
    if count > 0 {
        let what = if count == 1 { "1 rollback".to_string() } else { format!("{count} rollbacks") };
        return (
            Outcome::RollbackFailed,
            format!("{what} failed: something may still be injected; {} (the report lists each)", failed.remedy()),
        );
    }
    match abort {
        Some(Abort::Signal { name }) => {
            (Outcome::Interrupted, format!("interrupted by {name}; everything was rolled back"))
        }
        Some(Abort::Stopped { reason }) => {
            (Outcome::Interrupted, format!("stopped ({reason}); everything was rolled back"))
        }
        Some(Abort::Guardrail { name, message }) => {
            (Outcome::GuardrailTripped, format!("guardrail {name} tripped ({message}); everything was rolled back"))
        }
        Some(Abort::ActionFailed { message }) => (Outcome::Error, format!("{message}; everything was rolled back")),
        Some(Abort::Preflight { message }) => (Outcome::Error, format!("{message}; nothing was injected")),
        Some(Abort::Stuck { message }) => (Outcome::Error, format!("{message}; everything was rolled back")),
        Some(Abort::FaultNotHeld { message }) => (
            Outcome::FaultNotHeld,
            format!(
                "fault not held as planned: {message}; the hypothesis was not tested as written; \
                 the run stopped and everything else was rolled back"
            ),
        ),
        Some(Abort::DeviatedBefore { message }) => (
            Outcome::NotSteadyBefore,
            format!(
                "not steady before: nothing injected; the steady state did not hold before any fault ({message}): \
                 fix the drill or the system, then run it again"
            ),
        ),
        None => match deviated {
            Some(message) => (Outcome::Deviated, format!("the steady-state hypothesis failed: {message}")),
            None => (Outcome::Passed, "the steady state held and everything was rolled back".into()),
        },
    }
}

/// The exit code of a run that ended with `outcome`, given the outcome the experiment
/// expects (`expect_outcome`), and, when it expects one, whether it was met and a sentence
/// to add to the reason.
///
/// Met: exit 0. Missed: the outcome's own code, except a run that passed, which exits 1
/// (deviated): the drill's hypothesis, that a guardrail stops it, did not hold.
pub fn expectation(
    outcome: Outcome,
    expected: Option<ExpectedOutcome>,
) -> (u8, Option<OutcomeExpectation>, Option<String>) {
    let Some(expected) = expected else {
        return (outcome.exit_code(), None, None);
    };
    let wanted = match expected {
        ExpectedOutcome::GuardrailTripped => Outcome::GuardrailTripped,
    };
    let met = outcome == wanted;
    let code = match outcome {
        _ if met => exit::PASSED,
        Outcome::Passed => exit::DEVIATED,
        other => other.exit_code(),
    };
    let note = if met {
        format!("as expected (expect_outcome: {}), so exit 0", expected.as_str())
    } else {
        let missed = match (expected, outcome) {
            (ExpectedOutcome::GuardrailTripped, Outcome::Passed | Outcome::Deviated) => "no guardrail tripped".into(),
            (_, other) => format!("the run ended {other}"),
        };
        format!("expected outcome NOT met (expect_outcome: {}): {missed}; exit {code}", expected.as_str())
    };
    (code, Some(OutcomeExpectation { expected: wanted, met }), Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_rank_rollback_failure_first() {
        let guard = Abort::Guardrail { name: "disk-90".into(), message: "95 >= 90".into() };
        let signal = Abort::Signal { name: "SIGTERM".into() };
        let action = Abort::ActionFailed { message: "inject cpu-burn failed".into() };
        let preflight = Abort::Preflight { message: "no such process".into() };
        let before = Abort::DeviatedBefore { message: "api-up: status 503".into() };
        let stop = Abort::Stopped { reason: "operator".into() };
        let not_held = Abort::FaultNotHeld { message: "cut on h1 ended 4.9s into its 20s hold".into() };
        let cases: &[(Option<&Abort>, Option<&str>, usize, Outcome)] = &[
            (None, None, 0, Outcome::Passed),
            (None, Some("api-up failed"), 0, Outcome::Deviated),
            (Some(&guard), Some("api-up failed"), 0, Outcome::GuardrailTripped),
            (Some(&guard), None, 1, Outcome::RollbackFailed),
            (Some(&signal), None, 0, Outcome::Interrupted),
            (Some(&signal), None, 2, Outcome::RollbackFailed),
            (Some(&stop), None, 0, Outcome::Interrupted),
            (Some(&action), None, 0, Outcome::Error),
            (Some(&before), None, 0, Outcome::NotSteadyBefore),
            (Some(&before), Some("api-up failed"), 0, Outcome::NotSteadyBefore),
            (Some(&preflight), None, 0, Outcome::Error),
            (Some(&not_held), None, 0, Outcome::FaultNotHeld),
            (Some(&not_held), Some("api-up failed"), 0, Outcome::FaultNotHeld),
            (Some(&not_held), None, 1, Outcome::RollbackFailed),
        ];
        for (abort, deviated, failed, expected) in cases {
            let failed_rollbacks = FailedRollbacks { here: *failed, remote: vec![] };
            let (outcome, reason) = decide(*abort, *deviated, &failed_rollbacks);
            assert_eq!(outcome, *expected, "{abort:?} {deviated:?} {failed}");
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn a_lost_daemon_is_counted_once_per_injection_with_the_remedy_that_works() {
        let failed = FailedRollbacks { here: 0, remote: vec!["host-0".into()] };
        let (outcome, reason) = decide(None, None, &failed);
        assert_eq!(outcome, Outcome::RollbackFailed);
        assert!(
            reason.starts_with("1 rollback failed: something may still be injected; on host-0: make sure"),
            "{reason}"
        );
        assert!(!reason.contains("recover --all"), "recover --all here finds nothing of a daemon's: {reason}");
        let both = FailedRollbacks { here: 1, remote: vec!["b".into(), "a".into(), "b".into()] };
        let (_, reason) = decide(None, None, &both);
        assert!(reason.starts_with("4 rollbacks failed"), "{reason}");
        assert!(
            reason.contains("on a, b: make sure") && reason.contains("; here: `faultdrill recover --all`"),
            "{reason}"
        );
    }

    #[test]
    fn an_expected_trip_exits_0_and_a_missed_one_never_does() {
        let trip = Some(ExpectedOutcome::GuardrailTripped);
        let table = [
            (Outcome::GuardrailTripped, trip, 0, Some(true)),
            (Outcome::Passed, trip, 1, Some(false)),
            (Outcome::Deviated, trip, 1, Some(false)),
            (Outcome::Error, trip, 3, Some(false)),
            (Outcome::RollbackFailed, trip, 4, Some(false)),
            (Outcome::NotSteadyBefore, trip, 5, Some(false)),
            (Outcome::Interrupted, trip, 130, Some(false)),
            (Outcome::GuardrailTripped, None, 2, None),
            (Outcome::Passed, None, 0, None),
        ];
        for (outcome, expected, code, met) in table {
            let (got, expectation, note) = expectation(outcome, expected);
            assert_eq!(got, code, "{outcome} expecting {expected:?}");
            assert_eq!(expectation.map(|e| e.met), met, "{outcome}");
            assert_eq!(note.is_some(), expected.is_some());
        }
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        let table = [
            (Outcome::Passed, 0),
            (Outcome::Deviated, 1),
            (Outcome::GuardrailTripped, 2),
            (Outcome::Error, 3),
            (Outcome::RollbackFailed, 4),
            (Outcome::NotSteadyBefore, 5),
            (Outcome::Interrupted, 130),
            (Outcome::FaultNotHeld, 6),
        ];
        for (outcome, code) in table {
            assert_eq!(outcome.exit_code(), code, "{outcome}");
        }
    }
}
