# tests/lib/sshd.sh: a real OpenSSH sshd for a test suite, sourced by the
# suites (tests/e2e/ssh.sh, tests/e2e/git.sh) and bench/bench_ssh.sh.
#
# sshd_start DIR starts /usr/sbin/sshd with its own configuration, host key,
# client keys and authorized_keys in DIR (a temporary folder), listening on a
# free loopback port, in the foreground of a background job stopped by pid
# (sshd_stop). It never reads /etc/ssh/sshd_config nor the system host keys.
# It sets:
#   SSHD_PORT, SSHD_PID, SSHD_DIR, SSHD_LOG (sshd's own log, -E)
#   SSHD_USER      the user key logins use: the one running the tests
#   SSHD_KEY       that user's private key file (ed25519, OpenSSH format),
#                  whose public half is in DIR/authorized_keys
#   SSHD_OTHER_KEY a key that is NOT authorized (the wrong-key case)
#   SSHD_HOST_PUB  the host public key, SSHD_KNOWN a known_hosts line for it
#   SSHD_PW_USER, SSHD_PW  a user and password for password logins, or empty
#                  when they cannot be had (see below)
#
# Password logins need an account with a password sshd can check. As root,
# the suite uses a dedicated system account `kitesshtest` (no home, shell
# /bin/sh), created by useradd on first use and given a fixed password with
# chpasswd: nothing else on the machine changes, and `userdel kitesshtest`
# removes it. The config says `UsePAM no`, so sshd checks /etc/shadow itself.
# Not root: password cases are skipped (the suite says so); key logins work
# as the current user, since StrictModes is off for the temp folder.
#
# As root, sshd needs its privilege separation folder /run/sshd (created when
# missing, as the Debian package's unit does).

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

sshd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

sshd_start() {
    SSHD_DIR=$1
    mkdir -p "$SSHD_DIR"
    chmod 755 "$SSHD_DIR"
    SSHD_USER=$(id -un)
    SSHD_LOG=$SSHD_DIR/sshd.log
    ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key" -C kite-test-host || return 1
    ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/client_key" -C kite-test-client || return 1
    ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/other_key" -C kite-test-other || return 1
    cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
    chmod 644 "$SSHD_DIR/authorized_keys"
    SSHD_KEY=$SSHD_DIR/client_key
    SSHD_OTHER_KEY=$SSHD_DIR/other_key
    SSHD_HOST_PUB=$SSHD_DIR/host_key.pub
    SSHD_PW_USER=
    SSHD_PW=
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /run/sshd && chmod 755 /run/sshd
        if ! getent passwd kitesshtest >/dev/null; then
            useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh kitesshtest 2>/dev/null ||
                getent passwd kitesshtest >/dev/null
        fi
        if getent passwd kitesshtest >/dev/null &&
            echo 'kitesshtest:kite-ssh-Test-pw-7' | chpasswd 2>/dev/null; then
            SSHD_PW_USER=kitesshtest
            SSHD_PW=kite-ssh-Test-pw-7
        fi
    fi
    local tries
    for tries in 1 2 3 4 5; do
        SSHD_PORT=$(sshd_free_port)
        SSHD_KNOWN="[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOST_PUB")"
        cat >"$SSHD_DIR/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitEmptyPasswords no
MaxStartups 100:30:200
MaxSessions 100
LoginGraceTime 30
UseDNS no
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
        : >"$SSHD_LOG"
        "$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" -E "$SSHD_LOG" &
        SSHD_PID=$!
        local i
        for i in $(seq 1 100); do
            if grep -q "Server listening" "$SSHD_LOG" 2>/dev/null; then
                return 0
            fi
            kill -0 "$SSHD_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
        grep -q "Address already in use" "$SSHD_LOG" || break
    done
    echo "sshd did not start:" >&2
    cat "$SSHD_LOG" >&2
    return 1
}

sshd_stop() {
    [ -n "${SSHD_PID:-}" ] || return 0
    kill "$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}
