#!/bin/bash
# bench_serdes.sh: the row-file converters on ROWS rows (default 200,000) of
# a six-column JSON-lines file, each as one `kite run` task: JsonToIon,
# IonToCsv, CsvToIon, IonToJson, IonToAvro, AvroToIon; rows per second and
# the run's peak RSS (GNU time's maximum resident set) and its CPU time (the
# wall time also holds the start-up and the fsync of the output, which wait on
# the disk), next to the machine's
# floor for the same bytes: reading the input file once (cat > /dev/null)
# and Python's json module parsing the same lines. Prints figures, asserts
# nothing.
set -u
export TMPDIR=${TMPDIR:-/tmp}
KITE=${KITE:-build/kite}
ROWS=${ROWS:-200000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/rows.jsonl" "$ROWS" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"id": i, "cluster": "mongo-%03d" % (i % 100), "size": i * 1024,
                            "ratio": i / 7.0, "ok": i % 3 == 0, "at": "2026-12-01T02:03:%02dZ" % (i % 60)}) + "\n")
PY
bytes=$(stat -c %s "$work/rows.jsonl")
SCHEMA='{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"cluster","type":"string"},{"name":"size","type":"long"},{"name":"ratio","type":"double"},{"name":"ok","type":"boolean"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}'
sch=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$SCHEMA")

# one flow per converter, each reading the previous one's output from a FILE input
step() { # step NAME TYPE INPUTFILE [EXTRA YAML LINES]
    local name=$1 type=$2 input=$3 extra=${4:-}
    cat >"$work/$name.yaml" <<YAML
id: bench_$name
namespace: bench
inputs:
  - id: f
    type: FILE
tasks:
  - id: conv
    type: $type
    from: "{{ inputs.f }}"
$extra
YAML
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S' -o "$work/$name.rss" "$KITE" run "$work/$name.yaml" --data "$work/data-$name" \
        --file f="$input" >/dev/null 2>"$work/$name.err" || { echo "$name: failed: $(tail -2 "$work/$name.err")"; return 1; }
    t1=$(date +%s.%N)
    local out
    out=$(find "$work/data-$name" -path '*conv*' -type f | grep -v '\.tmp' | head -1)
    cp "$out" "$work/$name.out"
    python3 - "$name" "$t0" "$t1" "$ROWS" "$(cat "$work/$name.rss")" "$(stat -c %s "$out")" <<'PY'
import sys
name, t0, t1, rows, size = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[6])
rss, usr, sys_ = sys.argv[5].split()
rss, cpu = int(rss), float(usr) + float(sys_)
s = t1 - t0
print(f"{name:11s} {rows} rows in {s:6.2f} s: {rows / s:9,.0f} rows/s ({cpu:5.2f} s of CPU: {rows / max(cpu, 0.01):9,.0f} rows/s),"
      f" peak RSS {rss / 1024:5.1f} MiB, output {size / 1048576:6.1f} MiB")
PY
}

[ -x /usr/bin/time ] || { echo "bench_serdes: /usr/bin/time (Debian's time) is missing; figures without RSS"; }
t0=$(date +%s.%N); cat "$work/rows.jsonl" >/dev/null; t1=$(date +%s.%N)
python3 - "$t0" "$t1" "$bytes" <<'PY'
import sys
s = float(sys.argv[2]) - float(sys.argv[1])
print(f"floor: reading the {int(sys.argv[3]) / 1048576:.1f} MiB input once: {s * 1000:.0f} ms")
PY
python3 - "$work/rows.jsonl" <<'PY'
import json, sys, time
t = time.time()
c = time.process_time()
n = sum(1 for line in open(sys.argv[1]) if json.loads(line))
s = time.time() - t
c = time.process_time() - c
print(f"floor: Python's json parsing the same {n} lines: {n / s:,.0f} rows/s ({n / c:,.0f} rows/s of CPU)")
PY
step json_to_ion io.kestra.plugin.serdes.json.JsonToIon "$work/rows.jsonl" &&
step ion_to_csv io.kestra.plugin.serdes.csv.IonToCsv "$work/json_to_ion.out" &&
step csv_to_ion io.kestra.plugin.serdes.csv.CsvToIon "$work/ion_to_csv.out" &&
step ion_to_json io.kestra.plugin.serdes.json.IonToJson "$work/json_to_ion.out" &&
step ion_to_avro io.kestra.plugin.serdes.avro.IonToAvro "$work/json_to_ion.out" "    schema: $sch" &&
step avro_to_ion io.kestra.plugin.serdes.avro.AvroToIon "$work/ion_to_avro.out"
exit 0
