/*
 * filters.c: the built-in filters and tests.
 *
 * Each filter gets its input and its arguments by parameter slot (see
 * filter_def in expr_int.h), borrows them, and returns a new value. String
 * filters give null for a null input (as Pebble's do) and print other
 * values as text first. The table at the end is what the parser resolves
 * names against; keep it sorted by family and every name documented in
 * docs/expressions.md.
 */
#include "expr/expr_int.h"
#include "util/base64.h"
#include "util/digest.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <jq.h>
#include <math.h>
#include <oniguruma.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- helpers ----------------------------------------------------------------- */

/* Argument as a string (NULL when absent); *tmp gets what to free. */
static const char *arg_str(json_t *a, char **tmp)
{
    *tmp = NULL;
    if (!a || json_is_null(a))
        return NULL;
    if (json_is_string(a))
        return json_string_value(a);
    return *tmp = expr__to_str(a);
}

static int arg_int(xr *r, const xnode *n, json_t *a, const char *what, long long dflt, long long *out)
{
    if (!a || json_is_null(a)) {
        *out = dflt;
        return 0;
    }
    if (json_is_integer(a)) {
        *out = json_integer_value(a);
        return 0;
    }
    if (json_is_real(a) && json_real_value(a) == floor(json_real_value(a)) &&
        fabs(json_real_value(a)) < 9e18) {
        *out = (long long)json_real_value(a);
        return 0;
    }
    expr__err(r, n, "filter '%s': argument '%s' must be an integer, got %s", n->name, what,
              expr__type_name(a));
    return -1;
}

static json_t *str_result(char *s)
{
    json_t *v = json_string(s);
    if (!v)
        v = json_stringn_nocheck(s, strlen(s));
    free(s);
    return v;
}

/* UTF-8 aware case mapping for ASCII and Latin-1 letters (U+00C0..U+00FE). */
static size_t case_char(const unsigned char *s, size_t len, int up, char *o)
{
    if (s[0] < 0x80) {
        o[0] = (char)(up ? toupper(s[0]) : tolower(s[0]));
        return 1;
    }
    if (s[0] == 0xC3 && len > 1) {
        unsigned cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        if (up && cp >= 0xE0 && cp <= 0xFE && cp != 0xF7)
            cp -= 0x20;
        else if (!up && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
            cp += 0x20;
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    size_t k = 1;
    while (k < len && (s[k] & 0xC0) == 0x80)
        k++;
    memcpy(o, s, k);
    return k;
}

/* mode: 0 lower, 1 upper, 2 capitalize (first letter), 3 title (each word) */
static json_t *recase(json_t *in, int mode)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    size_t len = strlen(s);
    char *o = xmalloc(len + 1);
    size_t i = 0, k = 0;
    int start = 1;
    while (i < len) {
        const unsigned char *c = (const unsigned char *)s + i;
        int up;
        if (mode <= 1)
            up = mode;
        else if (mode == 2)
            up = i == 0 ? 1 : -1;
        else
            up = start ? 1 : -1;
        size_t used;
        if (up < 0) {
            used = 1;
            while (i + used < len && used < 4 && (c[used] & 0xC0) == 0x80)
                used++;
            memcpy(o + k, c, used);
            k += used;
        } else {
            char tmp[8];
            used = 1;
            while (i + used < len && used < 4 && (c[used] & 0xC0) == 0x80)
                used++;
            size_t w = case_char(c, used, up, tmp);
            memcpy(o + k, tmp, w);
            k += w;
        }
        start = isspace(c[0]) != 0;
        i += used;
    }
    o[k] = '\0';
    free(s);
    return str_result(o);
}

static json_t *f_upper(xr *r, const xnode *n, json_t *in, json_t **av) { return recase(in, 1); }
static json_t *f_lower(xr *r, const xnode *n, json_t *in, json_t **av) { return recase(in, 0); }
static json_t *f_capitalize(xr *r, const xnode *n, json_t *in, json_t **av) { return recase(in, 2); }
static json_t *f_title(xr *r, const xnode *n, json_t *in, json_t **av) { return recase(in, 3); }

static json_t *f_trim(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    size_t len = strlen(s), a = 0;
    while (a < len && (unsigned char)s[a] <= ' ')
        a++;
    while (len > a && (unsigned char)s[len - 1] <= ' ')
        len--;
    json_t *v = json_stringn_nocheck(s + a, len - a);
    free(s);
    return v;
}

static json_t *f_length(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_integer(0);
    long l = expr__length(in);
    if (l < 0) {
        char *s = expr__to_str(in);
        json_t *t = json_string_nocheck(s);
        free(s);
        l = expr__length(t);
        json_decref(t);
    }
    return json_integer(l);
}

/* The UTF-8 character at index i of s (negative from the end), or NULL. */
static json_t *str_char_at(const char *s, long idx)
{
    size_t len = strlen(s);
    long count = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    if (idx < 0)
        idx += count;
    if (idx < 0 || idx >= count)
        return json_null();
    long c = -1;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
        if (c == idx) {
            size_t k = 1;
            while (i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
                k++;
            return json_stringn_nocheck(s + i, k);
        }
    }
    return json_null();
}

static json_t *first_last(xr *r, const xnode *n, json_t *in, int last)
{
    if (json_is_null(in))
        return json_null();
    if (json_is_array(in)) {
        size_t sz = json_array_size(in);
        if (!sz)
            return json_null();
        return json_incref(json_array_get(in, last ? sz - 1 : 0));
    }
    if (json_is_string(in))
        return str_char_at(json_string_value(in), last ? -1 : 0);
    if (json_is_object(in)) {
        void *it = json_object_iter(in), *prev = NULL;
        if (!it)
            return json_null();
        if (!last)
            return json_incref(json_object_iter_value(it));
        while (it) {
            prev = it;
            it = json_object_iter_next(in, it);
        }
        return json_incref(json_object_iter_value(prev));
    }
    return expr__err(r, n, "filter '%s' needs a list or a string, got %s", n->name, expr__type_name(in));
}

static json_t *f_first(xr *r, const xnode *n, json_t *in, json_t **av) { return first_last(r, n, in, 0); }
static json_t *f_last(xr *r, const xnode *n, json_t *in, json_t **av) { return first_last(r, n, in, 1); }

static json_t *f_join(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!json_is_array(in))
        return expr__err(r, n, "filter 'join' needs a list, got %s", expr__type_name(in));
    char *tmp;
    const char *sep = arg_str(av[0], &tmp);
    if (!sep)
        sep = "";
    buf b;
    buf_init(&b, expr__room(r));
    size_t i;
    json_t *x;
    json_array_foreach(in, i, x) {
        if ((i && buf_puts(&b, sep)) || expr__write_value(&b, x)) {
            buf_free(&b);
            free(tmp);
            return expr__budget_err(r, n);
        }
    }
    free(tmp);
    json_t *v = json_stringn_nocheck(buf_str(&b), b.len);
    buf_free(&b);
    return v;
}

/* ---- regular expressions (Oniguruma, Java syntax) ------------------------------ */

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static void onig_setup(void)
{
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
}

/* A Java-syntax regex; NULL after expr__err. */
static regex_t *compile_regex(xr *r, const xnode *n, const char *pattern)
{
    pthread_once(&onig_once, onig_setup);
    regex_t *re;
    OnigErrorInfo einfo;
    const UChar *pat = (const UChar *)pattern;
    int rc = onig_new(&re, pat, pat + strlen(pattern), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                      ONIG_SYNTAX_JAVA, &einfo);
    if (rc != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &einfo);
        expr__err(r, n, "bad regular expression '%s': %s", pattern, msg);
        return NULL;
    }
    return re;
}

