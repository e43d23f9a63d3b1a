/*
 * test_err.c: the error context: an error's class survives every rewording
 * on its way up (kerr_set, kerr_set_at, kerr_prefix, the engine's own
 * messages over a store error), and the one position formatter.
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
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/datetime.h"
#include "util/err.h"

static void fresh_error_is_internal(void **state)
{
    kerr e = KERR_INIT;
    assert_int_equal(kerr_set(&e, "boom %d", 1), -1);
    assert_int_equal(e.code, KERR_INTERNAL);
    assert_string_equal(e.msg, "boom 1");
    assert_int_equal(kerr_set(NULL, "nobody listens"), -1);
}

static void rewording_keeps_the_class(void **state)
{
    kerr e = KERR_INIT;
    kerr_setc_at(&e, KERR_NOT_FOUND, 3, 4, "no row %s", "x");
    assert_int_equal(e.code, KERR_NOT_FOUND);
    assert_int_equal(e.line, 3);
    kerr_set(&e, "flow %s not found", "a.b");
    assert_int_equal(e.code, KERR_NOT_FOUND);
    assert_int_equal(e.line, 0);
    kerr_set_at(&e, 7, 2, "again: %s", e.msg); /* its own message as an argument */
    assert_int_equal(e.code, KERR_NOT_FOUND);
    assert_string_equal(e.msg, "again: flow a.b not found");
    kerr_prefix(&e, "task '%s'", "t");
    assert_int_equal(e.code, KERR_NOT_FOUND);
    assert_int_equal(e.line, 7);
    assert_string_equal(e.msg, "task 't': again: flow a.b not found");
    /* kerr_setc replaces the class; kerr_clear forgets it */
    kerr_setc(&e, KERR_CONFLICT, "stale");
    assert_int_equal(e.code, KERR_CONFLICT);
    kerr_clear(&e);
    kerr_set(&e, "new");
    assert_int_equal(e.code, KERR_INTERNAL);
}

static void store_codes_are_the_classes(void **state)
{
    assert_int_equal(STORE_ERROR, KERR_INTERNAL);
    assert_int_equal(STORE_NOT_FOUND, KERR_NOT_FOUND);
    assert_int_equal(STORE_CONFLICT, KERR_CONFLICT);
    assert_int_equal(STORE_DUPLICATE, KERR_DUPLICATE);
    assert_string_equal(kerr_code_name(KERR_INVALID), "invalid");
    assert_string_equal(kerr_code_name(KERR_UNAVAILABLE), "unavailable");
}

static void format_pos(void **state)
{
    char b[128];
    assert_string_equal(kerr_format_pos(b, sizeof b, "flows/etl.yaml", 12, 7, "bad"), "flows/etl.yaml:12:7: bad");
    assert_string_equal(kerr_format_pos(b, sizeof b, "f.yaml", 0, 0, "bad"), "f.yaml: bad");
    assert_string_equal(kerr_format_pos(b, sizeof b, NULL, 2, 5, "bad"), "2:5: bad");
    assert_string_equal(kerr_format_pos(b, sizeof b, "", 0, 0, "bad"), "bad");
    kerr e = KERR_INIT;
    kerr_set_at(&e, 1, 9, "unexpected '}'");
    assert_string_equal(kerr_format(b, sizeof b, &e, "t.yaml"), "t.yaml:1:9: unexpected '}'");
    /* truncation stays NUL-terminated */
    char small[8];
    assert_string_equal(kerr_format_pos(small, sizeof small, "abcdef", 1, 1, "m"), "abcdef:");
}

/* Through real layers: a SQLite store, and the engine rewording its
 * STORE_NOT_FOUND as "flow t.nope not found": the class is still there. */
