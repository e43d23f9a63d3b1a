/*
 * ion.c: the Ion text writer and reader (contract in ion.h).
 *
 * The writer keeps a stack of open containers (list or struct, whether the
 * next member needs a comma, whether a struct's field name was given) and a
 * 64 KiB output buffer handed to the sink when full.
 *
 * The reader is a recursive-descent parser over a sliding window: peek(r, k)
 * looks up to 3 bytes ahead and refills the window from the source when it
 * runs short (unread bytes move to the front), so memory is the window plus
 * the value being built. Scalars are gathered in one token buffer capped at
 * r->max bytes; nesting is capped at ION_DEPTH_MAX.
 */
#include "util/ion.h"

#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ION_WIN 65536

const char *ion_type_name(ion_type t)
{
    static const char *n[] = {"null", "bool", "int", "float", "decimal", "timestamp", "string",
                              "symbol", "blob", "clob", "list", "sexp", "struct"};
    return (unsigned)t < sizeof n / sizeof *n ? n[t] : "?";
}

/* ================= the writer ================= */

struct ion_writer {
    ion_sink sink;
    void *ud;
    int failed;
    int depth;
    int have_field;
    uint64_t count;
    char kind[ION_DEPTH_MAX + 1];   /* 'l' or 's' per open container */
    char first[ION_DEPTH_MAX + 1];  /* 1 until the container's first member */
    size_t len;
    char out[ION_WIN];
};

static int file_sink(void *ud, const char *p, size_t n)
{
    return fwrite(p, 1, n, (FILE *)ud) == n ? 0 : -1;
}

ion_writer *ion_writer_new(ion_sink sink, void *ud)
{
    ion_writer *w = xcalloc(1, sizeof *w);
    w->sink = sink;
    w->ud = ud;
    return w;
}

ion_writer *ion_writer_new_file(FILE *f)
{
    return ion_writer_new(file_sink, f);
}

int ion_writer_flush(ion_writer *w)
{
    if (w->failed)
        return -1;
    if (w->len && w->sink(w->ud, w->out, w->len)) {
        w->failed = 1;
        return -1;
    }
    w->len = 0;
    return 0;
}

void ion_writer_free(ion_writer *w)
{
    if (!w)
        return;
    ion_writer_flush(w);
    free(w);
}

uint64_t ion_writer_count(const ion_writer *w)
{
    return w->count;
}

static void put(ion_writer *w, const char *p, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > sizeof w->out) {
        if (ion_writer_flush(w))
            return;
        if (n > sizeof w->out) {
            if (w->sink(w->ud, p, n))
                w->failed = 1;
            return;
        }
    }
    memcpy(w->out + w->len, p, n);
    w->len += n;
}

static void putc_(ion_writer *w, char c)
{
    if (w->len < sizeof w->out) {
        w->out[w->len++] = c;
        return;
    }
    put(w, &c, 1);
}

static void puts_(ion_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Before any value: the comma in a list, the check for a field name in a
 * struct. */
static int before(ion_writer *w)
{
    if (w->failed)
        return -1;
    if (w->depth == 0)
        return 0;
    if (w->kind[w->depth] == 's') {
        if (!w->have_field)
            return -1;
        w->have_field = 0;
        return 0;
    }
    if (!w->first[w->depth])
        putc_(w, ',');
    w->first[w->depth] = 0;
    return 0;
}

static int after(ion_writer *w)
{
    if (w->depth == 0) {
        putc_(w, '\n');
        w->count++;
    }
    return w->failed ? -1 : 0;
}

int ion_write_null(ion_writer *w)
{
    if (before(w))
        return -1;
    puts_(w, "null");
    return after(w);
}

int ion_write_bool(ion_writer *w, int v)
{
    if (before(w))
        return -1;
    puts_(w, v ? "true" : "false");
    return after(w);
}

int ion_write_int(ion_writer *w, int64_t v)
{
    if (before(w))
        return -1;
    char t[32];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    put(w, t, (size_t)n);
    return after(w);
}

int ion_write_int_text(ion_writer *w, const char *digits)
{
    const char *p = digits;
    if (*p == '-')
        p++;
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    if (before(w))
        return -1;
    puts_(w, digits);
    return after(w);
}

int ion_write_float(ion_writer *w, double v)
{
    if (before(w))
        return -1;
    if (isnan(v))
        puts_(w, "nan");
    else if (isinf(v))
        puts_(w, v > 0 ? "+inf" : "-inf");
    else {
        char t[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(t, sizeof t, "%.*g", prec, v);
            if (strtod(t, NULL) == v)
                break;
        }
        char *e = strchr(t, 'e');
        if (e) {
            put(w, t, (size_t)(e - t));
            putc_(w, 'e');
            const char *x = e + 1;
            if (*x == '+')
                x++;
            puts_(w, x);
        } else {
            puts_(w, t);
            puts_(w, "e0");
        }
    }
    return after(w);
}

int ion_write_float_text(ion_writer *w, const char *text, size_t n)
{
    if (before(w))
        return -1;
    put(w, text, n);
    return after(w);
}

int ion_write_decimal(ion_writer *w, const char *text)
{
    const char *p = text;
    char t[256];
    size_t n = 0;
    int dot = 0, digits = 0, exp = 0;
    if (*p == '-' || *p == '+') {
        if (*p == '-')
            t[n++] = '-';
        p++;
    }
    for (; *p && n < sizeof t - 4; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
            t[n++] = *p;
        } else if (*p == '.' && !dot && !exp) {
            dot = 1;
            t[n++] = '.';
        } else if ((*p == 'e' || *p == 'E' || *p == 'd' || *p == 'D') && digits && !exp) {
            exp = 1;
            t[n++] = 'd';
            if (p[1] == '+')
                p++;
            else if (p[1] == '-')
                t[n++] = *++p;
            if (!(p[1] >= '0' && p[1] <= '9'))
                return -1;
        } else
            return -1;
    }
    if (*p || !digits)
        return -1;
    if (!dot && !exp)
        t[n++] = '.';
    t[n] = '\0';
    if (before(w))
        return -1;
    put(w, t, n);
    return after(w);
}

