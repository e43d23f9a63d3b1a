/*
 * fuzz_size.c: the size parser of task properties (str_parse_bytes: the
 * Docker and sandbox runners' memory.memory, shmSize), on any bytes.
 *
 * Beyond "does not crash", it aborts when a property fails:
 *   - an accepted size is not negative, and a plain number of bytes parses
 *     to itself;
 *   - a size printed in whole KiB with the unit "Ki" parses back to the same
 *     number of bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char *text = xstrndup((const char *)data, size);
    long long n;
    if (str_parse_bytes(text, &n) == 0) {
        check(n >= 0);
        char back[64];
        snprintf(back, sizeof back, "%lld", n);
        long long m;
        check(str_parse_bytes(back, &m) == 0 && m == n);
        if (n % 1024 == 0) {
            snprintf(back, sizeof back, "%lldKi", n / 1024);
            check(str_parse_bytes(back, &m) == 0 && m == n);
        }
    }
    free(text);
    return 0;
}
