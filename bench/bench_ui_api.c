/*
 * bench_ui_api.c: what the web UI's heaviest server routes cost.
 *
 *   graph      GET /flows/{ns}/{id}/graph of a 500-task flow (sequences,
 *              Parallels, Ifs, a Dag, errors, finally): building the
 *              FlowGraph and dumping it as JSON, beside the bare dump of
 *              the flow's own JSON (what GET /flows/{ns}/{id} sends).
 *   stats      the dashboard statistics (store_execution_stats, what GET
 *              /executions/statistics runs) over 100,000 executions and
 *              300,000 task runs in a SQLite store: the whole 30 days by
 *              day, with a per-row namespace filter (a scoped token), one
 *              namespace, the last day by hour; beside a bare count(*) of
 *              the same executions.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "server/server_int.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"

static char *gen_flow(int ntasks)
{
    buf b = BUF_INIT;
    buf_puts(&b, "id: big\nnamespace: bench.ui\ntasks:\n");
    int n = 0, k = 0;
    while (n < ntasks) {
        switch (k++ % 4) {
        case 0:
            buf_printf(&b, "  - id: log%d\n    type: io.kestra.plugin.core.log.Log\n    message: \"m {{ execution.id }}\"\n",
                       n++);
            break;
        case 1:
            buf_printf(&b, "  - id: par%d\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n", n++);
            for (int i = 0; i < 8; i++)
                buf_printf(&b, "      - id: p%d\n        type: io.kestra.plugin.core.log.Log\n        message: p\n", n++);
            break;
        case 2:
            buf_printf(&b, "  - id: if%d\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n"
                           "    then:\n      - id: y%d\n        type: io.kestra.plugin.core.log.Log\n        message: y\n"
                           "    else:\n      - id: n%d\n        type: io.kestra.plugin.core.log.Log\n        message: n\n",
                       n, n + 1, n + 2);
            n += 3;
            break;
        default:
            buf_printf(&b, "  - id: dag%d\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n", n++);
            for (int i = 0; i < 6; i++) {
                buf_printf(&b, "      - task:\n          id: d%d\n          type: io.kestra.plugin.core.log.Log\n"
                               "          message: d\n", n + i);
                if (i)
                    buf_printf(&b, "        dependsOn: [d%d]\n", n + i - 1);
            }
            n += 6;
        }
    }
    buf_puts(&b, "errors:\n  - id: onerr\n    type: io.kestra.plugin.core.log.Log\n    message: e\n"
                 "finally:\n  - id: fin\n    type: io.kestra.plugin.core.log.Log\n    message: f\n");
    return buf_steal(&b);
}

static int bench_graph(void)
{
    char *src = gen_flow(500);
    json_t *doc = NULL;
    kerr e = KERR_INIT;
    if (yaml_load(src, strlen(src), NULL, &doc, NULL, &e)) {
        fprintf(stderr, "bench_ui_api: %s\n", e.msg);
        return 1;
    }
    const int iters = 200;
    size_t nodes = 0, bytes = 0;
    int64_t build = 0;
    int64_t t0 = time_mono_us();
    for (int i = 0; i < iters; i++) {
        int64_t b0 = time_mono_us();
        json_t *g = srv__flow_graph(doc);
        build += time_mono_us() - b0;
        nodes = json_array_size(json_object_get(g, "nodes"));
        char *s = json_dumps(g, JSON_COMPACT);
        bytes = strlen(s);
        free(s);
        json_decref(g);
    }
    int64_t t1 = time_mono_us();
    for (int i = 0; i < iters; i++) {
        char *s = json_dumps(doc, JSON_COMPACT);
        free(s);
    }
    int64_t t2 = time_mono_us();
    printf("graph of a 500-task flow: %.3f ms (built in %.3f ms, then dumped; %zu nodes, %zu bytes of JSON); "
           "the flow's own JSON dump: %.3f ms\n",
           (double)(t1 - t0) / iters / 1000.0, (double)build / iters / 1000.0, nodes, bytes,
           (double)(t2 - t1) / iters / 1000.0);
    json_decref(doc);
    free(src);
    return 0;
}

/* ---- the dashboard statistics ---------------------------------------------------- */

#define NEXEC 100000
#define NFLOWS 50
#define DAY_US (86400LL * 1000000)

