/*
 * ssh.c: the SSH family: ssh.command (io.kestra.plugin.fs.ssh.Command), a
 * list of shell commands run on a remote host over one SSH connection, and
 * the connection code the SFTP tasks share (ssh_int.h, sftp.c).
 *
 * A Command task connects (libssh), checks the host key when
 * strictHostKeyChecking asks for it, logs in with a password, a private
 * key given as text, or the local OpenSSH configuration, and runs its
 * commands joined by newlines as one `exec` request: the remote login shell
 * reads them as one script, as Kestra's JSch channel does. `env` becomes
 * `export NAME='value'` lines before the commands (an sshd accepts
 * environment requests only for the names of its AcceptEnv, so a request
 * would be dropped silently). stdout and stderr are cut into lines by
 * util/proc.h's proc_lines and read by the script marker reader
 * (script_io.c): `::{"outputs":...}::` lines become outputs (`vars`),
 * others log lines (stdout INFO, stderr WARN), exactly as for a local
 * script. The remote exit code decides the state; it is the output
 * `exitCode` either way.
 *
 * DESIGN
 * The loop reads both streams without blocking and waits at most 50 ms on
 * the channel between reads, so the cancel flag and the task's deadline
 * are seen in time. A kill or a timeout sends the SSH `signal` request
 * (TERM, then KILL after a grace of 2 s): OpenSSH's sshd delivers it with
 * killpg() to the session's process group, so the remote shell and the
 * commands it started end, not only the connection. The channel is closed
 * after that; an sshd that ignores signal requests still sees the channel
 * close, which closes the command's pipes.
 */
#include "tasks/ssh_int.h"
#include "util/netguard.h"

#include "expr/expr.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libssh/callbacks.h>

/* ---- the connection (shared with sftp.c) ------------------------------------------------ */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    ssh_init();
}

void tasks__ssh_close(ssh_session s)
{
    if (!s)
        return;
    ssh_disconnect(s);
    ssh_free(s);
}

/* "SHA256:..." of the server's host key, or a copy of "?" */
static char *host_fingerprint(ssh_session s)
{
    ssh_key k = NULL;
    unsigned char *h = NULL;
    size_t hl = 0;
    char *out = NULL;
    if (ssh_get_server_publickey(s, &k) == SSH_OK &&
        ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &h, &hl) == 0) {
        char *f = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, h, hl);
        if (f) {
            out = xstrdup(f);
            ssh_string_free_char(f);
        }
    }
    if (h)
        ssh_clean_pubkey_hash(&h);
    ssh_key_free(k);
    return out ? out : xstrdup("?");
}

/* Checks the server's host key against the known hosts set on s. */
static int check_host_key(ssh_session s, const char *where, const char *kh_what, kerr *e)
{
    enum ssh_known_hosts_e st = ssh_session_is_known_server(s);
    if (st == SSH_KNOWN_HOSTS_OK)
        return 0;
    char *fp = host_fingerprint(s);
    int rc;
    switch (st) {
    case SSH_KNOWN_HOSTS_CHANGED:
        rc = kerr_set(e, "%s: the host key changed (now %s): refused, it does not match %s (strictHostKeyChecking)",
                      where, fp, kh_what);
        break;
    case SSH_KNOWN_HOSTS_OTHER:
        rc = kerr_set(e, "%s: the host key (%s) is of another type than the one in %s: refused (strictHostKeyChecking)",
                      where, fp, kh_what);
        break;
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
        rc = kerr_set(e, "%s: the host key %s is not in %s: refused (strictHostKeyChecking)", where, fp, kh_what);
        break;
    default:
        rc = kerr_set(e, "%s: the host key cannot be checked against %s: %s", where, kh_what, ssh_get_error(s));
        break;
    }
    free(fp);
    return rc;
}

