/*
 * notify.c: the notify family: alerts to chat, paging and SMS services over
 * HTTP (Kestra's plugin-notifications: Slack, Microsoft Teams, Google Chat,
 * Discord, Telegram, LINE, Twilio, PagerDuty, Opsgenie, Zulip, SendGrid,
 * Squadcast, WhatsApp, Sentry, Zenduty, X, Facebook Messenger),
 * and the table of the whole family, whose mail
 * types (MailSend, MailExecution) run in notify_mail.c.
 *
 * Each service has an "...IncomingWebhook" (or Send, Alert) task that posts
 * what the flow gives and an "...Execution" task that describes an
 * execution (notify__exec_load: read from the store through the task's
 * context, never from the engine), shaped as Kestra's templates shape it.
 *
 * DESIGN
 * All requests go through util/httpc.h, one client per worker thread (kept
 * in a thread-specific slot), so a worker sending many alerts to one host
 * keeps one connection. Before a request the URL's tokens (path segments
 * that do not read as words, the query) and every token property are
 * registered as secrets, so neither this task's lines nor a later task's
 * show them; messages name the target with those parts masked:
 *   slack: POST https://hooks.slack.com/services/(masked): connect: Connection refused
 * A transport error or an HTTP status >= 400 fails the task (the engine
 * applies `retry`); the status line names the service's answer, cut to one
 * line of at most 200 bytes.
 */
#include "tasks/notify_int.h"

#include "util/base64.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mask.h"
#include "util/mem.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- masking URLs ------------------------------------------------------------------ */

/* A path segment that reads as a word: at most 3 characters, or at most 20
 * with no digit and no two capitals in a row ("services", "sendMessage",
 * "IncomingWebhook"; not "T0123", "XXXXXXXX" nor "abcdefTOKEN"). */
static int word_segment(const char *s, size_t n)
{
    if (n <= 3)
        return 1;
    if (n > 20)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i]))
            return 0;
        if (i && isupper((unsigned char)s[i]) && isupper((unsigned char)s[i - 1]))
            return 0;
    }
    return 1;
}

void notify__mask_url(task_ctx *c, const char *url, buf *out)
{
    int masked = 0;
    const char *p = strstr(url, "://");
    if (!p) {
        buf_puts(out, MASK_TEXT);
        return;
    }
    p += 3;
    buf_append(out, url, (size_t)(p - url));
    const char *auth_end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(auth_end - p));
    if (at)
        p = at + 1;
    buf_append(out, p, (size_t)(auth_end - p));
    p = auth_end;
    while (*p == '/') {
        p++;
        size_t n = strcspn(p, "/?#");
        buf_putc(out, '/');
        if (word_segment(p, n)) {
            buf_append(out, p, n);
        } else {
            buf_puts(out, MASK_TEXT);
            masked = 1;
            if (c) {
                char *seg = xstrndup(p, n);
                task_secret(c, seg);
                free(seg);
            }
        }
        p += n;
    }
    if (*p == '?') {
        buf_puts(out, "?" MASK_TEXT);
        masked = 1;
        if (c) {
            char *q = xstrndup(p + 1, strcspn(p + 1, "#"));
            task_secret(c, q);
            free(q);
        }
    }
    /* a URL with a token is a secret as a whole too (a task may print it) */
    if (c && masked)
        task_secret(c, url);
}

/* ---- one HTTP client per worker thread -------------------------------------------- */

static httpc_per_thread clients = HTTPC_PER_THREAD_INIT;

/* This thread's client (made on first use, freed when the thread ends). */
static httpc *thread_client(void)
{
    return httpc_thread(&clients);
}

/* ---- posting --------------------------------------------------------------------------- */

typedef struct post {
    const char *service;      /* "slack", ... for messages */
    const char *method;       /* NULL: POST */
    const char *url;
    const char *content_type; /* NULL: application/json */
    const char *body;
    size_t body_len;
    const char *auth_header;  /* "Authorization: ..." or NULL */
    const char *basic_user, *basic_password;
    const char *bearer;
    json_t *extra_headers;    /* object name -> value, or NULL */
    buf *answer;              /* when not NULL, receives the body answered */
} post;

/* The task's `options` (Kestra's AbstractHttpOptionsTask): connectTimeout,
 * readTimeout (default 10 s, the whole request here), readIdleTimeout,
 * headers. */
static int read_options(task_ctx *c, httpc_opts *o, json_t **headers, kerr *e)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = 10000;
    /* a CA bundle of one's own, as OpenSSL's tools take it */
    const char *ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        o->ca_file = ca;
    *headers = NULL;
    json_t *opt;
    if (task_prop(c, "options", &opt, e))
        return -1;
    if (!opt)
        return 0;
    if (!json_is_object(opt)) {
        json_decref(opt);
        return kerr_set(e, "property 'options' must be a map");
    }
    static const struct {
        const char *name;
        int which;
    } durs[] = {{"connectTimeout", 0}, {"readTimeout", 1}, {"readIdleTimeout", 2}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        json_t *v = json_object_get(opt, durs[i].name);
        if (!v || json_is_null(v))
            continue;
        int64_t us;
        if (json_is_string(v)) {
            if (duration_parse(json_string_value(v), &us, e)) {
                kerr_prefix(e, "property 'options.%s'", durs[i].name);
                json_decref(opt);
                return -1;
            }
        } else if (json_is_number(v)) {
            us = (int64_t)(json_number_value(v) * 1e6);
        } else {
            json_decref(opt);
            return kerr_set(e, "property 'options.%s' must be a duration such as PT10S", durs[i].name);
        }
        long ms = (long)(us / 1000);
        if (ms < 1)
            ms = 1;
        if (durs[i].which == 0)
            o->connect_timeout_ms = ms;
        else if (durs[i].which == 1)
            o->timeout_ms = ms;
        else
            o->idle_timeout_ms = ms;
    }
    json_t *h = json_object_get(opt, "headers");
    if (json_is_object(h))
        *headers = json_incref(h);
    else if (h && !json_is_null(h)) {
        json_decref(opt);
        return kerr_set(e, "property 'options.headers' must be a map of strings");
    }
    json_decref(opt);
    return 0;
}

/* One line of at most 200 bytes of an answer body, for messages. */
static void answer_line(const buf *b, buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len && n < 200; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        buf_putc(out, ch < 0x20 ? ' ' : (char)ch);
        n++;
    }
    if (b->len > 200)
        buf_puts(out, "...");
}

static task_result do_post(task_ctx *c, const post *p, kerr *e)
{
    httpc_opts o;
    json_t *opt_headers;
    if (read_options(c, &o, &opt_headers, e))
        return TASK_FAILED;
    buf target = BUF_INIT;
    notify__mask_url(c, p->url, &target);
    task_secret(c, p->bearer);
    task_secret(c, p->basic_password);
    if (p->auth_header)
        task_secret(c, strchr(p->auth_header, ':') + 2);
    const char *method = p->method ? p->method : "POST";

    const char *hdrs[64];
    char *owned[64];
    size_t nh = 0, no = 0;
    owned[no++] = xasprintf("Content-Type: %s", p->content_type ? p->content_type
                                                                 : "application/json");
    hdrs[nh++] = owned[no - 1];
    if (p->auth_header)
        hdrs[nh++] = p->auth_header;
    json_t *sets[2] = {opt_headers, p->extra_headers};
    for (int k = 0; k < 2; k++) {
        const char *name;
        json_t *v;
        json_object_foreach(sets[k], name, v) {
            if (nh >= 60)
                break;
            if (!json_is_string(v))
                continue;
            owned[no++] = xasprintf("%s: %s", name, json_string_value(v));
            hdrs[nh++] = owned[no - 1];
        }
    }
    hdrs[nh] = NULL;

    httpc_req rq = {
        .method = method,
        .url = p->url,
        .headers = hdrs,
        .body = p->body,
        .body_len = p->body_len,
        .basic_user = p->basic_user,
        .basic_password = p->basic_password,
        .bearer = p->bearer,
    };
    httpc_resp r = HTTPC_RESP_INIT;
    kerr he = KERR_INIT;
    task_result res = TASK_SUCCESS;
    int rc = httpc_do(thread_client(), &rq, &o, &r, &he);
    if (rc) {
        /* httpc names the URL without its password; say it with its tokens
         * masked, and keep the cause */
        buf red = BUF_INIT;
        httpc_redact_url(p->url, &red);
        const char *cause = he.msg;
        size_t pre = strlen(method) + 1 + red.len;
        if (!strncmp(he.msg, method, strlen(method)) && he.msg[strlen(method)] == ' ' &&
            !strncmp(he.msg + strlen(method) + 1, buf_str(&red), red.len) &&
            !strncmp(he.msg + pre, ": ", 2))
            cause = he.msg + pre + 2;
        kerr_set(e, "%s: %s %s: %s", p->service, method, buf_str(&target), cause);
        buf_free(&red);
        res = TASK_FAILED;
    } else if (r.status >= 400) {
        buf line = BUF_INIT;
        answer_line(&r.body, &line);
        kerr_set(e, "%s: %s %s: HTTP %ld%s%s", p->service, method, buf_str(&target), r.status,
                 line.len ? ": " : "", buf_str(&line));
        buf_free(&line);
        res = TASK_FAILED;
    } else {
        task_log(c, LEVEL_INFO, "%s: %s %s: HTTP %ld", p->service, method, buf_str(&target), r.status);
        if (p->answer) {
            buf_reset(p->answer);
            buf_append(p->answer, r.body.data ? r.body.data : "", r.body.len);
        }
    }
    httpc_resp_free(&r);
    kerr_clear(&he);
    for (size_t i = 0; i < no; i++)
        free(owned[i]);
    json_decref(opt_headers);
    buf_free(&target);
    return res;
}

static task_result post_json(task_ctx *c, const char *service, const char *url, const json_t *body,
                             const char *auth_header, kerr *e)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    post p = {.service = service, .url = url, .body = text, .body_len = strlen(text),
              .auth_header = auth_header};
    task_result r = do_post(c, &p, e);
    free(text);
    return r;
}

/* ---- reading properties ------------------------------------------------------------ */

/* A required string property. */
static int req_string(task_ctx *c, const char *name, char **out, kerr *e)
{
    return tasks__prop_required(c, name, out, e);
}

/* An optional string property: NULL when absent or empty. */
static int opt_string(task_ctx *c, const char *name, char **out, kerr *e)
{
    if (tasks__prop_text(c, name, NULL, out, e))
        return -1;
    if (*out && !**out) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

/* `payload`: JSON text (as Kestra takes it) or a map written in YAML; the
 * parsed value, or NULL with e naming the property. */
static json_t *payload_json(task_ctx *c, const char *name, int required, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return NULL;
    if (!v) {
        if (required)
            kerr_set(e, "property '%s' is required", name);
        return NULL;
    }
    if (!json_is_string(v))
        return v;
    json_error_t je;
    json_t *parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, &je);
    json_decref(v);
    if (!parsed)
        kerr_set(e, "property '%s': not valid JSON: %s at line %d column %d", name, je.text,
                 je.line, je.column);
    return parsed;
}

/* ---- the execution view (Kestra's ExecutionService.executionMap) ------------------- */

