/*
 * bench_sched.c: the scheduler's figures on a real SQLite store in a
 * temporary folder.
 *
 *  1. 10,000 flows with a Schedule each: the time to read them all (a
 *     forced refresh: store search, YAML->cache, cron parse, trigger rows),
 *     then passes with nothing due: schedules evaluated per second.
 *  2. The same 10,000 schedules all due at once: ticks fired per second
 *     (one transaction each: execution + tick + trigger row).
 *  3. Flow triggers without an engine hook: a pass over 1,000 / 5,000
 *     executions that ended in the last seconds (what polling costs).
 *  4. End to end: a started engine and the scheduler's thread on the wall
 *     clock, a schedule every second whose flow logs one line: from the
 *     tick's date to the execution's start and to its end (p50, max).
 *  5. Polling triggers (polltrigger.c): 100 flows with an SQLite Trigger on
 *     one source file, a pass polling all of them when the query finds
 *     nothing and when each finds a row (poll + afterSQL + execution +
 *     COMMIT), next to the same SELECT on an open sqlite3 connection.
 *
 * Prints figures only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine/engine.h"
#include "sched/sched.h"
#include "storage/storage.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/mem.h"

#define NFLOWS 10000

typedef struct env {
    char dir[64];
    store *st;
    storage *fs;
    engine *en;
} env;

static void die(const char *what, const kerr *e)
{
    fprintf(stderr, "bench_sched: %s: %s\n", what, e->msg);
    exit(1);
}

static void env_open(env *v, int workers)
{
    kerr e = KERR_INIT;
    snprintf(v->dir, sizeof v->dir, "/tmp/kite-bench-sched-XXXXXX");
    if (!mkdtemp(v->dir))
        exit(1);
    char *url = xasprintf("sqlite:%s/kite.db", v->dir);
    if (store_open(url, NULL, &v->st, &e))
        die("store", &e);
    free(url);
    char *root = xasprintf("%s/storage", v->dir);
    v->fs = storage_open_local(root, &e);
    free(root);
    if (!v->fs)
        die("storage", &e);
    engine_opts o = {.store = v->st, .storage = v->fs, .workers = workers};
    v->en = engine_new(&o, &e);
    if (!v->en)
        die("engine", &e);
}

static void env_close(env *v)
{
    engine_free(v->en);
    storage_free(v->fs);
    store_free(v->st);
    char *cmd = xasprintf("rm -rf '%s'", v->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", v->dir);
    free(cmd);
}

static void put(env *v, const char *id, const char *cron, int secs)
{
    char *y = xasprintf("id: %s\nnamespace: bench.sched\n"
                        "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                        "    cron: \"%s\"\n%s"
                        "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: tick\n",
                        id, cron, secs ? "    withSeconds: true\n" : "");
    diags d = DIAGS_INIT;
    if (engine_flow_put(v->en, y, strlen(y), id, NULL, &d)) {
        fprintf(stderr, "bench_sched: flow %s does not load\n", id);
        exit(1);
    }
    diags_free(&d);
    free(y);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void many_schedules(void)
{
    env v;
    env_open(&v, 2);
    int64_t t0 = time_mono_us();
    for (int i = 0; i < NFLOWS; i++) {
        char id[32];
        snprintf(id, sizeof id, "f%05d", i);
        /* minute i % 60 of every hour: spread, nothing due in the first pass */
        char cron[32];
        snprintf(cron, sizeof cron, "%d * * * *", i % 60);
        put(&v, id, cron, 0);
    }
    printf("put %d flows with a schedule: %.2f s\n", NFLOWS, (double)(time_mono_us() - t0) / 1e6);
    kerr e = KERR_INIT;
    sched_opts o = {.flow_triggers = -1, .refresh_us = 3600LL * US_PER_SEC};
    sched *s = sched_new(v.en, v.st, &o, &e);
    int64_t base = 1767571200LL * US_PER_SEC + 30 * US_PER_SEC; /* 00:00:30 */
    t0 = time_mono_us();
    if (sched_tick(s, base, &e) < 0)
        die("first pass", &e);
    printf("first pass over %d schedules (read flows, parse, write %d trigger rows): %.1f ms\n", NFLOWS,
           NFLOWS, (double)(time_mono_us() - t0) / 1e3);
    int passes = 200;
    t0 = time_mono_us();
    for (int i = 0; i < passes; i++)
        if (sched_tick(s, base + 1000, &e) < 0)
            die("pass", &e);
    double us = (double)(time_mono_us() - t0) / passes;
    printf("pass with nothing due over %d schedules: %.1f us, %.2f million schedule evaluations/s\n",
           NFLOWS, us, NFLOWS / us);
    sched_flows_changed(s);
    t0 = time_mono_us();
    if (sched_tick(s, base + 2000, &e) < 0)
        die("refresh", &e);
    printf("refresh of %d unchanged flows (store search + trigger rows): %.1f ms\n", NFLOWS,
           (double)(time_mono_us() - t0) / 1e3);
    /* one hour later every schedule is due once */
    t0 = time_mono_us();
    int n = sched_tick(s, base + 3600LL * US_PER_SEC, &e);
    if (n < 0)
        die("fire", &e);
    double secs = (double)(time_mono_us() - t0) / 1e6;
    printf("%d due schedules fired in one pass: %.2f s, %.0f ticks/s (execution + tick + row, one "
           "transaction each)\n",
           n, secs, n / secs);
    sched_free(s);
    env_close(&v);
}

