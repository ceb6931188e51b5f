#!/usr/bin/env bash
# Idle daemon footprint: RSS and CPU of one `faultdrill daemon` doing nothing
# (its reaper still wakes every second) over a window (default 60 s).
# Targets (issue 3): RSS <= 15 MiB, CPU <= 0.5 % of a core.
#
#   bench/daemon-idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
cargo build --release --quiet
bin=target/release/faultdrill
state=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$state"' EXIT
"$bin" --state-dir "$state" daemon --listen 127.0.0.1:0 >"$state/out" 2>"$state/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$state/out" 2>/dev/null && break; sleep 0.05; done
url=$(awk '{print $5}' "$state/out")
# One request of each kind, so the figures include a daemon that has served.
curl -sf "$url/v1/health" >/dev/null
# No token given: the daemon generated one in its state dir.
auth="Authorization: Bearer $(cat "$state/token")"
curl -sf -H "$auth" "$url/metrics" >/dev/null
curl -sf -H "$auth" "$url/v1/injections" >/dev/null
sleep 2

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
t0=$(date +%s.%N); c0=$(cpu_ticks)
samples=()
for _ in $(seq "$window"); do samples+=("$(rss_kib)"); sleep 1; done
t1=$(date +%s.%N); c1=$(cpu_ticks)

median_rss=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
max_rss=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
cpu=$(awk -v c="$((c1 - c0))" -v hz="$ticks" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.3f", 100 * c / hz / (t1 - t0)}')
printf 'idle daemon over %ss: RSS median %.1f MiB (max %.1f MiB), CPU %s %% of a core\n' \
    "$window" "$(awk -v k="$median_rss" 'BEGIN {print k / 1024}')" "$(awk -v k="$max_rss" 'BEGIN {print k / 1024}')" "$cpu"
