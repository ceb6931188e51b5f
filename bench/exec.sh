#!/usr/bin/env bash
# What the `exec` fault adds around the operator's own commands (issue 13): the medians of
# N interleaved rounds of `/bin/true` run twice directly, and of an exec action whose inject
# and rollback are `/bin/true` (check, prepare, journal writes before and after, both
# commands), in the same run; the overhead and the ratio (bench/exec.rs). Target: <= 5 ms.
#
#   bench/exec.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench exec --quiet -- "${1:-200}"
