/*
 * test_sched.c: the scheduler on a real SQLite store in a temporary folder,
 * with an engine that is not started (executions are created, not run) and
 * an injected clock: Schedule ticks (each once, across a simulated restart
 * with ALL / NONE / LAST, two schedulers on one store, disabled triggers,
 * time zones, inputs, trigger.date/next/previous, backfill), conditions one
 * by one, Flow triggers reacting to a FAILED execution exactly once (also
 * after a restart) and preconditions, the webhook matcher, and the
 * scheduler's tables against the registry's trigger and condition types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "flow/schema.h"
#include "sched/sched_int.h"
#include "storage/storage.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/mem.h"

/* 2026-01-05T00:00:00Z, a Monday */
#define T0 (1767571200LL * US_PER_SEC)
#define SEC US_PER_SEC
#define DAY (86400LL * US_PER_SEC)

typedef struct fx {
    char dir[64];
    store *st;
    storage *fs;
    engine *en;
} fx;

static int fx_open(fx *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/kite-test-sched-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    kerr e = KERR_INIT;
    char *url = xasprintf("sqlite:%s/kite.db", f->dir);
    int rc = store_open(url, NULL, &f->st, &e);
    free(url);
    assert_int_equal(rc, 0);
    char *root = xasprintf("%s/storage", f->dir);
    f->fs = storage_open_local(root, &e);
    free(root);
    assert_non_null(f->fs);
    engine_opts o = {.store = f->st, .storage = f->fs, .workers = 2};
    f->en = engine_new(&o, &e);
    assert_non_null(f->en);
    return 0;
}

static void fx_close(fx *f)
{
    engine_free(f->en);
    storage_free(f->fs);
    store_free(f->st);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(cmd);
}

static void put_flow(fx *f, const char *yaml)
{
    diags d = DIAGS_INIT;
    int rev = 0;
    int rc = engine_flow_put(f->en, yaml, strlen(yaml), "t.yaml", &rev, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "t.yaml:%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
    diags_free(&d);
    assert_int_equal(rc, 0);
}

static sched *new_sched(fx *f, sched_recover rec)
{
    kerr e = KERR_INIT;
    sched_opts o = {.recover = rec};
    sched *s = sched_new(f->en, f->st, &o, &e);
    assert_non_null(s);
    return s;
}

static int tick(sched *s, int64_t now)
{
    kerr e = KERR_INIT;
    int n = sched_tick(s, now, &e);
    if (n < 0)
        fail_msg("sched_tick: %s", e.msg);
    return n;
}

/* Executions of flow id, newest first. */
static size_t execs(fx *f, const char *flow_id, store_execution **v)
{
    size_t n = 0;
    kerr e = KERR_INIT;
    store_execution_query q = {.flow_id = flow_id};
    assert_int_equal(store_execution_search(f->st, &q, v, &n, NULL, &e), 0);
    return n;
}

static size_t count(fx *f, const char *flow_id)
{
    store_execution *v = NULL;
    size_t n = execs(f, flow_id, &v);
    store_executions_free(v, n);
    return n;
}

/* Every execution of flow_id has a distinct trigger.date; returns how many. */
static size_t distinct_dates(fx *f, const char *flow_id)
{
    store_execution *v = NULL;
    size_t n = execs(f, flow_id, &v);
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_object_get(v[i].trigger, "date"));
        assert_non_null(d);
        if (json_object_get(seen, d))
            fail_msg("tick %s fired twice", d);
        json_object_set_new(seen, d, json_true());
    }
    size_t k = json_object_size(seen);
    json_decref(seen);
    store_executions_free(v, n);
    return k;
}

#define EVERY_SECOND \
    "id: every\nnamespace: t.sched\n" \
    "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n" \
    "    cron: \"* * * * * *\"\n    withSeconds: true\n%s" \
    "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"

static void put_every(fx *f, const char *extra)
{
    char *y = xasprintf(EVERY_SECOND, extra);
    put_flow(f, y);
    free(y);
}

/* ---- schedules ------------------------------------------------------------ */

