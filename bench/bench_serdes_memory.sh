#!/bin/bash
# bench_serdes_memory.sh: peak RSS of the row-file converters at ROWS rows
# (default 10,000,000) next to the same at SMALL rows (default 100,000), to
# show that memory stays flat with the rows: JsonToIon, IonToJson, IonToCsv,
# CsvToIon, and IonToParquet / ParquetToIon when libduckdb is there. Each is
# one `kite run` under GNU time. Prints figures, asserts nothing (the
# converters' own test suites check what they write). Needs about 5 GB of
# free space in TMPDIR at 10 M rows.
set -u
export TMPDIR=${TMPDIR:-/tmp}
KITE=${KITE:-build/kite}
ROWS=${ROWS:-10000000}
SMALL=${SMALL:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x /usr/bin/time ] || { echo "bench_serdes_memory: /usr/bin/time (Debian's time) is missing"; exit 0; }

gen() { # gen N FILE: N JSON lines of six columns
    python3 - "$1" "$2" <<'PY'
import sys
n = int(sys.argv[1])
with open(sys.argv[2], "w", buffering=1 << 20) as f:
    for i in range(n):
        f.write('{"id":%d,"cluster":"mongo-%03d","size":%d,"ratio":%.6f,"ok":%s,"at":"2026-12-01T02:03:%02dZ"}\n'
                % (i, i % 100, i * 1024, i / 7.0, "true" if i % 3 == 0 else "false", i % 60))
PY
}

step() { # step LABEL N TYPE INPUT -> prints, sets $out to the output file
    local label=$1 n=$2 type=$3 input=$4
    cat >"$work/flow.yaml" <<YAML
id: mem
namespace: bench
inputs:
  - id: f
    type: FILE
tasks:
  - id: conv
    type: $type
    from: "{{ inputs.f }}"
YAML
    rm -rf "$work/data"
    if ! /usr/bin/time -f '%M %e %U %S' -o "$work/time" "$KITE" run "$work/flow.yaml" --data "$work/data" --file f="$input" \
        >/dev/null 2>"$work/err"; then
        echo "$label: failed: $(grep ERROR "$work/err" | tail -1)"; out=; return 1
    fi
    out="$work/$label.$n.out"
    mv "$(find "$work/data" -path '*conv*' -type f | grep -v '\.tmp' | head -1)" "$out"
    read -r rss wall usr sys <"$work/time"
    awk -v l="$label" -v n="$n" -v rss="$rss" -v w="$wall" -v u="$usr" -v s="$sys" -v o="$(stat -c %s "$out")" \
        'BEGIN { printf "%-14s %10d rows: peak RSS %7.1f MiB, %7.1f s (%6.1f s CPU), output %9.2f MiB\n", l, n, rss / 1024, w, u + s, o / 1048576 }'
    rm -rf "$work/data"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "$SMALL" "$ROWS"; do
    gen "$n" "$work/rows.$n.jsonl"
    step JsonToIon "$n" io.kestra.plugin.serdes.json.JsonToIon "$work/rows.$n.jsonl" || continue
    rm -f "$work/rows.$n.jsonl"; ion=$out
    step IonToJson "$n" io.kestra.plugin.serdes.json.IonToJson "$ion" && rm -f "$out"
    step IonToCsv "$n" io.kestra.plugin.serdes.csv.IonToCsv "$ion" && { csv=$out
        step CsvToIon "$n" io.kestra.plugin.serdes.csv.CsvToIon "$csv" && rm -f "$out"; rm -f "$csv"; }
    if step IonToParquet "$n" io.kestra.plugin.serdes.parquet.IonToParquet "$ion"; then
        pq=$out
        step ParquetToIon "$n" io.kestra.plugin.serdes.parquet.ParquetToIon "$pq" && rm -f "$out"
        rm -f "$pq"
    fi
    rm -f "$ion"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
