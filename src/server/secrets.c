/*
 * secrets.c: /api/v1/namespaces/{namespace}/secrets: kite's secrets store.
 *
 * PUT .../secrets/{name} takes the value as the body: the raw text
 * (text/plain, or any type that is not JSON), or {"value": "..."} with
 * Content-Type application/json. GET .../secrets lists what the namespace
 * sees, its own and its parents' ([{"name", "namespace", "updated"}]);
 * no route ever answers a value. DELETE removes the namespace's own one.
 * The values are sealed at rest (store/secret.c); the server's process
 * opened the store with its key at start.
 */
#include "server/server_int.h"
#include "util/policy.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <string.h>
#include <strings.h>

static int bad_target(srv_req *r)
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
    kerr e = KERR_INIT;
    if (r->nparams > 1 && store_secret_check_name(r->params[1], &e)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
        return 1;
    }
    return 0;
}

enum MHD_Result srv_secret_list(srv_req *r)
{
    if (bad_target(r))
        return MHD_YES;
    store_secret_info *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_secret_list(r->s->o.store, r->params[0], &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!srv_allowed(r, PA_SECRET_READ, v[i].namespace))
            continue; /* a parent's secrets the caller may not see */
        char when[40];
        datetime_format(v[i].updated_us, tz_utc(), when, sizeof when);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", v[i].name, "namespace", v[i].namespace,
                                           "updated", when));
    }
    store_secret_infos_free(v, n);
    return srv_json(r, MHD_HTTP_OK, a);
}

enum MHD_Result srv_secret_put(srv_req *r)
{
    if (bad_target(r))
        return MHD_YES;
    const char *ct = srv_header(r, "Content-Type");
    const char *val = r->body.data;
    size_t n = r->body.len;
    json_t *j = NULL;
    if (ct && !strncasecmp(ct, "application/json", 16)) {
        j = json_loadb(r->body.data, r->body.len, 0, NULL);
        const json_t *v = json_object_get(j, "value");
        if (!json_is_string(v)) {
            json_decref(j);
            return srv_error(r, MHD_HTTP_BAD_REQUEST,
                             "a JSON body must be {\"value\": \"...\"} (or send the raw value as text/plain)");
        }
        val = json_string_value(v);
        n = json_string_length(v);
    }
    if (!n) {
        json_decref(j);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body is empty: send the secret's value");
    }
    kerr e = KERR_INIT;
    int rc = store_secret_put(r->s->o.store, r->params[0], r->params[1], val, n, &e);
    if (j) {
        explicit_bzero((char *)val, n);
        json_decref(j);
    }
    if (r->body.data)
        explicit_bzero(r->body.data, r->body.len);
    if (rc)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
    srv_audit(r, "secret:write", "secret", r->params[0], r->params[1], NULL, NULL); /* the name, never the value */
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

enum MHD_Result srv_secret_delete(srv_req *r)
{
    if (bad_target(r))
        return MHD_YES;
    kerr e = KERR_INIT;
    if (store_secret_delete(r->s->o.store, r->params[0], r->params[1], &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_setc(&e, KERR_NOT_FOUND, "secret %s not found in namespace %s", r->params[1], r->params[0]);
        return srv_kerr_error(r, &e);
    }
    srv_audit(r, "secret:delete", "secret", r->params[0], r->params[1], NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}
