#!/bin/bash
# Internal storage on the s3 backend (docs/storage.md): `kite server local`
# with `storage: s3://kite-files/prod` in kite.yml, against
# tests/lib/s3_fake.py (every request's SigV4 signature recomputed with
# botocore). A flow's FILE input, its script's output files and a namespace
# file uploaded through the API all land as objects under the prefix, none
# in the data folder; the API serves them back; a multipart-sized output
# round-trips whole; deleting the execution deletes its objects. Then the
# start-up errors: a wrong secret key (never printed), a missing bucket, and
# kite.yml mistakes named with the file.
set -u
. "$(dirname "$0")/server_lib.bash"
ROOT=${ROOT:-$PWD}
SPID=
stop_s3() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }; }
trap 'stop_s3; cleanup' EXIT
AK=AKIDKITESTORE
SK='kite/store+Secret3'
rm -f "$work/sport"
python3 "$ROOT/tests/lib/s3_fake.py" --root "$work/s3root" --port-file "$work/sport" --access-key "$AK" \
    --secret-key "$SK" 2>>"$work/s3.err" &
SPID=$!
for _ in $(seq 1 600); do [ -s "$work/sport" ] && break; sleep 0.05; done
[ -s "$work/sport" ] || { echo "FAIL s3 fake start"; cat "$work/s3.err"; exit 1; }
EP=http://127.0.0.1:$(cat "$work/sport")
mkdir -p "$work/s3root/b/kite-files"      # the bucket (the fake keeps buckets as folders)
printf '%s\n' "$SK" >"$work/s3.key"
chmod 600 "$work/s3.key"
export KITE_S3_PART_SIZE=$((5 * 1024 * 1024))
cat >"$work/kite.yml" <<YAML
data: $work/data
storage:
  url: s3://kite-files/prod
  endpoint: $EP
  region: eu-west-3
  accessKeyId: $AK
  secretKeyIdFile: $work/s3.key
  forcePathStyle: true
YAML
# objects KEY-PREFIX: the keys the fake holds under it, one a line
objects() {
    python3 - "$work/s3root/b/kite-files" "$1" <<'PY'
import os, sys, urllib.parse
for n in sorted(os.listdir(sys.argv[1])):
    if n.endswith(".data"):
        k = urllib.parse.unquote(n[:-5])
        if k.startswith(sys.argv[2]):
            print(k)
PY
}

start_server "$work/server.err" --config "$work/kite.yml" || { echo "FAIL server start"; cat "$work/server.err"; exit 1; }

cat >"$work/flow.yml" <<'YAML'
id: files
namespace: e2e.s3store
inputs:
  - id: doc
    type: FILE
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      in.txt: "{{ inputs.doc }}"
    outputFiles:
      - "*.out"
    commands:
      - tr a-z A-Z < in.txt > up.out
      - head -c 12000000 /dev/zero | tr '\0' 'k' > big.out
      - head -c 9437185 /dev/urandom > rnd.out
  - id: readback
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.make.outputFiles['up.out']) }}|{{ read('conf/settings.txt') }}"
YAML
printf 'hello from s3\n' >"$work/doc.txt"
req PUT "/namespaces/e2e.s3store/files?path=/conf/settings.txt" --data-binary 'threshold=7'
ok "a namespace file written through the API: 204" code_is 204
ok "it is an object under the prefix, nothing in the data folder" eval \
    '[ "$(objects prod/e2e/s3store/_files/)" = "prod/e2e/s3store/_files/conf/settings.txt" ] &&
     [ -z "$(find "$work/data/storage" -type f 2>/dev/null)" ]'
req GET "/namespaces/e2e.s3store/files?path=/conf/settings.txt"
ok "and read back through the API" eval 'code_is 200 && [ "$(cat "$work/body")" = "threshold=7" ]'

req PUT "/namespaces/e2e.s3store/files?path=/conf/extra/old.txt" --data-binary 'old'
req GET "/namespaces/e2e.s3store/files/directory?path=/conf"
ok "a namespace folder is listed from the bucket's keys" \
    jt "sorted((x['fileName'], x['type']) for x in d) == [('extra', 'Directory'), ('settings.txt', 'File')]"
req DELETE "/namespaces/e2e.s3store/files?path=/conf/extra"
ok "deleting a namespace folder deletes its objects" eval \
    'code_is 204 && [ "$(objects prod/e2e/s3store/_files/)" = "prod/e2e/s3store/_files/conf/settings.txt" ]'

