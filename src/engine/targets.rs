//! Resolving an experiment's targets into hosts, once, at run start.
//!
//! Today only `local` resolves without an inventory. This is the extension point for
//! inventories (hosts by name, `select: {labels}`, `pick`, `max`, `on_empty`): extend
//! [`TargetEnv`] with the inventory and [`resolve_target`] with the selection; the
//! engine only ever sees the resulting [`ResolvedTargets`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::experiment::{ExperimentPlan, OnEmpty, ProbeSource, TargetPlan, TargetSelector};
use crate::report::ResolvedTarget;

use super::host::Host;
use super::local_host::LocalHost;

/// What targets can resolve to: the local host, and (later) an inventory of daemons.
pub struct TargetEnv {
    pub local: LocalHost,
    /// Hosts reachable through their daemons (`--inventory`).
    pub inventory: Option<crate::client::Inventory>,
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
    #[error("resolve target {target}: it is not declared under `targets:`")]
    Undeclared { target: String },
    #[error("resolve target {target}: it matched no host and says `on_empty: fail`")]
    Empty { target: String },
    #[error("resolve target {target}: no host has {wanted} ({found}); check the selection and the inventory")]
    NoMatch { target: String, wanted: String, found: String },
    #[error("resolve target {target}: it matched {count} hosts, more than its `max: {max}`")]
    OverMax { target: String, count: usize, max: u32 },
    #[error(transparent)]
    Inventory(#[from] crate::client::SelectError),
    #[error("resolve target {target}: {message}")]
    Connect { target: String, message: String },
    #[error("check parameter `{parameter}` ({declared_at}) against the inventory: it {message}")]
    HostConstraint { parameter: String, declared_at: String, message: String },
}

/// Resolves every target of `plan` (DESIGN §3 `targets`).
pub fn resolve_targets(plan: &ExperimentPlan, env: &TargetEnv) -> Result<ResolvedTargets, TargetError> {
    let local = Arc::new(Host::Local(env.local.clone()));
    let mut by_name = BTreeMap::new();
    let mut records = Vec::new();
    let mut remotes = super::inventory_targets::RemoteHosts::default();
    for target in &plan.targets {
        let (hosts, seed) = match &env.inventory {
            Some(inventory) => super::inventory_targets::resolve(target, inventory, &local, &mut remotes)?,
            None => (resolve_target(target, env, &local)?, None),
        };
        records.push(ResolvedTarget {
            name: target.name.clone(),
            hosts: hosts.iter().map(|h| h.name().to_string()).collect(),
            seed,
        });
        by_name.insert(target.name.clone(), hosts);
    }
    // `local` is implicit; any other name must be declared (the loader checks this too).
    for name in referenced_targets(plan) {
        if by_name.contains_key(name) {
            continue;
        }
        if name != "local" {
            return Err(TargetError::Undeclared { target: name.to_string() });
        }
        records.push(ResolvedTarget { name: name.to_string(), hosts: vec![local.name().to_string()], seed: None });
        by_name.insert(name.to_string(), vec![local.clone()]);
    }
    super::host_constraints::check(&plan.host_constraints, &by_name)?;
    Ok(ResolvedTargets { by_name, local, records })
}

/// Every target name the plan's groups, probes and guardrails refer to.
fn referenced_targets(plan: &ExperimentPlan) -> Vec<&str> {
    let probes = plan.steady_state.iter().flat_map(|s| s.probes.iter().map(|p| &p.source));
    let rules = plan.guardrails.rules.iter().map(|r| &r.source);
    let metric_targets = probes.chain(rules).filter_map(|source| match source {
        ProbeSource::Metric { target, .. } => target.as_deref(),
        _ => None,
    });
    plan.groups.iter().map(|g| g.target.as_str()).chain(metric_targets).collect()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::experiment::{GroupMode, GroupPlan, GuardrailsPlan, Pick, RollbackPolicy};
    use crate::journal::Journal;

    fn plan(targets: Vec<(&str, TargetSelector)>, group_target: &str) -> ExperimentPlan {
        ExperimentPlan {
            name: "t".into(),
            description: None,
            labels: BTreeMap::new(),
            source: None,
            targets: targets
                .into_iter()
                .map(|(name, selector)| TargetPlan {
                    name: name.into(),
                    selector,
                    pick: Pick::All,
                    max: None,
                    on_empty: OnEmpty::Fail,
                    seed: None,
                })
                .collect(),
            steady_state: None,
            guardrails: GuardrailsPlan { interval: Duration::from_secs(1), rules: vec![], external: vec![] },
            groups: vec![GroupPlan {
                name: "g".into(),
                target: group_target.into(),
                mode: GroupMode::Sequential,
                after: vec![],
                actions: vec![],
            }],
            rollback: RollbackPolicy::Always,
            lease: Duration::from_secs(15),
            expect_outcome: None,
            host_constraints: Vec::new(),
            recovery: None,
        }
    }

    #[test]
    fn resolves_local_and_refuses_what_needs_an_inventory() {
        let state = tempfile::tempdir().unwrap();
        let env = TargetEnv { local: LocalHost::new(Arc::new(Journal::open(state.path()).unwrap())), inventory: None };
        let hosts = |names: &[&str]| TargetSelector::Hosts(names.iter().map(|s| s.to_string()).collect());

        let resolved = resolve_targets(&plan(vec![("db", hosts(&["local", "local"]))], "db"), &env).unwrap();
        assert_eq!(
            resolved.records(),
            &[ResolvedTarget { name: "db".into(), hosts: vec!["local".into()], seed: None }]
        );
        assert_eq!(resolved.hosts("db").len(), 1);

        let implicit = resolve_targets(&plan(vec![], "local"), &env).unwrap();
        assert_eq!(implicit.hosts("local")[0].name(), "local");

        let cases: Vec<(ExperimentPlan, &str)> = vec![
            (plan(vec![("web", hosts(&["web-1"]))], "web"), "host web-1 is not `local` and no inventory was given"),
            (plan(vec![("az", TargetSelector::Labels(BTreeMap::new()))], "az"), "label selection needs an inventory"),
            (plan(vec![("none", hosts(&[]))], "none"), "matched no host"),
            (plan(vec![], "elsewhere"), "not declared under `targets:`"),
        ];
        for (plan, expected) in cases {
            let error = resolve_targets(&plan, &env).err().expect("refused").to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
