/*
 * sqlite.c: the store on one SQLite file (the embedded mode's backend).
 *
 * Settings: WAL journal, synchronous=NORMAL by default (a commit survives a
 * kill -9 of the process: it is in the WAL, in the OS's page cache; FULL, a
 * setting, adds an fsync per commit and survives a power loss too),
 * foreign_keys=ON, a busy timeout for other processes on the same file,
 * PRAGMA quick_check at open (a damaged file is refused, check_integrity).
 * Statements are prepared once per connection and kept (persistent).
 *
 * DESIGN: threads and connections.
 * A SQLite connection must not be used by two threads at once, and WAL lets
 * any number of readers run beside one writer. So the store has one writer
 * connection, behind a mutex, and one reader connection per thread that
 * reads. A thread's state (the value of a thread-specific key) holds its
 * reader, taken from a pool of idle ones (or opened) on its first read and
 * handed back when the thread exits, and its transaction depth.
 *   - Reads outside a transaction run on the thread's reader in autocommit
 *     and never wait for the writer.
 *   - Writes take the mutex, BEGIN IMMEDIATE on the writer, and release it
 *     at COMMIT/ROLLBACK: writer threads queue on a futex instead of
 *     sleeping in SQLite's busy handler (which backs off in steps of up to
 *     100 ms), and the writer's page cache stays warm whichever thread
 *     writes. BEGIN IMMEDIATE still orders writers of other processes
 *     through the file lock (they wait up to busy_timeout).
 *   - A transaction belongs to its thread: store_begin takes the mutex and
 *     begins, every call on that thread then runs on the writer inside it
 *     (reads included, so they see its writes), store_commit commits and
 *     releases. A write call made outside a transaction wraps itself in one.
 *     Nesting counts depth; an inner rollback dooms the outer transaction; a
 *     failed operation does not.
 *
 * Checkpoints: automatic checkpoints are off on every connection. A
 * checkpointer thread, with its own connection, runs PASSIVE checkpoints
 * when a commit reports the WAL past checkpoint_pages (store_opts, 10,000 by
 * default; the WAL hook) and once a
 * second. A checkpoint fsyncs the WAL and the database; doing it on the
 * committing thread, as SQLite does by default, put those fsyncs on the
 * executor's path (about 30% of the throughput measured by bench_store).
 * PASSIVE never blocks readers or writers. Once a PASSIVE checkpoint has
 * run on a WAL past checkpoint_pages, a TRUNCATE checkpoint (the process's
 * writers held off by the write mutex, readers waited for CKPT_WAIT_MS at
 * most) rewinds and truncates it: with readers always busy,
 * nothing else would, and the WAL grew without bound. Should the WAL still
 * reach CKPT_PAGES_HARD, the committer checkpoints itself (back-pressure),
 * and journal_size_limit trims the WAL file once it is reset.
 *
 * Lifetime: store_free stops the checkpointer, deletes the thread key (so
 * exiting threads no longer hand connections back), frees every thread's
 * state and closes every connection. The caller guarantees no thread still
 * uses the store by then.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

/* ---- statements --------------------------------------------------------- */

#define NS_MATCH(col, p) \
    "(" p " IS NULL OR " col " = " p " OR substr(" col ", 1, length(" p ") + 1) = " p " || '.')"

#define TERMINATED_STATES STORE__TERMINATED_SQL

/* A history document with (?2, ?3) appended; a corrupt one is replaced. */
#define HISTORY_APPEND \
    "CASE WHEN json_valid(histories) AND json_type(histories) = 'array'" \
    " THEN json_insert(histories, '$[#]', json_object('state', ?2, 'date', ?3))" \
    " ELSE json_array(json_object('state', ?2, 'date', ?3)) END"

#define FLOW_COLS "namespace, id, revision, source, json, deleted, created"
#define FLOW_SEARCH_WHERE \
    " FROM flows f WHERE f.deleted = 0" \
    " AND f.revision = (SELECT max(g.revision) FROM flows g" \
    "                   WHERE g.namespace = f.namespace AND g.id = f.id)" \
    " AND " NS_MATCH("f.namespace", "?1") \
    " AND (?2 IS NULL OR instr(lower(f.id), lower(?2)) > 0" \
    "      OR instr(lower(f.source), lower(?2)) > 0)" \
    " AND kite_ns_ok(?5, f.namespace)"

#define EXEC_COLS \
    "id, namespace, flow_id, flow_revision, state, histories, inputs, outputs, labels," \
    " variables, trigger, parent_id, parent_task_run_id, original_id, created, start_date," \
    " end_date, version"

#define TR_COLS \
    "id, execution_id, parent_task_run_id, task_id, value, iteration, state, histories," \
    " attempts, outputs, created, updated"

#define LOG_COLS "id, execution_id, task_run_id, task_id, attempt, time, level, message"
#define LOG_WHERE \
    " FROM logs WHERE execution_id = ?1 AND (?2 IS NULL OR task_id = ?2)" \
    " AND (?3 IS NULL OR task_run_id = ?3) AND level >= ?4 AND id > ?5"

#define JOB_COLS \
    "id, kind, execution_id, task_run_id, payload, available_at, attempt, owner, lease_until"


#define TOK_COLS "id, name, owner, sha256, scope, created, expires, revoked"

#define TRIG_COLS "namespace, flow_id, trigger_id, next_date, disabled, last_fired, state, updated"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_FLOW_LATEST, S_FLOW_REV, S_FLOW_REVS, S_FLOW_INSERT, S_FLOW_SEARCH, S_FLOW_COUNT,
    S_EXEC_INSERT, S_EXEC_UPDATE, S_EXEC_VERSION, S_EXEC_GET,
    S_EXEC_DEL_TR, S_EXEC_DEL_LOGS, S_EXEC_DEL_METRICS, S_EXEC_DEL_JOBS, S_EXEC_DEL,
    S_TR_INSERT, S_TR_UPDATE, S_TR_GET, S_TR_LIST,
    S_TR_COUNT, S_EXEC_END_BULK, S_TR_END_BULK, S_TR_REPAIR_BULK,
    S_LOG_INSERT, S_LOG_SEARCH, S_LOG_COUNT,
    S_METRIC_INSERT, S_METRIC_LIST,
    S_JOB_INSERT, S_JOB_INSERT_LEASED, S_JOB_READY, S_JOB_LEASE, S_JOB_ACK, S_JOB_EXTEND, S_JOB_OWNER, S_JOB_DROP, S_JOB_REQUEUE,
    S_JOB_DEPTH, S_JOB_OWNERS, S_JOB_DROP_OWNER, S_JOB_REQUEUE_OWNER,
    S_KV_PUT, S_KV_GET, S_KV_DELETE, S_KV_LIST,
    S_SECRET_PUT, S_SECRET_GET, S_SECRET_DELETE, S_SECRET_LIST,
    S_TRIG_PUT, S_TRIG_GET, S_TRIG_LIST, S_TRIG_DELETE, S_TICK_INSERT,
    S_KV_PURGE, S_LOG_PURGE, S_FLOW_PURGE, S_FLOW_HEAD,
    S_PR_PUT, S_PR_GET, S_PR_LIST, S_PR_DEL, S_PR_DEL_TOKENS, S_PR_DEL_BINDINGS,
    S_TOK_INSERT, S_TOK_FIND, S_TOK_GET, S_TOK_LIST, S_TOK_REVOKE, S_TOK_REVOKE_ALL,
    S_ROLE_PUT, S_ROLE_GET, S_ROLE_LIST, S_ROLE_DEL,
    S_BIND_INSERT, S_BIND_LIST, S_BIND_DEL, S_AUTH_GEN, S_AUDIT_INSERT,
    S__COUNT
};

