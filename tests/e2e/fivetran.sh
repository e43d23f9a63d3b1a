#!/bin/bash
# io.kestra.plugin.fivetran.connectors.Sync (src/tasks/fivetran.c) against
# tests/lib/fivetran_fake.py, a fake of Fivetran's REST API that checks
# basic auth and the request shapes of Fivetran's docs and logs every
# request: a sync that succeeds after a few polls, one that fails (with
# Fivetran's message), a stale failed_at before the sync, a 401, a 404,
# maxDuration reached, wait: false, the SSRF guard on baseUrl, and the key
# and secret in no log line.
set -u
. "$(dirname "$0")/server_lib.bash"
PY=/usr/bin/python3
KEY=ftKeyAAAA1234
SECRET=ftS3cretBBBB5678
FAKEPID=
trap '[ -n "$FAKEPID" ] && kill "$FAKEPID" 2>/dev/null; cleanup' EXIT
mkdir -p "$work/flows"
$PY tests/lib/fivetran_fake.py --key "$KEY" --secret "$SECRET" --log "$work/req.jsonl" \
    --max-seconds 600 >"$work/fake.port" &
FAKEPID=$!
for _ in $(seq 1 100); do
    [ -s "$work/fake.port" ] && break
    sleep 0.05
done
B=http://127.0.0.1:$(head -1 "$work/fake.port")
printf 'data: %s\n' "$work/data" >"$work/kite.yml"
printf 'data: %s\nsecurity:\n  ssrf:\n    enabled: true\n' "$work/data-guard" >"$work/guard.yml"

# sync ID CONNECTOR [EXTRA-YAML] [SECRET]: a flow of one Sync task
sync() {
    cat >"$work/flows/$1.yaml" <<EOF
id: $1
namespace: e2e.fivetran
tasks:
  - id: sync
    type: io.kestra.plugin.fivetran.connectors.Sync
    apiKey: $KEY
    apiSecret: ${4:-$SECRET}
    connectorId: $2
    baseUrl: $B
${3:-}
EOF
}
# run ID [CONFIG]: the state in $work/ID.state, stderr (the logs) in $work/ID.log
run() {
    timeout 120 "$KITE" run "$work/flows/$1.yaml" --config "${2:-$work/kite.yml}" \
        >"$work/$1.out" 2>"$work/$1.log"
    sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/$1.log" | tail -1 >"$work/$1.state"
}
state_is() { [ "$(cat "$work/$1.state")" = "$2" ] || { tail -5 "$work/$1.log"; return 1; }; }
said() { grep -qF -- "$2" "$work/$1.log" || { tail -5 "$work/$1.log"; return 1; }; }
# reqs CONNECTOR PYEXPR: PYEXPR over r (the requests for that connector, in order) is true
reqs() {
    $PY - "$work/req.jsonl" "$1" "$2" <<'PY'
import json, sys
log, cid, expr = sys.argv[1:]
r = [json.loads(l) for l in open(log)]
r = [x for x in r if x["path"].split("/")[3:4] == [cid]]
ok = eval(expr)
if not ok:
    print("  requests:", json.dumps(r)[:1500])
sys.exit(0 if ok else 1)
PY
}
no_secret() { ! grep -qe "$KEY" -e "$SECRET" "$work/$1.log" "$work/$1.out"; }

# ---- a sync that succeeds after 3 polls "syncing" --------------------------------------
sync ok "ok_1" "    force: true
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: \"key {{ '$KEY' }} secret {{ '$SECRET' }}\""
run ok
ok "success: the execution ends SUCCESS" state_is ok SUCCESS
ok "success: GET the connector, POST /sync {force: true}, then polls until succeeded_at is newer" \
    reqs ok_1 '[(x["method"], x["path"]) for x in r][:2] == [("GET", "/v1/connectors/ok_1"), ("POST", "/v1/connectors/ok_1/sync")] and json.loads(r[1]["body"]) == {"force": True} and len(r) == 6 and all(x["method"] == "GET" for x in r[2:])'
