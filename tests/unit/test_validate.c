/*
 * test_validate.c: flow validation: each rule a flow author relies on, with
 * the exact message and position they will read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "tasks/tasks.h"

static int setup(void **state)
{
    tasks_register_all();
    return 0;
}

/* Loads text; returns the number of problems, and the first as
 * "line:col: message" in first (when not NULL). */
static size_t check(const char *text, char *first, size_t firstsz)
{
    flow *f = NULL;
    diags d = DIAGS_INIT;
    flow_load_text(text, strlen(text), "t.yaml", &f, &d);
    diags_sort(&d);
    if (first) {
        if (d.n)
            snprintf(first, firstsz, "%d:%d: %s", d.v[0].line, d.v[0].col, d.v[0].msg);
        else
            snprintf(first, firstsz, "(valid)");
    }
    size_t n = diags_errors(&d); /* warnings leave a flow valid */
    if (n == 0)
        assert_non_null(f);
    else
        assert_null(f);
    flow_free(f);
    diags_free(&d);
    return n;
}

/* Every finding of the template check, "line:col: severity: message", one a
 * line, in position order. */
static void findings(const char *text, char *out, size_t outsz)
{
    flow *f = NULL;
    diags d = DIAGS_INIT;
    flow_load_text(text, strlen(text), "t.yaml", &f, &d);
    diags_sort(&d);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d.n && o < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, "%d:%d: %s: %s\n", d.v[i].line, d.v[i].col,
                              d.v[i].warning ? "warning" : "error", d.v[i].msg);
    flow_free(f);
    diags_free(&d);
}

#define HEAD "id: f\nnamespace: company.team\n"
#define LOG(id) "  - id: " id "\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"

static void a_minimal_flow_is_valid_and_indexed(void **state)
{
    const char *text = HEAD "tasks:\n" LOG("a") "  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n"
                            "    tasks:\n      - id: b\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n";
    flow *f = NULL;
    diags d = DIAGS_INIT;
    assert_int_equal(flow_load_text(text, strlen(text), "t.yaml", &f, &d), 0);
    assert_string_equal(f->id, "f");
    assert_string_equal(f->namespace, "company.team");
    assert_int_equal(f->ntasks, 3);
    int b = flow_task_index(f, "b");
    assert_true(b >= 0);
    assert_int_equal(f->tasks[b].parent, flow_task_index(f, "p"));
    assert_string_equal(f->tasks[b].path, "/tasks/1/tasks/0");
    assert_non_null(f->tasks[b].def);
    flow_free(f);
    diags_free(&d);
}

static void unknown_property_names_the_key_and_suggests(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    descripton: x\n", m,
          sizeof m);
    assert_string_equal(m, "7:5: task 'a': unknown property 'descripton' (did you mean 'description'?)");
}

static void unknown_type_suggests_the_closest(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Lgo\n    message: hi\n", m, sizeof m);
    assert_string_equal(m, "5:11: unknown task type 'io.kestra.plugin.core.log.Lgo' (did you mean "
                           "'io.kestra.plugin.core.log.Log'?)");
}

static void missing_required_property_points_at_the_task(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n", m, sizeof m);
    assert_string_equal(m, "4:5: task 'a': missing required property 'message'");
}

static void plugin_defaults_supply_required_properties(void **state)
{
    assert_int_equal(check(HEAD "pluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values:\n"
                                "      message: from defaults\ntasks:\n  - id: a\n"
                                "    type: io.kestra.plugin.core.log.Log\n",
                           NULL, 0),
                     0);
    /* by prefix too */
    assert_int_equal(check(HEAD "taskDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n"
                                "      message: from defaults\ntasks:\n  - id: a\n"
                                "    type: io.kestra.plugin.core.log.Log\n",
                           NULL, 0),
                     0);
}

static void bad_duration_is_explained(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    timeout: 5 minutes\n",
          m, sizeof m);
    assert_string_equal(m, "7:14: 'timeout': invalid duration '5 minutes': expected ISO-8601 such as PT30S, "
                           "PT1H30M or P1D");
    /* an expression's value is checked when rendered, not now (its
     * undeclared input is a warning: the flow stays valid) */
    assert_int_equal(check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
                                "    timeout: \"{{ inputs.t }}\"\n",
                           NULL, 0),
                     0);
}

