/*
 * ctx.c: what a running task calls on its task_ctx (see tasks.h): typed
 * property access through the engine's renderer, logs, outputs, metrics;
 * and the helpers the family files share (tasks_int.h): a property as text,
 * Kestra's truthiness of a rendered condition, storing bytes among a task
 * run's files, and temporary files.
 */
#include "tasks/tasks.h"
#include "tasks/tasks_int.h"
#include "expr/expr.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void task_prop_locate(task_ctx *c, const char *name, const char *at, kerr *e)
{
    if (!e)
        return;
    if (e->line > 1) /* a template of several lines: its own position helps */
        kerr_locate(e, NULL);
    if (!c->flow_file || !c->task_path) {
        kerr_prefix(e, "property '%s'", name);
        return;
    }
    kerr_prefix(e, "task '%s': property '%s'", c->task_id ? c->task_id : "?", name);
    buf ptr = BUF_INIT;
    buf_puts(&ptr, c->task_path);
    json_pointer_append(&ptr, name);
    buf_puts(&ptr, at ? at : "");
    const ypos *p = c->flow_pos ? posmap_find(c->flow_pos, buf_str(&ptr)) : NULL;
    buf_free(&ptr);
    e->line = p ? p->line : 0;
    e->col = p ? p->col : 0;
    kerr_locate(e, c->flow_file);
}

int task_prop(task_ctx *c, const char *name, json_t **out, kerr *e)
{
    *out = NULL;
    const json_t *raw = json_object_get(c->task, name);
    if (!raw || json_is_null(raw))
        return 0;
    char *at = NULL;
    json_t *v = c->ops->render(c, raw, &at, e);
    if (!v) {
        task_prop_locate(c, name, at, e);
        free(at);
        return -1;
    }
    if (json_is_null(v)) {
        json_decref(v);
        return 0;
    }
    *out = v;
    return 0;
}

int task_prop_string(task_ctx *c, const char *name, const char *dflt, char **out, kerr *e)
{
    *out = NULL;
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        *out = dflt ? xstrdup(dflt) : NULL;
        return 0;
    }
    if (json_is_string(v)) {
        *out = xstrdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        *out = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v) || json_is_boolean(v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        *out = s ? s : xstrdup("");
    } else {
        /* lists and maps print as JSON, as Kestra prints them */
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        *out = s ? s : xstrdup("");
    }
    json_decref(v);
    return 0;
}

int task_prop_int(task_ctx *c, const char *name, int64_t dflt, int64_t *out, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        *out = dflt;
        return 0;
    }
    int rc = 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
    } else if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        long long n = strtoll(s, &end, 10);
        if (!*s || *end)
            rc = kerr_set(e, "property '%s': '%s' is not an integer", name, s);
        else
            *out = n;
    } else {
        rc = kerr_set(e, "property '%s' must be an integer", name);
    }
    json_decref(v);
    return rc;
}

int task_prop_bool(task_ctx *c, const char *name, int dflt, int *out, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        *out = dflt;
        return 0;
    }
    int rc = 0;
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_string(v) && !strcasecmp(json_string_value(v), "true"))
        *out = 1;
    else if (json_is_string(v) && !strcasecmp(json_string_value(v), "false"))
        *out = 0;
    else
        rc = kerr_set(e, "property '%s' must be true or false", name);
    json_decref(v);
    return rc;
}

int task_prop_duration(task_ctx *c, const char *name, int64_t dflt, int64_t *out, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        *out = dflt;
        return 0;
    }
    int rc = 0;
    if (json_is_number(v)) {
        *out = (int64_t)(json_number_value(v) * 1e6);
    } else if (json_is_string(v)) {
        rc = duration_parse(json_string_value(v), out, e);
        if (rc)
            kerr_prefix(e, "property '%s'", name);
    } else {
        rc = kerr_set(e, "property '%s' must be a duration such as PT30S", name);
    }
    json_decref(v);
    return rc;
}

int task_render_text(task_ctx *c, const char *tmpl, char **out, kerr *e)
{
    json_t *s = json_string(tmpl);
    json_t *v = c->ops->render(c, s, NULL, e);
    json_decref(s);
    if (!v)
        return -1;
    if (json_is_string(v)) {
        *out = xstrdup(json_string_value(v));
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        *out = t ? t : xstrdup("");
    }
    json_decref(v);
    return 0;
}

void task_log(task_ctx *c, store_level level, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof small) {
        c->ops->log(c, level, small);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->ops->log(c, level, big);
    free(big);
}

