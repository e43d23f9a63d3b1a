/*
 * hash.c: FNV-1a and the open-addressing string map (see hash.h).
 */
#include "util/hash.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* Not FNV's published offset basis (14695981039346656037, one digit more):
 * kite has always used this one, and the names of per-value state files
 * (tasks' State family) are derived from the hash, so it stays. Any odd
 * offset spreads as well. */
#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL
#define STRMAP_MIN 64

uint64_t hash_fnv1a(const char *s)
{
    uint64_t h = FNV_OFFSET;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t hash_fnv1a_n(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

void strmap_init(strmap *m, int own_keys)
{
    m->slots = NULL;
    m->cap = m->n = 0;
    m->own_keys = own_keys;
}

void strmap_free(strmap *m)
{
    if (m->own_keys)
        for (size_t i = 0; i < m->cap; i++)
            free((char *)m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* The slot holding key, or the empty slot where it would go; cap > 0. */
static strmap_slot *probe(const strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_fnv1a(key) & mask;
    while (m->slots[i].key && strcmp(m->slots[i].key, key))
        i = (i + 1) & mask;
    return &m->slots[i];
}

static void grow(strmap *m)
{
    strmap_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : STRMAP_MIN;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            *probe(m, old[i].key) = old[i];
    free(old);
}

void **strmap_slot_for(strmap *m, const char *key, int *added)
{
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    strmap_slot *s = probe(m, key);
    if (added)
        *added = !s->key;
    if (!s->key) {
        s->key = m->own_keys ? xstrdup(key) : key;
        s->val = NULL;
        m->n++;
    }
    return &s->val;
}

int strmap_put(strmap *m, const char *key, void *val)
{
    int added;
    *strmap_slot_for(m, key, &added) = val;
    return added;
}

void **strmap_find(const strmap *m, const char *key)
{
    if (!m->cap || !key)
        return NULL;
    strmap_slot *s = probe(m, key);
    return s->key ? &s->val : NULL;
}

void *strmap_get(const strmap *m, const char *key)
{
    void **v = strmap_find(m, key);
    return v ? *v : NULL;
}

const char *strmap_key(const strmap *m, const char *key)
{
    if (!m->cap || !key)
        return NULL;
    return probe(m, key)->key;
}

size_t strmap_count(const strmap *m) { return m->n; }

int strmap_next(const strmap *m, size_t *i, const char **key, void **val)
{
    for (; *i < m->cap; (*i)++) {
        const strmap_slot *s = &m->slots[*i];
        if (s->key) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            (*i)++;
            return 1;
        }
    }
    return 0;
}
