/*
 * executor.c: the step function: one event applied to an execution in
 * memory, then the execution moved as far as it goes without waiting.
 *
 * Resolution walks the flow from its root every step, as Kestra's executor
 * does: a list of tasks is walked in order and each task's run is found by
 * (parent run, task, iteration); a missing run is started when its turn has
 * come; a flowable run resolves its own children the same way and ends when
 * its block (tasks, then errors when they failed, then finally) has ended.
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

typedef struct step {
    engine *en;
    xexec *x;
    int64_t now;
    xactions *a;
    int killing;
    int changed;
    int depth;
} step;

typedef struct res {
    int done;
    store_state state;  /* aggregated when done */
    int bad;            /* a task failed (or was killed) */
} res;

static store_state resolve_run(step *s, int r);

/* ---- small helpers ------------------------------------------------------------ */

static int ended(store_state st) { return store_state_is_terminated(st); }

static const etask *task_of(step *s, int r) { return &s->x->fl->tasks[s->x->runs[r].task]; }

static int rank(store_state st)
{
    switch (st) {
    case STATE_SUCCESS:
    case STATE_SKIPPED: return 0;
    case STATE_WARNING: return 1;
    case STATE_CANCELLED: return 2;
    case STATE_FAILED: return 3;
    case STATE_KILLED: return 4;
    default: return 0;
    }
}

static store_state worst(store_state a, store_state b) { return rank(b) > rank(a) ? b : a; }

/* The state of run r as its parent counts it. */
static store_state effective(step *s, int r)
{
    const xrun *run = &s->x->runs[r];
    const json_t *t = task_of(s, r)->json;
    store_state st = run->row.state;
    if (st == STATE_SKIPPED)
        return STATE_SUCCESS;
    if (st == STATE_FAILED && json_is_true(json_object_get(t, "allowFailure")))
        st = STATE_WARNING;
    if (st == STATE_WARNING && json_is_true(json_object_get(t, "allowWarning")))
        st = STATE_SUCCESS;
    return st;
}

static int is_bad(store_state st) { return st == STATE_FAILED || st == STATE_KILLED || st == STATE_CANCELLED; }

