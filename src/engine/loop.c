/*
 * loop.c: the executor thread's loop: lease a batch of events, apply each
 * to its execution in memory, resolve each execution once, write everything
 * in one transaction, then wake workers and waiters. Also the flow's
 * concurrency limit, which is decided at the start event.
 *
 * DESIGN
 * Events are jobs of kind "event" in the store's queue; task work is jobs of
 * kind "task". The executor leases a batch of events, applies each to its
 * execution in memory (executor_apply, executor.c), resolves each touched
 * execution once (executor_resolve), and writes the changed rows, the new
 * jobs and the acks of the events in ONE transaction (group commit: one
 * commit for the whole batch). Only after the commit are workers woken and
 * waiters told, so nothing is acknowledged before it is durable. If the
 * commit fails, the executions of the batch are dropped from memory (they
 * are reloaded from the store) and the events, still leased, are handed
 * back at once.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define EVENT_BATCH 256
#define EVENT_LEASE_US (60LL * US_PER_SEC)

/* ---- writing a step's results ----------------------------------------------------------- */

/* Writes the runs the step changed (x->wlist: fresh ones in creation order,
 * so their seq keeps it) and the execution row. */
static int write_exec(engine *en, xexec *x, kerr *e)
{
    for (size_t i = 0; i < x->nwlist; i++) {
        xrun *run = &x->runs[x->wlist[i]];
        if (run->fresh) {
            if (store_task_run_insert(en->o.store, &run->row, e))
                return -1;
        } else if (run->dirty) {
            if (store_task_run_update(en->o.store, &run->row, e))
                return -1;
        }
    }
    if (x->dirty && store_execution_update(en->o.store, &x->row, e))
        return -1;
    return 0;
}

/* Creates the subflow executions a step asked for, in the current transaction. */
static void create_subflows(engine *en, xexec *parent, const json_t *list)
{
    size_t i;
    const json_t *sf;
    json_array_foreach(list, i, sf) {
        const char *ns = json_string_value(json_object_get(sf, "namespace"));
        const char *fid = json_string_value(json_object_get(sf, "flowId"));
        const char *child_id = json_string_value(json_object_get(sf, "id"));
        const char *prun = json_string_value(json_object_get(sf, "parentRun"));
        int rev = (int)json_integer_value(json_object_get(sf, "revision"));
        kerr e = KERR_INIT;
        eflow *fl = engine_flow_get(en, ns, fid, rev, &e);
        json_t *inputs = fl ? engine_inputs_read(fl->f, json_object_get(sf, "inputs"), NULL, en->o.storage, child_id, &e)
                            : NULL;
        if (!inputs) {
            /* the subflow task fails: tell the parent as a child end */
            char msg[KERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "subflow %s.%s: %s", ns ? ns : "?", fid ? fid : "?", e.msg);
            int r = -1;
            for (size_t k = 0; k < parent->nruns; k++)
                if (!strcmp(parent->runs[k].row.id, prun))
                    r = (int)k;
            engine_log_line(en, parent, r, 0, LEVEL_ERROR, msg);
            json_t *p = json_pack("{s:s,s:s,s:s}", "type", "child_end", "run", prun, "state", "FAILED");
            store_queue_push(en->o.store, "event", parent->row.id, prun, p, 0, NULL, &e);
            json_decref(p);
            engine_flow_release(en, fl);
            continue;
        }
        store_execution row = {0};
        row.id = (char *)child_id;
        row.namespace = (char *)ns;
        row.flow_id = (char *)fid;
        row.flow_revision = fl->revision;
        row.inputs = inputs;
        engine__register_secret_inputs(en, fl->f, inputs);
        row.labels = json_object();
        engine__flow_labels(fl->f, row.labels);
        json_object_update(row.labels, json_object_get(sf, "labels"));
        if (json_is_true(json_object_get(sf, "wait"))) {
            row.parent_id = parent->row.id;
            row.parent_task_run_id = (char *)prun;
        }
        row.trigger = json_pack("{s:s,s:s,s:s}", "executionId", parent->row.id, "namespace", parent->row.namespace,
                                "flowId", parent->row.flow_id);
        row.created_us = time_now_us();
        store_execution_set_state(&row, STATE_CREATED, row.created_us);
        if (engine__insert_execution(en, &row, &e))
            engine_log_line(en, parent, -1, 0, LEVEL_ERROR, e.msg);
        json_decref(row.inputs);
        json_decref(row.labels);
        json_decref(row.trigger);
        free(row.histories);
        engine_flow_release(en, fl);
    }
}

