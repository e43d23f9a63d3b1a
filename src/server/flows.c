/*
 * flows.c: /api/v1/flows: create, update, get, delete, search, revisions,
 * validate, and the flows of a namespace (list, replace).
 *
 * Bodies are YAML (application/x-yaml), as Kestra takes them. A YAML syntax
 * error is a 400 naming line and column; a flow that parses but is not valid
 * is a 422 whose `errors` list every problem with its position and JSON
 * pointer. Several flows in one body (validate, namespace replace) are YAML
 * documents separated by `---` lines; positions are in the whole body.
 */
#include "server/server_int.h"
#include "util/policy.h"
#include "flow/flow.h"
#include "util/mem.h"

#include <string.h>

#define BODY_NAME "body"

json_t *srv_flow_json(const store_flow *f, int with_source)
{
    return engine_json_flow(f, with_source);
}

static json_t *diags_json(const diags *d, int line_offset)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const diag *g = &d->v[i];
        if (g->warning)
            continue; /* errors only: warnings are the validate answer's own list */
        json_t *o = json_pack("{s:s}", "message", g->msg);
        if (g->line) {
            json_object_set_new(o, "line", json_integer(g->line + line_offset));
            json_object_set_new(o, "column", json_integer(g->col));
        }
        if (g->path)
            json_object_set_new(o, "path", json_string(g->path));
        json_array_append_new(a, o);
    }
    return a;
}

/* "body:3:5: message\n..." for the summary message (errors only). */
static char *diags_text(const diags *d, int line_offset)
{
    buf b;
    buf_init(&b, 0);
    for (size_t i = 0, n = 0; i < d->n && n < 20; i++) {
        const diag *g = &d->v[i];
        if (g->warning)
            continue;
        char line[KERR_MSG_MAX];
        kerr_format_pos(line, sizeof line, BODY_NAME, g->line ? g->line + line_offset : 0, g->col, g->msg);
        buf_printf(&b, "%s%s", n++ ? "\n" : "", line);
    }
    return buf_steal(&b);
}

static void changed(srv_req *r)
{
    if (r->s->o.sched)
        sched_flows_changed(r->s->o.sched);
}

/* Answers a flow the engine refused: 400 when the body is not YAML, 422
 * with every positioned problem when the flow is not valid, else the
 * class's status (409 exists, 404 unknown...). */
static enum MHD_Result answer_refused(srv_req *r, int rc, diags *d, const kerr *e)
{
    diags_sort(d);
    const diag *g = diags_first_error(d);
    if (rc == -2 && g) {
        char msg[KERR_MSG_MAX + 64];
        char what[KERR_MSG_MAX];
        snprintf(what, sizeof what, "invalid YAML: %s", g->msg);
        kerr_format_pos(msg, sizeof msg, BODY_NAME, g->line, g->col, what);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    if (g) {
        char *msg = diags_text(d, 0);
        enum MHD_Result res = srv_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                       json_pack("{s:s+,s:o}", "message", "the flow is not valid:\n", msg, "errors",
                                                 diags_json(d, 0)));
        free(msg);
        return res;
    }
    return srv_kerr_error(r, e);
}

/* POST /flows (must_be_new) and PUT /flows/{ns}/{id}: parsed once, stored
 * once, answered with the stored revision. */
static enum MHD_Result store_body(srv_req *r, int must_be_new, const char *ns, const char *id)
{
    if (r->body.len == 0)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body is empty: send the flow's YAML");
    store_flow row = {0};
    diags d = DIAGS_INIT;
    kerr e = KERR_INIT;
    if (must_be_new) {
        /* the namespace is in the body: checked before anything is stored */
        flow *f = NULL;
        diags d0 = DIAGS_INIT;
        int denied = 0;
        if (!flow_load_text(r->body.data, r->body.len, BODY_NAME, &f, &d0)) {
            denied = f->namespace && srv_authorize(r, PA_FLOW_WRITE, f->namespace);
            flow_free(f);
        }
        diags_free(&d0);
        if (denied)
            return MHD_YES;
    }
    json_t *before = NULL;
    if (!must_be_new) {
        store_flow old = {0};
        kerr e0 = KERR_INIT;
        if (!store_flow_get(r->s->o.store, ns, id, 0, &old, &e0))
            before = json_pack("{s:i,s:s}", "revision", old.revision, "source", old.source ? old.source : "");
        store_flow_clear(&old);
    }
    int rc = engine_flow_create(r->s->o.engine, r->body.data, r->body.len, must_be_new, ns, id, &row, &d, &e);
    enum MHD_Result res;
    if (rc) {
        if (e.code == KERR_DUPLICATE)
            kerr_set(&e, "%s: update it with PUT /api/v1/flows/{namespace}/{id}", e.msg);
        else if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "%s: create it with POST /api/v1/flows", e.msg);
        res = answer_refused(r, rc, &d, &e);
    } else {
        changed(r);
        json_t *after = json_pack("{s:i,s:s}", "revision", row.revision, "source", row.source ? row.source : "");
        srv_audit(r, "flow:write", "flow", row.namespace, row.id, before, after);
        json_decref(after);
        res = srv_json(r, MHD_HTTP_OK, srv_flow_json(&row, 1));
    }
    json_decref(before);
    store_flow_clear(&row);
    diags_free(&d);
    return res;
}


