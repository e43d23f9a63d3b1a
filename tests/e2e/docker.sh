#!/bin/bash
# The Docker task runner (taskRunner: io.kestra.plugin.scripts.runner.docker.Docker)
# through `kite run`, in three parts:
#   1. tests/lib/docker_fake.py, a fake Engine API on a Unix socket, is driven
#      by the real `docker` CLI (create, start, logs, wait, cp both ways, rm,
#      pull, image inspect), so the fake is known to speak the real protocol;
#   2. kite against the fake: the create body (Entrypoint, Cmd, Env,
#      WorkingDir, User, HostConfig Memory, NanoCpus, Binds, NetworkMode), the
#      files copied in (PUT archive) and out (GET archive), the log frames and
#      their ::{"outputs"}:: lines, pullPolicy IF_NOT_PRESENT / ALWAYS / NEVER,
#      registry credentials in X-Registry-Auth (the password never in a log),
#      an exit code, a timeout that stops and removes the container,
#      delete: false, an out-of-memory end, the working folder copied out only
#      when outputFiles or a WorkingDirectory reads it, and no engine (process
#      runner);
#   3. a real dockerd started here (vfs storage, no bridge, no iptables) with
#      an image imported from busybox-static: a Shell Commands task with a
#      file in, a file out and an output line, networkMode none, an exit
#      code, a timeout, a memory limit, a WorkingDirectory's file read by the
#      next task; no container left behind.
# Part 3 prints SKIP with the reason when dockerd cannot start.
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
KITE=$(cd "$(dirname "$KITE")" && pwd)/$(basename "$KITE")
work=$(mktemp -d)
FPID=
DPID=
pass=0
fail=0
stop_fake() { [ -n "$FPID" ] && { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; FPID=; }; }
stop_dockerd() {
    [ -n "$DPID" ] || return 0
    kill "$DPID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    DPID=
}
cleanup() {
    stop_fake
    stop_dockerd
    # dockerd's exec root may hold mounts (netns, shm): undo them before removing
    grep " $work/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && tail -12 "$work/err" | sed 's/^/    /'
}
check() { # check NAME COMMAND...
    local n=$1
    shift
    if "$@"; then ok "$n"; else ko "$n" "check failed: $*"; fi
}

# run NAME FLOWFILE [timeout]: stderr in $work/err, JSON in $work/out, the
# final state in $state
run() {
    local n=$1 flow=$2 t=${3:-60}
    rm -rf "$work/data-$n"
    [ -f "$work/fake.log" ] && : >"$work/fake.log" # the fake's requests of this run only
    timeout "$t" "$KITE" run "$flow" --data "$work/data-$n" --json >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}
# out EXPR: a Python expression over the execution d and its first task run t
out() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["taskRunList"][0]; print('"$1"')' "$work/out" 2>/dev/null
}
# file_of NAME: the content of the task's output file NAME
file_of() {
    local f
    f=$(find "$work/data-$1/storage" -type f -name "$2" | head -1)
    [ -n "$f" ] && cat "$f"
}
# req EXPR: a Python expression over the fake's request log (list r)
req() {
    python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print('"$1"')' "$work/fake.log"
}

start_fake() { # start_fake ARGS...
    stop_fake
    rm -f "$work/fake.sock" "$work/fake.log"
    python3 "$ROOT/tests/lib/docker_fake.py" --socket "$work/fake.sock" --log "$work/fake.log" \
        --script "$work/script.json" "$@" 2>>"$work/fake.err" &
    FPID=$!
    for _ in $(seq 1 100); do [ -S "$work/fake.sock" ] && return 0; sleep 0.05; done
    echo "FAIL the fake engine did not start"; cat "$work/fake.err"; exit 1
}
script() { printf '%s\n' "$1" >"$work/script.json"; }

