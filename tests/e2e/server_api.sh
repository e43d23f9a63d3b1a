#!/bin/bash
# The HTTP API end to end: the real `kite server local` on a free loopback
# port, driven with curl: auth, flows (create, update, revisions, search,
# validate, namespace replace), executions (multipart inputs and files,
# labels, wait, search, kill, restart, replay, resume, delete, follow as
# server-sent events, file download), logs (filters, follow, download),
# webhooks, kv, triggers, metrics, OpenAPI, the --flows folder, and bad
# requests answered with 4xx and a message. Ends by checking the server's
# stderr for sanitizer reports.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
export SECRET_HOOK_KEY=$(printf %s s3cret-key | base64 -w0)

mkdir -p "$work/flows"
cat >"$work/flows/good.yml" <<'YML'
id: from_folder
namespace: e2e.folder
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: v1
YML
cat >"$work/flows/bad.yml" <<'YML'
id: broken
namespace: e2e.folder
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    mesage: typo
YML
ERR=$work/server.err
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
ok "server starts and answers /health" start_server "$ERR" --data "$work/data" --flows "$work/flows" --http-timeout PT1S
ok "it prints the URL it serves" grep -q "serving http://127.0.0.1:$PORT/" "$work/server.out"

# ---- health, auth, routing -------------------------------------------------------
noauth GET "http://127.0.0.1:$PORT/health"
ok "health needs no token" jt "d['status'] == 'UP'"
noauth GET "$BASE/flows/search"
ok "no token: 401 with a message" eval 'code_is 401 && jt "\"Bearer\" in d[\"message\"]"'
noauth GET "$BASE/flows/search" -H "Authorization: Bearer wrong-token"
ok "wrong token: 401" eval 'code_is 401 && jt "d[\"message\"] == \"invalid token\""'
req GET /nothing/here
ok "unknown route: 404 JSON" eval 'code_is 404 && jt "\"no route\" in d[\"message\"]"'
req DELETE /flows/search
ok "wrong method: 405 naming the allowed ones" eval 'code_is 405 && jt "\"GET\" in d[\"message\"]"'
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/main/flows/search")
ok "tenant segment /api/v1/main/ works" code_is 200

# ---- the --flows folder -----------------------------------------------------------
ok "--flows: a bad file is reported with file:line:col" grep -q "bad.yml:6:5: error: task .log.: unknown property .mesage." "$ERR"
req GET /flows/e2e.folder/from_folder
ok "--flows: the good file is loaded" eval 'code_is 200 && jt "d[\"revision\"] == 1"'
sed -i 's/message: v1/message: v2/' "$work/flows/good.yml"
touch -d '+2 seconds' "$work/flows/good.yml"
for _ in $(seq 1 40); do
    req GET /flows/e2e.folder/from_folder
    jt "d['revision'] == 2" && break
    sleep 0.1
done
ok "--flows: a changed file becomes a new revision" jt "d['revision'] == 2 and d['tasks'][0]['message'] == 'v2'"

