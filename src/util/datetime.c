/*
 * datetime.c: civil time, time zones from the tz database, ISO-8601
 * date-times (durations live in duration.c).
 *
 * Zones are read from TZif files (RFC 8536, versions 1 to 3) under
 * /usr/share/zoneinfo ($TZDIR when set): the 64-bit section when there is one, and the POSIX
 * TZ string of the footer ("CET-1CEST,M3.5.0,M10.5.0/3") for instants after
 * the last transition, which is all of them with "slim" files and everything
 * after 2037 with "fat" ones. kite never calls localtime() or reads TZ for
 * conversions: a zone is an immutable object, so any thread may use one.
 *
 * DESIGN: zones are loaded on first use by name and kept for the process
 * lifetime in a small table guarded by one mutex; the table holds pointers
 * that never move, so callers keep the const tzone * without holding the
 * lock. Conversions only read the zone.
 *
 * Offsets are seconds east of UTC everywhere in this file (POSIX TZ strings
 * count the other way: "CET-1" is UTC+1; the parser flips the sign).
 */
#include "util/datetime.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/mem.h"

#ifndef KITE_ZONEINFO
#define KITE_ZONEINFO "/usr/share/zoneinfo"
#endif

#define TZIF_MAX_BYTES (1 << 20)
#define SECS_PER_DAY 86400LL

/* ---- civil arithmetic --------------------------------------------------- */

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar
 * over the whole int range of years. */
int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (mm <= 2));
    *m = mm;
    *d = dd;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

/* ---- the zone object ------------------------------------------------------ */

/* A POSIX TZ rule date: Jn (1-365, Feb 29 never counted), n (0-365), or
 * Mm.w.d (day d of week w of month m, w = 5 meaning the last). */
typedef struct tz_rule_date {
    char kind;                  /* 'J', 'N' or 'M' */
    int n, month, week, wday;
    int time;                   /* seconds after local midnight, may be <0 or >24h */
} tz_rule_date;

typedef struct tz_posix {
    int std_off, dst_off;       /* seconds east */
    int has_dst;
    tz_rule_date start, end;
} tz_posix;

struct tzone {
    char *name;
    int fixed;                  /* 1: fixed_off always */
    int fixed_off;
    int ntrans;
    int64_t *trans;             /* seconds, ascending */
    int32_t *trans_off;         /* offset in force from trans[i] */
    int32_t first_off;          /* before trans[0] (time type 0) */
    int has_footer;
    tz_posix footer;
};

/* ---- POSIX TZ strings ------------------------------------------------------ */

static int posix_name(const char **pp)
{
    const char *p = *pp;
    if (*p == '<') {
        const char *q = strchr(p, '>');
        if (!q || q - p < 2)
            return -1;
        *pp = q + 1;
        return 0;
    }
    int n = 0;
    while (isalpha((unsigned char)p[n]))
        n++;
    if (n < 3)
        return -1;
    *pp = p + n;
    return 0;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536 extension); into seconds. */
static int posix_hms(const char **pp, int *out, int max_h)
{
    const char *p = *pp;
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    int h = 0, m = 0, s = 0;
    while (isdigit((unsigned char)*p)) {
        h = h * 10 + (*p++ - '0');
        if (h > max_h)
            return -1;
    }
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return -1;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
                return -1;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    if (m > 59 || s > 59)
        return -1;
    *out = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return 0;
}

static int posix_int(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p))
        return -1;
    int v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > hi)
            return -1;
    }
    if (v < lo)
        return -1;
    *out = v;
    *pp = p;
    return 0;
}

static int posix_date(const char **pp, tz_rule_date *r)
{
    const char *p = *pp;
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (posix_int(&p, 1, 365, &r->n))
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (posix_int(&p, 1, 12, &r->month) || *p++ != '.' ||
            posix_int(&p, 1, 5, &r->week) || *p++ != '.' ||
            posix_int(&p, 0, 6, &r->wday))
            return -1;
    } else {
        r->kind = 'N';
        if (posix_int(&p, 0, 365, &r->n))
            return -1;
    }
    r->time = 7200;
    if (*p == '/') {
        p++;
        if (posix_hms(&p, &r->time, 167))
            return -1;
    }
    *pp = p;
    return 0;
}

