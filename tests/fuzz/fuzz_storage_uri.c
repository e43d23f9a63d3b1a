/*
 * fuzz_storage_uri.c: the storage URI parser and builders, on any bytes.
 *
 * Storage URIs come from users (flow properties, API calls, task outputs) and
 * become file names, so beyond "does not crash" this checks the properties
 * the local backend relies on, aborting when one fails:
 *   - a parsed path has no empty, "." or ".." segment, no NUL, no segment
 *     over STORAGE_SEGMENT_MAX bytes, no reserved ".kite." segment, and at
 *     most STORAGE_DEPTH_MAX segments;
 *   - the canonical URI parses again to the same path and the same text;
 *   - a builder's URI (parts taken from the input, split on '\n') parses back
 *     to the parts it was built from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_path(const storage_uri *u)
{
    const char *p = u->path;
    int depth = 0;
    if (!*p) {
        check(u->depth == 0 && u->is_folder);
        return;
    }
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        check(len > 0 && len <= STORAGE_SEGMENT_MAX);
        check(!(len == 1 && p[0] == '.'));
        check(!(len == 2 && p[0] == '.' && p[1] == '.'));
        check(!(len >= 6 && memcmp(p, ".kite.", 6) == 0));
        depth++;
        if (!slash)
            break;
        p = slash + 1;
    }
    check(depth == u->depth && depth <= STORAGE_DEPTH_MAX);
}

static void parse_and_check(const char *text, unsigned flags)
{
    storage_uri u, v;
    kerr e = KERR_INIT;
    if (storage_uri_parse(text, flags, &u, &e)) {
        check(e.msg[0] != '\0' && u.path == NULL);
        return;
    }
    check_path(&u);
    check(strncmp(u.uri, STORAGE_SCHEME "/", sizeof STORAGE_SCHEME) == 0);
    check(storage_uri_parse(u.uri, flags, &v, &e) == 0);
    check(strcmp(u.path, v.path) == 0 && strcmp(u.uri, v.uri) == 0 && u.kind == v.kind);
    if (u.kind != STORAGE_URI_OTHER)
        check(u.namespace_id && u.name);
    if (u.kind == STORAGE_URI_TASK_FILE)
        check(u.flow_id && u.execution_id && u.task_id && u.taskrun_id);
    storage_uri_free(&v);
    storage_uri_free(&u);
}

static void build_and_check(char **parts, int n)
{
    if (n < 6)
        return;
    kerr e = KERR_INIT;
    char *uri = storage_uri_task_file(parts[0], parts[1], parts[2], parts[3], parts[4],
                                      parts[5], &e);
    if (!uri) {
        check(e.msg[0] != '\0');
        return;
    }
    storage_uri u;
    check(storage_uri_parse(uri, 0, &u, &e) == 0);
    check_path(&u);
    check(strcmp(u.uri, uri) == 0);
    /* a namespace or flow id that is itself a marker word may classify
     * differently; otherwise the parts come back */
    if (u.kind == STORAGE_URI_TASK_FILE && strcmp(u.execution_id, parts[2]) == 0) {
        check(strcmp(u.task_id, parts[3]) == 0);
        check(strcmp(u.taskrun_id, parts[4]) == 0);
    }
    storage_uri_free(&u);
    free(uri);

    uri = storage_uri_namespace_file(parts[0], parts[5], &e);
    if (uri) {
        check(storage_uri_parse(uri, 0, &u, &e) == 0);
        check(strcmp(u.uri, uri) == 0);
        storage_uri_free(&u);
        free(uri);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * STORAGE_URI_MAX)
        return 0;
    char *text = xstrndup((const char *)data, size);
    parse_and_check(text, 0);
    parse_and_check(text, STORAGE_URI_FOLDER);

    char *copy = xstrdup(text);
    char *parts[8];
    int n = 0;
    char *p = copy;
    while (n < 8) {
        parts[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    build_and_check(parts, n);
    free(copy);
    free(text);
    return 0;
}
