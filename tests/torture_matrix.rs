//! Must show: `kill -9` at every crash point (`FAULTDRILL_FAILPOINTS=POINT=kill`) of every
//! fault kind, then `faultdrill recover --all`, leaves tc, nft, policy-routing rules,
//! routes, links (TUN devices), resolv.conf, mounts (FUSE), the fill dir and the
//! process table (helpers, paused processes) exactly as before. A daemon killed at each
//! point and started again rolls back by itself. The matrix is printed (`--no-capture`).
//!
//! Crash points live in `src/failpoint.rs`; they work in debug builds only, which is what
//! `cargo nextest run` builds.

mod run_common;
#[path = "torture_common/mod.rs"]
mod torture_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faultdrill::failpoint::{ENV, POINTS};
use run_common::{Owned, experiment, faultdrill, log, spawn_logged};
use torture_common::{
    Cell, HELPER_KINDS, KINDS, World, is_restored, print_matrix, recover_all, victim, wait_child, wait_for_orphan_tools,
};

/// One cell: a run of one `kind` action killed at `point`, then `recover --all`.
fn crash_cell(world: &World, kind: &str, point: &str) -> (Cell, String) {
    let state = tempfile::tempdir().unwrap();
    let victim = victim();
    let before = world.observe(state.path());
    // A crash before the rollback meets a long hold: then no helper's or watchdog's own
    // deadline can tidy up in the test's stead, and `recover --all` alone must undo it all.
    // The rollback points need the run to reach its rollback: a short hold.
    let hold = if point.starts_with("rollback.") || point.starts_with("journal.rolled_back") { "1s" } else { "60s" };
    let yaml = format!(
        "version: 1\nname: crash-{kind}\naction_groups:\n  - name: one\n    target: local\n    actions:\n{}",
        world.action(kind, hold, victim.pid())
    );
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), "crash.yaml", &yaml);
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(&file).env(ENV, format!("{point}=kill"));
    let mut run = spawn_logged(cmd, dir.path());
    let signal = match wait_child(&mut run, Duration::from_secs(30)) {
        Ok(signal) => signal,
        Err(e) => return (Cell::Dirty, format!("{kind} at {point}: the run {e}")),
    };
    wait_for_orphan_tools(world);
    let left = world.observe(state.path()) != before;
    let (code, text) = recover_all(state.path());
    // process-kill kills its victim on purpose: it is not part of what must come back.
    drop(victim);
    let restored = is_restored(world, state.path(), &before);
    let stderr = log(dir.path(), "stderr.log");
    let cell = match (signal, code, &restored) {
        (_, Some(0), Ok(())) if signal == Some(9) && left => Cell::Undone,
        (_, Some(0), Ok(())) if signal == Some(9) => Cell::Clean,
        (None, Some(0), Ok(())) if !stderr.contains(&format!("failpoint {point}")) => Cell::NotReached,
        _ => Cell::Dirty,
    };
    let detail = format!(
        "{kind} at {point}: signal {signal:?}, recover exit {code:?}: {text}\nrun stderr:\n{stderr}\n{}",
        restored.err().unwrap_or_default()
    );
    (cell, detail)
}

