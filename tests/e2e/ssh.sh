#!/bin/bash
# SSH Command tasks end to end through `kite run`, against a real OpenSSH
# sshd the suite starts once on a free loopback port (tests/lib/sshd.sh):
# key and password logins, env, stdout/stderr lines, `::{"outputs":...}::`
# markers and exitCode passed to the next task, a remote failure, a wrong
# key and a wrong password refused, a host key checked against knownHosts
# (accepted, and refused once it changed), a password never in the logs,
# and a command past its timeout ended on the remote side too (its
# processes are gone). One PASS/FAIL line per case.
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
work=$(mktemp -d)
. "$ROOT/tests/lib/sshd.sh"
trap 'sshd_stop; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0
fail=0

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() {
    echo "FAIL $1: $2"
    fail=$((fail + 1))
    [ -f "$work/err" ] && tail -15 "$work/err" | sed 's/^/    /'
}

run() {
    local n=$1 flow=$2 t=${3:-60}
    rm -rf "$work/data-$n"
    timeout "$t" "$KITE" run "$flow" --data "$work/data-$n" >"$work/out" 2>"$work/err"
    rc=$?
    state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
}

if ! sshd_start "$work/sshd"; then
    echo "FAIL sshd_start: the test sshd did not start"
    exit 1
fi

# the connection part of a task, indented for YAML; $1: extra lines
key_block() {
    echo "    privateKey: |"
    sed 's/^/      /' "${1:-$SSHD_KEY}"
}

# ---- key login, env, lines, markers, outputs to the next task ----------------
cat >"$work/key.yaml" <<EOF
id: key
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
$(key_block)
    env:
      WHO: "wörld 'quoted'"
    commands:
      - echo "hello \$WHO"
      - echo "to stderr" >&2
      - echo '::{"outputs":{"rows":42,"name":"ok"}}::'
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "got {{ outputs.remote.vars.rows }} {{ outputs.remote.vars.name }} exit={{ outputs.remote.exitCode }} lines={{ outputs.remote.stdOutLineCount }}"
EOF
run key "$work/key.yaml"
if [ "$state" = SUCCESS ] && grep -q "INFO  remote hello wörld 'quoted'" "$work/err" &&
    grep -q "WARN  remote to stderr" "$work/err" && grep -q "got 42 ok exit=0 lines=2" "$work/err" &&
    ! grep -q '::{' "$work/err"; then
    ok key_login_outputs
else
    ko key_login_outputs "state=$state"
fi

# ---- a remote failure: its exit code decides ------------------------------------
cat >"$work/exit.yaml" <<EOF
id: exitcode
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
$(key_block)
    commands:
      - echo before
      - exit 3
EOF
run exit "$work/exit.yaml"
if [ "$state" = FAILED ] && grep -q "exit status 3" "$work/err" && grep -q "INFO  remote before" "$work/err"; then
    ok remote_exit_code
else
    ko remote_exit_code "state=$state"
fi

# ---- a wrong key is refused -----------------------------------------------------
cat >"$work/wrongkey.yaml" <<EOF
id: wrongkey
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
$(key_block "$SSHD_OTHER_KEY")
    commands:
      - echo should-not-run
EOF
run wrongkey "$work/wrongkey.yaml"
if [ "$state" = FAILED ] && grep -q "the key was refused for user '$SSHD_USER'" "$work/err" &&
    ! grep -q should-not-run "$work/err" && ! grep -q "PRIVATE KEY" "$work/err"; then
    ok wrong_key_refused
else
    ko wrong_key_refused "state=$state"
fi

# ---- host key checking: known key accepted, changed key refused -----------------
other_pub=$(cut -d' ' -f1,2 "$SSHD_OTHER_KEY.pub")
for case in known changed; do
    if [ $case = known ]; then kh=$SSHD_KNOWN; else kh="[127.0.0.1]:$SSHD_PORT $other_pub"; fi
    cat >"$work/hk-$case.yaml" <<EOF
