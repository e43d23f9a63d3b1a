/*
 * inputs.c: an execution's inputs, read against the inputs its flow declares,
 * and the flow's outputs typed as declared.
 *
 * Values reach an execution in two shapes: text (`kite run --input k=v`,
 * multipart forms, rendered expressions) and typed JSON (API JSON bodies,
 * subflow inputs). Every type accepts both: an INT takes 42 and "42", an
 * ARRAY takes [1, 2] and "[1, 2]". Each value is converted to the JSON the
 * rest of kite works with (see docs/inputs.md for the table), then checked
 * against the declaration's constraints (validator, min/max, after/before,
 * values). The first problem found fails the whole read with a message that
 * names the input, shows the value and says what was expected:
 *
 *   input 'count': '12a' is not an integer
 *
 * The result follows Kestra's FlowInputOutput: every declared input has a
 * key (null when it is optional and was not given), and ids with dots are
 * nested ("nested.more.int" is inputs.nested.more.int).
 *
 * FILE inputs are uploaded last, once every other input is known good, and
 * removed again if a later step fails, so a rejected read leaves nothing in
 * storage. Local paths only come from the `files` map (which the CLI and the
 * API fill from what they received); a path in the given values is refused,
 * so that a caller of the API cannot make the server read its own files.
 *
 * Thread safety: the functions keep no state and never change the flow
 * document (they copy what they return), so any number of threads may read
 * inputs of one flow at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/json_limits.h"
#include "util/mem.h"

/* How much of a bad value an error message shows. */
#define SHOW_MAX 80
/* How many allowed values an error message lists. */
#define LIST_MAX 20

/* ---- types ----------------------------------------------------------------- */

typedef enum itype {
    IT_STRING, IT_ENUM, IT_SELECT, IT_MULTISELECT, IT_INT, IT_FLOAT, IT_BOOLEAN,
    IT_DATETIME, IT_DATE, IT_TIME, IT_DURATION, IT_FILE, IT_JSON, IT_URI,
    IT_SECRET, IT_ARRAY, IT_YAML, IT_EMAIL,
} itype;

static const struct {
    const char *name;
    itype t;
} itypes[] = {
    {"STRING", IT_STRING},     {"ENUM", IT_ENUM},         {"SELECT", IT_SELECT},
    {"MULTISELECT", IT_MULTISELECT}, {"INT", IT_INT},     {"FLOAT", IT_FLOAT},
    {"BOOLEAN", IT_BOOLEAN},   {"BOOL", IT_BOOLEAN},      {"DATETIME", IT_DATETIME},
    {"DATE", IT_DATE},         {"TIME", IT_TIME},         {"DURATION", IT_DURATION},
    {"FILE", IT_FILE},         {"JSON", IT_JSON},         {"URI", IT_URI},
    {"SECRET", IT_SECRET},     {"ARRAY", IT_ARRAY},       {"YAML", IT_YAML},
    {"EMAIL", IT_EMAIL},
};

/* Type names are matched without regard to case, as the validator does. */
static int itype_find(const char *name, itype *out)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof itypes / sizeof itypes[0]; i++)
        if (!strcasecmp(itypes[i].name, name)) {
            *out = itypes[i].t;
            return 0;
        }
    return -1;
}

/* ---- conversion context and messages ------------------------------------------ */

typedef struct conv {
    const char *what;       /* "input 'n'", "output 'n'", "input 'n' (defaults)" */
    const json_t *decl;     /* the declaration (constraints); NULL: none */
    int lenient_string;     /* STRING takes lists and objects as JSON text (outputs) */
    storage *st;            /* FILE URIs must exist there; NULL: not checked */
    kerr *e;
} conv;

