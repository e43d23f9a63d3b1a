/*
 * eval.c: rendering a compiled template, and evaluating its expressions.
 *
 * A render walks the statement tree with an xr holding the context, the
 * host environment, a stack of variable frames (set, for, macro arguments)
 * and the error. Expressions evaluate to new json_t references; values from
 * the context or the frames are shared (json_incref), never copied or
 * modified, so rendering `{{ inputs.name }}` costs two hash lookups.
 *
 * Strict variables: a name or attribute that does not exist is an error
 * naming the whole path as written ("undefined variable 'inputs.nam'"),
 * except where the caller asked for a lenient lookup (left of `??`/`???`,
 * input of `default`, subject of `is defined`), which gets the undefined
 * marker instead.
 */
#include "expr/expr_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t expr__undef = {JSON_NULL, (size_t)-1};

json_t *expr__err(xr *r, const xnode *n, const char *fmt, ...)
{
    if (r->e && r->e->code)
        return NULL; /* keep the first (innermost) error */
    char msg[KERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kerr_set_at(r->e, n ? n->line : 0, n ? n->col : 0, "%s", msg);
    return NULL;
}

static int failed(xr *r) { return r->e && r->e->code; }

int64_t expr__now_us(void) { return time_mono_us(); }

/* ---- limits ------------------------------------------------------------------ */

static _Thread_local const expr_limits *thread_limits;

const expr_limits *expr_set_thread_limits(const expr_limits *l)
{
    const expr_limits *prev = thread_limits;
    thread_limits = l;
    return prev;
}

const expr_limits *expr_thread_limits(void) { return thread_limits; }

int expr__check_clock(xr *r, const xnode *n)
{
    if (r->deadline_us == INT64_MAX && !r->max_time_us)
        return 0;
    int64_t now = time_mono_us();
    if (r->max_time_us && !r->time_deadline_us) {
        r->time_deadline_us = now + r->max_time_us;
        if (r->time_deadline_us < r->deadline_us)
            r->deadline_us = r->time_deadline_us;
    }
    return now >= r->deadline_us ? expr__stopped(r, n, EXPR__STOP_DEADLINE) : 0;
}

int expr__stopped(xr *r, const xnode *n, int why)
{
    if (why == EXPR__STOP_CANCEL) {
        expr__err(r, n, "expression stopped: killed");
    } else if (r->task_deadline_us && (!r->time_deadline_us || r->task_deadline_us <= r->time_deadline_us)) {
        const char *what = r->lim && r->lim->deadline_what ? r->lim->deadline_what : "deadline";
        expr__err(r, n, "expression stopped: %s reached", what);
    } else {
        int64_t t = r->lim && r->lim->max_time_us > 0 ? r->lim->max_time_us : EXPR__DEFAULT_MAX_TIME_US;
        char d[64];
        duration_format(t, d, sizeof d);
        expr__err(r, n, "expression stopped: render time limit of %s reached", d);
    }
    return -1;
}

/* The source text of n, for messages (at most 120 bytes). */
static const char *span(const xr *r, const xnode *n, char *out, size_t outsz)
{
    size_t len = n->end > n->start ? n->end - n->start : 0;
    if (len > outsz - 4) {
        len = outsz - 4;
        memcpy(out, r->t->src + n->start, len);
        memcpy(out + len, "...", 4);
    } else {
        memcpy(out, r->t->src + n->start, len);
        out[len] = '\0';
    }
    return out;
}

/* ---- budget ------------------------------------------------------------------
 *
 * A render holds at most r->budget bytes (16 MiB by default): the text in its
 * output buffers, the values bound in its frames, and, within the statement
 * being run, every value its expression built (filter, function and operator
 * results, list and map literals). The bytes of a value are what would be
 * freed with it (expr__owned): string lengths, 8 bytes per list item, 16 plus
 * the key per map entry, counted only through nodes whose reference count is
 * 1. So a value shared with the context costs nothing, `{% set s = s ~ s %}`
 * costs the new string and gives back the old one, and a list grown in a
 * loop costs its items once. When a statement ends, what its expression built
 * is gone (r->used returns to its mark) except what it bound or wrote.
 * Filters that build text cap their buffers at expr__room, so no
 * intermediate passes the budget either. */

static size_t refcount_of(const json_t *v)
{
    return __atomic_load_n(&v->refcount, __ATOMIC_RELAXED);
}

static size_t owned_rec(const json_t *v, int depth)
{
    if (refcount_of(v) != 1)
        return 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v);
    case JSON_ARRAY: {
        size_t n = json_array_size(v) * 8;
        if (depth < 256)
            for (size_t i = 0; i < json_array_size(v); i++)
                n += owned_rec(json_array_get(v, i), depth + 1);
        return n;
    }
    case JSON_OBJECT: {
        size_t n = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            n += 16 + strlen(k);
            if (depth < 256)
                n += owned_rec(x, depth + 1);
        }
        return n;
    }
    default:
        return 0;
    }
}

size_t expr__owned(const json_t *v) { return v && !IS_UNDEF(v) ? owned_rec(v, 0) : 0; }

static void fmt_bytes(size_t n, char *out, size_t outsz)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(out, outsz, "%zu MiB", n >> 20);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(out, outsz, "%zu KiB", n >> 10);
    else
        snprintf(out, outsz, "%zu bytes", n);
}

json_t *expr__budget_err(xr *r, const xnode *n)
{
    char b[48];
    fmt_bytes(r->budget, b, sizeof b);
    return expr__err(r, n, "render budget of %s exceeded", b);
}

json_t *expr__depth_err(xr *r, const xnode *n)
{
    return expr__err(r, n, "value nested deeper than %d levels", EXPR__VALUE_DEPTH);
}

static int too_deep(const json_t *v, int max);

json_t *expr__write_err(xr *r, const xnode *n, const json_t *v)
{
    if (too_deep(v, EXPR__VALUE_DEPTH))
        return expr__depth_err(r, n);
    return expr__budget_err(r, n);
}

/* The depth of a value the render may have built as a DAG ({% set l = [l, l] %}
 * shares l twice: walking it as a tree doubles at each level), with each
 * container measured once: a small open-addressing table from node to depth.
 * Recursion stops past max, so the stack stays bounded. */
