/*
 * validate.c: a flow document checked against Kestra's flow model and the
 * type tables of the registry (schema.h).
 *
 * The walk is generic: the flow's own keys are described by prop_def tables
 * here, tasks/triggers/conditions by their type's table, and nested tasks are
 * found through PT_TASK/PT_TASKS properties wherever they sit (Parallel's
 * `tasks`, Switch's `cases`, Dag's `tasks[].task`...). Types add structural
 * rules through their `check` hook. Every problem is recorded, not just the
 * first, each at the position of the node at fault: the key for an unknown
 * property, the value for a bad value, the enclosing object for a missing one.
 *
 * Kestra's reader (Jackson) coerces scalars ("5" for an integer, 5 for a
 * string) and takes null as absent; so does this validator. Any typed
 * property may hold an expression string instead, checked when rendered.
 */
#include "flow/flow_int.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/strutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct vctx {
    const char *file;
    const posmap *pm;
    diags *d;
    flow *f;                /* receives the task index; may be NULL */
    const json_t *defaults; /* pluginDefaults + taskDefaults list, or NULL */
    json_t *task_ids;       /* id -> path of its first declaration */
    size_t errors;
};

/* ---- reporting ---------------------------------------------------------- */

static void report(vctx *v, const char *path, int at_key, int warning, const char *fmt, va_list ap)
{
    const ypos *p = posmap_get(v->pm, path);
    if (!p)
        p = posmap_find(v->pm, path);
    int line = 0, col = 0;
    if (p) {
        line = at_key && p->key_line ? p->key_line : p->line;
        col = at_key && p->key_line ? p->key_col : p->col;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (warning) {
        diags_warn(v->d, v->file, line, col, path, "%s", msg);
        return;
    }
    diags_add(v->d, v->file, line, col, path, "%s", msg);
    v->errors++;
}

void vctx_error(vctx *v, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(v, path, 0, 0, fmt, ap);
    va_end(ap);
}

void vctx_warn(vctx *v, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(v, path, 0, 1, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void error_key(vctx *v, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(v, path, 1, 0, fmt, ap);
    va_end(ap);
}

static char *child_path(const char *path, const char *key)
{
    buf b = BUF_INIT;
    buf_puts(&b, path);
    json_pointer_append(&b, key);
    return buf_steal(&b);
}

static char *index_path(const char *path, size_t i)
{
    return xasprintf("%s/%zu", path, i);
}

/* ---- ids ------------------------------------------------------------------ */

int flow_valid_id(const char *s)
{
    if (!s || !isalnum((unsigned char)s[0]))
        return 0;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return 0;
    return n <= 100;
}

int flow_valid_namespace(const char *s)
{
    if (!s || !isalnum((unsigned char)s[0]))
        return 0;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return 0;
        if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
            return 0;
    }
    return n <= 150;
}

/* Input ids may also hold dots ("nested.more.int"). */
static int valid_input_id(const char *s)
{
    if (!s || !isalnum((unsigned char)s[0]))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return 0;
    return strlen(s) <= 100;
}

static int is_expr(const json_t *j)
{
    const char *s = json_string_value(j);
    return s && (strstr(s, "{{") || strstr(s, "{%"));
}

/* ---- generic values -------------------------------------------------------- */

static void check_task(vctx *v, const json_t *t, const char *path, int parent);
static void check_tasks(vctx *v, const json_t *list, const char *path, int parent, unsigned flags,
                        const char *what);
static void check_plugin(vctx *v, const json_t *obj, const char *path, int kind, int parent);
static void check_object(vctx *v, const json_t *obj, const char *path, const prop_def *props,
                         const prop_def *common, const char *what, const json_t *dflt, int parent);

static const prop_def task_common[];

static const char *kind_word(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int str_is_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int str_is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0';
}

static void check_value(vctx *v, const json_t *j, const char *path, const prop_def *pd, int parent)
{
    const char *name = pd->name ? pd->name : "item";
    if (json_is_null(j))
        return;
    if (!(pd->flags & PF_STATIC) && pd->type != PT_STRING && is_expr(j))
        return;
    const char *s = json_string_value(j);
    switch (pd->type) {
    case PT_ANY:
        return;
    case PT_STRING:
        if (json_is_object(j) || json_is_array(j))
            vctx_error(v, path, "'%s' must be a string, not %s", name, kind_word(j));
        else if ((pd->flags & PF_NONEMPTY) && s && !*s)
            vctx_error(v, path, "'%s' must not be empty", name);
        return;
    case PT_INT:
        if (!json_is_integer(j) && !(s && str_is_int(s)) &&
            !(json_is_real(j) && json_real_value(j) == (double)(json_int_t)json_real_value(j)))
            vctx_error(v, path, "'%s' must be an integer, not %s", name, kind_word(j));
        return;
    case PT_NUMBER:
        if (!json_is_number(j) && !(s && str_is_number(s)))
            vctx_error(v, path, "'%s' must be a number, not %s", name, kind_word(j));
        return;
    case PT_BOOL:
        if (!json_is_boolean(j) && !(s && (!strcasecmp(s, "true") || !strcasecmp(s, "false"))))
            vctx_error(v, path, "'%s' must be true or false, not %s", name, kind_word(j));
        return;
    case PT_DURATION: {
        if (json_is_number(j))
            return; /* seconds, as Jackson reads a number into a Duration */
        if (!s) {
            vctx_error(v, path, "'%s' must be an ISO-8601 duration such as PT30S, not %s", name, kind_word(j));
            return;
        }
        int64_t us;
        kerr e = KERR_INIT;
        if (duration_parse(s, &us, &e))
            vctx_error(v, path, "'%s': %s", name, e.msg);
        return;
    }
    case PT_DATETIME:
        if (!s)
            vctx_error(v, path, "'%s' must be an ISO-8601 date-time string, not %s", name, kind_word(j));
        return;
    case PT_ENUM: {
        if (!s || !pd->enums) {
            if (!s)
                vctx_error(v, path, "'%s' must be a string, not %s", name, kind_word(j));
            return;
        }
        size_t n = 0;
        for (const char *const *e = pd->enums; *e; e++, n++)
            if (!strcasecmp(*e, s))
                return;
        buf b = BUF_INIT;
        for (size_t i = 0; i < n; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", pd->enums[i]);
        vctx_error(v, path, "'%s' must be one of %s, not '%s'", name, buf_str(&b), s);
        buf_free(&b);
        return;
    }
    case PT_STRING_LIST:
        if (json_is_array(j)) {
            size_t i;
            const json_t *it;
            json_array_foreach(j, i, it) {
                if (json_is_object(it) || json_is_array(it)) {
                    char *p = index_path(path, i);
                    vctx_error(v, p, "'%s' items must be strings, not %s", name, kind_word(it));
                    free(p);
                }
            }
        } else if (json_is_object(j)) {
            vctx_error(v, path, "'%s' must be a string or a list of strings, not a mapping", name);
        }
        return;
    case PT_LIST: {
        if (!json_is_array(j)) {
            vctx_error(v, path, "'%s' must be a list, not %s", name, kind_word(j));
            return;
        }
        if ((pd->flags & PF_NONEMPTY) && json_array_size(j) == 0)
            vctx_error(v, path, "'%s' must not be empty", name);
        if (!pd->item)
            return;
        size_t i;
        const json_t *it;
        json_array_foreach(j, i, it) {
            char *p = index_path(path, i);
            prop_def item = *pd->item;
            if (!item.name)
                item.name = pd->name;
            check_value(v, it, p, &item, parent);
            free(p);
        }
        return;
    }
    case PT_MAP: {
        if (!json_is_object(j)) {
            vctx_error(v, path, "'%s' must be a mapping, not %s", name, kind_word(j));
            return;
        }
        if ((pd->flags & PF_NONEMPTY) && json_object_size(j) == 0)
            vctx_error(v, path, "'%s' must not be empty", name);
        if (!pd->item)
            return;
        const char *k;
        const json_t *it;
        json_object_foreach((json_t *)j, k, it) {
            char *p = child_path(path, k);
            prop_def item = *pd->item;
            if (!item.name)
                item.name = k;
            check_value(v, it, p, &item, parent);
            free(p);
        }
        return;
    }
    case PT_OBJECT:
        if (!json_is_object(j)) {
            vctx_error(v, path, "'%s' must be a mapping, not %s", name, kind_word(j));
            return;
        }
        check_object(v, j, path, pd->props, NULL, name, NULL, parent);
        return;
    case PT_TASK:
        check_task(v, j, path, parent);
        return;
    case PT_TASKS:
        check_tasks(v, j, path, parent, pd->flags, name);
        return;
    case PT_CONDITIONS: {
        if (json_is_array(j)) {
            size_t i;
            const json_t *it;
            json_array_foreach(j, i, it) {
                char *p = index_path(path, i);
                check_plugin(v, it, p, TK_CONDITION, parent);
                free(p);
            }
        } else if (json_is_object(j)) {
            /* the old map form: name -> condition */
            const char *k;
            const json_t *it;
            json_object_foreach((json_t *)j, k, it) {
                char *p = child_path(path, k);
                check_plugin(v, it, p, TK_CONDITION, parent);
                free(p);
            }
        } else {
            vctx_error(v, path, "'%s' must be a list of conditions, not %s", name, kind_word(j));
        }
        return;
    }
    case PT_PLUGIN:
        check_plugin(v, j, path, pd->plugin_kind, parent);
        return;
    }
}

static const prop_def *find_prop(const prop_def *props, const char *name)
{
    for (const prop_def *p = props; p && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

/* A property's value given by pluginDefaults for this task type, or NULL. */
static const json_t *default_for(const json_t *dflt, const char *name)
{
    return dflt ? json_object_get(dflt, name) : NULL;
}

static void add_names(const char **names, size_t *n, size_t max, const prop_def *props)
{
    for (const prop_def *p = props; p && p->name && *n < max; p++)
        names[(*n)++] = p->name;
}

/* Checks an object's keys against props (+ common), reports unknown keys with
 * a suggestion and missing required ones. dflt: pluginDefaults values that
 * may supply required properties. */
static void check_object(vctx *v, const json_t *obj, const char *path, const prop_def *props,
                         const prop_def *common, const char *what, const json_t *dflt, int parent)
{
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)obj, k, val) {
        const prop_def *pd = find_prop(props, k);
        if (!pd)
            pd = find_prop(common, k);
        char *p = child_path(path, k);
        if (!pd) {
            const char *names[256];
            size_t n = 0;
            add_names(names, &n, 256, props);
            add_names(names, &n, 256, common);
            const char *sug = str_suggest(k, names, n);
            if (sug)
                error_key(v, p, "%s: unknown property '%s' (did you mean '%s'?)", what, k, sug);
            else
                error_key(v, p, "%s: unknown property '%s'", what, k);
        } else if ((pd->flags & PF_NOTRUN) && !json_is_null(val)) {
            /* a declared property runs: one kite cannot run yet is refused
             * here rather than failing the execution that reaches it */
            error_key(v, p, "%s: property '%s' is not run by kite yet (the task would fail when it "
                      "runs): remove it, or see docs/engine.md", what, k);
        } else {
            check_value(v, val, p, pd, parent);
        }
        free(p);
    }
    for (int pass = 0; pass < 2; pass++) {
        const prop_def *table = pass ? common : props;
        for (const prop_def *pd = table; pd && pd->name; pd++) {
            if (!(pd->flags & PF_REQUIRED))
                continue;
            /* check_task() reports a task's missing id or type in its own words */
            if (pass && common == task_common && (!strcmp(pd->name, "id") || !strcmp(pd->name, "type")))
                continue;
            const json_t *got = json_object_get(obj, pd->name);
            if (!got || json_is_null(got)) {
                /* an alias spelling of the same property counts */
                int alias_given = 0;
                for (const prop_def *q = table; q->name; q++)
                    if (q->alias_of && !strcmp(q->alias_of, pd->name) && json_object_get(obj, q->name) &&
                        !json_is_null(json_object_get(obj, q->name)))
                        alias_given = 1;
                if (alias_given || default_for(dflt, pd->name))
                    continue;
                if (got)
                    vctx_error(v, path, "%s: required property '%s' is null", what, pd->name);
                else
                    vctx_error(v, path, "%s: missing required property '%s'", what, pd->name);
            }
        }
    }
}

/* ---- tasks ---------------------------------------------------------------- */

static const char *const log_levels[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF", NULL};
static const char *const retry_types[] = {"constant", "exponential", "random", NULL};
static const char *const retry_behaviors[] = {"RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION", NULL};

static const prop_def retry_props[] = {
    {.name = "type", .type = PT_ENUM, .flags = PF_REQUIRED, .enums = retry_types,
     .desc = "constant, exponential or random"},
    {.name = "interval", .type = PT_DURATION, .desc = "wait between attempts (constant, exponential)"},
    {.name = "maxInterval", .type = PT_DURATION, .desc = "longest wait (exponential, random)"},
    {.name = "minInterval", .type = PT_DURATION, .desc = "shortest wait (random)"},
    {.name = "delayFactor", .type = PT_NUMBER, .desc = "growth factor (exponential)"},
    {.name = "maxAttempt", .type = PT_INT, .desc = "attempts at most, the first included"},
    {.name = "maxAttempts", .type = PT_INT, .alias_of = "maxAttempt", .desc = "same as maxAttempt"},
    {.name = "maxDuration", .type = PT_DURATION, .desc = "stop retrying after this long"},
    {.name = "warningOnRetry", .type = PT_BOOL, .dflt = "false", .desc = "end in WARNING when a retry succeeded"},
    {.name = "behavior", .type = PT_ENUM, .enums = retry_behaviors, .dflt = "\"RETRY_FAILED_TASK\"",
     .desc = "flow retry only: rerun the failed task or create a new execution"},
    {0},
};

static const prop_def task_cache_props[] = {
    {.name = "enabled", .type = PT_BOOL, .dflt = "false", .desc = "use the cache"},
    {.name = "ttl", .type = PT_DURATION, .desc = "how long a cached result is reused (default: 1 day)"},
    {0},
};

static const prop_def task_common[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "unique in the flow"},
    {.name = "type", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "the task type"},
    {.name = "description", .type = PT_STRING, .desc = "free text"},
    {.name = "retry", .type = PT_OBJECT, .props = retry_props, .desc = "retry policy of this task"},
    {.name = "timeout", .type = PT_DURATION, .desc = "fail the task after this long"},
    {.name = "disabled", .type = PT_BOOL, .dflt = "false", .desc = "skip the task"},
    {.name = "allowFailure", .type = PT_BOOL, .dflt = "false", .desc = "a failure ends the task in WARNING"},
    {.name = "allowWarning", .type = PT_BOOL, .dflt = "false", .desc = "a warning ends the task in SUCCESS"},
    {.name = "logLevel", .type = PT_ENUM, .enums = log_levels, .desc = "lowest level of logs kept"},
    {.name = "logToFile", .type = PT_BOOL, .dflt = "false", .desc = "store logs in a file"},
    {.name = "runIf", .type = PT_STRING, .desc = "an expression: the task runs only when it renders true"},
    {.name = "workerGroup", .type = PT_ANY, .desc = "not supported (Kestra Enterprise)"},
    {.name = "taskCache", .type = PT_OBJECT, .props = task_cache_props,
     .desc = "reuse the outputs of an earlier run of the task with the same properties"},
    {.name = "assets", .type = PT_ANY, .desc = "inputs and outputs the task declares: kept, not acted on"},
    {0},
};

static const prop_def trigger_common[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "unique among triggers"},
    {.name = "type", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "the trigger type"},
    {.name = "description", .type = PT_STRING},
    {.name = "conditions", .type = PT_CONDITIONS, .desc = "all must hold for the trigger to fire"},
    {.name = "disabled", .type = PT_BOOL, .dflt = "false"},
    {.name = "stopAfter", .type = PT_LIST, .item = &(const prop_def){.type = PT_STRING},
     .desc = "states after which the trigger disables itself"},
    {.name = "logLevel", .type = PT_ENUM, .enums = log_levels},
    {.name = "minLogLevel", .type = PT_ENUM, .enums = log_levels},
    {.name = "logToFile", .type = PT_BOOL},
    {.name = "workerGroup", .type = PT_ANY},
    {0},
};

static const prop_def condition_common[] = {
    {.name = "type", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC},
    {.name = "id", .type = PT_STRING},
    {.name = "description", .type = PT_STRING},
    {0},
};

static const char *const kind_names[] = {"task", "task", "trigger", "condition", "task runner", "plugin"};

/* The pluginDefaults values that apply to a type: entries whose `type` is
 * the type as written, one of its names, or a prefix of it ("io.kestra.plugin.scripts").
 * Returns a new object merging them, or NULL. */
static json_t *defaults_for_type(vctx *v, const char *type, const type_def *def)
{
    if (!v->defaults)
        return NULL;
    json_t *out = NULL;
    size_t i;
    const json_t *d;
    json_array_foreach(v->defaults, i, d) {
        const char *dt = json_string_value(json_object_get(d, "type"));
        const json_t *vals = json_object_get(d, "values");
        if (!dt || !json_is_object(vals))
            continue;
        int match = !strcmp(dt, type) || str_starts_with(type, dt);
        if (!match && def) {
            const type_def *dd = flow_type_find(dt);
            match = dd == def;
        }
        if (match) {
            if (!out)
                out = json_object();
            json_object_update(out, (json_t *)vals);
        }
    }
    return out;
}

static void record_task(vctx *v, const json_t *t, const char *path, const char *id, const char *type,
                        const type_def *def, int parent, int *index /* OUT */)
{
    *index = -1;
    if (id) {
        json_t *first = json_object_get(v->task_ids, id);
        if (first) {
            char *idp = child_path(path, "id");
            vctx_error(v, idp, "duplicate task id '%s' (first declared at line %d)", id,
                       posmap_find(v->pm, json_string_value(first))
                           ? posmap_find(v->pm, json_string_value(first))->line
                           : 0);
            free(idp);
        } else {
            json_object_set_new(v->task_ids, id, json_string(path));
        }
    }
    if (!v->f)
        return;
    flow *f = v->f;
    f->tasks = xrealloc(f->tasks, (f->ntasks + 1) * sizeof *f->tasks);
    flow_task *ft = &f->tasks[f->ntasks];
    ft->id = id;
    ft->type = type;
    ft->def = def;
    ft->json = t;
    ft->path = xstrdup(path);
    ft->parent = parent;
    *index = (int)f->ntasks++;
}

/* A type whose client library is not on this host (type_def.needs): it
 * validates, but waits, and validate says so. Loads the library when it is
 * there (only types present in a flow are asked). */
static void check_needs(vctx *v, const char *tp, const char *type, const type_def *def)
{
    const char *why = def->needs ? def->needs() : NULL;
    if (why)
        vctx_warn(v, tp, "type '%s' cannot run on this host: %s", type, why);
}

static void check_task(vctx *v, const json_t *t, const char *path, int parent)
{
    if (!json_is_object(t)) {
        vctx_error(v, path, "a task must be a mapping with an id and a type, not %s", kind_word(t));
        return;
    }
    const json_t *jid = json_object_get(t, "id");
    const json_t *jtype = json_object_get(t, "type");
    const char *id = json_string_value(jid), *type = json_string_value(jtype);
    char *idp = child_path(path, "id"), *tp = child_path(path, "type");
    if (!jid || json_is_null(jid))
        vctx_error(v, path, "task without an id: every task needs a unique 'id'");
    else if (!id)
        vctx_error(v, idp, "task id must be a string, not %s", kind_word(jid));
    else if (!flow_valid_id(id))
        vctx_error(v, idp, "invalid task id '%s': use letters, digits, '-' and '_', starting with a letter or digit", id);
    const type_def *def = NULL;
    if (!jtype || json_is_null(jtype)) {
        vctx_error(v, path, "task '%s' has no type", id ? id : "?");
    } else if (!type) {
        vctx_error(v, tp, "task type must be a string, not %s", kind_word(jtype));
    } else {
        def = flow_type_find(type);
        if (!def) {
            const char *sug = flow_type_suggest(type, TK_RUNNABLE);
            if (!sug)
                sug = flow_type_suggest(type, TK_FLOWABLE);
            char fam[160], near[160];
            if (!sug && flow_type_missing_family(type, fam, sizeof fam) && flow_type_near_family(type, near, sizeof near))
                vctx_error(v, tp, "unknown task type '%s': no `%s` tasks in kite yet (kite has `%s` tasks)", type,
                           fam, near);
            else if (!sug && flow_type_missing_family(type, fam, sizeof fam))
                vctx_error(v, tp, "unknown task type '%s': no `%s` tasks in kite yet", type, fam);
            else if (sug)
                vctx_error(v, tp, "unknown task type '%s' (did you mean '%s'?)", type, sug);
            else
                vctx_error(v, tp, "unknown task type '%s' (`kite plugins list` shows the known ones)", type);
        } else if (def->kind != TK_RUNNABLE && def->kind != TK_FLOWABLE) {
            vctx_error(v, tp, "'%s' is a %s, not a task", type, kind_names[def->kind]);
            def = NULL;
        } else if ((def->flags & TF_DECLARED_ONLY) && (def->flags & TF_REFUSED) && def->waits) {
            vctx_error(v, tp, "type '%s' is not supported in kite: %s", type, def->waits);
        } else if (def->flags & TF_DECLARED_ONLY) {
            if (def->waits)
                vctx_warn(v, tp, "type '%s' cannot run in kite: %s", type, def->waits);
            else
                vctx_warn(v, tp, "type '%s' is declared but kite cannot run it yet", type);
        } else {
            check_needs(v, tp, type, def);
        }
    }
    const json_t *wg = json_object_get(t, "workerGroup");
    if (wg && !json_is_null(wg)) {
        char *p = child_path(path, "workerGroup");
        error_key(v, p, "task '%s': worker groups are not supported (an Enterprise feature in Kestra)", id ? id : "?");
        free(p);
    }
    int index;
    record_task(v, t, path, id && flow_valid_id(id) ? id : NULL, type, def, parent, &index);
    if (def) {
        char what[300];
        snprintf(what, sizeof what, "task '%s'", id ? id : "?");
        json_t *dflt = defaults_for_type(v, type, def);
        check_object(v, t, path, def->props, task_common, what, dflt, index >= 0 ? index : parent);
        json_decref(dflt);
        if (def->check)
            def->check(v, t, path);
    } else {
        /* unknown type: still walk what looks like nested tasks, so that their
         * own mistakes are reported too */
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)t, k, val) {
            if ((!strcmp(k, "tasks") || !strcmp(k, "errors") || !strcmp(k, "finally")) && json_is_array(val)) {
                char *p = child_path(path, k);
                check_tasks(v, val, p, index, 0, k);
                free(p);
            }
        }
    }
    free(idp);
    free(tp);
}

