//! cross-az-dr modelling a zone that is gone, not just cut off: `instances: stop` and
//! `database: switch`, run from the controller beside the cut, on the two-zone setup of
//! `drills_truth_cross_az` (haproxy in front, a daemon per host, the controller in the hub).
//!
//! - The "instance" is an az-1 `python3 -m http.server` outside the inventory, and a shell
//!   script in the hub stands in for the cloud CLI (`stop`, `start`, `is-stopped`,
//!   `is-running`): a cloud API cannot run here, so only the CLI is a stand-in.
//! - The database is real: `redis-server` (Debian's) primary in az-1 and its replica in az-2;
//!   the operator's switch is a script of real `redis-cli REPLICAOF` calls, as a failover tool
//!   makes them.
//!
//! Checked: during the hold the instance is stopped, the az-2 replica is the primary and az-1
//! is partitioned; the drill passes; after it the instance runs, the az-1 primary is the
//! primary again with az-2 following, and every namespace's ruleset is as before. A controller
//! killed mid-drill, then `recover --all` on it, gives the same end state at once. A step
//! turned on without its commands is refused, naming each missing parameter.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/daemon_netns.rs"]
mod daemon_netns;
mod drills_common;
#[path = "drills_common/zones.rs"]
mod zones;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon::{BIN, wait_for};
use daemon_netns::Net;
use drills_common::Group;
use zones::{Zones, report, stderr};

const REDIS_PORT: u16 = 6379;
const INSTANCE_PORT: u16 = 8002;

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What the zone loses besides its network: an instance outside the inventory, and the
/// database primary (az-1, host 0) with its replica in az-2 (host 1).
struct Gone {
    dir: tempfile::TempDir,
    /// The controller's namespace, where the Redis state is read from (as the drill's checks do).
    hub: String,
    _redis: Vec<Group>,
}

impl Gone {
    fn start(zones: &Zones) -> Gone {
        let dir = tempfile::tempdir().unwrap();
        let redis = |i: usize, extra: String| {
            let data = dir.path().join(format!("redis-{i}"));
            std::fs::create_dir(&data).unwrap();
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &zones.net.hosts[i], "redis-server", "--port", &REDIS_PORT.to_string()])
                .args(["--bind", &Net::addr(i), "--protected-mode", "no", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&data);
            if !extra.is_empty() {
                cmd.args(["--replicaof", &extra]);
            }
            Group::spawn(cmd)
        };
        let servers = vec![redis(0, String::new()), redis(1, format!("{} {REDIS_PORT}", Net::addr(0)))];
        let gone = Gone { dir, hub: zones.net.hub.clone(), _redis: servers };
        let cli = format!(
            "#!/bin/sh\n# Stands in for a cloud CLI: the instance is a python3 http.server in az-1.\n\
             state={state} ns={ns} addr={addr} port={INSTANCE_PORT}\n\
             alive() {{ [ -f \"$state/pid\" ] && kill -0 \"$(cat \"$state/pid\")\" 2>/dev/null; }}\n\
             answers() {{ ip netns exec \"$ns\" curl -s -o /dev/null --max-time 1 \"http://$addr:$port/\"; }}\n\
             case $1 in\n\
             start) alive && exit 0\n  setsid ip netns exec \"$ns\" python3 -m http.server \"$port\" --bind \"$addr\" \
             --directory \"$state\" >/dev/null 2>&1 </dev/null &\n  echo $! > \"$state/pid\" ;;\n\
             stop) alive && kill \"$(cat \"$state/pid\")\"; rm -f \"$state/pid\" ;;\n\
             is-running) alive && answers ;;\n\
             is-stopped) ! alive && ! answers ;;\n\
             *) echo \"unknown command $1\" >&2; exit 64 ;;\n\
             esac\n",
            state = gone.dir.path().display(),
            ns = zones.net.hosts[0],
            addr = Net::addr(0),
        );
        write_script(&gone.script("cloud"), &cli);
        // The operator's switchover: promote NEW, then make OLD its replica (real REPLICAOF calls).
        write_script(
            &gone.script("switch.sh"),
            &format!(
                "#!/bin/sh\nset -e\nnew=$1 old=$2\nredis-cli -h \"$new\" -p {REDIS_PORT} replicaof no one | grep -qx OK\n\
                 redis-cli -h \"$old\" -p {REDIS_PORT} replicaof \"$new\" {REDIS_PORT} | grep -qx OK\n"
            ),
        );
        // Exits 0 when HOST is the master and OTHER is set to follow it.
        write_script(
            &gone.script("is-primary.sh"),
            &format!(
                "#!/bin/sh\nhost=$1 other=$2\nredis-cli -h \"$host\" -p {REDIS_PORT} info replication | grep -q '^role:master' \
                 || exit 1\nredis-cli -h \"$other\" -p {REDIS_PORT} info replication | tr -d '\\r' | \
                 grep -qx \"master_host:$host\" || exit 1\n"
            ),
        );
        assert!(gone.cloud("start"), "the instance starts");
        wait_for(Duration::from_secs(15), "the instance and the replica", || {
            (gone.cloud("is-running") && gone.info(1).contains("master_link_status:up")).then_some(())
        });
        gone
    }

    fn script(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The stand-in cloud CLI, run here (the controller's side).
    fn cloud(&self, command: &str) -> bool {
        Command::new(self.script("cloud")).arg(command).status().unwrap().success()
    }

    /// `INFO replication` of the Redis on host `i`, asked from the controller's namespace.
    fn info(&self, i: usize) -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.hub,
                "redis-cli",
                "-h",
                &Net::addr(i),
                "-p",
                &REDIS_PORT.to_string(),
                "info",
                "replication",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    }

    /// Whether host `i`'s Redis is the master and the other one follows it.
    fn primary_is(&self, i: usize) -> bool {
        let other = 1 - i;
        self.info(i).contains("role:master") && self.info(other).contains(&format!("master_host:{}", Net::addr(i)))
    }

    /// The `--set`s that turn both steps on.
    fn sets(&self) -> Vec<String> {
        let (cloud, switch, is_primary) =
            (self.script("cloud"), self.script("switch.sh"), self.script("is-primary.sh"));
        let (az1, az2) = (Net::addr(0), Net::addr(1));
        vec![
            "instances=stop".into(),
            format!("stop_command={},stop", cloud.display()),
            format!("start_command={},start", cloud.display()),
            format!("check_stopped={},is-stopped", cloud.display()),
            format!("check_running={},is-running", cloud.display()),
            "database=switch".into(),
            format!("switch_command={},{az2},{az1}", switch.display()),
            format!("switch_back_command={},{az1},{az2}", switch.display()),
            format!("check_switched={},{az2},{az1}", is_primary.display()),
            format!("check_restored={},{az1},{az2}", is_primary.display()),
            "step_timeout=20s".into(),
        ]
    }

    /// Everything back as before the drill: the instance runs, az-1's Redis is the primary.
    fn restored(&self) -> bool {
        self.cloud("is-running") && self.primary_is(0)
    }
}

