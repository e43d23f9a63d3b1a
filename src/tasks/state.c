/*
 * state.c: the family of Kestra's deprecated state store, state.set,
 * state.get and state.delete (type table at the end of the file): a named JSON map kept in internal storage across executions,
 * merged into by Set, one per flow (or per namespace with `namespace: true`)
 * and, inside a ForEach, one per taskrun.value unless `taskrunValue: false`.
 *
 * The files live beside a flow's executions, at
 *   kestra:///<ns path>/<flow>/_states/<name>.json           (no value)
 *   kestra:///<ns path>/<flow>/_states/<name>/<hash>.json    (taskrun.value)
 * and at kestra:///<ns path>/_states/... for namespace-wide states. The hash
 * (FNV-1a, 64 bits, in hex) turns any value into one safe segment. As in
 * Kestra, a Set is a read, a merge and a write: two executions setting the
 * same state at once may lose one's keys (Kestra documents the same).
 */
#include "tasks/tasks_int.h"

#include "util/buf.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define STATE_MAX (16u << 20) /* bytes of one state file read back */

/* The state's URI for the task's name / namespace / taskrunValue
 * properties; NULL with e set. */
static char *state_uri(task_ctx *c, kerr *e)
{
    char *name;
    int shared, per_value;
    if (tasks__prop_text(c, "name", "default", &name, e))
        return NULL;
    if (task_prop_bool(c, "namespace", 0, &shared, e) ||
        task_prop_bool(c, "taskrunValue", 1, &per_value, e)) {
        free(name);
        return NULL;
    }
    if (!*name || strchr(name, '/')) {
        kerr_set(e, "property 'name': '%s' is not a state name (empty, or holding '/')", name);
        free(name);
        return NULL;
    }
    buf b = BUF_INIT;
    buf_puts(&b, STORAGE_SCHEME "/");
    for (const char *p = c->namespace, *dot; p; p = dot ? dot + 1 : NULL) {
        dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        storage_uri_encode_segment(&b, p, n);
        buf_putc(&b, '/');
    }
    if (!shared) {
        storage_uri_encode_segment(&b, c->flow_id, strlen(c->flow_id));
        buf_putc(&b, '/');
    }
    buf_puts(&b, "_states/");
    storage_uri_encode_segment(&b, name, strlen(name));
    if (per_value && c->value) {
        uint64_t h = 1469598103934665603ULL;
        for (const unsigned char *p = (const unsigned char *)c->value; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        buf_printf(&b, "/%016llx", (unsigned long long)h);
    }
    buf_puts(&b, ".json");
    free(name);
    char *uri = buf_steal(&b);
    /* validates the whole (a name may still be a reserved or overlong
     * segment) */
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e)) {
        kerr_prefix(e, "property 'name'");
        free(uri);
        return NULL;
    }
    storage_uri_free(&u);
    return uri;
}

/* Reads the state at uri: *data a new object, or NULL when there is none. */
static int state_read(task_ctx *c, const char *uri, json_t **data, kerr *e)
{
    *data = NULL;
    kerr se = KERR_INIT;
    int ex = storage_exists(c->storage, uri, &se);
    if (ex < 0)
        return kerr_set(e, "reading the state %s: %s", uri, se.msg);
    if (!ex)
        return 0;
    buf b = BUF_INIT;
    if (storage_read_all(c->storage, uri, STATE_MAX, &b, &se)) {
        buf_free(&b);
        return kerr_set(e, "reading the state %s: %s", uri, se.msg);
    }
    json_error_t je;
    json_t *v = json_loadb(b.data ? b.data : "", b.len, 0, &je);
    buf_free(&b);
    if (!json_is_object(v)) {
        json_decref(v);
        return kerr_set(e, "the state %s is not a JSON map", uri);
    }
    *data = v;
    return 0;
}

/* Merges src into dst: maps merge key by key, anything else replaces. */
static void state_merge(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        json_t *old = json_object_get(dst, k);
        if (json_is_object(old) && json_is_object(v)) {
            json_t *copy = json_deep_copy(old);
            state_merge(copy, v);
            json_object_set_new(dst, k, copy);
        } else {
            json_object_set_new(dst, k, json_deep_copy(v));
        }
    }
}

