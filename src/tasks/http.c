/*
 * http.c: the HTTP family: http.request, http.download and http.sse_request
 * (Kestra's io.kestra.plugin.core.http Request, Download and SseRequest, also
 * under their older io.kestra.plugin.fs.http names), on the shared HTTP
 * client (util/httpc.h); the type table is at the end of the file.
 *
 * DESIGN
 * Every worker thread keeps one httpc (a pthread key frees it when the thread
 * ends), so the tasks one thread runs reuse its connections and TLS sessions:
 * 100 Request tasks to one host cost one TLS handshake. The three tasks share
 * how a request is built from the properties (http_build: uri, method,
 * headers, body or formData, contentType, options and the older top-level
 * allowFailed and sslOptions) and how an answer's status is judged
 * (http_judge: >= 400 fails unless options.allowFailed or
 * options.allowedResponseCodes says otherwise). A failure is one line naming
 * the method, the URL without its credentials and the cause; the engine's
 * retry applies to it like to any failed task. Passwords, tokens and
 * Authorization header values are registered as secrets before the request
 * is sent, so they are masked wherever they would show.
 *
 * Request keeps at most options.maxContentLength bytes of body (10 MiB by
 * default, as Kestra); a larger answer fails with a message naming Download,
 * which streams the body into internal storage through a storage_writer and
 * never holds it whole. SseRequest parses the event stream as it arrives.
 */
#include "tasks/tasks_int.h"

#include "expr/expr.h"
#include "util/aesgcm.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_MAX_BODY ((size_t)10 << 20)      /* Request's body kept, Kestra's default */
#define HTTP_MAX_BODY_CAP ((size_t)1 << 31)   /* the most maxContentLength may ask (2 GiB) */
#define HTTP_SSE_MAX_BYTES ((size_t)64 << 20) /* events kept by SseRequest */
#define HTTP_SSE_MAX_EVENTS 100000

/* ---- one client per worker thread ------------------------------------------- */

static httpc_per_thread clients = HTTPC_PER_THREAD_INIT;

/* This thread's client (made on first use, freed when the thread ends). */
static httpc *thread_client(void)
{
    return httpc_thread(&clients);
}

/* ---- building a request from the properties ---------------------------------- */

typedef struct hreq {
    char *uri, *method;
    char **hdrs;                 /* "Name: value", NULL-terminated */
    size_t nhdrs;
    buf body;
    int has_body;
    httpc_part *parts;
    size_t nparts;
    char **tmp_files;            /* copies of storage files sent as parts */
    size_t ntmp;
    char *user, *password, *bearer;
    char *proxy;
    httpc_opts o;
    int allow_failed;
    json_t *allowed_codes;       /* list of ints, or NULL */
    char *charset;               /* options.defaultCharset */
} hreq;

static void hreq_free(hreq *r)
{
    free(r->uri);
    free(r->method);
    for (size_t i = 0; i < r->nhdrs; i++)
        free(r->hdrs[i]);
    free(r->hdrs);
    buf_free(&r->body);
    for (size_t i = 0; i < r->nparts; i++) {
        free((char *)r->parts[i].name);
        free((char *)r->parts[i].data);
        free((char *)r->parts[i].filename);
    }
    free(r->parts);
    for (size_t i = 0; i < r->ntmp; i++) {
        unlink(r->tmp_files[i]);
        free(r->tmp_files[i]);
    }
    free(r->tmp_files);
    free(r->user);
    if (r->password)
        explicit_bzero(r->password, strlen(r->password));
    free(r->password);
    if (r->bearer)
        explicit_bzero(r->bearer, strlen(r->bearer));
    free(r->bearer);
    if (r->proxy)
        explicit_bzero(r->proxy, strlen(r->proxy));
    free(r->proxy);
    json_decref(r->allowed_codes);
    free(r->charset);
}

static void add_header(hreq *r, const char *name, const char *value)
{
    r->hdrs = xrealloc(r->hdrs, (r->nhdrs + 2) * sizeof *r->hdrs);
    r->hdrs[r->nhdrs++] = xasprintf("%s: %s", name, value);
    r->hdrs[r->nhdrs] = NULL;
}

static int has_header(const hreq *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nhdrs; i++)
        if (!strncasecmp(r->hdrs[i], name, n) && r->hdrs[i][n] == ':')
            return 1;
    return 0;
}

/* A value of an option object as text (strings as is, numbers printed), or
 * NULL when absent or null; malloc'd. */
static char *opt_text(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    return expr_value_to_text(v);
}

/* A duration option (ISO-8601 text or a number of seconds) in ms; 0 absent. */
static int opt_ms(const json_t *o, const char *k, const char *path, long *ms, kerr *e)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *ms = (long)(json_number_value(v) * 1000.0);
        return 0;
    }
    int64_t us;
    if (!json_is_string(v) || duration_parse(json_string_value(v), &us, e)) {
        if (!json_is_string(v))
            kerr_set(e, "not a duration");
        kerr_prefix(e, "property '%s.%s'", path, k);
        return -1;
    }
    *ms = us < 1000 && us > 0 ? 1 : (long)(us / 1000);
    return 0;
}

/* A boolean option; absent keeps *out. "true"/"false" text is accepted (a
 * rendered expression gives text). */
static int opt_bool(const json_t *o, const char *k, const char *path, int *out, kerr *e)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (!strcasecmp(json_string_value(v), "true") ||
                              !strcasecmp(json_string_value(v), "false"))) {
        *out = !strcasecmp(json_string_value(v), "true");
        return 0;
    }
    return kerr_set(e, "property '%s.%s': not a boolean", path, k);
}

/* Percent-encoded copy of s for a URL's user or password. */
static char *url_part(const char *s)
{
    buf b = BUF_INIT;
    httpc_escape(s, strlen(s), &b);
    return buf_steal(&b);
}

