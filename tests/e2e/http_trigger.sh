#!/bin/bash
# The polling HTTP trigger (io.kestra.plugin.core.http.Trigger) through the
# real `kite server local` against tests/lib/httpd.py: the default
# responseCondition (status < 400) skips two 503 answers and fires on the
# 200 with the answer as trigger.code/headers/uri/body, stopAfter [SUCCESS]
# then disables it; a responseCondition on the body fires at each interval;
# one that is false never fires; a refused connection fires nothing and is
# the trigger row's lastError, one line naming method and URL. Reads rows
# with the sqlite3 CLI.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
DATA=$work/data
FLOWS=$work/flows
mkdir -p "$FLOWS"
python3 tests/lib/httpd.py --max-seconds 120 >"$work/httpd.port" 2>/dev/null &
HTTPD=$!
for _ in $(seq 1 100); do [ -s "$work/httpd.port" ] && break; sleep 0.05; done
H=http://127.0.0.1:$(head -1 "$work/httpd.port")
KEY=t$$

cat >"$FLOWS/poll.yml" <<YML
id: poll
namespace: e2e.http
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "polled {{ trigger.code }} {{ trigger.body }} {{ trigger.headers['X-Test'][0] }}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: $H/flaky?key=$KEY&fail=2
    interval: PT1S
    stopAfter:
      - SUCCESS
YML
cat >"$FLOWS/cond.yml" <<YML
id: cond
namespace: e2e.http
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ json(trigger.body).method }}"
triggers:
  - id: http
    type: io.kestra.plugin.fs.http.Trigger
    uri: $H/echo
    method: POST
    body: "{{ flow.id }}"
    interval: PT1S
    responseCondition: "{{ json(response.body).body == 'cond' and response.headers['X-Test'][0] == 'kite' }}"
YML
cat >"$FLOWS/sealed.yml" <<YML
id: sealed
namespace: e2e.http
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.encryptedBody == 'ok after ' ~ (0 + 1) }} {{ trigger.body }}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: $H/flaky?key=${KEY}s&fail=0
    encryptBody: true
    interval: PT1S
    stopAfter:
      - SUCCESS
YML
cat >"$FLOWS/never.yml" <<YML
id: never
namespace: e2e.http
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: never
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: $H/echo
    interval: PT1S
    responseCondition: "{{ response.statusCode == 201 }}"
YML
cat >"$FLOWS/refused.yml" <<YML
id: refused
namespace: e2e.http
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: never
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: http://bob:s3cret-pw@127.0.0.1:1/x
    interval: PT1S
YML

# the trigger example of docs/http.md, as written but for the host
python3 - docs/http.md "$FLOWS/doc_trigger.yml" "$H" <<'PY'
import re, sys
m = re.search(r"```yaml trigger\n(.*?)```", open(sys.argv[1]).read(), re.S)
open(sys.argv[2], "w").write(m.group(1).replace("https://api.example.com", sys.argv[3]) if m else "")
PY

q() { sqlite3 "$DATA/kite.db" "$1"; }
"$KITE" validate "$FLOWS" >"$work/validate" 2>&1
ok "kite validate does not warn for the HTTP trigger" eval '! grep -q warning "$work/validate"'
export KITE_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
start_server "$ERR" --data "$DATA" --flows "$FLOWS"
ok "the server starts with the flows" [ -n "$SERVER_PID" ]
sleep 6
POLL=$(q "SELECT id FROM executions WHERE flow_id = 'poll'")
NP=$(q "SELECT count(*) FROM executions WHERE flow_id = 'poll'")
ok "poll: the default responseCondition skips the 503 answers and fires once on the 200 ($NP)" [ "$NP" = 1 ]
ok "poll: trigger.code, trigger.body and trigger.headers are the answer's" eval 'wait_state "$POLL" SUCCESS 10 && jt "d[\"trigger\"][\"code\"] == 200 and d[\"trigger\"][\"body\"] == \"ok after 3\" and d[\"trigger\"][\"uri\"].endswith(\"fail=2\")"'
req GET "/logs/$POLL"
ok "poll: the flow reads the trigger's outputs" grep -qF "polled 200 ok after 3 kite" "$work/body"
ok "poll: stopAfter SUCCESS disabled the trigger" [ "$(q "SELECT disabled FROM triggers WHERE flow_id = 'poll'")" = 1 ]
NC=$(q "SELECT count(*) FROM executions WHERE flow_id = 'cond'")
ok "cond: a responseCondition on the body and headers fires at each interval ($NC)" eval '[ "$NC" -ge 2 ] && [ "$NC" -le 12 ]'
SEALED=$(q "SELECT id FROM executions WHERE flow_id = 'sealed' LIMIT 1")
ok "encryptBody: trigger.encryptedBody stored as Kestra stores it, the body null" eval 'wait_state "$SEALED" SUCCESS 10 && jt "d[\"trigger\"][\"encryptedBody\"][\"type\"] == \"io.kestra.datatype:aes_encrypted\" and d[\"trigger\"][\"body\"] is None"'
ok "encryptBody: the flow's task reads it decrypted" eval 'wait_state "$SEALED" SUCCESS 10 && jt "[t for t in d[\"taskRunList\"] if t[\"taskId\"] == \"read\"][0][\"outputs\"][\"value\"].startswith(\"true\")"'
ok "encryptBody: the body is nowhere in the data folder" eval '! grep -rqa "ok after 1" "$DATA"'
ok "never: a false responseCondition never fires" [ "$(q "SELECT count(*) FROM executions WHERE flow_id = 'never'")" = 0 ]
ok "refused: fires nothing" [ "$(q "SELECT count(*) FROM executions WHERE flow_id = 'refused'")" = 0 ]
STATE=$(q "SELECT state FROM triggers WHERE flow_id = 'refused'")
ok "refused: the row's lastError names method, URL (no password) and cause" eval 'echo "$STATE" | grep -qF "GET http://127.0.0.1:1/x: connect: Connection refused"'
ok "refused: the password is not in the row" eval '! echo "$STATE" | grep -q s3cret-pw'
ND=$(q "SELECT count(*) FROM executions WHERE flow_id = 'http_price_alert' AND state = 'SUCCESS'")
ok "docs/http.md's trigger example fires ($ND) and stopAfter disables it" eval '[ "$ND" -ge 1 ] && [ "$(q "SELECT disabled FROM triggers WHERE flow_id = '"'"'http_price_alert'"'"'")" = 1 ]'
stop_server TERM
ok "the server exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]
kill "$HTTPD" 2>/dev/null
ok "no sanitizer report" no_sanitizer_reports "$ERR"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
