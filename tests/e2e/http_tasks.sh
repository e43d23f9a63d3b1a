#!/bin/bash
# The HTTP tasks end to end through `kite run` against tests/lib/httpd.py on
# loopback (plain, and TLS with a certificate made for the run by
# tests/lib/mkcert.sh): Request (uri, method, headers, body, formData
# url-encoded and multipart with files from storage, contentType,
# encryptBody, options auth/timeout/ssl/proxy/allowFailed/
# allowedResponseCodes/followRedirects/defaultCharset/maxContentLength, the
# older allowFailed and sslOptions), Download (saveAs, Content-Disposition,
# empty answers, a large body in bounded memory), SseRequest, the older
# io.kestra.plugin.fs.http names; failures (refused, unresolvable, TLS,
# timeout, 5xx with retry) asserted on their one-line message; secrets
# masked; 100 requests over TLS from one worker on one connection; and the
# examples of docs/http.md. One PASS/FAIL line per case.
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "PASS $1"; }
ko() { echo "FAIL $1: $2"; [ -f "$work/err" ] && tail -8 "$work/err" | sed 's/^/    /'; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else ko "$1" "'$3' not in $2"; fi
}
hasnt() { # name, file, text
    if grep -qF -- "$3" "$2"; then ko "$1" "'$3' found in $2"; else ok "$1"; fi
}
# run NAME FLOWFILE [args...]: stderr in $work/err, stdout (--json) in
# $work/out, the final state in $state
run() {
    local n=$1 flow=$2
    shift 2
    timeout 120 "$KITE" run "$flow" --data "$work/data-$n" --json "$@" >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}
want_state() { # name, state
    if [ "$state" = "$2" ]; then ok "$1"; else ko "$1" "ended '$state', expected $2"; fi
}
# out EXPR: a Python expression on the execution JSON `x` (outputs of task t:
# o('t'))
out() {
    python3 -c '
import json, sys
x = json.load(open(sys.argv[1]))
def o(t):
    for tr in x.get("taskRunList") or []:
        if tr.get("taskId") == t:
            return tr.get("outputs") or {}
    return {}
print(eval(sys.argv[2]))' "$work/out" "$1" 2>&1
}
eq() { # name, python expr, expected
    local got
    got=$(out "$2")
    if [ "$got" = "$3" ]; then ok "$1"; else ko "$1" "$2 = '$got', expected '$3'"; fi
}

start_httpd() { # VAR [args...]: starts tests/lib/httpd.py, its port in VAR
    local var=$1
    shift
    python3 "$ROOT/tests/lib/httpd.py" --max-seconds 600 "$@" >"$work/$var.port" 2>/dev/null &
    pids+=($!)
    for _ in $(seq 1 100); do
        [ -s "$work/$var.port" ] && break
        sleep 0.05
    done
    printf -v "$var" '%s' "$(head -1 "$work/$var.port")"
}
start_httpd PORT
sh "$ROOT/tests/lib/mkcert.sh" "$work"
start_httpd TPORT --tls "$work/cert.pem" "$work/key.pem"
H=http://127.0.0.1:$PORT
T=https://127.0.0.1:$TPORT
if [ -z "$PORT" ] || [ -z "$TPORT" ]; then
    echo "FAIL http: the test servers did not start"
    exit 0
fi

