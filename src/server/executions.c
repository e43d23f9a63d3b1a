/*
 * executions.c: /api/v1/executions: create (multipart inputs and files,
 * labels, wait), get, search, delete, kill, restart, replay, resume, follow
 * (server-sent events) and output file downloads.
 *
 * Searches answer a light execution (no taskRunList, one store read per
 * page); GET /executions/{id} answers the full one (engine_execution_json).
 * Both shapes are engine/view.c's.
 * Filters the store cannot index (dates, labels) are applied
 * here over the newest SEARCH_SCAN matches of the indexed ones.
 */
#include "server/server_int.h"
#include "util/policy.h"
#include "util/datetime.h"
#include "util/json_limits.h"
#include "util/mem.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#define SEARCH_SCAN 10000

/* ?taskRunsMax=N (GET /executions/{id} and its follow): SIZE_MAX when not
 * given, -1 after a 400. */
static int runs_max(srv_req *r, size_t *max)
{
    const char *m = srv_arg(r, "taskRunsMax");
    long v;
    *max = SIZE_MAX;
    if (!m)
        return 0;
    if (srv__parse_size(m, 0, 1000000000L, &v)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'taskRunsMax': '%s' is not a number of task runs", m);
        return -1;
    }
    *max = (size_t)v;
    return 0;
}

static enum MHD_Result answer_execution_max(srv_req *r, unsigned status, const char *id, size_t max)
{
    kerr e = KERR_INIT;
    json_t *j = engine_execution_json_max(r->s->o.engine, id, max, &e);
    if (!j) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "execution %s not found", id);
        return srv_kerr_error(r, &e);
    }
    return srv_json(r, status, j);
}

static enum MHD_Result answer_execution(srv_req *r, unsigned status, const char *id)
{
    return answer_execution_max(r, status, id, SIZE_MAX);
}

/* Labels from `labels=k:v` query arguments into an object; -1 after a 400. */
static int read_labels(srv_req *r, json_t **out)
{
    json_t *all = srv_args_all(r, "labels");
    *out = NULL;
    if (!json_array_size(all)) {
        json_decref(all);
        return 0;
    }
    json_t *labels = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v)
    {
        const char *s = json_string_value(v);
        const char *colon = strchr(s, ':');
        if (!colon || colon == s) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'labels': '%s' is not key:value", s);
            json_decref(all);
            json_decref(labels);
            return -1;
        }
        char *k = xstrndup(s, (size_t)(colon - s));
        json_object_set_new(labels, k, json_string(colon + 1));
        free(k);
    }
    json_decref(all);
    *out = labels;
    return 0;
}

/* Inputs from a multipart/urlencoded form or a JSON object body; NULL when
 * there are none. -1 after answering 400. */
static int read_inputs(srv_req *r, json_t **out)
{
    *out = NULL;
    if (r->form) {
        /* a field's type is the flow's business, but none may carry JSON
         * nested past the limit (a JSON input is parsed by the engine) */
        const char *k;
        json_t *v;
        json_object_foreach(r->form, k, v)
        {
            int line, col;
            if (json_text_depth_exceeds(json_string_value(v), json_string_length(v), JSON_MAX_DEPTH, &line, &col)) {
                char what[128], at[192];
                snprintf(what, sizeof what, "nested deeper than %d levels", JSON_MAX_DEPTH);
                return srv_error(r, MHD_HTTP_BAD_REQUEST, "input '%s': %s", k,
                                 kerr_format_pos(at, sizeof at, NULL, line, col, what)),
                       -1;
            }
        }
        *out = json_incref(r->form);
        return 0;
    }
    if (!r->body.len)
        return 0;
    const char *ct = srv_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16))
        return srv_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "send inputs as multipart/form-data (files too) or as a JSON object, not %s", ct),
               -1;
    json_t *j = srv_body_json(r, 0);
    if (!j)
        return -1;
    *out = j;
    return 0;
}

static int wants(srv_req *r, const char *name)
{
    const char *v = srv_arg(r, name);
    return v && (!strcmp(v, "true") || !strcmp(v, "1") || !*v);
}

