//! network-delay without netem leaves nothing behind: `ip rule`, `ip route show
//! table all`, `ip link`, nft and qdiscs are byte-identical after a normal end,
//! a guardrail trip, `kill -9` of the holder followed by `recover`, and when the
//! helper ends the fault at its deadline by itself. A missing TUN device exits 3
//! and changes nothing; a dry run says which path it takes. Each new undo step
//! (DeleteLink, DeleteIpRule) deletes only what is faultdrill's, and twice is fine.

mod faults_util;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;
#[path = "common/rtt.rs"]
mod rtt;

use std::time::{Duration, Instant};

use faultdrill::fault::{Undo, UndoOutcome};
use faults_util::{Drill, helpers_of, stderr, stdout, wait_until};
use netns::{CLIENT_DEV, Pair, TARGET};
use netns_host::Lab;
use nix::sys::signal::Signal;
use rtt::{median, ping, routing_state};
use serde_json::json;

fn delay_args(pair: &Pair, duration: &str) -> Vec<String> {
    [
        "network-delay",
        "-p",
        "latency=50ms",
        "-p",
        &format!("destinations={TARGET},fd77::/64"),
        "-p",
        "ports=80,443",
        "-p",
        &format!("interface={CLIENT_DEV}"),
        "-p",
        &format!("netns={}", pair.client.name),
        "--duration",
        duration,
    ]
    .map(String::from)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_normal_end_restores_the_exact_state_and_stops_the_helper() {
    let pair = Pair::new("une");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let out = drill.run(&[&["inject"], &strs(&delay_args(&pair, "2s"))[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).lines().next().unwrap_or_default().trim().to_string();
    assert!(id.starts_with("i-"), "{}", stdout(&out));
    assert_eq!(routing_state(&pair.client), before, "byte-identical after the hold ends");
    wait_until(Duration::from_secs(5), || helpers_of(&id).is_empty());
}

#[test]
fn kill_9_of_the_holder_then_recover_restores_the_exact_state() {
    let pair = Pair::new("uk9");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let mut holder = drill.start_inject(&strs(&delay_args(&pair, "120s")));
    let during = routing_state(&pair.client);
    assert!(during.contains("31:\tfrom all fwmark 0xfd1"), "{during}");
    assert!(during.contains(&format!("table inet faultdrill_{}", holder.id.replace('-', "_"))), "{during}");
    assert!(during.contains(": fdly"), "the TUN device is up: {during}");
    holder.signal(Signal::SIGKILL);
    assert_eq!(holder.wait(Duration::from_secs(10)).0, None, "killed by SIGKILL");
    assert_eq!(routing_state(&pair.client), during, "the fault outlives its holder");
    assert_eq!(helpers_of(&holder.id).len(), 1, "and so does its helper");

    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("{} network-delay: rolled back\n", holder.id)), "{}", stdout(&out));
    assert_eq!(routing_state(&pair.client), before, "byte-identical after recover");
    assert!(helpers_of(&holder.id).is_empty(), "no helper left");
    let again = drill.run(&["recover", "--all"]);
    assert!(stderr(&again).contains("Nothing to recover"), "{}", stderr(&again));
}

#[test]
fn the_helper_ends_the_fault_at_its_deadline_with_nobody_left_to_roll_back() {
    let pair = Pair::new("udl");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let started = Instant::now();
    let mut holder = drill.start_inject(&strs(&delay_args(&pair, "3s")));
    holder.signal(Signal::SIGKILL);
    let _ = holder.wait(Duration::from_secs(10));
    assert_ne!(routing_state(&pair.client), before);
    wait_until(Duration::from_secs(8), || helpers_of(&holder.id).is_empty());
    assert!(started.elapsed() >= Duration::from_secs(3), "not before its deadline");
    assert_eq!(routing_state(&pair.client), before, "the helper removed its rules, table and device");
    // The journal still holds it as active: recover finds everything already gone.
    let out = drill.run(&["recover", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn a_killed_helper_takes_its_device_and_routes_and_traffic_flows_undelayed() {
    let pair = Pair::new("uhk");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let args = [
        "network-delay",
        "-p",
        "latency=100ms",
        "-p",
        &format!("destinations={TARGET}"),
        "-p",
        &format!("interface={CLIENT_DEV}"),
        "-p",
        &format!("netns={}", pair.client.name),
        "--duration",
        "120s",
    ];
    let mut holder = drill.start_inject(&args);
    assert!(median(&ping(&pair.client, TARGET, 3, Duration::from_millis(10))) >= 100.0);
    for pid in helpers_of(&holder.id) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    }
    wait_until(Duration::from_secs(5), || helpers_of(&holder.id).is_empty());
    let state = routing_state(&pair.client);
    assert!(!state.contains(": fdly"), "the device went with its helper: {state}");
    let pings = ping(&pair.client, TARGET, 5, Duration::from_millis(10));
    assert!(median(&pings) < 5.0, "marked packets fall through to the main table: {pings:?}");
    holder.signal(Signal::SIGTERM);
    assert_eq!(holder.wait(Duration::from_secs(15)).0, Some(130));
    assert_eq!(routing_state(&pair.client), before, "byte-identical after the rollback");
}

#[test]
fn a_guardrail_trip_rolls_back_to_the_exact_state() {
    let pair = Pair::new("utr");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trip.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1
name: delay-trip
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
    actions:
      - fault: network-delay
        params: {{latency: 100ms, jitter: 10ms, destinations: [\"{TARGET}\"], interface: {CLIENT_DEV}, netns: {ns}}}
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
    assert_eq!(report["injections"].as_array().map(Vec::len), Some(1), "{report:#}");
    assert!(report["rollbacks"].as_array().unwrap().iter().all(|r| r["ok"] == true), "{report:#}");
    assert_eq!(routing_state(&pair.client), before, "byte-identical after the guardrail's rollback");
}

#[test]
fn a_missing_tun_device_exits_3_names_it_and_changes_nothing() {
    let pair = Pair::new("unt");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let out = drill
        .cmd()
        .env("FAULTDRILL_TUN_PATH", "/nonexistent/net/tun")
        .arg("inject")
        .args(delay_args(&pair, "30s"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("lacks the `prio` and `netem` queueing discipline(s)"), "{err}");
    assert!(err.contains("open the TUN clone device /nonexistent/net/tun"), "{err}");
    assert!(err.contains("CONFIG_TUN"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(routing_state(&pair.client), before, "nothing may change");
    let recover = drill.run(&["recover", "--all"]);
    assert!(stderr(&recover).contains("Nothing to recover"), "nothing journaled: {}", stderr(&recover));
}

#[test]
fn dry_run_says_the_userspace_path_and_its_commands_and_changes_nothing() {
    let pair = Pair::new("udr");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let out = drill.run(&[&["inject"], &strs(&delay_args(&pair, "30s"))[..], &["--dry-run"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let exec = format!("ip netns exec {} ", pair.client.name);
    assert!(text.contains("path: userspace (this kernel lacks the `prio` and `netem`"), "{text}");
    assert!(text.contains(" helper delay --injection i-"), "{text}");
    assert!(text.contains(&format!("{exec}ip -4 route add default dev fdly")), "{text}");
    assert!(text.contains(&format!("{exec}ip -6 route add default dev fdly")), "{text}");
    assert!(text.contains("type route hook output priority mangle"), "{text}");
    assert!(text.contains("th dport { 80, 443 } meta mark set 0xfd1"), "{text}");
    assert!(text.contains(&format!("{exec}ip -4 rule add priority 31 fwmark 0xfd1")), "{text}");
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn every_undo_step_is_idempotent_and_the_controller_is_spared() {
    let pair = Pair::new("uid");
    let mut lab = Lab::new();
    lab.host = lab.host.clone().with_identity("local", vec![7878], vec!["10.77.0.9".parse().unwrap()]);
    lab.host = lab.host.clone().with_helper_exe(env!("CARGO_BIN_EXE_faultdrill"));
    let before = routing_state(&pair.client);
    let view = lab.inject(
        "network-delay",
        json!({"latency": "20ms", "interface": CLIENT_DEV, "netns": pair.client.name, "exclude": ["10.77.0.3"]}),
    );
    let rules = pair.client.exec(&["nft", "list", "ruleset"]);
    for spared in ["ip daddr { 10.77.0.3, 10.77.0.9 } accept", "th sport 7878 accept", "th dport 7878 accept"] {
        assert!(rules.contains(spared), "{spared} in {rules}");
    }
    let record = lab.host.journal().get(&view.id).unwrap().unwrap();
    let undo: Undo = serde_json::from_value(record.undo).unwrap();
    let Undo::All { steps } = &undo else { panic!("{undo:?}") };
    assert!(steps.iter().any(|s| matches!(s, Undo::DeleteLink { .. })), "{steps:?}");
    assert_eq!(steps.iter().filter(|s| matches!(s, Undo::DeleteIpRule { .. })).count(), 2, "{steps:?}");
    assert_eq!(lab.rollback(&view.id).outcome, Ok(UndoOutcome::Undone));
    assert_eq!(routing_state(&pair.client), before);
    for step in steps {
        assert_eq!(step.carry_out().unwrap(), UndoOutcome::AlreadyGone, "{step:?}");
    }
    assert_eq!(lab.rollback(&view.id).outcome, Ok(UndoOutcome::AlreadyGone));
}

#[test]
fn with_ipv6_off_an_unscoped_delay_holds_ipv4_alone_and_undoes_exactly() {
    let pair = Pair::new("uv6");
    pair.client.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let args = [
        "network-delay",
        "-p",
        "latency=50ms",
        "-p",
        &format!("interface={CLIENT_DEV}"),
        "-p",
        &format!("netns={}", pair.client.name),
        "--duration",
        "120s",
    ];
    let mut holder = drill.start_inject(&args);
    let pings = ping(&pair.client, TARGET, 5, Duration::from_millis(10));
    assert!(pings.iter().all(|p| *p >= 50.0) && (50.0..65.0).contains(&median(&pings)), "{pings:?}");
    holder.signal(Signal::SIGTERM);
    let (code, err) = holder.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn delete_link_removes_only_a_faultdrill_tun_device_and_delete_ip_rule_only_its_rule() {
    let pair = Pair::new("ulk");
    let ns = Some(pair.client.name.clone());
    pair.client.ip(&["tuntap", "add", "dev", "fdlyleft0", "mode", "tun"]);
    pair.client.ip(&["link", "add", "fdlyveth0", "type", "veth", "peer", "name", "fdlyveth1"]);
    pair.client.ip(&["rule", "add", "priority", "31", "fwmark", "0x7", "lookup", "77"]);
    pair.client.ip(&["rule", "add", "priority", "31", "fwmark", "0x8", "lookup", "77"]);
    let link = Undo::DeleteLink { netns: ns.clone(), device: "fdlyleft0".into() };
    assert_eq!(link.carry_out().unwrap(), UndoOutcome::Undone);
    assert!(!pair.client.exec(&["ip", "link", "show"]).contains("fdlyleft0"));
    assert_eq!(link.carry_out().unwrap(), UndoOutcome::AlreadyGone);
    let not_tun = Undo::DeleteLink { netns: ns.clone(), device: "fdlyveth0".into() };
    assert_eq!(not_tun.carry_out().unwrap(), UndoOutcome::AlreadyGone, "a veth is never deleted");
    assert!(pair.client.exec(&["ip", "link", "show"]).contains("fdlyveth0"));
    let foreign = Undo::DeleteLink { netns: ns.clone(), device: CLIENT_DEV.into() };
    assert!(foreign.carry_out().is_err(), "a name without faultdrill's prefix is refused");

    let rule = Undo::DeleteIpRule { netns: ns.clone(), ipv6: false, priority: 31, fwmark: 7, table: 77 };
    assert_eq!(rule.carry_out().unwrap(), UndoOutcome::Undone);
    assert_eq!(rule.carry_out().unwrap(), UndoOutcome::AlreadyGone);
    let rules = pair.client.exec(&["ip", "rule", "show"]);
    assert!(!rules.contains("fwmark 0x7 ") && rules.contains("fwmark 0x8 lookup 77"), "{rules}");
    let gone_ns =
        Undo::DeleteIpRule { netns: Some("fdt-no-such-ns".into()), ipv6: true, priority: 31, fwmark: 7, table: 77 };
    assert_eq!(gone_ns.carry_out().unwrap(), UndoOutcome::AlreadyGone);
}
