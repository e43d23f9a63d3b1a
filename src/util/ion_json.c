/*
 * ion_json.c: JSON to Ion text without a tree (contract in ion_json.h).
 *
 * A recursive-descent parser over a window: cur() is the byte at the cursor,
 * refilling the window from the source when it runs out (the unread bytes
 * move to the front). Only whitespace holds newlines in JSON, so the line is
 * counted there and a column is computed when an error needs it, from where
 * the line started (characters when that start is still in the window,
 * else bytes since it).
 *
 * Strings are gathered into one buffer with their escapes decoded (plain
 * runs are copied a window span at a time) and handed to ion_write_string;
 * numbers are checked against the grammar in a token buffer and written from
 * their text.
 */
#include "util/ion_json.h"

#include "util/buf.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WIN 65536
#define NUM_MAX 4096

struct ion_json_reader {
    ion_source src;
    void *ud;
    const char *p;      /* the window: own, or the caller's memory */
    char *own;
    size_t pos, end;
    int eof, failed, done, in_array;
    long line;
    long long base;     /* offset of p[0] in the input */
    long long lstart;   /* offset where the current line starts */
    buf str, num;
    kerr *e;
};

ion_json_reader *ion_json_reader_new(ion_source src, void *ud)
{
    ion_json_reader *r = xcalloc(1, sizeof *r);
    r->src = src;
    r->ud = ud;
    r->own = xmalloc(WIN);
    r->p = r->own;
    r->line = 1;
    buf_init(&r->str, ION_VALUE_MAX);
    buf_init(&r->num, NUM_MAX);
    return r;
}

void ion_json_reader_reset_mem(ion_json_reader *r, const char *p, size_t n, long line)
{
    r->p = p;
    r->pos = 0;
    r->end = n;
    r->eof = 1;
    r->failed = r->done = r->in_array = 0;
    r->line = line;
    r->base = r->lstart = 0;
}

ion_json_reader *ion_json_reader_new_mem(const char *p, size_t n, long line)
{
    ion_json_reader *r = xcalloc(1, sizeof *r);
    buf_init(&r->str, ION_VALUE_MAX);
    buf_init(&r->num, NUM_MAX);
    ion_json_reader_reset_mem(r, p, n, line);
    return r;
}

void ion_json_reader_free(ion_json_reader *r)
{
    if (!r)
        return;
    free(r->own);
    buf_free(&r->str);
    buf_free(&r->num);
    free(r);
}

static long column(const ion_json_reader *r)
{
    long long at = r->base + (long long)r->pos;
    if (r->lstart >= r->base) {
        long col = 1;
        for (size_t i = (size_t)(r->lstart - r->base); i < r->pos; i++)
            col += ((unsigned char)r->p[i] & 0xC0) != 0x80;
        return col;
    }
    return (long)(at - r->lstart) + 1;
}

__attribute__((format(printf, 2, 3))) static int fail(ion_json_reader *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    r->failed = 1;
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    long col = column(r);
    kerr_setc_at(r->e, KERR_INVALID, (int)r->line, (int)col, "line %ld, column %ld: %s", r->line, col, m);
    return -1;
}

static int refill(ion_json_reader *r)
{
    if (r->eof || !r->own)
        return -1;
    r->base += (long long)r->pos;
    memmove(r->own, r->own + r->pos, r->end - r->pos);
    r->end -= r->pos;
    r->pos = 0;
    while (!r->eof && r->end < WIN) {
        ssize_t n = r->src(r->ud, r->own + r->end, WIN - r->end);
        if (n < 0) {
            r->eof = 1;
            return fail(r, "read error");
        }
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
        if (n > 0)
            break;
    }
    return r->pos < r->end ? (unsigned char)r->p[r->pos] : -1;
}

static inline int cur(ion_json_reader *r)
{
    return r->pos < r->end ? (unsigned char)r->p[r->pos] : refill(r);
}

