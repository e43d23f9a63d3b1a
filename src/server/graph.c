/*
 * graph.c: GET /api/v1/flows/{namespace}/{id}/graph, a flow as Kestra's
 * FlowGraph (io.kestra.core.models.hierarchies): the topology the UI draws.
 *
 *   {"nodes": [{"uid", "type", "task"?, "relationType"?, "branchType"?,
 *               "triggerDeclaration"?}],
 *    "edges": [{"source", "target", "relation": {"relationType"?, "value"?}}],
 *    "clusters": [{"cluster": {"uid", "type", "relationType"?, "taskNode"?,
 *                              "branchType"?},
 *                  "nodes": [uids], "parents": [cluster uids], "start", "end"}]}
 *
 * It follows Kestra's GraphUtils: the flow is a cluster "root" with a start
 * and an end node; a flowable task is a cluster of its own (its task node
 * right after its start, then its children as its kind lays them out:
 * SEQUENTIAL one after the other, PARALLEL all from the task node and all
 * to the end, CHOICE branches (If's then/else, Switch's cases) each with
 * its value, DYNAMIC for the loops, Dag tasks linked by their dependsOn);
 * `errors` hang off the cluster's start with relation ERROR, `finally`
 * tasks follow a finally node (FINALLY), and triggers are a cluster of
 * their own whose end leads to the flow's start. Subflow and ForEachItem
 * are SubflowGraphTask nodes.
 *
 * A finally (or afterExecution) node exists only when the cluster has such
 * tasks: Kestra makes one always and removes it when it stays empty, with
 * the same edges as a result.
 *
 * A flowable's task node carries its task without its nested task lists
 * (tasks, then, else, cases, defaults, errors, finally): those tasks are
 * nodes of their own, and Kestra's full copy made the answer grow with the
 * square of the nesting (a task's properties sent once per enclosing
 * flowable, twice each: in nodes and in its cluster's taskNode).
 *
 * Unlike Kestra, uids are deterministic (Kestra's start/end nodes get a
 * random id): a cluster's start, end and finally nodes are
 * "<cluster>._root", "._end" and "._finally", which no task id can spell
 * (ids begin with a letter or a digit), so a graph is the same at every
 * call and tests can name its nodes. Nodes of an errors or finally branch
 * carry branchType (ERROR, FINALLY) down to their nested tasks.
 *
 * The flow is read from its stored JSON document (no validation, no
 * rendering): one pass over the document, each task placed once, so the
 * cost is linear in the size of the flow.
 */
#include "server/server_int.h"
#include "flow/flow.h"
#include "util/mem.h"

#include <string.h>

#define HIER "io.kestra.core.models.hierarchies."

typedef enum rel { R_NONE, R_SEQUENTIAL, R_PARALLEL, R_CHOICE, R_ERROR, R_FINALLY, R_DYNAMIC, R_AFTER } rel;
static const char *const rel_names[] = {NULL, "SEQUENTIAL", "PARALLEL", "CHOICE", "ERROR", "FINALLY",
                                        "DYNAMIC", "AFTER_EXECUTION"};

typedef struct gb {
    json_t *nodes, *edges, *clusters;
} gb;

/* A cluster being filled. */
typedef struct gcl {
    char *prefix;            /* "root", "root.par" */
    char *root, *end, *fin, *after; /* fin, after: NULL when the cluster has none */
    const char *task_node;   /* NULL for the flow and the triggers */
    rel relation;            /* the cluster's own relationType */
    json_t *members;         /* uids of its direct nodes (borrowed from its cluster entry) */
    json_t *parents;         /* cluster uids above it (owned) */
    const char *branch;      /* "ERROR", "FINALLY" or NULL */
} gcl;

/* Where a placed task is entered and left. */
typedef struct gplace {
    char *entry, *exit;
} gplace;

static void place_free(gplace *p)
{
    free(p->entry);
    free(p->exit);
}

static void add_node(gb *b, gcl *g, json_t *node /* stolen */)
{
    json_array_append(g->members, json_object_get(node, "uid"));
    json_array_append_new(b->nodes, node);
}

static json_t *plain_node(const char *uid, const char *type, const char *branch)
{
    char t[96];
    snprintf(t, sizeof t, HIER "%s", type);
    json_t *n = json_object();
    json_object_set_new(n, "uid", json_string(uid));
    json_object_set_new(n, "type", json_string(t));
    if (branch)
        json_object_set_new(n, "branchType", json_string(branch));
    return n;
}

