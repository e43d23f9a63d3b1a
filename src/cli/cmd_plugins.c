/*
 * cmd_plugins.c: `kite plugins list|schema`: what types kite knows, read from
 * the same tables the validator uses (flow/schema.h, src/tasks/).
 *
 *   kite plugins list [--kind KIND] [--json | --markdown]
 *   kite plugins schema [TYPE]
 *
 * `list` prints one line per type (canonical name, kind, first Kestra alias);
 * --json adds every alias and property, --markdown writes docs/plugins.md.
 * `schema` prints the JSON Schema that flow/jsonschema.c builds: of one type,
 * found by name or alias, or, with no TYPE, of the whole flow document.
 */
#include "cli/cli.h"
#include "flow/flow.h"
#include "flow/schema.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(int k) { return flow_kind_name(k); }

static int kind_parse(const char *s)
{
    for (int k = TK_RUNNABLE; k <= TK_OTHER; k++)
        if (!strcmp(s, kind_name(k)))
            return k;
    if (!strcmp(s, "task"))
        return 100; /* runnable or flowable */
    return -1;
}

static int kind_matches(int filter, int kind)
{
    if (filter < 0)
        return 1;
    if (filter == 100)
        return kind == TK_RUNNABLE || kind == TK_FLOWABLE;
    return filter == kind;
}

static const char *ptype_name(ptype t) { return flow_ptype_name(t); }

/* ---- list ------------------------------------------------------------------ */

typedef struct list_ctx {
    int kind;          /* filter, -1: all */
    int mode;          /* 0 text, 1 json, 2 markdown */
    json_t *json;
    buf md;
} list_ctx;

static void md_props(buf *b, const prop_def *props, const char *prefix)
{
    for (const prop_def *p = props; p && p->name; p++) {
        char *name = xasprintf("%s%s", prefix, p->name);
        buf_printf(b, "| `%s` | %s", name, ptype_name(p->type));
        if (p->type == PT_ENUM && p->enums) {
            buf_puts(b, ":");
            for (const char *const *v = p->enums; *v; v++)
                buf_printf(b, "%s`%s`", v == p->enums ? " " : ", ", *v);
        }
        if ((p->type == PT_LIST || p->type == PT_MAP) && p->item)
            buf_printf(b, " of %s", ptype_name(p->item->type));
        if (p->type == PT_PLUGIN)
            buf_printf(b, " (%s)", kind_name(p->plugin_kind));
        buf_printf(b, " | %s | %s%s%s | %s", p->flags & PF_REQUIRED ? "yes" : "",
                   p->dflt ? "`" : "", p->dflt ? p->dflt : "", p->dflt ? "`" : "",
                   p->flags & PF_DEPRECATED ? "(deprecated) " : "");
        for (const char *s = p->desc ? p->desc : ""; *s; s++) {
            if (*s == '|')
                buf_putc(b, '\\');
            buf_putc(b, *s);
        }
        buf_puts(b, " |\n");
        if (p->props) {
            char *sub = xasprintf("%s.", name);
            md_props(b, p->props, sub);
            free(sub);
        }
        if (p->item && p->item->props) {
            char *sub = xasprintf("%s%s", name, p->type == PT_MAP ? ".*." : "[].");
            md_props(b, p->item->props, sub);
            free(sub);
        }
        free(name);
    }
}

static void list_one(const type_def *d, void *arg)
{
    list_ctx *c = arg;
    if (!kind_matches(c->kind, d->kind))
        return;
    const char *first = d->aliases && d->aliases[0] ? d->aliases[0] : "-";
    if (c->mode == 0) {
        printf("%-40s %-10s %s\n", d->name, kind_name(d->kind), first);
    } else if (c->mode == 1) {
        json_t *j = flow_type_summary(d);
        json_array_append_new(c->json, j);
    } else {
        buf *b = &c->md;
        buf_printf(b, "## `%s`\n\n%s%s%s\n\n", d->name,
                   d->flags & TF_DEPRECATED ? "**Deprecated.** " : "",
                   d->flags & TF_DECLARED_ONLY ? "**Declared only: kite cannot run it yet** "
                                                 "(a flow using it validates, with a warning). "
                                               : "",
                   d->desc ? d->desc : "");
        if (d->waits)
            buf_printf(b, "Why it cannot run: %s.\n\n", d->waits);
        buf_printf(b, "Kind: %s. Kestra types:", kind_name(d->kind));
        for (const char *const *a = d->aliases; a && *a; a++)
            buf_printf(b, "%s`%s`", a == d->aliases ? " " : ", ", *a);
        buf_puts(b, ".\n\n");
        if (!d->props || !d->props[0].name) {
            buf_puts(b, "No property of its own.\n\n");
            return;
        }
        buf_puts(b, "| property | type | required | default | description |\n"
                    "| --- | --- | --- | --- | --- |\n");
        md_props(b, d->props, "");
        buf_puts(b, "\n");
    }
}

/* The anchor GitHub gives the heading "## `name`": lower case, punctuation
 * other than '-' and '_' dropped. */
static void md_anchor(buf *b, const char *name)
{
    for (const char *s = name; *s; s++)
        if (isalnum((unsigned char)*s) || *s == '-' || *s == '_')
            buf_putc(b, (char)tolower((unsigned char)*s));
}

