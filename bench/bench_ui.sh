#!/bin/bash
# bench_ui.sh: the web UI's figures. The bundle's size (what the browser
# downloads, gzipped as kite serves it), then times in headless Chromium
# (bench/ui_bench.mjs, playwright-core) against a real `kite server local`:
# a 500-task flow's editor and topology, the Gantt of an execution of 10,000
# task runs and its scrolling, 100,000 log lines streamed to the logs page.
# Figures only. RUNS=n for the medians (default 5).
set -u
KITE=${KITE:-build/kite}
UI=${UI:-build/ui}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
cd "$(dirname "$0")/.." || exit 1
if [ ! -f "$UI/app.js" ]; then echo "ui: no bundle in $UI (make with node and ui/node_modules)"; exit 0; fi
size() { wc -c <"$1"; }
gz() { gzip -9c "$1" | wc -c; }
js=$(size "$UI/app.js"); jsz=$(gz "$UI/app.js"); css=$(size "$UI/app.css"); cssz=$(gz "$UI/app.css"); html=$(gz "$UI/index.html")
awk -v a="$js" -v b="$jsz" -v c="$css" -v d="$cssz" -v e="$html" 'BEGIN {
    printf "ui: bundle: app.js %.0f KiB (%.0f KiB gzipped; aim < 500), app.css %.0f KiB (%.1f KiB gzipped), all gzipped with index.html %.0f KiB\n", a/1024, b/1024, c/1024, d/1024, (b+d+e)/1024 }'

if ! command -v node >/dev/null 2>&1 || [ ! -d ui/node_modules/playwright-core ] || [ ! -x "$CHROMIUM" ]; then
    echo "ui: browser figures skipped: needs node, ui/node_modules/playwright-core and $CHROMIUM (scripts/setup.sh)"
    exit 0
fi
w=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$w"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
TOKEN=bench-ui-token-0123456789abcdef
KITE_ADMIN_TOKEN=$TOKEN "$KITE" server local --port "$PORT" --quiet --data "$w/data" >"$w/out" 2>"$w/err" &
PID=$!
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
mkdir -p "$w/tmp"
echo "ui: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
TMPDIR="$w/tmp" KITE_URL="http://127.0.0.1:$PORT" KITE_TOKEN=$TOKEN CHROMIUM=$CHROMIUM timeout 1200 node bench/ui_bench.mjs || echo "ui: the browser bench failed"
echo "ui: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
