#!/bin/bash
# The sandbox runner end to end through `kite run`: what a sandboxed script
# task can and cannot do (read outside its folder, write /usr, reach a
# loopback server, see the host's processes, escape its limits), that a
# timeout and a kill leave no process behind, the memory limit's message, the
# seccomp filter, kite.yml's sandbox and defaults keys, and a Kestra flow
# written for the Docker runner run in the sandbox when no Docker engine
# answers. One PASS/FAIL line per case; SKIP where no sandbox can be made.
set -u
KITE=${KITE:-build/kite}
work=$(mktemp -d)
SRV=
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    pkill -f "$MARK" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
pass=0
fail=0
MARK="kite-sbx-e2e-$$-$RANDOM"

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && grep -v ' INFO ' "$work/err" | tail -15 | sed 's/^/    /'
}

# run NAME FLOWFILE [timeout] [kite.yml]: stderr in $work/err, the final
# state in $state, the task logs in $work/err
run() {
    local n=$1 flow=$2 t=${3:-90} cfg=${4:-$work/kite.yml}
    rm -rf "$work/data-$n"
    timeout "$t" "$KITE" run "$flow" --config "$cfg" --data "$work/data-$n" >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}
has() { grep -qF -- "$1" "$work/err"; }
left() { pgrep -f "$MARK" | wc -l; }

# a flow of one shell task on runner.sandbox (RUNNER: extra runner lines)
shflow() {
    local f=$1 cmd=$2 runner=${3:-}
    {
        echo "id: sbx"
        echo "namespace: e2e.sandbox"
        echo "tasks:"
        echo "  - id: t"
        echo "    type: io.kestra.plugin.scripts.shell.Commands"
        echo "    taskRunner:"
        echo "      type: runner.sandbox"
        [ -n "$runner" ] && printf '%s\n' "$runner"
        echo "    commands:"
        echo "      - |"
        printf '%s\n' "$cmd" | sed 's/^/        /'
    } >"$f"
}

mkdir -p "$work/tmp" "$work/allowed" "$work/closed" "$work/open"
echo "host-only secret" >"$work/closed/secret.txt"
chmod 0644 "$work/closed/secret.txt"
chmod 0644 "$work/closed"          # no x: only root can walk into it
echo "hidden but readable" >"$work/open/plain.txt"
chmod 0755 "$work/open"
chmod 0644 "$work/open/plain.txt"
echo "shared data" >"$work/allowed/data.txt"
chmod 0755 "$work" "$work/allowed"
chmod 0644 "$work/allowed/data.txt"
cat >"$work/kite.yml" <<EOF
tmpDir: $work/tmp
sandbox:
  allowedVolumes: [$work/allowed]
  hide: [$work/open]
EOF

# ---- can a sandbox be made here? ------------------------------------------------
shflow "$work/probe.yaml" 'echo probe-ok'
run probe "$work/probe.yaml"
if [ "$state" != SUCCESS ]; then
    why=$(grep -o 'runner.sandbox: .*' "$work/err" | head -1)
    echo "SKIP sandbox: no sandbox can be made on this host (${why:-see kite run})"
    exit 0
fi

# ---- it runs, with outputs and files ---------------------------------------------
cat >"$work/pipe.yaml" <<'EOF'
id: pipe
namespace: e2e.sandbox
tasks:
  - id: produce
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: runner.sandbox
    outputFiles: ["*.csv"]
    commands:
      - printf 'id,v\n1,10\n2,32\n' > numbers.csv
      - echo '::{"outputs":{"rows":2}}::'
  - id: consume
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: runner.sandbox
    inputFiles:
      in.csv: "{{ outputs.produce.outputFiles['numbers.csv'] }}"
    script: |
      import csv
      print("total", sum(int(r["v"]) for r in csv.DictReader(open("in.csv"))), "rows {{ outputs.produce.vars.rows }}")
EOF
run pipe "$work/pipe.yaml"
if [ "$state" = SUCCESS ] && has "total 42 rows 2"; then
    ok "a sandboxed pipeline passes outputs and files between tasks"
else
    ko "a sandboxed pipeline passes outputs and files between tasks" "state=$state"
fi

# ---- files outside its folder ----------------------------------------------------
cat "$work/closed/secret.txt" >/dev/null &&
    shflow "$work/read.yaml" "cat $work/closed/secret.txt 2>&1 || echo refused-closed
