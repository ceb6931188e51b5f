//! Multi-host runs against real daemons: three daemons, each in its own
//! network namespace on a bridge (the controller in the hub namespace), label
//! selection, the dead man's switch when the controller is `kill -9`ed, and
//! `run --daemon` exiting like an embedded run.

#[path = "common/daemon.rs"]
mod harness;
#[path = "common/daemon_netns.rs"]
mod netns;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faultdrill::journal::{InjectionRecord, InjectionState, now_ms};
use harness::{BIN, Daemon, DaemonSpec, InventoryHost, is_root, list_dir, start_inventory, wait_for};
use netns::Net;

const TOKEN: &str = "fleet-token-0123456789";

/// Three daemons in three namespaces, with zones az-1, az-2, az-1.
struct Fleet {
    daemons: Vec<Daemon>,
    net: Net,
    inventory: PathBuf,
    work: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        assert!(is_root(), "these tests need root (network namespaces); CI runs them as root");
        let net = Net::new(3);
        let work = tempfile::tempdir().unwrap();
        let hosts = ["az-1", "az-2", "az-1"].into_iter().enumerate().map(|(i, zone)| InventoryHost {
            name: format!("host-{i}"),
            netns: net.hosts[i].clone(),
            addr: Net::addr(i),
            labels: format!("{{zone: {zone}, fleet: test}}"),
        });
        let (daemons, inventory) = start_inventory(hosts.collect(), TOKEN, "FLEET_TOKEN", work.path());
        Fleet { daemons, net, inventory, work }
    }

    /// `faultdrill run --inventory` from the hub namespace.
    fn controller(&self, experiment: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.net.hub, BIN, "--state-dir"])
            .arg(self.work.path().join("controller"))
            .args(["run", "--inventory"])
            .arg(&self.inventory)
            .arg(experiment)
            .env("FLEET_TOKEN", TOKEN)
            .env("NO_COLOR", "1");
        c
    }

    /// Writes the experiment `name` into the work dir.
    fn experiment(&self, name: &str, yaml: &str) -> PathBuf {
        experiment(self.work.path(), name, yaml)
    }

    /// An experiment holding one 1 MiB disk-fill in `fill` for `duration` on the hosts
    /// whose labels match `labels` (YAML flow mapping content, e.g. `zone: az-1`).
    fn fill_experiment(&self, name: &str, labels: &str, fill: &Path, duration: &str, lease_ms: Option<i64>) -> PathBuf {
        let lease = lease_ms.map(|ms| format!("lease: {ms}ms\n")).unwrap_or_default();
        self.experiment(
            name,
            &format!(
                r#"version: 1
name: {}
{lease}targets:
  hit:
    select: {{labels: {{{labels}}}}}
action_groups:
  - name: fill
    target: hit
    actions:
      - fault: disk-fill
        params: {{path: "{}", size: 1MiB}}
        duration: {duration}
"#,
                name.trim_end_matches(".yaml"),
                fill.display()
            ),
        )
    }

    fn wait_until_every_daemon_holds_the_fault(&self) {
        wait_for(Duration::from_secs(20), "every daemon to hold the fault", || {
            (0..3).all(|i| self.injections(i).iter().any(|r| r.state == InjectionState::Active)).then_some(())
        });
    }

    fn injections(&self, i: usize) -> Vec<InjectionRecord> {
        self.daemons[i].journal().recent(100).unwrap()
    }
}

fn experiment(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `faultdrill run FILE --daemon URL` with the daemon's token and a state dir of `state`.
fn run_on(d: &Daemon, state: &Path, file: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--state-dir").arg(state).arg("run").arg(file).args(["--daemon", &d.url]);
    c.env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap());
    c
}

#[test]
fn label_selection_hits_exactly_the_az1_hosts_and_each_journal_shows_inject_and_rollback() {
    let fleet = Fleet::new();
    let fill = tempfile::tempdir().unwrap();
    let file = fleet.fill_experiment("az1.yaml", "zone: az-1", fill.path(), "1s", None);
    let out = fleet.controller(&file).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["targets"][0]["hosts"], serde_json::json!(["host-0", "host-2"]));
    for (i, expect_hit) in [(0, true), (1, false), (2, true)] {
        let records = fleet.injections(i);
        if expect_hit {
            assert_eq!(records.len(), 1, "host-{i}: {records:?}");
            let r = &records[0];
            assert_eq!((r.fault.as_str(), r.state), ("disk-fill", InjectionState::RolledBack), "host-{i}");
            assert_eq!(r.run.as_ref().map(|id| id.as_str()), report["run_id"].as_str(), "host-{i} names the run");
            // The daemon records the controller's reason, not just that it asked.
            let note = r.note.as_deref().unwrap_or_default();
            assert_eq!(note, "rolled back: the controller asked: duration ended", "host-{i}");
        } else {
            assert!(records.is_empty(), "host-1 is in az-2 and must not be touched: {records:?}");
        }
    }
    assert!(list_dir(fill.path()).is_empty(), "every fill file is gone");
}

