/*
 * test_run_core.c: the runnable core tasks (tasks/core.c, kv.c, state.c,
 * storage.c, namespace.c) run through their hooks, found by their Kestra type names
 * as the engine finds them, against a real SQLite store and a real local
 * storage in a temp folder.
 *
 * The task_ctx is built by hand with a test ops table: render() evaluates
 * each string with the expression language against a small context (so
 * properties may hold "{{ ... }}"), log() appends {level, message} to an
 * array the tests read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "expr/expr.h"
#include "flow/schema.h"
#include "storage/storage.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"

#define NS "io.kestra.tests"
#define FLOW "flow1"
#define EXEC "exec0000000000000000001"
#define TASK "t1"
#define TASKRUN "tr000000000000000000001"

typedef struct fx {
    char dir[64];
    store *db;
    storage *files;
    json_t *vars;    /* render context */
    json_t *logs;    /* [{level, message}] */
    atomic_int cancel;
    task_ctx c;
} fx;

/* ---- the test ops table ---------------------------------------------------- */

static json_t *t_render_value(task_ctx *c, const json_t *v, kerr *e)
{
    fx *f = c->engine;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!expr_is_template(s))
            return json_deep_copy(v);
        json_t *out = NULL;
        if (expr_eval_string(s, f->vars, NULL, &out, e))
            return NULL;
        return out;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            json_t *r = t_render_value(c, item, e);
            if (!r) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, r);
        }
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item) {
            json_t *r = t_render_value(c, item, e);
            if (!r) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, k, r);
        }
        return o;
    }
    return json_deep_copy(v);
}

static void t_log(task_ctx *c, store_level level, const char *msg)
{
    fx *f = c->engine;
    json_array_append_new(f->logs, json_pack("{s:s,s:s}", "level", store_level_name(level),
                                             "message", msg));
}

static json_t *t_render(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    if (err_path)
        *err_path = NULL;
    return t_render_value(c, v, e);
}

static const task_ctx_ops t_ops = {.render = t_render, .log = t_log};

/* ---- fixture --------------------------------------------------------------- */

