#!/bin/bash
# Parquet converters end to end through `kite run`, on DuckDB's Parquet writer
# and reader (libduckdb from vendor/duckdb): IonToParquet -> ParquetToIon round
# trips of every Ion type kite maps (columns inferred, and from an Avro schema
# with ZSTD / V1 checked in the file's own metadata), a file written by
# DuckDB's COPY (its integer, decimal, date, time, timestamp, blob, list,
# struct and map columns and nulls) read back, 200,000 rows both ways, a file
# that is not Parquet, a row that is not a struct, and without libduckdb:
# validate's warning and the run's message. SKIP without libduckdb (FAIL
# under CI=true).
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0; fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); tail -5 "$work/err" | sed 's/^/    /'; }
run() { rm -rf "$work/data"; timeout 120 "$KITE" run "$@" --data "$work/data" >"$work/out" 2>"$work/err"
        state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1); }
file() { find "$work/data" -path "*/tasks/$1/*" -type f | head -1; }
lib="$ROOT/vendor/duckdb/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"

# ---- without libduckdb (a copy of kite with no vendor/ beside it)
mkdir -p "$work/nodk/bin"; cp "$KITE" "$work/nodk/bin/kite"
cat >"$work/nodk.yaml" <<'YAML'
id: nodk
namespace: e2e.parquet
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: "{a:1}"
  - id: pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
YAML
out=$(env -u KITE_DUCKDB_LIB "$work/nodk/bin/kite" validate --no-color "$work/nodk.yaml" 2>&1)
echo "$out" | grep -q "nodk.yaml:8:5: warning: this type cannot run here: the Parquet tasks run on DuckDB's Parquet reader and writer, and libduckdb.so was not found on this host: scripts/setup.sh installs it under vendor/duckdb" &&
    ok validate_without_duckdb || ko validate_without_duckdb "$out"
rm -rf "$work/data"; env -u KITE_DUCKDB_LIB timeout 60 "$work/nodk/bin/kite" run "$work/nodk.yaml" --data "$work/data" >"$work/out" 2>"$work/err"
grep -q "ERROR pq the Parquet tasks run on DuckDB's .* vendor/duckdb (npm package @duckdb/node-bindings-linux-x64), or set KITE_DUCKDB_LIB" "$work/err" &&
    grep -q "ended FAILED" "$work/err" && ok run_without_duckdb || ko run_without_duckdb "$(tail -2 "$work/err")"

if [ ! -f "$lib" ] && [ -z "${KITE_DUCKDB_LIB:-}" ]; then
    if [ "${CI:-}" = true ]; then echo "FAIL parquet: no libduckdb.so under CI"; exit 1; fi
    echo "SKIP parquet: no libduckdb.so (scripts/setup.sh installs it under vendor/duckdb)"
    echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit
fi

# ---- every Ion type kite maps, columns inferred
cat >"$work/rt.yaml" <<'YAML'
id: rt
namespace: e2e.parquet
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:1,name:"Zoë",r:1.5e0,ok:true,at:2024-01-02T03:04:05.123Z,d:2024-01-02T,cost:12.50,b:{{ "{{" }}AAEC}},l:[1,2],s:{a:1,b:"x"},sym:red,big:123456789012345678901234567890,n:null}
      {id:2,name:"b",r:-0.25e0,ok:false,at:2024-07-01T10:00:00+02:00,d:2024-03-04T,cost:3.1,b:{{ "{{" }}}},l:[],s:{a:2,b:null},sym:'blue x',big:-1,n:null}
      {id:3,name:null,r:nan,ok:null,at:null,d:null,cost:null,b:null,l:null,s:null,sym:null,big:null,n:null}
  - id: to_pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.to_pq.uri }}"
YAML
run "$work/rt.yaml"
if [ "$state" != SUCCESS ]; then ko roundtrip_inferred "ended ${state:-?}"; else
    cat >"$work/want.ion" <<'ION'
{id:1,name:"Zoë",r:1.5e0,ok:true,at:2024-01-02T03:04:05.123Z,d:2024-01-02T,cost:12.50,b:{{AAEC}},l:[1,2],s:{a:1,b:"x"},sym:"red",big:123456789012345678901234567890.,n:null}
{id:2,name:"b",r:-0.25e0,ok:false,at:2024-07-01T08:00:00.000Z,d:2024-03-04T,cost:3.10,b:{{}},l:[],s:{a:2,b:null},sym:"blue x",big:-1.,n:null}
{id:3,name:null,r:nan,ok:null,at:null,d:null,cost:null,b:null,l:null,s:null,sym:null,big:null,n:null}
ION
    cmp -s "$(file back)" "$work/want.ion" && ok roundtrip_inferred || ko roundtrip_inferred "$(diff "$(file back)" "$work/want.ion")"
    [ "$(head -c 4 "$(file to_pq)")" = PAR1 ] && ok ion_to_parquet_is_parquet || ko ion_to_parquet_is_parquet "$(head -c 4 "$(file to_pq)" | od -c | head -1)"
