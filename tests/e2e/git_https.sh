#!/bin/bash
# Git over HTTPS: git's own git-http-backend behind tests/lib/git_http.py with
# TLS, its certificate signed by a CA this test makes with openssl (for
# 127.0.0.1 and localhost), Basic authentication with a token that comes
# from a secret. The Git tasks trust that CA through Kestra's property
# trustedCaPemPath; without it, or with another CA, the server is refused
# before anything is sent, with an error that says why (also a certificate
# of that CA for another host name). The token never
# reaches the logs, the outputs or an error. The server answers 401 with a
# body on a kept-alive connection, as GitHub or nginx do.
set -u
ROOT=${ROOT:-$PWD}
KITE=${KITE:-build/kite}
work=$(mktemp -d)
hpid=
trap '[ -n "$hpid" ] && kill "$hpid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0; fail=0
check() {
    if eval "$2"; then echo "PASS $1"; pass=$((pass + 1)); else
        echo "FAIL $1"; fail=$((fail + 1)); tail -8 "$work/err" | sed 's/^/    /'; fi
}
run() { timeout 120 "$KITE" run "$1" --flows "$work/flows" --data "$work/data" >"$work/out" 2>"$work/err"
        state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1); }
G() { git --git-dir="$work/repo.git" "$@"; }

if [ ! -x /usr/lib/git-core/git-http-backend ] || ! command -v openssl >/dev/null; then
    echo "SKIP git over HTTPS: needs git-http-backend (git) and openssl"
    exit 0
fi

# a CA, a server certificate it signs, and a CA that signed nothing here
t=$work/tls
mkdir -p "$t"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 \
    -subj "/CN=kite test CA" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/other.key" -out "$t/other.pem" -days 2 \
    -subj "/CN=another CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$t/srv.key" -out "$t/srv.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$t/ext"
openssl x509 -req -in "$t/srv.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -out "$t/srv.pem" \
    -days 2 -extfile "$t/ext" 2>/dev/null
printf 'not a certificate\n' >"$t/junk.pem"

TOKEN='s3cr3t/T0ken+https'
export SECRET_GIT_TOKEN=$(printf '%s' "$TOKEN" | base64 -w0)
git init -q --bare -b main "$work/repo.git"
python3 "$ROOT/tests/lib/git_http.py" --root "$work" --port-file "$work/port" --user kite-bot \
    --password "$TOKEN" --keepalive-401 --tls-cert "$t/srv.pem" --tls-key "$t/srv.key" 2>"$work/http.log" &
hpid=$!
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.05; done
PORT=$(cat "$work/port")
HU=https://127.0.0.1:$PORT/repo.git
mkdir -p "$work/flows"
cat >"$work/flows/etl.yaml" <<'EOF2'
id: etl
namespace: dev
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: etl over https
EOF2
mk() { # mk URL BRANCH CA-LINE
    cat >"$work/flows/https.yaml" <<EOF2
id: https
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: $1
    branch: $2
    flows: etl
    username: kite-bot
    password: "{{ secret('GIT_TOKEN') }}"
    $3
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: $1
        branch: $2
        username: kite-bot
        password: "{{ secret('GIT_TOKEN') }}"
        $3
      - id: ls
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - cat _flows/etl.yml
EOF2
}
secret_nowhere() { ! grep -rqF "$TOKEN" "$work/err" "$work/out" "$work/data" 2>/dev/null; }

mk "$HU" main "trustedCaPemPath: $t/ca.pem"
run "$work/flows/https.yaml"
check "PushFlows over HTTPS with trustedCaPemPath: the branch arrives, pushed once" \
    '[ "$state" = SUCCESS ] && G show main:_flows/etl.yml | grep -q "etl over https" &&
     curl -s --cacert "$t/ca.pem" "https://127.0.0.1:$PORT/_stats" | grep -q "pushes=1"'
check "Clone over HTTPS with trustedCaPemPath: a later task reads the clone" \
    'grep -q "etl over https" "$work/err"'
check "the server asked for credentials (401 with a body, kept alive) and got them" \
    'grep -q "refused=[1-9]" <(curl -s --cacert "$t/ca.pem" "https://127.0.0.1:$PORT/_stats")'
check "the token from the secret is in no log, output or stored file" secret_nowhere

# kite flow sync (and server.gitSync) over HTTPS: the CA from $KITE_GIT_CA_FILE
KITE_GIT_PASSWORD=$TOKEN KITE_GIT_CA_FILE=$t/ca.pem timeout 120 "$KITE" flow sync "$HU" --namespace synced \
    --username kite-bot --data "$work/sdata" >"$work/out" 2>"$work/err"