/* Stores "<what>: <message>" in c->e and returns -1. */
static int fail(const conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const conv *c, const char *fmt, ...)
{
    char msg[KERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kerr_set(c->e, "%s: %s", c->what, msg);
}

/* Appends text quoted with single quotes, at most SHOW_MAX bytes of it, with
 * control bytes and quotes escaped so that a message stays one clean line. */
static void show_text(buf *b, const char *s, size_t n)
{
    buf_putc(b, '\'');
    size_t lim = n > SHOW_MAX ? SHOW_MAX : n;
    for (size_t i = 0; i < lim; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            buf_puts(b, "\\n");
        else if (ch == '\t')
            buf_puts(b, "\\t");
        else if (ch == '\'' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            buf_printf(b, "\\x%02x", ch);
        else
            buf_putc(b, (char)ch);
    }
    buf_putc(b, '\'');
    if (n > lim)
        buf_printf(b, "... (%zu bytes)", n);
}

/* A value as messages show it: text quoted, anything else as compact JSON.
 * Returns a static-size copy in out. */
static const char *show(const json_t *v, char *out, size_t outsz)
{
    buf b = BUF_INIT;
    if (json_is_string(v)) {
        show_text(&b, json_string_value(v), json_string_length(v));
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (t) {
            size_t n = strlen(t);
            if (n > SHOW_MAX)
                buf_printf(&b, "%.*s... (%zu bytes)", SHOW_MAX, t, n);
            else
                buf_puts(&b, t);
            free(t);
        } else {
            buf_puts(&b, "?");
        }
    }
    snprintf(out, outsz, "%s", buf_str(&b));
    buf_free(&b);
    return out;
}

#define SHOWN_MAX (SHOW_MAX * 4 + 64)

static const char *kind_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The shortest text that reads back as the same double. */
static void format_double(double d, char *out, size_t outsz)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outsz, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* 1e+20 and 3 read as integers elsewhere; keep a number look, as JSON does */
}

/* The text of a scalar: strings as they are, numbers and booleans as JSON
 * writes them. Returns 0 and a fresh string, or -1 for lists, objects, null. */
static int scalar_text(const json_t *v, char **out)
{
    char tmp[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        *out = xstrdup(json_string_value(v));
        return 0;
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = xstrdup(tmp);
        return 0;
    case JSON_REAL:
        format_double(json_real_value(v), tmp, sizeof tmp);
        *out = xstrdup(tmp);
        return 0;
    case JSON_TRUE:
        *out = xstrdup("true");
        return 0;
    case JSON_FALSE:
        *out = xstrdup("false");
        return 0;
    default:
        return -1;
    }
}

static int is_expression(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && (strstr(s, "{{") || strstr(s, "{%"));
}

/* ---- strict scalar parsers ---------------------------------------------------------- */

/* [+-]?[0-9]+ into a 64-bit integer. Returns 0, -1 when not an integer, -2
 * when out of range. */
static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -2;
    *out = (int64_t)v;
    return 0;
}

/* A decimal number as JSON and Java write them ([+-]?digits[.digits][e[+-]digits],
 * also ".5" and "5."), finite. No hex, no inf, no nan, no spaces. */
static int parse_float(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    if (!digits)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return -1;
    errno = 0;
    double d = strtod(s, NULL);
    if (!isfinite(d))
        return -2;
    *out = d;
    return 0;
}

static int read2(const char *p, int *v)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
        return -1;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return 0;
}

/* YYYY-MM-DD exactly, a real calendar day, into days since 1970-01-01. */
static int parse_date(const char *s, int64_t *days)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = 0;
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        y = y * 10 + (s[i] - '0');
    }
    int m, d;
    if (read2(s + 5, &m) || read2(s + 8, &d) || m < 1 || m > 12 || d < 1)
        return -1;
    int64_t z = days_from_civil(y, m, d);
    int y2, m2, d2;
    civil_from_days(z, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return -1;          /* 2023-02-30 and the like */
    *days = z;
    return 0;
}

static void format_date(int64_t days, char *out, size_t outsz)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, outsz, "%04d-%02d-%02d", y, m, d);
}

/* HH:MM, HH:MM:SS or HH:MM:SS.fraction (up to 9 digits, kept to the
 * microsecond) into microseconds since midnight. */
static int parse_time(const char *s, int64_t *us)
{
    int h, m, sec = 0;
    int64_t frac = 0;
    if (read2(s, &h) || s[2] != ':' || read2(s + 3, &m) || h > 23 || m > 59)
        return -1;
    const char *p = s + 5;
    if (*p == ':') {
        if (read2(p + 1, &sec) || sec > 59)
            return -1;
        p += 3;
        if (*p == '.') {
            p++;
            int n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 6)
                    frac = frac * 10 + (*p - '0');
                if (++n > 9)
                    return -1;
                p++;
            }
            if (!n)
                return -1;
            for (int i = n; i < 6; i++)
                frac *= 10;
        }
    }
    if (*p)
        return -1;
    *us = ((int64_t)h * 3600 + m * 60 + sec) * US_PER_SEC + frac;
    return 0;
}