/* Parses a POSIX TZ string; 0 on success. */
static int posix_parse(const char *s, tz_posix *tp)
{
    const char *p = s;
    int off;
    memset(tp, 0, sizeof *tp);
    if (posix_name(&p) || posix_hms(&p, &off, 24))
        return -1;
    tp->std_off = -off;
    if (!*p)
        return 0;
    if (posix_name(&p))
        return -1;
    tp->has_dst = 1;
    tp->dst_off = tp->std_off + 3600;
    if (*p && *p != ',') {
        if (posix_hms(&p, &off, 24))
            return -1;
        tp->dst_off = -off;
    }
    if (!*p) {
        /* No rule: POSIX leaves it to the implementation; use the US rule. */
        const char *d = "M3.2.0,M11.1.0";
        posix_date(&d, &tp->start);
        d++;
        posix_date(&d, &tp->end);
        return 0;
    }
    if (*p++ != ',' || posix_date(&p, &tp->start) || *p++ != ',' ||
        posix_date(&p, &tp->end) || *p)
        return -1;
    return 0;
}

/* The instant (seconds) at which rule date r happens in year y, its time
 * being read at offset off. */
static int64_t rule_instant(const tz_rule_date *r, int y, int off)
{
    int64_t day;
    if (r->kind == 'J') {
        day = days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
    } else if (r->kind == 'N') {
        day = days_from_civil(y, 1, 1) + r->n;
    } else {
        int64_t first = days_from_civil(y, r->month, 1);
        int wd1 = (int)((first % 7 + 11) % 7);  /* 1970-01-01 was a Thursday */
        int64_t d = first + (r->wday - wd1 + 7) % 7 + (int64_t)(r->week - 1) * 7;
        int64_t last = first + days_in_month(y, r->month) - 1;
        while (d > last)
            d -= 7;
        day = d;
    }
    return day * SECS_PER_DAY + r->time - off;
}

static int posix_offset_at(const tz_posix *tp, int64_t t)
{
    if (!tp->has_dst)
        return tp->std_off;
    int y, m, d;
    civil_from_days(floor_div(t + tp->std_off, SECS_PER_DAY), &y, &m, &d);
    int64_t s = rule_instant(&tp->start, y, tp->std_off);
    int64_t e = rule_instant(&tp->end, y, tp->dst_off);
    int dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return dst ? tp->dst_off : tp->std_off;
}

/* ---- TZif ------------------------------------------------------------------ */

static int64_t be32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

typedef struct tzif_counts {
    int64_t isut, isstd, leap, time, type, chr;
} tzif_counts;

static int tzif_header(const unsigned char *p, size_t n, tzif_counts *c, int *version)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = p[4] ? p[4] - '0' : 1;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    if (c->isut < 0 || c->isstd < 0 || c->leap < 0 || c->time < 0 || c->type < 1 ||
        c->chr < 0 || c->type > 256 || c->time > 100000 || c->leap > 10000 ||
        c->chr > 100000 || (c->isut && c->isut != c->type) ||
        (c->isstd && c->isstd != c->type))
        return -1;
    return 0;
}

static size_t tzif_block_len(const tzif_counts *c, int tsize)
{
    return (size_t)(c->time * tsize + c->time + c->type * 6 + c->chr +
                    c->leap * (tsize + 4) + c->isstd + c->isut);
}

