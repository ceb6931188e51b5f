//! The node tree into spec types, every problem collected in one pass.
//!
//! Serde stops at the first error; this decoder does not. Each mapping is read
//! through [`Fields`], which reports unknown keys (with the closest known one),
//! duplicates and missing required keys; each value is decoded by kind and a
//! wrong kind is reported where it is written. A value that cannot be decoded
//! becomes `None` and decoding goes on.

use super::diag::{Sink, closest};
use super::spec::*;
use super::yaml::{Node, Span, Value, has_invalid, to_json};

/// Known keys of each spec object, by schema name (the schema test checks they agree).
pub const KEYS: &[(&str, &[&str])] = &[
    ("ExperimentSpec", EXPERIMENT_KEYS),
    ("ParameterSpec", PARAMETER_KEYS),
    ("TargetSpec", TARGET_KEYS),
    ("SelectSpec", &["labels"]),
    ("SteadyStateSpec", &["interval", "check", "probes"]),
    ("RecoverySpec", &["target", "within", "interval", "probes"]),
    ("ProbeSpec", PROBE_KEYS),
    ("MetricSpec", &["host", "path", "name", "target"]),
    ("HttpSpec", &["url", "method", "timeout", "headers"]),
    ("PrometheusSpec", &["url", "query", "timeout", "bearer_token_env"]),
    ("TcpSpec", &["address", "timeout"]),
    ("CommandSpec", &["run", "timeout"]),
    ("ExpectSpec", EXPECT_KEYS),
    ("JsonPathSpec", &["path", "equals", "compare"]),
    ("GuardrailsSpec", &["interval", "rules"]),
    ("GuardrailSpec", GUARDRAIL_KEYS),
    ("ProbeRateSpec", &["name", "window"]),
    ("ActionGroupSpec", &["name", "target", "mode", "after", "actions"]),
    ("ActionSpec", &["fault", "params", "duration", "wait_before", "wait_after", "enabled"]),
];

const EXPERIMENT_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "labels",
    "parameters",
    "targets",
    "steady_state",
    "guardrails",
    "recovery",
    "action_groups",
    "rollback",
    "lease",
    "expect_outcome",
];
const PARAMETER_KEYS: &[&str] = &[
    "type",
    "default",
    "required",
    "description",
    "values",
    "differs_from",
    "required_when",
    "covers_hosts_of",
    "excludes_hosts_of",
];
const TARGET_KEYS: &[&str] = &["hosts", "select", "pick", "max", "on_empty", "seed"];
const PROBE_KEYS: &[&str] =
    &["name", "metric", "http", "prometheus", "tcp", "command", "expect", "interval", "tolerate", "error_rate"];
const EXPECT_KEYS: &[&str] = &["value", "latency", "status", "exit", "regex", "jsonpath"];
const GUARDRAIL_KEYS: &[&str] = &[
    "name",
    "metric",
    "http",
    "prometheus",
    "tcp",
    "command",
    "probe",
    "external",
    "breach",
    "for",
    "action",
    "on_unmeasured",
];

fn keys_of(name: &str) -> &'static [&'static str] {
    KEYS.iter().find(|(n, _)| *n == name).map_or(&[], |(_, k)| k)
}

/// Decodes the whole document.
pub fn experiment(sink: &mut Sink<'_>, root: &Node) -> ExperimentSpec {
    let Some(f) = Fields::read(sink, root, "experiment", EXPERIMENT_KEYS) else {
        return ExperimentSpec::default();
    };
    ExperimentSpec {
        version: f.required(sink, "version").and_then(|n| integer(sink, n, "version")),
        name: f.required(sink, "name").and_then(|n| string(sink, n, "name")),
        description: f.get("description").and_then(|n| string(sink, n, "description")),
        labels: f.get("labels").and_then(|n| named(sink, n, "labels", scalar_text)),
        // Taken out of the tree and decoded first, by `parameters`, for substitution.
        parameters: None,
        targets: f.get("targets").and_then(|n| named(sink, n, "targets", target)),
        steady_state: f.get("steady_state").and_then(|n| steady_state(sink, n)),
        guardrails: f.get("guardrails").and_then(|n| guardrails(sink, n)),
        recovery: f.get("recovery").and_then(|n| recovery(sink, n)),
        action_groups: f.required(sink, "action_groups").and_then(|n| spanned_list(sink, n, "action_groups", group)),
        rollback: f.get("rollback").and_then(|n| word(sink, n, "rollback")),
        lease: f.get("lease").and_then(|n| duration(sink, n, "lease")),
        expect_outcome: f.get("expect_outcome").and_then(|n| word(sink, n, "expect_outcome")),
    }
}