static void human_duration(int64_t us, char *out, size_t n)
{
    if (us < 0)
        us = 0;
    int64_t ms = us / 1000;
    snprintf(out, n, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
             (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
}

void notify__exec_free(notify_exec *x)
{
    free(x->id);
    free(x->namespace);
    free(x->flow_id);
    free(x->state);
    free(x->link);
    free(x->failed_task);
    free(x->last_task);
    free(x->custom_message);
    json_decref(x->error_lines);
    json_decref(x->custom_fields);
    memset(x, 0, sizeof *x);
}

int notify__exec_load(task_ctx *c, notify_exec *x, kerr *e)
{
    memset(x, 0, sizeof *x);
    char *id;
    if (opt_string(c, "executionId", &id, e))
        return -1;
    if (!id)
        id = xstrdup(c->execution_id);
    int current = !strcmp(id, c->execution_id);
    if (!c->store) {
        kerr_set(e, "no store to read execution '%s' from", id);
        free(id);
        return -1;
    }
    store_execution ex;
    memset(&ex, 0, sizeof ex);
    int64_t until = time_mono_us() + 60 * 1000000LL;
    for (;;) {
        kerr se = KERR_INIT;
        if (store_execution_get(c->store, id, &ex, &se)) {
            kerr_set(e, "execution '%s': %s", id, se.msg);
            kerr_clear(&se);
            free(id);
            return -1;
        }
        if (current || store_state_is_terminated(ex.state) || time_mono_us() >= until ||
            task_cancelled(c))
            break;
        store_execution_clear(&ex);
        usleep(100000);
    }
    x->id = id;
    x->namespace = xstrdup(ex.namespace);
    x->flow_id = xstrdup(ex.flow_id);
    x->start_us = ex.start_us ? ex.start_us : ex.created_us;
    int64_t end = ex.end_us && store_state_is_terminated(ex.state) ? ex.end_us : time_now_us();
    human_duration(end - x->start_us, x->duration, sizeof x->duration);
    const char *base = getenv("KITE_URL");
    if (base && *base) {
        size_t n = strlen(base);
        while (n && base[n - 1] == '/')
            n--;
        x->link = xasprintf("%.*s/api/v1/executions/%s", (int)n, base, id);
    }

    store_task_run *runs = NULL;
    size_t nruns = 0;
    kerr se = KERR_INIT;
    if (store_task_run_list(c->store, id, &runs, &nruns, &se)) {
        kerr_set(e, "execution '%s': task runs: %s", id, se.msg);
        kerr_clear(&se);
        store_execution_clear(&ex);
        notify__exec_free(x);
        return -1;
    }
    const store_task_run *failed = NULL;
    for (size_t i = 0; i < nruns; i++) {
        const store_task_run *t = &runs[i];
        if (c->taskrun_id && !strcmp(t->id, c->taskrun_id))
            continue;
        free(x->last_task);
        x->last_task = xstrdup(t->task_id);
        if (t->state != STATE_FAILED || failed)
            continue;
        /* the deepest failed run: a flowable fails with its child */
        int has_failed_child = 0;
        for (size_t j = 0; j < nruns; j++)
            if (runs[j].state == STATE_FAILED && runs[j].parent_task_run_id &&
                !strcmp(runs[j].parent_task_run_id, t->id))
                has_failed_child = 1;
        if (!has_failed_child)
            failed = t;
    }
    const char *st = store_state_name(ex.state);
    if (current && !store_state_is_terminated(ex.state) && failed)
        st = "FAILED";
    x->state = xstrdup(st);
    x->error_lines = json_array();
    if (failed) {
        x->failed_task = xstrdup(failed->task_id);
        store_log_query q = {.execution_id = id, .task_run_id = failed->id, .min_level = LEVEL_WARN};
        store_log *logs = NULL;
        size_t nlogs = 0;
        if (!store_log_search(c->store, &q, &logs, &nlogs, NULL, &se)) {
            for (size_t i = nlogs > 5 ? nlogs - 5 : 0; i < nlogs; i++) {
                const char *m = logs[i].message;
                size_t n = strcspn(m, "\n");
                if (n > 300)
                    n = 300;
                json_array_append_new(x->error_lines, json_stringn(m, n));
            }
            store_logs_free(logs, nlogs);
        }
        kerr_clear(&se);
    }
    store_task_runs_free(runs, nruns);
    store_execution_clear(&ex);

    if (opt_string(c, "customMessage", &x->custom_message, e)) {
        notify__exec_free(x);
        return -1;
    }
    json_t *cf;
    if (task_prop(c, "customFields", &cf, e)) {
        notify__exec_free(x);
        return -1;
    }
    if (cf && !json_is_object(cf)) {
        json_decref(cf);
        notify__exec_free(x);
        return kerr_set(e, "property 'customFields' must be a map");
    }
    if (cf && json_object_size(cf) == 0) {
        json_decref(cf);
        cf = NULL;
    }
    x->custom_fields = cf;
    return 0;
}

void notify__exec_title(const notify_exec *x, buf *out)
{
    buf_printf(out, "[%s] %s \xe2\x9e\x9b %s", x->namespace, x->flow_id, x->state);
}

void notify__exec_status(const notify_exec *x, buf *out)
{
    if (x->failed_task)
        buf_printf(out, "Failed on task `%s` after %s", x->failed_task, x->duration);
    else
        buf_printf(out, "Succeeded after %s", x->duration);
}

/* A field's value as text. */
static void value_text(const json_t *v, buf *out)
{
    if (json_is_string(v)) {
        buf_puts(out, json_string_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        buf_puts(out, t ? t : "");
        free(t);
    }
}

void notify__exec_text(const notify_exec *x, buf *out)
{
    notify__exec_title(x, out);
    buf_puts(out, "\n");
    notify__exec_status(x, out);
    buf_printf(out, "\nExecution: %s\n", x->id);
    size_t i;
    json_t *l;
    json_array_foreach(x->error_lines, i, l)
        buf_printf(out, "> %s\n", json_string_value(l));
    if (x->custom_message)
        buf_printf(out, "%s\n", x->custom_message);
    const char *k;
    json_t *v;
    json_object_foreach(x->custom_fields, k, v) {
        buf_printf(out, "%s: ", k);
        value_text(v, out);
        buf_putc(out, '\n');
    }
    if (x->link)
        buf_printf(out, "%s\n", x->link);
}

static void html_esc(const char *s, buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(out, "&lt;"); break;
        case '>': buf_puts(out, "&gt;"); break;
        case '&': buf_puts(out, "&amp;"); break;
        case '"': buf_puts(out, "&quot;"); break;
        default: buf_putc(out, *s);
        }
    }
}

void notify__exec_html(const notify_exec *x, buf *out)
{
    buf t = BUF_INIT;
    notify__exec_title(x, &t);
    buf_puts(out, "<html><body><h2>");
    html_esc(buf_str(&t), out);
    buf_puts(out, "</h2>\n<p>");
    buf_reset(&t);
    notify__exec_status(x, &t);
    html_esc(buf_str(&t), out);
    buf_free(&t);
    buf_puts(out, "</p>\n<table>\n");
    const char *rows[][2] = {{"Namespace", x->namespace}, {"Flow ID", x->flow_id},
                             {"Execution ID", x->id}, {"Execution Status", x->state},
                             {"Duration", x->duration}, {"Final task ID", x->last_task}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        buf_puts(out, "<tr><th>");
        html_esc(rows[i][0], out);
        buf_puts(out, "</th><td>");
        html_esc(rows[i][1] ? rows[i][1] : "", out);
        buf_puts(out, "</td></tr>\n");
    }
    const char *k;
    json_t *v;
    json_object_foreach(x->custom_fields, k, v) {
        buf vt = BUF_INIT;
        value_text(v, &vt);
        buf_puts(out, "<tr><th>");
        html_esc(k, out);
        buf_puts(out, "</th><td>");
        html_esc(buf_str(&vt), out);
        buf_puts(out, "</td></tr>\n");
        buf_free(&vt);
    }
    buf_puts(out, "</table>\n");
    if (json_array_size(x->error_lines)) {
        buf_puts(out, "<pre>");
        size_t i;
        json_t *l;
        json_array_foreach(x->error_lines, i, l) {
            html_esc(json_string_value(l), out);
            buf_putc(out, '\n');
        }
        buf_puts(out, "</pre>\n");
    }
    if (x->custom_message) {
        buf_puts(out, "<p>");
        html_esc(x->custom_message, out);
        buf_puts(out, "</p>\n");
    }
    if (x->link) {
        buf_puts(out, "<p><a href=\"");
        html_esc(x->link, out);
        buf_puts(out, "\">Details</a></p>\n");
    }
    buf_puts(out, "</body></html>\n");
}

/* The error lines as one text, "" when none. */
static void error_text(const notify_exec *x, const char *prefix, buf *out)
{
    size_t i;
    json_t *l;
    json_array_foreach(x->error_lines, i, l)
        buf_printf(out, "\n%s%s", prefix, json_string_value(l));
}

/* ---- Slack (and Zulip, whose template is Slack's) ----------------------------------- */

/* Kestra's toSlackMrkdwn, the common cases: **b** -> *b*, [t](u) -> <u|t>. */
static void slack_mrkdwn(const char *s, buf *out)
{
    while (*s) {
        if (s[0] == '*' && s[1] == '*') {
            const char *end = strstr(s + 2, "**");
            if (end) {
                buf_putc(out, '*');
                buf_append(out, s + 2, (size_t)(end - s - 2));
                buf_putc(out, '*');
                s = end + 2;
                continue;
            }
        }
        if (s[0] == '[') {
            const char *rb = strchr(s, ']');
            if (rb && rb[1] == '(') {
                const char *rp = strchr(rb + 2, ')');
                if (rp && !memchr(s, '\n', (size_t)(rp - s))) {
                    buf_putc(out, '<');
                    buf_append(out, rb + 2, (size_t)(rp - rb - 2));
                    buf_putc(out, '|');
                    buf_append(out, s + 1, (size_t)(rb - s - 1));
                    buf_putc(out, '>');
                    s = rp + 1;
                    continue;
                }
            }
        }
        buf_putc(out, *s++);
    }
}

static task_result slack_webhook_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *text = NULL;
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e))
        goto out;
    json_t *has;
    if (task_prop(c, "payload", &has, e))
        goto out;
    if (has) {
        json_decref(has);
        if (!(body = payload_json(c, "payload", 1, e)))
            goto out;
    } else {
        if (opt_string(c, "messageText", &text, e))
            goto out;
        if (!text) {
            kerr_set(e, "either 'messageText' or 'payload' must be given");
            goto out;
        }
        body = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!json_is_object(body)) {
            json_decref(body);
            buf m = BUF_INIT;
            slack_mrkdwn(text, &m);
            body = json_pack("{s:s}", "text", buf_str(&m));
            buf_free(&m);
        }
    }
    r = post_json(c, "slack", url, body, NULL, e);
out:
    free(url);
    free(text);
    json_decref(body);
    return r;
}

/* The Slack template's message (slack-template.peb), for Slack and Zulip. */
static json_t *slack_exec_body(const notify_exec *x)
{
    buf title = BUF_INIT, head = BUF_INIT;
    buf_putc(&title, '*');
    if (x->link)
        buf_printf(&title, "<%s|", x->link);
    notify__exec_title(x, &title);
    if (x->link)
        buf_putc(&title, '>');
    buf_putc(&title, '*');
    buf_printf(&head, "%s\n> ", buf_str(&title));
    notify__exec_status(x, &head);
    error_text(x, "> ", &head);

    json_t *blocks = json_array();
    if (x->custom_message)
        json_array_append_new(blocks, json_pack("{s:s,s:{s:s,s:s}}", "type", "section", "text",
                                                "type", "mrkdwn", "text", x->custom_message));
    json_t *sec = json_pack("{s:s,s:{s:s,s:s}}", "type", "section", "text", "type", "mrkdwn",
                            "text", buf_str(&head));
    if (x->link)
        json_object_set_new(sec, "accessory",
                            json_pack("{s:s,s:{s:s,s:s},s:s}", "type", "button", "text", "type",
                                      "plain_text", "text", "Details", "url", x->link));
    json_array_append_new(blocks, sec);

    json_t *fields = json_array();
#define FIELD(t, v) json_array_append_new(fields, json_pack("{s:s,s:O,s:b}", "title", t, "value", v, "short", 1))
    json_t *tmp;
    FIELD("Namespace", tmp = json_string(x->namespace));
    json_decref(tmp);
    FIELD("Flow ID", tmp = json_string(x->flow_id));
    json_decref(tmp);
    FIELD("Execution ID", tmp = json_string(x->id));
    json_decref(tmp);
    FIELD("Execution Status", tmp = json_string(x->state));
    json_decref(tmp);
    const char *k;
    json_t *v;
    json_object_foreach(x->custom_fields, k, v)
        FIELD(k, v);
    FIELD("Final task ID", tmp = x->last_task ? json_string(x->last_task) : json_null());
    json_decref(tmp);
#undef FIELD
    const char *color = !strcmp(x->state, "SUCCESS")   ? "good"
                        : !strcmp(x->state, "WARNING") ? "warning"
                                                       : "danger";
    json_t *att = json_pack("[{s:s,s:o,s:I}]", "color", color, "fields", fields, "ts",
                            (json_int_t)(x->start_us / 1000000));
    json_t *body = json_pack("{s:s,s:o,s:o}", "text", buf_str(&head), "blocks", blocks,
                             "attachments", att);
    buf_free(&title);
    buf_free(&head);
    return body;
}

