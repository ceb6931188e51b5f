//! dns-fault: matched names get NXDOMAIN, SERVFAIL, no answer, a delay or a
//! wrong address; every other name still resolves through the real upstream.
//!
//! An nftables table of the injection's own redirects locally sent DNS (UDP and
//! TCP port 53, IPv4 and IPv6) to a resolver helper on loopback, which answers
//! matched queries itself and forwards the rest; its own upstream traffic
//! carries a socket mark the redirect skips. Undo deletes the table first, then
//! forgets the flows it redirected (conntrack would keep a busy one bound to the
//! resolver's port), then stops the resolver; an expiry watchdog does the first
//! two at the deadline even if the controller is gone, and the resolver exits a
//! little after it.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::experiment::{ParamKind, ParamSpec, Params};
use crate::platform::linux::{ProcRef, conntrack, helpers, netns, nft};

use super::context::{Applied, Fault, FaultError, FaultInfo, InjectContext, Prepared};
use super::dns_match::{EFFECTS, NamePattern};
use super::dns_nft::RedirectTable;
use super::dns_resolver::{DNS_MARK, DnsArgs, GRACE};
use super::net_nft::table_name;
use super::net_scope::{NETNS, netns_of};
use super::text::{unix_ms, when};
use super::undo::Undo;
use super::watchdog;

/// Fails matching DNS queries.
pub struct DnsFault;

static INFO: FaultInfo = FaultInfo {
    name: "dns-fault",
    summary: "matched DNS names get NXDOMAIN, SERVFAIL, no answer, a delay or a wrong address; others resolve normally (nftables redirect to a resolver)",
    params: &[
        ParamSpec {
            name: "names",
            kind: ParamKind::List,
            default: None,
            required: true,
            doc: "names hit: exact (`db.example.com`) or every name below a domain (`*.example.com`, not example.com itself); case-insensitive",
        },
        ParamSpec {
            name: "effect",
            kind: ParamKind::Choice(EFFECTS),
            default: None,
            required: true,
            doc: "what matched queries get: nxdomain, servfail, timeout (no answer), delay (the real answer, `delay` later), wrong-address (`addresses`, TTL 0)",
        },
        ParamSpec {
            name: "delay",
            kind: ParamKind::Duration,
            default: None,
            required: false,
            doc: "with effect delay: how much later the real answer comes",
        },
        ParamSpec {
            name: "addresses",
            kind: ParamKind::List,
            default: None,
            required: false,
            doc: "with effect wrong-address: the IPv4 addresses A queries get and the IPv6 ones AAAA queries get",
        },
        ParamSpec {
            name: "upstream",
            kind: ParamKind::Text,
            default: None,
            required: false,
            doc: "resolver (IP or IP:PORT) unmatched queries go to; absent: the first nameserver in resolv.conf (a namespace's /etc/netns/NAME/resolv.conf if it has one)",
        },
        NETNS,
    ],
    is_held: true,
};

/// How long apply waits for the resolver to say it listens.
const STARTUP: Duration = Duration::from_secs(5);

