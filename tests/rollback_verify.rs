//! Must show: verification catches a fault that was not really undone. Each test
//! sabotages one undo the way it happens on real hosts and sees "rolled back, NOT
//! verified: <what is still there>" and exit 4; `recover` then retries it and, with the
//! sabotage gone, says "rolled back, verified":
//! - `nft delete table` that answers success without deleting (a wrapper first on PATH,
//!   as a broken or intercepted nft would);
//! - `tc qdisc del` that answers success without deleting (the same, for tc);
//! - a fill file deleted while another process (a backup agent, a log shipper) holds it
//!   open, so its space is not freed.
//!
//! A clean run says "rolled back, verified" per action in its report and JUnit. A daemon
//! checks its own rollbacks the same way: one not verified is answered as a failed
//! rollback, kept `failed` in its journal, and retried.

#[path = "common/daemon.rs"]
mod harness;
#[path = "common/netns.rs"]
mod netns;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `faultdrill --state-dir STATE ARGS`, with `path_first` (a folder of wrappers) first on PATH.
fn faultdrill(state: &Path, path_first: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env("NO_COLOR", "1").arg("--state-dir").arg(state).args(args);
    if let Some(dir) = path_first {
        cmd.env("PATH", format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()));
    }
    cmd.output().unwrap()
}

/// A folder holding an executable `name` wrapper with `script` as its body.
fn wrapper(name: &str, script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn real(program: &str) -> String {
    let out = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().unwrap();
    text(&out.stdout).trim().to_string()
}

/// An `nft` whose `delete table` succeeds without deleting anything.
fn nft_that_keeps_tables() -> tempfile::TempDir {
    wrapper("nft", &format!("[ \"$1\" = delete ] && [ \"$2\" = table ] && exit 0\nexec {} \"$@\"\n", real("nft")))
}

/// A `tc` whose `qdisc del` (in a batch) succeeds without deleting anything.
fn tc_that_keeps_qdiscs() -> tempfile::TempDir {
    let tc = real("tc");
    wrapper(
        "tc",
        &format!(
            "if [ \"$1\" = -batch ]; then\n  input=$(cat)\n  case \"$input\" in *\"qdisc del\"*) exit 0 ;; esac\n  \
             printf '%s\\n' \"$input\" | exec {tc} \"$@\"\nfi\nexec {tc} \"$@\"\n"
        ),
    )
}

fn assert_not_verified(out: &Output, still_there: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "exit 4 (rollback failed); stderr:\n{stderr}");
    assert!(stderr.contains("rolled back, NOT verified: "), "{stderr}");
    assert!(stderr.contains(still_there), "names what is still there ({still_there}): {stderr}");
}

