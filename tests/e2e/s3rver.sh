#!/bin/bash
# The S3 tasks (io.kestra.plugin.aws.s3.*) through `kite run` against s3rver
# (npm, pinned by tests/s3rver/package.json and package-lock.json, installed
# by scripts/setup.sh), an S3-compatible server on the file system that checks
# the access key of SigV4 requests (not their signature: tests/e2e/s3.sh's
# fake does), started on 127.0.0.1 on a free port with a temporary directory;
# endpointOverride and forcePathStyle. CreateBucket; Upload of a
# 12 MiB file in 3 parts (KITE_S3_PART_SIZE) and of 1,050 small keys; List
# over more than 1,000 keys in pages of maxKeys (continuation tokens), with a
# prefix, a delimiter (common prefixes) and maxFiles; Download; Copy; Delete;
# DeleteList. Results are checked in what s3rver stores (its files) and in
# kite's outputs. Without s3rver installed: SKIP (FAIL under CI=true).
set -u
. "$(dirname "$0")/server_lib.bash"
ROOT=${ROOT:-$PWD}
S3RVER="$ROOT/tests/s3rver/node_modules/.bin/s3rver"
why=
command -v node >/dev/null 2>&1 || why="node is not on PATH"
[ -z "$why" ] && [ ! -x "$S3RVER" ] && why="s3rver is not installed in tests/s3rver/node_modules (run scripts/setup.sh)"
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL s3rver: $why (CI=true: it must be there)"
        exit 1
    fi
    echo "SKIP s3rver: $why"
    exit 0
fi
SPID=
stop_s3() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }; }
trap 'stop_s3; [ -n "${KEEP:-}" ] || cleanup' EXIT   # KEEP=1: leave $work for a look
T0=$(date +%s.%N)
SDIR="$work/s3rver"
mkdir -p "$SDIR"
SPORT=$(free_port)
# s3rver makes continuation tokens with DES, which Node 17+'s OpenSSL 3 has only in its legacy
# provider: without it every ListObjectsV2 that has a next page answers 500 ERR_OSSL_EVP_UNSUPPORTED
NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" "$S3RVER" -d "$SDIR" -a 127.0.0.1 -p "$SPORT" --no-vhost-buckets >"$work/s3rver.log" 2>&1 &
SPID=$!
up=0
for _ in $(seq 1 400); do
    curl -s -o /dev/null "http://127.0.0.1:$SPORT/" && { up=1; break; }
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
done
if [ "$up" -ne 1 ]; then
    echo "FAIL s3rver did not start on 127.0.0.1:$SPORT"
    tail -20 "$work/s3rver.log"
    exit 1
fi
EP=http://127.0.0.1:$SPORT
AK=S3RVER   # s3rver's built-in credentials: it refuses any other signature
export SECRET_S3_SECRET=$(printf 'S3RVER' | base64)
export KITE_S3_PART_SIZE=$((5 * 1024 * 1024))   # 5 MiB parts: a 12 MiB file is 3 parts
head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$work/big.bin"
printf 'hello s3rver\n' >"$work/small.txt"
N=1050
mkdir -p "$work/flows"

cat >"$work/flows/s3rver.yaml" <<YAML
id: s3rver
namespace: e2e.s3rver
inputs:
  - id: big
    type: FILE
  - id: small
    type: FILE
pluginDefaults:
  - type: io.kestra.plugin.aws.s3
    values:
      endpointOverride: $EP
      forcePathStyle: true
      region: us-east-1
      accessKeyId: $AK
      secretKeyId: "{{ secret('S3_SECRET') }}"
tasks:
  - id: mk
    type: io.kestra.plugin.aws.s3.CreateBucket
    bucket: lake
  - id: up_big
    type: io.kestra.plugin.aws.s3.Upload
    bucket: lake
    key: in/big.bin
    from: "{{ inputs.big }}"
    contentType: application/octet-stream
  - id: up_small
    type: io.kestra.plugin.aws.s3.Upload
    bucket: lake
    key: in/small.txt
    from: "{{ inputs.small }}"
    contentType: text/plain
    metadata:
      owner: ops
  - id: up_many
    type: io.kestra.plugin.aws.s3.Upload
    bucket: lake
    key: many
    from:
