#!/bin/bash
# kite's secrets: the store (kite secret set|get|list|delete, sealed at rest
# with the data folder's key, a wrong key refused at start), the API
# (/namespaces/{ns}/secrets), namespace inheritance, secret() reading the
# store then Vault (tests/lib/vault_fake.py, a protocol-level KV v2 and
# AppRole fake checked by its --selftest against Vault's documented shapes)
# then SECRET_<NAME>; a rotation seen by the next task without a restart;
# Vault down or hanging as a quick, clear task error; Vault (kite.yml's own
# address) reached with security.ssrf on while a flow's request to it is
# refused; and a canary planted in
# the store looked for in every form in logs, API answers and SSE streams.
set -u
. "$(dirname "$0")/server_lib.bash"
ROOT=${ROOT:-$PWD}
VPID=

stop_vault() {
    if [ -n "$VPID" ]; then
        kill "$VPID" 2>/dev/null
        wait "$VPID" 2>/dev/null
        VPID=
    fi
}
trap 'stop_vault; cleanup' EXIT

# start_vault ARGS...: the fake on a free port; sets VPORT, VPID
start_vault() {
    rm -f "$work/vport"
    python3 "$ROOT/tests/lib/vault_fake.py" --port-file "$work/vport" "$@" 2>>"$work/vault.err" &
    VPID=$!
    for _ in $(seq 1 100); do
        [ -s "$work/vport" ] && VPORT=$(cat "$work/vport") && return 0
        sleep 0.05
    done
    return 1
}
vault() { # vault METHOD PATH [JSON]: a call to the fake as root
    curl -s -o "$work/vbody" -w '%{http_code}' -X "$1" -H "X-Vault-Token: root-tok" \
        ${3:+-d "$3"} "http://127.0.0.1:$VPORT$2"
}

D=$work/data
KS() { "$KITE" secret "$@" --data "$D"; }

# ---- the CLI and the store -------------------------------------------------------------------
ok "vault fake: matches Vault's documented request and answer shapes" \
    python3 "$ROOT/tests/lib/vault_fake.py" --selftest
printf 'Pa55-w0rd!\n' | KS set company DB_PASS
ok "secret set: exit 0" test $? -eq 0
ok "the key file is created 0600 at first start" bash -c "[ \"\$(stat -c %a '$D/secret.key')\" = 600 ]"
ok "secret get: the value, one trailing newline removed" bash -c "[ \"\$('$KITE' secret get company DB_PASS --data '$D')\" = 'Pa55-w0rd!' ]"
ok "a child namespace sees its parent's secret" bash -c "[ \"\$('$KITE' secret get company.team DB_PASS --data '$D')\" = 'Pa55-w0rd!' ]"
printf 'child-value' | KS set company.team DB_PASS
ok "the child's own secret shadows the parent's" bash -c "[ \"\$('$KITE' secret get company.team DB_PASS --data '$D')\" = child-value ]"
ok "the parent does not see the child's" bash -c "[ \"\$('$KITE' secret get company DB_PASS --data '$D')\" = 'Pa55-w0rd!' ]"
printf 'abc' | KS set company API_KEY
KS list company.team --json >"$work/list.json"
ok "secret list: names and where they come from, no value" python3 -c "
import json; d=json.load(open('$work/list.json'))
assert [(x['name'], x['namespace']) for x in d] == [('API_KEY','company'), ('DB_PASS','company.team')], d
assert all(set(x) == {'name','namespace','updated'} for x in d)
t=open('$work/list.json').read(); assert 'Pa55' not in t and 'child-value' not in t"
ok "the value is not in the database in clear" bash -c "! grep -a -q 'Pa55-w0rd' '$D/kite.db' && ! grep -a -q child-value '$D/kite.db'"
ok "secret delete" KS delete company.team DB_PASS
ok "after delete the parent's shows through" bash -c "[ \"\$('$KITE' secret get company.team DB_PASS --data '$D')\" = 'Pa55-w0rd!' ]"
KS delete company.team DB_PASS 2>"$work/err"
ok "deleting a missing one fails clearly" grep -q "no such secret" "$work/err"
printf x | KS set company 'bad-name' 2>"$work/err"
ok "a bad name is refused with the rule" grep -q "not a valid secret name" "$work/err"
KS get company NOPE 2>"$work/err"
ok "a missing secret: exit 1 and a message" bash -c "grep -q \"secret 'NOPE' is not in namespace company\" '$work/err'"
KITE_SECRET_KEY=$(head -c32 /dev/urandom | base64) "$KITE" secret list company --data "$D" 2>"$work/err"
ok "another key is refused with a clear message" grep -q "encrypted with another key" "$work/err"
KEYHEX=$(cat "$D/secret.key")
ok "KITE_SECRET_KEY with the same key (hex) opens the store" \
    bash -c "[ \"\$(KITE_SECRET_KEY=$KEYHEX '$KITE' secret get company API_KEY --data '$D')\" = abc ]"
