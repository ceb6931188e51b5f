#!/usr/bin/env bash
# tcp-proxy-latency at latency 0 vs direct loopback, in the same run: p50
# per-request overhead (target <= 1 ms) and bulk throughput ratio (target >= 70 %).
# No root needed.
#
#   bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --quiet --bench proxy