req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/flow.yml"
ok "flow created" code_is 200
req POST "/executions/e2e.s3store/files?wait=true" -F doc=@"$work/doc.txt"
ID=$(j "d['id']" 2>/dev/null)
wait_state "$ID" SUCCESS 120
ok "the flow runs on s3 storage: SUCCESS" eval '[ "$(j "d[\"state\"][\"current\"]")" = SUCCESS ]'
ok "a task reads its input, an output and a namespace file from s3" \
    jt "d['taskRunList'][-1]['outputs']['value'] == 'HELLO FROM S3\n|threshold=7'"
UP=$(j "[t for t in d['taskRunList'] if t['taskId']=='make'][0]['outputs']['outputFiles']['up.out']")
BIG=$(j "[t for t in d['taskRunList'] if t['taskId']=='make'][0]['outputs']['outputFiles']['big.out']")
RND=$(j "[t for t in d['taskRunList'] if t['taskId']=='make'][0]['outputs']['outputFiles']['rnd.out']")
ok "the execution's files are objects under prod/, none in the data folder" eval \
    '[ "$(objects "prod/e2e/s3store/files/executions/$ID/" | wc -l)" = 4 ] &&
     [ -z "$(find "$work/data/storage" -type f 2>/dev/null)" ]'
req GET "/executions/$ID/file" --get --data-urlencode "path=$UP"
ok "the API serves an output file from s3" eval 'code_is 200 && [ "$(cat "$work/body")" = "HELLO FROM S3" ]'
req GET "/executions/$ID/file" --get --data-urlencode "path=$BIG"
ok "a 12 MB output (a multipart upload of 5 MiB parts) comes back whole" eval \
    'code_is 200 && [ "$(stat -c %s "$work/body")" = 12000000 ] && [ "$(tr -d k <"$work/body" | wc -c)" = 0 ]'
