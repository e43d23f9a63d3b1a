/*
 * bench_store.c: the store's throughput against what the machine allows.
 *
 * The limit: a bare SQLite commit of one small row per transaction, with the
 * store's pragmas (WAL, synchronous NORMAL, foreign keys), prepared
 * statements, BEGIN IMMEDIATE .. COMMIT. Then, on the store:
 *   - executions created per second: one transaction with an execution, two
 *     task runs and one queued job (what the executor writes to start a
 *     one-task flow);
 *   - queue cycles per second: enqueue + lease + ack, each its own
 *     transaction (the worker's path), and batched by 100;
 *   - the same, 10 executions per transaction (group commit);
 *   - executions per second from 2 threads at once;
 *   - log lines appended per second, alone and 100 per transaction;
 *   - a ForEach over 10,000 values as task-run rows: times and database size;
 *   - the bare commit and executions with synchronous=FULL (power-loss safe).
 * Each figure runs for BENCH_SECONDS (default 1) on a fresh file under
 * TMPDIR. Figures only, no asserts.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double seconds = 1.0;
static char dir[256];

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void db_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s.db", dir, name);
}

static void rm_db(const char *path)
{
    char p[512];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, msg);
    exit(1);
}

/* Bare SQLite: one small row per transaction. Returns commits/s. */
static double bare_commits(int full)
{
    char path[512];
    db_path(path, sizeof path, full ? "bare_full" : "bare");
    rm_db(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open", sqlite3_errmsg(db));
    char pr[200];
    snprintf(pr, sizeof pr, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             " PRAGMA foreign_keys=ON; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
             full ? "FULL" : "NORMAL");
    if (sqlite3_exec(db, pr, NULL, NULL, NULL) != SQLITE_OK)
        die("pragmas", sqlite3_errmsg(db));
    sqlite3_stmt *b, *ins, *c;
    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &b, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES ('a small row, 30 bytes or so')", -1, &ins,
                       NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &c, NULL);
    long n = 0;
    double t0 = mono(), t;
    do {
        for (int i = 0; i < 50; i++) {
            sqlite3_step(b);
            sqlite3_reset(b);
            if (sqlite3_step(ins) != SQLITE_DONE)
                die("insert", sqlite3_errmsg(db));
            sqlite3_reset(ins);
            if (sqlite3_step(c) != SQLITE_DONE)
                die("commit", sqlite3_errmsg(db));
            sqlite3_reset(c);
            n++;
        }
        t = mono() - t0;
    } while (t < seconds);
    sqlite3_finalize(b);
    sqlite3_finalize(ins);
    sqlite3_finalize(c);
    sqlite3_close(db);
    rm_db(path);
    return (double)n / t;
}

static store *open_store(const char *name, int full)
{
    char path[512];
    db_path(path, sizeof path, name);
    rm_db(path);
    store_opts o = STORE_OPTS_INIT;
    o.sync_full = full;
    store *s;
    kerr e = KERR_INIT;
    if (store_open(path, &o, &s, &e) != 0)
        die("store_open", e.msg);
    return s;
}

static void close_store(store *s, const char *name)
{
    char path[512];
    store_free(s);
    db_path(path, sizeof path, name);
    rm_db(path);
}

/* One executor "start": execution + 2 task runs + 1 job in one transaction. */
static void create_execution(store *s)
{
    kerr e = KERR_INIT;
    char id[STORE_ID_LEN + 1], t1[STORE_ID_LEN + 1], t2[STORE_ID_LEN + 1];
    store_new_id(id);
    store_new_id(t1);
    store_new_id(t2);
    int64_t now = store_now_us();
    store_history h[2] = {{STATE_CREATED, now}, {STATE_RUNNING, now}};
    store_execution x = {.id = id, .namespace = "company.team", .flow_id = "hello",
                         .flow_revision = 1, .state = STATE_RUNNING, .histories = h,
                         .n_histories = 2, .created_us = now, .start_us = now};
    store_history th[1] = {{STATE_CREATED, now}};
    store_task_run a = {.id = t1, .execution_id = id, .task_id = "first",
                        .state = STATE_CREATED, .histories = th, .n_histories = 1};
    store_task_run b = a;
    b.id = t2;
    b.task_id = "second";
    if (store_begin(s, &e) || store_execution_insert(s, &x, &e) ||
        store_task_run_insert(s, &a, &e) || store_task_run_insert(s, &b, &e) ||
        store_queue_push(s, "task", id, t1, NULL, 0, NULL, &e) || store_commit(s, &e))
        die("create execution", e.msg);
}

