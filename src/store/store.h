/*
 * store.h: the repository layer, kite's one durable memory.
 *
 * Everything the engine must not forget goes through this interface: flows
 * and their revisions, executions, task runs with their attempts and outputs,
 * logs, metrics, the durable job queue between the executor and the workers,
 * trigger state and the key-value store. Rows, not one growing document: a
 * ForEach over 100,000 values writes 100,000 small task-run rows, never a
 * megabyte-sized execution blob per step (see DESIGN.md).
 *
 * Backends sit behind a table of operations (store_int.h, the way curl keeps
 * protocol handlers): "sqlite" today, "postgres" next, chosen by the URL given
 * to store_open. Callers never see which one they talk to.
 *
 * Threads: a store may be used from any number of threads at once. A
 * transaction (store_begin .. store_commit) belongs to the thread that began
 * it: every store call that thread makes until commit or rollback lands in it,
 * and no other thread sees those writes before the commit. Calls made outside
 * a transaction are each atomic on their own. A call that fails inside a
 * transaction has no effect and leaves the transaction open: the caller
 * commits the rest or rolls back.
 *
 * Processes: a store must not be used across fork(), and a process with a
 * store open must not fork a child that goes on to use SQLite (a background
 * thread may hold one of SQLite's mutexes at the fork): spawn processes with
 * posix_spawn/exec, or free the store first. Several processes may open the
 * same database at once.
 *
 * Ownership: every function borrows its arguments (strings, json_t, structs)
 * and never keeps them; what it returns through an OUT parameter belongs to
 * the caller, released with the matching *_clear / *_free function. json_t
 * values returned are new references.
 *
 * Errors: functions return STORE_OK (0) or a negative store_rc, with a
 * message in the kerr (e->code holds the same store_rc, which is the kerr_code
 * of the same name: the class survives any rewording above the store). Times are
 * microseconds since the Unix epoch, UTC; 0 means "not set".
 */
#ifndef KITE_STORE_STORE_H
#define KITE_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/err.h"

typedef struct store store;

/* ---- results ------------------------------------------------------------ */

typedef enum store_rc {
    STORE_OK = KERR_OK,
    STORE_ERROR = KERR_INTERNAL,         /* I/O, corrupt database, bad input, ... */
    STORE_NOT_FOUND = KERR_NOT_FOUND,    /* no such row (or a kv key that expired) */
    STORE_CONFLICT = KERR_CONFLICT,      /* optimistic concurrency: the version named is stale,
                                          * or a queue lease now belongs to someone else */
    STORE_DUPLICATE = KERR_DUPLICATE,    /* a unique key already exists (e.g. a trigger tick) */
} store_rc;

/* Limits on what callers pass in, checked before any backend sees it. */
#define STORE_ID_MAX 256          /* ids, namespaces, keys, task ids, kinds */
#define STORE_ID_LEN 22           /* length of ids made by store_new_id */

/* ---- states ------------------------------------------------------------- */

/* Execution and task-run states, as Kestra names them. */
typedef enum store_state {
    STATE_CREATED,
    STATE_QUEUED,
    STATE_RUNNING,
    STATE_PAUSED,
    STATE_RESTARTED,
    STATE_KILLING,
    STATE_SUCCESS,
    STATE_WARNING,
    STATE_FAILED,
    STATE_KILLED,
    STATE_CANCELLED,
    STATE_RETRYING,
    STATE_RETRIED,
    STATE_SKIPPED,
    STATE__COUNT
} store_state;

/* "SUCCESS" for STATE_SUCCESS; "UNKNOWN" for a value out of range. */
const char *store_state_name(store_state st);
/* The state named name (exact, upper case); -1 when there is none. */
int store_state_parse(const char *name, store_state *st /* OUT */);
/* 1 for the ended states (SUCCESS, WARNING, FAILED, KILLED, CANCELLED,
 * RETRIED, SKIPPED), as Kestra's State.Type.isTerminated. */
int store_state_is_terminated(store_state st);

typedef enum store_level {
    LEVEL_TRACE,
    LEVEL_DEBUG,
    LEVEL_INFO,
    LEVEL_WARN,
    LEVEL_ERROR,
    LEVEL__COUNT
} store_level;

const char *store_level_name(store_level l);
/* Reads "INFO", "info", "WARNING" (alias of WARN); -1 when unknown. */
int store_level_parse(const char *name, store_level *l /* OUT */);

/* ---- ids and time ------------------------------------------------------- */

/* Writes a fresh id, STORE_ID_LEN base62 characters and a NUL, into out:
 * 8 characters of the time in milliseconds (ids made later sort later, in
 * different milliseconds) then 14 random ones from getrandom (about 83
 * bits). Thread-safe. */
void store_new_id(char out[STORE_ID_LEN + 1]);
/* Wall-clock now in microseconds (CLOCK_REALTIME). */
int64_t store_now_us(void);

/* ---- opening ------------------------------------------------------------ */