/* ---- the executor thread ------------------------------------------------------------------- */

static xevent_type event_type(const char *t)
{
    if (!t)
        return XEV_START;
    if (!strcmp(t, "result"))
        return XEV_RESULT;
    if (!strcmp(t, "timer"))
        return XEV_TIMER;
    if (!strcmp(t, "kill"))
        return XEV_KILL;
    if (!strcmp(t, "resume"))
        return XEV_RESUME;
    if (!strcmp(t, "child_end"))
        return XEV_CHILD_END;
    if (!strcmp(t, "restart"))
        return XEV_RESTART;
    return XEV_START;
}

/* One execution touched by a batch. */
typedef struct touched_exec {
    xexec *x;
    xactions a;
    store_state before;
} touched_exec;

typedef struct touched {
    touched_exec *v;
    size_t n;
} touched;

static touched_exec *touch(touched *t, xexec *x)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].x == x) {
            return &t->v[i];
        }
    t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    touched_exec *te = &t->v[t->n++];
    te->x = x;
    xactions_init(&te->a);
    te->before = x->row.state;
    return te;
}

/* ---- flow concurrency (decided at the start event) ----------------------------------------------------------------- */

/* The flow's `concurrency` limit (0: none) and behavior. */
static int64_t concurrency_of(const xexec *x, const char **behavior)
{
    const json_t *c = json_object_get(x->fl->f->doc, "concurrency");
    const json_t *lim = json_object_get(c, "limit");
    *behavior = json_string_value(json_object_get(c, "behavior"));
    if (!*behavior)
        *behavior = "QUEUE";
    if (json_is_integer(lim))
        return json_integer_value(lim);
    if (json_is_string(lim))
        return atoll(json_string_value(lim));
    return 0;
}

/* At a start event: whether the flow's concurrency limit lets x run now.
 * When it does not, x is QUEUED (to start when another ends), CANCELLED or
 * FAILED, as the flow's `concurrency.behavior` says. The store counts the
 * executions already running; `started` (flow key -> count) those this
 * batch started, which the store does not show yet. */
static int concurrency_allows(engine *en, xexec *x, int64_t now, json_t *started)
{
    const char *behavior;
    int64_t limit = concurrency_of(x, &behavior);
    if (limit <= 0)
        return 1;
    store_execution_query q = {.namespace = x->row.namespace, .flow_id = x->row.flow_id,
                               .states = STORE_STATE_BIT(STATE_RUNNING) | STORE_STATE_BIT(STATE_PAUSED) |
                                         STORE_STATE_BIT(STATE_KILLING) | STORE_STATE_BIT(STATE_RESTARTED) |
                                         STORE_STATE_BIT(STATE_RETRYING),
                               .limit = 1};
    int64_t running = 0;
    kerr e = KERR_INIT;
    store_execution *v = NULL;
    size_t n = 0;
    if (store_execution_search(en->o.store, &q, &v, &n, &running, &e))
        return 1; /* cannot count: let it run rather than lose it */
    store_executions_free(v, n);
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s", x->row.namespace, x->row.flow_id);
    running += json_integer_value(json_object_get(started, key));
    if (running < limit) {
        json_object_set_new(started, key, json_integer(json_integer_value(json_object_get(started, key)) + 1));
        return 1;
    }
    char msg[256];
    pthread_mutex_lock(&x->lock);
    if (!strcasecmp(behavior, "CANCEL")) {
        store_execution_set_state(&x->row, STATE_CANCELLED, now);
        x->row.end_us = now;
        snprintf(msg, sizeof msg, "cancelled: the flow's concurrency limit (%lld running) is reached",
                 (long long)limit);
    } else if (!strcasecmp(behavior, "FAIL")) {
        store_execution_set_state(&x->row, STATE_FAILED, now);
        x->row.end_us = now;
        snprintf(msg, sizeof msg, "failed: the flow's concurrency limit (%lld running) is reached", (long long)limit);
    } else {
        if (x->row.state != STATE_QUEUED)
            store_execution_set_state(&x->row, STATE_QUEUED, now);
        snprintf(msg, sizeof msg, "queued: the flow's concurrency limit (%lld running) is reached", (long long)limit);
    }
    x->dirty = 1;
    pthread_mutex_unlock(&x->lock);
    engine_log_line(en, x, -1, 0, LEVEL_INFO, msg);
    return 0;
}

