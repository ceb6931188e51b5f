//! The controller can always clean up: `kill -9` of a controller holding faults on two real
//! daemons (leases far longer than the test), then `faultdrill recover --all` on the
//! controller rolls everything back through the daemons at once; the daemons' state after
//! equals their state before. The killed run leaves a report stub that `runs` shows as
//! abandoned and `report` can render, and its stale control socket is removed.

#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon::{BIN, Daemon, DaemonSpec, list_dir, wait_for};
use faultdrill::journal::InjectionState;

const TOKEN: &str = "recover-token-0123456789";

struct Fleet {
    daemons: Vec<Daemon>,
    inventory: PathBuf,
    fill: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Fleet {
    fn new(n: usize) -> Fleet {
        assert!(daemon::is_root(), "this test needs root (the daemons run as root); CI runs it as root");
        let work = tempfile::tempdir().unwrap();
        let token_file = work.path().join("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let mut inventory = String::from("hosts:\n");
        let daemons: Vec<Daemon> = (1..=n)
            .map(|i| {
                let name = format!("h{i}");
                let spec = DaemonSpec { name: name.clone(), token: Some(TOKEN.into()), ..DaemonSpec::default() };
                let d = Daemon::start(spec);
                // One host reads its token from a file, the others from the environment.
                let token = if i == 1 {
                    format!("{{file: {}}}", token_file.display())
                } else {
                    "{env: RECOVER_TOKEN}".to_string()
                };
                inventory.push_str(&format!(
                    "  - name: {name}\n    url: {}\n    labels: {{fleet: x}}\n    token: {token}\n",
                    d.url
                ));
                d
            })
            .collect();
        let path = work.path().join("inventory.yaml");
        std::fs::write(&path, inventory).unwrap();
        Fleet { daemons, inventory: path, fill: tempfile::tempdir().unwrap(), work }
    }

    fn state(&self) -> PathBuf {
        self.work.path().join("controller")
    }

    fn faultdrill(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--state-dir").arg(self.state()).env("RECOVER_TOKEN", TOKEN).env("NO_COLOR", "1");
        c
    }

    /// Two faults held for a minute on every host, with a minute-long lease.
    fn spawn_run(&self) -> std::process::Child {
        let path = self.work.path().join("long.yaml");
        let yaml = format!(
            "version: 1\nname: long-hold\nlease: 60s\ntargets:\n  all:\n    select: {{labels: {{fleet: x}}}}\n\
             action_groups:\n  - name: hold\n    target: all\n    mode: parallel\n    actions:\n      \
             - fault: disk-fill\n        params: {{path: \"{}\", size: 1MiB}}\n        duration: 60s\n      \
             - fault: cpu-burn\n        params: {{percent: 5, cores: 1}}\n        duration: 60s\n",
            self.fill.path().display()
        );
        std::fs::write(&path, yaml).unwrap();
        let mut c = self.faultdrill();
        c.args(["run", "--inventory"]).arg(&self.inventory).arg(&path);
        c.stdout(Stdio::null()).stderr(Stdio::from(std::fs::File::create(self.work.path().join("run.log")).unwrap()));
        c.spawn().unwrap()
    }

    /// What each daemon holds: its live injections' faults, sorted.
    fn held(&self) -> Vec<Vec<String>> {
        self.daemons
            .iter()
            .map(|d| {
                let mut faults: Vec<String> = d
                    .journal()
                    .live()
                    .unwrap()
                    .into_iter()
                    .filter(|r| r.state == InjectionState::Active)
                    .map(|r| r.fault)
                    .collect();
                faults.sort();
                faults
            })
            .collect()
    }
}

fn run_dirs(state: &Path) -> Vec<String> {
    list_dir(&state.join("runs"))
}

#[test]
fn drills_truth_kill_9_of_the_controller_then_recover_all_rolls_back_every_daemon_at_once() {
    let fleet = Fleet::new(2);
    let before = (fleet.held(), list_dir(fleet.fill.path()));
    assert_eq!(before.0, [Vec::<String>::new(), Vec::new()]);

    let mut run = fleet.spawn_run();
    let both = vec!["cpu-burn".to_string(), "disk-fill".to_string()];
    wait_for(Duration::from_secs(30), "both daemons to hold both faults", || {
        (fleet.held() == [both.clone(), both.clone()]).then_some(())
    });
    run.kill().unwrap(); // SIGKILL: the controller rolls nothing back
    run.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fleet.held(), [both.clone(), both.clone()], "nothing rolled back by itself yet (60 s lease)");
    assert_eq!(list_dir(fleet.fill.path()).len(), 2, "both fill files in place");

    let runs = run_dirs(&fleet.state());
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_id = runs[0].clone();
    let socket = fleet.state().join("runs").join(&run_id).join("control.sock");
    assert!(socket.exists(), "kill -9 leaves the control socket behind");

    // `runs` shows the run as abandoned; `report` renders its stub.
    let listed = fleet.faultdrill().arg("runs").output().unwrap();
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{listed_text}");
    assert!(listed_text.contains(&run_id) && listed_text.contains("abandoned"), "{listed_text}");
    assert!(!socket.exists(), "the stale control socket is removed");
    let stub = fleet.faultdrill().args(["report", &run_id, "--format", "junit"]).output().unwrap();
    assert_eq!(stub.status.code(), Some(0), "{}", String::from_utf8_lossy(&stub.stderr));
    assert!(String::from_utf8_lossy(&stub.stdout).contains("unfinished"));

    // The journal says where each token comes from, never the token itself.
    let state = fleet.state();
    let journal_bytes: Vec<u8> = ["journal.db", "journal.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(state.join(f)).unwrap_or_default())
        .collect();
    assert!(String::from_utf8_lossy(&journal_bytes).contains("RECOVER_TOKEN"), "the token's source is journaled");
    assert!(!String::from_utf8_lossy(&journal_bytes).contains(TOKEN), "the token itself is not");

    // Without the token's variable, h2 cannot be reached, and recover says why.
    let without = fleet.faultdrill().env_remove("RECOVER_TOKEN").args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&without.stdout);
    assert_eq!(without.status.code(), Some(4), "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains("on h2 (") && l.contains("NOT REACHED") && l.contains("RECOVER_TOKEN"))
            .count()
            == 2,
        "{stdout}"
    );
    assert_eq!(fleet.held()[1], both, "h2 still holds both");

    let started = Instant::now();
    let recover = fleet.faultdrill().args(["recover", "--all"]).output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    let stderr = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(recover.status.code(), Some(0), "recover --all:\n{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(10), "at once, not after the 60 s lease: {took:?}");
    for fault in ["disk-fill", "cpu-burn"] {
        assert!(
            stdout.lines().any(|l| l.contains(&format!("{fault} on h2 (")) && l.ends_with(": rolled back, verified")),
            "{fault} on h2 rolled back:\n{stdout}"
        );
    }
    assert!(stderr.contains("Reached 1 of 1 daemon(s)."), "only h2 was left: {stderr}");

    // The daemons' state after equals their state before (h1 was rolled back by the first try).
    assert_eq!((fleet.held(), list_dir(fleet.fill.path())), before, "every daemon back to its state before");
    for d in &fleet.daemons {
        let recent = d.journal().recent(10).unwrap();
        assert!(
            recent.iter().all(|r| r.note.as_deref().is_some_and(|n| n.contains("recover --all"))),
            "{}: rolled back by the recovery, not by a lease: {recent:?}",
            d.spec.name
        );
    }

    // A second recover finds nothing; the report stub now says what was recovered.
    let again = fleet.faultdrill().args(["recover", "--all"]).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("Nothing to recover"));
    let report = fleet.faultdrill().args(["report", &run_id]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.starts_with("abandoned:") && reason.ends_with("rolled back 4 injection(s) it left"), "{reason}");
    // h1's two, h2's two that failed without the token, then h2's two that worked.
    assert_eq!(report["rollbacks"].as_array().unwrap().len(), 6, "{report:#}");
    let listed = fleet.faultdrill().arg("runs").output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("abandoned"));
}

#[test]
fn drills_truth_recover_all_names_a_daemon_it_cannot_reach() {
    let mut fleet = Fleet::new(2);
    let mut run = fleet.spawn_run();
    let both = vec!["cpu-burn".to_string(), "disk-fill".to_string()];
    wait_for(Duration::from_secs(30), "both daemons to hold both faults", || {
        (fleet.held() == [both.clone(), both.clone()]).then_some(())
    });
    run.kill().unwrap();
    run.wait().unwrap();
    let url = fleet.daemons[1].url.clone();
    fleet.daemons[1].kill9(); // its faults stay until a daemon starts again on its state dir

    let recover = fleet.faultdrill().args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    let stderr = String::from_utf8_lossy(&recover.stderr);
    assert_eq!(recover.status.code(), Some(4), "something may still be injected:\n{stdout}\n{stderr}");
    assert!(
        stdout.lines().filter(|l| l.contains("on h1 (") && l.ends_with(": rolled back, verified")).count() == 2,
        "{stdout}"
    );
    assert!(stdout.lines().filter(|l| l.contains(&format!("on h2 ({url}): NOT REACHED"))).count() == 2, "{stdout}");
    assert!(
        stderr.contains("Reached 1 of 2 daemon(s).") && stderr.contains(&format!("Could not reach: h2 ({url})")),
        "{stderr}"
    );
    assert!(fleet.held()[0].is_empty(), "h1 rolled back");

    // Once the daemon is back (it rolls back what it left as it starts), recover confirms it.
    fleet.daemons[1].restart();
    let again = fleet.faultdrill().args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&again.stderr));
    assert!(stdout.lines().filter(|l| l.contains("on h2 (") && l.contains("already gone")).count() == 2, "{stdout}");
    assert!(list_dir(fleet.fill.path()).is_empty());
}

