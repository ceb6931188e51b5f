//! The local-host drill templates end to end, through the real binary, against
//! real processes, a real (per-test tmpfs) filesystem and real memory:
//! process-crash-recovery with and without a supervisor, disk-full-guardrail
//! tripping, and memory-pressure passing and freeing. (cpu-saturation runs end
//! to end in `tests/templates.rs`.)

mod drills_common;
#[path = "run_common/mod.rs"]
mod run_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use drills_common::{Group, pids_by_comm, report, stderr, template_run, unique_service};
use run_common::{Tmpfs, entries, root_or_skip, wait_until};

#[test]
fn process_crash_recovery_passes_when_a_supervisor_restarts_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let (service, name) = unique_service(dir.path(), "sup");
    // A supervisor loop, like systemd's Restart=always: the service is restarted 200 ms after it dies.
    let script = dir.path().join("supervise.sh");
    std::fs::write(&script, "while :; do \"$1\" 300; sleep 0.2; done\n").unwrap();
    let mut sup = Command::new("sh");
    sup.arg(&script).arg(&service);
    let _supervisor = Group::spawn(sup);
    assert!(wait_until(Duration::from_secs(5), || pids_by_comm(&name).len() == 1), "the service started");
    let first = pids_by_comm(&name)[0];

    let out = template_run(
        &dir.path().join("state"),
        "process-crash-recovery",
        &[format!("process={name}"), "recovery=2s".into()],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "passed; stderr:\n{}", stderr(&out));
    let report = report(&out);
    assert_eq!(report["outcome"], "passed", "{report:#}");
    let now = pids_by_comm(&name);
    assert_eq!(now.len(), 1, "the supervisor restarted exactly one copy: {now:?}");
    assert_ne!(now[0], first, "the original process was killed and replaced");
    // The kill waited for the new PID and reports the time to recover (the loop sleeps 0.2 s).
    let said = injection_lines(&report);
    let line = said.iter().find(|l| l.starts_with("restarted after ")).unwrap_or_else(|| panic!("{said:?}"));
    assert!(line.ends_with(&format!("pid {} ({name}) replaces pid {first}", now[0])), "{line}");
    let secs: f64 = line["restarted after ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!((0.15..2.0).contains(&secs), "time to recover {secs} s, the supervisor waits 0.2 s: {line}");
}

/// What the injections of a run report they did (process-kill: signalled, restarted).
fn injection_lines(report: &serde_json::Value) -> Vec<String> {
    let text = serde_json::to_string(&report["injections"]).unwrap();
    let mut lines = Vec::new();
    for injection in report["injections"].as_array().unwrap_or_else(|| panic!("{text}")) {
        for line in injection["preview"].as_array().unwrap_or_else(|| panic!("no preview in {text}")) {
            lines.push(line.as_str().unwrap().to_string());
        }
    }
    lines
}

#[test]
fn process_crash_recovery_deviates_when_nothing_restarts_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let (service, name) = unique_service(dir.path(), "bare");
    // The test is its parent and does not reap it when it is killed: the zombie left behind
    // must not count as a running service (a regression: process_count once counted zombies).
    let mut cmd = Command::new(&service);
    cmd.arg("300");
    let _service = Group::spawn(cmd);
    assert!(wait_until(Duration::from_secs(5), || pids_by_comm(&name).len() == 1), "the service started");

    let out = template_run(
        &dir.path().join("state"),
        "process-crash-recovery",
        &[format!("process={name}"), "recovery=1s".into()],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "deviated; stderr:\n{}", stderr(&out));
    let report = report(&out);
    assert_eq!(report["outcome"], "deviated", "{report:#}");
    assert!(pids_by_comm(&name).is_empty(), "the unsupervised service stays dead");
    let said = injection_lines(&report);
    assert!(said.contains(&format!("not restarted within 1s: no new process named `{name}`")), "{said:?}");
}

#[test]
fn disk_full_guardrail_trips_and_leaves_usage_at_its_baseline() {
    if !root_or_skip("disk_full_guardrail_trips_and_leaves_usage_at_its_baseline") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    let baseline = fs.used_percent();
    let before = entries(fs.path());
    let state = tempfile::tempdir().unwrap();
    let out = template_run(
        state.path(),
        "disk-full-guardrail",
        &[format!("path={}", fs.path().display()), "allow_memory_backed=true".into()],
    )
    .output()
    .unwrap();
    // The template expects the trip (`expect_outcome: guardrail_tripped`): exit 0, not 2.
    assert_eq!(out.status.code(), Some(0), "guardrail tripped as expected; stderr:\n{}", stderr(&out));
    let report = report(&out);
    assert_eq!(report["outcome"], "guardrail_tripped", "{report:#}");
    assert_eq!(report["expectation"], serde_json::json!({"expected": "guardrail_tripped", "met": true}));
    assert!(stderr(&out).contains("disk-nearly-full"), "the trip names the guardrail:\n{}", stderr(&out));
    assert_eq!(entries(fs.path()), before, "the fill file is gone");
    assert!((fs.used_percent() - baseline).abs() < 0.5, "usage {} is back to {baseline}", fs.used_percent());
}

/// Resident memory of the live memory-stress helpers allocating exactly `bytes`, in KiB.
fn helper_rss_kib(bytes: u64) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if !(args.iter().any(|a| a == "helper") && args.iter().any(|a| *a == bytes.to_string())) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(rss) = status.lines().find_map(|l| l.strip_prefix("VmRSS:")) {
            found.push(rss.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
        }
    }
    found
}

#[test]
fn memory_pressure_passes_holds_the_memory_and_frees_it() {
    // An odd size, so this test's helper is told apart from any other on the machine.
    let bytes: u64 = 97 << 20;
    let state = tempfile::tempdir().unwrap();
    let mut run = template_run(state.path(), "memory-pressure", &["size=97MiB".into(), "duration=4s".into()]);
    let child = run.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let held = wait_until(Duration::from_secs(15), || helper_rss_kib(bytes).iter().any(|kib| *kib >= 90 * 1024));
    let out = child.wait_with_output().unwrap();
    assert!(held, "a helper held about 97 MiB resident during the run; stderr:\n{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "passed; stderr:\n{}", stderr(&out));
    let report = report(&out);
    assert_eq!(report["outcome"], "passed", "{report:#}");
    assert!(!report["rollbacks"].as_array().unwrap().is_empty(), "the stress was rolled back: {report:#}");
    assert!(helper_rss_kib(bytes).is_empty(), "the memory is freed: no helper left");
}
