#!/bin/bash
# The S3 tasks (io.kestra.plugin.aws.s3.*) through `kite run` against
# tests/lib/s3_fake.py, an S3-compatible server on loopback that recomputes
# every request's SigV4 signature with botocore (its --selftest first checks
# it accepts botocore's own signing and refuses a wrong key and a tampered
# body). CreateBucket, Upload (single and multipart, streamed in bounded
# parts), Download, List (prefix, regexp, filter, maxFiles), Copy (and a
# move), Delete, DeleteList, Downloads with MOVE and DELETE; session tokens;
# retries on 503 SlowDown; a wrong secret key and a missing object as clear
# task errors; the secret key from secret() never in the logs.
set -u
. "$(dirname "$0")/server_lib.bash"
ROOT=${ROOT:-$PWD}
SPID=
stop_s3() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }; }
trap 'stop_s3; cleanup' EXIT
start_s3() { # start_s3 ARGS...: sets SPORT, SPID
    rm -f "$work/sport"
    python3 "$ROOT/tests/lib/s3_fake.py" --root "$work/s3root" --port-file "$work/sport" "$@" 2>>"$work/s3.err" &
    SPID=$!
    for _ in $(seq 1 100); do [ -s "$work/sport" ] && SPORT=$(cat "$work/sport") && return 0; sleep 0.05; done
    return 1
}

ok "s3 fake: accepts botocore's SigV4, refuses a wrong key and a tampered body" \
    python3 "$ROOT/tests/lib/s3_fake.py" --selftest --root "$work/selftest"
AK=AKIDKITETEST
SK='kite/test+Secret9'
start_s3 --access-key "$AK" --secret-key "$SK" || { echo "FAIL s3 fake start"; cat "$work/s3.err"; exit 1; }
EP=http://127.0.0.1:$SPORT
export SECRET_S3_SECRET=$(printf '%s' "$SK" | base64)
export KITE_S3_PART_SIZE=$((5 * 1024 * 1024))   # 5 MiB parts: a 12 MiB file is 3 parts
head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$work/big.bin"
printf 'hello s3\n' >"$work/small.txt"
mkdir -p "$work/flows"

cat >"$work/flows/s3.yaml" <<YAML
id: s3
namespace: e2e.s3
inputs:
  - id: big
    type: FILE
  - id: small
    type: FILE
pluginDefaults:
  - type: io.kestra.plugin.aws.s3
    values:
      endpointOverride: $EP
      region: eu-west-3
      accessKeyId: $AK
      secretKeyId: "{{ secret('S3_SECRET') }}"
tasks:
  - id: mk
    type: io.kestra.plugin.aws.s3.CreateBucket
    bucket: backups
  - id: mk_again
    type: io.kestra.plugin.aws.s3.CreateBucket
    bucket: backups
  - id: up_small
    type: io.kestra.plugin.aws.s3.Upload
    bucket: backups
    key: "in/small file.txt"
    from: "{{ inputs.small }}"
    contentType: text/plain
    metadata:
      owner: ops
  - id: up_big
    type: io.kestra.plugin.aws.s3.Upload
    bucket: backups
    key: in/big.bin
    from: "{{ inputs.big }}"
  - id: up_many
    type: io.kestra.plugin.aws.s3.Upload
    bucket: backups
    key: many
    from:
      a.txt: "{{ inputs.small }}"
      b.txt: "{{ inputs.small }}"
  - id: ls
    type: io.kestra.plugin.aws.s3.List
    bucket: backups
    prefix: in/
  - id: ls_re
    type: io.kestra.plugin.aws.s3.List
    bucket: backups
    regexp: "many/.*\\\\.txt"
    maxFiles: 1
  - id: dl_big
    type: io.kestra.plugin.aws.s3.Download
    bucket: backups
    key: in/big.bin
  - id: dl_small
    type: io.kestra.plugin.aws.s3.Download
    bucket: backups
    key: "in/small file.txt"
  - id: cp
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: backups
      key: "in/small file.txt"
    to:
      key: copies/small.txt
  - id: mv
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: backups
      key: copies/small.txt
    to:
      key: moved/small.txt
    delete: true
  - id: rm
    type: io.kestra.plugin.aws.s3.Delete
    bucket: backups
    key: moved/small.txt
  - id: dls
    type: io.kestra.plugin.aws.s3.Downloads
    bucket: backups
    prefix: many/
    action: MOVE
    moveTo:
      key: done/
  - id: after_move
    type: io.kestra.plugin.aws.s3.List
    bucket: backups
  - id: dls_del
    type: io.kestra.plugin.aws.s3.Downloads
    bucket: backups
    prefix: done/
    action: DELETE
  - id: rml
    type: io.kestra.plugin.aws.s3.DeleteList
    bucket: backups
    prefix: in/
  - id: empty
    type: io.kestra.plugin.aws.s3.List
    bucket: backups
