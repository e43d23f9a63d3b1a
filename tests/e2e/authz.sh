#!/bin/bash
# authz.sh: least privilege through the API (docs/security.md), one server:
# a token scoped to company.team reads its flows and gets the 404 of a
# missing object for company.other's flow, execution, logs, files, kv and
# secrets through every route; lists are filtered; a viewer cannot start
# an execution (403); a deny on a sub-namespace beats an allow on its
# parent; an expired or a revoked token is refused at once; the admin
# token of before keeps working; the audit log records each change.
set -u
ROOT=${ROOT:-$PWD}
source "$ROOT/tests/e2e/server_lib.bash"
DATA=$work/data
ERR=$work/server.err
ADMIN=$TOKEN

start_server "$ERR" --data "$DATA" || { echo "FAIL server start"; cat "$ERR"; exit 1; }

flow() { # flow NS ID: a one-task flow through the API
    req POST /flows -H 'Content-Type: application/x-yaml' --data-binary "id: $2
namespace: $1
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello from $1"
}
for ns in company.team company.other company.team.secret; do
    flow "$ns" f
    ok "admin creates $ns.f" code_is 200
    req PUT "/namespaces/$ns/kv/k" -H 'Content-Type: application/json' -d '"v"'
    req PUT "/namespaces/$ns/secrets/S" -H 'Content-Type: text/plain' --data-binary 'secret-value'
    req PUT "/namespaces/$ns/files?path=/doc.txt" -H 'Content-Type: text/plain' --data-binary "file of $ns"
done
req POST /executions/company.other/f?wait=true
OTHER_X=$(j "d['id']")
req POST /executions/company.team/f?wait=true
TEAM_X=$(j "d['id']")
ok "executions ran" [ -n "$OTHER_X" ] && [ -n "$TEAM_X" ]

# ---- a scoped token ----------------------------------------------------------------------------------
req POST /tokens -H 'Content-Type: application/json' \
    -d '{"name":"ci","bindings":[{"role":"editor","namespace":"company.team"}],"expiresIn":"P30D"}'
ok "POST /tokens creates ci: 201" code_is 201
ok "the answer has id, name, token, expiresAt" jt "d['name']=='ci' and d['token'].startswith('kite_') and d['expiresAt'] and d['id']"
CI=$(j "d['token']")
CI_ID=$(j "d['id']")
req GET /tokens
ok "GET /tokens lists it without its text" jt "any(t['id']=='$CI_ID' and t['name']=='ci' and 'token' not in t for t in d['results']) and d['total']>=2"
req GET /users
ok "the service account ci exists, bound as asked" jt "any(u['name']=='ci' and u['kind']=='service' and u['bindings'][0]['role']=='editor' for u in d['results'])"

