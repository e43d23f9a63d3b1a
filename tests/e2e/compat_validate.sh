#!/bin/bash
# Kestra's own test flows through `kite validate`: every valid flow that uses
# no test-only type is accepted, every invalid one is rejected with at least
# one positioned message (file:line:col).
set -u
KITE=${KITE:-build/kite}
COMPAT=${COMPAT:-../shared/compat/kestra}
if [ ! -d "$COMPAT/valids" ]; then
    # A plain clone has no corpus beside it: say where we looked and skip.
    # CI lays shared/ beside the clone, so there a missing corpus is a failure.
    if [ "${CI:-}" = true ]; then
        echo "FAIL compat corpus not found at $COMPAT (CI=true: it must be there)"
        exit 1
    fi
    echo "SKIP $(basename "$0" .sh): Kestra's compat corpus not found at $COMPAT (set COMPAT=DIR)"
    exit 0
fi
# test-only types exist only inside Kestra's Java test suite (README there)
test_only='io\.kestra\.(core\.tasks\.test|core\.runners\.test|plugin\.fs)\.'
n_valid=0
for f in "$COMPAT"/valids/*.y*ml; do
    name=$(basename "$f")
    if grep -qE "$test_only" "$f"; then
        continue
    fi
    n_valid=$((n_valid + 1))
    if out=$("$KITE" validate --no-color "$f" 2>&1); then
        echo "PASS valid/$name"
    else
        echo "FAIL valid/$name"
        echo "$out" | head -20
    fi
done
n_invalid=0
for f in "$COMPAT"/invalids/*.y*ml; do
    name=$(basename "$f")
    n_invalid=$((n_invalid + 1))
    out=$("$KITE" validate --no-color "$f" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && echo "$out" | grep -qE "^$f:[0-9]+:[0-9]+: error: "; then
        echo "PASS invalid/$name"
    else
        echo "FAIL invalid/$name (exit $rc, expected 1 and a file:line:col message)"
        echo "$out" | head -10
    fi
done
echo "compat: $n_valid valid flows, $n_invalid invalid flows checked"
# the whole folder at once: recursion across flows is checked, every valid
# flow still passes
out=$("$KITE" validate --json "$COMPAT/valids" 2>/dev/null)
bad=$(echo "$out" | /usr/bin/python3 -c '
import json, re, sys
files = json.load(sys.stdin)
test_only = re.compile(r"io\.kestra\.(core\.tasks\.test|core\.runners\.test|plugin\.fs)\.")
bad = [f["file"] for f in files if not f["valid"] and not test_only.search(open(f["file"]).read())]
print(" ".join(bad))')
if [ -z "$bad" ]; then echo "PASS valid folder as a whole"; else echo "FAIL valid folder as a whole: $bad"; fi
