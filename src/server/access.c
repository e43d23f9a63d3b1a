/*
 * access.c: what each route needs, checked once its headers are in.
 *
 * Every route of server.c's table has a row here: the action it needs
 * (util/policy.h) and where the namespace the action applies to comes
 * from. test_server checks that the two tables agree, so that a new route
 * without a declared action fails the tests instead of being open: a route
 * with no row is refused to everyone but a principal allowed server:admin.
 *
 *   T_NS     the namespace is the route's first parameter
 *   T_EXEC   the first parameter is an execution id: the execution is read
 *            and its own namespace decides
 *   T_LIST   a search: the handler filters the rows in the query
 *            (srv_ns_filter_init), nothing to check here
 *   T_BODY   the namespace is in the body: the handler calls srv_authorize
 *   T_GLOBAL the action must be allowed on every namespace ("*")
 *   T_ANY    any authenticated caller (the handler narrows: own tokens)
 *
 * No existence leak: when the caller may not read the object (its read
 * action is not allowed on its namespace), the answer is the same 404, with
 * the same message, as for an object that does not exist. A caller who may
 * read it but not do the action gets 403.
 */
#include "server/server_int.h"
#include "util/mem.h"
#include "util/policy.h"

#include <string.h>

enum { T_NS = 1, T_EXEC, T_LIST, T_BODY, T_GLOBAL, T_ANY };
/* the 404 message of a missing object, by route family */
enum { NF_NONE, NF_FLOW, NF_EXEC, NF_KV, NF_SECRET, NF_NS };

typedef struct route_access {
    const char *method, *pattern;
    int action, read_action;    /* read_action -1: the action itself */
    int target, nf;
} route_access;

#define API "/api/v1"

