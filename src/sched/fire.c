/*
 * fire.c: what every trigger kind shares: the transaction that fires one
 * trigger (sched__fire: the execution, the tick's unique row and the
 * trigger row, together), the trigger row itself, the expression
 * environment and variables of a trigger's renders, and its `inputs`.
 *
 * DESIGN
 * The Schedule trigger (schedule.c), the Flow trigger (flowtrigger.c) and
 * webhooks (webhook.c) call down into this file; it calls nothing of
 * theirs, so no two of the scheduler's files call each other.
 */
#include "sched/sched_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* ---- renders -------------------------------------------------------------------- */

void sched__env(sched *s, expr_env *env)
{
    engine_expr_env(s->en, env);
}

json_t *sched__flow_vars(const sched_flow *f)
{
    return json_pack("{s:s,s:s,s:i}", "id", f->id, "namespace", f->ns, "revision", f->revision);
}

int sched__render_inputs(sched *s, const sched_trig *t, const json_t *ctx, json_t **out, kerr *e)
{
    *out = NULL;
    const json_t *in = json_object_get(t->json, "inputs");
    if (!in || json_is_null(in))
        return 0;
    expr_env env;
    sched__env(s, &env);
    char *path = NULL;
    if (expr_render_json(in, ctx, &env, 1, out, &path, e)) {
        kerr_prefix(e, "trigger '%s': inputs%s: ", t->id, path ? path : "");
        free(path);
        return -1;
    }
    return 0;
}

/* ---- the trigger row ------------------------------------------------------------- */

json_t *sched__row_state(const sched_trig *t, const char *error)
{
    json_t *st = json_object();
    if (t->spec)
        json_object_set_new(st, "cron", json_string(t->spec));
    if (t->tz)
        json_object_set_new(st, "timezone", json_string(tz_name(t->tz)));
    if (t->pending)
        json_object_set_new(st, "stopAfterPending", json_deep_copy(t->pending));
    if (error)
        json_object_set_new(st, "lastError", json_string(error));
    return st;
}

int sched__put_row(sched *s, const sched_trig *t, const char *error, kerr *e)
{
    store_trigger row = {.namespace = t->ns, .flow_id = t->flow_id, .trigger_id = t->id,
                         .next_us = t->next_us > 0 ? t->next_us : 0, .disabled = t->disabled,
                         .last_fired_us = t->last_us, .state = sched__row_state(t, error)};
    int rc = store_trigger_put(s->st, &row, e);
    json_decref(row.state);
    return rc;
}

void sched__note_error(sched *s, const sched_trig *t, const char *msg)
{
    kerr e = KERR_INIT;
    sched__put_row(s, t, msg, &e);
}

/* ---- firing ---------------------------------------------------------------------- */

int sched__fire(sched *s, const engine_submit_opts *so, const char *tick_trigger_id, int64_t tick_us,
                const store_trigger *row, char id_out[STORE_ID_LEN + 1], kerr *e)
{
    if (store_begin(s->st, e))
        return -1;
    if (row) {
        store_trigger cur = {0};
        kerr ge = KERR_INIT;
        int rc = store_trigger_get(s->st, row->namespace, row->flow_id, row->trigger_id, &cur, &ge);
        int disabled = rc == STORE_OK && cur.disabled;
        store_trigger_clear(&cur);
        if (rc && rc != STORE_NOT_FOUND) {
            store_rollback(s->st);
            *e = ge;
            return -1;
        }
        if (disabled) {
            store_rollback(s->st);
            return 2;
        }
    }
    kerr se = KERR_INIT;
    int created = engine_submit(s->en, so, id_out, &se) == 0;
    if (!created) {
        /* the execution was refused (bad inputs, disabled flow): the tick is
         * spent all the same, or it would be retried forever */
        store_rollback(s->st);
        if (store_begin(s->st, e))
            return -1;
    }
    int rc = store_trigger_tick(s->st, so->namespace, so->flow_id, tick_trigger_id, tick_us,
                                created ? id_out : NULL, e);
    if (rc == STORE_DUPLICATE) {
        store_rollback(s->st);
        kerr_clear(e);
        if (row)
            store_trigger_put(s->st, row, e);
        return 0;
    }
    if (rc) {
        store_rollback(s->st);
        return -1;
    }
    if (row) {
        store_trigger r = *row;
        json_t *st = r.state ? json_deep_copy(r.state) : json_object();
        r.state = st;
        if (!created)
            json_object_set_new(st, "lastError", json_string(se.msg));
        json_t *pend = json_object_get(st, "stopAfterPending");
        if (created && json_is_array(pend)) /* stopAfter: watch this execution, durably */
            json_array_append_new(pend, json_string(id_out));
        rc = store_trigger_put(s->st, &r, e);
        json_decref(st);
        if (rc) {
            store_rollback(s->st);
            return -1;
        }
    }
    if (store_commit(s->st, e))
        return -1;
    if (!created) {
        kerr_clear(e);
        snprintf(e->msg, sizeof e->msg, "%s", se.msg);
        return 0;
    }
    /* engine_submit woke the executor before our commit: wake it again now
     * that the execution is visible */
    engine_wake_executor(s->en);
    return 1;
}
