/*
 * test_sched_crash.c: schedule ticks survive kill -9.
 *
 * A child process (this binary again, with KITE_SCHED_CRASH_CHILD=dir) runs
 * a scheduler on a store in dir with a fast clock (20,000 simulated seconds a
 * real second) and a schedule that ticks every second, firing ticks as fast
 * as the store commits them. The parent kills it with SIGKILL at a random
 * moment, ROUNDS times, each child resuming where the store says (recover
 * ALL). Then, reading the store (and its trigger_ticks table directly):
 * every recorded tick has exactly one execution and every execution one
 * tick, the ticks are contiguous (none lost up to the last committed one),
 * no date fired twice, and the trigger row's next date is the tick after
 * the last one. Finally a scheduler in this process resumes 5 seconds later
 * and fires exactly the 5 ticks in between.
 *
 * The parent never has a store open while it forks: it opens one only to
 * check, and closes it before the next round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "sched/sched.h"
#include "storage/storage.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/mem.h"

#define ROUNDS 5
#define T0 (1767571200LL * US_PER_SEC)
#define SPEED 20000

static const char *FLOW =
    "id: crash\nnamespace: t.crash\n"
    "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
    "    cron: \"* * * * * *\"\n    withSeconds: true\n"
    "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

typedef struct env {
    store *st;
    storage *fs;
    engine *en;
} env;

static int env_open(env *v, const char *dir, kerr *e)
{
    char *url = xasprintf("sqlite:%s/kite.db", dir);
    int rc = store_open(url, NULL, &v->st, e);
    free(url);
    if (rc)
        return -1;
    char *root = xasprintf("%s/storage", dir);
    v->fs = storage_open_local(root, e);
    free(root);
    if (!v->fs)
        return -1;
    engine_opts o = {.store = v->st, .storage = v->fs, .workers = 2};
    v->en = engine_new(&o, e);
    return v->en ? 0 : -1;
}

static void env_close(env *v)
{
    engine_free(v->en);
    storage_free(v->fs);
    store_free(v->st);
}

/* ---- the child ---------------------------------------------------------- */

typedef struct fast_clock {
    int64_t base, start;
} fast_clock;

static int64_t fast_now(void *ud)
{
    fast_clock *c = ud;
    return c->base + (time_mono_us() - c->start) * SPEED;
}

static int child_run(const char *dir)
{
    kerr e = KERR_INIT;
    env v;
    if (env_open(&v, dir, &e)) {
        fprintf(stderr, "child: %s\n", e.msg);
        return 2;
    }
    diags d = DIAGS_INIT;
    if (engine_flow_put(v.en, FLOW, strlen(FLOW), "crash.yaml", NULL, &d)) {
        fprintf(stderr, "child: the flow does not load\n");
        return 2;
    }
    store_trigger row = {0};
    fast_clock c = {.base = T0, .start = time_mono_us()};
    if (!store_trigger_get(v.st, "t.crash", "crash", "s", &row, &e) && row.next_us > 0)
        c.base = row.next_us - US_PER_SEC;
    store_trigger_clear(&row);
    sched_opts o = {.recover = SCHED_RECOVER_ALL, .clock = fast_now, .clock_ud = &c,
                    .flow_triggers = -1};
    sched *s = sched_new(v.en, v.st, &o, &e);
    if (!s)
        return 2;
    /* the first pass at base exactly: a new trigger's first tick is T0+1s */
    if (sched_tick(s, c.base, &e) < 0)
        return 3;
    c.start = time_mono_us();
    for (;;) {
        if (sched_tick(s, fast_now(&c), &e) < 0) {
            fprintf(stderr, "child: %s\n", e.msg);
            return 3;
        }
    }
}

/* ---- the checks ----------------------------------------------------------- */

typedef struct ticks {
    int64_t n, distinct, lo, hi, without_exec, unknown_exec;
} ticks;