/* Reads options (and the older top-level names) into r. */
static int read_options(task_ctx *c, hreq *r, kerr *e)
{
    json_t *opts = NULL, *ssl_old = NULL;
    int rc = -1, old_allow = -1;
    if (task_prop(c, "options", &opts, e) || task_prop(c, "sslOptions", &ssl_old, e))
        goto out;
    if (json_object_get(c->task, "allowFailed") &&
        task_prop_bool(c, "allowFailed", 0, &old_allow, e))
        goto out;
    if (opts && !json_is_object(opts)) {
        kerr_set(e, "property 'options': not an object");
        goto out;
    }
    if (!opts)
        opts = json_object();
    r->o.follow_redirects = 1;
    r->o.max_body = HTTP_MAX_BODY;
    r->allow_failed = old_allow > 0;

    if (opt_bool(opts, "followRedirects", "options", &r->o.follow_redirects, e) ||
        opt_bool(opts, "allowFailed", "options", &r->allow_failed, e))
        goto out;
    if (old_allow > 0)
        r->allow_failed = 1;

    const json_t *codes = json_object_get(opts, "allowedResponseCodes");
    if (codes && !json_is_null(codes)) {
        if (!json_is_array(codes)) {
            kerr_set(e, "property 'options.allowedResponseCodes': not a list of codes");
            goto out;
        }
        size_t i;
        json_t *v;
        json_array_foreach(codes, i, v) {
            if (!json_is_integer(v) && !(json_is_string(v) && atoi(json_string_value(v)) > 0)) {
                kerr_set(e, "property 'options.allowedResponseCodes[%zu]': not a status code", i);
                goto out;
            }
        }
        r->allowed_codes = json_incref((json_t *)codes);
    }

    /* timeouts: options.timeout, and the older options.connectTimeout/readTimeout/readIdleTimeout */
    if (opt_ms(opts, "connectTimeout", "options", &r->o.connect_timeout_ms, e) ||
        opt_ms(opts, "readTimeout", "options", &r->o.idle_timeout_ms, e) ||
        opt_ms(opts, "readIdleTimeout", "options", &r->o.idle_timeout_ms, e))
        goto out;
    const json_t *to = json_object_get(opts, "timeout");
    if (to && json_is_object(to) &&
        (opt_ms(to, "connectTimeout", "options.timeout", &r->o.connect_timeout_ms, e) ||
         opt_ms(to, "readIdleTimeout", "options.timeout", &r->o.idle_timeout_ms, e)))
        goto out;

    const json_t *mcl = json_object_get(opts, "maxContentLength");
    if (mcl && json_is_integer(mcl)) {
        json_int_t n = json_integer_value(mcl);
        if (n <= 0 || (uint64_t)n > HTTP_MAX_BODY_CAP) {
            kerr_set(e, "property 'options.maxContentLength': %lld is not between 1 and %zu",
                     (long long)n, HTTP_MAX_BODY_CAP);
            goto out;
        }
        r->o.max_body = (size_t)n;
    }

    /* TLS: options.ssl, else the older sslOptions */
    const json_t *ssl = json_object_get(opts, "ssl");
    if (!ssl || json_is_null(ssl))
        ssl = ssl_old;
    if (ssl && json_is_object(ssl) &&
        opt_bool(ssl, "insecureTrustAllCertificates", json_object_get(opts, "ssl") ? "options.ssl"
                                                                                  : "sslOptions",
                 &r->o.insecure, e))
        goto out;

    /* auth: options.auth {type BASIC|BEARER}, and the older basicAuthUser/Password */
    const json_t *auth = json_object_get(opts, "auth");
    char *atype = auth && json_is_object(auth) ? opt_text(auth, "type") : NULL;
    if (atype && !strcasecmp(atype, "BASIC")) {
        r->user = opt_text(auth, "username");
        r->password = opt_text(auth, "password");
        if (!r->user) {
            free(atype);
            kerr_set(e, "property 'options.auth.username': required for BASIC");
            goto out;
        }
    } else if (atype && !strcasecmp(atype, "BEARER")) {
        r->bearer = opt_text(auth, "token");
        if (!r->bearer || !*r->bearer) {
            free(atype);
            kerr_set(e, "property 'options.auth.token': required for BEARER");
            goto out;
        }
    } else if (atype) {
        kerr_set(e, "property 'options.auth.type': '%s' is not BASIC or BEARER", atype);
        free(atype);
        goto out;
    } else if (auth && !json_is_null(auth)) {
        kerr_set(e, "property 'options.auth.type': required (BASIC or BEARER)");
        goto out;
    }
    free(atype);
    if (!r->user && json_object_get(opts, "basicAuthUser")) {
        r->user = opt_text(opts, "basicAuthUser");
        r->password = opt_text(opts, "basicAuthPassword");
    }
    task_secret(c, r->password);
    task_secret(c, r->bearer);

    /* proxy: options.proxy {type, address, port, username, password}, and the
     * older proxyType/proxyAddress/... */
    const json_t *px = json_object_get(opts, "proxy");
    char *pxtype, *paddr, *pport, *puser, *ppass;
    int bad_proxy = 0;
    if (px && json_is_object(px)) {
        pxtype = opt_text(px, "type"), paddr = opt_text(px, "address");
        pport = opt_text(px, "port"), puser = opt_text(px, "username");
        ppass = opt_text(px, "password");
    } else {
        pxtype = opt_text(opts, "proxyType"), paddr = opt_text(opts, "proxyAddress");
        pport = opt_text(opts, "proxyPort"), puser = opt_text(opts, "proxyUsername");
        ppass = opt_text(opts, "proxyPassword");
    }
    task_secret(c, ppass);
    if (paddr && *paddr && (!pxtype || strcasecmp(pxtype, "DIRECT") != 0)) {
        const char *scheme = pxtype && !strcasecmp(pxtype, "SOCKS") ? "socks5h" : "http";
        if (pxtype && strcasecmp(pxtype, "SOCKS") && strcasecmp(pxtype, "HTTP")) {
            bad_proxy = 1;
            kerr_set(e, "property 'options.proxy.type': '%s' is not DIRECT, HTTP or SOCKS", pxtype);
        } else {
            buf p = BUF_INIT;
            buf_printf(&p, "%s://", scheme);
            if (puser && *puser) {
                char *u = url_part(puser), *w = url_part(ppass ? ppass : "");
                buf_printf(&p, "%s:%s@", u, w);
                explicit_bzero(w, strlen(w));
                free(u);
                free(w);
            }
            buf_printf(&p, "%s", paddr);
            if (pport && *pport)
                buf_printf(&p, ":%s", pport);
            r->proxy = buf_steal(&p);
            r->o.proxy = r->proxy;
        }
    }
    free(pxtype), free(paddr), free(pport), free(puser);
    if (ppass)
        explicit_bzero(ppass, strlen(ppass));
    free(ppass);
    if (bad_proxy)
        goto out;

    r->charset = opt_text(opts, "defaultCharset");
    rc = 0;
out:
    json_decref(opts);
    json_decref(ssl_old);
    return rc;
}