typedef struct store_opts {
    /* 0: synchronous=NORMAL (survives a kill -9 of the process in WAL mode),
     * 1: synchronous=FULL (also survives a power loss, one fsync a commit). */
    int sync_full;
    /* How long a write waits for another process holding the database, in
     * milliseconds; 0 means the default, 5000. */
    int busy_timeout_ms;
    /* WAL size, in pages, at which the background checkpointer copies it
     * back into the database; 0 means the default, 10000 (40 MB). */
    int checkpoint_pages;
} store_opts;

#define STORE_OPTS_INIT {0, 0, 0}

/* Opens (creating it if needed) the store at url: "sqlite:PATH", a plain
 * PATH (SQLite), or "postgres://..." (not built in yet: refused). Applies the
 * schema migrations this kite knows, in order, in one transaction; refuses a
 * database written by a newer kite. opts may be NULL (defaults).
 * Returns STORE_OK and *out, or an error in e. */
int store_open(const char *url, const store_opts *opts, store **out /* OUT */, kerr *e);
/* Closes every connection. No other thread may use s during or after. NULL is
 * fine. */
void store_free(store *s);
/* The backend's name ("sqlite"). */
const char *store_backend(const store *s);
/* The schema version of the open database. */
int store_schema_version(store *s);
/* The newest schema version this kite knows. */
int store_schema_latest(void);

/* ---- transactions ------------------------------------------------------- */

/* Starts a write transaction for the calling thread. Transactions nest: an
 * inner begin/commit pair only counts depth; an inner rollback dooms the
 * outer transaction (its commit then rolls back and fails). Writers wait for
 * each other (one writer at a time per database), at most busy_timeout_ms,
 * then fail with "database is locked"; readers never wait. Keep
 * transactions short, and never wait for another thread inside one. */
int store_begin(store *s, kerr *e);
/* Makes the transaction durable (as the sync setting promises) and ends it.
 * On failure the transaction is rolled back. */
int store_commit(store *s, kerr *e);
/* Abandons the transaction. Safe to call when none is open (does nothing). */
void store_rollback(store *s);

/* Makes the calling thread's reads, until store_snapshot_end, see one
 * consistent state of the database (an execution and its task runs as of
 * the same moment), without blocking or being blocked by writers. Writes
 * made meanwhile (by anyone, this thread included) are not seen until the
 * end. Inside a transaction it does nothing (the transaction is already
 * consistent). Snapshots do not nest. Keep them short: while one is open
 * the WAL cannot be checkpointed past it. */
int store_snapshot_begin(store *s, kerr *e);
/* Ends the snapshot; nothing happens when none is open. */
void store_snapshot_end(store *s);

/* ---- flows -------------------------------------------------------------- */

typedef struct store_flow {
    char *namespace;
    char *id;
    int revision;           /* 1, 2, ... */
    char *source;           /* the YAML as the user wrote it */
    json_t *json;           /* the same flow as JSON; may be NULL */
    int deleted;            /* this revision records a deletion */
    int64_t created_us;
} store_flow;

void store_flow_clear(store_flow *f);
void store_flows_free(store_flow *v, size_t n);

/* Stores source as the newest revision of (ns, id) when it differs from the
 * current one (or the flow is new or deleted); otherwise keeps the current
 * revision. json (borrowed) may be NULL. *revision (may be NULL) receives the
 * current revision, *created (may be NULL) 1 when a new one was written. */
int store_flow_put(store *s, const char *ns, const char *id, const char *source,
                   json_t *json, int *revision /* OUT */, int *created /* OUT */, kerr *e);
/* revision 0: the latest revision, STORE_NOT_FOUND when the flow is unknown
 * or deleted. revision > 0: that revision, deleted or not. */
int store_flow_get(store *s, const char *ns, const char *id, int revision,
                   store_flow *out /* OUT */, kerr *e);
/* The latest revision's number, without reading the flow (for a reader that
 * keeps compiled revisions: a revision never changes once written):
 * STORE_NOT_FOUND when the flow is unknown or deleted. */
int store_flow_head(store *s, const char *ns, const char *id, int *revision /* OUT */, kerr *e);
/* Every revision of the flow, oldest first (*n may be 0). */
int store_flow_revisions(store *s, const char *ns, const char *id,
                         store_flow **out /* OUT */, size_t *n /* OUT */, kerr *e);
/* Records a deletion as a new revision (the source kept); STORE_NOT_FOUND when
 * the flow is unknown or already deleted. */
int store_flow_delete(store *s, const char *ns, const char *id, kerr *e);
/* PurgeFlows: deletes the revisions of ns/id but the latest keep (at least
 * 1: the current revision always stays), only those created before
 * before_us when it is not 0; *n gets how many. */
int store_flow_purge(store *s, const char *ns, const char *id, int keep, int64_t before_us, size_t *n /* OUT */,
                     kerr *e);

/* A namespace filter the caller decides (the server's access policy): a
 * row is kept when allow(ud, namespace) returns 1. Searches apply it in the
 * query, before paging and counting, so that pages and totals see only what
 * the caller may read. NULL in a query: every namespace. */
typedef struct store_ns_filter {
    int (*allow)(void *ud, const char *ns);
    void *ud;
} store_ns_filter;