TOKEN=$CI
req GET /flows/company.team/f
ok "ci reads company.team.f" code_is 200
req GET /flows/company.team.secret/f
ok "company.team is exact: company.team.secret.f is 404" code_is 404
# every route of company.other answers what a missing object answers
check404() { # check404 NAME EXPECTED-MESSAGE METHOD PATH [ARGS]
    local name=$1 msg=$2
    shift 2
    req "$@"
    ok "ci: $name is 404" code_is 404
    ok "ci: $name says what a missing one says" jt "d['message']=='$msg'"
}
check404 "flow" "flow company.other.f not found" GET /flows/company.other/f
check404 "flow revisions" "flow company.other.f not found" GET /flows/company.other/f/revisions
check404 "flow update" "flow company.other.f not found" PUT /flows/company.other/f -H 'Content-Type: application/x-yaml' --data-binary 'id: f'
check404 "flow delete" "flow company.other.f not found" DELETE /flows/company.other/f
check404 "namespace flows" "namespace company.other not found" GET /flows/company.other
check404 "execution" "execution $OTHER_X not found" GET "/executions/$OTHER_X"
check404 "execution kill" "execution $OTHER_X not found" POST "/executions/$OTHER_X/kill"
check404 "execution replay" "execution $OTHER_X not found" POST "/executions/$OTHER_X/replay"
check404 "execution delete" "execution $OTHER_X not found" DELETE "/executions/$OTHER_X"
check404 "execution follow" "execution $OTHER_X not found" GET "/executions/$OTHER_X/follow"
check404 "execution file" "execution $OTHER_X not found" GET "/executions/$OTHER_X/file?path=kite:///x"
check404 "logs" "execution $OTHER_X not found" GET "/logs/$OTHER_X"
check404 "logs download" "execution $OTHER_X not found" GET "/logs/$OTHER_X/download"
check404 "metrics" "execution $OTHER_X not found" GET "/metrics/$OTHER_X"
check404 "start" "flow company.other.f not found" POST /executions/company.other/f
check404 "kv get" "key k not found in namespace company.other" GET /namespaces/company.other/kv/k
check404 "kv put" "key k not found in namespace company.other" PUT /namespaces/company.other/kv/k -d '1'
check404 "kv list" "namespace company.other not found" GET /namespaces/company.other/kv
check404 "secrets list" "namespace company.other not found" GET /namespaces/company.other/secrets
check404 "namespace file" "namespace company.other not found" GET "/namespaces/company.other/files?path=/doc.txt"
check404 "namespace file listing" "namespace company.other not found" GET "/namespaces/company.other/files/directory"
check404 "namespace file upload" "namespace company.other not found" PUT "/namespaces/company.other/files?path=/x.txt" --data-binary x
check404 "namespace file delete" "namespace company.other not found" DELETE "/namespaces/company.other/files?path=/doc.txt"
check404 "secret put" "secret S not found in namespace company.other" PUT /namespaces/company.other/secrets/S --data-binary x
check404 "secret delete" "secret S not found in namespace company.other" DELETE /namespaces/company.other/secrets/S
check404 "kv delete" "key k not found in namespace company.other" DELETE /namespaces/company.other/kv/k
check404 "namespace file create" "namespace company.other not found" POST "/namespaces/company.other/files?path=/y.txt" --data-binary x
check404 "namespace flows replace" "namespace company.other not found" PUT /flows/company.other -H 'Content-Type: application/x-yaml' --data-binary 'id: f'
check404 "flow graph" "flow company.other.f not found" GET /flows/company.other/f/graph
check404 "flow dependencies" "flow company.other.f not found" GET /flows/company.other/f/dependencies
check404 "start by trigger route" "flow company.other.f not found" POST /executions/trigger/company.other/f
check404 "execution labels" "execution $OTHER_X not found" POST "/executions/$OTHER_X/labels" -H 'Content-Type: application/json' -d '[{"key":"k","value":"v"}]'
check404 "execution restart" "execution $OTHER_X not found" POST "/executions/$OTHER_X/restart"
check404 "execution resume" "execution $OTHER_X not found" POST "/executions/$OTHER_X/resume"
check404 "execution kill (DELETE)" "execution $OTHER_X not found" DELETE "/executions/$OTHER_X/kill"
check404 "logs follow" "execution $OTHER_X not found" GET "/logs/$OTHER_X/follow"
req GET /executions/nosuchexecution0000000
ok "a missing execution says the same" jt "d['message']=='execution nosuchexecution0000000 not found'"
for bulk in "POST /executions/kill/by-ids" "POST /executions/restart/by-ids" "DELETE /executions/by-ids"; do
    req $bulk -H 'Content-Type: application/json' -d "[\"$OTHER_X\"]"
    ok "ci: $bulk of company.other's execution says 'execution not found'" jt "[i['message'] for i in d['invalids']]==['execution not found']"
done
req POST /executions/labels/by-ids -H 'Content-Type: application/json' -d "{\"executionsId\":[\"$OTHER_X\"],\"executionLabels\":[{\"key\":\"k\",\"value\":\"v\"}]}"
ok "ci: labels by ids of company.other's execution says 'execution not found'" jt "[i['message'] for i in d['invalids']]==['execution not found']"
req PUT /triggers -H 'Content-Type: application/json' -d '{"namespace":"company.other","flowId":"f","triggerId":"t","disabled":true}'
ok "ci: trigger update on company.other is 404" code_is 404
req POST /flows -H 'Content-Type: application/x-yaml' --data-binary 'id: g
namespace: company.other
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: x'
ok "ci cannot create a flow in company.other (403)" code_is 403
req GET /flows/company.other/g
TOKEN=$ADMIN
req GET /flows/company.other/g
ok "and nothing was stored" code_is 404
TOKEN=$CI

