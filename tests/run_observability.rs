//! Steady state and guardrails from real monitoring, end to end through the real binary:
//! an HTTP probe watching a real server that a process-kill takes down (deviation, exit 1,
//! JUnit read by junitparser), a guardrail tripped from outside with `faultdrill trip`,
//! and a guardrail on a PromQL query against a real Prometheus (trip, exit 2).

mod observe_common;
mod run_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use observe_common::{
    Gauge, artifact, dom_without_console_messages, free_port, junit_cases, query_value, serve_exporter,
    start_prometheus,
};
use run_common::{Owned, experiment, faultdrill, log, pids_with_cmdline, spawn_logged, wait_exit, wait_until};

/// A real HTTP server (python3 -m http.server) on a free loopback port, owned by the test.
fn http_server(dir: &std::path::Path) -> (Owned, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(up, "the test's HTTP server did not start");
    (Owned(child), port)
}

#[test]
fn killing_the_server_an_http_probe_watches_deviates_with_exit_1_and_a_junit_failure() {
    let work = tempfile::tempdir().unwrap();
    let (server, port) = http_server(work.path());
    let file = experiment(
        work.path(),
        "deviation.yaml",
        &format!(
            r#"version: 1
name: http-deviation
steady_state:
  interval: 300ms
  check: [before, during, after]
  probes:
    - name: web-up
      http: {{url: "http://127.0.0.1:{port}/", timeout: 1s}}
      expect: {{status: 200, latency: "< 2000ms"}}
action_groups:
  - name: crash
    target: local
    actions:
      - fault: process-kill
        params: {{pattern: "http\\.server {port} ", count: 1}}
        wait_after: 1s
"#
        ),
    );
    let junit = work.path().join("junit.xml");
    let out_dir = work.path().join("out");
    let out = faultdrill(work.path())
        .arg("run")
        .arg(&file)
        .arg("--junit")
        .arg(&junit)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "deviated: {stderr}");
    assert!(!pids_with_cmdline(&format!("http.server {port} ")).contains(&server.pid()), "the server was killed");

    let cases = junit_cases(&junit);
    assert!(cases.iter().any(|c| c == "steady-state|before: web-up|ok|"), "{cases:#?}");
    let failed = cases
        .iter()
        .find(|c| c.starts_with("steady-state|during: web-up|Failure|"))
        .unwrap_or_else(|| panic!("{cases:#?}"));
    // Killed mid-answer or before it: either way the probe names the URL it could not read.
    assert!(failed.contains(&format!("http://127.0.0.1:{port}/")), "{failed}");
    assert!(cases.iter().any(|c| c.starts_with("actions|crash/process-kill#1 on local|ok|")), "{cases:#?}");

    // The HTML written by --out opens cleanly in Chromium and draws the probe.
    let html = out_dir.join("report.html");
    let dom = dom_without_console_messages(&html);
    assert_eq!(dom.matches(r#"data-kind="probe""#).count(), 1);
    let _ = std::fs::copy(&html, artifact("report-http-deviation.html"));
}

/// The id of the only run in a fresh state dir, once it has started.
fn running_run_id(state: &std::path::Path) -> String {
    let runs = state.join("runs");
    let mut id = None;
    let found = wait_until(Duration::from_secs(20), || {
        id = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .filter(|e| e.path().join("control.sock").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned());
        id.is_some()
    });
    assert!(found, "no run appeared in {}", runs.display());
    id.unwrap()
}

#[test]
fn faultdrill_trip_stops_a_running_run_which_rolls_back_and_exits_2() {
    let work = tempfile::tempdir().unwrap();
    let file = experiment(
        work.path(),
        "trip.yaml",
        r#"version: 1
name: manual-trip
guardrails:
  interval: 200ms
  rules:
    - name: pager
      external: true
action_groups:
  - name: burn
    target: local
    actions:
      - fault: cpu-burn
        params: {percent: 20, cores: 1}
        duration: 60s
"#,
    );
    let mut run = spawn_logged(
        {
            let mut c = faultdrill(work.path());
            c.arg("run").arg(&file);
            c
        },
        work.path(),
    );
    let id = running_run_id(work.path());
    assert!(
        wait_until(Duration::from_secs(20), || log(work.path(), "stderr.log").contains("injected")),
        "{}",
        log(work.path(), "stderr.log")
    );

    let unknown = faultdrill(work.path()).args(["trip", &id, "no-such-guardrail"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("has no such guardrail (it has: pager)"));

    let started = Instant::now();
    let trip = faultdrill(work.path()).args(["trip", &id, "pager"]).output().unwrap();
    assert!(trip.status.success(), "{}", String::from_utf8_lossy(&trip.stderr));
    assert_eq!(wait_exit(&mut run, Duration::from_secs(20)), Some(2), "{}", log(work.path(), "stderr.log"));
    assert!(started.elapsed() < Duration::from_secs(10), "the trip stopped the run at once");
    let report_file = work.path().join("runs").join(&id).join("report.json");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report_file).unwrap()).unwrap();
    assert_eq!(report["outcome"], "guardrail_tripped");
    let injections = report["injections"].as_array().unwrap();
    assert_eq!(injections.len(), 1);
    let burner_tag = injections[0]["id"].as_str().unwrap();
    assert!(pids_with_cmdline(burner_tag).is_empty(), "the burner of {burner_tag} was stopped");
    assert!(!work.path().join("runs").join(&id).join("control.sock").exists(), "the control socket is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardrail_on_a_promql_query_trips_when_the_value_crosses_its_threshold() {
    let gauge = Gauge::new(10.0);
    let exporter = serve_exporter(gauge.clone()).await;
    let prometheus = start_prometheus(exporter).await;
    let query = "max(fd_test_gauge{shard=\"a\"})";
    let deadline = Instant::now() + Duration::from_secs(20);
    while query_value(&prometheus, query).await != Some(10.0) {
        assert!(Instant::now() < deadline, "prometheus never scraped the exporter");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let work = tempfile::tempdir().unwrap();
    let file = experiment(
        work.path(),
        "promql.yaml",
        &format!(
            r#"version: 1
name: promql-guardrail
guardrails:
  interval: 200ms
  rules:
    - name: error-budget
      prometheus: {{url: "{}", query: '{query}', timeout: 1s}}
      breach: ">= 90"
      for: 2
action_groups:
  - name: burn
    target: local
    actions:
      - fault: cpu-burn
        params: {{percent: 10, cores: 1}}
        duration: 60s
"#,
            prometheus.url
        ),
    );
    let mut cmd = faultdrill(work.path());
    cmd.arg("run").arg(&file).arg("--json");
    let mut run = spawn_logged(cmd, work.path());
    let injected = wait_until(Duration::from_secs(20), || log(work.path(), "stderr.log").contains("injected"));
    assert!(injected, "{}", log(work.path(), "stderr.log"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(run.0.try_wait().unwrap().is_none(), "below the threshold the run goes on");
    gauge.set(95.0);
    let started = Instant::now();
    let code = tokio::task::spawn_blocking(move || {
        let code = wait_exit(&mut run, Duration::from_secs(30));
        drop(run);
        code
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{}", log(work.path(), "stderr.log"));
    assert!(started.elapsed() < Duration::from_secs(15), "tripped within a few scrapes");
    let report: serde_json::Value = serde_json::from_str(&log(work.path(), "stdout.log")).unwrap();
    assert_eq!(report["outcome"], "guardrail_tripped");
    let trips: Vec<&serde_json::Value> =
        report["timeline"].as_array().unwrap().iter().filter(|e| e["event"]["kind"] == "guardrail_tripped").collect();
    assert_eq!(trips.len(), 1, "{trips:#?}");
    assert_eq!(trips[0]["event"]["guardrail"], "error-budget");
    assert!(report["rollbacks"].as_array().unwrap().iter().all(|r| r["ok"] == true));
}
