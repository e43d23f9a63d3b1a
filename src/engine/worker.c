/*
 * worker.c: the worker threads: lease a task job, run the task with a
 * task_ctx, send the result to the executor as an event.
 *
 * DESIGN
 * A worker never writes execution or task-run rows (engine_int.h). Its
 * result (state, outputs, metrics, labels) travels in the payload of an
 * "event" job pushed in the same transaction as the ack of its task job: the
 * result is durable exactly when the job is gone. A worker that dies before
 * that leaves its job leased; the next start hands it back and the task runs
 * again as a new delivery (at least once). Results for an attempt that is no
 * longer the current one are ignored by the executor.
 *
 * The task renders its properties against the execution in memory, under the
 * xexec's mutex; the run itself happens without any lock.
 */
#include "engine/engine_int.h"
#include "util/aesgcm.h"
#include "util/datetime.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wctx {
    task_ctx c;
    engine *en;
    xexec *x;
    int r;
    char *exec_id, *task_id, *run_id;
    /* log lines not stored yet: written in batches (one transaction for
     * up to LOG_BATCH lines, or when the oldest is LOG_DELAY_US old), and
     * the rest with the task's result */
    store_log *pending;
    size_t npending, cap;
    int64_t oldest_us;
    store_level min_level;      /* the task's logLevel: lines below are dropped */
} wctx;

#define LOG_BATCH 256
#define LOG_DELAY_US (200 * 1000)

static void free_pending(wctx *w)
{
    for (size_t i = 0; i < w->npending; i++)
        free(w->pending[i].message);
    w->npending = 0;
}

/* Appends the pending lines in the current transaction (or in their own). */
static int store_pending(wctx *w, kerr *e)
{
    for (size_t i = 0; i < w->npending; i++)
        if (store_log_append(w->en->o.store, &w->pending[i], NULL, e))
            return -1;
    return 0;
}

static void flush_logs(wctx *w)
{
    if (!w->npending)
        return;
    kerr e = KERR_INIT;
    store *st = w->en->o.store;
    if (store_begin(st, &e) || store_pending(w, &e) || store_commit(st, &e)) {
        store_rollback(st);
        fprintf(stderr, "kite: worker: cannot store %zu log lines: %s\n", w->npending, e.msg);
    }
    free_pending(w);
}

/* expr_limits.yield: a jq program runs on its own copy of its input, so the
 * execution's lock is released meanwhile and the executor can apply a kill
 * (which sets the cancel flag the render watches). */
static void yield_lock(void *ud, int resume)
{
    if (resume)
        pthread_mutex_lock(ud);
    else
        pthread_mutex_unlock(ud);
}

/* Every property a task renders (task_prop and the family files alike)
 * comes here: the render gets the task's limits, so its timeout and a kill
 * stop a jq program or a long template ("expression stopped: task timeout
 * PT2S reached", "expression stopped: killed"). */
static void op_log(task_ctx *c, store_level level, const char *msg);

static json_t *op_render(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    wctx *w = (wctx *)c;
    const json_t *t = json_object_get(c->task, "timeout");
    char what[96] = "the task's timeout";
    if (json_is_string(t) && !expr_is_template(json_string_value(t)))
        snprintf(what, sizeof what, "task timeout %.60s", json_string_value(t));
    expr_limits lim = {.deadline_us = c->deadline_us, .deadline_what = what, .cancel = c->cancel};
    lim.yield = yield_lock;
    lim.yield_ud = &w->x->lock;
    const expr_limits *prev = expr_set_thread_limits(&lim);
    pthread_mutex_lock(&w->x->lock);
    json_t *out = xexec_render_at(w->en, w->x, w->r, v, err_path, e);
    pthread_mutex_unlock(&w->x->lock);
    expr_set_thread_limits(prev);
    return out;
}

/* ---- taskCache ------------------------------------------------------------------------------ */

#define TASK_CACHE_NS "_kite.taskcache"
#define TASK_CACHE_TTL_US (24LL * 3600 * US_PER_SEC)