/* Converts n bytes of s from charset `from` to `to` into out. */
static int convert_charset(const char *from, const char *to, const char *s, size_t n, buf *out,
                           kerr *e)
{
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return kerr_set(e, "unknown charset '%s'", strcasecmp(from, "UTF-8") ? from : to);
    char *in = (char *)s;
    size_t left = n;
    char tmp[4096];
    while (left) {
        char *o = tmp;
        size_t room = sizeof tmp;
        size_t k = iconv(cd, &in, &left, &o, &room);
        buf_append(out, tmp, (size_t)(o - tmp));
        if (k == (size_t)-1 && errno != E2BIG) {
            iconv_close(cd);
            return kerr_set(e, "text cannot be converted from %s to %s at byte %zu", from, to,
                            (size_t)(in - s));
        }
    }
    iconv_close(cd);
    return 0;
}

static int is_utf8_name(const char *cs)
{
    return !cs || !strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "UTF8");
}

/* The storage file at uri copied to a temporary file (a part of a multipart
 * body); *path is kept in r to be removed afterwards. */
static int storage_to_tmp(task_ctx *c, hreq *r, const char *uri, char **path, kerr *e)
{
    if (!c->storage)
        return kerr_set(e, "%s: no internal storage here (a trigger's request)", uri);
    int in = storage_open_fd(c->storage, uri, e);
    if (in < 0)
        return -1;
    FILE *f = tasks__tmp_file(c, path, e);
    if (!f) {
        close(in);
        return -1;
    }
    r->tmp_files = xrealloc(r->tmp_files, (r->ntmp + 1) * sizeof *r->tmp_files);
    r->tmp_files[r->ntmp++] = xstrdup(*path);
    char b[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, b, sizeof b)) > 0)
        if (fwrite(b, 1, (size_t)n, f) != (size_t)n) {
            rc = kerr_set(e, "cannot copy %s to a temporary file: %s", uri, strerror(errno));
            break;
        }
    if (n < 0)
        rc = kerr_set(e, "cannot read %s: %s", uri, strerror(errno));
    close(in);
    if (fclose(f) && !rc)
        rc = kerr_set(e, "cannot write a temporary file: %s", strerror(errno));
    return rc;
}

static const char *uri_basename(const char *uri)
{
    const char *s = strrchr(uri, '/');
    return s && s[1] ? s + 1 : uri;
}

static void add_part(hreq *r, const char *name, char *data, size_t len, const char *path,
                     const char *filename)
{
    r->parts = xrealloc(r->parts, (r->nparts + 1) * sizeof *r->parts);
    r->parts[r->nparts++] = (httpc_part){.name = xstrdup(name), .data = data, .len = len,
                                         .path = path,
                                         .filename = filename ? xstrdup(filename) : NULL};
}

/* formData as a multipart body: a storage URI sends the file, {name,
 * content} sends the file `content` named `name`, anything else its text
 * (maps and lists as JSON, as Kestra). */
static int form_multipart(task_ctx *c, hreq *r, const json_t *form, kerr *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)form, k, v) {
        const char *fileuri = NULL, *fname = NULL;
        if (json_is_string(v) && storage_uri_has_scheme(json_string_value(v))) {
            fileuri = json_string_value(v);
            fname = uri_basename(fileuri);
        } else if (json_is_object(v) && json_is_string(json_object_get(v, "name")) &&
                   json_is_string(json_object_get(v, "content"))) {
            fileuri = json_string_value(json_object_get(v, "content"));
            fname = json_string_value(json_object_get(v, "name"));
        }
        if (fileuri) {
            char *path;
            if (storage_to_tmp(c, r, fileuri, &path, e)) {
                kerr_prefix(e, "property 'formData.%s'", k);
                return -1;
            }
            add_part(r, k, NULL, 0, r->tmp_files[r->ntmp - 1], fname);
            free(path);
        } else {
            char *t = json_is_string(v) ? xstrdup(json_string_value(v))
                                        : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            add_part(r, k, t, strlen(t), NULL, NULL);
        }
    }
    return 0;
}

/* formData url-encoded: name=value&... (values as text). */
static void form_urlencoded(hreq *r, const json_t *form)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)form, k, v) {
        char *t = expr_value_to_text(v);
        if (!first)
            buf_putc(&r->body, '&');
        first = 0;
        httpc_escape(k, strlen(k), &r->body);
        buf_putc(&r->body, '=');
        httpc_escape(t, strlen(t), &r->body);
        free(t);
    }
    r->has_body = 1;
}

