/*
 * serdes_datefmt.c: Java DateTimeFormatter patterns, for printing, as far as
 * Kestra's defaults and the patterns flows commonly write need them:
 *
 *   y u   year (yy: two digits; yyyy: four)     M L  month (M, MM, MMM Jan, MMMM January)
 *   d     day of month                          D    day of year
 *   E     day of week (E Mon, EEEE Monday)      a    AM / PM
 *   H k   hour of day (0-23, 1-24)              K h  hour of AM/PM (0-11, 1-12)
 *   m s   minute, second                        S..S fraction of second (1 to 9 digits)
 *   n     nanosecond
 *   X     offset, Z for zero (X +01, XX +0100, XXX +01:00)
 *   x     offset, +00 for zero (x, xx, xxx)     Z    offset (Z +0100, ZZZZZ as XXX)
 *   'text' a literal ('' a quote)               [ ]  an optional section
 *
 * Any other pattern letter (G, Q, w, V, z, O...) is refused when the
 * pattern is compiled, naming the property, rather than printed wrongly.
 * An optional section is left out when the value lacks one of its fields (a
 * LocalTime has no offset: "HH:mm:ss[XXX]" gives "10:15:30"); a field outside
 * one that the value lacks is an error, as in Java. Text (months, days of
 * the week, AM/PM) is in English, Java's default locale in Kestra's image.
 */
#include "tasks/serdes_datefmt.h"

#include "util/datetime.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IT_LIT, IT_FIELD, IT_OPEN, IT_CLOSE };

typedef struct item {
    int kind;
    char letter;
    int count;
    char *lit;  /* IT_LIT */
    size_t end; /* IT_OPEN: the index of its IT_CLOSE */
} item;

struct datefmt {
    char *prop;
    item *it;
    size_t n, cap;
};

static const struct letter {
    char c;
    int max;
    char need; /* 'd' date, 't' time, 'o' offset */
} letters[] = {
    {'y', 9, 'd'}, {'u', 9, 'd'}, {'M', 5, 'd'}, {'L', 5, 'd'}, {'d', 2, 'd'}, {'D', 3, 'd'},
    {'E', 5, 'd'}, {'a', 1, 't'}, {'H', 2, 't'}, {'k', 2, 't'}, {'K', 2, 't'}, {'h', 2, 't'},
    {'m', 2, 't'}, {'s', 2, 't'}, {'S', 9, 't'}, {'n', 9, 't'}, {'X', 5, 'o'}, {'x', 5, 'o'},
    {'Z', 5, 'o'},
};

static const struct letter *letter_of(char c)
{
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        if (letters[i].c == c)
            return &letters[i];
    return NULL;
}

static item *push(datefmt *f, int kind)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->it = xrealloc(f->it, f->cap * sizeof *f->it);
    }
    item *x = &f->it[f->n++];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    return x;
}

static void push_lit(datefmt *f, const char *s, size_t n)
{
    if (f->n && f->it[f->n - 1].kind == IT_LIT) {
        item *x = &f->it[f->n - 1];
        size_t l = strlen(x->lit);
        x->lit = xrealloc(x->lit, l + n + 1);
        memcpy(x->lit + l, s, n);
        x->lit[l + n] = 0;
        return;
    }
    item *x = push(f, IT_LIT);
    x->lit = xmalloc(n + 1);
    memcpy(x->lit, s, n);
    x->lit[n] = 0;
}

void datefmt_free(datefmt *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->it[i].lit);
    free(f->it);
    free(f->prop);
    free(f);
}

