//! Must show: `recover --sweep` finds and undoes 100 % of what a run killed with kill -9
//! left behind once its journal is deleted, for every fault kind a sweep can find:
//! disk-fill (its sidecar), cpu-burn, memory-stress and tcp-proxy-latency (tagged helpers),
//! process-pause (its sidecar), network-loss and network-partition (nft tables) and
//! network-bandwidth (a root qdisc). network-delay also leaves a root qdisc under a
//! faultdrill handle, but this kernel has no netem to build one, so it is not run here.
//!
//! The whole scene runs in a PID and network namespace of its own (`unshare`), so the
//! sweep, which undoes everything faultdrill owns on "this host", sees only what this test
//! made and never the faults of tests running beside it. The state (qdiscs, nft ruleset,
//! fill folder, the paused process's state, tagged helpers) is compared before and after.

#[path = "common/netns.rs"]
mod netns;

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_faultdrill");

/// The scene, as a shell script run as PID 1 of fresh namespaces: writes before.txt,
/// during.txt, dry.txt, sweep.txt (with sweep.rc) and after.txt into the work folder.
const SCENE: &str = r#"
set -u
W="$1"; BIN="$2"; S="$W/state"; DATA="$W/data"
ip link set lo up
ip link add va type veth peer name vb
ip link set va up; ip link set vb up
ip addr add 10.99.0.1/24 dev va
sleep 600 & SLEEPER=$!
snap() {
  echo "--- qdiscs"; tc qdisc show
  echo "--- nft"; nft list ruleset
  echo "--- data"; ls -A "$DATA"
  echo "--- sleeper"; ps -o stat= -p "$SLEEPER" | cut -c1
  echo "--- helpers"; pgrep -fc ' helper ' || true
}
snap > "$W/before.txt"
sed "s/SLEEPER_PID/$SLEEPER/" "$W/swept.yaml" > "$W/run.yaml"
"$BIN" --state-dir "$S" run "$W/run.yaml" > "$W/run.out" 2> "$W/run.err" &
RUN=$!
i=0
while [ "$(sqlite3 "$S/journal.db" "select count(*) from injections where state = 'active'" 2>/dev/null)" != "8" ]; do
  i=$((i + 1)); [ $i -gt 600 ] && { echo "faults never all in place" > "$W/fail.txt"; exit 1; }
  sleep 0.05
done
snap > "$W/during.txt"
kill -9 $RUN; wait $RUN 2>/dev/null
rm -f "$S"/journal.db*
"$BIN" --state-dir "$S" recover --sweep --dry-run > "$W/dry.txt" 2> "$W/dry.err"
snap > "$W/after_dry.txt"
T0=$(date +%s%N)
"$BIN" --state-dir "$S" recover --sweep > "$W/sweep.txt" 2> "$W/sweep.err"; echo $? > "$W/sweep.rc"
echo $(( ($(date +%s%N) - T0) / 1000000 )) > "$W/sweep.ms"
snap > "$W/after.txt"
"$BIN" --state-dir "$S" recover --sweep > "$W/again.txt" 2> "$W/again.err"; echo $? > "$W/again.rc"
ls -A "$S/paused" "$S/fills" > "$W/sidecars.txt" 2>&1
kill $SLEEPER
"#;

const EXPERIMENT: &str = "version: 1
name: swept
action_groups:
  - name: everything
    target: local
    mode: parallel
    actions:
      - fault: disk-fill
        params: {path: DATA, size: 4MiB}
        duration: 120s
      - fault: cpu-burn
        params: {percent: 5, cores: 1}
        duration: 120s
      - fault: memory-stress
        params: {size: 8MiB}
        duration: 120s
      - fault: process-pause
        params: {pid: SLEEPER_PID}
        duration: 120s
      - fault: network-loss
        params: {percent: 30, destinations: [10.99.0.2]}
        duration: 120s
      - fault: network-partition
        params: {destinations: [10.99.0.3], ports: [22]}
        duration: 120s
      - fault: network-bandwidth
        params: {rate: 2mbit, interface: va}
        duration: 120s
      - fault: tcp-proxy-latency
        params: {listen: \"127.0.0.1:47311\", upstream: \"127.0.0.1:47312\", latency: 50ms}
        duration: 120s
";

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| format!("(no {name}: {e})"))
}