# lists are filtered in the query: totals too
req GET "/flows/search?size=100"
ok "flow search: only company.team" jt "d['total']==1 and [f['namespace'] for f in d['results']]==['company.team']"
req GET "/executions/search?size=100"
ok "execution search: only company.team's" jt "d['total']==1 and d['results'][0]['id']=='$TEAM_X'"
req GET "/triggers/search"
ok "trigger search answers" code_is 200
req GET /users
ok "ci may not list users (403)" code_is 403
req GET /audit
ok "ci may not read the audit log (403)" code_is 403
req GET "/logs/$TEAM_X"
ok "ci reads its own logs" code_is 200
req GET "/namespaces/company.team/files?path=/doc.txt"
ok "ci reads company.team's namespace file" eval 'code_is 200 && grep -q "file of company.team" "$work/body"'
req GET "/namespaces?size=100"
ok "the namespace list shows only what ci may read" jt "[n['id'] for n in d['results']]==['company.team'] and d['total']==1"
req GET /namespaces/company.team/secrets
ok "ci lists company.team's secret names" jt "[s['name'] for s in d]==['S']"
req POST /executions/company.team/f
ok "ci (editor) starts an execution in company.team" code_is 200

# ---- a user with the viewer role, and a deny below an allow ------------------------------------------------
TOKEN=$ADMIN
req POST /users -H 'Content-Type: application/json' -d '{"username":"val","password":"correct horse"}'
ok "POST /users adds val" code_is 201
req GET /users
ok "the password is never shown" bash -c "! grep -q 'correct horse\|argon2' '$work/body'"
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"val","role":"viewer","namespace":"company.*"}'
ok "bind val viewer on company.*" code_is 201
req PUT /roles/nothing -H 'Content-Type: application/json' -d '{"statements":[{"effect":"deny","actions":["*"],"resources":["*"]}]}'
ok "a custom role" code_is 201
req PUT /roles/broken -H 'Content-Type: application/json' -d '{"statements":[{"effect":"allow","actions":["flw:read"]}]}'
ok "a role with an unknown action is refused, naming it" jt "'statements[0].actions[0]: unknown action' in d['message']"
req POST /bindings -H 'Content-Type: application/json' -d '{"principal":"val","role":"nothing","namespace":"company.team.secret.*"}'
DENY_ID=$(j "d['id']")
ok "bind val nothing on company.team.secret.*" code_is 201
req POST /tokens -H 'Content-Type: application/json' -d '{"name":"val-laptop","owner":"val"}'
VAL=$(j "d['token']")
TOKEN=$VAL
req GET /flows/company.team/f
ok "the viewer reads company.team.f" code_is 200
req POST /executions/company.team/f
ok "the viewer cannot start an execution: 403" code_is 403
req GET "/executions/$TEAM_X"
ok "the viewer reads the execution" code_is 200
req POST "/executions/$TEAM_X/kill"
ok "the viewer cannot kill it: 403" code_is 403
req PUT /flows/company.team -H 'Content-Type: application/x-yaml' --data-binary 'id: f
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: replaced'
ok "the viewer cannot replace the namespace's flows: 403" code_is 403
req GET /flows/company.team.secret/f
ok "deny on company.team.secret.* beats viewer on company.*: 404" code_is 404
req GET "/flows/search?size=100"
ok "and the search leaves it out" jt "sorted(f['namespace'] for f in d['results'])==['company.other','company.team']"
TOKEN=$ADMIN
req DELETE "/bindings/$DENY_ID"
ok "the deny binding is removed" code_is 204
TOKEN=$VAL
req GET /flows/company.team.secret/f
ok "the change applies at the next request" code_is 200

# ---- a password login (a session cookie) ----------------------------------------------------------------
JAR=$work/jar
sreq() { local m=$1 p=$2; shift 2; code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$m" -b "$JAR" -c "$JAR" "$@" "$BASE$p"); }
sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"wrong password"}'
ok "a wrong password: 401" eval 'code_is 401 && jt "d[\"reason\"]==\"invalid_password\""'
sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"correct horse"}'
ok "val logs in with a password" eval 'code_is 200 && jt "d[\"name\"]==\"val\" and d[\"role\"]==\"user\""'
VCSRF=$(j "d['csrfToken']")
sreq GET /flows/company.team/f
ok "the session reads what val may read" code_is 200
sreq GET /flows/company.other.x/f
ok "and 404 elsewhere" code_is 404
sreq POST /executions/company.team/f -H "X-CSRF-Token: $VCSRF"
ok "the session is a viewer's: starting is 403" code_is 403
TOKEN=$ADMIN
req PUT /users/val -H 'Content-Type: application/json' -d '{"password":"battery staple"}'
ok "the admin changes val's password" code_is 204
sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"correct horse"}'
ok "the old password no longer opens a session" code_is 401
sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"battery staple"}'
ok "the new one does" code_is 200

