/*
 * value.c: how values print, compare and convert.
 *
 * Printing follows what Kestra writes: strings as they are, integers without
 * ".0", doubles as Java's Double.toString (shortest digits that read back to
 * the same double; "2.0", "0.1", "1.0E10"), booleans, null as nothing, and
 * lists and maps as compact JSON (Jackson's output: no spaces, UTF-8 kept,
 * '/' not escaped). Our own JSON writer is used rather than json_dumps so
 * that reals print the same way inside JSON as outside.
 */
#include "expr/expr_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t fmt_int(char *out, long long v);

int expr__fmt_double(char *out, size_t n, double d)
{
    if (isnan(d))
        return snprintf(out, n, "NaN");
    if (isinf(d))
        return snprintf(out, n, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0)
        return snprintf(out, n, signbit(d) ? "-0.0" : "0.0");
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp: [-]D[.DDD]e[+-]XX */
    char digits[24];
    int nd = 0, neg = 0;
    const char *q = tmp;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    while (*q && *q != 'e') {
        if (*q != '.')
            digits[nd++] = *q;
        q++;
    }
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    char o[64];
    size_t k = 0;
    if (neg)
        o[k++] = '-';
    double ad = fabs(d);
    if (ad >= 1e-3 && ad < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                o[k++] = i < nd ? digits[i] : '0';
            o[k++] = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++)
                    o[k++] = digits[i];
            else
                o[k++] = '0';
        } else {
            o[k++] = '0';
            o[k++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                o[k++] = '0';
            for (int i = 0; i < nd; i++)
                o[k++] = digits[i];
        }
        o[k] = '\0';
    } else {
        o[k++] = digits[0];
        o[k++] = '.';
        if (nd > 1)
            for (int i = 1; i < nd; i++)
                o[k++] = digits[i];
        else
            o[k++] = '0';
        snprintf(o + k, sizeof o - k, "E%d", exp10);
    }
    return snprintf(out, n, "%s", o);
}

static int write_json_string(buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_putc(b, '"'))
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > start && buf_append(b, s + start, i - start))
            return -1;
        start = i + 1;
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\t': e[1] = 't'; break;
        case '\r': e[1] = 'r'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        if (buf_append(b, e, el))
            return -1;
    }
    if (len > start && buf_append(b, s + start, len - start))
        return -1;
    return buf_putc(b, '"');
}

static int write_json(buf *b, const json_t *v, int pretty, int level)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_NULL: return buf_append(b, "null", 4);
    case JSON_TRUE: return buf_append(b, "true", 4);
    case JSON_FALSE: return buf_append(b, "false", 5);
    case JSON_INTEGER:
        return buf_append(b, num, fmt_int(num, (long long)json_integer_value(v)));
    case JSON_REAL:
        expr__fmt_double(num, sizeof num, json_real_value(v));
        return buf_puts(b, num);
    case JSON_STRING:
        return write_json_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        if (level >= EXPR__VALUE_DEPTH)
            return -1;
        if (buf_putc(b, '['))
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i && buf_putc(b, ','))
                return -1;
            if (pretty && (buf_putc(b, '\n') || buf_printf(b, "%*s", (level + 1) * 2, "")))
                return -1;
            if (write_json(b, x, pretty, level + 1))
                return -1;
        }
        if (pretty && json_array_size(v) && (buf_putc(b, '\n') || buf_printf(b, "%*s", level * 2, "")))
            return -1;
        return buf_putc(b, ']');
    }
    case JSON_OBJECT: {
        if (level >= EXPR__VALUE_DEPTH)
            return -1;
        if (buf_putc(b, '{'))
            return -1;
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (!first && buf_putc(b, ','))
                return -1;
            first = 0;
            if (pretty && (buf_putc(b, '\n') || buf_printf(b, "%*s", (level + 1) * 2, "")))
                return -1;
            if (write_json_string(b, k, strlen(k)) || buf_putc(b, ':'))
                return -1;
            if (pretty && buf_putc(b, ' '))
                return -1;
            if (write_json(b, x, pretty, level + 1))
                return -1;
        }
        if (pretty && !first && (buf_putc(b, '\n') || buf_printf(b, "%*s", level * 2, "")))
            return -1;
        return buf_putc(b, '}');
    }
    }
    return -1;
}

