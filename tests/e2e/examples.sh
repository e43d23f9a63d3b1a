#!/bin/bash
# The example flows that `make run` serves are valid and run to SUCCESS.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in examples/flows/*.yaml; do
    name=$(basename "$f")
    if ! out=$("$KITE" validate --no-color "$f" 2>&1); then
        echo "FAIL $name: not valid"; echo "$out" | head -5; continue
    fi
    if state=$("$KITE" run "$f" --data "$work/$name" --quiet --json 2>"$work/err" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["current"])') &&
        [ "$state" = "SUCCESS" ]; then
        echo "PASS $name runs to SUCCESS"
    else
        echo "FAIL $name ended ${state:-?}"; head -5 "$work/err"
    fi
done
