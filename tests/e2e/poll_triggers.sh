#!/bin/bash
# The triggers a task family polls, through one real `kite server local`:
# the SQL triggers (io.kestra.plugin.jdbc.{sqlite,postgresql,mariadb,duckdb}.Trigger)
# against a real SQLite file and a real PostgreSQL 15 started on loopback
# (tests/lib/pg.sh), a real MariaDB (tests/lib/mariadb.sh), DuckDB in memory
# where libduckdb is installed, the S3 trigger against tests/lib/s3_fake.py (SigV4
# checked with botocore), MongoDB's against tests/lib/mongod_fake.py.
#   - rows start one execution with trigger.rows / size; afterSQL marks them
#     done in the same transaction, committed after the execution exists, so
#     the next poll sees only new rows;
#   - a query with no row, or fetchType NONE, starts nothing;
#   - fetchType STORE: trigger.uri is a file the execution reads;
#   - an execution the flow refuses (a required input no trigger can give)
#     rolls afterSQL back: the
#     rows are still there for the next poll;
#   - a bad query fires nothing and is the trigger row's lastError, without
#     the password;
#   - S3: the objects are downloaded into the execution (trigger.objects[].uri
#     readable), then MOVEd or DELETEd;
#   - MongoDB: a find with documents fires with trigger.rows and size.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/e2e/server_lib.bash
. tests/lib/pg.sh
. tests/lib/mariadb.sh
ERR=$work/server.err
DATA=$work/data
FLOWS=$work/flows
mkdir -p "$FLOWS"
SPID=
MPID=
PG_UP=
MY_UP=
stop_all() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    [ -n "$MPID" ] && kill "$MPID" 2>/dev/null
    [ -n "$PG_UP" ] && pg_stop
    [ -n "$MY_UP" ] && mariadb_stop
    cleanup
}
trap stop_all EXIT
q() { sqlite3 "$DATA/kite.db" "$1"; }
count() { q "SELECT count(*) FROM executions WHERE flow_id = '$1'"; }
# wait_for SECONDS COMMAND...: until the command succeeds
wait_for() {
    local n=$(( $1 * 10 ))
    shift
    for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
    return 1
}

# ---- the sources ----------------------------------------------------------------
SRC=$work/src.db
sqlite3 "$SRC" "CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT, done INTEGER DEFAULT 0);
                INSERT INTO jobs(name) VALUES ('alpha'), ('beta');
                CREATE TABLE held(id INTEGER PRIMARY KEY, name TEXT, done INTEGER DEFAULT 0);
                INSERT INTO held(name) VALUES ('kept');"

if pg_start; then
    PG_UP=1
    "${PG_PSQL[@]}" -c "CREATE TABLE events(id serial PRIMARY KEY, kind text, seen boolean DEFAULT false);
                        INSERT INTO events(kind) VALUES ('backup-done'), ('backup-failed');" >/dev/null
fi

if mariadb_start; then
    MY_UP=1
    "${MY_CLI[@]}" -e "CREATE TABLE orders(id INT AUTO_INCREMENT PRIMARY KEY, ref VARCHAR(20), exported BOOL DEFAULT 0);
                       INSERT INTO orders(ref) VALUES ('ord-1'), ('ord-2'), ('ord-3');"
fi

AK=AKIDKITEPOLL
SK='kite/poll+Secret7'
python3 tests/lib/s3_fake.py --root "$work/s3root" --port-file "$work/sport" --access-key "$AK" --secret-key "$SK" \
    2>>"$work/s3.err" &
SPID=$!
for _ in $(seq 1 100); do [ -s "$work/sport" ] && break; sleep 0.05; done
EP=http://127.0.0.1:$(cat "$work/sport")
python3 - "$EP" "$AK" "$SK" <<'PY'
import sys, botocore.session
from botocore.config import Config
ep, ak, sk = sys.argv[1:4]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
    region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="drop")