static void reset_ctx(fx *f)
{
    json_decref(f->c.outputs);
    json_decref(f->c.metrics);
    json_decref(f->c.labels);
    json_array_clear(f->logs);
    atomic_store(&f->cancel, 0);
    memset(&f->c, 0, sizeof f->c);
    f->c.ops = &t_ops;
    f->c.engine = f;
    f->c.namespace = NS;
    f->c.flow_id = FLOW;
    f->c.execution_id = EXEC;
    f->c.task_id = TASK;
    f->c.taskrun_id = TASKRUN;
    f->c.attempt = 1;
    f->c.store = f->db;
    f->c.storage = f->files;
    f->c.tmp_root = f->dir;
    f->c.cancel = &f->cancel;
    f->c.outputs = json_object();
    f->c.exit_state = -1;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/kite-runcore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char path[256];
    kerr e = KERR_INIT;
    snprintf(path, sizeof path, "sqlite:%s/db.sqlite", f->dir);
    if (store_open(path, NULL, &f->db, &e)) {
        fprintf(stderr, "store: %s\n", e.msg);
        return -1;
    }
    snprintf(path, sizeof path, "%s/storage", f->dir);
    f->files = storage_open_local(path, &e);
    if (!f->files) {
        fprintf(stderr, "storage: %s\n", e.msg);
        return -1;
    }
    f->vars = json_pack("{s:s,s:i,s:n,s:{s:s,s:s},s:{s:s}}", "name", "kite", "n", 0, "nil", "flow",
                        "namespace", NS, "id", FLOW, "execution", "id", EXEC);
    f->logs = json_array();
    tasks_register_all();
    reset_ctx(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    reset_ctx(f);
    json_decref(f->c.outputs);
    store_free(f->db);
    storage_free(f->files);
    json_decref(f->vars);
    json_decref(f->logs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Runs the task written as JSON (its "type" a Kestra class name or a kite
 * name) on a fresh context; the task JSON stays alive in f until the next
 * run. */
static json_t *cur_task;

static task_result run(fx *f, const char *task_json, kerr *e)
{
    reset_ctx(f);
    kerr_clear(e);
    json_decref(cur_task);
    json_error_t je;
    cur_task = json_loads(task_json, 0, &je);
    if (!cur_task)
        fail_msg("bad test JSON: %s: %s", je.text, task_json);
    const type_def *d = flow_type_find(json_string_value(json_object_get(cur_task, "type")));
    assert_non_null(d);
    const struct task_hooks *h = d->hooks;
    assert_non_null(h);
    f->c.task = cur_task;
    f->c.def = d;
    return h->run(&f->c, e);
}

static const char *log_msg(fx *f, size_t i)
{
    return json_string_value(json_object_get(json_array_get(f->logs, i), "message"));
}

static const char *log_level(fx *f, size_t i)
{
    return json_string_value(json_object_get(json_array_get(f->logs, i), "level"));
}

static const char *out_str(fx *f, const char *key)
{
    return json_string_value(json_object_get(f->c.outputs, key));
}

#define assert_fails_with(f, json, needle)                                                  \
    do {                                                                                    \
        kerr e_ = KERR_INIT;                                                                \
        assert_int_equal(run(f, json, &e_), TASK_FAILED);                                   \
        if (!strstr(e_.msg, needle))                                                        \
            fail_msg("error '%s' does not contain '%s'", e_.msg, needle);                   \
    } while (0)

/* Reads a storage file into a malloc'd string. */
static char *read_uri(fx *f, const char *uri)
{
    buf b = BUF_INIT;
    kerr e = KERR_INIT;
    if (storage_read_all(f->files, uri, 0, &b, &e))
        fail_msg("read %s: %s", uri, e.msg);
    return buf_steal(&b);
}

static void put_uri(fx *f, const char *uri, const char *content)
{
    kerr e = KERR_INIT;
    if (storage_put(f->files, uri, content, strlen(content), &e))
        fail_msg("put %s: %s", uri, e.msg);
}

#define TASK_PREFIX "kestra:///io/kestra/tests/" FLOW "/executions/" EXEC "/tasks/" TASK "/" TASKRUN "/"

/* ---- every type has its implementation ------------------------------------- */

static void test_every_core_type_is_runnable(void **state)
{
    (void)state;
    const char *names[] = {"log", "log.fetch", "debug.return", "debug.echo", "output.values",
                           "execution.fail", "execution.exit", "execution.labels", "flow.sleep",
                           "kv.set", "kv.get", "kv.delete", "kv.get_keys", "storage.write",
                           "storage.concat", "storage.split", "storage.delete", "storage.size",
                           "storage.reverse", "storage.purge_current_execution_files",
                           "execution.assert", "state.set", "state.get", "state.delete",
                           "trigger.toggle", "templating.templated_task", "storage.local_files",
                           "namespace.upload_files", "namespace.download_files", "namespace.delete_files",
                           "io.kestra.core.tasks.debugs.Return", "io.kestra.plugin.core.kv.Set"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const type_def *d = flow_type_find(names[i]);
        if (!d)
            fail_msg("type %s is not registered", names[i]);
        if (!d->hooks)
            fail_msg("type %s has no implementation", names[i]);
    }
    /* a flowable has none */
    assert_null(flow_type_find("flow.sequential")->hooks);
}

/* ---- log, return, echo, output values -------------------------------------- */

static void test_log_string_at_level(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"hello {{ name }}\","
                            "\"level\":\"WARN\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(f->logs), 1);
    assert_string_equal(log_msg(f, 0), "hello kite");
    assert_string_equal(log_level(f, 0), "WARN");
    /* INFO by default */
    assert_int_equal(run(f, "{\"type\":\"log\",\"message\":\"x\"}", &e), TASK_SUCCESS);
    assert_string_equal(log_level(f, 0), "INFO");
}

static void test_log_list_logs_each(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"log\",\"message\":[\"five first\",\"{{ name }} second\"],"
                            "\"level\":\"debug\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(f->logs), 2);
    assert_string_equal(log_msg(f, 0), "five first");
    assert_string_equal(log_msg(f, 1), "kite second");
    assert_string_equal(log_level(f, 1), "DEBUG");
    /* a message that renders to null logs the empty text a template prints */
    assert_int_equal(run(f, "{\"type\":\"log\",\"message\":\"{{ nil }}\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(f->logs), 1);
    assert_string_equal(log_msg(f, 0), "");
}

static void test_log_errors(void **state)
{
    fx *f = *state;
    assert_fails_with(f, "{\"type\":\"log\",\"message\":\"x\",\"level\":\"LOUD\"}",
                      "property 'level': unknown log level 'LOUD'");
    assert_fails_with(f, "{\"type\":\"log\"}", "property 'message' is required");
    assert_fails_with(f, "{\"type\":\"log\",\"message\":\"{{ nope }}\"}", "property 'message'");
    assert_int_equal(json_array_size(f->logs), 0);
}

static void test_return_outputs_value(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.core.tasks.debugs.Return\","
                            "\"format\":\"{{ flow.id }} > {{ 1 + 2 }}\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), FLOW " > 3");
    /* Kestra's metrics: length (counter) and duration (timer) */
    json_t *m0 = json_array_get(f->c.metrics, 0), *m1 = json_array_get(f->c.metrics, 1);
    assert_string_equal(json_string_value(json_object_get(m0, "name")), "length");
    assert_string_equal(json_string_value(json_object_get(m0, "type")), "counter");
    assert_true(json_number_value(json_object_get(m0, "value")) == 9);
    assert_string_equal(json_string_value(json_object_get(m1, "name")), "duration");
    assert_string_equal(json_string_value(json_object_get(m1, "type")), "timer");
    /* logged at DEBUG */
    assert_string_equal(log_level(f, 0), "DEBUG");
    assert_string_equal(log_msg(f, 0), FLOW " > 3");
    /* a whole expression keeps its type, and is printed as a template prints it */
    assert_int_equal(run(f, "{\"type\":\"debug.return\",\"format\":\"{{ 1 + 2 }}\"}", &e),
                     TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "3");
    /* no format: a null value */
    assert_int_equal(run(f, "{\"type\":\"debug.return\"}", &e), TASK_SUCCESS);
    assert_true(json_is_null(json_object_get(f->c.outputs, "value")));
    /* a format that renders to null returns "" */
    assert_int_equal(run(f, "{\"type\":\"debug.return\",\"format\":\"{{ nil }}\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "");
}

static void test_echo_logs_format(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.debug.Echo\",\"format\":\"task {{ n }}\","
                            "\"level\":\"ERROR\"}", &e), TASK_SUCCESS);
    assert_string_equal(log_msg(f, 0), "task 0");
    assert_string_equal(log_level(f, 0), "ERROR");
    /* no format: nothing logged */
    assert_int_equal(run(f, "{\"type\":\"debug.echo\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(f->logs), 0);
}

static void test_output_values_rendered_recursively(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"output.values\",\"values\":{\"output1\":\"xyz\","
                            "\"who\":\"{{ name }}\",\"nested\":{\"list\":[1,\"{{ n + 1 }}\"]}}}", &e),
                     TASK_SUCCESS);
    json_t *v = json_object_get(f->c.outputs, "values");
    assert_string_equal(json_string_value(json_object_get(v, "output1")), "xyz");
    assert_string_equal(json_string_value(json_object_get(v, "who")), "kite");
    json_t *list = json_object_get(json_object_get(v, "nested"), "list");
    assert_int_equal(json_integer_value(json_array_get(list, 0)), 1);
    assert_int_equal(json_integer_value(json_array_get(list, 1)), 1);
    /* none: an empty map */
    assert_int_equal(run(f, "{\"type\":\"output.values\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_object_size(json_object_get(f->c.outputs, "values")), 0);
    assert_fails_with(f, "{\"type\":\"output.values\",\"values\":\"abc\"}",
                      "property 'values' must be a map");
}

/* ---- fail, exit ------------------------------------------------------------ */

static void test_fail(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_fails_with(f, "{\"type\":\"io.kestra.plugin.core.execution.Fail\"}", "Task failure");
    assert_fails_with(f, "{\"type\":\"execution.fail\",\"errorMessage\":\"bad {{ name }}\"}",
                      "bad kite");
    /* a condition that renders true fails, false-ish ones succeed */
    assert_fails_with(f, "{\"type\":\"execution.fail\",\"condition\":\"{{ name == 'kite' }}\"}",
                      "Task failure");
    const char *falsy[] = {"{{ name == 'x' }}", "false", "0", "-0", ""};
    for (size_t i = 0; i < 5; i++) {
        char t[256];
        snprintf(t, sizeof t, "{\"type\":\"execution.fail\",\"condition\":\"%s\"}", falsy[i]);
        if (run(f, t, &e) != TASK_SUCCESS)
            fail_msg("condition '%s' failed the task: %s", falsy[i], e.msg);
    }
    /* Kestra's truthiness: any other text is true */
    assert_fails_with(f, "{\"type\":\"execution.fail\",\"condition\":\"yes\"}", "Task failure");
    assert_fails_with(f, "{\"type\":\"execution.fail\",\"condition\":\"{{ missing }}\"}",
                      "property 'condition'");
}

static void test_exit_sets_state(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.execution.Exit\"}", &e), TASK_SUCCESS);
    assert_int_equal(f->c.exit_state, STATE_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"execution.exit\",\"state\":\"KILLED\"}", &e), TASK_SUCCESS);
    assert_int_equal(f->c.exit_state, STATE_KILLED);
    assert_int_equal(run(f, "{\"type\":\"execution.exit\",\"state\":\"CANCELED\"}", &e), TASK_SUCCESS);
    assert_int_equal(f->c.exit_state, STATE_CANCELLED);
    assert_int_equal(run(f, "{\"type\":\"execution.exit\",\"state\":\"WARNING\",\"condition\":\"false\"}",
                         &e), TASK_SUCCESS);
    assert_int_equal(f->c.exit_state, -1);
    assert_fails_with(f, "{\"type\":\"execution.exit\",\"state\":\"RUNNING\"}",
                      "property 'state': 'RUNNING' is not an exit state");
    assert_int_equal(f->c.exit_state, -1);
}

/* ---- labels ---------------------------------------------------------------- */

static const char *label(fx *f, const char *k)
{
    return json_string_value(json_object_get(f->c.labels, k));
}

static void test_labels_map_list_and_json(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* a map: keys and values rendered, non-strings as text */
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.execution.Labels\",\"labels\":"
                            "{\"{{ name }}Key\":\"{{ flow.namespace ~ '.' ~ flow.id }}\",\"n\":3,"
                            "\"m\":{\"a\":1}}}", &e), TASK_SUCCESS);
    assert_string_equal(label(f, "kiteKey"), NS "." FLOW);
    assert_string_equal(label(f, "n"), "3");
    assert_string_equal(label(f, "m"), "{\"a\":1}");
    /* a list of key/value */
    assert_int_equal(run(f, "{\"type\":\"execution.labels\",\"labels\":[{\"key\":\"{{ name }}\","
                            "\"value\":\"v1\"},{\"key\":\"k2\",\"value\":true}]}", &e), TASK_SUCCESS);
    assert_string_equal(label(f, "kite"), "v1");
    assert_string_equal(label(f, "k2"), "true");
    /* a string holding JSON */
    assert_int_equal(run(f, "{\"type\":\"execution.labels\",\"labels\":\"{\\\"a\\\":\\\"b\\\"}\"}", &e),
                     TASK_SUCCESS);
    assert_string_equal(label(f, "a"), "b");
    assert_int_equal(json_object_size(f->c.labels), 1);
}

static void test_labels_errors(void **state)
{
    fx *f = *state;
    assert_fails_with(f, "{\"type\":\"execution.labels\",\"labels\":{\"system.correlationId\":\"x\"}}",
                      "label 'system.correlationId' is reserved");
    assert_fails_with(f, "{\"type\":\"execution.labels\",\"labels\":[{\"key\":\"system.x\",\"value\":\"1\"}]}",
                      "label 'system.x' is reserved");
    assert_fails_with(f, "{\"type\":\"execution.labels\",\"labels\":[{\"value\":\"1\"}]}",
                      "property 'labels': item 1 needs a string 'key'");
    assert_fails_with(f, "{\"type\":\"execution.labels\",\"labels\":\"not json\"}",
                      "property 'labels': 'not json' is not a JSON map");
    assert_fails_with(f, "{\"type\":\"execution.labels\",\"labels\":{\"k\":null}}",
                      "label 'k' has no value");
    assert_fails_with(f, "{\"type\":\"execution.labels\"}", "property 'labels' is required");
}

/* ---- assert ---------------------------------------------------------------- */

static void test_assert(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.execution.Assert\",\"conditions\":"
                            "[\"{{ name == 'kite' }}\",\"{{ 1 + 1 == 2 }}\"]}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(f->logs), 0);
    assert_fails_with(f, "{\"type\":\"execution.assert\",\"conditions\":[\"{{ name == 'kite' }}\","
                         "\"{{ 1 + 1 == 3 }}\",\"{{ missing }}\"],\"errorMessage\":\"checks of {{ name }}\"}",
                      "2 assertions failed!\nchecks of kite");
    assert_int_equal(json_array_size(f->logs), 2);
    assert_string_equal(log_msg(f, 0), "Assertion `{{ 1 + 1 == 3 }}` failed!");
    assert_string_equal(log_level(f, 0), "ERROR");
    assert_non_null(strstr(log_msg(f, 1), "Assertion `{{ missing }}` failed, failed to render"));
    json_t *m1 = json_array_get(f->c.metrics, 1);
    assert_string_equal(json_string_value(json_object_get(m1, "name")), "failed");
    assert_true(json_number_value(json_object_get(m1, "value")) == 2);
    assert_fails_with(f, "{\"type\":\"execution.assert\",\"conditions\":\"0\"}", "1 assertion failed!");
    assert_fails_with(f, "{\"type\":\"execution.assert\"}", "property 'conditions' is required");
}

/* ---- state ----------------------------------------------------------------- */

static void test_state_set_get_delete(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.state.Get\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 0);
    assert_fails_with(f, "{\"type\":\"state.get\",\"errorOnMissing\":true}",
                      "property 'name': no state at");

    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.state.Set\",\"data\":{\"value\":1,"
                            "\"m\":{\"a\":1}}}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 2);
    assert_string_equal(out_str(f, "key"), "kestra:///io/kestra/tests/" FLOW "/_states/default.json");
    /* merged: new keys added, old ones replaced, maps merged */
    assert_int_equal(run(f, "{\"type\":\"state.set\",\"data\":{\"value\":\"{{ n + 2 }}\",\"m\":{\"b\":2},"
                            "\"other\":true}}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 3);
    assert_int_equal(run(f, "{\"type\":\"state.get\"}", &e), TASK_SUCCESS);
    json_t *data = json_object_get(f->c.outputs, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "value")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(data, "m"), "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(data, "m"), "b")), 2);

    /* a ForEach value has its own state, unless taskrunValue is false */
    reset_ctx(f);
    json_t *t = json_pack("{s:s,s:{s:s}}", "type", "state.set", "data", "v", "in a");
    f->c.task = t;
    f->c.value = "a";
    assert_int_equal(flow_type_find("state.set")->hooks->run(&f->c, &e), TASK_SUCCESS);
    assert_non_null(strstr(out_str(f, "key"), "/_states/default/"));
    json_decref(t);
    reset_ctx(f);
    t = json_pack("{s:s}", "type", "state.get");
    f->c.task = t;
    f->c.value = "a";
    assert_int_equal(flow_type_find("state.get")->hooks->run(&f->c, &e), TASK_SUCCESS);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f->c.outputs, "data"), "v")),
                        "in a");
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 1);
    json_decref(t);
    reset_ctx(f);
    t = json_pack("{s:s,s:b}", "type", "state.get", "taskrunValue", 0);
    f->c.task = t;
    f->c.value = "a";
    assert_int_equal(flow_type_find("state.get")->hooks->run(&f->c, &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 3);
    json_decref(t);

    /* a namespace-wide state is apart from the flow's */
    assert_int_equal(run(f, "{\"type\":\"state.get\",\"namespace\":true}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 0);
    assert_int_equal(run(f, "{\"type\":\"state.set\",\"namespace\":true,\"name\":\"shared\",\"data\":{\"x\":1}}",
                         &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "key"), "kestra:///io/kestra/tests/_states/shared.json");

    assert_int_equal(run(f, "{\"type\":\"state.delete\"}", &e), TASK_SUCCESS);
    assert_true(json_is_true(json_object_get(f->c.outputs, "deleted")));
    assert_int_equal(run(f, "{\"type\":\"state.delete\"}", &e), TASK_SUCCESS);
    assert_true(json_is_false(json_object_get(f->c.outputs, "deleted")));
    assert_fails_with(f, "{\"type\":\"state.delete\",\"errorOnMissing\":true}", "property 'name': no state at");
    assert_int_equal(run(f, "{\"type\":\"state.get\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "count")), 0);

    assert_fails_with(f, "{\"type\":\"state.set\",\"name\":\"a/b\",\"data\":{}}", "property 'name'");
    assert_fails_with(f, "{\"type\":\"state.set\",\"data\":[1]}", "property 'data' must be a map");
}

/* ---- trigger toggle ---------------------------------------------------------- */

static void test_trigger_toggle(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *src = "id: " FLOW "\nnamespace: " NS "\ntasks:\n  - id: t\n    type: log\n    message: x\n"
                      "triggers:\n  - id: schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                      "    cron: \"* * * * *\"\n";
    /* stored without its JSON: the task reads the YAML */
    assert_int_equal(store_flow_put(f->db, NS, FLOW, src, NULL, NULL, NULL, &e), STORE_OK);
    assert_int_equal(run(f, "{\"type\":\"io.kestra.core.tasks.trigger.Toggle\",\"trigger\":\"schedule\"}", &e),
                     TASK_SUCCESS);
    store_trigger t = {0};
    assert_int_equal(store_trigger_get(f->db, NS, FLOW, "schedule", &t, &e), STORE_OK);
    assert_int_equal(t.disabled, 1);
    store_trigger_clear(&t);
    assert_int_equal(run(f, "{\"type\":\"trigger.toggle\",\"trigger\":\"schedule\",\"enabled\":true}", &e),
                     TASK_SUCCESS);
    assert_int_equal(store_trigger_get(f->db, NS, FLOW, "schedule", &t, &e), STORE_OK);
    assert_int_equal(t.disabled, 0);
    store_trigger_clear(&t);
    assert_fails_with(f, "{\"type\":\"trigger.toggle\",\"trigger\":\"nope\"}",
                      "property 'trigger': flow " NS "." FLOW " has no trigger 'nope'");
    assert_fails_with(f, "{\"type\":\"trigger.toggle\",\"trigger\":\"schedule\",\"flowId\":\"other\"}",
                      "property 'flowId': no flow " NS ".other");
    assert_fails_with(f, "{\"type\":\"trigger.toggle\"}", "property 'trigger' is required");
}

/* ---- templated task -------------------------------------------------------- */

static void test_templated_task(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* the spec is rendered first: here it picks the property's name */
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.templating.TemplatedTask\","
                            "\"spec\":\"type: io.kestra.plugin.core.debug.Return\\n{{ 'for' ~ 'mat' }}: hi {{ name }}\"}",
                         &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "hi kite");
    assert_ptr_equal(f->c.task, cur_task); /* given back */
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"type: debug.retrun\"}",
                      "property 'spec': unknown task type 'debug.retrun' (did you mean 'debug.return'?)");
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"type: flow.sequential\"}",
                      "'flow.sequential' is not a runnable task");
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"type: templating.templated_task\"}",
                      "is not a runnable task");
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"[1, 2\"}", "property 'spec':");
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"just text\"}",
                      "property 'spec' must render to a task");
    /* the inner task's own errors come through */
    assert_fails_with(f, "{\"type\":\"templating.templated_task\",\"spec\":\"type: kv.get\"}",
                      "property 'key' is required");
}

