/*
 * docker.c: the Docker Engine API client (see docker.h).
 *
 * DESIGN
 * Every call is one HTTP request through the docker's own httpc client, on
 * the engine's Unix socket (CURLOPT_UNIX_SOCKET_PATH, the URL's host being
 * "localhost") or over TCP, under the versioned prefix /v1.41 (Docker 20.10;
 * later engines still accept it). Answers of 4xx and 5xx carry
 * {"message": "..."}, which becomes the error. The two long calls stream:
 * the pull's progress (JSON lines, where a failure arrives as {"error"} in a
 * 200 answer) and the logs (frames demultiplexed by docker_frames_feed, then
 * cut into lines by util/proc's proc_lines, the rules a local process's
 * output follows). Archives go to and come from files, never memory.
 */
#include "util/docker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mem.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define API "/v1.41"
#define ERR_BODY_MAX (64u << 10)
#define PULL_LINE_MAX (256u << 10)

struct docker {
    char *host;     /* as given, for messages */
    char *base;     /* "http://localhost" or "http://h:p" */
    char *sock;     /* the Unix socket's path, or NULL */
    httpc *http;
};

const char *docker_default_host(const char *host)
{
    if (host && *host)
        return host;
    const char *env = getenv("DOCKER_HOST");
    return env && *env ? env : DEFAULT_HOST;
}

int docker_open(const char *host, docker **out, kerr *e)
{
    *out = NULL;
    host = docker_default_host(host);
    docker *d = xcalloc(1, sizeof *d);
    d->host = xstrdup(host);
    if (!strncmp(host, "unix://", 7)) {
        if (host[7] != '/') {
            docker_free(d);
            return kerr_setc(e, KERR_INVALID, "Docker host '%s': a unix:// URL names an absolute path",
                             host);
        }
        d->sock = xstrdup(host + 7);
        d->base = xstrdup("http://localhost");
    } else if (!strncmp(host, "tcp://", 6)) {
        d->base = xasprintf("http://%s", host + 6);
    } else if (!strncmp(host, "http://", 7) || !strncmp(host, "https://", 8)) {
        d->base = xstrdup(host);
    } else {
        docker_free(d);
        return kerr_setc(e, KERR_INVALID,
                         "Docker host '%s': kite speaks to an engine at unix://, tcp:// or http:// URLs",
                         host);
    }
    size_t n = strlen(d->base);
    while (n > 0 && d->base[n - 1] == '/')
        d->base[--n] = 0;
    d->http = httpc_new();
    *out = d;
    return 0;
}

void docker_free(docker *d)
{
    if (!d)
        return;
    httpc_free(d->http);
    free(d->host);
    free(d->base);
    free(d->sock);
    free(d);
}

const char *docker_host(const docker *d)
{
    return d->host;
}

/* ---- one request ------------------------------------------------------------ */

typedef struct call {
    const char *method;
    const char *what;             /* "create container", for messages */
    buf path;                     /* after the API prefix, query included */
    const char *const *headers;
    const void *body;
    size_t body_len;
    const char *upload_path;
    httpc_sink sink;
    void *sink_ud;
    const atomic_int *cancel;
    int64_t timeout_ms;           /* 0: the default (no whole-request cap) */
    int64_t idle_ms;              /* 0: 60 s */
    size_t max_body;
} call;

/* The engine's message in an error answer, or the raw body's start. */
static void engine_message(const httpc_resp *r, buf *out)
{
    json_error_t je;
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &je) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m)
        buf_printf(out, "%.600s", m);
    else if (r->body.len)
        buf_printf(out, "%.200s", r->body.data);
    else
        buf_puts(out, "no message");
    json_decref(j);
}

/* Performs c; *resp is filled whatever the status (caller frees). A failed
 * transfer is -1 with e set. */