typedef struct dmemo {
    const json_t **key;
    int *depth;
    size_t cap, n;
    const json_t *inl_key[64];
    int inl_depth[64];
} dmemo;

static int *memo_slot(dmemo *m, const json_t *v, int *found)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap * 2;
        const json_t **nk = xcalloc(ncap, sizeof *nk);
        int *nd = xcalloc(ncap, sizeof *nd);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->key[i])
                continue;
            size_t h = ((uintptr_t)m->key[i] >> 4) * 11400714819323198485ull & (ncap - 1);
            while (nk[h])
                h = (h + 1) & (ncap - 1);
            nk[h] = m->key[i];
            nd[h] = m->depth[i];
        }
        if (m->key != m->inl_key) {
            free(m->key);
            free(m->depth);
        }
        m->key = nk;
        m->depth = nd;
        m->cap = ncap;
    }
    size_t h = ((uintptr_t)v >> 4) * 11400714819323198485ull & (m->cap - 1);
    while (m->key[h] && m->key[h] != v)
        h = (h + 1) & (m->cap - 1);
    *found = m->key[h] == v;
    if (!*found) {
        m->key[h] = v;
        m->n++;
    }
    return &m->depth[h];
}

static int depth_rec(const json_t *v, int max, int level, dmemo *m)
{
    if (!json_is_array(v) && !json_is_object(v))
        return 0;
    if (level > max)
        return max + 1;
    int found;
    int *slot = memo_slot(m, v, &found);
    if (found)
        return *slot;
    int d = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && d <= max; i++) {
            int k = depth_rec(json_array_get(v, i), max, level + 1, m);
            if (k > d)
                d = k;
        }
    } else {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            int kd = depth_rec(x, max, level + 1, m);
            if (kd > d)
                d = kd;
            if (d > max)
                break;
        }
    }
    d = d + 1 > max + 1 ? max + 1 : d + 1;
    slot = memo_slot(m, v, &found); /* the table may have grown meanwhile */
    *slot = d;
    return d;
}

/* Whether a list or map holding kid nests too deeply: values a render
 * builds stay within the limit too ({% set l = [l] %} in a loop), since
 * freeing, printing and comparing them is recursive. */
static int too_deep(const json_t *kid, int max)
{
    if (!json_is_array(kid) && !json_is_object(kid))
        return 0;
    if (!json_array_size(kid) && !json_object_size(kid))
        return max < 1;
    dmemo m;
    memset(m.inl_key, 0, sizeof m.inl_key);
    m.key = m.inl_key;
    m.depth = m.inl_depth;
    m.cap = 64;
    m.n = 0;
    int d = depth_rec(kid, max, 0, &m);
    if (m.key != m.inl_key) {
        free(m.key);
        free(m.depth);
    }
    return d > max;
}

int expr__too_deep(const json_t *v) { return too_deep(v, EXPR__VALUE_DEPTH); }

static int kid_too_deep(const json_t *kid) { return too_deep(kid, EXPR__VALUE_DEPTH - 1); }

int expr__charge(xr *r, const xnode *n, size_t bytes)
{
    r->used += bytes;
    if (r->used <= r->budget)
        return 0;
    expr__budget_err(r, n);
    return -1;
}

void expr__credit(xr *r, size_t bytes) { r->used = bytes < r->used ? r->used - bytes : 0; }

size_t expr__room(const xr *r) { return r->used < r->budget ? r->budget - r->used : 1; }

/* Releases v, a value the render built or borrowed: what it owned is freed. */
static void release(xr *r, json_t *v)
{
    if (!v || IS_UNDEF(v))
        return;
    if (refcount_of(v) == 1)
        expr__credit(r, expr__owned(v));
    json_decref(v);
}

/* Charges v, a value just built at n; on failure releases it and returns NULL. */
static json_t *charged(xr *r, const xnode *n, json_t *v)
{
    if (v && !IS_UNDEF(v) && expr__charge(r, n, expr__owned(v))) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- frames ---------------------------------------------------------------- */

static void frame_init(frame *f, frame *up)
{
    memset(f, 0, sizeof *f);
    f->up = up;
    f->slots = f->inl;
    f->cap = 4;
}

static void frame_clear(frame *f)
{
    for (int i = 0; i < f->n; i++)
        json_decref(f->slots[i].val);
    if (f->slots != f->inl)
        free(f->slots);
    f->slots = f->inl;
    f->n = 0;
    f->cap = 4;
}

/* Binds name to val (stolen) in f. */
static void frame_set(frame *f, const char *name, json_t *val)
{
    for (int i = 0; i < f->n; i++)
        if (f->slots[i].name == name || !strcmp(f->slots[i].name, name)) {
            json_decref(f->slots[i].val);
            f->slots[i].val = val;
            return;
        }
    if (f->n == f->cap) {
        int cap = f->cap * 2;
        xslot *ns = xmalloc(sizeof *ns * (size_t)cap);
        memcpy(ns, f->slots, sizeof *ns * (size_t)f->n);
        if (f->slots != f->inl)
            free(f->slots);
        f->slots = ns;
        f->cap = cap;
    }
    f->slots[f->n].name = name;
    f->slots[f->n].val = val;
    f->n++;
}

/* frame_set with the budget: the old value's bytes are given back, the new
 * one's charged (at n). Returns -1 after the budget error; val is bound
 * either way. */
static int bind(xr *r, const xnode *n, frame *f, const char *name, json_t *val)
{
    for (int i = 0; i < f->n; i++)
        if (f->slots[i].name == name || !strcmp(f->slots[i].name, name)) {
            if (refcount_of(f->slots[i].val) == 1)
                expr__credit(r, expr__owned(f->slots[i].val));
            break;
        }
    size_t cost = expr__owned(val);
    frame_set(f, name, val);
    return expr__charge(r, n, cost);
}

/* frame_clear with the budget. */
static void unbind_all(xr *r, frame *f)
{
    for (int i = 0; i < f->n; i++)
        if (refcount_of(f->slots[i].val) == 1)
            expr__credit(r, expr__owned(f->slots[i].val));
    frame_clear(f);
}

static json_t *loop_object(const loopinfo *li)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(li->index));
    json_object_set_new(o, "revindex", json_integer(li->length - li->index - 1));
    json_object_set_new(o, "first", json_boolean(li->index == 0));
    json_object_set_new(o, "last", json_boolean(li->index == li->length - 1));
    json_object_set_new(o, "length", json_integer(li->length));
    return o;
}

