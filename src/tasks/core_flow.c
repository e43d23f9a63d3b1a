/*
 * core_flow.c: the flowable tasks of Kestra's core (io.kestra.plugin.core.flow,
 * formerly io.kestra.core.tasks.flows): Sequential, Parallel, ForEach, If,
 * Switch, Dag, Subflow, ForEachItem, Pause, LoopUntil, WorkingDirectory, ...
 *
 * Flowables never run on a worker: the executor asks them which children come
 * next (DESIGN.md), so this family holds their schemas only and their
 * behaviour is engine/flowables.c (flow.sleep, a runnable task of the same
 * package, is in core.c). Their nested task lists are declared as PT_TASKS / PT_TASK
 * properties, which the validator walks generically; the rules a property
 * schema cannot say (Switch needs a case, a Dag has no cycle, WorkingDirectory
 * holds only runnable tasks) are the check hooks below, which report through
 * vctx_error() with the JSON pointer of the offending node.
 */
#include "tasks/tasks_int.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- check hooks ------------------------------------------------------------ */

/* Switch: some task must be runnable: non-empty `cases` or `defaults`. */
static void check_switch(vctx *v, const json_t *obj, const char *path)
{
    const json_t *cases = json_object_get(obj, "cases");
    const json_t *defaults = json_object_get(obj, "defaults");
    int has_cases = json_is_object(cases) && json_object_size(cases) > 0;
    int has_defaults = json_is_array(defaults) && json_array_size(defaults) > 0;
    if (!has_cases && !has_defaults)
        vctx_error(v, path,
                   "Switch '%s' has no task to run: 'cases' and 'defaults' are both "
                   "missing or empty",
                   tasks__task_id(obj));
}

/* WorkingDirectory: its tasks share one folder on one worker, so they must
 * all be runnable; a flowable child would be run by the executor elsewhere.
 * Unknown types are left to the validator's own "unknown type" error. */
static void check_working_directory(vctx *v, const json_t *obj, const char *path)
{
    const json_t *tasks = json_object_get(obj, "tasks");
    if (!json_is_array(tasks))
        return;
    size_t i;
    const json_t *t;
    json_array_foreach(tasks, i, t) {
        const type_def *d = flow_type_find(json_string_value(json_object_get(t, "type")));
        if (d && d->kind != TK_RUNNABLE) {
            char *p = xasprintf("%s/tasks/%zu", path, i);
            vctx_error(v, p,
                       "WorkingDirectory '%s' accepts only runnable tasks: '%s' is a "
                       "flowable task (%s)",
                       tasks__task_id(obj), tasks__task_id(t), d->name);
            free(p);
        }
    }
}

/*
 * Dag: every dependsOn names a task of the same Dag, and the dependencies
 * have no cycle. Edges go from a task to the tasks it depends on; an
 * iterative depth-first search (no recursion: a long dependency chain must
 * not exhaust the stack) finds each back edge once and reports the cycle it
 * closes, naming its tasks in order ("a -> b -> a").
 */
typedef struct dag {
    size_t n;
    const char **ids;     /* task ids, "?" when missing */
    size_t *estart;       /* edges of node i: edge[estart[i] .. estart[i+1]) */
    size_t *edge;         /* target node */
    size_t *edep;         /* index of the dependsOn entry, for the error path */
} dag;

static long dag_index(const dag *g, const char *id)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->ids[i], id))
            return (long)i;
    return -1;
}

static void dag_report_cycle(vctx *v, const char *path, const char *dag_id, const dag *g,
                             const size_t *stack, size_t depth, size_t from, size_t e)
{
    size_t to = g->edge[e];
    size_t start = depth;
    while (start > 0 && stack[start - 1] != to)
        start--;
    buf msg = BUF_INIT;
    for (size_t k = start ? start - 1 : 0; k < depth; k++)
        buf_printf(&msg, "%s -> ", g->ids[stack[k]]);
    buf_puts(&msg, g->ids[to]);
    char *p = xasprintf("%s/tasks/%zu/dependsOn/%zu", path, from, g->edep[e]);
    vctx_error(v, p, "Dag '%s' has a dependency cycle: %s", dag_id, buf_str(&msg));
    free(p);
    buf_free(&msg);
}

