/*
 * ops.c: the operations on executions: submit, kill, resume, restart,
 * replay, wait, and the question "is it waiting for a person".
 *
 * DESIGN
 * An operation never changes an execution in memory: that is the
 * executor's job alone (engine_int.h). Submit and replay insert new rows
 * with their start event in one transaction; kill, resume and restart check
 * the stored state and push an event; then the executor is woken. So an
 * operation and the executor never race on an execution's rows.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- creating executions ------------------------------------------------------------------- */

/* Creates the execution row of a new execution (inputs already read). */
int engine__insert_execution(engine *en, store_execution *row, kerr *e)
{
    if (store_execution_insert(en->o.store, row, e))
        return -1;
    json_t *p = json_pack("{s:s}", "type", "start");
    int rc = store_queue_push(en->o.store, "event", row->id, NULL, p, 0, NULL, e);
    json_decref(p);
    return rc;
}

int engine__flow_labels(const flow *f, json_t *out)
{
    const json_t *l = json_object_get(f->doc, "labels");
    if (json_is_object(l)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)l, k, v) {
            if (json_is_string(v))
                json_object_set(out, k, v);
            else {
                char *t = expr_value_to_text(v);
                json_object_set_new(out, k, json_string(t));
                free(t);
            }
        }
    } else if (json_is_array(l)) {
        size_t i;
        json_t *it;
        json_array_foreach(l, i, it) {
            const char *k = json_string_value(json_object_get(it, "key"));
            const json_t *v = json_object_get(it, "value");
            if (k && v) {
                char *t = json_is_string(v) ? xstrdup(json_string_value(v)) : expr_value_to_text(v);
                json_object_set_new(out, k, json_string(t));
                free(t);
            }
        }
    }
    return 0;
}

/* ---- operations ------------------------------------------------------------------------------- */

int engine_submit(engine *en, const engine_submit_opts *o, char id_out[STORE_ID_LEN + 1], kerr *e)
{
    eflow *fl = engine_flow_get(en, o->namespace, o->flow_id, o->revision, e);
    if (!fl)
        return -1;
    if (fl->f->disabled || fl->deleted) {
        engine_flow_release(en, fl);
        return kerr_setc(e, KERR_CONFLICT, "flow %s.%s is %s", o->namespace, o->flow_id,
                         fl->deleted ? "deleted" : "disabled");
    }
    char id[STORE_ID_LEN + 1];
    if (o->id && strlen(o->id) == STORE_ID_LEN)
        memcpy(id, o->id, sizeof id);
    else
        store_new_id(id);
    json_t *inputs = engine_inputs_read(fl->f, o->inputs, o->files, en->o.storage, id, e);
    if (!inputs) {
        engine_flow_release(en, fl);
        if (e && e->code == KERR_INTERNAL)
            e->code = KERR_INVALID; /* the caller's inputs */
        return -1;
    }
    engine__register_secret_inputs(en, fl->f, inputs);
    store_execution row = {0};
    row.id = id;
    row.namespace = (char *)o->namespace;
    row.flow_id = (char *)o->flow_id;
    row.flow_revision = fl->revision;
    row.inputs = inputs;
    row.labels = json_object();
    engine__flow_labels(fl->f, row.labels);
    if (json_is_object(o->labels))
        json_object_update(row.labels, o->labels);
    row.trigger = o->trigger ? json_incref(o->trigger) : NULL;
    row.parent_id = (char *)o->parent_id;
    row.parent_task_run_id = (char *)o->parent_taskrun_id;
    row.created_us = time_now_us();
    store_execution_set_state(&row, STATE_CREATED, row.created_us);
    /* the row and its start event land together (joining the caller's
     * transaction when there is one: transactions nest) */
    int rc = store_begin(en->o.store, e);
    if (!rc) {
        rc = engine__insert_execution(en, &row, e);
        if (rc)
            store_rollback(en->o.store);
        else
            rc = store_commit(en->o.store, e);
    }
    json_decref(row.inputs);
    json_decref(row.labels);
    json_decref(row.trigger);
    free(row.histories);
    engine_flow_release(en, fl);
    if (rc)
        return -1;
    memcpy(id_out, id, sizeof id);
    engine_wake_executor(en);
    return 0;
}

static int push_event(engine *en, const char *id, json_t *payload, kerr *e)
{
    int rc = store_queue_push(en->o.store, "event", id, NULL, payload, 0, NULL, e);
    json_decref(payload);
    if (!rc)
        engine_wake_executor(en);
    return rc;
}