/* channel, username, iconUrl, iconEmoji as Slack's fields */
static int slack_extras(task_ctx *c, json_t *body, kerr *e)
{
    static const char *const props[][2] = {
        {"channel", "channel"}, {"username", "username"}, {"iconUrl", "icon_url"}, {"iconEmoji", "icon_emoji"}};
    for (size_t i = 0; i < 4; i++) {
        char *v;
        if (opt_string(c, props[i][0], &v, e))
            return -1;
        if (v)
            json_object_set_new(body, props[i][1], json_string(v));
        free(v);
    }
    return 0;
}

static task_result chat_exec_run(task_ctx *c, kerr *e, const char *service)
{
    char *url = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || notify__exec_load(c, &x, e))
        goto out;
    body = slack_exec_body(&x);
    if (slack_extras(c, body, e))
        goto out;
    r = post_json(c, service, url, body, NULL, e);
out:
    free(url);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

static task_result slack_exec_run(task_ctx *c, kerr *e)
{
    return chat_exec_run(c, e, "slack");
}

static task_result zulip_exec_run(task_ctx *c, kerr *e)
{
    return chat_exec_run(c, e, "zulip");
}

/* ---- the services whose webhook takes the flow's JSON as is ------------------------ */

static task_result json_webhook(task_ctx *c, kerr *e, const char *service, const char *auth_prop)
{
    char *url = NULL, *auth = NULL, *hdr = NULL;
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || !(body = payload_json(c, "payload", 1, e)))
        goto out;
    if (auth_prop) {
        if (opt_string(c, auth_prop, &auth, e))
            goto out;
        if (auth)
            hdr = xasprintf("Authorization: %s", auth);
    }
    r = post_json(c, service, url, body, hdr, e);
out:
    free(url);
    free(auth);
    free(hdr);
    json_decref(body);
    return r;
}

static task_result teams_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "teams", NULL); }
static task_result gchat_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "google chat", NULL); }
static task_result discord_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "discord", NULL); }
static task_result zulip_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "zulip", NULL); }
static task_result pagerduty_alert_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "pagerduty", NULL); }
static task_result opsgenie_alert_run(task_ctx *c, kerr *e)
{
    return json_webhook(c, e, "opsgenie", "authorizationToken");
}

/* ---- Teams, Google Chat, Discord ...Execution ---------------------------------------- */

static task_result teams_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *color = NULL, *title = NULL, *sub = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || tasks__prop_text(c, "themeColor", "0076D7", &color, e) ||
        opt_string(c, "activityTitle", &title, e) || opt_string(c, "activitySubtitle", &sub, e) ||
        notify__exec_load(c, &x, e))
        goto out;
    buf sum = BUF_INIT;
    buf_puts(&sum, "*");
    if (x.link)
        buf_printf(&sum, "<%s|", x.link);
    notify__exec_title(&x, &sum);
    buf_puts(&sum, x.link ? ">*\n> " : "*\n> ");
    notify__exec_status(&x, &sum);
    error_text(&x, "> ", &sum);
    json_t *facts = json_array();
#define FACT(n, v) json_array_append_new(facts, json_pack("{s:s,s:s}", "name", n, "value", v))
    FACT("Namespace", x.namespace);
    FACT("Flow ID", x.flow_id);
    FACT("Execution ID", x.id);
    FACT("Execution Status", x.state);
    FACT("Final task ID", x.last_task ? x.last_task : "");
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v) {
        buf t = BUF_INIT;
        value_text(v, &t);
        FACT(k, buf_str(&t));
        buf_free(&t);
    }
#undef FACT
    json_t *sec = json_pack("{s:o,s:b}", "facts", facts, "markdown", 1);
    if (title)
        json_object_set_new(sec, "activityTitle", json_string(title));
    if (sub)
        json_object_set_new(sec, "activitySubtitle", json_string(sub));
    if (x.custom_message)
        json_object_set_new(sec, "text", json_string(x.custom_message));
    body = json_pack("{s:s,s:s,s:s,s:s,s:[o]}", "@type", "MessageCard", "@context",
                     "http://schema.org/extensions", "themeColor", color, "summary", buf_str(&sum),
                     "sections", sec);
    if (x.link)
        json_object_set_new(body, "potentialAction",
                            json_pack("[{s:s,s:s,s:[{s:s,s:s}]}]", "@type", "OpenUri", "name",
                                      "Details", "targets", "os", "default", "uri", x.link));
    buf_free(&sum);
    r = post_json(c, "teams", url, body, NULL, e);
out:
    free(url);
    free(color);
    free(title);
    free(sub);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

static task_result gchat_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *text = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || opt_string(c, "text", &text, e) ||
        notify__exec_load(c, &x, e))
        goto out;
    buf t = BUF_INIT;
    if (text)
        buf_printf(&t, "%s\n", text);
    buf_printf(&t, "Namespace %s, Flow ID %s, Execution ID %s, Execution Status %s, Final task ID %s. *",
               x.namespace, x.flow_id, x.id, x.state, x.last_task ? x.last_task : "");
    if (x.link)
        buf_printf(&t, "<%s|", x.link);
    notify__exec_title(&x, &t);
    buf_puts(&t, x.link ? ">*\n> " : "*\n> ");
    notify__exec_status(&x, &t);
    error_text(&x, "> ", &t);
    if (x.custom_message)
        buf_printf(&t, "\n%s", x.custom_message);
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v) {
        buf_printf(&t, "\n%s: ", k);
        value_text(v, &t);
    }
    body = json_pack("{s:s}", "text", buf_str(&t));
    buf_free(&t);
    r = post_json(c, "google chat", url, body, NULL, e);
out:
    free(url);
    free(text);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

static task_result discord_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *user = NULL, *avatar = NULL, *content = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || opt_string(c, "username", &user, e) ||
        opt_string(c, "avatarUrl", &avatar, e) || opt_string(c, "content", &content, e) ||
        notify__exec_load(c, &x, e))
        goto out;
    buf d = BUF_INIT, f = BUF_INIT;
    buf_printf(&d, "Namespace: %s\nFlow ID: %s\nExecution ID: %s\nExecution Status: %s\nFinal task ID: %s",
               x.namespace, x.flow_id, x.id, x.state, x.last_task ? x.last_task : "");
    error_text(&x, "> ", &d);
    if (x.custom_message)
        buf_printf(&d, "\n\n%s", x.custom_message);
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v) {
        buf_printf(&d, "\n%s: ", k);
        value_text(v, &d);
    }
    if (x.link)
        buf_printf(&d, "\n\n[Link to the Execution page](%s)", x.link);
    notify__exec_status(&x, &f);
    buf title = BUF_INIT;
    notify__exec_title(&x, &title);
    json_t *embed = json_pack("{s:s,s:s,s:{s:s}}", "title", buf_str(&title), "description",
                              buf_str(&d), "footer", "text", buf_str(&f));
    if (x.link)
        json_object_set_new(embed, "url", json_string(x.link));
    body = json_pack("{s:[o]}", "embeds", embed);
    if (user)
        json_object_set_new(body, "username", json_string(user));
    if (avatar)
        json_object_set_new(body, "avatar_url", json_string(avatar));
    if (content)
        json_object_set_new(body, "content", json_sprintf("%s %s", content, x.id));
    buf_free(&d);
    buf_free(&f);
    buf_free(&title);
    r = post_json(c, "discord", url, body, NULL, e);
out:
    free(url);
    free(user);
    free(avatar);
    free(content);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

/* ---- Telegram ---------------------------------------------------------------------------- */

static task_result telegram_send(task_ctx *c, const char *text, kerr *e)
{
    char *token = NULL, *chan = NULL, *mode = NULL, *base = NULL, *url = NULL;
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "token", &token, e) || req_string(c, "channel", &chan, e) ||
        opt_string(c, "parseMode", &mode, e) ||
        tasks__prop_text(c, "endpointOverride", "https://api.telegram.org", &base, e))
        goto out;
    task_secret(c, token);
    url = xasprintf("%s/bot%s/sendMessage", base, token);
    body = json_pack("{s:s,s:s}", "chat_id", chan, "text", text);
    if (mode)
        json_object_set_new(body, "parse_mode", json_string(mode));
    char *t = json_dumps(body, JSON_COMPACT);
    buf answer = BUF_INIT;
    post p = {.service = "telegram", .url = url, .body = t, .body_len = strlen(t), .answer = &answer};
    r = do_post(c, &p, e);
    free(t);
    if (r == TASK_SUCCESS) {
        json_t *a = json_loads(buf_str(&answer), 0, NULL);
        if (!json_is_true(json_object_get(a, "ok"))) {
            buf m = BUF_INIT;
            notify__mask_url(c, url, &m);
            buf line = BUF_INIT;
            answer_line(&answer, &line);
            kerr_set(e, "telegram: POST %s: the answer is not {\"ok\": true}: %s", buf_str(&m),
                     buf_str(&line));
            buf_free(&m);
            buf_free(&line);
            r = TASK_FAILED;
        }
        json_decref(a);
    }
    buf_free(&answer);
out:
    free(token);
    free(chan);
    free(mode);
    free(base);
    free(url);
    json_decref(body);
    return r;
}

static task_result telegram_send_run(task_ctx *c, kerr *e)
{
    char *text;
    if (req_string(c, "payload", &text, e))
        return TASK_FAILED;
    task_result r = telegram_send(c, text, e);
    free(text);
    return r;
}

static task_result telegram_exec_run(task_ctx *c, kerr *e)
{
    notify_exec x;
    if (notify__exec_load(c, &x, e))
        return TASK_FAILED;
    buf t = BUF_INIT;
    buf_printf(&t, "<%s %s %s \xe2\x9e\x9b %s - Final task ID \xe2\x9e\x9b %s> ", x.namespace,
               x.flow_id, x.id, x.state, x.last_task ? x.last_task : "");
    notify__exec_status(&x, &t);
    if (x.link)
        buf_printf(&t, " (%s)", x.link);
    error_text(&x, "> ", &t);
    if (x.custom_message)
        buf_printf(&t, "\n%s", x.custom_message);
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v) {
        buf_printf(&t, "\n%s: ", k);
        value_text(v, &t);
    }
    task_result r = telegram_send(c, buf_str(&t), e);
    buf_free(&t);
    notify__exec_free(&x);
    return r;
}

/* ---- LINE (LineExecution: the Messaging API's broadcast) ---------------------------- */

static task_result line_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *token = NULL, *text = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (tasks__prop_text(c, "url", "https://api.line.me/v2/bot/message/broadcast", &url, e) ||
        req_string(c, "channelAccessToken", &token, e) || opt_string(c, "textBody", &text, e))
        goto out;
    buf t = BUF_INIT;
    if (text) {
        buf_puts(&t, text);
    } else {
        if (notify__exec_load(c, &x, e))
            goto out;
        buf_printf(&t, "Execution %s\n\nDetails:\n- ID: %s\n- Namespace: %s\n- Flow: %s\n- Duration: %s\n",
                   x.state, x.id, x.namespace, x.flow_id, x.duration);
        if (x.failed_task)
            buf_printf(&t, "- Failed Task: %s\n", x.failed_task);
        error_text(&x, "  > ", &t);
        if (x.custom_message)
            buf_printf(&t, "\n%s\n", x.custom_message);
        const char *k;
        json_t *v;
        json_object_foreach(x.custom_fields, k, v) {
            buf_printf(&t, "- %s: ", k);
            value_text(v, &t);
            buf_putc(&t, '\n');
        }
        if (x.link)
            buf_printf(&t, "\nView Execution: %s", x.link);
    }
    body = json_pack("{s:[{s:s,s:s}]}", "messages", "type", "text", "text", buf_str(&t));
    buf_free(&t);
    char *js = json_dumps(body, JSON_COMPACT);
    post p = {.service = "line", .url = url, .body = js, .body_len = strlen(js), .bearer = token};
    r = do_post(c, &p, e);
    free(js);
out:
    free(url);
    free(token);
    free(text);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

/* ---- Twilio (the Notify API: a form, basic auth with the account's SID) ------------ */