/* Replaces every match of pattern in s by repl ($1 groups allowed). */
static char *regex_replace(xr *r, const xnode *n, const char *s, const char *pattern, const char *repl)
{
    regex_t *re = compile_regex(r, n, pattern);
    if (!re)
        return NULL;
    OnigRegion *reg = onig_region_new();
    buf b;
    buf_init(&b, expr__room(r));
    int bad = 0;
    const UChar *str = (const UChar *)s, *end = str + strlen(s), *start = str;
    while (start <= end && !bad) {
        onig_region_clear(reg);
        int pos = onig_search(re, str, end, start, end, reg, ONIG_OPTION_NONE);
        if (pos < 0)
            break;
        bad |= buf_append(&b, start, (size_t)(str + pos - start));
        for (const char *q = repl; *q; q++) {
            if (*q == '\\' && q[1]) {
                bad |= buf_putc(&b, *++q);
            } else if (*q == '$' && isdigit((unsigned char)q[1])) {
                int g = q[1] - '0';
                q++;
                if (g < reg->num_regs && reg->beg[g] >= 0)
                    bad |= buf_append(&b, str + reg->beg[g], (size_t)(reg->end[g] - reg->beg[g]));
            } else {
                bad |= buf_putc(&b, *q);
            }
        }
        const UChar *next = str + reg->end[0];
        if (reg->end[0] == reg->beg[0]) { /* empty match: copy one character */
            if (next >= end)
                break;
            size_t k = 1;
            while (next + k < end && (next[k] & 0xC0) == 0x80)
                k++;
            bad |= buf_append(&b, next, k);
            next += k;
        }
        start = next;
    }
    if (start < end)
        bad |= buf_append(&b, start, (size_t)(end - start));
    onig_region_free(reg, 1);
    onig_free(re);
    if (bad) {
        buf_free(&b);
        expr__budget_err(r, n);
        return NULL;
    }
    return buf_steal(&b);
}

/* Java's String.split, which Pebble's split calls: the delimiter is a
 * regular expression; limit > 0 caps the parts, 0 drops trailing empty
 * strings, < 0 keeps them; a zero-width match at the start makes no empty
 * leading part. */
static json_t *f_split(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *tmp;
    const char *d = arg_str(av[0], &tmp);
    long long limit;
    if (!d || arg_int(r, n, av[1], "limit", 0, &limit)) {
        free(tmp);
        return d ? NULL : expr__err(r, n, "filter 'split' needs a delimiter");
    }
    regex_t *re = compile_regex(r, n, d);
    free(tmp);
    if (!re)
        return NULL;
    char *s = expr__to_str(in);
    const UChar *str = (const UChar *)s, *end = str + strlen(s);
    OnigRegion *reg = onig_region_new();
    json_t *out = json_array();
    size_t start = 0, pos = 0, len = strlen(s);
    int matched = 0;
    while (limit <= 0 || (long long)json_array_size(out) < limit - 1) {
        if (pos > len)
            break;
        onig_region_clear(reg);
        if (onig_search(re, str, end, str + pos, end, reg, ONIG_OPTION_NONE) < 0)
            break;
        size_t mb = (size_t)reg->beg[0], me = (size_t)reg->end[0];
        if (me == mb && (mb == 0 || mb >= len)) {
            if (mb >= len)
                break;
            pos = mb + 1;
            while (pos < len && (str[pos] & 0xC0) == 0x80)
                pos++;
            continue;
        }
        matched = 1;
        json_array_append_new(out, json_stringn_nocheck(s + start, mb - start));
        start = me;
        pos = me;
        if (me == mb) {
            pos++;
            while (pos < len && (str[pos] & 0xC0) == 0x80)
                pos++;
        }
    }
    onig_region_free(reg, 1);
    onig_free(re);
    if (!matched) {
        json_array_clear(out);
        json_array_append_new(out, json_string_nocheck(s));
    } else {
        json_array_append_new(out, json_stringn_nocheck(s + start, len - start));
        if (limit == 0)
            while (json_array_size(out) > 0 &&
                   !json_string_length(json_array_get(out, json_array_size(out) - 1)))
                json_array_remove(out, json_array_size(out) - 1);
    }
    free(s);
    return out;
}

/* Kestra's regex filters (Java's Matcher.find: the pattern may match
 * anywhere in the text). */
static json_t *f_regex_match(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_false();
    char *tmp;
    const char *pat = arg_str(av[0], &tmp);
    regex_t *re = compile_regex(r, n, pat ? pat : "");
    free(tmp);
    if (!re)
        return NULL;
    char *s = expr__to_str(in);
    const UChar *str = (const UChar *)s, *end = str + strlen(s);
    int found = onig_search(re, str, end, str, end, NULL, ONIG_OPTION_NONE) >= 0;
    onig_free(re);
    free(s);
    return json_boolean(found);
}

static json_t *f_regex_extract(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    long long group;
    if (arg_int(r, n, av[1], "group", 0, &group))
        return NULL;
    char *tmp;
    const char *pat = arg_str(av[0], &tmp);
    regex_t *re = compile_regex(r, n, pat ? pat : "");
    free(tmp);
    if (!re)
        return NULL;
    char *s = expr__to_str(in);
    const UChar *str = (const UChar *)s, *end = str + strlen(s);
    OnigRegion *reg = onig_region_new();
    json_t *v;
    if (onig_search(re, str, end, str, end, reg, ONIG_OPTION_NONE) < 0)
        v = json_null();
    else if (group < 0 || group >= reg->num_regs)
        v = expr__err(r, n, "filter 'regexExtract': no group %lld in the pattern", group);
    else if (reg->beg[group] < 0)
        v = json_null();
    else
        v = json_stringn_nocheck(s + reg->beg[group], (size_t)(reg->end[group] - reg->beg[group]));
    onig_region_free(reg, 1);
    onig_free(re);
    free(s);
    return v;
}

static char *regex_replace(xr *r, const xnode *n, const char *s, const char *pattern, const char *repl);

static json_t *f_regex_replace(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *t1, *t2;
    const char *pat = arg_str(av[0], &t1), *rep = arg_str(av[1], &t2);
    char *s = expr__to_str(in);
    char *o = regex_replace(r, n, s, pat ? pat : "", rep ? rep : "");
    free(s);
    free(t1);
    free(t2);
    return o ? str_result(o) : NULL;
}

