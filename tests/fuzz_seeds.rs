//! Every committed fuzz seed and every crash input the fuzzers found (tests/fuzz/seeds/TARGET,
//! tests/fuzz/regressions/TARGET) through the same entry points as the cargo-fuzz targets:
//! each ends in a result or an error, never a panic. A crash found by `bench/fuzz.sh` is
//! fixed, and its input added under tests/fuzz/regressions/ so it stays fixed.

use std::path::Path;

use faultdrill::daemon::fuzz_entry;

/// The inputs of one target, with their file names.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else { continue };
        for entry in dir.flatten() {
            out.push((entry.path().display().to_string(), std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

fn each(target: &str, at_least: usize, f: impl Fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= at_least, "{target}: only {} inputs", inputs.len());
    for (name, bytes) in inputs {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&bytes))).is_err() {
            panic!("{name} made the {target} entry point panic");
        }
    }
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

#[test]
fn experiment_seeds_load_or_fail_cleanly() {
    let mut loaded = 0;
    each("experiment", 10, |b| {
        if let Some(t) = text(b) {
            let _ = faultdrill::experiment::load_str("seed.yaml", t, &[], faultdrill::fault::catalog());
        }
    });
    for (_, b) in inputs("experiment").iter().filter(|(n, _)| n.contains("experiments-")) {
        let t = text(b).unwrap();
        loaded += usize::from(faultdrill::experiment::load_str("x", t, &[], faultdrill::fault::catalog()).is_ok());
    }
    assert!(loaded >= 3, "the example experiments are valid seeds");
}

#[test]
fn template_render_seeds_render_or_fail_cleanly() {
    each("template_render", 6, |b| {
        let Some(input) = text(b) else { return };
        let (sets, text) = input.split_once('\0').unwrap_or(("", input));
        let args: Vec<String> = sets.lines().map(String::from).collect();
        if let Ok(sets) = faultdrill::experiment::parse_sets(&args) {
            let _ = faultdrill::experiment::render_str("seed.yaml", text, &sets, faultdrill::fault::catalog());
        }
    });
}

#[test]
fn inventory_seeds_parse_or_fail_cleanly() {
    each("inventory", 3, |b| {
        if let Some(t) = text(b) {
            let _ = faultdrill::client::Inventory::parse(Path::new("inventory.yaml"), t);
        }
    });
}

#[test]
fn api_body_seeds_are_checked_or_refused_cleanly() {
    each("api_injection", 5, |b| {
        let _ = fuzz_entry::injection_body(b);
    });
    each("api_run", 3, |b| {
        let _ = fuzz_entry::run_body(b);
    });
    each("alertmanager", 4, |b| {
        let _ = fuzz_entry::alertmanager_body(b);
    });
    assert_eq!(
        fuzz_entry::injection_body(br#"{"fault":"cpu-burn","params":{"percent":50,"cores":1},"duration":"60s"}"#),
        Ok(())
    );
    assert!(fuzz_entry::injection_body(br#"{"fault":"nope","duration":"1s"}"#).unwrap_err().contains("unknown fault"));
}
