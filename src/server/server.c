/*
 * server.c: the daemon, the route table and request plumbing.
 *
 * libmicrohttpd calls on_request several times per request: once when the
 * headers are in (the route is matched, auth checked and the body's cap
 * decided then, so a refused request never uploads), once per body chunk,
 * and once at the end, when the handler runs. Bodies are kept in a capped
 * buffer; multipart bodies go through MHD's post processor, with files
 * streamed to temporary files (removed when the request completes).
 *
 * The response helpers handlers use (srv_json, srv_error, srv_arg...) are
 * in http.c, so that resource files and auth.c depend on it, not on this
 * file.
 *
 * DESIGN
 * One thread per connection (see server.h): handlers are plain blocking
 * code. server_stop sets `stopping` (event streams end at their next poll)
 * then MHD_stop_daemon joins every connection thread.
 */
#include "server/server_int.h"
#include "server/ui_int.h"
#include "util/json_limits.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the route table ------------------------------------------------------- */

#define API "/api/v1"

/* A route that reads no query parameter leaves `query` out (NULL). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const srv_route routes[] = {
    {"GET", "/health", srv_health, ROUTE_NOAUTH, "Health: {\"status\":\"UP\"}"},
    {"GET", API "/health", srv_health, ROUTE_NOAUTH, "Health: {\"status\":\"UP\"}"},
    {"GET", "/metrics", srv_metrics, ROUTE_NOAUTH | ROUTE_HEAVY, "Prometheus metrics (text format)"},
    {"GET", API "/openapi.json", srv_openapi, 0, "This API as an OpenAPI 3 document"},

    {"POST", API "/flows", srv_flow_create, ROUTE_TEXT_BODY, "Create a flow from YAML"},
    {"GET", API "/flows/search", srv_flow_search, ROUTE_HEAVY, "Search flows (namespace, q, page, size)",
     "q namespace page:int size:int"},
    {"POST", API "/flows/validate", srv_flow_validate, ROUTE_TEXT_BODY, "Validate flows (YAML, several separated by ---)"},
    {"GET", API "/flows/{namespace}", srv_flow_namespace_list, ROUTE_HEAVY, "The flows of a namespace"},
    {"PUT", API "/flows/{namespace}", srv_flow_namespace_replace, ROUTE_TEXT_BODY,
     "Replace the flows of a namespace (YAML documents separated by ---)",
     "delete:bool"},
    {"GET", API "/flows/{namespace}/{id}", srv_flow_get, 0, "Get a flow (revision, source)",
     "revision:int source:bool"},
    {"PUT", API "/flows/{namespace}/{id}", srv_flow_update, ROUTE_TEXT_BODY, "Update a flow (a new revision)"},
    {"DELETE", API "/flows/{namespace}/{id}", srv_flow_delete, 0, "Delete a flow"},
    {"GET", API "/flows/{namespace}/{id}/revisions", srv_flow_revisions, ROUTE_HEAVY, "Every revision of a flow"},
    {"GET", API "/flows/{namespace}/{id}/graph", srv_flow_graph, 0,
     "The flow as Kestra's FlowGraph: nodes, edges, clusters (revision)",
     "revision:int"},
    {"GET", API "/flows/{namespace}/{id}/dependencies", srv_flow_dependencies, ROUTE_HEAVY,
     "The flows it calls and that trigger it, as Kestra's FlowTopologyGraph (destinationOnly, expandAll)",
     "destinationOnly:bool expandAll:bool"},

    {"GET", API "/executions/search", srv_exec_search, ROUTE_HEAVY,
     "Search executions (namespace, flowId, state, startDate, endDate, labels, page, size)",
     "namespace flowId state*:state startDate:date-time endDate:date-time labels*:label page:int size:int"},
    {"GET", API "/executions/statistics", srv_exec_stats, ROUTE_HEAVY,
     "Dashboard statistics computed by the store (startDate, endDate, interval, namespace, flowId, top)",
     "startDate:date-time endDate:date-time interval:duration namespace flowId top:int"},
    {"DELETE", API "/executions/kill/by-ids", srv_exec_kill_ids, ROUTE_JSON_BODY, "Kill a list of executions (body: [ids])"},
    {"POST", API "/executions/kill/by-ids", srv_exec_kill_ids, ROUTE_JSON_BODY, "Kill a list of executions (alias of DELETE)"},
    {"POST", API "/executions/restart/by-ids", srv_exec_restart_ids, ROUTE_JSON_BODY, "Restart a list of failed executions (body: [ids])"},
    {"DELETE", API "/executions/by-ids", srv_exec_delete_ids, ROUTE_JSON_BODY, "Delete a list of ended executions (body: [ids])"},
    {"POST", API "/executions/labels/by-ids", srv_exec_labels_ids, ROUTE_JSON_BODY,
     "Add labels to a list of ended executions (body: {executionsId, executionLabels})"},
    {"POST", API "/executions/{id}/labels", srv_exec_labels, ROUTE_JSON_BODY,
     "Replace the labels of an ended execution (body: [{key, value}]); answers the execution"},
    {"GET", API "/executions/webhook/{namespace}/{flowId}/{key}", srv_webhook, ROUTE_NOAUTH, "Webhook trigger"},
    {"POST", API "/executions/webhook/{namespace}/{flowId}/{key}", srv_webhook, ROUTE_NOAUTH, "Webhook trigger"},
    {"PUT", API "/executions/webhook/{namespace}/{flowId}/{key}", srv_webhook, ROUTE_NOAUTH, "Webhook trigger"},
    {"GET", API "/executions/{id}", srv_exec_get, 0,
     "Get an execution (taskRunsMax: past that many task runs, taskRunCount instead of taskRunList)", "taskRunsMax:int"},
    {"DELETE", API "/executions/{id}", srv_exec_delete, 0, "Delete an execution (with its logs and files)"},
    {"DELETE", API "/executions/{id}/kill", srv_exec_kill, 0, "Kill an execution"},
    {"POST", API "/executions/{id}/kill", srv_exec_kill, 0, "Kill an execution (alias of DELETE)"},
    {"POST", API "/executions/{id}/restart", srv_exec_restart, 0, "Restart a failed execution"},
    {"POST", API "/executions/{id}/replay", srv_exec_replay, 0, "Replay an execution (taskRunId)",
     "taskRunId"},
    {"POST", API "/executions/{id}/resume", srv_exec_resume, ROUTE_FORM, "Resume a paused execution (inputs)"},
    {"GET", API "/executions/{id}/follow", srv_exec_follow, 0, "Follow an execution (server-sent events; taskRunsMax)",
     "taskRunsMax:int"},
    {"GET", API "/executions/{id}/file", srv_exec_file, 0, "Download an output file (path=kestra:///...)",
     "path!"},
    {"POST", API "/executions/{namespace}/{flowId}", srv_exec_create, ROUTE_FORM,
     "Create an execution (multipart inputs and files, labels, wait)",
     "labels*:label revision:int wait:bool"},
    {"POST", API "/executions/trigger/{namespace}/{flowId}", srv_exec_create, ROUTE_FORM,
     "Create an execution (Kestra's older path)",
     "labels*:label revision:int wait:bool"},
    {"GET", API "/executions/{id}/taskruns", srv_exec_taskruns, 0,
     "An execution's task runs in pages ({results, total}; taskId, parentTaskRunId, state)",
     "taskId parentTaskRunId state*:state page:int size:int"},
    {"GET", API "/executions/{id}/taskruns/groups", srv_exec_taskrun_groups, 0,
     "An execution's task runs folded by task and parent, with counts by state and spans (the Gantt's rows)"},

    {"GET", API "/logs/{executionId}", srv_logs_get, ROUTE_HEAVY, "Logs of an execution (taskId, minLevel)",
     "minLevel:level taskId"},
    {"GET", API "/logs/{executionId}/follow", srv_logs_follow, 0, "Follow logs (server-sent events)",
     "minLevel:level taskId"},
    {"GET", API "/logs/{executionId}/download", srv_logs_download, ROUTE_HEAVY, "Logs as text",
     "minLevel:level taskId"},
    {"GET", API "/metrics/{executionId}", srv_metrics_execution, ROUTE_HEAVY,
     "Task metrics of an execution (Kestra's MetricEntry: name, type, value, tags, taskId, taskRunId, timestamp)"},

    {"GET", API "/namespaces/{namespace}/kv", srv_kv_list, 0, "List the keys of a namespace"},
    {"GET", API "/namespaces/{namespace}/kv/{key}", srv_kv_get, 0, "Get a value"},
    {"PUT", API "/namespaces/{namespace}/kv/{key}", srv_kv_put, ROUTE_TEXT_BODY, "Set a value (JSON or text; ttl header)"},
    {"DELETE", API "/namespaces/{namespace}/kv/{key}", srv_kv_delete, 0, "Delete a key"},

    {"GET", API "/namespaces/{namespace}/secrets", srv_secret_list, 0,
     "The secrets a namespace sees (its own and its parents'): names, never values"},
    {"PUT", API "/namespaces/{namespace}/secrets/{name}", srv_secret_put, ROUTE_TEXT_BODY,
     "Set a secret (the raw value as text/plain, or {\"value\": ...})"},
    {"DELETE", API "/namespaces/{namespace}/secrets/{name}", srv_secret_delete, 0, "Delete a secret"},
    {"GET", API "/namespaces", srv_namespaces_search, ROUTE_HEAVY,
     "Every namespace (parents too) with its flow count and execution counts by state, own and subtree",
     "q page:int size:int"},
    {"GET", API "/namespaces/search", srv_namespaces_search, ROUTE_HEAVY, "Namespaces with counts (q, page, size)",
     "q page:int size:int"},
    {"GET", API "/namespaces/{namespace}/files", srv_nsfile_get, 0, "A namespace file's content (path)",
     "path!"},
    {"GET", API "/namespaces/{namespace}/files/directory", srv_nsfile_list, ROUTE_HEAVY,
     "The files and folders of a namespace folder (path; default the root)",
     "path"},
    {"POST", API "/namespaces/{namespace}/files", srv_nsfile_upload, ROUTE_FORM,
     "Upload a namespace file (path; multipart field fileContent)",
     "path!"},
    {"PUT", API "/namespaces/{namespace}/files", srv_nsfile_upload, ROUTE_TEXT_BODY,
     "Write a namespace file (path; the body is the content)",
     "path!"},
    {"DELETE", API "/namespaces/{namespace}/files", srv_nsfile_delete, 0, "Delete a namespace file or folder (path)",
     "path!"},

    {"GET", API "/triggers/search", srv_triggers_search, ROUTE_HEAVY, "Triggers of the flows (namespace, flowId)",
     "namespace flowId q page:int size:int"},
    {"PUT", API "/triggers", srv_triggers_update, 0, "Enable or disable a trigger, or set a backfill"},

    {"POST", API "/login", srv_login, ROUTE_NOAUTH,
     "Log in with {\"token\"} or {\"username\", \"password\"}: sets the session cookie, answers name, csrfToken, expiresAt"},
    {"POST", API "/logout", srv_logout, 0, "End the session (X-CSRF-Token with the cookie)"},
    {"GET", API "/me", srv_me, 0, "Who the caller is (name, role, via; csrfToken and expiresAt with a session)"},

    {"GET", "/", srv_ui_root, ROUTE_NOAUTH, "Redirects to the web UI (/ui/)"},
    {"GET", "/ui", srv_ui, ROUTE_NOAUTH, "The web UI (index.html)"},
    {"GET", "/ui/{path+}", srv_ui, ROUTE_NOAUTH, "The web UI's files; any other path answers index.html"},

    {"GET", API "/plugins", srv_plugins_list, 0,
     "The types kite knows with their properties (kind=task|runnable|flowable|trigger|condition|runner)",
     "kind:plugin-kind"},
    {"GET", API "/plugins/schemas/{type}", srv_plugins_schema, 0,
     "The JSON Schema of a type (kite name or Kestra class), or of the whole flow document (flow)"},
    {"GET", API "/plugins/{cls}", srv_plugins_get, 0, "One type: its summary and its JSON Schema"},
    {"GET", API "/users", srv_users_list, 0, "Users and service accounts (user:admin)"},
    {"POST", API "/users", srv_users_create, 0, "Add a user {\"username\", \"password\"} or a service account {\"name\", \"kind\": \"service\"}"},
    {"PUT", API "/users/{name}", srv_users_update, 0, "Set a user's password {\"password\"}"},
    {"DELETE", API "/users/{name}", srv_users_delete, 0, "Remove a principal (its tokens and bindings too)"},
    {"GET", API "/tokens", srv_tokens_list, 0, "Tokens (the caller's own; every one with user:admin)"},
    {"POST", API "/tokens", srv_tokens_create, 0,
     "Create a token {\"name\", \"bindings\", \"expiresIn\"}: the service account is created when missing; the token is shown once"},
    {"DELETE", API "/tokens/{id}", srv_tokens_revoke, 0, "Revoke a token at once"},
    {"GET", API "/roles", srv_roles_list, 0, "Roles (built-in and stored) with their statements"},
    {"PUT", API "/roles/{name}", srv_roles_put, 0, "Create or replace a role {\"statements\": [...]}"},
    {"DELETE", API "/roles/{name}", srv_roles_delete, 0, "Delete a stored role"},
    {"GET", API "/bindings", srv_bindings_list, 0, "Bindings (principal, role, namespace)",
     "principal"},
    {"POST", API "/bindings", srv_bindings_create, 0, "Bind {\"principal\", \"role\", \"namespace\"}"},
    {"DELETE", API "/bindings/{id}", srv_bindings_delete, 0, "Delete a binding"},
    {"GET", API "/audit", srv_audit_search, ROUTE_HEAVY,
     "The audit log, newest first (principal, action, kind, namespace, id, from, to, page, size)",
     "principal action kind namespace id from:date-time to:date-time page:int size:int"},
    {"GET", API "/auth/me", srv_auth_me, 0, "Who the caller is, and its bindings"},
};
#pragma GCC diagnostic pop

const srv_route *srv_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* ---- requests that read much from the store ----------------------------------------- */