cat $work/open/plain.txt 2>&1 || echo refused-open
echo data-entries=\$(ls -A $work/data-read 2>/dev/null | wc -l)
id -u"
run read "$work/read.yaml"
if [ "$state" != FAILED ] && ! has "host-only secret" && has "refused-closed"; then
    ok "a sandboxed task cannot read a file outside its folder that the host can read"
else
    ko "a sandboxed task cannot read a file outside its folder that the host can read" "state=$state"
fi
if ! has "hidden but readable" && has "refused-open"; then
    ok "sandbox.hide covers a world-readable file"
else
    ko "sandbox.hide covers a world-readable file" "state=$state"
fi
if has "data-entries=0" && [ -n "$(ls -A "$work/data-read")" ]; then
    ok "kite's own data folder is hidden from sandboxed tasks"
else
    ko "kite's own data folder is hidden from sandboxed tasks" "state=$state"
fi
if [ "$(id -u)" != 0 ] || has "INFO  t 65534"; then
    ok "a sandboxed task runs as an unprivileged user"
else
    ko "a sandboxed task runs as an unprivileged user" "id -u not 65534"
fi

# ---- the root is read-only, /tmp private -------------------------------------------
echo probe >/tmp/"$MARK"-hostfile
shflow "$work/ro.yaml" "touch /usr/$MARK 2>&1 || echo usr-refused
ls /tmp/$MARK-hostfile 2>/dev/null && echo host-tmp-seen
echo x > /tmp/own && echo own-tmp-ok"
run ro "$work/ro.yaml"
rm -f /tmp/"$MARK"-hostfile
if has "usr-refused" && has "Read-only file system" && [ ! -e "/usr/$MARK" ]; then
    ok "a sandboxed task cannot write to /usr"
else
    ko "a sandboxed task cannot write to /usr" "state=$state"
    rm -f "/usr/$MARK"
fi
if has "own-tmp-ok" && ! has "host-tmp-seen"; then
    ok "a sandboxed task has a private /tmp"
else
    ko "a sandboxed task has a private /tmp" "state=$state"
fi

