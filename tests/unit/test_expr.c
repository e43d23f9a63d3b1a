/*
 * test_expr.c: the expr interface itself (what the case files cannot show):
 * compile once and render many times, from several threads at once; typed
 * results; host functions and overrides; output caps; error positions; the
 * helpers. The language is covered by tests/expr/ (test_expr_cases).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

static char *render(const char *src, const char *ctx_json)
{
    json_t *ctx = ctx_json ? json_loads(ctx_json, 0, NULL) : NULL;
    kerr e = KERR_INIT;
    char *out = NULL;
    int rc = expr_render_string(src, ctx, NULL, &out, &e);
    json_decref(ctx);
    if (rc) {
        print_error("render failed: %d:%d: %s\n", e.line, e.col, e.msg);
        return NULL;
    }
    return out;
}

static void compile_once_render_many(void **state)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile("{{ inputs.name | upper }}!", &e);
    assert_non_null(t);
    assert_string_equal(expr_tmpl_source(t), "{{ inputs.name | upper }}!");
    const char *names[] = {"ann", "bob", "cé"};
    const char *want[] = {"ANN!", "BOB!", "CÉ!"};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3; i++) {
            json_t *ctx = json_pack("{s:{s:s}}", "inputs", "name", names[i]);
            char *out;
            assert_int_equal(expr_render(t, ctx, NULL, &out, &e), 0);
            assert_string_equal(out, want[i]);
            free(out);
            json_decref(ctx);
        }
    expr_tmpl_free(t);
}

static void null_context_is_empty(void **state)
{
    char *out = render("a{{ 1 + 1 }}b", NULL);
    assert_string_equal(out, "a2b");
    free(out);
    kerr e = KERR_INIT;
    assert_int_equal(expr_render_string("{{ x }}", NULL, NULL, &out, &e), -1);
    assert_string_equal(e.msg, "undefined variable 'x'");
    assert_int_equal(e.line, 1);
    assert_int_equal(e.col, 4);
}

static void compile_error_has_position(void **state)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile("line 1\n  {{ a | uper }}", &e);
    assert_null(t);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 10);
    assert_string_equal(e.msg, "unknown filter 'uper' (did you mean 'upper'?)");
}

static void eval_keeps_types(void **state)
{
    json_t *ctx = json_loads("{\"outputs\": {\"x\": {\"list\": [1, {\"a\": 2}], \"n\": 2.5}}}", 0, NULL);
    kerr e = KERR_INIT;
    json_t *v = NULL;
    assert_int_equal(expr_eval_string("{{ outputs.x.list }}", ctx, NULL, &v, &e), 0);
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_int_equal(expr_eval_string("{{ outputs.x.n * 2 }}", ctx, NULL, &v, &e), 0);
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) == 5.0);
    json_decref(v);
    assert_int_equal(expr_eval_string("{{ null }}", ctx, NULL, &v, &e), 0);
    assert_true(json_is_null(v));
    json_decref(v);
    assert_int_equal(expr_eval_string("n={{ outputs.x.n }}", ctx, NULL, &v, &e), 0);
    assert_string_equal(json_string_value(v), "n=2.5");
    json_decref(v);
    assert_int_equal(expr_eval_string("{{ missing }}", ctx, NULL, &v, &e), -1);
    assert_string_equal(e.msg, "undefined variable 'missing'");
    json_decref(ctx);
}

static void is_template(void **state)
{
    assert_true(expr_is_template("a {{ b }}"));
    assert_true(expr_is_template("{% if x %}"));
    assert_false(expr_is_template("a { b } {# c #}"));
    assert_false(expr_is_template("plain"));
    assert_false(expr_is_template(""));
    assert_false(expr_is_template(NULL));
    assert_false(expr_is_template("ends with {"));
}

static int now_calls;

static json_t *fixed_now(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    now_calls++;
    return json_string((const char *)ud);
}

static json_t *failing(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    kerr_set(e, "vault is sealed");
    return NULL;
}

static json_t *count_args(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    return json_integer((json_int_t)(json_array_size(args) * 10 + json_object_size(kwargs)));
}

static void host_functions(void **state)
{
    const expr_func funcs[] = {
        {"now", fixed_now, "2024-01-01T00:00:00Z"},
        {"secret", failing, NULL},
        {"count", count_args, NULL},
    };
    expr_env env = {.funcs = funcs, .nfuncs = 3};
    kerr e = KERR_INIT;
    char *out;
    now_calls = 0;
    /* the host overrides the built-in now() */
    assert_int_equal(expr_render_string("{{ now() | date('yyyy') }}", NULL, &env, &out, &e), 0);
    assert_string_equal(out, "2024");
    assert_int_equal(now_calls, 1);
    free(out);
    assert_int_equal(expr_render_string("{{ count(1, 2, a=3) }}", NULL, &env, &out, &e), 0);
    assert_string_equal(out, "21");
    free(out);
    assert_int_equal(expr_render_string("x\n {{ secret('DB') }}", NULL, &env, &out, &e), -1);
    assert_string_equal(e.msg, "vault is sealed");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 5);
    /* without the env, the hook is reported as unavailable */
    assert_int_equal(expr_render_string("{{ secret('DB') }}", NULL, NULL, &out, &e), -1);
    assert_string_equal(e.msg,
                        "function 'secret' is not available here (the engine provides it when a flow runs)");
    /* a host function name not known to kite is found in the env */
    assert_int_equal(expr_render_string("{{ count() }}", NULL, &env, &out, &e), 0);
    assert_string_equal(out, "0");
    free(out);
}