/// Decodes a `parameters:` mapping (before substitution, which needs it).
pub fn parameters(sink: &mut Sink<'_>, node: &Node) -> Option<Named<ParameterSpec>> {
    named(sink, node, "parameters", parameter)
}

fn parameter(sink: &mut Sink<'_>, node: &Node, name: &str) -> Option<ParameterSpec> {
    let f = Fields::read(sink, node, &format!("parameter `{name}`"), PARAMETER_KEYS)?;
    Some(ParameterSpec {
        r#type: f.required(sink, "type").and_then(|n| word(sink, n, "type")),
        default: f.get("default").map(|n| Spanned { value: AnyValue(to_json(n)), span: n.span }),
        required: f.get("required").and_then(|n| boolean(sink, n, "required")),
        description: f.get("description").and_then(|n| string(sink, n, "description")),
        values: f.get("values").and_then(|n| list(sink, n, "values", string)),
        differs_from: f.get("differs_from").and_then(|n| string(sink, n, "differs_from")),
        required_when: f.get("required_when").and_then(|n| string(sink, n, "required_when")),
        covers_hosts_of: f.get("covers_hosts_of").and_then(|n| string(sink, n, "covers_hosts_of")),
        excludes_hosts_of: f.get("excludes_hosts_of").and_then(|n| string(sink, n, "excludes_hosts_of")),
    })
}

fn target(sink: &mut Sink<'_>, node: &Node, name: &str) -> Option<TargetSpec> {
    let f = Fields::read(sink, node, &format!("target `{name}`"), TARGET_KEYS)?;
    Some(TargetSpec {
        hosts: f.get("hosts").and_then(|n| spanned_list(sink, n, "hosts", string)),
        select: f.get("select").and_then(|n| {
            let f = Fields::read(sink, n, "select", keys_of("SelectSpec"))?;
            let labels = f.required(sink, "labels").and_then(|n| {
                let value = named(sink, n, "labels", scalar_text)?;
                Some(Spanned { value, span: n.span })
            });
            Some(SelectSpec { labels })
        }),
        pick: f.get("pick").and_then(|n| pick(sink, n)),
        max: f.get("max").and_then(|n| integer(sink, n, "max")),
        on_empty: f.get("on_empty").and_then(|n| word(sink, n, "on_empty")),
        seed: f.get("seed").and_then(|n| integer(sink, n, "seed")),
        span: node.span,
    })
}

fn pick(sink: &mut Sink<'_>, node: &Node) -> Option<Spanned<PickSpec>> {
    let value = match &node.value {
        Value::Invalid => return None,
        Value::Scalar { text, .. } if text == "all" => PickSpec::All,
        Value::Map(entries) if entries.len() == 1 => {
            let (key, value) = &entries[0];
            match key.scalar() {
                Some("count") => PickSpec::Count(integer(sink, value, "count")?),
                Some("percent") => PickSpec::Percent(number(sink, value, "percent")?),
                Some(other) => {
                    sink.error(key.span, unknown_key_message(other, "pick", &["count", "percent"]));
                    return None;
                }
                None => {
                    sink.error(key.span, "expected `count` or `percent`");
                    return None;
                }
            }
        }
        _ => {
            sink.error(
                node.span,
                format!("expected `all`, `{{count: N}}` or `{{percent: P}}` for `pick`, found {}", node.describe()),
            );
            return None;
        }
    };
    Some(Spanned { value, span: node.span })
}

