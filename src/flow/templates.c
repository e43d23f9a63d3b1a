/*
 * templates.c: every template of a flow parsed at validation (Kestra finds
 * these only when an execution reaches the task), each finding at its own
 * line and column in the YAML file.
 *
 * - A template that does not compile (a syntax error, an unknown filter or
 *   test) or calls a function nobody provides (expr_check: neither built in
 *   nor a host function of expr/host.c) is an error: no run can succeed.
 * - A reference to an input the flow does not declare, or to the outputs of
 *   a task it does not have, is a warning (an error under `kite validate
 *   --strict`), unless guarded: `??`, `???`, `| default`, `is defined`.
 *
 * Where: the strings under tasks, errors, finally, afterExecution, triggers
 * and the flow's outputs. A trigger renders in its own context (a Flow
 * trigger's inputs name the other flow's outputs), and so does a task's own
 * `outputs` property (a Subflow's, rendered against the child execution):
 * there references are not checked, only the templates' syntax and
 * functions.
 *
 * Positions: the YAML position of the string, moved to the template's own
 * line and column when the scalar's text maps onto the source one to one (a
 * plain or quoted scalar on one line without escapes, a literal block `|`).
 */
#include "flow/flow_int.h"
#include "expr/expr.h"
#include "util/mem.h"
#include "util/strutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct tctx {
    const flow *f;
    diags *d;
    const json_t *task_ids;     /* id -> path (validate.c) */
    json_t *inputs;             /* declared input ids -> true */
    json_t *norefs;             /* pointers under which references are not checked */
    size_t errors;
    /* the string being checked */
    const char *path;
    const ypos *pos;
    int check_refs;
    /* where the walk is: one segment per level (a key, or an index when key
     * is NULL); the JSON pointer is built from them only for a string that
     * holds a template, most strings holding none */
    struct seg {
        const char *key;
        size_t idx;
    } segs[130];
    int nsegs;
    buf ptr;
} tctx;

static const char *seg_pointer(tctx *c)
{
    buf_reset(&c->ptr);
    for (int i = 0; i < c->nsegs; i++) {
        if (c->segs[i].key)
            json_pointer_append(&c->ptr, c->segs[i].key);
        else
            buf_printf(&c->ptr, "/%zu", c->segs[i].idx);
    }
    return buf_str(&c->ptr);
}

/* The start of line `line` (1-based) in src, or NULL. */
static const char *line_start(const char *src, size_t len, int line)
{
    const char *p = src, *end = src + len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    return p;
}

/* Maps (tline, tcol) inside the template to the YAML file; falls back to
 * the scalar's own position. */
static void locate(const tctx *c, int tline, int tcol, int *line, int *col)
{
    *line = c->pos ? c->pos->line : 0;
    *col = c->pos ? c->pos->col : 0;
    if (!c->pos || tline < 1 || tcol < 1 || !c->f->source)
        return;
    const char *src = c->f->source, *end = src + c->f->source_len;
    const char *ls = line_start(src, c->f->source_len, c->pos->line);
    if (!ls || ls + c->pos->col - 1 >= end)
        return;
    const char *s = ls + c->pos->col - 1; /* the scalar's first byte */
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    if (!eol)
        eol = end;
    if (*s == '|') {
        /* literal block: template line k is the k-th line below, at the
         * block's indentation (that of its first line) */
        const char *first = eol < end ? eol + 1 : NULL;
        if (!first)
            return;
        int indent = 0;
        while (first + indent < end && first[indent] == ' ')
            indent++;
        const char *tl = line_start(first, (size_t)(end - first), tline);
        if (!tl)
            return;
        for (int i = 0; i < indent; i++)
            if (tl + i >= end || tl[i] != ' ')
                return;
        *line = c->pos->line + tline;
        *col = indent + tcol;
        return;
    }
    if (tline != 1 || *s == '>')
        return;
    int quoted = *s == '"' || *s == '\'';
    const char *text = s + quoted;
    if (text + tcol - 1 > eol)
        return;
    /* escapes change the length: only text that reads as written maps */
    for (const char *q = text; q < text + tcol - 1; q++)
        if ((*s == '"' && *q == '\\') || (*s == '\'' && *q == '\''))
            return;
    *col = (int)(text - ls) + tcol;
}

static const char **key_list(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **v = xcalloc(*n + 1, sizeof *v);
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)obj, k, x) v[i++] = k;
    return v;
}

