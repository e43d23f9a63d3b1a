/*
 * test_datetime.c: civil time, time zones (TZif and POSIX footers), ISO-8601
 * date-times, and durations.
 *
 * Known transitions are checked against the tz database's published dates;
 * a sweep compares every offset with glibc's own reading of the same files
 * (localtime_r under TZ=zone), an independent implementation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/datetime.h"

/* Parses an ISO string that must be valid; fails the test otherwise. */
static int64_t iso(const char *s)
{
    int64_t us = 0;
    kerr e = KERR_INIT;
    if (datetime_parse(s, NULL, &us, NULL, &e) != 0)
        fail_msg("parse '%s': %s", s, e.msg);
    return us;
}

static const tzone *zone(const char *name)
{
    kerr e = KERR_INIT;
    const tzone *z = tz_get(name, &e);
    if (!z)
        fail_msg("zone %s: %s", name, e.msg);
    return z;
}

static void fmt_in(const char *zname, int64_t us, char *out)
{
    datetime_format(us, zone(zname), out, 48);
}

static int64_t local(const char *zname, int y, int mo, int d, int h, int mi, int s)
{
    civil c = {.year = y, .month = mo, .day = d, .hour = h, .min = mi, .sec = s};
    return tz_from_civil(zone(zname), &c);
}

/* ---- civil ---- */