fn steady_state(sink: &mut Sink<'_>, node: &Node) -> Option<SteadyStateSpec> {
    let f = Fields::read(sink, node, "steady_state", keys_of("SteadyStateSpec"))?;
    Some(SteadyStateSpec {
        interval: f.get("interval").and_then(|n| duration(sink, n, "interval")),
        check: f.get("check").and_then(|n| spanned_list(sink, n, "check", word)),
        probes: f.required(sink, "probes").and_then(|n| list(sink, n, "probes", probe)),
    })
}

fn recovery(sink: &mut Sink<'_>, node: &Node) -> Option<RecoverySpec> {
    let f = Fields::read(sink, node, "recovery", keys_of("RecoverySpec"))?;
    Some(RecoverySpec {
        target: f.required(sink, "target").and_then(|n| string(sink, n, "target")),
        within: f.required(sink, "within").and_then(|n| duration(sink, n, "within")),
        interval: f.get("interval").and_then(|n| duration(sink, n, "interval")),
        probes: f.required(sink, "probes").and_then(|n| list(sink, n, "probes", probe)),
    })
}

fn probe(sink: &mut Sink<'_>, node: &Node, _: &str) -> Option<ProbeSpec> {
    let f = Fields::read(sink, node, "probe", PROBE_KEYS)?;
    Some(ProbeSpec {
        name: f.required(sink, "name").and_then(|n| string(sink, n, "name")),
        metric: f.get("metric").and_then(|n| metric(sink, n)),
        http: f.get("http").and_then(|n| http(sink, n)),
        prometheus: f.get("prometheus").and_then(|n| prometheus(sink, n)),
        tcp: f.get("tcp").and_then(|n| tcp(sink, n)),
        command: f.get("command").and_then(|n| command(sink, n)),
        expect: f.required(sink, "expect").and_then(|n| expect(sink, n)),
        interval: f.get("interval").and_then(|n| duration(sink, n, "interval")),
        tolerate: f.get("tolerate").and_then(|n| integer(sink, n, "tolerate")),
        error_rate: f.get("error_rate").and_then(|n| comparison(sink, n, "error_rate")),
        span: node.span,
    })
}

fn metric(sink: &mut Sink<'_>, node: &Node) -> Option<MetricSpec> {
    let f = Fields::read(sink, node, "metric", keys_of("MetricSpec"))?;
    Some(MetricSpec {
        host: f.required(sink, "host").and_then(|n| word(sink, n, "host")),
        path: field(f.get("path"), |n| string(sink, n, "path")),
        name: field(f.get("name"), |n| string(sink, n, "name")),
        target: f.get("target").and_then(|n| string(sink, n, "target")),
    })
}

fn http(sink: &mut Sink<'_>, node: &Node) -> Option<HttpSpec> {
    let f = Fields::read(sink, node, "http", keys_of("HttpSpec"))?;
    Some(HttpSpec {
        url: f.required(sink, "url").and_then(|n| string(sink, n, "url")),
        method: f.get("method").and_then(|n| string(sink, n, "method")),
        timeout: f.get("timeout").and_then(|n| duration(sink, n, "timeout")),
        headers: f.get("headers").and_then(|n| named(sink, n, "headers", scalar_text)),
    })
}

fn prometheus(sink: &mut Sink<'_>, node: &Node) -> Option<PrometheusSpec> {
    let f = Fields::read(sink, node, "prometheus", keys_of("PrometheusSpec"))?;
    Some(PrometheusSpec {
        url: f.required(sink, "url").and_then(|n| string(sink, n, "url")),
        query: f.required(sink, "query").and_then(|n| string(sink, n, "query")),
        timeout: f.get("timeout").and_then(|n| duration(sink, n, "timeout")),
        bearer_token_env: f.get("bearer_token_env").and_then(|n| string(sink, n, "bearer_token_env")),
    })
}

fn tcp(sink: &mut Sink<'_>, node: &Node) -> Option<TcpSpec> {
    let f = Fields::read(sink, node, "tcp", keys_of("TcpSpec"))?;
    Some(TcpSpec {
        address: f.required(sink, "address").and_then(|n| string(sink, n, "address")),
        timeout: f.get("timeout").and_then(|n| duration(sink, n, "timeout")),
    })
}

