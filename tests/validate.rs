//! `faultdrill validate` and `faultdrill schema` through the real binary.

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;

use cli::{faultdrill, text};

#[test]
fn validate_reports_every_problem_of_every_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, "version: 1\nname: a\nbogus: 1\naction_groups: []\n").unwrap();
    std::fs::write(&b, "version: 1\nname: [b\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    let out = faultdrill(&["validate", a.to_str().unwrap(), b.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = text(&out.stderr);
    for expected in [
        format!("{}:3:1", a.display()),
        "unknown key `bogus` in experiment".into(),
        "`action_groups` is empty".into(),
        format!("{}:3:1", b.display()),
        "invalid YAML".into(),
        format!("error: {}: cannot read the file", missing.display()),
        "error: 4 problems in 3 files".into(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn validate_takes_template_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    let template = "version: 1\nname: t\nparameters:\n  who: {type: string, required: true}\naction_groups:\n  - name: g\n    actions: [{fault: process-kill, params: {name: \"${who}\"}}]\n";
    std::fs::write(&file, template).unwrap();
    let out = faultdrill(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("parameter `who` is required but has no value; pass --set who=VALUE"));
    let out = faultdrill(&["validate", file.to_str().unwrap(), "--set", "who=sleep"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = faultdrill(&["validate", file.to_str().unwrap(), "--set", "who"]);
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(64), "error: --set `who`: expected NAME=VALUE\n".into()));
}

#[test]
fn validate_needs_a_file() {
    let out = faultdrill(&["validate"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
}

#[test]
fn committed_schema_matches_the_binary() {
    let out = faultdrill(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/experiment.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &out.stdout).unwrap();
        return;
    }
    assert!(
        committed == text(&out.stdout),
        "schema/experiment.schema.json is stale: run `UPDATE_SCHEMA=1 cargo nextest run -E 'test(committed_schema)'`"
    );
}

/// The YAML files editors should check against the schema.
fn experiment_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["experiments", "templates"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_experiment_and_template_carries_the_schema_modeline() {
    let files = experiment_files();
    assert!(!files.is_empty());
    for file in files {
        let first = std::fs::read_to_string(&file).unwrap().lines().next().unwrap_or_default().to_string();
        assert_eq!(first, "# yaml-language-server: $schema=../schema/experiment.schema.json", "{}", file.display());
    }
}

#[test]
fn every_experiment_and_template_validates_against_the_schema() {
    // An independent validator (Python's jsonschema, installed by tests/setup.sh),
    // so the schema is checked as editors will read it, not as we generate it.
    let script = r#"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    for error in validator.iter_errors(yaml.safe_load(open(path))):
        bad += 1
        print(f"{path}: {'/'.join(map(str, error.path))}: {error.message}")
sys.exit(1 if bad else 0)
"#;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = experiment_files();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root.join("schema/experiment.schema.json"))
        .args(&files)
        .output()
        .expect("python3 (tests/setup.sh installs python3-jsonschema and python3-yaml)");
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft7Validator(schema)
doc = {"version": 1, "name": "x", "action_groups": [{"name": "g", "actions": [{"fault": "cpu-burn", "duraton": "5s"}]}]}
errors = [e.message for e in v.iter_errors(doc)]
print(errors)
sys.exit(0 if any("duraton" in e for e in errors) else 1)
"#;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root.join("schema/experiment.schema.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// Python's jsonschema on YAML files: `(file, error)` per schema error.
fn schema_errors(files: &[&Path]) -> Vec<String> {
    let script = r#"
import json, sys, yaml, jsonschema
v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
def leaves(e):
    # The deepest reasons under an `anyOf`: what an editor underlines.
    return [l for c in e.context for l in leaves(c)] if e.context else [e]
for path in sys.argv[2:]:
    for e in v.iter_errors(yaml.safe_load(open(path))):
        for l in leaves(e):
            print(f"{path}: {'/'.join(map(str, l.absolute_path))}: {l.message}")
"#;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(root.join("schema/experiment.schema.json"))
        .args(files)
        .output()
        .expect("python3 (tests/setup.sh installs python3-jsonschema and python3-yaml)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn the_schema_checks_each_faults_params_as_validate_does() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, params: &str| {
        let path = dir.path().join(name);
        let body = format!(
            "version: 1\nname: {name}\naction_groups:\n  - name: g\n    actions:\n      - fault: cpu-burn\n        duration: 5s\n        params: {params}\n"
        );
        std::fs::write(&path, body).unwrap();
        path
    };
    let good = write("good.yaml", "{percent: 30%, cores: 1, mode: total}");
    let misspelled = write("misspelled.yaml", "{precent: 30, cores: 1}");
    let bad_word = write("bad-word.yaml", "{percent: 30, mode: totl}");
    let too_much = write("too-much.yaml", "{percent: 130}");

    assert_eq!(schema_errors(&[&good]), Vec::<String>::new(), "a correct experiment is accepted");
    for (file, needle) in [(&misspelled, "'precent' was unexpected"), (&bad_word, "totl"), (&too_much, "130")] {
        let errors = schema_errors(&[file]);
        assert!(errors.iter().any(|e| e.contains(needle)), "{}: {errors:?}", file.display());
    }

    // `validate` says the same, at the key's or the value's file:line:col.
    let out = faultdrill(&["validate", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (file, place, message) in [
        (&misspelled, "8:18", "unknown parameter `precent`; did you mean `percent`?"),
        (&bad_word, "8:37", "parameter `mode`: expected one of add, total, found `totl`"),
        (&too_much, "8:27", "parameter `percent`: 130 is out of range 1..100 percent"),
    ] {
        let out = faultdrill(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(64));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("{}:{place}", file.display())), "{place} in {stderr}");
        assert!(stderr.contains(message), "{message} in {stderr}");
    }
}

#[test]
fn the_schema_has_every_faults_params_with_its_declared_keys() {
    let out = faultdrill(&["faults", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let library: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = faultdrill(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = schema["definitions"]["ActionSpec"]["allOf"].as_array().unwrap();
    for fault in library["faults"].as_array().unwrap() {
        let name = &fault["name"];
        let rule = rules
            .iter()
            .find(|r| &r["if"]["properties"]["fault"]["const"] == name)
            .unwrap_or_else(|| panic!("no params rule for {name}"));
        let params = &rule["then"]["properties"]["params"];
        let mut in_schema: Vec<&str> = params["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut declared: Vec<&str> =
            fault["params"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        in_schema.sort();
        declared.sort();
        assert_eq!(in_schema, declared, "{name}");
        assert_eq!(params["additionalProperties"], serde_json::Value::Bool(false), "{name}");
    }
}

#[test]
fn validate_says_ok_per_good_file_with_counts() {
    let out = faultdrill(&["validate", "experiments/quickstart.yaml", "templates/cpu-saturation.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "ok: experiments/quickstart.yaml (1 group, 1 action)\nok: templates/cpu-saturation.yaml (1 group, 1 action)\n"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn every_example_experiment_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<String> = experiment_files()
        .into_iter()
        .filter(|f| f.starts_with(root.join("experiments")))
        .map(|f| f.display().to_string())
        .collect();
    assert!(!files.is_empty());
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = faultdrill(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), files.len());
}
