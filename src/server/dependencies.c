/*
 * dependencies.c: GET /api/v1/flows/{namespace}/{id}/dependencies, the
 * flows a flow is tied to, as Kestra's FlowTopologyGraph:
 *
 *   {"nodes": [{"uid": "ns_id", "namespace", "id"}],
 *    "edges": [{"source": uid, "target": uid, "relation": "FLOW_TASK" | "FLOW_TRIGGER"}]}
 *
 * FLOW_TASK: source calls target (a Subflow, Flow or ForEachItem task, at
 * any depth of the source's tasks, errors and finally). FLOW_TRIGGER: the
 * executions of source start target (target has a Flow trigger whose
 * ExecutionFlowCondition names source, or whose ExecutionNamespaceCondition
 * takes source's namespace, or whose preconditions.flows list it).
 *
 * Query (Kestra's): destinationOnly=true keeps the edges that end at the
 * flow (what calls or triggers it); expandAll=true follows the edges on
 * from each flow reached, to the whole connected graph.
 *
 * kite keeps no topology table: the edges are read from the latest revision
 * of every flow the caller may read (flow:read, filtered in the store's
 * query), so a flow of a namespace it cannot read never shows, and a flow
 * named in a readable source shows only as that source names it. A subflow
 * whose namespace or flowId is an expression is left out (it is known only
 * when it runs).
 */
#include "server/server_int.h"
#include "flow/flow.h"
#include "flow/schema.h"
#include "util/mem.h"
#include "util/policy.h"

#include <string.h>

typedef struct dep_edge {
    char *src_ns, *src_id, *dst_ns, *dst_id;
    const char *relation;
} dep_edge;

typedef struct deps {
    dep_edge *v;
    size_t n, cap;
    const store_flow *flows;    /* every readable flow */
    size_t nflows;
} deps;

static void add(deps *d, const char *sns, const char *sid, const char *dns, const char *did, const char *rel)
{
    if (!strcmp(sns, dns) && !strcmp(sid, did) && !strcmp(rel, "FLOW_TRIGGER"))
        return; /* a flow triggered by its own end: no edge to itself */
    for (size_t i = 0; i < d->n; i++) {
        dep_edge *e = &d->v[i];
        if (!strcmp(e->src_ns, sns) && !strcmp(e->src_id, sid) && !strcmp(e->dst_ns, dns) &&
            !strcmp(e->dst_id, did) && !strcmp(e->relation, rel))
            return;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    d->v[d->n++] = (dep_edge){xstrdup(sns), xstrdup(sid), xstrdup(dns), xstrdup(did), rel};
}

static const char *kite_type(const json_t *o)
{
    const type_def *t = flow_type_find(json_string_value(json_object_get(o, "type")));
    return t ? t->name : "";
}

/* A literal (no expression) string property of o, or NULL. */
static const char *literal(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s && !strstr(s, "{{") && !strstr(s, "{%") ? s : NULL;
}

/* Subflow calls anywhere in v (the flow's tasks, errors, finally). */
static void walk_tasks(deps *d, const store_flow *f, const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) walk_tasks(d, f, x);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *t = kite_type(v);
    if (!strcmp(t, "flow.subflow") || !strcmp(t, "flow.foreach_item")) {
        const char *ns = literal(v, "namespace"), *id = literal(v, "flowId");
        if (ns && id)
            add(d, f->namespace, f->id, ns, id, "FLOW_TASK");
    }
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "triggers") && (json_is_array(x) || json_is_object(x)))
            walk_tasks(d, f, x);
    }
}

static int ns_matches(const json_t *cond, const char *have)
{
    const char *ns = json_string_value(json_object_get(cond, "namespace"));
    const char *cmp = json_string_value(json_object_get(cond, "comparison"));
    if (!ns)
        return 0;
    size_t ln = strlen(ns), lh = strlen(have);
    if ((cmp && !strcmp(cmp, "PREFIX")) || (!cmp && json_is_true(json_object_get(cond, "prefix"))))
        return !strncmp(have, ns, ln);
    if (cmp && !strcmp(cmp, "SUFFIX"))
        return lh >= ln && !strcmp(have + lh - ln, ns);
    return !strcmp(have, ns);
}

/* Every readable flow of namespace ns (not f itself) as a source of f. */
static void from_namespace(deps *d, const store_flow *f, const json_t *cond)
{
    for (size_t i = 0; i < d->nflows; i++) {
        const store_flow *u = &d->flows[i];
        if (ns_matches(cond, u->namespace) && (strcmp(u->namespace, f->namespace) || strcmp(u->id, f->id)))
            add(d, u->namespace, u->id, f->namespace, f->id, "FLOW_TRIGGER");
    }
}

static void walk_trigger(deps *d, const store_flow *f, const json_t *trg)
{
    if (strcmp(kite_type(trg), "trigger.flow"))
        return;
    const json_t *conds = json_object_get(trg, "conditions");
    const json_t *nsconds = NULL;
    int flows = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = kite_type(c);
        if (!strcmp(t, "condition.execution_flow")) {
            const char *ns = literal(c, "namespace"), *id = literal(c, "flowId");
            if (ns && id) {
                add(d, ns, id, f->namespace, f->id, "FLOW_TRIGGER");
                flows++;
            }
        } else if (!strcmp(t, "condition.execution_namespace") && !nsconds)
            nsconds = c;
    }
    if (!flows && nsconds)
        from_namespace(d, f, nsconds);
    const json_t *pre = json_object_get(json_object_get(trg, "preconditions"), "flows");
    json_array_foreach(pre, i, c)
    {
        const char *ns = literal(c, "namespace"), *id = literal(c, "flowId");
        if (ns && id)
            add(d, ns, id, f->namespace, f->id, "FLOW_TRIGGER");
        else if (ns)
            from_namespace(d, f, c);
    }
}

