//! A new user's first hour (issue 12, item 5): the run id is printed when the run starts;
//! `runs`, `status` and `stop` work on local runs (the state dir) without `--daemon`, and
//! `report`'s hint points at them; `faultdrill init` writes a starter that validates as it
//! is; `run --template NAME --daemon URL` renders on the client and runs on a real daemon;
//! `tests/setup.sh` installs cargo-nextest when it is missing.

mod run_common;

#[path = "common/daemon.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

use harness::{Daemon, DaemonSpec};
use run_common::{Tmpfs, entries, experiment, faultdrill, root_or_skip, spawn_logged, wait_exit, wait_until};

const SHORT_BURN: &str = r#"version: 1
name: short-burn
action_groups:
  - name: burn
    actions:
      - fault: cpu-burn
        params: {percent: 5, cores: 1}
        duration: HOLD
"#;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run id named on the first line of a run's stderr.
fn started_id(stderr: &str) -> String {
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("Run r-") && first.contains(" of short-burn started"), "first line: {first:?}");
    first.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn the_run_id_comes_first_and_runs_status_and_report_find_the_local_run() {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = experiment(dir.path(), "burn.yaml", &SHORT_BURN.replace("HOLD", "1s"));
    let out = faultdrill(state.path()).arg("run").arg(&file).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = started_id(&text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["run_id"], id.as_str(), "the id printed at the start is the run's");

    let runs = faultdrill(state.path()).arg("runs").output().unwrap();
    assert_eq!(runs.status.code(), Some(0), "{}", text(&runs.stderr));
    let line = text(&runs.stdout);
    assert!(line.starts_with(&id) && line.contains("finished") && line.contains("passed"), "{line}");

    let status = faultdrill(state.path()).args(["status", &id]).output().unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let shown = text(&status.stdout);
    assert!(shown.starts_with(&format!("run {id} of short-burn: finished passed (exit 0)")), "{shown}");

    // `report`'s hint names `faultdrill runs`, which now answers without --daemon.
    let missing = faultdrill(state.path()).args(["report", "r-nosuchrun"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(64));
    assert!(text(&missing.stderr).contains("pass a run id from `faultdrill runs`"), "{}", text(&missing.stderr));
    let unknown = faultdrill(state.path()).args(["status", "r-nosuchrun"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(64));
    assert!(text(&unknown.stderr).contains("`faultdrill runs` lists its runs"), "{}", text(&unknown.stderr));

    let empty = tempfile::tempdir().unwrap();
    let none = faultdrill(empty.path()).arg("runs").output().unwrap();
    assert!(text(&none.stdout).starts_with("no runs in "), "{}", text(&none.stdout));
}

#[test]
fn a_local_run_in_progress_shows_as_running_and_stop_rolls_it_back() {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = experiment(dir.path(), "burn.yaml", &SHORT_BURN.replace("HOLD", "60s"));
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(&file);
    let mut run = spawn_logged(cmd, dir.path());
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(20), || log().contains("cpu-burn")), "the burn started:\n{}", log());
    let id = started_id(&log());

    let status = faultdrill(state.path()).args(["status", &id]).output().unwrap();
    assert!(text(&status.stdout).starts_with(&format!("run {id} of short-burn: running")), "{}", text(&status.stdout));

    let stop = faultdrill(state.path()).args(["stop", &id]).output().unwrap();
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(wait_exit(&mut run, Duration::from_secs(30)), Some(130), "interrupted after rollback:\n{}", log());
    let status = faultdrill(state.path()).args(["status", &id]).output().unwrap();
    assert!(text(&status.stdout).contains("finished interrupted (exit 130)"), "{}", text(&status.stdout));
}