rc=$?
check "kite flow sync over HTTPS with \$KITE_GIT_CA_FILE: the flow arrives" \
    '[ "$rc" = 0 ] && grep -q "add synced.etl" "$work/out" && secret_nowhere'
KITE_GIT_PASSWORD=$TOKEN timeout 120 "$KITE" flow sync "$HU" --namespace synced --username kite-bot \
    --data "$work/sdata2" >"$work/out" 2>"$work/err"
rc=$?
check "kite flow sync without it: exit 1, the certificate refused, naming \$KITE_GIT_CA_FILE" \
    '[ "$rc" = 1 ] && grep -q "not trusted by the system.s CA store: refused (give the CA that signed it in \$KITE_GIT_CA_FILE)" "$work/err" &&
     secret_nowhere'

mk "https://localhost:$PORT/repo.git" by-name "trustedCaPemPath: $t/ca.pem"
run "$work/flows/https.yaml"
check "the certificate's DNS name (localhost) is accepted too" \
    '[ "$state" = SUCCESS ] && G rev-parse -q --verify by-name >/dev/null'

mk "$HU" no-ca ""
run "$work/flows/https.yaml"
check "without trustedCaPemPath the server is refused: not trusted by the system's CA store" \
    '[ "$state" = FAILED ] &&
     grep -q "git clone $HU: 127.0.0.1: the server.s certificate is not trusted by the system.s CA store: refused (give the CA that signed it in property .trustedCaPemPath.)" "$work/err" &&
     ! G rev-parse -q --verify no-ca >/dev/null && secret_nowhere'

mk "$HU" wrong-ca "trustedCaPemPath: $t/other.pem"
run "$work/flows/https.yaml"
check "another CA in trustedCaPemPath: refused, naming the file and gnutls's reason" \
    '[ "$state" = FAILED ] &&
     grep -q "127.0.0.1: the server.s certificate is trusted neither by the system.s CA store nor by property .trustedCaPemPath. ($t/other.pem): .*issuer is unknown: refused" "$work/err" &&
     ! G rev-parse -q --verify wrong-ca >/dev/null && secret_nowhere'

# a certificate the same CA signed for another name: the chain is good, the name is not
openssl req -newkey rsa:2048 -nodes -keyout "$t/o.key" -out "$t/o.csr" -subj "/CN=git.other.test" 2>/dev/null
printf 'subjectAltName=DNS:git.other.test\n' >"$t/oext"
openssl x509 -req -in "$t/o.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -out "$t/o.pem" \
    -days 2 -extfile "$t/oext" 2>/dev/null
python3 "$ROOT/tests/lib/git_http.py" --root "$work" --port-file "$work/port2" --user kite-bot \
    --password "$TOKEN" --tls-cert "$t/o.pem" --tls-key "$t/o.key" 2>>"$work/http.log" &
hpid2=$!
for _ in $(seq 1 600); do [ -s "$work/port2" ] && break; sleep 0.05; done
mk "https://127.0.0.1:$(cat "$work/port2")/repo.git" other-name "trustedCaPemPath: $t/ca.pem"
run "$work/flows/https.yaml"
kill "$hpid2" 2>/dev/null; wait "$hpid2" 2>/dev/null
check "a certificate of the trusted CA for another host name is refused" \
    '[ "$state" = FAILED ] &&
     grep -q "127.0.0.1: the server.s certificate (signed by a CA of property .trustedCaPemPath.) is for another host name: refused" "$work/err" &&
     ! G rev-parse -q --verify other-name >/dev/null && secret_nowhere'

mk "$HU" junk-ca "trustedCaPemPath: $t/junk.pem"
run "$work/flows/https.yaml"
check "a trustedCaPemPath with no certificate in it is named" \
    '[ "$state" = FAILED ] && grep -q "property .trustedCaPemPath.: $t/junk.pem: no PEM certificate in the file" "$work/err"'

mk "$HU" bad-token "trustedCaPemPath: $t/ca.pem"
sed -i "0,/secret('GIT_TOKEN')/s//secret('GIT_BAD')/" "$work/flows/https.yaml"
export SECRET_GIT_BAD=$(printf 'wrong-token' | base64 -w0)
run "$work/flows/https.yaml"
check "a wrong token over HTTPS: authentication failed, nothing pushed, neither token printed" \
    '[ "$state" = FAILED ] && grep -q "authentication failed (the credentials were refused)" "$work/err" &&
     ! grep -q wrong-token "$work/err" && ! G rev-parse -q --verify bad-token >/dev/null && secret_nowhere'

echo "git_https: $pass passed, $fail failed"
[ "$fail" = 0 ]
