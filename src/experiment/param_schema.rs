//! The JSON Schema of each fault's `params`, built from the same [`ParamSpec`]
//! declarations the loader checks against, so an editor (yaml-language-server)
//! completes and flags `params:` keys and values exactly as `validate` would.
//!
//! Every value also accepts the forms the loader accepts: a number or size
//! may be written as text (`"50%"`, `"64MiB"`), and anything may be a
//! `${parameter}` reference, substituted before checking.

use serde_json::{Map, Value, json};

use super::catalog::FaultCatalog;
use super::params::{ParamKind, ParamSpec};
use super::units::DURATION_FORMS;

/// A `${parameter}` reference (the same pattern as the rest of the schema).
const TEMPLATE_REF: &str = r"^\$\{[A-Za-z_][A-Za-z0-9_-]*\}$";

/// Where a `params` schema is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsFor {
    /// An experiment or template file: values may be `${parameter}` references.
    Experiment,
    /// The daemon API's request body (OpenAPI): values as sent, no references.
    Api,
}

/// The schema of one fault's `params` mapping: its keys, their values, what is required.
pub fn params_schema(specs: &[ParamSpec], used: ParamsFor) -> Value {
    let mut properties = Map::new();
    for spec in specs {
        properties.insert(spec.name.to_string(), param_schema(spec, used));
    }
    let required: Vec<&str> = specs.iter().filter(|s| s.required).map(|s| s.name).collect();
    let mut schema = json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// One `if: {fault: NAME} then: {params: ...}` rule per fault, for `ActionSpec`'s `allOf`;
/// and the fault names, for `fault`'s `enum`.
pub fn per_fault_rules(catalog: &dyn FaultCatalog) -> (Vec<Value>, Vec<&'static str>) {
    let names = catalog.names();
    let rules = names
        .iter()
        .filter_map(|name| {
            let specs = catalog.params_of(name)?;
            Some(json!({
                "if": { "properties": { "fault": { "const": name } }, "required": ["fault"] },
                "then": { "properties": { "params": params_schema(specs, ParamsFor::Experiment) } }
            }))
        })
        .collect();
    (rules, names)
}

/// The schema of one parameter: its kind, its doc and its default.
fn param_schema(spec: &ParamSpec, used: ParamsFor) -> Value {
    let mut schema = match used {
        ParamsFor::Experiment => with_template_ref(kind_schema(spec.kind)),
        ParamsFor::Api => {
            let mut schema = kind_schema(spec.kind);
            schema.as_object_mut().map(|o| o.remove("examples"));
            schema
        }
    };
    let mut doc = spec.doc.to_string();
    if let Some(default) = spec.default {
        doc.push_str(&format!(" (default `{default}`)"));
        schema["default"] = default_value(spec.kind, default);
    }
    schema["description"] = json!(doc);
    schema
}

/// The value a parameter of `kind` takes, without the `${parameter}` alternative.
fn kind_schema(kind: ParamKind) -> Value {
    match kind {
        ParamKind::Integer { min, max } => json!({ "anyOf": [
            { "type": "integer", "minimum": min, "maximum": max },
            { "type": "string", "pattern": r"^\s*-?[0-9]+\s*$" }
        ]}),
        ParamKind::Percent { min, max } => json!({ "anyOf": [
            { "type": "number", "minimum": min, "maximum": max },
            { "type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%?\s*$" }
        ], "examples": ["50%", 50] }),
        ParamKind::Duration => json!({
            "type": "string",
            "pattern": r"^\s*([0-9]+(us|ms|s|m|h)\s*)+$",
            "examples": ["100ms", "30s", "5m"],
            "$comment": DURATION_FORMS
        }),
        ParamKind::Bytes => json!({ "anyOf": [
            { "type": "integer", "minimum": 1 },
            { "type": "string", "pattern": SIZE_PATTERN }
        ], "examples": ["64MiB", "1GB"] }),
        ParamKind::ByteRate => json!({
            "type": "string",
            "pattern": SIZE_RATE_PATTERN,
            "examples": ["20MiB/s"]
        }),
        ParamKind::Text => json!({ "type": ["string", "number", "boolean"] }),
        ParamKind::Choice(words) => json!({ "type": "string", "enum": words }),
        ParamKind::Bool => json!({ "anyOf": [{ "type": "boolean" }, { "type": "string", "enum": ["true", "false"] }] }),
        ParamKind::List => json!({ "anyOf": [
            { "type": "array", "items": { "type": ["string", "number", "boolean"] } },
            { "type": ["string", "number"], "description": "one value, or several separated by commas" }
        ]}),
        ParamKind::Argv => json!({
            "type": "array", "minItems": 1, "items": { "type": ["string", "number"] },
            "description": "a command as argv words (no shell unless you write `sh -c`)",
            "examples": [["/usr/local/bin/switch-primary", "--to", "replica"]]
        }),
        ParamKind::Request => json!({
            "type": "object",
            "required": ["url"],
            "additionalProperties": false,
            "properties": {
                "method": { "type": "string", "pattern": "^(?i)(GET|POST|PUT|PATCH|DELETE|HEAD)$" },
                "url": { "type": "string" },
                "headers": { "type": "object", "additionalProperties": { "anyOf": [
                    { "type": "string" },
                    { "type": "object", "required": ["env"], "additionalProperties": false,
                      "properties": { "env": { "type": "string" }, "prefix": { "type": "string" } } }
                ]}},
                "body": { "type": "string" },
                "status": { "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": r"^\s*[0-9]{3}\s*$" }] }
            }
        }),
    }
}