#[test]
fn lost_controller_every_daemon_rolls_back_within_lease_ttl_plus_1s() {
    let fleet = Fleet::new();
    let fill = tempfile::tempdir().unwrap();
    let before = list_dir(fill.path());
    let lease_ms = 2000;
    let file = fleet.fill_experiment("lost.yaml", "fleet: test", fill.path(), "60s", Some(lease_ms));
    let log = std::fs::File::create(fleet.work.path().join("controller.log")).unwrap();
    let mut controller = fleet.controller(&file).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    fleet.wait_until_every_daemon_holds_the_fault();
    assert_eq!(list_dir(fill.path()).len(), 3, "one fill file per host");
    // Let a few renewals pass, so the daemons hear the controller first.
    std::thread::sleep(Duration::from_millis(1500));
    assert!((0..3).all(|i| fleet.injections(i)[0].state == InjectionState::Active), "renewed leases hold");
    controller.kill().unwrap(); // SIGKILL: no rollback from the controller.
    let killed_ms = now_ms();
    controller.wait().unwrap();
    let start = Instant::now();
    wait_for(Duration::from_millis(lease_ms as u64 + 5000), "every daemon to roll back by itself", || {
        (0..3).all(|i| fleet.injections(i)[0].state == InjectionState::RolledBack).then_some(())
    });
    for i in 0..3 {
        let r = &fleet.injections(i)[0];
        let after_kill = r.updated_ms - killed_ms;
        assert!(after_kill <= lease_ms + 1000, "host-{i} rolled back {after_kill} ms after the kill");
        assert_eq!(r.note.as_deref(), Some("rolled back: lease expired: the controller went silent"), "host-{i}");
    }
    assert!(start.elapsed() <= Duration::from_millis(lease_ms as u64 + 1000 + 500));
    assert_eq!(list_dir(fill.path()), before, "host state is back to before");
}

#[test]
fn a_daemon_cut_off_mid_fault_rolls_back_by_its_lease_and_the_run_says_it_is_unconfirmed() {
    let fleet = Fleet::new();
    let fill = tempfile::tempdir().unwrap();
    let before = list_dir(fill.path());
    let lease_ms = 1000;
    let file = fleet.fill_experiment("cut.yaml", "fleet: test", fill.path(), "4s", Some(lease_ms));
    let controller =
        fleet.controller(&file).arg("--json").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    fleet.wait_until_every_daemon_holds_the_fault();
    // host-0 loses its network: the controller can neither renew its lease nor roll it back.
    let cut = Command::new("ip").args(["-n", &fleet.net.hosts[0], "link", "set", "eth0", "down"]).status().unwrap();
    assert!(cut.success());
    let cut_ms = now_ms();
    let alone = wait_for(Duration::from_secs(10), "host-0 to roll back on its own", || {
        fleet.injections(0).into_iter().find(|r| r.state == InjectionState::RolledBack)
    });
    assert_eq!(alone.note.as_deref(), Some("rolled back: lease expired: the controller went silent"));
    assert!(alone.updated_ms - cut_ms <= lease_ms + 1000, "rolled back {} ms after the cut", alone.updated_ms - cut_ms);
    let out = controller.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(4), "the controller could not confirm host-0's rollback: {report}");
    assert_eq!(report["outcome"], "rollback_failed");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    let (cut_off, reachable): (Vec<_>, Vec<_>) = rollbacks.iter().partition(|r| r["host"] == "host-0");
    assert!(!cut_off.is_empty() && !reachable.is_empty(), "{rollbacks:?}");
    assert!(cut_off.iter().all(|r| r["ok"] == false && r["detail"].as_str().unwrap().contains("unconfirmed")));
    assert!(reachable.iter().all(|r| r["ok"] == true), "the reachable hosts: {reachable:?}");
    // Out of reach past its lease, host-0's fault was not held as planned: the run stopped
    // there and rolled back the others at once (a failed rollback still decides the outcome).
    let lost = report["timeline"].as_array().unwrap().iter().find(|e| e["event"]["kind"] == "fault_ended");
    let lost = lost.unwrap_or_else(|| panic!("a fault_ended event: {report}"));
    assert_eq!(lost["event"]["host"], "host-0");
    assert!(lost["event"]["why"].as_str().unwrap().contains("out of reach for longer than the lease"), "{lost}");
    for i in 1..3 {
        assert_eq!(
            fleet.injections(i)[0].note.as_deref(),
            Some("rolled back: the controller asked: a fault was not held as planned")
        );
    }
    assert_eq!(list_dir(fill.path()), before, "host state is back to before on every host");
}

const PASSING: &str = r#"version: 1
name: same-exit-passed
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {path: "FILL", size: 1MiB}
        duration: 1s
"#;

