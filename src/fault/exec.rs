//! exec: a custom action in two commands, the operator's inject and rollback (argv, no
//! shell), with optional checks that the fault is in place and that it is gone.
//!
//! The rollback command is the undo record ([`Undo::RunCommand`]): journaled before the
//! inject command starts, so a normal end, a guardrail trip, an error, a signal, a lost
//! controller and `recover` after a crash all run the same command. Each command gets
//! `FAULTDRILL_INJECTION_ID`, `FAULTDRILL_RUN_ID` (in a run), `FAULTDRILL_HOST`,
//! `FAULTDRILL_FAULT`, `FAULTDRILL_STEP` and every scalar param as
//! `FAULTDRILL_PARAM_<NAME>` (upper case), on top of the inherited environment.
//!
//! The inject and verify_injected commands are recorded while they run
//! ([`super::running_step`]): if the controller is killed meanwhile, the rollback kills
//! what still runs of them first, so a slow inject never finishes after its rollback.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::command_step::{CommandStep, RollbackCommand};
use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::custom_action::{IRREVERSIBLE, RETRY_BACKOFF, ROLLBACK_RETRIES, is_declared_irreversible, rollback_retry};
use super::running_step::{ENV_INJECTION, ENV_STEP, StepRecord};
use super::undo::Undo;
use crate::experiment::{ParamKind, ParamSpec, ParamValue, Params};

/// The exec fault.
pub struct Exec;

static INFO: FaultInfo = FaultInfo {
    name: "exec",
    summary: "Run the operator's own inject command, hold, then its rollback command (journaled before the inject)",
    params: &[
        ParamSpec {
            name: "inject",
            kind: ParamKind::Argv,
            default: None,
            required: true,
            doc: "the command that makes the change, as a list: `[program, arg, ...]` (no shell unless you write `[sh, -c, ...]`)",
        },
        ParamSpec {
            name: "rollback",
            kind: ParamKind::Argv,
            default: None,
            required: false,
            doc: "the command that undoes it; must be safe to run twice, and when the inject never ran. \
                  Required unless `irreversible: true`",
        },
        ParamSpec {
            name: "verify_injected",
            kind: ParamKind::Argv,
            default: None,
            required: false,
            doc: "exits 0 once the fault is in place; polled after the inject until `timeout`",
        },
        ParamSpec {
            name: "verify_rolled_back",
            kind: ParamKind::Argv,
            default: None,
            required: false,
            doc: "exits 0 when the fault is gone: checked before the rollback (0: nothing to do) and after each try",
        },
        IRREVERSIBLE,
        ParamSpec {
            name: "timeout",
            kind: ParamKind::Duration,
            default: Some("30s"),
            required: false,
            doc: "time limit of each command (each try); a command still running then is killed with its process group",
        },
        ROLLBACK_RETRIES,
        RETRY_BACKOFF,
    ],
    is_held: true,
};

impl Fault for Exec {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        check_reversibility(params, "commands")
    }

    fn is_exclusive(&self) -> bool {
        false
    }

    fn is_irreversible(&self, params: &Params) -> bool {
        is_declared_irreversible(params)
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        let timeout = params.get::<Duration>("timeout")?;
        let step = |name: &str| {
            let argv = params.list(name);
            (!argv.is_empty()).then(|| CommandStep {
                argv: argv.to_vec(),
                env: environment(params, cx, name),
                timeout_ms: timeout.as_millis() as u64,
            })
        };
        let inject = step("inject").ok_or_else(|| FaultError::Refused("missing `inject`".into()))?;
        let verify_injected = step("verify_injected");
        let (retries, backoff_ms) = rollback_retry(params)?;
        let undo = match step("rollback") {
            Some(rollback) => {
                Undo::RunCommand(RollbackCommand { rollback, verify: step("verify_rolled_back"), retries, backoff_ms })
            }
            None => Undo::Nothing,
        };
        let preview = preview(&inject, verify_injected.as_ref(), &undo, timeout);
        // Each recorded while it runs: a rollback after a crash kills it first.
        let record = |step: &str| StepRecord::new(&cx.state_dir, &cx.injection, step);
        let (inject_record, verify_record) = (record("inject"), record("verify_injected"));
        let apply = move || {
            inject
                .run_recorded(&inject_record)
                .map_err(|e| FaultError::Apply { context: format!("inject command {e}"), source: None })?;
            if let Some(verify) = verify_injected {
                poll_until_ok(&verify, timeout, &verify_record).map_err(|last| FaultError::Apply {
                    context: format!(
                        "inject command `{}` exited 0, but verify_injected did not within {}: {last}",
                        inject.shown(),
                        humantime::format_duration(timeout)
                    ),
                    source: None,
                })?;
            }
            Ok(Applied::done())
        };
        Ok(Prepared { undo, preview, apply: Box::new(apply) })
    }
}

