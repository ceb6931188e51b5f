//! cross-az-dr refuses wrong parameters, naming them: host bits under a prefix, a failed
//! zone equal to the surviving zone, a zone no host carries (naming the zones found); and a
//! string parameter is used exactly as given, trailing space included; `surviving_cidrs` that
//! miss a surviving-zone daemon, or hold a failed-zone one, are refused naming the address
//! and the host (checked against the inventory).

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

fn faultdrill(args: &[&str]) -> Output {
    let state = tempfile::tempdir().unwrap();
    Command::new(BIN).arg("--state-dir").arg(state.path()).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

const REQUIRED: [&str; 6] = [
    "--set",
    "service_pattern=[m]yapp",
    "--set",
    "front_url=http://127.0.0.1:9/",
    "--set",
    "failed_zone_url=http://{address}:9/",
];

#[test]
fn drills_truth_host_bits_under_a_prefix_are_refused() {
    let mut args = vec!["validate", "templates/cross-az-dr.yaml", "--set", "surviving_cidrs=10.210.2.0/16"];
    args.extend(REQUIRED);
    let out = faultdrill(&args);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let text = text(&out);
    assert!(text.contains("`10.210.2.0/16` has host bits set under its /16 prefix: write `10.210.0.0/16`"), "{text}");
}

#[test]
fn drills_truth_a_failed_zone_equal_to_the_surviving_zone_is_refused() {
    let mut args = vec![
        "validate",
        "templates/cross-az-dr.yaml",
        "--set",
        "surviving_cidrs=10.210.2.0/24",
        "--set",
        "failed_zone=az-2",
    ];
    args.extend(REQUIRED);
    let out = faultdrill(&args);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let text = text(&out);
    assert!(
        text.contains("parameter `failed_zone` is `az-2`, the same as `surviving_zone`; they must differ"),
        "{text}"
    );
    assert!(text.contains("templates/cross-az-dr.yaml:"), "it points into the template: {text}");
}

#[test]
fn drills_truth_string_parameters_are_never_trimmed() {
    let out = faultdrill(&[
        "template",
        "render",
        "cross-az-dr",
        "--set",
        "surviving_cidrs=10.210.2.0/24",
        "--set",
        "service_pattern=^/usr/bin/myapp ",
        "--set",
        "front_url=http://127.0.0.1:9/",
        "--set",
        "failed_zone_url=http://{address}:9/",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(rendered.contains("\"^/usr/bin/myapp \""), "the trailing space is kept:\n{rendered}");
}

#[test]
fn drills_truth_a_zone_no_host_carries_names_the_zones_found() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        "hosts:\n  - name: a1h1\n    url: http://127.0.0.1:9\n    labels: {zone: az-1}\n  \
         - name: a2h1\n    url: http://127.0.0.1:9\n    labels: {zone: az-2}\n",
    )
    .unwrap();
    let mut args = vec![
        "run",
        "--template",
        "cross-az-dr",
        "--inventory",
        inventory.to_str().unwrap(),
        "--dry-run",
        "--set",
        "surviving_cidrs=10.210.2.0/24",
        "--set",
        "failed_zone=az1",
    ];
    args.extend(REQUIRED);
    let out = faultdrill(&args);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let text = text(&out);
    assert!(
        text.contains("resolve target failed-zone: no host has zone=az1 (`zone` values in the inventory: az-1, az-2)"),
        "{text}"
    );
}

/// `run --dry-run` of cross-az-dr against two daemons that are never reached (the inventory
/// is checked before anything is asked of them).
fn run_against_inventory(surviving_cidrs: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        "hosts:\n  - name: a1h1\n    url: http://10.210.1.11:7878\n    labels: {zone: az-1}\n  \
         - name: a2h1\n    url: http://10.210.2.11:7878\n    labels: {zone: az-2}\n",
    )
    .unwrap();
    let cidrs = format!("surviving_cidrs={surviving_cidrs}");
    let mut args = vec!["run", "--template", "cross-az-dr", "--inventory", inventory.to_str().unwrap(), "--dry-run"];
    args.extend(["--set", &cidrs]);
    args.extend(REQUIRED);
    faultdrill(&args)
}

#[test]
fn drills_truth_surviving_cidrs_that_miss_a_surviving_daemon_are_refused_naming_it() {
    let out = run_against_inventory("10.210.3.0/24");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let text = text(&out);
    assert!(
        text.contains(
            "against the inventory: it must hold the address of every host of target `surviving-zone`, but \
             10.210.2.11 (host a2h1, http://10.210.2.11:7878) is in none of 10.210.3.0/24; add it, or correct \
             the inventory"
        ),
        "{text}"
    );
    let line =
        include_str!("../templates/cross-az-dr.yaml").lines().position(|l| l == "  surviving_cidrs:").unwrap() + 1;
    let at = format!("check parameter `surviving_cidrs` (templates/cross-az-dr.yaml:{line}:3)");
    assert!(text.contains(&at), "it points at the parameter ({at}): {text}");
}

#[test]
fn drills_truth_surviving_cidrs_that_hold_a_failed_zone_daemon_are_refused_naming_it() {
    let out = run_against_inventory("10.210.0.0/16");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let text = text(&out);
    assert!(
        text.contains(
            "it must hold no address of target `failed-zone`, but 10.210.0.0/16 holds 10.210.1.11 (host a1h1, \
             http://10.210.1.11:7878); the drill would cut those hosts off from themselves, not from the others"
        ),
        "{text}"
    );
}