static void test_schedule_fires_each_tick_once(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0), 0);            /* first sight: the next tick is T0+1s */
    assert_int_equal(tick(s, T0 + 5 * SEC), 5);  /* T0+1 .. T0+5 */
    assert_int_equal(tick(s, T0 + 5 * SEC), 0);  /* nothing new at the same time */
    assert_int_equal(tick(s, T0 + 5 * SEC + 999999), 0);
    assert_int_equal(tick(s, T0 + 6 * SEC), 1);
    assert_int_equal(count(&f, "every"), 6);
    assert_int_equal(distinct_dates(&f, "every"), 6);
    /* trigger.date / next / previous of the newest one */
    store_execution *v = NULL;
    size_t n = execs(&f, "every", &v);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_object_get(v[i].trigger, "date"));
        if (d && !strcmp(d, "2026-01-05T00:00:06Z")) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(v[i].trigger, "next")),
                                "2026-01-05T00:00:07Z");
            assert_string_equal(json_string_value(json_object_get(v[i].trigger, "previous")),
                                "2026-01-05T00:00:05Z");
        }
    }
    assert_true(found);
    store_executions_free(v, n);
    /* the row holds the next tick */
    store_trigger row = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_trigger_get(f.st, "t.sched", "every", "s", &row, &e), 0);
    assert_int_equal(row.next_us, T0 + 7 * SEC);
    assert_int_equal(row.last_fired_us, T0 + 6 * SEC);
    store_trigger_clear(&row);
    sched_free(s);
    fx_close(&f);
}

/* A restart after downtime: ticks T0+1..T0+3 fired, the scheduler is gone
 * until T0+10. */
static void restart_case(sched_recover rec, const char *prop, size_t want_after, size_t want_total)
{
    fx f;
    fx_open(&f);
    put_every(&f, prop);
    sched *a = new_sched(&f, SCHED_RECOVER_ALL);
    tick(a, T0);
    assert_int_equal(tick(a, T0 + 3 * SEC), 3);
    sched_free(a);
    sched *b = new_sched(&f, rec);
    assert_int_equal(tick(b, T0 + 10 * SEC), (int)want_after);
    assert_int_equal(tick(b, T0 + 11 * SEC), 1);
    sched_free(b);
    assert_int_equal(count(&f, "every"), want_total);
    assert_int_equal(distinct_dates(&f, "every"), want_total);
    fx_close(&f);
}

static void test_restart_recover_all(void **state)
{
    restart_case(SCHED_RECOVER_ALL, "", 7, 3 + 7 + 1); /* T0+4 .. T0+10 */
}

static void test_restart_recover_none(void **state)
{
    restart_case(SCHED_RECOVER_NONE, "", 0, 3 + 0 + 1);
}

static void test_restart_recover_last(void **state)
{
    restart_case(SCHED_RECOVER_LAST, "", 1, 3 + 1 + 1); /* T0+10 only */
}

static void test_restart_recover_property_wins(void **state)
{
    /* the trigger's own recoverMissedSchedules beats the scheduler's default */
    restart_case(SCHED_RECOVER_ALL, "    recoverMissedSchedules: NONE\n", 0, 4);
}

static void test_two_schedulers_one_store(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "");
    sched *a = new_sched(&f, SCHED_RECOVER_ALL), *b = new_sched(&f, SCHED_RECOVER_ALL);
    tick(a, T0);
    tick(b, T0);
    int n = 0;
    for (int k = 1; k <= 6; k++) {
        n += tick(a, T0 + k * SEC);
        n += tick(b, T0 + k * SEC);
    }
    assert_int_equal(n, 6);
    assert_int_equal(distinct_dates(&f, "every"), 6);
    sched_free(a);
    sched_free(b);
    fx_close(&f);
}

static void test_disabled_trigger_does_not_fire(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 2 * SEC), 2);
    store_trigger row = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_trigger_get(f.st, "t.sched", "every", "s", &row, &e), 0);
    row.disabled = 1;
    assert_int_equal(store_trigger_put(f.st, &row, &e), 0);
    store_trigger_clear(&row);
    /* seen at fire time, before any refresh */
    assert_int_equal(tick(s, T0 + 5 * SEC), 0);
    sched_flows_changed(s);
    assert_int_equal(tick(s, T0 + 6 * SEC), 0);
    assert_int_equal(count(&f, "every"), 2);
    /* enabled again at T0+10: the ticks it missed while disabled are dropped */
    assert_int_equal(store_trigger_get(f.st, "t.sched", "every", "s", &row, &e), 0);
    row.disabled = 0;
    assert_int_equal(store_trigger_put(f.st, &row, &e), 0);
    store_trigger_clear(&row);
    sched_flows_changed(s);
    assert_int_equal(tick(s, T0 + 10 * SEC), 0);
    assert_int_equal(tick(s, T0 + 11 * SEC), 1);
    assert_int_equal(count(&f, "every"), 3);
    sched_free(s);
    fx_close(&f);
}

static void test_disabled_in_flow_and_flow_disabled(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "    disabled: true\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 3 * SEC), 0);
    sched_free(s);
    fx_close(&f);
}