static void check_tasks(vctx *v, const json_t *list, const char *path, int parent, unsigned flags, const char *what)
{
    if (!list || json_is_null(list)) {
        if (flags & PF_NONEMPTY)
            vctx_error(v, path, "'%s' must not be empty", what);
        return;
    }
    if (!json_is_array(list)) {
        vctx_error(v, path, "'%s' must be a list of tasks, not %s", what, kind_word(list));
        return;
    }
    if ((flags & PF_NONEMPTY) && json_array_size(list) == 0)
        vctx_error(v, path, "'%s' must not be empty", what);
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t) {
        char *p = index_path(path, i);
        check_task(v, t, p, parent);
        free(p);
    }
}

static void check_plugin(vctx *v, const json_t *obj, const char *path, int kind, int parent)
{
    const char *kn = kind_names[kind];
    if (!json_is_object(obj)) {
        vctx_error(v, path, "a %s must be a mapping with a type, not %s", kn, kind_word(obj));
        return;
    }
    const json_t *jtype = json_object_get(obj, "type");
    const char *type = json_string_value(jtype);
    char *tp = child_path(path, "type");
    const type_def *def = NULL;
    if (!type) {
        vctx_error(v, jtype ? tp : path, "%s without a type", kn);
    } else {
        def = flow_type_find(type);
        if (!def) {
            const char *sug = flow_type_suggest(type, kind);
            char fam[160], near[160];
            if (!sug && flow_type_missing_family(type, fam, sizeof fam) && flow_type_near_family(type, near, sizeof near))
                vctx_error(v, tp, "unknown %s type '%s': no `%s` %ss in kite yet (kite has `%s` %ss)", kn, type, fam,
                           kn, near, kn);
            else if (!sug && flow_type_missing_family(type, fam, sizeof fam))
                vctx_error(v, tp, "unknown %s type '%s': no `%s` %ss in kite yet", kn, type, fam, kn);
            else if (sug)
                vctx_error(v, tp, "unknown %s type '%s' (did you mean '%s'?)", kn, type, sug);
            else
                vctx_error(v, tp, "unknown %s type '%s'", kn, type);
        } else if ((int)def->kind != kind) {
            vctx_error(v, tp, "'%s' is a %s, not a %s", type, kind_names[def->kind], kn);
            def = NULL;
        } else if (def->flags & TF_DECLARED_ONLY) {
            if (def->waits)
                vctx_warn(v, tp, "type '%s' cannot run in kite: %s", type, def->waits);
            else
                vctx_warn(v, tp, "type '%s' is declared but kite cannot run it yet", type);
        } else {
            check_needs(v, tp, type, def);
        }
    }
    free(tp);
    if (!def)
        return;
    const prop_def *common = kind == TK_TRIGGER     ? trigger_common
                             : kind == TK_CONDITION ? condition_common
                                                    : condition_common;
    char what[300];
    const char *id = json_string_value(json_object_get(obj, "id"));
    if (id)
        snprintf(what, sizeof what, "%s '%s'", kn, id);
    else
        snprintf(what, sizeof what, "%s %s", kn, type);
    check_object(v, obj, path, def->props, common, what, NULL, parent);
    if (def->check)
        def->check(v, obj, path);
}

