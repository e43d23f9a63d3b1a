#!/bin/bash
# The core types real flows trip on, end to end through `kite run`: the
# script languages run where their interpreter is installed (perl here, a
# stand-in ruby on the task's PATH) and fail with "<bin>: not installed on
# this host" where it is not; SetVariables/UnsetVariables, Kill, Resume,
# Count, the purge tasks, FilterItems/DeduplicateItems; the worker pool sized
# for tasks that wait. One PASS/FAIL line per case.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ok() { echo "PASS $1"; }
ko() { echo "FAIL $1: $2"; [ -f "$work/err" ] && grep -v ' INFO ' "$work/err" | tail -10 | sed 's/^/    /'; }
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then ok "$1"; else ko "$1" "'$3' not in $2"; fi
}
# run NAME FLOWFILE [args...]: stderr in $work/err, stdout in $work/out, the
# final state in $state
run() {
    local n=$1 flow=$2
    shift 2
    timeout 60 "$KITE" run "$flow" --data "$work/data-$n" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}
want_state() { # name, state
    if [ "$state" = "$2" ]; then ok "$1"; else ko "$1" "ended '$state', expected $2"; fi
}

# ---- script languages ---------------------------------------------------------
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "stand-in ruby ran $(basename "$1")"\necho "::{\\"outputs\\":{\\"rb\\":1}}::"\n' >"$work/bin/ruby"
chmod +x "$work/bin/ruby"
cat >"$work/langs.yaml" <<EOF
id: langs
namespace: e2e.core
tasks:
  - id: pl
    type: io.kestra.plugin.scripts.perl.Script
    script: |
      my \$n = 6 * 7;
      print "::{\"outputs\":{\"n\":\$n}}::\n";
  - id: plc
    type: io.kestra.plugin.scripts.perl.Commands
    commands:
      - perl -e 'print "hello from perl ", 1 + 1, "\n"'
  - id: rb
    type: io.kestra.plugin.scripts.ruby.Script
    env:
      PATH: "$work/bin:/usr/bin:/bin"
    script: puts 1
  - id: check
    type: io.kestra.plugin.core.log.Log
    message: "perl said {{ outputs.pl.vars.n }}, ruby {{ outputs.rb.vars.rb }}"
EOF
run langs "$work/langs.yaml"
want_state "scripts: perl Script and Commands, ruby where installed: SUCCESS" SUCCESS
has "scripts: perl Commands ran" "$work/err" "hello from perl 2"
has "scripts: a Script's outputs are read in perl and ruby" "$work/err" "perl said 42, ruby 1"
has "scripts: a Ruby Script runs the .rb file with ruby" "$work/err" ".rb"
for l in ruby:ruby:Commands r:Rscript:Script julia:julia:Commands powershell:pwsh:Script go:go:Script lua:lua:Commands php:php:Script; do
    IFS=: read -r pkg bin form <<<"$l"
    if [ "$form" = Commands ]; then body='    commands: ["echo hi"]'; else body='    script: "x"'; fi
    cat >"$work/missing.yaml" <<EOF
id: missing
namespace: e2e.core
tasks:
  - id: s
    type: io.kestra.plugin.scripts.$pkg.$form
    env:
      PATH: "$work/empty"
$body
EOF
    run "missing-$pkg" "$work/missing.yaml"
    if [ "$state" = FAILED ] && grep -qF "$bin: not installed on this host" "$work/err"; then
        ok "scripts: $pkg.$form without $bin fails, naming it"
    else
        ko "scripts: $pkg.$form without $bin fails, naming it" "state '$state'"
    fi
done
"$KITE" validate "$work/langs.yaml" >"$work/out" 2>&1
if grep -q "declared but kite cannot run" "$work/out"; then ko "validate: no script language is declared only" "$(cat "$work/out")"; else ok "validate: no script language is declared only"; fi

