#!/bin/bash
# tests/lib/mariadb.sh: a real MariaDB for a test suite, started once in a
# temporary folder on a free loopback port (mariadb-install-db, then
# mariadbd with --user when run as root); stopped by mariadb_stop.
#
#   . tests/lib/mariadb.sh; mariadb_start || skip...; ...; mariadb_stop
#
# Sets MY_PORT, MY_USER (kite), MY_PASSWORD, MY_URL
# (jdbc:mariadb://127.0.0.1:PORT/kite) and MY_CLI (a mariadb client command
# line). local_infile is on, for LOAD DATA LOCAL.
mariadb_start() {
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || {
        echo "no mariadbd" >&2; return 1; }
    MY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/my.XXXXXX")
    chmod 755 "$MY_DIR"
    MY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    MY_USER=kite
    MY_PASSWORD="my-secret-$RANDOM$RANDOM"
    local user
    user=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        user=nobody
        chown nobody "$MY_DIR"
    fi
    mariadb-install-db --no-defaults --datadir="$MY_DIR/data" --tmpdir="$MY_DIR" --user="$user" \
        --auth-root-authentication-method=normal --skip-test-db >"$MY_DIR/install.log" 2>&1 || {
        cat "$MY_DIR/install.log" >&2; return 1; }
    /usr/sbin/mariadbd --no-defaults --datadir="$MY_DIR/data" --tmpdir="$MY_DIR" --user="$user" \
        --port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_DIR/sock" \
        --pid-file="$MY_DIR/pid" --skip-grant-tables=0 --local-infile=1 \
        --innodb-buffer-pool-size=32M --skip-log-bin --log-error="$MY_DIR/err.log" 2>>"$MY_DIR/err.log" &
    MY_PID=$!
    for _ in $(seq 1 300); do
        [ -S "$MY_DIR/sock" ] && mariadb --no-defaults -S "$MY_DIR/sock" -uroot -e 'select 1' \
            >/dev/null 2>&1 && break
        kill -0 "$MY_PID" 2>/dev/null || { cat "$MY_DIR/err.log" >&2; return 1; }
        sleep 0.1
    done
    mariadb --no-defaults -S "$MY_DIR/sock" -uroot -e "
        CREATE DATABASE kite;
        CREATE USER '$MY_USER'@'127.0.0.1' IDENTIFIED BY '$MY_PASSWORD';
        CREATE USER '$MY_USER'@'localhost' IDENTIFIED BY '$MY_PASSWORD';
        GRANT ALL ON kite.* TO '$MY_USER'@'127.0.0.1';
        GRANT ALL ON kite.* TO '$MY_USER'@'localhost';" || return 1
    MY_URL="jdbc:mariadb://127.0.0.1:$MY_PORT/kite"
    MY_CLI=(mariadb --no-defaults -S "$MY_DIR/sock" -uroot -N -B kite)
    export MY_PORT MY_USER MY_PASSWORD MY_URL
}

mariadb_stop() {
    [ -n "${MY_PID:-}" ] || return 0
    kill "$MY_PID" 2>/dev/null
    wait "$MY_PID" 2>/dev/null
    rm -rf "$MY_DIR"
    MY_PID=
}