ok "success: every request has basic auth, Accept version=2 and a JSON Content-Type" \
    reqs ok_1 'all(x["auth_ok"] and x["accept"] == "application/json;version=2" for x in r) and r[1]["content_type"] == "application/json"'
ok "success: the log says the connector was syncing and when it succeeded" \
    eval 'said ok "connector '"'"'ok_1'"'"' is syncing" && said ok "sync of connector '"'"'ok_1'"'"' succeeded at 20"'
ok "success: neither the API key nor the secret is in the logs" no_secret ok
ok "success: a later task that logs them shows them masked" said ok "key ****** secret ******"

# ---- force defaults to false ----------------------------------------------------------
sync dflt "ok_2"
run dflt
ok "default force: the sync request's body is {\"force\": false}" \
    eval 'state_is dflt SUCCESS && reqs ok_2 "json.loads(r[1][\"body\"]) == {\"force\": False}"'

# ---- a sync that fails ----------------------------------------------------------------
sync failed "fail_1"
run failed
ok "failure: the execution ends FAILED" state_is failed FAILED
ok "failure: the error names the connector, failed_at and Fivetran's message" \
    said failed "fivetran: the sync of connector 'fail_1' failed at 20"
ok "failure: ... with the connector's task message" \
    said failed "reconnect: Reconnect the connector: the password was changed"
ok "failure: no secret in the logs" no_secret failed

# ---- a failed_at from before the sync does not fail a sync that succeeds ----------------
sync stale "stale_1"
run stale
ok "stale failed_at: an old failure before the sync, then a success: SUCCESS" state_is stale SUCCESS

# ---- a wrong secret: Fivetran answers 401 ----------------------------------------------
sync unauth "ok_3" "" "wrongSecretCCCC9"
run unauth
ok "401: the execution ends FAILED" state_is unauth FAILED
ok "401: the error has the status and Fivetran's code and message" \
    said unauth "HTTP 401: AuthFailed: Missing or invalid API key or secret"
ok "401: no sync was started" reqs ok_3 'all(x["method"] == "GET" for x in r) and len(r) == 1'
ok "401: the wrong secret is not in the logs either" eval '! grep -q wrongSecretCCCC9 "$work/unauth.log"'

# ---- an unknown connector: 404 ----------------------------------------------------------
sync missing "missing_1"
run missing
ok "404: FAILED with Fivetran's NotFound_Connector message" \
    eval 'state_is missing FAILED && said missing "HTTP 404: NotFound_Connector: Connector with id '"'"'missing_1'"'"' doesn'"'"'t exist"'

# ---- maxDuration reached ----------------------------------------------------------------
sync slow "slow_1" "    maxDuration: PT3S"
run slow
ok "maxDuration: a sync that never ends fails" state_is slow FAILED
ok "maxDuration: the error says so, with the duration and the last sync_state" \
    said slow "the sync of connector 'slow_1' did not end within maxDuration PT3S (sync_state: syncing)"

# ---- wait: false -----------------------------------------------------------------------
sync nowait "slow_2" "    wait: false"
run nowait
ok "wait: false: SUCCESS as soon as the sync is started" state_is nowait SUCCESS
ok "wait: false: one GET and the POST, no polling" \
    reqs slow_2 '[x["method"] for x in r] == ["GET", "POST"]'

# ---- the SSRF guard applies to baseUrl ---------------------------------------------------
sync guarded "ok_4"
run guarded "$work/guard.yml"
ok "security.ssrf on: a baseUrl on loopback is refused, naming the rule" \
    eval 'state_is guarded FAILED && said guarded "security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback)"'
ok "security.ssrf on: no request reached the server" reqs ok_4 'len(r) == 0'

# ---- validation --------------------------------------------------------------------------
cat >"$work/flows/noid.yaml" <<EOF
id: noid
namespace: e2e.fivetran
tasks:
  - id: sync
    type: io.kestra.plugin.fivetran.connectors.Sync
    apiKey: k
    apiSecret: s
EOF
"$KITE" validate "$work/flows/noid.yaml" >"$work/noid.log" 2>&1
ok "validate: a Sync without connectorId is refused, naming the property" said noid "connectorId"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