static void format_time(int64_t us, char *out, size_t outsz)
{
    int64_t s = us / US_PER_SEC, f = us % US_PER_SEC;
    int n = snprintf(out, outsz, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    if (f && n > 0 && (size_t)n < outsz) {
        if (f % 1000 == 0)
            snprintf(out + n, outsz - (size_t)n, ".%03d", (int)(f / 1000));
        else
            snprintf(out + n, outsz - (size_t)n, ".%06d", (int)f);
    }
}

/* A date and time with a time part (a bare date is not an instant), read in
 * UTC when it names no zone. */
static int parse_instant(const char *s, int64_t *us)
{
    kerr sub = KERR_INIT;
    if (strlen(s) <= 10)
        return -1;
    return datetime_parse(s, tz_utc(), us, NULL, &sub);
}

/* scheme://something, without spaces or control characters (RFC 3986's
 * scheme rule; the rest is not checked further). */
static int looks_like_uri(const char *s)
{
    const char *p = s;
    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0 || !p[3])
        return 0;
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return 0;
    return 1;
}

/* Kestra's EMAIL rule: a local part of [A-Za-z0-9_!#$%&'*+/=?`{|}~^.-], '@',
 * a domain of [A-Za-z0-9.-]; kite also wants a domain that does not start or
 * end with a dot. */
