#!/usr/bin/env bash
# Peak memory of `faultdrill run`: the quick-start experiment (cpu-burn with steady-state
# probes and guardrails), measured two ways:
#   - VmHWM of the faultdrill process itself, polled from /proc every 20 ms (its own peak,
#     excluding helper processes such as the CPU burner);
#   - /usr/bin/time -v "Maximum resident set size" (the largest process of the tree).
# Target: <= 20 MiB.
#
# Usage: bench/rss.sh                 (builds the release binary first)
#        FAULTDRILL_BIN=path EXPERIMENT=experiments/quickstart.yaml bench/rss.sh
set -euo pipefail

cd "$(dirname "$0")/.."
EXPERIMENT=${EXPERIMENT:-experiments/quickstart.yaml}
. bench/common.sh
use_release_binary
STATE=$(mktemp -d)
trap '"$FAULTDRILL_BIN" --state-dir "$STATE" recover --all >/dev/null 2>&1 || true; rm -rf "$STATE"' EXIT

# 1. VmHWM of the run process, polled until it exits.
"$FAULTDRILL_BIN" --state-dir "$STATE" run "$EXPERIMENT" >/dev/null 2>&1 &
pid=$!
hwm=0
while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$kb" ] && [ "$kb" -gt "$hwm" ]; then hwm=$kb; fi
    sleep 0.02
done
wait "$pid" || true
printf 'faultdrill run %s: peak RSS (VmHWM of the run process) %.1f MiB\n' "$EXPERIMENT" "$(echo "$hwm / 1024" | bc -l)"

# 2. /usr/bin/time -v over the whole run.
if [ -x /usr/bin/time ]; then
    max_kb=$(/usr/bin/time -v "$FAULTDRILL_BIN" --state-dir "$STATE" run "$EXPERIMENT" 2>&1 >/dev/null |
        awk -F': ' '/Maximum resident set size/ { print $2 }')
    printf 'faultdrill run %s: maximum resident set size (/usr/bin/time -v) %.1f MiB\n' "$EXPERIMENT" "$(echo "$max_kb / 1024" | bc -l)"
fi
echo "target: <= 20 MiB"
