#!/bin/bash
# The routes the web UI's flow dependencies tab, execution labels, bulk
# actions and dashboards read, end to end against the real `kite server
# local` with curl: GET /flows/{ns}/{id}/dependencies (Kestra's
# FlowTopologyGraph), POST /executions/{id}/labels and /labels/by-ids,
# kill/restart/delete by-ids (Kestra's BulkResponse / BulkErrorResponse),
# GET /executions/statistics; and what a token scoped to one namespace may
# do through them (nothing to another namespace's executions, and no
# number or flow of another namespace in its answers).
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash

ERR=$work/server.err
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
ok "server starts" start_server "$ERR" --data "$work/data"
ADMIN=$TOKEN

yflow() { req POST /flows -H "Content-Type: application/x-yaml" --data-binary "$1"; }

# ---- dependencies --------------------------------------------------------------------
yflow 'id: child
namespace: ui.dep
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: child'
ok "flow ui.dep.child" code_is 200
yflow 'id: parent
namespace: ui.dep
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: call
        type: io.kestra.plugin.core.flow.Subflow
        namespace: ui.dep
        flowId: child
        wait: true
      - id: dyn
        type: io.kestra.plugin.core.flow.Subflow
        namespace: ui.dep
        flowId: "{{ inputs.which ?? '"'"'child'"'"' }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: done'
ok "flow ui.dep.parent calls child from inside a Parallel" code_is 200
yflow 'id: after
namespace: ui.dep
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: after
triggers:
  - id: on_parent
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlowCondition
        namespace: ui.dep
        flowId: parent'
ok "flow ui.dep.after is triggered by parent" code_is 200
yflow 'id: pre
namespace: ui.dep
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: pre
triggers:
  - id: on_child
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: child_done
      flows:
        - namespace: ui.dep
          flowId: child
          states: [SUCCESS]'
ok "flow ui.dep.pre is triggered by child (preconditions)" code_is 200

has_edge() { jt "{'source': '$1', 'target': '$2', 'relation': '$3'} in d['edges']"; }
req GET /flows/ui.dep/parent/dependencies
ok "dependencies: 200 with nodes and edges only" eval 'code_is 200 && jt "set(d) == {\"nodes\", \"edges\"}"'
ok "dependencies: nodes are {uid, namespace, id} with Kestra's uid" jt "{'uid': 'ui.dep_parent', 'namespace': 'ui.dep', 'id': 'parent'} in d['nodes'] and all(set(n) == {'uid', 'namespace', 'id'} for n in d['nodes'])"
ok "dependencies: the nested Subflow call is FLOW_TASK" has_edge ui.dep_parent ui.dep_child FLOW_TASK
ok "dependencies: the flow its end triggers is FLOW_TRIGGER" has_edge ui.dep_parent ui.dep_after FLOW_TRIGGER
ok "dependencies: a subflow named by an expression is left out, no edge twice" jt "len(d['edges']) == 2"
ok "dependencies: every edge joins listed nodes" jt "all(e['source'] in {n['uid'] for n in d['nodes']} and e['target'] in {n['uid'] for n in d['nodes']} for e in d['edges'])"
req GET /flows/ui.dep/child/dependencies
ok "child: called by parent, triggers pre (preconditions.flows)" eval 'has_edge ui.dep_parent ui.dep_child FLOW_TASK && has_edge ui.dep_child ui.dep_pre FLOW_TRIGGER && jt "len(d[\"edges\"]) == 2"'
req GET "/flows/ui.dep/child/dependencies?destinationOnly=true"
ok "destinationOnly=true: only what ends at the flow" eval 'code_is 200 && jt "d[\"edges\"] == [{\"source\": \"ui.dep_parent\", \"target\": \"ui.dep_child\", \"relation\": \"FLOW_TASK\"}]"'
req GET "/flows/ui.dep/child/dependencies?expandAll=true"
ok "expandAll=true: followed on to parent's trigger of after" eval 'code_is 200 && has_edge ui.dep_parent ui.dep_after FLOW_TRIGGER && jt "len(d[\"edges\"]) == 3"'
req GET /flows/ui.dep/nope/dependencies
ok "dependencies of an unknown flow: 404" eval 'code_is 404 && jt "\"ui.dep.nope\" in d[\"message\"]"'
req GET /flows/ui.dep/after/dependencies
ok "after: one edge, from parent" eval 'code_is 200 && jt "d[\"edges\"] == [{\"source\": \"ui.dep_parent\", \"target\": \"ui.dep_after\", \"relation\": \"FLOW_TRIGGER\"}]"'

