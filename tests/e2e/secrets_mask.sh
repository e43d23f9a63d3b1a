#!/bin/bash
# A canary secret, planted as a SECRET_ variable and as a SECRET input, looked
# for in every form (raw, base64, inside a base64 "user:secret", percent- and
# JSON-encoded) in everything kite serves about an execution that used it:
# the execution, its search, its logs (JSON, download, both SSE streams),
# flow outputs, task outputs (also from a script's ::{"outputs"}:: line),
# labels, `kite run --json` and its log lines, the stored log rows, and the same
# answers after a restart. Stored outputs keep the value: a later task that
# compares it with secret() sees the same string.
set -u
. "$(dirname "$0")/server_lib.bash"

CANARY='Canary-S3cr3t/v+1=x'
PW='Pw-Input-9x!q/w'
export SECRET_CANARY=$(printf '%s' "$CANARY" | base64)
mkdir -p "$work/flows"
cat >"$work/flows/canary.yaml" <<'YAML'
id: canary
namespace: e2e.secrets
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message:
      - "raw {{ secret('CANARY') }}"
      - "b64 {{ secret('CANARY') | base64encode }}"
      - "url {{ secret('CANARY') | urlencode }}"
      - "basic {{ ('ops:' ~ secret('CANARY')) | base64encode }}"
      - "input {{ inputs.pw }} {{ inputs.pw | base64encode }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      token: "{{ secret('CANARY') }}"
      pw: "{{ inputs.pw }}"
      basic: "{{ ('ops:' ~ secret('CANARY')) | base64encode }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      T: "{{ secret('CANARY') }}"
    commands:
      - echo "env $T"
      - printf '%s' "$T" | base64
      - echo '::{"outputs":{"fromScript":"'"$T"'"}}::'
  - id: long
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      T: "{{ secret('CANARY') }}"
    commands:
      - printf '%65530s' '' | tr ' ' a; printf '%s' "$T"; printf '%70000s\n' '' | tr ' ' b
  - id: label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      tok: "{{ secret('CANARY') }}"
  - id: later
    type: io.kestra.plugin.core.log.Log
    message: "same {{ outputs.out.values.token == secret('CANARY') }} {{ outputs.out.values.pw == inputs.pw }}"
outputs:
  - id: leaked
    type: STRING
    value: "{{ outputs.out.values.token }}"
YAML

# leaks FILE: prints each form of a secret found in FILE; fails when one is
leaks() {
    python3 - "$1" "$CANARY" "$PW" <<'PY'
import base64, json, sys, urllib.parse
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
found = []
for s in sys.argv[2:]:
    forms = {"raw": s, "b64": base64.b64encode(s.encode()).decode(),
             "url": urllib.parse.quote(s, safe=""), "json": json.dumps(s)[1:-1],
             "basic": base64.b64encode(("ops:" + s).encode()).decode()[4:-4]}
    for k, v in forms.items():
        if v in text:
            found.append("%s form of %r" % (k, s[:6]))
if found:
    print("  leaked: " + ", ".join(found))
    sys.exit(1)
PY
}

start_server "$work/server.err" --data "$work/data" --flows "$work/flows" || { echo "FAIL server start"; cat "$work/server.err"; exit 1; }

req POST "/executions/e2e.secrets/canary?wait=true" -F "pw=$PW"
ID=$(j "d['id']")
ok "the execution ran" wait_state "$ID" SUCCESS 30
req GET "/executions/$ID";                  cp "$work/body" "$work/exec.json"
ok "execution answer: no secret in any form" leaks "$work/exec.json"
ok "execution answer: outputs and inputs shown masked" \
    python3 -c "import json; d=json.load(open('$work/exec.json')); assert d['outputs']['leaked']=='******', d['outputs']; assert d['inputs']['pw']=='******'; assert {'key':'tok','value':'******'} in d['labels'], d['labels']"
req GET "/executions/search?namespace=e2e.secrets"; cp "$work/body" "$work/search.json"
ok "execution search: no secret" leaks "$work/search.json"
req GET "/logs/$ID";                        cp "$work/body" "$work/logs.json"
ok "logs: no secret in any form" leaks "$work/logs.json"
ok "logs: the later task saw the stored values unmasked" \
    python3 -c "import json; d=json.load(open('$work/logs.json')); assert any(l['message']=='same true true' for l in d), [l['message'] for l in d]"
ok "logs: the lines are there, masked" \
    python3 -c "import json; d=json.load(open('$work/logs.json')); m=[l['message'] for l in d]; assert 'raw ******' in m and 'env ******' in m, m"
ok "logs: a secret printed across the cut of a long line is masked" \
    python3 -c "import json; d=json.load(open('$work/logs.json')); t=''.join(l['message'] for l in d if l.get('taskId')=='long'); assert len(t)>100000, len(t); assert 'Canary' not in t and '******' in t, t[65520:65560]"
req GET "/logs/$ID/download";               cp "$work/body" "$work/logs.txt"
ok "log download: no secret" leaks "$work/logs.txt"
curl -s -N --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE/logs/$ID/follow" >"$work/logs.sse"
ok "log stream: lines arrived" grep -q 'raw \*\*\*\*\*\*' "$work/logs.sse"
ok "log stream: no secret" leaks "$work/logs.sse"
curl -s -N --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE/executions/$ID/follow" >"$work/exec.sse"
ok "execution stream: no secret" leaks "$work/exec.sse"
ok "stored log rows are masked" bash -c "sqlite3 '$work/data/kite.db' 'select message from logs' >'$work/rows.txt' && grep -q 'raw \*' '$work/rows.txt'"
ok "stored log rows: no secret" leaks "$work/rows.txt"

# a new process knows the SECRET input of an execution it did not start
stop_server
start_server "$work/server.err" --data "$work/data" --flows "$work/flows" || { echo "FAIL server restart"; exit 1; }
req GET "/executions/$ID";                  cp "$work/body" "$work/exec2.json"
ok "after a restart: execution answer masks the SECRET input" leaks "$work/exec2.json"
req GET "/executions/search?namespace=e2e.secrets"; cp "$work/body" "$work/search2.json"
ok "after a restart: search masks it too" leaks "$work/search2.json"
stop_server
ok "server: no sanitizer report" no_sanitizer_reports "$work/server.err"

# kite run --json and its live log lines
"$KITE" run "$work/flows/canary.yaml" --data "$work/run" --input "pw=$PW" --json >"$work/run.json" 2>"$work/run.err"
ok "kite run: SUCCESS" python3 -c "import json; assert json.load(open('$work/run.json'))['state']['current']=='SUCCESS'"
ok "kite run --json: no secret" leaks "$work/run.json"
ok "kite run logs: no secret" leaks "$work/run.err"
ok "kite run logs: the later task saw the values" grep -q 'same true true' "$work/run.err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
