/*
 * flowtrigger.c: the Flow trigger: start a flow when executions of other
 * flows end, with `conditions` and Kestra 0.19's `preconditions`.
 *
 * Finding executions that ended. The engine has no end hook yet, so each
 * pass polls the store: (1) the unfinished executions (an indexed query),
 * remembered between passes, so one that ends is noticed when it leaves that
 * set; (2) the ended executions created since the previous pass (minus two
 * seconds of slack for transactions that committed late), which catches the
 * quick ones that ended between two passes. A watermark, the creation time
 * of the oldest execution not known to be handled, is kept in the triggers
 * table (SCHED_SYS_NS/SCHED_SYS_FLOW/"executions"); after a restart the
 * first pass rescans from it, so nothing that ended while the scheduler was
 * down (or between a commit and a crash) is missed.
 *
 * Exactly once. Each reaction is recorded with store_trigger_tick under the
 * trigger id "<trigger>@<execution id>" in the transaction that creates the
 * execution (and, with preconditions, updates their state), so rescanning an
 * execution is harmless: the second tick is a duplicate and rolls back.
 *
 * Preconditions. Each entry of `flows` and each group of `where` is a
 * condition that some ended execution must have met within the time window
 * (DURATION_WINDOW / SLIDING_WINDOW of `window`, default one day); when all
 * are met the flow starts and, with resetOnSuccess (the default), counting
 * starts again. The marks live in the trigger row's state.
 */
#include "sched/sched_int.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/policy.h"

#define SLACK_US (2 * US_PER_SEC)
#define PAGE 200

static const char *const default_states[] = {"SUCCESS", "WARNING", "FAILED", "KILLED", NULL};

static int state_listed(const json_t *list, store_state st)
{
    const char *name = store_state_name(st);
    if (!json_is_array(list)) {
        for (size_t i = 0; default_states[i]; i++)
            if (!strcmp(default_states[i], name))
                return 1;
        return 0;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), name))
            return 1;
    }
    return 0;
}

/* The ending execution as the listener sees it. */
typedef struct ended {
    store_execution *x;
    json_t *vars;      /* trigger.* */
    json_t *outputs;   /* task outputs, by task id */
    int loaded;
} ended;

static void ended_load(sched *s, ended *d)
{
    if (d->loaded)
        return;
    d->loaded = 1;
    store_execution *x = d->x;
    d->vars = json_pack("{s:s,s:s,s:s,s:i,s:s,s:o,s:o}", "executionId", x->id, "namespace",
                        x->namespace, "flowId", x->flow_id, "flowRevision", x->flow_revision,
                        "state", store_state_name(x->state), "outputs",
                        x->outputs ? json_incref(x->outputs) : json_object(), "executionLabels",
                        x->labels ? json_incref(x->labels) : json_object());
    d->outputs = json_object();
    store_task_run *runs = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (!store_task_run_list(s->st, x->id, &runs, &n, &e)) {
        for (size_t i = 0; i < n; i++) {
            if (!runs[i].outputs)
                continue;
            if (runs[i].value) {
                json_t *m = json_object_get(d->outputs, runs[i].task_id);
                if (!json_is_object(m)) {
                    m = json_object();
                    json_object_set_new(d->outputs, runs[i].task_id, m);
                }
                json_object_set(m, runs[i].value, runs[i].outputs);
            } else {
                json_object_set(d->outputs, runs[i].task_id, runs[i].outputs);
            }
        }
    }
    store_task_runs_free(runs, n);
}

static json_t *ended_ctx(const ended *d, const sched_flow *f)
{
    store_execution *x = d->x;
    json_t *ctx = json_object();
    json_object_set(ctx, "trigger", d->vars);
    json_object_set_new(ctx, "flow", sched__flow_vars(f));
    json_object_set(ctx, "outputs", d->outputs);
    json_object_set_new(ctx, "labels", x->labels ? json_incref(x->labels) : json_object());
    json_object_set_new(ctx, "execution",
                        json_pack("{s:s,s:s,s:s,s:s}", "id", x->id, "namespace", x->namespace,
                                  "flowId", x->flow_id, "state", store_state_name(x->state)));
    return ctx;
}

/* ---- preconditions -------------------------------------------------------------- */

