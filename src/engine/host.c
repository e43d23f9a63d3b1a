/*
 * host.c: the host functions the engine adds to expressions, in ONE table:
 * secret (its code in log.c, beside the masker), kv, read, fileExists,
 * fileSize, isFileEmpty, fileURI, errorLogs, currentEachOutput, tasksWithState,
 * randomPort, parentOutput, iterationOutput, and http (its request sent by
 * tasks/http.c).
 *
 * DESIGN
 * An entry says whether its function needs an execution (kv, read, ...: the
 * execution's namespace, its logs, the run's loop values) or only the engine
 * (secret). Renders of an execution get every entry, bound to an
 * engine_hostctx (model.c, xexec_render); renders without one (the
 * scheduler's trigger conditions and inputs) get the engine's entries
 * through engine_expr_env(). The names and arities are also in the
 * expression layer (expr/host.c) for the flow validator; a unit test keeps
 * the two lists equal.
 */
#include "engine/engine_int.h"
#include "tasks/tasks.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mem.h"
#include "util/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* secret() (userdata: an engine_hostctx, with or without an execution) lives
 * with the masker it feeds: engine__fn_secret in log.c. */

/* ---- the ones that need an execution (userdata: engine_hostctx) ------------------------------ */

/* currentEachOutput(outputs.t): t's outputs for the loop iteration the
 * current task runs in (outputs.t[v1][v2]... with its loop values). */
static json_t *fn_current_each_output(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const json_t *v = json_array_get(args, 0);
    if (!v) {
        kerr_set(e, "currentEachOutput() needs the outputs of a task inside a loop, e.g. outputs.my_task");
        return NULL;
    }
    if (h->r < 0)
        return json_incref((json_t *)v);
    const char *chain[32];
    size_t n = xexec_value_chain(h->x, h->r, chain, 32);
    for (size_t i = 0; i < n && json_is_object(v); i++) {
        const json_t *next = json_object_get(v, chain[i]);
        if (!next)
            break;
        v = next;
    }
    return json_incref((json_t *)v);
}

static json_t *fn_error_logs(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    store_log_query q = {.execution_id = h->x->row.id, .min_level = LEVEL_ERROR, .limit = 1000};
    store_log *logs = NULL;
    size_t n = 0;
    if (store_log_search(h->en->o.store, &q, &logs, &n, NULL, e))
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char t[64];
        datetime_format(logs[i].at_us, tz_utc(), t, sizeof t);
        json_array_append_new(out, json_pack("{s:s?,s:s?,s:s,s:s,s:s,s:s,s:s}", "taskId", logs[i].task_id,
                                             "taskRunId", logs[i].task_run_id, "executionId", logs[i].execution_id,
                                             "namespace", h->x->row.namespace, "flowId", h->x->row.flow_id,
                                             "level", store_level_name(logs[i].level), "message", logs[i].message));
        json_object_set_new(json_array_get(out, json_array_size(out) - 1), "timestamp", json_string(t));
    }
    store_logs_free(logs, n);
    return out;
}

static const char *arg_str(const json_t *args, size_t i, const json_t *kwargs, const char *name)
{
    const char *s = json_string_value(json_array_get(args, i));
    return s ? s : json_string_value(json_object_get(kwargs, name));
}

static json_t *fn_kv(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *key = arg_str(args, 0, kwargs, "key");
    const char *ns = arg_str(args, 1, kwargs, "namespace");
    const json_t *eom = json_object_get(kwargs, "errorOnMissing");
    if (!eom)
        eom = json_array_get(args, 2);
    if (!key) {
        kerr_set(e, "kv() needs a key");
        return NULL;
    }
    if (ns && store_kv_check_namespace(ns, e)) {
        kerr_prefix(e, "kv('%s', '%.*s')", key, STORE_ID_MAX, ns);
        return NULL;
    }
    if (ns && store_access_flow(h->en->o.store, h->x->row.namespace, PA_KV_READ, ns, e)) {
        kerr_prefix(e, "kv('%s', '%.*s')", key, STORE_ID_MAX, ns);
        return NULL;
    }
    json_t *v = NULL;
    int rc = store_kv_get(h->en->o.store, ns ? ns : h->x->row.namespace, key, &v, e);
    if (rc == STORE_NOT_FOUND) {
        if (eom && json_is_false(eom)) {
            kerr_clear(e);
            return json_null();
        }
        kerr_set(e, "kv key '%s' not found in namespace %s", key, ns ? ns : h->x->row.namespace);
        return NULL;
    }
    return rc ? NULL : v;
}