static void add_edge(gb *b, const char *src, const char *dst, rel r, const char *value)
{
    json_t *rl = json_object();
    if (r != R_NONE)
        json_object_set_new(rl, "relationType", json_string(rel_names[r]));
    if (value)
        json_object_set_new(rl, "value", json_string(value));
    json_t *e = json_object();
    json_object_set_new(e, "source", json_string(src));
    json_object_set_new(e, "target", json_string(dst));
    json_object_set_new(e, "relation", rl);
    json_array_append_new(b->edges, e);
}

/* ---- what a task is -------------------------------------------------------------- */

enum { K_TASK, K_SUBFLOW, K_SEQ, K_PAR, K_FOREACH, K_LOOP, K_IF, K_SWITCH, K_DAG };

static const struct {
    const char *name;
    int kind;
    rel relation;
} kinds[] = {
    {"flow.sequential", K_SEQ, R_SEQUENTIAL},      {"flow.allow_failure", K_SEQ, R_SEQUENTIAL},
    {"flow.working_directory", K_SEQ, R_SEQUENTIAL}, {"flow.loop_until", K_SEQ, R_SEQUENTIAL},
    {"flow.pause", K_SEQ, R_SEQUENTIAL},            {"flow.parallel", K_PAR, R_PARALLEL},
    {"flow.each_sequential", K_SEQ, R_DYNAMIC},     {"flow.each_parallel", K_PAR, R_DYNAMIC},
    {"flow.foreach", K_FOREACH, R_DYNAMIC},         {"flow.loop", K_LOOP, R_DYNAMIC},
    {"flow.if", K_IF, R_CHOICE},                    {"flow.switch", K_SWITCH, R_CHOICE},
    {"flow.dag", K_DAG, R_DYNAMIC},                 {"flow.subflow", K_SUBFLOW, R_NONE},
    {"flow.foreach_item", K_SUBFLOW, R_NONE},
};

static int task_kind(const json_t *task, rel *cluster_rel)
{
    const type_def *d = flow_type_find(json_string_value(json_object_get(task, "type")));
    *cluster_rel = R_NONE;
    if (!d || d->kind != TK_FLOWABLE)
        return K_TASK;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, d->name))
            continue;
        int k = kinds[i].kind;
        *cluster_rel = kinds[i].relation;
        /* a Pause (or another sequence) without tasks is one node */
        if (k == K_SEQ || k == K_PAR || k == K_FOREACH || k == K_LOOP) {
            const json_t *t = json_object_get(task, "tasks");
            if (!json_is_array(t) || !json_array_size(t))
                return K_TASK;
        }
        return k;
    }
    /* a flowable kite lays out no other way: its tasks in sequence */
    const json_t *t = json_object_get(task, "tasks");
    if (json_is_array(t) && json_array_size(t)) {
        *cluster_rel = R_SEQUENTIAL;
        return K_SEQ;
    }
    return K_TASK;
}

/* ---- filling a cluster ----------------------------------------------------------- */

static void fill(gb *b, gcl *g, const json_t *tasks, rel relation, const char *value);
static void fill_dag(gb *b, gcl *g, const json_t *tasks);
static void fill_alternatives(gb *b, gcl *g, const json_t *obj);

/* The node after the main path of g (its finally node, else its end). */
static const char *next_of(const gcl *g, rel relation)
{
    if (relation == R_AFTER)
        return g->end;
    if (relation == R_FINALLY)
        return g->after ? g->after : g->end;
    return g->fin ? g->fin : g->after ? g->after : g->end;
}

static int has_tasks(const json_t *obj, const char *key)
{
    const json_t *t = json_object_get(obj, key);
    return json_is_array(t) && json_array_size(t) > 0;
}

/* Opens the cluster of prefix in g (parent NULL for the flow itself): its
 * start, finally and end nodes; a flowable's task node comes next. */
