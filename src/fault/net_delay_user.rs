//! network-delay where the kernel has no netem: the delay is applied in user space.
//!
//! The plan, in the target's network namespace:
//! 1. a helper (`faultdrill helper delay`) creates TUN device `fdly<hash>` (MTU of
//!    the shaped device) and holds every packet it reads for the delay;
//! 2. routing table T gets default routes through that device;
//! 3. an nftables table of the injection's own marks matching egress packets
//!    (destinations, ports, leaving through the shaped device, exclusions spared
//!    first) with mark M, in a `route` chain, so the kernel re-routes them;
//! 4. `ip rule fwmark M lookup T` sends marked packets into the device.
//!
//! The helper sends each packet back out through a raw socket marked B: the
//! nft chain spares B first, and no rule matches B, so it leaves by the main
//! table as it would have without the fault. Netem's `prio`, `fq` or NFQUEUE
//! are not needed; eBPF cannot hold packets without `fq` (earliest departure
//! time needs it), which this kind of kernel lacks too.

use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use crate::experiment::Params;
use crate::platform::linux::tun::{self, DEVICE_PREFIX};
use crate::platform::linux::{helpers, iproute, names, netns, nft};

use super::context::{Applied, FaultError, InjectContext, Prepared};
use super::net_delayer::DelayArgs;
use super::net_nft::table_name;
use super::net_scope::{Scope, interface_of, netns_of};
use super::nft_rules::{Direction, DropVerdict, Table};
use super::undo::Undo;

/// The priority of the fwmark rules: after `local` (0), before anything a
/// distribution or VPN usually adds, so marked packets reach the device.
pub const RULE_PRIORITY: u32 = 31;

/// The names and numbers of one injection's routing, all derived from its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routing {
    pub device: String,
    /// Set on matching packets; the rule sends them to `table`.
    pub mark: u32,
    /// Carried by packets the helper sends back out.
    pub bypass: u32,
    pub table: u32,
}

impl Routing {
    pub fn of(id: &crate::ids::InjectionId) -> Routing {
        let hash = id.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        let low = hash & 0xffff;
        Routing {
            device: format!("{DEVICE_PREFIX}{hash:08x}"),
            mark: 0x0fd1_0000 | low,
            bypass: 0x0fd2_0000 | low,
            table: 0x0fd1_0000 | low,
        }
    }
}

/// Whether nftables can mark packets in a `route` chain here, tried in a throwaway namespace.
fn probe_route_chain() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let script = "create table inet faultdrill_probe\n\
                 add chain inet faultdrill_probe output { type route hook output priority mangle; policy accept; }\n\
                 add rule inet faultdrill_probe output meta mark 0x2 accept\n\
                 add rule inet faultdrill_probe output ip daddr { 10.0.0.0/8 } meta l4proto { tcp, udp } th dport { 1 } meta mark set 0x1\n";
            let mut cmd = netns::command_in_throwaway("nft");
            cmd.args(["-f", "-"]);
            match netns::run(cmd, Some(script)) {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("nft failed").to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
}