static void templates_that_cannot_render_are_errors_at_their_column(void **state)
{
    char m[2048];
    findings(HEAD "tasks:\n"
                  "  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: \"x {{ y | uper }}\"\n"
                  "  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: '{{ 1 + }}'\n"
                  "  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: |\n      one\n      {{ nope(1) }}\n"
                  "  - id: d\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ kv() }} {{ secret('A') }}\"\n",
             m, sizeof m);
    assert_string_equal(m, "6:24: error: template: 1:10: unknown filter 'uper' (did you mean 'upper'?)\n"
                           "9:22: error: template: 1:8: expected an expression, found '}}'\n"
                           "14:10: error: template: 2:4: unknown function 'nope' (did you mean 'now'?)\n"
                           "17:18: error: template: 1:4: kv() takes 1 to 3 arguments, not 0\n");
}

static void missing_names_are_warnings_unless_guarded(void **state)
{
    char m[2048];
    const char *src = HEAD "inputs:\n  - id: url\n    type: STRING\n"
                            "tasks:\n"
                            "  - id: load\n    type: io.kestra.plugin.core.log.Log\n"
                            "    message: \"{{ inputs.urll }} {{ outputs.lod.value }} {{ outputs.load.value }}\"\n"
                            "  - id: guarded\n    type: io.kestra.plugin.core.log.Log\n"
                            "    message: \"{{ inputs.a ?? 1 }}{{ inputs.b | default(2) }}{{ inputs.c is defined }}"
                            "{% if outputs.x is defined %}{{ outputs.x.value }}{% endif %}"
                            "{% for inputs in [1] %}{{ inputs.z }}{% endfor %}\"\n"
                            "  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: a\n    flowId: b\n"
                            "    outputs:\n      o: \"{{ outputs.child_task.value }}\"\n"
                            "triggers:\n  - id: up\n    type: io.kestra.plugin.core.trigger.Flow\n"
                            "    inputs:\n      v: \"{{ outputs.other_flow_task.value }}\"\n"
                            "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n"
                            "        namespace: a\n        flowId: b\n";
    findings(src, m, sizeof m);
    assert_string_equal(m, "9:18: warning: input 'urll' is not declared in this flow (did you mean 'url'?)\n"
                           "9:36: warning: no task 'lod' in this flow: its outputs are undefined (did you mean "
                           "'load'?)\n");
    assert_int_equal(check(src, NULL, 0), 0); /* valid */
}

