/*
 * yaml.c: YAML text to jansson values, with the position of every node.
 *
 * Flow files are read with libyaml's event parser into json_t, and a posmap
 * records, for each node's JSON pointer ("/tasks/0/type"), the line and
 * column of its value and, for mapping entries, of its key. Every later
 * error (validation, rendering, execution) can then name file:line:col.
 *
 * Scalars are typed as Kestra's YAML reader (Jackson over SnakeYAML) types
 * them: plain `null`, `~` and empty are null; `true`/`false` (any case of
 * the first letter, or all caps) are booleans; decimal, 0x and 0o integers
 * and decimal floats (with .inf/.nan) are numbers; everything quoted or
 * otherwise is a string. Explicit core tags (!!str, !!int...) are honoured.
 *
 * Hostile input is bounded: the text size (by the caller), the nesting depth,
 * and alias expansion. Aliases share the anchored value (json_incref), so an
 * alias costs nothing to build, but each one adds the size of its target to a
 * budget of expanded nodes: a "billion laughs" file fails at once instead of
 * producing a document that explodes when walked or serialized. Duplicate
 * keys are an error naming both places (YAML forbids them; Jackson's default
 * silently keeps the last one, which hides mistakes). libyaml itself rejects
 * invalid UTF-8 with its position.
 */
#include "flow/flow.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- the position map --------------------------------------------------- */

typedef struct pentry {
    char *ptr;
    ypos pos;
} pentry;

struct posmap {
    pentry *slots;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static void pm_grow(posmap *m);

static pentry *pm_slot(posmap *m, const char *ptr)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_str(ptr) & mask;
    while (m->slots[i].ptr && strcmp(m->slots[i].ptr, ptr))
        i = (i + 1) & mask;
    return &m->slots[i];
}

static void pm_put(posmap *m, const char *ptr, ypos p)
{
    if ((m->n + 1) * 4 >= m->cap * 3)
        pm_grow(m);
    pentry *s = pm_slot(m, ptr);
    if (!s->ptr) {
        s->ptr = xstrdup(ptr);
        m->n++;
    }
    s->pos = p;
}

static void pm_grow(posmap *m)
{
    posmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].ptr) {
            pentry *s = pm_slot(m, old.slots[i].ptr);
            *s = old.slots[i];
            m->n++;
        }
    free(old.slots);
}

posmap *posmap_new(void)
{
    posmap *m = xcalloc(1, sizeof *m);
    pm_grow(m);
    return m;
}

void posmap_free(posmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].ptr);
    free(m->slots);
    free(m);
}

void posmap_set(posmap *m, const char *ptr, ypos p) { pm_put(m, ptr, p); }

const ypos *posmap_get(const posmap *m, const char *ptr)
{
    if (!m || !ptr)
        return NULL;
    pentry *s = pm_slot((posmap *)m, ptr);
    return s->ptr ? &s->pos : NULL;
}

