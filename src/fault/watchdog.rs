//! The expiry watchdog: a helper process that carries out a fault's undo at its
//! deadline, so faults with no process of their own (a paused process, a fill
//! file) are time-boxed even if whoever injected them is killed (DESIGN §4 rule 3).
//!
//! The watchdog is tagged with the injection id like every helper, and the
//! fault's journaled undo stops it first, so a normal rollback leaves nothing
//! behind and a late watchdog finds nothing left to do (every undo is idempotent).

use std::path::PathBuf;
use std::time::Duration;

use tracing::warn;

use super::context::InjectContext;
use super::text::{unix_ms, when};
use super::undo::Undo;
use crate::platform::linux::{ProcRef, helpers};

/// A watchdog ready to start.
pub struct Watchdog {
    exe: PathBuf,
    args: Vec<String>,
    deadline: std::time::SystemTime,
}

/// Arms a watchdog for `undo`. Returns the undo to journal (the watchdog is
/// stopped, then `undo` is carried out) and the watchdog to start before applying.
pub fn arm(cx: &InjectContext, undo: Undo) -> (Undo, Watchdog) {
    let json = serde_json::to_string(&undo).expect("undo records serialise");
    let args = vec![
        "helper".to_string(),
        "expire".into(),
        "--injection".into(),
        cx.injection.to_string(),
        "--deadline-ms".into(),
        unix_ms(cx.deadline).to_string(),
        "--undo".into(),
        json,
    ];
    // `All` carries out its steps last to first: the watchdog is stopped before the undo runs.
    let journaled = Undo::All { steps: vec![undo, Undo::stop_helpers(&cx.injection)] };
    (journaled, Watchdog { exe: cx.exe.clone(), args, deadline: cx.deadline })
}

impl Watchdog {
    /// A preview line saying what the watchdog does.
    pub fn describe(&self) -> String {
        format!(
            "start a watchdog (`{} helper expire --injection {} ...`) that rolls this back at {} if nobody else has",
            self.exe.display(),
            self.args[3],
            when(self.deadline)
        )
    }

    /// Starts the watchdog and waits until it runs.
    ///
    /// Best effort: the watchdog is a second line of defence (the controller
    /// rolls back at the deadline, a daemon rolls back what is overdue, and
    /// `faultdrill recover` rolls back anything). If it cannot start (faultdrill
    /// embedded in another program, whose executable is not faultdrill), the
    /// fault still goes ahead, with a warning.
    /// Returns the watchdog process, if it started.
    pub fn start(&self) -> Option<ProcRef> {
        helpers::spawn_helper(&self.exe, &self.args, Duration::from_secs(10))
            .inspect_err(|e| {
                warn!(
                    injection = %self.args[3], error = %e,
                    "Expiry watchdog did not start; only the controller and `faultdrill recover` time-box this fault."
                );
            })
            .ok()
    }
}
