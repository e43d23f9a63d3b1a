/*
 * httpc.c: the HTTP client over libcurl (see httpc.h).
 *
 * DESIGN
 * One easy handle per client, reset between requests: curl_easy_reset keeps
 * the handle's live connections, its TLS session cache and its DNS cache, so
 * a worker that calls the same host again reuses its connection. Only http
 * and https are allowed, for the first request and for every redirect, so a
 * user's URL or a server's Location cannot make kite read file:// or speak
 * gopher. Signals are off (CURLOPT_NOSIGNAL): the client runs in threads.
 *
 * The body is kept in a capped buf (the response's max_body) or streamed to
 * the caller's sink; a body over the cap stops the transfer at once rather
 * than after the whole answer arrived. Headers are those of the last
 * response: a redirect's headers are dropped when the next status line comes.
 */
#include "util/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/httpc_int.h"
#include "util/mem.h"
#include "util/netguard.h"

#define DEF_CONNECT_MS 10000L
#define DEF_IDLE_MS 60000L
#define DEF_MAX_BODY ((size_t)10 << 20)
#define DEF_MAX_REDIRS 10L
#define MAX_HEADERS 256
#define MAX_HEADER_BYTES (256 * 1024)

struct httpc {
    CURL *easy;
    long connects;
    const httpc_aws *aws;   /* set by httpc_do_aws for one request (s3sec) */
};

static struct curl_slist *aws_apply(CURL *h, const httpc_aws *aws, struct curl_slist *hdrs);

/* libcurl is loaded, and initialised, on the first client or mail (util/dl.h):
 * a kite command that speaks no HTTP never maps it. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static const char *global_why = "libcurl was not initialised";

static void global_init(void)
{
    global_why = dl_curl_load();
    if (!global_why && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        global_why = "libcurl could not initialise (curl_global_init)";
}

const char *httpc_unavailable(void)
{
    pthread_once(&global_once, global_init);
    return global_why;
}

httpc *httpc_new(void)
{
    httpc *c = xcalloc(1, sizeof *c);
    if (httpc_unavailable())
        return c;   /* every request fails saying why */
    c->easy = curl_easy_init();
    if (!c->easy) {
        fputs("kite: out of memory (libcurl handle)\n", stderr);
        abort();
    }
    return c;
}

void httpc_free(httpc *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    free(c);
}

long httpc_connects(const httpc *c)
{
    return c->connects;
}

void httpc_resp_free(httpc_resp *r)
{
    if (!r)
        return;
    buf_free(&r->body);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->effective_url);
    memset(r, 0, sizeof *r);
}

const char *httpc_resp_header(const httpc_resp *r, const char *name)
{
    for (size_t i = r->nheaders; i-- > 0;)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void httpc_redact_url(const char *url, buf *out)
{
    const char *scheme = strstr(url, "://");
    if (!scheme) {
        buf_puts(out, url);
        return;
    }
    const char *auth = scheme + 3;
    size_t hostlen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', hostlen);
    if (!at) {
        buf_puts(out, url);
        return;
    }
    buf_append(out, url, (size_t)(auth - url));
    buf_puts(out, at + 1);
}

void httpc_escape(const char *s, size_t n, buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            buf_putc(out, (char)ch);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, esc, 3);
        }
    }
}

/* ---- the SSRF guard (security.ssrf, util/netguard.h) ---- */

/* The host of url (a name, or an address in brackets) into out; "" when
 * there is none. */
static void url_host(const char *url, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!url)
        return;
    CURLU *u = curl_url();
    char *h = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h)
        snprintf(out, outsz, "%s", h);
    curl_free(h);
    curl_url_cleanup(u);
}

/* CURLOPT_OPENSOCKETFUNCTION: the address libcurl is about to connect to,
 * checked; a refusal makes this attempt fail (libcurl tries the host's next
 * address, if any, which is checked in turn). The name given to the guard,
 * for host names in security.ssrf.allow, is the current URL's host (a
 * redirect's once followed) or the proxy's. */
