//! network-partition with real TCP connections between two namespaces: the
//! blocked port is unreachable (IPv4 and IPv6), another port on the same host
//! still works, and after rollback both work and the state is as before.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use netns::{Pair, TARGET, TARGET6};
use netns_host::Lab;
use serde_json::json;

const BLOCKED: u16 = 7001;
const OPEN: u16 = 7002;

/// Listeners on both ports and both families in the server namespace, accepting forever.
fn serve(pair: &Pair) {
    for addr in [format!("{TARGET}:{BLOCKED}"), format!("{TARGET}:{OPEN}"), format!("[{TARGET6}]:{BLOCKED}")] {
        let listener = pair.server.run(move || TcpListener::bind(addr.as_str()).expect("bind"));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        });
    }
}

fn connects(pair: &Pair, to: String) -> bool {
    let to: SocketAddr = to.parse().unwrap();
    pair.client.run(move || TcpStream::connect_timeout(&to, Duration::from_millis(800)).is_ok())
}

#[test]
fn partition_blocks_one_port_keeps_another_and_rolls_back() {
    let pair = Pair::new("part");
    let lab = Lab::new();
    serve(&pair);
    let before = pair.client_state();
    let blocked = format!("{TARGET}:{BLOCKED}");
    let open = format!("{TARGET}:{OPEN}");
    let blocked6 = format!("[{TARGET6}]:{BLOCKED}");
    for to in [&blocked, &open, &blocked6] {
        assert!(connects(&pair, to.clone()), "{to} must be reachable before the fault");
    }

    let view = lab.inject(
        "network-partition",
        json!({"destinations": [TARGET, TARGET6], "ports": [BLOCKED], "netns": pair.client.name}),
    );
    assert!(!connects(&pair, blocked.clone()), "the blocked port must be unreachable");
    assert!(!connects(&pair, blocked6.clone()), "the blocked port must be unreachable over IPv6 too");
    assert!(connects(&pair, open.clone()), "another port on the same host must still work");

    lab.rollback(&view.id);
    assert!(connects(&pair, blocked) && connects(&pair, open) && connects(&pair, blocked6), "both work after rollback");
    assert_eq!(pair.client_state(), before, "tc and nft state must be byte-identical after rollback");
}

#[test]
fn inbound_only_partition_still_cuts_the_connection() {
    let pair = Pair::new("pin");
    let lab = Lab::new();
    serve(&pair);
    let view = lab.inject(
        "network-partition",
        json!({"destinations": [TARGET], "ports": [BLOCKED], "direction": "in", "netns": pair.client.name}),
    );
    // The SYN leaves, the SYN-ACK from the blocked port is dropped on the way in.
    assert!(!connects(&pair, format!("{TARGET}:{BLOCKED}")));
    assert!(connects(&pair, format!("{TARGET}:{OPEN}")));
    lab.rollback(&view.id);
    assert!(connects(&pair, format!("{TARGET}:{BLOCKED}")));
}
