/*
 * render.c: rendering a task's property (any JSON value) in the context of
 * a run of an execution, with every host function bound to that run, and
 * the JSON pointer of the string that failed when asked.
 *
 * DESIGN
 * The context comes from model.c (xexec_context), the host functions from
 * host.c; neither calls back here, so the three make no circle. Strings
 * that are not templates are copied, not referenced: the compiled flow's
 * JSON is read by workers of several executions at once (under different
 * locks), so its refcounts must not move.
 */
#include "engine/engine_int.h"
#include "util/mem.h"

#include <string.h>

/* ---- rendering ----------------------------------------------------------------------- */

static void buf_cut(buf *b, size_t n)
{
    b->len = n;
    if (b->data)
        b->data[n] = '\0';
}

/* Renders v; on failure, when at is not NULL, at holds the JSON pointer
 * (inside v) of the string that failed. */
static json_t *render_value(engine *en, const json_t *ctx, const json_t *v, kerr *e, int depth,
                            const expr_func *funcs, size_t nfuncs, buf *at)
{
    if (depth > 64) {
        kerr_set(e, "value nested too deeply to render");
        return NULL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!expr_is_template(s))
            return json_copy((json_t *)v); /* see below */
        expr_env env = {.funcs = funcs, .nfuncs = nfuncs};
        json_t *out;
        if (expr_eval_string(s, ctx, &env, &out, e))
            return NULL;
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        const json_t *it;
        json_array_foreach(v, i, it) {
            size_t mark = at ? at->len : 0;
            if (at)
                buf_printf(at, "/%zu", i);
            json_t *r = render_value(en, ctx, it, e, depth + 1, funcs, nfuncs, at);
            if (!r) {
                json_decref(out);
                return NULL;
            }
            if (at)
                buf_cut(at, mark);
            json_array_append_new(out, r);
        }
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        const json_t *it;
        json_object_foreach((json_t *)v, k, it) {
            size_t mark = at ? at->len : 0;
            if (at)
                json_pointer_append(at, k);
            json_t *r = render_value(en, ctx, it, e, depth + 1, funcs, nfuncs, at);
            if (!r) {
                json_decref(out);
                return NULL;
            }
            if (at)
                buf_cut(at, mark);
            json_object_set_new(out, k, r);
        }
        return out;
    }
    /* a copy, not a reference: v belongs to the compiled flow, which workers
     * of other executions render at the same time (under other locks), so
     * its refcounts must not move (true, false and null are shared anyway) */
    return json_copy((json_t *)v);
}

json_t *xexec_render(engine *en, xexec *x, int r, const json_t *v, kerr *e)
{
    return xexec_render_extra(en, x, r, NULL, v, e);
}

static json_t *render_in(engine *en, xexec *x, int r, const json_t *taskrun_extra, const json_t *v, char **err_path,
                         kerr *e);

json_t *xexec_render_extra(engine *en, xexec *x, int r, const json_t *taskrun_extra, const json_t *v, kerr *e)
{
    return render_in(en, x, r, taskrun_extra, v, NULL, e);
}

json_t *xexec_render_at(engine *en, xexec *x, int r, const json_t *v, char **err_path, kerr *e)
{
    return render_in(en, x, r, NULL, v, err_path, e);
}

/* Does a string of v hold "tasks" (the `tasks` variable is built only for
 * the renders that may read it: it costs a walk over every task run)? */
static int mentions_tasks(const json_t *v)
{
    if (json_is_string(v))
        return strstr(json_string_value(v), "tasks") != NULL;
    size_t i;
    json_t *it;
    if (json_is_array(v)) {
        json_array_foreach(v, i, it)
            if (mentions_tasks(it))
                return 1;
        return 0;
    }
    const char *k;
    json_object_foreach((json_t *)v, k, it)
        if (mentions_tasks(it))
            return 1;
    return 0;
}

/* Kestra's `tasks` variable: tasks.<taskId>.state, and inside loops
 * tasks.<taskId>.<value>.state, for every task run so far. */
static json_t *tasks_var(const xexec *x)
{
    json_t *o = json_object();
    for (size_t i = 0; i < x->nruns; i++) {
        const store_task_run *t = &x->runs[i].row;
        json_t *st = json_pack("{s:s}", "state", store_state_name(t->state));
        if (!t->value) {
            json_t *cur = json_object_get(o, t->task_id);
            if (json_is_object(cur))
                json_object_update(cur, st), json_decref(st);
            else
                json_object_set_new(o, t->task_id, st);
            continue;
        }
        json_t *node = json_object_get(o, t->task_id);
        if (!json_is_object(node)) {
            node = json_object();
            json_object_set_new(o, t->task_id, node);
        }
        json_object_set_new(node, t->value, st);
    }
    return o;
}

static json_t *render_in(engine *en, xexec *x, int r, const json_t *taskrun_extra, const json_t *v, char **err_path,
                         kerr *e)
{
    json_t *ctx = xexec_context(en, x, r);
    if (mentions_tasks(v))
        json_object_set_new(ctx, "tasks", tasks_var(x));
    if (taskrun_extra && json_is_object(json_object_get(ctx, "taskrun")))
        json_object_update(json_object_get(ctx, "taskrun"), (json_t *)taskrun_extra);
    engine_hostctx h = {en, x, r};
    expr_func funcs[ENGINE_HOST_MAX];
    size_t n = engine__host_funcs(&h, funcs);
    buf at = BUF_INIT;
    json_t *out = render_value(en, ctx, v, e, 0, funcs, n, err_path ? &at : NULL);
    json_decref(ctx);
    if (err_path)
        *err_path = out ? NULL : xstrdup(buf_str(&at));
    buf_free(&at);
    return out;
}

int xexec_render_text(engine *en, xexec *x, int r, const char *tmpl, char **out, kerr *e)
{
    json_t *s = json_string(tmpl);
    json_t *v = xexec_render(en, x, r, s, e);
    json_decref(s);
    if (!v)
        return -1;
    *out = json_is_string(v) ? xstrdup(json_string_value(v)) : expr_value_to_text(v);
    json_decref(v);
    return 0;
}