static int looks_like_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    for (const char *p = s; p < at; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_!#$%&'*+/=?`{|}~^.-", *p))
            return 0;
    for (const char *p = at + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return 0;
    return at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* ---- constraints ------------------------------------------------------------------------ */

/* The `validator` of a STRING or SECRET: the whole value must match (as
 * Java's String.matches), with PCRE2 in UTF mode. */
static int check_validator(const conv *c, const char *s, size_t n, const json_t *v)
{
    const char *re = json_string_value(json_object_get(c->decl, "validator"));
    if (!re)
        return 0;
    int errcode;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &errcode, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return fail(c, "invalid validator regular expression '%s': %s at offset %zu", re, (const char *)msg,
                    (size_t)off);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc = pcre2_match(code, (PCRE2_SPTR)s, n, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    if (rc >= 0)
        return 0;
    char shown[SHOWN_MAX];
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        return fail(c, "%s is not valid UTF-8 text", show(v, shown, sizeof shown));
    return fail(c, "%s does not match the validator '%s'", show(v, shown, sizeof shown), re);
}

/* Reads a numeric bound (`min`, `max`) of the declaration. Returns 1 with the
 * bound, 0 when there is none (or it is an expression, which cannot be known
 * here), -1 when it is not a number. */
static int bound_number(const conv *c, const char *key, json_t **b)
{
    json_t *j = json_object_get(c->decl, key);
    if (!j || json_is_null(j) || is_expression(j))
        return 0;
    if (!json_is_number(j))
        return fail(c, "its '%s' is not a number", key);
    *b = j;
    return 1;
}

/* Compares a value with a bound that may be an integer or a real. */
static int cmp_number(int is_int, int64_t i, double d, const json_t *b)
{
    if (is_int && json_is_integer(b)) {
        int64_t bi = json_integer_value(b);
        return i < bi ? -1 : i > bi;
    }
    double x = is_int ? (double)i : d, y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static int check_min_max(const conv *c, int is_int, int64_t i, double d, const char *shown_value)
{
    json_t *b;
    char bt[64];
    int r = bound_number(c, "min", &b);
    if (r < 0)
        return -1;
    if (r > 0 && cmp_number(is_int, i, d, b) < 0) {
        if (json_is_integer(b))
            snprintf(bt, sizeof bt, "%" JSON_INTEGER_FORMAT, json_integer_value(b));
        else
            format_double(json_real_value(b), bt, sizeof bt);
        return fail(c, "%s is less than the minimum %s", shown_value, bt);
    }
    r = bound_number(c, "max", &b);
    if (r < 0)
        return -1;
    if (r > 0 && cmp_number(is_int, i, d, b) > 0) {
        if (json_is_integer(b))
            snprintf(bt, sizeof bt, "%" JSON_INTEGER_FORMAT, json_integer_value(b));
        else
            format_double(json_real_value(b), bt, sizeof bt);
        return fail(c, "%s is more than the maximum %s", shown_value, bt);
    }
    return 0;
}

/* The text of a date, time, date-time or duration bound; NULL when absent or
 * an expression. */
static const char *bound_text(const conv *c, const char *key)
{
    const json_t *j = json_object_get(c->decl, key);
    if (!j || is_expression(j))
        return NULL;
    return json_string_value(j);
}

typedef int (*parse_fn)(const char *s, int64_t *out);

/* Checks after/before (or min/max) bounds on a parsed value; bounds are
 * inclusive, as Kestra's isBefore/isAfter tests make them. */
static int check_range(const conv *c, int64_t v, const char *shown_value, parse_fn parse, const char *lo_key,
                       const char *hi_key, const char *lo_word, const char *hi_word)
{
    const char *keys[2] = {lo_key, hi_key};
    for (int k = 0; k < 2; k++) {
        const char *t = bound_text(c, keys[k]);
        if (!t) {
            const json_t *j = json_object_get(c->decl, keys[k]);
            if (j && !json_is_null(j) && !is_expression(j))
                return fail(c, "its '%s' bound is not a string", keys[k]);
            continue;
        }
        int64_t b;
        if (parse(t, &b))
            return fail(c, "its '%s' bound '%s' cannot be read", keys[k], t);
        if (k == 0 && v < b)
            return fail(c, "%s %s %s", shown_value, lo_word, t);
        if (k == 1 && v > b)
            return fail(c, "%s %s %s", shown_value, hi_word, t);
    }
    return 0;
}

static int parse_duration_quiet(const char *s, int64_t *us)
{
    kerr sub = KERR_INIT;
    return duration_parse(s, us, &sub);
}

/* The allowed values of an ENUM, SELECT or MULTISELECT (`values`, or the
 * deprecated `options`); NULL when not known here (an `expression`). */
static const json_t *allowed_values(const conv *c)
{
    const json_t *v = json_object_get(c->decl, "values");
    if (!json_is_array(v))
        v = json_object_get(c->decl, "options");
    return json_is_array(v) ? v : NULL;
}

static void list_values(buf *b, const json_t *vals)
{
    size_t i;
    const json_t *x;
    json_array_foreach(vals, i, x) {
        if (i == LIST_MAX) {
            buf_printf(b, ", ... (%zu values)", json_array_size(vals));
            break;
        }
        char *t = NULL;
        if (scalar_text(x, &t))
            t = xstrdup("?");
        buf_printf(b, "%s%s", i ? ", " : "", t);
        free(t);
    }
}

/* The value must be one of the allowed values (exact text match). Values
 * written as expressions are only known once rendered: then nothing is
 * checked here. */
static int check_one_of(const conv *c, const char *s, const json_t *v, int allow_custom)
{
    const json_t *vals = allowed_values(c);
    if (!vals || allow_custom)
        return 0;
    size_t i;
    const json_t *x;
    json_array_foreach(vals, i, x)
        if (is_expression(x))
            return 0;
    json_array_foreach(vals, i, x) {
        char *t = NULL;
        if (!scalar_text(x, &t)) {
            int eq = !strcmp(t, s);
            free(t);
            if (eq)
                return 0;
        }
    }
    buf b = BUF_INIT;
    list_values(&b, vals);
    char shown[SHOWN_MAX];
    int rc = fail(c, "%s is not one of %s", show(v, shown, sizeof shown), buf_str(&b));
    buf_free(&b);
    return rc;
}

/* ---- conversion ---------------------------------------------------------------------------- */

static json_t *convert(const conv *c, itype t, const json_t *v);

/* A list given as a JSON list or as the text of one ("[1, 2, 3]"). Returns a
 * new reference, or NULL with the error set. */
static json_t *as_list(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    if (json_is_array(v))
        return json_deep_copy(v);
    if (!json_is_string(v))
        return fail(c, "expected a list, not %s", kind_word(v)), NULL;
    json_error_t je;
    json_t *j = json_loadb_limited(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, JSON_MAX_DEPTH, &je);
    if (!json_is_array(j)) {
        json_decref(j);
        fail(c, "%s is not a list (expected a JSON list such as [\"a\", \"b\"])", show(v, shown, sizeof shown));
        return NULL;
    }
    return j;
}

/* Converts every item of list (consumed) to type t, with messages naming the
 * item ("input 'a'[2]"). */
static json_t *convert_items(const conv *c, itype t, json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        char what[300];
        snprintf(what, sizeof what, "%s[%zu]", c->what, i);
        conv ic = {.what = what, .decl = NULL, .lenient_string = 0, .st = c->st, .e = c->e};
        if (json_is_null(x)) {
            fail(&ic, "null is not allowed in a list");
            goto bad;
        }
        json_t *y = convert(&ic, t, x);
        if (!y)
            goto bad;
        json_array_append_new(out, y);
    }
    json_decref(list);
    return out;
bad:
    json_decref(list);
    json_decref(out);
    return NULL;
}

static json_t *conv_string(const conv *c, const json_t *v)
{
    char *s = NULL;
    if (scalar_text(v, &s)) {
        if (!c->lenient_string)
            return fail(c, "expected a string, not %s", kind_word(v)), NULL;
        s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!s)
            return fail(c, "cannot be written as text"), NULL;
    }
    /* jansson strings are valid UTF-8 already; the text of a number too */
    size_t n = json_is_string(v) ? json_string_length(v) : strlen(s);
    const char *text = json_is_string(v) ? json_string_value(v) : s;
    json_t *out = NULL;
    if (!check_validator(c, text, n, v))
        out = json_stringn_nocheck(text, n);
    free(s);
    return out;
}

static json_t *conv_int(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    int64_t i;
    if (json_is_integer(v)) {
        i = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return fail(c, "%s is not an integer", show(v, shown, sizeof shown)), NULL;
        i = (int64_t)d;
    } else if (json_is_string(v)) {
        int r = parse_int(json_string_value(v), &i);
        if (r == -2)
            return fail(c, "%s is not an integer (out of range)", show(v, shown, sizeof shown)), NULL;
        if (r)
            return fail(c, "%s is not an integer", show(v, shown, sizeof shown)), NULL;
    } else {
        return fail(c, "expected an integer, not %s", kind_word(v)), NULL;
    }
    char it[32];
    snprintf(it, sizeof it, "%" PRId64, i);
    if (check_min_max(c, 1, i, 0, it))
        return NULL;
    return json_integer(i);
}

static json_t *conv_float(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v)) {
        int r = parse_float(json_string_value(v), &d);
        if (r == -2)
            return fail(c, "%s is not a number (out of range)", show(v, shown, sizeof shown)), NULL;
        if (r)
            return fail(c, "%s is not a number", show(v, shown, sizeof shown)), NULL;
    } else {
        return fail(c, "expected a number, not %s", kind_word(v)), NULL;
    }
    char dt[64];
    format_double(d, dt, sizeof dt);
    if (check_min_max(c, 0, 0, d, dt))
        return NULL;
    return json_real(d);
}

