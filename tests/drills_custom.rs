//! The PaaS drills end to end (issue 13, item 5), against real software:
//!
//! - `db-primary-switch` with two real `redis-server` processes on loopback ports, the second a
//!   replica of the first (REPLICAOF). The operator's switch command is a small script of real
//!   `redis-cli REPLICAOF` calls (what a failover tool does). The "service front" is a client
//!   command that asks each node for its role and writes and reads through whichever is the
//!   master: it stands in for a Sentinel-aware client or a proxy that follows the primary.
//!   The test measures `role:master` on the replica during the fault and on the original
//!   primary after. Pointed at the original primary only, the client cannot write during the
//!   switch (its node is a read-only replica then), and the drill deviates: exit 1.
//! - `instance-stop` with processes standing in for instances: each "instance" is a
//!   `python3 -m http.server` on a loopback port, and a shell script stands in for the cloud
//!   CLI (`stop`, `start`, `is-stopped`, `is-running` by instance id). Stopped during the
//!   drill, running after; and after `kill -9` of the run, `recover --all` starts it again.

mod run_common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use run_common::{faultdrill, log, spawn_logged, wait_exit, wait_until};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Kills (and reaps) a child on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real Redis primary and its replica on loopback ports, with the operator's switch script.
struct RedisPair {
    dir: tempfile::TempDir,
    primary: u16,
    replica: u16,
    _servers: Vec<Reaped>,
}

