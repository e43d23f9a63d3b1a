/*
 * executor.c: the step function: one event applied to an execution in
 * memory, then the execution moved as far as it goes without waiting.
 *
 * Resolution walks the flow from its root every step, as Kestra's executor
 * does: a list of tasks is walked in order and each task's run is found by
 * (parent run, task, iteration); a missing run is started when its turn has
 * come; a flowable run resolves its own children the same way and ends when
 * its block (tasks, then errors when they failed, then finally) has ended.
 * What each flowable does is in flowables.c (see "the step" in engine_int.h
 * for the recursion between the two files); this file holds the walk, the
 * helpers flowables share, and the application of events.
 * The walk is deterministic: the same runs give the same decisions, so the
 * step can be replayed after a crash from what the store holds.
 *
 * State rules (Kestra's):
 *   - a task that FAILED with allowFailure counts as WARNING for its parent;
 *     a WARNING with allowWarning counts as SUCCESS; SKIPPED counts as SUCCESS;
 *   - a block whose tasks failed runs its errors branch, then its finally
 *     branch, and ends FAILED (KILLED when killed), whatever the errors did;
 *   - otherwise it ends with the worst of its tasks and finally (WARNING over
 *     SUCCESS; a failing finally task makes it FAILED).
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/strutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------ */

/* The state of run r as its parent counts it. */
store_state step_effective(step *s, int r)
{
    const xrun *run = &s->x->runs[r];
    const json_t *t = step_task(s, r)->json;
    store_state st = run->row.state;
    if (st == STATE_SKIPPED)
        return STATE_SUCCESS;
    if (st == STATE_FAILED && json_is_true(json_object_get(t, "allowFailure")))
        st = STATE_WARNING;
    if (st == STATE_WARNING && json_is_true(json_object_get(t, "allowWarning")))
        st = STATE_SUCCESS;
    return st;
}

void step_set_state(step *s, int r, store_state st)
{
    if (s->x->runs[r].row.state != st) {
        xrun_set_state(s->x, r, st, s->now);
        s->changed = 1;
    }
}

static void exec_log(step *s, int r, store_level lvl, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void exec_log(step *s, int r, store_level lvl, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    engine_log_line(s->en, s->x, r, r >= 0 ? (int)s->x->runs[r].row.n_attempts : 0, lvl, msg);
}

/* Run r failed for a reason of the executor's (a bad property...). */
void step_fail(step *s, int r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    engine_log_line(s->en, s->x, r, 0, LEVEL_ERROR, msg);
    step_set_state(s, r, STATE_FAILED);
}

/* Keeps a flowable's bookkeeping in its outputs, so a restart finds it. */
json_t *step_sdata(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (!run->state_data)
        run->state_data = json_object();
    return run->state_data;
}

void step_sdata_save(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (!run->row.outputs)
        run->row.outputs = json_object();
    json_object_set(run->row.outputs, "_state", run->state_data);
    xrun_touch(s->x, r);
}

void step_set_output(step *s, int r, const char *key, json_t *v)
{
    xrun *run = &s->x->runs[r];
    if (!run->row.outputs)
        run->row.outputs = json_object();
    json_object_set_new(run->row.outputs, key, v);
    xrun_touch(s->x, r);
}

/* Kestra's truthiness of a rendered condition. */
int step_truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_true(v))
        return 1;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0;
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        while (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\n' || t[n - 1] == '\t' || t[n - 1] == '\r'))
            n--;
        if (n == 0)
            return 0;
        if ((n == 5 && !strncasecmp(t, "false", 5)) || (n == 1 && t[0] == '0') || (n == 4 && !strncasecmp(t, "null", 4)))
            return 0;
        return 1;
    }
    return 1; /* lists and maps */
}

/* Renders property name of run r's task; *out NULL when absent. */
int step_prop(step *s, int r, const char *name, json_t **out, kerr *e)
{
    *out = NULL;
    const json_t *raw = json_object_get(step_task(s, r)->json, name);
    if (!raw || json_is_null(raw))
        return 0;
    json_t *v = xexec_render(s->en, s->x, r, raw, e);
    if (!v) {
        kerr_prefix(e, "property '%s'", name);
        return -1;
    }
    *out = v;
    return 0;
}

