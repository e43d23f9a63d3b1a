#!/bin/bash
# An expression that never ends by itself (`jq('last(range(1e12))')`) in a
# task's property, end to end: the task's `timeout` stops it (the execution
# ends FAILED with the timeout as its error) and the one worker is free for
# the next execution; a kill through the API and `kite execution kill` stop
# it too (KILLED), and SIGTERM of the server stops within its grace period.
# Every wait is bounded (a hang is a FAIL, not a stuck suite); no timing is
# asserted beyond "it ended".
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err

cat >"$work/timeout.yml" <<'YML'
id: timeout
namespace: e2e.expr
tasks:
  - id: spin
    type: io.kestra.plugin.core.log.Log
    timeout: PT2S
    message: "{{ 1 | jq('last(range(1e12))') }}"
YML
cat >"$work/spin.yml" <<'YML'
id: spin
namespace: e2e.expr
tasks:
  - id: spin
    type: io.kestra.plugin.core.log.Log
    timeout: PT1H
    message: "{{ 1 | jq('last(range(1e12))') }}"
YML
cat >"$work/quick.yml" <<'YML'
id: quick
namespace: e2e.expr
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ [1, 2] | jq('map(. * 21) | .[1]') | first }}"
YML

# ---- through the server, one worker ------------------------------------------------
start_server "$ERR" --data "$work/data" --workers 1 --grace PT1S
for f in timeout spin quick; do
    req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/$f.yml"
done
ok "the flows are saved" code_is 200

req POST /executions/e2e.expr/timeout
T=$(j "d['id']")
ok "the task's timeout stops the jq loop: FAILED" wait_state "$T" FAILED 30
req GET "/logs/$T"
ok "its error names the timeout" jt "any('timeout' in l['message'] and 'PT2S' in l['message'] for l in d)"

req POST /executions/e2e.expr/quick
Q=$(j "d['id']")
ok "the worker is free again: the next execution succeeds" wait_state "$Q" SUCCESS 20
req GET "/logs/$Q"
ok "and renders its jq" jt "any(l['message'] == '42' for l in d)"

req POST /executions/e2e.expr/spin
S=$(j "d['id']")
for _ in $(seq 1 100); do
    req GET "/executions/$S"
    jt "any(t['state']['current'] == 'RUNNING' for t in d['taskRunList'])" && break
    sleep 0.05
done
ok "the loop without a short timeout runs" jt "any(t['state']['current'] == 'RUNNING' for t in d['taskRunList'])"
req DELETE "/executions/$S/kill"
ok "a kill through the API stops it: KILLED" wait_state "$S" KILLED 20
req POST /executions/e2e.expr/quick
Q=$(j "d['id']")
ok "after the kill the worker is free" wait_state "$Q" SUCCESS 20

req POST /executions/e2e.expr/spin
S=$(j "d['id']")
for _ in $(seq 1 100); do
    req GET "/executions/$S"
    jt "any(t['state']['current'] == 'RUNNING' for t in d['taskRunList'])" && break
    sleep 0.05
done
( sleep 30; kill -KILL "$SERVER_PID" 2>/dev/null ) &
guard=$!
stop_server TERM
kill "$guard" 2>/dev/null
ok "SIGTERM while the loop runs: the server stops by itself, exit 0" [ "$STOP_RC" -eq 0 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"

# ---- kite run and kite execution kill ---------------------------------------------
timeout 60 "$KITE" run "$work/spin.yml" --data "$work/run" >"$work/run.out" 2>"$work/run.err" &
rpid=$!
id=
for _ in $(seq 1 100); do
    id=$(python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$work/run/kite.db?mode=ro', uri=True); r=c.execute('select id from executions').fetchone(); print(r[0] if r else '')" 2>/dev/null)
    [ -n "$id" ] && break
    sleep 0.1
done
sleep 0.5
timeout 30 "$KITE" execution kill "$id" --data "$work/run" >"$work/kill.out" 2>&1
krc=$?
wait "$rpid"
rrc=$?
ok "kite execution kill: it ends KILLED" grep -q "ended KILLED" "$work/kill.out"
ok "the kite run that ran the loop ends too (not by its 60 s guard)" [ "$rrc" -ne 124 ]
ok "and says KILLED" grep -q "ended KILLED" "$work/run.err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
