//! Units mean something (issue 12, item 3): a threshold with a unit against a source
//! without one is a `validate` error at `file:line:col`; sizes are exact (`1GB` is 10⁹
//! bytes, `1GiB` 2³⁰, nothing rounded); durations take only the documented forms. The
//! messages are pinned with insta.

#[path = "common/cli.rs"]
mod cli;

use cli::{faultdrill, refusal, text};

fn validate_stderr(name: &str) -> String {
    let file = format!("tests/verdicts_input/{name}.yaml");
    refusal(&file, &faultdrill(&["validate", &file]))
}

#[test]
fn a_threshold_with_a_unit_against_a_unitless_source_is_an_error() {
    insta::assert_snapshot!("units_against_unitless_sources", validate_stderr("units_against_unitless_sources"));
}

#[test]
fn sizes_are_exact_and_durations_take_only_the_documented_forms() {
    insta::assert_snapshot!("sizes_and_durations", validate_stderr("sizes_and_durations"));
}

#[test]
fn units_that_match_their_source_validate() {
    let out = faultdrill(&["validate", "tests/verdicts_input/units_accepted.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn one_gb_is_ten_to_the_ninth_bytes_and_one_gib_two_to_the_thirtieth() {
    use faultdrill::experiment::parse_bytes;
    assert_eq!(parse_bytes("1GB"), Ok(1_000_000_000));
    assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
    // The dry run shows the size a fault is given, exactly.
    let dir = tempfile::tempdir().unwrap();
    for (size, bytes) in [("1GB", "1000000000"), ("1GiB", "1073741824")] {
        let out = faultdrill(&[
            "inject",
            "memory-stress",
            "--param",
            &format!("size={size}"),
            "--duration",
            "1s",
            "--dry-run",
            "--state-dir",
            &dir.path().display().to_string(),
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert!(stdout.contains(bytes), "{size} is {bytes} bytes:\n{stdout}");
    }
}
