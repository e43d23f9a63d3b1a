/*
 * polltrigger.c: the triggers a task family polls: the SQL triggers
 * (io.kestra.plugin.jdbc.{postgresql,mysql,mariadb,sqlite,duckdb}.Trigger),
 * MongoDB's (io.kestra.plugin.mongodb.Trigger) and S3's
 * (io.kestra.plugin.aws.s3.Trigger). Every `interval` (PT60S by default) the
 * type's hooks->poll (tasks.h) runs with a task_ctx built here as a worker
 * builds one for a task: the trigger's properties rendered on demand with
 * `flow.*` in scope, the engine's storage, and execution_id the id the
 * execution will get, so that the files a poll stores (a query's STORE
 * result, S3's downloaded objects) sit in that execution's folder. When the
 * poll finds something it calls fire(), which checks the trigger's
 * `conditions`, renders its `inputs` and creates the execution (with the
 * poll's outputs as `trigger.*`) in the transaction that records the tick;
 * the poll consumes its source (afterSQL's COMMIT, S3's MOVE or DELETE)
 * only after that commit.
 *
 * DESIGN
 * A poll runs on the scheduler's thread and holds the scheduler's lock, as
 * the HTTP trigger's does (httptrigger.c): its time is bounded by the
 * task's deadline, POLL_TIMEOUT, which the SQL, MongoDB and S3 clients
 * honour. A failed poll (refused, a bad query) fires nothing and is written
 * to the trigger row's lastError; the next poll is `interval` later either
 * way. Log lines of a poll at WARN and above go to the server's stderr
 * (there is no execution to hold them yet); the rest is dropped.
 */
#include "sched/sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks.h"
#include "util/datetime.h"
#include "util/mem.h"

#define POLL_DEFAULT_INTERVAL (60 * US_PER_SEC)
#define POLL_TIMEOUT (60 * US_PER_SEC)

void sched__poll_setup(sched *s, sched_trig *t)
{
    (void)s;
    kerr e = KERR_INIT;
    t->interval_us = POLL_DEFAULT_INTERVAL;
    const char *iv = json_string_value(json_object_get(t->json, "interval"));
    if (iv && (duration_parse(iv, &t->interval_us, &e) || t->interval_us <= 0)) {
        t->error = xasprintf("trigger '%s': interval: %s", t->id, e.code ? e.msg : "not positive");
        t->interval_us = POLL_DEFAULT_INTERVAL;
    }
    const json_t *sa = json_object_get(t->json, "stopAfter");
    if (json_is_array(sa) && json_array_size(sa))
        t->pending = json_array();
    t->next_us = 0; /* due at the first pass */
    t->known = 1;
}

/* What a poll's task_ctx carries beyond itself. */
typedef struct poll_run {
    task_ctx c;
    sched *s;
    sched_trig *t;
    json_t *vars;        /* {flow}: what properties render against */
    int64_t now_us;
    int fired;           /* 1: an execution was created */
    int store_failed;    /* fire() met a store error (the pass returns -1) */
    kerr store_err;
} poll_run;

static json_t *poll_render(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    poll_run *p = (poll_run *)c;
    expr_env env;
    sched__env(p->s, &env);
    json_t *out = NULL;
    if (expr_render_json(v, p->vars, &env, 1, &out, err_path, e))
        return NULL;
    return out;
}

static void poll_log(task_ctx *c, store_level level, const char *msg)
{
    poll_run *p = (poll_run *)c;
    if (level >= LEVEL_WARN)
        fprintf(stderr, "kite: trigger '%s' of %s.%s: %s\n", p->t->id, p->t->ns, p->t->flow_id, msg);
}

static const task_ctx_ops poll_ops = {.render = poll_render, .log = poll_log};

/* task_fire_fn: conditions, inputs, then the execution and the tick in one
 * transaction (fire.c). 0 when the execution was created or the trigger's
 * conditions said no (nothing to undo either way: the source may be
 * consumed), -1 when the poll must not consume its source. */