int step_prop_int(step *s, int r, const char *name, int64_t dflt, int64_t *out, kerr *e)
{
    json_t *v;
    if (step_prop(s, r, name, &v, e))
        return -1;
    *out = dflt;
    if (!v || json_is_null(v)) {
        json_decref(v);
        return 0;
    }
    int rc = 0;
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (json_is_real(v))
        *out = (int64_t)json_real_value(v);
    else if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (*end || end == json_string_value(v))
            rc = kerr_set(e, "property '%s': '%s' is not an integer", name, json_string_value(v));
        else
            *out = n;
    } else
        rc = kerr_set(e, "property '%s' must be an integer", name);
    json_decref(v);
    return rc;
}

int step_prop_duration(step *s, int r, const json_t *obj, const char *name, int64_t dflt, int64_t *out, kerr *e)
{
    const json_t *raw = json_object_get(obj, name);
    *out = dflt;
    if (!raw || json_is_null(raw))
        return 0;
    json_t *v = xexec_render(s->en, s->x, r, raw, e);
    if (!v)
        return -1;
    int rc = 0;
    if (json_is_number(v))
        *out = (int64_t)(json_number_value(v) * 1e6);
    else if (json_is_string(v))
        rc = duration_parse(json_string_value(v), out, e);
    else
        rc = kerr_set(e, "'%s' must be a duration", name);
    json_decref(v);
    if (rc)
        kerr_prefix(e, "property '%s'", name);
    return rc;
}

/* ---- starting a run ---------------------------------------------------------------- */

static void dispatch(step *s, int r, int64_t at)
{
    xrun *run = &s->x->runs[r];
    json_t *payload = json_pack("{s:s,s:s,s:i}", "exec", s->x->row.id, "run", run->row.id, "attempt",
                                (int)run->row.n_attempts);
    xactions_push(s->a, "task", run->row.id, payload, at);
    run->dispatched = 1;
}

int step_start_run(step *s, int task, int parent, const json_t *value, int iteration)
{
    xexec *x = s->x;
    const json_t *v = value;
    if (!v && parent >= 0 && x->runs[parent].row.value)
        v = x->runs[parent].value;
    int r = xexec_add_run(x, task, parent, v, iteration, s->now);
    s->changed = 1;
    if (x->nruns > s->en->max_task_runs) {
        /* the one run past the cap fails, which stops every walk from
         * starting more: the execution fails with it */
        step_fail(s, r, "execution would exceed %zu task runs (engine.maxTaskRuns)", s->en->max_task_runs);
        return r;
    }
    const etask *t = &x->fl->tasks[task];
    const json_t *runif = json_object_get(t->json, "runIf");
    if (runif && !json_is_null(runif)) {
        kerr e = KERR_INIT;
        json_t *cv = xexec_render(s->en, x, r, runif, &e);
        if (!cv) {
            step_fail(s, r, "runIf: %s", e.msg);
            return r;
        }
        int ok = step_truthy(cv);
        json_decref(cv);
        if (!ok) {
            step_set_state(s, r, STATE_SKIPPED);
            return r;
        }
    }
    if (t->impl) {
        step_set_state(s, r, STATE_RUNNING);
        return r;
    }
    if (!t->hooks) {
        step_fail(s, r, "task type '%s' cannot run in this version of kite", t->ft->type ? t->ft->type : "?");
        return r;
    }
    step_set_state(s, r, STATE_RUNNING);
    store_task_run_add_attempt(&x->runs[r].row, STATE_RUNNING, s->now, NULL);
    dispatch(s, r, 0);
    return r;
}

/* ---- walking lists -------------------------------------------------------------------- */

/* Tasks of list one after the other, under parent with the given iteration. */
step_res step_walk_seq(step *s, int parent, const elist *list, const json_t *value, int iteration)
{
    step_res out = {1, STATE_SUCCESS, 0};
    if (!list)
        return out;
    for (size_t i = 0; i < list->n; i++) {
        int r = step_find_run(s, parent, list->v[i], iteration);
        if (r < 0) {
            if (s->killing) {
                out.state = STATE_KILLED;
                out.bad = 1;
                return out;
            }
            r = step_start_run(s, list->v[i], parent, value, iteration);
        }
        store_state st = step_resolve(s, r);
        if (!step_ended(st)) {
            out.done = 0;
            return out;
        }
        store_state eff = step_effective(s, r);
        if (step_is_bad(eff)) {
            out.state = eff;
            out.bad = 1;
            return out;
        }
        out.state = step_worst(out.state, eff);
    }
    return out;
}

/* Tasks of list all at once, at most limit running (0: no limit). A failure
 * stops new starts; the block ends when what started has ended. */
