/*
 * engine.h: the execution engine: the executor, the worker pool, and the
 * operations on executions (create, wait, kill, restart, replay, resume).
 *
 * An engine runs on a store (store/store.h: executions, task runs, the job
 * queue) and a file storage. Executions are created by engine_submit(); the
 * executor thread moves them forward one event at a time, the workers run
 * their runnable tasks. `kite run` and `kite server` are thin layers on this.
 *
 * Ownership: the engine borrows the store, the storage and the globals it is
 * given for its whole life. Every function borrows its arguments; what it
 * returns through OUT parameters belongs to the caller.
 *
 * Threads: every function may be called from any thread, except that
 * engine_free() must not race with anything else.
 */
#ifndef KITE_ENGINE_H
#define KITE_ENGINE_H

#include <stdint.h>
#include <jansson.h>

#include "expr/expr.h"
#include "flow/flow.h"
#include "storage/storage.h"
#include "store/store.h"
#include "util/err.h"

typedef struct engine engine;

/* A log line as the engine sees it, for live output (kite run, SSE). */
typedef struct engine_log {
    const char *execution_id;
    const char *task_id;       /* NULL for the execution's own lines */
    const char *taskrun_id;
    int attempt;
    int64_t at_us;
    store_level level;
    const char *message;       /* secrets already masked */
} engine_log;

typedef void (*engine_log_fn)(void *ud, const engine_log *l);

/* The threads an engine runs (engine_opts.roles): the executor (events,
 * the only writer of executions) and the workers (tasks). A process may run
 * either or both; several processes share one store. */
#define ENGINE_EXECUTOR 0x1u
#define ENGINE_WORKER   0x2u

typedef struct engine_opts {
    store *store;              /* required */
    storage *storage;          /* required */
    const char *tmp_dir;       /* where working folders go; NULL: $TMPDIR or /tmp */
    int workers;               /* worker threads; 0: ENGINE_WORKERS_PER_CORE per core */
    json_t *globals;           /* `globals` in expressions; may be NULL */
    const char *env_prefix;    /* environment variables exposed as `envs`; NULL: "ENV_" */
    const char *worker_id;     /* this process's id among those sharing the store; NULL:
                                  "<hostname>-<pid>" ("<hostname>-<pid>.<n>" for the n-th
                                  engine of a process). Leases are held as
                                  "<worker_id>/executor" and "<worker_id>/worker-<n>". */
    unsigned roles;            /* ENGINE_EXECUTOR | ENGINE_WORKER; 0: both */
    int64_t lease_us;          /* worker job lease; 0: 5 minutes, extended while running */
    engine_log_fn on_log;      /* called for every log line, from any thread; may be NULL */
    void *on_log_ud;
    store_level min_log_level; /* lines below are dropped (default TRACE: keep all) */
    /* Called after the commit that ended (or paused) an execution, from the
     * executor thread; must not block. May be NULL. */
    void (*on_end)(void *ud, const char *execution_id, store_state state);
    void *on_end_ud;
    /* Task runs one execution may have (kite.yml engine.maxTaskRuns); 0:
     * ENGINE_MAX_TASK_RUNS. A ForEach whose values would pass it fails
     * before it starts; any other run past it fails. */
    size_t max_task_runs;
    /* How long engine_stop waits, after the grace period, for cancelled
     * tasks to wind down before it leaves their threads behind; 0:
     * ENGINE_STOP_MARGIN_US. */
    int64_t stop_margin_us;
    /* Where secret() looks, in order, before $SECRET_<NAME>: kite.yml's
     * secrets.backends list ([{type: kite}, {type: vault, address, token |
     * roleId + secretId, mount, prefix, namespace, timeout, caFile,
     * insecure}], docs/secrets.md); NULL: kite's store alone. Borrowed. */
    const json_t *secret_backends;
    /* kite.yml encryption.secretKey: base64 of a 16, 24 or 32-byte AES key
     * (Kestra's kestra.encryption.secret-key). With it, encryptedOutputs and
     * a Request's encryptBody are stored encrypted and decrypted for the
     * tasks that read them; NULL: they are kept in clear. Copied. */
    const char *encryption_key;
} engine_opts;

#define ENGINE_MAX_TASK_RUNS 100000
/* Worker threads per core when engine_opts.workers is 0 (Kestra's default:
 * tasks mostly wait on a process, a server or a timer). */