# ---- labels ---------------------------------------------------------------------------
yflow 'id: sleeper
namespace: ui.bulk
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S'
yflow 'id: failing
namespace: ui.bulk
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: planned'
yflow 'id: quick
namespace: ui.bulk
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: quick'
ok "bulk flows created" code_is 200
run_wait() { req POST "/executions/$1/$2?wait=true"; j "d['id']"; }
X1=$(run_wait ui.bulk quick)
X2=$(run_wait ui.bulk quick)
X3=$(run_wait ui.bulk quick)
F1=$(run_wait ui.bulk failing)
req POST /executions/ui.bulk/sleeper
S1=$(j "d['id']")
ok "executions ran: 3 quick, 1 failed, 1 sleeping" eval '[ -n "$X1" ] && [ -n "$X3" ] && [ -n "$F1" ] && wait_state "$S1" RUNNING 60'

req POST "/executions/$X1/labels" -H 'Content-Type: application/json' -d '[{"key": "team", "value": "data"}, {"key": "env", "value": "dev"}]'
ok "labels: 200 with the execution and its labels" eval 'code_is 200 && jt "d[\"id\"] == \"$X1\" and sorted((l[\"key\"], l[\"value\"]) for l in d[\"labels\"]) == [(\"env\", \"dev\"), (\"team\", \"data\")] and \"taskRunList\" in d"'
req POST "/executions/$X1/labels" -H 'Content-Type: application/json' -d '[{"key": "env", "value": "prod"}]'
ok "labels replace: only the new ones stay" eval 'code_is 200 && jt "d[\"labels\"] == [{\"key\": \"env\", \"value\": \"prod\"}]"'
req GET "/executions/$X1"
ok "and they are stored" jt "d['labels'] == [{'key': 'env', 'value': 'prod'}]"
req GET "/executions/search?namespace=ui.bulk&labels=env:prod"
ok "and searchable" jt "[x['id'] for x in d['results']] == ['$X1']"
req POST "/executions/$X1/labels" -H 'Content-Type: application/json' -d '{"key": "env"}'
ok "labels: a body that is not [{key, value}]: 400 naming it" eval 'code_is 400 && jt "\"key\" in d[\"message\"]"'
req POST "/executions/$X1/labels" -H 'Content-Type: application/json' -d '[{"key": "system.correlationId", "value": "x"}]'
ok "labels: a system. label: 400" eval 'code_is 400 && jt "\"system\" in d[\"message\"]"'
req POST "/executions/$S1/labels" -H 'Content-Type: application/json' -d '[{"key": "a", "value": "b"}]'
ok "labels of a running execution: 400 not terminated (as Kestra)" eval 'code_is 400 && jt "\"not terminated\" in d[\"message\"]"'
req POST "/executions/nope/labels" -H 'Content-Type: application/json' -d '[]'
ok "labels of an unknown execution: 404" code_is 404
req POST /executions/labels/by-ids -H 'Content-Type: application/json' -d "{\"executionsId\": [\"$X1\", \"$X2\"], \"executionLabels\": [{\"key\": \"batch\", \"value\": \"7\"}]}"
ok "labels/by-ids: {count: 2}" eval 'code_is 200 && jt "d == {\"count\": 2}"'
req GET "/executions/$X1"
ok "labels/by-ids adds: env stays, batch added" jt "sorted((l['key'], l['value']) for l in d['labels']) == [('batch', '7'), ('env', 'prod')]"

