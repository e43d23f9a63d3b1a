#!/bin/bash
# The routes the web UI needs, end to end against the real `kite server
# local` on a free loopback port, driven with curl: login sessions (cookie,
# CSRF, expiry, logout, rate limit), the flow graph (Kestra's FlowGraph),
# plugin schemas, namespaces with counts, namespace files, dependencies,
# labels, bulk actions and dashboard statistics. Ends by checking the
# server's stderr for sanitizer reports.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash

ERR=$work/server.err
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
# loopback is a trusted proxy here (X-Forwarded-Proto is believed from it only: docs/server.md)
printf 'server:\n  trustedProxies: [127.0.0.1]\n' >"$work/proxy.yml"
ok "server starts" start_server "$ERR" --data "$work/data" --config "$work/proxy.yml"

JAR=$work/cookies
# sreq METHOD PATH [CURL ARGS...]: a call with the session cookie only
sreq() {
    local m=$1 p=$2
    shift 2
    code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$m" -b "$JAR" -c "$JAR" "$@" "$BASE$p")
}
header() { grep -i "^$1:" "$work/headers" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

# ---- login, sessions, CSRF ------------------------------------------------------------
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"token": "wrong-token-0000000000"}'
ok "login with a wrong token: 401 invalid token" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_token\""'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{}'
ok "login without a token: 400 naming the field" eval 'code_is 400 && jt "\"token\" in d[\"message\"]"'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"username": "ann", "password": "x"}'
ok "login with an unknown user: 401 invalid_password" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_password\""'
rm -f "$JAR"
sreq POST /login -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}"
ok "login: 200 with name, role, csrfToken, expiresAt" eval 'code_is 200 && jt "d[\"name\"] == \"admin\" and d[\"role\"] == \"admin\" and len(d[\"csrfToken\"]) >= 32 and d[\"expiresAt\"].endswith(\"Z\")"'
CSRF=$(j "d['csrfToken']")
cookie=$(header Set-Cookie)
ok "the cookie is HttpOnly, SameSite=Strict, Path=/" eval '[[ "$cookie" == kite_session=* && "$cookie" == *HttpOnly* && "$cookie" == *SameSite=Strict* && "$cookie" == *"Path=/"* ]]'
ok "over plain HTTP the cookie is not Secure" eval '[[ "$cookie" != *Secure* ]]'
SID=$(awk '$6 == "kite_session" {print $7}' "$JAR")
ok "the session id is not stored in clear" eval '! grep -q "$SID" "$work/data/kite.db"* 2>/dev/null'
sreq GET /me
ok "GET /me with the cookie: the admin, via session, with its csrfToken" eval 'code_is 200 && jt "d[\"via\"] == \"session\" and d[\"csrfToken\"] == \"$CSRF\""'
req GET /me
ok "GET /me with the bearer token: via token" eval 'code_is 200 && jt "d[\"via\"] == \"token\" and d[\"name\"] == \"admin\""'
sreq GET /flows/search
ok "a GET with the cookie and no CSRF header works" code_is 200
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -d '"v"'
ok "a PUT with the cookie and no X-CSRF-Token: 403 naming the header" eval 'code_is 403 && jt "\"X-CSRF-Token\" in d[\"message\"]"'
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -H 'X-CSRF-Token: 0123' -d '"v"'
ok "a PUT with a wrong X-CSRF-Token: 403" eval 'code_is 403 && jt "\"does not match\" in d[\"message\"]"'
req GET /namespaces/ui.kv/kv/k1
ok "nothing was written without the CSRF token" code_is 404
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" -d '"v"'
ok "a PUT with the cookie and the right X-CSRF-Token works" eval 'code_is 200 || code_is 204'
req GET /namespaces/ui.kv/kv/k1
ok "and it was written" code_is 200
noauth GET "$BASE/flows/search" -H "Cookie: kite_session=deadbeef"
ok "an unknown session cookie: 401 invalid_session, and the cookie is dropped" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_session\""'
noauth GET "$BASE/flows/search"
ok "no token, no cookie: 401 missing, naming login" eval 'code_is 401 && jt "d[\"reason\"] == \"missing\" and \"login\" in d[\"message\"]"'
sreq POST /logout
ok "logout without X-CSRF-Token: 403 (no forced logout)" code_is 403
sreq POST /logout -H "X-CSRF-Token: $CSRF"
ok "logout: 204, the cookie cleared" eval 'code_is 204 && header Set-Cookie | grep -q "Max-Age=0"'
noauth GET "$BASE/flows/search" -H "Cookie: kite_session=$SID"
ok "the session is gone on the server: 401 invalid_session" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_session\""'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https' -d "{\"token\": \"$TOKEN\"}" -D "$work/headers"
ok "behind a TLS proxy the cookie is Secure" eval 'code_is 200 && header Set-Cookie | grep -q "; Secure"'

