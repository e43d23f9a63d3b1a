#!/bin/bash
# bench_storage_s3.sh: a flow whose script writes a 100 MB output file, run
# with `kite run` on the local storage and on the s3 storage backend
# (storage: s3://... in kite.yml, against tests/lib/s3_fake.py on loopback,
# multipart uploads of 8 MiB parts), then the same file read back by a
# second task (a download into a spool file on s3). Prints the wall time and
# kite's peak RSS (GNU time's maximum resident set size) of each: memory
# stays bounded on s3 (one part in memory), whatever the file size. The
# Python fake (which hashes every body to check its signature) bounds the s3
# figures; they compare the backends' client side. Then the API's download
# of a BENCH_DOWNLOAD_MB (200) MB output from s3 storage by `kite server`:
# time to the first byte, the whole time, and the server's peak RSS
# (VmHWM); KITE_BEFORE=path/to/an/older/kite runs the same for it. Figures
# only.
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
work=$(mktemp -d)
AK=AKIDBENCH
SK=bench/secret+key
python3 tests/lib/s3_fake.py --root "$work/s3" --port-file "$work/port" --access-key $AK --secret-key $SK 2>"$work/s3.err" &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.05; done
EP=http://127.0.0.1:$(cat "$work/port")
mkdir -p "$work/s3/b/bench"
MB=${BENCH_STORAGE_MB:-100}
RUNS=${BENCH_RUNS:-3}
cat >"$work/flow.yml" <<YAML
id: big
namespace: bench
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [big.out]
    commands:
      - head -c $((MB * 1000 * 1000)) /dev/zero > big.out
  - id: size
    type: io.kestra.plugin.core.debug.Return
    format: "{{ fileSize(outputs.make.outputFiles['big.out']) }}"
YAML
cat >"$work/s3.yml" <<YAML
storage:
  url: s3://bench/kite
  endpoint: $EP
  accessKeyId: $AK
  secretKeyId: $SK
YAML
printf '{}\n' >/dev/null
run() { # run NAME CONFIG...: one row of figures
    local name=$1
    shift
    for i in $(seq 1 "$RUNS"); do
        rm -rf "$work/data"
        /usr/bin/time -f '%e %M' -o "$work/t" "$KITE" run "$@" --data "$work/data" "$work/flow.yml" >"$work/out" 2>&1 ||
            { echo "  $name: run failed"; tail -5 "$work/out"; return; }
        cat "$work/t" >>"$work/$name.txt"
    done
    sort -n "$work/$name.txt" | sed -n "$(((RUNS + 1) / 2))p" |
        awk -v n="$name" -v mb="$MB" '{ printf "  %-38s %6.2f s  %7.1f MB/s  peak RSS %6.1f MB\n", n, $1, mb / $1, $2 / 1024 }'
}
echo "bench_storage_s3: a $MB MB output file written and sized by kite run (median of $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg))"
run "local storage" 
run "s3 storage (s3_fake.py, 8 MiB parts)" --config "$work/s3.yml"

# ---- the API's download of a large output from s3 storage ----
DMB=${BENCH_DOWNLOAD_MB:-200}
sed "s/head -c [0-9]*/head -c $((DMB * 1000 * 1000))/" \
    "$work/flow.yml" >"$work/dflow.yml"
TOKEN=bench-admin-token-0123456789abcdef
download() { # download SLUG NAME KITE: one row
    local slug=$1 name=$2 bin=$3
    rm -rf "$work/ddata" "$work/$slug.d"
    "$bin" run --config "$work/s3.yml" --data "$work/ddata" "$work/dflow.yml" >"$work/out" 2>&1 ||
        { echo "  $name: run failed"; tail -5 "$work/out"; return; }
    local id port pid
    id=$(sed -n 's/^execution \([^ ]*\) ended.*/\1/p' "$work/out" | tail -1)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    KITE_ADMIN_TOKEN=$TOKEN "$bin" server local --port "$port" --quiet --config "$work/s3.yml" --data "$work/ddata" \
        >"$work/srv.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.05; done
    local api=http://127.0.0.1:$port/api/v1 uri
    uri=$(curl -s -H "Authorization: Bearer $TOKEN" "$api/executions/$id" | python3 -c \
        'import json,sys; d=json.load(sys.stdin); print([t for t in d["taskRunList"] if t["taskId"]=="make"][0]["outputs"]["outputFiles"]["big.out"])')
    for i in $(seq 1 "$RUNS"); do
        curl -s -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' \
            -H "Authorization: Bearer $TOKEN" --get --data-urlencode "path=$uri" "$api/executions/$id/file" \
            >>"$work/$slug.d"
    done
    local hwm
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null
    sort -n -k2 "$work/$slug.d" | sed -n "$(((RUNS + 1) / 2))p" | awk -v n="$name" -v h="$hwm" -v mb="$DMB" \
        '{ printf "  %-38s first byte %6.2f s  all %6.2f s (%5.1f MB/s, %d bytes)  server peak RSS %6.1f MB\n", n, $1, $2, mb / $2, $3, h / 1024 }'
}
echo "bench_storage_s3: GET /executions/{id}/file of a $DMB MB output on s3 storage (median of $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg))"
download new "streamed (ranged GETs of 4 MiB)" "$KITE"
[ -n "${KITE_BEFORE:-}" ] && download before "staged whole (KITE_BEFORE)" "$KITE_BEFORE"
exit 0