/* Builds r from the task's properties. */
static int http_build(task_ctx *c, hreq *r, kerr *e)
{
    json_t *hdrs = NULL, *form = NULL;
    char *ctype = NULL, *body = NULL;
    int rc = -1;
    memset(r, 0, sizeof *r);
    if (task_prop_string(c, "uri", NULL, &r->uri, e) ||
        task_prop_string(c, "method", "GET", &r->method, e) ||
        task_prop(c, "headers", &hdrs, e) || task_prop(c, "formData", &form, e) ||
        task_prop_string(c, "contentType", "application/json", &ctype, e) ||
        tasks__prop_text(c, "body", NULL, &body, e) || read_options(c, r, e))
        goto out;
    if (!r->uri || !*r->uri) {
        kerr_set(e, "property 'uri' is required");
        goto out;
    }
    for (char *m = r->method; *m; m++)
        if (*m >= 'a' && *m <= 'z')
            *m = (char)(*m - 'a' + 'A');
    if (!*r->method || strspn(r->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(r->method)) {
        kerr_set(e, "property 'method': '%s' is not an HTTP method", r->method);
        goto out;
    }
    if (hdrs && json_is_object(hdrs)) {
        const char *k;
        json_t *v;
        json_object_foreach(hdrs, k, v) {
            char *t = expr_value_to_text(v);
            if (strpbrk(k, "\r\n:") || strpbrk(t, "\r\n")) {
                kerr_set(e, "property 'headers.%s': a header name or value holds a line break "
                            "or a colon", k);
                free(t);
                goto out;
            }
            if (!strcasecmp(k, "Authorization") || !strcasecmp(k, "Proxy-Authorization")) {
                task_secret(c, t);
                const char *sp = strchr(t, ' ');
                if (sp)
                    task_secret(c, sp + 1);
            }
            add_header(r, k, t);
            free(t);
        }
    } else if (hdrs && !json_is_null(hdrs)) {
        kerr_set(e, "property 'headers': not a map of names to values");
        goto out;
    }
    const char *cs = r->charset ? r->charset : "UTF-8";
    if (form && json_is_object(form) && json_object_size(form)) {
        if (!strncasecmp(ctype, "multipart/form-data", 19)) {
            if (form_multipart(c, r, form, e))
                goto out;
        } else {
            form_urlencoded(r, form);
            if (!has_header(r, "Content-Type"))
                add_header(r, "Content-Type", "application/x-www-form-urlencoded");
        }
    } else if (form && !json_is_null(form) && !json_is_object(form)) {
        kerr_set(e, "property 'formData': not a map of fields");
        goto out;
    } else if (body) {
        if (is_utf8_name(cs)) {
            buf_puts(&r->body, body);
        } else if (convert_charset("UTF-8", cs, body, strlen(body), &r->body, e)) {
            kerr_prefix(e, "property 'body' in options.defaultCharset");
            goto out;
        }
        r->has_body = 1;
        if (!has_header(r, "Content-Type")) {
            char *v = strcasestr(ctype, "charset=") ? xstrdup(ctype)
                                                    : xasprintf("%s; charset=%s", ctype, cs);
            add_header(r, "Content-Type", v);
            free(v);
        }
    }
    rc = 0;
out:
    json_decref(hdrs);
    json_decref(form);
    free(ctype);
    free(body);
    return rc;
}

/* Sends r with this thread's client; streams the body to sink when not
 * NULL. */
static int http_send(task_ctx *c, hreq *r, httpc_sink sink, void *sink_ud, httpc_resp *resp,
                     kerr *e)
{
    httpc_req q = {
        .method = r->method,
        .url = r->uri,
        .headers = (const char *const *)r->hdrs,
        .body = r->has_body ? (r->body.data ? r->body.data : "") : NULL,
        .body_len = r->body.len,
        .basic_user = r->user,
        .basic_password = r->password,
        .bearer = r->bearer,
        .sink = sink,
        .sink_ud = sink_ud,
    };
    httpc_more more = {.parts = r->parts, .nparts = r->nparts, .cancel = c->cancel};
    if (c->deadline_us) {
        int64_t left = c->deadline_us - time_mono_us();
        r->o.timeout_ms = left > 1000 ? (long)(left / 1000) : 1;
    }
    if (!r->o.idle_timeout_ms)
        r->o.idle_timeout_ms = 300000;   /* Kestra's readIdleTimeout default, 5 min */
    return httpc_do_more(thread_client(), &q, &more, &r->o, resp, e);
}

/* 1 when the status passes: < 400, or allowed by allowFailed or
 * allowedResponseCodes (which, when given, is the whole list of codes that
 * pass). */
static int status_ok(const hreq *r, long status)
{
    if (r->allow_failed)
        return 1;
    if (r->allowed_codes) {
        size_t i;
        json_t *v;
        json_array_foreach(r->allowed_codes, i, v) {
            long code = json_is_integer(v) ? (long)json_integer_value(v)
                                           : atol(json_string_value(v));
            if (code == status)
                return 1;
        }
        return 0;
    }
    return status < 400;
}

/* The failure of a refused status, one line: "GET http://h/x: server answered
 * 503 (first bytes of the body)". */
static void status_fail(const hreq *r, const httpc_resp *resp, const char *body, size_t n,
                        kerr *e)
{
    buf u = BUF_INIT, b = BUF_INIT;
    httpc_redact_url(r->uri, &u);
    for (size_t i = 0; body && i < n && i < 200; i++)
        buf_putc(&b, body[i] == '\n' || body[i] == '\r' || body[i] == '\t' ? ' ' : body[i]);
    char *clean = utf8_clean(b.data ? b.data : "", b.len);
    if (*clean)
        kerr_set(e, "%s %s: server answered %ld (%s)", r->method, buf_str(&u), resp->status,
                 clean);
    else
        kerr_set(e, "%s %s: server answered %ld", r->method, buf_str(&u), resp->status);
    free(clean);
    buf_free(&u);
    buf_free(&b);
}

/* {name: [values...]} of the response's headers, names as the server spelled
 * them (the first spelling when one repeats in another case). */
static json_t *headers_json(const httpc_resp *resp)
{
    json_t *h = json_object();
    for (size_t i = 0; i < resp->nheaders; i++) {
        const char *k = resp->headers[i].name;
        json_t *list = NULL;
        const char *ek;
        json_t *ev;
        json_object_foreach(h, ek, ev) {
            if (!strcasecmp(ek, k)) {
                list = ev;
                break;
            }
        }
        if (!list) {
            list = json_array();
            json_object_set_new(h, k, list);
        }
        char *v = utf8_clean(resp->headers[i].value, strlen(resp->headers[i].value));
        json_array_append_new(list, json_string(v));
        free(v);
    }
    return h;
}

/* The charset parameter of the response's Content-Type, malloc'd, or NULL. */
static char *resp_charset(const httpc_resp *resp)
{
    const char *ct = httpc_resp_header(resp, "Content-Type");
    const char *p = ct ? strcasestr(ct, "charset=") : NULL;
    if (!p)
        return NULL;
    p += 8;
    if (*p == '"')
        p++;
    size_t n = strcspn(p, "\"; ");
    return n ? xstrndup(p, n) : NULL;
}

/* A failed send, with Request's hint when the body was over the cap. */
static void send_failed(kerr *e, const char *task)
{
    if (strstr(e->msg, "response body larger than"))
        kerr_set(e, "%s; %s keeps at most options.maxContentLength bytes of body (10 MiB by "
                    "default): use io.kestra.plugin.core.http.Download to store a larger one",
                 e->msg, task);
}

/* ---- Request ----------------------------------------------------------------- */

static task_result request_run(task_ctx *c, kerr *e)
{
    hreq r;
    httpc_resp resp = HTTPC_RESP_INIT;
    task_result res = TASK_FAILED;
    int encrypt = 0;
    char *cs = NULL;
    buf text = BUF_INIT;
    if (http_build(c, &r, e) || task_prop_bool(c, "encryptBody", 0, &encrypt, e))
        goto out;
    if (http_send(c, &r, NULL, NULL, &resp, e)) {
        if (task_cancelled(c))
            res = TASK_KILLED;
        send_failed(e, "Request");
        goto out;
    }
    buf u = BUF_INIT;
    httpc_redact_url(r.uri, &u);
    task_log(c, LEVEL_INFO, "%s %s: %ld, %llu bytes in %.3f s", r.method, buf_str(&u),
             resp.status, (unsigned long long)resp.body_bytes, resp.total_s);
    buf_free(&u);
    if (!status_ok(&r, resp.status)) {
        status_fail(&r, &resp, resp.body.data, resp.body.len, e);
        goto out;
    }
    /* the body as text: decoded from the answer's charset when it names one */
    cs = resp_charset(&resp);
    if (!is_utf8_name(cs)) {
        if (convert_charset(cs, "UTF-8", resp.body.data ? resp.body.data : "", resp.body.len,
                            &text, e)) {
            buf u3 = BUF_INIT;
            httpc_redact_url(r.uri, &u3);
            kerr_prefix(e, "%s %s: the response body", r.method, buf_str(&u3));
            buf_free(&u3);
            goto out;
        }
    } else {
        buf_append(&text, resp.body.data ? resp.body.data : "", resp.body.len);
    }
    if (!utf8_valid(text.data ? text.data : "", text.len) ||
        (text.len && memchr(text.data, 0, text.len))) {
        buf u2 = BUF_INIT;
        httpc_redact_url(r.uri, &u2);
        kerr_set(e, "%s %s: the response body is not text (invalid UTF-8 or a NUL byte); use "
                    "io.kestra.plugin.core.http.Download to store it as a file",
                 r.method, buf_str(&u2));
        buf_free(&u2);
        goto out;
    }
    task_output(c, "code", json_integer(resp.status));
    task_output(c, "headers", headers_json(&resp));
    task_output(c, "uri", json_string(r.uri));
    json_t *body = resp.body_bytes ? json_stringn(text.data, text.len) : json_null();
    if (encrypt) {
        /* as Kestra: encryptedBody {type: io.kestra.datatype:aes_encrypted,
         * value} with kite.yml's encryption.secretKey (decrypted for the
         * tasks that read it); without a key, in clear; masked either way */
        json_t *sealed = NULL;
        if (text.len) {
            char *t = xstrndup(text.data, text.len);
            task_secret(c, t);
            sealed = tasks__encrypted(c, t, text.len);
            free(t);
        }
        if (sealed) {
            json_decref(body);
            body = sealed;
        } else if (text.len) {
            task_log(c, LEVEL_WARN, "encryptBody: kite stores the body in clear in output 'encryptedBody' (masked "
                                    "in logs): no encryption key (kite.yml encryption.secretKey)");
        }
        task_output(c, "encryptedBody", body);
        task_output(c, "body", json_null());
    } else {
        task_output(c, "body", body);
    }
    res = TASK_SUCCESS;
out:
    free(cs);
    buf_free(&text);
    httpc_resp_free(&resp);
    hreq_free(&r);
    return res;
}

/* ---- Download ---------------------------------------------------------------- */

typedef struct dl {
    task_ctx *c;
    httpc_resp *resp;
    const char *name;            /* saveAs, or NULL: from the answer or the URL */
    const char *url;
    storage_writer *w;
    char *uri;
    kerr err;
} dl;

/* The file name from Content-Disposition (filename= or filename*=), the last
 * segment only; malloc'd or NULL. */
static char *disposition_name(const char *cd)
{
    if (!cd)
        return NULL;
    char *name = NULL;
    const char *p = cd;
    while ((p = strcasestr(p, "filename"))) {
        const char *v = p + 8;
        int ext = *v == '*';
        if (ext)
            v++;
        if (*v != '=') {
            p = v;
            continue;
        }
        v++;
        if (ext) {
            const char *q = strstr(v, "''");
            if (q)
                v = q + 2;
        }
        if (*v == '"')
            v++;
        size_t n = strcspn(v, "\";");
        free(name);
        name = xstrndup(v, n);
        if (ext) {
            /* percent-decoded */
            char *o = name;
            for (char *s = name; *s; s++) {
                if (*s == '%' && s[1] && s[2]) {
                    char h[3] = {s[1], s[2], 0};
                    *o++ = (char)strtol(h, NULL, 16);
                    s += 2;
                } else {
                    *o++ = *s;
                }
            }
            *o = 0;
        }
        p = v + n;
    }
    if (name) {
        char *slash = strrchr(name, '/');
        if (slash) {
            char *t = xstrdup(slash + 1);
            free(name);
            name = t;
        }
        if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
            free(name);
            name = NULL;
        }
    }
    return name;
}