static void test_timezone_and_inputs(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: tz\nnamespace: t.sched\n"
                 "inputs:\n  - id: when\n    type: STRING\n"
                 "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                 "    cron: \"0 9 * * *\"\n    timezone: Europe/Paris\n"
                 "    inputs:\n      when: \"at {{ trigger.date }}\"\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    /* 09:00 in Paris on 5 January is 08:00Z */
    assert_int_equal(tick(s, T0 + 8 * 3600 * SEC - 1), 0);
    assert_int_equal(tick(s, T0 + 8 * 3600 * SEC), 1);
    store_execution *v = NULL;
    size_t n = execs(&f, "tz", &v);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "date")),
                        "2026-01-05T09:00:00+01:00");
    assert_string_equal(json_string_value(json_object_get(v[0].inputs, "when")),
                        "at 2026-01-05T09:00:00+01:00");
    store_executions_free(v, n);
    sched_free(s);
    fx_close(&f);
}

static void test_conditions_on_schedule_and_backfill(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: wk\nnamespace: t.sched\n"
                 "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                 "    cron: \"0 12 * * *\"\n"
                 "    conditions:\n      - type: io.kestra.plugin.core.condition.Weekend\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    kerr e = KERR_INIT;
    /* two weeks from Monday 5 January: 10, 11, 17, 18 are weekend days */
    assert_int_equal(sched_backfill(s, "t.sched", "wk", "s", T0, T0 + 14 * DAY - 1, &e), 4);
    assert_int_equal(sched_backfill(s, "t.sched", "wk", "s", T0, T0 + 14 * DAY - 1, &e), 0);
    store_execution *v = NULL;
    size_t n = execs(&f, "wk", &v);
    assert_int_equal(n, 4);
    assert_string_equal(json_string_value(json_object_get(v[0].labels, "backfill")), "true");
    store_executions_free(v, n);
    assert_int_equal(sched_backfill(s, "t.sched", "wk", "nope", T0, T0 + DAY, &e), -1);
    assert_non_null(strstr(e.msg, "no enabled trigger 'nope'"));
    assert_int_equal(sched_backfill(s, "t.sched", "wk", "s", T0 + DAY, T0, &e), -1);
    assert_non_null(strstr(e.msg, "before the start"));
    /* the live schedule skips the ticks backfill already fired */
    tick(s, T0 + 9 * DAY); /* first sight: next is the 10th at noon */
    assert_int_equal(tick(s, T0 + 12 * DAY), 0);
    assert_int_equal(count(&f, "wk"), 4);
    sched_free(s);
    fx_close(&f);
}

static void test_bad_inputs_spend_the_tick(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: bad\nnamespace: t.sched\n"
                 "inputs:\n  - id: n\n    type: INT\n"
                 "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                 "    cron: \"* * * * * *\"\n    withSeconds: true\n"
                 "    inputs:\n      n: \"not a number\"\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 3 * SEC), 0);
    store_trigger row = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_trigger_get(f.st, "t.sched", "bad", "s", &row, &e), 0);
    assert_int_equal(row.next_us, T0 + 4 * SEC);
    const char *le = json_string_value(json_object_get(row.state, "lastError"));
    assert_non_null(le);
    assert_non_null(strstr(le, "input 'n'"));
    store_trigger_clear(&row);
    sched_free(s);
    fx_close(&f);
}

static void test_cron_change_recomputes(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 2 * SEC), 2);
    put_flow(&f, "id: every\nnamespace: t.sched\n"
                 "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                 "    cron: \"0 * * * *\"\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched_free(s);
    s = new_sched(&f, SCHED_RECOVER_ALL);
    /* the stored next tick (T0+3s) belongs to the old cron: not fired */
    assert_int_equal(tick(s, T0 + 10 * SEC), 0);
    assert_int_equal(tick(s, T0 + 3600 * SEC), 1);
    sched_free(s);
    fx_close(&f);
}

static void test_schedule_on_dates(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: dates\nnamespace: t.sched\n"
                 "triggers:\n  - id: d\n    type: io.kestra.plugin.core.trigger.ScheduleOnDates\n"
                 "    timezone: Europe/Paris\n"
                 "    dates:\n      - 2026-01-04T12:00:00Z\n      - 2026-01-06T10:00:00\n"
                 "      - 2026-01-05T00:00:10Z\n      - 2026-01-05T00:00:10Z\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0), 0);               /* the 4th is in the past: never */
    assert_int_equal(tick(s, T0 + 10 * SEC), 1);    /* the duplicate date fires once */
    sched_free(s);
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + DAY), 0);
    /* 10:00 without a zone is read in the trigger's zone: 09:00Z */
    assert_int_equal(tick(s, T0 + DAY + 9 * 3600 * SEC - 1), 0);
    assert_int_equal(tick(s, T0 + DAY + 9 * 3600 * SEC), 1);
    assert_int_equal(tick(s, T0 + 30 * DAY), 0);
    store_execution *v = NULL;
    size_t n = execs(&f, "dates", &v);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_object_get(v[i].trigger, "date"));
        assert_true(!strcmp(d, "2026-01-05T01:00:10+01:00") || !strcmp(d, "2026-01-06T10:00:00+01:00"));
    }
    store_executions_free(v, n);
    sched_free(s);
    fx_close(&f);
}