impl Fault for DnsFault {
    fn info(&self) -> &'static FaultInfo {
        &INFO
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        if params.list("names").is_empty() {
            return Err("parameter `names`: give at least one name or `*.domain` wildcard".into());
        }
        for name in params.list("names") {
            NamePattern::parse(name).map_err(|m| format!("parameter `names`: {m}"))?;
        }
        let effect = params.text("effect").unwrap_or_default();
        match (effect, params.has("delay")) {
            ("delay", false) => return Err("effect `delay` needs parameter `delay` (e.g. 500ms)".into()),
            (e, true) if e != "delay" => return Err(format!("parameter `delay` goes with effect `delay`, not `{e}`")),
            _ => {}
        }
        let addresses = params.list("addresses");
        match (effect, addresses.is_empty()) {
            ("wrong-address", true) => return Err("effect `wrong-address` needs parameter `addresses`".into()),
            (e, false) if e != "wrong-address" => {
                return Err(format!("parameter `addresses` goes with effect `wrong-address`, not `{e}`"));
            }
            _ => {}
        }
        for addr in addresses {
            addr.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("parameter `addresses`: `{addr}` is not an IPv4 or IPv6 address"))?;
        }
        if let Some(upstream) = params.text("upstream") {
            parse_upstream(upstream).map_err(|m| format!("parameter `upstream`: {m}"))?;
        }
        Ok(())
    }

    fn prepare(&self, params: &Params, cx: &InjectContext) -> Result<Prepared, FaultError> {
        self.check(params).map_err(FaultError::Refused)?;
        nft::probe_redirect().map_err(|said| {
            FaultError::Unsupported(format!(
                "dns-fault needs nftables (the nf_tables and nf_nat kernel modules, and the `nft` tool from the Debian package nftables) to redirect DNS to its resolver, and this host cannot: {said}"
            ))
        })?;
        conntrack::probe().map_err(|said| {
            FaultError::Unsupported(format!(
                "dns-fault needs the `conntrack` tool (Debian package conntrack) so its undo can release the flows its redirect bound: {said}"
            ))
        })?;
        let netns = netns_of(params)?;
        let nameservers = nameservers_of(netns.as_deref());
        let upstream = match params.text("upstream") {
            Some(text) => parse_upstream(text).map_err(FaultError::Refused)?,
            None => upstream_from(&nameservers, netns.as_deref())?,
        };
        // Every resolver a client here may ask (it fails over on SERVFAIL or silence).
        let mut resolvers = nameservers.unwrap_or_default();
        if !resolvers.contains(&upstream.ip()) {
            resolvers.push(upstream.ip());
        }
        let args = DnsArgs {
            injection: cx.injection.to_string(),
            deadline_ms: unix_ms(cx.deadline),
            upstream,
            names: params.list("names").iter().map(|n| n.trim().to_string()).collect(),
            effect: params.text("effect").unwrap_or_default().to_string(),
            delay_ms: params.duration("delay").map_or(0, |d| d.as_millis() as u64),
            addresses: params.list("addresses").iter().filter_map(|a| a.trim().parse().ok()).collect(),
        };
        let mut argv = vec!["helper".to_string(), "dns".to_string()];
        argv.extend(args.to_argv());
        let table =
            RedirectTable { name: table_name(&cx.injection), mark: DNS_MARK, port: None, ipv6: true, resolvers };
        // Carried out last to first: the redirect goes, then the flows it bound, then the
        // resolver they pointed at.
        let unredirect = Undo::All {
            steps: vec![
                Undo::ForgetRedirectedFlows { netns: netns.clone(), port: 53 },
                Undo::DeleteNftTable { netns: netns.clone(), family: "inet".into(), table: table.name.clone() },
            ],
        };
        let undo = Undo::All { steps: vec![Undo::stop_helpers(&cx.injection), unredirect.clone()] };
        let (_, watchdog) = watchdog::arm(cx, unredirect);
        let prefix = netns::preview_prefix(netns.as_deref());
        let exe = cx.exe.clone();
        let mut preview = vec![
            format!("{prefix}{} {}", exe.display(), argv.join(" ")),
            format!(
                "  a resolver on 127.0.0.1:$PORT and [::1]:$PORT (UDP and TCP) answering matched names itself and forwarding the rest to {upstream}; it stops faulting at {} and exits {GRACE:?} later",
                when(cx.deadline)
            ),
            format!("{prefix}nft -j -f -, with this table as nft JSON (one transaction):"),
        ];
        let nft_at = preview.len();
        preview.extend(table.to_script().lines().map(|l| format!("  {l}")));
        preview.push(watchdog.describe());
        preview.push(format!(
            "undo: {prefix}nft delete table inet {}; {prefix}conntrack -D -p udp|tcp -f ipv4|ipv6 --orig-port-dst 53 --dst-nat; stop the resolver",
            table.name
        ));
        let mut report = preview.clone();
        let injection = cx.injection.clone();
        let apply = move || {
            let watchdog = watchdog.start();
            let stop_all = || {
                let _ = helpers::stop_helpers(&injection, &[]);
            };
            let (resolver, port, ipv6) = start_resolver(netns.as_deref(), &exe, &argv).inspect_err(|_| stop_all())?;
            let table = RedirectTable { port: Some(port), ipv6, ..table };
            nft::apply_json(netns.as_deref(), &table.to_json(port)).map_err(|e| {
                stop_all();
                FaultError::Apply { context: format!("create nftables table inet {}: {e}", table.name), source: None }
            })?;
            // What was done, with the port the resolver got.
            let lines = table.to_script();
            report.splice(nft_at..nft_at + lines.lines().count(), lines.lines().map(|l| format!("  {l}")));
            report[1] = report[1].replace("$PORT", &port.to_string());
            if !ipv6 {
                report[1] = report[1].replace(&format!(" and [::1]:{port}"), " (this namespace has no ::1)");
            }
            Ok(Applied { report, ..Applied::by_helpers([watchdog, resolver]) })
        };
        Ok(Prepared { undo, preview, apply: Box::new(apply) })
    }
}

