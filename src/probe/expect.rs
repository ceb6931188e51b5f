//! Judging an observation against a probe's expectations.

use serde::{Deserialize, Serialize};

use crate::experiment::{Comparison, Expectation};

use super::observation::Observation;

/// The judgement of one observation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub ok: bool,
    /// One line per unmet expectation, e.g. "status 503, expected 200".
    pub failures: Vec<String>,
}

/// Judges an observation against every expectation; an observation with an error fails.
pub fn evaluate(expect: &[Expectation], obs: &Observation) -> Verdict {
    let mut failures = Vec::new();
    if let Some(error) = &obs.error {
        failures.push(error.clone());
    } else {
        for e in expect {
            if let Err(why) = check(e, obs) {
                failures.push(why);
            }
        }
    }
    Verdict { ok: failures.is_empty(), failures }
}

fn compare(what: &str, c: Comparison, x: Option<f64>) -> Result<(), String> {
    match x {
        None => Err(format!("no {what} was measured")),
        Some(x) if c.holds(x) => Ok(()),
        Some(x) => Err(format!("{what} {}, expected {c}", round(x))),
    }
}

fn round(x: f64) -> String {
    if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.2}") }
}

fn check(e: &Expectation, obs: &Observation) -> Result<(), String> {
    match e {
        Expectation::Value(c) => compare("value", *c, obs.value),
        Expectation::LatencyMs(c) => compare("latency (ms)", *c, obs.latency_ms),
        Expectation::Status(want) => match obs.status {
            Some(s) if s == *want => Ok(()),
            Some(s) => Err(format!("status {s}, expected {want}")),
            None => Err("no HTTP status was received".into()),
        },
        Expectation::Exit(want) => match obs.exit {
            Some(code) if code == *want => Ok(()),
            Some(code) => Err(format!("exit code {code}, expected {want}")),
            None => Err("the command gave no exit code".into()),
        },
        Expectation::Regex(pattern) => {
            let re = regex::Regex::new(pattern).map_err(|e| format!("invalid regex `{pattern}`: {e}"))?;
            let body = obs.body.as_deref().unwrap_or("");
            if re.is_match(body) { Ok(()) } else { Err(format!("body does not match /{pattern}/")) }
        }
        Expectation::JsonPath { path, equals, compare: cmp } => {
            let body = obs.body.as_deref().unwrap_or("");
            let doc: serde_json::Value =
                serde_json::from_str(body).map_err(|_| format!("body is not JSON, cannot read {path}"))?;
            let found = json_path(&doc, path).ok_or_else(|| format!("{path} is not in the body"))?;
            if let Some(want) = equals {
                if found != want {
                    return Err(format!("{path} is {}, expected {want}", excerpt(found)));
                }
            }
            if let Some(c) = cmp {
                compare(path, *c, found.as_f64().or_else(|| found.as_str().and_then(|s| s.parse().ok())))?;
            }
            Ok(())
        }
    }
}

/// What a failure message may say of a value found in a response: its kind and a few
/// characters, never the whole of it. A probe may point at any URL; its report must
/// not become a way to read a secret served there.
fn excerpt(found: &serde_json::Value) -> String {
    use serde_json::Value;
    match found {
        Value::String(s) => {
            let n = s.chars().count();
            if n <= 3 {
                format!("{s:?}")
            } else {
                format!("\"{}…\" (a string of {n} characters)", s.chars().take(3).collect::<String>())
            }
        }
        Value::Number(n) if n.to_string().len() <= 12 => n.to_string(),
        Value::Number(_) => "a long number".into(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(fields) => format!("an object with {} keys", fields.len()),
    }
}

/// Follows a simple JSON path: `$.a.b[0].c` (dots, and `[n]` array indices).
pub fn json_path<'a>(doc: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let rest = path.strip_prefix('$').unwrap_or(path);
    let mut current = doc;
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            current = current.get(index.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_json_path_never_echoes_a_secret_it_found() {
        let secret = serde_json::json!("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let shown = excerpt(&secret);
        assert_eq!(shown, "\"wJa…\" (a string of 40 characters)");
        assert_eq!(excerpt(&serde_json::json!({"a": 1, "b": 2})), "an object with 2 keys");
        assert_eq!(excerpt(&serde_json::json!(200)), "200");
    }
    use serde_json::json;

    fn http(status: u16, latency: f64, body: &str) -> Observation {
        Observation { status: Some(status), latency_ms: Some(latency), body: Some(body.into()), ..Default::default() }
    }

    #[test]
    fn table_of_expectations() {
        let body = r#"{"db": {"ok": true, "lag": [3, 12]}, "version": "1.2"}"#;
        let cases: Vec<(Expectation, bool)> = vec![
            (Expectation::Status(200), true),
            (Expectation::Status(503), false),
            (Expectation::LatencyMs(Comparison::Lt(300.0)), true),
            (Expectation::LatencyMs(Comparison::Lt(10.0)), false),
            (Expectation::Regex("\"ok\": ?true".into()), true),
            (Expectation::Regex("down".into()), false),
            (Expectation::JsonPath { path: "$.db.ok".into(), equals: Some(json!(true)), compare: None }, true),
            (
                Expectation::JsonPath { path: "$.db.lag[1]".into(), equals: None, compare: Some(Comparison::Ge(10.0)) },
                true,
            ),
            (
                Expectation::JsonPath {
                    path: "$.version".into(),
                    equals: None,
                    compare: Some(Comparison::Between(1.0, 1.1)),
                },
                false,
            ),
            (Expectation::JsonPath { path: "$.missing".into(), equals: None, compare: None }, false),
            (Expectation::Value(Comparison::Lt(1.0)), false),
        ];
        let obs = http(200, 42.0, body);
        for (e, want) in cases {
            assert_eq!(evaluate(std::slice::from_ref(&e), &obs).ok, want, "{e:?}");
        }
    }

    #[test]
    fn failures_say_what_was_seen_and_expected() {
        let v = evaluate(&[Expectation::Status(200)], &http(503, 1.0, ""));
        assert_eq!(v.failures, vec!["status 503, expected 200".to_string()]);
        let v = evaluate(
            &[Expectation::Value(Comparison::Ge(90.0))],
            &Observation { value: Some(12.5), ..Default::default() },
        );
        assert_eq!(v.failures, vec!["value 12.50, expected >= 90".to_string()]);
    }

    #[test]
    fn an_observation_error_fails_the_check() {
        let v = evaluate(&[], &Observation::failed("connection refused".into()));
        assert!(!v.ok);
        assert_eq!(v.failures, vec!["connection refused".to_string()]);
    }
}
