/*
 * engine.c: the engine object: caches of flows and executions, the executor
 * thread's loop (lease events, step, write everything in one transaction),
 * and the operations on executions.
 *
 * DESIGN
 * Events are jobs of kind "event" in the store's queue; task work is jobs of
 * kind "task". The executor leases a batch of events, applies each to its
 * execution in memory (executor_step), and writes the changed rows, the new
 * jobs and the acks of the events in ONE transaction (group commit: one
 * commit for the whole batch). Only after the commit are workers woken and
 * waiters told, so nothing is acknowledged before it is durable. If the
 * commit fails, the executions of the batch are dropped from memory (they
 * are reloaded from the store) and the events, still leased, come back when
 * their lease expires.
 *
 * Within one process the executor is the only writer of executions and task
 * runs (engine_int.h); at start-up every lease held by a previous process is
 * handed back (store_queue_expire), so a kill -9 loses nothing committed.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXECUTOR_OWNER "executor"
#define EVENT_BATCH 256
#define EVENT_LEASE_US (60LL * US_PER_SEC)

/* ---- logs and secrets ------------------------------------------------------------------ */

void engine_add_secret(engine *en, const char *value)
{
    if (!value || strlen(value) < 3)
        return; /* masking very short values would mangle every log line */
    pthread_mutex_lock(&en->secrets.lock);
    for (size_t i = 0; i < en->secrets.n; i++)
        if (!strcmp(en->secrets.v[i], value)) {
            pthread_mutex_unlock(&en->secrets.lock);
            return;
        }
    en->secrets.v = xrealloc(en->secrets.v, (en->secrets.n + 1) * sizeof *en->secrets.v);
    en->secrets.v[en->secrets.n++] = xstrdup(value);
    pthread_mutex_unlock(&en->secrets.lock);
}

char *engine_mask_secrets(engine *en, const char *msg)
{
    char *out = NULL;
    pthread_mutex_lock(&en->secrets.lock);
    for (size_t i = 0; i < en->secrets.n; i++) {
        const char *sec = en->secrets.v[i];
        const char *cur = out ? out : msg;
        if (!strstr(cur, sec))
            continue;
        buf b = BUF_INIT;
        size_t sl = strlen(sec);
        const char *p = cur, *hit;
        while ((hit = strstr(p, sec))) {
            buf_append(&b, p, (size_t)(hit - p));
            buf_puts(&b, "******");
            p = hit + sl;
        }
        buf_puts(&b, p);
        free(out);
        out = buf_steal(&b);
    }
    pthread_mutex_unlock(&en->secrets.lock);
    return out;
}

void engine_log_line(engine *en, xexec *x, int r, int attempt, store_level level, const char *msg)
{
    if (level < en->o.min_log_level)
        return;
    char *masked = engine_mask_secrets(en, msg);
    const char *m = masked ? masked : msg;
    store_log l = {0};
    l.execution_id = x->row.id;
    l.task_run_id = r >= 0 ? x->runs[r].row.id : NULL;
    l.task_id = r >= 0 ? x->runs[r].row.task_id : NULL;
    l.attempt = attempt;
    l.at_us = time_now_us();
    l.level = level;
    l.message = (char *)m;
    kerr e = KERR_INIT;
    store_log_append(en->o.store, &l, NULL, &e);
    if (en->o.on_log) {
        engine_log el = {x->row.id, l.task_id, l.task_run_id, attempt, l.at_us, level, m};
        en->o.on_log(en->o.on_log_ud, &el);
    }
    free(masked);
}

/* ---- host functions for expressions ---------------------------------------------------- */

