/*
 * test_store_crash.c: the store survives kill -9 at any moment.
 *
 * A writer process commits executions in a loop (each transaction: one
 * execution, two task runs, one queued job, one log line), from two threads
 * at once, and writes each execution id to its stdout (a pipe or a file) only
 * AFTER store_commit returned. Its checkpointer runs every 40 WAL pages, so
 * kills land in checkpoints too. Another process kills it with SIGKILL at a
 * random moment; then every id the writer printed must be in the database
 * with its two task runs, PRAGMA integrity_check must say ok, and the store
 * must reopen and take new writes. Several rounds on the same file.
 *
 * Modes (one binary, so that the Makefile builds it as a unit test):
 *   (no variable)                       the cmocka test: forks writers, kills
 *                                       them, checks, for ROUNDS rounds
 *   KITE_STORE_CRASH_WRITER=db          be the writer until killed
 *   KITE_STORE_CRASH_CHECK=db ids-file  check the ids listed in the file:
 *                                       prints "ok N" and exits 0, or the
 *                                       problem and exits 1
 * tests/e2e/store_crash.sh drives the last two from the shell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define ROUNDS 8

/* ---- the writer --------------------------------------------------------- */

static store *w_store;
static int w_fd;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One transaction: an execution, its two task runs, a job and a log. */
static int commit_one(store *s, char id[STORE_ID_LEN + 1], kerr *e)
{
    store_new_id(id);
    int64_t now = store_now_us();
    if (store_begin(s, e))
        return -1;
    store_execution x = {0};
    x.id = id;
    x.namespace = "crash.test";
    x.flow_id = "writer";
    x.flow_revision = 1;
    store_execution_set_state(&x, STATE_CREATED, now);
    store_execution_set_state(&x, STATE_RUNNING, now);
    x.inputs = json_pack("{s:s}", "payload", "some input that makes the row a bit larger");
    int rc = store_execution_insert(s, &x, e);
    free(x.histories);
    json_decref(x.inputs);
    for (int i = 0; rc == 0 && i < 2; i++) {
        char trid[STORE_ID_LEN + 1];
        store_new_id(trid);
        store_task_run t = {0};
        t.id = trid;
        t.execution_id = id;
        t.task_id = i ? "second" : "first";
        store_task_run_set_state(&t, STATE_CREATED, now);
        rc = store_task_run_insert(s, &t, e);
        free(t.histories);
        if (rc == 0 && i == 0)
            rc = store_queue_push(s, "task", id, trid, NULL, 0, NULL, e);
    }
    if (rc == 0) {
        store_log l = {.execution_id = id, .level = LEVEL_INFO, .message = "committed"};
        rc = store_log_append(s, &l, NULL, e);
    }
    if (rc) {
        store_rollback(s);
        return -1;
    }
    return store_commit(s, e);
}

static void *writer_thread(void *arg)
{
    (void)arg;
    for (;;) {
        kerr e = KERR_INIT;
        char id[STORE_ID_LEN + 2];
        if (commit_one(w_store, id, &e) != 0) {
            fprintf(stderr, "writer: %s\n", e.msg);
            _exit(3);
        }
        /* printed only after the commit returned */
        id[STORE_ID_LEN] = '\n';
        if (write_all(w_fd, id, STORE_ID_LEN + 1) != 0)
            _exit(4);
    }
    return NULL;
}

/* Runs until killed. */
static void run_writer(const char *db, int fd)
{
    kerr e = KERR_INIT;
    /* checkpoint all the time, so that kills also land in checkpoints */
    store_opts o = STORE_OPTS_INIT;
    o.checkpoint_pages = 40;
    if (store_open(db, &o, &w_store, &e) != 0) {
        fprintf(stderr, "writer: %s\n", e.msg);
        _exit(2);
    }
    w_fd = fd;
    pthread_t th;
    pthread_create(&th, NULL, writer_thread, NULL);
    writer_thread(NULL);
}

/* ---- the check ---------------------------------------------------------- */

/* Checks every id in ids (n of them). Returns 0, or -1 with the problem in
 * msg. */
