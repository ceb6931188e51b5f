//! A lost daemon is reported once, with the remedy that works (issue 12, item 7): a daemon
//! killed mid-run leaves one failed rollback per injection (not one per attempt) in the
//! outcome, the summary, the HTML and JUnit; the reason says to start that host's daemon
//! again, not `recover --all` on the controller; and starting it again does roll back.

#[path = "common/daemon.rs"]
mod harness;

use std::process::Stdio;
use std::time::Duration;

use faultdrill::journal::InjectionState;
use harness::{BIN, Daemon, DaemonSpec, list_dir, wait_for};

const TOKEN: &str = "lost-daemon-token";

#[test]
fn a_daemon_killed_mid_run_is_one_failed_rollback_with_the_right_remedy() {
    if !harness::is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: needs root (disk-fill through a root daemon)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let fill = tempfile::tempdir().unwrap();
    let mut daemon =
        Daemon::start(DaemonSpec { name: "lost-1".into(), token: Some(TOKEN.into()), ..DaemonSpec::default() });
    let inventory = work.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!("hosts:\n  - name: lost-1\n    url: {}\n    token: {{env: LOST_TOKEN}}\n", daemon.url),
    )
    .unwrap();
    let file = work.path().join("lost.yaml");
    std::fs::write(
        &file,
        format!(
            r#"version: 1
name: lost-daemon
targets:
  far:
    hosts: [lost-1]
action_groups:
  - name: fill
    target: far
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB, allow_memory_backed: true}}
        duration: 3s
"#,
            fill.path().display()
        ),
    )
    .unwrap();
    let junit = work.path().join("junit.xml");
    let controller = std::process::Command::new(BIN)
        .arg("--state-dir")
        .arg(work.path().join("controller"))
        .args(["run", "--inventory"])
        .arg(&inventory)
        .arg(&file)
        .arg("--junit")
        .arg(&junit)
        .env("LOST_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "the daemon to hold the fill", || {
        daemon.journal().recent(10).unwrap().into_iter().find(|r| r.state == InjectionState::Active)
    });
    daemon.kill9();

    let out = controller.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "rollback failed; stdout:\n{stdout}");
    let summary = stdout.lines().nth(1).unwrap_or_default();
    assert!(
        summary.starts_with(
            "  1 rollback failed: something may still be injected; on lost-1: make sure `faultdrill daemon` runs again"
        ),
        "once, with the remedy: {stdout}"
    );
    assert!(
        !summary.contains("recover --all"),
        "the controller's journal holds none of the daemon's faults: {summary}"
    );
    assert_eq!(stdout.matches("rollback FAILED").count(), 1, "one line per injection: {stdout}");
    let failed = stdout.lines().find(|l| l.contains("rollback FAILED")).unwrap();
    assert!(
        failed.contains(&format!("cannot reach {}: Connection refused (os error 111); check that", daemon.url)),
        "the error chain is cut to its root cause: {failed}"
    );
    assert!(!failed.contains("error sending request"), "{failed}");
    // The report keeps every attempt (the hold's end, then the final rollback)...
    let runs = work.path().join("controller").join("runs");
    let dir = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let attempts = report["rollbacks"].as_array().unwrap();
    assert!(attempts.len() >= 2, "retried: {attempts:?}");
    assert!(attempts.iter().all(|a| a["injection"] == attempts[0]["injection"] && a["ok"] == false));
    // ...and counts, lists and reports the injection once.
    let html = std::process::Command::new(BIN)
        .arg("--state-dir")
        .arg(work.path().join("controller"))
        .args(["report", report["run_id"].as_str().unwrap(), "--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    let section = &html[html.find("<h2>Rollback</h2>").unwrap()..];
    assert_eq!(section.matches(r#"<td class="bad">"#).count(), 1, "one Rollback row for the injection");
    assert!(html.contains(&format!(" ({} attempts)</td>", attempts.len())), "saying how many attempts");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches(r#"classname="rollback""#).count(), 1, "one JUnit case per injection: {xml}");

    // The remedy works: the daemon, started again, rolls back what its journal holds.
    daemon.restart();
    let done = wait_for(Duration::from_secs(20), "the restarted daemon to roll back", || {
        daemon.journal().recent(10).unwrap().into_iter().find(|r| r.state == InjectionState::RolledBack)
    });
    assert_eq!(done.state, InjectionState::RolledBack);
    assert!(list_dir(fill.path()).is_empty(), "the fill file is gone");
}
