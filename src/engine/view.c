/*
 * view.c: Kestra's JSON of kite's rows: executions, task runs, flows and
 * log lines, as the API answers them and as the UI will show them.
 *
 * DESIGN
 * This is the one home of those shapes: the server, `kite run --json` and
 * the coming UI call these functions rather than build their own, so a
 * field renamed here is renamed everywhere. Every function takes rows (it
 * reads nothing), but engine_execution_json, which reads an execution and
 * its task runs from the engine's store. Dates are ISO-8601 in UTC, with
 * microseconds when there are some (datetime_format).
 */
#include "engine/engine_int.h"
#include "util/datetime.h"

#include <stdint.h>
#include <string.h>

/* ---- pieces ------------------------------------------------------------------------------- */

static json_t *date_text(int64_t us)
{
    char t[64];
    datetime_format(us, tz_utc(), t, sizeof t);
    return json_string_nocheck(t); /* ASCII */
}

json_t *engine_json_time(int64_t us)
{
    return us ? date_text(us) : json_null();
}

json_t *engine_json_labels(const json_t *labels)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) json_array_append_new(a, json_pack("{s:s,s:O}", "key", k, "value", v));
    return a;
}

/* Built with json_object_set_new rather than json_pack: an answer about an
 * execution builds two of these per task run, and pack parses its format
 * each time. */
json_t *engine_json_state(store_state st, const store_history *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_object();
        json_object_set_new_nocheck(it, "state", json_string_nocheck(store_state_name(h[i].state)));
        json_object_set_new_nocheck(it, "date", date_text(h[i].at_us));
        json_array_append_new(a, it);
    }
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "current", json_string_nocheck(store_state_name(st)));
    json_object_set_new_nocheck(o, "histories", a);
    if (n) {
        json_object_set_new_nocheck(o, "startDate", date_text(h[0].at_us));
        if (store_state_is_terminated(st)) {
            json_object_set_new_nocheck(o, "endDate", date_text(h[n - 1].at_us));
            char d[64];
            duration_format(h[n - 1].at_us - h[0].at_us, d, sizeof d);
            json_object_set_new_nocheck(o, "duration", json_string_nocheck(d));
        }
    }
    return o;
}

/* ---- rows --------------------------------------------------------------------------------- */

json_t *engine_json_execution(const store_execution *x)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:o,s:O?,s:O?,s:o}", "id", x->id, "namespace", x->namespace, "flowId",
                          x->flow_id, "flowRevision", x->flow_revision, "state",
                          engine_json_state(x->state, x->histories, x->n_histories), "inputs", x->inputs, "outputs",
                          x->outputs, "labels", engine_json_labels(x->labels));
    if (x->original_id)
        json_object_set_new(o, "originalId", json_string(x->original_id));
    if (x->parent_id)
        json_object_set_new(o, "parentId", json_string(x->parent_id));
    if (x->trigger)
        json_object_set(o, "trigger", x->trigger);
    return o;
}

json_t *engine_json_task_run(const store_execution *x, const store_task_run *t)
{
    json_t *tr = json_object();
    json_object_set_new_nocheck(tr, "id", json_string(t->id));
    json_object_set_new_nocheck(tr, "executionId", json_string(t->execution_id));
    json_object_set_new_nocheck(tr, "namespace", json_string(x->namespace));
    json_object_set_new_nocheck(tr, "flowId", json_string(x->flow_id));
    json_object_set_new_nocheck(tr, "taskId", json_string(t->task_id));
    json_object_set_new_nocheck(tr, "state", engine_json_state(t->state, t->histories, t->n_histories));
    if (t->parent_task_run_id)
        json_object_set_new(tr, "parentTaskRunId", json_string(t->parent_task_run_id));
    if (t->value)
        json_object_set_new(tr, "value", json_string(t->value));
    json_t *atts = json_array();
    for (size_t a = 0; a < t->n_attempts; a++) {
        store_history h[2];
        size_t hn = 0;
        if (t->attempts[a].start_us)
            h[hn++] = (store_history){STATE_RUNNING, t->attempts[a].start_us};
        if (t->attempts[a].end_us)
            h[hn++] = (store_history){t->attempts[a].state, t->attempts[a].end_us};
        json_t *at = json_object();
        json_object_set_new_nocheck(at, "state", engine_json_state(t->attempts[a].state, h, hn));
        json_array_append_new(atts, at);
    }
    json_object_set_new(tr, "attempts", atts);
    if (t->outputs) {
        /* the executor's bookkeeping (_state, _value) is not the task's */
        json_t *pub = json_copy(t->outputs);
        json_object_del(pub, "_state");
        json_object_del(pub, "_value");
        json_object_set_new(tr, "outputs", pub);
    }
    return tr;
}