static task_result state_set_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *data = NULL, *cur = NULL;
    char *text = NULL;
    char *uri = state_uri(c, e);
    if (!uri)
        return TASK_FAILED;
    if (task_prop(c, "data", &data, e))
        goto out;
    if (data && !json_is_object(data)) {
        kerr_set(e, "property 'data' must be a map of names to values");
        goto out;
    }
    if (state_read(c, uri, &cur, e))
        goto out;
    if (!cur)
        cur = json_object();
    if (data)
        state_merge(cur, data);
    text = json_dumps(cur, JSON_COMPACT);
    kerr se = KERR_INIT;
    if (!text || storage_put(c->storage, uri, text, strlen(text), &se)) {
        kerr_set(e, "writing the state %s: %s", uri, text ? se.msg : "cannot encode");
        goto out;
    }
    task_output(c, "count", json_integer((json_int_t)json_object_size(cur)));
    task_output(c, "key", json_string(uri));
    res = TASK_SUCCESS;
out:
    free(text);
    free(uri);
    json_decref(data);
    json_decref(cur);
    return res;
}

static task_result state_get_run(task_ctx *c, kerr *e)
{
    int must;
    json_t *cur = NULL;
    char *uri = state_uri(c, e);
    if (!uri)
        return TASK_FAILED;
    task_result res = TASK_FAILED;
    if (task_prop_bool(c, "errorOnMissing", 0, &must, e) || state_read(c, uri, &cur, e))
        goto out;
    if (!cur && must) {
        kerr_set(e, "property 'name': no state at %s and 'errorOnMissing' is true", uri);
        goto out;
    }
    if (!cur)
        cur = json_object();
    task_output(c, "count", json_integer((json_int_t)json_object_size(cur)));
    task_output(c, "data", cur);
    cur = NULL;
    res = TASK_SUCCESS;
out:
    json_decref(cur);
    free(uri);
    return res;
}

static task_result state_delete_run(task_ctx *c, kerr *e)
{
    int must;
    char *uri = state_uri(c, e);
    if (!uri)
        return TASK_FAILED;
    task_result res = TASK_FAILED;
    if (task_prop_bool(c, "errorOnMissing", 0, &must, e))
        goto out;
    kerr se = KERR_INIT;
    int rc = storage_delete(c->storage, uri, &se);
    if (rc < 0) {
        kerr_set(e, "deleting the state %s: %s", uri, se.msg);
        goto out;
    }
    if (rc == 0 && must) {
        kerr_set(e, "property 'name': no state at %s and 'errorOnMissing' is true", uri);
        goto out;
    }
    task_output(c, "deleted", json_boolean(rc == 1));
    res = TASK_SUCCESS;
out:
    free(uri);
    return res;
}

static const struct task_hooks state_set_hooks = {.run = state_set_run};
static const struct task_hooks state_get_hooks = {.run = state_get_run};
static const struct task_hooks state_delete_hooks = {.run = state_delete_run};

/* ---- the family's types ---- */

const type_def tasks__state[] = {
    {
        .name = "state.set",
        .hooks = &state_set_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.state.Set", "io.kestra.core.tasks.states.Set"),
        .flags = TF_DEPRECATED,
        .desc = "Merge values into a named state file (deprecated: use kv.set).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PMAP("data", 0, NULL, &tasks__item_any, "the values to merge"),
                       PBOOL("namespace", 0, "false", "share the state across the namespace"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value")),
    },
    {
        .name = "state.get",
        .hooks = &state_get_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.state.Get", "io.kestra.core.tasks.states.Get"),
        .flags = TF_DEPRECATED,
        .desc = "Read a named state file (deprecated: use kv.get).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PBOOL("namespace", 0, "false", "the namespace's shared state"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the state is missing")),
    },
    {
        .name = "state.delete",
        .hooks = &state_delete_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.state.Delete",
                           "io.kestra.core.tasks.states.Delete"),
        .flags = TF_DEPRECATED,
        .desc = "Delete a named state file (deprecated: use kv.delete).",
        .props = PROPS(PSTR("name", 0, "\"default\"", "the state's name"),
                       PBOOL("namespace", 0, "false", "the namespace's shared state"),
                       PBOOL("taskrunValue", 0, "true", "one state per task-run value"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the state is missing")),
    },
};

const size_t tasks__state_count = sizeof tasks__state / sizeof tasks__state[0];
