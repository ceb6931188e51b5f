//! `exec` on a daemon, tried as an attacker would: the daemon is root, so an exec action
//! sent over its API runs a command as root. A viewer is refused by role; an operator is
//! refused by the default policy (`exec.commands` lists no program), for a one-off
//! injection and for a submitted experiment alike; nothing runs. With a policy that lists
//! the programs, the injection runs, and its journaled rollback command runs by itself
//! when the controller goes silent (the lease expires).

#[path = "common/daemon.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

use faultdrill::client::wire::{ErrorBody, ErrorKind};
use faultdrill::journal::InjectionState;
use harness::{Daemon, DaemonSpec, wait_for, write_private};
use serde_json::json;

const ADMIN: &str = "admin-secret-0123456789";
const OPERATOR: &str = "operator-secret-0123456789";
const VIEWER: &str = "viewer-secret-0123456789";

fn http() -> reqwest::Client {
    faultdrill::client::install_crypto_provider();
    reqwest::Client::new()
}

fn daemon_with_roles(dir: &Path, policy: Option<&str>) -> Daemon {
    let tokens = dir.join("tokens.yaml");
    write_private(
        &tokens,
        &format!(
            "tokens:\n  - {{name: root-admin, role: admin, secret: {ADMIN}}}\n  - {{name: ci, role: operator, secret: {OPERATOR}}}\n  - {{name: dash, role: viewer, secret: {VIEWER}}}\n"
        ),
    );
    let policy = policy.map(|text| {
        let path = dir.join("policy.yaml");
        std::fs::write(&path, text).unwrap();
        path
    });
    Daemon::start(DaemonSpec { token: Some(ADMIN.into()), token_file: Some(tokens), policy, ..DaemonSpec::default() })
}

/// The absolute path of a program, as a policy must list it.
fn program(name: &str) -> String {
    ["/usr/bin", "/bin"].iter().map(|d| format!("{d}/{name}")).find(|p| Path::new(p).exists()).unwrap()
}

fn exec_params(marker: &Path) -> serde_json::Value {
    json!({
        "inject": [program("touch"), marker],
        "rollback": [program("rm"), "-f", marker],
    })
}

async fn post(d: &Daemon, token: &str, path: &str, body: &serde_json::Value) -> (u16, String) {
    let resp = http().post(format!("{}{path}", d.url)).bearer_auth(token).json(body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn error(text: &str) -> ErrorBody {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an error body ({e}): {text}"))
}

#[tokio::test]
async fn exec_through_the_daemon_is_refused_for_a_viewer_and_by_the_default_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon_with_roles(dir.path(), None);
    let marker = dir.path().join("ran-as-root");
    let inject = json!({"fault": "exec", "params": exec_params(&marker), "duration": "30s", "lease": "15s"});

    let (status, text) = post(&d, VIEWER, "/v1/injections", &inject).await;
    let body = error(&text);
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden), "{text}");
    assert!(body.error.contains("has the role viewer"), "{}", body.error);

    let (status, text) = post(&d, OPERATOR, "/v1/injections", &inject).await;
    let body = error(&text);
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden), "{text}");
    assert!(body.error.contains("refused by the default policy (`exec.commands`)"), "{}", body.error);
    assert!(body.error.contains("as this daemon's user (root)"), "{}", body.error);

    let experiment = format!(
        "version: 1\nname: exec-over-api\naction_groups:\n  - name: g\n    target: local\n    actions:\n      - fault: exec\n        params: {{inject: [{touch}, {m}], rollback: [{rm}, -f, {m}]}}\n        duration: 1s\n",
        touch = program("touch"),
        rm = program("rm"),
        m = marker.display()
    );
    let (status, text) = post(&d, OPERATOR, "/v1/runs", &json!({"experiment": experiment})).await;
    let body = error(&text);
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden), "{text}");
    assert!(body.error.contains("action g/exec#1: exec `inject` would run"), "{}", body.error);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!marker.exists(), "a command ran as root");
    assert!(d.client().runs().await.unwrap().is_empty(), "no run was started");
    assert!(d.journal().live().unwrap().is_empty(), "nothing was journaled");
}