ranges() { curl -s "$EP/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("GetObjectRange", 0))'; }
R0=$(ranges)
req GET "/executions/$ID/file" --get --data-urlencode "path=$RND"
R1=$(ranges)
rkey=$(objects "prod/e2e/s3store/files/executions/$ID/" | grep rnd.out)
robj=$work/s3root/b/kite-files/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$rkey").data
ok "a 9 MiB random output streams from s3 in 3 ranged GETs of 4 MiB, byte for byte" eval \
    'code_is 200 && [ "$((R1 - R0))" = 3 ] && cmp -s "$work/body" "$robj"'
# a client that goes away after 1 MB: the server closes the reader (ASan: no leak) and serves on
curl -s -H "Authorization: Bearer $TOKEN" --get --data-urlencode "path=$RND" "$BASE/executions/$ID/file" |
    head -c 1000000 >/dev/null
req GET "/executions/$ID/file" --get --data-urlencode "path=$RND"
ok "after a client left mid-way, the next download is whole" eval 'code_is 200 && cmp -s "$work/body" "$robj"'
curl -s "$EP/_fake/stats" >"$work/body"
ok "the fake saw multipart uploads, and no bad signature" \
    jt "d.get('UploadPart', 0) >= 3 and d['sigfail'] == 0"
req DELETE "/executions/$ID"
ok "deleting the execution deletes its objects; the namespace file stays" eval \
    'code_is 204 && [ -z "$(objects "prod/e2e/s3store/files/")" ] && [ -n "$(objects prod/e2e/s3store/_files/)" ]'
stop_server TERM
ok "the server stops cleanly" eval '[ "$STOP_RC" = 0 ]'
ok "no sanitizer report from the server (KITE=build-address/kite: the streamed downloads)" \
    no_sanitizer_reports "$work/server.err"

# start-up errors
sed "s#secretKeyIdFile: .*#secretKeyId: not-the-key#" "$work/kite.yml" >"$work/bad.yml"
"$KITE" server local --port "$(free_port)" --config "$work/bad.yml" >"$work/out" 2>&1 &
P=$!
for _ in $(seq 1 300); do kill -0 $P 2>/dev/null || break; sleep 0.1; done
kill $P 2>/dev/null; wait $P
ok "a wrong secret key stops the start with S3's answer, naming the endpoint, and is not printed" eval \
    'grep -q "storage s3://kite-files/prod/ (endpoint $EP): the bucket does not answer: s3: ListObjectsV2 kite-files: HTTP 403 SignatureDoesNotMatch" "$work/out" &&
     ! grep -q not-the-key "$work/out"'
# start_refused CONFIG: `kite server` with CONFIG must exit non-zero at once (never serving),
# its message in $work/out
start_refused() {
    local port; port=$(free_port)
    timeout 60 "$KITE" server local --port "$port" --config "$1" >"$work/out" 2>&1
    SRC=$?
    [ "$SRC" != 0 ] && [ "$SRC" != 124 ] && ! curl -s -o /dev/null "http://127.0.0.1:$port/health"
}
sed "s#s3://kite-files/prod#s3://nobucket/prod#" "$work/kite.yml" >"$work/bad.yml"
ok "kite server with a missing bucket refuses to start: endpoint, bucket, NoSuchBucket" eval \
    'start_refused "$work/bad.yml" &&
     grep -q "kite server: storage s3://nobucket/prod/ (endpoint $EP): the bucket does not answer: s3: ListObjectsV2 nobucket: HTTP 404 NoSuchBucket" "$work/out"'
sed "s#accessKeyId: .*#accessKeyId: AKIDNOSUCHKEY#" "$work/kite.yml" >"$work/bad.yml"
ok "kite server with an unknown access key refuses to start: InvalidAccessKeyId, the secret not printed" eval \
    'start_refused "$work/bad.yml" && grep -q "(endpoint $EP): the bucket does not answer: .*HTTP 403 InvalidAccessKeyId" "$work/out" &&
     ! grep -qF "$SK" "$work/out"'
DEAD=http://127.0.0.1:$(free_port)
sed "s#endpoint: .*#endpoint: $DEAD#" "$work/kite.yml" >"$work/bad.yml"
ok "kite server with nothing at the endpoint refuses to start: connection refused, named" eval \
    'start_refused "$work/bad.yml" && grep -q "storage s3://kite-files/prod/ (endpoint $DEAD): the bucket does not answer: .*Connection refused" "$work/out"'
sed "s#s3://kite-files/prod#s3://nobucket/prod#" "$work/kite.yml" >"$work/bad.yml"
"$KITE" run --config "$work/bad.yml" "$work/flow.yml" >"$work/out" 2>&1
ok "a missing bucket: NoSuchBucket" grep -q "NoSuchBucket" "$work/out"
cat >"$work/bare.yml" <<YAML
data: $work/d3
storage: s3://kite-files/bare
YAML
printf 'id: w\nnamespace: e2e.bare\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: hi\n' >"$work/w.yml"
AWS_ENDPOINT_URL=$EP AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK "$KITE" run --config "$work/bare.yml" "$work/w.yml" >"$work/out" 2>&1
ok "storage: s3://bucket/prefix alone takes its settings from AWS_* variables" eval \
    '[ "$(objects bare/e2e/bare/w/executions/ | wc -l)" = 1 ] || { cat "$work/out"; false; }'
# the secret key from kite's own secrets store (kite secret set)
printf '%s' "$SK" | "$KITE" secret set system S3_STORAGE_KEY --data "$work/d4" 2>"$work/out" || cat "$work/out"
cat >"$work/sec.yml" <<YAML
data: $work/d4
storage:
  url: s3://kite-files/fromsecret
  endpoint: $EP
  accessKeyId: $AK
  secretKeyIdSecret: system/S3_STORAGE_KEY
YAML
"$KITE" run --config "$work/sec.yml" "$work/w.yml" >"$work/out" 2>&1
ok "storage.secretKeyIdSecret: the key from kite's secrets store" eval \
    '[ "$(objects fromsecret/e2e/bare/w/executions/ | wc -l)" = 1 ] || { cat "$work/out"; false; }'
sed -i 's#system/S3_STORAGE_KEY#system/NOPE#' "$work/sec.yml"
"$KITE" run --config "$work/sec.yml" "$work/w.yml" >"$work/out" 2>&1
ok "a missing secret is named" eval 'grep -q "storage.secretKeyIdSecret system/NOPE" "$work/out" || { cat "$work/out"; false; }'
printf 'data: %s\nstorage:\n  url: local:%s/st\n  region: eu-west-1\n' "$work/d2" "$work" >"$work/bad.yml"
"$KITE" run --config "$work/bad.yml" "$work/flow.yml" >"$work/out" 2>&1
ok "an s3 setting with a local URL is refused, naming the file" \
    grep -q "bad.yml: 'storage.region' is a setting of the s3 backend, and 'storage.url' is not an s3:// URL" "$work/out"
printf 'storage:\n  url: s3://b\n  forcePathStile: true\n' >"$work/bad.yml"
"$KITE" run --config "$work/bad.yml" "$work/flow.yml" >"$work/out" 2>&1
ok "a misspelt key: its position and a suggestion" grep -q "bad.yml:3:3: unknown key 'forcePathStile' (did you mean 'forcePathStyle'?)" "$work/out"
