//! Resolving an experiment's targets into hosts, once, at run start.
//!
//! Today only `local` resolves without an inventory. This is the extension point for
//! inventories (hosts by name, `select: {labels}`, `pick`, `max`, `on_empty`): extend
//! [`TargetEnv`] with the inventory and [`resolve_target`] with the selection; the
//! engine only ever sees the resulting [`ResolvedTargets`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::experiment::{ExperimentPlan, OnEmpty, TargetPlan, TargetSelector};
use crate::report::ResolvedTarget;

use super::host::Host;
use super::local_host::LocalHost;

/// What targets can resolve to: the local host, and (later) an inventory of daemons.
pub struct TargetEnv {
    pub local: LocalHost,
}

/// Every target of a plan, resolved to hosts.
#[derive(Clone)]
pub struct ResolvedTargets {
    /// Target name → its hosts, in resolution order.
    by_name: BTreeMap<String, Vec<Arc<Host>>>,
    /// Each distinct host once, for metrics probes without a target.
    local: Arc<Host>,
    records: Vec<ResolvedTarget>,
}

impl ResolvedTargets {
    /// The hosts of target `name` (empty when it resolved to nothing with `on_empty: skip`).
    pub fn hosts(&self, name: &str) -> &[Arc<Host>] {
        self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The local host (host-metric probes that name no target read it).
    pub fn local(&self) -> &Arc<Host> {
        &self.local
    }

    /// What the report records.
    pub fn records(&self) -> &[ResolvedTarget] {
        &self.records
    }
}

/// Why the targets could not be resolved. Reads after "failed to ". Always invalid input (exit 64).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "resolve target {target}: host {host} is not `local` and no inventory was given; pass --inventory FILE naming it"
    )]
    NoInventory { target: String, host: String },
    #[error("resolve target {target}: label selection needs an inventory; pass --inventory FILE")]
    LabelsNeedInventory { target: String },
    #[error("resolve target {target}: it matched no host and says `on_empty: fail`")]
    Empty { target: String },
    #[error("resolve target {target}: it matched {count} hosts, more than its `max: {max}`")]
    OverMax { target: String, count: usize, max: u32 },
}

/// Resolves every target of `plan` (DESIGN §3 `targets`).
pub fn resolve_targets(plan: &ExperimentPlan, env: &TargetEnv) -> Result<ResolvedTargets, TargetError> {
    let local = Arc::new(Host::Local(env.local.clone()));
    let mut by_name = BTreeMap::new();
    let mut records = Vec::new();
    for target in &plan.targets {
        let hosts = resolve_target(target, env, &local)?;
        records.push(ResolvedTarget {
            name: target.name.clone(),
            hosts: hosts.iter().map(|h| h.name().to_string()).collect(),
            seed: None,
        });
        by_name.insert(target.name.clone(), hosts);
    }
    Ok(ResolvedTargets { by_name, local, records })
}

fn resolve_target(target: &TargetPlan, env: &TargetEnv, local: &Arc<Host>) -> Result<Vec<Arc<Host>>, TargetError> {
    let _ = env;
    let mut hosts = Vec::new();
    match &target.selector {
        TargetSelector::Hosts(names) => {
            for name in names {
                if name != "local" {
                    return Err(TargetError::NoInventory { target: target.name.clone(), host: name.clone() });
                }
                if !hosts.iter().any(|h: &Arc<Host>| h.name() == local.name()) {
                    hosts.push(local.clone());
                }
            }
        }
        TargetSelector::Labels(_) => return Err(TargetError::LabelsNeedInventory { target: target.name.clone() }),
    }
    if hosts.is_empty() && target.on_empty == OnEmpty::Fail {
        return Err(TargetError::Empty { target: target.name.clone() });
    }
    if let Some(max) = target.max {
        if hosts.len() > max as usize {
            return Err(TargetError::OverMax { target: target.name.clone(), count: hosts.len(), max });
        }
    }
    Ok(hosts)
}
