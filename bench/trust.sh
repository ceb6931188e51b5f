#!/usr/bin/env bash
# What the trust boundary costs (issue 11): per-call overhead of token + role +
# policy + audit, and `run --inventory` on HOSTS daemons over plain HTTP and over
# mTLS, audit on in both, in the same run (bench/trust.rs).
#
#   bench/trust.sh [CALLS] [HOSTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
use_release_binary
cargo bench --bench trust --quiet -- "$FAULTDRILL_BIN" "${1:-2000}" "${2:-100}" "${3:-5}"