/// The crash matrix of `kinds`, in a world of its own (`tag`, `proxy_port`): prints it and
/// fails on any dirty cell, or on a held kind that misses a crash point.
fn crash_matrix(title: &str, tag: &str, proxy_port: u16, kinds: &[&str]) {
    assert!(faultdrill::failpoint::is_supported(), "crash points need a debug build (cargo nextest run builds one)");
    let world = World::new(tag, proxy_port);
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut dirty = Vec::new();
    for kind in kinds {
        let mut cells = Vec::new();
        for point in POINTS {
            let (cell, detail) = crash_cell(&world, kind, point);
            if cell == Cell::Dirty {
                dirty.push(detail);
            }
            cells.push(cell);
        }
        rows.push((kind.to_string(), cells));
    }
    let reached = rows.iter().flat_map(|(_, c)| c).filter(|c| matches!(c, Cell::Clean | Cell::Undone)).count();
    print_matrix(
        &format!(
            "{title} (fault kind x crash point): undone = the crash left it in place and `recover --all` undid it; \
             clean = nothing was in place; n/r = the kind never reaches that point; DIRTY = left behind"
        ),
        POINTS,
        &rows,
    );
    println!("{reached} crashes, {} cells, in {:.1?}", rows.len() * POINTS.len(), started.elapsed());
    assert!(dirty.is_empty(), "dirty cells:\n{}", dirty.join("\n----\n"));
    // Every held kind crashes at every point (network-delay too: without netem it takes
    // its user-space path); process-kill is instantaneous and ends before the rollback points.
    for (kind, cells) in &rows {
        if kind != "process-kill" {
            let all = cells.iter().all(|c| matches!(c, Cell::Clean | Cell::Undone));
            assert!(all, "{kind} did not reach every crash point: {cells:?}");
        }
    }
}

#[test]
fn kill_9_at_every_crash_point_of_every_fault_kind_then_recover_all_leaves_nothing() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let kinds: Vec<&str> = KINDS.iter().copied().filter(|k| !HELPER_KINDS.contains(k)).collect();
    crash_matrix("crash matrix", "m", 47_311, &kinds);
}

/// The kinds whose undo spans a helper and several kernel objects, as a test of their own
/// so nextest runs it beside the one above: network-delay's user-space path (TUN device,
/// fwmark rules, routes, nft table), dns-fault (nft redirect, resolver, watchdog; the
/// namespace's resolv.conf untouched), io-latency and io-error (FUSE mount, helper, guard).
#[test]
fn kill_9_at_every_crash_point_of_the_helper_kinds_then_recover_all_leaves_nothing() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    crash_matrix("crash matrix, helper kinds", "w", 47_313, HELPER_KINDS);
}

/// A daemon on loopback, with its own state dir, crash points armed from `failpoints`.
fn start_daemon(state: &std::path::Path, failpoints: Option<&str>, listen: &str) -> (Owned, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultdrill"));
    cmd.arg("--state-dir").arg(state).args(["daemon", "--listen", listen]);
    cmd.env_remove("FAULTDRILL_TOKEN").env_remove(ENV).stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(Stdio::from(std::fs::File::create(state.join("daemon.log")).unwrap()));
    if let Some(spec) = failpoints {
        cmd.env(ENV, spec);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
    let log = std::fs::read_to_string(state.join("daemon.log")).unwrap_or_default();
    assert!(url.starts_with("http"), "daemon did not start: {line:?}\n{log}");
    (Owned(child), url)
}

/// One daemon cell: `faultdrill inject FAULT --daemon` with the daemon armed to die at
/// `point`, then the daemon started again on the same state dir (it recovers at start).
fn daemon_cell(world: &World, point: &str, fault_args: &[String]) -> (Cell, Option<String>) {
    let state = tempfile::tempdir().unwrap();
    let before = world.observe(state.path());
    let (mut daemon, url) = start_daemon(state.path(), Some(&format!("{point}=kill")), "127.0.0.1:0");
    let inject = faultdrill(state.path()).arg("inject").args(fault_args).args(["--daemon", &url]).output().unwrap();
    // The daemon holds the fault and rolls it back when asked or at its deadline (rollback points).
    let signal = wait_child(&mut daemon, Duration::from_secs(15));
    if signal.is_err() {
        // Not killed at the point: stop it, so the second daemon can take its port.
        let _ = daemon.0.kill();
        let _ = daemon.0.wait();
    }
    let left = world.observe(state.path()) != before;
    let listen = url.trim_start_matches("http://").to_string();
    let (mut again, _) = start_daemon(state.path(), None, &listen);
    let restored = is_restored(world, state.path(), &before);
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(again.pid() as i32), nix::sys::signal::SIGTERM);
    let _ = wait_child(&mut again, Duration::from_secs(10));
    let daemon_log = std::fs::read_to_string(state.path().join("daemon.log")).unwrap_or_default();
    let cell = match (&signal, restored.is_ok(), left) {
        (Ok(Some(9)), true, true) => Cell::Undone,
        (Ok(Some(9)), true, false) => Cell::Clean,
        (Err(_), true, _) if !daemon_log.contains(&format!("failpoint {point}")) => Cell::NotReached,
        _ => Cell::Dirty,
    };
    let detail = (cell == Cell::Dirty).then(|| {
        format!(
            "{point}: daemon ended {signal:?}; inject said {}{}; {}\n{daemon_log}",
            String::from_utf8_lossy(&inject.stdout),
            String::from_utf8_lossy(&inject.stderr),
            restored.err().unwrap_or_default(),
        )
    });
    (cell, detail)
}