/* The name the file gets in storage. */
static char *download_name(const dl *d)
{
    if (d->name && *d->name)
        return xstrdup(d->name);
    char *n = disposition_name(httpc_resp_header(d->resp, "Content-Disposition"));
    if (n)
        return n;
    const char *s = strstr(d->url, "://");
    s = s ? s + 3 : d->url;
    const char *path = strchr(s, '/');
    if (path) {
        size_t len = strcspn(path, "?#");
        const char *end = path + len;
        const char *b = end;
        while (b > path && b[-1] != '/')
            b--;
        if (b < end && !(end - b == 1 && *b == '.') && !(end - b == 2 && !strncmp(b, "..", 2)))
            return xstrndup(b, (size_t)(end - b));
    }
    return xstrdup("download");
}

static int dl_open(dl *d)
{
    char *name = download_name(d);
    d->uri = storage_uri_task_file(d->c->namespace, d->c->flow_id, d->c->execution_id,
                                   d->c->task_id, d->c->taskrun_id, name, &d->err);
    free(name);
    if (!d->uri)
        return -1;
    d->w = storage_writer_new(d->c->storage, d->uri, &d->err);
    return d->w ? 0 : -1;
}

/* The sink: the first piece opens the storage writer (the headers are known
 * by then, for Content-Disposition). */
