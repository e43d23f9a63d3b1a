/*
 * http.c: the response helpers every handler uses, and the request's
 * accessors: JSON answers (srv_json, with the dump depth guard), errors
 * (srv_error: {"message": ...}), downloads (srv_download: a buffer or a
 * file descriptor, with a sanitised Content-Disposition), query arguments,
 * headers, paging and JSON bodies (depth-limited before parsing).
 *
 * server.c (the daemon and dispatch), auth.c and the resource files depend
 * on this file; it depends on none of them.
 */
#include "server/server_int.h"
#include "util/json.h"
#include "util/json_limits.h"
#include "util/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- responses --------------------------------------------------------------- */

enum MHD_Result srv_queue(srv_req *r, unsigned status, struct MHD_Response *resp)
{
    r->answered = (int)status;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result srv_text(srv_req *r, unsigned status, const char *ctype, const char *text, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", ctype);
    return srv_queue(r, status, resp);
}

char *srv_dump(const json_t *j)
{
    if (json_depth_exceeds(j, SRV_DUMP_MAX_DEPTH))
        return NULL;
    return kjson_dump_real(j, 15); /* json_dumps's bytes, faster */
}

enum MHD_Result srv_json(srv_req *r, unsigned status, json_t *j)
{
    char *s = srv_dump(j);
    if (!s && json_depth_exceeds(j, SRV_DUMP_MAX_DEPTH)) {
        json_decref(j);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        s = xasprintf("{\"message\":\"the answer is nested deeper than %d levels: it cannot be sent\"}",
                      SRV_DUMP_MAX_DEPTH);
    } else {
        json_decref(j);
    }
    if (!s)
        s = xstrdup("null");
    /* secrets never leave in an answer (outputs, inputs, labels, errors) */
    size_t len = strlen(s);
    char *masked = engine_mask(r->s->o.engine, s, len, &len);
    if (masked) {
        free(s);
        s = masked;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return srv_queue(r, status, resp);
}

enum MHD_Result srv_error(srv_req *r, unsigned status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return srv_json(r, status, json_pack("{s:s}", "message", msg));
}

enum MHD_Result srv_empty(srv_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return srv_queue(r, status, resp);
}

enum MHD_Result srv_kerr_error(srv_req *r, const kerr *e)
{
    unsigned status;
    switch (e->code) {
    case KERR_NOT_FOUND: status = MHD_HTTP_NOT_FOUND; break;
    case KERR_CONFLICT:
    case KERR_DUPLICATE: status = MHD_HTTP_CONFLICT; break;
    case KERR_INVALID: status = MHD_HTTP_UNPROCESSABLE_CONTENT; break;
    case KERR_UNAVAILABLE: status = MHD_HTTP_SERVICE_UNAVAILABLE; break;
    default: status = MHD_HTTP_INTERNAL_SERVER_ERROR; break;
    }
    return srv_error(r, status, "%s", e->msg[0] ? e->msg : "internal error");
}

/* ---- query parameters and their declaration in the route table ---------------- */

const char *const srv_query_types[] = {"string", "int", "bool", "date-time", "duration",
                                       "label", "state", "level", "plugin-kind", NULL};

const char *srv_query_next(const char *spec, srv_qparam *p)
{
    memset(p, 0, sizeof *p);
    while (spec && *spec == ' ')
        spec++;
    if (!spec || !*spec)
        return NULL;
    size_t n = strspn(spec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
    int ok = n > 0 && n < sizeof p->name;
    if (ok)
        memcpy(p->name, spec, n);
    spec += n;
    if (*spec && !strchr(" *!:", *spec)) { /* a character a name does not have */
        ok = 0;
        spec += strcspn(spec, " ");
    }
    for (; *spec == '*' || *spec == '!'; spec++)
        *(*spec == '*' ? &p->repeat : &p->required) = 1;
    const char *type = "string";
    size_t tn = strlen(type);
    if (*spec == ':') {
        type = ++spec;
        tn = strcspn(spec, " ");
        spec += tn;
    }
    if (*spec && *spec != ' ')
        ok = 0;
    for (size_t i = 0; ok && srv_query_types[i]; i++)
        if (strlen(srv_query_types[i]) == tn && !strncmp(srv_query_types[i], type, tn)) {
            memcpy(p->type, type, tn);
            break;
        }
    if (!ok)
        p->type[0] = '\0';
    return spec;
}

int srv_query_declares(const srv_route *rt, const char *name, srv_qparam *p)
{
    srv_qparam q;
    for (const char *s = rt ? rt->query : NULL; (s = srv_query_next(s, &q));)
        if (!strcmp(q.name, name)) {
            if (p)
                *p = q;
            return 1;
        }
    return 0;
}

/* A handler read a parameter its route does not document: a bug of the
 * route table, said on stderr (the e2e suites fail on the line) and served
 * as if declared. */
static void check_declared(srv_req *r, const char *name)
{
    if (r->route && !srv_query_declares(r->route, name, NULL))
        fprintf(stderr, "kite server: internal error: %s %s reads query '%s', which its route does not declare "
                        "(src/server/server.c)\n", r->route->method, r->route->pattern, name);
}

const char *srv_arg(srv_req *r, const char *name)
{
    check_declared(r, name);
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct args_acc {
    const char *name;
    json_t *out;
} args_acc;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    args_acc *a = cls;
    if (key && !strcmp(key, a->name) && value)
        json_array_append_new(a->out, json_string(value));
    return MHD_YES;
}

json_t *srv_args_all(srv_req *r, const char *name)
{
    check_declared(r, name);
    args_acc a = {name, json_array()};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    return a.out;
}

int srv_args_states(srv_req *r, unsigned *states)
{
    json_t *all = srv_args_all(r, "state");
    size_t i;
    json_t *v;
    *states = 0;
    json_array_foreach(all, i, v)
    {
        store_state st;
        if (store_state_parse(json_string_value(v), &st)) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'state': '%s' is not a state (CREATED, RUNNING, SUCCESS, FAILED...)",
                      json_string_value(v));
            json_decref(all);
            return -1;
        }
        *states |= STORE_STATE_BIT(st);
    }
    json_decref(all);
    return 0;
}

int srv__parse_size(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int srv_paging(srv_req *r, size_t *offset, size_t *limit, size_t *page)
{
    long pg = 1, sz = 10;
    const char *p = srv_arg(r, "page"), *z = srv_arg(r, "size");
    if (p && srv__parse_size(p, 1, 1000000000L, &pg)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'page': '%s' is not a page number (1, 2, ...)", p);
        return -1;
    }
    if (z && srv__parse_size(z, 1, 1000000000L, &sz)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'size': '%s' is not a positive number", z);
        return -1;
    }
    if (sz > SRV_PAGE_MAX)
        sz = SRV_PAGE_MAX;
    *limit = (size_t)sz;
    *offset = (size_t)(pg - 1) * (size_t)sz;
    if (page)
        *page = (size_t)pg;
    return 0;
}

json_t *srv_body_json(srv_req *r, int any)
{
    if (r->body.len == 0) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body is empty: send a JSON %s", any ? "value" : "object");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb_limited(r->body.data, r->body.len, JSON_DECODE_ANY, JSON_MAX_DEPTH, &je);
    if (!j) {
        char msg[512];
        kerr_format_pos(msg, sizeof msg, "body", je.line, je.column, "invalid JSON: ");
        srv_error(r, MHD_HTTP_BAD_REQUEST, "%s%s", msg, je.text);
        return NULL;
    }
    if (!any && !json_is_object(j)) {
        json_decref(j);
        srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

enum MHD_Result srv_download(srv_req *r, const char *ctype, const char *filename, char *data, size_t len, int fd)
{
    struct MHD_Response *resp = fd >= 0 ? MHD_create_response_from_fd((uint64_t)len, fd)
                                        : MHD_create_response_from_buffer(len, data ? data : xstrdup(""),
                                                                          MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        if (fd >= 0)
            close(fd);
        else
            free(data);
    }
    return srv_download_resp(r, ctype, filename, resp);
}

enum MHD_Result srv_download_resp(srv_req *r, const char *ctype, const char *filename, struct MHD_Response *resp)
{
    if (!resp)
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the download of %s", filename);
    /* the name goes inside a quoted header value: no quote, backslash or control byte */
    char *name = xstrdup(filename && *filename ? filename : "file");
    for (char *p = name; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    char *disp = xasprintf("attachment; filename=\"%s\"", name);
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Content-Disposition", disp);
    free(disp);
    free(name);
    return srv_queue(r, MHD_HTTP_OK, resp);
}

