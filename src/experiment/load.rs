//! Loading an experiment file into a checked plan (the loader's public entry points).
//!
//! YAML text → node tree ([`yaml`](super::yaml)) → merge keys expanded
//! ([`merge`](super::merge)) → template substitution
//! ([`template`](super::template)) → spec types ([`decode`](super::decode)) →
//! checked plan ([`check`](super::check)). Every stage reports into one sink,
//! so one call shows every problem in the file.

use std::path::Path;

use super::catalog::FaultCatalog;
use super::diag::Sink;
pub use super::diag::{Diagnostic, Diagnostics};
use super::plan::ExperimentPlan;
use super::spec::ExperimentSpec;
use super::{check, decode, host_checks, merge, template, yaml};

/// Loads and checks an experiment (or template, with `sets` as `--set k=v` values).
pub fn load_file(
    path: &Path,
    sets: &[(String, String)],
    catalog: &dyn FaultCatalog,
) -> Result<ExperimentPlan, Diagnostics> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostics::whole_file(&origin, format!("cannot read the file: {e}")))?;
    let mut plan = load_str(&origin, &text, sets, catalog)?;
    plan.source = Some(path.to_path_buf());
    Ok(plan)
}

/// Loads and checks experiment text; `origin` names it in diagnostics.
pub fn load_str(
    origin: &str,
    text: &str,
    sets: &[(String, String)],
    catalog: &dyn FaultCatalog,
) -> Result<ExperimentPlan, Diagnostics> {
    let mut sink = Sink::new(origin, text);
    let Some((spec, substituted)) = decode_str(&mut sink, text, sets) else {
        return Err(Diagnostics { items: sink.finish() });
    };
    let mut plan = check::plan(&mut sink, &spec, catalog, None);
    let targets: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    plan.host_constraints = host_checks::checked(&mut sink, origin, &substituted.host_checks, &targets);
    if sink.is_empty() { Ok(plan) } else { Err(Diagnostics { items: sink.finish() }) }
}

/// Loads and checks a built-in template (`faultdrill run --template NAME`).
pub fn load_template(
    name: &str,
    sets: &[(String, String)],
    catalog: &dyn FaultCatalog,
) -> Result<ExperimentPlan, Diagnostics> {
    let Some(t) = super::builtin::template(name) else {
        let names: Vec<&str> = super::builtin::templates().iter().map(|t| t.name).collect();
        let message = format!("no template named `{name}`; built-in templates: {}", names.join(", "));
        return Err(Diagnostics::whole_file("--template", message));
    };
    load_str(&t.origin(), t.source, sets, catalog)
}

/// Renders a template: `${name}` replaced by `sets` or defaults, `parameters:` dropped.
/// The result is checked like any experiment; problems point into `text`.
pub fn render_str(
    origin: &str,
    text: &str,
    sets: &[(String, String)],
    catalog: &dyn FaultCatalog,
) -> Result<String, Diagnostics> {
    let mut sink = Sink::new(origin, text);
    let Some((spec, substituted)) = decode_str(&mut sink, text, sets) else {
        return Err(Diagnostics { items: sink.finish() });
    };
    check::plan(&mut sink, &spec, catalog, None);
    if sink.is_empty() { Ok(template::render(text, &substituted)) } else { Err(Diagnostics { items: sink.finish() }) }
}

/// Parses, substitutes and decodes; `None` when the YAML itself is broken.
fn decode_str(
    sink: &mut Sink<'_>,
    text: &str,
    sets: &[(String, String)],
) -> Option<(ExperimentSpec, template::Substituted)> {
    let mut root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let line = text.lines().nth(e.span.start.line.saturating_sub(1)).unwrap_or_default();
            if line.contains("${") {
                sink.error_help(e.span, e.message, "inside `{…}` or `[…]`, quote it: \"${name}\"");
            } else {
                sink.error(e.span, e.message);
            }
            return None;
        }
    };
    merge::expand(sink, &mut root);
    let parameters = match &root.value {
        yaml::Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar() == Some("parameters"))
            .and_then(|(_, v)| decode::parameters(sink, v)),
        _ => None,
    };
    let substituted = template::substitute(sink, &mut root, text, parameters.as_ref(), sets);
    let mut spec = decode::experiment(sink, &root);
    spec.parameters = parameters;
    Some((spec, substituted))
}

/// Splits `--set k=v` arguments; the error names the bad one.
pub fn parse_sets(args: &[String]) -> Result<Vec<(String, String)>, String> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--set `{a}`: expected NAME=VALUE")),
        })
        .collect()
}