# ---- flows ----------------------------------------------------------------------------
cat >"$work/hello.yml" <<'YML'
id: hello
namespace: e2e.api
labels:
  team: data
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: doc
    type: FILE
    required: false
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      greeting: "hi {{ inputs.name }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.out.values.greeting }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.out.values.greeting }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('HOOK_KEY') }}"
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/hello.yml"
ok "create a flow: revision 1 with its source" eval 'code_is 200 && jt "d[\"revision\"] == 1 and d[\"source\"].startswith(\"id: hello\")"'
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/hello.yml"
ok "create it again: 409" eval 'code_is 409 && jt "\"already exists\" in d[\"message\"]"'
sed 's/defaults: world/defaults: everyone/' "$work/hello.yml" >"$work/hello2.yml"
req PUT /flows/e2e.api/hello -H "Content-Type: application/x-yaml" --data-binary @"$work/hello2.yml"
ok "update: revision 2" eval 'code_is 200 && jt "d[\"revision\"] == 2"'
req PUT /flows/e2e.api/other -H "Content-Type: application/x-yaml" --data-binary @"$work/hello2.yml"
ok "update with another id in the body: 422" code_is 422
sed 's/^id: hello/id: ghost/' "$work/hello2.yml" >"$work/ghost.yml"
req PUT /flows/e2e.api/ghost -H "Content-Type: application/x-yaml" --data-binary @"$work/ghost.yml"
ok "update an unknown flow: 404, nothing created" eval 'code_is 404 && jt "\"create it with POST\" in d[\"message\"]"'
req GET /flows/e2e.api/ghost
ok "the unknown flow is still unknown" code_is 404
req GET "/flows/e2e.api/hello?revision=1"
ok "get revision 1" eval 'code_is 200 && jt "d[\"inputs\"][0][\"defaults\"] == \"world\""'
req GET /flows/e2e.api/hello/revisions
ok "revisions" eval 'code_is 200 && jt "[r[\"revision\"] for r in d] == [1, 2]"'
req GET /flows/e2e.api/nope
ok "unknown flow: 404" code_is 404
printf 'id: x\nnamespace: e2e.api\ntasks: [\n' >"$work/badyaml.yml"
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/badyaml.yml"
ok "bad YAML: 400 naming line and column" eval 'code_is 400 && jt "d[\"message\"].startswith(\"body:\") and \"invalid YAML\" in d[\"message\"]"'
printf 'id: x\nnamespace: e2e.api\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Nope\n' >"$work/invalid.yml"
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/invalid.yml"
ok "invalid flow: 422 with positioned errors" eval 'code_is 422 && jt "d[\"errors\"][0][\"line\"] == 5 and \"body:5:\" in d[\"message\"]"'
printf 'id: ok1\nnamespace: e2e.api\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n---\nid: ko\nnamespace: e2e.api\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mesage: x\n' >"$work/two.yml"
req POST /flows/validate -H "Content-Type: application/x-yaml" --data-binary @"$work/two.yml"
ok "validate two flows: the second's error at its line in the body" eval 'code_is 200 && jt "len(d) == 2 and \"constraints\" not in d[0] and any(x[\"line\"] == 13 for x in d[1][\"errors\"]) and \"body:13:\" in d[1][\"constraints\"]"'
printf 'id: w\nnamespace: e2e.api\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ inputs.nope }}"\n' >"$work/warn.yml"
req POST /flows/validate -H "Content-Type: application/x-yaml" --data-binary @"$work/warn.yml"
ok "validate: a template reading an undeclared input is a warning, the flow stays valid" \
    eval 'code_is 200 && jt "\"constraints\" not in d[0] and d[0][\"warnings\"] == [\"body:6:18: input \x27nope\x27 is not declared in this flow\"]"'
for i in 1 2 3; do
    printf 'id: s%s\nnamespace: e2e.search\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n' "$i" |
        curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-yaml" --data-binary @- "$BASE/flows"
done
req GET "/flows/search?namespace=e2e.search&size=2"
ok "search: a page and the total" eval 'code_is 200 && jt "d[\"total\"] == 3 and [f[\"id\"] for f in d[\"results\"]] == [\"s1\", \"s2\"]"'
req GET "/flows/search?namespace=e2e.search&size=2&page=2"
ok "search: page 2" jt "[f['id'] for f in d['results']] == ['s3']"
req GET "/flows/search?size=abc"
ok "search: bad size is a 400" eval 'code_is 400 && jt "\"size\" in d[\"message\"]"'
printf 'id: s1\nnamespace: e2e.search\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: new\n---\nid: s4\nnamespace: e2e.search\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n' >"$work/ns.yml"
req PUT /flows/e2e.search -H "Content-Type: application/x-yaml" --data-binary @"$work/ns.yml"
ok "replace a namespace: the others are deleted" eval 'code_is 200 && jt "sorted(f[\"id\"] for f in d) == [\"s1\", \"s4\"]"'
req DELETE /flows/e2e.search/s4
ok "delete a flow: 204" code_is 204
req GET /flows/e2e.search/s4
ok "a deleted flow is 404" code_is 404

