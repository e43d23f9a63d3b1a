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
# ---- path traversal through the API (over TLS) ----------------------------------------------
cat >"$work/files.yml" <<'YML'
id: files
namespace: e2e.edges
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [out.txt]
    commands:
      - echo "file of {{ execution.id }}" > out.txt
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/files.yml"
req POST "/executions/e2e.edges/files?wait=true"
X1=$(j "d['id']"); U1=$(j "d['taskRunList'][0]['outputs']['outputFiles']['out.txt']")
req POST "/executions/e2e.edges/files?wait=true"
X2=$(j "d['id']"); U2=$(j "d['taskRunList'][0]['outputs']['outputFiles']['out.txt']")
req GET "/executions/$X1/file" --get --data-urlencode "path=$U1"
ok "an execution's own file is served" eval 'code_is 200 && grep -q "file of $X1" "$work/body"'
req GET "/executions/$X1/file" --get --data-urlencode "path=$U2"
ok "another execution's file through the first one's route: 403" code_is 403
T2=${U2#*executions/$X2/}
req GET "/executions/$X1/file" --get --data-urlencode "path=${U1%%/executions/*}/executions/$X1/../$X2/$T2"
ok "the same through '..': refused, not served" eval '[ "$code" -ge 400 ] && [ "$code" -lt 500 ] && ! grep -q "file of $X2" "$work/body"'
req GET "/executions/$X1/file" --get --data-urlencode "path=${U1%%/executions/*}/executions/$X1/%2e%2e/$X2/$T2"
ok "the same through '%2e%2e': refused with a 4xx, not served" eval '[ "$code" -ge 400 ] && [ "$code" -lt 500 ] && ! grep -q "file of $X2" "$work/body"'
req GET "/executions/$X1/file" --get --data-urlencode "path=/etc/passwd"
ok "an absolute path: 403" eval 'code_is 403 && ! grep -q root: "$work/body"'
req GET "/executions/$X1/file" --get --data-urlencode "path=file:///etc/passwd"
ok "a file:// URI: 403" eval 'code_is 403 && ! grep -q root: "$work/body"'
code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/executions/$X1/file?path=${U1}%00x")
ok "a NUL in the path: refused with a 4xx" eval '[ "$code" -ge 400 ] && [ "$code" -lt 500 ]'
code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/namespaces/e2e.edges%2F..%2F..%2Fx/kv")
ok "a namespace with '/..' in the kv route: refused with a 4xx" eval '[ "$code" -ge 400 ] && [ "$code" -lt 500 ]'
code=$(curl -s "${CA[@]}" -o "$work/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '"x"' "$BASE/namespaces/e2e.edges/kv/..%2F..%2Fescape")
ok "a kv key with '../': refused with a 4xx" eval '[ "$code" -ge 400 ] && [ "$code" -lt 500 ] && [ -z "$(find "$work" -name "escape*")" ]'

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

# ---- the SSRF guard (security.ssrf) ---------------------------------------------------------
ROOT=$PWD
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${S3PID:-}" ] && kill "$S3PID" 2>/dev/null; type pg_stop >/dev/null 2>&1 && pg_stop; type sshd_stop >/dev/null 2>&1 && sshd_stop; cleanup' EXIT
start_httpd() { # VAR [args...]: tests/lib/httpd.py, its port in VAR
    local var=$1
    shift
    python3 tests/lib/httpd.py --max-seconds 600 "$@" >"$work/$var.port" 2>/dev/null &
    pids+=($!)
    for _ in $(seq 1 100); do
        [ -s "$work/$var.port" ] && break
        sleep 0.05
    done
    printf -v "$var" '%s' "$(head -1 "$work/$var.port")"
}
start_httpd HP                         # the "internal" server: 127.0.0.1, denied
start_httpd AP --host 127.0.0.2        # an allowed server (kite.yml allow: [127.0.0.2])
H=http://127.0.0.1:$HP
A=http://127.0.0.2:$AP
cat >"$work/guard.yml" <<YML
data: $work/data-guard
security:
  ssrf:
    enabled: true
    allow: [127.0.0.2]
YML
printf 'data: %s\n' "$work/data-off" >"$work/off.yml"
# krun CONFIG FLOWFILE: kite run; sets rc, state and $work/run.err
krun() {
    timeout 120 "$KITE" run "$2" --config "$1" >"$work/run.out" 2>"$work/run.err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/run.err" | tail -1)
}
# flow ID TASK-YAML: writes $work/ID.yml, one task of id t
flow() {
    printf 'id: %s\nnamespace: e2e.ssrf\ntasks:\n  - id: t\n%s\n' "$1" "$2" >"$work/$1.yml"
}
refused() { # refused TEXT: the run failed and said TEXT
    [ "$state" = FAILED ] && grep -qF -- "$1" "$work/run.err" || { tail -5 "$work/run.err"; return 1; }
}
LOOP="security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback); allow it in kite.yml security.ssrf.allow"
META="security.ssrf: 169.254.169.254 is in the denied range 169.254.169.254/32 (the cloud metadata address)"

flow req_lo "    type: io.kestra.plugin.core.http.Request
    uri: $H/echo"
krun "$work/guard.yml" "$work/req_lo.yml"
ok "guard on: Request to 127.0.0.1 is refused, naming the address and the rule" refused "$LOOP"
krun "$work/off.yml" "$work/req_lo.yml"
ok "guard off: the same Request works as before" [ "$state" = SUCCESS ]
flow req_meta "    type: io.kestra.plugin.core.http.Request
    uri: http://169.254.169.254/latest/meta-data/iam/security-credentials/"
krun "$work/guard.yml" "$work/req_meta.yml"
ok "guard on: Request to the cloud metadata address is refused" refused "$META"
flow req_ok "    type: io.kestra.plugin.core.http.Request
    uri: $A/echo"
krun "$work/guard.yml" "$work/req_ok.yml"
ok "guard on: Request to an allowed address works" [ "$state" = SUCCESS ]
flow req_redir "    type: io.kestra.plugin.core.http.Request
    uri: $A/redirect?to=$H/echo"
krun "$work/guard.yml" "$work/req_redir.yml"
ok "guard on: a redirect from the allowed server to 127.0.0.1 is refused" refused "$LOOP"
flow req_redir_meta "    type: io.kestra.plugin.core.http.Request
    uri: $A/redirect?to=http://169.254.169.254/latest/meta-data/"
krun "$work/guard.yml" "$work/req_redir_meta.yml"
ok "guard on: a redirect to the metadata address is refused" refused "$META"
krun "$work/off.yml" "$work/req_redir.yml"
ok "guard off: the redirect is followed as before" [ "$state" = SUCCESS ]
flow req_mapped "    type: io.kestra.plugin.core.http.Request
    uri: http://[::ffff:127.0.0.1]:$HP/echo"
krun "$work/guard.yml" "$work/req_mapped.yml"
ok "guard on: 127.0.0.1 written as an IPv4-mapped IPv6 address is refused too" refused "$LOOP"
flow req_name "    type: io.kestra.plugin.core.http.Request
    uri: http://localhost:$HP/echo"
krun "$work/guard.yml" "$work/req_name.yml"
ok "guard on: a name that resolves to loopback is refused (the address is checked, not the name)" refused "is in the denied range"

flow dl_lo "    type: io.kestra.plugin.core.http.Download
    uri: $H/big?n=10"
krun "$work/guard.yml" "$work/dl_lo.yml"
ok "guard on: Download from 127.0.0.1 is refused" refused "$LOOP"
flow dl_redir "    type: io.kestra.plugin.core.http.Download
    uri: $A/redirect?to=$H/big?n=10"
krun "$work/guard.yml" "$work/dl_redir.yml"
ok "guard on: Download through a redirect to 127.0.0.1 is refused" refused "$LOOP"
krun "$work/off.yml" "$work/dl_redir.yml"
ok "guard off: the Download works as before" [ "$state" = SUCCESS ]

flow slack_lo "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: $H/echo
    payload: '{\"text\": \"hello\"}'"
krun "$work/guard.yml" "$work/slack_lo.yml"
ok "guard on: a Slack alert to 127.0.0.1 is refused" refused "$LOOP"
krun "$work/off.yml" "$work/slack_lo.yml"
ok "guard off: the Slack alert is sent as before" [ "$state" = SUCCESS ]
flow fn_http "    type: io.kestra.plugin.core.log.Log
    message: \"{{ http('$H/echo') }}\""
krun "$work/guard.yml" "$work/fn_http.yml"
ok "guard on: the http() function to 127.0.0.1 is refused" refused "$LOOP"

# PostgreSQL: a real server on 127.0.0.1
. tests/lib/pg.sh
if pg_start; then
    export SECRET_PGPW=$(printf '%s' "$PG_PASSWORD" | base64)
    flow pg_q "    type: io.kestra.plugin.jdbc.postgresql.Query
    url: $PG_URL
    username: $PG_USER
    password: \"{{ secret('PGPW') }}\"
    sql: SELECT 42 AS answer
    fetchType: FETCH_ONE"
    krun "$work/guard.yml" "$work/pg_q.yml"
    ok "guard on: PostgreSQL on 127.0.0.1 is refused" refused "$LOOP"
    krun "$work/off.yml" "$work/pg_q.yml"
    ok "guard off: the same query works as before" eval '[ "$state" = SUCCESS ] || tail -5 "$work/run.err"'
    sed "s/allow: \[127.0.0.2\]/allow: [127.0.0.2, 127.0.0.1]/" "$work/guard.yml" >"$work/guard_lo.yml"
    krun "$work/guard_lo.yml" "$work/pg_q.yml"
    ok "guard on with 127.0.0.1 allowed: the query works (libpq connects to the checked address)" \
        eval '[ "$state" = SUCCESS ] || tail -5 "$work/run.err"'
    sed "s#$PG_URL#jdbc:postgresql://169.254.169.254:5432/kite#" "$work/pg_q.yml" >"$work/pg_meta.yml"
    krun "$work/guard.yml" "$work/pg_meta.yml"
    ok "guard on: PostgreSQL at the metadata address is refused before any connection" refused "$META"
else
    echo "SKIP postgresql: no server"
fi
flow my_lo "    type: io.kestra.plugin.jdbc.mysql.Query
    url: jdbc:mysql://127.0.0.1:1/db
    username: u
    sql: SELECT 1"
krun "$work/guard.yml" "$work/my_lo.yml"
ok "guard on: MySQL on 127.0.0.1 is refused (not attempted)" refused "$LOOP"
flow mongo_lo "    type: io.kestra.plugin.mongodb.Find
    connection:
      uri: mongodb://127.0.0.1:1
    database: d
    collection: c"
krun "$work/guard.yml" "$work/mongo_lo.yml"
ok "guard on: MongoDB on 127.0.0.1 is refused" refused "$LOOP"
flow git_lo "    type: io.kestra.plugin.git.Clone
    url: https://127.0.0.1:1/repo.git"
krun "$work/guard.yml" "$work/git_lo.yml"
ok "guard on: a Git clone from 127.0.0.1 is refused" refused "$LOOP"

# SSH: a real sshd on 127.0.0.1
. tests/lib/sshd.sh
if sshd_start "$work/sshd"; then
    flow ssh_c "    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: \"$SSHD_PORT\"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
    privateKey: |
$(sed 's/^/      /' "$SSHD_KEY")
    commands:
      - echo ssh-said-hello"
    krun "$work/guard.yml" "$work/ssh_c.yml"
    ok "guard on: SSH to 127.0.0.1 is refused" refused "$LOOP"
    krun "$work/off.yml" "$work/ssh_c.yml"
    ok "guard off: the SSH command runs as before" eval '[ "$state" = SUCCESS ] && grep -q ssh-said-hello "$work/run.err"'
    krun "$work/guard_lo.yml" "$work/ssh_c.yml"
    ok "guard on with 127.0.0.1 allowed: SSH runs over the socket kite connected" \
        eval '[ "$state" = SUCCESS ] && grep -q ssh-said-hello "$work/run.err" || tail -5 "$work/run.err"'
    sed "s/host: 127.0.0.1/host: 169.254.169.254/" "$work/ssh_c.yml" >"$work/ssh_meta.yml"
    krun "$work/guard.yml" "$work/ssh_meta.yml"
    ok "guard on: SSH to the metadata address is refused" refused "$META"
    sshd_stop
else
    echo "SKIP ssh: the test sshd did not start"
fi

# S3: the fake S3 server on 127.0.0.1
python3 tests/lib/s3_fake.py --root "$work/s3root" --port-file "$work/s3port" --access-key AKIDEDGES \
    --secret-key edges/secret 2>>"$work/s3.err" &
S3PID=$!
for _ in $(seq 1 100); do [ -s "$work/s3port" ] && break; sleep 0.05; done
flow s3_mk "    type: io.kestra.plugin.aws.s3.CreateBucket
    endpointOverride: http://127.0.0.1:$(cat "$work/s3port")
    region: eu-west-3
    accessKeyId: AKIDEDGES
    secretKeyId: edges/secret
    bucket: edges"
krun "$work/guard.yml" "$work/s3_mk.yml"
ok "guard on: S3 at 127.0.0.1 is refused" refused "$LOOP"
krun "$work/off.yml" "$work/s3_mk.yml"
ok "guard off: the S3 bucket is created as before" eval '[ "$state" = SUCCESS ] && [ -d "$work/s3root/edges" ] || tail -5 "$work/run.err"'
sed "s#http://127.0.0.1:[0-9]*#http://169.254.169.254#" "$work/s3_mk.yml" >"$work/s3_meta.yml"
krun "$work/guard.yml" "$work/s3_meta.yml"
ok "guard on: S3 at the metadata address is refused" refused "$META"

# Docker: the engine's Unix socket passes (not a network address), a tcp:// engine on loopback does not
printf '{"stdout":["from the container"],"exit":0}\n' >"$work/dscript.json"
python3 tests/lib/docker_fake.py --socket "$work/d.sock" --log "$work/d.log" --script "$work/dscript.json" \
    --image kite-bb:test 2>>"$work/d.err" &
pids+=($!)
python3 tests/lib/docker_fake.py --port-file "$work/d.port" --log "$work/d2.log" --script "$work/dscript.json" \
    --image kite-bb:test 2>>"$work/d.err" &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$work/d.sock" ] && [ -s "$work/d.port" ] && break; sleep 0.05; done
flow dock "    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    commands: [echo hi]"
DOCKER_HOST="unix://$work/d.sock" krun "$work/guard.yml" "$work/dock.yml"
ok "guard on: the Docker runner over the engine's Unix socket works" \
    eval '[ "$state" = SUCCESS ] && grep -q "from the container" "$work/run.err" || tail -5 "$work/run.err"'
: >"$work/d2.log"
DOCKER_HOST="tcp://127.0.0.1:$(cat "$work/d.port")" krun "$work/guard.yml" "$work/dock.yml"
ok "guard on: a Docker engine at tcp://127.0.0.1 is never reached (kite runs the task as when no engine answers: sandbox or process runner)" \
    eval '[ ! -s "$work/d2.log" ] && grep -qE "no Docker engine is configured|No Docker engine answers" "$work/run.err" || { cat "$work/d2.log"; tail -3 "$work/run.err"; false; }'
DOCKER_HOST="tcp://127.0.0.1:$(cat "$work/d.port")" krun "$work/off.yml" "$work/dock.yml"
ok "guard off: that engine is used as before" eval '[ -s "$work/d2.log" ] && grep -q "from the container" "$work/run.err"'

# ---- template injection: a value from an input is never rendered again -------------------------
mkdir -p "$work/tiflows"
cat >"$work/tiflows/child.yml" <<'YML'
id: child
namespace: e2e.ti
inputs:
  - id: y
    type: STRING
tasks:
  - id: clog
    type: io.kestra.plugin.core.log.Log
    message: "child got {{ inputs.y }}"
outputs:
  - id: o
    type: STRING
    value: "{{ inputs.y }}"
YML
cat >"$work/ti.yml" <<YML
id: ti
namespace: e2e.ti
inputs:
  - id: x
    type: STRING
  - id: j
    type: JSON
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "log got {{ inputs.x }}"
  - id: req
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: POST
    contentType: text/plain
    body: "{{ inputs.x }}"
    headers:
      X-In: "{{ inputs.x }}"
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: e2e.ti
    flowId: child
    wait: true
    inputs:
      y: "{{ inputs.x }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      v: "{{ inputs.x }}"
      again: "{{ outputs.sub.outputs.o }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.j }}"
    tasks:
      - id: elog
        type: io.kestra.plugin.core.log.Log
        message: "each got {{ taskrun.value }}"
  - id: kvset
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: "{{ inputs.x }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      in.txt: "{{ inputs.x }} {{ kv('k') }}"
    commands:
      - cat in.txt; echo
  - id: lab
    type: io.kestra.plugin.core.execution.Labels
    labels:
      l: "{{ inputs.x }}"
YML
export SECRET_A=$(printf 'TOPSECRET-A' | base64)
timeout 120 "$KITE" run "$work/ti.yml" --flows "$work/tiflows" --data "$work/data-ti" --json \
    -i "x={{ 7*7 }}{{ secret('A') }}" -i 'j=["{{ 6*7 }}", "{{ secret(\"A\") }}"]' >"$work/ti.out" 2>"$work/ti.err"
ok "template injection: the flow runs" grep -q "ended SUCCESS" "$work/ti.err"
ok "no input was rendered again: no 49, 42, secret value or its mask anywhere (logs, outputs, labels)" \
    eval '! grep -E "got 49|got 42|\"49|TOPSECRET|[*]{6}" "$work/ti.out" "$work/ti.err"'
python3 - "$work/ti.out" "$work/ti.err" "$work/data-ti" <<'PY' >"$work/ti.check" 2>&1
import json, sys
x = json.load(open(sys.argv[1])); err = open(sys.argv[2]).read()
lit = "{{ 7*7 }}{{ secret('A') }}"
o = {t["taskId"]: t.get("outputs") or {} for t in x["taskRunList"]}
body = json.loads(o["req"]["body"])
checks = {
    "log": f"log got {lit}" in err,
    "request body": body["body"] == lit,
    "request header": body["headers"]["X-In"] == lit,
    "subflow input and output": f"child got {lit}" in err and o["sub"]["outputs"]["o"] == lit,
    "outputs": o["out"]["values"] == {"v": lit, "again": lit},
    "ForEach values": "each got {{ 6*7 }}" in err and 'each got {{ secret("A") }}' in err,
    "kv and inputFiles": f"{lit} {lit}" in err,
    "labels": {"key": "l", "value": lit} in x["labels"],
}
print(checks)
sys.exit(0 if all(checks.values()) else 1)
PY
ok "each place keeps the input's text as it was: Log, Request body and header, Subflow, outputs, ForEach, kv, inputFiles, labels" \
    eval 'cat "$work/ti.check"; grep -q "True" "$work/ti.check" && ! grep -q False "$work/ti.check"'

# ---- path traversal from a flow: read(), storage URIs, working-folder paths -----------------------
trav() { # trav NAME TASK-YAML TEXT: the flow fails saying TEXT, and nothing outside is read or written
    flow "$1" "$2"
    krun "$work/off.yml" "$work/$1.yml"
    [ "$state" = FAILED ] && grep -qF -- "$3" "$work/run.err" && ! grep -q "root:" "$work/run.err" || { tail -3 "$work/run.err"; return 1; }
}
for u in "kestra:///e2e/ssrf/_files/../../../../etc/passwd|'..' segment is not allowed" \
         "kestra:///e2e/%2e%2e/%2E%2E/etc/passwd|'..' segment is not allowed" \
         "kestra:///e2e/ssrf/..%2f..%2fetc/passwd|is not allowed inside a segment" \
         "kestra:///e2e/ssrf/a%00b|%00 (NUL) is not allowed" \
         "/etc/passwd|kestra:///e2e/ssrf/_files/etc/passwd: no such file" \
         "../../../etc/passwd|namespace file path '../../../etc/passwd': '..' is not allowed" \
         "file:///etc/passwd|namespace file path 'file:///etc/passwd': empty segment" \
         "kestra://evil/etc/passwd|a host is not allowed"; do
    ok "read('${u%%|*}') reads nothing outside the storage: refused or inside the namespace's files" trav trav_read "    type: io.kestra.plugin.core.log.Log
    message: \"{{ read('${u%%|*}') }}\"" "${u#*|}"
done
ok "inputFiles may not leave the working folder" trav trav_in "    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      ../../escape-edges.txt: x
    commands: [pwd]" "the path must stay inside the working folder"
ok "outputFiles may not name a file outside it" trav trav_out "    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [../../../../../../etc/passwd]
    commands: [pwd]" "the path must stay inside the working folder"
ok "outputFiles may not be absolute" trav trav_abs "    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [/etc/passwd]
    commands: [pwd]" "the path must be relative to the working folder"
ok "no file escaped the working folders" eval '[ -z "$(find "$work" /tmp -maxdepth 3 -name escape-edges.txt 2>/dev/null)" ]'
ok "a namespace file may not be written with '..' into another namespace" trav trav_ns "    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: mk
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands: [echo hi > a.txt]
      - id: up
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: e2e.ssrf
        files: [a.txt]
        destination: /../../other/" "'..' is not allowed"

# bad security.ssrf: an error naming the key at start
printf 'security:\n  ssrf:\n    enabled: true\n    deny: [10.0.0.1/8]\n' >"$work/badg.yml"
"$KITE" run "$work/req_ok.yml" --config "$work/badg.yml" >/dev/null 2>"$work/badg.err"
ok "a bad security.ssrf entry stops the start, naming it" eval '[ $? != 0 ] && grep -q "security.ssrf.deny\[0\].*10.0.0.1/8" "$work/badg.err" || cat "$work/badg.err"'

ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "edges: $pass passed, $fail failed"
[ "$fail" = 0 ]