static const char *const sql_text[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",

    [S_FLOW_LATEST] = "SELECT " FLOW_COLS " FROM flows WHERE namespace = ?1 AND id = ?2"
                      " ORDER BY revision DESC LIMIT 1",
    [S_FLOW_REV] = "SELECT " FLOW_COLS " FROM flows WHERE namespace = ?1 AND id = ?2"
                   " AND revision = ?3",
    [S_FLOW_HEAD] = "SELECT revision, deleted FROM flows WHERE namespace = ?1 AND id = ?2"
                    " ORDER BY revision DESC LIMIT 1",
    [S_FLOW_REVS] = "SELECT " FLOW_COLS " FROM flows WHERE namespace = ?1 AND id = ?2"
                    " ORDER BY revision",
    [S_FLOW_INSERT] = "INSERT INTO flows (" FLOW_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_FLOW_SEARCH] = "SELECT f.namespace, f.id, f.revision, f.source, f.json, f.deleted,"
                      " f.created" FLOW_SEARCH_WHERE
                      " ORDER BY f.namespace, f.id LIMIT ?3 OFFSET ?4",
    [S_FLOW_COUNT] = "SELECT count(*)" FLOW_SEARCH_WHERE,

    [S_EXEC_INSERT] = "INSERT INTO executions (" EXEC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                      " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    [S_EXEC_UPDATE] = "UPDATE executions SET namespace = ?2, flow_id = ?3, flow_revision = ?4,"
                      " state = ?5, histories = ?6, inputs = ?7, outputs = ?8, labels = ?9,"
                      " variables = ?10, trigger = ?11, parent_id = ?12,"
                      " parent_task_run_id = ?13, original_id = ?14, created = ?15,"
                      " start_date = ?16, end_date = ?17, version = ?18 + 1"
                      " WHERE id = ?1 AND version = ?18",
    [S_EXEC_VERSION] = "SELECT version FROM executions WHERE id = ?1",
    [S_EXEC_GET] = "SELECT " EXEC_COLS " FROM executions WHERE id = ?1",
    [S_EXEC_DEL_TR] = "DELETE FROM task_runs WHERE execution_id = ?1",
    [S_EXEC_DEL_LOGS] = "DELETE FROM logs WHERE execution_id = ?1",
    [S_EXEC_DEL_METRICS] = "DELETE FROM metrics WHERE execution_id = ?1",
    [S_EXEC_DEL_JOBS] = "DELETE FROM jobs WHERE execution_id = ?1",
    [S_EXEC_DEL] = "DELETE FROM executions WHERE id = ?1",

    [S_TR_INSERT] = "INSERT INTO task_runs (" TR_COLS ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                    " ?7, ?8, ?9, ?10, ?11, ?12, (SELECT coalesce(max(seq), 0) + 1"
                    " FROM task_runs WHERE execution_id = ?2))",
    [S_TR_UPDATE] = "UPDATE task_runs SET parent_task_run_id = ?3, task_id = ?4, value = ?5,"
                    " iteration = ?6, state = ?7, histories = ?8, attempts = ?9, outputs = ?10,"
                    " updated = ?12 WHERE id = ?1 AND execution_id = ?2",
    [S_TR_GET] = "SELECT " TR_COLS " FROM task_runs WHERE id = ?1",
    [S_TR_LIST] = "SELECT " TR_COLS " FROM task_runs WHERE execution_id = ?1 ORDER BY seq",
    [S_TR_COUNT] = "SELECT count(*) FROM task_runs WHERE execution_id = ?1",
    /* ending an execution in bulk (store_execution_end_bulk): its row and
     * every unfinished task run get the state and a history entry in one
     * statement each, rows whose documents are corrupt are given valid ones */
    [S_EXEC_END_BULK] = "UPDATE executions SET state = ?2, end_date = ?3, version = version + 1,"
                        " histories = " HISTORY_APPEND
                        " WHERE id = ?1",
    [S_TR_END_BULK] = "UPDATE task_runs SET state = ?2, updated = ?3, histories = " HISTORY_APPEND
                      " WHERE execution_id = ?1 AND state NOT IN " TERMINATED_STATES,
    [S_TR_REPAIR_BULK] = "UPDATE task_runs SET"
                         " histories = CASE WHEN json_valid(histories) AND json_type(histories) = 'array'"
                         "   THEN histories ELSE json_array(json_object('state', state, 'date', ?3)) END,"
                         " attempts = CASE WHEN json_valid(attempts) AND json_type(attempts) = 'array'"
                         "   THEN attempts ELSE '[]' END,"
                         " outputs = CASE WHEN outputs IS NULL OR json_valid(outputs) THEN outputs ELSE NULL END"
                         " WHERE execution_id = ?1 AND NOT (json_valid(histories) AND json_type(histories) = 'array'"
                         "   AND json_valid(attempts) AND json_type(attempts) = 'array'"
                         "   AND (outputs IS NULL OR json_valid(outputs)))",

    [S_LOG_INSERT] = "INSERT INTO logs (execution_id, task_run_id, task_id, attempt, time,"
                     " level, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_LOG_SEARCH] = "SELECT " LOG_COLS LOG_WHERE " ORDER BY id LIMIT ?6 OFFSET ?7",
    [S_LOG_COUNT] = "SELECT count(*)" LOG_WHERE,

    [S_METRIC_INSERT] = "INSERT INTO metrics (execution_id, task_run_id, task_id, name, type,"
                        " value, tags, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_METRIC_LIST] = "SELECT id, execution_id, task_run_id, task_id, name, type, value, tags,"
                      " time FROM metrics WHERE execution_id = ?1 ORDER BY id",

    [S_JOB_INSERT] = "INSERT INTO jobs (kind, execution_id, task_run_id, payload, available_at,"
                     " attempt, created) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
    [S_JOB_INSERT_LEASED] = "INSERT INTO jobs (kind, execution_id, task_run_id, payload, available_at,"
                            " attempt, created, owner, lease_until)"
                            " VALUES (?1, ?2, ?3, ?4, ?6, 1, ?6, ?7, ?8)",
    [S_JOB_READY] = "SELECT 1 FROM jobs WHERE owner IS NULL AND kind = ?1 AND available_at <= ?2"
                    " LIMIT 1",
    [S_JOB_LEASE] = "UPDATE jobs SET owner = ?1, lease_until = ?2 WHERE id IN"
                    " (SELECT id FROM jobs WHERE owner IS NULL AND kind = ?3"
                    "  AND available_at <= ?4 ORDER BY available_at, id LIMIT ?5)"
                    " RETURNING " JOB_COLS,
    [S_JOB_ACK] = "DELETE FROM jobs WHERE id = ?1 AND owner = ?2",
    [S_JOB_EXTEND] = "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND owner = ?2",
    [S_JOB_OWNER] = "SELECT owner FROM jobs WHERE id = ?1",
    [S_JOB_DROP] = "DELETE FROM jobs WHERE owner IS NOT NULL AND lease_until < ?1"
                   " AND EXISTS (SELECT 1 FROM executions x WHERE x.id = jobs.execution_id"
                   " AND x.state IN " TERMINATED_STATES ")",
    [S_JOB_REQUEUE] = "UPDATE jobs SET owner = NULL, lease_until = NULL,"
                      " attempt = attempt + 1, available_at = ?2"
                      " WHERE owner IS NOT NULL AND lease_until < ?1",
    [S_JOB_DEPTH] = "SELECT coalesce(sum(owner IS NULL), 0), coalesce(sum(owner IS NOT NULL), 0)"
                    " FROM jobs WHERE (?1 IS NULL OR kind = ?1)",
    [S_JOB_OWNERS] = "SELECT DISTINCT owner FROM jobs WHERE owner IS NOT NULL ORDER BY owner",
    [S_JOB_DROP_OWNER] = "DELETE FROM jobs WHERE owner IS NOT NULL AND substr(owner, 1, length(?1)) = ?1"
                         " AND EXISTS (SELECT 1 FROM executions x WHERE x.id = jobs.execution_id"
                         " AND x.state IN " TERMINATED_STATES ")",
    [S_JOB_REQUEUE_OWNER] = "UPDATE jobs SET owner = NULL, lease_until = NULL,"
                            " attempt = attempt + 1, available_at = ?2"
                            " WHERE owner IS NOT NULL AND substr(owner, 1, length(?1)) = ?1",

    [S_KV_PUT] = "INSERT INTO kv (namespace, key, value, expires, updated)"
                 " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (namespace, key) DO UPDATE"
                 " SET value = excluded.value, expires = excluded.expires,"
                 " updated = excluded.updated",
    [S_KV_GET] = "SELECT value FROM kv WHERE namespace = ?1 AND key = ?2"
                 " AND (expires IS NULL OR expires > ?3)",
    [S_KV_DELETE] = "DELETE FROM kv WHERE namespace = ?1 AND key = ?2"
                    " RETURNING expires",   /* (an expression here misreads NULL in 3.40) */
    [S_KV_LIST] = "SELECT key FROM kv WHERE namespace = ?1 AND (expires IS NULL OR expires > ?2)"
                  " ORDER BY key",
    /* the purge tasks (PurgeKV, PurgeLogs, PurgeFlows) */
    [S_KV_PURGE] = "DELETE FROM kv WHERE namespace = ?1 AND (?2 IS NULL OR key GLOB ?2)"
                   " AND (?3 = 0 OR (expires IS NOT NULL AND expires <= ?4))",
    [S_LOG_PURGE] = "DELETE FROM logs WHERE time < ?1 AND time >= ?2 AND (?3 = 0 OR ((1 << level) & ?3) != 0)"
                    " AND execution_id IN (SELECT id FROM executions WHERE"
                    " (?4 IS NULL OR namespace = ?4 OR substr(namespace, 1, length(?4) + 1) = ?4 || '.')"
                    " AND (?5 IS NULL OR flow_id = ?5) AND (?6 IS NULL OR id = ?6))",
    [S_FLOW_PURGE] = "DELETE FROM flows WHERE namespace = ?1 AND id = ?2 AND (?4 = 0 OR created < ?4)"
                     " AND revision <= (SELECT MAX(revision) FROM flows WHERE namespace = ?1 AND id = ?2) - ?3",

    [S_SECRET_PUT] = "INSERT INTO secrets (namespace, name, value, updated) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT (namespace, name) DO UPDATE SET value = excluded.value,"
                     " updated = excluded.updated",
    [S_SECRET_GET] = "SELECT value FROM secrets WHERE namespace = ?1 AND name = ?2",
    [S_SECRET_DELETE] = "DELETE FROM secrets WHERE namespace = ?1 AND name = ?2",
    [S_SECRET_LIST] = "SELECT name, updated FROM secrets WHERE namespace = ?1 ORDER BY name",

    [S_TRIG_PUT] = "INSERT INTO triggers (" TRIG_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                   " ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET"
                   " next_date = excluded.next_date, disabled = excluded.disabled,"
                   " last_fired = excluded.last_fired, state = excluded.state,"
                   " updated = excluded.updated",
    [S_TRIG_GET] = "SELECT " TRIG_COLS " FROM triggers WHERE namespace = ?1 AND flow_id = ?2"
                   " AND trigger_id = ?3",
    [S_TRIG_LIST] = "SELECT " TRIG_COLS " FROM triggers WHERE " NS_MATCH("namespace", "?1")
                    " ORDER BY namespace, flow_id, trigger_id",
    [S_TRIG_DELETE] = "DELETE FROM triggers WHERE namespace = ?1 AND flow_id = ?2"
                      " AND trigger_id = ?3",
    [S_TICK_INSERT] = "INSERT INTO trigger_ticks (namespace, flow_id, trigger_id, scheduled,"
                      " execution_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",

    /* access control (store/access.c, server/policy.c) */
    [S_PR_PUT] = "INSERT INTO principals (name, kind, password, created) VALUES (?1, ?2, ?3, ?4)"
                 " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, password = excluded.password"
                 " RETURNING created = ?4",
    [S_PR_GET] = "SELECT name, kind, password, created FROM principals WHERE name = ?1",
    [S_PR_LIST] = "SELECT name, kind, password, created FROM principals ORDER BY name",
    [S_PR_DEL] = "DELETE FROM principals WHERE name = ?1",
    [S_PR_DEL_TOKENS] = "DELETE FROM tokens WHERE owner = ?1",
    [S_PR_DEL_BINDINGS] = "DELETE FROM bindings WHERE principal = ?1",
    [S_TOK_INSERT] = "INSERT INTO tokens (" TOK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_TOK_FIND] = "SELECT " TOK_COLS ", (SELECT v FROM auth_generation) FROM tokens WHERE sha256 = ?1",
    [S_TOK_GET] = "SELECT " TOK_COLS " FROM tokens WHERE id = ?1",
    [S_TOK_LIST] = "SELECT " TOK_COLS " FROM tokens WHERE (?1 IS NULL OR owner = ?1)"
                   " ORDER BY created DESC, id DESC",
    [S_TOK_REVOKE] = "UPDATE tokens SET revoked = coalesce(revoked, ?2) WHERE id = ?1",
    [S_TOK_REVOKE_ALL] = "UPDATE tokens SET revoked = ?2 WHERE revoked IS NULL AND (?1 IS NULL OR owner = ?1)",
    [S_ROLE_PUT] = "INSERT INTO roles (name, statements, updated) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (name) DO UPDATE SET statements = excluded.statements,"
                   " updated = excluded.updated",
    [S_ROLE_GET] = "SELECT name, statements, updated FROM roles WHERE name = ?1",
    [S_ROLE_LIST] = "SELECT name, statements, updated FROM roles ORDER BY name",
    [S_ROLE_DEL] = "DELETE FROM roles WHERE name = ?1",
    [S_BIND_INSERT] = "INSERT INTO bindings (id, principal, role, namespace, created) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_BIND_LIST] = "SELECT id, principal, role, namespace, created FROM bindings"
                    " WHERE (?1 IS NULL OR principal = ?1) ORDER BY created, id",
    [S_BIND_DEL] = "DELETE FROM bindings WHERE id = ?1",
    [S_AUTH_GEN] = "SELECT v FROM auth_generation",
    [S_AUDIT_INSERT] = "INSERT INTO audit (time, principal, address, action, kind, namespace, object_id,"
                       " before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
};

/* ---- connections -------------------------------------------------------- */

typedef struct sqlb sqlb;

/* Execution searches: one statement per combination of filters (XQ_* bits),
 * written so that SQLite can use the indexes, and per page/count. */
enum { XQ_PREFIX = 1, XQ_NS = 2, XQ_FLOW = 4, XQ_STATE = 8, XQ_UNFINISHED = 16, XQ_PARENT = 32,
       XQ_FILTER = 64, XQ__COMBOS = 128 };

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S__COUNT];
    sqlite3_stmt *xq[2][XQ__COMBOS];   /* [0]: the page, [1]: the count */
    struct conn *next;     /* every connection of the store */
    struct conn *next_idle;
} conn;

/* What one thread holds of one store (the value of the thread key). */
typedef struct tstate {
    sqlb *b;
    conn *reader;          /* opened on the first read outside a transaction */
    int depth;             /* transaction nesting, 0: none; > 0: holds the writer */
    int doomed;            /* an inner rollback happened */
    int lease_empty;       /* the thread's last lease found nothing */
    int snapshot;          /* a read transaction is open on reader */
    unsigned pushed;       /* wake slots of the jobs pushed in the open transaction */
    struct tstate *prev, *next;  /* every thread's state, for store_free */
} tstate;

/* Wake-ups (wait_jobs): a counter per job kind, moved on after the commit
 * that pushed a job of that kind, and a condition variable the waiters
 * sleep on. In-process only: another process on the same file is not seen
 * (its consumers poll). WAKE_SLOTS kinds are told apart (kite uses two);
 * further kinds share the last slot, which only wakes their waiters for
 * nothing. */
#define WAKE_SLOTS 8
#define WAKE_KIND_MAX 32

struct sqlb {
    char *path;
    store_opts opts;
    pthread_key_t key;
    pthread_mutex_t lock;  /* guards all, idle, and the ckpt_* fields */
    pthread_mutex_t write; /* one writing transaction at a time; guards writer */
    pthread_mutex_t wake_lock; /* guards the wake_* fields */
    pthread_cond_t wake_cond;
    char wake_kind[WAKE_SLOTS][WAKE_KIND_MAX];
    uint64_t wake_seq[WAKE_SLOTS];
    conn *writer;          /* the one connection that writes */
    conn *all, *idle;      /* readers */
    tstate *states;
    int version;
    /* the checkpointer thread (see DESIGN above) */
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_cond_t ckpt_cond;
    int ckpt_pending, ckpt_stop;
    atomic_ullong commits;  /* write transactions committed (store_commits) */
};

/* WAL pages after which the checkpointer is woken (unless store_opts says),
 * and after which a committer checkpoints itself (the checkpointer cannot
 * keep up). */
#define CKPT_PAGES 10000
#define CKPT_PAGES_HARD 64000

/* How long a TRUNCATE checkpoint waits for readers and the writer (ms). */
#define CKPT_WAIT_MS 50

static int ckpt_soft(const sqlb *b)
{
    return b->opts.checkpoint_pages > 0 ? b->opts.checkpoint_pages : CKPT_PAGES;
}

static int fail_db(sqlite3 *db, kerr *e, const char *what)
{
    int code = sqlite3_extended_errcode(db);
    int rc = STORE_ERROR;
    if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE)
        rc = STORE_DUPLICATE;
    return store__fail(e, rc, "store: %s: %s", what, sqlite3_errmsg(db));
}

static void conn_close(conn *c)
{
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < XQ__COMBOS; i++)
            sqlite3_finalize(c->xq[k][i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Called after each commit with the WAL's size in pages. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    sqlb *b = arg;
    int soft = ckpt_soft(b);
    if (pages >= soft) {
        pthread_mutex_lock(&b->lock);
        b->ckpt_pending = 1;
        pthread_cond_signal(&b->ckpt_cond);
        pthread_mutex_unlock(&b->lock);
    }
    if (pages >= CKPT_PAGES_HARD && pages >= 4 * soft)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* Opens a connection with kite's settings. */
static void fn_ns_ok(sqlite3_context *cx, int argc, sqlite3_value **argv);

static conn *conn_open(sqlb *b, kerr *e)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(b->path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        store__fail(e, STORE_ERROR, "store: cannot open %s: %s", b->path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, b->opts.busy_timeout_ms > 0 ? b->opts.busy_timeout_ms : 5000);
    /* WAL or nothing: the durability and concurrency promised above rest on
     * it, and SQLite quietly keeps the old mode where WAL cannot work (a
     * file system without shared memory, a read-only folder) */
    sqlite3_stmt *jm = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &jm, NULL) == SQLITE_OK &&
        sqlite3_step(jm) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(jm, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        store__fail(e, STORE_ERROR, "store: %s: cannot use WAL journaling (%s)", b->path,
                    mode ? mode : sqlite3_errmsg(db));
        sqlite3_finalize(jm);
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_finalize(jm);
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;"
             " PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;",
             b->opts.sync_full ? "FULL" : "NORMAL");
    char *msg = NULL;
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        store__fail(e, STORE_ERROR, "store: %s: %s", b->path, msg ? msg : "cannot configure");
        sqlite3_free(msg);
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_create_function(db, "kite_ns_ok", 2, SQLITE_UTF8, NULL, fn_ns_ok, NULL, NULL);
    /* checkpoints run on the checkpointer thread, not in the committer */
    sqlite3_wal_autocheckpoint(db, 0);
    sqlite3_wal_hook(db, wal_hook, b);
    conn *c = xcalloc(1, sizeof *c);
    c->db = db;
    return c;
}

/* Runs at the exit of a thread that used the store: hands its reader back
 * to the pool and the writer back to the others (rolling back a transaction
 * the thread forgot). */
static void ts_release(void *p)
{
    tstate *ts = p;
    sqlb *b = ts->b;
    if (ts->depth > 0) {
        sqlite3_exec(b->writer->db, "ROLLBACK", NULL, NULL, NULL);
        ts->depth = 0;
        pthread_mutex_unlock(&b->write);
    }
    if (ts->reader && !sqlite3_get_autocommit(ts->reader->db))
        sqlite3_exec(ts->reader->db, "COMMIT", NULL, NULL, NULL);   /* a snapshot left open */
    pthread_mutex_lock(&b->lock);
    if (ts->reader) {
        ts->reader->next_idle = b->idle;
        b->idle = ts->reader;
    }
    if (ts->prev)
        ts->prev->next = ts->next;
    else
        b->states = ts->next;
    if (ts->next)
        ts->next->prev = ts->prev;
    pthread_mutex_unlock(&b->lock);
    free(ts);
}

/* The calling thread's state for this store. */
static tstate *ts_get(sqlb *b)
{
    tstate *ts = pthread_getspecific(b->key);
    if (!ts) {
        ts = xcalloc(1, sizeof *ts);
        ts->b = b;
        ts->lease_empty = 1;
        pthread_mutex_lock(&b->lock);
        ts->next = b->states;
        if (b->states)
            b->states->prev = ts;
        b->states = ts;
        pthread_mutex_unlock(&b->lock);
        pthread_setspecific(b->key, ts);
    }
    return ts;
}

/* The connection a read runs on: the writer inside the thread's transaction
 * (to see its own writes), else the thread's reader, taken from the pool or
 * opened. NULL with a message on failure. */
static conn *conn_read(sqlb *b, tstate *ts, kerr *e)
{
    if (ts->depth > 0)
        return b->writer;
    if (ts->reader)
        return ts->reader;
    pthread_mutex_lock(&b->lock);
    conn *c = b->idle;
    if (c)
        b->idle = c->next_idle;
    pthread_mutex_unlock(&b->lock);
    if (!c) {
        c = conn_open(b, e);
        if (!c)
            return NULL;
        pthread_mutex_lock(&b->lock);
        c->next = b->all;
        b->all = c;
        pthread_mutex_unlock(&b->lock);
    }
    ts->reader = c;
    return c;
}

/* The cached statement id, reset and ready to bind; NULL with a message. */
static sqlite3_stmt *stmt(conn *c, int id, kerr *e)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK) {
            fail_db(c->db, e, "preparing a statement");
            c->st[id] = NULL;
            return NULL;
        }
    }
    return c->st[id];
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows; resets it. */
static int run(conn *c, sqlite3_stmt *st, const char *what, kerr *e)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        int r = fail_db(c->db, e, what);
        done(st);
        return r;
    }
    done(st);
    return 0;
}

