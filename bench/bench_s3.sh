#!/bin/bash
# bench_s3.sh: S3 upload throughput of a 100 MB file with kite's
# io.kestra.plugin.aws.s3.Upload (multipart, 8 MiB parts, each part hashed
# for its x-amz-content-sha256) next to a bare `curl --aws-sigv4` upload of
# the same file (one PUT, UNSIGNED-PAYLOAD) to the same server:
# tests/lib/s3_fake.py, which checks every signature and writes to a folder
# under TMPDIR. Both are bounded by that Python server; the figures compare
# the client sides. Also: the Download of the same object. Run by `make
# bench` (KITE=binary). Figures only.
set -u
cd "$(dirname "$0")/.."
KITE=${KITE:-build/kite}
work=$(mktemp -d)
AK=AKIDBENCH
SK=bench/secret+key
python3 tests/lib/s3_fake.py --root "$work/s3" --port-file "$work/port" --access-key $AK --secret-key $SK 2>"$work/s3.err" &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
EP=http://127.0.0.1:$(cat "$work/port")
MB=${BENCH_S3_MB:-100}
head -c $((MB * 1000 * 1000)) /dev/urandom >"$work/f.bin"
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl -s -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 --user "$AK:$SK" -X PUT -H "x-amz-content-sha256: $EMPTY" "$EP/bench"
now() { date +%s.%N; }
rate() { python3 -c "print('%8.1f MB/s  %6.2f s' % ($MB / ($2 - $1), $2 - $1))"; }

cat >"$work/up.yaml" <<YAML
id: up
namespace: bench
inputs:
  - id: f
    type: FILE
tasks:
  - id: up
    type: io.kestra.plugin.aws.s3.Upload
    endpointOverride: $EP
    accessKeyId: $AK
    secretKeyId: $SK
    bucket: bench
    key: kite.bin
    from: "{{ inputs.f }}"
  - id: dl
    type: io.kestra.plugin.aws.s3.Download
    endpointOverride: $EP
    accessKeyId: $AK
    secretKeyId: $SK
    bucket: bench
    key: kite.bin
YAML
echo "bench_s3: upload of a $MB MB file to tests/lib/s3_fake.py on loopback (median of 3)"
for i in 1 2 3; do
    t0=$(now)
    curl -s -o /dev/null -w '' --aws-sigv4 aws:amz:us-east-1:s3 --user "$AK:$SK" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        -T "$work/f.bin" "$EP/bench/curl.bin"
    t1=$(now)
    echo "$(rate $t0 $t1)" >>"$work/curl.txt"
    "$KITE" run "$work/up.yaml" --data "$work/data$i" --file f="$work/f.bin" --json >"$work/run.json" 2>/dev/null
    python3 - "$work/run.json" "$MB" >>"$work/kite.txt" <<'PY'
import json, sys, datetime
d = json.load(open(sys.argv[1])); mb = float(sys.argv[2])
def dur(t):
    h = t['state']['histories']; p = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
    return (p(h[-1]['date']) - p(h[0]['date'])).total_seconds()
r = {t['taskId']: dur(t) for t in d['taskRunList']}
print('%8.1f MB/s  %6.2f s | download %8.1f MB/s  %6.2f s' % (mb / r['up'], r['up'], mb / r['dl'], r['dl']))
PY
    rm -rf "$work/data$i"
done
med() { sort -n "$1" | sed -n 2p; }
echo "  bare curl --aws-sigv4 (one PUT)      $(med "$work/curl.txt")"
echo "  kite s3.Upload (multipart, 8 MiB)    $(med "$work/kite.txt")"
