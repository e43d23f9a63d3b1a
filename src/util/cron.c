/*
 * cron.c: cron expressions, parsed into bit sets and evaluated in the civil
 * time of a time zone.
 *
 * Syntax (docs/schedules.md has the user's version): 5 fields, minute hour
 * day-of-month month day-of-week, or 6 with a leading seconds field; each a
 * list of `*`, values, ranges and steps (`*\/5`, `1-10/2`, `5/15`), with
 * month and day names (JAN-DEC, SUN-SAT, any case), day-of-week 0-7 (0 and
 * 7 are Sunday), `?` as `*` in the two day fields, and the Quartz additions
 * `L`, `LW`, `15W` (day of month) and `5L`, `5#3` (day of week), which
 * cron-utils' UNIX definition (what Kestra uses) refuses but which cost
 * little. When both day fields are restricted a day matches if either
 * matches (Vixie cron); when one of them starts with `*` or `?` the other
 * alone decides.
 *
 * Evaluation jumps field by field (month, day, hour, minute, second) over
 * local wall-clock times, then maps each matching wall-clock time to
 * instants in the zone:
 *   - one instant: it fires there;
 *   - none (skipped by a spring-forward gap): a fixed-time job (minute and
 *     hour fields both not starting with `*`) fires once at the first
 *     instant after the gap; other jobs skip it, since no real time passed;
 *   - two (repeated by a fall-back overlap): a fixed-time job fires at the
 *     first only; other jobs fire at both, so `0 * * * *` fires every real
 *     hour.
 * That is Vixie cron's documented behaviour for DST changes. The set of
 * fire times is one set; cron_next and cron_prev walk it in either
 * direction. Because wall-clock order and instant order differ around an
 * overlap, both walks start a little wide (by the largest offset change
 * nearby) and keep the best instant.
 */
#include "util/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

#define SECS_DAY 86400LL
#define SEARCH_YEARS 50   /* the longest gap: Feb 29 on a given weekday, 40 years */

struct cron_expr {
    char *spec;
    uint64_t sec, min, hour;    /* bits 0-59, 0-59, 0-23 */
    uint32_t dom;               /* bits 1-31 */
    uint32_t dom_w;             /* days with W: nearest weekday */
    uint16_t month;             /* bits 1-12 */
    uint8_t dow;                /* bits 0-6 */
    uint8_t dow_last;           /* weekdays with L: the last of the month */
    uint8_t dow_nth[7];         /* per weekday, bits 1-5: the nth of the month */
    unsigned dom_last : 1, dom_lw : 1;
    unsigned dom_star : 1, dow_star : 1, fixed : 1;
};