$(for i in $(seq -w 0 $((N - 1))); do printf '      k%s.txt: "{{ inputs.small }}"\n' "$i"; done)
  - id: up_sub
    type: io.kestra.plugin.aws.s3.Upload
    bucket: lake
    key: many/sub
    from:
      x.txt: "{{ inputs.small }}"
      y.txt: "{{ inputs.small }}"
  - id: ls_pages
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
    maxKeys: 100
    maxFiles: 5000
  - id: ls_1000
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
    maxFiles: 5000
  - id: ls_delim
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
    delimiter: /
    maxKeys: 250
    maxFiles: 5000
  - id: ls_dirs
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
    delimiter: /
    filter: DIRECTORY
  - id: ls_max
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
  - id: ls_marker
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: many/
    marker: many/k1040.txt
  - id: ls_in
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    prefix: in/
  - id: dl_big
    type: io.kestra.plugin.aws.s3.Download
    bucket: lake
    key: in/big.bin
  - id: dl_small
    type: io.kestra.plugin.aws.s3.Download
    bucket: lake
    key: in/small.txt
  - id: cp
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: lake
      key: in/small.txt
    to:
      key: copies/small.txt
  - id: mv
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: lake
      key: in/big.bin
    to:
      key: moved/big.bin
    delete: true
  - id: rm
    type: io.kestra.plugin.aws.s3.Delete
    bucket: lake
    key: copies/small.txt
  - id: rml
    type: io.kestra.plugin.aws.s3.DeleteList
    bucket: lake
    prefix: many/
  - id: left
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
YAML
T1=$(date +%s.%N)
"$KITE" run "$work/flows/s3rver.yaml" --data "$work/data" --file big="$work/big.bin" --file small="$work/small.txt" \
    --json >"$work/run.json" 2>"$work/run.err"