#[test]
fn drills_truth_kill_9_of_inject_daemon_then_recover_all_rolls_it_back() {
    let fleet = Fleet::new(1);
    let daemon = &fleet.daemons[0];
    let mut inject = fleet.faultdrill();
    inject.args(["inject", "disk-fill", "--param"]).arg(format!("path={}", fleet.fill.path().display()));
    inject.args(["--param", "size=1MiB", "--duration", "60s", "--lease", "60s", "--daemon", &daemon.url]);
    let mut child = inject.env("FAULTDRILL_TOKEN", TOKEN).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(Duration::from_secs(20), "the daemon to hold the fill", || {
        (fleet.held()[0] == ["disk-fill"]).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let recover = fleet.faultdrill().env("FAULTDRILL_TOKEN", TOKEN).args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    assert_eq!(recover.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&recover.stderr));
    assert!(stdout.contains(&format!("disk-fill on {0} ({0}): rolled back", daemon.url)), "{stdout}");
    assert!(fleet.held()[0].is_empty() && list_dir(fleet.fill.path()).is_empty(), "rolled back at once");
}

/// The controller died after the daemon applied the fault but before its answer was
/// journaled: the record holds no daemon id, and recovery finds the injection on the daemon
/// (by run and fault, or for an `inject --daemon`, by fault and time).
#[test]
fn drills_truth_recover_finds_an_injection_whose_answer_was_never_journaled() {
    use faultdrill::client::wire::InjectionRequest;
    use faultdrill::ids::{InjectionId, RunId};
    use faultdrill::journal::{Journal, NewRemoteInjection, RemoteReach, now_ms};

    let fleet = Fleet::new(1);
    let daemon = &fleet.daemons[0];
    let journal = Journal::open(&fleet.state()).unwrap();
    let reach = RemoteReach {
        host: "h1".into(),
        url: daemon.url.clone(),
        token_env: Some("RECOVER_TOKEN".into()),
        ..RemoteReach::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (fault, run) in [("disk-fill", Some(RunId::generate())), ("cpu-burn", None)] {
        journal
            .record_remote_pending(&NewRemoteInjection {
                key: InjectionId::generate(),
                run: run.clone(),
                reach: reach.clone(),
                fault: fault.into(),
                deadline_ms: now_ms() + 60_000,
            })
            .unwrap();
        let params = match fault {
            "disk-fill" => serde_json::json!({"path": fleet.fill.path(), "size": "1MiB"}),
            _ => serde_json::json!({"percent": 5, "cores": 1}),
        };
        let request = InjectionRequest {
            fault: fault.into(),
            params: serde_json::from_value(params).unwrap(),
            duration: "60s".into(),
            lease: Some("60s".into()),
            run,
            dry_run: false,
        };
        runtime.block_on(daemon.client().inject(&request)).unwrap();
    }
    assert_eq!(fleet.held()[0], ["cpu-burn", "disk-fill"]);

    let recover = fleet.faultdrill().args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    assert_eq!(recover.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&recover.stderr));
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": rolled back, verified")).count(), 2, "{stdout}");
    assert!(fleet.held()[0].is_empty() && list_dir(fleet.fill.path()).is_empty(), "both rolled back");
}