s3.put_object(Bucket="drop", Key="in/a.csv", Body=b"id,v\n1,x\n")
s3.put_object(Bucket="drop", Key="in/b.csv", Body=b"id,v\n2,y\n")
s3.put_object(Bucket="drop", Key="gone/c.txt", Body=b"delete me\n")
PY
export SECRET_S3_SECRET=$(printf '%s' "$SK" | base64)

python3 tests/lib/mongod_fake.py --port-file "$work/mport" 2>"$work/mongo.log" &
MPID=$!
for _ in $(seq 1 200); do [ -s "$work/mport" ] && break; sleep 0.05; done
MURI="mongodb://127.0.0.1:$(cat "$work/mport")/?serverSelectionTimeoutMS=3000"
cat >"$work/seed.yaml" <<YAML
id: seed
namespace: e2e.poll
tasks:
  - id: one
    type: io.kestra.plugin.mongodb.InsertOne
    connection: {uri: "$MURI"}
    database: ops
    collection: alerts
    document: {cluster: "mongo-07", status: "open"}
  - id: two
    type: io.kestra.plugin.mongodb.InsertOne
    connection: {uri: "$MURI"}
    database: ops
    collection: alerts
    document: {cluster: "mongo-12", status: "closed"}
YAML
"$KITE" run "$work/seed.yaml" --data "$work/seeddata" >/dev/null 2>"$work/seed.err" ||
    { echo "FAIL seeding the MongoDB fake: $(tail -3 "$work/seed.err")"; exit 1; }

# ---- the flows ------------------------------------------------------------------
cat >"$FLOWS/sqlite_jobs.yml" <<YML
id: sqlite_jobs
namespace: e2e.poll
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "got {{ trigger.size }}: {{ trigger.rows | jq('[.[].name] | join(\",\")') | first }}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: jdbc:sqlite:$SRC
    sql: SELECT id, name FROM jobs WHERE done = 0 ORDER BY id
    afterSQL: UPDATE jobs SET done = 1 WHERE done = 0
    fetchType: FETCH
    interval: PT1S
YML
cat >"$FLOWS/sqlite_store.yml" <<YML
id: sqlite_store
namespace: e2e.poll
tasks:
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "stored {{ trigger.size }} {{ read(trigger.uri) }}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: jdbc:sqlite:$SRC
    sql: SELECT name FROM jobs WHERE id = 1
    fetchType: STORE
    interval: PT1H
YML
cat >"$FLOWS/sqlite_none.yml" <<YML
id: sqlite_none
namespace: e2e.poll
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: never
triggers:
  - id: empty
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: jdbc:sqlite:$SRC
    sql: SELECT id FROM jobs WHERE id < 0
    fetchType: FETCH
    interval: PT1S
  - id: nofetch
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: jdbc:sqlite:$SRC
    sql: SELECT id FROM jobs
    interval: PT1S
YML
cat >"$FLOWS/sqlite_refused.yml" <<YML
id: sqlite_refused
namespace: e2e.poll
inputs:
  - id: n
    type: INT
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: never
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.sqlite.Trigger
    url: jdbc:sqlite:$SRC
    sql: SELECT id FROM held WHERE done = 0
    afterSQL: UPDATE held SET done = 1
    fetchType: FETCH
    interval: PT1S
YML
if [ -n "$PG_UP" ]; then
cat >"$FLOWS/pg_events.yml" <<YML
id: pg_events
namespace: e2e.poll
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ trigger.rows }}"
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "event {{ json(taskrun.value).kind }}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.postgresql.Trigger
    url: $PG_URL
    username: $PG_USER
    password: $PG_PASSWORD
    sql: SELECT id, kind FROM events WHERE NOT seen ORDER BY id
    afterSQL: UPDATE events SET seen = true WHERE NOT seen
    fetchType: FETCH
    interval: PT1S
  - id: broken
    type: io.kestra.plugin.jdbc.postgresql.Trigger
    url: $PG_URL
    username: $PG_USER
    password: $PG_PASSWORD
    sql: SELECT * FROM no_such_table
    fetchType: FETCH
    interval: PT1S
