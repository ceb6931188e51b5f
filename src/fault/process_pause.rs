//! process-pause: SIGSTOP the selected processes; the undo SIGCONTs exactly those.

use nix::sys::signal::Signal;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::selection::{self, Selection};
use super::undo::Undo;
use super::watchdog;
use crate::experiment::Params;
use crate::platform::linux::signals::{self, Delivery};

/// The process-pause fault.
pub struct ProcessPause;

static INFO: FaultInfo = FaultInfo {
    name: "process-pause",
    summary: "Freeze processes (SIGSTOP) picked by name, command-line pattern or PID; resume them (SIGCONT) on rollback",
    params: &[selection::NAME, selection::PATTERN, selection::PID, selection::COUNT, selection::MAX_MATCHES],
    is_held: true,
};

impl Fault for ProcessPause {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        Selection::from_params(params).map(drop)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        let selection = Selection::from_params(params).map_err(FaultError::Refused)?;
        // A process stopped before we came must stay stopped after the rollback:
        // leave it out, so the undo never resumes it.
        let matched = selection::resolve(&selection, |stat| {
            matches!(stat.state, 'T' | 't').then_some("it is already stopped, and must stay so after the rollback")
        })?;
        let mut preview: Vec<String> =
            matched.targets.iter().map(|t| format!("send SIGSTOP to {} (rollback: SIGCONT)", t.describe())).collect();
        preview.extend(matched.spared_preview());
        let processes: Vec<_> = matched.targets.iter().map(|t| t.proc_ref).collect();
        let (undo, watchdog) = watchdog::arm(cx, Undo::Resume { processes });
        preview.push(watchdog.describe());
        let targets = matched.targets;
        let apply = move || {
            let watchdog = watchdog.start();
            let mut sent = 0;
            for target in &targets {
                match signals::send(&target.proc_ref, Signal::SIGSTOP) {
                    Ok(Delivery::Sent) => sent += 1,
                    Ok(Delivery::Gone) => {}
                    Err(e) => return Err(FaultError::io(format!("send SIGSTOP to {}", target.describe()), e)),
                }
            }
            if sent == 0 {
                return Err(FaultError::NoTarget("stop the matched processes: they exited before the signal".into()));
            }
            Ok(Applied::by_helpers([watchdog]))
        };
        Ok(Prepared { undo, preview, apply: Box::new(apply) })
    }
}
