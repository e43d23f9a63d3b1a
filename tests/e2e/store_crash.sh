#!/bin/bash
# The store survives kill -9 from outside: a writer process (the store crash
# test binary in writer mode) commits executions and prints each id only
# after its commit returned; the shell kills it with SIGKILL at a random
# moment; the checker then finds every printed id in the database, with
# PRAGMA integrity_check ok, and writes to the reopened store. Several rounds
# on the same database file.
set -u
BUILD=${BUILD:-build}
ROOT=${ROOT:-$PWD}
BIN="$ROOT/$BUILD/tests/test_store_crash"
ROUNDS=${ROUNDS:-5}
if [ ! -x "$BIN" ]; then
    echo "FAIL store_crash: $BIN is not built (make unit-bins)"
    exit 1
fi
dir=$(mktemp -d /tmp/kite-store-crash-XXXXXX)
trap 'rm -rf "$dir"' EXIT
db="$dir/kite.db"
total=0
for round in $(seq 1 "$ROUNDS"); do
    ids="$dir/ids.$round"
    KITE_STORE_CRASH_WRITER="$db" "$BIN" >"$ids" 2>"$dir/writer.err" &
    pid=$!
    # 50..400 ms, in the middle of whatever it is doing
    sleep "0.$(printf '%03d' $((50 + RANDOM % 350)))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    rc=$?
    if [ "$rc" -ne 137 ]; then
        echo "FAIL store_crash round $round: the writer ended by itself (exit $rc)"
        cat "$dir/writer.err"
        continue
    fi
    out=$(KITE_STORE_CRASH_CHECK="$db" "$BIN" "$ids" 2>&1)
    if [ $? -eq 0 ]; then
        n=${out#ok }
        total=$((total + n))
        echo "PASS store_crash round $round ($n committed executions found)"
    else
        echo "FAIL store_crash round $round: $out"
    fi
done
if [ "$total" -gt 0 ]; then
    echo "PASS store_crash committed something to check ($total executions)"
else
    echo "FAIL store_crash: no writer committed anything"
fi
