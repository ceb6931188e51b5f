//! The rules of an nftables fault's table as data, rendered two ways: nft JSON,
//! which `nft -j -f -` applies (no user text is ever parsed as nft syntax,
//! DESIGN §4 rule 10), and the equivalent nft script, which previews show.

use std::fmt;

use serde_json::{Value, json};

use super::net_scope::{Cidr, Scope};

/// Which way traffic is hit, seen from this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Packets arriving from the destinations (from their `ports`, to `local_ports`).
    In,
    /// Packets sent to the destinations (to their `ports`, from `local_ports`).
    Out,
    /// Both.
    Both,
}

/// What happens to matching packets: all dropped, or a random share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropVerdict {
    All,
    /// `numgen random mod MODULUS < BELOW drop`.
    Random {
        modulus: u32,
        below: u32,
    },
    /// Not a drop: `meta mark set SET` in a `route` chain, so policy routing
    /// re-routes matching packets (network-delay's user-space path). Packets
    /// already carrying `unless` (the ones the delay helper sends back out) are spared first.
    Mark {
        set: u32,
        unless: u32,
    },
}

impl DropVerdict {
    /// The chain type and priority the verdict needs: a mark must be set where
    /// the kernel re-routes after it (`route`, at mangle priority).
    fn chain_kind(&self) -> (&'static str, &'static str, i32) {
        match self {
            DropVerdict::Mark { .. } => ("route", "mangle", -150),
            _ => ("filter", "filter", 0),
        }
    }
}

impl fmt::Display for DropVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropVerdict::All => write!(f, "drop"),
            DropVerdict::Random { modulus, below } => write!(f, "numgen random mod {modulus} < {below} drop"),
            DropVerdict::Mark { set, .. } => write!(f, "meta mark set {set:#x}"),
        }
    }
}

/// One match of a rule.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    /// `oifname "lo"`, `iifname != "eth0"`.
    IfName { key: &'static str, negated: bool, name: String },
    /// `ip daddr { 10.0.0.0/8 }`.
    Addr { family: &'static str, field: &'static str, cidrs: Vec<Cidr> },
    /// `meta l4proto { tcp, udp }`.
    L4Proto,
    /// `th dport { 80, 443 }`.
    Ports { field: &'static str, ports: Vec<u16> },
    /// `meta mark 0x2`.
    Mark(u32),
}

/// One rule: matches, then accept or the fault's drop.
#[derive(Clone, Debug, PartialEq)]
struct Rule {
    exprs: Vec<Expr>,
    /// `false`: accept (spare the packet).
    hits: bool,
}

/// A base chain (`output` or `input`) and its rules.
#[derive(Clone, Debug, PartialEq)]
struct Chain {
    hook: &'static str,
    rules: Vec<Rule>,
}

/// The whole table of one injection.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    name: String,
    chains: Vec<Chain>,
    verdict: DropVerdict,
}

impl Table {
    /// The table that hits `scope` (seen in `direction`) with `verdict`, sparing
    /// loopback (or every device but `interface`) and the scope's spared traffic first.
    pub fn build(
        name: &str,
        scope: &Scope,
        direction: Direction,
        interface: Option<&str>,
        verdict: DropVerdict,
    ) -> Table {
        const OUTPUT: Side =
            Side { hook: "output", ifname: "oifname", remote_addr: "daddr", remote_port: "dport", local_port: "sport" };
        const INPUT: Side =
            Side { hook: "input", ifname: "iifname", remote_addr: "saddr", remote_port: "sport", local_port: "dport" };
        let sides: &[Side] = match direction {
            Direction::Out => &[OUTPUT],
            Direction::In => &[INPUT],
            Direction::Both => &[OUTPUT, INPUT],
        };
        let chains = sides
            .iter()
            .map(|side| {
                let mut rules = chain_rules(scope, interface, side);
                if let DropVerdict::Mark { unless, .. } = verdict {
                    rules.insert(0, Rule { exprs: vec![Expr::Mark(unless)], hits: false });
                }
                Chain { hook: side.hook, rules }
            })
            .collect();
        Table { name: name.to_string(), chains, verdict }
    }