enum MHD_Result srv_flow_create(srv_req *r)
{
    return store_body(r, 1, NULL, NULL);
}

enum MHD_Result srv_flow_update(srv_req *r)
{
    return store_body(r, 0, r->params[0], r->params[1]);
}

enum MHD_Result srv_flow_get(srv_req *r)
{
    const char *rev = srv_arg(r, "revision");
    int revision = 0;
    if (rev) {
        char *end;
        long v = strtol(rev, &end, 10);
        if (*end || v < 1 || v > 1000000000)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'revision': '%s' is not a revision number", rev);
        revision = (int)v;
    }
    store_flow sf = {0};
    kerr e = KERR_INIT;
    if (store_flow_get(r->s->o.store, r->params[0], r->params[1], revision, &sf, &e)) {
        if (e.code == KERR_NOT_FOUND && revision)
            kerr_set(&e, "flow %s.%s has no revision %d", r->params[0], r->params[1], revision);
        else if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "flow %s.%s not found", r->params[0], r->params[1]);
        return srv_kerr_error(r, &e);
    }
    const char *src = srv_arg(r, "source");
    enum MHD_Result rc = srv_json(r, MHD_HTTP_OK, srv_flow_json(&sf, !src || strcmp(src, "false")));
    store_flow_clear(&sf);
    return rc;
}

enum MHD_Result srv_flow_delete(srv_req *r)
{
    kerr e = KERR_INIT;
    store_flow old = {0};
    json_t *before = NULL;
    if (!store_flow_get(r->s->o.store, r->params[0], r->params[1], 0, &old, &e))
        before = json_pack("{s:i,s:s}", "revision", old.revision, "source", old.source ? old.source : "");
    store_flow_clear(&old);
    if (store_flow_delete(r->s->o.store, r->params[0], r->params[1], &e)) {
        json_decref(before);
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "flow %s.%s not found", r->params[0], r->params[1]);
        return srv_kerr_error(r, &e);
    }
    srv_audit(r, "flow:delete", "flow", r->params[0], r->params[1], before, NULL);
    json_decref(before);
    changed(r);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