/* A borrowed value, a new one in *fresh (loop), or NULL when undefined. */
static json_t *lookup(xr *r, const char *name, json_t **fresh)
{
    *fresh = NULL;
    for (frame *f = r->top; f; f = f->up) {
        for (int i = f->n - 1; i >= 0; i--)
            if (f->slots[i].name == name || !strcmp(f->slots[i].name, name))
                return f->slots[i].val;
        if (f->loop && !strcmp(name, "loop"))
            return *fresh = loop_object(f->loop);
        if (f->isolated)
            return NULL;
    }
    if (r->ctx && json_is_object(r->ctx))
        return json_object_get(r->ctx, name);
    return NULL;
}

/* ---- operators ------------------------------------------------------------- */

static json_t *num_result(double d, int isint, long long i)
{
    return isint ? json_integer(i) : json_real(d);
}

static json_t *arith(xr *r, const xnode *n, json_t *a, json_t *b)
{
    static const char *const names[] = {"", "+", "-", "*", "/", "%"};
    if (n->op == OP_ADD && json_is_array(a)) {
        size_t items = json_array_size(a) + (json_is_array(b) ? json_array_size(b) : 1);
        if (items * 8 > expr__room(r))
            return expr__budget_err(r, n);
        json_t *out = json_copy(a);
        if (json_is_array(b))
            json_array_extend(out, b);
        else
            json_array_append(out, b);
        return out;
    }
    if (!expr__is_number(a) || !expr__is_number(b))
        return expr__err(r, n, "operator '%s' needs numbers, got %s and %s", names[n->op],
                         expr__type_name(a), expr__type_name(b));
    if (json_is_integer(a) && json_is_integer(b)) {
        long long x = json_integer_value(a), y = json_integer_value(b), z;
        switch (n->op) {
        case OP_ADD:
            if (!__builtin_add_overflow(x, y, &z))
                return json_integer(z);
            break;
        case OP_SUB:
            if (!__builtin_sub_overflow(x, y, &z))
                return json_integer(z);
            break;
        case OP_MUL:
            if (!__builtin_mul_overflow(x, y, &z))
                return json_integer(z);
            break;
        case OP_DIV:
            if (y == 0)
                return expr__err(r, n, "division by zero");
            if (x == INT64_MIN && y == -1)
                break;
            return json_integer(x / y);
        case OP_MOD:
            if (y == 0)
                return expr__err(r, n, "division by zero");
            if (y == -1)
                return json_integer(0);
            return json_integer(x % y);
        }
    }
    double x = expr__num(a), y = expr__num(b), z = 0;
    switch (n->op) {
    case OP_ADD: z = x + y; break;
    case OP_SUB: z = x - y; break;
    case OP_MUL: z = x * y; break;
    case OP_DIV:
        if (y == 0)
            return expr__err(r, n, "division by zero");
        z = x / y;
        break;
    case OP_MOD:
        if (y == 0)
            return expr__err(r, n, "division by zero");
        z = fmod(x, y);
        break;
    }
    return num_result(z, 0, 0);
}

static int contains(const json_t *hay, const json_t *needle, int depth)
{
    if (depth > EXPR__VALUE_DEPTH)
        return 0;
    if (json_is_string(hay)) {
        char *s = expr__to_str(needle);
        int found = strstr(json_string_value(hay), s) != NULL;
        free(s);
        return found;
    }
    if (json_is_array(hay)) {
        if (json_is_array(needle)) {
            size_t i;
            json_t *x;
            json_array_foreach(needle, i, x) {
                if (!contains(hay, x, depth + 1))
                    return 0;
            }
            return 1;
        }
        size_t i;
        json_t *x;
        json_array_foreach(hay, i, x) {
            if (expr__equal(x, needle))
                return 1;
        }
        return 0;
    }
    if (json_is_object(hay)) {
        if (json_is_string(needle))
            return json_object_get(hay, json_string_value(needle)) != NULL;
        char *s = expr__to_str(needle);
        int found = json_object_get(hay, s) != NULL;
        free(s);
        return found;
    }
    return -1;
}

#define RANGE_MAX 1000000

static json_t *make_range(xr *r, const xnode *n, long long a, long long b, long long step)
{
    if (step == 0)
        return expr__err(r, n, "range step cannot be 0");
    long long count = step > 0 ? (b >= a ? (b - a) / step + 1 : 0) : (a >= b ? (a - b) / -step + 1 : 0);
    if (count > RANGE_MAX)
        return expr__err(r, n, "range of %lld items is too large (%d at most)", count, RANGE_MAX);
    json_t *out = json_array();
    for (long long i = 0; i < count; i++)
        json_array_append_new(out, json_integer(a + i * step));
    return out;
}

json_t *expr__range(xr *r, const xnode *n, json_t *a, json_t *b, json_t *step)
{
    if (!json_is_integer(a) || !json_is_integer(b) || (step && !json_is_integer(step)))
        return expr__err(r, n, "range needs integers, got %s and %s", expr__type_name(a),
                         expr__type_name(b));
    return make_range(r, n, json_integer_value(a), json_integer_value(b),
                      step ? json_integer_value(step) : 1);
}

