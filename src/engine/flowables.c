/*
 * flowables.c: the behaviour of each flowable type (Sequential, Parallel,
 * ForEach, If, Switch, Dag, Pause, LoopUntil, Subflow, ForEachItem...),
 * resolved by the executor itself, never on a worker.
 *
 * Their schemas are in tasks/core_flow.c; this file holds what they do, one
 * resolve function each, and the table (flowables[]) that joins a type to
 * its function and its flags. eflow_new looks a flowable up once per task
 * when a flow is compiled (etask.impl); the rest of the engine asks the
 * flags (FL_LOOP, FL_PAUSE...) what it needs to know, never the name.
 *
 * A resolve function walks its branches with step_walk_seq / step_walk_par
 * and ends with step_block (executor.c), which resolve each child in turn:
 * see "the step" in engine_int.h. Bookkeeping that must survive a restart
 * (the loop values, the chosen branch, the child execution) is kept in the
 * run's outputs through step_sdata.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/policy.h"
#include "util/strutil.h"

#include <stdlib.h>
#include <string.h>

/* ---- blocks: Sequential, AllowFailure, Parallel ------------------------------------- */

static store_state fl_sequential(step *s, int r)
{
    json_t *value = s->x->runs[r].value;
    step_res m = step_walk_seq(s, r, step_branch(s, r, "tasks"), value, 0);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), value, 0);
}

static store_state fl_allow_failure(step *s, int r)
{
    store_state st = fl_sequential(s, r);
    if (st == STATE_FAILED)
        return STATE_WARNING;
    return st;
}

static store_state fl_parallel(step *s, int r)
{
    kerr e = KERR_INIT;
    int64_t limit;
    if (step_prop_int(s, r, "concurrent", 0, &limit, &e)) {
        step_fail(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    json_t *value = s->x->runs[r].value;
    step_res m = step_walk_par(s, r, step_branch(s, r, "tasks"), value, 0, limit);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), value, 0);
}

/* The list of loop values, rendered once and kept. NULL + failure. */
/* Loop's values may also be a map (one iteration per entry: the keys are
 * kept in the run's "keys") or the URI of a file of internal storage (one
 * iteration per line). */
static json_t *loop_item_values(step *s, int r, json_t *v, json_t *sd)
{
    if (json_is_object(v)) {
        json_t *vals = json_array(), *keys = json_array();
        const char *k;
        json_t *it;
        json_object_foreach(v, k, it) {
            json_array_append(vals, it);
            json_array_append_new(keys, json_string(k));
        }
        json_object_set_new(sd, "keys", keys);
        json_decref(v);
        return vals;
    }
    if (json_is_string(v) && storage_uri_has_scheme(json_string_value(v))) {
        buf b = BUF_INIT;
        kerr e = KERR_INIT;
        if (storage_read_all(s->en->o.storage, json_string_value(v), 64u << 20, &b, &e)) {
            step_fail(s, r, "property 'values': %s", e.msg);
            buf_free(&b);
            json_decref(v);
            return NULL;
        }
        json_t *vals = json_array();
        const char *p = buf_str(&b), *end = p + b.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            size_t m = n && p[n - 1] == '\r' ? n - 1 : n;
            if (m)
                json_array_append_new(vals, json_stringn(p, m));
            p += n + 1;
        }
        buf_free(&b);
        json_decref(v);
        return vals;
    }
    return v;
}

static const json_t *loop_values(step *s, int r)
{
    json_t *sd = step_sdata(s, r);
    const json_t *vals = json_object_get(sd, "values");
    if (vals)
        return vals;
    const char *prop = json_object_get(step_task(s, r)->json, "values") ? "values" : "value";
    kerr e = KERR_INIT;
    json_t *v;
    if (step_prop(s, r, prop, &v, &e)) {
        step_fail(s, r, "%s", e.msg);
        return NULL;
    }
    if (step_task(s, r)->impl && (step_task(s, r)->impl->flags & FL_ITEM)) {
        v = loop_item_values(s, r, v, sd);
        if (!v)
            return NULL;
    }
    if (json_is_string(v)) {
        json_error_t je;
        json_t *p = json_loads(json_string_value(v), JSON_DECODE_ANY, &je);
        if (!json_is_array(p)) {
            step_fail(s, r, "property '%s': '%s' is not a list (a JSON array such as [\"a\", \"b\"])", prop,
                     json_string_value(v));
            json_decref(p);
            json_decref(v);
            return NULL;
        }
        json_decref(v);
        v = p;
    }
    if (!json_is_array(v)) {
        step_fail(s, r, "property '%s' must be a list", prop);
        json_decref(v);
        return NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (json_is_null(it)) {
            step_fail(s, r, "property '%s': item %zu is null", prop, i);
            json_decref(v);
            return NULL;
        }
    }
    json_object_set_new(sd, "values", v);
    step_sdata_save(s, r);
    return v;
}

