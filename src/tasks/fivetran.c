/*
 * fivetran.c: the fivetran family: io.kestra.plugin.fivetran.connectors.Sync,
 * which starts a sync of a Fivetran connector over Fivetran's REST API and,
 * with `wait` (the default), waits for it to end.
 *
 * DESIGN
 * As Kestra's task does: GET {baseUrl}/v1/connectors/{id} first (the
 * connector's last completion: the later of succeeded_at and failed_at), then
 * POST {baseUrl}/v1/connectors/{id}/sync with {"force": ...}, then every
 * second GET the connector again until its completion is later than the one
 * read before the sync. The sync failed when that completion is failed_at
 * (a connector that failed once and succeeded since is not failing: Kestra's
 * older check of failed_at alone was wrong there). Requests use HTTP basic
 * auth (apiKey:apiSecret) and "Accept: application/json;version=2" as
 * Fivetran's docs ask; they go through util/httpc.h, so security.ssrf
 * applies to baseUrl as to the HTTP tasks. apiKey, apiSecret and the
 * Authorization value are registered as secrets before the first request.
 * An answer of status >= 400 fails the task with Fivetran's code and message
 * ({"code": "AuthFailed", "message": "..."}). No outputs (Kestra's VoidOutput).
 */
#include "tasks/tasks_int.h"

#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static httpc_per_thread clients = HTTPC_PER_THREAD_INIT;

typedef struct ft {
    task_ctx *c;
    char *base;         /* baseUrl without a trailing '/' */
    char *id;           /* connectorId */
    char *key, *secret;
} ft;

/* One line of at most 200 bytes of what Fivetran answered: its "code:
 * message" when the body is Fivetran's error object, else the text. */
static void answer_line(const buf *b, buf *out)
{
    json_t *j = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (code || msg) {
        buf_printf(out, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    } else {
        for (size_t i = 0; i < b->len && i < 200; i++) {
            unsigned char ch = (unsigned char)b->data[i];
            buf_putc(out, ch < 0x20 ? ' ' : (char)ch);
        }
        if (b->len > 200)
            buf_puts(out, "...");
    }
    json_decref(j);
}

/* One request to {base}{path}; *data gets the answer's "data" object (new
 * reference). 0, or -1 with e set ("fivetran: GET <url>: HTTP 401: ..."). */
static int call(ft *f, const char *method, const char *path, const char *body, json_t **data,
                kerr *e)
{
    char *url = xasprintf("%s%s", f->base, path);
    const char *hdrs[] = {"Accept: application/json;version=2",
                          "Content-Type: application/json", NULL};
    httpc_req rq = {
        .method = method,
        .url = url,
        .headers = hdrs,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .basic_user = f->key,
        .basic_password = f->secret,
    };
    httpc_opts o = {.timeout_ms = 60000};
    const char *ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        o.ca_file = ca;
    httpc_resp r = HTTPC_RESP_INIT;
    kerr he = KERR_INIT;
    int rc = -1;
    if (httpc_do(httpc_thread(&clients), &rq, &o, &r, &he)) {
        kerr_set(e, "fivetran: %s", he.msg);
    } else if (r.status >= 400) {
        buf line = BUF_INIT;
        answer_line(&r.body, &line);
        kerr_set(e, "fivetran: %s %s: HTTP %ld%s%s", method, url, r.status, line.len ? ": " : "",
                 buf_str(&line));
        buf_free(&line);
    } else {
        json_t *j = r.body.len ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
        json_t *d = json_object_get(j, "data");
        if (data && !json_is_object(d)) {
            kerr_set(e, "fivetran: %s %s: HTTP %ld: the answer has no \"data\" object", method, url,
                     r.status);
        } else {
            if (data)
                *data = json_incref(d);
            rc = 0;
        }
        json_decref(j);
    }
    httpc_resp_free(&r);
    kerr_clear(&he);
    free(url);
    return rc;
}

/* An instant of the connector (succeeded_at, failed_at), or -1 when absent. */
static int64_t when(const json_t *conn, const char *name)
{
    const char *s = json_string_value(json_object_get(conn, name));
    int64_t us;
    kerr e = KERR_INIT;
    if (!s || datetime_parse(s, NULL, &us, NULL, &e)) {
        kerr_clear(&e);
        return -1;
    }
    return us;
}

/* The connector's last completion (the later of succeeded_at and failed_at,
 * -1 for none); *failed is 1 when it is failed_at. */
static int64_t completed(const json_t *conn, int *failed)
{
    int64_t ok = when(conn, "succeeded_at"), ko = when(conn, "failed_at");
    *failed = ko > ok;
    return ko > ok ? ko : ok;
}

static const char *sync_state(const json_t *conn)
{
    const char *s = json_string_value(json_object_get(json_object_get(conn, "status"), "sync_state"));
    return s ? s : "?";
}

/* What the connector says about its failure: the messages of status.tasks
 * and status.warnings, "; "-separated. */
static void failure_text(const json_t *conn, buf *out)
{
    static const char *const lists[] = {"tasks", "warnings"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(conn, "status"), lists[k]), i, t) {
            const char *m = json_string_value(json_object_get(t, "message"));
            const char *code = json_string_value(json_object_get(t, "code"));
            if (!m && !code)
                continue;
            buf_printf(out, "%s%s%s%s", out->len ? "; " : "", code ? code : "",
                       code && m ? ": " : "", m ? m : "");
        }
    }
}