/* Fills z from the TZif bytes; 0 or -1 with a reason in e. */
static int tzif_parse(tzone *z, const unsigned char *buf, size_t n, kerr *e)
{
    tzif_counts c;
    int version;
    if (tzif_header(buf, n, &c, &version))
        return kerr_set(e, "not a TZif file or a damaged one");
    const unsigned char *p = buf + 44;
    size_t left = n - 44;
    int tsize = 4;
    size_t blen = tzif_block_len(&c, 4);
    if (blen > left)
        return kerr_set(e, "truncated TZif file");
    if (version >= 2) {
        p += blen;
        left -= blen;
        if (tzif_header(p, left, &c, &version))
            return kerr_set(e, "damaged TZif file (second header)");
        p += 44;
        left -= 44;
        tsize = 8;
        blen = tzif_block_len(&c, 8);
        if (blen > left)
            return kerr_set(e, "truncated TZif file");
    }
    if (c.leap)
        return kerr_set(e, "zones with leap seconds (right/...) are not supported");
    const unsigned char *times = p;
    const unsigned char *idx = times + c.time * tsize;
    const unsigned char *types = idx + c.time;
    int32_t *offs = xmalloc((size_t)c.type * sizeof *offs);
    for (int64_t i = 0; i < c.type; i++) {
        int64_t o = be32(types + i * 6);
        if (o <= -26 * 3600 || o >= 26 * 3600) {
            free(offs);
            return kerr_set(e, "damaged TZif file (offset out of range)");
        }
        offs[i] = (int32_t)o;
    }
    z->ntrans = (int)c.time;
    z->trans = xmalloc((size_t)(c.time ? c.time : 1) * sizeof *z->trans);
    z->trans_off = xmalloc((size_t)(c.time ? c.time : 1) * sizeof *z->trans_off);
    for (int64_t i = 0; i < c.time; i++) {
        z->trans[i] = tsize == 8 ? be64(times + i * 8) : be32(times + i * 4);
        if (idx[i] >= c.type || (i > 0 && z->trans[i] <= z->trans[i - 1])) {
            free(offs);
            return kerr_set(e, "damaged TZif file (transitions)");
        }
        z->trans_off[i] = offs[idx[i]];
    }
    z->first_off = offs[0];
    free(offs);
    if (version >= 2) {
        const unsigned char *f = p + blen;
        size_t fl = left - blen;
        if (fl >= 2 && f[0] == '\n') {
            const unsigned char *nl = memchr(f + 1, '\n', fl - 1);
            if (nl && nl > f + 1) {
                char tzs[256];
                size_t len = (size_t)(nl - f - 1);
                if (len < sizeof tzs) {
                    memcpy(tzs, f + 1, len);
                    tzs[len] = '\0';
                    if (posix_parse(tzs, &z->footer))
                        return kerr_set(e, "damaged TZif file (footer '%s')", tzs);
                    z->has_footer = 1;
                }
            }
        }
    }
    return 0;
}

static void tz_destroy(tzone *z)
{
    if (!z)
        return;
    free(z->name);
    free(z->trans);
    free(z->trans_off);
    free(z);
}

static tzone *tz_load_file(const char *name, const char *path, kerr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kerr_set(e, "unknown time zone '%s'", name);
        return NULL;
    }
    unsigned char *buf = xmalloc(TZIF_MAX_BYTES);
    size_t n = fread(buf, 1, TZIF_MAX_BYTES, f);
    int unreadable = ferror(f);     /* a folder such as "Europe" */
    fclose(f);
    if (unreadable) {
        free(buf);
        kerr_set(e, "unknown time zone '%s'", name);
        return NULL;
    }
    tzone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    kerr sub = KERR_INIT;
    if (n == TZIF_MAX_BYTES || tzif_parse(z, buf, n, &sub)) {
        kerr_set(e, "time zone '%s': %s", name,
                 n == TZIF_MAX_BYTES ? "file too large" : sub.msg);
        free(buf);
        tz_destroy(z);
        return NULL;
    }
    free(buf);
    return z;
}

/* "+02:00", "-05:30", "+2", "+0530", "+02:00:00" after an optional "UTC" or
 * "GMT" prefix; returns 0 and the offset in seconds east. */
