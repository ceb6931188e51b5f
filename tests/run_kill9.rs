//! Must show: `kill -9` of `faultdrill run` in the middle of disk-fill + cpu-burn +
//! process-pause (one parallel group), then `faultdrill recover --all`: the fill file is
//! gone, no burner is left and the paused process runs again — state before == after.
//! The same for memory-stress: its holder outlives the controller until `recover --all`.

mod run_common;

use std::sync::Arc;
use std::time::Duration;

use faultdrill::journal::{InjectionState, Journal};
use run_common::{
    MEMORY_HELD, MemoryScene, Scene, entries, faultdrill, log, memory_holder, pids_with_cmdline, proc_state, rss_bytes,
    wait_exit, wait_until,
};

#[test]
fn kill_9_mid_run_then_recover_all_restores_everything() {
    let scene = Scene::new();
    let before = scene.observe();
    let (data, pid) = (scene.data.path().display(), scene.sleeper.pid());
    let yaml = format!(
        "version: 1
name: killed-mid-run
action_groups:
  - name: three
    target: local
    mode: parallel
    actions:
      - fault: disk-fill
        params: {{path: {data}, size: 4MiB}}
        duration: 60s
      - fault: cpu-burn
        params: {{percent: 20, cores: 1}}
        duration: 60s
      - fault: process-pause
        params: {{pid: {pid}}}
        duration: 60s
"
    );
    let mut run = scene.spawn_run("three.yaml", &yaml, &[]);

    let journal = Arc::new(Journal::open(scene.state.path()).unwrap());
    let burner_id = || {
        journal
            .live()
            .unwrap()
            .into_iter()
            .find(|r| r.fault == "cpu-burn" && r.state == InjectionState::Active)
            .map(|r| r.id)
    };
    let all_in_place = wait_until(Duration::from_secs(20), || {
        entries(scene.data.path()).len() == 1
            && proc_state(scene.sleeper.pid()) == Some('T')
            && burner_id().is_some_and(|id| !pids_with_cmdline(id.as_str()).is_empty())
    });
    assert!(all_in_place, "all three faults in place; stderr:\n{}", log(scene.work.path(), "stderr.log"));
    let burner = burner_id().unwrap();

    run.0.kill().unwrap(); // SIGKILL: no rollback can run
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by a signal");
    assert_eq!(journal.live().unwrap().len(), 3, "the journal still holds all three");
    assert_eq!(proc_state(scene.sleeper.pid()), Some('T'), "still paused: nothing rolled back by itself");

    let recover = faultdrill(scene.state.path()).args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    assert_eq!(recover.status.code(), Some(0), "recover --all: {stdout}\n{}", String::from_utf8_lossy(&recover.stderr));

    assert!(
        wait_until(Duration::from_secs(5), || pids_with_cmdline(burner.as_str()).is_empty()),
        "no burner left: {:?}",
        pids_with_cmdline(burner.as_str())
    );
    assert_eq!(scene.observe(), before, "state before == state after");
    assert!(journal.live().unwrap().is_empty(), "nothing live in the journal");
}

#[test]
fn kill_9_mid_memory_stress_then_recover_all_stops_the_holder() {
    let scene = MemoryScene::new();
    let journal = &scene.journal;
    let (mut run, id, holders) = scene.start_run(&[]);

    run.0.kill().unwrap(); // SIGKILL: no rollback can run
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None, "killed by a signal");
    // The fault outlived its controller: the holder still holds the memory.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(memory_holder(journal).map(|(_, pids)| pids), Some(holders.clone()), "the holder is still there");
    assert!(rss_bytes(holders[0]) >= MEMORY_HELD, "still resident: {} bytes", rss_bytes(holders[0]));

    let recover = faultdrill(scene.state.path()).args(["recover", "--all"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&recover.stdout);
    assert_eq!(recover.status.code(), Some(0), "recover --all: {stdout}\n{}", String::from_utf8_lossy(&recover.stderr));
    assert!(stdout.contains(&format!("{id} memory-stress: rolled back, verified\n")), "{stdout}");

    scene.assert_released();
    assert_eq!(journal.get(&id).unwrap().unwrap().state, InjectionState::RolledBack);
    assert!(journal.live().unwrap().is_empty(), "nothing live in the journal");
}