/* Searches and listings load up to a page of 1,000 rows and build their
 * answer in memory: SRV_HEAVY_MAX of them run at once, from the handler to
 * the last byte of their answer, the others wait their turn (500 concurrent
 * searches reached 2.7 GB when they all ran and their answers waited for
 * slow readers). When the
 * last one leaves, freed memory goes back to the system (malloc_trim), at
 * most once a second, so that a burst does not keep its peak. */
static void heavy_enter(server *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->heavy_running >= SRV_HEAVY_MAX)
        pthread_cond_wait(&s->heavy_cond, &s->lock);
    s->heavy_running++;
    pthread_mutex_unlock(&s->lock);
}

static void heavy_leave(server *s)
{
    int trim = 0;
    pthread_mutex_lock(&s->lock);
    s->heavy_running--;
    pthread_cond_signal(&s->heavy_cond);
    time_t now = time(NULL);
    if (s->heavy_running == 0 && now != s->last_trim) {
        s->last_trim = now;
        trim = 1;
    }
    pthread_mutex_unlock(&s->lock);
    if (trim)
        malloc_trim(0);
}

/* ---- the server-wide budget of body bytes in memory ------------------------------- */

/* Takes n more bytes of the budget for r; -1 (r->busy set) when the bytes
 * held by every request would pass max_inflight. */