/* A file of another namespace (its namespace files, its executions' files,
 * its kv area) is read only where store_access_flow allows it. */
static int uri_allowed(engine_hostctx *h, const char *uri, const char *fn, kerr *e)
{
    storage_uri u;
    kerr e2 = KERR_INIT;
    if (storage_uri_parse(uri, 0, &u, &e2))
        return 0; /* the storage call reports it */
    int rc = 0;
    if (u.namespace_id && h->x) {
        int action = u.kind == STORAGE_URI_NAMESPACE_FILE ? PA_NSFILE_READ
                     : u.kind == STORAGE_URI_KV           ? PA_KV_READ
                                                          : PA_EXECUTION_READ;
        if (store_access_flow(h->en->o.store, h->x->row.namespace, action, u.namespace_id, e)) {
            kerr_prefix(e, "%s('%s')", fn, uri);
            rc = -1;
        }
    }
    storage_uri_free(&u);
    return rc;
}

/* The file a file function names, as Kestra's (read, fileExists, fileSize,
 * isFileEmpty: path, namespace): a URI as it is, a path without a scheme a
 * namespace file of `namespace` (default: the flow's). Another namespace's
 * files are reached only where store_access_flow allows it. Returns the URI
 * to use (a new string) or NULL with e set. */
static char *file_arg(engine_hostctx *h, const char *fn, const json_t *args, const json_t *kwargs, kerr *e)
{
    const char *path = arg_str(args, 0, kwargs, "path");
    const char *ns = arg_str(args, 1, kwargs, "namespace");
    if (!path) {
        kerr_set(e, "%s() needs a file URI or the path of a namespace file", fn);
        return NULL;
    }
    if (storage_uri_has_scheme(path)) {
        if (uri_allowed(h, path, fn, e))
            return NULL;
        return xstrdup(path);
    }
    if (ns && strcmp(ns, h->x->row.namespace)) {
        if (store_access_flow(h->en->o.store, h->x->row.namespace, PA_NSFILE_READ, ns, e)) {
            kerr_prefix(e, "%s('%s', namespace='%s')", fn, path, ns);
            return NULL;
        }
    }
    return storage_uri_namespace_file(ns ? ns : h->x->row.namespace, path, e);
}

static json_t *fn_read(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    char *uri = file_arg(h, "read", args, kwargs, e);
    if (!uri)
        return NULL;
    buf b = BUF_INIT;
    int rrc = storage_read_all(h->en->o.storage, uri, 16u << 20, &b, e);
    if (rrc) {
        buf_free(&b);
        free(uri);
        return NULL;
    }
    json_t *v = json_stringn(buf_str(&b), b.len);
    buf_free(&b);
    if (!v)
        kerr_set(e, "read('%s'): the file is not UTF-8 text", uri);
    free(uri);
    return v;
}

static json_t *fn_file_exists(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    char *uri = file_arg(h, "fileExists", args, kwargs, e);
    if (!uri)
        return NULL;
    int rc = storage_exists(h->en->o.storage, uri, e);
    free(uri);
    if (rc < 0)
        return NULL;
    return json_boolean(rc);
}

static json_t *fn_file_size(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    char *uri = file_arg(h, "fileSize", args, kwargs, e);
    if (!uri)
        return NULL;
    int64_t n = storage_size(h->en->o.storage, uri, e);
    free(uri);
    return n < 0 ? NULL : json_integer(n);
}

/* http(uri, method, query, body, contentType, headers, options, accept):
 * Kestra's http() function: the answer's body, parsed when it is JSON; a
 * status >= 400 fails the render. Sent by tasks_http_poll (tasks/http.c) on
 * the rendering thread's HTTP client. */
static const json_t *arg_any(const json_t *args, size_t i, const json_t *kwargs, const char *name)
{
    const json_t *v = json_object_get(kwargs, name);
    return v ? v : json_array_get(args, i);
}