static int parse_fixed_offset(const char *s, int *off)
{
    const char *p = s;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1;
    int d[6], nd = 0;
    int colons = 0;
    while (*p && nd < 6) {
        if (isdigit((unsigned char)*p))
            d[nd++] = *p - '0';
        else if (*p == ':' && (nd == 1 || nd == 2 || nd == 4))
            colons++;
        else
            return -1;
        p++;
    }
    if (*p)
        return -1;
    int h, m = 0, sec = 0;
    if (colons == 0) {
        if (nd == 1)
            h = d[0];
        else if (nd == 2)
            h = d[0] * 10 + d[1];
        else if (nd == 4)
            h = d[0] * 10 + d[1], m = d[2] * 10 + d[3];
        else if (nd == 6)
            h = d[0] * 10 + d[1], m = d[2] * 10 + d[3], sec = d[4] * 10 + d[5];
        else
            return -1;
    } else {
        /* h:mm, hh:mm, hh:mm:ss */
        const char *c1 = strchr(s, ':');
        int hd = (int)(c1 - s - 1);
        if (hd < 1 || hd > 2)
            return -1;
        h = hd == 1 ? d[0] : d[0] * 10 + d[1];
        if (nd - hd != 2 && nd - hd != 4)
            return -1;
        if (colons != (nd - hd) / 2)
            return -1;
        m = d[hd] * 10 + d[hd + 1];
        if (nd - hd == 4)
            sec = d[hd + 2] * 10 + d[hd + 3];
    }
    if (h > 18 || m > 59 || sec > 59 || h * 3600 + m * 60 + sec > 18 * 3600)
        return -1;
    *off = sign * (h * 3600 + m * 60 + sec);
    return 0;
}

static void format_offset(int off, char *out, size_t outsz)
{
    if (off == 0) {
        out[0] = 'Z';
        out[1] = 0;
        return;
    }
    char sign = off < 0 ? '-' : '+';
    int a = off < 0 ? -off : off;
    if (a % 60)
        snprintf(out, outsz, "%c%02d:%02d:%02d", sign, a / 3600, a / 60 % 60, a % 60);
    else
        snprintf(out, outsz, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
}

static tzone *tz_new_fixed(const char *name, int off)
{
    tzone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    z->fixed = 1;
    z->fixed_off = off;
    return z;
}

/* A zone from a name that is not in the tz database: UTC and its aliases,
 * and fixed offsets. NULL when name is none of those. */
static tzone *tz_make_fixed(const char *name)
{
    if (!strcmp(name, "UTC") || !strcmp(name, "Z") || !strcmp(name, "GMT") ||
        !strcmp(name, "UT") || !strcmp(name, "z"))
        return tz_new_fixed(name, 0);
    int off;
    const char *p = name;
    if (!strncmp(p, "UTC", 3) || !strncmp(p, "GMT", 3))
        p += 3;
    else if (!strncmp(p, "UT", 2))
        p += 2;
    if (parse_fixed_offset(p, &off))
        return NULL;
    return tz_new_fixed(name, off);
}

/* The cache: name -> zone, append-only. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static tzone **tz_table;
static size_t tz_count, tz_cap;

static const tzone *tz_cache_find(const char *name)
{
    for (size_t i = 0; i < tz_count; i++)
        if (!strcmp(tz_table[i]->name, name))
            return tz_table[i];
    return NULL;
}

static void tz_cache_add(tzone *z)
{
    if (tz_count == tz_cap) {
        tz_cap = tz_cap ? tz_cap * 2 : 16;
        tz_table = xrealloc(tz_table, tz_cap * sizeof *tz_table);
    }
    tz_table[tz_count++] = z;
}

static int tz_name_ok(const char *name)
{
    if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 200)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-.", *p))
            return 0;
    return 1;
}

const tzone *tz_get(const char *name, kerr *e)
{
    if (!name) {
        kerr_set(e, "no time zone name");
        return NULL;
    }
    pthread_mutex_lock(&tz_lock);
    const tzone *found = tz_cache_find(name);
    if (found) {
        pthread_mutex_unlock(&tz_lock);
        return found;
    }
    tzone *z = tz_make_fixed(name);
    if (!z) {
        if (!tz_name_ok(name)) {
            pthread_mutex_unlock(&tz_lock);
            kerr_set(e, "invalid time zone name '%s'", name);
            return NULL;
        }
        /* TZDIR, as glibc reads it, lets tests and odd systems point
         * elsewhere; it is read at each load, and loads are cached by name. */
        const char *dir = getenv("TZDIR");
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : KITE_ZONEINFO, name);
        z = tz_load_file(name, path, e);
    }
    if (z)
        tz_cache_add(z);
    pthread_mutex_unlock(&tz_lock);
    return z;
}

