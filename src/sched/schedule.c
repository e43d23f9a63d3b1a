/*
 * schedule.c: the scheduler object, its cache of flows and triggers, the
 * Schedule trigger (cron ticks, missed-schedule recovery, stopAfter,
 * backfill) and the thread that runs passes.
 *
 * A pass (sched_tick) re-reads the flows (store_flow_search, the latest
 * revision of each) and the trigger rows when refresh_us has passed or
 * sched_flows_changed() was called, rebuilding only flows whose revision
 * changed. Each Schedule trigger keeps its next due tick in memory; a due
 * tick is fired by sched__fire in one transaction: the execution, the tick's
 * unique row and the trigger row with the following tick. A crash before
 * the commit leaves nothing; after it, the next process reads next_us from
 * the row and the unique key refuses a second execution for the same tick.
 *
 * DESIGN
 * The lock is held for a whole pass; webhook look-ups wait for it (a pass is
 * short: store writes of the ticks due now). The thread sleeps on a
 * condition variable until the earliest next_us (at most max_wait_us), and
 * sched_execution_ended / sched_flows_changed wake it.
 */
#include "sched/sched_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/flow.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- small helpers ------------------------------------------------------------ */

static int64_t wall_clock(void *ud)
{
    (void)ud;
    return time_now_us();
}

int64_t sched__now(sched *s)
{
    return s->o.clock(s->o.clock_ud);
}

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

static json_t *row_state(const sched_trig *t, const char *error)
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

static int put_row(sched *s, const sched_trig *t, const char *error, kerr *e)
{
    store_trigger row = {.namespace = t->ns, .flow_id = t->flow_id, .trigger_id = t->id,
                         .next_us = t->next_us > 0 ? t->next_us : 0, .disabled = t->disabled,
                         .last_fired_us = t->last_us, .state = row_state(t, error)};
    int rc = store_trigger_put(s->st, &row, e);
    json_decref(row.state);
    return rc;
}

void sched__note_error(sched *s, const sched_trig *t, const char *msg)
{
    kerr e = KERR_INIT;
    put_row(s, t, msg, &e);
}

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

/* ---- the cache ------------------------------------------------------------------ */

static sched_kind kind_of(const char *type)
{
    const type_def *d = type ? flow_type_find(type) : NULL;
    if (!d)
        return SK_OTHER;
    if (!strcmp(d->name, "trigger.schedule") || !strcmp(d->name, "trigger.schedule_on_dates"))
        return SK_SCHEDULE;
    if (!strcmp(d->name, "trigger.flow"))
        return SK_FLOW;
    if (!strcmp(d->name, "trigger.webhook"))
        return SK_WEBHOOK;
    return SK_OTHER;
}

static void trig_clear(sched_trig *t)
{
    free(t->ns);
    free(t->flow_id);
    free(t->id);
    free(t->error);
    cron_free(t->cron);
    free(t->spec);
    free(t->dates);
    json_decref(t->pending);
}

static void sflow_free(sched_flow *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ntrigs; i++)
        trig_clear(&f->trigs[i]);
    free(f->trigs);
    json_decref(f->doc);
    free(f->ns);
    free(f->id);
    free(f);
}

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

static sched_flow *flow_build(sched *s, const store_flow *sf)
{
    json_t *doc = sf->json ? json_incref(sf->json) : NULL;
    if (!doc) {
        kerr e = KERR_INIT;
        if (yaml_load(sf->source, strlen(sf->source), NULL, &doc, NULL, &e))
            doc = json_object();
    }
    sched_flow *f = xcalloc(1, sizeof *f);
    f->ns = xstrdup(sf->namespace);
    f->id = xstrdup(sf->id);
    f->revision = sf->revision;
    f->doc = doc;
    const json_t *trigs = json_object_get(doc, "triggers");
    if (json_is_true(json_object_get(doc, "disabled")) || !json_is_array(trigs))
        return f;
    f->trigs = xcalloc(json_array_size(trigs) + 1, sizeof *f->trigs);
    size_t i;
    const json_t *tj;
    json_array_foreach(trigs, i, tj) {
        const char *id = json_string_value(json_object_get(tj, "id"));
        sched_kind k = kind_of(json_string_value(json_object_get(tj, "type")));
        if (!id || k == SK_OTHER || json_is_true(json_object_get(tj, "disabled")))
            continue;
        sched_trig *t = &f->trigs[f->ntrigs++];
        t->kind = k;
        t->ns = xstrdup(f->ns);
        t->flow_id = xstrdup(f->id);
        t->id = xstrdup(id);
        t->revision = f->revision;
        t->json = tj;
        if (k == SK_SCHEDULE)
            setup_schedule(s, t, !strcmp(flow_type_find(json_string_value(json_object_get(tj, "type")))->name,
                                         "trigger.schedule_on_dates"));
    }
    return f;
}

