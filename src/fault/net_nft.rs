//! The nftables side of network-loss and network-partition: one table per
//! injection (`inet faultdrill_<id>`), applied as one nft JSON transaction.

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::ids::InjectionId;
use crate::platform::linux::{netns, nft};

use super::context::{Applied, FaultError, InjectContext, Prepared};
use super::net_scope::{Scope, interface_of, netns_of};
use super::nft_rules::Table;
use super::undo::Undo;

/// `interface` for nftables faults.
pub const INTERFACE: ParamSpec = ParamSpec {
    name: "interface",
    kind: ParamKind::Text,
    default: None,
    required: false,
    doc: "only traffic through this device; absent: every device except loopback",
};

pub use super::nft_rules::{Direction, DropVerdict};

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

/// The verdict of a loss rule: drop `percent` % of matching packets at random.
pub fn loss_verdict(percent: f64) -> DropVerdict {
    if percent >= 100.0 {
        // nft rejects `< 100` against `mod 100`: every packet goes.
        DropVerdict::All
    } else if percent.fract() == 0.0 {
        DropVerdict::Random { modulus: 100, below: percent as u32 }
    } else {
        DropVerdict::Random { modulus: 10_000, below: (percent * 100.0).round() as u32 }
    }
}

/// Prepares an nftables fault: checks the kernel, builds the table, and
/// describes it; changes nothing.
pub fn prepare(fault: &str, params: &Params, cx: &InjectContext, verdict: DropVerdict) -> Result<Prepared, FaultError> {
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
    let rules = Table::build(&table, &scope, Direction::from_params(params), interface.as_deref(), verdict);
    let mut preview = vec![format!(
        "{}nft -j -f -, with this table as nft JSON (one transaction):",
        netns::preview_prefix(netns.as_deref())
    )];
    preview.extend(rules.to_script().lines().map(|l| format!("  {l}")));
    let json = rules.to_json();
    let undo = Undo::DeleteNftTable { netns: netns.clone(), family: "inet".into(), table: table.clone() };
    let apply = move || {
        nft::apply_json(netns.as_deref(), &json).map(|()| Applied::done()).map_err(|e| FaultError::Apply {
            context: format!("create nftables table inet {table}: {e}"),
            source: None,
        })
    };
    Ok(Prepared { undo, preview, apply: Box::new(apply) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::net_scope::Cidr;

    /// The nft script (one transaction) for a table that hits `scope` with `verdict`,
    /// as previews show it; [`Table::to_json`] is what is applied.
    fn build_script(
        table: &str,
        scope: &Scope,
        direction: Direction,
        interface: Option<&str>,
        verdict: DropVerdict,
    ) -> String {
        Table::build(table, scope, direction, interface, verdict).to_script()
    }

    fn scope() -> Scope {
        Scope {
            destinations: vec![Cidr::parse("10.77.0.2").unwrap(), Cidr::parse("fd77::/64").unwrap()],
            ports: vec![80, 443],
            local_ports: vec![],
            spared_addresses: vec![Cidr::parse("192.168.1.10").unwrap()],
            spared_ports: vec![7878],
            ..Scope::default()
        }
    }

    #[test]
    fn table_names_are_nft_safe() {
        assert_eq!(table_name(&InjectionId::from_string("i-0x8d1kq2zz")), "faultdrill_i_0x8d1kq2zz");
    }

    #[test]
    fn loss_rule_uses_numgen() {
        assert_eq!(loss_verdict(30.0).to_string(), "numgen random mod 100 < 30 drop");
        assert_eq!(loss_verdict(12.5).to_string(), "numgen random mod 10000 < 1250 drop");
        assert_eq!(loss_verdict(100.0).to_string(), "drop");
    }

    #[test]
    fn outbound_script_spares_first_then_hits_both_families() {
        let script = build_script("faultdrill_t", &scope(), Direction::Out, Some("veth0"), DropVerdict::All);
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
        let s = Scope::default();
        let script = build_script("t", &s, Direction::Both, None, DropVerdict::All);
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
        let scoped = build_script("t", &scope(), Direction::In, None, DropVerdict::All);
        assert!(scoped.contains(
            "add rule inet t input ip saddr { 10.77.0.2/32 } meta l4proto { tcp, udp } th sport { 80, 443 } drop"
        ));
        assert!(scoped.contains("add rule inet t input ip saddr { 192.168.1.10/32 } accept"));
    }

    fn context(ports: Vec<u16>, addresses: &[&str]) -> InjectContext {
        InjectContext {
            injection: InjectionId::from_string("i-t"),
            run: None,
            host: "local".into(),
            state_dir: "/var/lib/faultdrill".into(),
            deadline: std::time::SystemTime::now(),
            exe: "faultdrill".into(),
            protected_ports: ports,
            protected_addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    fn partition_script(cx: &InjectContext) -> String {
        let raw: crate::experiment::RawParams = serde_json::from_value(serde_json::json!({})).unwrap();
        let params = Params::check(&super::super::net_params::nft_traffic("both"), &raw).unwrap();
        let scope = Scope::from_params(&params, cx).unwrap();
        build_script("t", &scope, Direction::Both, None, DropVerdict::All)
    }

    #[test]
    fn the_daemon_port_is_spared_to_its_controller_only() {
        let script = partition_script(&context(vec![7878], &["10.77.0.1", "fd77::1"]));
        let expected = "\
create table inet t
add chain inet t output { type filter hook output priority filter; policy accept; }
add rule inet t output oifname \"lo\" accept
add rule inet t output ip daddr { 10.77.0.1/32 } meta l4proto { tcp, udp } th sport { 7878 } accept
add rule inet t output ip6 daddr { fd77::1/128 } meta l4proto { tcp, udp } th sport { 7878 } accept
add rule inet t output drop
add chain inet t input { type filter hook input priority filter; policy accept; }
add rule inet t input iifname \"lo\" accept
add rule inet t input ip saddr { 10.77.0.1/32 } meta l4proto { tcp, udp } th dport { 7878 } accept
add rule inet t input ip6 saddr { fd77::1/128 } meta l4proto { tcp, udp } th dport { 7878 } accept
add rule inet t input drop
";
        assert_eq!(script, expected);
    }

    #[test]
    fn a_local_run_spares_loopback_only_and_a_daemon_without_controller_its_port() {
        let local = partition_script(&context(vec![], &[]));
        assert!(!local.contains("accept\n") || local.matches("accept\n").count() == 2, "{local}");
        assert!(!local.contains("7878"), "{local}");
        let own = partition_script(&context(vec![7878], &[]));
        assert!(own.contains("add rule inet t input meta l4proto { tcp, udp } th dport { 7878 } accept"), "{own}");
    }
}