const ypos *posmap_find(const posmap *m, const char *ptr)
{
    if (!m || !ptr)
        return NULL;
    char *p = xstrdup(ptr);
    const ypos *r = NULL;
    for (;;) {
        r = posmap_get(m, p);
        if (r)
            break;
        char *slash = strrchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
    free(p);
    return r;
}

size_t posmap_count(const posmap *m) { return m ? m->n : 0; }

void json_pointer_append(buf *b, const char *key)
{
    buf_putc(b, '/');
    for (const char *k = key; *k; k++) {
        if (*k == '~')
            buf_puts(b, "~0");
        else if (*k == '/')
            buf_puts(b, "~1");
        else
            buf_putc(b, *k);
    }
}

/* ---- scalars ------------------------------------------------------------ */

static int is_null_word(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int bool_word(const char *s, size_t n)
{
    if ((n == 4) && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
        return 1;
    if ((n == 5) && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
        return 0;
    return -1;
}

/* Integer per YAML 1.2 core schema, plus underscores as SnakeYAML allows. */
static int parse_int(const char *s, size_t n, json_int_t *out)
{
    char tmp[72];
    size_t j = 0;
    if (n == 0 || n >= sizeof tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_' || i == 0)
            tmp[j++] = s[i];
    tmp[j] = '\0';
    const char *p = tmp;
    int neg = 0, base = 10;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    }
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++) {
        int ok = base == 16 ? isxdigit((unsigned char)*q) : base == 8 ? (*q >= '0' && *q <= '7')
                                                                      : isdigit((unsigned char)*q);
        if (!ok)
            return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, base);
    if (errno || *end)
        return -2;
    if (!neg && v > (unsigned long long)INT64_MAX)
        return -2;
    if (neg && v > (unsigned long long)INT64_MAX + 1ULL)
        return -2;
    *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return 0;
}

static int parse_float(const char *s, size_t n, double *out)
{
    char tmp[128];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    const char *p = tmp;
    if (*p == '-' || *p == '+')
        p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = tmp[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcmp(tmp, ".nan") || !strcmp(tmp, ".NaN") || !strcmp(tmp, ".NAN")) {
        *out = NAN;
        return 0;
    }
    /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *q = p;
    int digits = 0;
    while (isdigit((unsigned char)*q)) {
        q++;
        digits++;
    }
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q)) {
            q++;
            digits++;
        }
    }
    if (!digits)
        return -1;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '-' || *q == '+')
            q++;
        if (!isdigit((unsigned char)*q))
            return -1;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q)
        return -1;
    *out = strtod(tmp, NULL);
    return 0;
}

/* ---- the loader --------------------------------------------------------- */

typedef struct frame {
    json_t *node;          /* object or array being filled */
    size_t path_len;       /* length of the path buffer for this node */
    char *key;             /* mapping: pending key, NULL when expecting one */
    ypos key_pos;
    char *anchor;          /* anchor of this collection, if any */
    size_t size_before;    /* node count when this collection started */
} frame;

typedef struct anchor {
    char *name;
    json_t *value;
    size_t size;           /* nodes in the anchored value */
} anchor;

typedef struct loader {
    const yaml_limits *lim;
    kerr *e;
    posmap *pm;
    buf path;
    frame *stack;
    size_t depth, stack_cap;
    anchor *anchors;
    size_t nanchors, anchors_cap;
    size_t nodes;          /* nodes built, aliases counted at their full size */
    json_t *root;
    int docs;
} loader;

static ypos mark_pos(const yaml_mark_t *m)
{
    ypos p = {(int)m->line + 1, (int)m->column + 1, 0, 0};
    return p;
}

static void add_anchor(loader *L, const char *name, json_t *v, size_t size)
{
    if (!name)
        return;
    /* a later anchor of the same name shadows the earlier one */
    if (L->nanchors == L->anchors_cap) {
        L->anchors_cap = L->anchors_cap ? L->anchors_cap * 2 : 8;
        L->anchors = xrealloc(L->anchors, L->anchors_cap * sizeof *L->anchors);
    }
    anchor *a = &L->anchors[L->nanchors++];
    a->name = xstrdup(name);
    a->value = json_incref(v);
    a->size = size;
}

static const anchor *find_anchor(loader *L, const char *name)
{
    for (size_t i = L->nanchors; i > 0; i--)
        if (!strcmp(L->anchors[i - 1].name, name))
            return &L->anchors[i - 1];
    return NULL;
}

/* Attaches v (stolen) to the collection on top of the stack, or makes it the
 * root, recording its position. Returns 0 or -1 with e set. */
