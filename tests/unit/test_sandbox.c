/*
 * test_sandbox.c: the sandbox runner (util/sandbox.h) with real processes
 * through proc_run. Skipped (each case passes with a message) where the
 * host cannot make a sandbox.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/proc.h"
#include "util/sandbox.h"

static char *tmp_root;

typedef struct out {
    buf o, err;
} out;

static void on_line(void *ud, proc_stream st, const char *text, size_t len, int flags)
{
    out *O = ud;
    buf *b = st == PROC_STDOUT ? &O->o : &O->err;
    buf_append(b, text, len);
    buf_putc(b, '\n');
}

static int no_sandbox(void)
{
    kerr e = KERR_INIT;
    if (sandbox_available(&e)) {
        print_message("sandbox not available here: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* Runs `sh -c cmd` in a sandbox of a fresh folder with opts o (its
 * writable list is filled in), timeout_ms (0: 20 s). Returns the result; *O
 * holds the output; keep: the folder is left for the caller (its path in
 * *keep, to free). */
static int run_in(const char *cmd, sandbox_opts *o, int64_t timeout_ms, out *O, proc_result *r, sandbox_report *rep,
                  char **keep, kerr *e)
{
    char *dir;
    assert_int_equal(proc_workdir_new(tmp_root, "sbx-", &dir, NULL), 0);
    assert_int_equal(sandbox_give_tree(dir, NULL), 0);
    const char *w[] = {dir, NULL};
    o->writable = w;
    sandbox *sb;
    int rc = sandbox_new(o, &sb, e);
    if (!rc) {
        proc_spec s;
        proc_spec_init(&s);
        const char *av[] = {"sh", "-c", cmd, NULL};
        const char *env[] = {"PATH=/usr/bin:/bin", NULL};
        s.argv = av;
        s.env = env;
        s.cwd = dir;
        s.on_line = on_line;
        s.ud = O;
        s.timeout_ms = timeout_ms ? timeout_ms : 20000;
        s.spawn = sandbox_spawn;
        s.spawn_ud = sb;
        rc = proc_run(&s, r, e);
        if (!rc)
            sandbox_task_status(sb, r);
        sandbox_finish(sb, rep);
        sandbox_free(sb);
    }
    if (keep) {
        *keep = dir;
        return rc;
    }
    proc_workdir_remove(dir, NULL, NULL, NULL);
    free(dir);
    return rc;
}

static int run(const char *cmd, sandbox_opts *o, out *O, proc_result *r, sandbox_report *rep, kerr *e)
{
    return run_in(cmd, o, 0, O, r, rep, NULL, e);
}

/* Is a process whose command line holds s running anywhere on the host? */
static int host_has(const char *s)
{
    /* "[k]ite-...": the pattern does not match the grep's own command line */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "grep -qs -- '[%c]%s' /proc/[0-9]*/cmdline", s[0], s + 1);
    return system(cmd) == 0;
}

static void runs_and_writes_its_folder(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    int rc = run("echo hi > f && cat f && id -u", &o, &O, &r, NULL, &e);
    if (rc)
        print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    uid_t u;
    gid_t g;
    sandbox_ids(&u, &g);
    char want[64];
    snprintf(want, sizeof want, "hi\n%u\n", (unsigned)u);
    assert_string_equal(buf_str(&O.o), want);
    buf_free(&O.o);
    buf_free(&O.err);
}

static void sees_only_its_processes(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    /* the init names itself right after its exec, which may come after the
     * task has started: the shell waits (up to 2 s) to read the name */
    assert_int_equal(run("echo $$; i=0; while [ \"$(cat /proc/1/comm)\" != kite-init ] && [ $i -lt 200 ]; do "
                         "i=$((i+1)); sleep 0.01; done; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'",
                         &o, &O, &r, NULL, &e), 0);
    /* PID 1 the sandbox's init, PID 2 the shell, and ls: grep's pipeline
     * may add one more (the $(cat) of the loop is gone by then) */
    assert_true(!strncmp(buf_str(&O.o), "2\nkite-init\n", 12));
    int n = atoi(buf_str(&O.o) + 12);
    assert_true(n >= 2 && n <= 5);
    buf_free(&O.o);
    buf_free(&O.err);
}

