#!/bin/bash
# ForEachItem through `kite run`: a file of 10 lines in batches of 3 gives 4
# subflow executions, each with its own batch file; a failing subflow fails
# the task (transmitFailed).
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seq 1 10 >"$work/items.txt"
mkdir -p "$work/flows"
cat >"$work/flows/child.yaml" <<'YML'
id: child
namespace: t.fei
inputs:
  - id: items
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ read(inputs.items) contains '7' }}"
    errorMessage: "batch with 7"
YML
cat >"$work/parent.yaml" <<'YML'
id: parent
namespace: t.fei
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 3
    namespace: t.fei
    flowId: child
    inputs:
      items: "{{ taskrun.items }}"
YML
out=$("$KITE" run "$work/parent.yaml" --flows "$work/flows" --data "$work/d1" --file "file=$work/items.txt" --quiet --json 2>"$work/err")
got=$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
x = json.load(sys.stdin)
o = x["taskRunList"][0].get("outputs", {})
print(x["state"]["current"], o.get("numberOfBatches"), json.dumps(o.get("iterations"), sort_keys=True))' 2>/dev/null)
if [ "$got" = 'FAILED 4 {"FAILED": 1, "SUCCESS": 3}' ]; then
    echo "PASS 10 lines in batches of 3: 4 subflows, the one with 7 failed, the task FAILED"
else
    echo "FAIL expected 'FAILED 4 {\"FAILED\": 1, \"SUCCESS\": 3}', got '$got'"; head -5 "$work/err"
fi
n=$(sqlite3 "$work/d1/kite.db" "select count(*) from executions where flow_id='child'")
last=$(sqlite3 "$work/d1/kite.db" "select json_extract(inputs, '\$.items') from executions where flow_id='child'" | grep batch-4)
content=$(cat "$work/d1/storage/${last#kestra:///}" 2>/dev/null)
if [ "$n" = 4 ] && [ "$content" = "10" ]; then
    echo "PASS each batch is a file in storage (the last holds line 10)"
else
    echo "FAIL $n child executions, last batch holds '$content'"
fi
