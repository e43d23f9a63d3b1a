#!/bin/bash
# authz_flows.sh: flows act within their namespace once access control is
# configured (a binding of anyone but the first admin exists): a flow in
# `a` cannot read b's kv (kv() and the kv tasks), b's files (read(), not
# even through '..', DownloadFiles) nor write them (UploadFiles,
# DeleteFiles), b's secrets,
# start b's flows (Subflow) or react to b's executions (Flow trigger)
# without a binding for namespace:a on b (Kestra's allowedNamespaces); it
# still reaches its own namespace and its parents'. Before access control
# is configured, today's behaviour stays. One server.
set -u
ROOT=${ROOT:-$PWD}
source "$ROOT/tests/e2e/server_lib.bash"
DATA=$work/data
ERR=$work/server.err

start_server "$ERR" --data "$DATA" || { echo "FAIL server start"; cat "$ERR"; exit 1; }
post_flow() { req POST /flows -H 'Content-Type: application/x-yaml' --data-binary "$1"; }
run() { # run NS ID: starts and waits; sets X and STATE
    req POST "/executions/$1/$2?wait=true"
    X=$(j "d['id']")
    STATE=$(j "d['state']['current']")
}
logs_of() { req GET "/logs/$1"; python3 -c "import json; print('\n'.join(l['message'] for l in json.load(open('$work/body'))))"; }

post_flow 'id: target
namespace: b
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: b ran'
req PUT /namespaces/b/kv/k -H 'Content-Type: application/json' -d '"b-value"'
req PUT /namespaces/a/kv/pk -H 'Content-Type: application/json' -d '"a-value"'
req PUT /namespaces/b/secrets/B_ONLY -H 'Content-Type: text/plain' --data-binary 'b-secret'
post_flow 'id: readkv
namespace: a
tasks:
  - id: r
    type: io.kestra.plugin.core.log.Log
    message: "got {{ kv('"'k'"', '"'b'"') }}"'
post_flow 'id: getkv
namespace: a
tasks:
  - id: g
    type: io.kestra.plugin.core.kv.Get
    namespace: b
    key: k'
post_flow 'id: sub
namespace: a
tasks:
  - id: s
    type: io.kestra.plugin.core.flow.Subflow
    namespace: b
    flowId: target'
post_flow 'id: sec
namespace: a
tasks:
  - id: s
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('"'B_ONLY'"') }}"'
post_flow 'id: parent
namespace: a.sub
tasks:
  - id: p
    type: io.kestra.plugin.core.log.Log
    message: "parent {{ kv('"'pk'"', '"'a'"') }}"'
post_flow 'id: purge
namespace: a
tasks:
  - id: p
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [b]
    behavior:
      type: KEY
      expiredOnly: false'
post_flow 'id: purgeall
namespace: a
tasks:
  - id: p
    type: io.kestra.plugin.core.kv.PurgeKV
    behavior:
      type: KEY
      expiredOnly: false'
post_flow 'id: watch
namespace: c
tasks:
  - id: w
    type: io.kestra.plugin.core.log.Log
    message: "saw {{ trigger.executionId }}"
triggers:
  - id: on-b
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: b'
req PUT "/namespaces/b/files?path=/doc.txt" -H 'Content-Type: text/plain' --data-binary 'b-file'
post_flow 'id: readfile
namespace: a
tasks:
  - id: r
    type: io.kestra.plugin.core.log.Log
    message: "file {{ read('"'kestra:///b/_files/doc.txt'"') }}"'
post_flow 'id: readns
namespace: a
tasks:
  - id: r
    type: io.kestra.plugin.core.log.Log
    message: "file {{ read('"'doc.txt'"', namespace='"'b'"') }} {{ fileExists('"'doc.txt'"', namespace='"'b'"') }} {{ fileSize('"'/doc.txt'"', namespace='"'b'"') }} {{ isFileEmpty('"'doc.txt'"', namespace='"'b'"') }}"'
post_flow 'id: travfile
namespace: a
tasks:
  - id: r
    type: io.kestra.plugin.core.log.Log
    message: "file {{ read('"'kestra:///a/_files/../../b/_files/doc.txt'"') }}"'
post_flow 'id: dlfile
namespace: a
tasks:
  - id: d
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: b
    files: ["/doc.txt"]'
post_flow 'id: delfile
namespace: a
tasks:
  - id: d
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: b
    files: ["/doc.txt"]'
post_flow 'id: upfile
namespace: a
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: planted
  - id: u
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: b
    filesMap:
      /planted.txt: "{{ outputs.w.uri }}"'

