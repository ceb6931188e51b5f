#!/usr/bin/env bash
# Network faults: inject and roll back network-loss, network-partition and
# network-bandwidth in a throwaway namespace pair (deleted afterwards), through
# LocalHost with its journal. Prints median and max ms per step.
# Target (issue 4): <= 50 ms each. Needs root.
#
#   bench/network.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --quiet --bench network
