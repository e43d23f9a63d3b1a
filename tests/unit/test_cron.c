/*
 * test_cron.c: cron parsing and evaluation.
 *
 * The table of cases lives in tests/cron/cron.cases (successive next and
 * previous fire times across DST days, month ends, Feb 29, and exact error
 * messages). A second check generates random expressions and compares
 * cron_next with a brute-force oracle that walks real instants minute by
 * minute near DST changes and applies the documented rules its own way;
 * cron_prev is checked against cron_next.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "util/datetime.h"

static const tzone *zone(const char *name)
{
    kerr e = KERR_INIT;
    const tzone *z = tz_get(name, &e);
    if (!z)
        fail_msg("zone %s: %s", name, e.msg);
    return z;
}

static int64_t iso(const char *s)
{
    int64_t us = 0;
    kerr e = KERR_INIT;
    if (datetime_parse(s, NULL, &us, NULL, &e) != 0)
        fail_msg("parse '%s': %s", s, e.msg);
    return us;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Splits line on '|' into at most max trimmed parts; returns the count. */
static int split(char *line, char **parts, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *bar = strchr(p, '|');
        if (bar)
            *bar = '\0';
        parts[n++] = p;
        if (!bar)
            break;
        p = bar + 1;
    }
    return n;
}

/* Runs one line of cron.cases; returns 0 when it passes, else prints why. */
static int run_case(char *line, int lineno)
{
    char raw[2048];
    snprintf(raw, sizeof raw, "%s", line);
    char *parts[6];
    int n = split(line, parts, 6);
    char *kind = trim(parts[0]);
    int secs = kind[strlen(kind) - 1] == '6';
    if (!strncmp(kind, "error", 5)) {
        if (n != 3) {
            printf("cron.cases:%d: malformed error case\n", lineno);
            return 1;
        }
        /* the spec keeps its leading blanks after the first one */
        char *spec = parts[1];
        if (*spec == ' ')
            spec++;
        size_t sl = strlen(spec);
        while (sl && spec[sl - 1] == ' ')
            spec[--sl] = '\0';
        const char *want = trim(parts[2]);
        kerr e = KERR_INIT;
        cron_expr *c = cron_parse(spec, secs, &e);
        if (c) {
            printf("cron.cases:%d: '%s' parsed, expected: %s\n", lineno, spec, want);
            cron_free(c);
            return 1;
        }
        if (strcmp(e.msg, want)) {
            printf("cron.cases:%d:\n  got  %s\n  want %s\n", lineno, e.msg, want);
            return 1;
        }
        return 0;
    }
    int prev = !strncmp(kind, "prev", 4);
    if (n != 5 || (!prev && strncmp(kind, "next", 4))) {
        printf("cron.cases:%d: malformed case: %s\n", lineno, raw);
        return 1;
    }
    const tzone *z = zone(trim(parts[1]));
    const char *spec = trim(parts[2]);
    kerr e = KERR_INIT;
    cron_expr *c = cron_parse(spec, secs, &e);
    if (!c) {
        printf("cron.cases:%d: %s\n", lineno, e.msg);
        return 1;
    }
    int64_t t = iso(trim(parts[3]));
    int bad = 0;
    int first = 1;
    for (char *tok = strtok(trim(parts[4]), " "); tok && !bad; tok = strtok(NULL, " ")) {
        int64_t got = prev ? cron_prev(c, z, first ? t : t - 1) : cron_next(c, z, t);
        first = 0;
        char buf[64];
        if (got < 0)
            snprintf(buf, sizeof buf, "none");
        else
            datetime_format(got, z, buf, sizeof buf);
        if (strcmp(buf, tok)) {
            printf("cron.cases:%d: %s '%s' in %s: got %s, want %s\n", lineno, kind, spec,
                   tz_name(z), buf, tok);
            bad = 1;
        }
        t = got;
    }
    cron_free(c);
    return bad;
}

static void test_case_table(void **state)
{
    (void)state;
    const char *root = getenv("ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/cron/cron.cases", root ? root : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char line[2048];
    int lineno = 0, cases = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        cases++;
        failed += run_case(line, lineno);
    }
    fclose(f);
    printf("cron.cases: %d cases, %d failed\n", cases, failed);
    assert_true(cases > 100);
    assert_int_equal(failed, 0);
}

static void test_spec_and_free(void **state)
{
    (void)state;
    kerr e = KERR_INIT;
    cron_expr *c = cron_parse("  */5 * * * *  ", 0, &e);
    assert_non_null(c);
    assert_string_equal(cron_spec(c), "*/5 * * * *");
    cron_free(c);
    cron_free(NULL);
    /* the error carries the column for callers that map it into a file */
    assert_null(cron_parse("0 25 * * *", 0, &e));
    assert_int_equal(e.line, 1);
    assert_int_equal(e.col, 3);
}

