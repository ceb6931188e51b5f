//! A typed HTTP client of one daemon's v1 API (reqwest with rustls/ring).

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::{InjectionId, RunId};
use crate::journal::RunRecord;

use super::wire::{
    ErrorBody, ErrorKind, Health, HostMetrics, Injection, InjectionList, InjectionRequest, Rollback, RunAccepted,
    RunAck, RunRequest, RunStatus,
};

/// How long one API call may take before the host counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a rollback call may take: the daemon answers once the undo is done and checked,
/// and a custom action's rollback (a cloud CLI starting instances, with its checks and
/// retries) takes minutes. A run time-boxes each rollback by its action's own limits
/// (`engine::worker::rollback_time_limit`); this bounds `recover`'s wait for a daemon that
/// never answers.
pub const ROLLBACK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long following a run's events may take in all.
pub const FOLLOW_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a daemon could not do what was asked. Reads after "failed to ".
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{what} on {host}: cannot reach {url}: {detail}; check that `faultdrill daemon` runs there")]
    Unreachable { host: String, what: String, url: String, detail: String },
    #[error("{what} on {host}: {} (HTTP {status})", body.error)]
    Api { host: String, what: String, status: u16, body: Box<ErrorBody> },
    #[error("{what} on {host}: unreadable answer: {detail}")]
    Decode { host: String, what: String, detail: String },
    #[error("set up the client of {host}: {detail}")]
    Setup { host: String, detail: String },
}

impl ClientError {
    /// The API's error body, when the daemon answered with one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The API's error kind, when the daemon answered with one.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.body().map(|b| b.kind)
    }
}

pub use crate::tls::install_crypto_provider;

/// The HTTP client shared by every daemon that needs no private CA.
fn shared_http() -> Result<reqwest::Client, String> {
    static SHARED: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    SHARED.get_or_init(|| build_http(None)).clone()
}

fn build_http(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("faultdrill/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("read the CA certificate: {e}"))?;
        builder = builder.tls_certs_only(certs);
    }
    if let Some(identity) = client_identity()? {
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The client certificate for daemons that require one (mTLS): the PEM files named by
/// `FAULTDRILL_CLIENT_CERT` and `FAULTDRILL_CLIENT_KEY`.
fn client_identity() -> Result<Option<reqwest::Identity>, String> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    match (var("FAULTDRILL_CLIENT_CERT"), var("FAULTDRILL_CLIENT_KEY")) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let mut pem =
                std::fs::read(&cert).map_err(|e| format!("read the client certificate {}: {e}", cert.display()))?;
            pem.push(b'\n');
            pem.extend(std::fs::read(&key).map_err(|e| format!("read the client key {}: {e}", key.display()))?);
            reqwest::Identity::from_pem(&pem)
                .map(Some)
                .map_err(|e| format!("use the client certificate {}: {e}", cert.display()))
        }
        _ => Err("set both FAULTDRILL_CLIENT_CERT and FAULTDRILL_CLIENT_KEY, or neither".into()),
    }
}

/// The generated token of a daemon on this machine, read only for a loopback URL: it is
/// never sent to another host.
fn local_daemon_token(url: &str, state_dir: &Path) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let is_loopback = match parsed.host()? {
        url::Host::Domain(d) => d == "localhost",
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => a.is_loopback(),
    };
    if !is_loopback {
        return None;
    }
    std::fs::read_to_string(crate::journal::generated_token_path(state_dir)).ok()
}

