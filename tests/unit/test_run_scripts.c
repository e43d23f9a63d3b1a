/*
 * test_run_scripts.c: the script tasks (tasks/scripts.c) run through
 * their hooks, found by their Kestra type names as the engine finds them,
 * against a real SQLite store and a real local storage in a temp folder, with
 * real child processes (sh, /usr/bin/python3, node when installed).
 *
 * The task_ctx is built by hand with a test ops table: render() evaluates
 * strings with the expression language against a small context, log()
 * appends {level, message} to an array the tests read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "expr/expr.h"
#include "flow/schema.h"
#include "storage/storage.h"
#include "store/store.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/proc.h"

#define NS "io.kestra.tests"
#define FLOW "flow1"
#define EXEC "exec0000000000000000001"
#define TASK "t1"
#define TASKRUN "tr000000000000000000001"
#define TASK_PREFIX "kestra:///io/kestra/tests/" FLOW "/executions/" EXEC "/tasks/" TASK "/" TASKRUN "/"

typedef struct fx {
    char dir[64];
    char shared[128];   /* a WorkingDirectory folder for tests that use one */
    store *db;
    storage *files;
    json_t *vars;
    json_t *logs;       /* [{level, message}] */
    atomic_int cancel;
    task_ctx c;
    json_t *task;
} fx;

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
    json_array_append_new(f->logs, json_pack("{s:s,s:s}", "level", store_level_name(level), "message", msg));
}

static json_t *t_render(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    if (err_path)
        *err_path = NULL;
    return t_render_value(c, v, e);
}