/// `recover --all`, without the sabotage: the fault is really removed now, and verified.
fn assert_recovered(state: &Path, fault: &str) {
    let out = faultdrill(state, None, &["recover", "--all"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(&format!("{fault}: rolled back, verified")), "{stdout}");
}

#[test]
fn an_nft_table_still_there_after_its_delete_is_not_verified_and_exit_4() {
    let ns = netns::Netns::new("vnft");
    let state = tempfile::tempdir().unwrap();
    let wrappers = nft_that_keeps_tables();
    let netns_param = format!("netns={}", ns.name);
    let args = ["inject", "network-loss", "--param", "percent=30", "--param", "destinations=10.77.0.2"];
    let mut args = args.to_vec();
    args.extend(["--param", &netns_param, "--duration", "1s"]);
    let out = faultdrill(state.path(), Some(wrappers.path()), &args);
    assert_not_verified(&out, "nftables table inet faultdrill_");
    assert!(ns.exec(&["nft", "list", "tables"]).contains("faultdrill_"), "the sabotage left it");
    // `recover` retries it; while the sabotage lasts it says so, per injection, and exits 4.
    let again = faultdrill(state.path(), Some(wrappers.path()), &["recover", "--all"]);
    let stdout = text(&again.stdout);
    assert_eq!(again.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("network-loss: rolled back, NOT verified: nftables table inet faultdrill_"), "{stdout}");
    assert_recovered(state.path(), "network-loss");
    assert!(!ns.exec(&["nft", "list", "tables"]).contains("faultdrill_"));
}

#[test]
fn a_root_qdisc_still_there_after_its_delete_is_not_verified_and_exit_4() {
    let ns = netns::Netns::new("vtc");
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
    ns.ip(&["link", "set", "va", "up"]);
    let before = ns.exec(&["tc", "qdisc", "show", "dev", "va"]);
    let state = tempfile::tempdir().unwrap();
    let wrappers = tc_that_keeps_qdiscs();
    let netns_param = format!("netns={}", ns.name);
    let args = ["inject", "network-bandwidth", "--param", "rate=2mbit", "--param", "interface=va", "--param"];
    let mut args = args.to_vec();
    args.extend([netns_param.as_str(), "--duration", "1s"]);
    let out = faultdrill(state.path(), Some(wrappers.path()), &args);
    assert_not_verified(&out, "of va in network namespace");
    assert!(ns.exec(&["tc", "qdisc", "show", "dev", "va"]).contains("htb fd"), "the sabotage left it");
    assert_recovered(state.path(), "network-bandwidth");
    assert_eq!(ns.exec(&["tc", "qdisc", "show", "dev", "va"]), before, "back to the recorded root qdisc");
}

#[test]
fn a_fill_file_held_open_after_its_delete_is_not_verified_and_exit_4() {
    // On disk, not tmpfs: disk-fill refuses a memory-backed folder.
    let data = tempfile::Builder::new().prefix("fd-verify").tempdir_in("/var/tmp").unwrap();
    let state = tempfile::tempdir().unwrap();
    let path_param = format!("path={}", data.path().display());
    let (state_dir, data_dir) = (state.path().to_path_buf(), data.path().to_path_buf());
    let inject = std::thread::spawn(move || {
        faultdrill(
            &state_dir,
            None,
            &["inject", "disk-fill", "--param", &path_param, "--param", "size=2MiB", "--duration", "3s"],
        )
    });
    // A process that opens the fill file while it is held: here, this test.
    let fill = wait_for_fill(&data_dir);
    let held = std::fs::File::open(&fill).unwrap();
    let out = inject.join().unwrap();
    assert_not_verified(&out, "still holds it open, so its space is not freed");
    assert!(!fill.exists(), "the name is gone, its space is not");
    drop(held);
    assert_recovered(state.path(), "disk-fill");
}

fn wait_for_fill(dir: &Path) -> PathBuf {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).find(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("faultdrill-fill-")
                && std::fs::metadata(p).is_ok_and(|m| m.len() == 2 << 20)
        });
        if let Some(path) = found {
            return path;
        }
        assert!(Instant::now() < give_up, "no fill file appeared in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A run whose rollback is sabotaged says so per action in its report and JUnit; a clean
/// one says "rolled back, verified".
#[test]
fn the_report_and_junit_say_verified_or_not_per_action() {
    let ns = netns::Netns::new("vrun");
    let work = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 1\nname: verify-me\naction_groups:\n  - name: net\n    target: local\n    actions:\n      \
         - fault: network-partition\n        params: {{destinations: [10.77.0.2], netns: {}}}\n        duration: 1s\n",
        ns.name
    );
    let file = work.path().join("verify-me.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    let wrappers = nft_that_keeps_tables();
    for (sabotage, code, verdict) in
        [(None, 0, "rolled back, verified"), (Some(wrappers.path()), 4, "rolled back, NOT verified: nftables table")]
    {
        let state = tempfile::tempdir().unwrap();
        let junit = work.path().join("junit.xml");
        let out =
            faultdrill(state.path(), sabotage, &["run", &file, "--junit", &junit.display().to_string(), "--json"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{stdout}\n{}", text(&out.stderr));
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains(verdict), "JUnit says {verdict}: {xml}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints one document");
        let rollbacks = find_rollbacks(&json).unwrap_or_else(|| panic!("no rollbacks in {stdout}"));
        // A failed rollback is retried before the run ends: the last attempt is its result.
        let last = rollbacks.last().unwrap();
        let (ok, detail) = (last["verified"] == true, last["detail"].as_str().unwrap_or_default());
        assert!(if code == 0 { ok } else { !ok && detail.starts_with(verdict) }, "the JSON report: {stdout}");
        if sabotage.is_some() {
            assert_recovered(state.path(), "network-partition");
        }
    }
}

/// The `rollbacks` array of a report, wherever the JSON document nests it.
fn find_rollbacks(v: &serde_json::Value) -> Option<&Vec<serde_json::Value>> {
    match v {
        serde_json::Value::Object(map) => {
            map.get("rollbacks").and_then(|r| r.as_array()).or_else(|| map.values().find_map(find_rollbacks))
        }
        serde_json::Value::Array(items) => items.iter().find_map(find_rollbacks),
        _ => None,
    }
}

#[tokio::test]
async fn a_daemon_rollback_not_verified_is_a_failed_rollback_kept_for_retry() {
    use faultdrill::client::wire::InjectionRequest;
    use faultdrill::journal::InjectionState;
    let daemon = harness::Daemon::start(harness::DaemonSpec::default());
    let client = daemon.client();
    let data = tempfile::Builder::new().prefix("fd-verify").tempdir_in("/var/tmp").unwrap();
    let request = InjectionRequest {
        fault: "disk-fill".into(),
        params: [("path".to_string(), serde_json::json!(data.path())), ("size".to_string(), serde_json::json!("2MiB"))]
            .into(),
        duration: "60s".into(),
        lease: Some("60s".into()),
        run: None,
        dry_run: false,
    };
    let injection = client.inject(&request).await.unwrap();
    let held = std::fs::File::open(wait_for_fill(data.path())).unwrap();

    let err = client.rollback(&injection.id, "test: sabotaged").await.expect_err("not verified is a failure");
    let said = faultdrill::engine::error_chain(&err);
    assert!(said.contains("rolled back, NOT verified: ") && said.contains("still holds it open"), "{said}");
    let record = daemon.journal().get(&injection.id).unwrap().unwrap();
    assert_eq!(record.state, InjectionState::Failed, "kept for retry");
    assert!(record.note.unwrap_or_default().contains("NOT verified"));

    drop(held);
    let retried = client.rollback(&injection.id, "test: retry").await.expect("verified once the holder is gone");
    assert!(retried.outcome.is_some(), "{retried:?}");
    assert_eq!(daemon.journal().get(&injection.id).unwrap().unwrap().state, InjectionState::RolledBack);
}
