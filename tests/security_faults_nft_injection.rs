//! Audit finding 1 (issue 10): a network fault's `interface` reaching `nft` or
//! `tc` as script text. The exact payload of the audit is refused by `validate`
//! (file:line:col, exit 64) and by `inject` (exit 64), for every network fault,
//! and a canary nft table made by the test survives with the ruleset unchanged.

mod faults_util;
#[path = "common/netns.rs"]
mod netns;

use faults_util::{Drill, stderr, stdout};
use netns::{Netns, require_root};

/// The audit's payload: close the quote, accept, delete another table, add one that outlives rollback.
const PAYLOAD: &str = "eth9\" accept\ndelete table inet victim\nadd table ip persistent_backdoor\n#";

/// A namespace holding a canary table `inet victim` with one chain and rule.
fn canary() -> Netns {
    require_root();
    let ns = Netns::new("inj");
    ns.exec(&["nft", "add", "table", "inet", "victim"]);
    ns.exec(&[
        "nft",
        "add",
        "chain",
        "inet",
        "victim",
        "keep",
        "{ type filter hook output priority 0; policy accept; }",
    ]);
    ns.exec(&["nft", "add", "rule", "inet", "victim", "keep", "counter", "accept"]);
    ns
}

fn ruleset(ns: &Netns) -> String {
    ns.exec(&["nft", "list", "ruleset"])
}

#[test]
fn nft_payload_in_interface_is_refused_by_validate_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inject.yaml");
    let yaml = format!(
        "version: 1\nname: nft-injection\ntargets:\n  here: {{hosts: [local]}}\naction_groups:\n  - name: cut\n    target: here\n    actions:\n      - fault: network-partition\n        params: {{interface: {}}}\n        duration: 5s\n",
        serde_json::to_string(PAYLOAD).unwrap()
    );
    std::fs::write(&file, yaml).unwrap();
    let out = Drill::new().run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let err = stderr(&out);
    let at = format!("{}:10:29", file.display());
    assert!(err.contains(&at), "the error names {at}: {err}");
    assert!(err.contains("parameter `interface`: `eth9\\\" accept\\ndelete table inet victim"), "{err}");
    assert!(err.contains("is not a network device name"), "{err}");
}

#[test]
fn nft_payload_in_interface_is_refused_by_inject_and_the_canary_table_survives() {
    let ns = canary();
    let before = ruleset(&ns);
    assert!(before.contains("table inet victim"), "{before}");
    let drill = Drill::new();
    for fault in ["network-partition", "network-loss", "network-delay", "network-bandwidth"] {
        let mut args = vec!["inject", fault, "-p", "netns=", "--duration", "2s"];
        let netns = format!("netns={}", ns.name);
        let interface = format!("interface={PAYLOAD}");
        args[3] = &netns;
        args.extend(["-p", &interface]);
        match fault {
            "network-loss" => args.extend(["-p", "percent=50"]),
            "network-delay" => args.extend(["-p", "latency=10ms"]),
            "network-bandwidth" => args.extend(["-p", "rate=1mbit"]),
            _ => {}
        }
        let out = drill.run(&args);
        assert_eq!(out.status.code(), Some(64), "{fault}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{fault}: no injection id: {}", stdout(&out));
        assert!(stderr(&out).contains("is not a network device name"), "{fault}: {}", stderr(&out));
    }
    assert_eq!(ruleset(&ns), before, "the canary table and the whole ruleset are unchanged");
}

#[test]
fn a_bad_netns_name_never_reaches_ip() {
    let out = Drill::new().run(&["inject", "network-partition", "-p", "netns=../../x y", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a network namespace name"), "{}", stderr(&out));
}

#[test]
fn a_legal_interface_still_builds_its_table() {
    let ns = canary();
    ns.ip(&["link", "add", "fd.dev-1", "type", "veth", "peer", "name", "fd.dev-2"]);
    let before = ruleset(&ns);
    let drill = Drill::new();
    let netns = format!("netns={}", ns.name);
    let out = drill.run(&[
        "inject",
        "network-partition",
        "-p",
        &netns,
        "-p",
        "interface=fd.dev-1",
        "-p",
        "destinations=10.99.0.1",
        "--duration",
        "300ms",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("oifname != \"fd.dev-1\" accept"), "{}", stderr(&out));
    assert_eq!(ruleset(&ns), before, "rolled back to the ruleset it found");
}
