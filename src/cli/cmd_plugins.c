/*
 * cmd_plugins.c: `kite plugins list|schema`: what types kite knows, read from
 * the same tables the validator uses (flow/schema.h, src/tasks/).
 *
 *   kite plugins list [--kind KIND] [--json | --markdown]
 *   kite plugins schema [TYPE]
 *
 * `list` prints one line per type (canonical name, kind, first Kestra alias);
 * --json adds every alias and property, --markdown writes docs/plugins.md.
 * `schema` prints a JSON Schema (draft 2020-12): of one type, found by name
 * or alias, or, with no TYPE, of the whole flow document, where a task is a
 * oneOf of every task type keyed by its `type`.
 *
 * DESIGN
 * The schema is built from prop_def tables alone. Kestra accepts an
 * expression ("{{ ... }}") in place of nearly any typed value, so every
 * non-string property that is not PF_STATIC becomes anyOf [its schema, an
 * expression string]. The common properties of tasks and triggers come from
 * the validator (flow_task_common_props(), ...), so the schema and the
 * validator never disagree on them.
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

#define SCHEMA_DRAFT "https://json-schema.org/draft/2020-12/schema"

/* What conditions and task runners accept besides their own properties (the
 * validator's condition_common). */
static const prop_def plugin_common[] = {
    {.name = "type", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "the type"},
    {.name = "id", .type = PT_STRING, .desc = "an optional id"},
    {.name = "description", .type = PT_STRING, .desc = "free text"},
    {0},
};

static const char *kind_name(int k)
{
    switch (k) {
    case TK_RUNNABLE: return "runnable";
    case TK_FLOWABLE: return "flowable";
    case TK_TRIGGER: return "trigger";
    case TK_CONDITION: return "condition";
    case TK_RUNNER: return "runner";
    default: return "other";
    }
}

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

static const char *ptype_name(ptype t)
{
    static const char *const names[] = {
        [PT_ANY] = "any",           [PT_STRING] = "string",   [PT_INT] = "integer",
        [PT_NUMBER] = "number",     [PT_BOOL] = "boolean",    [PT_DURATION] = "duration",
        [PT_DATETIME] = "date-time", [PT_ENUM] = "enum",      [PT_LIST] = "list",
        [PT_MAP] = "map",           [PT_OBJECT] = "object",   [PT_STRING_LIST] = "string-list",
        [PT_TASK] = "task",         [PT_TASKS] = "tasks",     [PT_CONDITIONS] = "conditions",
        [PT_PLUGIN] = "plugin",
    };
    return (unsigned)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "?";
}

/* The $defs entry a PT_PLUGIN of this kind refers to. */
static const char *plugin_def(int kind)
{
    switch (kind) {
    case TK_RUNNABLE:
    case TK_FLOWABLE: return "task";
    case TK_TRIGGER: return "trigger";
    case TK_CONDITION: return "condition";
    case TK_RUNNER: return "runner";
    default: return "plugin";
    }
}

/* ---- JSON Schema ----------------------------------------------------------- */

static json_t *ref(const char *def)
{
    char *r = xasprintf("#/$defs/%s", def);
    json_t *j = json_pack("{s:s}", "$ref", r);
    free(r);
    return j;
}

static json_t *object_schema(const prop_def *props, const prop_def *common, const char *shared,
                             json_t *type_prop);

/* The schema of one value described by p (its name, flags and desc are the
 * caller's business, except where they change the value's own schema). */