static void engine_rewording_keeps_not_found(void **state)
{
    tasks_register_all();
    char dir[128], url[256], root[256];
    snprintf(dir, sizeof dir, "/tmp/kite-test-err-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(root, sizeof root, "%s/storage", dir);
    kerr e = KERR_INIT;
    store *st = NULL;
    assert_int_equal(store_open(url, NULL, &st, &e), 0);
    storage *fs = storage_open_local(root, &e);
    assert_non_null(fs);
    engine_opts o = {.store = st, .storage = fs, .workers = 1};
    engine *en = engine_new(&o, &e);
    assert_non_null(en);

    store_flow sf = {0};
    assert_int_equal(store_flow_get(st, "t", "nope", 0, &sf, &e), STORE_NOT_FOUND);
    assert_int_equal(e.code, KERR_NOT_FOUND);

    kerr_clear(&e);
    char id[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "t", .flow_id = "nope"};
    assert_int_equal(engine_submit(en, &so, id, &e), -1);
    assert_string_equal(e.msg, "flow t.nope not found");
    assert_int_equal(e.code, KERR_NOT_FOUND);

    kerr_clear(&e);
    assert_int_equal(engine_kill(en, "NoSuchExecution", &e), -1);
    assert_int_equal(e.code, KERR_NOT_FOUND);

    engine_free(en);
    storage_free(fs);
    store_free(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
}

/* Runs flow text put under name and returns the first ERROR log line. */
static char *run_and_get_error(const char *src, const char *name, const char *flow_id)
{
    tasks_register_all();
    static int n;
    char dir[128], url[256], root[256];
    snprintf(dir, sizeof dir, "/tmp/kite-test-err-run-%d-%d", (int)getpid(), n++);
    mkdir(dir, 0700);
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(root, sizeof root, "%s/storage", dir);
    kerr e = KERR_INIT;
    store *st = NULL;
    assert_int_equal(store_open(url, NULL, &st, &e), 0);
    storage *fs = storage_open_local(root, &e);
    engine_opts o = {.store = st, .storage = fs, .workers = 1};
    engine *en = engine_new(&o, &e);
    assert_non_null(en);
    assert_int_equal(engine_start(en, &e), 0);
    diags d = DIAGS_INIT;
    assert_int_equal(engine_flow_put(en, src, strlen(src), name, NULL, &d), 0);
    diags_free(&d);
    char id[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "t", .flow_id = flow_id};
    assert_int_equal(engine_submit(en, &so, id, &e), 0);
    store_state state;
    assert_int_equal(engine_wait(en, id, 0, 30 * US_PER_SEC, &state, &e), 0);
    assert_int_equal(state, STATE_FAILED);
    engine_stop(en, US_PER_SEC);
    store_log_query q = {.execution_id = id, .min_level = LEVEL_ERROR};
    store_log *v = NULL;
    size_t nv = 0;
    assert_int_equal(store_log_search(st, &q, &v, &nv, NULL, &e), 0);
    assert_true(nv >= 1);
    char *msg = strdup(v[0].message);
    store_logs_free(v, nv);
    engine_free(en);
    storage_free(fs);
    store_free(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    return msg;
}

static const char etl[] = "id: etl\n"
                          "namespace: t\n"
                          "tasks:\n"
                          "  - id: load\n"
                          "    type: io.kestra.plugin.core.output.OutputValues\n"
                          "    values:\n"
                          "      fine: yes\n"
                          "      url:\n"
                          "        - ok\n"
                          "        - \"{{ inputs.urll }}\"\n";

static void render_error_names_file_line_col(void **state)
{
    char *m = run_and_get_error(etl, "flows/etl.yaml", "etl");
    assert_string_equal(m, "flows/etl.yaml:10:11: task 'load': property 'values': undefined variable 'inputs.urll'");
    free(m);
}

static void render_error_of_an_api_flow_names_ns_id_yaml(void **state)
{
    char *m = run_and_get_error(etl, NULL, "etl");
    assert_string_equal(m, "t/etl.yaml:10:11: task 'load': property 'values': undefined variable 'inputs.urll'");
    free(m);
}

static void render_error_in_a_long_template_keeps_its_line(void **state)
{
    static const char src[] = "id: multi\n"
                              "namespace: t\n"
                              "tasks:\n"
                              "  - id: say\n"
                              "    type: io.kestra.plugin.core.log.Log\n"
                              "    message: |\n"
                              "      line one\n"
                              "      {{ nope }}\n";
    char *m = run_and_get_error(src, "m.yaml", "multi");
    assert_string_equal(m, "m.yaml:6:14: task 'say': property 'message': 2:4: undefined variable 'nope'");
    free(m);
}

/* The engine's operations answer with classes the API maps to statuses,
 * without the caller reading the store first. */
static void engine_operations_classify_their_errors(void **state)
{
    tasks_register_all();
    char dir[128], url[256], root[256];
    snprintf(dir, sizeof dir, "/tmp/kite-test-err-ops-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(url, sizeof url, "sqlite:%s/kite.db", dir);
    snprintf(root, sizeof root, "%s/storage", dir);
    kerr e = KERR_INIT;
    store *st = NULL;
    assert_int_equal(store_open(url, NULL, &st, &e), 0);
    storage *fs = storage_open_local(root, &e);
    engine_opts o = {.store = st, .storage = fs, .workers = 1};
    engine *en = engine_new(&o, &e);
    assert_int_equal(engine_start(en, &e), 0);

    static const char src[] = "id: f\nnamespace: t\ntasks:\n  - id: nap\n"
                              "    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n";
    store_flow row = {0};
    diags d = DIAGS_INIT;
    assert_int_equal(engine_flow_create(en, src, strlen(src), 0, NULL, NULL, &row, &d, &e), -1);
    assert_int_equal(e.code, KERR_NOT_FOUND); /* an update of an unknown flow */
    kerr_clear(&e);
    assert_int_equal(engine_flow_create(en, src, strlen(src), 1, NULL, NULL, &row, &d, &e), 0);
    assert_int_equal(row.revision, 1);
    assert_string_equal(row.id, "f");
    store_flow_clear(&row);
    assert_int_equal(engine_flow_create(en, src, strlen(src), 1, NULL, NULL, &row, &d, &e), -1);
    assert_int_equal(e.code, KERR_DUPLICATE);
    assert_string_equal(e.msg, "flow t.f already exists");
    kerr_clear(&e);
    assert_int_equal(engine_flow_create(en, src, strlen(src), 0, "t", "other", &row, &d, &e), -1);
    assert_int_equal(e.code, KERR_INVALID);
    kerr_clear(&e);
    assert_int_equal(engine_flow_create(en, "a: [", 4, 1, NULL, NULL, &row, &d, &e), -2); /* not YAML */
    assert_int_equal(e.code, KERR_INVALID);
    assert_true(diags_errors(&d) >= 1);
    diags_free(&d);
    char f[64];
    engine_flow_file(en, "t", "f", f, sizeof f);
    assert_string_equal(f, "t/f.yaml");

    kerr_clear(&e);
    char id[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = "t", .flow_id = "f"};
    assert_int_equal(engine_submit(en, &so, id, &e), 0);
    assert_int_equal(engine_delete(en, id, &e), -1);
    assert_int_equal(e.code, KERR_CONFLICT); /* kill it first */
    kerr_clear(&e);
    assert_int_equal(engine_resume(en, id, NULL, &e), -1);
    assert_int_equal(e.code, KERR_CONFLICT);
    kerr_clear(&e);
    assert_int_equal(engine_kill(en, id, &e), 0);
    store_state s;
    assert_int_equal(engine_wait(en, id, 0, 30 * US_PER_SEC, &s, &e), 0);
    assert_int_equal(s, STATE_KILLED);
    assert_int_equal(engine_kill(en, id, &e), -1);
    assert_int_equal(e.code, KERR_CONFLICT);
    kerr_clear(&e);
    assert_int_equal(engine_delete(en, id, &e), 0);
    assert_int_equal(engine_delete(en, id, &e), -1);
    assert_int_equal(e.code, KERR_NOT_FOUND);

    engine_free(en);
    storage_free(fs);
    store_free(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_error_is_internal),
        cmocka_unit_test(rewording_keeps_the_class),
        cmocka_unit_test(store_codes_are_the_classes),
        cmocka_unit_test(format_pos),
        cmocka_unit_test(engine_rewording_keeps_not_found),
        cmocka_unit_test(render_error_names_file_line_col),
        cmocka_unit_test(render_error_of_an_api_flow_names_ns_id_yaml),
        cmocka_unit_test(render_error_in_a_long_template_keeps_its_line),
        cmocka_unit_test(engine_operations_classify_their_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
