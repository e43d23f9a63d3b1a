/*
 * engine_int.h: what the engine's files share: the in-memory execution
 * model, the compiled flow, the executor's step function and its actions.
 *
 * DESIGN
 * One executor thread owns every execution it has in memory (xexec): it is
 * the only writer of execution and task-run rows. Workers never write them:
 * a worker sends its result as an "event" job, committed together with the
 * ack of its task job, and the executor applies it. So each state change is
 * one transaction by one writer, and a crash between two transactions loses
 * nothing: the work left to do is always in the queue.
 *
 * Workers read an execution (to render a task's properties) under the
 * xexec's mutex; the executor holds the same mutex while it changes one.
 * Rendering is short (microseconds), so the lock is held briefly.
 *
 * The step function (executor.c, with the flowables of flowables.c) is
 * deterministic: given the flow, the execution's task runs and one event,
 * it changes the model in memory, marking what changed (xrun.dirty /
 * xrun.fresh, xexec.dirty) and listing the jobs to push; loop.c then
 * writes all of it in one transaction.
 */
#ifndef KITE_ENGINE_INT_H
#define KITE_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "expr/expr.h"
#include "tasks/tasks.h"
#include "util/mask.h"

/* Room for the host functions of one render (host.c checks it). */
#define ENGINE_HOST_MAX 16

/* ---- the compiled flow ----------------------------------------------------- */

/* A list of tasks in a branch, as indexes into eflow.tasks, disabled ones left out. */
typedef struct elist {
    int *v;
    size_t n;
} elist;

typedef struct etask {
    const flow_task *ft;        /* borrowed from the flow */
    const struct flowable *impl; /* a flowable's behaviour (flowables.c), NULL for runnables */
    const struct task_hooks *hooks; /* a runnable's, NULL when kite cannot run it */
    const json_t *json;         /* the task with plugin defaults applied */
    int disabled;
    /* branches of a flowable, by name ("tasks", "errors", "finally", "then",
     * "else", "defaults", "cases/<key>", "dag") */
    struct ebranch {
        char *name;
        elist list;
    } *branches;
    size_t nbranches;
    int *dag_deps;              /* dag: per child in "dag" branch, offset into dag_dep_v */
    size_t *dag_ndeps;
    int **dag_dep_v;
} etask;

typedef struct eflow {
    flow *f;                    /* owned */
    int revision;               /* the store's revision */
    int deleted;                /* this revision records the flow's deletion */
    etask *tasks;               /* parallel to f->tasks */
    elist root, errors, finally, after;
    int refs;                   /* guarded by the engine's flow cache lock */
    size_t vars_refs;           /* the variables' refcount before json_share */
} eflow;

/* Values shared read-only by every thread that renders (the engine's envs
 * and globals, a flow's variables) are made immortal while shared, as
 * jansson's own true/false/null are: incref and decref leave them alone, so
 * threads holding different locks never write to the same refcount.
 * json_share returns the refcount to give back to json_unshare. */
size_t json_share(json_t *v);
void json_unshare(json_t *v, size_t refcount);

/* Compiles f (taken) for the engine; NULL with e set. */
eflow *eflow_new(flow *f, int revision, kerr *e);
void eflow_free(eflow *fl);
const elist *etask_branch(const etask *t, const char *name);

/* ---- the execution in memory ------------------------------------------------- */

typedef struct xrun {
    store_task_run row;
    int task;                   /* index into eflow.tasks */
    int parent;                 /* index into xexec.runs, -1 at the top */
    json_t *value;              /* the loop value as JSON (row.value is its text), or NULL */
    int fresh;                  /* not inserted yet */
    int dirty;                  /* changed since written */
    int dispatched;             /* a worker job is queued or running */
    json_t *state_data;         /* flowable bookkeeping, kept in outputs */
    int listed;                 /* in xexec.wlist (fresh or dirty since written) */
    struct xloop *loop;         /* loops: where the iterations stand (memory
                                   only: rebuilt after a reload or a restart) */
} xrun;

