//! Template parameters: typed `parameters:`, `--set k=v` values, and `${name}`
//! substitution in values (never in keys).
//!
//! Substitution works on the node tree before decoding, so a substituted value
//! is checked like any written one and problems still point into the file. The
//! same edits, applied to the source text, give `template render`'s output.

use super::diag::{Sink, closest};
use super::spec::{Named, ParamTypeWord, ParameterSpec, Spanned};
use super::yaml::{Node, Pos, Span, Value};

/// One replacement of a scalar in the source, for rendering.
#[derive(Clone, Debug)]
pub struct Edit {
    pub span: Span,
    /// YAML text to put in its place.
    pub text: String,
}

/// What substitution did: the edits, and the lines of the `parameters:` block.
#[derive(Clone, Debug, Default)]
pub struct Substituted {
    pub edits: Vec<Edit>,
    /// `covers_hosts_of` / `excludes_hosts_of` constraints with their parameters' values.
    pub host_checks: Vec<super::host_checks::WrittenCheck>,
    /// 1-based, inclusive line range of the `parameters` entry (removed when rendering).
    pub parameter_lines: Option<(usize, usize)>,
}

/// A parameter's checked value.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ParamValue {
    /// Substituted as a string (string, duration, enum).
    Text(String),
    /// Substituted as a plain scalar (integer, percent, bool).
    Plain(String),
    List(Vec<String>),
}

impl ParamValue {
    /// Whether the value is empty: `""` or `[]` (what a step that is off leaves its values).
    pub(super) fn is_empty(&self) -> bool {
        match self {
            ParamValue::Text(t) | ParamValue::Plain(t) => t.is_empty(),
            ParamValue::List(items) => items.is_empty(),
        }
    }

    /// The value inside a larger string.
    pub(super) fn as_text(&self) -> String {
        match self {
            ParamValue::Text(t) | ParamValue::Plain(t) => t.clone(),
            ParamValue::List(items) => items.join(","),
        }
    }

    /// The value as a whole node.
    fn to_node(&self, span: Span) -> (Node, String) {
        let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        match self {
            ParamValue::Text(t) => (Node { value: Value::Scalar { text: t.clone(), quoted: true }, span }, quoted(t)),
            ParamValue::Plain(t) => (Node { value: Value::Scalar { text: t.clone(), quoted: false }, span }, t.clone()),
            ParamValue::List(items) => (
                Node {
                    value: Value::Seq(
                        items
                            .iter()
                            .map(|i| Node { value: Value::Scalar { text: i.clone(), quoted: true }, span })
                            .collect(),
                    ),
                    span,
                },
                format!("[{}]", items.iter().map(|i| quoted(i)).collect::<Vec<_>>().join(", ")),
            ),
        }
    }
}

/// A declared parameter and the value it resolved to.
pub(super) struct Declared<'a> {
    pub(super) key: &'a Spanned<String>,
    pub(super) value: Option<ParamValue>,
    used: bool,
    /// The words of an enum parameter (what `${name == word}` may compare with).
    pub(super) words: Vec<&'a str>,
}

