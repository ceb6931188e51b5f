//! Checks a JSON value against a schema of the OpenAPI document: enough of
//! JSON Schema for what utoipa generates, to hold real answers (and accepted
//! requests) to the document.

use serde_json::{Value, json};

/// Checks `value` against `schema` (the subset of JSON Schema the document uses:
/// `$ref`, `type`, `properties`, `required`, `additionalProperties: false`, `items`, `oneOf`,
/// `enum`). Returns what does not match, with where.
pub fn mismatches(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return mismatches(doc, &doc["components"]["schemas"][name], value, at, out);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().any(|o| {
            let mut inner = Vec::new();
            mismatches(doc, o, value, at, &mut inner);
            inner.is_empty()
        });
        if !fits {
            out.push(format!("{at}: {value} fits none of {schema}"));
        }
        return;
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = allowed.is_empty() || allowed.contains(&kind) || (kind == "integer" && allowed.contains(&"number"));
    if !fits {
        out.push(format!("{at}: a {kind}, the document says {allowed:?}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            mismatches(doc, &schema["items"], item, &format!("{at}[{i}]"), out);
        }
    }
    if let Value::Object(map) = value {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                out.push(format!("{at}: `{name}` is required by the document but absent"));
            }
        }
        for (name, v) in map {
            match schema["properties"].get(name) {
                Some(p) => mismatches(doc, p, v, &format!("{at}.{name}"), out),
                None if schema["additionalProperties"] == json!(false) => {
                    out.push(format!("{at}: `{name}` is not in the document"))
                }
                None => {}
            }
        }
    }
}
