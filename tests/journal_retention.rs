//! Journal retention through a real daemon: on start it prunes old finished runs and
//! rolled-back injections, and never an injection whose rollback failed (it may still be
//! in place) nor a run that has one.

#[path = "common/daemon.rs"]
mod harness;

use std::time::Duration;

use faultdrill::ids::{InjectionId, RunId};
use faultdrill::journal::{InjectionState, Journal, NewInjection, now_ms};
use harness::{Daemon, DaemonSpec, wait_for};

const DAY_MS: i64 = 86_400_000;

/// Journals an injection in `state`, with an undo that cannot succeed when `stuck`
/// (procfs refuses to unlink its files), so its rollback keeps failing.
fn journal_injection(journal: &Journal, state: InjectionState, stuck: bool, run: Option<&RunId>) -> InjectionId {
    let id = InjectionId::generate();
    let undo = if stuck {
        serde_json::json!({"kind": "delete_file", "path": "/proc/version"})
    } else {
        serde_json::json!({"kind": "nothing"})
    };
    let new = NewInjection {
        id: id.clone(),
        run: run.cloned(),
        fault: "disk-fill".into(),
        params: serde_json::json!({}),
        undo,
        deadline_ms: now_ms() + 3_600_000,
        lease_ms: None,
    };
    journal.record_pending(&new).unwrap();
    journal.set_state(&id, state, Some("set up by the test")).unwrap();
    id
}

/// Moves every record `days` into the past, straight in the SQLite file.
fn age_everything(journal: &Journal, days: i64) {
    let c = rusqlite::Connection::open(journal.path()).unwrap();
    let then = now_ms() - days * DAY_MS;
    c.execute("UPDATE injections SET created_ms = ?1, updated_ms = ?1", [then]).unwrap();
    c.execute("UPDATE runs SET started_ms = ?1, finished_ms = ?1", [then]).unwrap();
}

#[test]
fn a_starting_daemon_prunes_old_history_but_never_a_failed_rollback() {
    if !harness::is_root() {
        eprintln!("skipped: needs root (CI runs it as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let journal = Journal::open(&state_dir).unwrap();
    let old_done = journal_injection(&journal, InjectionState::RolledBack, false, None);
    let failed = journal_injection(&journal, InjectionState::Failed, true, None);
    let done_run = RunId::generate();
    journal.record_run_start(&done_run, "done").unwrap();
    journal.record_run_state(&done_run, "finished", Some("passed")).unwrap();
    let failed_run = RunId::generate();
    journal.record_run_start(&failed_run, "rollback-failed").unwrap();
    journal.record_run_state(&failed_run, "finished", Some("rollback_failed")).unwrap();
    let failed_in_run = journal_injection(&journal, InjectionState::Failed, true, Some(&failed_run));
    age_everything(&journal, 400);
    drop(journal);

    let d = Daemon::start(DaemonSpec { state_dir: Some(state_dir), ..DaemonSpec::default() });
    wait_for(Duration::from_secs(10), "the daemon to prune the old rolled-back injection", || {
        d.journal().get(&old_done).unwrap().is_none().then_some(())
    });
    let journal = d.journal();
    for id in [&failed, &failed_in_run] {
        let r = journal.get(id).unwrap().expect("a failed rollback is never pruned");
        assert_eq!(r.state, InjectionState::Failed, "{id}: {:?}", r.note);
    }
    let runs: Vec<RunId> = journal.runs(100).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(runs, vec![failed_run], "the finished run goes, the one with a failed rollback stays");
}

#[test]
fn a_local_run_prunes_beyond_journal_keep_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = dir.path().join("burn.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: short-burn\naction_groups:\n  - name: burn\n    target: local\n    actions:\n      \
         - fault: cpu-burn\n        params: {percent: 5, cores: 1}\n        duration: 200ms\n",
    )
    .unwrap();
    for _ in 0..3 {
        let out = std::process::Command::new(harness::BIN)
            .arg("--state-dir")
            .arg(&state)
            .arg("run")
            .arg(&file)
            .args(["--journal-keep-runs", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let journal = Journal::open(&state).unwrap();
    assert_eq!(journal.runs(10).unwrap().len(), 1, "only the newest finished run is kept");
    assert_eq!(journal.recent(10).unwrap().len(), 1, "only the newest rolled-back injection is kept");
    assert_eq!(harness::list_dir(&state.join("runs")).len(), 1, "only the newest report is kept");
}