static int perform(docker *d, call *c, httpc_resp *resp, kerr *e)
{
    buf url = BUF_INIT;
    buf_printf(&url, "%s%s%s", d->base, API, buf_str(&c->path));
    httpc_req rq = {
        .method = c->method,
        .url = buf_str(&url),
        .headers = c->headers,
        .body = c->body,
        .body_len = c->body_len,
        .upload_path = c->upload_path,
        .sink = c->sink,
        .sink_ud = c->sink_ud,
    };
    httpc_opts o = {
        .connect_timeout_ms = 5000,
        .timeout_ms = (long)c->timeout_ms,
        .idle_timeout_ms = (long)(c->idle_ms ? c->idle_ms : 60000),
        .max_body = c->max_body ? c->max_body : ERR_BODY_MAX,
        .unix_socket = d->sock,
    };
    httpc_more more = {.cancel = c->cancel};
    kerr he = KERR_INIT;
    int rc = httpc_do_more(d->http, &rq, c->cancel ? &more : NULL, &o, resp, &he);
    buf_free(&url);
    if (rc) {
        /* httpc's message names the URL, which for a socket says nothing:
         * keep its cause (after the URL) and name the engine */
        const char *cause = strstr(he.msg, ": ");
        kerr_set(e, "Docker Engine %s: %s: %s", d->host, c->what, cause ? cause + 2 : he.msg);
        return -1;
    }
    return 0;
}

/* perform + an error for any status not in ok (a 0-terminated list). */
static int request(docker *d, call *c, const long *ok, httpc_resp *resp, kerr *e)
{
    if (perform(d, c, resp, e))
        return -1;
    for (const long *s = ok; *s; s++)
        if (resp->status == *s)
            return 0;
    buf m = BUF_INIT;
    engine_message(resp, &m);
    kerr_setc(e, resp->status == 404 ? KERR_NOT_FOUND : KERR_INTERNAL, "Docker Engine %s: %s: %s (%ld)",
              d->host, c->what, buf_str(&m), resp->status);
    buf_free(&m);
    httpc_resp_free(resp);
    return -1;
}

static void call_init(call *c, const char *method, const char *what)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    c->what = what;
}

/* Does s hold only what a container id or an image reference may? */
static int ref_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 512)
        return 0;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@", *p))
            return 0;
    return 1;
}

/* A request with no body to answer; status in ok. */
static int simple(docker *d, const char *method, const char *what, const char *path, const long *ok,
                  long *status, kerr *e)
{
    call c;
    call_init(&c, method, what);
    buf_puts(&c.path, path);
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = request(d, &c, ok, &r, e);
    if (!rc && status)
        *status = r.status;
    httpc_resp_free(&r);
    buf_free(&c.path);
    return rc;
}

int docker_ping(docker *d, kerr *e)
{
    static const long ok[] = {200, 0};
    return simple(d, "GET", "ping", "/_ping", ok, NULL, e);
}

/* ---- reachable ------------------------------------------------------------ */

#define REACH_SLOTS 8
#define REACH_KEEP_US 2000000

static struct {
    char host[256];
    int64_t at;
    int ok;
} reach[REACH_SLOTS];
static pthread_mutex_t reach_mu = PTHREAD_MUTEX_INITIALIZER;

