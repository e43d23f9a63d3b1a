/*
 * schedule.c: the Schedule and ScheduleOnDates triggers: their set-up (cron
 * or dates, time zone, lateMaximumDelay, stopAfter, recoverMissedSchedules),
 * their ticks, the recovery of ticks missed while no scheduler ran, stopAfter
 * and backfills.
 *
 * Each Schedule trigger keeps its next due tick in memory (sched_trig.next_us)
 * and in its row; a due tick is fired by sched__fire (fire.c) in one
 * transaction: the execution, the tick's unique row and the trigger row with
 * the following tick. A crash before the commit leaves nothing; after it,
 * the next process reads next_us from the row and the unique key refuses a
 * second execution for the same tick.
 *
 * DESIGN
 * sched.c calls in here (set-up, the pass, the rows, backfill); this file
 * calls only fire.c and conditions.c.
 */
#include "sched/sched_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

/* ---- ticks ------------------------------------------------------------------------ */

/* The first tick strictly after after_us (cron or ScheduleOnDates), -1
 * when there is none. */
static int64_t tnext(const sched_trig *t, int64_t after_us)
{
    if (t->cron)
        return cron_next(t->cron, t->tz, after_us);
    for (size_t i = 0; i < t->ndates; i++) /* sorted */
        if (t->dates[i] > after_us)
            return t->dates[i];
    return -1;
}

/* The last tick at or before at_us, -1 when there is none. */
static int64_t tprev(const sched_trig *t, int64_t at_us)
{
    if (t->cron)
        return cron_prev(t->cron, t->tz, at_us);
    for (size_t i = t->ndates; i-- > 0;)
        if (t->dates[i] <= at_us)
            return t->dates[i];
    return -1;
}

/* ---- set-up ----------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ScheduleOnDates: the dates (rendered when they are templates), sorted,
 * duplicates removed; spec "dates:<first>,<second>..." identifies them. */
static int setup_dates(sched *s, sched_trig *t, kerr *e)
{
    const json_t *dates = json_object_get(t->json, "dates");
    if (!json_is_array(dates) || !json_array_size(dates))
        return kerr_set(e, "dates is missing or empty");
    t->dates = xcalloc(json_array_size(dates), sizeof *t->dates);
    expr_env env;
    sched__env(s, &env);
    size_t i;
    const json_t *d;
    json_array_foreach(dates, i, d) {
        const char *txt = json_string_value(d);
        char *r = NULL;
        if (!txt)
            return kerr_set(e, "dates[%zu] is not a string", i);
        if (expr_is_template(txt) && expr_render_string(txt, NULL, &env, &r, e))
            return kerr_prefix(e, "dates[%zu]: ", i), -1;
        int64_t us;
        int rc = datetime_parse(r ? r : txt, t->tz, &us, NULL, e);
        free(r);
        if (rc)
            return kerr_prefix(e, "dates[%zu]: ", i), -1;
        t->dates[t->ndates++] = us;
    }
    qsort(t->dates, t->ndates, sizeof *t->dates, cmp_i64);
    size_t k = 0;
    for (i = 0; i < t->ndates; i++)
        if (k == 0 || t->dates[i] != t->dates[k - 1])
            t->dates[k++] = t->dates[i];
    t->ndates = k;
    buf b = BUF_INIT;
    buf_puts(&b, "dates:");
    for (i = 0; i < t->ndates; i++)
        buf_printf(&b, "%s%lld", i ? "," : "", (long long)t->dates[i]);
    t->spec = buf_steal(&b);
    return 0;
}