static const task_ctx_ops t_ops = {.render = t_render, .log = t_log};

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
    strcpy(f->dir, "/tmp/kite-runscripts-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->shared, sizeof f->shared, "%s/wd", f->dir);
    mkdir(f->shared, 0700);
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
    f->vars = json_pack("{s:s,s:i}", "name", "kite", "n", 7);
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
    json_decref(f->task);
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

/* Runs task (stolen) on a fresh context, keeping c->workdir / deadline set
 * by the caller through `prep`. */
static task_result run_ex(fx *f, json_t *task, const char *workdir, int64_t timeout_ms, kerr *e)
{
    reset_ctx(f);
    kerr_clear(e);
    json_decref(f->task);
    f->task = task;
    const type_def *d = flow_type_find(json_string_value(json_object_get(task, "type")));
    assert_non_null(d);
    const struct task_hooks *h = d->hooks;
    assert_non_null(h);
    f->c.task = task;
    f->c.def = d;
    f->c.workdir = workdir;
    if (timeout_ms)
        f->c.deadline_us = time_mono_us() + timeout_ms * 1000;
    return h->run(&f->c, e);
}

static task_result run(fx *f, json_t *task, kerr *e)
{
    return run_ex(f, task, NULL, 0, e);
}

#define SHELL "io.kestra.plugin.scripts.shell.Commands"
#define SHELL_SCRIPT "io.kestra.plugin.scripts.shell.Script"
#define PY "io.kestra.plugin.scripts.python.Commands"
#define PY_SCRIPT "io.kestra.plugin.scripts.python.Script"
#define NODE "io.kestra.plugin.scripts.node.Commands"
#define NODE_SCRIPT "io.kestra.plugin.scripts.node.Script"

/* Index of the first log whose message contains needle, or -1. */
static int find_log(fx *f, const char *needle)
{
    for (size_t i = 0; i < json_array_size(f->logs); i++) {
        const char *m = json_string_value(json_object_get(json_array_get(f->logs, i), "message"));
        if (m && strstr(m, needle))
            return (int)i;
    }
    return -1;
}

static const char *log_level(fx *f, int i)
{
    return json_string_value(json_object_get(json_array_get(f->logs, (size_t)i), "level"));
}

static void dump_logs(fx *f)
{
    for (size_t i = 0; i < json_array_size(f->logs) && i < 40; i++)
        fprintf(stderr, "  log %s %s\n", log_level(f, (int)i),
                json_string_value(json_object_get(json_array_get(f->logs, i), "message")));
}

#define assert_log(f, needle)                                                              \
    do {                                                                                   \
        if (find_log(f, needle) < 0) {                                                     \
            dump_logs(f);                                                                  \
            fail_msg("no log line contains '%s'", needle);                                 \
        }                                                                                  \
    } while (0)

#define assert_result(f, got, want, e)                                                     \
    do {                                                                                   \
        task_result g_ = (got);                                                            \
        if (g_ != (want)) {                                                                \
            dump_logs(f);                                                                  \
            fail_msg("result %d, wanted %d (error: %s)", g_, want, (e)->msg);              \
        }                                                                                  \
    } while (0)

static json_int_t out_int(fx *f, const char *key)
{
    return json_integer_value(json_object_get(f->c.outputs, key));
}

static int has_node(void)
{
    return access("/usr/bin/node", X_OK) == 0 || access("/usr/local/bin/node", X_OK) == 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_every_script_type_is_runnable(void **state)
{
    (void)state;
    tasks_register_all();
    const char *names[] = {"script.shell", "script.shell_script", "script.python", "script.python_script",
                           "script.node", "script.node_script", "script.bash_legacy",
                           "io.kestra.core.tasks.scripts.Python", "io.kestra.core.tasks.scripts.Node", SHELL, SHELL_SCRIPT, PY, PY_SCRIPT, NODE,
                           NODE_SCRIPT};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const type_def *d = flow_type_find(names[i]);
        if (!d || !d->hooks)
            fail_msg("type %s has no implementation", names[i]);
    }
}

static void test_commands_logs_outputs_metrics(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s,s,s]}", "type", SHELL, "commands", "echo hello {{ name }}",
                          "echo '::{\"outputs\":{\"a\":1,\"b\":\"x\"}}::'",
                          "echo '::{\"outputs\":{\"b\":\"y\"},\"metrics\":[{\"name\":\"rows\",\"type\":"
                          "\"counter\",\"value\":3,\"tags\":{\"k\":\"v\"}},{\"name\":\"t\",\"type\":\"timer\","
                          "\"value\":1.5}]}::'",
                          "echo '::{\"logs\":[{\"level\":\"ERROR\",\"message\":\"from marker\"}]}::'");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    int i = find_log(f, "hello kite");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "INFO");
    /* markers are not logged as lines */
    assert_int_equal(find_log(f, "::{"), -1);
    i = find_log(f, "from marker");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "ERROR");
    json_t *vars = json_object_get(f->c.outputs, "vars");
    assert_int_equal(json_integer_value(json_object_get(vars, "a")), 1);
    assert_string_equal(json_string_value(json_object_get(vars, "b")), "y");
    assert_int_equal(out_int(f, "exitCode"), 0);
    assert_int_equal(json_array_size(f->c.metrics), 2);
    json_t *m = json_array_get(f->c.metrics, 0);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "rows");
    assert_string_equal(json_string_value(json_object_get(m, "type")), "counter");
    assert_true(json_real_value(json_object_get(m, "value")) == 3.0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "tags"), "k")), "v");
    m = json_array_get(f->c.metrics, 1);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "timer");
    assert_true(json_real_value(json_object_get(m, "value")) == 1.5);
}

static void test_invalid_marker_warns(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s]}", "type", SHELL, "commands", "echo '::{\"outputs\":{nope}}::'",
                          "echo '::{\"metrics\":[{\"name\":\"x\",\"type\":\"gauge\",\"value\":1}]}::'");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    int i = find_log(f, "Invalid outputs");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "WARN");
    assert_log(f, "Invalid metric 0");
    assert_null(f->c.metrics);
}

static void test_exit_code_fails(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s]}", "type", SHELL, "commands", "echo '::{\"outputs\":{\"k\":2}}::'",
                          "exit 3");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_string_equal(e.msg, "Command failed with code 3");
    assert_int_equal(out_int(f, "exitCode"), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "k")), 2);
}

