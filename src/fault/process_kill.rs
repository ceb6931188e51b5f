//! process-kill: send a signal (SIGKILL by default) to the selected processes, once.

use nix::sys::signal::Signal;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::restart;
use super::selection::{self, Selection};
use super::undo::Undo;
use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::signals::{self, Delivery};

/// The process-kill fault.
pub struct ProcessKill;

static INFO: FaultInfo = FaultInfo {
    name: "process-kill",
    summary: "Send a signal (SIGKILL by default) to processes picked by name, command-line pattern or PID",
    params: &[
        selection::NAME,
        selection::PATTERN,
        selection::PID,
        selection::COUNT,
        selection::MAX_MATCHES,
        ParamSpec {
            name: "signal",
            kind: ParamKind::Text,
            default: Some("SIGKILL"),
            required: false,
            doc: "the signal to send, e.g. SIGKILL, SIGTERM, 9",
        },
        ParamSpec {
            name: "await_restart",
            kind: ParamKind::Duration,
            default: None,
            required: false,
            doc: "after the signal, wait up to this long for a new process (a new PID) matching the same \
                  `name` or `pattern`, and report the time to recover (at most 10s); absent: do not wait",
        },
    ],
    is_held: false,
};

impl Fault for ProcessKill {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        Selection::from_params(params)?;
        if params.has("await_restart") && params.has("pid") {
            return Err("`await_restart` needs `name` or `pattern`: a restarted service has a new PID".into());
        }
        if params.duration("await_restart").is_some_and(|d| d > MAX_AWAIT_RESTART) {
            return Err(format!(
                "`await_restart` is at most {} (a daemon answers an inject within 15 s); \
                 wait longer with the action's `wait_after`",
                humantime::format_duration(MAX_AWAIT_RESTART)
            ));
        }
        signal_of(params).map(drop)
    }

    fn prepare(&self, params: &Params, _cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        let selection = Selection::from_params(params).map_err(FaultError::Refused)?;
        let await_restart = params.duration("await_restart");
        let signal = signal_of(params).map_err(FaultError::Refused)?;
        let matched = selection::resolve(&selection, |_| None)?;
        let mut preview: Vec<String> =
            matched.targets.iter().map(|t| format!("send {} to {}", signal.as_str(), t.describe())).collect();
        preview.extend(matched.spared_preview());
        if let Some(within) = await_restart {
            preview.push(format!(
                "then wait up to {} for a new process {} (a new PID), and report the time to recover",
                humantime::format_duration(within),
                selection.describe()
            ));
        }
        let targets = matched.targets;
        let apply = move || {
            let (mut sent, mut gone) = (Vec::new(), Vec::new());
            for target in &targets {
                match signals::send(&target.proc_ref, signal) {
                    Ok(Delivery::Sent) => {
                        sent.push(target.describe());
                        crate::failpoint::hit("apply.mid");
                    }
                    Ok(Delivery::Gone) => gone.push(target.describe()),
                    Err(e) => {
                        return Err(FaultError::io(format!("send {} to {}", signal.as_str(), target.describe()), e));
                    }
                }
            }
            if sent.is_empty() {
                return Err(FaultError::NoTarget("signal the matched processes: they exited before the signal".into()));
            }
            let mut report = signalled(signal, &sent, &gone);
            if let Some(within) = await_restart {
                let killed: Vec<_> = targets.iter().map(|t| t.proc_ref).collect();
                report.push(restart::await_restart(&selection, &killed, within));
            }
            Ok(Applied::reporting(report))
        };
        Ok(Prepared { undo: Undo::Nothing, preview, apply: Box::new(apply) })
    }
}

/// What process-kill did, one line per outcome: `signalled SIGKILL: pid 42 (nginx), ...`.
fn signalled(signal: Signal, sent: &[String], gone: &[String]) -> Vec<String> {
    let mut lines = vec![format!("signalled {} ({}): {}", signal.as_str(), sent.len(), sent.join(", "))];
    if !gone.is_empty() {
        lines.push(format!("exited before the signal ({}): {}", gone.len(), gone.join(", ")));
    }
    lines
}

/// The longest `await_restart`: the inject, wait included, must answer within a daemon
/// client's request timeout (15 s).
const MAX_AWAIT_RESTART: std::time::Duration = std::time::Duration::from_secs(10);

/// Signals that stop a process instead of ending it: sent once, with no
/// deadline and nothing to undo, they would freeze it for good.
const STOPPING: [Signal; 4] = [Signal::SIGSTOP, Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU];

fn signal_of(params: &Params) -> Result<Signal, String> {
    let text: String = params.get("signal")?;
    let signal = signals::parse_signal(&text).map_err(|e| format!("parameter `signal`: {e}"))?;
    if STOPPING.contains(&signal) {
        return Err(format!(
            "parameter `signal`: {} stops a process and process-kill has no deadline or rollback to resume it; \
             use the process-pause fault, which stops the same selection and sends SIGCONT when its duration ends",
            signal.as_str()
        ));
    }
    Ok(signal)
}
