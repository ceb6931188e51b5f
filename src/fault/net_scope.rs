//! What a network fault applies to and what it must spare: destinations,
//! ports, exclusions (DESIGN §4 rule 6), and the parameters that say so.

use std::fmt;
use std::net::IpAddr;

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::names;

use super::context::{FaultError, InjectContext};

/// `destinations`: the remote peers the fault applies to.
pub const DESTINATIONS: ParamSpec = ParamSpec {
    name: "destinations",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "remote addresses or CIDRs (IPv4 or IPv6) the fault applies to; absent: every destination",
};
/// `ports`: the remote TCP/UDP ports the fault applies to.
pub const PORTS: ParamSpec = ParamSpec {
    name: "ports",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "remote TCP/UDP ports the fault applies to; absent: every port and protocol",
};
/// `local_ports`: this host's TCP/UDP ports the fault applies to.
pub const LOCAL_PORTS: ParamSpec = ParamSpec {
    name: "local_ports",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "this host's TCP/UDP ports the fault applies to (e.g. a server's own listening port); \
          with `ports`, both must match; absent: any local port",
};
/// `exclude`: more traffic to spare.
pub const EXCLUDE: ParamSpec = ParamSpec {
    name: "exclude",
    kind: ParamKind::List,
    default: None,
    required: false,
    doc: "addresses, CIDRs or ports (on either side) to spare, on top of the daemon's port and the controller's address",
};
/// `netns`: the network namespace to act in.
pub const NETNS: ParamSpec = ParamSpec {
    name: "netns",
    kind: ParamKind::Text,
    default: None,
    required: false,
    doc: "named network namespace (`ip netns`) to inject in; absent: the host's own",
};

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`. Host bits set under the prefix (`10.210.2.0/16`) are an
    /// error, never silently cleared: the block meant is ambiguous, and clearing them can cut a
    /// zone off from itself.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr_text, prefix_text) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR such as 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length outside 0..{max}"))?,
        };
        let block = Cidr::from_addr(addr, prefix);
        if block.addr != addr {
            return Err(format!(
                "`{}` has host bits set under its /{prefix} prefix: write `{block}` for the whole block, \
                 or `{addr}` for the one address",
                text.trim()
            ));
        }
        Ok(block)
    }

    /// The block of `prefix` bits around `addr`.
    pub fn from_addr(addr: IpAddr, prefix: u8) -> Cidr {
        let addr = match addr {
            IpAddr::V4(a) => {
                let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        Cidr { addr, prefix }
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether `ip` is inside the block; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// counts as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.is_ipv4() && Cidr::from_addr(ip, self.prefix).addr == self.addr
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Where a network fault applies, and what it spares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Remote blocks the fault applies to; empty: all.
    pub destinations: Vec<Cidr>,
    /// Remote ports the fault applies to; empty: any (all traffic when `local_ports` is empty too).
    pub ports: Vec<u16>,
    /// This host's ports the fault applies to; empty: any.
    pub local_ports: Vec<u16>,
    /// Blocks never touched (controller address, `exclude`).
    pub spared_addresses: Vec<Cidr>,
    /// Ports never touched, on either side (`exclude`; the daemon's port when no controller is known).
    pub spared_ports: Vec<u16>,
    /// The control channel (DESIGN §4 rule 6): traffic between these controller addresses
    /// and this host's `control_ports` (the daemon's port) is never touched; nothing else
    /// of theirs is spared, so other hosts cannot reach the daemon's port during a partition.
    pub control_peers: Vec<Cidr>,
    /// This host's ports the controller reaches it on (the daemon's port).
    pub control_ports: Vec<u16>,
}

impl Scope {
    /// Reads `destinations`, `ports` and `exclude`, and adds what the context protects.
    pub fn from_params(params: &Params, cx: &InjectContext) -> Result<Scope, FaultError> {
        let bad = |m: String| FaultError::Refused(m);
        let destinations = params.list("destinations").iter().map(|d| Cidr::parse(d)).collect::<Result<_, _>>();
        let ports = params.list("ports").iter().map(|p| parse_port(p)).collect::<Result<_, _>>();
        let local_ports = params.list("local_ports").iter().map(|p| parse_port(p)).collect::<Result<_, _>>();
        let mut scope = Scope {
            destinations: destinations.map_err(bad)?,
            ports: ports.map_err(bad)?,
            local_ports: local_ports.map_err(bad)?,
            ..Scope::default()
        };
        for item in params.list("exclude") {
            match parse_port(item) {
                Ok(port) => scope.spared_ports.push(port),
                Err(_) => scope.spared_addresses.push(Cidr::parse(item).map_err(bad)?),
            }
        }
        let controllers = cx.protected_addresses.iter().map(|a| Cidr::from_addr(*a, host_prefix(a)));
        match (cx.protected_addresses.is_empty(), cx.protected_ports.is_empty()) {
            // Through a daemon, from a known controller: only that controller's path to the
            // daemon's port is spared (finding 4c: not the port to everyone).
            (false, false) => {
                scope.control_peers = controllers.collect();
                scope.control_ports = cx.protected_ports.clone();
            }
            // A controller but no port to pin it to: spare its address whole.
            (false, true) => scope.spared_addresses.extend(controllers),
            // The daemon's own runs (no controller): its port stays open so an operator can
            // still reach it. A local run protects neither; loopback is always spared.
            (true, _) => scope.spared_ports.extend(cx.protected_ports.iter().copied()),
        }
        scope.spared_ports.sort_unstable();
        scope.spared_ports.dedup();
        scope.spared_addresses.dedup();
        Ok(scope)
    }

    /// Destinations of one family (`None` in the result: the fault covers the whole family).
    pub fn destinations_of(&self, ipv4: bool) -> Option<Vec<Cidr>> {
        if self.destinations.is_empty() {
            return None;
        }
        Some(self.destinations.iter().filter(|c| c.is_ipv4() == ipv4).copied().collect())
    }

    /// Whether the fault applies to this family at all.
    pub fn covers_family(&self, ipv4: bool) -> bool {
        self.destinations_of(ipv4).is_none_or(|d| !d.is_empty())
    }

    /// Spared blocks of one family.
    pub fn spared_of(&self, ipv4: bool) -> Vec<Cidr> {
        self.spared_addresses.iter().filter(|c| c.is_ipv4() == ipv4).copied().collect()
    }

    /// The controller addresses of one family whose path to `control_ports` is spared
    /// (empty when there are no control ports).
    pub fn control_peers_of(&self, ipv4: bool) -> Vec<Cidr> {
        if self.control_ports.is_empty() {
            return Vec::new();
        }
        self.control_peers.iter().filter(|c| c.is_ipv4() == ipv4).copied().collect()
    }
}

fn host_prefix(a: &IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("`{text}` is not a port (1..65535)"))
}

/// Load-time checks of `destinations`, `ports`, `exclude`, `netns` and `interface`
/// (every value that reaches `tc`, `nft` or `ip`); the message names the parameter.
pub fn check_scope(params: &Params) -> Result<(), String> {
    for d in params.list("destinations") {
        Cidr::parse(d).map_err(|m| format!("parameter `destinations`: {m}"))?;
    }
    for name in ["ports", "local_ports"] {
        for p in params.list(name) {
            parse_port(p).map_err(|m| format!("parameter `{name}`: {m}"))?;
        }
    }
    for e in params.list("exclude") {
        if parse_port(e).is_err() {
            Cidr::parse(e)
                .map_err(|_| format!("parameter `exclude`: `{e}` is neither a port nor an address or CIDR"))?;
        }
    }
    if let Some(ns) = params.text("netns") {
        names::check_netns(ns).map_err(|e| format!("parameter `netns`: {e}"))?;
    }
    if let Some(dev) = params.text("interface") {
        names::check_interface(dev).map_err(|e| format!("parameter `interface`: {e}"))?;
    }
    Ok(())
}

/// The device named by `interface`, checked against its grammar again at
/// prepare time (an API caller's params reach here too).
pub fn interface_of(params: &Params) -> Result<Option<String>, FaultError> {
    match params.text("interface") {
        None => Ok(None),
        Some(dev) => names::check_interface(dev)
            .map(|()| Some(dev.to_string()))
            .map_err(|e| FaultError::Refused(format!("parameter `interface`: {e}"))),
    }
}

/// The named namespace to act in, checked against its grammar and to exist.
pub fn netns_of(params: &Params) -> Result<Option<String>, FaultError> {
    match params.text("netns") {
        None => Ok(None),
        Some(name) => {
            names::check_netns(name).map_err(|e| FaultError::Refused(format!("parameter `netns`: {e}")))?;
            if crate::platform::linux::netns::exists(name) {
                Ok(Some(name.to_string()))
            } else {
                Err(FaultError::NoTarget(format!(
                    "network namespace `{name}` does not exist (`ip netns list` shows the ones that do)"
                )))
            }
        }
    }
}

/// A rate in bits per second, from tc-style text: `1mbit`, `500kbit`, `10mbps` (bytes), `64000bit`.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("expected a rate such as `1mbit` or `500kbit`, found `{text}`"))?;
    let per_second: f64 = match unit.trim() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        // tc's convention: "bps" is bytes per second.
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => {
            return Err(format!(
                "unknown rate unit in `{text}`; use bit, kbit, mbit, gbit (or bps, kbps, mbps for bytes)"
            ));
        }
    };
    let bits = n * per_second;
    if !bits.is_finite() || !(8.0..=1e12).contains(&bits) {
        return Err(format!("rate `{text}` is out of range (8bit..1000gbit)"));
    }
    Ok(bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_refuse_host_bits() {
        assert_eq!(Cidr::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        let refused = Cidr::parse("10.210.2.0/16").unwrap_err();
        assert!(refused.contains("host bits") && refused.contains("`10.210.0.0/16`"), "{refused}");
        assert!(Cidr::parse("fd00::1/8").is_err());
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("example.com").is_err());
    }

    #[test]
    fn rates_follow_tc_units() {
        assert_eq!(parse_rate("1mbit"), Ok(1_000_000));
        assert_eq!(parse_rate("500Kbit"), Ok(500_000));
        assert_eq!(parse_rate("1mbps"), Ok(8_000_000));
        assert_eq!(parse_rate("64000bit"), Ok(64_000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("1furlong").is_err());
    }
}