/* ---- parsing -------------------------------------------------------------- */

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field_def {
    const char *name;
    int lo, hi;
} fields[F_COUNT] = {
    {"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23},
    {"day-of-month", 1, 31}, {"month", 1, 12}, {"day-of-week", 0, 7},
};

/* What the parser of one field needs to report errors. */
typedef struct fctx {
    const char *spec;           /* the whole expression, for messages */
    int field;                  /* F_* */
    int number;                 /* 1-based position among the written fields */
    const char *text;           /* start of the text the fields were split from */
    int base;                   /* columns text starts after, in spec */
    kerr *e;
} fctx;

__attribute__((format(printf, 3, 4)))
static int ferr(const fctx *f, const char *at, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int col = (int)(at - f->text) + 1 + f->base;
    return kerr_set_at(f->e, 1, col, "cron '%s': %s (field %d, column %d)", f->spec, what,
                       f->number, col);
}

/* A number or a name at *pp (ending before end); the value in *out. */
static int parse_value(const fctx *f, const char **pp, const char *end, int *out)
{
    const struct field_def *d = &fields[f->field];
    const char *p = *pp;
    if (p < end && isdigit((unsigned char)*p)) {
        long v = 0;
        while (p < end && isdigit((unsigned char)*p)) {
            if (v < 100000)
                v = v * 10 + (*p - '0');
            p++;
        }
        if (v < d->lo || v > d->hi)
            return ferr(f, *pp, "%s %ld out of range %d-%d", d->name, v, d->lo, d->hi);
        *out = (int)v;
        *pp = p;
        return 0;
    }
    const char *q = p;
    while (q < end && isalpha((unsigned char)*q))
        q++;
    int n = (int)(q - p);
    if (n == 0) {
        if (p < end)
            return ferr(f, p, "%s: unexpected '%c'", d->name, *p);
        return ferr(f, p, "%s: expected a value", d->name);
    }
    const char *const *names = f->field == F_MON ? month_names
                               : f->field == F_DOW ? day_names : NULL;
    int count = f->field == F_MON ? 12 : 7;
    if (names && n == 3) {
        for (int i = 0; i < count; i++)
            if (!strncasecmp(p, names[i], 3)) {
                *out = f->field == F_MON ? i + 1 : i;
                *pp = q;
                return 0;
            }
    }
    if (f->field == F_MON)
        return ferr(f, p, "month '%.*s' is not a number (1-12) or a name (JAN-DEC)", n, p);
    if (f->field == F_DOW)
        return ferr(f, p, "day-of-week '%.*s' is not a number (0-7) or a name (SUN-SAT)",
                    n, p);
    return ferr(f, p, "%s '%.*s' is not a number", d->name, n, p);
}

/* Sets bits lo..hi by step into *mask; day-of-week 7 becomes 0. */
static void set_range(uint64_t *mask, int field, int lo, int hi, int step)
{
    for (int v = lo; v <= hi; v += step)
        *mask |= 1ULL << (field == F_DOW && v == 7 ? 0 : v);
}

/* One comma-separated item of a field, [p, end). */
static int parse_item(const fctx *f, cron_expr *c, uint64_t *mask, const char *p,
                      const char *end)
{
    const struct field_def *d = &fields[f->field];
    const char *start = p;
    int lo, hi, star = 0;
    if (p == end)
        return ferr(f, p, "%s: empty list item", d->name);
    if (*p == '*' || *p == '?') {
        if (*p == '?' && f->field != F_DOM && f->field != F_DOW)
            return ferr(f, p, "%s: '?' is only allowed in day-of-month and day-of-week",
                        d->name);
        lo = d->lo;
        hi = f->field == F_DOW ? 6 : d->hi;
        star = 1;
        p++;
    } else if (f->field == F_DOM && (*p == 'L' || *p == 'l') &&
               (p + 1 == end || p[1] == 'W' || p[1] == 'w')) {
        if (p + 1 == end) {
            c->dom_last = 1;
            return 0;
        }
        if (p + 2 != end)
            return ferr(f, p + 2, "day-of-month: unexpected text after 'LW'");
        c->dom_lw = 1;
        return 0;
    } else {
        if (parse_value(f, &p, end, &lo))
            return -1;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(f, &p, end, &hi))
                return -1;
            if (f->field == F_DOW && hi == 0 && lo > 0)
                hi = 7;         /* "MON-SUN": Sunday closes the week */
            if (hi < lo)
                return ferr(f, start, "%s range %d-%d is reversed", d->name, lo, hi);
        } else if (p < end && (*p == 'W' || *p == 'w') && f->field == F_DOM) {
            if (p + 1 != end)
                return ferr(f, p + 1, "day-of-month: unexpected text after 'W'");
            c->dom_w |= 1u << lo;
            return 0;
        } else if (p < end && (*p == 'L' || *p == 'l') && f->field == F_DOW) {
            if (p + 1 != end)
                return ferr(f, p + 1, "day-of-week: unexpected text after 'L'");
            c->dow_last |= (uint8_t)(1u << (lo % 7));
            return 0;
        } else if (p < end && *p == '#' && f->field == F_DOW) {
            const char *ns = ++p;
            int n = 0;
            while (p < end && isdigit((unsigned char)*p) && n < 100)
                n = n * 10 + (*p++ - '0');
            if (p == ns || p != end)
                return ferr(f, ns, "day-of-week: expected a week number 1-5 after '#'");
            if (n < 1 || n > 5)
                return ferr(f, ns, "day-of-week: week number %d out of range 1-5", n);
            c->dow_nth[lo % 7] |= (uint8_t)(1u << n);
            return 0;
        }
    }
    int step = 1;
    if (p < end && *p == '/') {
        const char *ss = ++p;
        if (p == end || !isdigit((unsigned char)*p))
            return ferr(f, ss, "%s: expected a step after '/'", d->name);
        long v = 0;
        while (p < end && isdigit((unsigned char)*p)) {
            if (v < 100000)
                v = v * 10 + (*p - '0');
            p++;
        }
        int maxstep = d->hi - d->lo + 1;
        if (v < 1 || v > maxstep)
            return ferr(f, ss, "%s step %ld out of range 1-%d", d->name, v, maxstep);
        step = (int)v;
        if (!star && hi == lo)
            hi = d->hi;     /* "5/15": from 5 to the end, every 15 */
    }
    if (p != end)
        return ferr(f, p, "%s: unexpected '%c'", d->name, *p);
    set_range(mask, f->field, lo, hi, step);
    return 0;
}

