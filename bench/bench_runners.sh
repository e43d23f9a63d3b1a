#!/bin/bash
# bench_runners.sh: what a script task costs on each task runner, next to the
# bare spawns it stands for, measured in the same run (the machine is shared
# and loaded: only figures of one run are compared with each other).
#
#   echo40   a 40-step sequential flow of Shell Commands tasks `echo hi`
#   fibo40   the Windmill workload: 40 sequential Python Script tasks, each
#            computing fibo(10) in a fresh python3 (bench/scripts_fibo40.yaml)
#
# each through `kite run` (start-up included) on the process runner, on the
# sandbox runner (when this kite has runner.sandbox), through bubblewrap doing
# the same isolation (each command wrapped in bwrap, on the process runner;
# the fibo tasks then are shell tasks running python3 -c) and on the Docker runner
# (when an engine answers at $DOCKER_HOST or /var/run/docker.sock, or when
# this script can start a dockerd of its own: root, Debian's docker.io), next
# to 40 bare `sh -c 'echo hi'` and 40 bare `/usr/bin/python3 -c fibo(10)`
# spawns (the interpreter kite's Python tasks run, not a pyenv shim).
# Prints the median of RUNS runs (RUNS_DOCKER for Docker) and the per-task
# ratios: a runner's time per task over a bare spawn's.
#
# The Docker runner's image is made here: an empty root with /bin, /lib and
# /lib64 linked into /usr, and the host's /usr bound read-only (volumes), so
# the container runs the host's own sh and python3 and only the container's
# cost is measured.
set -u
KITE=${KITE:-build/kite}
RUNS=${RUNS:-5}
RUNS_DOCKER=${RUNS_DOCKER:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
DPID=
cleanup() {
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# bubblewrap doing the sandbox's isolation, as a command of the process runner
BW="bwrap --unshare-all --die-with-parent --new-session --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp"
BW="$BW --bind \"\$PWD\" \"\$PWD\" --chdir \"\$PWD\""
FIB='def fibo(n): return n if n < 2 else fibo(n - 1) + fibo(n - 2)
print(fibo(10))'

# flow FILE KIND RUNNER_YAML: 40 sequential tasks of KIND (echo, fibo); the
# runner BWRAP runs each through bwrap on the process runner
flow() {
    local f=$1 kind=$2 runner=$3
    {
        echo "id: bench_$kind"
        echo "namespace: bench.runners"
        echo "tasks:"
        for i in $(seq 1 40); do
            if [ "$runner" = BWRAP ]; then
                echo "  - id: t$i"
                echo "    type: io.kestra.plugin.scripts.shell.Commands"
                echo "    commands:"
                if [ "$kind" = echo ]; then
                    echo "      - $BW /bin/sh -c 'echo hi'"
                else
                    echo "      - |"
                    echo "        $BW /usr/bin/python3 -c '$(echo "$FIB" | head -1)"
                    echo "        $(echo "$FIB" | tail -1)'"
                fi
            elif [ "$kind" = echo ]; then
                echo "  - id: t$i"
                echo "    type: io.kestra.plugin.scripts.shell.Commands"
                [ -n "$runner" ] && printf '%s\n' "$runner"
                echo "    commands:"
                echo "      - echo hi"
            else
                echo "  - id: fibo$i"
                echo "    type: io.kestra.plugin.scripts.python.Script"
                [ -n "$runner" ] && printf '%s\n' "$runner"
                echo "    script: |"
                echo "      def fibo(n):"
                echo "          return n if n < 2 else fibo(n - 1) + fibo(n - 2)"
                echo "      print(fibo(10))"
            fi
        done
    } >"$f"
}

# time_flow FILE: ms of one `kite run` (fresh data folder), or "x" when it failed
time_flow() {
    rm -rf "$work/data"
    local t0 t1
    t0=$(now_ms)
    if "$KITE" run "$1" --data "$work/data" >/dev/null 2>"$work/err" &&
        grep -q 'ended SUCCESS' "$work/err"; then
        t1=$(now_ms)
        echo $((t1 - t0))
    else
        echo x
    fi
}
bare_sh() { local t0; t0=$(now_ms); for _ in $(seq 1 40); do sh -c 'echo hi' >/dev/null; done; echo $(($(now_ms) - t0)); }
bare_py() {
    local t0; t0=$(now_ms)
    for _ in $(seq 1 40); do
        /usr/bin/python3 -c 'def fibo(n): return n if n < 2 else fibo(n - 1) + fibo(n - 2)
print(fibo(10))' >/dev/null
    done
    echo $(($(now_ms) - t0))
}

# ---- the runners -------------------------------------------------------------
runners="process"
R_process=""
if "$KITE" plugins list 2>/dev/null | grep -q 'runner\.sandbox'; then
    runners="$runners sandbox"
    R_sandbox='    taskRunner:
      type: runner.sandbox'
else
    echo "sandbox: not available (this kite has no runner.sandbox)"
fi

if command -v bwrap >/dev/null && bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    runners="$runners bwrap"
    R_bwrap=BWRAP
else
    echo "bwrap: not available (Debian's bubblewrap, with user namespaces)"
fi

docker_note=
if [ -z "${DOCKER_HOST:-}" ] && [ ! -S /var/run/docker.sock ] && [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null &&
    command -v docker >/dev/null; then
    D=$work/dd
    mkdir -p "$D"
    dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none -H "unix://$D/docker.sock" \
        --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/pid" >"$D/log" 2>&1 &
    DPID=$!
    for _ in $(seq 1 300); do
        kill -0 "$DPID" 2>/dev/null || break
        docker -H "unix://$D/docker.sock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    if docker -H "unix://$D/docker.sock" version >/dev/null 2>&1; then
        export DOCKER_HOST="unix://$D/docker.sock"
        docker_note=" (a dockerd started by this benchmark: vfs storage, no bridge)"
    else
        docker_reason="dockerd did not start here"
    fi
fi
dh=${DOCKER_HOST:-unix:///var/run/docker.sock}
if docker -H "$dh" version >/dev/null 2>&1; then
    mkdir -p "$work/root/tmp" "$work/root/etc" "$work/root/proc" "$work/root/sys" "$work/root/dev" "$work/root/usr"
    ln -s usr/bin "$work/root/bin"
    ln -s usr/lib "$work/root/lib"
    [ -d /usr/lib64 ] && ln -s usr/lib64 "$work/root/lib64"
    tar -C "$work/root" -cf "$work/root.tar" .
    if docker -H "$dh" import "$work/root.tar" kite-bench-host:1 >/dev/null 2>&1; then
        runners="$runners docker"
        R_docker='    containerImage: kite-bench-host:1
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
      volumes:
        - /usr:/usr:ro
    env:
      PATH: /usr/bin:/bin'
    else
        echo "docker: not available (docker import failed at $dh)"
    fi
else
    echo "docker: not available (${docker_reason:-no Docker Engine answers at $dh})"
fi

# ---- measure -----------------------------------------------------------------
for r in $runners; do
    v=R_$r
    flow "$work/echo_$r.yaml" echo "${!v}"
    flow "$work/fibo_$r.yaml" fibo "${!v}"
    # one warm-up run (page cache, the image's first container)
    time_flow "$work/echo_$r.yaml" >/dev/null
done
declare -A T
bsh="" bpy=""
for i in $(seq 1 "$RUNS"); do
    bsh="$bsh $(bare_sh)"
    bpy="$bpy $(bare_py)"
    for r in $runners; do
        [ "$r" = docker ] && [ "$i" -gt "$RUNS_DOCKER" ] && continue
        T[echo_$r]="${T[echo_$r]:-} $(time_flow "$work/echo_$r.yaml")"
        T[fibo_$r]="${T[fibo_$r]:-} $(time_flow "$work/fibo_$r.yaml")"
    done
done
msh=$(echo "$bsh" | median)
mpy=$(echo "$bpy" | median)
echo "bench_runners: medians of $RUNS runs ($RUNS_DOCKER for docker$docker_note), 40 tasks each, kite start-up included"
printf '  %-28s %8s ms  %6.2f ms/task\n' "40 bare sh -c echo" "$msh" "$(echo "$msh / 40" | bc -l)"
printf '  %-28s %8s ms  %6.2f ms/task\n' "40 bare python3 fibo(10)" "$mpy" "$(echo "$mpy / 40" | bc -l)"
for r in $runners; do
    for k in echo fibo; do
        vals=${T[${k}_$r]}
        if [[ "$vals" == *x* ]]; then
            printf '  %-28s   failed (see a run by hand: %s)\n' "$k x40 on $r" "$(grep -m1 ERROR "$work/err" | cut -c1-120)"
            continue
        fi
        m=$(echo "$vals" | median)
        base=$msh
        [ $k = fibo ] && base=$mpy
        printf '  %-28s %8s ms  %6.2f ms/task  %5.2fx bare  (+%.2f ms/task)   runs:%s\n' "$k x40 on $r" "$m" \
            "$(echo "$m / 40" | bc -l)" "$(echo "$m / $base" | bc -l)" "$(echo "($m - $base) / 40" | bc -l)" "$vals"
    done
done