static void test_fail_fast(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s]}", "type", SHELL, "commands", "false", "echo after");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_string_equal(e.msg, "Command failed with code 1");
    assert_int_equal(find_log(f, "after"), -1);
    t = json_pack("{s:s,s:b,s:[s,s]}", "type", SHELL, "failFast", 0, "commands", "false", "echo after");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "after");
}

static void test_stderr_is_warn_and_warning(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s]}", "type", SHELL, "commands", "echo oops >&2");
    assert_result(f, run(f, t, &e), TASK_WARNING, &e);
    int i = find_log(f, "oops");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "WARN");
    t = json_pack("{s:s,s:b,s:[s]}", "type", SHELL, "warningOnStdErr", 0, "commands", "echo oops >&2");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "oops");
}

static void test_env_is_the_tasks_own(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    setenv("SECRET_LEAKCHECK", "c2VjcmV0", 1);
    setenv("KITE_API_TOKEN", "tok-123", 1);
    json_t *t = json_pack("{s:s,s:{s:s,s:i},s:[s]}", "type", SHELL, "env", "GREETING", "héllo {{ name }}",
                          "NUM", 5, "commands", "env");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    unsetenv("SECRET_LEAKCHECK");
    unsetenv("KITE_API_TOKEN");
    assert_int_equal(find_log(f, "SECRET_LEAKCHECK"), -1);
    assert_int_equal(find_log(f, "c2VjcmV0"), -1);
    assert_int_equal(find_log(f, "tok-123"), -1);
    assert_log(f, "GREETING=héllo kite");
    assert_log(f, "NUM=5");
    assert_log(f, "LANG=C.UTF-8");
    assert_log(f, "WORKING_DIR=/");
    assert_log(f, "OUTPUT_DIR=/");
    assert_log(f, "HOME=/");
    assert_log(f, "PATH=/usr/local/sbin:");
}

static void test_input_and_output_files(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    kerr pe = KERR_INIT;
    const char *src = "kestra:///io/kestra/tests/" FLOW "/executions/" EXEC "/inputs/data/in.csv";
    assert_int_equal(storage_put(f->files, src, "a,b\n1,2\n", 8, &pe), 0);
    json_t *t = json_pack("{s:s,s:{s:s,s:s},s:[s,s],s:[s,s,s,s]}", "type", SHELL, "inputFiles", "sub/dir/x.txt",
                          "inline {{ n }}", "data.csv", src, "outputFiles", "*.out", "deep/**",
                          "commands", "cat sub/dir/x.txt; echo", "wc -l < data.csv",
                          "echo one > a.out; echo two > b.out; echo no > c.txt; mkdir -p deep/er; echo d > deep/er/z",
                          "echo fromdir > \"$OUTPUT_DIR/od.txt\"");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "inline 7");
    assert_true(find_log(f, "2") >= 0);
    json_t *of = json_object_get(f->c.outputs, "outputFiles");
    assert_int_equal(json_object_size(of), 4);
    const char *want[][2] = {{"a.out", "one\n"}, {"b.out", "two\n"}, {"deep/er/z", "d\n"}, {"od.txt", "fromdir\n"}};
    for (size_t i = 0; i < 4; i++) {
        const char *uri = json_string_value(json_object_get(of, want[i][0]));
        if (!uri)
            fail_msg("no output file %s", want[i][0]);
        assert_true(!strncmp(uri, TASK_PREFIX, strlen(TASK_PREFIX)));
        buf b = BUF_INIT;
        assert_int_equal(storage_read_all(f->files, uri, 0, &b, &pe), 0);
        assert_string_equal(buf_str(&b), want[i][1]);
        buf_free(&b);
    }
    assert_null(json_object_get(of, "c.txt"));
}