static int parse_field(const fctx *f, cron_expr *c, const char *p, const char *end)
{
    uint64_t mask = 0;
    while (1) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma ? comma : end;
        if (parse_item(f, c, &mask, p, ie))
            return -1;
        if (!comma)
            break;
        p = comma + 1;
    }
    switch (f->field) {
    case F_SEC: c->sec = mask; break;
    case F_MIN: c->min = mask; break;
    case F_HOUR: c->hour = mask; break;
    case F_DOM: c->dom = (uint32_t)mask; break;
    case F_MON: c->month = (uint16_t)mask; break;
    case F_DOW: c->dow = (uint8_t)mask; break;
    }
    return 0;
}

static const struct macro {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

void cron_free(cron_expr *c)
{
    if (!c)
        return;
    free(c->spec);
    free(c);
}

const char *cron_spec(const cron_expr *c)
{
    return c->spec;
}

cron_expr *cron_parse(const char *spec, int with_seconds, kerr *e)
{
    const char *s = spec;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    if (len == 0) {
        kerr_set(e, "cron '%s': empty expression", spec);
        return NULL;
    }
    cron_expr *c = xcalloc(1, sizeof *c);
    c->spec = xstrndup(s, len);
    const char *text = c->spec;
    char *expanded = NULL;
    if (*text == '@') {
        const char *found = NULL;
        for (size_t i = 0; i < sizeof macros / sizeof *macros; i++)
            if (!strcasecmp(text, macros[i].name))
                found = macros[i].expansion;
        if (!found) {
            if (!strcasecmp(text, "@reboot"))
                kerr_set_at(e, 1, 1, "cron '%s': @reboot is not supported: a schedule needs "
                            "times to fire at (start the flow from a trigger instead)", spec);
            else
                kerr_set_at(e, 1, 1, "cron '%s': unknown macro (known: @yearly, @annually, "
                            "@monthly, @weekly, @daily, @midnight, @hourly)", spec);
            cron_free(c);
            return NULL;
        }
        expanded = xasprintf("%s%s", with_seconds ? "0 " : "", found);
        text = expanded;
    }
    /* Split on blanks, remembering where each field starts. */
    const char *fs[8], *fe[8];
    int n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ' ' && *q != '\t')
            q++;
        if (n < 8) {
            fs[n] = p;
            fe[n] = q;
        }
        n++;
        p = q;
    }
    int want = with_seconds ? 6 : 5;
    if (n != want) {
        kerr_set(e, "cron '%s': expected %d fields (%s), found %d%s", spec, want,
                 with_seconds ? "second minute hour day-of-month month day-of-week"
                              : "minute hour day-of-month month day-of-week",
                 n, !with_seconds && n == 6 ? " (set withSeconds: true for a seconds field)"
                    : with_seconds && n == 5 ? " (withSeconds: true needs a seconds field first)"
                                             : "");
        free(expanded);
        cron_free(c);
        return NULL;
    }
    if (!with_seconds)
        c->sec = 1;                         /* second 0 */
    for (int i = 0; i < n; i++) {
        /* Columns count in the caller's spec, not in the trimmed copy. */
        fctx f = {spec, with_seconds ? i : i + 1, i + 1, text,
                  expanded ? 0 : (int)(s - spec), e};
        if (parse_field(&f, c, fs[i], fe[i])) {
            free(expanded);
            cron_free(c);
            return NULL;
        }
        int fld = f.field;
        int star = fs[i][0] == '*' || fs[i][0] == '?';
        if (fld == F_DOM)
            c->dom_star = (unsigned)star;
        if (fld == F_DOW)
            c->dow_star = (unsigned)star;
    }
    int min_star = fs[with_seconds ? 1 : 0][0] == '*';
    int hour_star = fs[with_seconds ? 2 : 1][0] == '*';
    c->fixed = !min_star && !hour_star;
    free(expanded);
    /* Refuse what can never fire ("0 0 30 2 *"): fifty years from 2000 hold
     * every combination of date, weekday and leap year (no skipped leap
     * year until 2100). */
    if (cron_next(c, NULL, 946684800LL * US_PER_SEC) < 0) {
        kerr_set(e, "cron '%s': never fires (no date matches day-of-month, month and "
                 "day-of-week together)", spec);
        cron_free(c);
        return NULL;
    }
    return c;
}