static int dl_sink(void *ud, const char *data, size_t n)
{
    dl *d = ud;
    if (!d->w && dl_open(d))
        return 1;
    return storage_writer_write(d->w, data, n, &d->err) ? 1 : 0;
}

static task_result download_run(task_ctx *c, kerr *e)
{
    hreq r;
    httpc_resp resp = HTTPC_RESP_INIT;
    task_result res = TASK_FAILED;
    int fail_empty = 1;
    char *save_as = NULL;
    dl d = {.c = c, .resp = &resp, .err = KERR_INIT};
    if (http_build(c, &r, e) || task_prop_bool(c, "failOnEmptyResponse", 1, &fail_empty, e) ||
        task_prop_string(c, "saveAs", NULL, &save_as, e))
        goto out;
    if (save_as && (strchr(save_as, '/') || !*save_as || !strcmp(save_as, ".") ||
                    !strcmp(save_as, ".."))) {
        kerr_set(e, "property 'saveAs': '%s' is not a file name (no '/')", save_as);
        goto out;
    }
    d.name = save_as;
    d.url = r.uri;
    if (http_send(c, &r, dl_sink, &d, &resp, e)) {
        if (task_cancelled(c))
            res = TASK_KILLED;
        if (d.err.code)
            kerr_set(e, "%s; storing the download: %s", e->msg, d.err.msg);
        goto out;
    }
    buf u = BUF_INIT;
    httpc_redact_url(r.uri, &u);
    task_log(c, LEVEL_INFO, "%s %s: %ld, %llu bytes in %.3f s", r.method, buf_str(&u),
             resp.status, (unsigned long long)resp.body_bytes, resp.total_s);
    if (!status_ok(&r, resp.status)) {
        status_fail(&r, &resp, NULL, 0, e);
        buf_free(&u);
        goto out;
    }
    if (resp.body_bytes == 0) {
        if (fail_empty && !r.allow_failed) {
            kerr_set(e, "%s %s: no response body from the server (%ld); set "
                        "failOnEmptyResponse: false to accept an empty file",
                     r.method, buf_str(&u), resp.status);
            buf_free(&u);
            goto out;
        }
        task_log(c, LEVEL_WARN, "File '%s' is empty", buf_str(&u));
    }
    buf_free(&u);
    if (!d.w && dl_open(&d)) {
        kerr_set(e, "storing the download: %s", d.err.msg);
        goto out;
    }
    storage_writer *w = d.w;
    d.w = NULL;
    if (storage_writer_commit(w, e)) {
        kerr_prefix(e, "storing the download");
        goto out;
    }
    task_output(c, "uri", json_string(d.uri));
    task_output(c, "code", json_integer(resp.status));
    task_output(c, "length", json_integer((json_int_t)resp.body_bytes));
    task_output(c, "headers", headers_json(&resp));
    task_metric(c, "response.length", METRIC_COUNTER, (double)resp.body_bytes, NULL);
    res = TASK_SUCCESS;
out:
    storage_writer_abort(d.w);
    free(d.uri);
    free(save_as);
    httpc_resp_free(&resp);
    hreq_free(&r);
    return res;
}

/* ---- SseRequest -------------------------------------------------------------- */

typedef struct sse {
    buf line;                    /* the line being read */
    buf data;                    /* data: lines of the event being read */
    char *event, *id, *comment;
    long retry;
    int has_data;
    json_t *events;
    size_t bytes;
    int over;                    /* more than the caps */
} sse;

static void sse_dispatch(sse *s)
{
    if (!s->has_data && !s->event && !s->id && !s->comment)
        return;
    json_t *ev = json_object();
    if (s->event)
        json_object_set_new(ev, "event", json_string(s->event));
    if (s->id)
        json_object_set_new(ev, "id", json_string(s->id));
    if (s->comment)
        json_object_set_new(ev, "comment", json_string(s->comment));
    if (s->retry >= 0)
        json_object_set_new(ev, "retry", json_integer(s->retry));
    if (s->has_data) {
        const char *t = s->data.data ? s->data.data : "";
        json_error_t je;
        json_t *j = json_loadb(t, s->data.len, JSON_DECODE_ANY, &je);
        json_object_set_new(ev, "data", j ? j : json_stringn(t, s->data.len));
    }
    json_array_append_new(s->events, ev);
    buf_reset(&s->data);
    free(s->event), free(s->id), free(s->comment);
    s->event = s->id = s->comment = NULL;
    s->retry = -1;
    s->has_data = 0;
}

static void sse_line(sse *s, const char *l, size_t n)
{
    if (n && l[n - 1] == '\r')
        n--;
    if (!n) {
        sse_dispatch(s);
        return;
    }
    const char *colon = memchr(l, ':', n);
    size_t kn = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vn = (size_t)(l + n - v);
    if (vn && *v == ' ')
        v++, vn--;
    char *val = utf8_clean(v, vn);
    if (kn == 0) {
        free(s->comment);
        s->comment = val;
        return;
    }
    if (kn == 4 && !memcmp(l, "data", 4)) {
        if (s->has_data)
            buf_putc(&s->data, '\n');
        buf_puts(&s->data, val);
        s->has_data = 1;
    } else if (kn == 5 && !memcmp(l, "event", 5)) {
        free(s->event);
        s->event = val;
        val = NULL;
    } else if (kn == 2 && !memcmp(l, "id", 2)) {
        free(s->id);
        s->id = val;
        val = NULL;
    } else if (kn == 5 && !memcmp(l, "retry", 5)) {
        s->retry = atol(val);
    }
    free(val);
}