static void read_ticks(const char *dir, ticks *t)
{
    char *path = xasprintf("%s/kite.db", dir);
    memset(t, 0, sizeof *t);
    if (access(path, F_OK) && errno == ENOENT) {
        /* killed before it created the store (a loaded machine): no tick */
        free(path);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    free(path);
    sqlite3_stmt *st = NULL;
    const char *sql =
        "SELECT count(*), count(DISTINCT scheduled), coalesce(min(scheduled), 0), "
        "coalesce(max(scheduled), 0), sum(execution_id IS NULL), "
        "sum(execution_id NOT IN (SELECT id FROM executions)) "
        "FROM trigger_ticks WHERE namespace = 't.crash' AND flow_id = 'crash' AND trigger_id = 's'";
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    t->n = sqlite3_column_int64(st, 0);
    t->distinct = sqlite3_column_int64(st, 1);
    t->lo = sqlite3_column_int64(st, 2);
    t->hi = sqlite3_column_int64(st, 3);
    t->without_exec = sqlite3_column_int64(st, 4);
    t->unknown_exec = sqlite3_column_int64(st, 5);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The store agrees with itself: one execution per tick, contiguous ticks,
 * next date after the last. Returns the number of ticks. */
static int64_t check_store(const char *dir)
{
    ticks t;
    read_ticks(dir, &t);
    assert_int_equal(t.n, t.distinct);
    assert_int_equal(t.without_exec, 0);
    assert_int_equal(t.unknown_exec, 0);
    if (t.n == 0)
        return 0;
    assert_int_equal(t.lo, T0 + US_PER_SEC);
    assert_int_equal((t.hi - t.lo) / US_PER_SEC + 1, t.n); /* none missing */
    kerr e = KERR_INIT;
    env v;
    assert_int_equal(env_open(&v, dir, &e), 0);
    store_execution_query q = {.flow_id = "crash"};
    store_execution *x = NULL;
    size_t n = 0;
    assert_int_equal(store_execution_search(v.st, &q, &x, &n, NULL, &e), 0);
    assert_int_equal((int64_t)n, t.n); /* no execution without a tick */
    json_t *dates = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(dates, json_string_value(json_object_get(x[i].trigger, "date")), json_true());
    assert_int_equal((int64_t)json_object_size(dates), t.n);
    json_decref(dates);
    store_executions_free(x, n);
    store_trigger row = {0};
    assert_int_equal(store_trigger_get(v.st, "t.crash", "crash", "s", &row, &e), 0);
    assert_int_equal(row.next_us, t.hi + US_PER_SEC);
    store_trigger_clear(&row);
    env_close(&v);
    return t.n;
}

static void test_ticks_survive_kill9(void **state)
{
    char dir[] = "/tmp/kite-test-sched-crash-XXXXXX";
    assert_non_null(mkdtemp(dir));
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int64_t before = 0;
    /* more rounds, each longer, while nothing was committed yet: on a loaded
     * machine the child may not reach its first tick in the first ones */
    for (int r = 0; r < ROUNDS || (before == 0 && r < ROUNDS + 10); r++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv("KITE_SCHED_CRASH_CHILD", dir, 1);
            execl("/proc/self/exe", "test_sched_crash", (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(150000 + rand() % 250000 + (r >= ROUNDS ? 1000000 : 0)));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status)); /* it was still running: no early exit */
        int64_t n = check_store(dir);
        fprintf(stderr, "round %d: %lld ticks committed\n", r + 1, (long long)n);
        assert_true(n >= before);
        before = n;
    }
    assert_true(before > 0);
    /* resume 5 simulated seconds after the last tick: exactly those 5 fire */
    ticks t;
    read_ticks(dir, &t);
    kerr e = KERR_INIT;
    env v;
    assert_int_equal(env_open(&v, dir, &e), 0);
    sched_opts o = {.recover = SCHED_RECOVER_ALL, .flow_triggers = -1};
    sched *s = sched_new(v.en, v.st, &o, &e);
    assert_int_equal(sched_tick(s, t.hi + 5 * US_PER_SEC, &e), 5);
    assert_int_equal(sched_tick(s, t.hi + 5 * US_PER_SEC, &e), 0);
    sched_free(s);
    env_close(&v);
    assert_int_equal(check_store(dir), t.n + 5);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    free(cmd);
}

int main(void)
{
    tasks_register_all();
    const char *child = getenv("KITE_SCHED_CRASH_CHILD");
    if (child)
        return child_run(child);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_survive_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
