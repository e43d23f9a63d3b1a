#!/bin/bash
# MongoDB tasks end to end through `kite run`, against tests/lib/mongod_fake.py
# (MongoDB cannot be installed here; the fake is itself tested with libmongoc
# in tests/unit/test_mongo_fake.c), started once for the suite on a free
# loopback port, plus a second one that requires a SCRAM-SHA-256 login:
# InsertOne (insertedId), Find (filter, projection, sort, skip, limit; rows;
# store to an Ion file), Update (UPDATE_ONE, UPDATE_MANY, REPLACE_ONE),
# Delete (DELETE_ONE, DELETE_MANY), Aggregate ($match $group $sort), Bulk
# (a JSON-lines file), Load (an Ion file, idKey), Extended JSON ($oid, $date);
# failures: a refused port, a wrong password (never printed), a server that
# never answers (timeout), a bad filter, a bad Bulk line (with its line).
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && tail -15 "$work/err" | sed 's/^/    /'
}

start_fake() { # $1 name, rest: args; sets the port in $PORT_<name>
    local n=$1
    shift
    python3 "$ROOT/tests/lib/mongod_fake.py" --port-file "$work/$n.port" "$@" 2>"$work/$n.log" &
    pids+=($!)
    for _ in $(seq 1 200); do
        [ -s "$work/$n.port" ] && { read -r "PORT_$n" <"$work/$n.port"; return 0; }
        sleep 0.05
    done
    return 1
}
start_fake plain || { echo "FAIL start: the fake did not start"; exit 1; }
start_fake auth --user kite --password 'pa55 w0rd!' || { echo "FAIL start: the auth fake did not start"; exit 1; }
URI="mongodb://127.0.0.1:$PORT_plain/?serverSelectionTimeoutMS=3000"

run() { # $1 name, $2 flow file
    rm -rf "$work/data"
    timeout 60 "$KITE" run "$2" --data "$work/data" --json >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}
# the outputs of task $1 in the --json answer
out() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([t["outputs"] for t in d["taskRunList"] if t["taskId"] == sys.argv[2]][-1], sort_keys=True))' "$work/out" "$1" 2>/dev/null; }

conn() { printf '    connection:\n      uri: "%s"\n    database: shop\n    collection: %s\n' "${2:-$URI}" "$1"; }

# ---- insert, find, update, delete ------------------------------------------------
cat >"$work/crud.yaml" <<EOF
id: crud
namespace: e2e.mongo
tasks:
  - id: ins1
    type: io.kestra.plugin.mongodb.InsertOne
$(conn people)
    document:
      _id: { \$oid: 60930c39a982931c20ef6cd6 }
      name: "Zoë \"Z\" O'Neil"
      city: Paris
      age: 36
      since: { \$date: "2024-01-02T03:04:05.000Z" }
  - id: ins2
    type: io.kestra.plugin.mongodb.InsertOne
$(conn people)
    document: '{"name": "bob", "city": "Rome", "age": 25}'
  - id: ins3
    type: io.kestra.plugin.mongodb.InsertOne
$(conn people)
    document: { name: cyd, city: Paris, age: 41 }
  - id: find
    type: io.kestra.plugin.mongodb.Find
$(conn people)
    filter: { city: Paris, age: { \$gte: 30 } }
    projection: { _id: 0, name: 1, age: 1 }
    sort: { age: -1 }
  - id: page
    type: io.kestra.plugin.mongodb.Find
$(conn people)
    sort: { age: 1 }
    skip: 1
    limit: 1
    projection: { name: 1, _id: 0 }
  - id: byid
    type: io.kestra.plugin.mongodb.Find
$(conn people)
    filter: '{"_id": {"\$oid": "60930c39a982931c20ef6cd6"}}'
  - id: upd_many
    type: io.kestra.plugin.mongodb.Update
$(conn people)
    operation: UPDATE_MANY
    filter: { city: Paris }
    document: { \$set: { country: FR } }
  - id: upd_one
    type: io.kestra.plugin.mongodb.Update
$(conn people)
    filter: { name: bob }
    document: '{"\$inc": {"age": 1}}'
  - id: replace
    type: io.kestra.plugin.mongodb.Update
$(conn people)
    operation: REPLACE_ONE
    filter: { name: cyd }
    document: { name: cyd, city: Lyon }
  - id: del_one
    type: io.kestra.plugin.mongodb.Delete
$(conn people)
    filter: { city: { \$in: [Lyon, Rome] } }
  - id: left
    type: io.kestra.plugin.mongodb.Find
$(conn people)
    projection: { _id: 0, name: 1 }
    sort: { name: 1 }
  - id: del_many
    type: io.kestra.plugin.mongodb.Delete
$(conn people)
    operation: DELETE_MANY
  - id: none
    type: io.kestra.plugin.mongodb.Find
$(conn people)
EOF
run crud "$work/crud.yaml"
if [ "$state" != SUCCESS ]; then
    ko crud "ended ${state:-?}"
