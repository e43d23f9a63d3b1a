#!/bin/bash
# bench_mongodb.sh: MongoDB Find tasks per second through `kite run` against
# tests/lib/mongod_fake.py, next to bare libmongoc doing the same finds
# (bench/mongo_bare.c, built here): once on one reused client, and once with
# a new client per find, which is what a kite task does (one client per run).
# The fake is Python, so every figure includes its cost; the comparison is
# what matters. N finds of a 3-document filter (BENCH_MONGO_N, default 300).
set -u
KITE=${KITE:-build/kite}
N=${BENCH_MONGO_N:-300}
work=$(mktemp -d)
python3 tests/lib/mongod_fake.py --port-file "$work/port" 2>/dev/null &
fake=$!
trap 'kill $fake 2>/dev/null; wait $fake 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
uri="mongodb://127.0.0.1:$port/?serverSelectionTimeoutMS=3000"
cc -O2 -o "$work/bare" bench/mongo_bare.c $(pkg-config --cflags --libs libmongoc-1.0) || exit 1
"$work/bare" "$uri" "$N" || exit 1

items=$(python3 -c "print(list(range($N)))")
cat >"$work/flow.yaml" <<EOF
id: bench_mongo
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: $items
    concurrencyLimit: 2
    tasks:
      - id: find
        type: io.kestra.plugin.mongodb.Find
        connection: { uri: "$uri" }
        database: bench
        collection: people
        filter: { city: Paris }
EOF
start=$(date +%s.%N)
"$KITE" run "$work/flow.yaml" --data "$work/data" >/dev/null 2>"$work/err" || { tail -5 "$work/err"; exit 1; }
end=$(date +%s.%N)
python3 -c "import sys; n=$N; t=$end-$start; print('kite Find tasks (ForEach, concurrencyLimit 2): %d in %.2f s, %.0f tasks/s' % (n, t, n/t))"