static curl_socket_t guard_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    httpc_guard *g = ud;
    if (a->family == AF_UNIX && g->unix_ok)
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    char host[256];
    const char *src = g->proxy;
    if (!src) {
        char *eff = NULL;
        curl_easy_getinfo(g->h, CURLINFO_EFFECTIVE_URL, &eff);
        src = eff;
    }
    url_host(src, host, sizeof host);
    kerr e = KERR_INIT;
    if (netguard_check_sa(&a->addr, host[0] ? host : NULL, &e)) {
        if (!g->refused[0])
            snprintf(g->refused, sizeof g->refused, "%s", e.msg);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

void httpc__guard_install(CURL *h, httpc_guard *g, const char *proxy)
{
    g->h = h;
    g->proxy = proxy;
    g->refused[0] = '\0';
    g->unix_ok = 0;
    if (!netguard_enabled())
        return;
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, guard_open);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
}

/* ---- for the HTTP tasks (tasks/http.c): multipart bodies, cancel ---- */

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return atomic_load((const atomic_int *)ud) ? 1 : 0;
}

/* The multipart body of more's parts, or NULL with e set (a file that cannot
 * be read). Files are streamed by libcurl when the body is sent. */
static curl_mime *make_mime(CURL *h, const httpc_more *more, const char *method,
                            const char *url, kerr *e)
{
    curl_mime *m = curl_mime_init(h);
    for (size_t i = 0; i < more->nparts; i++) {
        const httpc_part *p = &more->parts[i];
        curl_mimepart *mp = curl_mime_addpart(m);
        curl_mime_name(mp, p->name);
        if (p->path) {
            if (access(p->path, R_OK) != 0 || curl_mime_filedata(mp, p->path) != CURLE_OK) {
                buf u = BUF_INIT;
                httpc_redact_url(url, &u);
                kerr_set(e, "%s %s: cannot read the file of form field '%s': %s", method,
                         buf_str(&u), p->name, strerror(errno));
                buf_free(&u);
                curl_mime_free(m);
                return NULL;
            }
        } else {
            curl_mime_data(mp, p->data ? p->data : "", p->data ? p->len : 0);
        }
        if (p->filename)
            curl_mime_filename(mp, p->filename);
        if (p->type)
            curl_mime_type(mp, p->type);
    }
    return m;
}

/* What one transfer carries into libcurl's callbacks. */
typedef struct xfer {
    httpc_resp *resp;
    const httpc_req *req;
    size_t max_body;
    int too_big;        /* the body passed max_body */
    int stopped;        /* the sink asked to stop */
    int too_many_hdrs;
    size_t header_bytes;
    int fd;             /* upload_path, or -1 */
} xfer;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    x->resp->body_bytes += n;
    if (x->req->sink) {
        if (x->req->sink(x->req->sink_ud, p, n)) {
            x->stopped = 1;
            return 0;
        }
        return n;
    }
    if (x->resp->body.len + n > x->max_body) {
        x->too_big = 1;
        return 0;
    }
    buf_append(&x->resp->body, p, n);
    return n;
}

static void drop_headers(httpc_resp *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    httpc_resp *r = x->resp;
    x->header_bytes += n;
    if (x->header_bytes > MAX_HEADER_BYTES) {
        x->too_many_hdrs = 1;
        return 0;
    }
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or a 100 Continue) */
        drop_headers(r);
        x->header_bytes = n;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    if (r->nheaders >= MAX_HEADERS) {
        x->too_many_hdrs = 1;
        return 0;
    }
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
    r->headers[r->nheaders].name = xstrndup(p, nl);
    r->headers[r->nheaders].value = xstrndup(v, (size_t)(end - v));
    r->nheaders++;
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    for (;;) {
        ssize_t n = read(x->fd, p, size * nmemb);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            return CURL_READFUNC_ABORT;
    }
}

