#!/bin/bash
# The server's limits against a hostile or careless client (issue 16): JSON
# nested deeper than 128 levels refused with a 400 before anything is
# stored (webhook bodies, kv values, JSON inputs, multipart JSON fields,
# triggers), the low items of the hardening list (invalid UTF-8 named,
# long `q`, kv keys, identical webhook 404s, JSON 414/431, a chunked body
# cut at its cap), and the server
# still alive and clean under the sanitizers at the end.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash

ERR=$work/server.err
ok "server starts" start_server "$ERR" --data "$work/data"

cat >"$work/hook.yml" <<'YML'
id: hook
namespace: e2e.lim
inputs:
  - id: doc
    type: JSON
    required: false
  - id: name
    type: STRING
    defaults: x
triggers:
  - id: wh
    type: io.kestra.plugin.core.trigger.Webhook
    key: the-key-0123
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body ?? inputs.doc ?? 'none' }}"
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/hook.yml"
ok "flow created" code_is 200

deep() { python3 -c "import sys; n=int(sys.argv[1]); sys.stdout.write('['*n + ']'*n)" "$1"; }
deep 1700 >"$work/deep.json"
deep 128 >"$work/ok128.json"
deep 129 >"$work/deep129.json"
python3 -c "import sys; n=1700; sys.stdout.write('{\"a\":'*n + '1' + '}'*n)" >"$work/deepobj.json"

count_execs() { req GET "/executions/search?namespace=e2e.lim&size=100"; j "d['total']"; }

# ---- deep JSON ----------------------------------------------------------------------
noauth POST "$BASE/executions/webhook/e2e.lim/hook/the-key-0123" -H "Content-Type: application/json" --data-binary @"$work/deep.json"
ok "webhook: a body nested 1,700 deep is a 400 naming the limit" eval 'code_is 400 && jt "\"128\" in d[\"message\"]"'
noauth GET "http://127.0.0.1:$PORT/health"
ok "the server is still up after the deep webhook body" jt "d['status'] == 'UP'"
noauth POST "$BASE/executions/webhook/e2e.lim/hook/the-key-0123" -H "Content-Type: application/json" --data-binary @"$work/deepobj.json"
ok "webhook: an object nested 1,700 deep is a 400" code_is 400
noauth POST "$BASE/executions/webhook/e2e.lim/hook/the-key-0123" --data-binary @"$work/deep129.json"
ok "webhook: 129 levels is a 400" code_is 400
ok "no execution was created by the refused bodies" eval '[ "$(count_execs)" = 0 ]'
noauth POST "$BASE/executions/webhook/e2e.lim/hook/the-key-0123" --data-binary @"$work/ok128.json"
ok "webhook: 128 levels is accepted" code_is 200
req PUT /namespaces/e2e.lim/kv/deep --data-binary @"$work/deep.json"
ok "kv: a value nested 1,700 deep is a 400" eval 'code_is 400 && jt "\"128\" in d[\"message\"]"'
req GET /namespaces/e2e.lim/kv/deep
ok "kv: nothing was stored" code_is 404
req PUT /namespaces/e2e.lim/kv/ok --data-binary @"$work/ok128.json"
ok "kv: 128 levels is stored" code_is 204
req POST /executions/e2e.lim/hook -H "Content-Type: application/json" --data-binary "{\"doc\": $(cat "$work/deep.json")}"
ok "execution inputs: a JSON body nested too deep is a 400" code_is 400
req POST /executions/e2e.lim/hook -F "doc=$(cat "$work/deep.json")"
ok "execution inputs: a multipart JSON input nested too deep is a 400 naming it" eval 'code_is 400 && jt "\"doc\" in d[\"message\"]"'
req PUT /triggers -H "Content-Type: application/json" --data-binary @"$work/deepobj.json"
ok "triggers: a body nested too deep is a 400" code_is 400
# ---- low items ---------------------------------------------------------------------------
printf 'caf\xe9' >"$work/latin1.txt"
req POST /executions/e2e.lim/hook -F "name=<$work/latin1.txt"
ok "multipart: a field of invalid UTF-8 is a 422 naming it" eval 'code_is 422 && jt "\"name\" in d[\"message\"]"'
uploads() { find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'kite-upload-*' 2>/dev/null | wc -l; }
before=$(uploads)
req POST /executions/e2e.lim/hook -F $'caf\xe9=@'"$work/latin1.txt"
ok "multipart: a file under a field name of invalid UTF-8 is a 400 saying so" \
    eval 'code_is 400 && jt "\"field name is not valid UTF-8\" in d[\"message\"]"'
