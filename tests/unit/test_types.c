/*
 * test_types.c: every type kite declares either has its behaviour or says it
 * has none.
 *
 * A runnable type has hooks (set in its family's table, tasks/<family>.c); a
 * flowable has an implementation in engine/flowables.c; otherwise the type
 * carries TF_DECLARED_ONLY, and then `kite validate` warns at the type's
 * line and column ("type 'X' is declared but kite cannot run it yet"). So a
 * type added to a table without its code, or code that lost its table entry,
 * fails here rather than at run time (flow.loop and flow.template used to
 * validate and fail when they ran; http.Trigger validated and was silently
 * ignored by the scheduler).
 *
 * Every type also has its JSON Schema, built by the flow layer
 * (flow/jsonschema.c).
 *
 * Triggers and conditions: their behaviour lives in sched/; until it has
 * tables of its own this test checks only the flag of the ones known not to
 * run (trigger.http).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/engine_int.h"
#include "flow/flow.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

typedef struct typelist {
    const type_def *v[512];
    size_t n;
} typelist;

static void collect(const type_def *d, void *arg)
{
    typelist *l = arg;
    if (l->n < sizeof l->v / sizeof l->v[0])
        l->v[l->n++] = d;
}

static int setup(void **state)
{
    tasks_register_all();
    return 0;
}

static int flagged(const type_def *d) { return (d->flags & TF_DECLARED_ONLY) != 0; }

static void test_every_type_has_behaviour_or_the_flag(void **state)
{
    typelist l = {0};
    flow_registry_each(collect, &l);
    assert_true(l.n > 50);
    size_t runnables = 0, flowables = 0, declared_only = 0;
    for (size_t i = 0; i < l.n; i++) {
        const type_def *d = l.v[i];
        int has;
        if (d->kind == TK_RUNNABLE) {
            has = d->hooks != NULL;
            runnables++;
        } else if (d->kind == TK_FLOWABLE) {
            has = flowable_find(d) != NULL;
            if (d->hooks)
                fail_msg("flowable %s has worker hooks: the executor resolves flowables", d->name);
            flowables++;
        } else {
            continue;
        }
        if (has && flagged(d))
            fail_msg("%s runs but is flagged TF_DECLARED_ONLY: drop the flag", d->name);
        if (!has && !flagged(d))
            fail_msg("%s is declared without behaviour: give it %s, or flag it TF_DECLARED_ONLY", d->name,
                     d->kind == TK_RUNNABLE ? "hooks in its family's table" : "an entry in engine/flowables.c");
        declared_only += !has;
    }
    assert_true(runnables > 30);
    assert_true(flowables > 10);
    assert_true(declared_only > 0);
    /* the ones this test was written for */
    assert_false(flagged(flow_type_find("flow.loop")));
    assert_true(flagged(flow_type_find("flow.template")));
    assert_false(flagged(flow_type_find("io.kestra.plugin.core.http.Request")));
    assert_false(flagged(flow_type_find("io.kestra.plugin.core.http.Download")));
    assert_false(flagged(flow_type_find("io.kestra.plugin.core.http.SseRequest")));
    assert_false(flagged(flow_type_find("io.kestra.plugin.core.http.Trigger")));
    assert_false(flagged(flow_type_find("trigger.schedule")));
    assert_false(flagged(flow_type_find("log")));
    assert_false(flagged(flow_type_find("flow.foreach")));
}

/* ---- validation warns at the type ------------------------------------------------ */

static int ids;

static void value_json(buf *b, const prop_def *p);

/* An object with every required property of props, as JSON. */
static void object_json(buf *b, const prop_def *props)
{
    buf_puts(b, "{");
    int first = 1;
    for (const prop_def *p = props; p && p->name; p++) {
        if (!(p->flags & PF_REQUIRED))
            continue;
        buf_printf(b, "%s\"%s\": ", first ? "" : ", ", p->name);
        value_json(b, p);
        first = 0;
    }
    buf_puts(b, "}");
}

