/*
 * kv.c: the key-value family: kv.set, kv.get, kv.delete and kv.get_keys,
 * on the store's kv table (store_kv_*), one namespace at a time (the flow's
 * own by default), and kv.purge_kv (expired or matching keys of several
 * namespaces; with the purge tasks' shared scope, tasks__purge_namespaces);
 * the type table is at the end of the file.
 *
 * Values keep their JSON type (a number stays a number), as Kestra's KV store
 * keeps the type of what was set; `kvType` converts a string on the way in.
 * Keys follow Kestra's rule: a letter or digit, then letters, digits, '.',
 * '_' or '-'.
 */
#include "tasks/tasks_int.h"
#include "util/policy.h"

#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The namespace rule of every kv task: given, not too long, and not one of
 * kite's own (store_kv_reserved: "_kite.auth" holds the server's tokens). */
static int kv_namespace(const char *ns, kerr *e)
{
    if (!ns || !*ns)
        return kerr_set(e, "property 'namespace' is empty");
    if (strlen(ns) >= STORE_ID_MAX)
        return kerr_set(e, "property 'namespace': longer than %d bytes", STORE_ID_MAX - 1);
    if (store_kv_check_namespace(ns, e)) {
        kerr_prefix(e, "property 'namespace'");
        return -1;
    }
    return 0;
}

/* key and namespace, both required in the end (namespace defaults to the
 * flow's). */
static int kv_target(task_ctx *c, int action, char **ns, char **key, kerr *e)
{
    *ns = *key = NULL;
    if (tasks__prop_text(c, "key", NULL, key, e))
        return -1;
    if (!*key)
        return kerr_set(e, "property 'key' is required");
    if (!**key)
        return kerr_set(e, "property 'key' is empty");
    const unsigned char *k = (const unsigned char *)*key;
    if (!isalnum(k[0]))
        return kerr_set(e, "property 'key': '%s' must start with a letter or a digit", *key);
    for (size_t i = 1; k[i]; i++)
        if (!isalnum(k[i]) && k[i] != '.' && k[i] != '_' && k[i] != '-')
            return kerr_set(e, "property 'key': '%s' may only hold letters, digits, '.', '_' "
                               "and '-' (found '%c' at %zu)", *key, k[i], i + 1);
    if (strlen(*key) >= STORE_ID_MAX)
        return kerr_set(e, "property 'key': longer than %d bytes", STORE_ID_MAX - 1);
    if (tasks__prop_text(c, "namespace", c->namespace, ns, e))
        return -1;
    if (kv_namespace(*ns, e))
        return -1;
    /* another namespace's keys: only where access control allows it */
    if (store_access_flow(c->store, c->namespace, action, *ns, e)) {
        kerr_prefix(e, "property 'namespace'");
        return -1;
    }
    return 0;
}

/* Applies kvType to a string value (others are kept as they are). Returns the
 * value to store (a new reference) or NULL with e set. */
static json_t *kv_convert(const char *type, json_t *v, kerr *e)
{
    if (!type || !json_is_string(v) || !strcmp(type, "STRING"))
        return json_incref(v);
    const char *s = json_string_value(v);
    if (!strcmp(type, "NUMBER")) {
        json_error_t je;
        json_t *n = json_loads(s, JSON_DECODE_ANY, &je);
        if (!json_is_number(n)) {
            json_decref(n);
            kerr_set(e, "property 'value': '%.60s' is not a NUMBER", s);
            return NULL;
        }
        return n;
    }
    if (!strcmp(type, "BOOLEAN"))
        return json_boolean(!strcasecmp(s, "true"));
    if (!strcmp(type, "DATETIME") || !strcmp(type, "DATE")) {
        int64_t us;
        if (datetime_parse(s, tz_utc(), &us, NULL, e)) {
            kerr_prefix(e, "property 'value': '%.60s' is not a %s", s, type);
            return NULL;
        }
        return json_incref(v);
    }
    if (!strcmp(type, "DURATION")) {
        int64_t us;
        if (duration_parse(s, &us, e)) {
            kerr_prefix(e, "property 'value': '%.60s' is not a DURATION", s);
            return NULL;
        }
        return json_incref(v);
    }
    if (!strcmp(type, "JSON")) {
        json_error_t je;
        json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
        if (!j)
            kerr_set(e, "property 'value': not JSON (%s at column %d)", je.text, je.column);
        return j;
    }
    kerr_set(e, "property 'kvType': unknown type '%s' (STRING, NUMBER, BOOLEAN, DATETIME, DATE, "
                "DURATION, JSON)", type);
    return NULL;
}