static void output_cap(void **state)
{
    expr_env env = {.max_output = 100};
    kerr e = KERR_INIT;
    char *out;
    assert_int_equal(expr_render_string("{% for i in 1..1000 %}xxxx{% endfor %}", NULL, &env, &out, &e), -1);
    assert_string_equal(e.msg, "rendered text is larger than 100 bytes");
    assert_int_equal(expr_render_string("{% for i in 1..10 %}xxxx{% endfor %}", NULL, &env, &out, &e), 0);
    assert_int_equal(strlen(out), 40);
    free(out);
}

static void value_to_text(void **state)
{
    struct {
        const char *json, *text;
    } cases[] = {
        {"\"s\"", "s"}, {"1", "1"},           {"1.0", "1.0"},          {"0.1", "0.1"},
        {"true", "true"}, {"null", ""},       {"[1,\"a\"]", "[1,\"a\"]"}, {"{\"k\":{}}", "{\"k\":{}}"},
        {"1e300", "1.0E300"}, {"-2.5e-7", "-2.5E-7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        char *s = expr_value_to_text(v);
        assert_string_equal(s, cases[i].text);
        free(s);
        json_decref(v);
    }
}

static void context_is_not_modified(void **state)
{
    const char *src = "{\"l\": [3, 1, 2], \"m\": {\"a\": 1}}";
    json_t *ctx = json_loads(src, 0, NULL);
    json_t *copy = json_deep_copy(ctx);
    char *out;
    kerr e = KERR_INIT;
    assert_int_equal(expr_render_string("{{ l | sort }}{{ l | reverse }}{{ m | merge({'b': 2}) }}"
                                        "{{ l + [4] }}{% set l = 5 %}{{ l }}",
                                        ctx, NULL, &out, &e),
                     0);
    assert_string_equal(out, "[1,2,3][2,1,3]{\"a\":1,\"b\":2}[3,1,2,4]5");
    assert_true(json_equal(ctx, copy));
    free(out);
    json_decref(ctx);
    json_decref(copy);
}

static void eval_result_outlives_template(void **state)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile("{{ ['a', {'k': 'v'}, 1.5] }}", &e);
    assert_non_null(t);
    json_t *v = NULL;
    assert_int_equal(expr_eval(t, NULL, NULL, &v, &e), 0);
    expr_tmpl_free(t);
    /* the literals were copied: the value is intact after the free */
    char *s = json_dumps(v, JSON_COMPACT);
    assert_string_equal(s, "[\"a\",{\"k\":\"v\"},1.5]");
    free(s);
    json_decref(v);
    t = expr_compile("{{ 'lit' }}", &e);
    assert_int_equal(expr_eval(t, NULL, NULL, &v, &e), 0);
    expr_tmpl_free(t);
    assert_string_equal(json_string_value(v), "lit");
    json_decref(v);
}

static void render_whole_json(void **state)
{
    json_t *ctx = json_loads("{\"inputs\": {\"n\": 3, \"l\": [1, 2], \"k\": \"key\"}}", 0, NULL);
    json_t *in = json_loads("{\"message\": \"n={{ inputs.n }}\", \"values\": \"{{ inputs.l }}\","
                            " \"plain\": \"no {braces}\", \"num\": 5, \"list\": [\"{{ inputs.n * 2 }}\", true],"
                            " \"{{ inputs.k }}\": \"renamed\"}",
                            0, NULL);
    assert_non_null(in);
    json_t *out = NULL;
    kerr e = KERR_INIT;
    assert_int_equal(expr_render_json(in, ctx, NULL, 1, &out, NULL, &e), 0);
    char *s = json_dumps(out, JSON_COMPACT);
    assert_string_equal(s, "{\"message\":\"n=3\",\"values\":[1,2],\"plain\":\"no {braces}\",\"num\":5,"
                           "\"list\":[6,true],\"key\":\"renamed\"}");
    free(s);
    json_decref(out);
    /* untyped: everything rendered is text */
    assert_int_equal(expr_render_json(in, ctx, NULL, 0, &out, NULL, &e), 0);
    assert_string_equal(json_string_value(json_object_get(out, "values")), "[1,2]");
    json_decref(out);
    /* the failing string is named by its JSON pointer */
    json_t *bad = json_loads("{\"tasks\": [{\"id\": \"a\"}, {\"a/b\": \"x\\n {{ inputs.nope }}\"}]}", 0, NULL);
    char *path = NULL;
    assert_int_equal(expr_render_json(bad, ctx, NULL, 1, &out, &path, &e), -1);
    assert_string_equal(path, "/tasks/1/a~1b");
    assert_string_equal(e.msg, "undefined variable 'inputs.nope'");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 5);
    free(path);
    json_decref(bad);
    json_decref(in);
    json_decref(ctx);
}