static json_t *fn_http(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    const char *uri = arg_str(args, 0, kwargs, "uri");
    if (!uri) {
        kerr_set(e, "The 'http' function expects an argument 'uri'.");
        return NULL;
    }
    const char *method = arg_str(args, 1, kwargs, "method");
    const json_t *query = arg_any(args, 2, kwargs, "query");
    const json_t *body = arg_any(args, 3, kwargs, "body");
    const char *ctype = arg_str(args, 4, kwargs, "contentType");
    const json_t *headers = arg_any(args, 5, kwargs, "headers");
    const json_t *options = arg_any(args, 6, kwargs, "options");
    const char *accept = arg_str(args, 7, kwargs, "accept");
    buf u = BUF_INIT;
    buf_puts(&u, uri);
    if (json_is_object(query) && json_object_size(query)) {
        const char *k;
        json_t *v;
        int first = !strchr(uri, '?');
        json_object_foreach((json_t *)query, k, v) {
            char *t = expr_value_to_text(v);
            buf_putc(&u, first ? '?' : '&');
            first = 0;
            httpc_escape(k, strlen(k), &u);
            buf_putc(&u, '=');
            httpc_escape(t, strlen(t), &u);
            free(t);
        }
    }
    json_t *p = json_pack("{s:s,s:s}", "uri", buf_str(&u), "method", method ? method : "GET");
    buf_free(&u);
    if (body && !json_is_null(body))
    {
        char *t = expr_value_to_text(body);
        json_object_set_new(p, "body", json_string(t));
        free(t);
    }
    json_object_set_new(p, "contentType", json_string(ctype ? ctype : "application/json"));
    json_t *h = json_is_object(headers) ? json_deep_copy(headers) : json_object();
    json_object_set_new(h, "Accept", json_string(accept ? accept : "application/json"));
    json_object_set_new(p, "headers", h);
    if (json_is_object(options))
        json_object_set(p, "options", (json_t *)options);
    json_t *out = NULL;
    /* the request reads nothing of the context: the execution's lock is
     * dropped meanwhile, as for a jq program */
    const expr_limits *l = expr_thread_limits();
    if (l && l->yield)
        l->yield(l->yield_ud, 0);
    int rc = tasks_http_poll(p, NULL, &out, e);
    if (l && l->yield)
        l->yield(l->yield_ud, 1);
    json_decref(p);
    if (rc)
        return NULL;
    json_int_t code = json_integer_value(json_object_get(out, "code"));
    const json_t *b = json_object_get(out, "body");
    json_t *res = NULL;
    if (code >= 400) {
        buf r = BUF_INIT;
        httpc_redact_url(json_string_value(json_object_get(out, "uri")), &r);
        kerr_set(e, "http(): %s %s: server answered %lld", method ? method : "GET",
                 buf_str(&r), (long long)code);
        buf_free(&r);
    } else if (!json_is_string(b)) {
        res = json_null();
    } else {
        json_error_t je;
        res = json_loads(json_string_value(b), JSON_DECODE_ANY, &je);
        if (!res)
            res = json_incref((json_t *)b);
    }
    json_decref(out);
    return res;
}

/* isFileEmpty(path, namespace?): true when the file has no byte. */
static json_t *fn_is_file_empty(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    char *uri = file_arg(h, "isFileEmpty", args, kwargs, e);
    if (!uri)
        return NULL;
    int64_t n = storage_size(h->en->o.storage, uri, e);
    free(uri);
    return n < 0 ? NULL : json_boolean(n == 0);
}

/* fileURI(path): the internal-storage URI of a namespace file of the
 * execution's namespace, as Kestra resolves it. */
static json_t *fn_file_uri(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *path = arg_str(args, 0, kwargs, "path");
    if (!path || !*path) {
        kerr_set(e, "fileURI() needs the path of a namespace file");
        return NULL;
    }
    while (*path == '/')
        path++;
    char *uri = storage_uri_namespace_file(h->x->row.namespace, path, e);
    if (!uri)
        return NULL;
    json_t *v = json_string(uri);
    free(uri);
    return v;
}

/* tasksWithState(state): the task runs of the execution in that state
 * (case-insensitive), as Kestra lists them: [{taskId, state, value}]. */
static json_t *fn_tasks_with_state(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const char *want = arg_str(args, 0, kwargs, "state");
    store_state st;
    if (!want || store_state_parse(want, &st)) {
        char up[32] = "";
        for (size_t i = 0; want && want[i] && i + 1 < sizeof up; i++)
            up[i] = (char)toupper((unsigned char)want[i]), up[i + 1] = 0;
        if (!want || store_state_parse(up, &st)) {
            kerr_set(e, "tasksWithState() needs a state (SUCCESS, FAILED, WARNING, RUNNING, ...), not '%s'",
                     want ? want : "nothing");
            return NULL;
        }
    }
    json_t *out = json_array();
    for (size_t i = 0; i < h->x->nruns; i++) {
        const store_task_run *t = &h->x->runs[i].row;
        if (t->state != st)
            continue;
        json_array_append_new(out, json_pack("{s:s,s:s,s:s?}", "taskId", t->task_id, "state", store_state_name(st),
                                             "value", t->value));
    }
    return out;
}

/* The run's outputs without kite's bookkeeping keys (_value, _state), or
 * NULL when it has none. */
