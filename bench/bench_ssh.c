/*
 * bench_ssh.c: SSH Command tasks per second against the test sshd
 * (tests/lib/sshd.sh, started here on a free loopback port), next to bare
 * libssh loops.
 *
 * Prints: N `true` commands with bare libssh, one new connection (connect,
 * key exchange, key login, exec) each; the same N as exec channels of one
 * connection (the floor when a connection is reused); and a flow of N
 * sequential io.kestra.plugin.fs.ssh.Command tasks through `kite run`
 * (one connection per task, as kite does), as commands per second. Then
 * SFTP: N small files in one Uploads task (one connection for all, as
 * kite's SFTP tasks do inside a task) next to N Upload tasks (a connection
 * each). The new-connection loop is split into its phases (TCP connect +
 * key exchange + host key, key login, exec of `true`): what a connection
 * cache across tasks could save is the first two. Figures only, no asserts.
 */
#include <libssh/libssh.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N 30

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int port;
static char user[64], keyfile[512];
static double t_connect, t_auth; /* summed over login() calls */

static ssh_session login(void)
{
    ssh_session s = ssh_new();
    bool no = false;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1");
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_USER, user);
    ssh_key k = NULL;
    double t0 = now_s();
    int bad = ssh_connect(s) != SSH_OK;
    double t1 = now_s();
    bad = bad || ssh_pki_import_privkey_file(keyfile, NULL, NULL, NULL, &k) != SSH_OK ||
          ssh_userauth_publickey(s, NULL, k) != SSH_AUTH_SUCCESS;
    t_connect += t1 - t0;
    t_auth += now_s() - t1;
    if (bad) {
        fprintf(stderr, "bench_ssh: login failed: %s\n", ssh_get_error(s));
        exit(1);
    }
    ssh_key_free(k);
    return s;
}

static void run_true(ssh_session s)
{
    ssh_channel ch = ssh_channel_new(s);
    char b[256];
    if (ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, "true") != SSH_OK) {
        fprintf(stderr, "bench_ssh: exec failed: %s\n", ssh_get_error(s));
        exit(1);
    }
    while (ssh_channel_read(ch, b, sizeof b, 0) > 0)
        ;
    ssh_channel_get_exit_status(ch);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
}