/* The cache key of a run: the flow, the task, its loop value and its
 * properties as rendered now (so that other inputs give another key),
 * hashed. 0, or -1 when the task does not render (then it just runs). */
static int task_cache_key(task_ctx *c, char hex[65])
{
    kerr e = KERR_INIT;
    json_t *t = json_deep_copy(c->task);
    json_object_del(t, "taskCache");
    json_t *r = c->ops->render(c, t, NULL, &e);
    json_decref(t);
    if (!r)
        return -1;
    char *dump = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(r);
    char *all = xasprintf("%s\n%s\n%s\n%s\n%s", c->namespace, c->flow_id, c->task_id, c->value ? c->value : "",
                          dump ? dump : "");
    digest_sha256_hex(all, strlen(all), hex);
    free(all);
    free(dump);
    return 0;
}

/* taskCache.enabled: 1 and the cached outputs in c->outputs when an
 * earlier run with the same key succeeded within the ttl; *key is set (for
 * task_cache_put) when the task uses the cache. */
static int task_cache_get(task_ctx *c, const json_t *tc, char key[65], int *use)
{
    *use = json_is_true(json_object_get(tc, "enabled"));
    if (!*use || task_cache_key(c, key)) {
        *use = 0;
        return 0;
    }
    json_t *v = NULL;
    kerr e = KERR_INIT;
    if (store_kv_sys_get(c->store, TASK_CACHE_NS, key, &v, &e))
        return 0;
    const json_t *outs = json_object_get(v, "outputs");
    if (json_is_object(outs))
        json_object_update(c->outputs, (json_t *)outs);
    const char *when = json_string_value(json_object_get(v, "at"));
    task_log(c, LEVEL_INFO, "outputs taken from the task cache (a run of %s): the task does not run",
             when ? when : "before");
    json_decref(v);
    return 1;
}

static void task_cache_put(task_ctx *c, const json_t *tc, const char key[65])
{
    int64_t ttl = TASK_CACHE_TTL_US;
    const json_t *t = json_object_get(tc, "ttl");
    kerr e = KERR_INIT;
    if (json_is_string(t) && duration_parse(json_string_value(t), &ttl, &e)) {
        task_log(c, LEVEL_WARN, "taskCache.ttl: %s: the result is not cached", e.msg);
        return;
    }
    char at[64];
    datetime_format(time_now_us(), tz_utc(), at, sizeof at);
    json_t *v = json_pack("{s:O,s:s}", "outputs", c->outputs, "at", at);
    if (store_kv_sys_put(c->store, TASK_CACHE_NS, key, v, time_now_us() + ttl, &e))
        task_log(c, LEVEL_WARN, "the result could not be cached: %s", e.msg);
    json_decref(v);
}

/* The task's metrics ({name, type, value, tags}, as the result event
 * carries them) into the store's metrics table, for `kite run --json` and
 * GET /api/v1/metrics/{executionId}, in the transaction that writes the
 * result; one that cannot be written is logged (a WARN line of the task),
 * never the task's failure. */
void engine__store_metrics(store *st, const char *exec_id, const char *run_id, const char *task_id, int attempt,
                           const json_t *metrics)
{
    int64_t now = time_now_us();
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!name)
            continue;
        const json_t *tags = json_object_get(m, "tags");
        store_metric sm = {.execution_id = (char *)exec_id, .task_run_id = (char *)run_id,
                           .task_id = (char *)task_id, .name = (char *)name,
                           .type = !strcmp(json_string_value(json_object_get(m, "type")) ?: "", "timer")
                                       ? METRIC_TIMER : METRIC_COUNTER,
                           .value = json_number_value(json_object_get(m, "value")),
                           .tags = json_is_object(tags) ? (json_t *)tags : NULL, .at_us = now};
        kerr e = KERR_INIT;
        if (store_metric_add(st, &sm, &e)) {
            char msg[KERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "metric '%s' not stored: %s", name, e.msg);
            store_log l = {.execution_id = (char *)exec_id, .task_run_id = (char *)run_id, .task_id = (char *)task_id,
                           .attempt = attempt, .at_us = now, .level = LEVEL_WARN, .message = msg};
            store_log_append(st, &l, NULL, &e);
        }
    }
}

