//! One step of an http-call action: a request (method, URL, headers, body, expected
//! status) sent with the probes' HTTP client and a time limit.
//!
//! A header may take its value from an environment variable: the step holds the variable's
//! *name* (that is what is journaled), and reads its value only when the request is sent,
//! so a secret never reaches the journal, the report or a message.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::command_step::Retried;
use crate::platform::linux::{UndoError, UndoOutcome};

/// How much of an unexpected answer's body a message keeps.
const BODY_KEPT: usize = 200;

/// A header's value: text, or read from an environment variable when sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderValue {
    Text(String),
    Env {
        env: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        prefix: String,
    },
}

/// A request to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpStep {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The status that means success; `None`: any 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub timeout_ms: u64,
}

impl HttpStep {
    /// From a checked `request` parameter (see `experiment::request_param`).
    pub fn from_param(map: &serde_json::Map<String, serde_json::Value>, timeout: Duration) -> HttpStep {
        let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(String::from);
        let headers = map
            .get("headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .map(|(name, v)| {
                        let value = match v {
                            serde_json::Value::Object(from) => HeaderValue::Env {
                                env: from.get("env").and_then(|e| e.as_str()).unwrap_or_default().to_string(),
                                prefix: from.get("prefix").and_then(|p| p.as_str()).unwrap_or_default().to_string(),
                            },
                            other => HeaderValue::Text(other.as_str().unwrap_or_default().to_string()),
                        };
                        (name.clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        HttpStep {
            method: text("method").unwrap_or_else(|| "GET".into()),
            url: text("url").unwrap_or_default(),
            headers,
            body: text("body"),
            status: map.get("status").and_then(|s| s.as_u64()).and_then(|s| u16::try_from(s).ok()),
            timeout_ms: timeout.as_millis() as u64,
        }
    }

    /// `POST http://…/switch`, and which headers come from the environment (never their values).
    pub fn shown(&self) -> String {
        let secrets: Vec<String> = self
            .headers
            .iter()
            .filter_map(|(name, v)| match v {
                HeaderValue::Env { env, .. } => Some(format!("{name} from ${env}")),
                HeaderValue::Text(_) => None,
            })
            .collect();
        let expect = self.status.map_or("2xx".to_string(), |s| s.to_string());
        let mut shown = format!("{} {} (expect {expect})", self.method, self.url);
        if !secrets.is_empty() {
            shown.push_str(&format!(" [{}]", secrets.join(", ")));
        }
        shown
    }

    /// The environment variables this step reads.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.headers.values().filter_map(|v| match v {
            HeaderValue::Env { env, .. } => Some(env.as_str()),
            HeaderValue::Text(_) => None,
        })
    }

    /// Sends the request once; `Ok` when the answer has the expected status.
    pub fn send(&self) -> Result<(), String> {
        let future = self.send_async();
        match tokio::runtime::Handle::try_current() {
            // A blocking thread of the caller's runtime (spawn_blocking): its I/O driver serves.
            Ok(handle) => handle.block_on(future),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("{}: cannot start an I/O runtime: {e}", self.shown()))?
                .block_on(future),
        }
    }

    async fn send_async(&self) -> Result<(), String> {
        let shown = self.shown();
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("{shown}: `{}` is not an HTTP method", self.method))?;
        let timeout = Duration::from_millis(self.timeout_ms.max(1));
        let mut request = crate::probe::probe_client().request(method, &self.url).timeout(timeout);
        for (name, value) in &self.headers {
            let value = match value {
                HeaderValue::Text(t) => t.clone(),
                HeaderValue::Env { env, prefix } => match std::env::var(env) {
                    Ok(secret) => format!("{prefix}{secret}"),
                    Err(_) => {
                        return Err(format!(
                            "{shown}: the environment variable `{env}` (header {name}) is not set in this process; \
                             set it where faultdrill runs (also for `faultdrill recover`)"
                        ));
                    }
                },
            };
            request = request.header(name, value);
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.map_err(|e| format!("{shown}: {}", describe(&e, timeout)))?;
        let status = response.status().as_u16();
        let ok = self.status.map_or((200..300).contains(&status), |want| want == status);
        if ok {
            return Ok(());
        }
        let body = tokio::time::timeout(timeout, response.bytes()).await.ok().and_then(Result::ok).unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(BODY_KEPT)])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let body_part = if text.is_empty() { String::new() } else { format!("; body: {text}") };
        Err(format!("{shown}: answered {status}{body_part}"))
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}", humantime::format_duration(timeout));
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("request failed ({cause})")
}

/// The rollback request of an http-call, retried, its effect checked by `verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub rollback: HttpStep,
    /// Answers as expected when the fault is gone (`verify_rolled_back`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HttpStep>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub backoff_ms: u64,
}

impl RollbackRequest {
    /// Whether the fault is really gone: `verify_rolled_back` sent once (`None`: none given).
    pub fn verify_gone(&self) -> Option<Result<(), String>> {
        self.verify.as_ref().map(|v| v.send().map_err(|e| format!("verify_rolled_back {e}")))
    }

    /// Sends the rollback until it (and its verification) succeeds, `retries` more times at most.
    pub fn carry_out(&self) -> Result<UndoOutcome, UndoError> {
        let verify = self.verify.as_ref().map(|v| move || v.send().map_err(|e| format!("verify_rolled_back {e}")));
        Retried { what: "rollback request", retries: self.retries, backoff_ms: self.backoff_ms }.carry_out(
            &self.rollback.shown(),
            || self.rollback.send(),
            verify,
        )
    }
}