/* ---- binding and reading ------------------------------------------------ */

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_own(sqlite3_stmt *st, int i, char *s)  /* takes a malloc'd string */
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, free);
    else
        sqlite3_bind_null(st, i);
}

static void bind_json(sqlite3_stmt *st, int i, json_t *j)
{
    bind_own(st, i, store__json_dump(j));
}

static void bind_time(sqlite3_stmt *st, int i, int64_t us)  /* 0 -> NULL */
{
    if (us)
        sqlite3_bind_int64(st, i, us);
    else
        sqlite3_bind_null(st, i);
}

static void bind_limit(sqlite3_stmt *st, int i, size_t offset, size_t limit)
{
    sqlite3_bind_int64(st, i, limit ? (sqlite3_int64)limit : -1);
    sqlite3_bind_int64(st, i + 1, (sqlite3_int64)offset);
}

/* A caller's namespace filter (store_ns_filter) reaches SQL as a pointer
 * parameter of kite_ns_ok(filter, namespace), registered on every
 * connection: 1 when there is no filter or it allows the namespace. */
#define NS_FILTER_TYPE "kite_ns_filter"

static void bind_filter(sqlite3_stmt *st, int i, const store_ns_filter *f)
{
    if (f)
        sqlite3_bind_pointer(st, i, (void *)f, NS_FILTER_TYPE, NULL);
    else
        sqlite3_bind_null(st, i);
}

static void fn_ns_ok(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const store_ns_filter *f = sqlite3_value_pointer(argv[0], NS_FILTER_TYPE);
    const unsigned char *ns = sqlite3_value_text(argv[1]);
    sqlite3_result_int(cx, !f || (ns && f->allow(f->ud, (const char *)ns)));
}

static char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    return store__json_load((const char *)sqlite3_column_text(st, i));
}

static int col_state(sqlite3_stmt *st, int i, store_state *out, kerr *e)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (store_state_parse(t, out) != 0)
        return store__fail(e, STORE_ERROR, "store: corrupt state '%s' in the database",
                           t ? t : "(null)");
    return 0;
}

#define VEC_PUSH(v, n, cap) \
    ((n) == (cap) ? ((cap) = (cap) ? (cap) * 2 : 8, (v) = xrealloc((v), (cap) * sizeof *(v))) : 0, \
     memset(&(v)[(n)], 0, sizeof *(v)), &(v)[(n)++])

/* ---- transactions ------------------------------------------------------- */

/* Enters a write transaction on the writer (or nests into the thread's
 * current one). */
static int tx_enter(sqlb *b, tstate *ts, kerr *e)
{
    if (ts->depth > 0) {
        ts->depth++;
        return 0;
    }
    /* as long as SQLite would wait for another process, and no longer: a
     * thread that never ends its transaction must not hang the others */
    int wait_ms = b->opts.busy_timeout_ms > 0 ? b->opts.busy_timeout_ms : 5000;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&b->write, &dl) != 0)
        return store__fail(e, STORE_ERROR,
                           "store: %s: database is locked (another thread held its write "
                           "transaction for more than %d ms)", b->path, wait_ms);
    conn *c = b->writer;
    sqlite3_stmt *st = stmt(c, S_BEGIN, e);
    int rc = st ? run(c, st, "beginning a transaction", e) : STORE_ERROR;
    if (rc) {
        pthread_mutex_unlock(&b->write);
        return rc;
    }
    ts->depth = 1;
    ts->doomed = 0;
    return 0;
}

/* The wake slot of kind (claimed on first use). */
static int wake_slot(sqlb *b, const char *kind)
{
    int i;
    for (i = 0; i < WAKE_SLOTS - 1; i++) {
        if (!b->wake_kind[i][0]) {
            snprintf(b->wake_kind[i], WAKE_KIND_MAX, "%s", kind);
            b->wake_seq[i] = 1;
        }
        if (!strncmp(b->wake_kind[i], kind, WAKE_KIND_MAX - 1))
            return i;
    }
    return i;
}

static void wake_bump(sqlb *b, unsigned slots)
{
    pthread_mutex_lock(&b->wake_lock);
    for (int i = 0; i < WAKE_SLOTS; i++)
        if (slots & (1u << i))
            b->wake_seq[i]++;
    pthread_cond_broadcast(&b->wake_cond);
    pthread_mutex_unlock(&b->wake_lock);
}

static void tx_rollback_all(sqlb *b, tstate *ts)
{
    conn *c = b->writer;
    sqlite3_stmt *st = stmt(c, S_ROLLBACK, NULL);
    if (st)
        run(c, st, "rolling back", NULL);
    if (sqlite3_get_autocommit(c->db) == 0)   /* the statement failed: insist */
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    ts->depth = 0;
    ts->doomed = 0;
    ts->pushed = 0;
    pthread_mutex_unlock(&b->write);
}

/* Leaves a level: commits at the outermost when ok and not doomed, rolls
 * back when !ok at the outermost, dooms the outer level when !ok inside. */
static int tx_leave(sqlb *b, tstate *ts, int ok, kerr *e)
{
    if (ts->depth <= 0)
        return 0;
    if (ts->depth > 1) {
        ts->depth--;
        if (!ok)
            ts->doomed = 1;
        return 0;
    }
    if (!ok || ts->doomed) {
        int doomed = ts->doomed;
        tx_rollback_all(b, ts);
        if (ok && doomed)
            return store__fail(e, STORE_ERROR,
                               "store: the transaction was rolled back by an inner rollback");
        return 0;
    }
    conn *c = b->writer;
    sqlite3_stmt *st = stmt(c, S_COMMIT, e);
    int rc = st ? run(c, st, "committing", e) : STORE_ERROR;
    if (rc) {
        tx_rollback_all(b, ts);
        return rc;
    }
    ts->depth = 0;
    atomic_fetch_add(&b->commits, 1);
    pthread_mutex_unlock(&b->write);
    if (ts->pushed) {
        /* durable now: consumers waiting on these kinds may lease */
        wake_bump(b, ts->pushed);
        ts->pushed = 0;
    }
    return 0;
}

/* Leaves the level an operation entered. Inside a caller's transaction a
 * failed operation does not doom it: SQLite has undone the failed statement
 * and the caller decides (a trigger tick found already recorded, say, may be
 * an expected outcome). On its own, the operation commits or rolls back. */
static int tx_leave_op(sqlb *b, tstate *ts, int rc, kerr *e)
{
    if (ts->depth > 1) {
        ts->depth--;
        return 0;
    }
    return tx_leave(b, ts, rc == 0, e);
}

static int sq_begin(void *p, kerr *e)
{
    sqlb *b = p;
    return tx_enter(b, ts_get(b), e);
}

static int sq_commit(void *p, kerr *e)
{
    sqlb *b = p;
    tstate *ts = ts_get(b);
    if (ts->depth == 0)
        return store__fail(e, STORE_ERROR, "store: commit without a transaction");
    return tx_leave(b, ts, 1, e);
}

/* A snapshot is a read transaction (BEGIN DEFERRED, then a first read that
 * fixes the WAL snapshot) on the thread's reader. */
static int sq_snapshot_begin(void *p, kerr *e)
{
    sqlb *b = p;
    tstate *ts = ts_get(b);
    if (ts->depth > 0)
        return 0;
    if (ts->snapshot)
        return store__fail(e, STORE_ERROR, "store: a snapshot is already open");
    conn *c = conn_read(b, ts, e);
    if (!c)
        return STORE_ERROR;
    char *msg = NULL;
    if (sqlite3_exec(c->db, "BEGIN; SELECT count(*) FROM meta", NULL, NULL, &msg) != SQLITE_OK) {
        int rc = store__fail(e, STORE_ERROR, "store: beginning a snapshot: %s", msg);
        sqlite3_free(msg);
        if (!sqlite3_get_autocommit(c->db))
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    ts->snapshot = 1;
    return 0;
}

static void sq_snapshot_end(void *p)
{
    sqlb *b = p;
    tstate *ts = ts_get(b);
    if (!ts->snapshot)
        return;
    ts->snapshot = 0;
    if (ts->reader && !sqlite3_get_autocommit(ts->reader->db))
        sqlite3_exec(ts->reader->db, "COMMIT", NULL, NULL, NULL);
}

static void sq_rollback(void *p)
{
    sqlb *b = p;
    tstate *ts = ts_get(b);
    if (ts->depth == 0)
        return;
    tx_leave(b, ts, 0, NULL);
}

/* The frame of every operation: W for writes (on the writer, in a
 * transaction), R for reads. The body sets rc and may `goto out`. */
#define W_BEGIN \
    sqlb *b = p; \
    tstate *ts = ts_get(b); \
    int rc = tx_enter(b, ts, e); \
    if (rc) \
        return rc; \
    conn *c = b->writer;
#define W_END \
    out: \
    { \
        int lrc = tx_leave_op(b, ts, rc, rc == 0 ? e : NULL); \
        return rc ? rc : lrc; \
    }
#define R_BEGIN \
    sqlb *b = p; \
    conn *c = conn_read(b, ts_get(b), e); \
    if (!c) \
        return STORE_ERROR; \
    int rc = 0;
#define STMT(var, id) \
    sqlite3_stmt *var = stmt(c, (id), e); \
    if (!var) { \
        rc = STORE_ERROR; \
        goto out; \
    }

/* ---- open, migrations, close -------------------------------------------- */

/* PRAGMA quick_check at open: a database damaged behind kite's back (a
 * disk error, a copy taken mid-write, a page overwritten) is refused with
 * SQLite's first findings instead of failing later, query by query, or
 * handing out wrong rows. quick_check skips the index-content comparison of
 * integrity_check; it still reads every page, so its cost grows with the
 * file (figures in docs/store.md). */
static int check_integrity(sqlb *b, conn *c, kerr *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA quick_check(3)", -1, &st, NULL) != SQLITE_OK)
        return store__fail(e, STORE_ERROR, "store: %s fails its integrity check: %s", b->path,
                           sqlite3_errmsg(c->db));
    char found[512] = "";
    size_t n = 0;
    int rc, bad = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (!line || strcmp(line, "ok") == 0)
            continue;
        bad = 1;
        /* SQLite opens its report with this header and a newline */
        const char *hdr = "*** in database main ***\n";
        if (strncmp(line, hdr, strlen(hdr)) == 0)
            line += strlen(hdr);
        for (const char *p = line; *p && n < sizeof found - 1; p++) {
            if (p == line && n > 0 && n < sizeof found - 3) {
                found[n++] = ';';
                found[n++] = ' ';
            }
            found[n++] = *p == '\n' ? ' ' : *p;
        }
        found[n] = 0;
    }
    if (rc != SQLITE_DONE && !bad) {
        bad = 1;
        snprintf(found, sizeof found, "%s", sqlite3_errmsg(c->db));
    }
    sqlite3_finalize(st);
    if (bad)
        return store__fail(e, STORE_ERROR,
                           "store: %s fails its integrity check (PRAGMA quick_check): %s; "
                           "restore it from a backup", b->path, found);
    return 0;
}

static int migrate(sqlb *b, conn *c, kerr *e)
{
    char *msg = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 0, version = 0, others = 0, has_meta = 0;

    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        rc = store__fail(e, STORE_ERROR, "store: %s: %s", b->path, msg);
        sqlite3_free(msg);
        return rc;
    }
    if (sqlite3_prepare_v2(c->db,
                           "SELECT name FROM sqlite_master WHERE type = 'table'"
                           " AND name NOT LIKE 'sqlite_%'", -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(c->db, e, b->path);
        goto fail;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(st, 0), "meta") == 0)
            has_meta = 1;
        else
            others++;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!has_meta && others > 0) {
        rc = store__fail(e, STORE_ERROR,
                         "store: %s is a SQLite database but not a kite store (no meta table)",
                         b->path);
        goto fail;
    }
    if (has_meta) {
        if (sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                               &st, NULL) != SQLITE_OK) {
            rc = fail_db(c->db, e, b->path);
            goto fail;
        }
        if (sqlite3_step(st) == SQLITE_ROW)
            version = atoi((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        st = NULL;
    }
    if (version > store__sqlite_migration_count) {
        rc = store__fail(e, STORE_ERROR,
                         "store: %s was written by a newer kite (schema version %d, this kite "
                         "knows up to %d): upgrade kite or use another database",
                         b->path, version, store__sqlite_migration_count);
        goto fail;
    }
    for (int v = version; v < store__sqlite_migration_count; v++) {
        if (sqlite3_exec(c->db, store__sqlite_migrations[v], NULL, NULL, &msg) != SQLITE_OK) {
            rc = store__fail(e, STORE_ERROR, "store: %s: migration to schema version %d: %s",
                             b->path, v + 1, msg);
            sqlite3_free(msg);
            goto fail;
        }
    }
    if (version < store__sqlite_migration_count) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')",
                 store__sqlite_migration_count);
        if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            rc = store__fail(e, STORE_ERROR, "store: %s: %s", b->path, msg);
            sqlite3_free(msg);
            goto fail;
        }
    }
    if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        rc = store__fail(e, STORE_ERROR, "store: %s: committing migrations: %s", b->path, msg);
        sqlite3_free(msg);
        goto fail;
    }
    b->version = store__sqlite_migration_count;
    return 0;