/* A loop's cursor, so that a step walks only the iterations that are still
 * open, never the whole list of values: iterations [0, hi) have started;
 * open lists those of them that have not ended (ascending); the ended ones
 * are folded into agg / bad. Iterations start in order, lowest first. */
typedef struct xloop {
    size_t hi;
    size_t *open;
    size_t nopen, cap;
    store_state agg;            /* the worst ended iteration's state */
    int bad;                    /* an ended iteration failed (or was killed) */
} xloop;

typedef struct engine_secret_backend engine_secret_backend;

typedef struct xexec {
    store_execution row;
    eflow *fl;
    xrun *runs;
    size_t nruns, cap;
    json_t *outputs;            /* the `outputs` of expressions, kept up to date */
    int *kidx;                  /* hash (parent, task, iteration) -> run */
    size_t kcap;
    int *iidx;                  /* hash run id -> run */
    size_t icap;
    pthread_mutex_t lock;       /* guards runs and outputs against worker reads */
    int dirty;
    int *wlist;                 /* runs to write (fresh or dirty), each once:
                                   a step writes what it changed, not every run */
    size_t nwlist, wcap;
    size_t active;              /* runnable runs not ended (a worker has or will have them) */
    size_t paused;              /* runs PAUSED */
    int refs;                   /* guarded by the engine's cache lock */
    int ended_notified;
    char *workdir_root;         /* working folders of this execution, NULL until made */
    int has_encrypted;          /* an output holds an encrypted value (Kestra's
                                   aes_encrypted map): renders get them decrypted */
} xexec;

/* A job the step asks to push. */
typedef struct xjob {
    const char *kind;           /* "task" or "event" */
    char *taskrun_id;
    json_t *payload;
    int64_t available_us;
} xjob;

typedef struct xactions {
    xjob *jobs;
    size_t njobs, cap;
    char **cancel_runs;         /* running task runs whose workers must stop */
    size_t ncancel;
    json_t *subflows;           /* subflow executions to create: array of objects */
    json_t *kill_children;      /* child execution ids to kill */
    json_t *notify_parent;      /* {parent_id, parent_taskrun_id, state, outputs} when a subflow ends */
    json_t *new_execution;      /* flow retry CREATE_NEW_EXECUTION: {attempt, start_us} */
} xactions;

void xactions_init(xactions *a);
void xactions_clear(xactions *a);
void xactions_push(xactions *a, const char *kind, const char *taskrun_id, json_t *payload,
                   int64_t available_us);

/* ---- the model (model.c; rendering in render.c) ------------------------------------------------------ */

xexec *xexec_new(eflow *fl);
void xexec_free(xexec *x);
/* Appends a new task run for task t under parent (-1) with a loop value
 * (borrowed, may be NULL) and iteration; returns its index. */
int xexec_add_run(xexec *x, int task, int parent, const json_t *value, int iteration, int64_t now);
void xrun_set_state(xexec *x, int r, store_state st, int64_t now);
/* Marks run r changed: written by the next commit (xexec.wlist). */
void xrun_touch(xexec *x, int r);
/* Forgets run r's loop cursor (a restart changes ended iterations). */
void xrun_loop_reset(xrun *run);
/* After the commit: nothing is left to write. */
void xexec_mark_written(xexec *x);
/* The newest run of task under parent (-1: top) with this iteration, or -1. */
int xexec_find_run(const xexec *x, int parent, int task, int iteration);
/* The run with this id, or -1. */
int xexec_run_by_id(const xexec *x, const char *id);
/* Rebuilds runs from stored rows (taken). */
int xexec_load_runs(xexec *x, store_task_run *rows, size_t n, kerr *e);
/* The expression context of run r (or of the execution when r < 0): flow,
 * execution, task, taskrun, parent(s), inputs, outputs, vars, labels,
 * envs, globals, trigger. New reference. Caller holds x->lock. */
json_t *xexec_context(engine *en, xexec *x, int r);
/* The loop values of run r, from the outermost loop to the innermost, into
 * out (at most max); returns how many. */
