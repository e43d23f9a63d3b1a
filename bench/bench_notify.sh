#!/bin/bash
# bench_notify.sh: alert tasks per second against a loopback webhook
# (tests/lib/hooksrv.py, not recording), next to the same number of bare
# libcurl posts to the same server (the curl tool, one keep-alive
# connection) and next to as many Log tasks (the engine's own per-task cost).
#
# One `kite run` of a ForEach over N values (BENCH_NOTIFY_N, default 300),
# each value one SlackIncomingWebhook; the same with a Log task instead; then
# `curl` posting the same body N times. Medians of 3 runs.
set -eu
KITE=${KITE:-build/kite}
N=${BENCH_NOTIFY_N:-300}
export TMPDIR=${TMPDIR:-/tmp}
work=$(mktemp -d)
python3 tests/lib/hooksrv.py --no-record --max-seconds 600 >"$work/port" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(head -1 "$work/port")/slack/T0BENCH/B0BENCH/benchT0ken

values=$(seq -s, 1 "$N")
flow() { # ID TASKYAML
    cat >"$work/$1.yaml" <<EOF
id: $1
namespace: bench.notify
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [$values]
    tasks:
$2
EOF
}
flow alerts "      - id: alert
        type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
        url: $URL
        payload: '{\"text\": \"alert {{ taskrun.value }}\"}'"
flow logs "      - id: log
        type: io.kestra.plugin.core.log.Log
        message: 'alert {{ taskrun.value }}'"

now() { date +%s.%N; }
run_flow() { # ID: seconds for one kite run
    local t0 t1
    rm -rf "$work/data"
    t0=$(now)
    "$KITE" run "$work/$1.yaml" --data "$work/data" --quiet >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
run_curl() {
    local t0 t1 args=()
    for _ in $(seq 1 "$N"); do
        args+=(-o /dev/null -H "Content-Type: application/json" -d '{"text": "alert"}' "$URL")
    done
    t0=$(now)
    curl -s "${args[@]}"
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | sed -n 2p; }

a=$( (run_flow alerts; run_flow alerts; run_flow alerts) | median)
l=$( (run_flow logs; run_flow logs; run_flow logs) | median)
c=$( (run_curl; run_curl; run_curl) | median)
printf 'alert tasks (SlackIncomingWebhook, %d in a ForEach): %8.1f /s  (%.2f ms each)\n' "$N" \
    "$(echo "$N / $a" | bc -l)" "$(echo "$a * 1000 / $N" | bc -l)"
printf 'Log tasks (the engine alone, same ForEach):          %8.1f /s  (%.2f ms each)\n' \
    "$(echo "$N / $l" | bc -l)" "$(echo "$l * 1000 / $N" | bc -l)"
printf 'bare libcurl posts (curl, one connection):           %8.1f /s  (%.2f ms each)\n' \
    "$(echo "$N / $c" | bc -l)" "$(echo "$c * 1000 / $N" | bc -l)"
printf 'alert task cost - engine cost - bare post:           %8.2f ms\n' \
    "$(echo "($a - $l - $c) * 1000 / $N" | bc -l)"
