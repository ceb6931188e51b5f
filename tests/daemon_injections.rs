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

    let first = client.rollback(&injection.id, "test over").await.unwrap();
    assert_eq!(first.outcome, Some(UndoOutcome::Undone));
    assert_eq!(list_dir(dir.path()), before, "host state back to before");
    let second = client.rollback(&injection.id, "test over").await.unwrap();
    assert_eq!(second.outcome, Some(UndoOutcome::AlreadyGone));
    assert_eq!(record(&d, &injection.id).state, InjectionState::RolledBack);
    let unknown = client.rollback(&InjectionId::from_string("i-nosuchthing"), "test over").await.unwrap_err();
    assert_eq!(unknown.kind(), Some(ErrorKind::NotFound));
}

#[tokio::test]
async fn second_fault_of_a_kind_gets_409_naming_the_active_injection() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let client = d.client();
    let first = client.inject(&fill(dir.path(), Some("60s"), "60s")).await.unwrap();
    let err = client.inject(&fill(dir.path(), Some("60s"), "60s")).await.unwrap_err();
    let body = err.body().expect("an API error");
    assert_eq!(body.kind, ErrorKind::Conflict);
    assert_eq!(body.active.as_ref(), Some(&first.id));
    assert!(body.error.contains(first.id.as_str()), "{}", body.error);
    assert!(err.to_string().contains("(HTTP 409)"), "{err}");
    assert_eq!(list_dir(dir.path()).len(), 1, "the second fill changed nothing");
    client.rollback(&first.id, "test over").await.unwrap();
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
async fn an_api_injection_without_a_lease_is_refused_and_changes_nothing() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let err = d.client().inject(&fill(dir.path(), None, "60s")).await.unwrap_err();
    let body = err.body().expect("an API error");
    assert_eq!((body.kind, body.field.as_deref()), (ErrorKind::InvalidRequest, Some("lease")));
    assert!(body.error.starts_with("lease: required for an injection made over the API"), "{}", body.error);
    assert!(list_dir(dir.path()).is_empty(), "nothing was filled");
    assert!(d.journal().live().unwrap().is_empty());
}

#[tokio::test]
async fn deadline_rolls_back_before_the_lease_with_no_controller() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let injection = d.client().inject(&fill(dir.path(), Some("60s"), "1s")).await.unwrap();
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

/// `faultdrill inject ... --daemon URL`, started in the background; it prints the id first.
struct CliInject {
    child: std::process::Child,
    id: InjectionId,
}

impl CliInject {
    fn start(d: &Daemon, dir: &Path, extra: &[&str]) -> CliInject {
        use std::io::BufRead;
        let mut child = std::process::Command::new(harness::BIN)
            .args(["inject", "disk-fill", "--param"])
            .arg(format!("path={}", dir.display()))
            .args(["--param", "size=1MiB", "--daemon", &d.url])
            .args(extra)
            .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        CliInject { child, id: InjectionId::from_string(line.trim()) }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }
}

impl Drop for CliInject {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn inject_through_the_cli_holds_renews_its_lease_and_rolls_back_on_ctrl_c() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let before = list_dir(dir.path());
    let mut cli = CliInject::start(&d, dir.path(), &["--duration", "60s", "--lease", "1s"]);
    let held = record(&d, &cli.id);
    assert_eq!((held.state, held.lease_ms), (InjectionState::Active, Some(1000)));
    assert_eq!(list_dir(dir.path()).len(), before.len() + 1, "the fill file exists");
    // Three leases later it is still there: the CLI renews it.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(record(&d, &cli.id).state, InjectionState::Active, "the lease was renewed");
    cli.signal(nix::sys::signal::Signal::SIGINT);
    let status = cli.child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let done = record(&d, &cli.id);
    assert_eq!(done.state, InjectionState::RolledBack, "rolled back before the CLI exited");
    assert!(done.note.unwrap_or_default().contains("interrupted by SIGINT"));
    assert_eq!(list_dir(dir.path()), before);
}

#[tokio::test]
async fn a_killed_cli_inject_is_rolled_back_by_the_daemon_within_its_lease() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let before = list_dir(dir.path());
    let cli = CliInject::start(&d, dir.path(), &["--duration", "60s", "--lease", "1s"]);
    assert_eq!(list_dir(dir.path()).len(), before.len() + 1, "the fill file exists");
    cli.signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    let done = wait_rolled_back(&d, &cli.id, Duration::from_secs(10));
    assert!(killed.elapsed() < Duration::from_secs(2), "rolled back {:?} after the kill", killed.elapsed());
    assert!(done.note.unwrap_or_default().contains("lease expired"));
    assert_eq!(list_dir(dir.path()), before);
}

#[tokio::test]
async fn inject_through_the_cli_rejects_bad_input_with_64() {
    let d = Daemon::start(DaemonSpec::default());
    // Bad input through the CLI is exit 64.
    let bad = std::process::Command::new(harness::BIN)
        .args(["inject", "disk-fill", "--param", "size=lots", "--duration", "1s", "--daemon", &d.url])
        .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64), "{}", String::from_utf8_lossy(&bad.stderr));
    let tiny_lease = std::process::Command::new(harness::BIN)
        .args(["inject", "disk-fill", "--param", "size=1MiB", "--duration", "1s", "--lease", "1ms", "--daemon", &d.url])
        .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    assert_eq!(tiny_lease.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&tiny_lease.stderr).contains("--lease `1ms`"));
    let local_lease = std::process::Command::new(harness::BIN)
        .args(["inject", "cpu-burn", "--duration", "1s", "--lease", "5s"])
        .output()
        .unwrap();
    assert_eq!(local_lease.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&local_lease.stderr).contains("--lease needs --daemon"));
    assert!(d.journal().live().unwrap().is_empty(), "nothing was injected");
}