static int filter_test(const char *have, const json_t *flt, kerr *e)
{
    const char *type = json_string_value(json_object_get(flt, "type"));
    const json_t *vj = json_object_get(flt, "value");
    char *val = vj ? expr_value_to_text(vj) : NULL;
    int ok = 0;
    if (!type) {
        free(val);
        return kerr_set(e, "filter without a type"), -1;
    }
    if (!strcmp(type, "IS_NULL"))
        ok = !have || !*have;
    else if (!strcmp(type, "IS_NOT_NULL"))
        ok = have && *have;
    else if (!strcmp(type, "IS_TRUE"))
        ok = have && !strcmp(have, "true");
    else if (!strcmp(type, "IS_FALSE"))
        ok = have && !strcmp(have, "false");
    else if (!strcmp(type, "IN") || !strcmp(type, "NOT_IN")) {
        const json_t *vs = json_object_get(flt, "values");
        size_t i;
        const json_t *v;
        json_array_foreach(vs, i, v) {
            char *t = expr_value_to_text(v);
            if (have && !strcmp(t, have))
                ok = 1;
            free(t);
        }
        if (!strcmp(type, "NOT_IN"))
            ok = !ok;
    } else if (!val) {
        free(val);
        return kerr_set(e, "filter %s needs a value", type), -1;
    } else if (!strcmp(type, "EQUAL_TO"))
        ok = have && !strcmp(have, val);
    else if (!strcmp(type, "NOT_EQUAL_TO"))
        ok = !have || strcmp(have, val);
    else if (!strcmp(type, "STARTS_WITH"))
        ok = have && !strncmp(have, val, strlen(val));
    else if (!strcmp(type, "ENDS_WITH"))
        ok = have && strlen(have) >= strlen(val) && !strcmp(have + strlen(have) - strlen(val), val);
    else if (!strcmp(type, "CONTAINS"))
        ok = have && strstr(have, val);
    else if (!strcmp(type, "REGEX")) {
        regex_t re;
        if (regcomp(&re, val, REG_EXTENDED | REG_NOSUB)) {
            kerr_set(e, "filter REGEX: '%s' is not a regular expression", val);
            free(val);
            return -1;
        }
        ok = have && regexec(&re, have, 0, NULL, 0) == 0;
        regfree(&re);
    } else {
        kerr_set(e, "unknown filter type '%s'", type);
        free(val);
        return -1;
    }
    free(val);
    return ok;
}

/* One `where` group against the execution: 1, 0 or -1. */
static int where_group(const json_t *g, const ended *d, const json_t *ctx, const expr_env *env, kerr *e)
{
    const char *operand = json_string_value(json_object_get(g, "operand"));
    int any = operand && !strcmp(operand, "OR");
    const json_t *filters = json_object_get(g, "filters");
    size_t i;
    const json_t *flt;
    int result = any ? 0 : 1;
    json_array_foreach(filters, i, flt) {
        const char *field = json_string_value(json_object_get(flt, "field"));
        char *have = NULL;
        if (field && !strcmp(field, "FLOW_ID"))
            have = xstrdup(d->x->flow_id);
        else if (field && !strcmp(field, "NAMESPACE"))
            have = xstrdup(d->x->namespace);
        else if (field && !strcmp(field, "STATE"))
            have = xstrdup(store_state_name(d->x->state));
        else if (field && !strcmp(field, "EXPRESSION")) {
            const char *ex = json_string_value(json_object_get(flt, "value"));
            if (!ex || expr_render_string(ex, ctx, env, &have, e))
                return -1;
            /* the value was the expression: compare its result only */
            const char *type = json_string_value(json_object_get(flt, "type"));
            int ok = type && !strcmp(type, "IS_FALSE") ? !strcmp(have, "false") : !strcmp(have, "true");
            free(have);
            if (any && ok)
                return 1;
            if (!any && !ok)
                return 0;
            continue;
        } else
            return kerr_set(e, "where filter field '%s' is not FLOW_ID, NAMESPACE, STATE or EXPRESSION",
                            field ? field : ""), -1;
        int ok = filter_test(have, flt, e);
        free(have);
        if (ok < 0)
            return -1;
        if (any && ok)
            return 1;
        if (!any && !ok)
            return 0;
    }
    return result;
}

