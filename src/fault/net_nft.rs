//! The nftables side of network-loss and network-partition: one table per
//! injection (`inet faultdrill_<id>`), built as one transaction script.

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::ids::InjectionId;
use crate::platform::linux::{netns, nft};

use super::context::{Applied, FaultError, InjectContext, Prepared};
use super::net_scope::{Cidr, Scope, interface_of, netns_of};
use super::undo::Undo;

/// `interface` for nftables faults.
pub const INTERFACE: ParamSpec = ParamSpec {
    name: "interface",
    kind: ParamKind::Text,
    default: None,
    required: false,
    doc: "only traffic through this device; absent: every device except loopback",
};

/// Which way traffic is hit, seen from this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Packets arriving from the destinations (from their `ports`).
    In,
    /// Packets sent to the destinations (to their `ports`).
    Out,
    /// Both.
    Both,
}

impl Direction {
    /// Reads the `direction` parameter.
    pub fn from_params(params: &Params) -> Direction {
        match params.text("direction") {
            Some("in") => Direction::In,
            Some("out") => Direction::Out,
            _ => Direction::Both,
        }
    }
}

/// The table of an injection: `faultdrill_` and the id, with anything but
/// letters, digits and `_` turned into `_` (nft names cannot hold `-`).
pub fn table_name(id: &InjectionId) -> String {
    let clean: String = id.as_str().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("faultdrill_{clean}")
}

/// The verdict part of a loss rule: drop `percent` % of matching packets at random.
pub fn loss_verdict(percent: f64) -> String {
    if percent >= 100.0 {
        // nft rejects `< 100` against `mod 100`: every packet goes.
        "drop".into()
    } else if percent.fract() == 0.0 {
        format!("numgen random mod 100 < {} drop", percent as u32)
    } else {
        format!("numgen random mod 10000 < {} drop", (percent * 100.0).round() as u32)
    }
}