step_res step_walk_par(step *s, int parent, const elist *list, const json_t *value, int iteration, int64_t limit)
{
    step_res out = {1, STATE_SUCCESS, 0};
    if (!list)
        return out;
    int running = 0;
    store_state bad_state = STATE_SUCCESS;
    for (size_t i = 0; i < list->n; i++) {
        int r = step_find_run(s, parent, list->v[i], iteration);
        if (r < 0)
            continue;
        store_state st = step_resolve(s, r);
        if (!step_ended(st)) {
            running++;
            out.done = 0;
            continue;
        }
        store_state eff = step_effective(s, r);
        if (step_is_bad(eff)) {
            out.bad = 1;
            bad_state = step_worst(bad_state, eff);
        }
        out.state = step_worst(out.state, eff);
    }
    for (size_t i = 0; i < list->n; i++) {
        if (step_find_run(s, parent, list->v[i], iteration) >= 0)
            continue;
        if (out.bad || s->killing) {
            if (s->killing && !out.bad) {
                out.bad = 1;
                bad_state = STATE_KILLED;
            }
            continue;
        }
        if (limit > 0 && running >= limit) {
            out.done = 0;
            continue;
        }
        int r = step_start_run(s, list->v[i], parent, value, iteration);
        store_state st = step_resolve(s, r);
        if (!step_ended(st)) {
            running++;
            out.done = 0;
            continue;
        }
        store_state eff = step_effective(s, r);
        if (step_is_bad(eff)) {
            out.bad = 1;
            bad_state = step_worst(bad_state, eff);
        }
        out.state = step_worst(out.state, eff);
    }
    if (out.bad)
        out.state = bad_state;
    return out;
}

/* The end of a block: errors when the tasks failed, then finally. Returns
 * RUNNING while something is left to run. */
store_state step_block(step *s, int parent, step_res main, const elist *errors, const elist *fin,
                         const json_t *value, int iteration)
{
    if (!main.done)
        return STATE_RUNNING;
    store_state st = main.state;
    if (main.bad && errors && errors->n && main.state != STATE_KILLED) {
        int saved = s->killing;
        step_res e = step_walk_seq(s, parent, errors, value, iteration);
        s->killing = saved;
        if (!e.done)
            return STATE_RUNNING;
    }
    if (fin && fin->n) {
        step_res f = step_walk_seq(s, parent, fin, value, iteration);
        if (!f.done)
            return STATE_RUNNING;
        if (f.bad)
            st = step_worst(st, STATE_FAILED);
        else
            st = step_worst(st, f.state);
    }
    return st;
}


/* The run's flowable is the etask's impl, found once by eflow_new: no
 * lookup here, at every resolve of every run. */
store_state step_resolve(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (step_ended(run->row.state))
        return run->row.state;
    const etask *t = step_task(s, r);
    if (!t->impl)
        return run->row.state;
    if (++s->depth > 200) {
        s->depth--;
        step_fail(s, r, "flowables nested too deeply");
        return STATE_FAILED;
    }
    store_state st = t->impl->resolve(s, r);
    s->depth--;
    run = &s->x->runs[r]; /* runs may have moved */
    if (st != run->row.state && (step_ended(st) || st == STATE_PAUSED || st == STATE_RUNNING))
        step_set_state(s, r, st);
    return s->x->runs[r].row.state;
}

/* ---- applying events ------------------------------------------------------------------- */

static int run_by_id(xexec *x, const char *id) { return xexec_run_by_id(x, id); }

/* The delay before attempt n+1 of a task with retry policy p (attempts made: n). */
static int retry_delay(step *s, int r, const json_t *p, int n, int64_t *delay, kerr *e)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    int64_t interval = 0, maxi = 0, mini = 0;
    if (step_prop_duration(s, r, p, "interval", 0, &interval, e) || step_prop_duration(s, r, p, "maxInterval", 0, &maxi, e) ||
        step_prop_duration(s, r, p, "minInterval", 0, &mini, e))
        return -1;
    if (type && !strcasecmp(type, "exponential")) {
        double factor = json_is_number(json_object_get(p, "delayFactor"))
                            ? json_number_value(json_object_get(p, "delayFactor"))
                            : 2.0;
        double d = (double)interval * pow(factor, n - 1);
        if (maxi && d > (double)maxi)
            d = (double)maxi;
        *delay = (int64_t)d;
    } else if (type && !strcasecmp(type, "random")) {
        int64_t span = maxi > mini ? maxi - mini : 0;
        *delay = mini + (span ? (int64_t)(((uint64_t)s->now * 2654435761u) % (uint64_t)span) : 0);
    } else {
        *delay = interval;
    }
    return 0;
}