static int64_t window_of(const json_t *pre)
{
    const json_t *tw = json_object_get(pre, "timeWindow");
    if (!tw)
        tw = json_object_get(pre, "sla");
    const char *w = json_string_value(json_object_get(tw, "window"));
    int64_t us = 86400 * US_PER_SEC;
    kerr e = KERR_INIT;
    if (w && duration_parse(w, &us, &e))
        us = 86400 * US_PER_SEC;
    return us;
}

/* Marks what d satisfies in state->marks; returns 1 when all are met (and
 * resets when resetOnSuccess), 0 otherwise, -1 on error. */
static int precond_update(const json_t *pre, json_t *state, const ended *d, const json_t *ctx,
                          const expr_env *env, int64_t now_us, kerr *e)
{
    json_t *marks = json_object_get(state, "marks");
    if (!json_is_object(marks)) {
        marks = json_object();
        json_object_set_new(state, "marks", marks);
    }
    int64_t at = d->x->end_us ? d->x->end_us : now_us;
    size_t need = 0;
    const json_t *flows = json_object_get(pre, "flows");
    size_t i;
    const json_t *fl;
    json_array_foreach(flows, i, fl) {
        need++;
        const char *ns = json_string_value(json_object_get(fl, "namespace"));
        const char *fid = json_string_value(json_object_get(fl, "flowId"));
        const json_t *states = json_object_get(fl, "states");
        if (!ns || !fid || strcmp(ns, d->x->namespace) || strcmp(fid, d->x->flow_id))
            continue;
        if (json_is_array(states) ? !state_listed(states, d->x->state) : !store_state_is_terminated(d->x->state))
            continue;
        const json_t *labels = json_object_get(fl, "labels");
        if (json_is_object(labels)) {
            const char *k;
            json_t *v;
            int ok = 1;
            json_object_foreach((json_t *)labels, k, v) {
                const json_t *h = json_object_get(d->x->labels, k);
                char *t = expr_value_to_text(v);
                if (!json_is_string(h) || strcmp(json_string_value(h), t))
                    ok = 0;
                free(t);
            }
            if (!ok)
                continue;
        }
        char key[32];
        snprintf(key, sizeof key, "flows/%zu", i);
        json_object_set_new(marks, key, json_integer(at));
    }
    const json_t *where = json_object_get(pre, "where");
    const json_t *g;
    json_array_foreach(where, i, g) {
        need++;
        int ok = where_group(g, d, ctx, env, e);
        if (ok < 0) {
            kerr_prefix(e, "preconditions.where[%zu]: ", i);
            return -1;
        }
        if (ok) {
            const char *gid = json_string_value(json_object_get(g, "id"));
            char *key = gid ? xasprintf("where/%s", gid) : xasprintf("where/%zu", i);
            json_object_set_new(marks, key, json_integer(at));
            free(key);
        }
    }
    /* drop marks out of the window */
    int64_t from = now_us - window_of(pre);
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(marks, tmp, k, v) {
        if (json_integer_value(v) < from)
            json_object_del(marks, k);
    }
    if (need == 0 || json_object_size(marks) < need)
        return 0;
    const json_t *reset = json_object_get(pre, "resetOnSuccess");
    if (!reset || json_is_true(reset))
        json_object_clear(marks);
    return 1;
}

/* ---- reacting ---------------------------------------------------------------------- */