enum MHD_Result srv_flow_search(srv_req *r)
{
    const char *text = srv_arg(r, "q");
    if (text && strlen(text) > SRV_QUERY_MAX)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'q' is longer than %d bytes", SRV_QUERY_MAX);
    size_t off, lim;
    if (srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    srv_ns_filter nf;
    store_flow_query q = {.ns_prefix = srv_arg(r, "namespace"), .text = srv_arg(r, "q"), .offset = off,
                          .limit = lim, .ns_filter = srv_ns_filter_init(&nf, r, PA_FLOW_READ)};
    store_flow *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    kerr e = KERR_INIT;
    if (store_flow_search(r->s->o.store, &q, &v, &n, &total, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, srv_flow_json(&v[i], 0));
    store_flows_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

enum MHD_Result srv_flow_revisions(srv_req *r)
{
    store_flow *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_flow_revisions(r->s->o.store, r->params[0], r->params[1], &v, &n, &e))
        return srv_kerr_error(r, &e);
    if (!n)
        return srv_error(r, MHD_HTTP_NOT_FOUND, "flow %s.%s not found", r->params[0], r->params[1]);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, srv_flow_json(&v[i], 1));
    store_flows_free(v, n);
    return srv_json(r, MHD_HTTP_OK, res);
}

/* ---- several documents in one body ---------------------------------------------- */

typedef struct yamldoc {
    const char *text;
    size_t len;
    int line0;              /* lines before the document in the body */
} yamldoc;

/* Splits text on lines that are exactly "---" (trailing spaces allowed).
 * Empty documents are dropped. Returns the count (at most max). */
static size_t split_docs(const char *text, size_t len, yamldoc *out, size_t max)
{
    size_t n = 0, start = 0;
    int line = 0, start_line = 0;
    size_t i = 0;
    while (i <= len) {
        size_t eol = i;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t k = i;
        int sep = eol - i >= 3 && !memcmp(text + i, "---", 3);
        for (k = i + 3; sep && k < eol; k++)
            if (text[k] != ' ' && text[k] != '\t' && text[k] != '\r')
                sep = 0;
        if (sep || eol >= len) {
            size_t end = sep ? i : len;
            int blank = 1;
            for (size_t j = start; j < end; j++)
                if (text[j] != ' ' && text[j] != '\n' && text[j] != '\r' && text[j] != '\t')
                    blank = 0;
            if (!blank && n < max)
                out[n++] = (yamldoc){text + start, end - start, start_line};
            start = eol + 1;
            start_line = line + 1;
        }
        if (eol >= len)
            break;
        i = eol + 1;
        line++;
    }
    return n;
}

#define MAX_DOCS 1000

enum MHD_Result srv_flow_validate(srv_req *r)
{
    yamldoc *docs = xcalloc(MAX_DOCS, sizeof *docs);
    size_t n = split_docs(r->body.data ? r->body.data : "", r->body.len, docs, MAX_DOCS);
    if (!n) {
        free(docs);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "the request body is empty: send one or more flows in YAML");
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_pack("{s:i,s:b,s:[],s:[],s:[]}", "index", (int)i, "outdated", 0, "deprecationPaths",
                                "warnings", "infos");
        json_t *doc = NULL;
        kerr e = KERR_INIT;
        diags d = DIAGS_INIT;
        if (yaml_load(docs[i].text, docs[i].len, NULL, &doc, NULL, &e)) {
            diags_add(&d, BODY_NAME, e.line, e.col, NULL, "invalid YAML: %s", e.msg);
        } else {
            const char *id = json_string_value(json_object_get(doc, "id"));
            const char *ns = json_string_value(json_object_get(doc, "namespace"));
            if (id)
                json_object_set_new(res, "flow", json_string(id));
            if (ns)
                json_object_set_new(res, "namespace", json_string(ns));
            json_decref(doc);
            flow *f = NULL;
            if (!flow_load_text(docs[i].text, docs[i].len, BODY_NAME, &f, &d))
                flow_free(f);
        }
        diags_sort(&d);
        if (diags_errors(&d)) {
            char *msg = diags_text(&d, docs[i].line0);
            json_object_set_new(res, "constraints", json_string(msg));
            json_object_set_new(res, "errors", diags_json(&d, docs[i].line0));
            free(msg);
        }
        for (size_t k = 0; k < d.n; k++) {
            const diag *g = &d.v[k];
            char line[KERR_MSG_MAX];
            if (!g->warning)
                continue;
            kerr_format_pos(line, sizeof line, BODY_NAME, g->line ? g->line + docs[i].line0 : 0, g->col, g->msg);
            json_array_append_new(json_object_get(res, "warnings"), json_string(line));
        }
        diags_free(&d);
        json_array_append_new(out, res);
    }
    free(docs);
    return srv_json(r, MHD_HTTP_OK, out);
}

static int list_namespace(srv_req *r, const char *ns, store_flow **v, size_t *n, kerr *e)
{
    store_flow_query q = {.ns_prefix = ns, .limit = 100000};
    if (store_flow_search(r->s->o.store, &q, v, n, NULL, e))
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp((*v)[i].namespace, ns))
            (*v)[k++] = (*v)[i];
        else
            store_flow_clear(&(*v)[i]);
    }
    *n = k;
    return 0;
}

