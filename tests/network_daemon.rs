//! DESIGN §4 rule 6 through a real daemon: a partition of *everything* injected
//! by a controller in another namespace never cuts the control channel (the
//! daemon's port and the controller's address are spared), while other traffic
//! is cut; rollback over that same channel restores the exact state.

#[path = "common/daemon.rs"]
mod harness;
#[path = "common/netns.rs"]
mod netns;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use faultdrill::client::wire::InjectionRequest;
use faultdrill::fault::UndoOutcome;
use harness::{Daemon, DaemonSpec};
use netns::Pair;
use serde_json::json;

#[test]
fn partition_of_everything_spares_the_control_channel() {
    let pair = Pair::new("ctl");
    let daemon = Daemon::start(DaemonSpec {
        listen: "10.77.0.2:0".into(),
        netns: Some(pair.server.name.clone()),
        ..DaemonSpec::default()
    });
    // A service on the daemon's host, reached over IPv6 (not the controller's address).
    let service: SocketAddr = "[fd77::2]:7100".parse().unwrap();
    let listener = pair.server.run(move || TcpListener::bind(service).unwrap());
    std::thread::spawn(move || listener.incoming().for_each(drop));
    let reach =
        |pair: &Pair| pair.client.run(move || TcpStream::connect_timeout(&service, Duration::from_millis(800)).is_ok());
    let before = pair.server.snapshot(&["vb", "lo"]);
    assert!(reach(&pair));

    let client = daemon.client();
    let request = InjectionRequest {
        fault: "network-partition".into(),
        params: [("direction".to_string(), json!("both"))].into(),
        duration: "60s".into(),
        lease: Some("15s".into()),
        run: None,
        dry_run: false,
    };
    // The controller lives in the client namespace: its sockets are created there.
    let c = client.clone();
    let injection = pair.client.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(c.inject(&request)).expect("inject through the daemon")
    });
    assert_ne!(pair.server.snapshot(&["vb", "lo"]), before, "the partition is in place");
    assert!(!reach(&pair), "other traffic to the daemon's host is cut");

    let c = client.clone();
    let id = injection.id.clone();
    let outcome = pair.client.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            c.health().await.expect("the control channel still works");
            c.renew_lease(&id).await.expect("the lease can still be renewed");
            c.rollback(&id, "test over").await.expect("the rollback can still be asked for")
        })
    });
    assert_eq!(outcome.outcome, Some(UndoOutcome::Undone));
    assert!(reach(&pair), "reachable again after rollback");
    assert_eq!(pair.server.snapshot(&["vb", "lo"]), before, "byte-identical after rollback");
}
