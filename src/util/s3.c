/*
 * s3.c: the S3 client of s3.h: URLs and canonical queries, SigV4 through
 * httpc_do_aws, retries, multipart uploads and the few XML answers S3 gives.
 *
 * DESIGN
 * Every request goes through s3_call: it builds the URL (path-style or
 * virtual-hosted, the key percent-encoded as SigV4's canonical URI wants,
 * the query sorted by name, since libcurl signs the query as written),
 * sends the payload's SHA-256 in x-amz-content-sha256 (bodies are in
 * memory: at most one part), and retries what S3 says is worth retrying.
 * Parsing S3's XML needs no library: the answers read here are flat lists
 * of known elements, read with xml_next (the text of the next <Tag>...</Tag>
 * after a position, entities decoded).
 */
#include "util/s3.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/httpc.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEF_PART (8u << 20)
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
    httpc *http;
    char *scheme_host;      /* "https://s3.eu-west-1.amazonaws.com" (no slash) */
    char *scheme, *host;    /* its two halves, for virtual-hosted URLs */
    char *region, *access_key, *secret_key, *session_token;
    int path_style;
    int retries;
    size_t part_size;
    long timeout_ms;
    long requests, retried;
};

void s3_objects_free(s3_object *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].etag);
        free(v[i].last_modified);
    }
    free(v);
}

void s3_put_result_clear(s3_put_result *r)
{
    free(r->etag);
    free(r->version_id);
    memset(r, 0, sizeof *r);
}

void s3_get_result_clear(s3_get_result *r)
{
    free(r->etag);
    free(r->content_type);
    free(r->version_id);
    for (char **m = r->meta; m && *m; m++)
        free(*m);
    free(r->meta);
    memset(r, 0, sizeof *r);
}

const char *s3_endpoint(const s3_client *c)
{
    return c->scheme_host;
}

long s3_requests(const s3_client *c)
{
    return c->requests;
}

long s3_retries(const s3_client *c)
{
    return c->retried;
}

static int host_is_ip(const char *h)
{
    if (!strncmp(h, "localhost", 9) || h[0] == '[')
        return 1;
    for (; *h && *h != ':' && *h != '/'; h++)
        if (!isdigit((unsigned char)*h) && *h != '.')
            return 0;
    return 1;
}

s3_client *s3_new(const s3_conf *conf, kerr *e)
{
    const char *ak = conf->access_key, *sk = conf->secret_key, *tok = conf->session_token;
    if (!ak && !sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
        if (!tok)
            tok = getenv("AWS_SESSION_TOKEN");
    }
    if (!ak || !*ak || !sk || !*sk) {
        kerr_set(e, "s3: no credentials: set accessKeyId and secretKeyId (or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY)");
        return NULL;
    }
    s3_client *c = xcalloc(1, sizeof *c);
    c->region = xstrdup(conf->region && *conf->region ? conf->region : "us-east-1");
    if (conf->endpoint && *conf->endpoint) {
        const char *p = strstr(conf->endpoint, "://");
        if (!p || (strncmp(conf->endpoint, "http://", 7) && strncmp(conf->endpoint, "https://", 8))) {
            kerr_set(e, "s3: endpoint '%s' must be an http:// or https:// URL", conf->endpoint);
            free(c->region);
            free(c);
            return NULL;
        }
        c->scheme_host = xstrdup(conf->endpoint);
    } else {
        c->scheme_host = xasprintf("https://s3.%s.amazonaws.com", c->region);
    }
    size_t n = strlen(c->scheme_host);
    while (n && c->scheme_host[n - 1] == '/')
        c->scheme_host[--n] = '\0';
    char *sep = strstr(c->scheme_host, "://");
    c->scheme = xstrndup(c->scheme_host, (size_t)(sep - c->scheme_host));
    c->host = xstrdup(sep + 3);
    c->path_style = conf->path_style || host_is_ip(c->host);
    c->access_key = xstrdup(ak);
    c->secret_key = xstrdup(sk);
    c->session_token = tok && *tok ? xstrdup(tok) : NULL;
    c->retries = conf->retries > 0 ? conf->retries : 4;
    c->part_size = conf->part_size >= (5u << 20) ? conf->part_size : DEF_PART;
    c->timeout_ms = conf->timeout_ms;
    c->http = httpc_new();
    return c;
}

