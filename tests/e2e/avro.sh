#!/bin/bash
# Avro row files through `kite run`: IonToAvro writes what Apache Avro's own
# Python implementation (Debian's python3-avro, independent of the libavro
# kite links) reads back with the same values and logical types (date,
# timestamp-millis, timestamp-micros, decimal in bytes and fixed, uuid,
# enum, union with null, array, map, nested record, booleans and nulls from
# text); a file written by python3-avro is read by AvroToIon with its
# logical types as Ion timestamps and decimals; a row missing a field the
# schema does not let be null, a value of the wrong type and a schema that
# is not Avro each fail with the row and field named.
set -u
cd "$(dirname "$0")/../.."
KITE=${KITE:-build/kite}
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); [ -n "${2:-}" ] && head -c 1500 "$2" | sed 's/^/    /'; }
if ! $PY -c 'import avro' 2>/dev/null; then
    echo "SKIP avro: python3-avro is not installed (scripts/setup.sh installs it)"
    echo "0 passed, 0 failed"
    exit 0
fi

SCHEMA='{"type":"record","name":"Backup","namespace":"ops","fields":[
 {"name":"cluster","type":"string"},
 {"name":"size","type":"long"},
 {"name":"ratio","type":["null","double"]},
 {"name":"ok","type":"boolean"},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"at_us","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
 {"name":"cost","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"fee","type":{"type":"fixed","name":"Fee","size":4,"logicalType":"decimal","precision":8,"scale":3}},
 {"name":"id","type":{"type":"string","logicalType":"uuid"}},
 {"name":"tier","type":{"type":"enum","name":"Tier","symbols":["GOLD","SILVER"]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"meta","type":{"type":"map","values":"long"}},
 {"name":"owner","type":["null",{"type":"record","name":"Owner","fields":[{"name":"team","type":"string"}]}]},
 {"name":"note","type":["null","string"],"default":null}
]}'
cat >"$work/rows.jsonl" <<'EOF'
{"cluster":"mongo-07","size":1234567890123,"ratio":0.5,"ok":"yes","day":"2026-12-01","at":"2026-12-01T02:03:04.005Z","at_us":"2026-12-01T02:03:04.000006Z","cost":"12.50","fee":"-1.250","id":"5b1f7d4e-3f7a-4d53-9d0c-0e6a8b1c2d3e","tier":"GOLD","tags":["nightly","s3"],"meta":{"files":3},"owner":{"team":"dba"}}
{"cluster":"pg-12","size":0,"ratio":"N/A","ok":false,"day":"2026-12-02","at":"2026-12-02T00:00:00+01:00","at_us":null,"cost":"-0.07","fee":"0","id":"00000000-0000-0000-0000-000000000000","tier":"SILVER","tags":[],"meta":{},"owner":null,"note":"manual"}
EOF
python3 - "$SCHEMA" >"$work/schema.yamlstr" <<'PY'
import json, sys
print(json.dumps(json.dumps(json.loads(sys.argv[1]))))
PY
cat >"$work/to_avro.yaml" <<YAML
id: to_avro
namespace: e2e.avro
inputs:
  - id: rows
    type: FILE
tasks:
  - id: ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ inputs.rows }}"
  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.ion.uri }}"
    schema: $(cat "$work/schema.yamlstr")
  - id: back
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ outputs.avro.uri }}"
  - id: text
    type: io.kestra.plugin.core.output.OutputValues
    values:
      ion: "{{ read(outputs.back.uri) }}"
YAML
"$KITE" run "$work/to_avro.yaml" --data "$work/d1" --json --file rows="$work/rows.jsonl" >"$work/o1.json" 2>"$work/e1"
grep -q "ended SUCCESS" "$work/e1" && ok "IonToAvro then AvroToIon: the flow succeeds" || ko "IonToAvro then AvroToIon: the flow succeeds" "$work/e1"
AV=$(find "$work/d1" -name 'avro.avro' | head -1)
if [ -n "$AV" ] && $PY - "$AV" >"$work/py.out" 2>&1 <<'PY'
import sys, datetime, decimal, uuid
from avro.datafile import DataFileReader
from avro.io import DatumReader
rows = list(DataFileReader(open(sys.argv[1], "rb"), DatumReader()))
a, b = rows
assert len(rows) == 2, rows
utc = datetime.timezone.utc
assert a["cluster"] == "mongo-07" and a["size"] == 1234567890123 and a["ratio"] == 0.5, a
assert a["ok"] is True and b["ok"] is False, (a["ok"], b["ok"])
assert a["day"] == datetime.date(2026, 12, 1), a["day"]
assert a["at"] == datetime.datetime(2026, 12, 1, 2, 3, 4, 5000, tzinfo=utc), a["at"]
assert a["at_us"] == datetime.datetime(2026, 12, 1, 2, 3, 4, 6, tzinfo=utc), a["at_us"]
assert b["at"] == datetime.datetime(2026, 12, 1, 23, 0, 0, tzinfo=utc), b["at"]
assert a["cost"] == decimal.Decimal("12.50") and b["cost"] == decimal.Decimal("-0.07"), (a["cost"], b["cost"])
assert a["fee"] == decimal.Decimal("-1.250") and b["fee"] == decimal.Decimal("0.000"), (a["fee"], b["fee"])
assert str(a["id"]) == "5b1f7d4e-3f7a-4d53-9d0c-0e6a8b1c2d3e", a["id"]
assert a["tier"] == "GOLD" and b["tier"] == "SILVER"
assert a["tags"] == ["nightly", "s3"] and b["tags"] == [] and a["meta"] == {"files": 3}
assert a["owner"] == {"team": "dba"} and b["owner"] is None
assert b["ratio"] is None and b["at_us"] is None, b
assert a["note"] is None and b["note"] == "manual"
print("ok")
PY
then ok "Apache Avro's Python reader reads kite's file with every value and logical type"
else ko "Apache Avro's Python reader reads kite's file with every value and logical type" "$work/py.out"; fi
python3 - "$work/o1.json" >"$work/back.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ion = [t for t in d["taskRunList"] if t["taskId"] == "text"][0]["outputs"]["values"]["ion"]
first = ion.splitlines()[0]
for want in ['cluster:"mongo-07"', "size:1234567890123", "ok:true", "day:2026-12-01T", "at:2026-12-01T02:03:04.005Z",
             "cost:12.50", "fee:-1.250", "tier:GOLD", 'tags:["nightly","s3"]', 'owner:{team:"dba"}', "note:null"]:
    assert want in first, (want, first)