/* ---- kite render ------------------------------------------------------------------------ */

/* Runs `$KITE render ARGS` and returns stdout+stderr; *rc gets the exit code. */
static char *run_kite(const char *args, int *rc)
{
    const char *kite = getenv("KITE");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s render %s 2>&1", kite, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 65536);
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static void cli_render(void **state)
{
    const char *kite = getenv("KITE");
    if (!kite || access(kite, X_OK)) {
        print_message("KITE not set or not built: skipping the CLI checks\n");
        skip();
    }
    char ctxf[] = "/tmp/kite-expr-ctx-XXXXXX";
    int fd = mkstemp(ctxf);
    assert_true(fd >= 0);
    const char *ctx = "{\"inputs\": {\"name\": \"kite\", \"l\": [1, 2]}}";
    assert_int_equal(write(fd, ctx, strlen(ctx)), (ssize_t)strlen(ctx));
    close(fd);
    int rc;
    char args[512], *out;
    out = run_kite("\"{{ 'hello' | upper }}\"", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "HELLO\n");
    free(out);
    snprintf(args, sizeof args, "\"Hi {{ inputs.name }}\" --context %s", ctxf);
    out = run_kite(args, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "Hi kite\n");
    free(out);
    snprintf(args, sizeof args, "\"{{ inputs.l }}\" --json --context %s", ctxf);
    out = run_kite(args, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "[1,2]\n");
    free(out);
    snprintf(args, sizeof args, "\"{{ inputs.nam }}\" --context %s", ctxf);
    out = run_kite(args, &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "kite render: 1:4: undefined variable 'inputs.nam'\n");
    free(out);
    out = run_kite("\"{{ x | uper }}\"", &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "kite render: 1:8: unknown filter 'uper' (did you mean 'upper'?)\n");
    free(out);
    out = run_kite("--help", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "usage: kite render TEMPLATE"));
    free(out);
    out = run_kite("\"x\" --context /nonexistent.json", &rc);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "/nonexistent.json"));
    free(out);
    unlink(ctxf);
}

/* ---- threads ---------------------------------------------------------------------------- */

typedef struct worker {
    const expr_tmpl *t;
    int id;
    int failures;
} worker;

static void *render_loop(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 2000; i++) {
        json_t *ctx = json_pack("{s:{s:i,s:[iii]}}", "inputs", "id", w->id, "xs", i, i + 1, i + 2);
        char *out;
        kerr e = KERR_INIT;
        char want[128];
        snprintf(want, sizeof want, "%d:%d,%d,%d:%s", w->id, i, i + 1, i + 2, (i % 2) ? "odd" : "even");
        if (expr_render(w->t, ctx, NULL, &out, &e) || strcmp(out, want))
            w->failures++;
        else
            free(out);
        json_decref(ctx);
    }
    return NULL;
}

static void one_template_many_threads(void **state)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile("{{ inputs.id }}:{% for x in inputs.xs %}{{ x }}{% if not loop.last %},"
                                "{% endif %}{% endfor %}:{{ inputs.xs[0] is odd ? 'odd' : 'even' }}",
                                &e);
    assert_non_null(t);
    enum { N = 4 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){t, i, 0};
        pthread_create(&th[i], NULL, render_loop, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    expr_tmpl_free(t);
}

/* ---- limits: deadline, cancel, time ----------------------------------------------- */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Renders src with limits l; returns the error message (static) or NULL. */
static const char *render_limited(const char *src, const expr_limits *l)
{
    static kerr e;
    kerr_clear(&e);
    expr_env env = {.limits = l};
    char *out = NULL;
    if (expr_render_string(src, NULL, &env, &out, &e) == 0) {
        free(out);
        return NULL;
    }
    return e.msg;
}

#define JQ_LOOP "{{ 1 | jq('last(range(1e12))') }}"

/* The jq program never ends by itself: only the deadline stops it (before the
 * render's own 10 s time limit, which would name itself). */
