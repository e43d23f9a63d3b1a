#!/bin/bash
# kill -9 of `kite run` while a shell task runs, in embedded mode, where the
# executor hands each task to a waiting worker (the lease rides in the
# dispatch commit) and the worker hands its result back in memory (written
# with the next dispatch, in one commit). What must hold after the kill:
#   - the task that was running is in the store, leased to a worker of the
#     dead process (the dispatch and its lease were one commit);
#   - `kite execution follow` takes that lease back and ends the execution
#     SUCCESS with every task;
#   - a task whose run was SUCCESS in the store before the kill did not run
#     again (its marker line is there once), and its log line is stored once;
#   - every task ran at least once (nothing acknowledged was lost).
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
N=8
flow="$work/handoff.yaml"
{
    echo "id: handoff"
    echo "namespace: tests.crash"
    echo "tasks:"
    for i in $(seq 1 $N); do
        echo "  - id: t$i"
        echo "    type: io.kestra.plugin.scripts.shell.Commands"
        echo "    commands:"
        echo "      - sleep 0.15"
        echo "      - echo t$i >> $work/marks"
        echo "      - echo ran t$i"
    done
} >"$flow"

leased_rounds=0
for round in 1 2 3 4 5; do
    data="$work/data$round"
    : >"$work/marks"
    "$KITE" run "$flow" --data "$data" --quiet >/dev/null 2>&1 &
    pid=$!
    # inside one of the tasks' sleeps (the flow takes about 1.3 s)
    sleep "0.$((RANDOM % 8 + 2))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    id=$(sqlite3 "$data/kite.db" "select id from executions limit 1" 2>/dev/null)
    if [ -z "$id" ]; then
        echo "PASS round $round: killed before the execution was created (nothing acknowledged)"
        continue
    fi
    before=$(sqlite3 "$data/kite.db" "select task_id from task_runs where execution_id='$id' and state='SUCCESS'" | sort)
    leased=$(sqlite3 "$data/kite.db" "select count(*) from jobs where kind='task' and owner like '%-$pid/worker-%' and attempt=1")
    [ "$leased" -gt 0 ] && leased_rounds=$((leased_rounds + 1))
    if ! "$KITE" execution follow "$id" --data "$data" --quiet >/dev/null 2>&1; then
        echo "FAIL round $round: the execution did not end SUCCESS after the restart"
        sqlite3 "$data/kite.db" "select task_id, state from task_runs where execution_id='$id'" | tail -5
        continue
    fi
    ok=1
    state=$(sqlite3 "$data/kite.db" "select state from executions where id='$id'")
    runs=$(sqlite3 "$data/kite.db" "select count(*) from task_runs where execution_id='$id' and state='SUCCESS'")
    [ "$state" = "SUCCESS" ] || { echo "FAIL round $round: state $state"; ok=0; }
    [ "$runs" = "$N" ] || { echo "FAIL round $round: $runs task runs SUCCESS, expected $N"; ok=0; }
    left=$(sqlite3 "$data/kite.db" "select count(*) from jobs")
    [ "$left" = "0" ] || { echo "FAIL round $round: $left jobs left in the queue"; ok=0; }
    for i in $(seq 1 $N); do
        n=$(grep -cx "t$i" "$work/marks")
        [ "$n" -ge 1 ] || { echo "FAIL round $round: t$i never ran"; ok=0; }
    done
    for t in $before; do
        n=$(grep -cx "$t" "$work/marks")
        [ "$n" = "1" ] || { echo "FAIL round $round: $t was SUCCESS before the kill but ran $n times"; ok=0; }
        l=$(sqlite3 "$data/kite.db" "select count(*) from logs where execution_id='$id' and task_id='$t' and message = 'ran $t'")
        [ "$l" = "1" ] || { echo "FAIL round $round: $t was SUCCESS before the kill but logged $l times"; ok=0; }
    done
    integrity=$(sqlite3 "$data/kite.db" "pragma integrity_check")
    [ "$integrity" = "ok" ] || { echo "FAIL round $round: integrity_check: $integrity"; ok=0; }
    [ $ok = 1 ] && echo "PASS round $round: killed with $(echo $before | wc -w) tasks done, $leased task leased to the dead worker; resumed to SUCCESS, none repeated"
done
# a kill inside a task's sleep finds its job leased to the dead process's
# worker: the lease was written with the dispatch
if [ "$leased_rounds" -gt 0 ]; then
    echo "PASS the running task's job was leased to the dead worker in $leased_rounds round(s)"
else
    echo "FAIL no round found the running task's job leased to a worker of the killed process"
fi
