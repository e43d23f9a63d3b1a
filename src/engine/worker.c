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
#include "util/datetime.h"
#include "util/mem.h"

#include <errno.h>
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
} wctx;

static json_t *op_render(task_ctx *c, const json_t *v, kerr *e)
{
    wctx *w = (wctx *)c;
    pthread_mutex_lock(&w->x->lock);
    json_t *out = xexec_render(w->en, w->x, w->r, v, e);
    pthread_mutex_unlock(&w->x->lock);
    return out;
}

static void op_log(task_ctx *c, store_level level, const char *msg)
{
    wctx *w = (wctx *)c;
    engine *en = w->en;
    if (level < en->o.min_log_level)
        return;
    char *masked = engine_mask_secrets(en, msg);
    const char *m = masked ? masked : msg;
    store_log l = {0};
    l.execution_id = w->exec_id;
    l.task_run_id = w->run_id;
    l.task_id = w->task_id;
    l.attempt = c->attempt;
    l.at_us = time_now_us();
    l.level = level;
    l.message = (char *)m;
    kerr e = KERR_INIT;
    store_log_append(en->o.store, &l, NULL, &e);
    if (en->o.on_log) {
        engine_log el = {w->exec_id, w->task_id, w->run_id, c->attempt, l.at_us, level, m};
        en->o.on_log(en->o.on_log_ud, &el);
    }
    free(masked);
}

static const task_ctx_ops ops = {op_render, op_log};

/* mkdir -p */
static int make_dirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* The shared folder of the WorkingDirectory around run r, or NULL. Caller holds x->lock. */
static char *workdir_of(engine *en, xexec *x, int r)
{
    for (int p = x->runs[r].parent; p >= 0; p = x->runs[p].parent) {
        const char *k = x->fl->tasks[x->runs[p].task].kind;
        if (k && !strcmp(k, "flow.working_directory")) {
            char *dir = xasprintf("%s/kite-%s/wd-%s", en->tmp_dir, x->row.id, x->runs[p].row.id);
            if (make_dirs(dir)) {
                free(dir);
                return NULL;
            }
            return dir;
        }
    }
    return NULL;
}

static void send_result(engine *en, const store_job *j, json_t *payload, const char *owner)
{
    kerr e = KERR_INIT;
    store *st = en->o.store;
    for (int tries = 0; tries < 5; tries++) {
        if (store_begin(st, &e))
            goto retry;
        if (store_queue_push(st, "event", j->execution_id, j->task_run_id, payload, 0, NULL, &e))
            goto rollback;
        int rc = store_queue_ack(st, j->id, owner, &e);
        if (rc && rc != STORE_CONFLICT && rc != STORE_NOT_FOUND)
            goto rollback;
        if (rc) {
            /* the lease went to another delivery: this result is stale */
            store_rollback(st);
            return;
        }
        if (store_commit(st, &e))
            goto retry;
        pthread_mutex_lock(&en->lock);
        en->events_pending = 1;
        pthread_cond_signal(&en->exec_wake);
        pthread_mutex_unlock(&en->lock);
        return;
    rollback:
        store_rollback(st);
    retry:
        fprintf(stderr, "kite: worker: cannot record a result: %s (retrying)\n", e.msg);
        usleep(100000);
    }
}

static void run_job(engine *en, store_job *j, const char *owner)
{
    kerr e = KERR_INIT;
    const char *exec_id = json_string_value(json_object_get(j->payload, "exec"));
    const char *run_id = json_string_value(json_object_get(j->payload, "run"));
    int attempt = (int)json_integer_value(json_object_get(j->payload, "attempt"));
    xexec *x = exec_id ? engine_exec_get(en, exec_id, &e) : NULL;
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
    int r = -1;
    for (size_t i = x->nruns; i > 0; i--)
        if (!strcmp(x->runs[i - 1].row.id, run_id)) {
            r = (int)(i - 1);
            break;
        }
    if (r < 0 || store_state_is_terminated(x->runs[r].row.state) || (int)x->runs[r].row.n_attempts != attempt ||
        x->row.state == STATE_KILLING || store_state_is_terminated(x->row.state)) {
        pthread_mutex_unlock(&x->lock);
        /* nothing to run: tell the executor so that a killed run ends */
        json_t *p = json_pack("{s:s,s:s,s:i,s:s}", "type", "result", "run", run_id, "attempt", attempt, "state",
                              "KILLED");
        send_result(en, j, p, owner);
        json_decref(p);
        engine_exec_release(en, x);
        return;
    }
    const etask *t = &x->fl->tasks[x->runs[r].task];
    w.r = r;
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
    int64_t start = time_now_us();
    task_result res = TASK_FAILED;
    int64_t timeout = 0;
    if (task_prop_duration(c, "timeout", 0, &timeout, &e)) {
        res = TASK_FAILED;
    } else {
        if (timeout > 0)
            c->deadline_us = time_mono_us() + timeout;
        kerr_clear(&e);
        res = t->hooks->run(c, &e);
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
        json_object_set_new(p, "metrics", c->metrics);
    if (c->labels)
        json_object_set_new(p, "labels", c->labels);
    if (c->exit_state >= 0)
        json_object_set_new(p, "exit_state", json_string(store_state_name((store_state)c->exit_state)));
    if (res == TASK_FAILED)
        json_object_set_new(p, "error", json_string(e.msg));
    pthread_mutex_lock(&en->lock);
    json_object_del(en->cancels, flagkey);
    pthread_mutex_unlock(&en->lock);
    send_result(en, j, p, owner);
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

void *worker_main(void *arg)
{
    engine *en = arg;
    static atomic_int seq;
    char owner[192];
    snprintf(owner, sizeof owner, "%s-w%d", en->worker_id, atomic_fetch_add(&seq, 1));
    while (atomic_load(&en->running)) {
        store_job *jobs = NULL;
        size_t n = 0;
        kerr e = KERR_INIT;
        if (store_queue_lease(en->o.store, "task", 1, owner, en->o.lease_us, 0, &jobs, &n, &e)) {
            fprintf(stderr, "kite: worker: %s\n", e.msg);
            usleep(100000);
            continue;
        }
        if (n) {
            pthread_mutex_lock(&en->lock);
            int stopping = en->stopping;
            pthread_mutex_unlock(&en->lock);
            if (stopping) {
                /* give it back for the next start */
                store_jobs_free(jobs, n);
                break;
            }
            run_job(en, &jobs[0], owner);
            store_jobs_free(jobs, n);
            continue;
        }
        pthread_mutex_lock(&en->lock);
        if (!en->jobs_pending && atomic_load(&en->running) && !en->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L; /* delayed jobs (retries) become ready by themselves */
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&en->work_wake, &en->lock, &ts);
        }
        if (en->jobs_pending > 0)
            en->jobs_pending--;
        int stop = en->stopping;
        pthread_mutex_unlock(&en->lock);
        if (stop)
            break;
    }
    return NULL;
}
