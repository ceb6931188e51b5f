//! The tcp-proxy-latency proxy at latency 0 against direct loopback, in the
//! same run: per-request overhead (p50 of request/response round trips) and
//! bulk throughput. Targets: p50 overhead ≤ 1 ms; throughput ≥ 70 % of direct.
//!
//! Run with `bench/proxy.sh` (no root needed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const REQUESTS: usize = 5000;
const STREAM: Duration = Duration::from_secs(1);
const ROUNDS: usize = 5;

/// An upstream that echoes requests back and swallows bulk streams (first byte 0xff).
fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = vec![0u8; 256 * 1024];
                let mut sink = false;
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink |= buf[0] == 0xff;
                    if !sink && conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The proxy helper, stopped on drop.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_proxy(upstream: SocketAddr) -> (Proxy, SocketAddr) {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 120_000;
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultdrill"))
        .args(["helper", "proxy", "--injection", "i-benchproxy", "--deadline-ms", &deadline.to_string()])
        .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the proxy helper");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.trim().strip_prefix("listening ").expect("the proxy says where it listens").parse().unwrap();
    (Proxy(child), addr)
}

fn round_trips(to: SocketAddr) -> Vec<Duration> {
    let mut conn = TcpStream::connect(to).unwrap();
    conn.set_nodelay(true).unwrap();
    let request = [7u8; 64];
    let mut reply = [0u8; 64];
    let mut times: Vec<Duration> = (0..REQUESTS)
        .map(|_| {
            let start = Instant::now();
            conn.write_all(&request).unwrap();
            conn.read_exact(&mut reply).unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// Bytes per second pushed to `to` for `STREAM`.
fn throughput(to: SocketAddr) -> f64 {
    let mut conn = TcpStream::connect(to).unwrap();
    let chunk = vec![0xffu8; 256 * 1024];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < STREAM {
        conn.write_all(&chunk).unwrap();
        sent += chunk.len() as u64;
    }
    sent as f64 / start.elapsed().as_secs_f64()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let upstream = upstream();
    let (_proxy, proxy) = start_proxy(upstream);
    let direct = round_trips(upstream);
    let proxied = round_trips(proxy);
    let (d50, p50) = (direct[REQUESTS / 2], proxied[REQUESTS / 2]);
    let (d99, p99) = (direct[REQUESTS * 99 / 100], proxied[REQUESTS * 99 / 100]);
    println!("tcp-proxy-latency at latency 0, {REQUESTS} request/response round trips of 64 bytes (same run):");
    println!("  direct   p50 {:8.1} us   p99 {:8.1} us", us(d50), us(d99));
    println!("  proxied  p50 {:8.1} us   p99 {:8.1} us", us(p50), us(p99));
    println!("  p50 overhead {:.1} us per request (target <= 1000 us)", us(p50.saturating_sub(d50)));
    // Interleaved rounds, medians: the machine is shared, so both paths see the same noise.
    let (mut direct_rates, mut proxied_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        direct_rates.push(throughput(upstream));
        proxied_rates.push(throughput(proxy));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (direct_rate, proxied_rate) = (median(direct_rates), median(proxied_rates));
    println!("bulk throughput, median of {ROUNDS} interleaved rounds of {STREAM:?} each (same run):");
    println!("  direct   {:8.1} MiB/s", direct_rate / 1048576.0);
    println!("  proxied  {:8.1} MiB/s", proxied_rate / 1048576.0);
    println!("  ratio    {:.1} % of direct (target >= 70 %)", 100.0 * proxied_rate / direct_rate);
}