static json_t *value_schema(const prop_def *p)
{
    json_t *s = json_object();
    switch (p->type) {
    case PT_ANY:
        break;
    case PT_STRING:
        json_object_set_new(s, "type", json_string("string"));
        if (p->flags & PF_NONEMPTY)
            json_object_set_new(s, "minLength", json_integer(1));
        break;
    case PT_INT:
        json_object_set_new(s, "type", json_string("integer"));
        break;
    case PT_NUMBER:
        json_object_set_new(s, "type", json_string("number"));
        break;
    case PT_BOOL:
        json_object_set_new(s, "type", json_string("boolean"));
        break;
    case PT_DURATION:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "format", json_string("duration"));
        break;
    case PT_DATETIME:
        json_object_set_new(s, "type", json_string("string"));
        json_object_set_new(s, "format", json_string("date-time"));
        break;
    case PT_ENUM: {
        json_t *e = json_array();
        for (const char *const *v = p->enums; v && *v; v++)
            json_array_append_new(e, json_string(*v));
        json_object_set_new(s, "enum", e);
        break;
    }
    case PT_LIST:
        json_object_set_new(s, "type", json_string("array"));
        if (p->item)
            json_object_set_new(s, "items", value_schema(p->item));
        if (p->flags & PF_NONEMPTY)
            json_object_set_new(s, "minItems", json_integer(1));
        break;
    case PT_MAP:
        json_object_set_new(s, "type", json_string("object"));
        if (p->item)
            json_object_set_new(s, "additionalProperties", value_schema(p->item));
        if (p->flags & PF_NONEMPTY)
            json_object_set_new(s, "minProperties", json_integer(1));
        break;
    case PT_OBJECT:
        json_decref(s);
        s = object_schema(p->props, NULL, NULL, NULL);
        break;
    case PT_STRING_LIST:
        json_object_set_new(s, "anyOf",
                            json_pack("[{s:s}, {s:s, s:{s:s}}]", "type", "string", "type",
                                      "array", "items", "type", "string"));
        break;
    case PT_TASK:
        json_decref(s);
        s = ref("task");
        break;
    case PT_TASKS:
        json_object_set_new(s, "type", json_string("array"));
        json_object_set_new(s, "items", ref("task"));
        if (p->flags & PF_NONEMPTY)
            json_object_set_new(s, "minItems", json_integer(1));
        break;
    case PT_CONDITIONS:
        json_object_set_new(s, "anyOf",
                            json_pack("[{s:s, s:o}, {s:s, s:o}]", "type", "array", "items",
                                      ref("condition"), "type", "object",
                                      "additionalProperties", ref("condition")));
        break;
    case PT_PLUGIN:
        json_decref(s);
        s = ref(plugin_def(p->plugin_kind));
        break;
    }
    /* an expression may stand in for any typed value but a string's */
    if (!(p->flags & PF_STATIC) && p->type != PT_ANY && p->type != PT_STRING &&
        p->type != PT_DURATION && p->type != PT_DATETIME && p->type != PT_TASK &&
        p->type != PT_TASKS)
        s = json_pack("{s:[o,o]}", "anyOf", s, ref("expression"));
    return s;
}

/* A property's schema: its value's, plus description, default, deprecated. */
static json_t *prop_schema(const prop_def *p)
{
    json_t *s = value_schema(p);
    /* null stands for absent (as in Kestra and the validator) when optional */
    const char *t = json_string_value(json_object_get(s, "type"));
    if (t && !(p->flags & PF_REQUIRED))
        json_object_set_new(s, "type", json_pack("[s,s]", t, "null"));
    if (p->desc)
        json_object_set_new(s, "description", json_string(p->desc));
    if (p->dflt) {
        json_t *d = json_loads(p->dflt, JSON_DECODE_ANY, NULL);
        if (d)
            json_object_set_new(s, "default", d);
    }
    if (p->flags & PF_DEPRECATED)
        json_object_set_new(s, "deprecated", json_true());
    return s;
}

/* Adds each property's schema; with shared, a $ref to the definition
 * "<shared><name>" instead (the common properties of the flow schema, which
 * would otherwise be repeated in every type). */
static void add_props(json_t *properties, json_t *required, const prop_def *props,
                      const char *shared)
{
    for (const prop_def *p = props; p && p->name; p++) {
        if (shared) {
            char *key = xasprintf("%s%s", shared, p->name);
            json_object_set_new(properties, p->name, ref(key));
            free(key);
        } else {
            json_object_set_new(properties, p->name, prop_schema(p));
        }
        if (p->flags & PF_REQUIRED) {
            /* once, even when a common property repeats an own one */
            size_t i;
            json_t *r;
            int seen = 0;
            json_array_foreach(required, i, r) seen |= !strcmp(json_string_value(r), p->name);
            if (!seen)
                json_array_append_new(required, json_string(p->name));
        }
    }
}

/* An object of known properties: common ones first (as $refs to shared
 * definitions when shared is given), then props (which win); type_prop, when
 * given, replaces the schema of `type` (stolen). */
static json_t *object_schema(const prop_def *props, const prop_def *common, const char *shared,
                             json_t *type_prop)
{
    json_t *properties = json_object(), *required = json_array();
    add_props(properties, required, common, shared);
    add_props(properties, required, props, NULL);
    if (type_prop)
        json_object_set_new(properties, "type", type_prop);
    json_t *s = json_pack("{s:s, s:o}", "type", "object", "properties", properties);
    if (json_array_size(required))
        json_object_set_new(s, "required", required);
    else
        json_decref(required);
    json_object_set_new(s, "additionalProperties", json_false());
    return s;
}