static int same_schedule(const sched_trig *a, const sched_trig *b)
{
    return a->kind == SK_SCHEDULE && b->kind == SK_SCHEDULE && a->spec && b->spec &&
           a->tz == b->tz && !strcmp(a->spec, b->spec);
}

sched_flow *sched__flow(sched *s, const char *ns, const char *flow_id)
{
    char *key = xasprintf("%s\x1f%s", ns, flow_id);
    json_t *slot = json_object_get(s->flow_index, key);
    free(key);
    return slot ? s->flows[json_integer_value(slot)] : NULL;
}

sched_trig *sched__find(sched *s, const char *ns, const char *flow_id, const char *trigger_id)
{
    sched_flow *f = sched__flow(s, ns, flow_id);
    if (!f)
        return NULL;
    for (size_t i = 0; i < f->ntrigs; i++)
        if (!strcmp(f->trigs[i].id, trigger_id))
            return &f->trigs[i];
    return NULL;
}

static void reindex(sched *s)
{
    json_object_clear(s->flow_index);
    for (size_t i = 0; i < s->nflows; i++) {
        char *key = xasprintf("%s\x1f%s", s->flows[i]->ns, s->flows[i]->id);
        json_object_set_new(s->flow_index, key, json_integer((json_int_t)i));
        free(key);
    }
}

/* Applies the stored rows: disabled flags, and next dates of triggers this
 * scheduler has not seen yet (then the missed-schedule policy). */
static int load_rows(sched *s, int64_t now_us, kerr *e)
{
    store_trigger *rows = NULL;
    size_t n = 0;
    if (store_trigger_list(s->st, NULL, &rows, &n, e))
        return -1;
    for (size_t i = 0; i < n; i++) {
        sched_trig *t = sched__find(s, rows[i].namespace, rows[i].flow_id, rows[i].trigger_id);
        if (!t)
            continue;
        int was_disabled = t->disabled;
        t->disabled = rows[i].disabled;
        if (t->kind == SK_SCHEDULE && t->known && t->spec && was_disabled && !t->disabled) {
            /* enabled again: ticks due while it was disabled are dropped */
            int64_t from = now_us > t->last_us ? now_us : t->last_us;
            if (t->next_us <= from) {
                t->next_us = tnext(t, from);
                put_row(s, t, NULL, e);
            }
            continue;
        }
        if (t->kind != SK_SCHEDULE || t->known || !t->spec)
            continue;
        t->known = 1;
        t->last_us = rows[i].last_fired_us;
        const json_t *pend = json_object_get(rows[i].state, "stopAfterPending");
        if (t->pending && json_is_array(pend))
            json_array_extend(t->pending, (json_t *)pend);
        const char *was = json_string_value(json_object_get(rows[i].state, "cron"));
        const char *wtz = json_string_value(json_object_get(rows[i].state, "timezone"));
        int changed = !was || strcmp(was, t->spec) || !wtz || strcmp(wtz, tz_name(t->tz));
        if (changed || rows[i].next_us <= 0) {
            /* a new cron: its first tick after now (never before the last one fired) */
            int64_t from = now_us > t->last_us ? now_us : t->last_us;
            t->next_us = tnext(t, from);
            put_row(s, t, NULL, e);
            continue;
        }
        t->next_us = rows[i].next_us;
        if (t->next_us > now_us || t->disabled)
            continue;
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
            put_row(s, t, NULL, e);
        }
    }
    store_triggers_free(rows, n);
    return 0;
}

