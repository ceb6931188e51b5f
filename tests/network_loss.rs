//! network-loss with real UDP traffic between two namespaces: the target loses
//! its share, a bystander address on the same host loses nothing, and rollback
//! leaves the namespace exactly as it was.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use netns::{BYSTANDER, Netns, Pair, TARGET, TARGET6};
use netns_host::Lab;
use serde_json::json;

const PACKETS: usize = 2000;

/// Sends `PACKETS` datagrams from the client namespace to `to` and counts how
/// many arrive at a socket bound to it in the server namespace.
fn delivered(pair: &Pair, to: SocketAddr) -> usize {
    let receiver = pair.server.run(move || UdpSocket::bind(to).expect("bind receiver"));
    // Room for every datagram even if the counting thread is starved on a busy
    // machine: only the fault may drop.
    nix::sys::socket::setsockopt(&receiver, nix::sys::socket::sockopt::RcvBufForce, &(8 << 20)).unwrap();
    receiver.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let counter = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while receiver.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    });
    let sender = pair.client.run(move || {
        let bind: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
        UdpSocket::bind(bind).expect("bind sender")
    });
    for i in 0..PACKETS {
        // A packet dropped on output fails its send with EPERM: it counts as lost.
        let _ = sender.send_to(&(i as u64).to_be_bytes(), to);
        if i % 50 == 49 {
            // Paced, so the receiver's buffer never overflows: only the fault drops.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    counter.join().unwrap()
}

fn loss_percent(delivered: usize) -> f64 {
    100.0 * (PACKETS - delivered) as f64 / PACKETS as f64
}

#[test]
fn loss_of_30_percent_hits_only_the_target_and_undoes_exactly() {
    let pair = Pair::new("loss");
    let lab = Lab::new();
    let before = pair.client_state();
    let target: SocketAddr = format!("{TARGET}:5000").parse().unwrap();
    let bystander: SocketAddr = format!("{BYSTANDER}:5000").parse().unwrap();
    assert_eq!(delivered(&pair, target), PACKETS, "the path must be clean before the fault");

    let view = lab.inject(
        "network-loss",
        json!({"percent": 30, "destinations": [TARGET, TARGET6], "netns": pair.client.name, "direction": "out"}),
    );
    let lost = loss_percent(delivered(&pair, target));
    let lost6 = loss_percent(delivered(&pair, format!("[{TARGET6}]:5001").parse().unwrap()));
    let bystander_lost = loss_percent(delivered(&pair, bystander));
    eprintln!("loss: target {lost:.1} %, target IPv6 {lost6:.1} %, bystander {bystander_lost:.1} %");
    assert!((24.0..=36.0).contains(&lost), "IPv4 loss {lost:.1} % is not 30 ± 6 %");
    assert!((24.0..=36.0).contains(&lost6), "IPv6 loss {lost6:.1} % is not 30 ± 6 %");
    assert_eq!(bystander_lost, 0.0, "the bystander address must see no loss");

    lab.rollback(&view.id);
    assert_eq!(pair.client_state(), before, "tc and nft state must be byte-identical after rollback");
    assert_eq!(delivered(&pair, target), PACKETS, "no loss after rollback");
}

#[test]
fn protected_ports_and_exclusions_are_spared() {
    let pair = Pair::new("lspare");
    let mut lab = Lab::new();
    // The daemon's own port is protected by the host, whatever the experiment says.
    lab.host = lab.host.clone().with_identity("local", vec![6000], vec![]);
    let view = lab.inject(
        "network-loss",
        json!({"percent": 100, "netns": pair.client.name, "exclude": ["6001"], "direction": "out"}),
    );
    let to = |port: u16| -> SocketAddr { format!("{TARGET}:{port}").parse().unwrap() };
    assert_eq!(delivered(&pair, to(6000)), PACKETS, "the protected port must be spared");
    assert_eq!(delivered(&pair, to(6001)), PACKETS, "an excluded port must be spared");
    assert_eq!(delivered(&pair, to(6002)), 0, "everything else is dropped at 100 %");
    lab.rollback(&view.id);
}

#[test]
fn dry_run_previews_the_exact_nft_table_and_changes_nothing() {
    let ns = Netns::new("ldry");
    let lab = Lab::new();
    let before = ns.snapshot(&["lo"]);
    let view = lab
        .try_inject("network-loss", json!({"percent": 30, "destinations": ["10.1.0.0/16"], "netns": ns.name}), true)
        .expect("dry run");
    let table = format!("faultdrill_{}", view.id.as_str().replace('-', "_"));
    assert_eq!(
        view.preview[0],
        format!("ip netns exec {} nft -j -f -, with this table as nft JSON (one transaction):", ns.name)
    );
    assert!(view.preview.contains(&format!("  create table inet {table}")), "{:#?}", view.preview);
    assert!(
        view.preview.iter().any(|l| l.ends_with("ip daddr { 10.1.0.0/16 } numgen random mod 100 < 30 drop")),
        "{:#?}",
        view.preview
    );
    assert_eq!(ns.snapshot(&["lo"]), before);
    assert!(lab.host.journal().live().unwrap().is_empty(), "a dry run journals nothing");
}