static int inflight_take(srv_req *r, size_t n)
{
    server *s = r->s;
    size_t now = __atomic_add_fetch(&s->inflight, n, __ATOMIC_RELAXED);
    if (now > s->o.max_inflight) {
        __atomic_sub_fetch(&s->inflight, n, __ATOMIC_RELAXED);
        if (!r->busy)
            __atomic_add_fetch(&s->busy_refused, 1, __ATOMIC_RELAXED);
        r->busy = 1;
        return -1;
    }
    r->held += n;
    return 0;
}

static enum MHD_Result answer_busy(srv_req *r)
{
    char *m = xasprintf("{\"message\":\"the server holds %zu bytes of request bodies already: retry in a moment\"}",
                        r->s->o.max_inflight);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(m), m, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Retry-After", "1");
    return srv_queue(r, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
}

/* ---- multipart bodies ---------------------------------------------------------- */

static void rm_upload(const char *path)
{
    unlink(path);
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/');
    if (slash && n > 2) {
        char *dir = xstrndup(path, (size_t)(slash - path));
        if (strlen(dir) > 2 && !strcmp(dir + strlen(dir) - 2, ".d"))
            rmdir(dir);
        free(dir);
    }
}

enum MHD_Result srv__post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *ctype, const char *enc, const char *data, uint64_t off, size_t size)
{
    srv_req *r = cls;
    if (!key || r->form_error[0] || r->busy)
        return MHD_YES;
    /* the name keys r->files and r->raw_form, which take UTF-8 only: a file
     * under another name was never recorded, so never removed (found by
     * fuzz_server_multipart: one temporary file and folder left per request) */
    if (!utf8_valid(key, strlen(key))) {
        snprintf(r->form_error, sizeof r->form_error, "a multipart field name is not valid UTF-8");
        return MHD_YES;
    }
    if (filename) {
        if (!r->cur_file_key || strcmp(r->cur_file_key, key) || off == 0) {
            if (r->cur_file)
                fclose(r->cur_file);
            r->cur_file = NULL;
            free(r->cur_file_key);
            r->cur_file_key = xstrdup(key);
            char *tmpl = xasprintf("%s/kite-upload-XXXXXX", r->s->tmp_dir);
            int fd = mkstemp(tmpl);
            if (fd < 0) {
                snprintf(r->form_error, sizeof r->form_error, "cannot store the upload of '%s': %s", key,
                         strerror(errno));
                free(tmpl);
                return MHD_YES;
            }
            r->cur_file = fdopen(fd, "wb");
            /* the name the client gave is kept as the file's last segment by the engine;
             * keep it in a sibling folder so the upload keeps its name */
            char *dir = xasprintf("%s.d", tmpl);
            char *path = NULL;
            const char *base = strrchr(filename, '/');
            base = base ? base + 1 : filename;
            /* a name that is not UTF-8 cannot be kept (r->files is JSON; the
             * upload went unrecorded and was never removed: fuzz_server_multipart) */
            if (base[0] && base[0] != '.' && utf8_valid(base, strlen(base)) && mkdir(dir, 0700) == 0) {
                path = xasprintf("%s/%s", dir, base);
                if (rename(tmpl, path)) {
                    free(path);
                    path = NULL;
                    rmdir(dir);
                }
            } else {
                rmdir(dir);
            }
            /* a second file under the same name replaces the first */
            const char *prev = json_string_value(json_object_get(r->files, key));
            if (prev)
                rm_upload(prev);
            json_object_set_new(r->files, key, json_string(path ? path : tmpl));
            free(path);
            free(dir);
            free(tmpl);
        }
        r->upload_bytes += size;
        if (r->upload_bytes > r->s->o.max_upload) {
            snprintf(r->form_error, sizeof r->form_error, "413 the uploaded files are larger than %zu bytes",
                     r->s->o.max_upload);
            return MHD_YES;
        }
        if (size && r->cur_file && fwrite(data, 1, size, r->cur_file) != size)
            snprintf(r->form_error, sizeof r->form_error, "cannot store the upload of '%s': %s", key,
                     strerror(errno));
        return MHD_YES;
    }
    r->form_bytes += size;
    if (size && inflight_take(r, size))
        return MHD_YES;
    if (r->form_bytes > r->s->o.max_body) {
        snprintf(r->form_error, sizeof r->form_error, "413 the form fields are larger than %zu bytes",
                 r->s->o.max_body);
        return MHD_YES;
    }
    /* a field's pieces are joined as bytes, checked as UTF-8 once whole
     * (at the end of the request): a character may span two pieces */
    json_t *cur = json_object_get(r->raw_form, key);
    if (!r->raw_form)
        r->raw_form = json_object();
    if (cur && off > 0) {
        size_t have = json_string_length(cur);
        char *joined = xmalloc(have + size + 1);
        memcpy(joined, json_string_value(cur), have);
        memcpy(joined + have, data, size);
        joined[have + size] = '\0';
        json_object_set_new(r->raw_form, key, json_stringn_nocheck(joined, have + size));
        free(joined);
    } else {
        json_object_set_new(r->raw_form, key, json_stringn_nocheck(data, size));
    }
    return MHD_YES;
}

