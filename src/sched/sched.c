/*
 * sched.c: the scheduler object: its cache of flows and their triggers, the
 * table of trigger kinds it runs, a pass (sched_tick), backfills and the
 * thread that runs passes.
 *
 * A pass re-reads the flows (store_flow_search, the latest revision of
 * each) and the trigger rows when refresh_us has passed or
 * sched_flows_changed() was called, rebuilding only flows whose revision
 * changed; then each Schedule trigger fires its due ticks (schedule.c) and
 * the Flow triggers react to executions that ended (flowtrigger.c).
 *
 * DESIGN
 * The lock is held for a whole pass; webhook look-ups wait for it (a pass is
 * short: store writes of the ticks due now). The thread sleeps on a
 * condition variable until the earliest next_us (at most max_wait_us), and
 * sched_execution_ended / sched_flows_changed wake it.
 *
 * The scheduler's files call downwards only: sched.c -> schedule.c,
 * flowtrigger.c -> fire.c, conditions.c; webhook.c -> sched.c, fire.c.
 */
#include "sched/sched_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/flow.h"
#include "flow/schema.h"
#include "util/mem.h"

/* ---- the clock ---------------------------------------------------------------------- */

static int64_t wall_clock(void *ud)
{
    (void)ud;
    return time_now_us();
}

int64_t sched__now(sched *s)
{
    return s->o.clock(s->o.clock_ud);
}

/* ---- trigger kinds ------------------------------------------------------------------- */

/* One entry per trigger type of the registry (tasks/triggers.c) that the
 * scheduler runs, by canonical name, with its kind and its set-up when it is
 * loaded. A trigger type missing here is validated but never fires: the
 * registry flags those, and test_sched checks that every other one is here. */
static const sched_trigger_impl triggers[] = {
    {"trigger.schedule", SK_SCHEDULE, sched__schedule_setup_cron, NULL},
    {"trigger.schedule_on_dates", SK_SCHEDULE, sched__schedule_setup_dates, NULL},
    {"trigger.flow", SK_FLOW, NULL, NULL},
    {"trigger.webhook", SK_WEBHOOK, NULL, NULL},
    {"trigger.http", SK_POLL, sched__http_setup, sched__http_pass},
    {"postgresql.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"mysql.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"mariadb.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"sqlite.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"duckdb.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"mongodb.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
    {"s3.trigger", SK_POLL, sched__poll_setup, sched__poll_pass},
};

const sched_trigger_impl *sched__trigger_find(const char *type)
{
    const type_def *d = type ? flow_type_find(type) : NULL;
    if (!d || d->kind != TK_TRIGGER)
        return NULL;
    for (size_t i = 0; i < sizeof triggers / sizeof triggers[0]; i++)
        if (!strcmp(triggers[i].type, d->name))
            return &triggers[i];
    return NULL;
}

/* ---- the cache ------------------------------------------------------------------------ */

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
        const sched_trigger_impl *impl = sched__trigger_find(json_string_value(json_object_get(tj, "type")));
        if (!id || !impl || json_is_true(json_object_get(tj, "disabled")))
            continue;
        sched_kind k = impl->kind;
        sched_trig *t = &f->trigs[f->ntrigs++];
        t->kind = k;
        t->ns = xstrdup(f->ns);
        t->flow_id = xstrdup(f->id);
        t->id = xstrdup(id);
        t->revision = f->revision;
        t->json = tj;
        t->pass = impl->pass;
        t->def = flow_type_find(json_string_value(json_object_get(tj, "type")));
        if (impl->setup)
            impl->setup(s, t);
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

/* Applies the stored rows: disabled flags, and (schedule.c) the next dates
 * of schedules this scheduler has not seen yet. */
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
        if (t->kind == SK_SCHEDULE)
            sched__schedule_row(s, t, &rows[i], was_disabled, now_us, e);
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

/* ---- a pass, backfills ----------------------------------------------------------------- */

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
            if (f->trigs[j].kind != SK_SCHEDULE && f->trigs[j].kind != SK_POLL)
                continue;
            int rc = f->trigs[j].kind == SK_POLL
                         ? f->trigs[j].pass(s, f, &f->trigs[j], now_us, e)
                         : sched__schedule_pass(s, f, &f->trigs[j], now_us, e);
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
        rc = sched__schedule_backfill(s, f, t, start_us, end_us, e);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- lifecycle, the thread -------------------------------------------------------------- */

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