# ---- SetVariables, UnsetVariables ---------------------------------------------------
cat >"$work/vars.yaml" <<'EOF'
id: vars
namespace: e2e.core
variables:
  name: World
  nested: {a: 1, b: 2}
tasks:
  - id: set
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: "{{ 'Lo' ~ 'ic' }}"
      nested: {b: 3}
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.message }} {{ vars.name }} {{ vars.nested.a }}{{ vars.nested.b }}"
  - id: unset
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [message]
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "message defined: {{ vars.message is defined }}"
  - id: again
    type: io.kestra.plugin.core.execution.SetVariables
    overwrite: false
    variables: {name: x}
EOF
run vars "$work/vars.yaml"
has "SetVariables: rendered, deep-merged into vars" "$work/err" "Hello Loic 13"
has "UnsetVariables: the variable is gone" "$work/err" "message defined: false"
has "SetVariables: overwrite false fails on an existing name" "$work/err" "variable 'name' already exists and overwrite is false"
want_state "SetVariables: ... and the execution fails" FAILED
cat >"$work/unset.yaml" <<'EOF'
id: unset
namespace: e2e.core
tasks:
  - id: unset
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables: [nope]
EOF
run unset "$work/unset.yaml"
has "UnsetVariables: a missing name fails unless ignoreMissing" "$work/err" "variable 'nope' does not exist"

# ---- Kill, Resume ------------------------------------------------------------------------
cat >"$work/kill.yaml" <<'EOF'
id: kill
namespace: e2e.core
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: long
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT30S
      - id: k
        type: io.kestra.plugin.core.execution.Kill
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: never ran
EOF
t0=$(date +%s)
run kill "$work/kill.yaml"
want_state "Kill: the current execution ends KILLED" KILLED
if grep -q "never ran" "$work/err"; then ko "Kill: nothing runs after it" "the next task ran"; else ok "Kill: nothing runs after it"; fi
if [ $(($(date +%s) - t0)) -lt 25 ]; then ok "Kill: the running Sleep is stopped"; else ko "Kill: the running Sleep is stopped" "it ran its 30 s"; fi
cat >"$work/resume.yaml" <<'EOF'
id: resume
namespace: e2e.core
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: wait
        type: io.kestra.plugin.core.flow.Pause
        onResume:
          - id: answer
            type: STRING
            defaults: none
      - id: go
        type: io.kestra.plugin.core.execution.Resume
        inputs:
          answer: "yes"
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "answer {{ outputs.wait.answer }}"
EOF
run resume "$work/resume.yaml"
want_state "Resume: resumes the Pause of another branch" SUCCESS
has "Resume: its inputs reach the paused task's outputs" "$work/err" "answer yes"
cat >"$work/resume2.yaml" <<'EOF'
id: resume2
namespace: e2e.core
tasks:
  - id: go
    type: io.kestra.plugin.core.execution.Resume
    executionId: "0VnoSuchExecution"
EOF
run resume2 "$work/resume2.yaml"
has "Resume: an unknown execution is named" "$work/err" "no execution '0VnoSuchExecution'"

