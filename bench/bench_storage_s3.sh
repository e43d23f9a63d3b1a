#!/bin/bash
# bench_storage_s3.sh: a flow whose script writes a 100 MB output file, run
# with `kite run` on the local storage and on the s3 storage backend
# (storage: s3://... in kite.yml, against tests/lib/s3_fake.py on loopback,
# multipart uploads of 8 MiB parts), then the same file read back by a
# second task (a download into a spool file on s3). Prints the wall time and
# kite's peak RSS (GNU time's maximum resident set size) of each: memory
# stays bounded on s3 (one part in memory), whatever the file size. The
# Python fake (which hashes every body to check its signature) bounds the s3
# figures; they compare the backends' client side. Figures only.
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