static void check_dag(vctx *v, const json_t *obj, const char *path)
{
    const json_t *tasks = json_object_get(obj, "tasks");
    if (!json_is_array(tasks) || json_array_size(tasks) == 0)
        return;
    dag g = {0};
    g.n = json_array_size(tasks);
    g.ids = xcalloc(g.n, sizeof *g.ids);
    g.estart = xcalloc(g.n + 1, sizeof *g.estart);
    size_t nedges = 0;
    for (size_t i = 0; i < g.n; i++) {
        const json_t *item = json_array_get(tasks, i);
        g.ids[i] = tasks__task_id(json_object_get(item, "task"));
        const json_t *deps = json_object_get(item, "dependsOn");
        if (json_is_array(deps))
            nedges += json_array_size(deps);
    }
    g.edge = xcalloc(nedges + 1, sizeof *g.edge);
    g.edep = xcalloc(nedges + 1, sizeof *g.edep);
    size_t ne = 0;
    for (size_t i = 0; i < g.n; i++) {
        g.estart[i] = ne;
        const json_t *deps = json_object_get(json_array_get(tasks, i), "dependsOn");
        if (!json_is_array(deps))
            continue;
        size_t j;
        const json_t *dep;
        json_array_foreach(deps, j, dep) {
            const char *name = json_string_value(dep);
            if (!name)
                continue; /* not a string: the property schema reports it */
            long k = dag_index(&g, name);
            if (k < 0) {
                char *p = xasprintf("%s/tasks/%zu/dependsOn/%zu", path, i, j);
                vctx_error(v, p, "task '%s' depends on '%s', which is not a task of Dag '%s'",
                           g.ids[i], name, tasks__task_id(obj));
                free(p);
                continue;
            }
            g.edge[ne] = (size_t)k;
            g.edep[ne] = j;
            ne++;
        }
    }
    g.estart[g.n] = ne;

    /* 0 unvisited, 1 on the current path, 2 done */
    unsigned char *color = xcalloc(g.n, 1);
    size_t *stack = xcalloc(g.n, sizeof *stack);
    size_t *next = xcalloc(g.n, sizeof *next); /* next edge to follow, per node */
    for (size_t root = 0; root < g.n; root++) {
        if (color[root])
            continue;
        size_t depth = 0;
        stack[depth++] = root;
        color[root] = 1;
        next[root] = g.estart[root];
        while (depth) {
            size_t u = stack[depth - 1];
            if (next[u] == g.estart[u + 1]) {
                color[u] = 2;
                depth--;
                continue;
            }
            size_t e = next[u]++;
            size_t w = g.edge[e];
            if (color[w] == 1) {
                dag_report_cycle(v, path, tasks__task_id(obj), &g, stack, depth, u, e);
            } else if (!color[w]) {
                color[w] = 1;
                next[w] = g.estart[w];
                stack[depth++] = w;
            }
        }
    }
    free(color);
    free(stack);
    free(next);
    free(g.ids);
    free(g.estart);
    free(g.edge);
    free(g.edep);
}

/* ---- property tables -------------------------------------------------------- */

#define P_TASKS_REQ(s) PTASKS("tasks", PF_REQUIRED | PF_NONEMPTY, s)

#define P_SUBFLOW_COMMON \
    PSTR("namespace", PF_REQUIRED, NULL, "namespace of the flow to run"), \
    PSTR("flowId", PF_REQUIRED, NULL, "id of the flow to run"), \
    PINT("revision", 0, NULL, "revision of the flow to run (default: the latest)"), \
    PMAP("inputs", 0, NULL, &tasks__item_any, "inputs passed to the subflow"), \
    PANY("labels", 0, NULL, "labels of the subflow's execution (map or list of key/value)"), \
    PBOOL("wait", 0, "true", "wait for the subflow's execution to end"), \
    PBOOL("transmitFailed", 0, "true", "fail this task when the subflow's execution fails (with wait)"), \
    PBOOL("inheritLabels", 0, "false", "give the subflow's execution this execution's labels"), \
    PSTR("scheduleDate", 0, NULL, "date-time or duration at which to start the subflow's execution"), \
    PENUM("restartBehavior", 0, "\"RETRY_FAILED\"", ENUMS("NEW_EXECUTION", "RETRY_FAILED"), \
          "what restarting this task does to the subflow's execution")

