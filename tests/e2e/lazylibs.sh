#!/bin/bash
# Client libraries loaded on first use (src/util/dl.h): kite's binary does not
# link them, a flow that does not use them never maps them, nor does kite
# server at start (the loader's own trace, LD_DEBUG=files, names every object
# it maps), a flow that uses one maps it, and where one is missing
# ($KITE_DL_<NAME> pointed at a file that does not exist) `kite validate` warns
# at the type and the task fails with the library's soname and Debian package.
# No database or remote server is needed: the tasks point at a closed port.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && tail -15 "$work/err" | sed 's/^/    /'
}
run() { # $1 flow file, rest: env; sets $state, stderr in $work/err
    local f=$1
    shift
    rm -rf "$work/data"
    env "$@" timeout 60 "$KITE" run "$f" --data "$work/data" >"$work/out" 2>"$work/err"
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}

# name | soname | a type that needs it | its properties (yaml, 4 spaces, \n between lines)
LIBS=(
"MONGOC|libmongoc-1.0.so.0|io.kestra.plugin.mongodb.Find|    connection: { uri: \"mongodb://127.0.0.1:9/\" }\n    database: d\n    collection: c"
"PQ|libpq.so.5|io.kestra.plugin.jdbc.postgresql.Query|    url: jdbc:postgresql://127.0.0.1:9/d\n    sql: select 1"
"MARIADB|libmariadb.so.3|io.kestra.plugin.jdbc.mysql.Query|    url: jdbc:mysql://127.0.0.1:9/d\n    sql: select 1"
"GIT2|libgit2.so.1.5|io.kestra.plugin.git.Clone|    url: http://127.0.0.1:9/r.git"
"SSH|libssh.so.4|io.kestra.plugin.fs.ssh.Command|    host: 127.0.0.1\n    port: \"9\"\n    username: u\n    password: p\n    commands: [ \"true\" ]"
"AVRO|libavro.so.23|io.kestra.plugin.serdes.avro.IonToAvro|    from: \"kestra:///none.ion\"\n    schema: '{\"type\": \"record\", \"name\": \"r\", \"fields\": []}'"
"CURL|libcurl.so.4|io.kestra.plugin.core.http.Request|    uri: http://127.0.0.1:9/"
"ARCHIVE|libarchive.so.13|io.kestra.plugin.compress.ArchiveDecompress|    from: \"kestra:///none.tar\"\n    algorithm: TAR"
)

for l in "${LIBS[@]}"; do
    IFS='|' read -r _ so _ _ <<<"$l"
    if ldd "$KITE" | grep -q "$so"; then ko "not_linked_$so" "ldd lists it"; else ok "not_linked_$so"; fi
done

cat >"$work/plain.yaml" <<'EOF2'
id: plain
namespace: e2e.lazylibs
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hi {{ 1 + 1 }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: { type: io.kestra.plugin.core.runner.Process }
    commands: [ "echo hi" ]
EOF2
run "$work/plain.yaml" LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld"
cat "$work"/ld.* >"$work/ld" 2>/dev/null
if [ "$state" != SUCCESS ]; then
    ko plain_run "state ${state:-?}"
else
    for l in "${LIBS[@]}"; do
        IFS='|' read -r _ so _ _ <<<"$l"
        if grep -q "file=$so" "$work/ld"; then ko "unused_not_mapped_$so" "mapped by a flow that does not use it"; else ok "unused_not_mapped_$so"; fi
    done
fi

# kite server with no flow that uses them maps none either
rm -f "$work"/ld.*
LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld" "$KITE" server local --port 0 --data "$work/srv" --quiet >"$work/srv.out" 2>&1 &
spid=$!
for _ in $(seq 1 400); do grep -q "serving http" "$work/srv.out" && break; sleep 0.05; done
kill -TERM "$spid"
wait "$spid"
if ! grep -q "serving http" "$work/srv.out"; then
    ko server_start "$(tail -3 "$work/srv.out")"
else
    for l in "${LIBS[@]}"; do
        IFS='|' read -r _ so _ _ <<<"$l"
        if cat "$work"/ld.* | grep -q "file=$so"; then ko "server_not_mapped_$so" "mapped at start"; else ok "server_not_mapped_$so"; fi
    done
fi

for l in "${LIBS[@]}"; do
    IFS='|' read -r name so type props <<<"$l"
    cat >"$work/uses.yaml" <<EOF2
id: uses
namespace: e2e.lazylibs
tasks:
  - id: t
    type: $type
$(printf '%b' "$props")
EOF2
    # a flow that uses it maps it (the loader opens it by its soname)
    rm -f "$work"/ld.*
    run "$work/uses.yaml" LD_DEBUG=files LD_DEBUG_OUTPUT="$work/ld"
    if cat "$work"/ld.* 2>/dev/null | grep -q "file=$so .*dynamically loaded"; then ok "used_mapped_$so"; else ko "used_mapped_$so" "not in the loader's trace"; fi
    # missing: validate warns, the run fails the task, naming soname and package
    missing="$work/none/$so"
    "$KITE" validate "$work/uses.yaml" >"$work/vout" 2>&1
    vrc=$?
    env "KITE_DL_$name=$missing" "$KITE" validate "$work/uses.yaml" >"$work/vout" 2>&1
    want="need $so (Debian package [^)]*): $missing: cannot open shared object file"
    if grep -q "uses.yaml:[0-9]*:[0-9]*: .*type '$type' cannot run on this host: .*$want" "$work/vout"; then
        ok "validate_missing_$so"
    else
        ko "validate_missing_$so" "$(head -3 "$work/vout")"
    fi
    [ "$vrc" -eq 0 ] && ok "validate_present_$so" || ko "validate_present_$so" "rc $vrc"
    run "$work/uses.yaml" "KITE_DL_$name=$missing"
    if [ "$state" = FAILED ] && grep -q "$want" "$work/err"; then ok "run_missing_$so"; else ko "run_missing_$so" "state ${state:-?}"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
