#!/bin/bash
# ui_serve.sh: the web UI as the kite binary serves it (src/server/ui.c):
# GET / redirects to /ui/, assets carry an ETag (If-None-Match answers 304),
# gzip when accepted, every other /ui/ path answers index.html (the app's
# routes), no token needed for them while the API still asks for one.
set -u
cd "$(dirname "$0")/../.." || exit 1
source tests/e2e/server_lib.bash
ERR="$work/server.err"
start_server "$ERR" || { echo "FAIL server starts"; cat "$ERR"; exit 1; }
U=http://127.0.0.1:$PORT

# ui CURL ARGS...: sets code, the headers in $work/h, the body in $work/b
ui() {
    rm -f "$work/b"
    code=$(curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' "$@")
}
hdr() { grep -i "^$1:" "$work/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

ui "$U/"
ok "GET / redirects to /ui/" eval '[ "$code" = 302 ] && [ "$(hdr Location)" = /ui/ ]'

if ! grep -q kite_ui_assets build/gen/ui_assets.c 2>/dev/null || ! [ -f build/ui/index.html ]; then
    ui "$U/ui/"
    ok "a kite built without its UI says so at /ui/" eval '[ "$code" = 404 ] && grep -q "without its web UI" "$work/b"'
    echo "SKIP ui assets: this kite was built without its web UI (no node or ui/node_modules)"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi

ui "$U/ui/"
ok "/ui/ answers index.html, no token needed" eval '[ "$code" = 200 ] && grep -q "/ui/app.js" "$work/b" && hdr Content-Type | grep -q "^text/html"'
ok "index.html has a Content-Security-Policy" eval 'hdr Content-Security-Policy | grep -q "default-src .self."'
ui "$U/ui/app.js"
ok "app.js is JavaScript, with an ETag and no-cache" eval '[ "$code" = 200 ] && hdr Content-Type | grep -q "^text/javascript" && [ -n "$(hdr ETag)" ] && hdr Cache-Control | grep -q no-cache'
ok "app.js is the bundle built (same bytes)" cmp -s "$work/b" build/ui/app.js
etag=$(hdr ETag)
ui -H "If-None-Match: $etag" "$U/ui/app.js"
ok "If-None-Match with its ETag answers 304 with no body" eval '[ "$code" = 304 ] && [ ! -s "$work/b" ]'
ui -H 'If-None-Match: "something-else"' "$U/ui/app.js"
ok "another ETag answers 200" eval '[ "$code" = 200 ]'
ui -H 'Accept-Encoding: gzip, deflate' "$U/ui/app.js"
ok "gzip when accepted (and smaller)" eval '[ "$code" = 200 ] && [ "$(hdr Content-Encoding)" = gzip ] && gzip -dc "$work/b" | cmp -s - build/ui/app.js && [ $(wc -c <"$work/b") -lt $(wc -c <build/ui/app.js) ]'
ok "Vary: Accept-Encoding" eval 'hdr Vary | grep -q Accept-Encoding'
ui -H 'Accept-Encoding: gzip;q=0, identity' "$U/ui/app.js"
ok "gzip;q=0 is plain" eval '[ "$code" = 200 ] && [ -z "$(hdr Content-Encoding)" ] && cmp -s "$work/b" build/ui/app.js'
ui "$U/ui/app.css"
ok "app.css is CSS" eval '[ "$code" = 200 ] && hdr Content-Type | grep -q "^text/css"'
ui "$U/ui/flows/demo/hello/editor"
ok "an app route answers index.html" eval '[ "$code" = 200 ] && grep -q "/ui/app.js" "$work/b"'
ui "$U/ui/executions/abc?x=1"
ok "an app route with a query answers index.html" eval '[ "$code" = 200 ] && grep -q "/ui/app.js" "$work/b"'
ui "$U/ui/nope.js"
ok "a missing asset is a 404 in JSON, not index.html" eval '[ "$code" = 404 ] && grep -q "no file /ui/nope.js" "$work/b"'
ui -I "$U/ui/app.js"
ok "HEAD answers the headers" eval '[ "$code" = 200 ] && [ -n "$(hdr ETag)" ]'
ui -X POST "$U/ui/app.js"
ok "POST on an asset is a 405" eval '[ "$code" = 405 ]'
ui "$BASE/flows/search"
ok "the API still needs a token" eval '[ "$code" = 401 ]'

stop_server TERM
ok "no sanitizer reports on the server's stderr" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
