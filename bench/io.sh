#!/usr/bin/env bash
# io-latency precision and the FUSE pass-through's overhead (issue 15).
#
# Precision: io-latency at 10 ms and 50 ms (ops=read) over a directory; a python
# reader times single 4 KiB pread(2)s of a file under it; the median against the set
# latency. Overhead: the same reads and open+read+close of a small file, in the raw
# directory vs under the mount with nothing hit: percent=0 (unaffected callers keep the
# page cache) and percent=0.01 with a 1 us delay (every read goes to the FUSE server,
# direct I/O, and 99.99 % are served at once). Prints every figure and the medians.
#
# Usage: bench/io.sh                     (builds the release binary first; 200 reads each)
#        FAULTDRILL_BIN=path READS=500 bench/io.sh
set -euo pipefail
cd "$(dirname "$0")/.."
READS=${READS:-200}
[ "$(id -u)" -eq 0 ] || { echo "needs root (it mounts FUSE)" >&2; exit 1; }
. bench/common.sh
use_release_binary

WORK=$(mktemp -d)
DIR="$WORK/data"
mkdir -p "$DIR" "$WORK/state"
head -c 1048576 /dev/urandom > "$DIR/big.bin"
head -c 4096 /dev/urandom > "$DIR/small.bin"
INJECT_PID=
cleanup() {
    [ -n "$INJECT_PID" ] && kill "$INJECT_PID" 2>/dev/null && wait "$INJECT_PID" 2>/dev/null || true
    "$FAULTDRILL_BIN" --state-dir "$WORK/state" recover --all >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# measure KIND: prints the median in microseconds of READS operations.
#   pread: single 4 KiB preads of one open file; open: open + 4 KiB read + close of small.bin.
measure() {
    python3 - "$1" "$DIR" "$READS" <<'PY'
import os, statistics, sys, time
kind, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
if kind == "pread":
    fd = os.open(os.path.join(d, "big.bin"), os.O_RDONLY)
    for i in range(n):
        t = time.perf_counter_ns(); os.pread(fd, 4096, (i * 4096) % (1 << 20)); times.append(time.perf_counter_ns() - t)
    os.close(fd)
else:
    p = os.path.join(d, "small.bin")
    for i in range(n):
        t = time.perf_counter_ns()
        fd = os.open(p, os.O_RDONLY); os.read(fd, 4096); os.close(fd)
        times.append(time.perf_counter_ns() - t)
print(f"{statistics.median(times) / 1000:.1f}")
PY
}

# with FAULT PARAMS...: runs the fault in the background until the mount is there.
with() {
    local fault=$1; shift
    local args=()
    for p in "$@"; do args+=(-p "$p"); done
    "$FAULTDRILL_BIN" --state-dir "$WORK/state" inject "$fault" -p "path=$DIR" "${args[@]}" --duration 120s \
        >/dev/null 2>&1 &
    INJECT_PID=$!
    for _ in $(seq 200); do grep -q " $DIR .* - fuse faultdrill:" /proc/self/mountinfo && return; sleep 0.05; done
    echo "the fault did not mount" >&2; exit 1
}

done_with() {
    kill -INT "$INJECT_PID"; wait "$INJECT_PID" 2>/dev/null || true; INJECT_PID=
    if grep -q " $DIR .* - fuse faultdrill:" /proc/self/mountinfo; then echo "a mount was left behind" >&2; exit 1; fi
}

echo "io-latency precision (median of $READS single 4 KiB preads, ops=read):"
for ms in 10 50; do
    with io-latency "latency=${ms}ms" ops=read
    got=$(measure pread)
    done_with
    awk -v got="$got" -v ms="$ms" 'BEGIN { printf "  set %3d ms: median %.2f ms, error %+.2f ms (%+.1f %%)\n", ms, got/1000, got/1000-ms, (got/1000-ms)/ms*100 }'
done

echo "pass-through overhead for unaffected operations (median of $READS, microseconds):"
raw_pread=$(measure pread); raw_open=$(measure open)
echo "  raw directory:                          pread $raw_pread us, open+read+close $raw_open us"
with io-latency latency=50ms percent=0
p0_pread=$(measure pread); p0_open=$(measure open)
done_with
echo "  mounted, percent=0 (page cache kept):   pread $p0_pread us, open+read+close $p0_open us"
with io-latency latency=1us percent=0.01 ops=read
dio_pread=$(measure pread); dio_open=$(measure open)
done_with
echo "  mounted, 99.99 % unhit (direct I/O):    pread $dio_pread us, open+read+close $dio_open us"
echo "after every rollback: no faultdrill mount over $DIR in /proc/self/mountinfo"
