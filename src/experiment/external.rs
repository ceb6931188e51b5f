//! Guardrails with `external: true`: no source and no `breach`, tripped only from outside
//! (an Alertmanager webhook, `faultdrill trip`, the daemon's trip endpoint).

use super::diag::Sink;
use super::plan::{ExternalGuardrailPlan, GuardrailAction};
use super::spec::{GuardrailActionWord, GuardrailSpec};
use super::yaml::Span;

/// A rule with `external: true`: a name and an action, nothing that samples or judges.
pub(super) fn external_rule(
    sink: &mut Sink<'_>,
    g: &GuardrailSpec,
    name: String,
    at: Span,
) -> Option<ExternalGuardrailPlan> {
    let mut ok = true;
    let sources = [
        ("metric", g.metric.is_some()),
        ("http", g.http.is_some()),
        ("prometheus", g.prometheus.is_some()),
        ("tcp", g.tcp.is_some()),
        ("command", g.command.is_some()),
        ("probe", g.probe.is_some()),
    ];
    for (key, _) in sources.iter().filter(|(_, given)| *given) {
        ok = false;
        sink.error(
            at,
            format!(
                "guardrail `{name}` is `external: true` and also has `{key}`: an external guardrail has no \
                 source, it is tripped only from outside (an Alertmanager webhook, `faultdrill trip`); \
                 remove `{key}`, or remove `external: true`"
            ),
        );
    }
    let unjudged = [
        ("breach", g.breach.as_ref().map(|b| b.span)),
        ("for", g.r#for.as_ref().map(|f| f.span)),
        ("on_unmeasured", g.on_unmeasured.as_ref().map(|o| o.span)),
    ];
    for (key, span) in unjudged.into_iter().filter_map(|(k, s)| Some((k, s?))) {
        ok = false;
        sink.error(
            span,
            format!(
                "guardrail `{name}` is `external: true`, which takes no `{key}`: nothing samples it, an \
                 alert or `faultdrill trip` trips it; remove `{key}`"
            ),
        );
    }
    let action = match g.action.as_ref().map(|a| a.value) {
        Some(GuardrailActionWord::Warn) => GuardrailAction::Warn,
        _ => GuardrailAction::Rollback,
    };
    ok.then_some(ExternalGuardrailPlan { name, action })
}
