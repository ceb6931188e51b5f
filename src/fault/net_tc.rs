//! The `tc` side of network-delay and network-bandwidth: a root qdisc under a
//! faultdrill handle, u32 filters that send only matching traffic to the
//! faulty class, and the checks that make sure nothing else is touched.

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::ids::InjectionId;
use crate::platform::linux::{netns, tc};

use super::context::{Applied, FaultError, InjectContext, Prepared};
use super::net_scope::{Cidr, Scope, interface_of, netns_of};
use super::undo::Undo;
use crate::platform::linux::names;

/// `interface` for tc faults.
pub const INTERFACE: ParamSpec = ParamSpec {
    name: "interface",
    kind: ParamKind::Text,
    default: None,
    required: false,
    doc: "network device whose outgoing traffic is shaped; absent: the device of the default route",
};

/// First root handle of network-delay (`fd00:`..`fd7f:`).
pub const DELAY_HANDLES: u16 = 0xfd00;
/// First root handle of network-bandwidth (`fd80:`..`fdff:`).
pub const BANDWIDTH_HANDLES: u16 = 0xfd80;

/// The root handle major of an injection: one of 128 under `base`, picked from its id,
/// so a stale undo never deletes a later injection's qdisc.
pub fn handle_for(id: &InjectionId, base: u16) -> u16 {
    let hash = id.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    base + (hash % 128) as u16
}

/// The u32 filters of a plan: spared traffic first (to class `spare`), then
/// matching traffic (to class `hit`), IPv4 and IPv6, each family at its own priority.
pub fn filters(device: &str, handle: u16, scope: &Scope, hit: u16, spare: u16) -> Vec<String> {
    let mut lines = Vec::new();
    let parent = tc::handle_text(handle);
    for (ipv4, spare_prio, hit_prio) in [(true, 1, 3), (false, 2, 4)] {
        if !scope.covers_family(ipv4) {
            continue;
        }
        let (protocol, m) = if ipv4 { ("ip", "ip") } else { ("ipv6", "ip6") };
        let filter = |prio: u32, matches: String, class: u16| {
            format!(
                "filter add dev {device} parent {parent} protocol {protocol} prio {prio} u32 {matches} flowid {handle:x}:{class:x}"
            )
        };
        for cidr in scope.spared_of(ipv4) {
            lines.push(filter(spare_prio, format!("match {m} dst {cidr}"), spare));
        }
        // Outgoing only: the daemon's answers to its controller leave from the daemon's port.
        for cidr in scope.control_peers_of(ipv4) {
            for port in &scope.control_ports {
                lines.push(filter(spare_prio, format!("match {m} dst {cidr} match {m} sport {port} 0xffff"), spare));
            }
        }
        for port in &scope.spared_ports {
            for side in ["sport", "dport"] {
                lines.push(filter(spare_prio, format!("match {m} {side} {port} 0xffff"), spare));
            }
        }
        let all = if ipv4 { Cidr::parse("0.0.0.0/0") } else { Cidr::parse("::/0") }.expect("literal");
        let destinations = scope.destinations_of(ipv4).unwrap_or_else(|| vec![all]);
        // Outgoing traffic only: the remote port is the destination port, a local one the source port.
        let ports = port_matches(m, "dport", &scope.ports);
        let local_ports = port_matches(m, "sport", &scope.local_ports);
        for cidr in destinations {
            for port in &ports {
                for local in &local_ports {
                    lines.push(filter(hit_prio, format!("match {m} dst {cidr}{port}{local}"), hit));
                }
            }
        }
    }
    lines
}

/// One u32 match per port on `field` (each with a leading space), or one empty match for none.
fn port_matches(m: &str, field: &str, ports: &[u16]) -> Vec<String> {
    if ports.is_empty() {
        return vec![String::new()];
    }
    ports.iter().map(|port| format!(" match {m} {field} {port} 0xffff")).collect()
}

/// The kernel config option behind each qdisc, for messages.
fn module_of(kind: &str) -> String {
    format!("sch_{kind} (CONFIG_NET_SCH_{})", kind.to_ascii_uppercase())
}

/// What a tc fault builds, given the device, its root handle and the scope.
pub type BuildCommands<'a> = &'a dyn Fn(&str, u16, &Scope) -> Vec<String>;

