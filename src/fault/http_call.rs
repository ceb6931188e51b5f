//! http-call: the exec contract over HTTP. An inject request and a rollback request (method,
//! URL, headers, body, expected status), optional requests that check the fault is in place
//! and that it is gone. The rollback request is the undo record ([`Undo::HttpRequest`]),
//! journaled before the inject is sent. A header may read a secret from an environment
//! variable (`{env: NAME}`): the journal holds the variable's name, never its value.

use std::time::{Duration, Instant};

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::custom_action::{IRREVERSIBLE, RETRY_BACKOFF, ROLLBACK_RETRIES, is_declared_irreversible, rollback_retry};
use super::exec::{IRREVERSIBLE_LINE, check_reversibility};
use super::http_step::{HttpStep, RollbackRequest};
use super::undo::Undo;
use crate::experiment::{ParamKind, ParamSpec, Params};

/// The http-call fault.
pub struct HttpCall;

static INFO: FaultInfo = FaultInfo {
    name: "http-call",
    summary: "Send the operator's own inject request, hold, then its rollback request (journaled before the inject)",
    params: &[
        ParamSpec {
            name: "inject",
            kind: ParamKind::Request,
            default: None,
            required: true,
            doc: "the request that makes the change: `{method, url, headers, body, status}`; a header value may be \
                  `{env: NAME, prefix: \"Bearer \"}` to read a secret from the environment when sent",
        },
        ParamSpec {
            name: "rollback",
            kind: ParamKind::Request,
            default: None,
            required: false,
            doc: "the request that undoes it; must be safe to send twice, and when the inject never was. \
                  Required unless `irreversible: true`",
        },
        ParamSpec {
            name: "verify_injected",
            kind: ParamKind::Request,
            default: None,
            required: false,
            doc: "answers with its `status` (default any 2xx) once the fault is in place; polled until `timeout`",
        },
        ParamSpec {
            name: "verify_rolled_back",
            kind: ParamKind::Request,
            default: None,
            required: false,
            doc: "answers with its `status` when the fault is gone: checked before the rollback and after each try",
        },
        IRREVERSIBLE,
        ParamSpec {
            name: "timeout",
            kind: ParamKind::Duration,
            default: Some("10s"),
            required: false,
            doc: "time limit of each request (each try)",
        },
        ROLLBACK_RETRIES,
        RETRY_BACKOFF,
    ],
    is_held: true,
};

impl Fault for HttpCall {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        check_reversibility(params, "requests")
    }

    fn is_exclusive(&self) -> bool {
        false
    }

    fn is_irreversible(&self, params: &Params) -> bool {
        is_declared_irreversible(params)
    }

    fn prepare(&self, params: &Params, _cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        let timeout = params.get::<Duration>("timeout")?;
        let step = |name: &str| params.map(name).map(|m| HttpStep::from_param(m, timeout));
        let inject = step("inject").ok_or_else(|| FaultError::Refused("missing `inject`".into()))?;
        let verify_injected = step("verify_injected");
        let (retries, backoff_ms) = rollback_retry(params)?;
        let undo = match step("rollback") {
            Some(rollback) => {
                Undo::HttpRequest(RollbackRequest { rollback, verify: step("verify_rolled_back"), retries, backoff_ms })
            }
            None => Undo::Nothing,
        };
        let limit = humantime::format_duration(timeout);
        let mut preview = vec![format!("send {} (time limit {limit})", inject.shown())];
        if let Some(v) = &verify_injected {
            preview.push(format!("then poll {} (at most {limit})", v.shown()));
        }
        match &undo {
            Undo::HttpRequest(rb) => {
                preview.push(format!(
                    "rollback (journaled before the inject): {}, {} retries",
                    rb.rollback.shown(),
                    rb.retries
                ));
                if let Some(v) = &rb.verify {
                    preview.push(format!("rolled back when {} answers as expected", v.shown()));
                }
            }
            _ => preview.push(IRREVERSIBLE_LINE.to_string()),
        }
        let apply = move || {
            inject.send().map_err(|e| FaultError::Apply { context: format!("inject request {e}"), source: None })?;
            if let Some(verify) = verify_injected {
                let started = Instant::now();
                while let Err(e) = verify.send() {
                    if started.elapsed() >= timeout {
                        return Err(FaultError::Apply {
                            context: format!("the inject request was answered, but verify_injected never was: {e}"),
                            source: None,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Ok(Applied::done())
        };
        Ok(Prepared { undo, preview, apply: Box::new(apply) })
    }
}