# ---- Request: the request as sent, the outputs as Kestra gives them ----------
cat >"$work/req.yaml" <<EOF
id: req
namespace: e2e.http
tasks:
  - id: post
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo?q=1
    method: post
    contentType: text/plain
    body: "hello {{ flow.id }}"
    headers:
      X-Custom: one
      X-Number: 42
  - id: json
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: PUT
    body: |
      {{ {"a": 1, "b": "two"} }}
  - id: form
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: POST
    formData:
      user: John Doe
      n: 3
  - id: latin1
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: POST
    contentType: text/plain
    body: café
    options:
      defaultCharset: ISO-8859-1
  - id: latin1_answer
    type: io.kestra.plugin.core.http.Request
    uri: $H/latin1
  - id: del
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: DELETE
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "method={{ fromJson(outputs.post.body).method }} x-test={{ outputs.post.headers['X-Test'][0] }}"
EOF
run req "$work/req.yaml"
want_state "request: a flow of Requests ends SUCCESS" SUCCESS
eq "request: code" "o('post')['code']" 200
eq "request: uri is the URL requested" "o('post')['uri']" "$H/echo?q=1"
eq "request: headers map name -> list of values" "o('post')['headers']['X-Test']" "['kite']"
eq "request: method (lowercase accepted)" "json.loads(o('post')['body'])['method']" POST
eq "request: body sent" "json.loads(o('post')['body'])['body']" "hello req"
eq "request: contentType with the charset" "json.loads(o('post')['body'])['headers']['Content-Type']" "text/plain; charset=UTF-8"
eq "request: headers sent (numbers as text)" "[json.loads(o('post')['body'])['headers'][k] for k in ('X-Custom','X-Number')]" "['one', '42']"
eq "request: a map rendered into body is JSON, contentType application/json by default" "(json.loads(json.loads(o('json')['body'])['body']), json.loads(o('json')['body'])['headers']['Content-Type'], json.loads(o('json')['body'])['method'])" "({'a': 1, 'b': 'two'}, 'application/json; charset=UTF-8', 'PUT')"
eq "request: formData url-encoded" "(json.loads(o('form')['body'])['body'], json.loads(o('form')['body'])['headers']['Content-Type'])" "('user=John%20Doe&n=3', 'application/x-www-form-urlencoded')"
eq "request: defaultCharset encodes the body" "(json.loads(o('latin1')['body'])['body_len'], json.loads(o('latin1')['body'])['headers']['Content-Type'])" "(4, 'text/plain; charset=ISO-8859-1')"
eq "request: an ISO-8859-1 answer is read as text" "o('latin1_answer')['body']" "café"
eq "request: DELETE" "json.loads(o('del')['body'])['method']" DELETE
has "request: flows read the body with fromJson and headers as lists" "$work/err" "method=POST x-test=kite"
"$KITE" validate "$work/req.yaml" >"$work/validate" 2>&1
hasnt "request: kite validate does not warn for the HTTP tasks" "$work/validate" "warning"

# ---- multipart with files from storage, Download, the fs.http names ----------
cat >"$work/mp.yaml" <<EOF
id: mp
namespace: e2e.http
tasks:
  - id: dl
    type: io.kestra.plugin.core.http.Download
    uri: $H/file
  - id: saved
    type: io.kestra.plugin.fs.http.Download
    uri: $H/big?n=1000
    saveAs: thousand.txt
  - id: up
    type: io.kestra.plugin.fs.http.Request
    uri: $H/multipart
    method: POST
    contentType: multipart/form-data
    formData:
      user: John
      meta: {"k": [1, 2]}
      report: "{{ outputs.dl.uri }}"
      renamed:
        name: my-file.txt
        content: "{{ outputs.saved.uri }}"
