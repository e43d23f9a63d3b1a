#!/bin/bash
# kv_reserved.sh: flows cannot reach kite's reserved kv namespace
# (_kite.auth, where kite's first versions kept token hashes), whichever route
# they take (kv.Set, kv.Get, kv.GetKeys, kv.Delete, kv()): each run fails
# with a message naming the reserved namespace and no row changes. And a new
# KITE_ADMIN_TOKEN revokes every token, also one written in the tokens table behind kite's
# back (a database from before this rule, or edited by hand).
set -u
ROOT=${ROOT:-$PWD}
source "$ROOT/tests/e2e/server_lib.bash"
DATA=$work/data
ERR=$work/server.err

start_server "$ERR" --data "$DATA"
req GET /flows/search
ok "the admin token works" code_is 200
stop_server TERM

rows() { sqlite3 "$DATA/kite.db" "SELECT namespace, key, value FROM kv WHERE namespace LIKE '\_kite%' ESCAPE '\' ORDER BY 1, 2; SELECT id, sha256, revoked FROM tokens ORDER BY 1"; }
rows >"$work/before"
ok "the token rows exist" [ -s "$work/before" ]

flow() { # flow ID TASK-YAML: a flow file with one task
    printf 'id: %s\nnamespace: t.kv\ntasks:\n%s\n' "$1" "$2" >"$work/$1.yaml"
}
flow set '  - id: t
    type: io.kestra.plugin.core.kv.Set
    namespace: _kite.auth
    key: deadbeef
    value: {"name": "admin", "role": "admin"}'
flow get '  - id: t
    type: io.kestra.plugin.core.kv.Get
    namespace: _kite.auth
    key: admin'
flow keys '  - id: t
    type: io.kestra.plugin.core.kv.GetKeys
    namespace: _kite.auth'
flow del '  - id: t
    type: io.kestra.plugin.core.kv.Delete
    namespace: _kite.auth
    key: admin'
flow fn '  - id: t
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('"'admin'"', '"'_kite.auth'"') }}"'
flow fnkw '  - id: t
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv(key='"'admin'"', namespace='"'_kite.authx'"') }}"'
for f in set get keys del fn fnkw; do
    "$KITE" run "$work/$f.yaml" --data "$DATA" >"$work/$f.out" 2>"$work/$f.err"
    rc=$?
    ok "$f on _kite.auth: the run fails" [ "$rc" -eq 1 ]
    ok "$f on _kite.auth: the error names the reserved namespace" \
        grep -q "kv namespace '_kite.auth[x]*' is reserved for kite itself" "$work/$f.err"
done
rows >"$work/after"
ok "no token row changed" cmp -s "$work/before" "$work/after"

# A token row minted behind kite's back survives nothing but a restart with
# the same admin token; a new KITE_ADMIN_TOKEN revokes it with the old one.
MINTED=minted-token-0123456789abcdef
HASH=$(printf %s "$MINTED" | sha256sum | cut -d' ' -f1)
sqlite3 "$DATA/kite.db" "INSERT INTO tokens (id, name, owner, sha256, created) VALUES ('minted', 'x', 'admin', '$HASH', 0)"
start_server "$ERR" --data "$DATA"
OLD=$TOKEN
TOKEN=$MINTED
req GET /flows/search
ok "a row written by hand is a token while the admin token stays" code_is 200
stop_server TERM
ADMIN_TOKEN=rotated-token-0123456789abcdef start_server "$ERR" --data "$DATA"
req GET /flows/search
ok "rotating KITE_ADMIN_TOKEN revokes the other tokens" code_is 401
TOKEN=$OLD
req GET /flows/search
ok "rotating KITE_ADMIN_TOKEN revokes the old admin token" code_is 401
TOKEN=rotated-token-0123456789abcdef
req GET /flows/search
ok "the new admin token works" code_is 200
ok "one token left unrevoked: the new admin token" \
    [ "$(sqlite3 "$DATA/kite.db" "SELECT count(*) FROM tokens WHERE revoked IS NULL")" -eq 1 ]
ok "the tokens of kite's first versions left the kv store" \
    [ "$(sqlite3 "$DATA/kite.db" "SELECT count(*) FROM kv WHERE namespace = '_kite.auth'")" -eq 0 ]
stop_server TERM