# ---- the flow graph (Kestra's FlowGraph) --------------------------------------------------
cat >"$work/topo.yml" <<'YML'
id: topo
namespace: ui.graph
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.log.Log
        message: a
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: s1
            type: io.kestra.plugin.core.log.Log
            message: s1
          - id: s2
            type: io.kestra.plugin.core.log.Log
            message: s2
    errors:
      - id: par_failed
        type: io.kestra.plugin.core.log.Log
        message: par failed
  - id: choose
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: y
    else:
      - id: no
        type: io.kestra.plugin.core.log.Log
        message: n
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "a"
    cases:
      a:
        - id: case_a
          type: io.kestra.plugin.core.log.Log
          message: a
    defaults:
      - id: other
        type: io.kestra.plugin.core.log.Log
        message: other
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: d1
          type: io.kestra.plugin.core.log.Log
          message: d1
      - task:
          id: d3
          type: io.kestra.plugin.core.log.Log
          message: d3
        dependsOn: [d1, d2]
      - task:
          id: d2
          type: io.kestra.plugin.core.log.Log
          message: d2
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2]
    tasks:
      - id: e1
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: ui.graph
    flowId: other
errors:
  - id: onerr
    type: io.kestra.plugin.core.log.Log
    message: failed
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: bye
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/topo.yml"
ok "the graph flow is created" code_is 200
req GET /flows/ui.graph/topo/graph
cp "$work/body" "$work/graph1.json"
# edge SRC DST [RELATIONTYPE|-] [VALUE]: the graph has that edge
edge() {
    python3 - "$work/graph1.json" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); src, dst = sys.argv[2], sys.argv[3]
rel = sys.argv[4] if len(sys.argv) > 4 else None; val = sys.argv[5] if len(sys.argv) > 5 else None
for e in d["edges"]:
    if e["source"] == src and e["target"] == dst:
        r = e["relation"]
        if rel and rel != "-" and r.get("relationType") != rel: continue
        if rel == "-" and "relationType" in r: continue
        if val and r.get("value") != val: continue
        sys.exit(0)
