/*
 * fuzz_expr.c: libFuzzer target for the template language: the parser on
 * arbitrary bytes, then the evaluator on what compiles, against a context
 * with every JSON type, and expr_eval for the typed path.
 *
 * Input: the template text. Rendering is capped (64 KiB of output) so that
 * `{% for %}` over ranges cannot turn a small input into a slow one; jq is
 * left out of the fuzzed filters' reach only by the output cap and range cap.
 * Replayed over tests/fuzz/corpus/fuzz_expr/ by `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *ctx;

static json_t *host_echo(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    if (json_array_size(args) == 0) {
        kerr_set(e, "echo needs an argument");
        return NULL;
    }
    return json_deep_copy(json_array_get(args, 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    if (!ctx) {
        setenv("TZ", "UTC", 1);
        atexit(expr_thread_cleanup);
        ctx = json_loads("{\"inputs\": {\"name\": \"kite\", \"n\": 3, \"f\": 2.5, \"b\": true, \"z\": null,"
                         " \"l\": [1, \"two\", [3]], \"m\": {\"k\": \"v\", \"task-id\": {\"value\": 1}}},"
                         " \"outputs\": {\"t\": {\"vars\": {\"d\": \"2024-01-15T10:30:00Z\"}}},"
                         " \"tpl\": \"{{ inputs.name }}\"}",
                         0, NULL);
    }
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    static const expr_func funcs[] = {{"echo", host_echo, NULL}};
    expr_env env = {.funcs = funcs, .nfuncs = 1, .max_output = 65536, .max_iterations = 100000};
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile(src, &e);
    if (t) {
        char *out = NULL;
        if (expr_render(t, ctx, &env, &out, &e) == 0)
            free(out);
        json_t *v = NULL;
        if (expr_eval(t, ctx, &env, &v, &e) == 0)
            json_decref(v);
        expr_tmpl_free(t);
    }
    free(src);
    return 0;
}
