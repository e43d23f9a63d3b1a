#!/bin/bash
# The routes the web UI needs, end to end against the real `kite server
# local` on a free loopback port, driven with curl: login sessions (cookie,
# CSRF, expiry, logout, rate limit), the flow graph (Kestra's FlowGraph),
# plugin schemas, namespaces with counts, namespace files, dependencies,
# labels, bulk actions and dashboard statistics. Ends by checking the
# server's stderr for sanitizer reports.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/server_lib.bash

ERR=$work/server.err
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp
ok "server starts" start_server "$ERR" --data "$work/data"

JAR=$work/cookies
# sreq METHOD PATH [CURL ARGS...]: a call with the session cookie only
sreq() {
    local m=$1 p=$2
    shift 2
    code=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$m" -b "$JAR" -c "$JAR" "$@" "$BASE$p")
}
header() { grep -i "^$1:" "$work/headers" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

# ---- login, sessions, CSRF ------------------------------------------------------------
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"token": "wrong-token-0000000000"}'
ok "login with a wrong token: 401 invalid token" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_token\""'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{}'
ok "login without a token: 400 naming the field" eval 'code_is 400 && jt "\"token\" in d[\"message\"]"'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"username": "ann", "password": "x"}'
ok "login with a user: 400 naming username" eval 'code_is 400 && jt "\"username\" in d[\"message\"]"'
rm -f "$JAR"
sreq POST /login -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}"
ok "login: 200 with name, role, csrfToken, expiresAt" eval 'code_is 200 && jt "d[\"name\"] == \"admin\" and d[\"role\"] == \"admin\" and len(d[\"csrfToken\"]) >= 32 and d[\"expiresAt\"].endswith(\"Z\")"'
CSRF=$(j "d['csrfToken']")
cookie=$(header Set-Cookie)
ok "the cookie is HttpOnly, SameSite=Strict, Path=/" eval '[[ "$cookie" == kite_session=* && "$cookie" == *HttpOnly* && "$cookie" == *SameSite=Strict* && "$cookie" == *"Path=/"* ]]'
ok "over plain HTTP the cookie is not Secure" eval '[[ "$cookie" != *Secure* ]]'
SID=$(awk '$6 == "kite_session" {print $7}' "$JAR")
ok "the session id is not stored in clear" eval '! grep -q "$SID" "$work/data/kite.db"* 2>/dev/null'
sreq GET /me
ok "GET /me with the cookie: the admin, via session, with its csrfToken" eval 'code_is 200 && jt "d[\"via\"] == \"session\" and d[\"csrfToken\"] == \"$CSRF\""'
req GET /me
ok "GET /me with the bearer token: via token" eval 'code_is 200 && jt "d[\"via\"] == \"token\" and d[\"name\"] == \"admin\""'
sreq GET /flows/search
ok "a GET with the cookie and no CSRF header works" code_is 200
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -d '"v"'
ok "a PUT with the cookie and no X-CSRF-Token: 403 naming the header" eval 'code_is 403 && jt "\"X-CSRF-Token\" in d[\"message\"]"'
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -H 'X-CSRF-Token: 0123' -d '"v"'
ok "a PUT with a wrong X-CSRF-Token: 403" eval 'code_is 403 && jt "\"does not match\" in d[\"message\"]"'
req GET /namespaces/ui.kv/kv/k1
ok "nothing was written without the CSRF token" code_is 404
sreq PUT /namespaces/ui.kv/kv/k1 -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" -d '"v"'
ok "a PUT with the cookie and the right X-CSRF-Token works" eval 'code_is 200 || code_is 204'
req GET /namespaces/ui.kv/kv/k1
ok "and it was written" code_is 200
noauth GET "$BASE/flows/search" -H "Cookie: kite_session=deadbeef"
ok "an unknown session cookie: 401 invalid_session, and the cookie is dropped" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_session\""'
noauth GET "$BASE/flows/search"
ok "no token, no cookie: 401 missing, naming login" eval 'code_is 401 && jt "d[\"reason\"] == \"missing\" and \"login\" in d[\"message\"]"'
sreq POST /logout
ok "logout without X-CSRF-Token: 403 (no forced logout)" code_is 403
sreq POST /logout -H "X-CSRF-Token: $CSRF"
ok "logout: 204, the cookie cleared" eval 'code_is 204 && header Set-Cookie | grep -q "Max-Age=0"'
noauth GET "$BASE/flows/search" -H "Cookie: kite_session=$SID"
ok "the session is gone on the server: 401 invalid_session" eval 'code_is 401 && jt "d[\"reason\"] == \"invalid_session\""'
noauth POST "$BASE/login" -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https' -d "{\"token\": \"$TOKEN\"}" -D "$work/headers"
ok "behind a TLS proxy the cookie is Secure" eval 'code_is 200 && header Set-Cookie | grep -q "; Secure"'

# @@SECTIONS@@

# ---- failed logins are rate limited per address ------------------------------------------
for i in $(seq 1 10); do
    noauth POST "$BASE/login" -H 'Content-Type: application/json' -d '{"token": "nope-nope-nope-nope"}'
done
ok "10 failed logins: each 401" code_is 401
noauth POST "$BASE/login" -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}" -D "$work/headers"
ok "the 11th login in a minute: 429 with Retry-After, even with the right token" eval 'code_is 429 && [ "$(header Retry-After)" -ge 1 ]'
req GET /flows/search
ok "bearer tokens are not rate limited by failed logins" code_is 200

# ---- an expired session (a second server whose sessions last 1 s) -----------------------
stop_server
ok "the server stops cleanly" eval '[ "$STOP_RC" = 0 ]'
printf 'server:\n  sessionTtl: PT1S\n' >"$work/kite.yml"
ok "a server with server.sessionTtl: PT1S starts" start_server "$ERR" --data "$work/data2" --config "$work/kite.yml"
rm -f "$JAR"
sreq POST /login -H 'Content-Type: application/json' -d "{\"token\": \"$TOKEN\"}"
ok "login there: Max-Age=1" eval 'code_is 200 && header Set-Cookie | grep -Eq "Max-Age=1(;|$)"'
SID=$(awk '$6 == "kite_session" {print $7}' "$JAR")
noauth GET "$BASE/me" -H "Cookie: kite_session=$SID"
ok "the session works at once" code_is 200
sleep 1.5
noauth GET "$BASE/me" -H "Cookie: kite_session=$SID"
ok "after its ttl: 401 expired_session, saying so" eval 'code_is 401 && jt "d[\"reason\"] == \"expired_session\" and \"expired\" in d[\"message\"]"'
printf 'server:\n  sessionTtl: soon\n' >"$work/bad.yml"
"$KITE" server local --port 0 --data "$work/data3" --config "$work/bad.yml" >/dev/null 2>"$work/bad.err"
ok "a bad server.sessionTtl is refused naming the key" grep -q "server.sessionTtl" "$work/bad.err"
stop_server
ok "no sanitizer reports" no_sanitizer_reports "$ERR"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
