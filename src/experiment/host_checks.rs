//! Parameter constraints checked against the inventory: `covers_hosts_of: TARGET` (the
//! parameter's addresses or CIDRs must hold the address of every host of TARGET) and
//! `excludes_hosts_of: TARGET` (they must hold none). The loader checks that the target
//! exists; the run checks the addresses once it has resolved its targets.

use serde::{Deserialize, Serialize};

use super::diag::{Sink, closest};
use super::spec::{ParameterSpec, Spanned};

/// A constraint as the template declares it, with the parameter's value.
#[derive(Clone, Debug)]
pub struct WrittenCheck {
    parameter: Spanned<String>,
    target: Spanned<String>,
    covers: bool,
    values: Vec<String>,
}

/// The constraints parameter `key` declares, with its value `values`.
pub(super) fn written(key: &Spanned<String>, spec: &ParameterSpec, values: &[String]) -> Vec<WrittenCheck> {
    let make = |target: &Spanned<String>, covers| WrittenCheck {
        parameter: key.clone(),
        target: target.clone(),
        covers,
        values: values.to_vec(),
    };
    let covers = spec.covers_hosts_of.iter().map(|t| make(t, true));
    covers.chain(spec.excludes_hosts_of.iter().map(|t| make(t, false))).collect()
}

/// One constraint, ready for the run to check against its resolved targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostConstraint {
    /// The parameter, and where it is declared (`file:line:col`).
    pub parameter: String,
    pub declared_at: String,
    pub target: String,
    /// `true`: every host's address must be inside `values`; `false`: none may be.
    pub covers: bool,
    /// The parameter's addresses or CIDRs.
    pub values: Vec<String>,
}

/// Checks that each constraint's target exists, and makes it a [`HostConstraint`].
pub(super) fn checked(
    sink: &mut Sink<'_>,
    origin: &str,
    written: &[WrittenCheck],
    targets: &[&str],
) -> Vec<HostConstraint> {
    let mut out = Vec::new();
    for w in written {
        let key = if w.covers { "covers_hosts_of" } else { "excludes_hosts_of" };
        if !targets.contains(&w.target.value.as_str()) {
            let hint = closest(&w.target.value, targets.iter().copied())
                .map_or_else(|| format!("; targets: {}", targets.join(", ")), |n| format!("; did you mean `{n}`?"));
            sink.error(w.target.span, format!("`{key}`: no target `{}` is defined{hint}", w.target.value));
            continue;
        }
        let at = w.parameter.span.start;
        out.push(HostConstraint {
            parameter: w.parameter.value.clone(),
            declared_at: format!("{origin}:{}:{}", at.line, at.col + 1),
            target: w.target.value.clone(),
            covers: w.covers,
            values: w.values.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::load::load_str;
    use super::super::test_catalog::TestCatalog;

    const TEXT: &str = "version: 1
name: t
parameters:
  cidrs: {type: list, default: [10.0.2.0/24], covers_hosts_of: b, excludes_hosts_of: a}
targets:
  a: {hosts: [local]}
  b: {hosts: [local]}
action_groups:
  - name: g
    target: a
    actions: [{fault: process-kill, params: {name: \"x${cidrs}\"}}]
";

    #[test]
    fn constraints_carry_the_value_and_where_the_parameter_is() {
        let plan = load_str("t.yaml", TEXT, &[("cidrs".into(), "10.0.9.0/24,10.0.8.1".into())], &TestCatalog)
            .unwrap_or_else(|d| panic!("{d}"));
        let found: Vec<(String, bool, String, Vec<String>)> = plan
            .host_constraints
            .iter()
            .map(|c| (c.target.clone(), c.covers, c.declared_at.clone(), c.values.clone()))
            .collect();
        let values = vec!["10.0.9.0/24".to_string(), "10.0.8.1".to_string()];
        assert_eq!(
            found,
            [("b".into(), true, "t.yaml:4:3".into(), values.clone()), ("a".into(), false, "t.yaml:4:3".into(), values)]
        );
    }

    #[test]
    fn a_constraint_on_an_undefined_target_is_pointed_at() {
        let err = load_str("t.yaml", &TEXT.replace("covers_hosts_of: b", "covers_hosts_of: zz"), &[], &TestCatalog)
            .unwrap_err();
        let messages: Vec<String> = err.items.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
        assert_eq!(messages, ["4:64 `covers_hosts_of`: no target `zz` is defined; targets: a, b, local"]);
    }
}
