/*
 * bulk.c: an execution's labels, and the actions on many executions at
 * once, as Kestra's ExecutionController has them:
 *
 *   POST   /executions/{id}/labels   body [{key, value}]: replaces the labels
 *                                    of an ended execution, answers it
 *   POST   /executions/labels/by-ids body {executionsId, executionLabels}:
 *                                    adds (or changes) those labels
 *   DELETE /executions/kill/by-ids   body [ids] (POST too, as for one kill)
 *   POST   /executions/restart/by-ids
 *   DELETE /executions/by-ids
 *
 * A bulk route checks every id first and acts only when all are valid,
 * answering {"count": n} (Kestra's BulkResponse); otherwise nothing is done
 * and the answer is 400 {"message", "invalids": [{"invalidValue": id,
 * "message"}]} (BulkErrorResponse), the reason per id: "execution not
 * found", "execution already finished" (kill), "execution not in state
 * FAILED" (restart), "execution is not terminated" (delete, labels).
 *
 * Access, per id: an execution whose namespace the caller may not read is
 * "execution not found", the same words as a missing one (no existence
 * leak); one it may read but not act on is "not allowed: <action> in
 * namespace <ns>". The route table lets these routes through (T_BODY):
 * this file decides.
 *
 * Changing labels needs execution:create (who may start executions in a
 * namespace may label them; kite has no execution:update). Labels follow
 * Kestra's rules: keys starting with "system." are kept and cannot be set
 * or changed through the API.
 */
#include "server/server_int.h"
#include "util/mem.h"
#include "util/policy.h"

#include <stdarg.h>
#include <string.h>

#define BULK_MAX SRV_PAGE_MAX
#define SYSTEM_PREFIX "system."

/* ---- labels ------------------------------------------------------------------ */

/* [{key, value}] into an object; NULL after answering 400. */
static json_t *labels_from(srv_req *r, const json_t *list, const char *what)
{
    json_t *out = json_object();
    if (!json_is_array(list)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "%s must be a list of {\"key\", \"value\"}", what);
        json_decref(out);
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *k = json_string_value(json_object_get(v, "key"));
        json_t *val = json_object_get(v, "value");
        if (!json_is_object(v) || !k || !json_is_string(val)) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "%s[%zu] must be {\"key\": string, \"value\": string}", what, i);
            json_decref(out);
            return NULL;
        }
        if (!*k && !*json_string_value(val))
            continue; /* Kestra drops empty labels */
        if (!*k) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "%s[%zu]: the key is empty", what, i);
            json_decref(out);
            return NULL;
        }
        json_object_set(out, k, val);
    }
    return out;
}

/* The first system label of want that x does not already have, or NULL. */
static const char *system_label_changed(const json_t *have, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        if (strncmp(k, SYSTEM_PREFIX, strlen(SYSTEM_PREFIX)))
            continue;
        const json_t *h = json_object_get(have, k);
        if (!json_is_string(h) || strcmp(json_string_value(h), json_string_value(v)))
            return k;
    }
    return NULL;
}

/* Writes labels on execution id: replace 1 sets exactly labels (with the
 * system ones kept), 0 adds them. Retries when the engine wrote the row
 * meanwhile. 0, or -1 with e set. */
static int write_labels(srv_req *r, const char *id, const json_t *labels, int replace, kerr *e)
{
    for (int tries = 0; tries < 20; tries++) {
        store_execution x = {0};
        kerr_clear(e);
        if (store_execution_get(r->s->o.store, id, &x, e))
            return -1;
        json_t *before = x.labels ? json_incref(x.labels) : json_object();
        json_t *nl = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(before, k, v)
        {
            if (!replace || !strncmp(k, SYSTEM_PREFIX, strlen(SYSTEM_PREFIX)))
                json_object_set(nl, k, v);
        }
        json_object_update(nl, (json_t *)labels);
        json_decref(x.labels);
        x.labels = nl;
        int rc = store_execution_update(r->s->o.store, &x, e);
        if (!rc) {
            srv_audit(r, "execution:update", "execution", x.namespace, id, before, nl);
            json_decref(before);
            store_execution_clear(&x);
            return 0;
        }
        json_decref(before);
        store_execution_clear(&x);
        if (e->code != KERR_CONFLICT && rc != STORE_CONFLICT)
            return -1;
    }
    return kerr_set(e, "execution %s keeps changing: try again", id);
}

