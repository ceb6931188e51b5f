//! The OpenAPI document of the v1 API: the committed `schema/openapi.json` is
//! what the binary generates and what a real daemon serves (behind its token);
//! every route of the router is in it and every route in it answers; and real
//! answers match the schemas the document gives for their status.

#[path = "common/daemon.rs"]
mod harness;
#[path = "api_fuzz/schema_check.rs"]
mod schema_check;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use harness::{BIN, Daemon, DaemonSpec};
use schema_check::mismatches;
use serde_json::{Value, json};

const REGENERATE: &str = "regenerate it with `cargo run -q -- schema --openapi > schema/openapi.json` \
     (or `UPDATE_SCHEMA=1 cargo nextest run --test daemon_openapi -E 'test(committed)'`), and commit it";

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/openapi.json")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(committed_path()).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema/openapi.json is not JSON ({e}): {REGENERATE}"))
}

fn http() -> reqwest::Client {
    faultdrill::client::install_crypto_provider();
    reqwest::Client::new()
}

fn token(d: &Daemon) -> String {
    d.spec.token.clone().unwrap()
}

#[test]
fn committed_openapi_document_matches_the_binary() {
    let out = Command::new(BIN).args(["schema", "--openapi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = String::from_utf8(out.stdout).unwrap();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(committed_path(), &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(committed_path()).unwrap_or_default();
    if on_disk != generated {
        let line = on_disk.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!("schema/openapi.json differs from the generated document (first at line {line}): {REGENERATE}");
    }
    let doc: Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn the_daemon_serves_the_committed_document_behind_its_token() {
    let d = Daemon::start(DaemonSpec::default());
    let url = format!("{}/v1/openapi.json", d.url);
    let resp = http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "unauthorized", "{body}");
    let resp = http().get(&url).bearer_auth(token(&d)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served: Value = resp.json().await.unwrap();
    assert!(served == committed(), "the daemon serves another document than schema/openapi.json: {REGENERATE}");
}

/// Every `(method, path)` the daemon's routers declare: each `.route("PATH", get(..).post(..))`
/// call in the files under `src/daemon/`.
fn router_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon");
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)""#).unwrap();
    let method = regex::Regex::new(r"\b(get|post|put|patch|delete)\(").unwrap();
    let mut found = BTreeSet::new();
    for file in rust_files(&dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(".nest("),
            "{} nests a router: teach router_routes() in tests/daemon_openapi.rs its prefix",
            file.display()
        );
        for m in route.captures_iter(&text) {
            let args = call_arguments(&text[m.get(0).unwrap().end()..]);
            let methods: Vec<_> = method.captures_iter(args).map(|c| c[1].to_string()).collect();
            assert!(!methods.is_empty(), "{}: no method in .route(\"{}\", {args})", file.display(), &m[1]);
            for verb in methods {
                found.insert((verb, m[1].to_string()));
            }
        }
    }
    assert!(found.len() >= 15, "too few routes found under src/daemon/: {found:?}");
    found
}