static json_t *binary(xr *r, const xnode *n, json_t *a, json_t *b)
{
    int ok, c;
    switch (n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
        return arith(r, n, a, b);
    case OP_CONCAT: {
        if (json_is_string(a) && json_is_string(b) &&
            json_string_length(a) + json_string_length(b) > expr__room(r))
            return expr__budget_err(r, n);
        char *x = expr__to_str(a), *y = expr__to_str(b);
        size_t lx = strlen(x), ly = strlen(y);
        if (lx + ly > expr__room(r)) {
            free(x);
            free(y);
            return expr__budget_err(r, n);
        }
        char *z = xmalloc(lx + ly + 1);
        memcpy(z, x, lx);
        memcpy(z + lx, y, ly + 1);
        json_t *out = json_stringn_nocheck(z, lx + ly);
        free(x);
        free(y);
        free(z);
        return out;
    }
    case OP_EQ: return json_boolean(expr__equal(a, b));
    case OP_NE: return json_boolean(!expr__equal(a, b));
    case OP_LT: case OP_GT: case OP_LE: case OP_GE: {
        static const char *const names[] = {"<", ">", "<=", ">="};
        c = expr__compare(a, b, &ok);
        if (!ok)
            return expr__err(r, n, "cannot compare %s and %s with '%s'", expr__type_name(a),
                             expr__type_name(b), names[n->op - OP_LT]);
        switch (n->op) {
        case OP_LT: return json_boolean(c < 0);
        case OP_GT: return json_boolean(c > 0);
        case OP_LE: return json_boolean(c <= 0);
        default: return json_boolean(c >= 0);
        }
    }
    case OP_CONTAINS: case OP_IN: case OP_NOTIN: {
        const json_t *hay = n->op == OP_CONTAINS ? a : b, *needle = n->op == OP_CONTAINS ? b : a;
        if (json_is_null(hay))
            return json_false();
        c = contains(hay, needle, 0);
        if (c < 0)
            return expr__err(r, n, "'%s' needs a string, a list or a map, got %s",
                             n->op == OP_CONTAINS ? "contains" : "in", expr__type_name(hay));
        return json_boolean(n->op == OP_NOTIN ? !c : c);
    }
    case OP_RANGE:
        return expr__range(r, n, a, b, NULL);
    }
    return expr__err(r, n, "internal error: unknown operator");
}

/* ---- calls ----------------------------------------------------------------- */

static const expr_func *host_find(const xr *r, const char *name)
{
    if (!r->env)
        return NULL;
    for (size_t i = 0; i < r->env->nfuncs; i++)
        if (r->env->funcs[i].name && !strcmp(r->env->funcs[i].name, name))
            return &r->env->funcs[i];
    return NULL;
}

static json_t *call_host(xr *r, const xnode *n, const expr_func *f)
{
    json_t *args = json_array(), *kw = json_object();
    for (int i = 0; i < n->nkids; i++) {
        json_t *v = expr__eval(r, n->kids[i], 0);
        if (!v) {
            json_decref(args);
            json_decref(kw);
            return NULL;
        }
        if (n->kwnames[i])
            json_object_set_new(kw, n->kwnames[i], v);
        else
            json_array_append_new(args, v);
    }
    kerr e2 = KERR_INIT;
    json_t *out = f->fn(f->userdata, args, kw, &e2);
    json_decref(args);
    json_decref(kw);
    if (!out)
        return expr__err(r, n, "%s", e2.code ? e2.msg : "function failed");
    return charged(r, n, out);
}

static json_t *unknown_function(xr *r, const xnode *n)
{
    const char *names[200];
    int k = 0;
    for (const func_def *f = expr__funcs; f->name && k < 150; f++)
        names[k++] = f->name;
    static const char *const hooks[] = {"secret", "kv", "read", "fileSize", "fileExists",
                                        "errorLogs", "currentEachOutput", NULL};
    for (int i = 0; hooks[i] && k < 180; i++)
        names[k++] = hooks[i];
    for (size_t i = 0; r->env && i < r->env->nfuncs && k < 199; i++)
        names[k++] = r->env->funcs[i].name;
    names[k] = NULL;
    for (int i = 0; hooks[i]; i++)
        if (!strcmp(hooks[i], n->name))
            return expr__err(r, n, "function '%s' is not available here (the engine provides it "
                                   "when a flow runs)", n->name);
    const char *s = expr__suggest(n->name, names);
    if (s)
        return expr__err(r, n, "unknown function '%s' (did you mean '%s'?)", n->name, s);
    return expr__err(r, n, "unknown function '%s'", n->name);
}

/* Evaluates the arguments of a filter/function/macro into av by slot.
 * Returns the number of positionals, or -1. */
static int eval_args(xr *r, const xnode *n, json_t **av, int nav, int variadic)
{
    int npos = 0;
    for (int i = 0; i < n->nkids; i++) {
        int slot = variadic && !n->kwnames[i] ? npos : n->slots[i];
        if (!n->kwnames[i])
            npos++;
        json_t *v = expr__eval(r, n->kids[i], 0);
        if (!v)
            return -1;
        if (slot >= nav) {
            json_decref(v);
            continue;
        }
        av[slot] = v;
    }
    return npos;
}

static void free_args(json_t **av, int nav)
{
    for (int i = 0; i < nav; i++)
        json_decref(av[i]);
}

static void release_args(xr *r, json_t **av, int nav)
{
    for (int i = 0; i < nav; i++)
        release(r, av[i]);
}

/* v, or NULL with the budget error when a value printed while building it
 * passed the budget (expr__text_over). */
static json_t *text_ok(xr *r, const xnode *n, json_t *v)
{
    if (!expr__text_over)
        return v;
    expr__text_over = 0;
    json_decref(v);
    return expr__budget_err(r, n);
}