static int ndig(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Ion's timestamp syntax: YYYYT, YYYY-MMT, YYYY-MM-DD[T], or with a time
 * hh:mm[:ss[.fff...]] and an offset (Z or +hh:mm / -hh:mm), required with
 * a time. Returns the length of the valid prefix that is the whole
 * timestamp, or 0. */
static size_t ts_check(const char *s, size_t n)
{
    if (n < 5 || !ndig(s, 4))
        return 0;
    if (s[4] == 'T')
        return n == 5 ? 5 : 0;
    if (s[4] != '-' || n < 8 || !ndig(s + 5, 2))
        return 0;
    if (s[7] == 'T')
        return n == 8 ? 8 : 0;
    if (s[7] != '-' || n < 10 || !ndig(s + 8, 2))
        return 0;
    int mo = (s[5] - '0') * 10 + s[6] - '0', d = (s[8] - '0') * 10 + s[9] - '0';
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    if (n == 10)
        return 10;
    if (s[10] != 'T')
        return 0;
    if (n == 11)
        return 11;
    size_t i = 11;
    if (n < i + 5 || !ndig(s + i, 2) || s[i + 2] != ':' || !ndig(s + i + 3, 2))
        return 0;
    if ((s[i] - '0') * 10 + s[i + 1] - '0' > 23 || (s[i + 3] - '0') * 10 + s[i + 4] - '0' > 59)
        return 0;
    i += 5;
    if (i < n && s[i] == ':') {
        if (n < i + 3 || !ndig(s + i + 1, 2) || (s[i + 1] - '0') * 10 + s[i + 2] - '0' > 60)
            return 0;
        i += 3;
        if (i < n && s[i] == '.') {
            i++;
            size_t f = i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == f)
                return 0;
        }
    }
    if (i < n && s[i] == 'Z')
        i++;
    else if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (n < i + 6 || !ndig(s + i + 1, 2) || s[i + 3] != ':' || !ndig(s + i + 4, 2))
            return 0;
        i += 6;
    } else
        return 0;
    return i == n ? n : 0;
}

int ion_write_timestamp(ion_writer *w, const char *iso)
{
    size_t n = strlen(iso);
    if (!ts_check(iso, n))
        return -1;
    if (before(w))
        return -1;
    put(w, iso, n);
    if (n == 10)
        putc_(w, 'T');
    return after(w);
}

int ion_write_timestamp_us(ion_writer *w, int64_t us, int off_min, int digits)
{
    int64_t local = us + (int64_t)off_min * 60000000;
    int64_t secs = local >= 0 ? local / 1000000 : -((-local + 999999) / 1000000);
    int64_t frac = local - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y < 1 || y > 9999)
        return -1;
    char t[64];
    int n = snprintf(t, sizeof t, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (digits == 3)
        n += snprintf(t + n, sizeof t - (size_t)n, ".%03d", (int)(frac / 1000));
    else if (digits == 6)
        n += snprintf(t + n, sizeof t - (size_t)n, ".%06d", (int)frac);
    if (off_min == 0)
        n += snprintf(t + n, sizeof t - (size_t)n, "Z");
    else {
        int a = off_min < 0 ? -off_min : off_min;
        n += snprintf(t + n, sizeof t - (size_t)n, "%c%02d:%02d", off_min < 0 ? '-' : '+',
                      a / 60, a % 60);
    }
    if (before(w))
        return -1;
    put(w, t, (size_t)n);
    return after(w);
}

/* The body of a quoted string or symbol: q is the quote, escaped with the
 * backslash; control bytes as \xHH; ill-formed UTF-8 as U+FFFD. */
static void put_quoted(ion_writer *w, const char *s, size_t n, char q)
{
    putc_(w, q);
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != (unsigned char)q && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq_ok(s + i, n - i);
            if (k) {
                i += k;
                run += k;
                continue;
            }
        }
        put(w, s + i - run, run);
        run = 0;
        char e[8];
        switch (c) {
        case '\n': puts_(w, "\\n"); break;
        case '\t': puts_(w, "\\t"); break;
        case '\r': puts_(w, "\\r"); break;
        case '\\': puts_(w, "\\\\"); break;
        default:
            if (c == (unsigned char)q) {
                e[0] = '\\';
                e[1] = q;
                put(w, e, 2);
            } else if (c >= 0x80) {
                puts_(w, "\xef\xbf\xbd");
            } else {
                snprintf(e, sizeof e, "\\x%02x", c);
                puts_(w, e);
            }
        }
        i++;
    }
    put(w, s + i - run, run);
    putc_(w, q);
}

int ion_write_string(ion_writer *w, const char *s, size_t n)
{
    if (before(w))
        return -1;
    put_quoted(w, s, n, '"');
    return after(w);
}

static int is_ident(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '$'))
        return 0;
    if (s[0] == '$' && s[1] >= '0' && s[1] <= '9')
        return 0; /* $10 is a symbol id */
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '$' ||
              (*p >= '0' && *p <= '9')))
            return 0;
    if (*s != 'n' && *s != 't' && *s != 'f')
        return 1;
    return strcmp(s, "null") && strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "nan");
}

static void put_symbol(ion_writer *w, const char *s)
{
    if (is_ident(s))
        puts_(w, s);
    else
        put_quoted(w, s, strlen(s), '\'');
}

int ion_write_symbol(ion_writer *w, const char *s)
{
    if (before(w))
        return -1;
    put_symbol(w, s);
    return after(w);
}

int ion_write_blob(ion_writer *w, const void *p, size_t n)
{
    if (before(w))
        return -1;
    puts_(w, "{{");
    /* in pieces, so a large blob needs no second copy of its size */
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += 3 * 4096) {
        size_t k = n - i < 3 * 4096 ? n - i : 3 * 4096;
        char *t = base64_encode(b + i, k);
        puts_(w, t);
        free(t);
    }
    puts_(w, "}}");
    return after(w);
}

int ion_write_clob(ion_writer *w, const char *s, size_t n)
{
    if (before(w))
        return -1;
    puts_(w, "{{");
    putc_(w, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            putc_(w, (char)c);
        else {
            char e[8];
            snprintf(e, sizeof e, "\\x%02x", c);
            puts_(w, e);
        }
    }
    puts_(w, "\"}}");
    return after(w);
}

static int open_(ion_writer *w, char kind, char c)
{
    if (w->depth >= ION_DEPTH_MAX || before(w))
        return -1;
    putc_(w, c);
    w->depth++;
    w->kind[w->depth] = kind;
    w->first[w->depth] = 1;
    return w->failed ? -1 : 0;
}

static int close_(ion_writer *w, char kind, char c)
{
    if (w->failed || w->depth == 0 || w->kind[w->depth] != kind || w->have_field)
        return -1;
    putc_(w, c);
    w->depth--;
    return after(w);
}