EOF
run mp "$work/mp.yaml"
want_state "multipart: Download then a multipart upload of its files: SUCCESS" SUCCESS
eq "download: uri named from Content-Disposition" "o('dl')['uri'].rsplit('/',1)[1]" report.csv
eq "download: code, length, headers" "(o('dl')['code'], o('dl')['length'], o('dl')['headers']['Content-Type'])" "(200, 15, ['text/csv'])"
eq "download: saveAs names the file (fs.http.Download alias)" "(o('saved')['uri'].rsplit('/',1)[1], o('saved')['length'])" "('thousand.txt', 1000)"
f=$(find "$work/data-mp" -name report.csv | head -1)
if [ -n "$f" ] && [ "$(cat "$f")" = "$(printf 'id,name\n1,kite')" ]; then ok "download: the file in storage holds the body"; else ko "download: the file in storage holds the body" "${f:-no file}"; fi
eq "multipart: a field" "json.loads(o('up')['body'])['user']['content']" John
eq "multipart: a map field is sent as JSON" "json.loads(json.loads(o('up')['body'])['meta']['content'])" "{'k': [1, 2]}"
eq "multipart: a storage URI sends the file" "(json.loads(o('up')['body'])['report']['filename'], json.loads(o('up')['body'])['report']['content'])" "('report.csv', 'id,name\n1,kite\n')"
eq "multipart: {name, content} sends the file under that name" "(json.loads(o('up')['body'])['renamed']['filename'], json.loads(o('up')['body'])['renamed']['size'])" "('my-file.txt', 1000)"

# ---- status codes, redirects, allowFailed and its older name -----------------
cat >"$work/codes.yaml" <<EOF
id: codes
namespace: e2e.http
tasks:
  - id: allowed
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/404
    options:
      allowFailed: true
  - id: old_allowed
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/500
    allowFailed: true
  - id: listed
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/409
    options:
      allowedResponseCodes: [200, 409]
  - id: follow
    type: io.kestra.plugin.core.http.Request
    uri: $H/hops/3
  - id: nofollow
    type: io.kestra.plugin.core.http.Request
    uri: $H/redirect?to=/echo
    options:
      followRedirects: false
  - id: head
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    method: HEAD
EOF
run codes "$work/codes.yaml"
want_state "codes: allowed failures do not fail" SUCCESS
eq "codes: options.allowFailed keeps a 404" "(o('allowed')['code'], o('allowed')['body'])" "(404, 'status 404')"
eq "codes: the older top-level allowFailed" "o('old_allowed')['code']" 500
eq "codes: allowedResponseCodes" "o('listed')['code']" 409
eq "codes: redirects followed by default, uri stays the one requested" "(o('follow')['code'], json.loads(o('follow')['body'])['path'], o('follow')['uri'])" "(200, '/hops/0', '$H/hops/3')"
eq "codes: followRedirects false keeps the 302" "(o('nofollow')['code'], o('nofollow')['headers']['Location'])" "(302, ['/echo'])"
eq "codes: HEAD has no body" "(o('head')['code'], o('head')['body'])" "(200, None)"

fails() { # name, yaml body (tasks), expected message part
    local n=$1
    printf 'id: f%s\nnamespace: e2e.http\ntasks:\n%s\n' "$n" "$2" >"$work/f$n.yaml"
    run "f$n" "$work/f$n.yaml"
    if [ "$state" = FAILED ] && grep -qF -- "$3" "$work/err"; then
        ok "failure: $4"
    else
        ko "failure: $4" "state '$state', '$3' not in the log"
    fi
}
fails 1 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/404" "ERROR t GET $H/status/404: server answered 404 (status 404)" "a 404 fails the task, naming method, URL and code"
fails 2 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/201
    options:
      allowedResponseCodes: [200]" "server answered 201" "a code outside allowedResponseCodes fails"
fails 3 "  - id: t
    type: io.kestra.plugin.core.http.Request
    method: POST
    body: x
    uri: http://bob:hunter2-pw@127.0.0.1:1/hook" "ERROR t POST http://127.0.0.1:1/hook: connect: Connection refused" "refused, credentials removed from the URL"
hasnt "failure: the URL's password is not logged" "$work/err" "hunter2-pw"
fails 4 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: http://no-such-host.invalid/x" "GET http://no-such-host.invalid/x: resolve:" "an unresolvable host"
fails 5 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $T/echo" "GET $T/echo: TLS:" "a self-signed certificate is refused"
fails 6 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/slow?s=4
    options:
      timeout:
        connectTimeout: PT2S
        readIdleTimeout: PT1S" "GET $H/slow?s=4: timeout:" "readIdleTimeout ends a slow answer"