static int react_one(sched *s, sched_flow *f, sched_trig *t, ended *d, int64_t now_us, kerr *e)
{
    ended_load(s, d);
    json_t *ctx = ended_ctx(d, f);
    expr_env env;
    sched__env(s, &env);
    sched_cond_ctx cc = {.vars = ctx, .exec = d->x, .outputs = d->outputs, .env = &env, .st = s->st};
    int ok = 0, rc = 0;
    kerr ce = KERR_INIT;
    if (sched__conditions(json_object_get(t->json, "conditions"), &cc, &ok, &ce)) {
        sched__note_error(s, t, ce.msg);
        json_decref(ctx);
        return 0;
    }
    if (!ok) {
        json_decref(ctx);
        return 0;
    }
    const json_t *pre = json_object_get(t->json, "preconditions");
    char *tick_id = xasprintf("%s@%s", t->id, d->x->id);
    json_t *inputs = NULL;
    if (!pre) {
        if (sched__render_inputs(s, t, ctx, &inputs, &ce)) {
            sched__note_error(s, t, ce.msg);
        } else {
            engine_submit_opts so = {.namespace = t->ns, .flow_id = t->flow_id, .inputs = inputs,
                                     .trigger = d->vars};
            char id[STORE_ID_LEN + 1];
            rc = sched__fire(s, &so, tick_id, 0, NULL, id, e);
            if (rc == 0 && e->msg[0]) {
                sched__note_error(s, t, e->msg);
                kerr_clear(e);
            }
        }
        json_decref(inputs);
        json_decref(ctx);
        free(tick_id);
        return rc < 0 ? -1 : rc;
    }
    /* preconditions: the tick, the marks and maybe the execution in one transaction */
    rc = store_begin(s->st, e);
    if (!rc) {
        int trc = store_trigger_tick(s->st, t->ns, t->flow_id, tick_id, 0, NULL, e);
        if (trc == STORE_DUPLICATE) {
            store_rollback(s->st);
            kerr_clear(e);
            goto out;
        }
        if (trc) {
            store_rollback(s->st);
            rc = -1;
            goto out;
        }
        store_trigger row = {0};
        int grc = store_trigger_get(s->st, t->ns, t->flow_id, t->id, &row, e);
        if (grc == STORE_NOT_FOUND) {
            kerr_clear(e);
            row.namespace = xstrdup(t->ns);
            row.flow_id = xstrdup(t->flow_id);
            row.trigger_id = xstrdup(t->id);
        } else if (grc) {
            store_rollback(s->st);
            rc = -1;
            goto out;
        }
        if (!json_is_object(row.state)) {
            json_decref(row.state);
            row.state = json_object();
        }
        int fire = row.disabled ? 0 : precond_update(pre, row.state, d, ctx, &env, now_us, &ce);
        if (fire < 0) {
            json_object_set_new(row.state, "lastError", json_string(ce.msg));
            fire = 0;
        }
        int created = 0;
        if (fire == 1) {
            kerr se = KERR_INIT;
            char id[STORE_ID_LEN + 1];
            if (sched__render_inputs(s, t, ctx, &inputs, &se) == 0) {
                engine_submit_opts so = {.namespace = t->ns, .flow_id = t->flow_id, .inputs = inputs,
                                         .trigger = d->vars};
                created = engine_submit(s->en, &so, id, &se) == 0;
            }
            if (!created)
                json_object_set_new(row.state, "lastError", json_string(se.msg));
            else
                row.last_fired_us = now_us;
        }
        if (store_trigger_put(s->st, &row, e) || store_commit(s->st, e)) {
            store_rollback(s->st);
            rc = -1;
        } else {
            rc = created;
            if (created)
                engine_wake_executor(s->en);
        }
        store_trigger_clear(&row);
    }
out:
    json_decref(inputs);
    json_decref(ctx);
    free(tick_id);
    return rc;
}

static int react(sched *s, store_execution *x, int64_t now_us, kerr *e)
{
    ended d = {.x = x};
    int created = 0;
    for (size_t i = 0; i < s->nflows; i++) {
        sched_flow *f = s->flows[i];
        for (size_t j = 0; j < f->ntrigs; j++) {
            sched_trig *t = &f->trigs[j];
            if (t->kind != SK_FLOW || t->disabled)
                continue;
            /* a flow never reacts to its own executions (no endless loops) */
            if (!strcmp(f->ns, x->namespace) && !strcmp(f->id, x->flow_id))
                continue;
            if (!json_object_get(t->json, "preconditions") &&
                !state_listed(json_object_get(t->json, "states"), x->state))
                continue;
            /* a flow of another namespace reacts only where access control
             * lets it read that namespace's executions */
            kerr ae = KERR_INIT;
            if (store_access_flow(s->st, f->ns, PA_EXECUTION_READ, x->namespace, &ae))
                continue;
            int rc = react_one(s, f, t, &d, now_us, e);
            if (rc < 0) {
                created = -1;
                goto done;
            }
            created += rc;
        }
    }
done:
    json_decref(d.vars);
    json_decref(d.outputs);
    return created;
}

/* ---- the watch ------------------------------------------------------------------------ */

static int any_flow_trigger(sched *s)
{
    for (size_t i = 0; i < s->nflows; i++)
        for (size_t j = 0; j < s->flows[i]->ntrigs; j++)
            if (s->flows[i]->trigs[j].kind == SK_FLOW)
                return 1;
    return 0;
}

