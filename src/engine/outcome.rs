//! Why a run stopped early, and how that (with deviations and rollback results) becomes
//! the run's outcome.

use crate::report::Outcome;

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

/// The outcome of a run and one sentence saying why. A failed rollback outranks
/// everything: something may still be injected.
pub fn decide(abort: Option<&Abort>, deviated: Option<&str>, failed_rollbacks: usize) -> (Outcome, String) {
    if failed_rollbacks > 0 {
        let what =
            if failed_rollbacks == 1 { "1 rollback".to_string() } else { format!("{failed_rollbacks} rollbacks") };
        return (
            Outcome::RollbackFailed,
            format!("{what} failed: something may still be injected; see the report, then `faultdrill recover --all`"),
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
            Outcome::Deviated,
            format!("the steady state did not hold before injecting ({message}); nothing was injected"),
        ),
        None => match deviated {
            Some(message) => (Outcome::Deviated, format!("the steady-state hypothesis failed: {message}")),
            None => (Outcome::Passed, "the steady state held and everything was rolled back".into()),
        },
    }
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
            (Some(&before), None, 0, Outcome::Deviated),
            (Some(&preflight), None, 0, Outcome::Error),
            (Some(&not_held), None, 0, Outcome::FaultNotHeld),
            (Some(&not_held), Some("api-up failed"), 0, Outcome::FaultNotHeld),
            (Some(&not_held), None, 1, Outcome::RollbackFailed),
        ];
        for (abort, deviated, failed, expected) in cases {
            let (outcome, reason) = decide(*abort, *deviated, *failed);
            assert_eq!(outcome, *expected, "{abort:?} {deviated:?} {failed}");
            assert!(!reason.is_empty());
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
            (Outcome::Interrupted, 130),
            (Outcome::FaultNotHeld, 6),
        ];
        for (outcome, code) in table {
            assert_eq!(outcome.exit_code(), code, "{outcome}");
        }
    }
}