static int attach(loader *L, json_t *v, ypos pos)
{
    if (L->depth == 0) {
        if (L->root) {
            json_decref(v);
            return kerr_set_at(L->e, pos.line, pos.col, "more than one YAML value at the top level");
        }
        L->root = v;
        posmap_set(L->pm, "", pos);
        return 0;
    }
    frame *f = &L->stack[L->depth - 1];
    size_t saved = L->path.len;
    if (json_is_array(f->node)) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", json_array_size(f->node));
        json_pointer_append(&L->path, idx);
        posmap_set(L->pm, buf_str(&L->path), pos);
        json_array_append_new(f->node, v);
    } else {
        if (!f->key) {
            json_decref(v);
            return kerr_set_at(L->e, pos.line, pos.col, "internal: value without key");
        }
        json_pointer_append(&L->path, f->key);
        pos.key_line = f->key_pos.line;
        pos.key_col = f->key_pos.col;
        posmap_set(L->pm, buf_str(&L->path), pos);
        json_object_set_new(f->node, f->key, v);
        free(f->key);
        f->key = NULL;
    }
    L->path.len = saved;
    L->path.data[saved] = '\0';
    return 0;
}

/* The 1-based line and column (in characters, as libyaml counts them) of
 * byte offset off in text. */
static void offset_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* A scalar in key position of the mapping on top of the stack. */
static int take_key(loader *L, frame *f, const char *s, ypos pos)
{
    if (json_object_get(f->node, s)) {
        size_t saved = L->path.len;
        json_pointer_append(&L->path, s);
        const ypos *first = posmap_get(L->pm, buf_str(&L->path));
        L->path.len = saved;
        L->path.data[saved] = '\0';
        if (first)
            return kerr_set_at(L->e, pos.line, pos.col, "duplicate key '%s' (first defined at line %d)",
                               s, first->key_line ? first->key_line : first->line);
        return kerr_set_at(L->e, pos.line, pos.col, "duplicate key '%s'", s);
    }
    f->key = xstrdup(s);
    f->key_pos = pos;
    return 0;
}

static json_t *scalar_value(loader *L, const yaml_event_t *ev, ypos pos)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag && strcmp(tag, "!")) {
        if (!strcmp(tag, YAML_STR_TAG))
            return json_stringn(s, n);
        if (!strcmp(tag, YAML_NULL_TAG))
            return json_null();
        if (!strcmp(tag, YAML_BOOL_TAG)) {
            int b = bool_word(s, n);
            if (b >= 0)
                return json_boolean(b);
        } else if (!strcmp(tag, YAML_INT_TAG)) {
            json_int_t i;
            if (!parse_int(s, n, &i))
                return json_integer(i);
        } else if (!strcmp(tag, YAML_FLOAT_TAG)) {
            double d;
            if (!parse_float(s, n, &d) && isfinite(d))
                return json_real(d);
        } else {
            kerr_set_at(L->e, pos.line, pos.col, "unsupported YAML tag '%s'", tag);
            return NULL;
        }
        kerr_set_at(L->e, pos.line, pos.col, "value '%.*s' does not match its tag '%s'", (int)(n > 40 ? 40 : n), s, tag);
        return NULL;
    }
    if (!plain || (tag && !strcmp(tag, "!")))
        return json_stringn(s, n);
    if (is_null_word(s, n))
        return json_null();
    int b = bool_word(s, n);
    if (b >= 0)
        return json_boolean(b);
    if (n && (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.')) {
        json_int_t i;
        int rc = parse_int(s, n, &i);
        if (rc == 0)
            return json_integer(i);
        double d;
        if (parse_float(s, n, &d) == 0) {
            if (!isfinite(d))  /* JSON has no inf/nan: keep the text */
                return json_stringn(s, n);
            return json_real(d);
        }
        if (rc == -2) /* an integer too large for 64 bits: keep it as a float */
            if (parse_float(s, n, &d) == 0)
                return json_real(d);
    }
    json_t *v = json_stringn(s, n);
    if (!v)
        kerr_set_at(L->e, pos.line, pos.col, "invalid UTF-8 in value");
    return v;
}

