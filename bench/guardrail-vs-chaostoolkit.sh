#!/usr/bin/env bash
# Guardrail reaction, faultdrill vs Chaos Toolkit, on equivalent experiments in the same run.
#
# Both fill a fresh 64 MiB tmpfs to 95 % and watch its usage every 200 ms; the first sample
# at >= 90 % must stop the experiment and roll the fill back (delete the file).
# Measured: from the breaching sample to the rollback done, wall clock, per trip.
#   - faultdrill: guardrail `disk_used_percent >= 90`, for 1, interval 200ms; the time comes
#     from report.json (`guardrail_reaction`: breach_sample_ms -> rolled_back_ms).
#   - Chaos Toolkit 1.19 + chaostoolkit-addons: a `safeguards` control whose probe runs every
#     0.2 s (frequency) with tolerance true; a Python action fills, a pause holds, and a
#     rollback deletes the file (`--rollback-strategy always`, since Chaos Toolkit skips
#     rollbacks on interruption by default). The probe and the rollback log their own
#     timestamps (time.time_ns) to a file, which is what is measured.
# Needs root (tmpfs), python3-venv and jq. Installs Chaos Toolkit into target/ctk-venv.
#
# Usage: bench/guardrail-vs-chaostoolkit.sh        (RUNS=20 by default; HOLD=10 seconds of pause)
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
HOLD=${HOLD:-10}
[ "$(id -u)" -eq 0 ] || { echo "needs root (it mounts a tmpfs)" >&2; exit 1; }
command -v jq >/dev/null || { echo "needs jq (apt-get install jq)" >&2; exit 1; }
. bench/common.sh
use_release_binary
VENV=$PWD/target/ctk-venv
if [ ! -x "$VENV/bin/chaos" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q chaostoolkit==1.19.0 chaostoolkit-addons==0.11.0
fi
make_tmpfs_workdir

cat >"$WORK/fd.yaml" <<YAML
version: 1
name: guardrail-vs-ctk
guardrails:
  interval: 200ms
  rules:
    - name: disk-90
      metric: {host: disk_used_percent, path: $MNT}
      breach: ">= 90"
      for: 1
action_groups:
  - name: fill
    target: local
    actions:
      - fault: disk-fill
        params: {path: $MNT, fill_to_percent: 95, allow_memory_backed: true}
        duration: ${HOLD}s
YAML

cat >"$WORK/fd_ctk.py" <<'PY'
import os, time

def _used(path):
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return used * 100.0 / (used + avail)

def fill(path, percent):
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    want = int(total * percent / 100) - (st.f_blocks - st.f_bfree) * st.f_frsize
    fd = os.open(os.path.join(path, "ctk-fill"), os.O_CREAT | os.O_WRONLY, 0o600)
    os.posix_fallocate(fd, 0, want)
    os.close(fd)

def disk_below(path, limit, log):
    pct = _used(path)
    with open(log, "a") as f:
        f.write(f"sample {time.time_ns()} {pct:.2f}\n")
    return pct < limit

def unfill(path, log):
    try:
        os.unlink(os.path.join(path, "ctk-fill"))
    except FileNotFoundError:
        pass
    with open(log, "a") as f:
        f.write(f"rolled_back {time.time_ns()}\n")
PY

cat >"$WORK/ctk.json" <<JSON
{
  "version": "1.0.0",
  "title": "guardrail-vs-faultdrill",
  "description": "Fill a tmpfs; a safeguard at >= 90 % interrupts and the rollback deletes the fill.",
  "controls": [{
    "name": "safeguard",
    "provider": {"type": "python", "module": "chaosaddons.controls.safeguards",
      "arguments": {"probes": [{
        "name": "disk-90", "type": "probe", "frequency": 0.2, "tolerance": true,
        "provider": {"type": "python", "module": "fd_ctk", "func": "disk_below",
                     "arguments": {"path": "$MNT", "limit": 90, "log": "$WORK/ctk.log"}}}]}}
  }],
  "method": [{
    "type": "action", "name": "fill",
    "provider": {"type": "python", "module": "fd_ctk", "func": "fill", "arguments": {"path": "$MNT", "percent": 95}},
    "pauses": {"after": $HOLD}
  }],
  "rollbacks": [{
    "type": "action", "name": "unfill",
    "provider": {"type": "python", "module": "fd_ctk", "func": "unfill", "arguments": {"path": "$MNT", "log": "$WORK/ctk.log"}}
  }]
}
JSON

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i<1) i=1; print a[i]}'; }

: >"$WORK/fd.ms"; : >"$WORK/ctk.ms"
echo "guardrail reaction, interval 200 ms, first breaching sample -> rolled back; $RUNS trips each"
printf '%4s %14s %14s\n' run faultdrill_ms chaostoolkit_ms
for i in $(seq 1 "$RUNS"); do
    mount -t tmpfs -o size=64m fd-bench "$MNT"
    set +e
    "$FAULTDRILL_BIN" --state-dir "$WORK/state" run "$WORK/fd.yaml" --json >"$WORK/report.json" 2>/dev/null
    code=$?
    set -e
    [ "$code" -eq 2 ] || { echo "faultdrill run $i: expected exit 2, got $code" >&2; exit 1; }
    fd_ms=$(jq -r '.guardrail_reaction | (.rolled_back_ms - .breach_sample_ms)' "$WORK/report.json")
    echo "$fd_ms" >>"$WORK/fd.ms"
    umount "$MNT"

    mount -t tmpfs -o size=64m fd-bench "$MNT"
    : >"$WORK/ctk.log"
    (cd "$WORK" && PYTHONPATH="$WORK" "$VENV/bin/chaos" --no-log-file run --no-validation \
        --rollback-strategy always ctk.json >/dev/null 2>&1) || true
    ctk_ms=$(awk '$1=="sample" && $3>=90 && !b {b=$2} $1=="rolled_back" {r=$2} END {if (b && r) printf "%.1f\n", (r-b)/1e6; else print "NA"}' "$WORK/ctk.log")
    [ -z "$(ls -A "$MNT")" ] || { echo "chaos toolkit run $i left files behind: $(ls "$MNT")" >&2; }
    echo "$ctk_ms" >>"$WORK/ctk.ms"
    umount "$MNT"
    printf '%4s %14s %14s\n' "$i" "$fd_ms" "$ctk_ms"
done
fd_med=$(median <"$WORK/fd.ms"); fd_p95=$(p95 <"$WORK/fd.ms")
ctk_med=$(grep -v NA "$WORK/ctk.ms" | median); ctk_p95=$(grep -v NA "$WORK/ctk.ms" | p95)
echo "faultdrill:    median ${fd_med} ms, p95 ${fd_p95} ms"
echo "chaos toolkit: median ${ctk_med} ms, p95 ${ctk_p95} ms ($(grep -c NA "$WORK/ctk.ms" || true) runs without a measurable trip)"
awk -v a="$ctk_med" -v b="$fd_med" 'BEGIN { if (b > 0) printf "ratio (chaos toolkit / faultdrill, medians): %.1fx\n", a / b }'
