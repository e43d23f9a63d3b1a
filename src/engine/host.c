/*
 * host.c: the host functions the engine adds to expressions, in ONE table:
 * secret (its code in log.c, beside the masker), kv, read, fileExists,
 * fileSize, errorLogs, currentEachOutput.
 *
 * DESIGN
 * An entry says whether its function needs an execution (kv, read, ...: the
 * execution's namespace, its logs, the run's loop values) or only the engine
 * (secret). Renders of an execution get every entry, bound to an
 * engine_hostctx (model.c, xexec_render); renders without one (the
 * scheduler's trigger conditions and inputs) get the engine's entries
 * through engine_expr_env(). The names and arities are also in the
 * expression layer (expr/host.c) for the flow validator; a unit test keeps
 * the two lists equal.
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* The one of the whole engine (userdata: the engine), secret(), lives with the
 * masker it feeds: engine__fn_secret in log.c. */

/* ---- the ones that need an execution (userdata: engine_hostctx) ------------------------------ */

/* currentEachOutput(outputs.t): t's outputs for the loop iteration the
 * current task runs in (outputs.t[v1][v2]... with its loop values). */
static json_t *fn_current_each_output(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const json_t *v = json_array_get(args, 0);
    if (!v) {
        kerr_set(e, "currentEachOutput() needs the outputs of a task inside a loop, e.g. outputs.my_task");
        return NULL;
    }
    if (h->r < 0)
        return json_incref((json_t *)v);
    const char *chain[32];
    size_t n = xexec_value_chain(h->x, h->r, chain, 32);
    for (size_t i = 0; i < n && json_is_object(v); i++) {
        const json_t *next = json_object_get(v, chain[i]);
        if (!next)
            break;
        v = next;
    }
    return json_incref((json_t *)v);
}

static json_t *fn_error_logs(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    store_log_query q = {.execution_id = h->x->row.id, .min_level = LEVEL_ERROR, .limit = 1000};
    store_log *logs = NULL;
    size_t n = 0;
    if (store_log_search(h->en->o.store, &q, &logs, &n, NULL, e))
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[64];
        datetime_format(logs[i].at_us, tz_utc(), t, sizeof t);
        json_array_append_new(out, json_pack("{s:s?,s:s?,s:s,s:s,s:s,s:s,s:s}", "taskId", logs[i].task_id,
                                             "taskRunId", logs[i].task_run_id, "executionId", logs[i].execution_id,
                                             "namespace", h->x->row.namespace, "flowId", h->x->row.flow_id,
                                             "level", store_level_name(logs[i].level), "message", logs[i].message));
        json_object_set_new(json_array_get(out, json_array_size(out) - 1), "timestamp", json_string(t));
    }
    store_logs_free(logs, n);
    return out;
}

static const char *arg_str(const json_t *args, size_t i, const json_t *kwargs, const char *name)
{
    const char *s = json_string_value(json_array_get(args, i));
    return s ? s : json_string_value(json_object_get(kwargs, name));
}

static json_t *fn_kv(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *key = arg_str(args, 0, kwargs, "key");
    const char *ns = arg_str(args, 1, kwargs, "namespace");
    const json_t *eom = json_object_get(kwargs, "errorOnMissing");
    if (!eom)
        eom = json_array_get(args, 2);
    if (!key) {
        kerr_set(e, "kv() needs a key");
        return NULL;
    }
    if (ns && store_kv_check_namespace(ns, e)) {
        kerr_prefix(e, "kv('%s', '%.*s')", key, STORE_ID_MAX, ns);
        return NULL;
    }
    json_t *v = NULL;
    int rc = store_kv_get(h->en->o.store, ns ? ns : h->x->row.namespace, key, &v, e);
    if (rc == STORE_NOT_FOUND) {
        if (eom && json_is_false(eom)) {
            kerr_clear(e);
            return json_null();
        }
        kerr_set(e, "kv key '%s' not found in namespace %s", key, ns ? ns : h->x->row.namespace);
        return NULL;
    }
    return rc ? NULL : v;
}

static json_t *fn_read(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *uri = arg_str(args, 0, kwargs, "path");
    if (!uri) {
        kerr_set(e, "read() needs a file URI");
        return NULL;
    }
    buf b = BUF_INIT;
    if (storage_read_all(h->en->o.storage, uri, 16u << 20, &b, e)) {
        buf_free(&b);
        return NULL;
    }
    json_t *v = json_stringn(buf_str(&b), b.len);
    buf_free(&b);
    if (!v)
        kerr_set(e, "read('%s'): the file is not UTF-8 text", uri);
    return v;
}

static json_t *fn_file_exists(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *uri = arg_str(args, 0, kwargs, "path");
    if (!uri) {
        kerr_set(e, "fileExists() needs a file URI");
        return NULL;
    }
    int rc = storage_exists(h->en->o.storage, uri, e);
    if (rc < 0)
        return NULL;
    return json_boolean(rc);
}

static json_t *fn_file_size(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *uri = arg_str(args, 0, kwargs, "path");
    if (!uri) {
        kerr_set(e, "fileSize() needs a file URI");
        return NULL;
    }
    int64_t n = storage_size(h->en->o.storage, uri, e);
    return n < 0 ? NULL : json_integer(n);
}

/* ---- the table ------------------------------------------------------------------------------ */

const engine_host engine__hosts[] = {
    {{"secret", 1, 1}, engine__fn_secret, 0},
    {{"kv", 1, 3}, fn_kv, 1},
    {{"read", 1, 1}, fn_read, 1},
    {{"fileExists", 1, 1}, fn_file_exists, 1},
    {{"fileSize", 1, 1}, fn_file_size, 1},
    {{"errorLogs", 0, 0}, fn_error_logs, 1},
    {{"currentEachOutput", 1, 1}, fn_current_each_output, 1},
};

const size_t engine__nhosts = sizeof engine__hosts / sizeof engine__hosts[0];

_Static_assert(sizeof engine__hosts / sizeof engine__hosts[0] <= ENGINE_HOST_MAX, "ENGINE_HOST_MAX is too small");

size_t engine__host_funcs(engine_hostctx *h, expr_func *funcs)
{
    for (size_t i = 0; i < engine__nhosts; i++)
        funcs[i] = (expr_func){engine__hosts[i].sig.name, engine__hosts[i].fn,
                               engine__hosts[i].per_execution ? (void *)h : (void *)h->en};
    return engine__nhosts;
}

void engine__host_init(engine *en)
{
    en->nfuncs = 0;
    for (size_t i = 0; i < engine__nhosts; i++)
        if (!engine__hosts[i].per_execution)
            en->funcs[en->nfuncs++] = (expr_func){engine__hosts[i].sig.name, engine__hosts[i].fn, en};
}

void engine_expr_env(engine *en, expr_env *env)
{
    memset(env, 0, sizeof *env);
    env->funcs = en->funcs;
    env->nfuncs = en->nfuncs;
}
