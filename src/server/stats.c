/*
 * stats.c: GET /api/v1/executions/statistics, the dashboards' numbers.
 *
 * kite's own route (Kestra's dashboards are its enterprise edition's): the
 * store computes every figure with one SQL aggregate each over the
 * executions created in [startDate, endDate) (store_execution_stats, read
 * from the executions_stats index), filtered in the query by the caller's
 * bindings, so a token scoped to a namespace sees only its numbers. This
 * file turns the rows into the answer:
 *
 *   executionsPerState  [{date, counts: {STATE: n}}], one per interval from
 *                       startDate, empty ones included (counts {})
 *   durations           [{namespace, flowId, count, p50, p95, avg, max}] in
 *                       seconds, of the ended executions, busiest flows first
 *   topFailing          [{namespace, flowId, failed, total}]
 *   taskRunsPerType     [{type, count, failed}]: the store groups task runs
 *                       by flow revision and task id; the types come from
 *                       each flow revision once.
 */
#include "server/server_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/policy.h"

#include <string.h>

#define STATS_BUCKETS_MAX 1000
#define STATS_DEFAULT_RANGE_US (86400LL * 1000000)

/* Records task id -> type for every task of a flow document (nested ones,
 * Dag entries, errors, finally, triggers' none). */
static void collect_types(const json_t *v, json_t *types)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) collect_types(x, types);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *id = json_string_value(json_object_get(v, "id"));
    const char *type = json_string_value(json_object_get(v, "type"));
    if (id && type && !json_object_get(types, id))
        json_object_set_new(types, id, json_string(type));
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "triggers") && (json_is_array(x) || json_is_object(x)))
            collect_types(x, types);
    }
}

/* The types of a flow revision's tasks, cached in cache by "ns\1flow\1rev". */
static const json_t *types_of(srv_req *r, json_t *cache, const char *ns, const char *flow_id, int rev)
{
    char *key = xasprintf("%s\1%s\1%d", ns, flow_id, rev);
    json_t *t = json_object_get(cache, key);
    if (!t) {
        t = json_object();
        store_flow f = {0};
        kerr e = KERR_INIT;
        if (!store_flow_get(r->s->o.store, ns, flow_id, rev, &f, &e)) {
            if (f.json)
                collect_types(f.json, t);
            store_flow_clear(&f);
        }
        json_object_set_new(cache, key, t);
    }
    free(key);
    return t;
}

static json_t *secs(const json_t *us)
{
    return json_is_number(us) ? json_real(json_number_value(us) / 1e6) : json_null();
}

enum MHD_Result srv_exec_stats(srv_req *r)
{
    int64_t now = time_now_us();
    int64_t from = 0, to = 0, interval = 0;
    const char *names[2] = {"startDate", "endDate"};
    int64_t *dst[2] = {&from, &to};
    for (int k = 0; k < 2; k++) {
        const char *s = srv_arg(r, names[k]);
        kerr e = KERR_INIT;
        if (s && *s && datetime_parse(s, NULL, dst[k], NULL, &e))
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query '%s': %s", names[k], e.msg);
    }
    if (!to)
        to = now;
    if (!from)
        from = to - STATS_DEFAULT_RANGE_US;
    if (to <= from)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'endDate' must come after 'startDate'");
    const char *iv = srv_arg(r, "interval");
    if (iv && *iv) {
        kerr e = KERR_INIT;
        if (duration_parse(iv, &interval, &e))
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'interval': %s", e.msg);
        if (interval < 1000000)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'interval': '%s' is shorter than a second", iv);
    } else {
        /* about 50 intervals over the range, a round width */
        static const int64_t widths[] = {60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400};
        interval = widths[sizeof widths / sizeof widths[0] - 1] * 1000000LL;
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
            if ((to - from) / (widths[i] * 1000000LL) <= 60) {
                interval = widths[i] * 1000000LL;
                break;
            }
    }
    int64_t nb = (to - from + interval - 1) / interval;
    if (nb > STATS_BUCKETS_MAX)
        return srv_error(r, MHD_HTTP_BAD_REQUEST,
                         "query 'interval': %s makes %lld intervals from startDate to endDate, more than %d: "
                         "widen the interval or narrow the range",
                         iv ? iv : "the default", (long long)nb, STATS_BUCKETS_MAX);
    size_t top = 10;
    const char *ts = srv_arg(r, "top");
    if (ts) {
        long v;
        if (srv__parse_size(ts, 1, 100, &v))
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'top': '%s' is not a number from 1 to 100", ts);
        top = (size_t)v;
    }
    srv_ns_filter nf;
    store_stats_query q = {.from_us = from,
                           .to_us = to,
                           .ns_prefix = srv_arg(r, "namespace"),
                           .flow_id = srv_arg(r, "flowId"),
                           .interval_us = interval,
                           .top = top,
                           /* a caller allowed everywhere needs no filter per row */
                           .ns_filter = srv_allowed(r, PA_EXECUTION_READ, "")
                                            ? NULL
                                            : srv_ns_filter_init(&nf, r, PA_EXECUTION_READ)};
    if (q.ns_prefix && !*q.ns_prefix)
        q.ns_prefix = NULL;
    if (q.flow_id && !*q.flow_id)
        q.flow_id = NULL;
    json_t *raw = NULL;
    kerr e = KERR_INIT;
    if (store_execution_stats(r->s->o.store, &q, &raw, &e))
        return srv_kerr_error(r, &e);