/* The cause of a failed transfer, in words a user reads in one line. */
static void describe(CURL *h, CURLcode rc, const xfer *x, const char *errbuf,
                     const httpc_opts *o, buf *out)
{
    long oserr = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        buf_printf(out, "resolve: %s", errbuf[0] ? errbuf : "host not found");
        return;
    case CURLE_COULDNT_RESOLVE_PROXY:
        buf_printf(out, "resolve proxy: %s", errbuf[0] ? errbuf : "not found");
        return;
    case CURLE_COULDNT_CONNECT:
        if (oserr)
            buf_printf(out, "connect: %s", strerror((int)oserr));
        else
            buf_printf(out, "connect: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    case CURLE_OPERATION_TIMEDOUT:
        buf_printf(out, "timeout: %s", errbuf[0] ? errbuf : "timed out");
        return;
    case CURLE_WRITE_ERROR:
        if (x->too_big) {
            buf_printf(out, "response body larger than the %zu bytes kept", x->max_body);
            return;
        }
        if (x->stopped) {
            buf_puts(out, "stopped by the receiver");
            return;
        }
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        buf_printf(out, "TLS: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    case CURLE_TOO_MANY_REDIRECTS:
        buf_printf(out, "more than %ld redirects", o->max_redirects ? o->max_redirects
                                                                    : DEF_MAX_REDIRS);
        return;
    case CURLE_UNSUPPORTED_PROTOCOL:
        buf_puts(out, "only http and https URLs are allowed");
        return;
    default:
        break;
    }
    if (x->too_many_hdrs) {
        buf_printf(out, "response headers over %d lines or %d bytes", MAX_HEADERS,
                   MAX_HEADER_BYTES);
        return;
    }
    buf_puts(out, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

static int do_request(httpc *c, const httpc_req *req, const httpc_more *more,
                      const httpc_opts *opts, httpc_resp *out, kerr *e)
{
    static const httpc_opts defaults;
    const httpc_opts *o = opts ? opts : &defaults;
    CURL *h = c->easy;
    const char *method = req->method ? req->method
                                     : (req->body || req->upload_path) ? "POST" : "GET";
    memset(out, 0, sizeof *out);
    if (!h)
        return kerr_setc(e, KERR_UNAVAILABLE, "%s", httpc_unavailable());
    xfer x = {.resp = out, .req = req, .fd = -1,
              .max_body = o->max_body ? o->max_body : DEF_MAX_BODY};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    int rc = -1;
    httpc_guard guard;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "kite");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms ? o->connect_timeout_ms : DEF_CONNECT_MS);
    if (o->timeout_ms)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    long idle = o->idle_timeout_ms ? o->idle_timeout_ms : DEF_IDLE_MS;
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, idle < 1000 ? 1L : idle / 1000);
    if (o->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, o->max_redirects ? o->max_redirects
                                                                : DEF_MAX_REDIRS);
    }
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    if (o->proxy)
        curl_easy_setopt(h, CURLOPT_PROXY, o->proxy);
    if (o->unix_socket)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (o->trusted)
        guard.refused[0] = '\0';
    else
        httpc__guard_install(h, &guard, o->proxy);
    guard.unix_ok = o->unix_socket != NULL;

    for (const char *const *hp = req->headers; hp && *hp; hp++)
        hdrs = curl_slist_append(hdrs, *hp);
    if (req->bearer) {
        buf ab = BUF_INIT;
        buf_printf(&ab, "Authorization: Bearer %s", req->bearer);
        hdrs = curl_slist_append(hdrs, buf_str(&ab));
        explicit_bzero(ab.data, ab.len);
        buf_free(&ab);
    }
    if (req->basic_user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, req->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
    }

    if (more && more->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)more->cancel);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (more && more->nparts) {
        if (!(mime = make_mime(h, more, method, req->url, e)))
            goto out;
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (req->upload_path) {
        x.fd = open(req->upload_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (x.fd < 0 || fstat(x.fd, &st) != 0) {
            kerr_set(e, "%s %s: cannot read the body file: %s", method, req->url,
                     strerror(errno));
            goto out;
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (strcmp(method, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (req->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (c->aws)
        hdrs = aws_apply(h, c->aws, hdrs);
    if (hdrs)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);

    CURLcode cc = curl_easy_perform(h);
    long nconn = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
    c->connects += nconn;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &out->total_s);
    char *eff = NULL;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    out->effective_url = xstrdup(eff ? eff : req->url);
    if (cc != CURLE_OK) {
        buf msg = BUF_INIT, url = BUF_INIT;
        httpc_redact_url(req->url, &url);
        if (cc == CURLE_ABORTED_BY_CALLBACK && more && more->cancel && atomic_load(more->cancel))
            buf_puts(&msg, "cancelled");
        else if (guard.refused[0] && cc == CURLE_COULDNT_CONNECT)
            buf_puts(&msg, guard.refused);
        else
            describe(h, cc, &x, errbuf, o, &msg);
        kerr_set(e, "%s %s: %s", method, buf_str(&url), buf_str(&msg));
        buf_free(&msg);
        buf_free(&url);
        httpc_resp_free(out);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    curl_mime_free(mime);
    if (x.fd >= 0)
        close(x.fd);
    /* the easy handle must not keep pointers into this call's stack */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, NULL);
    return rc;
}

/* ---- for the HTTP tasks (tasks/http.c) ---- */

int httpc_do(httpc *c, const httpc_req *req, const httpc_opts *opts, httpc_resp *out,
             kerr *e)
{
    return do_request(c, req, NULL, opts, out, e);
}

int httpc_do_more(httpc *c, const httpc_req *req, const httpc_more *more,
                  const httpc_opts *opts, httpc_resp *out, kerr *e)
{
    return do_request(c, req, more, opts, out, e);
}

/* ---- AWS Signature Version 4 (user: s3sec, tasks/s3.c and storage/s3.c) ----------------------
 * libcurl signs the request itself (CURLOPT_AWS_SIGV4, "aws:amz:<region>:<service>") with the
 * access key as the user and the secret key as the password; the caller's
 * x-amz-content-sha256 header (the hex SHA-256 of the body, or UNSIGNED-PAYLOAD) is the
 * payload hash libcurl puts in the canonical request, and a session token goes in
 * x-amz-security-token, which is signed too. */

static struct curl_slist *aws_apply(CURL *h, const httpc_aws *aws, struct curl_slist *hdrs)
{
    char prov[160];
    snprintf(prov, sizeof prov, "aws:amz:%s:%s", aws->region && *aws->region ? aws->region : "us-east-1",
             aws->service && *aws->service ? aws->service : "s3");
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, prov);
    curl_easy_setopt(h, CURLOPT_USERNAME, aws->access_key ? aws->access_key : "");
    curl_easy_setopt(h, CURLOPT_PASSWORD, aws->secret_key ? aws->secret_key : "");
    if (aws->session_token && *aws->session_token) {
        buf b = BUF_INIT;
        buf_printf(&b, "x-amz-security-token: %s", aws->session_token);
        hdrs = curl_slist_append(hdrs, buf_str(&b));
        explicit_bzero(b.data, b.len);
        buf_free(&b);
    }
    return hdrs;
}

int httpc_do_aws(httpc *c, const httpc_req *req, const httpc_opts *opts, const httpc_aws *aws,
                 httpc_resp *out, kerr *e)
{
    c->aws = aws;
    int rc = httpc_do(c, req, opts, out, e);
    c->aws = NULL;
    return rc;
}

/* ---- one client per thread (httpc_thread) --------------------------------- */

/* pthread_once takes no argument: the key being made is handed over in a
 * thread-local while its once runs (a once runs on the calling thread). */
static __thread httpc_per_thread *making;

static void client_free(void *p)
{
    httpc_free(p);
}

static void key_make(void)
{
    pthread_key_create(&making->key, client_free);
}

httpc *httpc_thread(httpc_per_thread *pt)
{
    making = pt;
    pthread_once(&pt->once, key_make);
    making = NULL;
    httpc *h = pthread_getspecific(pt->key);
    if (!h) {
        h = httpc_new();
        pthread_setspecific(pt->key, h);
    }
    return h;
}
