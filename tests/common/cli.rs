//! The real binary for one-shot command-line tests: run to completion with colours
//! off, its output as text, and the YAML files a folder holds.
//!
//! Include it with `#[path = "common/cli.rs"] mod cli;`.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

/// Runs `faultdrill ARGS` from the package root (where `templates/` and `tests/` are).
pub fn faultdrill(args: &[&str]) -> Output {
    faultdrill_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs `faultdrill ARGS` from `dir`.
pub fn faultdrill_in(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("faultdrill").unwrap().current_dir(dir).env("NO_COLOR", "1").args(args).output().unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The names (without `.yaml`) of the YAML files in `dir`, sorted.
pub fn yaml_stems(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The stderr of a run that must have refused its input: exit 64 and nothing on stdout.
/// `what` names the run in failure messages.
pub fn refusal(what: &str, out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(64),
        "{what}: exit code; stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
    text(&out.stderr)
}