static void test_days_from_civil_known_dates(void **state)
{
    (void)state;
    assert_int_equal(days_from_civil(1970, 1, 1), 0);
    assert_int_equal(days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(days_from_civil(1969, 12, 31), -1);
    assert_int_equal(days_from_civil(2024, 2, 29) + 1, days_from_civil(2024, 3, 1));
    assert_int_equal(days_from_civil(2023, 3, 1) - days_from_civil(2023, 2, 28), 1);
    assert_int_equal(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);
}

static void test_civil_round_trip_over_centuries(void **state)
{
    (void)state;
    for (int64_t d = -800000; d < 800000; d += 37) {
        int y, m, dd;
        civil_from_days(d, &y, &m, &dd);
        assert_int_equal(days_from_civil(y, m, dd), d);
    }
}

static void test_clocks_move(void **state)
{
    (void)state;
    int64_t a = time_mono_us();
    int64_t now = time_now_us();
    assert_true(now > iso("2024-01-01T00:00:00Z"));
    assert_true(time_mono_us() >= a);
}

/* ---- zones ---- */

static void test_paris_spring_forward_2024(void **state)
{
    (void)state;
    const tzone *z = zone("Europe/Paris");
    assert_int_equal(tz_offset_at(z, iso("2024-03-31T00:59:59Z")), 3600);
    assert_int_equal(tz_offset_at(z, iso("2024-03-31T01:00:00Z")), 7200);
    char buf[48];
    fmt_in("Europe/Paris", iso("2024-03-31T01:00:00Z"), buf);
    assert_string_equal(buf, "2024-03-31T03:00:00+02:00");
    fmt_in("Europe/Paris", iso("2024-03-31T00:59:59Z"), buf);
    assert_string_equal(buf, "2024-03-31T01:59:59+01:00");
    /* 02:30 does not exist: shifted forward by the gap, to 03:30+02:00. */
    assert_int_equal(local("Europe/Paris", 2024, 3, 31, 2, 30, 0), iso("2024-03-31T01:30:00Z"));
    assert_int_equal(local("Europe/Paris", 2024, 3, 31, 2, 0, 0), iso("2024-03-31T01:00:00Z"));
    assert_int_equal(local("Europe/Paris", 2024, 3, 31, 3, 0, 0), iso("2024-03-31T01:00:00Z"));
    assert_int_equal(local("Europe/Paris", 2024, 3, 31, 1, 59, 59), iso("2024-03-31T00:59:59Z"));
}

static void test_paris_fall_back_2024(void **state)
{
    (void)state;
    const tzone *z = zone("Europe/Paris");
    assert_int_equal(tz_offset_at(z, iso("2024-10-27T00:59:59Z")), 7200);
    assert_int_equal(tz_offset_at(z, iso("2024-10-27T01:00:00Z")), 3600);
    char buf[48];
    fmt_in("Europe/Paris", iso("2024-10-27T01:00:00Z"), buf);
    assert_string_equal(buf, "2024-10-27T02:00:00+01:00");
    /* 02:30 happens twice: the earlier instant (+02:00) is chosen. */
    assert_int_equal(local("Europe/Paris", 2024, 10, 27, 2, 30, 0), iso("2024-10-27T00:30:00Z"));
    assert_int_equal(local("Europe/Paris", 2024, 10, 27, 3, 0, 0), iso("2024-10-27T02:00:00Z"));
    assert_int_equal(local("Europe/Paris", 2024, 10, 27, 1, 59, 0), iso("2024-10-26T23:59:00Z"));
}

static void test_new_york_2024(void **state)
{
    (void)state;
    const tzone *z = zone("America/New_York");
    assert_int_equal(tz_offset_at(z, iso("2024-03-10T06:59:59Z")), -5 * 3600);
    assert_int_equal(tz_offset_at(z, iso("2024-03-10T07:00:00Z")), -4 * 3600);
    assert_int_equal(tz_offset_at(z, iso("2024-11-03T05:59:59Z")), -4 * 3600);
    assert_int_equal(tz_offset_at(z, iso("2024-11-03T06:00:00Z")), -5 * 3600);
    assert_int_equal(local("America/New_York", 2024, 3, 10, 2, 30, 0), iso("2024-03-10T07:30:00Z"));
    assert_int_equal(local("America/New_York", 2024, 11, 3, 1, 30, 0), iso("2024-11-03T05:30:00Z"));
    char buf[48];
    fmt_in("America/New_York", iso("2024-07-04T16:00:00Z"), buf);
    assert_string_equal(buf, "2024-07-04T12:00:00-04:00");
}

static void test_lord_howe_half_hour_dst(void **state)
{
    (void)state;
    const tzone *z = zone("Australia/Lord_Howe");
    assert_int_equal(tz_offset_at(z, iso("2024-04-06T14:59:59Z")), 11 * 3600);
    assert_int_equal(tz_offset_at(z, iso("2024-04-06T15:00:00Z")), 10 * 3600 + 1800);
    assert_int_equal(tz_offset_at(z, iso("2024-10-05T15:29:59Z")), 10 * 3600 + 1800);
    assert_int_equal(tz_offset_at(z, iso("2024-10-05T15:30:00Z")), 11 * 3600);
    /* The spring gap is 30 minutes: 02:10 becomes 02:40. */
    char buf[48];
    fmt_in("Australia/Lord_Howe", local("Australia/Lord_Howe", 2024, 10, 6, 2, 10, 0), buf);
    assert_string_equal(buf, "2024-10-06T02:40:00+11:00");
    /* The autumn overlap is 30 minutes: 01:45 happens at +11 first. */
    fmt_in("Australia/Lord_Howe", local("Australia/Lord_Howe", 2024, 4, 7, 1, 45, 0), buf);
    assert_string_equal(buf, "2024-04-07T01:45:00+11:00");
}

static void test_kolkata_and_history(void **state)
{
    (void)state;
    const tzone *z = zone("Asia/Kolkata");
    assert_int_equal(tz_offset_at(z, iso("2024-06-01T00:00:00Z")), 5 * 3600 + 1800);
    /* War time, 1942-1945: +06:30. */
    assert_int_equal(tz_offset_at(z, iso("1943-01-01T00:00:00Z")), 6 * 3600 + 1800);
    char buf[48];
    fmt_in("Asia/Kolkata", iso("2024-01-15T10:30:00Z"), buf);
    assert_string_equal(buf, "2024-01-15T16:00:00+05:30");
}

static void test_footer_rule_after_2037(void **state)
{
    (void)state;
    const tzone *p = zone("Europe/Paris");
    /* Last Sunday of March 2050 is the 27th. */
    assert_int_equal(tz_offset_at(p, iso("2050-03-27T00:59:59Z")), 3600);
    assert_int_equal(tz_offset_at(p, iso("2050-03-27T01:00:00Z")), 7200);
    assert_int_equal(tz_offset_at(p, iso("2050-10-30T00:59:59Z")), 7200);
    assert_int_equal(tz_offset_at(p, iso("2050-10-30T01:00:00Z")), 3600);
    const tzone *ny = zone("America/New_York");
    /* 2100: second Sunday of March is the 14th, first of November the 7th. */
    assert_int_equal(tz_offset_at(ny, iso("2100-03-14T06:59:59Z")), -5 * 3600);
    assert_int_equal(tz_offset_at(ny, iso("2100-03-14T07:00:00Z")), -4 * 3600);
    assert_int_equal(tz_offset_at(ny, iso("2100-11-07T05:59:59Z")), -4 * 3600);
    assert_int_equal(tz_offset_at(ny, iso("2100-11-07T06:00:00Z")), -5 * 3600);
    /* Southern hemisphere rule wraps the year: Sydney is on DST in January. */
    const tzone *syd = zone("Australia/Sydney");
    assert_int_equal(tz_offset_at(syd, iso("2060-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(tz_offset_at(syd, iso("2060-07-15T00:00:00Z")), 10 * 3600);
    assert_int_equal(local("Europe/Paris", 2050, 3, 27, 2, 30, 0), iso("2050-03-27T01:30:00Z"));
}

/* glibc reads the same TZif files with its own code: every offset must agree. */
static void test_offsets_agree_with_glibc(void **state)
{
    (void)state;
    static const char *zones[] = {
        "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
        "America/Sao_Paulo", "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns",
        "Europe/Dublin", "Asia/Tehran", "America/Santiago", "Pacific/Apia",
    };
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++) {
        const tzone *z = zone(zones[i]);
        setenv("TZ", zones[i], 1);
        tzset();
        /* 1901 .. 2100 in steps of about 3.3 days, plus every hour of 2024 */
        uint64_t x = 88172645463325252ULL;
        for (int64_t t = -2145916800LL; t < 4102444800LL; t += 283463) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t tt = t + (int64_t)(x % 283463);
            time_t tv = (time_t)tt;
            struct tm tm;
            localtime_r(&tv, &tm);
            int mine = tz_offset_at(z, tt * US_PER_SEC);
            if (mine != tm.tm_gmtoff)
                fail_msg("%s at %lld: kite %d, glibc %ld", zones[i], (long long)tt, mine,
                         tm.tm_gmtoff);
            civil c;
            tz_to_civil(z, tt * US_PER_SEC, &c);
            assert_int_equal(c.year, tm.tm_year + 1900);
            assert_int_equal(c.month, tm.tm_mon + 1);
            assert_int_equal(c.day, tm.tm_mday);
            assert_int_equal(c.hour, tm.tm_hour);
            assert_int_equal(c.wday, tm.tm_wday);
            assert_int_equal(c.yday, tm.tm_yday + 1);
            /* and back: a civil time read from an instant maps to it again,
             * except in the second half of an overlap, which maps earlier */
            int64_t back = tz_from_civil(z, &c);
            if (back != tt * US_PER_SEC)
                assert_true(back < tt * US_PER_SEC &&
                            tz_offset_at(z, back) > c.offset);
        }
    }
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* "Slim" TZif files (zic -b slim, the default of recent tzdata releases)
 * list few transitions and leave the rest to the footer's POSIX rule: built
 * here from the system's tzdata.zi, they must give the same offsets as the
 * installed files everywhere. */
static void test_slim_files_agree(void **state)
{
    (void)state;
    if (system("command -v zic >/dev/null 2>&1 && test -r /usr/share/zoneinfo/tzdata.zi")) {
        printf("zic or tzdata.zi missing: slim files not checked\n");
        skip();
    }
    char dir[] = "/tmp/kite-tzdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zic -b slim -d %s/slim /usr/share/zoneinfo/tzdata.zi", dir);
    assert_int_equal(system(cmd), 0);
    setenv("TZDIR", dir, 1);
    static const char *zones[] = {"Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                                  "America/Santiago", "Europe/Dublin", "Pacific/Chatham",
                                  "America/St_Johns", "Asia/Kolkata", "Africa/Casablanca"};
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++) {
        char slim[128];
        snprintf(slim, sizeof slim, "slim/%s", zones[i]);
        const tzone *s = zone(slim);
        unsetenv("TZDIR");
        const tzone *fat = zone(zones[i]);
        setenv("TZDIR", dir, 1);
        uint64_t x = 2463534242ULL;
        for (int64_t t = -2145916800LL; t < 4102444800LL; t += 86400 * 3) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t tt = (t + (int64_t)(x % (86400 * 3))) * US_PER_SEC;
            if (tz_offset_at(s, tt) != tz_offset_at(fat, tt))
                fail_msg("%s at %lld: slim %d, fat %d", zones[i], (long long)(tt / US_PER_SEC),
                         tz_offset_at(s, tt), tz_offset_at(fat, tt));
        }
    }
    unsetenv("TZDIR");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_fixed_offsets(void **state)
{
    (void)state;
    struct { const char *name; int off; } cases[] = {
        {"UTC", 0}, {"Z", 0}, {"GMT", 0}, {"+02:00", 7200}, {"-05:30", -19800},
        {"UTC+2", 7200}, {"UTC-05:30", -19800}, {"GMT+01:00", 3600}, {"+0530", 19800},
        {"-03", -10800}, {"Etc/GMT+2", -7200}, {"Etc/UTC", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const tzone *z = zone(cases[i].name);
        assert_string_equal(tz_name(z), cases[i].name);
        assert_int_equal(tz_offset_at(z, iso("2024-07-01T00:00:00Z")), cases[i].off);
        assert_int_equal(tz_offset_at(z, iso("1960-01-01T00:00:00Z")), cases[i].off);
    }
    char buf[48];
    fmt_in("-05:30", iso("2024-01-15T10:30:00Z"), buf);
    assert_string_equal(buf, "2024-01-15T05:00:00-05:30");
}

static void test_zone_errors(void **state)
{
    (void)state;
    struct { const char *name, *msg; } cases[] = {
        {"Nowhere/City", "unknown time zone 'Nowhere/City'"},
        {"../etc/passwd", "invalid time zone name '../etc/passwd'"},
        {"Europe/../../etc/passwd", "invalid time zone name 'Europe/../../etc/passwd'"},
        {"/etc/passwd", "invalid time zone name '/etc/passwd'"},
        {"", "invalid time zone name ''"},
        {"Europe/Paris ", "invalid time zone name 'Europe/Paris '"},
        {"+25:00", "invalid time zone name '+25:00'"},
        {"zone.tab", "time zone 'zone.tab': not a TZif file or a damaged one"},
        {"Europe", "unknown time zone 'Europe'"},
        {"right/UTC", "time zone 'right/UTC': zones with leap seconds (right/...) are not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kerr e = KERR_INIT;
        assert_null(tz_get(cases[i].name, &e));
        assert_string_equal(e.msg, cases[i].msg);
    }
}

static void test_zone_is_cached(void **state)
{
    (void)state;
    assert_ptr_equal(zone("Europe/Paris"), zone("Europe/Paris"));
    assert_ptr_equal(tz_utc(), tz_utc());
    assert_string_equal(tz_name(tz_utc()), "UTC");
}

static void *get_zones(void *arg)
{
    const tzone **out = arg;
    static const char *names[] = {"Asia/Tokyo", "Europe/Berlin", "America/Chicago"};
    for (int i = 0; i < 300; i++)
        out[i % 3] = tz_get(names[i % 3], NULL);
    return NULL;
}

static void test_zone_cache_thread_safe(void **state)
{
    (void)state;
    pthread_t th[4];
    const tzone *got[4][3];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, get_zones, got[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 1; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            assert_non_null(got[i][j]);
            assert_ptr_equal(got[i][j], got[0][j]);
        }
}

static void test_local_zone_from_tz_variable(void **state)
{
    (void)state;
    /* tz_local reads the environment once: this is its first call. */
    setenv("TZ", ":America/New_York", 1);
    const tzone *z = tz_local();
    unsetenv("TZ");
    assert_string_equal(tz_name(z), "America/New_York");
    assert_ptr_equal(tz_local(), z);
}

/* ---- ISO-8601 ---- */

static void test_parse_forms(void **state)
{
    (void)state;
    int64_t base = iso("2024-01-15T10:30:00Z");
    assert_int_equal(base, (int64_t)1705314600 * US_PER_SEC);
    int off = 99;
    int64_t us;
    kerr e = KERR_INIT;
    assert_int_equal(datetime_parse("2024-01-15T12:30:00+02:00", NULL, &us, &off, &e), 0);
    assert_int_equal(us, base);
    assert_int_equal(off, 7200);
    assert_int_equal(iso("2024-01-15T05:00:00-0530"), base);
    assert_int_equal(iso("2024-01-15T10:30Z"), base);
    assert_int_equal(iso("2024-01-15T10:30"), base);
    assert_int_equal(iso("2024-01-15 10:30:00"), base);
    assert_int_equal(iso("2024-01-15t10:30:00z"), base);
    assert_int_equal(iso("2024-01-15T10:30:00.5Z"), base + 500000);
    assert_int_equal(iso("2024-01-15T10:30:00.123456789Z"), base + 123456);
    assert_int_equal(iso("2024-01-15T10:30:00,25Z"), base + 250000);
    assert_int_equal(iso("2024-01-15"), (int64_t)1705276800 * US_PER_SEC);
    assert_int_equal(iso("2024-01-15T11:30:00[Europe/Paris]"), base);
    assert_int_equal(iso("2024-01-15T11:30:00+01:00[Europe/Paris]"), base);
    assert_int_equal(iso("1969-12-31T23:59:59.999999Z"), -1);
    assert_int_equal(iso("+10000-01-01T00:00:00Z"), (int64_t)253402300800 * US_PER_SEC);
    assert_int_equal(iso("-0001-12-31T00:00:00Z"), (int64_t)-62167305600 * US_PER_SEC);
    /* no zone: read in the default zone */
    assert_int_equal(datetime_parse("2024-07-01T12:00:00", zone("Europe/Paris"), &us, &off, &e), 0);
    assert_int_equal(us, iso("2024-07-01T10:00:00Z"));
    assert_int_equal(off, 7200);
    assert_int_equal(datetime_parse("2024-03-31T02:30", zone("Europe/Paris"), &us, &off, &e), 0);
    assert_int_equal(us, iso("2024-03-31T01:30:00Z"));
    assert_int_equal(off, 7200);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct { const char *in, *msg; } cases[] = {
        {"", "invalid date-time '': expected a 4-digit year at column 1"},
        {"24-01-15", "invalid date-time '24-01-15': expected a 4-digit year at column 1"},
        {"20240-01-15", "invalid date-time '20240-01-15': year out of range (more than 4 digits need a sign, at most +/-200000) at column 1"},
        {"+999999-01-15", "invalid date-time '+999999-01-15': year out of range (more than 4 digits need a sign, at most +/-200000) at column 2"},
        {"2024/01/15", "invalid date-time '2024/01/15': expected '-' after the year at column 5"},
        {"2024-13-01", "invalid date-time '2024-13-01': month out of range 01-12 at column 6"},
        {"2023-02-29", "invalid date-time '2023-02-29': day out of range for the month at column 9"},
        {"2024-01-15T25:00", "invalid date-time '2024-01-15T25:00': hour out of range 00-23 at column 12"},
        {"2024-01-15T10:60", "invalid date-time '2024-01-15T10:60': minutes out of range 00-59 at column 15"},
        {"2024-01-15T10:30:61Z", "invalid date-time '2024-01-15T10:30:61Z': seconds out of range 00-59 at column 18"},
        {"2024-01-15T10", "invalid date-time '2024-01-15T10': expected ':' after the hour at column 14"},
        {"2024-01-15T10:30:00.Z", "invalid date-time '2024-01-15T10:30:00.Z': expected digits after the decimal mark at column 21"},
        {"2024-01-15T10:30:00+2500", "invalid date-time '2024-01-15T10:30:00+2500': invalid UTC offset at column 20"},
        {"2024-01-15T10:30:00Zjunk", "invalid date-time '2024-01-15T10:30:00Zjunk': unexpected text at column 21"},
        {"2024-01-15T10:30:00[Mars/Olympus]", "invalid date-time '2024-01-15T10:30:00[Mars/Olympus]': unknown time zone 'Mars/Olympus' at column 21"},
        {"2024-01-15T10:30:00[Europe/Paris", "invalid date-time '2024-01-15T10:30:00[Europe/Paris': expected ']' after the zone name at column 20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t us;
        kerr e = KERR_INIT;
        assert_int_equal(datetime_parse(cases[i].in, NULL, &us, NULL, &e), -1);
        assert_string_equal(e.msg, cases[i].msg);
    }
}

static void test_format_like_java_instant(void **state)
{
    (void)state;
    char buf[48];
    int64_t base = iso("2024-01-15T10:30:00Z");
    datetime_format(base, NULL, buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T10:30:00Z");
    datetime_format(base + 123000, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T10:30:00.123Z");
    datetime_format(base + 123456, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T10:30:00.123456Z");
    datetime_format(base + 100, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T10:30:00.000100Z");
    datetime_format((int64_t)253402300800 * US_PER_SEC, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "+10000-01-01T00:00:00Z");
    datetime_format((int64_t)-62167305600 * US_PER_SEC, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "-0001-12-31T00:00:00Z");
    datetime_format(-1, tz_utc(), buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    datetime_format(base, zone("Europe/Paris"), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T11:30:00+01:00");
    /* A zone whose offset is zero prints Z, as java.time does. */
    datetime_format(base, zone("Europe/London"), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-15T10:30:00Z");
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    const char *zones[] = {"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata",
                           "Australia/Lord_Howe"};
    uint64_t x = 12345;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t us = (int64_t)(x % (200ULL * 365 * 86400 * 1000000ULL)) -
                     (int64_t)(50LL * 365 * 86400 * 1000000LL);
        if (i % 3 == 0)
            us -= us % 1000;
        char buf[48];
        datetime_format(us, zone(zones[i % 5]), buf, sizeof buf);
        assert_int_equal(iso(buf), us);
    }
}

/* ---- durations (duration.c) ---- */

static void test_duration_parse_and_format(void **state)
{
    (void)state;
    struct { const char *in; int64_t us; const char *out; } cases[] = {
        {"PT0.05S", 50000, "PT0.05S"},
        {"PT1H30M", 5400 * US_PER_SEC, "PT1H30M"},
        {"P1D", 86400 * US_PER_SEC, "PT24H"},
        {"P2W", 14 * 86400 * US_PER_SEC, "PT336H"},
        {"-PT5S", -5 * US_PER_SEC, "-PT5S"}, /* java.time prints PT-5S */
        {"PT0S", 0, "PT0S"},
        {"PT0.123456S", 123456, "PT0.123456S"},
        {"PT1H0.5S", 3600 * US_PER_SEC + 500000, "PT1H0.5S"},
        {"PT2M3.0001S", 123 * US_PER_SEC + 100, "PT2M3.0001S"},
        {"PT1000H", 3600000 * US_PER_SEC, "PT1000H"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t us = 0;
        kerr e = KERR_INIT;
        assert_int_equal(duration_parse(cases[i].in, &us, &e), 0);
        assert_int_equal(us, cases[i].us);
        char buf[64];
        duration_format(us, buf, sizeof buf);
        assert_string_equal(buf, cases[i].out);
        char small[5]; /* cut as snprintf cuts */
        duration_format(us, small, sizeof small);
        assert_int_equal(strncmp(small, cases[i].out, 4), 0);
        assert_true(strlen(small) <= 4);
    }
    int64_t us;
    kerr e = KERR_INIT;
    assert_int_equal(duration_parse("P1M", &us, &e), -1);
    assert_int_equal(duration_parse("1H", &us, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_zone_from_tz_variable),
        cmocka_unit_test(test_days_from_civil_known_dates),
        cmocka_unit_test(test_civil_round_trip_over_centuries),
        cmocka_unit_test(test_clocks_move),
        cmocka_unit_test(test_paris_spring_forward_2024),
        cmocka_unit_test(test_paris_fall_back_2024),
        cmocka_unit_test(test_new_york_2024),
        cmocka_unit_test(test_lord_howe_half_hour_dst),
        cmocka_unit_test(test_kolkata_and_history),
        cmocka_unit_test(test_footer_rule_after_2037),
        cmocka_unit_test(test_offsets_agree_with_glibc),
        cmocka_unit_test(test_slim_files_agree),
        cmocka_unit_test(test_fixed_offsets),
        cmocka_unit_test(test_zone_errors),
        cmocka_unit_test(test_zone_is_cached),
        cmocka_unit_test(test_zone_cache_thread_safe),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_format_like_java_instant),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_duration_parse_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