sys.exit(1)
EOF
}
node_is() { # node_is UID TYPE [BRANCHTYPE]
    python3 -c "
import json,sys; d=json.load(open('$work/graph1.json'))
n=[n for n in d['nodes'] if n['uid']=='$1']
sys.exit(0 if len(n)==1 and n[0]['type']=='io.kestra.core.models.hierarchies.$2' and ('${3:-}'=='' or n[0].get('branchType')=='${3:-}') else 1)"
}
ok "graph: 200 with nodes, edges, clusters" eval 'code_is 200 && jt "set(d) == {\"nodes\", \"edges\", \"clusters\"}"'
ok "graph: the flow's start and end nodes" eval 'node_is root._root GraphClusterRoot && node_is root._end GraphClusterEnd'
ok "graph: every edge joins two nodes of the list" jt "all(e['source'] in {n['uid'] for n in d['nodes']} and e['target'] in {n['uid'] for n in d['nodes']} for e in d['edges'])"
ok "graph: uids are unique" jt "len({n['uid'] for n in d['nodes']}) == len(d['nodes'])"
ok "graph: the first task follows the start" edge root._root root.first -
ok "graph: a flowable follows as its cluster's start, SEQUENTIAL" edge root.first root.par._root SEQUENTIAL
ok "graph: the cluster's start leads to its task node" edge root.par._root root.par -
ok "graph: Parallel: every child from the task node, PARALLEL" eval 'edge root.par root.par.p1 PARALLEL && edge root.par root.par.seq._root PARALLEL'
ok "graph: Parallel: every child to the cluster's end" eval 'edge root.par.p1 root.par._end - && edge root.par.seq._end root.par._end -'
ok "graph: a Sequential inside: s1 then s2" eval 'edge root.par.seq root.par.seq.s1 SEQUENTIAL && edge root.par.seq.s1 root.par.seq.s2 SEQUENTIAL && edge root.par.seq.s2 root.par.seq._end -'
ok "graph: the nested cluster names its parent cluster" jt "[c['parents'] for c in d['clusters'] if c['cluster']['uid'] == 'cluster_root.par.seq'] == [['cluster_root.par']]"
ok "graph: the Parallel's cluster: PARALLEL, its task node, start and end" jt "[(c['cluster']['relationType'], c['cluster']['taskNode']['uid'], c['start'], c['end']) for c in d['clusters'] if c['cluster']['uid'] == 'cluster_root.par'] == [('PARALLEL', 'root.par', 'root.par._root', 'root.par._end')]"
ok "graph: the Parallel's errors branch hangs off its start, ERROR" edge root.par._root root.par.par_failed ERROR
ok "graph: errors nodes are branchType ERROR" node_is root.par.par_failed GraphTask ERROR
ok "graph: the flow's errors hang off the flow's start" edge root._root root.onerr ERROR
ok "graph: If: then and else as CHOICE with their values" eval 'edge root.choose root.choose.yes CHOICE then && edge root.choose root.choose.no CHOICE else'
ok "graph: Switch: cases and defaults by value" eval 'edge root.pick root.pick.case_a CHOICE a && edge root.pick root.pick.other CHOICE defaults'
ok "graph: Dag: dependsOn become edges, the roots start from the task node" eval 'edge root.dag root.dag.d1 PARALLEL && edge root.dag root.dag.d2 PARALLEL && edge root.dag.d1 root.dag.d3 PARALLEL && edge root.dag.d2 root.dag.d3 PARALLEL'
ok "graph: Dag: only the tasks nothing depends on lead to the end" eval 'edge root.dag.d3 root.dag._end && ! edge root.dag.d1 root.dag._end'
ok "graph: ForEach is a DYNAMIC cluster" jt "[c['cluster']['relationType'] for c in d['clusters'] if c['cluster']['uid'] == 'cluster_root.each'] == ['DYNAMIC']"
ok "graph: Subflow is a SubflowGraphTask" node_is root.sub SubflowGraphTask
ok "graph: the last task leads to the finally node, then the finally tasks, then the end" eval 'edge root.sub root._finally && edge root._finally root.cleanup && edge root.cleanup root._end && ! edge root._finally root._end'
ok "graph: finally nodes are branchType FINALLY" node_is root.cleanup GraphTask FINALLY
ok "graph: triggers are a cluster whose end leads to the flow's start" eval 'node_is root.Triggers.hourly GraphTrigger && edge root.Triggers._root root.Triggers.hourly && edge root.Triggers._end root._root'
ok "graph: a task node carries its task" jt "[n['task']['message'] for n in d['nodes'] if n['uid'] == 'root.first'] == ['hi']"
sed -e '/^  - id: sub$/,/^    flowId: other$/d' "$work/topo.yml" >"$work/topo2.yml"
req PUT /flows/ui.graph/topo -H "Content-Type: application/x-yaml" --data-binary @"$work/topo2.yml"
req GET /flows/ui.graph/topo/graph
ok "graph of the new revision: the removed task is gone" eval 'code_is 200 && jt "\"root.sub\" not in [n[\"uid\"] for n in d[\"nodes\"]]"'
req GET "/flows/ui.graph/topo/graph?revision=1"
ok "graph ?revision=1: the removed task is there" eval 'code_is 200 && jt "\"root.sub\" in [n[\"uid\"] for n in d[\"nodes\"]]"'
req GET "/flows/ui.graph/topo/graph?revision=9"
ok "graph of a missing revision: 404 naming it" eval 'code_is 404 && jt "\"revision 9\" in d[\"message\"]"'
req GET "/flows/ui.graph/topo/graph?revision=x"
ok "graph ?revision=x: 400 naming the query" eval 'code_is 400 && jt "\"revision\" in d[\"message\"]"'
req GET /flows/ui.graph/nope/graph
ok "graph of an unknown flow: 404" code_is 404
python3 -c "
print('id: big\nnamespace: ui.graph\ntasks:')
for i in range(500):
    print(f'  - id: t{i}\n    type: io.kestra.plugin.core.log.Log\n    message: m{i}')" >"$work/big.yml"
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/big.yml"
req GET /flows/ui.graph/big/graph
ok "graph of a 500-task flow: 502 nodes, 501 edges in a chain" eval 'code_is 200 && jt "len(d[\"nodes\"]) == 502 and len(d[\"edges\"]) == 501"'