# ---- bulk kill, restart, delete ----------------------------------------------------------
req POST /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$S1\", \"nope\", \"$X3\"]"
ok "kill/by-ids with a missing and an ended id: 400, Kestra's BulkErrorResponse" eval 'code_is 400 && jt "d[\"message\"] == \"invalid bulk kill\" and sorted((i[\"invalidValue\"], i[\"message\"]) for i in d[\"invalids\"]) == sorted([(\"nope\", \"execution not found\"), (\"$X3\", \"execution already finished\")])"'
req GET "/executions/$S1"
ok "and nothing was killed" jt "d['state']['current'] == 'RUNNING'"
req DELETE /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$S1\"]"
ok "DELETE kill/by-ids (Kestra's method): {count: 1}" eval 'code_is 200 && jt "d == {\"count\": 1}"'
ok "the execution is killed" wait_state "$S1" KILLED 30
req POST /executions/restart/by-ids -H 'Content-Type: application/json' -d "[\"$F1\", \"$X3\"]"
ok "restart/by-ids with a SUCCESS one: 400 not in state FAILED" eval 'code_is 400 && jt "d[\"invalids\"] == [{\"invalidValue\": \"$X3\", \"message\": \"execution not in state FAILED\"}]"'
req POST /executions/restart/by-ids -H 'Content-Type: application/json' -d "[\"$F1\"]"
ok "restart/by-ids: {count: 1}" eval 'code_is 200 && jt "d == {\"count\": 1}"'
req GET "/executions/$F1"
ok "it restarted" jt "'RESTARTED' in [h['state'] for h in d['state']['histories']]"
req POST /executions/ui.bulk/sleeper
S2=$(j "d['id']")
wait_state "$S2" RUNNING 60
req DELETE /executions/by-ids -H 'Content-Type: application/json' -d "[\"$X2\", \"$S2\"]"
ok "DELETE by-ids with a running one: 400 not terminated, nothing deleted" eval 'code_is 400 && jt "d[\"invalids\"] == [{\"invalidValue\": \"$S2\", \"message\": \"execution is not terminated\"}]"'
req GET "/executions/$X2"
ok "X2 is still there" code_is 200
req DELETE /executions/by-ids -H 'Content-Type: application/json' -d "[\"$X2\"]"
ok "DELETE by-ids: {count: 1}" eval 'code_is 200 && jt "d == {\"count\": 1}"'
req GET "/executions/$X2"
ok "X2 is gone" code_is 404
req POST /executions/kill/by-ids -H 'Content-Type: application/json' -d '{"ids": []}'
ok "a body that is not a list: 400 naming it" eval 'code_is 400 && jt "\"list\" in d[\"message\"]"'
python3 -c "import json; print(json.dumps(['x%d' % i for i in range(1001)]))" >"$work/many.json"
req DELETE /executions/by-ids -H 'Content-Type: application/json' --data-binary @"$work/many.json"
ok "more than 1000 ids: 400" eval 'code_is 400 && jt "\"1000\" in d[\"message\"]"'
req DELETE /executions/by-ids -H 'Content-Type: application/json' -d '[]'
ok "an empty list: {count: 0}" eval 'code_is 200 && jt "d == {\"count\": 0}"'
req DELETE /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$S2\"]"
ok "the second sleeper is killed" wait_state "$S2" KILLED 30

# ---- statistics -------------------------------------------------------------------------
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
req GET "/executions/statistics?startDate=$FROM&endDate=$TO&interval=PT5M&namespace=ui.bulk"
cp "$work/body" "$work/stats.json"
ok "statistics: 200 with the four figures" eval 'code_is 200 && jt "{\"executionsPerState\", \"durations\", \"topFailing\", \"taskRunsPerType\"} <= set(d)"'
ok "statistics: one entry per 5 minutes over 2 hours, each {date, counts}" jt "len(d['executionsPerState']) == 24 and all(set(b) == {'date', 'counts'} for b in d['executionsPerState']) and d['executionsPerState'][0]['date'] == '$FROM'"
ok "statistics: the states counted (2 SUCCESS left, 2 KILLED)" jt "sum(b['counts'].get('SUCCESS', 0) for b in d['executionsPerState']) == 2 and sum(b['counts'].get('KILLED', 0) for b in d['executionsPerState']) == 2"
ok "statistics: durations of quick, p50 <= p95 in seconds" jt "[(r['count'], 0 <= r['p50'] <= r['p95'] < 60) for r in d['durations'] if r['flowId'] == 'quick'] == [(2, True)]"
ok "statistics: topFailing names failing" jt "any(r['namespace'] == 'ui.bulk' and r['flowId'] == 'failing' and r['failed'] >= 1 and r['total'] >= 1 for r in d['topFailing'])"
ok "statistics: task runs per type (Log: 2 runs, Fail: failed)" jt "[(r['count'], r['failed']) for r in d['taskRunsPerType'] if r['type'] == 'io.kestra.plugin.core.log.Log'] == [(2, 0)] and any(r['type'] == 'io.kestra.plugin.core.execution.Fail' and r['failed'] >= 1 for r in d['taskRunsPerType'])"
req GET "/executions/statistics?startDate=$FROM&endDate=$TO&interval=PT5M&namespace=ui.bulk&flowId=quick"
ok "statistics ?flowId: that flow only" jt "sum(sum(b['counts'].values()) for b in d['executionsPerState']) == 2 and d['topFailing'] == []"
req GET "/executions/statistics"
ok "statistics without a query: the last day, by default intervals" eval 'code_is 200 && jt "len(d[\"executionsPerState\"]) >= 24"'
req GET "/executions/statistics?startDate=$FROM&endDate=$TO&interval=PT1S"
ok "statistics: too many intervals: 400 naming interval" eval 'code_is 400 && jt "\"interval\" in d[\"message\"]"'
req GET "/executions/statistics?startDate=yesterday"
ok "statistics: a bad startDate: 400 naming it" eval 'code_is 400 && jt "\"startDate\" in d[\"message\"]"'
req GET "/executions/statistics?startDate=$TO&endDate=$FROM"
ok "statistics: endDate before startDate: 400" code_is 400
req GET "/executions/statistics?interval=P1M"
ok "statistics: a month interval (no fixed length): 400" code_is 400