# ---- FilterItems, DeduplicateItems, Count, PurgeExecutions ------------------------------
cat >"$work/items.yaml" <<'EOF'
id: items
namespace: e2e.core
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:1,name:"a",n:null}
      {id:2,name:"b",n:5}
      {"id":3,"name":"a","n":7}
      {id:4,name:'c',n:1.5d0,at:2024-01-02T03:04:05Z}
  - id: f
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.w.uri }}"
    filterCondition: "{{ n == null }}"
    filterType: EXCLUDE
  - id: big
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.w.uri }}"
    filterCondition: "{{ n > 4 }}"
    errorOrNullBehavior: EXCLUDE
  - id: d
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.w.uri }}"
    expr: "{{ name }}"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message:
      - "f={{ outputs.f.processedItemsTotal }}/{{ outputs.f.droppedItemsTotal }} ids={{ read(outputs.f.uri) | trim | replace({'\n': ' '}) }}"
      - "big ids={{ read(outputs.big.uri) | trim | replace({'\n': ' '}) }}"
      - "d={{ outputs.d.numKeys }}/{{ outputs.d.droppedItemsTotal }} ids={{ read(outputs.d.uri) | trim | replace({'\n': ' '}) }}"
  - id: count
    type: io.kestra.plugin.core.execution.Count
    startDate: "{{ now() | dateAdd(-1, 'DAYS') }}"
    namespaces: [e2e.core]
    states: [KILLED]
    expression: "{{ count >= 1 }}"
  - id: c
    type: io.kestra.plugin.core.log.Log
    message: "count {{ (outputs.count.results | first).flowId }} total {{ outputs.count.total }}"
  - id: purge
    type: io.kestra.plugin.core.execution.PurgeExecutions
    endDate: "{{ now() }}"
    namespace: e2e.core
    flowId: kill
  - id: recount
    type: io.kestra.plugin.core.execution.Count
    startDate: "{{ now() | dateAdd(-1, 'DAYS') }}"
    flows: [{namespace: e2e.core, flowId: kill}]
    expression: "{{ count == 0 }}"
  - id: c2
    type: io.kestra.plugin.core.log.Log
    message: "purged {{ outputs.purge.executionsCount }}, left {{ outputs.recount.results | length }}:{{ outputs.recount.total }}"
EOF
run items "$work/items.yaml" --data "$work/data-kill"
want_state "items: the flow ends SUCCESS" SUCCESS
has "FilterItems: EXCLUDE drops the matching items (ION and JSON lines), lines kept as written" "$work/err" \
    'f=4/1 ids={id:2,name:"b",n:5} {"id":3,"name":"a","n":7} {id:4,name:'"'"'c'"'"',n:1.5d0,at:2024-01-02T03:04:05Z}'
has "FilterItems: errorOrNullBehavior EXCLUDE drops an item whose condition fails" "$work/err" \
    'big ids={id:2,name:"b",n:5} {"id":3,"name":"a","n":7}'
has "DeduplicateItems: the last item of each key, in the file's order" "$work/err" \
    'd=3/1 ids={id:2,name:"b",n:5} {"id":3,"name":"a","n":7} {id:4,name:'"'"'c'"'"',n:1.5d0,at:2024-01-02T03:04:05Z}'
has "Count: counts the flow's executions in the states given" "$work/err" "count kill total 1"
has "PurgeExecutions: deletes the flow's ended executions" "$work/err" "purged 1, left 1:0"

# ---- PurgeKV, PurgeLogs, PurgeFlows, PurgeFiles ------------------------------------------
cat >"$work/purgekv.yaml" <<'EOF'
id: purgekv
namespace: e2e.core
tasks:
  - id: short
    type: io.kestra.plugin.core.kv.Set
    key: short
    value: 1
    ttl: PT1S
  - id: keep
    type: io.kestra.plugin.core.kv.Set
    key: keep
    value: 2
  - id: tmp
    type: io.kestra.plugin.core.kv.Set
    key: tmp1
    value: 3
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
  - id: expired
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [e2e.core]
  - id: bypattern
    type: io.kestra.plugin.core.kv.PurgeKV
    keyPattern: "tmp*"
    behavior: {type: key, expiredOnly: false}
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "expired {{ outputs.expired.size }} bypattern {{ outputs.bypattern.size }} left {{ outputs.keys['keys'] }}"
EOF
run purgekv "$work/purgekv.yaml"
has "PurgeKV: the expired keys by default, then those of keyPattern" "$work/err" 'expired 1 bypattern 1 left ["keep"]'
printf 'id: rev\nnamespace: e2e.core\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: one\n' >"$work/rev.yaml"
run rev1 "$work/rev.yaml" --data "$work/data-purge"
sed -i 's/message: one/message: two/' "$work/rev.yaml"
run rev2 "$work/rev.yaml" --data "$work/data-purge"
cat >"$work/purge2.yaml" <<'EOF'
id: purge2
namespace: e2e.core
tasks:
  - id: flows
    type: io.kestra.plugin.core.flow.PurgeFlows
    flowPattern: "re?"
  - id: logs
    type: io.kestra.plugin.core.log.PurgeLogs
    namespace: e2e.core
    flowId: rev
    endDate: "{{ now() }}"
  - id: again
    type: io.kestra.plugin.core.log.PurgeLogs
    namespace: e2e.core
    flowId: rev
    endDate: "{{ now() }}"
  - id: files
    type: io.kestra.plugin.core.namespace.PurgeFiles
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "revisions {{ outputs.flows.count }} logs {{ outputs.logs.count > 0 }} again {{ outputs.again.count }} files {{ outputs.files.size }}"
EOF
run purge2 "$work/purge2.yaml" --data "$work/data-purge"
has "PurgeFlows: the old revision goes, the latest stays; PurgeLogs: the flow's logs, then none" "$work/err" \
    "revisions 1 logs true again 0 files 0"
