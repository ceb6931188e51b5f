//! Malformed experiments under `tests/bad_input/`: `faultdrill validate` must
//! exit 64 and say exactly what is pinned in the snapshot (the real binary's stderr).

#[path = "common/cli.rs"]
mod cli;

use std::path::Path;

use cli::{faultdrill, refusal, yaml_stems};

/// Runs `faultdrill validate tests/bad_input/NAME.yaml` from the package root.
fn validate_stderr(name: &str) -> String {
    let file = format!("tests/bad_input/{name}.yaml");
    refusal(&file, &faultdrill(&["validate", &file]))
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
    external_guardrails,
    fault_param_rules,
    merge_key_bad_value,
    merge_key_unknown_key_in_anchor,
    missing_required_keys,
    not_a_mapping,
    percent_out_of_range,
    security_fault_values,
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
    let files = yaml_stems(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input"));
    assert_eq!(files, ALL, "list each tests/bad_input/*.yaml in bad_input!()");
    assert!(files.len() >= 15);
}