const TRIPPING: &str = r#"version: 1
name: same-exit-tripped
guardrails:
  interval: 200ms
  rules:
    - name: always-breached
      metric: {host: cpu_percent}
      breach: ">= 0"
      for: 2
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {path: "FILL", size: 1MiB}
        duration: 30s
"#;

#[test]
fn run_on_a_daemon_exits_like_an_embedded_run() {
    let d = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    let fill = tempfile::tempdir().unwrap();
    for (name, text, want) in [("passed.yaml", PASSING, 0), ("tripped.yaml", TRIPPING, 2)] {
        let file = experiment(work.path(), name, &text.replace("FILL", &fill.path().display().to_string()));
        let embedded = Command::new(BIN)
            .arg("--state-dir")
            .arg(work.path().join("embedded"))
            .arg("run")
            .arg(&file)
            .output()
            .unwrap();
        let remote = run_on(&d, &work.path().join("controller"), &file).env("NO_COLOR", "1").output().unwrap();
        let remote_err = String::from_utf8_lossy(&remote.stderr);
        assert_eq!(
            embedded.status.code(),
            Some(want),
            "embedded {name}: {}",
            String::from_utf8_lossy(&embedded.stderr)
        );
        assert_eq!(remote.status.code(), Some(want), "--daemon {name}: {remote_err}");
        let stdout = String::from_utf8_lossy(&remote.stdout);
        assert!(stdout.starts_with("run r-"), "{stdout}");
        assert!(remote_err.contains("Run r-") && remote_err.contains("disk-fill"), "progress lines: {remote_err}");
        assert!(list_dir(fill.path()).is_empty(), "{name}: rolled back");
    }
    // The daemon recorded both runs, and `runs` lists them.
    let listed = Command::new(BIN)
        .args(["runs", "--daemon", &d.url])
        .env("FAULTDRILL_TOKEN", d.spec.token.as_deref().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("same-exit-passed") && text.contains("guardrail_tripped"), "{text}");
}

#[test]
fn invalid_experiment_on_a_daemon_exits_64_with_positions() {
    let d = Daemon::start(DaemonSpec::default());
    let work = tempfile::tempdir().unwrap();
    let file = experiment(work.path(), "bad.yaml", "version: 1\nname: bad\nactoin_groups: []\n");
    let out = run_on(&d, work.path(), &file).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:1", file.display())), "{err}");
}

#[test]
fn guardrails_read_host_metrics_through_the_target_daemons() {
    let fleet = Fleet::new();
    let fill = tempfile::tempdir().unwrap();
    let file = fleet.experiment(
        "remote-guardrail.yaml",
        &format!(
            r#"version: 1
name: remote-guardrail
targets:
  az2:
    select: {{labels: {{zone: az-2}}}}
guardrails:
  interval: 200ms
  rules:
    - name: disk-seen-remotely
      metric: {{host: disk_used_percent, path: "{dir}", target: az2}}
      breach: ">= 0"
      for: 2
action_groups:
  - name: fill
    target: az2
    actions:
      - fault: disk-fill
        params: {{path: "{dir}", size: 1MiB}}
        duration: 30s
"#,
            dir = fill.path().display()
        ),
    );
    let out = fleet.controller(&file).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples: Vec<&serde_json::Value> =
        report["timeline"].as_array().unwrap().iter().filter(|e| e["event"]["kind"] == "guardrail_sample").collect();
    assert!(samples.len() >= 2, "{samples:?}");
    let first = serde_json::to_string(samples[0]).unwrap();
    assert!(first.contains("host-1"), "sampled on the az-2 host: {first}");
    assert_eq!(fleet.injections(1)[0].state, InjectionState::RolledBack);
    assert!(list_dir(fill.path()).is_empty());
}

#[tokio::test]
async fn sigterm_stops_a_daemon_run_which_rolls_back_first() {
    let mut d = Daemon::start(DaemonSpec::default());
    let fill = tempfile::tempdir().unwrap();
    let text = TRIPPING.replace("FILL", &fill.path().display().to_string()).replace("echo 95", "echo 0");
    let request = faultdrill::client::wire::RunRequest { experiment: text, origin: None, sets: Default::default() };
    let accepted = d.client().submit_run(&request).await.unwrap();
    wait_for(Duration::from_secs(20), "the run to inject", || {
        d.journal().live().unwrap().into_iter().find(|r| r.state == InjectionState::Active)
    });
    assert_eq!(list_dir(fill.path()).len(), 1);
    let status = d.terminate().unwrap();
    assert!(status.success(), "{status:?}\n{}", d.stderr());
    assert!(list_dir(fill.path()).is_empty(), "the run rolled back before the daemon exited");
    let report =
        faultdrill::report::read_report(&faultdrill::report::report_path(&d.state_dir, &accepted.run_id)).unwrap();
    assert_eq!(report.outcome.map(|o| o.as_str()), Some("interrupted"), "{:?}", report.reason);
    assert!(report.all_rolled_back());
}