int sched__refresh(sched *s, int64_t now_us, int force, kerr *e)
{
    int64_t mono = time_mono_us();
    int gen = atomic_load(&s->flows_gen);
    if (!force && s->last_refresh_us && gen == atomic_load(&s->flows_gen_seen) &&
        mono - s->last_refresh_us < s->o.refresh_us)
        return 0;
    store_flow *v = NULL;
    size_t n = 0;
    store_flow_query q = {0};
    if (store_flow_search(s->st, &q, &v, &n, NULL, e))
        return -1;
    for (size_t i = 0; i < s->nflows; i++)
        s->flows[i]->seen = 0;
    sched_flow **next = xcalloc(n + 1, sizeof *next);
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        sched_flow *old = sched__flow(s, v[i].namespace, v[i].id);
        if (old && old->revision == v[i].revision) {
            old->seen = 1;
            next[nn++] = old;
            continue;
        }
        sched_flow *f = flow_build(s, &v[i]);
        if (old) {
            /* keep the fire times of schedules that did not change */
            for (size_t a = 0; a < f->ntrigs; a++)
                for (size_t b = 0; b < old->ntrigs; b++)
                    if (!strcmp(f->trigs[a].id, old->trigs[b].id) &&
                        same_schedule(&f->trigs[a], &old->trigs[b]) && old->trigs[b].known) {
                        f->trigs[a].known = 1;
                        f->trigs[a].next_us = old->trigs[b].next_us;
                        f->trigs[a].last_us = old->trigs[b].last_us;
                        f->trigs[a].disabled = old->trigs[b].disabled;
                        if (f->trigs[a].pending && old->trigs[b].pending)
                            json_array_extend(f->trigs[a].pending, old->trigs[b].pending);
                    }
        }
        f->seen = 1;
        next[nn++] = f;
    }
    for (size_t i = 0; i < s->nflows; i++)
        if (!s->flows[i]->seen)
            sflow_free(s->flows[i]);
    /* flows whose revision changed: the old object was not marked seen only
     * if it was replaced; free those too */
    store_flows_free(v, n);
    free(s->flows);
    s->flows = next;
    s->nflows = nn;
    reindex(s);
    s->last_refresh_us = mono;
    atomic_store(&s->flows_gen_seen, gen);
    return load_rows(s, now_us, e);
}

/* ---- firing ---------------------------------------------------------------------------- */

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
                         .last_fired_us = d, .state = row_state(t, NULL)};
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
        if (put_row(s, t, NULL, e))
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
            int rc = put_row(s, t, msg, e);
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

int sched_tick(sched *s, int64_t now_us, kerr *e)
{
    pthread_mutex_lock(&s->lock);
    int total = 0;
    if (sched__refresh(s, now_us, 0, e)) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    for (size_t i = 0; i < s->nflows; i++) {
        sched_flow *f = s->flows[i];
        for (size_t j = 0; j < f->ntrigs; j++) {
            if (f->trigs[j].kind != SK_SCHEDULE)
                continue;
            if (json_array_size(f->trigs[j].pending))
                check_stop_after(s, &f->trigs[j]);
            int rc = run_schedule(s, f, &f->trigs[j], now_us, e);
            if (rc < 0) {
                pthread_mutex_unlock(&s->lock);
                return -1;
            }
            total += rc;
        }
    }
    if (s->o.flow_triggers >= 0) {
        int rc = sched__watch(s, now_us, e);
        if (rc < 0) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        total += rc;
    }
    pthread_mutex_unlock(&s->lock);
    return total;
}

