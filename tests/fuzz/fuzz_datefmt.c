/*
 * fuzz_datefmt.c: libFuzzer target for IonToCsv's DateTimeFormatter patterns
 * (tasks/serdes_datefmt.h), user input from a flow's dateFormat,
 * timeFormat and dateTimeFormat.
 *
 * Input: the pattern. It compiles, or fails with a message naming the
 * property; a compiled pattern formats a date, a time, a date-time with and
 * without an offset, each either printing or failing with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/serdes_datefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *pat = malloc(size + 1);
    memcpy(pat, data, size);
    pat[size] = 0;
    kerr e = KERR_INIT;
    datefmt *f = datefmt_compile("dateFormat", pat, &e);
    if (!f) {
        if (!strstr(e.msg, "property 'dateFormat'"))
            abort();
        free(pat);
        return 0;
    }
    static const dt_value vals[] = {
        {.has_date = 1, .year = 2024, .month = 2, .day = 29},
        {.has_time = 1, .hour = 0, .min = 5, .sec = 7, .nano = 123456789},
        {.has_date = 1, .has_time = 1, .year = -44, .month = 3, .day = 15, .hour = 12},
        {.has_date = 1, .has_time = 1, .has_offset = 1, .year = 99999, .month = 12, .day = 31, .hour = 23,
         .min = 59, .sec = 60, .nano = 999999999, .offset = -(5 * 3600 + 30 * 60 + 15)},
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        buf b;
        buf_init(&b, 0);
        kerr fe = KERR_INIT;
        if (datefmt_format(f, &vals[i], &b, &fe) && !strstr(fe.msg, "property 'dateFormat'"))
            abort();
        buf_free(&b);
    }
    datefmt_free(f);
    free(pat);
    return 0;
}