static void op_log(task_ctx *c, store_level level, const char *msg)
{
    wctx *w = (wctx *)c;
    engine *en = w->en;
    if (level < en->o.min_log_level || level < w->min_level)
        return;
    char *masked = engine_mask_secrets(en, msg);
    char *m = masked ? masked : xstrdup(msg);
    int64_t now = time_now_us();
    if (en->o.on_log) {
        engine_log el = {w->exec_id, w->task_id, w->run_id, c->attempt, now, level, m};
        en->o.on_log(en->o.on_log_ud, &el);
    }
    if (w->npending == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->pending = xrealloc(w->pending, w->cap * sizeof *w->pending);
    }
    store_log *l = &w->pending[w->npending++];
    memset(l, 0, sizeof *l);
    l->execution_id = w->exec_id;
    l->task_run_id = w->run_id;
    l->task_id = w->task_id;
    l->attempt = c->attempt;
    l->at_us = now;
    l->level = level;
    l->message = m;
    if (w->npending == 1)
        w->oldest_us = now;
    if (w->npending >= LOG_BATCH || now - w->oldest_us >= LOG_DELAY_US)
        flush_logs(w);
}

static char *op_mask(task_ctx *c, const char *s, size_t n, size_t *out_len)
{
    return engine_mask(((wctx *)c)->en, s, n, out_len);
}

static void op_secret(task_ctx *c, const char *value)
{
    engine_add_secret(((wctx *)c)->en, value);
}

static int op_flow_put(task_ctx *c, const char *source, size_t len, const char *name, int *revision, diags *d)
{
    return engine_flow_put(((wctx *)c)->en, source, len, name, revision, d);
}

static char *op_encrypt(task_ctx *c, const char *plain, size_t len)
{
    engine *en = ((wctx *)c)->en;
    if (!en->enc_key)
        return NULL;
    kerr e = KERR_INIT;
    return aesgcm_encrypt(en->enc_key, plain, len, &e); /* the key was checked at start */
}

static const task_ctx_ops ops = {op_render, op_log, op_mask, op_secret, op_flow_put, op_encrypt};

/* Writes a WorkingDirectory's inputFiles (name -> content or kestra:/// URI)
 * into its fresh folder. Names stay inside the folder. Caller holds x->lock. */