static json_t *fn_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine *en = ud;
    const char *name = json_string_value(json_array_get(args, 0));
    if (!name)
        name = json_string_value(json_object_get(kwargs, "key"));
    if (!name) {
        kerr_set(e, "secret() needs the secret's name");
        return NULL;
    }
    char var[300];
    snprintf(var, sizeof var, "SECRET_%s", name);
    const char *b64 = getenv(var);
    if (!b64) {
        kerr_set(e, "secret '%s' not found (set %s to its value in base64)", name, var);
        return NULL;
    }
    /* base64 decode through the expression language's own filter */
    json_t *ctx = json_pack("{s:s}", "v", b64);
    char *out = NULL;
    kerr e2 = KERR_INIT;
    if (expr_render_string("{{ v | base64decode }}", ctx, NULL, &out, &e2)) {
        json_decref(ctx);
        kerr_set(e, "secret '%s': %s is not valid base64", name, var);
        return NULL;
    }
    json_decref(ctx);
    /* a trailing newline from `echo | base64` is not part of the secret */
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    engine_add_secret(en, out);
    json_t *v = json_string(out);
    free(out);
    return v;
}

/* ---- flows ------------------------------------------------------------------------------ */

int engine_flow_put(engine *en, const char *source, size_t len, const char *name, int *revision, diags *d)
{
    flow *f;
    if (flow_load_text(source, len, name, &f, d))
        return -1;
    kerr e = KERR_INIT;
    int rev = 0, created = 0;
    int rc = store_flow_put(en->o.store, f->namespace, f->id, f->source, f->doc, &rev, &created, &e);
    if (rc)
        diags_add(d, name, 0, 0, NULL, "cannot store the flow: %s", e.msg);
    else if (revision)
        *revision = rev;
    flow_free(f);
    return rc ? -1 : 0;
}

eflow *engine_flow_get(engine *en, const char *ns, const char *id, int revision, kerr *e)
{
    store_flow sf = {0};
    if (store_flow_get(en->o.store, ns, id, revision, &sf, e)) {
        if (e && e->code == STORE_NOT_FOUND) {
            if (revision)
                kerr_set(e, "flow %s.%s revision %d not found", ns, id, revision);
            else
                kerr_set(e, "flow %s.%s not found", ns, id);
        }
        return NULL;
    }
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%d", ns, id, sf.revision);
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->flow_index, key);
    if (slot) {
        eflow *fl = en->flows[json_integer_value(slot)];
        fl->refs++;
        pthread_mutex_unlock(&en->lock);
        store_flow_clear(&sf);
        return fl;
    }
    pthread_mutex_unlock(&en->lock);
    diags d = DIAGS_INIT;
    flow *f;
    if (flow_load_text(sf.source, strlen(sf.source), key, &f, &d)) {
        kerr_set(e, "flow %s.%s revision %d is not valid any more: %s", ns, id, sf.revision,
                 d.n ? d.v[0].msg : "?");
        diags_free(&d);
        store_flow_clear(&sf);
        return NULL;
    }
    eflow *fl = eflow_new(f, sf.revision, e);
    store_flow_clear(&sf);
    pthread_mutex_lock(&en->lock);
    slot = json_object_get(en->flow_index, key);
    if (slot) { /* another thread loaded it meanwhile */
        eflow *other = en->flows[json_integer_value(slot)];
        other->refs++;
        pthread_mutex_unlock(&en->lock);
        eflow_free(fl);
        return other;
    }
    en->flows = xrealloc(en->flows, (en->nflows + 1) * sizeof *en->flows);
    en->flows[en->nflows] = fl;
    json_object_set_new(en->flow_index, key, json_integer((json_int_t)en->nflows));
    en->nflows++;
    fl->refs = 2; /* the cache's and the caller's */
    pthread_mutex_unlock(&en->lock);
    return fl;
}

void engine_flow_release(engine *en, eflow *fl)
{
    if (!fl)
        return;
    pthread_mutex_lock(&en->lock);
    fl->refs--;
    pthread_mutex_unlock(&en->lock);
}

/* ---- executions in memory ---------------------------------------------------------------- */

static xexec *load_exec(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (store_execution_get(en->o.store, id, &row, e))
        return NULL;
    eflow *fl = engine_flow_get(en, row.namespace, row.flow_id, row.flow_revision, e);
    if (!fl) {
        store_execution_clear(&row);
        return NULL;
    }
    xexec *x = xexec_new(fl);
    x->row = row;
    store_task_run *runs = NULL;
    size_t n = 0;
    if (store_task_run_list(en->o.store, id, &runs, &n, e) || xexec_load_runs(x, runs, n, e)) {
        store_task_runs_free(runs, n);
        engine_flow_release(en, fl);
        x->fl = NULL;
        xexec_free(x);
        return NULL;
    }
    store_task_runs_free(runs, n);
    return x;
}