/// Takes `parameters` out of the root mapping, resolves their values from
/// `sets` and defaults, and substitutes every `${name}` in the rest of `root`.
pub fn substitute(
    sink: &mut Sink<'_>,
    root: &mut Node,
    text: &str,
    params: Option<&Named<ParameterSpec>>,
    sets: &[(String, String)],
) -> Substituted {
    let mut out = Substituted::default();
    let mut params_key: Option<Span> = None;
    if let Value::Map(entries) = &mut root.value {
        if let Some(i) = entries.iter().position(|(k, _)| k.scalar() == Some("parameters")) {
            let (key, _) = entries.remove(i);
            out.parameter_lines = Some((key.span.start.line, block_end(text, key.span.start)));
            params_key = Some(key.span);
        }
    }
    let empty = Named::default();
    let params = params.unwrap_or(&empty);
    let mut declared: Vec<Declared<'_>> = params
        .0
        .iter()
        .map(|(key, spec)| Declared {
            key,
            value: resolve(sink, key, spec, sets),
            used: false,
            words: spec.values.iter().flatten().map(|v| v.value.as_str()).collect(),
        })
        .collect();
    for (name, value) in sets {
        if !declared.iter().any(|d| d.key.value == *name) {
            let names: Vec<&str> = declared.iter().map(|d| d.key.value.as_str()).collect();
            let at = params_key.unwrap_or(root.span);
            let hint = match closest(name, names.iter().copied()) {
                Some(near) => format!("; did you mean `{near}`?"),
                None if names.is_empty() => "; this file declares no parameters".into(),
                None => format!("; declared: {}", names.join(", ")),
            };
            sink.error(at, format!("--set {name}={value}: no parameter `{name}` is declared{hint}"));
        }
    }
    super::param_relations::check(sink, params, &declared);
    for (d, (_, spec)) in declared.iter().zip(&params.0) {
        if let Some(values) = &d.value {
            let items = match values {
                ParamValue::List(items) => items.clone(),
                other => vec![other.as_text()],
            };
            out.host_checks.extend(super::host_checks::written(d.key, spec, &items));
        }
    }
    walk(sink, root, &mut declared, &mut out.edits);
    for d in &declared {
        if !d.used {
            sink.error(
                d.key.span,
                format!(
                    "parameter `{}` is declared but never used; use it as `${{{}}}` or remove it",
                    d.key.value, d.key.value
                ),
            );
        }
    }
    out
}

/// The last line of the block that starts at `key` (its more-indented continuation lines).
fn block_end(text: &str, key: Pos) -> usize {
    let mut last = key.line;
    for (i, line) in text.lines().enumerate().skip(key.line) {
        let indent = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
        if line.trim().is_empty() {
            continue;
        }
        if indent <= key.col {
            break;
        }
        last = i + 1;
    }
    last
}

/// The value of one parameter: `--set`, else its default; problems reported.
fn resolve(
    sink: &mut Sink<'_>,
    key: &Spanned<String>,
    spec: &ParameterSpec,
    sets: &[(String, String)],
) -> Option<ParamValue> {
    let name = &key.value;
    let kind = spec.r#type.as_ref()?.value;
    match (&spec.values, kind) {
        (Some(values), ParamTypeWord::Enum) if values.is_empty() => {
            sink.error(key.span, format!("enum parameter `{name}` has an empty `values` list"))
        }
        (None, ParamTypeWord::Enum) => {
            sink.error(key.span, format!("enum parameter `{name}` needs `values`: the words it accepts"))
        }
        (Some(values), k) if k != ParamTypeWord::Enum => {
            if let Some(v) = values.first() {
                sink.error(v.span, format!("`values` applies to enum parameters only; `{name}` is not one"));
            }
        }
        _ => {}
    }
    let words: Vec<&str> = spec.values.iter().flatten().map(|v| v.value.as_str()).collect();
    let required = spec.required.as_ref().is_some_and(|r| r.value);
    if let (true, Some(d)) = (required, &spec.default) {
        sink.error(d.span, format!("parameter `{name}` is required, so it cannot have a default"));
    }
    if let Some((_, text)) = sets.iter().rev().find(|(k, _)| k == name) {
        return match typed(kind, &words, &serde_json::Value::String(text.clone())) {
            Ok(v) => Some(v),
            Err(expected) => {
                sink.error(key.span, format!("--set {name}={text}: parameter `{name}` expects {expected}"));
                None
            }
        };
    }
    match &spec.default {
        Some(d) if !required => match typed(kind, &words, &d.value.0) {
            Ok(v) => Some(v),
            Err(expected) => {
                sink.error(d.span, format!("default of parameter `{name}` must be {expected}"));
                None
            }
        },
        _ => {
            sink.error(key.span, format!("parameter `{name}` is required but has no value; pass --set {name}=VALUE"));
            None
        }
    }
}