static void enum_values_are_listed(void **state)
{
    char m[512];
    check(HEAD "concurrency:\n  limit: 1\n  behavior: WAIT\ntasks:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "5:13: 'behavior' must be one of QUEUE, CANCEL, FAIL, not 'WAIT'");
}

static void value_kinds_are_checked(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    disabled: maybe\n",
          m, sizeof m);
    assert_string_equal(m, "7:15: 'disabled' must be true or false, not a string");
    check(HEAD "concurrency:\n  limit: [1]\ntasks:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "4:10: 'limit' must be an integer, not a list");
    /* Jackson's coercions are accepted */
    assert_int_equal(check(HEAD "concurrency:\n  limit: \"2\"\ntasks:\n" LOG("a"), NULL, 0), 0);
}

static void task_ids_are_unique_across_the_flow(void **state)
{
    char m[512];
    check(HEAD "tasks:\n" LOG("a") "errors:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "8:9: duplicate task id 'a' (first declared at line 4)");
}

static void ids_and_namespaces_have_a_format(void **state)
{
    char m[512];
    check("id: my flow\nnamespace: a..b\ntasks:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "1:5: invalid flow id 'my flow': use letters, digits, '-' and '_', starting with a "
                           "letter or digit");
    assert_int_equal(check("id: my flow\nnamespace: a..b\ntasks:\n" LOG("a"), NULL, 0), 2);
}

static void a_flow_needs_tasks(void **state)
{
    char m[512];
    check(HEAD, m, sizeof m);
    assert_string_equal(m, "1:1: flow: missing required property 'tasks'");
    check(HEAD "tasks: []\n", m, sizeof m);
    assert_string_equal(m, "3:8: 'tasks' must not be empty");
    check("", m, sizeof m);
    assert_string_equal(m, "1:1: empty flow: a flow needs at least id, namespace and tasks");
    check("- a\n- b\n", m, sizeof m);
    assert_string_equal(m, "1:1: a flow must be a YAML mapping with id, namespace and tasks, not a list");
}

static void unknown_flow_key_suggests(void **state)
{
    char m[512];
    check(HEAD "taks:\n" LOG("a") "tasks:\n" LOG("b"), m, sizeof m);
    assert_string_equal(m, "3:1: flow: unknown property 'taks' (did you mean 'tasks'?)");
}

static void inputs_are_checked_per_type(void **state)
{
    char m[512];
    check(HEAD "inputs:\n  - id: n\n    type: INT\n    min: 1\n    validator: x\ntasks:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "7:5: input 'n': unknown property 'validator'");
    check(HEAD "inputs:\n  - id: e\n    type: ENUM\ntasks:\n" LOG("a"), m, sizeof m);
    assert_string_equal(m, "4:5: input 'e': missing required property 'values'");
    check(HEAD "inputs:\n  - id: s\n    type: STRING\n    validator: '[a-'\ntasks:\n" LOG("a"), m, sizeof m);
    assert_true(strstr(m, "6:16: input 's': invalid validator regular expression '[a-'") == m);
    check(HEAD "inputs:\n  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [b]\n  - id: b\n    type: STRING\n"
               "tasks:\n" LOG("t"), m, sizeof m);
    assert_string_equal(m, "7:16: input 'a' depends on 'b', which is not an input declared before it");
    assert_int_equal(check(HEAD "inputs:\n  - name: old\n    type: STRING\ntasks:\n" LOG("a"), NULL, 0), 0);
}

static void labels_as_map_or_list_and_system_reserved(void **state)
{
    assert_int_equal(check(HEAD "labels:\n  a: b\n  n: 1\ntasks:\n" LOG("t"), NULL, 0), 0);
    assert_int_equal(check(HEAD "labels:\n  - key: a\n    value: b\ntasks:\n" LOG("t"), NULL, 0), 0);
    char m[512];
    check(HEAD "labels:\n  - key: system.x\n    value: b\ntasks:\n" LOG("t"), m, sizeof m);
    assert_true(strstr(m, "4:5: label 'system.x': keys starting with 'system.' are reserved") == m);
}

static void triggers_are_checked_with_their_kind(void **state)
{
    char m[512];
    check(HEAD "tasks:\n" LOG("a") "triggers:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n",
          m, sizeof m);
    assert_string_equal(m, "9:11: 'io.kestra.plugin.core.log.Log' is a task, not a trigger");
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: x\n", m, sizeof m);
    assert_string_equal(m, "5:11: 'io.kestra.plugin.core.trigger.Schedule' is a trigger, not a task");
}

/* A Schedule's literal cron is parsed at validation (util/cron.h), with its
 * position; a templated one waits for the scheduler. */
static void schedule_cron_is_checked(void **state)
{
    char m[512];
    const char *trig = "triggers:\n  - id: every\n    type: io.kestra.plugin.core.trigger.Schedule\n";
    char text[1024];
    snprintf(text, sizeof text, HEAD "tasks:\n" LOG("a") "%s    cron: \"0 25 * * *\"\n", trig);
    assert_int_equal(check(text, m, sizeof m), 1);
    assert_true(strstr(m, "10:11: cron '0 25 * * *': hour 25 out of range 0-23") == m);
    snprintf(text, sizeof text, HEAD "tasks:\n" LOG("a") "%s    cron: \"*/5 * * * *\"\n", trig);
    assert_int_equal(check(text, m, sizeof m), 0);
    snprintf(text, sizeof text, HEAD "tasks:\n" LOG("a") "%s    cron: \"*/5 * * * *\"\n    withSeconds: true\n",
             trig);
    assert_int_equal(check(text, m, sizeof m), 1);
    snprintf(text, sizeof text, HEAD "tasks:\n" LOG("a") "%s    cron: \"{{ vars.c }}\"\n", trig);
    assert_int_equal(check(text, m, sizeof m), 0);
}

static void retry_policies_are_checked(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    retry:\n"
               "      type: linear\n      interval: PT1S\n",
          m, sizeof m);
    assert_string_equal(m, "8:13: 'type' must be one of constant, exponential, random, not 'linear'");
    assert_int_equal(check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
                                "    retry:\n      type: constant\n      interval: PT1S\n      maxAttempts: 3\n",
                           NULL, 0),
                     0);
}

static void worker_groups_are_refused(void **state)
{
    char m[512];
    check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    workerGroup:\n"
               "      key: gpu\n",
          m, sizeof m);
    assert_string_equal(m, "7:5: task 'a': worker groups are not supported (an Enterprise feature in Kestra)");
}

