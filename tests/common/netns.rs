//! Test harness for network namespaces: uniquely named namespaces joined by a
//! veth pair, deleted on drop (also when a test fails); running code and
//! commands inside them; and snapshots of their tc/nft state.
//!
//! Include it with `#[path = "common/netns.rs"] mod netns;`. Nothing here ever
//! sends traffic outside the namespaces it created.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fails the test (never skips) when not root: CI runs as root.
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "network namespace tests need root (CI runs them as root)");
}

/// A fresh name no other test (or test process) uses.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("fdt{}{}{}", tag, std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A named network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = unique_name(tag);
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        // Without duplicate address detection IPv6 works the moment a link is up.
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0"]);
        ns
    }

    /// Runs `ip -n NAME ARGS...`, panicking with its stderr on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        sh(&full);
    }

    /// Runs a command inside the namespace and returns its stdout (panics on failure).
    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// Runs `f` on a thread that has entered this namespace: sockets it creates live here.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread in netns")
    }

    /// Like [`Netns::run`], but in the background.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }

    /// Everything faultdrill could change here: qdiscs, filters on `devices`, the nft ruleset.
    pub fn snapshot(&self, devices: &[&str]) -> String {
        let mut text = self.exec(&["tc", "qdisc", "show"]);
        for dev in devices {
            text.push_str(&format!("--- filters {dev}\n"));
            text.push_str(&self.exec(&["tc", "filter", "show", "dev", dev]));
        }
        text.push_str("--- nft\n");
        text.push_str(&self.exec(&["nft", "list", "ruleset"]));
        text
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Two namespaces joined by a veth pair: `client` has `va` (10.77.0.1, fd77::1),
/// `server` has `vb` (10.77.0.2 and 10.77.0.3, fd77::2 and fd77::3).
pub struct Pair {
    pub client: Netns,
    pub server: Netns,
}

/// The client's device.
pub const CLIENT_DEV: &str = "va";
/// The server's first address: the one faults target.
pub const TARGET: &str = "10.77.0.2";
/// The server's second address: the one faults must leave alone.
pub const BYSTANDER: &str = "10.77.0.3";
pub const TARGET6: &str = "fd77::2";

impl Pair {
    pub fn new(tag: &str) -> Pair {
        require_root();
        let client = Netns::new(&format!("{tag}c"));
        let server = Netns::new(&format!("{tag}s"));
        client.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &server.name]);
        client.ip(&["addr", "add", "10.77.0.1/24", "dev", "va"]);
        client.ip(&["-6", "addr", "add", "fd77::1/64", "dev", "va", "nodad"]);
        client.ip(&["link", "set", "va", "up"]);
        for addr in ["10.77.0.2/24", "10.77.0.3/24"] {
            server.ip(&["addr", "add", addr, "dev", "vb"]);
        }
        for addr in ["fd77::2/64", "fd77::3/64"] {
            server.ip(&["-6", "addr", "add", addr, "dev", "vb", "nodad"]);
        }
        server.ip(&["link", "set", "vb", "up"]);
        let pair = Pair { client, server };
        pair.wait_until_reachable();
        pair
    }

    /// Waits (up to 5 s) until the client reaches the server on IPv4 and IPv6: a
    /// connection to a closed port refused by the server means the path is up.
    fn wait_until_reachable(&self) {
        for addr in ["10.77.0.2:9", "[fd77::2]:9"] {
            let to: std::net::SocketAddr = addr.parse().unwrap();
            let ready = self.client.run(move || {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while std::time::Instant::now() < deadline {
                    let tried = std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_millis(200));
                    if tried.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused) {
                        return true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                false
            });
            assert!(ready, "{addr} did not become reachable from the client namespace");
        }
    }

    /// The client side's tc/nft state.
    pub fn client_state(&self) -> String {
        self.client.snapshot(&[CLIENT_DEV, "lo"])
    }
}

/// Runs a command, returning stdout; panics with stderr if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).env("LC_ALL", "C").output().expect("spawn");
    assert!(out.status.success(), "`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
