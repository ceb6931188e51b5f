//! Template parameters checked against the resolved targets (`covers_hosts_of`,
//! `excludes_hosts_of`): a surviving zone's CIDRs must hold every one of its daemons'
//! addresses, and none of the failed zone's.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::experiment::HostConstraint;
use crate::fault::Cidr;

use super::host::Host;
use super::targets::TargetError;

/// Checks every constraint of the plan against the hosts each target resolved to.
pub fn check(constraints: &[HostConstraint], by_name: &BTreeMap<String, Vec<Arc<Host>>>) -> Result<(), TargetError> {
    for c in constraints {
        let blocks: Vec<Cidr> = c.values.iter().filter_map(|v| Cidr::parse(v).ok()).collect();
        for host in by_name.get(&c.target).map(Vec::as_slice).unwrap_or_default() {
            let Host::Remote(remote) = host.as_ref() else { continue }; // `local` has no inventory address
            let fail = |message: String| TargetError::HostConstraint {
                parameter: c.parameter.clone(),
                declared_at: c.declared_at.clone(),
                message,
            };
            let name = &remote.reach.host;
            for addr in addresses(&remote.reach.url).map_err(&fail)? {
                let holding = blocks.iter().find(|b| b.contains(addr));
                match (c.covers, holding) {
                    (true, None) => {
                        return Err(fail(format!(
                            "must hold the address of every host of target `{}`, but {addr} (host {name}, {}) is in \
                             none of {}; add it, or correct the inventory",
                            c.target,
                            remote.reach.url,
                            c.values.join(", ")
                        )));
                    }
                    (false, Some(block)) => {
                        return Err(fail(format!(
                            "must hold no address of target `{}`, but {block} holds {addr} (host {name}, {}); \
                             the drill would cut those hosts off from themselves, not from the others",
                            c.target, remote.reach.url
                        )));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The addresses of the host in a daemon URL: the literal, or what its name resolves to.
fn addresses(url: &str) -> Result<Vec<IpAddr>, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("cannot read the host's url `{url}`: {e}"))?;
    match parsed.host() {
        Some(url::Host::Ipv4(a)) => Ok(vec![IpAddr::V4(a)]),
        Some(url::Host::Ipv6(a)) => Ok(vec![IpAddr::V6(a)]),
        Some(url::Host::Domain(name)) => {
            let port = parsed.port_or_known_default().unwrap_or(7878);
            let resolved = (name, port).to_socket_addrs().map_err(|e| {
                format!("cannot check the address of `{url}`: `{name}` does not resolve ({e}); use the address in the inventory")
            })?;
            Ok(resolved.map(|s| s.ip()).collect())
        }
        None => Err(format!("the host's url `{url}` names no host")),
    }
}