static void exit_codes_and_signals_are_the_tasks(void **state)
{
    if (no_sandbox())
        return;
    static const struct {
        const char *cmd;
        int exited, code, sig;
    } cases[] = {
        {"exit 0", 1, 0, 0},
        {"exit 1", 1, 1, 0},
        {"exit 42", 1, 42, 0},
        {"exit 137", 1, 137, 0},       /* a code, not the signal 9 */
        {"kill -KILL $$", 0, 0, 9},
        {"kill -USR1 $$", 0, 0, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sandbox_opts o = {0};
        out O = {BUF_INIT, BUF_INIT};
        proc_result r;
        kerr e = KERR_INIT;
        assert_int_equal(run(cases[i].cmd, &o, &O, &r, NULL, &e), 0);
        if (r.exited != cases[i].exited || r.exit_code != cases[i].code || r.term_signal != cases[i].sig)
            print_message("%s: exited %d code %d signal %d\n", cases[i].cmd, r.exited, r.exit_code, r.term_signal);
        assert_int_equal(r.exited, cases[i].exited);
        assert_int_equal(r.exit_code, cases[i].code);
        assert_int_equal(r.term_signal, cases[i].sig);
        buf_free(&O.o);
        buf_free(&O.err);
    }
}

/* The task is not PID 1: the SIGTERM of a timeout ends it (before, PID 1
 * ignored it and the run lasted until the SIGKILL of the grace period). */
static void timeout_term_ends_the_task(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(run_in("exec sleep 60", &o, 1000, &O, &r, NULL, NULL, &e), 0);
    assert_true(r.timed_out);
    assert_false(r.killed);            /* no SIGKILL was needed */
    assert_false(r.exited);
    assert_int_equal(r.term_signal, 15);
    buf_free(&O.o);
    buf_free(&O.err);
}

static void a_term_trap_runs(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    char *dir = NULL;
    assert_int_equal(run_in("trap 'echo trapped > on-term; exit 3' TERM; echo ready; sleep 60 & wait", &o, 1000, &O,
                            &r, NULL, &dir, &e), 0);
    assert_true(r.timed_out);
    assert_false(r.killed);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 3);
    char *f = xasprintf("%s/on-term", dir);
    FILE *fp = fopen(f, "r");
    assert_non_null(fp);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    assert_string_equal(line, "trapped\n");
    free(f);
    proc_workdir_remove(dir, NULL, NULL, NULL);
    free(dir);
    buf_free(&O.o);
    buf_free(&O.err);
}

/* An orphan neither outlives the task nor holds it open (its pipes). */
static void an_orphan_is_ended_with_the_task(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    char mark[64];
    snprintf(mark, sizeof mark, "kite-orphan-%d", (int)getpid());
    char *cmd = xasprintf("sh -c 'sleep 100; : %s' & echo started; exit 0", mark);
    assert_int_equal(run(cmd, &o, &O, &r, NULL, &e), 0);
    free(cmd);
    assert_false(r.timed_out);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(buf_str(&O.o), "started\n");
    assert_false(host_has(mark));
    buf_free(&O.o);
    buf_free(&O.err);
}

typedef struct par {
    int rc, exited, code;
    char out[64];
} par;

static void *par_run(void *arg)
{
    par *p = arg;
    for (int i = 0; i < 5 && !p->rc; i++) {
        sandbox_opts o = {0};
        out O = {BUF_INIT, BUF_INIT};
        proc_result r;
        kerr e = KERR_INIT;
        p->rc = run("echo $$; exit 7", &o, &O, &r, NULL, &e);
        p->exited = r.exited;
        p->code = r.exit_code;
        snprintf(p->out, sizeof p->out, "%s", buf_str(&O.o));
        buf_free(&O.o);
        buf_free(&O.err);
        if (!p->rc && (!r.exited || r.exit_code != 7 || strcmp(p->out, "2\n")))
            p->rc = -2;
    }
    return NULL;
}

/* Worker threads run sandboxes at once: each its own namespaces, init and
 * status. */