#define ENGINE_WORKERS_PER_CORE 8

/* Creates an engine; no thread runs until engine_start(). */
engine *engine_new(const engine_opts *o, kerr *e);
/* Starts the threads of its roles (the executor, the workers); first
 * recovers what a dead process left: leases past their deadline, and those
 * of owners known dead (a previous run of this worker id, or a process of
 * this host that no longer exists) go back to the queue at once. Leases of
 * live processes are left alone. Pending events are then processed. */
int engine_start(engine *en, kerr *e);
/* Stops taking work, waits up to grace_us for running tasks, cancels the
 * rest, joins every thread, then gives back the leases it still holds
 * (requeued at once: they run again). A hard limit: it returns at most
 * ENGINE_STOP_MARGIN_US after the grace period, leaving behind a thread
 * that is still busy (an evaluation that never looks at its cancel flag),
 * with this process's leases (the next start takes them back);
 * engine_stuck_threads says how many are still busy, and engine_free frees
 * nothing while one is (the process should exit). */
void engine_stop(engine *en, int64_t grace_us);
#define ENGINE_STOP_MARGIN_US (6LL * 1000000)
int engine_stuck_threads(engine *en);
/* Deliveries of a task job (its lease expired, or the process stopped,
 * while it ran) after which its task run fails: "lease expired 5 times:
 * the task never ended". */
#define ENGINE_MAX_DELIVERIES 5
void engine_free(engine *en);

/* ---- secrets (engine/log.c) ---------------------------------------------- */

/* Registers a secret value (n bytes) and its encoded forms: from now on it is
 * masked in logs, API answers, streams and `kite run --json`. The secrets
 * store and Vault call it with every value they hand out. */
void engine_secret_register(engine *en, const char *value, size_t n);
/* The value of secret name as namespace ns sees it (ns may be NULL: only
 * $SECRET_<name>): each backend in order (kite's store when it is unlocked,
 * Vault), each with ns then its parents, then $SECRET_<name> (base64).
 * Read now, not cached; registered with the masker before it returns.
 * *value is malloc'd (NUL-terminated, *n bytes). KERR_NOT_FOUND when no
 * backend has it; another error (Vault unreachable, a timeout) names the
 * backend and the cause. */
int engine_secret_lookup(engine *en, const char *ns, const char *name, char **value /* OUT */,
                         size_t *n /* OUT */, kerr *e);
/* Masks every known secret in s (n bytes). NULL when nothing matched; else a
 * malloc'd copy the caller frees, its length in *out_len (may be NULL). */
char *engine_mask(engine *en, const char *s, size_t n, size_t *out_len);
/* kite.yml encryption.secretKey (engine_opts.encryption_key), or NULL; borrowed. */
const char *engine_encryption_key(const engine *en);

/* Registers the SECRET inputs of an execution read from the store (its flow's
 * declarations say which), so that an answer about it masks them even in a
 * process that did not start it. */
void engine_execution_secrets(engine *en, const store_execution *x);

/* ---- expressions ---------------------------------------------------------- */

/* The expression environment of renders outside an execution (a trigger's
 * conditions and inputs): the engine's host functions that need no
 * execution (secret). env is filled, borrowing from en for its life. */
void engine_expr_env(engine *en, expr_env *env);
/* The engine's file storage and the folder of its working folders (borrowed):
 * for the scheduler's polling triggers, which run a poll as a task runs. */
storage *engine_storage(engine *en);
const char *engine_tmp_dir(engine *en);

/* ---- flows --------------------------------------------------------------- */

/* A flow revision compiled for the engine, shared read-only by the threads
 * that run it. */
typedef struct eflow eflow;
/* The compiled flow of revision `revision` of ns.id (0: the latest, not
 * deleted), from the engine's cache, compiled from the store on a miss. A
 * revision > 0 found in the cache is not read from the store again (a
 * revision never changes once written). A new reference for
 * engine_flow_release; NULL with e set: "flow X.Y not found" (KERR_NOT_FOUND),
 * KERR_INVALID when the revision is no longer valid. */
eflow *engine_flow_get(engine *en, const char *ns, const char *id, int revision, kerr *e);
void engine_flow_release(engine *en, eflow *fl);
/* The flow's document (its YAML as JSON) and revision: borrowed and
 * read-only (other threads read it too), valid while fl is held. */
