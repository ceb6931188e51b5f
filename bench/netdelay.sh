#!/usr/bin/env bash
# network-delay's user-space path (the one kernels without netem take), in a
# throwaway namespace pair joined by a veth (deleted afterwards):
#   - precision: the error of the p50 ICMP round trip against the set delay, at
#     10, 50 and 200 ms (the veth's own round trip, measured first, subtracted);
#   - cost: the delay helper's CPU at 1,000 packets/s (UDP, bounded, namespaces only);
#   - throughput: one TCP stream for 5 s through no fault, 10 ms and 100 ms.
# Each figure is the median of RUNS runs (default 3). Needs root and python3.
#
#   bench/netdelay.sh                      # a release build of this tree
#   FAULTDRILL_BIN=target/debug/faultdrill RUNS=5 bench/netdelay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
use_release_binary
RUNS=${RUNS:-3}

CLIENT=fdbench-c$$
SERVER=fdbench-s$$
STATE=$(mktemp -d)
cleanup() {
    "$FAULTDRILL_BIN" --state-dir "$STATE" recover --all >/dev/null 2>&1 || true
    ip netns del "$CLIENT" 2>/dev/null || true
    ip netns del "$SERVER" 2>/dev/null || true
    rm -rf "$STATE"
}
trap cleanup EXIT
ip netns add "$CLIENT"
ip netns add "$SERVER"
ip -n "$CLIENT" link set lo up
ip -n "$SERVER" link set lo up
ip -n "$CLIENT" link add va type veth peer name vb netns "$SERVER"
ip -n "$CLIENT" addr add 10.99.0.1/24 dev va
ip -n "$SERVER" addr add 10.99.0.2/24 dev vb
ip -n "$CLIENT" link set va up
ip -n "$SERVER" link set vb up
sleep 0.5

# p50 of COUNT ICMP echo round trips to 10.99.0.2, GAP seconds apart, in ms.
ping_p50() {
    ip netns exec "$CLIENT" python3 - "$1" "$2" <<'EOF'
import socket, struct, sys, time, statistics
count, gap = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
def csum(b):
    b += b"\0" * (len(b) % 2)
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t > 0xffff: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
out = []
for seq in range(count):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"x" * 32
    pkt = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    t = time.perf_counter(); s.sendto(pkt, ("10.99.0.2", 0))
    while True:
        data = s.recv(1500); ihl = (data[0] & 15) * 4
        if data[ihl] == 0 and struct.unpack("!HH", data[ihl+4:ihl+8]) == (0x4242, seq): break
    out.append((time.perf_counter() - t) * 1000); time.sleep(gap)
print("%.3f" % statistics.median(out))
EOF
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Starts a held delay of $1 ms (extra params after it) in the background; sets HOLDER.
start_delay() {
    local latency=$1; shift
    "$FAULTDRILL_BIN" --state-dir "$STATE" inject network-delay -p "latency=${latency}ms" \
        -p destinations=10.99.0.2 -p interface=va -p "netns=$CLIENT" "$@" --duration 300s \
        >"$STATE/id" 2>"$STATE/err" &
    HOLDER=$!
    for _ in $(seq 100); do grep -q '^i-' "$STATE/id" 2>/dev/null && return 0; sleep 0.1; done
    cat "$STATE/err" >&2; exit 1
}
stop_delay() { kill -TERM "$HOLDER"; wait "$HOLDER" || true; }

base=$(for _ in $(seq "$RUNS"); do ping_p50 50 0.02; done | median)
echo "veth round trip without the fault: p50 ${base} ms"
echo "set delay | p50 round trip | p50 error (median of $RUNS runs)"
for d in 10 50 200; do
    start_delay "$d"
    count=40; gap=0.05
    [ "$d" = 200 ] && { count=20; gap=0.1; }
    p50s=$(for _ in $(seq "$RUNS"); do ping_p50 "$count" "$gap"; done)
    stop_delay
    p50=$(echo "$p50s" | median)
    err=$(echo "$p50s" | awk -v d="$d" -v b="$base" '{printf "%.3f\n", $1 - b - d}' | median)
    echo "${d} ms | ${p50} ms | ${err} ms"
done

# CPU of the helper while 1,000 UDP packets/s go through a 10 ms delay for 10 s.
cpu_runs=$(for _ in $(seq "$RUNS"); do
    start_delay 10
    id=$(head -1 "$STATE/id")
    helper=$(pgrep -f "helper delay --injection $id" | head -1)
    t0=$(awk '{print $14 + $15}' "/proc/$helper/stat")
    ip netns exec "$CLIENT" python3 - <<'EOF'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.perf_counter()
for i in range(10000):
    s.sendto(b"x" * 100, ("10.99.0.2", 9))
    next_at = start + (i + 1) / 1000.0
    delay = next_at - time.perf_counter()
    if delay > 0: time.sleep(delay)
EOF
    t1=$(awk '{print $14 + $15}' "/proc/$helper/stat")
    stop_delay
    awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f\n", (b - a) / hz / 10 * 100}'
done)
echo "helper CPU at 1,000 packets/s: $(echo "$cpu_runs" | median) % of one core (runs: $(echo $cpu_runs))"

# One TCP stream to a sink in the server namespace for 5 s, in Mbit/s.
ip netns exec "$SERVER" python3 -c '
import socket, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.99.0.2", 5001)); l.listen()
def sink(c):
    while c.recv(1 << 16): pass
while True:
    c, _ = l.accept(); threading.Thread(target=sink, args=(c,), daemon=True).start()
' &
SINK=$!
trap 'kill $SINK 2>/dev/null; cleanup' EXIT
sleep 0.5
stream() {
    ip netns exec "$CLIENT" python3 -c '
import socket, time
s = socket.create_connection(("10.99.0.2", 5001)); buf = b"x" * (1 << 16); sent = 0
end = time.perf_counter() + 5
while time.perf_counter() < end: sent += s.send(buf)
print("%.0f" % (sent * 8 / 5 / 1e6))
'
}
echo "throughput of one TCP stream (median of $RUNS runs):"
echo "  no fault: $(for _ in $(seq "$RUNS"); do stream; done | median) Mbit/s"
for d in 10 100; do
    start_delay "$d"
    echo "  ${d} ms: $(for _ in $(seq "$RUNS"); do stream; done | median) Mbit/s"
    stop_delay
done