else
    [ "$(out ins1)" = '{"insertedId": "60930c39a982931c20ef6cd6", "wasAcknowledged": true}' ] &&
        ok insert_one_oid || ko insert_one_oid "$(out ins1)"
    [[ "$(out ins2)" =~ \"insertedId\":\ \"[0-9a-f]{24}\" ]] && ok insert_one_generated_id || ko insert_one_generated_id "$(out ins2)"
    [ "$(out find)" = '{"rows": [{"age": 41, "name": "cyd"}, {"age": 36, "name": "Zo\u00eb \"Z\" O'"'"'Neil"}], "size": 2}' ] &&
        ok find_filter_projection_sort || ko find_filter_projection_sort "$(out find)"
    [ "$(out page)" = '{"rows": [{"name": "Zo\u00eb \"Z\" O'"'"'Neil"}], "size": 1}' ] && ok find_skip_limit || ko find_skip_limit "$(out page)"
    [ "$(out byid)" = '{"rows": [{"_id": "60930c39a982931c20ef6cd6", "age": 36, "city": "Paris", "name": "Zo\u00eb \"Z\" O'"'"'Neil", "since": "2024-01-02T03:04:05.000Z"}], "size": 1}' ] &&
        ok find_extended_json_in_and_out || ko find_extended_json_in_and_out "$(out byid)"
    [ "$(out upd_many)" = '{"matchedCount": 2, "modifiedCount": 2, "wasAcknowledged": true}' ] && ok update_many || ko update_many "$(out upd_many)"
    [ "$(out upd_one)" = '{"matchedCount": 1, "modifiedCount": 1, "wasAcknowledged": true}' ] && ok update_one || ko update_one "$(out upd_one)"
    [ "$(out replace)" = '{"matchedCount": 1, "modifiedCount": 1, "wasAcknowledged": true}' ] && ok replace_one || ko replace_one "$(out replace)"
    [ "$(out del_one)" = '{"deletedCount": 1, "wasAcknowledged": true}' ] && ok delete_one || ko delete_one "$(out del_one)"
    [ "$(out left)" = '{"rows": [{"name": "Zo\u00eb \"Z\" O'"'"'Neil"}, {"name": "cyd"}], "size": 2}' ] && ok delete_one_left || ko delete_one_left "$(out left)"
    [ "$(out del_many)" = '{"deletedCount": 2, "wasAcknowledged": true}' ] && ok delete_many || ko delete_many "$(out del_many)"
    [ "$(out none)" = '{"rows": [], "size": 0}' ] && ok find_empty || ko find_empty "$(out none)"
fi

# ---- bulk, aggregate, store, load -----------------------------------------------
cat >"$work/bulk.yaml" <<EOF
id: bulk
namespace: e2e.mongo
tasks:
  - id: actions
    type: io.kestra.plugin.core.storage.Write
    extension: .jsonl
    content: |
      { "insertOne" : {"firstName": "John", "city": "Paris", "n": 1}}
      { "insertOne" : {"firstName": "Ravi", "city": "Mumbai", "n": 2}}
      { "insertOne" : {"firstName": "Ana", "city": "Paris", "n": 3}}
      { "insertOne" : {"firstName": "Old", "city": "Bengaluru", "n": 4}}
      { "deleteMany": {"filter": {"city": "Bengaluru"}}}
      { "updateOne": {"filter": {"firstName": "Ravi"}, "update": {"\$set": {"n": 20}}}}
  - id: bulk
    type: io.kestra.plugin.mongodb.Bulk
$(conn users)
    from: "{{ outputs.actions.uri }}"
    chunk: 2
  - id: agg
    type: io.kestra.plugin.mongodb.Aggregate
$(conn users)
    pipeline:
      - { \$match: { n: { \$gt: 0 } } }
      - { \$group: { _id: "\$city", total: { \$sum: "\$n" }, count: { \$sum: 1 } } }
      - { \$sort: { total: -1 } }
  - id: stored
    type: io.kestra.plugin.mongodb.Find
$(conn users)
    sort: { n: 1 }
    projection: { _id: 0 }
    store: true
  - id: load
    type: io.kestra.plugin.mongodb.Load
$(conn copies)
    from: "{{ outputs.stored.uri }}"
    idKey: firstName
  - id: copies
    type: io.kestra.plugin.mongodb.Find
$(conn copies)
    sort: { n: 1 }
EOF
run bulk "$work/bulk.yaml"
if [ "$state" != SUCCESS ]; then
    ko bulk "ended ${state:-?}"
else
    [ "$(out bulk)" = '{"deletedCount": 1, "insertedCount": 4, "matchedCount": 1, "modifiedCount": 1, "size": 6}' ] &&
        ok bulk_file || ko bulk_file "$(out bulk)"
    [ "$(out agg)" = '{"rows": [{"_id": "Mumbai", "count": 1, "total": 20}, {"_id": "Paris", "count": 2, "total": 4}], "size": 2}' ] &&
        ok aggregate_group || ko aggregate_group "$(out agg)"
    uri=$(out stored | python3 -c 'import json,sys; print(json.load(sys.stdin)["uri"])' 2>/dev/null)
    f=$(find "$work/data" -name 'rows.ion' | head -1)
    if [[ "$uri" == kestra:///* ]] && [ -n "$f" ] && [ "$(head -1 "$f")" = '{firstName:"John",city:"Paris",n:1}' ] &&
        [ "$(wc -l <"$f")" -eq 3 ]; then
        ok find_store_ion
    else
        ko find_store_ion "uri=$uri $(head -3 "$f" 2>/dev/null)"
    fi
    [ "$(out load)" = '{"deletedCount": 0, "insertedCount": 3, "matchedCount": 0, "modifiedCount": 0, "size": 3}' ] &&
        ok load_ion || ko load_ion "$(out load)"
    [ "$(out copies)" = '{"rows": [{"_id": "John", "city": "Paris", "n": 1}, {"_id": "Ana", "city": "Paris", "n": 3}, {"_id": "Ravi", "city": "Mumbai", "n": 20}], "size": 3}' ] &&
        ok load_id_key || ko load_id_key "$(out copies)"
fi

# ---- authentication ---------------------------------------------------------------
AUTH_OK="mongodb://kite:pa55%20w0rd%21@127.0.0.1:$PORT_auth/?authSource=admin&serverSelectionTimeoutMS=3000"
AUTH_BAD="mongodb://kite:Wr0ngPa55@127.0.0.1:$PORT_auth/?authSource=admin&serverSelectionTimeoutMS=3000"
cat >"$work/auth.yaml" <<EOF
id: auth
namespace: e2e.mongo
tasks:
  - id: ins
    type: io.kestra.plugin.mongodb.InsertOne
$(conn secured "$AUTH_OK")
    document: { a: 1 }
  - id: find
    type: io.kestra.plugin.mongodb.Find
$(conn secured "$AUTH_OK")
    projection: { _id: 0 }
EOF
run auth "$work/auth.yaml"
[ "$state" = SUCCESS ] && [ "$(out find)" = '{"rows": [{"a": 1}], "size": 1}' ] && ok scram_sha_256_login || ko scram_sha_256_login "${state:-?} $(out find)"

fail_case() { # $1 name, $2 uri, $3 expected text in the error, $4 extra yaml
    cat >"$work/f.yaml" <<EOF
id: f
namespace: e2e.mongo
tasks:
  - id: q
    type: io.kestra.plugin.mongodb.Find
$(conn things "$2")
${4:-}
EOF
    run "$1" "$work/f.yaml"
    if [ "$state" = FAILED ] && grep -q -- "$3" "$work/err"; then ok "$1"; else ko "$1" "state ${state:-?}, no '$3'"; fi
}
fail_case bad_password "$AUTH_BAD" "MongoDB mongodb://kite:\*\*\*\*@127.0.0.1:$PORT_auth/.* shop.things: .*Authentication failed"
if grep -q Wr0ngPa55 "$work/err" "$work/out"; then ko password_masked "the password is in the output"; else ok password_masked; fi
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
fail_case refused "mongodb://u:Secret99@127.0.0.1:$dead/?serverSelectionTimeoutMS=2000" "MongoDB mongodb://u:\*\*\*\*@127.0.0.1:$dead/.*shop.things: .*[Cc]onnection refused"
grep -q Secret99 "$work/err" "$work/out" && ko refused_masked "password printed" || ok refused_masked
# a server that accepts and never answers: the task's timeout ends it
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$work/mute.port" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/mute.port" ] && break; sleep 0.05; done
mute=$(cat "$work/mute.port")
start=$(date +%s)
fail_case timeout "mongodb://127.0.0.1:$mute/" "MongoDB mongodb://127.0.0.1:$mute/ shop.things: " "    timeout: PT2S"
[ $(( $(date +%s) - start )) -lt 20 ] && ok timeout_in_time || ko timeout_in_time "took $(( $(date +%s) - start )) s"
fail_case bad_filter "$URI" "property 'filter': invalid (Extended) JSON" "    filter: '{\"a\": '"
fail_case bad_operator "$URI" "unknown operator: \$near" "    filter: { a: { \$near: 1 } }"

cat >"$work/badbulk.yaml" <<EOF
id: badbulk
namespace: e2e.mongo
tasks:
  - id: actions
    type: io.kestra.plugin.core.storage.Write
    content: |
      { "insertOne" : {"a": 1}}
      { "frobnicate" : {"a": 1}}
  - id: bulk
    type: io.kestra.plugin.mongodb.Bulk
$(conn users)
    from: "{{ outputs.actions.uri }}"
EOF
run badbulk "$work/badbulk.yaml"
[ "$state" = FAILED ] && grep -q "line 2: 'frobnicate' is not insertOne" "$work/err" && ok bulk_bad_line || ko bulk_bad_line "${state:-?}"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