static const prop_def *common_of(int kind)
{
    switch (kind) {
    case TK_RUNNABLE:
    case TK_FLOWABLE: return flow_task_common_props();
    case TK_TRIGGER: return flow_trigger_common_props();
    default: return plugin_common;
    }
}

/* Where the flow schema keeps the common properties of a kind. */
static const char *common_prefix(int kind)
{
    switch (kind) {
    case TK_RUNNABLE:
    case TK_FLOWABLE: return "common.task.";
    case TK_TRIGGER: return "common.trigger.";
    default: return "common.plugin.";
    }
}

/* The schema of one type's object: its properties, the common ones of its
 * kind (inline, or as $refs when shared), and `type` restricted to its name
 * and aliases. */
static json_t *type_schema(const type_def *d, int shared)
{
    json_t *names = json_array();
    json_array_append_new(names, json_string(d->name));
    for (const char *const *a = d->aliases; a && *a; a++)
        json_array_append_new(names, json_string(*a));
    json_t *tp = json_pack("{s:o, s:s}", "enum", names, "description", "the type: kite's name or a "
                                                                        "Kestra class name");
    json_t *s = object_schema(d->props, common_of(d->kind), shared ? common_prefix(d->kind) : NULL,
                              tp);
    json_object_set_new(s, "title", json_string(d->name));
    if (d->desc)
        json_object_set_new(s, "description", json_string(d->desc));
    if (d->flags & TF_DEPRECATED)
        json_object_set_new(s, "deprecated", json_true());
    return s;
}

static json_t *expression_def(void)
{
    return json_pack("{s:s, s:s, s:s}", "type", "string", "pattern", "\\{\\{|\\{%",
                     "description", "a template expression, rendered at run time");
}

/* Loose definitions of the plugin kinds, for the schema of a single type:
 * a nested task only needs an id and a type there. */
static json_t *loose_defs(void)
{
    json_t *defs = json_object();
    json_object_set_new(defs, "expression", expression_def());
    json_object_set_new(defs, "task",
                        json_pack("{s:s, s:{s:{s:s}, s:{s:s}}, s:[s,s]}", "type", "object",
                                  "properties", "id", "type", "string", "type", "type", "string",
                                  "required", "id", "type"));
    static const char *const kinds[] = {"trigger", "condition", "runner", "plugin"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        json_object_set_new(defs, kinds[i],
                            json_pack("{s:s, s:{s:{s:s}}, s:[s]}", "type", "object",
                                      "properties", "type", "type", "string", "required",
                                      "type"));
    return defs;
}

/* A root schema: $schema first, then body's members (body is consumed). */
static json_t *root_schema(json_t *body)
{
    json_t *s = json_pack("{s:s}", "$schema", SCHEMA_DRAFT);
    json_object_update(s, body);
    json_decref(body);
    return s;
}

static json_t *single_schema(const type_def *d)
{
    json_t *s = root_schema(type_schema(d, 0));
    json_object_set_new(s, "$defs", loose_defs());
    return s;
}

typedef struct doc_ctx {
    json_t *defs;
    json_t *kinds[TK_OTHER + 1]; /* oneOf arrays */
} doc_ctx;

static void add_type_def(const type_def *d, void *arg)
{
    doc_ctx *c = arg;
    char *key = xasprintf("type.%s", d->name);
    json_object_set_new(c->defs, key, type_schema(d, 1));
    json_array_append_new(c->kinds[d->kind], ref(key));
    free(key);
}

/* oneOf the schemas in refs (consumed); false (nothing matches) when there
 * is none, since JSON Schema forbids an empty oneOf. */
static json_t *one_of(json_t *refs)
{
    if (!json_array_size(refs)) {
        json_decref(refs);
        return json_false();
    }
    return json_pack("{s:o}", "oneOf", refs);
}

/* The whole flow document: the validator's flow properties, with tasks and
 * triggers typed through $defs. */
static json_t *flow_schema(void)
{
    doc_ctx c = {.defs = json_object()};
    for (int k = 0; k <= TK_OTHER; k++)
        c.kinds[k] = json_array();
    flow_registry_each(add_type_def, &c);
    json_array_extend(c.kinds[TK_RUNNABLE], c.kinds[TK_FLOWABLE]);
    json_object_set_new(c.defs, "expression", expression_def());
    json_object_set_new(c.defs, "task", one_of(c.kinds[TK_RUNNABLE]));
    json_object_set_new(c.defs, "trigger", one_of(c.kinds[TK_TRIGGER]));
    json_object_set_new(c.defs, "condition", one_of(c.kinds[TK_CONDITION]));
    json_object_set_new(c.defs, "runner", one_of(c.kinds[TK_RUNNER]));
    json_object_set_new(c.defs, "plugin", one_of(c.kinds[TK_OTHER]));
    json_decref(c.kinds[TK_FLOWABLE]);
    static const int kinds[] = {TK_RUNNABLE, TK_TRIGGER, TK_CONDITION};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (const prop_def *p = common_of(kinds[k]); p && p->name; p++) {
            char *key = xasprintf("%s%s", common_prefix(kinds[k]), p->name);
            json_object_set_new(c.defs, key, prop_schema(p));
            free(key);
        }
    }

    json_t *s = root_schema(json_pack("{s:s, s:s}", "title", "kite flow", "description",
                                      "A kite (Kestra-compatible) flow file."));
    json_t *body = object_schema(flow_document_props(), NULL, NULL, NULL);
    json_object_update(s, body);
    json_decref(body);
    json_t *props = json_object_get(s, "properties");
    json_object_set_new(props, "triggers",
                        json_pack("{s:s, s:o, s:s}", "type", "array", "items", ref("trigger"),
                                  "description", "what starts the flow besides a manual run"));
    json_object_set_new(s, "$defs", c.defs);
    return s;
}