/* batch executions per transaction (group commit: the executor applying
 * several events in one transaction). */
static double executions(int full, int batch)
{
    const char *name = full ? "exec_full" : "exec";
    store *s = open_store(name, full);
    kerr e = KERR_INIT;
    long n = 0;
    double t0 = mono(), t;
    do {
        for (int i = 0; i < 20; i++) {
            if (batch > 1 && store_begin(s, &e))
                die("begin", e.msg);
            for (int k = 0; k < batch; k++, n++)
                create_execution(s);
            if (batch > 1 && store_commit(s, &e))
                die("commit", e.msg);
        }
        t = mono() - t0;
    } while (t < seconds);
    close_store(s, name);
    return (double)n / t;
}

/* Log lines, batch per transaction. */
static double log_lines(int batch)
{
    store *s = open_store("logs", 0);
    kerr e = KERR_INIT;
    store_log l = {.execution_id = "0123456789abcdefghijkl", .task_run_id = "tr", .task_id = "t",
                   .attempt = 1, .level = LEVEL_INFO,
                   .message = "a log line of a typical length, about eighty characters long."};
    long n = 0;
    double t0 = mono(), t;
    do {
        for (int i = 0; i < 20; i++) {
            if (batch > 1 && store_begin(s, &e))
                die("begin", e.msg);
            for (int k = 0; k < batch; k++, n++)
                if (store_log_append(s, &l, NULL, &e))
                    die("log", e.msg);
            if (batch > 1 && store_commit(s, &e))
                die("commit", e.msg);
        }
        t = mono() - t0;
    } while (t < seconds);
    close_store(s, "logs");
    return (double)n / t;
}

typedef struct targ {
    store *s;
    long n;
} targ;

static void *exec_thread(void *p)
{
    targ *a = p;
    double t0 = mono();
    do {
        for (int i = 0; i < 20; i++, a->n++)
            create_execution(a->s);
    } while (mono() - t0 < seconds);
    return NULL;
}

static double executions_threads(int nthreads)
{
    store *s = open_store("exec_mt", 0);
    pthread_t th[8];
    targ args[8];
    double t0 = mono();
    for (int i = 0; i < nthreads; i++) {
        args[i] = (targ){s, 0};
        pthread_create(&th[i], NULL, exec_thread, &args[i]);
    }
    long n = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        n += args[i].n;
    }
    double t = mono() - t0;
    close_store(s, "exec_mt");
    return (double)n / t;
}

/* enqueue + lease + ack per job, batch jobs at a time (batch 1: three
 * transactions per job; batch > 1: push, lease and ack each batched in one). */
static double queue_cycles(int batch)
{
    store *s = open_store("queue", 0);
    kerr e = KERR_INIT;
    json_t *payload = json_pack("{s:s,s:i}", "task", "log", "attempt", 1);
    long n = 0;
    double t0 = mono(), t;
    do {
        if (batch > 1 && store_begin(s, &e))
            die("begin", e.msg);
        for (int i = 0; i < batch; i++)
            if (store_queue_push(s, "task", "exec", "tr", payload, 0, NULL, &e))
                die("push", e.msg);
        if (batch > 1 && store_commit(s, &e))
            die("commit", e.msg);
        store_job *j;
        size_t nj;
        if (store_queue_lease(s, "task", (size_t)batch, "worker-1", 30000000, 0, &j, &nj, &e))
            die("lease", e.msg);
        if (nj != (size_t)batch)
            die("lease", "fewer jobs than pushed");
        if (batch > 1 && store_begin(s, &e))
            die("begin", e.msg);
        for (size_t i = 0; i < nj; i++)
            if (store_queue_ack(s, j[i].id, "worker-1", &e))
                die("ack", e.msg);
        if (batch > 1 && store_commit(s, &e))
            die("commit", e.msg);
        store_jobs_free(j, nj);
        n += batch;
        t = mono() - t0;
    } while (t < seconds);
    json_decref(payload);
    close_store(s, "queue");
    return (double)n / t;
}

/* A ForEach over n values, as rows: n task runs created in one transaction,
 * each then updated twice (RUNNING, SUCCESS with outputs) 100 per
 * transaction, then the execution's task runs listed. Prints the times and
 * the database size. */