# ---- a token scoped to company.team ------------------------------------------------------
for ns in company.team company.other; do
    yflow "id: f
namespace: $ns
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi"
    yflow "id: slow
namespace: $ns
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S"
done
yflow 'id: caller
namespace: company.other
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: f'
TEAM_X=$(run_wait company.team f)
OTHER_X=$(run_wait company.other f)
OTHER_Y=$(run_wait company.other f)
req POST /executions/company.other/slow
OTHER_S=$(j "d['id']")
req POST /executions/company.team/slow
TEAM_S=$(j "d['id']")
wait_state "$OTHER_S" RUNNING 60
ok "company executions ran" eval '[ -n "$TEAM_X" ] && [ -n "$OTHER_X" ] && wait_state "$TEAM_S" RUNNING 60'
req POST /tokens -H 'Content-Type: application/json' -d '{"name":"team-ci","bindings":[{"role":"editor","namespace":"company.team"}],"expiresIn":"P1D"}'
TEAM_TOKEN=$(j "d['token']")
req POST /tokens -H 'Content-Type: application/json' -d '{"name":"team-viewer","bindings":[{"role":"viewer","namespace":"company.team"}],"expiresIn":"P1D"}'
VIEW_TOKEN=$(j "d['token']")
ok "tokens for company.team (editor, viewer)" eval '[ -n "$TEAM_TOKEN" ] && [ -n "$VIEW_TOKEN" ]'

