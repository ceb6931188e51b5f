//! `prepare` touches nothing: every fault describes its change and journals its
//! undo before anything happens, and `--dry-run` changes nothing.

mod faults_util;

use std::time::{Duration, SystemTime};

use faultdrill::experiment::RawParams;
use faultdrill::fault::{InjectContext, Params, Undo, find_fault};
use faultdrill::ids::InjectionId;
use faults_util::{Drill, Victim, stderr, stdout};

fn context() -> InjectContext {
    InjectContext {
        injection: InjectionId::generate(),
        run: None,
        host: "local".into(),
        deadline: SystemTime::now() + Duration::from_secs(30),
        exe: env!("CARGO_BIN_EXE_faultdrill").into(),
        protected_ports: Vec::new(),
        protected_addresses: Vec::new(),
        state_dir: std::env::temp_dir().join("faultdrill-no-state"),
    }
}

fn params(fault: &str, raw: &[(&str, &str)]) -> Params {
    let raw: RawParams = raw.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    Params::check(find_fault(fault).unwrap().info().params, &raw).unwrap()
}

#[test]
fn preparing_a_pause_signals_nobody_and_records_exactly_the_victim() {
    let victim = Victim::spawn();
    let cx = context();
    let fault = find_fault("process-pause").unwrap();
    let prepared = fault.prepare(&params("process-pause", &[("name", &victim.name)]), &cx).unwrap();
    assert!(matches!(victim.state(), Some('S' | 'R')), "prepare touched the process");
    let expected = Undo::All {
        steps: vec![Undo::Resume { processes: vec![victim.proc_ref()] }, Undo::stop_helpers(&cx.injection)],
    };
    assert_eq!(prepared.undo, expected);
    assert!(prepared.preview[0].starts_with(&format!("send SIGSTOP to pid {} ({})", victim.pid(), victim.name)));
    drop(prepared);
    assert!(faults_util::helpers_of(cx.injection.as_str()).is_empty(), "no watchdog started by prepare");
}

#[test]
fn preparing_a_fill_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let cx = context();
    let fault = find_fault("disk-fill").unwrap();
    let path = dir.path().display().to_string();
    let prepared = fault.prepare(&params("disk-fill", &[("path", &path), ("size", "1MiB")]), &cx).unwrap();
    let file = dir.path().join(format!("faultdrill-fill-{}", cx.injection));
    assert!(!file.exists());
    assert_eq!(
        prepared.undo,
        Undo::All { steps: vec![Undo::DeleteFile { path: file }, Undo::stop_helpers(&cx.injection)] }
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn preparing_a_burn_starts_no_burner() {
    let cx = context();
    let fault = find_fault("cpu-burn").unwrap();
    let prepared = fault.prepare(&params("cpu-burn", &[("percent", "40"), ("cores", "1")]), &cx).unwrap();
    assert_eq!(prepared.undo, Undo::stop_helpers(&cx.injection));
    assert!(prepared.preview[0].contains("1 thread(s) at 40 % of a core each"), "{:?}", prepared.preview);
    assert!(faults_util::helpers_of(cx.injection.as_str()).is_empty());
}

#[test]
fn a_dry_run_kill_names_its_target_and_kills_nothing() {
    let drill = Drill::new();
    let victim = Victim::spawn();
    let out =
        drill.run(&["inject", "process-kill", "-p", &format!("name={}", victim.name), "--duration", "1s", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected = format!("  send SIGKILL to pid {} ({})\n", victim.pid(), victim.name);
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(victim.state(), Some('S' | 'R')), "still running");
}