fail:
    sqlite3_finalize(st);
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}


/* The checkpointer: copies the WAL back into the database file when it has
 * grown past its threshold, and once a second otherwise. PASSIVE: it never
 * blocks readers or writers; the fsyncs a checkpoint needs happen here, off
 * the commit path. */
static void *ckpt_main(void *p)
{
    sqlb *b = p;
    /* opened at the first checkpoint, not at start: each connection parses
     * the schema (1.3 M instructions), and a short `kite run` ends before
     * its first checkpoint */
    conn *c = NULL;
    pthread_mutex_lock(&b->lock);
    while (!b->ckpt_stop) {
        if (!b->ckpt_pending) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&b->ckpt_cond, &b->lock, &ts);
        }
        if (b->ckpt_stop)
            break;
        b->ckpt_pending = 0;
        pthread_mutex_unlock(&b->lock);
        if (!c && !(c = conn_open(b, NULL))) {
            pthread_mutex_lock(&b->lock);
            break;
        }
        int log = 0;
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, NULL);
        if (log >= ckpt_soft(b)) {
            /* copied back (as far as readers allowed), but a WAL is only
             * rewound by a writer that finds no reader in it, which a busy
             * engine (its readers never all idle at once) almost never
             * does: it grew to 270 MB during a 50,000-value ForEach. With
             * the process's writers held off (they would win the write
             * lock every time), TRUNCATE waits for the readers of the
             * moment (CKPT_WAIT_MS at most), rewinds and truncates it. */
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 1;
            if (pthread_mutex_timedlock(&b->write, &dl) == 0) {
                sqlite3_busy_timeout(c->db, CKPT_WAIT_MS);
                sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
                sqlite3_busy_timeout(c->db, b->opts.busy_timeout_ms > 0 ? b->opts.busy_timeout_ms : 5000);
                pthread_mutex_unlock(&b->write);
            }
        }
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    if (c)
        conn_close(c);
    return NULL;
}

static void sq_close(void *p)
{
    sqlb *b = p;
    if (!b)
        return;
    if (b->ckpt_started) {
        pthread_mutex_lock(&b->lock);
        b->ckpt_stop = 1;
        pthread_cond_signal(&b->ckpt_cond);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->ckpt_thread, NULL);
    }
    pthread_key_delete(b->key);
    /* the states of threads still alive (they no longer use the store, as
     * store_free's contract says) */
    while (b->states) {
        tstate *n = b->states->next;
        free(b->states);
        b->states = n;
    }
    conn *c = b->all;
    while (c) {
        conn *n = c->next;
        conn_close(c);
        c = n;
    }
    if (b->writer)
        conn_close(b->writer);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->write);
    pthread_mutex_destroy(&b->wake_lock);
    pthread_cond_destroy(&b->wake_cond);
    pthread_cond_destroy(&b->ckpt_cond);
    free(b->path);
    free(b);
}

/* A new store: the seed (scripts/store_seed.c, the schema of every migration
 * already applied, in WAL mode) written as the file, made durable (the file,
 * then its folder) and only then opened; migrate() then finds nothing to do.
 * Creating the schema statement by statement costs about 8 M instructions
 * and four syncs more. Only where no file is there yet: renameat2's
 * RENAME_NOREPLACE leaves a file another process made meanwhile alone, and
 * any failure leaves things to the migrations. */
#ifdef KITE_STORE_SEED
__asm__(".section .rodata\n.balign 16\n.globl store__seed\n.hidden store__seed\n"
        "store__seed:\n.incbin \"" KITE_STORE_SEED "\"\n"
        ".globl store__seed_end\n.hidden store__seed_end\nstore__seed_end:\n.previous\n");
extern const unsigned char store__seed[], store__seed_end[];

static void seed_new(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 || errno != ENOENT)
        return;
    char *tmp = xasprintf("%s.seed-%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(tmp);
        return;
    }
    size_t n = (size_t)(store__seed_end - store__seed), off = 0;
    int ok = 1;
    while (ok && off < n) {
        ssize_t w = write(fd, store__seed + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fdatasync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
        const char *slash = strrchr(path, '/');
        char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    } else {
        unlink(tmp);
    }
    free(tmp);
}
#else
static void seed_new(const char *path)
{
    (void)path;
}
#endif

static int sq_open(const char *target, const store_opts *o, void **out, kerr *e)
{
    if (strcmp(target, ":memory:") == 0 || strncmp(target, "file:", 5) == 0)
        return store__fail(e, STORE_ERROR,
                           "store: %s: give a file path (each thread opens its own "
                           "connection, so in-memory databases are not supported)", target);
    sqlb *b = xcalloc(1, sizeof *b);
    b->path = xstrdup(target);
    b->opts = *o;
    if (pthread_key_create(&b->key, ts_release) != 0) {
        free(b->path);
        free(b);
        return store__fail(e, STORE_ERROR, "store: no thread key left");
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->write, NULL);
    pthread_mutex_init(&b->wake_lock, NULL);
    pthread_cond_init(&b->wake_cond, NULL);
    pthread_cond_init(&b->ckpt_cond, NULL);
    seed_new(b->path);
    b->writer = conn_open(b, e);
    if (!b->writer) {
        sq_close(b);
        return STORE_ERROR;
    }
    int rc = check_integrity(b, b->writer, e);
    if (!rc)
        rc = migrate(b, b->writer, e);
    if (rc) {
        sq_close(b);
        return rc;
    }
    if (pthread_create(&b->ckpt_thread, NULL, ckpt_main, b) != 0) {
        sq_close(b);
        return store__fail(e, STORE_ERROR, "store: cannot start the checkpointer thread");
    }
    b->ckpt_started = 1;
    *out = b;
    return 0;
}

static int sq_schema_version(void *p)
{
    return ((sqlb *)p)->version;
}

/* ---- flows -------------------------------------------------------------- */

static void read_flow(sqlite3_stmt *st, store_flow *f)
{
    f->namespace = col_str(st, 0);
    f->id = col_str(st, 1);
    f->revision = sqlite3_column_int(st, 2);
    f->source = col_str(st, 3);
    f->json = col_json(st, 4);
    f->deleted = sqlite3_column_int(st, 5);
    f->created_us = sqlite3_column_int64(st, 6);
}

/* Reads the latest revision into *f (zeroed when there is none). */
static int flow_latest(conn *c, const char *ns, const char *id, store_flow *f, int *found,
                       kerr *e)
{
    memset(f, 0, sizeof *f);
    *found = 0;
    sqlite3_stmt *st = stmt(c, S_FLOW_LATEST, e);
    if (!st)
        return STORE_ERROR;
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        read_flow(st, f);
        *found = 1;
    } else if (r != SQLITE_DONE) {
        int rc = fail_db(c->db, e, "reading a flow");
        done(st);
        return rc;
    }
    done(st);
    return 0;
}

static int flow_insert(conn *c, const char *ns, const char *id, int revision,
                       const char *source, const char *json, int deleted, kerr *e)
{
    sqlite3_stmt *st = stmt(c, S_FLOW_INSERT, e);
    if (!st)
        return STORE_ERROR;
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    sqlite3_bind_int(st, 3, revision);
    bind_str(st, 4, source);
    bind_str(st, 5, json);
    sqlite3_bind_int(st, 6, deleted);
    sqlite3_bind_int64(st, 7, store_now_us());
    return run(c, st, "storing a flow", e);
}

static int sq_flow_put(void *p, const char *ns, const char *id, const char *source,
                       const char *json, int *revision, int *created, kerr *e)
{
    W_BEGIN
    store_flow cur;
    int found;
    rc = flow_latest(c, ns, id, &cur, &found, e);
    if (rc)
        goto out;
    if (found && !cur.deleted && strcmp(cur.source, source) == 0) {
        *revision = cur.revision;
        *created = 0;
    } else {
        int rev = found ? cur.revision + 1 : 1;
        rc = flow_insert(c, ns, id, rev, source, json, 0, e);
        if (rc == 0) {
            *revision = rev;
            *created = 1;
        }
    }
    store_flow_clear(&cur);
    W_END
}

static int sq_flow_get(void *p, const char *ns, const char *id, int revision, store_flow *out,
                       kerr *e)
{
    R_BEGIN
    if (revision == 0) {
        int found;
        rc = flow_latest(c, ns, id, out, &found, e);
        if (rc)
            goto out;
        if (!found || out->deleted) {
            rc = store__fail(e, STORE_NOT_FOUND, "store: flow %s.%s %s", ns, id,
                             found ? "is deleted" : "does not exist");
            store_flow_clear(out);
        }
        goto out;
    }
    STMT(st, S_FLOW_REV);
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    sqlite3_bind_int(st, 3, revision);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_flow(st, out);
    else if (r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: flow %s.%s has no revision %d", ns, id,
                         revision);
    else
        rc = fail_db(c->db, e, "reading a flow");
    done(st);
out:
    return rc;
}

static int sq_flow_head(void *p, const char *ns, const char *id, int *revision, kerr *e)
{
    R_BEGIN
    STMT(st, S_FLOW_HEAD);
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && !sqlite3_column_int(st, 1))
        *revision = sqlite3_column_int(st, 0);
    else if (r == SQLITE_ROW || r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: flow %s.%s %s", ns, id,
                         r == SQLITE_ROW ? "is deleted" : "does not exist");
    else
        rc = fail_db(c->db, e, "reading a flow");
    done(st);
out:
    return rc;
}

static int sq_flow_revisions(void *p, const char *ns, const char *id, store_flow **out,
                             size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    STMT(st, S_FLOW_REVS);
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_flow(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing flow revisions");
    done(st);
out:
    if (rc) {
        store_flows_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_flow_delete(void *p, const char *ns, const char *id, kerr *e)
{
    W_BEGIN
    store_flow cur;
    int found;
    rc = flow_latest(c, ns, id, &cur, &found, e);
    if (rc)
        goto out;
    if (!found || cur.deleted) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: flow %s.%s %s", ns, id,
                         found ? "is already deleted" : "does not exist");
    } else {
        char *js = store__json_dump(cur.json);
        rc = flow_insert(c, ns, id, cur.revision + 1, cur.source, js, 1, e);
        free(js);
    }
    store_flow_clear(&cur);
    W_END
}

static int sq_flow_search(void *p, const store_flow_query *q, store_flow **out, size_t *n,
                          int64_t *total, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_FLOW_SEARCH);
    bind_str(st, 1, q->ns_prefix);
    bind_str(st, 2, q->text);
    bind_limit(st, 3, q->offset, q->limit);
    bind_filter(st, 5, q->ns_filter);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_flow(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "searching flows");
    done(st);
    if (rc)
        goto out;
    STMT(ct, S_FLOW_COUNT);
    bind_str(ct, 1, q->ns_prefix);
    bind_str(ct, 2, q->text);
    bind_filter(ct, 5, q->ns_filter);
    if (sqlite3_step(ct) == SQLITE_ROW)
        *total = sqlite3_column_int64(ct, 0);
    else
        rc = fail_db(c->db, e, "counting flows");
    done(ct);
out:
    if (rc) {
        store_flows_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- executions --------------------------------------------------------- */

static void bind_execution(sqlite3_stmt *st, const store_execution *x)
{
    bind_str(st, 1, x->id);
    bind_str(st, 2, x->namespace);
    bind_str(st, 3, x->flow_id);
    sqlite3_bind_int(st, 4, x->flow_revision);
    bind_str(st, 5, store_state_name(x->state));
    bind_own(st, 6, store__histories_to_json(x->histories, x->n_histories));
    bind_json(st, 7, x->inputs);
    bind_json(st, 8, x->outputs);
    bind_json(st, 9, x->labels);
    bind_json(st, 10, x->variables);
    bind_json(st, 11, x->trigger);
    bind_str(st, 12, x->parent_id);
    bind_str(st, 13, x->parent_task_run_id);
    bind_str(st, 14, x->original_id);
    sqlite3_bind_int64(st, 15, x->created_us ? x->created_us : store_now_us());
    bind_time(st, 16, x->start_us);
    bind_time(st, 17, x->end_us);
    sqlite3_bind_int64(st, 18, x->version);
}

static int read_execution(sqlite3_stmt *st, store_execution *x, kerr *e)
{
    x->id = col_str(st, 0);
    x->namespace = col_str(st, 1);
    x->flow_id = col_str(st, 2);
    x->flow_revision = sqlite3_column_int(st, 3);
    int rc = col_state(st, 4, &x->state, e);
    if (rc)
        return rc;
    rc = store__histories_from_json((const char *)sqlite3_column_text(st, 5), &x->histories,
                                    &x->n_histories, e);
    if (rc)
        return rc;
    x->inputs = col_json(st, 6);
    x->outputs = col_json(st, 7);
    x->labels = col_json(st, 8);
    x->variables = col_json(st, 9);
    x->trigger = col_json(st, 10);
    x->parent_id = col_str(st, 11);
    x->parent_task_run_id = col_str(st, 12);
    x->original_id = col_str(st, 13);
    x->created_us = sqlite3_column_int64(st, 14);
    x->start_us = sqlite3_column_int64(st, 15);
    x->end_us = sqlite3_column_int64(st, 16);
    x->version = sqlite3_column_int64(st, 17);
    return 0;
}

static int sq_execution_insert(void *p, const store_execution *x, kerr *e)
{
    W_BEGIN
    STMT(st, S_EXEC_INSERT);
    bind_execution(st, x);
    rc = run(c, st, "inserting an execution", e);
    if (rc == STORE_DUPLICATE)
        rc = store__fail(e, STORE_DUPLICATE, "store: execution %s already exists", x->id);
    W_END
}

static int sq_execution_update(void *p, const store_execution *x, kerr *e)
{
    W_BEGIN
    STMT(st, S_EXEC_UPDATE);
    bind_execution(st, x);
    rc = run(c, st, "updating an execution", e);
    if (rc || sqlite3_changes(c->db) == 1)
        goto out;
    STMT(vt, S_EXEC_VERSION);
    bind_str(vt, 1, x->id);
    if (sqlite3_step(vt) == SQLITE_ROW)
        rc = store__fail(e, STORE_CONFLICT,
                         "store: execution %s was updated concurrently (version %lld, "
                         "expected %lld)", x->id, (long long)sqlite3_column_int64(vt, 0),
                         (long long)x->version);
    else
        rc = store__fail(e, STORE_NOT_FOUND, "store: execution %s does not exist", x->id);
    done(vt);
    W_END
}

static int sq_execution_get(void *p, const char *id, store_execution *out, kerr *e)
{
    R_BEGIN
    STMT(st, S_EXEC_GET);
    bind_str(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = read_execution(st, out, e);
        if (rc)
            store_execution_clear(out);
    } else if (r == SQLITE_DONE) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: execution %s does not exist", id);
    } else {
        rc = fail_db(c->db, e, "reading an execution");
    }
    done(st);
out:
    return rc;
}

static int sq_execution_delete(void *p, const char *id, kerr *e)
{
    W_BEGIN
    static const int dels[] = {S_EXEC_DEL_TR, S_EXEC_DEL_LOGS, S_EXEC_DEL_METRICS,
                               S_EXEC_DEL_JOBS, S_EXEC_DEL};
    for (size_t i = 0; i < sizeof dels / sizeof dels[0]; i++) {
        STMT(st, dels[i]);
        bind_str(st, 1, id);
        rc = run(c, st, "deleting an execution", e);
        if (rc)
            goto out;
    }
    if (sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: execution %s does not exist", id);
    W_END
}

/* The statement for the filters in flags, prepared once per connection.
 * Only the filters present appear in the SQL: "?1 IS NULL OR ..." terms
 * would keep SQLite from using any index. The namespace prefix is a range
 * [p, p + "/") refined to p itself and p + "." (so that "a" does not match
 * "ab"); unfinished is the partial index's own WHERE clause. */
static sqlite3_stmt *exec_query(conn *c, unsigned flags, int count, kerr *e)
{
    sqlite3_stmt **slot = &c->xq[count][flags];
    if (*slot)
        return *slot;
    char sql[1536];
    int len = snprintf(sql, sizeof sql, "SELECT %s FROM executions WHERE 1",
                       count ? "count(*)" : EXEC_COLS);
    if (flags & XQ_PREFIX)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        " AND namespace >= ?1 AND namespace < ?1 || '/'"
                        " AND (namespace = ?1 OR substr(namespace, length(?1) + 1, 1) = '.')");
    if (flags & XQ_NS)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND namespace = ?8");
    if (flags & XQ_FLOW)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND flow_id = ?2");
    if (flags & XQ_STATE)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        " AND state IN (SELECT value FROM json_each(?3))");
    if (flags & XQ_UNFINISHED)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        " AND state NOT IN " TERMINATED_STATES);
    if (flags & XQ_PARENT)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND parent_id = ?7");
    if (flags & XQ_FILTER)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " AND kite_ns_ok(?9, namespace)");
    if (!count)
        snprintf(sql + len, sizeof sql - (size_t)len,
                 " ORDER BY created DESC, id DESC LIMIT ?4 OFFSET ?5");
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        fail_db(c->db, e, "preparing an execution search");
        *slot = NULL;
    }
    return *slot;
}