static json_t *call_macro(xr *r, const xnode *n)
{
    const macro *m = n->mac;
    json_t *av[EXPR__MAX_PARAMS * 2] = {0};
    if (eval_args(r, n, av, EXPR__MAX_PARAMS * 2, 0) < 0) {
        free_args(av, EXPR__MAX_PARAMS * 2);
        return NULL;
    }
    if (r->depth >= EXPR__MAX_DEPTH) {
        free_args(av, EXPR__MAX_PARAMS * 2);
        return expr__err(r, n, "macro '%s' nested too deeply (%d calls)", m->name, EXPR__MAX_DEPTH);
    }
    frame f;
    frame_init(&f, r->top);
    f.isolated = 1;
    for (int i = 0; i < m->nparams; i++) {
        json_t *v = av[i];
        av[i] = NULL;
        if (!v && m->dflt[i]) {
            v = expr__eval(r, m->dflt[i], 0);
            if (!v) {
                unbind_all(r, &f);
                free_args(av, EXPR__MAX_PARAMS * 2);
                return NULL;
            }
        }
        if (bind(r, n, &f, m->params[i], v ? v : json_null())) {
            unbind_all(r, &f);
            free_args(av, EXPR__MAX_PARAMS * 2);
            return NULL;
        }
    }
    free_args(av, EXPR__MAX_PARAMS * 2);
    frame *saved = r->top;
    r->top = &f;
    r->depth++;
    buf out;
    buf_init(&out, r->max_out);
    int rc = expr__render_body(r, m->body, &out);
    r->depth--;
    r->top = saved;
    unbind_all(r, &f);
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    /* the buffer's bytes, charged as they were written, become the string's */
    json_t *s = json_stringn_nocheck(buf_str(&out), out.len);
    buf_free(&out);
    return s;
}

/* ---- evaluation -------------------------------------------------------------- */

/* loop.index and friends without building the loop map: the loop info of
 * the innermost loop, unless a frame binds the name `loop` first. */
static json_t *loop_field(xr *r, const xnode *n)
{
    for (frame *f = r->top; f; f = f->up) {
        for (int i = 0; i < f->n; i++)
            if (!strcmp(f->slots[i].name, "loop"))
                return NULL;
        if (f->loop) {
            const loopinfo *li = f->loop;
            const char *k = json_string_value(n->lit);
            if (!strcmp(k, "index"))
                return json_integer(li->index);
            if (!strcmp(k, "first"))
                return json_boolean(li->index == 0);
            if (!strcmp(k, "last"))
                return json_boolean(li->index == li->length - 1);
            if (!strcmp(k, "length"))
                return json_integer(li->length);
            if (!strcmp(k, "revindex"))
                return json_integer(li->length - li->index - 1);
            return NULL;
        }
        if (f->isolated)
            return NULL;
    }
    return NULL;
}

static json_t *get_attr(xr *r, const xnode *n, int lenient)
{
    if (n->a->kind == X_VAR && n->lit && json_is_string(n->lit) && !strcmp(n->a->name, "loop")) {
        json_t *v = loop_field(r, n);
        if (v)
            return v;
    }
    json_t *base = expr__eval(r, n->a, lenient);
    if (!base || IS_UNDEF(base))
        return base;
    json_t *key = n->lit;
    json_t *dyn = NULL;
    if (!key) {
        key = dyn = expr__eval(r, n->b, 0);
        if (!key) {
            json_decref(base);
            return NULL;
        }
    }
    json_t *v = NULL;
    if (json_is_object(base)) {
        if (json_is_string(key)) {
            v = json_object_get(base, json_string_value(key));
        } else if (json_is_integer(key)) {
            char k[32];
            snprintf(k, sizeof k, "%lld", (long long)json_integer_value(key));
            v = json_object_get(base, k);
        }
    } else if (json_is_array(base)) {
        if (json_is_integer(key)) {
            long long i = json_integer_value(key);
            if (i < 0)
                i += (long long)json_array_size(base);
            if (i >= 0)
                v = json_array_get(base, (size_t)i);
        }
    }
    if (v) {
        json_incref(v);
        json_decref(base);
        json_decref(dyn);
        return v;
    }
    if (lenient) {
        json_decref(base);
        json_decref(dyn);
        return &expr__undef;
    }
    char sp[128], bp[128];
    if (json_is_object(base) || json_is_array(base)) {
        if (json_is_array(base) && json_is_integer(key))
            expr__err(r, n, "undefined variable '%s' (index %lld is out of range, the list has %zu items)",
                      span(r, n, sp, sizeof sp), (long long)json_integer_value(key), json_array_size(base));
        else if (json_is_array(base))
            expr__err(r, n, "undefined variable '%s' ('%s' is a list: use a number index)",
                      span(r, n, sp, sizeof sp), span(r, n->a, bp, sizeof bp));
        else
            expr__err(r, n, "undefined variable '%s'", span(r, n, sp, sizeof sp));
    } else {
        expr__err(r, n, "undefined variable '%s' ('%s' is %s)", span(r, n, sp, sizeof sp),
                  span(r, n->a, bp, sizeof bp),
                  json_is_null(base) ? "null" : expr__type_name(base));
    }
    json_decref(base);
    json_decref(dyn);
    return NULL;
}