void vctx_check_tasks(vctx *v, const json_t *tasks, const char *path)
{
    check_tasks(v, tasks, path, -1, 0, "tasks");
}

int vctx_task_is_runnable(const json_t *task)
{
    const char *t = json_string_value(json_object_get(task, "type"));
    const type_def *d = t ? flow_type_find(t) : NULL;
    return d && d->kind == TK_RUNNABLE;
}

/* ---- inputs and outputs ----------------------------------------------------- */

static const char *const input_types[] = {
    "STRING", "ENUM", "SELECT", "MULTISELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE",
    "TIME", "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY", "YAML", "EMAIL", NULL};

static const prop_def depends_on_props[] = {
    {.name = "inputs", .type = PT_LIST, .item = &(const prop_def){.type = PT_STRING}},
    {.name = "condition", .type = PT_STRING},
    {0},
};

/* Properties every input accepts; the type-specific ones are added below. */
static const prop_def input_common[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_STATIC, .desc = "the input's name in inputs.<id>"},
    {.name = "name", .type = PT_STRING, .flags = PF_STATIC | PF_DEPRECATED, .alias_of = "id"},
    {.name = "type", .type = PT_ENUM, .flags = PF_REQUIRED | PF_STATIC, .enums = input_types},
    {.name = "description", .type = PT_STRING},
    {.name = "displayName", .type = PT_STRING},
    {.name = "required", .type = PT_BOOL, .dflt = "true"},
    {.name = "defaults", .type = PT_ANY},
    {.name = "prefill", .type = PT_ANY, .desc = "a value offered in a form, which the user may clear: not used "
                                                "when the input is not given"},
    {.name = "dependsOn", .type = PT_OBJECT, .props = depends_on_props},
    {.name = "autoSelectFirst", .type = PT_BOOL},
    {0},
};