fn probe_rate(sink: &mut Sink<'_>, node: &Node) -> Option<ProbeRateSpec> {
    let f = Fields::read(sink, node, "probe", keys_of("ProbeRateSpec"))?;
    Some(ProbeRateSpec {
        name: f.required(sink, "name").and_then(|n| string(sink, n, "name")),
        window: f.get("window").and_then(|n| duration(sink, n, "window")),
    })
}

fn command(sink: &mut Sink<'_>, node: &Node) -> Option<CommandSpec> {
    let f = Fields::read(sink, node, "command", keys_of("CommandSpec"))?;
    Some(CommandSpec {
        run: f.required(sink, "run").and_then(|n| spanned_list(sink, n, "run", scalar_text)),
        timeout: f.get("timeout").and_then(|n| duration(sink, n, "timeout")),
    })
}

fn expect(sink: &mut Sink<'_>, node: &Node) -> Option<ExpectSpec> {
    let f = Fields::read(sink, node, "expect", EXPECT_KEYS)?;
    Some(ExpectSpec {
        value: f.get("value").and_then(|n| comparison(sink, n, "value")),
        latency: f.get("latency").and_then(|n| comparison(sink, n, "latency")),
        status: f.get("status").and_then(|n| integer(sink, n, "status")),
        exit: f.get("exit").and_then(|n| integer(sink, n, "exit")),
        regex: f.get("regex").and_then(|n| string(sink, n, "regex")),
        jsonpath: f.get("jsonpath").and_then(|n| {
            let f = Fields::read(sink, n, "jsonpath", keys_of("JsonPathSpec"))?;
            Some(JsonPathSpec {
                path: f.required(sink, "path").and_then(|n| string(sink, n, "path")),
                equals: f.get("equals").map(|n| Spanned { value: AnyValue(to_json(n)), span: n.span }),
                compare: f.get("compare").and_then(|n| comparison(sink, n, "compare")),
            })
        }),
        span: node.span,
    })
}

fn guardrails(sink: &mut Sink<'_>, node: &Node) -> Option<GuardrailsSpec> {
    let f = Fields::read(sink, node, "guardrails", keys_of("GuardrailsSpec"))?;
    Some(GuardrailsSpec {
        interval: f.get("interval").and_then(|n| duration(sink, n, "interval")),
        rules: f.required(sink, "rules").and_then(|n| list(sink, n, "rules", guardrail)),
    })
}

fn guardrail(sink: &mut Sink<'_>, node: &Node, _: &str) -> Option<GuardrailSpec> {
    let f = Fields::read(sink, node, "guardrail", GUARDRAIL_KEYS)?;
    let external = f.get("external").and_then(|n| boolean(sink, n, "external"));
    // An external guardrail has no `breach`; check.rs reports one given.
    let is_external = external.as_ref().is_some_and(|e| e.value);
    Some(GuardrailSpec {
        name: f.required(sink, "name").and_then(|n| string(sink, n, "name")),
        metric: f.get("metric").and_then(|n| metric(sink, n)),
        http: f.get("http").and_then(|n| http(sink, n)),
        prometheus: f.get("prometheus").and_then(|n| prometheus(sink, n)),
        tcp: f.get("tcp").and_then(|n| tcp(sink, n)),
        command: f.get("command").and_then(|n| command(sink, n)),
        probe: f.get("probe").and_then(|n| probe_rate(sink, n)),
        external,
        breach: if is_external { f.get("breach") } else { f.required(sink, "breach") }
            .and_then(|n| comparison(sink, n, "breach")),
        r#for: f.get("for").and_then(|n| integer(sink, n, "for")),
        action: f.get("action").and_then(|n| word(sink, n, "action")),
        on_unmeasured: f.get("on_unmeasured").and_then(|n| word(sink, n, "on_unmeasured")),
        span: node.span,
    })
}

fn group(sink: &mut Sink<'_>, node: &Node, _: &str) -> Option<ActionGroupSpec> {
    let f = Fields::read(sink, node, "action group", keys_of("ActionGroupSpec"))?;
    Some(ActionGroupSpec {
        name: f.required(sink, "name").and_then(|n| string(sink, n, "name")),
        target: f.get("target").and_then(|n| string(sink, n, "target")),
        mode: f.get("mode").and_then(|n| word(sink, n, "mode")),
        after: f.get("after").and_then(|n| list(sink, n, "after", string)),
        actions: f.required(sink, "actions").and_then(|n| spanned_list(sink, n, "actions", action)),
    })
}

