/*
 * duration.c: ISO-8601 durations, parsed once, in one place.
 *
 * Accepted: an optional sign, "P", then days ("nD") and weeks ("nW") and,
 * after "T", hours, minutes and seconds, each with an optional decimal
 * fraction on its last component ("PT0.05S", "PT1.5H"). Years and months are
 * refused: they have no fixed length and no Kestra property needs them.
 * Java also reads a comma as the decimal mark and signs on each component
 * ("PT-5S"); both are accepted here.
 */
#include "util/datetime.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Reads "123" or "123.456" at *p into micro-units of unit_us. */
static int read_number(const char **pp, int64_t unit_us, int64_t *out, int *had_frac)
{
    const char *p = *pp;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t whole = 0;
    while (isdigit((unsigned char)*p)) {
        if (whole > INT64_MAX / 10 - 10)
            return -2;
        whole = whole * 10 + (*p++ - '0');
    }
    if (whole > INT64_MAX / unit_us)
        return -2;
    int64_t v = whole * unit_us;
    *had_frac = 0;
    if (*p == '.' || *p == ',') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t scale = unit_us;
        double frac_us = 0;
        double div = 10;
        while (isdigit((unsigned char)*p)) {
            frac_us += (double)(*p++ - '0') * (double)scale / div;
            div *= 10;
        }
        v += (int64_t)(frac_us + 0.5);
        *had_frac = 1;
    }
    *out = neg ? -v : v;
    *pp = p;
    return 0;
}

int duration_parse(const char *s, int64_t *us, kerr *e)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (*p != 'P' && *p != 'p')
        return kerr_set(e, "invalid duration '%s': expected ISO-8601 such as PT30S, PT1H30M or P1D", s);
    p++;
    int64_t total = 0;
    int in_time = 0, any = 0, after_frac = 0;
    /* order of designators: D/W before T; H, M, S after */
    const char *order_date = "WD", *order_time = "HMS";
    int last_rank = -1;
    while (*p) {
        if (*p == 'T' || *p == 't') {
            if (in_time)
                goto bad;
            in_time = 1;
            last_rank = -1;
            p++;
            if (!*p)
                goto bad;
            continue;
        }
        if (after_frac)
            goto bad;
        int64_t v;
        int frac;
        const char *start = p;
        int64_t unit;
        /* find the designator to know the unit before reading the fraction */
        const char *q = p;
        if (*q == '-' || *q == '+')
            q++;
        while (isdigit((unsigned char)*q) || *q == '.' || *q == ',')
            q++;
        char d = (char)toupper((unsigned char)*q);
        const char *order = in_time ? order_time : order_date;
        const char *pos = d ? strchr(order, d) : NULL;
        if (!pos) {
            if (!in_time && (d == 'Y' || d == 'M'))
                return kerr_set(e, "invalid duration '%s': years and months have no fixed length; use days (P30D)", s);
            goto bad;
        }
        int rank = (int)(pos - order);
        if (rank <= last_rank)
            goto bad;
        last_rank = rank;
        switch (d) {
        case 'W': unit = 7LL * 86400 * US_PER_SEC; break;
        case 'D': unit = 86400LL * US_PER_SEC; break;
        case 'H': unit = 3600LL * US_PER_SEC; break;
        case 'M': unit = 60LL * US_PER_SEC; break;
        default: unit = US_PER_SEC; break;
        }
        int rc = read_number(&p, unit, &v, &frac);
        if (rc == -2)
            return kerr_set(e, "invalid duration '%s': too large", s);
        if (rc || p != q)
            goto bad;
        (void)start;
        if (frac && d != 'S')
            after_frac = 1;
        if ((v > 0 && total > INT64_MAX - v) || (v < 0 && total < INT64_MIN - v))
            return kerr_set(e, "invalid duration '%s': too large", s);
        total += v;
        any = 1;
        p++;
    }
    if (!any)
        goto bad;
    *us = neg ? -total : total;
    return 0;
bad:
    return kerr_set(e, "invalid duration '%s': expected ISO-8601 such as PT30S, PT1H30M or P1D", s);
}

static char *put_u64(char *p, uint64_t v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

/* Written digit by digit (no snprintf): an answer about an execution formats
 * two durations per task run. */
void duration_format(int64_t us, char *out, size_t outsz)
{
    char body[64], *p = body;
    int neg = us < 0;
    uint64_t u = neg ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    uint64_t h = u / (3600ULL * US_PER_SEC);
    u %= 3600ULL * US_PER_SEC;
    uint64_t m = u / (60ULL * US_PER_SEC);
    u %= 60ULL * US_PER_SEC;
    uint64_t s = u / US_PER_SEC, frac = u % US_PER_SEC;
    /* java.time.Duration prints hours, never days */
    if (neg)
        *p++ = '-';
    *p++ = 'P';
    *p++ = 'T';
    if (h) {
        p = put_u64(p, h);
        *p++ = 'H';
    }
    if (m) {
        p = put_u64(p, m);
        *p++ = 'M';
    }
    if (s || frac || (!h && !m)) {
        p = put_u64(p, s);
        if (frac) {
            char f[6];
            for (int i = 5; i >= 0; i--, frac /= 10)
                f[i] = (char)('0' + frac % 10);
            int len = 6;
            while (f[len - 1] == '0')
                len--;
            *p++ = '.';
            memcpy(p, f, (size_t)len);
            p += len;
        }
        *p++ = 'S';
    }
    if (!outsz)
        return;
    size_t n = (size_t)(p - body);
    if (n >= outsz) /* cut as snprintf would */
        n = outsz - 1;
    memcpy(out, body, n);
    out[n] = 0;
}
