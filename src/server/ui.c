/*
 * ui.c: the web UI's files, linked into the binary (ui_assets.h).
 *
 * GET / redirects to /ui/. Under /ui/, a known file answers itself, with
 * its ETag (If-None-Match answers 304), gzipped when the client accepts it
 * and a gzipped copy is smaller; any other path is a route of the
 * single-page app and answers index.html. The hashed bundle names do not
 * change with a release, so files are revalidated (no-cache: a 304 costs a
 * round trip, not a download). No token is needed: the API does the auth.
 */
#include "server/server_int.h"
#include "server/ui_assets.h"

#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const ui_asset *find(const char *path, size_t *total)
{
    size_t n = 0;
    const ui_asset *a = kite_ui_assets ? kite_ui_assets(&n) : NULL;
    *total = n;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(a[i].path, path))
            return &a[i];
    return NULL;
}

/* 1 when the Accept-Encoding header allows gzip: "gzip" or "*" with no
 * q=0 (RFC 9110 12.5.3). */
static int accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    int ok = 0;
    char *copy = xstrdup(ae), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        size_t n = strcspn(t, " \t;");
        if (!((n == 4 && !strncasecmp(t, "gzip", 4)) || (n == 1 && *t == '*')))
            continue;
        const char *q = strstr(t + n, "q=");
        ok = !q || strtod(q + 2, NULL) > 0;
        if (n == 4)
            break; /* gzip named: its own q decides over "*" */
    }
    free(copy);
    return ok;
}

/* 1 when If-None-Match names etag (a list, or "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return 0;
    if (!strcmp(inm, "*"))
        return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag))
        if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
            return 1;
    return 0;
}

static enum MHD_Result queue(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    r->answered = (int)status;
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result srv_ui_root(srv_req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Location", "/ui/");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return queue(r, MHD_HTTP_FOUND, resp);
}

enum MHD_Result srv_ui(srv_req *r)
{
    const char *path = r->nparams > 0 ? r->params[0] : "index.html";
    size_t total;
    const ui_asset *a = find(path, &total);
    if (!total)
        return srv_error(r, MHD_HTTP_NOT_FOUND,
                         "this kite was built without its web UI: run scripts/setup.sh (node and npm install ui/'s "
                         "packages), then make; the API is under /api/v1/");
    int spa = 0;
    if (!a) {
        /* a file that looks like an asset and is not one is a 404; the rest
         * are the app's routes */
        const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
        if (dot && (!slash || dot > slash) && strncmp(path, "assets/", 7) != 0 &&
            (!strcmp(dot, ".js") || !strcmp(dot, ".css") || !strcmp(dot, ".map") || !strcmp(dot, ".png") ||
             !strcmp(dot, ".svg") || !strcmp(dot, ".ico")))
            return srv_error(r, MHD_HTTP_NOT_FOUND, "no file /ui/%s in the web UI", path);
        a = find("index.html", &total);
        spa = 1;
        if (!a)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "the web UI has no index.html");
    }
    struct MHD_Response *resp;
    unsigned status = MHD_HTTP_OK;
    if (etag_matches(srv_header(r, "If-None-Match"), a->etag)) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else if (a->gz && accepts_gzip(srv_header(r, "Accept-Encoding"))) {
        resp = MHD_create_response_from_buffer(a->gz_len, (void *)a->gz, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    } else {
        resp = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    }
    if (status == MHD_HTTP_OK)
        MHD_add_response_header(resp, "Content-Type", a->ctype);
    MHD_add_response_header(resp, "ETag", a->etag);
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (spa || !strcmp(a->path, "index.html")) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                "connect-src 'self'; frame-ancestors 'none'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    }
    return queue(r, status, resp);
}