static json_t *visible_outputs(const json_t *o)
{
    if (!json_is_object(o) || !json_object_size(o))
        return NULL;
    json_t *c = json_copy((json_t *)o);
    json_object_del(c, "_value");
    json_object_del(c, "_state");
    if (!json_object_size(c)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* parentOutput(index?): the outputs of the flowable the current task runs
 * in (outputs.<parent>, for the loop iteration the parent runs in), as
 * Kestra's; with index, of that ancestor counted from the outermost (0).
 * null when the parent has no outputs. Kestra looks the parent up in
 * `outputs` by its own loop value only, so for a parent inside two nested
 * loops it finds nothing; kite gives that parent's outputs. */
static json_t *fn_parent_output(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const json_t *ix = json_array_get(args, 0);
    if (!ix)
        ix = json_object_get(kwargs, "index");
    int anc[64];
    size_t n = 0;
    for (int p = h->r >= 0 ? h->x->runs[h->r].parent : -1; p >= 0 && n < 64; p = h->x->runs[p].parent)
        anc[n++] = p; /* nearest first */
    int pick;
    if (ix && !json_is_null(ix)) {
        if (!json_is_integer(ix)) {
            kerr_set(e, "The 'parentOutput' function expects an argument 'index' of type integer");
            return NULL;
        }
        json_int_t i = json_integer_value(ix);
        if (i < 0 || (size_t)i + 1 > n) {
            kerr_set(e, "parentOutput(): invalid index: %lld for parents size: %zu", (long long)i, n);
            return NULL;
        }
        pick = anc[n - 1 - (size_t)i];
    } else {
        if (!n) {
            kerr_set(e, "parentOutput() needs a task inside a flowable task (this one has no parent)");
            return NULL;
        }
        pick = anc[0];
    }
    json_t *o = visible_outputs(h->x->runs[pick].row.outputs);
    return o ? o : json_null();
}

/* iterationOutput(taskId?, iteration?): the `value` output of task taskId
 * (default: the current task) in iteration `iteration` (0 first; default:
 * the previous one) of the loop the current task runs in, as Kestra's:
 * e.g. a Return or OutputValues' value from the iteration before. An
 * iteration is picked by its index, whatever order the iterations ended in. */
static json_t *fn_iteration_output(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    engine_hostctx *h = ud;
    const xexec *x = h->x;
    const json_t *tid = json_array_get(args, 0);
    if (!tid)
        tid = json_object_get(kwargs, "taskId");
    const json_t *itv = json_array_get(args, 1);
    if (!itv)
        itv = json_object_get(kwargs, "iteration");
    /* the run of the current iteration: the ancestor (or self) whose parent is a loop */
    int c = -1;
    for (int cur = h->r; cur >= 0; cur = x->runs[cur].parent) {
        int p = x->runs[cur].parent;
        const etask *pt = p >= 0 ? &x->fl->tasks[x->runs[p].task] : NULL;
        if (pt && pt->impl && (pt->impl->flags & FL_LOOP)) {
            c = cur;
            break;
        }
    }
    if (c < 0) {
        kerr_set(e, "iterationOutput() should be used inside iterative tasks only (ForEach, Loop, LoopUntil...)");
        return NULL;
    }
    const char *task_id = h->r >= 0 ? x->runs[h->r].row.task_id : NULL;
    if (tid && !json_is_null(tid)) {
        if (!json_is_string(tid)) {
            kerr_set(e, "iterationOutput(): 'taskId' must be a task id (a string), not %s",
                     json_is_object(tid) ? "the outputs of a task: write iterationOutput('my_task')" : "this");
            return NULL;
        }
        task_id = json_string_value(tid);
    }
    long long it = (long long)x->runs[c].row.iteration - 1;
    if (itv && !json_is_null(itv)) {
        const char *txt = json_string_value(itv);
        char *end = NULL;
        if (json_is_integer(itv))
            it = json_integer_value(itv);
        else if (txt && *txt && (it = strtoll(txt, &end, 10), !*end))
            ; /* "2": Kestra reads the text of the argument */
        else {
            char *t = json_dumps(itv, JSON_ENCODE_ANY);
            kerr_set(e, "The 'iteration' argument for 'iterationOutput' must be an integer, but got: %s", t ? t : "?");
            free(t);
            return NULL;
        }
    }
    if (it < 0) {
        kerr_set(e, "iterationOutput(): cannot fetch iteration %lld: no previous iteration exists", it);
        return NULL;
    }
    const json_t *node = json_object_get(x->outputs, task_id);
    if (!node)
        return json_null();
    /* the value of iteration `it` of that loop: any run started in it */
    int loop = x->runs[c].parent;
    const char *want = NULL;
    int last = -1;
    for (size_t i = 0; i < x->nruns; i++) {
        if (x->runs[i].parent != loop)
            continue;
        if (x->runs[i].row.iteration > last)
            last = x->runs[i].row.iteration;
        if (x->runs[i].row.iteration == it && x->runs[i].row.value)
            want = x->runs[i].row.value;
    }
    if (!want) {
        kerr_set(e, "iterationOutput(): the provided index (%lld) is out of range. It refers to an iteration "
                    "whose outputs do not exist yet. Maximum valid index is %d", it, last);
        return NULL;
    }
    const char *chain[32];
    size_t n = xexec_value_chain(x, c, chain, 32);
    for (size_t i = 0; i + 1 < n; i++) {
        node = json_object_get(node, chain[i]);
        if (!json_is_object(node))
            return json_null();
    }
    node = json_object_get(node, want);
    if (!json_is_object(node)) {
        kerr_set(e, "iterationOutput(): the provided index (%lld) is out of range. It refers to an iteration "
                    "whose outputs do not exist yet (task %s has none in it)", it, task_id);
        return NULL;
    }
    const json_t *v = json_object_get(node, "value");
    return v ? json_incref((json_t *)v) : json_null();
}

/* randomPort(): a TCP port free on this host now (the kernel's pick for a
 * socket bound to port 0 on loopback), as Kestra's randomPort(). */
static json_t *fn_random_port(void *ud, const json_t *args, const json_t *kwargs, kerr *e)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        kerr_set(e, "randomPort(): socket: %s", strerror(errno));
        return NULL;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
        kerr_set(e, "randomPort(): %s", strerror(errno));
        close(fd);
        return NULL;
    }
    close(fd);
    return json_integer(ntohs(a.sin_port));
}