const tzone *tz_utc(void)
{
    static const tzone *utc;
    const tzone *z = __atomic_load_n(&utc, __ATOMIC_ACQUIRE);
    if (!z) {
        z = tz_get("UTC", NULL);
        __atomic_store_n(&utc, z, __ATOMIC_RELEASE);
    }
    return z;
}

static const tzone *local_zone;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void tz_local_init(void)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':')
            tz++;
        const char *zi = strstr(tz, "zoneinfo/");
        if (zi)
            tz = zi + 9;
        const tzone *z = tz_get(tz, NULL);
        if (z) {
            local_zone = z;
            return;
        }
        /* A POSIX rule such as "CET-1CEST,M3.5.0,M10.5.0/3". */
        tz_posix tp;
        if (posix_parse(tz, &tp) == 0) {
            tzone *nz = xcalloc(1, sizeof *nz);
            nz->name = xstrdup(tz);
            nz->has_footer = 1;
            nz->footer = tp;
            pthread_mutex_lock(&tz_lock);
            tz_cache_add(nz);
            pthread_mutex_unlock(&tz_lock);
            local_zone = nz;
            return;
        }
    }
    char link[512];
    ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
    if (n > 0) {
        link[n] = '\0';
        const char *zi = strstr(link, "zoneinfo/");
        if (zi) {
            const tzone *z = tz_get(zi + 9, NULL);
            if (z) {
                local_zone = z;
                return;
            }
        }
    }
    /* A copied file rather than a link: load it as it is. */
    tzone *z = tz_load_file("localtime", "/etc/localtime", NULL);
    if (z) {
        pthread_mutex_lock(&tz_lock);
        tz_cache_add(z);
        pthread_mutex_unlock(&tz_lock);
        local_zone = z;
        return;
    }
    local_zone = tz_utc();
}

const tzone *tz_local(void)
{
    pthread_once(&local_once, tz_local_init);
    return local_zone;
}

const char *tz_name(const tzone *z)
{
    return z->name;
}

/* ---- conversions ------------------------------------------------------------ */

static int offset_at_sec(const tzone *z, int64_t t)
{
    if (z->fixed)
        return z->fixed_off;
    if (z->ntrans == 0 || t < z->trans[0]) {
        if (z->ntrans == 0 && z->has_footer)
            return posix_offset_at(&z->footer, t);
        return z->first_off;
    }
    if (t >= z->trans[z->ntrans - 1] && z->has_footer)
        return posix_offset_at(&z->footer, t);
    int lo = 0, hi = z->ntrans - 1;   /* trans[lo] <= t */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return z->trans_off[lo];
}

int tz_offset_at(const tzone *z, int64_t us)
{
    return offset_at_sec(z, floor_div(us, US_PER_SEC));
}

void tz_to_civil(const tzone *z, int64_t us, civil *c)
{
    int64_t secs = floor_div(us, US_PER_SEC);
    int off = offset_at_sec(z, secs);
    int64_t local = secs + off;
    int64_t days = floor_div(local, SECS_PER_DAY);
    int64_t sod = local - days * SECS_PER_DAY;
    civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(sod / 3600);
    c->min = (int)(sod / 60 % 60);
    c->sec = (int)(sod % 60);
    c->usec = (int)(us - secs * US_PER_SEC);
    c->wday = (int)((days % 7 + 11) % 7);
    c->yday = (int)(days - days_from_civil(c->year, 1, 1) + 1);
    c->offset = off;
}