impl RedisPair {
    fn start() -> RedisPair {
        let dir = tempfile::tempdir().unwrap();
        let (primary, replica) = (free_port(), free_port());
        let server = |port: u16, extra: &[String]| {
            let data = dir.path().join(port.to_string());
            std::fs::create_dir(&data).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&data)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (tests/setup.sh)");
            Reaped(child)
        };
        let servers =
            vec![server(primary, &[]), server(replica, &["--replicaof".into(), format!("127.0.0.1 {primary}")])];
        let pair = RedisPair { dir, primary, replica, _servers: servers };
        assert!(
            wait_until(Duration::from_secs(15), || pair.info(replica).contains("master_link_status:up")),
            "the replica follows the primary: {}",
            pair.info(replica)
        );
        // The operator's switchover: promote NEW, then make OLD its replica (real REPLICAOF calls).
        write_script(
            &pair.script("switch.sh"),
            "#!/bin/sh\nset -e\nnew=$1 old=$2\nredis-cli -p \"$new\" replicaof no one | grep -qx OK\n\
             redis-cli -p \"$old\" replicaof 127.0.0.1 \"$new\" | grep -qx OK\n",
        );
        // Exits 0 when PORT is the master and OTHER its connected replica.
        write_script(
            &pair.script("is-primary.sh"),
            "#!/bin/sh\nport=$1 other=$2\nredis-cli -p \"$port\" info replication | grep -q '^role:master' || exit 1\n\
             redis-cli -p \"$other\" info replication | tr -d '\\r' | grep -qx \"master_port:$port\" || exit 1\n",
        );
        // The service front's stand-in: asks each node its role, writes and reads through the master.
        write_script(
            &pair.script("client.sh"),
            "#!/bin/sh\nfor port in \"$@\"; do\n  redis-cli -p \"$port\" info replication | grep -q '^role:master' || continue\n  \
             key=drill:$(date +%s%N)\n  [ \"$(redis-cli -p \"$port\" set \"$key\" v)\" = OK ] || continue\n  \
             [ \"$(redis-cli -p \"$port\" get \"$key\")\" = v ] && exit 0\ndone\necho \"no master took the write\" >&2\nexit 1\n",
        );
        pair
    }

    fn script(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn info(&self, port: u16) -> String {
        let out = Command::new("redis-cli").args(["-p", &port.to_string(), "info", "replication"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    }

    fn role(&self, port: u16) -> String {
        self.info(port).lines().find_map(|l| l.strip_prefix("role:").map(String::from)).unwrap_or_default()
    }

    /// `--set` arguments for the template; `front` lists the ports the client may use.
    fn sets(&self, front: &[u16], duration: &str) -> Vec<String> {
        let s = |name: &str| self.script(name).display().to_string();
        let (p, r) = (self.primary, self.replica);
        let ports: Vec<String> = front.iter().map(|p| p.to_string()).collect();
        vec![
            format!("switch_command={},{r},{p}", s("switch.sh")),
            format!("switch_back_command={},{p},{r}", s("switch.sh")),
            format!("check_switched={},{r},{p}", s("is-primary.sh")),
            format!("check_restored={},{p},{r}", s("is-primary.sh")),
            format!("client_command={},{}", s("client.sh"), ports.join(",")),
            format!("duration={duration}"),
            "probe_interval=200ms".into(),
            "step_timeout=20s".into(),
        ]
    }
}

fn run_template(state: &Path, name: &str, sets: &[String], extra: &[&str]) -> Command {
    let mut cmd = faultdrill(state);
    cmd.args(["run", "--template", name]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.args(extra);
    cmd
}

#[test]
fn db_primary_switch_passes_with_real_redis_and_the_replica_is_primary_during_the_fault() {
    let pair = RedisPair::start();
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!((pair.role(pair.primary).as_str(), pair.role(pair.replica).as_str()), ("master", "slave"));
    let sets = pair.sets(&[pair.primary, pair.replica], "3s");
    let mut run = spawn_logged(run_template(state.path(), "db-primary-switch", &sets, &["--json"]), work.path());

    // Measured from outside, during the hold: the replica is the master, the old primary follows it.
    let switched = wait_until(Duration::from_secs(15), || {
        pair.role(pair.replica) == "master"
            && pair.info(pair.primary).contains(&format!("master_port:{}", pair.replica))
    });
    assert!(switched, "the replica became primary during the fault; {}", log(work.path(), "stderr.log"));
    let code = wait_exit(&mut run, Duration::from_secs(30));
    let err = log(work.path(), "stderr.log");
    assert_eq!(code, Some(0), "passed: the client wrote and read throughout; {err}");
    // After: the original primary is the master again, with the replica following it.
    assert_eq!(pair.role(pair.primary), "master");
    assert!(pair.info(pair.replica).contains(&format!("master_port:{}", pair.primary)), "{}", pair.info(pair.replica));
    let report: serde_json::Value = serde_json::from_str(&log(work.path(), "stdout.log")).unwrap();
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["rollbacks"][0]["ok"], true);
    let during_ok = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "probe_sample" && e["event"]["phase"] == "during" && e["event"]["ok"] == true)
        .count();
    assert!(during_ok >= 3, "the client wrote and read during the switch: {during_ok} samples");
}

#[test]
fn db_primary_switch_deviates_when_the_client_only_knows_the_original_primary() {
    let pair = RedisPair::start();
    let state = tempfile::tempdir().unwrap();
    // The client is pinned to the original primary: a read-only replica during the switch.
    let sets = pair.sets(&[pair.primary], "2s");
    let out = run_template(state.path(), "db-primary-switch", &sets, &["--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "deviated: a real finding; {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "deviated");
    assert_eq!(report["rollbacks"][0]["ok"], true, "switched back all the same");
    assert_eq!(pair.role(pair.primary), "master", "the original primary is restored");
    assert_eq!(pair.role(pair.replica), "slave");
}

/// Processes standing in for cloud instances, and a script standing in for the cloud CLI.
struct Instances {
    dir: tempfile::TempDir,
}

impl Instances {
    fn start(ids: &[&str]) -> Instances {
        let dir = tempfile::tempdir().unwrap();
        for id in ids {
            std::fs::write(dir.path().join(format!("{id}.port")), free_port().to_string()).unwrap();
        }
        let cli = format!(
            r#"#!/bin/sh
# Stands in for a cloud CLI: an "instance" is a python3 http.server on a loopback port.
state={state}
cmd=$1; shift
alive() {{ [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }}
for id in "$@"; do
  port=$(cat "$state/$id.port")
  case $cmd in
    start) alive "$id" && continue
           setsid python3 -m http.server "$port" --bind 127.0.0.1 --directory "$state" >/dev/null 2>&1 </dev/null &
           echo $! > "$state/$id.pid" ;;
    stop) alive "$id" && kill "$(cat "$state/$id.pid")"; rm -f "$state/$id.pid" ;;
    is-running) alive "$id" && curl -sf -o /dev/null "http://127.0.0.1:$port/" || exit 1 ;;
    is-stopped) alive "$id" && exit 1; curl -s -o /dev/null "http://127.0.0.1:$port/" && exit 1 ;;
    *) echo "unknown command $cmd" >&2; exit 64 ;;
  esac
done
exit 0
"#,
            state = dir.path().display()
        );
        let instances = Instances { dir };
        write_script(&instances.cli(), &cli);
        let all: Vec<&str> = ids.to_vec();
        assert!(instances.cli_ok("start", &all));
        assert!(wait_until(Duration::from_secs(10), || instances.cli_ok("is-running", &all)), "instances up");
        instances
    }

    fn cli(&self) -> PathBuf {
        self.dir.path().join("cloud")
    }

    fn cli_ok(&self, cmd: &str, ids: &[&str]) -> bool {
        Command::new(self.cli()).arg(cmd).args(ids).status().unwrap().success()
    }

    fn sets(&self, stop: &str, survivor: &str, duration: &str) -> Vec<String> {
        let cli = self.cli().display().to_string();
        let port = std::fs::read_to_string(self.dir.path().join(format!("{survivor}.port"))).unwrap();
        vec![
            format!("stop_command={cli},stop,{stop}"),
            format!("start_command={cli},start,{stop}"),
            format!("check_stopped={cli},is-stopped,{stop}"),
            format!("check_running={cli},is-running,{stop}"),
            format!("service_check=curl,-sf,-o,/dev/null,http://127.0.0.1:{port}/"),
            format!("duration={duration}"),
            "probe_interval=200ms".into(),
            "step_timeout=10s".into(),
        ]
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        let _ = Command::new(self.cli()).args(["stop", "i-1", "i-2"]).status();
    }
}