/// A size: a number and an optional unit (B, kB…TB, KiB…TiB), as `parse_bytes` reads it.
const SIZE_PATTERN: &str = r"^\s*[0-9]+(\.[0-9]+)?\s*(([KkMmGgTt][Ii]?)?[Bb])?\s*$";
/// A size per second, such as `20MiB/s`.
const SIZE_RATE_PATTERN: &str = r"^\s*[0-9]+(\.[0-9]+)?\s*(([KkMmGgTt][Ii]?)?[Bb])?/s\s*$";

/// `kind`, or a `${parameter}` reference (text kinds already take any string).
fn with_template_ref(schema: Value) -> Value {
    if schema.get("type") == Some(&json!(["string", "number", "boolean"])) {
        return schema;
    }
    let reference = json!({
        "type": "string",
        "pattern": TEMPLATE_REF,
        "description": "A template parameter, substituted before checking."
    });
    let mut schema = schema;
    // Keep examples on the outer schema, where editors look for them.
    let examples = schema.as_object_mut().and_then(|o| o.remove("examples"));
    let mut wrapped = match schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        Some(alternatives) => {
            alternatives.push(reference);
            schema
        }
        None => json!({ "anyOf": [schema, reference] }),
    };
    if let Some(examples) = examples {
        wrapped["examples"] = examples;
    }
    wrapped
}

/// A declared default (written as a user writes it) as the JSON value an editor inserts.
fn default_value(kind: ParamKind, default: &str) -> Value {
    match kind {
        ParamKind::Integer { .. } => default.parse::<i64>().map_or_else(|_| json!(default), |n| json!(n)),
        ParamKind::Percent { .. } => default.parse::<f64>().map_or_else(|_| json!(default), |n| json!(n)),
        ParamKind::Bool => default.parse::<bool>().map_or_else(|_| json!(default), |b| json!(b)),
        _ => json!(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "percent",
            kind: ParamKind::Percent { min: 1.0, max: 100.0 },
            default: Some("50"),
            required: false,
            doc: "load",
        },
        ParamSpec { name: "path", kind: ParamKind::Text, default: None, required: true, doc: "where" },
        ParamSpec {
            name: "mode",
            kind: ParamKind::Choice(&["add", "total"]),
            default: None,
            required: false,
            doc: "m",
        },
    ];

    #[test]
    fn a_fault_schema_names_its_keys_denies_others_and_requires_what_is_required() {
        let schema = params_schema(SPECS, ParamsFor::Experiment);
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["path"]));
        let percent = &schema["properties"]["percent"];
        assert_eq!(percent["default"], json!(50.0));
        assert_eq!(percent["description"], json!("load (default `50`)"));
        assert_eq!(percent["anyOf"][0]["maximum"], json!(100.0));
        assert_eq!(percent["anyOf"][2]["pattern"], json!(TEMPLATE_REF));
        assert_eq!(schema["properties"]["mode"]["anyOf"][0]["enum"], json!(["add", "total"]));
    }
}
