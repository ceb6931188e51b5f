//! Must show: `tc` or `nft` failing on its Nth call (a wrapper first on PATH that fails call
//! N and passes every other call to the real tool), for every N a run makes, ends with
//! nothing injected or everything rolled back, an outcome that says so, and a message
//! naming the failure; where a rollback failed (exit 4), the message says to run
//! `faultdrill recover`, and that then leaves nothing.

mod run_common;
#[path = "torture_common/mod.rs"]
mod torture_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use faultdrill::journal::Journal;
use run_common::{experiment, faultdrill};
use torture_common::{World, recover_all, wait_for_orphan_tools};

const TOOLS: [&str; 2] = ["tc", "nft"];

/// Wrappers for `tc` and `nft` in `dir/bin`: each counts its calls in `dir/count.TOOL` and
/// fails the call whose number is in `dir/fail.TOOL`.
fn wrappers(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in TOOLS {
        let real =
            ["/usr/sbin", "/sbin", "/usr/bin"].iter().map(|d| format!("{d}/{tool}")).find(|p| Path::new(p).exists());
        let d = dir.display();
        let script = format!(
            "#!/bin/sh\n\
             n=$(flock {d}/lock.{tool} sh -c 'n=$(( $(cat {d}/count.{tool} 2>/dev/null || echo 0) + 1 )); echo $n > {d}/count.{tool}; echo $n')\n\
             if [ \"$n\" = \"$(cat {d}/fail.{tool} 2>/dev/null)\" ]; then\n\
               echo \"{tool}: injected failure of call $n\" >&2\n\
               exit 1\n\
             fi\n\
             exec {} \"$@\"\n",
            real.unwrap()
        );
        let path = bin.join(tool);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn count(dir: &Path, tool: &str) -> usize {
    std::fs::read_to_string(dir.join(format!("count.{tool}"))).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// What one run with `tool`'s call `n` failing did.
struct Case {
    code: Option<i32>,
    outcome: String,
    reason: String,
    stderr: String,
    recovered: bool,
}

fn run_case(world: &World, tool: &str, n: usize) -> Case {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bin = wrappers(dir.path());
    std::fs::write(dir.path().join(format!("fail.{tool}")), n.to_string()).unwrap();
    let yaml = format!(
        "version: 1\nname: tools\naction_groups:\n  - name: net\n    target: local\n    mode: parallel\n    actions:\n{}{}",
        world.action("network-bandwidth", "500ms", 0),
        world.action("network-loss", "500ms", 0)
    );
    let file = experiment(dir.path(), "tools.yaml", &yaml);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = faultdrill(state.path()).arg("run").arg(&file).arg("--json").env("PATH", path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let text = |key: &str| report[key].as_str().unwrap_or_default().to_string();
    wait_for_orphan_tools(world);
    let live = Journal::open(state.path()).unwrap().live().unwrap().len();
    // A failed rollback stays in the journal; `recover --all` (tools working) finishes it.
    let recovered = live > 0 && recover_all(state.path()).0 == Some(0);
    Case { code: out.status.code(), outcome: text("outcome"), reason: text("reason"), stderr, recovered }
}

#[test]
fn tc_or_nft_failing_on_any_call_ends_clean_with_a_clear_outcome() {
    if !run_common::root_or_skip(module_path!()) {
        return;
    }
    let world = World::new("t", 47_341);
    let before = world.ns.snapshot();
    // How many calls a whole run makes when nothing fails.
    let calls: Vec<usize> = TOOLS.iter().map(|t| count_of_whole_run(&world, t)).collect();
    let started = Instant::now();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for (tool, total) in TOOLS.iter().zip(&calls) {
        for n in 1..=*total {
            let case = run_case(&world, tool, n);
            let now = world.ns.snapshot();
            let message = case.reason.clone();
            lines.push(format!(
                "{tool} call {n:>2} of {total}: exit {:?} {:<18} {}{}",
                case.code,
                case.outcome,
                if case.recovered { "[recover --all finished it] " } else { "" },
                message
            ));
            let named = case.stderr.contains(&format!("{tool}: injected failure of call {n}"));
            let ok = now == before
                && match case.code {
                    Some(0) => named,
                    Some(3) | Some(5) => named && !case.recovered,
                    Some(4) => named && case.recovered && case.stderr.contains("faultdrill recover"),
                    _ => false,
                };
            if !ok {
                bad.push(format!("{tool} call {n}: exit {:?}, named {named}\n{}\n{now}", case.code, case.stderr));
            }
        }
    }
    println!("\n{}\n{} cases in {:.1?}", lines.join("\n"), lines.len(), started.elapsed());
    assert!(bad.is_empty(), "cases not clean:\n{}", bad.join("\n----\n"));
}

/// The calls `tool` gets in a whole run where nothing fails.
fn count_of_whole_run(world: &World, tool: &str) -> usize {
    let (state, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bin = wrappers(dir.path());
    let yaml = format!(
        "version: 1\nname: tools\naction_groups:\n  - name: net\n    target: local\n    mode: parallel\n    actions:\n{}{}",
        world.action("network-bandwidth", "500ms", 0),
        world.action("network-loss", "500ms", 0)
    );
    let file = experiment(dir.path(), "tools.yaml", &yaml);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = faultdrill(state.path()).arg("run").arg(&file).env("PATH", path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    count(dir.path(), tool)
}
