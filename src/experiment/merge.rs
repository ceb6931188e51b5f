//! YAML merge keys (`<<: *defaults`), folded into the mappings that use them before
//! anything else reads the tree: a file with merge keys loads exactly like the same
//! file written out in full.
//!
//! As YAML 1.1 specifies (<https://yaml.org/type/merge.html>), the value of `<<` is a
//! mapping or a list of mappings; keys written in the mapping itself win over merged
//! ones, and in a list an earlier mapping wins over a later one. Merged entries keep
//! the spans of the place they were written (the anchor's content), so a problem
//! inside them points there. A quoted `"<<"` is an ordinary key.

use std::collections::HashSet;

use super::diag::Sink;
use super::yaml::{Node, Span, Value, to_json};

const MERGE_HELP: &str = "`<<: *name` merges the mapping anchored with `&name`; merge several with `<<: [*a, *b]`";

/// Expands every merge key in `node`. A bad one is reported and dropped; loading goes on.
pub fn expand(sink: &mut Sink<'_>, node: &mut Node) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|item| expand(sink, item)),
        Value::Map(entries) => {
            // Inside out: a merged mapping that merges others is complete before it is used.
            for (key, value) in entries.iter_mut() {
                expand(sink, key);
                expand(sink, value);
            }
            if entries.iter().any(|(key, _)| is_merge_key(key)) {
                let written = std::mem::take(entries);
                *entries = merge(sink, written);
            }
        }
        Value::Null | Value::Scalar { .. } | Value::Invalid => {}
    }
}

fn is_merge_key(key: &Node) -> bool {
    matches!(&key.value, Value::Scalar { text, quoted: false } if text == "<<")
}

/// A key as the decoder compares keys.
fn key_text(key: &Node) -> String {
    key.scalar().map_or_else(|| to_json(key).to_string(), str::to_string)
}

/// One mapping's entries with its merge key replaced, in place, by the merged entries
/// that no written key (nor an earlier merged mapping) overrides.
fn merge(sink: &mut Sink<'_>, written: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let mut taken: HashSet<String> =
        written.iter().filter(|(key, _)| !is_merge_key(key)).map(|(key, _)| key_text(key)).collect();
    let mut merged_once = false;
    let mut out = Vec::with_capacity(written.len());
    for (key, value) in written {
        if !is_merge_key(&key) {
            out.push((key, value));
            continue;
        }
        if merged_once {
            sink.error_help(key.span, "duplicate merge key `<<` in this mapping", MERGE_HELP);
            continue;
        }
        merged_once = true;
        for source in sources(sink, value) {
            // A key twice in one source stays twice, so the decoder reports the duplicate.
            let new: Vec<(Node, Node)> = source.into_iter().filter(|(k, _)| !taken.contains(&key_text(k))).collect();
            taken.extend(new.iter().map(|(k, _)| key_text(k)));
            out.extend(new);
        }
    }
    out
}

/// The mappings a merge key's value names, highest precedence first; anything else is reported.
fn sources(sink: &mut Sink<'_>, value: Node) -> Vec<Vec<(Node, Node)>> {
    let found = value.describe();
    let written = value.span;
    match value.value {
        Value::Map(entries) => vec![entries],
        Value::Seq(items) => items
            .into_iter()
            .filter_map(|item| {
                let found = item.describe();
                match item.value {
                    Value::Map(entries) => Some(entries),
                    Value::Invalid => None,
                    _ => {
                        let message = format!("expected a mapping in the list of merge key `<<`, found {found}");
                        // A list that came through an alias: point at the alias, where `<<` uses it.
                        let at = if is_within(item.span, written) { item.span } else { written };
                        sink.error_help(at, message, MERGE_HELP);
                        None
                    }
                }
            })
            .collect(),
        Value::Invalid => Vec::new(),
        Value::Null | Value::Scalar { .. } => {
            let message = format!("expected a mapping or a list of mappings for merge key `<<`, found {found}");
            sink.error_help(value.span, message, MERGE_HELP);
            Vec::new()
        }
    }
}