int main(void)
{
    const char *kite = getenv("KITE") ? getenv("KITE") : "build/kite";
    char dir[] = "/tmp/kite-bench-ssh-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char dbuf[600];
    snprintf(dbuf, sizeof dbuf, "%s/kite-bench-ssh-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(tmp && *tmp ? dbuf : dir);
    if (!d)
        return 1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "bash -c '. tests/lib/sshd.sh && sshd_start %s/sshd >/dev/null 2>&1 && "
             "echo \"$SSHD_PORT $SSHD_USER $SSHD_KEY $SSHD_PID\"'",
             d);
    FILE *p = popen(cmd, "r");
    int pid = 0;
    if (!p || fscanf(p, "%d %63s %511s %d", &port, user, keyfile, &pid) != 4) {
        fprintf(stderr, "bench_ssh: the test sshd did not start\n");
        return 1;
    }
    pclose(p);
    ssh_init();

    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        ssh_session s = login();
        run_true(s);
        ssh_disconnect(s);
        ssh_free(s);
    }
    double bare_new = now_s() - t0;
    double new_connect = t_connect, new_auth = t_auth;

    ssh_session s = login();
    t0 = now_s();
    for (int i = 0; i < N; i++)
        run_true(s);
    double bare_reuse = now_s() - t0;
    ssh_disconnect(s);
    ssh_free(s);

    /* the flow: N Command tasks in sequence */
    char flow[700];
    snprintf(flow, sizeof flow, "%s/flow.yaml", d);
    FILE *f = fopen(flow, "w");
    FILE *kf = fopen(keyfile, "r");
    char key[8192];
    size_t kn = kf ? fread(key, 1, sizeof key - 1, kf) : 0;
    key[kn] = '\0';
    if (kf)
        fclose(kf);
    fprintf(f, "id: bench\nnamespace: bench.ssh\ntasks:\n");
    for (int i = 0; i < N; i++) {
        fprintf(f, "  - id: c%d\n    type: io.kestra.plugin.fs.ssh.Command\n    host: 127.0.0.1\n    port: \"%d\"\n"
                   "    username: %s\n    authMethod: PUBLIC_KEY\n    commands: [\"true\"]\n    privateKey: |\n",
                i, port, user);
        for (char *l = strtok(key, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(f, "      %s\n", l);
        /* strtok cut key: read it again for the next task */
        kf = fopen(keyfile, "r");
        kn = kf ? fread(key, 1, sizeof key - 1, kf) : 0;
        key[kn] = '\0';
        if (kf)
            fclose(kf);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s run %s --data %s/data >/dev/null 2>%s/err", kite, flow, d, d);
    t0 = now_s();
    int rc = system(cmd);
    double kite_s = now_s() - t0;

    /* SFTP: N files in one Uploads task (one connection) against N Upload
     * tasks (a connection each) */
    double sftp_s[2];
    int sftp_rc[2];
    for (int m = 0; m < 2; m++) {
        char sflow[700];
        snprintf(sflow, sizeof sflow, "%s/sftp%d.yaml", d, m);
        f = fopen(sflow, "w");
        fprintf(f, "id: sftp%d\nnamespace: bench.ssh\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n"
                   "    content: \"%s\"\n", m, "0123456789abcdef0123456789abcdef");
        for (int i = 0; i < (m ? N : 1); i++) {
            fprintf(f, "  - id: u%d\n    type: io.kestra.plugin.fs.sftp.%s\n    host: 127.0.0.1\n    port: \"%d\"\n"
                       "    username: %s\n",
                    i, m ? "Upload" : "Uploads", port, user);
            if (m)
                fprintf(f, "    from: \"{{ outputs.w.uri }}\"\n    to: \"%s/up%d/f%d.txt\"\n", d, m, i);
            else {
                fprintf(f, "    maxFiles: %d\n    to: \"%s/up%d\"\n    from:\n", N, d, m);
                for (int j = 0; j < N; j++)
                    fprintf(f, "      f%d.txt: \"{{ outputs.w.uri }}\"\n", j);
            }
            fprintf(f, "    keyfile: |\n");
            kf = fopen(keyfile, "r");
            kn = kf ? fread(key, 1, sizeof key - 1, kf) : 0;
            key[kn] = '\0';
            if (kf)
                fclose(kf);
            for (char *l = strtok(key, "\n"); l; l = strtok(NULL, "\n"))
                fprintf(f, "      %s\n", l);
        }
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s run %s --data %s/sdata%d >/dev/null 2>%s/serr%d", kite, sflow, d, m, d, m);
        t0 = now_s();
        sftp_rc[m] = system(cmd);
        sftp_s[m] = now_s() - t0;
    }

    printf("ssh: %d commands, bare libssh, new connection each: %.3f s (%.1f/s, %.1f ms each)\n", N, bare_new,
           N / bare_new, bare_new * 1000 / N);
    printf("ssh:   of which per connection: TCP + key exchange %.1f ms, key login %.1f ms, the exec %.1f ms\n",
           new_connect * 1000 / N, new_auth * 1000 / N, (bare_new - new_connect - new_auth) * 1000 / N);
    printf("ssh: %d commands, bare libssh, one connection reused: %.3f s (%.1f/s, %.1f ms each)\n", N, bare_reuse,
           N / bare_reuse, bare_reuse * 1000 / N);
    printf("ssh: %d Command tasks through kite run (one connection per task): %.3f s (%.1f tasks/s, %.1f ms each)%s\n",
           N, kite_s, N / kite_s, kite_s * 1000 / N, rc ? " [the flow FAILED]" : "");
    printf("sftp: %d files in one Uploads task (one connection) through kite run: %.3f s (%.1f files/s)%s\n", N,
           sftp_s[0], N / sftp_s[0], sftp_rc[0] ? " [the flow FAILED]" : "");
    printf("sftp: %d files in %d Upload tasks (a connection each) through kite run: %.3f s (%.1f files/s)%s\n", N, N,
           sftp_s[1], N / sftp_s[1], sftp_rc[1] ? " [the flow FAILED]" : "");
    snprintf(cmd, sizeof cmd, "kill %d 2>/dev/null; rm -rf %s", pid, d);
    if (system(cmd)) {
    }
    return 0;
}