/* s with every from replaced by to; NULL past max bytes. */
static char *replace_all(const char *s, const char *from, const char *to, size_t max)
{
    size_t fl = strlen(from);
    if (!fl)
        return xstrdup(s);
    buf b;
    buf_init(&b, max);
    const char *p = s, *q;
    int bad = 0;
    while (!bad && (q = strstr(p, from))) {
        bad |= buf_append(&b, p, (size_t)(q - p));
        bad |= buf_puts(&b, to);
        p = q + fl;
    }
    bad |= buf_puts(&b, p);
    if (bad) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static json_t *replace_value(xr *r, const xnode *n, json_t *in, json_t *pairs, int regexp, int depth)
{
    if (depth > EXPR__VALUE_DEPTH && (json_is_array(in) || json_is_object(in)))
        return expr__depth_err(r, n);
    if (json_is_array(in)) {
        /* each result is charged as it is built (a list of one shared
         * string replaced a million times), and given back at the end:
         * the caller charges the whole */
        json_t *out = json_array();
        size_t i, held = 0;
        json_t *x;
        json_array_foreach(in, i, x) {
            json_t *y = replace_value(r, n, x, pairs, regexp, depth + 1);
            size_t c = y ? expr__owned(y) : 0;
            if (!y || expr__charge(r, n, c)) {
                json_decref(y);
                expr__credit(r, held + c);
                json_decref(out);
                return NULL;
            }
            held += c;
            json_array_append_new(out, y);
        }
        expr__credit(r, held);
        return out;
    }
    if (json_is_object(in)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        size_t held = 0;
        json_object_foreach(in, k, x) {
            json_t *y = replace_value(r, n, x, pairs, regexp, depth + 1);
            size_t c = y ? expr__owned(y) : 0;
            if (!y || expr__charge(r, n, c)) {
                json_decref(y);
                expr__credit(r, held + c);
                json_decref(out);
                return NULL;
            }
            held += c;
            json_object_set_new_nocheck(out, k, y);
        }
        expr__credit(r, held);
        return out;
    }
    char *s = expr__to_str(in);
    const char *k;
    json_t *x;
    json_object_foreach(pairs, k, x) {
        char *to = expr__to_str(x);
        char *ns = regexp ? regex_replace(r, n, s, k, to) : replace_all(s, k, to, expr__room(r));
        free(to);
        free(s);
        if (!ns)
            return regexp ? NULL : expr__budget_err(r, n);
        s = ns;
    }
    return str_result(s);
}

static json_t *f_replace(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!json_is_object(av[0]))
        return expr__err(r, n, "filter 'replace' needs a map of replacements such as "
                               "{'old': 'new'}, got %s", expr__type_name(av[0]));
    return replace_value(r, n, in, av[0], av[1] && expr__truthy(av[1]), 0);
}

static int is_empty(const json_t *v)
{
    return IS_UNDEF(v) || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
           (json_is_array(v) && !json_array_size(v)) || (json_is_object(v) && !json_object_size(v));
}

static json_t *f_default(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (is_empty(in))
        return json_incref(av[0]);
    return json_incref(in);
}

static json_t *f_abs(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_integer(in)) {
        long long v = json_integer_value(in);
        return v < 0 && v != INT64_MIN ? json_integer(-v) : json_incref(in);
    }
    if (json_is_real(in))
        return json_real(fabs(json_real_value(in)));
    return expr__err(r, n, "filter 'abs' needs a number, got %s", expr__type_name(in));
}

/* Parses s as a number: an integer when it has no '.', 'e' or out of range. */
static json_t *parse_number(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    const char *e = end;
    while (isspace((unsigned char)*e))
        e++;
    if (!*e && errno != ERANGE && end != s)
        return json_integer(i);
    double d = strtod(s, &end);
    e = end;
    while (isspace((unsigned char)*e))
        e++;
    if (*e || end == s || isnan(d) || isinf(d))
        return NULL;
    return json_real(d);
}

static json_t *f_number(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    json_t *v;
    if (expr__is_number(in)) {
        v = json_incref(in);
    } else if (json_is_string(in)) {
        v = parse_number(json_string_value(in));
        if (!v)
            return expr__err(r, n, "filter 'number': '%s' is not a number", json_string_value(in));
    } else {
        return expr__err(r, n, "filter 'number' needs a string or a number, got %s", expr__type_name(in));
    }
    char *tmp;
    const char *type = arg_str(av[0], &tmp);
    if (type) {
        json_t *c = NULL;
        if (!strcasecmp(type, "INT") || !strcasecmp(type, "LONG") || !strcasecmp(type, "INTEGER")) {
            if (!json_is_integer(v)) { /* Java's createInteger refuses "2.7" too */
                char *txt = expr__to_str(in);
                expr__err(r, n, "filter 'number': '%s' is not an integer", txt);
                free(txt);
                json_decref(v);
                free(tmp);
                return NULL;
            }
            c = json_incref(v);
        }
        else if (!strcasecmp(type, "FLOAT") || !strcasecmp(type, "DOUBLE") ||
                 !strcasecmp(type, "BIGDECIMAL"))
            c = json_real(expr__num(v));
        else if (!strcasecmp(type, "BIGINTEGER") && json_is_integer(v))
            c = json_incref(v);
        else {
            json_decref(v);
            expr__err(r, n, "filter 'number': unknown type '%s' (INT, LONG, FLOAT, DOUBLE)", type);
            free(tmp);
            return NULL;
        }
        json_decref(v);
        v = c;
    }
    free(tmp);
    return v;
}

static json_t *f_round(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (!expr__is_number(in))
        return expr__err(r, n, "filter 'round' needs a number, got %s", expr__type_name(in));
    long long prec;
    if (arg_int(r, n, av[0], "precision", 0, &prec))
        return NULL;
    char *tmp;
    const char *method = arg_str(av[1], &tmp);
    if (!method)
        method = "common";
    double d = expr__num(in), m = pow(10, (double)prec), x;
    if (!strcmp(method, "common"))
        x = round(d * m) / m;
    else if (!strcmp(method, "ceil"))
        x = ceil(d * m) / m;
    else if (!strcmp(method, "floor"))
        x = floor(d * m) / m;
    else {
        expr__err(r, n, "filter 'round': method must be 'common', 'ceil' or 'floor', got '%s'", method);
        free(tmp);
        return NULL;
    }
    free(tmp);
    if (json_is_integer(in) && prec >= 0)
        return json_incref(in);
    if (prec <= 0 && fabs(x) < 9e18)
        return json_integer((long long)x);
    return json_real(x);
}

static int cmp_values(const void *a, const void *b)
{
    int ok;
    return expr__compare(*(json_t *const *)a, *(json_t *const *)b, &ok);
}

