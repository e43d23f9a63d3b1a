#!/bin/bash
# Triggers through the real `kite server local`: a schedule firing every
# second, a flow trigger reacting to a FAILED execution, and kill -9 of the
# server while the schedule fires. After a restart (recoverMissedSchedules
# ALL, the default) every tick from the first to the last is there exactly
# once (the ticks missed while the server was down are caught up), each with
# its one execution, and the flow trigger has reacted exactly once.
# Reads the ticks straight from the SQLite file with the sqlite3 CLI.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
DATA=$work/data
FLOWS=$work/flows
mkdir -p "$FLOWS"

if ! command -v sqlite3 >/dev/null; then
    echo "FAIL sched_server: the sqlite3 command is missing"
    exit 1
fi

cat >"$FLOWS/every.yml" <<'YML'
id: every
namespace: e2e.sched
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "tick {{ trigger.date }}"
triggers:
  - id: each-second
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
YML
cat >"$FLOWS/upstream.yml" <<'YML'
id: upstream
namespace: e2e.sched
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
YML
cat >"$FLOWS/alert.yml" <<'YML'
id: alert
namespace: e2e.alerts
inputs:
  - id: failed
    type: STRING
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.failed }} failed"
triggers:
  - id: on-failure
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      failed: "{{ trigger.executionId }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: e2e.sched
        flowId: upstream
YML

q() { sqlite3 "$DATA/kite.db" "$1"; }

start_server "$ERR" --data "$DATA" --flows "$FLOWS"
ok "the server starts with the flows" [ -n "$SERVER_PID" ]
req POST /executions/e2e.sched/upstream
UP=$(j "d['id']" 2>/dev/null)
ok "upstream execution created" eval '[ -n "$UP" ]'
ok "upstream fails" wait_state "$UP" FAILED 10
ALERT=
for _ in $(seq 1 50); do
    ALERT=$(q "SELECT id FROM executions WHERE flow_id = 'alert'" 2>/dev/null)
    [ -n "$ALERT" ] && break
    sleep 0.1
done
ok "the flow trigger starts the alert flow" eval '[ -n "$ALERT" ]'
ok "the alert runs with the failed execution's id" eval 'wait_state "$ALERT" SUCCESS 10 && jt "d[\"inputs\"][\"failed\"] == \"$UP\" and d[\"trigger\"][\"state\"] == \"FAILED\""'

sleep 2.5
BEFORE=$(q "SELECT count(*) FROM trigger_ticks WHERE flow_id = 'every'")
ok "the schedule fires every second ($BEFORE ticks)" eval '[ "$BEFORE" -ge 2 ] && [ "$BEFORE" -le 10 ]'

stop_server KILL
sleep 2.2
start_server "$ERR" --data "$DATA" --flows "$FLOWS"
sleep 2.5
stop_server TERM
ok "the restarted server exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]

N=$(q "SELECT count(*) FROM trigger_ticks WHERE flow_id = 'every' AND trigger_id = 'each-second'")
D=$(q "SELECT count(DISTINCT scheduled) FROM trigger_ticks WHERE flow_id = 'every' AND trigger_id = 'each-second'")
SPAN=$(q "SELECT (max(scheduled) - min(scheduled)) / 1000000 + 1 FROM trigger_ticks WHERE flow_id = 'every' AND trigger_id = 'each-second'")
EX=$(q "SELECT count(*) FROM executions WHERE flow_id = 'every'")
ORPHANS=$(q "SELECT count(*) FROM trigger_ticks t WHERE flow_id = 'every' AND NOT EXISTS (SELECT 1 FROM executions x WHERE x.id = t.execution_id)")
ok "more ticks after the restart ($BEFORE then $N)" eval '[ "$N" -gt "$BEFORE" ]'
ok "no tick fired twice ($N ticks, $D dates)" [ "$N" = "$D" ]
ok "no tick lost: downtime caught up ($N ticks over $SPAN seconds)" [ "$N" = "$SPAN" ]
ok "one execution per tick ($EX executions)" [ "$EX" = "$N" ]
ok "every tick has its execution" [ "$ORPHANS" = 0 ]
ALERTS=$(q "SELECT count(*) FROM executions WHERE flow_id = 'alert'")
ok "the flow trigger reacted once across the restart ($ALERTS)" [ "$ALERTS" = 1 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
