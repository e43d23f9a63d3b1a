/*
 * test_engine.c: the engine end to end through its API, on a real SQLite
 * store and storage in a temporary folder, with real worker threads:
 * flow concurrency limits (QUEUE, CANCEL, FAIL) and afterExecution; what a
 * big ForEach may take (issue 16): the other executions keep moving, the
 * rows in flight stay bounded, engine.maxTaskRuns fails what would pass it;
 * the host function table against the expression layer's list of names;
 * engine roles (executor-only and worker-only engines on one store) and
 * start-up recovery that takes back only the leases of dead processes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/engine_int.h"
#include "expr/expr.h"
#include "flow/schema.h"
#include "tasks/tasks.h"
#include "util/datetime.h"

typedef struct fx {
    char dir[128];
    store *st;
    storage *fs;
    engine *en;
} fx;

static size_t opt_max_task_runs;

static int setup(void **state)
{
    static int n;
    tasks_register_all();
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kite-test-engine-%d-%d", (int)getpid(), n++);
    mkdir(f->dir, 0700);
    char url[256], root[256];
    snprintf(url, sizeof url, "sqlite:%s/kite.db", f->dir);
    snprintf(root, sizeof root, "%s/storage", f->dir);
    kerr e = KERR_INIT;
    assert_int_equal(store_open(url, NULL, &f->st, &e), 0);
    f->fs = storage_open_local(root, &e);
    assert_non_null(f->fs);
    engine_opts o = {.store = f->st, .storage = f->fs, .workers = 4, .max_task_runs = opt_max_task_runs};
    f->en = engine_new(&o, &e);
    assert_non_null(f->en);
    assert_int_equal(engine_start(f->en, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    engine_free(f->en);
    storage_free(f->fs);
    store_free(f->st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd)) {
    }
    free(f);
    return 0;
}

static void put(fx *f, const char *src)
{
    diags d = DIAGS_INIT;
    int rc = engine_flow_put(f->en, src, strlen(src), "t.yaml", NULL, &d);
    if (rc)
        fail_msg("flow: %s", d.n ? d.v[0].msg : "?");
    diags_free(&d);
}

static void submit(fx *f, const char *id, char out[STORE_ID_LEN + 1])
{
    kerr e = KERR_INIT;
    engine_submit_opts o = {.namespace = "t", .flow_id = id};
    assert_int_equal(engine_submit(f->en, &o, out, &e), 0);
}

static store_state wait_end(fx *f, const char *id)
{
    store_state st;
    kerr e = KERR_INIT;
    assert_int_equal(engine_wait(f->en, id, 0, 30 * US_PER_SEC, &st, &e), 0);
    return st;
}

static int64_t started(fx *f, const char *id, int64_t *ended)
{
    store_execution x = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_execution_get(f->st, id, &x, &e), 0);
    int64_t s = x.start_us;
    *ended = x.end_us;
    int queued = 0;
    for (size_t i = 0; i < x.n_histories; i++)
        queued |= x.histories[i].state == STATE_QUEUED;
    store_execution_clear(&x);
    return queued ? -s : s;
}

#define SLOW(behavior)                                                                                       \
    "id: slow\nnamespace: t\nconcurrency:\n  limit: 1\n  behavior: " behavior "\ntasks:\n  - id: nap\n"      \
    "    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S\n"

static void queue_runs_one_at_a_time_in_order(void **state)
{
    fx *f = *state;
    put(f, SLOW("QUEUE"));
    char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    submit(f, "slow", a);
    submit(f, "slow", b);
    submit(f, "slow", c);
    assert_int_equal(wait_end(f, a), STATE_SUCCESS);
    assert_int_equal(wait_end(f, b), STATE_SUCCESS);
    assert_int_equal(wait_end(f, c), STATE_SUCCESS);
    int64_t ea, eb, ec;
    int64_t sa = started(f, a, &ea), sb = started(f, b, &eb), sc = started(f, c, &ec);
    /* b and c were queued, and each started only after the one before ended */
    assert_true(sa > 0);
    assert_true(sb < 0 && sc < 0);
    assert_true(-sb >= ea);
    assert_true(-sc >= eb);
}