has "PurgeFiles: says there is nothing older to purge" "$work/err" "kite keeps only their latest version"

# ---- Loop -------------------------------------------------------------------------------------
cat >"$work/loop.yaml" <<'EOF'
id: loop
namespace: e2e.core
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "l1\nl2\n"
  - id: list
    type: io.kestra.plugin.core.flow.Loop
    values: ["v1", "v2", "v3"]
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "list {{ item.index }}={{ item.value }}"
  - id: map
    type: io.kestra.plugin.core.flow.Loop
    values: {a: 1, b: 2}
    concurrencyLimit: 1
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: saymap
            type: io.kestra.plugin.core.log.Log
            message: "map {{ item.key }}={{ item.value }}"
  - id: lines
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ outputs.w.uri }}"
    tasks:
      - id: sayline
        type: io.kestra.plugin.core.log.Log
        message: "line {{ item.index }}={{ item.value }}"
  - id: soft
    type: io.kestra.plugin.core.flow.Loop
    values: [1, 2]
    transmitFailed: false
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ item.value == 1 }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after the loops"
EOF
run loop "$work/loop.yaml"
has "Loop: item.index and item.value over a list" "$work/err" "list 2=v3"
has "Loop: item.key over a map, nested tasks see it" "$work/err" "map b=2"
has "Loop: one iteration per line of a file" "$work/err" "line 1=l2"
has "Loop: transmitFailed false keeps the flow going" "$work/err" "after the loops"
want_state "Loop: ... ending WARNING" WARNING
printf 'id: lb\nnamespace: e2e.core\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.flow.Loop\n    values: [1]\n    breakWhen: "{{ true }}"\n    tasks:\n      - id: x\n        type: io.kestra.plugin.core.log.Log\n        message: x\n' >"$work/lb.yaml"
run lb "$work/lb.yaml"
has "Loop: breakWhen is refused before the run, saying kite does not run it yet" "$work/err" "lb.yaml:7:5: error: task 'l': property 'breakWhen' is not run by kite yet"
"$KITE" validate "$work/lb.yaml" >"$work/out" 2>&1
has "Loop: kite validate says so too" "$work/out" "property 'breakWhen' is not run by kite yet"

# ---- internal-storage URIs in a script are downloaded to the working folder --------------
cat >"$work/uris.yaml" <<'EOF'
id: uris
namespace: e2e.core
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "row one\nrow two\n"
    extension: .csv
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - wc -l < {{ outputs.w.uri }} | tr -d ' ' | sed 's/^/lines=/'
      - test -f "$(basename {{ outputs.w.uri }})" && echo "copied into the working folder"
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      print(open("{{ outputs.w.uri }}").read().split("\n")[1])
EOF
run uris "$work/uris.yaml"
has "script URIs: a kestra:/// URI in commands is read as a local file" "$work/err" "lines=2"
has "script URIs: the copy is in the working folder" "$work/err" "copied into the working folder"
has "script URIs: a kestra:/// URI in a Script too" "$work/err" "row two"