static json_t *conv_bool(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    if (json_is_boolean(v))
        return json_boolean(json_is_true(v));
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcasecmp(s, "true"))
            return json_true();
        if (!strcasecmp(s, "false"))
            return json_false();
        return fail(c, "%s is not a boolean (expected true or false)", show(v, shown, sizeof shown)), NULL;
    }
    return fail(c, "expected a boolean, not %s", kind_word(v)), NULL;
}

/* ENUM and SELECT: one text among the allowed values. */
static json_t *conv_choice(const conv *c, const json_t *v, int allow_custom)
{
    char *s = NULL;
    if (scalar_text(v, &s))
        return fail(c, "expected a string, not %s", kind_word(v)), NULL;
    if (check_one_of(c, s, v, allow_custom)) {
        free(s);
        return NULL;
    }
    json_t *out = json_string(s);
    free(s);
    if (!out)
        fail(c, "is not valid UTF-8 text");
    return out;
}

static json_t *conv_multiselect(const conv *c, const json_t *v)
{
    json_t *list = as_list(c, v);
    if (!list)
        return NULL;
    int custom = json_is_true(json_object_get(c->decl, "allowCustomValue"));
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        char what[300];
        snprintf(what, sizeof what, "%s[%zu]", c->what, i);
        conv ic = *c;
        ic.what = what;
        json_t *y = conv_choice(&ic, x, custom);
        if (!y) {
            json_decref(list);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, y);
    }
    json_decref(list);
    return out;
}

/* The text of a date/time-like value: only strings are accepted. */
static const char *need_text(const conv *c, const json_t *v, const char *expected)
{
    const char *s = json_string_value(v);
    if (!s)
        fail(c, "expected %s, not %s", expected, kind_word(v));
    return s;
}

static json_t *conv_datetime(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX], out[64];
    const char *s = need_text(c, v, "a date-time text");
    int64_t us;
    if (!s)
        return NULL;
    if (parse_instant(s, &us))
        return fail(c, "%s is not a date-time (expected ISO-8601 such as 2024-01-15T10:30:00Z)",
                    show(v, shown, sizeof shown)), NULL;
    datetime_format(us, tz_utc(), out, sizeof out);
    if (check_range(c, us, out, parse_instant, "after", "before", "is before", "is after"))
        return NULL;
    return json_string(out);
}

static json_t *conv_date(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX], out[32];
    const char *s = need_text(c, v, "a date text");
    int64_t days;
    if (!s)
        return NULL;
    if (parse_date(s, &days))
        return fail(c, "%s is not a date (expected YYYY-MM-DD)", show(v, shown, sizeof shown)), NULL;
    format_date(days, out, sizeof out);
    if (check_range(c, days, out, parse_date, "after", "before", "is before", "is after"))
        return NULL;
    return json_string(out);
}