typedef struct input_extra {
    const char *type;
    const prop_def *props;
} input_extra;

static const prop_def in_string[] = {{.name = "validator", .type = PT_STRING, .flags = PF_STATIC}, {0}};
static const prop_def in_int[] = {{.name = "min", .type = PT_INT}, {.name = "max", .type = PT_INT}, {0}};
static const prop_def in_float[] = {{.name = "min", .type = PT_NUMBER}, {.name = "max", .type = PT_NUMBER}, {0}};
static const prop_def in_dates[] = {{.name = "after", .type = PT_STRING}, {.name = "before", .type = PT_STRING}, {0}};
static const prop_def in_duration[] = {{.name = "min", .type = PT_DURATION}, {.name = "max", .type = PT_DURATION}, {0}};
static const prop_def in_enum[] = {
    {.name = "values", .type = PT_LIST, .flags = PF_REQUIRED | PF_NONEMPTY, .item = &(const prop_def){.type = PT_STRING}},
    {0}};
static const prop_def in_select[] = {
    {.name = "values", .type = PT_LIST, .item = &(const prop_def){.type = PT_STRING}},
    {.name = "options", .type = PT_LIST, .item = &(const prop_def){.type = PT_STRING}},
    {.name = "expression", .type = PT_STRING},
    {.name = "allowCustomValue", .type = PT_BOOL},
    {.name = "isRadio", .type = PT_BOOL},
    {0}};