int ion_begin_list(ion_writer *w) { return open_(w, 'l', '['); }
int ion_end_list(ion_writer *w) { return close_(w, 'l', ']'); }
int ion_begin_struct(ion_writer *w) { return open_(w, 's', '{'); }
int ion_end_struct(ion_writer *w) { return close_(w, 's', '}'); }

int ion_write_field(ion_writer *w, const char *name)
{
    if (w->failed || w->depth == 0 || w->kind[w->depth] != 's' || w->have_field)
        return -1;
    if (!w->first[w->depth])
        putc_(w, ',');
    w->first[w->depth] = 0;
    put_symbol(w, name);
    putc_(w, ':');
    w->have_field = 1;
    return w->failed ? -1 : 0;
}

/* A tagged one-member object ({"$ion_decimal": "1.5"}) written as its type:
 * 1 when v was one and is written (or failed: *rc), 0 when it is not one. */
static int write_tagged(ion_writer *w, const json_t *v, int *rc)
{
    if (json_object_size(v) != 1)
        return 0;
    const char *k = json_object_iter_key(json_object_iter((json_t *)v));
    const json_t *x = json_object_iter_value(json_object_iter((json_t *)v));
    if (strncmp(k, "$ion_", 5) || !json_is_string(x))
        return 0;
    const char *s = json_string_value(x);
    size_t n = json_string_length(x);
    k += 5;
    if (!strcmp(k, "timestamp"))
        *rc = ion_write_timestamp(w, s);
    else if (!strcmp(k, "decimal"))
        *rc = ion_write_decimal(w, s);
    else if (!strcmp(k, "symbol"))
        *rc = ion_write_symbol(w, s);
    else if (!strcmp(k, "clob"))
        *rc = ion_write_clob(w, s, n);
    else if (!strcmp(k, "float"))
        *rc = ion_write_float(w, strtod(s, NULL));
    else if (!strcmp(k, "int"))
        *rc = ion_write_int_text(w, s);
    else if (ion_java_time(k)) {
        if (before(w)) {
            *rc = -1;
            return 1;
        }
        puts_(w, k);
        puts_(w, "::");
        put_quoted(w, s, n, '"');
        *rc = after(w);
    }
    else if (!strcmp(k, "blob")) {
        size_t len, bad;
        char *b = base64_decode(s, n, &len, &bad);
        if (!b) {
            *rc = -1;
            return 1;
        }
        *rc = ion_write_blob(w, b, len);
        free(b);
    } else
        return 0;
    return 1;
}

int ion_write_json(ion_writer *w, const json_t *v, int flags)
{
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_NULL: return ion_write_null(w);
    case JSON_TRUE: return ion_write_bool(w, 1);
    case JSON_FALSE: return ion_write_bool(w, 0);
    case JSON_INTEGER: return ion_write_int(w, json_integer_value(v));
    case JSON_REAL:
        if (flags & ION_WRITE_REAL_DECIMAL) {
            char t[40];
            double d = json_real_value(v);
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(t, sizeof t, "%.*g", prec, d);
                if (strtod(t, NULL) == d)
                    break;
            }
            if (isfinite(d))
                return ion_write_decimal(w, t);
        }
        return ion_write_float(w, json_real_value(v));
    case JSON_STRING: return ion_write_string(w, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        if (ion_begin_list(w))
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            if (ion_write_json(w, x, flags))
                return -1;
        return ion_end_list(w);
    }
    case JSON_OBJECT: {
        if (write_tagged(w, v, &rc))
            return rc;
        if (ion_begin_struct(w))
            return -1;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
            if (ion_write_field(w, k) || ion_write_json(w, x, flags))
                return -1;
        return ion_end_struct(w);
    }
    }
    return -1;
}

/* ================= the reader ================= */

struct ion_reader {
    ion_source src;
    void *ud;
    const char *win;   /* the window: own, or the caller's memory */
    char *own;
    size_t pos, end;
    int eof, failed;
    int flags;
    int line, col;
    size_t max;
    uint64_t count;
    buf tok;
    kerr *e;
    buf *jout; /* ion_reader_next_json: JSON text goes here, no values are built */
    /* ion_reader_next_fields: the callback of the top-level value's members */
    ion_field_fn ffn;
    void *fud;
    buf fscratch;
    const char *jtime; /* the java.time annotation of the last string read */
    int in_symtab;     /* the top-level value is annotated $ion_symbol_table */
};

static ssize_t file_source(void *ud, char *b, size_t cap)
{
    size_t n = fread(b, 1, cap, (FILE *)ud);
    if (n == 0 && ferror((FILE *)ud))
        return -1;
    return (ssize_t)n;
}

ion_reader *ion_reader_new(ion_source src, void *ud, int flags)
{
    ion_reader *r = xcalloc(1, sizeof *r);
    r->src = src;
    r->ud = ud;
    r->own = xmalloc(ION_WIN);
    r->win = r->own;
    r->flags = flags;
    r->line = 1;
    r->col = 1;
    r->max = ION_VALUE_MAX;
    buf_init(&r->tok, 0);
    return r;
}

ion_reader *ion_reader_new_file(FILE *f, int flags)
{
    return ion_reader_new(file_source, f, flags);
}

ion_reader *ion_reader_new_mem(const char *p, size_t n, int flags)
{
    ion_reader *r = xcalloc(1, sizeof *r);
    r->win = p;
    r->end = n;
    r->eof = 1;
    r->flags = flags;
    r->line = 1;
    r->col = 1;
    r->max = ION_VALUE_MAX;
    buf_init(&r->tok, 0);
    return r;
}

void ion_reader_free(ion_reader *r)
{
    if (!r)
        return;
    free(r->own);
    buf_free(&r->tok);
    buf_free(&r->fscratch);
    free(r);
}

void ion_reader_set_max(ion_reader *r, size_t max)
{
    r->max = max;
}

uint64_t ion_reader_count(const ion_reader *r)
{
    return r->count;
}

__attribute__((format(printf, 2, 3))) static int fail(ion_reader *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = 1;
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    kerr_setc_at(r->e, KERR_INVALID, r->line, r->col, "ion: line %d, column %d: %s", r->line,
                 r->col, m);
    return -1;
}

