//! The daemon's v1 API against a real `faultdrill daemon` process: auth, bad
//! requests, TLS, refusals.

#[path = "common/daemon.rs"]
mod harness;

use std::process::Command;

use faultdrill::client::wire::{ErrorBody, ErrorKind, Health};
use harness::{BIN, Daemon, DaemonSpec};
use serde_json::json;

fn http() -> reqwest::Client {
    faultdrill::client::install_crypto_provider();
    reqwest::Client::new()
}

async fn error_of(resp: reqwest::Response) -> (u16, ErrorBody) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not an error body ({e}): {text}")))
}

#[tokio::test]
async fn missing_or_wrong_token_gets_401_with_a_json_message() {
    let d = Daemon::start(DaemonSpec::default());
    let url = format!("{}/v1/injections", d.url);
    let (status, body) = error_of(http().get(&url).send().await.unwrap()).await;
    assert_eq!((status, body.kind), (401, ErrorKind::Unauthorized));
    assert!(body.error.starts_with("authenticate: send `Authorization: Bearer <token>`"), "{}", body.error);
    assert!(body.error.contains("FAULTDRILL_TOKEN") && body.error.contains("--token-file"), "{}", body.error);
    let (status, body) = error_of(http().get(&url).bearer_auth("not-the-token").send().await.unwrap()).await;
    assert_eq!((status, body.kind), (401, ErrorKind::Unauthorized));
    assert!(body.error.contains("this one is not the daemon's"), "{}", body.error);
    // Every endpoint but health is protected, including writes and metrics.
    for (method, path) in [("POST", "/v1/injections"), ("DELETE", "/v1/injections/i-x"), ("GET", "/metrics")] {
        let req = http().request(method.parse().unwrap(), format!("{}{path}", d.url));
        assert_eq!(req.send().await.unwrap().status(), 401, "{method} {path}");
    }
    let ok = http().get(&url).bearer_auth(d.spec.token.as_deref().unwrap()).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn health_needs_no_token() {
    let d = Daemon::start(DaemonSpec { name: "health-host".into(), ..DaemonSpec::default() });
    let health: Health = http().get(format!("{}/v1/health", d.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!((health.status.as_str(), health.name.as_str()), ("ok", "health-host"));
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_message() {
    let d = Daemon::start(DaemonSpec::default());
    let resp = http()
        .post(format!("{}/v1/injections", d.url))
        .bearer_auth(d.spec.token.as_deref().unwrap())
        .header("content-type", "application/json")
        .body("{\"fault\": \"disk-fill\", ")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.kind), (400, ErrorKind::MalformedJson));
    assert_eq!(body.error, "the body is not valid JSON: EOF while parsing a value at line 1 column 23");
    // The daemon is still serving.
    assert!(d.client().health().await.is_ok());
}

#[tokio::test]
async fn unknown_fault_or_bad_shape_gets_422_naming_the_field() {
    let d = Daemon::start(DaemonSpec::default());
    let post = |body: serde_json::Value| {
        http().post(format!("{}/v1/injections", d.url)).bearer_auth(d.spec.token.clone().unwrap()).json(&body).send()
    };
    let (status, body) = error_of(post(json!({"fault": "disk-explode", "duration": "5s"})).await.unwrap()).await;
    assert_eq!((status, body.kind, body.field.as_deref()), (422, ErrorKind::UnknownFault, Some("fault")));
    assert!(body.error.starts_with("unknown fault `disk-explode`; expected one of"), "{}", body.error);
    let (status, body) = error_of(post(json!({"fault": "disk-fill"})).await.unwrap()).await;
    assert_eq!((status, body.field.as_deref()), (422, Some("duration")));
    assert_eq!(body.error, "missing field `duration`");
    let (status, body) =
        error_of(post(json!({"fault": "disk-fill", "duration": "5s", "paramz": {}})).await.unwrap()).await;
    assert_eq!((status, body.field.as_deref()), (422, Some("paramz")));
    let (status, body) = error_of(post(json!({"fault": "disk-fill", "duration": 5})).await.unwrap()).await;
    assert_eq!((status, body.field.as_deref()), (422, Some("duration")));
}

#[test]
fn non_loopback_listen_without_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(dir.path())
        .args(["daemon", "--listen", "0.0.0.0:0"])
        .env_remove("FAULTDRILL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: listen on 0.0.0.0:0 without TLS: tokens and requests would cross the network in clear text; \
         give --tls-cert and --tls-key (deploy/README.md shows how), or --allow-plaintext on a network you trust"
    );
    assert!(out.stdout.is_empty(), "it must not have listened");
}

#[tokio::test]
async fn tls_serves_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let d = Daemon::start(DaemonSpec { tls: Some((cert.clone(), key)), ..DaemonSpec::default() });
    assert!(d.url.starts_with("https://127.0.0.1:"), "{}", d.url);
    // Trusting the certificate: the whole API works.
    let client = d.client();
    assert_eq!(client.health().await.unwrap().status, "ok");
    assert!(client.injections().await.unwrap().is_empty());
    // Not trusting it: refused, with the host named.
    let untrusted = faultdrill::client::DaemonClient::new("tls-host", &d.url, d.spec.token.clone(), None).unwrap();
    let err = untrusted.health().await.unwrap_err().to_string();
    assert!(err.starts_with("check the health on tls-host: cannot reach https://127.0.0.1:"), "{err}");
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = d.url.replace("https://", "http://");
    let answered = http().get(format!("{plain}/v1/health")).send().await.map(|r| r.status().is_success());
    assert!(!answered.unwrap_or(false));
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let d = Daemon::start(DaemonSpec::default());
    let text = d.client().request(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    for family in [
        "# TYPE faultdrill_runs counter",
        "faultdrill_runs_total{outcome=\"passed\"} 0",
        "faultdrill_runs_total{outcome=\"guardrail_tripped\"} 0",
        "faultdrill_runs_total{outcome=\"rollback_failed\"} 0",
    ] {
        assert!(text.contains(family), "missing {family} in:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let mut d = Daemon::start(DaemonSpec::default());
    let status = d.terminate().unwrap();
    assert!(status.success(), "{status:?}\n{}", d.stderr());
}

#[tokio::test]
async fn host_metrics_sample_this_host() {
    let d = Daemon::start(DaemonSpec::default());
    let all = d.client().host_metrics(None, Some(std::path::Path::new("/tmp")), None).await.unwrap();
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    for v in [all.disk_used_percent, all.memory_percent, all.cpu_percent] {
        assert!(v.is_some_and(|v| (0.0..=100.0).contains(&v)), "{all:?}");
    }
    let one = d.client().host_metrics(Some("load1"), None, None).await.unwrap();
    assert!(one.load1.is_some() && one.memory_percent.is_none(), "{one:?}");
    let per_core = d.client().host_metrics(Some("load1_per_core"), None, None).await.unwrap();
    assert!(per_core.load1_per_core.is_some_and(|v| v >= 0.0) && per_core.load1.is_none(), "{per_core:?}");
    let err = d.client().host_metrics(Some("nope"), None, None).await.unwrap_err();
    assert_eq!(err.body().and_then(|b| b.field.as_deref()), Some("metric"));
}
