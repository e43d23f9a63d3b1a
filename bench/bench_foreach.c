/*
 * bench_foreach.c: what a big ForEach costs the engine, and what it costs
 * the executions beside it (issue 16, "A big ForEach takes the machine"):
 *   - task runs per second while a ForEach over N values runs (counted in
 *     the database over the first RUN_S seconds, or to its end);
 *   - the latency of a one-task execution started 2 s into it;
 *   - how long a kill of the ForEach takes to end it (KILLED);
 *   - peak RSS of the process and peak WAL size (sampled every 50 ms).
 *
 *   bench_foreach [values [concurrencyLimit [run_seconds]]]
 *
 * Defaults: 50,000 values, concurrencyLimit 0 (every value at once), 10 s.
 * Each scenario runs in its own process (fork before any store is open), so
 * that its peak RSS is its own.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"

static char dir[256];
static atomic_int sampling;
static atomic_long wal_peak_kib;

static long file_kib(const char *file)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    struct stat sb;
    return stat(p, &sb) ? 0 : (long)(sb.st_size / 1024);
}

static void *sampler(void *arg)
{
    (void)arg;
    while (atomic_load(&sampling)) {
        long w = file_kib("kite.db-wal");
        if (w > atomic_load(&wal_peak_kib))
            atomic_store(&wal_peak_kib, w);
        usleep(50000);
    }
    return NULL;
}

/* Task runs of task `r` that ended, read from the database file itself. */
static long ended_runs(sqlite3 *db)
{
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM task_runs WHERE task_id = 'r' AND state = 'SUCCESS'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void put_flow(engine *en, const char *src)
{
    diags d = DIAGS_INIT;
    if (engine_flow_put(en, src, strlen(src), "bench.yaml", NULL, &d)) {
        fprintf(stderr, "bench_foreach: flow: %s\n", d.n ? d.v[0].msg : "?");
        exit(1);
    }
    diags_free(&d);
}

static int scenario(int n_values, int limit, int run_s)
{
    char url[400], sroot[400];
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(sroot, sizeof sroot, "%s/storage", dir);
    kerr e = KERR_INIT;
    store *st;
    storage *fs;
    if (store_open(url, NULL, &st, &e) || !(fs = storage_open_local(sroot, &e))) {
        fprintf(stderr, "bench_foreach: %s\n", e.msg);
        return 1;
    }
    engine_opts o = {.store = st, .storage = fs, .workers = 2, .min_log_level = LEVEL_INFO};
    engine *en = engine_new(&o, &e);
    if (!en || engine_start(en, &e)) {
        fprintf(stderr, "bench_foreach: %s\n", e.msg);
        return 1;
    }
    buf b = BUF_INIT;
    buf_printf(&b, "id: each\nnamespace: bench\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
                   "    values: \"{{ range(1, %d) }}\"\n    concurrencyLimit: %d\n    tasks:\n      - id: r\n"
                   "        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n",
               n_values, limit);
    put_flow(en, buf_str(&b));
    buf_free(&b);
    put_flow(en, "id: one\nnamespace: bench\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.debug.Return\n"
                 "    format: x\n");
    char path[400];
    snprintf(path, sizeof path, "%s/kite.db", dir);
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);

    pthread_t smp;
    atomic_store(&sampling, 1);
    pthread_create(&smp, NULL, sampler, NULL);

    char big[STORE_ID_LEN + 1], one[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "bench", .flow_id = "each"};
    int64_t t0 = time_mono_us();
    if (engine_submit(en, &so, big, &e)) {
        fprintf(stderr, "bench_foreach: %s\n", e.msg);
        return 1;
    }
    store_state s = STATE_RUNNING;
    engine_wait(en, big, 0, 2 * US_PER_SEC, &s, &e);
    /* a one-task execution beside it, watched while the ForEach goes on */
    engine_submit_opts so1 = {.namespace = "bench", .flow_id = "one"};
    int64_t t1 = time_mono_us();
    engine_submit(en, &so1, one, &e);
    double lat = -1;
    store_state s1 = STATE_RUNNING;
    int64_t t2 = 0, tk = 0;
    long done = 0;
    int kill_asked = 0;
    double kill_s = -1;
    for (;;) {
        int64_t now = time_mono_us();
        store_execution row = {0};
        if (lat < 0 && !store_execution_get(st, one, &row, &e) && store_state_is_terminated(row.state)) {
            lat = (now - t1) / 1e6;
            s1 = row.state;
        }
        store_execution_clear(&row);
        memset(&row, 0, sizeof row);
        if (!store_execution_get(st, big, &row, &e))
            s = row.state;
        store_execution_clear(&row);
        if (!t2 && (store_state_is_terminated(s) || now - t0 >= (int64_t)run_s * US_PER_SEC)) {
            t2 = now;
            done = ended_runs(db);
            if (!store_state_is_terminated(s)) {
                kerr ek = KERR_INIT;
                tk = time_mono_us();
                kill_asked = !engine_kill(en, big, &ek);
            }
        }
        if (kill_asked && kill_s < 0 && store_state_is_terminated(s))
            kill_s = (now - tk) / 1e6;
        if (t2 && store_state_is_terminated(s) && lat >= 0)
            break;
        if (now - t0 > 1200 * US_PER_SEC)
            break;
        usleep(20000);
    }
    double rate = done / ((t2 - t0) / 1e6);
    atomic_store(&sampling, 0);
    pthread_join(smp, NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ForEach over %d values, concurrencyLimit %d: %ld task runs in %.1f s: %.0f task runs/s; "
           "one-task execution started at 2 s: %s in %.2f s; ",
           n_values, limit, done, (t2 - t0) / 1e6, rate, store_state_name(s1), lat);
    if (kill_asked)
        printf("kill: %s in %.2f s; ", store_state_name(s), kill_s);
    else
        printf("ended %s before the kill; ", store_state_name(s));
    printf("peak RSS %ld MiB, peak WAL %ld KiB, database %ld KiB\n", ru.ru_maxrss / 1024,
           (long)atomic_load(&wal_peak_kib), file_kib("kite.db"));
    fflush(stdout);
    sqlite3_close(db);
    engine_free(en);
    storage_free(fs);
    store_free(st);
    return 0;
}

int main(int argc, char **argv)
{
    tasks_register_all();
    int n_values = argc > 1 ? atoi(argv[1]) : 50000;
    int limit = argc > 2 ? atoi(argv[2]) : 0;
    int run_s = argc > 3 ? atoi(argv[3]) : 10;
    snprintf(dir, sizeof dir, "/tmp/kite-bench-foreach-%d", (int)getpid());
    mkdir(dir, 0700);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(scenario(n_values, limit, run_s));
    int status = 0;
    waitpid(pid, &status, 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
