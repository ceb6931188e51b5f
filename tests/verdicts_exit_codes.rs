//! Exit codes that separate a finding from a broken drill (issue 12, item 2): a steady state
//! failing before injection is `not_steady_before` (exit 5, nothing injected, JUnit says why),
//! the README's CI idiom fails the job on it, and `expect_outcome: guardrail_tripped` makes a
//! drill that trips its guardrail exit 0 and one that does not exit 1.

mod run_common;

use std::path::Path;

use run_common::{Tmpfs, entries, experiment, faultdrill, root_or_skip};

/// A steady state that cannot hold (nothing listens on port 1), before a disk fill.
fn broken_drill(fill_dir: &Path) -> String {
    format!(
        r#"version: 1
name: broken-drill
steady_state:
  probes:
    - name: api-up
      http: {{url: "http://127.0.0.1:1/health", timeout: 500ms}}
      expect: {{status: 200}}
action_groups:
  - name: fill
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB, allow_memory_backed: true}}
        duration: 5s
"#,
        fill_dir.display()
    )
}

/// A disk fill under a guardrail; `breach` decides whether it trips.
fn guardrail_drill(fill_dir: &Path, breach: &str, expect: bool) -> String {
    let expect = if expect { "expect_outcome: guardrail_tripped\n" } else { "" };
    format!(
        r#"version: 1
name: guardrail-drill
{expect}guardrails:
  interval: 200ms
  rules:
    - name: disk-watch
      metric: {{host: disk_used_percent, path: "{dir}"}}
      breach: "{breach}"
      for: 2
action_groups:
  - name: fill
    actions:
      - fault: disk-fill
        params: {{path: "{dir}", size: 8MiB, allow_memory_backed: true}}
        duration: 2s
"#,
        dir = fill_dir.display()
    )
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_steady_state_failing_before_injection_exits_5_injects_nothing_and_junit_says_why() {
    let (state, dir, fill) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = experiment(dir.path(), "broken.yaml", &broken_drill(fill.path()));
    let junit = dir.path().join("drill.xml");
    let out = faultdrill(state.path()).arg("run").arg(&file).arg("--json").arg("--junit").arg(&junit).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(faultdrill::exit::NOT_STEADY_BEFORE as i32),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(faultdrill::exit::NOT_STEADY_BEFORE, 5);
    let report = json(&out);
    assert_eq!(report["outcome"], "not_steady_before");
    assert_eq!(report["exit_code"], 5);
    assert!(report["injections"].as_array().unwrap().is_empty(), "nothing injected");
    assert!(report["rollbacks"].as_array().unwrap().is_empty());
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.starts_with("not steady before: nothing injected;"), "{reason}");
    assert!(reason.contains("api-up"), "names the probe: {reason}");
    assert!(entries(fill.path()).is_empty(), "no fill file was ever made");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testcase name="outcome: not_steady_before" classname="run""#), "{xml}");
    assert!(xml.contains(r#"<error message="not steady before: nothing injected;"#), "an error, with why: {xml}");
    assert!(xml.contains(r#"type="not-steady-before""#), "{xml}");
    assert!(xml.contains(r#"<property name="outcome" value="not_steady_before"/>"#), "{xml}");
}

/// The README's CI idiom, as written there.
fn readme_idiom() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("faultdrill run drill.yaml --junit drill.xml || "))
        .expect("the README shows the CI idiom");
    line.split_once(" || ").unwrap().1.to_string()
}

#[test]
fn the_readme_ci_idiom_fails_the_job_on_a_broken_drill_and_tolerates_a_finding() {
    let idiom = readme_idiom();
    assert!(!idiom.contains("-le 2"), "the old idiom let a broken drill pass: {idiom}");
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |file: &Path| {
        let command = format!(
            "NO_COLOR=1 '{}' --state-dir '{}' run '{}' --junit drill.xml || {idiom}",
            env!("CARGO_BIN_EXE_faultdrill"),
            state.path().display(),
            file.display()
        );
        std::process::Command::new("sh").arg("-c").arg(&command).current_dir(dir.path()).output().unwrap()
    };
    let broken = experiment(dir.path(), "broken.yaml", &broken_drill(dir.path()));
    let job = run(&broken);
    assert_ne!(job.status.code(), Some(0), "exit 5 fails the job: {}", String::from_utf8_lossy(&job.stderr));

    // A finding (exit 1: the steady state failed during the faults) is tolerated.
    let finding = experiment(
        dir.path(),
        "finding.yaml",
        r#"version: 1
name: finding
steady_state:
  check: [during]
  interval: 100ms
  probes:
    - name: always-fails
      command: {run: ["false"]}
      expect: {exit: 0}
action_groups:
  - name: burn
    actions:
      - fault: cpu-burn
        params: {percent: 5, cores: 1}
        duration: 1s
"#,
    );
    let job = run(&finding);
    assert_eq!(job.status.code(), Some(0), "a finding is tolerated: {}", String::from_utf8_lossy(&job.stderr));
}

#[test]
fn expect_outcome_guardrail_tripped_exits_0_when_it_trips_and_1_when_it_does_not() {
    if !root_or_skip("expect_outcome_guardrail_tripped_exits_0_when_it_trips_and_1_when_it_does_not") {
        return;
    }
    let fs = Tmpfs::mount("16m");
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (baseline, before) = (fs.used_percent(), entries(fs.path()));

    // Trips: 8 MiB of 16 MiB is past 30 %.
    let file = experiment(dir.path(), "trips.yaml", &guardrail_drill(fs.path(), ">= 30", true));
    let junit = dir.path().join("trips.xml");
    let out = faultdrill(state.path()).arg("run").arg(&file).arg("--json").arg("--junit").arg(&junit).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the expected trip passes: {}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["outcome"], "guardrail_tripped", "the real outcome is kept");
    assert_eq!(report["expectation"], serde_json::json!({"expected": "guardrail_tripped", "met": true}));
    assert!(report["reason"].as_str().unwrap().ends_with("as expected (expect_outcome: guardrail_tripped), so exit 0"));
    assert_eq!(report["rollbacks"][0]["ok"], true);
    assert_eq!(entries(fs.path()), before, "rolled back");
    assert!((fs.used_percent() - baseline).abs() < 0.5);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(!xml.contains("<failure") && !xml.contains("<error"), "nothing fails in JUnit: {xml}");
    let id = report["run_id"].as_str().unwrap();
    let html = faultdrill(state.path()).args(["report", id, "--format", "html"]).output().unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains(r#"id="score">100.0</span>"#), "the expected trip is not held against the score");

    // Does not trip: the fill never reaches 99 %.
    let file = experiment(dir.path(), "holds.yaml", &guardrail_drill(fs.path(), ">= 99", true));
    let junit = dir.path().join("holds.xml");
    let out = faultdrill(state.path()).arg("run").arg(&file).arg("--json").arg("--junit").arg(&junit).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a guardrail drill whose guardrail never trips fails");
    let report = json(&out);
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["expectation"], serde_json::json!({"expected": "guardrail_tripped", "met": false}));
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.ends_with("expected outcome NOT met (expect_outcome: guardrail_tripped): no guardrail tripped; exit 1"),
        "{reason}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"type="expected-outcome-missed""#), "{xml}");
    assert_eq!(entries(fs.path()), before);
}

#[test]
fn the_expect_outcome_flag_does_what_the_key_does() {
    if !root_or_skip("the_expect_outcome_flag_does_what_the_key_does") {
        return;
    }
    let fs = Tmpfs::mount("16m");
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = experiment(dir.path(), "trips.yaml", &guardrail_drill(fs.path(), ">= 30", false));
    let plain = faultdrill(state.path()).arg("run").arg(&file).output().unwrap();
    assert_eq!(plain.status.code(), Some(2), "without an expectation a trip is exit 2");
    let expected = faultdrill(state.path())
        .arg("run")
        .arg(&file)
        .args(["--expect-outcome", "guardrail_tripped"])
        .output()
        .unwrap();
    assert_eq!(expected.status.code(), Some(0), "{}", String::from_utf8_lossy(&expected.stderr));
    let dry = faultdrill(state.path())
        .arg("run")
        .arg(&file)
        .args(["--expect-outcome", "guardrail_tripped", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("expected outcome: guardrail_tripped: exit 0 when a guardrail trips"),
        "the dry run says what is expected: {}",
        String::from_utf8_lossy(&dry.stdout)
    );
    let bad = faultdrill(state.path()).arg("run").arg(&file).args(["--expect-outcome", "passed"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(64), "only documented outcomes are accepted");
}

/// The run summary on stdout, with the run id and the temporary paths made stable.
fn stable_summary(out: &std::process::Output, state: &Path) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.split_whitespace().nth(1).unwrap_or_default().to_string();
    stdout.replace(&id, "RUN_ID").replace(&state.display().to_string(), "STATE_DIR")
}

#[test]
fn the_new_outcome_messages_are_pinned() {
    let (state, dir, fill) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = experiment(dir.path(), "broken.yaml", &broken_drill(fill.path()));
    let out = faultdrill(state.path()).arg("run").arg(&file).output().unwrap();
    insta::assert_snapshot!("not_steady_before_summary", stable_summary(&out, state.path()));

    // A drill that expects a trip, where no guardrail can trip (a plain command stays at 0).
    let holds = experiment(
        dir.path(),
        "holds.yaml",
        &format!(
            r#"version: 1
name: expected-trip-missed
expect_outcome: guardrail_tripped
guardrails:
  interval: 100ms
  rules:
    - name: never
      command: {{run: [echo, "0"]}}
      breach: ">= 1"
action_groups:
  - name: fill
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB, allow_memory_backed: true}}
        duration: 1s
"#,
            fill.path().display()
        ),
    );
    let out = faultdrill(state.path()).arg("run").arg(&holds).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("expected_trip_missed_summary", stable_summary(&out, state.path()));
}