id: hostkey
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
    strictHostKeyChecking: "yes"
    knownHosts: "$kh"
$(key_block)
    commands:
      - echo host-ok
EOF
    run "hk-$case" "$work/hk-$case.yaml"
    if [ $case = known ]; then
        if [ "$state" = SUCCESS ] && grep -q "INFO  remote host-ok" "$work/err"; then
            ok host_key_known_accepted
        else
            ko host_key_known_accepted "state=$state"
        fi
    else
        if [ "$state" = FAILED ] && grep -q "host key changed" "$work/err" && ! grep -q host-ok "$work/err"; then
            ok host_key_changed_refused
        else
            ko host_key_changed_refused "state=$state"
        fi
    fi
done
# the same changed key with checking off (Kestra's default "no") connects
sed -i 's/strictHostKeyChecking: "yes"/strictHostKeyChecking: "no"/' "$work/hk-changed.yaml"
run hk-off "$work/hk-changed.yaml"
if [ "$state" = SUCCESS ]; then ok host_key_unchecked_by_default; else ko host_key_unchecked_by_default "state=$state"; fi

# ---- password login, the password masked; a wrong password refused --------------
if [ -n "$SSHD_PW_USER" ]; then
    cat >"$work/pw.yaml" <<EOF
id: pw
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_PW_USER
    password: "$SSHD_PW"
    commands:
      - cd /tmp
      - echo "user=\$(id -un) pw=$SSHD_PW"
EOF
    run pw "$work/pw.yaml"
    if [ "$state" = SUCCESS ] && grep -q "user=$SSHD_PW_USER pw=\*\*\*\*\*\*" "$work/err" &&
        ! grep -rq "$SSHD_PW" "$work/err" "$work/out"; then
        ok password_login_masked
    else
        ko password_login_masked "state=$state"
    fi
    sed -i "s/password: \"$SSHD_PW\"/password: \"not-the-password\"/" "$work/pw.yaml"
    run pwbad "$work/pw.yaml"
    if [ "$state" = FAILED ] && grep -q "the password was refused for user '$SSHD_PW_USER'" "$work/err"; then
        ok wrong_password_refused
    else
        ko wrong_password_refused "state=$state"
    fi
else
    echo "SKIP password_login: not root, no account with a known password (tests/lib/sshd.sh)"
fi

# ---- a timeout ends the remote command too -----------------------------------------
marker=$work/remote.pids
cat >"$work/timeout.yaml" <<EOF
id: tmo
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    timeout: PT2S
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    authMethod: PUBLIC_KEY
$(key_block)
    commands:
      - sleep 300 &
      - echo "\$\$ \$!" > $marker
      - echo started
      - wait
EOF
start=$(date +%s)
run timeout "$work/timeout.yaml"
took=$(($(date +%s) - start))
alive=""
if [ -s "$marker" ]; then
    for _ in $(seq 1 50); do
        alive=""
        for p in $(cat "$marker"); do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
fi
if [ "$state" = FAILED ] && [ -s "$marker" ] && [ -z "$alive" ] && [ "$took" -lt 30 ] &&
    grep -q "timeout" "$work/err" && grep -q "INFO  remote started" "$work/err"; then
    ok timeout_ends_remote_command
else
    ko timeout_ends_remote_command "state=$state took=${took}s alive:$alive"
fi
for p in $alive; do kill -9 "$p" 2>/dev/null; done

# ---- bad input names the property -------------------------------------------------
cat >"$work/badport.yaml" <<EOF
id: badport
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "22x"
    username: someone
    password: whatever-pw
    commands: [ "true" ]
EOF
run badport "$work/badport.yaml"
if [ "$state" = FAILED ] && grep -q "property 'port': '22x' is not a port number" "$work/err"; then
    ok bad_port_named
else
    ko bad_port_named "state=$state"