static int poll_fire(task_ctx *c, json_t *answer, kerr *e)
{
    poll_run *p = (poll_run *)c;
    sched *s = p->s;
    sched_trig *t = p->t;
    json_t *ctx = json_deep_copy(p->vars);
    json_object_set(ctx, "trigger", answer);
    expr_env env;
    sched__env(s, &env);
    sched_cond_ctx cc = {.vars = ctx, .env = &env, .st = s->st};
    int ok = 1, rc = -1;
    json_t *inputs = NULL;
    if (sched__conditions(json_object_get(t->json, "conditions"), &cc, &ok, e) ||
        sched__render_inputs(s, t, ctx, &inputs, e))
        goto out;
    if (!ok) {
        /* the conditions say no: the rows or objects were seen all the same */
        rc = 0;
        goto out;
    }
    engine_submit_opts so = {.namespace = t->ns, .flow_id = t->flow_id, .inputs = inputs,
                             .trigger = answer, .id = c->execution_id};
    store_trigger row = {.namespace = t->ns, .flow_id = t->flow_id, .trigger_id = t->id,
                         .next_us = t->next_us, .last_fired_us = p->now_us,
                         .state = sched__row_state(t, NULL)};
    char id[STORE_ID_LEN + 1];
    kerr fe = KERR_INIT;
    int r = sched__fire(s, &so, t->id, p->now_us, &row, id, &fe);
    json_decref(row.state);
    if (r < 0) {
        p->store_failed = 1;
        p->store_err = fe;
        *e = fe;
    } else if (r == 1) {
        p->fired = 1;
        if (t->pending)
            json_array_append_new(t->pending, json_string(id));
        rc = 0;
    } else if (r == 2) {
        t->disabled = 1; /* disabled meanwhile: leave the source as it is */
        kerr_set(e, "the trigger was disabled");
    } else if (fe.msg[0]) {
        *e = fe; /* the flow refused the execution (bad inputs, disabled flow) */
    } else {
        rc = 0; /* that tick was fired already */
    }
    t->last_us = p->now_us;
out:
    json_decref(inputs);
    json_decref(ctx);
    json_decref(answer);
    return rc;
}

int sched__poll_pass(sched *s, sched_flow *f, sched_trig *t, int64_t now_us, kerr *e)
{
    if (json_array_size(t->pending))
        sched__stop_after(s, t);
    if (t->disabled || (t->next_us > 0 && t->next_us > now_us))
        return 0;
    t->next_us = now_us + t->interval_us;
    if (!t->def || !t->def->hooks || !t->def->hooks->poll) {
        sched__note_error(s, t, "this trigger type cannot be polled");
        return 0;
    }
    if (t->def->needs && t->def->needs()) {
        /* its client library is not on this host (util/dl.h) */
        sched__note_error(s, t, t->def->needs());
        return 0;
    }
    char exec_id[STORE_ID_LEN + 1], run_id[STORE_ID_LEN + 1];
    store_new_id(exec_id);
    store_new_id(run_id);
    atomic_int cancel = 0;
    poll_run p = {.s = s, .t = t, .now_us = now_us, .store_err = KERR_INIT};
    p.vars = json_pack("{s:o}", "flow", sched__flow_vars(f));
    p.c = (task_ctx){.ops = &poll_ops,
                     .task = t->json,
                     .def = t->def,
                     .namespace = t->ns,
                     .flow_id = t->flow_id,
                     .execution_id = exec_id,
                     .task_id = t->id,
                     .taskrun_id = run_id,
                     .attempt = 1,
                     .store = s->st,
                     .storage = engine_storage(s->en),
                     .tmp_root = engine_tmp_dir(s->en),
                     .cancel = &cancel,
                     .deadline_us = time_mono_us() + POLL_TIMEOUT,
                     .outputs = json_object(),
                     .metrics = json_array(),
                     .exit_state = -1};
    kerr pe = KERR_INIT;
    int rc = t->def->hooks->poll(&p.c, poll_fire, &pe);
    if (p.store_failed) {
        *e = p.store_err;
    } else if (rc < 0) {
        kerr_prefix(&pe, "trigger '%s'", t->id);
        sched__note_error(s, t, pe.msg);
    }
    if (!p.fired) {
        /* files a poll stored for an execution that was never created */
        char *dir = storage_uri_execution(t->ns, t->flow_id, exec_id, &(kerr)KERR_INIT);
        if (dir)
            storage_delete_prefix(p.c.storage, dir, &(kerr)KERR_INIT);
        free(dir);
    }
    json_decref(p.c.outputs);
    json_decref(p.c.metrics);
    json_decref(p.c.labels);
    json_decref(p.vars);
    if (p.store_failed)
        return -1;
    return p.fired;
}