typedef struct store_flow_query {
    const char *ns_prefix;  /* "a.b" matches a.b and a.b.c, not a.bc; NULL: all */
    const char *text;       /* case-insensitive substring of the id or the
                             * source; NULL: all */
    size_t offset, limit;   /* limit 0: no limit */
    const store_ns_filter *ns_filter;  /* NULL: all */
} store_flow_query;

/* The latest revision of every flow that is not deleted and matches q,
 * ordered by namespace then id; *total (may be NULL) receives the count of
 * matches before paging. */
int store_flow_search(store *s, const store_flow_query *q, store_flow **out /* OUT */,
                      size_t *n /* OUT */, int64_t *total /* OUT */, kerr *e);

/* ---- webhook keys -------------------------------------------------------- */

/* The Webhook triggers of a flow revision, as the server needs them to turn
 * a wrong key away without reading the flow: the SHA-256 (hex) of a literal
 * key, or the key's text when it is a template (rendered at each call). */
typedef struct store_webhook_key {
    char *trigger_id;
    char *key_sha256;       /* literal keys; NULL for a template */
    char *key_template;     /* keys with an expression; NULL for a literal */
} store_webhook_key;

void store_webhook_keys_free(store_webhook_key *v, size_t n);
/* Replaces the flow's index with keys (n may be 0: no webhook), read from
 * revision. */
int store_webhook_keys_put(store *s, const char *ns, const char *flow_id, int revision,
                           const store_webhook_key *keys, size_t n, kerr *e);
/* The index of the flow's latest revision: STORE_NOT_FOUND when the flow is
 * unknown or deleted; otherwise *fresh receives that revision with the keys
 * (*n may be 0) when the index was written from it, 0 (no keys) when the
 * index is missing or older: the caller must read the flow. */
int store_webhook_keys_get(store *s, const char *ns, const char *flow_id, int *fresh /* OUT */,
                           store_webhook_key **keys /* OUT */, size_t *n /* OUT */, kerr *e);

/* ---- executions --------------------------------------------------------- */

typedef struct store_history {
    store_state state;
    int64_t at_us;
} store_history;

typedef struct store_execution {
    char *id;                    /* required */
    char *namespace;             /* required */
    char *flow_id;               /* required */
    int flow_revision;
    store_state state;
    store_history *histories;    /* every transition, oldest first */
    size_t n_histories;
    json_t *inputs, *outputs, *labels, *variables, *trigger; /* may be NULL */
    char *parent_id;             /* subflows: the parent execution */
    char *parent_task_run_id;    /*           and its task run */
    char *original_id;           /* replays: the execution replayed */
    int64_t created_us, start_us, end_us;
    int64_t version;             /* set by the store: 1 at insert, +1 per update */
} store_execution;

void store_execution_clear(store_execution *x);
void store_executions_free(store_execution *v, size_t n);
/* Sets x->state and appends (state, at_us) to its histories. */
void store_execution_set_state(store_execution *x, store_state st, int64_t at_us);

/* Inserts x (borrowed) with version 1 (x->version is set, and
 * x->created_us when it was 0); STORE_DUPLICATE if the id exists. */
int store_execution_insert(store *s, store_execution *x, kerr *e);
/* Writes every field of x where the stored version equals x->version, then
 * increments x->version. STORE_CONFLICT when someone updated it since
 * (x unchanged), STORE_NOT_FOUND when it does not exist. */
int store_execution_update(store *s, store_execution *x, kerr *e);
int store_execution_get(store *s, const char *id, store_execution *out /* OUT */, kerr *e);
/* Deletes the execution with its task runs, logs, metrics and queued jobs. */
int store_execution_delete(store *s, const char *id, kerr *e);

typedef struct store_execution_query {
    const char *ns_prefix;   /* as in store_flow_query; NULL: all */
    const char *namespace;   /* exactly this namespace; NULL: all */
    const char *flow_id;     /* NULL: all */
    unsigned states;         /* a set of STORE_STATE_BIT(st); 0: every state */
    int unfinished;          /* 1: only executions not terminated (for
                              * concurrency limits and recovery) */
    const char *parent_id;   /* only the subflow executions of this one */
    size_t offset, limit;    /* limit 0: no limit */
    const store_ns_filter *ns_filter;  /* NULL: all */
} store_execution_query;

#define STORE_STATE_BIT(st) (1u << (st))

/* Matching executions, newest first; *total (may be NULL) as for flows. */
int store_execution_search(store *s, const store_execution_query *q,
                           store_execution **out /* OUT */, size_t *n /* OUT */,
                           int64_t *total /* OUT */, kerr *e);

/* ---- task runs ---------------------------------------------------------- */

typedef struct store_attempt {
    store_state state;
    int64_t start_us, end_us;
    char *worker_id;             /* may be NULL */
} store_attempt;

typedef struct store_task_run {
    char *id;                    /* required */
    char *execution_id;          /* required, an existing execution */
    char *parent_task_run_id;    /* may be NULL */
    char *task_id;               /* required */
    char *value;                 /* ForEach value; may be NULL */
    int iteration;
    store_state state;
    store_history *histories;
    size_t n_histories;
    store_attempt *attempts;
    size_t n_attempts;
    json_t *outputs;             /* may be NULL */
    int64_t created_us, updated_us;
} store_task_run;