YAML
"$KITE" run "$work/flows/s3.yaml" --data "$work/data" --file big="$work/big.bin" --file small="$work/small.txt" \
    --json >"$work/run.json" 2>"$work/run.err"
RC=$?
ok "the flow ran to SUCCESS (exit $RC)" bash -c "[ $RC -eq 0 ]" || { tail -20 "$work/run.err"; }
out() { python3 -c "
import json,sys; d=json.load(open('$work/run.json')); o={t['taskId']:t.get('outputs',{}) for t in d['taskRunList']}
$1" 2>&1; }
ok "CreateBucket: outputs bucket and region; a second create of ours is fine" \
    out "assert o['mk']=={'bucket':'backups','region':'eu-west-3'} and o['mk_again']['bucket']=='backups', o['mk']"
ok "Upload: bucket, key, eTag (S3's MD5), versionId" \
    out "import hashlib; assert o['up_small']['eTag']=='\"%s\"' % hashlib.md5(open('$work/small.txt','rb').read()).hexdigest() and o['up_small']['key']=='in/small file.txt' and 'versionId' in o['up_small'], o['up_small']"
ok "Upload of 12 MiB: multipart, 3 parts (ETag -3)" out "assert o['up_big']['eTag'].endswith('-3\"'), o['up_big']"
ok "Upload of a map: one object per entry under the key" \
    out "assert sorted(o['up_many']['files'])==['many/a.txt','many/b.txt'], o['up_many']"
ok "List: the prefix's objects with key, etag, size, lastModified, uri" \
    out "ob=o['ls']['objects']; assert [x['key'] for x in ob]==['in/big.bin','in/small file.txt'] and ob[0]['size']==12*1024*1024+12345 and ob[1]['uri']=='s3://backups/in/small file.txt' and ob[0]['lastModified'], ob"
ok "List: regexp on the whole key, maxFiles" out "assert [x['key'] for x in o['ls_re']['objects']]==['many/a.txt'], o['ls_re']"
ok "Download: the 12 MiB object, byte for byte" \
    bash -c "f=\$(find '$work/data/storage' -name big.bin | head -1); cmp \"\$f\" '$work/big.bin'"
ok "Download: contentLength, contentType, metadata" \
    out "x=o['dl_small']; assert x['contentLength']==9 and x['contentType']=='text/plain' and x['metadata']=={'owner':'ops'} and x['uri'].startswith('kestra:///'), x"
ok "Copy: the destination's bucket and key" out "assert o['cp']['bucket']=='backups' and o['cp']['key']=='copies/small.txt' and o['cp']['eTag'], o['cp']"
ok "Downloads: objects and outputFiles" \
    out "x=o['dls']; assert sorted(x['outputFiles'])==['many/a.txt','many/b.txt'] and len(x['objects'])==2 and x['objects'][0]['uri'].startswith('kestra:///'), x"
ok "Downloads MOVE, Copy with delete, Delete: what is left" \
    out "assert [x['key'] for x in o['after_move']['objects']]==['done/a.txt','done/b.txt','in/big.bin','in/small file.txt'], o['after_move']"
ok "DeleteList: count and size; Downloads DELETE; the bucket is empty" \
    out "assert o['rml']['count']==2 and o['rml']['size']==12*1024*1024+12345+9 and o['empty']['objects']==[], (o['rml'], o['empty'])"
curl -s "$EP/_fake/stats" >"$work/stats.json"
ok "every request was signed right (no signature failure at the fake)" \
    python3 -c "import json; s=json.load(open('$work/stats.json')); assert s['sigfail']==0 and s['UploadPart']==3 and s['CompleteMultipartUpload']==1, s"
ok "bounded memory: no request body larger than one part" \
    python3 -c "import json; s=json.load(open('$work/stats.json')); assert 0 < s['max_read'] <= 5*1024*1024, s"
ok "the secret key never reaches the logs or outputs" bash -c "! grep -q 'kite/test+Secret9' '$work/run.err' '$work/run.json'"

# retries: three 503 SlowDown answers, then success
curl -s -X POST "$EP/_fake/fail?status=503&count=3" >/dev/null
cat >"$work/flows/retry.yaml" <<YAML
id: retry
namespace: e2e.s3
tasks:
  - id: ls
    type: io.kestra.plugin.aws.s3.List
    bucket: backups
    endpointOverride: $EP
    accessKeyId: $AK
    secretKeyId: "{{ secret('S3_SECRET') }}"
YAML
"$KITE" run "$work/flows/retry.yaml" --data "$work/data" >/dev/null 2>"$work/retry.err"
ok "503 SlowDown three times: retried, then SUCCESS" bash -c "[ $? -eq 0 ]"
curl -s "$EP/_fake/stats" >"$work/stats.json"
ok "the fake saw the three injected failures" python3 -c "import json; assert json.load(open('$work/stats.json'))['injected']==3"
curl -s -X POST "$EP/_fake/fail?status=500&count=20" >/dev/null
"$KITE" run "$work/flows/retry.yaml" --data "$work/data" >/dev/null 2>"$work/retry2.err"
ok "a server that keeps failing: a task error naming the status, after retries" \
    grep -q "s3: ListObjectsV2 backups: HTTP 500 InternalError: injected by the test (after retries)" "$work/retry2.err"
curl -s -X POST "$EP/_fake/fail?status=500&count=0" >/dev/null

# errors: a wrong secret, a missing object, no credentials
sed "s/secretKeyId: .*/secretKeyId: wrong-secret/" "$work/flows/retry.yaml" >"$work/flows/wrong.yaml"
"$KITE" run "$work/flows/wrong.yaml" --data "$work/data" >/dev/null 2>"$work/wrong.err"
ok "a wrong secret key: SignatureDoesNotMatch as the task error" grep -q "HTTP 403 SignatureDoesNotMatch" "$work/wrong.err"
cat >"$work/flows/missing.yaml" <<YAML
id: missing
namespace: e2e.s3
tasks:
  - id: dl
    type: io.kestra.plugin.aws.s3.Download
    bucket: backups
    key: no/such.key
    endpointOverride: $EP
    accessKeyId: $AK
    secretKeyId: "{{ secret('S3_SECRET') }}"
YAML
"$KITE" run "$work/flows/missing.yaml" --data "$work/data" >/dev/null 2>"$work/missing.err"
ok "a missing key: NoSuchKey named with bucket and key" grep -q "s3: GetObject backups/no/such.key: HTTP 404 NoSuchKey" "$work/missing.err"
sed '/accessKeyId\|secretKeyId/d' "$work/flows/missing.yaml" >"$work/flows/nocred.yaml"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$KITE" run "$work/flows/nocred.yaml" --data "$work/data" >/dev/null 2>"$work/nocred.err"
ok "no credentials: a clear error" grep -q "s3: no credentials" "$work/nocred.err"
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK "$KITE" run "$work/flows/nocred.yaml" --data "$work/data" >/dev/null 2>"$work/envcred.err"
ok "credentials from AWS_* variables (then a NoSuchKey, as signed requests)" grep -q "NoSuchKey" "$work/envcred.err"
stop_s3

# session tokens are sent and signed
start_s3 --access-key "$AK" --secret-key "$SK" --session-token 'tok-123/abc' || { echo "FAIL s3 restart"; exit 1; }
EP=http://127.0.0.1:$SPORT
tok_flow() {
cat >"$work/flows/tok.yaml" <<YAML
id: tok
namespace: e2e.s3
tasks:
  - id: mk
    type: io.kestra.plugin.aws.s3.CreateBucket
    bucket: tokbucket
    endpointOverride: $EP
    accessKeyId: $AK
    secretKeyId: "{{ secret('S3_SECRET') }}"
    sessionToken: $1
YAML
}
tok_flow 'tok-123/abc'
"$KITE" run "$work/flows/tok.yaml" --data "$work/data" >/dev/null 2>"$work/tok.err"
ok "sessionToken: sent as x-amz-security-token, signed, accepted" test $? -eq 0
tok_flow 'bad-token'
"$KITE" run "$work/flows/tok.yaml" --data "$work/data" >/dev/null 2>"$work/tok.err"
ok "sessionToken: a wrong one refused (InvalidToken)" grep -q "InvalidToken" "$work/tok.err"
"$KITE" validate "$work/flows/s3.yaml" >/dev/null 2>&1
ok "kite validate accepts the S3 flow" test $? -eq 0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