TOKEN=$TEAM_TOKEN
req DELETE /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$OTHER_S\"]"
ok "scoped: kill/by-ids of company.other's execution: 400 'execution not found' (no leak)" eval 'code_is 400 && jt "d[\"invalids\"] == [{\"invalidValue\": \"$OTHER_S\", \"message\": \"execution not found\"}]"'
req POST /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$OTHER_S\", \"$TEAM_S\"]"
ok "scoped: mixed with its own: refused whole, its own not killed either" eval 'code_is 400 && jt "[i[\"invalidValue\"] for i in d[\"invalids\"]] == [\"$OTHER_S\"]"'
req DELETE /executions/by-ids -H 'Content-Type: application/json' -d "[\"$OTHER_X\"]"
ok "scoped: delete/by-ids of company.other's: 400 not found" eval 'code_is 400 && jt "d[\"invalids\"][0][\"message\"] == \"execution not found\""'
req POST /executions/labels/by-ids -H 'Content-Type: application/json' -d "{\"executionsId\": [\"$OTHER_Y\"], \"executionLabels\": [{\"key\": \"pwned\", \"value\": \"1\"}]}"
ok "scoped: labels/by-ids of company.other's: 400 not found" eval 'code_is 400 && jt "d[\"invalids\"][0][\"message\"] == \"execution not found\""'
req POST "/executions/$OTHER_Y/labels" -H 'Content-Type: application/json' -d '[{"key": "pwned", "value": "1"}]'
ok "scoped: POST /executions/{other}/labels: 404 as a missing one" eval 'code_is 404 && jt "d[\"message\"] == \"execution $OTHER_Y not found\""'
req POST /executions/restart/by-ids -H 'Content-Type: application/json' -d "[\"$OTHER_X\"]"
ok "scoped: restart/by-ids of company.other's: 400 not found" eval 'code_is 400 && jt "d[\"invalids\"][0][\"message\"] == \"execution not found\""'
TOKEN=$ADMIN
req GET "/executions/$OTHER_S"
ok "company.other's execution still runs" jt "d['state']['current'] == 'RUNNING'"
req GET "/executions/$TEAM_S"
ok "and the team's one too (a refused bulk does nothing)" jt "d['state']['current'] == 'RUNNING'"
req GET "/executions/$OTHER_X"
ok "company.other's ended one is still there, unlabelled" eval 'code_is 200 && jt "d[\"labels\"] == [] or all(l[\"key\"] != \"pwned\" for l in d[\"labels\"])"'
req GET "/executions/$OTHER_Y"
ok "no label was written on company.other's" jt "all(l['key'] != 'pwned' for l in d['labels'])"
TOKEN=$VIEW_TOKEN
req POST /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$TEAM_S\"]"
ok "viewer: kill/by-ids of its own namespace: 400 not allowed, naming the action" eval 'code_is 400 && jt "d[\"invalids\"][0][\"message\"] == \"not allowed: execution:kill in namespace company.team\""'
TOKEN=$TEAM_TOKEN
req DELETE /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$TEAM_S\"]"
ok "scoped: kill/by-ids of its own: {count: 1}" eval 'code_is 200 && jt "d == {\"count\": 1}"'
ok "it is killed" wait_state "$TEAM_S" KILLED 30
req GET "/executions/statistics?startDate=$FROM&endDate=$TO"
ok "scoped statistics: only company.team's numbers" eval 'code_is 200 && jt "sum(sum(b[\"counts\"].values()) for b in d[\"executionsPerState\"]) == 2 and {r[\"namespace\"] for r in d[\"durations\"]} == {\"company.team\"}"'
req GET "/executions/statistics?startDate=$FROM&endDate=$TO&namespace=company.other"
ok "scoped statistics of company.other: nothing" jt "sum(sum(b['counts'].values()) for b in d['executionsPerState']) == 0 and d['durations'] == [] and d['taskRunsPerType'] == []"
req GET /flows/company.team/f/dependencies
ok "scoped dependencies: company.other's caller does not show" eval 'code_is 200 && jt "d[\"edges\"] == [] and [n[\"uid\"] for n in d[\"nodes\"]] == [\"company.team_f\"]"'
req GET /flows/company.other/caller/dependencies
ok "scoped dependencies of company.other's flow: 404" code_is 404
TOKEN=$ADMIN
req GET /flows/company.team/f/dependencies
ok "the admin sees company.other's caller" has_edge company.other_caller company.team_f FLOW_TASK
req DELETE /executions/kill/by-ids -H 'Content-Type: application/json' -d "[\"$OTHER_S\"]"

