/*
 * taskruns.c: an execution's task runs in pages, and folded into the rows of
 * the UI's Gantt, for executions too large to send whole.
 *
 * GET /executions/{id} answers every task run: 10,000 of them (a ForEach)
 * are 8 MB of JSON that take the server 1.5-2 s to build, while reading
 * them from the store takes 0.1-0.2 s. With ?taskRunsMax=N such an
 * execution comes without taskRunList (and with taskRunCount), and its task
 * runs are read here: the groups (the runs of one task under one parent,
 * with their counts by state and their span) and the runs of a group a page
 * at a time. Pages are cut in memory from the store's list, in creation
 * order: the JSON built is that of the page only.
 */
#include "server/server_int.h"
#include "engine/engine.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* The execution and its task runs; -1 after answering 404. */
static int load(srv_req *r, store_execution *x, store_task_run **runs, size_t *n)
{
    kerr e = KERR_INIT;
    if (store_execution_get(r->s->o.store, r->params[0], x, &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "execution %s not found", r->params[0]);
        srv_kerr_error(r, &e);
        return -1;
    }
    if (store_task_run_list(r->s->o.store, r->params[0], runs, n, &e)) {
        store_execution_clear(x);
        srv_kerr_error(r, &e);
        return -1;
    }
    return 0;
}

/* t's parent is `parent`: NULL matches any, "" the top level. */
static int parent_is(const store_task_run *t, const char *parent)
{
    if (!parent)
        return 1;
    if (!*parent)
        return !t->parent_task_run_id;
    return t->parent_task_run_id && !strcmp(t->parent_task_run_id, parent);
}

/* GET /executions/{id}/taskruns: Kestra's PagedResults {results, total} of
 * the task runs (taskRunList's entries) matching taskId, parentTaskRunId
 * ("" for the top level) and state (repeat for several). */
enum MHD_Result srv_exec_taskruns(srv_req *r)
{
    size_t off, lim;
    if (srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    const char *task = srv_arg(r, "taskId"), *parent = srv_arg(r, "parentTaskRunId");
    unsigned states;
    if (srv_args_states(r, &states))
        return MHD_YES;
    store_execution x = {0};
    store_task_run *runs = NULL;
    size_t n = 0;
    if (load(r, &x, &runs, &n))
        return MHD_YES;
    json_t *res = json_array();
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const store_task_run *t = &runs[i];
        if ((task && strcmp(t->task_id, task)) || !parent_is(t, parent) || (states && !(states & STORE_STATE_BIT(t->state))))
            continue;
        if (total >= off && total - off < lim)
            json_array_append_new(res, engine_json_task_run(&x, t));
        total++;
    }
    store_task_runs_free(runs, n);
    store_execution_clear(&x);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

/* GET /executions/{id}/taskruns/groups: the task runs folded as the Gantt
 * shows them, one group per (parentTaskRunId, taskId) in the order of their
 * first run: {results: [{taskId, parentTaskRunId, depth, count, counts
 * {STATE: n}, startDate, endDate, taskRun (the run, when it is alone)}],
 * total (task runs)}. A group's runs are GET .../taskruns?parentTaskRunId=
 * &taskId=. Dates are the first and last of its runs' histories. */
enum MHD_Result srv_exec_taskrun_groups(srv_req *r)
{
    store_execution x = {0};
    store_task_run *runs = NULL;
    size_t n = 0;
    if (load(r, &x, &runs, &n))
        return MHD_YES;
    json_t *depth = json_object();  /* task run id -> depth */
    json_t *index = json_object();  /* "parent/task" -> group */
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        const store_task_run *t = &runs[i];
        json_t *pd = t->parent_task_run_id ? json_object_get(depth, t->parent_task_run_id) : NULL;
        json_int_t d = pd ? json_integer_value(pd) + 1 : 0;
        json_object_set_new(depth, t->id, json_integer(d));
        char *key = xasprintf("%s/%s", t->parent_task_run_id ? t->parent_task_run_id : "", t->task_id);
        json_t *g = json_object_get(index, key);
        if (!g) {
            g = json_pack("{s:s,s:s?,s:I,s:I,s:{},s:I,s:I,s:I}", "taskId", t->task_id, "parentTaskRunId",
                          t->parent_task_run_id, "depth", d, "count", (json_int_t)0, "counts", "first",
                          (json_int_t)i, "start", (json_int_t)0, "end", (json_int_t)0);
            json_object_set_new(index, key, g);
            json_array_append(res, g);
        }
        free(key);
        json_object_set_new(g, "count", json_integer(json_integer_value(json_object_get(g, "count")) + 1));
        json_t *counts = json_object_get(g, "counts");
        const char *sn = store_state_name(t->state);
        json_object_set_new(counts, sn, json_integer(json_integer_value(json_object_get(counts, sn)) + 1));
        if (t->n_histories) {
            int64_t a = t->histories[0].at_us, b = t->histories[t->n_histories - 1].at_us;
            json_int_t s0 = json_integer_value(json_object_get(g, "start")), e0 = json_integer_value(json_object_get(g, "end"));
            if (!s0 || a < s0)
                json_object_set_new(g, "start", json_integer(a));
            if (store_state_is_terminated(t->state) && b > e0)
                json_object_set_new(g, "end", json_integer(b));
        }
    }
    size_t gi;
    json_t *g;
    json_array_foreach(res, gi, g)
    {
        json_int_t s0 = json_integer_value(json_object_get(g, "start")), e0 = json_integer_value(json_object_get(g, "end"));
        if (json_integer_value(json_object_get(g, "count")) == 1)
            json_object_set_new(g, "taskRun",
                                engine_json_task_run(&x, &runs[json_integer_value(json_object_get(g, "first"))]));
        json_object_set_new(g, "startDate", engine_json_time(s0));
        json_object_set_new(g, "endDate", engine_json_time(e0));
        json_object_del(g, "first");
        json_object_del(g, "start");
        json_object_del(g, "end");
    }
    json_decref(depth);
    json_decref(index);
    store_task_runs_free(runs, n);
    store_execution_clear(&x);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)n));
}