static int check_db(const char *db, char (*ids)[STORE_ID_LEN + 1], size_t n, char *msg,
                    size_t msgsz)
{
    if (access(db, F_OK) != 0) {
        if (n == 0)
            return 0;   /* killed before it created the file: nothing to find */
        snprintf(msg, msgsz, "%s is missing, yet %zu commits were reported", db, n);
        return -1;
    }
    sqlite3 *raw;
    if (sqlite3_open_v2(db, &raw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(msg, msgsz, "cannot open %s", db);
        sqlite3_close(raw);
        return -1;
    }
    sqlite3_stmt *st;
    int ok = sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    if (!ok)
        snprintf(msg, msgsz, "integrity_check: %s",
                 st ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(raw));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    if (!ok)
        return -1;

    kerr e = KERR_INIT;
    store *s;
    if (store_open(db, NULL, &s, &e) != 0) {
        snprintf(msg, msgsz, "reopen: %s", e.msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        store_execution x;
        if (store_execution_get(s, ids[i], &x, &e) != 0) {
            snprintf(msg, msgsz, "committed execution %s (#%zu of %zu) is lost: %s", ids[i], i,
                     n, e.msg);
            rc = -1;
            break;
        }
        store_execution_clear(&x);
        store_task_run *v;
        size_t nv;
        if (store_task_run_list(s, ids[i], &v, &nv, &e) != 0 || nv != 2) {
            snprintf(msg, msgsz, "execution %s has %zu task runs, not 2", ids[i], nv);
            rc = -1;
        }
        store_task_runs_free(v, nv);
    }
    /* and it keeps working */
    char id[STORE_ID_LEN + 1];
    if (rc == 0 && commit_one(s, id, &e) != 0) {
        snprintf(msg, msgsz, "writing after the crash: %s", e.msg);
        rc = -1;
    }
    store_free(s);
    return rc;
}

/* Reads the complete id lines of text into *ids. */
static size_t parse_ids(const char *text, size_t len, char (**ids)[STORE_ID_LEN + 1])
{
    size_t n = 0, cap = 0;
    *ids = NULL;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl)
            break;   /* a line cut short was never printed whole */
        size_t l = (size_t)(nl - (text + i));
        if (l == STORE_ID_LEN) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                *ids = realloc(*ids, cap * sizeof **ids);
            }
            memcpy((*ids)[n], text + i, STORE_ID_LEN);
            (*ids)[n][STORE_ID_LEN] = '\0';
            n++;
        }
        i += l + 1;
    }
    return n;
}

static int run_check(const char *db, const char *file)
{
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        fprintf(stderr, "check: cannot read %s\n", file);
        return 1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, r;
    char chunk[65536];
    while ((r = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (len + r > cap) {
            cap = (len + r) * 2;
            text = realloc(text, cap);
        }
        memcpy(text + len, chunk, r);
        len += r;
    }
    fclose(fp);
    char (*ids)[STORE_ID_LEN + 1];
    size_t n = parse_ids(text ? text : "", len, &ids);
    free(text);
    char msg[2048];
    int rc = check_db(db, ids, n, msg, sizeof msg);
    free(ids);
    if (rc) {
        printf("%s\n", msg);
        return 1;
    }
    printf("ok %zu\n", n);
    return 0;
}

/* ---- the cmocka test ---------------------------------------------------- */

static void test_kill9_loses_no_committed_execution(void **state)
{
    (void)state;
    char dir[] = "/tmp/kite-crash-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[128];
    snprintf(db, sizeof db, "%s/kite.db", dir);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    size_t total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            run_writer(db, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        /* let it run 20..220 ms, reading what it prints, then kill it */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long budget_ms = 20 + rand() % 200;
        char *text = NULL;
        size_t len = 0, cap = 0;
        int killed = 0;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (!killed && el >= budget_ms) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            if (len + 4096 > cap) {
                cap = cap ? cap * 2 : 65536;
                text = realloc(text, cap);
            }
            if (!killed) {
                /* non-blocking-ish: poll with a short timeout */
                fd_set rs;
                FD_ZERO(&rs);
                FD_SET(fds[0], &rs);
                struct timeval tv = {0, 2000};
                if (select(fds[0] + 1, &rs, NULL, NULL, &tv) <= 0)
                    continue;
            }
            ssize_t r = read(fds[0], text + len, 4096);
            if (r > 0) {
                len += (size_t)r;
                continue;
            }
            if (r == 0 && killed)
                break;   /* the killed writer's end is closed: all read */
            if (r == 0) {
                /* the writer died on its own */
                break;
            }
        }
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);

        char (*ids)[STORE_ID_LEN + 1];
        size_t n = parse_ids(text ? text : "", len, &ids);
        free(text);
        char msg[2048] = "";
        int rc = check_db(db, ids, n, msg, sizeof msg);
        free(ids);
        if (rc)
            fail_msg("round %d (killed after %ld ms, %zu ids): %s", round, budget_ms, n, msg);
        total += n;
    }
    /* the test means something only if the writers committed */
    assert_true(total > 0);
    char p[160];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    printf("# %d rounds, %zu committed executions checked\n", ROUNDS, total);
}

int main(int argc, char **argv)
{
    const char *w = getenv("KITE_STORE_CRASH_WRITER");
    if (w && *w) {
        run_writer(w, 1);
        return 0;
    }
    const char *c = getenv("KITE_STORE_CRASH_CHECK");
    if (c && *c) {
        if (argc < 2) {
            fprintf(stderr, "usage: KITE_STORE_CRASH_CHECK=db %s IDS-FILE\n", argv[0]);
            return 2;
        }
        return run_check(c, argv[1]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_loses_no_committed_execution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