int sched_backfill(sched *s, const char *ns, const char *flow_id, const char *trigger_id,
                   int64_t start_us, int64_t end_us, kerr *e)
{
    if (end_us < start_us)
        return kerr_set(e, "backfill: the end (%lld) is before the start (%lld)", (long long)end_us,
                        (long long)start_us);
    pthread_mutex_lock(&s->lock);
    int rc = sched__refresh(s, sched__now(s), 0, e);
    sched_flow *f = rc ? NULL : sched__flow(s, ns, flow_id);
    sched_trig *t = f ? sched__find(s, ns, flow_id, trigger_id) : NULL;
    if (rc) {
        rc = -1;
    } else if (!f) {
        rc = kerr_set(e, "backfill: no flow %s.%s", ns, flow_id);
    } else if (!t) {
        rc = kerr_set(e, "backfill: flow %s.%s has no enabled trigger '%s'", ns, flow_id, trigger_id);
    } else if (t->kind != SK_SCHEDULE) {
        rc = kerr_set(e, "backfill: trigger '%s' of %s.%s is not a Schedule", trigger_id, ns, flow_id);
    } else if (!t->spec) {
        rc = kerr_set(e, "backfill: %s", t->error ? t->error : "bad schedule");
    } else {
        size_t count = 0;
        for (int64_t d = tnext(t, start_us - 1); d > 0 && d <= end_us;
             d = tnext(t, d))
            if (++count > s->o.max_backfill)
                break;
        if (count > s->o.max_backfill) {
            rc = kerr_set(e, "backfill: more than %zu ticks between the start and the end",
                          s->o.max_backfill);
        } else {
            json_t *labels = json_pack("{s:s}", "backfill", "true");
            int created = 0;
            for (int64_t d = tnext(t, start_us - 1); d > 0 && d <= end_us;
                 d = tnext(t, d)) {
                int r = fire_tick(s, f, t, d, 0, labels, e);
                if (r < 0) {
                    created = -1;
                    break;
                }
                if (r == 1)
                    created++;
            }
            json_decref(labels);
            rc = created;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

sched *sched_new(engine *en, store *st, const sched_opts *o, kerr *e)
{
    if (!en || !st) {
        kerr_set(e, "sched: an engine and a store are required");
        return NULL;
    }
    sched_opts opts = {0};
    if (o)
        opts = *o;
    const tzone *z = tz_utc();
    if (opts.timezone) {
        z = tz_get(opts.timezone, e);
        if (!z) {
            kerr_prefix(e, "sched: default timezone: ");
            return NULL;
        }
    }
    if (!opts.refresh_us)
        opts.refresh_us = 10 * US_PER_SEC;
    if (!opts.max_wait_us)
        opts.max_wait_us = US_PER_SEC;
    if (!opts.max_catchup)
        opts.max_catchup = 1000;
    if (!opts.max_backfill)
        opts.max_backfill = 100000;
    if (!opts.clock)
        opts.clock = wall_clock;
    sched *s = xcalloc(1, sizeof *s);
    s->en = en;
    s->st = st;
    s->o = opts;
    s->o.timezone = NULL;
    s->dflt_tz = z;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wake_lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->flow_index = json_object();
    s->watch_unfinished = json_object();
    s->watch_done = json_object();
    atomic_store(&s->flows_gen, 1);
    return s;
}

/* The earliest due tick among cached schedules, or -1. */
static int64_t earliest(sched *s)
{
    int64_t best = -1;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nflows; i++)
        for (size_t j = 0; j < s->flows[i]->ntrigs; j++) {
            const sched_trig *t = &s->flows[i]->trigs[j];
            if (t->kind == SK_SCHEDULE && t->spec && !t->disabled && t->next_us > 0 &&
                (best < 0 || t->next_us < best))
                best = t->next_us;
        }
    pthread_mutex_unlock(&s->lock);
    return best;
}

static void *sched_main(void *arg)
{
    sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->wake_lock);
        int run = s->running;
        s->woken = 0;
        pthread_mutex_unlock(&s->wake_lock);
        if (!run)
            break;
        kerr e = KERR_INIT;
        sched_tick(s, sched__now(s), &e);
        int64_t now = sched__now(s);
        int64_t due = earliest(s);
        int64_t wait = s->o.max_wait_us;
        if (due > 0 && due - now < wait)
            wait = due - now;
        if (wait < 1000)
            wait = 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (wait % US_PER_SEC) * 1000;
        ts.tv_sec += (time_t)(wait / US_PER_SEC) + (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&s->wake_lock);
        while (s->running && !s->woken)
            if (pthread_cond_timedwait(&s->wake, &s->wake_lock, &ts) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&s->wake_lock);
    }
    expr_thread_cleanup();
    return NULL;
}

static void wake(sched *s)
{
    pthread_mutex_lock(&s->wake_lock);
    s->woken = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->wake_lock);
}

int sched_start(sched *s, kerr *e)
{
    pthread_mutex_lock(&s->wake_lock);
    if (s->running) {
        pthread_mutex_unlock(&s->wake_lock);
        return kerr_set(e, "sched: already started");
    }
    s->running = 1;
    pthread_mutex_unlock(&s->wake_lock);
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        s->running = 0;
        return kerr_set(e, "sched: cannot start the scheduler thread");
    }
    return 0;
}

void sched_stop(sched *s)
{
    pthread_mutex_lock(&s->wake_lock);
    int was = s->running;
    s->running = 0;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->wake_lock);
    if (was)
        pthread_join(s->thread, NULL);
}

void sched_flows_changed(sched *s)
{
    atomic_fetch_add(&s->flows_gen, 1);
    wake(s);
}

void sched_execution_ended(sched *s, const char *execution_id)
{
    (void)execution_id;
    wake(s);
}

void sched_free(sched *s)
{
    if (!s)
        return;
    sched_stop(s);
    for (size_t i = 0; i < s->nflows; i++)
        sflow_free(s->flows[i]);
    free(s->flows);
    json_decref(s->flow_index);
    sched__watch_free(s);
    json_decref(s->watch_unfinished);
    json_decref(s->watch_done);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->wake_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
