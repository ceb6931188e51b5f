//! The real chain: Debian's `prometheus-alertmanager` (0.25) routes alerts to a real daemon's
//! webhook receiver with `http_config.authorization.credentials_file`. An alert firing before
//! a run starts trips it before anything is injected; an alert naming a guardrail the run
//! lacks is logged, counted, shown in the run's events, and Alertmanager logs the failed
//! notification; an `external: true` guardrail trips from the webhook.

#[path = "common/daemon.rs"]
mod harness;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{BIN, Daemon, DaemonSpec, wait_for, write_private};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// An Alertmanager on loopback (clustering off), routing every alert to `daemon`.
struct Alertmanager {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(daemon: &Daemon) -> Alertmanager {
        assert!(
            std::path::Path::new(ALERTMANAGER).exists(),
            "{ALERTMANAGER} is missing: run tests/setup.sh (it installs prometheus-alertmanager)"
        );
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("faultdrill-token");
        write_private(&token, daemon.spec.token.as_deref().unwrap());
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                r#"route:
  receiver: faultdrill
  group_by: [alertname, faultdrill_guardrail]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: faultdrill
    webhook_configs:
      - url: {}/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {}
"#,
                daemon.url,
                token.display()
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("stderr")).unwrap()))
            .spawn()
            .unwrap();
        let am = Alertmanager { child, url: format!("http://127.0.0.1:{port}"), dir };
        wait_for(Duration::from_secs(20), "alertmanager to be ready", || curl(&[&format!("{}/-/ready", am.url)]));
        am
    }

    /// Fires an alert as Prometheus would (`POST /api/v2/alerts`).
    fn fire(&self, labels: serde_json::Value) {
        let body = serde_json::json!([{"labels": labels, "annotations": {"summary": "from the test"}}]).to_string();
        let url = format!("{}/api/v2/alerts", self.url);
        let posted = curl(&["-XPOST", "-H", "content-type: application/json", "--data", &body, &url]);
        assert!(posted.is_some(), "alertmanager refused {body}");
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn metrics(&self) -> String {
        curl(&[&format!("{}/metrics", self.url)]).unwrap()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl -sf ARGS`: the body on success.
fn curl(args: &[&str]) -> Option<String> {
    let out = Command::new("curl").args(["-sf", "--max-time", "5"]).args(args).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn experiment(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!(
            r#"version: 1
name: {name}
guardrails:
  rules:
    - name: error-budget
      external: true
    - name: page
      external: true
action_groups:
  - name: burn
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
fn submit(daemon: &Daemon, work: &std::path::Path, file: &std::path::Path) -> Child {
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

fn report_of(run: Child, code: i32) -> serde_json::Value {
    let output = run.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_real_alertmanager_routes_alerts_that_trip_runs_and_failures_that_show() {
    let daemon = Daemon::start(DaemonSpec::default());
    let am = Alertmanager::start(&daemon);
    let work = tempfile::tempdir().unwrap();

    // 1. An alert already firing when the run starts trips it before anything is injected.
    am.fire(serde_json::json!({
        "alertname": "ErrorBudgetBurn", "faultdrill_guardrail": "error-budget", "faultdrill_experiment": "pre-fired"
    }));
    wait_for(Duration::from_secs(20), "the daemon to receive the firing alert", || {
        daemon.stderr().contains("Firing alert received").then_some(())
    });
    let report = report_of(submit(&daemon, work.path(), &experiment(work.path(), "pre-fired")), 2);
    assert_eq!(report["outcome"], "guardrail_tripped", "{report}");
    assert_eq!(report["injections"].as_array().unwrap().len(), 0, "{report}");
    assert!(daemon.journal().live().unwrap().is_empty());

    // 2. An alert naming a guardrail the run lacks: logged, counted, in the run's events, and
    //    Alertmanager logs a failed notification (the daemon answered 422).
    let run = submit(&daemon, work.path(), &experiment(work.path(), "guarded"));
    let injection = wait_for(Duration::from_secs(30), "the run to inject", || {
        daemon.journal().live().unwrap().into_iter().find(|i| i.fault == "cpu-burn").map(|i| i.id)
    });
    am.fire(serde_json::json!({
        "alertname": "LatencyBudget", "faultdrill_guardrail": "latency", "faultdrill_experiment": "guarded"
    }));
    wait_for(Duration::from_secs(20), "alertmanager to log the failed notification", || {
        am.stderr().contains("Notify for alerts failed").then_some(())
    });
    // Not retried (a 4xx), and the reason is in Alertmanager's own log.
    let failed = am.stderr().lines().find(|l| l.contains("Notify for alerts failed")).unwrap().to_string();
    assert!(failed.contains("unrecoverable error after 1 attempts: unexpected status code 422"), "{failed}");
    assert!(failed.contains("unknown_guardrail"), "{failed}");
    assert!(daemon.stderr().lines().any(|l| l.contains("WARN") && l.contains("LatencyBudget")), "{}", daemon.stderr());
    let bearer = format!("Authorization: Bearer {}", daemon.spec.token.as_deref().unwrap());
    let metrics = curl(&["-H", &bearer, &format!("{}/metrics", daemon.url)]).unwrap();
    assert!(metrics.contains("faultdrill_alerts_ignored_total{reason=\"unknown_guardrail\"} 1"), "{metrics}");
    let am_metrics = am.metrics();
    assert!(
        am_metrics
            .lines()
            .any(|l| l.starts_with("alertmanager_notifications_failed_total{integration=\"webhook\"")
                && !l.ends_with(" 0")),
        "{am_metrics}"
    );

    // 3. An `external: true` guardrail trips from the webhook, through Alertmanager.
    let fired = Instant::now();
    am.fire(
        serde_json::json!({"alertname": "Page", "faultdrill_guardrail": "page", "faultdrill_experiment": "guarded"}),
    );
    let report = report_of(run, 2);
    let took = fired.elapsed();
    eprintln!("alert posted to alertmanager -> run finished, rolled back: {took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let timeline = report["timeline"].as_array().unwrap();
    let trip = timeline.iter().find(|e| e["event"]["kind"] == "guardrail_tripped").unwrap();
    assert_eq!((&trip["event"]["guardrail"], &trip["event"]["source"]), (&"page".into(), &"external".into()));
    assert!(
        timeline.iter().any(|e| e["event"]["kind"] == "warning"
            && e["event"]["message"].as_str().unwrap().starts_with("alert LatencyBudget ignored: ")),
        "{report}"
    );
    let record = daemon.journal().get(&injection).unwrap().unwrap();
    assert_eq!(record.state, faultdrill::journal::InjectionState::RolledBack, "{record:?}");
}