const json_t *engine_flow_doc(const eflow *fl);
int engine_flow_revision(const eflow *fl);

/* What run-time messages call the flow's file: the name it was last put
 * with in this process, else "{namespace}/{id}.yaml". */
void engine_flow_file(engine *en, const char *ns, const char *id, char *out, size_t outsz);
/* Writes the webhook index of a flow revision (store_webhook_keys_put) from
 * its JSON doc: every Webhook trigger's key, hashed when literal, as text
 * when a template. engine_flow_put calls it; so does the webhook matcher for
 * a revision stored before the index existed. */
int engine_webhook_index(store *st, const char *ns, const char *id, int revision, const json_t *doc,
                         kerr *e);
/* Stores a flow's source in the store as a new revision when it changed
 * (validating it first); *revision gets the current revision. name is what
 * messages call the file: the diagnostics, and the run-time errors that name
 * a task's position ("flows/etl.yaml:12:7: task 'load': ...") until the flow
 * is put again. NULL: a flow stored through the API, which run-time messages
 * call "{namespace}/{id}.yaml". The webhook index (engine_webhook_index)
 * follows each revision. */
int engine_flow_put(engine *en, const char *source, size_t len, const char *name,
                    int *revision /* OUT, may be NULL */, diags *d);
/* engine_flow_put of a flow already loaded (flow_load_text or
 * flow_load_file with name as its file), which it takes: it is not parsed
 * again, and its compiled form goes to the flow cache. */
int engine_flow_put_parsed(engine *en, flow *f, const char *name, int *revision /* OUT, may be NULL */,
                           diags *d);
/* A flow stored through the API, parsed once: must_be_new 1 creates it
 * (KERR_DUPLICATE when it exists), 0 updates it (KERR_NOT_FOUND when it does
 * not exist; when ns and id are given, KERR_INVALID unless the source is that
 * flow). On success *row is the stored revision (store_flow_clear it).
 * Returns 0; -1 with e set (KERR_INVALID and every problem in d when the
 * flow is not valid); -2 when the text is not YAML (the problem in d, with
 * its position). Run-time messages call the flow's file
 * "{namespace}/{id}.yaml". */
int engine_flow_create(engine *en, const char *source, size_t len, int must_be_new, const char *ns, const char *id,
                       store_flow *row /* OUT */, diags *d, kerr *e);

/* ---- executions ---------------------------------------------------------- */

typedef struct engine_submit_opts {
    const char *namespace, *flow_id;
    int revision;              /* 0: latest */
    json_t *inputs;            /* given inputs: strings (CLI, form) or typed JSON; may be NULL */
    json_t *files;             /* FILE inputs: input id -> local path to upload; may be NULL */
    json_t *labels;            /* labels added to the flow's; may be NULL */
    json_t *trigger;           /* trigger variables (`trigger.*`); may be NULL */
    const char *parent_id;     /* subflows */
    const char *parent_taskrun_id;
    int64_t scheduled_us;      /* a schedule's date; 0: now */
    const char *id;            /* the id to give it (from store_new_id: a polling
                                  trigger's files are stored under it first); NULL: new */
} engine_submit_opts;

/* Validates the inputs and creates an execution (committed before return),
 * writing its id into id_out. A bad input creates nothing and names the
 * input in e. */
int engine_submit(engine *en, const engine_submit_opts *o, char id_out[STORE_ID_LEN + 1], kerr *e);

/* Tells the executor that events were committed by someone else (the
 * scheduler, after its own transaction). */
void engine_wake_executor(engine *en);

/* Waits until the execution has ended (or is PAUSED when stop_on_pause), or
 * timeout_us passed (0: forever). *state gets its state then. Returns 0, or
 * -1 on a store error or a timeout (e says which). */
int engine_wait(engine *en, const char *id, int stop_on_pause, int64_t timeout_us,
                store_state *state /* OUT */, kerr *e);

/* 1 when the execution is PAUSED waiting for a person (a Pause without a
 * delay or a timeout), 0 when it is not paused or resumes by itself. */
int engine_waiting_for_person(engine *en, const char *id);

/* Errors of the operations below keep their class (util/err.h), which the
 * API maps to a status: KERR_NOT_FOUND (no such execution, flow or task
 * run), KERR_CONFLICT (its state forbids it: kill an ended execution, resume
 * one that is not PAUSED...), KERR_INVALID (the caller's inputs). */

