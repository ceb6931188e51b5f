#!/usr/bin/env bash
# Soak: one `faultdrill daemon` under continuous inject/rollback churn from 4 controller
# loops (curl against its API with its token, each loop its own fault kind), plus a loop
# of runs with HTTP probes (a tcp-proxy-latency action in front of the daemon itself).
# Every 10 s the daemon's RSS, open fds, threads, journal size (journal.db + WAL) and
# audit-trail size are sampled into a CSV; growth figures are printed at the end.
# Targets (issue 14): RSS growth <= 1 MiB over 30 min, fds flat, journal flat once the
# retention applies. Loopback only; every loop ends at the deadline.
#
#   bench/soak.sh [SECONDS]        (default 1800)
#   bench/soak.sh --analyse CSV    (the growth figures of an earlier soak's samples, again)
#   env: FAULTDRILL_BIN (default: a release build of this tree), KEEP_RUNS (the daemon's
#   --journal-keep-runs, default 200, so retention applies within the soak),
#   SOAK_CSV (default: soak-<date>.csv in the temp dir, kept), SAMPLE (default 10 s),
#   WARMUP (seconds left out before the growth is measured, default 120: caches and the
#   journal fill up first; a release daemon reached its plateau after about 600 s)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
keep=${KEEP_RUNS:-200}
warmup=${WARMUP:-120}
analyse() {
    # Growth: from the first sample after the first prune that removed anything (journal at its
    # plateau) — or the 2nd minute — to the end; RSS also as a least-squares slope per hour.
    awk -F, -v keep="$keep" -v warmup="$warmup" 'NR == 1 { next }
        { t[++n] = $1; r[n] = $2; f[n] = $3; th[n] = $4; j[n] = $5; a[n] = $6; rows[n] = $7 }
        END {
            s = 1; while (s < n && t[s] < warmup) s++
            fmin = f[s]; fmax = f[s]; jmax = 0; rmax = 0
            for (i = s; i <= n; i++) {
                if (f[i] < fmin) fmin = f[i]; if (f[i] > fmax) fmax = f[i]
                if (j[i] > jmax) jmax = j[i]; if (r[i] > rmax) rmax = r[i]
                sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i]; m++
            }
            slope = (m > 1) ? (m * sxy - sx * sy) / (m * sxx - sx * sx) : 0
            printf "window %d s .. %d s (%d samples, after a %d s warm-up)\n", t[s], t[n], m, warmup
            printf "RSS: %.1f -> %.1f MiB (growth %+.2f MiB, max %.1f MiB; slope %+.2f MiB/h)\n", r[s] / 1024, r[n] / 1024, (r[n] - r[s]) / 1024, rmax / 1024, slope * 3600 / 1024
            printf "fds: %d .. %d (first %d, last %d); threads: first %d, last %d\n", fmin, fmax, f[s], f[n], th[s], th[n]
            printf "journal: %.0f KiB -> %.0f KiB (max %.0f KiB), injection rows %s -> %s (keep %d); audit: %.0f KiB -> %.0f KiB\n", j[s] / 1024, j[n] / 1024, jmax / 1024, rows[s], rows[n], keep, a[s] / 1024, a[n] / 1024
        }' "$1"
}
if [ "${1:-}" = --analyse ]; then
    analyse "$2"
    exit 0
fi
duration=${1:-1800}
sample=${SAMPLE:-10}
use_release_binary
work=$(mktemp -d)
state=$work/state
csv=${SOAK_CSV:-$work/../soak-$(date +%Y%m%d-%H%M%S).csv}
mkdir -p "$work/fill"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    "$FAULTDRILL_BIN" --state-dir "$state" recover --all >/dev/null 2>&1 || true
    kill "$victim" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$FAULTDRILL_BIN" --state-dir "$state" --log warn daemon --listen 127.0.0.1:0 --journal-keep-runs "$keep" \
    >"$work/out" 2>"$work/err" &
