#!/bin/bash
# Git end to end: bare repositories over file:// and over SSH to the test
# sshd (tests/lib/sshd.sh). io.kestra.plugin.git.Clone into a
# WorkingDirectory; io.kestra.plugin.git.SyncFlows into a namespace with
# child namespaces (a bad flow file reported with file:line:col and skipped,
# the task WARNING, the others stored); `kite flow sync` from a folder and
# from a Git URL into a store a running server uses (the server sees the new
# revision, --dry-run changes nothing, --delete removes what the folder no
# longer has). One PASS/FAIL line per case.
set -u
ROOT=${ROOT:-$PWD}
. "$ROOT/tests/e2e/server_lib.bash"
. "$ROOT/tests/lib/sshd.sh"
trap 'sshd_stop; [ -n "${KEEP:-}" ] || cleanup' EXIT
export GIT_AUTHOR_NAME=kite GIT_AUTHOR_EMAIL=kite@example.com GIT_COMMITTER_NAME=kite GIT_COMMITTER_EMAIL=kite@example.com

check() { # check NAME 'CONDITION' (a shell condition, evaluated)
    local n=$1
    shift
    if eval "$1"; then
        echo "PASS $n"
        pass=$((pass + 1))
    else
        echo "FAIL $n"
        fail=$((fail + 1))
        [ -f "$work/err" ] && tail -12 "$work/err" | sed 's/^/    /'
    fi
}

