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
