//! The nftables table of dns-fault: locally sent DNS (UDP and TCP port 53, IPv4
//! and IPv6) is redirected to the fault's resolver on loopback, except the
//! resolver's own upstream traffic, which carries its socket mark. Rendered as
//! nft JSON (applied) and as the equivalent nft script (previews).

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
}

/// The chain's priority: `dstnat`, where `redirect` belongs.
const PRIORITY: i32 = -100;

impl RedirectTable {
    /// The nft script the table is equivalent to, one command a line.
    pub fn to_script(&self) -> String {
        let t = &self.name;
        let port = self.port.map_or("$PORT".to_string(), |p| p.to_string());
        let family = if self.ipv6 { "" } else { "meta nfproto ipv4 " };
        format!(
            "create table inet {t}\n\
             add chain inet {t} output {{ type nat hook output priority {PRIORITY}; policy accept; }}\n\
             add rule inet {t} output meta mark {mark:#x} return\n\
             add rule inet {t} output {family}meta l4proto {{ tcp, udp }} th dport 53 redirect to :{port}\n",
            mark = self.mark
        )
    }

    /// The table as one nft JSON transaction (needs the port).
    pub fn to_json(&self, port: u16) -> Value {
        let (family, table) = ("inet", self.name.as_str());
        let matches = |left: Value, right: Value| json!({"match": {"op": "==", "left": left, "right": right}});
        let mut redirect = Vec::new();
        if !self.ipv6 {
            redirect.push(matches(json!({"meta": {"key": "nfproto"}}), json!("ipv4")));
        }
        redirect.push(matches(json!({"meta": {"key": "l4proto"}}), json!({"set": ["tcp", "udp"]})));
        redirect.push(matches(json!({"payload": {"protocol": "th", "field": "dport"}}), json!(53)));
        redirect.push(json!({"redirect": {"port": port}}));
        let spare = vec![matches(json!({"meta": {"key": "mark"}}), json!(self.mark)), json!({"return": null})];
        let rule = |expr: Vec<Value>| json!({"add": {"rule": {"family": family, "table": table, "chain": "output", "expr": expr}}});
        json!({"nftables": [
            {"create": {"table": {"family": family, "name": table}}},
            {"add": {"chain": {"family": family, "table": table, "name": "output",
                "type": "nat", "hook": "output", "prio": PRIORITY, "policy": "accept"}}},
            rule(spare),
            rule(redirect),
        ]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_spares_the_mark_then_redirects_port_53() {
        let table = RedirectTable { name: "faultdrill_t".into(), mark: 0x10, port: Some(40053), ipv6: true };
        assert_eq!(
            table.to_script(),
            "create table inet faultdrill_t\n\
             add chain inet faultdrill_t output { type nat hook output priority -100; policy accept; }\n\
             add rule inet faultdrill_t output meta mark 0x10 return\n\
             add rule inet faultdrill_t output meta l4proto { tcp, udp } th dport 53 redirect to :40053\n"
        );
        let preview = RedirectTable { port: None, ipv6: false, ..table };
        assert!(
            preview
                .to_script()
                .ends_with("output meta nfproto ipv4 meta l4proto { tcp, udp } th dport 53 redirect to :$PORT\n")
        );
    }

    #[test]
    fn json_has_one_command_per_script_line() {
        let table = RedirectTable { name: "t".into(), mark: 7, port: None, ipv6: true };
        let json = table.to_json(40053);
        let commands = json["nftables"].as_array().unwrap();
        assert_eq!(commands.len(), table.to_script().lines().count());
        assert_eq!(commands[1]["add"]["chain"]["type"], "nat");
        let redirect = commands[3]["add"]["rule"]["expr"].as_array().unwrap();
        assert_eq!(redirect.last().unwrap(), &json!({"redirect": {"port": 40053}}));
        assert_eq!(commands[2]["add"]["rule"]["expr"][0]["match"]["right"], 7);
    }
}