# ---- executions ---------------------------------------------------------------------------
echo "file content 42" >"$work/upload.txt"
req POST "/executions/e2e.api/hello?wait=true&labels=env:test&labels=run:1" -F name=bob -F doc=@"$work/upload.txt"
ok "create with multipart inputs, a file, labels, wait" eval 'code_is 200 && jt "d[\"state\"][\"current\"] == \"SUCCESS\" and d[\"outputs\"][\"greeting\"] == \"hi bob\" and {\"key\":\"env\",\"value\":\"test\"} in d[\"labels\"]"'
ID=$(j "d['id']")
DOC=$(j "d['inputs']['doc']")
ok "uploads are removed once the request is answered" eval '[ -z "$(ls "$work/tmp" | grep kite-upload)" ]'
req POST "/executions/e2e.api/hello" -F doc=@"$work/upload.txt" -F doc=@"$work/hello.yml"
ok "two files under one name: the last one counts, none left behind" eval 'code_is 200 && jt "d[\"inputs\"][\"doc\"].endswith(\"hello.yml\")" && [ -z "$(ls "$work/tmp" | grep kite-upload)" ]'

req GET "/executions/$ID/file" --get --data-urlencode "path=$DOC"
ok "download the uploaded file" eval 'code_is 200 && grep -q "file content 42" "$work/body"'
req GET "/executions/$ID/file" --get --data-urlencode "path=kestra:///e2e/api/other/executions/x/f.txt"
ok "a file of another execution: 403" code_is 403
req POST "/executions/trigger/e2e.api/hello?wait=true" -H "Content-Type: application/json" -d '{"name": "json"}'
ok "create at Kestra's older path, inputs as JSON" eval 'code_is 200 && jt "d[\"outputs\"][\"greeting\"] == \"hi json\""'
req POST "/executions/e2e.api/hello?labels=oops"
ok "a bad label: 400" eval 'code_is 400 && jt "\"key:value\" in d[\"message\"]"'
req POST "/executions/e2e.api/nope"
ok "unknown flow: 404" code_is 404
req GET "/executions/$ID"
ok "get an execution with its task runs" eval 'code_is 200 && jt "[t[\"taskId\"] for t in d[\"taskRunList\"]] == [\"out\", \"log\"]"'
req GET "/executions/search?namespace=e2e.api&flowId=hello&state=SUCCESS&labels=env:test"
ok "search by namespace, flow, state and label" eval 'code_is 200 && jt "d[\"total\"] == 1 and d[\"results\"][0][\"id\"] == \"$ID\""'
req GET "/executions/search?namespace=e2e.api&labels=env:prod"
ok "search: a label that matches nothing" jt "d['total'] == 0"
req GET "/executions/search?startDate=2000-01-01T00:00:00Z&endDate=2000-01-02T00:00:00Z"
ok "search: a time range that matches nothing" jt "d['total'] == 0"
req GET "/executions/search?state=DONE"
ok "search: bad state is a 400 naming it" eval 'code_is 400 && jt "\"DONE\" in d[\"message\"]"'

# logs
req GET "/logs/$ID"
ok "logs of an execution" eval 'code_is 200 && jt "any(l[\"message\"] == \"hi bob\" and l[\"taskId\"] == \"log\" for l in d)"'
req GET "/logs/$ID?minLevel=ERROR"
ok "logs: minLevel filters" jt "d == []"
req GET "/logs/$ID?taskId=out"
ok "logs: taskId filters" jt "all(l['taskId'] == 'out' for l in d)"
req GET "/logs/$ID/download"
ok "logs download as text" eval 'code_is 200 && grep -q "INFO  log hi bob" "$work/body"'

# task metrics (Kestra's MetricEntry): debug.Return reports `length` and `duration`
printf 'id: met\nnamespace: e2e.api\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: hello\n' |
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-yaml" --data-binary @- "$BASE/flows"
req POST "/executions/e2e.api/met?wait=true"
MID=$(j "d['id']")
req GET "/metrics/$MID"
ok "metrics of an execution: MetricEntry, counter and timer" eval 'code_is 200 && jt "d[\"total\"] == 2 and {m[\"name\"]: (m[\"type\"], m[\"taskId\"], m[\"executionId\"]) for m in d[\"results\"]} == {\"length\": (\"counter\", \"r\", \"$MID\"), \"duration\": (\"timer\", \"r\", \"$MID\")} and [m[\"value\"] for m in d[\"results\"] if m[\"name\"] == \"length\"] == [5] and all(m[\"taskRunId\"] and m[\"timestamp\"] and m[\"tags\"] == {} for m in d[\"results\"])"'
req GET "/metrics/nosuchid"
ok "metrics of an unknown execution: 404" code_is 404

