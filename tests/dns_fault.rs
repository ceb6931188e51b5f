//! dns-fault against a real resolver (dnsmasq) in a namespace of the test's own,
//! through the real binary: matched names get the effect over UDP, TCP and IPv6,
//! other names still resolve, and after the fault both resolve again with the
//! nft ruleset byte-identical and no resolver helper left.

mod dns_lab;
mod faults_util;

use std::time::Duration;

use dns_lab::{BAD, DnsLab, GOOD, WILD};
use faults_util::{Drill, helpers_of};
use nix::sys::signal::Signal;

fn inject(drill: &Drill, lab: &DnsLab, params: &[&str], duration: &str) -> faults_util::Injecting {
    let netns = format!("netns={}", lab.ns.name);
    let mut args = vec!["dns-fault", "-p", &netns, "--duration", duration];
    for p in params {
        args.extend(["-p", p]);
    }
    drill.start_inject(&args)
}

#[test]
fn a_matched_name_gets_nxdomain_over_udp_tcp_and_ipv6_while_others_resolve_until_the_normal_end() {
    let lab = DnsLab::new("dnsnx");
    let before = lab.ruleset();
    let drill = Drill::new();
    let mut inject = inject(&drill, &lab, &["names=bad.test,*.wild.test", "effect=nxdomain"], "8s");
    assert_eq!(helpers_of(&inject.id).len(), 2, "the resolver and its watchdog run");
    let resolver = helpers_of(&inject.id)
        .into_iter()
        .find(|&pid| faultdrill::platform::linux::procs::cmdline(pid).is_some_and(|a| a.contains(&"dns".to_string())))
        .expect("the resolver runs");
    let status = std::fs::read_to_string(format!("/proc/{resolver}/status")).unwrap();
    let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).unwrap().trim().to_string();
    assert!(!field("Uid:").starts_with('0'), "the resolver is not root: {}", field("Uid:"));
    assert_eq!(field("CapEff:"), "0000000000001000", "only CAP_NET_ADMIN is left");
    assert_eq!(field("CapPrm:"), "0000000000001000", "only CAP_NET_ADMIN is left");
    assert!(lab.ruleset().contains("redirect to :"), "{}", lab.ruleset());
    for extra in [None, Some("+tcp"), Some("@::1")] {
        let with = |name| extra.into_iter().chain([name]).collect::<Vec<_>>();
        let bad = lab.dig(&with("bad.test"));
        assert_eq!(bad.status.as_deref(), Some("NXDOMAIN"), "{extra:?}: {}", bad.text);
        let below = lab.dig(&with("x.wild.test"));
        assert_eq!(below.status.as_deref(), Some("NXDOMAIN"), "{extra:?}: {}", below.text);
        let good = lab.dig(&with("good.test"));
        assert_eq!(good.addresses(), [GOOD], "{extra:?}: {}", good.text);
        // The wildcard is below the domain only.
        let domain = lab.dig(&with("wild.test"));
        assert_eq!(domain.addresses(), [WILD], "{extra:?}: {}", domain.text);
    }
    let (code, stderr) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the duration elapsed"), "{stderr}");
    assert_eq!(lab.ruleset(), before, "the nft ruleset is byte-identical after the fault");
    assert!(helpers_of(&inject.id).is_empty(), "no resolver or watchdog left");
    lab.assert_all_resolve();
}