static void set_state(step *s, int r, store_state st)
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
static void fail_run(step *s, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail_run(step *s, int r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    engine_log_line(s->en, s->x, r, 0, LEVEL_ERROR, msg);
    set_state(s, r, STATE_FAILED);
}

/* Keeps a flowable's bookkeeping in its outputs, so a restart finds it. */
static json_t *sdata(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (!run->state_data)
        run->state_data = json_object();
    return run->state_data;
}

static void sdata_save(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (!run->row.outputs)
        run->row.outputs = json_object();
    json_object_set(run->row.outputs, "_state", run->state_data);
    run->dirty = 1;
}

static void set_outputs(step *s, int r, const char *key, json_t *v)
{
    xrun *run = &s->x->runs[r];
    if (!run->row.outputs)
        run->row.outputs = json_object();
    json_object_set_new(run->row.outputs, key, v);
    run->dirty = 1;
}

/* Kestra's truthiness of a rendered condition. */
static int truthy(const json_t *v)
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
static int render_prop(step *s, int r, const char *name, json_t **out, kerr *e)
{
    *out = NULL;
    const json_t *raw = json_object_get(task_of(s, r)->json, name);
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

static int prop_int(step *s, int r, const char *name, int64_t dflt, int64_t *out, kerr *e)
{
    json_t *v;
    if (render_prop(s, r, name, &v, e))
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

static int prop_duration(step *s, int r, const json_t *obj, const char *name, int64_t dflt, int64_t *out, kerr *e)
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

/* ---- the run index: (parent, task, iteration) -> run --------------------------------- */

static int find_run(step *s, int parent, int task, int iteration)
{
    return xexec_find_run(s->x, parent, task, iteration);
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

static int start_run(step *s, int task, int parent, const json_t *value, int iteration)
{
    xexec *x = s->x;
    const json_t *v = value;
    if (!v && parent >= 0 && x->runs[parent].row.value)
        v = x->runs[parent].value;
    int r = xexec_add_run(x, task, parent, v, iteration, s->now);
    s->changed = 1;
    const etask *t = &x->fl->tasks[task];
    const json_t *runif = json_object_get(t->json, "runIf");
    if (runif && !json_is_null(runif)) {
        kerr e = KERR_INIT;
        json_t *cv = xexec_render(s->en, x, r, runif, &e);
        if (!cv) {
            fail_run(s, r, "runIf: %s", e.msg);
            return r;
        }
        int ok = truthy(cv);
        json_decref(cv);
        if (!ok) {
            set_state(s, r, STATE_SKIPPED);
            return r;
        }
    }
    if (t->kind) {
        set_state(s, r, STATE_RUNNING);
        return r;
    }
    if (!t->hooks) {
        fail_run(s, r, "task type '%s' cannot run in this version of kite", t->ft->type ? t->ft->type : "?");
        return r;
    }
    set_state(s, r, STATE_RUNNING);
    store_task_run_add_attempt(&x->runs[r].row, STATE_RUNNING, s->now, NULL);
    dispatch(s, r, 0);
    return r;
}

/* ---- walking lists -------------------------------------------------------------------- */

/* Tasks of list one after the other, under parent with the given iteration. */
static res walk_seq(step *s, int parent, const elist *list, const json_t *value, int iteration)
{
    res out = {1, STATE_SUCCESS, 0};
    if (!list)
        return out;
    for (size_t i = 0; i < list->n; i++) {
        int r = find_run(s, parent, list->v[i], iteration);
        if (r < 0) {
            if (s->killing) {
                out.state = STATE_KILLED;
                out.bad = 1;
                return out;
            }
            r = start_run(s, list->v[i], parent, value, iteration);
        }
        store_state st = resolve_run(s, r);
        if (!ended(st)) {
            out.done = 0;
            return out;
        }
        store_state eff = effective(s, r);
        if (is_bad(eff)) {
            out.state = eff;
            out.bad = 1;
            return out;
        }
        out.state = worst(out.state, eff);
    }
    return out;
}

/* Tasks of list all at once, at most limit running (0: no limit). A failure
 * stops new starts; the block ends when what started has ended. */
static res walk_par(step *s, int parent, const elist *list, const json_t *value, int iteration, int64_t limit)
{
    res out = {1, STATE_SUCCESS, 0};
    if (!list)
        return out;
    int running = 0;
    store_state bad_state = STATE_SUCCESS;
    for (size_t i = 0; i < list->n; i++) {
        int r = find_run(s, parent, list->v[i], iteration);
        if (r < 0)
            continue;
        store_state st = resolve_run(s, r);
        if (!ended(st)) {
            running++;
            out.done = 0;
            continue;
        }
        store_state eff = effective(s, r);
        if (is_bad(eff)) {
            out.bad = 1;
            bad_state = worst(bad_state, eff);
        }
        out.state = worst(out.state, eff);
    }
    for (size_t i = 0; i < list->n; i++) {
        if (find_run(s, parent, list->v[i], iteration) >= 0)
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
        int r = start_run(s, list->v[i], parent, value, iteration);
        store_state st = resolve_run(s, r);
        if (!ended(st)) {
            running++;
            out.done = 0;
            continue;
        }
        store_state eff = effective(s, r);
        if (is_bad(eff)) {
            out.bad = 1;
            bad_state = worst(bad_state, eff);
        }
        out.state = worst(out.state, eff);
    }
    if (out.bad)
        out.state = bad_state;
    return out;
}

/* The end of a block: errors when the tasks failed, then finally. Returns
 * RUNNING while something is left to run. */
static store_state block(step *s, int parent, res main, const elist *errors, const elist *fin,
                         const json_t *value, int iteration)
{
    if (!main.done)
        return STATE_RUNNING;
    store_state st = main.state;
    if (main.bad && errors && errors->n && main.state != STATE_KILLED) {
        int saved = s->killing;
        res e = walk_seq(s, parent, errors, value, iteration);
        s->killing = saved;
        if (!e.done)
            return STATE_RUNNING;
    }
    if (fin && fin->n) {
        res f = walk_seq(s, parent, fin, value, iteration);
        if (!f.done)
            return STATE_RUNNING;
        if (f.bad)
            st = worst(st, STATE_FAILED);
        else
            st = worst(st, f.state);
    }
    return st;
}

static const elist *branch(step *s, int r, const char *name)
{
    return etask_branch(task_of(s, r), name);
}

/* ---- flowables ----------------------------------------------------------------------- */

/* Note for every flowable: walking a list may add runs, which moves
 * x->runs: never keep an xrun pointer across a walk; the json_t values it
 * holds stay put. */
static store_state fl_sequential(step *s, int r)
{
    json_t *value = s->x->runs[r].value;
    res m = walk_seq(s, r, branch(s, r, "tasks"), value, 0);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), value, 0);
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
    if (prop_int(s, r, "concurrent", 0, &limit, &e)) {
        fail_run(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    json_t *value = s->x->runs[r].value;
    res m = walk_par(s, r, branch(s, r, "tasks"), value, 0, limit);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), value, 0);
}

/* The list of loop values, rendered once and kept. NULL + failure. */
static const json_t *loop_values(step *s, int r)
{
    json_t *sd = sdata(s, r);
    const json_t *vals = json_object_get(sd, "values");
    if (vals)
        return vals;
    const char *prop = json_object_get(task_of(s, r)->json, "values") ? "values" : "value";
    kerr e = KERR_INIT;
    json_t *v;
    if (render_prop(s, r, prop, &v, &e)) {
        fail_run(s, r, "%s", e.msg);
        return NULL;
    }
    if (json_is_string(v)) {
        json_error_t je;
        json_t *p = json_loads(json_string_value(v), JSON_DECODE_ANY, &je);
        if (!json_is_array(p)) {
            fail_run(s, r, "property '%s': '%s' is not a list (a JSON array such as [\"a\", \"b\"])", prop,
                     json_string_value(v));
            json_decref(p);
            json_decref(v);
            return NULL;
        }
        json_decref(v);
        v = p;
    }
    if (!json_is_array(v)) {
        fail_run(s, r, "property '%s' must be a list", prop);
        json_decref(v);
        return NULL;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (json_is_null(it)) {
            fail_run(s, r, "property '%s': item %zu is null", prop, i);
            json_decref(v);
            return NULL;
        }
    }
    json_object_set_new(sd, "values", v);
    sdata_save(s, r);
    return v;
}

static store_state fl_foreach(step *s, int r)
{
    const etask *t = task_of(s, r);
    const json_t *vals = loop_values(s, r);
    if (!vals)
        return STATE_FAILED;
    int64_t limit = 1;
    int par_tasks = 0;
    kerr e = KERR_INIT;
    if (!strcmp(t->kind, "flow.foreach")) {
        if (prop_int(s, r, "concurrencyLimit", 1, &limit, &e)) {
            fail_run(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
    } else if (!strcmp(t->kind, "flow.each_parallel")) {
        if (prop_int(s, r, "concurrent", 0, &limit, &e)) {
            fail_run(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        par_tasks = 1;
    }
    const elist *tasks = branch(s, r, "tasks");
    size_t n = json_array_size(vals);
    size_t lo = s->x->runs[r].lo;
    res m = {1, STATE_SUCCESS, 0};
    if (lo)
        m.state = s->x->runs[r].agg;
    int running = 0;
    size_t new_lo = lo;
    int prefix_done = 1;
    for (size_t i = lo; i < n; i++) {
        const json_t *v = json_array_get(vals, i);
        int started = tasks && tasks->n && find_run(s, r, tasks->v[0], (int)i) >= 0;
        if (!started) {
            if (m.bad || s->killing || (limit > 0 && running >= limit)) {
                if (s->killing && !m.bad) {
                    m.bad = 1;
                    m.state = STATE_KILLED;
                }
                if (!m.bad)
                    m.done = 0;
                prefix_done = 0;
                continue;
            }
        }
        res it = par_tasks ? walk_par(s, r, tasks, v, (int)i, 0) : walk_seq(s, r, tasks, v, (int)i);
        if (!it.done) {
            running++;
            m.done = 0;
            prefix_done = 0;
            continue;
        }
        if (it.bad) {
            m.bad = 1;
            m.state = worst(m.state, it.state);
        } else {
            m.state = worst(m.state, it.state);
        }
        if (prefix_done && !it.bad)
            new_lo = i + 1;
    }
    if (m.bad && !m.done) {
        /* wait for what runs; nothing new starts */
    }
    if (new_lo != lo && !m.bad) {
        /* a prefix of iterations ended well: the next steps start after it */
        s->x->runs[r].lo = new_lo;
        s->x->runs[r].agg = m.state;
    }
    if (m.bad && m.state != STATE_KILLED)
        m.state = worst(m.state, STATE_FAILED);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_if(step *s, int r)
{
    json_t *sd = sdata(s, r);
    const json_t *res_j = json_object_get(sd, "result");
    if (!res_j) {
        kerr e = KERR_INIT;
        json_t *v;
        if (render_prop(s, r, "condition", &v, &e)) {
            fail_run(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        int ok = truthy(v);
        json_decref(v);
        json_object_set_new(sd, "result", json_boolean(ok));
        sdata_save(s, r);
        set_outputs(s, r, "evaluationResult", json_boolean(ok));
        res_j = json_object_get(sd, "result");
    }
    const elist *list = branch(s, r, json_is_true(res_j) ? "then" : "else");
    res m = walk_seq(s, r, list, s->x->runs[r].value, 0);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_switch(step *s, int r)
{
    json_t *sd = sdata(s, r);
    const char *chosen = json_string_value(json_object_get(sd, "branch"));
    if (!chosen) {
        kerr e = KERR_INIT;
        json_t *v;
        if (render_prop(s, r, "value", &v, &e)) {
            fail_run(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        char *text = v ? expr_value_to_text(v) : xstrdup("");
        json_decref(v);
        char *name = xasprintf("cases/%s", text);
        const elist *l = branch(s, r, name);
        int dflt = 0;
        if (!l || (!l->n && !json_object_get(json_object_get(task_of(s, r)->json, "cases"), text))) {
            free(name);
            name = xstrdup("defaults");
            dflt = 1;
            l = branch(s, r, name);
            if (!l || !json_is_array(json_object_get(task_of(s, r)->json, "defaults"))) {
                fail_run(s, r, "Switch '%s': no case matches the value '%s' and there are no defaults",
                         s->x->runs[r].row.task_id, text);
                free(name);
                free(text);
                return STATE_FAILED;
            }
        }
        json_object_set_new(sd, "branch", json_string(name));
        sdata_save(s, r);
        set_outputs(s, r, "value", json_string(text));
        set_outputs(s, r, "defaults", json_boolean(dflt));
        free(name);
        free(text);
        chosen = json_string_value(json_object_get(sd, "branch"));
    }
    res m = walk_seq(s, r, branch(s, r, chosen), s->x->runs[r].value, 0);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_dag(step *s, int r)
{
    const etask *t = task_of(s, r);
    const elist *list = etask_branch(t, "dag");
    kerr e = KERR_INIT;
    int64_t limit;
    if (prop_int(s, r, "concurrent", 0, &limit, &e)) {
        fail_run(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    res m = {1, STATE_SUCCESS, 0};
    int running = 0;
    store_state bad_state = STATE_SUCCESS;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t c = 0; list && c < list->n; c++) {
            int cr = find_run(s, r, list->v[c], 0);
            if (pass == 0) {
                if (cr < 0)
                    continue;
                store_state st = resolve_run(s, cr);
                if (!ended(st)) {
                    running++;
                    m.done = 0;
                } else {
                    store_state eff = effective(s, cr);
                    if (is_bad(eff)) {
                        m.bad = 1;
                        bad_state = worst(bad_state, eff);
                    }
                    m.state = worst(m.state, eff);
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
                int dr = find_run(s, r, t->dag_dep_v[c][d], 0);
                if (dr < 0 || !ended(s->x->runs[dr].row.state) || is_bad(effective(s, dr))) {
                    ready = 0;
                    break;
                }
            }
            if (!ready || (limit > 0 && running >= limit)) {
                m.done = 0;
                continue;
            }
            int nr = start_run(s, list->v[c], r, s->x->runs[r].value, 0);
            store_state st = resolve_run(s, nr);
            if (!ended(st)) {
                running++;
                m.done = 0;
            } else {
                store_state eff = effective(s, nr);
                if (is_bad(eff)) {
                    m.bad = 1;
                    bad_state = worst(bad_state, eff);
                }
                m.state = worst(m.state, eff);
                c = (size_t)-1; /* a new end may make others ready: rescan */
            }
        }
    }
    if (m.bad)
        m.state = bad_state;
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), s->x->runs[r].value, 0);
}

static store_state fl_pause(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    json_t *sd = sdata(s, r);
    const char *phase = json_string_value(json_object_get(sd, "phase"));
    if (!phase) {
        if (s->killing)
            return STATE_KILLED;
        kerr e = KERR_INIT;
        int64_t delay, timeout;
        const json_t *tj = task_of(s, r)->json;
        if (prop_duration(s, r, tj, json_object_get(tj, "pauseDuration") ? "pauseDuration" : "delay", 0, &delay, &e) ||
            prop_duration(s, r, tj, "timeout", 0, &timeout, &e)) {
            fail_run(s, r, "%s", e.msg);
            return STATE_FAILED;
        }
        json_object_set_new(sd, "phase", json_string("paused"));
        sdata_save(s, r);
        set_state(s, r, STATE_PAUSED);
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
    res m = walk_seq(s, r, branch(s, r, "tasks"), value, 0);
    return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), value, 0);
}

static store_state fl_loop_until(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    const json_t *tj = task_of(s, r)->json;
    json_t *sd = sdata(s, r);
    int it = (int)json_integer_value(json_object_get(sd, "iteration"));
    if (json_is_true(json_object_get(sd, "waiting")))
        return STATE_RUNNING;
    if (!json_object_get(sd, "start")) {
        json_object_set_new(sd, "start", json_integer(s->now));
        sdata_save(s, r);
    }
    /* during iteration it, outputs.<id>.iterationCount is it (0 first) */
    const json_t *ic = run->row.outputs ? json_object_get(run->row.outputs, "iterationCount") : NULL;
    if (!ic || json_integer_value(ic) != it) {
        set_outputs(s, r, "iterationCount", json_integer(it));
        xexec_index_outputs(s->x, r);
    }
    res m = walk_seq(s, r, branch(s, r, "tasks"), run->value, it);
    run = &s->x->runs[r];
    if (!m.done)
        return STATE_RUNNING;
    if (m.bad)
        return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), run->value, it);
    kerr e = KERR_INIT;
    json_t *cv;
    if (render_prop(s, r, "condition", &cv, &e)) {
        fail_run(s, r, "%s", e.msg);
        return STATE_FAILED;
    }
    int ok = truthy(cv);
    json_decref(cv);
    if (ok) {
        set_outputs(s, r, "iterationCount", json_integer(it + 1));
        xexec_index_outputs(s->x, r);
    }
    if (ok)
        return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), run->value, it);
    const json_t *cf = json_object_get(tj, "checkFrequency");
    int64_t max_it = 100, max_dur = 3600LL * US_PER_SEC, interval = US_PER_SEC;
    if (cf) {
        const json_t *mi = json_object_get(cf, "maxIterations");
        if (json_is_integer(mi))
            max_it = json_integer_value(mi);
        if (prop_duration(s, r, cf, "maxDuration", max_dur, &max_dur, &e) ||
            prop_duration(s, r, cf, "interval", interval, &interval, &e)) {
            fail_run(s, r, "checkFrequency: %s", e.msg);
            return STATE_FAILED;
        }
    }
    int64_t start = json_integer_value(json_object_get(sd, "start"));
    if (it + 1 >= max_it || s->now - start >= max_dur) {
        const json_t *fom = json_object_get(tj, "failOnMaxReached");
        if (json_is_true(fom) || (json_is_string(fom) && !strcasecmp(json_string_value(fom), "true"))) {
            fail_run(s, r, "condition still false after %d iterations", it + 1);
            return STATE_FAILED;
        }
        return block(s, r, m, branch(s, r, "errors"), branch(s, r, "finally"), run->value, it);
    }
    json_object_set_new(sd, "waiting", json_true());
    sdata_save(s, r);
    xactions_push(s->a, "event", run->row.id,
                  json_pack("{s:s,s:s,s:s}", "type", "timer", "run", run->row.id, "what", "loop"), s->now + interval);
    return STATE_RUNNING;
}

static store_state fl_subflow(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    json_t *sd = sdata(s, r);
    if (json_object_get(sd, "child")) {
        if (!json_object_get(sd, "ended"))
            return STATE_RUNNING;
        return (store_state)json_integer_value(json_object_get(sd, "result"));
    }
    if (s->killing)
        return STATE_KILLED;
    const json_t *tj = task_of(s, r)->json;
    kerr e = KERR_INIT;
    json_t *ns = NULL, *fid = NULL, *inputs = NULL, *labels = NULL, *rev = NULL;
    if (render_prop(s, r, "namespace", &ns, &e) || render_prop(s, r, "flowId", &fid, &e) ||
        render_prop(s, r, "inputs", &inputs, &e) || render_prop(s, r, "labels", &labels, &e) ||
        render_prop(s, r, "revision", &rev, &e)) {
        fail_run(s, r, "%s", e.msg);
        json_decref(ns);
        json_decref(fid);
        json_decref(inputs);
        json_decref(labels);
        return STATE_FAILED;
    }
    if (!json_is_string(ns) || !json_is_string(fid)) {
        fail_run(s, r, "Subflow '%s' needs a namespace and a flowId", run->row.task_id);
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
    sdata_save(s, r);
    set_outputs(s, r, "executionId", json_string(child));
    if (!wait) {
        json_object_set_new(sd, "ended", json_true());
        json_object_set_new(sd, "result", json_integer(STATE_SUCCESS));
        return STATE_SUCCESS;
    }
    return STATE_RUNNING;
}

/* ForEachItem: the file of `items` cut into batches of `batch.rows` lines
 * (or `batch.partitions` batches), each stored as a file and given to a
 * subflow execution whose inputs see it as {{ taskrun.items }}. With `wait`
 * the task ends when every child has: FAILED when one failed and
 * `transmitFailed` (default true), else SUCCESS; outputs `numberOfBatches`
 * and `iterations` (children by final state). */
static store_state fl_foreach_item(step *s, int r)
{
    json_t *sd = sdata(s, r);
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
        set_outputs(s, r, "iterations", json_deep_copy(counts));
        xexec_index_outputs(s->x, r);
        int bad = json_integer_value(json_object_get(counts, "FAILED")) +
                      json_integer_value(json_object_get(counts, "KILLED")) >
                  0;
        const json_t *tf = json_object_get(task_of(s, r)->json, "transmitFailed");
        int transmit = !tf || json_is_true(tf) || (json_is_string(tf) && !strcasecmp(json_string_value(tf), "true"));
        return bad && transmit ? STATE_FAILED : STATE_SUCCESS;
    }
    if (s->killing)
        return STATE_KILLED;
    kerr e = KERR_INIT;
    char *items = NULL;
    json_t *batch = NULL, *ns = NULL, *fid = NULL;
    if (xexec_render_text(s->en, s->x, r, json_string_value(json_object_get(task_of(s, r)->json, "items")), &items,
                          &e) ||
        render_prop(s, r, "batch", &batch, &e) || render_prop(s, r, "namespace", &ns, &e) ||
        render_prop(s, r, "flowId", &fid, &e)) {
        fail_run(s, r, "%s", e.msg);
        free(items);
        json_decref(batch);
        json_decref(ns);
        json_decref(fid);
        return STATE_FAILED;
    }
    buf data = BUF_INIT;
    store_state result = STATE_RUNNING;
    if (!json_is_string(ns) || !json_is_string(fid)) {
        fail_run(s, r, "ForEachItem '%s' needs a namespace and a flowId", s->x->runs[r].row.task_id);
        result = STATE_FAILED;
        goto out;
    }
    if (storage_read_all(s->en->o.storage, items, 1u << 30, &data, &e)) {
        fail_run(s, r, "items: %s", e.msg);
        result = STATE_FAILED;
        goto out;
    }
    /* the lines */
    size_t nlines = 0, cap = 0;
    size_t *starts = NULL, *lens = NULL;
    const char *p = buf_str(&data), *end = p + data.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            starts = xrealloc(starts, cap * sizeof *starts);
            lens = xrealloc(lens, cap * sizeof *lens);
        }
        starts[nlines] = (size_t)(p - buf_str(&data));
        lens[nlines++] = len + (nl ? 1 : 0);
        p += len + (nl ? 1 : 0);
    }
    int64_t rows = 1, parts = 0;
    const json_t *rj = json_object_get(batch, "rows"), *pj = json_object_get(batch, "partitions");
    if (rj)
        rows = json_is_integer(rj) ? json_integer_value(rj) : atoll(json_string_value(rj) ? json_string_value(rj) : "1");
    if (pj)
        parts = json_is_integer(pj) ? json_integer_value(pj) : atoll(json_string_value(pj) ? json_string_value(pj) : "0");
    if (parts > 0)
        rows = (int64_t)((nlines + (size_t)parts - 1) / (size_t)parts);
    if (rows < 1)
        rows = 1;
    size_t nbatches = nlines ? (nlines + (size_t)rows - 1) / (size_t)rows : 0;
    const json_t *tj = task_of(s, r)->json;
    const json_t *wj = json_object_get(tj, "wait");
    int wait = !wj || json_is_true(wj) || (json_is_string(wj) && !strcasecmp(json_string_value(wj), "true"));
    const json_t *inh = json_object_get(tj, "inheritLabels");
    xrun *run = &s->x->runs[r];
    for (size_t b = 0; b < nbatches; b++) {
        size_t first = b * (size_t)rows, last = first + (size_t)rows;
        if (last > nlines)
            last = nlines;
        char name[64];
        snprintf(name, sizeof name, "batch-%zu.txt", b + 1);
        char *uri = storage_uri_task_file(s->x->row.namespace, s->x->row.flow_id, s->x->row.id, run->row.task_id,
                                          run->row.id, name, &e);
        if (!uri || storage_put(s->en->o.storage, uri, buf_str(&data) + starts[first],
                                starts[last - 1] + lens[last - 1] - starts[first], &e)) {
            fail_run(s, r, "batch %zu: %s", b + 1, e.msg);
            free(uri);
            free(starts);
            free(lens);
            result = STATE_FAILED;
            goto out;
        }
        json_t *extra = json_pack("{s:s,s:i}", "items", uri, "iteration", (int)b);
        json_t *inputs = NULL;
        const json_t *raw = json_object_get(tj, "inputs");
        if (raw && !(inputs = xexec_render_extra(s->en, s->x, r, extra, raw, &e))) {
            fail_run(s, r, "inputs of batch %zu: %s", b + 1, e.msg);
            json_decref(extra);
            free(uri);
            free(starts);
            free(lens);
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
    json_object_set_new(sd, "batches", json_integer((json_int_t)nbatches));
    json_object_set_new(sd, "wait", json_boolean(wait));
    json_object_set_new(sd, "ended", json_object());
    sdata_save(s, r);
    set_outputs(s, r, "numberOfBatches", json_integer((json_int_t)nbatches));
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

static store_state fl_unsupported(step *s, int r)
{
    fail_run(s, r, "task type '%s' is not supported by this version of kite", task_of(s, r)->ft->type);
    return STATE_FAILED;
}

typedef struct flowable_impl {
    const char *name;
    store_state (*resolve)(step *s, int r);
} flowable_impl;

static const flowable_impl flowables[] = {
    {"flow.sequential", fl_sequential},
    {"flow.working_directory", fl_sequential},
    {"flow.allow_failure", fl_allow_failure},
    {"flow.parallel", fl_parallel},
    {"flow.foreach", fl_foreach},
    {"flow.each_sequential", fl_foreach},
    {"flow.each_parallel", fl_foreach},
    {"flow.if", fl_if},
    {"flow.switch", fl_switch},
    {"flow.dag", fl_dag},
    {"flow.pause", fl_pause},
    {"flow.loop_until", fl_loop_until},
    {"flow.subflow", fl_subflow},
    {"flow.foreach_item", fl_foreach_item},
};

static store_state resolve_run(step *s, int r)
{
    xrun *run = &s->x->runs[r];
    if (ended(run->row.state))
        return run->row.state;
    const etask *t = task_of(s, r);
    if (!t->kind)
        return run->row.state;
    if (++s->depth > 200) {
        s->depth--;
        fail_run(s, r, "flowables nested too deeply");
        return STATE_FAILED;
    }
    store_state (*fn)(step *, int) = fl_unsupported;
    for (size_t i = 0; i < sizeof flowables / sizeof flowables[0]; i++)
        if (!strcmp(flowables[i].name, t->kind)) {
            fn = flowables[i].resolve;
            break;
        }
    store_state st = fn(s, r);
    s->depth--;
    run = &s->x->runs[r]; /* runs may have moved */
    if (st != run->row.state && (ended(st) || st == STATE_PAUSED || st == STATE_RUNNING))
        set_state(s, r, st);
    return s->x->runs[r].row.state;
}

/* ---- applying events ------------------------------------------------------------------- */

static int run_by_id(xexec *x, const char *id) { return xexec_run_by_id(x, id); }

/* The delay before attempt n+1 of a task with retry policy p (attempts made: n). */
static int retry_delay(step *s, int r, const json_t *p, int n, int64_t *delay, kerr *e)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    int64_t interval = 0, maxi = 0, mini = 0;
    if (prop_duration(s, r, p, "interval", 0, &interval, e) || prop_duration(s, r, p, "maxInterval", 0, &maxi, e) ||
        prop_duration(s, r, p, "minInterval", 0, &mini, e))
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

static void apply_result(step *s, const xevent *ev)
{
    xexec *x = s->x;
    int r = run_by_id(x, ev->taskrun_id);
    if (r < 0)
        return;
    xrun *run = &x->runs[r];
    int attempt = (int)json_integer_value(json_object_get(ev->data, "attempt"));
    if (ended(run->row.state) || attempt != (int)run->row.n_attempts)
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
    run->dirty = 1;
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
    if (st == STATE_FAILED && !s->killing) {
        const json_t *p = json_object_get(task_of(s, r)->json, "retry");
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
            prop_duration(s, r, p, "maxDuration", 0, &max_dur, &e);
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
                set_state(s, r, STATE_RETRYING);
                store_task_run_add_attempt(&x->runs[r].row, STATE_CREATED, 0, NULL);
                set_state(s, r, STATE_RUNNING);
                dispatch(s, r, delay > 0 ? s->now + delay : 0);
                return;
            }
        }
    }
    if (st == STATE_SUCCESS && run->row.n_attempts > 1) {
        const json_t *p = json_object_get(task_of(s, r)->json, "retry");
        if (json_is_true(json_object_get(p, "warningOnRetry")))
            st = STATE_WARNING;
    }
    const json_t *exit_state = json_object_get(ev->data, "exit_state");
    store_state es;
    if (json_is_string(exit_state) && !store_state_parse(json_string_value(exit_state), &es)) {
        /* Exit: the execution ends in that state; what runs is stopped,
         * nothing new starts, and the Exit task itself takes the state */
        set_state(s, r, es);
        if (!x->row.variables)
            x->row.variables = json_object();
        json_object_set_new(x->row.variables, "_exit", json_integer(es));
        store_execution_set_state(&x->row, STATE_KILLING, s->now);
        x->dirty = 1;
        s->killing = 1;
        cancel_running(s);
        return;
    }
    set_state(s, r, st);
}

static void cancel_running(step *s)
{
    xexec *x = s->x;
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
        if (ended(run->row.state))
            continue;
        const etask *t = &x->fl->tasks[run->task];
        if (!t->kind) {
            if (run->dispatched && run->row.n_attempts &&
                run->row.attempts[run->row.n_attempts - 1].state == STATE_RUNNING) {
                /* the worker stops it and reports KILLED */
                s->a->cancel_runs = xrealloc(s->a->cancel_runs, (s->a->ncancel + 1) * sizeof(char *));
                s->a->cancel_runs[s->a->ncancel++] = xstrdup(run->row.id);
                set_state(s, (int)i, STATE_KILLING);
            } else {
                set_state(s, (int)i, STATE_KILLED);
            }
        } else if (!strcmp(t->kind, "flow.pause") && run->row.state == STATE_PAUSED) {
            set_state(s, (int)i, STATE_KILLED);
        } else if (!strcmp(t->kind, "flow.subflow")) {
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
        set_state(s, (int)i, STATE_RESTARTED);
        const etask *t = &x->fl->tasks[run->task];
        if (t->kind) {
            set_state(s, (int)i, STATE_RUNNING);
            json_t *sd = sdata(s, (int)i);
            json_object_del(sd, "result");
            json_object_del(sd, "branch");
            run->lo = 0;
            sdata_save(s, (int)i);
        }
    }
    for (size_t i = 0; i < x->nruns; i++) {
        xrun *run = &x->runs[i];
        const etask *t = &x->fl->tasks[run->task];
        if (run->row.state == STATE_RESTARTED && !t->kind) {
            store_task_run_add_attempt(&run->row, STATE_RUNNING, s->now, NULL);
            set_state(s, (int)i, STATE_RUNNING);
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
        int r = run_by_id(x, ev->taskrun_id);
        if (r < 0 || ended(x->runs[r].row.state))
            break;
        const char *what = json_string_value(json_object_get(ev->data, "what"));
        json_t *sd = sdata(s, r);
        if (what && !strcmp(what, "pause_delay") && x->runs[r].row.state == STATE_PAUSED) {
            json_object_set_new(sd, "phase", json_string("resumed"));
            sdata_save(s, r);
            set_state(s, r, STATE_RUNNING);
        } else if (what && !strcmp(what, "pause_timeout") && x->runs[r].row.state == STATE_PAUSED) {
            json_object_set_new(sd, "phase", json_string("timeout"));
            sdata_save(s, r);
            const char *beh = json_string_value(json_object_get(task_of(s, r)->json, "behavior"));
            if (beh && !strcasecmp(beh, "RESUME")) {
                set_state(s, r, STATE_RUNNING);
                json_object_set_new(sd, "phase", json_string("resumed"));
            } else if (beh && !strcasecmp(beh, "WARN")) {
                set_state(s, r, STATE_WARNING);
            } else if (beh && !strcasecmp(beh, "CANCEL")) {
                set_state(s, r, STATE_CANCELLED);
            } else {
                fail_run(s, r, "Pause '%s' timed out", x->runs[r].row.task_id);
            }
        } else if (what && !strcmp(what, "loop")) {
            json_object_set_new(sd, "waiting", json_false());
            json_object_set_new(sd, "iteration", json_integer(json_integer_value(json_object_get(sd, "iteration")) + 1));
            sdata_save(s, r);
            s->changed = 1;
        }
        break;
    }
    case XEV_KILL:
        if (!ended(x->row.state)) {
            store_execution_set_state(&x->row, STATE_KILLING, s->now);
            x->dirty = 1;
            s->killing = 1;
            cancel_running(s);
        }
        break;
    case XEV_RESUME:
        if (x->row.state != STATE_PAUSED)
            break;
        for (size_t i = 0; i < x->nruns; i++) {
            xrun *run = &x->runs[i];
            if (run->row.state != STATE_PAUSED)
                continue;
            json_t *sd = sdata(s, (int)i);
            json_object_set_new(sd, "phase", json_string("resumed"));
            sdata_save(s, (int)i);
            const json_t *inputs = json_object_get(ev->data, "inputs");
            if (json_is_object(inputs) && json_object_size(inputs)) {
                if (!run->row.outputs)
                    run->row.outputs = json_object();
                json_object_update(run->row.outputs, (json_t *)inputs);
                xexec_index_outputs(x, (int)i);
            }
            set_state(s, (int)i, STATE_RUNNING);
        }
        store_execution_set_state(&x->row, STATE_RUNNING, s->now);
        x->dirty = 1;
        break;
    case XEV_CHILD_END: {
        int r = run_by_id(x, ev->taskrun_id);
        if (r < 0 || ended(x->runs[r].row.state))
            break;
        json_t *sd = sdata(s, r);
        if (!strcmp(task_of(s, r)->kind ? task_of(s, r)->kind : "", "flow.foreach_item")) {
            /* one more batch ended: count it by its state */
            const char *sname = json_string_value(json_object_get(ev->data, "state"));
            json_t *counts = json_object_get(sd, "ended");
            if (!counts) {
                counts = json_object();
                json_object_set_new(sd, "ended", counts);
            }
            const char *key = sname ? sname : "FAILED";
            json_object_set_new(counts, key, json_integer(json_integer_value(json_object_get(counts, key)) + 1));
            sdata_save(s, r);
            s->changed = 1;
            break;
        }
        store_state cst = STATE_FAILED;
        const char *sname = json_string_value(json_object_get(ev->data, "state"));
        if (sname)
            store_state_parse(sname, &cst);
        const json_t *tj = task_of(s, r)->json;
        const json_t *tf = json_object_get(tj, "transmitFailed");
        /* Subflow's transmitFailed defaults to true; the old Flow task's to false */
        const char *ty = task_of(s, r)->ft->type;
        int transmit = tf ? (json_is_true(tf) || (json_is_string(tf) && !strcasecmp(json_string_value(tf), "true")))
                          : !(ty && str_ends_with(ty, "flows.Flow"));
        store_state mine = cst;
        if (is_bad(cst) && !transmit)
            mine = STATE_SUCCESS;
        json_object_set_new(sd, "ended", json_true());
        json_object_set_new(sd, "result", json_integer(mine));
        sdata_save(s, r);
        set_outputs(s, r, "state", json_string(store_state_name(cst)));
        const json_t *co = json_object_get(ev->data, "outputs");
        if (json_is_object(co))
            set_outputs(s, r, "outputs", json_incref((json_t *)co));
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
    res m = walk_seq(s, -1, &fl->root, NULL, 0);
    store_state st = block(s, -1, m, &fl->errors, &fl->finally, NULL, 0);
    if (!ended(st) || !fl->after.n)
        return st;
    /* afterExecution: run once the rest has ended, whatever its state,
     * which they do not change (a kill skips them) */
    int saved = s->killing;
    if (st == STATE_KILLED)
        return st;
    s->killing = 0;
    res a = walk_seq(s, -1, &fl->after, NULL, 0);
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
    if (prop_duration(s, -1, p, "maxDuration", 0, &max_dur, &e) || retry_delay(s, -1, p, attempts, &delay, &e)) {
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
    for (int guard = 0; guard < 1000; guard++) {
        s.changed = 0;
        store_state st = root_state(&s);
        if (ended(st) && st == STATE_FAILED && !s.killing && flow_retry(&s))
            return;
        if (ended(st)) {
            if (s.killing && !(x->row.variables && json_object_get(x->row.variables, "_exit")))
                st = STATE_KILLED;
            end_execution(&s, st);
            return;
        }
        if (!s.changed)
            break;
    }
    /* paused when a Pause waits and nothing else runs */
    int paused = 0, active = 0;
    for (size_t i = 0; i < x->nruns; i++) {
        store_state st = x->runs[i].row.state;
        if (st == STATE_PAUSED)
            paused = 1;
        else if (!ended(st) && !x->fl->tasks[x->runs[i].task].kind)
            active = 1;
    }
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
