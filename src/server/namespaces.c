/*
 * namespaces.c: the namespace tree with its counts (GET /api/v1/namespaces
 * and Kestra's /api/v1/namespaces/search), and namespace files
 * (/api/v1/namespaces/{namespace}/files: read, list, upload, write,
 * delete).
 *
 * Counts come from the store in one GROUP BY (store_namespace_counts); the
 * tree adds the parents that hold nothing themselves ("company" above
 * "company.team") and each namespace's totals over its subtree.
 *
 * Namespace files are the files of internal storage under
 * kite:///<namespace as path>/_files/<path>, the place the namespace files
 * tasks, WorkingDirectory's namespaceFiles and read() use, so a file
 * uploaded here is what a flow reads. A path is '/'-separated segments; an
 * empty, "." or ".." segment is refused (400) before storage sees it.
 */
#include "server/server_int.h"
#include "util/policy.h"
#include "server/ui_int.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the tree ------------------------------------------------------------------ */

static json_t *state_counts(const int64_t *v)
{
    json_t *o = json_object();
    for (int s = 0; s < STATE__COUNT; s++)
        if (v[s])
            json_object_set_new(o, store_state_name((store_state)s), json_integer(v[s]));
    return o;
}

typedef struct nsrow {
    char *id;
    int64_t flows, tree_flows;
    int64_t ex[STATE__COUNT], tree_ex[STATE__COUNT];
} nsrow;

static int nsrow_cmp(const void *a, const void *b) { return strcmp(((const nsrow *)a)->id, ((const nsrow *)b)->id); }

static nsrow *row_of(json_t *index, nsrow **rows, size_t *n, size_t *cap, const char *id)
{
    json_t *at = json_object_get(index, id);
    if (at)
        return &(*rows)[json_integer_value(at)];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *rows = xrealloc(*rows, *cap * sizeof **rows);
    }
    nsrow *r = &(*rows)[*n];
    memset(r, 0, sizeof *r);
    r->id = xstrdup(id);
    json_object_set_new(index, id, json_integer((json_int_t)(*n)++));
    return r;
}