static int sse_sink(void *ud, const char *data, size_t n)
{
    sse *s = ud;
    s->bytes += n;
    if (s->bytes > HTTP_SSE_MAX_BYTES || json_array_size(s->events) > HTTP_SSE_MAX_EVENTS) {
        s->over = 1;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            sse_line(s, s->line.data ? s->line.data : "", s->line.len);
            buf_reset(&s->line);
        } else {
            buf_putc(&s->line, data[i]);
        }
    }
    return 0;
}

/* The jq expression applied to one event: its first result as text, NULL when
 * it yields nothing (or null); -1 with e set when it fails. */
static int sse_jq(const char *q, const json_t *ev, char **out, kerr *e)
{
    *out = NULL;
    json_t *ctx = json_pack("{sOss}", "event", ev, "q", q);
    json_t *res = NULL;
    int rc = expr_eval_string("{{ event | jq(q) }}", ctx, NULL, &res, e);
    json_decref(ctx);
    if (rc)
        return -1;
    const json_t *v = json_is_array(res) ? json_array_get(res, 0) : res;
    if (v && !json_is_null(v)) {
        if (json_is_object(v) || json_is_array(v)) {
            json_decref(res);
            return kerr_set(e, "expected a text value from the jq expression, got %s",
                            json_is_object(v) ? "an object" : "a list");
        }
        *out = expr_value_to_text(v);
    }
    json_decref(res);
    return 0;
}

static task_result sse_run(task_ctx *c, kerr *e)
{
    hreq r;
    httpc_resp resp = HTTPC_RESP_INIT;
    task_result res = TASK_FAILED;
    char *jq = NULL;
    int fail_missing = 1;
    sse s = {.line = BUF_INIT, .data = BUF_INIT, .retry = -1, .events = json_array()};
    if (http_build(c, &r, e) || task_prop_string(c, "concatJqExpression", NULL, &jq, e) ||
        task_prop_bool(c, "failedOnMissingJq", 1, &fail_missing, e))
        goto out;
    if (!has_header(&r, "Accept"))
        add_header(&r, "Accept", "text/event-stream");
    if (http_send(c, &r, sse_sink, &s, &resp, e)) {
        if (task_cancelled(c))
            res = TASK_KILLED;
        if (s.over)
            kerr_set(e, "%s; SseRequest keeps at most %d events and %zu MiB", e->msg,
                     HTTP_SSE_MAX_EVENTS, HTTP_SSE_MAX_BYTES >> 20);
        goto out;
    }
    if (s.line.len)
        sse_line(&s, s.line.data, s.line.len);
    sse_dispatch(&s);
    if (!status_ok(&r, resp.status)) {
        status_fail(&r, &resp, NULL, 0, e);
        goto out;
    }
    size_t n = json_array_size(s.events);
    task_log(c, LEVEL_INFO, "%zu events received", n);
    task_output(c, "uri", json_string(r.uri));
    task_output(c, "size", json_integer((json_int_t)n));
    task_metric(c, "size", METRIC_COUNTER, (double)n, NULL);
    if (jq && *jq) {
        /* Kestra's examples write paths as "$.a.b": jq's ".a.b" */
        const char *q = jq[0] == '$' && jq[1] == '.' ? jq + 1 : jq;
        buf out = BUF_INIT;
        size_t i;
        json_t *ev;
        int got = 0;
        json_array_foreach(s.events, i, ev) {
            char *t;
            kerr je = KERR_INIT;
            if (sse_jq(q, ev, &t, &je) || !t) {
                if (fail_missing) {
                    kerr_set(e, "property 'concatJqExpression': '%s' yields no text value for "
                                "event %zu%s%s", jq, i + 1, je.code ? ": " : "",
                             je.code ? je.msg : "");
                    buf_free(&out);
                    goto out;
                }
                continue;
            }
            buf_puts(&out, t);
            got = 1;
            free(t);
        }
        task_output(c, "result", got ? json_stringn(out.data ? out.data : "", out.len)
                                      : json_null());
        task_output(c, "events", json_null());
        buf_free(&out);
    } else {
        task_output(c, "events", json_incref(s.events));
        task_output(c, "result", json_null());
    }
    res = TASK_SUCCESS;
out:
    buf_free(&s.line);
    buf_free(&s.data);
    free(s.event), free(s.id), free(s.comment);
    json_decref(s.events);
    free(jq);
    httpc_resp_free(&resp);
    hreq_free(&r);
    return res;
}

/* ---- the HTTP trigger's request (sched/httptrigger.c) ------------------------ */

static json_t *as_rendered(task_ctx *c, const json_t *v, char **err_path, kerr *e)
{
    if (err_path)
        *err_path = NULL;
    return json_deep_copy(v);
}

static void no_log(task_ctx *c, store_level level, const char *msg)
{
}

static char *poll_encrypt(task_ctx *c, const char *plain, size_t len)
{
    kerr e = KERR_INIT;
    return c->engine ? aesgcm_encrypt(c->engine, plain, len, &e) : NULL;
}

int tasks_http_poll(const json_t *props, const char *enc_key, json_t **out, kerr *e)
{
    static const task_ctx_ops ops = {.render = as_rendered, .log = no_log, .encrypt = poll_encrypt};
    json_t *p = json_deep_copy(props);
    json_t *o = json_object_get(p, "options");
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(p, "options", o);
    }
    /* the condition decides what a status means, as in Kestra */
    json_object_set_new(o, "allowFailed", json_true());
    task_ctx c = {.ops = &ops, .engine = (void *)enc_key, .task = p, .def = flow_type_find("http.request"),
                  .namespace = "", .flow_id = "", .execution_id = "", .task_id = "trigger",
                  .taskrun_id = "", .attempt = 1, .exit_state = -1};
    c.outputs = json_object();
    c.metrics = json_array();
    task_result r = request_run(&c, e);
    json_decref(p);
    json_decref(c.metrics);
    json_decref(c.labels);
    if (r != TASK_SUCCESS) {
        json_decref(c.outputs);
        *out = NULL;
        return -1;
    }
    *out = c.outputs;
    return 0;
}

static const struct task_hooks request_hooks = {.run = request_run};
static const struct task_hooks download_hooks = {.run = download_run};
static const struct task_hooks sse_hooks = {.run = sse_run};