fn set_of(items: impl IntoIterator<Item = String>) -> String {
    format!("{{ {} }}", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn cidrs(list: &[Cidr]) -> String {
    set_of(list.iter().map(|c| c.to_string()))
}

/// The nft script (one transaction) for a table that hits `scope` with `verdict`.
pub fn build_script(
    table: &str,
    scope: &Scope,
    direction: Direction,
    interface: Option<&str>,
    verdict: &str,
) -> String {
    let mut lines = vec![format!("create table inet {table}")];
    let hooks: &[(&str, &str, &str, &str)] = match direction {
        Direction::Out => &[("output", "oifname", "daddr", "dport")],
        Direction::In => &[("input", "iifname", "saddr", "sport")],
        Direction::Both => &[("output", "oifname", "daddr", "dport"), ("input", "iifname", "saddr", "sport")],
    };
    let l4 = "meta l4proto { tcp, udp }";
    let ports = |p: &[u16]| set_of(p.iter().map(u16::to_string));
    for &(hook, ifname, remote_addr, remote_port) in hooks {
        let rule = |body: String| format!("add rule inet {table} {hook} {body}");
        lines.push(format!(
            "add chain inet {table} {hook} {{ type filter hook {hook} priority filter; policy accept; }}"
        ));
        match interface {
            None => lines.push(rule(format!("{ifname} \"lo\" accept"))),
            Some(dev) => lines.push(rule(format!("{ifname} != \"{dev}\" accept"))),
        }
        for (family, ipv4) in [("ip", true), ("ip6", false)] {
            let spared = scope.spared_of(ipv4);
            if !spared.is_empty() {
                lines.push(rule(format!("{family} {remote_addr} {} accept", cidrs(&spared))));
            }
        }
        if !scope.spared_ports.is_empty() {
            for side in ["sport", "dport"] {
                lines.push(rule(format!("{l4} th {side} {} accept", ports(&scope.spared_ports))));
            }
        }
        let port_match = if scope.ports.is_empty() {
            String::new()
        } else {
            format!("{l4} th {remote_port} {} ", ports(&scope.ports))
        };
        if scope.destinations.is_empty() {
            lines.push(rule(format!("{port_match}{verdict}")));
            continue;
        }
        for (family, ipv4) in [("ip", true), ("ip6", false)] {
            let dests = scope.destinations_of(ipv4).unwrap_or_default();
            if !dests.is_empty() {
                lines.push(rule(format!("{family} {remote_addr} {} {port_match}{verdict}", cidrs(&dests))));
            }
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Prepares an nftables fault: checks the kernel, builds the table, and
/// describes it; changes nothing.
pub fn prepare(fault: &str, params: &Params, cx: &InjectContext, verdict: String) -> Result<Prepared, FaultError> {
    nft::probe().map_err(|said| {
        FaultError::Unsupported(format!(
            "{fault} needs nftables (the nf_tables kernel module with inet tables, numgen, and the `nft` tool from the Debian package nftables), and this host cannot build its table: {said}"
        ))
    })?;
    let netns = netns_of(params)?;
    let scope = Scope::from_params(params, cx)?;
    let table = table_name(&cx.injection);
    // The only free text in the script; every other value is typed (CIDRs, ports, numbers).
    let interface = interface_of(params)?;
    let script = build_script(&table, &scope, Direction::from_params(params), interface.as_deref(), &verdict);
    let mut preview = vec![format!("{}nft -f - <<'EOF'", netns::preview_prefix(netns.as_deref()))];
    preview.extend(script.lines().map(str::to_string));
    preview.push("EOF".into());
    let undo = Undo::DeleteNftTable { netns: netns.clone(), family: "inet".into(), table: table.clone() };
    let apply = move || {
        nft::apply_script(netns.as_deref(), &script).map(|()| Applied::done()).map_err(|e| FaultError::Apply {
            context: format!("create nftables table inet {table}: {e}"),
            source: None,
        })
    };
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            destinations: vec![Cidr::parse("10.77.0.2").unwrap(), Cidr::parse("fd77::/64").unwrap()],
            ports: vec![80, 443],
            spared_addresses: vec![Cidr::parse("192.168.1.10").unwrap()],
            spared_ports: vec![7878],
        }
    }

    #[test]
    fn table_names_are_nft_safe() {
        assert_eq!(table_name(&InjectionId::from_string("i-0x8d1kq2zz")), "faultdrill_i_0x8d1kq2zz");
    }

    #[test]
    fn loss_rule_uses_numgen() {
        assert_eq!(loss_verdict(30.0), "numgen random mod 100 < 30 drop");
        assert_eq!(loss_verdict(12.5), "numgen random mod 10000 < 1250 drop");
        assert_eq!(loss_verdict(100.0), "drop");
    }

    #[test]
    fn outbound_script_spares_first_then_hits_both_families() {
        let script = build_script("faultdrill_t", &scope(), Direction::Out, Some("veth0"), "drop");
        let expected = "\
create table inet faultdrill_t
add chain inet faultdrill_t output { type filter hook output priority filter; policy accept; }
add rule inet faultdrill_t output oifname != \"veth0\" accept
add rule inet faultdrill_t output ip daddr { 192.168.1.10/32 } accept
add rule inet faultdrill_t output meta l4proto { tcp, udp } th sport { 7878 } accept
add rule inet faultdrill_t output meta l4proto { tcp, udp } th dport { 7878 } accept
add rule inet faultdrill_t output ip daddr { 10.77.0.2/32 } meta l4proto { tcp, udp } th dport { 80, 443 } drop
add rule inet faultdrill_t output ip6 daddr { fd77::/64 } meta l4proto { tcp, udp } th dport { 80, 443 } drop
";
        assert_eq!(script, expected);
    }

    #[test]
    fn inbound_rules_match_the_remote_side_as_source() {
        let s = Scope { destinations: vec![], ports: vec![], spared_addresses: vec![], spared_ports: vec![] };
        let script = build_script("t", &s, Direction::Both, None, "drop");
        let expected = "\
create table inet t
add chain inet t output { type filter hook output priority filter; policy accept; }
add rule inet t output oifname \"lo\" accept
add rule inet t output drop
add chain inet t input { type filter hook input priority filter; policy accept; }
add rule inet t input iifname \"lo\" accept
add rule inet t input drop
";
        assert_eq!(script, expected);
        let scoped = build_script("t", &scope(), Direction::In, None, "drop");
        assert!(scoped.contains(
            "add rule inet t input ip saddr { 10.77.0.2/32 } meta l4proto { tcp, udp } th sport { 80, 443 } drop"
        ));
        assert!(scoped.contains("add rule inet t input ip saddr { 192.168.1.10/32 } accept"));
    }
}