# follow (SSE) while it runs
cat >"$work/slow.yml" <<'YML'
id: slow
namespace: e2e.api
inputs:
  - id: wait
    type: STRING
    defaults: PT1S
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: starting
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "{{ inputs.wait }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done sleeping
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/slow.yml"
req POST /executions/e2e.api/slow
SID=$(j "d['id']")
timeout 20 curl -s -N -H "Authorization: Bearer $TOKEN" "$BASE/executions/$SID/follow" >"$work/follow.txt" &
fpid=$!
timeout 20 curl -s -N -H "Authorization: Bearer $TOKEN" "$BASE/logs/$SID/follow" >"$work/logfollow.txt"
wait $fpid
ok "follow: state events until the end" python3 - "$work/follow.txt" <<'PY'
import json, sys
evs = [json.loads(l[5:]) for l in open(sys.argv[1]) if l.startswith("data:")]
states = [e["state"]["current"] for e in evs]
sys.exit(0 if len(evs) >= 2 and states[-1] == "SUCCESS" and "RUNNING" in states else 1)
PY
ok "logs follow: every line, then the stream ends" python3 - "$work/logfollow.txt" <<'PY'
import json, sys
msgs = [json.loads(l[5:])["message"] for l in open(sys.argv[1]) if l.startswith("data:")]
sys.exit(0 if "starting" in msgs and "done sleeping" in msgs else 1)
PY

# kill
req POST /executions/e2e.api/slow -F wait=PT30S
KID=$(j "d['id']")
sleep 0.3
req DELETE "/executions/$KID"
ok "delete a running execution: 409, kill it first" eval 'code_is 409 && jt "\"kill it first\" in d[\"message\"]"'
req DELETE "/executions/$KID/kill"
ok "kill: 202" code_is 202
ok "killed execution ends KILLED" wait_state "$KID" KILLED 10
req DELETE "/executions/$KID/kill"
ok "kill an ended execution: 409" code_is 409
req DELETE "/executions/nosuchid/kill"
ok "kill an unknown execution: 404" code_is 404
for op in "DELETE /executions/nosuchid" "POST /executions/nosuchid/restart" "POST /executions/nosuchid/replay" \
          "POST /executions/nosuchid/resume"; do
    req $op
    ok "$op: 404 naming the execution" eval 'code_is 404 && jt "d[\"message\"] == \"execution nosuchid not found\""'
done

# restart and replay
cat >"$work/fails.yml" <<'YML'
id: fails
namespace: e2e.api
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/fails.yml"
req POST "/executions/e2e.api/fails?wait=true"
FID=$(j "d['id']")
ok "a failing flow ends FAILED" jt "d['state']['current'] == 'FAILED'"
cat >"$work/render.yml" <<'YML'
id: render_err
namespace: e2e.api
tasks:
  - id: load
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.urll }}"
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/render.yml"
req POST "/executions/e2e.api/render_err?wait=true"
RID=$(j "d['id']")
req GET "/logs/$RID?minLevel=ERROR"
ok "a render error names {namespace}/{id}.yaml, line and column (API flow)" \
    jt "any(l['message'] == \"e2e.api/render_err.yaml:6:14: task 'load': property 'message': undefined variable 'inputs.urll'\" for l in d)"
req POST "/executions/$FID/restart"
ok "restart: 200" code_is 200
ok "restarted execution fails again" wait_state "$FID" FAILED 10
ok "its histories show RESTARTED" jt "'RESTARTED' in [h['state'] for h in d['state']['histories']]"
req POST "/executions/$FID/replay"
ok "replay: a new execution with originalId" eval 'code_is 200 && jt "d[\"originalId\"] == \"$FID\" and d[\"id\"] != \"$FID\""'
req POST "/executions/$ID/restart"
ok "restart a SUCCESS execution: 409 with a message" eval 'code_is 409 && jt "len(d[\"message\"]) > 0"'