static void watch_cost(int nexec)
{
    env v;
    env_open(&v, 2);
    char *y = xstrdup("id: listen\nnamespace: bench.watch\n"
                      "triggers:\n  - id: f\n    type: io.kestra.plugin.core.trigger.Flow\n"
                      "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n"
                      "        in: [KILLED]\n"
                      "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    diags d = DIAGS_INIT;
    if (engine_flow_put(v.en, y, strlen(y), "listen", NULL, &d))
        exit(1);
    free(y);
    kerr e = KERR_INIT;
    sched_opts o = {0};
    sched *s = sched_new(v.en, v.st, &o, &e);
    if (sched_tick(s, time_now_us(), &e) < 0)
        die("first pass", &e);
    store_begin(v.st, &e);
    for (int i = 0; i < nexec; i++) {
        char id[STORE_ID_LEN + 1];
        store_new_id(id);
        store_execution x = {.id = id, .namespace = "bench.up", .flow_id = "up", .flow_revision = 1};
        int64_t now = time_now_us();
        store_execution_set_state(&x, STATE_CREATED, now);
        store_execution_set_state(&x, STATE_SUCCESS, now);
        x.end_us = now;
        if (store_execution_insert(v.st, &x, &e))
            die("insert", &e);
        free(x.histories);
    }
    store_commit(v.st, &e);
    int64_t t0 = time_mono_us();
    if (sched_tick(s, time_now_us(), &e) < 0)
        die("pass", &e);
    double first = (double)(time_mono_us() - t0) / 1e3;
    t0 = time_mono_us();
    if (sched_tick(s, time_now_us(), &e) < 0)
        die("pass", &e);
    double second = (double)(time_mono_us() - t0) / 1e3;
    printf("flow triggers by polling, %d executions ended in the last seconds: first pass %.1f ms "
           "(reads and matches them), next pass %.1f ms (reads them again, already handled)\n",
           nexec, first, second);
    sched_free(s);
    env_close(&v);
}

static void end_to_end(void)
{
    env v;
    env_open(&v, 2);
    put(&v, "e2e", "* * * * * *", 1);
    kerr e = KERR_INIT;
    if (engine_start(v.en, &e))
        die("engine_start", &e);
    sched_opts o = {0};
    sched *s = sched_new(v.en, v.st, &o, &e);
    if (sched_start(s, &e))
        die("sched_start", &e);
    sleep(6);
    sched_stop(s);
    usleep(500 * 1000);
    engine_stop(v.en, US_PER_SEC);
    store_execution_query q = {.flow_id = "e2e"};
    store_execution *x = NULL;
    size_t n = 0;
    if (store_execution_search(v.st, &q, &x, &n, NULL, &e))
        die("search", &e);
    int64_t *start = xcalloc(n + 1, sizeof *start), *end = xcalloc(n + 1, sizeof *end);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_object_get(x[i].trigger, "date"));
        int64_t due;
        if (!d || datetime_parse(d, NULL, &due, NULL, &e) || !x[i].end_us)
            continue;
        start[k] = x[i].created_us - due;
        end[k] = x[i].end_us - due;
        k++;
    }
    qsort(start, k, sizeof *start, cmp64);
    qsort(end, k, sizeof *end, cmp64);
    if (k)
        printf("schedule every second, %zu ticks ended: due -> execution created p50 %.2f ms max %.2f "
               "ms; due -> execution ended (one Log task) p50 %.2f ms max %.2f ms\n",
               k, start[k / 2] / 1e3, start[k - 1] / 1e3, end[k / 2] / 1e3, end[k - 1] / 1e3);
    else
        printf("schedule every second: no execution ended\n");
    free(start);
    free(end);
    store_executions_free(x, n);
    sched_free(s);
    env_close(&v);
}

