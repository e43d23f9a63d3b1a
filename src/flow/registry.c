/*
 * registry.c: the type registry: every task, trigger, condition and task
 * runner type, found by canonical name or by any Kestra alias.
 *
 * The tables themselves are plain const data in src/tasks/ (schema.h); this
 * file only indexes them. One open-addressing hash (FNV-1a, linear probing,
 * power-of-two size, at most half full) maps every name and alias to its
 * type_def; a second array keeps the distinct types, sorted by name for
 * flow_registry_each(). Keys are borrowed from the tables, which are static,
 * so the registry allocates nothing per name.
 *
 * A duplicate name or alias is a programming error in the tables: it aborts
 * with both owners named, and the unit tests load the real tables, so it is
 * caught by the first test run, not by a user.
 *
 * DESIGN
 * Filled once by tasks_register_all() before any thread starts, read-only
 * afterwards (schema.h); there is no lock. The type array is kept sorted by
 * flow_registry_add() itself, so every reader (lookups, suggestions,
 * flow_registry_each) only reads and may run on any number of threads.
 */
#include "flow/schema.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct slot {
    const char *key;        /* NULL: empty */
    const type_def *def;
} slot;

static slot *slots;         /* the hash */
static size_t nslots;       /* a power of two, or 0 */
static size_t nkeys;

static const type_def **types; /* distinct types, sorted by canonical name */
static size_t ntypes, captypes;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static slot *lookup(const char *key)
{
    if (!nslots)
        return NULL;
    size_t mask = nslots - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        if (!slots[i].key || !strcmp(slots[i].key, key))
            return &slots[i];
    }
}

static void grow(void)
{
    size_t old_n = nslots;
    slot *old = slots;
    nslots = old_n ? old_n * 2 : 256;
    slots = xcalloc(nslots, sizeof *slots);
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].key)
            *lookup(old[i].key) = old[i];
    }
    free(old);
}

static void insert(const char *key, const type_def *d)
{
    if ((nkeys + 1) * 2 > nslots)
        grow();
    slot *s = lookup(key);
    if (s->key) {
        fprintf(stderr,
                "kite: type registry: duplicate name '%s' (declared by '%s' and by '%s')\n",
                key, s->def->name, d->name);
        abort();
    }
    s->key = key;
    s->def = d;
    nkeys++;
}

static int cmp_type(const void *a, const void *b)
{
    const type_def *x = *(const type_def *const *)a;
    const type_def *y = *(const type_def *const *)b;
    return strcmp(x->name, y->name);
}

void flow_registry_add(const type_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const type_def *d = &defs[i];
        if (!d->name || !*d->name) {
            fprintf(stderr, "kite: type registry: entry %zu of a table has no name\n", i);
            abort();
        }
        insert(d->name, d);
        for (const char *const *a = d->aliases; a && *a; a++)
            insert(*a, d);
        if (ntypes == captypes) {
            captypes = captypes ? captypes * 2 : 128;
            types = xrealloc(types, captypes * sizeof *types);
        }
        types[ntypes++] = d;
    }
    qsort(types, ntypes, sizeof *types, cmp_type);
}

const type_def *flow_type_find(const char *name)
{
    if (!name)
        return NULL;
    slot *s = lookup(name);
    return s && s->key ? s->def : NULL;
}

void flow_registry_each(void (*fn)(const type_def *d, void *arg), void *arg)
{
    for (size_t i = 0; i < ntypes; i++)
        fn(types[i], arg);
}

size_t flow_registry_count(void)
{
    return ntypes;
}

void flow_registry_reset(void)
{
    free(slots);
    free(types);
    slots = NULL;
    types = NULL;
    nslots = nkeys = ntypes = captypes = 0;
}

/* ---- suggestions --------------------------------------------------------- */

#define SUGGEST_MAXLEN 128

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, so "Lgo" is one edit from "Log"), case-insensitive.
 * Strings longer than SUGGEST_MAXLEN are cut there (flow_type_suggest does
 * not ask about longer names). */
static int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAXLEN)
        n = SUGGEST_MAXLEN;
    if (m > SUGGEST_MAXLEN)
        m = SUGGEST_MAXLEN;
    /* three rows: i-2, i-1 and i (the transposition looks two rows back) */
    int rows[3][SUGGEST_MAXLEN + 1];
    int *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= m; j++)
        p[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = (int)i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= m; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            int v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + (ca != cb) < v)
                v = p[j - 1] + (ca != cb);
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        int *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

static const char *last_segment(const char *s)
{
    const char *dot = strrchr(s, '.');
    return dot ? dot + 1 : s;
}

/* How far off a name may be and still be worth suggesting: about a third of
 * the length of its last segment (the family before it is short and shared
 * by many types, so it must not widen the net), at least one edit. */
static int max_distance(const char *s)
{
    int n = (int)strlen(s) / 3;
    return n < 1 ? 1 : n;
}

/* A Kestra class name has an upper-case letter ("io.kestra...Log",
 * "Parallel"); kite's canonical names are all lower case. */
static int looks_like_class(const char *s)
{
    for (; *s; s++)
        if (isupper((unsigned char)*s))
            return 1;
    return 0;
}