cp -r "$D" "$work/data2"; chmod 644 "$work/data2/secret.key"
"$KITE" secret list company --data "$work/data2" 2>"$work/err"
ok "a key file others can read is refused" grep -q "readable by others" "$work/err"

# ---- secret() in a flow, kite run ------------------------------------------------------------
mkdir -p "$work/flows"
cat >"$work/flows/use.yaml" <<'YAML'
id: use
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: "len {{ secret('DB_PASS') | length }} {{ secret('DB_PASS') }}"
YAML
"$KITE" run "$work/flows/use.yaml" --data "$D" >/dev/null 2>"$work/run.err"
ok "kite run: secret() reads the store, inherited from company" grep -q 'len 10 \*\*\*\*\*\*' "$work/run.err"
ok "kite run: the value is masked" bash -c "! grep -q 'Pa55' '$work/run.err'"
KITE_SECRET_KEY=$(head -c32 /dev/urandom | base64) "$KITE" run "$work/flows/use.yaml" --data "$D" >/dev/null 2>"$work/err"
ok "kite run with another key: refused at start" grep -q "encrypted with another key" "$work/err"

# ---- the API, and a server seeing a CLI change -------------------------------------------------
start_server "$work/server.err" --data "$D" --flows "$work/flows" || { echo "FAIL server start"; cat "$work/server.err"; exit 1; }
req PUT /namespaces/company.team/secrets/TXT -H 'Content-Type: text/plain' --data-binary 'plain value'
ok "PUT text/plain: 204" code_is 204
req PUT /namespaces/company.team/secrets/JS -H 'Content-Type: application/json' -d '{"value":"json value"}'
ok "PUT {\"value\"}: 204" code_is 204
ok "the JSON form stored the value itself" bash -c "[ \"\$('$KITE' secret get company.team JS --data '$D')\" = 'json value' ]"
req PUT /namespaces/company.team/secrets/JS -H 'Content-Type: application/json' -d '{"v":1}'
ok "PUT JSON without value: 400" code_is 400
req PUT /namespaces/company.team/secrets/bad-name --data-binary x
ok "PUT a bad name: 400" code_is 400
req GET /namespaces/company.team/secrets
ok "GET list: 200" code_is 200
ok "GET list: [{name, namespace, updated}], inherited ones included" \
    jt "sorted((x['name'],x['namespace']) for x in d)==[('API_KEY','company'),('DB_PASS','company'),('JS','company.team'),('TXT','company.team')] and all(set(x)=={'name','namespace','updated'} for x in d)"
ok "GET list: no value" bash -c "! grep -q -e 'plain value' -e 'json value' -e Pa55 '$work/body'"
req DELETE /namespaces/company.team/secrets/JS
ok "DELETE: 204" code_is 204
req DELETE /namespaces/company.team/secrets/JS
ok "DELETE again: 404" code_is 404
req GET /openapi.json
ok "the OpenAPI document lists the secrets routes" \
    jt "'/api/v1/namespaces/{namespace}/secrets' in d['paths'] and set(d['paths']['/api/v1/namespaces/{namespace}/secrets/{name}'])>={'put','delete'}"
cat >"$work/flows/rot.yaml" <<'YAML'
id: rot
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: "{{ secret('ROT') | length }}"
      h: "{{ secret('ROT') | slice(0, 2) }}"