static const char *const item_types[] = {"STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME",
                                         "DATE", "TIME", "DURATION", "JSON", "URI", "EMAIL", NULL};
static const prop_def in_array[] = {
    {.name = "itemType", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC},
    {0}};
static const prop_def in_file[] = {{.name = "extension", .type = PT_STRING}, {.name = "allowedFileExtensions", .type = PT_LIST}, {0}};
static const prop_def in_none[] = {{0}};

static const input_extra input_extras[] = {
    {"STRING", in_string}, {"SECRET", in_string}, {"EMAIL", in_none},  {"INT", in_int},
    {"FLOAT", in_float},   {"DATETIME", in_dates}, {"DATE", in_dates}, {"TIME", in_dates},
    {"DURATION", in_duration}, {"ENUM", in_enum}, {"SELECT", in_select}, {"MULTISELECT", in_select},
    {"ARRAY", in_array},   {"FILE", in_file},     {"JSON", in_none},  {"YAML", in_none},
    {"URI", in_none},      {"BOOLEAN", in_none},  {"BOOL", in_none},
};

static const prop_def *input_extra_props(const char *type)
{
    for (size_t i = 0; i < sizeof input_extras / sizeof input_extras[0]; i++)
        if (!strcasecmp(input_extras[i].type, type))
            return input_extras[i].props;
    return in_none;
}

