/*
 * httptrigger.c: the polling HTTP trigger (io.kestra.plugin.core.http.Trigger,
 * also io.kestra.plugin.fs.http.Trigger): every `interval` (PT60S by
 * default) it sends the request its properties describe (Request's: uri,
 * method, headers, body, formData, contentType, options, sslOptions) and,
 * when `responseCondition` (default `{{ response.statusCode < 400 }}`,
 * with response.statusCode, response.body and response.headers) renders
 * true and the trigger's conditions pass, starts the flow with the answer
 * as trigger.code, trigger.headers, trigger.uri and trigger.body, as Kestra.
 * `stopAfter` disables it once an execution it started ends in a listed
 * state (the Schedule's bookkeeping, schedule.c).
 *
 * DESIGN
 * The request is sent by tasks_http_poll (tasks/http.c) on the scheduler's
 * thread, which keeps its own HTTP client, so a trigger that polls one host
 * keeps one connection. A pass holds the scheduler's lock, so a poll's time
 * is bounded: the trigger's options.timeout, else 10 s to connect and 30 s
 * without a byte. A failed request (refused, TLS, timeout) fires nothing and
 * is written to the trigger row's lastError; the next poll is `interval`
 * later either way. The first poll is due as soon as the trigger is loaded.
 */
#include "sched/sched_int.h"

#include <stdlib.h>
#include <string.h>

#include "tasks/tasks.h"
#include "util/datetime.h"
#include "util/mem.h"

#define HTTP_TRIGGER_DEFAULT_INTERVAL (60 * US_PER_SEC)

void sched__http_setup(sched *s, sched_trig *t)
{
    const json_t *j = t->json;
    kerr e = KERR_INIT;
    t->interval_us = HTTP_TRIGGER_DEFAULT_INTERVAL;
    const char *iv = json_string_value(json_object_get(j, "interval"));
    if (iv && (duration_parse(iv, &t->interval_us, &e) || t->interval_us <= 0)) {
        t->error = xasprintf("trigger '%s': interval: %s", t->id, e.code ? e.msg : "not positive");
        t->interval_us = HTTP_TRIGGER_DEFAULT_INTERVAL;
    }
    const json_t *sa = json_object_get(j, "stopAfter");
    if (json_is_array(sa) && json_array_size(sa))
        t->pending = json_array();
    t->next_us = 0;    /* due at the first pass */
    t->known = 1;
}

/* The request's properties, rendered against ctx (the trigger's own keys
 * left out). New reference, or NULL with e set. */
static json_t *request_props(sched *s, const sched_trig *t, const json_t *ctx, kerr *e)
{
    static const char *const keep[] = {"uri", "method", "body", "formData", "contentType",
                                       "headers", "options", "sslOptions", "encryptBody", NULL};
    json_t *p = json_object();
    for (size_t i = 0; keep[i]; i++) {
        const json_t *v = json_object_get(t->json, keep[i]);
        if (v)
            json_object_set(p, keep[i], (json_t *)v);
    }
    json_t *o = json_object_get(p, "options");
    json_t *opts = json_is_object(o) ? json_deep_copy(o) : json_object();
    json_t *to = json_object_get(opts, "timeout");
    if (!json_is_object(to)) {
        to = json_object();
        json_object_set_new(opts, "timeout", to);
    }
    if (!json_object_get(to, "readIdleTimeout") && !json_object_get(opts, "readTimeout"))
        json_object_set_new(to, "readIdleTimeout", json_string("PT30S"));
    json_object_set_new(p, "options", opts);
    expr_env env;
    sched__env(s, &env);
    json_t *out = NULL;
    char *path = NULL;
    int rc = expr_render_json(p, ctx, &env, 1, &out, &path, e);
    json_decref(p);
    if (rc) {
        kerr_prefix(e, "trigger '%s': %s: ", t->id, path && *path ? path + 1 : "a property");
        free(path);
        return NULL;
    }
    return out;
}

/* Polls once; fires when the condition holds. Returns 1 when an execution was
 * created, 0 when not, -1 on a store error. */
static int poll_once(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e)
{
    json_t *ctx = json_pack("{s:o}", "flow", sched__flow_vars(f));
    json_t *props = NULL, *resp = NULL, *answer = NULL;
    char *cond_text = NULL;
    kerr pe = KERR_INIT;
    int rc = 0;
    t->next_us = now_us + t->interval_us;
    if (!(props = request_props(s, t, ctx, &pe)) || tasks_http_poll(props, engine_encryption_key(s->en), &answer, &pe)) {
        sched__note_error(s, t, pe.msg);
        goto out;
    }
    resp = json_pack("{s:O,s:O,s:O}", "statusCode", json_object_get(answer, "code"), "body",
                     json_object_get(answer, "body") ? json_object_get(answer, "body")
                                                     : json_null(),
                     "headers", json_object_get(answer, "headers"));
    json_object_set(ctx, "response", resp);
    const char *cond = json_string_value(json_object_get(t->json, "responseCondition"));
    expr_env env;
    sched__env(s, &env);
    if (expr_render_string(cond ? cond : "{{ response.statusCode < 400 }}", ctx, &env,
                           &cond_text, &pe)) {
        kerr_prefix(&pe, "trigger '%s': responseCondition: ", t->id);
        sched__note_error(s, t, pe.msg);
        goto out;
    }
    int truthy = *cond_text && strcmp(cond_text, "false") && strcmp(cond_text, "0") &&
                 strcmp(cond_text, "-0");
    if (!truthy)
        goto out;
    json_object_set(ctx, "trigger", answer);
    sched_cond_ctx cc = {.vars = ctx, .env = &env, .st = s->st};
    int ok = 1;
    json_t *inputs = NULL;
    if (sched__conditions(json_object_get(t->json, "conditions"), &cc, &ok, &pe) ||
        sched__render_inputs(s, t, ctx, &inputs, &pe)) {
        sched__note_error(s, t, pe.msg);
        goto out;
    }
    if (!ok) {
        json_decref(inputs);
        goto out;
    }
    engine_submit_opts so = {.namespace = t->ns, .flow_id = t->flow_id, .inputs = inputs,
                             .trigger = answer};
    store_trigger row = {.namespace = t->ns, .flow_id = t->flow_id, .trigger_id = t->id,
                         .next_us = t->next_us, .last_fired_us = now_us,
                         .state = sched__row_state(t, NULL)};
    char id[STORE_ID_LEN + 1];
    rc = sched__fire(s, &so, t->id, now_us, &row, id, e);
    if (rc == 1 && t->pending)
        json_array_append_new(t->pending, json_string(id));
    if (rc == 2) {
        t->disabled = 1;
        rc = 0;
    }
    if (rc == 0)
        kerr_clear(e);
    t->last_us = now_us;
    json_decref(row.state);
    json_decref(inputs);
out:
    free(cond_text);
    json_decref(props);
    json_decref(resp);
    json_decref(answer);
    json_decref(ctx);
    return rc;
}

int sched__http_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e)
{
    if (json_array_size(t->pending))
        sched__stop_after(s, t);
    if (t->disabled || (t->next_us > 0 && t->next_us > now_us))
        return 0;
    return poll_once(s, f, t, now_us, e);
}