static void cancel_running(step *s);

/* Deep-merges src into dst: maps merge key by key, anything else replaces. */
static void merge_deep(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        json_t *d = json_object_get(dst, k);
        if (json_is_object(d) && json_is_object(v))
            merge_deep(d, v);
        else
            json_object_set_new(dst, k, json_deep_copy(v));
    }
}

/* SetVariables / UnsetVariables: the execution's `vars` become its own copy
 * of the flow's variables (variables._vars, kept with the execution),
 * changed by the task. */
static void apply_variables(step *s, const xevent *ev)
{
    xexec *x = s->x;
    const json_t *set = json_object_get(ev->data, "set_vars");
    const json_t *unset = json_object_get(ev->data, "unset_vars");
    if (!json_is_object(set) && !json_is_array(unset))
        return;
    if (!x->row.variables)
        x->row.variables = json_object();
    json_t *cur = json_object_get(x->row.variables, "_vars");
    if (!json_is_object(cur)) {
        const json_t *fv = json_object_get(x->fl->f->doc, "variables");
        cur = json_is_object(fv) ? json_deep_copy(fv) : json_object();
        json_object_set_new(x->row.variables, "_vars", cur);
    }
    if (json_is_object(set))
        merge_deep(cur, set);
    size_t i;
    json_t *n;
    json_array_foreach(unset, i, n) {
        if (json_is_string(n))
            json_object_del(cur, json_string_value(n));
    }
    x->dirty = 1;
}

static void apply_result(step *s, const xevent *ev)
{
    xexec *x = s->x;
    int r = run_by_id(x, ev->taskrun_id);
    if (r < 0)
        return;
    xrun *run = &x->runs[r];
    int attempt = (int)json_integer_value(json_object_get(ev->data, "attempt"));
    if (step_ended(run->row.state) || attempt != (int)run->row.n_attempts)
        return; /* a stale delivery: a lease that expired, or a killed run */
    run->dispatched = 0;
    store_state st = STATE_FAILED;
    const char *sname = json_string_value(json_object_get(ev->data, "state"));
    if (sname)
        store_state_parse(sname, &st);
    store_attempt *at = &run->row.attempts[run->row.n_attempts - 1];
    at->state = st;
    at->end_us = s->now;
    const json_t *start = json_object_get(ev->data, "start_us");
    if (json_is_integer(start))
        at->start_us = json_integer_value(start);
    free(at->worker_id);
    at->worker_id = json_string_value(json_object_get(ev->data, "worker"))
                        ? xstrdup(json_string_value(json_object_get(ev->data, "worker")))
                        : NULL;
    xrun_touch(x, r);
    const json_t *outs = json_object_get(ev->data, "outputs");
    if (json_is_object(outs) && json_object_size(outs)) {
        if (!run->row.outputs)
            run->row.outputs = json_object();
        json_object_update(run->row.outputs, (json_t *)outs);
        xexec_index_outputs(x, r);
    }
    const json_t *labels = json_object_get(ev->data, "labels");
    if (json_is_object(labels)) {
        if (!x->row.labels)
            x->row.labels = json_object();
        json_object_update(x->row.labels, (json_t *)labels);
        x->dirty = 1;
    }
    if (st == STATE_SUCCESS || st == STATE_WARNING)
        apply_variables(s, ev);
    if (st == STATE_FAILED && !s->killing) {
        const json_t *p = json_object_get(step_task(s, r)->json, "retry");
        if (json_is_object(p)) {
            int n = (int)run->row.n_attempts;
            const json_t *ma = json_object_get(p, "maxAttempt");
            if (!ma)
                ma = json_object_get(p, "maxAttempts");
            int64_t max_attempt = json_is_integer(ma) ? json_integer_value(ma)
                                  : json_is_string(ma) ? atoll(json_string_value(ma))
                                                       : -1;
            int64_t max_dur = 0;
            kerr e = KERR_INIT;
            step_prop_duration(s, r, p, "maxDuration", 0, &max_dur, &e);
            int64_t first = run->row.attempts[0].start_us ? run->row.attempts[0].start_us : run->row.created_us;
            int more = (max_attempt < 0 || n < max_attempt) && (max_attempt >= 0 || max_dur > 0);
            int64_t delay = 0;
            if (more && retry_delay(s, r, p, n, &delay, &e)) {
                exec_log(s, r, LEVEL_ERROR, "retry: %s", e.msg);
                more = 0;
            }
            if (more && max_dur > 0 && s->now + delay - first > max_dur)
                more = 0;
            if (more) {
                step_set_state(s, r, STATE_RETRYING);
                store_task_run_add_attempt(&x->runs[r].row, STATE_CREATED, 0, NULL);
                step_set_state(s, r, STATE_RUNNING);
                dispatch(s, r, delay > 0 ? s->now + delay : 0);
                return;
            }
        }
    }
    if (st == STATE_SUCCESS && run->row.n_attempts > 1) {
        const json_t *p = json_object_get(step_task(s, r)->json, "retry");
        if (json_is_true(json_object_get(p, "warningOnRetry")))
            st = STATE_WARNING;
    }
    const json_t *exit_state = json_object_get(ev->data, "exit_state");
    store_state es;
    if (json_is_string(exit_state) && !store_state_parse(json_string_value(exit_state), &es)) {
        /* Exit: the execution ends in that state; what runs is stopped,
         * nothing new starts, and the Exit task itself takes the state */
        step_set_state(s, r, es);
        step_exit(s, es);
        return;
    }
    step_set_state(s, r, st);
}