static void test_late_maximum_delay(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "    lateMaximumDelay: PT3S\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 2 * SEC), 2);
    sched_free(s);
    /* down until T0+10: of the missed T0+3..T0+10 only those at most 3 s late start */
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + 10 * SEC), 4); /* T0+7 .. T0+10 */
    assert_int_equal(distinct_dates(&f, "every"), 6);
    store_trigger row = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_trigger_get(f.st, "t.sched", "every", "s", &row, &e), 0);
    assert_int_equal(row.next_us, T0 + 11 * SEC);
    store_trigger_clear(&row);
    sched_free(s);
    fx_close(&f);
}

static void end_execution(fx *f, const char *id, store_state st)
{
    store_execution x = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_execution_get(f->st, id, &x, &e), 0);
    store_execution_set_state(&x, st, store_now_us());
    assert_int_equal(store_execution_update(f->st, &x, &e), 0);
    store_execution_clear(&x);
}

/* stopAfter survives a restart: the executions to watch are in the row. */
static void test_stop_after_across_restart(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "    stopAfter: [FAILED]\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    assert_int_equal(tick(s, T0 + 2 * SEC), 2);
    sched_free(s);
    store_execution *v = NULL;
    size_t n = execs(&f, "every", &v);
    assert_int_equal(n, 2);
    end_execution(&f, v[0].id, STATE_SUCCESS);
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + 3 * SEC), 1);  /* a success does not stop it */
    end_execution(&f, v[1].id, STATE_FAILED);
    store_executions_free(v, n);
    sched_free(s);
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + 6 * SEC), 0);  /* the failure seen after a restart stops it */
    store_trigger row = {0};
    kerr e = KERR_INIT;
    assert_int_equal(store_trigger_get(f.st, "t.sched", "every", "s", &row, &e), 0);
    assert_true(row.disabled);
    /* the third execution is still watched */
    assert_int_equal(json_array_size(json_object_get(row.state, "stopAfterPending")), 1);
    store_trigger_clear(&row);
    assert_int_equal(count(&f, "every"), 3);
    sched_free(s);
    fx_close(&f);
}

/* ---- conditions -------------------------------------------------------------- */

static int cond(const char *yaml_json, const char *date, kerr *e)
{
    json_error_t je;
    json_t *c = json_loads(yaml_json, 0, &je);
    if (!c)
        fail_msg("bad json %s: %s", yaml_json, je.text);
    json_t *ctx = json_pack("{s:{s:s}}", "trigger", "date", date);
    expr_env env = {0};
    sched_cond_ctx cc = {.vars = ctx, .env = &env};
    int ok = -1;
    int rc = sched__conditions(c, &cc, &ok, e);
    json_decref(c);
    json_decref(ctx);
    return rc ? -1 : ok;
}

#define C "io.kestra.plugin.core.condition."