static int auth_key(ssh_session s, const char *where, const char *user, const char *key_prop, const char *key,
                    const char *pass, kerr *e)
{
    ssh_key k = NULL;
    if (ssh_pki_import_privkey_base64(key, pass && *pass ? pass : NULL, NULL, NULL, &k) != SSH_OK)
        return kerr_set(e, "property '%s' is not a private key kite can read (OpenSSH or PEM text), or its "
                           "passphrase is wrong",
                        key_prop);
    int rc = ssh_userauth_publickey(s, NULL, k);
    ssh_key_free(k);
    if (rc == SSH_AUTH_SUCCESS)
        return 0;
    if (rc == SSH_AUTH_ERROR)
        return kerr_set(e, "%s: authentication failed: %s", where, ssh_get_error(s));
    return kerr_set(e, "%s: the key was refused for user '%s'", where, user ? user : "?");
}

static int auth_password(ssh_session s, const char *where, const char *user, const char *pw, kerr *e)
{
    int rc = ssh_userauth_password(s, NULL, pw);
    if (rc == SSH_AUTH_SUCCESS)
        return 0;
    if (rc == SSH_AUTH_ERROR)
        return kerr_set(e, "%s: authentication failed: %s", where, ssh_get_error(s));
    return kerr_set(e, "%s: the password was refused for user '%s'", where, user ? user : "?");
}