const char *srv__form_finish(srv_req *r)
{
    if (r->cur_file) {
        fclose(r->cur_file);
        r->cur_file = NULL;
    }
    if (!r->raw_form || r->form_error[0])
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(r->raw_form, k, v)
    {
        json_t *ok = json_stringn(json_string_value(v), json_string_length(v));
        if (!ok)
            return k;
        json_object_set_new(r->form, k, ok);
    }
    return NULL;
}

void srv__req_release(srv_req *r)
{
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->cur_file)
        fclose(r->cur_file);
    const char *k;
    json_t *v;
    json_object_foreach(r->files, k, v) rm_upload(json_string_value(v));
    json_decref(r->files);
    json_decref(r->form);
    json_decref(r->raw_form);
    json_decref(r->session);
    free(r->cur_file_key);
    buf_free(&r->body);
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    free(r->path);
    free(r);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static char *normalize_path(const char *url)
{
    char *p = xstrdup(url);
    char *q = strchr(p, '?');
    if (q)
        *q = '\0';
    if (!strncmp(p, API "/main/", strlen(API "/main/")) || !strcmp(p, API "/main"))
        memmove(p + strlen(API), p + strlen(API "/main"), strlen(p + strlen(API "/main")) + 1);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: percent-decoding as libmicrohttpd does it,
 * except that a decoded NUL (%00) becomes DEL (0x7f) instead of silently
 * cutting the path or argument short ("kv/a%00b" was key "a"); no id, key
 * or namespace rule accepts DEL, so such a request is refused with a 400. */
size_t srv__unescape(char *uri)
{
    size_t n = MHD_http_unescape(uri);
    for (size_t i = 0; i < n; i++)
        if (!uri[i])
            uri[i] = 0x7f;
    return n;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *uri)
{
    return srv__unescape(uri);
}

/* 1 when path matches pattern (params filled when out is not NULL: *np
 * strings the caller frees), 0 otherwise. */
static int match(const char *pattern, const char *path, char **out, int *nout)
{
    const char *a = pattern, *b = path;
    int np = 0;
    char *params[SRV_MAX_PARAMS];
    while (*a && *b) {
        if (*a != '/' || *b != '/')
            goto no;
        a++, b++;
        const char *ae = strchrnul(a, '/'), *be = strchrnul(b, '/');
        if (*a == '{') {
            if (be == b || np >= SRV_MAX_PARAMS)
                goto no;
            if (ae - a > 2 && ae[-2] == '+') /* {name+}: the rest of the path, one or more segments */
                be = b + strlen(b);
            params[np++] = xstrndup(b, (size_t)(be - b));
        } else if ((size_t)(ae - a) != (size_t)(be - b) || memcmp(a, b, (size_t)(ae - a))) {
            goto no;
        }
        a = ae, b = be;
    }
    if (*a || *b)
        goto no;
    if (out) {
        for (int i = 0; i < np; i++)
            out[i] = params[i];
        *nout = np;
    } else {
        for (int i = 0; i < np; i++)
            free(params[i]);
    }
    return 1;
no:
    for (int i = 0; i < np; i++)
        free(params[i]);
    return 0;
}

static enum MHD_Result add_len(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    *(size_t *)cls += strlen(k) + (v ? strlen(v) : 0) + 4; /* "k: v\r\n", "k=v&" */
    return MHD_YES;
}

/* The sizes of a request's head, before anything else: too long a path or
 * query is a 414, too many header bytes a 431, both in JSON like every other
 * error (MHD's own answers to these are HTML; SRV_CONN_MEMORY keeps them for
 * heads MHD cannot hold at all). */
const srv_route *srv__route_find(const char *method, const char *url, char **path, char **params, int *np,
                                 buf *allow)
{
    char *p = normalize_path(url);
    size_t n = sizeof routes / sizeof routes[0];
    const srv_route *found = NULL;
    *np = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, p, NULL, NULL))
            continue;
        if (!strcmp(routes[i].method, method) || (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
            found = &routes[i];
            match(routes[i].pattern, p, params, np);
            break;
        }
        if (allow && !strstr(buf_str(allow), routes[i].method))
            buf_printf(allow, "%s%s", allow->len ? ", " : "", routes[i].method);
    }
    *path = p;
    return found;
}

