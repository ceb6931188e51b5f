#!/usr/bin/env bash
# Loader speed, on the release build, as medians of N runs of the real binary:
#   - `faultdrill validate` of a generated 500-action experiment   (target ≤ 30 ms)
#   - `faultdrill --version`                                        (target ≤ 5 ms)
#   - `faultdrill template render` of the largest built-in template (target ≤ 10 ms)
# Usage: bench/validate.sh [RUNS]   (default 50; TEMPLATE_SETS="k=v ..." adds --set values)
#   BASELINE=/path/to/an/older/faultdrill also times that binary on the same file, runs
#   interleaved (old, new, old, new, ...) so both see the same load, and prints new/old.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
cargo build --release --quiet
bin=target/release/faultdrill
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 50 groups × 10 actions, with a steady state and guardrails, as an operator would write it.
exp=$tmp/500-actions.yaml
{
    echo "version: 1"
    echo "name: five-hundred-actions"
    echo "targets:"
    echo "  here: {hosts: [local], max: 1}"
    echo "steady_state:"
    echo "  interval: 1s"
    echo "  probes:"
    echo "    - name: shell"
    echo "      command: {run: [\"true\"], timeout: 2s}"
    echo "      expect: {exit: 0}"
    echo "guardrails:"
    echo "  interval: 500ms"
    echo "  rules:"
    echo "    - {name: disk, metric: {host: disk_used_percent, path: /tmp}, breach: \">= 90\", for: 2}"
    echo "action_groups:"
    for g in $(seq 1 50); do
        echo "  - name: group-$g"
        echo "    target: here"
        echo "    mode: parallel"
        echo "    actions:"
        for a in $(seq 1 10); do
            case $((a % 4)) in
                0) echo "      - {fault: cpu-burn, params: {percent: 50, cores: 1}, duration: 10s}" ;;
                1) echo "      - {fault: disk-fill, params: {path: /tmp, size: 1MiB}, duration: 10s, wait_after: 1s}" ;;
                2) echo "      - {fault: memory-stress, params: {size: 16MiB}, duration: 5s}" ;;
                3) echo "      - {fault: process-pause, params: {name: sleep}, duration: 2s}" ;;
            esac
        done
    done
} >"$exp"

# Median wall time in ms of `$@` over $runs runs (bash's clock: no extra process in the interval).
once_ms() {
    local start end
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || true
    end=$EPOCHREALTIME
    echo "($end - $start) * 1000" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
median_ms() {
    local times=()
    for _ in $(seq 1 "$runs"); do times+=("$(once_ms "$@")"); done
    printf '%s\n' "${times[@]}" | median
}

if ! "$bin" validate "$exp" >/dev/null; then
    echo "warning: the generated experiment does not validate with this build:" >&2
    "$bin" validate "$exp" 2>&1 | tail -3 >&2
fi
largest=$(ls -S templates/*.yaml | head -1)
name=$(basename "$largest" .yaml)
sets=()
for kv in ${TEMPLATE_SETS:-}; do sets+=(--set "$kv"); done
"$bin" template render "$name" "${sets[@]}" >/dev/null || echo "warning: template $name does not render" >&2

echo "runs per figure: $runs (median wall time of the release binary); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'validate 500 actions (%s lines): %s ms  (target <= 30)\n' "$(wc -l <"$exp")" "$(median_ms "$bin" validate "$exp")"
printf 'faultdrill --version:              %s ms  (target <= 5)\n' "$(median_ms "$bin" --version)"
printf 'template render %s (%s bytes): %s ms  (target <= 10)\n' "$name" "$(wc -c <"$largest")" \
    "$(median_ms "$bin" template render "$name" "${sets[@]}")"

# Wall time on a busy machine is mostly waiting for a core; CPU time is what the loader costs.
if command -v perf >/dev/null 2>&1; then
    cpu_ms() { perf stat -x, -e task-clock -r "$runs" "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {printf "%.2f", $1}'; }
    echo "CPU time (perf task-clock, mean of $runs):"
    printf '  validate 500 actions: %s ms\n' "$(cpu_ms "$bin" validate "$exp")"
    printf '  faultdrill --version: %s ms\n' "$(cpu_ms "$bin" --version)"
    printf '  template render %s: %s ms\n' "$name" "$(cpu_ms "$bin" template render "$name" "${sets[@]}")"
fi

# Before/after on the same file in the same run: the old binary and this one, interleaved.
if [ -n "${BASELINE:-}" ]; then
    "$BASELINE" validate "$exp" >/dev/null 2>&1 || echo "warning: the baseline does not validate the experiment" >&2
    old=() new=()
    for _ in $(seq 1 "$runs"); do
        old+=("$(once_ms "$BASELINE" validate "$exp")")
        new+=("$(once_ms "$bin" validate "$exp")")
    done
    o=$(printf '%s\n' "${old[@]}" | median)
    n=$(printf '%s\n' "${new[@]}" | median)
    echo "validate 500 actions, interleaved, median of $runs each:"
    printf '  baseline %s: %s ms\n  this build: %s ms\n  ratio this/baseline: %s\n' "$BASELINE" "$o" "$n" \
        "$(echo "scale=3; $n / $o" | bc -l)"
    if command -v perf >/dev/null 2>&1; then
        co=$(cpu_ms "$BASELINE" validate "$exp")
        cn=$(cpu_ms "$bin" validate "$exp")
        printf '  CPU time (perf task-clock, mean of %s): baseline %s ms, this build %s ms, ratio %s\n' "$runs" "$co" "$cn" \
            "$(echo "scale=3; $cn / $co" | bc -l)"
    fi
    # Instructions executed do not depend on the machine's load: the steadiest comparison.
    if command -v valgrind >/dev/null 2>&1; then
        instrs() { valgrind --tool=lackey --basic-counts=yes "$@" 2>&1 >/dev/null | awk '/ guest instrs:/ {gsub(",", "", $4); print $4; exit}'; }
        io=$(instrs "$BASELINE" validate "$exp")
        in=$(instrs "$bin" validate "$exp")
        printf '  instructions (valgrind lackey, one run): baseline %s, this build %s, ratio %s\n' "$io" "$in" \
            "$(echo "scale=4; $in / $io" | bc -l)"
    fi
fi