/* The execution's row; KERR_NOT_FOUND "execution X not found" when none. */
static int need_state(engine *en, const char *id, store_execution *row, kerr *e)
{
    if (store_execution_get(en->o.store, id, row, e)) {
        if (e && e->code == KERR_NOT_FOUND)
            kerr_set(e, "execution %s not found", id);
        return -1;
    }
    return 0;
}

int engine_kill(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    store_state st = row.state;
    store_execution_clear(&row);
    if (store_state_is_terminated(st))
        return kerr_setc(e, KERR_CONFLICT, "execution %s already ended %s", id, store_state_name(st));
    return push_event(en, id, json_pack("{s:s}", "type", "kill"), e);
}

int engine_delete(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    if (!store_state_is_terminated(row.state) && row.state != STATE_PAUSED) {
        kerr_setc(e, KERR_CONFLICT, "execution %s is %s: kill it first", id, store_state_name(row.state));
        store_execution_clear(&row);
        return -1;
    }
    kerr pe = KERR_INIT;
    char *prefix = storage_uri_execution(row.namespace, row.flow_id, row.id, &pe);
    int rc = store_execution_delete(en->o.store, row.id, e);
    if (rc && e && e->code == KERR_NOT_FOUND)
        kerr_set(e, "execution %s not found", id); /* deleted meanwhile */
    if (!rc && prefix)
        storage_delete_prefix(en->o.storage, prefix, &pe); /* best effort: the row is gone */
    free(prefix);
    store_execution_clear(&row);
    return rc ? -1 : 0;
}

int engine_resume(engine *en, const char *id, json_t *inputs, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    store_state st = row.state;
    store_execution_clear(&row);
    if (st != STATE_PAUSED)
        return kerr_setc(e, KERR_CONFLICT, "execution %s is %s, not PAUSED: nothing to resume", id,
                         store_state_name(st));
    return push_event(en, id, json_pack("{s:s,s:O?}", "type", "resume", "inputs", inputs), e);
}

int engine_restart(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    int ok = row.state == STATE_FAILED || row.state == STATE_KILLED;
    store_execution_clear(&row);
    if (!ok)
        return kerr_setc(e, KERR_CONFLICT, "execution %s is not FAILED or KILLED: only those can be restarted", id);
    return push_event(en, id, json_pack("{s:s}", "type", "restart"), e);
}

/* Replay: a new execution of the same flow revision with the same inputs
 * (already read and typed: they are not read again), whose originalId is
 * the replayed one. From a task run: the runs created before it that ended
 * well are copied (new ids, same outputs), its enclosing flowable runs are
 * copied as RUNNING, and everything from it on runs again. One transaction. */