static json_t *conv_time(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX], out[32];
    const char *s = need_text(c, v, "a time text");
    int64_t us;
    if (!s)
        return NULL;
    if (parse_time(s, &us))
        return fail(c, "%s is not a time (expected HH:MM or HH:MM:SS)", show(v, shown, sizeof shown)), NULL;
    format_time(us, out, sizeof out);
    if (check_range(c, us, out, parse_time, "after", "before", "is before", "is after"))
        return NULL;
    return json_string(out);
}

static json_t *conv_duration(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX], out[64];
    const char *s = need_text(c, v, "an ISO-8601 duration text");
    int64_t us;
    if (!s)
        return NULL;
    if (parse_duration_quiet(s, &us))
        return fail(c, "%s is not a duration (expected ISO-8601 such as PT5M or P1DT2H)",
                    show(v, shown, sizeof shown)), NULL;
    duration_format(us, out, sizeof out);
    if (check_range(c, us, out, parse_duration_quiet, "min", "max", "is less than the minimum",
                    "is more than the maximum"))
        return NULL;
    return json_string(out);
}

static json_t *conv_json(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    if (!json_is_string(v))
        return json_deep_copy(v);
    json_error_t je;
    json_t *j = json_loadb_limited(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, JSON_MAX_DEPTH, &je);
    if (!j) {
        char where[JSON_ERROR_TEXT_LENGTH + 32];
        kerr_format_pos(where, sizeof where, NULL, je.line, je.column, je.text);
        return fail(c, "%s is not valid JSON: %s", show(v, shown, sizeof shown), where), NULL;
    }
    return j;
}

static json_t *conv_yaml(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    if (!json_is_string(v))
        return json_deep_copy(v);
    json_t *out = NULL;
    kerr sub = KERR_INIT;
    if (yaml_load(json_string_value(v), json_string_length(v), NULL, &out, NULL, &sub)) {
        kerr_locate(&sub, NULL);
        return fail(c, "%s is not valid YAML: %s", show(v, shown, sizeof shown), sub.msg), NULL;
    }
    return out;
}

static json_t *conv_uri(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    const char *s = need_text(c, v, "a URI text");
    if (!s)
        return NULL;
    if (!looks_like_uri(s))
        return fail(c, "%s is not a URI (expected scheme://...)", show(v, shown, sizeof shown)), NULL;
    return json_string(s);
}

static json_t *conv_email(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    const char *s = need_text(c, v, "an email address");
    if (!s)
        return NULL;
    if (!looks_like_email(s))
        return fail(c, "%s is not an email address", show(v, shown, sizeof shown)), NULL;
    return json_string(s);
}

/* A FILE given as a URI: it must be a storage file URI (and exist, when a
 * storage is at hand). The text is kept as given. */
static json_t *conv_file_uri(const conv *c, const json_t *v)
{
    char shown[SHOWN_MAX];
    const char *s = need_text(c, v, "a kestra:/// URI");
    if (!s)
        return NULL;
    if (strncmp(s, "kestra:///", 10) != 0 && strncmp(s, "kite:///", 8) != 0)
        return fail(c, "%s is not a kestra:/// (or kite:///) URI of a file in storage", show(v, shown, sizeof shown)),
               NULL;
    storage_uri u;
    kerr sub = KERR_INIT;
    if (storage_uri_parse(s, 0, &u, &sub))
        return fail(c, "%s is not a valid storage URI: %s", show(v, shown, sizeof shown), sub.msg), NULL;
    storage_uri_free(&u);
    if (c->st) {
        int ex = storage_exists(c->st, s, &sub);
        if (ex < 0)
            return fail(c, "%s", sub.msg), NULL;
        if (!ex)
            return fail(c, "%s: no such file in storage", show(v, shown, sizeof shown)), NULL;
    }
    return json_string(s);
}