json_t *expr__eval(xr *r, const xnode *n, int lenient)
{
    json_t *a, *b, *v;
    switch (n->kind) {
    case X_LIT:
        return json_incref(n->lit);
    case X_VAR: {
        json_t *fresh;
        v = lookup(r, n->name, &fresh);
        if (fresh)
            return fresh;
        if (v)
            return json_incref(v);
        if (lenient)
            return &expr__undef;
        return expr__err(r, n, "undefined variable '%s'", n->name);
    }
    case X_GET:
        return get_attr(r, n, lenient);
    case X_LIST:
        v = json_array();
        for (int i = 0; i < n->nkids; i++) {
            a = expr__eval(r, n->kids[i], 0);
            if (!a) {
                json_decref(v);
                return NULL;
            }
            if (kid_too_deep(a)) {
                json_decref(a);
                json_decref(v);
                return expr__depth_err(r, n->kids[i]);
            }
            json_array_append_new(v, a);
        }
        if (expr__charge(r, n, 8 * (size_t)n->nkids)) {
            json_decref(v);
            return NULL;
        }
        return v;
    case X_MAP:
        v = json_object();
        for (int i = 0; i + 1 < n->nkids; i += 2) {
            a = expr__eval(r, n->kids[i], 0);
            if (!a) {
                json_decref(v);
                return NULL;
            }
            if (!json_is_string(a) && !expr__is_number(a)) {
                expr__err(r, n->kids[i], "a map key must be a string or a number, got %s",
                          expr__type_name(a));
                json_decref(a);
                json_decref(v);
                return NULL;
            }
            b = expr__eval(r, n->kids[i + 1], 0);
            if (!b) {
                json_decref(a);
                json_decref(v);
                return NULL;
            }
            if (kid_too_deep(b)) {
                json_decref(a);
                json_decref(b);
                json_decref(v);
                return expr__depth_err(r, n->kids[i + 1]);
            }
            char *k = expr__to_str(a);
            json_object_set_new_nocheck(v, k, b);
            int over = expr__charge(r, n, 16 + strlen(k));
            free(k);
            json_decref(a);
            if (over) {
                json_decref(v);
                return NULL;
            }
        }
        return v;
    case X_NEG:
        a = expr__eval(r, n->a, 0);
        if (!a)
            return NULL;
        if (json_is_integer(a) && json_integer_value(a) != INT64_MIN)
            v = json_integer(-json_integer_value(a));
        else if (expr__is_number(a))
            v = json_real(-expr__num(a));
        else
            v = expr__err(r, n, "unary '-' needs a number, got %s", expr__type_name(a));
        json_decref(a);
        return v;
    case X_NOT:
        a = expr__eval(r, n->a, 0);
        if (!a)
            return NULL;
        v = json_boolean(!expr__truthy(a));
        json_decref(a);
        return v;
    case X_AND:
    case X_OR: {
        a = expr__eval(r, n->a, 0);
        if (!a)
            return NULL;
        int t = expr__truthy(a);
        json_decref(a);
        if ((n->kind == X_AND && !t) || (n->kind == X_OR && t))
            return json_boolean(t);
        b = expr__eval(r, n->b, 0);
        if (!b)
            return NULL;
        t = expr__truthy(b);
        json_decref(b);
        return json_boolean(t);
    }
    case X_TERNARY: {
        a = expr__eval(r, n->a, 0);
        if (!a)
            return NULL;
        int t = expr__truthy(a);
        json_decref(a);
        return expr__eval(r, t ? n->b : n->c, lenient);
    }
    case X_COALESCE:
    case X_UNDEFCO:
        a = expr__eval(r, n->a, 1);
        if (!a)
            return NULL;
        if (IS_UNDEF(a) || (n->kind == X_COALESCE && json_is_null(a))) {
            json_decref(a);
            return expr__eval(r, n->b, lenient);
        }
        return a;
    case X_BIN:
        a = expr__eval(r, n->a, 0);
        if (!a)
            return NULL;
        b = expr__eval(r, n->b, 0);
        if (!b) {
            json_decref(a);
            return NULL;
        }
        v = charged(r, n, text_ok(r, n, binary(r, n, a, b)));
        release(r, a);
        release(r, b);
        return v;
    case X_FILTER: {
        a = expr__eval(r, n->a, n->fdef->lenient);
        if (!a)
            return NULL;
        if (expr__check(r, n)) {
            json_decref(a);
            return NULL;
        }
        json_t *av[EXPR__MAX_PARAMS] = {0};
        if (eval_args(r, n, av, EXPR__MAX_PARAMS, 0) < 0) {
            free_args(av, EXPR__MAX_PARAMS);
            json_decref(a);
            return NULL;
        }
        v = charged(r, n, text_ok(r, n, n->fdef->fn(r, n, a, av)));
        release_args(r, av, EXPR__MAX_PARAMS);
        release(r, a);
        if (!v && !failed(r))
            expr__err(r, n, "filter '%s' failed", n->fdef->name);
        return v;
    }
    case X_TEST: {
        a = expr__eval(r, n->a, n->tdef->lenient);
        if (!a)
            return NULL;
        int t = n->tdef->fn(r, n, a);
        json_decref(a);
        if (t < 0)
            return NULL;
        return json_boolean(n->neg ? !t : t);
    }
    case X_FUNC: {
        if (expr__check(r, n))
            return NULL;
        const expr_func *h = host_find(r, n->name);
        if (h)
            return call_host(r, n, h);
        json_t *av[64] = {0};
        int nav = n->fndef->variadic ? 64 : EXPR__MAX_PARAMS;
        int npos = eval_args(r, n, av, nav, n->fndef->variadic);
        if (npos < 0) {
            free_args(av, nav);
            return NULL;
        }
        v = charged(r, n, text_ok(r, n, n->fndef->fn(r, n, av, npos)));
        release_args(r, av, nav);
        if (!v && !failed(r))
            expr__err(r, n, "function '%s' failed", n->name);
        return v;
    }
    case X_CALL: {
        if (expr__check(r, n))
            return NULL;
        const expr_func *h = host_find(r, n->name);
        if (h)
            return call_host(r, n, h);
        return unknown_function(r, n);
    }
    case X_MACRO:
        if (expr__check(r, n))
            return NULL;
        return call_macro(r, n);
    case X_HOLE:
        return json_incref(r->hole ? r->hole : json_null());
    }
    return expr__err(r, n, "internal error: unknown node");
}

/* ---- statements ------------------------------------------------------------ */

static int out_fail(xr *r, int line, int col)
{
    if (!failed(r))
        kerr_set_at(r->e, line, col, "rendered text is larger than %zu bytes", r->max_out);
    return -1;
}

/* Appends to out and charges what was appended (the output is part of the
 * budget); -1 after the error. */
static int emit(xr *r, const snode *s, buf *out, const json_t *v, const char *text, size_t len)
{
    size_t before = out->len;
    if (v ? expr__write_value(out, v) : buf_append(out, text, len)) {
        if (v && !failed(r) && expr__too_deep(v)) {
            expr__depth_err(r, NULL);
            r->e->line = s->line;
            r->e->col = s->col;
            return -1;
        }
        return out_fail(r, s->line, s->col);
    }
    if (out->len - before && expr__charge(r, NULL, out->len - before)) {
        r->e->line = s->line;
        r->e->col = s->col;
        return -1;
    }
    return 0;
}

/* Evaluates a statement's expression: what it builds meanwhile is counted,
 * and given back once it is evaluated (only the value itself may be kept,
 * by the caller). */
static json_t *eval_statement(xr *r, const xnode *x)
{
    size_t mark = r->used;
    json_t *v = expr__eval(r, x, 0);
    r->used = mark;
    return v;
}

