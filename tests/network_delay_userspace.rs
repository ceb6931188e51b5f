//! network-delay without netem, with real traffic between two namespaces: the
//! matched destination's ICMP and TCP round trips take the delay, another
//! destination's do not, jitter spreads them as configured, bulk data arrives
//! intact, and SIGTERM leaves rules, routes, links and nft exactly as found.

mod faults_util;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/netns_host.rs"]
mod netns_host;
#[path = "common/rtt.rs"]
mod rtt;

use std::time::Duration;

use faults_util::{Drill, helpers_of};
use netns::{BYSTANDER, CLIENT_DEV, Pair, TARGET, TARGET6};
use netns_host::Lab;
use nix::sys::signal::Signal;
use rtt::{bulk_echo, echo_server, median, ping, routing_state, tcp_round_trips};
use serde_json::json;

fn delay_args(pair: &Pair, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "network-delay",
        "-p",
        &format!("destinations={TARGET},{TARGET6}"),
        "-p",
        &format!("interface={CLIENT_DEV}"),
        "-p",
        &format!("netns={}", pair.client.name),
        "--duration",
        "120s",
    ]
    .map(String::from)
    .to_vec();
    for p in extra {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Every round trip took at least `low` (a packet never leaves early), and the
/// median and at least 90 % of them at most `high`: an occasional late one is
/// the test machine's scheduling (other tests run beside this one), not the delay.
fn within(values: &[f64], low: f64, high: f64) -> bool {
    let inside = values.iter().filter(|v| (low..=high).contains(*v)).count();
    values.iter().all(|v| *v >= low) && (low..=high).contains(&median(values)) && inside * 10 >= values.len() * 9
}

#[test]
fn at_100ms_the_target_round_trips_take_100_to_115ms_and_a_bystander_is_unchanged() {
    let pair = Pair::new("ud1");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let server = echo_server(&pair.server, "0.0.0.0:0");
    let target = format!("{TARGET}:{}", server.port()).parse().unwrap();
    let bystander = format!("{BYSTANDER}:{}", server.port()).parse().unwrap();
    let server6 = echo_server(&pair.server, "[::]:0");
    let target6 = format!("[{TARGET6}]:{}", server6.port()).parse().unwrap();
    let bystander_before = median(&ping(&pair.client, BYSTANDER, 10, Duration::from_millis(20)));

    let mut holder = drill.start_inject(&strs(&delay_args(&pair, &["latency=100ms"])));
    assert_ne!(routing_state(&pair.client), before, "the fault is in place");
    assert_eq!(helpers_of(&holder.id).len(), 1, "one delay helper");

    let pings = ping(&pair.client, TARGET, 10, Duration::from_millis(50));
    assert!(within(&pings, 100.0, 115.0), "ICMP round trips to the target: {pings:?}");
    let (trips, connect) = tcp_round_trips(&pair.client, target, 10);
    assert!(within(&trips, 100.0, 115.0), "TCP round trips to the target: {trips:?}");
    assert!((100.0..150.0).contains(&connect), "TCP connect to the target (one round trip): {connect} ms");
    let (trips6, connect6) = tcp_round_trips(&pair.client, target6, 5);
    assert!(within(&trips6, 100.0, 115.0), "IPv6 TCP round trips to the target: {trips6:?}");
    assert!((100.0..150.0).contains(&connect6), "IPv6 TCP connect: {connect6} ms");

    let others = ping(&pair.client, BYSTANDER, 10, Duration::from_millis(20));
    assert!(median(&others) < bystander_before + 2.0, "bystander ICMP: {others:?} (before: {bystander_before})");
    let (other_trips, _) = tcp_round_trips(&pair.client, bystander, 10);
    assert!(median(&other_trips) < 5.0, "bystander TCP: {other_trips:?}");

    holder.signal(Signal::SIGTERM);
    let (code, err) = holder.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(routing_state(&pair.client), before, "byte-identical after SIGTERM");
    assert!(helpers_of(&holder.id).is_empty(), "no helper left");
    let after = ping(&pair.client, TARGET, 5, Duration::from_millis(20));
    assert!(median(&after) < 5.0, "the delay is gone: {after:?}");
}

#[test]
fn jitter_20ms_spreads_round_trips_over_80_to_120ms() {
    let pair = Pair::new("ud2");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let mut holder = drill.start_inject(&strs(&delay_args(&pair, &["latency=100ms", "jitter=20ms"])));
    // 60 ms apart, more than the jitter's whole span: no echo waits behind the one before.
    let pings = ping(&pair.client, TARGET, 60, Duration::from_millis(60));
    assert!(within(&pings, 79.0, 125.0), "{pings:?}");
    let (min, max) = pings.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(max - min > 25.0, "jitter spreads the round trips: {min}..{max}");
    let mean = pings.iter().sum::<f64>() / pings.len() as f64;
    let sd = (pings.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / pings.len() as f64).sqrt();
    // Uniform over ±20 ms: a standard deviation of 20/√3 ≈ 11.5 ms.
    assert!((6.0..=17.0).contains(&sd), "standard deviation {sd} ms of {pings:?}");
    assert!((95.0..=108.0).contains(&mean), "mean {mean} ms");
    holder.signal(Signal::SIGTERM);
    assert_eq!(holder.wait(Duration::from_secs(15)).0, Some(130));
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn bulk_data_through_the_delayed_path_arrives_intact() {
    let pair = Pair::new("ud3");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let server = echo_server(&pair.server, "0.0.0.0:0");
    let target = format!("{TARGET}:{}", server.port()).parse().unwrap();
    let mut holder = drill.start_inject(&strs(&delay_args(&pair, &["latency=10ms"])));
    let mbit = bulk_echo(&pair.client, target, 8 << 20);
    eprintln!("throughput through the 10 ms user-space delay (8 MiB echoed): {mbit:.1} Mbit/s");
    assert!(mbit > 1.0, "{mbit} Mbit/s");
    holder.signal(Signal::SIGTERM);
    let (code, err) = holder.wait(Duration::from_secs(15));
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn the_daemons_port_and_the_controllers_address_are_never_delayed() {
    let pair = Pair::new("ud4");
    let before = routing_state(&pair.client);
    let daemon = echo_server(&pair.server, "0.0.0.0:0");
    let other = echo_server(&pair.server, "0.0.0.0:0");
    let mut lab = Lab::new();
    lab.host = lab
        .host
        .clone()
        .with_identity("local", vec![daemon.port()], vec![BYSTANDER.parse().unwrap()])
        .with_helper_exe(env!("CARGO_BIN_EXE_faultdrill"));
    // Unscoped: everything leaving the device, but what the host protects.
    let view =
        lab.inject("network-delay", json!({"latency": "100ms", "interface": CLIENT_DEV, "netns": pair.client.name}));
    let to = |port: u16| format!("{TARGET}:{port}").parse().unwrap();
    let (delayed, _) = tcp_round_trips(&pair.client, to(other.port()), 5);
    assert!(within(&delayed, 100.0, 115.0), "another port of the target: {delayed:?}");
    let (spared, _) = tcp_round_trips(&pair.client, to(daemon.port()), 5);
    assert!(median(&spared) < 5.0, "the daemon's port: {spared:?}");
    let controller = ping(&pair.client, BYSTANDER, 5, Duration::from_millis(10));
    assert!(median(&controller) < 5.0, "the controller's address: {controller:?}");
    lab.rollback(&view.id);
    assert_eq!(routing_state(&pair.client), before);
}

#[test]
fn loss_drops_the_matched_packets_the_helper_holds() {
    let pair = Pair::new("ud5");
    let drill = Drill::new();
    let before = routing_state(&pair.client);
    let mut holder = drill.start_inject(&strs(&delay_args(&pair, &["latency=10ms", "loss=100"])));
    let lost = ping(&pair.client, TARGET, 3, Duration::from_millis(10));
    assert!(lost.iter().all(|v| v.is_infinite()), "every echo to the target is dropped: {lost:?}");
    let others = ping(&pair.client, BYSTANDER, 3, Duration::from_millis(10));
    assert!(others.iter().all(|v| *v < 5.0), "{others:?}");
    holder.signal(Signal::SIGTERM);
    assert_eq!(holder.wait(Duration::from_secs(15)).0, Some(130));
    assert_eq!(routing_state(&pair.client), before);
}
