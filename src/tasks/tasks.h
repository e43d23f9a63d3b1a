/*
 * tasks.h: kite's task families, and the contract between a runnable task
 * and the engine that runs it.
 *
 * One file per family (core.c, kv.c, storage.c, scripts.c, ...), each
 * declaring its types in one const table of type_def (flow/schema.h) and
 * holding the code that runs them: a runnable type points its `hooks` at a
 * struct task_hooks whose run() is called on a worker thread with a
 * task_ctx. A type kite declares but cannot run yet has no hooks
 * (docs/internals/new-task-type.md).
 *
 * DESIGN
 * The engine sits above this layer, so the task_ctx is filled by the engine
 * and reached through a const table of operations (task_ctx_ops), as curl's
 * protocol handlers are: a task never includes engine headers, and a unit
 * test can run a task with a table of its own. Flowable types (Sequential,
 * Parallel, ForEach...) have no hooks here: they never run on a worker; the
 * executor resolves them itself (engine/flowables.c).
 *
 * Ownership: the task_ctx and everything it points to belong to the engine
 * and live until run() returns. Values handed to task_output() and
 * task_metric() are stolen; task_prop*() return new values the task frees.
 */
#ifndef KITE_TASKS_H
#define KITE_TASKS_H

#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>

#include "flow/schema.h"
#include "storage/storage.h"
#include "store/store.h"
#include "util/err.h"

/* Loads every family's table into the flow registry. Idempotent; call once
 * before threads start. */
void tasks_register_all(void);

/* ---- running a task ------------------------------------------------------ */

typedef struct task_ctx task_ctx;
struct diags;

/* How a run ended. */
typedef enum task_result {
    TASK_SUCCESS = 0,
    TASK_WARNING,
    TASK_FAILED,     /* e holds why */
    TASK_KILLED,     /* it saw the cancel flag and stopped */
} task_result;

/* What a polling trigger's poll() calls when it found something to start the
 * flow with: creates the execution with vars (stolen) as its `trigger.*`
 * variables and commits it. 0, or -1 with e set (nothing was created). */
typedef int (*task_fire_fn)(task_ctx *c, json_t *vars, kerr *e);

struct task_hooks {
    /* Runs the task. Reads properties with task_prop*(), reports with
     * task_log(), task_output(), task_metric(), and returns how it ended
     * (with the error in e for TASK_FAILED). A task that runs for long checks
     * task_cancelled() at least every 100 ms, or passes c->cancel on to
     * proc_run. */
    task_result (*run)(task_ctx *c, kerr *e);
    /* Polling triggers (kind TK_TRIGGER: SQL, MongoDB, S3), instead of run:
     * one poll, on the scheduler's thread (sched/polltrigger.c), with c built
     * as for a task (c->task the trigger, c->execution_id the id the
     * execution will get, so its files land in that execution's folder).
     * When the source has something, calls fire() and only after it
     * consumes what it read (afterSQL's COMMIT, S3's MOVE or DELETE): a
     * crash in between starts the flow twice, never zero times. Returns 1
     * when it fired, 0 when there was nothing, -1 with e set. */
    int (*poll)(task_ctx *c, task_fire_fn fire, kerr *e);
};

typedef struct task_ctx_ops {
    /* Renders v (strings through the expression language, lists and maps
     * recursively) in the task's context; a string that is one whole
     * `{{ expression }}` keeps the expression's type. New reference, or NULL
     * with e set and, when err_path is not NULL, *err_path the JSON pointer
     * inside v of the string that failed ("" for v itself; the caller
     * frees). */
    json_t *(*render)(task_ctx *c, const json_t *v, char **err_path, kerr *e);
    /* Adds a log line (secrets masked by the engine). */
    void (*log)(task_ctx *c, store_level level, const char *msg);
    /* Optional: masks known secrets in s (n bytes); NULL when nothing
     * matched, else a malloc'd copy (length in *out_len). For text that is
     * about to be cut into several log lines: masking the whole first keeps
     * a secret that straddles a cut from escaping. */
    char *(*mask)(task_ctx *c, const char *s, size_t n, size_t *out_len);
    /* Optional: registers value as a secret, masked from then on in every
     * log line and answer (a webhook URL's token, a password the task was
     * given). For the alert tasks (tasks/notify.c). */
    void (*add_secret)(task_ctx *c, const char *value);
    /* Optional (added for the Git tasks): stores a flow's source as a new
     * revision when it changed, validated by the engine (engine_flow_put);
     * name is what messages call the file. *revision gets the current
     * revision. Returns 0, or -1 with the problems in d (none: a store
     * error). */
    int (*flow_put)(task_ctx *c, const char *source, size_t len, const char *name, int *revision,
                    struct diags *d);
    /* Optional: encrypts plain (len bytes) with the engine's output key
     * (kite.yml encryption.secretKey): Kestra's AES/GCM base64 text
     * (malloc'd), or NULL when no key is configured. The value then goes in
     * an output as tasks__encrypted() makes it; the engine decrypts it for
     * the tasks that read it. */
    char *(*encrypt)(task_ctx *c, const char *plain, size_t len);
} task_ctx_ops;

