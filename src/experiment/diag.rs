//! Diagnostics: problems in a user's file, each pointing at the offending token.
//!
//! Rendered like rustc and just:
//!
//! ```text
//! error: unknown key `duraton` in action; did you mean `duration`?
//!   --> experiments/disk.yaml:12:9
//!    |
//! 12 |         duraton: 60s
//!    |         ^^^^^^^
//! ```

use std::fmt;

use super::yaml::{Pos, Span};

/// One problem, with everything needed to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// The file (or other origin) the problem is in.
    pub origin: String,
    /// 1-based line and column (columns count characters).
    pub line: usize,
    pub col: usize,
    /// The source line, without its newline (empty when there is no source).
    pub source_line: String,
    /// How many characters the caret underlines (at least 1).
    pub width: usize,
    /// An extra line shown after the snippet (`= help: ...`).
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        write!(f, "{pad}--> {}:{}:{}", self.origin, self.line, self.col)?;
        if !self.source_line.is_empty() || self.line > 0 {
            let indent: String = self
                .source_line
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{number} | {}\n{pad} | {indent}{}", self.source_line, "^".repeat(self.width.max(1)))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one source text.
pub struct Sink<'s> {
    origin: &'s str,
    lines: Vec<&'s str>,
    items: Vec<Diagnostic>,
    /// Where each item starts, to tell whether a region already has a problem.
    starts: Vec<Pos>,
}

impl<'s> Sink<'s> {
    pub fn new(origin: &'s str, text: &'s str) -> Sink<'s> {
        Sink {
            origin,
            lines: text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect(),
            items: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    /// Records a problem at `span` with a help line.
    pub fn error_help(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.push(span, message.into(), Some(help.into()));
    }

    fn push(&mut self, span: Span, message: String, help: Option<String>) {
        let line = span.start.line.max(1);
        let source_line = self.lines.get(line - 1).copied().unwrap_or("").to_string();
        let line_chars = source_line.chars().count();
        let col = span.start.col.min(line_chars);
        self.starts.push(span.start);
        let width = if span.end == span.start {
            1
        } else if span.end.line == span.start.line && span.end.col > col {
            span.end.col.min(line_chars.max(col + 1)) - col
        } else {
            // A multi-line node: underline the rest of its first line.
            line_chars.saturating_sub(col)
        };
        let width = width.clamp(1, line_chars.saturating_sub(col).max(1));
        self.items.push(Diagnostic {
            message,
            origin: self.origin.to_string(),
            line,
            col: col + 1,
            source_line,
            width,
            help,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a problem was already reported inside `span` (to avoid follow-on noise).
    pub fn has_error_within(&self, span: Span) -> bool {
        let key = |p: Pos| (p.line, p.col);
        self.starts.iter().any(|s| key(span.start) <= key(*s) && key(*s) < key(span.end))
    }

    /// The diagnostics, in source order (stable for problems at the same place).
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| (d.line, d.col));
        self.items.dedup();
        self.items
    }
}

/// Every problem found in one or more files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// One problem that has no position in a file (e.g. the file cannot be read).
    pub fn whole_file(origin: &str, message: String) -> Diagnostics {
        Diagnostics {
            items: vec![Diagnostic {
                message,
                origin: origin.to_string(),
                line: 0,
                col: 0,
                source_line: String::new(),
                width: 0,
                help: None,
            }],
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            if d.line == 0 {
                write!(f, "error: {}: {}", d.origin, d.message)?;
            } else {
                write!(f, "{d}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(word.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: usize, col: usize, end_col: usize) -> Span {
        Span { start: Pos { line, col, index: 0 }, end: Pos { line, col: end_col, index: 0 } }
    }

    #[test]
    fn renders_like_rustc() {
        let mut sink = Sink::new("x.yaml", "a: 1\n  duraton: 60s\n");
        sink.error(span(2, 2, 9), "unknown key `duraton`");
        let d = Diagnostics { items: sink.finish() };
        assert_eq!(
            d.to_string(),
            "error: unknown key `duraton`\n --> x.yaml:2:3\n  |\n2 |   duraton: 60s\n  |   ^^^^^^^"
        );
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["duration", "wait_before", "wait_after", "params", "fault"];
        let table = [
            ("duraton", Some("duration")),
            ("param", Some("params")),
            ("wait_befor", Some("wait_before")),
            ("colour", None),
            ("x", None),
        ];
        for (word, expected) in table {
            assert_eq!(closest(word, keys), expected, "{word}");
        }
    }
}