enum MHD_Result srv_namespaces_search(srv_req *r)
{
    const char *q = srv_arg(r, "q");
    if (q && strlen(q) > SRV_QUERY_MAX)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'q' is longer than %d bytes", SRV_QUERY_MAX);
    size_t off = 0, lim = 0;
    int paged = srv_arg(r, "page") || srv_arg(r, "size");
    if (paged && srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    store_ns_count *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_namespace_counts(r->s->o.store, &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *index = json_object();
    nsrow *rows = NULL;
    size_t nr = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        /* what the caller may not read counts nowhere (access.c) */
        if (!srv_allowed(r, PA_FLOW_READ, v[i].namespace))
            continue;
        /* the namespace and every parent: a.b.c, a.b, a */
        char *id = xstrdup(v[i].namespace);
        int own = 1;
        for (;;) {
            nsrow *x = row_of(index, &rows, &nr, &cap, id);
            if (own) {
                x->flows += v[i].flows;
                for (int s = 0; s < STATE__COUNT; s++)
                    x->ex[s] += v[i].executions[s];
            }
            x->tree_flows += v[i].flows;
            for (int s = 0; s < STATE__COUNT; s++)
                x->tree_ex[s] += v[i].executions[s];
            own = 0;
            char *dot = strrchr(id, '.');
            if (!dot)
                break;
            *dot = '\0';
        }
        free(id);
    }
    store_ns_counts_free(v, n);
    json_decref(index);
    if (nr)
        qsort(rows, nr, sizeof *rows, nsrow_cmp);
    json_t *res = json_array();
    int64_t total = 0;
    for (size_t i = 0; i < nr; i++) {
        nsrow *x = &rows[i];
        if ((!q || strcasestr(x->id, q)) && srv_allowed(r, PA_FLOW_READ, x->id)) {
            if ((size_t)total >= off && (!lim || (size_t)total < off + lim)) {
                char *dot = strrchr(x->id, '.');
                json_t *o = json_pack("{s:s,s:s%,s:b,s:I,s:o,s:I,s:o}", "id", x->id, "parent", x->id,
                                      dot ? (size_t)(dot - x->id) : 0, "deleted", 0, "flowCount",
                                      (json_int_t)x->flows, "executionCounts", state_counts(x->ex), "treeFlowCount",
                                      (json_int_t)x->tree_flows, "treeExecutionCounts", state_counts(x->tree_ex));
                if (!dot)
                    json_object_set_new(o, "parent", json_null());
                json_array_append_new(res, o);
            }
            total++;
        }
        free(x->id);
    }
    free(rows);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

/* ---- files ----------------------------------------------------------------------- */

/* The path argument checked: NULL after answering 400. "/" and "" are the
 * root when root_ok. The result is borrowed from the request. */
static const char *file_path(srv_req *r, int root_ok)
{
    const char *p = srv_arg(r, "path");
    if (!p || !*p) {
        if (root_ok)
            return "";
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'path' is required: the file's path, such as /scripts/etl.py");
        return NULL;
    }
    const char *s = p;
    while (*s == '/')
        s++;
    if (!*s) {
        if (root_ok)
            return "";
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'path': '%s' names the root folder, not a file", p);
        return NULL;
    }
    for (const char *seg = s; *seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.') || (len == 0 && end) ||
            memchr(seg, '\\', len)) {
            srv_error(r, MHD_HTTP_BAD_REQUEST,
                      "query 'path': '%s' is not allowed: no '.', '..' or empty segment, no backslash", p);
            return NULL;
        }
        if (!end)
            break;
        seg = end + 1;
        if (!*seg)
            break; /* a trailing '/' */
    }
    return s;
}

/* The storage URI of a file (or, folder 1, of a folder, "" the root,
 * ending in '/'); NULL after answering 400. */
static char *file_uri(srv_req *r, const char *path, int folder)
{
    kerr e = KERR_INIT;
    char *uri;
    if (!*path) {
        char *probe = storage_uri_namespace_file(r->params[0], "x", &e);
        if (!probe) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
            return NULL;
        }
        probe[strlen(probe) - 1] = '\0';
        return probe;
    }
    char *trimmed = xstrdup(path);
    size_t n = strlen(trimmed);
    while (n && trimmed[n - 1] == '/')
        trimmed[--n] = '\0';
    uri = storage_uri_namespace_file(r->params[0], trimmed, &e);
    free(trimmed);
    if (!uri) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
        return NULL;
    }
    if (folder) {
        char *f = xasprintf("%s/", uri);
        free(uri);
        uri = f;
    }
    return uri;
}

enum MHD_Result srv_nsfile_get(srv_req *r)
{
    const char *path = file_path(r, 0);
    if (!path)
        return MHD_YES;
    char *uri = file_uri(r, path, 0);
    if (!uri)
        return MHD_YES;
    kerr e = KERR_INIT;
    const char *base = strrchr(path, '/');
    enum MHD_Result rc;
    if (srv_download_file(r, uri, base ? base + 1 : path, &rc, &e))
        rc = srv_error(r, MHD_HTTP_NOT_FOUND, "namespace %s has no file /%s", r->params[0], path);
    free(uri);
    return rc;
}