    /// The nft script the table is equivalent to, one command a line (for previews).
    pub fn to_script(&self) -> String {
        let table = &self.name;
        let mut lines = vec![format!("create table inet {table}")];
        let (kind, priority, _) = self.verdict.chain_kind();
        for chain in &self.chains {
            let hook = chain.hook;
            lines.push(format!(
                "add chain inet {table} {hook} {{ type {kind} hook {hook} priority {priority}; policy accept; }}"
            ));
            for rule in &chain.rules {
                let mut words: Vec<String> = rule.exprs.iter().map(expr_text).collect();
                words.push(if rule.hits { self.verdict.to_string() } else { "accept".into() });
                lines.push(format!("add rule inet {table} {hook} {}", words.join(" ")));
            }
        }
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// The table as one nft JSON transaction, as `nft -j -f -` reads it.
    pub fn to_json(&self) -> Value {
        let (family, table) = ("inet", self.name.as_str());
        let mut commands = vec![json!({"create": {"table": {"family": family, "name": table}}})];
        let (kind, _, prio) = self.verdict.chain_kind();
        for chain in &self.chains {
            commands.push(json!({"add": {"chain": {
                "family": family, "table": table, "name": chain.hook,
                "type": kind, "hook": chain.hook, "prio": prio, "policy": "accept",
            }}}));
            for rule in &chain.rules {
                let mut expr: Vec<Value> = rule.exprs.iter().map(expr_json).collect();
                if let (true, DropVerdict::Mark { set, .. }) = (rule.hits, self.verdict) {
                    expr.push(json!({"mangle": {"key": {"meta": {"key": "mark"}}, "value": set}}));
                } else if rule.hits {
                    if let DropVerdict::Random { modulus, below } = self.verdict {
                        expr.push(json!({"match": {"op": "<",
                            "left": {"numgen": {"mode": "random", "mod": modulus, "offset": 0}}, "right": below}}));
                    }
                    expr.push(json!({"drop": null}));
                } else {
                    expr.push(json!({"accept": null}));
                }
                commands.push(
                    json!({"add": {"rule": {"family": family, "table": table, "chain": chain.hook, "expr": expr}}}),
                );
            }
        }
        json!({"nftables": commands})
    }
}

/// One chain's view of a packet: its hook, and which header fields are the remote and local ends.
struct Side {
    hook: &'static str,
    ifname: &'static str,
    remote_addr: &'static str,
    remote_port: &'static str,
    local_port: &'static str,
}

fn chain_rules(scope: &Scope, interface: Option<&str>, side: &Side) -> Vec<Rule> {
    let Side { ifname, remote_addr, remote_port, local_port, .. } = *side;
    let spare = |exprs| Rule { exprs, hits: false };
    let hit = |exprs| Rule { exprs, hits: true };
    let mut rules = vec![match interface {
        None => spare(vec![Expr::IfName { key: ifname, negated: false, name: "lo".into() }]),
        Some(dev) => spare(vec![Expr::IfName { key: ifname, negated: true, name: dev.to_string() }]),
    }];
    for (family, ipv4) in [("ip", true), ("ip6", false)] {
        let peers = scope.control_peers_of(ipv4);
        if !peers.is_empty() {
            rules.push(spare(vec![
                Expr::Addr { family, field: remote_addr, cidrs: peers },
                Expr::L4Proto,
                Expr::Ports { field: local_port, ports: scope.control_ports.clone() },
            ]));
        }
    }
    for (family, ipv4) in [("ip", true), ("ip6", false)] {
        let spared = scope.spared_of(ipv4);
        if !spared.is_empty() {
            rules.push(spare(vec![Expr::Addr { family, field: remote_addr, cidrs: spared }]));
        }
    }
    if !scope.spared_ports.is_empty() {
        for side in ["sport", "dport"] {
            rules.push(spare(vec![Expr::L4Proto, Expr::Ports { field: side, ports: scope.spared_ports.clone() }]));
        }
    }
    let mut port_match = vec![];
    for (field, ports) in [(remote_port, &scope.ports), (local_port, &scope.local_ports)] {
        if !ports.is_empty() {
            if port_match.is_empty() {
                port_match.push(Expr::L4Proto);
            }
            port_match.push(Expr::Ports { field, ports: ports.clone() });
        }
    }
    if scope.destinations.is_empty() {
        rules.push(hit(port_match));
        return rules;
    }
    for (family, ipv4) in [("ip", true), ("ip6", false)] {
        let dests = scope.destinations_of(ipv4).unwrap_or_default();
        if !dests.is_empty() {
            let mut exprs = vec![Expr::Addr { family, field: remote_addr, cidrs: dests }];
            exprs.extend(port_match.iter().cloned());
            rules.push(hit(exprs));
        }
    }
    rules
}

fn set_text(items: impl IntoIterator<Item = String>) -> String {
    format!("{{ {} }}", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn expr_text(expr: &Expr) -> String {
    match expr {
        Expr::IfName { key, negated, name } => format!("{key} {}\"{name}\"", if *negated { "!= " } else { "" }),
        Expr::Addr { family, field, cidrs } => {
            format!("{family} {field} {}", set_text(cidrs.iter().map(Cidr::to_string)))
        }
        Expr::L4Proto => "meta l4proto { tcp, udp }".into(),
        Expr::Ports { field, ports } => format!("th {field} {}", set_text(ports.iter().map(u16::to_string))),
        Expr::Mark(mark) => format!("meta mark {mark:#x}"),
    }
}

fn expr_json(expr: &Expr) -> Value {
    let matches = |op: &str, left: Value, right: Value| json!({"match": {"op": op, "left": left, "right": right}});
    match expr {
        Expr::IfName { key, negated, name } => {
            matches(if *negated { "!=" } else { "==" }, json!({"meta": {"key": key}}), json!(name))
        }
        Expr::Addr { family, field, cidrs } => {
            let set: Vec<Value> =
                cidrs.iter().map(|c| json!({"prefix": {"addr": c.addr.to_string(), "len": c.prefix}})).collect();
            matches("==", json!({"payload": {"protocol": family, "field": field}}), json!({"set": set}))
        }
        Expr::L4Proto => matches("==", json!({"meta": {"key": "l4proto"}}), json!({"set": ["tcp", "udp"]})),
        Expr::Ports { field, ports } => {
            matches("==", json!({"payload": {"protocol": "th", "field": field}}), json!({"set": ports}))
        }
        Expr::Mark(mark) => matches("==", json!({"meta": {"key": "mark"}}), json!(mark)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            destinations: vec![Cidr::parse("10.77.0.2").unwrap(), Cidr::parse("fd77::/64").unwrap()],
            ports: vec![80],
            local_ports: vec![],
            spared_addresses: vec![],
            spared_ports: vec![7878],
            ..Scope::default()
        }
    }

    #[test]
    fn json_and_script_describe_the_same_rules() {
        let table = Table::build("t", &scope(), Direction::Both, Some("veth0"), DropVerdict::All);
        let json = table.to_json();
        let commands = json["nftables"].as_array().unwrap();
        assert_eq!(commands.len(), table.to_script().lines().count());
        assert_eq!(commands[0], json!({"create": {"table": {"family": "inet", "name": "t"}}}));
        let last = &commands.last().unwrap()["add"]["rule"];
        assert_eq!(last["chain"], "input");
        let expr = last["expr"].as_array().unwrap();
        assert_eq!(expr[0]["match"]["left"], json!({"payload": {"protocol": "ip6", "field": "saddr"}}));
        assert_eq!(expr[0]["match"]["right"], json!({"set": [{"prefix": {"addr": "fd77::", "len": 64}}]}));
        assert_eq!(expr.last().unwrap(), &json!({"drop": null}));
    }

    #[test]
    fn local_ports_are_the_source_port_going_out_and_the_destination_port_coming_in() {
        let s = Scope { ports: vec![80], local_ports: vec![5432], ..Scope::default() };
        let script = Table::build("t", &s, Direction::Both, None, DropVerdict::All).to_script();
        let hits: Vec<&str> = script.lines().filter(|l| l.ends_with(" drop")).collect();
        assert_eq!(
            hits,
            [
                "add rule inet t output meta l4proto { tcp, udp } th dport { 80 } th sport { 5432 } drop",
                "add rule inet t input meta l4proto { tcp, udp } th sport { 80 } th dport { 5432 } drop",
            ]
        );
        let only_local = Scope { local_ports: vec![5432], ..Scope::default() };
        let json = Table::build("t", &only_local, Direction::In, None, DropVerdict::All).to_json();
        let expr = json["nftables"][3]["add"]["rule"]["expr"].as_array().unwrap().clone();
        assert_eq!(expr[1]["match"]["left"], json!({"payload": {"protocol": "th", "field": "dport"}}));
        assert_eq!(expr[1]["match"]["right"], json!({"set": [5432]}));
    }

    #[test]
    fn a_random_drop_is_a_numgen_match_before_the_drop() {
        let s = Scope::default();
        let verdict = DropVerdict::Random { modulus: 100, below: 30 };
        let json = Table::build("t", &s, Direction::Out, None, verdict).to_json();
        let expr = json["nftables"][3]["add"]["rule"]["expr"].as_array().unwrap().clone();
        assert_eq!(
            expr,
            [
                json!({"match": {"op": "<", "left": {"numgen": {"mode": "random", "mod": 100, "offset": 0}}, "right": 30}}),
                json!({"drop": null})
            ]
        );
    }

    #[test]
    fn a_device_name_is_a_json_string_never_nft_syntax() {
        let hostile = "eth9\" accept\ndelete table inet victim\n#";
        let json = Table::build("t", &Scope::default(), Direction::Out, Some(hostile), DropVerdict::All).to_json();
        let first_rule = &json["nftables"][2]["add"]["rule"]["expr"][0]["match"];
        assert_eq!(first_rule["right"], json!(hostile));
        assert_eq!(first_rule["op"], "!=");
    }
}