static void test_input_files_cannot_escape(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *bad[] = {"../x", "/etc/x", "a/../../x", "a//b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "inputFiles", bad[i], "x", "commands", "true");
        assert_result(f, run(f, t, &e), TASK_FAILED, &e);
        assert_non_null(strstr(e.msg, "input file"));
    }
    /* a symbolic link in a shared folder is not followed */
    char link[256];
    snprintf(link, sizeof link, "%s/evil", f->shared);
    assert_int_equal(symlink(f->dir, link), 0);
    json_t *t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "inputFiles", "evil/pwned", "x", "commands", "true");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_FAILED, &e);
    char pwned[256];
    snprintf(pwned, sizeof pwned, "%s/pwned", f->dir);
    assert_int_equal(access(pwned, F_OK), -1);
    unlink(link);
    /* an output pattern that leaves the folder is refused */
    t = json_pack("{s:s,s:[s],s:[s]}", "type", SHELL, "outputFiles", "../*", "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "outputFiles"));
}

static void test_input_files_as_json_string_and_missing_uri(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:s,s:[s]}", "type", SHELL, "inputFiles", "{\"j.txt\": \"from json\"}", "commands",
                          "cat j.txt");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "from json");
    t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "inputFiles", "x", "kestra:///io/kestra/tests/nope.txt",
                  "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "input file 'x'"));
}

static void test_working_directory_is_shared(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s]}", "type", SHELL, "commands", "echo kept > note.txt; echo \"wd=$PWD\"");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_SUCCESS, &e);
    char want[256];
    snprintf(want, sizeof want, "wd=%s", f->shared);
    assert_log(f, want);
    t = json_pack("{s:s,s:[s]}", "type", SHELL, "commands", "cat note.txt");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_SUCCESS, &e);
    assert_log(f, "kept");
    /* the private run folders are gone, the shared one stays */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -d %s/kite-script-* 2>/dev/null | wc -l", f->dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    assert_int_equal(n, 0);
    snprintf(cmd, sizeof cmd, "%s/note.txt", f->shared);
    assert_int_equal(access(cmd, F_OK), 0);
}

static void test_working_dir_variables(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s]}", "type", SHELL, "commands",
                          "test \"{{ workingDir }}\" = \"$WORKING_DIR\" && test \"{{outputDir}}\" = \"$OUTPUT_DIR\" && echo same");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "same");
}

static void test_shell_script(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:s}", "type", SHELL_SCRIPT, "script",
                          "x={{ n }}\necho \"x is $x\"\necho '::{\"outputs\":{\"x\":'$x'}}::'\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "x is 7");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "x")), 7);
    /* with beforeCommands, through the interpreter */
    t = json_pack("{s:s,s:[s],s:s}", "type", SHELL_SCRIPT, "beforeCommands", "export B=before", "script",
                  "echo \"B=$B\"");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "B=before");
}

static void test_python_commands_and_script(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:{s:s},s:[s,s]}", "type", PY, "inputFiles", "main.py",
                          "import sys\nprint('exe', sys.executable)\nprint('::{\"outputs\":{\"v\":%d}}::' % (6*7))\n",
                          "commands", "python main.py", "python3 -c 'print(\"p3 ok\")'");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "p3 ok");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "v")), 42);
    int i = find_log(f, "exe ");
    assert_true(i >= 0);
    t = json_pack("{s:s,s:s}", "type", PY_SCRIPT, "script",
                  "def fibo(n):\n    return n if n < 2 else fibo(n-1) + fibo(n-2)\nprint('fibo', fibo(10))\n"
                  "print('ünïcødé ✓')\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "fibo 55");
    assert_log(f, "ünïcødé ✓");
    /* a Python exception: stderr lines at WARN, exit code 1 */
    t = json_pack("{s:s,s:s}", "type", PY_SCRIPT, "script", "raise ValueError('bad value')\n");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_string_equal(e.msg, "Command failed with code 1");
    i = find_log(f, "ValueError: bad value");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "WARN");
}

