//! Metrics count every path (issue 12, item 8): `faultdrill_injections_total` on a real
//! daemon counts the injections and rollbacks of `inject --daemon` (also when the fault was
//! already gone at rollback), and those a run on the daemon makes on its own host.

#[path = "common/daemon.rs"]
mod harness;

use std::process::{Command, Output};
use std::time::Duration;

use faultdrill::journal::InjectionState;
use harness::{BIN, Daemon, DaemonSpec, list_dir, wait_for};

/// One runtime for the whole test: the client's connections belong to the runtime that made them.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

fn metrics(d: &Daemon) -> String {
    runtime().block_on(async {
        d.client().request(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap()
    })
}

/// The value of `faultdrill_injections_total{fault="disk-fill",state=STATE}`.
fn disk_fill(d: &Daemon, state: &str) -> u64 {
    let text = metrics(d);
    let series = format!("faultdrill_injections_total{{fault=\"disk-fill\",state=\"{state}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&series)).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    line[series.len()..].trim().parse().unwrap()
}

fn cli(d: &Daemon, state: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--state-dir").arg(state).env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap()).env("NO_COLOR", "1");
    c
}

fn ok(out: Output) {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn injections_total_counts_inject_daemon_and_runs_on_the_daemon() {
    if !harness::is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipping: needs root (disk-fill through a root daemon)");
        return;
    }
    let d = Daemon::start(DaemonSpec::default());
    let (work, fill) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let state = work.path().join("cli");
    let path = format!("path={}", fill.path().display());
    assert_eq!((disk_fill(&d, "active"), disk_fill(&d, "rolled_back")), (0, 0));

    // inject --daemon: held by this process, rolled back through the API at the end.
    ok(cli(&d, &state)
        .args([
            "inject",
            "disk-fill",
            "-p",
            &path,
            "-p",
            "size=1MiB",
            "-p",
            "allow_memory_backed=true",
            "--duration",
            "1s",
            "--daemon",
            &d.url,
        ])
        .output()
        .unwrap());
    assert_eq!((disk_fill(&d, "active"), disk_fill(&d, "rolled_back")), (1, 1), "inject --daemon");

    // The fault went by itself before the rollback (the file removed under it): still a rollback.
    let mut held = cli(&d, &state)
        .args([
            "inject",
            "disk-fill",
            "-p",
            &path,
            "-p",
            "size=1MiB",
            "-p",
            "allow_memory_backed=true",
            "--duration",
            "2s",
            "--daemon",
            &d.url,
        ])
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(10), "the fill", || {
        let files = list_dir(fill.path());
        (!files.is_empty()).then_some(files)
    })
    .iter()
    .for_each(|f| std::fs::remove_file(fill.path().join(f)).unwrap());
    assert!(held.wait().unwrap().success());
    assert_eq!((disk_fill(&d, "active"), disk_fill(&d, "rolled_back")), (2, 2), "an undo that found it gone");

    // A run on the daemon: its engine injects and rolls back on the daemon's host directly.
    let file = work.path().join("fill.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: metrics-run\naction_groups:\n  - name: fill\n    actions:\n      - fault: disk-fill\n        \
             params: {{path: \"{}\", size: 1MiB, allow_memory_backed: true}}\n        duration: 1s\n",
            fill.path().display()
        ),
    )
    .unwrap();
    ok(cli(&d, &state).arg("run").arg(&file).args(["--daemon", &d.url]).output().unwrap());
    assert_eq!((disk_fill(&d, "active"), disk_fill(&d, "rolled_back")), (3, 3), "a run on the daemon");
    assert!(metrics(&d).contains("faultdrill_runs_total{outcome=\"passed\"} 1"));

    // A repeated rollback of the same injection (idempotent) is not counted twice.
    let last = d.journal().recent(1).unwrap().remove(0);
    assert_eq!(last.state, InjectionState::RolledBack);
    runtime().block_on(d.client().rollback(&last.id, "again")).unwrap();
    assert_eq!(disk_fill(&d, "rolled_back"), 3, "idempotent, and counted once");
    assert_eq!(disk_fill(&d, "failed"), 0);
}
