//! Malformed experiments under `tests/bad_input/`: `faultdrill validate` must
//! exit 64 and say exactly what is pinned in the snapshot (the real binary's stderr).

use std::path::Path;

use assert_cmd::Command;

/// Runs `faultdrill validate tests/bad_input/NAME.yaml` from the package root.
fn validate_stderr(name: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let file = format!("tests/bad_input/{name}.yaml");
    let out = Command::cargo_bin("faultdrill")
        .unwrap()
        .current_dir(root)
        .env("NO_COLOR", "1")
        .args(["validate", &file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{file}: exit code; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
    String::from_utf8(out.stderr).unwrap()
}

macro_rules! bad_input {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(stringify!($name), validate_stderr(stringify!($name)));
            }
        )+

        const ALL: &[&str] = &[$(stringify!($name)),+];
    };
}

bad_input!(
    after_cycle,
    bad_expectations,
    bad_guardrails,
    duplicates,
    fault_param_rules,
    merge_key_bad_value,
    merge_key_unknown_key_in_anchor,
    missing_required_keys,
    not_a_mapping,
    percent_out_of_range,
    tab_indentation,
    template_required_missing,
    template_undeclared_parameter,
    template_unused_parameter,
    template_wrong_type,
    undefined_group_in_after,
    undefined_target,
    unknown_fault,
    unknown_fault_param,
    unknown_key,
    unknown_top_level_key,
    wrong_types,
    wrong_version,
    yaml_syntax_error,
    zero_and_negative_durations,
);

#[test]
fn every_bad_input_file_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ALL, "list each tests/bad_input/*.yaml in bad_input!()");
    assert!(files.len() >= 15);
}
