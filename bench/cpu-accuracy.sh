#!/usr/bin/env bash
# CPU burn accuracy: faultdrill's cpu-burn against stress-ng's --cpu-load, in the same run.
#
# For 25/50/75 % on 1 core and on all cores, runs
#   faultdrill inject cpu-burn -p percent=P -p cores=C --duration 10s
# and, as the baseline,
#   stress-ng --cpu C --cpu-load P --timeout 10s
# and measures what each achieved from its own processes' CPU time (/proc/PID/stat
# utime+stime) over the middle of the run (from 1 s to 9 s), as percent of a core
# per burner thread. Each configuration runs REPEATS times (default 3); the table
# shows the median and its error |median - requested|.
#
# Usage: bench/cpu-accuracy.sh            (builds the release binary first)
#        FAULTDRILL_BIN=path REPEATS=5 bench/cpu-accuracy.sh
set -euo pipefail

cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
DURATION=10
WINDOW_START=1
WINDOW_END=9
. bench/common.sh
use_release_binary
command -v stress-ng >/dev/null || { echo "stress-ng is missing: run tests/setup.sh" >&2; exit 1; }
HZ=$(getconf CLK_TCK)
ALL=$(nproc)
STATE=$(mktemp -d)
trap '"$FAULTDRILL_BIN" --state-dir "$STATE" recover --all >/dev/null 2>&1 || true; rm -rf "$STATE"' EXIT

# Sum of utime+stime (ticks) of the given PIDs; gone ones count as 0.
ticks() {
    local total=0 pid line
    for pid in "$@"; do
        line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        line=${line##*) }
        read -r -a f <<<"$line"
        # after the comm, field 3 is f[0]: utime (14) is f[11], stime (15) is f[12]
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# Host CPU busy percent over a short window (to show how busy the machine was).
host_busy() {
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep "${1:-2}"
    read -r -a b < <(head -1 /proc/stat)
    local busy_a=$((a[1] + a[2] + a[3] + a[6] + a[7] + a[8])) total_a=$((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8]))
    local busy_b=$((b[1] + b[2] + b[3] + b[6] + b[7] + b[8])) total_b=$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] + b[8]))
    awk -v b=$((busy_b - busy_a)) -v t=$((total_b - total_a)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }'
}

# achieved = ticks over the window / HZ / seconds / threads * 100
measure() { # threads pids-command...
    local threads=$1
    shift
    sleep "$WINDOW_START"
    local pids t0 t1 start end
    pids=$("$@")
    t0=$(ticks $pids)
    start=$(date +%s.%N)
    sleep $((WINDOW_END - WINDOW_START))
    t1=$(ticks $pids)
    end=$(date +%s.%N)
    awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$start" -v e="$end" -v n="$threads" \
        'BEGIN { printf "%.1f", 100 * d / hz / (e - s) / n }'
}

run_faultdrill() { # percent cores
    local out id
    out=$(mktemp)
    "$FAULTDRILL_BIN" --state-dir "$STATE" inject cpu-burn -p "percent=$1" -p "cores=$2" \
        --duration "${DURATION}s" >"$out" 2>/dev/null &
    local inject=$!
    for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
    id=$(head -1 "$out")
    burner_pids() { pgrep -f -- "helper burn-cpu --injection $id" || true; }
    measure "$2" burner_pids
    wait "$inject"
    rm -f "$out"
}

run_stress_ng() { # percent cores
    stress-ng --cpu "$2" --cpu-load "$1" --timeout "${DURATION}s" --quiet &
    local parent=$!
    stress_pids() { echo "$parent"; pgrep -P "$parent" || true; }
    measure "$2" stress_pids
    wait "$parent"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m }'; }
error() { awk -v m="$1" -v r="$2" 'BEGIN { d = m - r; if (d < 0) d = -d; printf "%.1f", d }'; }

echo "CPU burn accuracy: $REPEATS run(s) per cell, ${DURATION}s each, measured from ${WINDOW_START}s to ${WINDOW_END}s"
echo "host: $ALL CPU(s), $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg); host busy before: $(host_busy 2) %"
echo
printf '%-10s %5s | %-28s %6s | %-28s %6s\n' "cores" "want" "faultdrill (runs)" "median/err" "stress-ng (runs)" "median/err"
printf '%s\n' "-------------------------------------------------------------------------------------------------------"
for cores in 1 "$ALL"; do
    label="$cores"
    [ "$cores" = "$ALL" ] && label="all ($ALL)"
    for percent in 25 50 75; do
        fd_runs="" sn_runs=""
        for _ in $(seq "$REPEATS"); do
            fd_runs+="$(run_faultdrill "$percent" "$cores") "
            sn_runs+="$(run_stress_ng "$percent" "$cores") "
        done
        fd_med=$(echo "$fd_runs" | median)
        sn_med=$(echo "$sn_runs" | median)
        printf '%-10s %4s%% | %-28s %5s/%-4s | %-28s %5s/%-4s\n' "$label" "$percent" "$fd_runs" "$fd_med" \
            "$(error "$fd_med" "$percent")" "$sn_runs" "$sn_med" "$(error "$sn_med" "$percent")"
    done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); host busy after: $(host_busy 2) %"