static int check_head(srv_req *r, const char *url, enum MHD_Result *rc /* OUT */)
{
    size_t target = strlen(url), head = 0;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_len, &target);
    if (target > SRV_TARGET_MAX) {
        *rc = srv_error(r, MHD_HTTP_URI_TOO_LONG,
                        "the request's path and query (%zu bytes) are longer than the %d bytes allowed", target,
                        SRV_TARGET_MAX);
        return 1;
    }
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_len, &head);
    if (head > SRV_HEADERS_MAX) {
        *rc = srv_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "the request's header fields (%zu bytes) are larger than the %d bytes allowed", head,
                        SRV_HEADERS_MAX);
        return 1;
    }
    return 0;
}

static enum MHD_Result begin(server *s, srv_req *r, const char *url)
{
    enum MHD_Result rc;
    if (check_head(r, url, &rc))
        return rc;
    buf allow;
    buf_init(&allow, 0);
    r->route = srv__route_find(r->method, url, &r->path, r->params, &r->nparams, &allow);
    if (!r->route) {
        if (allow.len) {
            struct MHD_Response *resp;
            char *m = xasprintf("{\"message\":\"method %s is not allowed on %s: use %s\"}", r->method, r->path,
                                buf_str(&allow));
            resp = MHD_create_response_from_buffer(strlen(m), m, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(resp, "Content-Type", "application/json");
            MHD_add_response_header(resp, "Allow", buf_str(&allow));
            rc = srv_queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
        } else {
            rc = srv_error(r, MHD_HTTP_NOT_FOUND, "no route %s %s (the API is under /api/v1/, see /api/v1/openapi.json)",
                           r->method, r->path);
        }
        buf_free(&allow);
        return rc;
    }
    buf_free(&allow);
    if (!(r->route->flags & ROUTE_NOAUTH) && (srv_auth_check(r) || srv_access_route(r)))
        return MHD_YES;
    /* a webhook's key is checked before its body is read */
    if (r->route->fn == srv_webhook && s->o.sched &&
        sched_webhook_precheck(s->o.sched, r->params[0], r->params[1], r->params[2]) == SCHED_NOT_FOUND)
        return srv_webhook_not_found(r);
    const char *cl = srv_header(r, "Content-Length");
    const char *ct = srv_header(r, "Content-Type");
    int multipart = ct && (r->route->flags & ROUTE_FORM) &&
                    (!strncasecmp(ct, "multipart/form-data", 19) ||
                     !strncasecmp(ct, "application/x-www-form-urlencoded", 33));
    size_t cap = multipart ? s->o.max_body + s->o.max_upload : s->o.max_body;
    if (cl && strtoull(cl, NULL, 10) > cap)
        return srv_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the request body (%s bytes) is larger than the %zu bytes allowed",
                         cl, cap);
    /* a declared body that goes to memory takes its share of the budget now, so
     * that a refusal comes before the body is read */
    if (cl && !multipart && strtoull(cl, NULL, 10) > 0 && inflight_take(r, (size_t)strtoull(cl, NULL, 10)))
        return answer_busy(r);
    if (multipart) {
        r->form = json_object();
        r->files = json_object();
        r->pp = MHD_create_post_processor(r->conn, 64 * 1024, srv__post_field, r);
        if (!r->pp)
            return srv_error(r, MHD_HTTP_BAD_REQUEST, "cannot read the multipart body: is the boundary missing?");
    }
    buf_init(&r->body, s->o.max_body);
    return MHD_YES;
}

