/*
 * store_int.h: what the store's files share and nobody else needs.
 *
 * A backend is a const table of operations (curl's protocol-handler habit).
 * store.c checks every argument once (NULL, oversized ids, ranges) and then
 * calls the backend, so a backend may assume its inputs are well formed.
 * Every operation returns a store_rc and, on failure, a message in e.
 */
#ifndef KITE_STORE_STORE_INT_H
#define KITE_STORE_STORE_INT_H

#include "store/store.h"

typedef struct store_ops {
    const char *name;
    /* Opens the backend at target (what follows the URL scheme) and runs
     * migrations; returns the backend handle in *out. */
    int (*open)(const char *target, const store_opts *o, void **out, kerr *e);
    void (*close)(void *b);
    int (*schema_version)(void *b);

    int (*begin)(void *b, kerr *e);
    int (*commit)(void *b, kerr *e);
    void (*rollback)(void *b);
    int (*snapshot_begin)(void *b, kerr *e);
    void (*snapshot_end)(void *b);

    int (*flow_put)(void *b, const char *ns, const char *id, const char *source,
                    const char *json, int *revision, int *created, kerr *e);
    int (*flow_get)(void *b, const char *ns, const char *id, int revision,
                    store_flow *out, kerr *e);
    int (*flow_revisions)(void *b, const char *ns, const char *id, store_flow **out,
                          size_t *n, kerr *e);
    int (*flow_head)(void *b, const char *ns, const char *id, int *revision, kerr *e);
    int (*flow_delete)(void *b, const char *ns, const char *id, kerr *e);
    int (*flow_search)(void *b, const store_flow_query *q, store_flow **out, size_t *n,
                       int64_t *total, kerr *e);

    int (*execution_insert)(void *b, const store_execution *x, kerr *e);
    int (*execution_update)(void *b, const store_execution *x, kerr *e);
    int (*execution_get)(void *b, const char *id, store_execution *out, kerr *e);
    int (*execution_delete)(void *b, const char *id, kerr *e);
    int (*execution_search)(void *b, const store_execution_query *q, store_execution **out,
                            size_t *n, int64_t *total, kerr *e);

    int (*task_run_insert)(void *b, const store_task_run *t, kerr *e);
    int (*task_run_update)(void *b, const store_task_run *t, kerr *e);
    int (*task_run_get)(void *b, const char *id, store_task_run *out, kerr *e);
    int (*task_run_list)(void *b, const char *execution_id, store_task_run **out, size_t *n,
                         kerr *e);
    int (*task_run_count)(void *b, const char *execution_id, int64_t *n, kerr *e);
    int (*execution_end_bulk)(void *b, const char *id, store_state state, int64_t at_us,
                              size_t *runs, kerr *e);

    int (*log_append)(void *b, const store_log *l, int64_t *id, kerr *e);
    int (*log_search)(void *b, const store_log_query *q, store_log **out, size_t *n,
                      int64_t *total, kerr *e);
    int (*metric_add)(void *b, const store_metric *m, kerr *e);
    int (*metric_list)(void *b, const char *execution_id, store_metric **out, size_t *n,
                       kerr *e);

    int (*queue_push)(void *b, const char *kind, const char *execution_id,
                      const char *task_run_id, const char *payload, int64_t available_us,
                      int64_t *id, kerr *e);
    int (*queue_lease)(void *b, const char *kind, size_t max, const char *owner,
                       int64_t lease_until_us, int64_t now_us, store_job **out, size_t *n,
                       kerr *e);
    int (*queue_push_leased)(void *b, const char *kind, const char *execution_id,
                             const char *task_run_id, const char *payload, const char *owner,
                             int64_t lease_until_us, int64_t *id, kerr *e);
    int (*queue_ack)(void *b, int64_t id, const char *owner, kerr *e);
    int (*queue_extend)(void *b, int64_t id, const char *owner, int64_t until_us, kerr *e);
    int (*queue_expire)(void *b, int64_t now_us, size_t *requeued, size_t *dropped, kerr *e);
    int (*queue_depth)(void *b, const char *kind, int64_t *waiting, int64_t *leased, kerr *e);
    uint64_t (*commits)(void *b);
    int (*queue_owners)(void *b, char ***owners, size_t *n, kerr *e);
    int (*queue_release)(void *b, const char *owner_prefix, size_t *requeued, size_t *dropped, kerr *e);
    /* Wake-ups: a counter per job kind moved on after a commit that pushed
     * a job of that kind (and by notify_jobs); wait_jobs returns when it
     * differs from seen or after timeout_us (0: at once), *seq its value.
     * SQLite: a condition variable, in-process; PostgreSQL: LISTEN/NOTIFY. */
    int (*wait_jobs)(void *b, const char *kind, uint64_t seen, int64_t timeout_us, uint64_t *seq);
    void (*notify_jobs)(void *b, const char *kind);

    int (*kv_put)(void *b, const char *ns, const char *key, const char *value,
                  int64_t expires_us, int64_t now_us, kerr *e);
    int (*kv_get)(void *b, const char *ns, const char *key, int64_t now_us, char **value,
                  kerr *e);
    int (*kv_delete)(void *b, const char *ns, const char *key, int64_t now_us, kerr *e);
    int (*kv_list)(void *b, const char *ns, int64_t now_us, char ***keys, size_t *n, kerr *e);
    /* the purge tasks: *n gets the rows deleted */
    int (*kv_purge)(void *b, const char *ns, const char *glob, int expired_only, int64_t now_us, size_t *n,
                    kerr *e);
    int (*log_purge)(void *b, const store_log_purge *q, size_t *n, kerr *e);
    int (*flow_purge)(void *b, const char *ns, const char *id, int keep, int64_t before_us, size_t *n, kerr *e);

    /* secrets: opaque sealed bytes (store/secret.c seals and opens them) */
    int (*secret_put)(void *b, const char *ns, const char *name, const void *sealed, size_t n,
                      int64_t now_us, kerr *e);
    int (*secret_get)(void *b, const char *ns, const char *name, void **sealed, size_t *n,
                      kerr *e);
    int (*secret_delete)(void *b, const char *ns, const char *name, kerr *e);
    int (*secret_list)(void *b, const char *ns, store_secret_info **out, size_t *n, kerr *e);

    int (*trigger_put)(void *b, const store_trigger *t, const char *state, kerr *e);
    int (*trigger_get)(void *b, const char *ns, const char *flow_id, const char *trigger_id,
                       store_trigger *out, kerr *e);
    int (*trigger_list)(void *b, const char *ns_prefix, store_trigger **out, size_t *n,
                        kerr *e);
    int (*trigger_delete)(void *b, const char *ns, const char *flow_id,
                          const char *trigger_id, kerr *e);
    int (*trigger_tick)(void *b, const char *ns, const char *flow_id, const char *trigger_id,
                        int64_t scheduled_us, const char *execution_id, int64_t now_us,
                        kerr *e);

    int (*webhook_keys_put)(void *b, const char *ns, const char *flow_id, int revision,
                            const store_webhook_key *keys, size_t n, kerr *e);
    int (*webhook_keys_get)(void *b, const char *ns, const char *flow_id, int *fresh,
                            store_webhook_key **keys, size_t *n, kerr *e);

    /* aggregates (the UI): namespace counts and dashboard statistics */
    int (*namespace_counts)(void *b, store_ns_count **out, size_t *n, kerr *e);
    int (*execution_stats)(void *b, const store_stats_query *q, json_t **out, kerr *e);
    /* access control and audit (store/access.c): lists leave *out as
     * they grew on failure (the front door frees them) */
    int (*principal_put)(void *b, const store_principal *p, int *created, int64_t now_us, kerr *e);
    int (*principal_get)(void *b, const char *name, store_principal *out, kerr *e);
    int (*principal_list)(void *b, store_principal **out, size_t *n, kerr *e);
    int (*principal_delete)(void *b, const char *name, kerr *e);
    int (*token_insert)(void *b, const store_token *t, int64_t now_us, kerr *e);
    int (*token_find)(void *b, const char *sha256, store_token *out, int64_t *generation, kerr *e);
    int (*token_get)(void *b, const char *id, store_token *out, kerr *e);
    int (*token_list)(void *b, const char *owner, store_token **out, size_t *n, kerr *e);
    /* all 0: token id; all 1: every unrevoked token of owner (NULL: all) */
    int (*token_revoke)(void *b, const char *id, const char *owner, int all, int64_t at_us, size_t *n, kerr *e);
    int (*role_put)(void *b, const store_role *r, int64_t now_us, kerr *e);
    int (*role_get)(void *b, const char *name, store_role *out, kerr *e);
    int (*role_list)(void *b, store_role **out, size_t *n, kerr *e);
    int (*role_delete)(void *b, const char *name, kerr *e);
    int (*binding_insert)(void *b, const store_binding *bi, int64_t now_us, kerr *e);
    int (*binding_list)(void *b, const char *principal, store_binding **out, size_t *n, kerr *e);
    int (*binding_delete)(void *b, const char *id, kerr *e);
    int (*auth_generation)(void *b, int64_t *generation, kerr *e);
    int (*audit_append)(void *b, const store_audit *a, int64_t *id, kerr *e);
    int (*audit_search)(void *b, const store_audit_query *q, store_audit **out, size_t *n, int64_t *total,
                        kerr *e);
} store_ops;