# ---- expiry and revocation ---------------------------------------------------------------------------------
TOKEN=$ADMIN
req POST /tokens -H 'Content-Type: application/json' -d '{"name":"short","bindings":[{"role":"viewer","namespace":"*"}],"expiresIn":"PT1S"}'
SHORT=$(j "d['token']")
TOKEN=$SHORT
req GET /flows/company.team/f
ok "a fresh token works" code_is 200
sleep 1.2
req GET /flows/company.team/f
ok "an expired token answers 401" code_is 401
ok "saying it expired" jt "'has expired' in d['message']"
TOKEN=$ADMIN
req DELETE "/tokens/$CI_ID"
ok "DELETE /tokens/{id} revokes" code_is 204
TOKEN=$CI
req GET /flows/company.team/f
ok "the revoked token answers 401 at once" code_is 401
ok "saying it was revoked" jt "'was revoked' in d['message']"
TOKEN=nope-not-a-token-at-all
req GET /flows/company.team/f
ok "an unknown token answers 401" code_is 401

TOKEN=$ADMIN
req PUT "/flows/company.team.secret?delete=true" -H 'Content-Type: application/x-yaml' --data-binary 'id: f
namespace: company.team.secret
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: replaced'
ok "the admin replaces company.team.secret's flows" code_is 200

# an execution killed and a trigger changed, for the audit below
req POST /flows -H 'Content-Type: application/x-yaml' --data-binary 'id: slow
namespace: company.team
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 3 * * *"
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S'
ok "the admin creates company.team.slow with a trigger" code_is 200
req POST /executions/company.team/slow
SLOW_X=$(j "d['id']")
req POST "/executions/$SLOW_X/kill"
ok "the admin kills a running execution" code_is 202
req PUT /triggers -H 'Content-Type: application/json' -d '{"namespace":"company.team","flowId":"slow","triggerId":"nightly","disabled":true}'
ok "the admin disables a trigger" code_is 200

# ---- the audit log --------------------------------------------------------------------------------------------
TOKEN=$ADMIN
req GET "/audit?size=1000"
ok "GET /audit answers" code_is 200
has() { jt "any(a['action']=='$1' and (a.get('namespace') or '')=='$2' for a in d['results'])"; }
ok "audit: flow created, with its source after" jt "any(a['action']=='flow:write' and a['namespace']=='company.team' and a['objectId']=='f' and 'hello from' in a['after']['source'] and a['principal']=='admin' and a['address']=='127.0.0.1' for a in d['results'])"
ok "audit: execution started by ci" jt "any(a['action']=='execution:create' and a['principal']=='ci' for a in d['results'])"
ok "audit: kv set" has kv:write company.team
ok "audit: execution killed, by whom" jt "any(a['action']=='execution:kill' and a['objectId']=='$SLOW_X' and a['principal']=='admin' and a['namespace']=='company.team' for a in d['results'])"
ok "audit: trigger changed, with the change" jt "any(a['action']=='trigger:write' and a['objectId']=='slow.nightly' and a['after']['disabled'] is True for a in d['results'])"
ok "audit: a namespace's flows replaced" jt "any(a['action']=='flow:replace' and a['namespace']=='company.team.secret' and a['after']['flows']==['f'] for a in d['results'])"
ok "audit: namespace file written" jt "any(a['action']=='nsfile:write' and a['namespace']=='company.team' and a['objectId']=='doc.txt' for a in d['results'])"
ok "audit: secret set, by name only" jt "any(a['action']=='secret:write' and a['objectId']=='S' for a in d['results'])"
ok "audit: never a secret's value or a token's text" bash -c "! grep -q 'secret-value\|kite_[0-9a-f]\{48\}\|correct horse' '$work/body'"
ok "audit: token created and revoked" jt "{'token:create','token:revoke'} <= {a['action'] for a in d['results']}"
ok "audit: user, role and bindings" jt "{'user:create','role:write','binding:create','binding:delete'} <= {a['action'] for a in d['results']}"
req GET "/audit?action=token:revoke"
ok "audit filters by action" jt "d['total']==1 and d['results'][0]['objectId']=='$CI_ID'"
ok "the audit log is append-only" bash -c "! sqlite3 '$DATA/kite.db' 'DELETE FROM audit' 2>/dev/null"

# failed logins are limited (per address and per user): the 11th in a minute is 429
for i in $(seq 1 10); do sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"nope nope"}'; done
sreq POST /login -H 'Content-Type: application/json' -d '{"username":"val","password":"battery staple"}'
ok "past 10 failed logins: 429 with Retry-After, even with the right password" code_is 429

stop_server TERM
ok "the server stopped cleanly" [ "$STOP_RC" -eq 0 ]
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "authz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