fi

# ---- an Avro schema: types, ZSTD and format V1 as the file's metadata says
cat >"$work/schema.yaml" <<YAML
id: schema
namespace: e2e.parquet
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:1,cost:12.5,at:2024-01-02T03:04:05.123Z,day:2024-01-02T,note:"a",tags:["x","y"],pt:{x:1,y:2},extra:"dropped"}
      {id:"2",cost:0.125,at:"2024-01-03T00:00:00Z",day:"2024-01-03",tags:[],pt:{x:3,y:null}}
  - id: to_pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
    compressionCodec: ZSTD
    parquetVersion: V1
    rowGroupSize: 1048576
    schema: |
      {"type": "record", "name": "R", "fields": [
        {"name": "id", "type": "int"},
        {"name": "cost", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "note", "type": ["null", "string"], "default": null},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "pt", "type": {"type": "record", "name": "P", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": ["null", "long"]}]}}]}
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.to_pq.uri }}"
YAML
run "$work/schema.yaml"
if [ "$state" != SUCCESS ]; then ko roundtrip_schema "ended ${state:-?}"; else
    printf '%s\n' '{id:1,cost:12.50,at:2024-01-02T03:04:05.123Z,day:2024-01-02T,note:"a",tags:["x","y"],pt:{x:1,y:2}}' \
        '{id:2,cost:0.13,at:2024-01-03T00:00:00.000Z,day:2024-01-03T,note:null,tags:[],pt:{x:3,y:null}}' >"$work/want.ion"
    cmp -s "$(file back)" "$work/want.ion" && ok roundtrip_avro_schema || ko roundtrip_avro_schema "$(diff "$(file back)" "$work/want.ion")"
    pq=$(file to_pq)
    cat >"$work/meta.yaml" <<YAML
id: meta
namespace: e2e.parquet
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: "jdbc:duckdb:"
    fetchType: FETCH_ONE
    sql: |
      SELECT string_agg(DISTINCT compression, ',') AS c, string_agg(DISTINCT type, ',' ORDER BY type) AS t,
        (SELECT string_agg(DISTINCT encodings, ',') FROM parquet_metadata('$pq') WHERE path_in_schema = 'id') AS enc
      FROM parquet_metadata('$pq')
YAML
    rm -rf "$work/meta"; "$KITE" run "$work/meta.yaml" --data "$work/meta" --json >"$work/meta.json" 2>"$work/err"
    python3 - "$work/meta.json" <<'PY' && ok schema_codec_version || ko schema_codec_version "$(cat "$work/meta.json" | head -c 600)"
import json, sys
t = open(sys.argv[1]).read()
row = json.loads(t[t.index("{"):])["taskRunList"][0]["outputs"]["row"]
assert row["c"] == "ZSTD", row
# V1 pages: no DATA_PAGE_V2 (DuckDB's V2 writes the DELTA/BYTE_STREAM_SPLIT encodings, V1 plain and dictionary)
assert "DELTA" not in row["enc"], row
PY
fi

# ---- a file DuckDB's own COPY wrote
cat >"$work/duck.yaml" <<YAML
id: duck
namespace: e2e.parquet
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: "jdbc:duckdb:"
    sql: |
      COPY (SELECT i::TINYINT AS ti, i::SMALLINT AS si, i::INTEGER AS ii, i::BIGINT AS bi,
        i::HUGEINT * 100000000000000000000::HUGEINT AS hi, i::UBIGINT AS ub, i / 4 AS dbl, (i / 4)::FLOAT AS fl,
        (i * 1.25)::DECIMAL(18,3) AS dec, 'r' || i AS txt, i % 2 = 0 AS b, DATE '2024-01-01' + i::INTEGER AS dt,
        TIMESTAMP '2024-01-02 03:04:05.123456' + INTERVAL (i) HOUR AS ts, TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS tstz,
        TIME '10:15:30' AS tm, encode('x' || i) AS bl, [i, i + 1] AS lst, {'a': i, 'b': 'x' || i} AS st, MAP {'k': i} AS mp,
        CASE WHEN i % 2 = 0 THEN NULL ELSE i END AS maybe
        FROM range(3) t(i)) TO '$work/duck.parquet' (FORMAT PARQUET)
YAML
rm -rf "$work/dk"; "$KITE" run "$work/duck.yaml" --data "$work/dk" >/dev/null 2>"$work/err"
cat >"$work/read.yaml" <<'YAML'
id: read
namespace: e2e.parquet
inputs:
  - id: f
    type: FILE
tasks:
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ inputs.f }}"
YAML
run "$work/read.yaml" --file f="$work/duck.parquet"
if [ "$state" != SUCCESS ]; then ko duckdb_file "ended ${state:-?}"; else
    want='{ti:1,si:1,ii:1,bi:1,hi:1e20,ub:1,dbl:0.25e0,fl:0.25e0,dec:1.250,txt:"r1",b:false,dt:2024-01-02T,ts:2024-01-02T04:04:05.123456Z,tstz:2024-01-02T03:04:05.500Z,tm:"10:15:30",bl:{{eDE=}},lst:[1,2],st:{a:1,b:"x1"},mp:{k:1},maybe:1}'
    [ "$(sed -n 2p "$(file back)")" = "$want" ] && ok duckdb_copy_file_types || ko duckdb_copy_file_types "$(sed -n 2p "$(file back)")"
    sed -n 1p "$(file back)" | grep -q ',maybe:null}$' && ok duckdb_copy_file_nulls || ko duckdb_copy_file_nulls "$(sed -n 1p "$(file back)")"