static void test_null_zone_is_utc(void **state)
{
    (void)state;
    kerr e = KERR_INIT;
    cron_expr *c = cron_parse("0 12 * * *", 0, &e);
    assert_int_equal(cron_next(c, NULL, iso("2024-01-15T00:00:00Z")),
                     iso("2024-01-15T12:00:00Z"));
    assert_int_equal(cron_prev(c, NULL, iso("2024-01-15T00:00:00Z")),
                     iso("2024-01-14T12:00:00Z"));
    cron_free(c);
}

/* ---- random expressions against a brute-force oracle ---- */

typedef struct rset {
    uint64_t min, hour, dom, mon, dow;
    int min_star, hour_star, dom_star, dow_star;
} rset;

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Writes one random field for values lo..hi into out, its set into *mask. */
static void gen_field(char *out, size_t outsz, int lo, int hi, int star_pct, int hot_hi,
                      uint64_t *mask, int *star)
{
    *mask = 0;
    *star = 0;
    unsigned r = rnd(100);
    if (r < (unsigned)star_pct) {
        snprintf(out, outsz, "*");
        for (int v = lo; v <= hi; v++)
            *mask |= 1ULL << v;
        *star = 1;
        return;
    }
    r = rnd(3);
    if (r == 0) {
        int step = 1 + (int)rnd((unsigned)(hi - lo + 1 > 12 ? 12 : hi - lo + 1));
        snprintf(out, outsz, "*/%d", step);
        for (int v = lo; v <= hi; v += step)
            *mask |= 1ULL << v;
        *star = 1;
    } else if (r == 1) {
        int a = lo + (int)rnd((unsigned)(hot_hi - lo + 1));
        int b = a + (int)rnd((unsigned)(hi - a + 1 < 4 ? hi - a + 1 : 4));
        snprintf(out, outsz, "%d-%d", a, b);
        for (int v = a; v <= b; v++)
            *mask |= 1ULL << v;
    } else {
        size_t n = 0;
        int k = 1 + (int)rnd(3);
        for (int i = 0; i < k; i++) {
            int v = lo + (int)rnd((unsigned)(hot_hi - lo + 1));
            n += (size_t)snprintf(out + n, outsz - n, "%s%d", i ? "," : "", v);
            *mask |= 1ULL << v;
        }
    }
}

static int oracle_match(const rset *s, int64_t wall)
{
    int64_t days = wall / 86400 - (wall % 86400 < 0);
    int64_t sod = wall - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = (int)((days % 7 + 11) % 7);
    if (sod % 60 || !(s->min >> (sod / 60 % 60) & 1) || !(s->hour >> (sod / 3600) & 1) ||
        !(s->mon >> m & 1))
        return 0;
    int dm = s->dom >> d & 1, dw = s->dow >> wd & 1;
    return s->dom_star || s->dow_star ? dm && dw : dm || dw;
}

static int off_s(const tzone *z, int64_t t)
{
    return tz_offset_at(z, t * US_PER_SEC);
}

/* The first fire after `after` (seconds) within horizon seconds, or -1,
 * walking instants minute by minute. */
static int64_t oracle_next(const rset *s, const tzone *z, int64_t after, int64_t horizon)
{
    int fixed = !s->min_star && !s->hour_star;
    for (int64_t t = (after / 60 + 1) * 60; t <= after + horizon; t += 60) {
        int o = off_s(z, t), op = off_s(z, t - 60);
        int64_t w = t + o, wp = t - 60 + op;
        if (fixed && w - wp > 60)
            for (int64_t x = wp + 60; x < w; x += 60)
                if (oracle_match(s, x))
                    return t;
        if (!oracle_match(s, w))
            continue;
        if (fixed) {
            /* the second time this wall-clock time comes round: skipped */
            int oo = off_s(z, t - 86400);
            if (oo != o && w - oo < t && off_s(z, w - oo) == oo)
                continue;
        }
        return t;
    }
    return -1;
}