int engine_replay(engine *en, const char *id, const char *taskrun_id, char new_id[STORE_ID_LEN + 1], kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    if (!store_state_is_terminated(row.state)) {
        store_execution_clear(&row);
        return kerr_setc(e, KERR_CONFLICT, "execution %s is still %s: only an ended execution can be replayed", id,
                         store_state_name(row.state));
    }
    store_task_run *runs = NULL;
    size_t n = 0;
    if (store_task_run_list(en->o.store, id, &runs, &n, e)) {
        store_execution_clear(&row);
        return -1;
    }
    size_t from = n;
    if (taskrun_id) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(runs[i].id, taskrun_id))
                from = i;
        if (from == n) {
            store_task_runs_free(runs, n);
            store_execution_clear(&row);
            return kerr_setc(e, KERR_NOT_FOUND, "execution %s has no task run %s", id, taskrun_id);
        }
    } else {
        from = 0;
    }
    /* which runs to copy: the ancestors of the chosen run (as RUNNING), and
     * the runs before it that ended well and hang under copied runs */
    int *keep = xcalloc(n ? n : 1, sizeof *keep); /* 0 no, 1 as is, 2 as RUNNING */
    json_t *idx = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(idx, runs[i].id, json_integer((json_int_t)i));
    if (from < n) {
        const char *p = runs[from].parent_task_run_id;
        while (p) {
            json_t *slot = json_object_get(idx, p);
            if (!slot)
                break;
            size_t k = (size_t)json_integer_value(slot);
            keep[k] = 2;
            p = runs[k].parent_task_run_id;
        }
    }
    for (size_t i = 0; i < from; i++) {
        if (keep[i])
            continue;
        store_state st = runs[i].state;
        if (st != STATE_SUCCESS && st != STATE_WARNING && st != STATE_SKIPPED)
            continue;
        const char *p = runs[i].parent_task_run_id;
        int ok = 1;
        if (p) {
            json_t *slot = json_object_get(idx, p);
            ok = slot && keep[json_integer_value(slot)];
        }
        keep[i] = ok;
    }
    char nid[STORE_ID_LEN + 1];
    store_new_id(nid);
    int64_t now = time_now_us();
    store_execution x = {0};
    x.id = nid;
    x.namespace = row.namespace;
    x.flow_id = row.flow_id;
    x.flow_revision = row.flow_revision;
    x.inputs = row.inputs;
    x.labels = row.labels;
    x.trigger = row.trigger;
    x.original_id = (char *)id;
    x.created_us = now;
    store_execution_set_state(&x, STATE_CREATED, now);
    json_t *newids = json_object();
    int rc = store_begin(en->o.store, e);
    if (!rc)
        rc = store_execution_insert(en->o.store, &x, e);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!keep[i])
            continue;
        char rid[STORE_ID_LEN + 1];
        store_new_id(rid);
        json_object_set_new(newids, runs[i].id, json_string(rid));
        store_task_run t = runs[i];
        t.id = rid;
        t.execution_id = nid;
        t.parent_task_run_id = runs[i].parent_task_run_id
                                   ? (char *)json_string_value(json_object_get(newids, runs[i].parent_task_run_id))
                                   : NULL;
        store_history h[2];
        if (keep[i] == 2) {
            h[0] = (store_history){STATE_CREATED, now};
            h[1] = (store_history){STATE_RUNNING, now};
            t.state = STATE_RUNNING;
            t.histories = h;
            t.n_histories = 2;
        }
        rc = store_task_run_insert(en->o.store, &t, e);
    }
    if (!rc) {
        json_t *p = json_pack("{s:s}", "type", "start");
        rc = store_queue_push(en->o.store, "event", nid, NULL, p, 0, NULL, e);
        json_decref(p);
    }
    if (!rc)
        rc = store_commit(en->o.store, e);
    else
        store_rollback(en->o.store);
    free(x.histories);
    json_decref(newids);
    json_decref(idx);
    free(keep);
    store_task_runs_free(runs, n);
    store_execution_clear(&row);
    if (rc)
        return -1;
    memcpy(new_id, nid, sizeof nid);
    engine_wake_executor(en);
    return 0;
}

int engine_wait(engine *en, const char *id, int stop_on_pause, int64_t timeout_us, store_state *state, kerr *e)
{
    int64_t deadline = timeout_us ? time_mono_us() + timeout_us : 0;
    for (;;) {
        pthread_mutex_lock(&en->lock);
        size_t gen = en->exec_gen;
        pthread_mutex_unlock(&en->lock);
        store_execution row = {0};
        if (store_execution_get(en->o.store, id, &row, e))
            return -1;
        store_state st = row.state;
        store_execution_clear(&row);
        if (store_state_is_terminated(st) || (stop_on_pause && st == STATE_PAUSED)) {
            *state = st;
            return 0;
        }
        if (deadline && time_mono_us() >= deadline) {
            *state = st;
            return kerr_set(e, "execution %s still %s after the wait", id, store_state_name(st));
        }
        pthread_mutex_lock(&en->lock);
        if (gen == en->exec_gen && atomic_load(&en->running)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&en->ended, &en->lock, &ts);
        }
        int running = atomic_load(&en->running);
        pthread_mutex_unlock(&en->lock);
        if (!running) {
            *state = st;
            return kerr_set(e, "the engine stopped");
        }
    }
}

int engine_waiting_for_person(engine *en, const char *id)
{
    kerr e = KERR_INIT;
    xexec *x = engine_exec_get(en, id, &e);
    if (!x)
        return 0;
    int person = 0;
    pthread_mutex_lock(&x->lock);
    if (x->row.state == STATE_PAUSED) {
        for (size_t i = 0; i < x->nruns; i++) {
            if (x->runs[i].row.state != STATE_PAUSED)
                continue;
            const json_t *t = x->fl->tasks[x->runs[i].task].json;
            if (!json_object_get(t, "delay") && !json_object_get(t, "pauseDuration") && !json_object_get(t, "timeout"))
                person = 1;
        }
    }
    pthread_mutex_unlock(&x->lock);
    engine_exec_release(en, x);
    return person;
}