static void on_ref(void *ud, const expr_ref *r)
{
    tctx *c = ud;
    if (!c->check_refs || r->guarded || !r->key)
        return;
    const json_t *known;
    if (!strcmp(r->root, "inputs")) {
        known = c->inputs;
    } else if (!strcmp(r->root, "outputs")) {
        known = c->task_ids;
    } else {
        return;
    }
    if (json_object_get(known, r->key))
        return;
    size_t n;
    const char **names = key_list(known, &n);
    const char *sug = str_suggest(r->key, names, n);
    int line, col;
    locate(c, r->line, r->col, &line, &col);
    if (known == c->inputs)
        diags_warn(c->d, c->f->file, line, col, c->path, "input '%s' is not declared in this flow%s%s%s", r->key, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    else
        diags_warn(c->d, c->f->file, line, col, c->path,
                   "no task '%s' in this flow: its outputs are undefined%s%s%s", r->key,
                   sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    free(names);
}

static void check_string(tctx *c, const char *s)
{
    if (!expr_is_template(s))
        return;
    c->path = seg_pointer(c);
    c->pos = posmap_find(c->f->pos, c->path);
    kerr e = KERR_INIT;
    expr_tmpl *t = expr_compile(s, &e);
    if (t && !expr_check(t, on_ref, c, &e)) {
        expr_tmpl_free(t);
        return;
    }
    expr_tmpl_free(t);
    int line, col;
    locate(c, e.line, e.col, &line, &col);
    char msg[KERR_MSG_MAX + 32];
    kerr_format_pos(msg, sizeof msg, NULL, e.line, e.col, e.msg);
    diags_add(c->d, c->f->file, line, col, c->path, "template: %s", msg);
    c->errors++;
}

static void walk(tctx *c, const json_t *j, int depth)
{
    if (depth > 128)
        return;
    if (json_is_string(j)) {
        check_string(c, json_string_value(j));
        return;
    }
    struct seg *sg = &c->segs[c->nsegs];
    if (json_is_array(j)) {
        size_t i;
        const json_t *it;
        c->nsegs++;
        json_array_foreach(j, i, it) {
            *sg = (struct seg){NULL, i};
            walk(c, it, depth + 1);
        }
        c->nsegs--;
    } else if (json_is_object(j)) {
        const char *k;
        const json_t *it;
        c->nsegs++;
        json_object_foreach((json_t *)j, k, it) {
            if (!strcmp(k, "description"))
                continue; /* documentation, never rendered */
            *sg = (struct seg){k, 0};
            int refs = c->check_refs;
            /* a task's own `outputs` (norefs holds only such pointers) */
            if (!strcmp(k, "outputs") && json_object_get(c->norefs, seg_pointer(c)))
                c->check_refs = 0;
            walk(c, it, depth + 1);
            c->check_refs = refs;
        }
        c->nsegs--;
    }
}

size_t flow_check_templates(const flow *f, const json_t *task_ids, diags *d)
{
    const json_t *doc = f->doc;
    if (!json_is_object(doc))
        return 0;
    tctx c = {.f = f, .d = d, .task_ids = task_ids, .inputs = json_object(), .norefs = json_object(),
              .ptr = BUF_INIT};
    for (size_t t = 0; t < f->ntasks; t++) {
        buf p = BUF_INIT;
        buf_puts(&p, f->tasks[t].path);
        json_pointer_append(&p, "outputs");
        json_object_set_new(c.norefs, buf_str(&p), json_true());
        buf_free(&p);
    }
    const json_t *ins = json_object_get(doc, "inputs");
    size_t i;
    const json_t *in;
    if (json_is_array(ins))
        json_array_foreach(ins, i, in) {
            const char *id = json_string_value(json_object_get(in, "id"));
            if (!id)
                id = json_string_value(json_object_get(in, "name")); /* the old spelling */
            if (id)
                json_object_set_new(c.inputs, id, json_true());
        }
    static const char *const roots[] = {"tasks", "errors", "finally", "afterExecution", "outputs", "triggers", "sla"};
    for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++) {
        const json_t *j = json_object_get(doc, roots[r]);
        if (!j)
            continue;
        c.segs[0] = (struct seg){roots[r], 0};
        c.nsegs = 1;
        c.check_refs = strcmp(roots[r], "triggers") != 0;
        walk(&c, j, 0);
    }
    buf_free(&c.ptr);
    json_decref(c.inputs);
    json_decref(c.norefs);
    return c.errors;
}