/* ---- matching ----------------------------------------------------------------- */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int dim(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static int weekday(int y, int m, int d)
{
    int64_t days = days_from_civil(y, m, d);
    return (int)((days % 7 + 11) % 7);
}

/* Smallest set bit >= from, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from > 63)
        return -1;
    if (from < 0)
        from = 0;
    uint64_t m = mask >> from << from;
    return m ? __builtin_ctzll(m) : -1;
}

/* Largest set bit <= from, or -1. */
static int prev_bit(uint64_t mask, int from)
{
    if (from < 0)
        return -1;
    uint64_t m = from >= 63 ? mask : mask & ((2ULL << from) - 1);
    return m ? 63 - __builtin_clzll(m) : -1;
}

/* The weekday nearest to day wd of the month, within the month (Quartz W). */
static int nearest_weekday(int y, int m, int wd)
{
    int last = dim(y, m);
    if (wd > last)
        return -1;
    int w = weekday(y, m, wd);
    if (w == 6)
        return wd == 1 ? 3 : wd - 1;
    if (w == 0)
        return wd == last ? wd - 2 : wd + 1;
    return wd;
}

static int day_matches(const cron_expr *c, int y, int m, int d)
{
    int w = weekday(y, m, d);
    int last = dim(y, m);
    int dom_ok = (c->dom >> d & 1) || (c->dom_last && d == last);
    if (!dom_ok && c->dom_lw) {
        int lw = last, lww = weekday(y, m, last);
        if (lww == 6)
            lw -= 1;
        else if (lww == 0)
            lw -= 2;
        dom_ok = d == lw;
    }
    if (!dom_ok && c->dom_w) {
        for (int wd = 1; wd <= 31 && !dom_ok; wd++)
            if ((c->dom_w >> wd & 1) && nearest_weekday(y, m, wd) == d)
                dom_ok = 1;
    }
    int dow_ok = (c->dow >> w & 1) || ((c->dow_last >> w & 1) && d + 7 > last) ||
                 (c->dow_nth[w] >> ((d - 1) / 7 + 1) & 1);
    if (c->dom_star || c->dow_star)
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

/* A wall-clock time, fields possibly one past their range while stepping. */
typedef struct wall {
    int y, mo, d, h, mi, s;
} wall;

static int64_t wall_secs(const wall *t)
{
    return days_from_civil(t->y, t->mo, t->d) * SECS_DAY + t->h * 3600 + t->mi * 60 + t->s;
}

static void wall_from_secs(int64_t L, wall *t)
{
    int64_t days = L / SECS_DAY - (L % SECS_DAY < 0);
    int64_t sod = L - days * SECS_DAY;
    civil_from_days(days, &t->y, &t->mo, &t->d);
    t->h = (int)(sod / 3600);
    t->mi = (int)(sod / 60 % 60);
    t->s = (int)(sod % 60);
}

static void next_day(wall *t)
{
    t->h = t->mi = t->s = 0;
    if (++t->d > dim(t->y, t->mo)) {
        t->d = 1;
        if (++t->mo > 12) {
            t->mo = 1;
            t->y++;
        }
    }
}

static void prev_day(wall *t)
{
    t->h = 23;
    t->mi = t->s = 59;
    if (--t->d < 1) {
        if (--t->mo < 1) {
            t->mo = 12;
            t->y--;
        }
        t->d = dim(t->y, t->mo);
    }
}

/* Moves t to the first matching wall-clock time at or after it; -1 past
 * year ymax. */
static int wall_next(const cron_expr *c, wall *t, int ymax)
{
    for (;;) {
        if (t->y > ymax)
            return -1;
        if (!(c->month >> t->mo & 1)) {
            int m = next_bit(c->month, t->mo + 1);
            if (m < 0) {
                t->y++;
                m = next_bit(c->month, 1);
            }
            t->mo = m;
            t->d = 1;
            t->h = t->mi = t->s = 0;
            continue;
        }
        if (!day_matches(c, t->y, t->mo, t->d)) {
            next_day(t);
            continue;
        }
        int h = next_bit(c->hour, t->h);
        if (h < 0) {
            next_day(t);
            continue;
        }
        if (h != t->h) {
            t->h = h;
            t->mi = t->s = 0;
        }
        int m = next_bit(c->min, t->mi);
        if (m < 0) {
            t->h++;
            t->mi = t->s = 0;
            continue;
        }
        if (m != t->mi) {
            t->mi = m;
            t->s = 0;
        }
        int s = next_bit(c->sec, t->s);
        if (s < 0) {
            t->mi++;
            t->s = 0;
            continue;
        }
        t->s = s;
        return 0;
    }
}

/* Moves t to the last matching wall-clock time at or before it; -1 before
 * year ymin. */
static int wall_prev(const cron_expr *c, wall *t, int ymin)
{
    for (;;) {
        if (t->y < ymin)
            return -1;
        if (!(c->month >> t->mo & 1)) {
            int m = prev_bit(c->month, t->mo - 1);
            if (m < 1) {
                t->y--;
                m = prev_bit(c->month, 12);
            }
            t->mo = m;
            t->d = dim(t->y, t->mo);
            t->h = 23;
            t->mi = t->s = 59;
            continue;
        }
        if (!day_matches(c, t->y, t->mo, t->d)) {
            prev_day(t);
            continue;
        }
        int h = prev_bit(c->hour, t->h);
        if (h < 0) {
            prev_day(t);
            continue;
        }
        if (h != t->h) {
            t->h = h;
            t->mi = t->s = 59;
        }
        int m = prev_bit(c->min, t->mi);
        if (m < 0) {
            t->h--;
            t->mi = t->s = 59;
            continue;
        }
        if (m != t->mi) {
            t->mi = m;
            t->s = 59;
        }
        int s = prev_bit(c->sec, t->s);
        if (s < 0) {
            t->mi--;
            t->s = 59;
            continue;
        }
        t->s = s;
        return 0;
    }
}

/* ---- wall-clock times to instants ------------------------------------------------ */

static int off_at(const tzone *z, int64_t secs)
{
    return tz_offset_at(z, secs * US_PER_SEC);
}

/* The instants (seconds) at which wall-clock time L happens in zone z: 1 or
 * 2 of them in out (ascending), or 0 when L falls in a gap, with *gap_at the
 * first instant after the gap and *gap_end the wall-clock time there. */
static int wall_instants(const tzone *z, int64_t L, int64_t out[2], int64_t *gap_at,
                         int64_t *gap_end)
{
    int o1 = off_at(z, L - SECS_DAY);
    int o2 = off_at(z, L + SECS_DAY);
    if (o1 == o2 && off_at(z, L - o1) == o1) {
        out[0] = L - o1;
        return 1;
    }
    int offs[4] = {o1, o2, off_at(z, L - o1), off_at(z, L - o2)};
    int n = 0;
    for (int i = 0; i < 4; i++) {
        int64_t t = L - offs[i];
        if (off_at(z, t) != offs[i])
            continue;
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= out[j] == t;
        if (dup || n == 2)
            continue;
        out[n++] = t;
    }
    if (n == 2 && out[0] > out[1]) {
        int64_t x = out[0];
        out[0] = out[1];
        out[1] = x;
    }
    if (n)
        return n;
    /* A gap: the first instant whose wall-clock time is past L. */
    int omin = offs[0], omax = offs[0];
    for (int i = 1; i < 4; i++) {
        if (offs[i] < omin)
            omin = offs[i];
        if (offs[i] > omax)
            omax = offs[i];
    }
    int64_t lo = L - omax, hi = L - omin + 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + off_at(z, mid) > L)
            hi = mid;
        else
            lo = mid + 1;
    }
    *gap_at = lo;
    *gap_end = lo + off_at(z, lo);
    return 0;
}