int64_t tz_from_civil(const tzone *z, const civil *c)
{
    /* Normalise out-of-range fields (month 13, day 0, hour 24...) first, so
     * callers may do arithmetic on the fields. */
    int64_t y = c->year, mo = c->month - 1;
    y += floor_div(mo, 12);
    mo -= floor_div(mo, 12) * 12;
    int64_t local = (days_from_civil((int)y, (int)mo + 1, 1) + c->day - 1) * SECS_PER_DAY +
                    (int64_t)c->hour * 3600 + (int64_t)c->min * 60 + c->sec;
    int64_t frac = c->usec;
    if (z->fixed)
        return (local - z->fixed_off) * US_PER_SEC + frac;
    /* The offsets in force a day either side bound every candidate: a local
     * time maps to local - off for an off in force at that instant. */
    int o1 = offset_at_sec(z, local - SECS_PER_DAY);
    int o2 = offset_at_sec(z, local + SECS_PER_DAY);
    int64_t t1 = local - o1, t2 = local - o2;
    int ok1 = offset_at_sec(z, t1) == o1;
    int ok2 = offset_at_sec(z, t2) == o2;
    int64_t t;
    if (ok1 && ok2)
        t = t1 < t2 ? t1 : t2;      /* overlap: the earlier instant */
    else if (ok1)
        t = t1;
    else if (ok2)
        t = t2;
    else
        t = local - o1;             /* gap: shifted forward by its length */
    return t * US_PER_SEC + frac;
}

/* ---- ISO-8601 date-times ----------------------------------------------------- */

static int read_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return 0;
}

#define PARSE_FAIL(p, what)                                                             \
    do {                                                                                \
        kerr_set(e, "invalid date-time '%s': %s at column %d", s, what,                 \
                 (int)((p) - s) + 1);                                                   \
        return -1;                                                                      \
    } while (0)

int datetime_parse(const char *s, const tzone *dflt, int64_t *us, int *offset, kerr *e)
{
    const char *p = s;
    civil c;
    memset(&c, 0, sizeof c);
    while (*p == ' ')
        p++;
    int ysign = 1;
    if (*p == '+' || *p == '-') {
        ysign = *p == '-' ? -1 : 1;
        p++;
    }
    const char *ys = p;
    int y = 0, nd = 0;
    while (isdigit((unsigned char)*p) && nd < 9) {
        y = y * 10 + (*p++ - '0');
        nd++;
    }
    if (nd < 4)
        PARSE_FAIL(ys, "expected a 4-digit year");
    if (nd > 4 && (p - s == nd || y > 200000))
        PARSE_FAIL(ys, "year out of range (more than 4 digits need a sign, at most +/-200000)");
    c.year = ysign * y;
    if (*p != '-')
        PARSE_FAIL(p, "expected '-' after the year");
    p++;
    if (read_digits(&p, 2, &c.month))
        PARSE_FAIL(p, "expected a 2-digit month");
    if (c.month < 1 || c.month > 12)
        PARSE_FAIL(p - 2, "month out of range 01-12");
    if (*p != '-')
        PARSE_FAIL(p, "expected '-' after the month");
    p++;
    if (read_digits(&p, 2, &c.day))
        PARSE_FAIL(p, "expected a 2-digit day");
    if (c.day < 1 || c.day > days_in_month(c.year, c.month))
        PARSE_FAIL(p - 2, "day out of range for the month");
    int have_time = 0;
    if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        have_time = 1;
        if (read_digits(&p, 2, &c.hour))
            PARSE_FAIL(p, "expected a 2-digit hour");
        if (c.hour > 23)
            PARSE_FAIL(p - 2, "hour out of range 00-23");
        if (*p != ':')
            PARSE_FAIL(p, "expected ':' after the hour");
        p++;
        if (read_digits(&p, 2, &c.min))
            PARSE_FAIL(p, "expected 2-digit minutes");
        if (c.min > 59)
            PARSE_FAIL(p - 2, "minutes out of range 00-59");
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &c.sec))
                PARSE_FAIL(p, "expected 2-digit seconds");
            if (c.sec > 59)
                PARSE_FAIL(p - 2, "seconds out of range 00-59");
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    PARSE_FAIL(p, "expected digits after the decimal mark");
                int n = 0, v = 0;
                while (isdigit((unsigned char)*p)) {
                    if (n < 6)
                        v = v * 10 + (*p - '0');
                    else if (n >= 9)
                        PARSE_FAIL(p, "more than 9 fraction digits");
                    n++;
                    p++;
                }
                for (int i = n; i < 6; i++)
                    v *= 10;
                c.usec = v;
            }
        }
    }
    int have_off = 0, off = 0;
    if (have_time && (*p == 'Z' || *p == 'z')) {
        have_off = 1;
        p++;
    } else if (have_time && (*p == '+' || *p == '-')) {
        const char *os = p;
        char buf[16];
        size_t n = 1;
        buf[0] = *p++;
        while ((isdigit((unsigned char)*p) || *p == ':') && n < sizeof buf - 1)
            buf[n++] = *p++;
        buf[n] = '\0';
        if (parse_fixed_offset(buf, &off))
            PARSE_FAIL(os, "invalid UTC offset");
        have_off = 1;
    }
    const tzone *zone = dflt ? dflt : tz_utc();
    if (*p == '[') {
        const char *zs = ++p;
        const char *ze = strchr(zs, ']');
        if (!ze)
            PARSE_FAIL(zs - 1, "expected ']' after the zone name");
        char zn[256];
        size_t zl = (size_t)(ze - zs);
        if (zl == 0 || zl >= sizeof zn)
            PARSE_FAIL(zs, "expected a zone name");
        memcpy(zn, zs, zl);
        zn[zl] = '\0';
        kerr sub = KERR_INIT;
        const tzone *z = tz_get(zn, &sub);
        if (!z)
            PARSE_FAIL(zs, sub.msg);
        zone = z;
        p = ze + 1;
    }
    while (*p == ' ')
        p++;
    if (*p)
        PARSE_FAIL(p, "unexpected text");
    int64_t t;
    if (have_off) {
        int64_t local = (days_from_civil(c.year, c.month, c.day) * SECS_PER_DAY +
                         c.hour * 3600 + c.min * 60 + c.sec);
        t = (local - off) * US_PER_SEC + c.usec;
    } else {
        t = tz_from_civil(zone, &c);
        off = tz_offset_at(zone, t);
    }
    *us = t;
    if (offset)
        *offset = off;
    return 0;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* The common case, years 0 to 9999, written digit by digit: this runs for
 * every date of every task run the store writes and the API answers (a dozen
 * a task), and snprintf made it 5,000 instructions a date. */
