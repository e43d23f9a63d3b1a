/*
 * bench_expr.c: renders per second of typical templates on one core:
 * a variable through a filter, a loop over 100 items, a date format, plus
 * compile time and the typed path. Prints figures, asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "util/datetime.h"

static void bench(const char *label, const char *src, const json_t *ctx)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile(src, &e);
    if (!t) {
        fprintf(stderr, "%s: %s\n", label, e.msg);
        exit(1);
    }
    char *out = NULL;
    if (expr_render(t, ctx, NULL, &out, &e)) {
        fprintf(stderr, "%s: %s\n", label, e.msg);
        exit(1);
    }
    size_t outlen = strlen(out);
    free(out);
    long n = 0, batch = 1000;
    int64_t start = time_mono_us(), now;
    do {
        for (long i = 0; i < batch; i++) {
            expr_render(t, ctx, NULL, &out, &e);
            free(out);
        }
        n += batch;
        now = time_mono_us();
    } while (now - start < 1000000);
    double secs = (double)(now - start) / 1e6;
    printf("%-44s %12.0f renders/s  (%6.0f ns each, %zu bytes out)\n", label, (double)n / secs,
           secs * 1e9 / (double)n, outlen);
    expr_tmpl_free(t);
}

static void bench_compile(const char *label, const char *src)
{
    kerr e = KERR_INIT;
    long n = 0;
    int64_t start = time_mono_us(), now;
    do {
        for (int i = 0; i < 1000; i++)
            expr_tmpl_free(expr_compile(src, &e));
        n += 1000;
        now = time_mono_us();
    } while (now - start < 500000);
    double secs = (double)(now - start) / 1e6;
    printf("%-44s %12.0f compiles/s\n", label, (double)n / secs);
}

static void bench_eval(const char *label, const char *src, const json_t *ctx)
{
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile(src, &e);
    long n = 0;
    int64_t start = time_mono_us(), now;
    do {
        for (int i = 0; i < 1000; i++) {
            json_t *v;
            if (expr_eval(t, ctx, NULL, &v, &e) == 0)
                json_decref(v);
        }
        n += 1000;
        now = time_mono_us();
    } while (now - start < 500000);
    double secs = (double)(now - start) / 1e6;
    printf("%-44s %12.0f evals/s\n", label, (double)n / secs);
    expr_tmpl_free(t);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    json_t *items = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(items, json_integer(i));
    json_t *ctx = json_pack("{s:{s:s,s:o},s:s,s:{s:{s:i}}}", "inputs", "name", "kite", "items", items,
                            "d", "2024-01-15T10:30:45.123456Z", "outputs", "t", "n", 42);
    bench("{{ inputs.name | upper }}", "{{ inputs.name | upper }}", ctx);
    bench("{{ inputs.name }} (plain variable)", "{{ inputs.name }}", ctx);
    bench("text + 3 variables", "Hello {{ inputs.name }}, n={{ outputs.t.n }} in {{ d }}!", ctx);
    bench("loop over 100 items", "{% for x in inputs.items %}{{ x }},{% endfor %}", ctx);
    bench("loop over 100 items with loop.last",
          "{% for x in inputs.items %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", ctx);
    bench("date format (yyyy-MM-dd HH:mm:ss)", "{{ d | date('yyyy-MM-dd HH:mm:ss') }}", ctx);
    bench("date format in Europe/Paris", "{{ d | date('yyyy-MM-dd HH:mm:ss XXX', timeZone='Europe/Paris') }}",
          ctx);
    bench("jq filter", "{{ inputs | jq('.name') | first }}", ctx);
    bench("encrypt() of 16 bytes (AES-256-GCM, fresh IV)",
          "{{ encrypt('MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', '0123456789abcdef') }}", ctx);
    bench("decrypt(encrypt()) of 16 bytes",
          "{{ decrypt('MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', encrypt('MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', '0123456789abcdef')) }}", ctx);
    bench("ksuid() (27 base62 digits)", "{{ ksuid() }}", ctx);
    bench("nanoId() (21 characters)", "{{ nanoId() }}", ctx);
    bench("dayOfWeek() + isLastWorkingDay()", "{{ dayOfWeek(d) }} {{ isLastWorkingDay(d) }}", ctx);
    bench("isDateBetween() of 3 offsets", "{{ isDateBetween(d, '2024-01-01T00:00:00Z', '2024-12-31T23:59:59+02:00') }}",
          ctx);
    bench("{% block %} + block() again", "{% block b %}{{ inputs.name }}{% endblock %}{{ block('b') }}", ctx);
    bench_eval("typed eval {{ inputs.items }}", "{{ inputs.items }}", ctx);
    bench_compile("compile {{ inputs.name | upper }}", "{{ inputs.name | upper }}");
    bench_compile("compile a 10-line template",
                  "{% for u in users %}\n{% if u.age > 18 %}\n{{ u.name | title }}\n{% else %}\n"
                  "{{ u.name | default('?') }}\n{% endif %}\n{% endfor %}\n{{ now() | date('yyyy') }}\n"
                  "{{ outputs['t'].n ?? 0 }}\n{{ [1, 2, 3] | join(',') }}");
    json_decref(ctx);
    return 0;
}