void store_task_run_clear(store_task_run *t);
void store_task_runs_free(store_task_run *v, size_t n);
void store_task_run_set_state(store_task_run *t, store_state st, int64_t at_us);
/* Appends an attempt (worker_id copied, may be NULL) and returns it. */
store_attempt *store_task_run_add_attempt(store_task_run *t, store_state st,
                                          int64_t start_us, const char *worker_id);

/* STORE_DUPLICATE if the id exists; STORE_ERROR if the execution does not. */
int store_task_run_insert(store *s, const store_task_run *t, kerr *e);
/* Rewrites every field but id, execution_id and created (updated_us 0:
 * now); STORE_NOT_FOUND when it does not exist. */
int store_task_run_update(store *s, const store_task_run *t, kerr *e);
int store_task_run_get(store *s, const char *id, store_task_run *out /* OUT */, kerr *e);
/* The execution's task runs in creation order. */
int store_task_run_list(store *s, const char *execution_id, store_task_run **out /* OUT */,
                        size_t *n /* OUT */, kerr *e);
/* How many task runs the execution has (without reading them). */
int store_task_run_count(store *s, const char *execution_id, int64_t *n /* OUT */, kerr *e);
/* Ends an execution without reading it: the execution and every task run of
 * it that has not ended take state (an ended one) with a history entry at
 * at_us, and its queued jobs are dropped; documents of its rows that are
 * corrupt are replaced by valid ones (a history of one entry, no attempts,
 * no outputs), so that it reads again. One statement per table, whatever
 * the execution's size: for an execution too big or too damaged to load
 * (the engine's quarantine). *runs (may be NULL) gets the number of task
 * runs it ended; STORE_NOT_FOUND when the execution does not exist. */
int store_execution_end_bulk(store *s, const char *id, store_state state, int64_t at_us,
                             size_t *runs /* OUT */, kerr *e);

/* ---- logs and metrics --------------------------------------------------- */

typedef struct store_log {
    int64_t id;                  /* set by the store, increasing */
    char *execution_id;          /* required */
    char *task_run_id;           /* may be NULL */
    char *task_id;               /* may be NULL */
    int attempt;
    int64_t at_us;
    store_level level;
    char *message;               /* required */
} store_log;

void store_logs_free(store_log *v, size_t n);

/* Appends l; *id (may be NULL) receives its id. */
int store_log_append(store *s, const store_log *l, int64_t *id /* OUT */, kerr *e);

typedef struct store_log_query {
    const char *execution_id;    /* required */
    const char *task_id;         /* NULL: all */
    const char *task_run_id;     /* NULL: all */
    store_level min_level;       /* LEVEL_TRACE: all */
    int64_t since_id;            /* only logs with id > since_id (following) */
    size_t offset, limit;        /* limit 0: no limit */
} store_log_query;

/* PurgeLogs: the logs written in [after_us, before_us) of the executions
 * of a namespace (and its children), a flow, or one execution, of the
 * levels given. */
typedef struct store_log_purge {
    const char *ns_prefix;       /* NULL: all */
    const char *flow_id;         /* NULL: all */
    const char *execution_id;    /* NULL: all */
    unsigned levels;             /* a set of 1 << store_level; 0: every level */
    int64_t after_us, before_us; /* before_us required */
} store_log_purge;

/* Deletes the logs q selects; *n gets how many. */
int store_log_purge_run(store *s, const store_log_purge *q, size_t *n /* OUT */, kerr *e);

/* Matching logs in id order; *total (may be NULL) as for flows. */
int store_log_search(store *s, const store_log_query *q, store_log **out /* OUT */,
                     size_t *n /* OUT */, int64_t *total /* OUT */, kerr *e);

typedef enum store_metric_type { METRIC_COUNTER, METRIC_TIMER } store_metric_type;

typedef struct store_metric {
    int64_t id;                  /* set by the store */
    char *execution_id;          /* may be NULL */
    char *task_run_id;           /* may be NULL */
    char *task_id;               /* may be NULL */
    char *name;                  /* required */
    store_metric_type type;
    double value;                /* a timer's value is in seconds */
    json_t *tags;                /* an object or NULL */
    int64_t at_us;
} store_metric;

void store_metrics_free(store_metric *v, size_t n);
int store_metric_add(store *s, const store_metric *m, kerr *e);
/* The execution's metrics in insertion order. */
int store_metric_list(store *s, const char *execution_id, store_metric **out /* OUT */,
                      size_t *n /* OUT */, kerr *e);

/* ---- the job queue ------------------------------------------------------ */

/* A job: work for a worker (kind "task"), the executor ("event"), or any
 * other consumer. A job is ready when no one holds it and available_us has
 * passed; lease hands ready jobs to one owner until a deadline; ack removes a
 * job; a lease that passes its deadline is handed out again (attempt + 1)
 * unless the job's execution has ended. */