static void test_python_kestra_library(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:s}", "type", PY_SCRIPT, "script",
                          "from kestra import Kestra\n"
                          "Kestra.outputs({'a': 1, 'l': [1, 2]})\n"
                          "Kestra.counter('rows', 5, {'t': 'x'})\n"
                          "Kestra.timer('took', lambda: None)\n"
                          "Kestra.logger().warning('careful %s', 'now')\n"
                          "Kestra.logger().info('fine')\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    json_t *vars = json_object_get(f->c.outputs, "vars");
    assert_int_equal(json_integer_value(json_object_get(vars, "a")), 1);
    assert_int_equal(json_array_size(json_object_get(vars, "l")), 2);
    assert_int_equal(json_array_size(f->c.metrics), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->c.metrics, 0), "name")), "rows");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->c.metrics, 1), "type")), "timer");
    int i = find_log(f, "careful now");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "WARN");
    i = find_log(f, "fine");
    assert_true(i >= 0);
    assert_string_equal(log_level(f, i), "INFO");
    assert_int_equal(find_log(f, "::{"), -1);
    /* a real kestra package elsewhere on sys.path wins over kite's stand-in */
    t = json_pack("{s:s,s:{s:s},s:s}", "type", PY_SCRIPT, "inputFiles", "realpkg/kestra/__init__.py",
                  "REAL = True\n", "script",
                  "import os, sys\nsys.path.append(os.path.join(os.getcwd(), 'realpkg'))\n"
                  "import kestra\nprint('real', getattr(kestra, 'REAL', False))\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "real True");
}

static void test_node(void **state)
{
    fx *f = *state;
    if (!has_node())
        skip();
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:s}", "type", NODE_SCRIPT, "script",
                          "console.log('::' + JSON.stringify({outputs: {n: 1 + 1}}) + '::');\n"
                          "console.log('node says hi');\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "node says hi");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "n")), 2);
    t = json_pack("{s:s,s:[s]}", "type", NODE, "commands", "node -e 'console.log(\"cmd \" + (40 + 2))'");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "cmd 42");
}

static void test_node_missing_says_so(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* a PATH without node */
    json_t *t = json_pack("{s:s,s:{s:s},s:s}", "type", NODE_SCRIPT, "env", "PATH", "/nonexistent", "script",
                          "console.log(1)");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    if (!strstr(e.msg, "node") || !strstr(e.msg, "nodejs"))
        fail_msg("unclear error: %s", e.msg);
    t = json_pack("{s:s,s:{s:s},s:[s]}", "type", NODE, "env", "PATH", "/nonexistent", "commands", "node -v");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    if (!strstr(e.msg, "127") || !strstr(e.msg, "nodejs"))
        fail_msg("unclear error: %s", e.msg);
}

static void test_missing_interpreter(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s],s:[s]}", "type", SHELL, "interpreter", "/nonexistent/bash", "-c",
                          "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    if (!strstr(e.msg, "/nonexistent/bash") || !strstr(e.msg, "No such file"))
        fail_msg("unclear error: %s", e.msg);
}

static void test_custom_interpreter(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s],s:[s,s]}", "type", SHELL, "interpreter", "/bin/bash", "-c", "commands",
                          "echo \"bash ${BASH_VERSINFO[0]}\"", "false || echo rescued");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "bash ");
    assert_log(f, "rescued");
}

static void test_docker_warns_once(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:{s:s},s:s,s:[s]}", "type", SHELL, "taskRunner", "type",
                          "io.kestra.plugin.scripts.runner.docker.Docker", "containerImage", "ubuntu:22.04",
                          "commands", "echo ran");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "ran");
    int n = 0;
    for (size_t i = 0; i < json_array_size(f->logs); i++)
        if (strstr(json_string_value(json_object_get(json_array_get(f->logs, i), "message")), "Docker"))
            n++;
    assert_int_equal(n, 1);
    assert_log(f, "ubuntu:22.04");
    /* the process runner asked for explicitly: no warning */
    t = json_pack("{s:s,s:{s:s},s:s,s:[s]}", "type", SHELL, "taskRunner", "type",
                  "io.kestra.plugin.core.runner.Process", "containerImage", "ubuntu", "commands", "echo ran");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_int_equal(json_array_size(f->logs), 1);
}