static void format_fast(const civil *c, char *out)
{
    char *p = out;
    p = put2(p, c->year / 100);
    p = put2(p, c->year % 100);
    *p++ = '-';
    p = put2(p, c->month);
    *p++ = '-';
    p = put2(p, c->day);
    *p++ = 'T';
    p = put2(p, c->hour);
    *p++ = ':';
    p = put2(p, c->min);
    *p++ = ':';
    p = put2(p, c->sec);
    if (c->usec) {
        int digits = c->usec % 1000 ? 6 : 3, v = digits == 6 ? c->usec : c->usec / 1000;
        *p++ = '.';
        for (int i = digits - 1; i >= 0; i--, v /= 10)
            p[i] = (char)('0' + v % 10);
        p += digits;
    }
    format_offset(c->offset, p, 16);
}

void datetime_format(int64_t us, const tzone *z, char *out, size_t outsz)
{
    civil c;
    tz_to_civil(z ? z : tz_utc(), us, &c);
    if (outsz >= 40 && c.year >= 0 && c.year <= 9999) {
        format_fast(&c, out);
        return;
    }
    char frac[16] = "";
    if (c.usec % 1000 == 0 && c.usec)
        snprintf(frac, sizeof frac, ".%03d", c.usec / 1000);
    else if (c.usec)
        snprintf(frac, sizeof frac, ".%06d", c.usec);
    char ofs[16];
    format_offset(c.offset, ofs, sizeof ofs);
    char ys[16];
    if (c.year >= 0 && c.year <= 9999)
        snprintf(ys, sizeof ys, "%04d", c.year);
    else if (c.year > 9999)
        snprintf(ys, sizeof ys, "+%d", c.year);
    else
        snprintf(ys, sizeof ys, "-%04d", -c.year);
    snprintf(out, outsz, "%s-%02d-%02dT%02d:%02d:%02d%s%s", ys, c.month, c.day, c.hour,
             c.min, c.sec, frac, ofs);
}