fn action(sink: &mut Sink<'_>, node: &Node, _: &str) -> Option<ActionSpec> {
    let f = Fields::read(sink, node, "action", keys_of("ActionSpec"))?;
    Some(ActionSpec {
        fault: f.required(sink, "fault").and_then(|n| string(sink, n, "fault")),
        params: field(f.get("params"), |n| {
            let value =
                named(sink, n, "params", |_, v, _| Some(Spanned { value: AnyValue(to_json(v)), span: v.span }))?;
            // Problems with the set as a whole point at the `params` key.
            Some(Spanned { value, span: f.key_span("params").unwrap_or(n.span) })
        }),
        duration: match field(f.get("duration"), |n| duration(sink, n, "duration")) {
            Field::Absent if f.has_unknown => Field::Invalid,
            d => d,
        },
        wait_before: f.get("wait_before").and_then(|n| duration(sink, n, "wait_before")),
        wait_after: f.get("wait_after").and_then(|n| duration(sink, n, "wait_after")),
        enabled: f.get("enabled").and_then(|n| boolean(sink, n, "enabled")),
        span: node.span,
    })
}

/// A field from its node: absent, written wrongly (`decode` or the template
/// substitution reported it), or present.
fn field<T>(node: Option<&Node>, decode: impl FnOnce(&Node) -> Option<T>) -> Field<T> {
    match node {
        None => Field::Absent,
        Some(n) => match decode(n) {
            Some(value) if !has_invalid(n) => Field::Present(value),
            _ => Field::Invalid,
        },
    }
}

/// The entries of one mapping, checked against the keys it may have.
pub struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
    /// Whether an unknown key was reported (perhaps a misspelled known one).
    pub has_unknown: bool,
    span: Span,
    what: String,
}

impl<'n> Fields<'n> {
    /// Reads a mapping, reporting a non-mapping, unknown keys and duplicates.
    pub fn read(sink: &mut Sink<'_>, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let entries = map_entries(sink, node, what)?;
        let mut kept: Vec<(&str, &Node, &Node)> = Vec::new();
        let mut has_unknown = false;
        for (key, name, value) in entries {
            if !known.contains(&name) {
                has_unknown = true;
                sink.error(key.span, unknown_key_message(name, what, known));
            } else if kept.iter().any(|(k, _, _)| *k == name) {
                sink.error(key.span, format!("duplicate key `{name}` in {what}"));
            } else {
                kept.push((name, key, value));
            }
        }
        Some(Fields { entries: kept, has_unknown, span: node.span, what: what.to_string() })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, _, v)| *v)
    }

    /// Where `key` itself is written, if present.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, k, _)| k.span)
    }

    /// The value of `key`, reporting it missing.
    pub fn required(&self, sink: &mut Sink<'_>, key: &str) -> Option<&'n Node> {
        let found = self.get(key);
        if found.is_none() {
            let mut at = self.span;
            at.end = at.start;
            sink.error(at, format!("missing key `{key}` in {}", self.what));
        }
        found
    }
}

fn unknown_key_message(name: &str, what: &str, known: &[&str]) -> String {
    match closest(name, known.iter().copied()) {
        Some(near) => format!("unknown key `{name}` in {what}; did you mean `{near}`?"),
        None => format!("unknown key `{name}` in {what}; expected one of: {}", known.join(", ")),
    }
}

/// A mapping's entries with their keys as text; reports a non-mapping and non-text keys.
fn map_entries<'n>(sink: &mut Sink<'_>, node: &'n Node, what: &str) -> Option<Vec<(&'n Node, &'n str, &'n Node)>> {
    match &node.value {
        Value::Map(entries) => Some(
            entries
                .iter()
                .filter_map(|(k, v)| match &k.value {
                    Value::Scalar { text, .. } => Some((k, text.as_str(), v)),
                    _ => {
                        sink.error(k.span, format!("expected a plain key in {what}, found {}", k.describe()));
                        None
                    }
                })
                .collect(),
        ),
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected a mapping for {what}, found {}", node.describe()));
            None
        }
    }
}

