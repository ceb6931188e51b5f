//! dns-fault's undo guarantees, against dnsmasq in a namespace of the test's own:
//! kill -9 of the controller then `recover` leaves the nft ruleset byte-identical
//! and no resolver; with nobody to recover, the watchdog removes the redirect at
//! the deadline and the resolver exits by itself; a guardrail that sees the fault trips
//! and rolls it back to the exact state before; without `nft` the fault exits 3 and
//! changes nothing; a dry run changes nothing; bad parameters exit 64.

mod dns_lab;
mod faults_util;

use std::process::Stdio;
use std::time::Duration;

use dns_lab::{DnsLab, GOOD};
use faults_util::{Drill, helpers_of, stderr, stdout, wait_until};
use nix::sys::signal::Signal;

fn args<'a>(netns: &'a str, params: &[&'a str], duration: &'a str) -> Vec<&'a str> {
    let mut args = vec!["dns-fault", "-p", netns, "--duration", duration];
    for p in params {
        args.extend(["-p", *p]);
    }
    args
}

#[test]
fn kill_9_then_recover_leaves_the_ruleset_byte_identical_and_no_resolver() {
    let lab = DnsLab::new("dnsk9");
    let before = lab.ruleset();
    let drill = Drill::new();
    let netns = format!("netns={}", lab.ns.name);
    let mut inject = drill.start_inject(&args(&netns, &["names=bad.test", "effect=servfail"], "120s"));
    inject.signal(Signal::SIGKILL);
    assert_eq!(inject.wait(Duration::from_secs(10)).0, None, "killed by SIGKILL");
    // The fault outlived its controller.
    assert_eq!(lab.dig(&["bad.test"]).status.as_deref(), Some("SERVFAIL"));
    assert_eq!(lab.dig(&["good.test"]).addresses(), [GOOD]);
    assert_eq!(helpers_of(&inject.id).len(), 2, "resolver and watchdog");

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("{} dns-fault: rolled back, verified\n", inject.id)), "{}", stdout(&out));
    assert_eq!(lab.ruleset(), before, "the nft ruleset is byte-identical after recover");
    assert!(helpers_of(&inject.id).is_empty(), "no resolver or watchdog left");
    lab.assert_all_resolve();
    let again = drill.run(&["recover", "--all"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stderr(&again).contains("Nothing to recover"), "{}", stderr(&again));
}

#[test]
fn with_nobody_to_recover_the_redirect_goes_at_the_deadline_and_the_resolver_exits() {
    let lab = DnsLab::new("dnsdd");
    let before = lab.ruleset();
    let drill = Drill::new();
    let netns = format!("netns={}", lab.ns.name);
    let mut inject = drill.start_inject(&args(&netns, &["names=bad.test", "effect=nxdomain"], "3s"));
    inject.signal(Signal::SIGKILL);
    assert_eq!(inject.wait(Duration::from_secs(10)).0, None, "killed by SIGKILL");
    assert_eq!(lab.dig(&["bad.test"]).status.as_deref(), Some("NXDOMAIN"));
    // Deadline 3 s, then the resolver's grace: everything is gone well within 15 s.
    wait_until(Duration::from_secs(15), || helpers_of(&inject.id).is_empty());
    assert_eq!(lab.ruleset(), before, "the watchdog deleted the table");
    lab.assert_all_resolve();
}