static void write_input_files(engine *en, xexec *x, int p, const char *dir)
{
    const json_t *raw = json_object_get(x->fl->tasks[x->runs[p].task].json, "inputFiles");
    if (!json_is_object(raw))
        return;
    kerr e = KERR_INIT;
    json_t *files = xexec_render(en, x, p, raw, &e);
    if (!files) {
        engine_log_line(en, x, p, 0, LEVEL_ERROR, e.msg);
        return;
    }
    const char *name;
    json_t *content;
    json_object_foreach(files, name, content) {
        if (!*name || name[0] == '/' || strstr(name, "..")) {
            char msg[512];
            snprintf(msg, sizeof msg, "inputFiles: '%s' must be a relative path inside the working folder", name);
            engine_log_line(en, x, p, 0, LEVEL_ERROR, msg);
            continue;
        }
        char *path = xasprintf("%s/%s", dir, name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        kerr me = KERR_INIT;
        fs_mkdir_p(path, &me);
        *slash = '/';
        const char *text = json_string_value(content);
        char *owned = text ? NULL : expr_value_to_text(content);
        buf data = BUF_INIT;
        if (text && storage_uri_has_scheme(text)) {
            if (storage_read_all(en->o.storage, text, 1u << 30, &data, &e))
                engine_log_line(en, x, p, 0, LEVEL_ERROR, e.msg);
        } else {
            buf_puts(&data, text ? text : owned);
        }
        FILE *fp = fopen(path, "wb");
        if (fp) {
            fwrite(buf_str(&data), 1, data.len, fp);
            fclose(fp);
        }
        buf_free(&data);
        free(owned);
        free(path);
    }
    json_decref(files);
}

/* The shared folder of the WorkingDirectory around run r, or NULL; made
 * with the WorkingDirectory's inputFiles the first time. Caller holds x->lock. */
static char *workdir_of(engine *en, xexec *x, int r)
{
    for (int p = x->runs[r].parent; p >= 0; p = x->runs[p].parent) {
        const flowable *impl = x->fl->tasks[x->runs[p].task].impl;
        if (impl && (impl->flags & FL_WORKDIR)) {
            char *dir = xasprintf("%s/kite-%s/wd-%s", en->tmp_dir, x->row.id, x->runs[p].row.id);
            struct stat sb;
            int fresh = stat(dir, &sb) != 0;
            kerr me = KERR_INIT;
            if (fs_mkdir_p(dir, &me)) {
                free(dir);
                return NULL;
            }
            if (fresh)
                write_input_files(en, x, p, dir);
            return dir;
        }
    }
    return NULL;
}

/* Results of one lease, written together: a worker that leased several
 * quick tasks commits their results (log lines, result events, acks) in
 * one transaction. */
typedef struct wresult {
    int64_t job_id;
    char *execution_id, *task_run_id;
    char *task_id;              /* for its metrics; NULL when it has none */
    int attempt;
    json_t *payload;
    store_log *logs;
    size_t nlogs;
} wresult;

typedef struct wbatch {
    wresult *v;
    size_t n, cap;
    const char *owner;
} wbatch;

/* Queues the result of job j (payload borrowed), taking w's pending logs. */
static void queue_result(wbatch *b, const store_job *j, json_t *payload, wctx *w)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->v = xrealloc(b->v, b->cap * sizeof *b->v);
    }
    wresult *r = &b->v[b->n++];
    memset(r, 0, sizeof *r);
    r->job_id = j->id;
    r->execution_id = j->execution_id ? xstrdup(j->execution_id) : NULL;
    r->task_run_id = j->task_run_id ? xstrdup(j->task_run_id) : NULL;
    r->payload = json_incref(payload);
    if (w && json_object_get(payload, "metrics")) {
        r->task_id = xstrdup(w->task_id);
        r->attempt = w->c.attempt;
    }
    if (w && w->npending) {
        /* the log rows point at w's id strings: give them their own */
        r->logs = w->pending;
        r->nlogs = w->npending;
        for (size_t i = 0; i < r->nlogs; i++) {
            r->logs[i].execution_id = xstrdup(w->exec_id);
            r->logs[i].task_id = xstrdup(w->task_id);
            r->logs[i].task_run_id = xstrdup(w->run_id);
        }
        w->pending = NULL;
        w->npending = w->cap = 0;
    }
}

static void free_result(wresult *r)
{
    for (size_t i = 0; i < r->nlogs; i++) {
        free(r->logs[i].message);
        free(r->logs[i].execution_id);
        free(r->logs[i].task_id);
        free(r->logs[i].task_run_id);
    }
    free(r->logs);
    free(r->execution_id);
    free(r->task_run_id);
    free(r->task_id);
    json_decref(r->payload);
}

void engine__hresult_free(hresult *h)
{
    for (size_t i = 0; i < h->nlogs; i++) {
        free(h->logs[i].message);
        free(h->logs[i].execution_id);
        free(h->logs[i].task_id);
        free(h->logs[i].task_run_id);
    }
    free(h->logs);
    free(h->owner);
    free(h->task_id);
    free(h->execution_id);
    free(h->task_run_id);
    json_decref(h->payload);
    free(h);
}

/* Embedded mode (engine_int.h): the queued results go to the executor,
 * which writes each (logs, the ack of its job, its effect on the
 * execution) in its next commit. 0 when it took them, -1 when it does not
 * take results (another role layout, or it has stopped): then the worker
 * writes them itself. */