/// Prepares a tc fault: checks the kernel has `qdiscs`, that the device's root
/// is the kernel default (never someone else's, never replaced), and builds the
/// exact commands; changes nothing.
pub fn prepare(
    fault: &str,
    params: &Params,
    cx: &InjectContext,
    qdiscs: &[&'static str],
    handle_base: u16,
    build: BuildCommands<'_>,
) -> Result<Prepared, FaultError> {
    let missing = tc::missing_qdisc_kinds(qdiscs).map_err(|e| FaultError::Unsupported(format!("{fault}: {e}")))?;
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
        let modules: Vec<String> = missing.iter().map(|k| module_of(k)).collect();
        return Err(FaultError::Unsupported(format!(
            "{fault} needs the {} queueing discipline(s), which this kernel lacks (build or load {}); nothing was changed. Latency can still be injected without root or netem with tcp-proxy-latency",
            names.join(" and "),
            modules.join(", ")
        )));
    }
    let netns = netns_of(params)?;
    let device = match interface_of(params)? {
        Some(dev) => dev,
        None => netns::default_route_device(netns.as_deref())
            .map_err(|e| FaultError::Unsupported(e.to_string()))?
            .ok_or_else(|| FaultError::NoTarget("there is no default route; give the `interface` parameter".into()))?,
    };
    // The device is the only free text in the `tc -batch` script: checked even when `ip` named it.
    names::check_interface(&device).map_err(|e| FaultError::Refused(format!("device of the default route: {e}")))?;
    let root = tc::root_qdisc(netns.as_deref(), &device).map_err(|e| FaultError::NoTarget(e.to_string()))?;
    if root.is_faultdrill() {
        return Err(FaultError::Refused(format!(
            "device {device} already carries a faultdrill root qdisc ({} {}): another network-delay or network-bandwidth injection holds it; roll that one back first (`faultdrill recover`)",
            root.kind,
            tc::handle_text(root.major)
        )));
    }
    if !root.is_default() {
        return Err(FaultError::Refused(format!(
            "device {device} has a root qdisc faultdrill did not create ({} {}); faultdrill never replaces one: remove it yourself or pick another interface",
            root.kind,
            tc::handle_text(root.major)
        )));
    }
    let scope = Scope::from_params(params, cx)?;
    let handle = handle_for(&cx.injection, handle_base);
    let commands = build(&device, handle, &scope);
    let prefix = netns::preview_prefix(netns.as_deref());
    let preview = commands.iter().map(|c| format!("{prefix}tc {c}")).collect();
    let undo = Undo::DeleteRootQdisc {
        netns: netns.clone(),
        device: device.clone(),
        handle: tc::handle_text(handle),
        root_before: Some(root.kind.clone()),
    };
    let apply = move || {
        tc::apply_batch(netns.as_deref(), &device, &commands).map(|()| Applied::done()).map_err(|e| FaultError::Apply {
            context: format!("add root qdisc {} on {device}: {e}", tc::handle_text(handle)),
            source: None,
        })
    };
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

/// A duration as `tc` reads it: whole milliseconds as `ms`, otherwise `us`.
pub fn tc_time(d: std::time::Duration) -> String {
    let us = d.as_micros();
    if us % 1000 == 0 { format!("{}ms", us / 1000) } else { format!("{us}us") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_stay_in_their_ranges() {
        for _ in 0..200 {
            let id = InjectionId::generate();
            assert!((0xfd00..0xfd80).contains(&handle_for(&id, DELAY_HANDLES)));
            assert!((0xfd80..=0xfdff).contains(&handle_for(&id, BANDWIDTH_HANDLES)));
        }
    }

    #[test]
    fn unscoped_filters_cover_both_families_and_spare_first() {
        let scope = Scope { spared_ports: vec![7878], ..Scope::default() };
        let lines = filters("eth0", 0xfd01, &scope, 4, 2);
        assert_eq!(
            lines,
            [
                "filter add dev eth0 parent fd01: protocol ip prio 1 u32 match ip sport 7878 0xffff flowid fd01:2",
                "filter add dev eth0 parent fd01: protocol ip prio 1 u32 match ip dport 7878 0xffff flowid fd01:2",
                "filter add dev eth0 parent fd01: protocol ip prio 3 u32 match ip dst 0.0.0.0/0 flowid fd01:4",
                "filter add dev eth0 parent fd01: protocol ipv6 prio 2 u32 match ip6 sport 7878 0xffff flowid fd01:2",
                "filter add dev eth0 parent fd01: protocol ipv6 prio 2 u32 match ip6 dport 7878 0xffff flowid fd01:2",
                "filter add dev eth0 parent fd01: protocol ipv6 prio 4 u32 match ip6 dst ::/0 flowid fd01:4",
            ]
        );
    }

    #[test]
    fn local_ports_match_the_source_port_of_outgoing_traffic() {
        let scope = Scope {
            destinations: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            ports: vec![80],
            local_ports: vec![5432, 5433],
            ..Scope::default()
        };
        let lines = filters("eth0", 0xfd01, &scope, 4, 2);
        assert_eq!(
            lines,
            [
                "filter add dev eth0 parent fd01: protocol ip prio 3 u32 match ip dst 10.0.0.0/8 match ip dport 80 0xffff match ip sport 5432 0xffff flowid fd01:4",
                "filter add dev eth0 parent fd01: protocol ip prio 3 u32 match ip dst 10.0.0.0/8 match ip dport 80 0xffff match ip sport 5433 0xffff flowid fd01:4",
            ]
        );
    }

    #[test]
    fn times_print_like_tc() {
        assert_eq!(tc_time(std::time::Duration::from_millis(100)), "100ms");
        assert_eq!(tc_time(std::time::Duration::from_micros(1500)), "1500us");
    }
}