static json_t *f_sort(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!json_is_array(in))
        return expr__err(r, n, "filter 'sort' needs a list, got %s", expr__type_name(in));
    size_t sz = json_array_size(in);
    json_t **v = xmalloc(sizeof *v * (sz ? sz : 1));
    for (size_t i = 0; i < sz; i++) {
        v[i] = json_array_get(in, i);
        int ok = 1;
        if (i)
            expr__compare(v[0], v[i], &ok);
        if (!ok || json_is_array(v[i]) || json_is_object(v[i]) || json_is_null(v[i])) {
            free(v);
            return expr__err(r, n, "filter 'sort' needs a list of numbers or of strings");
        }
    }
    qsort(v, sz, sizeof *v, cmp_values);
    json_t *out = json_array();
    for (size_t i = 0; i < sz; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

static json_t *f_reverse(xr *r, const xnode *n, json_t *in, json_t **av);

static json_t *f_rsort(xr *r, const xnode *n, json_t *in, json_t **av)
{
    json_t *sorted = f_sort(r, n, in, av);
    if (!sorted || json_is_null(sorted))
        return sorted;
    json_t *out = f_reverse(r, n, sorted, av);
    json_decref(sorted);
    return out;
}

static json_t *f_reverse(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (json_is_array(in)) {
        json_t *out = json_array();
        for (size_t i = json_array_size(in); i > 0; i--)
            json_array_append(out, json_array_get(in, i - 1));
        return out;
    }
    if (json_is_string(in)) {
        const char *s = json_string_value(in);
        size_t len = json_string_length(in);
        char *o = xmalloc(len + 1);
        size_t k = len;
        for (size_t i = 0; i < len;) {
            size_t c = 1;
            while (i + c < len && ((unsigned char)s[i + c] & 0xC0) == 0x80)
                c++;
            k -= c;
            memcpy(o + k, s + i, c);
            i += c;
        }
        o[len] = '\0';
        json_t *v = json_stringn_nocheck(o, len);
        free(o);
        return v;
    }
    return expr__err(r, n, "filter 'reverse' needs a list or a string, got %s", expr__type_name(in));
}

/* A set key for scalars ("" for lists and maps, compared one by one):
 * numbers that are equal (1 and 1.0) get the same key. */
static int scalar_key(const json_t *x, char *out, size_t n)
{
    switch (json_typeof(x)) {
    case JSON_STRING: return 0;
    case JSON_INTEGER: snprintf(out, n, "n%lld", (long long)json_integer_value(x)); return 1;
    case JSON_REAL: {
        double d = json_real_value(x);
        if (d == floor(d) && fabs(d) < 9e18)
            snprintf(out, n, "n%lld", (long long)d);
        else
            snprintf(out, n, "r%.17g", d);
        return 1;
    }
    case JSON_TRUE: snprintf(out, n, "t"); return 1;
    case JSON_FALSE: snprintf(out, n, "f"); return 1;
    case JSON_NULL: snprintf(out, n, "z"); return 1;
    default: return -1;
    }
}

static json_t *f_distinct(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!json_is_array(in))
        return expr__err(r, n, "filter 'distinct' needs a list, got %s", expr__type_name(in));
    json_t *out = json_array(), *seen = json_object(), *complex = json_array();
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(in, i, x) {
        char key[64];
        int k = scalar_key(x, key, sizeof key);
        int dup = 0;
        if (k == 0) { /* strings: keyed by "s" + text */
            char *sk = xasprintf("s%s", json_string_value(x));
            dup = json_object_get(seen, sk) != NULL;
            if (!dup)
                json_object_set_new_nocheck(seen, sk, json_true());
            free(sk);
        } else if (k == 1) {
            dup = json_object_get(seen, key) != NULL;
            if (!dup)
                json_object_set_new_nocheck(seen, key, json_true());
        } else {
            json_array_foreach(complex, j, y) {
                if (expr__equal(x, y)) {
                    dup = 1;
                    break;
                }
            }
            if (!dup)
                json_array_append(complex, x);
        }
        if (!dup)
            json_array_append(out, x);
    }
    json_decref(seen);
    json_decref(complex);
    return out;
}

static json_t *f_keys(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    json_t *out = json_array();
    if (json_is_array(in)) {
        for (size_t i = 0; i < json_array_size(in); i++)
            json_array_append_new(out, json_integer((long long)i));
        return out;
    }
    if (!json_is_object(in)) {
        json_decref(out);
        return expr__err(r, n, "filter 'keys' needs a map, got %s", expr__type_name(in));
    }
    const char *k;
    json_t *x;
    json_object_foreach(in, k, x) json_array_append_new(out, json_string_nocheck(k));
    return out;
}

static json_t *f_values(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (json_is_array(in))
        return json_incref(in);
    if (!json_is_object(in))
        return expr__err(r, n, "filter 'values' needs a map, got %s", expr__type_name(in));
    json_t *out = json_array();
    const char *k;
    json_t *x;
    json_object_foreach(in, k, x) json_array_append(out, x);
    return out;
}

static json_t *f_merge(xr *r, const xnode *n, json_t *in, json_t **av)
{
    json_t *o = av[0];
    if (json_is_object(in) && json_is_object(o)) {
        json_t *out = json_copy(in);
        json_object_update(out, o);
        return out;
    }
    if (json_is_array(in)) {
        json_t *out = json_copy(in);
        if (json_is_array(o))
            json_array_extend(out, o);
        else
            json_array_append(out, o);
        return out;
    }
    return expr__err(r, n, "filter 'merge' needs two maps or two lists, got %s and %s",
                     expr__type_name(in), expr__type_name(o));
}

static json_t *f_chunk(xr *r, const xnode *n, json_t *in, json_t **av)
{
    long long size;
    if (arg_int(r, n, av[0], "size", 0, &size))
        return NULL;
    if (!json_is_array(in))
        return expr__err(r, n, "filter 'chunk' needs a list, got %s", expr__type_name(in));
    if (size <= 0)
        return expr__err(r, n, "filter 'chunk': size must be positive, got %lld", size);
    json_t *out = json_array(), *cur = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(in, i, x) {
        if (!cur || (long long)json_array_size(cur) == size) {
            cur = json_array();
            json_array_append_new(out, cur);
        }
        json_array_append(cur, x);
    }
    if (json_array_size(in) && expr__too_deep(out)) {
        json_decref(out);
        return expr__depth_err(r, n);
    }
    return out;
}

static json_t *f_slice(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    long len = json_is_array(in) ? (long)json_array_size(in) : json_is_string(in) ? expr__length(in) : -1;
    if (len < 0)
        return expr__err(r, n, "filter 'slice' needs a list or a string, got %s", expr__type_name(in));
    long long from, to;
    if (arg_int(r, n, av[0], "fromIndex", 0, &from) || arg_int(r, n, av[1], "toIndex", len, &to))
        return NULL;
    if (from < 0)
        from += len;
    if (to < 0)
        to += len;
    if (from < 0)
        from = 0;
    if (to > len)
        to = len;
    if (from > to)
        from = to;
    if (json_is_array(in)) {
        json_t *out = json_array();
        for (long long i = from; i < to; i++)
            json_array_append(out, json_array_get(in, (size_t)i));
        return out;
    }
    const char *s = json_string_value(in);
    size_t blen = json_string_length(in), a = blen, b = blen;
    long c = 0;
    for (size_t i = 0; i <= blen; i++) {
        if (i == blen || ((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == from && a == blen)
                a = i;
            if (c == to) {
                b = i;
                break;
            }
            c++;
        }
    }
    if (a > b)
        a = b;
    return json_stringn_nocheck(s + a, b - a);
}

/* Latin-1 letters with accents to their ASCII base letter. */
static const char latin1_base[64] = "AAAAAAACEEEEIIIIDNOOOOO*OUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";

static json_t *f_slugify(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    size_t len = strlen(s);
    char *o = xmalloc(len + 1);
    size_t k = 0;
    int dash = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char out = 0;
        if (c < 0x80) {
            if (isalnum(c))
                out = (char)tolower(c);
        } else if (c == 0xC3 && i + 1 < len) {
            unsigned cp = ((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
            i++;
            if (cp >= 0xC0) {
                char base = latin1_base[cp - 0xC0];
                if (isalpha((unsigned char)base))
                    out = (char)tolower((unsigned char)base);
            }
        } else {
            while (i + 1 < len && ((unsigned char)s[i + 1] & 0xC0) == 0x80)
                i++;
        }
        if (out) {
            if (dash && k)
                o[k++] = '-';
            dash = 0;
            o[k++] = out;
        } else {
            dash = 1;
        }
    }
    o[k] = '\0';
    free(s);
    return str_result(o);
}

static json_t *str_test(xr *r, const xnode *n, json_t *in, json_t *arg, int ends)
{
    if (json_is_null(in))
        return json_false();
    char *s = expr__to_str(in), *tmp;
    const char *p = arg_str(arg, &tmp);
    if (!p)
        p = "";
    size_t ls = strlen(s), lp = strlen(p);
    int ok = lp <= ls && !memcmp(ends ? s + ls - lp : s, p, lp);
    free(s);
    free(tmp);
    return json_boolean(ok);
}

static json_t *f_starts_with(xr *r, const xnode *n, json_t *in, json_t **av) { return str_test(r, n, in, av[0], 0); }
static json_t *f_ends_with(xr *r, const xnode *n, json_t *in, json_t **av) { return str_test(r, n, in, av[0], 1); }

/* mode bit 1: after (else before); bit 2: last occurrence */
static json_t *substring(json_t *in, json_t *arg, int after, int last)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in), *tmp;
    const char *sep = arg_str(arg, &tmp);
    json_t *v;
    if (!sep) {
        v = json_string_nocheck(after ? "" : s);
    } else if (!*sep) {
        v = json_string_nocheck(after ? (last ? "" : s) : (last ? s : ""));
    } else {
        const char *q = strstr(s, sep);
        if (last && q) {
            const char *nq;
            while ((nq = strstr(q + 1, sep)))
                q = nq;
        }
        if (!q)
            v = json_string_nocheck(after ? "" : s);
        else if (after)
            v = json_string_nocheck(q + strlen(sep));
        else
            v = json_stringn_nocheck(s, (size_t)(q - s));
    }
    free(s);
    free(tmp);
    return v;
}