enum MHD_Result srv_nsfile_list(srv_req *r)
{
    const char *path = file_path(r, 1);
    if (!path)
        return MHD_YES;
    char *prefix = file_uri(r, path, 1);
    if (!prefix)
        return MHD_YES;
    storage_entry *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (storage_list(r->s->o.storage, prefix, &v, &n, &e)) {
        free(prefix);
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e.msg);
    }
    /* storage_list gives canonical URIs: compare with the canonical prefix */
    size_t plen = strlen(prefix);
    json_t *seen = json_object();
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        if (strncmp(v[i].uri, prefix, plen))
            continue;
        const char *rest = v[i].uri + plen;
        const char *slash = strchr(rest, '/');
        char *name = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
        storage_uri u = {0};
        /* the decoded name (the URI is percent-encoded) */
        char *one = xasprintf("kite:///x/%s", name);
        kerr ue = KERR_INIT;
        const char *shown = name;
        if (!storage_uri_parse(one, 0, &u, &ue) && u.name)
            shown = u.name;
        if (!json_object_get(seen, shown)) {
            json_object_set_new(seen, shown, json_true());
            json_t *o = json_pack("{s:s,s:s}", "fileName", shown, "type", slash ? "Directory" : "File");
            if (!slash)
                json_object_set_new(o, "size", json_integer(v[i].size));
            json_array_append_new(res, o);
        }
        storage_uri_free(&u);
        free(one);
        free(name);
    }
    json_decref(seen);
    storage_entries_free(v, n);
    free(prefix);
    return srv_json(r, MHD_HTTP_OK, res);
}

/* A folder where a file is written: 409. Listing "uri/" gives the files
 * below it, or, when uri is a file, that file itself (storage_list's
 * contract): only files below it are a clash, so a file can be rewritten. */
static int conflicts(srv_req *r, const char *uri, const char *path)
{
    kerr e = KERR_INIT;
    char *folder = xasprintf("%s/", uri);
    storage_entry *v = NULL;
    size_t n = 0;
    int clash = 0;
    if (!storage_list(r->s->o.storage, folder, &v, &n, &e))
        for (size_t i = 0; i < n && !clash; i++)
            clash = !strncmp(v[i].uri, folder, strlen(folder));
    storage_entries_free(v, n);
    free(folder);
    if (clash)
        srv_error(r, MHD_HTTP_CONFLICT, "namespace %s: /%s is a folder", r->params[0], path);
    return clash;
}

enum MHD_Result srv_nsfile_upload(srv_req *r)
{
    const char *path = file_path(r, 0);
    if (!path)
        return MHD_YES;
    char *uri = file_uri(r, path, 0);
    if (!uri)
        return MHD_YES;
    if (conflicts(r, uri, path)) {
        free(uri);
        return MHD_YES;
    }
    kerr e = KERR_INIT;
    int rc;
    const char *tmp = json_string_value(json_object_get(r->files, "fileContent"));
    if (tmp) {
        rc = storage_put_file(r->s->o.storage, uri, tmp, STORAGE_PUT_MOVE, &e);
    } else if (!strcmp(r->method, "PUT") || (!r->files && !r->form)) {
        /* PUT (or a POST that is not multipart): the raw body is the content */
        rc = storage_put(r->s->o.storage, uri, r->body.data ? r->body.data : "", r->body.len, &e);
    } else {
        free(uri);
        return srv_error(r, MHD_HTTP_BAD_REQUEST,
                         "multipart field 'fileContent' is required: the file to store at /%s", path);
    }
    free(uri);
    if (rc)
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e.msg);
    srv_audit(r, "nsfile:write", "nsfile", r->params[0], path, NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

enum MHD_Result srv_nsfile_delete(srv_req *r)
{
    const char *path = file_path(r, 0);
    if (!path)
        return MHD_YES;
    char *uri = file_uri(r, path, 0);
    if (!uri)
        return MHD_YES;
    kerr e = KERR_INIT;
    int del = storage_delete(r->s->o.storage, uri, &e);
    long nf = 0;
    if (del == 0) {
        char *folder = xasprintf("%s/", uri);
        nf = storage_delete_prefix(r->s->o.storage, folder, &e);
        free(folder);
    }
    free(uri);
    if (del < 0 || nf < 0)
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e.msg);
    if (del == 0 && nf == 0)
        return srv_error(r, MHD_HTTP_NOT_FOUND, "namespace %s has no file or folder /%s", r->params[0], path);
    srv_audit(r, "nsfile:delete", "nsfile", r->params[0], path, NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}
