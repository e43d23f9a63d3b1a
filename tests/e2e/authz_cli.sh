#!/bin/bash
# authz_cli.sh: `kite user|token|role|binding|auth check|audit` on the
# store a running server uses: a change made by the CLI applies at the
# server's next request (a token created, a deny bound, a token revoked),
# `kite auth check` names the binding and statement that decided and
# exits 0 for allow, 1 for deny, and `kite audit` shows the CLI's changes
# and the API's. One server.
set -u
ROOT=${ROOT:-$PWD}
source "$ROOT/tests/e2e/server_lib.bash"
DATA=$work/data
ERR=$work/server.err
ADMIN=$TOKEN
K() { "$KITE" "$@" --data "$DATA"; }

start_server "$ERR" --data "$DATA" || { echo "FAIL server start"; cat "$ERR"; exit 1; }
for ns in company.team company.pci; do
    req POST /flows -H 'Content-Type: application/x-yaml' --data-binary "id: f
namespace: $ns
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: x"
done

K token create deploy --bind editor=company.team --bind viewer='company.*' --expires P1D >"$work/tok" 2>"$work/tok.err"
ok "kite token create: exit 0" [ $? -eq 0 ]
ok "the token alone on standard output" grep -qx 'kite_[0-9a-f]\{48\}' "$work/tok"
ok "its id and expiry on standard error" grep -q "created deploy (id .*, owner deploy, expires 20" "$work/tok.err"
TOKEN=$(cat "$work/tok")
req GET /flows/company.pci/f
ok "the server accepts the CLI's token at once (viewer on company.*)" code_is 200
req PUT /namespaces/company.team/kv/k -d '1'
ok "editor on company.team writes kv" code_is 204
req PUT /namespaces/company.pci/kv/k -d '1'
ok "viewer on company.pci does not (403)" code_is 403

echo '[{"effect":"deny","actions":["*"],"resources":["*"]}]' | K role set nothing
ok "kite role set from standard input" [ $? -eq 0 ]
echo '[{"effect":"allow","actions":["flw:read"]}]' | K role set broken 2>"$work/err"
ok "a bad role is refused naming the statement" grep -q "statements\[0\].actions\[0\]: unknown action 'flw:read'" "$work/err"
BID=$(K binding add deploy nothing 'company.pci.*')
ok "kite binding add prints the id" [ -n "$BID" ]
req GET /flows/company.pci/f
ok "the deny bound by the CLI applies at the next request: 404" code_is 404

K auth check deploy flow:read company.pci >"$work/why"
ok "auth check: exit 1 for a deny" [ $? -eq 1 ]
ok "auth check names the deny binding and its statement" grep -q "^deny: binding $BID (deploy nothing on company.pci.\*), statement 0 \[\*\] on \*\|^deny: binding $BID (deploy nothing on company.pci.\*), statement 0 \[\*\] on company.pci.\*" "$work/why"
ok "and the allow it beats" grep -q "^allow: binding .* (deploy viewer on company.\*)" "$work/why"
ok "and the decision" grep -q "^decision: deploy flow:read on company.pci: DENY (a deny statement applies)" "$work/why"
K auth check deploy flow:write company.team >"$work/why"
ok "auth check: exit 0 for an allow" [ $? -eq 0 ]
K auth check deploy user:admin company.team >"$work/why"
rc=$?
ok "nothing allows: the default" eval '[ $rc -eq 1 ] && grep -q "DENY (nothing allows it: the default)" "$work/why"'
TID=$(K token list --json | python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin) if t["name"]=="deploy"][0])')
K auth check "token:$TID" flow:write company.team >"$work/why"
rc=$?
ok "auth check of a token shows its scope too" eval '[ $rc -eq 0 ] && grep -q "the token'"'"'s scope:" "$work/why"'
K binding remove "$BID"
req GET /flows/company.pci/f
ok "kite binding remove: allowed again" code_is 200

printf 'a long password\n' | K user add carol
ok "kite user add reads the password from standard input" [ $? -eq 0 ]
K binding add carol viewer company.team >/dev/null
code=$(curl -s -o "$work/body" -w '%{http_code}' -c "$work/jar" -H 'Content-Type: application/json' -d '{"username":"carol","password":"a long password"}' "$BASE/login")
ok "the server logs carol in with the CLI's password" code_is 200
printf 'another password\n' | K user passwd carol
code=$(curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"username":"carol","password":"a long password"}' "$BASE/login")
ok "kite user passwd: the old one is refused" code_is 401
K user list --json >"$work/users"
ok "kite user list" python3 -c "import json; u={x['name']:x['kind'] for x in json.load(open('$work/users'))}; assert u['carol']=='user' and u['deploy']=='service' and u['admin']=='user'"

K token revoke "$TID"
req GET /flows/company.team/f
ok "kite token revoke: 401 at the next request" code_is 401
K user remove carol
code=$(curl -s -o "$work/body" -w '%{http_code}' -b "$work/jar" "$BASE/flows/company.team/f")
ok "kite user remove: carol's session ends" code_is 401

TOKEN=$ADMIN
req DELETE /namespaces/company.team/kv/k
K audit --json --limit 100 >"$work/audit"
ok "kite audit: the CLI's changes as cli:<login>" python3 -c "
import json; a=json.load(open('$work/audit')); acts={(x['principal'].split(':')[0], x['action']) for x in a}
assert {('cli','token:create'),('cli','role:write'),('cli','binding:create'),('cli','binding:delete'),('cli','user:create'),('cli','user:password'),('cli','token:revoke'),('cli','user:delete')} <= acts, acts
assert ('deploy','kv:write') in acts and ('admin','kv:delete') in acts, acts"
K audit --action kv:write >"$work/audit.txt"
ok "kite audit filters by action" eval 'grep -q "deploy .* kv:write .*company.team k" "$work/audit.txt" && ! grep -q "kv:delete" "$work/audit.txt"'
ok "the audit never holds a token's text or a password" eval '! grep -q "kite_[0-9a-f]\{48\}\|long password" "$work/audit"'

stop_server TERM
ok "no sanitizer report" no_sanitizer_reports "$ERR"
echo "authz_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