static int push(loader *L, json_t *node, ypos pos, const char *anchor_name)
{
    if (L->depth >= (size_t)L->lim->max_depth) {
        json_decref(node);
        return kerr_set_at(L->e, pos.line, pos.col, "nesting deeper than %d levels", L->lim->max_depth);
    }
    /* the child's path segment, computed before attach() consumes the key */
    char *seg = NULL;
    if (L->depth > 0) {
        frame *parent = &L->stack[L->depth - 1];
        if (json_is_array(parent->node))
            seg = xasprintf("%zu", json_array_size(parent->node));
        else
            seg = xstrdup(parent->key ? parent->key : "");
    }
    if (attach(L, json_incref(node), pos)) {
        free(seg);
        json_decref(node);
        return -1;
    }
    if (seg) {
        json_pointer_append(&L->path, seg);
        free(seg);
    }
    if (L->depth == L->stack_cap) {
        L->stack_cap = L->stack_cap ? L->stack_cap * 2 : 16;
        L->stack = xrealloc(L->stack, L->stack_cap * sizeof *L->stack);
    }
    frame *f = &L->stack[L->depth++];
    f->node = node; /* the parent holds the reference we incref'ed; this one is ours */
    f->path_len = L->path.len;
    f->key = NULL;
    f->anchor = anchor_name ? xstrdup(anchor_name) : NULL;
    f->size_before = L->nodes;
    return 0;
}

static void pop(loader *L)
{
    frame *f = &L->stack[--L->depth];
    add_anchor(L, f->anchor, f->node, L->nodes - f->size_before + 1);
    free(f->anchor);
    free(f->key);
    json_decref(f->node);
    /* restore the parent's path */
    size_t plen = L->depth ? L->stack[L->depth - 1].path_len : 0;
    L->path.len = plen;
    if (L->path.data)
        L->path.data[plen] = '\0';
}

static int count_node(loader *L, size_t n, ypos pos)
{
    L->nodes += n;
    if (L->nodes > L->lim->max_nodes)
        return kerr_set_at(L->e, pos.line, pos.col,
                           "document too large: more than %zu values once aliases are expanded",
                           L->lim->max_nodes);
    return 0;
}

static const char *yaml_problem(const yaml_parser_t *p)
{
    return p->problem ? p->problem : "syntax error";
}

void yaml_limits_default(yaml_limits *l)
{
    l->max_bytes = 4u << 20;
    l->max_depth = 128;
    l->max_nodes = 200000;
}

