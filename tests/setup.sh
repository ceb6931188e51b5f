#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (idempotent, quick when done).
# Tests that need root or these tools run for real in CI: they never skip there.
set -euo pipefail
packages=(nftables iproute2 procps curl python3 stress-ng prometheus chromium python3-venv python3-jsonschema python3-yaml haproxy prometheus-alertmanager dnsmasq-base dnsutils conntrack redis-server faketime)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Prometheus's Debian package starts a service we do not want; tests run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus 2>/dev/null || true; fi
pkill -x prometheus 2>/dev/null || true
# Likewise Alertmanager's (tests/daemon_alertmanager_real.rs runs its own, clustering off).
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus-alertmanager 2>/dev/null || true; fi
# Likewise Redis's (tests/drills_custom.rs runs its own primary and replica on loopback ports).
if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server 2>/dev/null || true; fi
# The README's test command is `cargo nextest run`: install nextest when this toolchain lacks it.
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
