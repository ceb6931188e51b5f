//! `local_ports` (issue 12, item 6) with real TCP connections between two namespaces:
//! partitioning a server's own listening port from inside the server's namespace cuts
//! connections to it (inbound, outbound or both), another port still works, `ports` (remote
//! ports) alone does not touch it, and after rollback the ruleset is as before.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use netns::{Pair, TARGET};
use netns_host::Lab;
use serde_json::json;

const LISTENING: u16 = 7101;
const OTHER: u16 = 7102;

/// Listeners on both ports in the server namespace, accepting forever.
fn serve(pair: &Pair) {
    for port in [LISTENING, OTHER] {
        let listener = pair.server.run(move || TcpListener::bind((TARGET, port)).expect("bind"));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        });
    }
}

fn connects(pair: &Pair, port: u16) -> bool {
    let to: SocketAddr = format!("{TARGET}:{port}").parse().unwrap();
    pair.client.run(move || TcpStream::connect_timeout(&to, Duration::from_millis(800)).is_ok())
}

fn server_state(pair: &Pair) -> String {
    pair.server.snapshot(&["vb", "lo"])
}

#[test]
fn partitioning_a_server_own_port_by_local_ports_cuts_it_and_rolls_back() {
    let pair = Pair::new("lport");
    let lab = Lab::new();
    serve(&pair);
    let before = server_state(&pair);
    assert!(connects(&pair, LISTENING) && connects(&pair, OTHER), "both ports reachable before the fault");

    // `ports` are the remote side's ports: the server's own port is never matched by them.
    let remote = lab.inject("network-partition", json!({"ports": [LISTENING], "netns": pair.server.name}));
    assert!(connects(&pair, LISTENING), "`ports` alone does not cut the server's own listening port");
    lab.rollback(&remote.id);

    for direction in ["both", "in", "out"] {
        let view = lab.inject(
            "network-partition",
            json!({"local_ports": [LISTENING], "direction": direction, "netns": pair.server.name}),
        );
        assert!(!connects(&pair, LISTENING), "direction {direction}: the server's own port must be cut");
        assert!(connects(&pair, OTHER), "direction {direction}: another port of the server must still work");
        lab.rollback(&view.id);
        assert!(connects(&pair, LISTENING), "direction {direction}: reachable again after rollback");
        assert_eq!(server_state(&pair), before, "direction {direction}: tc and nft state as before");
    }
}

#[test]
fn local_ports_and_ports_must_both_match() {
    let pair = Pair::new("lpboth");
    let lab = Lab::new();
    serve(&pair);
    let before = server_state(&pair);
    // A client connects from an ephemeral port, never from port 1: nothing matches both.
    let view =
        lab.inject("network-partition", json!({"local_ports": [LISTENING], "ports": [1], "netns": pair.server.name}));
    assert!(connects(&pair, LISTENING), "a connection from another remote port is spared");
    lab.rollback(&view.id);
    assert_eq!(server_state(&pair), before);
}