/* The cursor of loop run r, built on its first walk (after a load or a
 * restart) from the runs that exist: iterations start in order, so those
 * that started are [0, hi); all of them are open until the walk folds them. */
static xloop *loop_cursor(step *s, int r, const elist *tasks, size_t n)
{
    xrun *run = &s->x->runs[r];
    if (run->loop)
        return run->loop;
    xloop *l = xcalloc(1, sizeof *l);
    l->agg = STATE_SUCCESS;
    if (tasks && tasks->n)
        while (l->hi < n && step_find_run(s, r, tasks->v[0], (int)l->hi) >= 0)
            l->hi++;
    l->cap = l->hi ? l->hi : 8;
    l->open = xmalloc(l->cap * sizeof *l->open);
    for (size_t i = 0; i < l->hi; i++)
        l->open[l->nopen++] = i;
    s->x->runs[r].loop = l;
    return l;
}

/* ForEach and its old forms, which differ in how many iterations run at once
 * (limit, read from property limit_prop with default dflt; NULL: always 1)
 * and whether an iteration's tasks run in parallel (par_tasks).
 *
 * A step walks only the open iterations (started, not ended) and starts new
 * ones from the cursor: its cost follows what runs, not the number of
 * values. New iterations wait, whatever the limit, while the execution has
 * engine.max_active runnable runs not ended or the loop that many open
 * iterations (fairness: one execution never floods the queue). */
