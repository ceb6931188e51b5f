#!/usr/bin/env bash
# dns-fault: the latency its resolver adds to the names it does NOT match (forwarded
# to the real resolver) at p50 and p99, against asking that resolver directly, in
# the same run; and the latency of a matched name (answered by the fault itself).
# Each query comes from a fresh UDP socket (a new source port, as stub resolvers do),
# so each one passes the nat redirect, not just an existing conntrack entry.
# Needs root (a network namespace of its own), dnsmasq and python3
# (tests/setup.sh installs them). Nothing leaves the namespace.
#
#   bench/dns.sh                      # QUERIES=2000 ROUNDS=3
#   FAULTDRILL_BIN=target/debug/faultdrill QUERIES=500 bench/dns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
use_release_binary
QUERIES=${QUERIES:-2000}
ROUNDS=${ROUNDS:-3}
NS=fdbdns$$
WORK=$(mktemp -d)
export FAULTDRILL_STATE_DIR=$WORK/state
DNSMASQ=""
cleanup() {
    "$FAULTDRILL_BIN" recover --all >/dev/null 2>&1 || true
    [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "/etc/netns/$NS" "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "/etc/netns/$NS"
echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
ip netns exec "$NS" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --bind-interfaces --listen-address=127.0.0.1 --user=root --pid-file="$WORK/dnsmasq.pid" \
    --address=/good.test/10.1.1.1 --address=/bad.test/10.2.2.2 >/dev/null 2>&1 &
DNSMASQ=$!

# Prints "p50_ms p99_ms" of QUERIES A queries for NAME to 127.0.0.1:53 in the namespace.
# (A bench client: the query is built by hand here; faultdrill itself uses hickory-proto.)
measure() {
    ip netns exec "$NS" python3 - "$1" "$QUERIES" <<'PY'
import socket, struct, sys, time
name, n = sys.argv[1], int(sys.argv[2])
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
def ask(i):
    q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    t0 = time.perf_counter_ns()
    s.sendto(q, ("127.0.0.1", 53))
    s.recv(4096)
    t1 = time.perf_counter_ns()
    s.close()
    return (t1 - t0) / 1e6
for i in range(100):
    ask(i)
times = sorted(ask(i) for i in range(n))
print(f"{times[n // 2]:.3f} {times[min(n - 1, int(n * 0.99))]:.3f}")
PY
}

for _ in $(seq 50); do measure good.test >/dev/null 2>&1 && break || sleep 0.1; done

echo "dns-fault resolver overhead ($QUERIES UDP queries a measurement, $ROUNDS rounds, binary $FAULTDRILL_BIN)"
printf "%-6s %-22s %-22s %-22s\n" round "direct p50/p99 ms" "forwarded p50/p99 ms" "matched p50/p99 ms"
for round in $(seq "$ROUNDS"); do
    read -r d50 d99 < <(measure good.test)
    "$FAULTDRILL_BIN" inject dns-fault -p names=bad.test -p effect=nxdomain -p netns="$NS" --duration 10m \
        >"$WORK/inject.out" 2>&1 &
    INJ=$!
    for _ in $(seq 100); do
        ip netns exec "$NS" nft list ruleset | grep -q "redirect to" && break
        sleep 0.05
    done
    read -r f50 f99 < <(measure good.test)
    read -r m50 m99 < <(measure bad.test)
    kill -TERM "$INJ"
    wait "$INJ" || true
    printf "%-6s %-22s %-22s %-22s\n" "$round" "$d50 / $d99" "$f50 / $f99" "$m50 / $m99"
    echo "$d50 $d99 $f50 $f99 $m50 $m99" >>"$WORK/rounds"
done
python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = [statistics.median(c) for c in zip(*rows)]
print(f"median of rounds: direct p50 {med[0]:.3f} ms, p99 {med[1]:.3f} ms; "
      f"forwarded p50 {med[2]:.3f} ms, p99 {med[3]:.3f} ms; matched p50 {med[4]:.3f} ms, p99 {med[5]:.3f} ms")
print(f"added by the forwarder (non-matching names): p50 {med[2] - med[0]:+.3f} ms, p99 {med[3] - med[1]:+.3f} ms")
PY
