#!/bin/bash
# `kite execution replay ID --from TASKRUN`: a new execution whose originalId
# is ID; the task runs before the chosen one are kept (not run again), the
# chosen one and what follows run again; restart after a failure.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/f.yaml" <<'YML'
id: replayed
namespace: t.replay
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "first {{ execution.id }}"
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: b
        type: io.kestra.plugin.core.log.Log
        message: "b of {{ execution.id }}"
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.a.value }}"
YML
d="$work/data"
"$KITE" run "$work/f.yaml" --data "$d" --quiet || { echo "FAIL the first run"; exit 0; }
id=$(sqlite3 "$d/kite.db" "select id from executions")
b=$(sqlite3 "$d/kite.db" "select id from task_runs where task_id='b'")
"$KITE" execution replay "$id" --from "$b" --data "$d" --quiet
nid=$(sqlite3 "$d/kite.db" "select id from executions where original_id='$id'")
if [ -n "$nid" ] && [ "$(sqlite3 "$d/kite.db" "select state from executions where id='$nid'")" = "SUCCESS" ]; then
    echo "PASS the replay is a new execution with originalId, ended SUCCESS"
else
    echo "FAIL no SUCCESS replay with originalId $id"
fi
runs=$(sqlite3 "$d/kite.db" "select task_id||':'||state from task_runs where execution_id='$nid' order by created" | tr '\n' ' ')
[ "$runs" = "a:SUCCESS seq:SUCCESS b:SUCCESS c:SUCCESS " ] && echo "PASS the replay has every task run" || echo "FAIL runs: $runs"
a_logs=$(sqlite3 "$d/kite.db" "select count(*) from logs where execution_id='$nid' and task_id='a'")
b_logs=$(sqlite3 "$d/kite.db" "select count(*) from logs where execution_id='$nid' and task_id='b'")
if [ "$a_logs" = 0 ] && [ "$b_logs" = 1 ]; then
    echo "PASS a was kept (not run again), b ran again"
else
    echo "FAIL a logged $a_logs times, b $b_logs times in the replay"
fi
c_out=$(sqlite3 "$d/kite.db" "select json_extract(outputs, '\$.value') from task_runs where execution_id='$nid' and task_id='c'")
[ "$c_out" = "first $id" ] && echo "PASS c saw the kept output of a" || echo "FAIL c's output: $c_out"