typedef struct store_job {
    int64_t id;
    char *kind;
    char *execution_id;          /* may be NULL */
    char *task_run_id;           /* may be NULL */
    json_t *payload;             /* may be NULL */
    int64_t available_us;
    int attempt;                 /* 1 for the first delivery */
    char *owner;                 /* NULL while ready */
    int64_t lease_until_us;
} store_job;

void store_jobs_free(store_job *v, size_t n);

/* Enqueues a job, ready at available_us (0: now). *id may be NULL. */
int store_queue_push(store *s, const char *kind, const char *execution_id,
                     const char *task_run_id, json_t *payload, int64_t available_us,
                     int64_t *id /* OUT */, kerr *e);
/* Enqueues a job ready now and already leased to owner for lease_us (its
 * first delivery): the consumer that owner names gets it without a lease
 * of its own (the embedded executor hands a task to a waiting worker). As
 * for any lease, a job whose owner dies goes back to the queue (expire,
 * release). *id may be NULL. */
int store_queue_push_leased(store *s, const char *kind, const char *execution_id,
                            const char *task_run_id, json_t *payload, const char *owner,
                            int64_t lease_us, int64_t *id /* OUT */, kerr *e);
/* Atomically takes up to max (at most 10,000) ready jobs of kind (oldest
 * available first),
 * held by owner until now_us + lease_us; now_us 0 means now. A job is never
 * handed to two owners at once. *n may be 0. */
int store_queue_lease(store *s, const char *kind, size_t max, const char *owner,
                      int64_t lease_us, int64_t now_us, store_job **out /* OUT */,
                      size_t *n /* OUT */, kerr *e);
/* Removes job id held by owner. STORE_CONFLICT when owner no longer holds it
 * (the lease expired and it went to someone else), STORE_NOT_FOUND when it
 * is gone. */
int store_queue_ack(store *s, int64_t id, const char *owner, kerr *e);
/* Moves the lease deadline of job id held by owner to until_us; same errors
 * as ack. */
int store_queue_extend(store *s, int64_t id, const char *owner, int64_t until_us, kerr *e);
/* Hands back every lease whose deadline is before now_us (0: now): ready
 * again with attempt + 1, or dropped when the job's execution has ended.
 * *requeued and *dropped may be NULL. */
int store_queue_expire(store *s, int64_t now_us, size_t *requeued /* OUT */,
                       size_t *dropped /* OUT */, kerr *e);
/* Jobs of kind (NULL: every kind): ready ones (available or not yet) and
 * leased ones. Either OUT may be NULL. */
/* Write transactions this process committed on s since it was opened (an
 * operation outside a transaction counts as one): what benchmarks count. */
uint64_t store_commits(store *s);
int store_queue_depth(store *s, const char *kind, int64_t *waiting /* OUT */,
                      int64_t *leased /* OUT */, kerr *e);

/* The owners holding leases now, sorted, distinct (malloc'd strings in a
 * malloc'd array; store_strings_free). Start-up recovery reads them to find
 * the leases of processes that died. */
int store_queue_owners(store *s, char ***owners /* OUT */, size_t *n /* OUT */, kerr *e);
/* Hands back at once every lease whose owner starts with owner_prefix (a
 * process's "<worker id>/"), whatever its deadline: ready again with
 * attempt + 1, or dropped when the job's execution has ended. */
int store_queue_release(store *s, const char *owner_prefix, size_t *requeued /* OUT */,
                        size_t *dropped /* OUT */, kerr *e);

/* ---- wake-ups ------------------------------------------------------------ */

/* A counter per job kind, moved on after every commit that pushed a job of
 * that kind and by store_queue_notify. store_queue_wait returns when the
 * counter differs from seen or timeout_us passed (0: at once; seen 0: at
 * once), *seq getting its value: a consumer reads it before it leases and
 * waits with it after a lease found nothing, so no push is missed. On
 * SQLite the counter is per process (a condition variable): consumers in
 * other processes see the jobs when they poll. */
int store_queue_wait(store *s, const char *kind, uint64_t seen, int64_t timeout_us,
                     uint64_t *seq /* OUT */, kerr *e);
/* Moves kind's counter on, waking its waiters (a stop, an outside commit). */
void store_queue_notify(store *s, const char *kind);

/* ---- key-value store ---------------------------------------------------- */

/* Namespaces starting with "_kite" ("_kite.auth", where the server keeps its
 * token hashes) are kite's own. store_kv_put/get/delete/list refuse them
 * (STORE_ERROR, "kv namespace '_kite.auth' is reserved for kite itself"),
 * whoever calls, so neither a flow (kv tasks, kv()) nor the API can read or
 * write them; only the store_kv_sys_* calls below reach them. */
#define STORE_RESERVED_NS "_kite"

/* 1 when ns is reserved (starts with STORE_RESERVED_NS), 0 otherwise. */
int store_kv_reserved(const char *ns);
/* 0 when ns may be used with store_kv_*; STORE_ERROR with the message above
 * when it is reserved (callers validating a namespace early use it). */
int store_kv_check_namespace(const char *ns, kerr *e);

