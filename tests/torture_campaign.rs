//! Must show: 50 `kill -9`s at random moments of whole runs of a mixed experiment (every
//! kind of fault that works here, two groups, parallel then sequential), each followed by
//! `faultdrill recover --all`, all 50 leave tc, nft, files and processes as before.
//!
//! Seeded: the seed is printed; `FAULTDRILL_TORTURE_SEED=N` replays a campaign. Trial `i`
//! draws its moment from the seed plus `i`, so one failing trial replays alone too. The 50
//! trials are two tests of 25 (each in its own namespace) so nextest runs them side by side.

mod run_common;
#[path = "torture_common/mod.rs"]
mod torture_common;

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use run_common::{experiment, faultdrill, log, spawn_logged};
use torture_common::{World, is_restored, recover_all, victim, wait_child, wait_for_orphan_tools};

const TRIALS: u64 = 50;

/// The campaign's seed: `FAULTDRILL_TORTURE_SEED`, else a fixed one, so CI runs (and both
/// halves, which nextest runs as separate processes) draw the same 50 moments.
fn seed() -> u64 {
    std::env::var("FAULTDRILL_TORTURE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_129)
}

fn mixed(world: &World, victim: u32) -> String {
    let first: String = ["cpu-burn", "disk-fill", "process-pause", "network-loss"]
        .iter()
        .map(|k| world.action(k, "500ms", 0))
        .collect();
    let second: String =
        ["network-bandwidth", "tcp-proxy-latency", "memory-stress", "network-partition", "process-kill"]
            .iter()
            .map(|k| world.action(k, "300ms", victim))
            .collect();
    format!(
        "version: 1\nname: mixed\naction_groups:\n  - name: first\n    target: local\n    mode: parallel\n    actions:\n{first}  \
         - name: second\n    target: local\n    mode: sequential\n    actions:\n{second}"
    )
}

/// Runs the mixed experiment once to the end; how long it took.
fn whole_run(world: &World) -> Duration {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let victim = victim();
    let file = experiment(dir.path(), "mixed.yaml", &mixed(world, victim.pid()));
    let started = Instant::now();
    let out = faultdrill(state.path()).arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the mixed run passes: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

/// Trials `range` of the campaign: kill -9 at a seeded moment, recover, compare.
fn campaign(tag: &str, proxy_port: u16, range: std::ops::Range<u64>) {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let seed = seed();
    println!("torture campaign seed {seed} (replay: FAULTDRILL_TORTURE_SEED={seed}), trials {range:?}");
    let world = World::new(tag, proxy_port);
    let whole = whole_run(&world);
    println!("a whole run takes {whole:.2?}; kills are drawn over [0, {whole:.2?})");
    let started = Instant::now();
    let (mut killed, mut dirty) = (0, Vec::new());
    for trial in range.clone() {
        // A kill that comes after the run ended (runs vary in length) is drawn again,
        // earlier; that run must have left nothing either.
        for attempt in 0..4u64 {
            let span = whole.as_micros() as u64 * (4 - attempt) / 4;
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(trial * 16 + attempt));
            let at = Duration::from_micros(rng.random_range(0..span.max(1)));
            let (was_killed, verdict) = one_kill(&world, at);
            killed += usize::from(was_killed);
            let text = match &verdict {
                Ok(()) if was_killed => "clean",
                Ok(()) => "clean (the run had ended: drawn again)",
                Err(_) => "DIRTY",
            };
            println!("trial {trial}: kill -9 at {at:>10.2?}: {text}");
            if let Err(e) = verdict {
                dirty.push(format!("trial {trial}, attempt {attempt} (kill at {at:?}): {e}"));
            }
            if was_killed {
                break;
            }
        }
    }
    let n = range.end - range.start;
    println!(
        "{killed} of {n} kills mid-run, all clean: {}, seed {seed}, in {:.1?}",
        dirty.is_empty(),
        started.elapsed()
    );
    assert!(dirty.is_empty(), "seed {seed}: dirty trials:\n{}", dirty.join("\n----\n"));
    assert_eq!(killed as u64, n, "every trial kills a run mid-way");
}

/// Starts the mixed run, `kill -9`s it `at` in, recovers, compares. Whether the kill came
/// while the run was running, and whether everything is as before.
fn one_kill(world: &World, at: Duration) -> (bool, Result<(), String>) {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let victim = victim();
    let before = world.observe(state.path());
    let file = experiment(dir.path(), "mixed.yaml", &mixed(world, victim.pid()));
    let mut cmd = faultdrill(state.path());
    cmd.arg("run").arg(&file);
    let mut run = spawn_logged(cmd, dir.path());
    std::thread::sleep(at);
    let was_running = run.0.try_wait().unwrap().is_none();
    let _ = run.0.kill();
    let signal = wait_child(&mut run, Duration::from_secs(10)).unwrap();
    wait_for_orphan_tools(world);
    let (code, text) = recover_all(state.path());
    drop(victim);
    let verdict = match (code, is_restored(world, state.path(), &before)) {
        (Some(0), Ok(())) => Ok(()),
        (code, restored) => Err(format!(
            "recover exit {code:?}: {text}\n{}\nrun stderr:\n{}",
            restored.err().unwrap_or_default(),
            log(dir.path(), "stderr.log")
        )),
    };
    (was_running && signal == Some(9), verdict)
}

#[test]
fn random_kill_9_campaign_first_half_leaves_nothing() {
    campaign("ca", 47_321, 0..TRIALS / 2);
}

#[test]
fn random_kill_9_campaign_second_half_leaves_nothing() {
    campaign("cb", 47_322, TRIALS / 2..TRIALS);
}