# ---- an execution's task runs in pages, and folded into groups -------------------------------
yflow 'id: each5
namespace: ui.tr
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a, b, c, d, e]
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"'
ok "flow ui.tr.each5" code_is 200
req POST "/executions/ui.tr/each5?wait=true"
TRX=$(python3 -c "import json; print(json.load(open('$work/body'))['id'])")
req GET "/executions/$TRX?taskRunsMax=6"
ok "taskRunsMax=6 with 6 task runs: the usual execution" eval 'code_is 200 && jt "len(d[\"taskRunList\"]) == 6 and \"taskRunCount\" not in d"'
req GET "/executions/$TRX?taskRunsMax=3"
ok "taskRunsMax=3: no taskRunList, taskRunCount 6, the rest as usual" eval 'code_is 200 && jt "\"taskRunList\" not in d and d[\"taskRunCount\"] == 6 and d[\"state\"][\"current\"] == \"SUCCESS\" and d[\"flowId\"] == \"each5\""'
req GET "/executions/$TRX?taskRunsMax=many"
ok "taskRunsMax=many: 400 naming it" eval 'code_is 400 && jt "\"taskRunsMax\" in d[\"message\"]"'
req GET "/executions/$TRX/taskruns/groups"
ok "groups: the ForEach alone (its run inside), its 5 iterations folded with counts and span" eval 'code_is 200 && jt "d[\"total\"] == 6 and [(g[\"taskId\"], g[\"count\"], g[\"depth\"], g[\"counts\"]) for g in d[\"results\"]] == [(\"each\", 1, 0, {\"SUCCESS\": 1}), (\"item\", 5, 1, {\"SUCCESS\": 5})] and d[\"results\"][0][\"taskRun\"][\"taskId\"] == \"each\" and \"taskRun\" not in d[\"results\"][1] and d[\"results\"][1][\"parentTaskRunId\"] == d[\"results\"][0][\"taskRun\"][\"id\"] and d[\"results\"][1][\"startDate\"] <= d[\"results\"][1][\"endDate\"]"'
PARENT=$(python3 -c "import json; print(json.load(open('$work/body'))['results'][1]['parentTaskRunId'])")
req GET "/executions/$TRX/taskruns?parentTaskRunId=$PARENT&taskId=item&size=2&page=3"
ok "a group's runs, page 3 of size 2: the 5th, total 5, as taskRunList has it" eval 'code_is 200 && jt "d[\"total\"] == 5 and [r[\"value\"] for r in d[\"results\"]] == [\"e\"] and d[\"results\"][0][\"outputs\"] == {\"value\": \"e\"}"'
req GET "/executions/$TRX/taskruns?parentTaskRunId="
ok "parentTaskRunId= (empty): the top level only" eval 'code_is 200 && jt "d[\"total\"] == 1 and d[\"results\"][0][\"taskId\"] == \"each\""'
req GET "/executions/$TRX/taskruns?state=FAILED"
ok "state=FAILED: none" eval 'code_is 200 && jt "d == {\"results\": [], \"total\": 0}"'
req GET "/executions/$TRX/taskruns?state=NOPE"
ok "state=NOPE: 400" code_is 400
req GET "/executions/nosuchexecution0000000/taskruns"
ok "an unknown execution: 404" code_is 404

# ---- the OpenAPI document ------------------------------------------------------------------
req GET /openapi.json
ok "OpenAPI lists the new routes" jt "all(p in d['paths'] for p in ['/api/v1/flows/{namespace}/{id}/dependencies', '/api/v1/executions/statistics', '/api/v1/executions/kill/by-ids', '/api/v1/executions/restart/by-ids', '/api/v1/executions/by-ids', '/api/v1/executions/{id}/labels', '/api/v1/executions/labels/by-ids']) and 'delete' in d['paths']['/api/v1/executions/kill/by-ids'] and 'application/json' in d['paths']['/api/v1/executions/by-ids']['delete']['requestBody']['content']"