daemon=$!
for _ in $(seq 200); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
url=$(awk '{print $5}' "$work/out")
port=${url##*:}
auth="Authorization: Bearer $(cat "$state/token")"
end=$(($(date +%s) + duration))

# A process for process-pause to freeze and resume.
sleep $((duration + 60)) &
victim=$!

# One controller: inject FAULT with PARAMS, hold it a little, roll it back; until the end.
controller() {
    local fault=$1 params=$2 n=0 fail=0 id
    while [ "$(date +%s)" -lt "$end" ]; do
        id=$(curl -s -m 20 -H "$auth" -H 'Content-Type: application/json' \
            -d "{\"fault\":\"$fault\",\"params\":$params,\"duration\":\"30s\",\"lease\":\"15s\"}" \
            "$url/v1/injections" | jq -r '.id // empty')
        if [ -z "$id" ]; then fail=$((fail + 1)); sleep 0.5; continue; fi
        sleep 0.2
        curl -s -m 70 -o /dev/null -X DELETE -H "$auth" "$url/v1/injections/$id" || fail=$((fail + 1))
        n=$((n + 1))
    done
    echo "$fault $n $fail" >>"$work/counts"
}

# Runs with probes, one after another: an HTTP probe through a latency proxy to the daemon.
runs() {
    local n=0 fail=0 id body state proxy=$((port + 1))
    local experiment="version: 1
name: soak-run
steady_state:
  interval: 200ms
  probes:
    - name: daemon-health
      http: {url: \"http://127.0.0.1:$port/v1/health\", timeout: 1s}
      expect: {status: 200}
action_groups:
  - name: proxy
    target: local
    actions:
      - fault: tcp-proxy-latency
        params: {listen: \"127.0.0.1:$proxy\", upstream: \"127.0.0.1:$port\", latency: 5ms}
        duration: 2s
"
    body=$(jq -n --arg e "$experiment" '{experiment: $e}')
    while [ "$(date +%s)" -lt "$end" ]; do
        id=$(curl -s -m 20 -H "$auth" -H 'Content-Type: application/json' -d "$body" "$url/v1/runs" | jq -r '.run_id // empty')
        if [ -z "$id" ]; then fail=$((fail + 1)); sleep 1; continue; fi
        for _ in $(seq 120); do
            state=$(curl -s -m 5 -H "$auth" "$url/v1/runs/$id" | jq -r '.state // empty')
            [ "$state" = finished ] && break
            sleep 0.5
        done
        n=$((n + 1))
    done
    echo "runs $n $fail" >>"$work/counts"
}

controller disk-fill "{\"path\":\"$work/fill\",\"size\":\"1MiB\"}" & pids+=($!)
controller cpu-burn '{"percent":5,"cores":"1"}' & pids+=($!)
controller memory-stress '{"size":"8MiB"}' & pids+=($!)
controller process-pause "{\"pid\":$victim}" & pids+=($!)
runs & pids+=($!)

size_of() { local t=0 f; for f in "$@"; do [ -f "$f" ] && t=$((t + $(stat -c %s "$f"))); done; echo "$t"; }
echo "t_s,rss_kib,fds,threads,journal_bytes,audit_bytes,injection_rows" >"$csv"
t0=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
    t=$(($(date +%s) - t0))
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$daemon/status")
    fds=$(ls "/proc/$daemon/fd" | wc -l)
    journal=$(size_of "$state/journal.db" "$state/journal.db-wal")
    audit=$(size_of "$state/audit.db" "$state/audit.db-wal")
    rows=$(sqlite3 -readonly "file:$state/journal.db?mode=ro" 'SELECT count(*) FROM injections' 2>/dev/null || echo "")
    echo "$t,$rss,$fds,$threads,$journal,$audit,$rows" | tee -a "$csv"
    sleep "$sample"
done
wait "${pids[@]}" 2>/dev/null || true
pids=()

echo "samples: $csv"
echo "churn (fault, cycles, failed calls):"; sed 's/^/  /' "$work/counts"
analyse "$csv"