int docker_engine_reachable(const char *host)
{
    host = docker_default_host(host);
    if (strlen(host) >= sizeof reach[0].host)
        return 0;
    int64_t now = time_mono_us();
    pthread_mutex_lock(&reach_mu);
    for (int i = 0; i < REACH_SLOTS; i++)
        if (reach[i].at && !strcmp(reach[i].host, host) && now - reach[i].at < REACH_KEEP_US) {
            int ok = reach[i].ok;
            pthread_mutex_unlock(&reach_mu);
            return ok;
        }
    pthread_mutex_unlock(&reach_mu);

    int ok = 0;
    docker *d;
    kerr e = KERR_INIT;
    if (!strncmp(host, "unix://", 7) && access(host + 7, F_OK) != 0) {
        ok = 0; /* no socket: no need to ask libcurl */
    } else if (docker_open(host, &d, &e) == 0) {
        call c;
        call_init(&c, "GET", "ping");
        buf_puts(&c.path, "/_ping");
        c.timeout_ms = 1000;
        httpc_resp r = HTTPC_RESP_INIT;
        ok = perform(d, &c, &r, &e) == 0 && r.status == 200;
        httpc_resp_free(&r);
        buf_free(&c.path);
        docker_free(d);
    }

    pthread_mutex_lock(&reach_mu);
    int slot = 0;
    for (int i = 0; i < REACH_SLOTS; i++) {
        if (!strcmp(reach[i].host, host)) {
            slot = i;
            break;
        }
        if (reach[i].at < reach[slot].at)
            slot = i;
    }
    snprintf(reach[slot].host, sizeof reach[slot].host, "%s", host);
    reach[slot].at = time_mono_us();
    reach[slot].ok = ok;
    pthread_mutex_unlock(&reach_mu);
    return ok;
}

/* ---- images --------------------------------------------------------------- */

int docker_image_present(docker *d, const char *image, int *present, kerr *e)
{
    *present = 0;
    if (!ref_ok(image))
        return kerr_setc(e, KERR_INVALID, "image '%.200s': not a valid image reference", image);
    static const long ok[] = {200, 404, 0};
    char *p = xasprintf("/images/%s/json", image);
    long st = 0;
    int rc = simple(d, "GET", "inspect image", p, ok, &st, e);
    free(p);
    if (!rc)
        *present = st == 200;
    return rc;
}

/* Splits a reference into the repository and its tag: "tag" is NULL when
 * the reference carries a digest or a tag already, else "latest". */
static const char *ref_tag(const char *image)
{
    if (strchr(image, '@'))
        return NULL;
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(image, ':');
    if (colon && (!slash || colon > slash))
        return NULL;
    return "latest";
}

typedef struct pull_state {
    buf line;
    buf error;
} pull_state;

static void pull_line(pull_state *ps)
{
    if (!ps->line.len)
        return;
    json_error_t je;
    json_t *j = json_loadb(ps->line.data, ps->line.len, 0, &je);
    const char *err = json_string_value(json_object_get(j, "error"));
    if (!err)
        err = json_string_value(json_object_get(json_object_get(j, "errorDetail"), "message"));
    if (!err) /* an error answer (4xx, 5xx) */
        err = json_string_value(json_object_get(j, "message"));
    if (err && !ps->error.len)
        buf_printf(&ps->error, "%.600s", err);
    json_decref(j);
    buf_reset(&ps->line);
}

static int pull_sink(void *ud, const char *data, size_t n)
{
    pull_state *ps = ud;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n')
            pull_line(ps);
        else if (buf_putc(&ps->line, data[i]))
            buf_reset(&ps->line); /* a line over the cap: not a message we need */
    }
    return 0;
}

int docker_image_pull(docker *d, const char *image, const char *auth, kerr *e)
{
    if (!ref_ok(image))
        return kerr_setc(e, KERR_INVALID, "image '%.200s': not a valid image reference", image);
    call c;
    call_init(&c, "POST", "pull image");
    buf q = BUF_INIT;
    httpc_escape(image, strlen(image), &q);
    buf_printf(&c.path, "/images/create?fromImage=%s", buf_str(&q));
    buf_free(&q);
    const char *tag = ref_tag(image);
    if (tag)
        buf_printf(&c.path, "&tag=%s", tag);
    buf hdr = BUF_INIT;
    const char *hdrs[2] = {NULL, NULL};
    if (auth) {
        buf_printf(&hdr, "X-Registry-Auth: %s", auth);
        hdrs[0] = buf_str(&hdr);
        c.headers = hdrs;
    }
    pull_state ps;
    buf_init(&ps.line, PULL_LINE_MAX);
    buf_init(&ps.error, 0);
    c.sink = pull_sink;
    c.sink_ud = &ps;
    c.body = "";
    c.body_len = 0;
    c.idle_ms = 300000;
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = perform(d, &c, &r, e);
    if (hdr.data)
        explicit_bzero(hdr.data, hdr.len);
    buf_free(&hdr);
    if (!rc) {
        pull_line(&ps);
        if (r.status != 200) {
            /* the sink took the body: an error answer is one JSON object */
            kerr_setc(e, r.status == 404 ? KERR_NOT_FOUND : KERR_INTERNAL, "Docker Engine %s: pull image %s: %s (%ld)",
                      d->host, image, ps.error.len ? buf_str(&ps.error) : "refused", r.status);
            rc = -1;
        } else if (ps.error.len) {
            kerr_set(e, "Docker Engine %s: pull image %s: %s", d->host, image, buf_str(&ps.error));
            rc = -1;
        }
    }
    httpc_resp_free(&r);
    buf_free(&ps.line);
    buf_free(&ps.error);
    buf_free(&c.path);
    return rc;
}