# ---- the network --------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$work/www"
echo "hello-from-host-$MARK" >"$work/www/index.html"
(cd "$work/www" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
SRV=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
fetch="curl -s -m 5 http://127.0.0.1:$PORT/ || echo unreachable"
shflow "$work/net-none.yaml" "$fetch"
run netnone "$work/net-none.yaml"
if has "unreachable" && ! has "hello-from-host"; then
    ok "a sandboxed task cannot reach a loopback server of the host (networkMode none)"
else
    ko "a sandboxed task cannot reach a loopback server of the host (networkMode none)" "state=$state"
fi
shflow "$work/net-host.yaml" "$fetch" "      networkMode: host"
run nethost "$work/net-host.yaml"
if has "hello-from-host-$MARK"; then
    ok "networkMode host reaches the host's loopback server"
else
    ko "networkMode host reaches the host's loopback server" "state=$state"
fi

# ---- processes ------------------------------------------------------------------------
python3 -c 'import time; time.sleep(120)' "$MARK-host" &
hostp=$!
shflow "$work/ps.yaml" "echo pid=\$\$
echo init=\$(cat /proc/1/comm)
ls /proc | grep -c '^[0-9]'
grep -l "[${MARK:0:1}]${MARK:1}-host" /proc/[0-9]*/cmdline 2>/dev/null && echo host-seen
echo done"
run ps "$work/ps.yaml"
kill "$hostp" 2>/dev/null
n=$(grep -A1 'init=' "$work/err" | tail -1 | awk '{print $NF}')
if has "pid=2" && has "init=kite-init" && [ "${n:-99}" -le 6 ] && ! has "host-seen"; then
    ok "a sandboxed task sees only its own processes (PID 2 under the sandbox's init, $n in /proc)"
else
    ko "a sandboxed task sees only its own processes" "n=$n"
fi

cat >"$work/timeout.yaml" <<EOF
id: sbxtimeout
namespace: e2e.sandbox
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT2S
    taskRunner:
      type: runner.sandbox
    commands:
      - 'sh -c "sleep 300; : $MARK-t1" &'
      - 'setsid sh -c "sleep 300; : $MARK-t2" &'
      - sleep 300
EOF
run timeout "$work/timeout.yaml" 90
sleep 0.5
if [ "$state" = FAILED ] && [ "$(left)" = 0 ]; then
    ok "a timeout leaves no process of the sandboxed task behind"
else
    ko "a timeout leaves no process of the sandboxed task behind" "state=$state left=$(left)"
    pkill -f "$MARK"
fi

# ---- the sandbox's init: a TERM ends the task, traps run, orphans go, statuses -------
# A task as PID 1 ignored the SIGTERM of a timeout and lasted until the SIGKILL of the
# grace period ("killed by signal 9"); under the init the TERM itself ends it.
cat >"$work/term.yaml" <<EOF
id: sbxterm
namespace: e2e.sandbox
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    taskRunner:
      type: runner.sandbox
    commands:
      - exec sleep 60
EOF
run term "$work/term.yaml" 90
if [ "$state" = FAILED ] && has "killed by signal 15" && ! has "killed by signal 9"; then
    ok "a sandboxed 'sleep 60' past its timeout is ended by the SIGTERM, not the grace period's SIGKILL"
else
    ko "a sandboxed 'sleep 60' past its timeout is ended by the SIGTERM" "state=$state $(grep -o 'timed out.*' "$work/err" | head -1)"
fi
mkdir -p "$work/allowed/rw"
chmod 1777 "$work/allowed/rw"
cat >"$work/trap.yaml" <<EOF
id: sbxtrap
namespace: e2e.sandbox
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    taskRunner:
      type: runner.sandbox
      volumes:
        - $work/allowed/rw:/tmp/rw
    commands:
      - trap 'echo trapped-term > /tmp/rw/on-term; exit 3' TERM
      - sleep 60 &
      - wait
EOF
run trap "$work/trap.yaml" 90
if [ "$state" = FAILED ] && [ "$(cat "$work/allowed/rw/on-term" 2>/dev/null)" = trapped-term ] && has "exit code 3"; then
    ok "a sandboxed task that traps TERM writes its file on a timeout"
else
    ko "a sandboxed task that traps TERM writes its file on a timeout" "state=$state file=$(cat "$work/allowed/rw/on-term" 2>&1)"
fi
shflow "$work/orphan.yaml" "sh -c 'sleep 100; : $MARK-o1' &
echo orphan-started"
run orphan "$work/orphan.yaml" 90
sleep 0.5
if [ "$state" = SUCCESS ] && has "orphan-started" && [ "$(left)" = 0 ]; then
    ok "an orphan of a sandboxed task neither outlives it nor holds it open"
else
    ko "an orphan of a sandboxed task neither outlives it nor holds it open" "state=$state left=$(left)"
fi
statuses=""
for c in "exit 0" "exit 1" "exit 42" 'kill -KILL $$'; do
    shflow "$work/st.yaml" "$c"
    run st "$work/st.yaml"
    statuses="$statuses[$state $(grep -o 'Command failed.*' "$work/err" | head -1)]"
done
want="[SUCCESS ][FAILED Command failed with code 1][FAILED Command failed with code 42][FAILED Command failed: killed by signal 9 (Killed)]"
if [ "$statuses" = "$want" ]; then
    ok "sandboxed exit codes 0, 1, 42 and a death by signal are the task's own"
else
    ko "sandboxed exit codes 0, 1, 42 and a death by signal are the task's own" "$statuses"
fi

cat >"$work/kill.yaml" <<EOF
id: sbxkill
namespace: e2e.sandbox
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: runner.sandbox
    commands:
      - 'sh -c "sleep 300; : $MARK-k1" &'
      - 'setsid sh -c "sleep 300; : $MARK-k2" &'
      - echo started
      - sleep 300
EOF
rm -rf "$work/data-kill"
"$KITE" run "$work/kill.yaml" --config "$work/kite.yml" --data "$work/data-kill" >"$work/out" 2>"$work/err" &
kpid=$!
for _ in $(seq 1 200); do [ "$(left)" -ge 2 ] && break; sleep 0.1; done
before=$(left)
kill -INT "$kpid"
for _ in $(seq 1 300); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$kpid" 2>/dev/null; then
    kill -9 "$kpid"
    ko "killing the execution leaves no process of the sandboxed task behind" "kite run did not end"
else
    wait "$kpid"
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
    sleep 0.5
    if [ "$state" = KILLED ] && [ "$before" -ge 2 ] && [ "$(left)" = 0 ]; then
        ok "killing the execution leaves no process of the sandboxed task behind"
    else
        ko "killing the execution leaves no process of the sandboxed task behind" "state=$state before=$before left=$(left)"
    fi
fi
pkill -f "$MARK" 2>/dev/null

# ---- limits -----------------------------------------------------------------------------
cat >"$work/oom.yaml" <<'EOF'
id: sbxoom
namespace: e2e.sandbox
tasks:
  - id: hog
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: runner.sandbox
      memory:
        memory: 64Mi
    script: |
      b = bytearray(400 * 1024 * 1024)
      for i in range(0, len(b), 4096):
          b[i] = 1
      print("survived")
EOF
run oom "$work/oom.yaml"
if [ "$state" = FAILED ] && grep -q 'ERROR hog killed: memory limit 64 MiB reached$' "$work/err" && ! has survived; then
    ok "a task past its memory limit ends FAILED with 'killed: memory limit 64 MiB reached'"
elif grep -q 'memory.memory needs a delegated cgroup' "$work/err"; then
    echo "SKIP memory limit: $(grep -o 'sandbox: memory.memory.*' "$work/err" | head -1)"
else
    ko "a task past its memory limit ends FAILED with 'killed: memory limit 64 MiB reached'" "state=$state"
fi

cat >"$work/bomb.yaml" <<'EOF'
id: sbxbomb
namespace: e2e.sandbox
tasks:
  - id: bomb
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: runner.sandbox
      pidsLimit: 40
    script: |
      import os, time
      made = refused = 0
      for i in range(300):
          try:
              pid = os.fork()
          except OSError:
              refused += 1
              continue
          if pid == 0:
              time.sleep(20)
              os._exit(0)
          made += 1
      print("made", made, "refused", refused)
EOF
run bomb "$work/bomb.yaml" 120
made=$(sed -n 's/.*made \([0-9]*\) refused \([0-9]*\).*/\1/p' "$work/err")
refused=$(sed -n 's/.*made \([0-9]*\) refused \([0-9]*\).*/\2/p' "$work/err")
if [ -n "$made" ] && [ "$made" -lt 40 ] && [ "${refused:-0}" -gt 200 ]; then
    ok "pidsLimit stops a fork bomb ($made forks made, $refused refused)"
else
    ko "pidsLimit stops a fork bomb" "state=$state made=$made refused=$refused"
fi

# ---- seccomp ---------------------------------------------------------------------------
shflow "$work/sec.yaml" "unshare -U true 2>&1 || echo unshare-refused
mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1 || echo mount-refused"
run sec "$work/sec.yaml"
if has "unshare-refused" && has "mount-refused" && has "Operation not permitted"; then
    ok "the seccomp filter refuses unshare and mount"
else
    ko "the seccomp filter refuses unshare and mount" "state=$state"
fi

# ---- defaults.taskRunner -------------------------------------------------------------------
cat >"$work/kite-default.yml" <<EOF
tmpDir: $work/tmp
defaults:
  taskRunner: runner.sandbox
EOF
cat >"$work/plain.yaml" <<'EOF'
id: plain
namespace: e2e.sandbox
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "pid=$$"
EOF
run default "$work/plain.yaml" 90 "$work/kite-default.yml"
if [ "$state" = SUCCESS ] && has "pid=2"; then
    ok "defaults.taskRunner: runner.sandbox makes the sandbox the default of script tasks"
else
    ko "defaults.taskRunner: runner.sandbox makes the sandbox the default of script tasks" "state=$state"
fi

# ---- a Kestra flow written for the Docker runner, no engine ------------------------------
export DOCKER_HOST="unix://$work/no-docker.sock"
cat >"$work/docker.yaml" <<EOF
id: docker_flow
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    containerImage: python:3.11-slim
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      cpu:
        cpus: 1
      memory:
        memory: 256Mi
      volumes:
        - $work/allowed:/tmp/shared:ro
    env:
      GREETING: bonjour
    script: |
      import os
      from kestra import Kestra
      print(os.environ["GREETING"], os.getpid(), open("/tmp/shared/data.txt").read().strip())
      print("fetch", os.popen("$fetch").read().strip())
      Kestra.outputs({"ok": True})
EOF
run docker "$work/docker.yaml"
if [ "$state" = SUCCESS ] && has "bonjour 2 shared data" &&
    has "containerImage python:3.11-slim is not used: the sandbox runs the host's root filesystem" &&
    [ "$(grep -c 'is not used: the sandbox' "$work/err")" = 1 ]; then
    ok "a Kestra flow for the Docker runner runs in the sandbox when no engine answers (env, volume, image reported once)"
else
    ko "a Kestra flow for the Docker runner runs in the sandbox when no engine answers" "state=$state"
fi
if has "fetch hello-from-host-$MARK"; then
    ok "the Docker mapping keeps the network on, as Docker's default"
else
    ko "the Docker mapping keeps the network on, as Docker's default" "state=$state"
fi
sed -e 's|        memory: 256Mi|        memory: 256Mi\n      networkMode: none|' -e "s|$work/allowed:/tmp/shared:ro|$work/open:/tmp/shared:ro|" \
    "$work/docker.yaml" >"$work/docker-bad.yaml"
run dockerbad "$work/docker-bad.yaml"
if [ "$state" = FAILED ] && has "volume '$work/open:/tmp/shared': $work/open is not within sandbox.allowedVolumes (kite.yml)"; then
    ok "a Docker volume outside sandbox.allowedVolumes is refused, naming the volume"
else
    ko "a Docker volume outside sandbox.allowedVolumes is refused, naming the volume" "state=$state"
fi
sed -e 's|        memory: 256Mi|        memory: 256Mi\n      networkMode: none|' "$work/docker.yaml" >"$work/docker-none.yaml"
run dockernone "$work/docker-none.yaml"
if [ "$state" = SUCCESS ] && has "fetch unreachable"; then
    ok "the Docker mapping's networkMode none cuts the network"
else
    ko "the Docker mapping's networkMode none cuts the network" "state=$state"
fi
unset DOCKER_HOST

# ---- kite as an unprivileged user ------------------------------------------------------
# kite run by uid 65534 (setpriv): the user namespace maps only its own uid, the same
# isolation holds, and a limit that needs a cgroup kite cannot write fails naming why,
# unless a cgroup is delegated to it.
if [ "$(id -u)" != 0 ]; then
    echo "SKIP non-root: this suite runs as uid $(id -u), so every case above already ran kite unprivileged"
elif ! command -v setpriv >/dev/null; then
    echo "SKIP non-root: setpriv (util-linux) is missing"
else
    NRU=65534
    nr="$work/nr"
    mkdir -p "$nr/tmp" "$nr/hidden"
    echo "kite-user secret" >"$nr/hidden/secret.txt"
    echo "root only" >"$work/rootonly.txt"
    chmod 0600 "$work/rootonly.txt"
    cat >"$nr/kite.yml" <<EOF
tmpDir: $nr/tmp
sandbox:
  hide: [$nr/hidden]
EOF
    chown -R "$NRU:$NRU" "$nr"
    # nrun NAME FLOW [timeout] [cgroup.procs to enter first]
    nrun() {
        local n=$1 flow=$2 t=${3:-90} procs=${4:-}
        rm -rf "$nr/data-$n"
        timeout "$t" sh -c '[ -z "$1" ] || echo $$ >"$1" || exit 99; shift
            exec setpriv --reuid='"$NRU"' --regid='"$NRU"' --clear-groups "$@"' sh "$procs" \
            "$KITE" run "$flow" --config "$nr/kite.yml" --data "$nr/data-$n" >"$work/out" 2>"$work/err"
        rc=$?
        state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
    }
    python3 -c 'import time; time.sleep(120)' "$MARK-nrhost" &
    nrhost=$!
    shflow "$nr/iso.yaml" "echo uid=\$(id -u) maps=\$(wc -l < /proc/self/uid_map) map=\$(awk '{print \$1\":\"\$2\":\"\$3}' /proc/self/uid_map)
touch /usr/$MARK 2>&1 || echo usr-refused
cat $nr/hidden/secret.txt 2>/dev/null || echo hidden-refused
cat $work/rootonly.txt 2>/dev/null || echo rootonly-refused
echo data-entries=\$(ls -A $nr/data-iso 2>/dev/null | wc -l)
$fetch
echo procs=\$(ls /proc | grep -c '^[0-9]')
grep -l "[${MARK:0:1}]${MARK:1}-nrhost" /proc/[0-9]*/cmdline 2>/dev/null && echo host-seen
echo done"
    chown "$NRU:$NRU" "$nr/iso.yaml"
    nrun iso "$nr/iso.yaml"
    kill "$nrhost" 2>/dev/null
    if [ "$state" = SUCCESS ] && has "uid=$NRU maps=1 map=$NRU:$NRU:1"; then
        ok "non-root: the task runs as kite's own uid, the only one its user namespace maps"
    else
        ko "non-root: the task runs as kite's own uid, the only one its user namespace maps" "state=$state"
    fi
    if has "usr-refused" && has "Read-only file system" && [ ! -e "/usr/$MARK" ]; then
        ok "non-root: /usr is read-only (EROFS, not only a permission)"
    else
        ko "non-root: /usr is read-only" "state=$state"
    fi
    if has "hidden-refused" && ! has "kite-user secret" && has "data-entries=0" && [ -n "$(ls -A "$nr/data-iso")" ]; then
        ok "non-root: a file kite's user can read is hidden by sandbox.hide, and kite's data folder too"
    else
        ko "non-root: sandbox.hide and kite's data folder" "state=$state"
    fi
    if has "rootonly-refused" && ! has "root only"; then
        ok "non-root: a root-only file stays unreadable (root is not mapped)"
    else
        ko "non-root: a root-only file stays unreadable" "state=$state"
    fi
    if has "unreachable" && ! has "hello-from-host"; then
        ok "non-root: no network (a loopback server of the host is unreachable)"
    else
        ko "non-root: no network" "state=$state"
    fi
    np=$(sed -n 's/.*procs=\([0-9]*\).*/\1/p' "$work/err")
    if [ "${np:-99}" -le 6 ] && ! has "host-seen"; then
        ok "non-root: the host's processes are invisible ($np in /proc)"
    else
        ko "non-root: the host's processes are invisible" "procs=$np"
    fi
    nrun nrtimeout "$work/timeout.yaml" 90
    sleep 0.5
    if [ "$state" = FAILED ] && [ "$(left)" = 0 ] && has "killed by signal 15"; then
        ok "non-root: a timeout ends the task by its SIGTERM and leaves no process behind"
    else
        ko "non-root: a timeout leaves no process behind" "state=$state left=$(left)"
        pkill -f "$MARK"
    fi
    nrun nroom "$work/oom.yaml"
    if [ "$state" = FAILED ] && has "sandbox: memory.memory needs a delegated cgroup: kite runs as uid $NRU"; then
        ok "non-root: memory.memory without a delegated cgroup fails, saying why (not run unlimited)"
    else
        ko "non-root: memory.memory without a delegated cgroup fails, saying why" "state=$state"
    fi
    nrun nrbomb "$work/bomb.yaml"
    if [ "$state" = FAILED ] && has "sandbox: pidsLimit needs a delegated cgroup" && ! has "made "; then
        ok "non-root: pidsLimit without a delegated cgroup fails, saying why"
    else
        ko "non-root: pidsLimit without a delegated cgroup fails, saying why" "state=$state"
    fi
    # a v1 memory cgroup delegated to kite's user (what systemd's Delegate=yes does on v2)
    mmnt=$(grep -E ' - cgroup [^ ]+ [^ ]*memory' /proc/self/mountinfo | awk '{print $5}' | head -1)
    mpath=$(sed -n 's/^[0-9]*:memory:\(.*\)/\1/p' /proc/self/cgroup)
    if [ -z "$mmnt" ] || [ -z "$mpath" ]; then
        echo "SKIP non-root delegated memory cgroup: no cgroup v1 memory hierarchy here"
    else
        deleg="$mmnt${mpath%/}/kite-e2e-deleg-$$"
        if mkdir "$deleg" 2>/dev/null && chown -R "$NRU:$NRU" "$deleg"; then
            nrun nrdeleg "$work/oom.yaml" 90 "$deleg/cgroup.procs"
            if [ "$state" = FAILED ] && grep -q 'ERROR hog killed: memory limit 64 MiB reached$' "$work/err"; then
                ok "non-root: with a delegated memory cgroup the limit holds ('killed: memory limit 64 MiB reached')"
            else
                ko "non-root: with a delegated memory cgroup the limit holds" "state=$state"
            fi
            for _ in $(seq 1 100); do rmdir "$deleg" 2>/dev/null && break; sleep 0.1; done
        else
            echo "SKIP non-root delegated memory cgroup: cannot make $deleg"
        fi
    fi
fi

# ---- nothing left over ----------------------------------------------------------------------
n=$(find /sys/fs/cgroup -maxdepth 6 -name 'kite-*' -type d 2>/dev/null | wc -l)
if [ "$n" = 0 ] && [ "$(left)" = 0 ]; then
    ok "no cgroup and no process of the runs is left"
else
    ko "no cgroup and no process of the runs is left" "cgroups=$n processes=$(left)"
fi

echo "sandbox: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