static const route_access table[] = {
    {"GET", API "/openapi.json", -1, -1, T_ANY, NF_NONE},
    {"GET", API "/plugins", -1, -1, T_ANY, NF_NONE},
    {"GET", API "/plugins/schemas/{type}", -1, -1, T_ANY, NF_NONE},
    {"GET", API "/plugins/{cls}", -1, -1, T_ANY, NF_NONE},

    {"POST", API "/flows", PA_FLOW_WRITE, -1, T_BODY, NF_NONE},
    {"GET", API "/flows/search", PA_FLOW_READ, -1, T_LIST, NF_NONE},
    {"POST", API "/flows/validate", PA_FLOW_READ, -1, T_ANY, NF_NONE},
    {"GET", API "/flows/{namespace}", PA_FLOW_READ, -1, T_NS, NF_NS},
    {"PUT", API "/flows/{namespace}", PA_FLOW_WRITE, PA_FLOW_READ, T_NS, NF_NS},
    {"GET", API "/flows/{namespace}/{id}", PA_FLOW_READ, -1, T_NS, NF_FLOW},
    {"PUT", API "/flows/{namespace}/{id}", PA_FLOW_WRITE, PA_FLOW_READ, T_NS, NF_FLOW},
    {"DELETE", API "/flows/{namespace}/{id}", PA_FLOW_DELETE, PA_FLOW_READ, T_NS, NF_FLOW},
    {"GET", API "/flows/{namespace}/{id}/revisions", PA_FLOW_READ, -1, T_NS, NF_FLOW},
    {"GET", API "/flows/{namespace}/{id}/graph", PA_FLOW_READ, -1, T_NS, NF_FLOW},
    {"GET", API "/flows/{namespace}/{id}/dependencies", PA_FLOW_READ, -1, T_NS, NF_FLOW},

    {"GET", API "/executions/search", PA_EXECUTION_READ, -1, T_LIST, NF_NONE},
    /* statistics: filtered by the caller's bindings in the query (stats.c);
     * bulk routes: each id is checked by bulk.c (unreadable ones are "not found") */
    {"GET", API "/executions/statistics", PA_EXECUTION_READ, -1, T_LIST, NF_NONE},
    {"DELETE", API "/executions/kill/by-ids", PA_EXECUTION_KILL, -1, T_BODY, NF_NONE},
    {"POST", API "/executions/kill/by-ids", PA_EXECUTION_KILL, -1, T_BODY, NF_NONE},
    {"POST", API "/executions/restart/by-ids", PA_EXECUTION_REPLAY, -1, T_BODY, NF_NONE},
    {"DELETE", API "/executions/by-ids", PA_EXECUTION_DELETE, -1, T_BODY, NF_NONE},
    {"POST", API "/executions/labels/by-ids", PA_EXECUTION_CREATE, -1, T_BODY, NF_NONE},
    {"POST", API "/executions/{id}/labels", PA_EXECUTION_CREATE, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"GET", API "/executions/{id}", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},
    {"DELETE", API "/executions/{id}", PA_EXECUTION_DELETE, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"DELETE", API "/executions/{id}/kill", PA_EXECUTION_KILL, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"POST", API "/executions/{id}/kill", PA_EXECUTION_KILL, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"POST", API "/executions/{id}/restart", PA_EXECUTION_REPLAY, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"POST", API "/executions/{id}/replay", PA_EXECUTION_REPLAY, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"POST", API "/executions/{id}/resume", PA_EXECUTION_CREATE, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"GET", API "/executions/{id}/follow", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},
    {"GET", API "/executions/{id}/file", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},
    {"GET", API "/executions/{id}/taskruns", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},
    {"GET", API "/executions/{id}/taskruns/groups", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},
    {"POST", API "/executions/{namespace}/{flowId}", PA_EXECUTION_CREATE, PA_FLOW_READ, T_NS, NF_FLOW},
    {"POST", API "/executions/trigger/{namespace}/{flowId}", PA_EXECUTION_CREATE, PA_FLOW_READ, T_NS, NF_FLOW},

    {"GET", API "/logs/{executionId}", PA_LOG_READ, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"GET", API "/logs/{executionId}/follow", PA_LOG_READ, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"GET", API "/logs/{executionId}/download", PA_LOG_READ, PA_EXECUTION_READ, T_EXEC, NF_EXEC},
    {"GET", API "/metrics/{executionId}", PA_EXECUTION_READ, -1, T_EXEC, NF_EXEC},

    {"GET", API "/namespaces/{namespace}/kv", PA_KV_READ, -1, T_NS, NF_NS},
    {"GET", API "/namespaces/{namespace}/kv/{key}", PA_KV_READ, -1, T_NS, NF_KV},
    {"PUT", API "/namespaces/{namespace}/kv/{key}", PA_KV_WRITE, PA_KV_READ, T_NS, NF_KV},
    {"DELETE", API "/namespaces/{namespace}/kv/{key}", PA_KV_WRITE, PA_KV_READ, T_NS, NF_KV},

    {"GET", API "/namespaces", PA_FLOW_READ, -1, T_LIST, NF_NONE},
    {"GET", API "/namespaces/search", PA_FLOW_READ, -1, T_LIST, NF_NONE},
    {"GET", API "/namespaces/{namespace}/files", PA_NSFILE_READ, -1, T_NS, NF_NS},
    {"GET", API "/namespaces/{namespace}/files/directory", PA_NSFILE_READ, -1, T_NS, NF_NS},
    {"POST", API "/namespaces/{namespace}/files", PA_NSFILE_WRITE, PA_NSFILE_READ, T_NS, NF_NS},
    {"PUT", API "/namespaces/{namespace}/files", PA_NSFILE_WRITE, PA_NSFILE_READ, T_NS, NF_NS},
    {"DELETE", API "/namespaces/{namespace}/files", PA_NSFILE_WRITE, PA_NSFILE_READ, T_NS, NF_NS},

    {"GET", API "/namespaces/{namespace}/secrets", PA_SECRET_READ, -1, T_NS, NF_NS},
    {"PUT", API "/namespaces/{namespace}/secrets/{name}", PA_SECRET_WRITE, PA_SECRET_READ, T_NS, NF_SECRET},
    {"DELETE", API "/namespaces/{namespace}/secrets/{name}", PA_SECRET_WRITE, PA_SECRET_READ, T_NS, NF_SECRET},

    {"GET", API "/triggers/search", PA_TRIGGER_READ, -1, T_LIST, NF_NONE},
    {"PUT", API "/triggers", PA_TRIGGER_WRITE, -1, T_BODY, NF_NONE},

    /* access control itself (iam.c) */
    {"GET", API "/users", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"POST", API "/users", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"PUT", API "/users/{name}", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"DELETE", API "/users/{name}", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"GET", API "/tokens", -1, -1, T_ANY, NF_NONE},
    {"POST", API "/tokens", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"DELETE", API "/tokens/{id}", -1, -1, T_ANY, NF_NONE},
    {"GET", API "/roles", -1, -1, T_ANY, NF_NONE},
    {"PUT", API "/roles/{name}", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"DELETE", API "/roles/{name}", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"GET", API "/bindings", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"POST", API "/bindings", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"DELETE", API "/bindings/{id}", PA_USER_ADMIN, -1, T_GLOBAL, NF_NONE},
    {"GET", API "/audit", PA_AUDIT_READ, -1, T_GLOBAL, NF_NONE},
    {"GET", API "/auth/me", -1, -1, T_ANY, NF_NONE},
    {"POST", API "/logout", -1, -1, T_ANY, NF_NONE},
    {"GET", API "/me", -1, -1, T_ANY, NF_NONE},
};