# ---- the tasks variable, tasksWithState, isFileEmpty, fileURI, randomPort -----------------
cat >"$work/funcs.yaml" <<'EOF'
id: funcs
namespace: e2e.core
tasks:
  - id: main
    type: io.kestra.plugin.core.debug.Return
    format: hi
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
  - id: soft
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: empty
    type: io.kestra.plugin.core.storage.Write
    content: ""
  - id: show
    type: io.kestra.plugin.core.log.Log
    message:
      - "main {{ tasks.main.state }} inner-b {{ tasks.inner.b.state }}"
      - "failed {{ tasksWithState('FAILED') | length }}:{{ (tasksWithState('failed') | first).taskId }}"
      - "empty {{ isFileEmpty(outputs.empty.uri) }} uri {{ fileURI('scripts/a.py') }}"
      - "port {{ randomPort() > 0 }}"
EOF
run funcs "$work/funcs.yaml"
has "tasks: tasks.<id>.state and tasks.<id>.<value>.state" "$work/err" "main SUCCESS inner-b SUCCESS"
has "tasksWithState(): the runs in a state, as {taskId, state, value}" "$work/err" "failed 1:soft"
has "isFileEmpty() and fileURI()" "$work/err" "empty true uri kestra:///e2e/core/_files/scripts/a.py"
has "randomPort(): a port" "$work/err" "port true"

# ---- metrics: kite run --json and GET /api/v1/metrics/{executionId} ------------------------
cat >"$work/metrics.yaml" <<'EOF'
id: metrics
namespace: e2e.core
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      from kestra import Kestra
      Kestra.counter("rows", 42, {"table": "t1"})
      Kestra.timer("load", 1.5)
EOF
run metrics "$work/metrics.yaml" --json --quiet
if python3 - "$work/out" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
m = {x["name"]: x for x in j["metrics"]}
r, t = m["rows"], m["load"]
assert r["type"] == "counter" and r["value"] == 42 and r["tags"] == {"table": "t1"}, r
assert t["type"] == "timer" and t["value"] == 1.5, t
for x in (r, t):
    assert x["taskId"] == "py" and x["taskRunId"] and x["timestamp"] and x["executionId"] == j["id"], x
EOF
then ok "metrics: kite run --json lists the task metrics (MetricEntry)"; else ko "metrics: kite run --json lists the task metrics" "$(head -c 600 "$work/out")"; fi

# ---- did you mean: only inside a family kite has ---------------------------------------------
printf 'id: dym\nnamespace: e2e.core\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Lgo\n    message: x\n  - id: b\n    type: io.kestra.plugin.nosuchfamily.Run\n  - id: c\n    type: io.kestra.plugin.scrpts.python.Script\n' >"$work/dym.yaml"
"$KITE" validate "$work/dym.yaml" >"$work/err" 2>&1
has "validate: a near miss inside a family is suggested" "$work/err" "(did you mean 'io.kestra.plugin.core.log.Log'?)"
has "validate: a family kite does not have is named" "$work/err" "no \`io.kestra.plugin.nosuchfamily\` tasks in kite yet"
has "validate: a misspelt family is still that family" "$work/err" "did you mean 'io.kestra.plugin.scripts.python.Script'"
printf 'id: dym2\nnamespace: e2e.core\ntasks:\n  - id: a\n    type: io.kestra.plugin.aws.sns.Publish\n' >"$work/dym2.yaml"
"$KITE" validate "$work/dym2.yaml" >"$work/err" 2>&1
has "validate: a family next to one kite has is named missing, with the one kite has" "$work/err" \
    "dym2.yaml:5:11: error: unknown task type 'io.kestra.plugin.aws.sns.Publish': no \`io.kestra.plugin.aws.sns\` tasks in kite yet (kite has \`io.kestra.plugin.aws.s3\` tasks)"