static void test_unicode_and_invalid_utf8(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s,s]}", "type", SHELL, "commands", "echo 'héllo wörld ✓ 日本'",
                          "printf 'bad\\377byte\\n'", "echo '::{\"outputs\":{\"u\":\"ünï\"}}::'");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "héllo wörld ✓ 日本");
    assert_log(f, "bad\xEF\xBF\xBD" "byte");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f->c.outputs, "vars"), "u")), "ünï");
}

static void test_long_marker_line_is_joined(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* a 300 KB output value: the line comes from proc_run in pieces */
    json_t *t = json_pack("{s:s,s:s}", "type", PY_SCRIPT, "script",
                          "import json\nprint('::' + json.dumps({'outputs': {'big': 'x' * 300000}}) + '::')\n"
                          "print('y' * 200000)\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    const char *big = json_string_value(json_object_get(json_object_get(f->c.outputs, "vars"), "big"));
    assert_non_null(big);
    assert_int_equal(strlen(big), 300000);
    assert_int_equal(find_log(f, "::{"), -1);
    /* the long plain line is logged in pieces */
    assert_true(json_array_size(f->logs) >= 3);
    /* a long line that starts like a marker but is not one: logged in pieces */
    t = json_pack("{s:s,s:s}", "type", PY_SCRIPT, "script", "print('::{' + '\u00e9' * 100000)\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    size_t total = 0;
    assert_true(json_array_size(f->logs) >= 4);
    for (size_t i = 0; i < json_array_size(f->logs); i++) {
        const char *m = json_string_value(json_object_get(json_array_get(f->logs, i), "message"));
        assert_true(strlen(m) <= 65536);
        assert_null(strstr(m, "\xEF\xBF\xBD")); /* no character cut in two */
        total += strlen(m);
    }
    assert_int_equal(total, 3 + 200000);
}

static void test_huge_output_is_capped_not_deadlocked(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* 50 MB on stdout and some on stderr, then an output marker */
    json_t *t = json_pack("{s:s,s:b,s:[s,s,s]}", "type", SHELL, "warningOnStdErr", 0, "commands",
                          "yes 'a fairly long line of output, about sixty bytes of it....' | head -c 50000000; echo",
                          "yes err | head -c 1000000 >&2", "echo '::{\"outputs\":{\"done\":true}}::'");
    int64_t t0 = time_mono_us();
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    int64_t took = time_mono_us() - t0;
    assert_true(took < 60 * 1000000LL);
    assert_true(json_is_true(json_object_get(json_object_get(f->c.outputs, "vars"), "done")));
    size_t n = json_array_size(f->logs);
    assert_true(n <= 50001 + 1);
    assert_log(f, "too large to be logged");
}

static void test_timeout_ends_the_group(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s]}", "type", SHELL, "commands", "sleep 30 & echo $! > bg.pid", "sleep 30");
    int64_t t0 = time_mono_us();
    task_result r = run_ex(f, t, f->shared, 400, &e);
    int64_t took = time_mono_us() - t0;
    assert_result(f, r, TASK_FAILED, &e);
    assert_true(took < 10 * 1000000LL);
    assert_non_null(strstr(e.msg, "timed out"));
    char p[256];
    snprintf(p, sizeof p, "%s/bg.pid", f->shared);
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    int pid = 0;
    assert_int_equal(fscanf(fp, "%d", &pid), 1);
    fclose(fp);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void *cancel_later(void *arg)
{
    fx *f = arg;
    usleep(300000);
    atomic_store(&f->cancel, 1);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[s,s]}", "type", SHELL, "commands",
                          "(trap '' TERM; sleep 30) & echo $! > bg2.pid", "sleep 30");
    pthread_t th;
    int64_t t0 = time_mono_us();
    /* reset_ctx happens in run_ex: start the thread after a small delay so
     * that it sets the flag during the run */
    pthread_create(&th, NULL, cancel_later, f);
    task_result r = run_ex(f, t, f->shared, 0, &e);
    pthread_join(th, NULL);
    int64_t took = time_mono_us() - t0;
    assert_result(f, r, TASK_KILLED, &e);
    assert_true(took < 15 * 1000000LL);
    char p[256];
    snprintf(p, sizeof p, "%s/bg2.pid", f->shared);
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    int pid = 0;
    assert_int_equal(fscanf(fp, "%d", &pid), 1);
    fclose(fp);
    assert_int_equal(kill(pid, 0), -1);
}