# resume
cat >"$work/pause.yml" <<'YML'
id: approve
namespace: e2e.api
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/pause.yml"
req POST "/executions/e2e.api/approve?wait=true"
PID_=$(j "d['id']")
ok "a Pause waits for a person: PAUSED" jt "d['state']['current'] == 'PAUSED'"
req POST "/executions/$PID_/resume"
ok "resume: 204" code_is 204
ok "resumed execution ends SUCCESS" wait_state "$PID_" SUCCESS 10
req POST "/executions/$PID_/resume"
ok "resume a finished execution: 409" code_is 409

# delete
req DELETE "/executions/$PID_"
ok "delete an execution: 204" code_is 204
req GET "/executions/$PID_"
ok "a deleted execution is 404" code_is 404

# ---- webhooks -------------------------------------------------------------------------------
noauth POST "$BASE/executions/webhook/e2e.api/hello/s3cret-key?x=1&x=2" -H "Content-Type: application/json" -H "X-Custom: yes" -d '{"a": {"b": 7}}'
ok "webhook (no token): an execution with trigger body, headers, parameters" eval 'code_is 200 && jt "d[\"trigger\"][\"body\"][\"a\"][\"b\"] == 7 and d[\"trigger\"][\"headers\"][\"x-custom\"] == [\"yes\"] and d[\"trigger\"][\"parameters\"][\"x\"] == [\"1\", \"2\"]"'
WID=$(j "d['id']")
ok "the webhook execution ends SUCCESS" wait_state "$WID" SUCCESS 10
noauth GET "$BASE/executions/webhook/e2e.api/hello/s3cret-key"
ok "webhook by GET" code_is 200
noauth PUT "$BASE/executions/webhook/e2e.api/hello/s3cret-key" -d 'plain text'
ok "webhook by PUT with a text body" eval 'code_is 200 && jt "d[\"trigger\"][\"body\"] == \"plain text\""'
noauth POST "$BASE/executions/webhook/e2e.api/hello/wrong-key"
ok "webhook: unknown key 404" code_is 404
noauth POST "$BASE/executions/webhook/e2e.api/nope/s3cret-key"
ok "webhook: unknown flow 404" code_is 404

# ---- triggers -----------------------------------------------------------------------------
req GET "/triggers/search?namespace=e2e.api"
ok "triggers search lists the webhook" eval 'code_is 200 && jt "any(t[\"triggerContext\"][\"triggerId\"] == \"hook\" for t in d[\"results\"])"'
req PUT /triggers -H "Content-Type: application/json" -d '{"namespace":"e2e.api","flowId":"hello","triggerId":"hook","disabled":true}'
ok "disable a trigger" eval 'code_is 200 && jt "d[\"disabled\"] is True"'
noauth POST "$BASE/executions/webhook/e2e.api/hello/s3cret-key"
ok "a disabled webhook answers 404" code_is 404
req PUT /triggers -H "Content-Type: application/json" -d '{"namespace":"e2e.api","flowId":"hello","triggerId":"hook","disabled":false}'
noauth POST "$BASE/executions/webhook/e2e.api/hello/s3cret-key"
ok "enabled again, it starts executions" code_is 200
req PUT /triggers -H "Content-Type: application/json" -d '{"namespace":"e2e.api","flowId":"hello",'
ok "bad JSON: 400 with line and column" eval 'code_is 400 && jt "d[\"message\"].startswith(\"body:1:\") and \"invalid JSON\" in d[\"message\"]"'
req PUT /triggers -H "Content-Type: application/json" -d '{"namespace":"e2e.api","flowId":"hello","triggerId":"nope","disabled":true}'
ok "unknown trigger: 404" code_is 404