static void setup_schedule(sched *s, sched_trig *t, int on_dates)
{
    const json_t *j = t->json;
    kerr e = KERR_INIT;
    t->tz = s->dflt_tz;
    const char *zn = json_string_value(json_object_get(j, "timezone"));
    if (zn) {
        const tzone *z = tz_get(zn, &e);
        if (!z) {
            t->error = xasprintf("trigger '%s': timezone: %s", t->id, e.msg);
            return;
        }
        t->tz = z;
    }
    if (on_dates) {
        if (setup_dates(s, t, &e)) {
            t->error = xasprintf("trigger '%s': %s", t->id, e.msg);
            free(t->spec);
            t->spec = NULL;
            return;
        }
    } else {
        const char *spec = json_string_value(json_object_get(j, "cron"));
        int secs = json_is_true(json_object_get(j, "withSeconds"));
        if (!spec) {
            t->error = xasprintf("trigger '%s': cron is missing", t->id);
            return;
        }
        t->cron = cron_parse(spec, secs, &e);
        if (!t->cron) {
            t->error = xasprintf("trigger '%s': %s", t->id, e.msg);
            return;
        }
        t->spec = xstrdup(cron_spec(t->cron));
    }
    const char *late = json_string_value(json_object_get(j, "lateMaximumDelay"));
    if (late && duration_parse(late, &t->late_max_us, &e))
        t->late_max_us = 0;
    const json_t *sa = json_object_get(j, "stopAfter");
    if (json_is_array(sa) && json_array_size(sa))
        t->pending = json_array();
    t->recover = s->o.recover;
    const char *rec = json_string_value(json_object_get(j, "recoverMissedSchedules"));
    if (rec && !strcmp(rec, "NONE"))
        t->recover = SCHED_RECOVER_NONE;
    else if (rec && !strcmp(rec, "LAST"))
        t->recover = SCHED_RECOVER_LAST;
    else if (rec && !strcmp(rec, "ALL"))
        t->recover = SCHED_RECOVER_ALL;
}

void sched__schedule_setup_cron(sched *s, sched_trig *t) { setup_schedule(s, t, 0); }

void sched__schedule_setup_dates(sched *s, sched_trig *t) { setup_schedule(s, t, 1); }

/* ---- the stored row ----------------------------------------------------------------- */

/* A Schedule trigger meets its stored row (at each refresh): enabled again,
 * ticks due while it was disabled are dropped; seen for the first time, its
 * next tick comes from the row (a new cron: the first tick after now), and
 * ticks missed while no scheduler ran are recovered as recoverMissedSchedules
 * says. The caller has applied the row's disabled flag. */
void sched__schedule_row(sched *s, sched_trig *t, const store_trigger *rw, int was_disabled, int64_t now_us,
                         kerr *e)
{
    if (t->known && t->spec && was_disabled && !t->disabled) {
        /* enabled again: ticks due while it was disabled are dropped */
        int64_t from = now_us > t->last_us ? now_us : t->last_us;
        if (t->next_us <= from) {
            t->next_us = tnext(t, from);
            sched__put_row(s, t, NULL, e);
        }
        return;
    }
    if (t->known || !t->spec)
        return;
    t->known = 1;
    t->last_us = rw->last_fired_us;
    const json_t *pend = json_object_get(rw->state, "stopAfterPending");
    if (t->pending && json_is_array(pend))
        json_array_extend(t->pending, (json_t *)pend);
    const char *was = json_string_value(json_object_get(rw->state, "cron"));
    const char *wtz = json_string_value(json_object_get(rw->state, "timezone"));
    int changed = !was || strcmp(was, t->spec) || !wtz || strcmp(wtz, tz_name(t->tz));
    if (changed || rw->next_us <= 0) {
        /* a new cron: its first tick after now (never before the last one fired) */
        int64_t from = now_us > t->last_us ? now_us : t->last_us;
        t->next_us = tnext(t, from);
        sched__put_row(s, t, NULL, e);
        return;
    }
    t->next_us = rw->next_us;
    if (t->next_us > now_us || t->disabled)
        return;
    /* ticks were missed while no scheduler ran */
    int64_t nx = t->next_us;
    if (t->recover == SCHED_RECOVER_NONE) {
        nx = tnext(t, now_us);
    } else if (t->recover == SCHED_RECOVER_LAST) {
        int64_t p = tprev(t, now_us);
        if (p > nx)
            nx = p;
    }
    if (nx != t->next_us) {
        t->next_us = nx;
        sched__put_row(s, t, NULL, e);
    }
}