static int only_even(void *ud, const char *ns)
{
    (void)ud;
    size_t n = strlen(ns);
    return n && (ns[n - 1] - '0') % 2 == 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median of runs of store_execution_stats(q), in ms. */
static double time_stats(store *st, const store_stats_query *q, int runs, size_t *buckets)
{
    int64_t t[16];
    for (int i = 0; i < runs; i++) {
        json_t *out = NULL;
        kerr e = KERR_INIT;
        int64_t t0 = time_mono_us();
        if (store_execution_stats(st, q, &out, &e)) {
            fprintf(stderr, "bench_ui_api: %s\n", e.msg);
            exit(1);
        }
        t[i] = time_mono_us() - t0;
        *buckets = json_array_size(json_object_get(out, "buckets"));
        json_decref(out);
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_i64);
    return (double)t[runs / 2] / 1000.0;
}

static int bench_stats(void)
{
    char dir[] = "/tmp/kite-bench-ui-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char tdir[512];
    snprintf(tdir, sizeof tdir, "%s/kite-bench-ui-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(tdir[0] ? tdir : dir);
    if (!d) {
        perror("bench_ui_api: mkdtemp");
        return 1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/kite.db", d);
    store *st = NULL;
    kerr e = KERR_INIT;
    if (store_open(path, NULL, &st, &e)) {
        fprintf(stderr, "bench_ui_api: %s\n", e.msg);
        return 1;
    }
    store_free(st);
    /* the rows, written straight in one transaction (the store's own inserts
     * would take minutes here: what is measured is the reading) */
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *fl, *ex, *tr;
    sqlite3_prepare_v2(db, "INSERT INTO flows (namespace, id, revision, source, json, created) VALUES (?1, ?2, 1, '', ?3, 0)",
                       -1, &fl, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO executions (id, namespace, flow_id, flow_revision, state, histories, created,"
                           " start_date, end_date, version) VALUES (?1, ?2, ?3, 1, ?4, '[]', ?5, ?5, ?6, 1)",
                       -1, &ex, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO task_runs (execution_id, seq, id, task_id, state, histories, attempts, created,"
                           " updated) VALUES (?1, ?2, ?3, ?4, ?5, '[]', '[]', 0, 0)",
                       -1, &tr, NULL);
    for (int f = 0; f < NFLOWS; f++) {
        char ns[32], id[32];
        snprintf(ns, sizeof ns, "bench.ns%d", f % 10);
        snprintf(id, sizeof id, "flow%d", f);
        sqlite3_bind_text(fl, 1, ns, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(fl, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(fl, 3,
                          "{\"tasks\":[{\"id\":\"t0\",\"type\":\"io.kestra.plugin.core.log.Log\"},"
                          "{\"id\":\"t1\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\"},"
                          "{\"id\":\"t2\",\"type\":\"io.kestra.plugin.core.http.Request\"}]}",
                          -1, SQLITE_STATIC);
        sqlite3_step(fl);
        sqlite3_reset(fl);
    }
    int64_t now = time_now_us(), from = now - 30 * DAY_US;
    unsigned seed = 42;
    for (int i = 0; i < NEXEC; i++) {
        char id[32], ns[32], fid[32];
        int f = (int)(rand_r(&seed) % NFLOWS);
        int r = (int)(rand_r(&seed) % 100);
        const char *state = r < 85 ? "SUCCESS" : r < 95 ? "FAILED" : "KILLED";
        int64_t created = from + (int64_t)((double)i / NEXEC * 30 * DAY_US);
        int64_t dur = (int64_t)(rand_r(&seed) % 600000) * 1000;
        snprintf(id, sizeof id, "x%07d", i);
        snprintf(ns, sizeof ns, "bench.ns%d", f % 10);
        snprintf(fid, sizeof fid, "flow%d", f);
        sqlite3_bind_text(ex, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ex, 2, ns, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ex, 3, fid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ex, 4, state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ex, 5, created);
        sqlite3_bind_int64(ex, 6, created + dur);
        sqlite3_step(ex);
        sqlite3_reset(ex);
        for (int k = 0; k < 3; k++) {
            char tid[40], task[8];
            snprintf(tid, sizeof tid, "%s-%d", id, k);
            snprintf(task, sizeof task, "t%d", k);
            sqlite3_bind_text(tr, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(tr, 2, k);
            sqlite3_bind_text(tr, 3, tid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(tr, 4, task, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(tr, 5, k == 2 && !strcmp(state, "FAILED") ? "FAILED" : "SUCCESS", -1, SQLITE_STATIC);
            sqlite3_step(tr);
            sqlite3_reset(tr);
        }
    }
    sqlite3_finalize(fl);
    sqlite3_finalize(ex);
    sqlite3_finalize(tr);
    sqlite3_exec(db, "COMMIT; ANALYZE", NULL, NULL, NULL);
    /* the bare count over the same range, for scale */
    sqlite3_stmt *cnt;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM executions WHERE created >= ?1 AND created < ?2", -1, &cnt, NULL);
    int64_t c0 = time_mono_us();
    sqlite3_bind_int64(cnt, 1, from);
    sqlite3_bind_int64(cnt, 2, now);
    sqlite3_step(cnt);
    int64_t counted = sqlite3_column_int64(cnt, 0);
    double count_ms = (double)(time_mono_us() - c0) / 1000.0;
    sqlite3_finalize(cnt);
    sqlite3_close(db);

    if (store_open(path, NULL, &st, &e)) {
        fprintf(stderr, "bench_ui_api: %s\n", e.msg);
        return 1;
    }
    size_t nb = 0;
    store_stats_query q = {.from_us = from, .to_us = now, .interval_us = DAY_US};
    double all = time_stats(st, &q, 5, &nb);
    store_ns_filter half = {.allow = only_even};
    store_stats_query qf = q;
    qf.ns_filter = &half;
    double scoped = time_stats(st, &qf, 5, &nb);
    store_stats_query qd = {.from_us = now - DAY_US, .to_us = now, .interval_us = 3600LL * 1000000};
    size_t nbd = 0;
    double day = time_stats(st, &qd, 5, &nbd);
    store_stats_query qn = q;
    qn.ns_prefix = "bench.ns3";
    double one_ns = time_stats(st, &qn, 5, &nb);
    printf("statistics over %lld executions and %lld task runs (30 days, P1D): %.1f ms (median of 5); "
           "with a namespace filter per row (half the namespaces, as a scoped token): %.1f ms; "
           "namespace=bench.ns3: %.1f ms; the last day (PT1H, %zu state rows): %.1f ms; "
           "a bare count(*) of the range: %.1f ms\n",
           (long long)counted, (long long)counted * 3, all, scoped, one_ns, nbd, day, count_ms);
    store_free(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (getenv("BENCH_UI_KEEP"))
        printf("kept %s\n", path);
    else if (system(cmd))
        fprintf(stderr, "bench_ui_api: cannot remove %s\n", d);
    return 0;
}

int main(void)
{
    tasks_register_all();
    int rc = bench_graph();
    if (!rc)
        rc = bench_stats();
    return rc;
}
