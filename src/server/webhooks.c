/*
 * webhooks.c: /api/v1/executions/webhook/{namespace}/{flowId}/{key}
 * (GET, POST, PUT), with no bearer token: the key guards it.
 *
 * The flow's Webhook trigger whose key (rendered: `{{ secret('X') }}` works)
 * equals the URL's key starts an execution with trigger.body (parsed JSON
 * when the body is JSON, else the text), trigger.headers and
 * trigger.parameters ({"name": ["value", ...]}, as Kestra shows them; header
 * names in lower case). An unknown flow or key is a 404; a trigger disabled
 * in the flow or through PUT /api/v1/triggers is a 409. The trigger's
 * `wait: true` answers once the execution has ended.
 *
 * The request is shaped as sched.h's sched_webhook_req so that matching can
 * move to the scheduler (sched_webhook_find, with the trigger's conditions)
 * without touching the rest.
 */
#include "server/server_int.h"
#include "expr/expr.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_webhook_type(const char *t)
{
    return t && (!strcmp(t, "io.kestra.plugin.core.trigger.Webhook") ||
                 !strcmp(t, "io.kestra.core.models.triggers.types.Webhook") || !strcmp(t, "trigger.webhook"));
}

/* secret('NAME'): SECRET_NAME from the environment, base64 (as Kestra). */
static json_t *fn_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
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
    json_t *ctx = json_pack("{s:s}", "v", b64);
    char *out = NULL;
    kerr e2 = KERR_INIT;
    int rc = expr_render_string("{{ v | base64decode }}", ctx, NULL, &out, &e2);
    json_decref(ctx);
    if (rc) {
        kerr_set(e, "secret '%s': %s is not valid base64", name, var);
        return NULL;
    }
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    json_t *v = json_string(out);
    free(out);
    return v;
}

/* Compares without stopping at the first difference. */
static int key_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

typedef struct kv_acc {
    json_t *out;
    int lower;
} kv_acc;

static enum MHD_Result add_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    kv_acc *a = cls;
    if (!key)
        return MHD_YES;
    char *k = xstrdup(key);
    if (a->lower)
        for (char *p = k; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    if (a->lower && !strcmp(k, "authorization")) {
        free(k);
        return MHD_YES;
    }
    json_t *list = json_object_get(a->out, k);
    if (!list) {
        list = json_array();
        json_object_set_new(a->out, k, list);
    }
    json_array_append_new(list, json_string(value ? value : ""));
    free(k);
    return MHD_YES;
}

enum MHD_Result srv_webhook(srv_req *r)
{
    const char *ns = r->params[0], *flow_id = r->params[1], *key = r->params[2];
    __atomic_add_fetch(&r->s->webhooks, 1, __ATOMIC_RELAXED);
    store_flow sf = {0};
    kerr e = KERR_INIT;
    if (store_flow_get(r->s->o.store, ns, flow_id, 0, &sf, &e)) {
        if (e.code == STORE_NOT_FOUND)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s not found", ns, flow_id);
        return srv_store_error(r, &e);
    }
    json_t *triggers = json_object_get(sf.json, "triggers");
    const char *trigger_id = NULL;
    int wait = 0, disabled = json_is_true(json_object_get(sf.json, "disabled"));
    expr_func funcs[] = {{"secret", fn_secret, NULL}};
    expr_env env = {.funcs = funcs, .nfuncs = 1};
    size_t i;
    json_t *t;
    enum MHD_Result rc;
    json_array_foreach(triggers, i, t)
    {
        if (!is_webhook_type(json_string_value(json_object_get(t, "type"))))
            continue;
        const char *k = json_string_value(json_object_get(t, "key"));
        if (!k)
            continue;
        char *rendered = NULL;
        if (expr_is_template(k)) {
            kerr e2 = KERR_INIT;
            if (expr_render_string(k, NULL, &env, &rendered, &e2)) {
                rc = srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "trigger %s of flow %s.%s: its key: %s",
                               json_string_value(json_object_get(t, "id")), ns, flow_id, e2.msg);
                store_flow_clear(&sf);
                return rc;
            }
        }
        int eq = key_equal(rendered ? rendered : k, key);
        free(rendered);
        if (eq) {
            trigger_id = json_string_value(json_object_get(t, "id"));
            wait = json_is_true(json_object_get(t, "wait"));
            disabled |= json_is_true(json_object_get(t, "disabled"));
            break;
        }
    }
    if (!trigger_id) {
        store_flow_clear(&sf);
        return srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s has no webhook trigger with this key", ns, flow_id);
    }
    store_trigger row = {0};
    if (!disabled && store_trigger_get(r->s->o.store, ns, flow_id, trigger_id, &row, &e) == STORE_OK) {
        disabled = row.disabled;
        store_trigger_clear(&row);
    }
    if (disabled) {
        rc = srv_error(r, MHD_HTTP_CONFLICT, "webhook trigger %s of flow %s.%s is disabled", trigger_id, ns, flow_id);
        store_flow_clear(&sf);
        return rc;
    }
    json_t *body = NULL;
    if (r->body.len) {
        body = json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, NULL);
        if (!body)
            body = json_stringn(r->body.data, r->body.len);
        if (!body) /* not UTF-8 */
            body = json_string("");
    }
    kv_acc h = {json_object(), 1}, p = {json_object(), 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_value, &h);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_value, &p);
    json_t *trig = json_pack("{s:s,s:s,s:o,s:o,s:o}", "id", trigger_id, "type", "io.kestra.plugin.core.trigger.Webhook",
                             "body", body ? body : json_null(), "headers", h.out, "parameters", p.out);
    engine_submit_opts o = {.namespace = ns, .flow_id = flow_id, .revision = sf.revision, .trigger = trig};
    rc = srv_exec_submit(r, &o, wait);
    json_decref(trig);
    store_flow_clear(&sf);
    return rc;
}