/* ---- sleep ----------------------------------------------------------------- */

static void test_sleep_waits(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t t0 = time_mono_us();
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.flow.Sleep\",\"duration\":\"PT0.25S\"}",
                         &e), TASK_SUCCESS);
    int64_t took = time_mono_us() - t0;
    assert_true(took >= 250000);
    assert_true(took < 2000000);
    assert_string_equal(log_msg(f, 0), "Waiting for PT0.25S");
    assert_string_equal(log_level(f, 0), "INFO");
    assert_fails_with(f, "{\"type\":\"flow.sleep\"}", "property 'duration' is required");
    assert_fails_with(f, "{\"type\":\"flow.sleep\",\"duration\":\"soon\"}", "property 'duration'");
    assert_fails_with(f, "{\"type\":\"flow.sleep\",\"duration\":\"-PT1S\"}",
                      "property 'duration' must not be negative");
}

static void *cancel_later(void *arg)
{
    fx *f = arg;
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&f->cancel, 1);
    return NULL;
}

static void test_sleep_cancelled_from_another_thread(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    reset_ctx(f);
    json_t *task = json_pack("{s:s,s:s}", "type", "flow.sleep", "duration", "PT30S");
    f->c.task = task;
    f->c.def = flow_type_find("flow.sleep");
    pthread_t th;
    int64_t t0 = time_mono_us();
    pthread_create(&th, NULL, cancel_later, f);
    task_result r = f->c.def->hooks->run(&f->c, &e);
    int64_t took = time_mono_us() - t0;
    pthread_join(th, NULL);
    assert_int_equal(r, TASK_KILLED);
    assert_true(took >= 150000);
    assert_true(took < 150000 + 400000); /* noticed within a slice or two */
    json_decref(task);
}