static void test_conditions_dates(void **state)
{
    kerr e = KERR_INIT;
    /* 2026-01-05 is a Monday */
    assert_int_equal(cond("[{\"type\":\"" C "DayWeek\",\"dayOfWeek\":\"MONDAY\"}]", "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "DayWeekCondition\",\"dayOfWeek\":\"TUESDAY\"}]", "2026-01-05T10:00:00Z", &e), 0);
    /* the offset written decides the day: 23:30 Monday at -05:00 is Tuesday in UTC */
    assert_int_equal(cond("[{\"type\":\"" C "DayWeek\",\"dayOfWeek\":\"MONDAY\"}]", "2026-01-05T23:30:00-05:00", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "Weekend\"}]", "2026-01-10T10:00:00Z", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "Weekend\"}]", "2026-01-09T10:00:00Z", &e), 0);
    /* 26 January 2026 is the last Monday of January; the 19th is the third */
    const char *last = "[{\"type\":\"" C "DayWeekInMonth\",\"dayOfWeek\":\"MONDAY\",\"dayInMonth\":\"LAST\"}]";
    assert_int_equal(cond(last, "2026-01-26T10:00:00Z", &e), 1);
    assert_int_equal(cond(last, "2026-01-19T10:00:00Z", &e), 0);
    const char *third = "[{\"type\":\"" C "DayWeekInMonth\",\"dayOfWeek\":\"MONDAY\",\"dayInMonth\":\"THIRD\"}]";
    assert_int_equal(cond(third, "2026-01-19T10:00:00Z", &e), 1);
    const char *tb = "[{\"type\":\"" C "TimeBetween\",\"after\":\"09:00:00\",\"before\":\"17:00:00\"}]";
    assert_int_equal(cond(tb, "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond(tb, "2026-01-05T18:00:00Z", &e), 0);
    assert_int_equal(cond(tb, "2026-01-05T08:59:59Z", &e), 0);
    /* an offset on the bound: 09:00+01:00 is 08:00Z */
    assert_int_equal(cond("[{\"type\":\"" C "TimeBetween\",\"after\":\"09:00:00+01:00\"}]", "2026-01-05T08:30:00Z", &e), 1);
    const char *dtb = "[{\"type\":\"" C "DateTimeBetween\",\"after\":\"2026-01-01T00:00:00Z\",\"before\":\"2026-02-01T00:00:00Z\"}]";
    assert_int_equal(cond(dtb, "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond(dtb, "2026-02-05T10:00:00Z", &e), 0);
    /* Not, Or, Expression */
    assert_int_equal(cond("[{\"type\":\"" C "Not\",\"conditions\":[{\"type\":\"" C "Weekend\"}]}]", "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "Or\",\"conditions\":[{\"type\":\"" C "Weekend\"},"
                          "{\"type\":\"" C "DayWeek\",\"dayOfWeek\":\"MONDAY\"}]}]", "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "Expression\",\"expression\":\"{{ trigger.date | date('HH') == '10' }}\"}]", "2026-01-05T10:00:00Z", &e), 1);
    assert_int_equal(cond("[{\"type\":\"" C "ExpressionCondition\",\"expression\":\"{{ 1 == 2 }}\"}]", "2026-01-05T10:00:00Z", &e), 0);
    /* all must pass */
    assert_int_equal(cond("[{\"type\":\"" C "DayWeek\",\"dayOfWeek\":\"MONDAY\"},{\"type\":\"" C "Weekend\"}]", "2026-01-05T10:00:00Z", &e), 0);
}

static void test_conditions_errors_name_the_condition(void **state)
{
    kerr e = KERR_INIT;
    assert_int_equal(cond("[{\"type\":\"" C "Weekend\"},{\"type\":\"" C "DayWeek\",\"dayOfWeek\":\"MONDAY\",\"date\":\"yesterday\"}]",
                          "2026-01-10T10:00:00Z", &e), -1);
    assert_non_null(strstr(e.msg, "conditions[1] (DayWeek)"));
    assert_non_null(strstr(e.msg, "yesterday"));
    kerr_clear(&e);
    assert_int_equal(cond("[{\"type\":\"" C "ExecutionStatus\",\"in\":[\"FAILED\"]}]", "2026-01-10T10:00:00Z", &e), -1);
    assert_non_null(strstr(e.msg, "Flow triggers only"));
    kerr_clear(&e);
    assert_int_equal(cond("[{\"type\":\"" C "PublicHoliday\"}]", "2026-01-10T10:00:00Z", &e), -1);
    assert_non_null(strstr(e.msg, "not supported"));
    kerr_clear(&e);
    assert_int_equal(cond("[{\"type\":\"nope.Nope\"}]", "2026-01-10T10:00:00Z", &e), -1);
    assert_non_null(strstr(e.msg, "unknown condition type 'nope.Nope'"));
}

/* ---- flow triggers ------------------------------------------------------------ */

static void insert_ended(fx *f, const char *ns, const char *flow_id, store_state st, const char *label,
                         char id[STORE_ID_LEN + 1])
{
    store_new_id(id);
    store_execution x = {0};
    x.id = id;
    x.namespace = (char *)ns;
    x.flow_id = (char *)flow_id;
    x.flow_revision = 1;
    int64_t now = store_now_us();
    store_execution_set_state(&x, STATE_CREATED, now);
    store_execution_set_state(&x, STATE_RUNNING, now);
    store_execution_set_state(&x, st, now);
    x.start_us = now;
    x.end_us = now;
    x.labels = label ? json_pack("{s:s}", "some", label) : json_object();
    x.outputs = json_pack("{s:s}", "result", "r1");
    kerr e = KERR_INIT;
    assert_int_equal(store_execution_insert(f->st, &x, &e), 0);
    store_task_run t = {0};
    char tid[STORE_ID_LEN + 1];
    store_new_id(tid);
    t.id = tid;
    t.execution_id = id;
    t.task_id = "only";
    store_task_run_set_state(&t, st, now);
    t.outputs = json_pack("{s:s}", "value", "from upstream");
    assert_int_equal(store_task_run_insert(f->st, &t, &e), 0);
    json_decref(t.outputs);
    free(t.histories);
    json_decref(x.labels);
    json_decref(x.outputs);
    free(x.histories);
}

static const char *LISTENER =
    "id: listener\nnamespace: t.other\n"
    "inputs:\n  - id: from-parent\n    type: STRING\n"
    "triggers:\n  - id: on-failure\n    type: io.kestra.plugin.core.trigger.Flow\n"
    "    inputs:\n      from-parent: \"{{ outputs.only.value }} {{ trigger.state }}\"\n"
    "    conditions:\n"
    "      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [FAILED]\n"
    "      - type: io.kestra.plugin.core.condition.ExecutionNamespace\n"
    "        namespace: t.up\n        comparison: PREFIX\n"
    "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

static void test_flow_trigger_reacts_to_failure_once(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, LISTENER);
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0), 0);
    char ok_id[STORE_ID_LEN + 1], failed_id[STORE_ID_LEN + 1], other_id[STORE_ID_LEN + 1];
    insert_ended(&f, "t.up.team", "upstream", STATE_SUCCESS, NULL, ok_id);
    insert_ended(&f, "t.up.team", "upstream", STATE_FAILED, NULL, failed_id);
    insert_ended(&f, "t.elsewhere", "upstream", STATE_FAILED, NULL, other_id);
    assert_int_equal(tick(s, T0 + SEC), 1);
    assert_int_equal(tick(s, T0 + 2 * SEC), 0);
    store_execution *v = NULL;
    size_t n = execs(&f, "listener", &v);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "executionId")), failed_id);
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "state")), "FAILED");
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "namespace")), "t.up.team");
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "flowId")), "upstream");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v[0].trigger, "outputs"), "result")), "r1");
    assert_string_equal(json_string_value(json_object_get(v[0].inputs, "from-parent")), "from upstream FAILED");
    store_executions_free(v, n);
    sched_free(s);
    /* a restart rescans from the stored watermark: no second reaction */
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + 3 * SEC), 0);
    assert_int_equal(count(&f, "listener"), 1);
    sched_free(s);
    fx_close(&f);
}