static int cursor_save(sched *s, int64_t wm, kerr *e)
{
    if (wm == s->watch_wm)
        return 0;
    store_trigger row = {.namespace = SCHED_SYS_NS, .flow_id = SCHED_SYS_FLOW,
                         .trigger_id = "executions", .next_us = wm,
                         .state = json_pack("{s:I}", "watermark", (json_int_t)wm)};
    int rc = store_trigger_put(s->st, &row, e);
    json_decref(row.state);
    if (!rc)
        s->watch_wm = wm;
    return rc;
}

static int handle(sched *s, store_execution *x, int64_t now_us, kerr *e)
{
    if (!store_state_is_terminated(x->state) || json_object_get(s->watch_done, x->id))
        return 0;
    int rc = react(s, x, now_us, e);
    if (rc >= 0)
        json_object_set_new(s->watch_done, x->id, json_integer(x->created_us));
    return rc;
}

int sched__watch(sched *s, int64_t now_us, kerr *e)
{
    int64_t real = time_now_us();
    if (!s->watch_loaded) {
        store_trigger row = {0};
        int rc = store_trigger_get(s->st, SCHED_SYS_NS, SCHED_SYS_FLOW, "executions", &row, e);
        if (rc && rc != STORE_NOT_FOUND)
            return -1;
        kerr_clear(e);
        s->watch_wm = rc ? real - SLACK_US : row.next_us;
        s->watch_scan_from = s->watch_wm;
        store_trigger_clear(&row);
        s->watch_loaded = 1;
    }
    if (!any_flow_trigger(s)) {
        json_object_clear(s->watch_unfinished);
        json_object_clear(s->watch_done);
        s->watch_scan_from = real - SLACK_US;
        return cursor_save(s, s->watch_scan_from, e) ? -1 : 0;
    }
    int created = 0;
    /* (1) unfinished executions; those gone since the last pass ended */
    store_execution_query uq = {.unfinished = 1};
    store_execution *v = NULL;
    size_t n = 0;
    if (store_execution_search(s->st, &uq, &v, &n, NULL, e))
        return -1;
    json_t *now_set = json_object();
    int64_t oldest = real - SLACK_US;
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(now_set, v[i].id, json_integer(v[i].created_us));
        if (v[i].created_us < oldest)
            oldest = v[i].created_us;
    }
    store_executions_free(v, n);
    const char *id;
    json_t *val;
    json_object_foreach(s->watch_unfinished, id, val) {
        if (json_object_get(now_set, id))
            continue;
        store_execution x = {0};
        int rc = store_execution_get(s->st, id, &x, e);
        if (rc == STORE_NOT_FOUND) {
            kerr_clear(e);
            continue;
        }
        if (rc) {
            json_decref(now_set);
            return -1;
        }
        rc = handle(s, &x, now_us, e);
        store_execution_clear(&x);
        if (rc < 0) {
            json_decref(now_set);
            return -1;
        }
        created += rc;
    }
    json_decref(s->watch_unfinished);
    s->watch_unfinished = now_set;
    /* (2) ended executions created since the last scan */
    unsigned mask = 0;
    for (int st = 0; st < STATE__COUNT; st++)
        if (store_state_is_terminated((store_state)st))
            mask |= STORE_STATE_BIT(st);
    for (size_t off = 0;; off += PAGE) {
        store_execution_query q = {.states = mask, .offset = off, .limit = PAGE};
        if (store_execution_search(s->st, &q, &v, &n, NULL, e))
            return -1;
        int older = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].created_us < s->watch_scan_from) {
                older = 1;
                continue;
            }
            int rc = handle(s, &v[i], now_us, e);
            if (rc < 0) {
                store_executions_free(v, n);
                return -1;
            }
            created += rc;
        }
        store_executions_free(v, n);
        if (older || n < PAGE)
            break;
    }
    int64_t next_from = real - SLACK_US;
    /* forget handled executions no scan will see again */
    json_t *tmp;
    json_object_foreach_safe(s->watch_done, tmp, id, val) {
        if (json_integer_value(val) < next_from - SLACK_US)
            json_object_del(s->watch_done, id);
    }
    s->watch_scan_from = next_from - SLACK_US;
    if (cursor_save(s, oldest < s->watch_scan_from ? oldest : s->watch_scan_from, e))
        return -1;
    return created;
}

void sched__watch_free(sched *s)
{
    (void)s;
}