/// Prepares the user-space delay; changes nothing. `missing` names the qdiscs
/// the kernel lacks (why this path is taken, for the preview).
pub fn prepare(
    fault: &str,
    params: &Params,
    cx: &InjectContext,
    missing: &[&'static str],
    shaping: &DelayShaping,
) -> Result<Prepared, FaultError> {
    let lacks: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
    let lacks = lacks.join(" and ");
    tun::check_available().map_err(|e| {
        FaultError::Unsupported(format!(
            "{fault}: this kernel lacks the {lacks} queueing discipline(s), and the user-space path that replaces them cannot run: failed to {e}; nothing was changed. Latency can still be injected with tcp-proxy-latency"
        ))
    })?;
    probe_route_chain().map_err(|said| {
        FaultError::Unsupported(format!(
            "{fault}: this kernel lacks the {lacks} queueing discipline(s), and the user-space path needs nftables `route` chains (nf_tables with nft_chain_route, and the `nft` tool from the Debian package nftables): {said}; nothing was changed"
        ))
    })?;
    let netns = netns_of(params)?;
    let device = match interface_of(params)? {
        Some(dev) => dev,
        None => netns::default_route_device(netns.as_deref())
            .map_err(|e| FaultError::Unsupported(e.to_string()))?
            .ok_or_else(|| FaultError::NoTarget("there is no default route; give the `interface` parameter".into()))?,
    };
    names::check_interface(&device).map_err(|e| FaultError::Refused(format!("device of the default route: {e}")))?;
    if device == "lo" {
        return Err(FaultError::Refused(format!(
            "{fault} without netem cannot delay loopback traffic (it never leaves through a route); use tcp-proxy-latency in front of the local service"
        )));
    }
    let mtu = iproute::mtu(netns.as_deref(), &device).map_err(|e| FaultError::NoTarget(e.to_string()))?;
    let scope = Scope::from_params(params, cx)?;
    let routing = Routing::of(&cx.injection);
    let table = table_name(&cx.injection);
    let verdict = DropVerdict::Mark { set: routing.mark, unless: routing.bypass };
    let rules = Table::build(&table, &scope, Direction::Out, Some(&device), verdict);
    let families: Vec<bool> = [false, true].into_iter().filter(|ipv6| scope.covers_family(!ipv6)).collect();

    let nft_undo = Undo::DeleteNftTable { netns: netns.clone(), family: "inet".into(), table: table.clone() };
    let rule_undo = |ipv6: bool| Undo::DeleteIpRule {
        netns: netns.clone(),
        ipv6,
        priority: RULE_PRIORITY,
        fwmark: routing.mark,
        table: routing.table,
    };
    // Carried out last to first: rules, nft table (nothing is routed in any more), helper, device.
    let mut feed = vec![nft_undo];
    feed.extend(families.iter().map(|&v6| rule_undo(v6)));
    let at_deadline = Undo::All { steps: feed.clone() };
    let mut steps = vec![
        Undo::DeleteLink { netns: netns.clone(), device: routing.device.clone() },
        Undo::stop_helpers(&cx.injection),
    ];
    steps.extend(feed);
    let undo = Undo::All { steps };

    let args = DelayArgs {
        injection: cx.injection.to_string(),
        deadline_ms: cx.deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
        netns: netns.clone(),
        device: routing.device.clone(),
        mtu,
        bypass_mark: routing.bypass,
        latency_us: shaping.latency_us,
        jitter_us: shaping.jitter_us,
        correlation: shaping.correlation,
        loss: shaping.loss,
        corrupt: shaping.corrupt,
        duplicate: shaping.duplicate,
        at_deadline: serde_json::to_string(&at_deadline).expect("undo records serialise"),
    };
    let mut argv = vec!["helper".to_string(), "delay".to_string()];
    argv.extend(args.to_argv());
    let routes: Vec<Vec<String>> =
        families.iter().map(|&v6| iproute::default_route_args(v6, &routing.device, routing.table)).collect();
    let ip_rules: Vec<Vec<String>> =
        families.iter().map(|&v6| iproute::rule_args("add", v6, RULE_PRIORITY, routing.mark, routing.table)).collect();

    let prefix = netns::preview_prefix(netns.as_deref());
    let mut preview = vec![
        format!(
            "path: userspace (this kernel lacks the {lacks} queueing discipline(s)): matching packets leaving {device} are marked {:#x}, routed by table {} into TUN device {}, held by a helper, and sent back out marked {:#x}",
            routing.mark, routing.table, routing.device, routing.bypass
        ),
        format!(
            "{} {}   # enters the namespace itself, creates {} (mtu {mtu}), holds packets; at the deadline removes the rules and exits",
            cx.exe.display(),
            argv.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" "),
            routing.device
        ),
    ];
    preview.extend(routes.iter().map(|r| format!("{prefix}ip {}", r.join(" "))));
    preview.push(format!("{prefix}nft -j -f -, with this table as nft JSON (one transaction):"));
    preview.extend(rules.to_script().lines().map(|l| format!("  {l}")));
    preview.extend(ip_rules.iter().map(|r| format!("{prefix}ip {}", r.join(" "))));

    let json = rules.to_json();
    let exe = cx.exe.clone();
    let names_ipv6 = scope.destinations.iter().any(|c| !c.is_ipv4());
    let shown = preview.clone();
    let preview_then = move |notes: Vec<String>| shown.iter().cloned().chain(notes).collect::<Vec<_>>();
    let apply = move || -> Result<Applied, FaultError> {
        let apply_error = |what: String| FaultError::Apply { context: what, source: None };
        let helper = helpers::spawn_helper(&exe, &argv, std::time::Duration::from_secs(10))
            .map_err(|e| apply_error(format!("start the delay helper: {}", crate::errors::error_chain(&e))))?;
        let mut report = Vec::new();
        let mut routed = Vec::new();
        for ((words, rule), &ipv6) in routes.iter().zip(&ip_rules).zip(&families) {
            match iproute::ip(netns.as_deref(), words) {
                Ok(_) => routed.push(rule),
                // No destination asked for IPv6 by name and the host has it off: IPv4 alone is the whole fault.
                Err(e) if ipv6 && !names_ipv6 => report.push(format!("IPv6 left alone (it is off here: {e})")),
                Err(e) => return Err(apply_error(format!("add a route: {e}"))),
            }
        }
        nft::apply_json(netns.as_deref(), &json)
            .map_err(|e| apply_error(format!("create nftables table inet {table}: {e}")))?;
        for words in routed {
            iproute::ip(netns.as_deref(), words).map_err(|e| apply_error(format!("add a routing rule: {e}")))?;
        }
        let mut applied = Applied::by_helpers([Some(helper)]);
        if !report.is_empty() {
            applied.report = preview_then(report);
        }
        Ok(applied)
    };
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

/// A word as a shell reads it back: quoted when it holds anything but plain characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:/=@,+-".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The delay and what else netem would do, as the helper takes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DelayShaping {
    pub latency_us: u64,
    pub jitter_us: u64,
    pub correlation: f64,
    pub loss: f64,
    pub corrupt: f64,
    pub duplicate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InjectionId;

    #[test]
    fn preview_words_are_quoted_for_a_shell() {
        assert_eq!(shell_word("--mtu"), "--mtu");
        assert_eq!(shell_word("{\"kind\":\"all\"}"), "'{\"kind\":\"all\"}'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn routing_names_fit_the_kernel_and_differ_per_injection() {
        let a = Routing::of(&InjectionId::generate());
        let b = Routing::of(&InjectionId::generate());
        assert!(a.device.len() <= names::INTERFACE_MAX && a.device.starts_with(DEVICE_PREFIX));
        assert!(names::check_interface(&a.device).is_ok());
        assert_ne!(a.mark, a.bypass);
        assert_ne!(a.device, b.device);
        assert_eq!(Routing::of(&InjectionId::from_string("i-x")), Routing::of(&InjectionId::from_string("i-x")));
    }

    #[test]
    fn the_mark_table_spares_the_helper_packets_first() {
        let scope = Scope { ports: vec![80], spared_ports: vec![7878], ..Scope::default() };
        let verdict = DropVerdict::Mark { set: 0x0fd1_0001, unless: 0x0fd2_0001 };
        let script = Table::build("t", &scope, Direction::Out, Some("va"), verdict).to_script();
        assert_eq!(
            script.lines().collect::<Vec<_>>(),
            [
                "create table inet t",
                "add chain inet t output { type route hook output priority mangle; policy accept; }",
                "add rule inet t output meta mark 0xfd20001 accept",
                "add rule inet t output oifname != \"va\" accept",
                "add rule inet t output meta l4proto { tcp, udp } th sport { 7878 } accept",
                "add rule inet t output meta l4proto { tcp, udp } th dport { 7878 } accept",
                "add rule inet t output meta l4proto { tcp, udp } th dport { 80 } meta mark set 0xfd10001",
            ]
        );
    }
}