/* ---- the table ------------------------------------------------------------------------------ */

const engine_host engine__hosts[] = {
    {{"secret", 1, 1}, engine__fn_secret, 2},
    {{"kv", 1, 3}, fn_kv, 1},
    {{"read", 1, 2}, fn_read, 1},
    {{"fileExists", 1, 2}, fn_file_exists, 1},
    {{"fileSize", 1, 2}, fn_file_size, 1},
    {{"errorLogs", 0, 0}, fn_error_logs, 1},
    {{"currentEachOutput", 1, 1}, fn_current_each_output, 1},
    {{"http", 1, 8}, fn_http, 0},
    {{"isFileEmpty", 1, 2}, fn_is_file_empty, 1},
    {{"fileURI", 1, 1}, fn_file_uri, 1},
    {{"tasksWithState", 1, 1}, fn_tasks_with_state, 1},
    {{"randomPort", 0, 0}, fn_random_port, 0},
    {{"parentOutput", 0, 1}, fn_parent_output, 1},
    {{"iterationOutput", 0, 2}, fn_iteration_output, 1},
};

const size_t engine__nhosts = sizeof engine__hosts / sizeof engine__hosts[0];

_Static_assert(sizeof engine__hosts / sizeof engine__hosts[0] <= ENGINE_HOST_MAX, "ENGINE_HOST_MAX is too small");

size_t engine__host_funcs(engine_hostctx *h, expr_func *funcs)
{
    for (size_t i = 0; i < engine__nhosts; i++)
        funcs[i] = (expr_func){engine__hosts[i].sig.name, engine__hosts[i].fn,
                               engine__hosts[i].per_execution ? (void *)h : (void *)h->en};
    return engine__nhosts;
}

void engine__host_init(engine *en)
{
    en->nfuncs = 0;
    if (!en->host0)
        en->host0 = xcalloc(1, sizeof *en->host0);
    en->host0->en = en;
    en->host0->x = NULL;
    en->host0->r = -1;
    for (size_t i = 0; i < engine__nhosts; i++)
        if (!engine__hosts[i].per_execution)
            en->funcs[en->nfuncs++] = (expr_func){engine__hosts[i].sig.name, engine__hosts[i].fn, en};
        else if (engine__hosts[i].per_execution == 2)
            en->funcs[en->nfuncs++] = (expr_func){engine__hosts[i].sig.name, engine__hosts[i].fn, en->host0};
}

void engine_expr_env(engine *en, expr_env *env)
{
    memset(env, 0, sizeof *env);
    env->funcs = en->funcs;
    env->nfuncs = en->nfuncs;
}

storage *engine_storage(engine *en)
{
    return en->o.storage;
}

const char *engine_tmp_dir(engine *en)
{
    return en->tmp_dir;
}