#[test]
fn a_matched_name_times_out_while_another_resolves_and_sigterm_rolls_back() {
    let lab = DnsLab::new("dnsto");
    let before = lab.ruleset();
    let drill = Drill::new();
    let inject = inject(&drill, &lab, &["names=bad.test", "effect=timeout"], "60s");
    let mut inject = inject;
    for extra in [None, Some("+tcp")] {
        let with = |name| extra.into_iter().chain([name]).collect::<Vec<_>>();
        let bad = lab.dig(&with("bad.test"));
        assert_eq!(bad.status, None, "{extra:?}: no answer at all: {}", bad.text);
        assert!(bad.took >= Duration::from_millis(1900), "{extra:?}: dig waited its 2 s: {:?}", bad.took);
        let good = lab.dig(&with("good.test"));
        assert_eq!(good.addresses(), [GOOD], "{extra:?}: {}", good.text);
    }
    inject.signal(Signal::SIGTERM);
    let (code, stderr) = inject.wait(Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(lab.ruleset(), before, "the nft ruleset is byte-identical after SIGTERM");
    assert!(helpers_of(&inject.id).is_empty(), "no resolver or watchdog left");
    lab.assert_all_resolve();
}

#[test]
fn delay_holds_the_real_answer_back_and_an_ipv6_upstream_answers_the_rest() {
    let lab = DnsLab::new("dnsdl");
    let drill = Drill::new();
    let params = ["names=bad.test", "effect=delay", "delay=600ms", "upstream=::1"];
    let mut inject = inject(&drill, &lab, &params, "60s");
    let argv: Vec<Vec<String>> =
        helpers_of(&inject.id).into_iter().filter_map(faultdrill::platform::linux::procs::cmdline).collect();
    assert!(argv.iter().any(|a| a.windows(2).any(|w| w == ["--upstream", "[::1]:53"])), "{argv:?}");
    for extra in [None, Some("+tcp")] {
        let with = |name| extra.into_iter().chain([name]).collect::<Vec<_>>();
        let bad = lab.dig(&with("bad.test"));
        assert_eq!(bad.addresses(), [BAD], "{extra:?}: the real answer: {}", bad.text);
        assert!(bad.took >= Duration::from_millis(600), "{extra:?}: held back: {:?}", bad.took);
        let good = lab.dig(&with("good.test"));
        assert_eq!(good.addresses(), [GOOD], "{extra:?}");
        assert!(good.took < Duration::from_millis(400), "{extra:?}: not held back: {:?}", good.took);
    }
    inject.signal(Signal::SIGTERM);
    assert_eq!(inject.wait(Duration::from_secs(20)).0, Some(130));
}

#[test]
fn wrong_address_answers_each_family_with_ttl_zero_and_servfail_fails() {
    let lab = DnsLab::new("dnswa");
    let drill = Drill::new();
    let mut inject =
        inject(&drill, &lab, &["names=bad.test", "effect=wrong-address", "addresses=10.9.9.9,fd00::9"], "60s");
    let a = lab.dig(&["bad.test", "A"]);
    assert_eq!(a.answers, [(0, "10.9.9.9".to_string())], "{}", a.text);
    let aaaa = lab.dig(&["+tcp", "bad.test", "AAAA"]);
    assert_eq!(aaaa.answers, [(0, "fd00::9".to_string())], "{}", aaaa.text);
    assert_eq!(lab.dig(&["good.test"]).addresses(), [GOOD]);
    inject.signal(Signal::SIGTERM);
    assert_eq!(inject.wait(Duration::from_secs(20)).0, Some(130));
    assert_eq!(lab.dig(&["bad.test", "AAAA"]).addresses(), ["fd00::bad"]);

    let mut servfail = self::inject(&drill, &lab, &["names=bad.test", "effect=servfail"], "60s");
    let bad = lab.dig(&["bad.test"]);
    assert_eq!(bad.status.as_deref(), Some("SERVFAIL"), "{}", bad.text);
    assert_eq!(lab.dig(&["good.test"]).addresses(), [GOOD]);
    servfail.signal(Signal::SIGTERM);
    assert_eq!(servfail.wait(Duration::from_secs(20)).0, Some(130));
    lab.assert_all_resolve();
}

#[test]
fn a_caching_resolvers_own_upstream_queries_are_not_redirected_into_a_loop() {
    let lab = DnsLab::forwarding("dnsfw");
    let before = lab.ruleset();
    let drill = Drill::new();
    let mut inject = inject(&drill, &lab, &["names=bad.test", "effect=nxdomain"], "60s");
    // Clients ask the forwarder (redirected); the forwarder asks 127.0.0.2 (left alone).
    for extra in [None, Some("+tcp"), Some("@::1")] {
        let with = |name| extra.into_iter().chain([name]).collect::<Vec<_>>();
        let good = lab.dig(&with("good.test"));
        assert_eq!(good.addresses(), [GOOD], "{extra:?}: through the forwarder: {}", good.text);
        assert!(good.took < Duration::from_millis(500), "{extra:?}: no loop: {:?}", good.took);
        assert_eq!(lab.dig(&with("bad.test")).status.as_deref(), Some("NXDOMAIN"), "{extra:?}");
    }
    inject.signal(Signal::SIGTERM);
    assert_eq!(inject.wait(Duration::from_secs(20)).0, Some(130));
    assert_eq!(lab.ruleset(), before);
    assert_eq!(lab.dig(&["bad.test"]).addresses(), [BAD]);
}
