#!/bin/bash
# bench_core.sh: figures for the core pieces of issue 10, through `kite run`:
# the worker pool (12 parallel `sleep 1` tasks with --workers 2, the old
# default on this 2-core machine, and with the default of 8 per core), and
# FilterItems / DeduplicateItems over a 200 000-line ION file next to the bare
# `grep -v` / `awk` doing the same pass. Prints figures. Run by `make bench`
# (KITE=binary).
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

{
    printf 'id: sleeps\nnamespace: bench.core\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n'
    for i in $(seq 1 12); do printf '      - {id: s%d, type: io.kestra.plugin.scripts.shell.Commands, commands: ["sleep 1"]}\n' "$i"; done
} >"$work/sleeps.yaml"
t=$(date +%s%N); "$KITE" run "$work/sleeps.yaml" --data "$work/d1" --workers 2 --quiet >/dev/null 2>&1; a=$(ms "$t")
t=$(date +%s%N); "$KITE" run "$work/sleeps.yaml" --data "$work/d2" --quiet >/dev/null 2>&1; b=$(ms "$t")
echo "workers: 12 parallel 'sleep 1': --workers 2: ${a} ms; default ($(nproc) cores x 8): ${b} ms"

python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write("{id:%d,name:\"n%d\",n:%s}\n" % (i, i % 1000, "null" if i % 3 == 0 else str(i)))
' "$work/rows.ion"
cat >"$work/items.yaml" <<EOF
id: items
namespace: bench.core
tasks:
  - id: f
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ inputs.file }}"
    filterCondition: "{{ n == null }}"
    filterType: EXCLUDE
  - id: d
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ inputs.file }}"
    expr: "{{ name }}"
inputs:
  - id: file
    type: FILE
EOF
t=$(date +%s%N); "$KITE" run "$work/items.yaml" --data "$work/d3" --file file="$work/rows.ion" --quiet >/dev/null 2>"$work/err" || { echo "items: the run failed"; tail -3 "$work/err"; }; c=$(ms "$t")
t=$(date +%s%N); grep -v 'n:null' "$work/rows.ion" >/dev/null; g=$(ms "$t")
t=$(date +%s%N); awk -F'name:' '{split($2,a,","); last[a[1]]=NR} END{}' "$work/rows.ion"; k=$(ms "$t")
echo "items: FilterItems + DeduplicateItems over 200000 ION lines: ${c} ms (bare grep -v: ${g} ms, awk key pass: ${k} ms)"