#[tokio::test]
async fn an_allowed_exec_is_rolled_back_by_the_daemon_when_its_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("version: 1\nexec:\n  commands: [{}, {}]\n", program("touch"), program("rm"));
    let d = daemon_with_roles(dir.path(), Some(&policy));
    let marker = dir.path().join("injected");
    // A program the policy does not list is still refused, naming the policy's line.
    let mut other = exec_params(&marker);
    other["rollback"] = json!([program("sh"), "-c", "rm -f x"]);
    let (status, text) = post(
        &d,
        OPERATOR,
        "/v1/injections",
        &json!({"fault": "exec", "params": other, "duration": "30s", "lease": "2s"}),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert!(error(&text).error.contains("policy.yaml:3"), "{text}");

    let inject = json!({"fault": "exec", "params": exec_params(&marker), "duration": "60s", "lease": "2s"});
    let (status, text) = post(&d, OPERATOR, "/v1/injections", &inject).await;
    assert_eq!(status, 201, "{text}");
    let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
    assert!(marker.exists(), "injected");
    // The controller goes silent: no lease renewal. The daemon runs the journaled rollback.
    let id = faultdrill::ids::InjectionId::from_string(&id);
    let record = wait_for(Duration::from_secs(20), "the lease to expire and the rollback to run", || {
        d.journal().get(&id).unwrap().filter(|r| r.state == InjectionState::RolledBack)
    });
    assert!(!marker.exists(), "the rollback command ran");
    assert!(record.note.unwrap_or_default().contains("lease expired"));
}

/// A cloud CLI takes minutes to stop instances: an inject longer than its lease. The lease and
/// the hold count from the moment the inject is in place (when the controller learns its id),
/// not from the request: the fault is neither reaped the moment it is applied nor cut short.
#[tokio::test]
async fn an_inject_slower_than_its_lease_is_held_its_whole_duration_once_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("version: 1\nexec:\n  commands: [{}, {}]\n", program("sh"), program("rm"));
    let d = daemon_with_roles(dir.path(), Some(&policy));
    let marker = dir.path().join("stopped");
    let slow = format!("sleep 3; touch {}", marker.display());
    let params = json!({"inject": [program("sh"), "-c", slow], "rollback": [program("rm"), "-f", marker]});
    let inject = json!({"fault": "exec", "params": params, "duration": "3s", "lease": "2s"});
    let asked = std::time::Instant::now();
    let (status, text) = post(&d, OPERATOR, "/v1/injections", &inject).await;
    let in_place = std::time::Instant::now();
    assert_eq!(status, 201, "{text}");
    assert!(in_place - asked >= Duration::from_secs(3), "the inject took its 3 s");
    let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
    let renew = format!("/v1/injections/{id}/lease");
    let id = faultdrill::ids::InjectionId::from_string(&id);
    let state = || d.journal().get(&id).unwrap().unwrap().state;

    // The controller renews within its lease, as it does: the lease had not run out while applying.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, text) = post(&d, OPERATOR, &renew, &json!({})).await;
    assert_eq!(status, 200, "renewed 1 s after the inject was in place: {text}");
    // 2.5 s in: past the request's 3 s, within the 3 s counted from when the fault was in place.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(state(), InjectionState::Active, "held 2.5 s of its 3 s");
    assert!(marker.exists());
    let record = wait_for(Duration::from_secs(10), "the deadline to roll it back", || {
        d.journal().get(&id).unwrap().filter(|r| r.state == InjectionState::RolledBack)
    });
    let held = in_place.elapsed();
    assert!(!marker.exists(), "rolled back");
    assert!(record.note.unwrap_or_default().contains("deadline"), "ended by its deadline, not its lease");
    assert!(held >= Duration::from_millis(2900), "held its duration from when it was in place: {held:?}");
}

/// The controller waits for a custom action's own time limits, not its usual 15 s: an inject
/// that takes 17 s (within its `timeout: 30s`) is held and rolled back, not given up on while
/// the daemon goes on to apply it.
#[tokio::test]
async fn the_controller_waits_for_an_inject_longer_than_its_usual_request_limit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("version: 1\nexec:\n  commands: [{}, {}]\n", program("sh"), program("rm"));
    let d = daemon_with_roles(dir.path(), Some(&policy));
    let marker = dir.path().join("stopped");
    let token = dir.path().join("operator-token");
    write_private(&token, OPERATOR);
    let inject = serde_json::to_string(&json!([program("sh"), "-c", format!("sleep 17; touch {}", marker.display())]));
    let rollback = serde_json::to_string(&json!([program("rm"), "-f", marker]));
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(harness::BIN)
        .arg("--state-dir")
        .arg(dir.path().join("controller"))
        .args(["inject", "exec", "--daemon", &d.url, "--token-file"])
        .arg(&token)
        .args(["--duration", "2s", "--lease", "5s", "-p", "timeout=30s"])
        .arg("-p")
        .arg(format!("inject={}", inject.unwrap()))
        .arg("-p")
        .arg(format!("rollback={}", rollback.unwrap()))
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(took >= Duration::from_secs(19), "17 s of inject and 2 s of hold: {took:?}");
    assert!(!marker.exists(), "rolled back by the controller");
    let live = d.journal().live().unwrap();
    assert!(live.is_empty(), "nothing left on the daemon: {live:?}");
}
