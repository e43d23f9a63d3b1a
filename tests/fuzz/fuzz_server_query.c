/*
 * fuzz_server_query.c: query strings as the server reads them. The input
 * is split into fields at '&' and into name and value at the first '=', as
 * libmicrohttpd does before it calls kite's unescape callback; then each
 * part goes through srv__unescape (percent-decoding, %00 made DEL so that
 * "a%00b" is refused instead of cut to "a") and each value through
 * srv__parse_size with the bounds of `page` and `size`. Invariants: the
 * decoded length never grows, holds no NUL, and is terminated; a number
 * read is within its bounds and is what the digits say.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_part(char *s)
{
    size_t before = strlen(s);
    size_t n = srv__unescape(s);
    if (n > before || s[n] != '\0' || memchr(s, '\0', n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = xstrndup((const char *)data, size);
    char *save = NULL;
    for (char *f = strtok_r(q, "&", &save); f; f = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(f, '=');
        if (eq)
            *eq = '\0';
        check_part(f);
        if (!eq)
            continue;
        char *v = eq + 1;
        check_part(v);
        long out = -1;
        if (srv__parse_size(v, 1, 1000000000L, &out) == 0) {
            if (out < 1 || out > 1000000000L || strtol(v, NULL, 10) != out)
                abort();
        } else if (out != -1) {
            abort(); /* a refusal leaves the output alone */
        }
    }
    free(q);
    return 0;
}