/// Checks a raw value against a parameter type; the error says what was expected and found.
fn typed(kind: ParamTypeWord, words: &[&str], raw: &serde_json::Value) -> Result<ParamValue, String> {
    use serde_json::Value as J;
    // A string parameter is never trimmed (a pattern may end in a space); other kinds are.
    let text = match raw {
        J::String(s) if kind == ParamTypeWord::String => s.clone(),
        J::String(s) => s.trim().to_string(),
        J::Number(n) => n.to_string(),
        J::Bool(b) => b.to_string(),
        J::Array(items) if kind == ParamTypeWord::List => {
            return items
                .iter()
                .map(|i| match i {
                    J::String(s) => Ok(s.clone()),
                    J::Number(_) | J::Bool(_) => Ok(i.to_string()),
                    _ => Err("a list of plain values".to_string()),
                })
                .collect::<Result<_, _>>()
                .map(ParamValue::List);
        }
        _ => return Err(format!("{}, found a structure", expected(kind, words))),
    };
    let bad = || format!("{}, found `{text}`", expected(kind, words));
    match kind {
        ParamTypeWord::String => Ok(ParamValue::Text(text)),
        ParamTypeWord::Integer => text.parse::<i64>().map(|i| ParamValue::Plain(i.to_string())).map_err(|_| bad()),
        ParamTypeWord::Percent => match text.trim_end_matches('%').trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(ParamValue::Plain(p.to_string())),
            _ => Err(bad()),
        },
        ParamTypeWord::Duration => match super::units::parse_duration(&text) {
            Ok(d) if !d.is_zero() && super::limits::check_duration_limit(d).is_ok() => Ok(ParamValue::Text(text)),
            _ => Err(bad()),
        },
        ParamTypeWord::Bool => match text.as_str() {
            "true" | "false" => Ok(ParamValue::Plain(text)),
            _ => Err(bad()),
        },
        ParamTypeWord::List => {
            Ok(ParamValue::List(text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()))
        }
        ParamTypeWord::Enum if words.contains(&text.as_str()) => Ok(ParamValue::Text(text)),
        ParamTypeWord::Enum => Err(bad()),
    }
}

fn expected(kind: ParamTypeWord, words: &[&str]) -> String {
    match kind {
        ParamTypeWord::String => "a string".into(),
        ParamTypeWord::Integer => "an integer".into(),
        ParamTypeWord::Percent => "a percent from 0 to 100".into(),
        ParamTypeWord::Duration => "a duration greater than zero and at most 24h, such as `30s`".into(),
        ParamTypeWord::Bool => "`true` or `false`".into(),
        ParamTypeWord::List => "a list".into(),
        ParamTypeWord::Enum => format!("one of {}", words.join(", ")),
    }
}

fn walk(sink: &mut Sink<'_>, node: &mut Node, declared: &mut [Declared<'_>], edits: &mut Vec<Edit>) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| walk(sink, i, declared, edits)),
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                if k.scalar().is_some_and(|t| t.contains("${")) {
                    sink.error(k.span, "`${…}` substitutes in values only, not in keys");
                }
                walk(sink, v, declared, edits);
            }
        }
        Value::Scalar { text, quoted } if text.contains("${") => {
            let quoted = *quoted;
            if let Some((replacement, edit)) = substitute_scalar(sink, text, quoted, node.span, declared) {
                *node = replacement;
                edits.push(edit);
            } else {
                node.value = Value::Invalid;
            }
        }
        _ => {}
    }
}