ok "multipart: ... and its temporary file is removed" [ "$(uploads)" -le "$before" ]
req POST /executions/e2e.lim/hook -F "name=x" -F $'up=@'"$work/latin1.txt"$';filename=caf\xe9.txt'
ok "multipart: a file named in Latin-1 is taken" code_is 200
sleep 0.5
ok "multipart: ... and its temporary file is removed with the request" [ "$(uploads)" -le "$before" ]
req GET "/flows/search?q=$(python3 -c 'print("a"*8192)')"
ok "flows/search: an 8 KB q is a 400" code_is 400
# 414 and 431 are JSON like every other error (MHD's own answers were HTML)
req GET "/flows/search?q=$(python3 -c 'print("a"*17000)')"
ok "a 17 KB query is a 414 in JSON naming the limit" eval 'code_is 414 && jt "\"16384 bytes\" in d[\"message\"]"'
noauth GET "http://127.0.0.1:$PORT/health" -H "X-Big: $(python3 -c 'print("b"*33000)')"
ok "33 KB of header fields is a 431 in JSON naming the limit" eval 'code_is 431 && jt "\"32768 bytes\" in d[\"message\"]"'
# a chunked body past the cap: 413 in JSON, nothing stored; one that goes on
# sending is cut (the connection closed) instead of being read to its end
chunked() { # chunked PATH MB: sends MB megabytes chunked; prints "STATUS SENT_BYTES"
    python3 - "$PORT" "$TOKEN" "$1" "$2" <<'PY'
import socket, sys
port, token, path, mb = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" % (path, token)).encode())
piece = b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n"
sent = 0
try:
    for _ in range(mb * 16):
        s.sendall(piece)
        sent += 65536
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
s.settimeout(10)
data = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
        if b"\r\n\r\n" in data and data.endswith(b"}"):
            break
except OSError:
    pass
status = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none"
print(status, sent, data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace") if data else "")
PY
}
out=$(chunked /api/v1/namespaces/e2e.lim/kv/chunky 15); echo "  chunked 15 MB: ${out:0:200}"
ok "a chunked 15 MB kv body is a 413 in JSON" eval '[ "${out%% *}" = 413 ] && echo "$out" | grep -q "larger than the 10485760 bytes allowed"'
req GET /namespaces/e2e.lim/kv/chunky
ok "... and nothing was stored" code_is 404
out=$(chunked /api/v1/namespaces/e2e.lim/kv/chunky 80); echo "  chunked 80 MB: ${out:0:200}"
sent=$(echo "$out" | cut -d' ' -f2)
ok "a chunked body that goes on is cut: the server stops reading it (sent $sent of 83886080 bytes)" \
    [ "$sent" -lt 41943040 ]
req GET /namespaces/e2e.lim/kv/chunky
ok "... and nothing was stored" code_is 404
req PUT "/namespaces/e2e.lim/kv/a%00b" --data-binary '"v"'
ok "kv: a key with %00 is a 400" code_is 400
req GET /namespaces/e2e.lim/kv/a
ok "kv: ... and key 'a' was not written" code_is 404
req PUT "/namespaces/e2e.lim/kv/bad%20key" --data-binary '"v"'
ok "kv: keys follow the tasks' key rule" eval 'code_is 400 && jt "\"not a valid key\" in d[\"message\"]"'
req PUT /namespaces/e2e.lim/kv/latin --data-binary @"$work/latin1.txt"
ok "kv: a body of invalid UTF-8 says so" eval 'code_is 400 && jt "\"UTF-8\" in d[\"message\"]"'

# ---- webhooks: the key before the body -------------------------------------------------
python3 -c "import sys; sys.stdout.write('x' * 5000000)" >"$work/big.txt"
noauth POST "$BASE/executions/webhook/e2e.lim/hook/wrong-key" --data-binary @"$work/big.txt"
wrong=$(cat "$work/body")
ok "webhook: a wrong key is a 404" code_is 404
noauth POST "$BASE/executions/webhook/e2e.lim/nosuchflow/the-key-0123"
ok "webhook: an unknown flow's 404 is identical to a wrong key's" eval 'code_is 404 && [ "$(cat "$work/body")" = "$wrong" ]'
ok "webhook: the 404 does not echo the key" eval '! grep -q "wrong-key" "$work/body"'
code=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
ok "webhook: the wrong key's 5 MB body was refused before being held" \
    eval "grep -E '^kite_http_busy_total 0' '$work/body' >/dev/null"
cat >"$work/tmpl.yml" <<'YML'
id: tmpl
namespace: e2e.lim
triggers:
  - id: wh
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ flow.id }}-k3y"
  - id: other
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('NO_SUCH_SECRET_KEY') }}"
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/tmpl.yml"
ok "a flow with templated webhook keys is stored" code_is 200
noauth POST "$BASE/executions/webhook/e2e.lim/tmpl/tmpl-k3y"
ok "webhook: a templated key is rendered at the precheck" code_is 200
sed -i 's/-k3y/-v2/' "$work/tmpl.yml"
req PUT /flows/e2e.lim/tmpl -H "Content-Type: application/x-yaml" --data-binary @"$work/tmpl.yml"
noauth POST "$BASE/executions/webhook/e2e.lim/tmpl/tmpl-k3y"
ok "webhook: a new revision's index replaces the old key" code_is 404
noauth POST "$BASE/executions/webhook/e2e.lim/tmpl/tmpl-v2"
ok "webhook: the new key opens it" code_is 200
req DELETE /flows/e2e.lim/tmpl
noauth POST "$BASE/executions/webhook/e2e.lim/tmpl/tmpl-v2"
ok "webhook: a deleted flow is a 404" code_is 404

noauth GET "http://127.0.0.1:$PORT/health"
ok "the server is still up" jt "d['status'] == 'UP'"

stop_server
ok "it stops cleanly" [ "$STOP_RC" = 0 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "server_limits: $pass passed, $fail failed"
[ "$fail" = 0 ]
