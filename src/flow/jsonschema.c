/*
 * jsonschema.c: the JSON Schema (draft 2020-12) of kite's types and of the
 * whole flow document, built from the same tables the validator uses
 * (flow/schema.h and the task families' tables), for `kite plugins schema`
 * and for the server to hand to an editor.
 *
 * DESIGN
 * The schema is built from prop_def tables alone. Kestra accepts an
 * expression ("{{ ... }}") in place of nearly any typed value, so every
 * non-string property that is not PF_STATIC becomes anyOf [its schema, an
 * expression string]. The common properties of tasks and triggers come from
 * the validator (flow_task_common_props(), ...), so the schema and the
 * validator never disagree on them. In the whole-document form, a task is a
 * oneOf of every task type keyed by its `type`, each type a $defs entry; the
 * schema of a single type has loose $defs for what it nests (a nested task
 * needs only an id and a type there).
 */
#include "flow/flow.h"
#include "flow/schema.h"
#include "util/mem.h"

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

const prop_def *flow_plugin_common_props(void) { return plugin_common; }

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

json_t *flow_json_schema(const char *type)
{
    if (!type)
        return flow_schema();
    const type_def *d = flow_type_find(type);
    return d ? single_schema(d) : NULL;
}

/* ---- summaries (`kite plugins list --json`, GET /api/v1/plugins) ---------------- */

const char *flow_kind_name(int k)
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

const char *flow_ptype_name(ptype t)
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

static json_t *summary_props(const prop_def *props);

static json_t *summary_prop(const prop_def *p)
{
    json_t *j = json_pack("{s:s, s:s, s:b}", "name", p->name ? p->name : "",
                          "type", flow_ptype_name(p->type), "required", (p->flags & PF_REQUIRED) != 0);
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
        json_object_set_new(j, "item", summary_prop(p->item));
    if (p->props)
        json_object_set_new(j, "properties", summary_props(p->props));
    if (p->type == PT_PLUGIN)
        json_object_set_new(j, "pluginKind", json_string(flow_kind_name(p->plugin_kind)));
    return j;
}

static json_t *summary_props(const prop_def *props)
{
    json_t *a = json_array();
    for (const prop_def *p = props; p && p->name; p++)
        json_array_append_new(a, summary_prop(p));
    return a;
}

json_t *flow_type_summary(const type_def *d)
{
    json_t *aliases = json_array();
    for (const char *const *a = d->aliases; a && *a; a++)
        json_array_append_new(aliases, json_string(*a));
    return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:o}", "name", d->name, "kind", flow_kind_name(d->kind),
                     "description", d->desc ? d->desc : "", "aliases", aliases, "deprecated",
                     (d->flags & TF_DEPRECATED) != 0, "declaredOnly", (d->flags & TF_DECLARED_ONLY) != 0,
                     "properties", summary_props(d->props));
}
