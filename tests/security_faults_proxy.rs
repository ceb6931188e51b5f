//! Audit finding 5 (issue 10): tcp-proxy-latency was a root open relay. A port
//! alone now listens on 127.0.0.1, and the helper, started by root, drops to
//! an unprivileged user (nobody, or FAULTDRILL_HELPER_USER) with no
//! supplementary groups right after binding, while it still relays traffic.

mod faults_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::Duration;

use faults_util::{Drill, helpers_of, root_or_skip, stderr, wait_until};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An upstream on loopback that echoes every byte back.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
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

/// `faultdrill inject tcp-proxy-latency` held in the background; killed and recovered on drop.
struct Proxy {
    child: Child,
    id: String,
    drill: Drill,
}

impl Proxy {
    /// Starts it with `helper_user` as FAULTDRILL_HELPER_USER (None: unset); `Err(stderr)` if it did not start.
    fn start(listen: &str, upstream: SocketAddr, helper_user: Option<&str>) -> Result<Proxy, String> {
        let drill = Drill::new();
        let mut cmd = drill.cmd();
        cmd.env_remove("FAULTDRILL_HELPER_USER");
        if let Some(user) = helper_user {
            cmd.env("FAULTDRILL_HELPER_USER", user);
        }
        let listen = format!("listen={listen}");
        let upstream = format!("upstream={upstream}");
        let mut child = cmd
            .args(["inject", "tcp-proxy-latency", "-p", &listen, "-p", &upstream, "-p", "latency=1ms"])
            .args(["--duration", "30s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if !line.starts_with("i-") {
            let out = child.wait_with_output().unwrap();
            return Err(stderr(&out));
        }
        Ok(Proxy { child, id: line.trim().to_string(), drill })
    }

    fn helper(&self) -> i32 {
        let mut pids = Vec::new();
        wait_until(Duration::from_secs(5), || {
            pids = helpers_of(&self.id);
            pids.len() == 1
        });
        pids[0]
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.drill.run(&["recover", "--all"]);
    }
}

/// The `Uid:`, `Gid:` and `Groups:` lines of /proc/PID/status.
fn credentials(pid: i32) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ids = |key: &str| -> Vec<u32> {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in {status}"));
        line[key.len()..].split_whitespace().map(|w| w.parse().unwrap()).collect()
    };
    (ids("Uid:"), ids("Gid:"), ids("Groups:"))
}

fn echoes_through(port: u16) -> bool {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).is_ok() && &buf == b"ping"
}

#[test]
fn the_proxy_helper_runs_as_nobody_on_loopback_and_still_relays() {
    if !root_or_skip("the_proxy_helper_runs_as_nobody_on_loopback_and_still_relays") {
        return;
    }
    let upstream = echo_server();
    let port = free_port();
    let proxy = Proxy::start(&port.to_string(), upstream, None).expect("the proxy starts");
    let pid = proxy.helper();
    let (uids, gids, groups) = credentials(pid);
    assert_eq!(uids, [65534; 4], "real, effective, saved and fs uid are nobody's");
    assert_eq!(gids, [65534; 4], "and so are the gids");
    assert!(groups.is_empty(), "no supplementary groups: {groups:?}");
    assert!(echoes_through(port), "it still relays traffic");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let words: Vec<String> = cmdline.split(|b| *b == 0).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
    let listen = words.iter().position(|w| w == "--listen").map(|i| words[i + 1].clone());
    assert_eq!(listen, Some(format!("127.0.0.1:{port}")), "a port alone listens on loopback");
}

#[test]
fn the_proxy_helper_runs_as_the_user_it_is_given_and_never_as_root() {
    if !root_or_skip("the_proxy_helper_runs_as_the_user_it_is_given_and_never_as_root") {
        return;
    }
    let upstream = echo_server();
    let port = free_port();
    let proxy = Proxy::start(&format!(":{port}"), upstream, Some("daemon")).expect("the proxy starts");
    let (uids, _, groups) = credentials(proxy.helper());
    assert_eq!(uids, [1; 4], "uid of `daemon`");
    assert!(groups.is_empty(), "{groups:?}");
    assert!(echoes_through(port));
    drop(proxy);

    for user in ["root", "0", "fdtest-no-such-user"] {
        let port = free_port();
        let err = match Proxy::start(&port.to_string(), upstream, Some(user)) {
            Ok(p) => panic!("{user}: the proxy must not start, but {} did", p.id),
            Err(err) => err,
        };
        assert!(err.contains("FAULTDRILL_HELPER_USER"), "{user}: {err}");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "{user}: nothing listens on {port}");
    }
}