YML
fi
if [ -n "$MY_UP" ]; then
cat >"$FLOWS/my_orders.yml" <<YML
id: my_orders
namespace: e2e.poll
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "orders {{ trigger.size }}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.mariadb.Trigger
    url: $MY_URL
    username: $MY_USER
    password: $MY_PASSWORD
    sql: SELECT id, ref FROM orders WHERE NOT exported ORDER BY id
    afterSQL: UPDATE orders SET exported = 1 WHERE NOT exported
    fetchType: FETCH
    interval: PT1S
YML
fi
DUCK=
[ -f vendor/duckdb/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so ] && DUCK=1
if [ -n "$DUCK" ]; then
cat >"$FLOWS/duck.yml" <<YML
id: duck
namespace: e2e.poll
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "answer {{ trigger.row.answer }}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.duckdb.Trigger
    url: "jdbc:duckdb:"
    sql: SELECT 42 AS answer
    fetchType: FETCH_ONE
    interval: PT1H
YML
fi
cat >"$FLOWS/s3_drop.yml" <<YML
id: s3_drop
namespace: e2e.poll
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ trigger.objects | jq('[.[].uri]') | first }}"
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "file {{ read(taskrun.value) | trim }}"
triggers:
  - id: watch
    type: io.kestra.plugin.aws.s3.Trigger
    endpointOverride: $EP
    region: us-east-1
    accessKeyId: $AK
    secretKeyId: "{{ secret('S3_SECRET') }}"
    bucket: drop
    prefix: in/
    action: MOVE
    moveTo:
      key: done/
    interval: PT1S
  - id: cleanup
    type: io.kestra.plugin.aws.s3.Trigger
    endpointOverride: $EP
    region: us-east-1
    accessKeyId: $AK
    secretKeyId: "{{ secret('S3_SECRET') }}"
    bucket: drop
    prefix: gone/
    action: DELETE
    interval: PT1S
YML
cat >"$FLOWS/mongo_alerts.yml" <<YML
id: mongo_alerts
namespace: e2e.poll
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "open {{ trigger.size }} {{ trigger.rows[0].cluster }}"
triggers:
  - id: watch
    type: io.kestra.plugin.mongodb.Trigger
    connection: {uri: "$MURI"}
    database: ops
    collection: alerts
    filter: {status: open}
    interval: PT1H
YML

"$KITE" validate "$FLOWS" >"$work/validate" 2>&1
ok "kite validate accepts the polling triggers without a 'declared only' warning" \
    eval '! grep -qi "declared\|cannot run" "$work/validate"'

start_server "$ERR" --data "$DATA" --flows "$FLOWS"
ok "the server starts with the flows" [ -n "$SERVER_PID" ]

# ---- SQLite ---------------------------------------------------------------------
ok "sqlite: two waiting rows start one execution" wait_for 20 eval '[ "$(count sqlite_jobs)" = 1 ]'
ID1=$(q "SELECT id FROM executions WHERE flow_id = 'sqlite_jobs'")
ok "sqlite: trigger.rows and trigger.size are the query's" eval 'wait_state "$ID1" SUCCESS 20 && jt "d[\"trigger\"][\"size\"] == 2 and [r[\"name\"] for r in d[\"trigger\"][\"rows\"]] == [\"alpha\", \"beta\"]"'
req GET "/logs/$ID1"
ok "sqlite: the flow reads them" grep -qF "got 2: alpha,beta" "$work/body"
ok "sqlite: afterSQL marked the rows done" [ "$(sqlite3 "$SRC" "SELECT count(*) FROM jobs WHERE done = 0")" = 0 ]
sleep 2
ok "sqlite: rows already done start nothing more" [ "$(count sqlite_jobs)" = 1 ]
sqlite3 "$SRC" "INSERT INTO jobs(name) VALUES ('gamma')"
ok "sqlite: a new row starts a second execution" wait_for 20 eval '[ "$(count sqlite_jobs)" = 2 ]'
ID2=$(q "SELECT id FROM executions WHERE flow_id = 'sqlite_jobs' AND id != '$ID1'")
ok "sqlite: ... with that row alone" eval 'wait_state "$ID2" SUCCESS 20 && jt "d[\"trigger\"][\"size\"] == 1 and d[\"trigger\"][\"rows\"][0][\"name\"] == \"gamma\""'
ok "sqlite: no row, and fetchType NONE, start nothing" [ "$(count sqlite_none)" = 0 ]
ST=$(q "SELECT id FROM executions WHERE flow_id = 'sqlite_store'")
ok "sqlite: fetchType STORE gives trigger.uri inside the execution's files" \
    eval '[ -n "$ST" ] && wait_state "$ST" SUCCESS 20 && jt "d[\"trigger\"][\"uri\"].endswith(\"result.ion\") and \"/executions/$ST/\" in d[\"trigger\"][\"uri\"]"'
