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

/// An experiment with guardrail `error-budget` (which never breaches by itself) holding a
/// light cpu burn for a minute.
fn guarded_experiment(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!(
            r#"version: 1
name: {name}
labels: {{team: payments}}
guardrails:
  interval: 200ms
  rules:
    - name: error-budget
      metric: {{host: load1}}
      breach: ">= 100000"
action_groups:
  - name: burn
    target: local
    actions:
      - fault: cpu-burn
        params: {{percent: 10, cores: 1}}
        duration: 60s
"#
        ),
    )
    .unwrap();
    file
}

/// `faultdrill run FILE --daemon URL --json`, started.
fn submit(daemon: &Daemon, work: &std::path::Path, file: &std::path::Path) -> std::process::Child {
    Command::new(BIN)
        .arg("--state-dir")
        .arg(work.join("controller"))
        .arg("run")
        .arg(file)
        .args(["--daemon", &daemon.url, "--json"])
        .env("FAULTDRILL_TOKEN", daemon.spec.token.as_deref().unwrap())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// POSTs a webhook; returns the status and the JSON answer.
async fn post(daemon: &Daemon, body: serde_json::Value) -> (u16, serde_json::Value) {
    let answer = faultdrill::probe::probe_client()
        .post(format!("{}/v1/alertmanager", daemon.url))
        .bearer_auth(daemon.spec.token.as_deref().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// Waits for a `cpu-burn` injection in the daemon's journal.
fn wait_for_burn(daemon: &Daemon) -> faultdrill::ids::InjectionId {
    wait_for(Duration::from_secs(30), "the run to inject its burn", || {
        daemon.journal().live().unwrap().into_iter().find(|i| i.fault == "cpu-burn").map(|i| i.id)
    })
}

/// The finished run's report (its JSON on stdout), after its exit code is checked.
async fn report_of(run: std::process::Child, code: i32) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(code), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_alert_is_logged_counted_answered_422_and_shown_in_the_runs_events() {
    let daemon = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    let run = submit(&daemon, work.path(), &guarded_experiment(work.path(), "ignored-alerts"));
    wait_for_burn(&daemon);

    // Each of these is meant for faultdrill, trips nothing, and says why.
    for (labels, reason) in [
        (serde_json::json!({"alertname": "Typo", "faultdrill_gaurdrail": "error-budget"}), "unknown_label"),
        (
            serde_json::json!({"alertname": "WrongRun", "faultdrill_guardrail": "error-budget", "faultdrill_run": "r-nosuchrun0"}),
            "unknown_run",
        ),
        (serde_json::json!({"alertname": "Missing", "faultdrill_guardrail": "latency-budget"}), "unknown_guardrail"),
        (
            serde_json::json!({"alertname": "OtherDrill", "faultdrill_guardrail": "error-budget", "faultdrill_experiment": "nope"}),
            "no_matching_run",
        ),
    ] {
        let (status, answer) = post(&daemon, webhook("firing", labels)).await;
        assert_eq!(status, 422, "{reason}: {answer}");
        assert_eq!(answer["ignored"][0]["reason"], reason, "{answer}");
        assert_eq!(answer["kind"], "trip_refused", "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("tripped nothing"), "{answer}");
    }
    // Not errors: a resolved alert, one not for faultdrill.
    let (status, answer) = post(
        &daemon,
        webhook("resolved", serde_json::json!({"alertname": "Missing", "faultdrill_guardrail": "latency-budget"})),
    )
    .await;
    assert_eq!((status, answer["ignored"][0]["reason"].as_str()), (200, Some("resolved")), "{answer}");
    let (status, answer) = post(&daemon, webhook("firing", serde_json::json!({"alertname": "DiskFull"}))).await;
    assert_eq!((status, answer["ignored"][0]["reason"].as_str()), (200, Some("not_for_faultdrill")), "{answer}");

    let metrics = faultdrill::probe::probe_client()
        .get(format!("{}/metrics", daemon.url))
        .bearer_auth(daemon.spec.token.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in ["unknown_label", "unknown_run", "unknown_guardrail", "no_matching_run"] {
        let line = format!("faultdrill_alerts_ignored_total{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    assert!(metrics.contains("faultdrill_alerts_ignored_total{reason=\"no_guardrail_label\"} 0"), "{metrics}");
    let log = daemon.stderr();
    for name in ["Typo", "WrongRun", "Missing", "OtherDrill"] {
        assert!(
            log.lines().any(|l| l.contains("WARN") && l.contains("Alert ignored") && l.contains(name)),
            "{name} in:\n{log}"
        );
    }

    // The run still runs; the right alert stops it, and its report shows what was ignored.
    let (status, answer) = post(
        &daemon,
        webhook("firing", serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let report = report_of(run, 2).await;
    let warnings: Vec<&str> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "warning")
        .map(|e| e["event"]["message"].as_str().unwrap())
        .collect();
    for name in ["Typo", "WrongRun", "Missing", "OtherDrill"] {
        assert!(warnings.iter().any(|w| w.starts_with(&format!("alert {name} ignored: "))), "{name} in {warnings:#?}");
    }
    assert!(warnings.iter().any(|w| w.contains("faultdrill_gaurdrail") && w.contains("correct the alert rule")));
    assert!(
        warnings.iter().any(|w| w.contains("latency-budget") && w.contains("it has: error-budget")),
        "{warnings:#?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_already_firing_when_a_run_starts_trips_it_before_anything_is_injected() {
    let daemon = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    let labels = serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"});
    // No run yet: not an error, the alert is kept.
    let (status, answer) = post(&daemon, webhook("firing", labels.clone())).await;
    assert_eq!((status, answer["ignored"][0]["reason"].as_str()), (200, Some("no_active_run")), "{answer}");

    let report = report_of(submit(&daemon, work.path(), &guarded_experiment(work.path(), "firing-first")), 2).await;
    assert_eq!(report["outcome"], "guardrail_tripped", "{report}");
    assert_eq!(report["injections"].as_array().unwrap().len(), 0, "{report}");
    let trip = report["timeline"].as_array().unwrap().iter().find(|e| e["event"]["kind"] == "guardrail_tripped");
    let message = trip.unwrap()["event"]["message"].as_str().unwrap();
    assert!(message.contains("HighErrorRate was already firing when the run started"), "{message}");
    assert!(daemon.journal().live().unwrap().is_empty());
    assert!(!report["timeline"].as_array().unwrap().iter().any(|e| e["event"]["kind"] == "action_started"));

    // Once resolved, it is forgotten: the next run is not tripped by it.
    let (status, _) = post(&daemon, webhook("resolved", labels)).await;
    assert_eq!(status, 200);
    let run = submit(&daemon, work.path(), &guarded_experiment(work.path(), "after-resolve"));
    wait_for_burn(&daemon);
    let stop = serde_json::json!({"alertname": "Stop", "faultdrill_guardrail": "error-budget"});
    assert_eq!(post(&daemon, webhook("firing", stop)).await.0, 200);
    let report = report_of(run, 2).await;
    assert_eq!(report["injections"].as_array().unwrap().len(), 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_guardrail_has_no_source_and_trips_from_the_webhook() {
    let daemon = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("external.yaml");
    std::fs::write(
        &file,
        r#"version: 1
name: external-guardrail
guardrails:
  rules:
    - name: error-budget
      external: true
action_groups:
  - name: burn
    actions:
      - fault: cpu-burn
        params: {percent: 10, cores: 1}
        duration: 60s
"#,
    )
    .unwrap();
    let dry = Command::new(BIN).arg("run").arg(&file).arg("--dry-run").output().unwrap();
    let shown = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{shown}{}", String::from_utf8_lossy(&dry.stderr));
    assert!(shown.contains("error-budget: external, tripped only from outside"), "{shown}");

    let run = submit(&daemon, work.path(), &file);
    let injection = wait_for_burn(&daemon);
    let labels = serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"});
    let (status, answer) = post(&daemon, webhook("firing", labels)).await;
    assert_eq!((status, &answer["tripped"][0]["guardrail"]), (200, &serde_json::json!("error-budget")), "{answer}");
    let report = report_of(run, 2).await;
    assert_eq!(report["outcome"], "guardrail_tripped", "{report}");
    assert_eq!(report["plan"]["guardrails"]["external"][0]["name"], "error-budget", "{report}");
    assert!(!report["timeline"].as_array().unwrap().iter().any(|e| e["event"]["kind"] == "guardrail_sample"));
    let record = daemon.journal().get(&injection).unwrap().unwrap();
    assert_eq!(record.state, faultdrill::journal::InjectionState::RolledBack, "{record:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_select_runs_by_experiment_name_and_labels() {
    let daemon = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    // Both experiments are labelled `team: payments`.
    let run = submit(&daemon, work.path(), &guarded_experiment(work.path(), "by-name"));
    wait_for_burn(&daemon);
    let alert = |extra: serde_json::Value| {
        let mut labels = serde_json::json!({"alertname": "HighErrorRate", "faultdrill_guardrail": "error-budget"});
        labels.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        webhook("firing", labels)
    };
    let (status, answer) = post(&daemon, alert(serde_json::json!({"faultdrill_label_team": "search"}))).await;
    assert_eq!((status, answer["ignored"][0]["reason"].as_str()), (422, Some("no_matching_run")), "{answer}");
    let (status, answer) = post(&daemon, alert(serde_json::json!({"faultdrill_experiment": "other-name"}))).await;
    assert_eq!((status, answer["ignored"][0]["reason"].as_str()), (422, Some("no_matching_run")), "{answer}");
    let selected = serde_json::json!({"faultdrill_experiment": "by-name", "faultdrill_label_team": "payments"});
    let (status, answer) = post(&daemon, alert(selected)).await;
    assert_eq!((status, answer["tripped"].as_array().unwrap().len()), (200, 1), "{answer}");
    assert_eq!(report_of(run, 2).await["experiment"], "by-name");

    // That alert still fires, but selects `by-name` only: another experiment is not tripped
    // at its start; an alert selecting its label is.
    // (`other-name` above is still firing too, and would trip a run of that name at once.)
    let run = submit(&daemon, work.path(), &guarded_experiment(work.path(), "second-drill"));
    wait_for_burn(&daemon);
    let (status, answer) = post(&daemon, alert(serde_json::json!({"faultdrill_label_team": "payments"}))).await;
    assert_eq!((status, answer["tripped"].as_array().unwrap().len()), (200, 1), "{answer}");
    let report = report_of(run, 2).await;
    assert_eq!(report["injections"].as_array().unwrap().len(), 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_receiver_says_about_misconfigured_alerts() {
    let daemon = Daemon::start(DaemonSpec::default());
    let mut hook = webhook("firing", serde_json::json!({"alertname": "Typo", "faultdrill_gaurdrail": "error-budget"}));
    let alerts = hook["alerts"].as_array_mut().unwrap();
    let mut second = alerts[0].clone();
    second["labels"] = serde_json::json!({"alertname": "NoGuardrail", "faultdrill_experiment": "checkout"});
    let mut third = alerts[0].clone();
    third["labels"] = serde_json::json!({"alertname": "Quiet", "faultdrill_guardrail": "error-budget"});
    alerts.extend([second, third]);
    let (status, answer) = post(&daemon, hook).await;
    assert_eq!(status, 422);
    insta::assert_yaml_snapshot!(answer);
}