static task_result kv_set_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *key = NULL, *type = NULL;
    json_t *raw = NULL, *v = NULL;
    int overwrite;
    int64_t ttl;
    kerr se = KERR_INIT;

    if (kv_target(c, PA_KV_WRITE, &ns, &key, e) || task_prop(c, "value", &raw, e) ||
        task_prop_bool(c, "overwrite", 1, &overwrite, e) ||
        task_prop_duration(c, "ttl", 0, &ttl, e) ||
        task_prop_string(c, "kvType", NULL, &type, e))
        goto out;
    if (!raw) {
        kerr_set(e, "property 'value' is required");
        goto out;
    }
    if (json_object_get(c->task, "ttl") && ttl <= 0) {
        kerr_set(e, "property 'ttl' must be a positive duration");
        goto out;
    }
    v = kv_convert(type, raw, e);
    if (!v)
        goto out;
    int64_t now = store_now_us();
    int64_t expires = ttl <= 0 ? 0 : ttl > INT64_MAX - now ? INT64_MAX : now + ttl;

    if (!overwrite) {
        /* check and write in one transaction, so that two tasks racing for a
         * new key cannot both win */
        if (store_begin(c->store, &se))
            goto store_fail;
        json_t *old = NULL;
        int rc = store_kv_get(c->store, ns, key, &old, &se);
        json_decref(old);
        if (rc == STORE_OK) {
            store_rollback(c->store);
            kerr_set(e, "property 'key': key '%s' already exists in namespace %s and "
                        "'overwrite' is false", key, ns);
            goto out;
        }
        if (rc != STORE_NOT_FOUND || store_kv_put(c->store, ns, key, v, expires, &se)) {
            store_rollback(c->store);
            goto store_fail;
        }
        if (store_commit(c->store, &se))
            goto store_fail;
    } else if (store_kv_put(c->store, ns, key, v, expires, &se)) {
        goto store_fail;
    }
    task_log(c, LEVEL_DEBUG, "set key '%s' in namespace %s", key, ns);
    res = TASK_SUCCESS;
    goto out;
store_fail:
    kerr_set(e, "key '%s' in namespace %s: %s", key, ns, se.msg);
out:
    free(ns);
    free(key);
    free(type);
    json_decref(raw);
    json_decref(v);
    return res;
}

static task_result kv_get_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *key = NULL;
    int must;
    kerr se = KERR_INIT;
    if (kv_target(c, PA_KV_READ, &ns, &key, e) || task_prop_bool(c, "errorOnMissing", 0, &must, e))
        goto out;
    json_t *v = NULL;
    int rc = store_kv_get(c->store, ns, key, &v, &se);
    if (rc == STORE_NOT_FOUND) {
        if (must) {
            kerr_set(e, "property 'key': no value for key '%s' in namespace %s and "
                        "'errorOnMissing' is true", key, ns);
            goto out;
        }
        task_output(c, "value", json_null());
    } else if (rc) {
        kerr_set(e, "key '%s' in namespace %s: %s", key, ns, se.msg);
        goto out;
    } else {
        task_output(c, "value", v);
    }
    res = TASK_SUCCESS;
out:
    free(ns);
    free(key);
    return res;
}

static task_result kv_delete_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *key = NULL;
    int must;
    kerr se = KERR_INIT;
    if (kv_target(c, PA_KV_WRITE, &ns, &key, e) || task_prop_bool(c, "errorOnMissing", 0, &must, e))
        goto out;
    int rc = store_kv_delete(c->store, ns, key, &se);
    if (rc == STORE_NOT_FOUND && must) {
        kerr_set(e, "property 'key': no value for key '%s' in namespace %s and "
                    "'errorOnMissing' is true", key, ns);
        goto out;
    }
    if (rc && rc != STORE_NOT_FOUND) {
        kerr_set(e, "key '%s' in namespace %s: %s", key, ns, se.msg);
        goto out;
    }
    task_output(c, "deleted", json_boolean(rc == STORE_OK));
    res = TASK_SUCCESS;
out:
    free(ns);
    free(key);
    return res;
}

static task_result kv_get_keys_run(task_ctx *c, kerr *e)
{
    char *ns = NULL, *prefix = NULL;
    if (tasks__prop_text(c, "prefix", NULL, &prefix, e) ||
        tasks__prop_text(c, "namespace", c->namespace, &ns, e)) {
        free(prefix);
        return TASK_FAILED;
    }
    task_result res = TASK_FAILED;
    if (kv_namespace(ns, e) || store_access_flow(c->store, c->namespace, PA_KV_READ, ns, e))
        goto out;
    char **keys = NULL;
    size_t n = 0;
    kerr se = KERR_INIT;
    if (store_kv_list(c->store, ns, &keys, &n, &se)) {
        kerr_set(e, "listing the keys of namespace %s: %s", ns, se.msg);
        goto out;
    }
    json_t *out = json_array();
    size_t plen = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < n; i++)
        if (!plen || !strncmp(keys[i], prefix, plen))
            json_array_append_new(out, json_string(keys[i]));
    store_strings_free(keys, n);
    task_output(c, "keys", out);
    res = TASK_SUCCESS;