static int is_task_kind(int k)
{
    return k == TK_RUNNABLE || k == TK_FLOWABLE;
}

static int kind_matches(int wanted, int kind)
{
    return wanted == kind || (is_task_kind(wanted) && is_task_kind(kind));
}

typedef struct best {
    const char *name;
    int primary, secondary; /* lower is better, compared in that order */
} best;

static void consider(best *b, const char *name, int primary, int secondary)
{
    if (!b->name || primary < b->primary ||
        (primary == b->primary && secondary < b->secondary)) {
        b->name = name;
        b->primary = primary;
        b->secondary = secondary;
    }
}

/*
 * For a short name ("lgo"), the closest canonical name. For a class name
 * ("io.kestra.plugin.core.log.Lgo", "Paralel"), the closest alias: first by
 * the whole string, then by the last segment alone (so a right class in a
 * wrong package is still found), the whole-string distance breaking ties so
 * that the alias of the right package wins among the many "Delete" classes.
 * Scores are doubled so a last-segment match ranks just behind an equally
 * close whole-string one. Among equals, the first alias of a type (the
 * current io.kestra.plugin.core one) wins.
 *
 * TK_RUNNABLE and TK_FLOWABLE both mean "a task": either may stand where a
 * task is written, so a misspelt Parallel is found when the caller asks for
 * a runnable type, and the closest of both kinds wins.
 */
/* The family of a class name into out (n bytes): its package
 * ("io.kestra.plugin.fs.ssh" for io.kestra.plugin.fs.ssh.Command), except
 * that Kestra's core, under io.kestra.plugin.core and the older
 * io.kestra.core, is one family. 0 when the name has no package. */
static size_t family_of(const char *name, char *out, size_t n)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || n == 0)
        return 0;
    size_t len = (size_t)(dot - name);
    static const char *const cores[] = {"io.kestra.plugin.core", "io.kestra.core"};
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++) {
        size_t cl = strlen(cores[i]);
        if (len >= cl && !strncasecmp(name, cores[i], cl) && (len == cl || name[cl] == '.')) {
            snprintf(out, n, "%s", cores[0]);
            return strlen(out);
        }
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, name, len);
    out[len] = 0;
    return len;
}

/* A family written a little off ("io.kestra.plugin.scrpts.python") is
 * still that family. */
#define FAMILY_SLACK 2

/* Is the family of alias a that of fam (FAMILY_SLACK edits)? */
static int same_family(const char *fam, const char *a)
{
    char af[SUGGEST_MAXLEN + 1];
    if (!family_of(a, af, sizeof af))
        return 0;
    return edit_distance(fam, af) <= FAMILY_SLACK;
}

const char *flow_type_suggest(const char *name, int kind)
{
    if (!name || !*name || strlen(name) > SUGGEST_MAXLEN)
        return NULL; /* nothing registered is that long: no name is close */
    best b = {NULL, 0, 0};
    int cls = looks_like_class(name);
    const char *seg = last_segment(name);
    int max_d = max_distance(seg);
    /* a class of a package: only a near miss inside its family is worth
     * suggesting (a type of another family is not what was meant) */
    char fam[SUGGEST_MAXLEN + 1];
    int has_fam = cls && family_of(name, fam, sizeof fam) > 0;
    for (size_t i = 0; i < ntypes; i++) {
        const type_def *d = types[i];
        if (kind >= 0 && !kind_matches(kind, d->kind))
            continue;
        if (!cls) {
            int dist = edit_distance(name, d->name);
            if (dist <= max_distance(seg))
                consider(&b, d->name, dist, 0);
            continue;
        }
        int rank = 0;
        for (const char *const *a = d->aliases; a && *a; a++, rank++) {
            if (has_fam && !same_family(fam, *a))
                continue;
            int full = edit_distance(name, *a);
            if (full <= max_d)
                consider(&b, *a, 2 * full, rank);
            int sd = edit_distance(seg, last_segment(*a));
            if (sd <= max_d)
                consider(&b, *a, 2 * sd + 1, full * 16 + rank);
        }
    }
    return b.name;
}

const char *flow_type_missing_family(const char *name, char *out, size_t n)
{
    if (!name || strlen(name) > SUGGEST_MAXLEN || !looks_like_class(name))
        return NULL;
    char fam[SUGGEST_MAXLEN + 1];
    if (!family_of(name, fam, sizeof fam))
        return NULL;
    for (size_t i = 0; i < ntypes; i++)
        for (const char *const *a = types[i]->aliases; a && *a; a++) {
            char af[SUGGEST_MAXLEN + 1];
            if (family_of(*a, af, sizeof af) && !strcasecmp(fam, af))
                return NULL;
        }
    snprintf(out, n, "%s", fam);
    return out;
}

const char *flow_type_near_family(const char *name, char *out, size_t n)
{
    char fam[SUGGEST_MAXLEN + 1];
    if (!name || strlen(name) > SUGGEST_MAXLEN || !looks_like_class(name) || !family_of(name, fam, sizeof fam))
        return NULL;
    for (size_t i = 0; i < ntypes; i++)
        for (const char *const *a = types[i]->aliases; a && *a; a++)
            if (same_family(fam, *a) && family_of(*a, out, n) && strcasecmp(fam, out))
                return out;
    return NULL;
}