static int hand_results(engine *en, wbatch *b)
{
    pthread_mutex_lock(&en->lock);
    if (!en->handoff) {
        pthread_mutex_unlock(&en->lock);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        wresult *r = &b->v[i];
        hresult *h = xcalloc(1, sizeof *h);
        h->job_id = r->job_id;
        h->owner = xstrdup(b->owner);
        h->execution_id = r->execution_id;
        h->task_run_id = r->task_run_id;
        h->task_id = r->task_id;
        h->attempt = r->attempt;
        h->payload = r->payload;
        h->logs = r->logs;
        h->nlogs = r->nlogs;
        *en->results_tail = h;
        en->results_tail = &h->next;
        memset(r, 0, sizeof *r);
    }
    b->n = 0;
    pthread_mutex_unlock(&en->lock);
    atomic_fetch_add(&en->result_pokes, 1); /* before the wake-up it counts */
    engine_wake_executor(en);
    return 0;
}

/* Writes the queued results in one transaction: for each, its log lines,
 * then the ack of its job and its result event; a job whose lease went to
 * another delivery keeps its logs (they say what this delivery did) but
 * sends no result. Retried a few times on a store error. */
static void flush_results(engine *en, wbatch *b)
{
    if (!b->n || !hand_results(en, b))
        return;
    kerr e = KERR_INIT;
    store *st = en->o.store;
    for (int tries = 0; tries < 5; tries++) {
        if (store_begin(st, &e))
            goto retry;
        for (size_t i = 0; i < b->n; i++) {
            wresult *r = &b->v[i];
            for (size_t k = 0; k < r->nlogs; k++)
                if (store_log_append(st, &r->logs[k], NULL, &e))
                    goto rollback;
            int rc = store_queue_ack(st, r->job_id, b->owner, &e);
            if (rc == STORE_CONFLICT || rc == STORE_NOT_FOUND)
                continue; /* stale: no result */
            if (rc)
                goto rollback;
            if (store_queue_push(st, "event", r->execution_id, r->task_run_id, r->payload, 0, NULL, &e))
                goto rollback;
            if (r->task_id)
                engine__store_metrics(st, r->execution_id, r->task_run_id, r->task_id, r->attempt,
                                      json_object_get(r->payload, "metrics"));
        }
        if (store_commit(st, &e))
            goto retry;
        engine_wake_executor(en);
        goto done;
    rollback:
        store_rollback(st);
    retry:
        fprintf(stderr, "kite: worker: cannot record %zu result(s): %s (retrying)\n", b->n, e.msg);
        usleep(100000);
    }
done:
    for (size_t i = 0; i < b->n; i++)
        free_result(&b->v[i]);
    b->n = 0;
}

