//! The daemon's trust boundary, tried as an attacker would: an unprivileged local
//! account, tokens of each role, the policy, the audit trail, the limits, mTLS and the
//! state dir. Every refusal is checked with the state compared before and after.

#[path = "common/daemon.rs"]
mod harness;
#[path = "common/user.rs"]
mod user;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use faultdrill::client::wire::{AuditEntry, ErrorBody, ErrorKind};
use harness::{BIN, Daemon, DaemonSpec, list_dir, write_private};
use serde_json::json;
use user::TestUser;

const ADMIN: &str = "admin-secret-0123456789";
const OPERATOR: &str = "operator-secret-0123456789";
const VIEWER: &str = "viewer-secret-0123456789";

fn http() -> reqwest::Client {
    faultdrill::client::install_crypto_provider();
    reqwest::Client::new()
}

/// A daemon with three named tokens (admin, operator `ci`, viewer `dash`) and `policy`.
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

/// An experiment whose steady-state probe runs a command: as root, on the daemon's host.
fn exploit(marker: &Path) -> String {
    format!(
        "version: 1\nname: exploit\nsteady_state:\n  probes:\n    - name: pwn\n      command: {{run: [sh, -c, \"id > {}\"]}}\n      expect: {{exit: 0}}\naction_groups:\n  - name: g\n    target: local\n    actions:\n      - fault: cpu-burn\n        params: {{percent: 1, cores: 1}}\n        duration: 1s\n",
        marker.display()
    )
}

async fn error_of(resp: reqwest::Response) -> (u16, ErrorBody) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not an error body ({e}): {text}")))
}

#[tokio::test]
async fn regression_an_unprivileged_user_cannot_run_a_command_as_root_through_the_daemon() {
    let attacker = TestUser::create("atk");
    // A daemon started as root with its defaults: no token given.
    let d = Daemon::start(DaemonSpec { token: None, ..DaemonSpec::default() });
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = work.path().join("pwned");
    let body = json!({"experiment": exploit(&marker)}).to_string();
    let body_file = work.path().join("body.json");
    std::fs::write(&body_file, &body).unwrap();
    std::fs::set_permissions(&body_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    // 1. The attacker's request, as the attacker, with no token: 401.
    let url = format!("{}/v1/runs", d.url);
    let data = format!("@{}", body_file.display());
    let out = attacker.run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data,
            &url,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401", "{}", String::from_utf8_lossy(&out.stderr));

    // 2. The generated token exists, is 0600 in a 0700 dir, and the attacker cannot read it.
    let token_path = d.state_dir.join("token");
    assert_eq!(std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&d.state_dir).unwrap().permissions().mode() & 0o777, 0o700);
    let read = attacker.run("cat", &[token_path.to_str().unwrap()]);
    assert!(!read.status.success(), "the attacker read the token");
    assert!(String::from_utf8_lossy(&read.stderr).contains("Permission denied"));

    // 3. The CLI as the attacker finds no token it may read: refused, exit 77.
    let file = work.path().join("exploit.yaml");
    std::fs::write(&file, exploit(&marker)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let attacker_state = format!("/tmp/fd-attacker-state-{}", std::process::id());
    let cli = attacker
        .command(BIN)
        .args(["--state-dir", &attacker_state, "run"])
        .arg(&file)
        .args(["--daemon", &d.url])
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(77), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(String::from_utf8_lossy(&cli.stderr).contains("HTTP 401"), "{}", String::from_utf8_lossy(&cli.stderr));
    let _ = std::fs::remove_dir_all(&attacker_state);

    // 4. Root on the same host reads the generated token: the CLI just works.
    let status = Command::new(BIN)
        .arg("--state-dir")
        .arg(&d.state_dir)
        .args(["runs", "--daemon", &d.url])
        .env_remove("FAULTDRILL_TOKEN")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));

    assert!(!marker.exists(), "the command ran: {}", std::fs::read_to_string(&marker).unwrap_or_default());
}

