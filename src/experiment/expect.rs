//! The expectation language: comparisons (`< 300ms`, `>= 90`, `between 1 and 5`)
//! and the `expect:` mapping of a probe, checked into plan expectations.
//!
//! Units mean something: a threshold written with a unit (`> 10s`, `>= 90%`) is only
//! accepted against a source that has that unit, so `> 10s` can never be silently
//! compared, as 10000 milliseconds, with a number a command prints in seconds.

use super::diag::Sink;
use super::plan::{Comparison, Expectation, HostMetric, ProbeSource};
use super::spec::{ExpectSpec, Spanned};

/// Which probe source an expectation is attached to (not every check fits every source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Metric,
    Http,
    Prometheus,
    Tcp,
    Command,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::Metric => "metric",
            SourceKind::Http => "http",
            SourceKind::Prometheus => "prometheus",
            SourceKind::Tcp => "tcp",
            SourceKind::Command => "command",
        }
    }
}

/// The unit a threshold was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A bare number.
    None,
    /// `%`.
    Percent,
    /// `us`, `ms`, `s` or `m`, converted to milliseconds.
    Time,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::None => "a plain number",
            Unit::Percent => "a percentage",
            Unit::Time => "a time",
        }
    }
}

/// The unit of what a source measures, and how to name it in a message.
#[derive(Clone, Debug)]
pub struct ValueUnit {
    pub unit: Unit,
    /// Such as "`cpu_percent`" or "a command's stdout".
    pub what: String,
}

impl ValueUnit {
    pub fn new(unit: Unit, what: impl Into<String>) -> ValueUnit {
        ValueUnit { unit, what: what.into() }
    }
}

/// How a source's latency is named in messages.
pub fn latency_name(kind: SourceKind) -> &'static str {
    if kind == SourceKind::Tcp { "a TCP connect time" } else { "an HTTP latency" }
}

/// The unit of a source's plain value.
pub fn value_unit(source: &ProbeSource) -> ValueUnit {
    match source {
        ProbeSource::Metric { metric, .. } => {
            let unit = match metric {
                HostMetric::CpuPercent | HostMetric::MemoryPercent | HostMetric::DiskUsedPercent => Unit::Percent,
                HostMetric::Load1 | HostMetric::Load1PerCore | HostMetric::ProcessCount => Unit::None,
            };
            ValueUnit::new(unit, format!("`{}`", metric.name()))
        }
        ProbeSource::Prometheus { .. } => ValueUnit::new(Unit::None, "a Prometheus query's value"),
        ProbeSource::Command { .. } => ValueUnit::new(Unit::None, "a command's stdout"),
        ProbeSource::Http { .. } => ValueUnit::new(Unit::None, "an HTTP response"),
        ProbeSource::Tcp { .. } => ValueUnit::new(Unit::None, "a TCP connect"),
        ProbeSource::ProbeFailures { .. } => ValueUnit::new(Unit::Percent, "a probe's failure rate"),
    }
}

/// Reports a threshold written with a unit its source does not have. A plain number is
/// always accepted: it is in the source's own unit (milliseconds for a latency).
pub fn check_unit(sink: &mut Sink<'_>, span: super::yaml::Span, text: &str, written: Unit, source: &ValueUnit) -> bool {
    if written == Unit::None || written == source.unit {
        return true;
    }
    let text = text.trim();
    let plain = regex::Regex::new(r"(\d)\s*(ms|us|µs|s|min|m|%)")
        .map_or_else(|_| text.to_string(), |re| re.replace_all(text, "$1").into_owned());
    let message = match (written, source.unit) {
        (Unit::Time, Unit::None) => format!(
            "`{text}` is a time, but {} is a plain number with no unit: it would be compared in milliseconds \
             and never mean what it says; write a plain number in the unit the source reports, such as `{plain}`",
            source.what
        ),
        (Unit::Percent, Unit::None) => format!(
            "`{text}` is a percentage, but {} is a plain number with no unit; drop the `%` (`{plain}`) \
             if that number is what you mean",
            source.what
        ),
        (Unit::Time, _) => {
            format!(
                "`{text}` is a time, but {} is {}; write a percentage, such as `>= 90%`",
                source.what,
                source.unit.name()
            )
        }
        (Unit::Percent, _) => {
            format!(
                "`{text}` is a percentage, but {} is {}; write a time, such as `< 300ms`",
                source.what,
                source.unit.name()
            )
        }
        (Unit::None, _) => return true,
    };
    sink.error(span, message);
    false
}

