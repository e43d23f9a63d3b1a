/*
 * webhook.c: matching a call to /executions/webhook/{ns}/{flowId}/{key}
 * against the flow's Webhook triggers.
 *
 * The flow is read from the store at its latest revision on every call (not
 * from the scheduler's cache, which may be a refresh behind: a flow created
 * a moment ago must answer). A key is compared after rendering, so
 * `key: "{{ secret('WEBHOOK_KEY') }}"` works; the comparison runs over the
 * whole key whatever the first difference, so timing does not tell how much
 * of a guess was right.
 */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "flow/schema.h"
#include "util/digest.h"
#include "util/mem.h"

void sched_webhook_clear(sched_webhook *w)
{
    if (!w)
        return;
    free(w->trigger_id);
    json_decref(w->trigger);
    json_decref(w->inputs);
    free(w->response_content_type);
    free(w->fetch_type);
    memset(w, 0, sizeof *w);
}

static int same_key(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return diff == 0;
}

static int is_webhook(const json_t *t)
{
    const sched_trigger_impl *impl = sched__trigger_find(json_string_value(json_object_get(t, "type")));
    return impl && impl->kind == SK_WEBHOOK;
}

int sched_webhook_find(sched *s, const char *ns, const char *flow_id, const char *key,
                       const sched_webhook_req *rq, sched_webhook *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    /* the latest revision's number, then its document from the engine's
     * cache of compiled flows (borrowed, read-only): a call does not read
     * and parse the flow again; the store's copy when the engine cannot
     * compile it */
    int rev = 0;
    int rc = store_flow_head(s->st, ns, flow_id, &rev, e);
    if (rc == STORE_NOT_FOUND) {
        kerr_set(e, "flow %s.%s not found", ns, flow_id);
        return SCHED_NOT_FOUND;
    }
    if (rc)
        return -1;
    kerr fe = KERR_INIT;
    eflow *fl = s->en ? engine_flow_get(s->en, ns, flow_id, rev, &fe) : NULL;
    store_flow sf = {0};
    json_t *doc = NULL; /* owned when fl is NULL */
    const json_t *d = fl ? engine_flow_doc(fl) : NULL;
    if (!d) {
        rc = store_flow_get(s->st, ns, flow_id, rev, &sf, e);
        if (rc == STORE_NOT_FOUND) {
            kerr_set(e, "flow %s.%s not found", ns, flow_id);
            return SCHED_NOT_FOUND;
        }
        if (rc)
            return -1;
        doc = sf.json ? json_incref(sf.json) : NULL;
        if (!doc && yaml_load(sf.source, strlen(sf.source), NULL, &doc, NULL, e)) {
            store_flow_clear(&sf);
            return -1;
        }
        d = doc;
    }
    sched_flow fv = {.ns = (char *)ns, .id = (char *)flow_id, .revision = rev};
    int result = SCHED_NOT_FOUND;
    if (json_is_true(json_object_get(d, "disabled"))) {
        kerr_set(e, "flow %s.%s is disabled", ns, flow_id);
        goto done;
    }
    expr_env env;
    sched__env(s, &env);
    json_t *base = json_pack("{s:o}", "flow", sched__flow_vars(&fv));
    const json_t *trigs = json_object_get(d, "triggers");
    size_t i;
    const json_t *t;
    const json_t *match = NULL;
    json_array_foreach(trigs, i, t) {
        if (!is_webhook(t) || json_is_true(json_object_get(t, "disabled")))
            continue;
        const char *k = json_string_value(json_object_get(t, "key"));
        if (!k)
            continue;
        char *rk = NULL;
        if (expr_is_template(k)) {
            kerr re = KERR_INIT;
            if (expr_render_string(k, base, &env, &rk, &re)) {
                /* a key that cannot be rendered matches nothing; the reason
                 * goes to the log, never to the caller */
                fprintf(stderr, "kite: webhook trigger '%s' of %s.%s: its key cannot be rendered: %s\n",
                        json_string_value(json_object_get(t, "id")), ns, flow_id, re.msg);
                continue;
            }
        }
        int same = same_key(rk ? rk : k, key);
        free(rk);
        if (same) {
            match = t;
            break;
        }
    }
    if (!match) {
        json_decref(base);
        kerr_set(e, "flow %s.%s has no webhook trigger with this key", ns, flow_id);
        goto done;
    }
    /* a disabled trigger row (the API's toggle) hides the webhook */
    const char *tid = json_string_value(json_object_get(match, "id"));
    store_trigger row = {0};
    kerr ge = KERR_INIT;
    if (!store_trigger_get(s->st, ns, flow_id, tid, &row, &ge) && row.disabled) {
        store_trigger_clear(&row);
        json_decref(base);
        kerr_set(e, "webhook trigger '%s' of %s.%s is disabled", tid, ns, flow_id);
        goto done;
    }
    store_trigger_clear(&row);
    const char *fetch = json_string_value(json_object_get(match, "fetchType"));
    out->trigger_id = xstrdup(tid);
    out->revision = rev;
    out->fetch_type = xstrdup(fetch ? fetch : "FETCH");
    out->trigger = json_object();
    if (rq && rq->body && strcmp(out->fetch_type, "NONE"))
        json_object_set(out->trigger, "body", rq->body);
    json_object_set_new(out->trigger, "headers",
                        rq && rq->headers ? json_incref(rq->headers) : json_object());
    json_object_set_new(out->trigger, "parameters",
                        rq && rq->parameters ? json_incref(rq->parameters) : json_object());
    out->wait = json_is_true(json_object_get(match, "wait"));
    out->return_outputs = json_is_true(json_object_get(match, "returnOutputs"));
    out->response_code = (int)json_integer_value(json_object_get(match, "responseCode"));
    const char *ct = json_string_value(json_object_get(match, "responseContentType"));
    out->response_content_type = ct ? xstrdup(ct) : NULL;
    json_object_set(base, "trigger", out->trigger);
    sched_cond_ctx cc = {.vars = base, .env = &env, .st = s->st};
    int ok = 0;
    if (sched__conditions(json_object_get(match, "conditions"), &cc, &ok, e)) {
        kerr_prefix(e, "webhook trigger '%s': ", tid);
        json_decref(base);
        sched_webhook_clear(out);
        result = -1;
        goto done;
    }
    sched_trig tv = {.id = (char *)tid, .json = match};
    if (ok && sched__render_inputs(s, &tv, base, &out->inputs, e)) {
        json_decref(base);
        sched_webhook_clear(out);
        result = -1;
        goto done;
    }
    json_decref(base);
    result = ok ? 0 : SCHED_SKIPPED;
done:
    if (fl)
        engine_flow_release(s->en, fl);
    json_decref(doc);
    store_flow_clear(&sf);
    return result;
}