#[test]
fn init_writes_a_starter_that_validates_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let init = |args: &[&str]| faultdrill(&state).arg("init").args(args).current_dir(dir.path()).output().unwrap();
    let out = init(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("faultdrill validate experiment.yaml"), "{}", text(&out.stdout));
    let written = std::fs::read_to_string(dir.path().join("experiment.yaml")).unwrap();
    assert!(written.lines().filter(|l| l.trim_start().starts_with('#')).count() >= 10, "commented:\n{written}");
    let validate = faultdrill(&state).args(["validate", "experiment.yaml"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(validate.status.code(), Some(0), "{}", text(&validate.stderr));
    let dry =
        faultdrill(&state).args(["run", "experiment.yaml", "--dry-run"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));

    let again = init(&[]);
    assert_eq!(again.status.code(), Some(64), "never overwrites silently");
    assert!(text(&again.stderr).contains("already exists; pass --force"), "{}", text(&again.stderr));

    // From a template: a required parameter must be given; then it validates as it is.
    let missing = init(&["drill.yaml", "--template", "disk-full-guardrail"]);
    assert_eq!(missing.status.code(), Some(64), "{}", text(&missing.stderr));
    let out = init(&["drill.yaml", "--template", "disk-full-guardrail", "--set", "path=/tmp"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let drill = std::fs::read_to_string(dir.path().join("drill.yaml")).unwrap();
    assert!(drill.starts_with("# Written by `faultdrill init --template disk-full-guardrail --set path=/tmp`"));
    assert!(drill.contains("expect_outcome: guardrail_tripped"), "comments and keys kept:\n{drill}");
    let validate = faultdrill(&state).args(["validate", "drill.yaml"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(validate.status.code(), Some(0), "{}", text(&validate.stderr));
}

#[test]
fn run_with_a_template_and_a_daemon_renders_here_and_runs_there() {
    if !root_or_skip("run_with_a_template_and_a_daemon_renders_here_and_runs_there") {
        return;
    }
    let fs = Tmpfs::mount("64m");
    let (baseline, before) = (fs.used_percent(), entries(fs.path()));
    let daemon = Daemon::start(DaemonSpec::default());
    let state = tempfile::tempdir().unwrap();
    let out = faultdrill(state.path())
        .args(["run", "--template", "disk-full-guardrail", "--set"])
        .arg(format!("path={}", fs.path().display()))
        .args(["--set", "allow_memory_backed=true", "--daemon", &daemon.url, "--json"])
        .env("FAULTDRILL_TOKEN", daemon.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the expected trip, on the daemon; stderr:\n{stderr}");
    assert!(stderr.contains(&format!("submitted to {}", daemon.url)), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "guardrail_tripped");
    assert_eq!(report["experiment"], "disk-full-guardrail");
    let id = report["run_id"].as_str().unwrap();
    let on_daemon = daemon.journal().runs(10).unwrap();
    assert!(on_daemon.iter().any(|r| r.id.as_str() == id), "the daemon ran it: {on_daemon:?}");
    assert_eq!(entries(fs.path()), before, "the fill is gone");
    assert!((fs.used_percent() - baseline).abs() < 0.5);
    assert!(Path::new(&state.path().join("runs").join(id).join("report.json")).is_file(), "kept here too");
}

#[test]
fn setup_installs_cargo_nextest_when_it_is_missing() {
    let script = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/setup.sh")).unwrap();
    let check = script.find("if ! cargo nextest --version").expect("setup.sh checks for cargo-nextest");
    assert!(script[check..].contains("cargo install cargo-nextest --locked"), "and installs it when missing");
    let syntax = std::process::Command::new("bash")
        .args(["-n", "tests/setup.sh"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(syntax.success());
}

/// Log lines never land inside the live progress line: on a terminal (a pty from `script`),
/// the spinner's line is cleared before a log line is written.
#[test]
fn log_lines_do_not_tear_the_progress_line_on_a_terminal() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "util-linux's script is part of the test machine");
        return;
    }
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A guardrail trip logs a WARN line while the spinner is on screen.
    let file = experiment(
        dir.path(),
        "tty.yaml",
        r#"version: 1
name: tty
guardrails:
  interval: 200ms
  rules:
    - name: health
      http: {url: "http://127.0.0.1:1/health", timeout: 500ms}
      breach: "!= 200"
      for: 2
action_groups:
  - name: burn
    actions:
      - fault: cpu-burn
        params: {percent: 5, cores: 1}
        duration: 10s
"#,
    );
    let command = format!(
        "'{}' --state-dir '{}' run '{}'",
        env!("CARGO_BIN_EXE_faultdrill"),
        state.path().display(),
        file.display()
    );
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let screen = out.stdout;
    let warn = screen.windows(17).position(|w| w == b"Guardrail tripped").expect("the WARN log line is shown");
    let line_start = screen[..warn].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let before = &screen[line_start..warn];
    // What precedes the log text on its line: at most the spinner being cleared (`\r`, `ESC[2K`,
    // cursor moves), never the spinner's own text.
    let clear = b"\x1b[2K";
    let last_clear = before.windows(clear.len()).rposition(|w| w == clear).expect("the spinner line is cleared first");
    let after_clear = String::from_utf8_lossy(&before[last_clear..]);
    assert!(!after_clear.contains("guardrail health ="), "no spinner text on the log line: {after_clear:?}");
}