out:
    free(ns);
    free(prefix);
    return res;
}

/* ---- the purge tasks' scope (shared with core.c and namespace.c) ------------------- */

static void add_ns(json_t *set, const char *ns)
{
    if (ns && *ns && !store_kv_reserved(ns))
        json_object_set_new(set, ns, json_true());
}

static int ns_under(const char *ns, const char *parent)
{
    size_t n = strlen(parent);
    return !strcmp(ns, parent) || (!strncmp(ns, parent, n) && ns[n] == '.');
}

int tasks__purge_namespaces(task_ctx *c, int action, json_t **out, kerr *e)
{
    *out = NULL;
    json_t *given = NULL;
    char *pattern = NULL;
    int children = 1;
    if (task_prop(c, "namespaces", &given, e) || tasks__prop_text(c, "namespacePattern", NULL, &pattern, e) ||
        task_prop_bool(c, "includeChildNamespaces", 1, &children, e)) {
        json_decref(given);
        free(pattern);
        return -1;
    }
    if (json_is_string(given)) {
        json_t *a = json_array();
        json_array_append_new(a, given);
        given = a;
    }
    if (given && !json_is_array(given)) {
        json_decref(given);
        free(pattern);
        return kerr_set(e, "property 'namespaces' must be a list of namespaces");
    }
    json_t *known = json_object();
    add_ns(known, c->namespace);
    store_flow_query q = {0};
    store_flow *fl = NULL;
    size_t nf = 0;
    kerr se = KERR_INIT;
    if (store_flow_search(c->store, &q, &fl, &nf, NULL, &se) == 0) {
        for (size_t i = 0; i < nf; i++)
            add_ns(known, fl[i].namespace);
        store_flows_free(fl, nf);
    }
    json_t *set = json_object();
    const char *k;
    json_t *v;
    if (json_array_size(given)) {
        size_t i;
        json_t *it;
        json_array_foreach(given, i, it) {
            const char *ns = json_string_value(it);
            if (!ns)
                continue;
            add_ns(set, ns);
            if (children) {
                json_object_foreach(known, k, v) {
                    if (ns_under(k, ns))
                        add_ns(set, k);
                }
            }
        }
    } else if (pattern && *pattern) {
        json_object_foreach(known, k, v) {
            if (proc_glob_match(pattern, k))
                add_ns(set, k);
        }
    } else {
        json_object_update(set, known);
    }
    /* under access control, another namespace is purged only where the
     * flow's namespace may do action there (store_access_flow): one named
     * in 'namespaces' fails the task, one found by pattern is left alone */
    json_t *a = json_array();
    json_object_foreach(set, k, v) {
        kerr ae = KERR_INIT;
        if (store_access_flow(c->store, c->namespace, action, k, &ae)) {
            int named = 0;
            size_t gi;
            json_t *g;
            json_array_foreach(given, gi, g) named |= json_is_string(g) && !strcmp(json_string_value(g), k);
            if (!named && ae.code == KERR_INVALID)
                continue;
            kerr_setc(e, ae.code, "property 'namespaces': %s", ae.msg);
            json_decref(a);
            json_decref(set);
            json_decref(known);
            json_decref(given);
            free(pattern);
            return -1;
        }
        json_array_append_new(a, json_string(k));
    }
    json_decref(set);
    json_decref(known);
    json_decref(given);
    free(pattern);
    *out = a;
    return 0;
}