/* A value that the validator accepts for property p. */
static void value_json(buf *b, const prop_def *p)
{
    switch (p->type) {
    case PT_INT:
    case PT_NUMBER: buf_puts(b, "1"); return;
    case PT_BOOL: buf_puts(b, "true"); return;
    case PT_DURATION: buf_puts(b, "\"PT1S\""); return;
    case PT_DATETIME: buf_puts(b, "\"2024-01-01T00:00:00Z\""); return;
    case PT_ENUM: buf_printf(b, "\"%s\"", p->enums[0]); return;
    case PT_STRING_LIST: buf_puts(b, "[\"x\"]"); return;
    case PT_MAP: buf_puts(b, "{\"k\": \"v\"}"); return;
    case PT_CONDITIONS: buf_puts(b, "[]"); return;
    case PT_OBJECT: object_json(b, p->props); return;
    case PT_LIST:
        buf_puts(b, "[");
        if (p->item)
            value_json(b, p->item);
        else
            buf_puts(b, "\"x\"");
        buf_puts(b, "]");
        return;
    case PT_TASK: buf_printf(b, "{\"id\": \"c%d\", \"type\": \"log\", \"message\": \"hi\"}", ++ids); return;
    case PT_TASKS: buf_printf(b, "[{\"id\": \"c%d\", \"type\": \"log\", \"message\": \"hi\"}]", ++ids); return;
    default: buf_puts(b, "\"x\""); return;
    }
}

/* A flow using type d (a task, or a trigger), its required properties
 * filled in; the type's value sits at *line, column 11. */
static char *flow_using(const type_def *d, int *line)
{
    buf b = BUF_INIT;
    buf_puts(&b, "id: uses\nnamespace: test.types\ntasks:\n");
    const char *indent = "    ";
    if (d->kind == TK_TRIGGER) {
        buf_puts(&b, "  - id: l\n    type: log\n    message: hi\ntriggers:\n  - id: tr\n");
        *line = 9;
    } else {
        buf_puts(&b, "  - id: t\n");
        *line = 5;
    }
    buf_printf(&b, "%stype: %s\n", indent, d->name);
    for (const prop_def *p = d->props; p && p->name; p++) {
        if (!(p->flags & PF_REQUIRED))
            continue;
        buf_printf(&b, "%s%s: ", indent, p->name);
        value_json(&b, p);
        buf_puts(&b, "\n");
    }
    return buf_steal(&b);
}

static void test_validate_warns_at_a_declared_only_type(void **state)
{
    typelist l = {0};
    flow_registry_each(collect, &l);
    size_t checked = 0;
    for (size_t i = 0; i < l.n; i++) {
        const type_def *d = l.v[i];
        if (!flagged(d))
            continue;
        if (d->kind != TK_RUNNABLE && d->kind != TK_FLOWABLE && d->kind != TK_TRIGGER)
            fail_msg("%s: TF_DECLARED_ONLY on a kind validate does not warn about", d->name);
        int line;
        char *text = flow_using(d, &line);
        flow *f = NULL;
        diags ds = DIAGS_INIT;
        int rc = flow_load_text(text, strlen(text), "uses.yaml", &f, &ds);
        if (d->flags & TF_REFUSED) {
            /* Template: refused, one error at the type with the reason */
            char want[700];
            snprintf(want, sizeof want, "type '%s' is not supported in kite: %s", d->name, d->waits);
            if (rc == 0 || ds.n != 1 || ds.v[0].warning || strcmp(ds.v[0].msg, want))
                fail_msg("a flow using %s should be refused with: %s\ngot: %s", d->name, want, ds.n ? ds.v[0].msg : "?");
            assert_int_equal(ds.v[0].line, line);
            assert_int_equal(ds.v[0].col, 11);
            diags_free(&ds);
            free(text);
            checked++;
            continue;
        }
        if (rc || diags_errors(&ds)) {
            diags_sort(&ds);
            fail_msg("a flow using %s should stay valid, got: %s\n%s", d->name, ds.n ? ds.v[0].msg : "?", text);
        }
        char want[600];
        if (d->waits)
            snprintf(want, sizeof want, "type '%s' cannot run in kite: %s", d->name, d->waits);
        else
            snprintf(want, sizeof want, "type '%s' is declared but kite cannot run it yet", d->name);
        size_t warnings = 0;
        for (size_t k = 0; k < ds.n; k++) {
            const diag *g = &ds.v[k];
            if (!g->warning || strcmp(g->msg, want))
                fail_msg("%s: unexpected diagnostic %s:%d:%d: %s", d->name, g->file, g->line, g->col, g->msg);
            assert_int_equal(g->line, line);
            assert_int_equal(g->col, 11);
            warnings++;
        }
        if (warnings != 1)
            fail_msg("%s: %zu warnings, expected one at the type", d->name, warnings);
        flow_free(f);
        diags_free(&ds);
        free(text);
        checked++;
    }
    assert_true(checked > 0);
}

