/*
 * json.c: jansson's allocator, shared immortal values, compact dumps and
 * kind words (see json.h).
 */
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static void *kjson_malloc(size_t n) { return xmalloc(n ? n : 1); }

void kjson_init(void) { json_set_alloc_funcs(kjson_malloc, free); }

size_t kjson_share(json_t *v)
{
    if (!v)
        return 0;
    size_t old = v->refcount;
    __atomic_store_n(&v->refcount, (size_t)-1, __ATOMIC_RELEASE);
    return old;
}

void kjson_unshare(json_t *v, size_t refcount)
{
    if (v && refcount)
        __atomic_store_n(&v->refcount, refcount, __ATOMIC_RELEASE);
}

/* ---- compact text ------------------------------------------------------------------------ */

/* jansson's json_dumps goes through a callback per piece and decodes every
 * string's UTF-8 to find what to escape; the API's answers and the store's
 * documents are dumped at every task, so kite writes the same bytes itself:
 * keys in the object's order, strings escaped as jansson does (", \, and
 * control characters; "/" and non-ASCII as they are), integers in decimal,
 * reals through jansson (its shortest form with the precision asked). */

typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static void tb_need(tbuf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void tb_put(tbuf *b, const char *s, size_t n)
{
    tb_need(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void tb_string(tbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    tb_need(b, n + 2);
    b->p[b->len++] = '"';
    size_t run = 0; /* bytes not yet copied, up to i */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        tb_put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t k = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        tb_put(b, esc, k);
    }
    tb_put(b, s + run, n - run);
    tb_put(b, "\"", 1);
}

static void tb_value(tbuf *b, const json_t *v, int precision)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        tb_put(b, "{", 1);
        const char *k;
        size_t klen;
        json_t *m;
        int first = 1;
        json_object_keylen_foreach((json_t *)v, k, klen, m)
        {
            if (!first)
                tb_put(b, ",", 1);
            first = 0;
            tb_string(b, k, klen);
            tb_put(b, ":", 1);
            tb_value(b, m, precision);
        }
        tb_put(b, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        tb_put(b, "[", 1);
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (i)
                tb_put(b, ",", 1);
            tb_value(b, m, precision);
        }
        tb_put(b, "]", 1);
        break;
    }
    case JSON_STRING:
        tb_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        char t[24];
        int n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        tb_put(b, t, (size_t)n);
        break;
    }
    case JSON_REAL: {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
        if (!t)
            abort(); /* jansson fails only on allocation */
        tb_put(b, t, strlen(t));
        free(t);
        break;
    }
    case JSON_TRUE:
        tb_put(b, "true", 4);
        break;
    case JSON_FALSE:
        tb_put(b, "false", 5);
        break;
    case JSON_NULL:
        tb_put(b, "null", 4);
        break;
    }
}

char *kjson_dump_real(const json_t *v, int real_precision)
{
    if (!v)
        return NULL;
    tbuf b = {0};
    tb_value(&b, v, real_precision);
    b.p[b.len] = 0;
    return b.p;
}

char *kjson_dump(const json_t *v) { return kjson_dump_real(v, 0); }

const char *json_kind_word(const json_t *v, json_words words)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return words == JSON_WORDS_YAML ? "a mapping" : "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}