static void run_job(engine *en, store_job *j, const char *owner, wbatch *batch)
{
    kerr e = KERR_INIT;
    const char *exec_id = json_string_value(json_object_get(j->payload, "exec"));
    const char *run_id = json_string_value(json_object_get(j->payload, "run"));
    int attempt = (int)json_integer_value(json_object_get(j->payload, "attempt"));
    xexec *x = exec_id ? engine_exec_get(en, exec_id, &e) : NULL;
    if (!x && run_id && e.code == ENGINE_E_UNLOADABLE) {
        /* the executor quarantines it when this reaches it */
        json_t *p = json_pack("{s:s,s:s,s:i,s:s}", "type", "result", "run", run_id, "attempt", attempt, "state",
                              "FAILED");
        queue_result(batch, j, p, NULL);
        json_decref(p);
        return;
    }
    if (!x || !run_id) {
        store_queue_ack(en->o.store, j->id, owner, &e);
        engine_exec_release(en, x);
        return;
    }
    wctx w;
    memset(&w, 0, sizeof w);
    w.en = en;
    w.x = x;
    pthread_mutex_lock(&x->lock);
    int r = xexec_run_by_id(x, run_id);
    if (r < 0 || store_state_is_terminated(x->runs[r].row.state) || (int)x->runs[r].row.n_attempts != attempt ||
        x->row.state == STATE_KILLING || store_state_is_terminated(x->row.state)) {
        pthread_mutex_unlock(&x->lock);
        /* nothing to run: tell the executor so that a killed run ends */
        json_t *p = json_pack("{s:s,s:s,s:i,s:s}", "type", "result", "run", run_id, "attempt", attempt, "state",
                              "KILLED");
        queue_result(batch, j, p, NULL);
        json_decref(p);
        engine_exec_release(en, x);
        return;
    }
    const etask *t = &x->fl->tasks[x->runs[r].task];
    w.r = r;
    const char *ll = json_string_value(json_object_get(t->json, "logLevel"));
    if (ll && store_level_parse(ll, &w.min_level))
        w.min_level = LEVEL_TRACE;
    w.exec_id = xstrdup(x->row.id);
    w.task_id = xstrdup(x->runs[r].row.task_id);
    w.run_id = xstrdup(run_id);
    char *value = x->runs[r].row.value ? xstrdup(x->runs[r].row.value) : NULL;
    char *workdir = workdir_of(en, x, r);
    const char *ns = x->row.namespace, *fid = x->row.flow_id;
    char *nsc = xstrdup(ns), *fidc = xstrdup(fid);
    pthread_mutex_unlock(&x->lock);

    atomic_int cancel = 0;
    char flagkey[64];
    snprintf(flagkey, sizeof flagkey, "%s", run_id);
    pthread_mutex_lock(&en->lock);
    json_object_set_new(en->cancels, flagkey, json_integer((json_int_t)(uintptr_t)&cancel));
    /* engine_stop may have cancelled the running tasks between this job's
     * lease and now: this one is cancelled too, or it would run its whole
     * course past the grace period */
    if (atomic_load(&en->aborting))
        atomic_store(&cancel, 1);
    pthread_mutex_unlock(&en->lock);

    task_ctx *c = &w.c;
    c->ops = &ops;
    c->engine = en;
    c->task = t->json;
    c->def = t->ft->def;
    c->namespace = nsc;
    c->flow_id = fidc;
    c->execution_id = w.exec_id;
    c->task_id = w.task_id;
    c->taskrun_id = w.run_id;
    c->value = value;
    c->attempt = attempt;
    c->store = en->o.store;
    c->storage = en->o.storage;
    c->workdir = workdir;
    c->tmp_root = en->tmp_dir;
    c->cancel = &cancel;
    c->exit_state = -1;
    c->flow_file = x->fl->f->file;
    c->flow_pos = x->fl->f->pos;
    c->task_path = t->ft->path;
    int64_t start = time_now_us();
    task_result res = TASK_FAILED;
    int64_t timeout = 0;
    if (j->attempt > ENGINE_MAX_DELIVERIES) {
        /* delivered again and again, never finished: a task that pins its
         * worker past every lease and restart does not run once more */
        kerr_set(&e, "lease expired %d times: the task never ended", j->attempt - 1);
        res = TASK_FAILED;
    } else if (task_prop_duration(c, "timeout", 0, &timeout, &e)) {
        res = TASK_FAILED;
    } else if (c->def && c->def->needs && c->def->needs()) {
        /* its client library is not on this host (util/dl.h) */
        kerr_setc(&e, KERR_UNAVAILABLE, "%s", c->def->needs());
        res = TASK_FAILED;
    } else {
        if (timeout > 0)
            c->deadline_us = time_mono_us() + timeout;
        kerr_clear(&e);
        if (json_object_get(t->json, "assets"))
            task_log(c, LEVEL_INFO, "assets are kept in the flow as written; kite does not track them");
        const json_t *tc = json_object_get(t->json, "taskCache");
        char ckey[65];
        int cached = 0, use_cache = 0;
        if (tc && !c->outputs)
            c->outputs = json_object();
        if (tc)
            cached = task_cache_get(c, tc, ckey, &use_cache);
        res = cached ? TASK_SUCCESS : t->hooks->run(c, &e);
        if (use_cache && !cached && res == TASK_SUCCESS)
            task_cache_put(c, tc, ckey);
        if (c->deadline_us && time_mono_us() >= c->deadline_us && res != TASK_SUCCESS) {
            char d[64];
            duration_format(timeout, d, sizeof d);
            kerr_set(&e, "timeout: the task ran longer than %s", d);
            res = TASK_FAILED;
        } else if (atomic_load(&cancel) && res != TASK_SUCCESS) {
            res = TASK_KILLED;
        }
    }
    if (res == TASK_FAILED && e.msg[0])
        op_log(c, LEVEL_ERROR, e.msg);
    static const char *const names[] = {"SUCCESS", "WARNING", "FAILED", "KILLED"};
    json_t *p = json_pack("{s:s,s:s,s:i,s:s,s:I,s:s}", "type", "result", "run", run_id, "attempt", attempt, "state",
                          names[res], "start_us", (json_int_t)start, "worker", owner);
    if (c->outputs)
        json_object_set_new(p, "outputs", c->outputs);
    if (c->metrics)
        json_object_set_new(p, "metrics", c->metrics); /* stored with the result */
    if (c->labels)
        json_object_set_new(p, "labels", c->labels);
    if (c->set_variables)
        json_object_set_new(p, "set_vars", c->set_variables);
    if (c->unset_variables)
        json_object_set_new(p, "unset_vars", c->unset_variables);
    if (c->exit_state >= 0)
        json_object_set_new(p, "exit_state", json_string(store_state_name((store_state)c->exit_state)));
    if (res == TASK_FAILED)
        json_object_set_new(p, "error", json_string(e.msg));
    pthread_mutex_lock(&en->lock);
    json_object_del(en->cancels, flagkey);
    pthread_mutex_unlock(&en->lock);
    if (atomic_load(&en->aborting) && res != TASK_SUCCESS && res != TASK_WARNING) {
        /* stopped by a shutdown, not by a kill: no result; the job stays
         * leased and runs again after the restart */
        flush_logs(&w);
    } else {
        queue_result(batch, j, p, &w);
    }
    free_pending(&w);
    free(w.pending);
    json_decref(p);
    free(w.exec_id);
    free(w.task_id);
    free(w.run_id);
    free(value);
    free(workdir);
    free(nsc);
    free(fidc);
    engine_exec_release(en, x);
}