/* ---- the family's types ---- */

#define P_HTTP_COMMON                                                                    \
    PSTR("uri", PF_REQUIRED, NULL, "the URL"),                                           \
    PSTR("method", 0, "\"GET\"", "the HTTP method (GET, POST, PUT, PATCH, DELETE, ...)"), \
    PSTR("body", 0, NULL, "the request body"),                                           \
    PMAP("formData", 0, NULL, &tasks__item_any,                                          \
         "form fields, sent url-encoded or as multipart/form-data"),                     \
    PSTR("contentType", 0, "\"application/json\"", "the body's content type"),           \
    PMAP("headers", 0, NULL, &tasks__item_string, "request headers"),                    \
    POBJ("options", 0, NULL, tasks__http_options,                                       \
         "client options: auth, timeout, ssl, proxy, followRedirects, allowFailed, "     \
         "allowedResponseCodes, defaultCharset, maxContentLength"),                      \
    PBOOL("allowFailed", PF_DEPRECATED, "false",                                         \
          "accept a response code >= 400 (use options.allowFailed)"),                    \
    POBJ("sslOptions", PF_DEPRECATED, NULL, http_ssl, "use options.ssl")

/* options: Kestra's HttpConfiguration, its deprecated flat names included */
static const prop_def http_ssl[] = {
    PBOOL("insecureTrustAllCertificates", 0, "false",
          "accept any certificate (self-signed, expired, another host's)"),
    {0},
};

static const prop_def tasks__http_options[] = {
    POBJ("auth", 0, NULL,
         PROPS(PENUM("type", PF_REQUIRED, NULL, ENUMS("BASIC", "BEARER"), "BASIC or BEARER"),
               PSTR("username", 0, NULL, "BASIC: the user"),
               PSTR("password", 0, NULL, "BASIC: the password (masked)"),
               PSTR("token", 0, NULL, "BEARER: the token (masked)")),
         "authentication"),
    POBJ("timeout", 0, NULL,
         PROPS(PDUR("connectTimeout", 0, "\"PT10S\"", "time to connect"),
               PDUR("readIdleTimeout", 0, "\"PT5M\"", "longest wait for a byte of the answer")),
         "timeouts"),
    POBJ("ssl", 0, NULL, http_ssl, "TLS options"),
    POBJ("proxy", 0, NULL,
         PROPS(PENUM("type", 0, "\"DIRECT\"", ENUMS("DIRECT", "HTTP", "SOCKS"),
                     "DIRECT (none), HTTP or SOCKS"),
               PSTR("address", 0, NULL, "the proxy's host"),
               PINT("port", 0, NULL, "the proxy's port"),
               PSTR("username", 0, NULL, "proxy user"),
               PSTR("password", 0, NULL, "proxy password (masked)")),
         "the proxy"),
    PBOOL("followRedirects", 0, "true", "follow 3xx answers (at most 10)"),
    PBOOL("allowFailed", 0, "false", "accept a response code >= 400"),
    PLIST("allowedResponseCodes", 0, NULL, ITEM({.type = PT_INT}),
          "the codes that pass (when given, every other code fails)"),
    PSTR("defaultCharset", 0, "\"UTF-8\"", "charset of the request body"),
    PINT("maxContentLength", 0, "10485760", "Request: bytes of body kept (at most 2 GiB)"),
    PLIST("logs", 0, NULL, &tasks__item_string, "accepted; kite logs one line per request"),
    PDUR("connectTimeout", PF_DEPRECATED, NULL, "use timeout.connectTimeout"),
    PDUR("readTimeout", PF_DEPRECATED, NULL, "use timeout.readIdleTimeout"),
    PDUR("readIdleTimeout", PF_DEPRECATED, NULL, "use timeout.readIdleTimeout"),
    PDUR("connectionPoolIdleTimeout", PF_DEPRECATED, NULL, "accepted, not used"),
    PSTR("proxyType", PF_DEPRECATED, NULL, "use proxy.type"),
    PSTR("proxyAddress", PF_DEPRECATED, NULL, "use proxy.address"),
    PINT("proxyPort", PF_DEPRECATED, NULL, "use proxy.port"),
    PSTR("proxyUsername", PF_DEPRECATED, NULL, "use proxy.username"),
    PSTR("proxyPassword", PF_DEPRECATED, NULL, "use proxy.password"),
    PSTR("basicAuthUser", PF_DEPRECATED, NULL, "use auth"),
    PSTR("basicAuthPassword", PF_DEPRECATED, NULL, "use auth"),
    PSTR("logLevel", PF_DEPRECATED, NULL, "accepted, not used"),
    {0},
};

const type_def tasks__http[] = {
    {
        .name = "http.request",
        .aliases = ALIASES("io.kestra.plugin.core.http.Request",
                           "io.kestra.plugin.fs.http.Request"),
        .hooks = &request_hooks,
        .needs = httpc_unavailable,
        .desc = "Send an HTTP request (outputs code, headers, body).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("encryptBody", 0, "false", "encrypt the body output")),
    },
    {
        .name = "http.download",
        .aliases = ALIASES("io.kestra.plugin.core.http.Download",
                           "io.kestra.plugin.fs.http.Download"),
        .hooks = &download_hooks,
        .needs = httpc_unavailable,
        .desc = "Download a URL into internal storage (output `uri`).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("failOnEmptyResponse", 0, "true", "fail on an empty body"),
                       PSTR("saveAs", 0, NULL,
                            "the file's name in storage (default: from Content-Disposition, "
                            "else the URL's last segment)")),
    },
    {
        .name = "http.sse_request",
        .aliases = ALIASES("io.kestra.plugin.core.http.SseRequest"),
        .hooks = &sse_hooks,
        .needs = httpc_unavailable,
        .desc = "Consume server-sent events from a URL (outputs events or a jq extract).",
        .props = PROPS(P_HTTP_COMMON,
                       PSTR("concatJqExpression", 0, NULL,
                            "jq applied to each event, the results concatenated"),
                       PBOOL("failedOnMissingJq", 0, "true",
                             "fail when the jq expression yields nothing for an event")),
    },
};

const size_t tasks__http_count = sizeof tasks__http / sizeof tasks__http[0];
