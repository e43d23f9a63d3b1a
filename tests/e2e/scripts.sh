#!/bin/bash
# Script tasks (shell, Python, Node) end to end through `kite run`: outputs
# and files passed between tasks, exit codes, stderr, unicode, 50 MB of
# stdout, a timeout and a kill that leave no process behind (also those that
# left the task's process group: setsid, a double fork, os.setsid), and kite's own
# environment (SECRET_*, tokens) kept out of the scripts. One PASS/FAIL line
# per case.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && grep -v ' INFO ' "$work/err" | tail -15 | sed 's/^/    /'
}

# run NAME FLOWFILE [timeout]: runs the flow, leaves stderr in $work/err, the
# final state in $state, kite's exit code in $rc
run() {
    local n=$1 flow=$2 t=${3:-60}
    rm -rf "$work/data-$n"
    timeout "$t" "$KITE" run "$flow" --data "$work/data-$n" >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# ---- outputs, vars, files between tasks, Python, env ------------------------
cat >"$work/pipeline.yaml" <<'EOF'
id: pipeline
namespace: e2e.scripts
tasks:
  - id: produce
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      WHO: "kïte"
    inputFiles:
      conf/settings.txt: "threshold=5"
    outputFiles:
      - "*.csv"
    commands:
      - echo "hello $WHO"
      - cat conf/settings.txt; echo
      - printf 'id,v\n1,10\n2,32\n' > numbers.csv
      - echo '::{"outputs":{"rows":2,"name":"nümbers"}}::'
      - echo '::{"metrics":[{"name":"rows","type":"counter","value":2}]}::'
  - id: compute
    type: io.kestra.plugin.scripts.python.Script
    inputFiles:
      in.csv: "{{ outputs.produce.outputFiles['numbers.csv'] }}"
    script: |
      import csv
      rows = list(csv.DictReader(open("in.csv")))
      total = sum(int(r["v"]) for r in rows)
      print("total is", total, "for {{ outputs.produce.vars.rows }} rows of {{ outputs.produce.vars.name }}")
      print('::{"outputs":{"total":%d}}::' % total)
  - id: report
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "report total={{ outputs.compute.vars.total }} exit={{ outputs.compute.exitCode }}"
EOF
run pipeline "$work/pipeline.yaml"
if [ "$state" = SUCCESS ] && grep -q 'hello kïte' "$work/err" && grep -q 'threshold=5' "$work/err" &&
    grep -q 'total is 42 for 2 rows of nümbers' "$work/err" && grep -q 'report total=42 exit=0' "$work/err" &&
    ! grep -q '::{' "$work/err"; then
    ok "outputs, vars, output file to input file, Python, unicode"
else
    ko "outputs, vars, output file to input file, Python, unicode" "state=$state rc=$rc"
fi

# ---- exit code --------------------------------------------------------------
cat >"$work/exit.yaml" <<'EOF'
id: exitcode
namespace: e2e.scripts
tasks:
  - id: fails
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo before
      - exit 4
  - id: never
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo should-not-run
EOF
run exit "$work/exit.yaml"
if [ "$state" = FAILED ] && [ "$rc" -eq 1 ] && grep -q 'Command failed with code 4' "$work/err" &&
    ! grep -q should-not-run "$work/err"; then
    ok "a non-zero exit fails the task with its code"
else
    ko "a non-zero exit fails the task with its code" "state=$state rc=$rc"
fi

# ---- stderr -----------------------------------------------------------------
cat >"$work/stderr.yaml" <<'EOF'
id: stderr
namespace: e2e.scripts
tasks:
  - id: warns
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "to stderr" >&2
  - id: quiet
    type: io.kestra.plugin.scripts.shell.Commands
    warningOnStdErr: false
    commands:
      - echo "also stderr" >&2
EOF
run stderr "$work/stderr.yaml"
if [ "$state" = WARNING ] && [ "$rc" -eq 0 ] && grep -q 'WARN  warns to stderr' "$work/err" &&
    grep -q 'WARN  quiet also stderr' "$work/err"; then
    ok "stderr lines are WARN logs and make the task WARNING"
else
    ko "stderr lines are WARN logs and make the task WARNING" "state=$state rc=$rc"
fi

# ---- kite's environment does not leak ---------------------------------------
cat >"$work/env.yaml" <<'EOF'
id: envleak
namespace: e2e.scripts
tasks:
  - id: env
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      PASSED: "{{ secret('E2E_PASS') }}"
    commands:
      - env
      - test "$PASSED" = "given-on-purpose" && echo passed-ok
EOF
SECRET_E2E_LEAK=$(printf 'leaky-secret' | base64 -w0) SECRET_E2E_PASS=$(printf 'given-on-purpose' | base64 -w0) \
    KITE_TOKEN=tok-e2e-123 AWS_SECRET_ACCESS_KEY=aws-e2e-456 run env "$work/env.yaml"
if [ "$state" = SUCCESS ] && grep -q 'passed-ok' "$work/err" && ! grep -q 'SECRET_E2E' "$work/err" &&
    ! grep -q 'tok-e2e-123' "$work/err" && ! grep -q 'aws-e2e-456' "$work/err" &&
    ! grep -q 'given-on-purpose' "$work/err" && grep -q 'WORKING_DIR=' "$work/err"; then
    ok "kite's secrets and tokens never reach the script; a passed secret is masked"
else
    ko "kite's secrets and tokens never reach the script; a passed secret is masked" "state=$state"
fi

# ---- WorkingDirectory -------------------------------------------------------
cat >"$work/wd.yaml" <<'EOF'
id: wd
namespace: e2e.scripts
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo shared-content > shared.txt
      - id: read
        type: io.kestra.plugin.scripts.python.Commands
        commands:
          - python -c 'print("read:", open("shared.txt").read().strip())'
EOF
run wd "$work/wd.yaml"
if [ "$state" = SUCCESS ] && grep -q 'read: shared-content' "$work/err"; then
    ok "tasks of a WorkingDirectory share their folder"
else
    ko "tasks of a WorkingDirectory share their folder" "state=$state"
fi

# ---- Node -------------------------------------------------------------------
if command -v node >/dev/null 2>&1; then
    cat >"$work/node.yaml" <<'EOF'
id: nodejs
namespace: e2e.scripts
tasks:
  - id: js
    type: io.kestra.plugin.scripts.node.Script
    script: |
      const n = [1, 2, 3].reduce((a, b) => a + b, 0);
      console.log("sum " + n);
      console.log("::" + JSON.stringify({outputs: {sum: n}}) + "::");
  - id: use
    type: io.kestra.plugin.scripts.node.Commands
    commands:
      - node -e 'console.log("got {{ outputs.js.vars.sum }}")'
EOF
    run node "$work/node.yaml"
    if [ "$state" = SUCCESS ] && grep -q 'got 6' "$work/err"; then
        ok "Node Script and Commands"
    else
        ko "Node Script and Commands" "state=$state"
    fi
else
    echo "PASS Node Script and Commands (skipped: node is not installed)"
fi

# ---- 50 MB on stdout ---------------------------------------------------------
cat >"$work/big.yaml" <<'EOF'
id: big
namespace: e2e.scripts
tasks:
  - id: flood
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - yes 'fifty megabytes of the same line, over and over and over' | head -c 52428800; echo
      - echo '::{"outputs":{"after":"flood"}}::'
  - id: next
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "next sees {{ outputs.flood.vars.after }}"
EOF
t0=$(date +%s%N)
run big "$work/big.yaml" 120
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
lines=$(grep -c ' INFO  flood ' "$work/err")
if [ "$state" = SUCCESS ] && grep -q 'next sees flood' "$work/err" && grep -q 'too large to be logged' "$work/err" &&
    [ "$lines" -le 50000 ]; then
    ok "50 MB on stdout: no deadlock, $lines lines logged then a notice (${ms} ms)"
else
    ko "50 MB on stdout" "state=$state lines=$lines"
fi

# ---- timeout ----------------------------------------------------------------
cat >"$work/timeout.yaml" <<EOF
id: timeout
namespace: e2e.scripts
tasks:
  - id: slow
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    commands:
      - sleep 120 &
      - echo \$! > $work/timeout-bg.pid
      - echo \$\$ > $work/timeout-sh.pid
      - sleep 120
EOF
t0=$(date +%s%N)
run timeout "$work/timeout.yaml" 60
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
bg=$(cat "$work/timeout-bg.pid" 2>/dev/null || echo 0)
sh=$(cat "$work/timeout-sh.pid" 2>/dev/null || echo 0)
if [ "$state" = FAILED ] && [ "$bg" -gt 0 ] && gone "$bg" && gone "$sh" && [ "$ms" -lt 20000 ] &&
    grep -qi 'timeout\|timed out' "$work/err"; then
    ok "a timeout ends the task and its whole process group (${ms} ms)"
else
    ko "a timeout ends the task and its whole process group" "state=$state ms=$ms bg=$bg"
    [ "$bg" -gt 0 ] && kill "$bg" 2>/dev/null
fi

# ---- kill of the execution while a script runs -------------------------------
cat >"$work/kill.yaml" <<EOF
id: killme
namespace: e2e.scripts
tasks:
  - id: long
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import subprocess, time
      child = subprocess.Popen(["sleep", "120"])
      open("$work/kill-child.pid", "w").write(str(child.pid))
      print("started", flush=True)
      time.sleep(120)
  - id: after
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo should-not-run
EOF
rm -rf "$work/data-kill" "$work/kill-child.pid"
"$KITE" run "$work/kill.yaml" --data "$work/data-kill" >"$work/out" 2>"$work/err" &
kpid=$!
for _ in $(seq 1 100); do [ -s "$work/kill-child.pid" ] && break; sleep 0.1; done
sleep 0.2
t0=$(date +%s%N)
kill -INT "$kpid"
for _ in $(seq 1 200); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
child=$(cat "$work/kill-child.pid" 2>/dev/null || echo 0)
if kill -0 "$kpid" 2>/dev/null; then
    kill -9 "$kpid"
    ko "killing the execution while a script runs" "kite run did not end"
else
    wait "$kpid"
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
    if [ "$state" = KILLED ] && [ "$child" -gt 0 ] && gone "$child" && ! grep -q should-not-run "$work/err"; then
        ok "killing the execution ends the running script and its children (${ms} ms)"
    else
        ko "killing the execution ends the running script and its children" "state=$state child=$child"
        [ "$child" -gt 0 ] && kill "$child" 2>/dev/null
    fi
fi

# ---- processes that left the group: a timeout and a kill end them too --------
# marked NAME: how many live processes carry E2E_MARK=NAME in their environment
marked() {
    local n=0 f
    for f in /proc/[0-9]*/environ; do
        tr '\0' '\n' <"$f" 2>/dev/null | grep -qx "E2E_MARK=$1" && n=$((n + 1))
    done
    echo "$n"
}
escaping() { # escaping NAME TIMEOUT-LINE: a flow whose script escapes three ways
    cat >"$work/$1.yaml" <<EOF
id: $1
namespace: e2e.scripts
tasks:
  - id: escape
    type: io.kestra.plugin.scripts.shell.Commands
    $2
    env:
      E2E_MARK: "$1-$$"
    commands:
      - setsid sleep 300 </dev/null >/dev/null 2>&1 &
      - ( ( setsid sh -c 'sleep 300' </dev/null >/dev/null 2>&1 & ) & )
      - /usr/bin/python3 -c 'import os, time; os.fork() == 0 and (os.setsid(), time.sleep(300))' </dev/null >/dev/null 2>&1 &
      - echo escaped
      - sleep 300
EOF
}
escaping esc_timeout "timeout: PT2S"
run esc_timeout "$work/esc_timeout.yaml" 60
left=$(marked "esc_timeout-$$")
if [ "$state" = FAILED ] && grep -q escaped "$work/err" && [ "$left" -eq 0 ]; then
    ok "a timeout also ends what left the group (setsid, double fork, os.setsid)"
else
    ko "a timeout also ends what left the group (setsid, double fork, os.setsid)" "state=$state left=$left"
fi
escaping esc_kill ""
rm -rf "$work/data-esc_kill"
"$KITE" run "$work/esc_kill.yaml" --data "$work/data-esc_kill" >"$work/out" 2>"$work/err" &
kpid=$!
for _ in $(seq 1 100); do [ "$(marked "esc_kill-$$")" -ge 5 ] && break; sleep 0.1; done
before=$(marked "esc_kill-$$")
kill -INT "$kpid"
for _ in $(seq 1 200); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$kpid" 2>/dev/null; then kill -9 "$kpid"; fi
wait "$kpid"
state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
left=$(marked "esc_kill-$$")
if [ "$state" = KILLED ] && [ "$before" -ge 5 ] && [ "$left" -eq 0 ]; then
    ok "a kill also ends what left the group (setsid, double fork, os.setsid)"
else
    ko "a kill also ends what left the group (setsid, double fork, os.setsid)" "state=$state before=$before left=$left"
fi
for f in /proc/[0-9]*/environ; do # leave nothing behind even when it failed
    tr '\0' '\n' <"$f" 2>/dev/null | grep -q "^E2E_MARK=esc_.*-$$\$" && p=${f#/proc/} && kill -9 "${p%/environ}" 2>/dev/null
done

# ---- the pre-0.10 Bash task --------------------------------------------------
cat >"$work/legacy.yaml" <<'EOF'
id: legacy
namespace: e2e.scripts
tasks:
  - id: bash
    type: io.kestra.core.tasks.scripts.Bash
    outputFiles:
      - first
    commands:
      - echo "legacy-content" >> {{ outputFiles.first }}
      - echo "in {{ workingDir }}"
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      got.txt: "{{ outputs.bash.outputFiles.first }}"
    commands:
      - echo "read $(cat got.txt) after {{ outputs.bash.stdOutLineCount }} line"
EOF
run legacy "$work/legacy.yaml"
if [ "$state" = SUCCESS ] && grep -q 'read legacy-content after 1 line' "$work/err"; then
    ok "the pre-0.10 Bash task with a named output file"
else
    ko "the pre-0.10 Bash task with a named output file" "state=$state"
fi

# ---- a Docker runner without an engine: the sandbox, with one warning --------
cat >"$work/docker.yaml" <<'EOF'
id: docker
namespace: e2e.scripts
tasks:
  - id: d
    type: io.kestra.plugin.scripts.python.Commands
    containerImage: ghcr.io/kestra-io/pydata:latest
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    commands:
      - python -c 'print("ran locally")'
EOF
run docker "$work/docker.yaml"
# in the sandbox where one can be made (tests/e2e/sandbox.sh), else as a local process
n=$(grep -c 'containerImage ghcr.io/kestra-io/pydata:latest is not used: the sandbox\|no sandbox can be made on this host' "$work/err")
if [ "$state" = SUCCESS ] && [ "$n" -eq 1 ] && grep -q 'ran locally' "$work/err"; then
    ok "a Docker task runner without an engine runs here with one warning"
else
    ko "a Docker task runner without an engine runs here with one warning" "state=$state warnings=$n"
fi

# ---- a reused run folder: bin/ and py/ as fresh, whatever the last script did ---
cat >"$work/pyreuse.yaml" <<'EOF'
id: pyreuse
namespace: e2e.scripts
tasks:
  - id: spoil
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import os
      r = os.path.dirname(os.environ["WORKING_DIR"])
      os.unlink(r + "/bin/python"); os.symlink("/bin/false", r + "/bin/python")
      open(r + "/py/kestra.py", "a").write("raise SystemExit('spoiled')\n")
      open(r + "/py/extra.py", "w").write("x = 1\n")
  - id: plain
    type: io.kestra.plugin.scripts.python.Script
    script: |
      print("plain ran")
  - id: check1
    type: io.kestra.plugin.scripts.python.Script
    script: &check |
      import os, sys
      r = os.path.dirname(os.environ["WORKING_DIR"])
      seen = (sorted(os.listdir(r + "/bin")), os.readlink(r + "/bin/python"),
              os.readlink(r + "/bin/python3"), sorted(os.listdir(r + "/py")))
      from kestra import Kestra
      Kestra.outputs({"seen": repr(seen)})
      print("seen", seen)
  - id: check2
    type: io.kestra.plugin.scripts.python.Script
    script: *check
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "shell ran"
  - id: check3
    type: io.kestra.plugin.scripts.python.Script
    script: *check
EOF
run pyreuse "$work/pyreuse.yaml"
want="seen (['python', 'python3'], '/usr/bin/python3', '/usr/bin/python3', ['kestra.py'])"
n=$(grep -cF "$want" "$work/err")
if [ "$state" = SUCCESS ] && [ "$n" -eq 3 ] && grep -q 'plain ran' "$work/err"; then
    ok "a reused run folder's bin/ and py/ are as fresh ones, whatever the last script did"
else
    ko "a reused run folder's bin/ and py/ are as fresh ones, whatever the last script did" "state=$state seen=$n"
fi

# no run folder left behind
left=$(ls -d "${TMPDIR:-/tmp}"/kite-script-* 2>/dev/null | while read -r d; do [ "$(stat -c %Y "$d")" -ge "$(stat -c %Y "$work")" ] && echo "$d"; done | wc -l)
if [ "$left" -eq 0 ]; then ok "no run folder left behind"; else ko "no run folder left behind" "$left left"; fi

echo "scripts e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
