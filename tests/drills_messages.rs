//! Pinned messages for template parameter mistakes on a real drill
//! (`process-crash-recovery`): a wrong type, a missing required parameter and an
//! undeclared one, through `faultdrill template render` and `faultdrill validate`.

use std::process::Output;

use assert_cmd::Command;

fn faultdrill(args: &[&str]) -> Output {
    Command::cargo_bin("faultdrill")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

/// The stderr of a command that must fail with exit 64 and print nothing on stdout.
fn invalid(args: &[&str]) -> String {
    let out = faultdrill(args);
    assert_eq!(out.status.code(), Some(64), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn drill_wrong_parameter_type() {
    insta::assert_snapshot!(invalid(&[
        "template",
        "render",
        "process-crash-recovery",
        "--set",
        "process=my-service",
        "--set",
        "recovery=soon",
    ]));
}

#[test]
fn drill_missing_required_parameter() {
    insta::assert_snapshot!(invalid(&["template", "render", "process-crash-recovery"]));
}

#[test]
fn drill_undeclared_parameter() {
    insta::assert_snapshot!(invalid(&[
        "template",
        "render",
        "process-crash-recovery",
        "--set",
        "process=my-service",
        "--set",
        "recovry=3s",
    ]));
}

#[test]
fn drill_enum_value_not_in_the_list() {
    insta::assert_snapshot!(invalid(&[
        "template",
        "render",
        "process-crash-recovery",
        "--set",
        "process=my-service",
        "--set",
        "signal=SIGSTOP",
    ]));
}

#[test]
fn drill_file_validated_without_its_required_parameters() {
    insta::assert_snapshot!(invalid(&["validate", "templates/cross-az-dr.yaml"]));
}