static void exec_destroy(engine *en, xexec *x)
{
    eflow *fl = x->fl;
    xexec_free(x);
    engine_flow_release(en, fl);
}

xexec *engine_exec_get(engine *en, const char *id, kerr *e)
{
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->exec_index, id);
    if (slot) {
        xexec *x = en->execs[json_integer_value(slot)];
        x->refs++;
        pthread_mutex_unlock(&en->lock);
        return x;
    }
    pthread_mutex_unlock(&en->lock);
    xexec *x = load_exec(en, id, e);
    if (!x)
        return NULL;
    pthread_mutex_lock(&en->lock);
    slot = json_object_get(en->exec_index, id);
    if (slot) {
        xexec *other = en->execs[json_integer_value(slot)];
        other->refs++;
        pthread_mutex_unlock(&en->lock);
        exec_destroy(en, x);
        return other;
    }
    /* reuse a free slot */
    size_t i;
    for (i = 0; i < en->nexecs; i++)
        if (!en->execs[i])
            break;
    if (i == en->nexecs) {
        en->execs = xrealloc(en->execs, (en->nexecs + 1) * sizeof *en->execs);
        en->nexecs++;
    }
    en->execs[i] = x;
    json_object_set_new(en->exec_index, id, json_integer((json_int_t)i));
    x->refs = 2;
    pthread_mutex_unlock(&en->lock);
    return x;
}

void engine_exec_release(engine *en, xexec *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&en->lock);
    int last = --x->refs == 0;
    pthread_mutex_unlock(&en->lock);
    if (last)
        exec_destroy(en, x);
}

void engine_exec_forget(engine *en, const char *id)
{
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->exec_index, id);
    xexec *x = NULL;
    if (slot) {
        size_t i = (size_t)json_integer_value(slot);
        x = en->execs[i];
        en->execs[i] = NULL;
        json_object_del(en->exec_index, id);
        if (--x->refs > 0)
            x = NULL;
    }
    pthread_mutex_unlock(&en->lock);
    if (x)
        exec_destroy(en, x);
}

/* ---- writing a step's results ----------------------------------------------------------- */