static json_t *convert(const conv *c, itype t, const json_t *v)
{
    switch (t) {
    case IT_STRING:
    case IT_SECRET:
        return conv_string(c, v);
    case IT_ENUM:
        return conv_choice(c, v, 0);
    case IT_SELECT:
        return conv_choice(c, v, json_is_true(json_object_get(c->decl, "allowCustomValue")));
    case IT_MULTISELECT:
        return conv_multiselect(c, v);
    case IT_INT:
        return conv_int(c, v);
    case IT_FLOAT:
        return conv_float(c, v);
    case IT_BOOLEAN:
        return conv_bool(c, v);
    case IT_DATETIME:
        return conv_datetime(c, v);
    case IT_DATE:
        return conv_date(c, v);
    case IT_TIME:
        return conv_time(c, v);
    case IT_DURATION:
        return conv_duration(c, v);
    case IT_FILE:
        return conv_file_uri(c, v);
    case IT_JSON:
        return conv_json(c, v);
    case IT_URI:
        return conv_uri(c, v);
    case IT_YAML:
        return conv_yaml(c, v);
    case IT_EMAIL:
        return conv_email(c, v);
    case IT_ARRAY: {
        const char *it = json_string_value(json_object_get(c->decl, "itemType"));
        json_t *list = as_list(c, v);
        if (!list || !it)
            return list;    /* no itemType: items kept as they are */
        itype t2;
        if (itype_find(it, &t2) || t2 == IT_FILE || t2 == IT_ARRAY || t2 == IT_MULTISELECT) {
            json_decref(list);
            return fail(c, "unknown itemType '%s'", it), NULL;
        }
        return convert_items(c, t2, list);
    }
    }
    return fail(c, "unknown type"), NULL;
}

/* ---- reading an execution's inputs ------------------------------------------------------------- */

/* The given value of input id: the key itself, else (for dotted ids) the
 * same path through nested objects ({"nested": {"string": ...}}). Borrowed;
 * NULL when absent or null. */