/* A body (chunked: no Content-Length to refuse up front) that passes its
 * cap mid-way is cut there: what it holds is freed and given back to the
 * server-wide budget at once, and the rest is read and dropped so that the
 * 413 can be answered (libmicrohttpd 0.9.75 cannot queue an answer while a
 * request's body is still arriving). Past as many bytes again, the client
 * is not listening to a 413: the connection is closed without an answer. */
static enum MHD_Result cut_body(srv_req *r, size_t n)
{
    if (!r->too_large) {
        r->too_large = 1;
        buf_free(&r->body);
        if (r->held) {
            __atomic_sub_fetch(&r->s->inflight, r->held, __ATOMIC_RELAXED);
            r->held = 0;
        }
    }
    r->dropped += n;
    return r->dropped > r->s->o.max_body ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    server *s = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->s = s;
        r->conn = conn;
        r->method = method;
        *con_cls = r;
        __atomic_add_fetch(&s->requests, 1, __ATOMIC_RELAXED);
        srv_conn_state(r, SRV_CONN_BODY);
        return begin(s, r, url);
    }
    if (r->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->pp) {
            if (MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES && !r->form_error[0])
                snprintf(r->form_error, sizeof r->form_error, "the multipart body is malformed");
        } else if (r->too_large) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            return cut_body(r, n);
        } else if (!r->busy) {
            size_t need = r->body.len + *upload_data_size;
            if (need > r->s->o.max_body || buf_append(&r->body, upload_data, *upload_data_size)) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                return cut_body(r, n);
            } else if (need > r->held && inflight_take(r, need - r->held))
                buf_free(&r->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return srv_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "the request body is larger than the %zu bytes allowed",
                         s->o.max_body);
    if (r->busy)
        return answer_busy(r);
    const char *bad = srv__form_finish(r);
    if (bad)
        return srv_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "form field '%s' is not valid UTF-8", bad);
    if (r->form_error[0]) {
        if (!strncmp(r->form_error, "413 ", 4))
            return srv_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "%s", r->form_error + 4);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "%s", r->form_error);
    }
    srv_conn_state(r, SRV_CONN_HANDLER);
    if (r->route->flags & ROUTE_HEAVY) {
        heavy_enter(s); /* left in on_completed: the answer is sent by then */
        r->heavy = 1;
    }
    enum MHD_Result rc = r->route->fn(r);
    if (!r->answered)
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the handler gave no answer");
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    srv_req *r = *con_cls;
    if (!r)
        return;
    srv_conn_state(r, SRV_CONN_HEADERS);
    if (r->heavy)
        heavy_leave(s);
    if (r->held)
        __atomic_sub_fetch(&s->inflight, r->held, __ATOMIC_RELAXED);
    int big = r->held >= ((size_t)1 << 20);
    if (r->answered >= 500)
        __atomic_add_fetch(&s->errors_5xx, 1, __ATOMIC_RELAXED);
    else if (r->answered >= 400)
        __atomic_add_fetch(&s->errors_4xx, 1, __ATOMIC_RELAXED);
    if (!s->o.quiet)
        fprintf(stderr, "kite server: %s %s %s %d\n", srv_client_addr(r), r->method, r->path ? r->path : "?",
                r->answered);
    srv__req_release(r);
    *con_cls = NULL;
    if (big && __atomic_load_n(&s->inflight, __ATOMIC_RELAXED) == 0)
        malloc_trim(0); /* the last big body left: give its memory back */
}