/// Substitutes in one scalar; `None` if a reference was bad (already reported).
fn substitute_scalar(
    sink: &mut Sink<'_>,
    text: &str,
    quoted: bool,
    span: Span,
    declared: &mut [Declared<'_>],
) -> Option<(Node, Edit)> {
    let mut out = String::new();
    let mut rest = text;
    let mut whole: Option<ParamValue> = None;
    let mut ok = true;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let offset = text.len() - rest.len() + start;
        let Some(len) = rest[start..].find('}') else {
            sink.error(at(span, text, offset, rest.len() - start, quoted), "unterminated `${`; write `${name}`");
            return None;
        };
        let reference = &rest[start + 2..start + len];
        let place = at(span, text, offset, len + 1, quoted);
        let (name, test) = split_test(reference);
        let is_whole = text.trim() == format!("${{{reference}}}");
        match declared.iter_mut().find(|d| d.key.value == name) {
            Some(d) => {
                d.used = true;
                let value = match (&d.value, test) {
                    (Some(v), None) => Some(v.clone()),
                    (Some(v), Some((equal, word))) => {
                        if !d.words.is_empty() && !d.words.contains(&word) {
                            sink.error(
                                place,
                                format!(
                                    "`${{{reference}}}`: `{word}` is not a value of enum parameter `{name}`; its values: {}",
                                    d.words.join(", ")
                                ),
                            );
                            ok = false;
                        }
                        Some(ParamValue::Plain(((v.as_text() == word) == equal).to_string()))
                    }
                    (None, _) => None,
                };
                match value {
                    Some(v) if is_whole => whole = Some(v),
                    Some(v) => out.push_str(&v.as_text()),
                    None => ok = false,
                }
            }
            None => {
                let names: Vec<&str> = declared.iter().map(|d| d.key.value.as_str()).collect();
                let hint = closest(name, names.iter().copied()).map_or_else(
                    || "; declare it under `parameters:`".to_string(),
                    |n| format!("; did you mean `{n}`?"),
                );
                sink.error(place, format!("undeclared parameter `{name}` in `${{{name}}}`{hint}"));
                ok = false;
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    if !ok {
        return None;
    }
    let (node, yaml) = match whole {
        Some(v) => v.to_node(span),
        None => ParamValue::Text(out).to_node(span),
    };
    Some((node, Edit { span, text: yaml }))
}

/// `name`, or `name == word` / `name != word` (a test that substitutes `true` or `false`):
/// the parameter's name and, for a test, whether it asks for equality and the word.
fn split_test(reference: &str) -> (&str, Option<(bool, &str)>) {
    for (op, equal) in [("==", true), ("!=", false)] {
        if let Some((name, word)) = reference.split_once(op) {
            return (name.trim(), Some((equal, word.trim())));
        }
    }
    (reference, None)
}

/// The span of `len` bytes at byte `offset` of a scalar's text (exact for one-line scalars).
fn at(span: Span, text: &str, offset: usize, len: usize, quoted: bool) -> Span {
    if span.start.line != span.end.line {
        return span;
    }
    let before = text[..offset].chars().count() + usize::from(quoted);
    let width = text[offset..offset + len].chars().count();
    let mut s = span;
    s.start.col += before;
    s.start.index += before;
    s.end = s.start;
    s.end.col += width;
    s.end.index += width;
    s
}

/// Applies substitution edits to `text` and drops the `parameters:` block.
pub fn render(text: &str, subs: &Substituted) -> String {
    let byte_of = |index: usize| text.char_indices().nth(index).map_or(text.len(), |(b, _)| b);
    let mut edits: Vec<(usize, usize, &str)> =
        subs.edits.iter().map(|e| (byte_of(e.span.start.index), byte_of(e.span.end.index), e.text.as_str())).collect();
    if let Some((first, last)) = subs.parameter_lines {
        let line_start =
            |line: usize| text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>();
        let lines: Vec<&str> = text.lines().collect();
        let blank = |line: usize| lines.get(line.wrapping_sub(1)).is_some_and(|l| l.trim().is_empty());
        // Take one blank line along, so the block leaves no double gap behind.
        let last = if (first == 1 || blank(first - 1)) && blank(last + 1) { last + 1 } else { last };
        edits.push((line_start(first), line_start(last + 1), ""));
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (start, end, replacement) in edits {
        if start < pos || end < start {
            continue;
        }
        out.push_str(&text[pos..start]);
        out.push_str(replacement);
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}