/* The byte k ahead of the cursor (k < 4), or -1 at the end: the refill. */
static int peek_slow(ion_reader *r, size_t k)
{
    if (r->eof || !r->own)
        return -1;
    memmove(r->own, r->own + r->pos, r->end - r->pos);
    r->end -= r->pos;
    r->pos = 0;
    while (!r->eof && r->end <= k) {
        ssize_t n = r->src(r->ud, r->own + r->end, ION_WIN - r->end);
        if (n < 0) {
            r->eof = 1;
            fail(r, "read error");
            return -1;
        }
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
    }
    return r->pos + k < r->end ? (unsigned char)r->win[r->pos + k] : -1;
}

static inline int peek(ion_reader *r, size_t k)
{
    if (r->pos + k < r->end)
        return (unsigned char)r->win[r->pos + k];
    return peek_slow(r, k);
}

static inline int next_c(ion_reader *r)
{
    int c = peek(r, 0);
    if (c < 0)
        return -1;
    r->pos++;
    if (c == '\n') {
        r->line++;
        r->col = 1;
    } else if ((c & 0xc0) != 0x80)
        r->col++;
    return c;
}

static int tok_put(ion_reader *r, char c)
{
    if (r->tok.len >= r->max)
        return fail(r, "value longer than %zu bytes", r->max);
    if (r->tok.len + 1 < r->tok.cap) {
        r->tok.data[r->tok.len++] = c;
        r->tok.data[r->tok.len] = '\0';
        return 0;
    }
    buf_putc(&r->tok, c);
    return 0;
}

/* ---- JSON text for ion_reader_next_json ---- */

/* s as a JSON string, escaped as jansson's dump escapes it. 0, or -1 when s
 * is not UTF-8. */
static int emit_string(buf *o, const char *s, size_t n)
{
    if (!utf8_valid(s, n))
        return -1;
    buf_putc(o, '"');
    size_t run = 0, i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        buf_append(o, s + i - run, run);
        run = 0;
        switch (c) {
        case '"': buf_append(o, "\\\"", 2); break;
        case '\\': buf_append(o, "\\\\", 2); break;
        case '\b': buf_append(o, "\\b", 2); break;
        case '\f': buf_append(o, "\\f", 2); break;
        case '\n': buf_append(o, "\\n", 2); break;
        case '\r': buf_append(o, "\\r", 2); break;
        case '\t': buf_append(o, "\\t", 2); break;
        default: buf_printf(o, "\\u%04X", c);
        }
    }
    buf_append(o, s + i - run, run);
    buf_putc(o, '"');
    return 0;
}

/* A double as jansson prints it with JSON_REAL_PRECISION(17): %.17g, ".0"
 * when that looks like an integer, no '+' or leading zeros in the exponent;
 * null when it is not finite. */
static void emit_real(buf *o, double d)
{
    if (!isfinite(d)) {
        buf_append(o, "null", 4);
        return;
    }
    char t[64];
    snprintf(t, sizeof t, "%.17g", d);
    char *x = strchr(t, 'e');
    if (!strchr(t, '.') && !x) {
        buf_puts(o, t);
        buf_append(o, ".0", 2);
        return;
    }
    if (!x) {
        buf_puts(o, t);
        return;
    }
    buf_append(o, t, (size_t)(x + 1 - t));
    x++;
    if (*x == '+')
        x++;
    else if (*x == '-')
        buf_putc(o, *x++);
    while (*x == '0' && x[1])
        x++;
    buf_puts(o, x);
}

/* A float or decimal from its normalized text t ('-'? digits ['.' digits]
 * ['e' sign? digits]) as a JSON number: its own digits when they are JSON's
 * syntax and far from a double's range ("1.5e0" is 1.5, "12.50" stays
 * 12.50, "-3." is -3.0), else through strtod as emit_real prints it. */