static void cluster_open(gb *b, gcl *g, const gcl *parent, const char *prefix, rel relation, const char *branch,
                         int with_finally, int with_after, json_t *task_node /* stolen, may be NULL */)
{
    memset(g, 0, sizeof *g);
    g->prefix = xstrdup(prefix);
    g->root = xasprintf("%s._root", prefix);
    g->end = xasprintf("%s._end", prefix);
    g->fin = with_finally ? xasprintf("%s._finally", prefix) : NULL;
    g->after = with_after ? xasprintf("%s._afterExecution", prefix) : NULL;
    g->relation = relation;
    g->branch = branch;
    g->parents = json_array();
    json_t *members = json_array();
    if (parent) {
        json_array_extend(g->parents, parent->parents);
        if (parent->task_node || strcmp(parent->prefix, "root"))
            json_array_append_new(g->parents, json_sprintf("cluster_%s", parent->prefix));
        json_t *cl = json_pack("{s:s+,s:s+}", "uid", "cluster_", prefix, "type", HIER, "GraphCluster");
        if (relation != R_NONE)
            json_object_set_new(cl, "relationType", json_string(rel_names[relation]));
        if (task_node)
            json_object_set(cl, "taskNode", task_node);
        if (branch)
            json_object_set_new(cl, "branchType", json_string(branch));
        json_array_append_new(b->clusters, json_pack("{s:o,s:O,s:O,s:s,s:s}", "cluster", cl, "nodes", members,
                                                     "parents", g->parents, "start", g->root, "end", g->end));
        json_array_append(parent->members, json_object_get(cl, "uid"));
    }
    g->members = members;
    add_node(b, g, plain_node(g->root, "GraphClusterRoot", branch));
    if (g->fin)
        add_node(b, g, plain_node(g->fin, "GraphClusterFinally", branch));
    if (g->after)
        add_node(b, g, plain_node(g->after, "GraphClusterAfterExecution", branch));
    add_node(b, g, plain_node(g->end, "GraphClusterEnd", branch));
    if (task_node) {
        g->task_node = json_string_value(json_object_get(task_node, "uid"));
        add_node(b, g, task_node);
        add_edge(b, g->root, g->task_node, R_NONE, NULL);
    }
}

static void cluster_close(gcl *g)
{
    free(g->prefix);
    free(g->root);
    free(g->end);
    free(g->fin);
    free(g->after);
    json_decref(g->members);
    json_decref(g->parents);
}

/* A flowable's task as its node shows it: without its nested task lists,
 * which are nodes of their own (each task's properties are sent once, not
 * once per enclosing flowable). */
static json_t *flowable_task(const json_t *task)
{
    static const char *const lists[] = {"tasks", "then", "else", "cases", "defaults", "errors", "finally"};
    json_t *t = json_copy((json_t *)task);
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        json_object_del(t, lists[i]);
    return t;
}

static json_t *task_node(const char *uid, const char *type, const json_t *task, rel relation, const char *branch,
                         int flowable)
{
    json_t *n = plain_node(uid, type, branch);
    if (flowable)
        json_object_set_new(n, "task", flowable_task(task));
    else
        json_object_set(n, "task", (json_t *)task);
    if (relation != R_NONE)
        json_object_set_new(n, "relationType", json_string(rel_names[relation]));
    return n;
}

/* Places one task of g: a node, or the cluster of a flowable. */
static void place(gb *b, gcl *g, const json_t *task, rel relation, const char *branch, gplace *out)
{
    const char *id = json_string_value(json_object_get(task, "id"));
    char *uid = xasprintf("%s.%s", g->prefix, id ? id : "?");
    rel crel;
    int k = task_kind(task, &crel);
    if (k == K_TASK || k == K_SUBFLOW) {
        add_node(b, g, task_node(uid, k == K_SUBFLOW ? "SubflowGraphTask" : "GraphTask", task, relation, branch, 0));
        out->entry = xstrdup(uid);
        out->exit = uid;
        return;
    }
    gcl sub;
    cluster_open(b, &sub, g, uid, crel, branch, has_tasks(task, "finally"), 0,
                 task_node(uid, "GraphTask", task, crel, branch, 1));
    switch (k) {
    case K_SEQ:
        fill(b, &sub, json_object_get(task, "tasks"), R_SEQUENTIAL, NULL);
        break;
    case K_PAR:
        fill(b, &sub, json_object_get(task, "tasks"), R_PARALLEL, NULL);
        break;
    case K_FOREACH:
    case K_LOOP: {
        const json_t *lim = json_object_get(task, "concurrencyLimit");
        int seq = lim ? json_is_integer(lim) && json_integer_value(lim) == 1 : k == K_FOREACH;
        fill(b, &sub, json_object_get(task, "tasks"), seq ? R_SEQUENTIAL : R_PARALLEL, NULL);
        break;
    }
    case K_IF:
        fill(b, &sub, json_object_get(task, "then"), R_SEQUENTIAL, "then");
        fill(b, &sub, json_object_get(task, "else"), R_SEQUENTIAL, "else");
        break;
    case K_SWITCH: {
        fill(b, &sub, json_object_get(task, "defaults"), R_SEQUENTIAL, "defaults");
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)json_object_get(task, "cases"), key, v) fill(b, &sub, v, R_SEQUENTIAL, key);
        break;
    }
    case K_DAG:
        fill_dag(b, &sub, json_object_get(task, "tasks"));
        break;
    }
    fill_alternatives(b, &sub, task);
    out->entry = xstrdup(sub.root);
    out->exit = xstrdup(sub.end);
    cluster_close(&sub);
    free(uid);
}