static void test_flow_trigger_after_restart_sees_missed_end(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, LISTENER);
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    sched_free(s);
    /* ends while no scheduler runs */
    char id[STORE_ID_LEN + 1];
    insert_ended(&f, "t.up", "upstream", STATE_FAILED, NULL, id);
    s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(tick(s, T0 + SEC), 1);
    sched_free(s);
    fx_close(&f);
}

static void test_flow_trigger_preconditions(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: listen\nnamespace: t.pre\n"
                 "triggers:\n  - id: flow\n    type: io.kestra.plugin.core.trigger.Flow\n"
                 "    preconditions:\n      id: flow\n      flows:\n"
                 "        - namespace: t.pre\n          flowId: flow-a\n          states: [SUCCESS, WARNING, FAILED]\n"
                 "        - namespace: t.pre\n          flowId: flow-b\n          states: [SUCCESS]\n"
                 "      where:\n        - id: flow1\n          filters:\n"
                 "            - field: FLOW_ID\n              type: EQUAL_TO\n              value: flow-a\n"
                 "            - field: EXPRESSION\n              type: IS_TRUE\n"
                 "              value: \"{{labels.some == 'label'}}\"\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    tick(s, T0);
    char id[STORE_ID_LEN + 1];
    insert_ended(&f, "t.pre", "flow-a", STATE_SUCCESS, "other", id); /* flows/0 only */
    assert_int_equal(tick(s, T0 + SEC), 0);
    insert_ended(&f, "t.pre", "flow-b", STATE_FAILED, NULL, id);     /* wrong state */
    assert_int_equal(tick(s, T0 + 2 * SEC), 0);
    insert_ended(&f, "t.pre", "flow-b", STATE_SUCCESS, NULL, id);    /* flows/1 */
    assert_int_equal(tick(s, T0 + 3 * SEC), 0);
    insert_ended(&f, "t.pre", "flow-a", STATE_FAILED, "label", id);  /* where/flow1: all met */
    assert_int_equal(tick(s, T0 + 4 * SEC), 1);
    /* reset on success: one more flow-a is not enough */
    insert_ended(&f, "t.pre", "flow-a", STATE_SUCCESS, "label", id);
    assert_int_equal(tick(s, T0 + 5 * SEC), 0);
    assert_int_equal(count(&f, "listen"), 1);
    sched_free(s);
    fx_close(&f);
}

/* The real thing: an engine runs a flow that fails; the scheduler's thread
 * notices and the listener runs with the failed execution's variables. */