# ---- 1. the fake against the real docker CLI ---------------------------------
script '{"stdout":["cli out"],"stderr":["cli err"],"exit":3}'
start_fake --image busybox:latest
if command -v docker >/dev/null; then
    DH=(docker -H "unix://$work/fake.sock")
    cli_ok=1
    "${DH[@]}" image inspect busybox:latest >/dev/null 2>"$work/cli.err" || cli_ok=0
    id=$("${DH[@]}" create --network none -m 64m --cpus 0.5 -e A=1 -w /tmp -u 1000 \
        -v /data:/data:ro --entrypoint "" busybox:latest sh -c 'echo hi' 2>>"$work/cli.err") || cli_ok=0
    "${DH[@]}" start "$id" >/dev/null 2>>"$work/cli.err" || cli_ok=0
    [ "$("${DH[@]}" logs "$id" 2>&1)" = "cli out
cli err" ] || cli_ok=0
    [ "$("${DH[@]}" wait "$id" 2>>"$work/cli.err")" = 3 ] || cli_ok=0
    printf 'copied in\n' >"$work/cp.txt"
    "${DH[@]}" cp "$work/cp.txt" "$id:/tmp/" 2>>"$work/cli.err" || cli_ok=0
    "${DH[@]}" cp "$id:/tmp/cp.txt" "$work/cp-back.txt" 2>>"$work/cli.err" || cli_ok=0
    [ "$(cat "$work/cp-back.txt" 2>/dev/null)" = "copied in" ] || cli_ok=0
    "${DH[@]}" rm "$id" >/dev/null 2>>"$work/cli.err" || cli_ok=0
    "${DH[@]}" pull alpine:3 >/dev/null 2>>"$work/cli.err" || cli_ok=0
    # the CLI's create body passes the fake's own checks, with the fields kite sends
    [ "$(req '[x["body"]["HostConfig"]["Memory"] for x in r if x["path"]=="/containers/create"][0]')" = 67108864 ] || cli_ok=0
    [ "$(req '[x["body"]["HostConfig"]["NanoCpus"] for x in r if x["path"]=="/containers/create"][0]')" = 500000000 ] || cli_ok=0
    if [ $cli_ok = 1 ]; then
        ok "docker fake: the real docker CLI runs create, start, logs, wait, cp, rm, pull against it"
    else
        ko "docker fake: the real docker CLI runs create, start, logs, wait, cp, rm, pull against it" "$(head -5 "$work/cli.err")"
    fi
else
    echo "SKIP docker fake vs the docker CLI: no docker CLI on this machine"
fi

# ---- 2. kite against the fake ------------------------------------------------
export DOCKER_HOST="unix://$work/fake.sock"
start_fake --image kite-bb:test --registry-user robot --registry-password 's3cr3t-Pa55' --private-prefix registry.local/
cat >"$work/files.yaml" <<'EOF'
id: files
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      networkMode: none
      user: "1000"
      volumes:
        - /srv/data:/data:ro
      memory:
        memory: 64Mb
      cpu:
        cpus: 0.5
    env:
      WHO: kite
    inputFiles:
      in.txt: "from the host"
      conf/deep.txt: "deep"
    outputFiles:
      - out.txt
    commands:
      - cat in.txt > out.txt
      - echo done > $OUTPUT_DIR/o2.txt
EOF
script '{"stdout":["hi from the container","::{\"outputs\":{\"n\":42,\"s\":\"ü\"}}::"],"stderr":["a warning"],"exit":0,"files":{"out.txt":"made in the container","$OUTPUT_DIR/o2.txt":"o2"}}'
run files "$work/files.yaml"
if [ "$state" = WARNING ] && grep -q 'INFO  sh hi from the container' "$work/err" && grep -q 'WARN  sh a warning' "$work/err" &&
    [ "$(out 't["outputs"]["vars"]["n"]')" = 42 ] && [ "$(out 't["outputs"]["vars"]["s"]')" = ü ] &&
    [ "$(out 't["outputs"]["exitCode"]')" = 0 ]; then
    ok "fake: log lines (stdout INFO, stderr WARN) and ::{outputs}:: from the log frames"
else
    ko "fake: log lines (stdout INFO, stderr WARN) and ::{outputs}:: from the log frames" "state=$state"
fi
if [ "$(file_of files out.txt)" = "made in the container" ] && [ "$(file_of files o2.txt)" = o2 ]; then
    ok "fake: outputFiles and OUTPUT_DIR files are copied out of the container (GET archive)"
else
    ko "fake: outputFiles and OUTPUT_DIR files are copied out of the container (GET archive)" "$(out 't["outputs"]')"
fi
body() { req '[x["body"] for x in r if x["path"]=="/containers/create"][-1]'"$1"; }
wd=$(body '["WorkingDir"]')
if [ "$(body '["Image"]')" = kite-bb:test ] && [ "$(body '["Entrypoint"]')" = "['']" ] &&
    [ "$(body '["Cmd"][:2]')" = "['/bin/sh', '-c']" ] && [ "$(body '["Cmd"][2].split(chr(10))[1:]')" = "['cat in.txt > out.txt', 'echo done > \$OUTPUT_DIR/o2.txt']" ] &&
    [ "$(body '["User"]')" = 1000 ] && [ "$(body '["HostConfig"]["Memory"]')" = 67108864 ] &&
    [ "$(body '["HostConfig"]["NanoCpus"]')" = 500000000 ] && [ "$(body '["HostConfig"]["NetworkMode"]')" = none ] &&
    [ "$(body '["HostConfig"]["Binds"]')" = "['/srv/data:/data:ro']" ] &&
    body '["Env"]' | grep -q "'WHO=kite'" && body '["Env"]' | grep -q "'WORKING_DIR=$wd'"; then
    ok "fake: the create body maps the task (Entrypoint, Cmd, Env, WorkingDir, User, Memory, NanoCpus, Binds, NetworkMode)"
else
    ko "fake: the create body maps the task" "$(body '')"
fi
entries=$(req '[x["entries"] for x in r if x.get("entries")][-1]')
if [[ "$entries" == *"${wd#/}/in.txt"* ]] && [[ "$entries" == *"${wd#/}/conf/deep.txt"* ]]; then
    ok "fake: input files are copied into the working folder (PUT archive of a tar kite writes)"
else
    ko "fake: input files are copied into the working folder" "$entries"
fi
seq=$(req '" ".join(x["method"]+x["path"].split("/")[-1] for x in r if x["path"]!="/_ping")' | sed 's/[0-9a-f]\{64\}//g')
if [ "$seq" = "GETjson POSTcreate PUTarchive POSTstart GETlogs POSTwait GETarchive GETarchive DELETE" ]; then
    ok "fake: inspect image, create, copy in, start, follow logs, wait, copy out, remove, in that order"
else
    ko "fake: the call sequence" "$seq"
fi

# pullPolicy
pull_flow() { # pull_flow FILE IMAGE POLICY [credentials yaml]
    cat >"$1" <<EOF
id: pull
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: $2
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: $3
${4:-}
    commands:
      - echo hi
EOF
}
script '{"stdout":["hi"],"exit":0}'
start_fake --image kite-bb:test --registry-user robot --registry-password 's3cr3t-Pa55' --private-prefix registry.local/
pull_flow "$work/p1.yaml" team/app IF_NOT_PRESENT
run p1 "$work/p1.yaml"
if [ "$state" = SUCCESS ] && [ "$(req '[x["query"] for x in r if x["path"]=="/images/create"]')" = "[{'fromImage': 'team/app', 'tag': 'latest'}]" ]; then
    ok "fake: pullPolicy IF_NOT_PRESENT pulls a missing image (tag latest)"
else
    ko "fake: pullPolicy IF_NOT_PRESENT pulls a missing image" "state=$state $(req '[x["query"] for x in r if x["path"]=="/images/create"]')"
fi
run p1b "$work/p1.yaml"
[ "$state" = SUCCESS ] && [ "$(req 'len([x for x in r if x["path"]=="/images/create"])')" = 0 ] &&
    ok "fake: pullPolicy IF_NOT_PRESENT does not pull a present image" ||
    ko "fake: pullPolicy IF_NOT_PRESENT does not pull a present image" "state=$state"
pull_flow "$work/p2.yaml" kite-bb:test ALWAYS
run p2 "$work/p2.yaml"
[ "$state" = SUCCESS ] && [ "$(req '[x["query"] for x in r if x["path"]=="/images/create"][-1]')" = "{'fromImage': 'kite-bb:test'}" ] &&
    ok "fake: pullPolicy ALWAYS pulls a present image" ||
    ko "fake: pullPolicy ALWAYS pulls a present image" "state=$state"
pull_flow "$work/p3.yaml" nothere:1 NEVER
run p3 "$work/p3.yaml"
[ "$state" = FAILED ] && grep -q 'image nothere:1 is not on the Docker Engine at .* and pullPolicy is NEVER' "$work/err" &&
    [ "$(req 'len([x for x in r if x["path"] in ("/images/create","/containers/create")])')" = 0 ] &&
    ok "fake: pullPolicy NEVER fails on a missing image, saying so, and pulls nothing" ||
    ko "fake: pullPolicy NEVER fails on a missing image" "state=$state"

# credentials
export SECRET_REG_PASSWORD=$(printf '%s' 's3cr3t-Pa55' | base64)
pull_flow "$work/c1.yaml" registry.local/team/app:2 IF_NOT_PRESENT "      credentials:
        registry: registry.local
        username: robot
        password: \"{{ secret('REG_PASSWORD') }}\""
run c1 "$work/c1.yaml"
a=$(req '[x.get("auth") for x in r if x["path"]=="/images/create"][-1]')
p_ok=$(req '[x.get("auth_password_ok") for x in r if x["path"]=="/images/create"][-1]')
if [ "$state" = SUCCESS ] && [ "$a" = "{'username': 'robot', 'password': '<set>', 'serveraddress': 'registry.local'}" ] && [ "$p_ok" = True ] &&
    ! grep -rq 's3cr3t-Pa55' "$work/err" "$work/out"; then
    ok "fake: credentials go in X-Registry-Auth (base64url JSON) and the private pull succeeds"
else
    ko "fake: credentials go in X-Registry-Auth" "state=$state auth=$a ok=$p_ok"
fi
export SECRET_REG_BAD=$(printf '%s' 'wrong-Pa55word' | base64)
pull_flow "$work/c2.yaml" registry.local/team/app:3 IF_NOT_PRESENT "      credentials:
        username: robot
        password: \"{{ secret('REG_BAD') }}\""
run c2 "$work/c2.yaml"
if [ "$state" = FAILED ] && grep -q 'pull image registry.local/team/app:3: unauthorized: incorrect username or password' "$work/err" &&
    ! grep -rq 'wrong-Pa55word' "$work/err" "$work/out" && ! grep -rq "$(printf robot:wrong-Pa55word | base64)" "$work/err" "$work/out"; then
    ok "fake: a refused pull fails with the registry's message and never shows the password"
else
    ko "fake: a refused pull fails with the registry's message" "state=$state"
fi
pull_flow "$work/c3.yaml" registry.local/team/app:4 IF_NOT_PRESENT "      credentials:
        auth: $(printf robot:s3cr3t-Pa55 | base64)"
run c3 "$work/c3.yaml"
[ "$state" = SUCCESS ] && ! grep -rq 's3cr3t-Pa55' "$work/err" "$work/out" &&
    ok "fake: credentials.auth (base64 of user:password) authenticates the pull" ||
    ko "fake: credentials.auth authenticates the pull" "state=$state"

# exit code, timeout, delete: false, out of memory
pull_flow "$work/x.yaml" kite-bb:test IF_NOT_PRESENT
script '{"stdout":["before"],"exit":3}'
run x1 "$work/x.yaml"
[ "$state" = FAILED ] && grep -q 'Command failed with code 3' "$work/err" && [ "$(req 'r[-1]["method"]')" = DELETE ] &&
    ok "fake: a non-zero exit code fails the task and the container is removed" ||
    ko "fake: a non-zero exit code fails the task" "state=$state"
# the working folder comes back only when something reads it: not for a task
# without outputFiles (only OUTPUT_DIR is fetched), yes for a task in a
# WorkingDirectory, whose later tasks read the shared folder
script '{"stdout":["hi"],"exit":0,"files":{"left.txt":"not wanted"}}'
run nowork "$work/x.yaml"
gets=$(req '" ".join(x["query"].get("path","").rsplit("/",1)[-1] for x in r if x["method"]=="GET" and x["path"].endswith("/archive"))')
[ "$state" = SUCCESS ] && [ "$gets" = out ] &&
    ok "fake: without outputFiles only the output folder is copied out, not the working folder" ||
    ko "fake: without outputFiles only the output folder is copied out" "state=$state GET archive of: $gets"
cat >"$work/wd.yaml" <<'EOF'
id: wd
namespace: e2e.docker
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: make
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: kite-bb:test
        taskRunner:
          type: io.kestra.plugin.scripts.runner.docker.Docker
        commands:
          - echo made > shared.txt
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - 'echo "::{\"outputs\":{\"got\":\"$(cat shared.txt)\"}}::"'
EOF
script '{"stdout":[],"exit":0,"files":{"shared.txt":"made"}}'
run wd "$work/wd.yaml"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([t for t in d["taskRunList"] if t["taskId"]=="read"][0]["outputs"]["vars"]["got"])' "$work/out" 2>/dev/null)
[ "$state" = SUCCESS ] && [ "$got" = made ] &&
    ok "fake: in a WorkingDirectory the working folder is copied out for the next task to read" ||
    ko "fake: in a WorkingDirectory the working folder is copied out" "state=$state got=$got"
cat >"$work/slow.yaml" <<'EOF'
id: slow
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    commands:
      - sleep 30
EOF
script '{"stdout":["sleeping"],"exit":0,"sleep":30}'
t0=$(date +%s)
run slow "$work/slow.yaml" 40
t1=$(date +%s)
if [ "$state" = FAILED ] && [ $((t1 - t0)) -lt 15 ] && [ "$(req '[x["stopped"] for x in r if "stopped" in x]')" = "['running']" ] &&
    [ "$(req 'len([x for x in r if x["method"]=="DELETE"])')" = 1 ]; then
    ok "fake: a timeout stops the running container and removes it"
else
    ko "fake: a timeout stops the running container and removes it" "state=$state $((t1 - t0)) s $(cut -c1-100 "$work/fake.log")"
fi
cat >"$work/keep.yaml" <<'EOF'
id: keep
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      delete: false
      memory:
        memory: 64m
    commands:
      - echo hi
EOF
script '{"stdout":["hi"],"exit":0}'
run keep "$work/keep.yaml"
[ "$state" = SUCCESS ] && [ "$(req 'len([x for x in r if x["method"]=="DELETE"])')" = 0 ] && grep -q 'kept (delete: false)' "$work/err" &&
    ok "fake: delete: false keeps the container" || ko "fake: delete: false keeps the container" "state=$state"
script '{"stdout":["eating"],"exit":137,"oom":true}'
run oom "$work/keep.yaml"
[ "$state" = FAILED ] && grep -q 'killed: memory limit 64 MiB reached' "$work/err" &&
    ok "fake: a container ended by its memory limit fails with 'killed: memory limit 64 MiB reached'" ||
    ko "fake: the memory limit message" "state=$state"

# a bad property is named
cat >"$work/bad.yaml" <<'EOF'
id: bad
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      memory:
        memory: lots
    commands:
      - echo hi
EOF
run bad "$work/bad.yaml"
[ "$state" = FAILED ] && grep -q "property 'taskRunner.memory.memory': not a size" "$work/err" &&
    ok "fake: a memory size that is not one names the property" || ko "fake: a bad memory size" "state=$state"
stop_fake

# tcp:// (plain HTTP to a remote engine)
rm -f "$work/fake.port"
python3 "$ROOT/tests/lib/docker_fake.py" --port-file "$work/fake.port" --log "$work/fake.log" \
    --script "$work/script.json" --image kite-bb:test 2>>"$work/fake.err" &
FPID=$!
for _ in $(seq 1 100); do [ -s "$work/fake.port" ] && break; sleep 0.05; done
script '{"stdout":["over tcp"],"exit":0,"files":{"out.txt":"tcp file"}}'
DOCKER_HOST="tcp://127.0.0.1:$(cat "$work/fake.port")" run tcp "$work/files.yaml"
[ "$state" = SUCCESS ] && grep -q 'INFO  sh over tcp' "$work/err" && [ "$(file_of tcp out.txt)" = "tcp file" ] &&
    ok "fake: DOCKER_HOST=tcp://host:port reaches an engine over TCP" || ko "fake: DOCKER_HOST=tcp://" "state=$state"
stop_fake

# no engine: the sandbox runner (tests/e2e/sandbox.sh), or where none can be made the
# process runner, with a warning
export DOCKER_HOST="unix://$work/nothing.sock"
run none "$work/x.yaml"
[ "$state" = SUCCESS ] && grep -q 'containerImage kite-bb:test is not used: the sandbox\|no sandbox can be made on this host' "$work/err" &&
    grep -q 'INFO  sh hi' "$work/err" &&
    ok "no engine reachable: the task runs in the sandbox (or on the process runner) with a warning" ||
    ko "no engine reachable: the sandbox or the process runner" "state=$state"

# ---- 3. a real dockerd -------------------------------------------------------
real_skip() { echo "SKIP real dockerd: $1"; echo "($pass passed, $fail failed)"; [ "$fail" -eq 0 ]; exit $?; }
[ "$(id -u)" = 0 ] || real_skip "not root (dockerd needs root here)"
command -v dockerd >/dev/null || real_skip "no dockerd (Debian's docker.io) installed"
command -v docker >/dev/null || real_skip "no docker CLI to import the image"
bb=$(command -v busybox)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' || real_skip "no static busybox (busybox-static)"
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
docker -H "unix://$D/docker.sock" version >/dev/null 2>&1 ||
    real_skip "dockerd did not start: $(grep -m1 -iE 'level=(fatal|error)' "$D/log" | cut -c1-200)"
DK=(docker -H "unix://$D/docker.sock")
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
cp "$bb" "$work/rootfs/bin/busybox"
for a in sh echo cat ls mkdir printf sleep env head tr sed wc id true false; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/bb.tar" .
"${DK[@]}" import "$work/bb.tar" kite-bb:test >/dev/null || real_skip "docker import failed"
export DOCKER_HOST="unix://$D/docker.sock"

cat >"$work/real.yaml" <<'EOF'
id: real
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
      networkMode: none
      memory:
        memory: 64Mb
      cpu:
        cpus: 1
    env:
      WHO: kite
    inputFiles:
      in.txt: "from the host"
    outputFiles:
      - out.txt
    commands:
      - echo "hello $WHO"
      - sed 's/host/container/' in.txt > out.txt
      - echo "::{\"outputs\":{\"nets\":\"$(ls /sys/class/net | tr '\n' ' ')\",\"pid1\":\"$(cat /proc/1/comm)\"}}::"
      - echo to-out > $OUTPUT_DIR/o2.txt
EOF
run real "$work/real.yaml"
if [ "$state" = SUCCESS ] && grep -q 'INFO  sh hello kite' "$work/err" && [ "$(file_of real out.txt)" = "from the container" ] &&
    [ "$(file_of real o2.txt)" = to-out ]; then
    ok "dockerd: a Shell Commands task runs in a container: a file in, a file out, OUTPUT_DIR"
else
    ko "dockerd: a Shell Commands task runs in a container" "state=$state"
fi
[ "$(out 't["outputs"]["vars"]["nets"]')" = "lo " ] && [ "$(out 't["outputs"]["vars"]["pid1"]')" = sh ] &&
    ok "dockerd: the output line is read; networkMode none leaves only lo; the script is the container's pid 1" ||
    ko "dockerd: the output line, networkMode none" "$(out 't["outputs"]')"
[ -z "$("${DK[@]}" ps -aq)" ] && ok "dockerd: the container is removed after the run" ||
    ko "dockerd: the container is removed" "$("${DK[@]}" ps -a)"

sed -e 's/      - echo "hello $WHO"/      - exit 7/' "$work/real.yaml" >"$work/real7.yaml"
run real7 "$work/real7.yaml"
[ "$state" = FAILED ] && grep -q 'Command failed with code 7' "$work/err" && [ "$(out 't["outputs"]["exitCode"]')" = 7 ] &&
    ok "dockerd: the container's exit code fails the task" || ko "dockerd: the container's exit code" "state=$state"

sed -e 's/^    timeout: PT1S/    timeout: PT2S/' -e 's/- sleep 30/- sleep 60/' "$work/slow.yaml" >"$work/rslow.yaml"
t0=$(date +%s)
run rslow "$work/rslow.yaml" 60
t1=$(date +%s)
[ "$state" = FAILED ] && [ $((t1 - t0)) -lt 30 ] && [ -z "$("${DK[@]}" ps -aq)" ] &&
    ok "dockerd: a timeout ends the container and leaves none behind" ||
    ko "dockerd: a timeout ends the container" "state=$state $((t1 - t0)) s $("${DK[@]}" ps -a | tail -n +2)"

cat >"$work/rmem.yaml" <<'EOF'
id: rmem
namespace: e2e.docker
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: kite-bb:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      memory:
        memory: 16Mb
        memorySwap: 16Mb
    commands:
      - x=$(head -c 200000000 /dev/zero | tr '\0' a); echo ${#x}
EOF
run rmem "$work/rmem.yaml" 60
if [ "$state" = FAILED ] && grep -q 'killed: memory limit 16 MiB reached' "$work/err"; then
    ok "dockerd: a container over its memory limit fails with 'killed: memory limit 16 MiB reached'"
else
    ko "dockerd: the memory limit" "state=$state"
fi
run rwd "$work/wd.yaml"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([t for t in d["taskRunList"] if t["taskId"]=="read"][0]["outputs"]["vars"]["got"])' "$work/out" 2>/dev/null)
[ "$state" = SUCCESS ] && [ "$got" = made ] &&
    ok "dockerd: a container's file in a WorkingDirectory is read by the next task on the host" ||
    ko "dockerd: a WorkingDirectory shared with a container" "state=$state got=$got"
echo "($pass passed, $fail failed)"
[ "$fail" -eq 0 ]
