#!/usr/bin/env bash
# Rebuilds tests/fuzz/seeds/ (committed) from the test fixtures: experiments/, templates/,
# tests/bad_input/, and bodies like those of the daemon tests. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=tests/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{experiment,template_render,inventory,api_injection,api_run,alertmanager}
for f in experiments/*.yaml templates/*.yaml tests/bad_input/*.yaml; do
    cp "$f" "$seeds/experiment/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in templates/*.yaml; do
    n=$(basename "$f" .yaml)
    { printf '\0'; cat "$f"; } >"$seeds/template_render/$n"
    # Each declared parameter set to its own default's text, and one undeclared.
    sets=$(awk '/^parameters:/ {p = 1; next} p && /^[^ #]/ {p = 0} p && /^  [a-z_]+:/ {sub(":", "", $1); print $1 "=1"}' "$f")
    { printf '%s\nnot_declared=x\n\0' "$sets"; cat "$f"; } >"$seeds/template_render/$n-sets"
done
for f in tests/bad_input/template_*.yaml; do
    { printf 'x=1\n\0'; cat "$f"; } >"$seeds/template_render/$(basename "$f" .yaml)"
done
printf 'hosts:\n  - name: web-1\n    url: http://127.0.0.1:7878\n    labels: {zone: az-1, role: web}\n    token: {env: FAULTDRILL_TOKEN}\n  - name: db-1\n    url: https://127.0.0.2:7878\n    token: {file: /etc/faultdrill/token}\n' >"$seeds/inventory/two-hosts"
printf 'hosts:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: a\n    url: ftp://x\n  - name: local\n    url: http://127.0.0.1:2\n' >"$seeds/inventory/duplicates"
printf 'hosts:\n  - name: a\n    url: http://127.0.0.1:1\n    lables: {zone: az-1}\n' >"$seeds/inventory/unknown-key"
printf 'base: &b {url: "http://127.0.0.1:1", labels: {zone: az-1}}\nhosts:\n  - {<<: *b, name: x}\n' >"$seeds/inventory/merge-key"
i=0
for body in \
    '{"fault":"cpu-burn","params":{"percent":50,"cores":1},"duration":"60s","lease":"15s"}' \
    '{"fault":"disk-fill","params":{"path":"/tmp","size":"1MiB"},"duration":"30s","dry_run":true}' \
    '{"fault":"memory-stress","params":{"percent":10,"rate":"50MiB/s"},"duration":"1m"}' \
    '{"fault":"process-pause","params":{"name":"sleep","count":1},"duration":"5s"}' \
    '{"fault":"network-loss","params":{"percent":20,"destinations":["10.0.0.0/8"],"ports":[80]},"duration":"10s"}' \
    '{"fault":"network-delay","params":{"interface":"lo","latency":"100ms","jitter":"10ms"},"duration":"10s"}' \
    '{"fault":"tcp-proxy-latency","params":{"listen":"127.0.0.1:15432","upstream":"127.0.0.1:5432","latency":"5ms"},"duration":"10s"}' \
    '{"fault":"cpu-burn","params":{"percent":"lots"},"duration":"-1s","lease":"2h","extra":1}' \
    '{"fault":"nope","params":[],"duration":""}'; do
    i=$((i + 1)); printf '%s' "$body" >"$seeds/api_injection/body-$i"
done
i=0
for f in experiments/*.yaml templates/disk-full-guardrail.yaml tests/bad_input/unknown_key.yaml; do
    i=$((i + 1))
    jq -n --rawfile e "$f" --arg o "$(basename "$f")" '{experiment: $e, origin: $o, sets: {fill_to: "90"}}' >"$seeds/api_run/run-$i"
done
printf '{"experiment":"version: 1\\nname: x\\n","sets":{"a":"b"},"origin":null}' >"$seeds/api_run/tiny"
for status in firing resolved; do
    for labels in '{"alertname":"HighErrorRate","faultdrill_guardrail":"error-budget"}' \
        '{"alertname":"X","faultdrill_guardrail":"g","faultdrill_run":"r-1","faultdrill_experiment":"e","faultdrill_label_team":"payments"}' \
        '{"alertname":"Y","faultdrill_guardrial":"g"}' '{}'; do
        i=$((i + 1))
        jq -nc --arg s "$status" --argjson l "$labels" '{version: "4", status: $s, receiver: "faultdrill",
            groupLabels: {alertname: "HighErrorRate"}, commonLabels: $l, externalURL: "http://alertmanager.invalid:9093",
            alerts: [{status: $s, labels: $l, annotations: {summary: "error rate above budget"},
            startsAt: "2026-11-24T05:00:00Z", endsAt: "0001-01-01T00:00:00Z", fingerprint: "c0ffee"}]}' \
            >"$seeds/alertmanager/hook-$i"
    done
done
du -sh "$seeds"; for d in "$seeds"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l)"; done
