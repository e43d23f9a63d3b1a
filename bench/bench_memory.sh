#!/bin/bash
# bench_memory.sh: the server's peak RSS under the memory attacks of issue 16
# (bench/memory_attacks.py: 10 MB webhook bodies, wrong-key webhooks to a
# large flow, concurrent flow searches), against a fresh `kite server
# local`. Prints figures. Run by `make bench` (KITE=binary).
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
work=$(mktemp -d)
TOKEN=bench-token-0123456789abcdef
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
KITE_ADMIN_TOKEN=$TOKEN "$KITE" server local --port "$PORT" --quiet --data "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
python3 bench/memory_attacks.py "$PORT" "$TOKEN" "$pid"