static void check_regex(vctx *v, const char *re, const char *path, const char *id)
{
    int errcode;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &errcode, &off, NULL);
    if (code) {
        pcre2_code_free(code);
        return;
    }
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(errcode, msg, sizeof msg);
    vctx_error(v, path, "input '%s': invalid validator regular expression '%s': %s at offset %zu", id, re,
               (const char *)msg, (size_t)off);
}

static void check_inputs(vctx *v, const json_t *inputs, const char *path)
{
    if (!inputs || json_is_null(inputs))
        return;
    if (!json_is_array(inputs)) {
        vctx_error(v, path, "'inputs' must be a list, not %s", kind_word(inputs));
        return;
    }
    json_t *seen = json_object();
    size_t i;
    const json_t *in;
    json_array_foreach(inputs, i, in) {
        char *p = index_path(path, i);
        if (!json_is_object(in)) {
            vctx_error(v, p, "an input must be a mapping with an id and a type, not %s", kind_word(in));
            free(p);
            continue;
        }
        const char *id = json_string_value(json_object_get(in, "id"));
        if (!id)
            id = json_string_value(json_object_get(in, "name"));
        const char *type = json_string_value(json_object_get(in, "type"));
        char what[200];
        snprintf(what, sizeof what, "input '%s'", id ? id : "?");
        if (!id) {
            vctx_error(v, p, "input without an id");
        } else if (!valid_input_id(id)) {
            char *ip = child_path(p, json_object_get(in, "id") ? "id" : "name");
            vctx_error(v, ip, "invalid input id '%s': use letters, digits, '.', '-' and '_'", id);
            free(ip);
        } else if (json_object_get(seen, id)) {
            char *ip = child_path(p, json_object_get(in, "id") ? "id" : "name");
            vctx_error(v, ip, "duplicate input id '%s'", id);
            free(ip);
        } else {
            json_object_set_new(seen, id, json_true());
        }
        const prop_def *extra = type ? input_extra_props(type) : in_none;
        check_object(v, in, p, input_common, extra, what, NULL, -1);
        if (type) {
            const json_t *dflt = json_object_get(in, "defaults");
            const json_t *pre = json_object_get(in, "prefill");
            if (pre && !json_is_null(pre) && dflt && !json_is_null(dflt)) {
                char *dp = child_path(p, "prefill");
                error_key(v, dp, "input '%s': prefill and defaults cannot be used together (prefill is a default "
                                 "the user may clear: use it with required: false)", id ? id : "?");
                free(dp);
            }
            if (!strcasecmp(type, "FILE") && dflt && !json_is_null(dflt)) {
                char *dp = child_path(p, "defaults");
                error_key(v, dp, "input '%s': a FILE input cannot have defaults", id ? id : "?");
                free(dp);
            }
            const char *it = json_string_value(json_object_get(in, "itemType"));
            if (it && !strcasecmp(type, "ARRAY")) {
                int ok = 0;
                for (const char *const *t = item_types; *t; t++)
                    ok |= !strcasecmp(*t, it);
                if (!ok) {
                    char *ip = child_path(p, "itemType");
                    vctx_error(v, ip, "input '%s': itemType must be one of STRING, INT, FLOAT, BOOLEAN, DATETIME, "
                               "DATE, TIME, DURATION, JSON, URI, EMAIL, ENUM, SELECT; not '%s'", id ? id : "?", it);
                    free(ip);
                }
            }
            const char *re = json_string_value(json_object_get(in, "validator"));
            if (re) {
                char *rp = child_path(p, "validator");
                check_regex(v, re, rp, id ? id : "?");
                free(rp);
            }
            const json_t *dep = json_object_get(json_object_get(in, "dependsOn"), "inputs");
            size_t k;
            const json_t *dname;
            json_array_foreach(dep, k, dname) {
                const char *dn = json_string_value(dname);
                if (dn && !json_object_get(seen, dn)) {
                    char *dp = child_path(p, "dependsOn");
                    char *dpi = child_path(dp, "inputs");
                    char *dpk = index_path(dpi, k);
                    vctx_error(v, dpk, "input '%s' depends on '%s', which is not an input declared before it",
                               id ? id : "?", dn);
                    free(dp);
                    free(dpi);
                    free(dpk);
                }
            }
        }
        free(p);
    }
    json_decref(seen);
}

static const prop_def output_props[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC},
    {.name = "type", .type = PT_ENUM, .flags = PF_REQUIRED | PF_STATIC, .enums = input_types},
    {.name = "value", .type = PT_ANY, .flags = PF_REQUIRED},
    {.name = "description", .type = PT_STRING},
    {.name = "displayName", .type = PT_STRING},
    {.name = "required", .type = PT_BOOL},
    {0},
};