static void test_flow_trigger_on_real_failure(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: upstream\nnamespace: t.up\n"
                 "tasks:\n  - id: only\n    type: io.kestra.plugin.core.debug.Return\n    format: first\n"
                 "  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: broken\n");
    put_flow(&f, LISTENER);
    kerr e = KERR_INIT;
    assert_int_equal(engine_start(f.en, &e), 0);
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    assert_int_equal(sched_start(s, &e), 0);
    char up[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "t.up", .flow_id = "upstream"};
    assert_int_equal(engine_submit(f.en, &so, up, &e), 0);
    store_state st;
    assert_int_equal(engine_wait(f.en, up, 0, 10 * SEC, &st, &e), 0);
    assert_int_equal(st, STATE_FAILED);
    store_execution *v = NULL;
    size_t n = 0;
    for (int i = 0; i < 100 && n == 0; i++) {
        usleep(50 * 1000);
        n = execs(&f, "listener", &v);
        if (n == 0)
            store_executions_free(v, n);
    }
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(v[0].trigger, "executionId")), up);
    assert_string_equal(json_string_value(json_object_get(v[0].inputs, "from-parent")), "first FAILED");
    char lid[STORE_ID_LEN + 1];
    snprintf(lid, sizeof lid, "%s", v[0].id);
    store_executions_free(v, n);
    assert_int_equal(engine_wait(f.en, lid, 0, 10 * SEC, &st, &e), 0);
    assert_int_equal(st, STATE_SUCCESS);
    /* the listener's own success does not trigger it again */
    usleep(1200 * 1000);
    assert_int_equal(count(&f, "listener"), 1);
    sched_free(s);
    engine_stop(f.en, SEC);
    fx_close(&f);
}

/* ---- webhooks ------------------------------------------------------------------- */

