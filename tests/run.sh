#!/bin/bash
# tests/run.sh: runs every test kite has and ends with one summary line,
# "N passed, N failed", that CI reads.
#
#   unit      build/tests/test_*      cmocka binaries, one per module
#   fuzz      build/tests/replay_*    each fuzz target over its corpus
#   e2e       tests/e2e/*.sh          scripts that drive the real binary;
#                                     each prints "PASS name" / "FAIL name"
#                                     (or "SKIP name: why", counted apart)
#   layers    scripts/check-layers.sh  no include runs up a layer
#
# ONLY=substring runs only the suites whose name contains it.
set -u
BUILD=${BUILD:-build}
export BUILD
export KITE="$PWD/$BUILD/kite"
export ROOT="$PWD"
export COMPAT="${COMPAT:-$PWD/../shared/compat/kestra}"
passed=0
failed=0
skipped=0
failures=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

want() { [ -z "${ONLY:-}" ] || [[ "$1" == *"$ONLY"* ]]; }

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    want "$name" || continue
    out="$log/$name.out"
    CMOCKA_MESSAGE_OUTPUT=STDOUT "$t" >"$out" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-28s %4d passed %4d failed\n' "$name" "$p" "$f"
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        grep -E '^\[  (FAILED|ERROR)|^\[   LINE|error|Error|ERROR|Sanitizer' "$out" | head -40
    fi
done

for r in "$BUILD"/tests/replay_*; do
    [ -x "$r" ] || continue
    name=$(basename "$r"); target=${name#replay_}
    want "$name" || continue
    corpus="tests/fuzz/corpus/$target"
    [ -d "$corpus" ] || continue
    if "$r" "$corpus" >"$log/$name.out" 2>&1; then
        passed=$((passed + 1))
        printf '%-28s %s\n' "$name" "$(tail -1 "$log/$name.out")"
    else
        failed=$((failed + 1)); failures+=("$name")
        printf '%-28s FAILED\n' "$name"; tail -30 "$log/$name.out"
    fi
done

for s in tests/e2e/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    want "$name" || continue
    out="$log/$name.out"
    bash "$s" >"$out" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    k=$(grep -c '^SKIP ' "$out")
    skipped=$((skipped + k))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $name exited $rc" >>"$out"; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-28s %4d passed %4d failed' "$name" "$p" "$f"
    [ "$k" -gt 0 ] && printf ' %4d skipped' "$k"
    printf '\n'
    grep '^SKIP ' "$out" | head -5
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        grep -v '^PASS ' "$out" | head -60
    fi
done

if want layers; then
    if out=$(./scripts/check-layers.sh 2>&1); then
        passed=$((passed + 1)); printf '%-28s %4d passed %4d failed\n' layers 1 0
    else
        failed=$((failed + 1)); failures+=(layers)
        printf '%-28s %4d passed %4d failed\n' layers 0 1; echo "$out" | head -20
    fi
fi

[ ${#failures[@]} -gt 0 ] && echo "failing suites: ${failures[*]}"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
