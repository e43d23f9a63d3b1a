#!/bin/bash
# Git push tasks end to end against bare repositories over file:// (and
# git daemon on loopback when git-daemon runs here, git-http-backend over
# HTTP with Basic auth (tests/lib/git_http.py), and SSH to the test sshd
# with strictHostKeyChecking: a known, a changed and an unknown host key):
# io.kestra.plugin.git.PushFlows (a new branch in an empty repository, child
# namespaces in subfolders, the author and message given, nothing changed ->
# no commit, delete, dryRun, targetNamespace), PushNamespaceFiles,
# SyncNamespaceFiles (added/updated/deleted/unchanged, delete, dryRun), Push
# (inputFiles on a branch created from main) and a round trip: flows pushed
# by PushFlows come back with SyncFlows. Kestra's outputs commitURL and the
# diff file (flows, files: an ION row per file with its line counts). `git` itself reads what was pushed.
set -u
ROOT=${ROOT:-$PWD}
KITE=${KITE:-build/kite}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0; fail=0
check() {
    if eval "$2"; then echo "PASS $1"; pass=$((pass + 1)); else
        echo "FAIL $1"; fail=$((fail + 1)); tail -8 "$work/err" | sed 's/^/    /'; fi
}
run() { timeout 120 "$KITE" run "$1" --flows "$work/flows" --data "$work/data" >"$work/out" 2>"$work/err"
        state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1); }
G() { git --git-dir="$work/repo.git" "$@"; }

git init -q --bare -b main "$work/repo.git"
U="file://$work/repo.git"
mkdir -p "$work/flows"
cat >"$work/flows/crm.yaml" <<'EOF2'
id: crm
namespace: dev.marketing
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: crm
EOF2
cat >"$work/flows/etl.yaml" <<'EOF2'
id: etl
namespace: dev
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: etl v1
EOF2
cat >"$work/flows/push.yaml" <<EOF2
id: push
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: $U
    branch: main
    includeChildNamespaces: true
    flows: ["etl", "crm"]
    commitMessage: "flows of dev"
    authorName: Ops
    authorEmail: ops@example.com
  - id: again
    type: io.kestra.plugin.git.PushFlows
    url: $U
    branch: main
    includeChildNamespaces: true
    flows: ["etl", "crm"]
  - id: out
    type: io.kestra.plugin.core.log.Log
    message: "pf={{ outputs.pf.commitId }} added={{ outputs.pf.added | join(',') }} again={{ outputs.again.commitId ?? 'none' }} unchanged={{ outputs.again.unchanged | length }}"
EOF2
run "$work/flows/push.yaml"
check "PushFlows: the execution succeeds" '[ "$state" = SUCCESS ]'
check "PushFlows: a new branch main in an empty repository, with the flows in _flows and a child namespace in a subfolder" \
    '[ "$(G ls-tree -r --name-only main | tr "\n" " ")" = "_flows/etl.yml _flows/marketing/crm.yml " ]'
check "PushFlows: the file is the flow's source" 'G show main:_flows/etl.yml | grep -q "message: etl v1"'
check "PushFlows: the commit has the author and the message given" '[ "$(G log -1 --format="%an <%ae> %s" main)" = "Ops <ops@example.com> flows of dev" ]'
sha=$(G rev-parse main)
check "PushFlows: outputs commitId (the pushed commit) and the files added" 'grep -q "pf=$sha added=_flows/etl.yml,_flows/marketing/crm.yml" "$work/err"'
check "PushFlows: nothing changed -> no commit, no push, all unchanged" 'grep -q "again=none unchanged=2" "$work/err" && [ "$(G rev-list --count main)" = 1 ]'

# the flow changes, one is gone: updated, deleted; dryRun first changes nothing
sed -i 's/etl v1/etl v2/' "$work/flows/etl.yaml"
rm "$work/flows/crm.yaml"
rm -rf "$work/data"
cat >"$work/flows/push.yaml" <<EOF2
id: push
namespace: dev
tasks:
  - id: dry
    type: io.kestra.plugin.git.PushFlows
    url: $U
    includeChildNamespaces: true
    flows: ["etl", "crm"]
    dryRun: true
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: $U
    includeChildNamespaces: true
    flows: ["etl", "crm"]
  - id: out
    type: io.kestra.plugin.core.log.Log
    message: "dry={{ outputs.dry.updated | join(',') }}/{{ outputs.dry.deleted | join(',') }} pf={{ outputs.pf.updated | join(',') }}/{{ outputs.pf.deleted | join(',') }}"
  - id: diffs
    type: io.kestra.plugin.core.log.Log
    message: "url={{ outputs.pf.commitURL }} dryurl={{ outputs.dry.commitURL ?? 'none' }} dry:{{ read(outputs.dry.flows) }} pf:{{ read(outputs.pf.flows) }}"