/* Sets ns/key to value (borrowed), expiring at expires_us (0: never). */
int store_kv_put(store *s, const char *ns, const char *key, json_t *value,
                 int64_t expires_us, kerr *e);
/* *value receives a new reference; STORE_NOT_FOUND when absent or expired. */
int store_kv_get(store *s, const char *ns, const char *key, json_t **value /* OUT */,
                 kerr *e);
/* STORE_NOT_FOUND when absent or expired. */
int store_kv_delete(store *s, const char *ns, const char *key, kerr *e);
/* The live keys of ns in order; free with store_strings_free. */
int store_kv_list(store *s, const char *ns, char ***keys /* OUT */, size_t *n /* OUT */,
                  kerr *e);
void store_strings_free(char **v, size_t n);
/* PurgeKV: deletes the keys of ns matching glob (SQLite GLOB; NULL: all),
 * only the expired ones when expired_only; *n gets how many. A reserved ns
 * is refused as by store_kv_delete. */
int store_kv_purge(store *s, const char *ns, const char *glob, int expired_only, size_t *n /* OUT */,
                   kerr *e);

/* The privileged path to the reserved namespaces, for kite's own code (the
 * server's tokens, server/auth.c) and nothing else: the same calls as
 * store_kv_*, but they accept only a reserved ns (STORE_ERROR otherwise), so
 * a caller cannot reach a user namespace through them by mistake either. */
int store_kv_sys_put(store *s, const char *ns, const char *key, json_t *value,
                     int64_t expires_us, kerr *e);
int store_kv_sys_get(store *s, const char *ns, const char *key, json_t **value /* OUT */,
                     kerr *e);
int store_kv_sys_delete(store *s, const char *ns, const char *key, kerr *e);
int store_kv_sys_list(store *s, const char *ns, char ***keys /* OUT */, size_t *n /* OUT */,
                      kerr *e);

/* ---- secrets (store/secret.c) --------------------------------------------- */

/* kite's own secrets store: one value per (namespace, name), sealed at rest
 * with libsodium's secretbox (XSalsa20-Poly1305, a fresh random nonce per
 * value) under one 32-byte key. Nothing is readable or writable before
 * store_secrets_unlock has checked the key against the key check value the
 * store keeps (written by the first unlock): a store sealed with another key
 * is refused there, once, with a clear message, not value by value.
 *
 * Names are Kestra's secret keys: a letter or '_', then letters, digits and
 * '_' (SECRET_<NAME> must be a valid variable), fewer than 256 bytes.
 * Values are any bytes up to STORE_SECRET_MAX. */
#define STORE_SECRET_KEY_LEN 32
#define STORE_SECRET_MAX (64 * 1024)

typedef struct store_secret_info {
    char *namespace;             /* where it is stored (a parent, for an inherited one) */
    char *name;
    int64_t updated_us;
} store_secret_info;

void store_secret_infos_free(store_secret_info *v, size_t n);

/* The key of a data folder: $KITE_SECRET_KEY when set (64 hex digits, or
 * the base64 of 32 bytes), else the file DIR/secret.key, created with mode
 * 0600 and a random key when absent (*created 1), refused when others may
 * read it. *source (malloc'd) names where the key came from, for messages. */
int store_secret_key_load(const char *dir, unsigned char key[STORE_SECRET_KEY_LEN] /* OUT */,
                          char **source /* OUT */, int *created /* OUT */, kerr *e);
/* Checks key against the store's key check value (writing one when the
 * store has none yet) and keeps a copy for the calls below. A store sealed
 * with another key fails with STORE_CONFLICT: "the secrets store was
 * encrypted with another key". */
int store_secrets_unlock(store *s, const unsigned char key[STORE_SECRET_KEY_LEN], kerr *e);
/* 1 once unlocked. */
int store_secrets_unlocked(const store *s);
/* 0 when name is a valid secret name, else STORE_ERROR with a message. */
int store_secret_check_name(const char *name, kerr *e);

int store_secret_put(store *s, const char *ns, const char *name, const void *value, size_t n,
                     kerr *e);
/* The value stored exactly in ns (malloc'd, NUL-terminated, *n its length);
 * STORE_NOT_FOUND when absent. */
int store_secret_get(store *s, const char *ns, const char *name, char **value /* OUT */,
                     size_t *n /* OUT */, kerr *e);
/* The value as ns sees it: its own, else its nearest parent's (a.b.c, a.b,
 * a); *found_ns (may be NULL, malloc'd) names where it was. */
int store_secret_lookup(store *s, const char *ns, const char *name, char **value /* OUT */,
                        size_t *n /* OUT */, char **found_ns /* OUT */, kerr *e);
int store_secret_delete(store *s, const char *ns, const char *name, kerr *e);
/* The names ns sees (its own, then its parents' not shadowed), sorted by
 * name; never a value. Works without the key. */
int store_secret_list(store *s, const char *ns, store_secret_info **out /* OUT */,
                      size_t *n /* OUT */, kerr *e);

/* ---- triggers ----------------------------------------------------------- */