#[test]
fn instance_stop_stops_the_instance_during_and_starts_it_after() {
    let instances = Instances::start(&["i-1", "i-2"]);
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sets = instances.sets("i-1", "i-2", "2s");
    let mut run = spawn_logged(run_template(state.path(), "instance-stop", &sets, &["--json"]), work.path());
    assert!(
        wait_until(Duration::from_secs(15), || instances.cli_ok("is-stopped", &["i-1"])),
        "i-1 stopped during the drill; {}",
        log(work.path(), "stderr.log")
    );
    assert!(instances.cli_ok("is-running", &["i-2"]), "the other instance keeps serving");
    let code = wait_exit(&mut run, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", log(work.path(), "stderr.log"));
    assert!(instances.cli_ok("is-running", &["i-1", "i-2"]), "both instances run after");
}

#[test]
fn instance_stop_after_kill_9_of_the_run_recover_all_starts_the_instance_again() {
    let instances = Instances::start(&["i-1", "i-2"]);
    let (state, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sets = instances.sets("i-1", "i-2", "60s");
    let mut run = spawn_logged(run_template(state.path(), "instance-stop", &sets, &[]), work.path());
    assert!(
        wait_until(Duration::from_secs(15), || instances.cli_ok("is-stopped", &["i-1"])),
        "i-1 stopped; {}",
        log(work.path(), "stderr.log")
    );
    run.0.kill().unwrap(); // SIGKILL: the controller that owns the undo is gone
    assert_eq!(wait_exit(&mut run, Duration::from_secs(10)), None);
    std::thread::sleep(Duration::from_millis(300));
    assert!(instances.cli_ok("is-stopped", &["i-1"]), "nothing starts it by itself");

    let recover = faultdrill(state.path()).args(["recover", "--all"]).output().unwrap();
    assert_eq!(recover.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&recover.stdout), stderr(&recover));
    assert!(instances.cli_ok("is-running", &["i-1", "i-2"]), "recover started it again");
}