static void every_problem_is_reported_not_just_the_first(void **state)
{
    assert_int_equal(check(HEAD "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    x: 1\n    y: 2\n"
                                "  - id: b\n    type: nope\n",
                           NULL, 0),
                     4); /* x, y, missing message, unknown type */
}

static void subflow_cycles_across_files_are_found(void **state)
{
    const char *a = "id: a\nnamespace: n\ntasks:\n  - id: call-b\n    type: io.kestra.plugin.core.flow.Subflow\n"
                    "    namespace: n\n    flowId: b\n";
    const char *b = "id: b\nnamespace: n\ntasks:\n  - id: call-a\n    type: io.kestra.plugin.core.flow.Subflow\n"
                    "    namespace: n\n    flowId: a\n";
    flow *fa, *fb;
    diags d = DIAGS_INIT;
    assert_int_equal(flow_load_text(a, strlen(a), "a.yaml", &fa, &d), 0);
    assert_int_equal(flow_load_text(b, strlen(b), "b.yaml", &fb, &d), 0);
    flow *both[] = {fa, fb};
    assert_int_equal(flow_check_recursion(both, 2, &d), 1);
    assert_string_equal(d.v[0].msg, "task 'call-a': recursive subflow calls: n.a -> n.b -> n.a");
    assert_string_equal(d.v[0].file, "b.yaml");
    assert_int_equal(d.v[0].line, 4);
    flow_free(fa);
    flow_free(fb);
    diags_free(&d);
}

static void printing_shows_the_line_and_a_caret(void **state)
{
    diag g = {.file = "f.yaml", .line = 2, .col = 3, .path = NULL, .msg = "bad"};
    const char *src = "a: 1\nb: x\n";
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    diag_print(fp, &g, src, strlen(src), 0);
    fclose(fp);
    assert_string_equal(out, "f.yaml:2:3: error: bad\n  b: x\n    ^\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_minimal_flow_is_valid_and_indexed),
        cmocka_unit_test(schedule_cron_is_checked),
        cmocka_unit_test(unknown_property_names_the_key_and_suggests),
        cmocka_unit_test(unknown_type_suggests_the_closest),
        cmocka_unit_test(missing_required_property_points_at_the_task),
        cmocka_unit_test(plugin_defaults_supply_required_properties),
        cmocka_unit_test(bad_duration_is_explained),
        cmocka_unit_test(templates_that_cannot_render_are_errors_at_their_column),
        cmocka_unit_test(missing_names_are_warnings_unless_guarded),
        cmocka_unit_test(enum_values_are_listed),
        cmocka_unit_test(value_kinds_are_checked),
        cmocka_unit_test(task_ids_are_unique_across_the_flow),
        cmocka_unit_test(ids_and_namespaces_have_a_format),
        cmocka_unit_test(a_flow_needs_tasks),
        cmocka_unit_test(unknown_flow_key_suggests),
        cmocka_unit_test(inputs_are_checked_per_type),
        cmocka_unit_test(labels_as_map_or_list_and_system_reserved),
        cmocka_unit_test(triggers_are_checked_with_their_kind),
        cmocka_unit_test(retry_policies_are_checked),
        cmocka_unit_test(worker_groups_are_refused),
        cmocka_unit_test(every_problem_is_reported_not_just_the_first),
        cmocka_unit_test(subflow_cycles_across_files_are_found),
        cmocka_unit_test(printing_shows_the_line_and_a_caret),
    };
    return cmocka_run_group_tests_name("validate", tests, setup, NULL);
}