static json_t *f_sub_before(xr *r, const xnode *n, json_t *in, json_t **av) { return substring(in, av[0], 0, 0); }
static json_t *f_sub_after(xr *r, const xnode *n, json_t *in, json_t **av) { return substring(in, av[0], 1, 0); }
static json_t *f_sub_before_last(xr *r, const xnode *n, json_t *in, json_t **av) { return substring(in, av[0], 0, 1); }
static json_t *f_sub_after_last(xr *r, const xnode *n, json_t *in, json_t **av) { return substring(in, av[0], 1, 1); }

static json_t *escape_value(json_t *in, const char *from, const char *to)
{
    if (json_is_array(in)) {
        json_t *out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(in, i, x) json_array_append_new(out, escape_value(x, from, to));
        return out;
    }
    if (json_is_object(in)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(in, k, x) json_object_set_new_nocheck(out, k, escape_value(x, from, to));
        return out;
    }
    char *s = expr__to_str(in);
    char *o = replace_all(s, from, to, 0); /* at most 2x: not capped */
    free(s);
    return str_result(o);
}

static json_t *f_escape_char(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *tmp;
    const char *type = arg_str(av[0], &tmp);
    json_t *v;
    if (type && !strcasecmp(type, "single"))
        v = escape_value(in, "'", "\\'");
    else if (type && !strcasecmp(type, "double"))
        v = escape_value(in, "\"", "\\\"");
    else if (type && !strcasecmp(type, "shell"))
        v = escape_value(in, "'", "'\\''");
    else
        v = expr__err(r, n, "filter 'escapeChar': type must be 'single', 'double' or 'shell'");
    free(tmp);
    return v;
}