void step_exit(step *s, store_state st)
{
    xexec *x = s->x;
    if (!x->row.variables)
        x->row.variables = json_object();
    json_object_set_new(x->row.variables, "_exit", json_integer(st));
    store_execution_set_state(&x->row, STATE_KILLING, s->now);
    x->dirty = 1;
    s->killing = 1;
    cancel_running(s);
}

static void cancel_running(step *s)
{
    xexec *x = s->x;
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
        if (step_ended(run->row.state))
            continue;
        const etask *t = &x->fl->tasks[run->task];
        if (!t->impl) {
            if (run->dispatched && run->row.n_attempts &&
                run->row.attempts[run->row.n_attempts - 1].state == STATE_RUNNING) {
                /* the worker stops it and reports KILLED */
                s->a->cancel_runs = xrealloc(s->a->cancel_runs, (s->a->ncancel + 1) * sizeof(char *));
                s->a->cancel_runs[s->a->ncancel++] = xstrdup(run->row.id);
                step_set_state(s, (int)i, STATE_KILLING);
            } else {
                step_set_state(s, (int)i, STATE_KILLED);
            }
        } else if ((t->impl->flags & FL_PAUSE) && run->row.state == STATE_PAUSED) {
            step_set_state(s, (int)i, STATE_KILLED);
        } else if (t->impl->flags & FL_SUBFLOW) {
            const char *child = json_string_value(json_object_get(run->state_data, "child"));
            if (child && !json_object_get(run->state_data, "ended")) {
                if (!s->a->kill_children)
                    s->a->kill_children = json_array();
                json_array_append_new(s->a->kill_children, json_string(child));
            }
        }
    }
}

/* Failed task runs (and their failed flowable ancestors) run again in the
 * same execution: a restart, or a flow-level retry (RETRY_FAILED_TASK). */
static void restart_failed(step *s)
{
    xexec *x = s->x;
    store_execution_set_state(&x->row, STATE_RUNNING, s->now);
    x->row.end_us = 0;
    x->dirty = 1;
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
        if (run->row.state != STATE_FAILED && run->row.state != STATE_KILLED)
            continue;
        step_set_state(s, (int)i, STATE_RESTARTED);
        const etask *t = &x->fl->tasks[run->task];
        if (t->impl) {
            step_set_state(s, (int)i, STATE_RUNNING);
            json_t *sd = step_sdata(s, (int)i);
            json_object_del(sd, "result");
            json_object_del(sd, "branch");
            xrun_loop_reset(run);
            step_sdata_save(s, (int)i);
        }
    }
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
        const etask *t = &x->fl->tasks[run->task];
        if (run->row.state == STATE_RESTARTED && !t->impl) {
            store_task_run_add_attempt(&run->row, STATE_RUNNING, s->now, NULL);
            step_set_state(s, (int)i, STATE_RUNNING);
            dispatch(s, (int)i, 0);
        }
    }
}