int tasks__purge_behavior_read(task_ctx *c, const char *dflt_type, tasks__purge_behavior *b, kerr *e)
{
    memset(b, 0, sizeof *b);
    snprintf(b->type, sizeof b->type, "%s", dflt_type);
    b->expired_only = 1;
    b->keep = 1;
    json_t *v;
    if (task_prop(c, "behavior", &v, e))
        return -1;
    if (!v)
        return 0;
    int rc = 0;
    if (!json_is_object(v)) {
        rc = kerr_set(e, "property 'behavior' must be a map ({type: key, expiredOnly} or {type: version, "
                         "keepAmount, before})");
        goto out;
    }
    const char *t = json_string_value(json_object_get(v, "type"));
    if (t) {
        if (strcasecmp(t, "key") && strcasecmp(t, "version")) {
            rc = kerr_set(e, "property 'behavior': type '%s' is not key or version", t);
            goto out;
        }
        snprintf(b->type, sizeof b->type, "%s", t);
        for (char *p = b->type; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    const json_t *eo = json_object_get(v, "expiredOnly");
    if (json_is_boolean(eo))
        b->expired_only = json_is_true(eo);
    const json_t *ka = json_object_get(v, "keepAmount");
    if (json_is_integer(ka))
        b->keep = json_integer_value(ka);
    const char *before = json_string_value(json_object_get(v, "before"));
    if (before && *before) {
        kerr de = KERR_INIT;
        if (datetime_parse(before, tz_utc(), &b->before_us, NULL, &de))
            rc = kerr_set(e, "property 'behavior': before: %s", de.msg);
    }
out:
    json_decref(v);
    return rc;
}

/* ---- kv.purge_kv ---------------------------------------------------------------- */

/* Deletes keys of the namespaces in scope: by default (behavior {type:
 * key, expiredOnly: true}) the expired ones, which the store no longer
 * shows but still holds; keyPattern (a glob) narrows it. Output `size`,
 * the keys deleted, as Kestra. */
static task_result kv_purge_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *nss = NULL;
    char *pattern = NULL;
    tasks__purge_behavior b;
    if (tasks__purge_namespaces(c, PA_KV_WRITE, &nss, e) || tasks__prop_text(c, "keyPattern", NULL, &pattern, e) ||
        tasks__purge_behavior_read(c, "key", &b, e))
        goto out;
    const json_t *old = json_object_get(c->task, "expiredOnly");
    if (json_is_boolean(old) && !json_object_get(c->task, "behavior"))
        b.expired_only = json_is_true(old);
    size_t total = 0, i;
    json_t *it;
    json_array_foreach(nss, i, it) {
        size_t n = 0;
        kerr se = KERR_INIT;
        if (store_kv_purge(c->store, json_string_value(it), pattern && *pattern ? pattern : NULL, b.expired_only,
                           &n, &se)) {
            kerr_set(e, "purging the keys of %s: %s", json_string_value(it), se.msg);
            goto out;
        }
        total += n;
    }
    task_log(c, LEVEL_INFO, "purged %zu %skey(s) in %zu namespace(s)", total, b.expired_only ? "expired " : "",
             json_array_size(nss));
    task_output(c, "size", json_integer((json_int_t)total));
    res = TASK_SUCCESS;
out:
    json_decref(nss);
    free(pattern);
    return res;
}

static const struct task_hooks kv_set_hooks = {.run = kv_set_run};
static const struct task_hooks kv_get_hooks = {.run = kv_get_run};
static const struct task_hooks kv_delete_hooks = {.run = kv_delete_run};
static const struct task_hooks kv_get_keys_hooks = {.run = kv_get_keys_run};
static const struct task_hooks kv_purge_hooks = {.run = kv_purge_run};

/* ---- the family's types ---- */

#define P_NAMESPACE(what) PSTR("namespace", 0, "\"{{ flow.namespace }}\"", what)

const type_def tasks__kv[] = {
    {
        .name = "kv.set",
        .hooks = &kv_set_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.kv.Set"),
        .desc = "Store a value in the namespace's key-value store.",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       PANY("value", PF_REQUIRED, NULL, "the value"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("overwrite", 0, "true", "replace an existing value"),
                       PDUR("ttl", 0, NULL, "expire the value after this duration"),
                       PENUM("kvType", 0, NULL,
                             ENUMS("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE",
                                   "DURATION", "JSON"),
                             "the value's type (default: guessed)"),
                       PSTR("kvDescription", 0, NULL, "a description of the key")),
    },
    {
        .name = "kv.get",
        .hooks = &kv_get_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.kv.Get"),
        .desc = "Read a value of the key-value store (output `value`).",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the key is missing")),
    },
    {
        .name = "kv.delete",
        .hooks = &kv_delete_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.kv.Delete"),
        .desc = "Delete a key of the key-value store.",
        .props = PROPS(PSTR("key", PF_REQUIRED, NULL, "the key"),
                       P_NAMESPACE("the namespace of the store"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the key is missing")),
    },
    {
        .name = "kv.get_keys",
        .hooks = &kv_get_keys_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.kv.GetKeys"),
        .desc = "List the keys of the key-value store (output `keys`).",
        .props = PROPS(PSTR("prefix", 0, NULL, "only keys starting with this"),
                       P_NAMESPACE("the namespace of the store")),
    },
    {
        .name = "kv.purge_kv",
        .hooks = &kv_purge_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.kv.PurgeKV"),
        .desc = "Delete keys of the key-value store, by default the expired ones.",
        .props = PROPS(PSTR("keyPattern", 0, NULL, "only keys matching this glob"),
                       P_PURGE_SCOPE("keys"),
                       PBOOL("expiredOnly", PF_DEPRECATED, NULL,
                             "only expired keys (use behavior)")),
    },
};

const size_t tasks__kv_count = sizeof tasks__kv / sizeof tasks__kv[0];
