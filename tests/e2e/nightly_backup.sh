#!/bin/bash
# examples/flows/nightly-backup.yaml against the fakes: the test sshd
# (tests/lib/sshd.sh) stands for two database hosts (127.0.0.1 and
# localhost), tests/lib/s3_fake.py (SigV4 checked) for S3 and
# tests/lib/hooksrv.py for Slack. A good night: each host's dump is in the
# bucket under <host>/<date>.sql.gz, byte for byte, and Slack hears nothing.
# A failing dump: the execution FAILS and one SlackExecution message names
# the flow, the state and the failed task. The credentials come from
# secret() (kite's secrets store, a parent namespace's, and SECRET_*
# variables) and are in no log line.
set -u
ROOT=${ROOT:-$PWD}
KITE=${KITE:-build/kite}
. "$ROOT/tests/lib/sshd.sh"
work=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; sshd_stop; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0; fail=0
check() {
    if eval "$2"; then echo "PASS $1"; pass=$((pass + 1)); else
        echo "FAIL $1"; fail=$((fail + 1)); tail -8 "$work/err" | sed 's/^/    /'; fi
}
if ! sshd_start "$work/sshd"; then echo "FAIL sshd_start"; exit 1; fi
AK=AKIDNIGHTLY
SK='nightly/Secret+9'
mkdir -p "$work/rec"
python3 "$ROOT/tests/lib/s3_fake.py" --root "$work/s3root" --port-file "$work/sport" --access-key "$AK" --secret-key "$SK" \
    2>"$work/s3.err" &
PIDS+=($!)
python3 "$ROOT/tests/lib/hooksrv.py" --dir "$work/rec" --max-seconds 300 >"$work/hook.port" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$work/sport" ] && [ -s "$work/hook.port" ] && break; sleep 0.05; done
EP=http://127.0.0.1:$(cat "$work/sport")
H=http://127.0.0.1:$(head -1 "$work/hook.port")
b64() { printf '%s' "$1" | base64 -w0; }
# the SSH key and the S3 secret from kite's secrets store (the parent namespace `company`
# holds them), the others from SECRET_* variables
"$KITE" secret set company BACKUP_SSH_KEY --data "$work/data" <"$SSHD_KEY" 2>"$work/err" || echo "FAIL secret set: $(cat "$work/err")"
printf '%s' "$SK" | "$KITE" secret set company BACKUP_S3_SECRET_KEY --data "$work/data" 2>>"$work/err"
export SECRET_BACKUP_S3_ACCESS_KEY=$(b64 "$AK")
export SECRET_SLACK_WEBHOOK=$(b64 "$H/slack/T0NIGHT/B0NIGHT/nightlyHookT0ken1")
FLOW=$ROOT/examples/flows/nightly-backup.yaml
# a "database" on the host: what the dump command prints
mkdir -p "$work/db"
head -c 300000 /dev/urandom | base64 >"$work/db/dump.sql"
run() { timeout 180 "$KITE" run "$FLOW" --data "$work/data" \
        --input hosts='["127.0.0.1","localhost"]' --input sshPort="$SSHD_PORT" --input sshUser="$SSHD_USER" \
        --input bucket=backups --input s3Endpoint="$EP" --input dumpCommand="$1" >"$work/out" 2>"$work/err"
        state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1); }
nslack() { ls "$work/rec" | wc -l; }

check "the example validates" '"$KITE" validate "$FLOW" >/dev/null 2>&1'
run "gzip -c $work/db/dump.sql"
day=$(date -u +%Y-%m-%d)
check "a good night ends SUCCESS" '[ "$state" = SUCCESS ]'
check "each host's dump is in the bucket under <host>/<date>.sql.gz, byte for byte" \
    'for h in 127.0.0.1 localhost; do zcat "$work/s3root/b/backups/$h%2F$day.sql.gz.data" | cmp -s - "$work/db/dump.sql" || exit 1; done'
check "the dump's size came back as an output of the SSH command" \
    'grep -q "127.0.0.1: $(gzip -c "$work/db/dump.sql" | wc -c | tr -d " ") bytes in s3://backups/127.0.0.1/" "$work/err"'
check "no Slack message on a good night" '[ "$(nslack)" = 0 ]'
check "no credential in the logs" '! grep -qF -e "$SK" -e "nightlyHookT0ken1" -e "$(sed -n 2p "$SSHD_KEY")" "$work/err"'

run "false"
check "a failing dump fails the execution" '[ "$state" = FAILED ]'
check "one Slack message, naming the flow, the state and the failed task" \
    '[ "$(nslack)" = 1 ] && python3 - "$work/rec" <<PY
import glob, json, sys
r = json.load(open(sorted(glob.glob(sys.argv[1] + "/*.json"))[0]))
b = json.dumps(json.loads(r["body"]))
assert r["ok"] and r["path"] == "/slack/T0NIGHT/B0NIGHT/nightlyHookT0ken1", r
assert "nightly-backup" in b and "FAILED" in b and "dump" in b and "a nightly backup failed" in b and "#ops" in b, b
PY'
check "the webhook's token is masked in the logs" '! grep -q "nightlyHookT0ken1" "$work/err"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
