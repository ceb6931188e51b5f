//! A DNS lab for dns-fault's tests: a network namespace of the test's own with a
//! real resolver (dnsmasq) on its loopback, the namespace's resolv.conf pointing
//! at it (127.0.0.1, then ::1), and `dig` to ask it. Everything is removed on drop, also on failure.
#![allow(dead_code, reason = "each test file uses a different part of the lab")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../common/netns.rs"]
pub mod netns;

/// What dnsmasq answers: `good.test` and `bad.test` (and every name below `wild.test`).
pub const GOOD: &str = "10.1.1.1";
pub const BAD: &str = "10.2.2.2";
pub const WILD: &str = "10.3.3.3";

/// A namespace with dnsmasq on 127.0.0.1:53 and [::1]:53.
pub struct DnsLab {
    pub ns: netns::Netns,
    dnsmasq: Child,
    /// The caching forwarder of [`DnsLab::forwarding`].
    forwarder: Option<Child>,
    etc: PathBuf,
}

/// One `dig` answer.
#[derive(Debug)]
pub struct Dig {
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`; `None` when nothing answered.
    pub status: Option<String>,
    /// The answer section's records: (TTL, address).
    pub answers: Vec<(u32, String)>,
    pub took: Duration,
    pub text: String,
}

impl Dig {
    pub fn addresses(&self) -> Vec<&str> {
        self.answers.iter().map(|(_, a)| a.as_str()).collect()
    }
}

impl DnsLab {
    pub fn new(tag: &str) -> DnsLab {
        DnsLab::with_resolver(tag, &["--listen-address=127.0.0.1,::1"])
    }

    /// Like [`DnsLab::new`], but the resolver clients ask (127.0.0.1, ::1) is a caching
    /// forwarder, as systemd-resolved or a local dnsmasq is: the names are answered
    /// by another dnsmasq on 127.0.0.2, its upstream, which resolv.conf does not name.
    pub fn forwarding(tag: &str) -> DnsLab {
        let mut lab = DnsLab::with_resolver(tag, &["--listen-address=127.0.0.2"]);
        let forwarder = Command::new("ip")
            .args(["netns", "exec", &lab.ns.name, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null"])
            .args(["--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1,::1", "--user=root"])
            .args(["--server=127.0.0.2", "--cache-size=0"])
            .arg(format!("--pid-file={}", lab.etc.join("forwarder.pid").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the forwarding dnsmasq");
        lab.forwarder = Some(forwarder);
        let give_up = Instant::now() + Duration::from_secs(10);
        while lab.dig(&["good.test"]).addresses() != [GOOD] {
            assert!(Instant::now() < give_up, "the forwarding dnsmasq did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }

    fn with_resolver(tag: &str, listen: &[&str]) -> DnsLab {
        netns::require_root();
        let ns = netns::Netns::new(tag);
        let etc = PathBuf::from("/etc/netns").join(&ns.name);
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\nnameserver ::1\n").unwrap();
        let dnsmasq = Command::new("ip")
            .args(["netns", "exec", &ns.name, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null"])
            .args(["--no-resolv", "--no-hosts", "--bind-interfaces", "--user=root"])
            .args(listen)
            .args([&format!("--address=/good.test/{GOOD}"), &format!("--address=/bad.test/{BAD}")])
            .args([&format!("--address=/wild.test/{WILD}"), "--address=/bad.test/fd00::bad"])
            .arg(format!("--pid-file={}", etc.join("dnsmasq.pid").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq (Debian package dnsmasq-base; tests/setup.sh installs it)");
        let lab = DnsLab { ns, dnsmasq, forwarder: None, etc };
        if listen.iter().any(|l| l.contains("127.0.0.2")) {
            return lab;
        }
        let give_up = Instant::now() + Duration::from_secs(10);
        while lab.dig(&["good.test"]).addresses() != [GOOD] {
            assert!(Instant::now() < give_up, "dnsmasq did not answer in the test namespace");
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }

    /// `dig` in the namespace, one try of at most 2 s: `args` are its own (`+tcp`, `@::1`, a name, a type).
    pub fn dig(&self, args: &[&str]) -> Dig {
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns.name, "dig", "+tries=1", "+time=2"])
            .args(args)
            .output()
            .expect("run dig (Debian package dnsutils; tests/setup.sh installs it)");
        let took = start.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = text
            .lines()
            .find_map(|l| l.split("status: ").nth(1))
            .and_then(|rest| rest.split(',').next())
            .map(str::to_string);
        let answers = text
            .lines()
            .skip_while(|l| !l.starts_with(";; ANSWER SECTION:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                Some((words.get(1)?.parse().ok()?, words.last()?.to_string()))
            })
            .collect();
        Dig { status, answers, took, text }
    }

    /// The namespace's whole nft ruleset.
    pub fn ruleset(&self) -> String {
        self.ns.exec(&["nft", "list", "ruleset"])
    }

    /// Asserts both names resolve to their real addresses, over UDP, TCP and IPv6.
    pub fn assert_all_resolve(&self) {
        for extra in [None, Some("+tcp"), Some("@::1")] {
            for (name, addr) in [("good.test", GOOD), ("bad.test", BAD)] {
                let mut args: Vec<&str> = extra.into_iter().collect();
                args.push(name);
                let dig = self.dig(&args);
                assert_eq!(dig.addresses(), [addr], "{args:?} resolves normally: {}", dig.text);
            }
        }
    }
}

impl Drop for DnsLab {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.dnsmasq).chain(self.forwarder.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}