size_t xexec_value_chain(const xexec *x, int r, const char **out, size_t max);
/* Records run r's outputs into x->outputs (by task id and loop values). */
void xexec_index_outputs(xexec *x, int r);
/* Renders v in the context of run r; new reference or NULL + e. Caller holds x->lock. */
json_t *xexec_render(engine *en, xexec *x, int r, const json_t *v, kerr *e);
/* Same, with keys added to `taskrun` (ForEachItem's taskrun.items). */
json_t *xexec_render_extra(engine *en, xexec *x, int r, const json_t *taskrun_extra, const json_t *v, kerr *e);
/* Renders to text. */
int xexec_render_text(engine *en, xexec *x, int r, const char *tmpl, char **out, kerr *e);
/* xexec_render that, on failure, sets *err_path to the JSON pointer (inside
 * v, "" for v itself; the caller frees) of the string that failed. */
json_t *xexec_render_at(engine *en, xexec *x, int r, const json_t *v, char **err_path, kerr *e);

/* ---- the executor's step (executor.c) ------------------------------------------ */

/* Events */
typedef enum xevent_type {
    XEV_START,          /* the execution was created */
    XEV_RESULT,         /* a worker finished a task run */
    XEV_TIMER,          /* a delay asked by a flowable (pause, retry, sleep) passed */
    XEV_KILL,
    XEV_RESUME,
    XEV_CHILD_END,      /* a subflow execution ended */
    XEV_RESTART,
} xevent_type;

typedef struct xevent {
    xevent_type type;
    const char *taskrun_id;     /* RESULT, TIMER, CHILD_END */
    const json_t *data;         /* the event's payload */
} xevent;

/* Applies one event to x, then moves the execution as far as it can go
 * without waiting (creating task runs, resolving flowables, ending it).
 * Fills a with the jobs to push. Deterministic but for `now`. */
void executor_step(engine *en, xexec *x, const xevent *ev, int64_t now, xactions *a);
/* The two halves of a step: the executor applies every event of a batch to
 * an execution, then resolves it once (a wide ForEach is walked once per
 * batch, not once per event). */
void executor_apply(engine *en, xexec *x, const xevent *ev, int64_t now, xactions *a);
void executor_resolve(engine *en, xexec *x, int64_t now, xactions *a);

/* ---- the step (executor.c and flowables.c) ------------------------------------
 *
 * Resolving an execution is one recursion across two files: step_resolve
 * (executor.c) calls the run's flowable (flowables.c), whose resolve walks
 * its branches with step_walk_seq / step_walk_par / step_block (executor.c),
 * which call step_resolve on each child. That recursion is the algorithm;
 * what follows is what a flowable needs of the step. Nothing outside these
 * two files uses it.
 *
 * Walking a list may add runs, which moves x->runs: never keep an xrun
 * pointer across a walk; the json_t values it holds stay put. */

typedef struct step {
    engine *en;
    xexec *x;
    int64_t now;
    xactions *a;
    int killing;
    int changed;
    int depth;
} step;

/* Where a walked list stands. */
typedef struct step_res {
    int done;
    store_state state;  /* aggregated when done */
    int bad;            /* a task failed (or was killed) */
} step_res;

/* What the rest of the engine asks of a flowable, instead of its name. */
#define FL_LOOP    0x01u  /* runs its tasks once per value: children carry it (ForEach) */
#define FL_WORKDIR 0x02u  /* its tasks share one working folder (WorkingDirectory) */
#define FL_DAG     0x04u  /* children ordered by dependsOn: eflow_new builds the "dag" branch */
#define FL_PAUSE   0x08u  /* may wait PAUSED: a kill ends it at once */
#define FL_SUBFLOW 0x10u  /* waits on one child execution: a kill kills the child */
#define FL_ITEMS   0x20u  /* waits on many child executions, counted as each ends (ForEachItem) */
#define FL_ITEM    0x40u  /* its iterations see `item` ({value, index, key}): Loop */

typedef struct flowable {
    const char *name;       /* canonical type name (tasks/core_flow.c); NULL: none */
    unsigned flags;         /* FL_* */
    /* Moves run r as far as it goes; returns its state (RUNNING or PAUSED
     * while something is left). */
    store_state (*resolve)(step *s, int r);
} flowable;