enum MHD_Result srv_exec_labels(srv_req *r)
{
    const char *id = r->params[0];
    json_t *body = srv_body_json(r, 1);
    if (!body)
        return MHD_YES;
    json_t *labels = labels_from(r, body, "the body");
    json_decref(body);
    if (!labels)
        return MHD_YES;
    store_execution x = {0};
    kerr e = KERR_INIT;
    if (store_execution_get(r->s->o.store, id, &x, &e)) {
        json_decref(labels);
        if (e.code == KERR_NOT_FOUND)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "execution %s not found", id);
        return srv_kerr_error(r, &e);
    }
    int ended = store_state_is_terminated(x.state);
    const char *sys = system_label_changed(x.labels, labels);
    char *sysk = sys ? xstrdup(sys) : NULL;
    char state[32];
    snprintf(state, sizeof state, "%s", store_state_name(x.state));
    store_execution_clear(&x);
    if (!ended) {
        json_decref(labels);
        free(sysk);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "execution %s is not terminated (%s): labels change once it ended",
                         id, state);
    }
    if (sysk) {
        enum MHD_Result rc = srv_error(r, MHD_HTTP_BAD_REQUEST,
                                       "label '%s': system labels can only be set by kite itself", sysk);
        json_decref(labels);
        free(sysk);
        return rc;
    }
    int rc = write_labels(r, id, labels, 1, &e);
    json_decref(labels);
    if (rc)
        return srv_kerr_error(r, &e);
    json_t *j = engine_execution_json(r->s->o.engine, id, &e);
    if (!j)
        return srv_kerr_error(r, &e);
    return srv_json(r, MHD_HTTP_OK, j);
}

/* ---- bulk --------------------------------------------------------------------- */

enum { B_KILL, B_RESTART, B_DELETE, B_LABELS };

static const struct {
    const char *name;       /* in messages */
    int action;             /* the policy action each id needs */
    const char *audit;
} bulk_kinds[] = {
    [B_KILL] = {"kill", PA_EXECUTION_KILL, "execution:kill"},
    [B_RESTART] = {"restart", PA_EXECUTION_REPLAY, "execution:restart"},
    [B_DELETE] = {"delete", PA_EXECUTION_DELETE, "execution:delete"},
    [B_LABELS] = {"set labels", PA_EXECUTION_CREATE, NULL},
};