req GET "/logs/$ST"
ok "sqlite: the execution reads the stored rows" jt 'd[0]["message"].strip() == "stored 1 {name:\"alpha\"}"'
sleep 2
ok "sqlite: an execution the flow refuses starts nothing" [ "$(count sqlite_refused)" = 0 ]
ok "sqlite: ... and afterSQL is rolled back: the row is still waiting" \
    [ "$(sqlite3 "$SRC" "SELECT done FROM held")" = 0 ]
REFUSED=$(q "SELECT state FROM triggers WHERE flow_id = 'sqlite_refused'")
ok "sqlite: ... the refusal is the trigger row's lastError, naming the input ($REFUSED)" \
    eval 'echo "$REFUSED" | grep -q "lastError.*input.*n"'

# ---- PostgreSQL -----------------------------------------------------------------
if [ -n "$PG_UP" ]; then
    ok "pg: the waiting events start one execution" wait_for 20 eval '[ "$(count pg_events)" = 1 ]'
    PGID=$(q "SELECT id FROM executions WHERE flow_id = 'pg_events'")
    ok "pg: a ForEach over trigger.rows sees each event" eval 'wait_state "$PGID" SUCCESS 20'
    req GET "/logs/$PGID"
    ok "pg: ... both kinds logged" eval 'grep -qF "event backup-done" "$work/body" && grep -qF "event backup-failed" "$work/body"'
    ok "pg: afterSQL committed after the execution: every event is seen" \
        [ "$("${PG_PSQL[@]}" -c "SELECT count(*) FROM events WHERE NOT seen")" = 0 ]
    "${PG_PSQL[@]}" -c "INSERT INTO events(kind) VALUES ('restore-done')" >/dev/null
    ok "pg: a new event starts a second execution" wait_for 20 eval '[ "$(count pg_events)" = 2 ]'
    STATE=$(q "SELECT state FROM triggers WHERE flow_id = 'pg_events' AND trigger_id = 'broken'")
    ok "pg: a bad query is the row's lastError, naming the target and the server's message" \
        eval 'echo "$STATE" | grep -q "postgresql://127.0.0.1:$PG_PORT/kite.*no_such_table"'
    ok "pg: the password is in no trigger row" eval '! q "SELECT state FROM triggers" | grep -qF "$PG_PASSWORD"'
else
    echo "SKIP pg: PostgreSQL did not start here"
fi

# ---- MariaDB --------------------------------------------------------------------
if [ -n "$MY_UP" ]; then
    ok "mariadb: the waiting orders start one execution" wait_for 20 eval '[ "$(count my_orders)" = 1 ]'
    MYID=$(q "SELECT id FROM executions WHERE flow_id = 'my_orders'")
    ok "mariadb: trigger.rows holds the three orders" eval 'wait_state "$MYID" SUCCESS 20 && jt "[r[\"ref\"] for r in d[\"trigger\"][\"rows\"]] == [\"ord-1\", \"ord-2\", \"ord-3\"]"'
    ok "mariadb: afterSQL committed: every order is exported" \
        [ "$("${MY_CLI[@]}" -N -e "SELECT count(*) FROM orders WHERE NOT exported")" = 0 ]
    sleep 2
    ok "mariadb: exported orders start nothing more" [ "$(count my_orders)" = 1 ]