# ---- before access control is configured: as before -----------------------------------------
run a readkv
ok "no access control yet: a reads b's kv with kv()" eval '[ "$STATE" = SUCCESS ] && logs_of "$X" | grep -q "got b-value"'
run a sub
ok "no access control yet: a starts b's flow" [ "$STATE" = SUCCESS ]
run a readns
ok "no access control yet: read('doc.txt', namespace='b'), fileExists, fileSize, isFileEmpty of b's file from a" \
    eval '[ "$STATE" = SUCCESS ] && logs_of "$X" | grep -q "file b-file true 6 false"'
run a dlfile
ok "no access control yet: DownloadFiles of b from a works as before" [ "$STATE" = SUCCESS ]

# ---- configure access control: any binding of another principal -----------------------------
req POST /users -H 'Content-Type: application/json' -d '{"name":"someone","kind":"service"}'
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"someone","role":"viewer","namespace":"z"}'
ok "a first binding turns access control on" code_is 201

run a readkv
ok "kv('k', 'b') from a fails" [ "$STATE" = FAILED ]
ok "naming both namespaces and the action" eval 'logs_of "$X" | grep -q "a flow of namespace a may not kv:read in namespace b"'
run a getkv
ok "kv.Get of namespace b from a fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "may not kv:read in namespace b"'
run a sub
ok "a Subflow of b from a fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "may not execution:create in namespace b"'
run a sec
ok "a flow in a cannot read b's secrets" eval '[ "$STATE" = FAILED ] && ! logs_of "$X" | grep -q "b-secret"'
run a readfile
ok "read() of b's namespace file from a fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "may not nsfile:read in namespace b" && ! logs_of "$X" | grep -q "file b-file"'
run a readns
ok "read('doc.txt', namespace='b') from a fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "may not nsfile:read in namespace b" && ! logs_of "$X" | grep -q "file b-file"'
run a travfile
ok "a path through '..' from a's files to b's is refused" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "segment is not allowed" && ! logs_of "$X" | grep -q "file b-file"'
run a dlfile
ok "DownloadFiles of namespace b from a fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "property .namespace.: a flow of namespace a may not nsfile:read in namespace b"'
run a delfile
req GET "/namespaces/b/files?path=/doc.txt"
ok "DeleteFiles of namespace b from a fails, the file stays" eval '[ "$STATE" = FAILED ] && code_is 200 && logs_of "$X" | grep -q "may not nsfile:write in namespace b"'
run a upfile
req GET "/namespaces/b/files?path=/planted.txt"
ok "UploadFiles into namespace b from a fails, nothing is planted" eval '[ "$STATE" = FAILED ] && code_is 404 && logs_of "$X" | grep -q "may not nsfile:write in namespace b"'
run a.sub parent
ok "a flow reads its parent namespace's kv without a binding" eval '[ "$STATE" = SUCCESS ] && logs_of "$X" | grep -q "parent a-value"'
req GET "/executions/search?namespace=c&size=100"
before=$(j "d['total']")
run b target
sleep 2
req GET "/executions/search?namespace=c&size=100"
ok "c's Flow trigger does not react to b's execution without an allow" [ "$(j "d['total']")" = "$before" ]

# ---- allow: bindings for namespace:a and namespace:c on b -------------------------------------
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"namespace:a","role":"launcher","namespace":"b"}'
ok "bind namespace:a launcher on b" code_is 201
run a sub
ok "now a starts b's flow" [ "$STATE" = SUCCESS ]
run a readkv
ok "launcher does not read kv: still refused" [ "$STATE" = FAILED ]
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"namespace:a","role":"viewer","namespace":"b"}'
run a readkv
ok "with viewer on b, a reads b's kv" eval '[ "$STATE" = SUCCESS ] && logs_of "$X" | grep -q "got b-value"'
run a sec
ok "secrets stay the namespace's own: secret() never looks in b" [ "$STATE" = FAILED ]
run a readfile
ok "with viewer on b, a reads b's namespace file" eval '[ "$STATE" = SUCCESS ] && logs_of "$X" | grep -q "file b-file"'
run a dlfile
ok "with viewer on b, DownloadFiles of b works" [ "$STATE" = SUCCESS ]
run a upfile
ok "viewer does not write files: UploadFiles into b still refused" [ "$STATE" = FAILED ]
run a purge
ok "PurgeKV naming b without kv:write there fails" eval '[ "$STATE" = FAILED ] && logs_of "$X" | grep -q "may not kv:write in namespace b"'
run a purgeall
req GET /namespaces/b/kv/k
ok "a PurgeKV over every namespace leaves b alone" eval '[ "$STATE" = SUCCESS ] && code_is 200'
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"namespace:c","role":"viewer","namespace":"b"}'
run b target
seen=
for _ in $(seq 1 50); do
    req GET "/executions/search?namespace=c&size=100"
    [ "$(j "d['total']")" -gt "$before" ] && { seen=1; break; }
    sleep 0.2
done
ok "with viewer on b for namespace:c, c's Flow trigger reacts to b" [ -n "$seen" ]

stop_server TERM
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "authz_flows: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
