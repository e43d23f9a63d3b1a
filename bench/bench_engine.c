/*
 * bench_engine.c: the embedded engine's figures, against the limit of the
 * machine measured in the same run:
 *   - executions per second of a one-task flow (Return), many in flight;
 *   - the per-task cost of a 40-task sequential flow of Return tasks;
 *   - a ForEach over 10,000 values: time, peak memory, database size;
 *   - the limit: bare SQLite commits of one small row per transaction with
 *     the same pragmas (WAL, synchronous=NORMAL).
 * Kestra's open-source edition tops out near 70 executions per second.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/mem.h"

static char root[256];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double bare_commits(int n)
{
    char path[300];
    snprintf(path, sizeof path, "%s/bare.db", root);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES ('x')", -1, &st, NULL);
    int64_t t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    int64_t dt = time_mono_us() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n * 1e6 / (double)dt;
}

typedef struct env {
    store *st;
    storage *fs;
    engine *en;
} env;

static void env_open(env *v, const char *name)
{
    char dir[300], url[400], sroot[400];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    mkdir(dir, 0700);
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(sroot, sizeof sroot, "%s/storage", dir);
    kerr e = KERR_INIT;
    if (store_open(url, NULL, &v->st, &e) || !(v->fs = storage_open_local(sroot, &e))) {
        fprintf(stderr, "bench_engine: %s\n", e.msg);
        exit(1);
    }
    engine_opts o = {.store = v->st, .storage = v->fs, .workers = 2, .min_log_level = LEVEL_INFO};
    v->en = engine_new(&o, &e);
    if (!v->en || engine_start(v->en, &e)) {
        fprintf(stderr, "bench_engine: %s\n", e.msg);
        exit(1);
    }
}

static void env_close(env *v)
{
    engine_free(v->en);
    storage_free(v->fs);
    store_free(v->st);
}

static void put_flow(env *v, const char *src)
{
    diags d = DIAGS_INIT;
    if (engine_flow_put(v->en, src, strlen(src), "bench.yaml", NULL, &d)) {
        fprintf(stderr, "bench_engine: flow: %s\n", d.n ? d.v[0].msg : "?");
        exit(1);
    }
    diags_free(&d);
}

static store_state run_one(env *v, const char *ns, const char *id)
{
    char xid[STORE_ID_LEN + 1];
    kerr e = KERR_INIT;
    engine_submit_opts so = {.namespace = ns, .flow_id = id};
    store_state st = STATE_FAILED;
    if (engine_submit(v->en, &so, xid, &e) || engine_wait(v->en, xid, 0, 600 * US_PER_SEC, &st, &e))
        fprintf(stderr, "bench_engine: %s\n", e.msg);
    return st;
}

static long file_kib(const char *name, const char *file)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s/%s", root, name, file);
    struct stat sb;
    return stat(p, &sb) ? 0 : (long)(sb.st_size / 1024);
}

int main(int argc, char **argv)
{
    tasks_register_all();
    snprintf(root, sizeof root, "/tmp/kite-bench-engine-%d", (int)getpid());
    mkdir(root, 0700);
    int n_exec = argc > 1 ? atoi(argv[1]) : 2000;
    int n_values = argc > 2 ? atoi(argv[2]) : 10000;

    double limit = bare_commits(5000);
    printf("limit: bare SQLite commit (WAL, synchronous=NORMAL): %.0f commits/s\n", limit);

    /* 1. executions per second of a one-task flow */
    env v;
    env_open(&v, "one");
    put_flow(&v, "id: one\nnamespace: bench\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n"
                 "    format: \"{{ execution.id }}\"\n");
    char (*ids)[STORE_ID_LEN + 1] = xcalloc((size_t)n_exec, sizeof *ids);
    uint64_t oc0 = store_commits(v.st);
    int64_t t0 = time_mono_us();
    kerr e = KERR_INIT;
    for (int i = 0; i < n_exec; i++) {
        engine_submit_opts so = {.namespace = "bench", .flow_id = "one"};
        if (engine_submit(v.en, &so, ids[i], &e)) {
            fprintf(stderr, "submit: %s\n", e.msg);
            return 1;
        }
    }
    int ok = 0;
    for (int i = 0; i < n_exec; i++) {
        store_state st;
        if (!engine_wait(v.en, ids[i], 0, 600 * US_PER_SEC, &st, &e) && st == STATE_SUCCESS)
            ok++;
    }
    int64_t dt = time_mono_us() - t0;
    printf("one-task flow: %d executions in %.2f s: %.0f executions/s (%d succeeded), %.2f commits an execution; "
           "Kestra OSS: ~70/s\n",
           n_exec, dt / 1e6, n_exec * 1e6 / (double)dt, ok, (double)(store_commits(v.st) - oc0) / n_exec);
    free(ids);
    env_close(&v);

    /* 2. per-task cost of a 40-task sequential flow */
    env_open(&v, "forty");
    buf b = BUF_INIT;
    buf_puts(&b, "id: forty\nnamespace: bench\ntasks:\n");
    for (int i = 0; i < 40; i++)
        buf_printf(&b, "  - id: t%d\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ task.id }}\"\n", i);
    put_flow(&v, buf_str(&b));
    buf_free(&b);
    run_one(&v, "bench", "forty"); /* warm up */
    int rounds = 7;
    double walls[7];
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t c0 = store_commits(v.st);
    for (int i = 0; i < rounds; i++) {
        int64_t s0 = time_mono_us();
        run_one(&v, "bench", "forty");
        walls[i] = (double)(time_mono_us() - s0);
    }
    uint64_t commits = store_commits(v.st) - c0;
    getrusage(RUSAGE_SELF, &r1);
    qsort(walls, (size_t)rounds, sizeof walls[0], cmp_double);
    double per_task = walls[rounds / 2] / 40.0;
    double tasks = rounds * 40.0;
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    printf("40-task sequential flow: %.1f ms per execution (median of %d), %.0f us per task (%.1f bare commits' "
           "worth); per task: %.2f commits, %.1f voluntary context switches, %.0f us of CPU\n",
           walls[rounds / 2] / 1e3, rounds, per_task, per_task * limit / 1e6, commits / tasks,
           (double)(r1.ru_nvcsw - r0.ru_nvcsw) / tasks, cpu / tasks);
    env_close(&v);

    /* 3. ForEach over many values */
    env_open(&v, "each");
    b = (buf)BUF_INIT;
    buf_printf(&b, "id: each\nnamespace: bench\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
                   "    values: \"{{ range(1, %d) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n"
                   "        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n",
               n_values);
    put_flow(&v, buf_str(&b));
    buf_free(&b);
    t0 = time_mono_us();
    store_state st = run_one(&v, "bench", "each");
    dt = time_mono_us() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ForEach over %d values: %s in %.2f s (%.0f us per value), peak RSS %ld MiB, database %ld KiB "
           "(+ WAL %ld KiB)\n",
           n_values, store_state_name(st), dt / 1e6, dt / (double)n_values, ru.ru_maxrss / 1024,
           file_kib("each", "kite.db"), file_kib("each", "kite.db-wal"));
    env_close(&v);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd))
        return 1;
    return 0;
}