/* Kestra's GraphUtils.fillGraph: tasks (a list; anything else adds
 * nothing) placed in g with relation, value on the edges leading in. */
static void fill(gb *b, gcl *g, const json_t *tasks, rel relation, const char *value)
{
    if (!json_is_array(tasks))
        return;
    size_t last = (size_t)-1, i;
    const json_t *t;
    json_array_foreach(tasks, i, t) if (json_is_object(t)) last = i;
    if (last == (size_t)-1)
        return;
    const char *branch = relation == R_ERROR ? "ERROR" : relation == R_FINALLY ? "FINALLY" : g->branch;
    char *prev = xstrdup(relation == R_FINALLY ? g->fin : relation == R_AFTER ? g->after
                         : g->task_node ? g->task_node : g->root);
    int first = 1;
    const char *next = next_of(g, relation);
    int to_end = relation == R_PARALLEL || relation == R_CHOICE;
    json_array_foreach(tasks, i, t)
    {
        if (!json_is_object(t))
            continue;
        rel edge_rel = g->relation;
        if (relation == R_ERROR)
            edge_rel = R_ERROR;
        else if (!first && relation != R_PARALLEL && g->relation != R_DYNAMIC)
            edge_rel = relation;
        gplace cur = {0};
        place(b, g, t, relation, branch, &cur);
        if (relation == R_ERROR && first) {
            free(prev);
            prev = xstrdup(g->root);
        }
        add_edge(b, prev, cur.entry, edge_rel, value);
        if (relation != R_PARALLEL) {
            free(prev);
            prev = xstrdup(cur.exit);
        }
        if (to_end || i == last)
            add_edge(b, cur.exit, next, R_NONE, NULL);
        first = 0;
        place_free(&cur);
    }
    free(prev);
}

/* Kestra's GraphUtils.fillGraphDag: each task placed once its dependsOn
 * are; linked from the task node when it depends on nothing, from each
 * dependency otherwise, and to the end when nothing depends on it. */
static void fill_dag(gb *b, gcl *g, const json_t *tasks)
{
    if (!json_is_array(tasks))
        return;
    size_t n = json_array_size(tasks), placed = 0;
    json_t *exits = json_object();   /* task id -> its exit uid */
    json_t *needed = json_object();  /* ids something depends on */
    unsigned char *done = xcalloc(n ? n : 1, 1);
    size_t i;
    const json_t *item;
    json_array_foreach(tasks, i, item)
    {
        const json_t *deps = json_object_get(item, "dependsOn");
        size_t k;
        const json_t *d;
        json_array_foreach(deps, k, d) if (json_is_string(d)) json_object_set_new(needed, json_string_value(d), json_true());
        if (!json_is_object(json_object_get(item, "task"))) {
            done[i] = 1;
            placed++;
        }
    }
    const char *next = next_of(g, R_SEQUENTIAL);
    int force = 0; /* a pass placed nothing (a cycle, an unknown id): place the rest as is */
    while (placed < n) {
        int progress = 0;
        json_array_foreach(tasks, i, item)
        {
            if (done[i])
                continue;
            const json_t *deps = json_object_get(item, "dependsOn");
            size_t k;
            const json_t *d;
            int ready = 1;
            json_array_foreach(deps, k, d) if (json_is_string(d) && !json_object_get(exits, json_string_value(d)))
                ready = 0;
            if (!ready && !force)
                continue;
            const json_t *t = json_object_get(item, "task");
            const char *id = json_string_value(json_object_get(t, "id"));
            gplace cur = {0};
            place(b, g, t, R_SEQUENTIAL, g->branch, &cur);
            int linked = 0;
            json_array_foreach(deps, k, d)
            {
                const char *from = json_string_value(json_object_get(exits, json_string_value(d)));
                if (from) {
                    add_edge(b, from, cur.entry, R_PARALLEL, NULL);
                    linked = 1;
                }
            }
            if (!linked)
                add_edge(b, g->task_node ? g->task_node : g->root, cur.entry, R_PARALLEL, NULL);
            if (!id || !json_object_get(needed, id))
                add_edge(b, cur.exit, next, R_NONE, NULL);
            if (id)
                json_object_set_new(exits, id, json_string(cur.exit));
            place_free(&cur);
            done[i] = 1;
            placed++;
            progress = 1;
        }
        force = !progress;
    }
    free(done);
    json_decref(exits);
    json_decref(needed);
}