RC=$?
T2=$(date +%s.%N)
ok "the flow ran to SUCCESS against s3rver (exit $RC)" bash -c "[ $RC -eq 0 ]" || { tail -20 "$work/run.err"; }
out() { python3 -c "
import json,sys,hashlib,os; d=json.load(open('$work/run.json')); o={t['taskId']:t.get('outputs',{}) for t in d['taskRunList']}
N=$N; keys=['many/k%04d.txt' % i for i in range(N)]
$1" 2>&1; }
obj() { printf '%s' "$SDIR/lake/$1._S3rver_object"; }   # where s3rver keeps an object's bytes

ok "CreateBucket: outputs the bucket; s3rver has its folder" \
    bash -c "[ -d '$SDIR/lake' ] && python3 -c \"import json; o={t['taskId']:t.get('outputs',{}) for t in json.load(open('$work/run.json'))['taskRunList']}; assert o['mk']['bucket']=='lake', o['mk']\""
ok "Upload of 12 MiB in 5 MiB parts: s3rver stored 3 parts, then the object (its ETag: the whole MD5)" \
    out "h=hashlib.md5(open('$work/big.bin','rb').read()).hexdigest(); lg=open('$work/s3rver.log').read(); assert o['up_big']['eTag']=='\"%s\"' % h and 'Stored part 3 of' in lg and 'Stored part 4 of' not in lg, o['up_big']"
ok "multipart: s3rver's upload folder is gone once completed" \
    bash -c "[ -z \"\$(ls -A '$SDIR/lake/._S3rver_uploads' 2>/dev/null)\" ]"
ok "Upload: a single PUT's eTag is the MD5 s3rver stored" \
    out "h=hashlib.md5(open('$work/small.txt','rb').read()).hexdigest(); assert o['up_small']['eTag']=='\"%s\"' % h and open('$(obj in/small.txt).md5').read()==h, o['up_small']"
ok "Upload: s3rver stored the content type and the metadata" \
    out "m=json.load(open('$SDIR/lake/in/small.txt._S3rver_metadata.json')); assert m.get('content-type')=='text/plain' and m.get('x-amz-meta-owner')=='ops', m"
ok "Upload of a map: $N + 2 objects, each stored by s3rver (its log), each listed with the file's MD5" \
    out "h='\"%s\"' % hashlib.md5(open('$work/small.txt','rb').read()).hexdigest(); assert len(o['up_many']['files'])==N and sorted(o['up_many']['files'])==keys; lg=open('$work/s3rver.log').read(); miss=[k for k in keys+['many/sub/x.txt','many/sub/y.txt'] if 'Stored object \"%s\" in bucket \"lake\"' % k not in lg]; assert not miss, miss[:5]; assert all(x['etag']==h and x['size']==13 for x in o['ls_pages']['objects'])"
ok "List over $N + 2 keys in pages of maxKeys 100: every key, in order, once" \
    out "ks=[x['key'] for x in o['ls_pages']['objects']]; assert ks==keys+['many/sub/x.txt','many/sub/y.txt'], (len(ks), ks[:3], ks[-3:])"
ok "List pages as s3rver served them: 11 of maxKeys 100, 5 of 250 with the delimiter (continuation tokens)" \
    bash -c "[ \$(grep -c 'continuation-token=[^&]*&list-type=2&max-keys=100&prefix=many%2F 200' '$work/s3rver.log') -eq 10 ] && [ \$(grep -c 'continuation-token=[^&]*&delimiter=%2F&list-type=2&max-keys=250&prefix=many%2F 200' '$work/s3rver.log') -eq 4 ]"
ok "List with the default maxKeys (1000): two pages, $N + 2 keys" \
    out "ks=[x['key'] for x in o['ls_1000']['objects']]; assert len(ks)==N+2 and len(set(ks))==N+2, len(ks)"
ok "List with a delimiter over 5 pages: the $N keys and the common prefix many/sub/" \
    out "ks=[x['key'] for x in o['ls_delim']['objects']]; assert ks==keys+['many/sub/'], (len(ks), ks[-3:])"
ok "List filter DIRECTORY with a delimiter: only many/sub/" \
    out "assert [x['key'] for x in o['ls_dirs']['objects']]==['many/sub/'], o['ls_dirs']"
ok "List maxFiles default 25: the first 25 keys" \
    out "assert [x['key'] for x in o['ls_max']['objects']]==keys[:25], len(o['ls_max']['objects'])"
ok "List marker: the keys after it" \
    out "assert [x['key'] for x in o['ls_marker']['objects']]==keys[1041:]+['many/sub/x.txt','many/sub/y.txt'], o['ls_marker']"
ok "List: size, etag, lastModified and uri of s3rver's objects" \
    out "ob={x['key']:x for x in o['ls_in']['objects']}; b=ob['in/big.bin']; s=ob['in/small.txt']; assert b['size']==12*1024*1024+12345 and b['etag']==o['up_big']['eTag'] and s['size']==13 and s['uri']=='s3://lake/in/small.txt' and s['lastModified'], ob"
ok "Download: the multipart object's SHA-256 is the file's; s3rver's stored bytes too" \
    bash -c "f=\$(find '$work/data/storage' -name big.bin | head -1); [ -n \"\$f\" ] && h=\$(sha256sum <'$work/big.bin') && [ \"\$(sha256sum <\"\$f\")\" = \"\$h\" ]"
ok "Download: contentLength, contentType, metadata" \
    out "x=o['dl_small']; assert x['contentLength']==13 and x['contentType']=='text/plain' and x['metadata']=={'owner':'ops'} and x['uri'].startswith('kestra:///'), x"
ok "Copy: outputs the destination; Copy with delete moved the 12 MiB object in s3rver" \
    bash -c "cmp -s '$work/big.bin' '$(obj moved/big.bin)' && [ ! -e '$(obj in/big.bin)' ] && python3 -c \"import json; o={t['taskId']:t.get('outputs',{}) for t in json.load(open('$work/run.json'))['taskRunList']}; assert o['cp']['key']=='copies/small.txt' and o['cp']['bucket']=='lake' and o['cp']['eTag'], o['cp']\""
ok "Delete: the copy is gone from s3rver's folder" bash -c "[ ! -e '$(obj copies/small.txt)' ] && [ -e '$(obj in/small.txt)' ]"
ok "DeleteList: count $N + 2 and their size, none left in s3rver's folder" \
    out "assert o['rml']['count']==N+2 and o['rml']['size']==(N+2)*13, o['rml']; left=[os.path.join(r,f) for r,_,fs in os.walk('$SDIR/lake/many') for f in fs]; assert not left, left[:5]"
ok "what is left: in/small.txt and moved/big.bin" \
    out "assert [x['key'] for x in o['left']['objects']]==['in/small.txt','moved/big.bin'], o['left']"

# s3rver 3.7.1 checks the access key of a SigV4 request, not its signature (its
# authentication.js: "Signature version 4 calculation is unimplemented"; tests/e2e/s3.sh's
# fake checks signatures): an unknown access key is refused, and said so
cat >"$work/flows/wrong.yaml" <<YAML
id: wrong
namespace: e2e.s3rver
tasks:
  - id: ls
    type: io.kestra.plugin.aws.s3.List
    bucket: lake
    endpointOverride: $EP
    forcePathStyle: true
    accessKeyId: NOTAKEY
    secretKeyId: not-the-secret
YAML
"$KITE" run "$work/flows/wrong.yaml" --data "$work/data" >/dev/null 2>"$work/wrong.err"
ok "an unknown access key: s3rver's InvalidAccessKeyId as the task error" grep -q "HTTP 403 InvalidAccessKeyId" "$work/wrong.err"
ok "the secret key never reaches the logs" bash -c "! grep -q 'not-the-secret' '$work/wrong.err'"

# kite's internal storage on s3rver (storage: s3://lake/kite): the start-up check passes, a
# flow's output lands as an object; a missing bucket or an unknown key stops `kite server`
cat >"$work/st.yml" <<YAML
data: $work/stdata
storage:
  url: s3://lake/kite
  endpoint: $EP
  accessKeyId: $AK
  secretKeyId: S3RVER
  forcePathStyle: true
YAML
printf 'id: w\nnamespace: e2e.s3rver\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: on s3rver\n' >"$work/w.yml"
"$KITE" run --config "$work/st.yml" "$work/w.yml" >/dev/null 2>"$work/st.err"
ok "storage on s3rver: a Write task's file is an object under kite/" bash -c \
    "grep -rlq 'on s3rver' '$SDIR/lake/kite/e2e/s3rver/w/executions' 2>/dev/null || { cat '$work/st.err'; false; }"
start_server "$work/st.err" --config "$work/st.yml"
st=$?
ok "kite server starts with storage on s3rver (the bucket answers)" [ "$st" = 0 ]
[ -n "$SERVER_PID" ] && stop_server TERM
refused() { # refused CONFIG: kite server exits non-zero at once, its message in $work/st.out
    timeout 60 "$KITE" server local --port "$(free_port)" --config "$1" >"$work/st.out" 2>&1
    local rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ]
}
sed "s#s3://lake/kite#s3://nolake/kite#" "$work/st.yml" >"$work/st-bad.yml"
ok "storage on a missing s3rver bucket: kite server refuses to start, NoSuchBucket, endpoint named" eval \
    'refused "$work/st-bad.yml" &&
     grep -q "storage s3://nolake/kite/ (endpoint $EP): the bucket does not answer: .*HTTP 404 NoSuchBucket" "$work/st.out"'
sed "s#accessKeyId: .*#accessKeyId: NOTAKEY#; s#secretKeyId: .*#secretKeyId: not-the-secret#" "$work/st.yml" >"$work/st-bad.yml"
ok "storage with a key s3rver does not know: kite server refuses to start, InvalidAccessKeyId, secret not printed" eval \
    'refused "$work/st-bad.yml" && grep -q "(endpoint $EP): the bucket does not answer: .*HTTP 403 InvalidAccessKeyId" "$work/st.out" &&
     ! grep -q not-the-secret "$work/st.out"'
T3=$(date +%s.%N)
python3 -c "print('s3rver suite: the main flow %.1f s (%d keys), everything %.1f s' % ($T2-$T1, $N+4, $T3-$T0))"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