#[test]
fn a_sweep_undoes_everything_a_killed_run_left_once_its_journal_is_gone() {
    assert!(nix::unistd::geteuid().is_root(), "needs root (CI runs as root)");
    // On disk, not tmpfs: disk-fill refuses a memory-backed folder.
    let work = tempfile::Builder::new().prefix("fd-sweep").tempdir_in("/var/tmp").unwrap();
    let w = work.path();
    std::fs::create_dir(w.join("data")).unwrap();
    std::fs::write(w.join("swept.yaml"), EXPERIMENT.replace("DATA", &w.join("data").display().to_string())).unwrap();
    std::fs::write(w.join("scene.sh"), SCENE).unwrap();
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--net", "sh"])
        .arg(w.join("scene.sh"))
        .arg(w)
        .arg(BIN)
        .status()
        .unwrap();
    let context = format!(
        "run stderr:\n{}\nsweep stdout:\n{}\nsweep stderr:\n{}",
        read(w, "run.err"),
        read(w, "sweep.txt"),
        read(w, "sweep.err")
    );
    assert!(status.success() && !w.join("fail.txt").exists(), "scene failed: {}\n{context}", read(w, "fail.txt"));

    let (before, during, after) = (read(w, "before.txt"), read(w, "during.txt"), read(w, "after.txt"));
    // Every kind was really in place when the controller was killed.
    assert_eq!(during.matches("table inet faultdrill_").count(), 2, "{during}");
    assert!(during.contains("qdisc htb fd"), "{during}");
    assert!(during.contains("faultdrill-fill-"), "{during}");
    assert!(during.contains("--- sleeper\nT\n"), "{during}");
    let helpers: usize = during.rsplit("--- helpers\n").next().unwrap().trim().parse().unwrap();
    assert!(helpers >= 5, "burner, holder, proxy and two watchdogs: {during}");

    // The dry run lists every one of them and changes nothing.
    let dry = read(w, "dry.txt");
    for what in ["nftables table inet faultdrill_", "root qdisc fd", "fill file", "paused by", "helper process"] {
        assert!(dry.contains(what), "dry run names {what}: {dry}");
    }
    assert_eq!(dry.lines().filter(|l| l.contains("nftables table")).count(), 2, "{dry}");
    assert_eq!(read(w, "after_dry.txt"), during, "a dry run changes nothing");

    // The sweep undoes all of it, each verified, and the host is as it was.
    let swept = read(w, "sweep.txt");
    eprintln!("recover --sweep took {} ms and said:\n{swept}", read(w, "sweep.ms").trim());
    assert_eq!(read(w, "sweep.rc").trim(), "0", "{context}");
    assert_eq!(swept.lines().count(), dry.lines().count(), "one line per thing found: {swept}");
    assert!(swept.lines().all(|l| l.ends_with("rolled back, verified")), "{swept}");
    assert_eq!(after, before, "state before == state after the sweep\n{context}");
    // Nothing is left for a second sweep, and the sidecars are cleared.
    assert_eq!(read(w, "again.txt"), "", "{}", read(w, "again.err"));
    assert_eq!(read(w, "again.rc").trim(), "0");
    assert!(read(w, "again.err").contains("nothing of faultdrill's found"), "{}", read(w, "again.err"));
    let sidecars = read(w, "sidecars.txt");
    assert!(!sidecars.contains(".json"), "{sidecars}");
}

/// `recover --sweep EXTRA...` in a PID and network namespace of its own: named network
/// namespaces stay reachable, other tests' helpers and root-namespace tables do not.
fn isolated_sweep(state: &Path, extra: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--net", BIN, "--state-dir"])
        .arg(state)
        .args(["recover", "--sweep"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_sweep_reaches_a_named_network_namespace_when_asked() {
    let ns = netns::Netns::new("swns");
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
    ns.ip(&["link", "set", "va", "up"]);
    let before = ns.snapshot(&["va"]);
    // What a killed network-partition and network-bandwidth leave there.
    ns.exec(&["nft", "add", "table", "inet", "faultdrill_i_lostns1"]);
    ns.exec(&["tc", "qdisc", "add", "dev", "va", "root", "handle", "fd42:", "htb"]);
    let left = ns.snapshot(&["va"]);
    let state = tempfile::tempdir().unwrap();

    let plain = isolated_sweep(state.path(), &[]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("faultdrill_i_lostns1"), "not asked, not looked at");
    let all = isolated_sweep(state.path(), &["--all-netns", "--dry-run"]);
    let listed = String::from_utf8_lossy(&all.stdout).into_owned();
    assert!(listed.contains(&format!("nftables table inet faultdrill_i_lostns1 in network namespace `{}`", ns.name)));
    assert_eq!(ns.snapshot(&["va"]), left, "a dry run changes nothing");

    let out = isolated_sweep(state.path(), &["--netns", &ns.name]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let name = &ns.name;
    assert!(
        stdout
            .contains(&format!("table inet faultdrill_i_lostns1 in network namespace `{name}`: rolled back, verified"))
    );
    assert!(stdout.contains(&format!("root qdisc fd42: of va in network namespace `{name}`: rolled back, verified")));
    assert_eq!(ns.snapshot(&["va"]), before, "state before == after");
}
