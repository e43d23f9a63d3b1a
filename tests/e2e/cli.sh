#!/bin/bash
# The command line as a user meets it: exit codes, messages, --json, kite.yml.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() { # name, expected exit, command...
    local name=$1 want=$2; shift 2
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ "$rc" = "$want" ]; then echo "PASS $name"; else echo "FAIL $name: exit $rc, expected $want"; head -5 "$work/err"; fi
}
has() { # name, file, text
    if grep -qF -- "$3" "$2"; then echo "PASS $1"; else echo "FAIL $1: '$3' not in:"; head -5 "$2"; fi
}
cat >"$work/ok.yaml" <<'YML'
id: ok
namespace: t.cli
inputs:
  - id: n
    type: INT
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "n is {{ inputs.n }}"
YML
cat >"$work/fail.yaml" <<'YML'
id: fail
namespace: t.cli
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke"
YML
printf 'id: bad\nnamespace: t.cli\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n' >"$work/bad.yaml"

check "run: SUCCESS exits 0" 0 "$KITE" run "$work/ok.yaml" --input n=3 --data "$work/d"
has "run: logs on stderr" "$work/err" "n is 3"
check "run: FAILED exits 1" 1 "$KITE" run "$work/fail.yaml" --data "$work/d"
has "run: the task's error is logged" "$work/err" "it broke"
mkdir -p "$work/flows"
cat >"$work/flows/etl.yaml" <<'YML'
id: etl
namespace: t.cli
inputs:
  - id: url
    type: STRING
    defaults: http://example.com
tasks:
  - id: load
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.urll }}"
YML
(cd "$work" && check "run: a render error fails the run" 1 "$KITE" run flows/etl.yaml --data "$work/d")
has "run: a render error names the flow file's line and column" "$work/err" \
    "flows/etl.yaml:10:14: task 'load': property 'message': undefined variable 'inputs.urll'"
check "run: a bad input exits 2" 2 "$KITE" run "$work/ok.yaml" --input n=x --data "$work/d"
has "run: the bad input is named" "$work/err" "input 'n': 'x' is not an integer"
check "run: a missing input exits 2" 2 "$KITE" run "$work/ok.yaml" --data "$work/d"
has "run: the missing input is named" "$work/err" "input 'n' is required"
check "run: an invalid flow exits 2" 2 "$KITE" run "$work/bad.yaml" --data "$work/d"
has "run: the flow error has file:line:col" "$work/err" "bad.yaml:6:5: error: task 'x': unknown property 'mesage'"
check "run --json prints the execution" 0 "$KITE" run "$work/ok.yaml" --input n=4 --data "$work/d" --json --quiet
if /usr/bin/python3 -c 'import json,sys; x=json.load(open(sys.argv[1])); assert x["state"]["current"]=="SUCCESS" and x["inputs"]["n"]==4 and x["taskRunList"][0]["taskId"]=="say"' "$work/out"; then
    echo "PASS run --json has Kestra's shape"; else echo "FAIL run --json shape"; head -c 300 "$work/out"; fi
check "validate: an invalid flow exits 1" 1 "$KITE" validate "$work/bad.yaml"
check "validate --json" 1 "$KITE" validate --json "$work/bad.yaml" "$work/ok.yaml"
if /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert [f["valid"] for f in v]==[False,True] and 6 in [g["line"] for g in v[0]["errors"]]' "$work/out"; then
    echo "PASS validate --json lists each file"; else echo "FAIL validate --json"; fi
printf 'workers: 2\nvariables:\n  globals:\n    team: data\n  envPrefix: MYAPP_\nlogLevel: INFO\n' >"$work/kite.yml"
printf 'id: g\nnamespace: t.cli\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ globals.team }} {{ envs.region }}"\n' >"$work/g.yaml"
MYAPP_REGION=eu check "config: globals and envPrefix" 0 "$KITE" run "$work/g.yaml" --config "$work/kite.yml" --data "$work/d"
has "config: globals and envs rendered" "$work/err" "data eu"
printf 'wokers: 2\n' >"$work/typo.yml"
check "config: an unknown key is refused" 2 "$KITE" run "$work/ok.yaml" --config "$work/typo.yml" --data "$work/d"
has "config: the key and its place are named" "$work/err" "typo.yml:1:1: unknown key 'wokers' (did you mean 'workers'?)"
check "unknown command exits 2" 2 "$KITE" frobnicate
check "help exits 0" 0 "$KITE" help run
has "help shows the options" "$work/out" "--input KEY=VALUE"
check "execution show of an unknown id exits 1" 1 "$KITE" execution show nope --data "$work/d"
printf 'id: c\nnamespace: t.cli\ntasks:\n  - id: a\n    type: log\n    message: x\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "0 25 * * *"\n' >"$work/cron.yaml"
check "validate: a bad cron expression is refused" 1 "$KITE" validate --no-color "$work/cron.yaml"
has "validate: the cron error is positioned" "$work/err" "cron.yaml:10:11: error: cron '0 25 * * *': hour 25 out of range 0-23"
check "validate: a template reading an undeclared input is a warning, exit 0" 0 "$KITE" validate --no-color "$work/flows/etl.yaml"
has "validate: the warning names the template's own column" "$work/err" \
    "etl.yaml:10:18: warning: input 'urll' is not declared in this flow (did you mean 'url'?)"
has "validate: the summary counts flows valid with warnings" "$work/err" "1 valid, 0 invalid (1 valid with warnings)"
check "validate --strict: the warning is an error" 1 "$KITE" validate --strict --no-color "$work/flows/etl.yaml"
has "validate --strict: printed as an error" "$work/err" "etl.yaml:10:18: error: input 'urll'"
check "validate --json: exit 0 with warnings" 0 "$KITE" validate --json "$work/flows/etl.yaml"
if python3 -c "import json,sys; d=json.load(open('$work/out')); e=d[0]['warnings'][0]; sys.exit(0 if d[0]['valid'] and not d[0]['errors'] and e['severity']=='warning' and e['line']==10 and e['col']==18 else 1)"; then
    echo "PASS validate --json carries the severity"; else echo "FAIL validate --json severity"; head -20 "$work/out"; fi
printf 'id: tf\nnamespace: t.cli\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ name | uper }}"\n' >"$work/tf.yaml"
check "validate: an unknown filter is an error" 1 "$KITE" validate --no-color "$work/tf.yaml"
has "validate: at the filter's line and column" "$work/err" "tf.yaml:6:25: error: template: 1:11: unknown filter 'uper' (did you mean 'upper'?)"