char *docker_registry_auth(const char *username, const char *password, const char *auth,
                           const char *registry, const char *identity_token,
                           const char *registry_token)
{
    json_t *j = json_object();
    if (username)
        json_object_set_new(j, "username", json_string(username));
    if (password)
        json_object_set_new(j, "password", json_string(password));
    if (auth)
        json_object_set_new(j, "auth", json_string(auth));
    if (registry)
        json_object_set_new(j, "serveraddress", json_string(registry));
    if (identity_token)
        json_object_set_new(j, "identitytoken", json_string(identity_token));
    if (registry_token)
        json_object_set_new(j, "registrytoken", json_string(registry_token));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *b = base64_encode(s, strlen(s));
    explicit_bzero(s, strlen(s));
    free(s);
    /* base64url, as the engine decodes it */
    for (char *p = b; *p; p++)
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    return b;
}

/* ---- containers ------------------------------------------------------------ */

int docker_container_create(docker *d, const json_t *body, char **id, kerr *e)
{
    *id = NULL;
    call c;
    call_init(&c, "POST", "create container");
    buf_puts(&c.path, "/containers/create");
    char *js = json_dumps(body, JSON_COMPACT);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    c.headers = hdrs;
    c.body = js;
    c.body_len = strlen(js);
    static const long ok[] = {201, 200, 0};
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = request(d, &c, ok, &r, e);
    free(js);
    buf_free(&c.path);
    if (rc)
        return -1;
    json_error_t je;
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &je);
    const char *s = json_string_value(json_object_get(j, "Id"));
    if (s && ref_ok(s))
        *id = xstrdup(s);
    else
        rc = kerr_set(e, "Docker Engine %s: create container: the answer has no Id", d->host);
    json_decref(j);
    httpc_resp_free(&r);
    return rc;
}

int docker_container_start(docker *d, const char *id, kerr *e)
{
    static const long ok[] = {204, 304, 0};
    char *p = xasprintf("/containers/%s/start", id);
    int rc = simple(d, "POST", "start container", p, ok, NULL, e);
    free(p);
    return rc;
}

int docker_container_stop(docker *d, const char *id, long grace_s, kerr *e)
{
    static const long ok[] = {204, 304, 0};
    char *p = xasprintf("/containers/%s/stop?t=%ld", id, grace_s < 0 ? 0 : grace_s);
    int rc = simple(d, "POST", "stop container", p, ok, NULL, e);
    free(p);
    return rc;
}

int docker_container_remove(docker *d, const char *id, kerr *e)
{
    static const long ok[] = {204, 404, 0};
    char *p = xasprintf("/containers/%s?force=1&v=1", id);
    int rc = simple(d, "DELETE", "remove container", p, ok, NULL, e);
    free(p);
    return rc;
}

