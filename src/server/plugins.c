/*
 * plugins.c: /api/v1/plugins: the task, trigger and condition types kite
 * knows, for the UI editor's autocompletion: their list with a summary of
 * their properties, one type's JSON Schema, and the whole flow document's.
 *
 * Everything comes from the type registry (flow/schema.h), as `kite plugins
 * list --json` and `kite plugins schema` print it: the same tables validate
 * flows, so the editor completes what the server accepts.
 */
#include "server/server_int.h"
#include "flow/flow.h"

#include <string.h>

typedef struct plist {
    int kind;        /* -1: all; 100: runnable and flowable */
    json_t *out;
} plist;

static void add_one(const type_def *d, void *arg)
{
    plist *p = arg;
    if (p->kind == 100 ? d->kind != TK_RUNNABLE && d->kind != TK_FLOWABLE : p->kind >= 0 && (int)d->kind != p->kind)
        return;
    json_array_append_new(p->out, flow_type_summary(d));
}

json_t *srv__plugin_kinds(void)
{
    json_t *a = json_pack("[s]", "task"); /* runnable and flowable */
    for (int i = TK_RUNNABLE; i <= TK_OTHER; i++)
        json_array_append_new(a, json_string(flow_kind_name(i)));
    return a;
}

enum MHD_Result srv_plugins_list(srv_req *r)
{
    plist p = {-1, NULL};
    const char *k = srv_arg(r, "kind");
    if (k) {
        if (!strcmp(k, "task"))
            p.kind = 100;
        for (int i = TK_RUNNABLE; i <= TK_OTHER && p.kind < 0; i++)
            if (!strcmp(k, flow_kind_name(i)))
                p.kind = i;
        if (p.kind < 0) {
            json_t *kinds = srv__plugin_kinds();
            buf names = BUF_INIT;
            size_t i;
            json_t *v;
            json_array_foreach(kinds, i, v) buf_printf(&names, "%s%s", i ? ", " : "", json_string_value(v));
            json_decref(kinds);
            enum MHD_Result rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'kind': '%s' is not one of %s", k, buf_str(&names));
            buf_free(&names);
            return rc;
        }
    }
    p.out = json_array();
    flow_registry_each(add_one, &p);
    return srv_json(r, MHD_HTTP_OK, p.out);
}

static enum MHD_Result unknown_type(srv_req *r, const char *name)
{
    const char *near = flow_type_suggest(name, -1);
    if (near)
        return srv_error(r, MHD_HTTP_NOT_FOUND, "unknown type '%s' (did you mean '%s'?)", name, near);
    return srv_error(r, MHD_HTTP_NOT_FOUND, "unknown type '%s' (GET /api/v1/plugins lists them)", name);
}

enum MHD_Result srv_plugins_schema(srv_req *r)
{
    const char *type = r->params[0];
    json_t *s = flow_json_schema(!strcmp(type, "flow") ? NULL : type);
    if (!s)
        return unknown_type(r, type);
    return srv_json(r, MHD_HTTP_OK, s);
}

enum MHD_Result srv_plugins_get(srv_req *r)
{
    const type_def *d = flow_type_find(r->params[0]);
    if (!d)
        return unknown_type(r, r->params[0]);
    json_t *j = flow_type_summary(d);
    json_object_set_new(j, "cls", json_string(r->params[0]));
    json_object_set_new(j, "schema", flow_json_schema(r->params[0]));
    return srv_json(r, MHD_HTTP_OK, j);
}