# ---- kite run --flows: one line for the invalid files the flow does not call -------------------
mkdir -p "$work/flowsdir"
for n in 1 2 3; do printf 'id: broken%s\nnamespace: e2e.core\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Lgo\n' "$n" >"$work/flowsdir/broken$n.yaml"; done
printf 'id: child\nnamespace: e2e.core\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n' >"$work/flowsdir/child.yaml"
printf 'id: parent\nnamespace: e2e.core\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: e2e.core\n    flowId: child\n' >"$work/parent.yaml"
run flowsdir "$work/parent.yaml" --flows "$work/flowsdir"
has "run --flows: one summary line for the files not called" "$work/err" "3 invalid flow files in $work/flowsdir skipped (not called by this flow): "
if grep -q "broken2.yaml:5" "$work/err"; then ko "run --flows: no full errors for them" "$(grep broken2 "$work/err")"; else ok "run --flows: no full errors for them"; fi
has "run --flows: the full error of the subflow it calls" "$work/err" "child.yaml:6"
has "run --flows: ... named as skipped" "$work/err" "skipped $work/flowsdir/child.yaml (not valid; the flow calls e2e.core.child)"

# ---- prefill, taskCache, assets, encryptedOutputs ---------------------------------------------
cat >"$work/newer.yaml" <<'EOF'
id: newer
namespace: e2e.core
inputs:
  - id: who
    type: STRING
    required: false
    prefill: someone
tasks:
  - id: cached
    type: io.kestra.plugin.scripts.shell.Commands
    taskCache:
      enabled: true
      ttl: PT1H
    assets:
      inputs:
        - id: table_a
    commands:
      - echo "::{\"outputs\":{\"n\":$(date +%s%N)}}::"
      - echo '::{"encryptedOutputs":{"token":"abc"}}::'
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "who={{ inputs.who }} n={{ outputs.cached.vars.n }} token={{ outputs.cached.vars.token }}"
EOF
run newer1 "$work/newer.yaml" --data "$work/data-cache"
n1=$(sed -n 's/.*who=someone n=\([0-9]*\) token=\*\*\*\*\*\*.*/\1/p' "$work/err")
[ -n "$n1" ] && ok "prefill: the value when the input is not given; encryptedOutputs become outputs (masked in logs)" || ko "prefill and encryptedOutputs" "$(grep show "$work/err")"
has "encryptedOutputs: a warning that they are stored in clear" "$work/err" "stored in clear"
has "assets: one INFO line" "$work/err" "assets are kept in the flow as written"
run newer2 "$work/newer.yaml" --data "$work/data-cache"
# (a cache hit restores the outputs without running the script: without an encryption key
# the clear value is not known as a secret there; docs/scripts.md)
n2=$(sed -n 's/.*who=someone n=\([0-9]*\) token=.*/\1/p' "$work/err")
if [ -n "$n1" ] && [ "$n1" = "$n2" ]; then ok "taskCache: the second run reuses the first run's outputs"; else ko "taskCache: the second run reuses the first run's outputs" "$n1 vs $n2"; fi
has "taskCache: says the outputs came from the cache" "$work/err" "outputs taken from the task cache"
printf 'id: pd\nnamespace: e2e.core\ninputs:\n  - id: a\n    type: STRING\n    required: false\n    prefill: x\n    defaults: y\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n' >"$work/pd.yaml"
"$KITE" validate "$work/pd.yaml" >"$work/err" 2>&1
has "validate: prefill with defaults is refused" "$work/err" "prefill and defaults cannot be used together"

