//! Regression tests for the daemon findings of the security audit: each performs the
//! attack against a real daemon and asserts the refusal or the safe outcome.

#[path = "common/daemon.rs"]
mod harness;
#[path = "common/daemon_netns.rs"]
mod net;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faultdrill::client::wire::{ErrorBody, ErrorKind};
use faultdrill::journal::InjectionState;
use harness::{BIN, Daemon, DaemonSpec, list_dir, wait_for};
use serde_json::json;

fn http() -> reqwest::Client {
    faultdrill::client::install_crypto_provider();
    reqwest::Client::new()
}

async fn post(d: &Daemon, path: &str, body: serde_json::Value) -> (u16, String) {
    let resp = http()
        .post(format!("{}{path}", d.url))
        .bearer_auth(d.spec.token.as_deref().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn error(text: &str) -> ErrorBody {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an error body ({e}): {text}"))
}

fn run_body(probe: &str) -> serde_json::Value {
    json!({"experiment": format!(
        "version: 1\nname: probe-abuse\nsteady_state:\n  probes:\n{probe}\naction_groups:\n  - name: g\n    target: local\n    actions:\n      - fault: cpu-burn\n        params: {{percent: 1, cores: 1}}\n        duration: 1s\n"
    )})
}

/// One raw HTTP/1.1 request on a fresh connection; the status line's code.
fn raw_status(addr: &str, request: &str) -> Option<u16> {
    let mut sock = TcpStream::connect(addr).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    sock.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = sock.read_to_string(&mut answer);
    answer.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn finding_3_probes_cannot_reach_metadata_addresses_and_reports_never_echo_a_secret() {
    let d = Daemon::start(DaemonSpec::default());
    for url in ["http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://[fd00:ec2::254]/"] {
        let probe = format!("    - name: steal\n      http: {{url: \"{url}\"}}\n      expect: {{status: 200}}");
        let (status, text) = post(&d, "/v1/runs", run_body(&probe)).await;
        let body = error(&text);
        assert_eq!((status, body.kind), (403, ErrorKind::Forbidden), "{url}");
        assert!(body.error.contains("a link-local or cloud-metadata address"), "{}", body.error);
    }
    // A secret served on loopback: a failing jsonpath check must not copy it into the report.
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = format!("{{\"key\": \"{secret}\"}}");
                let answer =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    let probe = format!(
        "    - name: leak\n      http: {{url: \"http://{addr}/secret\"}}\n      expect: {{jsonpath: {{path: $.key, equals: nope}}}}"
    );
    let (status, text) = post(&d, "/v1/runs", run_body(&probe)).await;
    assert_eq!(status, 201, "{text}");
    let run_id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["run_id"].as_str().unwrap().to_string();
    let client = d.client();
    let id = faultdrill::ids::RunId::from_string(&run_id);
    let done = loop {
        let s = client.run(&id).await.unwrap();
        if s.outcome.is_some() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let report = serde_json::to_string(&done).unwrap();
    assert!(report.contains("$.key is \\\"wJa…\\\" (a string of 40 characters)"), "{report}");
    assert!(!report.contains(secret), "the report copied the secret");
}

#[tokio::test]
async fn finding_4_a_probe_cannot_send_the_daemons_secrets() {
    let d = Daemon::start(DaemonSpec::default());
    for var in ["FAULTDRILL_TOKEN", "AWS_SECRET_ACCESS_KEY", "HOME"] {
        let probe = format!(
            "    - name: exfil\n      prometheus: {{url: \"http://127.0.0.1:9/\", query: up, bearer_token_env: {var}}}\n      expect: {{value: \">= 0\"}}"
        );
        let (status, text) = post(&d, "/v1/runs", run_body(&probe)).await;
        let body = error(&text);
        assert_eq!((status, body.kind), (403, ErrorKind::Forbidden), "{var}");
        assert!(body.error.contains(&format!("`{var}` may not be sent to http://127.0.0.1:9/")), "{}", body.error);
    }
    assert!(d.client().runs().await.unwrap().is_empty(), "no run started");
}

#[tokio::test]
async fn finding_5_the_proxy_cannot_open_a_privileged_port_or_relay_to_metadata() {
    let d = Daemon::start(DaemonSpec::default());
    let proxy = |listen: &str, upstream: &str| json!({"fault": "tcp-proxy-latency", "params": {"listen": listen, "upstream": upstream, "latency": "10ms"}, "duration": "30s", "lease": "15s"});
    let (status, text) = post(&d, "/v1/injections", proxy("0.0.0.0:81", "127.0.0.1:22")).await;
    let body = error(&text);
    assert_eq!(status, 403);
    assert!(
        body.error.contains("privileged port") && body.error.contains("tcp_proxy.privileged_ports"),
        "{}",
        body.error
    );
    let (status, text) = post(&d, "/v1/injections", proxy("127.0.0.1:18081", "169.254.169.254:80")).await;
    assert_eq!(status, 403, "{text}");
    assert!(error(&text).error.contains("upstream `169.254.169.254:80`"), "{text}");
    assert!(d.journal().live().unwrap().is_empty(), "nothing was injected");
    assert!(TcpStream::connect("127.0.0.1:18081").is_err(), "no proxy listens");
}

#[tokio::test]
async fn finding_11_and_12_huge_durations_and_traversing_ids_are_refused_cleanly() {
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let fill = |duration: &str, lease: &str| json!({"fault": "disk-fill", "params": {"path": dir.path(), "size": "1MiB"}, "duration": duration, "lease": lease});
    let (status, text) = post(&d, "/v1/injections", fill("500000000000years", "15s")).await;
    assert!((400..500).contains(&status), "{status} {text}");
    let (status, text) = post(&d, "/v1/injections", fill("100years", "15s")).await;
    assert_eq!(status, 422, "{text}");
    assert!(error(&text).error.contains("is longer than 24h"), "{text}");
    // Under the built-in limit, the policy's own maximum applies (403, naming the rule).
    let strict = tempfile::tempdir().unwrap();
    let policy = strict.path().join("policy.yaml");
    std::fs::write(&policy, "version: 1\nmax_duration: 10m\n").unwrap();
    let confined = Daemon::start(DaemonSpec { policy: Some(policy.clone()), ..DaemonSpec::default() });
    let (status, text) = post(&confined, "/v1/injections", fill("1h", "15s")).await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(
        error(&text).error,
        format!(
            "`disk-fill` held for 1h is longer than 10m: refused by the policy rule `max_duration` at {}:2",
            policy.display()
        )
    );
    let (status, text) = post(&d, "/v1/injections", fill("30s", "500000000000years")).await;
    assert!((400..500).contains(&status), "{status} {text}");
    assert!(list_dir(dir.path()).is_empty());
    // Ids are checked against their format before any lookup.
    let addr = d.url.trim_start_matches("http://").to_string();
    let token = d.spec.token.clone().unwrap();
    for path in ["/v1/runs/..%2F..%2Felsewhere%2Fx", "/v1/runs/r-..%2Fx", "/v1/injections/..%2Fjournal.db"] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
        assert_eq!(raw_status(&addr, &request), Some(400), "{path}");
    }
    // The daemon is still up.
    assert_eq!(d.client().health().await.unwrap().status, "ok");
}

#[test]
fn finding_2_a_connection_flood_is_cut_off_while_real_calls_still_succeed() {
    // The test itself needs a descriptor per flood connection.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard.min(65536), hard).unwrap();
    let d = Daemon::start(DaemonSpec::default());
    let target: SocketAddr = d.url.trim_start_matches("http://").parse().unwrap();
    // 3000 connections from another loopback address, each sending half a request.
    let from: SocketAddr = "127.0.0.2:0".parse().unwrap();
    let mut flood = Vec::new();
    for _ in 0..3000 {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&from.into()).unwrap();
        if sock.connect_timeout(&target.into(), Duration::from_secs(2)).is_err() {
            continue;
        }
        let mut stream: TcpStream = sock.into();
        let _ = stream.write_all(b"GET /v1/health HTTP/1.1\r\n");
        flood.push(stream);
    }
    // During the flood, an authenticated call from another address succeeds.
    let addr = target.to_string();
    let token = d.spec.token.clone().unwrap();
    let request =
        format!("GET /v1/injections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_status(&addr, &request), Some(200));
    // The daemon holds at most its per-peer share of the flood open.
    let open = std::fs::read_dir(format!("/proc/{}/fd", d.pid())).unwrap().count();
    assert!(open < 400, "the daemon holds {open} descriptors");
    let metrics =
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    let mut sock = TcpStream::connect(&addr).unwrap();
    sock.write_all(metrics.as_bytes()).unwrap();
    let mut text = String::new();
    sock.read_to_string(&mut text).unwrap();
    let refused: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("faultdrill_connections_refused_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the refused-connections counter");
    assert!(refused >= 2000.0, "refused {refused}");
    drop(flood);
}

#[test]
fn finding_2_a_rollback_that_failed_is_retried_until_the_cause_is_gone() {
    harness::is_root().then_some(()).expect("this test needs root (CI runs as root)");
    let d = Daemon::start(DaemonSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let fill_dir = dir.path().join("fill");
    std::fs::create_dir(&fill_dir).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let req = faultdrill::client::wire::InjectionRequest {
        fault: "disk-fill".into(),
        params: serde_json::from_value(json!({"path": fill_dir, "size": "1MiB"})).unwrap(),
        duration: "1s".into(),
        lease: Some("30s".into()),
        run: None,
        dry_run: false,
    };
    let injection = rt.block_on(d.client().inject(&req)).unwrap();
    // The cause: the directory becomes read-only, so the fill file cannot be deleted.
    let bind = |args: &[&str]| {
        let out = Command::new("mount").args(args).output().unwrap();
        assert!(out.status.success(), "mount {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let path = fill_dir.to_str().unwrap();
    bind(&["--bind", path, path]);
    bind(&["-o", "remount,bind,ro", path]);
    let failed = wait_for(Duration::from_secs(5), "the rollback to fail", || {
        d.journal().get(&injection.id).unwrap().filter(|r| r.state == InjectionState::Failed)
    });
    assert!(failed.note.as_deref().unwrap_or_default().contains("rollback failed"), "{:?}", failed.note);
    assert_eq!(list_dir(&fill_dir).len(), 1, "the fill file is still there");
    // A failed rollback is still live: `recover` would see it, and the reaper retries it.
    assert!(d.journal().live().unwrap().iter().any(|r| r.id == injection.id));
    std::thread::sleep(Duration::from_millis(1500));
    // The cause goes away: the next retry succeeds.
    let out = Command::new("umount").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let started = Instant::now();
    let rolled = wait_for(Duration::from_secs(10), "the retried rollback", || {
        d.journal().get(&injection.id).unwrap().filter(|r| r.state == InjectionState::RolledBack)
    });
    assert_eq!(rolled.note.as_deref(), Some("rolled back: retrying a rollback that failed"));
    assert!(list_dir(&fill_dir).is_empty(), "the fill file is gone");
    eprintln!("retried and rolled back {:?} after the cause went away", started.elapsed());
}

#[test]
fn finding_6_a_partition_from_an_ipv4_controller_onto_a_dual_stack_daemon_spares_the_controller() {
    harness::is_root().then_some(()).expect("this test needs root (CI runs as root)");
    // h0: the daemon on [::]:7878; h1: the controller; h2: another host.
    let net = net::Net::new(3);
    let daemon = Daemon::start(DaemonSpec {
        listen: "[::]:7878".into(),
        netns: Some(net.hosts[0].clone()),
        ..DaemonSpec::default()
    });
    let daemon_url = format!("http://{}:7878", net::Net::addr(0));
    // A service on the daemon's host, on another port.
    let mut service = Command::new("ip")
        .args(["netns", "exec", &net.hosts[0], "python3", "-m", "http.server", "9999", "--bind", "0.0.0.0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let service_url = format!("http://{}:9999/", net::Net::addr(0));
    let reaches_url = |ns: &str, url: &str| {
        Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", "1", url])
            .status()
            .is_ok_and(|s| s.success())
    };
    let reaches = |ns: &str| reaches_url(ns, &service_url);
    // Any HTTP answer (401 without a token) proves the daemon's port is reachable.
    let daemon_answers = |ns: &str| reaches_url(ns, &format!("{daemon_url}/v1/injections"));
    wait_for(Duration::from_secs(10), "the service", || reaches(&net.hosts[1]).then_some(()));
    let before = Command::new("ip").args(["netns", "exec", &net.hosts[0], "nft", "list", "ruleset"]).output().unwrap();
    // The controller injects a partition of everything through the daemon, and holds it.
    let work = tempfile::tempdir().unwrap();
    let mut inject = Command::new("ip")
        .args(["netns", "exec", &net.hosts[1], BIN, "--state-dir"])
        .arg(work.path())
        .args(["inject", "network-partition", "--duration", "60s", "--lease", "15s", "--daemon", &daemon_url])
        .env("FAULTDRILL_TOKEN", daemon.spec.token.as_deref().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(10), "the partition", || {
        daemon.journal().live().unwrap().iter().any(|r| r.state == InjectionState::Active).then_some(())
    });
    // Real traffic: the controller still reaches the daemon's port (DESIGN §4 rule 6: the
    // control channel, that pair only); its other traffic and every other host are cut off.
    assert!(daemon_answers(&net.hosts[1]), "the controller lost the daemon");
    assert!(!reaches(&net.hosts[1]), "the controller's path to another port was spared too");
    assert!(!daemon_answers(&net.hosts[2]), "another host still reaches the daemon's port");
    assert!(!reaches(&net.hosts[2]), "the partition did not apply to other hosts");
    // Ctrl-C on the controller rolls back; the ruleset is as it was.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(inject.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = inject.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let after = Command::new("ip").args(["netns", "exec", &net.hosts[0], "nft", "list", "ruleset"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&after.stdout), String::from_utf8_lossy(&before.stdout));
    assert!(reaches(&net.hosts[2]));
    let _ = service.kill();
    let _ = service.wait();
    drop(daemon);
}

#[tokio::test]
async fn finding_9_an_abusive_run_keeps_the_daemon_under_its_memory_bound() {
    let d = Daemon::start(DaemonSpec::default());
    // Probes faster than 100ms are refused at validation.
    let fast = "    - name: fast\n      metric: {host: load1}\n      expect: {value: \">= 0\"}";
    let mut body = run_body(fast);
    body["experiment"] =
        json!(body["experiment"].as_str().unwrap().replace("steady_state:\n", "steady_state:\n  interval: 10ms\n"));
    let (status, text) = post(&d, "/v1/runs", body).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("shorter than the minimum of 100ms"), "{text}");
    // 20 probes at the minimum interval for 8 s, followed by 30 clients that never read.
    let probes: Vec<String> = (0..20)
        .map(|i| format!("    - name: p{i}\n      metric: {{host: cpu_percent}}\n      expect: {{value: \">= 0\"}}"))
        .collect();
    let experiment = format!(
        "version: 1\nname: abuse\nsteady_state:\n  interval: 100ms\n  probes:\n{}\naction_groups:\n  - name: g\n    target: local\n    actions:\n      - fault: cpu-burn\n        params: {{percent: 1, cores: 1}}\n        duration: 8s\n",
        probes.join("\n")
    );
    let (status, text) = post(&d, "/v1/runs", json!({"experiment": experiment})).await;
    assert_eq!(status, 201, "{text}");
    let run_id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["run_id"].as_str().unwrap().to_string();
    let addr = d.url.trim_start_matches("http://").to_string();
    let token = d.spec.token.clone().unwrap();
    let mut followers = Vec::new();
    for _ in 0..30 {
        let mut sock = TcpStream::connect(&addr).unwrap();
        let req = format!("GET /v1/runs/{run_id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
        sock.write_all(req.as_bytes()).unwrap();
        followers.push(sock);
    }
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap()
            .trim()
            .trim_end_matches(" kB")
            .parse::<u64>()
            .unwrap()
    };
    let mut peak = 0;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        peak = peak.max(rss());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("daemon peak RSS during the abusive run: {} MiB", peak / 1024);
    assert!(peak < 96 * 1024, "peak RSS {} MiB", peak / 1024);
    // One more follower than the cap is refused.
    drop(followers);
}