/* Kills an execution: running tasks are cancelled, nothing new starts, its
 * running subflows are killed too. */
int engine_kill(engine *en, const char *id, kerr *e);
/* Deletes an ended (or PAUSED) execution: its row, task runs, logs and
 * internal files. KERR_CONFLICT while it runs (kill it first). */
int engine_delete(engine *en, const char *id, kerr *e);
/* Resumes a PAUSED execution; inputs answer the Pause task's onResume. */
int engine_resume(engine *en, const char *id, json_t *inputs, kerr *e);
/* Restarts a FAILED execution: its failed task runs run again in the same
 * execution. */
int engine_restart(engine *en, const char *id, kerr *e);
/* Replays an execution from the task run taskrun_id (NULL: from the start)
 * as a new execution whose originalId is id. */
int engine_replay(engine *en, const char *id, const char *taskrun_id,
                  char new_id[STORE_ID_LEN + 1], kerr *e);

/* ---- Kestra's JSON (engine/view.c) --------------------------------------- */

/* The one home of the shapes the API (and the UI) answer. Each returns a new
 * reference and borrows its arguments. */

/* The execution as Kestra's API shows it: id, namespace, flowId,
 * flowRevision, state {current, histories, startDate, endDate, duration},
 * taskRunList [...], inputs, outputs, labels, originalId, parentId... New
 * reference, or NULL with e set. */
json_t *engine_execution_json(engine *en, const char *id, kerr *e);
/* The same, but an execution of more than max_runs task runs comes without
 * taskRunList and with "taskRunCount" (its task runs are then read in pages,
 * GET /executions/{id}/taskruns): its JSON would be megabytes. */
json_t *engine_execution_json_max(engine *en, const char *id, size_t max_runs, kerr *e);
/* The same from a row, without taskRunList (searches: one read per page). */
json_t *engine_json_execution(const store_execution *x);
/* One entry of taskRunList: id, executionId, namespace, flowId, taskId,
 * state, parentTaskRunId, value, attempts [{state}], outputs (public ones). */
json_t *engine_json_task_run(const store_execution *x, const store_task_run *t);
/* A stored flow: its JSON with id, namespace, revision, deleted, and source
 * when with_source. */
json_t *engine_json_flow(const store_flow *f, int with_source);
/* A log line: namespace, flowId, executionId, taskId, taskRunId,
 * attemptNumber, timestamp, level, message. */
json_t *engine_json_log(const char *ns, const char *flow_id, const char *execution_id, const store_log *l);
/* A task metric in Kestra's MetricEntry shape. */
json_t *engine_json_metric(const char *ns, const char *flow_id, const store_metric *m);
/* The execution's task metrics (a list of MetricEntry), in the order they
 * were reported; NULL with e set (KERR_NOT_FOUND for no such execution). */
json_t *engine_execution_metrics_json(store *st, const char *id, kerr *e);
/* state {current, histories [{state, date}], startDate, endDate, duration}. */
json_t *engine_json_state(store_state st, const store_history *h, size_t n);
/* Labels {k: v} as Kestra's list [{key, value}]. */
json_t *engine_json_labels(const json_t *labels);
/* A date as ISO-8601 text in UTC; null for 0. */
json_t *engine_json_time(int64_t us);

/* ---- inputs (engine/inputs.c) ------------------------------------------- */

/* Reads the inputs given for an execution of f against its declared inputs:
 * types converted (a string "12" for an INT), defaults applied (rendered when
 * they are expressions), required ones checked, validators applied (regex,
 * min/max, values, after/before), FILE inputs uploaded to storage under the
 * execution's URI (files: input id -> local path). Returns a new object, or
 * NULL with an error in e that names the input: "input 'n': '12a' is not an
 * integer". */
json_t *engine_inputs_read(const flow *f, const json_t *given, const json_t *files,
                           storage *st, const char *execution_id, kerr *e);

/* Types a flow output's rendered value as its declared type (a STRING "3"
 * stays "3", an INT "3" becomes 3, a FILE a URI that must exist...). New
 * reference or NULL with e naming the output. */
json_t *engine_output_typed(const char *id, const char *type, json_t *value, kerr *e);

#endif