static void put_ns_file(fx *f, const char *path, const char *content)
{
    kerr e = KERR_INIT;
    char *uri = storage_uri_namespace_file(NS, path, &e);
    assert_non_null(uri);
    assert_int_equal(storage_put(f->files, uri, content, strlen(content), &e), 0);
    free(uri);
}

static void test_namespace_files(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    put_ns_file(f, "scripts/main.py", "print('ns main')\n");
    put_ns_file(f, "scripts/lib/util.py", "X = 1\n");
    put_ns_file(f, "data/x.csv", "a,b\n");
    put_ns_file(f, "data/skip.csv", "no\n");
    put_ns_file(f, "other.txt", "no\n");
    json_t *t = json_pack("{s:s,s:{s:b,s:[s,s],s:[s]},s:[s,s]}", "type", PY, "namespaceFiles", "enabled", 1,
                          "include", "scripts/**", "data/*", "exclude", "data/skip*", "commands",
                          "find . -type f | sort | sed 's/^/file /'", "python scripts/main.py");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "file ./scripts/main.py");
    assert_log(f, "file ./scripts/lib/util.py");
    assert_log(f, "file ./data/x.csv");
    assert_log(f, "ns main");
    assert_int_equal(find_log(f, "skip.csv"), -1);
    assert_int_equal(find_log(f, "other.txt"), -1);
    /* all files, one folder per namespace */
    t = json_pack("{s:s,s:{s:b},s:[s]}", "type", SHELL, "namespaceFiles", "folderPerNamespace", 1, "commands",
                  "sed 's/^/got /' " NS "/other.txt");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "got no");
    /* disabled: nothing copied */
    t = json_pack("{s:s,s:{s:b},s:[s]}", "type", SHELL, "namespaceFiles", "enabled", 0, "commands",
                  "test ! -e other.txt && echo none");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "none");
    /* ifExists: FAIL on a file already in a shared folder */
    char p[256];
    snprintf(p, sizeof p, "%s/other.txt", f->shared);
    FILE *fp = fopen(p, "w");
    fputs("mine\n", fp);
    fclose(fp);
    t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "namespaceFiles", "ifExists", "FAIL", "commands", "true");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "other.txt"));
    t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "namespaceFiles", "ifExists", "IGNORE", "commands",
                  "cat other.txt");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_SUCCESS, &e);
    assert_log(f, "mine");
    t = json_pack("{s:s,s:{},s:[s]}", "type", SHELL, "namespaceFiles", "commands", "sed 's/^/got /' other.txt");
    assert_result(f, run_ex(f, t, f->shared, 0, &e), TASK_SUCCESS, &e);
    assert_log(f, "got no");
}

