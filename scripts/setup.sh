#!/bin/sh
# Installs every Debian package kite's build, tests and benchmarks need.
# Idempotent: does nothing when all are present. Run as root (or with sudo).
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libyaml-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev sqlite3
libcurl4-openssl-dev libpq-dev libsodium-dev libpcre2-dev libzstd-dev
libjq-dev libonig-dev libcmocka-dev tzdata python3 procps curl openssl
libssh-dev libgit2-dev openssh-server openssh-client git
libmariadb-dev postgresql mariadb-server
python3-aiosmtpd
libmongoc-dev
python3-botocore
libssl-dev
libgnutls28-dev
libavro-dev python3-avro time
docker.io busybox-static file awscli
libseccomp-dev
libarchive-dev zip unzip
chromium"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js and npm only where no node is on PATH: this image's Node 20 ships its
# own npm, and Debian's npm package conflicts with it.
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
# DuckDB has no Debian package: its npm bindings ship libduckdb.so, which
# src/tasks/sql/duckdb.c loads from vendor/duckdb/ (../shared/notes/duckdb.md).
duckdb() {
    d="$(dirname "$0")/../vendor/duckdb"
    [ -f "$d/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so" ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    # the version is pinned by vendor/duckdb/package.json and its package-lock.json
    (cd "$d" && npm ci --no-audit --no-fund --silent) ||
        echo "setup: DuckDB could not be installed; DuckDB tasks will not run" >&2
}
# the web UI's build tools and editor (esbuild, CodeMirror, dagre, uPlot; playwright-core for
# its browser tests), pinned by ui/package.json and ui/package-lock.json
ui() {
    d="$(dirname "$0")/../ui"
    [ -f "$d/node_modules/.package-lock.json" ] && cmp -s "$d/package-lock.json" "$d/node_modules/.kite-lock" && return 0
    command -v npm >/dev/null 2>&1 || return 0
    (cd "$d" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.kite-lock) ||
        echo "setup: the web UI's packages could not be installed; kite is built without its UI" >&2
}
# s3rver, an S3-compatible server on the file system for tests/e2e/s3rver.sh (listing pages,
# multipart), pinned by tests/s3rver/package.json and its package-lock.json
s3rver() {
    d="$(dirname "$0")/../tests/s3rver"
    [ -x "$d/node_modules/.bin/s3rver" ] && cmp -s "$d/package-lock.json" "$d/node_modules/.kite-lock" && return 0
    command -v npm >/dev/null 2>&1 || return 0
    (cd "$d" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.kite-lock) ||
        echo "setup: s3rver could not be installed; tests/e2e/s3rver.sh will skip" >&2
}
[ -z "$missing" ] && { duckdb; ui; s3rver; exit 0; }

echo "setup: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
duckdb
ui
s3rver