static int render_for(xr *r, const snode *s, buf *out)
{
    const xnode *xn = s->x;
    json_t *it = eval_statement(r, xn);
    if (!it)
        return -1;
    if (json_is_string(it) || json_is_number(it) || json_is_boolean(it)) {
        expr__err(r, xn, "cannot loop over %s (a list or a map is needed)", expr__type_name(it));
        json_decref(it);
        return -1;
    }
    long len = json_is_array(it) ? (long)json_array_size(it)
               : json_is_object(it) ? (long)json_object_size(it) : 0;
    if (len == 0) {
        json_decref(it);
        return s->alt ? expr__render_body(r, s->alt, out) : 0;
    }
    if (r->iterations + len > r->max_iterations) {
        json_decref(it);
        expr__err(r, xn, "too many loop iterations in one render (%ld at most)", r->max_iterations);
        return -1;
    }
    r->iterations += len;
    /* the list looped over is held while the loop runs */
    size_t held = expr__owned(it);
    if (expr__charge(r, xn, held)) {
        json_decref(it);
        return -1;
    }
    frame f;
    frame_init(&f, r->top);
    loopinfo li = {0, len};
    f.loop = &li;
    r->top = &f;
    int rc = 0;
    if (json_is_array(it)) {
        for (long i = 0; i < len && !rc; i++) {
            li.index = i;
            json_t *x = json_array_get(it, (size_t)i);
            if (s->v2)
                rc = bind(r, xn, &f, s->v1, json_integer(i)) || bind(r, xn, &f, s->v2, json_incref(x));
            else
                rc = bind(r, xn, &f, s->v1, json_incref(x));
            if (!rc)
                rc = expr__check(r, xn) ? -1 : expr__render_body(r, s->body, out);
        }
    } else {
        const char *k;
        json_t *x;
        long i = 0;
        json_object_foreach(it, k, x) {
            li.index = i++;
            if (s->v2) {
                rc = bind(r, xn, &f, s->v1, json_string_nocheck(k)) || bind(r, xn, &f, s->v2, json_incref(x));
            } else {
                json_t *e = json_object();
                json_object_set_new(e, "key", json_string_nocheck(k));
                json_object_set(e, "value", x);
                rc = bind(r, xn, &f, s->v1, e);
            }
            if (!rc)
                rc = expr__check(r, xn) ? -1 : expr__render_body(r, s->body, out);
            if (rc)
                break;
        }
    }
    r->top = f.up;
    unbind_all(r, &f);
    expr__credit(r, held);
    json_decref(it);
    return rc;
}

int expr__render_body(xr *r, const snode *s, buf *out)
{
    for (; s; s = s->next) {
        switch (s->kind) {
        case S_TEXT:
            if (emit(r, s, out, NULL, s->text, s->len))
                return -1;
            break;
        case S_PRINT: {
            json_t *v = eval_statement(r, s->x);
            if (!v)
                return -1;
            int rc = emit(r, s, out, v, NULL, 0);
            json_decref(v);
            if (rc)
                return -1;
            break;
        }
        case S_IF: {
            /* an elseif is an S_IF alone in alt: rendering alt handles both */
            json_t *v = eval_statement(r, s->x);
            if (!v)
                return -1;
            int t = expr__truthy(v);
            json_decref(v);
            const snode *branch = t ? s->body : s->alt;
            if (branch && expr__render_body(r, branch, out))
                return -1;
            break;
        }
        case S_FOR:
            if (render_for(r, s, out))
                return -1;
            break;
        case S_SET: {
            json_t *v = eval_statement(r, s->x);
            if (!v)
                return -1;
            if (bind(r, s->x, r->top, s->v1, v))
                return -1;
            break;
        }
        case S_BLOCK:
            if (expr__render_body(r, s->body, out))
                return -1;
            break;
        case S_FILTER: {
            size_t mark = r->used;
            buf inner;
            buf_init(&inner, r->max_out);
            if (expr__render_body(r, s->body, &inner)) {
                buf_free(&inner);
                return -1;
            }
            /* the body's text, charged as it was written, is held as the hole */
            json_t *saved = r->hole;
            r->hole = json_stringn_nocheck(buf_str(&inner), inner.len);
            buf_free(&inner);
            json_t *v = eval_statement(r, s->x);
            json_decref(r->hole);
            r->hole = saved;
            r->used = mark;
            if (!v)
                return -1;
            int rc = emit(r, s, out, v, NULL, 0);
            json_decref(v);
            if (rc)
                return -1;
            break;
        }
        }
    }
    return 0;
}

/* ---- entry points ---------------------------------------------------------- */

int expr__render_nested(xr *r, const expr_tmpl *t, buf *out)
{
    const expr_tmpl *saved = r->t;
    r->t = t;
    frame f;
    frame_init(&f, r->top);
    frame *st = r->top;
    r->top = &f;
    int rc = expr__render_body(r, t->root, out);
    r->top = st;
    frame_clear(&f);
    r->t = saved;
    return rc;
}

static void xr_done(xr *r)
{
    expr__text_cap = r->saved_text_cap;
    expr__text_over = 0;
}

static void xr_init(xr *r, const expr_tmpl *t, const json_t *ctx, const expr_env *env, kerr *e,
                    frame *root)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->ctx = ctx;
    r->env = env;
    r->e = e;
    r->max_out = env && env->max_output ? env->max_output : EXPR__DEFAULT_MAX_OUT;
    r->max_iterations = env && env->max_iterations > 0 ? env->max_iterations : EXPR__MAX_ITERATIONS;
    const expr_limits *l = env && env->limits ? env->limits : thread_limits;
    r->lim = l;
    r->cancel = l ? l->cancel : NULL;
    r->task_deadline_us = l ? l->deadline_us : 0;
    int64_t max_time = l && l->max_time_us ? l->max_time_us : EXPR__DEFAULT_MAX_TIME_US;
    r->max_time_us = max_time > 0 ? max_time : 0;
    r->deadline_us = r->task_deadline_us ? r->task_deadline_us : INT64_MAX;
    r->budget = l && l->max_bytes ? l->max_bytes : EXPR__DEFAULT_BUDGET;
    if (!(l && l->max_bytes) && r->max_out > r->budget)
        r->budget = r->max_out;
    r->saved_text_cap = expr__text_cap;
    expr__text_cap = r->budget + 1;
    expr__text_over = 0;
    frame_init(root, NULL);
    r->top = root;
}