datefmt *datefmt_compile(const char *prop, const char *pattern, kerr *e)
{
    datefmt *f = xcalloc(1, sizeof *f);
    f->prop = xstrdup(prop);
    size_t stack[32], depth = 0;
    const char *p = pattern;
    while (*p) {
        char c = *p;
        if (isalpha((unsigned char)c)) {
            int n = 0;
            while (p[n] == c)
                n++;
            const struct letter *l = letter_of(c);
            if (!l) {
                kerr_setc(e, KERR_INVALID,
                          "property '%s': pattern letter '%c' in '%s' is not supported by kite (it prints "
                          "y u M L d D E a H k K h m s S n X x Z, 'text' and [optional] sections)",
                          prop, c, pattern);
                goto bad;
            }
            if (n > l->max) {
                kerr_setc(e, KERR_INVALID, "property '%s': too many pattern letters '%c' in '%s' (at most %d)",
                          prop, c, pattern, l->max);
                goto bad;
            }
            item *x = push(f, IT_FIELD);
            x->letter = c;
            x->count = n;
            p += n;
        } else if (c == '\'') {
            p++;
            if (*p == '\'') {
                push_lit(f, "'", 1);
                p++;
                continue;
            }
            buf b;
            buf_init(&b, 0);
            for (;;) {
                if (!*p) {
                    buf_free(&b);
                    kerr_setc(e, KERR_INVALID, "property '%s': a quote is not closed in '%s'", prop, pattern);
                    goto bad;
                }
                if (*p == '\'') {
                    if (p[1] == '\'') {
                        buf_putc(&b, '\'');
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                buf_putc(&b, *p++);
            }
            push_lit(f, b.data ? b.data : "", b.len);
            buf_free(&b);
        } else if (c == '[') {
            if (depth == sizeof stack / sizeof stack[0]) {
                kerr_setc(e, KERR_INVALID, "property '%s': optional sections nest too deep in '%s'", prop, pattern);
                goto bad;
            }
            stack[depth++] = f->n;
            push(f, IT_OPEN);
            p++;
        } else if (c == ']') {
            if (!depth) {
                kerr_setc(e, KERR_INVALID, "property '%s': ']' without '[' in '%s'", prop, pattern);
                goto bad;
            }
            f->it[stack[--depth]].end = f->n;
            push(f, IT_CLOSE);
            p++;
        } else if (c == '{' || c == '}' || c == '#') {
            kerr_setc(e, KERR_INVALID, "property '%s': '%c' is reserved in patterns ('%s')", prop, c, pattern);
            goto bad;
        } else {
            push_lit(f, p, 1);
            p++;
        }
    }
    while (depth) { /* an optional section left open ends with the pattern, as in Java */
        f->it[stack[--depth]].end = f->n;
        push(f, IT_CLOSE);
    }
    return f;
bad:
    datefmt_free(f);
    return NULL;
}

static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                     "July",    "August",   "September", "October", "November", "December"};
static const char *const wdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

static void put_num(buf *b, long long v, int pad)
{
    char t[32];
    if (v < 0) {
        buf_putc(b, '-');
        v = -v;
    }
    snprintf(t, sizeof t, "%0*lld", pad, v);
    buf_puts(b, t);
}

static void put_text(buf *b, const char *full, int count)
{
    if (count == 4)
        buf_puts(b, full);
    else if (count == 5)
        buf_putc(b, full[0]);
    else
        buf_append(b, full, 3);
}

/* +HH, +HHMM, +HH:MM, +HHMMss, +HH:MM:ss (style 1..5; seconds only when not
 * zero; style 1 adds the minutes when not zero). */
static void put_offset(buf *b, int off, int style, const char *zero)
{
    if (off == 0 && zero) {
        buf_puts(b, zero);
        return;
    }
    int a = off < 0 ? -off : off;
    int h = a / 3600, m = a / 60 % 60, s = a % 60;
    char t[32];
    int colon = style == 3 || style == 5;
    int n = snprintf(t, sizeof t, "%c%02d", off < 0 ? '-' : '+', h);
    if (style > 1 || m)
        n += snprintf(t + n, sizeof t - (size_t)n, "%s%02d", colon ? ":" : "", m);
    if (style >= 4 && s)
        snprintf(t + n, sizeof t - (size_t)n, "%s%02d", colon ? ":" : "", s);
    buf_puts(b, t);
}

static const char *kind_of(const dt_value *v)
{
    if (v->has_date && v->has_time)
        return v->has_offset ? "a date-time" : "a date-time without an offset";
    if (v->has_date)
        return "a date";
    return v->has_offset ? "a time" : "a time without an offset";
}

/* 1 printed, 0 a field is missing. */
static int field(const item *x, const dt_value *v, buf *b)
{
    const struct letter *l = letter_of(x->letter);
    if ((l->need == 'd' && !v->has_date) || (l->need == 't' && !v->has_time) || (l->need == 'o' && !v->has_offset))
        return 0;
    int n = x->count;
    switch (x->letter) {
    case 'y': case 'u':
        if (n == 2) {
            put_num(b, ((v->year % 100) + 100) % 100, 2);
        } else {
            long long lim = 1;
            for (int i = 0; i < n && n >= 4; i++)
                lim *= 10;
            if (n >= 4 && v->year >= lim)
                buf_putc(b, '+');
            put_num(b, v->year, n);
        }
        break;
    case 'M': case 'L':
        if (n >= 3)
            put_text(b, months[v->month - 1], n);
        else
            put_num(b, v->month, n);
        break;
    case 'd':
        put_num(b, v->day, n);
        break;
    case 'D':
        put_num(b, days_from_civil(v->year, v->month, v->day) - days_from_civil(v->year, 1, 1) + 1, n);
        break;
    case 'E': {
        int64_t days = days_from_civil(v->year, v->month, v->day);
        put_text(b, wdays[((days + 4) % 7 + 7) % 7], n);
        break;
    }
    case 'a':
        buf_puts(b, v->hour < 12 ? "AM" : "PM");
        break;
    case 'H':
        put_num(b, v->hour, n);
        break;
    case 'k':
        put_num(b, v->hour ? v->hour : 24, n);
        break;
    case 'K':
        put_num(b, v->hour % 12, n);
        break;
    case 'h':
        put_num(b, v->hour % 12 ? v->hour % 12 : 12, n);
        break;
    case 'm':
        put_num(b, v->min, n);
        break;
    case 's':
        put_num(b, v->sec, n);
        break;
    case 'S': {
        long long d = v->nano;
        for (int i = n; i < 9; i++)
            d /= 10;
        put_num(b, d, n);
        break;
    }
    case 'n':
        put_num(b, v->nano, n);
        break;
    case 'X':
        put_offset(b, v->offset, n, "Z");
        break;
    case 'x':
        put_offset(b, v->offset, n, NULL);
        break;
    case 'Z':
        if (n <= 3) {
            put_offset(b, v->offset, 2, NULL);
        } else if (n == 4) {
            buf_puts(b, "GMT");
            if (v->offset)
                put_offset(b, v->offset, 5, NULL);
        } else {
            put_offset(b, v->offset, 5, "Z");
        }
        break;
    }
    return 1;
}

/* Items [i, end): 1 printed, 0 a field is missing (inside an optional
 * section), -1 an error. */
static int seq(const datefmt *f, size_t i, size_t end, int optional, const dt_value *v, buf *b, kerr *e)
{
    while (i < end) {
        const item *x = &f->it[i];
        if (x->kind == IT_LIT) {
            buf_puts(b, x->lit);
        } else if (x->kind == IT_FIELD) {
            if (!field(x, v, b)) {
                if (optional)
                    return 0;
                const struct letter *l = letter_of(x->letter);
                char run[12];
                memset(run, x->letter, (size_t)x->count);
                run[x->count] = 0;
                return kerr_setc(e, KERR_INVALID, "property '%s': '%s' needs %s, and %s has none (put it in an [optional] section)",
                                 f->prop, run,
                                 l->need == 'd'   ? "a date"
                                 : l->need == 't' ? "a time of day"
                                                  : "an offset",
                                 kind_of(v));
            }
        } else if (x->kind == IT_OPEN) {
            size_t mark = b->len;
            int rc = seq(f, i + 1, x->end, 1, v, b, e);
            if (rc < 0)
                return -1;
            if (rc == 0)
                b->len = mark;
            i = x->end;
        }
        i++;
    }
    return 1;
}

int datefmt_format(const datefmt *f, const dt_value *v, buf *out, kerr *e)
{
    int rc = seq(f, 0, f->n, 0, v, out, e);
    if (out->data)
        out->data[out->len] = 0;
    return rc < 0 ? -1 : 0;
}