static void check_outputs(vctx *v, const json_t *outputs, const char *path)
{
    if (!outputs || json_is_null(outputs))
        return;
    if (!json_is_array(outputs)) {
        vctx_error(v, path, "'outputs' must be a list, not %s", kind_word(outputs));
        return;
    }
    json_t *seen = json_object();
    size_t i;
    const json_t *o;
    json_array_foreach(outputs, i, o) {
        char *p = index_path(path, i);
        if (!json_is_object(o)) {
            vctx_error(v, p, "a flow output must be a mapping with id, type and value, not %s", kind_word(o));
        } else {
            const char *id = json_string_value(json_object_get(o, "id"));
            char what[200];
            snprintf(what, sizeof what, "output '%s'", id ? id : "?");
            check_object(v, o, p, output_props, NULL, what, NULL, -1);
            if (id && !valid_input_id(id))
                vctx_error(v, p, "invalid output id '%s'", id);
            else if (id && json_object_get(seen, id))
                vctx_error(v, p, "duplicate output id '%s'", id);
            else if (id)
                json_object_set_new(seen, id, json_true());
        }
        free(p);
    }
    json_decref(seen);
}

/* ---- labels, triggers, the rest ---------------------------------------------- */

static void check_label(vctx *v, const char *key, const json_t *val, const char *path, const char *kpath)
{
    if (!*key)
        vctx_error(v, kpath, "a label key must not be empty");
    else if (str_starts_with(key, "system.") && strcmp(key, "system.readOnly") && strcmp(key, "system.correlationId"))
        error_key(v, kpath, "label '%s': keys starting with 'system.' are reserved for kite itself "
                  "(only system.readOnly and system.correlationId may be set)", key);
    if (json_is_object(val) || json_is_array(val))
        vctx_error(v, path, "label '%s' must have a plain value, not %s", key, kind_word(val));
}

static void check_labels(vctx *v, const json_t *labels, const char *path)
{
    if (!labels || json_is_null(labels))
        return;
    if (json_is_object(labels)) {
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)labels, k, val) {
            char *p = child_path(path, k);
            check_label(v, k, val, p, p);
            free(p);
        }
    } else if (json_is_array(labels)) {
        size_t i;
        const json_t *l;
        json_array_foreach(labels, i, l) {
            char *p = index_path(path, i);
            const char *k = json_string_value(json_object_get(l, "key"));
            if (!json_is_object(l) || !k) {
                vctx_error(v, p, "a label in a list must be a mapping with 'key' and 'value'");
            } else {
                char *kp = child_path(p, "key");
                char *vp = child_path(p, "value");
                check_label(v, k, json_object_get(l, "value"), vp, kp);
                free(kp);
                free(vp);
            }
            free(p);
        }
    } else {
        vctx_error(v, path, "'labels' must be a mapping of key: value (or a list of key/value), not %s",
                   kind_word(labels));
    }
}

/* What the property table cannot say: each type's own required field, and
 * the labels' shape (duplicate ids are allowed, as in Kestra). */
static void check_sla(vctx *v, const json_t *list, const char *path)
{
    if (!json_is_array(list))
        return;
    size_t i;
    const json_t *sla;
    json_array_foreach(list, i, sla) {
        if (!json_is_object(sla))
            continue;
        char *p = index_path(path, i);
        const char *type = json_string_value(json_object_get(sla, "type"));
        const char *need = type && !strcmp(type, "MAX_DURATION")          ? "duration"
                           : type && !strcmp(type, "EXECUTION_ASSERTION") ? "assert"
                                                                          : NULL;
        const json_t *have = need ? json_object_get(sla, need) : NULL;
        if (need && (!have || json_is_null(have)))
            vctx_error(v, p, "an SLA of type %s needs '%s'", type, need);
        char *lp = child_path(p, "labels");
        check_labels(v, json_object_get(sla, "labels"), lp);
        free(lp);
        free(p);
    }
}

static void check_triggers(vctx *v, const json_t *triggers, const char *path)
{
    if (!triggers || json_is_null(triggers))
        return;
    if (!json_is_array(triggers)) {
        vctx_error(v, path, "'triggers' must be a list, not %s", kind_word(triggers));
        return;
    }
    json_t *seen = json_object();
    size_t i;
    const json_t *t;
    json_array_foreach(triggers, i, t) {
        char *p = index_path(path, i);
        check_plugin(v, t, p, TK_TRIGGER, -1);
        const json_t *jid = json_object_get(t, "id");
        const char *id = json_string_value(jid);
        char *ip = child_path(p, "id");
        if (json_is_object(t) && !id) {
            vctx_error(v, p, "trigger without an id");
        } else if (id && !flow_valid_id(id)) {
            vctx_error(v, ip, "invalid trigger id '%s'", id);
        } else if (id && json_object_get(seen, id)) {
            vctx_error(v, ip, "duplicate trigger id '%s'", id);
        } else if (id) {
            json_object_set_new(seen, id, json_true());
        }
        free(ip);
        free(p);
    }
    json_decref(seen);
}

static const char *const concurrency_behaviors[] = {"QUEUE", "CANCEL", "FAIL", NULL};
static const prop_def concurrency_props[] = {
    {.name = "limit", .type = PT_INT, .flags = PF_REQUIRED, .desc = "running executions at most"},
    {.name = "behavior", .type = PT_ENUM, .enums = concurrency_behaviors, .dflt = "\"QUEUE\""},
    {0},
};

static const prop_def plugin_default_props[] = {
    {.name = "type", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "a type or a prefix of types"},
    {.name = "forced", .type = PT_BOOL, .dflt = "false", .desc = "override values the task sets"},
    {.name = "values", .type = PT_MAP, .flags = PF_REQUIRED},
    {0},
};

static const prop_def listener_props[] = {
    {.name = "description", .type = PT_STRING},
    {.name = "conditions", .type = PT_CONDITIONS},
    {.name = "tasks", .type = PT_TASKS, .flags = PF_REQUIRED | PF_NONEMPTY},
    {0},
};