# ---- the worker pool: six tasks that wait overlap --------------------------------
cat >"$work/sleeps.yaml" <<'EOF'
id: sleeps
namespace: e2e.core
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {id: s1, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
      - {id: s2, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
      - {id: s3, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
      - {id: s4, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
      - {id: s5, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
      - {id: s6, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 3"]}
EOF
t0=$(date +%s%N)
run sleeps "$work/sleeps.yaml"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
want_state "workers: six parallel sleeps end SUCCESS" SUCCESS
# not a timing assertion: serial would take 18 s and one-per-core 9 s here
if [ "$ms" -lt 7000 ]; then ok "workers: six parallel 'sleep 3' overlap (${ms} ms)"; else ko "workers: six parallel 'sleep 3' overlap" "${ms} ms"; fi

# ---- parentOutput() and iterationOutput(), on Kestra's own test flows ----------------------
cat >"$work/parent.yaml" <<'EOF'
id: parent-output
namespace: e2e.core
tasks:
  - id: forEach
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3]
    tasks:
      - id: value
        type: io.kestra.plugin.core.output.OutputValues
        values:
          some: output
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: "true"
        then:
          - id: parentOutput
            type: io.kestra.plugin.core.log.Log
            message: "direct {{ taskrun.value }} {{ parentOutput() | toJson }} outer {{ parentOutput(0) }}|"
  - id: if2
    type: io.kestra.plugin.core.flow.If
    condition: "true"
    then:
      - id: each2
        type: io.kestra.plugin.core.flow.ForEach
        values: [1, 2]
        tasks:
          - id: parentsOutput
            type: io.kestra.plugin.core.log.Log
            message: "index0 {{ taskrun.value }} {{ parentOutput(0) | toJson }}"
  - id: each3
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 1
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "v-{{ taskrun.value }}"
      - id: prev
        type: io.kestra.plugin.core.log.Log
        message: "iter {{ taskrun.value }} prev={{ taskrun.iteration > 0 ? iterationOutput('ret') : 'none' }} first={{ iterationOutput('ret', 0) }} bystring={{ taskrun.iteration > 1 ? iterationOutput(taskId='ret', iteration='1') : '' }}"
  - id: outside
    type: io.kestra.plugin.core.log.Log
    message: "{{ iterationOutput('ret') }}"
    allowFailure: true
EOF
run parent "$work/parent.yaml"
want_state "parentOutput: the flow ends WARNING (iterationOutput outside a loop fails its task)" WARNING
has "parentOutput(): the outputs of the flowable around, in its iteration" "$work/err" 'direct 3 {"evaluationResult":true} outer |'
has "parentOutput(0): the outermost parent, here an If outside a ForEach" "$work/err" 'index0 2 {"evaluationResult":true}'
has "iterationOutput(): the value of the previous iteration" "$work/err" "iter c prev=v-b first=v-a"
has "iterationOutput(taskId, iteration): by name, the iteration as text" "$work/err" "iter c prev=v-b first=v-a bystring=v-b"
has "iterationOutput() outside a loop: a clear error" "$work/err" "iterationOutput() should be used inside iterative tasks only"

# ---- Template: refused by validation, with where and what to write instead ------------------
cat >"$work/tpl.yaml" <<'EOF'
id: tpl
namespace: e2e.core
tasks:
  - id: load
    type: io.kestra.plugin.core.flow.Template
    namespace: company.team
    templateId: load_table
EOF
"$KITE" validate "$work/tpl.yaml" >"$work/out" 2>"$work/err"
rc=$?
if [ "$rc" -ne 0 ]; then ok "Template: kite validate refuses the flow"; else ko "Template: kite validate refuses the flow" "exit $rc"; fi
has "Template: the error names file:line:col and the way out" "$work/err" "tpl.yaml:5:11: error: type 'io.kestra.plugin.core.flow.Template' is not supported in kite"
has "Template: Sequential or Subflow instead" "$work/err" "io.kestra.plugin.core.flow.Sequential"
run tpl "$work/tpl.yaml"
if [ "$rc" -eq 2 ]; then ok "Template: kite run refuses it as an invalid flow (exit 2)"; else ko "Template: kite run exit 2" "exit $rc"; fi