/// Parses a comparison. Numbers may carry `%` or a time unit (`us`, `ms`, `s`, `m`),
/// converted to milliseconds.
pub fn parse_comparison(text: &str) -> Result<Comparison, String> {
    parse_threshold(text).map(|(c, _)| c)
}

/// Parses a comparison and says which unit it was written in.
pub fn parse_threshold(text: &str) -> Result<(Comparison, Unit), String> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("between") {
        let Some((lo, hi)) = rest.split_once(" and ") else {
            return Err(format!("expected `between A and B`, found `{t}`"));
        };
        let ((lo, lo_unit), (hi, hi_unit)) = (parse_number(lo)?, parse_number(hi)?);
        if lo_unit != hi_unit {
            return Err(format!("`{t}` mixes units: write both bounds in the same unit"));
        }
        if lo > hi {
            return Err(format!("`between {lo} and {hi}` is empty: the first bound must not exceed the second"));
        }
        return Ok((Comparison::Between(lo, hi), lo_unit));
    }
    type Make = fn(f64) -> Comparison;
    let ops: [(&str, Make); 7] = [
        ("<=", Comparison::Le),
        (">=", Comparison::Ge),
        ("==", Comparison::Eq),
        ("!=", Comparison::Ne),
        ("<", Comparison::Lt),
        (">", Comparison::Gt),
        ("=", Comparison::Eq),
    ];
    for (op, make) in ops {
        if let Some(rest) = t.strip_prefix(op) {
            return parse_number(rest).map(|(n, unit)| (make(n), unit));
        }
    }
    Err(format!("expected a comparison such as `< 300ms`, `>= 90` or `between 1 and 5`, found `{t}`"))
}

fn parse_number(text: &str) -> Result<(f64, Unit), String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("expected a number, found `{t}`"))?;
    let (factor, unit) = match unit.trim() {
        "" => (1.0, Unit::None),
        "%" => (1.0, Unit::Percent),
        "ms" => (1.0, Unit::Time),
        "us" | "µs" => (0.001, Unit::Time),
        "s" => (1000.0, Unit::Time),
        "m" | "min" => (60_000.0, Unit::Time),
        other => return Err(format!("unknown unit `{other}` in `{t}`; use %, us, ms, s or m")),
    };
    let value = n * factor;
    if value.is_finite() { Ok((value, unit)) } else { Err(format!("`{t}` is not a finite number")) }
}

/// Checks an `expect:` mapping for a probe of `kind` whose value is in `value_unit`.
pub fn expectations(
    sink: &mut Sink<'_>,
    spec: &ExpectSpec,
    kind: SourceKind,
    value_unit: &ValueUnit,
) -> Vec<Expectation> {
    let mut out = Vec::new();
    let fits = |sink: &mut Sink<'_>, key: &str, ok: &[SourceKind], at| {
        let fit = ok.contains(&kind);
        if !fit {
            let names: Vec<_> = ok.iter().map(|k| k.name()).collect();
            sink.error(at, format!("`{key}` does not apply to a {} probe (only to {})", kind.name(), names.join(", ")));
        }
        fit
    };
    use SourceKind::*;
    if let Some(v) = &spec.value {
        if fits(sink, "value", &[Metric, Prometheus, Command], v.span) {
            out.extend(united(sink, v, value_unit).map(Expectation::Value));
        }
    }
    if let Some(v) = &spec.latency {
        if fits(sink, "latency", &[Http, Tcp], v.span) {
            let latency = ValueUnit::new(Unit::Time, latency_name(kind));
            out.extend(united(sink, v, &latency).map(Expectation::LatencyMs));
        }
    }
    if let Some(v) = &spec.status {
        if fits(sink, "status", &[Http], v.span) {
            match u16::try_from(v.value) {
                Ok(code) if (100..=599).contains(&code) => out.push(Expectation::Status(code)),
                _ => sink.error(v.span, format!("HTTP status {} is out of range 100..599", v.value)),
            }
        }
    }
    if let Some(v) = &spec.exit {
        if fits(sink, "exit", &[Command], v.span) {
            match i32::try_from(v.value) {
                Ok(code) if (0..=255).contains(&code) => out.push(Expectation::Exit(code)),
                _ => sink.error(v.span, format!("exit code {} is out of range 0..255", v.value)),
            }
        }
    }
    if let Some(v) = &spec.regex {
        if fits(sink, "regex", &[Http, Command], v.span) {
            match regex::Regex::new(&v.value) {
                Ok(_) => out.push(Expectation::Regex(v.value.clone())),
                Err(e) => sink.error(v.span, format!("invalid regex: {}", first_line(&e.to_string()))),
            }
        }
    }
    if let Some(j) = &spec.jsonpath {
        if let Some(path) = &j.path {
            if fits(sink, "jsonpath", &[Http, Command], path.span) {
                out.extend(json_path(sink, path, j.equals.as_ref(), j.compare.as_ref()));
            }
        }
    }
    if spec.value.is_none()
        && spec.latency.is_none()
        && spec.status.is_none()
        && spec.exit.is_none()
        && spec.regex.is_none()
        && spec.jsonpath.is_none()
    {
        sink.error(spec.span, "`expect` needs at least one of: value, latency, status, exit, regex, jsonpath");
    }
    out
}