void s3_free(s3_client *c)
{
    if (!c)
        return;
    httpc_free(c->http);
    free(c->scheme_host);
    free(c->scheme);
    free(c->host);
    free(c->region);
    free(c->access_key);
    if (c->secret_key)
        explicit_bzero(c->secret_key, strlen(c->secret_key));
    free(c->secret_key);
    free(c->session_token);
    free(c);
}

/* ---- XML -------------------------------------------------------------------------------- */

static void xml_unescape(const char *s, size_t n, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            buf_append(out, s + i, 1);
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi) {
            buf_append(out, s + i, 1);
            continue;
        }
        size_t len = (size_t)(semi - (s + i));
        static const struct { const char *name; char c; } ents[] = {
            {"&amp", '&'}, {"&lt", '<'}, {"&gt", '>'}, {"&quot", '"'}, {"&apos", '\''}};
        int done = 0;
        for (size_t k = 0; k < 5 && !done; k++)
            if (len == strlen(ents[k].name) && !strncmp(s + i, ents[k].name, len)) {
                buf_append(out, &ents[k].c, 1);
                done = 1;
            }
        if (!done && len > 2 && s[i + 1] == '#') {
            unsigned long cp = s[i + 2] == 'x' ? strtoul(s + i + 3, NULL, 16) : strtoul(s + i + 2, NULL, 10);
            unsigned char u[4];
            size_t un = 0;
            if (cp < 0x80) {
                u[un++] = (unsigned char)cp;
            } else if (cp < 0x800) {
                u[un++] = (unsigned char)(0xC0 | cp >> 6);
                u[un++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                u[un++] = (unsigned char)(0xE0 | cp >> 12);
                u[un++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                u[un++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else {
                u[un++] = (unsigned char)(0xF0 | cp >> 18);
                u[un++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                u[un++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                u[un++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
            buf_append(out, u, un);
            done = 1;
        }
        if (!done) {
            buf_append(out, s + i, len + 1);
        }
        i += len;
    }
}

/* The text of the next <tag>...</tag> in [*pos, end), decoded (malloc'd), or
 * NULL; *pos moves past it. An empty element (<tag/>) gives "". */
static char *xml_next(const char **pos, const char *end, const char *tag)
{
    char open[80], close[84], empty[84];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    snprintf(empty, sizeof empty, "<%s/>", tag);
    const char *p = memmem(*pos, (size_t)(end - *pos), open, strlen(open));
    const char *q = memmem(*pos, (size_t)(end - *pos), empty, strlen(empty));
    if (q && (!p || q < p)) {
        *pos = q + strlen(empty);
        return xstrdup("");
    }
    if (!p)
        return NULL;
    p += strlen(open);
    const char *c = memmem(p, (size_t)(end - p), close, strlen(close));
    if (!c)
        return NULL;
    buf b = BUF_INIT;
    xml_unescape(p, (size_t)(c - p), &b);
    *pos = c + strlen(close);
    char *s = xstrdup(buf_str(&b));
    buf_free(&b);
    return s;
}

static void xml_escape(buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&apos;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

/* ---- requests ------------------------------------------------------------------------------- */

static void enc(buf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            buf_append(b, p, 1);
        } else {
            char t[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(b, t, 3);
        }
    }
}

typedef struct qparam {
    const char *name, *value;   /* value NULL: "name=" (S3 accepts "?uploads=") */
} qparam;

static int qcmp(const void *a, const void *b)
{
    return strcmp(((const qparam *)a)->name, ((const qparam *)b)->name);
}

static void build_url(s3_client *c, const char *bucket, const char *key, qparam *q, size_t nq, buf *u)
{
    if (c->path_style || !bucket) {
        buf_puts(u, c->scheme_host);
        if (bucket) {
            buf_puts(u, "/");
            enc(u, bucket, 0);
        }
    } else {
        buf_printf(u, "%s://%s.%s", c->scheme, bucket, c->host);
    }
    buf_puts(u, "/");
    if (key)
        enc(u, key, 1);
    if (nq) {
        qsort(q, nq, sizeof *q, qcmp);
        for (size_t i = 0; i < nq; i++) {
            buf_puts(u, i ? "&" : "?");
            enc(u, q[i].name, 0);
            buf_puts(u, "=");
            if (q[i].value)
                enc(u, q[i].value, 0);
        }
    }
}

typedef struct call {
    const char *op;             /* "PutObject", for messages */
    const char *method;
    const char *bucket, *key;
    qparam q[8];
    size_t nq;
    const char *hdrs[24];       /* extra headers, NULL-terminated */
    size_t nh;
    const void *body;
    size_t body_len;
    int out_fd;                 /* >= 0: the body of a 2xx goes here (downloads) */
    struct memwin *mem;         /* else, when set: the body goes here (ranged reads) */
} call;

/* A caller's buffer that a response body fills, cap bytes at the most. */
typedef struct memwin {
    char *dst;
    size_t cap, n;
    int over;                   /* the body was longer than cap */
} memwin;

static int sink_mem(void *ud, const char *data, size_t n)
{
    memwin *m = ud;
    size_t room = m->cap - m->n;
    if (n > room) {
        m->over = 1;
        return -1;
    }
    memcpy(m->dst + m->n, data, n);
    m->n += n;
    return 0;
}

static int sink_fd(void *ud, const char *data, size_t n)
{
    int fd = *(int *)ud;
    while (n) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int retryable(long status, const char *code)
{
    if (status >= 500 || status == 429)
        return 1;
    return code && (!strcmp(code, "SlowDown") || !strcmp(code, "Throttling") || !strcmp(code, "RequestTimeout") ||
                    !strcmp(code, "ThrottlingException") || !strcmp(code, "RequestTimeTooSkewed"));
}

/* Performs the call with retries; 0 with *r holding a 2xx answer (the
 * caller frees it), or -1 with e set: KERR_NOT_FOUND for a 404. */
static int s3_call(s3_client *c, call *k, httpc_resp *r, kerr *e)
{
    buf url = BUF_INIT;
    build_url(c, k->bucket, k->key, k->q, k->nq, &url);
    char sha[65];
    if (k->body && k->body_len)
        digest_sha256_hex(k->body, k->body_len, sha);
    else
        memcpy(sha, EMPTY_SHA, sizeof sha);
    char shah[96];
    snprintf(shah, sizeof shah, "x-amz-content-sha256: %s", sha);
    const char *hdrs[28];
    size_t nh = 0;
    hdrs[nh++] = shah;
    for (size_t i = 0; i < k->nh && nh < 26; i++)
        hdrs[nh++] = k->hdrs[i];
    if (k->body && !k->body_len)
        hdrs[nh++] = "Content-Length: 0";
    hdrs[nh] = NULL;
    httpc_aws aws = {c->access_key, c->secret_key, c->session_token, c->region, "s3"};
    httpc_opts o = {.idle_timeout_ms = c->timeout_ms, .max_body = 64u << 20};
    char what[600];
    snprintf(what, sizeof what, "%s %s%s%s", k->op, k->bucket ? k->bucket : "", k->key ? "/" : "",
             k->key ? k->key : "");
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        if (attempt) {
            c->retried++;
            struct timespec ts = {0, 0};
            long ms = 100L << (attempt - 1);
            ts.tv_sec = ms / 1000;
            ts.tv_nsec = (ms % 1000) * 1000000L;
            nanosleep(&ts, NULL);
        }
        if (k->out_fd >= 0 && (ftruncate(k->out_fd, 0) != 0 || lseek(k->out_fd, 0, SEEK_SET) < 0)) {
            kerr_set(e, "s3: %s: cannot rewind the output file: %s", what, strerror(errno));
            break;
        }
        httpc_req rq = {.method = k->method, .url = buf_str(&url), .headers = hdrs,
                        .body = k->body ? k->body : (strcmp(k->method, "PUT") == 0 || strcmp(k->method, "POST") == 0 ? "" : NULL),
                        .body_len = k->body_len};
        if (k->out_fd >= 0) {
            rq.sink = sink_fd;
            rq.sink_ud = &k->out_fd;
        } else if (k->mem) {
            k->mem->n = 0;
            k->mem->over = 0;
            rq.sink = sink_mem;
            rq.sink_ud = k->mem;
        }
        c->requests++;
        kerr he = KERR_INIT;
        memset(r, 0, sizeof *r);
        if (httpc_do_aws(c->http, &rq, &o, &aws, r, &he)) {
            if (attempt < c->retries)
                continue;
            kerr_set(e, "s3: %s: %s", what, he.msg);
            break;
        }
        if (r->status >= 200 && r->status < 300) {
            rc = 0;
            break;
        }
        /* an error answer: its XML is in the body, or in the output file */
        buf eb = BUF_INIT;
        if (k->out_fd >= 0) {
            char tmp[8192];
            ssize_t got = pread(k->out_fd, tmp, sizeof tmp, 0);
            if (got > 0)
                buf_append(&eb, tmp, (size_t)got);
        } else if (k->mem) {
            buf_append(&eb, k->mem->dst, k->mem->n);
        } else if (r->body.len) {
            buf_append(&eb, r->body.data, r->body.len);
        }
        const char *p = eb.data ? eb.data : "";
        const char *end = p + eb.len;
        char *code = xml_next(&p, end, "Code");
        p = eb.data ? eb.data : "";
        char *msg = xml_next(&p, end, "Message");
        buf_free(&eb);
        long st = r->status;
        if (retryable(st, code) && attempt < c->retries) {
            free(code);
            free(msg);
            httpc_resp_free(r);
            continue;
        }
        if (st == 404)
            kerr_setc(e, KERR_NOT_FOUND, "s3: %s: HTTP 404 %s%s%s", what, code ? code : "Not Found", msg ? ": " : "",
                      msg ? msg : "");
        else
            kerr_set(e, "s3: %s: HTTP %ld%s%s%s%s%s", what, st, code ? " " : "", code ? code : "", msg ? ": " : "",
                     msg ? msg : "", retryable(st, code) ? " (after retries)" : "");
        free(code);
        free(msg);
        httpc_resp_free(r);
        break;
    }
    buf_free(&url);
    return rc;
}

static char *hdr_dup(const httpc_resp *r, const char *name)
{
    const char *v = httpc_resp_header(r, name);
    return v ? xstrdup(v) : NULL;
}

/* ---- operations -------------------------------------------------------------------------- */

static void meta_headers(call *k, const char *content_type, const char *const *meta, buf *store)
{
    /* store: one buffer holding the header lines, NUL-separated */
    size_t offs[24], n = 0;
    if (content_type) {
        offs[n++] = store->len;
        buf_printf(store, "Content-Type: %s", content_type);
        buf_append(store, "", 1);
    }
    for (const char *const *m = meta; m && m[0] && m[1] && n < 20; m += 2) {
        offs[n++] = store->len;
        buf_printf(store, "x-amz-meta-%s: %s", m[0], m[1]);
        buf_append(store, "", 1);
    }
    for (size_t i = 0; i < n; i++)
        k->hdrs[k->nh++] = store->data + offs[i];
}

int s3_put(s3_client *c, const char *bucket, const char *key, const void *data, size_t n,
           const char *content_type, s3_put_result *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    call k = {.op = "PutObject", .method = "PUT", .bucket = bucket, .key = key, .body = data ? data : "",
              .body_len = n, .out_fd = -1};
    buf hs = BUF_INIT;
    meta_headers(&k, content_type, NULL, &hs);
    httpc_resp r;
    int rc = s3_call(c, &k, &r, e);
    buf_free(&hs);
    if (rc)
        return -1;
    out->etag = hdr_dup(&r, "ETag");
    out->version_id = hdr_dup(&r, "x-amz-version-id");
    httpc_resp_free(&r);
    return 0;
}

static int read_full(int fd, char *p, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

int s3_put_fd(s3_client *c, const char *bucket, const char *key, int fd, int64_t size,
              const char *content_type, const char *const *meta, s3_put_result *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    size_t part = c->part_size;
    char *mem = xmalloc(size < (int64_t)part ? (size_t)(size > 0 ? size : 1) : part);
    buf hs = BUF_INIT;
    int rc = -1;
    if (size <= (int64_t)part) {
        size_t got;
        if (read_full(fd, mem, (size_t)size, &got) || got != (size_t)size) {
            kerr_set(e, "s3: PutObject %s/%s: the source ended after %zu of %lld bytes", bucket, key, got,
                     (long long)size);
            goto out;
        }
        call k = {.op = "PutObject", .method = "PUT", .bucket = bucket, .key = key, .body = mem,
                  .body_len = (size_t)size, .out_fd = -1};
        meta_headers(&k, content_type, meta, &hs);
        httpc_resp r;
        if (s3_call(c, &k, &r, e))
            goto out;
        out->etag = hdr_dup(&r, "ETag");
        out->version_id = hdr_dup(&r, "x-amz-version-id");
        httpc_resp_free(&r);
        rc = 0;
        goto out;
    }
    /* multipart: create, one part at a time, complete (abort on failure) */
    call ck = {.op = "CreateMultipartUpload", .method = "POST", .bucket = bucket, .key = key, .out_fd = -1,
               .q = {{"uploads", NULL}}, .nq = 1};
    meta_headers(&ck, content_type, meta, &hs);
    httpc_resp r;
    if (s3_call(c, &ck, &r, e))
        goto out;
    const char *p = r.body.data ? r.body.data : "";
    char *upload_id = xml_next(&p, p + r.body.len, "UploadId");
    httpc_resp_free(&r);
    if (!upload_id) {
        kerr_set(e, "s3: CreateMultipartUpload %s/%s: no UploadId in the answer", bucket, key);
        goto out;
    }
    buf done = BUF_INIT;
    buf_puts(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    int nparts = 0, failed = 0;
    for (int64_t off = 0; off < size && !failed; off += (int64_t)part) {
        size_t want = (size_t)(size - off < (int64_t)part ? size - off : (int64_t)part), got;
        if (read_full(fd, mem, want, &got) || got != want) {
            kerr_set(e, "s3: UploadPart %s/%s: the source ended early", bucket, key);
            failed = 1;
            break;
        }
        char num[16];
        snprintf(num, sizeof num, "%d", nparts + 1);
        call pk = {.op = "UploadPart", .method = "PUT", .bucket = bucket, .key = key, .body = mem, .body_len = want,
                   .out_fd = -1, .q = {{"partNumber", num}, {"uploadId", upload_id}}, .nq = 2};
        if (s3_call(c, &pk, &r, e)) {
            failed = 1;
            break;
        }
        const char *etag = httpc_resp_header(&r, "ETag");
        buf_printf(&done, "<Part><PartNumber>%d</PartNumber><ETag>", nparts + 1);
        xml_escape(&done, etag ? etag : "");
        buf_puts(&done, "</ETag></Part>");
        httpc_resp_free(&r);
        nparts++;
    }
    buf_puts(&done, "</CompleteMultipartUpload>");
    if (!failed) {
        call fk = {.op = "CompleteMultipartUpload", .method = "POST", .bucket = bucket, .key = key,
                   .body = done.data, .body_len = done.len, .out_fd = -1, .q = {{"uploadId", upload_id}}, .nq = 1,
                   .hdrs = {"Content-Type: application/xml"}, .nh = 1};
        if (s3_call(c, &fk, &r, e)) {
            failed = 1;
        } else {
            /* S3 may answer 200 with an <Error> in the body */
            const char *b = r.body.data ? r.body.data : "", *be = b + r.body.len;
            const char *b2 = b;
            char *code = memmem(b, r.body.len, "<Error>", 7) ? xml_next(&b2, be, "Code") : NULL;
            if (code) {
                kerr_set(e, "s3: CompleteMultipartUpload %s/%s: %s", bucket, key, code);
                free(code);
                failed = 1;
            } else {
                out->etag = xml_next(&b, be, "ETag");
                out->version_id = hdr_dup(&r, "x-amz-version-id");
                out->parts = nparts;
            }
            httpc_resp_free(&r);
        }
    }
    if (failed) {
        call ak = {.op = "AbortMultipartUpload", .method = "DELETE", .bucket = bucket, .key = key, .out_fd = -1,
                   .q = {{"uploadId", upload_id}}, .nq = 1};
        kerr e2 = KERR_INIT;
        if (!s3_call(c, &ak, &r, &e2))
            httpc_resp_free(&r);
    }
    buf_free(&done);
    free(upload_id);
    rc = failed ? -1 : 0;
out:
    free(mem);
    buf_free(&hs);
    return rc;
}

static void read_get_result(const httpc_resp *r, s3_get_result *out)
{
    const char *cl = httpc_resp_header(r, "Content-Length");
    out->size = cl ? strtoll(cl, NULL, 10) : (int64_t)r->body_bytes;
    out->etag = hdr_dup(r, "ETag");
    out->content_type = hdr_dup(r, "Content-Type");
    out->version_id = hdr_dup(r, "x-amz-version-id");
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strncasecmp(r->headers[i].name, "x-amz-meta-", 11)) {
            out->meta = xrealloc(out->meta, (n + 3) * sizeof *out->meta);
            out->meta[n++] = xstrdup(r->headers[i].name + 11);
            out->meta[n++] = xstrdup(r->headers[i].value);
            out->meta[n] = NULL;
        }
}

int s3_get_fd(s3_client *c, const char *bucket, const char *key, int fd, s3_get_result *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    call k = {.op = "GetObject", .method = "GET", .bucket = bucket, .key = key, .out_fd = fd};
    httpc_resp r;
    if (s3_call(c, &k, &r, e))
        return -1;
    read_get_result(&r, out);
    out->size = (int64_t)r.body_bytes;
    httpc_resp_free(&r);
    return 0;
}

int s3_get_range(s3_client *c, const char *bucket, const char *key, const char *if_match, int64_t off, size_t len,
                 void *dst, size_t *got, kerr *e)
{
    *got = 0;
    if (!len)
        return 0;
    char range[80], im[600];
    snprintf(range, sizeof range, "Range: bytes=%lld-%lld", (long long)off, (long long)off + (long long)len - 1);
    memwin m = {dst, len, 0, 0};
    call k = {.op = "GetObject", .method = "GET", .bucket = bucket, .key = key, .out_fd = -1, .mem = &m,
              .hdrs = {range}, .nh = 1};
    if (if_match && *if_match) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        k.hdrs[k.nh++] = im;
    }
    httpc_resp r;
    if (s3_call(c, &k, &r, e)) {
        if (m.over)
            kerr_set(e, "s3: GetObject %s/%s: the answer to a ranged read is longer than the %zu bytes asked (Range "
                        "not supported?)", bucket, key, len);
        return -1;
    }
    long st = r.status;
    httpc_resp_free(&r);
    if (st != 206 && !(st == 200 && off == 0 && m.n <= len))
        return kerr_set(e, "s3: GetObject %s/%s: HTTP %ld to a ranged read (206 expected)", bucket, key, st);
    *got = m.n;
    return 0;
}

int s3_head(s3_client *c, const char *bucket, const char *key, s3_get_result *out, kerr *e)
{
    call k = {.op = "HeadObject", .method = "HEAD", .bucket = bucket, .key = key, .out_fd = -1};
    httpc_resp r;
    if (s3_call(c, &k, &r, e))
        return -1;
    if (out) {
        memset(out, 0, sizeof *out);
        read_get_result(&r, out);
    }
    httpc_resp_free(&r);
    return 0;
}

int s3_delete(s3_client *c, const char *bucket, const char *key, char **version_id, int *delete_marker, kerr *e)
{
    call k = {.op = "DeleteObject", .method = "DELETE", .bucket = bucket, .key = key, .out_fd = -1};
    httpc_resp r;
    if (s3_call(c, &k, &r, e))
        return -1;
    if (version_id)
        *version_id = hdr_dup(&r, "x-amz-version-id");
    if (delete_marker) {
        const char *dm = httpc_resp_header(&r, "x-amz-delete-marker");
        *delete_marker = dm && !strcasecmp(dm, "true");
    }
    httpc_resp_free(&r);
    return 0;
}

int s3_delete_many(s3_client *c, const char *bucket, char *const *keys, size_t n, kerr *e)
{
    for (size_t at = 0; at < n; at += 1000) {
        size_t m = n - at < 1000 ? n - at : 1000;
        buf b = BUF_INIT;
        buf_puts(&b, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
        for (size_t i = 0; i < m; i++) {
            buf_puts(&b, "<Object><Key>");
            xml_escape(&b, keys[at + i]);
            buf_puts(&b, "</Key></Object>");
        }
        buf_puts(&b, "</Delete>");
        unsigned char md5[16];
        digest_md5(b.data, b.len, md5);
        static const char b64c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char md5h[64] = "Content-MD5: ";
        size_t o = strlen(md5h);
        for (int i = 0; i < 16; i += 3) {
            unsigned v = (unsigned)md5[i] << 16 | (i + 1 < 16 ? (unsigned)md5[i + 1] << 8 : 0) |
                         (i + 2 < 16 ? md5[i + 2] : 0);
            md5h[o++] = b64c[v >> 18 & 63];
            md5h[o++] = b64c[v >> 12 & 63];
            md5h[o++] = i + 1 < 16 ? b64c[v >> 6 & 63] : '=';
            md5h[o++] = i + 2 < 16 ? b64c[v & 63] : '=';
        }
        md5h[o] = '\0';
        call k = {.op = "DeleteObjects", .method = "POST", .bucket = bucket, .body = b.data, .body_len = b.len,
                  .out_fd = -1, .q = {{"delete", NULL}}, .nq = 1,
                  .hdrs = {md5h, "Content-Type: application/xml"}, .nh = 2};
        httpc_resp r;
        int rc = s3_call(c, &k, &r, e);
        buf_free(&b);
        if (rc)
            return -1;
        const char *p = r.body.data ? r.body.data : "", *end = p + r.body.len;
        const char *er = memmem(p, r.body.len, "<Error>", 7);
        if (er) {
            char *key = xml_next(&er, end, "Key");
            char *code = xml_next(&er, end, "Code");
            kerr_set(e, "s3: DeleteObjects %s: %s: %s", bucket, key ? key : "?", code ? code : "error");
            free(key);
            free(code);
            httpc_resp_free(&r);
            return -1;
        }
        httpc_resp_free(&r);
    }
    return 0;
}

int s3_copy(s3_client *c, const char *src_bucket, const char *src_key, const char *src_version, const char *bucket,
            const char *key, s3_put_result *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    buf src = BUF_INIT;
    buf_puts(&src, "x-amz-copy-source: /");
    enc(&src, src_bucket, 0);
    buf_puts(&src, "/");
    enc(&src, src_key, 1);
    if (src_version) {
        buf_puts(&src, "?versionId=");
        enc(&src, src_version, 0);
    }
    call k = {.op = "CopyObject", .method = "PUT", .bucket = bucket, .key = key, .out_fd = -1,
              .hdrs = {buf_str(&src)}, .nh = 1, .body = "", .body_len = 0};
    httpc_resp r;
    int rc = s3_call(c, &k, &r, e);
    buf_free(&src);
    if (rc)
        return -1;
    const char *p = r.body.data ? r.body.data : "", *end = p + r.body.len;
    if (memmem(p, r.body.len, "<Error>", 7)) {
        char *code = xml_next(&p, end, "Code");
        kerr_set(e, "s3: CopyObject %s/%s: %s", bucket, key, code ? code : "error");
        free(code);
        httpc_resp_free(&r);
        return -1;
    }
    out->etag = xml_next(&p, end, "ETag");
    out->version_id = hdr_dup(&r, "x-amz-version-id");
    httpc_resp_free(&r);
    return 0;
}

int s3_create_bucket(s3_client *c, const char *bucket, kerr *e)
{
    buf b = BUF_INIT;
    if (strcmp(c->region, "us-east-1") != 0)
        buf_printf(&b, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                       "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>", c->region);
    call k = {.op = "CreateBucket", .method = "PUT", .bucket = bucket, .out_fd = -1, .body = b.data ? b.data : "",
              .body_len = b.len};
    httpc_resp r;
    kerr e2 = KERR_INIT;
    int rc = s3_call(c, &k, &r, &e2);
    buf_free(&b);
    if (rc) {
        if (strstr(e2.msg, "BucketAlreadyOwnedByYou"))
            return 0;
        kerr_setc(e, e2.code, "%s", e2.msg);
        return -1;
    }
    httpc_resp_free(&r);
    return 0;
}

int s3_list(s3_client *c, const char *bucket, const s3_list_query *q, s3_object **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    char *token = NULL;
    char maxk[24];
    snprintf(maxk, sizeof maxk, "%zu", q->max_keys ? q->max_keys : 1000);
    int rc = 0;
    for (;;) {
        call k = {.op = "ListObjectsV2", .method = "GET", .bucket = bucket, .out_fd = -1};
        k.q[k.nq++] = (qparam){"list-type", "2"};
        k.q[k.nq++] = (qparam){"max-keys", maxk};
        if (q->prefix && *q->prefix)
            k.q[k.nq++] = (qparam){"prefix", q->prefix};
        if (q->delimiter && *q->delimiter)
            k.q[k.nq++] = (qparam){"delimiter", q->delimiter};
        if (token)
            k.q[k.nq++] = (qparam){"continuation-token", token};
        else if (q->start_after && *q->start_after)
            k.q[k.nq++] = (qparam){"start-after", q->start_after};
        httpc_resp r;
        if (s3_call(c, &k, &r, e)) {
            rc = -1;
            break;
        }
        const char *p = r.body.data ? r.body.data : "", *end = p + r.body.len;
        const char *at = p;
        int full = 0;
        for (;;) {
            const char *cs = memmem(at, (size_t)(end - at), "<Contents>", 10);
            const char *cp = memmem(at, (size_t)(end - at), "<CommonPrefixes>", 16);
            if (!cs && !cp)
                break;
            int is_prefix = !cs || (cp && cp < cs);
            const char *blk = is_prefix ? cp : cs;
            const char *blk_end = memmem(blk, (size_t)(end - blk), is_prefix ? "</CommonPrefixes>" : "</Contents>",
                                         is_prefix ? 17 : 11);
            if (!blk_end)
                break;
            s3_object o = {0};
            const char *x = blk;
            o.is_prefix = is_prefix;
            o.key = xml_next(&x, blk_end, is_prefix ? "Prefix" : "Key");
            if (!is_prefix) {
                x = blk;
                o.etag = xml_next(&x, blk_end, "ETag");
                x = blk;
                char *sz = xml_next(&x, blk_end, "Size");
                o.size = sz ? strtoll(sz, NULL, 10) : 0;
                free(sz);
                x = blk;
                o.last_modified = xml_next(&x, blk_end, "LastModified");
            }
            at = blk_end + 1;
            if (!o.key) {
                free(o.etag);
                free(o.last_modified);
                continue;
            }
            *out = xrealloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = o;
            if (q->limit && *n >= q->limit) {
                full = 1;
                break;
            }
        }
        const char *t = p;
        char *trunc = xml_next(&t, end, "IsTruncated");
        t = p;
        char *next = xml_next(&t, end, "NextContinuationToken");
        httpc_resp_free(&r);
        int more = trunc && !strcmp(trunc, "true") && next && !full;
        free(trunc);
        free(token);
        token = next;
        if (!more)
            break;
    }
    free(token);
    if (rc) {
        s3_objects_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