fi
cat >"$work/nopw.yaml" <<EOF
id: nopw
namespace: e2e.ssh
tasks:
  - id: remote
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: someone
    commands: [ "true" ]
EOF
run nopw "$work/nopw.yaml"
if [ "$state" = FAILED ] && grep -q "property 'password' is required for authentication method PASSWORD" "$work/err"; then
    ok password_required
else
    ko password_required "state=$state"
fi

# ---- SFTP: upload, uploads, list, download, move, delete, downloads -------------
remote=$work/remote
mkdir -p "$remote"
head -c 20000000 /dev/urandom >"$work/big.bin"
big_sum=$(sha256sum <"$work/big.bin" | cut -d' ' -f1)
conn() { # $1: type; the SFTP connection properties
    cat <<EOF
    type: io.kestra.plugin.fs.sftp.$1
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    keyfile: |
$(sed 's/^/      /' "$SSHD_KEY")
EOF
}
cat >"$work/sftp.yaml" <<EOF
id: sftp
namespace: e2e.ssh
inputs:
  - id: big
    type: FILE
tasks:
  - id: one
    type: io.kestra.plugin.core.storage.Write
    content: "first file"
    extension: .txt
  - id: two
    type: io.kestra.plugin.core.storage.Write
    content: "second file"
    extension: .csv
  - id: up
$(conn Upload)
    from: "{{ outputs.one.uri }}"
    to: "$remote/in/a.txt"
  - id: ups
$(conn Uploads)
    from:
      b.txt: "{{ outputs.one.uri }}"
      c.csv: "{{ outputs.two.uri }}"
    to: "$remote/many"
  - id: upbig
$(conn Upload)
    from: "{{ inputs.big }}"
    to: "$remote/big.bin"
  - id: ls
$(conn List)
    from: "$remote/many"
    regExp: ".*\\\\.txt"
  - id: down
$(conn Download)
    from: "$remote/big.bin"
  - id: mv
$(conn Move)
    from: "$remote/in/a.txt"
    to: "$remote/moved/"
  - id: del
$(conn Delete)
    uri: "$remote/many/b.txt"
  - id: delmissing
$(conn Delete)
    uri: "$remote/many/nothere.txt"
  - id: downs
$(conn Downloads)
    from: "$remote/many"
    action: MOVE
    moveDirectory: "$remote/archive"
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: >-
      up={{ outputs.up.to }} ups={{ outputs.ups.files | length }}
      ls={{ outputs.ls.files | length }}:{{ outputs.ls.files[0].name }}:{{ outputs.ls.files[0].fileType }}:{{ outputs.ls.files[0].size }}
      mv={{ outputs.mv.to }} del={{ outputs.del.deleted }}/{{ outputs.delmissing.deleted }}
      downs={{ outputs.downs.files | length }}:{{ outputs.downs.files[0].name }}
  - id: check
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      big.bin: "{{ outputs.down.to }}"
      c.csv: "{{ outputs.downs.outputFiles['c.csv'] }}"
    commands:
      - echo "sum=\$(sha256sum < big.bin | cut -d' ' -f1) csv=\$(cat c.csv)"
EOF
rm -rf "$work/data-sftp"
timeout 120 "$KITE" run "$work/sftp.yaml" --data "$work/data-sftp" --file big="$work/big.bin" >"$work/out" 2>"$work/err"
state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
if [ "$state" = SUCCESS ] &&
    grep -q "up=sftp://127.0.0.1:$SSHD_PORT$remote/in/a.txt ups=2" "$work/err" &&
    grep -q "ls=1:b.txt:FILE:10" "$work/err" &&
    grep -q "mv=sftp://127.0.0.1:$SSHD_PORT$remote/moved/a.txt del=true/false" "$work/err" &&
    grep -q "downs=1:c.csv" "$work/err" &&
    grep -q "sum=$big_sum csv=second file" "$work/err" &&
    [ "$(cat "$remote/moved/a.txt")" = "first file" ] && [ ! -e "$remote/in/a.txt" ] &&
    [ ! -e "$remote/many/b.txt" ] && [ ! -e "$remote/many/c.csv" ] &&
    [ "$(cat "$remote/archive/c.csv")" = "second file" ] &&
    [ "$(sha256sum <"$remote/big.bin" | cut -d' ' -f1)" = "$big_sum" ]; then
    ok sftp_round_trip
