/*
 * webhooks.c: /api/v1/executions/webhook/{namespace}/{flowId}/{key}
 * (GET, POST, PUT), with no bearer token: the key guards it.
 *
 * The key is checked first, when the headers are in and before the body is
 * read (server.c calls sched_webhook_precheck: the store's index of webhook
 * keys, no flow read), so a wrong key costs neither the flow's parsing nor
 * the body's memory. Then the request is handed to the scheduler's matcher (sched_webhook_find),
 * which finds the flow's Webhook trigger with that key (rendered, so
 * `{{ secret('X') }}` works), checks the trigger is enabled and evaluates
 * its conditions; the execution gets trigger.body (parsed JSON when the
 * body is JSON, else the text), trigger.headers and trigger.parameters
 * ({"name": ["value", ...]}, as Kestra shows them; header names in lower
 * case, the Authorization header left out).
 *
 * Answers: the execution (Kestra's JSON), or its outputs with the trigger's
 * `returnOutputs`, once it ended with `wait: true`, with the trigger's
 * `responseCode`; 404 for an unknown flow or key (also a disabled one: the
 * URL must not tell a guesser that the key was right), the same answer
 * whatever the reason; 200 with
 * {"executed": false} when the conditions are false.
 */
#include "server/server_int.h"
#include "util/json_limits.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum MHD_Result srv_webhook_not_found(srv_req *r)
{
    return srv_error(r, MHD_HTTP_NOT_FOUND, "no webhook at this URL");
}

enum MHD_Result srv_webhook(srv_req *r)
{
    const char *ns = r->params[0], *flow_id = r->params[1], *key = r->params[2];
    __atomic_add_fetch(&r->s->webhooks, 1, __ATOMIC_RELAXED);
    if (!r->s->o.sched)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "webhooks need the scheduler, which this server does not run");
    json_t *body = NULL;
    if (r->body.len) {
        int line, col;
        if (json_text_depth_exceeds(r->body.data, r->body.len, JSON_MAX_DEPTH, &line, &col)) {
            char what[128], msg[192];
            snprintf(what, sizeof what, "the webhook body is nested deeper than %d levels", JSON_MAX_DEPTH);
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", kerr_format_pos(msg, sizeof msg, "body", line, col, what));
        }
        body = json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, NULL);
        if (!body)
            body = json_stringn(r->body.data, r->body.len);
        if (!body)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "the webhook body is neither JSON nor UTF-8 text");
    }
    kv_acc h = {json_object(), 1}, p = {json_object(), 0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_value, &h);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_value, &p);
    sched_webhook_req rq = {.method = r->method, .body = body, .headers = h.out, .parameters = p.out};
    sched_webhook w = {0};
    kerr e = KERR_INIT;
    int rc = sched_webhook_find(r->s->o.sched, ns, flow_id, key, &rq, &w, &e);
    json_decref(body);
    json_decref(h.out);
    json_decref(p.out);
    if (rc == SCHED_NOT_FOUND)
        return srv_webhook_not_found(r);
    if (rc < 0) {
        /* the detail (a key or a condition that fails to render) goes to the
         * server's log, not to an unauthenticated caller */
        fprintf(stderr, "kite server: webhook %s.%s: %s\n", ns, flow_id, e.msg);
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         "the webhook trigger cannot be evaluated: the server's log says why");
    }
    enum MHD_Result res;
    if (rc == SCHED_SKIPPED) {
        res = srv_json(r, MHD_HTTP_OK,
                       json_pack("{s:b,s:s}", "executed", 0, "message",
                                 "the webhook trigger's conditions are false: no execution was created"));
        sched_webhook_clear(&w);
        return res;
    }
    char id[STORE_ID_LEN + 1];
    if (sched_webhook_submit(r->s->o.sched, ns, flow_id, &w, id, &e)) {
        sched_webhook_clear(&w);
        return srv_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "%s", e.msg);
    }
    unsigned status = w.response_code >= 200 && w.response_code < 600 ? (unsigned)w.response_code : MHD_HTTP_OK;
    res = srv_exec_answer(r, id, w.wait, status, w.wait && w.return_outputs);
    sched_webhook_clear(&w);
    return res;
}