static void test_sleep_huge_duration_still_sleeps(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    reset_ctx(f);
    /* about 292,000 years: now + duration would wrap */
    json_t *task = json_pack("{s:s,s:I}", "type", "flow.sleep", "duration", (json_int_t)9223372036854LL);
    f->c.task = task;
    f->c.def = flow_type_find("flow.sleep");
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, f);
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_KILLED);
    pthread_join(th, NULL);
    json_decref(task);
}

static void test_sleep_stops_at_deadline(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    reset_ctx(f);
    json_t *task = json_pack("{s:s,s:s}", "type", "flow.sleep", "duration", "PT30S");
    f->c.task = task;
    f->c.def = flow_type_find("flow.sleep");
    f->c.deadline_us = time_mono_us() + 120000;
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_KILLED);
    assert_true(time_mono_us() < f->c.deadline_us + 400000);
    json_decref(task);
}

/* ---- log fetch ------------------------------------------------------------- */

static void add_execution(fx *f, const char *id, const char *flow)
{
    store_execution x = {0};
    x.id = (char *)id;
    x.namespace = NS;
    x.flow_id = (char *)flow;
    x.state = STATE_RUNNING;
    x.created_us = store_now_us();
    kerr e = KERR_INIT;
    int rc = store_execution_insert(f->db, &x, &e);
    if (rc && rc != STORE_DUPLICATE)
        fail_msg("insert execution: %s", e.msg);
}

static void add_log(fx *f, const char *exec, const char *task, store_level l, const char *msg)
{
    store_log lg = {0};
    lg.execution_id = (char *)exec;
    lg.task_id = (char *)task;
    lg.level = l;
    lg.message = (char *)msg;
    lg.at_us = 1700000000000000LL;
    kerr e = KERR_INIT;
    if (store_log_append(f->db, &lg, NULL, &e))
        fail_msg("log: %s", e.msg);
}

static void test_fetch_logs_to_a_file(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    add_execution(f, EXEC, FLOW);
    add_log(f, EXEC, "task-1", LEVEL_INFO, "task 1");
    add_log(f, EXEC, "task-2", LEVEL_INFO, "task 2");
    add_log(f, EXEC, "task-1", LEVEL_DEBUG, "debug 1");
    add_log(f, EXEC, "task-2", LEVEL_ERROR, "two\nlines");
    add_log(f, EXEC, NULL, LEVEL_WARN, "execution level");

    /* defaults: this execution, INFO and up */
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.log.Fetch\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 4);
    const char *uri = out_str(f, "uri");
    assert_non_null(uri);
    assert_true(!strncmp(uri, TASK_PREFIX, strlen(TASK_PREFIX)));
    char *text = read_uri(f, uri);
    assert_string_equal(text, "2023-11-14T22:13:20Z INFO task-1 task 1\n"
                              "2023-11-14T22:13:20Z INFO task-2 task 2\n"
                              "2023-11-14T22:13:20Z ERROR task-2 two\\nlines\n"
                              "2023-11-14T22:13:20Z WARN - execution level\n");
    free(text);

    /* one task, every level */
    assert_int_equal(run(f, "{\"type\":\"log.fetch\",\"tasksId\":[\"task-1\"],\"level\":\"TRACE\","
                            "\"executionId\":\"{{ execution.id }}\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 2);
    text = read_uri(f, out_str(f, "uri"));
    assert_non_null(strstr(text, "DEBUG task-1 debug 1\n"));
    assert_null(strstr(text, "task-2"));
    free(text);

    /* ERROR only */
    assert_int_equal(run(f, "{\"type\":\"log.fetch\",\"level\":\"ERROR\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 1);
}

static void test_fetch_other_execution(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    add_execution(f, "exec-same-flow", FLOW);
    add_execution(f, "exec-other-flow", "flow2");
    add_log(f, "exec-same-flow", "a", LEVEL_INFO, "from the same flow");
    add_log(f, "exec-other-flow", "b", LEVEL_INFO, "from another flow");

    assert_int_equal(run(f, "{\"type\":\"log.fetch\",\"executionId\":\"exec-same-flow\"}", &e),
                     TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 1);
    assert_fails_with(f, "{\"type\":\"log.fetch\",\"executionId\":\"exec-other-flow\"}",
                      "property 'executionId': execution 'exec-other-flow' is not an execution of "
                      "flow " NS "." FLOW);
    assert_int_equal(run(f, "{\"type\":\"log.fetch\",\"executionId\":\"exec-other-flow\","
                            "\"flowId\":\"flow2\"}", &e), TASK_SUCCESS);
    char *text = read_uri(f, out_str(f, "uri"));
    assert_non_null(strstr(text, "from another flow"));
    free(text);
    assert_fails_with(f, "{\"type\":\"log.fetch\",\"executionId\":\"nope\"}",
                      "property 'executionId': no execution 'nope'");
    assert_fails_with(f, "{\"type\":\"log.fetch\",\"tasksId\":[1]}",
                      "property 'tasksId': item 1 is not a string");
    assert_fails_with(f, "{\"type\":\"log.fetch\",\"level\":\"LOUD\"}", "property 'level'");
}

static void test_fetch_pages_through_many_logs(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    add_execution(f, EXEC, FLOW);
    char msg[32];
    for (int i = 0; i < 2500; i++) {
        snprintf(msg, sizeof msg, "m%d", i);
        add_log(f, EXEC, i % 2 ? "odd" : "even", LEVEL_INFO, msg);
    }
    assert_int_equal(run(f, "{\"type\":\"log.fetch\",\"tasksId\":\"odd\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 1250);
    char *text = read_uri(f, out_str(f, "uri"));
    /* every odd line once, in order */
    const char *p = text;
    for (int i = 1; i < 2500; i += 2) {
        snprintf(msg, sizeof msg, " odd m%d\n", i);
        const char *q = strstr(p, msg);
        if (!q)
            fail_msg("line %d missing or out of order", i);
        p = q + strlen(msg);
    }
    free(text);
}

/* No temporary file is left behind in tmp_root. */
static void assert_no_tmp_left(fx *f)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q kite-task-", f->dir);
    assert_int_not_equal(system(cmd), 0);
}

static void test_storage_tasks_stop_when_cancelled(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    buf b = BUF_INIT;
    for (int i = 0; i < 10000; i++)
        buf_printf(&b, "%d\n", i);
    put_uri(f, "kestra:///io/kestra/tests/f/_files/n.txt", buf_str(&b));
    buf_free(&b);

    reset_ctx(f);
    json_t *task = json_pack("{s:s,s:s,s:i}", "type", "storage.split", "from",
                             "kestra:///io/kestra/tests/f/_files/n.txt", "rows", 10);
    f->c.task = task;
    f->c.def = flow_type_find("storage.split");
    atomic_store(&f->cancel, 1);
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_KILLED);
    assert_null(json_object_get(f->c.outputs, "uris"));
    json_decref(task);
    assert_no_tmp_left(f);

    reset_ctx(f);
    task = json_pack("{s:s,s:[s]}", "type", "storage.concat", "files",
                     "kestra:///io/kestra/tests/f/_files/n.txt");
    f->c.task = task;
    f->c.def = flow_type_find("storage.concat");
    atomic_store(&f->cancel, 1);
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_KILLED);
    json_decref(task);
    assert_no_tmp_left(f);

    /* and the successful runs leave nothing either */
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/n.txt\","
                            "\"partitions\":3}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(f->c.outputs, "uris")), 3);
    assert_no_tmp_left(f);
}

/* ---- kv -------------------------------------------------------------------- */

static void test_kv_set_get_delete_keys(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.kv.Set\",\"key\":\"my_key\","
                            "\"value\":\"{{ name }}\"}", &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"my_num\",\"value\":42}", &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"other.key\",\"value\":{\"a\":[1]}}", &e),
                     TASK_SUCCESS);

    /* values keep their type */
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"my_key\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "kite");
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"my_num\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "value")), 42);

    /* stored in the flow's namespace: another namespace does not see it */
    json_t *v = NULL;
    assert_int_equal(store_kv_get(f->db, NS, "my_key", &v, &e), STORE_OK);
    json_decref(v);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"my_key\",\"namespace\":\"elsewhere\"}", &e),
                     TASK_SUCCESS);
    assert_true(json_is_null(json_object_get(f->c.outputs, "value")));

    assert_int_equal(run(f, "{\"type\":\"kv.get_keys\",\"prefix\":\"my_\"}", &e), TASK_SUCCESS);
    json_t *keys = json_object_get(f->c.outputs, "keys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), "my_key");
    assert_string_equal(json_string_value(json_array_get(keys, 1)), "my_num");
    assert_int_equal(run(f, "{\"type\":\"kv.get_keys\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(f->c.outputs, "keys")), 3);

    assert_int_equal(run(f, "{\"type\":\"kv.delete\",\"key\":\"my_key\"}", &e), TASK_SUCCESS);
    assert_true(json_is_true(json_object_get(f->c.outputs, "deleted")));
    assert_int_equal(run(f, "{\"type\":\"kv.delete\",\"key\":\"my_key\"}", &e), TASK_SUCCESS);
    assert_true(json_is_false(json_object_get(f->c.outputs, "deleted")));
    assert_fails_with(f, "{\"type\":\"kv.delete\",\"key\":\"my_key\",\"errorOnMissing\":true}",
                      "property 'key': no value for key 'my_key' in namespace " NS);
    assert_fails_with(f, "{\"type\":\"kv.get\",\"key\":\"my_key\",\"errorOnMissing\":true}",
                      "property 'key': no value for key 'my_key'");
}

static void test_kv_overwrite_and_types(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"once\",\"value\":\"1\"}", &e), TASK_SUCCESS);
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"once\",\"value\":\"2\",\"overwrite\":false}",
                      "property 'key': key 'once' already exists in namespace " NS);
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"fresh\",\"value\":\"2\",\"overwrite\":false}",
                         &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"once\",\"value\":\"3\"}", &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"once\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "3");

    /* kvType converts a string */
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"num\",\"value\":\"2.5\",\"kvType\":\"NUMBER\"}",
                         &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"num\"}", &e), TASK_SUCCESS);
    assert_true(json_is_real(json_object_get(f->c.outputs, "value")));
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"j\",\"value\":\"{\\\"a\\\":1}\",\"kvType\":\"JSON\"}",
                         &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"j\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "value"), "a")), 1);
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"n\",\"value\":\"abc\",\"kvType\":\"NUMBER\"}",
                      "property 'value': 'abc' is not a NUMBER");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"d\",\"value\":\"soon\",\"kvType\":\"DURATION\"}",
                      "property 'value': 'soon' is not a DURATION");

    /* bad keys and missing properties name what is wrong */
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"_x\",\"value\":1}",
                      "property 'key': '_x' must start with a letter or a digit");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"a b\",\"value\":1}",
                      "property 'key': 'a b' may only hold");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"value\":1}", "property 'key' is required");
    assert_fails_with(f, "{\"type\":\"kv.get\",\"key\":\"{{ nil }}\"}", "property 'key' is empty");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"k\"}", "property 'value' is required");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"k\",\"value\":1,\"ttl\":\"PT0S\"}",
                      "property 'ttl' must be a positive duration");
    assert_fails_with(f, "{\"type\":\"kv.set\",\"key\":\"k\",\"value\":1,\"overwrite\":\"maybe\"}",
                      "property 'overwrite' must be true or false");
}