static void runs_from_threads_at_once(void **state)
{
    if (no_sandbox())
        return;
    pthread_t t[3];
    par p[3];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, par_run, &p[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        if (p[i].rc)
            print_message("thread %d: rc %d exited %d code %d out '%s'\n", i, p[i].rc, p[i].exited, p[i].code,
                          p[i].out);
        assert_int_equal(p[i].rc, 0);
    }
}

static void root_is_read_only(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(run("touch /usr/kite-sandbox-probe 2>&1; echo rc=$?; touch /tmp/x && echo tmp-ok", &o, &O, &r,
                         NULL, &e), 0);
    assert_non_null(strstr(buf_str(&O.o), "rc=1"));
    assert_non_null(strstr(buf_str(&O.o), "tmp-ok"));
    assert_int_equal(access("/usr/kite-sandbox-probe", F_OK), -1);
    buf_free(&O.o);
    buf_free(&O.err);
}

static void seccomp_refuses_namespaces(void **state)
{
    if (no_sandbox())
        return;
    sandbox_opts o = {0};
    out O = {BUF_INIT, BUF_INIT};
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(run("unshare -U true 2>&1; echo rc=$?", &o, &O, &r, NULL, &e), 0);
    assert_non_null(strstr(buf_str(&O.o), "rc=1"));
    assert_non_null(strstr(buf_str(&O.o), "Operation not permitted"));
    buf_free(&O.o);
    buf_free(&O.err);
}

static void missing_program_is_a_clear_error(void **state)
{
    if (no_sandbox())
        return;
    char *dir;
    assert_int_equal(proc_workdir_new(tmp_root, "sbx-", &dir, NULL), 0);
    const char *w[] = {dir, NULL};
    sandbox_opts o = {.writable = w};
    sandbox *sb;
    assert_int_equal(sandbox_new(&o, &sb, NULL), 0);
    proc_spec s;
    proc_spec_init(&s);
    const char *av[] = {"no-such-program-kite", NULL};
    const char *env[] = {"PATH=/usr/bin:/bin", NULL};
    s.argv = av;
    s.env = env;
    s.spawn = sandbox_spawn;
    s.spawn_ud = sb;
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(proc_run(&s, &r, &e), -1);
    assert_string_equal(e.msg, "cannot execute 'no-such-program-kite': not found in PATH (/usr/bin:/bin)");
    sandbox_free(sb);
    proc_workdir_remove(dir, NULL, NULL, NULL);
    free(dir);
}

static void volume_outside_allowed_is_refused(void **state)
{
    if (no_sandbox())
        return;
    char *dir;
    assert_int_equal(proc_workdir_new(tmp_root, "sbx-", &dir, NULL), 0);
    const char *w[] = {dir, NULL};
    sandbox_volume v = {"/etc", "/tmp/etc", 1};
    sandbox_opts o = {.writable = w, .volumes = &v, .nvolumes = 1};
    sandbox *sb = NULL;
    kerr e = KERR_INIT;
    assert_int_equal(sandbox_new(&o, &sb, &e), -1);
    assert_string_equal(e.msg, "volume '/etc:/tmp/etc': /etc is not within sandbox.allowedVolumes (kite.yml)");
    proc_workdir_remove(dir, NULL, NULL, NULL);
    free(dir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    tmp_root = xasprintf("%s/kite-test-sandbox-%d", t && *t ? t : "/tmp", (int)getpid());
    mkdir(tmp_root, 0755);
    chmod(tmp_root, 0755);
    sandbox_configure(NULL, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_and_writes_its_folder),
        cmocka_unit_test(sees_only_its_processes),
        cmocka_unit_test(exit_codes_and_signals_are_the_tasks),
        cmocka_unit_test(timeout_term_ends_the_task),
        cmocka_unit_test(a_term_trap_runs),
        cmocka_unit_test(an_orphan_is_ended_with_the_task),
        cmocka_unit_test(runs_from_threads_at_once),
        cmocka_unit_test(root_is_read_only),
        cmocka_unit_test(seccomp_refuses_namespaces),
        cmocka_unit_test(missing_program_is_a_clear_error),
        cmocka_unit_test(volume_outside_allowed_is_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmp_root);
    free(tmp_root);
    return rc;
}