/// Flows to port 53 that a redirect bound (`conntrack --dst-nat`), in the lab's namespace.
fn redirected_flows(lab: &DnsLab) -> usize {
    ["udp", "tcp"]
        .iter()
        .map(|proto| {
            let list = ["conntrack", "-L", "-p", proto, "--orig-port-dst", "53", "--dst-nat"];
            lab.ns.exec(&list).lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum()
}

/// What the fault could leave behind in the lab: the nft ruleset, the namespace's
/// resolv.conf, and the flows its redirect bound.
fn lab_state(lab: &DnsLab) -> (String, String, usize) {
    let resolv = std::fs::read_to_string(format!("/etc/netns/{}/resolv.conf", lab.ns.name)).unwrap();
    (lab.ruleset(), resolv, redirected_flows(lab))
}

#[test]
fn a_guardrail_that_sees_the_fault_trips_and_rolls_it_back_to_the_exact_state() {
    let lab = DnsLab::new("dnsgr");
    let drill = Drill::new();
    let before = lab_state(&lab);
    assert_eq!(before.2, 0, "no redirected flow before");
    // The guardrail counts NXDOMAIN answers for bad.test in the namespace: 0 before the
    // fault, 1 while it holds, so the trip is the fault's doing.
    let probe = format!("ip netns exec {} dig +tries=1 +time=1 bad.test | grep -c NXDOMAIN || true", lab.ns.name);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trip.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: dns-trip
guardrails:
  interval: 300ms
  rules:
    - name: bad-test-fails
      command: {{run: [sh, -c, \"{probe}\"], timeout: 3s}}
      breach: \">= 1\"
      for: 2
      action: rollback
action_groups:
  - name: dns
    target: local
    actions:
      - fault: dns-fault
        params: {{names: [bad.test], effect: nxdomain, netns: {ns}}}
        duration: 60s
",
            ns = lab.ns.name
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut run = drill.cmd();
    run.args(["run", file.to_str().unwrap(), "--json"]).stdin(Stdio::null());
    let run = run.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let waiter = std::thread::spawn(move || run.wait_with_output().unwrap());
    let mut seen = 0;
    while !waiter.is_finished() {
        seen = seen.max(redirected_flows(&lab));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = waiter.join().unwrap();
    assert_eq!(out.status.code(), Some(2), "guardrail tripped; stderr:\n{}", stderr(&out));
    assert!(seen > 0, "the guardrail's queries went through the redirect (a flow it bound was seen)");
    assert!(started.elapsed() < Duration::from_secs(30), "tripped long before the 60s hold ended");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("the report on stdout");
    assert_eq!(report["outcome"], "guardrail_tripped", "{report:#}");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1, "{report:#}");
    assert_eq!(rollbacks[0]["ok"], true, "{report:#}");
    let id = report["injections"][0]["id"].as_str().unwrap();
    assert!(helpers_of(id).is_empty(), "no resolver or watchdog left");
    assert_eq!(lab_state(&lab), before, "ruleset, resolv.conf and tracked flows as before");
    lab.assert_all_resolve();
    let recover = drill.run(&["recover", "--all"]);
    assert!(stderr(&recover).contains("Nothing to recover"), "{}", stderr(&recover));
}

#[test]
fn without_nft_it_exits_3_says_what_is_missing_and_changes_nothing() {
    let lab = DnsLab::new("dnsno");
    let before = lab.ruleset();
    let drill = Drill::new();
    let netns = format!("netns={}", lab.ns.name);
    let out = drill
        .cmd()
        .env("PATH", "/nonexistent")
        .arg("inject")
        .args(args(&netns, &["names=bad.test", "effect=nxdomain"], "30s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("dns-fault needs nftables"), "{}", stderr(&out));
    assert!(stderr(&out).contains("Debian package nftables"), "{}", stderr(&out));
    assert_eq!(lab.ruleset(), before);
    lab.assert_all_resolve();
    let live = drill.run(&["recover", "--all"]);
    assert!(stderr(&live).contains("Nothing to recover"), "nothing was journaled as live: {}", stderr(&live));
}

#[test]
fn a_dry_run_shows_the_resolver_and_the_redirect_and_changes_nothing() {
    let lab = DnsLab::new("dnsdr");
    let before = lab.ruleset();
    let drill = Drill::new();
    let netns = format!("netns={}", lab.ns.name);
    let mut argv = vec!["inject"];
    argv.extend(args(&netns, &["names=bad.test,*.wild.test", "effect=nxdomain"], "30s"));
    argv.push("--dry-run");
    let out = drill.run(&argv);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("ip netns exec {} ", lab.ns.name)), "{text}");
    assert!(text.contains(" helper dns --injection i-"), "{text}");
    assert!(text.contains("--upstream 127.0.0.1:53 --effect nxdomain"), "{text}");
    assert!(text.contains("--name bad.test --name *.wild.test"), "{text}");
    assert!(text.contains("type nat hook output priority -100; policy accept;"), "{text}");
    assert!(text.contains("meta mark 0x66646e73 return"), "{text}");
    assert!(text.contains("ip daddr { 127.0.0.1 } meta l4proto { tcp, udp } th dport 53 redirect to :$PORT"), "{text}");
    assert!(text.contains("ip6 daddr { ::1 } meta l4proto { tcp, udp } th dport 53 redirect to :$PORT"), "{text}");
    assert!(text.contains("helper expire"), "{text}");
    assert_eq!(lab.ruleset(), before);
    assert_eq!(lab.dig(&["bad.test"]).status.as_deref(), Some("NOERROR"));
}

#[test]
fn bad_parameters_exit_64_naming_the_parameter() {
    let drill = Drill::new();
    for (params, says) in [
        (vec!["names=bad.test", "effect=delay"], "effect `delay` needs parameter `delay`"),
        (vec!["names=bad..test", "effect=nxdomain"], "parameter `names`: `bad..test` is not a name"),
        (vec!["names=a.*.test", "effect=nxdomain"], "parameter `names`"),
        (vec!["names=bad.test", "effect=wrong-address"], "needs parameter `addresses`"),
        (vec!["names=bad.test", "effect=wrong-address", "addresses=nowhere"], "`nowhere` is not an IPv4 or IPv6"),
        (vec!["names=bad.test", "effect=nxdomain", "upstream=dns.example"], "parameter `upstream`"),
        (vec!["names=bad.test", "effect=nxdomain", "delay=1s"], "parameter `delay` goes with effect `delay`"),
    ] {
        let mut argv = vec!["inject", "dns-fault", "--duration", "5s"];
        for p in &params {
            argv.extend(["-p", *p]);
        }
        let out = drill.run(&argv);
        assert_eq!(out.status.code(), Some(64), "{params:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{params:?}: {}", stderr(&out));
    }
}

/// The response code to an A query for `name` on `socket` (connected to a resolver), or `None`.
fn ask(socket: &std::net::UdpSocket, id: u16, name: &str) -> Option<hickory_proto::op::ResponseCode> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut query = Message::new();
    query
        .set_id(id)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    socket.send(&query.to_vec().unwrap()).ok()?;
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok().map(|m| m.response_code())
}

/// A UDP socket in `lab`'s namespace connected to its resolver: one flow, one source port.
fn connected(lab: &DnsLab) -> std::net::UdpSocket {
    lab.ns.run(|| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.connect("127.0.0.1:53").unwrap();
        s
    })
}

#[test]
fn a_client_that_keeps_its_redirected_socket_reaches_the_real_resolver_after_rollback() {
    use hickory_proto::op::ResponseCode;
    let lab = DnsLab::new("dnsps");
    let drill = Drill::new();
    let netns = format!("netns={}", lab.ns.name);
    // Something else in the namespace tracks connections: then deleting the table
    // alone would leave the redirected flow bound to the resolver's dead port.
    lab.ns.exec(&["nft", "add", "table", "inet", "tracker"]);
    lab.ns.exec(&["nft", "add", "chain", "inet", "tracker", "out", "{ type filter hook output priority 0; }"]);
    lab.ns.exec(&["nft", "add", "rule", "inet", "tracker", "out", "ct", "state", "established", "accept"]);
    let before = lab.ruleset();
    let mut inject = drill.start_inject(&args(&netns, &["names=bad.test", "effect=nxdomain"], "60s"));
    let during = connected(&lab);
    assert_eq!(ask(&during, 3, "bad.test"), Some(ResponseCode::NXDomain));
    inject.signal(Signal::SIGTERM);
    assert_eq!(inject.wait(Duration::from_secs(20)).0, Some(130));
    // The redirected flow again: its conntrack entry's redirect must not outlive the table.
    assert_eq!(ask(&during, 4, "bad.test"), Some(ResponseCode::NoError));
    assert_eq!(ask(&during, 5, "good.test"), Some(ResponseCode::NoError));
    assert_eq!(lab.ruleset(), before);
}

#[test]
fn without_conntrack_it_exits_3_says_what_is_missing_and_changes_nothing() {
    let lab = DnsLab::new("dnsnc");
    let before = lab.ruleset();
    let drill = Drill::new();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/sbin/nft", bin.path().join("nft")).unwrap();
    let netns = format!("netns={}", lab.ns.name);
    let out = drill
        .cmd()
        .env("PATH", bin.path())
        .arg("inject")
        .args(args(&netns, &["names=bad.test", "effect=nxdomain"], "30s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs the `conntrack` tool (Debian package conntrack)"), "{}", stderr(&out));
    assert_eq!(lab.ruleset(), before);
    lab.assert_all_resolve();
}