/* ---- firing ticks ------------------------------------------------------------------- */

/* Trigger variables of a tick: date, next, previous (ISO instants in the
 * schedule's zone, as Kestra prints them). */
static json_t *tick_vars(const sched_trig *t, int64_t d)
{
    char b[48];
    json_t *v = json_object();
    datetime_format(d, t->tz, b, sizeof b);
    json_object_set_new(v, "date", json_string(b));
    int64_t nx = tnext(t, d);
    if (nx > 0) {
        datetime_format(nx, t->tz, b, sizeof b);
        json_object_set_new(v, "next", json_string(b));
    }
    int64_t pv = tprev(t, d - 1);
    if (pv > 0) {
        datetime_format(pv, t->tz, b, sizeof b);
        json_object_set_new(v, "previous", json_string(b));
    }
    return v;
}

/* Fires tick d of schedule t. With advance, the trigger row moves to the
 * following tick in the same transaction. Returns 1 created, 0 not (the
 * conditions were false, the tick was already fired, the execution was
 * refused), 2 the trigger is disabled, -1 store error. */
static int fire_tick(sched *s, sched_flow *f, sched_trig *t, int64_t d, int advance, json_t *labels,
                     kerr *e)
{
    json_t *vars = tick_vars(t, d);
    json_t *ctx = json_pack("{s:O,s:o}", "trigger", vars, "flow", sched__flow_vars(f));
    expr_env env;
    sched__env(s, &env);
    sched_cond_ctx cc = {.vars = ctx, .env = &env, .st = s->st};
    int ok = 1;
    kerr ce = KERR_INIT;
    int64_t following = tnext(t, d);
    store_trigger row = {.namespace = t->ns, .flow_id = t->flow_id, .trigger_id = t->id,
                         .next_us = following > 0 ? following : 0, .disabled = 0,
                         .last_fired_us = d, .state = sched__row_state(t, NULL)};
    int rc = 0;
    json_t *inputs = NULL;
    if (sched__conditions(json_object_get(t->json, "conditions"), &cc, &ok, &ce) ||
        sched__render_inputs(s, t, ctx, &inputs, &ce)) {
        /* a condition or an input that cannot be evaluated: skip the tick, say why */
        json_object_set_new(row.state, "lastError", json_string(ce.msg));
        ok = 0;
    }
    if (!ok) {
        if (advance)
            rc = store_trigger_put(s->st, &row, e) ? -1 : 0;
    } else {
        engine_submit_opts so = {.namespace = t->ns, .flow_id = t->flow_id, .inputs = inputs,
                                 .trigger = vars, .labels = labels, .scheduled_us = d};
        char id[STORE_ID_LEN + 1];
        rc = sched__fire(s, &so, t->id, d, advance ? &row : NULL, id, e);
        if (rc == 1 && t->pending && advance)
            json_array_append_new(t->pending, json_string(id));
        if (rc == 0)
            kerr_clear(e);
    }
    if (rc >= 0 && rc != 2 && advance) {
        t->next_us = following;
        t->last_us = d;
    }
    if (rc == 2)
        t->disabled = 1;
    json_decref(inputs);
    json_decref(row.state);
    json_decref(vars);
    json_decref(ctx);
    return rc;
}