static void bind_exec_query(sqlite3_stmt *st, const store_execution_query *q, int count)
{
    /* parameters absent from this statement's SQL are refused with
     * SQLITE_RANGE, harmlessly */
    if (q->ns_prefix)
        bind_str(st, 1, q->ns_prefix);
    if (q->flow_id)
        bind_str(st, 2, q->flow_id);
    if (q->states) {
        char list[512];
        int len = snprintf(list, sizeof list, "[");
        for (int i = 0; i < STATE__COUNT; i++)
            if (q->states & STORE_STATE_BIT(i))
                len += snprintf(list + len, sizeof list - (size_t)len, "%s\"%s\"",
                                len > 1 ? "," : "", store_state_name((store_state)i));
        snprintf(list + len, sizeof list - (size_t)len, "]");
        sqlite3_bind_text(st, 3, list, -1, SQLITE_TRANSIENT);
    }
    if (!count)
        bind_limit(st, 4, q->offset, q->limit);
    if (q->parent_id)
        bind_str(st, 7, q->parent_id);
    if (q->namespace)
        bind_str(st, 8, q->namespace);
    if (q->ns_filter)
        bind_filter(st, 9, q->ns_filter);
}

static int sq_execution_search(void *p, const store_execution_query *q, store_execution **out,
                               size_t *n, int64_t *total, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    unsigned flags = (q->ns_prefix ? XQ_PREFIX : 0) | (q->namespace ? XQ_NS : 0) |
                     (q->flow_id ? XQ_FLOW : 0) | (q->states ? XQ_STATE : 0) |
                     (q->unfinished ? XQ_UNFINISHED : 0) | (q->parent_id ? XQ_PARENT : 0) |
                     (q->ns_filter ? XQ_FILTER : 0);
    sqlite3_stmt *st = exec_query(c, flags, 0, e);
    if (!st) {
        rc = STORE_ERROR;
        goto out;
    }
    bind_exec_query(st, q, 0);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_execution(st, VEC_PUSH(*out, *n, cap), e);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = fail_db(c->db, e, "searching executions");
    done(st);
    if (rc)
        goto out;
    sqlite3_stmt *ct = exec_query(c, flags, 1, e);
    if (!ct) {
        rc = STORE_ERROR;
        goto out;
    }
    bind_exec_query(ct, q, 1);
    if (sqlite3_step(ct) == SQLITE_ROW)
        *total = sqlite3_column_int64(ct, 0);
    else
        rc = fail_db(c->db, e, "counting executions");
    done(ct);
out:
    if (rc) {
        store_executions_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- task runs ---------------------------------------------------------- */

static void bind_task_run(sqlite3_stmt *st, const store_task_run *t)
{
    int64_t now = store_now_us();
    bind_str(st, 1, t->id);
    bind_str(st, 2, t->execution_id);
    bind_str(st, 3, t->parent_task_run_id);
    bind_str(st, 4, t->task_id);
    bind_str(st, 5, t->value);
    sqlite3_bind_int(st, 6, t->iteration);
    bind_str(st, 7, store_state_name(t->state));
    bind_own(st, 8, store__histories_to_json(t->histories, t->n_histories));
    bind_own(st, 9, store__attempts_to_json(t->attempts, t->n_attempts));
    bind_json(st, 10, t->outputs);
    sqlite3_bind_int64(st, 11, t->created_us ? t->created_us : now);
    sqlite3_bind_int64(st, 12, t->updated_us ? t->updated_us : now);
}

static int read_task_run(sqlite3_stmt *st, store_task_run *t, kerr *e)
{
    t->id = col_str(st, 0);
    t->execution_id = col_str(st, 1);
    t->parent_task_run_id = col_str(st, 2);
    t->task_id = col_str(st, 3);
    t->value = col_str(st, 4);
    t->iteration = sqlite3_column_int(st, 5);
    int rc = col_state(st, 6, &t->state, e);
    if (!rc)
        rc = store__histories_from_json((const char *)sqlite3_column_text(st, 7),
                                        &t->histories, &t->n_histories, e);
    if (!rc)
        rc = store__attempts_from_json((const char *)sqlite3_column_text(st, 8), &t->attempts,
                                       &t->n_attempts, e);
    t->outputs = col_json(st, 9);
    t->created_us = sqlite3_column_int64(st, 10);
    t->updated_us = sqlite3_column_int64(st, 11);
    return rc;
}

static int sq_task_run_insert(void *p, const store_task_run *t, kerr *e)
{
    W_BEGIN
    STMT(st, S_TR_INSERT);
    bind_task_run(st, t);
    rc = run(c, st, "inserting a task run", e);
    if (rc == STORE_DUPLICATE)
        rc = store__fail(e, STORE_DUPLICATE, "store: task run %s already exists", t->id);
    else if (rc && sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = store__fail(e, STORE_ERROR, "store: task run %s: execution %s does not exist",
                         t->id, t->execution_id);
    W_END
}

static int sq_task_run_update(void *p, const store_task_run *t, kerr *e)
{
    W_BEGIN
    STMT(st, S_TR_UPDATE);
    bind_task_run(st, t);
    rc = run(c, st, "updating a task run", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: task run %s of execution %s does not exist",
                         t->id, t->execution_id);
    W_END
}

static int sq_task_run_get(void *p, const char *id, store_task_run *out, kerr *e)
{
    R_BEGIN
    STMT(st, S_TR_GET);
    bind_str(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = read_task_run(st, out, e);
        if (rc)
            store_task_run_clear(out);
    } else if (r == SQLITE_DONE) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: task run %s does not exist", id);
    } else {
        rc = fail_db(c->db, e, "reading a task run");
    }
    done(st);
out:
    return rc;
}

static int sq_task_run_list(void *p, const char *execution_id, store_task_run **out, size_t *n,
                            kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_TR_LIST);
    bind_str(st, 1, execution_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_task_run(st, VEC_PUSH(*out, *n, cap), e);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing task runs");
    done(st);
out:
    if (rc) {
        store_task_runs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_task_run_count(void *p, const char *execution_id, int64_t *n, kerr *e)
{
    R_BEGIN
    STMT(st, S_TR_COUNT);
    bind_str(st, 1, execution_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = fail_db(c->db, e, "counting task runs");
    done(st);
out:
    return rc;
}

static int sq_execution_end_bulk(void *p, const char *id, store_state state, int64_t at_us,
                                 size_t *runs, kerr *e)
{
    W_BEGIN
    static const int ids[] = {S_EXEC_END_BULK, S_TR_END_BULK, S_TR_REPAIR_BULK, S_EXEC_DEL_JOBS};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        STMT(st, ids[i]);
        bind_str(st, 1, id);
        if (ids[i] != S_EXEC_DEL_JOBS) {
            bind_str(st, 2, store_state_name(state));
            sqlite3_bind_int64(st, 3, at_us);
        }
        rc = run(c, st, "ending an execution", e);
        if (rc)
            goto out;
        if (ids[i] == S_EXEC_END_BULK && sqlite3_changes(c->db) == 0) {
            rc = store__fail(e, STORE_NOT_FOUND, "store: execution %s does not exist", id);
            goto out;
        }
        if (ids[i] == S_TR_END_BULK)
            *runs = (size_t)sqlite3_changes(c->db);
    }
    W_END
}

/* ---- logs and metrics --------------------------------------------------- */

static int sq_log_append(void *p, const store_log *l, int64_t *id, kerr *e)
{
    W_BEGIN
    STMT(st, S_LOG_INSERT);
    bind_str(st, 1, l->execution_id);
    bind_str(st, 2, l->task_run_id);
    bind_str(st, 3, l->task_id);
    sqlite3_bind_int(st, 4, l->attempt);
    sqlite3_bind_int64(st, 5, l->at_us ? l->at_us : store_now_us());
    sqlite3_bind_int(st, 6, (int)l->level);
    bind_str(st, 7, l->message);
    rc = run(c, st, "appending a log", e);
    if (!rc)
        *id = sqlite3_last_insert_rowid(c->db);
    W_END
}

static int sq_log_search(void *p, const store_log_query *q, store_log **out, size_t *n,
                         int64_t *total, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_LOG_SEARCH);
    bind_str(st, 1, q->execution_id);
    bind_str(st, 2, q->task_id);
    bind_str(st, 3, q->task_run_id);
    sqlite3_bind_int(st, 4, (int)q->min_level);
    sqlite3_bind_int64(st, 5, q->since_id);
    bind_limit(st, 6, q->offset, q->limit);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_log *l = VEC_PUSH(*out, *n, cap);
        l->id = sqlite3_column_int64(st, 0);
        l->execution_id = col_str(st, 1);
        l->task_run_id = col_str(st, 2);
        l->task_id = col_str(st, 3);
        l->attempt = sqlite3_column_int(st, 4);
        l->at_us = sqlite3_column_int64(st, 5);
        l->level = (store_level)sqlite3_column_int(st, 6);
        l->message = col_str(st, 7);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "searching logs");
    done(st);
    if (rc)
        goto out;
    STMT(ct, S_LOG_COUNT);
    bind_str(ct, 1, q->execution_id);
    bind_str(ct, 2, q->task_id);
    bind_str(ct, 3, q->task_run_id);
    sqlite3_bind_int(ct, 4, (int)q->min_level);
    sqlite3_bind_int64(ct, 5, q->since_id);
    if (sqlite3_step(ct) == SQLITE_ROW)
        *total = sqlite3_column_int64(ct, 0);
    else
        rc = fail_db(c->db, e, "counting logs");
    done(ct);
out:
    if (rc) {
        store_logs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_metric_add(void *p, const store_metric *m, kerr *e)
{
    W_BEGIN
    STMT(st, S_METRIC_INSERT);
    bind_str(st, 1, m->execution_id);
    bind_str(st, 2, m->task_run_id);
    bind_str(st, 3, m->task_id);
    bind_str(st, 4, m->name);
    bind_str(st, 5, m->type == METRIC_TIMER ? "timer" : "counter");
    sqlite3_bind_double(st, 6, m->value);
    bind_json(st, 7, m->tags);
    sqlite3_bind_int64(st, 8, m->at_us ? m->at_us : store_now_us());
    rc = run(c, st, "adding a metric", e);
    W_END
}

static int sq_metric_list(void *p, const char *execution_id, store_metric **out, size_t *n,
                          kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_METRIC_LIST);
    bind_str(st, 1, execution_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_metric *m = VEC_PUSH(*out, *n, cap);
        m->id = sqlite3_column_int64(st, 0);
        m->execution_id = col_str(st, 1);
        m->task_run_id = col_str(st, 2);
        m->task_id = col_str(st, 3);
        m->name = col_str(st, 4);
        const char *type = (const char *)sqlite3_column_text(st, 5);
        m->type = type && strcmp(type, "timer") == 0 ? METRIC_TIMER : METRIC_COUNTER;
        m->value = sqlite3_column_double(st, 6);
        m->tags = col_json(st, 7);
        m->at_us = sqlite3_column_int64(st, 8);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing metrics");
    done(st);
out:
    if (rc) {
        store_metrics_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- the job queue ------------------------------------------------------ */

static int sq_queue_push(void *p, const char *kind, const char *execution_id,
                         const char *task_run_id, const char *payload, int64_t available_us,
                         int64_t *id, kerr *e)
{
    W_BEGIN
    STMT(st, S_JOB_INSERT);
    bind_str(st, 1, kind);
    bind_str(st, 2, execution_id);
    bind_str(st, 3, task_run_id);
    bind_str(st, 4, payload);
    sqlite3_bind_int64(st, 5, available_us);
    sqlite3_bind_int64(st, 6, store_now_us());
    rc = run(c, st, "enqueueing a job", e);
    if (!rc) {
        *id = sqlite3_last_insert_rowid(c->db);
        pthread_mutex_lock(&b->wake_lock);
        ts->pushed |= 1u << wake_slot(b, kind);
        pthread_mutex_unlock(&b->wake_lock);
    }
    W_END
}

/* A job pushed already leased to owner until lease_until_us: the lease
 * rides in the commit that creates the job (the embedded executor hands a
 * task straight to a waiting worker). */
static int sq_queue_push_leased(void *p, const char *kind, const char *execution_id,
                                const char *task_run_id, const char *payload, const char *owner,
                                int64_t lease_until_us, int64_t *id, kerr *e)
{
    W_BEGIN
    STMT(st, S_JOB_INSERT_LEASED);
    bind_str(st, 1, kind);
    bind_str(st, 2, execution_id);
    bind_str(st, 3, task_run_id);
    bind_str(st, 4, payload);
    sqlite3_bind_int64(st, 6, store_now_us());
    bind_str(st, 7, owner);
    sqlite3_bind_int64(st, 8, lease_until_us);
    rc = run(c, st, "enqueueing a leased job", e);
    if (!rc)
        *id = sqlite3_last_insert_rowid(c->db);
    W_END
}

static int job_cmp(const void *a, const void *b)
{
    const store_job *x = a, *y = b;
    if (x->available_us != y->available_us)
        return x->available_us < y->available_us ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Whether a job of kind is ready, read on the thread's reader: consumers
 * polling an empty queue then never take the write lock. Asked only after a
 * lease came back empty, so busy consumers do not pay for it. */
static int job_ready(sqlb *b, tstate *ts, const char *kind, int64_t now_us, int *ready,
                     kerr *e)
{
    conn *c = conn_read(b, ts, e);
    if (!c)
        return STORE_ERROR;
    sqlite3_stmt *st = stmt(c, S_JOB_READY, e);
    if (!st)
        return STORE_ERROR;
    bind_str(st, 1, kind);
    sqlite3_bind_int64(st, 2, now_us);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW)
        *ready = 1;
    else if (r == SQLITE_DONE)
        *ready = 0;
    else
        rc = fail_db(c->db, e, "looking for ready jobs");
    done(st);
    return rc;
}

static int sq_queue_lease(void *p, const char *kind, size_t max, const char *owner,
                          int64_t lease_until_us, int64_t now_us, store_job **out, size_t *n,
                          kerr *e)
{
    sqlb *pb = p;
    tstate *pts = ts_get(pb);
    if (pts->depth == 0 && pts->lease_empty) {
        int ready = 0, prc = job_ready(pb, pts, kind, now_us, &ready, e);
        if (prc || !ready)
            return prc;
    }
    W_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_JOB_LEASE);
    bind_str(st, 1, owner);
    sqlite3_bind_int64(st, 2, lease_until_us);
    bind_str(st, 3, kind);
    sqlite3_bind_int64(st, 4, now_us);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_job *j = VEC_PUSH(*out, *n, cap);
        j->id = sqlite3_column_int64(st, 0);
        j->kind = col_str(st, 1);
        j->execution_id = col_str(st, 2);
        j->task_run_id = col_str(st, 3);
        j->payload = col_json(st, 4);
        j->available_us = sqlite3_column_int64(st, 5);
        j->attempt = sqlite3_column_int(st, 6);
        j->owner = col_str(st, 7);
        j->lease_until_us = sqlite3_column_int64(st, 8);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "leasing jobs");
    done(st);
    if (rc) {
        store_jobs_free(*out, *n);
        *out = NULL;
        *n = 0;
    } else if (*n > 1) {
        qsort(*out, *n, sizeof **out, job_cmp);   /* RETURNING has no order */
    }
    ts->lease_empty = rc == 0 && *n == 0;
    W_END
}

/* After an ack/extend that changed nothing: tells a lost lease from a gone job. */
static int lease_lost(conn *c, int64_t id, const char *owner, kerr *e)
{
    sqlite3_stmt *st = stmt(c, S_JOB_OWNER, e);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *o = (const char *)sqlite3_column_text(st, 0);
        rc = store__fail(e, STORE_CONFLICT, "store: job %lld is no longer leased by %s (%s%s)",
                         (long long)id, owner, o ? "now leased by " : "back in the queue",
                         o ? o : "");
    } else {
        rc = store__fail(e, STORE_NOT_FOUND, "store: job %lld does not exist", (long long)id);
    }
    done(st);
    return rc;
}

static int sq_queue_ack(void *p, int64_t id, const char *owner, kerr *e)
{
    W_BEGIN
    STMT(st, S_JOB_ACK);
    sqlite3_bind_int64(st, 1, id);
    bind_str(st, 2, owner);
    rc = run(c, st, "acknowledging a job", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = lease_lost(c, id, owner, e);
    W_END
}

static int sq_queue_extend(void *p, int64_t id, const char *owner, int64_t until_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_JOB_EXTEND);
    sqlite3_bind_int64(st, 1, id);
    bind_str(st, 2, owner);
    sqlite3_bind_int64(st, 3, until_us);
    rc = run(c, st, "extending a lease", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = lease_lost(c, id, owner, e);
    W_END
}

static int sq_queue_expire(void *p, int64_t now_us, size_t *requeued, size_t *dropped,
                           kerr *e)
{
    W_BEGIN
    STMT(dr, S_JOB_DROP);
    sqlite3_bind_int64(dr, 1, now_us);
    rc = run(c, dr, "dropping expired jobs", e);
    if (rc)
        goto out;
    *dropped = (size_t)sqlite3_changes(c->db);
    STMT(rq, S_JOB_REQUEUE);
    sqlite3_bind_int64(rq, 1, now_us);
    /* ready now: a caller may pass a far-future now_us to hand back every
     * lease (a restart), and the jobs must not wait until then */
    int64_t wall = store_now_us();
    sqlite3_bind_int64(rq, 2, now_us < wall ? now_us : wall);
    rc = run(c, rq, "requeueing expired jobs", e);
    if (!rc)
        *requeued = (size_t)sqlite3_changes(c->db);
    W_END
}

static int sq_queue_depth(void *p, const char *kind, int64_t *waiting, int64_t *leased,
                          kerr *e)
{
    R_BEGIN
    STMT(st, S_JOB_DEPTH);
    bind_str(st, 1, kind);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *waiting = sqlite3_column_int64(st, 0);
        *leased = sqlite3_column_int64(st, 1);
    } else {
        rc = fail_db(c->db, e, "counting jobs");
    }
    done(st);
out:
    return rc;
}

static int sq_queue_owners(void *p, char ***owners, size_t *n, kerr *e)
{
    R_BEGIN
    STMT(st, S_JOB_OWNERS);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char **o = VEC_PUSH(*owners, *n, cap);
        *o = col_str(st, 0);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing lease owners");
    done(st);
out:
    return rc;
}

static int sq_queue_release(void *p, const char *owner_prefix, size_t *requeued, size_t *dropped, kerr *e)
{
    W_BEGIN
    STMT(dr, S_JOB_DROP_OWNER);
    bind_str(dr, 1, owner_prefix);
    rc = run(c, dr, "dropping released jobs", e);
    if (rc)
        goto out;
    *dropped = (size_t)sqlite3_changes(c->db);
    STMT(rq, S_JOB_REQUEUE_OWNER);
    bind_str(rq, 1, owner_prefix);
    sqlite3_bind_int64(rq, 2, store_now_us());
    rc = run(c, rq, "requeueing released jobs", e);
    if (!rc)
        *requeued = (size_t)sqlite3_changes(c->db);
    if (!rc && *requeued)
        ts->pushed = ~0u; /* handed back: wake every kind's consumers after the commit */
    W_END
}

static uint64_t sq_commits(void *p)
{
    sqlb *b = p;
    return atomic_load(&b->commits);
}

static int sq_wait_jobs(void *p, const char *kind, uint64_t seen, int64_t timeout_us, uint64_t *seq)
{
    sqlb *b = p;
    pthread_mutex_lock(&b->wake_lock);
    int slot = wake_slot(b, kind);
    if (b->wake_seq[slot] == seen && timeout_us > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (timeout_us % 1000000) * 1000;
        ts.tv_sec += (time_t)(timeout_us / 1000000) + (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (b->wake_seq[slot] == seen)
            if (pthread_cond_timedwait(&b->wake_cond, &b->wake_lock, &ts))
                break;
    }
    *seq = b->wake_seq[slot];
    pthread_mutex_unlock(&b->wake_lock);
    return 0;
}

static void sq_notify_jobs(void *p, const char *kind)
{
    sqlb *b = p;
    pthread_mutex_lock(&b->wake_lock);
    int slot = wake_slot(b, kind);
    pthread_mutex_unlock(&b->wake_lock);
    wake_bump(b, 1u << slot);
}

/* ---- kv ----------------------------------------------------------------- */

static int sq_kv_put(void *p, const char *ns, const char *key, const char *value,
                     int64_t expires_us, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_KV_PUT);
    bind_str(st, 1, ns);
    bind_str(st, 2, key);
    bind_str(st, 3, value);
    bind_time(st, 4, expires_us);
    sqlite3_bind_int64(st, 5, now_us);
    rc = run(c, st, "setting a key", e);
    W_END
}

static int sq_kv_get(void *p, const char *ns, const char *key, int64_t now_us, char **value,
                     kerr *e)
{
    R_BEGIN
    STMT(st, S_KV_GET);
    bind_str(st, 1, ns);
    bind_str(st, 2, key);
    sqlite3_bind_int64(st, 3, now_us);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *value = col_str(st, 0);
    else if (r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: key '%s' does not exist in namespace %s",
                         key, ns);
    else
        rc = fail_db(c->db, e, "reading a key");
    done(st);
out:
    return rc;
}

static int sq_kv_delete(void *p, const char *ns, const char *key, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_KV_DELETE);
    bind_str(st, 1, ns);
    bind_str(st, 2, key);
    int r = sqlite3_step(st), live = 0;
    if (r == SQLITE_ROW) {
        live = sqlite3_column_type(st, 0) == SQLITE_NULL || sqlite3_column_int64(st, 0) > now_us;
        r = sqlite3_step(st);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "deleting a key");
    else if (!live)
        rc = store__fail(e, STORE_NOT_FOUND, "store: key '%s' does not exist in namespace %s",
                         key, ns);
    done(st);
    W_END
}

static int sq_kv_list(void *p, const char *ns, int64_t now_us, char ***keys, size_t *n,
                      kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_KV_LIST);
    bind_str(st, 1, ns);
    sqlite3_bind_int64(st, 2, now_us);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        *VEC_PUSH(*keys, *n, cap) = col_str(st, 0);
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing keys");
    done(st);
out:
    if (rc) {
        store_strings_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- secrets (sealed values: store/secret.c encrypts them) ---------------- */

static int sq_secret_put(void *p, const char *ns, const char *name, const void *sealed, size_t n,
                         int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_SECRET_PUT);
    bind_str(st, 1, ns);
    bind_str(st, 2, name);
    sqlite3_bind_blob(st, 3, sealed, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now_us);
    rc = run(c, st, "setting a secret", e);
    W_END
}

static int sq_secret_get(void *p, const char *ns, const char *name, void **sealed, size_t *n,
                         kerr *e)
{
    R_BEGIN
    STMT(st, S_SECRET_GET);
    bind_str(st, 1, ns);
    bind_str(st, 2, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *n = (size_t)sqlite3_column_bytes(st, 0);
        *sealed = xmalloc(*n ? *n : 1);
        memcpy(*sealed, sqlite3_column_blob(st, 0), *n);
    } else if (r == SQLITE_DONE) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: secret '%s' does not exist in namespace %s",
                         name, ns);
    } else {
        rc = fail_db(c->db, e, "reading a secret");
    }
    done(st);
out:
    return rc;
}