/* ---- lifecycle ----------------------------------------------------------------------- */

server *server_new(const server_opts *o, kerr *e)
{
    if (!o->engine || !o->store || !o->storage) {
        kerr_set(e, "server_new: the engine, the store and the storage are required");
        return NULL;
    }
    server *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->host = xstrdup(o->host ? o->host : "127.0.0.1");
    const char *t = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    s->tmp_dir = xstrdup(t && *t ? t : "/tmp");
    if (!s->o.max_body)
        s->o.max_body = 10u << 20;
    if (!s->o.max_upload)
        s->o.max_upload = (size_t)1 << 30;
    if (!s->o.timeout_s)
        s->o.timeout_s = 60;
    if (!s->o.max_connections)
        s->o.max_connections = 512;
    if (!s->o.max_per_address)
        s->o.max_per_address = 128;
    if (!s->o.header_timeout_s)
        s->o.header_timeout_s = 10;
    if (!s->o.request_timeout_s)
        s->o.request_timeout_s = 120;
    if (!s->o.max_inflight)
        s->o.max_inflight = (size_t)64 << 20;
    if (s->o.max_inflight < s->o.max_body)
        s->o.max_inflight = s->o.max_body;
    if (netguard_list_parse(o->trusted_proxies, "server.trustedProxies", &s->proxies, e)) {
        free(s->host);
        free(s->tmp_dir);
        free(s);
        return NULL;
    }
    if (o->tls_cert_pem || o->tls_key_pem) {
        if (server_tls_check(o->tls_cert_pem, "the certificate", o->tls_key_pem, "the key", o->tls_priorities, e)) {
            netguard_list_free(&s->proxies);
            free(s->host);
            free(s->tmp_dir);
            free(s);
            return NULL;
        }
        s->tls = 1;
        s->tls_cert = xstrdup(o->tls_cert_pem);
        s->tls_key = xstrdup(o->tls_key_pem);
        s->tls_prio = xstrdup(o->tls_priorities ? o->tls_priorities : SERVER_TLS_PRIORITIES);
    }
    s->o.tls_cert_pem = s->o.tls_key_pem = s->o.tls_priorities = NULL;
    s->o.trusted_proxies = NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_cond_init(&s->heavy_cond, NULL);
    pthread_cond_init(&s->guard_cond, NULL);
    pthread_mutex_init(&s->pol_lock, NULL);
    return s;
}

int server_start(server *s, kerr *e)
{
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, s->host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)s->o.port);
        sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, s->host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)s->o.port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return kerr_set(e, "server.host '%s' is not an IP address (use 127.0.0.1, 0.0.0.0 or ::)", s->host);
    }
    /* TLS, when configured: options through MHD_OPTION_ARRAY so that the
     * plain daemon's call stays the same */
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
    if (s->tls) {
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, s->tls_prio};
        tls_opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return kerr_set(e, "this libmicrohttpd was built without TLS: server.tls cannot be served");
    }
    s->d = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                            srv_conn_notify, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, s->o.timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_CONN_MEMORY,
                            /* room past the guard's cap, so that a new connection is accepted
                             * and the guard evicts a slow one instead of MHD refusing it */
                            MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections + 64,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0, MHD_OPTION_THREAD_STACK_SIZE,
                            (size_t)512 * 1024, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->d)
        return kerr_set(e, "cannot listen on %s:%d: %s (is the port in use? choose another with --port)", s->host,
                        s->o.port, strerror(errno ? errno : EADDRINUSE));
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->o.port;
    if (srv_guard_start(s)) {
        MHD_stop_daemon(s->d);
        s->d = NULL;
        return kerr_set(e, "cannot start the connection guard thread");
    }
    return 0;
}

int server_port(const server *s) { return s->port; }

const char *server_scheme(const server *s) { return s->tls ? "https" : "http"; }