typedef struct store_trigger {
    char *namespace, *flow_id, *trigger_id;  /* required */
    int64_t next_us;             /* next fire date, 0: none */
    int disabled;
    int64_t last_fired_us;
    json_t *state;               /* trigger-specific state, may be NULL */
    int64_t updated_us;          /* set by the store */
} store_trigger;

void store_trigger_clear(store_trigger *t);
void store_triggers_free(store_trigger *v, size_t n);
/* Inserts or replaces the trigger's state. */
int store_trigger_put(store *s, const store_trigger *t, kerr *e);
int store_trigger_get(store *s, const char *ns, const char *flow_id, const char *trigger_id,
                      store_trigger *out /* OUT */, kerr *e);
/* Triggers of namespace ns and below (NULL: all), ordered by key. */
int store_trigger_list(store *s, const char *ns_prefix, store_trigger **out /* OUT */,
                       size_t *n /* OUT */, kerr *e);
int store_trigger_delete(store *s, const char *ns, const char *flow_id,
                         const char *trigger_id, kerr *e);
/* Records that the trigger fired for scheduled_us, creating execution_id
 * (may be NULL). STORE_DUPLICATE when that tick was already recorded: done
 * in the same transaction as the execution's insert, a tick fires once. */
int store_trigger_tick(store *s, const char *ns, const char *flow_id, const char *trigger_id,
                       int64_t scheduled_us, const char *execution_id, kerr *e);

/* ---- aggregates (the web UI's namespace tree and dashboards) ---------------- */

/* Counts of one namespace: its flows (latest revisions not deleted) and its
 * executions by current state. */
typedef struct store_ns_count {
    char *namespace;
    int64_t flows;
    int64_t executions[STATE__COUNT];
} store_ns_count;

void store_ns_counts_free(store_ns_count *v, size_t n);
/* Every namespace that has a flow or an execution, sorted by name, counted
 * by the store (GROUP BY), not by reading rows. */
int store_namespace_counts(store *s, store_ns_count **out /* OUT */, size_t *n /* OUT */, kerr *e);

typedef struct store_stats_query {
    int64_t from_us, to_us;      /* executions created in [from_us, to_us); to_us > from_us */
    const char *ns_prefix;       /* as in store_flow_query; NULL: all */
    const char *flow_id;         /* NULL: all */
    int64_t interval_us;         /* width of the time buckets, > 0 */
    size_t top;                  /* rows of the per-flow lists; 0: 10 */
    const store_ns_filter *ns_filter; /* NULL: all; applied in the query */
} store_stats_query;

/* The dashboards' aggregates over the executions q selects, each one SQL
 * aggregate (*out a new object; times in microseconds):
 *   "buckets":   [{"start", "state", "count"}]: executions per state per
 *                bucket (start = from_us + k * interval_us), by start then state
 *   "durations": [{"namespace", "flowId", "count", "p50", "p95", "avg", "max"}]:
 *                of ended executions (end - start, nearest-rank percentiles),
 *                the flows with the most ended executions first
 *   "failing":   [{"namespace", "flowId", "failed", "total"}]: flows with
 *                FAILED executions, the most first
 *   "taskRuns":  [{"namespace", "flowId", "revision", "taskId", "state", "count"}]:
 *                task runs of those executions (the caller maps task ids to
 *                types through the flow revision) */
int store_execution_stats(store *s, const store_stats_query *q, json_t **out /* OUT */, kerr *e);
/* ---- access control: principals, tokens, roles, bindings (store/access.c) -- */

/* Who may call the API (docs/security.md). A principal is a user (with a
 * password, crypto_pwhash_str's text) or a service account ("service",
 * no password); tokens belong to one. Tokens are kept as the SHA-256 (hex)
 * of their text, never the text. Deleting a principal deletes its tokens
 * and bindings. Every change here moves the access generation on
 * (store_auth_generation), so that a server caching a compiled policy sees
 * changes made by another process (the CLI) at its next request. */
typedef struct store_principal {
    char *name;                  /* required, unique */
    char *kind;                  /* "user" or "service" */
    char *password_hash;         /* NULL: no password (tokens only) */
    int64_t created_us;          /* set by the store on insert */
} store_principal;

void store_principal_clear(store_principal *p);
void store_principals_free(store_principal *v, size_t n);
/* Inserts p, or updates its kind and password; *created (may be NULL) says
 * which. */
int store_principal_put(store *s, const store_principal *p, int *created /* OUT */, kerr *e);
int store_principal_get(store *s, const char *name, store_principal *out /* OUT */, kerr *e);
int store_principal_list(store *s, store_principal **out /* OUT */, size_t *n /* OUT */, kerr *e);
int store_principal_delete(store *s, const char *name, kerr *e);

typedef struct store_token {
    char *id;                    /* required (store_new_id) */
    char *name;                  /* what it is for ("ci") */
    char *owner;                 /* a principal's name */
    char *sha256;                /* hex SHA-256 of the token's text */
    json_t *scope;               /* [{"role", "namespace"}] narrowing the owner, NULL: none */
    int64_t created_us, expires_us, revoked_us;  /* 0: not set */
} store_token;