static int sq_secret_delete(void *p, const char *ns, const char *name, kerr *e)
{
    W_BEGIN
    STMT(st, S_SECRET_DELETE);
    bind_str(st, 1, ns);
    bind_str(st, 2, name);
    rc = run(c, st, "deleting a secret", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: secret '%s' does not exist in namespace %s",
                         name, ns);
    W_END
}

static int sq_secret_list(void *p, const char *ns, store_secret_info **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_SECRET_LIST);
    bind_str(st, 1, ns);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_secret_info *si = VEC_PUSH(*out, *n, cap);
        si->namespace = xstrdup(ns);
        si->name = col_str(st, 0);
        si->updated_us = sqlite3_column_int64(st, 1);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing secrets");
    done(st);
out:
    if (rc) {
        store_secret_infos_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- purges (the Purge* tasks) -------------------------------------------- */

static int sq_kv_purge(void *p, const char *ns, const char *glob, int expired_only, int64_t now_us, size_t *n,
                       kerr *e)
{
    W_BEGIN
    STMT(st, S_KV_PURGE);
    bind_str(st, 1, ns);
    if (glob)
        bind_str(st, 2, glob);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, expired_only);
    sqlite3_bind_int64(st, 4, now_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail_db(c->db, e, "purging keys");
    else
        *n = (size_t)sqlite3_changes(c->db);
    done(st);
    W_END
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        bind_str(st, i, s);
    else
        sqlite3_bind_null(st, i);
}

static int sq_log_purge(void *p, const store_log_purge *q, size_t *n, kerr *e)
{
    W_BEGIN
    STMT(st, S_LOG_PURGE);
    sqlite3_bind_int64(st, 1, q->before_us);
    sqlite3_bind_int64(st, 2, q->after_us);
    sqlite3_bind_int64(st, 3, q->levels);
    bind_opt(st, 4, q->ns_prefix);
    bind_opt(st, 5, q->flow_id);
    bind_opt(st, 6, q->execution_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail_db(c->db, e, "purging logs");
    else
        *n = (size_t)sqlite3_changes(c->db);
    done(st);
    W_END
}

static int sq_flow_purge(void *p, const char *ns, const char *id, int keep, int64_t before_us, size_t *n, kerr *e)
{
    W_BEGIN
    STMT(st, S_FLOW_PURGE);
    bind_str(st, 1, ns);
    bind_str(st, 2, id);
    sqlite3_bind_int(st, 3, keep);
    sqlite3_bind_int64(st, 4, before_us);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail_db(c->db, e, "purging flow revisions");
    else
        *n = (size_t)sqlite3_changes(c->db);
    done(st);
    W_END
}

/* ---- triggers ----------------------------------------------------------- */

static void read_trigger(sqlite3_stmt *st, store_trigger *t)
{
    t->namespace = col_str(st, 0);
    t->flow_id = col_str(st, 1);
    t->trigger_id = col_str(st, 2);
    t->next_us = sqlite3_column_int64(st, 3);
    t->disabled = sqlite3_column_int(st, 4);
    t->last_fired_us = sqlite3_column_int64(st, 5);
    t->state = col_json(st, 6);
    t->updated_us = sqlite3_column_int64(st, 7);
}

static int sq_trigger_put(void *p, const store_trigger *t, const char *state, kerr *e)
{
    W_BEGIN
    STMT(st, S_TRIG_PUT);
    bind_str(st, 1, t->namespace);
    bind_str(st, 2, t->flow_id);
    bind_str(st, 3, t->trigger_id);
    bind_time(st, 4, t->next_us);
    sqlite3_bind_int(st, 5, t->disabled ? 1 : 0);
    bind_time(st, 6, t->last_fired_us);
    bind_str(st, 7, state);
    sqlite3_bind_int64(st, 8, store_now_us());
    rc = run(c, st, "storing a trigger", e);
    W_END
}

static int sq_trigger_get(void *p, const char *ns, const char *flow_id, const char *trigger_id,
                          store_trigger *out, kerr *e)
{
    R_BEGIN
    STMT(st, S_TRIG_GET);
    bind_str(st, 1, ns);
    bind_str(st, 2, flow_id);
    bind_str(st, 3, trigger_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_trigger(st, out);
    else if (r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: trigger %s.%s.%s does not exist", ns,
                         flow_id, trigger_id);
    else
        rc = fail_db(c->db, e, "reading a trigger");
    done(st);
out:
    return rc;
}

static int sq_trigger_list(void *p, const char *ns_prefix, store_trigger **out, size_t *n,
                           kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_TRIG_LIST);
    bind_str(st, 1, ns_prefix);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_trigger(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing triggers");
    done(st);
out:
    if (rc) {
        store_triggers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_trigger_delete(void *p, const char *ns, const char *flow_id,
                             const char *trigger_id, kerr *e)
{
    W_BEGIN
    STMT(st, S_TRIG_DELETE);
    bind_str(st, 1, ns);
    bind_str(st, 2, flow_id);
    bind_str(st, 3, trigger_id);
    rc = run(c, st, "deleting a trigger", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: trigger %s.%s.%s does not exist", ns,
                         flow_id, trigger_id);
    W_END
}

static int sq_trigger_tick(void *p, const char *ns, const char *flow_id, const char *trigger_id,
                           int64_t scheduled_us, const char *execution_id, int64_t now_us,
                           kerr *e)
{
    W_BEGIN
    STMT(st, S_TICK_INSERT);
    bind_str(st, 1, ns);
    bind_str(st, 2, flow_id);
    bind_str(st, 3, trigger_id);
    sqlite3_bind_int64(st, 4, scheduled_us);
    bind_str(st, 5, execution_id);
    sqlite3_bind_int64(st, 6, now_us);
    rc = run(c, st, "recording a trigger tick", e);
    if (rc == STORE_DUPLICATE)
        rc = store__fail(e, STORE_DUPLICATE,
                         "store: trigger %s.%s.%s already fired for %lld", ns, flow_id,
                         trigger_id, (long long)scheduled_us);
    W_END
}

/* ---- the table ---------------------------------------------------------- */

/* ---- webhook keys (uncached statements: one call per flow write or webhook) ---- */

static int sq_webhook_keys_put(void *p, const char *ns, const char *flow_id, int revision,
                               const store_webhook_key *keys, size_t n, kerr *e)
{
    W_BEGIN
    sqlite3_stmt *del = NULL, *ins = NULL;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM webhook_keys WHERE namespace = ?1 AND flow_id = ?2", -1, &del,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "INSERT INTO webhook_keys (namespace, flow_id, trigger_id, revision, key_sha256, "
                           "key_template) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &ins, NULL) != SQLITE_OK) {
        rc = fail_db(c->db, e, "preparing the webhook index");
        goto fin;
    }
    bind_str(del, 1, ns);
    bind_str(del, 2, flow_id);
    if (sqlite3_step(del) != SQLITE_DONE) {
        rc = fail_db(c->db, e, "clearing the webhook index");
        goto fin;
    }
    for (size_t i = 0; i <= n; i++) { /* i == n: the marker row */
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        bind_str(ins, 1, ns);
        bind_str(ins, 2, flow_id);
        bind_str(ins, 3, i < n ? keys[i].trigger_id : "");
        sqlite3_bind_int(ins, 4, revision);
        bind_str(ins, 5, i < n ? keys[i].key_sha256 : NULL);
        bind_str(ins, 6, i < n ? keys[i].key_template : NULL);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = fail_db(c->db, e, "writing the webhook index");
            goto fin;
        }
    }
fin:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    goto out;
    W_END
}

static int sq_webhook_keys_get(void *p, const char *ns, const char *flow_id, int *fresh,
                               store_webhook_key **keys, size_t *n, kerr *e)
{
    R_BEGIN
    sqlite3_stmt *fl = NULL, *st = NULL;
    size_t cap = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT revision, deleted FROM flows WHERE namespace = ?1 AND id = ?2 "
                           "ORDER BY revision DESC LIMIT 1",
                           -1, &fl, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "SELECT trigger_id, revision, key_sha256, key_template FROM webhook_keys "
                           "WHERE namespace = ?1 AND flow_id = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(c->db, e, "preparing the webhook index");
        goto fin;
    }
    bind_str(fl, 1, ns);
    bind_str(fl, 2, flow_id);
    int r = sqlite3_step(fl);
    if (r == SQLITE_DONE || (r == SQLITE_ROW && sqlite3_column_int(fl, 1))) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: flow %s.%s %s", ns, flow_id,
                         r == SQLITE_DONE ? "does not exist" : "is deleted");
        goto fin;
    }
    if (r != SQLITE_ROW) {
        rc = fail_db(c->db, e, "reading a flow's revision");
        goto fin;
    }
    int latest = sqlite3_column_int(fl, 0), rows = 0, stale = 0;
    bind_str(st, 1, ns);
    bind_str(st, 2, flow_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        if (sqlite3_column_int(st, 1) != latest)
            stale = 1;
        const unsigned char *tid = sqlite3_column_text(st, 0);
        if (!tid || !tid[0])
            continue;
        store_webhook_key *k = VEC_PUSH(*keys, *n, cap);
        k->trigger_id = col_str(st, 0);
        k->key_sha256 = col_str(st, 2);
        k->key_template = col_str(st, 3);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "reading the webhook index");
    else
        *fresh = rows > 0 && !stale ? latest : 0;
fin:
    sqlite3_finalize(fl);
    sqlite3_finalize(st);
    if (rc || !*fresh) {
        store_webhook_keys_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- aggregates (the web UI) ------------------------------------------------------ */

static int sq_namespace_counts(void *p, store_ns_count **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT namespace, NULL, count(*) FROM flows f WHERE f.deleted = 0"
                           " AND f.revision = (SELECT max(g.revision) FROM flows g"
                           "                   WHERE g.namespace = f.namespace AND g.id = f.id)"
                           " GROUP BY namespace"
                           " UNION ALL SELECT namespace, state, count(*) FROM executions GROUP BY namespace, state"
                           " ORDER BY 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(c->db, e, "preparing the namespace counts");
        goto out;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ns = (const char *)sqlite3_column_text(st, 0);
        if (!ns)
            continue;
        if (!*n || strcmp((*out)[*n - 1].namespace, ns)) {
            store_ns_count *x = VEC_PUSH(*out, *n, cap);
            x->namespace = xstrdup(ns);
        }
        store_ns_count *x = &(*out)[*n - 1];
        const char *state = (const char *)sqlite3_column_text(st, 1);
        store_state sv;
        if (!state)
            x->flows += sqlite3_column_int64(st, 2);
        else if (!store_state_parse(state, &sv))
            x->executions[sv] += sqlite3_column_int64(st, 2);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "counting namespaces");
out:
    sqlite3_finalize(st);
    if (rc) {
        store_ns_counts_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Every statistic reads executions through the covering executions_stats
 * index (INDEXED BY: the planner otherwise takes executions_flow for the
 * per-flow GROUP BYs and reads the table row by row: the four queries over
 * 100,000 executions took 2.75 s that way, 1.5 s this way, at load 4). */
#define STATS_WHERE \
    " WHERE x.created >= ?1 AND x.created < ?2" \
    " AND (?3 IS NULL OR x.namespace = ?3 OR substr(x.namespace, 1, length(?3) + 1) = ?3 || '.')" \
    " AND (?4 IS NULL OR x.flow_id = ?4)" \
    " AND kite_ns_ok(?7, x.namespace)"

/* Runs sql (bound as STATS_WHERE wants, ?5 and ?6 as given, ?7 the
 * caller's namespace filter) and appends a
 * row object per result row to arr, named by cols (NULL-ended; a name
 * starting with '#' is an integer, '%' a real, else text). */
static int stats_rows(conn *c, const char *sql, const store_stats_query *q, int64_t p5, int64_t p6,
                      const char *const *cols, json_t *arr, kerr *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail_db(c->db, e, "preparing the statistics");
    sqlite3_bind_int64(st, 1, q->from_us);
    sqlite3_bind_int64(st, 2, q->to_us);
    bind_str(st, 3, q->ns_prefix);
    bind_str(st, 4, q->flow_id);
    if (sqlite3_bind_parameter_count(st) >= 5)
        sqlite3_bind_int64(st, 5, p5);
    if (sqlite3_bind_parameter_count(st) >= 6)
        sqlite3_bind_int64(st, 6, p6);
    bind_filter(st, 7, q->ns_filter);
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; cols[i]; i++) {
            const char *name = cols[i];
            json_t *v;
            if (sqlite3_column_type(st, i) == SQLITE_NULL)
                v = json_null();
            else if (name[0] == '#')
                v = json_integer(sqlite3_column_int64(st, i));
            else if (name[0] == '%')
                v = json_real(sqlite3_column_double(st, i));
            else
                v = json_string((const char *)sqlite3_column_text(st, i));
            json_object_set_new(o, name[0] == '#' || name[0] == '%' ? name + 1 : name, v ? v : json_null());
        }
        json_array_append_new(arr, o);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "computing the statistics");
    sqlite3_finalize(st);
    return rc;
}

static int sq_execution_stats(void *p, const store_stats_query *q, json_t **out, kerr *e)
{
    R_BEGIN
    int64_t top = q->top ? (int64_t)q->top : 10;
    json_t *res = json_pack("{s:[],s:[],s:[],s:[]}", "buckets", "durations", "failing", "taskRuns");
    static const char *const bucket_cols[] = {"#start", "state", "#count", NULL};
    static const char *const dur_cols[] = {"namespace", "flowId", "#count", "#p50", "#p95", "%avg", "#max", NULL};
    static const char *const fail_cols[] = {"namespace", "flowId", "#failed", "#total", NULL};
    static const char *const tr_cols[] = {"namespace", "flowId", "#revision", "taskId", "state", "#count", NULL};
    rc = stats_rows(c,
                    "SELECT ?1 + ((x.created - ?1) / ?5) * ?5 AS b, x.state, count(*) FROM executions x INDEXED BY executions_stats"
                    STATS_WHERE " GROUP BY b, x.state ORDER BY b, x.state",
                    q, q->interval_us, 0, bucket_cols, json_object_get(res, "buckets"), e);
    if (!rc)
        rc = stats_rows(c,
                        /* one window (one sort) gives both the rank and the count:
                         * two windows sorted twice, 0.55 s against 0.33 s here */
                        "WITH d AS (SELECT x.namespace AS ns, x.flow_id AS f, x.end_date - x.start_date AS dur,"
                        "  row_number() OVER w AS rn,"
                        "  count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS cnt"
                        "  FROM executions x INDEXED BY executions_stats" STATS_WHERE
                        "  AND x.end_date IS NOT NULL AND x.start_date IS NOT NULL"
                        "  AND x.state IN " TERMINATED_STATES
                        "  WINDOW w AS (PARTITION BY x.namespace, x.flow_id ORDER BY x.end_date - x.start_date))"
                        " SELECT ns, f, cnt, min(CASE WHEN rn >= 0.5 * cnt THEN dur END),"
                        " min(CASE WHEN rn >= 0.95 * cnt THEN dur END), avg(dur), max(dur)"
                        " FROM d GROUP BY ns, f ORDER BY cnt DESC, ns, f LIMIT ?5",
                        q, top, 0, dur_cols, json_object_get(res, "durations"), e);
    if (!rc)
        rc = stats_rows(c,
                        "SELECT x.namespace, x.flow_id, sum(x.state = 'FAILED') AS failed, count(*)"
                        " FROM executions x INDEXED BY executions_stats" STATS_WHERE
                        " GROUP BY x.namespace, x.flow_id HAVING failed > 0"
                        " ORDER BY failed DESC, x.namespace, x.flow_id LIMIT ?5",
                        q, top, 0, fail_cols, json_object_get(res, "failing"), e);
    if (!rc)
        rc = stats_rows(c,
                        "SELECT x.namespace, x.flow_id, x.flow_revision, t.task_id, t.state, count(*)"
                        " FROM executions x INDEXED BY executions_stats JOIN task_runs t ON t.execution_id = x.id" STATS_WHERE
                        " GROUP BY x.namespace, x.flow_id, x.flow_revision, t.task_id, t.state",
                        q, 0, 0, tr_cols, json_object_get(res, "taskRuns"), e);
    if (rc)
        json_decref(res);
    else
        *out = res;
    return rc;
}

/* ---- access control (store/access.c checks the arguments) ------------------ */

static void read_principal(sqlite3_stmt *st, store_principal *p)
{
    p->name = col_str(st, 0);
    p->kind = col_str(st, 1);
    p->password_hash = col_str(st, 2);
    p->created_us = sqlite3_column_int64(st, 3);
}

static int sq_principal_put(void *p, const store_principal *pr, int *created, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_PR_PUT);
    bind_str(st, 1, pr->name);
    bind_str(st, 2, pr->kind);
    bind_str(st, 3, pr->password_hash);
    sqlite3_bind_int64(st, 4, now_us);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *created = sqlite3_column_int(st, 0);
        r = sqlite3_step(st);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "saving a principal");
    done(st);
    W_END
}