/// The client of one daemon.
#[derive(Clone, Debug)]
pub struct DaemonClient {
    name: String,
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl DaemonClient {
    /// A client of the daemon called `name` at `url` (`http://host:port` or `https://…`).
    /// `ca_file` trusts a private CA (PEM) instead of the system roots.
    pub fn new(name: &str, url: &str, token: Option<String>, ca_file: Option<&Path>) -> Result<Self, ClientError> {
        let setup = |detail: String| ClientError::Setup { host: name.to_string(), detail };
        let parsed = reqwest::Url::parse(url).map_err(|e| setup(format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(setup(format!("`{url}` must look like http://HOST:PORT or https://HOST:PORT")));
        }
        let http = match ca_file {
            None => shared_http(),
            Some(path) => std::fs::read(path)
                .map_err(|e| format!("read the CA certificate {}: {e}", path.display()))
                .and_then(|pem| build_http(Some(&pem))),
        }
        .map_err(setup)?;
        Ok(DaemonClient { name: name.to_string(), base: url.trim_end_matches('/').to_string(), token, http })
    }

    /// A client for `--daemon URL`. The token comes from `token_file`, else
    /// `FAULTDRILL_TOKEN`, else (only for a daemon on this machine's loopback) the local
    /// daemon's own `<state-dir>/token` when this user can read it. The CA comes from
    /// `FAULTDRILL_CA_CERT`.
    pub fn from_env(url: &str, token_file: Option<&Path>, state_dir: &Path) -> Result<Self, ClientError> {
        let setup = |detail: String| ClientError::Setup { host: url.to_string(), detail };
        let token = match token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| setup(format!("read the token file {}: {e}", path.display())))?,
            ),
            None => std::env::var("FAULTDRILL_TOKEN").ok().or_else(|| local_daemon_token(url, state_dir)),
        };
        let token = token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let ca = std::env::var_os("FAULTDRILL_CA_CERT").filter(|c| !c.is_empty()).map(std::path::PathBuf::from);
        DaemonClient::new(url, url, token, ca.as_deref())
    }

    /// The host's name (inventory name, or the URL).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The daemon's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call(Method::GET, "/v1/health", None::<&()>, "check the health").await
    }

    /// `POST /v1/injections`.
    pub async fn inject(&self, req: &InjectionRequest) -> Result<Injection, ClientError> {
        let what = format!("inject {}", req.fault);
        let http = self.request(Method::POST, "/v1/injections").json(req).timeout(inject_timeout(req));
        self.send(http, &what).await
    }

    /// `DELETE /v1/injections/{id}`: idempotent.
    /// `reason` is recorded in the daemon's journal (e.g. "guardrail disk-full tripped").
    pub async fn rollback(&self, id: &InjectionId, reason: &str) -> Result<Rollback, ClientError> {
        let what = format!("roll back {id}");
        let req = self
            .request(Method::DELETE, &format!("/v1/injections/{id}"))
            .query(&[("reason", reason)])
            .timeout(ROLLBACK_TIMEOUT);
        self.send(req, &what).await
    }

    /// `POST /v1/injections/{id}/lease`.
    pub async fn renew_lease(&self, id: &InjectionId) -> Result<Injection, ClientError> {
        let what = format!("renew the lease of {id}");
        self.call(Method::POST, &format!("/v1/injections/{id}/lease"), None::<&()>, &what).await
    }

    /// `GET /v1/injections`: active and recent.
    pub async fn injections(&self) -> Result<Vec<Injection>, ClientError> {
        let list: InjectionList = self.call(Method::GET, "/v1/injections", None::<&()>, "list injections").await?;
        Ok(list.injections)
    }

    /// `GET /v1/host/metrics`: `metric` restricts the sample to one metric.
    pub async fn host_metrics(
        &self,
        metric: Option<&str>,
        path: Option<&Path>,
        process: Option<&str>,
    ) -> Result<HostMetrics, ClientError> {
        let mut query = Vec::new();
        if let Some(m) = metric {
            query.push(("metric", m.to_string()));
        }
        if let Some(p) = path {
            query.push(("path", p.display().to_string()));
        }
        if let Some(p) = process {
            query.push(("process", p.to_string()));
        }
        let mut url = reqwest::Url::parse(&format!("{}/v1/host/metrics", self.base))
            .map_err(|e| self.decode("sample host metrics", e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self.http.get(url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        self.send(req, "sample host metrics").await
    }

    /// `GET /v1/audit` (admin): the audit trail from `since_ms` on.
    pub async fn audit(&self, since_ms: i64) -> Result<Vec<crate::client::wire::AuditEntry>, ClientError> {
        self.call(Method::GET, &format!("/v1/audit?since_ms={since_ms}"), None::<&()>, "read the audit trail").await
    }

    /// `GET /v1/runs`.
    pub async fn runs(&self) -> Result<Vec<RunRecord>, ClientError> {
        self.call(Method::GET, "/v1/runs", None::<&()>, "list runs").await
    }

    /// `GET /v1/runs/{id}`.
    pub async fn run(&self, id: &RunId) -> Result<RunStatus, ClientError> {
        self.call(Method::GET, &format!("/v1/runs/{id}"), None::<&()>, &format!("show run {id}")).await
    }

    /// `POST /v1/runs/{id}/stop`: stop and roll back.
    pub async fn stop_run(&self, id: &RunId) -> Result<RunAck, ClientError> {
        self.call(Method::POST, &format!("/v1/runs/{id}/stop"), None::<&()>, &format!("stop run {id}")).await
    }

    /// `POST /v1/runs`: submit an experiment to run on the daemon's host.
    pub async fn submit_run(&self, req: &RunRequest) -> Result<RunAccepted, ClientError> {
        self.call(Method::POST, "/v1/runs", Some(req), "submit the run").await
    }

    /// `GET /v1/runs/{id}/events`: calls `on_event(name, data)` for each
    /// server-sent event until the stream ends (after the `end` event).
    pub async fn follow_run(&self, id: &RunId, mut on_event: impl FnMut(&str, &str)) -> Result<(), ClientError> {
        let what = format!("follow run {id}");
        let req = self.request(Method::GET, &format!("/v1/runs/{id}/events")).timeout(FOLLOW_TIMEOUT);
        let mut resp = req.send().await.map_err(|e| self.unreachable(&what, &e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(self.api_error(&what, status, &bytes));
        }
        let mut parser = SseParser::default();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(&what, &e))? {
            parser.feed(&chunk, &mut on_event);
        }
        Ok(())
    }

    /// Any JSON call: `path` is under the base URL.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        what: &str,
    ) -> Result<T, ClientError> {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req, what).await
    }

    /// A request to `path` with the bearer token, for calls this type has no method for (SSE).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// Sends `req`, turning transport errors and API errors into [`ClientError`]s.
    pub async fn send<T: DeserializeOwned>(&self, req: RequestBuilder, what: &str) -> Result<T, ClientError> {
        let resp = req.send().await.map_err(|e| self.unreachable(what, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(what, &e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| self.decode(what, e.to_string()));
        }
        Err(self.api_error(what, status, &bytes))
    }

    fn api_error(&self, what: &str, status: StatusCode, bytes: &[u8]) -> ClientError {
        let body = serde_json::from_slice::<ErrorBody>(bytes).unwrap_or_else(|_| ErrorBody {
            error: String::from_utf8_lossy(bytes).chars().take(200).collect::<String>().trim().to_string(),
            kind: ErrorKind::Internal,
            field: None,
            active: None,
        });
        ClientError::Api {
            host: self.name.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            body: Box::new(body),
        }
    }

    /// A transport failure, said the way an operator acts on it: the innermost cause
    /// ("Connection refused (os error 111)", "timed out"), not every layer of reqwest and
    /// hyper around it (the URL is in the message already).
    pub fn unreachable(&self, what: &str, e: &reqwest::Error) -> ClientError {
        let mut root: &dyn std::error::Error = e;
        while let Some(inner) = root.source() {
            root = inner;
        }
        let detail = if e.is_timeout() { "timed out".to_string() } else { root.to_string() };
        ClientError::Unreachable { host: self.name.clone(), what: what.to_string(), url: self.base.clone(), detail }
    }

    fn decode(&self, what: &str, detail: String) -> ClientError {
        ClientError::Decode { host: self.name.clone(), what: what.to_string(), detail }
    }
}

/// Splits a `text/event-stream` into (event, data) pairs.
#[derive(Default)]
struct SseParser {
    buffer: Vec<u8>,
    event: String,
    data: String,
}

impl SseParser {
    fn feed(&mut self, chunk: &[u8], on_event: &mut impl FnMut(&str, &str)) {
        self.buffer.extend_from_slice(chunk);
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    let event = if self.event.is_empty() { "message" } else { self.event.as_str() };
                    on_event(event, &self.data);
                }
                self.event.clear();
                self.data.clear();
            } else if let Some(value) = line.strip_prefix("event:") {
                self.event = value.trim_start().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
            // Comments (`:keep-alive`) and other fields are ignored.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SseParser;

    #[test]
    fn sse_events_split_across_chunks() {
        let mut got = Vec::new();
        let mut p = SseParser::default();
        let mut push = |e: &str, d: &str| got.push((e.to_string(), d.to_string()));
        p.feed(b": keep-alive\n\nevent: timeline\ndata: {\"a\"", &mut push);
        p.feed(b":1}\n\nevent: end\r\ndata: x\r\ndata: y\r\n\r\n", &mut push);
        assert_eq!(got, [("timeline".into(), "{\"a\":1}".into()), ("end".into(), "x\ny".into())]);
    }
}

/// How long the controller waits for an inject: a custom action (exec, http-call) runs its
/// `inject` and then its `verify_injected` step on the daemon, each for up to its `timeout`
/// (a cloud CLI stopping instances: minutes). Given up on sooner, the inject would still take
/// effect on the daemon, with a controller that no longer knows of it until its lease ran out.
fn inject_timeout(req: &InjectionRequest) -> Duration {
    let step =
        req.params.get("timeout").and_then(|t| t.as_str()).and_then(|t| crate::experiment::parse_duration(t).ok());
    REQUEST_TIMEOUT + step.map_or(Duration::ZERO, crate::fault::inject_steps_time)
}

#[cfg(test)]
mod inject_timeout_tests {
    use super::*;

    #[test]
    fn an_inject_waits_for_a_custom_actions_two_steps_on_top_of_the_usual_limit() {
        let req = |params: serde_json::Value| InjectionRequest {
            fault: "exec".into(),
            params: serde_json::from_value(params).unwrap(),
            duration: "1m".into(),
            lease: Some("15s".into()),
            run: None,
            dry_run: false,
        };
        assert_eq!(inject_timeout(&req(serde_json::json!({"percent": 50}))), REQUEST_TIMEOUT);
        let slow = req(serde_json::json!({"inject": ["aws"], "timeout": "5m"}));
        assert_eq!(inject_timeout(&slow), REQUEST_TIMEOUT + Duration::from_secs(600));
    }
}