fails 7 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/big?n=11000000" "response body larger than the 10485760 bytes kept; Request keeps at most options.maxContentLength bytes of body (10 MiB by default): use io.kestra.plugin.core.http.Download" "a body over 10 MiB points to Download"
fails 8 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/big?n=200
    options:
      maxContentLength: 100" "response body larger than the 100 bytes kept" "maxContentLength caps the body"
fails 9 "  - id: t
    type: io.kestra.plugin.core.http.Download
    uri: $H/empty" "GET $H/empty: no response body from the server (200)" "Download of an empty answer"
fails 10 "  - id: t
    type: io.kestra.plugin.core.http.Download
    uri: $H/status/503" "GET $H/status/503: server answered 503" "Download of a 503"
fails 11 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/status/503
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 2" "server answered 503" "a 5xx is retried, then fails"
if [ "$(grep -c 'server answered 503' "$work/err")" -ge 2 ]; then ok "failure: retry ran the request again"; else ko "failure: retry ran the request again" "one attempt only"; fi
fails 12 "  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: ftp://127.0.0.1/x" "only http and https URLs are allowed" "another scheme is refused"

cat >"$work/retry.yaml" <<EOF
id: retry
namespace: e2e.http
tasks:
  - id: t
    type: io.kestra.plugin.core.http.Request
    uri: $H/flaky?key=r$$&fail=2
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
EOF
run retry "$work/retry.yaml"
want_state "retry: two 503 then 200 ends SUCCESS" SUCCESS
eq "retry: the third attempt's answer" "o('t')['body']" "ok after 3"

# ---- TLS, auth, proxy, secrets -------------------------------------------------
cat >"$work/sec.yaml" <<EOF
id: sec
namespace: e2e.http
tasks:
  - id: tls
    type: io.kestra.plugin.core.http.Request
    uri: $T/echo
    options:
      ssl:
        insecureTrustAllCertificates: true
  - id: tls_old
    type: io.kestra.plugin.core.http.Request
    uri: $T/echo
    sslOptions:
      insecureTrustAllCertificates: true
  - id: basic
    type: io.kestra.plugin.core.http.Request
    uri: $H/auth?basic=alice:pa55-w0rd-basic
    options:
      auth:
        type: BASIC
        username: alice
        password: pa55-w0rd-basic
  - id: bearer
    type: io.kestra.plugin.core.http.Request
    uri: $H/auth?bearer=t0ken-bearer-xyz
    options:
      auth:
        type: BEARER
        token: t0ken-bearer-xyz
  - id: bearer_echo
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    options:
      auth:
        type: BEARER
        token: t0ken-bearer-xyz
  - id: header_echo
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo
    headers:
      Authorization: "Bearer hdr-t0ken-abc"
  - id: proxy
    type: io.kestra.plugin.core.http.Request
    uri: http://far.example.invalid/echo
    options:
      proxy:
        type: HTTP
        address: 127.0.0.1
        port: $PORT
        username: proxyuser
        password: pr0xy-secret-pw
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "basic {{ outputs.basic.body }} bearer {{ outputs.bearer.body }} echo {{ outputs.bearer_echo.body }} {{ outputs.header_echo.body }} {{ outputs.proxy.body }}"
  - id: enc
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo?secret-body
    encryptBody: true