/* The implementation of flowable type d (looked up once, by eflow_new), or
 * NULL when kite has none. */
const flowable *flowable_find(const type_def *d);
/* What a flowable type without an implementation gets: it fails the run. */
extern const flowable flowable_missing;

/* Resolves run r (a runnable's state as is; a flowable's through its resolve). */
store_state step_resolve(step *s, int r);
/* Starts a run of task under parent (runIf, dispatch to a worker or RUNNING
 * for a flowable); returns its index. value (borrowed) may be NULL: the
 * parent's value is inherited. */
int step_start_run(step *s, int task, int parent, const json_t *value, int iteration);
/* The tasks of list one after the other / all at once (at most limit
 * running, 0: no limit), under parent with the given iteration. */
step_res step_walk_seq(step *s, int parent, const elist *list, const json_t *value, int iteration);
step_res step_walk_par(step *s, int parent, const elist *list, const json_t *value, int iteration,
                       int64_t limit);
/* The end of a block: errors when the tasks failed, then finally. RUNNING
 * while something is left to run. */
store_state step_block(step *s, int parent, step_res main, const elist *errors, const elist *fin,
                       const json_t *value, int iteration);
/* Run r's state as its parent counts it (allowFailure, allowWarning, SKIPPED). */
store_state step_effective(step *s, int r);
void step_set_state(step *s, int r, store_state st);
/* Run r failed for a reason of the executor's (a bad property...): logged. */
void step_fail(step *s, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A flowable's bookkeeping, kept in its outputs (_state) so a restart finds
 * it: step_sdata gets it (made empty), step_sdata_save marks it written. */
json_t *step_sdata(step *s, int r);
void step_sdata_save(step *s, int r);
/* Sets outputs[key] of run r (v stolen). */
void step_set_output(step *s, int r, const char *key, json_t *v);
/* Renders property name of run r's task; *out NULL when absent. */
int step_prop(step *s, int r, const char *name, json_t **out /* OUT */, kerr *e);
int step_prop_int(step *s, int r, const char *name, int64_t dflt, int64_t *out /* OUT */, kerr *e);
/* A duration property of obj (the task, or one of its objects) in microseconds. */
int step_prop_duration(step *s, int r, const json_t *obj, const char *name, int64_t dflt,
                       int64_t *out /* OUT */, kerr *e);
/* Kestra's truthiness of a rendered condition. */
int step_truthy(const json_t *v);
/* Stops the execution so that it ends in state st (FAILED, CANCELLED...):
 * what runs is killed, nothing new starts (the Exit task, an SLA). */
void step_exit(step *s, store_state st);

/* A flow's `sla` (sla.c): sla_arm when the execution starts (pushes the
 * MAX_DURATION timers), sla_expired on their timer event, sla_assert at
 * each resolution (EXECUTION_ASSERTION). */
void sla_arm(step *s);
void sla_expired(step *s, const xevent *ev);
void sla_assert(step *s);

static inline int step_ended(store_state st) { return store_state_is_terminated(st); }
static inline int step_is_bad(store_state st)
{
    return st == STATE_FAILED || st == STATE_KILLED || st == STATE_CANCELLED;
}
/* The worse of two ended states, as a parent aggregates them. */
static inline int step_rank(store_state st)
{
    switch (st) {
    case STATE_WARNING: return 1;
    case STATE_CANCELLED: return 2;
    case STATE_FAILED: return 3;
    case STATE_KILLED: return 4;
    default: return 0;
    }
}
static inline store_state step_worst(store_state a, store_state b) { return step_rank(b) > step_rank(a) ? b : a; }
static inline const etask *step_task(step *s, int r) { return &s->x->fl->tasks[s->x->runs[r].task]; }
static inline const elist *step_branch(step *s, int r, const char *name)
{
    return etask_branch(step_task(s, r), name);
}
static inline int step_find_run(step *s, int parent, int task, int iteration)
{
    return xexec_find_run(s->x, parent, task, iteration);
}

/* ---- the engine object (engine.c) ----------------------------------------------- */

/* Embedded mode (one engine with both roles): the executor hands a task to
 * a waiting worker and the worker hands its result back, in memory, with
 * the store's commits in between (loop.c, worker.c):
 *   - a worker with nothing to do waits on its slot (idle); the executor
 *     reserves an idle slot for a task it dispatches, pushes the task job
 *     already leased to that worker's owner in its batch commit, and only
 *     after the commit puts the job in the slot and wakes that one worker;
 *   - a worker's result (its log lines, the result event, the ack of its
 *     task job) goes to en->results; the executor writes it with the
 *     result applied and the next task dispatched, in one commit.
 * Until that commit the task job stays leased to the worker, so a crash
 * loses nothing acknowledged: the task runs again (at least once). */
typedef struct wslot {
    pthread_cond_t wake;
    char owner[192];
    int idle;                   /* waiting for work: may be reserved */
    int reserved;               /* a job for it is being committed */
    int gone;                   /* the worker has ended */
    store_job *job;             /* handed and not taken yet (one) */
} wslot;

typedef struct hresult {
    int64_t job_id;
    char *owner;                /* the lease owner of the task job */
    char *execution_id, *task_run_id;
    char *task_id;              /* for its metrics; NULL when it has none */
    int attempt;
    json_t *payload;            /* the result event */
    store_log *logs;
    size_t nlogs;
    struct hresult *next;
} hresult;

/* Frees one handed result (its logs too). */
void engine__hresult_free(hresult *r);
/* Writes a result's metrics (the "metrics" of its event) in the caller's
 * transaction; one that fails is logged as a WARN line of the task. */
void engine__store_metrics(store *st, const char *exec_id, const char *run_id, const char *task_id, int attempt,
                           const json_t *metrics);


struct engine {
    engine_opts o;
    char worker_id[128];
    char exec_owner[160];       /* "<worker_id>/executor": the executor's lease owner */
    atomic_int worker_seq;      /* numbers the workers' owners "<worker_id>/worker-<n>" */
    atomic_llong last_reap_us;  /* orphan reaping, by the workers (worker.c) */
    unsigned roles;             /* ENGINE_EXECUTOR | ENGINE_WORKER */
    char *tmp_dir;
    char *env_prefix;
    json_t *envs;               /* `envs` in expressions (shared: json_share) */
    json_t *globals;
    size_t envs_refs, globals_refs;

    pthread_mutex_t lock;       /* the caches below, the wake conditions */
    pthread_cond_t work_wake;   /* workers have jobs */
    pthread_cond_t ended;       /* an execution ended or paused */
    int jobs_pending;
    int stopping;
    atomic_int running;
    atomic_int aborting;        /* engine_stop's grace ran out: cancelled
                                   tasks are handed back, not failed */
    atomic_int live;            /* the executor and workers still running
                                   (engine_stop may leave one behind) */

    /* flows: "ns\x1fid\x1frev" -> eflow (refcounted) */
    json_t *flow_index;         /* key -> integer slot in flows[] */
    json_t *flow_files;         /* "ns\x1fid" -> the name it was last put with */
    eflow **flows;
    size_t nflows;
    /* executions in memory: id -> xexec */
    json_t *exec_index;         /* id -> integer slot */
    xexec **execs;
    size_t nexecs;
    size_t exec_gen;            /* bumped when an execution ends or pauses */

    /* running task runs: taskrun id -> cancel flag, for kill */
    json_t *cancels;            /* id -> integer pointer */

    size_t max_task_runs;       /* o.max_task_runs or its default */
    size_t max_active;          /* per execution: runnable runs not ended, and
                                   open iterations of one loop, before a loop
                                   waits to start more (fairness) */

    /* embedded mode's hand-offs (above), under lock */
    wslot *slots;
    int nslots;
    int poller;                 /* the idle worker that polls the queue on a
                                   timer (delayed jobs, other processes'),
                                   -1 none: the others sleep until woken */
    atomic_int slot_seq;
    int handoff;                /* the executor takes results in memory */
    atomic_ullong result_pokes; /* wake-ups of the executor for results
                                   handed in memory (no event pushed): the
                                   executor tells them from event pushes */
    hresult *results, **results_tail;

    pthread_t executor;
    int executor_started;
    pthread_t *workers;
    int nworkers, nstarted;
    int64_t next_timer_us;      /* earliest delayed event known, 0 none */

    masker *mask;               /* every known secret value (log.c) */
    char *enc_key;              /* kite.yml encryption.secretKey (base64), or NULL */
    engine_secret_backend *secret_backends; /* where secret() looks (secrets.c) */
    size_t nsecret_backends;
    struct engine_hostctx *host0; /* the context of renders without an execution (host.c) */
    expr_func funcs[ENGINE_HOST_MAX]; /* the host functions that need no execution (host.c) */
    size_t nfuncs;
};

/* Flow cache: engine_flow_get / engine_flow_release (engine.h). */
/* Execution cache: loads from the store when not in memory. A new reference.
 * NULL with e->code ENGINE_E_UNLOADABLE when the execution can never load
 * (corrupt rows, its flow revision gone, more than maxTaskRuns task runs):
 * the executor quarantines it. */
#define ENGINE_E_UNLOADABLE (-100)
xexec *engine_exec_get(engine *en, const char *id, kerr *e);
void engine_exec_release(engine *en, xexec *x);
void engine_exec_forget(engine *en, const char *id);

/* Creates the execution row of a new execution (inputs already read) and its
 * start event, in the caller's transaction (ops.c). */
int engine__insert_execution(engine *en, store_execution *row, kerr *e);
/* Adds the flow's `labels` (a map or Kestra's [{key, value}] list) to out,
 * values as text (ops.c). */
int engine__flow_labels(const flow *f, json_t *out);

/* ---- logs and secrets (log.c) ----------------------------------------------------- */

/* Logs a line of the execution (task r or the execution itself when r < 0). */
void engine_log_line(engine *en, xexec *x, int r, int attempt, store_level level, const char *msg);
/* Masks known secret values in msg; returns a malloc'd copy or NULL when none matched. */
char *engine_mask_secrets(engine *en, const char *msg);
void engine_add_secret(engine *en, const char *value);
/* Registers every SECRET_* variable of the environment (decoded), at start-up. */
void engine__register_env_secrets(engine *en);
/* Registers the values of a flow's SECRET inputs found in inputs (an object). */
void engine__register_secret_inputs(engine *en, const flow *f, const json_t *inputs);
/* secret(name): engine_secret_lookup in the render's namespace (userdata:
 * an engine_hostctx, whose x is NULL outside an execution), masked. */
json_t *engine__fn_secret(void *ud, const json_t *args, const json_t *kwargs, kerr *e);

/* ---- secrets backends (secrets.c) -------------------------------------------------- */

/* Reads kite.yml's secrets.backends (NULL: kite's store alone); engine_new. */
int engine__secrets_init(engine *en, const json_t *cfg, kerr *e);
void engine__secrets_free(engine *en);

/* ---- host functions (host.c) ------------------------------------------------------ */

/* One host function: its name and arity (as expr/host.c lists them), its
 * code, and whether it needs an execution (userdata: an engine_hostctx) or
 * only the engine (userdata: the engine). */
typedef struct engine_host {
    expr_host_name sig;
    expr_host_fn fn;
    int per_execution;          /* 2: both; an engine_hostctx always, x NULL without one */
} engine_host;

extern const engine_host engine__hosts[];
extern const size_t engine__nhosts;

/* What a host function of an execution's render sees: run r of x (r < 0:
 * the execution itself). */
typedef struct engine_hostctx {
    engine *en;
    xexec *x;
    int r;
} engine_hostctx;

/* Fills funcs (room for ENGINE_HOST_MAX) with every host function, bound to
 * h; returns how many. */
size_t engine__host_funcs(engine_hostctx *h, expr_func *funcs);
/* Fills en->funcs with the functions that need no execution (engine_new). */
void engine__host_init(engine *en);

/* ---- the threads ---------------------------------------------------------------- */

/* The executor thread (loop.c). */
void *executor_main(void *arg);

/* Worker threads (worker.c). */
void *worker_main(void *arg);

#endif
