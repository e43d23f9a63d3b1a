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
