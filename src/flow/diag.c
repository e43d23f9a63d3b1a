/*
 * diag.c: diagnostics, the positioned messages of validation, and how they
 * are printed: "file:line:col: message", the source line, a caret (jq's
 * locfile habit).
 */
#include "flow/flow.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void vadd(diags *d, int warning, const char *file, int line, int col, const char *path, const char *fmt,
                 va_list ap)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    diag *g = &d->v[d->n++];
    g->file = xstrdup(file ? file : "<input>");
    g->line = line;
    g->col = col;
    g->path = path ? xstrdup(path) : NULL;
    g->warning = warning;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    g->msg = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    vsnprintf(g->msg, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
}

void diags_add(diags *d, const char *file, int line, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(d, 0, file, line, col, path, fmt, ap);
    va_end(ap);
}

void diags_warn(diags *d, const char *file, int line, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(d, 1, file, line, col, path, fmt, ap);
    va_end(ap);
}

size_t diags_errors(const diags *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += !d->v[i].warning;
    return n;
}

const diag *diags_first_error(const diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (!d->v[i].warning)
            return &d->v[i];
    return NULL;
}

void diags_free(diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].path);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static int cmp_diag(const void *a, const void *b)
{
    const diag *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x < y ? -1 : x > y;
}

void diags_sort(diags *d)
{
    /* qsort is not stable: ties are broken by address, which is insertion order */
    if (d->n > 1)
        qsort(d->v, d->n, sizeof *d->v, cmp_diag);
}

void diag_print(FILE *out, const diag *g, const char *src, size_t src_len, int color)
{
    const char *bold = color ? "\033[1m" : "", *red = color ? "\033[1;31m" : "",
               *yellow = color ? "\033[1;33m" : "", *green = color ? "\033[1;32m" : "",
               *reset = color ? "\033[0m" : "";
    const char *what = g->warning ? "warning" : "error", *hue = g->warning ? yellow : red;
    /* the position through the one formatter; its ": " goes after the colour reset */
    char where[600];
    kerr_format_pos(where, sizeof where, g->file, g->line > 0 ? g->line : 0, g->line > 0 ? g->col : 0, "");
    size_t wl = strlen(where);
    if (wl >= 2 && !strcmp(where + wl - 2, ": "))
        wl -= 2;
    fprintf(out, "%s%.*s:%s %s%s:%s %s\n", bold, (int)wl, where, reset, hue, what, reset, g->msg);
    if (!src || g->line <= 0)
        return;
    /* find the line */
    const char *p = src, *end = src + src_len;
    for (int l = 1; l < g->line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return;
        p = nl + 1;
    }
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
        eol = end;
    size_t len = (size_t)(eol - p);
    if (len && p[len - 1] == '\r')
        len--;
    if (len > 200)
        len = 200;
    fprintf(out, "  %.*s\n  ", (int)len, p);
    /* the caret goes under the column; tabs are copied so it lines up */
    for (int c = 1; c < g->col && (size_t)(c - 1) < len; c++) {
        unsigned char ch = (unsigned char)p[c - 1];
        if (ch == '\t')
            fputc('\t', out);
        else if ((ch & 0xC0) != 0x80)
            fputc(' ', out);
    }
    fprintf(out, "%s^%s\n", green, reset);
}
