/*
 * kv.c: /api/v1/namespaces/{namespace}/kv: Kestra's key-value store.
 *
 * PUT takes the value as the body: JSON when it parses as JSON, otherwise
 * the text as a string; a `ttl` header (an ISO-8601 duration, PT1H) makes it
 * expire. GET answers {"type": "STRING"|"NUMBER"|..., "value": ...} as
 * Kestra does. Namespaces starting with "_kite" are kite's own (token
 * hashes): refused here.
 */
#include "server/server_int.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/json_limits.h"
#include "util/mem.h"

#include <ctype.h>
#include <string.h>

static int reserved(srv_req *r)
{
    const char *ns = r->params[0];
    if (!strncmp(ns, "_kite", 5)) {
        srv_error(r, MHD_HTTP_FORBIDDEN, "namespace %s is reserved for kite itself", ns);
        return 1;
    }
    if (!flow_valid_namespace(ns)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "'%s' is not a valid namespace (dot-separated ids)", ns);
        return 1;
    }
    if (r->nparams < 2)
        return 0;
    /* the key rule of the kv tasks (tasks/kv.c); a %00 in the URL arrives
     * as DEL (server.c's unescape), which the rule refuses */
    const unsigned char *k = (const unsigned char *)r->params[1];
    int bad = !isalnum(k[0]);
    for (size_t i = 1; k[i] && !bad; i++)
        bad = !isalnum(k[i]) && k[i] != '.' && k[i] != '_' && k[i] != '-';
    if (bad || strlen((const char *)k) >= STORE_ID_MAX) {
        srv_error(r, MHD_HTTP_BAD_REQUEST,
                  "'%s' is not a valid key: a letter or a digit, then letters, digits, '.', '_' and '-', fewer "
                  "than %d bytes",
                  r->params[1], STORE_ID_MAX);
        return 1;
    }
    return 0;
}

static const char *kv_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "STRING";
    case JSON_INTEGER:
    case JSON_REAL: return "NUMBER";
    case JSON_TRUE:
    case JSON_FALSE: return "BOOLEAN";
    case JSON_NULL: return "NULL";
    default: return "JSON";
    }
}

enum MHD_Result srv_kv_list(srv_req *r)
{
    if (reserved(r))
        return MHD_YES;
    char **keys = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_kv_list(r->s->o.store, r->params[0], &keys, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s}", "key", keys[i]));
    store_strings_free(keys, n);
    return srv_json(r, MHD_HTTP_OK, a);
}

enum MHD_Result srv_kv_get(srv_req *r)
{
    if (reserved(r))
        return MHD_YES;
    json_t *v = NULL;
    kerr e = KERR_INIT;
    if (store_kv_get(r->s->o.store, r->params[0], r->params[1], &v, &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "key %s not found in namespace %s", r->params[1], r->params[0]);
        return srv_kerr_error(r, &e);
    }
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:s,s:o}", "type", kv_type(v), "value", v));
}

enum MHD_Result srv_kv_put(srv_req *r)
{
    if (reserved(r))
        return MHD_YES;
    int64_t expires = 0;
    const char *ttl = srv_header(r, "ttl");
    if (ttl) {
        int64_t us;
        kerr e = KERR_INIT;
        if (duration_parse(ttl, &us, &e) || us <= 0)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "header 'ttl': '%s' is not a positive duration (e.g. PT1H)", ttl);
        expires = store_now_us() + us;
    }
    json_t *v = NULL;
    if (r->body.len) {
        int line, col;
        if (json_text_depth_exceeds(r->body.data, r->body.len, JSON_MAX_DEPTH, &line, &col)) {
            char what[128], msg[192];
            snprintf(what, sizeof what, "the value is nested deeper than %d levels", JSON_MAX_DEPTH);
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", kerr_format_pos(msg, sizeof msg, "body", line, col, what));
        }
        v = json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, NULL);
        if (!v)
            v = json_stringn(r->body.data, r->body.len);
        if (!v)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "the value is neither JSON nor valid UTF-8 text");
    }
    if (!v)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body is empty: send the value (JSON or text)");
    kerr e = KERR_INIT;
    int rc = store_kv_put(r->s->o.store, r->params[0], r->params[1], v, expires, &e);
    json_decref(v);
    if (rc)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
    srv_audit(r, "kv:write", "kv", r->params[0], r->params[1], NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

enum MHD_Result srv_kv_delete(srv_req *r)
{
    if (reserved(r))
        return MHD_YES;
    kerr e = KERR_INIT;
    if (store_kv_delete(r->s->o.store, r->params[0], r->params[1], &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "key %s not found in namespace %s", r->params[1], r->params[0]);
        return srv_kerr_error(r, &e);
    }
    srv_audit(r, "kv:delete", "kv", r->params[0], r->params[1], NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}