int docker_container_wait(docker *d, const char *id, long *status, kerr *e)
{
    *status = -1;
    call c;
    call_init(&c, "POST", "wait for container");
    buf_printf(&c.path, "/containers/%s/wait", id);
    c.body = "";
    c.body_len = 0;
    c.idle_ms = PROC_MAX_MS;
    static const long ok[] = {200, 0};
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = request(d, &c, ok, &r, e);
    buf_free(&c.path);
    if (rc)
        return -1;
    json_error_t je;
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &je);
    json_t *sc = json_object_get(j, "StatusCode");
    if (json_is_integer(sc))
        *status = (long)json_integer_value(sc);
    else
        rc = kerr_set(e, "Docker Engine %s: wait for container: the answer has no StatusCode", d->host);
    json_decref(j);
    httpc_resp_free(&r);
    return rc;
}

int docker_container_oom(docker *d, const char *id, int *oom, kerr *e)
{
    *oom = 0;
    call c;
    call_init(&c, "GET", "inspect container");
    buf_printf(&c.path, "/containers/%s/json", id);
    c.max_body = 4u << 20;
    static const long ok[] = {200, 0};
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = request(d, &c, ok, &r, e);
    buf_free(&c.path);
    if (rc)
        return -1;
    json_error_t je;
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &je);
    *oom = json_is_true(json_object_get(json_object_get(j, "State"), "OOMKilled"));
    json_decref(j);
    httpc_resp_free(&r);
    return 0;
}

/* ---- logs ------------------------------------------------------------------ */

int docker_frames_feed(docker_frames *f, const char *data, size_t n,
                       void (*fn)(void *ud, int stream, const char *data, size_t len), void *ud)
{
    if (f->bad)
        return -1;
    while (n) {
        if (f->left) {
            size_t k = n < f->left ? n : f->left;
            fn(ud, f->stream, data, k);
            data += k;
            n -= k;
            f->left -= (uint32_t)k;
            continue;
        }
        size_t k = 8 - f->nhead;
        if (k > n)
            k = n;
        memcpy(f->head + f->nhead, data, k);
        f->nhead += k;
        data += k;
        n -= k;
        if (f->nhead < 8)
            break;
        f->nhead = 0;
        if (f->head[0] > 3 || f->head[1] || f->head[2] || f->head[3]) {
            f->bad = 1;
            return -1;
        }
        f->stream = f->head[0] == 1 ? 1 : 2;
        f->left = (uint32_t)f->head[4] << 24 | (uint32_t)f->head[5] << 16 | (uint32_t)f->head[6] << 8 |
                  f->head[7];
    }
    return 0;
}

typedef struct logs_state {
    docker_frames fr;
    proc_lines *lines;
} logs_state;

static void frame_piece(void *ud, int stream, const char *data, size_t len)
{
    logs_state *ls = ud;
    proc_lines_feed(ls->lines, stream == 1 ? PROC_STDOUT : PROC_STDERR, data, len);
}

static int logs_sink(void *ud, const char *data, size_t n)
{
    logs_state *ls = ud;
    return docker_frames_feed(&ls->fr, data, n, frame_piece, ls) ? 1 : 0;
}

int docker_container_logs(docker *d, const char *id, size_t max_line, proc_line_fn fn, void *ud,
                          const atomic_int *cancel, int64_t timeout_ms, int *stopped, kerr *e)
{
    *stopped = 0;
    logs_state ls;
    memset(&ls, 0, sizeof ls);
    ls.lines = proc_lines_new(max_line, 0, 0, fn, ud);
    call c;
    call_init(&c, "GET", "follow container logs");
    buf_printf(&c.path, "/containers/%s/logs?follow=1&stdout=1&stderr=1", id);
    c.sink = logs_sink;
    c.sink_ud = &ls;
    c.cancel = cancel;
    c.timeout_ms = timeout_ms;
    c.idle_ms = PROC_MAX_MS; /* a quiet script is not a dead engine */
    int64_t t0 = time_mono_us();
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = perform(d, &c, &r, e);
    proc_lines_end(ls.lines, PROC_STDOUT);
    proc_lines_end(ls.lines, PROC_STDERR);
    if (rc) {
        if (cancel && atomic_load(cancel)) {
            *stopped = 1;
            rc = 0;
        } else if (timeout_ms && time_mono_us() - t0 >= timeout_ms * 1000 - 50000) {
            *stopped = 2;
            rc = 0;
        } else if (ls.fr.bad) {
            kerr_set(e, "Docker Engine %s: follow container logs: the stream is not in the engine's "
                        "frame format (a container with a TTY?)", d->host);
        }
    } else if (r.status != 200) {
        kerr_setc(e, r.status == 404 ? KERR_NOT_FOUND : KERR_INTERNAL,
                  "Docker Engine %s: follow container logs: status %ld", d->host, r.status);
        rc = -1;
    }
    httpc_resp_free(&r);
    proc_lines_free(ls.lines);
    buf_free(&c.path);
    return rc;
}

