/*
 * hash.h: FNV-1a and the one open-addressing string map of kite.
 *
 * The type registry (flow/registry.c), the YAML position map (flow/yaml.c)
 * and the engine's run index by id (engine/model.c) each used to carry their
 * own FNV-1a and their own linear-probing table. This is that table, once:
 * keys are NUL-terminated strings, values are pointers, slots are probed
 * linearly in a power-of-two array kept at most half full. There is no
 * delete (no caller needs one); a map is cleared by freeing it.
 *
 * The map does not own its keys unless told to (strmap_init's own_keys):
 * a borrowed key must outlive its slot. It never owns its values.
 * Not thread-safe: a map shared by threads needs the caller's lock, or must
 * be read-only once built.
 */
#ifndef KITE_UTIL_HASH_H
#define KITE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a (FNV's prime, kite's own offset basis: see hash.c) of a
 * NUL-terminated string / of n bytes. Stable across versions: stored names
 * are derived from it. */
uint64_t hash_fnv1a(const char *s);
uint64_t hash_fnv1a_n(const void *p, size_t n);

typedef struct strmap_slot {
    const char *key;            /* NULL: empty */
    void *val;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap;                 /* a power of two, or 0 before the first put */
    size_t n;                   /* keys held */
    int own_keys;               /* keys are copied on insert and freed with the map */
} strmap;

#define STRMAP_INIT {NULL, 0, 0, 0}

/* An empty map (no allocation until the first put). */
void strmap_init(strmap *m, int own_keys);
/* Frees the slots (and the keys when owned); m is empty again after. */
void strmap_free(strmap *m);
/* The value slot of key, inserting it (with a NULL value) when absent;
 * *added says which. The pointer is valid until the next insertion. */
void **strmap_slot_for(strmap *m, const char *key, int *added);
/* Sets key to val; returns 1 when key was new, 0 when its value was replaced. */
int strmap_put(strmap *m, const char *key, void *val);
/* The value slot of key, or NULL when key is absent (a stored NULL value is
 * found: the slot is not NULL). */
void **strmap_find(const strmap *m, const char *key);
/* The value of key, or NULL when absent. */
void *strmap_get(const strmap *m, const char *key);
/* The key as stored in the map (the owned copy), or NULL. */
const char *strmap_key(const strmap *m, const char *key);
size_t strmap_count(const strmap *m);
/* Iteration in slot order: start with *i = 0; returns 0 at the end.
 *   for (size_t i = 0; strmap_next(m, &i, &k, &v);) ... */
int strmap_next(const strmap *m, size_t *i, const char **key, void **val);

#endif
