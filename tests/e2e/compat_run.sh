#!/bin/bash
# Kestra's own test flows through `kite run`: every case of
# ../shared/compat/kestra/expectations.tsv, in the environment its README
# describes (globals, KESTRA_ environment, SECRET_ variables, the whole
# valids folder loaded for subflows). Prints one PASS/FAIL line per case and
# the pass count; a failure shows what was expected and what kite did.
set -u
KITE=${KITE:-build/kite}
COMPAT=${COMPAT:-../shared/compat/kestra}
TSV="$COMPAT/expectations.tsv"
if [ ! -f "$TSV" ]; then
    # A plain clone has no corpus beside it: say where we looked and skip.
    # CI lays shared/ beside the clone, so there a missing corpus is a failure.
    if [ "${CI:-}" = true ]; then
        echo "FAIL compat corpus not found at $COMPAT (CI=true: it must be there)"
        exit 1
    fi
    echo "SKIP $(basename "$0" .sh): Kestra's compat corpus not found at $COMPAT (set COMPAT=DIR)"
    exit 0
fi
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/kite.yml" <<'YML'
variables:
  envPrefix: KESTRA_
  globals:
    string: "string"
    int: 1
    bool: true
    nested:
      int: 2
YML
export KESTRA_TEST1=true
export KESTRA_TEST2="Pass by env"
export SECRET_MY_SECRET=$(printf '%s' '{"secretKey":"secretValue"}' | base64 -w0)
export SECRET_WEBHOOK_KEY=$(printf '%s' 'secretKey' | base64 -w0)
export SECRET_PASSWORD=$(printf '%s' 'password' | base64 -w0)
export SECRET_NEW_LINE=$(printf '%s' 'passwordveryveryveyrlongpasswordveryveryveyrlongpasswordveryveryveyrlongpasswordveryveryveyrlongpasswordveryveryveyrlong' | base64 -w0)

pass=0; fail=0; n=0
while IFS=$'\t' read -r file inputs state count note; do
    case "$file" in ''|'#'*) continue;; esac
    n=$((n + 1))
    args=()
    flow="$COMPAT/valids/$file"
    ov=$(awk -F'\t' -v f="$file" -v i="$inputs" '$1 == f && $2 == i { print $3 "\t" $4 }' "$ROOT_DIR/tests/compat/overrides.tsv")
    if [ -n "$ov" ]; then
        inputs=${ov%%$'\t'*}
        edit=${ov#*$'\t'}
        if [ "$edit" != "-" ]; then
            flow="$work/edited-$file"
            sed "$edit" "$COMPAT/valids/$file" >"$flow"
        fi
    fi
    if [ "$inputs" != "-" ]; then
        IFS=';' read -ra kvs <<<"$inputs"
        for kv in "${kvs[@]}"; do args+=(--input "$kv"); done
    fi
    data="$work/data-$n"
    t0=$(date +%s%N)
    out=$(timeout 60 "$KITE" run "$flow" --flows "$COMPAT/valids" --config "$work/kite.yml" \
        --data "$data" --json "${args[@]}" 2>"$work/stderr-$n")
    rc=$?
    got=$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
try:
    x = json.load(sys.stdin)
    print(x["state"]["current"], len(x["taskRunList"]))
except Exception:
    print("NOJSON -")' 2>/dev/null)
    got_state=${got% *}; got_count=${got#* }
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    name="$file${inputs:+ [$inputs]} (${ms} ms)"
    if [ "$got_state" = "$state" ] && { [ "$count" = "-" ] || [ "$got_count" = "$count" ]; }; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name: expected $state/$count, got $got_state/$got_count (exit $rc) -- $note"
        grep -v -e '^[0-9:. ]*\(INFO\|DEBUG\|TRACE\) ' -e 'test-only' "$work/stderr-$n" | grep -iE 'error|fail|kite run' | grep -v -e 'skipped .*not valid' -e "type 'io.kestra.\(core.tasks.test\|core.runners.test\|plugin.fs\)" | head -8 | sed 's/^/    /'
        fail=$((fail + 1))
    fi
done <"$TSV"
echo "compat run: $pass of $n cases pass"
