/*
 * fuzz_server_route.c: the server's routing (srv__route_find: the path
 * normalized, the tenant segment removed, each route's pattern matched
 * segment by segment). Input: a method, a newline, then a URL. Invariants:
 * a found route has that method (or GET for HEAD), as many parameters as
 * its pattern has {x}, each non-empty and without '/'; the normalized path
 * has no query and no trailing slash; a second lookup gives the same
 * answer; nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = xstrndup((const char *)data, size); /* stops at a NUL, as MHD does */
    char *nl = strchr(in, '\n');
    const char *method = nl ? in : "GET";
    const char *url = nl ? nl + 1 : in;
    if (nl)
        *nl = '\0';
    char *path = NULL, *params[SRV_MAX_PARAMS];
    int np = -1;
    buf allow;
    buf_init(&allow, 0);
    const srv_route *rt = srv__route_find(method, url, &path, params, &np, &allow);
    size_t pl = strlen(path);
    if (strchr(path, '?') || (pl > 1 && path[pl - 1] == '/'))
        abort();
    if (rt) {
        if (strcmp(rt->method, method) && !(strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0))
            abort();
        int want = 0;
        for (const char *c = rt->pattern; *c; c++)
            want += *c == '{';
        if (np != want)
            abort();
        /* one segment each, except a {name+} parameter: the rest of the path */
        const char *q = rt->pattern;
        for (int i = 0; i < np; i++) {
            q = strchr(q, '{') + 1;
            int rest = strchr(q, '}')[-1] == '+';
            if (!params[i][0] || (!rest && strchr(params[i], '/')))
                abort();
        }
    } else if (np != 0) {
        abort();
    }
    char *path2 = NULL, *params2[SRV_MAX_PARAMS];
    int np2 = -1;
    const srv_route *rt2 = srv__route_find(method, url, &path2, params2, &np2, NULL);
    if (rt2 != rt || np2 != np || strcmp(path, path2))
        abort();
    for (int i = 0; i < np; i++) {
        if (strcmp(params[i], params2[i]))
            abort();
        free(params[i]);
        free(params2[i]);
    }
    free(path);
    free(path2);
    buf_free(&allow);
    free(in);
    return 0;
}