YAML
req POST /flows -H 'Content-Type: application/x-yaml' --data-binary @"$work/flows/rot.yaml"
printf 'v1-aaaa' | KS set company.team ROT
req POST "/executions/company.team/rot?wait=true"
ok "server: secret() reads what the CLI set" jt "d['state']['current']=='SUCCESS'"
printf 'v2-bbbbbbbb' | KS set company.team ROT
req POST "/executions/company.team/rot?wait=true"
ID=$(j "d['id']")
req GET "/executions/$ID"
ok "a rotated secret is used by the next execution, no restart" jt "d['taskRunList'][0]['outputs']['values']['n']==11"

# ---- the canary: planted through the API, looked for everywhere ------------------------------
CANARY='Kite-Canary/9x+Q=z%&"'
req PUT /namespaces/company/secrets/CANARY -H 'Content-Type: text/plain' --data-binary "$CANARY"
ok "canary planted" code_is 204
cat >"$work/flows/canary.yaml" <<'YAML'
id: canary
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message:
      - "raw {{ secret('CANARY') }}"
      - "b64 {{ secret('CANARY') | base64encode }}"
      - "url {{ secret('CANARY') | urlencode }}"
      - "json {{ {'k': secret('CANARY')} | json }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      token: "{{ secret('CANARY') }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      T: "{{ secret('CANARY') }}"
    commands:
      - echo "env $T"
      - printf '%s' "$T" | base64
outputs:
  - id: leaked
    type: STRING
    value: "{{ outputs.out.values.token }}"
YAML
leaks() {
    python3 - "$1" "$CANARY" <<'PY'
import base64, json, sys, urllib.parse
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
s = sys.argv[2]
forms = {"raw": s, "b64": base64.b64encode(s.encode()).decode(),
         "url": urllib.parse.quote(s, safe=""), "url+": urllib.parse.quote_plus(s),
         "json": json.dumps(s)[1:-1]}
found = [k for k, v in forms.items() if v in text]
if found:
    print("  leaked: " + ", ".join(found)); sys.exit(1)
PY
}
req POST /flows -H 'Content-Type: application/x-yaml' --data-binary @"$work/flows/canary.yaml"
req POST "/executions/company.team/canary?wait=true"
CID=$(j "d['id']")
ok "canary flow ran" wait_state "$CID" SUCCESS 30
req GET "/executions/$CID"; cp "$work/body" "$work/c_exec.json"
ok "canary: execution answer clean" leaks "$work/c_exec.json"
ok "canary: outputs show the mask" python3 -c "import json; d=json.load(open('$work/c_exec.json')); assert d['outputs']['leaked']=='******', d['outputs']"
req GET "/logs/$CID"; cp "$work/body" "$work/c_logs.json"
ok "canary: logs clean" leaks "$work/c_logs.json"
ok "canary: the lines are there, masked" python3 -c "import json; m=[l['message'] for l in json.load(open('$work/c_logs.json'))]; assert 'raw ******' in m and 'env ******' in m, m"
req GET "/logs/$CID/download"; cp "$work/body" "$work/c_logs.txt"
ok "canary: log download clean" leaks "$work/c_logs.txt"
curl -s -N --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE/logs/$CID/follow" >"$work/c_logs.sse"
ok "canary: log stream has lines" grep -q 'raw \*\*\*\*\*\*' "$work/c_logs.sse"
ok "canary: log stream clean" leaks "$work/c_logs.sse"
curl -s -N --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE/executions/$CID/follow" >"$work/c_exec.sse"
ok "canary: execution stream clean" leaks "$work/c_exec.sse"
req GET /namespaces/company/secrets; cp "$work/body" "$work/c_list.json"
ok "canary: secrets list clean" leaks "$work/c_list.json"
req GET "/executions/search?namespace=company.team"; cp "$work/body" "$work/c_search.json"
ok "canary: execution search clean" leaks "$work/c_search.json"
sqlite3 "$D/kite.db" 'select message from logs' >"$work/c_rows.txt"
ok "canary: stored log rows clean" leaks "$work/c_rows.txt"
sqlite3 "$D/kite.db" "select namespace, name, value from secrets" >"$work/c_sealed.bin"
ok "canary: the secrets table holds it sealed, not in clear" \
    bash -c "grep -a -q CANARY '$work/c_sealed.bin' && ! grep -a -q 'Kite-Canary' '$work/c_sealed.bin'"
stop_server
ok "server: no sanitizer report" no_sanitizer_reports "$work/server.err"
KITE_SECRET_KEY=$(head -c32 /dev/urandom | base64) "$KITE" server local --port "$(free_port)" --data "$D" \
    >/dev/null 2>"$work/err" &
SP=$!
for _ in $(seq 1 100); do kill -0 $SP 2>/dev/null || break; sleep 0.05; done
if kill -0 $SP 2>/dev/null; then kill -KILL $SP; wait $SP 2>/dev/null; SRC=running; else wait $SP; SRC=$?; fi
ok "server with another key: refused at start ($SRC)" bash -c "[ '$SRC' != running ] && [ '$SRC' != 0 ] && grep -q 'encrypted with another key' '$work/err'"

# ---- Vault --------------------------------------------------------------------------------------
start_vault --token root-tok --role-id role-kite --secret-id sid-kite-123 --ttl 3600 || { echo "FAIL vault start"; exit 1; }
vault POST /v1/secret/data/kite/company/VAULT_ONLY '{"data":{"value":"from-vault-1"}}' >/dev/null
vault POST /v1/secret/data/kite/company/API_KEY '{"data":{"value":"vault-api-key"}}' >/dev/null
cat >"$work/flows/v.yaml" <<'YAML'
id: v
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      v: "{{ secret('VAULT_ONLY') | slice(0, 12) }}"
      n: "{{ secret('VAULT_ONLY') | length }}"
      k: "{{ secret('API_KEY') | length }}"
      e: "{{ secret('FROM_ENV') | length }}"
YAML
cat >"$work/token.yml" <<EOF
data: $D
secrets:
  backends:
    - type: kite
    - type: vault
      address: http://127.0.0.1:$VPORT
      token: root-tok
      mount: secret
      prefix: kite
EOF
export SECRET_FROM_ENV=$(printf 'env-value-1' | base64)
"$KITE" run "$work/flows/v.yaml" --config "$work/token.yml" --json >"$work/v.json" 2>"$work/v.err"
ok "vault (token): a secret only Vault has, found through the parent namespace" \
    python3 -c "import json; d=json.load(open('$work/v.json')); o=d['taskRunList'][0]['outputs']['values']; assert o['n']==12 and o['k']==3 and o['e']==11, o"
ok "vault: what it handed out is masked in the answer" bash -c "! grep -q 'from-vault' '$work/v.json'"
# Vault is kite.yml's own address, not a flow's: with the SSRF guard on it is
# still reached on loopback, while a flow's request to the very same address
# is refused (docs/security.md, "Addresses kite.yml names")
{ cat "$work/token.yml"; printf 'security:\n  ssrf:\n    enabled: true\n'; } >"$work/ssrf.yml"
"$KITE" run "$work/flows/v.yaml" --config "$work/ssrf.yml" --json >"$work/vs.json" 2>"$work/vs.err"
ok "vault with security.ssrf on: kite.yml's Vault on 127.0.0.1 is reached (trusted)" \
    python3 -c "import json; d=json.load(open('$work/vs.json')); o=d['taskRunList'][0]['outputs']['values']; assert o['n']==12, o"
cat >"$work/flows/vreq.yaml" <<YAML
id: vreq
namespace: company.team
tasks:
  - id: req
    type: io.kestra.plugin.core.http.Request
    uri: http://127.0.0.1:$VPORT/v1/secret/data/kite/company/VAULT_ONLY
YAML
"$KITE" run "$work/flows/vreq.yaml" --config "$work/ssrf.yml" >/dev/null 2>"$work/vreq.err"
ok "vault with security.ssrf on: a flow's request to the same address is refused" \
    grep -q "security.ssrf: 127.0.0.1 is in the denied range 127.0.0.0/8 (loopback)" "$work/vreq.err"
cat >"$work/approle.yml" <<EOF
data: $D
secrets:
  backends:
    - type: vault
      address: http://127.0.0.1:$VPORT/
      roleId: role-kite
      secretId: sid-kite-123
      prefix: /kite/
      timeout: PT2S
    - type: kite
EOF
cat >"$work/flows/v2.yaml" <<'YAML'
id: v2
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: "{{ secret('VAULT_ONLY') | length }}"
      k: "{{ secret('API_KEY') | length }}"
  - id: pause
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
  - id: b
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: "{{ secret('VAULT_ONLY') | length }}"
YAML
( sleep 0.8; vault POST /v1/secret/data/kite/company/VAULT_ONLY '{"data":{"value":"rotated-in-vault-2"}}' >/dev/null ) &
RP=$!
"$KITE" run "$work/flows/v2.yaml" --config "$work/approle.yml" --json >"$work/v2.json" 2>"$work/v2.err"
wait $RP
ok "vault (AppRole): login, then Vault first in the order (API_KEY from Vault)" \
    python3 -c "import json; d=json.load(open('$work/v2.json')); r={t['taskId']:t for t in d['taskRunList']}; assert r['a']['outputs']['values']=={'n':12,'k':13}, r['a']['outputs']"
ok "vault: a secret rotated mid-execution is what the next task reads" \
    python3 -c "import json; d=json.load(open('$work/v2.json')); r={t['taskId']:t for t in d['taskRunList']}; assert r['b']['outputs']['values']['n']==18, r['b']['outputs']"
curl -s "http://127.0.0.1:$VPORT/_fake/stats" >"$work/stats.json"
ok "vault: one AppRole login served the whole run" python3 -c "import json; s=json.load(open('$work/stats.json')); assert s['login']==1, s"
curl -s -X POST "http://127.0.0.1:$VPORT/_fake/revoke" >/dev/null
"$KITE" run "$work/flows/use.yaml" --config "$work/approle.yml" >/dev/null 2>"$work/v3.err"
ok "vault: a revoked AppRole token: logs in again, then the kite store" grep -q 'len 10 \*\*\*\*\*\*' "$work/v3.err"
curl -s -X POST "http://127.0.0.1:$VPORT/_fake/hang?seconds=20" >/dev/null
T0=$(date +%s%N)
"$KITE" run "$work/flows/v.yaml" --config "$work/approle.yml" >/dev/null 2>"$work/hang.err"
HRC=$?
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
ok "vault hanging: the task fails ($HRC) within its timeout, not a hang (${T1} ms)" \
    bash -c "[ $HRC -ne 0 ] && [ $T1 -lt 15000 ] && grep -q 'Vault: GET http://127.0.0.1:$VPORT/v1/secret/data/kite/company.team/VAULT_ONLY: timeout' '$work/hang.err'"
stop_vault
T0=$(date +%s%N)
"$KITE" run "$work/flows/v.yaml" --config "$work/token.yml" >/dev/null 2>"$work/down.err"
DRC=$?
T1=$(( ($(date +%s%N) - T0) / 1000000 ))
ok "vault down: a clear task error naming Vault and the cause ($DRC, ${T1} ms)" \
    bash -c "[ $DRC -ne 0 ] && grep -q \"secret 'VAULT_ONLY': Vault: GET http://127.0.0.1:$VPORT/.*connect\" '$work/down.err'"
ok "vault: its token never shows in the logs" bash -c "! grep -q -e root-tok -e sid-kite-123 '$work/down.err' '$work/hang.err' '$work/v2.err'"
cat >"$work/bad.yml" <<EOF
data: $D
secrets:
  backends:
    - type: vault
      adress: http://127.0.0.1:1
EOF
"$KITE" run "$work/flows/use.yaml" --config "$work/bad.yml" >/dev/null 2>"$work/err"
ok "kite.yml: a misspelt backend key names the file, line and column" grep -q "bad.yml:5:7: unknown key 'adress' (did you mean 'address'?)" "$work/err"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
