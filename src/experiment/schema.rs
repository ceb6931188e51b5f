//! The JSON Schema of the experiment format, generated from the spec types.
//!
//! Two adjustments make it fit how files are really written: optional fields
//! are not nullable (the loader rejects `key: ~`), and every number, boolean,
//! list or fixed word may instead be a `${parameter}` reference (or a test of one that
//! gives a boolean, `${isolation == full}`), so templates validate too. Each fault's
//! `params` is checked by its own declaration (see `param_schema`), so an editor knows
//! every fault's keys and values.

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{Schema, json_schema};
use serde_json::Value;

use super::catalog::FaultCatalog;
use super::param_schema::per_fault_rules;
use super::spec::ExperimentSpec;

/// The schema, as pretty JSON with a trailing newline (what `faultdrill schema` prints).
pub fn schema_json(catalog: &dyn FaultCatalog) -> String {
    let mut text = serde_json::to_string_pretty(&schema(catalog)).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of [`ExperimentSpec`], with each of `catalog`'s faults' `params`.
pub fn schema(catalog: &dyn FaultCatalog) -> Schema {
    let mut schema =
        SchemaSettings::draft07().with_transform(FitFiles).into_generator().into_root_schema_for::<ExperimentSpec>();
    add_fault_params(&mut schema, catalog);
    schema
}

/// `fault` lists the catalog's names; `params` is checked by the fault's declaration.
fn add_fault_params(schema: &mut Schema, catalog: &dyn FaultCatalog) {
    let Some(action) = schema.get_mut("definitions").and_then(|d| d.get_mut("ActionSpec")) else { return };
    let (rules, names) = per_fault_rules(catalog);
    if let Some(fault) = action.pointer_mut("/properties/fault") {
        fault["enum"] = Value::from(names);
    }
    action["allOf"] = Value::from(rules);
}

#[derive(Clone)]
struct FitFiles;

impl Transform for FitFiles {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        drop_null(schema);
        let Some(obj) = schema.as_object() else { return };
        let kind = obj.get("type").and_then(Value::as_str);
        let is_leaf = obj.contains_key("enum") || matches!(kind, Some("integer" | "number" | "boolean" | "array"));
        if !is_leaf {
            return;
        }
        let mut original = std::mem::replace(schema, json_schema!({}));
        let description = original.remove("description");
        let mut wrapped = json_schema!({
            "anyOf": [
                original,
                {
                    "type": "string",
                    "pattern": "^\\$\\{[A-Za-z_][A-Za-z0-9_-]*( *[!=]= *[^}]*)?\\}$",
                    "description": "A template parameter (or a test of one, `${mode == full}`), substituted before checking."
                }
            ]
        });
        if let Some(d) = description {
            wrapped.insert("description".into(), d);
        }
        *schema = wrapped;
    }
}

/// `type: [X, "null"]` → `type: X`; `anyOf: [A, {type: null}]` → `A`.
fn drop_null(schema: &mut Schema) {
    let Some(obj) = schema.as_object_mut() else { return };
    if let Some(Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".into(), only);
        }
    }
    let Some(Value::Array(any)) = obj.get("anyOf") else { return };
    let rest: Vec<&Value> = any.iter().filter(|s| s.get("type").and_then(Value::as_str) != Some("null")).collect();
    if rest.len() == 1 && any.len() == 2 {
        let mut only = rest[0].clone();
        obj.remove("anyOf");
        if let (Some(inner), Some(outer)) = (only.as_object_mut(), Some(obj)) {
            for (k, v) in std::mem::take(outer) {
                inner.entry(k).or_insert(v);
            }
            *outer = std::mem::take(inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::experiment::decode::KEYS;
    use crate::experiment::test_catalog::TestCatalog;

    fn schema() -> Schema {
        super::schema(&TestCatalog)
    }

    fn schema_json() -> String {
        super::schema_json(&TestCatalog)
    }

    /// Every object schema, named by its definition (or, when schemars inlines
    /// it, by the spec type of the property holding it).
    fn objects<'s>(name: &str, schema: &'s Value, out: &mut Vec<(String, &'s Value)>) {
        const INLINED: &[(&str, &str)] = &[("expect", "ExpectSpec")];
        let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
        out.push((name.to_string(), schema));
        for (key, prop) in props {
            if let Some((_, spec)) = INLINED.iter().find(|(k, _)| k == key) {
                objects(spec, prop, out);
            }
        }
    }

    #[test]
    fn schema_property_names_equal_decoder_keys() {
        let schema = serde_json::to_value(schema()).unwrap();
        let mut found = Vec::new();
        objects("ExperimentSpec", &schema, &mut found);
        for (name, def) in schema["definitions"].as_object().unwrap() {
            objects(name, def, &mut found);
        }
        let mut checked = BTreeSet::new();
        for (name, def) in found {
            let props = def["properties"].as_object().unwrap();
            let in_schema: BTreeSet<&str> = props.keys().map(String::as_str).collect();
            let known =
                KEYS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("decoder has no keys for {name}"));
            let in_decoder: BTreeSet<&str> = known.1.iter().copied().collect();
            assert_eq!(in_schema, in_decoder, "keys of {name}");
            assert_eq!(def["additionalProperties"], Value::Bool(false), "{name} must deny unknown keys");
            checked.insert(name);
        }
        let all: BTreeSet<String> = KEYS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(checked, all, "every decoder object appears in the schema");
    }

    /// The words of a fixed-word field, wherever schemars put its schema.
    fn words_in(schema: &Value, def: &str, property: Option<(&str, &str)>) -> Vec<String> {
        let node = match property {
            None => &schema["definitions"][def],
            Some((owner, prop)) => &schema["definitions"][owner]["properties"][prop],
        };
        let node = if node.get("$ref").is_some() { &schema["definitions"][def] } else { node };
        node["anyOf"][0]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{def}: {node}"))
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn schema_words_equal_decoder_words() {
        use crate::experiment::spec::*;
        let schema = serde_json::to_value(schema()).unwrap();
        type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [&'a str]);
        let table: &[Case<'_>] = &[
            ("ModeWord", None, ModeWord::WORDS),
            ("RollbackWord", None, RollbackWord::WORDS),
            ("OnEmptyWord", None, OnEmptyWord::WORDS),
            ("CheckWord", None, CheckWord::WORDS),
            ("GuardrailActionWord", None, GuardrailActionWord::WORDS),
            ("HostMetricWord", Some(("MetricSpec", "host")), HostMetricWord::WORDS),
            ("ParamTypeWord", Some(("ParameterSpec", "type")), ParamTypeWord::WORDS),
        ];
        for (def, property, words) in table {
            assert_eq!(words_in(&schema, def, *property), *words, "{def}");
        }
    }

    #[test]
    fn nothing_is_nullable() {
        let text = schema_json();
        assert!(!text.contains("\"null\""), "{text}");
    }
}
