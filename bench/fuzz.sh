#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target under tests/fuzz for a bounded time each, from the committed
# seeds (tests/fuzz/seeds/TARGET) plus a scratch corpus, and prints executions/s and crashes.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds once, niced.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#   env: FUZZ_SANITIZER (default none; address for ASan, slower), FUZZ_CORPUS (scratch corpus
#   root, default a temp dir, deleted unless given)
# A crash leaves its input in tests/fuzz/artifacts/TARGET/; replay it with
#   cargo +nightly fuzz run --fuzz-dir tests/fuzz -s none TARGET tests/fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
sanitizer=${FUZZ_SANITIZER:-none}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(experiment template_render inventory api_injection api_run alertmanager)
nice -n 10 cargo +nightly fuzz build --fuzz-dir tests/fuzz -s "$sanitizer" 2>&1 | grep -v '^\s*Compiling' || true
bin_dir=tests/fuzz/target/x86_64-unknown-linux-gnu/release
corpus_root=${FUZZ_CORPUS:-$(mktemp -d)}
[ -n "${FUZZ_CORPUS:-}" ] || trap 'rm -rf "$corpus_root"' EXIT
failed=0
printf '%-16s %8s %12s %10s %8s %s\n' target seconds executions exec/s crashes corpus
for t in "${targets[@]}"; do
    mkdir -p "$corpus_root/$t" "tests/fuzz/artifacts/$t"
    log="$corpus_root/$t.log"
    start=$(date +%s.%N)
    status=0
    nice -n 10 "$bin_dir/$t" "$corpus_root/$t" "tests/fuzz/seeds/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="tests/fuzz/artifacts/$t/" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1 || status=$?
    took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}')
    execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log")
    crashes=$(grep -cE '^==[0-9]+== ERROR|panicked at|deadly signal|SUMMARY: libFuzzer' "$log" || true)
    [ "$status" -eq 0 ] || crashes=$((crashes > 0 ? crashes : 1))
    printf '%-16s %8s %12s %10s %8s %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "$crashes" "$(ls "$corpus_root/$t" | wc -l)"
    if [ "$crashes" -gt 0 ]; then
        failed=1
        grep -m5 -E 'panicked at|ERROR|Test unit written' "$log" | sed 's/^/    /'
    fi
done
exit "$failed"
