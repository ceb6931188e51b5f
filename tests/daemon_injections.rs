//! Injections through a real daemon: inject, conflict, rollback, lease expiry
//! (the dead man's switch), deadlines, crash recovery, SIGTERM. The fault is a
//! real disk-fill in a directory the test owns; host state is compared before
//! and after.

#[path = "common/daemon.rs"]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use faultdrill::client::wire::{ErrorKind, InjectionRequest};
use faultdrill::fault::UndoOutcome;
use faultdrill::ids::InjectionId;
use faultdrill::journal::{InjectionRecord, InjectionState};
use harness::{Daemon, DaemonSpec, list_dir, wait_for};
use serde_json::json;

fn fill(dir: &Path, lease: Option<&str>, duration: &str) -> InjectionRequest {
    InjectionRequest {
        fault: "disk-fill".into(),
        params: [("path".to_string(), json!(dir)), ("size".to_string(), json!("1MiB"))].into(),
        duration: duration.into(),
        lease: lease.map(String::from),
        run: None,
        dry_run: false,
    }
}

fn record(d: &Daemon, id: &InjectionId) -> InjectionRecord {
    d.journal().get(id).unwrap().expect("the injection is journaled")
}

fn wait_rolled_back(d: &Daemon, id: &InjectionId, timeout: Duration) -> InjectionRecord {
    wait_for(timeout, "the daemon to roll back", || {
        Some(record(d, id)).filter(|r| r.state == InjectionState::RolledBack)
    })
}

#[tokio::test]
async fn inject_then_delete_rolls_back_and_delete_is_idempotent() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let before = list_dir(dir.path());
    let client = d.client();
    let injection = client.inject(&fill(dir.path(), Some("15s"), "60s")).await.unwrap();
    assert_eq!((injection.state, injection.host.as_str()), (InjectionState::Active, "d1"));
    assert_eq!(list_dir(dir.path()).len(), before.len() + 1, "the fill file exists");
    let listed = client.injections().await.unwrap();
    assert!(listed.iter().any(|i| i.id == injection.id && i.is_live()));

    let first = client.rollback(&injection.id).await.unwrap();
    assert_eq!(first.outcome, Some(UndoOutcome::Undone));
    assert_eq!(list_dir(dir.path()), before, "host state back to before");
    let second = client.rollback(&injection.id).await.unwrap();
    assert_eq!(second.outcome, Some(UndoOutcome::AlreadyGone));
    assert_eq!(record(&d, &injection.id).state, InjectionState::RolledBack);
    let unknown = client.rollback(&InjectionId::from_string("i-nosuchthing")).await.unwrap_err();
    assert_eq!(unknown.kind(), Some(ErrorKind::NotFound));
}

#[tokio::test]
async fn second_fault_of_a_kind_gets_409_naming_the_active_injection() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let client = d.client();
    let first = client.inject(&fill(dir.path(), None, "60s")).await.unwrap();
    let err = client.inject(&fill(dir.path(), None, "60s")).await.unwrap_err();
    let body = err.body().expect("an API error");
    assert_eq!(body.kind, ErrorKind::Conflict);
    assert_eq!(body.active.as_ref(), Some(&first.id));
    assert!(body.error.contains(first.id.as_str()), "{}", body.error);
    assert!(err.to_string().contains("(HTTP 409)"), "{err}");
    assert_eq!(list_dir(dir.path()).len(), 1, "the second fill changed nothing");
    client.rollback(&first.id).await.unwrap();
}

#[tokio::test]
async fn bad_params_get_422_naming_the_field() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let client = d.client();
    let mut req = fill(dir.path(), None, "60s");
    req.params.insert("size".into(), json!("lots"));
    let err = client.inject(&req).await.unwrap_err();
    let body = err.body().unwrap();
    assert_eq!((body.kind, body.field.as_deref()), (ErrorKind::BadParams, Some("params.size")));
    assert!(body.error.contains("parameter `size`"), "{}", body.error);
    let mut req = fill(dir.path(), None, "60s");
    req.params.insert("colour".into(), json!("red"));
    let body = client.inject(&req).await.unwrap_err().body().cloned().unwrap();
    assert_eq!(body.field.as_deref(), Some("params.colour"));
    let mut req = fill(dir.path(), None, "0s");
    req.lease = Some("soon".into());
    let body = client.inject(&req).await.unwrap_err().body().cloned().unwrap();
    assert_eq!(body.field.as_deref(), Some("duration"));
    assert!(list_dir(dir.path()).is_empty(), "nothing was filled");
}