else
    echo "SKIP mariadb: MariaDB did not start here"
fi

# ---- DuckDB ---------------------------------------------------------------------
if [ -n "$DUCK" ]; then
    DID=$(q "SELECT id FROM executions WHERE flow_id = 'duck'")
    ok "duckdb: FETCH_ONE fires with trigger.row" eval '[ -n "$DID" ] && wait_state "$DID" SUCCESS 20 && jt "d[\"trigger\"][\"row\"][\"answer\"] == 42 and d[\"trigger\"][\"size\"] == 1"'
else
    echo "SKIP duckdb: no libduckdb.so (scripts/setup.sh installs it under vendor/duckdb)"
fi

# ---- S3 -------------------------------------------------------------------------
ok "s3: the objects under in/ start one execution" wait_for 20 eval '[ "$(q "SELECT count(*) FROM executions WHERE flow_id = '"'"'s3_drop'"'"' AND trigger LIKE '"'"'%in/a.csv%'"'"'")" = 1 ]'
S3ID=$(q "SELECT id FROM executions WHERE flow_id = 's3_drop' AND trigger LIKE '%in/a.csv%'")
ok "s3: trigger.objects lists both, each downloaded into the execution" \
    eval 'wait_state "$S3ID" SUCCESS 20 && jt "sorted(o[\"key\"] for o in d[\"trigger\"][\"objects\"]) == [\"in/a.csv\", \"in/b.csv\"] and all(\"/executions/$S3ID/\" in o[\"uri\"] for o in d[\"trigger\"][\"objects\"])"'
req GET "/logs/$S3ID"
ok "s3: the flow reads the downloaded files" eval 'grep -qF "file id,v" "$work/body" && grep -qF "1,x" "$work/body" && grep -qF "2,y" "$work/body"'
s3_keys() {
    python3 - "$EP" "$AK" "$SK" <<'PY'
import sys, botocore.session
from botocore.config import Config
ep, ak, sk = sys.argv[1:4]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk,
    region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
print(" ".join(sorted(o["Key"] for o in s3.list_objects_v2(Bucket="drop").get("Contents", []))))
PY
}
ok "s3: MOVE put them under done/ and DELETE removed gone/" \
    wait_for 10 eval '[ "$(s3_keys)" = "done/a.csv done/b.csv" ]'
ok "s3: the DELETE trigger started its own execution" \
    [ "$(q "SELECT count(*) FROM executions WHERE flow_id = 's3_drop' AND trigger LIKE '%gone/c.txt%'")" = 1 ]
sleep 2
ok "s3: moved objects start nothing more" [ "$(count s3_drop)" = 2 ]

# ---- MongoDB --------------------------------------------------------------------
MID=$(q "SELECT id FROM executions WHERE flow_id = 'mongo_alerts'")
ok "mongodb: a find with documents starts the flow" eval '[ -n "$MID" ] && wait_state "$MID" SUCCESS 20'
ok "mongodb: trigger.size and trigger.rows are the open alerts'" \
    jt 'd["trigger"]["size"] == 1 and d["trigger"]["rows"][0]["cluster"] == "mongo-07"'

stop_server TERM
ok "the server exits 0 on SIGTERM" [ "$STOP_RC" = 0 ]
ok "no secret in the server's output" eval '! grep -qF "$SK" "$ERR" && { [ -z "$PG_UP" ] || ! grep -qF "$PG_PASSWORD" "$ERR"; } && { [ -z "$MY_UP" ] || ! grep -qF "$MY_PASSWORD" "$ERR"; }'
ok "no sanitizer report" no_sanitizer_reports "$ERR"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