/* 1 when one of the fresh index's keys is key (templates rendered). */
static int index_match(sched *s, const char *ns, const char *flow_id, int revision, const store_webhook_key *keys,
                       size_t n, const char *key)
{
    char hex[65];
    digest_sha256_hex(key, strlen(key), hex);
    int found = 0;
    expr_env env;
    json_t *base = NULL;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].key_sha256) {
            found |= same_key(keys[i].key_sha256, hex);
            continue;
        }
        if (!base) {
            sched__env(s, &env);
            sched_flow fv = {.ns = (char *)ns, .id = (char *)flow_id, .revision = revision};
            base = json_pack("{s:o}", "flow", sched__flow_vars(&fv));
        }
        char *rk = NULL;
        kerr re = KERR_INIT;
        if (expr_render_string(keys[i].key_template, base, &env, &rk, &re))
            continue; /* matches nothing (sched_webhook_find logs why) */
        found |= same_key(rk, key);
        free(rk);
    }
    json_decref(base);
    return found;
}

int sched_webhook_precheck(sched *s, const char *ns, const char *flow_id, const char *key)
{
    kerr e = KERR_INIT;
    store_webhook_key *keys = NULL;
    size_t n = 0;
    int fresh = 0;
    int rc = store_webhook_keys_get(s->st, ns, flow_id, &fresh, &keys, &n, &e);
    if (rc == STORE_NOT_FOUND)
        return SCHED_NOT_FOUND;
    if (rc)
        return 0; /* cannot tell: the full match decides */
    if (!fresh) {
        /* a revision stored before the index (or whose index write failed):
         * index it now, once, from the stored JSON */
        store_flow sf = {0};
        if (store_flow_get(s->st, ns, flow_id, 0, &sf, &e))
            return e.code == STORE_NOT_FOUND ? SCHED_NOT_FOUND : 0;
        json_t *doc = sf.json ? json_incref(sf.json) : NULL;
        if (!doc && yaml_load(sf.source, strlen(sf.source), NULL, &doc, NULL, &e)) {
            store_flow_clear(&sf);
            return 0;
        }
        int ok = !engine_webhook_index(s->st, ns, flow_id, sf.revision, doc, &e);
        json_decref(doc);
        store_flow_clear(&sf);
        if (!ok || store_webhook_keys_get(s->st, ns, flow_id, &fresh, &keys, &n, &e) || !fresh)
            return 0;
    }
    int found = index_match(s, ns, flow_id, fresh, keys, n, key);
    store_webhook_keys_free(keys, n);
    return found ? 0 : SCHED_NOT_FOUND;
}

int sched_webhook_submit(sched *s, const char *ns, const char *flow_id, const sched_webhook *w,
                         char id_out[STORE_ID_LEN + 1], kerr *e)
{
    engine_submit_opts so = {.namespace = ns, .flow_id = flow_id, .revision = w->revision,
                             .inputs = w->inputs, .trigger = w->trigger};
    return engine_submit(s->en, &so, id_out, e);
}