static store_state foreach(step *s, int r, const char *limit_prop, int64_t dflt, int par_tasks, int transmit)
{
    const json_t *vals = loop_values(s, r);
    if (!vals)
        return STATE_FAILED;
    int64_t limit = 1;
    kerr e = KERR_INIT;
    if (limit_prop && step_prop_int(s, r, limit_prop, dflt, &limit, &e)) {
        step_fail(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    const elist *tasks = step_branch(s, r, "tasks");
    size_t n = json_array_size(vals);
    xloop *l = loop_cursor(s, r, tasks, n);
    if (l->hi == 0 && l->nopen == 0 && n && tasks && tasks->n) {
        /* before the first iteration: would the execution stay within its cap? */
        size_t max = s->en->max_task_runs, have = s->x->nruns;
        if (n > (max - (have < max ? have : max)) / tasks->n) {
            step_fail(s, r, "execution would exceed %zu task runs (engine.maxTaskRuns): '%s' has %zu values of %zu task%s",
                      max, s->x->runs[r].row.task_id, n, tasks->n, tasks->n == 1 ? "" : "s");
            return STATE_FAILED;
        }
    }
    step_res m = {1, l->agg, l->bad};
    size_t running = 0, keep = 0;
    for (size_t k = 0; k < l->nopen; k++) {
        size_t i = l->open[k];
        const json_t *v = json_array_get(vals, i);
        step_res it = par_tasks ? step_walk_par(s, r, tasks, v, (int)i, 0) : step_walk_seq(s, r, tasks, v, (int)i);
        l = s->x->runs[r].loop;
        if (!it.done) {
            running++;
            m.done = 0;
            l->open[keep++] = i;
            continue;
        }
        if (!transmit && it.bad) /* Loop's transmitFailed: false */
            it = (step_res){1, STATE_WARNING, 0};
        l->agg = step_worst(l->agg, it.state);
        if (it.bad)
            l->bad = 1;
        m.state = step_worst(m.state, it.state);
        m.bad |= it.bad;
    }
    l->nopen = keep;
    while (l->hi < n) {
        if (m.bad || s->killing || (limit > 0 && (int64_t)running >= limit) || s->x->active >= s->en->max_active ||
            l->nopen >= s->en->max_active) {
            if (s->killing && !m.bad) {
                m.bad = 1;
                m.state = STATE_KILLED;
            }
            if (!m.bad)
                m.done = 0;
            break;
        }
        size_t i = l->hi++;
        const json_t *v = json_array_get(vals, i);
        step_res it = par_tasks ? step_walk_par(s, r, tasks, v, (int)i, 0) : step_walk_seq(s, r, tasks, v, (int)i);
        l = s->x->runs[r].loop;
        if (!it.done) {
            running++;
            m.done = 0;
            if (l->nopen == l->cap) {
                l->cap = l->cap * 2;
                l->open = xrealloc(l->open, l->cap * sizeof *l->open);
            }
            l->open[l->nopen++] = i;
            continue;
        }
        if (!transmit && it.bad)
            it = (step_res){1, STATE_WARNING, 0};
        l->agg = step_worst(l->agg, it.state);
        if (it.bad)
            l->bad = 1;
        m.state = step_worst(m.state, it.state);
        m.bad |= it.bad;
    }
    if (m.bad && m.state != STATE_KILLED)
        m.state = step_worst(m.state, STATE_FAILED);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_foreach(step *s, int r) { return foreach(s, r, "concurrencyLimit", 1, 0, 1); }

static store_state fl_each_sequential(step *s, int r) { return foreach(s, r, NULL, 1, 0, 1); }

static store_state fl_each_parallel(step *s, int r) { return foreach(s, r, "concurrent", 0, 1, 1); }

/* Loop (Kestra 1.x): ForEach whose iterations see `item` (model.c), over a
 * list, a map or a file's lines, all at once by default (concurrencyLimit
 * 0); transmitFailed: false keeps a failed iteration from failing the loop
 * (it counts as WARNING). Its `outputs` and `breakWhen` are not run by kite
 * yet: a Loop that sets them fails, saying so. */
static store_state fl_loop(step *s, int r)
{
    const json_t *t = step_task(s, r)->json;
    const char *missing = json_object_get(t, "breakWhen") ? "breakWhen" : json_object_get(t, "outputs") ? "outputs"
                                                                                                       : NULL;
    if (missing) {
        step_fail(s, r, "Loop: property '%s' is not supported by kite yet", missing);
        return STATE_FAILED;
    }
    int transmit = 1;
    kerr e = KERR_INIT;
    json_t *tf = NULL;
    if (json_object_get(t, "transmitFailed")) {
        if (step_prop(s, r, "transmitFailed", &tf, &e)) {
            step_fail(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        transmit = !(json_is_false(tf) || (json_is_string(tf) && !strcmp(json_string_value(tf), "false")));
        json_decref(tf);
    }
    return foreach(s, r, "concurrencyLimit", 0, 0, transmit);
}

/* ---- choices: If, Switch; the DAG ------------------------------------------------------ */

static store_state fl_if(step *s, int r)
{
    json_t *sd = step_sdata(s, r);
    const json_t *res_j = json_object_get(sd, "result");
    if (!res_j) {
        kerr e = KERR_INIT;
        json_t *v;
        if (step_prop(s, r, "condition", &v, &e)) {
            step_fail(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        int ok = step_truthy(v);
        json_decref(v);
        json_object_set_new(sd, "result", json_boolean(ok));
        step_sdata_save(s, r);
        step_set_output(s, r, "evaluationResult", json_boolean(ok));
        res_j = json_object_get(sd, "result");
    }
    const elist *list = step_branch(s, r, json_is_true(res_j) ? "then" : "else");
    step_res m = step_walk_seq(s, r, list, s->x->runs[r].value, 0);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_switch(step *s, int r)
{
    json_t *sd = step_sdata(s, r);
    const char *chosen = json_string_value(json_object_get(sd, "branch"));
    if (!chosen) {
        kerr e = KERR_INIT;
        json_t *v;
        if (step_prop(s, r, "value", &v, &e)) {
            step_fail(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        char *text = v ? expr_value_to_text(v) : xstrdup("");
        json_decref(v);
        char *name = xasprintf("cases/%s", text);
        const elist *l = step_branch(s, r, name);
        int dflt = 0;
        if (!l || (!l->n && !json_object_get(json_object_get(step_task(s, r)->json, "cases"), text))) {
            free(name);
            name = xstrdup("defaults");
            dflt = 1;
            l = step_branch(s, r, name);
            if (!l || !json_is_array(json_object_get(step_task(s, r)->json, "defaults"))) {
                step_fail(s, r, "Switch '%s': no case matches the value '%s' and there are no defaults",
                         s->x->runs[r].row.task_id, text);
                free(name);
                free(text);
                return STATE_FAILED;
            }
        }
        json_object_set_new(sd, "branch", json_string(name));
        step_sdata_save(s, r);
        step_set_output(s, r, "value", json_string(text));
        step_set_output(s, r, "defaults", json_boolean(dflt));
        free(name);
        free(text);
        chosen = json_string_value(json_object_get(sd, "branch"));
    }
    step_res m = step_walk_seq(s, r, step_branch(s, r, chosen), s->x->runs[r].value, 0);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_dag(step *s, int r)
{
    const etask *t = step_task(s, r);
    const elist *list = etask_branch(t, "dag");
    kerr e = KERR_INIT;
    int64_t limit;
    if (step_prop_int(s, r, "concurrent", 0, &limit, &e)) {
        step_fail(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    step_res m = {1, STATE_SUCCESS, 0};
    int running = 0;
    store_state bad_state = STATE_SUCCESS;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t c = 0; list && c < list->n; c++) {
            int cr = step_find_run(s, r, list->v[c], 0);
            if (pass == 0) {
                if (cr < 0)
                    continue;
                store_state st = step_resolve(s, cr);
                if (!step_ended(st)) {
                    running++;
                    m.done = 0;
                } else {
                    store_state eff = step_effective(s, cr);
                    if (step_is_bad(eff)) {
                        m.bad = 1;
                        bad_state = step_worst(bad_state, eff);
                    }
                    m.state = step_worst(m.state, eff);
                }
                continue;
            }
            if (cr >= 0)
                continue;
            if (m.bad || s->killing) {
                if (s->killing && !m.bad) {
                    m.bad = 1;
                    bad_state = STATE_KILLED;
                }
                continue;
            }
            /* ready when every dependency ended well */
            int ready = 1;
            for (size_t d = 0; d < t->dag_ndeps[c]; d++) {
                int dr = step_find_run(s, r, t->dag_dep_v[c][d], 0);
                if (dr < 0 || !step_ended(s->x->runs[dr].row.state) || step_is_bad(step_effective(s, dr))) {
                    ready = 0;
                    break;
                }
            }
            if (!ready || (limit > 0 && running >= limit)) {
                m.done = 0;
                continue;
            }
            int nr = step_start_run(s, list->v[c], r, s->x->runs[r].value, 0);
            store_state st = step_resolve(s, nr);
            if (!step_ended(st)) {
                running++;
                m.done = 0;
            } else {
                store_state eff = step_effective(s, nr);
                if (step_is_bad(eff)) {
                    m.bad = 1;
                    bad_state = step_worst(bad_state, eff);
                }
                m.state = step_worst(m.state, eff);
                c = (size_t)-1; /* a new end may make others ready: rescan */
            }
        }
    }
    if (m.bad)
        m.state = bad_state;
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), s->x->runs[r].value, 0);
}

/* ---- waiting: Pause, LoopUntil --------------------------------------------------------- */

static store_state fl_pause(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    json_t *sd = step_sdata(s, r);
    const char *phase = json_string_value(json_object_get(sd, "phase"));
    if (!phase) {
        if (s->killing)
            return STATE_KILLED;
        kerr e = KERR_INIT;
        int64_t delay, timeout;
        const json_t *tj = step_task(s, r)->json;
        if (step_prop_duration(s, r, tj, json_object_get(tj, "pauseDuration") ? "pauseDuration" : "delay", 0, &delay, &e) ||
            step_prop_duration(s, r, tj, "timeout", 0, &timeout, &e)) {
            step_fail(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        json_object_set_new(sd, "phase", json_string("paused"));
        step_sdata_save(s, r);
        step_set_state(s, r, STATE_PAUSED);
        if (delay > 0)
            xactions_push(s->a, "event", run->row.id,
                          json_pack("{s:s,s:s,s:s}", "type", "timer", "run", run->row.id, "what", "pause_delay"),
                          s->now + delay);
        else if (timeout > 0)
            xactions_push(s->a, "event", run->row.id,
                          json_pack("{s:s,s:s,s:s}", "type", "timer", "run", run->row.id, "what", "pause_timeout"),
                          s->now + timeout);
        return STATE_PAUSED;
    }
    if (!strcmp(phase, "paused"))
        return run->row.state;
    /* resumed: the old form runs its tasks after the pause */
    json_t *value = run->value;
    step_res m = step_walk_seq(s, r, step_branch(s, r, "tasks"), value, 0);
    return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), value, 0);
}

static store_state fl_loop_until(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    const json_t *tj = step_task(s, r)->json;
    json_t *sd = step_sdata(s, r);
    int it = (int)json_integer_value(json_object_get(sd, "iteration"));
    if (json_is_true(json_object_get(sd, "waiting")))
        return STATE_RUNNING;
    if (!json_object_get(sd, "start")) {
        json_object_set_new(sd, "start", json_integer(s->now));
        step_sdata_save(s, r);
    }
    /* during iteration it, outputs.<id>.iterationCount is it (0 first) */
    const json_t *ic = run->row.outputs ? json_object_get(run->row.outputs, "iterationCount") : NULL;
    if (!ic || json_integer_value(ic) != it) {
        step_set_output(s, r, "iterationCount", json_integer(it));
        xexec_index_outputs(s->x, r);
    }
    step_res m = step_walk_seq(s, r, step_branch(s, r, "tasks"), run->value, it);
    run = &s->x->runs[r];
    if (!m.done)
        return STATE_RUNNING;
    if (m.bad)
        return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), run->value, it);
    kerr e = KERR_INIT;
    json_t *cv;
    if (step_prop(s, r, "condition", &cv, &e)) {
        step_fail(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    int ok = step_truthy(cv);
    json_decref(cv);
    if (ok) {
        step_set_output(s, r, "iterationCount", json_integer(it + 1));
        xexec_index_outputs(s->x, r);
    }
    if (ok)
        return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), run->value, it);
    const json_t *cf = json_object_get(tj, "checkFrequency");
    int64_t max_it = 100, max_dur = 3600LL * US_PER_SEC, interval = US_PER_SEC;
    if (cf) {
        const json_t *mi = json_object_get(cf, "maxIterations");
        if (json_is_integer(mi))
            max_it = json_integer_value(mi);
        if (step_prop_duration(s, r, cf, "maxDuration", max_dur, &max_dur, &e) ||
            step_prop_duration(s, r, cf, "interval", interval, &interval, &e)) {
            step_fail(s, r, "checkFrequency: %s", e.msg);
            return STATE_FAILED;
        }
    }
    int64_t start = json_integer_value(json_object_get(sd, "start"));
    if (it + 1 >= max_it || s->now - start >= max_dur) {
        const json_t *fom = json_object_get(tj, "failOnMaxReached");
        if (json_is_true(fom) || (json_is_string(fom) && !strcasecmp(json_string_value(fom), "true"))) {
            step_fail(s, r, "condition still false after %d iterations", it + 1);
            return STATE_FAILED;
        }
        return step_block(s, r, m, step_branch(s, r, "errors"), step_branch(s, r, "finally"), run->value, it);
    }
    json_object_set_new(sd, "waiting", json_true());
    step_sdata_save(s, r);
    xactions_push(s->a, "event", run->row.id,
                  json_pack("{s:s,s:s,s:s}", "type", "timer", "run", run->row.id, "what", "loop"), s->now + interval);
    return STATE_RUNNING;
}

/* ---- child executions: Subflow, ForEachItem -------------------------------------------- */

static store_state fl_subflow(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    json_t *sd = step_sdata(s, r);
    if (json_object_get(sd, "child")) {
        if (!json_object_get(sd, "ended"))
            return STATE_RUNNING;
        return (store_state)json_integer_value(json_object_get(sd, "result"));
    }
    if (s->killing)
        return STATE_KILLED;
    const json_t *tj = step_task(s, r)->json;
    kerr e = KERR_INIT;
    json_t *ns = NULL, *fid = NULL, *inputs = NULL, *labels = NULL, *rev = NULL;
    if (step_prop(s, r, "namespace", &ns, &e) || step_prop(s, r, "flowId", &fid, &e) ||
        step_prop(s, r, "inputs", &inputs, &e) || step_prop(s, r, "labels", &labels, &e) ||
        step_prop(s, r, "revision", &rev, &e)) {
        step_fail(s, r, "%s", e.msg);
        json_decref(ns);
        json_decref(fid);
        json_decref(inputs);
        json_decref(labels);
        return STATE_FAILED;
    }
    if (!json_is_string(ns) || !json_is_string(fid) ||
        store_access_flow(s->en->o.store, s->x->row.namespace, PA_EXECUTION_CREATE, json_string_value(ns), &e)) {
        if (e.code)
            step_fail(s, r, "Subflow '%s': %s", run->row.task_id, e.msg);
        else
            step_fail(s, r, "Subflow '%s' needs a namespace and a flowId", run->row.task_id);
        json_decref(ns);
        json_decref(fid);
        json_decref(inputs);
        json_decref(labels);
        json_decref(rev);
        return STATE_FAILED;
    }
    const json_t *wj = json_object_get(tj, "wait");
    int wait = !wj || json_is_true(wj) || (json_is_string(wj) && !strcasecmp(json_string_value(wj), "true"));
    const json_t *inh = json_object_get(tj, "inheritLabels");
    json_t *lab = json_object();
    if (json_is_true(inh) && s->x->row.labels)
        json_object_update(lab, s->x->row.labels);
    if (json_is_object(labels))
        json_object_update(lab, labels);
    else if (json_is_array(labels)) {
        size_t i;
        json_t *l;
        json_array_foreach(labels, i, l) {
            const char *k = json_string_value(json_object_get(l, "key"));
            if (k)
                json_object_set(lab, k, json_object_get(l, "value"));
        }
    }
    json_decref(labels);
    char child[STORE_ID_LEN + 1];
    store_new_id(child);
    if (!s->a->subflows)
        s->a->subflows = json_array();
    json_array_append_new(s->a->subflows,
                          json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:b,s:o}", "id", child, "namespace", ns, "flowId",
                                    fid, "inputs", inputs ? inputs : json_object(), "labels", lab, "parent",
                                    s->x->row.id, "parentRun", run->row.id, "wait", wait, "revision",
                                    rev ? rev : json_integer(0)));
    json_object_set_new(sd, "child", json_string(child));
    step_sdata_save(s, r);
    step_set_output(s, r, "executionId", json_string(child));
    if (!wait) {
        json_object_set_new(sd, "ended", json_true());
        json_object_set_new(sd, "result", json_integer(STATE_SUCCESS));
        return STATE_SUCCESS;
    }
    return STATE_RUNNING;
}

/* ForEachItem: the file of `items` cut into batches (`batch.rows` lines,
 * `batch.bytes`, or `batch.partitions` batches), each stored as a file and given to a
 * subflow execution whose inputs see it as {{ taskrun.items }}. With `wait`
 * the task ends when every child has: FAILED when one failed and
 * `transmitFailed` (default true), else SUCCESS; outputs `numberOfBatches`
 * and `iterations` (children by final state). */
static store_state fl_foreach_item(step *s, int r)
{
    json_t *sd = step_sdata(s, r);
    if (json_object_get(sd, "batches")) {
        size_t total = (size_t)json_integer_value(json_object_get(sd, "batches"));
        if (!json_is_true(json_object_get(sd, "wait")))
            return STATE_SUCCESS;
        const json_t *counts = json_object_get(sd, "ended");
        size_t done = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)counts, k, v) done += (size_t)json_integer_value(v);
        if (done < total)
            return STATE_RUNNING;
        step_set_output(s, r, "iterations", json_deep_copy(counts));
        xexec_index_outputs(s->x, r);
        int bad = json_integer_value(json_object_get(counts, "FAILED")) +
                      json_integer_value(json_object_get(counts, "KILLED")) >
                  0;
        const json_t *tf = json_object_get(step_task(s, r)->json, "transmitFailed");
        int transmit = !tf || json_is_true(tf) || (json_is_string(tf) && !strcasecmp(json_string_value(tf), "true"));
        return bad && transmit ? STATE_FAILED : STATE_SUCCESS;
    }
    if (s->killing)
        return STATE_KILLED;
    kerr e = KERR_INIT;
    char *items = NULL;
    json_t *batch = NULL, *ns = NULL, *fid = NULL;
    if (xexec_render_text(s->en, s->x, r, json_string_value(json_object_get(step_task(s, r)->json, "items")), &items,
                          &e) ||
        step_prop(s, r, "batch", &batch, &e) || step_prop(s, r, "namespace", &ns, &e) ||
        step_prop(s, r, "flowId", &fid, &e)) {
        step_fail(s, r, "%s", e.msg);
        free(items);
        json_decref(batch);
        json_decref(ns);
        json_decref(fid);
        return STATE_FAILED;
    }
    buf data = BUF_INIT;
    store_state result = STATE_RUNNING;
    if (!json_is_string(ns) || !json_is_string(fid)) {
        step_fail(s, r, "ForEachItem '%s' needs a namespace and a flowId", s->x->runs[r].row.task_id);
        result = STATE_FAILED;
        goto out;
    }
    if (store_access_flow(s->en->o.store, s->x->row.namespace, PA_EXECUTION_CREATE, json_string_value(ns), &e)) {
        step_fail(s, r, "ForEachItem '%s': %s", s->x->runs[r].row.task_id, e.msg);
        result = STATE_FAILED;
        goto out;
    }
    if (storage_read_all(s->en->o.storage, items, 1u << 30, &data, &e)) {
        step_fail(s, r, "items: %s", e.msg);
        result = STATE_FAILED;
        goto out;
    }
    /* the rows, as Kestra reads them: lines ended by \n, \r\n or \r */
    size_t nlines = 0, cap = 0;
    size_t *starts = NULL, *lens = NULL;
    const char *p = buf_str(&data), *end = p + data.len;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\n' && *q != '\r')
            q++;
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            starts = xrealloc(starts, cap * sizeof *starts);
            lens = xrealloc(lens, cap * sizeof *lens);
        }
        starts[nlines] = (size_t)(p - buf_str(&data));
        lens[nlines++] = (size_t)(q - p);
        if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n')
            q++;
        p = q < end ? q + 1 : q;
    }
    /* the batches, as Kestra's StorageService.split cuts them: `bytes` (a new
     * batch once one holds that many), else `partitions` (rows dealt round
     * robin, empty ones dropped), else `rows` (default 1); each row is
     * written followed by `separator` (default "\n") */
    const json_t *sj = json_object_get(batch, "separator");
    const char *sep = json_is_string(sj) ? json_string_value(sj) : "\n";
    size_t seplen = strlen(sep);
    long long bytes = 0;
    int64_t rows = 1, parts = 0;
    const json_t *bj = json_object_get(batch, "bytes");
    const json_t *rj = json_object_get(batch, "rows"), *pj = json_object_get(batch, "partitions");
    if (bj && !json_is_null(bj)) {
        if (json_is_integer(bj))
            bytes = json_integer_value(bj);
        else if (!json_is_string(bj) || str_parse_bytes(json_string_value(bj), &bytes))
            bytes = -1;
        if (bytes <= 0) {
            step_fail(s, r, "batch.bytes: '%s' is not a size (e.g. 10MB, 512KB, 1048576)",
                      json_is_string(bj) ? json_string_value(bj) : "?");
            free(starts);
            free(lens);
            result = STATE_FAILED;
            goto out;
        }
    } else if (pj && !json_is_null(pj)) {
        parts = json_is_integer(pj) ? json_integer_value(pj) : atoll(json_string_value(pj) ? json_string_value(pj) : "0");
        if (parts < 1)
            parts = 1;
    } else if (rj && !json_is_null(rj)) {
        rows = json_is_integer(rj) ? json_integer_value(rj) : atoll(json_string_value(rj) ? json_string_value(rj) : "1");
        if (rows < 1)
            rows = 1;
    }
    /* batch_of[i]: the batch of row i */
    size_t *batch_of = xcalloc(nlines ? nlines : 1, sizeof *batch_of);
    size_t nbatches = 0;
    if (parts > 0) {
        nbatches = nlines < (size_t)parts ? nlines : (size_t)parts;
        for (size_t i = 0; i < nlines; i++)
            batch_of[i] = i % (size_t)parts;
    } else {
        size_t in_bytes = 0, in_rows = 0;
        for (size_t i = 0; i < nlines; i++) {
            if (!nbatches || (bytes > 0 ? in_bytes >= (size_t)bytes : in_rows >= (size_t)rows)) {
                nbatches++;
                in_bytes = in_rows = 0;
            }
            batch_of[i] = nbatches - 1;
            in_bytes += lens[i] + seplen;
            in_rows++;
        }
    }
    const json_t *tj = step_task(s, r)->json;
    const json_t *wj = json_object_get(tj, "wait");
    int wait = !wj || json_is_true(wj) || (json_is_string(wj) && !strcasecmp(json_string_value(wj), "true"));
    const json_t *inh = json_object_get(tj, "inheritLabels");
    xrun *run = &s->x->runs[r];
    buf bb = BUF_INIT;
    size_t from = 0; /* the first row of batch b (contiguous batches) */
    for (size_t b = 0; b < nbatches; b++) {
        bb.len = 0;
        size_t i = parts > 0 ? b : from;
        for (; i < nlines && (parts > 0 || batch_of[i] == b); i += parts > 0 ? (size_t)parts : 1) {
            buf_append(&bb, buf_str(&data) + starts[i], lens[i]);
            buf_append(&bb, sep, seplen);
        }
        if (parts <= 0)
            from = i;
        char name[64];
        snprintf(name, sizeof name, "batch-%zu.txt", b + 1);
        char *uri = storage_uri_task_file(s->x->row.namespace, s->x->row.flow_id, s->x->row.id, run->row.task_id,
                                          run->row.id, name, &e);
        if (!uri || storage_put(s->en->o.storage, uri, bb.len ? buf_str(&bb) : "", bb.len, &e)) {
            step_fail(s, r, "batch %zu: %s", b + 1, e.msg);
            free(uri);
            free(starts);
            free(lens);
            free(batch_of);
            buf_free(&bb);
            result = STATE_FAILED;
            goto out;
        }
        json_t *extra = json_pack("{s:s,s:i}", "items", uri, "iteration", (int)b);
        json_t *inputs = NULL;
        const json_t *raw = json_object_get(tj, "inputs");
        if (raw && !(inputs = xexec_render_extra(s->en, s->x, r, extra, raw, &e))) {
            step_fail(s, r, "inputs of batch %zu: %s", b + 1, e.msg);
            json_decref(extra);
            free(uri);
            free(starts);
            free(lens);
            free(batch_of);
            buf_free(&bb);
            result = STATE_FAILED;
            goto out;
        }
        json_decref(extra);
        free(uri);
        json_t *lab = json_object();
        if (json_is_true(inh) && s->x->row.labels)
            json_object_update(lab, s->x->row.labels);
        char child[STORE_ID_LEN + 1];
        store_new_id(child);
        if (!s->a->subflows)
            s->a->subflows = json_array();
        json_array_append_new(s->a->subflows,
                              json_pack("{s:s,s:O,s:O,s:o,s:o,s:s,s:s,s:b,s:i}", "id", child, "namespace", ns,
                                        "flowId", fid, "inputs", inputs ? inputs : json_object(), "labels", lab,
                                        "parent", s->x->row.id, "parentRun", run->row.id, "wait", wait, "revision",
                                        0));
    }
    free(starts);
    free(lens);
    free(batch_of);
    buf_free(&bb);
    json_object_set_new(sd, "batches", json_integer((json_int_t)nbatches));
    json_object_set_new(sd, "wait", json_boolean(wait));
    json_object_set_new(sd, "ended", json_object());
    step_sdata_save(s, r);
    step_set_output(s, r, "numberOfBatches", json_integer((json_int_t)nbatches));
    xexec_index_outputs(s->x, r);
    result = !wait || nbatches == 0 ? STATE_SUCCESS : STATE_RUNNING;
out:
    buf_free(&data);
    free(items);
    json_decref(batch);
    json_decref(ns);
    json_decref(fid);
    return result;
}

/* ---- the table --------------------------------------------------------------------- */

static store_state fl_missing(step *s, int r)
{
    const char *type = step_task(s, r)->ft->type;
    const type_def *d = flow_type_find(type);
    if (d && d->waits)
        step_fail(s, r, "task type '%s' cannot run in kite: %s", type, d->waits);
    else
        step_fail(s, r, "task type '%s' is not supported by this version of kite", type);
    return STATE_FAILED;
}

const flowable flowable_missing = {NULL, 0, fl_missing};

static const flowable flowables[] = {
    {"flow.sequential", 0, fl_sequential},
    {"flow.working_directory", FL_WORKDIR, fl_sequential},
    {"flow.allow_failure", 0, fl_allow_failure},
    {"flow.parallel", 0, fl_parallel},
    {"flow.foreach", FL_LOOP, fl_foreach},
    {"flow.each_sequential", FL_LOOP, fl_each_sequential},
    {"flow.each_parallel", FL_LOOP, fl_each_parallel},
    {"flow.if", 0, fl_if},
    {"flow.switch", 0, fl_switch},
    {"flow.dag", FL_DAG, fl_dag},
    {"flow.pause", FL_PAUSE, fl_pause},
    {"flow.loop_until", 0, fl_loop_until},
    {"flow.subflow", FL_SUBFLOW, fl_subflow},
    {"flow.foreach_item", FL_ITEMS, fl_foreach_item},
    {"flow.loop", FL_LOOP | FL_ITEM, fl_loop},
};

/* By the registry's own answer for each name, so a type and its
 * implementation meet by pointer, never by comparing strings. */
const flowable *flowable_find(const type_def *d)
{
    if (!d)
        return NULL;
    for (size_t i = 0; i < sizeof flowables / sizeof flowables[0]; i++)
        if (flow_type_find(flowables[i].name) == d)
            return &flowables[i];
    return NULL;
}
