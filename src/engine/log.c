/*
 * log.c: log lines of executions, the masking of secrets in them, and the
 * secret() host function (listed in engine/host.c's table), which registers
 * what it reveals.
 *
 * DESIGN
 * Every line a task or the executor writes goes through engine_log_line:
 * known secret values are replaced by "******", then the line is appended
 * to the store and handed to the live listener (kite run, SSE). The values
 * and their encoded forms live in one masker (util/mask.h): every SECRET_*
 * variable is registered when the engine is made, a SECRET input when an
 * execution gets or reloads its inputs, anything secret() returns, and what
 * the secrets store and Vault hand out (engine_secret_register). The server
 * and `kite run --json` mask their answers through engine_mask; values
 * shorter than 3 bytes are not masked (they would mangle every line).
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

/* ---- logs and secrets ------------------------------------------------------------------ */

void engine_add_secret(engine *en, const char *value)
{
    if (value)
        masker_add(en->mask, value, strlen(value));
}

void engine_secret_register(engine *en, const char *value, size_t n)
{
    masker_add(en->mask, value, n);
}

char *engine_mask_secrets(engine *en, const char *msg)
{
    return masker_apply(en->mask, msg, strlen(msg), NULL);
}

char *engine_mask(engine *en, const char *s, size_t n, size_t *out_len)
{
    return masker_apply(en->mask, s, n, out_len);
}

/* The value of a SECRET_<NAME> variable: base64 as Kestra sets it, decoded,
 * without the trailing newline `echo | base64` adds. NULL when not base64. */
static char *decode_env_secret(const char *b64)
{
    json_t *ctx = json_pack("{s:s}", "v", b64);
    char *out = NULL;
    kerr e = KERR_INIT;
    int rc = expr_render_string("{{ v | base64decode }}", ctx, NULL, &out, &e);
    json_decref(ctx);
    if (rc)
        return NULL;
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return out;
}

void engine__register_env_secrets(engine *en)
{
    extern char **environ;
    for (char **ep = environ; ep && *ep; ep++) {
        if (strncmp(*ep, "SECRET_", 7) != 0)
            continue;
        const char *eq = strchr(*ep, '=');
        if (!eq || !eq[1])
            continue;
        char *v = decode_env_secret(eq + 1);
        if (v) {
            engine_add_secret(en, v);
            explicit_bzero(v, strlen(v));
            free(v);
        }
    }
}

void engine_execution_secrets(engine *en, const store_execution *x)
{
    if (!x->inputs || !json_object_size(x->inputs))
        return;
    kerr e = KERR_INIT;
    eflow *fl = engine_flow_get(en, x->namespace, x->flow_id, x->flow_revision, &e);
    if (!fl)
        return;
    engine__register_secret_inputs(en, fl->f, x->inputs);
    engine_flow_release(en, fl);
}

void engine__register_secret_inputs(engine *en, const flow *f, const json_t *inputs)
{
    const json_t *decls = f ? json_object_get(f->doc, "inputs") : NULL;
    size_t i;
    const json_t *d;
    json_array_foreach(decls, i, d) {
        const char *type = json_string_value(json_object_get(d, "type"));
        const char *id = json_string_value(json_object_get(d, "id"));
        if (!type || !id || strcasecmp(type, "SECRET") != 0)
            continue;
        const char *v = json_string_value(json_object_get(inputs, id));
        if (v)
            engine_add_secret(en, v);
    }
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

/* ---- secret(), a host function (engine/host.c's table) ---------------------------------- */

json_t *engine__fn_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *name = json_string_value(json_array_get(args, 0));
    if (!name)
        name = json_string_value(json_object_get(kwargs, "key"));
    if (!name) {
        kerr_set(e, "secret() needs the secret's name");
        return NULL;
    }
    char *out = NULL;
    size_t n = 0;
    if (engine_secret_lookup(h->en, h->x ? h->x->row.namespace : NULL, name, &out, &n, e))
        return NULL;
    json_t *v = json_stringn(out, n);
    explicit_bzero(out, n);
    free(out);
    if (!v)
        kerr_set(e, "secret '%s' is not valid UTF-8 text", name);
    return v;
}