static json_t *f_urlencode(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    static const char hx[] = "0123456789ABCDEF";
    char *s = expr__to_str(in);
    buf b;
    buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '*')
            buf_putc(&b, (char)*p);
        else if (*p == ' ')
            buf_putc(&b, '+');
        else {
            char e[3] = {'%', hx[*p >> 4], hx[*p & 15]};
            buf_append(&b, e, 3);
        }
    }
    free(s);
    return str_result(buf_steal(&b));
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static json_t *f_urldecode(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    size_t len = strlen(s), k = 0;
    char *o = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+')
            o[k++] = ' ';
        else if (s[i] == '%' && i + 2 < len && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            o[k++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else if (s[i] == '%') {
            free(s);
            free(o);
            return expr__err(r, n, "filter 'urldecode': bad escape at character %zu", i + 1);
        } else
            o[k++] = s[i];
    }
    o[k] = '\0';
    free(s);
    json_t *v = json_stringn(o, k);
    free(o);
    if (!v)
        return expr__err(r, n, "filter 'urldecode': the decoded text is not valid UTF-8");
    return v;
}

static json_t *f_base64encode(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    char *o = base64_encode(s, strlen(s));
    free(s);
    return str_result(o);
}

static json_t *f_base64decode(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    size_t k, bad;
    char *o = base64_decode(s, strlen(s), &k, &bad);
    free(s);
    if (!o)
        return expr__err(r, n, "filter 'base64decode': invalid base64 character at position %zu",
                         bad + 1);
    json_t *v = json_stringn(o, k);
    free(o);
    if (!v)
        return expr__err(r, n, "filter 'base64decode': the decoded bytes are not UTF-8 text");
    return v;
}

static json_t *digest(xr *r, const xnode *n, json_t *in, const char *alg)
{
    if (json_is_null(in))
        return json_null();
    char *s = expr__to_str(in);
    char *h = digest_hex(alg, s, strlen(s));
    free(s);
    return str_result(h);
}

static json_t *f_md5(xr *r, const xnode *n, json_t *in, json_t **av) { return digest(r, n, in, "md5"); }
static json_t *f_sha1(xr *r, const xnode *n, json_t *in, json_t **av) { return digest(r, n, in, "sha1"); }
static json_t *f_sha256(xr *r, const xnode *n, json_t *in, json_t **av) { return digest(r, n, in, "sha256"); }
static json_t *f_sha512(xr *r, const xnode *n, json_t *in, json_t **av) { return digest(r, n, in, "sha512"); }

static json_t *f_to_json(xr *r, const xnode *n, json_t *in, json_t **av)
{
    buf b;
    buf_init(&b, expr__room(r));
    if (expr__write_json(&b, in, 0)) {
        buf_free(&b);
        return expr__write_err(r, n, in);
    }
    json_t *v = json_stringn_nocheck(buf_str(&b), b.len);
    buf_free(&b);
    return v;
}

static json_t *f_to_ion(xr *r, const xnode *n, json_t *in, json_t **av)
{
    buf b;
    buf_init(&b, expr__room(r));
    if (expr__ion_write(&b, in)) {
        buf_free(&b);
        return expr__write_err(r, n, in);
    }
    json_t *v = json_stringn_nocheck(buf_str(&b), b.len);
    buf_free(&b);
    return v;
}

static json_t *f_yaml(xr *r, const xnode *n, json_t *in, json_t **av)
{
    buf b;
    buf_init(&b, expr__room(r));
    if (expr__yaml_write(&b, in, 0)) {
        buf_free(&b);
        return expr__write_err(r, n, in);
    }
    json_t *v = json_stringn_nocheck(buf_str(&b), b.len);
    buf_free(&b);
    return v;
}

static json_t *do_indent(xr *r, const xnode *n, json_t *in, json_t **av, int newline)
{
    if (json_is_null(in))
        return json_null();
    long long amount;
    if (arg_int(r, n, av[0], "amount", 0, &amount))
        return NULL;
    if (amount < 0 || amount > 1000)
        return expr__err(r, n, "filter '%s': amount must be between 0 and 1000", n->name);
    char *tmp;
    const char *pre = arg_str(av[1], &tmp);
    if (!pre)
        pre = " ";
    char *s = expr__to_str(in);
    if (!*s) { /* Kestra: an empty input stays empty, nindent included */
        free(tmp);
        return str_result(s);
    }
    buf b;
    buf_init(&b, expr__room(r));
    int bad = 0;
    if (newline) {
        bad |= buf_putc(&b, strstr(s, "\r\n") ? '\r' : '\n');
        if (strstr(s, "\r\n"))
            bad |= buf_putc(&b, '\n');
        for (long long i = 0; i < amount; i++)
            bad |= buf_puts(&b, pre);
    }
    for (const char *p = s; *p && !bad; p++) {
        bad |= buf_putc(&b, *p);
        if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
            for (long long i = 0; i < amount; i++)
                bad |= buf_puts(&b, pre);
    }
    free(s);
    free(tmp);
    if (bad) {
        buf_free(&b);
        return expr__budget_err(r, n);
    }
    return str_result(buf_steal(&b));
}

static json_t *f_indent(xr *r, const xnode *n, json_t *in, json_t **av) { return do_indent(r, n, in, av, 0); }
static json_t *f_nindent(xr *r, const xnode *n, json_t *in, json_t **av) { return do_indent(r, n, in, av, 1); }

static json_t *f_string(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    return str_result(expr__to_str(in));
}

static json_t *f_flatten(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (!json_is_array(in))
        return expr__err(r, n, "filter 'flatten' needs a list, got %s", expr__type_name(in));
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(in, i, x) {
        if (json_is_array(x))
            json_array_extend(out, x);
        else
            json_array_append(out, x);
    }
    return out;
}

static json_t *f_abbreviate(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    long long max;
    if (arg_int(r, n, av[0], "length", 0, &max))
        return NULL;
    char *s = expr__to_str(in);
    json_t *t = json_string_nocheck(s);
    long len = expr__length(t);
    json_decref(t);
    if (len <= max) {
        return str_result(s);
    }
    json_t *v = NULL;
    if (max < 3) {
        v = json_string("...");
    } else {
        json_t *src = json_string_nocheck(s);
        json_t *from = json_integer(0), *to = json_integer(max - 3);
        json_t *args[2] = {from, to};
        json_t *cut = f_slice(r, n, src, args);
        json_decref(src);
        json_decref(from);
        json_decref(to);
        char *c = expr__to_str(cut);
        json_decref(cut);
        char *o = xasprintf("%s...", c);
        free(c);
        v = str_result(o);
    }
    free(s);
    return v;
}

/* Pebble's raw: nothing to undo, as Kestra renders without auto-escaping. */
static json_t *f_raw(xr *r, const xnode *n, json_t *in, json_t **av) { return json_incref(in); }

/* Pebble's escape (HTML by default; 'js' and 'json' escape for a string
 * literal; 'url_param' percent-encodes). */
static json_t *f_urlencode(xr *r, const xnode *n, json_t *in, json_t **av);

static json_t *f_escape(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    char *tmp;
    const char *strategy = arg_str(av[0], &tmp);
    if (!strategy)
        strategy = "html";
    json_t *v = NULL;
    if (!strcmp(strategy, "url_param")) {
        v = f_urlencode(r, n, in, av);
    } else if (!strcmp(strategy, "js") || !strcmp(strategy, "json")) {
        char *s = expr__to_str(in);
        json_t *str = json_string_nocheck(s);
        buf b;
        buf_init(&b, expr__room(r));
        int bad = expr__write_json(&b, str, 0);
        json_decref(str);
        free(s);
        /* drop the surrounding quotes */
        v = bad ? expr__budget_err(r, n) : json_stringn_nocheck(buf_str(&b) + 1, b.len >= 2 ? b.len - 2 : 0);
        buf_free(&b);
    } else if (!strcmp(strategy, "html") || !strcmp(strategy, "css")) {
        char *s = expr__to_str(in);
        buf b;
        buf_init(&b, expr__room(r));
        int bad = 0;
        for (const char *p = s; *p && !bad; p++) {
            switch (*p) {
            case '&': bad |= buf_puts(&b, "&amp;"); break;
            case '<': bad |= buf_puts(&b, "&lt;"); break;
            case '>': bad |= buf_puts(&b, "&gt;"); break;
            case '"': bad |= buf_puts(&b, "&quot;"); break;
            case '\'': bad |= buf_puts(&b, "&#39;"); break;
            default: bad |= buf_putc(&b, *p);
            }
        }
        free(s);
        if (bad) {
            buf_free(&b);
            v = expr__budget_err(r, n);
        } else {
            v = str_result(buf_steal(&b));
        }
    } else {
        v = expr__err(r, n, "filter 'escape': unknown strategy '%s' (html, js, json, url_param)", strategy);
    }
    free(tmp);
    return v;
}

/* Pebble's numberformat: a java.text.DecimalFormat pattern such as
 * "#,##0.00" or "0.###" (grouping, minimum integer digits, minimum and
 * maximum fraction digits; half-even rounding). */
static json_t *f_numberformat(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!expr__is_number(in))
        return expr__err(r, n, "filter 'numberformat' needs a number, got %s", expr__type_name(in));
    char *tmp;
    const char *pat = arg_str(av[0], &tmp);
    if (!pat) {
        free(tmp);
        return str_result(expr__to_str(in));
    }
    const char *dot = strchr(pat, '.');
    size_t intlen = dot ? (size_t)(dot - pat) : strlen(pat);
    int group = memchr(pat, ',', intlen) != NULL, minint = 0, minfrac = 0, maxfrac = 0;
    for (size_t i = 0; i < intlen; i++)
        if (pat[i] == '0')
            minint++;
    for (const char *p = dot ? dot + 1 : ""; *p; p++) {
        if (*p == '0') {
            minfrac++;
            maxfrac++;
        } else if (*p == '#')
            maxfrac++;
    }
    free(tmp);
    if (maxfrac > 15)
        maxfrac = 15;
    double d = expr__num(in);
    char num[400];
    snprintf(num, sizeof num, "%.*f", maxfrac, fabs(d));
    char *point = strchr(num, '.');
    char *frac = point ? point + 1 : NULL;
    if (point)
        *point = '\0';
    if (frac) {
        int len = (int)strlen(frac);
        while (len > minfrac && frac[len - 1] == '0')
            frac[--len] = '\0';
    }
    const char *ip = num;
    if (!strcmp(ip, "0") && minint == 0)
        ip = "";
    buf b;
    buf_init(&b, 0);
    int negzero = 1;
    for (const char *q = num; *q; q++)
        if (*q != '0')
            negzero = 0;
    for (const char *q = frac; q && *q; q++)
        if (*q != '0')
            negzero = 0;
    if (d < 0 && !negzero)
        buf_putc(&b, '-');
    int len = (int)strlen(ip);
    for (int k = len; k < minint; k++)
        buf_putc(&b, '0');
    for (int k = 0; k < len; k++) {
        buf_putc(&b, ip[k]);
        int left = len - k - 1;
        if (group && left > 0 && left % 3 == 0)
            buf_putc(&b, ',');
    }
    if (frac && *frac) {
        buf_putc(&b, '.');
        buf_puts(&b, frac);
    }
    if (!b.len)
        buf_putc(&b, '0');
    return str_result(buf_steal(&b));
}

/* ---- jq ---------------------------------------------------------------------- */

typedef struct jq_err {
    char msg[512];
} jq_err;

static void jq_err_cb(void *data, jv msg)
{
    jq_err *e = data;
    if (!e->msg[0]) {
        if (jv_get_kind(msg) == JV_KIND_STRING) {
            const char *m = jv_string_value(msg);
            if (!strncmp(m, "jq: error: ", 11))
                m += 11;
            snprintf(e->msg, sizeof e->msg, "%.*s", (int)strcspn(m, "\n"), m);
        } else
            snprintf(e->msg, sizeof e->msg, "jq error");
    }
    jv_free(msg);
}

