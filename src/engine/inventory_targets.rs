//! Targets resolved against an inventory (`--inventory`): the selection itself
//! is [`crate::client::select_hosts`]; this turns the chosen names into hosts,
//! one client per daemon shared by every target that names it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{Inventory, SelectError, TokenSource, select_hosts};
use crate::experiment::{TargetPlan, TargetSelector};
use crate::journal::RemoteReach;

use super::host::Host;
use super::remote_host::RemoteHost;
use super::targets::TargetError;

/// The remote hosts built so far, by name.
#[derive(Default)]
pub struct RemoteHosts {
    by_name: BTreeMap<String, Arc<Host>>,
}

/// Resolves one target: its hosts, and the seed its pick used (recorded in the report).
pub fn resolve(
    target: &TargetPlan,
    inventory: &Inventory,
    local: &Arc<Host>,
    remotes: &mut RemoteHosts,
) -> Result<(Vec<Arc<Host>>, Option<u64>), TargetError> {
    let selection = select_hosts(target, inventory, rand::random()).map_err(|e| match (&e, &target.selector) {
        (SelectError::Empty { .. }, TargetSelector::Labels(labels)) => no_match(target, labels, inventory),
        _ => TargetError::from(e),
    })?;
    let mut hosts = Vec::new();
    for name in &selection.hosts {
        if name == "local" {
            hosts.push(local.clone());
            continue;
        }
        if let Some(host) = remotes.by_name.get(name) {
            hosts.push(host.clone());
            continue;
        }
        let entry = inventory.host(name).expect("select_hosts only returns inventory hosts");
        let client = entry
            .connect()
            .map_err(|e| TargetError::Connect { target: target.name.clone(), message: e.to_string() })?;
        let reach = RemoteReach {
            host: entry.name.clone(),
            url: entry.url.clone(),
            token_env: match &entry.token {
                Some(TokenSource::Env(var)) => Some(var.clone()),
                _ => None,
            },
            token_file: match &entry.token {
                Some(TokenSource::File(path)) => Some(path.clone()),
                _ => None,
            },
            ca_file: entry.ca.clone(),
        };
        let journal = match local.as_ref() {
            Host::Local(h) => Some(h.journal().clone()),
            Host::Remote(_) => None,
        };
        let host = Arc::new(Host::Remote(RemoteHost { client, reach, journal }));
        remotes.by_name.insert(name.clone(), host.clone());
        hosts.push(host);
    }
    Ok((hosts, selection.seed))
}

/// A label selection that matched nothing: names the labels wanted and, for each, the values
/// the inventory has (a typo such as `az1` for `az-1` is then plain to see).
fn no_match(target: &TargetPlan, labels: &BTreeMap<String, String>, inventory: &Inventory) -> TargetError {
    let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let found: Vec<String> = labels
        .keys()
        .map(|key| {
            let mut values: Vec<&str> =
                inventory.hosts.iter().filter_map(|h| h.labels.get(key)).map(String::as_str).collect();
            values.sort_unstable();
            values.dedup();
            match values.as_slice() {
                [] => format!("no host has a `{key}` label"),
                _ => format!("`{key}` values in the inventory: {}", values.join(", ")),
            }
        })
        .collect();
    TargetError::NoMatch { target: target.name.clone(), wanted: wanted.join(", "), found: found.join("; ") }
}