static task_result twilio_post(task_ctx *c, const json_t *fields, kerr *e)
{
    char *url = NULL, *sid = NULL, *tok = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || req_string(c, "accountSID", &sid, e) ||
        req_string(c, "authToken", &tok, e))
        goto out;
    buf form = BUF_INIT;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v) {
        buf t = BUF_INIT;
        value_text(v, &t);
        if (form.len)
            buf_putc(&form, '&');
        httpc_escape(k, strlen(k), &form);
        buf_putc(&form, '=');
        httpc_escape(t.data ? t.data : "", t.len, &form);
        buf_free(&t);
    }
    post p = {.service = "twilio", .url = url, .content_type = "application/x-www-form-urlencoded",
              .body = buf_str(&form), .body_len = form.len, .basic_user = sid, .basic_password = tok};
    r = do_post(c, &p, e);
    buf_free(&form);
out:
    free(url);
    free(sid);
    free(tok);
    return r;
}

static task_result twilio_alert_run(task_ctx *c, kerr *e)
{
    json_t *body = payload_json(c, "payload", 1, e);
    if (!body)
        return TASK_FAILED;
    if (!json_is_object(body)) {
        json_decref(body);
        kerr_set(e, "property 'payload' must be a JSON object (its fields are sent as a form)");
        return TASK_FAILED;
    }
    task_result r = twilio_post(c, body, e);
    json_decref(body);
    return r;
}

static task_result twilio_exec_run(task_ctx *c, kerr *e)
{
    char *bodyp = NULL, *identity = NULL, *tag = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *f = json_object();
    task_result r = TASK_FAILED;
    if (opt_string(c, "body", &bodyp, e) || opt_string(c, "identity", &identity, e) ||
        opt_string(c, "tag", &tag, e) || notify__exec_load(c, &x, e))
        goto out;
    buf t = BUF_INIT;
    if (bodyp) {
        buf_puts(&t, bodyp);
    } else {
        buf_printf(&t, "Namespace %s, Flow ID %s, Execution ID %s, Execution Status %s, Final task ID %s. ",
                   x.namespace, x.flow_id, x.id, x.state, x.last_task ? x.last_task : "");
        notify__exec_status(&x, &t);
        error_text(&x, "> ", &t);
        if (x.custom_message)
            buf_printf(&t, "\n%s", x.custom_message);
        if (x.link)
            buf_printf(&t, "\n%s", x.link);
    }
    json_object_set_new(f, "Body", json_string(buf_str(&t)));
    buf_free(&t);
    if (identity)
        json_object_set_new(f, "Identity", json_string(identity));
    if (tag)
        json_object_set_new(f, "Tag", json_string(tag));
    r = twilio_post(c, f, e);
out:
    free(bodyp);
    free(identity);
    free(tag);
    notify__exec_free(&x);
    json_decref(f);
    return r;
}

/* ---- PagerDuty, Opsgenie ...Execution ------------------------------------------------------ */

static task_result pagerduty_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *rk = NULL, *dk = NULL, *ea = NULL, *summary = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (tasks__prop_text(c, "url", "https://events.pagerduty.com/v2/enqueue", &url, e) ||
        opt_string(c, "routingKey", &rk, e) || opt_string(c, "deduplicationKey", &dk, e) ||
        opt_string(c, "eventAction", &ea, e) || opt_string(c, "payloadSummary", &summary, e) ||
        notify__exec_load(c, &x, e))
        goto out;
    task_secret(c, rk);
    buf title = BUF_INIT, st = BUF_INIT;
    notify__exec_title(&x, &title);
    notify__exec_status(&x, &st);
    json_t *details = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:o}]", "title", "Flow ID", "value",
                                x.flow_id, "title", "Execution Status", "value", x.state, "title",
                                "Final task ID", "value",
                                x.last_task ? json_string(x.last_task) : json_null());
    if (json_array_size(x.error_lines))
        json_array_append_new(details, json_pack("{s:s,s:O}", "title", "Errors", "value", x.error_lines));
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v)
        json_array_append_new(details, json_pack("{s:s,s:O}", "title", k, "value", v));
    json_t *payload = json_pack("{s:s,s:o,s:s,s:o}", "summary",
                                summary ? summary : buf_str(&title), "source",
                                json_sprintf("%s %s", x.namespace, x.id), "severity",
                                x.failed_task ? "error" : "info", "custom_details", details);
    body = json_pack("{s:s,s:o}", "event_action",
                     ea ? ea : dk ? "acknowledge" : "trigger", "payload", payload);
    if (rk)
        json_object_set_new(body, "routing_key", json_string(rk));
    if (dk)
        json_object_set_new(body, "dedup_key", json_string(dk));
    if (x.link)
        json_object_set_new(body, "links", json_pack("[{s:s,s:s}]", "href", x.link, "text", buf_str(&st)));
    buf_free(&title);
    buf_free(&st);
    r = post_json(c, "pagerduty", url, body, NULL, e);
out:
    free(url);
    free(rk);
    free(dk);
    free(ea);
    free(summary);
    notify__exec_free(&x);
    json_decref(body);
    return r;
}

/* responders / visibleTo: a map id -> type as Kestra takes it */
static json_t *id_type_list(const json_t *m)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
        json_array_append_new(a, json_pack("{s:s,s:s}", "id", k, "type",
                                           json_is_string(v) ? json_string_value(v) : "team"));
    return a;
}

static task_result opsgenie_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *tok = NULL, *msg = NULL, *alias = NULL, *prio = NULL, *hdr = NULL;
    json_t *resp = NULL, *vis = NULL, *tags = NULL, *body = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (tasks__prop_text(c, "url", "https://api.opsgenie.com/v2/alerts", &url, e) ||
        opt_string(c, "authorizationToken", &tok, e) || opt_string(c, "message", &msg, e) ||
        opt_string(c, "alias", &alias, e) || opt_string(c, "priority", &prio, e) ||
        task_prop(c, "responders", &resp, e) || task_prop(c, "visibleTo", &vis, e) ||
        task_prop(c, "tags", &tags, e) || notify__exec_load(c, &x, e))
        goto out;
    buf d = BUF_INIT, title = BUF_INIT;
    notify__exec_title(&x, &title);
    buf_printf(&d, "%s - Final task ID %s\n> ", buf_str(&title), x.last_task ? x.last_task : "");
    notify__exec_status(&x, &d);
    error_text(&x, "> ", &d);
    if (x.custom_message)
        buf_printf(&d, "\n%s", x.custom_message);
    if (x.link)
        buf_printf(&d, "\n%s", x.link);
    body = json_pack("{s:s,s:s}", "message", msg ? msg : buf_str(&title), "description", buf_str(&d));
    json_t *details = json_pack("{s:s,s:s,s:s,s:s,s:s}", "Namespace", x.namespace, "Flow ID",
                                x.flow_id, "Execution ID", x.id, "Execution Status", x.state,
                                "Final task ID", x.last_task ? x.last_task : "");
    const char *k;
    json_t *v;
    json_object_foreach(x.custom_fields, k, v) {
        buf t = BUF_INIT;
        value_text(v, &t);
        json_object_set_new(details, k, json_string(buf_str(&t)));
        buf_free(&t);
    }
    json_object_set_new(body, "details", details);
    if (alias)
        json_object_set_new(body, "alias", json_string(alias));
    if (prio)
        json_object_set_new(body, "priority", json_string(prio));
    if (json_is_object(resp))
        json_object_set_new(body, "responders", id_type_list(resp));
    if (json_is_object(vis))
        json_object_set_new(body, "visibleTo", id_type_list(vis));
    if (json_is_array(tags))
        json_object_set(body, "tags", tags);
    buf_free(&d);
    buf_free(&title);
    if (tok)
        hdr = xasprintf("Authorization: %s", tok);
    r = post_json(c, "opsgenie", url, body, hdr, e);
out:
    free(url);
    free(tok);
    free(msg);
    free(alias);
    free(prio);
    free(hdr);
    json_decref(resp);
    json_decref(vis);
    json_decref(tags);
    json_decref(body);
    notify__exec_free(&x);
    return r;
}

/* ---- SendGrid (the v3 mail/send API) ------------------------------------------------------ */

/* attachments or embeddedImages: [{uri, name, contentType}] read from storage */
static int sendgrid_files(task_ctx *c, const char *prop, const char *disposition, json_t *out,
                          kerr *e)
{
    json_t *v;
    if (task_prop(c, prop, &v, e))
        return -1;
    if (!v)
        return 0;
    if (!json_is_array(v)) {
        json_decref(v);
        return kerr_set(e, "property '%s' must be a list of {uri, name, contentType}", prop);
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        const char *uri = json_string_value(json_object_get(it, "uri"));
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *ct = json_string_value(json_object_get(it, "contentType"));
        if (!uri || !name) {
            json_decref(v);
            return kerr_set(e, "property '%s[%zu]' needs uri and name", prop, i);
        }
        buf b = BUF_INIT;
        kerr se = KERR_INIT;
        if (storage_read_all(c->storage, uri, 20u << 20, &b, &se)) {
            kerr_set(e, "property '%s[%zu]': %s", prop, i, se.msg);
            kerr_clear(&se);
            buf_free(&b);
            json_decref(v);
            return -1;
        }
        char *b64 = base64_encode(b.data ? b.data : "", b.len);
        json_t *a = json_pack("{s:s,s:s,s:s,s:s}", "content", b64, "filename", name, "type",
                              ct ? ct : "application/octet-stream", "disposition", disposition);
        if (!strcmp(disposition, "inline"))
            json_object_set_new(a, "content_id", json_string(name));
        json_array_append_new(out, a);
        free(b64);
        buf_free(&b);
    }
    json_decref(v);
    return 0;
}

static json_t *email_list(const json_t *v)
{
    json_t *a = json_array();
    size_t i;
    json_t *it;
    if (json_is_string(v)) {
        json_array_append_new(a, json_pack("{s:s}", "email", json_string_value(v)));
        return a;
    }
    json_array_foreach((json_t *)v, i, it)
        if (json_is_string(it))
            json_array_append_new(a, json_pack("{s:s}", "email", json_string_value(it)));
    return a;
}

static task_result sendgrid_send(task_ctx *c, const char *html_dflt, const char *text_dflt,
                                 const char *subject_dflt, kerr *e)
{
    char *url = NULL, *key = NULL, *from = NULL, *subject = NULL, *html = NULL, *text = NULL;
    json_t *to = NULL, *cc = NULL, *body = NULL;
    task_result r = TASK_FAILED;
    if (tasks__prop_text(c, "url", "https://api.sendgrid.com/v3/mail/send", &url, e) ||
        req_string(c, "sendgridApiKey", &key, e) || req_string(c, "from", &from, e) ||
        task_prop(c, "to", &to, e) || task_prop(c, "cc", &cc, e) ||
        opt_string(c, "subject", &subject, e) || opt_string(c, "htmlContent", &html, e) ||
        opt_string(c, "textContent", &text, e))
        goto out;
    json_t *tos = to ? email_list(to) : json_array();
    if (json_array_size(tos) == 0) {
        json_decref(tos);
        kerr_set(e, "property 'to' is required (a list of addresses)");
        goto out;
    }
    json_t *pers = json_pack("{s:o}", "to", tos);
    if (cc && json_array_size(cc))
        json_object_set_new(pers, "cc", email_list(cc));
    const char *subj = subject ? subject : subject_dflt;
    if (subj)
        json_object_set_new(pers, "subject", json_string(subj));
    json_t *content = json_array();
    const char *tx = text ? text : text_dflt;
    const char *hx = html ? html : html_dflt;
    if (tx)
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text/plain", "value", tx));
    if (hx)
        json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text/html", "value", hx));
    body = json_pack("{s:[o],s:{s:s},s:o}", "personalizations", pers, "from", "email", from,
                     "content", content);
    json_t *att = json_array();
    if (sendgrid_files(c, "attachments", "attachment", att, e) ||
        sendgrid_files(c, "embeddedImages", "inline", att, e)) {
        json_decref(att);
        goto out;
    }
    if (json_array_size(att))
        json_object_set_new(body, "attachments", att);
    else
        json_decref(att);
    char *js = json_dumps(body, JSON_COMPACT);
    post p = {.service = "sendgrid", .url = url, .body = js, .body_len = strlen(js), .bearer = key};
    r = do_post(c, &p, e);
    free(js);
out:
    free(url);
    free(key);
    free(from);
    free(subject);
    free(html);
    free(text);
    json_decref(to);
    json_decref(cc);
    json_decref(body);
    return r;
}

