/*
 * test_engine.c: the engine end to end through its API, on a real SQLite
 * store and storage in a temporary folder, with real worker threads:
 * flow concurrency limits (QUEUE, CANCEL, FAIL) and afterExecution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tasks/tasks.h"
#include "util/datetime.h"

typedef struct fx {
    char dir[128];
    store *st;
    storage *fs;
    engine *en;
} fx;

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
    engine_opts o = {.store = f->st, .storage = f->fs, .workers = 4};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(queue_runs_one_at_a_time_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_and_fail_refuse_the_extra_executions, setup, teardown),
        cmocka_unit_test_setup_teardown(after_execution_runs_once_the_rest_ended_and_keeps_its_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(flow_retry_with_new_executions_chains_them, setup, teardown),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