printf 'id: nightly\nnamespace: e2e.sched\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: "tick {{ trigger.date }}"\ntriggers:\n  - id: hourly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "0 * * * *"\n' >"$work/nightly.yml"
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/nightly.yml"
BF='{"namespace":"e2e.sched","flowId":"nightly","triggerId":"hourly","backfill":{"start":"2024-01-01T00:00:00Z","end":"2024-01-01T03:00:00Z"}}'
req PUT /triggers -H "Content-Type: application/json" -d "$BF"
ok "backfill: one execution per tick of the range" eval 'code_is 200 && jt "d[\"backfillExecutions\"] == 4"'
req PUT /triggers -H "Content-Type: application/json" -d "$BF"
ok "backfill again: ticks already fired are skipped" jt "d['backfillExecutions'] == 0"
req GET "/executions/search?namespace=e2e.sched&labels=backfill:true"
ok "backfill executions carry trigger.date and the backfill label" jt "d['total'] == 4 and sorted(x['trigger']['date'] for x in d['results'])[0] == '2024-01-01T00:00:00Z'"
req PUT /triggers -H "Content-Type: application/json" -d '{"namespace":"e2e.sched","flowId":"nightly","triggerId":"hourly","backfill":{"start":"yesterday"}}'
ok "backfill with a bad date: 400 naming the field" eval 'code_is 400 && jt "\"backfill.start\" in d[\"message\"]"'

# ---- kv -----------------------------------------------------------------------------------------
req PUT /namespaces/e2e.api/kv/answer -H "Content-Type: application/json" -d '{"n": 42}'
ok "kv put: 204" code_is 204
req PUT /namespaces/e2e.api/kv/text -d 'hello there'
req GET /namespaces/e2e.api/kv/answer
ok "kv get: typed value" eval 'code_is 200 && jt "d[\"type\"] == \"JSON\" and d[\"value\"][\"n\"] == 42"'
req GET /namespaces/e2e.api/kv/text
ok "kv get: text stays text" jt "d['type'] == 'STRING' and d['value'] == 'hello there'"
req GET /namespaces/e2e.api/kv
ok "kv list" jt "sorted(k['key'] for k in d) == ['answer', 'text']"
req DELETE /namespaces/e2e.api/kv/answer
ok "kv delete: 204" code_is 204
req GET /namespaces/e2e.api/kv/answer
ok "kv get after delete: 404" code_is 404
req GET /namespaces/_kite.auth/kv
ok "kv: kite's reserved namespace is refused" code_is 403
req PUT /namespaces/e2e.api/kv/ttl -H "ttl: forever" -d 1
ok "kv: a bad ttl is a 400" code_is 400

# ---- limits ----------------------------------------------------------------------------------------
code=$(head -c 11000000 /dev/zero | tr '\0' 'a' | curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-yaml" --data-binary @- "$BASE/flows")
ok "a body over 10 MiB: 413" eval 'code_is 413 && jt "\"larger than\" in d[\"message\"]"'
req POST /flows -H "Content-Type: application/x-yaml"
ok "an empty flow body: 400" code_is 400

ok "a client that stops mid-request is disconnected after --http-timeout" python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")   # never finishes its headers
s.settimeout(5)
t0 = time.time()
try:
    data = s.recv(100)
except socket.timeout:
    sys.exit(1)
sys.exit(0 if data == b"" and time.time() - t0 < 4 else 1)
PY

# ---- metrics and OpenAPI -------------------------------------------------------------------------
curl -s "http://127.0.0.1:$PORT/metrics" >"$work/metrics.txt"
ok "metrics: executions by state" grep -q '^kite_executions{state="SUCCESS"} [1-9]' "$work/metrics.txt"
ok "metrics: queue depth and durations" eval 'grep -q "^kite_queue_jobs{kind=\"task\",status=\"waiting\"}" "$work/metrics.txt" && grep -q "^kite_execution_duration_seconds_count [1-9]" "$work/metrics.txt"'
req GET /openapi.json
ok "OpenAPI document lists the routes" eval 'code_is 200 && jt "\"/api/v1/executions/{namespace}/{flowId}\" in d[\"paths\"] and \"post\" in d[\"paths\"][\"/api/v1/flows\"]"'

stop_server TERM
ok "SIGTERM: exit 0" [ "$STOP_RC" -eq 0 ]
ok "no sanitizer reports on the server's stderr" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
