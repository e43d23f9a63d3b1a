#!/bin/bash
# data_check.sh: kite refuses to start on a store it cannot trust. A
# kite.db that is missing or zero bytes beside a storage folder holding
# files is refused with a message naming both paths (recreating it would
# silently give an empty store over existing data), and a damaged kite.db
# is refused by the integrity check (PRAGMA quick_check) run at start. A
# fresh data folder, and an empty kite.db beside an empty storage folder,
# still start. Both `kite run` and `kite server local` open the store the
# same way (cli/boot.c); each case is tried with one of them.
set -u
ROOT=${ROOT:-$PWD}
source "$ROOT/tests/e2e/server_lib.bash"

cat >"$work/write.yaml" <<'YAML'
id: write
namespace: t.data
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "some bytes the store points to"
YAML

# used DIR: a data folder with executions in kite.db and files in storage
used() {
    for _ in 1 2 3; do
        "$KITE" run "$work/write.yaml" --data "$1" >/dev/null 2>>"$work/setup.err" || return 1
    done
}

D=$work/fresh
"$KITE" run "$work/write.yaml" --data "$D" >"$work/fresh.out" 2>&1
ok "a fresh data folder starts" [ $? -eq 0 ]

D=$work/missing
used "$D"
ok "setup: the storage folder holds files" [ -n "$(find "$D/storage" -type f | head -1)" ]
rm -f "$D/kite.db" "$D/kite.db-wal" "$D/kite.db-shm"
"$KITE" run "$work/write.yaml" --data "$D" >"$work/missing.out" 2>&1
rc=$?
ok "missing kite.db beside files: kite run refuses (exit 1)" [ "$rc" -eq 1 ]
ok "missing kite.db: the message names kite.db as missing" \
    grep -qF "$D/kite.db is missing" "$work/missing.out"
ok "missing kite.db: the message names the storage folder" \
    grep -qF "the storage folder $D/storage is not empty" "$work/missing.out"
ok "missing kite.db: no empty store was created" [ ! -e "$D/kite.db" ]

D=$work/zero
used "$D"
rm -f "$D/kite.db-wal" "$D/kite.db-shm"
: >"$D/kite.db"
start_server "$work/zero.err" --data "$D"
rc=$?
ok "zero-byte kite.db beside files: the server does not start" [ "$rc" -ne 0 ]
[ -n "$SERVER_PID" ] && { kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
ok "zero-byte kite.db: the message says empty and names both paths" \
    grep -qF "$D/kite.db is empty (0 bytes) but the storage folder $D/storage is not empty" "$work/zero.err"
ok "zero-byte kite.db: the file is left as it was" [ ! -s "$D/kite.db" ]

D=$work/zero-clean
mkdir -p "$D/storage"
: >"$D/kite.db"
"$KITE" run "$work/write.yaml" --data "$D" >"$work/zero-clean.out" 2>&1
ok "zero-byte kite.db beside an empty storage folder: starts" [ $? -eq 0 ]

# A damaged page in the middle of the file: the open and the migrations only
# read the first pages, so without the check the store opens and the damage
# shows later, query by query.
D=$work/corrupt
mkdir -p "$D"
sqlite3 "$D/kite.db" "PRAGMA journal_mode=WAL;" >/dev/null
used "$D"
sqlite3 "$D/kite.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
# a table of our own with many pages, then pages of it overwritten
sqlite3 "$D/kite.db" "CREATE TABLE filler(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 4000) INSERT INTO filler SELECT randomblob(200) FROM c; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
psize=$(sqlite3 "$D/kite.db" "PRAGMA page_size;")
root=$(sqlite3 "$D/kite.db" "SELECT rootpage FROM sqlite_master WHERE name = 'filler';")
ok "setup: the database is sound before the damage" \
    [ "$(sqlite3 "$D/kite.db" "PRAGMA quick_check;")" = ok ]
# the filler table's root page (an interior page: its child pointers go wild)
printf 'garbage%.0s' $(seq 1 200) | dd of="$D/kite.db" bs=1 seek=$(( (root - 1) * psize + 8 )) conv=notrunc status=none
ok "setup: the damage is there" \
    [ "$(sqlite3 "$D/kite.db" "PRAGMA quick_check;" 2>&1)" != ok ]
start_server "$work/corrupt.err" --data "$D"
rc=$?
ok "damaged kite.db: the server does not start" [ "$rc" -ne 0 ]
[ -n "$SERVER_PID" ] && { kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
ok "damaged kite.db: the message names the file and the integrity check" \
    grep -qF "store: $D/kite.db fails its integrity check (PRAGMA quick_check):" "$work/corrupt.err"
echo "  refused with: $(grep -F "integrity check" "$work/corrupt.err" | head -1)"
"$KITE" run "$work/write.yaml" --data "$D" >"$work/corrupt-run.out" 2>&1
ok "damaged kite.db: kite run refuses too (exit 1)" [ $? -eq 1 ]
ok "damaged kite.db: kite run says why" grep -qF "fails its integrity check" "$work/corrupt-run.out"

ok "no sanitizer reports" no_sanitizer_reports "$work/zero.err"
echo "data_check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
