#!/bin/bash
# bench_slowloris.sh: the long form of tests/e2e/server_slowloris.sh: 600
# slow-header connections on loopback for 60 s against `kite server local`,
# a checker timing /health and an API call every 0.5 s (each must answer in
# under a second), and the server's RSS sampled meanwhile. Prints figures;
# exits non-zero when a check failed. Run by `make bench` (KITE=binary).
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
SECONDS_LONG=${SLOWLORIS_SECONDS:-60}
work=$(mktemp -d)
TOKEN=bench-token-0123456789abcdef
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
KITE_ADMIN_TOKEN=$TOKEN "$KITE" server local --port "$PORT" --quiet --data "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
echo "idle RSS: $(rss) kB"
( peak=0; while kill -0 $pid 2>/dev/null; do r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$work/peak"; sleep 0.5; done ) &
sampler=$!
python3 tests/e2e/slowloris.py --port "$PORT" --token "$TOKEN" --conns 600 --seconds "$SECONDS_LONG" --interval 4 --max-latency 1
rc=$?
kill $sampler 2>/dev/null
echo "peak RSS under the attack: $(cat "$work/peak" 2>/dev/null) kB; after: $(rss) kB"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^kite_http_connections_closed_total'
exit $rc
