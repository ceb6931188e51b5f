//! The `action_groups` checked into their plan: names, targets, `after` references, and each
//! action's fault, timing and parameters (a disabled action's values excepted).

use super::catalog::FaultCatalog;
use super::check::{LOCAL, check_target, parse_duration, positive, unique};
use super::diag::{Sink, closest};
use super::plan::{ActionPlan, GroupMode, GroupPlan};
use super::spec::{ActionGroupSpec, ActionSpec, Field, ModeWord, Spanned};

pub(super) fn groups(
    sink: &mut Sink<'_>,
    specs: &[ActionGroupSpec],
    targets: &[&str],
    catalog: &dyn FaultCatalog,
) -> Vec<GroupPlan> {
    let mut seen: Vec<&str> = Vec::new();
    let names: Vec<&str> = specs.iter().map(|g| g.name.as_ref().map_or("", |n| n.value.as_str())).collect();
    let mut out = Vec::new();
    for (i, g) in specs.iter().enumerate() {
        let name = g.name.as_ref().map_or_else(String::new, |n| unique(sink, n, &mut seen, "group"));
        if let Some(t) = &g.target {
            check_target(sink, t, targets);
        }
        let after = match &g.after {
            None => (i > 0).then(|| i - 1).into_iter().collect(),
            Some(after) => after.iter().filter_map(|a| group_ref(sink, a, &name, &names)).collect(),
        };
        let actions = match &g.actions {
            Some(actions) if actions.value.is_empty() => {
                sink.error(actions.span, format!("group `{name}` has no actions"));
                Vec::new()
            }
            Some(actions) => actions
                .value
                .iter()
                .enumerate()
                .filter_map(|(n, a)| {
                    // A disabled action is checked all the same (its fault, its keys, its
                    // duration), then left out; only its parameters' values are not: a template
                    // leaves the values of a step that is off empty.
                    let enabled = a.enabled.as_ref().is_none_or(|e| e.value);
                    let plan = action(sink, a, &name, n + 1, catalog, enabled)?;
                    enabled.then_some(plan)
                })
                .collect(),
            None => Vec::new(),
        };
        out.push(GroupPlan {
            name,
            target: g.target.as_ref().map_or_else(|| LOCAL.to_string(), |t| t.value.clone()),
            mode: match g.mode.as_ref().map(|m| m.value) {
                Some(ModeWord::Parallel) => GroupMode::Parallel,
                _ => GroupMode::Sequential,
            },
            after,
            actions,
        });
    }
    super::cycles::report(sink, specs, &out);
    out
}

fn group_ref(sink: &mut Sink<'_>, a: &Spanned<String>, me: &str, names: &[&str]) -> Option<usize> {
    if a.value == me {
        sink.error(a.span, format!("group `{me}` cannot run after itself"));
        return None;
    }
    let found = names.iter().position(|n| *n == a.value);
    if found.is_none() {
        let hint = closest(&a.value, names.iter().copied())
            .map_or_else(|| format!("; groups: {}", names.join(", ")), |n| format!("; did you mean `{n}`?"));
        sink.error(a.span, format!("undefined group `{}` in `after`{hint}", a.value));
    }
    found
}

fn action(
    sink: &mut Sink<'_>,
    a: &ActionSpec,
    group: &str,
    n: usize,
    catalog: &dyn FaultCatalog,
    enabled: bool,
) -> Option<ActionPlan> {
    let fault = a.fault.as_ref()?;
    let wait_before = a.wait_before.as_ref().and_then(|w| parse_duration(sink, w)).unwrap_or_default();
    let wait_after = a.wait_after.as_ref().and_then(|w| parse_duration(sink, w)).unwrap_or_default();
    let duration = positive(sink, a.duration.present());
    let Some(specs) = catalog.params_of(&fault.value) else {
        let names = catalog.names();
        let message = match closest(&fault.value, names.iter().copied()) {
            Some(near) => format!("unknown fault `{}`; did you mean `{near}`?", fault.value),
            None => format!("unknown fault `{}`", fault.value),
        };
        let help = if names.is_empty() {
            "this build knows no faults".to_string()
        } else {
            format!("known faults: {}", names.join(", "))
        };
        sink.error_help(fault.span, message, help);
        return None;
    };
    let held = catalog.is_held(&fault.value);
    match (&a.duration, held) {
        (Field::Invalid, _) => {}
        (Field::Absent, true) => sink.error(
            fault.span,
            format!("fault `{}` needs a `duration` (how long to hold it, such as `30s`)", fault.value),
        ),
        (Field::Present(d), false) => {
            sink.error(d.span, format!("fault `{}` is instantaneous; remove `duration`", fault.value))
        }
        _ => {}
    }
    let params = match &a.params {
        Field::Invalid => return None,
        given if enabled => super::fault_params::check(sink, catalog, fault, given.present(), specs)?,
        given => return super::fault_params::check_keys(sink, fault, given.present(), specs),
    };
    Some(ActionPlan {
        label: format!("{group}/{}#{n}", fault.value),
        fault: fault.value.clone(),
        params,
        duration: if held { duration } else { None },
        wait_before,
        wait_after,
    })
}