static void foreach_rows(int n)
{
    char path[512];
    db_path(path, sizeof path, "foreach");
    store *s = open_store("foreach", 0);
    kerr e = KERR_INIT;
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    store_execution x = {.id = id, .namespace = "company.team", .flow_id = "each",
                         .flow_revision = 1};
    store_execution_set_state(&x, STATE_RUNNING, store_now_us());
    if (store_execution_insert(s, &x, &e))
        die("insert", e.msg);
    free(x.histories);
    store_task_run *runs = calloc((size_t)n, sizeof *runs);
    double t0 = mono();
    if (store_begin(s, &e))
        die("begin", e.msg);
    for (int i = 0; i < n; i++) {
        char trid[STORE_ID_LEN + 1], value[32];
        store_new_id(trid);
        snprintf(value, sizeof value, "\"value-%d\"", i);
        runs[i].id = strdup(trid);
        runs[i].execution_id = strdup(id);
        runs[i].task_id = strdup("each-item");
        runs[i].value = strdup(value);
        store_task_run_set_state(&runs[i], STATE_CREATED, store_now_us());
        if (store_task_run_insert(s, &runs[i], &e))
            die("task run", e.msg);
    }
    if (store_commit(s, &e))
        die("commit", e.msg);
    double t_insert = mono() - t0;
    t0 = mono();
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i += 100) {
            if (store_begin(s, &e))
                die("begin", e.msg);
            for (int k = i; k < i + 100 && k < n; k++) {
                store_task_run *t = &runs[k];
                store_task_run_set_state(t, pass ? STATE_SUCCESS : STATE_RUNNING,
                                         store_now_us());
                if (pass) {
                    t->attempts[0].state = STATE_SUCCESS;
                    t->attempts[0].end_us = store_now_us();
                    t->outputs = json_pack("{s:i,s:s}", "index", k, "value", t->value);
                } else {
                    store_task_run_add_attempt(t, STATE_RUNNING, store_now_us(), "worker-1");
                }
                if (store_task_run_update(s, t, &e))
                    die("update", e.msg);
            }
            if (store_commit(s, &e))
                die("commit", e.msg);
        }
    double t_update = mono() - t0;
    t0 = mono();
    store_task_run *v;
    size_t nv;
    if (store_task_run_list(s, id, &v, &nv, &e) || nv != (size_t)n)
        die("list", e.msg);
    double t_list = mono() - t0;
    store_task_runs_free(v, nv);
    store_task_runs_free(runs, (size_t)n);
    store_free(s);   /* checkpoints and removes the WAL */
    struct stat sb;
    double mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : -1;
    printf("  ForEach of %d as rows: insert %.0f ms (one tx), 2 updates each %.0f ms (100 a tx),"
           " list %.0f ms, database %.1f MB\n", n, t_insert * 1e3, t_update * 1e3,
           t_list * 1e3, mb);
    rm_db(path);
}

int main(void)
{
    const char *sec = getenv("BENCH_SECONDS");
    if (sec && atof(sec) > 0)
        seconds = atof(sec);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kite-bench-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", dir);

    double bare = bare_commits(0);
    double ex = executions(0, 1);
    double ex10 = executions(0, 10);
    double ex2 = executions_threads(2);
    double q1 = queue_cycles(1);
    double q100 = queue_cycles(100);
    double bare_full = bare_commits(1);
    double ex_full = executions(1, 1);
    double logs1 = log_lines(1);
    double logs100 = log_lines(100);

    printf("store: SQLite %s, WAL, %.1f s per figure, files in %s\n", sqlite3_libversion(),
           seconds, dir);
    printf("  bare SQLite commits/s (1 small row a transaction, synchronous=NORMAL): %10.0f\n",
           bare);
    printf("  executions created/s (execution + 2 task runs + 1 job, one tx):      %10.0f"
           "  (%.0f%% of the bare commit rate)\n", ex, 100.0 * ex / bare);
    printf("  executions created/s, 10 per transaction (group commit):             %10.0f\n",
           ex10);
    printf("  executions created/s, 2 threads:                                     %10.0f\n",
           ex2);
    printf("  queue enqueue+lease+ack/s (3 transactions a job):                    %10.0f"
           "  (%.0f%% of bare / 3)\n", q1, 100.0 * q1 * 3 / bare);
    printf("  queue enqueue+lease+ack/s (batches of 100):                          %10.0f\n",
           q100);
    printf("  bare SQLite commits/s, synchronous=FULL:                             %10.0f\n",
           bare_full);
    printf("  executions created/s, synchronous=FULL:                              %10.0f"
           "  (%.0f%% of the bare FULL rate)\n", ex_full, 100.0 * ex_full / bare_full);
    printf("  log lines appended/s, one transaction each:                          %10.0f\n",
           logs1);
    printf("  log lines appended/s, 100 per transaction:                           %10.0f\n",
           logs100);
    foreach_rows(10000);
    rmdir(dir);
    return 0;
}