static task_result sendgrid_send_run(task_ctx *c, kerr *e)
{
    return sendgrid_send(c, NULL, NULL, NULL, e);
}

static task_result sendgrid_exec_run(task_ctx *c, kerr *e)
{
    notify_exec x;
    if (notify__exec_load(c, &x, e))
        return TASK_FAILED;
    buf html = BUF_INIT, text = BUF_INIT, subj = BUF_INIT;
    notify__exec_html(&x, &html);
    notify__exec_text(&x, &text);
    buf_puts(&subj, "Kestra execution ");
    notify__exec_title(&x, &subj);
    task_result r = sendgrid_send(c, buf_str(&html), buf_str(&text), buf_str(&subj), e);
    buf_free(&html);
    buf_free(&text);
    buf_free(&subj);
    notify__exec_free(&x);
    return r;
}

/* ---- hooks --------------------------------------------------------------------------------- */

/* ---- Squadcast, WhatsApp, Sentry ------------------------------------------------------ */

static task_result squadcast_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "squadcast", NULL); }
static task_result whatsapp_webhook_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "whatsapp", NULL); }

/* A map property, or NULL when absent or empty; -1 when it is not a map. */
static int opt_map(task_ctx *c, const char *name, json_t **out, kerr *e)
{
    if (task_prop(c, name, out, e))
        return -1;
    if (*out && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return kerr_set(e, "property '%s' must be a map", name);
    }
    if (*out && json_object_size(*out) == 0) {
        json_decref(*out);
        *out = NULL;
    }
    return 0;
}

/* SquadcastExecution: Kestra's squadcast-template.peb, then message, priority, event_id and
 * tags from the properties. */
static task_result squadcast_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *msg = NULL, *prio = NULL, *eid = NULL;
    json_t *tags = NULL, *body = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || opt_string(c, "message", &msg, e) ||
        opt_string(c, "priority", &prio, e) || opt_string(c, "eventId", &eid, e) ||
        opt_map(c, "tags", &tags, e) || notify__exec_load(c, &x, e))
        goto out;
    buf d = BUF_INIT;
    buf_putc(&d, '*');
    if (x.link)
        buf_printf(&d, "<%s|[%s] %s &rarr; %s>", x.link, x.namespace, x.flow_id, x.state);
    else
        buf_printf(&d, "[%s] %s &rarr; %s", x.namespace, x.flow_id, x.state);
    buf_printf(&d, "*\nFinal task ID: %s\nStatus: ", x.last_task ? x.last_task : "");
    if (x.failed_task)
        buf_printf(&d, "Failed on task `%s`", x.failed_task);
    else
        buf_puts(&d, "Succeeded");
    buf_printf(&d, "\nDuration: %s", x.duration);
    body = json_pack("{s:s}", "description", buf_str(&d));
    buf_free(&d);
    if (msg)
        json_object_set_new(body, "message", json_string(msg));
    if (prio)
        json_object_set_new(body, "priority", json_string(prio));
    if (eid)
        json_object_set_new(body, "event_id", json_string(eid));
    if (tags)
        json_object_set(body, "tags", tags);
    r = post_json(c, "squadcast", url, body, NULL, e);
out:
    free(url);
    free(msg);
    free(prio);
    free(eid);
    json_decref(tags);
    json_decref(body);
    notify__exec_free(&x);
    return r;
}

/* WhatsAppExecution: Kestra's whatsapp-template.peb (contacts, one text message whose body is
 * the execution's lines), then contacts, messages and recipient_id from the properties. */
static task_result whatsapp_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *profile = NULL, *from = NULL, *mid = NULL, *text = NULL, *rid = NULL;
    json_t *ids = NULL, *body = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || opt_string(c, "profileName", &profile, e) ||
        opt_string(c, "from", &from, e) || opt_string(c, "messageId", &mid, e) ||
        opt_string(c, "textBody", &text, e) || opt_string(c, "recipientId", &rid, e) ||
        task_prop(c, "whatsAppIds", &ids, e) || notify__exec_load(c, &x, e))
        goto out;
    if (ids && !json_is_array(ids)) {
        kerr_set(e, "property 'whatsAppIds' must be a list");
        goto out;
    }
    json_t *contacts = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
        json_array_append_new(contacts, json_pack("{s:{s:s},s:O}", "profile", "name", profile ? profile : "",
                                                  "wa_id", id));
    buf last = BUF_INIT, title = BUF_INIT, st = BUF_INIT;
    notify__exec_title(&x, &title);
    notify__exec_status(&x, &st);
    buf_printf(&last, "*<%s|%s>*\n> %s", x.link ? x.link : "", buf_str(&title), buf_str(&st));
    json_t *lines = json_pack("[s+,s+,s+,s+,s]", "Namespace ", x.namespace, "Flow ID ", x.flow_id,
                              "Execution ID ", x.id, "Execution Status ", x.state, buf_str(&last));
    buf_free(&last);
    buf_free(&title);
    buf_free(&st);
    json_t *m = json_pack("{s:o,s:s}", "text",
                          text ? json_pack("{s:s}", "body", text) : json_pack("{s:o}", "body", lines),
                          "type", "text");
    if (text)
        json_decref(lines);
    if (from)
        json_object_set_new(m, "from", json_string(from));
    if (mid)
        json_object_set_new(m, "id", json_string(mid));
    body = json_pack("{s:o,s:[o]}", "contacts", contacts, "messages", m);
    if (rid)
        json_object_set_new(body, "recipient_id", json_string(rid));
    r = post_json(c, "whatsapp", url, body, NULL, e);
out:
    free(url);
    free(profile);
    free(from);
    free(mid);
    free(text);
    free(rid);
    json_decref(ids);
    json_decref(body);
    notify__exec_free(&x);
    return r;
}

/* The envelope endpoint of a DSN "scheme://KEY@host[:port][/path]/PROJECT" (Sentry's, or a
 * self-hosted one), or NULL when the text is not such a DSN (then it is used as the URL, as
 * Kestra does). */
static char *sentry_url(const char *dsn, int use_store)
{
    const char *sep = strstr(dsn, "://");
    if (!sep)
        return NULL;
    const char *key = sep + 3, *at = strchr(key, '@');
    const char *slash = strchr(key, '/');
    if (!at || (slash && slash < at) || at == key)
        return NULL;
    const char *host = at + 1, *proj = strrchr(host, '/');
    if (!proj || !proj[1] || strspn(proj + 1, "0123456789") != strlen(proj + 1))
        return NULL;
    return xasprintf("%.*s%.*s/api/%s/%s/?sentry_version=7&sentry_client=java&sentry_key=%.*s",
                     (int)(sep + 3 - dsn), dsn, (int)(proj - host), host, proj + 1,
                     use_store ? "store" : "envelope", (int)(at - key), key);
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t k = getrandom(b + got, nbytes - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", got == nbytes ? b[i] : (unsigned)rand() & 0xff);
}

/* Posts one event to Sentry: an envelope (header line, item header, the event) or, with
 * endpointType STORE, the event alone. */
static task_result sentry_post(task_ctx *c, const char *dsn, int use_store, const char *event_id,
                               const char *event, kerr *e)
{
    size_t elen = strlen(event);
    if (elen > 1024 * 1024)
        return kerr_set(e, "sentry: the event payload exceeds Sentry's 1 MB limit (%zu bytes)", elen),
               TASK_FAILED;
    char *url = sentry_url(dsn, use_store);
    task_secret(c, dsn);
    char eid[33];
    if (!event_id) {
        random_hex(eid, 16);
        event_id = eid;
    }
    buf b = BUF_INIT;
    if (use_store) {
        buf_puts(&b, event);
    } else {
        char now[40];
        datetime_format(time_now_us(), NULL, now, sizeof now);
        json_t *h = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "event_id", event_id, "dsn", dsn, "sdk", "name",
                              "java", "version", "7", "sent_at", now);
        json_t *ih = json_pack("{s:s,s:I,s:s,s:s}", "type", "event", "length", (json_int_t)elen,
                               "content_type", "application/json", "filename", "application.log");
        char *ht = json_dumps(h, JSON_COMPACT), *it = json_dumps(ih, JSON_COMPACT);
        buf_printf(&b, "%s\n%s\n%s\n", ht, it, event);
        free(ht);
        free(it);
        json_decref(h);
        json_decref(ih);
    }
    post p = {.service = "sentry", .url = url ? url : dsn, .body = buf_str(&b), .body_len = b.len,
              .content_type = use_store ? "application/json" : "application/x-sentry-envelope"};
    task_result r = do_post(c, &p, e);
    if (r != TASK_SUCCESS && !use_store && (strstr(e->msg, "HTTP 401") || strstr(e->msg, "HTTP 404")))
        task_log(c, LEVEL_ERROR, "sentry: the envelope endpoint is not supported here; try endpointType: STORE");
    buf_free(&b);
    free(url);
    return r;
}

static int sentry_endpoint(task_ctx *c, int *use_store, kerr *e)
{
    char *t = NULL;
    if (tasks__prop_text(c, "endpointType", "ENVELOPE", &t, e))
        return -1;
    int rc = 0;
    if (!strcasecmp(t, "STORE"))
        *use_store = 1;
    else if (!strcasecmp(t, "ENVELOPE"))
        *use_store = 0;
    else
        rc = kerr_set(e, "property 'endpointType': '%s' is not ENVELOPE or STORE", t);
    free(t);
    return rc;
}

static task_result sentry_alert_run(task_ctx *c, kerr *e)
{
    char *dsn = NULL, *payload = NULL;
    int use_store = 0;
    task_result r = TASK_FAILED;
    if (req_string(c, "dsn", &dsn, e) || sentry_endpoint(c, &use_store, e) ||
        opt_string(c, "payload", &payload, e))
        goto out;
    if (!payload) {
        /* Kestra's default event */
        char start[40];
        datetime_format(time_now_us(), NULL, start, sizeof start);
        json_t *ev = json_pack("{s:s,s:s,s:s,s:{s:o},s:{s:s,s:s,s:s}}", "timestamp", start, "platform", "java",
                               "level", "error", "message", "message",
                               json_sprintf("Execution %s failed", c->execution_id), "extra", "Namespace",
                               c->namespace, "Flow ID", c->flow_id, "Execution ID", c->execution_id);
        payload = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
    }
    r = sentry_post(c, dsn, use_store, NULL, payload, e);
out:
    free(dsn);
    free(payload);
    return r;
}

/* SentryExecution: Kestra's sentry-template.peb and SentryTemplate: event_id, timestamp,
 * platform, level, transaction, server_name, extra (the execution's facts and the `extra`
 * property). Kestra's `errors` map is not declared: `errors` is the flowables' error branch in
 * kite's validator. */
static task_result sentry_exec_run(task_ctx *c, kerr *e)
{
    char *dsn = NULL, *eid = NULL, *platform = NULL, *level = NULL, *txn = NULL, *server = NULL;
    json_t *extra = NULL, *ev = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    int use_store = 0;
    task_result r = TASK_FAILED;
    if (req_string(c, "dsn", &dsn, e) || sentry_endpoint(c, &use_store, e) ||
        opt_string(c, "eventId", &eid, e) || tasks__prop_text(c, "platform", "JAVA", &platform, e) ||
        tasks__prop_text(c, "level", "ERROR", &level, e) || opt_string(c, "transaction", &txn, e) ||
        opt_string(c, "serverName", &server, e) || opt_map(c, "extra", &extra, e) ||
        notify__exec_load(c, &x, e))
        goto out;
    if (eid && (strlen(eid) != 32 || strspn(eid, "0123456789abcdef") != 32)) {
        kerr_set(e, "property 'eventId': '%s' is not 32 lower-case hex digits (a UUID without dashes)", eid);
        goto out;
    }
    char id[33], now[40];
    if (!eid) {
        random_hex(id, 16);
        eid = xstrdup(id);
    }
    datetime_format(time_now_us(), NULL, now, sizeof now);
    for (char *p = platform; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = level; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    buf title = BUF_INIT;
    notify__exec_title(&x, &title);
    json_t *facts = json_pack("{s:s,s:s,s:s,s:s,s:s}", "Namespace", x.namespace, "Flow ID", x.flow_id,
                              "Execution ID", x.id, "Execution Status", x.state, "Link", x.link ? x.link : "");
    if (x.failed_task)
        json_object_set_new(facts, "Failed task", json_string(x.failed_task));
    if (extra)
        json_object_update(facts, extra);
    ev = json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:o}", "event_id", eid, "timestamp", now, "platform", platform,
                   "level", level, "message", "message", buf_str(&title), "extra", facts);
    buf_free(&title);
    if (txn)
        json_object_set_new(ev, "transaction", json_string(txn));
    if (server)
        json_object_set_new(ev, "server_name", json_string(server));
    char *text = json_dumps(ev, JSON_COMPACT);
    r = sentry_post(c, dsn, use_store, eid, text, e);
    free(text);