type Item<T> = fn(&mut Sink<'_>, &Node, &str) -> Option<T>;

fn named<T>(sink: &mut Sink<'_>, node: &Node, what: &str, item: Item<T>) -> Option<Named<T>> {
    let entries = map_entries(sink, node, &format!("`{what}`"))?;
    let mut out: Vec<(Spanned<String>, T)> = Vec::new();
    for (key, name, value) in entries {
        if out.iter().any(|(k, _)| k.value == name) {
            sink.error(key.span, format!("duplicate key `{name}` in `{what}`"));
            continue;
        }
        if let Some(v) = item(sink, value, name) {
            out.push((Spanned { value: name.to_string(), span: key.span }, v));
        }
    }
    Some(Named(out))
}

fn list<T>(sink: &mut Sink<'_>, node: &Node, what: &str, item: Item<T>) -> Option<Vec<T>> {
    match &node.value {
        Value::Seq(items) => Some(items.iter().filter_map(|n| item(sink, n, what)).collect()),
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected a list for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn spanned_list<T>(sink: &mut Sink<'_>, node: &Node, what: &str, item: Item<T>) -> Option<Spanned<Vec<T>>> {
    list(sink, node, what, item).map(|value| Spanned { value, span: node.span })
}

fn string(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<String>> {
    match &node.value {
        Value::Scalar { text, .. } => Some(Spanned { value: text.clone(), span: node.span }),
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected a string for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn scalar_text(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<ScalarText>> {
    string(sink, node, what).map(|s| Spanned { value: ScalarText(s.value), span: s.span })
}

fn integer(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<i64>> {
    match &node.value {
        Value::Scalar { text, quoted: false } if text.parse::<i64>().is_ok() => {
            Some(Spanned { value: text.parse().unwrap_or_default(), span: node.span })
        }
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected an integer for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn number(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<f64>> {
    match &node.value {
        Value::Scalar { text, quoted: false } if text.parse::<f64>().is_ok_and(f64::is_finite) => {
            Some(Spanned { value: text.parse().unwrap_or_default(), span: node.span })
        }
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected a number for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn boolean(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<bool>> {
    match &node.value {
        Value::Scalar { text, quoted: false } if text == "true" || text == "false" => {
            Some(Spanned { value: text == "true", span: node.span })
        }
        Value::Invalid => None,
        _ => {
            sink.error(node.span, format!("expected `true` or `false` for `{what}`, found {}", node.describe()));
            None
        }
    }
}

fn word<W: Word>(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<W>> {
    match &node.value {
        Value::Scalar { text, .. } => match W::WORDS.iter().position(|w| w == text) {
            Some(i) => Some(Spanned { value: W::from_index(i), span: node.span }),
            None => {
                let hint = match closest(text, W::WORDS.iter().copied()) {
                    Some(near) => format!("; did you mean `{near}`?"),
                    None => String::new(),
                };
                sink.error(
                    node.span,
                    format!("expected one of {} for `{what}`, found `{text}`{hint}", W::WORDS.join(", ")),
                );
                None
            }
        },
        Value::Invalid => None,
        _ => {
            sink.error(
                node.span,
                format!("expected one of {} for `{what}`, found {}", W::WORDS.join(", "), node.describe()),
            );
            None
        }
    }
}

fn duration(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<DurationText>> {
    string(sink, node, what).map(|s| Spanned { value: DurationText(s.value), span: s.span })
}

fn comparison(sink: &mut Sink<'_>, node: &Node, what: &str) -> Option<Spanned<ComparisonText>> {
    match &node.value {
        Value::Scalar { text, .. } => Some(Spanned { value: ComparisonText(text.clone()), span: node.span }),
        Value::Invalid => None,
        _ => {
            sink.error(
                node.span,
                format!("expected a comparison such as \"< 300ms\" for `{what}`, found {}", node.describe()),
            );
            None
        }
    }
}