else
    ko sftp_round_trip "state=$state"
fi

# many files, one connection per task: Uploads of 20 files, then Downloads of
# them with DELETE; sshd's log counts the logins
for i in $(seq 1 20); do printf 'file %s\n' "$i" >"$work/many$i.txt"; done
{
    printf 'id: sftpmany\nnamespace: e2e.ssh\ninputs:\n'
    for i in $(seq 1 20); do printf '  - id: f%s\n    type: FILE\n' "$i"; done
    printf 'tasks:\n  - id: ups\n%s\n    maxFiles: 100\n    to: "%s/bulk"\n    from:\n' "$(conn Uploads)" "$remote"
    for i in $(seq 1 20); do printf '      - "{{ inputs.f%s }}"\n' "$i"; done
    printf '  - id: downs\n%s\n    from: "%s/bulk"\n    action: DELETE\n' "$(conn Downloads)" "$remote"
    printf '  - id: report\n    type: io.kestra.plugin.core.log.Log\n'
    printf '    message: "ups={{ outputs.ups.files | length }} downs={{ outputs.downs.files | length }}"\n'
} >"$work/sftp-many.yaml"
args=()
for i in $(seq 1 20); do args+=(--file "f$i=$work/many$i.txt"); done
before=$(grep -c "Accepted publickey" "$SSHD_LOG")
rm -rf "$work/data-many"
timeout 120 "$KITE" run "$work/sftp-many.yaml" --data "$work/data-many" "${args[@]}" >"$work/out" 2>"$work/err"
state=$(sed -n 's/^execution [^ ]* ended \([A-Z]*\).*/\1/p' "$work/err" | tail -1)
logins=$(( $(grep -c "Accepted publickey" "$SSHD_LOG") - before ))
if [ "$state" = SUCCESS ] && grep -q "ups=20 downs=20" "$work/err" && [ "$logins" = 2 ] &&
    [ -z "$(ls -A "$remote/bulk")" ]; then
    ok sftp_many_files_one_connection_per_task
else
    ko sftp_many_files_one_connection_per_task "state=$state logins=$logins (want 2)"
fi

# a missing remote file names it; a wrong key is refused for SFTP too
cat >"$work/sftp-bad.yaml" <<EOF
id: sftpbad
namespace: e2e.ssh
tasks:
  - id: down
$(conn Download)
    from: "$remote/does-not-exist.bin"
EOF
run sftpbad "$work/sftp-bad.yaml"
if [ "$state" = FAILED ] && grep -q "$remote/does-not-exist.bin: cannot be read: no such file" "$work/err"; then
    ok sftp_missing_file_named
else
    ko sftp_missing_file_named "state=$state"
fi
sed -i "s|$SSHD_KEY|$SSHD_OTHER_KEY|" "$work/sftp-bad.yaml"
cat >"$work/sftp-wrongkey.yaml" <<EOF
id: sftpwrong
namespace: e2e.ssh
tasks:
  - id: ls
    type: io.kestra.plugin.fs.ssh.List
    host: 127.0.0.1
    port: "$SSHD_PORT"
    username: $SSHD_USER
    keyfile: |
$(sed 's/^/      /' "$SSHD_OTHER_KEY")
    from: "$remote"
EOF
run sftpwrong "$work/sftp-wrongkey.yaml"
if [ "$state" = FAILED ] && grep -q "the key was refused" "$work/err"; then
    ok sftp_wrong_key_refused
else
    ko sftp_wrong_key_refused "state=$state"
fi

echo "ssh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