static void jq_loop_stops_at_deadline(void **state)
{
    expr_limits l = {.deadline_us = mono_us() + 200000, .deadline_what = "task timeout PT0.2S"};
    const char *msg = render_limited(JQ_LOOP, &l);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: task timeout PT0.2S reached");
    /* the same program on the same thread (its cached jq state) runs again */
    l.deadline_us = mono_us() + 100000;
    msg = render_limited(JQ_LOOP, &l);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: task timeout PT0.2S reached");
    char *out = render("{{ 5 | jq('. + 1') }} {{ 3 | jq('last(range(.))') }}", NULL);
    assert_string_equal(out, "[6] [2]");
    free(out);
}

typedef struct canceller {
    atomic_int *flag;
    int delay_ms;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    usleep((useconds_t)c->delay_ms * 1000);
    atomic_store(c->flag, 1);
    return NULL;
}

static void jq_loop_stops_on_cancel(void **state)
{
    atomic_int flag = 0;
    expr_limits l = {.cancel = &flag};
    canceller c = {&flag, 100};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &c);
    const char *msg = render_limited(JQ_LOOP, &l);
    pthread_join(th, NULL);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: killed");
}

static void render_time_limit(void **state)
{
    expr_limits l = {.max_time_us = 100000};
    const char *msg = render_limited(JQ_LOOP, &l);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: render time limit of PT0.1S reached");
}

/* Long template loops see the flag and the deadline too. */
static void template_loop_stops(void **state)
{
    const char *loop = "{% for i in range(1, 1000000) %}{% for j in range(1, 9) %}{% set x = i * j %}"
                       "{% endfor %}{% endfor %}";
    atomic_int flag = 1;
    expr_limits l = {.cancel = &flag};
    const char *msg = render_limited(loop, &l);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: killed");
    expr_limits past = {.deadline_us = mono_us() - 1, .deadline_what = "task timeout PT1S"};
    msg = render_limited(loop, &past);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: task timeout PT1S reached");
    /* a macro calling itself in a loop, and a filter chain, check too */
    msg = render_limited("{% macro m(n) %}{{ n }}{% endmacro %}{% for i in range(1, 100) %}{{ m(i) }}{% endfor %}",
                         &l);
    assert_non_null(msg);
    assert_string_equal(msg, "expression stopped: killed");
}

/* A task sets its limits on the thread around its renders (tasks/ctx.c). */
static void thread_limits(void **state)
{
    atomic_int flag = 1;
    expr_limits l = {.cancel = &flag};
    assert_null(expr_thread_limits());
    const expr_limits *prev = expr_set_thread_limits(&l);
    assert_null(prev);
    kerr e = KERR_INIT;
    char *out = NULL;
    assert_int_equal(expr_render_string(JQ_LOOP, NULL, NULL, &out, &e), -1);
    assert_string_equal(e.msg, "expression stopped: killed");
    /* an env's own limits win over the thread's */
    expr_limits none = {0};
    expr_env env = {.limits = &none};
    assert_int_equal(expr_render_string("{{ 2 | jq('. * 3') }}", NULL, &env, &out, &e), 0);
    assert_string_equal(out, "[6]");
    free(out);
    assert_ptr_equal(expr_set_thread_limits(prev), &l);
    out = render("{{ [1, 2] | jq('.[] | . + 1') }}", NULL);
    assert_string_equal(out, "[2,3]");
    free(out);
}

/* jq's halt would race the watchdog's halt into an assert: it is an error. */
static void jq_has_no_halt(void **state)
{
    expr_limits l = {0};
    const char *msg = render_limited("{{ 1 | jq('halt') }}", &l);
    assert_non_null(msg);
    assert_string_equal(msg, "filter 'jq': 'halt' failed: halt is not available");
    msg = render_limited("{{ 1 | jq('\"x\" | halt_error(1)') }}", &l);
    assert_non_null(msg);
    assert_string_equal(msg, "filter 'jq': '\"x\" | halt_error(1)' failed: halt is not available");
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compile_once_render_many),
        cmocka_unit_test(null_context_is_empty),
        cmocka_unit_test(compile_error_has_position),
        cmocka_unit_test(eval_keeps_types),
        cmocka_unit_test(is_template),
        cmocka_unit_test(host_functions),
        cmocka_unit_test(output_cap),
        cmocka_unit_test(value_to_text),
        cmocka_unit_test(context_is_not_modified),
        cmocka_unit_test(eval_result_outlives_template),
        cmocka_unit_test(render_whole_json),
        cmocka_unit_test(one_template_many_threads),
        cmocka_unit_test(cli_render),
        cmocka_unit_test(jq_loop_stops_at_deadline),
        cmocka_unit_test(jq_loop_stops_on_cancel),
        cmocka_unit_test(render_time_limit),
        cmocka_unit_test(template_loop_stops),
        cmocka_unit_test(thread_limits),
        cmocka_unit_test(jq_has_no_halt),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    expr_thread_cleanup();
    return rc;
}