/* Kestra's encrypted output value: {"type": TASKS_ENCRYPTED_TYPE, "value": text}. */
#define TASKS_ENCRYPTED_TYPE "io.kestra.datatype:aes_encrypted"
/* The output value of plain (len bytes) encrypted with the engine's key, or
 * NULL when the engine has none (the caller then says what it does instead). */
json_t *tasks__encrypted(task_ctx *c, const char *plain, size_t len);

struct task_ctx {
    const task_ctx_ops *ops;
    void *engine;               /* the engine's own data */
    const json_t *task;         /* the task as written, plugin defaults applied */
    const type_def *def;
    const char *namespace;
    const char *flow_id;
    const char *execution_id;
    const char *task_id;
    const char *taskrun_id;
    const char *value;          /* taskrun.value inside ForEach, else NULL */
    int attempt;                /* 1 for the first */
    store *store;               /* kv, log fetch */
    storage *storage;           /* internal files */
    const char *workdir;        /* a folder shared by the tasks of a
                                   WorkingDirectory, else NULL */
    const char *tmp_root;       /* where a task may make its own folders */
    atomic_int *cancel;         /* non-zero: the execution is killed or the
                                   task timed out: stop (proc_run takes it) */
    int64_t deadline_us;        /* monotonic (time_mono_us) deadline of the
                                   task's timeout, 0 when none */
    /* where the task was written, so that a property that fails to render
     * names its line and column: NULL when unknown (then messages name the
     * property only) */
    const char *flow_file;      /* what messages call the flow's file */
    const struct posmap *flow_pos;  /* positions in it (flow/flow.h) */
    const char *task_path;      /* the task's JSON pointer in the flow */

    /* filled by the task, read by the engine after run() */
    json_t *outputs;            /* object, starts empty */
    json_t *metrics;            /* array of {name, type, value, tags} */
    json_t *labels;             /* object: labels to set on the execution, or NULL */
    int exit_state;             /* Exit task: a store_state to end the execution
                                   with, -1 otherwise */
    json_t *set_variables;      /* SetVariables: a map deep-merged into the
                                   execution's `vars`, or NULL */
    json_t *unset_variables;    /* UnsetVariables: names removed from `vars`, or NULL */
};

/* ---- what tasks call (tasks/ctx.c) ---------------------------------------- */

/* The rendered value of property name, or *out NULL when it is absent or
 * null. Returns 0, or -1 with e set: a rendering error names the property
 * and, when the task's position is known, the flow file's line and column
 * of the string that failed: "flows/etl.yaml:12:7: task 'load': property
 * 'url': undefined variable 'inputs.urll'" (e->line/col hold that position). */
int task_prop(task_ctx *c, const char *name, json_t **out /* OUT */, kerr *e);
/* Rewrites e, the error of rendering property name (at: the JSON pointer of
 * the failing string inside it, may be NULL), as task_prop reports it. */
void task_prop_locate(task_ctx *c, const char *name, const char *at, kerr *e);
/* Typed forms: absent gives dflt; a value of the wrong kind is an error
 * naming the property. *out of task_prop_string is malloc'd (NULL when
 * absent and dflt is NULL). */
int task_prop_string(task_ctx *c, const char *name, const char *dflt, char **out /* OUT */, kerr *e);
int task_prop_int(task_ctx *c, const char *name, int64_t dflt, int64_t *out /* OUT */, kerr *e);
int task_prop_bool(task_ctx *c, const char *name, int dflt, int *out /* OUT */, kerr *e);
/* An ISO-8601 duration (or a number of seconds) in microseconds. */
int task_prop_duration(task_ctx *c, const char *name, int64_t dflt, int64_t *out /* OUT */, kerr *e);
/* Renders one template string. */
int task_render_text(task_ctx *c, const char *tmpl, char **out /* OUT */, kerr *e);

