//! Must show: a disk guardrail on a real 64 MiB tmpfs trips, exits 2, removes the fill file
//! and brings usage back to its baseline — through the real binary and the shipped example.

mod run_common;

use run_common::{Tmpfs, entries, example, faultdrill, root_or_skip};

#[test]
fn disk_guardrail_trips_exits_2_and_restores_the_filesystem() {
    if !root_or_skip("disk_guardrail_trips_exits_2_and_restores_the_filesystem") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    let state = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let baseline = fs.used_percent();
    let before = entries(fs.path());

    let output = faultdrill(state.path())
        .arg("run")
        .arg(example("disk-guardrail.yaml"))
        .args(["--set", &format!("path={}", fs.path().display()), "--json", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit 2 (guardrail tripped); stderr:\n{stderr}");

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints the report");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["outcome"], "guardrail_tripped");
    assert_eq!(report["exit_code"], 2);
    assert_eq!(report["targets"][0]["hosts"][0], "local");
    let trip = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["kind"] == "guardrail_tripped")
        .expect("a trip in the timeline");
    assert_eq!(trip["event"]["guardrail"], "disk-90");
    let breaches: Vec<_> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "guardrail_sample" && e["event"]["breached"] == true)
        .collect();
    assert_eq!(breaches.len(), 2, "tripped on the second consecutive breaching sample");
    assert!(breaches.iter().all(|b| b["event"]["sample"]["value"].as_f64().unwrap() >= 90.0));
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["ok"], true);
    assert_eq!(rollbacks[0]["reason"], "guardrail disk-90 tripped");
    let reaction = &report["guardrail_reaction"];
    assert!(reaction["rolled_back_ms"].as_i64().unwrap() >= reaction["breach_sample_ms"].as_i64().unwrap());

    assert_eq!(entries(fs.path()), before, "the fill file is gone");
    let after = fs.used_percent();
    assert!((after - baseline).abs() < 0.5, "usage back to baseline: {baseline:.2} % before, {after:.2} % after");

    let id = report["run_id"].as_str().unwrap();
    let kept = state.path().join("runs").join(id).join("report.json");
    assert!(kept.is_file(), "report.json kept in the state dir");
    let copied: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(copied["run_id"], report["run_id"], "--out copies it");
    assert!(stderr.contains("guardrail disk-90 TRIPPED"), "progress shows the trip:\n{stderr}");
    assert!(stderr.contains("rolling back 1 injection(s)"), "progress shows the rollback:\n{stderr}");
}