static void test_webhook_matcher(void **state)
{
    fx f;
    fx_open(&f);
    put_flow(&f, "id: hook\nnamespace: t.hook\n"
                 "inputs:\n  - id: who\n    type: STRING\n    defaults: nobody\n"
                 "triggers:\n  - id: wh\n    type: io.kestra.plugin.core.trigger.Webhook\n"
                 "    key: webhookKey\n"
                 "    inputs:\n      who: \"{{ trigger.body.hello }}\"\n"
                 "    conditions:\n      - type: io.kestra.plugin.core.condition.ExpressionCondition\n"
                 "        expression: \"{{trigger.body.hello == 'world'}}\"\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    /* SECRET_WEBHOOK_KEY is base64 of "s3cr3t-key" */
    setenv("SECRET_WEBHOOK_KEY", "czNjcjN0LWtleQ==", 1);
    put_flow(&f, "id: secret\nnamespace: t.hook\n"
                 "triggers:\n  - id: wh\n    type: io.kestra.plugin.core.trigger.Webhook\n"
                 "    key: \"{{ secret('WEBHOOK_KEY') }}\"\n    wait: true\n"
                 "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    kerr e = KERR_INIT;
    sched_webhook w;
    json_t *body = json_pack("{s:s}", "hello", "world");
    json_t *headers = json_pack("{s:[s]}", "content-type", "application/json");
    sched_webhook_req rq = {.method = "POST", .body = body, .headers = headers};
    assert_int_equal(sched_webhook_find(s, "t.hook", "hook", "webhookKey", &rq, &w, &e), 0);
    assert_string_equal(w.trigger_id, "wh");
    assert_string_equal(json_string_value(json_object_get(json_object_get(w.trigger, "body"), "hello")), "world");
    assert_non_null(json_object_get(w.trigger, "headers"));
    assert_string_equal(json_string_value(json_object_get(w.inputs, "who")), "world");
    char id[STORE_ID_LEN + 1];
    assert_int_equal(sched_webhook_submit(s, "t.hook", "hook", &w, id, &e), 0);
    sched_webhook_clear(&w);
    assert_int_equal(count(&f, "hook"), 1);
    /* conditions false */
    json_object_set_new(body, "hello", json_string("moon"));
    assert_int_equal(sched_webhook_find(s, "t.hook", "hook", "webhookKey", &rq, &w, &e), SCHED_SKIPPED);
    sched_webhook_clear(&w);
    /* wrong key, unknown flow */
    assert_int_equal(sched_webhook_find(s, "t.hook", "hook", "webhookKex", &rq, &w, &e), SCHED_NOT_FOUND);
    assert_non_null(strstr(e.msg, "no webhook trigger with this key"));
    assert_int_equal(sched_webhook_find(s, "t.hook", "nope", "webhookKey", &rq, &w, &e), SCHED_NOT_FOUND);
    assert_non_null(strstr(e.msg, "not found"));
    /* a key from a secret */
    assert_int_equal(sched_webhook_find(s, "t.hook", "secret", "s3cr3t-key", NULL, &w, &e), 0);
    assert_true(w.wait);
    sched_webhook_clear(&w);
    assert_int_equal(sched_webhook_find(s, "t.hook", "secret", "{{ secret('WEBHOOK_KEY') }}", NULL, &w, &e),
                     SCHED_NOT_FOUND);
    /* disabled through the API's row */
    store_trigger row = {.namespace = "t.hook", .flow_id = "secret", .trigger_id = "wh", .disabled = 1};
    assert_int_equal(store_trigger_put(f.st, &row, &e), 0);
    assert_int_equal(sched_webhook_find(s, "t.hook", "secret", "s3cr3t-key", NULL, &w, &e), SCHED_NOT_FOUND);
    assert_non_null(strstr(e.msg, "disabled"));
    json_decref(body);
    json_decref(headers);
    sched_free(s);
    fx_close(&f);
}

/* ---- the thread ------------------------------------------------------------------ */

static void test_thread_fires_on_wall_clock(void **state)
{
    fx f;
    fx_open(&f);
    put_every(&f, "");
    sched *s = new_sched(&f, SCHED_RECOVER_ALL);
    kerr e = KERR_INIT;
    assert_int_equal(sched_start(s, &e), 0);
    usleep(2300 * 1000);
    sched_stop(s);
    size_t n = count(&f, "every");
    assert_true(n >= 1 && n <= 3);
    assert_int_equal(distinct_dates(&f, "every"), n);
    sched_free(s);
    fx_close(&f);
}

/* Types the registry declares that kite validates but does not run
 * (TF_DECLARED_ONLY: their flows load, the trigger never fires, and `kite
 * validate` warns at the type's position). */
static int declared_only(const type_def *d)
{
    return (d->flags & TF_DECLARED_ONLY) != 0;
}

typedef struct coverage {
    int triggers, conditions;
    char missing[1024];
} coverage;

static void check_type(const type_def *d, void *arg)
{
    coverage *c = arg;
    int have;
    if (d->kind == TK_TRIGGER) {
        c->triggers++;
        have = sched__trigger_find(d->name) != NULL;
    } else if (d->kind == TK_CONDITION) {
        c->conditions++;
        have = sched__condition_find(d->name) != NULL;
    } else {
        return;
    }
    if (have == declared_only(d))
        snprintf(c->missing + strlen(c->missing), sizeof c->missing - strlen(c->missing), " %s(%s)", d->name,
                 have ? "runs, yet is flagged declared-only" : "no implementation in sched/");
}

/* Every trigger and condition type of the registry has its behaviour in the
 * scheduler's tables, but those flagged as declared only. */
static void test_every_declared_trigger_and_condition_runs(void **state)
{
    (void)state;
    coverage c = {0};
    flow_registry_each(check_type, &c);
    assert_true(c.triggers >= 4);
    assert_true(c.conditions >= 18);
    if (c.missing[0])
        fail_msg("trigger or condition types without their sched behaviour:%s", c.missing);
}

int main(void)
{
    tasks_register_all();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_declared_trigger_and_condition_runs),
        cmocka_unit_test(test_schedule_fires_each_tick_once),
        cmocka_unit_test(test_restart_recover_all),
        cmocka_unit_test(test_restart_recover_none),
        cmocka_unit_test(test_restart_recover_last),
        cmocka_unit_test(test_restart_recover_property_wins),
        cmocka_unit_test(test_two_schedulers_one_store),
        cmocka_unit_test(test_disabled_trigger_does_not_fire),
        cmocka_unit_test(test_disabled_in_flow_and_flow_disabled),
        cmocka_unit_test(test_timezone_and_inputs),
        cmocka_unit_test(test_conditions_on_schedule_and_backfill),
        cmocka_unit_test(test_bad_inputs_spend_the_tick),
        cmocka_unit_test(test_cron_change_recomputes),
        cmocka_unit_test(test_schedule_on_dates),
        cmocka_unit_test(test_late_maximum_delay),
        cmocka_unit_test(test_stop_after_across_restart),
        cmocka_unit_test(test_conditions_dates),
        cmocka_unit_test(test_conditions_errors_name_the_condition),
        cmocka_unit_test(test_flow_trigger_reacts_to_failure_once),
        cmocka_unit_test(test_flow_trigger_after_restart_sees_missed_end),
        cmocka_unit_test(test_flow_trigger_preconditions),
        cmocka_unit_test(test_flow_trigger_on_real_failure),
        cmocka_unit_test(test_webhook_matcher),
        cmocka_unit_test(test_thread_fires_on_wall_clock),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    expr_thread_cleanup();
    return rc;
}
