//! Network faults through the real binary: exact undo after a normal end,
//! after SIGTERM, after `kill -9` of the holding `faultdrill inject` followed by
//! `faultdrill recover --all`, and after a guardrail trip in `faultdrill run`;
//! missing netem and TUN exits 3 and changes nothing; `--dry-run` prints the commands.

mod faults_util;
#[path = "common/netns.rs"]
mod netns;

use std::time::Duration;

use faults_util::{Drill, helpers_of, stderr, stdout, wait_until};
use netns::{CLIENT_DEV, Pair, TARGET};
use nix::sys::signal::Signal;

fn loss_args(pair: &Pair) -> Vec<String> {
    let ns = format!("netns={}", pair.client.name);
    ["network-loss", "-p", "percent=30", "-p", &format!("destinations={TARGET}"), "-p", &ns].map(String::from).to_vec()
}

fn with_duration(mut args: Vec<String>, duration: &str) -> Vec<String> {
    args.extend(["--duration".into(), duration.into()]);
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn kill_9_of_inject_then_recover_all_restores_the_exact_state() {
    let pair = Pair::new("k9");
    let drill = Drill::new();
    let before = pair.client_state();
    let ns = format!("netns={}", pair.client.name);
    let dev = format!("interface={CLIENT_DEV}");
    let partition = ["network-partition", "-p", "destinations=10.77.0.0/24,fd77::/64", "-p", "ports=22", "-p", &ns];
    let bandwidth = ["network-bandwidth", "-p", "rate=1mbit", "-p", &dev, "-p", &ns];
    let mut holders = vec![
        drill.start_inject(&strs(&with_duration(loss_args(&pair), "120s"))),
        drill.start_inject(&[&partition[..], &["--duration", "120s"]].concat()),
        drill.start_inject(&[&bandwidth[..], &["--duration", "120s"]].concat()),
    ];
    assert!(wait_until_changed(&pair, &before, 3), "three faults in place:\n{}", pair.client_state());
    for holder in &mut holders {
        holder.signal(Signal::SIGKILL);
        assert_eq!(holder.wait(Duration::from_secs(10)).0, None, "killed by SIGKILL");
    }
    assert_ne!(pair.client_state(), before, "the faults outlived their holders");

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (holder, fault) in holders.iter().zip(["network-loss", "network-partition", "network-bandwidth"]) {
        assert!(stdout(&out).contains(&format!("{} {fault}: rolled back, verified\n", holder.id)), "{}", stdout(&out));
    }
    assert_eq!(pair.client_state(), before, "tc and nft state byte-identical after recover");
}

/// Waits until the namespace holds `tables` faultdrill tables or qdiscs in total.
fn wait_until_changed(pair: &Pair, before: &str, faults: usize) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let now = pair.client_state();
        let count = now.matches("table inet faultdrill_").count() + now.matches("qdisc htb fd").count();
        if now != before && count >= faults {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_normal_end_and_sigterm_both_restore_the_exact_state() {
    let pair = Pair::new("end");
    let drill = Drill::new();
    let before = pair.client_state();
    let out = drill.run(&[&["inject"], &strs(&with_duration(loss_args(&pair), "1s"))[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pair.client_state(), before, "byte-identical after the hold ends");

    let mut held = drill.start_inject(&strs(&with_duration(loss_args(&pair), "120s")));
    assert!(wait_until_changed(&pair, &before, 1));
    held.signal(Signal::SIGTERM);
    let (code, err) = held.wait(Duration::from_secs(10));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(pair.client_state(), before, "byte-identical after SIGTERM");
}

/// Without netem, network-delay takes the user-space path; without a TUN device
/// either, nothing is left to run it: exit 3, and nothing changes. (This test
/// pinned the netem refusal before the user-space path replaced it.)
#[test]
fn missing_netem_and_tun_exit_3_and_change_nothing() {
    let pair = Pair::new("cli3");
    let drill = Drill::new();
    let before = pair.client_state();
    let ns = format!("netns={}", pair.client.name);
    let out = drill
        .cmd()
        .env("FAULTDRILL_TUN_PATH", "/nonexistent/tun")
        .args([
            "inject",
            "network-delay",
            "-p",
            "latency=100ms",
            "-p",
            &format!("interface={CLIENT_DEV}"),
            "-p",
            &ns,
            "--duration",
            "30s",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("network-delay: this kernel lacks the `prio` and `netem` queueing discipline(s)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
    assert_eq!(pair.client_state(), before);
    let recover = drill.run(&["recover", "--all"]);
    assert!(stderr(&recover).contains("Nothing to recover"), "nothing journaled: {}", stderr(&recover));
}

#[test]
fn dry_run_prints_the_exact_commands_and_changes_nothing() {
    let pair = Pair::new("clidry");
    let drill = Drill::new();
    let before = pair.client_state();
    let ns = format!("netns={}", pair.client.name);
    let dev = format!("interface={CLIENT_DEV}");
    let out = drill.run(&[
        "inject",
        "network-bandwidth",
        "-p",
        "rate=1mbit",
        "-p",
        &dev,
        "-p",
        &ns,
        "--duration",
        "30s",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let exec = format!("ip netns exec {} tc ", pair.client.name);
    assert!(text.contains(&format!("{exec}qdisc add dev va root handle fd")), "{text}");
    assert!(text.contains("tbf rate 1000000bit burst 16384 latency 200ms"), "{text}");
    assert!(text.contains("u32 match ip dst 0.0.0.0/0 flowid fd"), "{text}");
    let out = drill.run(&[&["inject"], &strs(&with_duration(loss_args(&pair), "30s"))[..], &["--dry-run"]].concat());
    assert!(stdout(&out).contains("numgen random mod 100 < 30 drop"), "{}", stdout(&out));
    assert_eq!(pair.client_state(), before);
}

#[test]
fn tcp_proxy_latency_helper_is_stopped_by_recover_after_kill_9() {
    let drill = Drill::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("listen=127.0.0.1:{port}");
    let mut holder = drill.start_inject(&[
        "tcp-proxy-latency",
        "-p",
        &listen,
        "-p",
        "upstream=127.0.0.1:9",
        "-p",
        "latency=50ms",
        "--duration",
        "120s",
    ]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "listening once inject reports it");
    assert_eq!(helpers_of(&holder.id).len(), 1);
    holder.signal(Signal::SIGKILL);
    let _ = holder.wait(Duration::from_secs(10));
    assert_eq!(helpers_of(&holder.id).len(), 1, "the proxy outlives its holder");
    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_until(Duration::from_secs(5), || helpers_of(&holder.id).is_empty());
    assert!(helpers_of(&holder.id).is_empty(), "no proxy left");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the port is closed again");
}

#[test]
fn a_guardrail_trip_rolls_back_to_the_exact_state() {
    let pair = Pair::new("trip");
    let drill = Drill::new();
    let before = pair.client_state();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trip.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: network-trip
guardrails:
  interval: 200ms
  rules:
    - name: always-breached
      command: {{run: [sh, -c, \"echo 100\"], timeout: 2s}}
      breach: \">= 90\"
      for: 2
      action: rollback
action_groups:
  - name: net
    target: local
    mode: parallel
    actions:
      - fault: network-loss
        params: {{percent: 30, destinations: [\"{TARGET}\"], netns: {ns}}}
        duration: 60s
      - fault: network-bandwidth
        params: {{rate: 1mbit, interface: {CLIENT_DEV}, netns: {ns}}}
        duration: 60s
",
            ns = pair.client.name
        ),
    )
    .unwrap();
    let out = drill.run(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "guardrail tripped; stderr:\n{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("the report on stdout");
    assert_eq!(report["outcome"], "guardrail_tripped");
    assert_eq!(report["injections"].as_array().map(Vec::len), Some(2), "both faults were injected: {report:#}");
    let rollbacks = report["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 2);
    assert!(rollbacks.iter().all(|r| r["ok"] == true), "{rollbacks:?}");
    assert_eq!(pair.client_state(), before, "byte-identical after the guardrail's rollback");
}

#[test]
fn run_dry_run_prints_each_actions_commands_and_changes_nothing() {
    let pair = Pair::new("rundry");
    let drill = Drill::new();
    let before = pair.client_state();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dry.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: network-dry
action_groups:
  - name: net
    target: local
    actions:
      - fault: network-partition
        params: {{destinations: [\"{TARGET}\"], ports: [443], netns: {ns}}}
        duration: 30s
      - fault: network-bandwidth
        params: {{rate: 2mbit, interface: {CLIENT_DEV}, netns: {ns}}}
        duration: 30s
",
            ns = pair.client.name
        ),
    )
    .unwrap();
    let out = drill.run(&["run", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("meta l4proto { tcp, udp } th dport { 443 } drop"), "{text}");
    assert!(text.contains("tbf rate 2000000bit"), "{text}");
    assert_eq!(pair.client_state(), before, "a dry run changes nothing");
}
