//! The nftables table of dns-fault: locally sent DNS (UDP and TCP port 53, IPv4
//! and IPv6) to the host's resolvers is redirected to the fault's resolver on
//! loopback, except the resolver's own upstream traffic, which carries its
//! socket mark. Only queries to the resolvers are redirected, never the
//! upstream queries of a caching resolver running here (systemd-resolved,
//! dnsmasq), which would otherwise loop back into it. Rendered as nft JSON
//! (applied) and as the equivalent nft script (previews).

use std::net::IpAddr;

use serde_json::{Value, json};

/// The redirect table of one injection.
#[derive(Clone, Debug, PartialEq)]
pub struct RedirectTable {
    pub name: String,
    /// The mark that exempts the resolver's own queries.
    pub mark: u32,
    /// The resolver's port; `None` in a preview, before the resolver has one.
    pub port: Option<u16>,
    /// Whether the resolver listens on ::1 too; if not, only IPv4 is redirected.
    pub ipv6: bool,
    /// The resolvers whose queries are redirected (resolv.conf's nameservers and the upstream).
    pub resolvers: Vec<IpAddr>,
}

/// The chain's priority: `dstnat`, where `redirect` belongs.
const PRIORITY: i32 = -100;

impl RedirectTable {
    /// The resolvers of one family, as (nft protocol, addresses); empty families are left out,
    /// and IPv6 when the resolver has no ::1.
    fn families(&self) -> Vec<(&'static str, Vec<String>)> {
        let pick = |v4: bool| self.resolvers.iter().filter(|a| a.is_ipv4() == v4).map(IpAddr::to_string).collect();
        let mut families = vec![("ip", pick(true))];
        if self.ipv6 {
            families.push(("ip6", pick(false)));
        }
        families.into_iter().filter(|(_, addrs): &(_, Vec<String>)| !addrs.is_empty()).collect()
    }

    /// The nft script the table is equivalent to, one command a line.
    pub fn to_script(&self) -> String {
        let t = &self.name;
        let port = self.port.map_or("$PORT".to_string(), |p| p.to_string());
        let mut script = format!(
            "create table inet {t}\n\
             add chain inet {t} output {{ type nat hook output priority {PRIORITY}; policy accept; }}\n\
             add rule inet {t} output meta mark {mark:#x} return\n",
            mark = self.mark
        );
        for (family, addrs) in self.families() {
            script.push_str(&format!(
                "add rule inet {t} output {family} daddr {{ {} }} meta l4proto {{ tcp, udp }} th dport 53 redirect to :{port}\n",
                addrs.join(", ")
            ));
        }
        script
    }

    /// The table as one nft JSON transaction (needs the port).
    pub fn to_json(&self, port: u16) -> Value {
        let (family, table) = ("inet", self.name.as_str());
        let matches = |left: Value, right: Value| json!({"match": {"op": "==", "left": left, "right": right}});
        let rule = |expr: Vec<Value>| json!({"add": {"rule": {"family": family, "table": table, "chain": "output", "expr": expr}}});
        let mut commands = vec![
            json!({"create": {"table": {"family": family, "name": table}}}),
            json!({"add": {"chain": {"family": family, "table": table, "name": "output",
                "type": "nat", "hook": "output", "prio": PRIORITY, "policy": "accept"}}}),
            rule(vec![matches(json!({"meta": {"key": "mark"}}), json!(self.mark)), json!({"return": null})]),
        ];
        for (protocol, addrs) in self.families() {
            commands.push(rule(vec![
                matches(json!({"payload": {"protocol": protocol, "field": "daddr"}}), json!({"set": addrs})),
                matches(json!({"meta": {"key": "l4proto"}}), json!({"set": ["tcp", "udp"]})),
                matches(json!({"payload": {"protocol": "th", "field": "dport"}}), json!(53)),
                json!({"redirect": {"port": port}}),
            ]));
        }
        json!({"nftables": commands})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RedirectTable {
        let resolvers = ["127.0.0.1", "10.0.0.2", "::1"].iter().map(|a| a.parse().unwrap()).collect();
        RedirectTable { name: "faultdrill_t".into(), mark: 0x10, port: Some(40053), ipv6: true, resolvers }
    }

    #[test]
    fn the_script_spares_the_mark_then_redirects_port_53_to_the_resolvers() {
        assert_eq!(
            table().to_script(),
            "create table inet faultdrill_t\n\
             add chain inet faultdrill_t output { type nat hook output priority -100; policy accept; }\n\
             add rule inet faultdrill_t output meta mark 0x10 return\n\
             add rule inet faultdrill_t output ip daddr { 127.0.0.1, 10.0.0.2 } meta l4proto { tcp, udp } th dport 53 redirect to :40053\n\
             add rule inet faultdrill_t output ip6 daddr { ::1 } meta l4proto { tcp, udp } th dport 53 redirect to :40053\n"
        );
        let preview = RedirectTable { port: None, ipv6: false, ..table() };
        let script = preview.to_script();
        assert!(
            script.ends_with(
                "ip daddr { 127.0.0.1, 10.0.0.2 } meta l4proto { tcp, udp } th dport 53 redirect to :$PORT\n"
            )
        );
        assert!(!script.contains("ip6"), "no ::1 in the namespace: IPv6 is not redirected");
    }

    #[test]
    fn json_has_one_command_per_script_line() {
        let table = RedirectTable { port: None, ..table() };
        let json = table.to_json(40053);
        let commands = json["nftables"].as_array().unwrap();
        assert_eq!(commands.len(), table.to_script().lines().count());
        assert_eq!(commands[1]["add"]["chain"]["type"], "nat");
        let redirect = commands[3]["add"]["rule"]["expr"].as_array().unwrap();
        assert_eq!(redirect[0]["match"]["right"], json!({"set": ["127.0.0.1", "10.0.0.2"]}));
        assert_eq!(redirect.last().unwrap(), &json!({"redirect": {"port": 40053}}));
        assert_eq!(commands[4]["add"]["rule"]["expr"][0]["match"]["left"]["payload"]["protocol"], "ip6");
        assert_eq!(commands[2]["add"]["rule"]["expr"][0]["match"]["right"], 16);
    }
}