out:
    free(dsn);
    free(eid);
    free(platform);
    free(level);
    free(txn);
    free(server);
    json_decref(extra);
    json_decref(ev);
    notify__exec_free(&x);
    return r;
}

/* ---- Zenduty ----------------------------------------------------------------------------- */

static task_result zenduty_alert_run(task_ctx *c, kerr *e) { return json_webhook(c, e, "zenduty", NULL); }

/* ZendutyExecution: Kestra's zenduty-template.peb (alert_type resolved or error by the
 * execution, entity_id the execution's id, summary its facts), then message, summary,
 * alert_type, entity_id and urls from the properties. Zenduty needs a message: the
 * execution's title when none is given (kite's addition). */
static task_result zenduty_exec_run(task_ctx *c, kerr *e)
{
    char *url = NULL, *msg = NULL, *summary = NULL, *type = NULL, *entity = NULL;
    json_t *urls = NULL, *body = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (req_string(c, "url", &url, e) || opt_string(c, "message", &msg, e) || opt_string(c, "summary", &summary, e) ||
        opt_string(c, "alertType", &type, e) || opt_string(c, "entityId", &entity, e) ||
        task_prop(c, "urls", &urls, e) || notify__exec_load(c, &x, e))
        goto out;
    if (urls && !json_is_array(urls)) {
        kerr_set(e, "property 'urls' must be a list");
        goto out;
    }
    buf title = BUF_INIT, st = BUF_INIT, sm = BUF_INIT;
    notify__exec_title(&x, &title);
    notify__exec_status(&x, &st);
    buf_printf(&sm, "Namespace %s, Flow ID %s, Execution ID %s, Execution Status %s. *<%s|%s>*\n> %s", x.namespace,
               x.flow_id, x.id, x.state, x.link ? x.link : "", buf_str(&title), buf_str(&st));
    for (char *p = type; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    body = json_pack("{s:s,s:s,s:s,s:s}", "message", msg ? msg : buf_str(&title), "alert_type",
                     type ? type : x.failed_task ? "error" : "resolved", "entity_id", entity ? entity : x.id,
                     "summary", summary ? summary : buf_str(&sm));
    buf_free(&title);
    buf_free(&st);
    buf_free(&sm);
    if (urls)
        json_object_set(body, "urls", urls);
    r = post_json(c, "zenduty", url, body, NULL, e);
out:
    free(url), free(msg), free(summary), free(type), free(entity);
    json_decref(urls);
    json_decref(body);
    notify__exec_free(&x);
    return r;
}

/* ---- X (Twitter): POST /2/tweets, a Bearer token or OAuth 1.0a ------------------------- */

/* RFC 3986 percent-encoding (OAuth 1.0a, section 3.6) */
static void oauth_enc(const char *s, buf *out) { httpc_escape(s, strlen(s), out); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "OAuth oauth_consumer_key=..., oauth_signature=..." for a POST of url:
 * HMAC-SHA1 of the signature base string (the method, the URL without its
 * query, the sorted oauth_* and query parameters), keyed by the consumer
 * secret and the token secret. A JSON body is not signed (X's rule; Kestra's
 * XIncomingWebhook also signs its `text`, which X refuses). */
static char *oauth1_header(const char *url, const char *ckey, const char *csecret, const char *token,
                           const char *tsecret)
{
    unsigned char rnd[16];
    char nonce[33];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (unsigned char)rand();
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(time_now_us() / 1000000));
    char *pairs[72];
    size_t np = 0;
    buf b = BUF_INIT;
    const char *names[] = {"oauth_consumer_key", "oauth_nonce", "oauth_signature_method", "oauth_timestamp",
                           "oauth_token", "oauth_version"};
    const char *vals[] = {ckey, nonce, "HMAC-SHA1", ts, token, "1.0"};
    for (int i = 0; i < 6; i++) {
        buf_reset(&b);
        oauth_enc(names[i], &b);
        buf_putc(&b, '=');
        oauth_enc(vals[i], &b);
        pairs[np++] = xstrdup(buf_str(&b));
    }
    const char *q = strchr(url, '?');
    size_t base_len = q ? (size_t)(q - url) : strlen(url);
    for (const char *p = q ? q + 1 : NULL; p && *p && np < 70;) { /* the query's pairs, already encoded */
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n)
            pairs[np++] = xstrndup(p, n);
        p = end ? end + 1 : p + n;
    }
    qsort(pairs, np, sizeof pairs[0], cmp_str);
    buf params = BUF_INIT;
    for (size_t i = 0; i < np; i++) {
        if (i)
            buf_putc(&params, '&');
        buf_puts(&params, pairs[i]);
        free(pairs[i]);
    }
    buf base = BUF_INIT;
    buf_puts(&base, "POST&");
    httpc_escape(url, base_len, &base);
    buf_putc(&base, '&');
    oauth_enc(buf_str(&params), &base);
    buf key = BUF_INIT;
    oauth_enc(csecret, &key);
    buf_putc(&key, '&');
    oauth_enc(tsecret, &key);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    HMAC(EVP_sha1(), key.data, (int)key.len, (const unsigned char *)buf_str(&base), base.len, mac, &mlen);
    char *sig = base64_encode(mac, mlen);
    buf_reset(&b);
    buf_puts(&b, "Authorization: OAuth oauth_consumer_key=\"");
    oauth_enc(ckey, &b);
    buf_printf(&b, "\", oauth_nonce=\"%s\", oauth_signature=\"", nonce);
    oauth_enc(sig, &b);
    buf_printf(&b, "\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"%s\", oauth_token=\"", ts);
    oauth_enc(token, &b);
    buf_puts(&b, "\", oauth_version=\"1.0\"");
    char *h = xstrdup(buf_str(&b));
    explicit_bzero(key.data, key.len);
    buf_free(&key);
    buf_free(&base);
    buf_free(&params);
    buf_free(&b);
    free(sig);
    return h;
}

/* Characters as Java counts them (UTF-16 units): X's 280 limit as Kestra checks it. */
static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n += (*p >= 0xF0) ? 2 : 1;
    return n;
}

/* Posts {"text": text, ...extra} to X with the task's credentials: bearerToken, else the
 * four OAuth 1.0a values (token and secret under tok_name / sec_name: XIncomingWebhook
 * calls them oauthToken/oauthSecret, XExecution accessToken/accessSecret). */
static task_result x_post(task_ctx *c, const char *text, json_t *extra, const char *tok_name, const char *sec_name,
                          kerr *e)
{
    char *url = NULL, *bearer = NULL, *ck = NULL, *cs = NULL, *tk = NULL, *ts = NULL, *auth = NULL;
    json_t *body = NULL;
    task_result r = TASK_FAILED;
    if (tasks__prop_text(c, "url", "https://api.x.com/2/tweets", &url, e) || opt_string(c, "bearerToken", &bearer, e) ||
        opt_string(c, "consumerKey", &ck, e) || opt_string(c, "consumerSecret", &cs, e) ||
        opt_string(c, tok_name, &tk, e) || opt_string(c, sec_name, &ts, e))
        goto out;
    size_t n = utf16_len(text);
    if (n > 280) {
        kerr_set(e, "x: the post has %zu characters, more than X's 280 (shorten message or customMessage)", n);
        goto out;
    }
    if (!bearer) {
        if (!ck || !cs || !tk || !ts) {
            kerr_set(e, "x: give bearerToken, or consumerKey, consumerSecret, %s and %s (OAuth 1.0a)", tok_name,
                     sec_name);
            goto out;
        }
        task_secret(c, cs);
        task_secret(c, ts);
        task_secret(c, tk);
        auth = oauth1_header(url, ck, cs, tk, ts);
    }
    body = json_pack("{s:s}", "text", text);
    if (extra)
        json_object_update(body, extra);
    char *js = json_dumps(body, JSON_COMPACT);
    post p = {.service = "x", .url = url, .body = js, .body_len = strlen(js), .bearer = bearer, .auth_header = auth};
    r = do_post(c, &p, e);
    free(js);
out:
    free(url), free(bearer), free(ck), free(cs), free(tk), free(ts), free(auth);
    json_decref(body);
    return r;
}

/* XIncomingWebhook: `message` as a post, `mediaUrls` as its media ids (as Kestra sends them). */
static task_result x_webhook_run(task_ctx *c, kerr *e)
{
    char *msg = NULL;
    json_t *media = NULL, *extra = NULL;
    task_result r = TASK_FAILED;
    if (req_string(c, "message", &msg, e) || task_prop(c, "mediaUrls", &media, e))
        goto out;
    if (media && !json_is_null(media) && !json_is_array(media)) {
        kerr_set(e, "property 'mediaUrls' must be a list");
        goto out;
    }
    if (json_array_size(media))
        extra = json_pack("{s:{s:O}}", "media", "media_ids", media);
    r = x_post(c, msg, extra, "oauthToken", "oauthSecret", e);
out:
    free(msg);
    json_decref(media);
    json_decref(extra);
    return r;
}

/* XExecution: Kestra's x-template.peb, "✅ SUCCESS: ns.flow (Duration: D)", its hashtags and
 * the link; the custom message on its own line (kite's addition: Kestra's template drops it),
 * or textBody instead of all of it. */
static task_result x_exec_run(task_ctx *c, kerr *e)
{
    char *text = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (opt_string(c, "textBody", &text, e))
        goto out;
    buf t = BUF_INIT;
    if (text) {
        buf_puts(&t, text);
    } else {
        if (notify__exec_load(c, &x, e))
            goto out;
        const char *emoji = !strcmp(x.state, "SUCCESS")   ? "\u2705"
                            : !strcmp(x.state, "FAILED")  ? "\u274c"
                            : !strcmp(x.state, "WARNING") ? "\u26a0\ufe0f"
                            : !strcmp(x.state, "KILLED")  ? "\U0001f6d1"
                                                          : "\u2139\ufe0f";
        buf_printf(&t, "%s %s: %s.%s (Duration: %s)", emoji, x.state, x.namespace, x.flow_id, x.duration);
        if (x.custom_message)
            buf_printf(&t, "\n%s", x.custom_message);
        buf_puts(&t, "\n#Kestra #Automation");
        if (x.link)
            buf_printf(&t, "\n%s", x.link);
    }
    r = x_post(c, buf_str(&t), NULL, "accessToken", "accessSecret", e);
    buf_free(&t);
out:
    free(text);
    notify__exec_free(&x);
    return r;
}

/* ---- Facebook Messenger: the Graph API's /PAGE/messages, one POST per recipient ---------- */

