//! tcp-proxy-latency through the real `faultdrill helper proxy` process, on
//! loopback, without root: round trips gain the latency asked for, the
//! bandwidth cap holds, resets reset, apply returns only once it listens, and
//! the helper exits by itself at its deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use faultdrill::fault::{InjectContext, Params, RawParams, find_fault};
use faultdrill::ids::InjectionId;
use serde_json::json;

/// Kills the helper processes tagged with an injection id when dropped (also on failure).
struct Helpers(InjectionId);

impl Helpers {
    fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if words.contains(&b"helper".as_slice()) && words.contains(&self.0.as_str().as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An upstream that echoes every byte back.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Starts the proxy through the fault's own prepare and apply; returns its address.
fn start_proxy(raw: serde_json::Value, hold: Duration) -> (SocketAddr, Helpers) {
    let fault = find_fault("tcp-proxy-latency").unwrap();
    let port = free_port();
    let mut raw: RawParams = serde_json::from_value(raw).unwrap();
    raw.insert("listen".into(), json!(format!("127.0.0.1:{port}")));
    let params = Params::check(fault.info().params, &raw).unwrap();
    fault.check(&params).unwrap();
    let cx = InjectContext {
        injection: InjectionId::generate(),
        run: None,
        host: "local".into(),
        deadline: SystemTime::now() + hold,
        exe: env!("CARGO_BIN_EXE_faultdrill").into(),
        protected_ports: vec![],
        protected_addresses: vec![],
        state_dir: std::env::temp_dir().join("faultdrill-no-state"),
    };
    let guard = Helpers(cx.injection.clone());
    let prepared = fault.prepare(&params, &cx).unwrap();
    assert!(
        prepared.preview[0].contains(&format!("helper proxy --injection {}", cx.injection)),
        "{:?}",
        prepared.preview
    );
    (prepared.apply)().expect("the proxy starts");
    (format!("127.0.0.1:{port}").parse().unwrap(), guard)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn round_trips(to: SocketAddr, n: usize) -> Vec<Duration> {
    let mut conn = TcpStream::connect(to).expect("connect through the proxy");
    conn.set_nodelay(true).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (0..n)
        .map(|i| {
            let start = Instant::now();
            conn.write_all(&[i as u8]).unwrap();
            let mut byte = [0u8; 1];
            conn.read_exact(&mut byte).unwrap();
            assert_eq!(byte[0], i as u8);
            start.elapsed()
        })
        .collect()
}

#[test]
fn latency_of_100ms_gives_round_trips_of_100_to_130ms() {
    let upstream = echo_server();
    // Apply returned, so the proxy listens now: connecting must work at once.
    let (proxy, _helpers) =
        start_proxy(json!({"upstream": upstream.to_string(), "latency": "100ms"}), Duration::from_secs(60));
    let trips = round_trips(proxy, 10);
    let direct = median(round_trips(upstream, 10));
    eprintln!("proxy round trips: {trips:?}; direct median {direct:?}");
    for t in &trips {
        assert!((Duration::from_millis(100)..=Duration::from_millis(130)).contains(t), "round trip {t:?}");
    }
}

#[test]
fn the_bandwidth_cap_holds() {
    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = sink.local_addr().unwrap();
    // The sink counts for a fixed window from the first byte, then hangs up.
    let counter = std::thread::spawn(move || {
        let (mut conn, _) = sink.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let mut first = None;
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            let since = *first.get_or_insert_with(Instant::now);
            total += n as u64;
            if since.elapsed() >= Duration::from_secs(3) {
                break;
            }
        }
        total as f64 * 8.0 / first.map_or(1.0, |t: Instant| t.elapsed().as_secs_f64())
    });
    let (proxy, _helpers) =
        start_proxy(json!({"upstream": upstream.to_string(), "bandwidth": "2mbit"}), Duration::from_secs(60));
    let mut conn = TcpStream::connect(proxy).unwrap();
    let chunk = vec![1u8; 16 * 1024];
    let start = Instant::now();
    // Ends when the sink hangs up (the write fails) or, at the latest, after 10 s.
    while start.elapsed() < Duration::from_secs(10) && conn.write_all(&chunk).is_ok() {}
    drop(conn);
    let rate = counter.join().unwrap();
    eprintln!("proxy bandwidth: {:.3} Mbit/s at a 2 Mbit/s cap", rate / 1e6);
    assert!(rate <= 2.0e6 * 1.1, "the cap is exceeded: {:.3} Mbit/s", rate / 1e6);
    assert!(rate >= 2.0e6 * 0.8, "far below the cap: {:.3} Mbit/s", rate / 1e6);
}

#[test]
fn reset_of_100_percent_resets_every_connection() {
    let upstream = echo_server();
    let (proxy, _helpers) =
        start_proxy(json!({"upstream": upstream.to_string(), "reset": 100}), Duration::from_secs(60));
    for _ in 0..3 {
        let mut conn = TcpStream::connect(proxy).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // No write first: a write would consume the reset, and the read would then see EOF.
        let mut buf = [0u8; 1];
        let err = conn.read(&mut buf).expect_err("a reset connection cannot be read");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    }
}

#[test]
fn the_helper_exits_by_itself_at_its_deadline() {
    let upstream = echo_server();
    let (proxy, helpers) = start_proxy(json!({"upstream": upstream.to_string()}), Duration::from_millis(1500));
    assert_eq!(helpers.pids().len(), 1, "one helper, tagged with the injection id");
    assert_eq!(median(round_trips(proxy, 3)).as_millis() / 100, 0, "no latency asked, none added");
    let gone_by = Instant::now() + Duration::from_secs(5);
    while !helpers.pids().is_empty() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(helpers.pids().is_empty(), "the helper outlived its deadline");
}

#[test]
fn a_busy_listen_port_fails_the_apply_with_the_reason() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let fault = find_fault("tcp-proxy-latency").unwrap();
    let raw: RawParams = serde_json::from_value(
        json!({"listen": taken.local_addr().unwrap().to_string(), "upstream": "127.0.0.1:9", "latency": "10ms"}),
    )
    .unwrap();
    let params = Params::check(fault.info().params, &raw).unwrap();
    let cx = InjectContext {
        injection: InjectionId::generate(),
        run: None,
        host: "local".into(),
        deadline: SystemTime::now() + Duration::from_secs(30),
        exe: env!("CARGO_BIN_EXE_faultdrill").into(),
        protected_ports: vec![],
        protected_addresses: vec![],
        state_dir: std::env::temp_dir().join("faultdrill-no-state"),
    };
    let _helpers = Helpers(cx.injection.clone());
    let err = (fault.prepare(&params, &cx).unwrap().apply)().expect_err("the port is taken");
    assert!(faultdrill::engine::error_chain(&err).contains("is the port free?"), "{err}");
}