/* ---- archives -------------------------------------------------------------- */

int docker_archive_put(docker *d, const char *id, const char *path, const char *tar_path, kerr *e)
{
    call c;
    call_init(&c, "PUT", "copy files into the container");
    buf q = BUF_INIT;
    httpc_escape(path, strlen(path), &q);
    buf_printf(&c.path, "/containers/%s/archive?path=%s", id, buf_str(&q));
    buf_free(&q);
    static const char *const hdrs[] = {"Content-Type: application/x-tar", NULL};
    c.headers = hdrs;
    c.upload_path = tar_path;
    c.idle_ms = 300000;
    static const long ok[] = {200, 0};
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = request(d, &c, ok, &r, e);
    httpc_resp_free(&r);
    buf_free(&c.path);
    return rc;
}

typedef struct file_sink {
    int fd;
    int err;
    buf head;            /* an error answer's start, for its message */
} file_sink;

static int to_file(void *ud, const char *data, size_t n)
{
    file_sink *fs = ud;
    if (fs->head.len < ERR_BODY_MAX)
        buf_append(&fs->head, data, n < ERR_BODY_MAX - fs->head.len ? n : ERR_BODY_MAX - fs->head.len);
    while (n) {
        ssize_t k = write(fs->fd, data, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fs->err = errno;
            return 1;
        }
        data += k;
        n -= (size_t)k;
    }
    return 0;
}

int docker_archive_get(docker *d, const char *id, const char *path, const char *tar_path, int *missing,
                       kerr *e)
{
    *missing = 0;
    int fd = open(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return kerr_set(e, "cannot create %s: %s", tar_path, strerror(errno));
    call c;
    call_init(&c, "GET", "copy files out of the container");
    buf q = BUF_INIT;
    httpc_escape(path, strlen(path), &q);
    buf_printf(&c.path, "/containers/%s/archive?path=%s", id, buf_str(&q));
    buf_free(&q);
    file_sink fs;
    memset(&fs, 0, sizeof fs);
    fs.fd = fd;
    c.sink = to_file;
    c.sink_ud = &fs;
    c.idle_ms = 300000;
    httpc_resp r = HTTPC_RESP_INIT;
    int rc = perform(d, &c, &r, e);
    if (close(fd) && !rc)
        rc = kerr_set(e, "cannot write %s: %s", tar_path, strerror(errno));
    if (!rc && fs.err)
        rc = kerr_set(e, "cannot write %s: %s", tar_path, strerror(fs.err));
    if (!rc && r.status == 404) {
        *missing = 1;
    } else if (!rc && r.status != 200) {
        httpc_resp er = HTTPC_RESP_INIT;
        er.body = fs.head;
        buf m = BUF_INIT;
        engine_message(&er, &m);
        kerr_set(e, "Docker Engine %s: copy files out of the container: %s (%ld)", d->host, buf_str(&m),
                 r.status);
        buf_free(&m);
        rc = -1;
    }
    buf_free(&fs.head);
    httpc_resp_free(&r);
    buf_free(&c.path);
    return rc;
}
