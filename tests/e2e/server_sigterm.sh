#!/bin/bash
# `kite server local` lifecycle: the generated admin token (printed once,
# stored hashed, valid after a restart, replaced by KITE_ADMIN_TOKEN), and
# SIGTERM while an execution runs: the server exits 0 within the grace
# period, and the execution finishes after the next start without running
# its finished tasks again.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
DATA=$work/data

ADMIN_TOKEN= start_server "$ERR" --data "$DATA" --grace PT0.3S
TOKEN=$(grep -o 'kite_[0-9a-f]\{48\}' "$ERR" | head -1)
ok "first start: an admin token is generated and printed" [ -n "$TOKEN" ]
ok "the token is not stored in clear" eval '! grep -r -q -a "$TOKEN" "$DATA"'
req GET /flows/search
ok "the generated token works" code_is 200

cat >"$work/slow.yml" <<'YML'
id: slow
namespace: e2e.stop
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: before the nap
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the nap
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/slow.yml"
req POST /executions/e2e.stop/slow
ID=$(j "d['id']")
for _ in $(seq 1 50); do
    req GET "/executions/$ID"
    jt "any(t['taskId'] == 'nap' and t['state']['current'] == 'RUNNING' for t in d['taskRunList'])" && break
    sleep 0.05
done
ok "the execution is running its Sleep" jt "any(t['taskId'] == 'nap' and t['state']['current'] == 'RUNNING' for t in d['taskRunList'])"
t0=$(date +%s%N)
stop_server TERM
t1=$(date +%s%N)
ok "SIGTERM while it runs: exit 0" [ "$STOP_RC" -eq 0 ]
ok "SIGTERM: stopped within the grace period (+1 s)" [ $(( (t1 - t0) / 1000000 )) -lt 1300 ]
ok "SIGTERM: the server said it stopped" grep -q "kite server: stopped" "$ERR"

ADMIN_TOKEN= start_server "$ERR" --data "$DATA"
ok "second start: no new token printed" [ "$(grep -c 'kite_[0-9a-f]\{48\}' "$ERR")" -eq 1 ]
req GET "/executions/$ID"
ok "the generated token still works after a restart" code_is 200
ok "the interrupted execution finishes after the restart" wait_state "$ID" SUCCESS 20
ok "finished task runs were not run again" jt "[t['taskId'] for t in d['taskRunList']].count('before') == 1"
req GET "/logs/$ID"
ok "the task interrupted ran to its end" jt "sum(l['message'] == 'after the nap' for l in d) == 1 and sum(l['message'] == 'before the nap' for l in d) == 1"
stop_server TERM
ok "second stop: exit 0" [ "$STOP_RC" -eq 0 ]

OLD=$TOKEN
ADMIN_TOKEN=replacement-token-0123456789 start_server "$ERR" --data "$DATA"
req GET /flows/search
ok "the generated token is replaced by KITE_ADMIN_TOKEN" code_is 401
TOKEN=replacement-token-0123456789
req GET /flows/search
ok "KITE_ADMIN_TOKEN works" code_is 200
stop_server INT
ok "SIGINT: exit 0 too" [ "$STOP_RC" -eq 0 ]
TOKEN=$OLD

ADMIN_TOKEN=short start_server "$work/short.err" --data "$DATA"
ok "a KITE_ADMIN_TOKEN under 16 characters is refused" grep -q "too short" "$work/short.err"
SERVER_PID=

ADMIN_TOKEN=$OLD start_server "$ERR" --data "$work/data2"
timeout 10 "$KITE" server local --port "$PORT" --data "$work/data3" >/dev/null 2>"$work/busy.err"
rc=$?
ok "a port in use: exit 1 with a message" eval '[ $rc -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$PORT" "$work/busy.err"'
stop_server TERM
timeout 10 "$KITE" server local --port 99999 >/dev/null 2>"$work/badport.err"
rc=$?
ok "a bad --port: exit 2 with a message" eval '[ $rc -eq 2 ] && grep -q "not a port number" "$work/badport.err"'
ok "no sanitizer reports on the server's stderr" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
