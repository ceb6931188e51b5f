//! process-kill: send a signal (SIGKILL by default) to the selected processes, once.

use nix::sys::signal::Signal;

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
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
    ],
    is_held: false,
};

impl Fault for ProcessKill {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        Selection::from_params(params)?;
        signal_of(params).map(drop)
    }

    fn prepare(&self, params: &Params, _cx: &InjectContext) -> Result<Prepared, FaultError> {
        let selection = Selection::from_params(params).map_err(FaultError::Refused)?;
        let signal = signal_of(params).map_err(FaultError::Refused)?;
        let matched = selection::resolve(&selection, |_| None)?;
        let mut preview: Vec<String> =
            matched.targets.iter().map(|t| format!("send {} to {}", signal.as_str(), t.describe())).collect();
        preview.extend(matched.spared_preview());
        let targets = matched.targets;
        let apply = move || {
            let (mut sent, mut gone) = (Vec::new(), Vec::new());
            for target in &targets {
                match signals::send(&target.proc_ref, signal) {
                    Ok(Delivery::Sent) => sent.push(target.describe()),
                    Ok(Delivery::Gone) => gone.push(target.describe()),
                    Err(e) => {
                        return Err(FaultError::io(format!("send {} to {}", signal.as_str(), target.describe()), e));
                    }
                }
            }
            if sent.is_empty() {
                return Err(FaultError::NoTarget("signal the matched processes: they exited before the signal".into()));
            }
            Ok(Applied::reporting(signalled(signal, &sent, &gone)))
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

/// Signals that stop a process instead of ending it: sent once, with no
/// deadline and nothing to undo, they would freeze it for good.
const STOPPING: [Signal; 4] = [Signal::SIGSTOP, Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU];

fn signal_of(params: &Params) -> Result<Signal, String> {
    let text = params.text("signal").unwrap_or("SIGKILL");
    let signal = signals::parse_signal(text).map_err(|e| format!("parameter `signal`: {e}"))?;
    if STOPPING.contains(&signal) {
        return Err(format!(
            "parameter `signal`: {} stops a process and process-kill has no deadline or rollback to resume it; \
             use the process-pause fault, which stops the same selection and sends SIGCONT when its duration ends",
            signal.as_str()
        ));
    }
    Ok(signal)
}
