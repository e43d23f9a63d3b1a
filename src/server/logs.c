/*
 * logs.c: /api/v1/logs/{executionId}: the lines of an execution (filtered by
 * task and level), followed live as server-sent events, or downloaded as
 * text. A follow stream ends once the execution has ended and every line
 * was sent. Also /api/v1/metrics/{executionId}: the task metrics of an
 * execution, read from the store as its logs are.
 */
#include "server/server_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <string.h>

#define LOGS_MAX 100000     /* lines in one answer */
#define LOGS_BATCH 1000     /* lines per poll of a follow stream */

typedef struct logq {
    store *st;
    char id[STORE_ID_LEN + 1];
    char *ns, *flow_id, *task_id;
    store_level min;
    int64_t since;
} logq;

static void logq_free(void *p)
{
    logq *q = p;
    free(q->ns);
    free(q->flow_id);
    free(q->task_id);
    free(q);
}

static json_t *log_json(const logq *q, const store_log *l)
{
    return engine_json_log(q->ns, q->flow_id, q->id, l);
}

/* Reads the filters and the execution; NULL after answering 400/404. */
static logq *logq_open(srv_req *r)
{
    store_level min = LEVEL_TRACE;
    const char *lv = srv_arg(r, "minLevel");
    if (lv && store_level_parse(lv, &min)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'minLevel': '%s' is not a level (TRACE, DEBUG, INFO, WARN, ERROR)",
                  lv);
        return NULL;
    }
    store_execution x = {0};
    kerr e = KERR_INIT;
    if (store_execution_get(r->s->o.store, r->params[0], &x, &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "execution %s not found", r->params[0]);
        srv_kerr_error(r, &e);
        return NULL;
    }
    logq *q = xcalloc(1, sizeof *q);
    q->st = r->s->o.store;
    snprintf(q->id, sizeof q->id, "%s", x.id);
    q->ns = xstrdup(x.namespace);
    q->flow_id = xstrdup(x.flow_id);
    const char *task = srv_arg(r, "taskId");
    q->task_id = task && *task ? xstrdup(task) : NULL;
    q->min = min;
    store_execution_clear(&x);
    return q;
}

static int logq_fetch(logq *q, size_t limit, store_log **v, size_t *n, kerr *e)
{
    store_log_query sq = {.execution_id = q->id, .task_id = q->task_id, .min_level = q->min, .since_id = q->since,
                          .limit = limit};
    return store_log_search(q->st, &sq, v, n, NULL, e);
}

enum MHD_Result srv_logs_get(srv_req *r)
{
    logq *q = logq_open(r);
    if (!q)
        return MHD_YES;
    store_log *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (logq_fetch(q, LOGS_MAX, &v, &n, &e)) {
        logq_free(q);
        return srv_kerr_error(r, &e);
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, log_json(q, &v[i]));
    store_logs_free(v, n);
    logq_free(q);
    return srv_json(r, MHD_HTTP_OK, a);
}

/* GET /api/v1/metrics/{executionId}: Kestra's PagedResults of MetricEntry
 * ({results, total}), every metric of the execution's tasks. */
enum MHD_Result srv_metrics_execution(srv_req *r)
{
    kerr e = KERR_INIT;
    json_t *a = engine_execution_metrics_json(r->s->o.store, r->params[0], &e);
    if (!a) {
        if (e.code == KERR_NOT_FOUND)
            kerr_setc(&e, KERR_NOT_FOUND, "execution %s not found", r->params[0]);
        return srv_kerr_error(r, &e);
    }
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:I,s:o}", "total", (json_int_t)json_array_size(a), "results", a));
}

static int logs_poll(void *ud, buf *out)
{
    logq *q = ud;
    kerr e = KERR_INIT;
    /* the state is read before the lines: an execution seen ended has written all its lines */
    store_execution x = {0};
    if (store_execution_get(q->st, q->id, &x, &e))
        return 1;
    int ended = store_state_is_terminated(x.state);
    store_execution_clear(&x);
    store_log *v = NULL;
    size_t n = 0;
    if (logq_fetch(q, LOGS_BATCH, &v, &n, &e))
        return 1;
    for (size_t i = 0; i < n; i++) {
        json_t *j = log_json(q, &v[i]);
        char *s = srv_dump(j);
        if (s)
            buf_printf(out, "event: log\ndata: %s\n\n", s);
        free(s);
        json_decref(j);
        q->since = v[i].id;
    }
    store_logs_free(v, n);
    return ended && n < LOGS_BATCH;
}

enum MHD_Result srv_logs_follow(srv_req *r)
{
    logq *q = logq_open(r);
    if (!q)
        return MHD_YES;
    return srv_sse(r, logs_poll, q, logq_free, 200000);
}

enum MHD_Result srv_logs_download(srv_req *r)
{
    logq *q = logq_open(r);
    if (!q)
        return MHD_YES;
    store_log *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (logq_fetch(q, LOGS_MAX, &v, &n, &e)) {
        logq_free(q);
        return srv_kerr_error(r, &e);
    }
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        char t[64];
        datetime_format(v[i].at_us, tz_utc(), t, sizeof t);
        buf_printf(&b, "%s %-5s %s %s\n", t, store_level_name(v[i].level), v[i].task_id ? v[i].task_id : "-",
                   v[i].message);
    }
    store_logs_free(v, n);
    char *fname = xasprintf("%s.log", q->id);
    logq_free(q);
    size_t len = b.len;
    char *text = engine_mask(r->s->o.engine, b.data ? b.data : "", len, &len);  /* a secret known since */
    if (text)
        buf_free(&b);
    else
        text = buf_steal(&b);
    enum MHD_Result rc = srv_download(r, "text/plain; charset=utf-8", fname, text, len, -1);
    free(fname);
    return rc;
}