    /* executions per state, every interval */
    json_t *per = json_array();
    json_t *buckets = json_object_get(raw, "buckets");
    size_t bi = 0, nbk = json_array_size(buckets);
    for (int64_t k = 0; k < nb; k++) {
        int64_t start = from + k * interval;
        char date[48];
        datetime_format(start, tz_utc(), date, sizeof date);
        json_t *counts = json_object();
        for (; bi < nbk; bi++) {
            json_t *b = json_array_get(buckets, bi);
            if (json_integer_value(json_object_get(b, "start")) != start)
                break;
            json_object_set(counts, json_string_value(json_object_get(b, "state")), json_object_get(b, "count"));
        }
        json_array_append_new(per, json_pack("{s:s,s:o}", "date", date, "counts", counts));
    }

    json_t *durations = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(raw, "durations"), i, v)
    {
        json_array_append_new(durations,
                              json_pack("{s:O,s:O,s:O,s:o,s:o,s:o,s:o}", "namespace", json_object_get(v, "namespace"),
                                        "flowId", json_object_get(v, "flowId"), "count", json_object_get(v, "count"),
                                        "p50", secs(json_object_get(v, "p50")), "p95",
                                        secs(json_object_get(v, "p95")), "avg", secs(json_object_get(v, "avg")),
                                        "max", secs(json_object_get(v, "max"))));
    }

    /* task runs per type: (flow revision, task id, state) rows to types */
    json_t *cache = json_object(), *by_type = json_object();
    json_array_foreach(json_object_get(raw, "taskRuns"), i, v)
    {
        const json_t *types =
            types_of(r, cache, json_string_value(json_object_get(v, "namespace")),
                     json_string_value(json_object_get(v, "flowId")),
                     (int)json_integer_value(json_object_get(v, "revision")));
        const char *type = json_string_value(json_object_get(types, json_string_value(json_object_get(v, "taskId"))));
        if (!type)
            type = "(unknown)";
        json_t *t = json_object_get(by_type, type);
        if (!t) {
            t = json_pack("{s:s,s:I,s:I}", "type", type, "count", (json_int_t)0, "failed", (json_int_t)0);
            json_object_set_new(by_type, type, t);
        }
        json_int_t c = json_integer_value(json_object_get(v, "count"));
        json_object_set_new(t, "count", json_integer(json_integer_value(json_object_get(t, "count")) + c));
        const char *st = json_string_value(json_object_get(v, "state"));
        if (st && !strcmp(st, "FAILED"))
            json_object_set_new(t, "failed", json_integer(json_integer_value(json_object_get(t, "failed")) + c));
    }
    json_decref(cache);
    json_t *per_type = json_array();
    const char *k;
    json_object_foreach(by_type, k, v) json_array_append(per_type, v);
    json_decref(by_type);
    /* the most run types first, then by name */
    size_t n = json_array_size(per_type);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *x = json_array_get(per_type, b - 1), *y = json_array_get(per_type, b);
            json_int_t cx = json_integer_value(json_object_get(x, "count")), cy = json_integer_value(json_object_get(y, "count"));
            if (cx > cy || (cx == cy && strcmp(json_string_value(json_object_get(x, "type")),
                                               json_string_value(json_object_get(y, "type"))) <= 0))
                break;
            json_incref(x);
            json_array_set(per_type, b - 1, y);
            json_array_set_new(per_type, b, x);
        }

    char sd[48], ed[48], ivs[64];
    datetime_format(from, tz_utc(), sd, sizeof sd);
    datetime_format(to, tz_utc(), ed, sizeof ed);
    duration_format(interval, ivs, sizeof ivs);
    json_t *res = json_pack("{s:s,s:s,s:s,s:o,s:o,s:O,s:o}", "startDate", sd, "endDate", ed, "interval", ivs,
                            "executionsPerState", per, "durations", durations, "topFailing",
                            json_object_get(raw, "failing"), "taskRunsPerType", per_type);
    json_decref(raw);
    return srv_json(r, MHD_HTTP_OK, res);
}