/* The fire instants of matching wall-clock time L (see the file comment);
 * returns how many (0-2, ascending in out). When L sits in a gap,
 * *gap_start and *gap_end are the wall-clock times where the gap begins and
 * ends, so a walk can jump over it; otherwise both are L. */
static int wall_fires(const cron_expr *c, const tzone *z, int64_t L, int64_t out[2],
                      int64_t *gap_start, int64_t *gap_end)
{
    int64_t at = 0, end = 0;
    int n = wall_instants(z, L, out, &at, &end);
    *gap_start = *gap_end = L;
    if (n == 0) {
        *gap_end = end;
        *gap_start = at + off_at(z, at - 1);     /* wall-clock time where the gap starts */
        if (!c->fixed)
            return 0;
        out[0] = at;
        return 1;
    }
    if (n == 2 && c->fixed)
        return 1;
    return n;
}

static int max3(int a, int b, int x)
{
    int m = a > b ? a : b;
    return m > x ? m : x;
}

static int min3(int a, int b, int x)
{
    int m = a < b ? a : b;
    return m < x ? m : x;
}

/* Years 1..9999 only, where days_from_civil and the wall walk are safe. */
#define MIN_SECS (-62135596800LL + 2 * SECS_DAY)
#define MAX_SECS (253402300799LL - 2 * SECS_DAY)

