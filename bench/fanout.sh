#!/usr/bin/env bash
# Fan-out: 100 daemons on 127.0.0.x (one process each, own state dir), then
#   1. the client fan-out (bench/fanout.rs): inject one disk-fill on all of
#      them concurrently and roll all back, several rounds, medians;
#   2. end to end: `faultdrill run --inventory` of an experiment that injects
#      one disk-fill on all 100 and rolls it back (process start to exit).
# Target (issue 3): <= 1 s wall. All daemons are stopped afterwards.
#
#   bench/fanout.sh [HOSTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-100}
rounds=${2:-7}
port=17878
cargo build --release --quiet
cargo bench --bench fanout --no-run --quiet 2>/dev/null
bin=$PWD/target/release/faultdrill
work=$(mktemp -d /tmp/faultdrill-fanout.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    mountpoint -q "$work" && umount "$work"
    rm -rf "$work"
}
trap cleanup EXIT
# State dirs and the fill directory on a tmpfs (as root): the figures are the
# daemons' and the fan-out's, not the disk's (on ext4 mounted with `discard`,
# deleting 100 files at once costs ~2 s of TRIM by itself).
if [ "$(id -u)" -eq 0 ] && [ "${FANOUT_ON_DISK:-0}" != 1 ]; then
    mount -t tmpfs -o size=512m faultdrill-fanout "$work"
    echo "state dirs and fill dir on tmpfs (FANOUT_ON_DISK=1 to use $work's disk)"
fi
head -c 24 /dev/urandom | base64 >"$work/token"
chmod 600 "$work/token" # the daemon refuses a token file others can read
export FAULTDRILL_TOKEN=$(cat "$work/token")
mkdir -p "$work/fill"
echo "hosts:" >"$work/inventory.yaml"
for i in $(seq 1 "$hosts"); do
    addr="127.0.0.$((i + 1)):$port"
    "$bin" --state-dir "$work/d$i" daemon --listen "$addr" --name "h$i" --token-file "$work/token" \
        >"$work/d$i.out" 2>"$work/d$i.err" &
    pids+=($!)
    printf '  - {name: h%s, url: "http://%s", labels: {bench: fanout}, token: {env: FAULTDRILL_TOKEN}}\n' "$i" "$addr" \
        >>"$work/inventory.yaml"
done
for i in $(seq 1 "$hosts"); do
    for _ in $(seq 200); do grep -q listening "$work/d$i.out" 2>/dev/null && break; sleep 0.05; done
    grep -q listening "$work/d$i.out" || { echo "daemon $i did not start:"; cat "$work/d$i.err"; exit 1; }
done
echo "$hosts daemons listening"

cargo bench --bench fanout --quiet -- "$work/inventory.yaml" "$work/fill" "$rounds"

cat >"$work/fanout.yaml" <<YAML
version: 1
name: fanout-bench
targets:
  all:
    select: {labels: {bench: fanout}}
action_groups:
  - name: fill
    target: all
    actions:
      - fault: disk-fill
        params: {path: "$work/fill", size: 64KiB}
        duration: 10ms
YAML
# A warm-up run (connections, page cache), not counted.
"$bin" --state-dir "$work/controller" run --inventory "$work/inventory.yaml" "$work/fanout.yaml" \
    >/dev/null 2>"$work/run.err" || { echo "the warm-up run failed:"; cat "$work/run.err"; exit 1; }
# The same experiment on one of the daemons, in the same run: the fixed cost of a
# run (process start, journal, preflight, the 10 ms hold), to compare against.
head -2 "$work/inventory.yaml" >"$work/inventory-1.yaml"
end_to_end() { # INVENTORY -> prints the median wall time in ms over $rounds runs
    local times=() t0 t1
    for _ in $(seq 1 "$rounds"); do
        t0=$(date +%s%N)
        "$bin" --state-dir "$work/controller" run --inventory "$1" "$work/fanout.yaml" \
            >/dev/null 2>"$work/run.err" || { echo "run failed:" >&2; cat "$work/run.err" >&2; exit 1; }
        t1=$(date +%s%N)
        times+=("$(((t1 - t0) / 1000000))")
    done
    echo "end to end rounds ($1): ${times[*]} ms" >&2
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
one=$(end_to_end "$work/inventory-1.yaml")
many=$(end_to_end "$work/inventory.yaml")
echo "end to end: faultdrill run --inventory, one disk-fill (held 10 ms): median ${many} ms on $hosts daemons," \
    "${one} ms on 1 daemon (ratio $(awk -v a="$many" -v b="$one" 'BEGIN {printf "%.2f", a / b}')) over $rounds runs"
leftover=$(find "$work/fill" -type f | wc -l)
echo "fill files left behind: $leftover"
