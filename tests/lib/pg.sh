#!/bin/bash
# tests/lib/pg.sh: a real PostgreSQL 15 for a test suite, started once in a
# temporary folder on a free loopback port (as pg_regress --temp-instance
# does), as `nobody` when the suite runs as root; stopped by pg_stop.
#
#   . tests/lib/pg.sh; pg_start || skip...; ...; pg_stop
#
# pg_start sets PG_PORT, PG_USER (kite), PG_PASSWORD, PG_URL
# (jdbc:postgresql://127.0.0.1:PORT/kite) and PG_PSQL (a psql command line
# for the test's own checks). Password authentication (scram) is on, so a
# wrong password fails as it would on a real server.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_start() {
    [ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL under $PG_BIN" >&2; return 1; }
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pg.XXXXXX")
    chmod 755 "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    PG_USER=kite
    PG_PASSWORD="pg-secret-$RANDOM$RANDOM"
    PG_RUN=()
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$PG_DIR"
        PG_RUN=(runuser -u nobody --)
    fi
    printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pw"
    chmod 644 "$PG_DIR/pw"
    "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$PG_DIR/pw" \
        --auth=scram-sha-256 -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2; return 1; }
    rm -f "$PG_DIR/pw"
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null 2>&1 || { cat "$PG_DIR/server.log" >&2; return 1; }
    PG_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/kite"
    PG_PSQL=(env PGPASSWORD="$PG_PASSWORD" psql -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d kite)
    env PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres \
        -c "CREATE DATABASE kite" >/dev/null || return 1
    export PG_PORT PG_USER PG_PASSWORD PG_URL
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
    PG_DIR=
}
