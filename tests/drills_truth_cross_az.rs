//! The cross-az-dr drill against a real front: haproxy (Debian's) in az-2 balancing an
//! az-1 and an az-2 instance with health checks. Three zones' worth of namespaces, a daemon
//! and an HTTP service on each host, the controller in the hub namespace:
//! - the drill passes, three runs in a row (the front fails over; a request caught mid-cut
//!   is within the template's `tolerate`);
//! - a daemon restarted mid-drill makes it `fault_not_held` (exit 6), naming the host;
//! - a controller killed mid-drill, then `recover --all` on it: every namespace's nftables
//!   ruleset is as before at once, without waiting for the leases;
//! - during the partition the controller reaches every daemon, and nothing else reaches a
//!   daemon's port across the cut (finding 4c); `isolation: full` also cuts what
//!   `surviving_cidrs` leaves open (the controller's own traffic to the zone, IPv6).

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/daemon_netns.rs"]
mod daemon_netns;
mod drills_common;
#[path = "drills_common/zones.rs"]
mod zones;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon::wait_for;
use daemon_netns::Net;
use drills_common::{Group, python3, tcp_connects};
use zones::{Setup, Zones, report, stderr};

/// Runs in a row (`CROSS_AZ_RUNS`, default 3; the verdict-stability figure uses 20).
fn runs() -> usize {
    std::env::var("CROSS_AZ_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(3)
}

#[test]
fn drills_truth_cross_az_against_haproxy_passes_three_times_in_a_row() {
    let zones = Zones::new();
    let before = zones.rulesets();
    let mut failed_samples = 0;
    for run in 1..=runs() {
        let out = zones.drill("3s").output().unwrap();
        let report = report(&out);
        assert_eq!(out.status.code(), Some(0), "run {run}: {}\n{}", report["reason"], stderr(&out));
        let timeline = report["timeline"].as_array().unwrap();
        let recovered = timeline.iter().any(|e| {
            e["event"]["probe"] == "failed-zone-serves"
                && e["event"]["ok"] == true
                && e["event"]["sample"]["host"] == "az-1-host-0"
        });
        assert!(recovered, "run {run}: az-1 answered again after the rollback");
        failed_samples +=
            timeline.iter().filter(|e| e["event"]["kind"] == "probe_sample" && e["event"]["ok"] == false).count();
        assert_eq!(zones.rulesets(), before, "run {run}: every namespace's ruleset as before");
        // The supervisor restarts az-1's primary; the front has it back before the next run.
        wait_for(Duration::from_secs(10), "az-1 to serve again", || {
            tcp_connects(&zones.net.hosts[2], &Net::addr(0), 8000, 1.0).then_some(())
        });
    }
    eprintln!("{} runs passed; {failed_samples} failed front sample(s) within the budget", runs());
}

#[test]
fn drills_truth_cross_az_with_a_daemon_restarted_mid_drill_is_fault_not_held() {
    let mut zones = Zones::new();
    let before = zones.rulesets();
    let child = zones.drill("6s").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(Duration::from_secs(20), "az-1 to be partitioned", || zones.partitioned().then_some(()));
    std::thread::sleep(Duration::from_millis(500));
    zones.daemons[0].restart(); // it rolls back what its predecessor left as it starts
    let out = child.wait_with_output().unwrap();
    let report = report(&out);
    assert_eq!(out.status.code(), Some(6), "{}\n{}", report["reason"], stderr(&out));
    assert_eq!(report["outcome"], "fault_not_held");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("network-partition") && reason.contains("on az-1-host-0 ended"), "{reason}");
    assert!(reason.contains("daemon restarted"), "{reason}");
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before");
}

#[test]
fn drills_truth_cross_az_killed_controller_then_recover_all_restores_every_ruleset_at_once() {
    let zones = Zones::new();
    let before = zones.rulesets();
    let mut child = zones.drill("60s").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(Duration::from_secs(20), "az-1 to be partitioned", || zones.partitioned().then_some(()));
    child.kill().unwrap(); // SIGKILL of `ip netns exec`, which exec'd faultdrill: the controller itself
    child.wait().unwrap();
    assert!(zones.partitioned(), "still partitioned: nothing rolls back by itself before the lease");

    let started = Instant::now();
    let out = zones.faultdrill().args(["recover", "--all"]).output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("network-partition on az-1-host-0 (") && stdout.contains(": rolled back"), "{stdout}");
    assert!(stderr(&out).contains("Reached 1 of 1 daemon(s)."), "{}", stderr(&out));
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before, right after recover");
    assert!(took < Duration::from_secs(5), "at once, not after the 15 s lease: {took:?}");
}

/// Reachability while az-1 (host 0) is partitioned, from each side.
#[derive(Debug, PartialEq)]
struct Reach {
    /// The controller (hub) to every daemon's port.
    controller_to_daemons: bool,
    /// az-1 to az-2's daemon port, and back.
    a1_to_a2_daemon: bool,
    a2_to_a1_daemon: bool,
    /// The controller to az-1's service (not the daemon's port).
    controller_to_a1_service: bool,
    /// az-2 to az-1 over IPv6 (not in `surviving_cidrs`).
    a2_to_a1_ipv6: bool,
}

