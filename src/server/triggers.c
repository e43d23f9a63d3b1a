/*
 * triggers.c: /api/v1/triggers: the triggers declared by flows with their
 * state (search), and enabling, disabling or backfilling one (PUT).
 *
 * The scheduler (src/sched/) owns the trigger rows; the API changes only
 * `disabled` in a row (store_trigger_put), which the scheduler re-reads on
 * its next pass (told at once by sched_flows_changed), and asks the
 * scheduler for backfills (sched_backfill: the ticks fire in this request,
 * guarded by the same unique key as the schedule's own).
 */
#include "server/server_int.h"
#include "util/policy.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <string.h>

static json_t *time_or_null(int64_t us)
{
    if (!us)
        return json_null();
    char t[64];
    datetime_format(us, tz_utc(), t, sizeof t);
    return json_string(t);
}

static json_t *context_json(const char *ns, const char *flow_id, const char *trigger_id, const store_trigger *row)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:b}", "namespace", ns, "flowId", flow_id, "triggerId", trigger_id,
                          "disabled", row ? row->disabled : 0);
    if (row) {
        json_object_set_new(c, "nextExecutionDate", time_or_null(row->next_us));
        json_object_set_new(c, "date", time_or_null(row->last_fired_us));
        json_object_set_new(c, "updatedDate", time_or_null(row->updated_us));
        if (row->state) {
            json_t *err = json_object_get(row->state, "lastError");
            if (err)
                json_object_set(c, "lastError", err);
        }
    }
    return c;
}

enum MHD_Result srv_triggers_search(srv_req *r)
{
    size_t off, lim;
    if (srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    const char *want_flow = srv_arg(r, "flowId");
    const char *text = srv_arg(r, "q");
    if (text && strlen(text) > SRV_QUERY_MAX)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'q' is longer than %d bytes", SRV_QUERY_MAX);
    srv_ns_filter nf;
    store_flow_query q = {.ns_prefix = srv_arg(r, "namespace"), .text = srv_arg(r, "q"), .limit = 100000,
                          .ns_filter = srv_ns_filter_init(&nf, r, PA_TRIGGER_READ)};
    store_flow *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_flow_search(r->s->o.store, &q, &v, &n, NULL, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (want_flow && strcmp(v[i].id, want_flow))
            continue;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(v[i].json, "triggers"), k, t)
        {
            const char *tid = json_string_value(json_object_get(t, "id"));
            if (!tid)
                continue;
            if (total >= off && total < off + lim) {
                store_trigger row = {0};
                kerr e2 = KERR_INIT;
                int have = store_trigger_get(r->s->o.store, v[i].namespace, v[i].id, tid, &row, &e2) == STORE_OK;
                json_t *ctx = context_json(v[i].namespace, v[i].id, tid, have ? &row : NULL);
                if (json_is_true(json_object_get(t, "disabled")))
                    json_object_set_new(ctx, "disabled", json_true());
                json_array_append_new(res, json_pack("{s:O,s:o}", "abstractTrigger", t, "triggerContext", ctx));
                if (have)
                    store_trigger_clear(&row);
            }
            total++;
        }
    }
    store_flows_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

/* PUT /api/v1/triggers {"namespace", "flowId", "triggerId", "disabled": bool,
 * "backfill": {"start": date, "end": date}} */
enum MHD_Result srv_triggers_update(srv_req *r)
{
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    enum MHD_Result rc;
    const char *ns = json_string_value(json_object_get(b, "namespace"));
    const char *flow_id = json_string_value(json_object_get(b, "flowId"));
    const char *tid = json_string_value(json_object_get(b, "triggerId"));
    json_t *dis = json_object_get(b, "disabled");
    json_t *bf = json_object_get(b, "backfill");
    if (!ns || !flow_id || !tid) {
        rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "the body needs 'namespace', 'flowId' and 'triggerId' (strings)");
        goto out;
    }
    if (dis && !json_is_boolean(dis)) {
        rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "'disabled' must be true or false");
        goto out;
    }
    store_flow sf = {0};
    kerr e = KERR_INIT;
    if (!srv_allowed(r, PA_TRIGGER_WRITE, ns)) {
        if (srv_allowed(r, PA_TRIGGER_READ, ns))
            srv_authorize(r, PA_TRIGGER_WRITE, ns);
        else
            srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s not found", ns, flow_id);
        rc = MHD_YES;
        goto out;
    }
    if (store_flow_get(r->s->o.store, ns, flow_id, 0, &sf, &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "flow %s.%s not found", ns, flow_id);
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    int found = 0;
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(sf.json, "triggers"), k, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        if (id && !strcmp(id, tid))
            found = 1;
    }
    store_flow_clear(&sf);
    if (!found) {
        rc = srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s has no trigger '%s'", ns, flow_id, tid);
        goto out;
    }
    if (bf) {
        const char *s0 = json_string_value(json_object_get(bf, "start"));
        const char *s1 = json_string_value(json_object_get(bf, "end"));
        int64_t start = 0, end = store_now_us();
        if (!s0 || datetime_parse(s0, NULL, &start, NULL, &e)) {
            rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "'backfill.start' must be a date-time: %s",
                           s0 ? e.msg : "missing");
            goto out;
        }
        if (s1 && datetime_parse(s1, NULL, &end, NULL, &e)) {
            rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "'backfill.end': %s", e.msg);
            goto out;
        }
        if (!r->s->o.sched) {
            rc = srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "backfills need the scheduler, which this server does not run");
            goto out;
        }
        int nfired = sched_backfill(r->s->o.sched, ns, flow_id, tid, start, end, &e);
        if (nfired < 0) {
            rc = srv_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "%s", e.msg);
            goto out;
        }
        json_object_set_new(b, "backfillExecutions", json_integer(nfired));
    }
    store_trigger row = {0};
    if (store_trigger_get(r->s->o.store, ns, flow_id, tid, &row, &e)) {
        if (e.code != STORE_NOT_FOUND) {
            rc = srv_kerr_error(r, &e);
            goto out;
        }
        row.namespace = xstrdup(ns);
        row.flow_id = xstrdup(flow_id);
        row.trigger_id = xstrdup(tid);
    }
    if (dis) {
        row.disabled = json_is_true(dis);
        if (store_trigger_put(r->s->o.store, &row, &e)) {
            store_trigger_clear(&row);
            rc = srv_kerr_error(r, &e);
            goto out;
        }
        if (r->s->o.sched)
            sched_flows_changed(r->s->o.sched);
    }
    json_t *ctx = context_json(ns, flow_id, tid, &row);
    store_trigger_clear(&row);
    {
        char oid[3 * STORE_ID_MAX + 3];
        snprintf(oid, sizeof oid, "%s.%s", flow_id, tid);
        srv_audit(r, "trigger:write", "trigger", ns, oid, NULL, b);
    }
    if (json_object_get(b, "backfillExecutions"))
        json_object_set(ctx, "backfillExecutions", json_object_get(b, "backfillExecutions"));
    rc = srv_json(r, MHD_HTTP_OK, ctx);
out:
    json_decref(b);
    return rc;
}