/* A type that runs gets no warning (and the printed form says "warning"). */
static void test_runnable_types_get_no_warning(void **state)
{
    const char *text = "id: ok\nnamespace: test.types\ntasks:\n  - id: t\n    type: log\n    message: hi\n";
    flow *f = NULL;
    diags ds = DIAGS_INIT;
    assert_int_equal(flow_load_text(text, strlen(text), "ok.yaml", &f, &ds), 0);
    assert_int_equal(ds.n, 0);
    flow_free(f);

    const char *http = "id: h\nnamespace: test.types\ntasks:\n  - id: t\n    type: http.request\n    uri: x\n";
    assert_int_equal(flow_load_text(http, strlen(http), "h.yaml", &f, &ds), 0);
    assert_int_equal(ds.n, 0);
    flow_free(f);

    const char *bad = "id: w\nnamespace: test.types\ntasks:\n  - id: t\n    type: flow.template\n"
                      "    namespace: a\n    templateId: b\n";
    /* refused: a flow with a Template can never run in kite, validate says so at once */
    int rc = flow_load_text(bad, strlen(bad), "w.yaml", &f, &ds);
    assert_int_not_equal(rc, 0);
    assert_int_equal(ds.n, 1);
    assert_int_equal(diags_errors(&ds), 1);
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    diag_print(mem, &ds.v[0], NULL, 0, 0);
    fclose(mem);
    /* Template says why it cannot run and what to write instead */
    assert_non_null(strstr(out, "w.yaml:5:11: error: type 'flow.template' is not supported in kite: Kestra "
                                "deprecated templates for subflows"));
    assert_non_null(strstr(out, "io.kestra.plugin.core.flow.Sequential"));
    assert_non_null(strstr(out, "io.kestra.plugin.core.flow.Subflow"));
    free(out);
    if (rc == 0)
        flow_free(f);
    diags_free(&ds);
}

/* The flow layer builds the JSON Schema of every type (for the CLI and the
 * server alike), and of the whole flow document with one $defs entry each. */
static void test_every_type_has_a_json_schema(void **state)
{
    typelist l = {0};
    flow_registry_each(collect, &l);
    json_t *doc = flow_json_schema(NULL);
    assert_non_null(doc);
    const json_t *defs = json_object_get(doc, "$defs");
    for (size_t i = 0; i < l.n; i++) {
        const type_def *d = l.v[i];
        json_t *one = flow_json_schema(d->aliases && d->aliases[0] ? d->aliases[0] : d->name);
        if (!one)
            fail_msg("no JSON Schema for %s", d->name);
        assert_string_equal(json_string_value(json_object_get(one, "title")), d->name);
        json_decref(one);
        char key[256];
        snprintf(key, sizeof key, "type.%s", d->name);
        if (!json_object_get(defs, key))
            fail_msg("the flow schema has no $defs entry %s", key);
    }
    json_decref(doc);
    assert_null(flow_json_schema("no.such.type"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_type_has_behaviour_or_the_flag, setup),
        cmocka_unit_test_setup(test_validate_warns_at_a_declared_only_type, setup),
        cmocka_unit_test_setup(test_runnable_types_get_no_warning, setup),
        cmocka_unit_test_setup(test_every_type_has_a_json_schema, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
