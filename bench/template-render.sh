#!/usr/bin/env bash
# `faultdrill template render` speed, on the release build: the median wall time of N runs
# (default 30, at least 20) of the real binary rendering the largest built-in template
# (by bytes of source), with test values for its required parameters. Target: <= 10 ms.
# Every built-in template is rendered once first; a template that fails to render stops the
# script (timing an error path would be meaningless).
#
# Usage: bench/template-render.sh [RUNS]
#        FAULTDRILL_BIN=path bench/template-render.sh   (skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
[ "$runs" -ge 20 ] || { echo "RUNS must be at least 20" >&2; exit 64; }
. bench/common.sh
use_release_binary
bin=$FAULTDRILL_BIN

# Test values for the templates' required parameters (the same as tests/templates.rs).
sets_for() {
    case $1 in
        cross-az-dr) echo "surviving_cidrs=10.0.2.0/24,10.0.3.0/24 service_pattern=^/usr/bin/my-service front_url=http://10.0.2.10:8080/health failed_zone_url=http://{address}:8080/health" ;;
        disk-full-guardrail) echo "path=/mnt/faultdrill-demo" ;;
        network-fault) echo "dependency=10.0.5.0/24" ;;
        process-crash-recovery) echo "process=my-service" ;;
        *) echo "" ;;
    esac
}
args_for() {
    local kv
    args=(template render "$1")
    for kv in $(sets_for "$1"); do args+=(--set "$kv"); done
}

for file in templates/*.yaml; do
    name=$(basename "$file" .yaml)
    args_for "$name"
    "$bin" "${args[@]}" >/dev/null || { echo "template $name does not render" >&2; exit 1; }
done

largest=$(ls -S templates/*.yaml | head -1)
name=$(basename "$largest" .yaml)
args_for "$name"
times=()
for _ in $(seq 1 "$runs"); do
    start=$EPOCHREALTIME
    "$bin" "${args[@]}" >/dev/null
    end=$EPOCHREALTIME
    times+=("$(echo "($end - $start) * 1000" | bc -l)")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -g)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}')
min=$(echo "$sorted" | head -1 | xargs printf '%.2f')
max=$(echo "$sorted" | tail -1 | xargs printf '%.2f')
echo "template render $name ($(wc -c <"$largest") bytes, $(wc -l <"$largest") lines), $runs runs of $bin"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median %s ms (min %s, max %s)  target <= 10 ms\n' "$median" "$min" "$max"
