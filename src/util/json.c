/*
 * json.c: jansson's allocator, shared immortal values, compact dumps and
 * kind words (see json.h).
 */
#include "util/json.h"
#include "util/mem.h"

#include <stdlib.h>

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

char *kjson_dump(const json_t *v)
{
    if (!v)
        return NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        abort(); /* jansson fails only on allocation */
    return s;
}

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