int64_t cron_next(const cron_expr *c, const tzone *z, int64_t after_us)
{
    if (!z)
        z = tz_utc();
    int64_t after = after_us / US_PER_SEC - (after_us % US_PER_SEC < 0);
    if (after < MIN_SECS || after > MAX_SECS - (int64_t)SEARCH_YEARS * 366 * SECS_DAY)
        return -1;
    int oa = off_at(z, after), ob = off_at(z, after + 2 * SECS_DAY);
    int64_t L = after + (oa < ob ? oa : ob);
    wall t;
    wall_from_secs(L, &t);
    int ymax = t.y + SEARCH_YEARS;
    int64_t best = -1, limit = 0;
    for (;;) {
        wall_from_secs(L, &t);
        if (wall_next(c, &t, ymax))
            break;
        int64_t Lm = wall_secs(&t);
        if (best >= 0 && Lm > limit)
            break;
        int64_t f[2], gs, ge;
        int n = wall_fires(c, z, Lm, f, &gs, &ge);
        for (int i = 0; i < n; i++) {
            if (f[i] * US_PER_SEC > after_us && (best < 0 || f[i] < best)) {
                best = f[i];
                limit = best + max3(off_at(z, best - SECS_DAY), off_at(z, best),
                                    off_at(z, best + SECS_DAY));
            }
        }
        L = (ge > Lm ? ge : Lm + 1);
    }
    return best < 0 ? -1 : best * US_PER_SEC;
}

int64_t cron_prev(const cron_expr *c, const tzone *z, int64_t at_us)
{
    if (!z)
        z = tz_utc();
    int64_t at = at_us / US_PER_SEC - (at_us % US_PER_SEC < 0);
    if (at > MAX_SECS || at < MIN_SECS + (int64_t)SEARCH_YEARS * 366 * SECS_DAY)
        return -1;
    int oa = off_at(z, at), ob = off_at(z, at - 2 * SECS_DAY);
    int64_t L = at + (oa > ob ? oa : ob);
    wall t;
    wall_from_secs(L, &t);
    int ymin = t.y - SEARCH_YEARS;
    int64_t best = -1, limit = 0;
    for (;;) {
        wall_from_secs(L, &t);
        if (wall_prev(c, &t, ymin))
            break;
        int64_t Lm = wall_secs(&t);
        if (best >= 0 && Lm < limit)
            break;
        int64_t f[2], gs, ge;
        int n = wall_fires(c, z, Lm, f, &gs, &ge);
        for (int i = 0; i < n; i++) {
            if (f[i] * US_PER_SEC <= at_us && f[i] > best) {
                best = f[i];
                limit = best + min3(off_at(z, best - SECS_DAY), off_at(z, best),
                                    off_at(z, best + SECS_DAY));
            }
        }
        L = (gs < Lm ? gs - 1 : Lm - 1);
    }
    return best < 0 ? -1 : best * US_PER_SEC;
}
