//! A kill has no band (it is instantaneous): the HTML timeline marks it, once per action,
//! and the Actions table says it cannot be undone (the disk fill beside it can).

mod drills_common;

use std::process::Command;

use drills_common::{BIN, Group, unique_service};

#[test]
fn drills_truth_a_kill_is_marked_on_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let (program, name) = unique_service(dir.path(), "km");
    let mut cmd = Command::new(&program);
    cmd.arg("60");
    let _service = Group::spawn(cmd);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let fill = dir.path().join("fill");
    std::fs::create_dir_all(&fill).unwrap();
    let experiment = dir.path().join("kill.yaml");
    std::fs::write(
        &experiment,
        format!(
            "version: 1\nname: kill-marker\naction_groups:\n  - name: lose\n    target: local\n    mode: parallel\n    \
             actions:\n      - fault: disk-fill\n        params: {{path: \"{}\", size: 1MiB}}\n        duration: 1s\n      \
             - fault: process-kill\n        params: {{name: {name}, signal: SIGKILL}}\n        wait_before: 300ms\n",
            fill.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let out =
        Command::new(BIN).arg("--state-dir").arg(&state).arg("run").arg(&experiment).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let html = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["report", report["run_id"].as_str().unwrap(), "--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains("<title>process-kill</title>"), "the kill has its marker");
    assert_eq!(html.matches("<title>process-kill</title>").count(), 1, "one marker for the action");
    let rows: Vec<&str> = html.split("<tr class=\"act\">").skip(1).map(|r| r.split("</tr>").next().unwrap()).collect();
    let kill = rows.iter().find(|r| r.contains("process-kill")).expect("the kill's row");
    assert!(kill.contains(">irreversible</b>") && kill.contains("done: cannot be undone, no rollback"), "{kill}");
    let fill = rows.iter().find(|r| r.contains("disk-fill")).expect("the fill's row");
    assert!(!fill.contains("irreversible") && fill.contains("rolled back"), "{fill}");
}