static int run_schedule(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e)
{
    if (!t->spec || t->disabled)
        return 0;
    if (!t->known) {
        t->known = 1;
        t->next_us = tnext(t, now_us);
        if (sched__put_row(s, t, NULL, e))
            return -1;
        return 0;
    }
    int created = 0;
    size_t k = 0;
    while (t->next_us > 0 && t->next_us <= now_us && k++ < s->o.max_catchup && !t->disabled) {
        if (t->late_max_us > 0 && now_us - t->next_us > t->late_max_us) {
            /* lateMaximumDelay: too late to start, skipped (and said so) */
            int64_t d = t->next_us;
            t->next_us = tnext(t, d);
            t->last_us = d;
            char when[48];
            datetime_format(d, t->tz, when, sizeof when);
            char *msg = xasprintf("tick %s skipped: later than lateMaximumDelay", when);
            int rc = sched__put_row(s, t, msg, e);
            free(msg);
            if (rc)
                return -1;
            continue;
        }
        int rc = fire_tick(s, f, t, t->next_us, 1, NULL, e);
        if (rc < 0)
            return -1;
        if (rc == 1)
            created++;
    }
    return created;
}

/* stopAfter: the executions a schedule started (kept in its row's state, so
 * a restart keeps watching them); one that ended in a listed state disables
 * the trigger. */
static void check_stop_after(sched *s, sched_trig *t)
{
    const json_t *sa = json_object_get(t->json, "stopAfter");
    int changed = 0, stop = 0;
    for (size_t i = 0; i < json_array_size(t->pending);) {
        const char *id = json_string_value(json_array_get(t->pending, i));
        store_execution x = {0};
        kerr e = KERR_INIT;
        int rc = id ? store_execution_get(s->st, id, &x, &e) : STORE_NOT_FOUND;
        if (rc == STORE_OK && !store_state_is_terminated(x.state)) {
            store_execution_clear(&x);
            i++;
            continue;
        }
        if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
            i++;
            continue;
        }
        if (rc == STORE_OK) {
            size_t k;
            const json_t *st;
            json_array_foreach(sa, k, st) {
                if (json_is_string(st) && !strcmp(json_string_value(st), store_state_name(x.state)))
                    stop = 1;
            }
        }
        store_execution_clear(&x);
        json_array_remove(t->pending, i);
        changed = 1;
    }
    if (!changed)
        return;
    kerr e = KERR_INIT;
    store_trigger row = {0};
    if (store_trigger_get(s->st, t->ns, t->flow_id, t->id, &row, &e) == STORE_OK) {
        if (stop)
            row.disabled = 1;
        if (!json_is_object(row.state)) {
            json_decref(row.state);
            row.state = json_object();
        }
        json_object_set_new(row.state, "stopAfterPending", json_deep_copy(t->pending));
        store_trigger_put(s->st, &row, &e);
        store_trigger_clear(&row);
    }
    if (stop)
        t->disabled = 1;
}

void sched__stop_after(sched *s, sched_trig *t)
{
    check_stop_after(s, t);
}

/* One pass over a Schedule trigger: stopAfter first, then the due ticks.
 * Returns the executions created, or -1. Caller holds s->lock. */
int sched__schedule_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e)
{
    if (json_array_size(t->pending))
        check_stop_after(s, t);
    return run_schedule(s, f, t, now_us, e);
}

/* The ticks of t between start_us and end_us (inclusive), fired without
 * moving the trigger's own next tick, labelled backfill=true. Returns the
 * executions created, or -1. Caller holds s->lock. */
int sched__schedule_backfill(sched *s, sched_flow *f, sched_trig *t, int64_t start_us, int64_t end_us, kerr *e)
{
    size_t count = 0;
    for (int64_t d = tnext(t, start_us - 1); d > 0 && d <= end_us; d = tnext(t, d))
        if (++count > s->o.max_backfill)
            return kerr_set(e, "backfill: more than %zu ticks between the start and the end", s->o.max_backfill);
    json_t *labels = json_pack("{s:s}", "backfill", "true");
    int created = 0;
    for (int64_t d = tnext(t, start_us - 1); d > 0 && d <= end_us; d = tnext(t, d)) {
        int r = fire_tick(s, f, t, d, 0, labels, e);
        if (r < 0) {
            created = -1;
            break;
        }
        if (r == 1)
            created++;
    }
    json_decref(labels);
    return created;
}