int expr_render(const expr_tmpl *t, const json_t *ctx, const expr_env *env, char **out, kerr *e)
{
    kerr local = KERR_INIT;
    if (!e)
        e = &local;
    kerr_clear(e);
    xr r;
    frame root;
    xr_init(&r, t, ctx, env, e, &root);
    buf b;
    buf_init(&b, r.max_out);
    int rc = expr__render_body(&r, t->root, &b);
    frame_clear(&root);
    xr_done(&r);
    if (rc) {
        buf_free(&b);
        if (!e->code)
            kerr_set(e, "render failed");
        return -1;
    }
    *out = buf_steal(&b);
    return 0;
}

/* Whether v holds a template literal (immortal, see expr_compile), which
 * must not outlive the template. */
static int holds_literal_rec(const json_t *v, int depth)
{
    if (refcount_of(v) == (size_t)-1)
        return !json_is_boolean(v) && !json_is_null(v);
    if (depth > EXPR__VALUE_DEPTH + 1) /* literals sit no deeper than a render builds */
        return 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (holds_literal_rec(json_array_get(v, i), depth + 1))
                return 1;
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (holds_literal_rec(x, depth + 1))
                return 1;
        }
    }
    return 0;
}

static int holds_literal(const json_t *v) { return holds_literal_rec(v, 0); }

int expr_eval(const expr_tmpl *t, const json_t *ctx, const expr_env *env, json_t **out, kerr *e)
{
    kerr local = KERR_INIT;
    if (!e)
        e = &local;
    kerr_clear(e);
    if (t->single) {
        xr r;
        frame root;
        xr_init(&r, t, ctx, env, e, &root);
        json_t *v = expr__eval(&r, t->single, 0);
        frame_clear(&root);
        xr_done(&r);
        if (!v) {
            if (!e->code)
                kerr_set(e, "evaluation failed");
            return -1;
        }
        if (holds_literal(v)) { /* the caller may keep it after expr_tmpl_free */
            json_t *c = json_deep_copy(v);
            json_decref(v);
            v = c;
        }
        *out = v;
        return 0;
    }
    char *s;
    if (expr_render(t, ctx, env, &s, e))
        return -1;
    json_t *v = json_string(s);
    if (!v) {
        free(s);
        return kerr_set(e, "the rendered text is not valid UTF-8");
    }
    free(s);
    *out = v;
    return 0;
}

int expr_render_string(const char *src, const json_t *ctx, const expr_env *env, char **out, kerr *e)
{
    expr_tmpl *t = expr_compile(src, e);
    if (!t)
        return -1;
    int rc = expr_render(t, ctx, env, out, e);
    expr_tmpl_free(t);
    return rc;
}

int expr_eval_string(const char *src, const json_t *ctx, const expr_env *env, json_t **out, kerr *e)
{
    expr_tmpl *t = expr_compile(src, e);
    if (!t)
        return -1;
    int rc = expr_eval(t, ctx, env, out, e);
    expr_tmpl_free(t);
    return rc;
}

/* ---- rendering a whole JSON value ----------------------------------------------- */

static void path_push(buf *path, const char *seg)
{
    buf_putc(path, '/');
    for (const char *q = seg; *q; q++) {
        if (*q == '~')
            buf_puts(path, "~0");
        else if (*q == '/')
            buf_puts(path, "~1");
        else
            buf_putc(path, *q);
    }
}

static json_t *render_json_rec(const json_t *in, const json_t *ctx, const expr_env *env, int typed,
                               buf *path, int depth, kerr *e)
{
    if (depth > EXPR__VALUE_DEPTH) {
        kerr_set(e, "value nested deeper than %d levels", EXPR__VALUE_DEPTH);
        return NULL;
    }
    if (json_is_string(in)) {
        const char *s = json_string_value(in);
        if (!expr_is_template(s))
            return json_deep_copy(in);
        json_t *v = NULL;
        if (typed) {
            if (expr_eval_string(s, ctx, env, &v, e))
                return NULL;
            return v;
        }
        char *text;
        if (expr_render_string(s, ctx, env, &text, e))
            return NULL;
        v = json_string(text);
        if (!v)
            kerr_set(e, "the rendered text is not valid UTF-8");
        free(text);
        return v;
    }
    if (json_is_array(in)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(in); i++) {
            size_t mark = path->len;
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", i);
            path_push(path, idx);
            json_t *x = render_json_rec(json_array_get(in, i), ctx, env, typed, path, depth + 1, e);
            if (!x) {
                json_decref(out);
                return NULL;
            }
            path->len = mark;
            path->data[mark] = '\0';
            json_array_append_new(out, x);
        }
        return out;
    }
    if (json_is_object(in)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)in, k, x) {
            size_t mark = path->len;
            path_push(path, k);
            char *key = NULL;
            if (expr_is_template(k) && expr_render_string(k, ctx, env, &key, e)) {
                json_decref(out);
                return NULL;
            }
            json_t *y = render_json_rec(x, ctx, env, typed, path, depth + 1, e);
            if (!y) {
                free(key);
                json_decref(out);
                return NULL;
            }
            path->len = mark;
            path->data[mark] = '\0';
            json_object_set_new(out, key ? key : k, y);
            free(key);
        }
        return out;
    }
    return json_deep_copy(in);
}

int expr_render_json(const json_t *in, const json_t *ctx, const expr_env *env, int typed, json_t **out,
                     char **err_path, kerr *e)
{
    kerr local = KERR_INIT;
    if (!e)
        e = &local;
    kerr_clear(e);
    buf path;
    buf_init(&path, 0);
    buf_puts(&path, "");
    json_t *v = render_json_rec(in, ctx, env, typed, &path, 0, e);
    if (!v) {
        if (err_path)
            *err_path = buf_steal(&path);
        else
            buf_free(&path);
        if (!e->code)
            kerr_set(e, "render failed");
        return -1;
    }
    buf_free(&path);
    *out = v;
    return 0;
}
