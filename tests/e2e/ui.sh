#!/bin/bash
# ui.sh: the web UI in a real browser. Starts `kite server local` once on a
# free loopback port (temporary data folder, admin token), then runs
# tests/ui/ui_test.mjs with node: Debian's Chromium driven headless by
# playwright-core (ui/node_modules, installed by scripts/setup.sh). Its
# PASS/FAIL/SKIP lines are this suite's. Screenshots of each page go to
# $UI_OUT (default $TMPDIR/kite-ui-screens), printed at the end.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/server_lib.bash
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
skip() { echo "SKIP web UI in a browser: $1"; exit 0; }
command -v node >/dev/null 2>&1 || skip "no node on PATH"
[ -x "$CHROMIUM" ] || skip "no Chromium at $CHROMIUM (scripts/setup.sh installs it)"
[ -d ui/node_modules/playwright-core ] || skip "no ui/node_modules/playwright-core (scripts/setup.sh runs npm ci in ui/)"
grep -q kite_ui_assets "${BUILD:-build}/gen/ui_assets.c" 2>/dev/null || skip "this kite was built without its web UI"

ERR="$work/server.err"
mkdir -p "$work/tmp"
start_server "$ERR" --data "$work/data" || { echo "FAIL server starts"; cat "$ERR"; exit 1; }
UI_OUT=${UI_OUT:-${TMPDIR:-/tmp}/kite-ui-screens}
rm -rf "$UI_OUT"
mkdir -p "$UI_OUT"
# the browser's profile and the test's files in the suite's own folder
TMPDIR="$work/tmp" KITE_URL="http://127.0.0.1:$PORT" KITE_TOKEN="$TOKEN" UI_OUT="$UI_OUT" CHROMIUM="$CHROMIUM" \
    timeout 600 node tests/ui/ui_test.mjs
rc=$?
[ "$rc" -eq 124 ] && echo "FAIL the browser test ran past 600 s"

stop_server TERM
ok "the server stops cleanly after the browser test" eval '[ "$STOP_RC" = 0 ]'
ok "no sanitizer reports on the server's stderr" no_sanitizer_reports "$ERR"
[ -s "$ERR" ] && { echo "server stderr:"; head -20 "$ERR"; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$rc" -eq 0 ]