static void apply_event(step *s, const xevent *ev)
{
    xexec *x = s->x;
    switch (ev->type) {
    case XEV_START:
        if (x->row.state == STATE_CREATED || x->row.state == STATE_QUEUED) {
            sla_arm(s);
            store_execution_set_state(&x->row, STATE_RUNNING, s->now);
            x->row.start_us = s->now;
            x->dirty = 1;
        }
        break;
    case XEV_RESULT:
        apply_result(s, ev);
        break;
    case XEV_TIMER: {
        const char *what0 = json_string_value(json_object_get(ev->data, "what"));
        if (what0 && !strcmp(what0, "flow_retry")) {
            if (x->row.state == STATE_RETRYING)
                restart_failed(s);
            break;
        }
        if (what0 && !strcmp(what0, "sla")) {
            sla_expired(s, ev);
            break;
        }
        int r = run_by_id(x, ev->taskrun_id);
        if (r < 0 || step_ended(x->runs[r].row.state))
            break;
        const char *what = json_string_value(json_object_get(ev->data, "what"));
        json_t *sd = step_sdata(s, r);
        if (what && !strcmp(what, "pause_delay") && x->runs[r].row.state == STATE_PAUSED) {
            json_object_set_new(sd, "phase", json_string("resumed"));
            step_sdata_save(s, r);
            step_set_state(s, r, STATE_RUNNING);
        } else if (what && !strcmp(what, "pause_timeout") && x->runs[r].row.state == STATE_PAUSED) {
            json_object_set_new(sd, "phase", json_string("timeout"));
            step_sdata_save(s, r);
            const char *beh = json_string_value(json_object_get(step_task(s, r)->json, "behavior"));
            if (beh && !strcasecmp(beh, "RESUME")) {
                step_set_state(s, r, STATE_RUNNING);
                json_object_set_new(sd, "phase", json_string("resumed"));
            } else if (beh && !strcasecmp(beh, "WARN")) {
                step_set_state(s, r, STATE_WARNING);
            } else if (beh && !strcasecmp(beh, "CANCEL")) {
                step_set_state(s, r, STATE_CANCELLED);
            } else {
                step_fail(s, r, "Pause '%s' timed out", x->runs[r].row.task_id);
            }
        } else if (what && !strcmp(what, "loop")) {
            json_object_set_new(sd, "waiting", json_false());
            json_object_set_new(sd, "iteration", json_integer(json_integer_value(json_object_get(sd, "iteration")) + 1));
            step_sdata_save(s, r);
            s->changed = 1;
        }
        break;
    }
    case XEV_KILL:
        if (!step_ended(x->row.state)) {
            store_execution_set_state(&x->row, STATE_KILLING, s->now);
            x->dirty = 1;
            s->killing = 1;
            cancel_running(s);
            if (json_is_false(json_object_get(ev->data, "propagate"))) {
                /* the Kill task's propagateKill: false */
                json_decref(s->a->kill_children);
                s->a->kill_children = NULL;
            }
        }
        break;
    case XEV_RESUME:
        /* RUNNING too: the Resume task of another branch resumes a Pause of
         * an execution that still runs */
        if (x->row.state != STATE_PAUSED && x->row.state != STATE_RUNNING)
            break;
        for (size_t i = 0; i < x->nruns; i++) {
            xrun *run = &x->runs[i];
            if (run->row.state != STATE_PAUSED)
                continue;
            json_t *sd = step_sdata(s, (int)i);
            json_object_set_new(sd, "phase", json_string("resumed"));
            step_sdata_save(s, (int)i);
            const json_t *inputs = json_object_get(ev->data, "inputs");
            if (json_is_object(inputs) && json_object_size(inputs)) {
                if (!run->row.outputs)
                    run->row.outputs = json_object();
                json_object_update(run->row.outputs, (json_t *)inputs);
                xexec_index_outputs(x, (int)i);
            }
            step_set_state(s, (int)i, STATE_RUNNING);
        }
        if (x->row.state == STATE_PAUSED)
            store_execution_set_state(&x->row, STATE_RUNNING, s->now);
        x->dirty = 1;
        break;
    case XEV_CHILD_END: {
        int r = run_by_id(x, ev->taskrun_id);
        if (r < 0 || step_ended(x->runs[r].row.state))
            break;
        json_t *sd = step_sdata(s, r);
        const flowable *impl = step_task(s, r)->impl;
        if (impl && (impl->flags & FL_ITEMS)) {
            /* one more batch ended: count it by its state */
            const char *sname = json_string_value(json_object_get(ev->data, "state"));
            json_t *counts = json_object_get(sd, "ended");
            if (!counts) {
                counts = json_object();
                json_object_set_new(sd, "ended", counts);
            }
            const char *key = sname ? sname : "FAILED";
            json_object_set_new(counts, key, json_integer(json_integer_value(json_object_get(counts, key)) + 1));
            step_sdata_save(s, r);
            s->changed = 1;
            break;
        }
        store_state cst = STATE_FAILED;
        const char *sname = json_string_value(json_object_get(ev->data, "state"));
        if (sname)
            store_state_parse(sname, &cst);
        const json_t *tj = step_task(s, r)->json;
        const json_t *tf = json_object_get(tj, "transmitFailed");
        /* Subflow's transmitFailed defaults to true; the old Flow task's to false */
        const char *ty = step_task(s, r)->ft->type;
        int transmit = tf ? (json_is_true(tf) || (json_is_string(tf) && !strcasecmp(json_string_value(tf), "true")))
                          : !(ty && str_ends_with(ty, "flows.Flow"));
        store_state mine = cst;
        if (step_is_bad(cst) && !transmit)
            mine = STATE_SUCCESS;
        json_object_set_new(sd, "ended", json_true());
        json_object_set_new(sd, "result", json_integer(mine));
        step_sdata_save(s, r);
        step_set_output(s, r, "state", json_string(store_state_name(cst)));
        const json_t *co = json_object_get(ev->data, "outputs");
        if (json_is_object(co))
            step_set_output(s, r, "outputs", json_incref((json_t *)co));
        xexec_index_outputs(x, r);
        s->changed = 1;
        break;
    }
    case XEV_RESTART:
        if (x->row.state != STATE_FAILED && x->row.state != STATE_KILLED)
            break;
        store_execution_set_state(&x->row, STATE_RESTARTED, s->now);
        restart_failed(s);
        break;
    }
}