static const char *const sla_types[] = {"MAX_DURATION", "EXECUTION_ASSERTION", NULL};
static const char *const sla_behaviors[] = {"FAIL", "CANCEL", "NONE", NULL};
static const prop_def sla_props[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_REQUIRED},
    {.name = "type", .type = PT_ENUM, .flags = PF_REQUIRED, .enums = sla_types},
    {.name = "behavior", .type = PT_ENUM, .flags = PF_REQUIRED, .enums = sla_behaviors},
    {.name = "duration", .type = PT_DURATION},
    {.name = "assert", .type = PT_STRING},
    {.name = "labels", .type = PT_ANY},
    {0},
};

static const prop_def flow_props[] = {
    {.name = "id", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "the flow's id"},
    {.name = "namespace", .type = PT_STRING, .flags = PF_REQUIRED | PF_STATIC, .desc = "dot-separated"},
    {.name = "revision", .type = PT_INT, .flags = PF_STATIC},
    {.name = "description", .type = PT_STRING},
    {.name = "labels", .type = PT_ANY},
    {.name = "inputs", .type = PT_ANY},
    {.name = "outputs", .type = PT_ANY},
    {.name = "variables", .type = PT_MAP},
    {.name = "tasks", .type = PT_TASKS, .flags = PF_REQUIRED | PF_NONEMPTY},
    {.name = "errors", .type = PT_TASKS},
    {.name = "finally", .type = PT_TASKS},
    {.name = "afterExecution", .type = PT_TASKS},
    {.name = "listeners", .type = PT_LIST, .flags = PF_DEPRECATED,
     .item = &(const prop_def){.type = PT_OBJECT, .props = listener_props}},
    {.name = "triggers", .type = PT_ANY},
    {.name = "concurrency", .type = PT_OBJECT, .props = concurrency_props},
    {.name = "retry", .type = PT_OBJECT, .props = retry_props},
    {.name = "pluginDefaults", .type = PT_LIST, .item = &(const prop_def){.type = PT_OBJECT, .props = plugin_default_props}},
    {.name = "taskDefaults", .type = PT_LIST, .flags = PF_DEPRECATED,
     .item = &(const prop_def){.type = PT_OBJECT, .props = plugin_default_props}},
    {.name = "disabled", .type = PT_BOOL, .dflt = "false"},
    {.name = "deleted", .type = PT_BOOL},
    {.name = "sla", .type = PT_LIST, .item = &(const prop_def){.type = PT_OBJECT, .props = sla_props}},
    {.name = "tenantId", .type = PT_STRING},
    {.name = "workerGroup", .type = PT_ANY},
    {0},
};

const prop_def *flow_document_props(void) { return flow_props; }
const prop_def *flow_task_common_props(void) { return task_common; }
const prop_def *flow_trigger_common_props(void) { return trigger_common; }

/* Subflow tasks that call their own flow. */
static void check_self_calls(vctx *v, const flow *f)
{
    if (!f->id || !f->namespace)
        return;
    const type_def *sub = flow_type_find("io.kestra.plugin.core.flow.Subflow");
    const type_def *old = flow_type_find("io.kestra.core.tasks.flows.Flow");
    for (size_t i = 0; i < f->ntasks; i++) {
        const flow_task *t = &f->tasks[i];
        if (!t->def || (t->def != sub && t->def != old))
            continue;
        const char *ns = json_string_value(json_object_get(t->json, "namespace"));
        const char *fid = json_string_value(json_object_get(t->json, "flowId"));
        if (ns && fid && !strcmp(ns, f->namespace) && !strcmp(fid, f->id)) {
            char *p = child_path(t->path, "flowId");
            vctx_error(v, p, "task '%s' calls its own flow %s.%s: recursive subflows are not allowed", t->id, ns, fid);
            free(p);
        }
    }
}

size_t flow_validate_doc(flow *f, diags *d)
{
    vctx v = {.file = f->file, .pm = f->pos, .d = d, .f = f, .task_ids = json_object()};
    const json_t *doc = f->doc;
    if (!json_is_object(doc)) {
        diags_add(d, f->file, 1, 1, "", "a flow must be a YAML mapping with id, namespace and tasks, not %s",
                  kind_word(doc));
        json_decref(v.task_ids);
        return 1;
    }
    /* pluginDefaults apply while checking tasks: gather them first */
    json_t *defaults = json_array();
    if (json_is_array(json_object_get(doc, "pluginDefaults")))
        json_array_extend(defaults, json_object_get(doc, "pluginDefaults"));
    if (json_is_array(json_object_get(doc, "taskDefaults")))
        json_array_extend(defaults, json_object_get(doc, "taskDefaults"));
    v.defaults = defaults;

    check_object(&v, doc, "", flow_props, NULL, "flow", NULL, -1);

    const json_t *jid = json_object_get(doc, "id"), *jns = json_object_get(doc, "namespace");
    if (json_is_string(jid) && !flow_valid_id(json_string_value(jid)))
        vctx_error(&v, "/id", "invalid flow id '%s': use letters, digits, '-' and '_', starting with a letter or digit",
                   json_string_value(jid));
    if (json_is_string(jns) && !flow_valid_namespace(json_string_value(jns)))
        vctx_error(&v, "/namespace", "invalid namespace '%s': dot-separated names of letters, digits, '-' and '_'",
                   json_string_value(jns));
    check_labels(&v, json_object_get(doc, "labels"), "/labels");
    check_inputs(&v, json_object_get(doc, "inputs"), "/inputs");
    check_outputs(&v, json_object_get(doc, "outputs"), "/outputs");
    check_triggers(&v, json_object_get(doc, "triggers"), "/triggers");
    check_sla(&v, json_object_get(doc, "sla"), "/sla");
    const json_t *wg = json_object_get(doc, "workerGroup");
    if (wg && !json_is_null(wg))
        error_key(&v, "/workerGroup", "worker groups are not supported (an Enterprise feature in Kestra)");
    check_self_calls(&v, f);
    v.errors += flow_check_templates(f, v.task_ids, d);
    json_decref(defaults);
    json_decref(v.task_ids);
    return v.errors;
}
