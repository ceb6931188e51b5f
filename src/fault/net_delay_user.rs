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
    let lacks = format!("this kernel lacks the {} queueing discipline(s)", lacks.join(" and "));
    check_prerequisites(fault, &lacks)?;
    let netns = netns_of(params)?;
    let (device, mtu) = shaped_device(fault, params, netns.as_deref())?;
    let scope = Scope::from_params(params, cx)?;
    let routing = Routing::of(&cx.injection);
    let table = table_name(&cx.injection);
    let verdict = DropVerdict::Mark { set: routing.mark, unless: routing.bypass };
    let plan = Plan {
        rules: Table::build(&table, &scope, Direction::Out, Some(&device), verdict),
        families: [false, true].into_iter().filter(|ipv6| scope.covers_family(!ipv6)).collect(),
        names_ipv6: scope.destinations.iter().any(|c| !c.is_ipv4()),
        netns,
        device,
        table,
        routing,
    };
    let (undo, at_deadline) = plan.undo(&cx.injection);
    let args = DelayArgs {
        injection: cx.injection.to_string(),
        deadline_ms: cx.deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
        netns: plan.netns.clone(),
        device: plan.routing.device.clone(),
        mtu,
        bypass_mark: plan.routing.bypass,
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
    let preview = plan.preview(&lacks, &cx.exe, &argv, mtu);
    let exe = cx.exe.clone();
    let shown = preview.clone();
    let apply = move || plan.apply(&exe, &argv, shown);
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

/// Fails, changing nothing, when the user-space path cannot run here.
fn check_prerequisites(fault: &str, lacks: &str) -> Result<(), FaultError> {
    tun::check_available().map_err(|e| {
        FaultError::Unsupported(format!(
            "{fault}: {lacks}, and the user-space path that replaces them cannot run: failed to {e}; nothing was changed. Latency can still be injected with tcp-proxy-latency"
        ))
    })?;
    probe_route_chain().map_err(|said| {
        FaultError::Unsupported(format!(
            "{fault}: {lacks}, and the user-space path needs nftables `route` chains (nf_tables with nft_chain_route, and the `nft` tool from the Debian package nftables): {said}; nothing was changed"
        ))
    })
}

/// The device whose egress is delayed (`interface`, or the default route's), and its MTU.
fn shaped_device(fault: &str, params: &Params, netns: Option<&str>) -> Result<(String, u32), FaultError> {
    let device = match interface_of(params)? {
        Some(dev) => dev,
        None => netns::default_route_device(netns)
            .map_err(|e| FaultError::Unsupported(e.to_string()))?
            .ok_or_else(|| FaultError::NoTarget("there is no default route; give the `interface` parameter".into()))?,
    };
    names::check_interface(&device).map_err(|e| FaultError::Refused(format!("device of the default route: {e}")))?;
    if device == "lo" {
        return Err(FaultError::Refused(format!(
            "{fault} without netem cannot delay loopback traffic (it never leaves through a route); use tcp-proxy-latency in front of the local service"
        )));
    }
    let mtu = iproute::mtu(netns, &device).map_err(|e| FaultError::NoTarget(e.to_string()))?;
    Ok((device, mtu))
}

/// Everything one injection adds, besides its helper.
struct Plan {
    netns: Option<String>,
    /// The shaped device.
    device: String,
    /// The nft table's name.
    table: String,
    routing: Routing,
    rules: Table,
    /// The families routed into the device (`true`: IPv6).
    families: Vec<bool>,
    /// Whether a destination names IPv6 (then IPv6 must work; otherwise it may be off).
    names_ipv6: bool,
}

impl Plan {
    /// The undo to journal, and the part the helper carries out itself at its deadline.
    fn undo(&self, injection: &crate::ids::InjectionId) -> (Undo, Undo) {
        let mut feed =
            vec![Undo::DeleteNftTable { netns: self.netns.clone(), family: "inet".into(), table: self.table.clone() }];
        feed.extend(self.families.iter().map(|&ipv6| Undo::DeleteIpRule {
            netns: self.netns.clone(),
            ipv6,
            priority: RULE_PRIORITY,
            fwmark: self.routing.mark,
            table: self.routing.table,
        }));
        // Carried out last to first: rules, nft table (nothing is routed in any more), helper, device.
        let mut steps = vec![
            Undo::DeleteLink { netns: self.netns.clone(), device: self.routing.device.clone() },
            Undo::stop_helpers(injection),
        ];
        steps.extend(feed.iter().cloned());
        (Undo::All { steps }, Undo::All { steps: feed })
    }

    fn route_args(&self, ipv6: bool) -> Vec<String> {
        iproute::default_route_args(ipv6, &self.routing.device, self.routing.table)
    }

    fn rule_args(&self, ipv6: bool) -> Vec<String> {
        iproute::rule_args("add", ipv6, RULE_PRIORITY, self.routing.mark, self.routing.table)
    }

    fn preview(&self, lacks: &str, exe: &std::path::Path, argv: &[String], mtu: u32) -> Vec<String> {
        let Routing { device: tun, mark, bypass, table } = &self.routing;
        let prefix = netns::preview_prefix(self.netns.as_deref());
        let mut preview = vec![
            format!(
                "path: userspace ({lacks}): matching packets leaving {} are marked {mark:#x}, routed by table {table} into TUN device {tun}, held by a helper, and sent back out marked {bypass:#x}",
                self.device
            ),
            format!(
                "{} {}   # enters the namespace itself, creates {tun} (mtu {mtu}), holds packets; at the deadline removes the rules and exits",
                exe.display(),
                argv.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" "),
            ),
        ];
        preview.extend(self.families.iter().map(|&v6| format!("{prefix}ip {}", self.route_args(v6).join(" "))));
        preview.push(format!("{prefix}nft -j -f -, with this table as nft JSON (one transaction):"));
        preview.extend(self.rules.to_script().lines().map(|l| format!("  {l}")));
        preview.extend(self.families.iter().map(|&v6| format!("{prefix}ip {}", self.rule_args(v6).join(" "))));
        preview
    }

    /// Starts the helper (which creates the device), then routes, marks and rules, in that order:
    /// nothing is routed into the device before it exists.
    fn apply(self, exe: &std::path::Path, argv: &[String], preview: Vec<String>) -> Result<Applied, FaultError> {
        let apply_error = |what: String| FaultError::Apply { context: what, source: None };
        let netns = self.netns.as_deref();
        let helper = helpers::spawn_helper(exe, argv, std::time::Duration::from_secs(10))
            .map_err(|e| apply_error(format!("start the delay helper: {}", crate::errors::error_chain(&e))))?;
        let mut notes = Vec::new();
        let mut routed = Vec::new();
        for &ipv6 in &self.families {
            match iproute::ip(netns, &self.route_args(ipv6)) {
                Ok(_) => routed.push(ipv6),
                // No destination names IPv6 and the host has it off: IPv4 alone is the whole fault.
                Err(e) if ipv6 && !self.names_ipv6 => notes.push(format!("IPv6 left alone (it is off here: {e})")),
                Err(e) => return Err(apply_error(format!("add a route: {e}"))),
            }
        }
        nft::apply_json(netns, &self.rules.to_json())
            .map_err(|e| apply_error(format!("create nftables table inet {}: {e}", self.table)))?;
        for ipv6 in routed {
            iproute::ip(netns, &self.rule_args(ipv6)).map_err(|e| apply_error(format!("add a routing rule: {e}")))?;
        }
        let mut applied = Applied::by_helpers([Some(helper)]);
        if !notes.is_empty() {
            applied.report = preview.into_iter().chain(notes).collect();
        }
        Ok(applied)
    }
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
