//! Must show: a rollback that hangs (a `tc` first on PATH that sleeps on `qdisc del`, both
//! the worker's rollback at the end of the hold and the loop's own at the deadline) does
//! not stop SIGTERM or `faultdrill stop` from being answered within 1 s; the run reports
//! progress while it waits, and once `tc` answers again, everything is rolled back.

mod run_common;
#[path = "torture_common/mod.rs"]
mod torture_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use run_common::{experiment, faultdrill, log, pids_with_cmdline, spawn_logged, wait_until};
use torture_common::{World, wait_child};

/// A directory with a `tc` that passes everything to the real one, except a batch deleting
/// a qdisc, which waits while `hang` exists.
fn hanging_tc(dir: &Path, hang: &Path) -> PathBuf {
    let real = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         # faultdrill-test-hanging-tc\n\
         if [ \"$1\" = \"-batch\" ]; then\n\
           script=$(cat)\n\
           case \"$script\" in *\"qdisc del\"*) while [ -e '{hang}' ]; do sleep 0.05; done;; esac\n\
           printf '%s\\n' \"$script\" | exec {real} \"$@\"\n\
         fi\n\
         exec {real} \"$@\"\n",
        hang = hang.display()
    );
    let tc = bin.join("tc");
    std::fs::write(&tc, script).unwrap();
    std::fs::set_permissions(&tc, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Waits until the run's stderr contains `needle`; how long that took.
fn answered_within(dir: &Path, needle: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    wait_until(limit, || log(dir, "stderr.log").contains(needle)).then(|| start.elapsed())
}

/// The id of the one run in `state`.
fn run_id(state: &Path) -> String {
    let mut id = None;
    wait_until(Duration::from_secs(10), || {
        id = std::fs::read_dir(state.join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned());
        id.is_some()
    });
    id.expect("the run has a directory under runs/")
}

fn hanging_run(world: &World, hang: &Path) -> (run_common::Owned, tempfile::TempDir, tempfile::TempDir, String) {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(hang, "").unwrap();
    let bin = hanging_tc(dir.path(), hang);
    let yaml = format!(
        "version: 1\nname: hang\naction_groups:\n  - name: shape\n    target: local\n    actions:\n{}",
        world.action("network-bandwidth", "1s", 0)
    );
    let file = experiment(dir.path(), "hang.yaml", &yaml);
    let mut cmd = faultdrill(state.path());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    cmd.arg("run").arg(&file).env("PATH", path);
    let run = spawn_logged(cmd, dir.path());
    let id = run_id(state.path());
    // The worker's rollback hangs at the end of the hold, then the loop's own at the
    // deadline (hold + 1 s margin + 2 s grace): both wait on the hanging tc.
    let hung = wait_until(Duration::from_secs(15), || {
        pids_with_cmdline(&format!("{} -batch -", bin.join("tc").display())).len() >= 2
    });
    assert!(hung, "two rollbacks hang on tc; stderr:\n{}", log(dir.path(), "stderr.log"));
    std::thread::sleep(Duration::from_millis(300));
    (run, state, dir, id)
}

#[test]
fn sigterm_and_stop_are_answered_within_1s_while_a_rollback_hangs() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let world = World::new("h", 47_331);
    let hang = world.work.path().join("hang");
    let state_before = world.ns.snapshot();
    let (mut run, state, dir, id) = hanging_run(&world, &hang);

    let pid = nix::unistd::Pid::from_raw(run.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let sigterm = answered_within(dir.path(), "SIGTERM received", Duration::from_secs(5));

    let started = Instant::now();
    let stop = faultdrill(state.path()).args(["stop", &id]).output().unwrap();
    let stop_returned = started.elapsed();
    let stop_seen = answered_within(dir.path(), "stop requested", Duration::from_secs(5)).map(|d| d + stop_returned);
    let progress = answered_within(dir.path(), "waiting", Duration::from_secs(3));
    println!(
        "while a rollback hangs: SIGTERM answered in {sigterm:?}; `faultdrill stop` returned in {stop_returned:?} \
         and the run acknowledged it in {stop_seen:?}; progress line after {progress:?}"
    );
    assert!(stop.status.success(), "stop: {}", String::from_utf8_lossy(&stop.stderr));
    assert!(sigterm.is_some_and(|d| d < Duration::from_secs(1)), "SIGTERM answered in {sigterm:?}");
    assert!(stop_returned < Duration::from_secs(1), "stop returned in {stop_returned:?}");
    assert!(stop_seen.is_some_and(|d| d < Duration::from_secs(1)), "stop acknowledged in {stop_seen:?}");
    assert!(progress.is_some(), "the run reports what it waits on:\n{}", log(dir.path(), "stderr.log"));

    // tc answers again: the rollback completes and nothing is left.
    std::fs::remove_file(&hang).unwrap();
    let ended = wait_child(&mut run, Duration::from_secs(30));
    let stderr = log(dir.path(), "stderr.log");
    assert_eq!(ended, Ok(None), "the run exits by itself; stderr:\n{stderr}");
    assert_eq!(run.0.try_wait().unwrap().and_then(|s| s.code()), Some(130), "interrupted, after rollback:\n{stderr}");
    assert_eq!(world.ns.snapshot(), state_before, "nothing left in the namespace:\n{stderr}");
    assert!(stderr.contains("everything was rolled back"), "{stderr}");
}