static void test_kv_ttl_expires(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"short\",\"value\":\"v\",\"ttl\":\"PT0.2S\"}",
                         &e), TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"long\",\"value\":\"v\",\"ttl\":\"PT1H\"}", &e),
                     TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"short\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "value"), "v");
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"short\"}", &e), TASK_SUCCESS);
    assert_true(json_is_null(json_object_get(f->c.outputs, "value")));
    assert_int_equal(run(f, "{\"type\":\"kv.get_keys\"}", &e), TASK_SUCCESS);
    json_t *keys = json_object_get(f->c.outputs, "keys");
    assert_int_equal(json_array_size(keys), 1);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), "long");
    /* a ttl too large to add to now does not wrap into the past */
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"far\",\"value\":\"v\",\"ttl\":9223372036854}", &e),
                     TASK_SUCCESS);
    assert_int_equal(run(f, "{\"type\":\"kv.get\",\"key\":\"far\",\"errorOnMissing\":true}", &e), TASK_SUCCESS);
    /* an expired key may be set again with overwrite: false */
    assert_int_equal(run(f, "{\"type\":\"kv.set\",\"key\":\"short\",\"value\":\"w\",\"overwrite\":false}",
                         &e), TASK_SUCCESS);
}

/* ---- storage ------------------------------------------------------------------ */

