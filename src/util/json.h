/*
 * json.h: jansson helpers every layer shares.
 *
 * jansson is kite's JSON value type from the store up. What is here is what
 * more than one layer needs around it: one allocation policy (kjson_init),
 * values shared read-only across threads (kjson_share), the compact text the
 * store keeps (kjson_dump), and the words an error uses to name a value's
 * kind (json_kind_word).
 */
#ifndef KITE_UTIL_JSON_H
#define KITE_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Makes jansson allocate through xmalloc/free, so running out of memory
 * inside jansson aborts with kite's message, as it does everywhere else
 * (util/mem.h). Call once at the start of main, before any json_t exists:
 * a value allocated before must not be freed after (jansson's contract for
 * json_set_alloc_funcs). */
void kjson_init(void);

/*
 * Makes v immortal while it is shared read-only by threads that take
 * different locks (the engine's envs and globals, a flow's variables).
 *
 * The jansson contract this relies on (jansson.h, 2.14): json_incref and
 * json_decref leave a value whose refcount is (size_t)-1 alone, as they do
 * for json_true(), json_false() and json_null(). So readers may incref and
 * decref v (and json_object_get its members) without writing to its
 * refcount, and nobody frees it while shared. Only v itself becomes
 * immortal: its members keep their own refcounts, so a reader must not
 * incref/decref a member of v from several threads (take it with
 * json_object_get, not by holding a reference), and nobody may modify v
 * while shared.
 *
 * Returns v's refcount before, to give back to kjson_unshare once no thread
 * can reach v any more; the owner then drops its reference as usual.
 * NULL is allowed (returns 0).
 */
size_t kjson_share(json_t *v);
/* Gives v back its refcount (from kjson_share); NULL or 0 does nothing. */
void kjson_unshare(json_t *v, size_t refcount);

/* v as compact JSON text (any value, not only containers); the caller frees
 * with free(). NULL for NULL. Aborts when jansson cannot allocate. The bytes
 * of json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), written by kite (faster);
 * kjson_dump_real with JSON_REAL_PRECISION(real_precision) (0: jansson's
 * default). */
char *kjson_dump(const json_t *v);
char *kjson_dump_real(const json_t *v, int real_precision);

typedef enum json_words {
    JSON_WORDS_YAML,            /* "a mapping": for flow files and kite.yml */
    JSON_WORDS_JSON             /* "an object": for inputs and API bodies */
} json_words;
/* The kind of v in words for an error ("a list", "a string", "an integer",
 * "a number", "a boolean", "null", and "a mapping" or "an object"). */
const char *json_kind_word(const json_t *v, json_words words);

#endif
