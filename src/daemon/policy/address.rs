//! Where a caller may make the daemon connect: address blocks, host names, and the
//! blocks that stay closed unless a policy opens them (cloud metadata, link-local).

use std::fmt;
use std::net::IpAddr;

/// An address block written in a policy: `10.0.0.0/8`, `fd00::/8`, or one address. The
/// same type network faults read, so host bits under a prefix are an error here too.
pub use crate::fault::Cidr as Block;

/// One allowed destination: a block of addresses, or a host name matched exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Block(Block),
    Name(String),
}

impl Destination {
    pub fn parse(text: &str) -> Result<Destination, String> {
        let looks_like_address = text.contains('/') || text.contains(':') || text.parse::<IpAddr>().is_ok();
        if looks_like_address {
            return Block::parse(text).map(Destination::Block);
        }
        let is_name = !text.is_empty()
            && text.len() <= 253
            && text
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if is_name {
            Ok(Destination::Name(text.to_ascii_lowercase()))
        } else {
            Err(format!("`{text}` is neither an address block (10.0.0.0/8) nor a host name"))
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Block(b) => b.fmt(f),
            Destination::Name(n) => f.write_str(n),
        }
    }
}

/// Blocked unless a policy opens them: link-local (cloud metadata services live there:
/// 169.254.169.254, AWS's fd00:ec2::254) and Alibaba's metadata address.
pub const DEFAULT_BLOCKED: [&str; 4] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254", "100.100.100.200"];

/// A URL's host and port, or why it cannot be a probe destination.
pub fn url_host(url: &str) -> Result<(String, u16), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{url}`: only http and https URLs can be probed"));
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => return Err(format!("`{url}` has no host")),
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok((host, port))
}

/// The addresses `host` stands for (an address is itself; a name is resolved now).
pub async fn resolve(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip.to_canonical()]);
    }
    let found = tokio::time::timeout(std::time::Duration::from_secs(3), tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolve `{host}`: no answer within 3s"))?
        .map_err(|e| format!("resolve `{host}`: {e}"))?;
    let addrs: Vec<IpAddr> = found.map(|a| a.ip().to_canonical()).collect();
    if addrs.is_empty() {
        return Err(format!("resolve `{host}`: no address"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_refuse_host_bits_and_match_mapped_addresses() {
        let b = Block::parse("10.210.0.0/16").unwrap();
        assert!(b.contains("10.210.3.4".parse().unwrap()));
        assert!(b.contains("::ffff:10.210.3.4".parse().unwrap()));
        assert!(!b.contains("10.211.0.1".parse().unwrap()));
        let e = Block::parse("10.210.2.0/16").unwrap_err();
        assert!(e.contains("host bits") && e.contains("10.210.0.0/16"), "{e}");
        assert!(Block::parse("0.0.0.0/0").unwrap().contains("192.0.2.1".parse().unwrap()));
        assert!(Block::parse("10.0.0.0/33").is_err());
        assert!(Block::parse("fd00:ec2::254").unwrap().contains("fd00:ec2::254".parse().unwrap()));
    }

    #[test]
    fn destinations_are_blocks_or_names() {
        assert_eq!(Destination::parse("Prom.internal").unwrap(), Destination::Name("prom.internal".into()));
        assert!(matches!(Destination::parse("127.0.0.1").unwrap(), Destination::Block(_)));
        assert!(Destination::parse("a b").is_err());
        assert!(Destination::parse("http://x").is_err());
    }

    #[test]
    fn url_hosts_are_normalised_so_tricks_do_not_hide_an_address() {
        // Decimal and hex IPv4 forms are the metadata address in disguise.
        assert_eq!(url_host("http://2852039166/latest").unwrap().0, "169.254.169.254");
        assert_eq!(url_host("http://0xA9FEA9FE/").unwrap().0, "169.254.169.254");
        let (mapped, _) = url_host("http://[::ffff:169.254.169.254]/").unwrap();
        assert_eq!(mapped.parse::<IpAddr>().unwrap().to_canonical().to_string(), "169.254.169.254");
        assert!(url_host("file:///etc/shadow").is_err());
    }
}
