//! network-delay on a kernel without netem (this one, and CI's): the preflight
//! names what is missing, the inject fails, and nothing changes — no qdisc, no
//! filter, no journal record. The command plan itself is unit-tested beside the
//! code; latency end to end is exercised through tcp-proxy-latency.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use faultdrill::engine::HostError;
use faultdrill::fault::FaultError;
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
fn missing_netem_is_named_and_nothing_changes() {
    let pair = Pair::new("nonetem");
    assert!(!kernel_has_netem(), "this test pins behaviour on kernels without netem, as DESIGN §8 says CI has");
    let lab = Lab::new();
    let before = pair.client_state();
    let err = lab
        .try_inject(
            "network-delay",
            json!({"latency": "100ms", "jitter": "10ms", "destinations": [TARGET], "interface": CLIENT_DEV, "netns": pair.client.name}),
            false,
        )
        .expect_err("network-delay must fail without netem");
    let HostError::Inject { source: FaultError::Unsupported(message), .. } = &err else {
        panic!("expected an unsupported-kernel error, got {err:?}");
    };
    assert!(message.contains("`netem`"), "{message}");
    assert!(message.contains("sch_netem (CONFIG_NET_SCH_NETEM)"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(pair.client_state(), before, "nothing may change");
    assert!(lab.host.journal().recent(10).unwrap().is_empty(), "nothing may be journaled");
}