static void md_summary(const type_def *d, void *arg)
{
    list_ctx *c = arg;
    if (!kind_matches(c->kind, d->kind))
        return;
    buf_printf(&c->md, "| [`%s`](#", d->name);
    md_anchor(&c->md, d->name);
    buf_printf(&c->md, ") | %s | `%s` |\n", kind_name(d->kind),
               d->aliases && d->aliases[0] ? d->aliases[0] : "");
}

static void md_common(buf *b, const char *title, const prop_def *props)
{
    buf_printf(b, "### %s\n\n| property | type | required | default | description |\n"
                  "| --- | --- | --- | --- | --- |\n", title);
    md_props(b, props, "");
    buf_puts(b, "\n");
}

static const char md_intro[] =
    "# kite plugin types\n\n"
    "<!-- Generated by `kite plugins list --markdown > docs/plugins.md` from the type tables\n"
    "     in src/tasks/ (regenerate after changing them). -->\n\n"
    "Every task, trigger, condition and task-runner type kite knows, with its properties.\n"
    "A flow may name a type by its kite name (`log`, `flow.parallel`) or by any of its\n"
    "Kestra class names (`io.kestra.plugin.core.log.Log`, the older\n"
    "`io.kestra.core.tasks.log.Log`), so Kestra flows validate and run unchanged.\n\n"
    "Naming scheme of kite names:\n\n"
    "- tasks: `<family>.<class in snake_case>`, the family being the last segment of Kestra's\n"
    "  package (`storage.split`, `kv.get_keys`, `flow.loop_until`); `log` for `log.Log`,\n"
    "  `flow.foreach` for `ForEach`, `output.values` for `OutputValues`; `trigger.toggle` is a\n"
    "  task (Kestra keeps it in its trigger package);\n"
    "- triggers `trigger.<name>`, conditions `condition.<name>` without Kestra's `Condition`\n"
    "  suffix, task runners `runner.<name>`;\n"
    "- scripts `script.<language>` for `<language>.Commands` and `script.<language>_script` for\n"
    "  `<language>.Script`.\n\n"
    "Kinds: *runnable* tasks run on a worker, *flowable* tasks are run by the executor\n"
    "(they decide which children run next), *trigger*s start executions, *condition*s\n"
    "filter triggers, *runner*s are where a script task runs (`taskRunner:`).\n\n"
    "Almost any typed property also accepts an expression string (`\"{{ inputs.n }}\"`),\n"
    "rendered at run time. `kite plugins schema [TYPE]` prints the same information as\n"
    "JSON Schema.\n\n";

static int cmd_list(int argc, char **argv)
{
    list_ctx c = {.kind = -1};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            c.mode = 1;
        } else if (!strcmp(argv[i], "--markdown")) {
            c.mode = 2;
        } else if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
            c.kind = kind_parse(argv[++i]);
            if (c.kind < 0) {
                fprintf(stderr, "kite plugins list: unknown kind '%s' (task, runnable, "
                                "flowable, trigger, condition, runner)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "kite plugins list: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (c.mode == 1)
        c.json = json_array();
    if (c.mode == 2) {
        buf_puts(&c.md, md_intro);
        buf_printf(&c.md, "%zu types.\n\n| kite name | kind | Kestra type |\n| --- | --- | --- |\n",
                   flow_registry_count());
        flow_registry_each(md_summary, &c);
        buf_puts(&c.md, "\n## Common properties\n\nThe validator adds these to every type of "
                        "the kind; the tables below list each type's own.\n\n");
        md_common(&c.md, "Every task", flow_task_common_props());
        md_common(&c.md, "Every trigger", flow_trigger_common_props());
        md_common(&c.md, "Every condition and task runner", flow_plugin_common_props());
    }
    flow_registry_each(list_one, &c);
    if (c.mode == 1) {
        char *s = json_dumps(c.json, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(c.json);
    } else if (c.mode == 2) {
        fputs(buf_str(&c.md), stdout);
        buf_free(&c.md);
    }
    return 0;
}

static int cmd_schema(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "kite plugins schema: one TYPE at most\n");
        return 2;
    }
    json_t *s = flow_json_schema(argc == 2 ? argv[1] : NULL);
    if (!s) {
        const char *hint = flow_type_suggest(argv[1], -1);
        fprintf(stderr, "kite plugins schema: unknown type '%s'", argv[1]);
        if (hint)
            fprintf(stderr, " (did you mean '%s'?)", hint);
        fprintf(stderr, "\n");
        return 1;
    }
    char *out = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", out);
    free(out);
    json_decref(s);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kite plugins list [--kind KIND] [--json | --markdown]\n"
            "       kite plugins schema [TYPE]\n\n"
            "list    one line per type: kite name, kind, Kestra class name;\n"
            "        --json adds every alias and property, --markdown writes the\n"
            "        reference (docs/plugins.md); --kind: task, runnable, flowable,\n"
            "        trigger, condition or runner\n"
            "schema  JSON Schema (draft 2020-12) of one type, by kite name or Kestra\n"
            "        class name, or of the whole flow file when TYPE is left out\n");
}

int cli_cmd_plugins(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "schema"))
        return cmd_schema(argc - 1, argv + 1);
    fprintf(stderr, "kite plugins: unknown subcommand '%s' (list or schema)\n", argv[1]);
    return 2;
}
