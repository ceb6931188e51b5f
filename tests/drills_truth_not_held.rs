//! Truth about faults in place: a fault held on two real daemons, one of which is restarted
//! mid-hold (it rolls its faults back as it starts). The run must say `fault_not_held`
//! (exit 6) and name the host, when and why, in its summary, report and JUnit; the same run
//! left alone passes.

#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use daemon::{BIN, Daemon, DaemonSpec, list_dir, wait_for};
use faultdrill::journal::InjectionState;

const TOKEN: &str = "truth-token-0123456789";

/// Two daemons on loopback, an inventory naming them, and a directory to fill.
struct Pair {
    daemons: Vec<Daemon>,
    inventory: PathBuf,
    fill: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Pair {
    fn new() -> Pair {
        assert!(daemon::is_root(), "this test needs root (the daemons run as root); CI runs it as root");
        let work = tempfile::tempdir().unwrap();
        let mut inventory = String::from("hosts:\n");
        let daemons: Vec<Daemon> = ["h1", "h2"]
            .into_iter()
            .map(|name| {
                let d =
                    Daemon::start(DaemonSpec { name: name.into(), token: Some(TOKEN.into()), ..DaemonSpec::default() });
                inventory.push_str(&format!(
                    "  - name: {name}\n    url: {}\n    labels: {{pair: yes}}\n    token: {{env: TRUTH_TOKEN}}\n",
                    d.url
                ));
                d
            })
            .collect();
        let path = work.path().join("inventory.yaml");
        std::fs::write(&path, inventory).unwrap();
        Pair { daemons, inventory: path, fill: tempfile::tempdir().unwrap(), work }
    }

    /// A 1 MiB fill held for `hold` on both hosts, renewed every second.
    fn experiment(&self, hold: &str) -> PathBuf {
        let path = self.work.path().join("hold.yaml");
        let yaml = format!(
            "version: 1\nname: hold-on-two\nlease: 3s\ntargets:\n  both:\n    select: {{labels: {{pair: \"yes\"}}}}\n\
             action_groups:\n  - name: fill\n    target: both\n    actions:\n      - fault: disk-fill\n        \
             params: {{path: \"{}\", size: 1MiB}}\n        duration: {hold}\n",
            self.fill.path().display()
        );
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn controller(&self, experiment: &Path, junit: &Path) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--state-dir").arg(self.work.path().join("controller"));
        c.args(["run", "--inventory"]).arg(&self.inventory).arg(experiment).arg("--junit").arg(junit);
        c.env("TRUTH_TOKEN", TOKEN).env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    fn holds(&self, i: usize) -> bool {
        self.daemons[i].journal().live().unwrap().iter().any(|r| r.state == InjectionState::Active)
    }
}

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The report the summary on stdout points at.
fn report_of(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().find_map(|l| l.trim().strip_prefix("report: ")).expect("the summary names the report");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
fn drills_truth_a_daemon_restarted_mid_hold_makes_the_run_fault_not_held_naming_the_host() {
    let mut pair = Pair::new();
    let junit = pair.work.path().join("junit.xml");
    let child = pair.controller(&pair.experiment("8s"), &junit).spawn().unwrap();
    wait_for(Duration::from_secs(20), "both daemons to hold the fill", || {
        (pair.holds(0) && pair.holds(1)).then_some(())
    });

    // kill -9 and start again on the same state dir and port: the new daemon rolls back
    // what the old one left, so h1 loses its fault some 7 s before the hold ends.
    std::thread::sleep(Duration::from_secs(1));
    pair.daemons[0].restart();
    let out = child.wait_with_output().unwrap();

    assert_eq!(out.status.code(), Some(6), "fault_not_held exits 6; {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fault_not_held (exit 6)"), "{stdout}");
    assert!(stdout.contains("fault NOT HELD: fill/disk-fill#1 on h1 ended at "), "{stdout}");
    assert!(stdout.contains("daemon restarted"), "the summary says why: {stdout}");
    assert!(!stdout.contains("on h2 ended"), "h2 held its fault: {stdout}");

    let report = report_of(&out);
    assert_eq!(report["outcome"], "fault_not_held", "{report:#}");
    assert_eq!(report["exit_code"], 6);
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("on h1 ended") && reason.contains("into its 8s hold"), "{reason}");
    let ended: Vec<&serde_json::Value> =
        report["timeline"].as_array().unwrap().iter().filter(|e| e["event"]["kind"] == "fault_ended").collect();
    assert_eq!(ended.len(), 1, "one fault_ended event: {ended:?}");
    let event = &ended[0]["event"];
    assert_eq!(event["host"], "h1");
    assert!(event["why"].as_str().unwrap().contains("daemon restarted"), "{event}");
    assert!(event["ended_ms"].as_i64().unwrap() < event["planned_end_ms"].as_i64().unwrap(), "{event}");

    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("fault-not-held"), "{junit}");
    assert!(junit.contains("disk-fill on h1 ended"), "JUnit names the host: {junit}");
    assert!(junit.contains("fault_not_held"), "JUnit carries the outcome: {junit}");

    let html = Command::new(BIN)
        .arg("--state-dir")
        .arg(pair.work.path().join("controller"))
        .args(["report", report["run_id"].as_str().unwrap(), "--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains("fault lost: h1"), "the timeline marks the loss");
    assert!(html.contains("NOT HELD"), "the actions table says which host lost it");

    assert!(list_dir(pair.fill.path()).is_empty(), "nothing left filled: {:?}", list_dir(pair.fill.path()));
    for d in &pair.daemons {
        assert!(d.journal().live().unwrap().is_empty(), "{}: nothing live", d.spec.name);
    }
}

#[test]
fn drills_truth_the_same_run_left_alone_passes() {
    let pair = Pair::new();
    let junit = pair.work.path().join("junit.xml");
    let out = pair.controller(&pair.experiment("3s"), &junit).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = report_of(&out);
    assert_eq!(report["outcome"], "passed");
    assert!(!report["timeline"].to_string().contains("fault_ended"), "{report:#}");
    assert!(!std::fs::read_to_string(&junit).unwrap().contains("fault-not-held"));
    assert!(list_dir(pair.fill.path()).is_empty());
}