/* Compiling a jq program costs milliseconds (jq compiles its builtins each
 * time), so each thread keeps its last few compiled programs. A jq_state is
 * used by one thread at a time, which a thread-local cache guarantees. */
#define JQ_CACHE 8

typedef struct jq_cache {
    char *prog[JQ_CACHE];
    jq_state *jq[JQ_CACHE];
    int n;
} jq_cache;

static pthread_key_t jq_key;
static pthread_once_t jq_key_once = PTHREAD_ONCE_INIT;

static void jq_cache_free(void *p)
{
    jq_cache *c = p;
    for (int i = 0; i < c->n; i++) {
        free(c->prog[i]);
        jq_teardown(&c->jq[i]);
    }
    free(c);
}

static void jq_key_init(void) { pthread_key_create(&jq_key, jq_cache_free); }

void expr_thread_cleanup(void)
{
    pthread_once(&jq_key_once, jq_key_init);
    jq_cache *c = pthread_getspecific(jq_key);
    if (c) {
        pthread_setspecific(jq_key, NULL);
        jq_cache_free(c);
    }
}

/* The compiled program for prog, its errors reported to je; NULL when it
 * does not compile (je holds why). */
static jq_state *jq_get(const char *prog, jq_err *je)
{
    pthread_once(&jq_key_once, jq_key_init);
    jq_cache *c = pthread_getspecific(jq_key);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        pthread_setspecific(jq_key, c);
    }
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->prog[i], prog))
            continue;
        jq_state *jq = c->jq[i];
        char *pg = c->prog[i];
        memmove(c->jq + 1, c->jq, sizeof *c->jq * (size_t)i);
        memmove(c->prog + 1, c->prog, sizeof *c->prog * (size_t)i);
        c->jq[0] = jq;
        c->prog[0] = pg;
        jq_set_error_cb(jq, jq_err_cb, je);
        return jq;
    }
    jq_state *jq = jq_init();
    if (!jq) {
        snprintf(je->msg, sizeof je->msg, "cannot start jq");
        return NULL;
    }
    jq_set_error_cb(jq, jq_err_cb, je);
    /* no halt: it would race the watchdog's jq_halt into an assert (watch.c).
     * The definitions share the program's first line, so jq's messages keep
     * their line numbers. */
    char *full = xasprintf("def halt: error(\"halt is not available\"); "
                           "def halt_error: halt; def halt_error(f): halt; %s", prog);
    int ok = jq_compile(jq, full);
    free(full);
    if (!ok) {
        jq_teardown(&jq);
        if (!je->msg[0])
            snprintf(je->msg, sizeof je->msg, "syntax error");
        return NULL;
    }
    if (c->n == JQ_CACHE) {
        c->n--;
        free(c->prog[c->n]);
        jq_teardown(&c->jq[c->n]);
    }
    memmove(c->jq + 1, c->jq, sizeof *c->jq * (size_t)c->n);
    memmove(c->prog + 1, c->prog, sizeof *c->prog * (size_t)c->n);
    c->jq[0] = jq;
    c->prog[0] = xstrdup(prog);
    c->n++;
    return jq;
}

static json_t *f_jq(xr *r, const xnode *n, json_t *in, json_t **av)
{
    char *tmp;
    const char *prog = arg_str(av[0], &tmp);
    if (!prog)
        return expr__err(r, n, "filter 'jq' needs a jq expression");
    jq_err je = {{0}};
    jq_state *jq = jq_get(prog, &je);
    if (!jq) {
        expr__err(r, n, "filter 'jq': cannot compile '%s': %s", prog, je.msg);
        free(tmp);
        return NULL;
    }
    /* a string input is read as JSON when it is JSON, as Kestra does */
    buf b;
    buf_init(&b, expr__room(r));
    json_t *parsed = NULL;
    if (json_is_string(in))
        parsed = json_loadb_limited(json_string_value(in), json_string_length(in), JSON_DECODE_ANY,
                                    EXPR__VALUE_DEPTH, NULL);
    if (expr__write_json(&b, parsed ? parsed : in, 0)) {
        buf_free(&b);
        expr__write_err(r, n, parsed ? parsed : in);
        json_decref(parsed);
        free(tmp);
        return NULL;
    }
    json_decref(parsed);
    jv input = jv_parse(buf_str(&b));
    buf_free(&b);
    if (expr__check(r, n) || expr__check_clock(r, n)) { /* the clock: now, it may run long */
        jv_free(input);
        free(tmp);
        return NULL;
    }
    json_t *out = json_array();
    /* jq runs on its own copy of the input: the host may drop its locks
     * meanwhile, and the watchdog halts the program at the deadline or on
     * cancel (watch.c) */
    expr_watch w;
    int64_t dl = r->deadline_us == INT64_MAX ? 0 : r->deadline_us;
    if (expr__watch_begin(&w, jq, dl, r->cancel)) {
        jv_free(input);
        json_decref(out);
        free(tmp);
        return expr__err(r, n, "filter 'jq': cannot start its watchdog thread");
    }
    const expr_limits *lim = r->lim;
    if (lim && lim->yield)
        lim->yield(lim->yield_ud, 0);
    jq_start(jq, input, 0);
    jv res;
    int count = 0, over = 0;
    size_t room = expr__room(r), got = 0;
    while (jv_is_valid(res = jq_next(jq))) {
        jv dumped = jv_dump_string(res, 0);
        size_t len = (size_t)jv_string_length_bytes(jv_copy(dumped));
        json_t *x = NULL;
        got += len + 8;
        if (got > room)
            over = 1; /* the results' text passes the budget */
        else if (!(x = json_loadb_limited(jv_string_value(dumped), len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                          EXPR__VALUE_DEPTH, NULL)))
            over = 2; /* nested too deeply (jq's output is valid JSON) */
        jv_free(dumped);
        res = jv_invalid(); /* jv_dump_string took it */
        if (x)
            json_array_append_new(out, x);
        if (over || ++count > 1000000)
            break;
    }
    int stopped = expr__watch_end(&w);
    if (lim && lim->yield)
        lim->yield(lim->yield_ud, 1);
    if (over && !stopped) {
        jv_free(res);
        json_decref(out);
        jq_set_error_cb(jq, NULL, NULL);
        free(tmp);
        return over == 1 ? expr__budget_err(r, n) : expr__depth_err(r, n);
    }
    if (stopped) {
        jv_free(res);
        json_decref(out);
        jq_set_error_cb(jq, NULL, NULL);
        free(tmp);
        expr__stopped(r, n, stopped);
        return NULL;
    }
    int failed_run = jv_invalid_has_msg(jv_copy(res));
    if (failed_run) {
        jv msg = jv_invalid_get_msg(res);
        char m[512];
        if (jv_get_kind(msg) == JV_KIND_STRING)
            snprintf(m, sizeof m, "%s", jv_string_value(msg));
        else {
            jv d = jv_dump_string(jv_copy(msg), 0);
            snprintf(m, sizeof m, "%s", jv_string_value(d));
            jv_free(d);
        }
        jv_free(msg);
        json_decref(out);
        expr__err(r, n, "filter 'jq': '%s' failed: %s", prog, m);
        free(tmp);
        return NULL;
    }
    jv_free(res);
    jq_set_error_cb(jq, NULL, NULL);
    free(tmp);
    return out;
}

