//! Pinned messages for template parameter mistakes on a real drill
//! (`process-crash-recovery`): a wrong type, a missing required parameter and an
//! undeclared one, through `faultdrill template render` and `faultdrill validate`.

#[path = "common/cli.rs"]
mod cli;

use cli::{faultdrill, refusal};

/// The stderr of a command that must be refused (exit 64, nothing on stdout).
fn invalid(args: &[&str]) -> String {
    refusal(&format!("{args:?}"), &faultdrill(args))
}

/// `template render process-crash-recovery` with the required `process` and one more `--set`.
fn render_with(set: &str) -> String {
    invalid(&["template", "render", "process-crash-recovery", "--set", "process=my-service", "--set", set])
}

#[test]
fn drill_wrong_parameter_type() {
    insta::assert_snapshot!(render_with("recovery=soon"));
}

#[test]
fn drill_missing_required_parameter() {
    insta::assert_snapshot!(invalid(&["template", "render", "process-crash-recovery"]));
}

#[test]
fn drill_undeclared_parameter() {
    insta::assert_snapshot!(render_with("recovry=3s"));
}

#[test]
fn drill_enum_value_not_in_the_list() {
    insta::assert_snapshot!(render_with("signal=SIGSTOP"));
}

#[test]
fn drill_file_validated_without_its_required_parameters() {
    insta::assert_snapshot!(invalid(&["validate", "templates/cross-az-dr.yaml"]));
}