#define NPOLL 100

static void poll_cost(void)
{
    env v;
    env_open(&v, 2);
    char *src = xasprintf("%s/src.db", v.dir);
    sqlite3 *db;
    if (sqlite3_open(src, &db) ||
        sqlite3_exec(db, "CREATE TABLE q(flow TEXT, done INTEGER DEFAULT 0); CREATE INDEX q_f ON q(flow, done);",
                     NULL, NULL, NULL)) {
        fprintf(stderr, "bench_sched: source db: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    for (int i = 0; i < NPOLL; i++) {
        char id[32];
        snprintf(id, sizeof id, "p%03d", i);
        char *y = xasprintf("id: %s\nnamespace: bench.poll\n"
                            "triggers:\n  - id: t\n    type: io.kestra.plugin.jdbc.sqlite.Trigger\n"
                            "    url: jdbc:sqlite:%s\n    interval: PT1S\n    fetchType: FETCH\n"
                            "    sql: SELECT rowid FROM q WHERE flow = '%s' AND done = 0\n"
                            "    afterSQL: UPDATE q SET done = 1 WHERE flow = '%s'\n"
                            "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: row\n",
                            id, src, id, id);
        diags d = DIAGS_INIT;
        if (engine_flow_put(v.en, y, strlen(y), id, NULL, &d)) {
            fprintf(stderr, "bench_sched: flow %s does not load\n", id);
            exit(1);
        }
        diags_free(&d);
        free(y);
    }
    kerr e = KERR_INIT;
    sched_opts o = {.flow_triggers = -1, .refresh_us = 3600LL * US_PER_SEC};
    sched *s = sched_new(v.en, v.st, &o, &e);
    int64_t now = 1767571200LL * US_PER_SEC;
    if (sched_tick(s, now, &e) < 0) /* loads the flows, first polls */
        die("first pass", &e);
    int passes = 20;
    int64_t t0 = time_mono_us();
    for (int i = 1; i <= passes; i++)
        if (sched_tick(s, now + i * US_PER_SEC, &e) != 0)
            die("empty pass", &e);
    double empty_us = (double)(time_mono_us() - t0) / (passes * NPOLL);
    /* the same SELECT, bare */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT rowid FROM q WHERE flow = 'p001' AND done = 0", -1, &st, NULL);
    int n = 20000;
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        sqlite3_reset(st);
    }
    double bare_us = (double)(time_mono_us() - t0) / n;
    sqlite3_finalize(st);
    printf("sqlite trigger poll, nothing found: %.1f us a poll (%d flows x %d passes); the bare SELECT on an "
           "open connection: %.2f us (x%.0f: pool, BEGIN/ROLLBACK, render, task context)\n",
           empty_us, NPOLL, passes, bare_us, empty_us / bare_us);
    int fired = 0;
    double fire_s = 0;
    for (int r = 0; r < 5; r++) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (int i = 0; i < NPOLL; i++) {
            char *ins = sqlite3_mprintf("INSERT INTO q(flow) VALUES ('p%03d')", i);
            sqlite3_exec(db, ins, NULL, NULL, NULL);
            sqlite3_free(ins);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        t0 = time_mono_us();
        int k = sched_tick(s, now + (passes + 1 + r) * US_PER_SEC, &e);
        fire_s += (double)(time_mono_us() - t0) / 1e6;
        if (k < 0)
            die("firing pass", &e);
        fired += k;
    }
    /* what the source's own commit costs (rollback journal, fsync): the floor */
    t0 = time_mono_us();
    for (int i = 0; i < 50; i++)
        sqlite3_exec(db, "BEGIN; UPDATE q SET done = 1 WHERE flow = 'p000'; COMMIT", NULL, NULL, NULL);
    double commit_ms = (double)(time_mono_us() - t0) / 50 / 1e3;
    printf("sqlite trigger poll that fires: %d executions in %.2f s, %.2f ms each (query + afterSQL + "
           "execution and tick committed + COMMIT); a bare UPDATE + COMMIT on the source: %.2f ms\n",
           fired, fire_s, fired ? fire_s * 1e3 / fired : 0.0, commit_ms);
    sqlite3_close(db);
    free(src);
    sched_free(s);
    env_close(&v);
}

int main(void)
{
    tasks_register_all();
    many_schedules();
    watch_cost(1000);
    watch_cost(5000);
    end_to_end();
    poll_cost();
    return 0;
}