static void invalid(json_t *inv, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void invalid(json_t *inv, const char *id, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(inv, json_pack("{s:s,s:s}", "invalidValue", id, "message", msg));
}

/* Why id cannot take the action (appended to inv), or nothing; *ns gets its
 * namespace when it is valid. */
static void check_one(srv_req *r, int kind, const char *id, const json_t *labels, json_t *inv)
{
    store_execution x = {0};
    kerr e = KERR_INIT;
    int rc = store_execution_get(r->s->o.store, id, &x, &e);
    if (rc || !srv_allowed(r, PA_EXECUTION_READ, x.namespace)) {
        if (rc && e.code != KERR_NOT_FOUND && rc != STORE_NOT_FOUND)
            invalid(inv, id, "%s", e.msg);
        else
            invalid(inv, id, "execution not found");
        store_execution_clear(&x);
        return;
    }
    int act = bulk_kinds[kind].action;
    if (!srv_allowed(r, act, x.namespace)) {
        invalid(inv, id, "not allowed: %s in namespace %s", policy_action_name(act), x.namespace);
    } else if (kind == B_KILL && store_state_is_terminated(x.state)) {
        invalid(inv, id, "execution already finished");
    } else if (kind == B_RESTART && x.state != STATE_FAILED) {
        invalid(inv, id, "execution not in state FAILED");
    } else if ((kind == B_DELETE || kind == B_LABELS) && !store_state_is_terminated(x.state)) {
        invalid(inv, id, "execution is not terminated");
    } else if (kind == B_LABELS) {
        const char *sys = system_label_changed(x.labels, labels);
        if (sys)
            invalid(inv, id, "label '%s': system labels can only be set by kite itself", sys);
    }
    store_execution_clear(&x);
}

static enum MHD_Result bulk(srv_req *r, int kind)
{
    json_t *body = srv_body_json(r, 1);
    if (!body)
        return MHD_YES;
    json_t *ids = body, *labels = NULL;
    if (kind == B_LABELS) {
        if (!json_is_object(body)) {
            json_decref(body);
            return srv_error(r, MHD_HTTP_BAD_REQUEST,
                             "the body must be {\"executionsId\": [ids], \"executionLabels\": [{\"key\", \"value\"}]}");
        }
        ids = json_object_get(body, "executionsId");
        labels = labels_from(r, json_object_get(body, "executionLabels"), "executionLabels");
        if (!labels) {
            json_decref(body);
            return MHD_YES;
        }
    }
    const char *what = kind == B_LABELS ? "executionsId" : "the body";
    enum MHD_Result ret;
    if (!json_is_array(ids)) {
        ret = srv_error(r, MHD_HTTP_BAD_REQUEST, "%s must be a JSON list of execution ids", what);
        goto out;
    }
    if (json_array_size(ids) > BULK_MAX) {
        ret = srv_error(r, MHD_HTTP_BAD_REQUEST, "%s lists %zu executions, more than the %d allowed at once", what,
                        json_array_size(ids), BULK_MAX);
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > STORE_ID_MAX) {
            ret = srv_error(r, MHD_HTTP_BAD_REQUEST, "%s[%zu] is not an execution id", what, i);
            goto out;
        }
    }
    json_t *inv = json_array();
    json_array_foreach(ids, i, v) check_one(r, kind, json_string_value(v), labels, inv);
    if (json_array_size(inv)) {
        char msg[64];
        snprintf(msg, sizeof msg, "invalid bulk %s", bulk_kinds[kind].name);
        ret = srv_json(r, MHD_HTTP_BAD_REQUEST, json_pack("{s:s,s:o}", "message", msg, "invalids", inv));
        goto out;
    }
    /* all valid: act; one that changed meanwhile (ended, deleted) is reported */
    size_t done = 0;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        store_execution x = {0};
        kerr e = KERR_INIT;
        if (store_execution_get(r->s->o.store, id, &x, &e)) {
            invalid(inv, id, "execution not found");
            continue;
        }
        int rc = 0;
        switch (kind) {
        case B_KILL: rc = engine_kill(r->s->o.engine, id, &e); break;
        case B_RESTART: rc = engine_restart(r->s->o.engine, id, &e); break;
        case B_DELETE: rc = engine_delete(r->s->o.engine, id, &e); break;
        default: rc = write_labels(r, id, labels, 0, &e); break;
        }
        if (rc)
            invalid(inv, id, "%s", e.msg);
        else {
            done++;
            if (bulk_kinds[kind].audit)
                srv_audit(r, bulk_kinds[kind].audit, "execution", x.namespace, id, NULL, NULL);
        }
        store_execution_clear(&x);
    }
    if (json_array_size(inv)) {
        char msg[96];
        snprintf(msg, sizeof msg, "bulk %s: %zu done, %zu failed", bulk_kinds[kind].name, done,
                 json_array_size(inv));
        ret = srv_json(r, MHD_HTTP_CONFLICT,
                       json_pack("{s:s,s:I,s:o}", "message", msg, "count", (json_int_t)done, "invalids", inv));
    } else {
        json_decref(inv);
        ret = srv_json(r, MHD_HTTP_OK, json_pack("{s:I}", "count", (json_int_t)done));
    }
out:
    json_decref(labels);
    json_decref(body);
    return ret;
}

enum MHD_Result srv_exec_kill_ids(srv_req *r) { return bulk(r, B_KILL); }
enum MHD_Result srv_exec_restart_ids(srv_req *r) { return bulk(r, B_RESTART); }
enum MHD_Result srv_exec_delete_ids(srv_req *r) { return bulk(r, B_DELETE); }
enum MHD_Result srv_exec_labels_ids(srv_req *r) { return bulk(r, B_LABELS); }