static int write_exec(engine *en, xexec *x, kerr *e)
{
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
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

static void mark_written(xexec *x)
{
    for (size_t i = 0; i < x->nruns; i++)
        x->runs[i].fresh = x->runs[i].dirty = 0;
    x->dirty = 0;
}

/* Creates the execution row of a new execution (inputs already read). */
static int insert_execution(engine *en, store_execution *row, kerr *e)
{
    if (store_execution_insert(en->o.store, row, e))
        return -1;
    json_t *p = json_pack("{s:s}", "type", "start");
    int rc = store_queue_push(en->o.store, "event", row->id, NULL, p, 0, NULL, e);
    json_decref(p);
    return rc;
}

static int labels_of_flow(const flow *f, json_t *out)
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
        row.labels = json_object();
        labels_of_flow(fl->f, row.labels);
        json_object_update(row.labels, json_object_get(sf, "labels"));
        if (json_is_true(json_object_get(sf, "wait"))) {
            row.parent_id = parent->row.id;
            row.parent_task_run_id = (char *)prun;
        }
        row.trigger = json_pack("{s:s,s:s,s:s}", "executionId", parent->row.id, "namespace", parent->row.namespace,
                                "flowId", parent->row.flow_id);
        row.created_us = time_now_us();
        store_execution_set_state(&row, STATE_CREATED, row.created_us);
        if (insert_execution(en, &row, &e))
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

/* ---- flow concurrency ----------------------------------------------------------------- */

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

/* Writes what resolving one execution produced; 0 or -1 with e set. */
static int apply_actions(engine *en, touched_exec *te, int *tasks_pushed, json_t *cancels, kerr *e)
{
    store *st = en->o.store;
    xexec *x = te->x;
    xactions *a = &te->a;
    if (write_exec(en, x, e))
        return -1;
    /* written in this transaction: a later write of the same batch must
     * update, not insert again (a rollback drops x anyway) */
    mark_written(x);
    for (size_t k = 0; k < a->njobs; k++) {
        if (store_queue_push(st, a->jobs[k].kind, x->row.id, a->jobs[k].taskrun_id, a->jobs[k].payload,
                             a->jobs[k].available_us, NULL, e))
            return -1;
        if (!strcmp(a->jobs[k].kind, "task"))
            (*tasks_pushed)++;
        else if (a->jobs[k].available_us > 0) {
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

/* Processes one batch of events: every event applied to its execution,
 * each execution resolved once, everything written in one transaction.
 * Returns the number of events processed. */
static size_t executor_batch(engine *en)
{
    store *st = en->o.store;
    store_job *jobs = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_queue_lease(st, "event", EVENT_BATCH, EXECUTOR_OWNER, EVENT_LEASE_US, 0, &jobs, &n, &e)) {
        fprintf(stderr, "kite: executor: %s\n", e.msg);
        return 0;
    }
    if (!n)
        return 0;
    touched t = {0};
    int tasks_pushed = 0, ended = 0, failed = 0;
    json_t *cancels = json_array();
    if (store_begin(st, &e)) {
        fprintf(stderr, "kite: executor: %s\n", e.msg);
        store_jobs_free(jobs, n);
        json_decref(cancels);
        return 0;
    }
    int64_t now = time_now_us();
    json_t *started = json_object();
    for (size_t i = 0; i < n; i++) {
        store_job *j = &jobs[i];
        xexec *x = j->execution_id ? engine_exec_get(en, j->execution_id, &e) : NULL;
        if (!x)
            continue; /* deleted or unreadable: the event is dropped with the others' acks */
        size_t before = t.n;
        touched_exec *te = touch(&t, x);
        if (t.n == before)
            engine_exec_release(en, x); /* already held once by this batch */
        xevent ev = {event_type(json_string_value(json_object_get(j->payload, "type"))),
                     json_string_value(json_object_get(j->payload, "run")), j->payload};
        if (!ev.taskrun_id)
            ev.taskrun_id = j->task_run_id;
        if (ev.type == XEV_START && (x->row.state == STATE_CREATED || x->row.state == STATE_QUEUED) &&
            !concurrency_allows(en, x, now, started))
            continue;
        pthread_mutex_lock(&x->lock);
        executor_apply(en, x, &ev, now, &te->a);
        pthread_mutex_unlock(&x->lock);
    }
    json_decref(started);
    for (size_t i = 0; i < t.n && !failed; i++) {
        touched_exec *te = &t.v[i];
        pthread_mutex_lock(&te->x->lock);
        executor_resolve(en, te->x, now, &te->a);
        pthread_mutex_unlock(&te->x->lock);
        if (apply_actions(en, te, &tasks_pushed, cancels, &e))
            failed = 1;
        store_state after = te->x->row.state;
        if (after != te->before && (store_state_is_terminated(after) || after == STATE_PAUSED))
            ended = 1;
        if (!failed && after != te->before && store_state_is_terminated(after) && dequeue_next(en, te->x, &e))
            failed = 1;
    }
    for (size_t i = 0; i < n && !failed; i++)
        if (store_queue_ack(st, jobs[i].id, EXECUTOR_OWNER, &e) && e.code != STORE_NOT_FOUND)
            failed = 1;
    if (failed || store_commit(st, &e)) {
        fprintf(stderr, "kite: executor: %s (the batch is retried)\n", e.msg);
        store_rollback(st);
        /* hand the events back at once rather than when their lease ends */
        kerr e2 = KERR_INIT;
        for (size_t i = 0; i < n; i++)
            store_queue_extend(st, jobs[i].id, EXECUTOR_OWNER, 1, &e2);
        store_queue_expire(st, time_now_us(), NULL, NULL, &e2);
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
        return 0;
    }
    /* durable: now act on it */
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
        en->jobs_pending += tasks_pushed;
        pthread_cond_broadcast(&en->work_wake);
    }
    if (ended) {
        en->exec_gen++;
        pthread_cond_broadcast(&en->ended);
    }
    pthread_mutex_unlock(&en->lock);
    json_decref(cancels);
    store_jobs_free(jobs, n);
    return n;
}

static void *executor_main(void *arg)
{
    engine *en = arg;
    int64_t last_reap = 0;
    while (atomic_load(&en->running)) {
        int64_t mono = time_mono_us();
        if (mono - last_reap > US_PER_SEC) {
            /* zombies of processes that left their task's group (proc.h) */
            proc_reap_orphans();
            last_reap = mono;
        }
        size_t n = executor_batch(en);
        if (n)
            continue;
        pthread_mutex_lock(&en->lock);
        if (!en->events_pending && atomic_load(&en->running)) {
            int64_t now = time_now_us();
            int64_t wait_us = 1000000;
            if (en->next_timer_us) {
                wait_us = en->next_timer_us - now;
                if (wait_us < 0)
                    wait_us = 0;
                if (wait_us > 1000000)
                    wait_us = 1000000;
            }
            if (wait_us > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t ns = (int64_t)ts.tv_nsec + (wait_us % 1000000) * 1000;
                ts.tv_sec += (time_t)(wait_us / 1000000) + (time_t)(ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                pthread_cond_timedwait(&en->exec_wake, &en->lock, &ts);
            }
            if (en->next_timer_us && en->next_timer_us <= time_now_us())
                en->next_timer_us = 0;
        }
        en->events_pending = 0;
        pthread_mutex_unlock(&en->lock);
    }
    return NULL;
}

void engine_wake_executor(engine *en)
{
    pthread_mutex_lock(&en->lock);
    en->events_pending = 1;
    pthread_cond_signal(&en->exec_wake);
    pthread_mutex_unlock(&en->lock);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static json_t *envs_from_environ(const char *prefix)
{
    extern char **environ;
    json_t *o = json_object();
    size_t pl = strlen(prefix);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, pl))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || eq - *e <= (long)pl)
            continue;
        char name[256];
        size_t n = (size_t)(eq - *e) - pl;
        if (n >= sizeof name)
            continue;
        for (size_t i = 0; i < n; i++) {
            char c = (*e)[pl + i];
            name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        name[n] = '\0';
        json_object_set_new(o, name, json_string(eq + 1));
    }
    return o;
}

engine *engine_new(const engine_opts *o, kerr *e)
{
    if (!o->store || !o->storage) {
        kerr_set(e, "engine: a store and a storage are required");
        return NULL;
    }
    engine *en = xcalloc(1, sizeof *en);
    en->o = *o;
    if (o->worker_id) {
        snprintf(en->worker_id, sizeof en->worker_id, "%s", o->worker_id);
    } else {
        char host[64] = "kite";
        gethostname(host, sizeof host - 1);
        snprintf(en->worker_id, sizeof en->worker_id, "%s-%d", host, (int)getpid());
    }
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    en->tmp_dir = xstrdup(tmp && *tmp ? tmp : "/tmp");
    en->env_prefix = xstrdup(o->env_prefix ? o->env_prefix : "ENV_");
    en->envs = envs_from_environ(en->env_prefix);
    en->globals = o->globals ? json_incref(o->globals) : json_object();
    en->envs_refs = json_share(en->envs);
    en->globals_refs = json_share(en->globals);
    en->nworkers = o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (en->nworkers < 2)
        en->nworkers = 2;
    if (!en->o.lease_us)
        en->o.lease_us = 300LL * US_PER_SEC;
    pthread_mutex_init(&en->lock, NULL);
    pthread_cond_init(&en->exec_wake, NULL);
    pthread_cond_init(&en->work_wake, NULL);
    pthread_cond_init(&en->ended, NULL);
    pthread_mutex_init(&en->secrets.lock, NULL);
    en->flow_index = json_object();
    en->exec_index = json_object();
    en->cancels = json_object();
    en->funcs[en->nfuncs++] = (expr_func){"secret", fn_secret, en};
    return en;
}

int engine_start(engine *en, kerr *e)
{
    /* whatever a previous process held is void now */
    size_t requeued = 0, dropped = 0;
    if (store_queue_expire(en->o.store, INT64_MAX / 2, &requeued, &dropped, e))
        return -1;
    atomic_store(&en->running, 1);
    en->events_pending = 1;
    if (pthread_create(&en->executor, NULL, executor_main, en)) {
        atomic_store(&en->running, 0);
        return kerr_set(e, "cannot start the executor thread");
    }
    en->jobs_pending = 1;
    en->workers = xcalloc((size_t)en->nworkers, sizeof *en->workers);
    for (int i = 0; i < en->nworkers; i++)
        pthread_create(&en->workers[i], NULL, worker_main, en);
    return 0;
}

void engine_stop(engine *en, int64_t grace_us)
{
    if (!atomic_load(&en->running))
        return;
    pthread_mutex_lock(&en->lock);
    en->stopping = 1;
    pthread_mutex_unlock(&en->lock);
    /* let running tasks finish within the grace period, then cancel them */
    int64_t deadline = time_mono_us() + grace_us;
    for (;;) {
        pthread_mutex_lock(&en->lock);
        size_t running = json_object_size(en->cancels);
        pthread_mutex_unlock(&en->lock);
        if (!running || time_mono_us() >= deadline)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&en->lock);
    /* what still runs is stopped and handed back: its job stays leased, and
     * the next start gives it out again (engine_start expires every lease) */
    atomic_store(&en->aborting, 1);
    const char *k;
    json_t *flag;
    json_object_foreach(en->cancels, k, flag) atomic_store((atomic_int *)(uintptr_t)json_integer_value(flag), 1);
    atomic_store(&en->running, 0);
    pthread_cond_broadcast(&en->exec_wake);
    pthread_cond_broadcast(&en->work_wake);
    pthread_cond_broadcast(&en->ended);
    pthread_mutex_unlock(&en->lock);
    pthread_join(en->executor, NULL);
    for (int i = 0; i < en->nworkers; i++)
        pthread_join(en->workers[i], NULL);
    free(en->workers);
    en->workers = NULL;
}

void engine_free(engine *en)
{
    if (!en)
        return;
    engine_stop(en, 0);
    for (size_t i = 0; i < en->nexecs; i++)
        if (en->execs[i])
            exec_destroy(en, en->execs[i]);
    free(en->execs);
    for (size_t i = 0; i < en->nflows; i++)
        eflow_free(en->flows[i]);
    free(en->flows);
    json_decref(en->flow_index);
    json_decref(en->exec_index);
    json_decref(en->cancels);
    json_unshare(en->envs, en->envs_refs);
    json_unshare(en->globals, en->globals_refs);
    json_decref(en->envs);
    json_decref(en->globals);
    for (size_t i = 0; i < en->secrets.n; i++)
        free(en->secrets.v[i]);
    free(en->secrets.v);
    pthread_mutex_destroy(&en->secrets.lock);
    pthread_mutex_destroy(&en->lock);
    pthread_cond_destroy(&en->exec_wake);
    pthread_cond_destroy(&en->work_wake);
    pthread_cond_destroy(&en->ended);
    free(en->tmp_dir);
    free(en->env_prefix);
    free(en);
}

/* ---- operations ------------------------------------------------------------------------------- */

int engine_submit(engine *en, const engine_submit_opts *o, char id_out[STORE_ID_LEN + 1], kerr *e)
{
    eflow *fl = engine_flow_get(en, o->namespace, o->flow_id, o->revision, e);
    if (!fl)
        return -1;
    if (fl->f->disabled) {
        engine_flow_release(en, fl);
        return kerr_set(e, "flow %s.%s is disabled", o->namespace, o->flow_id);
    }
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    json_t *inputs = engine_inputs_read(fl->f, o->inputs, o->files, en->o.storage, id, e);
    if (!inputs) {
        engine_flow_release(en, fl);
        return -1;
    }
    store_execution row = {0};
    row.id = id;
    row.namespace = (char *)o->namespace;
    row.flow_id = (char *)o->flow_id;
    row.flow_revision = fl->revision;
    row.inputs = inputs;
    row.labels = json_object();
    labels_of_flow(fl->f, row.labels);
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
        rc = insert_execution(en, &row, e);
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

static int need_state(engine *en, const char *id, store_execution *row, kerr *e)
{
    return store_execution_get(en->o.store, id, row, e);
}

int engine_kill(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    int done = store_state_is_terminated(row.state);
    store_execution_clear(&row);
    if (done)
        return kerr_set(e, "execution %s has already ended", id);
    return push_event(en, id, json_pack("{s:s}", "type", "kill"), e);
}

int engine_resume(engine *en, const char *id, json_t *inputs, kerr *e)
{
    store_execution row = {0};
    if (need_state(en, id, &row, e))
        return -1;
    int paused = row.state == STATE_PAUSED;
    store_execution_clear(&row);
    if (!paused)
        return kerr_set(e, "execution %s is not paused", id);
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
        return kerr_set(e, "execution %s is not FAILED or KILLED: only those can be restarted", id);
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
        return kerr_set(e, "execution %s is still %s: only an ended execution can be replayed", id,
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
            return kerr_set(e, "execution %s has no task run %s", id, taskrun_id);
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

/* ---- Kestra's JSON of an execution ------------------------------------------------------------ */

static json_t *histories_json(const store_history *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[64];
        datetime_format(h[i].at_us, tz_utc(), t, sizeof t);
        json_array_append_new(a, json_pack("{s:s,s:s}", "state", store_state_name(h[i].state), "date", t));
    }
    return a;
}

static json_t *state_json(store_state st, const store_history *h, size_t n)
{
    json_t *o = json_pack("{s:s,s:o}", "current", store_state_name(st), "histories", histories_json(h, n));
    if (n) {
        char t[64];
        datetime_format(h[0].at_us, tz_utc(), t, sizeof t);
        json_object_set_new(o, "startDate", json_string(t));
        if (store_state_is_terminated(st)) {
            datetime_format(h[n - 1].at_us, tz_utc(), t, sizeof t);
            json_object_set_new(o, "endDate", json_string(t));
            char d[64];
            duration_format(h[n - 1].at_us - h[0].at_us, d, sizeof d);
            json_object_set_new(o, "duration", json_string(d));
        }
    }
    return o;
}

static json_t *labels_list(const json_t *labels)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) json_array_append_new(a, json_pack("{s:s,s:O}", "key", k, "value", v));
    return a;
}

json_t *engine_execution_json(engine *en, const char *id, kerr *e)
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
    json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:o,s:O?,s:O?,s:o}", "id", x.id, "namespace", x.namespace, "flowId",
                          x.flow_id, "flowRevision", x.flow_revision, "state",
                          state_json(x.state, x.histories, x.n_histories), "inputs", x.inputs, "outputs", x.outputs,
                          "labels", labels_list(x.labels));
    if (x.original_id)
        json_object_set_new(o, "originalId", json_string(x.original_id));
    if (x.parent_id)
        json_object_set_new(o, "parentId", json_string(x.parent_id));
    if (x.trigger)
        json_object_set(o, "trigger", x.trigger);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        store_task_run *t = &runs[i];
        json_t *tr = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "id", t->id, "executionId", t->execution_id, "namespace",
                               x.namespace, "flowId", x.flow_id, "taskId", t->task_id, "state",
                               state_json(t->state, t->histories, t->n_histories));
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
            json_array_append_new(atts, json_pack("{s:o}", "state", state_json(t->attempts[a].state, h, hn)));
        }
        json_object_set_new(tr, "attempts", atts);
        if (t->outputs) {
            json_t *pub = json_copy(t->outputs);
            json_object_del(pub, "_state");
            json_object_del(pub, "_value");
            json_object_set_new(tr, "outputs", pub);
        }
        json_array_append_new(list, tr);
    }
    json_object_set_new(o, "taskRunList", list);
    store_task_runs_free(runs, n);
    store_execution_clear(&x);
    return o;
}
