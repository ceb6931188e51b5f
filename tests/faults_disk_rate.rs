//! Must show (issue 12, item 6): a disk-fill with a `rate` grows the filesystem step by step,
//! so a 90 % guardrail stops it at its threshold (90–92 % at the trip, not the fill's 97 %),
//! rolls it back and brings usage back to its baseline — on a real 64 MiB tmpfs.

mod run_common;

use run_common::{Tmpfs, entries, experiment, faultdrill, root_or_skip};

/// A fill of 12 MiB at 4 MiB/s over a filesystem already ~78 % full, under a 90 % guardrail
/// sampled every 100 ms: each sample sees at most ~0.4 MiB (0.6 %) more than the last.
fn rate_fill(path: &std::path::Path) -> String {
    format!(
        r#"version: 1
name: disk-fill-rate
guardrails:
  interval: 100ms
  rules:
    - name: disk-90
      metric: {{host: disk_used_percent, path: "{path}"}}
      breach: ">= 90"
      for: 1
      action: rollback
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {{path: "{path}", size: 12MiB, rate: 4MiB/s, allow_memory_backed: true}}
        duration: 30s
rollback: always
"#,
        path = path.display()
    )
}

#[test]
fn a_fill_at_a_rate_is_stopped_at_the_guardrail_threshold() {
    if !root_or_skip("a_fill_at_a_rate_is_stopped_at_the_guardrail_threshold") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    // Ballast that is not ours (faultdrill deletes only its own `faultdrill-` files).
    std::fs::write(fs.path().join("ballast"), vec![1u8; 50 << 20]).unwrap();
    let baseline = fs.used_percent();
    assert!((75.0..85.0).contains(&baseline), "ballast takes the tmpfs to ~78 %, found {baseline:.2} %");
    let before = entries(fs.path());
    let state = tempfile::tempdir().unwrap();
    let file = experiment(state.path(), "rate.yaml", &rate_fill(fs.path()));

    let output = faultdrill(state.path()).arg("run").arg(&file).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit 2 (guardrail tripped); stderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints the report");
    assert_eq!(report["outcome"], "guardrail_tripped");
    let timeline = report["timeline"].as_array().unwrap();
    let samples: Vec<f64> = timeline
        .iter()
        .filter(|e| e["event"]["kind"] == "guardrail_sample")
        .filter_map(|e| e["event"]["sample"]["value"].as_f64())
        .collect();
    let trip = timeline
        .iter()
        .find(|e| e["event"]["kind"] == "guardrail_sample" && e["event"]["breached"] == true)
        .expect("a breaching sample");
    let at_trip = trip["event"]["sample"]["value"].as_f64().unwrap();
    assert!(
        (90.0..=92.0).contains(&at_trip),
        "stopped at the threshold: {at_trip:.2} % at the trip (samples: {samples:.1?})"
    );
    eprintln!("baseline {baseline:.2} %, trip at {at_trip:.2} %");
    assert!(samples.iter().filter(|v| **v > baseline + 1.0).count() >= 3, "usage rose in steps: {samples:.1?}");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["ok"], true);
    assert_eq!(rollbacks[0]["reason"], "guardrail disk-90 tripped");

    assert_eq!(entries(fs.path()), before, "the fill file is gone");
    let after = fs.used_percent();
    assert!((after - baseline).abs() < 0.5, "usage back to baseline: {baseline:.2} % before, {after:.2} % after");
    let growers = run_common::pids_with_cmdline(&fs.path().display().to_string());
    assert!(growers.is_empty(), "the growing helper is stopped, found {growers:?}");
}
