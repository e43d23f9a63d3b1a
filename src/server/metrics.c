/*
 * metrics.c: GET /metrics in Prometheus' text format (version 0.0.4).
 *
 * Everything is read from the store at scrape time, so the figures are
 * those of every kite process sharing the store, not only this one:
 * executions by state (one indexed count per state), the job queue's depth
 * by kind, and durations and task runs over a window of the most recent
 * ended executions (the store keeps no running sums). HTTP counters are
 * this process's.
 */
#include "server/server_int.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define DURATION_WINDOW 1000
#define TASKRUN_WINDOW 100

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum MHD_Result srv_metrics(srv_req *r)
{
    store *st = r->s->o.store;
    kerr e = KERR_INIT;
    buf b;
    buf_init(&b, 0);
    buf_puts(&b, "# HELP kite_executions Executions in the store by current state.\n"
                 "# TYPE kite_executions gauge\n");
    for (int s = 0; s < STATE__COUNT; s++) {
        store_execution_query q = {.states = STORE_STATE_BIT(s), .limit = 1};
        store_execution *v = NULL;
        size_t n = 0;
        int64_t total = 0;
        if (store_execution_search(st, &q, &v, &n, &total, &e))
            goto fail;
        store_executions_free(v, n);
        buf_printf(&b, "kite_executions{state=\"%s\"} %lld\n", store_state_name((store_state)s), (long long)total);
    }
    buf_puts(&b, "# HELP kite_queue_jobs Jobs in the durable queue (waiting: ready or delayed; leased: held by "
                 "a worker or the executor).\n# TYPE kite_queue_jobs gauge\n");
    static const char *const kinds[] = {"task", "event", NULL};
    for (int k = 0; k < 3; k++) {
        int64_t waiting = 0, leased = 0;
        if (store_queue_depth(st, kinds[k], &waiting, &leased, &e))
            goto fail;
        const char *kind = kinds[k] ? kinds[k] : "all";
        buf_printf(&b, "kite_queue_jobs{kind=\"%s\",status=\"waiting\"} %lld\n", kind, (long long)waiting);
        buf_printf(&b, "kite_queue_jobs{kind=\"%s\",status=\"leased\"} %lld\n", kind, (long long)leased);
    }
    /* durations over the most recent ended executions */
    unsigned ended = 0;
    for (int s = 0; s < STATE__COUNT; s++)
        if (store_state_is_terminated((store_state)s))
            ended |= STORE_STATE_BIT(s);
    store_execution_query q = {.states = ended, .limit = DURATION_WINDOW};
    store_execution *xs = NULL;
    size_t n = 0;
    if (store_execution_search(st, &q, &xs, &n, NULL, &e))
        goto fail;
    double *d = xcalloc(n + 1, sizeof *d);
    double sum = 0;
    size_t nd = 0;
    int64_t tr[STATE__COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        if (xs[i].n_histories >= 2) {
            d[nd] = (double)(xs[i].histories[xs[i].n_histories - 1].at_us - xs[i].histories[0].at_us) / 1e6;
            sum += d[nd++];
        }
        if (i < TASKRUN_WINDOW) {
            store_task_run *runs = NULL;
            size_t nr = 0;
            if (!store_task_run_list(st, xs[i].id, &runs, &nr, &e)) {
                for (size_t j = 0; j < nr; j++)
                    if (runs[j].state < STATE__COUNT)
                        tr[runs[j].state]++;
                store_task_runs_free(runs, nr);
            }
        }
    }
    store_executions_free(xs, n);
    qsort(d, nd, sizeof *d, cmp_double);
    buf_printf(&b,
               "# HELP kite_execution_duration_seconds Duration of the %d most recent ended executions.\n"
               "# TYPE kite_execution_duration_seconds summary\n",
               DURATION_WINDOW);
    static const double qs[] = {0.5, 0.9, 0.99};
    for (int k = 0; k < 3; k++)
        buf_printf(&b, "kite_execution_duration_seconds{quantile=\"%g\"} %.6f\n", qs[k],
                   nd ? d[(size_t)(qs[k] * (double)(nd - 1) + 0.5)] : 0.0);
    buf_printf(&b, "kite_execution_duration_seconds_sum %.6f\nkite_execution_duration_seconds_count %zu\n", sum, nd);
    free(d);
    buf_printf(&b,
               "# HELP kite_taskruns Task runs of the %d most recent ended executions, by state.\n"
               "# TYPE kite_taskruns gauge\n",
               TASKRUN_WINDOW);
    for (int s = 0; s < STATE__COUNT; s++)
        if (tr[s])
            buf_printf(&b, "kite_taskruns{state=\"%s\"} %lld\n", store_state_name((store_state)s), (long long)tr[s]);
    buf_printf(&b,
               "# HELP kite_http_requests_total HTTP requests served by this process.\n"
               "# TYPE kite_http_requests_total counter\nkite_http_requests_total %lld\n"
               "# HELP kite_http_errors_total HTTP answers with an error status, by class.\n"
               "# TYPE kite_http_errors_total counter\n"
               "kite_http_errors_total{class=\"4xx\"} %lld\nkite_http_errors_total{class=\"5xx\"} %lld\n"
               "# HELP kite_http_connections_closed_total Connections the guard closed: evicted to make room for a "
               "new one, or past their header or request deadline.\n"
               "# TYPE kite_http_connections_closed_total counter\n"
               "kite_http_connections_closed_total{reason=\"evicted\"} %lld\n"
               "kite_http_connections_closed_total{reason=\"deadline\"} %lld\n"
               "# HELP kite_http_busy_total Requests refused with 503 because the request bodies held in memory "
               "reached their budget.\n# TYPE kite_http_busy_total counter\nkite_http_busy_total %lld\n"
               "# HELP kite_webhook_requests_total Webhook calls received.\n"
               "# TYPE kite_webhook_requests_total counter\nkite_webhook_requests_total %lld\n",
               (long long)__atomic_load_n(&r->s->requests, __ATOMIC_RELAXED), (long long)__atomic_load_n(&r->s->errors_4xx, __ATOMIC_RELAXED), (long long)__atomic_load_n(&r->s->errors_5xx, __ATOMIC_RELAXED),
               (long long)__atomic_load_n(&r->s->evicted, __ATOMIC_RELAXED),
               (long long)__atomic_load_n(&r->s->deadline_closed, __ATOMIC_RELAXED),
               (long long)__atomic_load_n(&r->s->busy_refused, __ATOMIC_RELAXED),
               (long long)__atomic_load_n(&r->s->webhooks, __ATOMIC_RELAXED));
    enum MHD_Result rc = srv_text(r, MHD_HTTP_OK, "text/plain; version=0.0.4", buf_str(&b), b.len);
    buf_free(&b);
    return rc;
fail:
    buf_free(&b);
    return srv_kerr_error(r, &e);
}