enum MHD_Result srv_exec_answer(srv_req *r, const char *id, int wait, unsigned status, int outputs_only)
{
    kerr e = KERR_INIT;
    if (wait) {
        store_state st;
        for (;;) {
            kerr_clear(&e);
            if (!engine_wait(r->s->o.engine, id, 1, 200000, &st, &e)) {
                if (st != STATE_PAUSED || engine_waiting_for_person(r->s->o.engine, id))
                    break;
                usleep(20000);
                continue;
            }
            if (SRV_STOPPING(r->s))
                break;
            if (e.code == KERR_NOT_FOUND) {
                kerr_set(&e, "execution %s was deleted", id);
                return srv_kerr_error(r, &e);
            }
        }
    }
    if (outputs_only || !wait) {
        /* just created: no task run yet, one read is enough */
        store_execution x = {0};
        if (store_execution_get(r->s->o.store, id, &x, &e))
            return srv_kerr_error(r, &e);
        json_t *o;
        if (outputs_only) {
            o = x.outputs ? json_incref(x.outputs) : json_object();
        } else {
            engine_execution_secrets(r->s->o.engine, &x);
            o = engine_json_execution(&x);
            json_object_set_new(o, "taskRunList", json_array());
        }
        store_execution_clear(&x);
        return srv_json(r, status, o);
    }
    return answer_execution(r, status, id);
}

enum MHD_Result srv_exec_submit(srv_req *r, engine_submit_opts *o, int wait)
{
    char id[STORE_ID_LEN + 1];
    kerr e = KERR_INIT;
    /* unknown flow 404, disabled 409, bad inputs 422: the engine's classes */
    if (engine_submit(r->s->o.engine, o, id, &e))
        return srv_kerr_error(r, &e);
    if (r->who.name[0]) { /* webhooks are not a principal's change */
        json_t *after = json_pack("{s:s,s:s}", "namespace", o->namespace, "flowId", o->flow_id);
        srv_audit(r, "execution:create", "execution", o->namespace, id, NULL, after);
        json_decref(after);
    }
    return srv_exec_answer(r, id, wait, MHD_HTTP_OK, 0);
}

enum MHD_Result srv_exec_create(srv_req *r)
{
    engine_submit_opts o = {.namespace = r->params[0], .flow_id = r->params[1]};
    const char *rev = srv_arg(r, "revision");
    if (rev) {
        char *end;
        long v = strtol(rev, &end, 10);
        if (*end || v < 1 || v > 1000000000)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'revision': '%s' is not a revision number", rev);
        o.revision = (int)v;
    }
    json_t *labels = NULL, *inputs = NULL;
    if (read_labels(r, &labels))
        return MHD_YES;
    if (read_inputs(r, &inputs)) {
        json_decref(labels);
        return MHD_YES;
    }
    o.labels = labels;
    o.inputs = inputs;
    o.files = json_object_size(r->files) ? r->files : NULL;
    enum MHD_Result rc = srv_exec_submit(r, &o, wants(r, "wait"));
    json_decref(labels);
    json_decref(inputs);
    return rc;
}

enum MHD_Result srv_exec_get(srv_req *r)
{
    size_t max;
    if (runs_max(r, &max))
        return MHD_YES;
    return answer_execution_max(r, MHD_HTTP_OK, r->params[0], max);
}

static int has_labels(const store_execution *x, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        json_t *have = json_object_get(x->labels, k);
        if (!have || !json_is_string(have) || strcmp(json_string_value(have), json_string_value(v)))
            return 0;
    }
    return 1;
}