/* Up to how many jobs a worker leases at once. It starts at 1 and doubles
 * while whole leases of quick tasks (under QUICK_US each) come back full,
 * so that a busy engine leases and commits results in groups; one slow task
 * brings it back to 1, so that a long script never holds other jobs back. */
#define LEASE_MAX 16
#define QUICK_US 2000

/* Zombies of processes that left their task's group (proc.h): the workers
 * started them, the workers reap them, one worker at a time, at most once
 * a second. */
static void reap_orphans(engine *en)
{
    long long now = time_mono_us(), last = atomic_load(&en->last_reap_us);
    if (now - last > US_PER_SEC && atomic_compare_exchange_strong(&en->last_reap_us, &last, now))
        proc_reap_orphans();
}

/* Takes the job the executor handed to slot w, or NULL. Caller holds en->lock. */
static store_job *slot_take(wslot *w)
{
    store_job *j = w->job;
    w->job = NULL;
    return j;
}

/* Waits for work: a job handed to this worker's slot, a job pushed to the
 * queue (jobs_pending), or the stop. One idle worker, the poller, also
 * wakes every 50 ms to lease from the queue (delayed jobs, retries, become
 * ready by themselves; other processes' jobs are polled); the others sleep
 * until an event wakes them. Returns 1 when the caller should lease from
 * the queue (a pushed job, or the poller's turn). Caller holds en->lock. */
static int slot_wait(engine *en, wslot *w)
{
    int me = (int)(w - en->slots), poll = 0;
    struct timespec ts = {0, 0};
    w->idle = 1;
    while (!w->job && !w->reserved && !en->jobs_pending && atomic_load(&en->running) && !en->stopping) {
        if (en->poller < 0) {
            en->poller = me;
            ts.tv_sec = 0;
        }
        if (en->poller != me) {
            pthread_cond_wait(&w->wake, &en->lock);
            continue;
        }
        if (!ts.tv_sec) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
        }
        if (pthread_cond_timedwait(&w->wake, &en->lock, &ts)) {
            poll = 1; /* stays the poller while it leases */
            break;
        }
    }
    w->idle = 0;
    /* reserved: the executor is committing a job for this worker, which
     * it hands over right after (or cancels when the commit fails) */
    while (w->reserved && !w->job && atomic_load(&en->running))
        pthread_cond_wait(&w->wake, &en->lock);
    if (!w->job && en->jobs_pending > 0) {
        en->jobs_pending--;
        poll = 1;
    }
    return poll;
}