fn json_path(
    sink: &mut Sink<'_>,
    path: &Spanned<String>,
    equals: Option<&Spanned<super::spec::AnyValue>>,
    compare: Option<&Spanned<super::spec::ComparisonText>>,
) -> Option<Expectation> {
    if !path.value.starts_with('$') {
        sink.error(path.span, format!("a JSON path starts with `$`, as in `$.status`; found `{}`", path.value));
        return None;
    }
    if let (Some(_), Some(c)) = (equals, compare) {
        sink.error(c.span, "`jsonpath` takes `equals` or `compare`, not both");
        return None;
    }
    let compare = match compare {
        Some(c) => Some(united(sink, c, &ValueUnit::new(Unit::None, "a JSON value"))?),
        None => None,
    };
    Some(Expectation::JsonPath { path: path.value.clone(), equals: equals.map(|e| e.value.0.clone()), compare })
}

/// Parses a comparison and checks its unit against the source's.
fn united(sink: &mut Sink<'_>, c: &Spanned<super::spec::ComparisonText>, source: &ValueUnit) -> Option<Comparison> {
    let (comparison, unit) = threshold(sink, &c.value.0, c.span)?;
    check_unit(sink, c.span, &c.value.0, unit, source).then_some(comparison)
}

/// Parses a comparison with its unit, reporting a problem at `span`.
pub fn threshold(sink: &mut Sink<'_>, text: &str, span: super::yaml::Span) -> Option<(Comparison, Unit)> {
    parse_threshold(text).map_err(|e| sink.error(span, e)).ok()
}

fn first_line(text: &str) -> String {
    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_parse() {
        let table: &[(&str, Comparison)] = &[
            ("< 300ms", Comparison::Lt(300.0)),
            ("<300", Comparison::Lt(300.0)),
            (">= 90", Comparison::Ge(90.0)),
            (">= 90%", Comparison::Ge(90.0)),
            ("> 1.5s", Comparison::Gt(1500.0)),
            ("== 0", Comparison::Eq(0.0)),
            ("= 2", Comparison::Eq(2.0)),
            ("!= 3", Comparison::Ne(3.0)),
            ("<= -1", Comparison::Le(-1.0)),
            ("between 1 and 5", Comparison::Between(1.0, 5.0)),
            ("between 100ms and 1s", Comparison::Between(100.0, 1000.0)),
        ];
        for (text, expected) in table {
            assert_eq!(parse_comparison(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn bad_comparisons_say_why() {
        let table: &[(&str, &str)] = &[
            ("90", "expected a comparison"),
            ("=> 90", "expected a number"),
            ("< fast", "expected a number"),
            ("< 3 parsecs", "unknown unit `parsecs`"),
            ("between 5 and 1", "is empty"),
            ("between 5", "expected `between A and B`"),
            ("", "expected a comparison"),
        ];
        for (text, expected) in table {
            let err = parse_comparison(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