/// `IP:PORT`, or an IP alone (port 53).
/// A dns-fault `upstream` as the resolver's socket address (port 53 when none is given).
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let addr = text
        .parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("`{text}` is not an address such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53"))?;
    if addr.port() == 0 {
        return Err(format!("`{text}`: port 0 is not a resolver's port"));
    }
    Ok(addr)
}

/// The resolv.conf processes in `netns` read: `ip netns exec` binds
/// /etc/netns/NAME/resolv.conf over /etc/resolv.conf when there is one.
fn resolv_conf_of(netns: Option<&str>) -> PathBuf {
    netns
        .map(|n| Path::new("/etc/netns").join(n).join("resolv.conf"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"))
}

/// The `nameserver` lines' addresses, in order (one with a `%zone` cannot be
/// forwarded to by address alone and is left out).
fn nameservers(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()?.parse().ok()).flatten()
        })
        .collect()
}

/// The nameservers of `netns`'s resolv.conf, or why it could not be read.
fn nameservers_of(netns: Option<&str>) -> Result<Vec<IpAddr>, String> {
    let path = resolv_conf_of(netns);
    std::fs::read_to_string(&path).map(|text| nameservers(&text)).map_err(|e| format!("read {}: {e}", path.display()))
}

/// The first nameserver: the upstream when the parameter names none.
fn upstream_from(nameservers: &Result<Vec<IpAddr>, String>, netns: Option<&str>) -> Result<SocketAddr, FaultError> {
    match nameservers {
        Err(why) => {
            Err(FaultError::Unsupported(format!("find the upstream resolver: {why}; give parameter `upstream`")))
        }
        Ok(list) => list.first().map(|ip| SocketAddr::new(*ip, 53)).ok_or_else(|| {
            FaultError::Unsupported(format!(
                "{} names no nameserver to forward unmatched queries to; give parameter `upstream`",
                resolv_conf_of(netns).display()
            ))
        }),
    }
}

/// Starts the resolver in `netns`, in its own process group, and waits until it
/// says `listening PORT FAMILIES`. Returns it, its port, and whether it has IPv6.
fn start_resolver(
    netns: Option<&str>,
    exe: &Path,
    argv: &[String],
) -> Result<(Option<ProcRef>, u16, bool), FaultError> {
    let mut command = netns::command(netns, &exe.to_string_lossy())
        .map_err(|e| FaultError::Apply { context: format!("start the resolver: {e}"), source: None })?;
    command.args(argv).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child =
        command.spawn().map_err(|e| FaultError::io(format!("start the resolver helper `{}`", exe.display()), e))?;
    let line = helpers::first_line(&mut child, STARTUP);
    let mut words = line.split_whitespace();
    if let (Some("listening"), Some(Ok(port)), families) =
        (words.next(), words.next().map(str::parse::<u16>), words.next().unwrap_or_default())
    {
        return Ok((helpers::started(child), port, families.contains("ipv6")));
    }
    let said = helpers::abandon(child);
    Err(FaultError::Apply {
        context: format!("start the resolver: it did not start listening within {STARTUP:?}: {said}"),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_is_an_address_with_port_53_by_default() {
        assert_eq!(parse_upstream("10.0.0.53"), Ok("10.0.0.53:53".parse().unwrap()));
        assert_eq!(parse_upstream(" 127.0.0.1:5353 "), Ok("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(parse_upstream("fd00::53"), Ok("[fd00::53]:53".parse().unwrap()));
        for bad in ["", "dns.example.com", "10.0.0.1:0", "10.0.0.1:x"] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nameservers_are_read_in_order_and_the_first_is_the_upstream() {
        let text = "# generated\nsearch example.com\nnameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver ::1\n";
        let found = nameservers(text);
        assert_eq!(found, ["10.0.0.2".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
        assert_eq!(upstream_from(&Ok(found), None).unwrap(), "10.0.0.2:53".parse().unwrap());
        assert!(nameservers("options ndots:2\n").is_empty());
        assert!(upstream_from(&Ok(vec![]), None).unwrap_err().to_string().contains("give parameter `upstream`"));
    }
}