ok "OpenAPI: query parameters with types, enums from the server's tables" jt "
[p for p in d['paths']['/api/v1/executions/search']['get']['parameters'] if p['name'] == 'state'][0] == {'name': 'state', 'in': 'query', 'required': False, 'explode': True, 'schema': {'type': 'array', 'items': {'type': 'string', 'enum': ['CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'KILLING', 'SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRYING', 'RETRIED', 'SKIPPED']}}}
and {'name': 'path', 'in': 'query', 'required': True, 'schema': {'type': 'string'}} in d['paths']['/api/v1/namespaces/{namespace}/files']['get']['parameters']
and {'name': 'startDate', 'in': 'query', 'required': False, 'schema': {'type': 'string', 'format': 'date-time'}} in d['paths']['/api/v1/executions/statistics']['get']['parameters']
and [p['schema'] for p in d['paths']['/api/v1/plugins']['get']['parameters']] == [{'type': 'string', 'enum': ['task', 'runnable', 'flowable', 'trigger', 'condition', 'runner', 'other']}]
and [p['schema']['enum'] for p in d['paths']['/api/v1/logs/{executionId}']['get']['parameters'] if p['name'] == 'minLevel'] == [['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']]"

# Every documented query parameter, one at a time, with a value of its type: the
# server takes it (no 400, no 5xx; 404 only where the sample names nothing). An
# unknown parameter is ignored, as Kestra's server ignores it: the same status.
# A handler reading a parameter its route does not document writes "internal
# error" on stderr, which the no_sanitizer_reports check at the end fails on.
yflow 'id: f
namespace: ui.q
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello'
ok "flow ui.q.f" code_is 200
req POST "/executions/ui.q/f?wait=true"
QX=$(python3 -c "import json; print(json.load(open('$work/body'))['id'])")
QTR=$(python3 -c "import json; print(json.load(open('$work/body'))['taskRunList'][0]['id'])")
req PUT "/namespaces/ui.q/files?path=/q.txt" -H 'Content-Type: text/plain' --data-binary 'q'
ok "a namespace file for the query checks" code_is 204
req GET /openapi.json
cp "$work/body" "$work/openapi.json"
ok "every documented query parameter is accepted, an unknown one ignored" python3 - "$BASE" "$TOKEN" "$work/openapi.json" "$QX" "$QTR" <<'PY'
import json, sys, urllib.request, urllib.error, urllib.parse
base, token, doc, xid, trid = sys.argv[1:6]
d = json.load(open(doc))
flow_yaml = 'id: f\nnamespace: ui.q\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n'
path_vals = {'namespace': 'ui.q', 'flowId': 'f', 'executionId': xid}
samples = {'path': '/q.txt', 'taskRunId': trid, 'namespace': 'ui.q', 'flowId': 'f', 'taskId': 'hello', 'q': 'f'}
typed = {'integer': '1', 'boolean': 'true'}
def call(method, url, body=None, ctype=None):
    req = urllib.request.Request(url, method=method, data=body, headers={'Authorization': 'Bearer ' + token})
    if ctype: req.add_header('Content-Type', ctype)
    try:
        with urllib.request.urlopen(req, timeout=60) as r: r.read(); return r.status
    except urllib.error.HTTPError as e: e.read(); return e.code
def sample(p):
    s = p['schema']
    if s.get('type') == 'array': s = s['items']
    if 'enum' in s: return s['enum'][0]
    if 'pattern' in s: return 'team:q'  # the label pattern
    if s.get('format') == 'date-time': return '2026-01-01T00:00:00Z'
    if s.get('format') == 'duration': return 'PT1H'
    return typed.get(s.get('type'), samples.get(p['name'], 'x'))
bad, tried = [], 0
for pat, ops in d['paths'].items():
    for method, op in ops.items():
        qs = [p for p in op.get('parameters', []) if p['in'] == 'query']
        if not qs or pat.endswith('/follow') and method == 'get' and 'executions' in pat:
            continue
        def url(extra):
            u = pat.replace('/api/v1', base, 1)
            for k, v in path_vals.items(): u = u.replace('{%s}' % k, urllib.parse.quote(v))
            u = u.replace('{id}', 'f' if '/flows/' in pat else xid)
            q = [(p['name'], sample(p)) for p in qs if p['required']] + extra
            return u + ('?' + urllib.parse.urlencode(q) if q else '')
        body, ctype = None, None
        if method == 'put' and pat.endswith('/flows/{namespace}'): body, ctype = flow_yaml.encode(), 'application/x-yaml'
        elif method in ('put', 'post') and pat.endswith('/files'): body, ctype = b'q', 'text/plain'
        if method == 'delete':  # deleting /q.txt: put it back after
            def again(): call('PUT', base + '/namespaces/ui.q/files?path=/q.txt', b'q', 'text/plain')
        else:
            def again(): pass
        plain = call(method.upper(), url([]), body, ctype); again()
        for p in qs:
            st = call(method.upper(), url([] if p['required'] else [(p['name'], sample(p))]), body, ctype); again(); tried += 1
            if st == 400 or st >= 500 or (st == 404 and not pat.endswith('/file')):
                bad.append('%s %s ?%s=%s: %d' % (method.upper(), pat, p['name'], sample(p), st))
        if method == 'get':
            st = call('GET', url([('kiteNoSuchParameter', '1')]))
            if st != plain:
                bad.append('GET %s with an unknown parameter: %d, without: %d' % (pat, st, plain))
for b in bad: print('   ', b)
print('    %d parameters tried' % tried)
sys.exit(1 if bad or tried < 40 else 0)
PY
req GET "/executions/search?state=NOPE"
ok "a value outside a documented enum: 400 naming the parameter" eval 'code_is 400 && jt "\"state\" in d[\"message\"]"'

stop_server
ok "no sanitizer reports" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