/* ---- list ------------------------------------------------------------------ */

static json_t *props_json(const prop_def *props);

static json_t *prop_json(const prop_def *p)
{
    json_t *j = json_pack("{s:s, s:s, s:b}", "name", p->name ? p->name : "",
                          "type", ptype_name(p->type), "required", (p->flags & PF_REQUIRED) != 0);
    if (p->desc)
        json_object_set_new(j, "description", json_string(p->desc));
    if (p->dflt)
        json_object_set_new(j, "default", json_string(p->dflt));
    if (p->flags & PF_DEPRECATED)
        json_object_set_new(j, "deprecated", json_true());
    if (p->flags & PF_NONEMPTY)
        json_object_set_new(j, "nonEmpty", json_true());
    if (p->alias_of)
        json_object_set_new(j, "aliasOf", json_string(p->alias_of));
    if (p->type == PT_ENUM && p->enums) {
        json_t *e = json_array();
        for (const char *const *v = p->enums; *v; v++)
            json_array_append_new(e, json_string(*v));
        json_object_set_new(j, "enum", e);
    }
    if (p->item)
        json_object_set_new(j, "item", prop_json(p->item));
    if (p->props)
        json_object_set_new(j, "properties", props_json(p->props));
    if (p->type == PT_PLUGIN)
        json_object_set_new(j, "pluginKind", json_string(kind_name(p->plugin_kind)));
    return j;
}

static json_t *props_json(const prop_def *props)
{
    json_t *a = json_array();
    for (const prop_def *p = props; p && p->name; p++)
        json_array_append_new(a, prop_json(p));
    return a;
}

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
        json_t *aliases = json_array();
        for (const char *const *a = d->aliases; a && *a; a++)
            json_array_append_new(aliases, json_string(*a));
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:o}", "name", d->name, "kind",
                              kind_name(d->kind), "description", d->desc ? d->desc : "",
                              "aliases", aliases, "deprecated", (d->flags & TF_DEPRECATED) != 0,
                              "declaredOnly", (d->flags & TF_DECLARED_ONLY) != 0,
                              "properties", props_json(d->props));
        json_array_append_new(c->json, j);
    } else {
        buf *b = &c->md;
        buf_printf(b, "## `%s`\n\n%s%s%s\n\n", d->name,
                   d->flags & TF_DEPRECATED ? "**Deprecated.** " : "",
                   d->flags & TF_DECLARED_ONLY ? "**Declared only: kite cannot run it yet** "
                                                 "(a flow using it validates, with a warning). "
                                               : "",
                   d->desc ? d->desc : "");
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
        md_common(&c.md, "Every condition and task runner", plugin_common);
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
    json_t *s;
    if (argc == 2) {
        const type_def *d = flow_type_find(argv[1]);
        if (!d) {
            const char *hint = flow_type_suggest(argv[1], -1);
            fprintf(stderr, "kite plugins schema: unknown type '%s'", argv[1]);
            if (hint)
                fprintf(stderr, " (did you mean '%s'?)", hint);
            fprintf(stderr, "\n");
            return 1;
        }
        s = single_schema(d);
    } else {
        s = flow_schema();
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

/* -h / --help anywhere before "--". (cli_wants_help() lives in main.c,
 * outside libkite, and the unit tests call this command directly.) */
static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int cli_cmd_plugins(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
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
