//! Several hosts on one machine: a hub network namespace holding a bridge, and
//! one namespace per host joined to it by a veth pair. Names are unique per
//! test; everything is deleted on drop. Traffic stays inside these namespaces.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The subnet inside the hub (private to these namespaces, so tests may share it).
pub const SUBNET: &str = "10.77.0";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// A bridge in a hub namespace and `n` host namespaces on it.
pub struct Net {
    pub hub: String,
    pub hosts: Vec<String>,
}

impl Net {
    /// Creates the namespaces; host `i` (0-based) gets `10.77.0.(11+i)`, the hub `10.77.0.1`.
    pub fn new(n: usize) -> Net {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag = format!("fdd{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let mut net = Net { hub: format!("{tag}-hub"), hosts: Vec::new() };
        ip(&["netns", "add", &net.hub]);
        ip(&["-n", &net.hub, "link", "set", "lo", "up"]);
        ip(&["-n", &net.hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &net.hub, "addr", "add", &format!("{SUBNET}.1/24"), "dev", "br0"]);
        ip(&["-n", &net.hub, "link", "set", "br0", "up"]);
        for i in 0..n {
            let ns = format!("{tag}-h{i}");
            ip(&["netns", "add", &ns]);
            net.hosts.push(ns.clone());
            let veth = format!("vh{i}");
            ip(&["-n", &net.hub, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns]);
            ip(&["-n", &net.hub, "link", "set", &veth, "master", "br0", "up"]);
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", Net::addr(i)), "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// Host `i`'s address.
    pub fn addr(i: usize) -> String {
        format!("{SUBNET}.{}", 11 + i)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain(std::iter::once(&self.hub)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