/* The poller leaves to run a job: another idle worker takes its place.
 * Caller holds en->lock. */
static void poller_leave(engine *en, wslot *w)
{
    if (en->poller != (int)(w - en->slots))
        return;
    en->poller = -1;
    for (int i = 0; i < en->nslots; i++)
        if (&en->slots[i] != w && en->slots[i].idle && !en->slots[i].reserved && !en->slots[i].gone) {
            pthread_cond_signal(&en->slots[i].wake);
            break;
        }
}

void *worker_main(void *arg)
{
    engine *en = arg;
    int k = atomic_fetch_add(&en->slot_seq, 1);
    wslot *slot = &en->slots[k];
    char *owner = slot->owner;
    wbatch batch = {.owner = owner};
    size_t want = 1;
    int poll = 0; /* lease from the queue now (else wait for an event first) */
    while (atomic_load(&en->running)) {
        reap_orphans(en);
        store_job *jobs = NULL;
        size_t n = 0;
        kerr e = KERR_INIT;
        pthread_mutex_lock(&en->lock);
        jobs = slot_take(slot);
        pthread_mutex_unlock(&en->lock);
        int handed = jobs != NULL;
        if (jobs)
            n = 1;
        else if (poll && store_queue_lease(en->o.store, "task", want, owner, en->o.lease_us, 0, &jobs, &n, &e)) {
            fprintf(stderr, "kite: worker: %s\n", e.msg);
            usleep(100000);
            continue;
        }
        if (n) {
            pthread_mutex_lock(&en->lock);
            poller_leave(en, slot);
            if (!handed && n == want) {
                /* there may be more: one more worker leases at once */
                en->jobs_pending++;
                for (int i = 0; i < en->nslots; i++)
                    if (&en->slots[i] != slot && en->slots[i].idle && !en->slots[i].reserved) {
                        pthread_cond_signal(&en->slots[i].wake);
                        break;
                    }
            }
            pthread_mutex_unlock(&en->lock);
            int64_t t0 = time_mono_us();
            int slow = 0;
            for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&en->lock);
                int stopping = en->stopping;
                pthread_mutex_unlock(&en->lock);
                if (stopping)
                    break; /* the rest stays leased: given back at the next start */
                int64_t t1 = time_mono_us();
                run_job(en, &jobs[i], owner, &batch);
                if (time_mono_us() - t1 > QUICK_US) {
                    slow = 1;
                    flush_results(en, &batch); /* a slow task's result does not wait */
                }
            }
            flush_results(en, &batch);
            if (slow || time_mono_us() - t0 > (int64_t)n * QUICK_US)
                want = 1;
            else if (!handed && n == want && want < LEASE_MAX)
                want *= 2;
            store_jobs_free(jobs, n);
            /* after jobs leased from the queue, lease again (more may wait);
             * after a job handed over, wait for the next event */
            poll = !handed;
            if (poll)
                continue;
        } else {
            want = 1;
        }
        pthread_mutex_lock(&en->lock);
        if (!slot->job && atomic_load(&en->running) && !en->stopping)
            poll = slot_wait(en, slot);
        else
            poll = 0;
        int stop = en->stopping;
        pthread_mutex_unlock(&en->lock);
        if (stop)
            break;
    }
    flush_results(en, &batch);
    free(batch.v);
    pthread_mutex_lock(&en->lock);
    poller_leave(en, slot);
    slot->gone = 1;
    slot->idle = 0;
    store_job *left = slot_take(slot); /* leased to this worker: given back at the stop */
    pthread_mutex_unlock(&en->lock);
    store_jobs_free(left, left ? 1 : 0);
    return NULL;
}