fi

# ---- 200,000 rows both ways
python3 - "$work/big.ion" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write('{id:%d,cluster:"mongo-%03d",size:%d,ratio:%re0,ok:%s,at:2026-12-01T02:03:%02dZ}\n'
                % (i, i % 100, i * 1024, i / 7.0, "true" if i % 3 == 0 else "false", i % 60))
PY
cat >"$work/big.yaml" <<'YAML'
id: big
namespace: e2e.parquet
inputs:
  - id: f
    type: FILE
tasks:
  - id: to_pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ inputs.f }}"
  - id: back
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.to_pq.uri }}"
YAML
run "$work/big.yaml" --file f="$work/big.ion"
if [ "$state" != SUCCESS ]; then ko large_file "ended ${state:-?}"; else
    b=$(file back)
    [ "$(wc -l <"$b")" -eq 200000 ] && [ "$(tail -1 "$b")" = '{id:199999,cluster:"mongo-099",size:204798976,ratio:28571.285714285714e0,ok:false,at:2026-12-01T02:03:19.000Z}' ] &&
        ok large_file_200k_rows || ko large_file_200k_rows "$(wc -l <"$b") lines, last $(tail -1 "$b")"
fi

# ---- bad input
printf 'id,name\n1,a\n' >"$work/not.parquet"
run "$work/read.yaml" --file f="$work/not.parquet"
[ "$state" = FAILED ] && grep -q "property 'from': not a Parquet file (DuckDB): Invalid Input Error: No magic bytes found at end of file 'kestra:///e2e.parquet/read/executions/.*/not.parquet'" "$work/err" &&
    ok not_parquet || ko not_parquet "${state:-?}"
cat >"$work/list.yaml" <<'YAML'
id: list
namespace: e2e.parquet
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {a:1}
      [1,2]
  - id: to_pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
YAML
run "$work/list.yaml"
[ "$state" = FAILED ] && grep -q "row 2: a Parquet row must be a struct, not a list" "$work/err" && ok row_not_struct || ko row_not_struct "${state:-?}"
cat >"$work/codec.yaml" <<'YAML'
id: codec
namespace: e2e.parquet
tasks:
  - id: ion
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: '{a:"maybe"}'
  - id: to_pq
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.ion.uri }}"
    schema: '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "boolean"}]}'
YAML
run "$work/codec.yaml"
[ "$state" = FAILED ] && grep -q "property 'from': DuckDB: Invalid Input Error: JSON transform error in file \"the Ion rows (a line is a row)\", in line 1: Failed to cast value" "$work/err" && ok value_does_not_fit_schema || ko value_does_not_fit_schema "${state:-?}: $(grep ERROR "$work/err")"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