ssh_session tasks__ssh_open(task_ctx *c, const char *key_prop, const char *pass_prop, const char *method, kerr *e)
{
    const char *why = dl_ssh_load();
    if (why) {
        kerr_setc(e, KERR_UNAVAILABLE, "%s", why);
        return NULL;
    }
    pthread_once(&lib_once, lib_init);
    char *host = NULL, *port = NULL, *user = NULL, *pw = NULL, *key = NULL, *pass = NULL;
    char *strict = NULL, *kh = NULL, *proxy = NULL, *cfg = NULL, *kh_path = NULL;
    char where[300];
    int rsa1 = 0;
    ssh_session s = NULL;
    int ok = 0;
    if (tasks__prop_text(c, "host", NULL, &host, e) || tasks__prop_text(c, "port", "22", &port, e) ||
        tasks__prop_text(c, "username", NULL, &user, e) || tasks__prop_text(c, "password", NULL, &pw, e) ||
        tasks__prop_text(c, key_prop, NULL, &key, e) || tasks__prop_text(c, pass_prop, NULL, &pass, e) ||
        tasks__prop_text(c, "strictHostKeyChecking", "no", &strict, e) ||
        tasks__prop_text(c, "knownHosts", NULL, &kh, e) || tasks__prop_text(c, "proxyCommand", NULL, &proxy, e))
        goto out;
    task_secret(c, pw);
    task_secret(c, key);
    task_secret(c, pass);
    if (json_object_get(c->task, "enableSshRsa1") && task_prop_bool(c, "enableSshRsa1", 0, &rsa1, e))
        goto out;
    if (!host || !*host) {
        kerr_set(e, "property 'host' is required");
        goto out;
    }
    char *end;
    errno = 0;
    long portn = strtol(port, &end, 10);
    if (!*port || *end || errno || portn < 1 || portn > 65535) {
        kerr_set(e, "property 'port': '%s' is not a port number (1 to 65535)", port);
        goto out;
    }
    snprintf(where, sizeof where, "ssh %s@%s:%ld", user && *user ? user : "(local user)", host, portn);
    int check = 0;
    if (!strcasecmp(strict, "yes") || !strcasecmp(strict, "ask") || !strcasecmp(strict, "true"))
        check = 1;
    else if (strcasecmp(strict, "no") && strcasecmp(strict, "false") && *strict) {
        kerr_set(e, "property 'strictHostKeyChecking': '%s' is not one of yes, ask, no", strict);
        goto out;
    }
    if (!method)
        method = key && *key ? "PUBLIC_KEY" : "PASSWORD";
    int open_ssh = !strcmp(method, "OPEN_SSH");
    if (!strcmp(method, "PASSWORD") && (!pw || !*pw)) {
        kerr_set(e, "property 'password' is required for authentication method PASSWORD");
        goto out;
    }
    if (!strcmp(method, "PUBLIC_KEY") && (!key || !*key)) {
        kerr_set(e, "property '%s' is required for authentication method PUBLIC_KEY", key_prop);
        goto out;
    }
    if (open_ssh && (tasks__prop_text(c, "openSSHConfigPath", NULL, &cfg, e) ||
                     (!cfg && tasks__prop_text(c, "openSSHConfigDir", NULL, &cfg, e))))
        goto out;

    s = ssh_new();
    if (!s) {
        kerr_set(e, "%s: cannot create an SSH session", where);
        goto out;
    }
    bool no = false;
    int portv = (int)portn;
    /* the connection timeout: 30 s, or what is left of the task's */
    long tmo = 30;
    if (c->deadline_us) {
        int64_t left = (c->deadline_us - time_mono_us()) / 1000000;
        tmo = left < 1 ? 1 : left < tmo ? (long)left : tmo;
    }
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    if (ssh_options_set(s, SSH_OPTIONS_HOST, host) || ssh_options_set(s, SSH_OPTIONS_PORT, &portv) ||
        (user && *user && ssh_options_set(s, SSH_OPTIONS_USER, user)) || ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &tmo) ||
        (proxy && *proxy && ssh_options_set(s, SSH_OPTIONS_PROXYCOMMAND, proxy))) {
        kerr_set(e, "%s: %s", where, ssh_get_error(s));
        goto out;
    }
    if (rsa1) {
        const char *algs = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
                           "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
        ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, algs);
        ssh_options_set(s, SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, algs);
        task_log(c, LEVEL_INFO, "RSA/SHA1 (ssh-rsa) is enabled: SHA1 is no longer considered secure");
    }
    if (open_ssh && ssh_options_parse_config(s, cfg && *cfg ? cfg : NULL)) {
        kerr_set(e, "%s: cannot read the OpenSSH configuration %s", where, cfg && *cfg ? cfg : "~/.ssh/config");
        goto out;
    }
    const char *kh_what = "~/.ssh/known_hosts";
    if (check && kh && *kh) {
        FILE *f = tasks__tmp_file(c, &kh_path, e);
        if (!f)
            goto out;
        int bad = fputs(kh, f) < 0 || fputc('\n', f) < 0;
        bad |= fclose(f) != 0;
        if (bad) {
            kerr_set(e, "cannot write the known hosts to %s: %s", kh_path, strerror(errno));
            goto out;
        }
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, kh_path);
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
        kh_what = "property 'knownHosts'";
    }
    /* security.ssrf: kite resolves, checks and connects the socket itself, and
     * libssh speaks over it (SSH_OPTIONS_FD, owned by the session from here);
     * the host name stays the session's for known_hosts */
    if (netguard_enabled()) {
        if (proxy && *proxy) {
            kerr_setc(e, KERR_INVALID, "%s: security.ssrf: property 'proxyCommand' runs a command that may connect "
                                       "anywhere, so it is refused while the guard is on", where);
            goto out;
        }
        kerr ge = KERR_INIT;
        int fd = netguard_connect(host, (int)portn, (int)tmo * 1000, &ge);
        if (fd < 0) {
            kerr_setc(e, ge.code, "%s: %s", where, ge.msg);
            goto out;
        }
        ssh_options_set(s, SSH_OPTIONS_FD, &fd);
    }
    if (ssh_connect(s) != SSH_OK) {
        kerr_set(e, "%s: cannot connect: %s", where, ssh_get_error(s));
        goto out;
    }
    if (check && check_host_key(s, where, kh_what, e))
        goto out;
    if (!strcmp(method, "PUBLIC_KEY")) {
        if (auth_key(s, where, user, key_prop, key, pass, e))
            goto out;
    } else if (!strcmp(method, "PASSWORD")) {
        if (auth_password(s, where, user, pw, e))
            goto out;
    } else if (open_ssh) {
        int rc = key && *key ? (auth_key(s, where, user, key_prop, key, pass, NULL) ? SSH_AUTH_DENIED : SSH_AUTH_SUCCESS)
                             : ssh_userauth_publickey_auto(s, NULL, pass && *pass ? pass : NULL);
        if (rc != SSH_AUTH_SUCCESS && !(pw && *pw && !auth_password(s, where, user, pw, NULL))) {
            kerr_set(e, "%s: no key of the OpenSSH configuration nor the password was accepted", where);
            goto out;
        }
    } else {
        kerr_set(e, "property 'authMethod': '%s' is not one of PASSWORD, PUBLIC_KEY, OPEN_SSH", method);
        goto out;
    }
    ok = 1;