void server_stop(server *s)
{
    if (!s || !s->d)
        return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
    MHD_quiesce_daemon(s->d);
    /* give event streams and waits (which see `stopping`) a moment to end
     * cleanly, so clients get a complete response rather than a reset */
    for (int i = 0; i < 50; i++) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        usleep(10000);
    }
    srv_guard_stop(s);
    MHD_stop_daemon(s->d);
    s->d = NULL;
}

void server_free(server *s)
{
    if (!s)
        return;
    server_stop(s);
    srv_session_free(s);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_cond_destroy(&s->guard_cond);
    pthread_cond_destroy(&s->heavy_cond);
    srv_access_free(s);
    pthread_mutex_destroy(&s->pol_lock);
    free(s->host);
    free(s->tmp_dir);
    free(s->tls_cert);
    if (s->tls_key) {
        explicit_bzero(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s->tls_prio);
    netguard_list_free(&s->proxies);
    free(s);
}

/* ---- health and the OpenAPI document --------------------------------------------------- */

enum MHD_Result srv_health(srv_req *r)
{
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:s}", "status", SRV_STOPPING(r->s) ? "DOWN" : "UP"));
}

/* The JSON Schema of a query parameter's type (srv_route.query): the enums
 * come from the tables the handlers check values against. */
static json_t *query_schema(const char *type)
{
    if (!strcmp(type, "int"))
        return json_pack("{s:s}", "type", "integer");
    if (!strcmp(type, "bool"))
        return json_pack("{s:s}", "type", "boolean");
    if (!strcmp(type, "label")) /* key:value, as read_labels wants it */
        return json_pack("{s:s,s:s}", "type", "string", "pattern", "^[^:]+:");
    if (!strcmp(type, "date-time") || !strcmp(type, "duration"))
        return json_pack("{s:s,s:s}", "type", "string", "format", type);
    json_t *e = NULL;
    if (!strcmp(type, "state")) {
        e = json_array();
        for (int i = 0; i < STATE__COUNT; i++)
            json_array_append_new(e, json_string(store_state_name((store_state)i)));
    } else if (!strcmp(type, "level")) {
        e = json_array();
        for (int i = 0; i < LEVEL__COUNT; i++)
            json_array_append_new(e, json_string(store_level_name((store_level)i)));
    } else if (!strcmp(type, "plugin-kind")) {
        e = srv__plugin_kinds();
    }
    return e ? json_pack("{s:s,s:o}", "type", "string", "enum", e) : json_pack("{s:s}", "type", "string");
}

enum MHD_Result srv_openapi(srv_req *r)
{
    json_t *paths = json_object();
    size_t n = sizeof routes / sizeof routes[0];
    for (size_t i = 0; i < n; i++) {
        const srv_route *rt = &routes[i];
        json_t *p = json_object_get(paths, rt->pattern);
        if (!p) {
            p = json_object();
            json_object_set_new(paths, rt->pattern, p);
        }
        char m[16];
        size_t k;
        for (k = 0; rt->method[k] && k < sizeof m - 1; k++)
            m[k] = (char)(rt->method[k] | 0x20);
        m[k] = '\0';
        json_t *params = json_array();
        for (const char *q = strchr(rt->pattern, '{'); q; q = strchr(q + 1, '{')) {
            const char *end = strchr(q, '}');
            json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", q + 1, (size_t)(end - q - 1),
                                                    "in", "path", "required", 1, "schema", "type", "string"));
        }
        srv_qparam qp;
        for (const char *q = rt->query; (q = srv_query_next(q, &qp));) {
            json_t *sch = query_schema(qp.type);
            if (qp.repeat)
                sch = json_pack("{s:s,s:o}", "type", "array", "items", sch);
            json_t *one = json_pack("{s:s,s:s,s:b,s:o}", "name", qp.name, "in", "query", "required", qp.required,
                                    "schema", sch);
            if (qp.repeat) /* labels=a:1&labels=b:2 */
                json_object_set_new(one, "explode", json_true());
            json_array_append_new(params, one);
        }
        json_t *op = json_pack("{s:s,s:o,s:{s:{s:s}}}", "summary", rt->summary, "parameters", params, "responses",
                               "200", "description", "OK");
        if (rt->flags & ROUTE_NOAUTH)
            json_object_set_new(op, "security", json_array());
        if (rt->flags & ROUTE_TEXT_BODY)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:{s:{s:{s:s}}}}", "content", "application/x-yaml", "schema", "type",
                                          "string"));
        if (rt->flags & ROUTE_JSON_BODY)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b,s:{s:{s:{}}}}", "required", 1, "content", "application/json",
                                          "schema"));
        if (rt->flags & ROUTE_FORM)
            json_object_set_new(op, "requestBody",
                                json_pack("{s:{s:{s:{s:s}}}}", "content", "multipart/form-data", "schema", "type",
                                          "object"));
        json_object_set_new(p, m, op);
    }
    json_t *doc = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{s:{s:s,s:s}}},s:[{s:[]}]}", "openapi", "3.0.3", "info",
                            "title", "kite API", "version", "v1", "paths", paths, "components", "securitySchemes",
                            "bearerAuth", "type", "http", "scheme", "bearer", "security", "bearerAuth");
    return srv_json(r, MHD_HTTP_OK, doc);
}