static void fill_alternatives(gb *b, gcl *g, const json_t *obj)
{
    fill(b, g, json_object_get(obj, "errors"), R_ERROR, NULL);
    fill(b, g, json_object_get(obj, "finally"), R_FINALLY, NULL);
    if (g->after)
        fill(b, g, json_object_get(obj, "afterExecution"), R_AFTER, NULL);
}

/* ---- the flow -------------------------------------------------------------------- */

json_t *srv__flow_graph(const json_t *doc)
{
    gb b = {json_array(), json_array(), json_array()};
    gcl root;
    cluster_open(&b, &root, NULL, "root", R_NONE, NULL, has_tasks(doc, "finally"), has_tasks(doc, "afterExecution"),
                 NULL);
    const json_t *triggers = json_object_get(doc, "triggers");
    if (json_is_array(triggers) && json_array_size(triggers)) {
        gcl tc;
        cluster_open(&b, &tc, &root, "root.Triggers", R_NONE, NULL, 0, 0, NULL);
        size_t i;
        const json_t *t;
        json_array_foreach(triggers, i, t)
        {
            if (!json_is_object(t))
                continue;
            const char *id = json_string_value(json_object_get(t, "id"));
            json_t *n = plain_node("", "GraphTrigger", NULL);
            json_object_set_new(n, "uid", json_sprintf("root.Triggers.%s", id ? id : "?"));
            json_object_set(n, "triggerDeclaration", (json_t *)t);
            const char *uid = json_string_value(json_object_get(n, "uid"));
            add_edge(&b, tc.root, uid, R_NONE, NULL);
            add_edge(&b, uid, tc.end, R_NONE, NULL);
            add_node(&b, &tc, n);
        }
        add_edge(&b, tc.end, root.root, R_NONE, NULL);
        cluster_close(&tc);
    }
    fill(&b, &root, json_object_get(doc, "tasks"), R_SEQUENTIAL, NULL);
    fill_alternatives(&b, &root, doc);
    cluster_close(&root);
    return json_pack("{s:o,s:o,s:o}", "nodes", b.nodes, "edges", b.edges, "clusters", b.clusters);
}

enum MHD_Result srv_flow_graph(srv_req *r)
{
    const char *rev = srv_arg(r, "revision");
    int revision = 0;
    if (rev) {
        char *end;
        long v = strtol(rev, &end, 10);
        if (!*rev || *end || v < 1 || v > 1000000000)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'revision': '%s' is not a revision number", rev);
        revision = (int)v;
    }
    store_flow sf = {0};
    kerr e = KERR_INIT;
    if (store_flow_get(r->s->o.store, r->params[0], r->params[1], revision, &sf, &e)) {
        if (e.code == KERR_NOT_FOUND && revision)
            kerr_set(&e, "flow %s.%s has no revision %d", r->params[0], r->params[1], revision);
        else if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "flow %s.%s not found", r->params[0], r->params[1]);
        return srv_kerr_error(r, &e);
    }
    json_t *doc = sf.json ? json_incref(sf.json) : NULL;
    if (!doc) {
        /* an old row without its JSON: read the source */
        kerr ye = KERR_INIT;
        if (yaml_load(sf.source, strlen(sf.source), NULL, &doc, NULL, &ye)) {
            store_flow_clear(&sf);
            return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the stored flow cannot be read: %s", ye.msg);
        }
    }
    json_t *g = srv__flow_graph(doc);
    json_decref(doc);
    store_flow_clear(&sf);
    return srv_json(r, MHD_HTTP_OK, g);
}
