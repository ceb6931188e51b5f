//! Inject and roll back each network fault through `LocalHost` (journal
//! included, as `faultdrill inject` does) in a throwaway namespace pair, and
//! print the median and worst time of each step. Target: ≤ 50 ms each.
//!
//! Run with `bench/network.sh` (needs root).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultdrill::engine::{InjectRequest, LocalHost};
use faultdrill::fault::{Params, RawParams, find_fault};
use faultdrill::journal::Journal;
use serde_json::json;

const ROUNDS: usize = 25;

/// Two namespaces joined by a veth pair, deleted on drop.
struct Lab {
    client: String,
    server: String,
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("spawn");
    assert!(out.status.success(), "`{}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            client: format!("fdbench{}c", std::process::id()),
            server: format!("fdbench{}s", std::process::id()),
        };
        sh(&["ip", "netns", "add", &lab.client]);
        sh(&["ip", "netns", "add", &lab.server]);
        sh(&["ip", "-n", &lab.client, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &lab.server]);
        sh(&["ip", "-n", &lab.client, "addr", "add", "10.77.0.1/24", "dev", "va"]);
        sh(&["ip", "-n", &lab.client, "link", "set", "va", "up"]);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.client]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.server]).status();
    }
}

fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    format!("median {:6.2} ms   max {:6.2} ms", ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    assert!(nix::unistd::geteuid().is_root(), "bench/network needs root (namespaces, tc, nft)");
    let lab = Lab::new();
    let state = tempfile::tempdir().unwrap();
    let host = LocalHost::new(Arc::new(Journal::open(state.path()).unwrap()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let faults = [
        ("network-loss", json!({"percent": 30, "destinations": ["10.77.0.2"], "netns": lab.client})),
        ("network-partition", json!({"destinations": ["10.77.0.2", "fd77::2"], "ports": [80], "netns": lab.client})),
        (
            "network-bandwidth",
            json!({"rate": "1mbit", "destinations": ["10.77.0.2"], "interface": "va", "netns": lab.client}),
        ),
    ];
    println!("network faults: inject and roll back through LocalHost, {ROUNDS} rounds each (target <= 50 ms each)");
    for (fault, raw) in faults {
        let raw: RawParams = serde_json::from_value(raw).unwrap();
        let params = Params::check(find_fault(fault).unwrap().info().params, &raw).unwrap();
        let (mut inject, mut rollback) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let req = InjectRequest {
                fault: fault.into(),
                params: params.clone(),
                duration: Duration::from_secs(60),
                lease: None,
                run: None,
                dry_run: false,
            };
            let start = Instant::now();
            let view = rt.block_on(host.inject(req)).expect("inject");
            inject.push(start.elapsed());
            let start = Instant::now();
            let result = rt.block_on(host.rollback(&view.id, "bench"));
            rollback.push(start.elapsed());
            assert!(result.is_ok(), "{result:?}");
        }
        println!(
            "  {fault:<18} inject   {}   (first, with the kernel probe: {:.2} ms)",
            summary(inject.clone()),
            ms(inject[0])
        );
        println!("  {fault:<18} rollback {}", summary(rollback));
    }
}
