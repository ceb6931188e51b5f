//! An action's fault parameters, checked against the fault catalog, with each
//! problem mapped back to the parameter's position in the file.

use super::catalog::FaultCatalog;
use super::diag::{Sink, closest};
use super::params::{ParamProblem, ParamSpec, Params, RawParams, unknown_message};
use super::spec::{AnyValue, Named, Spanned};

/// Checks the `params` of one action of fault `fault`.
pub fn check(
    sink: &mut Sink<'_>,
    catalog: &dyn FaultCatalog,
    fault: &Spanned<String>,
    params: Option<&Spanned<Named<Spanned<AnyValue>>>>,
    specs: &[ParamSpec],
) -> Option<Params> {
    let raw: RawParams = params
        .map(|p| p.value.0.iter().map(|(k, v)| (k.value.clone(), v.value.0.clone())).collect())
        .unwrap_or_default();
    let whole = params.map_or(fault.span, |p| p.span);
    match Params::check(specs, &raw) {
        Ok(checked) => match catalog.check(&fault.value, &checked) {
            Ok(()) => Some(checked),
            Err(message) => {
                // A message about one parameter ("parameter `x`: ...") points at its value.
                let named = message.strip_prefix("parameter `").and_then(|rest| rest.split_once('`')).map(|(n, _)| n);
                let value = named.and_then(|name| params?.value.0.iter().find(|(k, _)| k.value == name));
                sink.error(value.map_or(whole, |(_, v)| v.span), format!("fault `{}`: {message}", fault.value));
                None
            }
        },
        Err(problems) => {
            report(sink, fault, params, specs, problems);
            None
        }
    }
}

/// Checks only the keys of a disabled action's `params` (its values may be left empty by a
/// template while the step is off). It never makes a plan: a disabled action has none.
pub fn check_keys<T>(
    sink: &mut Sink<'_>,
    fault: &Spanned<String>,
    params: Option<&Spanned<Named<Spanned<AnyValue>>>>,
    specs: &[ParamSpec],
) -> Option<T> {
    let unknown = params
        .into_iter()
        .flat_map(|p| p.value.0.iter())
        .filter(|(k, _)| !specs.iter().any(|s| s.name == k.value))
        .map(|(k, _)| ParamProblem { name: Some(k.value.clone()), message: unknown_message(&k.value, specs) })
        .collect();
    report(sink, fault, params, specs, unknown);
    None
}

/// Reports each problem at its parameter: an unknown one at its key, a bad value at the value.
fn report(
    sink: &mut Sink<'_>,
    fault: &Spanned<String>,
    params: Option<&Spanned<Named<Spanned<AnyValue>>>>,
    specs: &[ParamSpec],
    problems: Vec<ParamProblem>,
) {
    let whole = params.map_or(fault.span, |p| p.span);
    for problem in problems {
        let entry = problem
            .name
            .as_deref()
            .and_then(|name| params.and_then(|p| p.value.0.iter().find(|(k, _)| k.value == name)));
        let span = match entry {
            // An unknown parameter: point at its key; a bad value: at the value.
            Some((key, _)) if problem.message.starts_with("unknown") => key.span,
            Some((_, value)) => value.span,
            None => whole,
        };
        let message = match (&problem.name, entry) {
            (Some(name), Some(_)) if problem.message.starts_with("unknown") => {
                match closest(name, specs.iter().map(|s| s.name)) {
                    Some(near) => format!("unknown parameter `{name}`; did you mean `{near}`?"),
                    None => problem.message,
                }
            }
            _ => problem.message,
        };
        sink.error(span, format!("fault `{}`: {message}", fault.value));
    }
}
