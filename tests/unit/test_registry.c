/*
 * test_registry.c: the type registry (flow/registry.c), the real type tables
 * (src/tasks/), their check hooks, and `kite plugins` that reads them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "flow/flow.h"
#include "flow/schema.h"
#include "tasks/tasks.h"
#include "util/mem.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int setup_real(void **state)
{
    flow_registry_reset();
    tasks_register_all();
    return 0;
}

static int teardown(void **state)
{
    flow_registry_reset();
    return 0;
}

/* ---- lookups ----------------------------------------------------------------- */

typedef struct walk {
    size_t n;
    const char *prev;
    int sorted;
    int aliases_ok;
    char bad[256];
} walk;

static void visit_lookup(const type_def *d, void *arg)
{
    walk *w = arg;
    w->n++;
    if (w->prev && strcmp(w->prev, d->name) >= 0)
        w->sorted = 0;
    w->prev = d->name;
    if (flow_type_find(d->name) != d) {
        w->aliases_ok = 0;
        snprintf(w->bad, sizeof w->bad, "%s", d->name);
    }
    for (const char *const *a = d->aliases; a && *a; a++) {
        if (flow_type_find(*a) != d) {
            w->aliases_ok = 0;
            snprintf(w->bad, sizeof w->bad, "%s", *a);
        }
    }
}

static void test_every_name_and_alias_resolves_to_its_type(void **state)
{
    walk w = {.sorted = 1, .aliases_ok = 1};
    flow_registry_each(visit_lookup, &w);
    if (!w.aliases_ok)
        fail_msg("'%s' does not resolve to its own type", w.bad);
    assert_int_equal(w.n, flow_registry_count());
    assert_true(w.sorted);
    assert_true(flow_registry_count() >= 90);
}

