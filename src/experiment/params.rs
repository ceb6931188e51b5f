//! Fault parameters: their declared kinds, and checking raw values into typed ones.
//!
//! Raw parameters arrive as JSON values (from the YAML loader, the daemon API
//! or `--param k=v`). [`Params::check`] turns them into [`ParamValue`]s against
//! a fault's [`ParamSpec`]s, applying defaults and reporting every problem by
//! parameter name so the caller can point at the right line.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::{parse_bytes, parse_duration};

/// Raw parameters as written by a user, before checking.
pub type RawParams = BTreeMap<String, serde_json::Value>;

/// What kind of value a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A whole number within `min..=max`.
    Integer { min: i64, max: i64 },
    /// A percentage within `min..=max` (e.g. `50`, `50%`, `12.5`).
    Percent { min: f64, max: f64 },
    /// A positive human duration (`100ms`, `5s`).
    Duration,
    /// A human size (`64MiB`, `1G`, `4096`).
    Bytes,
    /// A human size per second (`20MiB/s`), stored as bytes per second.
    ByteRate,
    /// A free text value.
    Text,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
    /// A list of text values (a YAML sequence, or a comma-separated string).
    List,
    /// A command as argv: a non-empty YAML sequence, each item kept exactly as written
    /// (never split on commas or spaces, never given to a shell).
    Argv,
    /// An HTTP request as a map: `{method, url, headers, body, status}`; a header's value is
    /// text or `{env: NAME, prefix: "Bearer "}` (a secret read when the request is sent).
    Request,
}

impl ParamKind {
    /// A short human name of the kind, as shown by `faultdrill faults`.
    pub fn describe(&self) -> String {
        match self {
            ParamKind::Integer { min, max } => format!("integer {min}..{max}"),
            ParamKind::Percent { min, max } => format!("percent {min}..{max}"),
            ParamKind::Duration => "duration".into(),
            ParamKind::Bytes => "size".into(),
            ParamKind::ByteRate => "size/s".into(),
            ParamKind::Text => "text".into(),
            ParamKind::Choice(words) => words.join("|"),
            ParamKind::Bool => "bool".into(),
            ParamKind::List => "list".into(),
            ParamKind::Argv => "argv".into(),
            ParamKind::Request => "request".into(),
        }
    }
}

/// One declared parameter of a fault.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// The default, written as a user would write it; `None` with `required: false` means "absent".
    pub default: Option<&'static str>,
    pub required: bool,
    pub doc: &'static str,
}

/// A checked parameter value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Integer(i64),
    Number(f64),
    Text(String),
    List(Vec<String>),
    /// A checked structure (an HTTP request), in its canonical JSON form.
    Map(serde_json::Map<String, serde_json::Value>),
}

/// Checked parameters of one action, defaults applied.
///
/// Values are stored in their canonical raw form (durations as `"100ms"`,
/// sizes as a byte count), so they serialise to the journal and the API and
/// check again to the same thing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, ParamValue>);

/// A problem with one parameter (or with the set as a whole when `name` is `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamProblem {
    pub name: Option<String>,
    pub message: String,
}

impl Params {
    /// Checks raw values against `specs`: unknown names, wrong kinds, out-of-range
    /// values and missing required ones are all reported, not just the first.
    pub fn check(specs: &[ParamSpec], raw: &RawParams) -> Result<Params, Vec<ParamProblem>> {
        let mut problems = Vec::new();
        let mut values = BTreeMap::new();
        for (name, value) in raw {
            match specs.iter().find(|s| s.name == name) {
                None => problems.push(ParamProblem { name: Some(name.clone()), message: unknown_message(name, specs) }),
                Some(spec) => match check_value(spec.kind, value) {
                    Ok(v) => {
                        values.insert(name.clone(), v);
                    }
                    Err(message) => problems.push(ParamProblem {
                        name: Some(name.clone()),
                        message: format!("parameter `{name}`: {message}"),
                    }),
                },
            }
        }
        for spec in specs {
            if values.contains_key(spec.name) || raw.contains_key(spec.name) {
                continue;
            }
            if let Some(default) = spec.default {
                let v = check_value(spec.kind, &serde_json::Value::String(default.into()))
                    .expect("built-in defaults are valid");
                values.insert(spec.name.to_string(), v);
            } else if spec.required {
                problems.push(ParamProblem {
                    name: None,
                    message: format!("missing required parameter `{}` ({})", spec.name, spec.doc),
                });
            }
        }
        if problems.is_empty() { Ok(Params(values)) } else { Err(problems) }
    }