extern const store_ops store__sqlite_ops;

/* The store handle (store.c): the backend, and the secrets key once
 * store_secrets_unlock has checked it (sodium_malloc'd, NULL before). */
struct store {
    const store_ops *ops;
    void *b;
    unsigned char *secret_key;
    struct store_access_cache *access;  /* store_access_flow's compiled policy (access.c) */
};

/* Frees what store_access_flow cached (store_free). */
void store__access_close(store *s);

/* Wipes and frees the secrets key (store_free). */
void store__secrets_close(store *s);

/* The ended states (store_state_is_terminated) as an SQL list: the queue's
 * expiry, unfinished-execution searches and the partial index they use must
 * spell it the same way for SQLite to use that index. */
#define STORE__TERMINATED_SQL \
    "('SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED', 'SKIPPED')"

/* SQLite schema migrations: store__sqlite_migrations[i] takes a database from
 * version i to i + 1. */
extern const char *const store__sqlite_migrations[];
extern const int store__sqlite_migration_count;

/* Records rc with a message in e and returns rc (e may be NULL). */
int store__fail(kerr *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Serialising the parts of rows that are documents. Every *_to_json returns a
 * malloc'd compact JSON string; every *_from_json parses text (NULL reads as
 * empty) and fails with a message naming what. */
char *store__json_dump(json_t *j);          /* NULL for NULL */
json_t *store__json_load(const char *text); /* NULL for NULL or invalid */
char *store__histories_to_json(const store_history *h, size_t n);
int store__histories_from_json(const char *text, store_history **h, size_t *n, kerr *e);
char *store__attempts_to_json(const store_attempt *a, size_t n);
int store__attempts_from_json(const char *text, store_attempt **a, size_t *n, kerr *e);

#endif