static int sq_principal_get(void *p, const char *name, store_principal *out, kerr *e)
{
    R_BEGIN
    STMT(st, S_PR_GET);
    bind_str(st, 1, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_principal(st, out);
    else if (r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: principal '%s' does not exist", name);
    else
        rc = fail_db(c->db, e, "reading a principal");
    done(st);
out:
    return rc;
}

static int sq_principal_list(void *p, store_principal **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_PR_LIST);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_principal(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing principals");
    done(st);
out:
    return rc;
}

static int sq_principal_delete(void *p, const char *name, kerr *e)
{
    W_BEGIN
    STMT(st, S_PR_DEL);
    bind_str(st, 1, name);
    rc = run(c, st, "deleting a principal", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: principal '%s' does not exist", name);
    if (!rc) {
        STMT(t, S_PR_DEL_TOKENS);
        bind_str(t, 1, name);
        rc = run(c, t, "deleting a principal's tokens", e);
    }
    if (!rc) {
        STMT(bd, S_PR_DEL_BINDINGS);
        bind_str(bd, 1, name);
        rc = run(c, bd, "deleting a principal's bindings", e);
    }
    W_END
}

static void read_token(sqlite3_stmt *st, store_token *t)
{
    t->id = col_str(st, 0);
    t->name = col_str(st, 1);
    t->owner = col_str(st, 2);
    t->sha256 = col_str(st, 3);
    t->scope = col_json(st, 4);
    t->created_us = sqlite3_column_int64(st, 5);
    t->expires_us = sqlite3_column_int64(st, 6);
    t->revoked_us = sqlite3_column_int64(st, 7);
}

static int sq_token_insert(void *p, const store_token *t, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_TOK_INSERT);
    bind_str(st, 1, t->id);
    bind_str(st, 2, t->name);
    bind_str(st, 3, t->owner);
    bind_str(st, 4, t->sha256);
    bind_json(st, 5, t->scope);
    sqlite3_bind_int64(st, 6, t->created_us ? t->created_us : now_us);
    bind_time(st, 7, t->expires_us);
    bind_time(st, 8, t->revoked_us);
    rc = run(c, st, "saving a token", e);
    W_END
}

static int sq_token_one(void *p, int which, const char *key, store_token *out, int64_t *gen, kerr *e)
{
    R_BEGIN
    STMT(st, which);
    bind_str(st, 1, key);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        read_token(st, out);
        if (gen)
            *gen = sqlite3_column_int64(st, 8);
    } else if (r == SQLITE_DONE) {
        rc = store__fail(e, STORE_NOT_FOUND, "store: no such token");
    } else {
        rc = fail_db(c->db, e, "reading a token");
    }
    done(st);
out:
    return rc;
}

static int sq_token_find(void *p, const char *sha256, store_token *out, int64_t *gen, kerr *e)
{
    return sq_token_one(p, S_TOK_FIND, sha256, out, gen, e);
}

static int sq_token_get(void *p, const char *id, store_token *out, kerr *e)
{
    return sq_token_one(p, S_TOK_GET, id, out, NULL, e);
}

static int sq_token_list(void *p, const char *owner, store_token **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_TOK_LIST);
    bind_str(st, 1, owner);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_token(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing tokens");
    done(st);
out:
    return rc;
}

static int sq_token_revoke(void *p, const char *id, const char *owner, int all, int64_t at_us, size_t *n,
                           kerr *e)
{
    W_BEGIN
    STMT(st, all ? S_TOK_REVOKE_ALL : S_TOK_REVOKE);
    bind_str(st, 1, all ? owner : id);
    sqlite3_bind_int64(st, 2, at_us);
    rc = run(c, st, "revoking a token", e);
    if (!rc)
        *n = (size_t)sqlite3_changes(c->db);
    if (!rc && !all && *n == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: token '%s' does not exist", id);
    W_END
}

static void read_role(sqlite3_stmt *st, store_role *r)
{
    r->name = col_str(st, 0);
    r->statements = col_json(st, 1);
    r->updated_us = sqlite3_column_int64(st, 2);
}

static int sq_role_put(void *p, const store_role *ro, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_ROLE_PUT);
    bind_str(st, 1, ro->name);
    bind_json(st, 2, ro->statements);
    sqlite3_bind_int64(st, 3, now_us);
    rc = run(c, st, "saving a role", e);
    W_END
}

static int sq_role_get(void *p, const char *name, store_role *out, kerr *e)
{
    R_BEGIN
    STMT(st, S_ROLE_GET);
    bind_str(st, 1, name);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        read_role(st, out);
    else if (r == SQLITE_DONE)
        rc = store__fail(e, STORE_NOT_FOUND, "store: role '%s' does not exist", name);
    else
        rc = fail_db(c->db, e, "reading a role");
    done(st);
out:
    return rc;
}

static int sq_role_list(void *p, store_role **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_ROLE_LIST);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        read_role(st, VEC_PUSH(*out, *n, cap));
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing roles");
    done(st);
out:
    return rc;
}