#[tokio::test]
async fn an_operator_token_cannot_run_commands_under_the_default_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon_with_roles(dir.path(), None);
    let marker = dir.path().join("pwned");
    let resp = http()
        .post(format!("{}/v1/runs", d.url))
        .bearer_auth(OPERATOR)
        .json(&json!({"experiment": exploit(&marker)}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden));
    assert!(
        body.error.contains("probe pwn: a `command` source (`sh`) would run as this daemon's user"),
        "{}",
        body.error
    );
    assert!(body.error.contains("refused by the default policy (`command_probes`)"), "{}", body.error);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!marker.exists(), "the command ran");
    assert!(d.client().runs().await.unwrap().is_empty(), "no run was started");
}

#[tokio::test]
async fn a_viewer_reads_runs_and_reports_but_cannot_change_anything() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon_with_roles(dir.path(), None);
    for path in ["/v1/runs", "/v1/injections", "/metrics", "/v1/host/metrics"] {
        let resp = http().get(format!("{}{path}", d.url)).bearer_auth(VIEWER).send().await.unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
    }
    let fill = dir.path().join("fill");
    std::fs::create_dir(&fill).unwrap();
    let inject =
        json!({"fault": "disk-fill", "params": {"path": fill, "size": "1MiB"}, "duration": "30s", "lease": "15s"});
    let resp = http().post(format!("{}/v1/injections", d.url)).bearer_auth(VIEWER).json(&inject).send().await.unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden));
    assert_eq!(body.error, "POST /v1/injections: the token `dash` has the role viewer, and this needs operator");
    assert!(list_dir(&fill).is_empty(), "nothing was filled");
    // The audit trail is for admins only.
    for token in [VIEWER, OPERATOR] {
        let resp = http().get(format!("{}/v1/audit", d.url)).bearer_auth(token).send().await.unwrap();
        assert_eq!(resp.status(), 403);
    }
}

#[tokio::test]
async fn a_policy_that_confines_disk_fill_refuses_a_fill_of_root_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir(&drills).unwrap();
    let policy =
        format!("version: 1\n# Fills only where drills may write.\ndisk_fill:\n  paths: [{}]\n", drills.display());
    let d = daemon_with_roles(dir.path(), Some(&policy));
    let inject = |path: &Path| json!({"fault": "disk-fill", "params": {"path": path, "size": "1MiB"}, "duration": "30s", "lease": "15s"});
    let resp = http()
        .post(format!("{}/v1/injections", d.url))
        .bearer_auth(OPERATOR)
        .json(&inject(Path::new("/")))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden));
    let policy_file = dir.path().join("policy.yaml");
    assert_eq!(
        body.error,
        format!(
            "disk-fill of `/` is not under {}: refused by the policy rule `disk_fill.paths` at {}:4",
            drills.display(),
            policy_file.display()
        )
    );
    assert!(d.journal().live().unwrap().is_empty(), "nothing was injected");
    // The same fill inside the allowed directory goes through.
    let resp = http()
        .post(format!("{}/v1/injections", d.url))
        .bearer_auth(OPERATOR)
        .json(&inject(&drills))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // A submitted experiment is judged the same way, before anything starts.
    let experiment = "version: 1\nname: fill-root\naction_groups:\n  - name: g\n    target: local\n    actions:\n      - fault: disk-fill\n        params: {path: /, size: 1MiB}\n        duration: 5s\n";
    let resp = http()
        .post(format!("{}/v1/runs", d.url))
        .bearer_auth(OPERATOR)
        .json(&json!({"experiment": experiment}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!(status, 403);
    assert!(body.error.starts_with("action g/disk-fill#1: disk-fill of `/`"), "{}", body.error);
}

#[tokio::test]
async fn a_policy_confines_io_faults_to_its_paths_and_dns_fault_upstreams_to_its_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let policy =
        format!("version: 1\nio_fault:\n  paths: [{}]\nprobes:\n  destinations: [127.0.0.0/8]\n", data.display());
    let d = daemon_with_roles(dir.path(), Some(&policy));
    let policy_file = dir.path().join("policy.yaml");
    let post = |body: serde_json::Value| {
        http().post(format!("{}/v1/injections", d.url)).bearer_auth(OPERATOR).json(&body).send()
    };
    // An operator token may not make root slow down or fail the I/O of a directory the policy does not list.
    let io =
        json!({"fault": "io-error", "params": {"path": "/etc", "errno": "EIO"}, "duration": "30s", "lease": "15s"});
    let (status, body) = error_of(post(io).await.unwrap()).await;
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden));
    assert_eq!(
        body.error,
        format!(
            "io-error of `/etc` is not under {}: refused by the policy rule `io_fault.paths` at {}:3",
            data.display(),
            policy_file.display()
        )
    );
    // Nor point the resolver it runs as root at an address the policy does not list.
    let dns = json!({"fault": "dns-fault", "params": {"names": ["x.test"], "effect": "nxdomain", "upstream": "192.0.2.53"},
                     "duration": "30s", "lease": "15s"});
    let (status, body) = error_of(post(dns).await.unwrap()).await;
    assert_eq!((status, body.kind), (403, ErrorKind::Forbidden));
    assert!(
        body.error.starts_with("dns-fault upstream `192.0.2.53` (192.0.2.53) is not among the allowed destinations"),
        "{}",
        body.error
    );
    assert!(d.journal().live().unwrap().is_empty(), "nothing was injected");
}

