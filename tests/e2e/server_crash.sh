#!/bin/bash
# kill -9 of `kite server local` while executions run (6 executions of two
# 1.5 s naps each on the default workers, killed half a second after the last
# was acknowledged): every execution the
# API acknowledged (answered with an id) ends SUCCESS after a restart, with
# all its task runs, and no task that had ended before the kill ran again.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash
ERR=$work/server.err
DATA=$work/data
FLOWS=$work/flows
mkdir -p "$FLOWS"
cat >"$FLOWS/steps.yml" <<'YML'
id: steps
namespace: e2e.crash
tasks:
  - id: one
    type: io.kestra.plugin.core.log.Log
    message: "done one"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: "done two"
  - id: nap2
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
  - id: three
    type: io.kestra.plugin.core.log.Log
    message: "done three"
YML
q() { sqlite3 "$DATA/kite.db" "$1"; }

start_server "$ERR" --data "$DATA" --flows "$FLOWS"
ok "the server starts" [ -n "$SERVER_PID" ]
ids=()
for i in $(seq 1 6); do
    req POST /executions/e2e.crash/steps
    id=$(j "d['id']" 2>/dev/null)
    [ -n "$id" ] && ids+=("$id")
    sleep 0.05
done
ok "6 executions acknowledged" [ "${#ids[@]}" = 6 ]
sleep 0.5
# which log tasks had ended before the kill
before=$(q "SELECT execution_id || ':' || task_id FROM task_runs WHERE state = 'SUCCESS' AND task_id IN ('one','two','three')" | sort)
stop_server KILL
running=$(q "SELECT count(*) FROM executions WHERE state NOT IN ('SUCCESS','FAILED','KILLED','WARNING','CANCELLED')" 2>&1)
ok "the kill landed while executions ran ($running unfinished)" [ "$running" -gt 0 ]
start_server "$ERR" --data "$DATA" --flows "$FLOWS"
all_done=1
for id in "${ids[@]}"; do
    wait_state "$id" SUCCESS 60 || all_done=0
done
ok "every acknowledged execution ended SUCCESS after the restart" [ "$all_done" = 1 ]
runs=$(q "SELECT count(*) FROM task_runs")
ok "every execution has its 5 task runs ($runs)" [ "$runs" = 30 ]
again=0
for et in $before; do
    n=$(q "SELECT count(*) FROM logs WHERE execution_id = '${et%%:*}' AND task_id = '${et#*:}' AND message LIKE 'done %'")
    [ "$n" = 1 ] || again=$((again + 1))
done
ok "no task that had ended before the kill ran again ($(echo $before | wc -w) checked)" [ "$again" = 0 ]
ok "integrity_check" [ "$(q 'PRAGMA integrity_check')" = ok ]
stop_server TERM
ok "the restarted server exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