static const json_t *given_value(const json_t *given, const char *id)
{
    const json_t *v = json_object_get(given, id);
    if (!v && strchr(id, '.')) {
        char *copy = xstrdup(id), *save = NULL;
        v = given;
        for (char *part = strtok_r(copy, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
            v = json_is_object(v) ? json_object_get(v, part) : NULL;
        free(copy);
    }
    return v && !json_is_null(v) ? v : NULL;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* allowedFileExtensions: the file name must end with one of them (".csv" or
 * "csv"), compared without regard to case. */
static int check_extension(const conv *c, const char *name)
{
    const json_t *exts = json_object_get(c->decl, "allowedFileExtensions");
    if (!json_is_array(exts) || !json_array_size(exts))
        return 0;
    size_t i, n = strlen(name);
    const json_t *x;
    json_array_foreach(exts, i, x) {
        const char *ext = json_string_value(x);
        if (!ext || !*ext)
            continue;
        size_t en = strlen(ext);
        if (ext[0] != '.' && n > en && name[n - en - 1] == '.' && !strcasecmp(name + n - en, ext))
            return 0;
        if (ext[0] == '.' && n > en && !strcasecmp(name + n - en, ext))
            return 0;
    }
    buf b = BUF_INIT;
    list_values(&b, exts);
    buf bn = BUF_INIT;
    show_text(&bn, name, strlen(name));
    int rc = fail(c, "%s does not have an allowed extension (%s)", buf_str(&bn), buf_str(&b));
    buf_free(&b);
    buf_free(&bn);
    return rc;
}

typedef struct upload {
    const char *id;
    const char *path;
    const json_t *decl;
} upload;

static void delete_uploaded(storage *st, json_t *uris)
{
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u) {
        kerr ignore = KERR_INIT;
        storage_delete(st, json_string_value(u), &ignore);
    }
}

/* Puts flat (id -> value, in declaration order) into a new object with
 * dotted ids nested. Returns NULL with an error when an id needs a mapping
 * where another input already is ("a" and "a.b"). */
static json_t *nest(json_t *flat, kerr *e)
{
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(flat, key, val) {
        char *copy = xstrdup(key), *save = NULL;
        json_t *at = out;
        char *part = strtok_r(copy, ".", &save);
        for (char *next = strtok_r(NULL, ".", &save); next; next = strtok_r(NULL, ".", &save)) {
            json_t *sub = json_object_get(at, part);
            /* the ids so far ("a.b" of "a.b.c"): an input of its own? */
            char *prefix = xstrndup(key, (size_t)(next - 1 - copy));
            json_t *own = json_object_get(flat, prefix);
            if (own || (sub && !json_is_object(sub))) {
                kerr_set(e, "input '%s': cannot be nested under '%s', which is an input of its own", key,
                         own ? prefix : part);
                free(prefix);
                free(copy);
                json_decref(out);
                return NULL;
            }
            free(prefix);
            if (!sub) {
                sub = json_object();
                json_object_set_new(at, part, sub);
            }
            at = sub;
            part = next;
        }
        if (json_object_get(at, part)) {
            kerr_set(e, "input '%s': conflicts with the inputs nested under it", key);
            free(copy);
            json_decref(out);
            return NULL;
        }
        json_object_set(at, part, val);
        free(copy);
    }
    return out;
}

json_t *engine_inputs_read(const flow *f, const json_t *given, const json_t *files, storage *st,
                           const char *execution_id, kerr *e)
{
    const json_t *decls = f ? json_object_get(f->doc, "inputs") : NULL;
    json_t *flat = json_object();
    upload *ups = NULL;
    size_t nups = 0;
    json_t *uploaded = json_array();
    json_t *result = NULL;
    size_t i;
    const json_t *decl;

    json_array_foreach(decls, i, decl) {
        const char *id = json_string_value(json_object_get(decl, "id"));
        if (!id)
            id = json_string_value(json_object_get(decl, "name"));
        const char *type = json_string_value(json_object_get(decl, "type"));
        if (!id) {
            kerr_set(e, "inputs[%zu]: an input without an id", i);
            goto out;
        }
        char what[200];
        snprintf(what, sizeof what, "input '%s'", id);
        conv c = {.what = what, .decl = decl, .lenient_string = 0, .st = st, .e = e};
        itype t;
        if (itype_find(type, &t)) {
            fail(&c, "unknown type '%s'", type ? type : "(none)");
            goto out;
        }
        const json_t *req = json_object_get(decl, "required");
        int required = !json_is_false(req);
        const json_t *v = given_value(given, id);

        if (t == IT_FILE) {
            const char *path = json_string_value(json_object_get(files, id));
            if (path) {
                ups = xrealloc(ups, (nups + 1) * sizeof *ups);
                ups[nups++] = (upload){id, path, decl};
                json_object_set_new(flat, id, json_null());
                continue;
            }
        }
        json_t *out = NULL;
        if (v) {
            out = convert(&c, t, v);
            if (!out)
                goto out;
        } else {
            const json_t *d = json_object_get(decl, "defaults");
            if (!d || json_is_null(d))
                d = json_object_get(decl, "prefill"); /* an editable default: an explicit null clears it */
            if (d && !json_is_null(d)) {
                if (is_expression(d)) {
                    out = json_deep_copy(d);  /* rendered by the engine, later */
                } else {
                    char dwhat[220];
                    snprintf(dwhat, sizeof dwhat, "input '%s' (defaults)", id);
                    c.what = dwhat;
                    out = convert(&c, t, d);
                    if (!out)
                        goto out;
                }
            } else if (required) {
                kerr_set(e, "input '%s' is required: no value was given and it has no defaults", id);
                goto out;
            } else {
                out = json_null();
            }
        }
        json_object_set_new(flat, id, out);
    }

    /* Every other input is good: upload the files. */
    for (size_t k = 0; k < nups; k++) {
        char what[200];
        snprintf(what, sizeof what, "input '%s'", ups[k].id);
        conv c = {.what = what, .decl = ups[k].decl, .st = st, .e = e};
        const char *name = base_name(ups[k].path);
        if (!st || !execution_id) {
            fail(&c, "no storage to upload '%s' to", ups[k].path);
            goto out;
        }
        if (check_extension(&c, name))
            goto out;
        kerr sub = KERR_INIT;
        char *uri = storage_uri_input_file(f->namespace, f->id, execution_id, ups[k].id, name, &sub);
        if (!uri) {
            fail(&c, "cannot name a storage file for '%s': %s", ups[k].path, sub.msg);
            goto out;
        }
        if (storage_put_file(st, uri, ups[k].path, 0, &sub)) {
            fail(&c, "cannot upload '%s': %s", ups[k].path, sub.msg);
            free(uri);
            goto out;
        }
        json_array_append_new(uploaded, json_string(uri));
        json_object_set_new(flat, ups[k].id, json_string(uri));
        free(uri);
    }
    result = nest(flat, e);

out:
    if (!result && st)
        delete_uploaded(st, uploaded);
    json_decref(uploaded);
    json_decref(flat);
    free(ups);
    return result;
}

/* ---- flow outputs -------------------------------------------------------------------------------- */

json_t *engine_output_typed(const char *id, const char *type, json_t *value, kerr *e)
{
    char what[200];
    snprintf(what, sizeof what, "output '%s'", id ? id : "?");
    conv c = {.what = what, .decl = NULL, .lenient_string = 1, .st = NULL, .e = e};
    itype t;
    if (itype_find(type, &t))
        return fail(&c, "unknown type '%s'", type ? type : "(none)"), NULL;
    if (!value || json_is_null(value))
        return json_null();
    return convert(&c, t, value);
}