print("ok")
PY
[ $? = 0 ] && ok "AvroToIon gives Ion timestamps, decimals and symbols back" || ko "AvroToIon gives Ion timestamps, decimals and symbols back" "$work/back.out"

# a file Apache Avro's Python writer made, read by kite
$PY - "$work/py.avro" <<'PY'
import sys, datetime, decimal
import avro.schema
from avro.datafile import DataFileWriter
from avro.io import DatumWriter
s = avro.schema.parse('''{"type":"record","name":"Event","fields":[
 {"name":"kind","type":"string"},
 {"name":"when","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}},
 {"name":"count","type":["null","int"]},
 {"name":"raw","type":"bytes"}]}''')
w = DataFileWriter(open(sys.argv[1], "wb"), DatumWriter(), s, codec="deflate")
utc = datetime.timezone.utc
w.append({"kind": "restore", "when": datetime.datetime(2026, 11, 30, 12, 0, 0, 250000, tzinfo=utc),
          "day": datetime.date(2026, 11, 30), "amount": decimal.Decimal("-3.1415"), "count": 7, "raw": b"\x00\x01"})
w.append({"kind": "backup", "when": datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=utc),
          "day": datetime.date(1970, 1, 1), "amount": decimal.Decimal("100.0000"), "count": None, "raw": b""})
w.close()
PY
cat >"$work/from_py.yaml" <<'YAML'
id: from_py
namespace: e2e.avro
inputs:
  - id: f
    type: FILE
tasks:
  - id: ion
    type: io.kestra.plugin.serdes.avro.AvroToIon
    from: "{{ inputs.f }}"
  - id: json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.ion.uri }}"
  - id: text
    type: io.kestra.plugin.core.output.OutputValues
    values:
      ion: "{{ read(outputs.ion.uri) }}"
YAML
"$KITE" run "$work/from_py.yaml" --data "$work/d2" --json --file f="$work/py.avro" >"$work/o2.json" 2>"$work/e2"
python3 - "$work/o2.json" >"$work/py2.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ion = [t for t in d["taskRunList"] if t["taskId"] == "text"][0]["outputs"]["values"]["ion"].splitlines()
assert len(ion) == 2, ion
a, b = ion
for want in ['kind:"restore"', "when:2026-11-30T12:00:00.250000Z", "day:2026-11-30T", "amount:-3.1415", "count:7", "raw:{{AAE=}}"]:
    assert want in a, (want, a)
for want in ["when:1969-12-31T23:59:59.000000Z", "day:1970-01-01T", "amount:100.0000", "count:null", "raw:{{}}"]:
    assert want in b, (want, b)
print("ok")
PY
[ $? = 0 ] && ok "AvroToIon reads a deflate file Apache Avro's Python writer made, logical types included" ||
    { ko "AvroToIon reads a deflate file Apache Avro's Python writer made, logical types included" "$work/py2.out"; cat "$work/e2" | tail -5; }

# bad input
bad() { # bad NAME ROWS SCHEMA EXPECTED
    printf '%s\n' "$2" >"$work/bad.jsonl"
    local sch
    sch=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")
    cat >"$work/bad.yaml" <<YAML
id: bad
namespace: e2e.avro
inputs:
  - id: rows
    type: FILE
tasks:
  - id: ion
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ inputs.rows }}"
  - id: avro
    type: io.kestra.plugin.serdes.avro.IonToAvro
    from: "{{ outputs.ion.uri }}"
    schema: $sch
YAML
    "$KITE" run "$work/bad.yaml" --data "$work/d-$1" --file rows="$work/bad.jsonl" >/dev/null 2>"$work/e-$1"
    if grep -q "ended FAILED" "$work/e-$1" && grep -qF "$4" "$work/e-$1"; then ok "bad input: $1"; else ko "bad input: $1" "$work/e-$1"; fi
}
S2='{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"int"}]}'
bad "a missing field that cannot be null names the row and field" '{"a":"x","n":1}
{"a":"y"}' "$S2" "row 2, field 'n': null, and the schema does not allow it"
bad "a value of the wrong type names the row and field" '{"a":"x","n":"twelve"}' "$S2" "row 1, field 'n': not an integer"
bad "an int out of range" '{"a":"x","n":4294967296}' "$S2" "out of an Avro int's range"
bad "a schema that is not Avro" '{"a":"x"}' '{"type":"record","name":"R","fields":[{"name":"a","type":"strang"}]}' "property 'schema'"
bad "an enum value that is not a symbol" '{"t":"BRONZE"}' '{"type":"record","name":"R","fields":[{"name":"t","type":{"type":"enum","name":"T","symbols":["GOLD"]}}]}' "'BRONZE' is not a symbol of the enum"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
