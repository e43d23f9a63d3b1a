/*
 * strutil.c: small string helpers (see strutil.h).
 */
#include "util/strutil.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Optimal string alignment distance: Levenshtein plus the transposition of
 * two adjacent letters as one edit ("Lgo" is one edit from "Log"), compared
 * case-insensitively. Three rows: i-2, i-1 and i (a transposition looks two
 * rows back). Stops once two rows in a row exceed cap, since no later row
 * can come back under it. */
size_t str_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t *mem = xmalloc(3 * (lb + 1) * sizeof *mem);
    size_t *pp = mem, *p = mem + lb + 1, *c = mem + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    size_t prev_min = 0;
    for (size_t i = 1; i <= la; i++) {
        int ca = tolower((unsigned char)a[i - 1]);
        c[0] = i;
        size_t row_min = c[0];
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t v = p[j - 1] + (ca != cb);
            if (p[j] + 1 < v)
                v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
            if (v < row_min)
                row_min = v;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
        if (row_min > cap && prev_min > cap) {
            free(mem);
            return cap + 1;
        }
        prev_min = row_min;
    }
    size_t d = p[lb];
    free(mem);
    return d > cap ? cap + 1 : d;
}

size_t str_suggest_limit(size_t len)
{
    size_t cap = len / 3;
    if (cap < 1)
        cap = 1;
    if (cap > 3)
        cap = 3;
    return cap;
}

const char *str_suggest(const char *word, const char *const *cands, size_t n)
{
    size_t cap = str_suggest_limit(strlen(word));
    const char *best = NULL;
    size_t best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        size_t d = str_edit_distance(word, cands[i], cap);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

const char *str_suggest_list(const char *word, const char *const *cands)
{
    size_t n = 0;
    while (cands[n])
        n++;
    return str_suggest(word, cands, n);
}

int str_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void str_hex_encode(const void *data, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *d = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

int str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !memcmp(s + ls - lx, suffix, lx);
}

int str_parse_bytes(const char *s, long long *bytes)
{
    static const struct {
        const char *u;
        double m;
    } units[] = {
        {"", 1}, {"b", 1}, {"k", 1024.0}, {"kb", 1024.0}, {"ki", 1024.0}, {"kib", 1024.0},
        {"m", 1048576.0}, {"mb", 1048576.0}, {"mi", 1048576.0}, {"mib", 1048576.0},
        {"g", 1073741824.0}, {"gb", 1073741824.0}, {"gi", 1073741824.0}, {"gib", 1073741824.0},
        {"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"ti", 1099511627776.0}, {"tib", 1099511627776.0},
    };
    if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
        return -1;
    char *end;
    errno = 0;
    double n = strtod(s, &end);
    if (end == s || errno || !(n >= 0) || n > 9.2e18)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcasecmp(end, units[i].u)) {
            double b = n * units[i].m;
            if (!(b < 9.2e18))
                return -1;
            *bytes = (long long)b;
            return 0;
        }
    return -1;
}