int yaml_load(const char *text, size_t len, const yaml_limits *lim, json_t **out, posmap **pos_out, kerr *e)
{
    yaml_limits dl;
    if (!lim) {
        yaml_limits_default(&dl);
        lim = &dl;
    }
    *out = NULL;
    if (pos_out)
        *pos_out = NULL;
    if (len > lim->max_bytes)
        return kerr_set(e, "file too large: %zu bytes (the limit is %zu)", len, lim->max_bytes);
    if (memchr(text, '\0', len)) {
        const char *z = memchr(text, '\0', len);
        int line = 1, col = 1;
        for (const char *p = text; p < z; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)*p & 0xC0) != 0x80) {
                col++;
            }
        }
        return kerr_set_at(e, line, col, "NUL byte in YAML text");
    }
    loader L;
    memset(&L, 0, sizeof L);
    L.lim = lim;
    L.e = e;
    L.pm = posmap_new();
    buf_init(&L.path, 0);
    buf_puts(&L.path, "");

    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, done = 0;
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.mark;
            if (parser.error == YAML_READER_ERROR) {
                /* the reader reports a byte offset only (its mark stays at
                 * the start): the line and column are counted here */
                int line, col;
                size_t off = parser.problem_offset < len ? parser.problem_offset : len;
                /* a bad trailing octet is reported at itself: point at the
                 * character it was meant to continue */
                if (parser.problem && strstr(parser.problem, "trailing")) {
                    while (off > 0 && ((unsigned char)text[off - 1] & 0xc0) == 0x80)
                        off--;
                    if (off > 0 && (unsigned char)text[off - 1] >= 0xc0)
                        off--;
                }
                offset_pos(text, len, off, &line, &col);
                if (parser.problem && strstr(parser.problem, "UTF-8") && off < len)
                    rc = kerr_set_at(e, line, col, "invalid UTF-8 (%s at byte 0x%02x)", yaml_problem(&parser),
                                     (unsigned char)text[off]);
                else
                    rc = kerr_set_at(e, line, col, "%s", yaml_problem(&parser));
                break;
            }
            if (parser.context)
                rc = kerr_set_at(e, (int)m->line + 1, (int)m->column + 1, "%s %s", parser.context,
                                 yaml_problem(&parser));
            else
                rc = kerr_set_at(e, (int)m->line + 1, (int)m->column + 1, "%s", yaml_problem(&parser));
            break;
        }
        ypos pos = mark_pos(&ev.start_mark);
        frame *top = L.depth ? &L.stack[L.depth - 1] : NULL;
        int key_slot = top && json_is_object(top->node) && !top->key;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++L.docs > 1)
                rc = kerr_set_at(e, pos.line, pos.col, "more than one YAML document in the file (a flow is one document)");
            break;
        case YAML_SCALAR_EVENT: {
            if ((rc = count_node(&L, 1, pos)))
                break;
            if (key_slot) {
                if (ev.data.scalar.length != strlen((const char *)ev.data.scalar.value)) {
                    rc = kerr_set_at(e, pos.line, pos.col, "NUL byte in a key");
                    break;
                }
                if (!strcmp((const char *)ev.data.scalar.value, "<<") &&
                    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                    rc = kerr_set_at(e, pos.line, pos.col, "YAML merge keys ('<<') are not supported: write the keys out");
                    break;
                }
                rc = take_key(&L, top, (const char *)ev.data.scalar.value, pos);
                break;
            }
            json_t *v = scalar_value(&L, &ev, pos);
            if (!v) {
                rc = -1;
                if (!e || !e->msg[0])
                    kerr_set_at(e, pos.line, pos.col, "invalid scalar");
                break;
            }
            if (ev.data.scalar.anchor)
                add_anchor(&L, (const char *)ev.data.scalar.anchor, v, 1);
            rc = attach(&L, v, pos);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (key_slot) {
                rc = kerr_set_at(e, pos.line, pos.col, "a key must be a plain value, not a list or a mapping");
                break;
            }
            if ((rc = count_node(&L, 1, pos)))
                break;
            const char *tag = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                                                                   : ev.data.mapping_start.tag);
            if (tag && strcmp(tag, "!") && strcmp(tag, YAML_SEQ_TAG) && strcmp(tag, YAML_MAP_TAG)) {
                rc = kerr_set_at(e, pos.line, pos.col, "unsupported YAML tag '%s'", tag);
                break;
            }
            json_t *node = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
            const char *anc = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                                                   : ev.data.mapping_start.anchor);
            rc = push(&L, node, pos, anc);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            pop(&L);
            break;
        case YAML_ALIAS_EVENT: {
            const char *name = (const char *)ev.data.alias.anchor;
            const anchor *a = find_anchor(&L, name);
            if (!a) {
                rc = kerr_set_at(e, pos.line, pos.col, "unknown alias '*%s'", name);
                break;
            }
            if ((rc = count_node(&L, a->size, pos)))
                break;
            if (key_slot) {
                if (!json_is_string(a->value)) {
                    rc = kerr_set_at(e, pos.line, pos.col, "alias '*%s' used as a key is not a string", name);
                    break;
                }
                rc = take_key(&L, top, json_string_value(a->value), pos);
                break;
            }
            /* share the value: a deep copy would let the budget be bypassed in memory */
            rc = attach(&L, json_incref(a->value), pos);
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (L.depth)
        pop(&L);
    for (size_t i = 0; i < L.nanchors; i++) {
        free(L.anchors[i].name);
        json_decref(L.anchors[i].value);
    }
    free(L.anchors);
    free(L.stack);
    buf_free(&L.path);
    if (rc) {
        json_decref(L.root);
        posmap_free(L.pm);
        return -1;
    }
    if (!L.root)
        L.root = json_null();
    *out = L.root;
    if (pos_out)
        *pos_out = L.pm;
    else
        posmap_free(L.pm);
    return 0;
}