int expr__write_json(buf *b, const json_t *v, int pretty) { return write_json(b, v, pretty, 0); }

/* Integer to decimal without printf (rendering hot path); returns the length. */
static size_t fmt_int(char *out, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

int expr__write_value(buf *b, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_NULL: return 0;
    case JSON_STRING: return buf_append(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return buf_append(b, num, fmt_int(num, (long long)json_integer_value(v)));
    case JSON_REAL:
        expr__fmt_double(num, sizeof num, json_real_value(v));
        return buf_puts(b, num);
    case JSON_TRUE: return buf_append(b, "true", 4);
    case JSON_FALSE: return buf_append(b, "false", 5);
    default: return expr__write_json(b, v, 0);
    }
}

_Thread_local size_t expr__text_cap;
_Thread_local int expr__text_over;

char *expr__to_str(const json_t *v)
{
    if (json_is_string(v))
        return xstrndup(json_string_value(v), json_string_length(v));
    buf b;
    buf_init(&b, expr__text_cap);
    if (expr__write_value(&b, v))
        expr__text_over = 1;
    return buf_steal(&b);
}

char *expr_value_to_text(const json_t *v) { return expr__to_str(v); }

int expr__truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return 0;
    case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_STRING: {
        /* "false" from a string output or input is false, as Pebble casts it */
        const char *s = json_string_value(v);
        return s[0] && strcmp(s, "false") != 0;
    }
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    }
    return 0;
}

int expr__is_number(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

double expr__num(const json_t *v)
{
    if (json_is_integer(v))
        return (double)json_integer_value(v);
    if (json_is_real(v))
        return json_real_value(v);
    return 0;
}

static int equal_rec(const json_t *a, const json_t *b, int depth);

int expr__equal(const json_t *a, const json_t *b) { return equal_rec(a, b, 0); }

/* Values nested deeper than the limit compare by identity only (the render
 * never builds them; a context value might hold one). */
static int equal_rec(const json_t *a, const json_t *b, int depth)
{
    if (a == b)
        return 1;
    if (depth > EXPR__VALUE_DEPTH && (json_is_array(a) || json_is_object(a)))
        return a == b;
    if (expr__is_number(a) && expr__is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return expr__num(a) == expr__num(b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal_rec(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return 0;
        return 1;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)a, k, x) {
            json_t *y = json_object_get(b, k);
            if (!y || !equal_rec(x, y, depth + 1))
                return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

int expr__compare(const json_t *a, const json_t *b, int *ok)
{
    *ok = 1;
    if (expr__is_number(a) && expr__is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            long long x = json_integer_value(a), y = json_integer_value(b);
            return x < y ? -1 : x > y;
        }
        double x = expr__num(a), y = expr__num(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) - json_is_true(b);
    *ok = 0;
    return 0;
}

const char *expr__type_name(const json_t *v)
{
    if (IS_UNDEF(v))
        return "undefined";
    switch (json_typeof(v)) {
    case JSON_NULL: return "null";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a float";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "a list";
    case JSON_OBJECT: return "a map";
    }
    return "a value";
}

long expr__length(const json_t *v)
{
    if (json_is_string(v)) {
        long n = 0;
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        size_t len = json_string_length(v);
        for (size_t i = 0; i < len; i++)
            if ((s[i] & 0xC0) != 0x80)
                n++;
        return n;
    }
    if (json_is_array(v))
        return (long)json_array_size(v);
    if (json_is_object(v))
        return (long)json_object_size(v);
    return -1;
}
