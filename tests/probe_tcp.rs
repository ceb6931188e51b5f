//! Must show (issue 12, item 6): a `tcp` probe measures the connect time to a real
//! listener (and passes `latency: "< 100ms"`), and a closed port is a failed sample that
//! stops the run before anything is injected (exit 5, not steady before); a `tcp` guardrail
//! on a closed port trips and rolls back (exit 2).

mod run_common;

use run_common::{experiment, faultdrill, root_or_skip};

fn tcp_probe(address: &str, fill_dir: &std::path::Path) -> String {
    format!(
        r#"version: 1
name: tcp-probe
steady_state:
  interval: 200ms
  check: [before, after]
  probes:
    - name: db-port
      tcp: {{address: "{address}", timeout: 1s}}
      expect: {{latency: "< 100ms"}}
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB, allow_memory_backed: true}}
        duration: 1s
"#,
        fill_dir.display()
    )
}

fn run(yaml: &str) -> (Option<i32>, serde_json::Value, String) {
    let state = tempfile::tempdir().unwrap();
    let file = experiment(state.path(), "tcp.yaml", yaml);
    let output = faultdrill(state.path()).arg("run").arg(&file).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}; stderr:\n{stderr}"));
    (output.status.code(), report, stderr)
}

fn samples(report: &serde_json::Value) -> Vec<serde_json::Value> {
    let timeline = report["timeline"].as_array().unwrap();
    timeline.iter().filter(|e| e["event"]["probe"] == "db-port").map(|e| e["event"].clone()).collect()
}

#[test]
fn a_tcp_probe_measures_the_connect_time_of_a_real_listener() {
    if !root_or_skip("a_tcp_probe_measures_the_connect_time_of_a_real_listener") {
        return;
    }
    // The kernel completes the handshake from the backlog: nobody needs to call accept.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let fill = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run(&tcp_probe(&address, fill.path()));
    assert_eq!(code, Some(0), "passed; stderr:\n{stderr}");
    let seen = samples(&report);
    assert!(!seen.is_empty(), "the probe was sampled: {report}");
    for s in &seen {
        let latency = s["sample"]["latency_ms"].as_f64().unwrap_or_else(|| panic!("a connect time: {s}"));
        assert!((0.0..100.0).contains(&latency), "{s}");
    }
    drop(listener);
}

#[test]
fn a_closed_port_fails_the_tcp_probe_before_anything_is_injected() {
    if !root_or_skip("a_closed_port_fails_the_tcp_probe_before_anything_is_injected") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let fill = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run(&tcp_probe(&address, fill.path()));
    assert_eq!(code, Some(5), "not steady before; stderr:\n{stderr}");
    assert_eq!(report["outcome"], "not_steady_before");
    let seen = samples(&report);
    let failed = seen.iter().find(|s| s["sample"]["error"].is_string()).unwrap_or_else(|| panic!("{seen:?}"));
    let error = failed["sample"]["error"].as_str().unwrap();
    assert!(error.contains(&format!("tcp {address}: connection failed")), "{error}");
    assert!(failed["sample"]["latency_ms"].is_null(), "a failed connect has no latency: {failed}");
    assert_eq!(std::fs::read_dir(fill.path()).unwrap().count(), 0, "nothing was injected");
}

/// A `tcp` guardrail on a port nobody listens on: each connect fails (unmeasured, which
/// counts as a breach by default), so it trips after `for: 2` and rolls the fill back.
#[test]
fn a_tcp_guardrail_on_a_closed_port_trips_and_rolls_back() {
    if !root_or_skip("a_tcp_guardrail_on_a_closed_port_trips_and_rolls_back") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let fill = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"version: 1
name: tcp-guardrail
guardrails:
  interval: 200ms
  rules:
    - name: db-connect
      tcp: {{address: "{address}", timeout: 500ms}}
      breach: "> 250ms"
      for: 2
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB, allow_memory_backed: true}}
        duration: 30s
"#,
        fill.path().display()
    );
    let (code, report, stderr) = run(&yaml);
    assert_eq!(code, Some(2), "the guardrail tripped; stderr:\n{stderr}");
    assert_eq!(report["outcome"], "guardrail_tripped");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["reason"], "guardrail db-connect tripped");
    assert_eq!(std::fs::read_dir(fill.path()).unwrap().count(), 0, "the fill file is gone");
}