static void test_storage_write_and_size(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.storage.Write\",\"content\":\"Hello {{ name }}\","
                            "\"extension\":\".txt\"}", &e), TASK_SUCCESS);
    const char *uri = out_str(f, "uri");
    assert_string_equal(uri, TASK_PREFIX "write.txt");
    char *text = read_uri(f, uri);
    assert_string_equal(text, "Hello kite");
    free(text);

    char size_task[512];
    snprintf(size_task, sizeof size_task, "{\"type\":\"storage.size\",\"uri\":\"%s\"}", TASK_PREFIX "write.txt");
    assert_int_equal(run(f, size_task, &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 10);
    /* kestra:/// names the same file */
    assert_int_equal(run(f, "{\"type\":\"storage.size\",\"uri\":\"kestra:///io/kestra/tests/" FLOW
                            "/executions/" EXEC "/tasks/" TASK "/" TASKRUN "/write.txt\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_integer_value(json_object_get(f->c.outputs, "size")), 10);

    /* no extension: .tmp, as Kestra's temporary file */
    assert_int_equal(run(f, "{\"type\":\"storage.write\",\"content\":\"\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "uri"), TASK_PREFIX "write.tmp");
    assert_int_equal(storage_size(f->files, out_str(f, "uri"), &e), 0);
    assert_fails_with(f, "{\"type\":\"storage.write\"}", "property 'content' is required");
    assert_fails_with(f, "{\"type\":\"storage.write\",\"content\":\"x\",\"extension\":\"/../x\"}",
                      "property 'extension'");
    assert_fails_with(f, "{\"type\":\"storage.size\",\"uri\":\"kestra:///io/kestra/tests/nope.txt\"}",
                      "property 'uri':");
    assert_fails_with(f, "{\"type\":\"storage.size\",\"uri\":\"http://x\"}", "property 'uri':");
    assert_fails_with(f, "{\"type\":\"storage.size\"}", "property 'uri' is required");
}

static void test_storage_delete(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *mine = "kestra:///io/kestra/tests/" FLOW "/executions/x1/tasks/a/b/f.txt";
    put_uri(f, mine, "data");
    char t[512];
    snprintf(t, sizeof t, "{\"type\":\"storage.delete\",\"uri\":\"%s\"}", mine);
    assert_int_equal(run(f, t, &e), TASK_SUCCESS);
    assert_true(json_is_true(json_object_get(f->c.outputs, "deleted")));
    assert_string_equal(out_str(f, "uri"), mine);
    assert_int_equal(storage_exists(f->files, mine, &e), 0);
    assert_int_equal(run(f, t, &e), TASK_SUCCESS);
    assert_true(json_is_false(json_object_get(f->c.outputs, "deleted")));
    snprintf(t, sizeof t, "{\"type\":\"storage.delete\",\"uri\":\"%s\",\"errorOnMissing\":true}", mine);
    assert_fails_with(f, t, "property 'uri': no file at");

    /* another namespace's files are out of reach */
    const char *theirs = "kestra:///io/other/f/executions/x1/tasks/a/b/f.txt";
    put_uri(f, theirs, "data");
    snprintf(t, sizeof t, "{\"type\":\"storage.delete\",\"uri\":\"%s\"}", theirs);
    assert_fails_with(f, t, "is not a file of namespace " NS);
    assert_int_equal(storage_exists(f->files, theirs, &e), 1);
    /* a child namespace is fine */
    const char *child = "kestra:///io/kestra/tests/sub/f/executions/x1/tasks/a/b/f.txt";
    put_uri(f, child, "data");
    snprintf(t, sizeof t, "{\"type\":\"storage.delete\",\"uri\":\"%s\"}", child);
    assert_int_equal(run(f, t, &e), TASK_SUCCESS);
    assert_fails_with(f, "{\"type\":\"storage.delete\",\"uri\":\"kestra:///a//b\"}", "property 'uri'");
}

static void test_storage_concat(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    put_uri(f, "kestra:///io/kestra/tests/f/_files/a.txt", "Hello John");
    put_uri(f, "kestra:///io/kestra/tests/f/_files/b.txt", "Hello Jane");
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.storage.Concat\",\"files\":["
                            "\"kite:///io/kestra/tests/f/_files/a.txt\",\"kestra:///io/kestra/tests/f/_files/b.txt\"],"
                            "\"separator\":\"\\n\",\"extension\":\".txt\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "uri"), TASK_PREFIX "concat.txt");
    char *text = read_uri(f, out_str(f, "uri"));
    assert_string_equal(text, "Hello John\nHello Jane\n"); /* after every file, as Kestra */
    free(text);
    /* a JSON string of a list, no separator, default extension */
    assert_int_equal(run(f, "{\"type\":\"storage.concat\",\"files\":\"[\\\"kestra:///io/kestra/tests/f/_files/b.txt\\\","
                            "\\\"kestra:///io/kestra/tests/f/_files/a.txt\\\"]\"}", &e), TASK_SUCCESS);
    assert_string_equal(out_str(f, "uri"), TASK_PREFIX "concat.tmp");
    text = read_uri(f, out_str(f, "uri"));
    assert_string_equal(text, "Hello JaneHello John");
    free(text);
    assert_fails_with(f, "{\"type\":\"storage.concat\",\"files\":[\"kestra:///io/kestra/tests/f/_files/a.txt\","
                         "\"kestra:///io/kestra/tests/f/_files/none.txt\"]}",
                      "property 'files': item 2:");
    assert_fails_with(f, "{\"type\":\"storage.concat\",\"files\":[1]}",
                      "property 'files': item 1 is not a URI string");
    assert_fails_with(f, "{\"type\":\"storage.concat\",\"files\":\"hello\"}", "property 'files':");
    assert_fails_with(f, "{\"type\":\"storage.concat\"}", "property 'files' is required");
}

/* Splits `from` with the given extra properties, concatenates the parts and
 * checks the result equals `content`; returns the number of parts. */
static size_t split_roundtrip(fx *f, const char *from, const char *props, const char *content)
{
    kerr e = KERR_INIT;
    char t[1024];
    snprintf(t, sizeof t, "{\"type\":\"io.kestra.plugin.core.storage.Split\",\"from\":\"%s\",%s}", from,
             props);
    if (run(f, t, &e) != TASK_SUCCESS)
        fail_msg("split %s: %s", props, e.msg);
    json_t *uris = json_deep_copy(json_object_get(f->c.outputs, "uris"));
    size_t n = json_array_size(uris);
    json_t *concat = json_pack("{s:s,s:O}", "type", "storage.concat", "files", uris);
    char *cj = json_dumps(concat, 0);
    if (run(f, cj, &e) != TASK_SUCCESS)
        fail_msg("concat: %s", e.msg);
    char *back = read_uri(f, out_str(f, "uri"));
    assert_string_equal(back, content);
    free(back);
    free(cj);
    json_decref(concat);
    json_decref(uris);
    return n;
}

static void test_storage_split_rows_and_roundtrip(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *from = "kestra:///io/kestra/tests/f/_files/data.csv";
    put_uri(f, from, "1\n2\n3\n4\n5\n6\n7\n");
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/data.csv\","
                            "\"rows\":3}", &e), TASK_SUCCESS);
    json_t *uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_array_size(uris), 3);
    assert_string_equal(json_string_value(json_array_get(uris, 0)), TASK_PREFIX "split-00001.csv");
    char *p = read_uri(f, json_string_value(json_array_get(uris, 0)));
    assert_string_equal(p, "1\n2\n3\n");
    free(p);
    p = read_uri(f, json_string_value(json_array_get(uris, 2)));
    assert_string_equal(p, "7\n");
    free(p);
    assert_int_equal(split_roundtrip(f, from, "\"rows\":1", "1\n2\n3\n4\n5\n6\n7\n"), 7);
    assert_int_equal(split_roundtrip(f, from, "\"rows\":\"100\"", "1\n2\n3\n4\n5\n6\n7\n"), 1);

    /* partitions: round robin, empty partitions dropped */
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/data.csv\","
                            "\"partitions\":2}", &e), TASK_SUCCESS);
    uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_array_size(uris), 2);
    p = read_uri(f, json_string_value(json_array_get(uris, 0)));
    assert_string_equal(p, "1\n3\n5\n7\n");
    free(p);
    p = read_uri(f, json_string_value(json_array_get(uris, 1)));
    assert_string_equal(p, "2\n4\n6\n");
    free(p);
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/data.csv\","
                            "\"partitions\":20}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(f->c.outputs, "uris")), 7);

    /* CRLF lines are read as lines, written with the separator */
    put_uri(f, "kestra:///io/kestra/tests/f/_files/crlf.txt", "a\r\nb\r\nc");
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/crlf.txt\","
                            "\"rows\":2,\"separator\":\";\"}", &e), TASK_SUCCESS);
    uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_array_size(uris), 2);
    p = read_uri(f, json_string_value(json_array_get(uris, 0)));
    assert_string_equal(p, "a;b;");
    free(p);
    p = read_uri(f, json_string_value(json_array_get(uris, 1)));
    assert_string_equal(p, "c;");
    free(p);
}

static void test_storage_split_bytes_roundtrip(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* 2,000 lines of varied length, about 30 KB */
    buf b = BUF_INIT;
    for (int i = 0; i < 2000; i++) {
        buf_printf(&b, "line %d ", i);
        for (int k = 0; k < i % 23; k++)
            buf_putc(&b, (char)('a' + k));
        buf_putc(&b, '\n');
    }
    const char *from = "kestra:///io/kestra/tests/f/_files/big.txt";
    put_uri(f, from, buf_str(&b));

    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/big.txt\","
                            "\"bytes\":\"4KB\"}", &e), TASK_SUCCESS);
    json_t *uris = json_object_get(f->c.outputs, "uris");
    size_t n = json_array_size(uris);
    assert_true(n >= b.len / 4096 + 1);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t sz = storage_size(f->files, json_string_value(json_array_get(uris, i)), &e);
        assert_true(sz > 0 && sz <= 4096);
        if (i + 1 < n)
            assert_true(sz > 4096 - 64); /* filled up to the last line that fits */
        total += (size_t)sz;
    }
    assert_int_equal(total, b.len);
    assert_int_equal(split_roundtrip(f, from, "\"bytes\":\"4KB\"", buf_str(&b)), n);
    size_t n1000 = split_roundtrip(f, from, "\"bytes\":1000", buf_str(&b));
    assert_true(n1000 >= b.len / 1000 && n1000 <= b.len / 900 + 1);
    assert_true(split_roundtrip(f, from, "\"bytes\":\"1mb\"", buf_str(&b)) == 1);
    /* a line longer than the limit is a part of its own */
    put_uri(f, "kestra:///io/kestra/tests/f/_files/long.txt", "short\nthis line is long\nx\n");
    assert_int_equal(split_roundtrip(f, "kestra:///io/kestra/tests/f/_files/long.txt", "\"bytes\":8",
                                     "short\nthis line is long\nx\n"), 3);
    buf_free(&b);
}