#[tokio::test]
async fn lease_expiry_rolls_back_within_500ms_and_records_why() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let client = d.client();
    let injection = client.inject(&fill(dir.path(), Some("1s"), "60s")).await.unwrap();
    // Renewed, it stays past its TTL.
    let renewed_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < renewed_until {
        client.renew_lease(&injection.id).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(record(&d, &injection.id).state, InjectionState::Active);
    // Silent controller: rolled back on its own, soon after the lease expires.
    let rolled = wait_rolled_back(&d, &injection.id, Duration::from_secs(5));
    let expiry = rolled.lease_expires_ms.unwrap();
    let lag = rolled.updated_ms - expiry;
    assert!((0..=500).contains(&lag), "rolled back {lag} ms after the lease expired");
    assert_eq!(rolled.note.as_deref(), Some("rolled back: lease expired: the controller went silent"));
    assert!(list_dir(dir.path()).is_empty(), "the fill file is gone");
    // The controller learns it is gone.
    let gone = client.renew_lease(&injection.id).await.unwrap_err();
    assert_eq!(gone.kind(), Some(ErrorKind::Gone));
}

#[tokio::test]
async fn deadline_rolls_back_with_no_lease_and_no_controller() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let injection = d.client().inject(&fill(dir.path(), None, "1s")).await.unwrap();
    let rolled = wait_rolled_back(&d, &injection.id, Duration::from_secs(5));
    assert!(rolled.updated_ms - rolled.deadline_ms <= 500, "{} ms late", rolled.updated_ms - rolled.deadline_ms);
    assert_eq!(rolled.note.as_deref(), Some("rolled back: deadline passed"));
    assert!(list_dir(dir.path()).is_empty());
}

#[tokio::test]
async fn daemon_killed_mid_fault_rolls_back_on_restart() {
    let mut d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let injection = d.client().inject(&fill(dir.path(), Some("60s"), "60s")).await.unwrap();
    d.kill9();
    assert_eq!(list_dir(dir.path()).len(), 1, "kill -9 left the fault in place");
    d.restart();
    // Recovery happens before the daemon listens: by now it is done.
    let r = record(&d, &injection.id);
    assert_eq!(r.state, InjectionState::RolledBack);
    assert_eq!(r.note.as_deref(), Some("rolled back: daemon restarted: rolling back what the previous daemon left"));
    assert!(list_dir(dir.path()).is_empty(), "the fill file is gone");
}

#[tokio::test]
async fn sigterm_rolls_back_live_injections_then_exits() {
    let mut d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let injection = d.client().inject(&fill(dir.path(), Some("60s"), "60s")).await.unwrap();
    let status = d.terminate().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(record(&d, &injection.id).note.as_deref(), Some("rolled back: the daemon is stopping"));
    assert!(list_dir(dir.path()).is_empty());
}

#[tokio::test]
async fn inject_through_the_cli_prints_the_id_and_the_daemon_holds_it() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(harness::BIN)
        .args(["inject", "disk-fill", "--param"])
        .arg(format!("path={}", dir.path().display()))
        .args(["--param", "size=1MiB", "--duration", "1s", "--daemon", &d.url])
        .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let id = InjectionId::from_string(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(record(&d, &id).state, InjectionState::Active);
    assert_eq!(list_dir(dir.path()).len(), 1);
    wait_rolled_back(&d, &id, Duration::from_secs(5));
    assert!(list_dir(dir.path()).is_empty());
    // Bad input through the CLI is exit 64.
    let bad = std::process::Command::new(harness::BIN)
        .args(["inject", "disk-fill", "--param", "size=lots", "--duration", "1s", "--daemon", &d.url])
        .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64), "{}", String::from_utf8_lossy(&bad.stderr));
}
