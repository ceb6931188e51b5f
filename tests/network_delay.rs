//! network-delay on a kernel without netem (this one, and CI's): the kernel
//! path is not taken; the preflight names the queueing disciplines it lacks and
//! plans the user-space path instead (TUN device, fwmark rule, delay helper),
//! and a dry run changes nothing and journals nothing. (Until wave 2 this file
//! pinned a refusal; the user-space path replaced it on purpose.) The netem
//! plan itself is unit-tested beside the code; the user-space path's traffic
//! and undo are in `network_delay_userspace*.rs`.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use netns::{CLIENT_DEV, Pair, TARGET};
use netns_host::Lab;
use serde_json::json;

fn kernel_has_netem() -> bool {
    let out = std::process::Command::new("unshare")
        .args(["-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])
        .output()
        .expect("unshare");
    out.status.success()
}

#[test]
fn missing_netem_plans_the_userspace_path_and_a_dry_run_changes_nothing() {
    let pair = Pair::new("nonetem");
    assert!(!kernel_has_netem(), "this test pins behaviour on kernels without netem, as DESIGN §8 says CI has");
    let lab = Lab::new();
    let before = pair.client_state();
    let view = lab
        .try_inject(
            "network-delay",
            json!({"latency": "100ms", "jitter": "10ms", "destinations": [TARGET], "interface": CLIENT_DEV, "netns": pair.client.name}),
            true,
        )
        .expect("without netem, network-delay plans the user-space path");
    let first = &view.preview[0];
    assert!(
        first.starts_with("path: userspace (this kernel lacks the `prio` and `netem` queueing discipline(s))"),
        "{first}"
    );
    assert!(
        view.preview
            .iter()
            .any(|l| l.contains(" helper delay ") && l.contains("--latency-us 100000 --jitter-us 10000")),
        "{:#?}",
        view.preview
    );
    assert!(!view.preview.iter().any(|l| l.contains("netem delay")), "no tc command: {:#?}", view.preview);
    assert_eq!(pair.client_state(), before, "nothing may change");
    assert!(lab.host.journal().recent(10).unwrap().is_empty(), "nothing may be journaled");
}