void store_token_clear(store_token *t);
void store_tokens_free(store_token *v, size_t n);
int store_token_insert(store *s, const store_token *t, kerr *e);
/* The token whose hash is sha256 (even expired or revoked: the caller
 * decides) and, in *generation (may be NULL), the access generation read
 * in the same statement. */
int store_token_find(store *s, const char *sha256, store_token *out /* OUT */, int64_t *generation /* OUT */,
                     kerr *e);
int store_token_get(store *s, const char *id, store_token *out /* OUT */, kerr *e);
/* The tokens of owner (NULL: all), newest first. */
int store_token_list(store *s, const char *owner, store_token **out /* OUT */, size_t *n /* OUT */, kerr *e);
/* Marks token id revoked at at_us (NOT_FOUND when there is none; revoking
 * twice keeps the first time). */
int store_token_revoke(store *s, const char *id, int64_t at_us, kerr *e);
/* Revokes every token of owner (NULL: every token); *n (may be NULL) gets
 * how many. */
int store_token_revoke_all(store *s, const char *owner, int64_t at_us, size_t *n /* OUT */, kerr *e);

typedef struct store_role {
    char *name;                  /* required */
    json_t *statements;          /* [{"effect", "actions", "resources"}] */
    int64_t updated_us;          /* set by the store */
} store_role;

void store_role_clear(store_role *r);
void store_roles_free(store_role *v, size_t n);
int store_role_put(store *s, const store_role *r, int *created /* OUT */, kerr *e);
int store_role_get(store *s, const char *name, store_role *out /* OUT */, kerr *e);
int store_role_list(store *s, store_role **out /* OUT */, size_t *n /* OUT */, kerr *e);
int store_role_delete(store *s, const char *name, kerr *e);

typedef struct store_binding {
    char *id;                    /* required */
    char *principal, *role;      /* required */
    char *namespace;             /* a pattern: "a.b", "a.b.*" or "*" */
    int64_t created_us;          /* set by the store */
} store_binding;

void store_binding_clear(store_binding *b);
void store_bindings_free(store_binding *v, size_t n);
/* DUPLICATE when the principal already has that role on that pattern. */
int store_binding_insert(store *s, const store_binding *b, kerr *e);
/* The bindings of principal (NULL: all), oldest first. */
int store_binding_list(store *s, const char *principal, store_binding **out /* OUT */, size_t *n /* OUT */,
                       kerr *e);
int store_binding_delete(store *s, const char *id, kerr *e);

/* The access generation: it moves on with every change above. */
int store_auth_generation(store *s, int64_t *generation /* OUT */, kerr *e);

/* Every role, binding and live token scope compiled into a policy
 * (util/policy.h): stored roles over the built-in ones, each scoped
 * token's scope bound to the pseudo-principal "token:<id>". A stored role
 * or binding that no longer parses is left out with a line on stderr. The
 * caller frees *out with policy_free. */
struct policy;
int store_access_policy(store *s, struct policy **out /* OUT */, kerr *e);

/* Flows act within their namespace once access control is configured,
 * that is once any binding exists for another principal than the first
 * admin (docs/security.md): a flow of namespace from may do action (a
 * policy_action) on namespace to when to is from, when to is a parent of
 * from and action only reads (kv:read, secret:use, nsfile:read, flow:read,
 * execution:read), or when the pseudo-principal "namespace:<from>" is
 * allowed action on to by a binding (Kestra's allowedNamespaces). Before
 * access control is configured, everything is allowed, as before. Returns
 * 0 when allowed; -1 with a message naming both namespaces and the action
 * (class KERR_INVALID), or a store error. The compiled policy is cached
 * per store and rebuilt when the access generation moves. */
int store_access_flow(store *s, const char *from, int action, const char *to, kerr *e);

/* ---- audit (store/access.c) ----------------------------------------------- */

/* One change, appended and never updated or deleted (the backend refuses
 * both). before and after are the definitions for flows, roles, bindings
 * (NULL where there is none); secrets appear by name only. */
typedef struct store_audit {
    int64_t id;                  /* set by the store */
    int64_t at_us;               /* 0: now */
    char *principal;             /* required: who ("cli" for the command line) */
    char *address;               /* the client's address, NULL from the CLI */
    char *action;                /* required: "flow:write", "execution:create", ... */
    char *kind, *namespace, *object_id;  /* what it acted on, each may be NULL */
    json_t *before, *after;
} store_audit;

void store_audit_clear(store_audit *a);
void store_audits_free(store_audit *v, size_t n);
int store_audit_append(store *s, const store_audit *a, int64_t *id /* OUT, may be NULL */, kerr *e);

typedef struct store_audit_query {
    const char *principal, *action, *kind, *object_id;  /* exact; NULL: all */
    const char *ns_prefix;       /* as in store_flow_query */
    int64_t from_us, to_us;      /* [from, to), 0: open */
    size_t offset, limit;        /* limit 0: no limit */
} store_audit_query;

/* Newest first; *total (may be NULL) before paging. */
int store_audit_search(store *s, const store_audit_query *q, store_audit **out /* OUT */, size_t *n /* OUT */,
                       int64_t *total /* OUT */, kerr *e);

#endif
