#!/bin/bash
# The server's edges (issue 14): TLS (server.tls), trusted reverse proxies
# (server.trustedProxies), and hostile input: the SSRF guard
# (security.ssrf) for the tasks that open connections, template
# injection, path traversal. Everything against the real binary on loopback
# with a certificate made by openssl here.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
: >"$ERR"
sh tests/lib/mkcert.sh "$work"
chmod 600 "$work/key.pem"
CA=(--cacert "$work/cert.pem")

# start_kite ERRFILE CONFIG [ARGS...]: kite server local with a kite.yml on a
# free port; waits until /health answers over SCHEME (http or https,
# $SCHEME); sets PORT, BASE, SERVER_PID. Not quiet: the access log names the
# client.
start_kite() {
    local err=$1 cfg=$2
    shift 2
    PORT=$(free_port)
    BASE=$SCHEME://127.0.0.1:$PORT/api/v1
    KITE_ADMIN_TOKEN=$TOKEN "$KITE" server local --port "$PORT" --config "$cfg" "$@" >"$work/server.out" 2>>"$err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "${CA[@]}" "$SCHEME://127.0.0.1:$PORT/health" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
req() {
    local m=$1 p=$2
    shift 2
    code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$BASE$p")
}

# ---- TLS ------------------------------------------------------------------------
cat >"$work/tls.yml" <<YML
data: $work/data
server:
  tls:
    cert: $work/cert.pem
    key: $work/key.pem
YML
SCHEME=https
ok "a TLS server starts with server.tls" start_kite "$ERR" "$work/tls.yml"
ok "it prints an https URL" grep -q "serving https://127.0.0.1:$PORT/" "$work/server.out"
code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' "https://127.0.0.1:$PORT/health")
ok "GET /health over https, verified against the test's certificate" eval 'code_is 200 && jt "d[\"status\"] == \"UP\""'
code=$(curl -s -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/health")
ok "a client that does not trust the certificate is refused (no answer)" code_is 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")
ok "plain HTTP on the TLS port gets no HTTP answer" code_is 000
curl -s "${CA[@]}" --tls-max 1.1 -o /dev/null "https://127.0.0.1:$PORT/health"
ok "TLS 1.1 is refused (TLS 1.2 and 1.3 only)" [ $? != 0 ]
code=$(curl -s "${CA[@]}" --tlsv1.3 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/health")
ok "TLS 1.3 is served" code_is 200
req GET /flows/search
ok "the API over https with the token" code_is 200
code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer wrong" "$BASE/flows/search")
ok "and 401 without a valid one" code_is 401
head -c 11000000 /dev/zero >"$work/big"
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/big"
ok "the body cap holds over TLS (413)" code_is 413
cat >"$work/slow.yml" <<'YML'
id: slow
namespace: e2e.edges
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: starting
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done sleeping
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/slow.yml"
req POST /executions/e2e.edges/slow
SID=$(j "d['id']")
timeout 20 curl -s -N "${CA[@]}" -H "Authorization: Bearer $TOKEN" "$BASE/executions/$SID/follow" >"$work/follow.txt"
ok "server-sent events over TLS: state events until SUCCESS" python3 - "$work/follow.txt" <<'PY'
import json, sys
evs = [json.loads(l[5:]) for l in open(sys.argv[1]) if l.startswith("data:")]
states = [e["state"]["current"] for e in evs]
sys.exit(0 if len(evs) >= 2 and states[-1] == "SUCCESS" else 1)
PY
# the connection guard over TLS: a client that completes the handshake and
# then trickles header lines, and one that never starts the handshake, are
# both closed at the header deadline (10 s), while others are served
python3 - "$PORT" "$work/cert.pem" >"$work/tlsslow.out" 2>&1 <<'PY' &
import socket, ssl, sys, time, threading
port, ca = int(sys.argv[1]), sys.argv[2]
res = {}
def trickle():
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic(); s.settimeout(2)
    while time.monotonic() - t0 < 30:
        try:
            if not s.recv(100):
                res["trickle"] = time.monotonic() - t0; return
        except socket.timeout:
            pass
        except (OSError, ssl.SSLError):
            res["trickle"] = time.monotonic() - t0; return
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except (OSError, ssl.SSLError):
            res["trickle"] = time.monotonic() - t0; return
def silent():
    s = socket.create_connection(("127.0.0.1", port)); t0 = time.monotonic(); s.settimeout(30)
    try:
        s.recv(100)
    except OSError:
        pass
    res["silent"] = time.monotonic() - t0
ts = [threading.Thread(target=trickle), threading.Thread(target=silent)]
[t.start() for t in ts]; [t.join() for t in ts]
print(res)
sys.exit(0 if all(k in res and 8 < res[k] < 25 for k in ("trickle", "silent")) else 1)
PY
slowpid=$!
sleep 1
code=$(curl -s "${CA[@]}" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/health")
ok "served while slow TLS clients hold connections" code_is 200
wait $slowpid
slowrc=$?
cat "$work/tlsslow.out"
ok "slow TLS clients (trickling headers, or no handshake at all) are closed at the header deadline" [ "$slowrc" = 0 ]
stop_server
ok "the TLS server stops cleanly" [ "$STOP_RC" = 0 ]

# bad TLS files: clear errors at start, naming the key of kite.yml and the file
bad_start() { # bad_start CONFIG: the server must refuse to start; its stderr in $work/bad.err
    : >"$work/bad.err"
    timeout 20 env KITE_ADMIN_TOKEN=$TOKEN "$KITE" server local --port 0 --config "$1" >/dev/null 2>"$work/bad.err"
    [ $? != 0 ] && [ $? != 124 ]
}
sed "s#cert: .*#cert: $work/nope.pem#" "$work/tls.yml" >"$work/bad1.yml"
ok "a missing certificate file stops the start" bad_start "$work/bad1.yml"
ok "naming server.tls.cert and the file" grep -q "server.tls.cert $work/nope.pem" "$work/bad.err"
echo "not a certificate" >"$work/junk.pem"
sed "s#key: .*#key: $work/junk.pem#" "$work/tls.yml" >"$work/bad2.yml"
ok "a key file that is not a key stops the start" bad_start "$work/bad2.yml"
ok "naming server.tls.key and the file" eval 'cat "$work/bad.err"; grep -q "server.tls.key $work/junk.pem: not a PEM private key" "$work/bad.err"'
mkdir -p "$work/other"
sh tests/lib/mkcert.sh "$work/other"
sed "s#key: .*#key: $work/other/key.pem#" "$work/tls.yml" >"$work/bad3.yml"
chmod 600 "$work/other/key.pem"
ok "a key of another certificate stops the start" bad_start "$work/bad3.yml"
ok "saying it does not match" grep -q "server.tls.key $work/other/key.pem does not match the certificate server.tls.cert $work/cert.pem" "$work/bad.err"
printf 'data: %s\nserver:\n  tls:\n    cert: %s\n' "$work/data" "$work/cert.pem" >"$work/bad4.yml"
ok "cert without key is refused" bad_start "$work/bad4.yml"
ok "saying what is missing" grep -q "'server.tls' needs 'cert' and 'key'" "$work/bad.err"
printf 'data: %s\nserver:\n  tls:\n    cert: %s\n    key: %s\n    keyy: x\n' "$work/data" "$work/cert.pem" "$work/key.pem" >"$work/bad5.yml"
ok "an unknown key under server.tls is refused" bad_start "$work/bad5.yml"
ok "with its position and a suggestion" grep -q "bad5.yml:6:5: unknown key 'keyy' (did you mean 'key'?)" "$work/bad.err"
chmod 644 "$work/key.pem"
ok "a key readable by others still serves" start_kite "$work/warn.err" "$work/tls.yml"
stop_server
ok "with a warning naming the key file and its mode" grep -q "warning: server.tls.key $work/key.pem is readable by its group or others (mode 0644)" "$work/warn.err"
chmod 600 "$work/key.pem"

# ---- behind a reverse proxy ------------------------------------------------------------
SCHEME=http
CA=()
printf 'data: %s\nserver:\n  trustedProxies: [127.0.0.0/8, "::1"]\n' "$work/data" >"$work/proxy.yml"
ok "a server with trustedProxies starts" start_kite "$work/proxy.err" "$work/proxy.yml"
curl -s -o /dev/null -H "X-Forwarded-For: 198.51.100.1, 203.0.113.7" "http://127.0.0.1:$PORT/health?p=1"
curl -s -o /dev/null -H "X-Forwarded-For: 203.0.113.8, 127.0.0.5" "http://127.0.0.1:$PORT/health?p=2"
curl -s -o /dev/null -H "X-Forwarded-For: 203.0.113.9" -H "X-Forwarded-For: 10.9.9.9" "http://127.0.0.1:$PORT/api/v1/health"
curl -s -o /dev/null -H "X-Forwarded-For: garbage, 203.0.113.10" "http://127.0.0.1:$PORT/metrics"
sleep 0.3
ok "from a trusted peer, the client is X-Forwarded-For's rightmost entry" grep -q "kite server: 203.0.113.7 GET /health 200" "$work/proxy.err"
ok "trusted hops on the right are skipped" grep -q "kite server: 203.0.113.8 GET /health 200" "$work/proxy.err"
ok "repeated X-Forwarded-For fields are read as one list" grep -q "kite server: 10.9.9.9 GET /api/v1/health 200" "$work/proxy.err"
ok "entries left of the client are never read (garbage there is harmless)" grep -q "kite server: 203.0.113.10 GET /metrics 200" "$work/proxy.err"
stop_server
printf 'data: %s\nserver:\n  trustedProxies: [10.0.0.0/8]\n' "$work/data" >"$work/proxy2.yml"
ok "a server trusting another network starts" start_kite "$work/proxy2.err" "$work/proxy2.yml"
curl -s -o /dev/null -H "X-Forwarded-For: 203.0.113.7" "http://127.0.0.1:$PORT/health"
sleep 0.3
ok "from an untrusted peer, X-Forwarded-For is ignored: the client is the peer" \
    eval 'grep -q "kite server: 127.0.0.1 GET /health 200" "$work/proxy2.err" && ! grep -q 203.0.113.7 "$work/proxy2.err"'
stop_server
printf 'data: %s\nserver:\n  trustedProxies: [10.0.0.1/8]\n' "$work/data" >"$work/bad6.yml"
ok "a network with host bits set is refused" bad_start "$work/bad6.yml"
ok "naming the entry" grep -q "server.trustedProxies\[0\]': '10.0.0.1/8' has bits set past its /8 prefix" "$work/bad.err"

ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "edges: $pass passed, $fail failed"
[ "$fail" = 0 ]
