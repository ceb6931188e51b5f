//! network-bandwidth with a real TCP stream between two namespaces: 1 Mbit/s
//! to the target lands within ±20 %, traffic to another address stays fast,
//! and rollback restores the exact tc state; `local_ports` caps only what a server sends
//! from its own port.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use netns::{BYSTANDER, CLIENT_DEV, Pair, TARGET};
use netns_host::Lab;
use serde_json::json;

/// Streams from the client namespace to `to` for `secs` seconds and returns the
/// goodput in bits per second the server saw, after a warm-up of half a second
/// (which leaves the bucket's initial burst out of the figure).
fn goodput(pair: &Pair, to: SocketAddr, secs: f64) -> f64 {
    let listener = pair.server.run(move || TcpListener::bind(to).expect("bind"));
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 64 * 1024];
        let start = Instant::now();
        let warm = Duration::from_millis(500);
        let mut counted = 0u64;
        let mut counting_since = None;
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            if start.elapsed() >= warm {
                counting_since.get_or_insert_with(Instant::now);
                counted += n as u64;
            }
        }
        let window = counting_since.map_or(0.0, |t: Instant| t.elapsed().as_secs_f64());
        counted as f64 * 8.0 / window
    });
    let total = Duration::from_secs_f64(secs + 0.5);
    pair.client.run(move || {
        let mut conn = TcpStream::connect_timeout(&to, Duration::from_secs(2)).expect("connect");
        let chunk = vec![7u8; 16 * 1024];
        let start = Instant::now();
        while start.elapsed() < total {
            if conn.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = conn.shutdown(std::net::Shutdown::Write);
    });
    reader.join().unwrap()
}

#[test]
fn one_megabit_holds_within_20_percent_and_only_for_the_target() {
    let pair = Pair::new("bw");
    let lab = Lab::new();
    let before = pair.client_state();
    let view = lab.inject(
        "network-bandwidth",
        json!({"rate": "1mbit", "destinations": [TARGET], "interface": CLIENT_DEV, "netns": pair.client.name}),
    );
    let shaped = goodput(&pair, format!("{TARGET}:8001").parse().unwrap(), 3.0);
    let free = goodput(&pair, format!("{BYSTANDER}:8002").parse().unwrap(), 0.5);
    eprintln!("bandwidth: target {:.3} Mbit/s, bystander {:.1} Mbit/s", shaped / 1e6, free / 1e6);
    assert!((0.8e6..=1.2e6).contains(&shaped), "measured {:.3} Mbit/s, asked 1 Mbit/s ± 20 %", shaped / 1e6);
    assert!(free > 20e6, "the bystander must not be shaped ({:.1} Mbit/s)", free / 1e6);

    lab.rollback(&view.id);
    assert_eq!(pair.client_state(), before, "tc and nft state must be byte-identical after rollback");
}

#[test]
fn a_root_qdisc_faultdrill_does_not_own_is_refused_untouched() {
    let pair = Pair::new("bwown");
    let lab = Lab::new();
    pair.client.exec(&["tc", "qdisc", "add", "dev", CLIENT_DEV, "root", "handle", "1:", "htb"]);
    let before = pair.client_state();
    let err = lab
        .try_inject(
            "network-bandwidth",
            json!({"rate": "1mbit", "interface": CLIENT_DEV, "netns": pair.client.name}),
            false,
        )
        .expect_err("someone else's root qdisc must be refused");
    let text = faultdrill::engine::error_chain(&err);
    assert!(text.contains("has a root qdisc faultdrill did not create (htb 1:)"), "{text}");
    assert!(text.contains("never replaces"), "{text}");
    assert_eq!(pair.client_state(), before, "nothing may change");
    assert!(lab.host.journal().live().unwrap().is_empty());
}

/// Streams from a server listening on `at` (in the server namespace) to the client for `secs`
/// seconds; returns the goodput in bits per second the client saw after a half-second warm-up.
fn download(pair: &Pair, at: SocketAddr, secs: f64) -> f64 {
    let listener = pair.server.run(move || TcpListener::bind(at).expect("bind"));
    let total = Duration::from_secs_f64(secs + 0.5);
    let writer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let chunk = vec![7u8; 16 * 1024];
        let start = Instant::now();
        while start.elapsed() < total {
            if conn.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = conn.shutdown(std::net::Shutdown::Write);
    });
    let rate = pair.client.run(move || {
        let mut conn = TcpStream::connect_timeout(&at, Duration::from_secs(2)).expect("connect");
        let mut buf = vec![0u8; 64 * 1024];
        let start = Instant::now();
        let (mut counted, mut counting_since) = (0u64, None);
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            if start.elapsed() >= Duration::from_millis(500) {
                counting_since.get_or_insert_with(Instant::now);
                counted += n as u64;
            }
        }
        counted as f64 * 8.0 / counting_since.map_or(0.0, |t: Instant| t.elapsed().as_secs_f64())
    });
    writer.join().unwrap();
    rate
}

#[test]
fn local_ports_cap_what_a_server_sends_from_its_own_port_only() {
    let pair = Pair::new("bwlp");
    let lab = Lab::new();
    let before = pair.server.snapshot(&["vb"]);
    let view = lab.inject(
        "network-bandwidth",
        json!({"rate": "1mbit", "local_ports": [8011], "interface": "vb", "netns": pair.server.name}),
    );
    let shaped = download(&pair, format!("{TARGET}:8011").parse().unwrap(), 3.0);
    let free = download(&pair, format!("{TARGET}:8012").parse().unwrap(), 0.5);
    eprintln!("bandwidth by local port: 8011 {:.3} Mbit/s, 8012 {:.1} Mbit/s", shaped / 1e6, free / 1e6);
    assert!((0.8e6..=1.2e6).contains(&shaped), "measured {:.3} Mbit/s, asked 1 Mbit/s ± 20 %", shaped / 1e6);
    assert!(free > 20e6, "another port of the server must not be shaped ({:.1} Mbit/s)", free / 1e6);

    lab.rollback(&view.id);
    assert_eq!(pair.server.snapshot(&["vb"]), before, "tc and nft state must be byte-identical after rollback");
}