fn reach_while_partitioned(zones: &Zones, isolation: &str) -> Reach {
    let child = zones
        .drill_with("15s", &[&format!("isolation={isolation}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "az-1 to be partitioned", || zones.partitioned().then_some(()));
    let hosts = &zones.net.hosts;
    let reach = Reach {
        controller_to_daemons: (0..3).all(|i| tcp_connects(&zones.net.hub, &Net::addr(i), 7878, 1.0)),
        a1_to_a2_daemon: tcp_connects(&hosts[0], &Net::addr(1), 7878, 0.5),
        a2_to_a1_daemon: tcp_connects(&hosts[1], &Net::addr(0), 7878, 0.5),
        controller_to_a1_service: tcp_connects(&zones.net.hub, &Net::addr(0), 8001, 0.5),
        a2_to_a1_ipv6: tcp_connects(&hosts[1], "fd77::11", 8001, 0.5),
    };
    assert!(zones.partitioned(), "every check was made while the partition held");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", report(&out)["reason"], stderr(&out));
    reach
}

#[test]
fn drills_truth_cross_az_spares_only_the_controllers_path_and_full_isolation_cuts_the_rest() {
    let zones = Zones::new();
    // IPv6 beside IPv4 on az-1's and az-2's first hosts, and a second service on az-1 that
    // listens on both (the drill kills only the primary).
    for (i, ns) in zones.net.hosts.iter().take(2).enumerate() {
        let ok = Command::new("ip")
            .args(["-n", ns, "addr", "add", &format!("fd77::{}/64", 11 + i), "dev", "eth0", "nodad"])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let code = "import socket,time\nv4=socket.create_server(('0.0.0.0',8001))\n\
                v6=socket.create_server(('::',8001),family=socket.AF_INET6,dualstack_ipv6=False)\n\
                while True: time.sleep(60)";
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &zones.net.hosts[0]]).arg(python3()).args(["-c", code]);
    let _listener = Group::spawn(cmd);
    wait_for(Duration::from_secs(10), "the second service", || {
        tcp_connects(&zones.net.hosts[1], "fd77::11", 8001, 1.0).then_some(())
    });
    let before = zones.rulesets();
    let everything_open = Reach {
        controller_to_daemons: true,
        a1_to_a2_daemon: true,
        a2_to_a1_daemon: true,
        controller_to_a1_service: true,
        a2_to_a1_ipv6: true,
    };

    let surviving = reach_while_partitioned(&zones, "surviving");
    assert_eq!(
        surviving,
        Reach { a1_to_a2_daemon: false, a2_to_a1_daemon: false, ..everything_open },
        "surviving: the controller keeps every daemon; az-1 and az-2 cannot reach each other's daemon"
    );
    assert_eq!(zones.rulesets(), before);
    wait_for(Duration::from_secs(10), "az-1 to serve again", || {
        tcp_connects(&zones.net.hosts[2], &Net::addr(0), 8000, 1.0).then_some(())
    });

    let full = reach_while_partitioned(&zones, "full");
    assert_eq!(
        full,
        Reach {
            controller_to_daemons: true,
            a1_to_a2_daemon: false,
            a2_to_a1_daemon: false,
            controller_to_a1_service: false,
            a2_to_a1_ipv6: false,
        },
        "full: only the controller's path to each daemon is left"
    );
    assert_eq!(zones.rulesets(), before);
}

#[test]
fn drills_truth_cross_az_a_front_without_failover_is_stopped_by_the_error_rate_guardrail_before_the_hold_ends() {
    let zones = Zones::build(Setup { failover: false, restarts: true });
    let before = zones.rulesets();
    let started = Instant::now();
    let out = zones.drill_with("60s", &["error_window=3s"]).output().unwrap();
    let took = started.elapsed();
    let report = report(&out);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", report["reason"], stderr(&out));
    assert_eq!(report["outcome"], "guardrail_tripped");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("guardrail front-error-rate tripped"), "{reason}");
    assert!(reason.contains("of probe front-serves's samples failed over the last 3s"), "{reason}");
    assert!(took < Duration::from_secs(30), "stopped long before the 60 s hold ends: {took:?}");
    let timeline = report["timeline"].as_array().unwrap();
    let failed = timeline.iter().filter(|e| e["event"]["kind"] == "probe_sample" && e["event"]["ok"] == false).count();
    assert!(failed > 2, "the front failed beyond its tolerance first (it deviated): {failed} failed sample(s)");
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before");
}

#[test]
fn drills_truth_cross_az_a_failed_zone_that_never_recovers_deviates_naming_the_host() {
    let zones = Zones::build(Setup { failover: true, restarts: false });
    let before = zones.rulesets();
    let out = zones.drill_with("2s", &["recovery=3s"]).output().unwrap();
    let report = report(&out);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", report["reason"], stderr(&out));
    assert_eq!(report["outcome"], "deviated");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("failed-zone-serves on az-1-host-0 did not recover within 3s of the rollback"), "{reason}");
    assert_eq!(zones.rulesets(), before, "every namespace's ruleset as before");
}