static task_result messenger_exec_run(task_ctx *c, kerr *e)
{
    char *page = NULL, *token = NULL, *type = NULL, *text = NULL, *url = NULL;
    json_t *ids = NULL;
    notify_exec x;
    memset(&x, 0, sizeof x);
    task_result r = TASK_FAILED;
    if (req_string(c, "pageId", &page, e) || req_string(c, "accessToken", &token, e) ||
        task_prop(c, "recipientIds", &ids, e) || tasks__prop_text(c, "messagingType", "UPDATE", &type, e) ||
        opt_string(c, "textBody", &text, e) || opt_string(c, "url", &url, e))
        goto out;
    if (!json_is_array(ids) || !json_array_size(ids)) {
        kerr_set(e, "property 'recipientIds' needs at least one recipient's page-scoped id (PSID)");
        goto out;
    }
    task_secret(c, token);
    buf t = BUF_INIT;
    if (text) {
        buf_puts(&t, text);
    } else {
        if (notify__exec_load(c, &x, e))
            goto out;
        char started[64];
        datetime_format(x.start_us, tz_utc(), started, sizeof started);
        buf_printf(&t, "Execution %s\n\nDetails:\n- ID: %s\n- Namespace: %s\n- Flow: %s\n- Started: %s\n"
                       "- Duration: %s\n",
                   x.state, x.id, x.namespace, x.flow_id, started, x.duration);
        if (x.failed_task)
            buf_printf(&t, "- Failed on task `%s`\n", x.failed_task);
        error_text(&x, "  > ", &t);
        if (x.custom_message)
            buf_printf(&t, "\n%s\n", x.custom_message);
        const char *k;
        json_t *v;
        json_object_foreach(x.custom_fields, k, v) {
            buf_printf(&t, "- %s: ", k);
            value_text(v, &t);
            buf_putc(&t, '\n');
        }
        if (x.link)
            buf_printf(&t, "\nView Execution: %s", x.link);
    }
    char *dflt = NULL;
    if (!url) {
        buf u = BUF_INIT;
        buf_puts(&u, "https://graph.facebook.com/v23.0/");
        httpc_escape(page, strlen(page), &u);
        buf_puts(&u, "/messages?access_token=");
        httpc_escape(token, strlen(token), &u);
        dflt = xstrdup(buf_str(&u));
        buf_free(&u);
    }
    size_t i;
    json_t *id;
    r = TASK_SUCCESS;
    json_array_foreach(ids, i, id) {
        buf rid = BUF_INIT;
        value_text(id, &rid);
        json_t *body = json_pack("{s:{s:s},s:s,s:{s:s}}", "recipient", "id", buf_str(&rid), "messaging_type", type,
                                 "message", "text", buf_str(&t));
        buf_free(&rid);
        task_result one = post_json(c, "messenger", url ? url : dflt, body, NULL, e);
        json_decref(body);
        if (one != TASK_SUCCESS) {
            r = one;
            break;
        }
    }
    free(dflt);
    buf_free(&t);
out:
    free(page), free(token), free(type), free(text), free(url);
    json_decref(ids);
    notify__exec_free(&x);
    return r;
}

#define HOOKS(n) static const struct task_hooks n##_hooks = {.run = n##_run}
HOOKS(slack_webhook);
HOOKS(zenduty_alert);
HOOKS(x_webhook);
HOOKS(x_exec);
HOOKS(messenger_exec);
HOOKS(zenduty_exec);
HOOKS(squadcast_webhook);
HOOKS(squadcast_exec);
HOOKS(whatsapp_webhook);
HOOKS(whatsapp_exec);
HOOKS(sentry_alert);
HOOKS(sentry_exec);
HOOKS(slack_exec);
HOOKS(teams_webhook);
HOOKS(teams_exec);
HOOKS(gchat_webhook);
HOOKS(gchat_exec);
HOOKS(discord_webhook);
HOOKS(discord_exec);
HOOKS(telegram_send);
HOOKS(telegram_exec);
HOOKS(line_exec);
HOOKS(twilio_alert);
HOOKS(twilio_exec);
HOOKS(pagerduty_alert);
HOOKS(pagerduty_exec);
HOOKS(opsgenie_alert);
HOOKS(opsgenie_exec);
HOOKS(zulip_webhook);
HOOKS(zulip_exec);
HOOKS(sendgrid_send);
HOOKS(sendgrid_exec);
#undef HOOKS

/* ---- the family's types ----------------------------------------------------------------- */

#define P_OPTIONS                                                                          \
    PMAP("options", 0, NULL, &tasks__item_any,                                             \
         "HTTP options: connectTimeout, readTimeout (default PT10S), readIdleTimeout, headers")
#define P_URL PSTR("url", PF_REQUIRED, NULL, "the webhook URL (masked in logs)")
#define P_PAYLOAD(req) PSTR("payload", req, NULL, "the JSON body to send, as text")
#define P_EXEC                                                                             \
    PSTR("executionId", 0, "\"{{ execution.id }}\"", "the execution to describe"),         \
    PSTR("customMessage", 0, NULL, "a message added to the notification"),                 \
    PMAP("customFields", 0, NULL, &tasks__item_any, "fields added to the notification"),   \
    PSTR("templateUri", 0, NULL,                                                           \
         "accepted: as in Kestra, an ...Execution task sets its own template"),            \
    PMAP("templateRenderMap", 0, NULL, &tasks__item_any,                                   \
         "accepted: as in Kestra, an ...Execution task sets its own variables")
#define P_SLACK_EXTRAS                                                                     \
    PSTR("channel", 0, NULL, "the channel to post to"),                                    \
    PSTR("username", 0, NULL, "the name the message is posted as"),                        \
    PSTR("iconUrl", 0, NULL, "the URL of the poster's icon"),                              \
    PSTR("iconEmoji", 0, NULL, "the emoji of the poster's icon")
#define P_TELEGRAM                                                                         \
    PSTR("token", PF_REQUIRED, NULL, "the bot's token (masked in logs)"),                  \
    PSTR("channel", PF_REQUIRED, NULL, "the chat id to send to"),                          \
    PENUM("parseMode", 0, NULL, ENUMS("HTML", "Markdown", "MarkdownV2"),                   \
          "how Telegram parses the text"),                                                 \
    PSTR("endpointOverride", 0, "\"https://api.telegram.org\"", "the Bot API's base URL")
#define P_TWILIO                                                                           \
    P_URL,                                                                                 \
    PSTR("accountSID", PF_REQUIRED, NULL, "the account SID (basic auth user)"),            \
    PSTR("authToken", PF_REQUIRED, NULL, "the auth token (basic auth password, masked)")
#define P_SENDGRID                                                                         \
    PSTR("sendgridApiKey", PF_REQUIRED, NULL, "the API key (masked in logs)"),             \
    PSTR("from", PF_REQUIRED, NULL, "the sender's address"),                               \
    PSTRL("to", PF_REQUIRED, NULL, "the recipients"),                                      \
    PSTRL("cc", 0, NULL, "the copy recipients"),                                           \
    PSTR("subject", 0, NULL, "the subject"),                                               \
    PLIST("attachments", 0, NULL, &tasks__item_any,                                        \
          "files from storage: [{uri, name, contentType}]"),                               \
    PLIST("embeddedImages", 0, NULL, &tasks__item_any,                                     \
          "inline images from storage: [{uri, name, contentType}]"),                       \
    PSTR("url", 0, "\"https://api.sendgrid.com/v3/mail/send\"",                            \
         "the API endpoint (kite's addition, for a proxy or a test server)")
#define P_MAIL_COMMON                                                                      \
    PSTR("host", PF_REQUIRED, NULL, "the SMTP server"),                                    \
    PINT("port", 0, NULL, "its port (default 25, 465 or 587 by transportStrategy)"),                                           \
    PSTR("username", 0, NULL, "the SMTP user (AUTH)"),                                     \
    PSTR("password", 0, NULL, "the SMTP password (masked in logs)"),                       \
    PENUM("transportStrategy", 0, "\"SMTPS\"", ENUMS("SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"), \
          "SMTP (plain), SMTPS (TLS from the start) or SMTP_TLS (STARTTLS)"),              \
    PINT("sessionTimeout", 0, "10000", "milliseconds a session may take"),                 \
    PBOOL("verifyServerIdentity", 0, "true", "check the server's certificate and name"),   \
    PSTRL("trustedHosts", 0, NULL, "hosts trusted whatever their certificate"),            \
    PSTR("from", PF_REQUIRED, NULL, "the sender's address"),                               \
    PSTR("to", 0, NULL, "the recipients, ';'-separated"),                                  \
    PSTR("cc", 0, NULL, "the copy recipients, ';'-separated"),                             \
    PSTR("subject", 0, NULL, "the subject"),                                               \
    PANY("attachments", 0, NULL, "files from storage: [{uri, name, contentType}]"),        \
    PANY("embeddedImages", 0, NULL, "inline images from storage: [{uri, name, contentType}]"), \
    PSTR("plainTextContent", 0, NULL, "the text part")

#define P_SENTRY                                                                           \
    PSTR("dsn", PF_REQUIRED, NULL, "the project's DSN, https://KEY@HOST/PROJECT (masked in logs)"), \
    PENUM("endpointType", 0, "\"ENVELOPE\"", ENUMS("ENVELOPE", "STORE"),                   \
          "the envelope endpoint, or the older store endpoint")

#define SLACK_ALIASES(cls)                                                                 \
    ALIASES("io.kestra.plugin.notifications.slack." cls, "io.kestra.plugin.slack." cls,    \
            "io.kestra.plugin.slack.notifications." cls)
#define TEAMS_ALIASES(cls)                                                                 \
    ALIASES("io.kestra.plugin.notifications.teams." cls,                                   \
            "io.kestra.plugin.microsoft365.teams." cls)
#define P_X_AUTH                                                                           \
    PSTR("bearerToken", 0, NULL, "OAuth 2.0 bearer token (masked); else the OAuth 1.0a four"), \
    PSTR("consumerKey", 0, NULL, "OAuth 1.0a consumer (API) key"),                         \
    PSTR("consumerSecret", 0, NULL, "OAuth 1.0a consumer secret (masked)")
#define NOTIF(pkg, cls) ALIASES("io.kestra.plugin.notifications." pkg "." cls)