out:
    if (kh_path) {
        unlink(kh_path);
        free(kh_path);
    }
    if (!ok) {
        tasks__ssh_close(s);
        s = NULL;
    }
    if (pw)
        explicit_bzero(pw, strlen(pw));
    if (key)
        explicit_bzero(key, strlen(key));
    if (pass)
        explicit_bzero(pass, strlen(pass));
    free(host), free(port), free(user), free(pw), free(key), free(pass);
    free(strict), free(kh), free(proxy), free(cfg);
    return s;
}

/* ---- Command -------------------------------------------------------------------------------- */

/* Appends s single-quoted for a POSIX shell. */
static void shell_quote(buf *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_puts(b, "'\\''");
        else
            buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

static int env_name_ok(const char *n)
{
    if (!*n || !(n[0] == '_' || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z')))
        return 0;
    for (; *n; n++)
        if (!(*n == '_' || (*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9')))
            return 0;
    return 1;
}

/* The first line the remote script writes to stderr: its shell's pid,
 * which is also its process group (sshd starts each session with setsid),
 * read and dropped by the reader. */
#define PGID_TAG "\036kite-pgid "

/* The remote script: the pgid line, env as export lines, then the
 * commands, one a line. */
static int build_script(task_ctx *c, buf *b, kerr *e)
{
    json_t *env = NULL, *cmds = NULL;
    int rc = -1;
    if (task_prop(c, "env", &env, e) || task_prop(c, "commands", &cmds, e))
        goto out;
    if (env && !json_is_object(env)) {
        kerr_set(e, "property 'env' must be a map of names to values");
        goto out;
    }
    buf_puts(b, "printf '\\036kite-pgid %s\\n' \"$$\" >&2\n");
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
        if (!env_name_ok(k)) {
            kerr_set(e, "property 'env': '%s' is not a variable name (letters, digits, '_')", k);
            goto out;
        }
        char *t = json_is_string(v) ? xstrdup(json_string_value(v)) : json_is_null(v) ? xstrdup("") : expr_value_to_text(v);
        buf_printf(b, "export %s=", k);
        shell_quote(b, t);
        buf_putc(b, '\n');
        free(t);
    }
    if (json_is_string(cmds)) {
        json_t *one = json_array();
        json_array_append(one, cmds);
        json_decref(cmds);
        cmds = one;
    }
    if (!json_is_array(cmds) || !json_array_size(cmds)) {
        kerr_set(e, "property 'commands' must be a list of at least one command");
        goto out;
    }
    size_t i;
    json_array_foreach(cmds, i, v) {
        char *t = json_is_string(v) ? xstrdup(json_string_value(v)) : json_is_null(v) ? xstrdup("") : expr_value_to_text(v);
        if (i)
            buf_putc(b, '\n');
        buf_puts(b, t);
        free(t);
    }
    rc = 0;
out:
    json_decref(env);
    json_decref(cmds);
    return rc;
}

#define GRACE_US (2 * 1000000LL)

/* Sends sig to the remote command: the SSH `signal` request, and `kill` of
 * its process group on a second channel of the same connection, because
 * OpenSSH's sshd refuses signal requests on sessions that run without
 * post-authentication privilege separation (root logins). */
static void remote_signal(ssh_session s, ssh_channel ch, long pgid, const char *sig)
{
    ssh_channel_request_send_signal(ch, sig);
    if (pgid <= 1)
        return;
    ssh_channel k = ssh_channel_new(s);
    if (!k)
        return;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "kill -%s -- -%ld 2>/dev/null", sig, pgid);
    if (ssh_channel_open_session(k) == SSH_OK && ssh_channel_request_exec(k, cmd) == SSH_OK) {
        char sink[256];
        int64_t until = time_mono_us() + 1000000;
        while (time_mono_us() < until && !ssh_channel_is_eof(k) &&
               ssh_channel_read_timeout(k, sink, sizeof sink, 0, 100) >= 0)
            ;
    }
    ssh_channel_close(k);
    ssh_channel_free(k);
}

/* Feeds stderr bytes, first taking out the pgid line the script starts
 * with. */
static void feed_stderr(proc_lines *pl, buf *head, int *head_done, long *pgid, const char *d, size_t n)
{
    if (*head_done) {
        proc_lines_feed(pl, PROC_STDERR, d, n);
        return;
    }
    const char *nl = memchr(d, '\n', n);
    size_t take = nl ? (size_t)(nl - d) + 1 : n;
    buf_append(head, d, take);
    const char *h = buf_str(head);
    size_t tl = strlen(PGID_TAG);
    if (head->len >= tl ? memcmp(h, PGID_TAG, tl) != 0 : memcmp(h, PGID_TAG, head->len) != 0) {
        *head_done = 1; /* not ours (a shell that printed first): pass it on */
        proc_lines_feed(pl, PROC_STDERR, h, head->len);
    } else if (nl) {
        *head_done = 1;
        *pgid = strtol(h + tl, NULL, 10);
    } else if (head->len > 64) {
        *head_done = 1;
        proc_lines_feed(pl, PROC_STDERR, h, head->len);
    }
    if (take < n)
        feed_stderr(pl, head, head_done, pgid, d + take, n - take);
}

static task_result command_run(task_ctx *c, kerr *e)
{
    char *method = NULL;
    buf script = BUF_INIT, head = BUF_INIT;
    ssh_session s = NULL;
    ssh_channel ch = NULL;
    proc_lines *pl = NULL;
    tasks__script_out out;
    tasks__script_out_init(&out, c);
    task_result res = TASK_FAILED;
    if (tasks__prop_text(c, "authMethod", "PASSWORD", &method, e) || build_script(c, &script, e))
        goto done;
    for (char *p = method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (strcmp(method, "PASSWORD") && strcmp(method, "PUBLIC_KEY") && strcmp(method, "OPEN_SSH")) {
        kerr_set(e, "property 'authMethod': '%s' is not one of PASSWORD, PUBLIC_KEY, OPEN_SSH", method);
        goto done;
    }
    s = tasks__ssh_open(c, "privateKey", "privateKeyPassphrase", method, e);
    if (!s)
        goto done;
    ch = ssh_channel_new(s);
    if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
        kerr_set(e, "cannot open an SSH session channel: %s", ssh_get_error(s));
        goto done;
    }
    if (ssh_channel_request_exec(ch, buf_str(&script)) != SSH_OK) {
        kerr_set(e, "the SSH server refused to run the commands: %s", ssh_get_error(s));
        goto done;
    }
    ssh_channel_send_eof(ch);
    pl = proc_lines_new(TASKS__SCRIPT_LINE_MAX, 0, 0, tasks__script_out_line, &out);
    char data[32 * 1024];
    int stopping = 0, killed_sent = 0, timed_out = 0, head_done = 0;
    long pgid = 0;
    int64_t stop_at = 0;
    for (;;) {
        if (!stopping && task_cancelled(c)) {
            stopping = 1;
            timed_out = c->deadline_us && time_mono_us() >= c->deadline_us;
            stop_at = time_mono_us();
            remote_signal(s, ch, pgid, "TERM");
        } else if (stopping && !killed_sent && time_mono_us() - stop_at >= GRACE_US) {
            killed_sent = 1;
            remote_signal(s, ch, pgid, "KILL");
        } else if (stopping && time_mono_us() - stop_at >= 2 * GRACE_US) {
            break; /* closing the channel below closes the command's pipes */
        }
        int got = 0;
        for (int err = 0; err <= 1; err++) {
            int n = ssh_channel_read_nonblocking(ch, data, sizeof data, err);
            if (n == SSH_ERROR) {
                kerr_set(e, "the SSH connection broke: %s", ssh_get_error(s));
                goto done;
            }
            if (n > 0) {
                if (err)
                    feed_stderr(pl, &head, &head_done, &pgid, data, (size_t)n);
                else
                    proc_lines_feed(pl, PROC_STDOUT, data, (size_t)n);
                got = 1;
            }
        }
        if (got)
            continue;
        if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
            break;
        if (ssh_channel_poll_timeout(ch, 50, 0) == SSH_ERROR) {
            kerr_set(e, "the SSH connection broke: %s", ssh_get_error(s));
            goto done;
        }
    }
    if (!head_done && head.len && memcmp(buf_str(&head), PGID_TAG, head.len < strlen(PGID_TAG) ? head.len : strlen(PGID_TAG)))
        proc_lines_feed(pl, PROC_STDERR, buf_str(&head), head.len);
    proc_lines_end(pl, PROC_STDOUT);
    proc_lines_end(pl, PROC_STDERR);
    task_output(c, "stdOutLineCount", json_integer((json_int_t)out.stdout_lines));
    task_output(c, "stdErrLineCount", json_integer((json_int_t)out.stderr_lines));
    task_output(c, "vars", json_deep_copy(out.vars));
    if (stopping) {
        if (timed_out) {
            kerr_set(e, "the task's timeout was reached: the remote command was sent %s", killed_sent ? "TERM, then KILL" : "TERM");
            res = TASK_FAILED;
        } else {
            kerr_set(e, "the task was killed: the remote command was sent %s", killed_sent ? "TERM, then KILL" : "TERM");
            res = TASK_KILLED;
        }
        goto done;
    }
    /* libssh 0.10 has no exit-signal reader: -1 means the server sent no
     * exit-status (the command died of a signal, or the server is odd) */
    int code = ssh_channel_get_exit_status(ch);
    if (code < 0) {
        kerr_set(e, "the remote command ended without an exit status (killed by a signal?)");
        goto done;
    }
    task_output(c, "exitCode", json_integer((json_int_t)code));
    if (code != 0) {
        kerr_set(e, "SSH command failed with exit status %d", code);
        goto done;
    }
    res = TASK_SUCCESS;
done:
    if (ch) {
        ssh_channel_close(ch);
        ssh_channel_free(ch);
    }
    tasks__ssh_close(s);
    proc_lines_free(pl);
    tasks__script_out_free(&out);
    buf_free(&script);
    buf_free(&head);
    free(method);
    return res;
}

static const struct task_hooks command_hooks = {.run = command_run};

/* ---- the family's types ---- */

const type_def tasks__ssh[] = {
    {
        .name = "ssh.command",
        .hooks = &command_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.ssh.Command"),
        .desc = "Run shell commands on a remote host over SSH (outputs exitCode, vars, stdOutLineCount, "
                "stdErrLineCount).",
        .props = PROPS(P_SSH_CONN,
                       PENUM("authMethod", 0, "\"PASSWORD\"", ENUMS("PASSWORD", "PUBLIC_KEY", "OPEN_SSH"),
                             "how to log in"),
                       PSTR("privateKey", 0, NULL, "the private key's text (OpenSSH or PEM), for PUBLIC_KEY"),
                       PSTR("privateKeyPassphrase", 0, NULL, "the private key's passphrase"),
                       PSTR("openSSHConfigPath", 0, NULL, "the OpenSSH client configuration for OPEN_SSH"),
                       {.name = "openSSHConfigDir", .type = PT_STRING, .flags = PF_DEPRECATED,
                        .alias_of = "openSSHConfigPath", .desc = "old name of `openSSHConfigPath`"},
                       PSTRL("commands", PF_REQUIRED, NULL, "the commands, run by the remote shell as one script"),
                       PMAP("env", 0, NULL, &tasks__item_any, "environment variables for the commands"),
                       PBOOL("enableSshRsa1", 0, "false", "also accept the RSA/SHA1 (ssh-rsa) algorithm"),
                       {.name = "warningOnStdErr", .type = PT_BOOL, .flags = PF_DEPRECATED,
                        .desc = "not used (as in Kestra): stderr lines are WARN logs"}),
    },
};

const size_t tasks__ssh_count = sizeof tasks__ssh / sizeof tasks__ssh[0];