fn is_within(inner: Span, outer: Span) -> bool {
    outer.start.index <= inner.start.index && inner.end.index <= outer.end.index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::yaml::parse;

    /// The YAML after merging, as JSON (keys in order), and the problems as `line:col message`.
    fn merged(text: &str) -> (String, Vec<String>) {
        let mut sink = Sink::new("t.yaml", text);
        let mut root = parse(text).unwrap();
        expand(&mut sink, &mut root);
        let problems = sink.finish().into_iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect();
        (pairs(&root), problems)
    }

    /// Entries in file order, duplicates kept (JSON objects would hide both).
    fn pairs(node: &Node) -> String {
        match &node.value {
            Value::Map(entries) => {
                let inner: Vec<String> =
                    entries.iter().map(|(k, v)| format!("{}: {}", key_text(k), pairs(v))).collect();
                format!("{{{}}}", inner.join(", "))
            }
            Value::Seq(items) => format!("[{}]", items.iter().map(pairs).collect::<Vec<_>>().join(", ")),
            _ => to_json(node).to_string(),
        }
    }

    #[test]
    fn merges_like_yaml_1_1() {
        let table: &[(&str, &str)] = &[
            // One alias: merged keys take the place of `<<`, written keys win wherever they are.
            ("a: &a {x: 1, y: 2}\nb: {w: 0, <<: *a, y: 3}\n", "{a: {x: 1, y: 2}, b: {w: 0, x: 1, y: 3}}"),
            // A list: the earlier mapping wins.
            ("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc: {<<: [*a, *b]}\n", "{a: {x: 1}, b: {x: 2, z: 2}, c: {x: 1, z: 2}}"),
            // An inline mapping merges too.
            ("c: {<<: {x: 1}, x: 0}\n", "{c: {x: 0}}"),
            // A merged mapping that merges another one.
            ("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b}\n", "{a: {x: 1}, b: {x: 1, y: 2}, c: {x: 1, y: 2}}"),
            // Merge keys deep inside lists.
            ("p: &p {s: 1}\nl: [{<<: *p}, {<<: *p, s: 2}]\n", "{p: {s: 1}, l: [{s: 1}, {s: 2}]}"),
            // A quoted `<<` is just a key.
            ("c: {\"<<\": {x: 1}}\n", "{c: {<<: {x: 1}}}"),
            // A written duplicate is kept for the decoder to report; so is one inside a source.
            ("c: {<<: {x: 1}, y: 1, y: 2}\n", "{c: {x: 1, y: 1, y: 2}}"),
            ("c: {<<: {x: 1, x: 2}}\n", "{c: {x: 1, x: 2}}"),
        ];
        for (text, expected) in table {
            let (tree, problems) = merged(text);
            assert_eq!((tree.as_str(), problems), (*expected, vec![]), "{text}");
        }
    }

    #[test]
    fn bad_merge_values_are_reported_where_written() {
        let table: &[(&str, &str, &str)] = &[
            (
                "c: {<<: 5, x: 1}\n",
                "{c: {x: 1}}",
                "1:9 expected a mapping or a list of mappings for merge key `<<`, found `5`",
            ),
            (
                "s: &s [1]\nc:\n  <<: *s\n",
                "{s: [1], c: {}}",
                "3:7 expected a mapping in the list of merge key `<<`, found `1`",
            ),
            (
                "s: &s 1\nc:\n  <<: [*s]\n",
                "{s: 1, c: {}}",
                "3:8 expected a mapping in the list of merge key `<<`, found `1`",
            ),
            (
                "c:\n  <<:\n  x: 1\n",
                "{c: {x: 1}}",
                "2:5 expected a mapping or a list of mappings for merge key `<<`, found nothing",
            ),
            (
                "a: &a {x: 1}\nc: {<<: [*a, oops]}\n",
                "{a: {x: 1}, c: {x: 1}}",
                "2:14 expected a mapping in the list of merge key `<<`, found `oops`",
            ),
            ("c: {<<: {x: 1}, <<: {y: 1}}\n", "{c: {x: 1}}", "1:17 duplicate merge key `<<` in this mapping"),
        ];
        for (text, expected_tree, expected_problem) in table {
            let (tree, problems) = merged(text);
            assert_eq!((tree.as_str(), problems), (*expected_tree, vec![expected_problem.to_string()]), "{text}");
        }
    }

    #[test]
    fn merged_entries_keep_the_anchor_spans() {
        let text = "a: &a\n  x: 1\nb:\n  <<: *a\n";
        let mut sink = Sink::new("t.yaml", text);
        let mut root = parse(text).unwrap();
        expand(&mut sink, &mut root);
        let Value::Map(top) = &root.value else { panic!("{root:?}") };
        let Value::Map(b) = &top[1].1.value else { panic!("{root:?}") };
        assert_eq!((b[0].0.scalar(), b[0].0.span.start.line, b[0].0.span.start.col), (Some("x"), 2, 2));
    }
}
