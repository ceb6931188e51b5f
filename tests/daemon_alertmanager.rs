//! An existing alerting setup stops a drill: an Alertmanager-format webhook POST to a real
//! daemon trips the named guardrail of the run it is executing.

#[path = "common/daemon.rs"]
mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{BIN, Daemon, DaemonSpec, wait_for};

/// Alertmanager's webhook body (version 4), as it POSTs it.
fn webhook(status: &str, labels: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighErrorRate\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "faultdrill",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "error rate above budget"},
        "externalURL": "http://alertmanager.invalid:9093",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": {"summary": "error rate above budget"},
            "startsAt": "2026-11-24T05:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.invalid/graph",
            "fingerprint": "c0ffee"
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_webhook_trips_the_named_guardrail_of_a_running_run() {
    let daemon = Daemon::start(DaemonSpec::default());
    let token = daemon.spec.token.clone().unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("alerted.yaml");
    std::fs::write(
        &file,
        r#"version: 1
name: alert-stops-drill
guardrails:
  interval: 200ms
  rules:
    - name: error-budget
      metric: {host: load1}
      breach: ">= 100000"
action_groups:
  - name: burn
    target: local
    actions:
      - fault: cpu-burn
        params: {percent: 10, cores: 1}
        duration: 60s
"#,
    )
    .unwrap();
    let mut run = Command::new(BIN)
        .arg("--state-dir")
        .arg(work.path().join("controller"))
        .arg("run")
        .arg(&file)
        .args(["--daemon", &daemon.url, "--json"])
        .env("FAULTDRILL_TOKEN", &token)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = faultdrill::probe::probe_client();
    let post = |body: serde_json::Value| {
        client.post(format!("{}/v1/alertmanager", daemon.url)).bearer_auth(&token).json(&body).send()
    };
    let live = || {
        let journal = daemon.journal();
        journal.live().unwrap().into_iter().find(|i| i.fault == "cpu-burn").map(|i| i.id)
    };
    let injection = wait_for(Duration::from_secs(30), "the run to inject its burn", live);

    // Without a token the receiver is closed like every other endpoint.
    let anonymous = client
        .post(format!("{}/v1/alertmanager", daemon.url))
        .json(&webhook("firing", serde_json::json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A resolved alert, and a firing one without the guardrail label, trip nothing.
    let quiet = post(webhook(
        "resolved",
        serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"}),
    ))
    .await
    .unwrap();
    assert_eq!(quiet.status(), 200);
    let quiet: serde_json::Value = quiet.json().await.unwrap();
    assert_eq!(quiet["tripped"].as_array().unwrap().len(), 0, "{quiet}");
    let unlabelled: serde_json::Value =
        post(webhook("firing", serde_json::json!({"alertname": "DiskFull"}))).await.unwrap().json().await.unwrap();
    assert!(unlabelled["ignored"][0]["why"].as_str().unwrap().contains("faultdrill_guardrail"), "{unlabelled}");
    assert!(run.try_wait().unwrap().is_none(), "nothing stopped the run yet");

    let started = Instant::now();
    let fired = post(webhook(
        "firing",
        serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"}),
    ))
    .await
    .unwrap();
    assert_eq!(fired.status(), 200);
    let fired: serde_json::Value = fired.json().await.unwrap();
    assert_eq!(fired["tripped"][0]["guardrail"], "error-budget", "{fired}");

    let output = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(15));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let trip =
        report["timeline"].as_array().unwrap().iter().find(|e| e["event"]["kind"] == "guardrail_tripped").unwrap();
    assert_eq!(trip["event"]["guardrail"], "error-budget");
    assert_eq!(trip["event"]["source"], "external");
    assert!(trip["event"]["message"].as_str().unwrap().contains("HighErrorRate"), "{trip}");
    let journal = daemon.journal();
    let record = journal.get(&injection).unwrap().unwrap();
    assert_eq!(record.state, faultdrill::journal::InjectionState::RolledBack, "{record:?}");
}
