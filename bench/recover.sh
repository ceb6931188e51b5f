#!/usr/bin/env bash
# From `kill -9` of a controller to everything rolled back, with `faultdrill recover --all`
# run at once on the controller (issue 16: ≤ 1 s on 4 hosts).
#
# Starts N daemons on loopback (each its own state dir, one shared token read from a file),
# then RUNS times: a controller holds disk-fill + cpu-burn on every daemon (lease 60 s, so no
# lease ever helps), is killed with SIGKILL once every daemon holds both, and `recover --all`
# runs at once. The time is from the kill to the end of `recover`, checked afterwards: no
# fill file left, no injection live on any daemon. Prints every run and the median.
#
# Usage: bench/recover.sh                     (builds the release binary first; 4 daemons, 7 runs)
#        FAULTDRILL_BIN=path DAEMONS=4 RUNS=9 bench/recover.sh
set -euo pipefail

cd "$(dirname "$0")/.."
DAEMONS=${DAEMONS:-4}
RUNS=${RUNS:-7}
[ "$(id -u)" -eq 0 ] || { echo "needs root (the daemons inject faults)" >&2; exit 1; }
. bench/common.sh
use_release_binary

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    "$FAULTDRILL_BIN" --state-dir "$WORK/controller" recover --all >/dev/null 2>&1 || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/fill"
echo "bench-token-$$-0123456789" >"$WORK/token"
chmod 600 "$WORK/token" # the daemon refuses a token file others can read

echo "hosts:" >"$WORK/inventory.yaml"
for i in $(seq 1 "$DAEMONS"); do
    mkfifo "$WORK/out-$i"
    "$FAULTDRILL_BIN" --state-dir "$WORK/d$i" daemon --listen 127.0.0.1:0 --name "h$i" \
        --token-file "$WORK/token" >"$WORK/out-$i" 2>"$WORK/d$i.log" &
    PIDS+=($!)
    read -r line <"$WORK/out-$i"
    url=${line##* }
    printf '  - name: h%s\n    url: %s\n    labels: {bench: x}\n    token: {file: %s}\n' \
        "$i" "$url" "$WORK/token" >>"$WORK/inventory.yaml"
done

cat >"$WORK/hold.yaml" <<YAML
version: 1
name: recover-bench
lease: 60s
targets:
  all:
    select: {labels: {bench: x}}
action_groups:
  - name: hold
    target: all
    mode: parallel
    actions:
      - fault: disk-fill
        params: {path: $WORK/fill, size: 1MiB}
        duration: 60s
      - fault: cpu-burn
        params: {percent: 5, cores: 1}
        duration: 60s
YAML

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
live_on_daemons() {
    local n=0 i
    for i in $(seq 1 "$DAEMONS"); do
        n=$(( n + $(curl -s -H "Authorization: Bearer $(cat "$WORK/token")" "$(sed -n "$(( i * 4 - 1 ))p" "$WORK/inventory.yaml" | awk '{print $2}')/v1/injections" \
            | grep -o '"state":"active"' | wc -l) ))
    done
    echo "$n"
}

echo "kill -9 of the controller -> recover --all done: $DAEMONS daemons x 2 faults, $RUNS runs"
printf '%4s %12s %8s %10s\n' run kill_to_ms exit left
: >"$WORK/times"
for r in $(seq 1 "$RUNS"); do
    "$FAULTDRILL_BIN" --state-dir "$WORK/controller" run --inventory "$WORK/inventory.yaml" "$WORK/hold.yaml" \
        >/dev/null 2>"$WORK/run.log" &
    run=$!
    for _ in $(seq 1 400); do
        [ "$(find "$WORK/fill" -mindepth 1 | wc -l)" -eq "$DAEMONS" ] && [ "$(live_on_daemons)" -eq $(( DAEMONS * 2 )) ] && break
        sleep 0.05
    done
    start=$(now_ms)
    kill -9 "$run" || { echo "the controller had already exited:" >&2; cat "$WORK/run.log" >&2; exit 1; }
    set +e
    "$FAULTDRILL_BIN" --state-dir "$WORK/controller" recover --all >"$WORK/recover.out" 2>&1
    code=$?
    set -e
    end=$(now_ms)
    wait "$run" 2>/dev/null || true
    left=$(( $(find "$WORK/fill" -mindepth 1 | wc -l) + $(live_on_daemons) ))
    printf '%4s %12s %8s %10s\n' "$r" $(( end - start )) "$code" "$left"
    if [ "$code" -ne 0 ] || [ "$left" -ne 0 ]; then
        echo "run $r: recover exited $code with $left fault(s) left:" >&2
        cat "$WORK/recover.out" >&2
        exit 1
    fi
    echo $(( end - start )) >>"$WORK/times"
done
sort -n "$WORK/times" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
    printf "median %.0f ms, min %d ms, max %d ms over %d runs\n", m, a[1], a[NR], NR}'