const type_def tasks__core_flow[] = {
    {
        .name = "flow.sequential",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Sequential",
                           "io.kestra.core.tasks.flows.Sequential"),
        .kind = TK_FLOWABLE,
        .desc = "Run tasks one after the other.",
        .props = PROPS(P_TASKS_REQ("the tasks, in order"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.parallel",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Parallel",
                           "io.kestra.core.tasks.flows.Parallel"),
        .kind = TK_FLOWABLE,
        .desc = "Run tasks in parallel.",
        .props = PROPS(P_TASKS_REQ("the tasks, started together"),
                       PINT("concurrent", 0, "0", "how many tasks run at once (0: all)"),
                       PBOOL("failFast", 0, "false",
                             "on the first failure, kill the tasks still running"),
                       P_ERRORS_FINALLY),
    },
    {
        .name = "flow.foreach",
        .aliases = ALIASES("io.kestra.plugin.core.flow.ForEach"),
        .kind = TK_FLOWABLE,
        .desc = "Run a group of tasks for each value of a list, sequentially or concurrently.",
        .props = PROPS(PANY("values", PF_REQUIRED, NULL,
                            "the values: a list, or a string holding a JSON list"),
                       PINT("concurrencyLimit", 0, "1",
                            "how many iterations run at once (0: no limit)"),
                       P_TASKS_REQ("the tasks run for each value"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.loop",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Loop"),
        .kind = TK_FLOWABLE,
        .desc = "Run a group of tasks for each value of a list, a map or a file's lines "
                "(item.value, item.index, item.key); outputs and breakWhen are not run yet.",
        .props = PROPS(PANY("values", PF_REQUIRED, NULL,
                            "the values: a list, a map, a JSON string or a file URI (one per line)"),
                       PINT("concurrencyLimit", 0, "0",
                            "how many iterations run at once (0: no limit)"),
                       PBOOL("transmitFailed", 0, "true", "fail when an iteration fails"),
                       PLIST("outputs", PF_NOTRUN, NULL, &tasks__item_any,
                             "outputs of each iteration exposed after the loop (not run by kite yet)"),
                       PENUM("fetchType", 0, "\"AUTO\"", ENUMS("AUTO", "FETCH", "STORE"),
                             "keep iteration outputs in the execution or in storage"),
                       PSTR("breakWhen", PF_NOTRUN, NULL, "stop iterating once this is truthy (not run by kite yet)"),
                       P_TASKS_REQ("the tasks run for each value"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.each_sequential",
        .aliases = ALIASES("io.kestra.plugin.core.flow.EachSequential",
                           "io.kestra.core.tasks.flows.EachSequential"),
        .kind = TK_FLOWABLE,
        .flags = TF_DEPRECATED,
        .desc = "Run a group of tasks for each value, one value after the other (use flow.foreach).",
        .props = PROPS(PANY("value", PF_REQUIRED, NULL,
                            "the values: a list, or a string holding a JSON list"),
                       P_TASKS_REQ("the tasks run for each value"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.each_parallel",
        .aliases = ALIASES("io.kestra.plugin.core.flow.EachParallel",
                           "io.kestra.core.tasks.flows.EachParallel"),
        .kind = TK_FLOWABLE,
        .flags = TF_DEPRECATED,
        .desc = "Run a group of tasks for each value, values in parallel (use flow.foreach).",
        .props = PROPS(PANY("value", PF_REQUIRED, NULL,
                            "the values: a list, or a string holding a JSON list"),
                       PINT("concurrent", 0, "0", "how many values run at once (0: all)"),
                       PBOOL("failFast", 0, "false",
                             "on the first failure, kill the iterations still running"),
                       P_TASKS_REQ("the tasks run for each value"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.if",
        .aliases = ALIASES("io.kestra.plugin.core.flow.If", "io.kestra.core.tasks.flows.If"),
        .kind = TK_FLOWABLE,
        .desc = "Run `then` when a condition is true, `else` otherwise.",
        .props = PROPS(PANY("condition", PF_REQUIRED, NULL,
                            "the condition: an expression whose result is truthy or not"),
                       PTASKS("then", PF_REQUIRED | PF_NONEMPTY, "tasks run when it is true"),
                       PTASKS("else", 0, "tasks run when it is false"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.switch",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Switch",
                           "io.kestra.core.tasks.flows.Switch"),
        .kind = TK_FLOWABLE,
        .desc = "Run the tasks of the case that matches a value, or the defaults.",
        .props = PROPS(PSTR("value", PF_REQUIRED, NULL, "the value compared to each case's key"),
                       PMAP("cases", 0, NULL, ITEM({.type = PT_TASKS, .flags = PF_NONEMPTY}),
                            "tasks to run, by value (each list non-empty)"),
                       PTASKS("defaults", PF_NONEMPTY, "tasks run when no case matches"),
                       P_ERRORS_FINALLY),
        .check = check_switch,
    },
    {
        .name = "flow.dag",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Dag", "io.kestra.core.tasks.flows.Dag"),
        .kind = TK_FLOWABLE,
        .desc = "Run tasks as a directed acyclic graph of dependencies.",
        .props = PROPS(
            PLIST("tasks", PF_REQUIRED | PF_NONEMPTY, NULL,
                  ITEM({.type = PT_OBJECT,
                        .props = PROPS(PTASK("task", PF_REQUIRED, "the task"),
                                       PLIST("dependsOn", 0, NULL, &tasks__item_string,
                                             "ids of the tasks of this Dag it waits for"))}),
                  "the tasks and their dependencies"),
            PINT("concurrent", 0, "0", "how many tasks run at once (0: no limit)"),
            PENUM("onChildFailure", 0, "\"CONTINUE\"", ENUMS("CONTINUE", "CANCELLED", "FAILED"),
                  "what a failed task does to the tasks still running"),
            P_ERRORS_FINALLY),
        .check = check_dag,
    },
    {
        .name = "flow.allow_failure",
        .aliases = ALIASES("io.kestra.plugin.core.flow.AllowFailure",
                           "io.kestra.core.tasks.flows.AllowFailure"),
        .kind = TK_FLOWABLE,
        .flags = TF_DEPRECATED,
        .desc = "Run tasks and end in WARNING instead of FAILED when they fail "
                "(use the allowFailure property).",
        .props = PROPS(P_TASKS_REQ("the tasks"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.subflow",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Subflow",
                           "io.kestra.core.tasks.flows.Subflow",
                           "io.kestra.plugin.core.flow.Flow", "io.kestra.core.tasks.flows.Flow"),
        .kind = TK_FLOWABLE,
        .flags = TF_NO_ERRORS,
        .desc = "Start an execution of another flow, and optionally wait for it.",
        .props = PROPS(P_SUBFLOW_COMMON,
                       PMAP("outputs", PF_DEPRECATED, NULL, &tasks__item_any,
                            "outputs extracted from the subflow (use the subflow's own outputs)")),
    },
    {
        .name = "flow.foreach_item",
        .aliases = ALIASES("io.kestra.plugin.core.flow.ForEachItem",
                           "io.kestra.core.tasks.flows.ForEachItem"),
        .kind = TK_FLOWABLE,
        .desc = "Split a file of items into batches and start a subflow for each batch.",
        .props = PROPS(
            PSTR("items", PF_REQUIRED, NULL, "URI of the file of items (one item a line)"),
            POBJ("batch", 0, "{\"rows\":1}",
                 PROPS(PINT("rows", 0, NULL, "items a batch"),
                       PSTR("bytes", 0, NULL, "size of a batch (\"10MB\")"),
                       PINT("partitions", 0, NULL, "number of batches"),
                       PSTR("separator", 0, "\"\\n\"", "the item separator")),
                 "how to cut the file into batches"),
            P_SUBFLOW_COMMON, P_ERRORS_FINALLY),
    },
    {
        .name = "flow.pause",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Pause",
                           "io.kestra.core.tasks.flows.Pause"),
        .kind = TK_FLOWABLE,
        .desc = "Pause the execution until resumed, or for a given duration.",
        .props = PROPS(
            PDUR("delay", PF_DEPRECATED, NULL, "resume by itself after this duration "
                                               "(use pauseDuration)"),
            PDUR("pauseDuration", 0, NULL, "resume by itself after this duration"),
            PENUM("behavior", 0, "\"RESUME\"", ENUMS("RESUME", "WARN", "FAIL", "CANCEL"),
                  "what happens when pauseDuration elapses"),
            PLIST("onResume", 0, NULL, &tasks__item_any,
                  "inputs asked for when resuming (same shape as flow inputs)"),
            PTASKS("tasks", PF_DEPRECATED, "tasks run after the pause"), P_ERRORS_FINALLY),
    },
    {
        .name = "flow.loop_until",
        .aliases = ALIASES("io.kestra.plugin.core.flow.LoopUntil",
                           "io.kestra.plugin.core.flow.WaitFor"),
        .kind = TK_FLOWABLE,
        .desc = "Run tasks again and again until a condition is true.",
        .props = PROPS(
            PANY("condition", PF_REQUIRED, NULL, "expression evaluated after each iteration"),
            P_TASKS_REQ("the tasks of one iteration"),
            PBOOL("failOnMaxReached", 0, "false",
                  "fail when maxIterations or maxDuration is reached"),
            POBJ("checkFrequency", 0, "{\"interval\":\"PT1M\"}",
                 PROPS(PINT("maxIterations", 0, NULL, "at most this many iterations"),
                       PDUR("maxDuration", 0, NULL, "at most this long"),
                       PDUR("interval", 0, "\"PT1M\"", "time between iterations")),
                 "how often and how long to loop"),
            P_ERRORS_FINALLY),
    },
    {
        .name = "flow.working_directory",
        .aliases = ALIASES("io.kestra.plugin.core.flow.WorkingDirectory",
                           "io.kestra.core.tasks.flows.WorkingDirectory",
                           "io.kestra.core.tasks.flows.Worker"),
        .kind = TK_FLOWABLE,
        .desc = "Run runnable tasks one after the other in one shared working folder.",
        .props = PROPS(
            P_TASKS_REQ("the tasks (runnable ones only)"),
            POBJ("namespaceFiles", 0, NULL, tasks__namespace_files,
                 "inject the namespace's files"),
            PANY("inputFiles", 0, NULL, "files to create first: a map of name to content, "
                                        "or a JSON string of it"),
            PSTRL("outputFiles", 0, NULL, "glob patterns of files to keep as outputs"),
            POBJ("cache", 0, NULL,
                 PROPS(PSTRL("patterns", PF_REQUIRED, NULL, "glob patterns of files to cache"),
                       PDUR("ttl", 0, NULL, "how long the cache lives")),
                 "cache files between executions"),
            P_ERRORS_FINALLY),
        .check = check_working_directory,
    },
    {
        .name = "flow.template",
        .aliases = ALIASES("io.kestra.plugin.core.flow.Template",
                           "io.kestra.core.tasks.flows.Template"),
        .kind = TK_FLOWABLE,
        .flags = TF_DEPRECATED | TF_NO_ERRORS | TF_DECLARED_ONLY | TF_REFUSED,
        .desc = "Include the tasks of a template (deprecated: use subflows).",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "namespace of the template"),
                       PSTR("templateId", PF_REQUIRED, NULL, "id of the template"),
                       PSTR("tenantId", 0, NULL, "tenant of the template"),
                       PMAP("args", 0, NULL, &tasks__item_string,
                            "values passed to the template as parents.*")),
        .waits = "Kestra deprecated templates for subflows (they run there only with "
                 "kestra.templates.enabled), and kite keeps no templates to include: put the template's "
                 "tasks here in an io.kestra.plugin.core.flow.Sequential (writing each "
                 "{{ parent.outputs.args.NAME }} as the value of args.NAME), or move them to a flow of "
                 "their own and call it with io.kestra.plugin.core.flow.Subflow (its inputs take the "
                 "place of args; docs/flows.md, \"Templates\")",
    },
};

const size_t tasks__core_flow_count = sizeof tasks__core_flow / sizeof tasks__core_flow[0];