EOF
run sec "$work/sec.yaml"
want_state "tls/auth/proxy: SUCCESS" SUCCESS
eq "tls: insecureTrustAllCertificates accepts the self-signed certificate" "o('tls')['code']" 200
eq "tls: the older sslOptions" "o('tls_old')['code']" 200
eq "auth: BASIC is sent as the server expects" "o('basic')['body']" authorized
eq "auth: BEARER is sent as the server expects" "o('bearer')['body']" authorized
eq "proxy: the request goes through the HTTP proxy, with its credentials" "(json.loads(o('proxy')['body'])['proxied'], json.loads(o('proxy')['body'])['headers']['Host'], 'Proxy-Authorization' in json.loads(o('proxy')['body'])['headers'])" "(True, 'far.example.invalid', True)"
has "secrets: the bearer token is masked in an echoed header" "$work/err" '"Authorization": "Bearer ******"'
for s in pa55-w0rd-basic t0ken-bearer-xyz hdr-t0ken-abc pr0xy-secret-pw cHJveHl1c2VyOnByMHh5LXNlY3JldC1wdw YWxpY2U6cGE1NS13MHJkLWJhc2lj; do
    hasnt "secrets: '$s' is in no log line" "$work/err" "$s"
    hasnt "secrets: '$s' is in no output" "$work/out" "$s"
done
eq "encryptBody: the body is in encryptedBody (masked), not body" "(o('enc')['body'], o('enc')['encryptedBody'])" "(None, '******')"
has "encryptBody: kite says it stores the body in clear" "$work/err" "encryptBody: kite stores the body in clear"

# with an encryption key: encryptedBody as Kestra stores it, decrypted for the task that reads it
cat >"$work/encb.yaml" <<EOF
id: encb
namespace: e2e.http
tasks:
  - id: enc
    type: io.kestra.plugin.core.http.Request
    uri: $H/echo?sealed-body
    encryptBody: true
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.enc.encryptedBody | length > 10 }} {{ 'sealed-body' in outputs.enc.encryptedBody }}"
EOF
KITE_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0) run encb "$work/encb.yaml"
eq "encryptBody with a key: stored as {type: io.kestra.datatype:aes_encrypted, value}" "(o('enc')['body'], o('enc')['encryptedBody']['type'])" "(None, 'io.kestra.datatype:aes_encrypted')"
eq "encryptBody with a key: the next task reads the body decrypted" "o('read')['value']" "true true"
hasnt "encryptBody with a key: no clear-text warning" "$work/err" "stores the body in clear"

# ---- SseRequest ----------------------------------------------------------------
cat >"$work/sse.yaml" <<EOF
id: sse
namespace: e2e.http
tasks:
  - id: all
    type: io.kestra.plugin.core.http.SseRequest
    uri: $H/sse?n=3
  - id: jq
    type: io.kestra.plugin.core.http.SseRequest
    uri: $H/sse?n=3
    concatJqExpression: .data.msg
    failedOnMissingJq: false
EOF
run sse "$work/sse.yaml"
want_state "sse: SUCCESS" SUCCESS
eq "sse: events with id, event and JSON data" "(o('all')['size'], o('all')['events'][1])" "(5, {'event': 'tick', 'id': '0', 'data': {'i': 0, 'msg': 'm0'}})"
eq "sse: a comment and multi-line data" "(o('all')['events'][0], o('all')['events'][4])" "({'comment': 'a comment'}, {'data': 'plain\ntwo lines'})"
eq "sse: concatJqExpression joins the values, skipping misses" "(o('jq')['result'], o('jq')['events'])" "('m0m1m2', None)"
fails 13 "  - id: t
    type: io.kestra.plugin.core.http.SseRequest
    uri: $H/sse?n=1
    concatJqExpression: .data.msg" "property 'concatJqExpression': '.data.msg' yields no text value for event 1" "failedOnMissingJq (default true)"

# ---- the http() function ----------------------------------------------------------
cat >"$work/fn.yaml" <<EOF
id: fn
namespace: e2e.http
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ http(uri='$H/echo', method='POST', query={'a': 'b c'}, body={'x': 1}, headers={'X-Fn': 'yes'}) | json }}"
  - id: text
    type: io.kestra.plugin.core.debug.Return
    format: "{{ http('$H/status/200') }}"
