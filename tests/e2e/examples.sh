#!/bin/bash
# The example flows that `make run` serves are valid and run to SUCCESS.
# A flow whose first line says "# examples.sh: needs-servers" is only
# validated here: it needs outside servers, and the test named on that line
# runs it against loopback ones (failure-alerts.yaml: tests/e2e/notify.sh).
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in examples/flows/*.yaml; do
    name=$(basename "$f")
    # "# needs: postgresql ..." on line 1: a flow that needs servers is validated here and
    # run by the suite that starts them (tests/e2e/sql.sh)
    needs=$(sed -n '1s/^# needs: //p' "$f")
    if [ -n "$needs" ]; then
        if out=$("$KITE" validate --no-color "$f" 2>&1); then
            echo "PASS $name is valid"
        elif echo "$out" | grep -q "unknown task type"; then
            echo "SKIP $name: uses a type kite does not have yet: $(echo "$out" | grep -o "unknown task type '[^']*'" | head -1)"
        else
            echo "FAIL $name: not valid"; echo "$out" | head -5
        fi
        echo "SKIP $name: needs $needs"
        continue
    fi
    if ! out=$("$KITE" validate --no-color "$f" 2>&1); then
        echo "FAIL $name: not valid"; echo "$out" | head -5; continue
    fi
    if head -1 "$f" | grep -q '^# examples.sh: needs-servers'; then
        echo "PASS $name is valid (run by $(head -1 "$f" | sed 's/.*; //; s/ runs it)//'))"
        continue
    fi
    if state=$("$KITE" run "$f" --data "$work/$name" --quiet --json 2>"$work/err" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["current"])') &&
        [ "$state" = "SUCCESS" ]; then
        echo "PASS $name runs to SUCCESS"
    else
        echo "FAIL $name ended ${state:-?}"; head -5 "$work/err"
    fi
done