enum MHD_Result srv_exec_search(srv_req *r)
{
    size_t off, lim;
    if (srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    srv_ns_filter nf;
    store_execution_query q = {.ns_prefix = srv_arg(r, "namespace"), .flow_id = srv_arg(r, "flowId"),
                               .ns_filter = srv_ns_filter_init(&nf, r, PA_EXECUTION_READ)};
    if (srv_args_states(r, &q.states))
        return MHD_YES;
    int64_t from = 0, to = 0;
    const char *names[2] = {"startDate", "endDate"};
    int64_t *dst[2] = {&from, &to};
    for (int k = 0; k < 2; k++) {
        const char *s = srv_arg(r, names[k]);
        kerr e = KERR_INIT;
        if (s && datetime_parse(s, NULL, dst[k], NULL, &e))
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "query '%s': %s", names[k], e.msg);
    }
    json_t *labels = NULL;
    if (read_labels(r, &labels))
        return MHD_YES;
    int scan = from || to || labels;
    if (scan) {
        q.offset = 0;
        q.limit = SEARCH_SCAN;
    } else {
        q.offset = off;
        q.limit = lim;
    }
    store_execution *xs = NULL;
    size_t n = 0;
    int64_t total = 0;
    kerr e = KERR_INIT;
    if (store_execution_search(r->s->o.store, &q, &xs, &n, &total, &e)) {
        json_decref(labels);
        return srv_kerr_error(r, &e);
    }
    json_t *res = json_array();
    if (scan) {
        total = 0;
        for (size_t k = 0; k < n; k++) {
            const store_execution *x = &xs[k];
            int64_t start = x->n_histories ? x->histories[0].at_us : x->created_us;
            if ((from && start < from) || (to && start > to))
                continue;
            if (labels && !has_labels(x, labels))
                continue;
            if ((size_t)total >= off && (size_t)total < off + lim) {
                engine_execution_secrets(r->s->o.engine, x);
                json_array_append_new(res, engine_json_execution(x));
            }
            total++;
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            engine_execution_secrets(r->s->o.engine, &xs[k]);
            json_array_append_new(res, engine_json_execution(&xs[k]));
        }
    }
    store_executions_free(xs, n);
    json_decref(labels);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

/* The execution's row for the handlers that need it (its files, a stream
 * that must not start for nothing); 0, or -1 after answering 404/500. The
 * operations below read it themselves: their errors carry the class. */
static int read_execution(srv_req *r, store_execution *x)
{
    kerr e = KERR_INIT;
    if (store_execution_get(r->s->o.store, r->params[0], x, &e)) {
        if (e.code == KERR_NOT_FOUND)
            kerr_set(&e, "execution %s not found", r->params[0]);
        srv_kerr_error(r, &e);
        return -1;
    }
    return 0;
}

enum MHD_Result srv_exec_delete(srv_req *r)
{
    kerr e = KERR_INIT;
    if (engine_delete(r->s->o.engine, r->params[0], &e))
        return srv_kerr_error(r, &e); /* 404, or 409 while it runs */
    srv_audit(r, "execution:delete", "execution", r->obj_ns, r->params[0], NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

enum MHD_Result srv_exec_kill(srv_req *r)
{
    kerr e = KERR_INIT;
    if (engine_kill(r->s->o.engine, r->params[0], &e))
        return srv_kerr_error(r, &e); /* 404, or 409 once it ended */
    srv_audit(r, "execution:kill", "execution", r->obj_ns, r->params[0], NULL, NULL);
    return srv_json(r, MHD_HTTP_ACCEPTED, json_pack("{s:s,s:s}", "id", r->params[0], "message", "kill requested"));
}

enum MHD_Result srv_exec_restart(srv_req *r)
{
    kerr e = KERR_INIT;
    if (engine_restart(r->s->o.engine, r->params[0], &e))
        return srv_kerr_error(r, &e);
    srv_audit(r, "execution:restart", "execution", r->obj_ns, r->params[0], NULL, NULL);
    return answer_execution(r, MHD_HTTP_OK, r->params[0]);
}

enum MHD_Result srv_exec_replay(srv_req *r)
{
    char nid[STORE_ID_LEN + 1];
    kerr e = KERR_INIT;
    if (engine_replay(r->s->o.engine, r->params[0], srv_arg(r, "taskRunId"), nid, &e))
        return srv_kerr_error(r, &e);
    json_t *after = json_pack("{s:s}", "newId", nid);
    srv_audit(r, "execution:replay", "execution", r->obj_ns, r->params[0], NULL, after);
    json_decref(after);
    return answer_execution(r, MHD_HTTP_OK, nid);
}

enum MHD_Result srv_exec_resume(srv_req *r)
{
    json_t *inputs = NULL;
    if (read_inputs(r, &inputs))
        return MHD_YES;
    kerr e = KERR_INIT;
    int rc = engine_resume(r->s->o.engine, r->params[0], inputs, &e);
    json_decref(inputs);
    if (rc)
        return srv_kerr_error(r, &e); /* 404, or 409 when it is not PAUSED */
    srv_audit(r, "execution:resume", "execution", r->obj_ns, r->params[0], NULL, NULL);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- follow ------------------------------------------------------------------ */

typedef struct follow {
    engine *en;
    store *st;
    char id[STORE_ID_LEN + 1];
    size_t seen;            /* histories already sent */
    size_t max_runs;        /* ?taskRunsMax */
} follow;

static int follow_poll(void *ud, buf *out)
{
    follow *f = ud;
    store_execution x = {0};
    kerr e = KERR_INIT;
    if (store_execution_get(f->st, f->id, &x, &e)) {
        buf_printf(out, "event: error\ndata: {\"message\":\"execution %s is gone\"}\n\n", f->id);
        return 1;
    }
    int end = store_state_is_terminated(x.state);
    if (x.n_histories != f->seen) {
        f->seen = x.n_histories;
        json_t *j = engine_execution_json_max(f->en, f->id, f->max_runs, &e);
        if (j) {
            char *s = srv_dump(j);
            if (s)
                buf_printf(out, "event: execution\ndata: %s\n\n", s);
            else
                buf_printf(out, "event: error\ndata: {\"message\":\"execution %s is nested deeper than %d "
                                "levels\"}\n\n", f->id, SRV_DUMP_MAX_DEPTH);
            free(s);
            json_decref(j);
        }
    }
    store_execution_clear(&x);
    return end;
}

enum MHD_Result srv_exec_follow(srv_req *r)
{
    store_execution x = {0};
    size_t max;
    if (runs_max(r, &max) || read_execution(r, &x))
        return MHD_YES;
    store_execution_clear(&x);
    follow *f = xcalloc(1, sizeof *f);
    f->max_runs = max;
    f->en = r->s->o.engine;
    f->st = r->s->o.store;
    snprintf(f->id, sizeof f->id, "%s", r->params[0]);
    return srv_sse(r, follow_poll, f, free, 100000);
}

/* ---- output files ------------------------------------------------------------ */

/* MHD_ContentReaderCallback of a streamed download: the next bytes of the
 * storage reader. MHD asks in order (pos is where the last call ended), from
 * this connection's thread; an error ends the response, which the client
 * sees as a body shorter than Content-Length. */
static ssize_t stream_file_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    kerr e = KERR_INIT;
    ssize_t n = storage_reader_read(cls, out, max, &e);
    if (n < 0) {
        fprintf(stderr, "kite server: download: %s\n", e.msg);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return n ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_file_free(void *cls)
{
    storage_reader_close(cls);
}

int srv_download_file(srv_req *r, const char *uri, const char *name, enum MHD_Result *rc, kerr *e)
{
    int64_t size = 0;
    storage_reader *sr = storage_reader_open(r->s->o.storage, uri, &size, e);
    if (!sr)
        return -1;
    int fd = storage_reader_fd(sr);
    if (fd >= 0) {
        /* a local file: libmicrohttpd sends it from the descriptor */
        int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        storage_reader_close(sr);
        *rc = own < 0 ? srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read %s", name)
                      : srv_download(r, "application/octet-stream", name, NULL, (size_t)size, own);
        return 0;
    }
    /* a remote one: streamed as the client takes it (stream_file_read),
     * closed by libmicrohttpd when the response is done or the client left */
    struct MHD_Response *resp =
        MHD_create_response_from_callback((uint64_t)size, 64 * 1024, stream_file_read, sr, stream_file_free);
    if (!resp)
        storage_reader_close(sr);
    *rc = srv_download_resp(r, "application/octet-stream", name, resp);
    return 0;
}

enum MHD_Result srv_exec_file(srv_req *r)
{
    const char *path = srv_arg(r, "path");
    if (!path || !*path)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "query 'path' is required: the file's kestra:/// URI");
    store_execution x = {0};
    if (read_execution(r, &x))
        return MHD_YES;
    kerr e = KERR_INIT;
    char *prefix = storage_uri_execution(x.namespace, x.flow_id, x.id, &e);
    store_execution_clear(&x);
    char *uri = !strncasecmp(path, "kite:///", 8) ? xasprintf("kestra:///%s", path + 8) : xstrdup(path);
    if (!prefix || strncmp(uri, prefix, strlen(prefix)) || strstr(uri, "/../")) {
        enum MHD_Result rc = srv_error(r, MHD_HTTP_FORBIDDEN, "'%s' is not a file of execution %s", path, r->params[0]);
        free(prefix);
        free(uri);
        return rc;
    }
    free(prefix);
    const char *base = strrchr(uri, '/');
    enum MHD_Result rc;
    if (srv_download_file(r, uri, base ? base + 1 : "file", &rc, &e))
        rc = srv_error(r, MHD_HTTP_NOT_FOUND, "%s", e.msg);
    free(uri);
    return rc;
}