static void test_random_against_oracle(void **state)
{
    (void)state;
    static const struct { const char *zone, *when; } changes[] = {
        {"Europe/Paris", "2024-03-31T01:00:00Z"},
        {"Europe/Paris", "2024-10-27T01:00:00Z"},
        {"America/New_York", "2024-03-10T07:00:00Z"},
        {"America/New_York", "2024-11-03T06:00:00Z"},
        {"Australia/Lord_Howe", "2024-04-06T15:00:00Z"},
        {"Australia/Lord_Howe", "2024-10-05T15:30:00Z"},
        {"Europe/Paris", "2060-03-28T01:00:00Z"},
        {"America/Santiago", "2024-04-07T03:00:00Z"},     /* 00:00 -> 23:00 the day before */
        {"America/Santiago", "2024-09-08T04:00:00Z"},     /* 00:00 -> 01:00 */
        {"America/Havana", "2024-03-10T05:00:00Z"},
        {"America/Havana", "2024-11-03T05:00:00Z"},
        {"America/Sao_Paulo", "2018-11-04T03:00:00Z"},
        {"America/Sao_Paulo", "2019-02-17T02:00:00Z"},
        {"Europe/Dublin", "2024-10-27T01:00:00Z"},        /* negative DST in tzdata */
        {"Pacific/Apia", "2011-12-30T10:00:00Z"},         /* skipped a whole day */
        {"UTC", "2024-02-28T12:00:00Z"},
    };
    int checked = 0;
    for (int i = 0; i < 1500; i++) {
        rset s;
        char f[5][64], spec[400];
        gen_field(f[0], 64, 0, 59, 15, 59, &s.min, &s.min_star);
        gen_field(f[1], 64, 0, 23, 25, rnd(2) ? 4 : 23, &s.hour, &s.hour_star);
        gen_field(f[2], 64, 1, 31, 75, 31, &s.dom, &s.dom_star);
        int mon_star;   /* the month's star does not matter to the rules */
        gen_field(f[3], 64, 1, 12, 85, 12, &s.mon, &mon_star);
        gen_field(f[4], 64, 0, 6, 75, 6, &s.dow, &s.dow_star);
        snprintf(spec, sizeof spec, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        kerr e = KERR_INIT;
        cron_expr *c = cron_parse(spec, 0, &e);
        if (!c)
            continue;   /* never fires */
        int k = (int)rnd(sizeof changes / sizeof *changes);
        const tzone *z = zone(changes[k].zone);
        int64_t after = iso(changes[k].when) / US_PER_SEC - 36 * 3600 +
                        (int64_t)rnd(48 * 3600);
        if (rnd(2))
            after -= after % 60;
        int64_t horizon = 3 * 86400;
        int64_t want = oracle_next(&s, z, after, horizon);
        int64_t got = cron_next(c, z, after * US_PER_SEC);
        char a[64], g[64], w[64];
        datetime_format(after * US_PER_SEC, z, a, sizeof a);
        datetime_format(got, z, g, sizeof g);
        datetime_format(want * US_PER_SEC, z, w, sizeof w);
        if (want >= 0 && got != want * US_PER_SEC)
            fail_msg("'%s' in %s after %s: got %s, oracle %s", spec, tz_name(z), a, g, w);
        if (want < 0 && got >= 0 && got <= (after + horizon) * US_PER_SEC)
            fail_msg("'%s' in %s after %s: got %s, oracle none", spec, tz_name(z), a, g);
        /* cron_prev walks the same set of fire times backwards */
        int64_t p = cron_prev(c, z, after * US_PER_SEC);
        if (p >= 0 && got >= 0) {
            if (cron_next(c, z, p) != got)
                fail_msg("'%s' in %s: next(prev(%s)) != next", spec, tz_name(z), a);
            if (cron_prev(c, z, got - 1) != p)
                fail_msg("'%s' in %s: prev(next(%s) - 1us) != prev", spec, tz_name(z), a);
            if (cron_prev(c, z, got) != got)
                fail_msg("'%s' in %s: prev(next) != next", spec, tz_name(z));
        }
        cron_free(c);
        checked++;
    }
    printf("oracle: %d random expressions checked\n", checked);
    assert_true(checked > 1000);
}

/* Every fire time of a whole year, walked forwards then backwards, is the
 * same list. */
static void test_walk_year_both_ways(void **state)
{
    (void)state;
    const char *specs[] = {"*/7 1-3 * * *", "30 2 * * *", "0 * * * *", "0 0 L * *",
                           "15 1,2 * * SUN"};
    const char *zones[] = {"Europe/Paris", "America/New_York", "Australia/Lord_Howe"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
        for (size_t j = 0; j < sizeof zones / sizeof *zones; j++) {
            kerr e = KERR_INIT;
            cron_expr *c = cron_parse(specs[i], 0, &e);
            assert_non_null(c);
            const tzone *z = zone(zones[j]);
            int64_t start = iso("2024-01-01T00:00:00Z"), end = iso("2025-01-01T00:00:00Z");
            size_t cap = 70000, n = 0;
            int64_t *fires = malloc(cap * sizeof *fires);
            for (int64_t t = cron_next(c, z, start - 1); t >= 0 && t < end; t = cron_next(c, z, t)) {
                assert_true(n < cap);
                if (n)
                    assert_true(t > fires[n - 1]);
                fires[n++] = t;
            }
            assert_true(n > 0);
            size_t m = n;
            for (int64_t t = cron_prev(c, z, end - 1); t >= start; t = cron_prev(c, z, t - 1)) {
                assert_true(m > 0);
                assert_int_equal(t, fires[--m]);
            }
            assert_int_equal(m, 0);
            free(fires);
            cron_free(c);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_table),
        cmocka_unit_test(test_spec_and_free),
        cmocka_unit_test(test_null_zone_is_utc),
        cmocka_unit_test(test_random_against_oracle),
        cmocka_unit_test(test_walk_year_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
