#!/bin/bash
# kill -9 of `kite run` in the middle of executions, several times: after
# `kite execution follow` carries each on, it ends SUCCESS with every task,
# and no task that had ended before the kill ran again.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flow="$work/crash.yaml"
{
    echo "id: crash"
    echo "namespace: tests.crash"
    echo "tasks:"
    for i in $(seq 1 12); do
        echo "  - id: nap$i"
        echo "    type: io.kestra.plugin.core.flow.Sleep"
        echo "    duration: PT0.1S"
        echo "  - id: log$i"
        echo "    type: io.kestra.plugin.core.log.Log"
        echo "    message: done $i"
    done
} >"$flow"

for round in 1 2 3 4 5; do
    data="$work/data$round"
    "$KITE" run "$flow" --data "$data" --quiet >/dev/null 2>&1 &
    pid=$!
    # somewhere in the middle of the 1.2 s the flow takes
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    id=$(sqlite3 "$data/kite.db" "select id from executions limit 1")
    if [ -z "$id" ]; then
        echo "PASS round $round: killed before the execution was created (nothing acknowledged)"
        continue
    fi
    before=$(sqlite3 "$data/kite.db" "select task_id from task_runs where execution_id='$id' and state='SUCCESS' and task_id like 'log%'" | sort)
    if ! "$KITE" execution follow "$id" --data "$data" --quiet >/dev/null 2>&1; then
        echo "FAIL round $round: the execution did not end SUCCESS after the restart"
        sqlite3 "$data/kite.db" "select task_id, state from task_runs where execution_id='$id'" | tail -5
        continue
    fi
    state=$(sqlite3 "$data/kite.db" "select state from executions where id='$id'")
    runs=$(sqlite3 "$data/kite.db" "select count(*) from task_runs where execution_id='$id'")
    ok=1
    [ "$state" = "SUCCESS" ] || { echo "FAIL round $round: state $state"; ok=0; }
    [ "$runs" = "24" ] || { echo "FAIL round $round: $runs task runs, expected 24"; ok=0; }
    for t in $before; do
        n=$(sqlite3 "$data/kite.db" "select count(*) from logs where execution_id='$id' and task_id='$t' and message like 'done %'")
        if [ "$n" != "1" ]; then
            echo "FAIL round $round: $t had ended before the kill but logged $n times"
            ok=0
        fi
    done
    integrity=$(sqlite3 "$data/kite.db" "pragma integrity_check")
    [ "$integrity" = "ok" ] || { echo "FAIL round $round: integrity_check: $integrity"; ok=0; }
    [ $ok = 1 ] && echo "PASS round $round: killed with $(echo $before | wc -w) log tasks done; resumed to SUCCESS, none repeated"
done
