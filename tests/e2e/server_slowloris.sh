#!/bin/bash
# Slowloris, short form (issue 16): 600 connections on loopback each send a
# header line every 4 s and never finish; /health and an API call from the
# same address must still answer (the guard closes the oldest unfinished
# request to make room), the slow connections are closed at their header
# deadline, and the server stops cleanly. The long form with its figures is
# bench/bench_slowloris.sh (make bench). The checker's bound is 5 s here so
# that a loaded machine cannot fail it; before the guard, the checks were
# never answered at all.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
ok "server starts" start_server "$ERR" --data "$work/data"
python3 tests/e2e/slowloris.py --port "$PORT" --token "$TOKEN" --conns 600 --seconds 14 --interval 4 \
    --max-latency "${SLOWLORIS_MAX_LATENCY:-5}" >"$work/slow.out" 2>&1
rc=$?
cat "$work/slow.out"
ok "under 600 slow connections, /health and the API answer every check" [ "$rc" = 0 ]
code=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
ok "the guard closed slow connections (evicted or past their header deadline)" \
    eval "grep -E '^kite_http_connections_closed_total\\{reason=\"(evicted|deadline)\"\\} [1-9]' '$work/body' >/dev/null"
# one client alone, a header line every 2 s: closed at its header deadline (10 s), not kept forever
python3 - "$PORT" >"$work/one.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
t0 = time.monotonic()
s.settimeout(2)
while time.monotonic() - t0 < 30:
    try:
        if not s.recv(100):
            print("closed after %.1f s" % (time.monotonic() - t0)); sys.exit(0)
    except socket.timeout:
        pass
    except OSError:
        print("reset after %.1f s" % (time.monotonic() - t0)); sys.exit(0)
    try:
        s.sendall(b"X-Slow: 1\r\n")
    except OSError:
        print("closed after %.1f s" % (time.monotonic() - t0)); sys.exit(0)
print("still open after 30 s"); sys.exit(1)
PY
ok "a connection still sending headers after the header deadline is closed" eval 'cat "$work/one.out"; grep -q "after" "$work/one.out" && ! grep -q "still open" "$work/one.out"'
code=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
ok "it is counted as a deadline close" eval "grep -E '^kite_http_connections_closed_total\\{reason=\"deadline\"\\} [1-9]' '$work/body' >/dev/null"
noauth GET "http://127.0.0.1:$PORT/health"
ok "the server answers after the attack" jt "d['status'] == 'UP'"
stop_server
ok "it stops cleanly" [ "$STOP_RC" = 0 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "server_slowloris: $pass passed, $fail failed"
[ "$fail" = 0 ]
