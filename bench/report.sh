#!/usr/bin/env bash
# HTML report size and how long headless Chromium takes to render it (median of 11 loads,
# against an empty page loaded the same way as the baseline), for a one-host report and a
# 100-host fleet report, in the same run.
# Needs chromium (tests/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench report --quiet 2>/dev/null | tee /tmp/fd-report-bench.txt
empty=$PWD/target/bench-empty.html
echo '<!DOCTYPE html><html><body></body></html>' >"$empty"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
load() {
    local start end
    start=$(date +%s%N)
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --dump-dom "file://$1" >/dev/null 2>&1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Interleaved, so the machine's noise falls on the baseline and the reports alike.
: >/tmp/fd-empty.ms; : >/tmp/fd-report.ms; : >/tmp/fd-report-fleet.ms
for _ in $(seq 11); do
    load "$empty" >>/tmp/fd-empty.ms
    load "$PWD/target/bench-report.html" >>/tmp/fd-report.ms
    load "$PWD/target/bench-report-fleet.html" >>/tmp/fd-report-fleet.ms
done
e=$(median </tmp/fd-empty.ms)
for name in report report-fleet; do
    p=$(median </tmp/fd-$name.ms)
    echo "chromium load+render+dump (median of 11, interleaved), bench-$name.html: empty page ${e} ms, report ${p} ms; report cost over baseline $((p - e)) ms (target < 1000 ms)"
done