static void test_legacy_tasks(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    /* io.kestra.core.tasks.scripts.Bash: named output files and folders */
    json_t *t = json_pack("{s:s,s:[s,s],s:[s],s:[s,s,s,s]}", "type", "io.kestra.core.tasks.scripts.Bash",
                          "outputFiles", "first", "second", "outputDirs", "dir", "commands",
                          "echo 1 >> {{ outputFiles.first }}", "echo 2 >> {{outputFiles['second']}}",
                          "echo 3 > {{ outputDirs.dir }}/three.txt",
                          "echo lines; echo err >&2; echo '::{\"outputs\":{\"x\":1}}::'");
    assert_result(f, run(f, t, &e), TASK_WARNING, &e);
    json_t *of = json_object_get(f->c.outputs, "outputFiles");
    assert_int_equal(json_object_size(of), 3);
    const char *want[][2] = {{"first", "1\n"}, {"second", "2\n"}, {"dir/three.txt", "3\n"}};
    for (size_t i = 0; i < 3; i++) {
        const char *uri = json_string_value(json_object_get(of, want[i][0]));
        if (!uri)
            fail_msg("no output file %s", want[i][0]);
        buf b = BUF_INIT;
        kerr pe = KERR_INIT;
        assert_int_equal(storage_read_all(f->files, uri, 0, &b, &pe), 0);
        assert_string_equal(buf_str(&b), want[i][1]);
        buf_free(&b);
    }
    assert_int_equal(out_int(f, "stdOutLineCount"), 2);
    assert_int_equal(out_int(f, "stdErrLineCount"), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "x")), 1);
    /* interpreter + interpreterArgs, exitOnFailed: false */
    t = json_pack("{s:s,s:s,s:[s],s:b,s:[s,s]}", "type", "io.kestra.core.tasks.scripts.Bash", "interpreter",
                  "/bin/bash", "interpreterArgs", "-c", "exitOnFailed", 0, "commands", "false",
                  "echo \"bash ${BASH_VERSINFO[0]} went on\"");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "went on");
    /* io.kestra.core.tasks.scripts.Python: main.py by ./bin/python, the Kestra library */
    t = json_pack("{s:s,s:{s:s}}", "type", "io.kestra.core.tasks.scripts.Python", "inputFiles", "main.py",
                  "from kestra import Kestra\nKestra.outputs({'py': 3})\nprint('legacy python')\n");
    assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
    assert_log(f, "legacy python");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->c.outputs, "vars"), "py")), 3);
    if (has_node()) {
        t = json_pack("{s:s,s:{s:s}}", "type", "io.kestra.core.tasks.scripts.Node", "inputFiles", "main.js",
                      "console.log('legacy node')\n");
        assert_result(f, run(f, t, &e), TASK_SUCCESS, &e);
        assert_log(f, "legacy node");
    }
    /* a named output file may not leave the folder */
    t = json_pack("{s:s,s:[s],s:[s]}", "type", "io.kestra.core.tasks.scripts.Bash", "outputFiles", "../x",
                  "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "outputFiles"));
}

static void test_property_errors(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *t = json_pack("{s:s,s:[],s:[s]}", "type", SHELL, "interpreter", "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "interpreter"));
    t = json_pack("{s:s,s:[s]}", "type", SHELL, "env", "x");
    json_object_set_new(t, "env", json_string("x"));
    json_object_set_new(t, "commands", json_pack("[s]", "true"));
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "'env'"));
    t = json_pack("{s:s,s:{s:s},s:[s]}", "type", SHELL, "env", "A=B", "x", "commands", "true");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "env"));
    t = json_pack("{s:s,s:s}", "type", SHELL_SCRIPT, "script", "");
    assert_result(f, run(f, t, &e), TASK_FAILED, &e);
    assert_non_null(strstr(e.msg, "script"));
}

int main(void)
{
    proc_init_subreaper(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_script_type_is_runnable),
        cmocka_unit_test_setup_teardown(test_commands_logs_outputs_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_marker_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stderr_is_warn_and_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_is_the_tasks_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_and_output_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_files_cannot_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_files_as_json_string_and_missing_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_working_directory_is_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_working_dir_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_commands_and_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_kestra_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_missing_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_interpreter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_interpreter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_warns_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_and_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_marker_line_is_joined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_output_is_capped_not_deadlocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_ends_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