/// While an exec command runs, the daemon records it under `<state>/running/` (a kill -9 of
/// the daemon leaves the record, and the next start kills the command before the rollback).
/// A record names a process group root will kill: a local account must neither read one nor
/// plant one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_user_can_neither_read_nor_plant_a_running_command_record() {
    let attacker = TestUser::create("rec");
    let dir = tempfile::tempdir().unwrap();
    let sh = ["/usr/bin/sh", "/bin/sh"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let rm = ["/usr/bin/rm", "/bin/rm"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let d = daemon_with_roles(dir.path(), Some(&format!("version: 1\nexec:\n  commands: [{sh}, {rm}]\n")));
    let body = json!({
        "fault": "exec",
        "params": {"inject": [sh, "-c", "sleep 3"], "rollback": [rm, "-f", "/nonexistent-fd-record-test"]},
        "duration": "1s",
        "lease": "15s",
    });
    let url = format!("{}/v1/injections", d.url);
    let inject = tokio::spawn(async move { http().post(url).bearer_auth(OPERATOR).json(&body).send().await });
    let running = d.state_dir.join("running");
    let record = harness::wait_for(Duration::from_secs(10), "the inject's record", || {
        std::fs::read_dir(&running).ok()?.flatten().map(|e| e.path()).find(|p| p.extension() == Some("json".as_ref()))
    });
    assert_eq!(std::fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);

    let read = attacker.run("cat", &[record.to_str().unwrap()]);
    assert!(!read.status.success(), "the attacker read a running-command record");
    let planted = running.join("i-planted.json");
    let plant = attacker.run("sh", &["-c", &format!("echo '{{}}' > {}", planted.display())]);
    assert!(!plant.status.success(), "the attacker wrote into the daemon's running/ directory");
    assert!(
        String::from_utf8_lossy(&plant.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&plant.stderr)
    );
    assert!(!planted.exists());
    assert_eq!(inject.await.unwrap().unwrap().status(), 201, "the operator's inject went through");
}

#[tokio::test]
async fn the_audit_trail_lists_a_scripted_session_in_order_with_actors_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon_with_roles(dir.path(), None);
    let fill = dir.path().join("fill");
    std::fs::create_dir(&fill).unwrap();
    let url = format!("{}/v1/injections", d.url);
    let inject =
        json!({"fault": "disk-fill", "params": {"path": fill, "size": "1MiB"}, "duration": "30s", "lease": "15s"});
    // 1. no token; 2. viewer; 3. operator injects; 4. operator rolls back.
    assert_eq!(http().post(&url).json(&inject).send().await.unwrap().status(), 401);
    assert_eq!(http().post(&url).bearer_auth(VIEWER).json(&inject).send().await.unwrap().status(), 403);
    let made: serde_json::Value =
        http().post(&url).bearer_auth(OPERATOR).json(&inject).send().await.unwrap().json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    let deleted = http().delete(format!("{url}/{id}")).bearer_auth(OPERATOR).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    // Reads are not audited; the trail keeps the four calls, oldest first.
    let trail: Vec<AuditEntry> =
        http().get(format!("{}/v1/audit", d.url)).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap();
    let rows: Vec<(&str, &str, &str, u16)> =
        trail.iter().map(|r| (r.actor.as_str(), r.method.as_str(), r.path.as_str(), r.status)).collect();
    let delete_path = format!("/v1/injections/{id}");
    assert_eq!(
        rows,
        [
            ("-", "POST", "/v1/injections", 401),
            ("dash", "POST", "/v1/injections", 403),
            ("ci", "POST", "/v1/injections", 201),
            ("ci", "DELETE", delete_path.as_str(), 200),
        ]
    );
    assert_eq!(trail[2].target.as_deref(), Some(id.as_str()));
    assert_eq!(trail[2].message.as_deref(), Some("disk-fill for 30s"));
    assert!(trail.iter().all(|r| r.peer == "127.0.0.1"));
    // `faultdrill audit` reads the same trail from the state dir, after a restart too.
    let mut d = d;
    d.kill9();
    let out = Command::new(BIN).arg("--state-dir").arg(&d.state_dir).args(["audit", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Vec<AuditEntry> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, trail);
    let text = String::from_utf8(std::fs::read(d.state_dir.join("audit.db")).unwrap_or_default()).unwrap_or_default();
    for secret in [ADMIN, OPERATOR, VIEWER] {
        assert!(!text.contains(secret), "the audit trail holds a secret");
    }
    assert_eq!(std::fs::metadata(d.state_dir.join("audit.db")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_the_first_inject_over_the_cap_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon_with_roles(dir.path(), Some("version: 1\nlimits: {injections: 1}\n"));
    let big = "x".repeat(3 * 1024 * 1024);
    let resp = http()
        .post(format!("{}/v1/runs", d.url))
        .bearer_auth(OPERATOR)
        .json(&json!({"experiment": big}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(resp).await;
    assert_eq!((status, body.kind), (413, ErrorKind::TooLarge));
    let fill = dir.path().join("fill");
    std::fs::create_dir(&fill).unwrap();
    let cpu = json!({"fault": "cpu-burn", "params": {"percent": 1, "cores": 1}, "duration": "30s", "lease": "15s"});
    let disk =
        json!({"fault": "disk-fill", "params": {"path": fill, "size": "1MiB"}, "duration": "30s", "lease": "15s"});
    let url = format!("{}/v1/injections", d.url);
    assert_eq!(http().post(&url).bearer_auth(OPERATOR).json(&cpu).send().await.unwrap().status(), 201);
    let (status, body) = error_of(http().post(&url).bearer_auth(OPERATOR).json(&disk).send().await.unwrap()).await;
    assert_eq!((status, body.kind), (429, ErrorKind::TooMany));
    assert!(body.error.contains("its limit (`limits.injections`) is 1"), "{}", body.error);
    assert!(list_dir(&fill).is_empty());
}

#[test]
fn a_client_sending_one_header_byte_per_second_is_cut_off() {
    let d = Daemon::start(DaemonSpec::default());
    let addr = d.url.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_after = None;
    for byte in request.iter().take(30) {
        if sock.write_all(&[*byte]).is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        // A closed connection shows on read: poll without blocking long.
        sock.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
        let mut buf = [0u8; 64];
        match sock.read(&mut buf) {
            Ok(0) => {
                cut_after = Some(started.elapsed());
                break;
            }
            Ok(_) => {
                cut_after = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
    }
    let cut = cut_after.expect("the slow client was never cut off");
    assert!(cut <= Duration::from_secs(13), "cut off after {cut:?}");
    // The daemon still answers everyone else.
    let mut other = std::net::TcpStream::connect(&addr).unwrap();
    other.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_world_writable_state_dir_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env_remove("FAULTDRILL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: use the state dir {0}: it is writable by every account (mode 777), so another account could replace \
             the journal or the token; fix it with `chmod 700 {0}`",
            state.display()
        )
    );
    assert!(out.stdout.is_empty(), "it must not have listened");
    assert!(!state.join("token").exists(), "no token was written");
}