/// `rollback` xor `irreversible: true` (`what`: "commands" or "requests", for the message).
pub(super) fn check_reversibility(params: &Params, what: &str) -> Result<(), String> {
    let irreversible = params.bool("irreversible") == Some(true);
    match (irreversible, params.has("rollback")) {
        (true, true) => Err(format!(
            "parameter `rollback`: an action declared `irreversible: true` has no rollback; remove one of the two {what}"
        )),
        (false, false) => {
            Err("missing `rollback`: give the step that undoes the inject, or declare `irreversible: true` \
             for an action that cannot be undone"
                .into())
        }
        (true, false) if params.has("verify_rolled_back") => {
            Err("parameter `verify_rolled_back`: an irreversible action is never rolled back".into())
        }
        _ => Ok(()),
    }
}

/// What every command of one injection sees, beside the inherited environment.
pub(super) fn environment(params: &Params, cx: &InjectContext, step: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        (ENV_INJECTION.to_string(), cx.injection.to_string()),
        ("FAULTDRILL_HOST".to_string(), cx.host.clone()),
        ("FAULTDRILL_FAULT".to_string(), "exec".to_string()),
        (ENV_STEP.to_string(), step.to_string()),
    ]);
    if let Some(run) = &cx.run {
        env.insert("FAULTDRILL_RUN_ID".into(), run.to_string());
    }
    for (name, value) in params.iter() {
        let text = match value {
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Integer(i) => i.to_string(),
            ParamValue::Number(n) => n.to_string(),
            ParamValue::Text(t) => t.clone(),
            ParamValue::List(_) | ParamValue::Map(_) => continue,
        };
        env.insert(format!("FAULTDRILL_PARAM_{}", name.to_ascii_uppercase()), text);
    }
    env
}

/// Runs `verify` (recorded in `record` while it runs) until it exits 0 or `within` has
/// passed; the last failure otherwise.
pub(super) fn poll_until_ok(verify: &CommandStep, within: Duration, record: &StepRecord) -> Result<(), String> {
    let started = Instant::now();
    loop {
        match verify.run_recorded(record) {
            Ok(()) => return Ok(()),
            Err(e) if started.elapsed() >= within => return Err(e.to_string()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn preview(inject: &CommandStep, verify: Option<&CommandStep>, undo: &Undo, timeout: Duration) -> Vec<String> {
    let limit = humantime::format_duration(timeout);
    let mut lines = vec![format!("run `{}` (time limit {limit}; no shell)", inject.shown())];
    if let Some(v) = verify {
        lines.push(format!("then poll `{}` until it exits 0 (at most {limit})", v.shown()));
    }
    match undo {
        Undo::RunCommand(rb) => {
            lines.push(format!(
                "rollback (journaled before the inject): `{}`, {} retries from {} backoff",
                rb.rollback.shown(),
                rb.retries,
                humantime::format_duration(Duration::from_millis(rb.backoff_ms))
            ));
            if let Some(v) = &rb.verify {
                lines.push(format!("rolled back when `{}` exits 0", v.shown()));
            }
        }
        _ => lines.push(IRREVERSIBLE_LINE.to_string()),
    }
    lines
}

/// How every surface says an action has no rollback.
pub const IRREVERSIBLE_LINE: &str = "irreversible: this action cannot be undone (no rollback)";
