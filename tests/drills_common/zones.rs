//! The two-zone test setup behind the cross-az-dr drill tests: three hosts in network
//! namespaces, a daemon and an HTTP service on each, haproxy (Debian's) in az-2 balancing an
//! az-1 and an az-2 instance with health checks, and the controller in the hub namespace.
//! Included with `#[path]` by each test binary that needs it (beside `daemon`,
//! `daemon_netns` and `drills_common`).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::daemon::{BIN, Daemon, InventoryHost, start_inventory, wait_for};
use crate::daemon_netns::Net;
use crate::drills_common::{Group, http_ok, nft_ruleset, python3, tcp_connects, which};

pub const TOKEN: &str = "truth-cross-az-token-0123456789";
pub const FRONT_PORT: u16 = 8080;

pub fn spawn_in(ns: &str, shell: &str) -> Group {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "sh", "-c", &format!("exec {shell}")]);
    Group::spawn(cmd)
}

/// az-1: host 0 (its service under a supervisor loop); az-2: hosts 1 and 2; haproxy on host 2.
pub struct Zones {
    pub daemons: Vec<Daemon>,
    pub _services: Vec<Group>,
    pub inventory: PathBuf,
    pub primary: PathBuf,
    pub work: tempfile::TempDir,
    pub net: Net,
}

/// How the test zones are built: the normal ones fail over and restart az-1's primary.
#[derive(Clone, Copy)]
pub struct Setup {
    /// Whether the front balances over az-2 too (false: az-1's instance alone, no failover).
    pub failover: bool,
    /// Whether az-1's supervisor restarts its primary after the kill.
    pub restarts: bool,
}

impl Zones {
    pub fn new() -> Zones {
        Zones::build(Setup { failover: true, restarts: true })
    }

    pub fn build(setup: Setup) -> Zones {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root (network namespaces); CI runs it as root");
        let haproxy = which("haproxy");
        let net = Net::new(3);
        let work = tempfile::tempdir().unwrap();
        let py = python3();
        let serve = |i: usize, dir: &Path| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("index.html"), "ok\n").unwrap();
            format!("{} -m http.server 8000 --bind {} --directory {}", py.display(), Net::addr(i), dir.display())
        };
        let primary = work.path().join("az-1-primary");
        let supervise = work.path().join("supervise.sh");
        let supervisor = if setup.restarts {
            format!("while :; do {}; sleep 0.3; done\n", serve(0, &primary))
        } else {
            format!("{}\nsleep 3600\n", serve(0, &primary))
        };
        std::fs::write(&supervise, supervisor).unwrap();
        let az2_server = if setup.failover {
            format!("  server az2 {}:8000 check inter 200ms fall 1 rise 2\n", Net::addr(1))
        } else {
            String::new()
        };
        let config = work.path().join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n  maxconn 200\ndefaults\n  mode http\n  timeout connect 300ms\n  timeout client 5s\n  \
                 timeout server 2s\n  retries 3\n  option redispatch\nfrontend front\n  bind {front}:{FRONT_PORT}\n  \
                 default_backend app\nbackend app\n  balance roundrobin\n  option httpchk GET /\n  \
                 server az1 {az1}:8000 check inter 200ms fall 1 rise 2\n{az2_server}",
                front = Net::addr(2),
                az1 = Net::addr(0),
            ),
        )
        .unwrap();
        let services = vec![
            spawn_in(&net.hosts[0], &format!("sh {}", supervise.display())),
            spawn_in(&net.hosts[1], &serve(1, &work.path().join("az-2-primary"))),
            spawn_in(&net.hosts[2], &format!("{} -db -f {}", haproxy.display(), config.display())),
        ];
        let hosts = [(0, "az-1"), (1, "az-2"), (2, "az-2")].into_iter().map(|(i, zone)| InventoryHost {
            name: format!("{zone}-host-{i}"),
            netns: net.hosts[i].clone(),
            addr: Net::addr(i),
            labels: format!("{{zone: {zone}}}"),
        });
        let (daemons, inventory) = start_inventory(hosts.collect(), TOKEN, "DRILL_TOKEN", work.path());
        let zones = Zones { daemons, _services: services, inventory, primary, work, net };
        let front = zones.front();
        wait_for(Duration::from_secs(20), "the front to serve", || {
            (tcp_connects(&zones.net.hosts[2], &Net::addr(0), 8000, 1.0) && http_ok(Some(&zones.net.hub), &front))
                .then_some(())
        });
        zones
    }

    pub fn front(&self) -> String {
        format!("http://{}:{FRONT_PORT}/", Net::addr(2))
    }

    pub fn state(&self) -> PathBuf {
        self.work.path().join("controller")
    }

    /// `faultdrill ARGS` from the hub namespace, with the controller's state dir and token.
    pub fn faultdrill(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.net.hub, BIN, "--state-dir"]).arg(self.state());
        c.env("DRILL_TOKEN", TOKEN).env("NO_COLOR", "1");
        c
    }

    /// The drill: az-1 cut off from az-2 for `hold`, its primary killed.
    pub fn drill(&self, hold: &str) -> Command {
        self.drill_with(hold, &[])
    }

    /// The drill with more `--set`s (which win over the defaults above).
    pub fn drill_with(&self, hold: &str, sets: &[&str]) -> Command {
        let mut c = self.faultdrill();
        c.args(["run", "--inventory"]).arg(&self.inventory).args(["--template", "cross-az-dr", "--json"]);
        let pattern = format!("[h]ttp\\.server 8000 .*{}", self.primary.display());
        for set in [
            format!("surviving_cidrs={}/32,{}/32", Net::addr(1), Net::addr(2)),
            format!("service_pattern={pattern}"),
            format!("front_url={}", self.front()),
            format!("duration={hold}"),
            "recovery=15s".into(),
            "failed_zone_url=http://{address}:8000/".into(),
            "probe_interval=200ms".into(),
        ] {
            c.args(["--set", &set]);
        }
        for set in sets {
            c.args(["--set", set]);
        }
        c
    }

    pub fn rulesets(&self) -> Vec<String> {
        self.net.hosts.iter().chain(std::iter::once(&self.net.hub)).map(|ns| nft_ruleset(ns)).collect()
    }

    pub fn partitioned(&self) -> bool {
        nft_ruleset(&self.net.hosts[0]).contains("table inet faultdrill_")
    }
}

pub fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report JSON: {e}; stderr:\n{}", String::from_utf8_lossy(&out.stderr)))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
