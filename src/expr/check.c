/*
 * check.c: a compiled template checked without rendering it (expr.h,
 * expr_check), for flow validation: the calls to functions nobody provides,
 * and the variables of the context it reads, each with its position and
 * whether it is guarded against being undefined.
 *
 * The walk reads the tree parse.c built (expr_int.h) and never writes it.
 * Names bound inside the template (set, for, macro parameters) are local, not
 * references. Macro bodies are isolated from the context (as Pebble's are):
 * their calls are checked, their variables are not references.
 */
#include "expr/expr_int.h"

#include <string.h>

#define MAX_BOUND 128
#define MAX_DEFINED 64

typedef struct ck {
    expr_ref_fn fn;
    void *ud;
    kerr *e;
    int failed;
    int pass;                   /* 0: collect `is defined` tests; 1: report */
    const char *bound[MAX_BOUND];
    int nbound;
    struct { const char *root, *key; } defined[MAX_DEFINED];
    int ndefined;
} ck;

static int is_bound(const ck *c, const char *name)
{
    for (int i = 0; i < c->nbound; i++)
        if (!strcmp(c->bound[i], name))
            return 1;
    return !strcmp(name, "loop") || !strcmp(name, "_context");
}

static void bind(ck *c, const char *name)
{
    if (name && c->nbound < MAX_BOUND)
        c->bound[c->nbound++] = name;
}

static int streq0(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int tested_defined(const ck *c, const char *root, const char *key)
{
    for (int i = 0; i < c->ndefined; i++)
        if (!strcmp(c->defined[i].root, root) && (!c->defined[i].key || streq0(c->defined[i].key, key)))
            return 1;
    return 0;
}

/* The variable and constant key n reads when it is `name` or `name.key` /
 * `name['key']`; 0 when n is something else. */
static int ref_of(const xnode *n, const char **root, const char **key)
{
    if (n->kind == X_VAR) {
        *root = n->name;
        *key = NULL;
        return 1;
    }
    if (n->kind == X_GET && n->a && n->a->kind == X_VAR) {
        *root = n->a->name;
        *key = n->lit && json_is_string(n->lit) ? json_string_value(n->lit) : NULL;
        return 1;
    }
    return 0;
}

static void report(ck *c, const xnode *n, const char *root, const char *key, int guarded)
{
    if (c->pass != 1 || !c->fn || !root || is_bound(c, root))
        return;
    expr_ref r = {root, key, n->line, n->col, guarded || tested_defined(c, root, key)};
    c->fn(c->ud, &r);
}

static void unknown_call(ck *c, const xnode *n)
{
    const char *names[200];
    int k = 0;
    for (const func_def *f = expr__funcs; f->name && k < 150; f++)
        names[k++] = f->name;
    for (size_t i = 0; i < expr_host_function_count && k < 199; i++)
        names[k++] = expr_host_function_names[i].name;
    names[k] = NULL;
    const char *s = expr__suggest(n->name, names);
    if (s)
        kerr_setc_at(c->e, KERR_INVALID, n->line, n->col, "unknown function '%s' (did you mean '%s'?)", n->name, s);
    else
        kerr_setc_at(c->e, KERR_INVALID, n->line, n->col, "unknown function '%s'", n->name);
    c->failed = 1;
}

static void check_call(ck *c, const xnode *n)
{
    if (c->pass != 1 || c->failed)
        return;
    const expr_host_name *h = expr_host_function(n->name);
    if (!h) {
        unknown_call(c, n);
        return;
    }
    if (n->nkids < h->min_args || n->nkids > h->max_args) {
        if (h->min_args == h->max_args)
            kerr_setc_at(c->e, KERR_INVALID, n->line, n->col, "%s() takes %d argument%s, not %d", n->name, h->min_args,
                         h->min_args == 1 ? "" : "s", n->nkids);
        else
            kerr_setc_at(c->e, KERR_INVALID, n->line, n->col, "%s() takes %d to %d arguments, not %d", n->name,
                         h->min_args, h->max_args, n->nkids);
        c->failed = 1;
    }
}

/* refs: whether variables here are references (0 inside macro bodies). */
static void walk_x(ck *c, const xnode *n, int guarded, int refs, int depth)
{
    if (!n || depth > EXPR__MAX_PARSE_DEPTH + 8)
        return;
    const char *root, *key;
    switch (n->kind) {
    case X_LIT:
    case X_HOLE:
        return;
    case X_VAR:
        if (refs)
            report(c, n, n->name, NULL, guarded);
        return;
    case X_GET:
        if (n->a && n->a->kind == X_VAR) {
            if (refs && ref_of(n, &root, &key))
                report(c, n, root, key, guarded);
        } else {
            walk_x(c, n->a, guarded, refs, depth + 1);
        }
        walk_x(c, n->b, 0, refs, depth + 1);
        return;
    case X_COALESCE:
    case X_UNDEFCO:
        walk_x(c, n->a, 1, refs, depth + 1);
        walk_x(c, n->b, guarded, refs, depth + 1);
        return;
    case X_FILTER:
        walk_x(c, n->a, guarded || (n->fdef && n->fdef->lenient), refs, depth + 1);
        break; /* and the arguments */
    case X_TEST:
        if (n->tdef && n->tdef->lenient && c->pass == 0 && n->a && ref_of(n->a, &root, &key) &&
            c->ndefined < MAX_DEFINED) {
            c->defined[c->ndefined].root = root;
            c->defined[c->ndefined].key = key;
            c->ndefined++;
        }
        walk_x(c, n->a, guarded || (n->tdef && n->tdef->lenient), refs, depth + 1);
        return;
    case X_CALL:
        check_call(c, n);
        break;
    default:
        walk_x(c, n->a, guarded, refs, depth + 1);
        walk_x(c, n->b, guarded, refs, depth + 1);
        walk_x(c, n->c, guarded, refs, depth + 1);
        break;
    }
    for (int i = 0; i < n->nkids; i++)
        walk_x(c, n->kids[i], guarded, refs, depth + 1);
}

static void walk_s(ck *c, const snode *s, int refs, int depth)
{
    for (; s && depth < 256; s = s->next) {
        walk_x(c, s->x, 0, refs, 0);
        walk_s(c, s->body, refs, depth + 1);
        walk_s(c, s->alt, refs, depth + 1);
    }
}

static void bind_s(ck *c, const snode *s, int depth)
{
    for (; s && depth < 256; s = s->next) {
        if (s->kind == S_SET || s->kind == S_FOR) {
            bind(c, s->v1);
            bind(c, s->v2);
        }
        bind_s(c, s->body, depth + 1);
        bind_s(c, s->alt, depth + 1);
    }
}

int expr_check(const expr_tmpl *t, expr_ref_fn on_ref, void *ud, kerr *e)
{
    ck c = {.fn = on_ref, .ud = ud, .e = e};
    bind_s(&c, t->root, 0);
    for (const macro *m = t->macros; m; m = m->next)
        bind_s(&c, m->body, 0);
    for (c.pass = 0; c.pass < 2 && !c.failed; c.pass++) {
        walk_s(&c, t->root, 1, 0);
        for (const macro *m = t->macros; m; m = m->next) {
            for (int i = 0; i < m->nparams; i++)
                walk_x(&c, m->dflt[i], 0, 0, 0);
            walk_s(&c, m->body, 0, 0);
        }
    }
    return c.failed ? -1 : 0;
}
