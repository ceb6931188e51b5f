//! Round-trip measurements inside test namespaces: ICMP echo over a raw socket
//! (no `ping` binary needed), TCP round trips against an echo server of the
//! test's own, and the routing state network-delay's user-space path touches.
//!
//! Include it with `#[path = "common/rtt.rs"] mod rtt;` beside `common/netns.rs`.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::netns::Netns;

/// Everything the user-space delay could change in a namespace: rules, routes
/// of every table, links, the nft ruleset and qdiscs.
pub fn routing_state(ns: &Netns) -> String {
    let mut text = String::new();
    for cmd in [
        &["ip", "-4", "rule", "show"][..],
        &["ip", "-6", "rule", "show"],
        &["ip", "-4", "route", "show", "table", "all"],
        &["ip", "-6", "route", "show", "table", "all"],
        &["ip", "link", "show"],
        &["nft", "list", "ruleset"],
        &["tc", "qdisc", "show"],
    ] {
        text.push_str(&format!("--- {}\n", cmd.join(" ")));
        text.push_str(&ns.exec(cmd));
    }
    text
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0_u32;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `count` ICMP echo round trips (IPv4) to `to`, `gap` apart, in milliseconds;
/// a lost echo counts as `f64::INFINITY`.
pub fn ping(ns: &Netns, to: &str, count: usize, gap: Duration) -> Vec<f64> {
    let to: IpAddr = to.parse().unwrap();
    ns.run(move || {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw ICMP socket");
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let id = (std::process::id() & 0xffff) as u16;
        let dest = SocketAddr::new(to, 0).into();
        let mut out = Vec::new();
        for seq in 0..count as u16 {
            let mut packet = vec![8, 0, 0, 0];
            packet.extend(id.to_be_bytes());
            packet.extend(seq.to_be_bytes());
            packet.extend([0xa5_u8; 32]);
            let sum = checksum(&packet);
            packet[2..4].copy_from_slice(&sum.to_be_bytes());
            let sent = Instant::now();
            sock.send_to(&packet, &dest).expect("send echo");
            let mut rtt = f64::INFINITY;
            while sent.elapsed() < Duration::from_secs(2) {
                let mut buf = [0_u8; 1500];
                let Ok(n) = (&sock).read(&mut buf) else { continue };
                let bytes = &buf[..n];
                let from = IpAddr::from([bytes[12], bytes[13], bytes[14], bytes[15]]);
                let ihl = usize::from(bytes[0] & 0x0f) * 4;
                let icmp = &bytes[ihl..];
                let mine = icmp.len() >= 8
                    && icmp[0] == 0
                    && icmp[4..6] == id.to_be_bytes()
                    && icmp[6..8] == seq.to_be_bytes()
                    && from == to;
                if mine {
                    rtt = sent.elapsed().as_secs_f64() * 1000.0;
                    break;
                }
            }
            out.push(rtt);
            std::thread::sleep(gap);
        }
        out
    })
}

/// An echo server in `ns` on `addr` (port 0: any), answering every byte it reads.
pub fn echo_server(ns: &Netns, addr: &str) -> SocketAddr {
    let addr: SocketAddr = addr.parse().unwrap();
    let listener = ns.run(move || TcpListener::bind(addr).expect("bind echo server"));
    let bound = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0_u8; 65536];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    bound
}

/// `count` TCP round trips (one byte there and back on one connection) to
/// `server`, from `ns`, in milliseconds; then the connect time of a fresh connection.
pub fn tcp_round_trips(ns: &Netns, server: SocketAddr, count: usize) -> (Vec<f64>, f64) {
    ns.run(move || {
        let mut conn = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
        conn.set_nodelay(true).unwrap();
        let mut out = Vec::new();
        for _ in 0..count {
            let sent = Instant::now();
            conn.write_all(b"x").unwrap();
            let mut b = [0_u8; 1];
            conn.read_exact(&mut b).unwrap();
            out.push(sent.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        let fresh = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
        let connect = started.elapsed().as_secs_f64() * 1000.0;
        drop(fresh);
        (out, connect)
    })
}

/// Sends `bytes` through the echo server at `server` and reads them back, checking
/// every byte; returns the goodput of the round trip in megabits per second.
pub fn bulk_echo(ns: &Netns, server: SocketAddr, bytes: usize) -> f64 {
    ns.run(move || {
        let conn = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
        let mut reader = conn.try_clone().unwrap();
        let started = Instant::now();
        let writer = std::thread::spawn(move || {
            let mut conn = conn;
            let chunk: Vec<u8> = (0..65536_u32).map(|i| (i % 251) as u8).collect();
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                conn.write_all(&chunk[..n]).unwrap();
                left -= n;
            }
        });
        let mut got = 0_usize;
        let mut buf = vec![0_u8; 65536];
        while got < bytes {
            let n = reader.read(&mut buf).expect("read back");
            assert!(n > 0, "connection closed after {got} of {bytes} bytes");
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, (((got + i) % 65536) % 251) as u8, "byte {} came back changed", got + i);
            }
            got += n;
        }
        writer.join().unwrap();
        (bytes as f64 * 8.0 / 1e6) / started.elapsed().as_secs_f64()
    })
}

/// The median of some measurements.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