static char *uid_of(const char *ns, const char *id) { return xasprintf("%s_%s", ns, id); }

static void add_node(json_t *nodes, json_t *seen, const char *ns, const char *id)
{
    char *uid = uid_of(ns, id);
    if (!json_object_get(seen, uid)) {
        json_object_set_new(seen, uid, json_true());
        json_array_append_new(nodes, json_pack("{s:s,s:s,s:s}", "uid", uid, "namespace", ns, "id", id));
    }
    free(uid);
}

enum MHD_Result srv_flow_dependencies(srv_req *r)
{
    const char *ns = r->params[0], *id = r->params[1];
    const char *a = srv_arg(r, "destinationOnly"), *b = srv_arg(r, "expandAll");
    int dest_only = a && (!strcmp(a, "true") || !strcmp(a, "1"));
    int expand = b && (!strcmp(b, "true") || !strcmp(b, "1"));
    kerr e = KERR_INIT;
    store_flow me = {0};
    if (store_flow_get(r->s->o.store, ns, id, 0, &me, &e)) {
        if (e.code == KERR_NOT_FOUND)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s not found", ns, id);
        return srv_kerr_error(r, &e);
    }
    store_flow_clear(&me);
    srv_ns_filter nf;
    store_flow_query q = {.ns_filter = srv_ns_filter_init(&nf, r, PA_FLOW_READ)};
    store_flow *fl = NULL;
    size_t n = 0;
    if (store_flow_search(r->s->o.store, &q, &fl, &n, NULL, &e))
        return srv_kerr_error(r, &e);
    deps d = {.flows = fl, .nflows = n};
    for (size_t i = 0; i < n; i++) {
        json_t *doc = fl[i].json ? json_incref(fl[i].json) : NULL;
        if (!doc) {
            kerr pe = KERR_INIT;
            if (yaml_load(fl[i].source, strlen(fl[i].source), NULL, &doc, NULL, &pe))
                continue; /* a flow that no longer parses ties nothing */
        }
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
        {
            if (strcmp(k, "triggers"))
                walk_tasks(&d, &fl[i], v);
        }
        size_t t;
        json_t *trg;
        json_array_foreach(json_object_get(doc, "triggers"), t, trg) walk_trigger(&d, &fl[i], trg);
        json_decref(doc);
    }

    /* the edges of the flow, then (expandAll) of each flow reached */
    json_t *nodes = json_array(), *edges = json_array(), *seen = json_object(), *done = json_object();
    char **queue_ns = xcalloc(d.n * 2 + 1, sizeof *queue_ns), **queue_id = xcalloc(d.n * 2 + 1, sizeof *queue_id);
    size_t nt = 0, at = 0;
    queue_ns[nt] = (char *)ns;
    queue_id[nt++] = (char *)id;
    char *self = uid_of(ns, id);
    json_object_set_new(done, self, json_true());
    free(self);
    add_node(nodes, seen, ns, id);
    char *used = xcalloc(d.n + 1, 1);
    while (at < nt) {
        const char *cns = queue_ns[at], *cid = queue_id[at];
        at++;
        for (size_t i = 0; i < d.n; i++) {
            dep_edge *x = &d.v[i];
            int as_dst = !strcmp(x->dst_ns, cns) && !strcmp(x->dst_id, cid);
            int as_src = !strcmp(x->src_ns, cns) && !strcmp(x->src_id, cid);
            if (used[i] || !(as_dst || (as_src && !dest_only)))
                continue;
            used[i] = 1;
            add_node(nodes, seen, x->src_ns, x->src_id);
            add_node(nodes, seen, x->dst_ns, x->dst_id);
            char *su = uid_of(x->src_ns, x->src_id), *du = uid_of(x->dst_ns, x->dst_id);
            json_array_append_new(edges, json_pack("{s:s,s:s,s:s}", "source", su, "target", du, "relation", x->relation));
            if (expand) {
                const char *ons = as_dst ? x->src_ns : x->dst_ns, *oid = as_dst ? x->src_id : x->dst_id;
                char *ou = as_dst ? su : du;
                if (!json_object_get(done, ou)) {
                    json_object_set_new(done, ou, json_true());
                    queue_ns[nt] = (char *)ons;
                    queue_id[nt++] = (char *)oid;
                }
            }
            free(su);
            free(du);
        }
    }
    free(used);
    free(queue_ns);
    free(queue_id);
    json_decref(seen);
    json_decref(done);
    for (size_t i = 0; i < d.n; i++) {
        free(d.v[i].src_ns);
        free(d.v[i].src_id);
        free(d.v[i].dst_ns);
        free(d.v[i].dst_id);
    }
    free(d.v);
    store_flows_free(fl, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:o}", "nodes", nodes, "edges", edges));
}