/* Sleeps ms, checking the cancel flag every 100 ms; 1 when cancelled. */
static int nap(task_ctx *c, long ms)
{
    for (long t = 0; t < ms; t += 100) {
        if (task_cancelled(c))
            return 1;
        usleep(100 * 1000);
    }
    return task_cancelled(c);
}

static task_result sync_run(task_ctx *c, kerr *e)
{
    ft f = {.c = c};
    task_result res = TASK_FAILED;
    json_t *before = NULL, *now = NULL;
    char *auth = NULL, *b64 = NULL, *path = NULL, *spath = NULL;
    int force, wait;
    int64_t max_us;
    if (tasks__prop_required(c, "apiKey", &f.key, e) || tasks__prop_required(c, "apiSecret", &f.secret, e))
        goto out;
    task_secret(c, f.key);
    task_secret(c, f.secret);
    auth = xasprintf("%s:%s", f.key, f.secret);
    b64 = base64_encode(auth, strlen(auth));
    task_secret(c, auth);
    task_secret(c, b64);
    if (tasks__prop_required(c, "connectorId", &f.id, e) ||
        tasks__prop_text(c, "baseUrl", "https://api.fivetran.com", &f.base, e) ||
        task_prop_bool(c, "force", 0, &force, e) || task_prop_bool(c, "wait", 1, &wait, e) ||
        task_prop_duration(c, "maxDuration", 3600LL * 1000000, &max_us, e))
        goto out;
    size_t bl = strlen(f.base);
    while (bl && f.base[bl - 1] == '/')
        f.base[--bl] = '\0';
    if (strncmp(f.base, "https://", 8) && strncmp(f.base, "http://", 7)) {
        kerr_set(e, "property 'baseUrl': '%s' is not an http:// or https:// URL", f.base);
        goto out;
    }
    buf esc = BUF_INIT;
    httpc_escape(f.id, strlen(f.id), &esc);
    path = xasprintf("/v1/connectors/%s", buf_str(&esc));
    spath = xasprintf("/v1/connectors/%s/sync", buf_str(&esc));
    buf_free(&esc);

    if (call(&f, "GET", path, NULL, &before, e))
        goto out;
    int failed;
    int64_t last = completed(before, &failed);
    char body[32];
    snprintf(body, sizeof body, "{\"force\":%s}", force ? "true" : "false");
    if (call(&f, "POST", spath, body, NULL, e))
        goto out;
    task_log(c, LEVEL_INFO, "fivetran: sync of connector '%s' started (force: %s)", f.id,
             force ? "true" : "false");
    if (!wait) {
        res = TASK_SUCCESS;
        goto out;
    }
    int64_t t0 = time_mono_us();
    char state[64] = "";
    for (;;) {
        if (nap(c, 1000)) {
            res = TASK_KILLED;
            goto out;
        }
        json_decref(now);
        now = NULL;
        if (call(&f, "GET", path, NULL, &now, e))
            goto out;
        const char *st = sync_state(now);
        if (strcmp(st, state)) {
            task_log(c, LEVEL_INFO, "fivetran: connector '%s' is %s", f.id, st);
            snprintf(state, sizeof state, "%s", st);
        }
        int64_t done = completed(now, &failed);
        if (done > last)
            break;
        if (time_mono_us() - t0 >= max_us) {
            char d[64];
            duration_format(max_us, d, sizeof d);
            kerr_set(e, "fivetran: the sync of connector '%s' did not end within maxDuration %s "
                     "(sync_state: %s)", f.id, d, st);
            goto out;
        }
    }
    if (failed) {
        buf why = BUF_INIT;
        failure_text(now, &why);
        kerr_set(e, "fivetran: the sync of connector '%s' failed at %s%s%s", f.id,
                 json_string_value(json_object_get(now, "failed_at")), why.len ? ": " : "",
                 buf_str(&why));
        buf_free(&why);
        goto out;
    }
    task_log(c, LEVEL_INFO, "fivetran: sync of connector '%s' succeeded at %s", f.id,
             json_string_value(json_object_get(now, "succeeded_at")));
    res = TASK_SUCCESS;
out:
    json_decref(before);
    json_decref(now);
    free(auth);
    free(b64);
    free(path);
    free(spath);
    free(f.base);
    free(f.id);
    free(f.key);
    free(f.secret);
    return res;
}

static const struct task_hooks sync_hooks = {.run = sync_run};

const type_def tasks__fivetran[] = {
    {
        .name = "fivetran.sync",
        .hooks = &sync_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.fivetran.connectors.Sync"),
        .desc = "Start a sync of a Fivetran connector and, with wait, wait for it to end (fails with Fivetran's message when it failed).",
        .props = PROPS(PSTR("apiKey", PF_REQUIRED, NULL, "the Fivetran API key (masked in logs)"),
                       PSTR("apiSecret", PF_REQUIRED, NULL, "the Fivetran API secret (masked in logs)"),
                       PSTR("connectorId", PF_REQUIRED, NULL, "the connector to sync"),
                       PBOOL("force", 0, "false", "stop a running sync and start again"),
                       PBOOL("wait", 0, "true", "wait for the sync to end"),
                       PDUR("maxDuration", 0, "\"PT1H\"", "how long to wait at most"),
                       PSTR("baseUrl", 0, "\"https://api.fivetran.com\"", "the API's base URL"),
                       PMAP("options", 0, NULL, &tasks__item_any,
                            "Kestra's HTTP client options: accepted, not used")),
    },
};
const size_t tasks__fivetran_count = sizeof tasks__fivetran / sizeof tasks__fivetran[0];
