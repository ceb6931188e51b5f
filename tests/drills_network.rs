//! The network-fault drill end to end inside network namespaces the test creates:
//! a dependency (an HTTP server) in one namespace, a service that calls it in
//! another, and `faultdrill run --template network-fault` in the caller's
//! namespace. Loss hits only the dependency's traffic, the service stays
//! healthy, and the nftables ruleset is byte-identical after the run.

#[path = "common/daemon_netns.rs"]
mod daemon_netns;
mod drills_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use daemon_netns::Net;
use drills_common::{BIN, Group, nft_ruleset, python3, report, stderr, tcp_connects};

/// A service whose health check calls its dependency (with a timeout), like most do.
const SERVICE: &str = r#"
import http.server, sys, urllib.request
upstream = sys.argv[2]
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            urllib.request.urlopen(upstream, timeout=8).read()
            code = 200
        except Exception:
            code = 502
        self.send_response(code)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"#;

/// TCP connects from the caller (0.3 s each: a dropped SYN is a failure); prints the failures.
const CONNECTS: &str = r#"
import socket, sys
failed = 0
for _ in range(int(sys.argv[3])):
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.3).close()
    except OSError:
        failed += 1
print(failed)
"#;

/// Accepts and closes connections, with a deep backlog (a burst of connects is never refused).
const ACCEPTOR: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1024)
while True:
    c, _ = s.accept()
    c.close()
"#;

fn in_netns(ns: &str, program: &std::path::Path) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

fn failed_connects(ns: &str, addr: &str, port: u16, tries: u32) -> u32 {
    let out =
        in_netns(ns, &python3()).args(["-c", CONNECTS, addr, &port.to_string(), &tries.to_string()]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn network_fault_drops_only_dependency_traffic_keeps_the_service_healthy_and_rolls_back_exactly() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root (network namespaces); CI runs it as root");
    let net = Net::new(2);
    let (caller, dep) = (&net.hosts[0], &net.hosts[1]);
    let dep_addr = Net::addr(1);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("index.html"), "dependency\n").unwrap();
    let service_py = work.path().join("service.py");
    std::fs::write(&service_py, SERVICE).unwrap();

    let mut dependency = in_netns(dep, &python3());
    dependency.args(["-m", "http.server", "8000", "--bind", &dep_addr, "--directory"]).arg(work.path());
    let _dependency = Group::spawn(dependency);
    let mut service = in_netns(caller, &python3());
    service.arg(&service_py).args(["8080", &format!("http://{dep_addr}:8000/")]);
    let _service = Group::spawn(service);
    // Another port on the dependency's host, outside the drill's `ports`: it must see no loss.
    let mut other_port = in_netns(dep, &python3());
    other_port.args(["-c", ACCEPTOR, &dep_addr, "8001"]);
    let _other_port = Group::spawn(other_port);
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        [8000, 8001].iter().all(|port| tcp_connects(caller, &dep_addr, *port, 1.0))
            && tcp_connects(caller, "127.0.0.1", 8080, 1.0)
    });
    assert!(up, "the dependency and the service started");
    let before = [nft_ruleset(caller), nft_ruleset(dep)];

    let mut run = in_netns(caller, std::path::Path::new(BIN));
    run.arg("--state-dir").arg(work.path().join("state")).env("NO_COLOR", "1");
    run.args(["run", "--template", "network-fault", "--json"]);
    for set in [
        format!("dependency={dep_addr}/32"),
        "ports=8000".into(),
        "service_url=http://127.0.0.1:8080/health".into(),
        "percent=20".into(),
        "max_latency=9s".into(),
        "duration=8s".into(),
    ] {
        run.args(["--set", &set]);
    }
    let child = run.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();

    // During the fault: the table is there, connections to the dependency fail now and then,
    // and the dependency's other port is untouched.
    let injected = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        nft_ruleset(caller).contains("table inet faultdrill_")
    });
    let dep_failures = failed_connects(caller, &dep_addr, 8000, 40);
    let other_port_failures = failed_connects(caller, &dep_addr, 8001, 40);
    let out = child.wait_with_output().unwrap();
    assert!(injected, "the loss table appeared in the caller's namespace; stderr:\n{}", stderr(&out));
    assert!((1..=25).contains(&dep_failures), "20 % loss makes some of 40 connects fail, not all: {dep_failures}");
    assert_eq!(other_port_failures, 0, "traffic to the dependency's other ports is untouched");

    assert_eq!(out.status.code(), Some(0), "passed; stderr:\n{}", stderr(&out));
    let report = report(&out);
    assert_eq!(report["outcome"], "passed", "{report:#}");
    assert_eq!([nft_ruleset(caller), nft_ruleset(dep)], before, "nft rulesets byte-identical after the run");
}
