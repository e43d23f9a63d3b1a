/*
 * bench_cron.c: cron_next and cron_prev computations per second.
 *
 * Each expression is walked from 2024-01-01 (t = next(t), so DST days are
 * crossed), and then evaluated from scattered start instants, in the zones
 * the scheduler meets most. Also: parses per second, and the zone and
 * ISO-8601 conversions everything stands on. Prints figures only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sched/sched.h"
#include "util/datetime.h"

static volatile int64_t sink;

static void bench_one(const char *spec, int secs, const char *zname)
{
    kerr e = KERR_INIT;
    cron_expr *c = cron_parse(spec, secs, &e);
    const tzone *z = tz_get(zname, &e);
    if (!c || !z) {
        fprintf(stderr, "bench_cron: %s\n", e.msg);
        exit(1);
    }
    int64_t start = 1704067200LL * US_PER_SEC;   /* 2024-01-01T00:00:00Z */
    int n = 200000;
    int64_t t0 = time_mono_us(), t = start;
    for (int i = 0; i < n; i++) {
        t = cron_next(c, z, t);
        if (t < 0)
            t = start;
    }
    double walk = (double)n / ((double)(time_mono_us() - t0) / 1e6);
    uint64_t x = 88172645463325252ULL;
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sink = cron_next(c, z, start + (int64_t)(x % (3ULL * 365 * 86400)) * US_PER_SEC);
    }
    double scattered = (double)n / ((double)(time_mono_us() - t0) / 1e6);
    t0 = time_mono_us();
    t = start + 3LL * 365 * 86400 * US_PER_SEC;
    for (int i = 0; i < n; i++) {
        t = cron_prev(c, z, t - 1);
        if (t < 0)
            t = start;
    }
    double prev = (double)n / ((double)(time_mono_us() - t0) / 1e6);
    printf("  %-26s %-20s next (walk) %10.0f/s   next (scattered) %10.0f/s   prev (walk) %10.0f/s\n",
           spec, zname, walk, scattered, prev);
    cron_free(c);
}

int main(void)
{
    printf("bench_cron: cron evaluations per second (one core)\n");
    bench_one("*/5 * * * *", 0, "UTC");
    bench_one("*/5 * * * *", 0, "Europe/Paris");
    bench_one("0 9 * * MON-FRI", 0, "America/New_York");
    bench_one("30 2 * * *", 0, "Europe/Paris");
    bench_one("0 0 13 * FRI", 0, "UTC");
    bench_one("0 12 29 2 *", 0, "Australia/Lord_Howe");
    bench_one("0 0 L * *", 0, "Asia/Kolkata");
    bench_one("*/10 * * * * *", 1, "Europe/Paris");
    kerr e = KERR_INIT;
    int n = 200000;
    int64_t t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        cron_expr *c = cron_parse("0,15,30,45 8-18 * JAN-NOV MON-FRI", 0, &e);
        cron_free(c);
    }
    printf("  cron_parse: %.0f/s\n", (double)n / ((double)(time_mono_us() - t0) / 1e6));

    /* what every evaluation stands on: zone lookups and ISO-8601 text */
    const tzone *paris = tz_get("Europe/Paris", &e);
    n = 1000000;
    uint64_t x = 88172645463325252ULL;
    int64_t acc = 0;
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        civil c;
        tz_to_civil(paris, (int64_t)(x % (2ULL << 40)) * 1000, &c);  /* 1970-2039 */
        acc += c.hour;
    }
    printf("  tz_to_civil (Europe/Paris): %.0f/s\n",
           (double)n / ((double)(time_mono_us() - t0) / 1e6));
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        civil c = {.year = 2024, .month = 1 + i % 12, .day = 1 + i % 28, .hour = i % 24};
        acc += tz_from_civil(paris, &c);
    }
    printf("  tz_from_civil (Europe/Paris): %.0f/s\n",
           (double)n / ((double)(time_mono_us() - t0) / 1e6));
    char buf[64];
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        datetime_format(1705314600LL * US_PER_SEC + i * 1000LL, tz_utc(), buf, sizeof buf);
        acc += buf[20];
    }
    printf("  datetime_format: %.0f/s\n", (double)n / ((double)(time_mono_us() - t0) / 1e6));
    t0 = time_mono_us();
    for (int i = 0; i < n; i++) {
        int64_t us;
        datetime_parse("2024-01-15T10:30:00.123+02:00", NULL, &us, NULL, &e);
        acc += us;
    }
    printf("  datetime_parse: %.0f/s\n", (double)n / ((double)(time_mono_us() - t0) / 1e6));
    sink = acc;
    return 0;
}