/// The rest of a call's arguments: `text` up to the parenthesis that closes the call.
fn call_arguments(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return &text[..i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    text
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_of_the_router_is_documented_and_back() {
    let doc: Value = serde_json::from_str(faultdrill::daemon::openapi::json()).unwrap();
    let documented = documented_routes(&doc);
    let routed = router_routes();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes of src/daemon/ missing from the OpenAPI document: {undocumented:?}; describe them in \
         operations() of src/daemon/openapi.rs, then {REGENERATE}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(unrouted.is_empty(), "the OpenAPI document describes routes the daemon does not have: {unrouted:?}");
}

#[tokio::test]
async fn every_documented_route_answers_on_a_real_daemon() {
    let d = Daemon::start(DaemonSpec::default());
    let doc = committed();
    for (method, path) in documented_routes(&doc) {
        let url = format!("{}{}", d.url, path.replace("{id}", "x-none").replace("{name}", "g"));
        let mut req = http().request(method.to_uppercase().parse().unwrap(), &url).bearer_auth(token(&d));
        if doc["paths"][&path][&method].get("requestBody").is_some() {
            req = req.json(&json!({}));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {text}");
        assert!(!text.contains("no such endpoint"), "{method} {path} is not routed: {status} {text}");
        let documented = &doc["paths"][&path][&method]["responses"];
        assert!(documented.get(status.to_string()).is_some(), "{method} {path}: status {status} is not documented");
    }
}

/// Sends a request and checks the answer against the document's schema for its status.
async fn conforms(
    d: &Daemon,
    doc: &Value,
    method: &str,
    path: &str,
    url_path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http().request(method.to_uppercase().parse().unwrap(), format!("{}{url_path}", d.url));
    req = req.bearer_auth(token(d));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let value: Value = resp.json().await.unwrap();
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(response.is_object(), "{method} {url_path}: status {status} is not documented: {value}");
    let schema = &response["content"]["application/json"]["schema"];
    let mut out = Vec::new();
    mismatches(doc, schema, &value, "$", &mut out);
    assert!(out.is_empty(), "{method} {url_path} ({status}) does not match the document:\n{}\n{value}", out.join("\n"));
    (status, value)
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let d = Daemon::start(DaemonSpec::default());
    let doc = committed();
    conforms(&d, &doc, "get", "/v1/health", "/v1/health", None).await;
    conforms(&d, &doc, "get", "/v1/host/metrics", "/v1/host/metrics?path=/&process=faultdrill", None).await;
    conforms(&d, &doc, "get", "/v1/host/metrics", "/v1/host/metrics?metric=nope", None).await;
    let dry = json!({"fault": "cpu-burn", "params": {"percent": 1, "cores": 1}, "duration": "100ms", "dry_run": true});
    let (status, injection) = conforms(&d, &doc, "post", "/v1/injections", "/v1/injections", Some(dry)).await;
    assert_eq!(status, 201, "{injection}");
    let bad = json!({"fault": "cpu-burn", "duration": 5});
    assert_eq!(conforms(&d, &doc, "post", "/v1/injections", "/v1/injections", Some(bad)).await.0, 422);
    conforms(&d, &doc, "get", "/v1/injections", "/v1/injections", None).await;
    conforms(&d, &doc, "get", "/v1/injections/{id}", "/v1/injections/i-none", None).await;
    let (one, lease) = ("/v1/injections/{id}", "/v1/injections/{id}/lease");
    conforms(&d, &doc, "delete", one, "/v1/injections/i-none?reason=test", None).await;
    conforms(&d, &doc, "post", lease, "/v1/injections/i-none/lease", None).await;
    let experiment = "version: 1
name: openapi-check
targets: {here: {hosts: [local]}}
action_groups:
  - name: g
    target: here
    actions:
      - fault: cpu-burn
        params: {percent: 1, cores: 1}
        duration: 100ms
";
    let (status, accepted) =
        conforms(&d, &doc, "post", "/v1/runs", "/v1/runs", Some(json!({"experiment": experiment}))).await;
    assert_eq!(status, 201, "{accepted}");
    let run = accepted["run_id"].as_str().unwrap().to_string();
    conforms(&d, &doc, "post", "/v1/runs", "/v1/runs", Some(json!({"experiment": "version: 1\nnope: 1\n"}))).await;
    conforms(&d, &doc, "get", "/v1/runs/{id}", &format!("/v1/runs/{run}"), None).await;
    conforms(
        &d,
        &doc,
        "post",
        "/v1/runs/{id}/guardrails/{name}/trip",
        &format!("/v1/runs/{run}/guardrails/x/trip"),
        None,
    )
    .await;
    conforms(&d, &doc, "post", "/v1/runs/{id}/stop", &format!("/v1/runs/{run}/stop"), None).await;
    harness::wait_for(std::time::Duration::from_secs(20), "the run to finish", || {
        let status = d.journal().runs(10).ok()?.into_iter().find(|r| r.id.as_str() == run)?;
        (status.state == "finished").then_some(())
    });
    conforms(&d, &doc, "get", "/v1/runs", "/v1/runs", None).await;
    conforms(&d, &doc, "get", "/v1/runs/{id}", &format!("/v1/runs/{run}"), None).await;
    let hook = json!({"version": "4", "alerts": [
        {"status": "firing", "labels": {"alertname": "A", "faultdrill_guardrail": "g", "faultdrill_run": "r-none"}},
        {"status": "resolved", "labels": {}}]});
    let (_, answer) = conforms(&d, &doc, "post", "/v1/alertmanager", "/v1/alertmanager", Some(hook)).await;
    assert_eq!(answer["ignored"].as_array().unwrap().len(), 2, "{answer}");
}