EOF2
run "$work/flows/push.yaml"
sha2=$(G rev-parse main)
check "PushFlows: commitURL is the repository URL + /commit/<commitId> (Kestra's), none on a dry run" \
    'grep -q "url=$U/commit/$sha2 dryurl=none" "$work/err"'
check "PushFlows: the diff file (flows) has Kestra's rows: one changed line, a deleted 6-line flow; on the dry run too" \
    '[ "$(grep -o "{file:\"_flows/etl.yml\",additions:\"+0\",deletions:\"-0\",changes:\"1\"}" "$work/err" | wc -l)" = 2 ] &&
     [ "$(grep -o "{file:\"_flows/marketing/crm.yml\",additions:\"+0\",deletions:\"-6\",changes:\"0\"}" "$work/err" | wc -l)" = 2 ]'

check "PushFlows: dryRun reports and pushes nothing; then updated and deleted" \
    'grep -q "dry=_flows/etl.yml/_flows/marketing/crm.yml pf=_flows/etl.yml/_flows/marketing/crm.yml" "$work/err" && [ "$(G rev-list --count main)" = 2 ]'
check "PushFlows: delete removed the flow that is gone, the default message names the namespace" \
    '[ "$(G ls-tree -r --name-only main | tr "\n" " ")" = "_flows/etl.yml " ] && [ "$(G log -1 --format=%s main)" = "Add flows from dev namespace" ]'
check "PushFlows: the new source was pushed" 'G show main:_flows/etl.yml | grep -q "etl v2"'

# round trip: SyncFlows into another namespace reads back what PushFlows wrote
cat >"$work/flows/sync.yaml" <<EOF2
id: sync
namespace: ops
tasks:
  - id: sf
    type: io.kestra.plugin.git.SyncFlows
    url: $U
    targetNamespace: prod
  - id: run_it
    type: io.kestra.plugin.core.flow.Subflow
    namespace: prod
    flowId: etl
    wait: true
EOF2
run "$work/flows/sync.yaml"
check "round trip: SyncFlows stores the pushed flow in prod and it runs" '[ "$state" = SUCCESS ] && grep -q "etl v2" "$work/err"'

# ---- namespace files: Push then Sync ------------------------------------------
cat >"$work/flows/nsf.yaml" <<EOF2
id: nsf
namespace: dev
tasks:
  - id: w1
    type: io.kestra.plugin.core.storage.Write
    content: "echo one"
  - id: w2
    type: io.kestra.plugin.core.storage.Write
    content: "select 1;"
  - id: up
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: dev
    filesMap:
      /scripts/one.sh: "{{ outputs.w1.uri }}"
      /sql/q.sql: "{{ outputs.w2.uri }}"
  - id: pnf
    type: io.kestra.plugin.git.PushNamespaceFiles
    url: $U
    files: ["scripts/**", "sql/*.sql"]
    gitDirectory: _files
    commitMessage: namespace files
  - id: snf
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: $U
    namespace: qa
    gitDirectory: _files
  - id: snf2
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: $U
    namespace: qa
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "pnfdiff={{ read(outputs.pnf.files) | trim }} pnfurl={{ outputs.pnf.commitURL }} pushed={{ outputs.pnf.added | join(',') }} synced={{ outputs.snf.added | join(',') }} again={{ outputs.snf2.unchanged | length }} content={{ read('kestra:///qa/_files/scripts/one.sh') }}"
EOF2
run "$work/flows/nsf.yaml"
check "PushNamespaceFiles: the matching files are pushed under _files" \
    'G show main:_files/scripts/one.sh | grep -q "echo one" && G show main:_files/sql/q.sql | grep -q "select 1" && [ "$(G log -1 --format=%s main)" = "namespace files" ]'
check "PushNamespaceFiles / SyncNamespaceFiles: outputs name the files" \
    'grep -q "pushed=_files/scripts/one.sh,_files/sql/q.sql synced=/scripts/one.sh,/sql/q.sql again=2 content=echo one" "$work/err"'
check "PushNamespaceFiles: commitURL and the diff file (files), a row per added file" \
    'grep -q "pnfurl=$U/commit/$(G rev-parse main)" "$work/err" && grep -q "{file:\"_files/scripts/one.sh\",additions:\"+1\",deletions:\"-0\",changes:\"0\"}" "$work/err"'
check "PushNamespaceFiles: the flows pushed before stay" 'G ls-tree -r --name-only main | grep -q "_flows/etl.yml"'

# SyncNamespaceFiles with delete and dryRun, a file changed in the repository
git clone -q "$work/repo.git" "$work/wc" 2>/dev/null
( cd "$work/wc" && echo "echo two" >_files/scripts/one.sh && git rm -q _files/sql/q.sql && \
  git -c user.name=t -c user.email=t@x commit -qam "edit" && git push -q origin main ) 2>/dev/null
cat >"$work/flows/nsf2.yaml" <<EOF2
id: nsf2
namespace: dev
tasks:
  - id: dry
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: $U
    namespace: qa
    delete: true
    dryRun: true
  - id: snf
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: $U
    namespace: qa
    delete: true
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "dry={{ outputs.dry.updated | join(',') }}/{{ outputs.dry.deleted | join(',') }} real={{ outputs.snf.updated | join(',') }}/{{ outputs.snf.deleted | join(',') }} now={{ read('kestra:///qa/_files/scripts/one.sh') | trim }} sql={{ fileExists('kestra:///qa/_files/sql/q.sql') }}"
EOF2
run "$work/flows/nsf2.yaml"
check "SyncNamespaceFiles: updated and deleted (dryRun the same, writing nothing), delete removes the file" \
    'grep -q "dry=/scripts/one.sh//sql/q.sql real=/scripts/one.sh//sql/q.sql now=echo two sql=false" "$work/err"'

# ---- Push: inputFiles on a branch created from main ----------------------------
cat >"$work/flows/p.yaml" <<EOF2
id: p
namespace: dev
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: push
        type: io.kestra.plugin.git.Push
        url: $U
        branch: feature/report
        directory: repo
        commitMessage: "add the report"
        authorName: Bot
        authorEmail: bot@example.com
        inputFiles:
          reports/today.md: "# report of {{ flow.id }}"
      - id: ls
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test -f repo/reports/today.md && test -f repo/_flows/etl.yml && echo "clone left in the working directory"
EOF2
run "$work/flows/p.yaml"
check "Push: a new branch from main with the input file, main's files kept" \
    '[ "$(G show feature/report:reports/today.md)" = "# report of p" ] && G show feature/report:_flows/etl.yml >/dev/null 2>&1 && [ "$(G rev-parse feature/report~1)" = "$(G rev-parse main)" ]'
check "Push: the author and message" '[ "$(G log -1 --format="%an <%ae> %s" feature/report)" = "Bot <bot@example.com> add the report" ]'
check "Push: the clone stays in the WorkingDirectory for later tasks" 'grep -q "clone left in the working directory" "$work/err"'

# ---- failures: a repository that does not exist ----------------------------------
cat >"$work/flows/bad.yaml" <<EOF2
id: bad
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: file://$work/nope.git
EOF2
run "$work/flows/bad.yaml"
check "PushFlows: a missing repository fails naming it" '[ "$state" = FAILED ] && grep -q "git clone file://$work/nope.git" "$work/err"'

# ---- over git daemon (git://) on loopback, when git-daemon is installed ----------
if git daemon --help >/dev/null 2>&1 || [ -x /usr/lib/git-core/git-daemon ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$work" --export-all --enable=receive-pack \
        "$work" >"$work/daemon.log" 2>&1 &
    dpid=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    cat >"$work/flows/gd.yaml" <<EOF2
id: gd
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: git://127.0.0.1:$port/repo.git
    branch: daemon
    flows: etl
EOF2
    run "$work/flows/gd.yaml"
    check "PushFlows over git:// (git daemon): the branch arrives" '[ "$state" = SUCCESS ] && G show daemon:_flows/etl.yml | grep -q "etl v2"'
    kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
else
    echo "SKIP git daemon: not installed"
fi

# ---- over HTTP: git-http-backend behind tests/lib/git_http.py (Basic auth) --------
if [ -x /usr/lib/git-core/git-http-backend ]; then
    python3 "$ROOT/tests/lib/git_http.py" --root "$work" --port-file "$work/hport" --user kite-bot \
        --password 'tok/en+1' 2>"$work/http.log" &
    hpid=$!
    for _ in $(seq 1 600); do [ -s "$work/hport" ] && break; sleep 0.05; done
    HU=http://127.0.0.1:$(cat "$work/hport")/repo.git
    mk_http() { # mk_http BRANCH PASSWORD
        cat >"$work/flows/http.yaml" <<EOF2
id: http
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: $HU
    branch: $1
    flows: etl
    username: kite-bot
    password: "$2"
  - id: out
    type: io.kestra.plugin.core.log.Log
    message: "httpurl={{ outputs.pf.commitURL }}"
EOF2
    }
    mk_http over-http 'tok/en+1'
    run "$work/flows/http.yaml"
    check "PushFlows over HTTP (git-http-backend, a token): the branch arrives, commitURL" \
        '[ "$state" = SUCCESS ] && G show over-http:_flows/etl.yml | grep -q "etl v2" &&
         grep -q "httpurl=$HU/commit/$(G rev-parse over-http)" "$work/err" && ! grep -q "tok/en+1" "$work/err" &&
         curl -s "http://127.0.0.1:$(cat "$work/hport")/_stats" | grep -q "pushes=1"'
    mk_http refused 'wrong'
    run "$work/flows/http.yaml"
    check "PushFlows over HTTP: a wrong token fails as an authentication error, nothing pushed" \
        '[ "$state" = FAILED ] && grep -q "authentication failed" "$work/err" && ! G rev-parse -q --verify refused >/dev/null'
    kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null
else
    echo "SKIP git over HTTP: /usr/lib/git-core/git-http-backend is not installed"
fi

# ---- over SSH to the test sshd (tests/lib/sshd.sh), with host key checking -------
. "$ROOT/tests/lib/sshd.sh"
trap 'sshd_stop; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
if sshd_start "$work/sshd"; then
    su="ssh://$SSHD_USER@127.0.0.1:$SSHD_PORT$work/repo.git"
    ssh-keygen -q -t ed25519 -N "" -f "$work/otherhost" >/dev/null
    other="[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$work/otherhost.pub")"
    mk_ssh() { # mk_ssh BRANCH STRICT KNOWN_HOSTS_LINE
        cat >"$work/flows/ssh.yaml" <<EOF2
id: ssh
namespace: dev
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: "$su"
    branch: $1
    flows: etl
    strictHostKeyChecking: "$2"
    knownHosts: "$3"
    privateKey: |
$(sed 's/^/      /' "$SSHD_KEY")
  - id: out
    type: io.kestra.plugin.core.log.Log
    message: "sshurl={{ outputs.pf.commitURL }}"
EOF2
    }
    mk_ssh over-ssh no ""
    run "$work/flows/ssh.yaml"
    check "PushFlows over SSH (the test sshd, a private key): the branch arrives" \
        '[ "$state" = SUCCESS ] && G show over-ssh:_flows/etl.yml | grep -q "etl v2" && ! grep -q "PRIVATE KEY" "$work/err"'
    check "PushFlows over SSH: commitURL drops the user, as Kestra's" \
        'grep -q "sshurl=ssh://127.0.0.1:$SSHD_PORT$work/repo.git/commit/$(G rev-parse over-ssh)" "$work/err"'
    mk_ssh checked yes "$SSHD_KNOWN"
    run "$work/flows/ssh.yaml"
    check "strictHostKeyChecking yes, the host key in knownHosts: pushed" '[ "$state" = SUCCESS ] && G rev-parse -q --verify checked >/dev/null'
    mk_ssh changed yes "$other"
    run "$work/flows/ssh.yaml"
    check "strictHostKeyChecking yes, the host key changed: refused, nothing pushed" \
        '[ "$state" = FAILED ] && grep -q "\[127.0.0.1\]:$SSHD_PORT: the host key changed (now SHA256:" "$work/err" && ! G rev-parse -q --verify changed >/dev/null'
    mk_ssh unknown yes "somewhere.example $(cut -d' ' -f1,2 "$work/otherhost.pub")"
    run "$work/flows/ssh.yaml"
    check "strictHostKeyChecking yes, the host not in knownHosts: refused" \
        '[ "$state" = FAILED ] && grep -q "the host key SHA256:[^ ]* is not in property .knownHosts.: refused" "$work/err"'
    mk_ssh changed no "$other"
    run "$work/flows/ssh.yaml"
    check "strictHostKeyChecking no (the default): the key is not checked" '[ "$state" = SUCCESS ]'
    cat >"$work/flows/sshsync.yaml" <<EOF2
id: sshsync
namespace: ops
tasks:
  - id: sf
    type: io.kestra.plugin.git.SyncFlows
    url: "$su"
    branch: main
    targetNamespace: prod2
    strictHostKeyChecking: "yes"
    knownHosts: "$other"
    privateKey: |
$(sed 's/^/      /' "$SSHD_KEY")
EOF2
    run "$work/flows/sshsync.yaml"
    check "SyncFlows (a clone) refuses a changed host key too" '[ "$state" = FAILED ] && grep -q "the host key changed" "$work/err"'
else
    echo "FAIL sshd_start: the test sshd did not start"
    fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