/// `inject FAULT ARGS... --daemon` rows, one per `(label, args)`, a daemon killed at each
/// crash point then started again; prints them and fails on any dirty cell. Returns the rows.
fn daemon_matrix(title: &str, world: &World, kinds: &[(&str, Vec<String>)]) -> Vec<(String, Vec<Cell>)> {
    let started = Instant::now();
    let (mut rows, mut dirty) = (Vec::new(), Vec::new());
    for (label, fault_args) in kinds {
        let mut cells = Vec::new();
        for point in POINTS {
            let (cell, detail) = daemon_cell(world, point, fault_args);
            dirty.extend(detail);
            cells.push(cell);
        }
        rows.push((label.to_string(), cells));
    }
    print_matrix(title, POINTS, &rows);
    println!("in {:.1?}", started.elapsed());
    assert!(dirty.is_empty(), "dirty cells:\n{}", dirty.join("\n----\n"));
    rows
}

/// `FAULT --param k=v ... --duration 1s` as words for `inject`.
fn inject_args(fault: &str, params: &[String]) -> Vec<String> {
    let mut args = vec![fault.to_string()];
    for param in params {
        args.extend(["--param".to_string(), param.clone()]);
    }
    args.extend(["--duration".to_string(), "1s".to_string()]);
    args
}

#[test]
fn a_daemon_killed_at_every_crash_point_rolls_back_when_started_again() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let world = World::new("d", 47_312);
    let ns = world.ns.name.clone();
    let kinds = [
        ("cpu-burn (remote)", inject_args("cpu-burn", &["percent=10".into(), "cores=1".into()])),
        (
            "network-partition (remote)",
            inject_args("network-partition", &["destinations=10.88.0.2".into(), format!("netns={ns}")]),
        ),
    ];
    let rows = daemon_matrix("daemon crash rows (the daemon started again recovers)", &world, &kinds);
    // The nft row reaches every point (its rollback always runs `nft delete table`); the
    // burner may exit by itself at its deadline just before the rollback reaches it.
    assert!(rows[1].1.iter().all(|c| matches!(c, Cell::Clean | Cell::Undone)), "{:?}", rows[1].1);
}

/// The helper kinds held by a daemon, as a test of its own so nextest runs it beside the others.
#[test]
fn a_daemon_killed_at_every_crash_point_of_a_helper_kind_rolls_back_when_started_again() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let world = World::new("e", 47_314);
    let ns = format!("netns={}", world.ns.name);
    let kinds = [
        (
            "network-delay (remote)",
            inject_args("network-delay", &["latency=50ms".into(), "interface=ta".into(), ns.clone()]),
        ),
        ("dns-fault (remote)", inject_args("dns-fault", &["names=bad.test".into(), "effect=nxdomain".into(), ns])),
        ("io-error (remote)", inject_args("io-error", &[format!("path={}", world.io_path.display())])),
    ];
    daemon_matrix("daemon crash rows, helper kinds (the daemon started again recovers)", &world, &kinds);
}
