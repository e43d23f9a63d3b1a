/*
 * fuzz_json_body.c: JSON bodies as the server takes them: the text depth
 * check, the limited loader, and the dump of what it accepted (the path of
 * the deep-JSON crash). Invariants: a value the loader accepts nests at most
 * JSON_MAX_DEPTH levels (the tree check agrees with the text check) and
 * dumps; the text check never reads past len.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int line, col;
    int deep = json_text_depth_exceeds((const char *)data, size, JSON_MAX_DEPTH, &line, &col);
    json_error_t je;
    json_t *j = json_loadb_limited((const char *)data, size, JSON_DECODE_ANY, JSON_MAX_DEPTH, &je);
    if (j) {
        if (deep || json_depth_exceeds(j, JSON_MAX_DEPTH))
            abort();
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            abort();
        free(s);
        json_decref(j);
    } else if (deep && !strstr(je.text, "nested deeper")) {
        abort();
    }
    return 0;
}
