#!/bin/bash
# ForEachItem through `kite run`: a file of 10 lines in batches of 3 gives 4
# subflow executions, each with its own batch file; a failing subflow fails
# the task (transmitFailed). Then the other ways Kestra cuts a file (its
# StorageService.split): `bytes`, `partitions` dealt round robin, the
# `separator` written after each row, CRLF and CR line ends read as lines.
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

cat >"$work/flows/ok.yaml" <<'YML'
id: ok
namespace: t.fei
inputs:
  - id: items
    type: STRING
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.items }}"
YML
# cut ITEMS_FILE BATCH_YAML: the batch files' contents, in batch order, each
# as a Python repr on one line; "FAILED: ..." when the run failed
cut() {
    local d
    d=$(mktemp -d -p "$work")
    {
        echo "id: cut"
        echo "namespace: t.fei"
        echo "inputs:"
        echo "  - id: file"
        echo "    type: FILE"
        echo "tasks:"
        echo "  - id: each"
        echo "    type: io.kestra.plugin.core.flow.ForEachItem"
        echo "    items: \"{{ inputs.file }}\""
        echo "    batch:"
        printf '%s\n' "$2"
        echo "    namespace: t.fei"
        echo "    flowId: ok"
        echo "    inputs:"
        echo "      items: \"{{ taskrun.items }}\""
    } >"$d/cut.yaml"
    if ! "$KITE" run "$d/cut.yaml" --flows "$work/flows" --data "$d/data" --file "file=$1" >/dev/null 2>"$d/err"; then
        echo "FAILED: $(grep -o 'batch\.bytes.*' "$d/err" | head -1)"
        return
    fi
    sqlite3 "$d/data/kite.db" "select json_extract(inputs, '\$.items') from executions where flow_id='ok'" |
        sed 's/.*batch-\([0-9]*\)\.txt$/\1 &/' | sort -n | while read -r _ uri; do
            /usr/bin/python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read().decode()))' "$d/data/storage/${uri#kestra:///}"
        done | tr '\n' ' '
}
printf 'aaaa\nbbbb\ncccc\ndddd\ne\n' >"$work/five.txt"
got=$(cut "$work/five.txt" "      bytes: 10")
want="'aaaa\\nbbbb\\n' 'cccc\\ndddd\\n' 'e\\n' "
[ "$got" = "$want" ] && echo "PASS bytes: 10: a new batch once one holds 10 bytes" || echo "FAIL bytes: 10: got [$got], want [$want]"
got=$(cut "$work/five.txt" "      bytes: 1KB")
want="'aaaa\\nbbbb\\ncccc\\ndddd\\ne\\n' "
[ "$got" = "$want" ] && echo "PASS bytes: 1KB: one batch" || echo "FAIL bytes: 1KB: got [$got]"
got=$(cut "$work/five.txt" "      partitions: 2")
want="'aaaa\\ncccc\\ne\\n' 'bbbb\\ndddd\\n' "
[ "$got" = "$want" ] && echo "PASS partitions: 2: rows dealt round robin" || echo "FAIL partitions: 2: got [$got], want [$want]"
got=$(cut "$work/five.txt" "      partitions: 8")
[ "$(echo "$got" | wc -w)" = 5 ] && echo "PASS partitions: 8 over 5 rows: the 3 empty batches dropped" || echo "FAIL partitions: 8: got [$got]"
printf 'x1\r\nx2\rx3' >"$work/crlf.txt"
got=$(cut "$work/crlf.txt" "      rows: 2
      separator: ';'")
want="'x1;x2;' 'x3;' "
[ "$got" = "$want" ] && echo "PASS CRLF and CR read as line ends, each row followed by the separator" || echo "FAIL separator: got [$got], want [$want]"
got=$(cut "$work/five.txt" "      bytes: lots")
case "$got" in
"FAILED: batch.bytes: 'lots' is not a size"*) echo "PASS bytes: lots fails the task, saying so" ;;
*) echo "FAIL bytes: lots: got [$got]" ;;
esac
