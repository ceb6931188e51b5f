//! The `request` parameter kind (http-call): an HTTP request written as a map, checked into
//! its canonical form. Secrets are never written in it: a header may name an environment
//! variable (`{env: NAME}`) whose value is read only when the request is sent.

use serde_json::{Map, Value};

const KEYS: &[&str] = &["method", "url", "headers", "body", "status"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Checks a request map; the message reads after "parameter `x`: ".
pub fn check_request(value: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(map) = value else {
        return Err("expected a request such as `{method: POST, url: \"http://...\", status: 200}`".into());
    };
    if let Some(unknown) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key `{unknown}` in the request; expected one of: {}", KEYS.join(", ")));
    }
    let mut out = Map::new();
    let method = match map.get("method") {
        None => "GET".to_string(),
        Some(Value::String(m)) if METHODS.contains(&m.to_ascii_uppercase().as_str()) => m.to_ascii_uppercase(),
        Some(other) => return Err(format!("`method`: expected one of {}, found {other}", METHODS.join(", "))),
    };
    out.insert("method".into(), Value::String(method));
    match map.get("url") {
        Some(Value::String(u)) if u.starts_with("http://") || u.starts_with("https://") => {
            out.insert("url".into(), Value::String(u.clone()));
        }
        Some(other) => return Err(format!("`url`: expected an http:// or https:// URL, found {other}")),
        None => return Err("the request needs a `url`".into()),
    }
    if let Some(headers) = map.get("headers") {
        out.insert("headers".into(), Value::Object(check_headers(headers)?));
    }
    match map.get("body") {
        None => {}
        Some(Value::String(b)) => {
            out.insert("body".into(), Value::String(b.clone()));
        }
        Some(_) => return Err("`body`: expected text (write JSON as a quoted string)".into()),
    }
    match map.get("status") {
        None => {}
        Some(s) => match s.as_u64().or_else(|| s.as_str().and_then(|t| t.trim().parse().ok())) {
            Some(code @ 100..=599) => {
                out.insert("status".into(), Value::from(code));
            }
            _ => return Err(format!("`status`: expected an HTTP status from 100 to 599, found {s}")),
        },
    }
    Ok(out)
}

fn check_headers(headers: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(headers) = headers else {
        return Err("`headers`: expected a map of header names to values".into());
    };
    let mut out = Map::new();
    for (name, value) in headers {
        let token =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!("`headers`: `{name}` is not a header name"));
        }
        let checked = match value {
            Value::String(text) => Value::String(text.clone()),
            Value::Object(from) => {
                let env = from.get("env").and_then(Value::as_str).filter(|e| is_env_name(e));
                let prefix = from.get("prefix").map(|p| p.as_str().ok_or(()));
                match (env, prefix, from.keys().all(|k| k == "env" || k == "prefix")) {
                    (Some(env), None | Some(Ok(_)), true) => {
                        let mut m = Map::new();
                        m.insert("env".into(), Value::String(env.into()));
                        if let Some(Ok(p)) = prefix {
                            m.insert("prefix".into(), Value::String(p.into()));
                        }
                        Value::Object(m)
                    }
                    _ => {
                        return Err(format!(
                            "`headers.{name}`: expected text or `{{env: NAME, prefix: \"Bearer \"}}` (a secret from an environment variable)"
                        ));
                    }
                }
            }
            other => return Err(format!("`headers.{name}`: expected text, found {other}")),
        };
        out.insert(name.clone(), checked);
    }
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_is_checked_into_its_canonical_form() {
        let r = check_request(&json!({
            "method": "post", "url": "http://127.0.0.1:8080/switch", "status": "200",
            "headers": {"Authorization": {"env": "DB_TOKEN", "prefix": "Bearer "}, "X-Drill": "yes"}
        }))
        .unwrap();
        assert_eq!(r["method"], "POST");
        assert_eq!(r["status"], 200);
        assert_eq!(r["headers"]["Authorization"], json!({"env": "DB_TOKEN", "prefix": "Bearer "}));
    }

    #[test]
    fn every_mistake_says_what_was_expected() {
        let err = |v: Value| check_request(&v).unwrap_err();
        assert!(err(json!("http://x")).contains("expected a request"));
        assert!(err(json!({"url": "http://x", "stauts": 200})).contains("unknown key `stauts`"));
        assert!(err(json!({"url": "ftp://x"})).contains("http:// or https://"));
        assert!(err(json!({"method": "BREW", "url": "http://x"})).contains("`method`"));
        assert!(err(json!({"url": "http://x", "status": 700})).contains("100 to 599"));
        assert!(err(json!({"url": "http://x", "headers": {"A": {"env": "1BAD"}}})).contains("environment variable"));
        assert!(err(json!({"url": "http://x", "headers": {"bad name": "v"}})).contains("not a header name"));
    }
}