/* x ended: the oldest QUEUED execution of its flow gets a start event. */
static int dequeue_next(engine *en, xexec *x, kerr *e)
{
    const char *behavior;
    if (concurrency_of(x, &behavior) <= 0)
        return 0;
    store_execution_query q = {.namespace = x->row.namespace, .flow_id = x->row.flow_id,
                               .states = STORE_STATE_BIT(STATE_QUEUED)};
    store_execution *v = NULL;
    size_t n = 0;
    if (store_execution_search(en->o.store, &q, &v, &n, NULL, e))
        return -1;
    int rc = 0;
    if (n) {
        /* newest first: the oldest is the last */
        json_t *p = json_pack("{s:s}", "type", "start");
        rc = store_queue_push(en->o.store, "event", v[n - 1].id, NULL, p, 0, NULL, e);
        json_decref(p);
    }
    store_executions_free(v, n);
    return rc;
}

/* ---- one batch, the thread ---------------------------------------------------------------- */

/* A task job the batch pushes already leased to a waiting worker: handed
 * to it once the batch is committed. */
typedef struct handed {
    wslot *slot;
    int64_t id;
    char *execution_id, *task_run_id;
    json_t *payload;
} handed;

typedef struct handeds {
    handed *v;
    size_t n, cap;
} handeds;

/* An idle worker's slot, reserved for a job of this batch, or NULL. */
static wslot *reserve_worker(engine *en)
{
    wslot *w = NULL;
    pthread_mutex_lock(&en->lock);
    if (en->handoff && !en->stopping)
        for (int i = 0; i < en->nslots; i++)
            if (en->slots[i].idle && !en->slots[i].reserved && !en->slots[i].job && !en->slots[i].gone) {
                w = &en->slots[i];
                if (i != en->poller)
                    break;   /* the poller only when no other waits: it keeps polling */
            }
    if (w)
        w->reserved = 1;
    pthread_mutex_unlock(&en->lock);
    return w;
}

/* Pushes a task job: leased to an idle worker in this transaction when
 * there is one (recorded in h, handed after the commit), else to the
 * queue (*queued counts it). */
static int push_task(engine *en, xexec *x, const xjob *j, handeds *h, int *queued, kerr *e)
{
    wslot *w = j->available_us <= time_now_us() ? reserve_worker(en) : NULL;
    if (!w) {
        if (store_queue_push(en->o.store, j->kind, x->row.id, j->taskrun_id, j->payload, j->available_us, NULL, e))
            return -1;
        (*queued)++;
        return 0;
    }
    int64_t id = 0;
    if (store_queue_push_leased(en->o.store, j->kind, x->row.id, j->taskrun_id, j->payload, w->owner, en->o.lease_us,
                                &id, e)) {
        pthread_mutex_lock(&en->lock);
        w->reserved = 0;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&en->lock);
        return -1;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->v = xrealloc(h->v, h->cap * sizeof *h->v);
    }
    handed *d = &h->v[h->n++];
    d->slot = w;
    d->id = id;
    d->execution_id = xstrdup(x->row.id);
    d->task_run_id = j->taskrun_id ? xstrdup(j->taskrun_id) : NULL;
    d->payload = json_deep_copy(j->payload); /* the worker's own: no refcount shared across threads */
    return 0;
}

/* After the batch: each reserved worker gets its job (committed) or is let
 * go (rolled back). */
