#!/bin/bash
# bench_sql.sh: PostgreSQL Query tasks per second through kite (a ForEach of
# N tasks, each binding a parameter and fetching one row), next to bare libpq
# running the same queries on one connection; then a 1,000,000-row STORE and
# kite's peak RSS while it streams the rows to an Ion file. Needs PostgreSQL
# 15 (tests/lib/pg.sh starts one); prints figures, asserts nothing.
set -u
export TMPDIR=${TMPDIR:-/tmp}
KITE=${KITE:-build/kite}
N=${N:-400}
ROWS=${ROWS:-1000000}
work=$(mktemp -d)
chmod 755 "$work"
. tests/lib/pg.sh
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start || { echo "bench_sql: PostgreSQL did not start; skipped"; exit 0; }

cc -O2 -o "$work/libpq_queries" bench/sql/libpq_queries.c $(pkg-config --cflags --libs libpq) || exit 1
bare=$("$work/libpq_queries" "host=127.0.0.1 port=$PG_PORT dbname=kite user=$PG_USER password=$PG_PASSWORD" "$N")

for conc in 1 8; do
cat >"$work/q$conc.yaml" <<YAML
id: bench_sql_q
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, $N) }}"
    concurrencyLimit: $conc
    tasks:
      - id: q
        type: io.kestra.plugin.jdbc.postgresql.Query
        url: $PG_URL
        username: $PG_USER
        password: $PG_PASSWORD
        sql: SELECT :n::int * 2 AS v, now() AS at
        parameters:
          n: "{{ taskrun.value }}"
        fetchType: FETCH_ONE
YAML
t0=$(date +%s.%N)
"$KITE" run "$work/q$conc.yaml" --data "$work/d$conc" --quiet >/dev/null 2>&1 || echo "bench_sql: the query flow failed"
t1=$(date +%s.%N)
printf 'postgresql Query tasks (ForEach of %d, concurrencyLimit %d): %.0f tasks/s (whole execution, %.2f s)\n' \
    "$N" "$conc" "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
done
printf 'bare libpq, same query, one connection:               %s queries/s\n' "$bare"

cat >"$work/store.yaml" <<YAML
id: bench_sql_store
namespace: bench
tasks:
  - id: s
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: $PG_URL
    username: $PG_USER
    password: $PG_PASSWORD
    sql: SELECT i AS id, 'name ' || i AS name, (i * 1.25)::numeric(12,2) AS amount, now() AS at FROM generate_series(1, $ROWS) i
    fetchType: STORE
YAML
/usr/bin/time -f '%M %e' -o "$work/time" "$KITE" run "$work/store.yaml" --data "$work/ds" --quiet >/dev/null 2>&1 ||
    echo "bench_sql: the STORE flow failed"
read -r rss secs <"$work/time"
size=$(find "$work/ds" -name 'result.ion' -printf '%s')
printf 'STORE of %d rows: %.1f s, %.0f rows/s, peak RSS %d KiB, Ion file %d MiB\n' \
    "$ROWS" "$secs" "$(echo "$ROWS / $secs" | bc -l)" "$rss" "$((size / 1048576))"
/usr/bin/time -f '%M' -o "$work/time0" "$KITE" run "$work/q1.yaml" --data "$work/d0" --quiet >/dev/null 2>&1
printf '(for scale: peak RSS of the %d-task query flow above: %s KiB)\n' "$N" "$(cat "$work/time0")"

# the example flow: one check over 50 databases, 10 at a time (without its IonToCsv step
# while kite has no IonToCsv)
for i in $(seq 1 50); do echo "CREATE DATABASE app$i;"; done | "${PG_PSQL[@]}" >/dev/null
targets=$(python3 -c "import json; print(json.dumps(['$PG_URL'.rsplit('/', 1)[0] + '/app%d' % i for i in range(1, 51)]))")
flow=examples/flows/fleet-sql-report.yaml
if ! "$KITE" plugins list 2>/dev/null | grep -q "io.kestra.plugin.serdes.csv.IonToCsv"; then
    sed '/^  - id: csv$/,$d' "$flow" >"$work/fleet.yaml"
    flow="$work/fleet.yaml"
fi
t0=$(date +%s.%N)
SECRET_FLEET_PG_PASSWORD=$(printf '%s' "$PG_PASSWORD" | base64 -w0) "$KITE" run "$flow" --data "$work/df" --quiet \
    --input targets="$targets" --input username="$PG_USER" >/dev/null 2>&1 || echo "bench_sql: the fleet flow failed"
t1=$(date +%s.%N)
printf 'examples/flows/fleet-sql-report.yaml over 50 databases (concurrencyLimit 10): %.2f s wall\n' "$(echo "$t1 - $t0" | bc -l)"
