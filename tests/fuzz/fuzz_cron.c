/*
 * fuzz_cron.c: libFuzzer target for cron_parse, cron_next/cron_prev and
 * datetime_parse.
 *
 * Input: one flag byte, then the text. Flag bit 0: parse with a seconds
 * field; bit 1: feed the text to datetime_parse instead; bits 2-3 pick the
 * zone. Parsed expressions are evaluated around fixed instants near DST
 * changes and must keep the invariants: next is strictly after, prev is at
 * or before, and prev(next) == next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "util/datetime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 512)
        return 0;
    static const char *zones[] = {"UTC", "Europe/Paris", "America/New_York",
                                  "Australia/Lord_Howe"};
    unsigned flags = data[0];
    char text[520];
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const tzone *z = tz_get(zones[(flags >> 2) & 3], NULL);
    if (!z)
        abort();
    kerr e = KERR_INIT;
    if (flags & 2) {
        int64_t us;
        int off;
        if (datetime_parse(text, z, &us, &off, &e) == 0) {
            char buf[64];
            datetime_format(us, tz_utc(), buf, sizeof buf);
            int64_t back;
            if (datetime_parse(buf, NULL, &back, NULL, &e) != 0 || back != us)
                abort();
        } else if (!e.msg[0]) {
            abort();
        }
        return 0;
    }
    cron_expr *c = cron_parse(text, flags & 1, &e);
    if (!c) {
        if (!e.msg[0])
            abort();
        return 0;
    }
    static const int64_t starts[] = {1711846800LL, 1729990800LL, 1710054000LL, 1704067200LL};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        int64_t at = starts[i] * US_PER_SEC + 123;
        int64_t n = cron_next(c, z, at);
        int64_t p = cron_prev(c, z, at);
        if (n >= 0 && (n <= at || cron_prev(c, z, n) != n))
            abort();
        if (p >= 0 && (p > at || (n >= 0 && cron_next(c, z, p) != n)))
            abort();
    }
    cron_free(c);
    return 0;
}
