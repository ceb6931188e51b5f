#!/usr/bin/env bash
# Guardrail reaction time: from the guardrail sample that completes the `for` window to
# every injection rolled back, as faultdrill itself records it (report.json
# `guardrail_reaction.reaction_us`, monotonic clock; the wall-clock `breach_sample_ms`,
# `tripped_ms` and `rolled_back_ms` are printed alongside).
#
# Each run fills a fresh 64 MiB tmpfs to 95 % and burns 10 % of a core (parallel group),
# with a guardrail `disk_used_percent >= 90` for 2 samples at an interval of 100 ms, so the
# rollback undoes both faults (delete the fill file, stop the burner). Needs root (tmpfs).
#
# Usage: bench/guardrail-reaction.sh           (builds the release binary first; 15 runs)
#        FAULTDRILL_BIN=path RUNS=20 INTERVAL=200ms bench/guardrail-reaction.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
INTERVAL=${INTERVAL:-100ms}
[ "$(id -u)" -eq 0 ] || { echo "needs root (it mounts a tmpfs)" >&2; exit 1; }
. bench/common.sh
use_release_binary
make_tmpfs_workdir

cat >"$WORK/bench.yaml" <<YAML
version: 1
name: guardrail-reaction-bench
guardrails:
  interval: $INTERVAL
  rules:
    - name: disk-90
      metric: {host: disk_used_percent, path: $MNT}
      breach: ">= 90"
      for: 2
      action: rollback
action_groups:
  - name: fill-and-burn
    target: local
    mode: parallel
    actions:
      - fault: disk-fill
        params: {path: $MNT, fill_to_percent: 95, allow_memory_backed: true}
        duration: 30s
      - fault: cpu-burn
        params: {percent: 10, cores: 1}
        duration: 30s
YAML

echo "guardrail reaction: interval $INTERVAL, for 2, disk-fill 95 % + cpu-burn, $RUNS runs"
printf '%4s %10s %14s %14s %16s %5s\n' run reaction_ms breach_sample_ms tripped_+ms rolled_back_+ms exit
: >"$WORK/reactions"
for i in $(seq 1 "$RUNS"); do
    mount -t tmpfs -o size=64m faultdrill-bench "$MNT"
    set +e
    "$FAULTDRILL_BIN" --state-dir "$WORK/state" run "$WORK/bench.yaml" --json >"$WORK/report.json" 2>"$WORK/stderr"
    code=$?
    set -e
    left=$(find "$MNT" -mindepth 1 | wc -l)
    umount "$MNT"
    if [ "$code" -ne 2 ] || [ "$left" -ne 0 ]; then
        echo "run $i: expected exit 2 and an empty filesystem, got exit $code and $left file(s)" >&2
        cat "$WORK/stderr" >&2
        exit 1
    fi
    jq -r --arg i "$i" --arg code "$code" '.guardrail_reaction
        | [$i, (.reaction_us / 1000), .breach_sample_ms, (.tripped_ms - .breach_sample_ms),
           (.rolled_back_ms - .breach_sample_ms), $code]
        | @tsv' "$WORK/report.json" |
        awk -F'\t' '{ printf "%4s %10.2f %14s %14s %16s %5s\n", $1, $2, $3, $4, $5, $6 }'
    jq -r '.guardrail_reaction.reaction_us' "$WORK/report.json" >>"$WORK/reactions"
done

sort -n "$WORK/reactions" | awk -v runs="$RUNS" '
    { v[NR] = $1 / 1000 }
    END {
        median = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        p95 = v[int(0.95 * NR + 0.999)]
        printf "reaction (ms): median %.2f  p95 %.2f  min %.2f  max %.2f  over %d runs (target: median <= 50)\n",
            median, p95, v[1], v[NR], NR
    }'