#define NTABLE (sizeof table / sizeof table[0])

static const route_access *find(const srv_route *rt)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (!strcmp(table[i].method, rt->method) && !strcmp(table[i].pattern, rt->pattern))
            return &table[i];
    return NULL;
}

int srv__route_action(const srv_route *rt, int *target)
{
    const route_access *a = find(rt);
    if (target)
        *target = a ? a->target : 0;
    if (!a)
        return -1;
    return a->target == T_ANY ? PA__COUNT : a->action;
}

static int not_found(srv_req *r, int nf)
{
    const char *p0 = r->nparams > 0 ? r->params[0] : "", *p1 = r->nparams > 1 ? r->params[1] : "";
    switch (nf) {
    case NF_FLOW: srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s not found", p0, p1); break;
    case NF_EXEC: srv_error(r, MHD_HTTP_NOT_FOUND, "execution %s not found", p0); break;
    case NF_KV: srv_error(r, MHD_HTTP_NOT_FOUND, "key %s not found in namespace %s", p1, p0); break;
    case NF_SECRET: srv_error(r, MHD_HTTP_NOT_FOUND, "secret %s not found in namespace %s", p1, p0); break;
    default: srv_error(r, MHD_HTTP_NOT_FOUND, "namespace %s not found", p0); break;
    }
    return -1;
}

static int forbidden(srv_req *r, int action, const char *ns)
{
    srv_error(r, MHD_HTTP_FORBIDDEN, "%s may not %s%s%s", r->who.name, policy_action_name(action),
              ns && *ns ? " in namespace " : "", ns && *ns ? ns : " (on every namespace)");
    return -1;
}

int srv_access_route(srv_req *r)
{
    const route_access *a = find(r->route);
    if (!a) {
        if (srv_allowed(r, PA_SERVER_ADMIN, ""))
            return 0;
        return forbidden(r, PA_SERVER_ADMIN, "");
    }
    switch (a->target) {
    case T_ANY:
    case T_LIST:
    case T_BODY:
        return 0;
    case T_GLOBAL:
        return srv_allowed(r, a->action, "") ? 0 : forbidden(r, a->action, "");
    default: break;
    }
    const char *ns = r->nparams > 0 ? r->params[0] : NULL;
    char *owned = NULL;
    if (a->target == T_EXEC) {
        store_execution x;
        kerr e = KERR_INIT;
        int rc = ns ? store_execution_get(r->s->o.store, ns, &x, &e) : STORE_NOT_FOUND;
        if (rc == STORE_NOT_FOUND)
            return 0; /* the handler answers its own 404, the same one */
        if (rc) {
            srv_kerr_error(r, &e);
            return -1;
        }
        owned = xstrdup(x.namespace);
        snprintf(r->obj_ns, sizeof r->obj_ns, "%s", x.namespace);
        store_execution_clear(&x);
        ns = owned;
    }
    int rc = 0;
    if (!ns)
        rc = not_found(r, a->nf);
    else if (!srv_allowed(r, a->action, ns)) {
        int ra = a->read_action >= 0 ? a->read_action : a->action;
        if (ra != a->action && srv_allowed(r, ra, ns))
            rc = forbidden(r, a->action, ns);
        else
            rc = not_found(r, a->nf);
    }
    free(owned);
    return rc;
}

int srv_authorize(srv_req *r, int action, const char *ns)
{
    return srv_allowed(r, action, ns) ? 0 : forbidden(r, action, ns);
}

/* ---- audit ------------------------------------------------------------------------------ */

void srv_audit(srv_req *r, const char *action, const char *kind, const char *ns, const char *id, json_t *before,
               json_t *after)
{
    /* the client's address, or the one a trusted proxy names (proxy.c) */
    const char *addr = r->conn ? srv_client_addr(r) : "";
    store_audit a = {.principal = r->who.name[0] ? r->who.name : "anonymous",
                     .address = addr && addr[0] && strcmp(addr, "?") ? (char *)addr : NULL,
                     .action = (char *)action,
                     .kind = (char *)kind,
                     .namespace = (char *)ns,
                     .object_id = (char *)id,
                     .before = before,
                     .after = after};
    kerr e = KERR_INIT;
    if (store_audit_append(r->s->o.store, &a, NULL, &e))
        fprintf(stderr, "kite server: cannot write the audit log: %s\n", e.msg);
}