static void test_storage_split_regex_groups_lines(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    put_uri(f, "kestra:///io/kestra/tests/f/_files/logs.txt",
            "[INFO] a\n[ERROR] b\nno level\n[INFO] c\n[WARN] d\n[ERROR] e\n\xff\xfe bad utf-8\n");
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/logs.txt\","
                            "\"regexPattern\":\"\\\\[(\\\\w+)\\\\]\"}", &e), TASK_SUCCESS);
    json_t *uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_array_size(uris), 3);
    /* in the order the values first appear; unmatched lines dropped */
    const char *want[] = {"[INFO] a\n[INFO] c\n", "[ERROR] b\n[ERROR] e\n", "[WARN] d\n"};
    for (size_t i = 0; i < 3; i++) {
        char *p = read_uri(f, json_string_value(json_array_get(uris, i)));
        assert_string_equal(p, want[i]);
        free(p);
    }
    /* a pattern without a group matches nothing */
    assert_int_equal(run(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/logs.txt\","
                            "\"regexPattern\":\"INFO\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(f->c.outputs, "uris")), 0);
    assert_fails_with(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/logs.txt\","
                         "\"regexPattern\":\"([a-\"}", "property 'regexPattern':");
    assert_fails_with(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/logs.txt\","
                         "\"regexPattern\":\"(x)\",\"rows\":1}", "set only one of them");
}

static void test_storage_reverse(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    struct { const char *in, *out; } cases[] = {
        {"1\n2\n3\n", "3\n2\n1\n"},
        {"1\n2\n3", "3\n2\n1\n"},
        {"a\r\nb\r\nc\r\n", "c\nb\na\n"},
        {"a\rb", "b\na\n"},
        {"x\n\ny\n", "y\n\nx\n"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_uri(f, "kestra:///io/kestra/tests/f/_files/r.csv", cases[i].in);
        assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.storage.Reverse\","
                                "\"from\":\"kestra:///io/kestra/tests/f/_files/r.csv\"}", &e), TASK_SUCCESS);
        assert_string_equal(out_str(f, "uri"), TASK_PREFIX "reverse.csv");
        char *p = read_uri(f, out_str(f, "uri"));
        if (strcmp(p, cases[i].out))
            fail_msg("case %zu: got '%s'", i, p);
        free(p);
    }
    put_uri(f, "kestra:///io/kestra/tests/f/_files/r.csv", "1\n2\n");
    assert_int_equal(run(f, "{\"type\":\"storage.reverse\",\"from\":\"kestra:///io/kestra/tests/f/_files/r.csv\","
                            "\"separator\":\",\"}", &e), TASK_SUCCESS);
    char *p = read_uri(f, out_str(f, "uri"));
    assert_string_equal(p, "2,1,");
    free(p);
    assert_fails_with(f, "{\"type\":\"storage.reverse\",\"from\":\"kestra:///io/kestra/tests/f/_files/r.csv\","
                         "\"charset\":\"UTF-16\"}", "property 'charset': 'UTF-16' is not supported");
    assert_fails_with(f, "{\"type\":\"storage.reverse\",\"from\":\"kestra:///io/kestra/tests/f/_files/none\"}",
                      "property 'from':");
    assert_no_tmp_left(f);
}

static void test_storage_purge_current_execution_files(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *a = "kestra:///io/kestra/tests/" FLOW "/executions/" EXEC "/tasks/x/y/a.txt";
    const char *b = "kestra:///io/kestra/tests/" FLOW "/executions/" EXEC "/inputs/file/b.txt";
    const char *other = "kestra:///io/kestra/tests/" FLOW "/executions/another/tasks/x/y/a.txt";
    put_uri(f, a, "a");
    put_uri(f, b, "b");
    put_uri(f, other, "o");
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles\"}", &e),
                     TASK_SUCCESS);
    json_t *uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_array_size(uris), 2);
    assert_int_equal(storage_exists(f->files, a, &e), 0);
    assert_int_equal(storage_exists(f->files, b, &e), 0);
    assert_int_equal(storage_exists(f->files, other, &e), 1);
    /* nothing left: an empty list */
    assert_int_equal(run(f, "{\"type\":\"storage.purge_current_execution_files\"}", &e), TASK_SUCCESS);
    assert_int_equal(json_array_size(json_object_get(f->c.outputs, "uris")), 0);
}

static void test_storage_local_files(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    char wd[128], cmd[512];
    snprintf(wd, sizeof wd, "%s/wd", f->dir);
    assert_int_equal(mkdir(wd, 0700), 0);
    put_uri(f, "kestra:///io/kestra/tests/f/_files/src.txt", "from storage");

    reset_ctx(f);
    json_t *task = json_pack("{s:s,s:{s:s,s:s,s:i},s:[s,s]}", "type", "io.kestra.plugin.core.storage.LocalFiles",
                             "inputs", "out/stay.txt", "{{ name }}", "copied.txt",
                             "kestra:///io/kestra/tests/f/_files/src.txt", "n.txt", 42,
                             "outputs", "out/*", "n.txt");
    f->c.task = task;
    f->c.def = flow_type_find("storage.local_files");
    f->c.workdir = wd;
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_SUCCESS);
    json_t *uris = json_object_get(f->c.outputs, "uris");
    assert_int_equal(json_object_size(uris), 2);
    const char *u = json_string_value(json_object_get(uris, "out/stay.txt"));
    assert_string_equal(u, TASK_PREFIX "out/stay.txt");
    char *text = read_uri(f, u);
    assert_string_equal(text, "kite");
    free(text);
    text = read_uri(f, json_string_value(json_object_get(uris, "n.txt")));
    assert_string_equal(text, "42");
    free(text);
    snprintf(cmd, sizeof cmd, "grep -qx 'from storage' %s/copied.txt", wd);
    assert_int_equal(system(cmd), 0);
    json_decref(task);

    /* outputs only: "**" reaches into folders */
    reset_ctx(f);
    task = json_pack("{s:s,s:[s]}", "type", "storage.local_files", "outputs", "**/*.txt");
    f->c.task = task;
    f->c.def = flow_type_find("storage.local_files");
    f->c.workdir = wd;
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_SUCCESS);
    assert_int_equal(json_object_size(json_object_get(f->c.outputs, "uris")), 3);
    json_decref(task);

    /* paths that leave the folder, and symbolic links, are refused */
    snprintf(cmd, sizeof cmd, "ln -s %s %s/link", f->dir, wd);
    assert_int_equal(system(cmd), 0);
    const char *bad[] = {"../x.txt", "/etc/x", "a//b", "out/", "link/evil.txt", "link"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset_ctx(f);
        task = json_pack("{s:s,s:{s:s}}", "type", "storage.local_files", "inputs", bad[i], "x");
        f->c.task = task;
        f->c.def = flow_type_find("storage.local_files");
        f->c.workdir = wd;
        assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_FAILED);
        if (!strstr(e.msg, "property 'inputs'"))
            fail_msg("'%s': %s", bad[i], e.msg);
        json_decref(task);
    }
    snprintf(cmd, sizeof cmd, "test ! -e %s/evil.txt", f->dir);
    assert_int_equal(system(cmd), 0);

    /* no working folder: a clear error */
    assert_fails_with(f, "{\"type\":\"storage.local_files\",\"outputs\":[\"*\"]}",
                      "works inside a WorkingDirectory");
}

/* ---- namespace files ----------------------------------------------------------- */

static void test_namespace_files(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    put_uri(f, "kestra:///io/kestra/tests/f/_files/in.txt", "hello");
    char wd[128], cmd[512];
    snprintf(wd, sizeof wd, "%s/wd", f->dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/sub && echo one > %s/sub/a.py && echo two > %s/b.txt", wd, wd, wd);
    assert_int_equal(system(cmd), 0);

    /* upload: a URI, and patterns over the working folder */
    reset_ctx(f);
    json_t *task = json_pack("{s:s,s:s,s:[s,s],s:s}", "type", "io.kestra.plugin.core.namespace.UploadFiles",
                             "namespace", "company.team", "files", "kestra:///io/kestra/tests/f/_files/in.txt",
                             "**/*.py", "destination", "/scripts");
    f->c.task = task;
    f->c.def = flow_type_find("namespace.upload_files");
    f->c.workdir = wd;
    assert_int_equal(f->c.def->hooks->run(&f->c, &e), TASK_SUCCESS);
    json_t *files = json_object_get(f->c.outputs, "files");
    assert_int_equal(json_object_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(files, "/scripts/in.txt")),
                        "kestra:///company/team/_files/scripts/in.txt");
    assert_non_null(json_object_get(files, "/scripts/sub/a.py"));
    json_decref(task);

    /* a map of destination to URI, and the conflict modes */
    assert_int_equal(run(f, "{\"type\":\"namespace.upload_files\",\"namespace\":\"company.team\","
                            "\"filesMap\":{\"/conf/x.txt\":\"kestra:///io/kestra/tests/f/_files/in.txt\"}}", &e),
                     TASK_SUCCESS);
    assert_fails_with(f, "{\"type\":\"namespace.upload_files\",\"namespace\":\"company.team\",\"conflict\":\"ERROR\","
                         "\"files\":{\"conf/x.txt\":\"kestra:///io/kestra/tests/f/_files/in.txt\"}}",
                      "namespace file '/conf/x.txt' already exists");
    assert_int_equal(run(f, "{\"type\":\"namespace.upload_files\",\"namespace\":\"company.team\",\"conflict\":\"SKIP\","
                            "\"files\":{\"conf/x.txt\":\"kestra:///io/kestra/tests/f/_files/in.txt\"}}", &e),
                     TASK_SUCCESS);
    assert_int_equal(json_object_size(json_object_get(f->c.outputs, "files")), 0);

    /* download by pattern, with or without the leading slash */
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.namespace.DownloadFiles\",\"namespace\":\"company.team\","
                            "\"files\":[\"/scripts/**\"]}", &e), TASK_SUCCESS);
    files = json_object_get(f->c.outputs, "files");
    assert_int_equal(json_object_size(files), 2);
    const char *u = json_string_value(json_object_get(files, "/scripts/sub/a.py"));
    assert_string_equal(u, TASK_PREFIX "scripts/sub/a.py");
    char *text = read_uri(f, u);
    assert_string_equal(text, "one\n");
    free(text);
    assert_int_equal(run(f, "{\"type\":\"namespace.download_files\",\"namespace\":\"company.team\","
                            "\"files\":\"conf/*.txt\",\"destination\":\"dl\"}", &e), TASK_SUCCESS);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f->c.outputs, "files"), "/conf/x.txt")),
                        TASK_PREFIX "dl/conf/x.txt");

    /* delete by pattern */
    assert_int_equal(run(f, "{\"type\":\"io.kestra.plugin.core.namespace.DeleteFiles\",\"namespace\":\"company.team\","
                            "\"files\":[\"**/*.txt\"]}", &e), TASK_SUCCESS);
    assert_true(json_number_value(json_object_get(json_array_get(f->c.metrics, 0), "value")) == 2);
    assert_int_equal(storage_exists(f->files, "kestra:///company/team/_files/scripts/sub/a.py", &e), 1);
    assert_int_equal(storage_exists(f->files, "kestra:///company/team/_files/conf/x.txt", &e), 0);

    assert_fails_with(f, "{\"type\":\"namespace.download_files\",\"files\":\"*\"}",
                      "property 'namespace' is required");
    assert_fails_with(f, "{\"type\":\"namespace.download_files\",\"namespace\":\"a..b\",\"files\":\"*\"}",
                      "property 'namespace'");
    assert_fails_with(f, "{\"type\":\"namespace.delete_files\",\"namespace\":\"a\",\"files\":[1]}",
                      "property 'files' must be a pattern or a list of patterns");
    assert_fails_with(f, "{\"type\":\"namespace.upload_files\",\"namespace\":\"a\",\"conflict\":\"MAYBE\"}",
                      "property 'conflict': 'MAYBE'");
}

