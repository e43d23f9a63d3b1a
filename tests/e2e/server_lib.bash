# server_lib.bash: helpers for the tests/e2e/server_*.sh scripts (sourced;
# not a test itself: run.sh only runs *.sh). Starts the real binary on a
# free loopback port with a temporary data folder, drives it with curl and
# checks JSON with python3.
KITE=${KITE:-build/kite}
TOKEN=e2e-token-0123456789abcdef
work=$(mktemp -d)
pass=0
fail=0
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

ok() { # ok NAME COMMAND...: PASS when the command succeeds
    local name=$1
    shift
    if "$@"; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        fail=$((fail + 1))
        [ -f "$work/body" ] && echo "  last answer ($code): $(head -c 600 "$work/body")"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server ERRFILE ARGS...: starts `kite server local` on a free port,
# waits until /health answers; sets PORT, BASE (the API root) and SERVER_PID.
start_server() {
    local err=$1
    shift
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT/api/v1
    KITE_ADMIN_TOKEN=${ADMIN_TOKEN-$TOKEN} "$KITE" server local --port "$PORT" --quiet "$@" \
        >"$work/server.out" 2>>"$err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# stop_server [SIGNAL]: sends SIGTERM (or SIGNAL), waits; sets STOP_RC.
stop_server() {
    kill -"${1:-TERM}" "$SERVER_PID"
    wait "$SERVER_PID"
    STOP_RC=$?
    SERVER_PID=
}

# req METHOD PATH [CURL ARGS...]: authenticated call; the status goes to
# $code and the body to $work/body. PATH is relative to /api/v1.
req() {
    local m=$1 p=$2
    shift 2
    code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$BASE$p")
}

# noauth METHOD URL [CURL ARGS...]: the same without a token, full URL.
noauth() {
    local m=$1 u=$2
    shift 2
    code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$m" "$@" "$u")
}

# j EXPR: evaluates a python expression over d (the last body as JSON) and
# prints it.
j() {
    python3 -c "import json,sys; d=json.load(open('$work/body')); print($1)"
}

# jt EXPR: succeeds when the python expression over d is true.
jt() {
    python3 -c "import json,sys; d=json.load(open('$work/body')); sys.exit(0 if ($1) else 1)" 2>/dev/null
}

code_is() { [ "$code" = "$1" ]; }

# wait_state ID STATE [SECONDS]: polls the execution until it is STATE.
wait_state() {
    local id=$1 want=$2 n=$(( ${3:-20} * 10 ))
    for _ in $(seq 1 "$n"); do
        req GET "/executions/$id"
        [ "$(j "d['state']['current']" 2>/dev/null)" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

no_sanitizer_reports() { # no_sanitizer_reports FILE: on failure shows the first report
    local pat='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer|kite server: internal error:'
    grep -E -q "$pat" "$1" || return 0
    grep -E -A40 "$pat" "$1" | head -60
    return 1
}