impl Drop for Gone {
    fn drop(&mut self) {
        let _ = Command::new(self.script("cloud")).arg("stop").status();
    }
}

fn drill(zones: &Zones, gone: &Gone, hold: &str) -> Command {
    let sets = gone.sets();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    zones.drill_with(hold, &sets)
}

#[test]
fn drills_truth_zone_gone_stops_the_instance_switches_the_database_and_restores_both() {
    let zones = Zones::new();
    let gone = Gone::start(&zones);
    let before = zones.rulesets();
    let child = drill(&zones, &gone, "4s").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Measured from outside, during the hold: all three at once.
    wait_for(Duration::from_secs(20), "az-1 cut off, its instance stopped, az-2's replica the primary", || {
        (zones.partitioned() && gone.cloud("is-stopped") && gone.primary_is(1)).then_some(())
    });
    let out = child.wait_with_output().unwrap();
    let report = report(&out);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", report["reason"], stderr(&out));
    let rollbacks = report["rollbacks"].as_array().unwrap();
    let execs = rollbacks.iter().filter(|r| r["fault"] == "exec").count();
    assert_eq!(execs, 2, "both steps rolled back: {rollbacks:?}");
    assert!(rollbacks.iter().all(|r| r["ok"] == true), "{rollbacks:?}");
    // The switch back and the start were verified by their check commands before the verdict.
    assert!(gone.cloud("is-running"), "the instance runs again");
    assert!(gone.primary_is(0), "az-1's Redis is the primary again: {}", gone.info(0));
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before");
}

#[test]
fn drills_truth_zone_gone_killed_controller_then_recover_all_restores_instance_database_and_rulesets() {
    let zones = Zones::new();
    let gone = Gone::start(&zones);
    let before = zones.rulesets();
    let mut child = drill(&zones, &gone, "60s").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(Duration::from_secs(20), "the zone gone", || {
        (zones.partitioned() && gone.cloud("is-stopped") && gone.primary_is(1)).then_some(())
    });
    child.kill().unwrap(); // SIGKILL of the controller, which owns the start and the switch back
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(gone.cloud("is-stopped") && gone.primary_is(1), "nothing restores them by itself");

    let started = Instant::now();
    let out = zones.faultdrill().args(["recover", "--all"]).output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", stderr(&out));
    assert_eq!(stdout.matches(" exec: rolled back, verified").count(), 2, "both steps, by their checks: {stdout}");
    assert!(gone.restored(), "instance running, az-1 primary: {}", gone.info(1));
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before, right after recover");
    assert!(took < Duration::from_secs(10), "at once, not after the lease: {took:?}");
    eprintln!("recover --all after kill -9: partition, instance start and switch back in {took:?}");
}

#[test]
fn drills_truth_zone_gone_a_step_on_without_its_commands_is_refused_naming_each() {
    let out = Command::new(BIN)
        .args(["validate", "templates/cross-az-dr.yaml"])
        .args(["--set", "surviving_cidrs=10.0.2.0/24", "--set", "service_pattern=x"])
        .args(["--set", "front_url=http://10.0.2.1/", "--set", "failed_zone_url=http://{address}/"])
        .args(["--set", "instances=stop", "--set", "stop_command=cloud,stop"])
        .args(["--set", "database=switch"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for name in ["start_command", "check_stopped", "check_running"] {
        assert!(err.contains(&format!("parameter `{name}` is required when `instances` is `stop`")), "{name}: {err}");
    }
    for name in ["switch_command", "switch_back_command", "check_switched", "check_restored"] {
        assert!(err.contains(&format!("parameter `{name}` is required when `database` is `switch`")), "{name}: {err}");
    }
    assert!(!err.contains("parameter `stop_command` is required"), "given, so not reported: {err}");

    // Off (the default), the steps' empty commands are not checked: the drill is valid as before.
    let out = Command::new(BIN)
        .args(["validate", "templates/cross-az-dr.yaml"])
        .args(["--set", "surviving_cidrs=10.0.2.0/24", "--set", "service_pattern=x"])
        .args(["--set", "front_url=http://10.0.2.1/", "--set", "failed_zone_url=http://{address}/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
