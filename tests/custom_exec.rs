//! Must show (issue 13, item 2): an `exec` fault's rollback command runs after a normal end,
//! a guardrail trip, SIGTERM, and `kill -9` + `recover --all`. The inject command writes a
//! marker file (the fault); the rollback removes it and appends a line to a log (proof it
//! ran, once). The state (the marker directory) is compared before and after. A failing
//! rollback command gives exit 4 naming the action, the command and its stderr, and
//! `recover` retries it. `irreversible: true` shows in the dry run, the report and JUnit.

mod run_common;

use std::path::PathBuf;
use std::time::Duration;

use faultdrill::journal::{InjectionState, Journal};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use run_common::{entries, experiment, faultdrill, log, spawn_logged, wait_exit, wait_until};

struct Scene {
    work: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let scene = Scene { work: tempfile::tempdir().unwrap(), state: tempfile::tempdir().unwrap() };
        std::fs::create_dir(scene.faults()).unwrap();
        scene
    }

    /// Where the inject command leaves its marker: the state under test.
    fn faults(&self) -> PathBuf {
        self.work.path().join("faults")
    }

    fn marker(&self) -> PathBuf {
        self.faults().join("injected")
    }

    /// One line per rollback command that ran: `rollback <injection id>`.
    fn rollbacks(&self) -> Vec<String> {
        std::fs::read_to_string(self.work.path().join("rollbacks.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// An experiment holding one exec action for `hold`, with `extra` YAML after `actions`' params.
    fn yaml(&self, hold: &str, rollback: &str, extra_params: &str, top: &str) -> String {
        let (marker, dir, env) = (self.marker(), self.work.path(), self.work.path().join("env.txt"));
        format!(
            r#"version: 1
name: exec-drill
{top}action_groups:
  - name: custom
    target: local
    actions:
      - fault: exec
        params:
          inject: [sh, -c, 'env | grep ^FAULTDRILL_ | sort > {env}; echo "$FAULTDRILL_INJECTION_ID" > {marker}']
          rollback: {rollback}
          verify_injected: [test, -f, {marker}]
          timeout: 5s{extra_params}
        duration: {hold}
"#,
            env = env.display(),
            marker = marker.display(),
            rollback = rollback.replace("{dir}", &dir.display().to_string()),
        )
    }

    /// The rollback: removes the marker, then logs that it ran.
    fn rollback(&self) -> String {
        format!(
            r#"[sh, -c, 'rm -f {}; echo "$FAULTDRILL_STEP $FAULTDRILL_INJECTION_ID" >> {}/rollbacks.log']"#,
            self.marker().display(),
            self.work.path().display()
        )
    }

    fn run(&self, yaml: &str, args: &[&str]) -> std::process::Output {
        let file = experiment(self.work.path(), "exec.yaml", yaml);
        faultdrill(self.state.path()).arg("run").arg(file).args(args).output().unwrap()
    }

    fn spawn(&self, yaml: &str, args: &[&str]) -> run_common::Owned {
        let file = experiment(self.work.path(), "exec.yaml", yaml);
        let mut cmd = faultdrill(self.state.path());
        cmd.arg("run").arg(file).args(args);
        spawn_logged(cmd, self.work.path())
    }

    fn journal(&self) -> Journal {
        Journal::open(self.state.path()).unwrap()
    }
}

fn report_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&output.stdout), stderr(output)))
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn exec_rollback_runs_after_a_normal_end_with_the_faultdrill_environment() {
    let scene = Scene::new();
    let before = entries(&scene.faults());
    let out = scene.run(&scene.yaml("1s", &scene.rollback(), "", ""), &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = report_of(&out);
    let id = report["injections"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(scene.rollbacks(), vec![format!("rollback {id}")], "the rollback ran once, for this injection");
    assert_eq!(entries(&scene.faults()), before, "state before == state after");
    let env = std::fs::read_to_string(scene.work.path().join("env.txt")).unwrap();
    let run = report["run_id"].as_str().unwrap();
    for line in [
        format!("FAULTDRILL_INJECTION_ID={id}"),
        format!("FAULTDRILL_RUN_ID={run}"),
        "FAULTDRILL_HOST=local".into(),
        "FAULTDRILL_FAULT=exec".into(),
        "FAULTDRILL_STEP=inject".into(),
        "FAULTDRILL_PARAM_TIMEOUT=5s".into(),
        "FAULTDRILL_PARAM_ROLLBACK_RETRIES=3".into(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in:\n{env}");
    }
    assert_eq!(report["rollbacks"][0]["ok"], true);
    assert_eq!(
        scene.journal().get(&faultdrill::ids::InjectionId::from_string(&id)).unwrap().unwrap().state,
        InjectionState::RolledBack
    );
}

#[test]
fn exec_rollback_runs_after_a_guardrail_trip() {
    let scene = Scene::new();
    let before = entries(&scene.faults());
    // The guardrail breaches as soon as the fault is in place: the marker exists.
    let guardrail = format!(
        r#"guardrails:
  interval: 100ms
  rules:
    - name: marker-present
      command: {{run: [sh, -c, 'test -f {} && echo 1 || echo 0']}}
      breach: ">= 1"
      for: 1
"#,
        scene.marker().display()
    );
    let out = scene.run(&scene.yaml("30s", &scene.rollback(), "", &guardrail), &["--json"]);
    assert_eq!(out.status.code(), Some(2), "guardrail tripped; {}", stderr(&out));
    let report = report_of(&out);
    assert_eq!(report["outcome"], "guardrail_tripped");
    let id = report["injections"][0]["id"].as_str().unwrap();
    assert_eq!(scene.rollbacks(), vec![format!("rollback {id}")]);
    assert_eq!(entries(&scene.faults()), before, "state before == state after");
}

#[test]
fn exec_rollback_runs_after_sigterm() {
    let scene = Scene::new();
    let before = entries(&scene.faults());
    let mut run = scene.spawn(&scene.yaml("60s", &scene.rollback(), "", ""), &["--json"]);
    assert!(
        wait_until(Duration::from_secs(20), || scene.marker().exists()),
        "{}",
        log(scene.work.path(), "stderr.log")
    );
    kill(Pid::from_raw(run.pid() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_exit(&mut run, Duration::from_secs(20)), Some(130), "{}", log(scene.work.path(), "stderr.log"));
    let id = std::fs::read_to_string(scene.work.path().join("env.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("FAULTDRILL_INJECTION_ID=").map(String::from))
        .unwrap();
    assert_eq!(scene.rollbacks(), vec![format!("rollback {id}")]);
    assert_eq!(entries(&scene.faults()), before, "state before == state after");
}

#[test]
fn exec_rollback_runs_on_recover_all_after_kill_9() {
    let scene = Scene::new();
    let before = entries(&scene.faults());
    let mut run = scene.spawn(&scene.yaml("60s", &scene.rollback(), "", ""), &[]);
    assert!(
        wait_until(Duration::from_secs(20), || scene.marker().exists()),
        "{}",
        log(scene.work.path(), "stderr.log")
    );
    run.0.kill().unwrap(); // SIGKILL: no rollback can run
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by a signal");
    std::thread::sleep(Duration::from_millis(300));
    assert!(scene.marker().exists(), "nothing rolled back by itself");
    assert!(scene.rollbacks().is_empty());
    let journal = scene.journal();
    let live = journal.live().unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].undo["kind"], "run_command", "the rollback argv is the journaled undo: {}", live[0].undo);

    let recover = faultdrill(scene.state.path()).args(["recover", "--all"]).output().unwrap();
    assert_eq!(recover.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&recover.stdout), stderr(&recover));
    assert_eq!(scene.rollbacks(), vec![format!("rollback {}", live[0].id)]);
    assert_eq!(entries(&scene.faults()), before, "state before == state after");
    assert!(journal.live().unwrap().is_empty());
}

#[test]
fn a_failing_rollback_command_exits_4_names_the_command_and_its_stderr_and_recover_retries_it() {
    let scene = Scene::new();
    let allow = scene.work.path().join("allow-switchback");
    let rollback = format!(
        r#"[sh, -c, 'test -f {} || {{ echo "replica lag too high: refusing the switch back" >&2; exit 3; }}; rm -f {}']"#,
        allow.display(),
        scene.marker().display()
    );
    let junit = scene.work.path().join("junit.xml");
    let extra = "\n          rollback_retries: 1\n          retry_backoff: 50ms";
    let yaml = scene.yaml("500ms", &rollback, extra, "");
    let out = scene.run(&yaml, &["--json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "rollback failed; {}", stderr(&out));
    assert!(scene.marker().exists(), "the fault is still in place");
    let report = report_of(&out);
    let rb = &report["rollbacks"][0];
    assert_eq!(rb["ok"], false);
    assert_eq!(rb["action"], "custom/exec#1", "the report names the action");
    let detail = rb["detail"].as_str().unwrap();
    assert!(detail.starts_with("rollback command failed (2 tries): `sh -c 'test -f "), "{detail}");
    assert!(
        detail.ends_with("exited with status 3; stderr: replica lag too high: refusing the switch back"),
        "{detail}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("rollback: custom/exec#1 on local"), "{xml}");
    assert!(xml.contains("stderr: replica lag too high: refusing the switch back"), "{xml}");
    assert!(stderr(&out).contains("replica lag too high"), "{}", stderr(&out));

    // Still failing: recover says so and keeps it.
    let again = faultdrill(scene.state.path()).args(["recover", "--all"]).output().unwrap();
    assert_ne!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stdout));
    assert_eq!(scene.journal().live().unwrap().len(), 1, "a failed rollback is never forgotten");
    // The operator fixes the cause; recover retries the journaled command.
    std::fs::write(&allow, "").unwrap();
    let recover = faultdrill(scene.state.path()).args(["recover", "--all"]).output().unwrap();
    assert_eq!(recover.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&recover.stdout), stderr(&recover));
    assert!(!scene.marker().exists(), "rolled back by recover");
    assert!(scene.journal().live().unwrap().is_empty());
}

#[test]
fn exec_rollback_runs_when_a_later_action_fails() {
    let scene = Scene::new();
    let before = entries(&scene.faults());
    // A second group, started beside the first, whose inject command fails a second later:
    // the run errors (exit 3) and rolls back the first.
    let failing = format!(
        r#"  - name: broken
    target: local
    after: []
    actions:
      - fault: exec
        params:
          inject: [sh, -c, 'echo "no such cluster" >&2; exit 2']
          rollback: [sh, -c, 'echo "cleanup $FAULTDRILL_INJECTION_ID" >> {}/cleanups.log']
        duration: 30s
        wait_before: 1s
"#,
        scene.work.path().display()
    );
    let yaml = scene.yaml("30s", &scene.rollback(), "", "") + &failing;
    let out = scene.run(&yaml, &["--json"]);
    assert_eq!(out.status.code(), Some(3), "error; {}", stderr(&out));
    let report = report_of(&out);
    assert!(report["reason"].as_str().unwrap().contains("stderr: no such cluster"), "{}", report["reason"]);
    let id = report["injections"][0]["id"].as_str().unwrap();
    assert_eq!(scene.rollbacks(), vec![format!("rollback {id}")], "the first action was rolled back");
    assert_eq!(entries(&scene.faults()), before, "state before == state after");
    let cleanups = std::fs::read_to_string(scene.work.path().join("cleanups.log")).unwrap();
    assert_eq!(cleanups.lines().count(), 1, "the failed inject's own rollback ran once too: {cleanups}");
}

#[test]
fn irreversible_shows_in_the_dry_run_the_report_and_junit() {
    let scene = Scene::new();
    let yaml = scene.yaml("300ms", "x", "", "").replace("          rollback: x\n", "          irreversible: true\n");
    let dry = scene.run(&yaml, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("custom/exec#1 for 300ms, cannot be undone"), "{text}");
    assert!(text.contains("irreversible: this action cannot be undone (no rollback)"), "{text}");
    assert!(!scene.marker().exists(), "a dry run changes nothing");

    let junit = scene.work.path().join("junit.xml");
    let out = scene.run(&yaml, &["--json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("injected (irreversible: cannot be undone)"), "{err}");
    assert!(err.contains("duration ended (irreversible: nothing to roll back)"), "{err}");
    assert!(err.contains("irreversible, not rolled back (cannot be undone): custom/exec#1 on local"), "{err}");
    let report = report_of(&out);
    assert_eq!(report["injections"][0]["irreversible"], true, "{report:#}");
    assert!(scene.marker().exists(), "nothing undid it: it cannot be undone");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<property name="irreversible" value="true"/>"#), "{xml}");
    assert!(xml.contains("custom/exec#1: irreversible, cannot be undone (no rollback)"), "{xml}");
}

#[test]
fn a_guardrail_trip_says_which_actions_cannot_be_undone() {
    let scene = Scene::new();
    let guardrail = format!(
        r#"guardrails:
  interval: 100ms
  rules:
    - name: marker-present
      command: {{run: [sh, -c, 'test -f {} && echo 1 || echo 0']}}
      breach: ">= 1"
      for: 1
"#,
        scene.marker().display()
    );
    let yaml =
        scene.yaml("30s", "x", "", &guardrail).replace("          rollback: x\n", "          irreversible: true\n");
    let out = scene.run(&yaml, &["--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("guardrail marker-present tripped: rolling back, but one action cannot be undone (irreversible, no rollback): custom/exec#1 on local"),
        "{err}"
    );
}