static void hand_over(engine *en, handeds *h, int committed)
{
    int64_t now = time_now_us();
    pthread_mutex_lock(&en->lock);
    for (size_t i = 0; i < h->n; i++) {
        handed *d = &h->v[i];
        wslot *w = d->slot;
        w->reserved = 0;
        if (committed && !w->gone) {
            store_job *j = xcalloc(1, sizeof *j);
            j->id = d->id;
            j->kind = xstrdup("task");
            j->execution_id = d->execution_id;
            j->task_run_id = d->task_run_id;
            j->payload = d->payload;
            j->available_us = now;
            j->attempt = 1;
            j->owner = xstrdup(w->owner);
            j->lease_until_us = now + en->o.lease_us;
            w->job = j;
        } else {
            /* gone: the job stays leased to it and goes back at the stop */
            free(d->execution_id);
            free(d->task_run_id);
            json_decref(d->payload);
        }
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&en->lock);
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* Writes what resolving one execution produced; 0 or -1 with e set. */
static int apply_actions(engine *en, touched_exec *te, int *tasks_pushed, handeds *hd, json_t *cancels, kerr *e)
{
    store *st = en->o.store;
    xexec *x = te->x;
    xactions *a = &te->a;
    if (write_exec(en, x, e))
        return -1;
    /* written in this transaction: a later write of the same batch must
     * update, not insert again (a rollback drops x anyway) */
    xexec_mark_written(x);
    for (size_t k = 0; k < a->njobs; k++) {
        if (!strcmp(a->jobs[k].kind, "task")) {
            if (push_task(en, x, &a->jobs[k], hd, tasks_pushed, e))
                return -1;
            continue;
        }
        if (store_queue_push(st, a->jobs[k].kind, x->row.id, a->jobs[k].taskrun_id, a->jobs[k].payload,
                             a->jobs[k].available_us, NULL, e))
            return -1;
        if (a->jobs[k].available_us > 0) {
            pthread_mutex_lock(&en->lock);
            if (!en->next_timer_us || a->jobs[k].available_us < en->next_timer_us)
                en->next_timer_us = a->jobs[k].available_us;
            pthread_mutex_unlock(&en->lock);
        }
    }
    if (a->subflows)
        create_subflows(en, x, a->subflows);
    size_t ck;
    json_t *cid;
    json_array_foreach(a->kill_children, ck, cid) {
        json_t *p = json_pack("{s:s}", "type", "kill");
        int rc = store_queue_push(st, "event", json_string_value(cid), NULL, p, 0, NULL, e);
        json_decref(p);
        if (rc)
            return -1;
    }
    if (a->notify_parent) {
        json_t *p = json_pack("{s:s,s:s,s:s,s:O?}", "type", "child_end", "run",
                              json_string_value(json_object_get(a->notify_parent, "run")), "state",
                              json_string_value(json_object_get(a->notify_parent, "state")), "outputs",
                              json_object_get(a->notify_parent, "outputs"));
        int rc = store_queue_push(st, "event", json_string_value(json_object_get(a->notify_parent, "parent")),
                                  json_string_value(json_object_get(a->notify_parent, "run")), p, 0, NULL, e);
        json_decref(p);
        if (rc)
            return -1;
    }
    for (size_t k = 0; k < a->ncancel; k++)
        json_array_append_new(cancels, json_string(a->cancel_runs[k]));
    if (a->new_execution) {
        /* the flow's retry with CREATE_NEW_EXECUTION */
        char nid[STORE_ID_LEN + 1];
        store_new_id(nid);
        store_execution nx = {0};
        nx.id = nid;
        nx.namespace = x->row.namespace;
        nx.flow_id = x->row.flow_id;
        nx.flow_revision = x->row.flow_revision;
        nx.inputs = x->row.inputs;
        nx.labels = x->row.labels;
        nx.trigger = x->row.trigger;
        nx.original_id = x->row.id;
        nx.variables = json_pack("{s:O}", "_flowAttempts", json_object_get(a->new_execution, "attempt"));
        nx.created_us = time_now_us();
        store_execution_set_state(&nx, STATE_CREATED, nx.created_us);
        int64_t at = json_integer_value(json_object_get(a->new_execution, "start_us"));
        json_t *p = json_pack("{s:s}", "type", "start");
        int rc = store_execution_insert(st, &nx, e);
        if (!rc)
            rc = store_queue_push(st, "event", nid, NULL, p, at, NULL, e);
        json_decref(p);
        json_decref(nx.variables);
        free(nx.histories);
        if (rc)
            return -1;
        pthread_mutex_lock(&en->lock);
        if (!en->next_timer_us || at < en->next_timer_us)
            en->next_timer_us = at;
        pthread_mutex_unlock(&en->lock);
    }
    return 0;
}

/* An execution that can never load (engine_exec_get's ENGINE_E_UNLOADABLE:
 * corrupt rows, too many task runs) would be retried at every event and
 * every start: it ends FAILED in bulk instead (store_execution_end_bulk:
 * its unfinished runs too, its jobs dropped), with the reason in its logs
 * and on stderr, in the batch's transaction. Returns 0 when it was. */
static int quarantine(engine *en, const char *id, const char *why, int64_t now)
{
    kerr e = KERR_INIT;
    size_t runs = 0;
    if (store_execution_end_bulk(en->o.store, id, STATE_FAILED, now, &runs, &e)) {
        fprintf(stderr, "kite: executor: execution %s cannot be loaded (%s) nor stopped: %s\n", id, why, e.msg);
        return -1;
    }
    char msg[KERR_MSG_MAX + 160];
    snprintf(msg, sizeof msg, "execution quarantined: it cannot be loaded (%s); it is FAILED, with %zu task run%s that had not ended",
             why, runs, runs == 1 ? "" : "s");
    fprintf(stderr, "kite: executor: %s: %s\n", id, msg);
    store_log l = {.execution_id = (char *)id, .at_us = now, .level = LEVEL_ERROR, .message = msg};
    store_log_append(en->o.store, &l, NULL, &e);
    return 0;
}

/* Applies one event (leased from the store, or a result a worker handed
 * over) to its execution, touching it for the batch. */
static void apply_event(engine *en, touched *t, const char *exec_id, const char *run_id, const json_t *payload,
                        int64_t now, json_t *started, json_t **quarantined, int *ended)
{
    kerr le = KERR_INIT;
    xexec *x = exec_id ? engine_exec_get(en, exec_id, &le) : NULL;
    if (!x && le.code == ENGINE_E_UNLOADABLE) {
        if (!*quarantined)
            *quarantined = json_object();
        if (!json_object_get(*quarantined, exec_id) && !quarantine(en, exec_id, le.msg, now))
            *ended = 1;
        json_object_set_new(*quarantined, exec_id, json_true());
    }
    if (!x)
        return; /* deleted or unreadable: the event is dropped with the others' acks */
    size_t before = t->n;
    touched_exec *te = touch(t, x);
    if (t->n == before)
        engine_exec_release(en, x); /* already held once by this batch */
    xevent ev = {event_type(json_string_value(json_object_get(payload, "type"))),
                 json_string_value(json_object_get(payload, "run")), payload};
    if (!ev.taskrun_id)
        ev.taskrun_id = run_id;
    if (ev.type == XEV_START && (x->row.state == STATE_CREATED || x->row.state == STATE_QUEUED) &&
        !concurrency_allows(en, x, now, started))
        return;
    pthread_mutex_lock(&x->lock);
    executor_apply(en, x, &ev, now, &te->a);
    pthread_mutex_unlock(&x->lock);
}

/* Writes the log lines of a handed result and acknowledges its task job
 * (in the batch's transaction). 1 when its result applies, 0 when the job
 * went to another delivery meanwhile (its logs stay: they say what this
 * delivery did), -1 on a store error. */
static int take_result(engine *en, hresult *h, kerr *e)
{
    for (size_t k = 0; k < h->nlogs; k++)
        if (store_log_append(en->o.store, &h->logs[k], NULL, e))
            return -1;
    int rc = store_queue_ack(en->o.store, h->job_id, h->owner, e);
    if (rc == STORE_CONFLICT || rc == STORE_NOT_FOUND)
        return 0;
    if (rc)
        return -1;
    if (h->task_id)
        engine__store_metrics(en->o.store, h->execution_id, h->task_run_id, h->task_id, h->attempt,
                              json_object_get(h->payload, "metrics"));
    return 1;
}

/* Processes one batch: the events leased from the store (when events is
 * set) and the results workers handed over, every one applied to its
 * execution, each execution resolved once, everything written in one
 * transaction: the events' lease and ack, the handed results' logs and the
 * acks of their task jobs, the rows, the new jobs. Returns the number of
 * events and results processed. */
static size_t executor_batch(engine *en, int events, int *lease_again)
{
    store *st = en->o.store;
    store_job *jobs = NULL;
    size_t n = 0, nres = 0;
    kerr e = KERR_INIT;
    pthread_mutex_lock(&en->lock);
    hresult *res = en->results;
    en->results = NULL;
    en->results_tail = &en->results;
    pthread_mutex_unlock(&en->lock);
    for (hresult *h = res; h; h = h->next)
        nres++;
    if (!events && !res)
        return 0;
    if (store_begin(st, &e)) {
        fprintf(stderr, "kite: executor: %s\n", e.msg);
        goto requeue;
    }
    /* the events' lease rides in the batch's commit: a rollback leaves
     * them ready, for the next batch */
    if (events && store_queue_lease(st, "event", EVENT_BATCH, en->exec_owner, EVENT_LEASE_US, 0, &jobs, &n, &e)) {
        fprintf(stderr, "kite: executor: %s\n", e.msg);
        store_rollback(st);
        goto requeue;
    }
    if (n == EVENT_BATCH && lease_again)
        *lease_again = 1; /* more may wait */
    if (!n && !res) {
        store_rollback(st);
        return 0;
    }
    touched t = {0};
    handeds hd = {0};
    int tasks_pushed = 0, ended = 0, failed = 0;
    json_t *cancels = json_array();
    int64_t now = time_now_us();
    json_t *started = json_object();
    json_t *quarantined = NULL;
    for (size_t i = 0; i < n; i++)
        apply_event(en, &t, jobs[i].execution_id, jobs[i].task_run_id, jobs[i].payload, now, started, &quarantined,
                    &ended);
    for (hresult *h = res; h && !failed; h = h->next) {
        int take = take_result(en, h, &e);
        if (take < 0)
            failed = 1;
        else if (take)
            apply_event(en, &t, h->execution_id, h->task_run_id, h->payload, now, started, &quarantined, &ended);
    }
    json_decref(started);
    json_decref(quarantined);
    for (size_t i = 0; i < t.n && !failed; i++) {
        touched_exec *te = &t.v[i];
        pthread_mutex_lock(&te->x->lock);
        executor_resolve(en, te->x, now, &te->a);
        pthread_mutex_unlock(&te->x->lock);
        if (apply_actions(en, te, &tasks_pushed, &hd, cancels, &e))
            failed = 1;
        store_state after = te->x->row.state;
        if (after != te->before && (store_state_is_terminated(after) || after == STATE_PAUSED))
            ended = 1;
        if (!failed && after != te->before && store_state_is_terminated(after) && dequeue_next(en, te->x, &e))
            failed = 1;
    }
    for (size_t i = 0; i < n && !failed; i++)
        if (store_queue_ack(st, jobs[i].id, en->exec_owner, &e) && e.code != STORE_NOT_FOUND)
            failed = 1;
    if (failed || store_commit(st, &e)) {
        fprintf(stderr, "kite: executor: %s (the batch is retried)\n", e.msg);
        store_rollback(st);
        hand_over(en, &hd, 0);
        for (size_t i = 0; i < t.n; i++) {
            char *id = xstrdup(t.v[i].x->row.id);
            xactions_clear(&t.v[i].a);
            engine_exec_release(en, t.v[i].x);
            engine_exec_forget(en, id);
            free(id);
        }
        free(t.v);
        store_jobs_free(jobs, n);
        json_decref(cancels);
        goto requeue;
    }
    /* durable: now act on it */
    hand_over(en, &hd, 1);
    while (res) {
        hresult *h = res;
        res = h->next;
        engine__hresult_free(h);
    }
    for (size_t i = 0; i < t.n; i++) {
        xexec *x = t.v[i].x;
        xactions_clear(&t.v[i].a);
        int done = store_state_is_terminated(x->row.state);
        if (en->o.on_end && x->row.state != t.v[i].before && (done || x->row.state == STATE_PAUSED))
            en->o.on_end(en->o.on_end_ud, x->row.id, x->row.state);
        char *id = done ? xstrdup(x->row.id) : NULL;
        engine_exec_release(en, x);
        if (done) {
            engine_exec_forget(en, id);
            /* the working folders of its WorkingDirectory tasks */
            char *dir = xasprintf("%s/kite-%s", en->tmp_dir, id);
            struct stat sb;
            if (!stat(dir, &sb)) {
                kerr e2 = KERR_INIT;
                proc_workdir_remove(dir, NULL, NULL, &e2);
            }
            free(dir);
            free(id);
        }
    }
    free(t.v);
    pthread_mutex_lock(&en->lock);
    size_t ci;
    json_t *cid;
    json_array_foreach(cancels, ci, cid) {
        json_t *flag = json_object_get(en->cancels, json_string_value(cid));
        if (flag)
            atomic_store((atomic_int *)(uintptr_t)json_integer_value(flag), 1);
    }
    if (tasks_pushed) {
        /* one worker per queued job, not all of them */
        en->jobs_pending += tasks_pushed;
        int woken = 0;
        for (int i = 0; i < en->nslots && woken < tasks_pushed; i++)
            if (en->slots[i].idle && !en->slots[i].reserved) {
                pthread_cond_signal(&en->slots[i].wake);
                woken++;
            }
        pthread_cond_broadcast(&en->work_wake);
    }
    if (ended) {
        en->exec_gen++;
        pthread_cond_broadcast(&en->ended);
    }
    pthread_mutex_unlock(&en->lock);
    json_decref(cancels);
    store_jobs_free(jobs, n);
    return n + nres;

requeue:
    if (lease_again)
        *lease_again = 1; /* the events stay ready: the next batch leases them */
    /* the handed results wait for the next batch (their jobs stay leased) */
    if (res) {
        pthread_mutex_lock(&en->lock);
        hresult *last = res;
        while (last->next)
            last = last->next;
        last->next = en->results;
        if (!en->results)
            en->results_tail = &last->next;
        en->results = res;
        pthread_mutex_unlock(&en->lock);
    }
    return 0;
}

void *executor_main(void *arg)
{
    engine *en = arg;
    store *st = en->o.store;
    kerr e = KERR_INIT;
    /* A batch leases events only when there may be some: an event was
     * committed in this process since the last lease (the wake-up counter
     * moved by more than the wake-ups for handed results, result_pokes,
     * which count themselves before they move it), the last lease was full
     * or failed, a delayed event is due, or a second has passed (other
     * processes' events, as before). A batch woken by a result handed over
     * in memory alone asks the store for nothing more. */
    uint64_t leased_seen = 0, leased_pokes = 0;
    int lease_again = 1;
    int64_t last_lease_us = 0;
    while (atomic_load(&en->running)) {
        /* the wake-up counter before the lease: an event committed after it
         * moves it on, and the wait below returns at once */
        uint64_t seen = 0;
        store_queue_wait(st, "event", 0, 0, &seen, &e);
        int64_t now_us = time_mono_us();
        pthread_mutex_lock(&en->lock);
        if (en->next_timer_us && en->next_timer_us <= time_now_us()) {
            en->next_timer_us = 0;
            lease_again = 1; /* a delayed event is ready */
        }
        pthread_mutex_unlock(&en->lock);
        uint64_t pokes = atomic_load(&en->result_pokes); /* after seen: see above */
        int events = lease_again || seen - leased_seen > pokes - leased_pokes || now_us - last_lease_us >= 1000000;
        if (events) {
            leased_seen = seen;
            leased_pokes = pokes;
            last_lease_us = now_us;
            lease_again = 0;
        }
        size_t n = executor_batch(en, events, &lease_again);
        if (n)
            continue;
        int64_t wait_us = 1000000;
        pthread_mutex_lock(&en->lock);
        if (en->next_timer_us) {
            wait_us = en->next_timer_us - time_now_us();
            if (wait_us < 0)
                wait_us = 0;
            if (wait_us > 1000000)
                wait_us = 1000000;
        }
        pthread_mutex_unlock(&en->lock);
        if (wait_us > 0 && atomic_load(&en->running))
            store_queue_wait(st, "event", seen, wait_us, NULL, &e);
        pthread_mutex_lock(&en->lock);
        if (en->next_timer_us && en->next_timer_us <= time_now_us()) {
            en->next_timer_us = 0;
            lease_again = 1; /* a delayed event is ready */
        }
        pthread_mutex_unlock(&en->lock);
    }
    /* results handed over until now are written; later ones the workers
     * write themselves */
    pthread_mutex_lock(&en->lock);
    en->handoff = 0;
    pthread_mutex_unlock(&en->lock);
    for (int tries = 0; tries < 5; tries++) {
        executor_batch(en, 0, NULL);
        pthread_mutex_lock(&en->lock);
        int left = en->results != NULL;
        pthread_mutex_unlock(&en->lock);
        if (!left)
            break;
    }
    return NULL;
}