state_of() { sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$1" | tail -1; }

# ---- a repository: three good flows (one in a subfolder), one bad -------------
git init -q --bare -b main "$work/repo.git"
git clone -q "$work/repo.git" "$work/src" 2>/dev/null
mkdir -p "$work/src/_flows/marketing"
cat >"$work/src/_flows/hello.yml" <<'EOF'
id: hello
namespace: dev
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello from git
EOF
cat >"$work/src/_flows/other.yml" <<'EOF'
id: other
namespace: dev
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: other
EOF
cat >"$work/src/_flows/marketing/crm.yml" <<'EOF'
id: crm
namespace: dev.marketing
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: crm
EOF
cat >"$work/src/_flows/broken.yml" <<'EOF'
id: broken
namespace: dev
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Lgo
    message: typo in the type
EOF
echo "readme" >"$work/src/README.md"
(cd "$work/src" && git add -A && git commit -qm first && git push -q origin main 2>/dev/null)

# ---- Clone into a WorkingDirectory ----------------------------------------------
cat >"$work/clone.yaml" <<EOF
id: clone
namespace: e2e.git
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: file://$work/repo.git
        branch: main
      - id: ls
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat README.md
          - ls _flows | tr '\n' ' '; echo
EOF
timeout 60 "$KITE" run "$work/clone.yaml" --data "$work/d-clone" >"$work/out" 2>"$work/err"
check clone_file_url '[ "$(state_of "$work/err")" = SUCCESS ] && grep -q "INFO  ls readme" "$work/err" && grep -q "broken.yml hello.yml marketing other.yml" "$work/err"'

# ---- Clone with cloneSubmodules: nested, relative URLs; the SSRF guard ------------
for r in deep sub super; do git init -q --bare -b main "$work/$r.git"; done
git clone -q "$work/deep.git" "$work/w-deep" 2>/dev/null
(cd "$work/w-deep" && echo deep >deep.txt && git add -A && git commit -qm d && git push -q origin main 2>/dev/null)
git clone -q "$work/sub.git" "$work/w-sub" 2>/dev/null
(cd "$work/w-sub" && echo sub >sub.txt && git -c protocol.file.allow=always submodule -q add ../deep.git inner &&
    git add -A && git commit -qm s && git push -q origin main 2>/dev/null)
git clone -q "$work/super.git" "$work/w-super" 2>/dev/null
(cd "$work/w-super" && echo top >top.txt && git -c protocol.file.allow=always submodule -q add ../sub.git libs/sub &&
    git add -A && git commit -qm t && git push -q origin main 2>/dev/null)
# subclone NAME true|false [kite run args]: a Clone of super.git, then the
# three files' contents logged as "files ..."
subclone() {
    cat >"$work/sub-$1.yaml" <<EOF
id: subclone
namespace: e2e.git
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: file://$work/super.git
        branch: main
        cloneSubmodules: $2
      - id: ls
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "files \$(cat top.txt libs/sub/sub.txt libs/sub/inner/deep.txt 2>/dev/null | tr '\n' ' ')"
EOF
    local n=$1
    shift 2
    timeout 60 "$KITE" run "$work/sub-$n.yaml" --data "$work/d-sub-$n" "$@" >"$work/out" 2>"$work/err"
}
subclone on true
check clone_submodules_recursive '[ "$(state_of "$work/err")" = SUCCESS ] && grep -q "files top sub deep" "$work/err" && grep -q "2 submodules cloned" "$work/err"'
subclone off false
check clone_without_submodules '[ "$(state_of "$work/err")" = SUCCESS ] && grep -q "files top $" "$work/err"'
# a submodule whose URL is a loopback server, with the SSRF guard on
(cd "$work/w-super" && git config -f .gitmodules submodule.libs/sub.url http://127.0.0.1:9/sub.git &&
    git commit -qam "to loopback" && git push -q origin main 2>/dev/null)
printf 'security:\n  ssrf:\n    enabled: true\n' >"$work/ssrf.yml"
subclone ssrf true --config "$work/ssrf.yml"
check clone_submodule_ssrf_refused '[ "$(state_of "$work/err")" = FAILED ] && grep -q "submodule .libs/sub.: git http://127.0.0.1:9/sub.git: security.ssrf: 127.0.0.1 is in the denied range" "$work/err"'

# ---- SyncFlows: child namespaces, a bad file skipped, WARNING --------------------
cat >"$work/sync.yaml" <<EOF
id: sync
namespace: system
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: file://$work/repo.git
    branch: main
    targetNamespace: prod
    includeChildNamespaces: true
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "added={{ outputs.sync.added | join(',') }} invalid={{ outputs.sync.invalid | join(',') }}"
EOF
DATA=$work/d-sync
timeout 60 "$KITE" run "$work/sync.yaml" --data "$DATA" >"$work/out" 2>"$work/err"
check syncflows_bad_file_skipped '[ "$(state_of "$work/err")" = WARNING ] && grep -q "_flows/broken.yml:5:11: .*Lgo" "$work/err" && grep -q "added=prod.hello,prod.marketing.crm,prod.other invalid=_flows/broken.yml" "$work/err"'
# the same repository again through the CLI, dry run: nothing would change
"$KITE" flow sync "file://$work/repo.git" --namespace prod --include-child-namespaces --dry-run --data "$DATA" \
    >"$work/out" 2>"$work/err"
check flow_sync_dry_run_unchanged 'grep -q "dry run: 0 added, 0 updated, 0 deleted, 3 unchanged, 1 invalid" "$work/out"'

# ---- kite flow sync into a store a running server uses ----------------------------
DATA=$work/d-server
mkdir -p "$DATA" "$work/folder"
cp "$work/src/_flows/hello.yml" "$work/src/_flows/other.yml" "$work/folder/"
"$KITE" flow sync "$work/folder" --namespace team --data "$DATA" >"$work/out" 2>"$work/err"
check flow_sync_folder 'grep -q "2 added, 0 updated, 0 deleted, 0 unchanged, 0 invalid" "$work/out"'
start_server "$work/server.err" --data "$DATA"
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/flows/team/hello")
check server_sees_synced_flow '[ "$code" = 200 ] && grep -q '\''"namespace": *"team"'\'' "$work/body"'
sed -i 's/hello from git/hello again/' "$work/folder/hello.yml"
rm "$work/folder/other.yml"
"$KITE" flow sync "$work/folder" --namespace team --delete --data "$DATA" >"$work/out" 2>"$work/err"
check flow_sync_update_delete 'grep -q "0 added, 1 updated, 1 deleted, 0 unchanged, 0 invalid" "$work/out"'
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/flows/team/hello?source=true")
check server_sees_new_revision '[ "$code" = 200 ] && grep -q '\''hello again'\'' "$work/body" && grep -q '\''"revision": *2'\'' "$work/body"'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/flows/team/other")
check server_sees_deletion '[ "$code" = 404 ]'
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=

# ---- GitOps: server.gitSync syncs the repository on an interval ---------------------
cat >"$work/kite.yml" <<EOF
data: $work/d-gitops
server:
  gitSync:
    url: file://$work/repo.git
    branch: main
    namespace: ops
    includeChildNamespaces: true
    interval: PT1S
EOF
start_server "$work/gitops.err" --config "$work/kite.yml"
code=$(curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/flows/ops.marketing/crm")
check gitops_synced_at_start '[ "$code" = 200 ] && grep -q "git sync: warning: _flows/broken.yml:5:11:" "$work/gitops.err"'
sed -i 's/message: other/message: other changed/' "$work/src/_flows/other.yml"
(cd "$work/src" && git commit -qam second && git push -q origin main 2>/dev/null)
seen=""
for _ in $(seq 1 100); do
    curl -s -o "$work/body" -H "Authorization: Bearer $TOKEN" "$BASE/flows/ops/other?source=true"
    if grep -q "other changed" "$work/body"; then seen=1; break; fi
    sleep 0.1
done
check gitops_follows_a_push '[ -n "$seen" ] && grep -q '\''"revision": *2'\'' "$work/body"'
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=

# ---- over SSH to the test sshd --------------------------------------------------
if sshd_start "$work/sshd"; then
    url="ssh://$SSHD_USER@127.0.0.1:$SSHD_PORT$work/repo.git"
    cat >"$work/sync-ssh.yaml" <<EOF
id: syncssh
namespace: system
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: "$url"
    targetNamespace: ssh
    privateKey: |
$(sed 's/^/      /' "$SSHD_KEY")
EOF
    timeout 60 "$KITE" run "$work/sync-ssh.yaml" --data "$work/d-ssh" >"$work/out" 2>"$work/err"
    check syncflows_over_ssh '[ "$(state_of "$work/err")" = WARNING ] && grep -q "2 added, 0 updated" "$work/err" && ! grep -q "PRIVATE KEY" "$work/err"'
    KITE_GIT_KEY_FILE=$SSHD_OTHER_KEY "$KITE" flow sync "$url" --namespace ssh --data "$work/d-ssh" >"$work/out" 2>"$work/err"
    src=$?
    check git_ssh_wrong_key_refused '[ $src -ne 0 ] && grep -q "authentication failed" "$work/err"'
    # $KITE_GIT_KNOWN_HOSTS: the host key checked by kite flow sync (and server.gitSync)
    ssh-keygen -q -t ed25519 -N "" -f "$work/otherhost" >/dev/null
    printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$work/otherhost.pub")" >"$work/kh-changed"
    printf '%s\n' "$SSHD_KNOWN" >"$work/kh-good"
    KITE_GIT_KNOWN_HOSTS=$work/kh-changed KITE_GIT_KEY_FILE=$SSHD_KEY "$KITE" flow sync "$url" --namespace khc \
        --data "$work/d-ssh" >"$work/out" 2>"$work/err"
    src=$?
    check git_flow_sync_changed_host_key_refused \
        '[ $src -ne 0 ] && grep -q "the host key changed (now SHA256:[^ ]*): refused, it does not match the known hosts given (\$KITE_GIT_KNOWN_HOSTS)" "$work/err"'
    KITE_GIT_KNOWN_HOSTS=$work/kh-good KITE_GIT_KEY_FILE=$SSHD_KEY "$KITE" flow sync "$url" --namespace khg \
        --data "$work/d-ssh" >"$work/out" 2>"$work/err"
    src=$?
    check git_flow_sync_known_host_key_accepted '! grep -q "host key" "$work/err" && grep -q "^add khg\." "$work/out"'
else
    echo "FAIL sshd_start: the test sshd did not start"
    fail=$((fail + 1))
fi

echo "git: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