enum MHD_Result srv_flow_namespace_list(srv_req *r)
{
    store_flow *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (list_namespace(r, r->params[0], &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, srv_flow_json(&v[i], 0));
    store_flows_free(v, n);
    return srv_json(r, MHD_HTTP_OK, res);
}

/* PUT /flows/{namespace}: every flow of the body is created or updated, the
 * namespace's other flows are deleted (unless ?delete=false). All or
 * nothing: one invalid flow changes nothing. */
enum MHD_Result srv_flow_namespace_replace(srv_req *r)
{
    const char *ns = r->params[0];
    const char *del = srv_arg(r, "delete");
    int do_delete = !del || strcmp(del, "false");
    /* replacing deletes the namespace's other flows: flow:delete too */
    if (do_delete && srv_authorize(r, PA_FLOW_DELETE, ns))
        return MHD_YES;
    yamldoc *docs = xcalloc(MAX_DOCS, sizeof *docs);
    size_t n = split_docs(r->body.data ? r->body.data : "", r->body.len, docs, MAX_DOCS);
    json_t *errors = json_array();
    json_t *ids = json_object();
    buf msg;
    buf_init(&msg, 0);
    for (size_t i = 0; i < n; i++) {
        flow *f = NULL;
        diags d = DIAGS_INIT;
        if (flow_load_text(docs[i].text, docs[i].len, BODY_NAME, &f, &d)) {
            diags_sort(&d);
            char *t = diags_text(&d, docs[i].line0);
            buf_printf(&msg, "\n%s", t);
            free(t);
            json_array_extend(errors, diags_json(&d, docs[i].line0));
        } else if (strcmp(f->namespace, ns)) {
            char what[600], line[700];
            snprintf(what, sizeof what, "flow %s is in namespace %s, not %s", f->id, f->namespace, ns);
            buf_printf(&msg, "\n%s", kerr_format_pos(line, sizeof line, BODY_NAME, docs[i].line0 + 1, 0, what));
        } else if (json_object_get(ids, f->id)) {
            char what[600], line[700];
            snprintf(what, sizeof what, "flow %s appears twice", f->id);
            buf_printf(&msg, "\n%s", kerr_format_pos(line, sizeof line, BODY_NAME, docs[i].line0 + 1, 0, what));
        } else {
            json_object_set_new(ids, f->id, json_integer((json_int_t)i));
        }
        diags_free(&d);
        flow_free(f);
    }
    enum MHD_Result rc;
    if (msg.len) {
        rc = srv_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
                      json_pack("{s:s+,s:o}", "message", "nothing was changed:", buf_str(&msg), "errors", errors));
        buf_free(&msg);
        json_decref(ids);
        free(docs);
        return rc;
    }
    json_decref(errors);
    buf_free(&msg);
    kerr e = KERR_INIT;
    store *st = r->s->o.store;
    if (store_begin(st, &e)) {
        json_decref(ids);
        free(docs);
        return srv_kerr_error(r, &e);
    }
    int failed = 0;
    for (size_t i = 0; i < n && !failed; i++) {
        diags d = DIAGS_INIT;
        if (engine_flow_put(r->s->o.engine, docs[i].text, docs[i].len, NULL, NULL, &d)) {
            failed = 1;
            snprintf(e.msg, sizeof e.msg, "%s", d.n ? d.v[0].msg : "cannot store a flow");
        }
        diags_free(&d);
    }
    store_flow *v = NULL;
    size_t nv = 0;
    if (!failed && do_delete && !list_namespace(r, ns, &v, &nv, &e)) {
        for (size_t i = 0; i < nv && !failed; i++)
            if (!json_object_get(ids, v[i].id) && store_flow_delete(st, ns, v[i].id, &e))
                failed = 1;
        store_flows_free(v, nv);
    }
    if (failed || store_commit(st, &e)) {
        store_rollback(st);
        json_decref(ids);
        free(docs);
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "nothing was changed: %s", e.msg);
    }
    free(docs);
    json_t *after = json_pack("{s:[],s:b}", "flows", "delete", do_delete);
    const char *k;
    json_t *iv;
    json_object_foreach(ids, k, iv)
        json_array_append_new(json_object_get(after, "flows"), json_string(k));
    srv_audit(r, "flow:replace", "flow", ns, NULL, NULL, after);
    json_decref(after);
    json_decref(ids);
    changed(r);
    if (list_namespace(r, ns, &v, &nv, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < nv; i++)
        json_array_append_new(res, srv_flow_json(&v[i], 0));
    store_flows_free(v, nv);
    return srv_json(r, MHD_HTTP_OK, res);
}
