//! Guardrails fail safe (issue 12, item 1): a guardrail whose samples cannot be taken
//! trips after `for` of them, rolls back a real fault (a disk fill on a real tmpfs) and
//! exits 2; with `on_unmeasured: ignore` it does not. The dry run and the report say which
//! is in force, and the HTML timeline draws unmeasured samples as gaps, not as red dots at 0.

mod run_common;

use run_common::{Tmpfs, entries, experiment, faultdrill, root_or_skip};

/// A guardrail on an endpoint nobody listens on (port 1), over an 8 MiB disk fill.
fn dead_endpoint(fill_dir: &std::path::Path, on_unmeasured: Option<&str>, hold: &str) -> String {
    let policy = on_unmeasured.map(|p| format!("\n      on_unmeasured: {p}")).unwrap_or_default();
    format!(
        r#"version: 1
name: dead-endpoint-guardrail
guardrails:
  interval: 200ms
  rules:
    - name: health
      http: {{url: "http://127.0.0.1:1/health", timeout: 500ms}}
      breach: "!= 200"
      for: 2{policy}
action_groups:
  - name: fill
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 8MiB, allow_memory_backed: true}}
        duration: {hold}
"#,
        fill_dir.display()
    )
}

fn timeline_of<'a>(report: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    report["timeline"].as_array().unwrap().iter().filter(|e| e["event"]["kind"] == kind).map(|e| &e["event"]).collect()
}

#[test]
fn a_guardrail_on_a_dead_endpoint_trips_and_rolls_back() {
    if !root_or_skip("a_guardrail_on_a_dead_endpoint_trips_and_rolls_back") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (baseline, before) = (fs.used_percent(), entries(fs.path()));
    let file = experiment(dir.path(), "dead.yaml", &dead_endpoint(fs.path(), None, "30s"));

    let junit = dir.path().join("junit.xml");
    let output =
        faultdrill(state.path()).arg("run").arg(&file).arg("--json").arg("--junit").arg(&junit).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit 2 (guardrail tripped); stderr:\n{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<property name="on_unmeasured" value="breach"/>"#), "JUnit says which is in force: {xml}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "guardrail_tripped");
    assert_eq!(report["plan"]["guardrails"]["rules"][0]["on_unmeasured"], "breach", "the default is recorded");

    let samples = timeline_of(&report, "guardrail_sample");
    assert_eq!(samples.len(), 2, "tripped on the second unmeasured sample: {samples:?}");
    for s in &samples {
        assert_eq!(s["breached"], true, "an unmeasured sample counts as a breach: {s}");
        assert!(s["sample"]["value"].is_null() && s["sample"]["status"].is_null(), "nothing was measured: {s}");
        assert!(s["sample"]["error"].as_str().unwrap().contains("127.0.0.1:1"), "and why is kept: {s}");
    }
    let trip = timeline_of(&report, "guardrail_tripped");
    let message = trip[0]["message"].as_str().unwrap();
    assert!(message.starts_with("unmeasured (http://127.0.0.1:1/health"), "the trip says why: {message}");

    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1, "the fill was injected, then rolled back");
    assert_eq!(rollbacks[0]["ok"], true);
    assert_eq!(rollbacks[0]["reason"], "guardrail health tripped");
    assert_eq!(entries(fs.path()), before, "the fill file is gone");
    let after = fs.used_percent();
    assert!((after - baseline).abs() < 0.5, "usage back to baseline: {baseline:.2} % before, {after:.2} % after");

    // The HTML report: unmeasured samples are gap marks, not red dots at 0, and the policy shows.
    let id = report["run_id"].as_str().unwrap();
    let html = faultdrill(state.path()).args(["report", id, "--format", "html"]).output().unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert_eq!(html.matches(r#"<g class="unmeasured">"#).count(), 2, "two gap marks");
    assert!(!html.contains(r#"<circle class="bad""#), "no red dot for a sample that has no value");
    assert!(html.contains("count as breaching (<code>on_unmeasured: breach</code>)"));
    assert!(html.contains("<code>status != 200</code>"), "the breach names the quantity compared");
}

#[test]
fn with_on_unmeasured_ignore_a_dead_endpoint_does_not_trip() {
    if !root_or_skip("with_on_unmeasured_ignore_a_dead_endpoint_does_not_trip") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let before = entries(fs.path());
    let file = experiment(dir.path(), "ignore.yaml", &dead_endpoint(fs.path(), Some("ignore"), "2s"));

    let output = faultdrill(state.path()).arg("run").arg(&file).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "passed: the guardrail was told to ignore; stderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "passed");
    let samples = timeline_of(&report, "guardrail_sample");
    assert!(samples.len() >= 4, "sampled throughout: {}", samples.len());
    assert!(samples.iter().all(|s| s["breached"] == false), "no sample counted");
    assert!(timeline_of(&report, "guardrail_tripped").is_empty());
    assert_eq!(entries(fs.path()), before, "rolled back at the end of its duration");
}

#[test]
fn the_dry_run_says_which_unmeasured_policy_is_in_force() {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (policy, line) in [
        (
            None,
            "guardrail: health: breach status != 200 for 2 sample(s) every 200ms; \
             unmeasured samples count as breaching (on_unmeasured: breach)",
        ),
        (
            Some("ignore"),
            "guardrail: health: breach status != 200 for 2 sample(s) every 200ms; \
             unmeasured samples are ignored (on_unmeasured: ignore)",
        ),
    ] {
        let file = experiment(dir.path(), "dry.yaml", &dead_endpoint(dir.path(), policy, "30s"));
        let output = faultdrill(state.path()).arg("run").arg(&file).arg("--dry-run").output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.lines().any(|l| l == line), "{line:?} in:\n{stdout}");
    }
}
