//! YAML merge keys (`<<: *anchor`) through the real binary: a file that uses them loads,
//! validates and dry-runs exactly like the same file written out in full
//! (`tests/merge_keys/`). Mistakes in them are pinned in `tests/bad_input/merge_key_*`.

use std::process::Output;

use assert_cmd::Command;

fn faultdrill(state: &std::path::Path, args: &[&str]) -> Output {
    Command::cargo_bin("faultdrill")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("FAULTDRILL_STATE_DIR")
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What differs between two dry runs of one plan: injection ids, deadlines, timestamps.
fn without_run_specifics(plan: &str) -> String {
    let mut out = Vec::new();
    let mut after_deadline = false;
    for token in plan.split(' ') {
        let is_id = token.len() == 12 && token.starts_with("i-");
        let is_time = token.len() == 20 && token.ends_with('Z') && token.as_bytes()[10] == b'T';
        out.push(match () {
            () if is_id => "i-ID",
            () if after_deadline => "DEADLINE",
            () if is_time => "TIME",
            () => token,
        });
        after_deadline = token == "--deadline-ms";
    }
    out.join(" ")
}

#[test]
fn merge_keys_validate_and_plan_like_the_expanded_file() {
    let state = tempfile::tempdir().unwrap();
    let [merged, expanded] = ["tests/merge_keys/merged.yaml", "tests/merge_keys/expanded.yaml"];
    for file in [merged, expanded] {
        let out = faultdrill(state.path(), &["validate", file]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("ok: {file} (2 groups, 4 actions)\n"));
    }
    for format in [&["--dry-run"][..], &["--dry-run", "--json"]] {
        let plans: Vec<String> = [merged, expanded]
            .iter()
            .map(|file| {
                let out = faultdrill(state.path(), &[&["run", file][..], format].concat());
                assert_eq!(out.status.code(), Some(0), "{file} {format:?}: {}", text(&out.stderr));
                without_run_specifics(&text(&out.stdout))
            })
            .collect();
        assert_eq!(plans[0], plans[1], "{format:?}: merged.yaml plans like expanded.yaml");
        // What the merges decided (explicit keys win; in a list the first mapping wins).
        if format.len() == 1 {
            for line in [
                "  warm-up/cpu-burn#2 for 30s [cores=1 mode=add percent=20.0]",
                "  heavier/cpu-burn#1 for 10s [cores=1 mode=add percent=10.0]",
                "  heavier/cpu-burn#2 for 5s [cores=1 mode=total percent=30.0]",
                "guardrail: cpu-guard: breach > 99 for 3 sample(s) every 1s; unmeasured samples count as breaching (on_unmeasured: breach)",
            ] {
                assert!(plans[0].lines().any(|l| l == line), "{line:?} in:\n{}", plans[0]);
            }
        }
    }
    let journal = faultdrill::journal::Journal::open(state.path()).unwrap();
    assert!(journal.recent(10).unwrap().is_empty(), "a dry run journals nothing");
}