    /// Whether a parameter was given (or has a default).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The value of `name`, if it was given or has a default.
    pub fn value(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    /// All values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ParamValue)> {
        self.0.iter()
    }

    /// Back to raw JSON form (for the API and the journal).
    pub fn to_raw(&self) -> RawParams {
        self.0.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).expect("plain values"))).collect()
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(ParamValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(ParamValue::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(ParamValue::Number(n)) => Some(*n),
            Some(ParamValue::Integer(i)) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name) {
            Some(ParamValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A duration parameter (stored as its human text).
    pub fn duration(&self, name: &str) -> Option<Duration> {
        self.text(name).and_then(|t| humantime::parse_duration(t).ok())
    }

    /// A size parameter, in bytes.
    pub fn bytes(&self, name: &str) -> Option<u64> {
        self.integer(name).and_then(|i| u64::try_from(i).ok())
    }

    /// A structured parameter (an HTTP request), as checked JSON.
    pub fn map(&self, name: &str) -> Option<&serde_json::Map<String, serde_json::Value>> {
        match self.0.get(name) {
            Some(ParamValue::Map(m)) => Some(m),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> &[String] {
        match self.0.get(name) {
            Some(ParamValue::List(l)) => l,
            _ => &[],
        }
    }
}

/// A scalar as text, exactly as written: a value is never trimmed (a regex may end in a space).
fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks one raw value against a kind; the message reads after "parameter `x`: ".
/// What an unknown parameter is told: the parameters the fault has.
pub fn unknown_message(name: &str, specs: &[ParamSpec]) -> String {
    format!(
        "unknown parameter `{name}`; expected one of: {}",
        specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    )
}

pub fn check_value(kind: ParamKind, value: &serde_json::Value) -> Result<ParamValue, String> {
    if let ParamKind::Argv | ParamKind::Request = kind {
        // `--param inject='["touch","/tmp/x"]'`: a command line can only give text, so JSON text
        // of a list or a map stands for it.
        let parsed = match value {
            serde_json::Value::String(s) if s.trim_start().starts_with(['[', '{']) => serde_json::from_str(s).ok(),
            _ => None,
        };
        let value = parsed.as_ref().unwrap_or(value);
        return match kind {
            ParamKind::Argv => check_argv(value),
            _ => super::request_param::check_request(value).map(ParamValue::Map),
        };
    }
    if let ParamKind::List = kind {
        return match value {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| scalar_text(i).ok_or_else(|| "expected a list of plain values".to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map(ParamValue::List),
            other => match scalar_text(other) {
                Some(s) => {
                    Ok(ParamValue::List(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()))
                }
                None => Err("expected a list".into()),
            },
        };
    }
    let raw = scalar_text(value).ok_or_else(|| format!("expected {}, found a structure", kind.describe()))?;
    // Numbers, sizes, durations and booleans may carry stray spaces; text and words never.
    let text = match kind {
        ParamKind::Text | ParamKind::Choice(_) => raw,
        _ => raw.trim().to_string(),
    };
    match kind {
        ParamKind::Integer { min, max } => {
            let n: i64 = text.parse().map_err(|_| format!("expected an integer, found `{text}`"))?;
            if n < min || n > max {
                return Err(format!("{n} is out of range {min}..{max}"));
            }
            Ok(ParamValue::Integer(n))
        }
        ParamKind::Percent { min, max } => {
            let n: f64 = text
                .trim_end_matches('%')
                .trim()
                .parse()
                .map_err(|_| format!("expected a percentage, found `{text}`"))?;
            if !n.is_finite() || n < min || n > max {
                return Err(format!("{text} is out of range {min}..{max} percent"));
            }
            Ok(ParamValue::Number(n))
        }
        ParamKind::Duration => {
            let d = parse_duration(&text)?;
            if d.is_zero() {
                return Err("a duration must be greater than zero".into());
            }
            super::limits::check_duration_limit(d).map_err(|m| format!("duration `{text}`: {m}"))?;
            Ok(ParamValue::Text(text))
        }
        ParamKind::Bytes => parse_bytes(&text).map(|b| ParamValue::Integer(b as i64)),
        ParamKind::ByteRate => parse_byte_rate(&text).map(|b| ParamValue::Integer(b as i64)),
        ParamKind::Text => Ok(ParamValue::Text(text)),
        ParamKind::Choice(words) => {
            if words.contains(&text.as_str()) {
                Ok(ParamValue::Text(text))
            } else {
                Err(format!("expected one of {}, found `{text}`", words.join(", ")))
            }
        }
        ParamKind::Bool => match text.as_str() {
            "true" => Ok(ParamValue::Bool(true)),
            "false" => Ok(ParamValue::Bool(false)),
            _ => Err(format!("expected true or false, found `{text}`")),
        },
        ParamKind::List | ParamKind::Argv | ParamKind::Request => unreachable!("handled above"),
    }
}

/// A command as argv: `[program, arg, ...]`, the program not empty.
fn check_argv(value: &serde_json::Value) -> Result<ParamValue, String> {
    let serde_json::Value::Array(items) = value else {
        return Err("expected a command as a list, e.g. `[systemctl, stop, nginx]` (no shell: write \
                    `[sh, -c, \"...\"]` for one)"
            .into());
    };
    let argv = items
        .iter()
        .map(|i| scalar_text(i).ok_or_else(|| "expected a command as a list of plain words".to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    match argv.first() {
        None => Err("expected a command, found an empty list".into()),
        Some(program) if program.trim().is_empty() => Err("the program (the list's first item) is empty".into()),
        Some(_) => Ok(ParamValue::List(argv)),
    }
}

/// A size per second such as `20MiB/s`, in bytes per second (at least 1: a zero size is refused).
fn parse_byte_rate(text: &str) -> Result<u64, String> {
    match text.strip_suffix("/s") {
        Some(size) => parse_bytes(size),
        None => Err(format!("expected a size per second such as `20MiB/s`, found `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn byte_rates_need_a_per_second_suffix() {
        assert_eq!(check_value(ParamKind::ByteRate, &json!("20MiB/s")), Ok(ParamValue::Integer(20 << 20)));
        assert_eq!(check_value(ParamKind::ByteRate, &json!(" 1kB/s ")), Ok(ParamValue::Integer(1000)));
        let missing = check_value(ParamKind::ByteRate, &json!("20MiB")).unwrap_err();
        assert!(missing.contains("such as `20MiB/s`"), "{missing}");
        assert!(check_value(ParamKind::ByteRate, &json!("0MiB/s")).unwrap_err().contains("out of range"));
    }

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 1.0, max: 100.0 },
            default: Some("50"),
            required: false,
            doc: "load",
        },
        ParamSpec { name: "latency", kind: ParamKind::Duration, default: None, required: true, doc: "delay" },
        ParamSpec { name: "size", kind: ParamKind::Bytes, default: None, required: false, doc: "size" },
    ];

    #[test]
    fn defaults_apply_and_values_are_typed() {
        let raw: RawParams = [("latency".to_string(), json!("100ms")), ("size".into(), json!("2MiB"))].into();
        let p = Params::check(SPECS, &raw).unwrap();
        assert_eq!(p.number("percent"), Some(50.0));
        assert_eq!(p.duration("latency"), Some(Duration::from_millis(100)));
        assert_eq!(p.bytes("size"), Some(2 << 20));
    }

    #[test]
    fn every_problem_is_reported() {
        let raw: RawParams = [("percent".to_string(), json!(150)), ("bogus".into(), json!(1))].into();
        let problems = Params::check(SPECS, &raw).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn argv_is_a_list_kept_as_written() {
        let argv = check_value(ParamKind::Argv, &json!(["sh", "-c", "echo a, b"])).unwrap();
        assert_eq!(argv, ParamValue::List(vec!["sh".into(), "-c".into(), "echo a, b".into()]));
        assert!(check_value(ParamKind::Argv, &json!("rm -rf /x")).unwrap_err().contains("as a list"));
        assert!(check_value(ParamKind::Argv, &json!([])).unwrap_err().contains("empty list"));
        assert!(check_value(ParamKind::Argv, &json!([{"a": 1}])).unwrap_err().contains("plain words"));
        let from_cli = check_value(ParamKind::Argv, &json!(r#"["touch", "/tmp/x"]"#)).unwrap();
        assert_eq!(from_cli, ParamValue::List(vec!["touch".into(), "/tmp/x".into()]));
    }

    #[test]
    fn checked_params_round_trip_through_raw() {
        let raw: RawParams = [("latency".to_string(), json!("1s")), ("size".into(), json!("1KiB"))].into();
        let p = Params::check(SPECS, &raw).unwrap();
        assert_eq!(Params::check(SPECS, &p.to_raw()).unwrap(), p);
    }
}