void task_log(task_ctx *c, store_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets outputs[key] = value (stolen). */
void task_output(task_ctx *c, const char *key, json_t *value);
/* Adds a metric; tags (stolen) may be NULL. */
void task_metric(task_ctx *c, const char *name, store_metric_type type, double value, json_t *tags);
int task_cancelled(const task_ctx *c);
/* Registers value (NULL: nothing) as a secret through ops->add_secret, when
 * the engine offers it. */
void task_secret(task_ctx *c, const char *value);
/* Stores the local file src as <name> among this task run's files and
 * returns its kestra:/// URI (malloc'd). */
int task_store_file(task_ctx *c, const char *src, const char *name, char **uri /* OUT */, kerr *e);

/* ---- the HTTP trigger's request (tasks/http.c, for sched/httptrigger.c) ---- */

/* Sends the request that props describes (Request's properties, already
 * rendered) on this thread's HTTP client, any status being an answer.
 * Returns 0 and *out {code, headers, uri, body} (new reference), or -1 with
 * the one-line failure in e. enc_key (base64, or NULL): the key an
 * `encryptBody: true` encrypts the body with (engine_encryption_key). */
int tasks_http_poll(const json_t *props, const char *enc_key, json_t **out /* OUT */, kerr *e);

/* ---- the Git family's shared parts (tasks/git.c), for the CLI too ----------- */

/* Clones url (branch NULL: the remote's HEAD) into the folder dest, with a
 * username/password (token) or an SSH private key's text (written to a 0600
 * file under tmp_root for the clone's time). known_hosts (known_hosts lines,
 * or NULL) turns on the SSH host key check, as strictHostKeyChecking does
 * for the Git tasks. ca_file (a PEM file, or NULL) is trusted for HTTPS
 * besides the system's CA store, as trustedCaPemPath ($KITE_GIT_CA_FILE in
 * messages). 0, or -1 with e set (never a secret in it). */
int tasks_git_clone(const char *url, const char *branch, const char *user, const char *pass, const char *key,
                    const char *passphrase, const char *known_hosts, const char *ca_file, const char *tmp_root,
                    const char *dest, kerr *e);

/* Stores one flow (what task_ctx_ops.flow_put does for a task). */
typedef int (*tasks_flow_put_fn)(void *ud, const char *source, size_t len, const char *name, int *revision,
                                 struct diags *d);
/* A line of the sync's report: warn 1 for a skipped file (file:line:col). */
typedef void (*tasks_flow_sync_log_fn)(void *ud, int warn, const char *msg);

typedef struct tasks_flow_sync_opts {
    const char *dir;        /* the folder of flow files */
    const char *dir_name;   /* what messages call it (NULL: dir) */
    const char *ns;         /* the target namespace */
    int children;           /* subfolders are child namespaces */
    int del;                /* delete the namespace's flows no file names */
    int dry_run;            /* change nothing, report what would change */
    const char *keep_ns, *keep_id;  /* a flow never deleted (the running one), or NULL */
} tasks_flow_sync_opts;

/* Syncs the flow files of o->dir into namespace o->ns (see git.c). A file
 * that does not validate is logged with file:line:col and skipped. *report
 * (new) is {flows: [{syncState, flowId, namespace, revision, gitPath}],
 * added, updated, deleted, unchanged: ["ns.id"...], invalid: [file...]}.
 * Returns 0, or -1 with e set (a folder that cannot be read, a store
 * error). */
int tasks_flow_sync(store *st, tasks_flow_put_fn put, void *ud, const tasks_flow_sync_opts *o,
                    tasks_flow_sync_log_fn log, void *log_ud, json_t **report /* OUT */, kerr *e);

/* ---- script tasks' default runner ------------------------------------------ */

/* The runner of script tasks that set no taskRunner (kite.yml
 * defaults.taskRunner): a runner type such as "runner.sandbox", or NULL for
 * the process runner. Call before threads start. 0, or -1 with e set when
 * type is not a runner kite can make the default (runner.process,
 * runner.sandbox). */
int tasks_set_default_runner(const char *type, kerr *e);

#endif