static void test_storage_split_errors(void **state)
{
    fx *f = *state;
    put_uri(f, "kestra:///io/kestra/tests/f/_files/s.txt", "a\nb\n");
#define SPLIT_FROM "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/s.txt\""
    assert_fails_with(f, SPLIT_FROM "}",
                      "set one of the properties 'bytes', 'rows', 'partitions' or 'regexPattern'");
    assert_fails_with(f, SPLIT_FROM ",\"rows\":1,\"bytes\":\"1KB\"}", "set only one of them");
    assert_fails_with(f, SPLIT_FROM ",\"bytes\":\"10XB\"}", "property 'bytes': unknown unit 'XB'");
    assert_fails_with(f, SPLIT_FROM ",\"bytes\":\"lots\"}", "property 'bytes': 'lots' is not a size");
    assert_fails_with(f, SPLIT_FROM ",\"bytes\":\"0\"}", "property 'bytes' must be more than 0");
    assert_fails_with(f, SPLIT_FROM ",\"rows\":0}", "property 'rows' must be at least 1");
    assert_fails_with(f, SPLIT_FROM ",\"rows\":\"many\"}", "property 'rows': 'many' is not an integer");
    assert_fails_with(f, SPLIT_FROM ",\"partitions\":100000}", "property 'partitions' must be between");
    assert_fails_with(f, "{\"type\":\"storage.split\",\"from\":\"kestra:///io/kestra/tests/f/_files/none.txt\","
                         "\"rows\":1}", "property 'from':");
    assert_fails_with(f, "{\"type\":\"storage.split\",\"rows\":1}", "property 'from' is required");
#undef SPLIT_FROM
}

/* ---- odd property values ------------------------------------------------------ */

/* Every task, from a valid base, with each of its properties replaced in turn
 * by values of every odd kind: each run ends (no crash, no hang: run it under
 * SANITIZER=address), and a failure always says something. */
static void test_odd_property_values(void **state)
{
    fx *f = *state;
    static const struct { const char *type, *base; } bases[] = {
        {"log", "{\"message\":\"m\"}"},
        {"log.fetch", "{}"},
        {"debug.return", "{\"format\":\"x\"}"},
        {"debug.echo", "{\"format\":\"x\"}"},
        {"output.values", "{\"values\":{\"a\":1}}"},
        {"execution.fail", "{}"},
        {"execution.exit", "{}"},
        {"execution.labels", "{\"labels\":{\"a\":\"b\"}}"},
        {"execution.assert", "{\"conditions\":[\"true\"]}"},
        {"flow.sleep", "{\"duration\":\"PT0S\"}"},
        {"kv.set", "{\"key\":\"k\",\"value\":1}"},
        {"kv.get", "{\"key\":\"k\"}"},
        {"kv.delete", "{\"key\":\"k\"}"},
        {"kv.get_keys", "{}"},
        {"state.set", "{\"data\":{\"a\":1}}"},
        {"state.get", "{}"},
        {"state.delete", "{}"},
        {"trigger.toggle", "{\"trigger\":\"t\"}"},
        {"templating.templated_task", "{\"spec\":\"type: debug.return\"}"},
        {"storage.write", "{\"content\":\"c\"}"},
        {"storage.concat", "{\"files\":[\"kestra:///io/kestra/tests/f/_files/o.txt\"]}"},
        {"storage.split", "{\"from\":\"kestra:///io/kestra/tests/f/_files/o.txt\",\"rows\":1}"},
        {"storage.delete", "{\"uri\":\"kestra:///io/kestra/tests/f/_files/none.txt\"}"},
        {"storage.size", "{\"uri\":\"kestra:///io/kestra/tests/f/_files/o.txt\"}"},
        {"storage.reverse", "{\"from\":\"kestra:///io/kestra/tests/f/_files/o.txt\"}"},
        {"namespace.upload_files", "{\"namespace\":\"n\",\"files\":[\"kestra:///io/kestra/tests/f/_files/o.txt\"]}"},
        {"namespace.download_files", "{\"namespace\":\"n\",\"files\":\"**\"}"},
        {"namespace.delete_files", "{\"namespace\":\"n\",\"files\":\"**\"}"},
    };
    static const char *odd[] = {
        "null", "0", "-1", "9223372036854775807", "1e300", "-1e300", "0.5", "true", "false",
        "\"\"", "\"{{\"", "\"{{ nil }}\"", "\"{{ [1, 2] }}\"", "\"x y\"", "\"-PT1S\"", "\"P9999999999D\"",
        "\"kestra:///\"", "\"kestra:///a/../b\"", "\"system.x\"", "[]", "[null]", "[1,\"a\",{}]",
        "{}", "{\"a\":{\"b\":[]}}", "{\"key\":1}", "[{\"key\":\"k\"}]",
    };
    put_uri(f, "kestra:///io/kestra/tests/f/_files/o.txt", "1\n2\n");
    size_t runs = 0;
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        const type_def *d = flow_type_find(bases[b].type);
        assert_non_null(d);
        for (const prop_def *p = d->props; p && p->name; p++) {
            for (size_t o = 0; o < sizeof odd / sizeof odd[0]; o++) {
                json_t *task = json_loads(bases[b].base, 0, NULL);
                assert_non_null(task);
                json_object_set_new(task, "type", json_string(bases[b].type));
                json_object_set_new(task, p->name, json_loads(odd[o], JSON_DECODE_ANY, NULL));
                reset_ctx(f);
                if (!strcmp(bases[b].type, "flow.sleep"))
                    atomic_store(&f->cancel, 1); /* a huge duration must not hang the test */
                f->c.task = task;
                f->c.def = d;
                kerr e = KERR_INIT;
                task_result r = d->hooks->run(&f->c, &e);
                if (r == TASK_FAILED && !e.msg[0])
                    fail_msg("%s with %s = %s failed without a message", bases[b].type, p->name,
                             odd[o]);
                json_decref(task);
                runs++;
            }
        }
    }
    assert_true(runs > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_core_type_is_runnable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_string_at_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_list_logs_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_outputs_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_logs_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_values_rendered_recursively, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_sets_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_map_list_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_set_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_toggle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_cancelled_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_stops_at_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_huge_duration_still_sleeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_logs_to_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_other_execution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_pages_through_many_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_set_get_delete_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_overwrite_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_ttl_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_write_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_concat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_split_rows_and_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_split_bytes_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_split_regex_groups_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_reverse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_purge_current_execution_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_local_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_split_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_tasks_stop_when_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_property_values, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(cur_task);
    return rc;
}