EOF
run fn "$work/fn.yaml"
want_state "http(): SUCCESS" SUCCESS
eq "http(): a JSON answer is parsed; method, query, body (JSON), headers and Accept sent" "(lambda d: (d['method'], d['query'], json.loads(d['body']), d['headers']['X-Fn'], d['headers']['Accept'], d['headers']['Content-Type']))(json.loads(o('t')['value']))" "('POST', 'a=b%20c', {'x': 1}, 'yes', 'application/json', 'application/json; charset=UTF-8')"
eq "http(): a text answer is a string" "o('text')['value']" "status 200"
fails 14 "  - id: t
    type: io.kestra.plugin.core.log.Log
    message: \"{{ http(uri='http://u:pw-in-url@127.0.0.1:$PORT/status/404') }}\"" "http(): GET http://127.0.0.1:$PORT/status/404: server answered 404" "http() fails on a 404, credentials removed"
hasnt "failure: http()'s URL password is not logged" "$work/err" "pw-in-url"
fails 15 "  - id: t
    type: io.kestra.plugin.core.log.Log
    message: \"{{ http(method='GET') }}\"" "The 'http' function expects an argument 'uri'." "http() without uri"

# ---- a large download in bounded memory ---------------------------------------
cat >"$work/big.yaml" <<EOF
id: big
namespace: e2e.http
tasks:
  - id: d
    type: io.kestra.plugin.core.http.Download
    uri: $H/big?n=60000000
EOF
/usr/bin/time -f '%M' -o "$work/rss" timeout 120 "$KITE" run "$work/big.yaml" --data "$work/data-big" --json >"$work/out" 2>"$work/err"
state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
want_state "download: 60 MB streamed to storage" SUCCESS
eq "download: length of the large body" "o('d')['length']" 60000000
rss=$(tail -1 "$work/rss")
if [ "${rss:-999999}" -lt 40000 ]; then ok "download: 60 MB downloaded in ${rss} KiB of memory (never held whole)"; else ko "download: bounded memory" "max RSS ${rss} KiB"; fi

# ---- 100 requests over TLS: one connection per worker thread --------------------
# (`--workers 1` gives the engine's minimum of 2 worker threads: at most 2
# connections, where a client per task would open 100)
{
    printf 'id: reuse\nnamespace: e2e.http\ntasks:\n'
    for i in $(seq 1 100); do
        printf '  - id: r%d\n    type: io.kestra.plugin.core.http.Request\n    uri: %s/echo?i=%d\n    options:\n      ssl:\n        insecureTrustAllCertificates: true\n' "$i" "$T" "$i"
    done
} >"$work/reuse.yaml"
before=$(curl -sk "$T/conns")
run reuse "$work/reuse.yaml" --workers 1 --quiet
after=$(curl -sk "$T/conns")
state=$(out "x['state']['current']")
want_state "reuse: 100 TLS requests: SUCCESS" SUCCESS
# each curl above opens one connection itself
conns=$((after - before - 1))
if [ -n "$before" ] && [ "$conns" -ge 1 ] && [ "$conns" -le 2 ]; then
    ok "reuse: 100 requests on 2 worker threads cost $conns TLS connections (handshakes)"
else
    ko "reuse: one TLS connection per worker thread" "connections before $before, after $after"
fi

# ---- the examples of docs/http.md run as written --------------------------------
n=0
python3 - "$ROOT/docs/http.md" "$work" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for i, m in enumerate(re.finditer(r"```yaml\n(.*?)```", text, re.S)):
    open("%s/doc%d.yaml" % (sys.argv[2], i), "w").write(m.group(1))
PY
for f in "$work"/doc*.yaml; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    sed -i "s#https://api.example.com#$H#g" "$f"
    run "doc$n" "$f"
    want_state "docs/http.md example $(basename "$f" .yaml) ($(sed -n 's/^id: //p' "$f" | head -1)) runs" SUCCESS
done
[ "$n" -ge 3 ] && ok "docs/http.md: $n examples found" || ko "docs/http.md examples" "found $n"