void task_output(task_ctx *c, const char *key, json_t *value)
{
    if (!c->outputs)
        c->outputs = json_object();
    json_object_set_new(c->outputs, key, value ? value : json_null());
}

void task_metric(task_ctx *c, const char *name, store_metric_type type, double value, json_t *tags)
{
    if (!c->metrics)
        c->metrics = json_array();
    json_t *m = json_pack("{s:s,s:s,s:f}", "name", name, "type", type == METRIC_TIMER ? "timer" : "counter",
                          "value", value);
    if (tags)
        json_object_set_new(m, "tags", tags);
    json_array_append_new(c->metrics, m);
}

int task_cancelled(const task_ctx *c)
{
    if (c->cancel && atomic_load(c->cancel))
        return 1;
    return c->deadline_us && time_mono_us() >= c->deadline_us;
}

void task_secret(task_ctx *c, const char *value)
{
    if (value && *value && c->ops->add_secret)
        c->ops->add_secret(c, value);
}

json_t *tasks__encrypted(task_ctx *c, const char *plain, size_t len)
{
    char *enc = c->ops->encrypt ? c->ops->encrypt(c, plain, len) : NULL;
    if (!enc)
        return NULL;
    json_t *v = json_pack("{s:s,s:s}", "type", TASKS_ENCRYPTED_TYPE, "value", enc);
    free(enc);
    return v;
}

int task_store_file(task_ctx *c, const char *src, const char *name, char **uri, kerr *e)
{
    *uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id, name, e);
    if (!*uri)
        return -1;
    if (storage_put_file(c->storage, *uri, src, 0, e)) {
        free(*uri);
        *uri = NULL;
        return -1;
    }
    return 0;
}

/* ---- helpers for the family files (tasks_int.h) ---------------------------- */

int tasks__prop_text(task_ctx *c, const char *name, const char *dflt, char **out, kerr *e)
{
    *out = NULL;
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        /* written but rendered to null: the empty text a template prints */
        const json_t *raw = json_object_get(c->task, name);
        if (raw && !json_is_null(raw))
            *out = xstrdup("");
        else
            *out = dflt ? xstrdup(dflt) : NULL;
        return 0;
    }
    *out = expr_value_to_text(v);
    json_decref(v);
    return 0;
}

int tasks__prop_required(task_ctx *c, const char *name, char **out, kerr *e)
{
    if (tasks__prop_text(c, name, NULL, out, e))
        return -1;
    if (!*out || !**out) {
        free(*out);
        *out = NULL;
        return kerr_set(e, "property '%s' is required", name);
    }
    return 0;
}

int tasks__truthy(const char *s)
{
    if (!s)
        return 0;
    return !(!*s || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "-0"));
}

int tasks__put_bytes(task_ctx *c, const char *name, const void *data, size_t len, char **uri,
                     kerr *e)
{
    *uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id,
                                 c->taskrun_id, name, e);
    if (!*uri)
        return -1;
    if (storage_put(c->storage, *uri, data, len, e)) {
        free(*uri);
        *uri = NULL;
        return -1;
    }
    return 0;
}

FILE *tasks__tmp_file(task_ctx *c, char **path, kerr *e)
{
    const char *root = c->tmp_root;
    if (!root || !*root)
        root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    char *p = xasprintf("%s/kite-task-XXXXXX", root);
    int fd = mkostemp(p, O_CLOEXEC);
    if (fd < 0) {
        kerr_set(e, "cannot create a temporary file in %s: %s", root, strerror(errno));
        free(p);
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        kerr_set(e, "cannot open %s: %s", p, strerror(errno));
        close(fd);
        unlink(p);
        free(p);
        return NULL;
    }
    *path = p;
    return f;
}

int tasks__check_extension(const char *prop, const char *ext, kerr *e)
{
    if (strchr(ext, '/'))
        return kerr_set(e, "property '%s': '%s' is not a file extension (it holds a '/')", prop,
                        ext);
    if (strlen(ext) > 64)
        return kerr_set(e, "property '%s': the extension is longer than 64 bytes", prop);
    return 0;
}

int tasks__poll_run(task_ctx *c, task_result (*run)(task_ctx *c, kerr *e), task_fire_fn fire, kerr *e)
{
    task_result r = run(c, e);
    if (r == TASK_KILLED)
        return kerr_set(e, "the poll was cut off");
    if (r == TASK_FAILED)
        return -1;
    json_t *size = json_object_get(c->outputs, "size");
    if (!json_is_integer(size) || json_integer_value(size) <= 0)
        return 0;
    json_t *vars = c->outputs;
    c->outputs = json_object();
    return fire(c, vars, e) ? -1 : 1;
}
