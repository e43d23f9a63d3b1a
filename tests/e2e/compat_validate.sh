#!/bin/bash
# Kestra's own test flows through `kite validate`: every valid flow that uses
# no test-only type is accepted, every invalid one is rejected with at least
# one positioned message (file:line:col).
#
# One valid flow is refused on purpose: flowable-with-parent-fail.yaml holds a
# template that cannot parse (`{% for %}` inside `{{ }}`), which Kestra finds
# only when its If task runs, failing the execution (what Kestra's test
# asserts). kite checks templates at validation, so it is an error here, at
# its line and column; the case below checks exactly that.
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
cannot_render='flowable-with-parent-fail.yaml'
n_valid=0
for f in "$COMPAT"/valids/*.y*ml; do
    name=$(basename "$f")
    if grep -qE "$test_only" "$f"; then
        continue
    fi
    if [ "$name" = "$cannot_render" ]; then
        out=$("$KITE" validate --no-color "$f" 2>&1)
        rc=$?
        if [ $rc -eq 1 ] && echo "$out" | grep -qF "$f:17:73: error: template: 1:49: expected an expression, found '%'"; then
            echo "PASS valid/$name: its template that cannot parse is an error at its position"
        else
            echo "FAIL valid/$name (exit $rc, expected 1 and the template's position)"
            echo "$out" | head -10
        fi
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
# flows that read missing names on purpose: a warning (exit 0), an error under --strict
for case in "task-runif.yml:20:16: warning: no task 'notexists' in this flow" \
            "variables-invalid.yaml:10:15: warning: input 'invalid' is not declared in this flow"; do
    name=${case%%:*}
    f=$COMPAT/valids/$name
    out=$("$KITE" validate --no-color "$f" 2>&1); rc=$?
    if [ $rc -eq 0 ] && echo "$out" | grep -qF "$COMPAT/valids/$case"; then
        echo "PASS warning only: $name"
    else
        echo "FAIL warning only: $name (exit $rc)"; echo "$out" | head -5
    fi
    "$KITE" validate --strict --no-color "$f" >/dev/null 2>&1; rc=$?
    if [ $rc -eq 1 ]; then echo "PASS --strict refuses $name"; else echo "FAIL --strict: $name exit $rc, expected 1"; fi
done
out=$("$KITE" validate --no-color "$COMPAT/valids/empty-variables.yml" 2>&1); rc=$?
if [ $rc -eq 0 ] && ! echo "$out" | grep -q warning; then
    echo "PASS empty-variables.yml: missing outputs read through ?? are not warned about"
else
    echo "FAIL empty-variables.yml (exit $rc)"; echo "$out" | head -5
fi
# the whole folder at once: recursion across flows is checked, every valid
# flow still passes
out=$("$KITE" validate --json "$COMPAT/valids" 2>/dev/null)
bad=$(echo "$out" | /usr/bin/python3 -c '
import json, re, sys
files = json.load(sys.stdin)
test_only = re.compile(r"io\.kestra\.(core\.tasks\.test|core\.runners\.test|plugin\.fs)\.")
bad = [f["file"] for f in files if not f["valid"] and not test_only.search(open(f["file"]).read())
       and not f["file"].endswith("/flowable-with-parent-fail.yaml")]
print(" ".join(bad))')
if [ -z "$bad" ]; then echo "PASS valid folder as a whole"; else echo "FAIL valid folder as a whole: $bad"; fi