static void cancel_and_fail_refuse_the_extra_executions(void **state)
{
    fx *f = *state;
    put(f, SLOW("CANCEL"));
    char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
    submit(f, "slow", a);
    submit(f, "slow", b);
    assert_int_equal(wait_end(f, a), STATE_SUCCESS);
    assert_int_equal(wait_end(f, b), STATE_CANCELLED);
    put(f, SLOW("FAIL"));
    submit(f, "slow", a);
    submit(f, "slow", b);
    assert_int_equal(wait_end(f, a), STATE_SUCCESS);
    assert_int_equal(wait_end(f, b), STATE_FAILED);
}

static void after_execution_runs_once_the_rest_ended_and_keeps_its_state(void **state)
{
    fx *f = *state;
    put(f, "id: after\nnamespace: t\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n"
           "afterExecution:\n  - id: report\n    type: io.kestra.plugin.core.debug.Return\n"
           "    format: \"{{ execution.state }}\"\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "after", a);
    assert_int_equal(wait_end(f, a), STATE_FAILED);
    store_task_run *runs;
    size_t n;
    kerr e = KERR_INIT;
    assert_int_equal(store_task_run_list(f->st, a, &runs, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(runs[1].task_id, "report");
    assert_int_equal(runs[1].state, STATE_SUCCESS);
    store_task_runs_free(runs, n);
}

static void flow_retry_with_new_executions_chains_them(void **state)
{
    fx *f = *state;
    put(f, "id: again\nnamespace: t\nretry:\n  behavior: CREATE_NEW_EXECUTION\n  type: constant\n  maxAttempt: 3\n"
           "  interval: PT0.1S\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "again", a);
    assert_int_equal(wait_end(f, a), STATE_RETRIED);
    /* follow the chain: each new execution names the one before as original */
    char cur[STORE_ID_LEN + 1];
    snprintf(cur, sizeof cur, "%s", a);
    int count = 1;
    store_state last = STATE_RETRIED;
    for (int guard = 0; guard < 50 && last == STATE_RETRIED; guard++) {
        store_execution_query q = {.namespace = "t", .flow_id = "again"};
        store_execution *v;
        size_t n;
        kerr e = KERR_INIT;
        assert_int_equal(store_execution_search(f->st, &q, &v, &n, NULL, &e), 0);
        int found = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i].original_id && !strcmp(v[i].original_id, cur)) {
                snprintf(cur, sizeof cur, "%s", v[i].id);
                found = 1;
            }
        store_executions_free(v, n);
        if (!found) {
            usleep(50000);
            continue;
        }
        count++;
        last = wait_end(f, cur);
    }
    assert_int_equal(count, 3);
    assert_int_equal(last, STATE_FAILED);
}

/* Count of task runs matching where (SQL), read from the database file. */
static long count_runs(fx *f, const char *where)
{
    char path[256], sql[512];
    snprintf(path, sizeof path, "%s/kite.db", f->dir);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM task_runs WHERE %s", where);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static store_state wait_long(fx *f, const char *id)
{
    store_state st;
    kerr e = KERR_INIT;
    assert_int_equal(engine_wait(f->en, id, 0, 600 * US_PER_SEC, &st, &e), 0);
    return st;
}

#define UNFINISHED "state NOT IN ('SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'SKIPPED')"

/* A 20,000-value ForEach with no concurrency limit: a one-task execution
 * started while it runs ends long before it (its task is not queued behind
 * 20,000 others), and the ForEach never has more than the engine's bound of
 * task runs in flight (before: every value dispatched at once). */
static void big_foreach_leaves_room_for_others(void **state)
{
    fx *f = *state;
    put(f, "id: big\nnamespace: t\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
           "    values: \"{{ range(1, 20000) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n"
           "        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n");
    put(f, "id: one\nnamespace: t\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.debug.Return\n"
           "    format: x\n");
    char big[STORE_ID_LEN + 1], one[STORE_ID_LEN + 1];
    submit(f, "big", big);
    long busy = 0, max_unfinished = 0;
    for (int i = 0; i < 6000 && busy < 200; i++) {
        usleep(10000);
        busy = count_runs(f, "task_id = 'r'");
        long u = count_runs(f, "task_id = 'r' AND " UNFINISHED);
        if (u > max_unfinished)
            max_unfinished = u;
    }
    assert_true(busy >= 200);
    submit(f, "one", one);
    assert_int_equal(wait_long(f, one), STATE_SUCCESS);
    store_execution x = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_execution_get(f->st, big, &x, &e), 0);
    store_state big_then = x.state;
    store_execution_clear(&x);
    long u = count_runs(f, "task_id = 'r' AND " UNFINISHED);
    if (u > max_unfinished)
        max_unfinished = u;
    assert_false(store_state_is_terminated(big_then)); /* the one-task execution ended first */
    assert_true(max_unfinished <= 300);               /* at most 256 dispatched at a time */
    assert_int_equal(wait_long(f, big), STATE_SUCCESS);
    assert_int_equal(count_runs(f, "task_id = 'r' AND state = 'SUCCESS'"), 20000);
}

static int setup_small(void **state)
{
    opt_max_task_runs = 100;
    int rc = setup(state);
    opt_max_task_runs = 0;
    return rc;
}

static int has_log(fx *f, const char *id, const char *text)
{
    store_log_query q = {.execution_id = id};
    store_log *logs;
    size_t n;
    kerr e = KERR_INIT;
    assert_int_equal(store_log_search(f->st, &q, &logs, &n, NULL, &e), 0);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strstr(logs[i].message, text) != NULL;
    store_logs_free(logs, n);
    return found;
}

/* engine.maxTaskRuns (100 here): a ForEach whose values would pass it fails
 * before its first iteration; runs that pass it otherwise (a ForEach inside
 * a ForEach) fail the execution at the cap. */
static void max_task_runs_fails_what_would_pass_it(void **state)
{
    fx *f = *state;
    put(f, "id: wide\nnamespace: t\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
           "    values: \"{{ range(1, 150) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n"
           "        type: io.kestra.plugin.core.debug.Return\n        format: x\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "wide", a);
    assert_int_equal(wait_end(f, a), STATE_FAILED);
    assert_int_equal(count_runs(f, "task_id = 'r'"), 0);
    assert_true(has_log(f, a, "execution would exceed 100 task runs (engine.maxTaskRuns)"));

    put(f, "id: nested\nnamespace: t\ntasks:\n  - id: outer\n    type: io.kestra.plugin.core.flow.ForEach\n"
           "    values: \"{{ range(1, 10) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: inner\n"
           "        type: io.kestra.plugin.core.flow.ForEach\n        values: \"{{ range(1, 20) }}\"\n"
           "        concurrencyLimit: 0\n        tasks:\n          - id: r\n"
           "            type: io.kestra.plugin.core.debug.Return\n            format: x\n");
    char b[STORE_ID_LEN + 1];
    submit(f, "nested", b);
    assert_int_equal(wait_end(f, b), STATE_FAILED);
    char where[128];
    snprintf(where, sizeof where, "execution_id = '%s'", b);
    assert_true(count_runs(f, where) <= 101);
    assert_true(has_log(f, b, "execution would exceed 100 task runs (engine.maxTaskRuns)"));
}

/* The engine's host functions (engine/host.c) and the names the flow
 * validator knows (expr/host.c) are the same list, arities included. */
static void host_functions_match_the_expression_layers_names(void **state)
{
    (void)state;
    assert_int_equal(engine__nhosts, expr_host_function_count);
    for (size_t i = 0; i < engine__nhosts; i++) {
        const expr_host_name *n = expr_host_function(engine__hosts[i].sig.name);
        if (!n)
            fail_msg("host function %s is not in expr_host_function_names", engine__hosts[i].sig.name);
        assert_int_equal(n->min_args, engine__hosts[i].sig.min_args);
        assert_int_equal(n->max_args, engine__hosts[i].sig.max_args);
        assert_non_null(engine__hosts[i].fn);
    }
    for (size_t i = 0; i < expr_host_function_count; i++) {
        int found = 0;
        for (size_t k = 0; k < engine__nhosts; k++)
            found |= !strcmp(engine__hosts[k].sig.name, expr_host_function_names[i].name);
        if (!found)
            fail_msg("%s is named in expr/host.c but the engine has no such host function",
                     expr_host_function_names[i].name);
    }
}

/* engine_expr_env gives renders outside an execution (the scheduler's) the
 * engine's secret(), and what it reveals is masked in logs. */
static void expr_env_outside_an_execution_has_secret(void **state)
{
    fx *f = *state;
    setenv("SECRET_TEST_ENV_PW", "aHVudGVyMg==", 1); /* hunter2 */
    expr_env env;
    engine_expr_env(f->en, &env);
    char *out = NULL;
    kerr e = KERR_INIT;
    assert_int_equal(expr_render_string("{{ secret('TEST_ENV_PW') }}", NULL, &env, &out, &e), 0);
    assert_string_equal(out, "hunter2");
    free(out);
    assert_int_not_equal(expr_render_string("{{ kv('k') }}", NULL, &env, &out, &e), 0);
    char *masked = engine_mask_secrets(f->en, "pw=hunter2");
    assert_non_null(masked);
    assert_string_equal(masked, "pw=******");
    free(masked);
    unsetenv("SECRET_TEST_ENV_PW");
}

/* ---- engine roles and leases across processes ---------------------------------------- */

typedef struct rawfx {
    char dir[128];
    store *st;
    storage *fs;
} rawfx;

static void raw_open(rawfx *f)
{
    static int n;
    tasks_register_all();
    snprintf(f->dir, sizeof f->dir, "/tmp/kite-test-engine-roles-%d-%d", (int)getpid(), n++);
    mkdir(f->dir, 0700);
    char url[256], root[256];
    snprintf(url, sizeof url, "sqlite:%s/kite.db", f->dir);
    snprintf(root, sizeof root, "%s/storage", f->dir);
    kerr e = KERR_INIT;
    assert_int_equal(store_open(url, NULL, &f->st, &e), 0);
    f->fs = storage_open_local(root, &e);
    assert_non_null(f->fs);
}

static void raw_close(rawfx *f)
{
    storage_free(f->fs);
    store_free(f->st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd)) {
    }
}

/* Pushes a task job and leases it as owner for lease_us; its id. */
static int64_t leased_job(store *st, const char *owner, int64_t lease_us)
{
    kerr e = KERR_INIT;
    int64_t id = 0;
    assert_int_equal(store_queue_push(st, "task", NULL, NULL, NULL, 0, &id, &e), 0);
    store_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(store_queue_lease(st, "task", 1, owner, lease_us, 0, &jobs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].id, id);
    store_jobs_free(jobs, n);
    return id;
}

/* 1 when owner still holds job id (its lease can be extended). */
static int holds(store *st, int64_t id, const char *owner)
{
    kerr e = KERR_INIT;
    return store_queue_extend(st, id, owner, time_now_us() + 60 * US_PER_SEC, &e) == 0;
}

/* An engine starting on a store shared with live processes takes back only
 * the leases of the dead: its own worker id's (a previous run), a process
 * of this host that is gone, and leases past their deadline. A live lease
 * of another process stays with it. */
static void start_takes_back_only_dead_leases(void **state)
{
    (void)state;
    rawfx f;
    raw_open(&f);
    char host[64] = "kite";
    gethostname(host, sizeof host - 1);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0); /* now no process has that pid */
    char dead[160];
    snprintf(dead, sizeof dead, "%s-%d/worker-0", host, (int)child);

    int64_t live = leased_job(f.st, "other-host-7/worker-0", 300 * US_PER_SEC);
    int64_t mine = leased_job(f.st, "node-a/worker-3", 300 * US_PER_SEC);
    int64_t gone = leased_job(f.st, dead, 300 * US_PER_SEC);
    int64_t late = leased_job(f.st, "other-host-8/worker-1", 1);
    usleep(2000);

    kerr e = KERR_INIT;
    engine_opts o = {.store = f.st, .storage = f.fs, .worker_id = "node-a", .roles = ENGINE_EXECUTOR};
    engine *en = engine_new(&o, &e);
    assert_non_null(en);
    assert_int_equal(engine_start(en, &e), 0);
    assert_true(holds(f.st, live, "other-host-7/worker-0"));
    assert_false(holds(f.st, mine, "node-a/worker-3"));
    assert_false(holds(f.st, gone, dead));
    assert_false(holds(f.st, late, "other-host-8/worker-1"));
    int64_t waiting = 0, leased = 0;
    assert_int_equal(store_queue_depth(f.st, "task", &waiting, &leased, &e), 0);
    assert_int_equal(waiting, 3); /* an executor alone runs no task */
    assert_int_equal(leased, 1);
    engine_free(en);
    /* stopping gives back only what the engine held: the live lease stays */
    assert_true(holds(f.st, live, "other-host-7/worker-0"));
    raw_close(&f);
}

/* An engine runs the threads of its roles only: an executor-only engine
 * and a worker-only engine on one store run an execution together, its
 * task on the worker engine's workers. */
static void roles_start_only_their_threads(void **state)
{
    (void)state;
    rawfx f;
    raw_open(&f);
    kerr e = KERR_INIT;
    engine_opts xo = {.store = f.st, .storage = f.fs, .worker_id = "node-x", .roles = ENGINE_EXECUTOR};
    engine_opts wo = {.store = f.st, .storage = f.fs, .worker_id = "node-w", .roles = ENGINE_WORKER, .workers = 2};
    engine *ex = engine_new(&xo, &e), *wk = engine_new(&wo, &e);
    assert_non_null(ex);
    assert_non_null(wk);
    assert_int_equal(engine_start(ex, &e), 0);
    assert_int_equal(engine_start(wk, &e), 0);
    assert_true(ex->executor_started);
    assert_int_equal(ex->nstarted, 0);
    assert_false(wk->executor_started);
    assert_int_equal(wk->nstarted, 2);

    const char *src = "id: hello\nnamespace: t\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n"
                      "    message: hi\n";
    diags d = DIAGS_INIT;
    assert_int_equal(engine_flow_put(ex, src, strlen(src), "t.yaml", NULL, &d), 0);
    diags_free(&d);
    char id[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "t", .flow_id = "hello"};
    assert_int_equal(engine_submit(ex, &so, id, &e), 0);
    store_state st;
    assert_int_equal(engine_wait(ex, id, 0, 30 * US_PER_SEC, &st, &e), 0);
    assert_int_equal(st, STATE_SUCCESS);
    store_task_run *runs = NULL;
    size_t n = 0;
    assert_int_equal(store_task_run_list(f.st, id, &runs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_true(runs[0].n_attempts >= 1);
    assert_non_null(runs[0].attempts[0].worker_id);
    assert_true(!strncmp(runs[0].attempts[0].worker_id, "node-w/worker-", 14));
    store_task_runs_free(runs, n);
    engine_free(wk);
    engine_free(ex);
    raw_close(&f);
}

static void restart_engine(fx *f, void (*between)(fx *))
{
    engine_stop(f->en, 0);
    engine_free(f->en);
    if (between)
        between(f);
    kerr e = KERR_INIT;
    engine_opts o = {.store = f->st, .storage = f->fs, .workers = 4, .max_task_runs = opt_max_task_runs};
    f->en = engine_new(&o, &e);
    assert_non_null(f->en);
    assert_int_equal(engine_start(f->en, &e), 0);
}

static void sql(fx *f, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/kite.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(db);
}

static void corrupt_first(fx *f) { sql(f, "UPDATE task_runs SET histories = '{broken' WHERE task_id = 'first'"); }

static void wait_running(fx *f, const char *task)
{
    char where[128];
    snprintf(where, sizeof where, "task_id = '%s' AND state = 'RUNNING'", task);
    for (int i = 0; i < 3000 && count_runs(f, where) == 0; i++)
        usleep(10000);
    assert_true(count_runs(f, where) > 0);
}

/* A row of a running execution is damaged while the server is down: at the
 * next start the execution cannot load. It is quarantined, FAILED with its
 * runs and a log line saying why, and the engine goes on with the others
 * (before: its events and task were dropped, and it stayed RUNNING). */
static void unloadable_execution_is_quarantined_at_start(void **state)
{
    fx *f = *state;
    put(f, "id: napper\nnamespace: t\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n"
           "    format: x\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n");
    put(f, "id: one\nnamespace: t\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.debug.Return\n"
           "    format: x\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "napper", a);
    wait_running(f, "nap");
    restart_engine(f, corrupt_first);
    assert_int_equal(wait_end(f, a), STATE_FAILED);
    assert_true(has_log(f, a, "execution quarantined: it cannot be loaded"));
    char where[128];
    snprintf(where, sizeof where, "execution_id = '%s' AND " UNFINISHED, a);
    assert_int_equal(count_runs(f, where), 0);
    char b[STORE_ID_LEN + 1];
    submit(f, "one", b);
    assert_int_equal(wait_end(f, b), STATE_SUCCESS);
}

/* An execution with more task runs than maxTaskRuns (left by an older kite,
 * or a lowered setting) is never loaded whole: quarantined at start. */
static void too_big_execution_is_quarantined_at_start(void **state)
{
    fx *f = *state;
    put(f, "id: wide\nnamespace: t\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.ForEach\n"
           "    values: \"{{ range(1, 150) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n"
           "        type: io.kestra.plugin.core.flow.Sleep\n        duration: PT60S\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "wide", a);
    for (int i = 0; i < 3000 && count_runs(f, "task_id = 'r'") < 150; i++)
        usleep(10000);
    assert_int_equal(count_runs(f, "task_id = 'r'"), 150);
    opt_max_task_runs = 100;
    restart_engine(f, NULL);
    opt_max_task_runs = 0;
    assert_int_equal(wait_end(f, a), STATE_FAILED);
    assert_true(has_log(f, a, "more than engine.maxTaskRuns (100)"));
}

static long count_jobs(fx *f, const char *where)
{
    char path[256], q[512];
    snprintf(path, sizeof path, "%s/kite.db", f->dir);
    snprintf(q, sizeof q, "SELECT count(*) FROM jobs WHERE %s", where);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A task whose lease keeps being handed back (here: the engine stops while
 * it runs, five times) is not run a sixth time: it fails, saying why
 * (before: it ran again at every start, for ever). */
static void a_task_delivered_too_often_fails(void **state)
{
    fx *f = *state;
    put(f, "id: endless\nnamespace: t\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n"
           "    duration: PT60S\n");
    char a[STORE_ID_LEN + 1];
    submit(f, "endless", a);
    for (int k = 1; k <= ENGINE_MAX_DELIVERIES; k++) {
        char where[128];
        snprintf(where, sizeof where, "kind = 'task' AND owner IS NOT NULL AND attempt = %d", k);
        for (int i = 0; i < 3000 && count_jobs(f, where) == 0; i++)
            usleep(10000);
        assert_int_equal(count_jobs(f, where), 1); /* delivery k is running */
        restart_engine(f, NULL);
    }
    assert_int_equal(wait_end(f, a), STATE_FAILED);
    char msg[64];
    snprintf(msg, sizeof msg, "lease expired %d times: the task never ended", ENGINE_MAX_DELIVERIES);
    assert_true(has_log(f, a, msg));
}

/* A task that never looks at its cancel flag (as an in-process evaluation
 * without a budget would): it runs until `stubborn_release`. */
static atomic_int stubborn_started, stubborn_release, stubborn_ended;

static task_result stubborn_run(task_ctx *c, kerr *e)
{
    (void)c;
    (void)e;
    atomic_store(&stubborn_started, 1);
    while (!atomic_load(&stubborn_release))
        usleep(5000);
    atomic_store(&stubborn_ended, 1);
    return TASK_SUCCESS;
}

static const struct task_hooks stubborn_hooks = {.run = stubborn_run};
static const char *const stubborn_aliases[] = {"io.kite.test.Stubborn", NULL};
static const type_def stubborn_type[] = {
    {.name = "test.stubborn", .aliases = stubborn_aliases, .kind = TK_RUNNABLE, .desc = "never stops",
     .hooks = &stubborn_hooks},
};

/* The grace period is a hard limit: engine_stop returns with the stubborn
 * task still running, and says a thread was left behind (before: it waited
 * for it, for ever). Then, once the thread is gone, the engine frees. */
static void stop_is_bounded_by_the_grace_period(void **state)
{
    fx *f = *state;
    engine_stop(f->en, 0);
    engine_free(f->en);
    if (!flow_type_find("test.stubborn"))
        flow_registry_add(stubborn_type, 1); /* no thread of the engine runs now */
    kerr e = KERR_INIT;
    engine_opts o = {.store = f->st, .storage = f->fs, .workers = 2, .stop_margin_us = 200000};
    f->en = engine_new(&o, &e);
    assert_non_null(f->en);
    assert_int_equal(engine_start(f->en, &e), 0);
    put(f, "id: stubborn\nnamespace: t\ntasks:\n  - id: s\n    type: io.kite.test.Stubborn\n");
    atomic_store(&stubborn_started, 0);
    atomic_store(&stubborn_release, 0);
    atomic_store(&stubborn_ended, 0);
    char a[STORE_ID_LEN + 1];
    submit(f, "stubborn", a);
    for (int i = 0; i < 3000 && !atomic_load(&stubborn_started); i++)
        usleep(10000);
    assert_true(atomic_load(&stubborn_started));
    engine_stop(f->en, 100000);
    assert_false(atomic_load(&stubborn_ended)); /* it returned without waiting for the task */
    assert_int_equal(engine_stuck_threads(f->en), 1);
    atomic_store(&stubborn_release, 1);
    for (int i = 0; i < 3000 && engine_stuck_threads(f->en); i++)
        usleep(10000);
    assert_int_equal(engine_stuck_threads(f->en), 0);
    usleep(50000); /* the thread's own exit (its store connection handed back) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_functions_match_the_expression_layers_names),
        cmocka_unit_test(start_takes_back_only_dead_leases),
        cmocka_unit_test(roles_start_only_their_threads),
        cmocka_unit_test_setup_teardown(expr_env_outside_an_execution_has_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_runs_one_at_a_time_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_and_fail_refuse_the_extra_executions, setup, teardown),
        cmocka_unit_test_setup_teardown(after_execution_runs_once_the_rest_ended_and_keeps_its_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(flow_retry_with_new_executions_chains_them, setup, teardown),
        cmocka_unit_test_setup_teardown(big_foreach_leaves_room_for_others, setup, teardown),
        cmocka_unit_test_setup_teardown(max_task_runs_fails_what_would_pass_it, setup_small, teardown),
        cmocka_unit_test_setup_teardown(unloadable_execution_is_quarantined_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(too_big_execution_is_quarantined_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(a_task_delivered_too_often_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_is_bounded_by_the_grace_period, setup, teardown),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