static void test_kestra_names_resolve(void **state)
{
    static const struct {
        const char *alias, *name;
    } cases[] = {
        {"io.kestra.plugin.core.log.Log", "log"},
        {"io.kestra.core.tasks.log.Log", "log"},
        {"io.kestra.plugin.core.flow.Parallel", "flow.parallel"},
        {"io.kestra.core.tasks.flows.Parallel", "flow.parallel"},
        {"io.kestra.core.tasks.flows.Flow", "flow.subflow"},
        {"io.kestra.plugin.core.flow.WaitFor", "flow.loop_until"},
        {"io.kestra.plugin.core.condition.ExecutionStatus", "condition.execution_status"},
        {"io.kestra.core.models.conditions.types.ExecutionStatusCondition",
         "condition.execution_status"},
        {"io.kestra.core.models.conditions.types.VariableCondition", "condition.expression"},
        {"io.kestra.plugin.core.trigger.Schedule", "trigger.schedule"},
        {"io.kestra.core.models.triggers.types.Schedule", "trigger.schedule"},
        {"io.kestra.plugin.fs.http.Trigger", "trigger.http"},
        {"io.kestra.plugin.scripts.shell.Commands", "script.shell"},
        {"io.kestra.plugin.scripts.python.Script", "script.python_script"},
        {"io.kestra.plugin.core.runner.Process", "runner.process"},
        {"io.kestra.plugin.scripts.runner.docker.Docker", "runner.docker"},
        {"io.kestra.core.tasks.executions.Counts", "execution.count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const type_def *d = flow_type_find(cases[i].alias);
        if (!d)
            fail_msg("'%s' is not registered", cases[i].alias);
        assert_string_equal(d->name, cases[i].name);
    }
    assert_null(flow_type_find("io.kestra.plugin.core.log.log")); /* case matters */
    assert_null(flow_type_find("nope"));
    assert_null(flow_type_find(""));
    assert_null(flow_type_find(NULL));
    assert_int_equal(flow_type_find("flow.parallel")->kind, TK_FLOWABLE);
    assert_int_equal(flow_type_find("log")->kind, TK_RUNNABLE);
    assert_int_equal(flow_type_find("trigger.flow")->kind, TK_TRIGGER);
    assert_int_equal(flow_type_find("runner.docker")->kind, TK_RUNNER);
}

/* ---- suggestions --------------------------------------------------------------- */

static void assert_suggests(const char *typo, int kind, const char *want)
{
    const char *got = flow_type_suggest(typo, kind);
    if (!want) {
        if (got)
            fail_msg("'%s': expected no suggestion, got '%s'", typo, got);
        return;
    }
    if (!got || strcmp(got, want))
        fail_msg("'%s': expected '%s', got '%s'", typo, want, got ? got : "(null)");
}

static void test_suggest_short_names_for_short_names(void **state)
{
    assert_suggests("lgo", -1, "log");
    assert_suggests("flow.paralel", -1, "flow.parallel");
    assert_suggests("flow.for_each", -1, "flow.foreach");
    assert_suggests("trigger.shedule", TK_TRIGGER, "trigger.schedule");
    assert_suggests("condition.execution_state", TK_CONDITION, "condition.execution_status");
    assert_suggests("zzzzzzzzzzzz", -1, NULL);
    assert_null(flow_type_suggest("", -1));
    assert_null(flow_type_suggest(NULL, -1));
    /* names longer than the distance table are cut, not overrun */
    char *long_name = xcalloc(5000, 1);
    memset(long_name, 'a', 4999);
    assert_null(flow_type_suggest(long_name, -1));
    memcpy(long_name, "io.kestra.plugin.core.log.", 26);
    assert_null(flow_type_suggest(long_name, -1));
    free(long_name);
    /* a trigger is not suggested for a task */
    assert_suggests("trigger.shedule", TK_RUNNABLE, NULL);
    /* runnable and flowable are both tasks */
    assert_suggests("flow.paralel", TK_RUNNABLE, "flow.parallel");
    assert_suggests("lgo", TK_FLOWABLE, "log");
}

static void test_suggest_aliases_for_class_names(void **state)
{
    assert_suggests("io.kestra.plugin.core.log.Lgo", -1, "io.kestra.plugin.core.log.Log");
    assert_suggests("io.kestra.core.tasks.log.Lgo", -1, "io.kestra.core.tasks.log.Log");
    assert_suggests("io.kestra.plugin.core.flow.Paralel", TK_FLOWABLE,
                    "io.kestra.plugin.core.flow.Parallel");
    /* the right class in a wrong package */
    assert_suggests("io.kestra.plugin.core.Parallel", -1, "io.kestra.plugin.core.flow.Parallel");
    /* among the many Delete classes, the one of the package written */
    assert_suggests("io.kestra.plugin.core.kv.Delet", -1, "io.kestra.plugin.core.kv.Delete");
    assert_suggests("io.kestra.plugin.core.storage.Delet", -1,
                    "io.kestra.plugin.core.storage.Delete");
    assert_suggests("Sequentail", -1, "io.kestra.plugin.core.flow.Sequential");
    assert_suggests("io.kestra.plugin.core.debug.MissingThree", -1, NULL);
    assert_suggests("io.kestra.plugin.core.trigger.Shedule", TK_TRIGGER,
                    "io.kestra.plugin.core.trigger.Schedule");
    assert_suggests("io.kestra.plugin.core.condition.ExecutionStatu", TK_CONDITION,
                    "io.kestra.plugin.core.condition.ExecutionStatus");
    /* the old spelling is suggested for an old spelling */
    assert_suggests("io.kestra.core.models.conditions.types.ExecutionStatusCondtion", -1,
                    "io.kestra.core.models.conditions.types.ExecutionStatusCondition");
    /* only inside the family: a type of a family kite lacks gets no suggestion */
    assert_suggests("io.kestra.plugin.nosuchfamily.Log", -1, NULL);
    assert_suggests("io.kestra.plugin.scrpts.python.Script", -1, "io.kestra.plugin.scripts.python.Script");
}

static const char *const nsf_aliases[] = {"io.kestra.plugin.nosuchfamily.Run", NULL};
static const type_def nsf_extra[] = {
    {.name = "nsf.run", .aliases = nsf_aliases, .desc = "x"},
};

static void test_missing_family(void **state)
{
    char fam[128];
    assert_string_equal(flow_type_missing_family("io.kestra.plugin.nosuchfamily.Run", fam, sizeof fam),
                        "io.kestra.plugin.nosuchfamily");
    /* kite has these families (core as one, whatever the sub-package) */
    assert_null(flow_type_missing_family("io.kestra.plugin.core.log.Nope", fam, sizeof fam));
    assert_null(flow_type_missing_family("io.kestra.plugin.core.nothere.Nope", fam, sizeof fam));
    assert_null(flow_type_missing_family("io.kestra.plugin.scripts.python.Nope", fam, sizeof fam));
    /* a family two edits off one kite has is missing, and that one is named beside it
     * (io.kestra.plugin.aws.sns is not io.kestra.plugin.aws.s3) */
    assert_string_equal(flow_type_missing_family("io.kestra.plugin.scrpts.python.Nope", fam, sizeof fam),
                        "io.kestra.plugin.scrpts.python");
    assert_string_equal(flow_type_near_family("io.kestra.plugin.scrpts.python.Nope", fam, sizeof fam),
                        "io.kestra.plugin.scripts.python");
    assert_string_equal(flow_type_near_family("io.kestra.plugin.aws.sns.Publish", fam, sizeof fam),
                        "io.kestra.plugin.aws.s3");
    assert_null(flow_type_near_family("io.kestra.plugin.scripts.python.Nope", fam, sizeof fam));
    assert_null(flow_type_near_family("io.kestra.plugin.nosuchfamily.Run", fam, sizeof fam));
    /* not a class name */
    assert_null(flow_type_missing_family("log.nope", fam, sizeof fam));
    assert_null(flow_type_missing_family("Paralel", fam, sizeof fam));
    /* data driven: a family is known once a table declares one of its types */
    flow_registry_add(nsf_extra, 1);
    assert_null(flow_type_missing_family("io.kestra.plugin.nosuchfamily.Walk", fam, sizeof fam));
    assert_suggests("io.kestra.plugin.nosuchfamily.Rnu", -1, "io.kestra.plugin.nosuchfamily.Run");
    flow_registry_reset();
    tasks_register_all();
}

/* ---- registry mechanics ---------------------------------------------------------- */

static const type_def fake[] = {
    {.name = "a.one", .aliases = (const char *const[]){"io.example.One", NULL}, .desc = "one"},
    {.name = "a.two", .desc = "two"},
};

static void test_add_find_each_reset(void **state)
{
    flow_registry_reset();
    assert_int_equal(flow_registry_count(), 0);
    assert_null(flow_type_find("a.one"));
    flow_registry_add(fake, 2);
    assert_int_equal(flow_registry_count(), 2);
    assert_ptr_equal(flow_type_find("a.one"), &fake[0]);
    assert_ptr_equal(flow_type_find("io.example.One"), &fake[0]);
    assert_ptr_equal(flow_type_find("a.two"), &fake[1]);
    flow_registry_reset();
    assert_int_equal(flow_registry_count(), 0);
    assert_null(flow_type_find("a.one"));
    /* the real tables come back after a reset */
    tasks_register_all();
    assert_non_null(flow_type_find("log"));
    size_t n = flow_registry_count();
    tasks_register_all(); /* idempotent */
    assert_int_equal(flow_registry_count(), n);
}

/* Runs flow_registry_add(defs, n) in a child; returns its wait status. */
static int add_in_child(const type_def *defs, size_t n, int with_real)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        flow_registry_reset();
        if (with_real)
            tasks_register_all();
        flow_registry_add(defs, n);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static const type_def dup_name[] = {{.name = "x.same"}, {.name = "x.same"}};
static const type_def dup_alias[] = {
    {.name = "x.a", .aliases = (const char *const[]){"io.x.A", NULL}},
    {.name = "x.b", .aliases = (const char *const[]){"io.x.A", NULL}},
};
static const type_def alias_is_name[] = {
    {.name = "x.a"},
    {.name = "x.b", .aliases = (const char *const[]){"x.a", NULL}},
};
static const type_def clash_real[] = {
    {.name = "x.mine", .aliases = (const char *const[]){"io.kestra.plugin.core.log.Log", NULL}},
};
static const type_def fine[] = {{.name = "x.a"}, {.name = "x.b"}};

static void test_duplicates_abort(void **state)
{
    int st = add_in_child(dup_name, 2, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = add_in_child(dup_alias, 2, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = add_in_child(alias_is_name, 2, 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = add_in_child(clash_real, 1, 1);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = add_in_child(fine, 2, 1);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_many_types_grow_the_hash(void **state)
{
    enum { N = 3000 };
    type_def *defs = xcalloc(N, sizeof *defs);
    char **names = xcalloc(N, sizeof *names);
    for (int i = 0; i < N; i++) {
        names[i] = xasprintf("gen.type_%04d", N - 1 - i);
        defs[i].name = names[i];
    }
    flow_registry_reset();
    flow_registry_add(defs, N);
    assert_int_equal(flow_registry_count(), N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(flow_type_find(names[i]), &defs[i]);
    walk w = {.sorted = 1, .aliases_ok = 1};
    flow_registry_each(visit_lookup, &w);
    assert_true(w.sorted);
    assert_int_equal(w.n, N);
    flow_registry_reset();
    for (int i = 0; i < N; i++)
        free(names[i]);
    free(names);
    free(defs);
}

/* ---- table integrity ----------------------------------------------------------------- */

typedef struct integrity {
    int errors;
    char first[512];
} integrity;

static void bad(integrity *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(integrity *g, const char *fmt, ...)
{
    if (!g->errors++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->first, sizeof g->first, fmt, ap);
        va_end(ap);
    }
}

static const prop_def *find_prop(const prop_def *props, const char *name)
{
    for (const prop_def *p = props; p && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

static void check_prop(integrity *g, const char *type, const prop_def *p, int named);

static void check_props(integrity *g, const char *type, const prop_def *props)
{
    for (const prop_def *p = props; p && p->name; p++) {
        check_prop(g, type, p, 1);
        for (const prop_def *q = p + 1; q->name; q++)
            if (!strcmp(p->name, q->name))
                bad(g, "%s: property '%s' declared twice", type, p->name);
        if (p->alias_of && !find_prop(props, p->alias_of))
            bad(g, "%s: '%s' is an alias of unknown '%s'", type, p->name, p->alias_of);
    }
}

static void check_prop(integrity *g, const char *type, const prop_def *p, int named)
{
    const char *n = p->name ? p->name : "(item)";
    if (named && (!p->desc || !*p->desc))
        bad(g, "%s.%s: no description", type, n);
    if ((p->type == PT_ENUM) != (p->enums != NULL))
        bad(g, "%s.%s: enums must be set exactly on PT_ENUM", type, n);
    if (p->enums && !p->enums[0])
        bad(g, "%s.%s: empty enum", type, n);
    if ((p->item != NULL) != (p->type == PT_LIST || p->type == PT_MAP))
        bad(g, "%s.%s: item must be set exactly on lists and maps", type, n);
    if ((p->type == PT_OBJECT) != (p->props != NULL))
        bad(g, "%s.%s: props must be set exactly on PT_OBJECT", type, n);
    if (p->type == PT_PLUGIN && (p->plugin_kind < TK_RUNNABLE || p->plugin_kind > TK_OTHER))
        bad(g, "%s.%s: bad plugin kind", type, n);
    if (p->type != PT_PLUGIN && p->plugin_kind)
        bad(g, "%s.%s: plugin_kind on a non-plugin property", type, n);
    if ((p->flags & PF_NONEMPTY) &&
        !(p->type == PT_LIST || p->type == PT_MAP || p->type == PT_STRING ||
          p->type == PT_TASKS || p->type == PT_STRING_LIST || p->type == PT_CONDITIONS))
        bad(g, "%s.%s: PF_NONEMPTY on a type that cannot be empty", type, n);
    if (p->flags & ~(PF_REQUIRED | PF_STATIC | PF_DEPRECATED | PF_NONEMPTY | PF_NOTRUN))
        bad(g, "%s.%s: unknown flags", type, n);
    if (p->dflt) {
        json_error_t je;
        json_t *d = json_loads(p->dflt, JSON_DECODE_ANY, &je);
        if (!d)
            bad(g, "%s.%s: default is not JSON: %s", type, n, p->dflt);
        if (d && p->type == PT_ENUM && p->enums) {
            int found = 0;
            for (const char *const *e = p->enums; *e; e++)
                found |= json_is_string(d) && !strcmp(*e, json_string_value(d));
            if (!found)
                bad(g, "%s.%s: default %s is not one of the enum", type, n, p->dflt);
        }
        if (d && p->type == PT_BOOL && !json_is_boolean(d))
            bad(g, "%s.%s: default of a boolean is %s", type, n, p->dflt);
        if (d && p->type == PT_INT && !json_is_integer(d))
            bad(g, "%s.%s: default of an integer is %s", type, n, p->dflt);
        if (d && (p->flags & PF_REQUIRED))
            bad(g, "%s.%s: required and defaulted", type, n);
        json_decref(d);
    }
    if (p->item)
        check_prop(g, type, p->item, 0);
    if (p->props)
        check_props(g, type, p->props);
}

static void visit_integrity(const type_def *d, void *arg)
{
    integrity *g = arg;
    for (const char *s = d->name; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '.' || *s == '_'))
            bad(g, "%s: canonical names are lower-case dotted words", d->name);
    if (d->kind < TK_RUNNABLE || d->kind > TK_OTHER)
        bad(g, "%s: bad kind", d->name);
    if (!d->desc || !*d->desc)
        bad(g, "%s: no description", d->name);
    if (!d->aliases || !d->aliases[0])
        bad(g, "%s: no Kestra alias", d->name);
    for (const char *const *a = d->aliases; a && *a; a++)
        if (strncmp(*a, "io.kestra.", 10) || strlen(*a) > 128)
            bad(g, "%s: alias '%s' is not a Kestra class name (or is longer than "
                   "the 128 characters suggestions look at)", d->name, *a);
    if (!d->props)
        bad(g, "%s: props is NULL (use an empty table)", d->name);
    check_props(g, d->name, d->props);
    const prop_def *common = d->kind == TK_TRIGGER ? flow_trigger_common_props()
                             : d->kind <= TK_FLOWABLE ? flow_task_common_props()
                                                      : NULL;
    for (const prop_def *p = d->props; p && p->name; p++)
        if (find_prop(common, p->name))
            bad(g, "%s: '%s' repeats a common property", d->name, p->name);
    if (d->kind == TK_FLOWABLE && !(d->flags & TF_NO_ERRORS) &&
        (!find_prop(d->props, "errors") || !find_prop(d->props, "finally")))
        bad(g, "%s: a flowable without errors/finally must say TF_NO_ERRORS", d->name);
    if (d->kind != TK_FLOWABLE && find_prop(d->props, "errors"))
        bad(g, "%s: errors on a type that is not flowable", d->name);
}

static void test_tables_are_well_formed(void **state)
{
    integrity g = {0};
    flow_registry_each(visit_integrity, &g);
    if (g.errors)
        fail_msg("%d problems; first: %s", g.errors, g.first);
}

static void test_nested_task_props_are_declared(void **state)
{
    const type_def *dag = flow_type_find("flow.dag");
    const prop_def *tasks = find_prop(dag->props, "tasks");
    assert_int_equal(tasks->type, PT_LIST);
    assert_int_equal(tasks->item->type, PT_OBJECT);
    const prop_def *task = find_prop(tasks->item->props, "task");
    assert_int_equal(task->type, PT_TASK);
    assert_true(task->flags & PF_REQUIRED);
    const prop_def *cases = find_prop(flow_type_find("flow.switch")->props, "cases");
    assert_int_equal(cases->type, PT_MAP);
    assert_int_equal(cases->item->type, PT_TASKS);
    const prop_def *then = find_prop(flow_type_find("flow.if")->props, "then");
    assert_true(then->flags & PF_REQUIRED);
    const prop_def *runner = find_prop(flow_type_find("script.python")->props, "taskRunner");
    assert_int_equal(runner->type, PT_PLUGIN);
    assert_int_equal(runner->plugin_kind, TK_RUNNER);
    const prop_def *par = find_prop(flow_type_find("flow.parallel")->props, "tasks");
    assert_true((par->flags & (PF_REQUIRED | PF_NONEMPTY)) == (PF_REQUIRED | PF_NONEMPTY));
}

/* ---- check hooks, through the validator ------------------------------------------------ */

/* Validates text; returns the messages joined by '\n' (caller frees), or
 * NULL when the flow is valid. */
static char *validate(const char *text)
{
    flow *f = NULL;
    diags d = DIAGS_INIT;
    int rc = flow_load_text(text, strlen(text), "t.yaml", &f, &d);
    if (rc == 0) {
        flow_free(f);
        diags_free(&d);
        return NULL;
    }
    buf b = BUF_INIT;
    for (size_t i = 0; i < d.n; i++)
        buf_printf(&b, "%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
    diags_free(&d);
    return buf_steal(&b);
}

static void assert_valid(const char *text)
{
    char *m = validate(text);
    if (m)
        fail_msg("expected valid, got:\n%s", m);
}

static void assert_error(const char *text, const char *needle)
{
    char *m = validate(text);
    if (!m)
        fail_msg("expected an error containing '%s', the flow is valid", needle);
    if (!strstr(m, needle))
        fail_msg("expected '%s' in:\n%s", needle, m);
    free(m);
}

#define HEAD "id: t\nnamespace: io.kite.tests\ntasks:\n"

static void test_dag_cycle_names_its_tasks(void **state)
{
    assert_error(HEAD "  - id: dag\n    type: flow.dag\n    tasks:\n"
                      "      - task: {id: a, type: log, message: m}\n        dependsOn: [c]\n"
                      "      - task: {id: b, type: log, message: m}\n        dependsOn: [a]\n"
                      "      - task: {id: c, type: log, message: m}\n        dependsOn: [b]\n"
                      "      - task: {id: d, type: log, message: m}\n        dependsOn: [a]\n",
                 "Dag 'dag' has a dependency cycle: a -> c -> b -> a");
    assert_error(HEAD "  - id: dag\n    type: flow.dag\n    tasks:\n"
                      "      - task: {id: a, type: log, message: m}\n        dependsOn: [a]\n",
                 "dependency cycle: a -> a");
}

static void test_dag_unknown_dependency(void **state)
{
    assert_error(HEAD "  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n"
                      "      - task: {id: a, type: log, message: m}\n"
                      "      - task: {id: b, type: log, message: m}\n"
                      "        dependsOn: [a, zz]\n",
                 "9:24: task 'b' depends on 'zz', which is not a task of Dag 'dag'");
}

static void test_dag_diamond_is_valid(void **state)
{
    assert_valid(HEAD "  - id: dag\n    type: flow.dag\n    tasks:\n"
                      "      - task: {id: a, type: log, message: m}\n"
                      "      - task: {id: b, type: log, message: m}\n        dependsOn: [a]\n"
                      "      - task: {id: c, type: log, message: m}\n        dependsOn: [a]\n"
                      "      - task: {id: d, type: log, message: m}\n        dependsOn: [b, c]\n");
}

static void test_switch_needs_a_case(void **state)
{
    assert_error(HEAD "  - id: sw\n    type: flow.switch\n    value: x\n    cases: {}\n",
                 "Switch 'sw' has no task to run");
    assert_valid(HEAD "  - id: sw\n    type: flow.switch\n    value: x\n"
                      "    defaults:\n      - {id: l, type: log, message: m}\n");
    assert_valid(HEAD "  - id: sw\n    type: flow.switch\n    value: x\n"
                      "    cases:\n      A:\n        - {id: l, type: log, message: m}\n");
}

static void test_working_directory_takes_runnable_tasks(void **state)
{
    assert_error(HEAD "  - id: wd\n    type: flow.working_directory\n    tasks:\n"
                      "      - {id: l, type: log, message: m}\n"
                      "      - id: p\n        type: flow.parallel\n        tasks:\n"
                      "          - {id: l2, type: log, message: m}\n",
                 "WorkingDirectory 'wd' accepts only runnable tasks: 'p' is a flowable task");
    assert_valid(HEAD "  - id: wd\n    type: flow.working_directory\n    tasks:\n"
                      "      - {id: s, type: script.shell, commands: [ls]}\n"
                      "      - {id: l, type: log, message: m}\n");
}

static void test_script_task_runner_is_checked(void **state)
{
    assert_valid(HEAD "  - id: s\n    type: io.kestra.plugin.scripts.python.Script\n"
                      "    script: print(1)\n    taskRunner:\n"
                      "      type: io.kestra.plugin.scripts.runner.docker.Docker\n"
                      "      pullPolicy: ALWAYS\n");
    assert_error(HEAD "  - id: s\n    type: script.shell\n    commands: [ls]\n"
                      "    taskRunner: {type: runner.process, image: x}\n",
                 "'image'");
}

#define TRIGGERS HEAD "  - {id: l, type: log, message: m}\ntriggers:\n"

static void test_trigger_time_zones_and_dates(void **state)
{
    assert_valid(TRIGGERS "  - id: s\n    type: trigger.schedule\n    cron: '0 * * * *'\n"
                          "    timezone: Europe/Paris\n");
    assert_error(TRIGGERS "  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
                          "    cron: '0 * * * *'\n    timezone: Europe/Pariss\n",
                 "9:15: unknown time zone 'Europe/Pariss'");
    assert_valid(TRIGGERS "  - id: d\n    type: trigger.schedule_on_dates\n"
                          "    dates: ['2025-01-15T10:00:00Z', '2025-02-01T08:00:00+02:00', "
                          "'{{ now() }}']\n");
    assert_error(TRIGGERS "  - id: d\n    type: trigger.schedule_on_dates\n"
                          "    dates: ['2025-01-15T10:00:00Z', 'tomorrow']\n",
                 "'tomorrow' is not an ISO-8601 date-time");
}

static void test_webhook_key(void **state)
{
    char *long_key = xcalloc(300, 1);
    memset(long_key, 'k', 257);
    char *text = xasprintf(TRIGGERS "  - {id: w, type: trigger.webhook, key: %s}\n", long_key);
    assert_error(text, "webhook key is 257 characters long");
    free(text);
    long_key[256] = '\0';
    text = xasprintf(TRIGGERS "  - {id: w, type: trigger.webhook, key: %s}\n", long_key);
    assert_valid(text);
    free(text);
    free(long_key);
    assert_error(TRIGGERS "  - {id: w, type: trigger.webhook, key: ''}\n", "'key'");
}

/* ---- kite plugins ---------------------------------------------------------------------- */

/* Runs `kite plugins ARGS...` with stdout captured; returns the output
 * (caller frees) and the exit code in *rc. */
static char *run_plugins(int *rc, int argc, char **argv)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    *rc = cli_cmd_plugins(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    long n = ftell(tmp);
    assert_true(n >= 0);
    rewind(tmp);
    char *out = xcalloc((size_t)n + 1, 1);
    if (n && fread(out, 1, (size_t)n, tmp) != (size_t)n)
        fail_msg("short read");
    fclose(tmp);
    return out;
}

static json_t *required_of(const json_t *schema)
{
    return json_object_get(schema, "required");
}

/* A non-string property's schema is anyOf [its own, an expression]: its own. */
static json_t *unwrap(json_t *s)
{
    json_t *any = json_object_get(s, "anyOf");
    const char *r = json_string_value(json_object_get(json_array_get(any, 1), "$ref"));
    if (r && !strcmp(r, "#/$defs/expression"))
        return json_array_get(any, 0);
    return s;
}

static int has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return 1;
    return 0;
}

static void test_plugins_list(void **state)
{
    int rc;
    char *argv[] = {"plugins", "list", NULL};
    char *out = run_plugins(&rc, 2, argv);
    assert_int_equal(rc, 0);
    size_t lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, flow_registry_count());
    assert_non_null(strstr(out, "flow.parallel"));
    assert_non_null(strstr(out, "io.kestra.plugin.core.flow.Parallel"));
    free(out);

    char *jargv[] = {"plugins", "list", "--json", NULL};
    out = run_plugins(&rc, 3, jargv);
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("--json output is not JSON: %s", je.text);
    assert_int_equal(json_array_size(j), flow_registry_count());
    json_decref(j);
    free(out);

    char *kargv[] = {"plugins", "list", "--kind", "trigger", NULL};
    out = run_plugins(&rc, 4, kargv);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "trigger.schedule"));
    assert_null(strstr(out, "flow.parallel"));
    free(out);
}

static void test_plugins_schema_of_one_type(void **state)
{
    int rc;
    char *argv[] = {"plugins", "schema", "io.kestra.plugin.core.log.Log", NULL};
    char *out = run_plugins(&rc, 3, argv);
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *s = json_loads(out, 0, &je);
    if (!s)
        fail_msg("schema is not JSON: %s", je.text);
    assert_string_equal(json_string_value(json_object_get(s, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    json_t *req = required_of(s);
    assert_int_equal(json_array_size(req), 3);
    assert_true(has_string(req, "id") && has_string(req, "type") && has_string(req, "message"));
    json_t *props = json_object_get(s, "properties");
    assert_non_null(json_object_get(props, "level"));
    assert_non_null(json_object_get(props, "retry")); /* common ones too */
    assert_true(json_is_false(json_object_get(s, "additionalProperties")));
    json_t *types = json_object_get(json_object_get(props, "type"), "enum");
    assert_true(has_string(types, "log") && has_string(types, "io.kestra.core.tasks.log.Log"));
    json_decref(s);
    free(out);

    char *dargv[] = {"plugins", "schema", "flow.dag", NULL};
    out = run_plugins(&rc, 3, dargv);
    s = json_loads(out, 0, &je);
    assert_non_null(s);
    json_t *tasks = unwrap(json_object_get(json_object_get(s, "properties"), "tasks"));
    assert_int_equal(json_integer_value(json_object_get(tasks, "minItems")), 1);
    json_t *items = unwrap(json_object_get(tasks, "items"));
    req = required_of(items);
    assert_int_equal(json_array_size(req), 1);
    assert_true(has_string(req, "task"));
    json_decref(s);
    free(out);
}

static void test_plugins_schema_of_the_flow(void **state)
{
    int rc;
    char *argv[] = {"plugins", "schema", NULL};
    char *out = run_plugins(&rc, 2, argv);
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *s = json_loads(out, 0, &je);
    if (!s)
        fail_msg("schema is not JSON: %s", je.text);
    json_t *req = required_of(s);
    assert_true(has_string(req, "id") && has_string(req, "namespace") && has_string(req, "tasks"));
    json_t *defs = json_object_get(s, "$defs");
    json_t *one = json_object_get(json_object_get(defs, "task"), "oneOf");
    size_t tasks = 0;
    const char *k;
    json_t *v;
    json_object_foreach(defs, k, v) {
        if (!strncmp(k, "type.", 5)) {
            const type_def *d = flow_type_find(k + 5);
            assert_non_null(d);
            tasks += d->kind == TK_RUNNABLE || d->kind == TK_FLOWABLE;
        }
    }
    assert_int_equal(json_array_size(one), tasks);
    assert_non_null(json_object_get(defs, "type.trigger.schedule"));
    json_decref(s);
    free(out);
}

static void test_plugins_errors(void **state)
{
    int rc;
    char *argv[] = {"plugins", "schema", "lgo", NULL};
    char *out = run_plugins(&rc, 3, argv);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "");
    free(out);
    char *bargv[] = {"plugins", "frobnicate", NULL};
    out = run_plugins(&rc, 2, bargv);
    assert_int_equal(rc, 2);
    free(out);
    char *kargv[] = {"plugins", "list", "--kind", "nope", NULL};
    out = run_plugins(&rc, 4, kargv);
    assert_int_equal(rc, 2);
    free(out);
}

/* docs/plugins.md is generated by `kite plugins list --markdown`: it must
 * match the tables (run from the repository's root, as tests/run.sh does). */
static void test_docs_match_the_tables(void **state)
{
    FILE *fp = fopen("docs/plugins.md", "rb");
    if (!fp) {
        skip(); /* not run from the repository's root */
        return;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *doc = xcalloc((size_t)n + 1, 1);
    if (fread(doc, 1, (size_t)n, fp) != (size_t)n)
        fail_msg("short read of docs/plugins.md");
    fclose(fp);
    int rc;
    char *argv[] = {"plugins", "list", "--markdown", NULL};
    char *out = run_plugins(&rc, 3, argv);
    assert_int_equal(rc, 0);
    if (strcmp(doc, out))
        fail_msg("docs/plugins.md is stale: regenerate it with "
                 "`build/kite plugins list --markdown > docs/plugins.md`");
    assert_non_null(strstr(out, "| [`flow.dag`](#flowdag) | flowable |"));
    assert_non_null(strstr(out, "| `tasks[].dependsOn` | list of string |"));
    free(doc);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_name_and_alias_resolves_to_its_type, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_kestra_names_resolve, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_suggest_short_names_for_short_names, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_suggest_aliases_for_class_names, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_missing_family, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_add_find_each_reset, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_abort, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_many_types_grow_the_hash, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_tables_are_well_formed, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_nested_task_props_are_declared, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_dag_cycle_names_its_tasks, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_dag_unknown_dependency, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_dag_diamond_is_valid, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_switch_needs_a_case, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_working_directory_takes_runnable_tasks, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_script_task_runner_is_checked, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_time_zones_and_dates, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_key, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_list, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_schema_of_one_type, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_schema_of_the_flow, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_errors, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_docs_match_the_tables, setup_real, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