/* ---- the step ------------------------------------------------------------------------- */

static store_state root_state(step *s)
{
    const eflow *fl = s->x->fl;
    step_res m = step_walk_seq(s, -1, &fl->root, NULL, 0);
    store_state st = step_block(s, -1, m, &fl->errors, &fl->finally, NULL, 0);
    if (!step_ended(st) || !fl->after.n)
        return st;
    /* afterExecution: run once the rest has ended, whatever its state,
     * which they do not change (a kill skips them) */
    int saved = s->killing;
    if (st == STATE_KILLED)
        return st;
    s->killing = 0;
    step_res a = step_walk_seq(s, -1, &fl->after, NULL, 0);
    s->killing = saved;
    return a.done || a.bad ? st : STATE_RUNNING;
}

static void end_execution(step *s, store_state st)
{
    xexec *x = s->x;
    const json_t *exit_j = x->row.variables ? json_object_get(x->row.variables, "_exit") : NULL;
    if (json_is_integer(exit_j))
        st = (store_state)json_integer_value(exit_j);
    /* flow outputs */
    const json_t *outs = json_object_get(x->fl->f->doc, "outputs");
    if (json_is_array(outs) && json_array_size(outs) && (st == STATE_SUCCESS || st == STATE_WARNING)) {
        json_t *result = json_object();
        size_t i;
        const json_t *o;
        json_array_foreach(outs, i, o) {
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *type = json_string_value(json_object_get(o, "type"));
            kerr e = KERR_INIT;
            json_t *v = xexec_render(s->en, x, -1, json_object_get(o, "value"), &e);
            json_t *typed = v ? engine_output_typed(id, type ? type : "STRING", v, &e) : NULL;
            json_decref(v);
            if (!typed) {
                engine_log_line(s->en, x, -1, 0, LEVEL_ERROR, e.msg);
                engine_log_line(s->en, x, -1, 0, LEVEL_ERROR, "flow outputs could not be computed: the execution fails");
                st = STATE_FAILED;
                break;
            }
            json_object_set_new(result, id, typed);
        }
        if (st != STATE_FAILED) {
            json_decref(x->row.outputs);
            x->row.outputs = result;
        } else {
            json_decref(result);
        }
    }
    store_execution_set_state(&x->row, st, s->now);
    x->row.end_us = s->now;
    x->dirty = 1;
    if (x->row.parent_id && x->row.parent_task_run_id) {
        json_decref(s->a->notify_parent);
        s->a->notify_parent = json_pack("{s:s,s:s,s:s,s:O?}", "parent", x->row.parent_id, "run",
                                        x->row.parent_task_run_id, "state", store_state_name(st), "outputs",
                                        x->row.outputs);
    }
}

/* The flow's own `retry` when the execution failed: with behavior
 * RETRY_FAILED_TASK (the default) the execution goes RETRYING and its failed
 * tasks run again after the delay, as long as maxAttempt / maxDuration allow.
 * Returns 1 when a retry is scheduled. */