static int sq_delete_one(void *p, int which, const char *key, const char *what, kerr *e)
{
    W_BEGIN
    STMT(st, which);
    bind_str(st, 1, key);
    rc = run(c, st, "deleting", e);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = store__fail(e, STORE_NOT_FOUND, "store: %s '%s' does not exist", what, key);
    W_END
}

static int sq_role_delete(void *p, const char *name, kerr *e)
{
    return sq_delete_one(p, S_ROLE_DEL, name, "role", e);
}

static int sq_binding_insert(void *p, const store_binding *bi, int64_t now_us, kerr *e)
{
    W_BEGIN
    STMT(st, S_BIND_INSERT);
    bind_str(st, 1, bi->id);
    bind_str(st, 2, bi->principal);
    bind_str(st, 3, bi->role);
    bind_str(st, 4, bi->namespace);
    sqlite3_bind_int64(st, 5, now_us);
    int r = sqlite3_step(st);
    if ((r & 0xff) == SQLITE_CONSTRAINT)
        rc = store__fail(e, STORE_DUPLICATE, "store: %s already has role %s on %s", bi->principal, bi->role,
                         bi->namespace);
    else if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "saving a binding");
    done(st);
    W_END
}

static int sq_binding_list(void *p, const char *principal, store_binding **out, size_t *n, kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    STMT(st, S_BIND_LIST);
    bind_str(st, 1, principal);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_binding *bi = VEC_PUSH(*out, *n, cap);
        bi->id = col_str(st, 0);
        bi->principal = col_str(st, 1);
        bi->role = col_str(st, 2);
        bi->namespace = col_str(st, 3);
        bi->created_us = sqlite3_column_int64(st, 4);
    }
    if (r != SQLITE_DONE)
        rc = fail_db(c->db, e, "listing bindings");
    done(st);
out:
    return rc;
}

static int sq_binding_delete(void *p, const char *id, kerr *e)
{
    return sq_delete_one(p, S_BIND_DEL, id, "binding", e);
}

static int sq_auth_generation(void *p, int64_t *gen, kerr *e)
{
    R_BEGIN
    STMT(st, S_AUTH_GEN);
    if (sqlite3_step(st) == SQLITE_ROW)
        *gen = sqlite3_column_int64(st, 0);
    else
        rc = fail_db(c->db, e, "reading the access generation");
    done(st);
out:
    return rc;
}

static int sq_audit_append(void *p, const store_audit *a, int64_t *id, kerr *e)
{
    W_BEGIN
    STMT(st, S_AUDIT_INSERT);
    sqlite3_bind_int64(st, 1, a->at_us);
    bind_str(st, 2, a->principal);
    bind_str(st, 3, a->address);
    bind_str(st, 4, a->action);
    bind_str(st, 5, a->kind);
    bind_str(st, 6, a->namespace);
    bind_str(st, 7, a->object_id);
    bind_json(st, 8, a->before);
    bind_json(st, 9, a->after);
    rc = run(c, st, "appending to the audit log", e);
    if (!rc)
        *id = sqlite3_last_insert_rowid(c->db);
    W_END
}

/* Audit searches are rare (an operator's question): prepared each time. */
#define AUDIT_WHERE \
    " FROM audit WHERE (?1 IS NULL OR principal = ?1) AND (?2 IS NULL OR action = ?2)" \
    " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR object_id = ?4) AND " NS_MATCH("namespace", "?5") \
    " AND (?6 IS NULL OR time >= ?6) AND (?7 IS NULL OR time < ?7)"

static void bind_audit_query(sqlite3_stmt *st, const store_audit_query *q)
{
    bind_str(st, 1, q->principal);
    bind_str(st, 2, q->action);
    bind_str(st, 3, q->kind);
    bind_str(st, 4, q->object_id);
    bind_str(st, 5, q->ns_prefix);
    bind_time(st, 6, q->from_us);
    bind_time(st, 7, q->to_us);
}

static int sq_audit_search(void *p, const store_audit_query *q, store_audit **out, size_t *n, int64_t *total,
                           kerr *e)
{
    R_BEGIN
    size_t cap = 0;
    int r;
    sqlite3_stmt *st = NULL, *ct = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, time, principal, address, action, kind, namespace, object_id, before, after"
                           AUDIT_WHERE " ORDER BY id DESC LIMIT ?8 OFFSET ?9",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "SELECT count(*)" AUDIT_WHERE, -1, &ct, NULL) != SQLITE_OK) {
        rc = fail_db(c->db, e, "preparing an audit search");
        goto fin;
    }
    bind_audit_query(st, q);
    bind_limit(st, 8, q->offset, q->limit);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        store_audit *a = VEC_PUSH(*out, *n, cap);
        a->id = sqlite3_column_int64(st, 0);
        a->at_us = sqlite3_column_int64(st, 1);
        a->principal = col_str(st, 2);
        a->address = col_str(st, 3);
        a->action = col_str(st, 4);
        a->kind = col_str(st, 5);
        a->namespace = col_str(st, 6);
        a->object_id = col_str(st, 7);
        a->before = col_json(st, 8);
        a->after = col_json(st, 9);
    }
    if (r != SQLITE_DONE) {
        rc = fail_db(c->db, e, "searching the audit log");
        goto fin;
    }
    bind_audit_query(ct, q);
    if (sqlite3_step(ct) == SQLITE_ROW)
        *total = sqlite3_column_int64(ct, 0);
    else
        rc = fail_db(c->db, e, "counting the audit log");
fin:
    sqlite3_finalize(st);
    sqlite3_finalize(ct);
    return rc;
}

const store_ops store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .snapshot_begin = sq_snapshot_begin,
    .snapshot_end = sq_snapshot_end,
    .flow_put = sq_flow_put,
    .flow_get = sq_flow_get,
    .flow_revisions = sq_flow_revisions,
    .flow_head = sq_flow_head,
    .flow_delete = sq_flow_delete,
    .flow_search = sq_flow_search,
    .execution_insert = sq_execution_insert,
    .execution_update = sq_execution_update,
    .execution_get = sq_execution_get,
    .execution_delete = sq_execution_delete,
    .execution_search = sq_execution_search,
    .task_run_insert = sq_task_run_insert,
    .task_run_update = sq_task_run_update,
    .task_run_get = sq_task_run_get,
    .task_run_list = sq_task_run_list,
    .task_run_count = sq_task_run_count,
    .execution_end_bulk = sq_execution_end_bulk,
    .log_append = sq_log_append,
    .log_search = sq_log_search,
    .metric_add = sq_metric_add,
    .metric_list = sq_metric_list,
    .queue_push = sq_queue_push,
    .queue_lease = sq_queue_lease,
    .queue_push_leased = sq_queue_push_leased,
    .queue_ack = sq_queue_ack,
    .queue_extend = sq_queue_extend,
    .queue_expire = sq_queue_expire,
    .queue_depth = sq_queue_depth,
    .queue_owners = sq_queue_owners,
    .queue_release = sq_queue_release,
    .wait_jobs = sq_wait_jobs,
    .commits = sq_commits,
    .notify_jobs = sq_notify_jobs,
    .kv_put = sq_kv_put,
    .kv_get = sq_kv_get,
    .kv_delete = sq_kv_delete,
    .kv_list = sq_kv_list,
    .secret_put = sq_secret_put,
    .secret_get = sq_secret_get,
    .secret_delete = sq_secret_delete,
    .secret_list = sq_secret_list,
    .kv_purge = sq_kv_purge,
    .log_purge = sq_log_purge,
    .flow_purge = sq_flow_purge,
    .trigger_put = sq_trigger_put,
    .trigger_get = sq_trigger_get,
    .trigger_list = sq_trigger_list,
    .trigger_delete = sq_trigger_delete,
    .trigger_tick = sq_trigger_tick,
    .webhook_keys_put = sq_webhook_keys_put,
    .webhook_keys_get = sq_webhook_keys_get,
    .namespace_counts = sq_namespace_counts,
    .execution_stats = sq_execution_stats,
    .principal_put = sq_principal_put,
    .principal_get = sq_principal_get,
    .principal_list = sq_principal_list,
    .principal_delete = sq_principal_delete,
    .token_insert = sq_token_insert,
    .token_find = sq_token_find,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .role_put = sq_role_put,
    .role_get = sq_role_get,
    .role_list = sq_role_list,
    .role_delete = sq_role_delete,
    .binding_insert = sq_binding_insert,
    .binding_list = sq_binding_list,
    .binding_delete = sq_binding_delete,
    .auth_generation = sq_auth_generation,
    .audit_append = sq_audit_append,
    .audit_search = sq_audit_search,
};
