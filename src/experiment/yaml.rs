//! YAML text into a tree of nodes that remember where they came from.
//!
//! Built on `saphyr-parser`'s event stream. The tree keeps every node's span
//! so the decoder can point at the offending token. It never panics: syntax
//! errors, too-deep nesting and alias bombs all come back as a [`YamlError`].

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A position in the source: 1-based line, 0-based column and character index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    /// Index in characters from the start of the text.
    pub index: usize,
}

/// A range of the source (end exclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    fn from_saphyr(s: saphyr_parser::Span) -> Span {
        Span { start: pos(s.start), end: pos(s.end) }
    }
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    Pos { line: m.line().max(1), col: m.col(), index: m.index() }
}

/// A value in the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing at all.
    Null,
    /// Any scalar; `quoted` is true for quoted and block scalars (always strings).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order (duplicates are kept, so the decoder can report them).
    Map(Vec<(Node, Node)>),
    /// A value already reported as wrong (an undeclared `${param}`): decoders skip it silently.
    Invalid,
}

/// A value and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

impl Node {
    /// The plain text of a scalar, if this is one.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A short description of what this node is, for "expected X, found Y".
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing".into(),
            Value::Scalar { text, quoted: true } => format!("the string `{}`", shorten(text)),
            Value::Scalar { text, quoted: false } => format!("`{}`", shorten(text)),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
            Value::Invalid => "an invalid value".into(),
        }
    }

    /// Nesting depth (a scalar is 1).
    fn depth(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Value::Map(entries) => 1 + entries.iter().map(|(k, v)| k.depth().max(v.depth())).max().unwrap_or(0),
            _ => 1,
        }
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|(k, v)| k.count() + v.count()).sum::<usize>(),
            _ => 1,
        }
    }
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s.replace('\n', "\\n")
}

/// A YAML syntax problem, or a document faultdrill refuses to expand.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
}

/// Deepest nesting accepted (keeps every recursive walk of the tree shallow).
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to through aliases.
pub const MAX_NODES: usize = 200_000;

enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node> },
    Map { span: Span, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

/// Parses one YAML document into a node tree. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            span: Span { start: pos(*e.marker()), end: pos(*e.marker()) },
            message: format!("invalid YAML: {}", e.info()),
        })?;
        let span = Span::from_saphyr(span);
        let (node, anchor) = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        span,
                        message: "expected one YAML document, found more than one (remove the `---`)".into(),
                    });
                }
                continue;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let value = match style {
                    ScalarStyle::Plain if !is_str_tag && is_null(&text) => Value::Null,
                    ScalarStyle::Plain if !is_str_tag => Value::Scalar { text: text.into_owned(), quoted: false },
                    _ => Value::Scalar { text: text.into_owned(), quoted: true },
                };
                (Node { value, span }, anchor)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError { span, message: format!("nesting deeper than {MAX_DEPTH} levels") });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq { span, anchor, items: Vec::new() }
                } else {
                    Frame::Map { span, anchor, entries: Vec::new(), key: None }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { span: start, anchor, items }) => {
                    (Node { value: Value::Seq(items), span: Span { start: start.start, end: span.end } }, anchor)
                }
                Some(Frame::Map { span: start, anchor, entries, .. }) => {
                    (Node { value: Value::Map(entries), span: Span { start: start.start, end: span.end } }, anchor)
                }
                None => continue,
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some(target) => {
                    // Keeps every tree walk shallow, aliases included.
                    if stack.len() + target.depth() > MAX_DEPTH {
                        return Err(YamlError {
                            span,
                            message: format!("aliases nest deeper than {MAX_DEPTH} levels"),
                        });
                    }
                    nodes += target.count();
                    if nodes > MAX_NODES {
                        return Err(YamlError {
                            span,
                            message: format!("aliases expand this document past {MAX_NODES} values"),
                        });
                    }
                    let mut copy = target.clone();
                    copy.span = span;
                    (copy, 0)
                }
                None => return Err(YamlError { span, message: "alias to an unknown anchor".into() }),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(YamlError { span: node.span, message: format!("document has more than {MAX_NODES} values") });
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
            None => root = Some(node),
        }
    }
    Ok(root.unwrap_or(Node {
        value: Value::Null,
        span: Span { start: Pos { line: 1, col: 0, index: 0 }, ..Span::default() },
    }))
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Whether a value already reported as wrong is anywhere in `node`.
pub fn has_invalid(node: &Node) -> bool {
    match &node.value {
        Value::Invalid => true,
        Value::Seq(items) => items.iter().any(has_invalid),
        Value::Map(entries) => entries.iter().any(|(_, v)| has_invalid(v)),
        _ => false,
    }
}

/// A node as JSON, typed by the YAML 1.2 core schema (plain `5` is a number, `"5"` a string).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null | Value::Invalid => J::Null,
        Value::Scalar { text, quoted: true } => J::String(text.clone()),
        Value::Scalar { text, quoted: false } => plain_scalar_json(text),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.scalar().map_or_else(|| to_json(k).to_string(), str::to_string), to_json(v)))
                .collect(),
        ),
    }
}

fn plain_scalar_json(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match text {
        "true" => return J::Bool(true),
        "false" => return J::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return J::from(i);
    }
    if text.chars().any(|c| c.is_ascii_digit()) {
        if let Some(n) = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return J::Number(n);
        }
    }
    J::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Node) -> Vec<(String, usize, usize)> {
        match &node.value {
            Value::Map(entries) => entries
                .iter()
                .map(|(k, _)| (k.scalar().unwrap().to_string(), k.span.start.line, k.span.start.col))
                .collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn spans_point_at_keys() {
        let node = parse("a: 1\nbb:\n  c: [x, y]\n").unwrap();
        assert_eq!(keys(&node), vec![("a".into(), 1, 0), ("bb".into(), 2, 0)]);
    }

    #[test]
    fn scalars_keep_their_quoting() {
        let node = parse("a: '1'\nb: 1\nc: ~\nd:\n").unwrap();
        let Value::Map(entries) = node.value else { panic!() };
        let values: Vec<_> = entries.into_iter().map(|(_, v)| v.value).collect();
        assert_eq!(
            values,
            vec![
                Value::Scalar { text: "1".into(), quoted: true },
                Value::Scalar { text: "1".into(), quoted: false },
                Value::Null,
                Value::Null,
            ]
        );
    }

    #[test]
    fn problems_are_errors_not_panics() {
        let cases: &[(&str, &str)] = &[
            ("a: [1, 2\n", "invalid YAML"),
            ("a: b: c\n", "invalid YAML"),
            ("a: 1\n---\nb: 2\n", "more than one"),
            ("a: *nope\n", "invalid YAML"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(expected), "{text:?}: {}", err.message);
        }
        let deep = "[".repeat(200);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
    }

    #[test]
    fn alias_chains_cannot_nest_without_bound() {
        let deep = |inner: &str| format!("{}{inner}{}", "[".repeat(30), "]".repeat(30));
        let mut text = format!("a0: &a0 {}\n", deep("x"));
        for i in 1..20 {
            text.push_str(&format!("a{i}: &a{i} {}\n", deep(&format!("*a{}", i - 1))));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("aliases nest deeper"), "{}", err.message);
    }
}