# ---- plugins: types, properties and JSON Schemas for the editor ------------------------
req GET /plugins
ok "plugins: every type, Log with its Kestra class and its required message" eval 'code_is 200 && jt "[(\"io.kestra.plugin.core.log.Log\" in p[\"aliases\"], [q[\"required\"] for q in p[\"properties\"] if q[\"name\"] == \"message\"]) for p in d if p[\"name\"] == \"log\"] == [(True, [True])]"'
ok "plugins: as many as kite plugins list" eval '[ "$(j "len(d)")" = "$("$KITE" plugins list --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" ]'
req GET "/plugins?kind=trigger"
ok "plugins?kind=trigger: triggers only, Schedule among them" eval 'code_is 200 && jt "d and all(p[\"kind\"] == \"trigger\" for p in d) and any(\"io.kestra.plugin.core.trigger.Schedule\" in p[\"aliases\"] for p in d)"'
req GET "/plugins?kind=tasks"
ok "plugins?kind=tasks: 400 naming the query" eval 'code_is 400 && jt "\"kind\" in d[\"message\"]"'
req GET /plugins/schemas/io.kestra.plugin.core.log.Log
ok "schema of a task type by Kestra class: message among its properties" eval 'code_is 200 && jt "\"message\" in json.dumps(d) and \"\$schema\" in d"'
"$KITE" plugins schema io.kestra.plugin.core.log.Log >"$work/cli_schema.json"
ok "it is kite plugins schema's" python3 -c "import json; a=json.load(open('$work/body')); b=json.load(open('$work/cli_schema.json')); exit(0 if a == b else 1)"
req GET /plugins/schemas/flow
ok "schema of the whole flow document (flow): tasks, triggers" eval 'code_is 200 && jt "\"tasks\" in json.dumps(d) and \"triggers\" in json.dumps(d)"'
req GET /plugins/schemas/io.kestra.plugin.core.log.Logg
ok "schema of an unknown type: 404 with a suggestion" eval 'code_is 404 && jt "\"did you mean\" in d[\"message\"]"'
req GET /plugins/io.kestra.plugin.core.flow.Parallel
ok "one type: its summary and schema" eval 'code_is 200 && jt "d[\"name\"] == \"flow.parallel\" and d[\"kind\"] == \"flowable\" and \"schema\" in d"'

# ---- namespaces with counts -------------------------------------------------------------
cat >"$work/nsflow.yml" <<'YML'
id: reader
namespace: ui.ns.team
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      text: "{{ read('/scripts/hello.txt') }}"
YML
req POST /flows -H "Content-Type: application/x-yaml" --data-binary @"$work/nsflow.yml"
ok "the namespace files flow is created" code_is 200
req GET /namespaces
ok "namespaces: ui.graph with its 2 flows" eval 'code_is 200 && jt "[(n[\"flowCount\"], n[\"parent\"]) for n in d[\"results\"] if n[\"id\"] == \"ui.graph\"] == [(2, \"ui\")]"'
ok "namespaces: the parent ui is listed, empty itself, with its subtree's 3 flows" jt "[(n['flowCount'], n['treeFlowCount'], n['parent']) for n in d['results'] if n['id'] == 'ui'] == [(0, 3, None)]"
ok "namespaces: sorted by id" jt "[n['id'] for n in d['results']] == sorted(n['id'] for n in d['results'])"