const type_def tasks__notify[] = {
    {
        .name = "slack.slack_incoming_webhook",
        .hooks = &slack_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = SLACK_ALIASES("SlackIncomingWebhook"),
        .desc = "Post a message to a Slack incoming webhook (payload, or messageText).",
        .props = PROPS(P_URL, P_PAYLOAD(0),
                       PSTR("messageText", 0, NULL,
                            "text (Markdown turned into Slack's mrkdwn) or JSON, when no payload"),
                       P_OPTIONS),
    },
    {
        .name = "slack.slack_execution",
        .hooks = &slack_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = SLACK_ALIASES("SlackExecution"),
        .desc = "Post an execution's summary (state, duration, failed task, errors, link) to Slack.",
        .props = PROPS(P_URL, P_SLACK_EXTRAS, P_EXEC, P_OPTIONS),
    },
    {
        .name = "teams.teams_incoming_webhook",
        .hooks = &teams_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = TEAMS_ALIASES("TeamsIncomingWebhook"),
        .desc = "Post a message to a Microsoft Teams incoming webhook.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "teams.teams_execution",
        .hooks = &teams_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = TEAMS_ALIASES("TeamsExecution"),
        .desc = "Post an execution's summary to Microsoft Teams (a MessageCard).",
        .props = PROPS(P_URL, PSTR("themeColor", 0, "\"0076D7\"", "the card's colour"),
                       PSTR("activityTitle", 0, NULL, "the section's title"),
                       PSTR("activitySubtitle", 0, NULL, "the section's subtitle"), P_EXEC,
                       P_OPTIONS),
    },
    {
        .name = "google.google_chat_incoming_webhook",
        .hooks = &gchat_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("google", "GoogleChatIncomingWebhook"),
        .desc = "Post a message to a Google Chat incoming webhook.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "google.google_chat_execution",
        .hooks = &gchat_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("google", "GoogleChatExecution"),
        .desc = "Post an execution's summary to Google Chat.",
        .props = PROPS(P_URL, PSTR("text", 0, NULL, "a text put before the summary"), P_EXEC,
                       P_OPTIONS),
    },
    {
        .name = "discord.discord_incoming_webhook",
        .hooks = &discord_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("discord", "DiscordIncomingWebhook"),
        .desc = "Post a message to a Discord webhook.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "discord.discord_execution",
        .hooks = &discord_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("discord", "DiscordExecution"),
        .desc = "Post an execution's summary to Discord (an embed).",
        .props = PROPS(P_URL, PSTR("username", 0, NULL, "the name the message is posted as"),
                       PSTR("avatarUrl", 0, NULL, "the poster's avatar"),
                       PSTR("content", 0, NULL, "a text put before the embed"),
                       PLIST("embedList", 0, NULL, &tasks__item_any, "accepted; kite sends one embed"),
                       P_EXEC, P_OPTIONS),
    },
    {
        .name = "telegram.telegram_send",
        .hooks = &telegram_send_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("telegram", "TelegramSend"),
        .desc = "Send a message with a Telegram bot (sendMessage).",
        .props = PROPS(P_TELEGRAM, PSTR("payload", PF_REQUIRED, NULL, "the text to send"),
                       P_OPTIONS),
    },
    {
        .name = "telegram.telegram_execution",
        .hooks = &telegram_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("telegram", "TelegramExecution"),
        .desc = "Send an execution's summary with a Telegram bot.",
        .props = PROPS(P_TELEGRAM, P_EXEC, P_OPTIONS),
    },
    {
        .name = "line.line_execution",
        .hooks = &line_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.notifications.line.LineExecution",
                           "io.kestra.plugin.line.LineExecution"),
        .desc = "Broadcast an execution's summary (or textBody) to a LINE channel.",
        .props = PROPS(PSTR("url", 0, "\"https://api.line.me/v2/bot/message/broadcast\"",
                            "the Messaging API endpoint"),
                       PSTR("channelAccessToken", PF_REQUIRED, NULL, "the channel's token (masked)"),
                       PSTR("textBody", 0, NULL, "a text to send instead of the summary"), P_EXEC,
                       P_OPTIONS),
    },
    {
        .name = "twilio.twilio_alert",
        .hooks = &twilio_alert_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("twilio", "TwilioAlert"),
        .desc = "Send a Twilio notification (payload's fields as a form).",
        .props = PROPS(P_TWILIO, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "twilio.twilio_execution",
        .hooks = &twilio_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("twilio", "TwilioExecution"),
        .desc = "Send an execution's summary as a Twilio notification.",
        .props = PROPS(P_TWILIO, PSTR("body", 0, NULL, "the text, instead of the summary"),
                       PSTR("identity", 0, NULL, "the user to notify"),
                       PSTR("tag", 0, NULL, "the tag of the users to notify"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "pagerduty.pager_duty_alert",
        .hooks = &pagerduty_alert_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("pagerduty", "PagerDutyAlert"),
        .desc = "Send an event to PagerDuty's Events API v2.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "pagerduty.pager_duty_execution",
        .hooks = &pagerduty_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("pagerduty", "PagerDutyExecution"),
        .desc = "Send an execution's summary as a PagerDuty event.",
        .props = PROPS(PSTR("url", 0, "\"https://events.pagerduty.com/v2/enqueue\"", "the Events API URL"),
                       PSTR("routingKey", 0, NULL, "the integration key (masked)"),
                       PSTR("deduplicationKey", 0, NULL, "the dedup_key"),
                       PSTR("eventAction", 0, NULL, "trigger, acknowledge or resolve"),
                       PSTR("payloadSummary", 0, NULL, "the event's summary"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "opsgenie.opsgenie_alert",
        .hooks = &opsgenie_alert_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("opsgenie", "OpsgenieAlert"),
        .desc = "Create an Opsgenie alert.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED),
                       PSTR("authorizationToken", 0, NULL,
                            "the Authorization header's value, \"GenieKey <key>\" (masked)"),
                       P_OPTIONS),
    },
    {
        .name = "opsgenie.opsgenie_execution",
        .hooks = &opsgenie_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("opsgenie", "OpsgenieExecution"),
        .desc = "Create an Opsgenie alert describing an execution.",
        .props = PROPS(PSTR("url", 0, "\"https://api.opsgenie.com/v2/alerts\"", "the Alert API URL"),
                       PSTR("authorizationToken", 0, NULL, "\"GenieKey <key>\" (masked)"),
                       PSTR("message", 0, NULL, "the alert's message"),
                       PSTR("alias", 0, NULL, "the alert's alias"),
                       PMAP("responders", 0, NULL, &tasks__item_string, "id -> type (team, user...)"),
                       PMAP("visibleTo", 0, NULL, &tasks__item_string, "id -> type"),
                       PSTRL("tags", 0, NULL, "the alert's tags"),
                       PSTR("priority", 0, NULL, "P1 to P5"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "zulip.zulip_incoming_webhook",
        .hooks = &zulip_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("zulip", "ZulipIncomingWebhook"),
        .desc = "Post a message to a Zulip incoming webhook.",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "zulip.zulip_execution",
        .hooks = &zulip_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("zulip", "ZulipExecution"),
        .desc = "Post an execution's summary to a Zulip incoming webhook (Slack's format).",
        .props = PROPS(P_URL, P_SLACK_EXTRAS, P_EXEC, P_OPTIONS),
    },
    {
        .name = "sendgrid.send_grid_mail_send",
        .hooks = &sendgrid_send_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("sendgrid", "SendGridMailSend"),
        .desc = "Send an e-mail through SendGrid's v3 API.",
        .props = PROPS(P_SENDGRID, PSTR("htmlContent", 0, NULL, "the HTML part"),
                       PSTR("textContent", 0, NULL, "the text part"), P_OPTIONS),
    },
    {
        .name = "sendgrid.send_grid_mail_execution",
        .hooks = &sendgrid_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("sendgrid", "SendGridMailExecution"),
        .desc = "Send an execution's summary by e-mail through SendGrid.",
        .props = PROPS(P_SENDGRID, PSTR("htmlContent", 0, NULL, "the HTML part, instead of the summary"),
                       PSTR("textContent", 0, NULL, "the text part, instead of the summary"), P_EXEC,
                       P_OPTIONS),
    },
    {
        .name = "squadcast.squadcast_incoming_webhook",
        .hooks = &squadcast_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("squadcast", "SquadcastIncomingWebhook"),
        .desc = "Send a Squadcast event to an incident webhook (payload as given).",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "squadcast.squadcast_execution",
        .hooks = &squadcast_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("squadcast", "SquadcastExecution"),
        .desc = "Send an execution's summary as a Squadcast event.",
        .props = PROPS(P_URL, P_PAYLOAD(0), PSTR("message", 0, NULL, "the event's message"),
                       PSTR("priority", 0, NULL, "the event's priority (P1 to P5)"),
                       PSTR("eventId", 0, NULL, "the event_id (to resolve or deduplicate)"),
                       PMAP("tags", 0, NULL, &tasks__item_string, "the event's tags"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "whatsapp.whats_app_incoming_webhook",
        .hooks = &whatsapp_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("whatsapp", "WhatsAppIncomingWebhook"),
        .desc = "Post a WhatsApp webhook payload (as given).",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "whatsapp.whats_app_execution",
        .hooks = &whatsapp_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("whatsapp", "WhatsAppExecution"),
        .desc = "Post an execution's summary as a WhatsApp webhook message.",
        .props = PROPS(P_URL, P_PAYLOAD(0), PSTR("profileName", 0, NULL, "the sender's profile name"),
                       PSTRL("whatsAppIds", 0, NULL, "the contacts' WhatsApp ids"),
                       PSTR("from", 0, NULL, "the sender's WhatsApp id (phone number)"),
                       PSTR("messageId", 0, NULL, "the message id"),
                       PSTR("textBody", 0, NULL, "the message, instead of the summary"),
                       PSTR("recipientId", 0, NULL, "the recipient's id"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "sentry.sentry_alert",
        .hooks = &sentry_alert_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("sentry", "SentryAlert"),
        .desc = "Send an event to Sentry (its envelope or store endpoint, from the DSN).",
        .props = PROPS(P_SENTRY, P_PAYLOAD(0), P_OPTIONS),
    },
    {
        .name = "sentry.sentry_execution",
        .hooks = &sentry_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("sentry", "SentryExecution"),
        .desc = "Send an execution's summary as a Sentry event.",
        .props = PROPS(P_SENTRY, P_PAYLOAD(0),
                       PSTR("eventId", 0, NULL, "32 lower-case hex digits (default: a random one)"),
                       PSTR("platform", 0, "\"JAVA\"", "the event's platform (sent in lower case)"),
                       PENUM("level", 0, "\"ERROR\"", ENUMS("FATAL", "ERROR", "WARNING", "INFO", "DEBUG"),
                             "the event's level"),
                       PSTR("transaction", 0, NULL, "the transaction that caused the alert"),
                       PSTR("serverName", 0, NULL, "the host the event comes from"),
                       PMAP("extra", 0, NULL, &tasks__item_any, "metadata added to the event's extra"),
                       P_EXEC, P_OPTIONS),
    },
    {
        .name = "zenduty.zenduty_alert",
        .hooks = &zenduty_alert_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("zenduty", "ZendutyAlert"),
        .desc = "Send an event to a Zenduty integration (payload as given).",
        .props = PROPS(P_URL, P_PAYLOAD(PF_REQUIRED), P_OPTIONS),
    },
    {
        .name = "zenduty.zenduty_execution",
        .hooks = &zenduty_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("zenduty", "ZendutyExecution"),
        .desc = "Send an execution's summary as a Zenduty event.",
        .props = PROPS(P_URL, P_PAYLOAD(0), PSTR("message", 0, NULL, "the incident's title (default: the execution's)"),
                       PSTR("summary", 0, NULL, "the incident's summary (default: the execution's facts)"),
                       PENUM("alertType", 0, NULL, ENUMS("CRITICAL", "ACKNOWLEDGED", "RESOLVED", "ERROR", "WARNING", "INFO"),
                             "default: error when a task failed, else resolved"),
                       PSTR("entityId", 0, NULL, "the alert's unique id (default: the execution's id)"),
                       PSTRL("urls", 0, NULL, "links related to the alert"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "x.x_incoming_webhook",
        .hooks = &x_webhook_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("x", "XIncomingWebhook"),
        .desc = "Post a message to X (formerly Twitter), as the account of the token.",
        .props = PROPS(PSTR("url", 0, "\"https://api.x.com/2/tweets\"", "the X API endpoint"),
                       PSTR("message", PF_REQUIRED, NULL, "the post's text (at most 280 characters)"),
                       PSTRL("mediaUrls", 0, NULL, "media ids to attach (sent as media.media_ids)"), P_X_AUTH,
                       PSTR("oauthToken", 0, NULL, "OAuth 1.0a access token (masked)"),
                       PSTR("oauthSecret", 0, NULL, "OAuth 1.0a access token secret (masked)"), P_OPTIONS),
    },
    {
        .name = "x.x_execution",
        .hooks = &x_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("x", "XExecution"),
        .desc = "Post an execution's state, flow, duration and link to X (formerly Twitter).",
        .props = PROPS(PSTR("url", 0, "\"https://api.x.com/2/tweets\"", "the X API endpoint"), P_X_AUTH,
                       PSTR("accessToken", 0, NULL, "OAuth 1.0a access token (masked)"),
                       PSTR("accessSecret", 0, NULL, "OAuth 1.0a access token secret (masked)"),
                       PSTR("textBody", 0, NULL, "a text to post instead of the summary"), P_EXEC, P_OPTIONS),
    },
    {
        .name = "messenger.messenger_execution",
        .hooks = &messenger_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = NOTIF("messenger", "MessengerExecution"),
        .desc = "Send an execution's summary to Facebook Messenger users from a page.",
        .props = PROPS(PSTR("pageId", PF_REQUIRED, NULL, "the Facebook page that sends"),
                       PSTR("accessToken", PF_REQUIRED, NULL, "the page's access token (masked)"),
                       PSTRL("recipientIds", PF_REQUIRED, NULL, "the recipients' page-scoped ids (PSIDs)"),
                       PENUM("messagingType", 0, "\"UPDATE\"", ENUMS("RESPONSE", "UPDATE", "MESSAGE_TAG"),
                             "the Messenger messaging type"),
                       PSTR("textBody", 0, NULL, "a text to send instead of the summary"),
                       PSTR("url", 0, NULL,
                            "the endpoint (default https://graph.facebook.com/v23.0/PAGE/messages?access_token=TOKEN)"),
                       P_EXEC, P_OPTIONS),
    },
    {
        .name = "mail.mail_send",
        .hooks = &notify__mail_send_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.notifications.mail.MailSend",
                           "io.kestra.plugin.email.MailSend"),
        .desc = "Send an e-mail over SMTP (text, HTML, attachments, inline images).",
        .props = PROPS(P_MAIL_COMMON, PSTR("htmlTextContent", 0, NULL, "the HTML part")),
    },
    {
        .name = "mail.mail_execution",
        .hooks = &notify__mail_exec_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.notifications.mail.MailExecution",
                           "io.kestra.plugin.email.MailExecution"),
        .desc = "E-mail an execution's summary over SMTP.",
        .props = PROPS(P_MAIL_COMMON,
                       PSTR("htmlTextContent", 0, NULL, "the HTML part, instead of the summary"),
                       P_EXEC),
    },
};

const size_t tasks__notify_count = sizeof tasks__notify / sizeof tasks__notify[0];