static void emit_number_text(buf *o, const char *t)
{
    const char *p = t;
    if (*p == '-')
        p++;
    const char *ip = p;
    while (*p >= '0' && *p <= '9')
        p++;
    size_t nint = (size_t)(p - ip);
    int ok = nint > 0 && nint < 290 && !(nint > 1 && ip[0] == '0');
    const char *dot = NULL, *frac_end;
    if (*p == '.') {
        dot = p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    frac_end = p;
    long ex = 0;
    int has_e = *p == 'e';
    if (has_e) {
        const char *q = p + 1;
        int neg = *q == '-';
        if (*q == '-' || *q == '+')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            ok = 0;
        for (; *q >= '0' && *q <= '9'; q++)
            if (ex < 100000)
                ex = ex * 10 + (*q - '0');
        if (*q)
            ok = 0;
        if (ex >= 290)
            ok = 0;
        if (neg)
            ex = -ex;
    } else if (*p)
        ok = 0;
    if (!ok) {
        emit_real(o, strtod(t, NULL));
        return;
    }
    buf_append(o, t, (size_t)(frac_end - t));
    if (dot && dot + 1 == frac_end)
        buf_putc(o, '0');            /* "3." */
    if (has_e && ex != 0)
        buf_printf(o, "e%ld", ex);
    else if (!dot)
        buf_append(o, ".0", 2);      /* "5e0" is a real */
}

/* Whitespace and comments. -1 on an unterminated block comment. */
static int skip_ws(ion_reader *r)
{
    for (;;) {
        int c = peek(r, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            next_c(r);
        } else if (c == '/' && peek(r, 1) == '/') {
            while ((c = next_c(r)) >= 0 && c != '\n')
                ;
        } else if (c == '/' && peek(r, 1) == '*') {
            next_c(r);
            next_c(r);
            for (;;) {
                c = next_c(r);
                if (c < 0)
                    return fail(r, "unterminated comment");
                if (c == '*' && peek(r, 0) == '/') {
                    next_c(r);
                    break;
                }
            }
        } else
            return r->failed ? -1 : 0;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hexn(ion_reader *r, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval(peek(r, 0));
        if (h < 0)
            return fail(r, "bad escape: expected %d hex digits", n);
        next_c(r);
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

/* One escape after the backslash, appended to the token as UTF-8 (or as a
 * byte, for a clob's \x). */
static int read_escape(ion_reader *r, int clob)
{
    int c = next_c(r);
    unsigned cp = 0;
    char u[4];
    switch (c) {
    case 'a': return tok_put(r, '\a');
    case 'b': return tok_put(r, '\b');
    case 't': return tok_put(r, '\t');
    case 'n': return tok_put(r, '\n');
    case 'f': return tok_put(r, '\f');
    case 'r': return tok_put(r, '\r');
    case 'v': return tok_put(r, '\v');
    case '?': return tok_put(r, '?');
    case '0': return tok_put(r, '\0');
    case '\'': case '"': case '/': case '\\': return tok_put(r, (char)c);
    case '\n': return 0;      /* a line continuation */
    case '\r':
        if (peek(r, 0) == '\n')
            next_c(r);
        return 0;
    case 'x':
        if (hexn(r, 2, &cp))
            return -1;
        if (clob)
            return tok_put(r, (char)cp);
        break;
    case 'u':
        if (clob)
            return fail(r, "\\u escape in a clob");
        if (hexn(r, 4, &cp))
            return -1;
        if (cp >= 0xd800 && cp < 0xdc00) {
            unsigned lo = 0;
            if (peek(r, 0) != '\\' || peek(r, 1) != 'u')
                return fail(r, "lone surrogate in \\u escape");
            next_c(r);
            next_c(r);
            if (hexn(r, 4, &lo))
                return -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(r, "lone surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(r, "lone surrogate in \\u escape");
        break;
    case 'U':
        if (clob)
            return fail(r, "\\U escape in a clob");
        if (hexn(r, 8, &cp))
            return -1;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return fail(r, "bad code point in \\U escape");
        break;
    case -1: return fail(r, "unterminated string");
    default: return fail(r, "unknown escape '\\%c'", c);
    }
    int k = utf8_encode(cp, u);
    for (int i = 0; i < k; i++)
        if (tok_put(r, u[i]))
            return -1;
    return 0;
}

/* A "short" string or 'quoted symbol' body, the opening quote consumed. */
static int read_quoted(ion_reader *r, int q, int clob)
{
    for (;;) {
        int c = next_c(r);
        if (c < 0)
            return fail(r, "unterminated %s", q == '"' ? "string" : "quoted symbol");
        if (c == q)
            return 0;
        if (c == '\\') {
            if (read_escape(r, clob))
                return -1;
        } else if (c == '\n' && q == '"')
            return fail(r, "newline in a string (use '''long strings''' or \\n)");
        else if (tok_put(r, (char)c))
            return -1;
    }
}

/* '''long''' strings, as many as follow one another: the cursor is at the
 * first quote. */
static int read_long(ion_reader *r, int clob)
{
    while (peek(r, 0) == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') {
        next_c(r);
        next_c(r);
        next_c(r);
        for (;;) {
            int c = peek(r, 0);
            if (c < 0)
                return fail(r, "unterminated long string");
            if (c == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') {
                next_c(r);
                next_c(r);
                next_c(r);
                break;
            }
            next_c(r);
            if (c == '\\') {
                if (read_escape(r, clob))
                    return -1;
            } else if (tok_put(r, (char)c))
                return -1;
        }
        if (skip_ws(r))
            return -1;
    }
    return 0;
}

static int ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int ident_char(int c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static void read_ident(ion_reader *r)
{
    while (ident_char(peek(r, 0)) && !tok_put(r, (char)next_c(r)))
        ;
}

static int is_op(int c)
{
    return c > 0 && strchr("!#%&*+-./;<=>?@^`|~", c) != NULL;
}

static json_t *tagged(const char *tag, const char *text, size_t n)
{
    json_t *o = json_object();
    char k[32];
    snprintf(k, sizeof k, "$ion_%s", tag);
    json_object_set_new(o, k, json_stringn(text, n));
    return o;
}

static const char *const java_times[] = {"LocalDate",      "LocalTime",     "OffsetTime", "LocalDateTime",
                                         "OffsetDateTime", "ZonedDateTime", "Instant",    NULL};

const char *ion_java_time(const char *name)
{
    for (int i = 0; java_times[i]; i++)
        if (!strcmp(java_times[i], name))
            return java_times[i];
    return NULL;
}

static json_t *str_value(ion_reader *r, ion_type t)
{
    if (r->jout)
        return emit_string(r->jout, r->tok.data ? r->tok.data : "", r->tok.len) ? NULL : json_null();
    if (t == ION_SYMBOL && (r->flags & ION_READ_TAGGED))
        return tagged("symbol", r->tok.data ? r->tok.data : "", r->tok.len);
    if (t == ION_CLOB && (r->flags & ION_READ_TAGGED))
        return tagged("clob", r->tok.data ? r->tok.data : "", r->tok.len);
    /* NULL when the text is not UTF-8: the caller reports it */
    return json_stringn(r->tok.data ? r->tok.data : "", r->tok.len);
}

/* A number, timestamp or +inf/-inf token at the cursor. */
static int read_number(ion_reader *r, json_t **out, ion_type *type)
{
    buf_reset(&r->tok);
    int has_t = 0;
    for (;;) {
        int c = peek(r, 0);
        if (c == 'T')
            has_t = 1;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '.' || c == '_' || ((c == '+' || c == '-')) || (c == ':' && has_t)) {
            if (tok_put(r, (char)next_c(r)))
                return -1;
        } else
            break;
    }
    char *t = r->tok.data;
    size_t n = r->tok.len;
    if (!strcmp(t, "+inf") || !strcmp(t, "-inf")) {
        *type = ION_FLOAT;
        if (r->jout)
            buf_append(r->jout, "null", 4);
        *out = (r->flags & ION_READ_TAGGED) ? tagged("float", t, n) : json_null();
        return 0;
    }
    if (has_t || (n >= 5 && ndig(t, 4) && t[4] == '-')) {
        if (!ts_check(t, n))
            return fail(r, "bad timestamp '%s'", t);
        *type = ION_TIMESTAMP;
        if (r->jout) {
            emit_string(r->jout, t, n);
            *out = json_null();
            return 0;
        }
        *out = (r->flags & (ION_READ_TAGGED | ION_READ_TIMES)) ? tagged("timestamp", t, n) : json_stringn(t, n);
        return 0;
    }
    /* strip underscores (only between digits) */
    char *p = t, *q = t;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        *q++ = *p++;
    }
    if (*p == '+')
        return fail(r, "bad number '%s'", t);
    int radix = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        radix = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        radix = 2;
        p += 2;
    }
    int kind = 0; /* 0 int, 1 decimal, 2 float */
    int digits = 0, prev_digit = 0, in_exp = 0;
    for (; *p; p++) {
        int c = (unsigned char)*p;
        int isd = radix == 16 ? hexval(c) >= 0 : radix == 2 ? (c == '0' || c == '1')
                                                            : (c >= '0' && c <= '9');
        if (isd) {
            *q++ = (char)c;
            digits++;
            prev_digit = 1;
            continue;
        }
        if (c == '_' && prev_digit && hexval(p[1]) >= 0) {
            prev_digit = 0;
            continue;
        }
        if (radix != 10)
            return fail(r, "bad number '%s'", r->tok.data);
        if (c == '.' && kind == 0 && !in_exp) {
            kind = 1;
            *q++ = '.';
        } else if ((c == 'e' || c == 'E' || c == 'd' || c == 'D') && digits && !in_exp) {
            kind = (c == 'e' || c == 'E') ? 2 : 1;
            in_exp = 1;
            *q++ = 'e';
            if (p[1] == '+' || p[1] == '-')
                *q++ = *++p;
            if (!(p[1] >= '0' && p[1] <= '9'))
                return fail(r, "bad number: exponent without digits");
        } else
            return fail(r, "bad number or timestamp");
        prev_digit = 0;
    }
    *q = '\0';
    if (!digits)
        return fail(r, "bad number");
    n = (size_t)(q - t);
    if (kind == 0) {
        *type = ION_INT;
        errno = 0;
        char *digits_at = t + neg;
        long long v = radix == 10 ? strtoll(t, NULL, 10) : (long long)strtoull(digits_at, NULL, radix);
        if (radix != 10 && neg)
            v = -v;
        if (r->jout) {
            if (radix == 10 && errno == ERANGE) {
                /* past 64 bits: JSON takes the digits as they are */
                const char *d = t + neg;
                while (*d == '0' && d[1])
                    d++;
                if (neg)
                    buf_putc(r->jout, '-');
                buf_puts(r->jout, d);
            } else if (errno == ERANGE || (radix != 10 && v < 0 && !neg))
                emit_real(r->jout, strtod(t, NULL));
            else
                buf_printf(r->jout, "%lld", v);
            *out = json_null();
            return 0;
        }
        if (errno == ERANGE || (radix != 10 && v < 0 && !neg)) {
            if (r->flags & ION_READ_TAGGED && radix == 10)
                *out = tagged("int", t, n);
            else
                *out = json_real(strtod(t, NULL));
        } else
            *out = json_integer(v);
        return 0;
    }
    if (r->jout) {
        *type = kind == 2 ? ION_FLOAT : ION_DECIMAL;
        emit_number_text(r->jout, t);
        *out = json_null();
        return 0;
    }
    double d = strtod(t, NULL);
    if (kind == 2) {
        *type = ION_FLOAT;
        *out = isfinite(d) ? json_real(d)
                           : (r->flags & ION_READ_TAGGED) ? tagged("float", neg ? "-inf" : "+inf", 4)
                                                          : json_null();
        return 0;
    }
    *type = ION_DECIMAL;
    if (r->flags & ION_READ_TAGGED) {
        for (char *x = t; *x; x++)
            if (*x == 'e')
                *x = 'd';
        *out = tagged("decimal", t, n);
    } else
        *out = isfinite(d) ? json_real(d) : json_null();
    return 0;
}

/* A blob or clob, the cursor past "{{". */
static int read_lob(ion_reader *r, json_t **out, ion_type *type)
{
    buf_reset(&r->tok);
    if (skip_ws(r))
        return -1;
    int c = peek(r, 0);
    if (c == '"' || c == '\'') {
        *type = ION_CLOB;
        if (c == '"') {
            next_c(r);
            if (read_quoted(r, '"', 1))
                return -1;
            if (skip_ws(r))
                return -1;
        } else if (read_long(r, 1))
            return -1;
        else if (peek(r, 0) == '\'')
            return fail(r, "bad clob");
        if (peek(r, 0) != '}' || peek(r, 1) != '}')
            return fail(r, "expected '}}' to end the clob");
        next_c(r);
        next_c(r);
        *out = str_value(r, ION_CLOB);
        return 0;
    }
    *type = ION_BLOB;
    for (;;) {
        c = peek(r, 0);
        if (c == '}') {
            if (peek(r, 1) != '}')
                return fail(r, "expected '}}' to end the blob");
            next_c(r);
            next_c(r);
            break;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            next_c(r);
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return c < 0 ? fail(r, "unterminated blob") : fail(r, "bad byte in a blob's base64");
        if (tok_put(r, (char)next_c(r)))
            return -1;
    }
    size_t len, bad;
    char *b = base64_decode(buf_str(&r->tok), r->tok.len, &len, &bad);
    if (!b || r->tok.len % 4)
        return free(b), fail(r, "bad base64 in a blob");
    free(b);
    if (r->jout) {
        emit_string(r->jout, buf_str(&r->tok), r->tok.len);
        *out = json_null();
        return 0;
    }
    *out = (r->flags & ION_READ_TAGGED) ? tagged("blob", buf_str(&r->tok), r->tok.len)
                                         : json_stringn(buf_str(&r->tok), r->tok.len);
    return 0;
}

static int read_value(ion_reader *r, int depth, int in_sexp, json_t **out, ion_type *type,
                      int *symtab);

/* ion_reader_next_fields: hands the value just read (its JSON text in
 * r->jout, its token in r->tok) to the callback. 0, or -1 when it refused. */
static int field_call(ion_reader *r, const char *name, ion_type t)
{
    const char *text;
    size_t n;
    const char *jt = NULL;
    switch (t) {
    case ION_STRING: case ION_SYMBOL: case ION_CLOB: case ION_TIMESTAMP: case ION_BLOB:
        text = r->tok.data ? r->tok.data : "";
        n = r->tok.len;
        if (t == ION_STRING)
            jt = r->jtime;
        break;
    case ION_NULL:
        text = NULL;
        n = 0;
        break;
    default: /* numbers, bools, containers: their JSON text */
        text = r->jout->data ? r->jout->data : "";
        n = r->jout->len;
        if (t == ION_FLOAT && n == 4 && !memcmp(text, "null", 4))
            text = NULL, n = 0; /* nan, +inf, -inf */
    }
    if (r->ffn(r->fud, name, t, jt, text, n)) {
        r->failed = 1;
        return -1;
    }
    return 0;
}

/* A struct, the cursor past '{'. */
static int read_struct(ion_reader *r, int depth, json_t **out)
{
    json_t *o = r->jout ? json_null() : json_object();
    int first = 1;
    if (r->jout)
        buf_putc(r->jout, '{');
    for (;;) {
        if (skip_ws(r))
            goto bad;
        int c = peek(r, 0);
        if (c == '}') {
            next_c(r);
            if (r->jout)
                buf_putc(r->jout, '}');
            *out = o;
            return 0;
        }
        buf_reset(&r->tok);
        if (c == '"') {
            next_c(r);
            if (read_quoted(r, '"', 0))
                goto bad;
        } else if (c == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') {
            if (read_long(r, 0))
                goto bad;
        } else if (c == '\'') {
            next_c(r);
            if (read_quoted(r, '\'', 0))
                goto bad;
        } else if (ident_start(c)) {
            read_ident(r);
        } else {
            fail(r, c < 0 ? "unterminated struct" : "expected a field name or '}'");
            goto bad;
        }
        /* the name on the stack when short (most are): no allocation per field */
        char small[128];
        char *name = r->tok.len < sizeof small ? small : xmalloc(r->tok.len + 1);
        memcpy(name, buf_str(&r->tok), r->tok.len + 1);
        if (skip_ws(r) || peek(r, 0) != ':' || peek(r, 1) == ':') {
            if (name != small)
                free(name);
            fail(r, "expected ':' after the field name");
            goto bad;
        }
        next_c(r);
        if (r->jout) {
            if (!first)
                buf_putc(r->jout, ',');
            if (emit_string(r->jout, name, strlen(name))) {
                if (name != small)
                    free(name);
                fail(r, "bad UTF-8 in a field name");
                goto bad;
            }
            buf_putc(r->jout, ':');
        }
        first = 0;
        json_t *v;
        ion_type t;
        int give = r->ffn && depth == 0 && !r->in_symtab;
        if (give)
            buf_reset(r->jout);
        if (read_value(r, depth + 1, 0, &v, &t, NULL) || (v && give && field_call(r, name, t))) {
            if (name != small)
                free(name);
            goto bad;
        }
        if (!v) {
            if (name != small)
                free(name);
            fail(r, "bad UTF-8 in a string");
            goto bad;
        }
        if (!r->jout)
            json_object_set_new_nocheck(o, name, v);
        if (name != small)
            free(name);
        if (skip_ws(r))
            goto bad;
        c = peek(r, 0);
        if (c == ',')
            next_c(r);
        else if (c != '}') {
            fail(r, c < 0 ? "unterminated struct" : "expected ',' or '}' in a struct");
            goto bad;
        }
    }
bad:
    json_decref(o);
    return -1;
}

/* A list or sexp, the cursor past the opening bracket. */
static int read_seq(ion_reader *r, int depth, int close, json_t **out)
{
    json_t *a = r->jout ? json_null() : json_array();
    int first = 1;
    if (r->jout)
        buf_putc(r->jout, '[');
    for (;;) {
        if (skip_ws(r))
            goto bad;
        int c = peek(r, 0);
        if (c == close) {
            next_c(r);
            if (r->jout)
                buf_putc(r->jout, ']');
            *out = a;
            return 0;
        }
        if (c < 0) {
            fail(r, close == ']' ? "unterminated list" : "unterminated sexp");
            goto bad;
        }
        if (r->jout && !first)
            buf_putc(r->jout, ',');
        first = 0;
        json_t *v;
        ion_type t;
        if (r->ffn && depth == 0)
            buf_reset(r->jout);
        if (read_value(r, depth + 1, close == ')', &v, &t, NULL) || (v && r->ffn && depth == 0 && field_call(r, NULL, t)))
            goto bad;
        if (!v) {
            fail(r, "bad UTF-8 in a string");
            goto bad;
        }
        if (!r->jout)
            json_array_append_new(a, v);
        if (close == ']') {
            if (skip_ws(r))
                goto bad;
            c = peek(r, 0);
            if (c == ',')
                next_c(r);
            else if (c != ']') {
                fail(r, c < 0 ? "unterminated list" : "expected ',' or ']' in a list");
                goto bad;
            }
        }
    }
bad:
    json_decref(a);
    return -1;
}

static const char *const null_types[] = {"null", "bool", "int", "float", "decimal", "timestamp",
                                         "string", "symbol", "blob", "clob", "list", "sexp",
                                         "struct", NULL};

/*
 * One value with its annotations. *out is NULL with 0 only for a string that
 * is not UTF-8 (the caller reports it where it knows the context). symtab,
 * when not NULL, is set when an annotation is $ion_symbol_table.
 */
static int read_value(ion_reader *r, int depth, int in_sexp, json_t **out, ion_type *type,
                      int *symtab)
{
    *out = NULL;
    if (depth > ION_DEPTH_MAX)
        return fail(r, "nested deeper than %d", ION_DEPTH_MAX);
    const char *jtime = NULL; /* with ION_READ_TIMES: a java.time annotation */
    for (;;) {
        if (skip_ws(r))
            return -1;
        int c = peek(r, 0);
        int quoted = 0;
        if (c < 0)
            return fail(r, "expected a value");
        if (c == '\'' && !(peek(r, 1) == '\'' && peek(r, 2) == '\'')) {
            next_c(r);
            buf_reset(&r->tok);
            if (read_quoted(r, '\'', 0))
                return -1;
            quoted = 1;
        } else if (ident_start(c)) {
            buf_reset(&r->tok);
            read_ident(r);
            if (r->failed)
                return -1;
        } else
            break;
        /* a symbol: an annotation when '::' follows */
        if (skip_ws(r))
            return -1;
        if (peek(r, 0) == ':' && peek(r, 1) == ':') {
            next_c(r);
            next_c(r);
            if (symtab && !strcmp(buf_str(&r->tok), "$ion_symbol_table")) {
                *symtab = 1;
                r->in_symtab = 1; /* a symbol table's members are not a row's */
            }
            if ((r->flags & ION_READ_TIMES) && !quoted)
                jtime = ion_java_time(buf_str(&r->tok));
            continue;
        }
        const char *s = buf_str(&r->tok);
        if (!quoted) {
            if (!strcmp(s, "true") || !strcmp(s, "false")) {
                *type = ION_BOOL;
                if (r->jout)
                    buf_puts(r->jout, s);
                *out = json_boolean(s[0] == 't');
                return 0;
            }
            if (!strcmp(s, "nan")) {
                *type = ION_FLOAT;
                if (r->jout)
                    buf_append(r->jout, "null", 4);
                *out = (r->flags & ION_READ_TAGGED) ? tagged("float", "nan", 3) : json_null();
                return 0;
            }
            if (!strcmp(s, "null")) {
                *type = ION_NULL;
                if (peek(r, 0) == '.') {
                    next_c(r);
                    buf_reset(&r->tok);
                    read_ident(r);
                    int ok = 0;
                    for (int i = 0; null_types[i]; i++)
                        ok |= !strcmp(null_types[i], buf_str(&r->tok));
                    if (!ok)
                        return fail(r, "unknown typed null 'null.%s'", buf_str(&r->tok));
                }
                if (r->jout)
                    buf_append(r->jout, "null", 4);
                *out = json_null();
                return 0;
            }
        }
        *type = ION_SYMBOL;
        *out = str_value(r, ION_SYMBOL);
        return 0;
    }
    int c = peek(r, 0);
    if (c == '"') {
        next_c(r);
        buf_reset(&r->tok);
        if (read_quoted(r, '"', 0))
            return -1;
        *type = ION_STRING;
        *out = str_value(r, ION_STRING);
        r->jtime = jtime;
        if (jtime && *out && !r->jout) {
            json_t *o = json_object();
            char k[32];
            snprintf(k, sizeof k, "$ion_%s", jtime);
            json_object_set_new(o, k, *out);
            *out = o;
        }
        return 0;
    }
    if (c == '\'') {
        buf_reset(&r->tok);
        if (read_long(r, 0))
            return -1;
        *type = ION_STRING;
        *out = str_value(r, ION_STRING);
        return 0;
    }
    if (c == '[') {
        next_c(r);
        *type = ION_LIST;
        return read_seq(r, depth, ']', out);
    }
    if (c == '(') {
        next_c(r);
        *type = ION_SEXP;
        return read_seq(r, depth, ')', out);
    }
    if (c == '{') {
        next_c(r);
        if (peek(r, 0) == '{') {
            next_c(r);
            return read_lob(r, out, type);
        }
        *type = ION_STRUCT;
        return read_struct(r, depth, out);
    }
    if ((c >= '0' && c <= '9') ||
        ((c == '-' || c == '+') &&
         ((peek(r, 1) >= '0' && peek(r, 1) <= '9') || (peek(r, 1) == 'i' && peek(r, 2) == 'n'))))
        return read_number(r, out, type);
    if (in_sexp && is_op(c)) {
        buf_reset(&r->tok);
        while (is_op(peek(r, 0)))
            if (tok_put(r, (char)next_c(r)))
                return -1;
        *type = ION_SYMBOL;
        *out = str_value(r, ION_SYMBOL);
        return 0;
    }
    return fail(r, "unexpected '%c'", c);
}

int ion_reader_next(ion_reader *r, json_t **out, ion_type *type, kerr *e)
{
    ion_type t0;
    if (!type)
        type = &t0;
    *out = NULL;
    r->e = e;
    if (r->failed)
        return kerr_setc(e, KERR_INVALID, "ion: the reader failed before");
    for (;;) {
        if (skip_ws(r))
            return -1;
        if (peek(r, 0) < 0)
            return r->failed ? -1 : 0;
        int symtab = 0;
        json_t *v;
        int line = r->line, col = r->col;
        if (read_value(r, 0, 0, &v, type, &symtab))
            return -1;
        if (!v) {
            r->line = line;
            r->col = col;
            return fail(r, "bad UTF-8 in a string");
        }
        /* after a top-level value: whitespace, a comment, the next value */
        if (*type == ION_SYMBOL && json_is_string(v) && !strcmp(json_string_value(v), "$ion_1_0")) {
            json_decref(v);
            continue;
        }
        if (*type == ION_SYMBOL && (r->flags & ION_READ_TAGGED) &&
            !strcmp(json_string_value(json_object_get(v, "$ion_symbol")) ?: "", "$ion_1_0")) {
            json_decref(v);
            continue;
        }
        if (symtab && *type == ION_STRUCT) {
            json_decref(v);
            continue;
        }
        r->count++;
        *out = v;
        return 1;
    }
}

/* One top-level value for the two text paths below (r->jout set): 1 read
 * (*skip set when it is the version marker or a symbol table, not a row),
 * 0 at the end, -1 on an error. */
static int top_value(ion_reader *r, ion_type *type, int *skip)
{
    *skip = 0;
    if (skip_ws(r))
        return -1;
    if (peek(r, 0) < 0)
        return r->failed ? -1 : 0;
    int symtab = 0;
    json_t *v;
    int line = r->line, col = r->col;
    if (read_value(r, 0, 0, &v, type, &symtab))
        return -1;
    if (!v) {
        r->line = line;
        r->col = col;
        return fail(r, "bad UTF-8 in a string");
    }
    *skip = (*type == ION_SYMBOL && !strcmp(buf_str(&r->tok), "$ion_1_0")) || (symtab && *type == ION_STRUCT);
    return 1;
}

int ion_reader_next_json(ion_reader *r, buf *out, ion_type *type, kerr *e)
{
    ion_type t0;
    if (!type)
        type = &t0;
    r->e = e;
    if (r->failed)
        return kerr_setc(e, KERR_INVALID, "ion: the reader failed before");
    int flags = r->flags, rc, skip;
    r->flags = 0;
    r->jout = out;
    for (;;) {
        size_t start = out->len;
        rc = top_value(r, type, &skip);
        if (rc == 1 && skip) {
            out->len = start;
            out->data[start] = '\0';
            continue;
        }
        if (rc == 1)
            r->count++;
        break;
    }
    r->jout = NULL;
    r->flags = flags;
    return rc;
}

int ion_reader_next_fields(ion_reader *r, ion_field_fn fn, void *ud, ion_type *type, kerr *e)
{
    ion_type t0;
    if (!type)
        type = &t0;
    r->e = e;
    if (r->failed)
        return kerr_setc(e, KERR_INVALID, "ion: the reader failed before");
    r->fud = ud;
    r->jout = &r->fscratch;
    int flags = r->flags, rc, skip;
    r->flags &= ION_READ_TIMES; /* nothing tagged: no value is built */
    r->ffn = fn;
    for (;;) {
        r->in_symtab = 0;
        r->jtime = NULL;
        buf_reset(&r->fscratch);
        rc = top_value(r, type, &skip);
        if (rc == 1 && skip)
            continue;
        if (rc == 1 && *type != ION_STRUCT && *type != ION_LIST && *type != ION_SEXP && field_call(r, NULL, *type))
            rc = -1;
        if (rc == 1)
            r->count++;
        break;
    }
    r->ffn = NULL;
    r->jout = NULL;
    r->flags = flags;
    return rc;
}