/* ---- tests ----------------------------------------------------------------------- */

/* Pebble: `defined` is the inverse of `null`: a null value is not defined */
static int t_defined(xr *r, const xnode *n, json_t *v) { return !IS_UNDEF(v) && !json_is_null(v); }
static int t_null(xr *r, const xnode *n, json_t *v) { return json_is_null(v); }
static int t_empty(xr *r, const xnode *n, json_t *v) { return is_empty(v); }
static int t_iterable(xr *r, const xnode *n, json_t *v) { return json_is_array(v) || json_is_object(v); }
static int t_map(xr *r, const xnode *n, json_t *v) { return json_is_object(v); }
static int t_string(xr *r, const xnode *n, json_t *v) { return json_is_string(v); }
static int t_number(xr *r, const xnode *n, json_t *v) { return expr__is_number(v); }
static int t_boolean(xr *r, const xnode *n, json_t *v) { return json_is_boolean(v); }

static int parity(xr *r, const xnode *n, json_t *v, int odd)
{
    if (json_is_integer(v))
        return (int)(json_integer_value(v) & 1) == odd;
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        return (int)(fmod(fabs(json_real_value(v)), 2.0) == 1.0) == odd;
    expr__err(r, n, "test '%s' needs an integer, got %s", odd ? "odd" : "even", expr__type_name(v));
    return -1;
}

static int t_even(xr *r, const xnode *n, json_t *v) { return parity(r, n, v, 0); }
static int t_odd(xr *r, const xnode *n, json_t *v) { return parity(r, n, v, 1); }

static int t_json(xr *r, const xnode *n, json_t *v)
{
    if (!json_is_string(v))
        return 0;
    json_t *x = json_loadb_limited(json_string_value(v), json_string_length(v), JSON_DECODE_ANY,
                                   EXPR__VALUE_DEPTH, NULL);
    int ok = x != NULL;
    json_decref(x);
    return ok;
}

const test_def expr__tests[] = {
    {"defined", t_defined, 1},
    {"null", t_null, 0},
    {"empty", t_empty, 0},
    {"even", t_even, 0},
    {"odd", t_odd, 0},
    {"iterable", t_iterable, 0},
    {"map", t_map, 0},
    {"json", t_json, 0},
    {"string", t_string, 0},
    {"number", t_number, 0},
    {"boolean", t_boolean, 0},
    {NULL, NULL, 0},
};

/* ---- the table ------------------------------------------------------------------- */

const filter_def expr__filters[] = {
    /* strings */
    {"upper", f_upper, 0, {NULL}, 0},
    {"lower", f_lower, 0, {NULL}, 0},
    {"capitalize", f_capitalize, 0, {NULL}, 0},
    {"title", f_title, 0, {NULL}, 0},
    {"trim", f_trim, 0, {NULL}, 0},
    {"abbreviate", f_abbreviate, 1, {"length", NULL}, 0},
    {"split", f_split, 1, {"delimiter", "limit", NULL}, 0},
    {"replace", f_replace, 1, {"replace_pairs", "regexp", NULL}, 0},
    {"slugify", f_slugify, 0, {NULL}, 0},
    {"regexMatch", f_regex_match, 1, {"regex", NULL}, 0},
    {"regexExtract", f_regex_extract, 1, {"regex", "group", NULL}, 0},
    {"regexReplace", f_regex_replace, 2, {"regex", "replacement", NULL}, 0},
    {"startsWith", f_starts_with, 1, {"prefix", NULL}, 0},
    {"endsWith", f_ends_with, 1, {"suffix", NULL}, 0},
    {"substringBefore", f_sub_before, 1, {"separator", NULL}, 0},
    {"substringAfter", f_sub_after, 1, {"separator", NULL}, 0},
    {"substringBeforeLast", f_sub_before_last, 1, {"separator", NULL}, 0},
    {"substringAfterLast", f_sub_after_last, 1, {"separator", NULL}, 0},
    {"escapeChar", f_escape_char, 1, {"type", NULL}, 0},
    {"urlencode", f_urlencode, 0, {NULL}, 0},
    {"urldecode", f_urldecode, 0, {NULL}, 0},
    {"base64encode", f_base64encode, 0, {NULL}, 0},
    {"base64decode", f_base64decode, 0, {NULL}, 0},
    {"md5", f_md5, 0, {NULL}, 0},
    {"sha1", f_sha1, 0, {NULL}, 0},
    {"sha256", f_sha256, 0, {NULL}, 0},
    {"sha512", f_sha512, 0, {NULL}, 0},
    {"indent", f_indent, 1, {"amount", "prefix", NULL}, 0},
    {"nindent", f_nindent, 1, {"amount", "prefix", NULL}, 0},
    {"string", f_string, 0, {NULL}, 0},
    {"raw", f_raw, 0, {NULL}, 0},
    {"escape", f_escape, 0, {"strategy", NULL}, 0},
    /* collections */
    {"length", f_length, 0, {NULL}, 0},
    {"first", f_first, 0, {NULL}, 0},
    {"last", f_last, 0, {NULL}, 0},
    {"join", f_join, 0, {"separator", NULL}, 0},
    {"sort", f_sort, 0, {NULL}, 0},
    {"rsort", f_rsort, 0, {NULL}, 0},
    {"reverse", f_reverse, 0, {NULL}, 0},
    {"distinct", f_distinct, 0, {NULL}, 0},
    {"keys", f_keys, 0, {NULL}, 0},
    {"values", f_values, 0, {NULL}, 0},
    {"merge", f_merge, 1, {"items", NULL}, 0},
    {"chunk", f_chunk, 1, {"size", NULL}, 0},
    {"slice", f_slice, 0, {"fromIndex", "toIndex", NULL}, 0},
    {"flatten", f_flatten, 0, {NULL}, 0},
    /* values */
    {"default", f_default, 1, {"default", NULL}, 1},
    {"abs", f_abs, 0, {NULL}, 0},
    {"number", f_number, 0, {"type", NULL}, 0},
    {"round", f_round, 0, {"precision", "method", NULL}, 0},
    {"numberformat", f_numberformat, 0, {"format", NULL}, 0},
    {"toJson", f_to_json, 0, {NULL}, 0},
    {"json", f_to_json, 0, {NULL}, 0},
    {"jsonEncode", f_to_json, 0, {NULL}, 0},
    {"toIon", f_to_ion, 0, {NULL}, 0},
    {"yaml", f_yaml, 0, {NULL}, 0},
    {"jq", f_jq, 1, {"expression", NULL}, 0},
    /* dates (dates.c) */
    {"date", expr__f_date, 0, {"format", "timeZone", "existingFormat", "locale", NULL}, 0},
    {"dateAdd", expr__f_date_add, 2,
     {"amount", "unit", "format", "timeZone", "existingFormat", "locale", NULL}, 0},
    {"timestamp", expr__f_timestamp, 0, {"timeZone", "existingFormat", "locale", NULL}, 0},
    {"timestampMilli", expr__f_timestamp_milli, 0, {"timeZone", "existingFormat", "locale", NULL}, 0},
    {"timestampMicro", expr__f_timestamp_micro, 0, {"timeZone", "existingFormat", "locale", NULL}, 0},
    {"timestampNano", expr__f_timestamp_nano, 0, {"timeZone", "existingFormat", "locale", NULL}, 0},
    {NULL, NULL, 0, {NULL}, 0},
};