static int skip_ws(ion_json_reader *r)
{
    for (;;) {
        int c = cur(r);
        if (c == ' ' || c == '\t' || c == '\r') {
            r->pos++;
        } else if (c == '\n') {
            r->pos++;
            r->line++;
            r->lstart = r->base + (long long)r->pos;
        } else
            return c;
    }
}

static const char *what(int c, char t[16])
{
    if (c < 0)
        return "the end of the input";
    if (c >= 0x20 && c < 0x7f)
        snprintf(t, 16, "'%c'", c);
    else
        snprintf(t, 16, "byte 0x%02x", c);
    return t;
}

static int hex4(ion_json_reader *r, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = cur(r), h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if (c >= 'a' && c <= 'f')
            h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            h = c - 'A' + 10;
        else
            return fail(r, "invalid escape: \\u needs 4 hex digits");
        r->pos++;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

/* A string into r->str, the cursor on its opening quote. */
static int read_string(ion_json_reader *r)
{
    buf_reset(&r->str);
    r->pos++;
    for (;;) {
        /* a run of plain bytes inside the window */
        size_t s = r->pos;
        while (r->pos < r->end) {
            unsigned char c = (unsigned char)r->p[r->pos];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            if (c < 0x80) {
                r->pos++;
                continue;
            }
            size_t k = utf8_seq_ok(r->p + r->pos, r->end - r->pos);
            if (!k) {
                if (!r->eof && r->end - r->pos < 4)
                    break; /* a sequence cut by the window's end: refill */
                return fail(r, "invalid UTF-8 in a string");
            }
            r->pos += k;
        }
        if (r->pos > s && buf_append(&r->str, r->p + s, r->pos - s))
            return fail(r, "string longer than %u bytes", ION_VALUE_MAX);
        if (r->pos >= r->end) {
            if (refill(r) < 0)
                return r->failed ? -1 : fail(r, "unterminated string");
            continue;
        }
        int c = (unsigned char)r->p[r->pos];
        if (c >= 0x80) {
            /* a sequence cut by the window's end: the refill keeps its
             * first bytes and reads more (or reaches the end, and the next
             * pass reports it) */
            if (refill(r) < 0 && r->failed)
                return -1;
            continue;
        }
        if (c == '"') {
            r->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail(r, "control character 0x%02x in a string", c);
        /* a backslash */
        r->pos++;
        int x = cur(r);
        char ch;
        switch (x) {
        case '"': case '\\': case '/': ch = (char)x; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            r->pos++;
            unsigned cp, lo;
            if (hex4(r, &cp))
                return -1;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(r, "invalid Unicode escape: a lone low surrogate");
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (cur(r) != '\\')
                    return fail(r, "invalid Unicode escape: a lone high surrogate");
                r->pos++;
                if (cur(r) != 'u')
                    return fail(r, "invalid Unicode escape: a lone high surrogate");
                r->pos++;
                if (hex4(r, &lo))
                    return -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(r, "invalid Unicode escape: a lone high surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return fail(r, "\\u0000 is not allowed in a string");
            char u[4];
            if (buf_append(&r->str, u, (size_t)utf8_encode(cp, u)))
                return fail(r, "string longer than %u bytes", ION_VALUE_MAX);
            continue;
        }
        default: {
            char t[16];
            return fail(r, "invalid escape: %s after a backslash", what(x, t));
        }
        }
        r->pos++;
        if (buf_putc(&r->str, ch))
            return fail(r, "string longer than %u bytes", ION_VALUE_MAX);
    }
}

static int num_put(ion_json_reader *r, int c)
{
    if (buf_putc(&r->num, (char)c))
        return fail(r, "number longer than %d characters", NUM_MAX);
    r->pos++;
    return 0;
}

static int digits(ion_json_reader *r, long *count)
{
    *count = 0;
    for (;;) {
        size_t s = r->pos;
        while (r->pos < r->end && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
            r->pos++;
        if (r->pos > s) {
            if (buf_append(&r->num, r->p + s, r->pos - s))
                return fail(r, "number longer than %d characters", NUM_MAX);
            *count += (long)(r->pos - s);
        }
        if (r->pos < r->end || refill(r) < 0)
            return r->failed ? -1 : 0;
    }
}

/* A number, the cursor on its first byte ('-' or a digit). */
static int read_number(ion_json_reader *r, ion_writer *w, int *wrc)
{
    buf_reset(&r->num);
    int c = cur(r);
    long nint = 0, nfrac = 0, nexp = 0;
    if (c == '-' && num_put(r, c))
        return -1;
    c = cur(r);
    if (c == '0') {
        if (num_put(r, c))
            return -1;
        nint = 1;
        c = cur(r);
        if (c >= '0' && c <= '9')
            return fail(r, "invalid number: a leading zero");
    } else if (c >= '1' && c <= '9') {
        if (digits(r, &nint))
            return -1;
    } else
        return fail(r, "invalid number: expected a digit");
    int real = 0;
    long expv = 0;
    size_t mant_len;
    c = cur(r);
    if (c == '.') {
        real = 1;
        if (num_put(r, c) || digits(r, &nfrac))
            return -1;
        if (!nfrac)
            return fail(r, "invalid number: expected a digit after '.'");
        c = cur(r);
    }
    mant_len = r->num.len;
    if (c == 'e' || c == 'E') {
        real = 1;
        r->pos++;
        if (buf_putc(&r->num, 'e'))
            return fail(r, "number longer than %d characters", NUM_MAX);
        c = cur(r);
        int neg = c == '-';
        if (c == '-' && num_put(r, c))
            return -1;
        else if (c == '+')
            r->pos++;
        size_t at = r->num.len;
        if (digits(r, &nexp))
            return -1;
        if (!nexp)
            return fail(r, "invalid number: expected a digit in the exponent");
        for (size_t i = at; i < r->num.len && expv < 100000; i++)
            expv = expv * 10 + (r->num.data[i] - '0');
        if (neg)
            expv = -expv;
    }
    c = cur(r);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-')
        return fail(r, "invalid number");
    if (!real) {
        *wrc = ion_write_int_text(w, r->num.data);
        return 0;
    }
    if (nint + expv > 300) {
        errno = 0;
        double d = strtod(r->num.data, NULL);
        if (isinf(d))
            return fail(r, "real number overflow");
    }
    if (mant_len == r->num.len && buf_puts(&r->num, "e0"))
        return fail(r, "number longer than %d characters", NUM_MAX);
    *wrc = ion_write_float_text(w, r->num.data, r->num.len);
    return 0;
}

/* true, false or null; an error points at the word's start */
static int word(ion_json_reader *r, const char *s)
{
    long long at = r->base + (long long)r->pos;
    int c;
    for (; *s; s++) {
        if (cur(r) != *s)
            goto bad;
        r->pos++;
    }
    c = cur(r);
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
        return 0;
bad:
    if (at >= r->base)
        r->pos = (size_t)(at - r->base);
    return fail(r, "invalid token");
}

static int wfail(ion_json_reader *r)
{
    if (!r->failed) {
        r->failed = 1;
        kerr_set(r->e, "writing the Ion output failed");
    }
    return -1;
}

static int value(ion_json_reader *r, ion_writer *w, int depth);

static int object(ion_json_reader *r, ion_writer *w, int depth)
{
    r->pos++;
    if (ion_begin_struct(w))
        return wfail(r);
    int c = skip_ws(r);
    if (c == '}') {
        r->pos++;
        return ion_end_struct(w) ? wfail(r) : 0;
    }
    for (;;) {
        char t[16];
        if (c != '"')
            return fail(r, "expected a string as an object key, found %s", what(c, t));
        if (read_string(r))
            return -1;
        if (ion_write_field(w, buf_str(&r->str)))
            return wfail(r);
        c = skip_ws(r);
        if (c != ':')
            return fail(r, "expected ':' after an object key, found %s", what(c, t));
        r->pos++;
        skip_ws(r);
        if (value(r, w, depth + 1))
            return -1;
        c = skip_ws(r);
        if (c == '}') {
            r->pos++;
            return ion_end_struct(w) ? wfail(r) : 0;
        }
        if (c != ',')
            return fail(r, "expected ',' or '}' in an object, found %s", what(c, t));
        r->pos++;
        c = skip_ws(r);
    }
}

static int array(ion_json_reader *r, ion_writer *w, int depth)
{
    r->pos++;
    if (ion_begin_list(w))
        return wfail(r);
    int c = skip_ws(r);
    if (c == ']') {
        r->pos++;
        return ion_end_list(w) ? wfail(r) : 0;
    }
    for (;;) {
        if (value(r, w, depth + 1))
            return -1;
        c = skip_ws(r);
        if (c == ']') {
            r->pos++;
            return ion_end_list(w) ? wfail(r) : 0;
        }
        char t[16];
        if (c != ',')
            return fail(r, "expected ',' or ']' in an array, found %s", what(c, t));
        r->pos++;
        skip_ws(r);
    }
}

/* One value, the cursor on its first byte. */
static int value(ion_json_reader *r, ion_writer *w, int depth)
{
    if (depth >= ION_DEPTH_MAX)
        return fail(r, "nested deeper than %d", ION_DEPTH_MAX);
    int c = cur(r), wrc = 0;
    char t[16];
    switch (c) {
    case '{': return object(r, w, depth);
    case '[': return array(r, w, depth);
    case '"':
        if (read_string(r))
            return -1;
        wrc = ion_write_string(w, r->str.data ? r->str.data : "", r->str.len);
        break;
    case 't':
        if (word(r, "true"))
            return -1;
        wrc = ion_write_bool(w, 1);
        break;
    case 'f':
        if (word(r, "false"))
            return -1;
        wrc = ion_write_bool(w, 0);
        break;
    case 'n':
        if (word(r, "null"))
            return -1;
        wrc = ion_write_null(w);
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (read_number(r, w, &wrc))
                return -1;
            break;
        }
        return fail(r, c < 0 ? "expected a JSON value" : "invalid token: %s", what(c, t));
    }
    return wrc ? wfail(r) : 0;
}

static int at_end(ion_json_reader *r)
{
    int c = skip_ws(r);
    char t[16];
    if (c >= 0)
        return fail(r, "end of input expected after the value, found %s", what(c, t));
    return r->failed ? -1 : 0;
}

int ion_json_next(ion_json_reader *r, ion_writer *w, int mode, kerr *e)
{
    r->e = e;
    if (r->failed)
        return kerr_setc(e, KERR_INVALID, "the JSON reader failed before");
    if (r->done)
        return 0;
    char t[16];
    int c = skip_ws(r);
    if (r->failed)
        return -1;
    if (r->in_array) {
        if (c == ']') {
            r->pos++;
            r->done = 1;
            return at_end(r);
        }
        if (r->in_array > 1) {
            if (c != ',')
                return fail(r, "expected ',' or ']' in an array, found %s", what(c, t));
            r->pos++;
            skip_ws(r);
        }
        r->in_array = 2;
        return value(r, w, 1) ? -1 : 1;
    }
    if (mode == ION_JSON_ARRAY && c == '[') {
        r->pos++;
        r->in_array = 1;
        c = skip_ws(r);
        if (c == ']') {
            r->pos++;
            r->done = 1;
            return at_end(r);
        }
        r->in_array = 2;
        return value(r, w, 1) ? -1 : 1;
    }
    if (value(r, w, 0) || at_end(r))
        return -1;
    r->done = 1;
    return 1;
}
