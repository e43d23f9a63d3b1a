/*
 * log.c: log lines of executions and the masking of secrets in them, and
 * the secret() host function that reveals (and so registers) a secret.
 *
 * DESIGN
 * Every line a task or the executor writes goes through engine_log_line:
 * known secret values are replaced by "******", then the line is appended
 * to the store and handed to the live listener (kite run, SSE). A secret is
 * known once secret() returned it in this process; values shorter than 3
 * characters are not masked (they would mangle every line).
 */
#include "engine/engine_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

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

json_t *engine__fn_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
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