static int flow_retry(step *s)
{
    xexec *x = s->x;
    const json_t *p = json_object_get(x->fl->f->doc, "retry");
    if (!json_is_object(p))
        return 0;
    const char *beh = json_string_value(json_object_get(p, "behavior"));
    int new_execution = beh && !strcasecmp(beh, "CREATE_NEW_EXECUTION");
    int attempts = x->row.variables ? (int)json_integer_value(json_object_get(x->row.variables, "_flowAttempts")) : 0;
    if (attempts < 1)
        attempts = 1;
    const json_t *ma = json_object_get(p, "maxAttempt");
    if (!ma)
        ma = json_object_get(p, "maxAttempts");
    int64_t max_attempt = json_is_integer(ma) ? json_integer_value(ma) : json_is_string(ma) ? atoll(json_string_value(ma)) : -1;
    kerr e = KERR_INIT;
    int64_t max_dur = 0, delay = 0;
    if (step_prop_duration(s, -1, p, "maxDuration", 0, &max_dur, &e) || retry_delay(s, -1, p, attempts, &delay, &e)) {
        engine_log_line(s->en, x, -1, 0, LEVEL_ERROR, e.msg);
        return 0;
    }
    if (max_attempt < 0 && max_dur <= 0)
        return 0;
    if (max_attempt >= 0 && attempts >= max_attempt)
        return 0;
    int64_t start = x->row.start_us ? x->row.start_us : x->row.created_us;
    if (max_dur > 0 && s->now + delay - start > max_dur)
        return 0;
    if (new_execution) {
        /* this execution ends RETRIED; a new one (same revision, inputs and
         * labels, originalId this one) starts after the delay */
        json_decref(s->a->new_execution);
        s->a->new_execution = json_pack("{s:i,s:I}", "attempt", attempts + 1, "start_us", (json_int_t)(s->now + delay));
        store_execution_set_state(&x->row, STATE_RETRIED, s->now);
        x->row.end_us = s->now;
        x->dirty = 1;
        engine_log_line(s->en, x, -1, 0, LEVEL_INFO, "flow retry: a new execution is created");
        return 1;
    }
    if (!x->row.variables)
        x->row.variables = json_object();
    json_object_set_new(x->row.variables, "_flowAttempts", json_integer(attempts + 1));
    store_execution_set_state(&x->row, STATE_RETRYING, s->now);
    x->dirty = 1;
    xactions_push(s->a, "event", NULL, json_pack("{s:s,s:s}", "type", "timer", "what", "flow_retry"),
                  s->now + (delay > 0 ? delay : 1));
    return 1;
}

void executor_apply(engine *en, xexec *x, const xevent *ev, int64_t now, xactions *a)
{
    step s = {.en = en, .x = x, .now = now, .a = a};
    if (store_state_is_terminated(x->row.state) && ev->type != XEV_RESTART)
        return;
    s.killing = x->row.state == STATE_KILLING;
    apply_event(&s, ev);
}

void executor_resolve(engine *en, xexec *x, int64_t now, xactions *a)
{
    step s = {.en = en, .x = x, .now = now, .a = a};
    if (store_state_is_terminated(x->row.state))
        return;
    if (x->row.state == STATE_CREATED || x->row.state == STATE_QUEUED || x->row.state == STATE_RETRYING)
        return; /* not started yet, or waiting for its flow-level retry */
    s.killing = x->row.state == STATE_KILLING;
    sla_assert(&s);
    for (int guard = 0; guard < 1000; guard++) {
        s.changed = 0;
        store_state st = root_state(&s);
        if (step_ended(st) && st == STATE_FAILED && !s.killing && flow_retry(&s))
            return;
        if (step_ended(st)) {
            if (s.killing && !(x->row.variables && json_object_get(x->row.variables, "_exit")))
                st = STATE_KILLED;
            end_execution(&s, st);
            return;
        }
        if (!s.changed)
            break;
    }
    /* paused when a Pause waits and nothing else runs (counted as runs
     * change state: no walk over every run) */
    int paused = x->paused > 0, active = x->active > 0;
    if (paused && !active && x->row.state == STATE_RUNNING) {
        store_execution_set_state(&x->row, STATE_PAUSED, now);
        x->dirty = 1;
    } else if (!paused && x->row.state == STATE_PAUSED) {
        store_execution_set_state(&x->row, STATE_RUNNING, now);
        x->dirty = 1;
    }
}

void executor_step(engine *en, xexec *x, const xevent *ev, int64_t now, xactions *a)
{
    executor_apply(en, x, ev, now, a);
    executor_resolve(en, x, now, a);
}