# ---- namespace files ------------------------------------------------------------------------
printf 'hello from a namespace file\n' >"$work/hello.txt"
req POST "/namespaces/ui.ns.team/files?path=/scripts/hello.txt" -F "fileContent=@$work/hello.txt"
ok "upload a namespace file (multipart fileContent): 204" code_is 204
req GET "/namespaces/ui.ns.team/files?path=/scripts/hello.txt"
ok "read it back" eval 'code_is 200 && [ "$(cat "$work/body")" = "hello from a namespace file" ]'
req POST "/executions/ui.ns.team/reader?wait=true"
ok "a flow's read() sees the uploaded file" eval 'code_is 200 && jt "d[\"state\"][\"current\"] == \"SUCCESS\" and \"hello from a namespace file\" in json.dumps(d)"'
req PUT "/namespaces/ui.ns.team/files?path=/readme.md" -H 'Content-Type: text/plain' --data-binary '# team'
ok "PUT writes a file from the body" code_is 204
req GET "/namespaces/ui.ns.team/files/directory"
ok "list the root: a folder and a file" eval 'code_is 200 && jt "sorted((f[\"fileName\"], f[\"type\"]) for f in d) == [(\"readme.md\", \"File\"), (\"scripts\", \"Directory\")]"'
req GET "/namespaces/ui.ns.team/files/directory?path=/scripts"
ok "list a folder: its file with its size" eval 'code_is 200 && jt "d == [{\"fileName\": \"hello.txt\", \"type\": \"File\", \"size\": 28}]"'
req GET "/namespaces/ui.ns.team/files?path=/../../etc/passwd"
ok "path traversal (..): 400 naming the path" eval 'code_is 400 && jt "\"..\" in d[\"message\"]"'
req POST "/namespaces/ui.ns.team/files?path=scripts/../../x" -F "fileContent=@$work/hello.txt"
ok "an upload through ..: 400" code_is 400
req GET "/namespaces/ui.ns.team/files?path=/nope.txt"
ok "a missing file: 404" code_is 404
req GET "/namespaces/ui.ns.team/files"
ok "no path: 400 naming it" eval 'code_is 400 && jt "\"path\" in d[\"message\"]"'
req POST "/namespaces/ui.ns.team/files?path=/scripts" -F "fileContent=@$work/hello.txt"
ok "a file where a folder is: 409" code_is 409
printf 'hello again\n' >"$work/again.txt"
req POST "/namespaces/ui.ns.team/files?path=/scripts/hello.txt" -F "fileContent=@$work/again.txt"
ok "upload over an existing file: 204 (the UI's Save of an edited file)" code_is 204
req GET "/namespaces/ui.ns.team/files?path=/scripts/hello.txt"
ok "it reads back the new content" eval 'code_is 200 && [ "$(cat "$work/body")" = "hello again" ]'
req PUT "/namespaces/ui.ns.team/files?path=/readme.md" -H 'Content-Type: text/plain' --data-binary '# team 2'
ok "PUT over an existing file: 204" eval 'code_is 204'
req DELETE "/namespaces/ui.ns.team/files?path=/scripts/hello.txt"
ok "delete a file: 204" code_is 204
req GET "/namespaces/ui.ns.team/files?path=/scripts/hello.txt"
ok "it is gone" code_is 404
req DELETE "/namespaces/ui.ns.team/files?path=/scripts/hello.txt"
ok "delete it again: 404" code_is 404

# @@SECTIONS@@

# ---- failed logins are rate limited per address ------------------------------------------
for i in $(seq 1 10); do
    noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"token": "nope-nope-nope-nope"}'
done
ok "10 failed logins: each 401" code_is 401
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}" -D "$work/headers"
ok "the 11th login in a minute: 429 with Retry-After, even with the right token" eval 'code_is 429 && [ "$(header Retry-After)" -ge 1 ]'
req GET /flows/search
ok "bearer tokens are not rate limited by failed logins" code_is 200

# ---- an expired session (a second server whose sessions last 1 s) -----------------------
stop_server
ok "the server stops cleanly" eval '[ "$STOP_RC" = 0 ]'
printf 'server:\n  sessionTtl: PT1S\n' >"$work/kite.yml"
ok "a server with server.sessionTtl: PT1S starts" start_server "$ERR" --data "$work/data2" --config "$work/kite.yml"
rm -f "$JAR"
sreq POST /login -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}"
ok "login there: Max-Age=1" eval 'code_is 200 && header Set-Cookie | grep -Eq "Max-Age=1(;|$)"'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https' -d "{\"token\": \"$TOKEN\"}" -D "$work/headers"
ok "X-Forwarded-Proto from a peer that is not a trusted proxy: the cookie is not Secure" eval 'code_is 200 && ! header Set-Cookie | grep -q "; Secure"'
SID=$(awk '$6 == "kite_session" {print $7}' "$JAR")
noauth GET "$BASE/me" -H "Cookie: kite_session=$SID"
ok "the session works at once" code_is 200
sleep 1.5
noauth GET "$BASE/me" -H "Cookie: kite_session=$SID"
ok "after its ttl: 401 expired_session, saying so" eval 'code_is 401 && jt "d[\"reason\"] == \"expired_session\" and \"expired\" in d[\"message\"]"'
printf 'server:\n  sessionTtl: soon\n' >"$work/bad.yml"
"$KITE" server local --port 0 --data "$work/data3" --config "$work/bad.yml" >/dev/null 2>"$work/bad.err"
ok "a bad server.sessionTtl is refused naming the key" grep -q "server.sessionTtl" "$work/bad.err"
stop_server
ok "no sanitizer reports" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
