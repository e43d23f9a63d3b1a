/*
 * truth.c: Kestra's truthiness rules (see truth.h for which caller uses
 * which).
 */
#include "util/truth.h"

#include <string.h>

/* Java's String.trim(): every char at or below U+0020 at either end. */
static const char *trim(const char *s, size_t *n)
{
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t k = strlen(s);
    while (k && (unsigned char)s[k - 1] <= ' ')
        k--;
    *n = k;
    return s;
}

static int is_word(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && !memcmp(s, w, n);
}

int kite_truthy_text(const char *s, truth_rule rule)
{
    if (!s)
        return 0;
    size_t n;
    switch (rule) {
    case TRUTH_KESTRA:
        s = trim(s, &n);
        return !(n == 0 || is_word(s, n, "false") || is_word(s, n, "0") || is_word(s, n, "-0"));
    case TRUTH_CONDITION:
        s = trim(s, &n);
        return n && !is_word(s, n, "false");
    case TRUTH_PEBBLE:
        return s[0] && strcmp(s, "false") != 0;
    }
    return 0;
}

int kite_truthy(const json_t *v, truth_rule rule)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_NULL: return 0;
    case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_STRING: return kite_truthy_text(json_string_value(v), rule);
    case JSON_ARRAY: return rule != TRUTH_PEBBLE || json_array_size(v) > 0;
    case JSON_OBJECT: return rule != TRUTH_PEBBLE || json_object_size(v) > 0;
    }
    return 0;
}