json_t *engine_json_flow(const store_flow *f, int with_source)
{
    json_t *j = f->json ? json_deep_copy(f->json) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    json_object_set_new(j, "id", json_string(f->id));
    json_object_set_new(j, "namespace", json_string(f->namespace));
    json_object_set_new(j, "revision", json_integer(f->revision));
    json_object_set_new(j, "deleted", json_boolean(f->deleted));
    if (with_source && f->source)
        json_object_set_new(j, "source", json_string(f->source));
    return j;
}

json_t *engine_json_log(const char *ns, const char *flow_id, const char *execution_id, const store_log *l)
{
    char t[64];
    datetime_format(l->at_us, tz_utc(), t, sizeof t);
    return json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:i,s:s,s:s,s:s}", "namespace", ns, "flowId", flow_id, "executionId",
                     execution_id, "taskId", l->task_id, "taskRunId", l->task_run_id, "attemptNumber", l->attempt,
                     "timestamp", t, "level", store_level_name(l->level), "message", l->message);
}

/* Kestra's MetricEntry: namespace, flowId, executionId, taskId, taskRunId,
 * name, type (counter or timer), value (a timer's in seconds), tags,
 * timestamp. */
json_t *engine_json_metric(const char *ns, const char *flow_id, const store_metric *m)
{
    char t[64];
    datetime_format(m->at_us, tz_utc(), t, sizeof t);
    json_t *o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:s,s:f,s:s}", "namespace", ns, "flowId", flow_id,
                          "executionId", m->execution_id, "taskId", m->task_id, "taskRunId", m->task_run_id,
                          "name", m->name, "type", m->type == METRIC_TIMER ? "timer" : "counter", "value",
                          m->value, "timestamp", t);
    json_object_set_new(o, "tags", json_is_object(m->tags) ? json_incref(m->tags) : json_object());
    return o;
}

json_t *engine_execution_metrics_json(store *st, const char *id, kerr *e)
{
    store_execution x = {0};
    if (store_execution_get(st, id, &x, e))
        return NULL;
    store_metric *v = NULL;
    size_t n = 0;
    if (store_metric_list(st, id, &v, &n, e)) {
        store_execution_clear(&x);
        return NULL;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, engine_json_metric(x.namespace, x.flow_id, &v[i]));
    store_metrics_free(v, n);
    store_execution_clear(&x);
    return a;
}

/* ---- an execution from the store ------------------------------------------------------------ */

json_t *engine_execution_json(engine *en, const char *id, kerr *e)
{
    return engine_execution_json_max(en, id, SIZE_MAX, e);
}

json_t *engine_execution_json_max(engine *en, const char *id, size_t max_runs, kerr *e)
{
    store_execution x = {0};
    if (store_execution_get(en->o.store, id, &x, e))
        return NULL;
    store_task_run *runs = NULL;
    size_t n = 0;
    if (store_task_run_list(en->o.store, id, &runs, &n, e)) {
        store_execution_clear(&x);
        return NULL;
    }
    engine_execution_secrets(en, &x);
    json_t *o = engine_json_execution(&x);
    if (n > max_runs) {
        json_object_set_new(o, "taskRunCount", json_integer((json_int_t)n));
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, engine_json_task_run(&x, &runs[i]));
        json_object_set_new(o, "taskRunList", list);
    }
    store_task_runs_free(runs, n);
    store_execution_clear(&x);
    return o;
}
