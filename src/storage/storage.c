/*
 * storage.c: the storage layer's front: parses every URI, calls the
 * backend's operation (storage_int.h) with the clean relative path, and words
 * errors as "<canonical uri>: <what went wrong>".
 *
 * Everything that does not depend on where bytes live is here, once: URI
 * rules, the size cap of storage_read_all, sorting and encoding of listings,
 * refusing to delete the root. A backend only moves bytes.
 */
#include "storage/storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

const char *storage_backend_name(const storage *s)
{
    return s->ops->name;
}

storage *storage_open_s3_url(const char *url, const storage_s3_conf *base, kerr *e)
{
    storage_s3_conf c = {0};
    if (base)
        c = *base;
    const char *p = url + 5, *slash = strchr(p, '/');
    char *bucket = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
    c.bucket = bucket;
    c.prefix = slash ? slash + 1 : "";
    if (!base) {
        c.endpoint = getenv("AWS_ENDPOINT_URL");
        c.region = getenv("AWS_REGION");
        if (!c.region || !*c.region)
            c.region = getenv("AWS_DEFAULT_REGION");
    }
    storage *s = NULL;
    if (!*bucket)
        kerr_set(e, "storage: %s: no bucket (write s3://BUCKET/PREFIX)", url);
    else
        s = storage_open_s3(&c, e);
    free(bucket);
    return s;
}

storage *storage_open(const char *url, kerr *e)
{
    if (!url || !*url) {
        kerr_set(e, "storage: no folder or URL given");
        return NULL;
    }
    static const char *const local_schemes[] = {"local:", "file:"};
    const char *root = url;
    for (size_t i = 0; i < sizeof local_schemes / sizeof local_schemes[0]; i++) {
        size_t n = strlen(local_schemes[i]);
        if (!strncmp(url, local_schemes[i], n)) {
            root = url + n;
            if (!strncmp(root, "//", 2))
                root += 2;
            return storage_open_local(root, e);
        }
    }
    if (!strncmp(url, "s3://", 5))
        return storage_open_s3_url(url, NULL, e);
    const char *colon = strstr(url, "://");
    if (colon) {
        kerr_set(e, "storage: %s: unknown storage URL scheme '%.*s' (kite has local:, file: and s3:)", url,
                 (int)(colon - url), url);
        return NULL;
    }
    return storage_open_local(root, e);
}

void storage_free(storage *s)
{
    if (s)
        s->ops->free(s);
}

int storage_put(storage *s, const char *uri, const void *data, size_t len, kerr *e)
{
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e))
        return -1;
    int rc = s->ops->put(s, u.path, data, len, e);
    if (rc)
        kerr_prefix(e, "%s", u.uri);
    storage_uri_free(&u);
    return rc;
}

int storage_put_file(storage *s, const char *uri, const char *src, unsigned flags, kerr *e)
{
    storage_uri u;
    if (!src)
        return kerr_set(e, "storage_put_file: no source path");
    if (storage_uri_parse(uri, 0, &u, e))
        return -1;
    int rc = s->ops->put_file(s, u.path, src, flags, e);
    if (rc)
        kerr_prefix(e, "%s", u.uri);
    storage_uri_free(&u);
    return rc;
}

storage_writer *storage_writer_new(storage *s, const char *uri, kerr *e)
{
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e))
        return NULL;
    storage_writer *w = s->ops->writer_open(s, u.path, e);
    if (w) {
        w->ops = s->ops;
        w->uri = u.uri;
        u.uri = NULL;
    } else {
        kerr_prefix(e, "%s", u.uri);
    }
    storage_uri_free(&u);
    return w;
}

int storage_writer_fd(const storage_writer *w)
{
    return w->fd;
}

int storage_writer_write(storage_writer *w, const void *data, size_t len, kerr *e)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kerr_set(e, "%s: write: %s", w->uri, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int storage_writer_commit(storage_writer *w, kerr *e)
{
    char *uri = w->uri;
    int rc = w->ops->writer_commit(w, e);
    if (rc)
        kerr_prefix(e, "%s", uri);
    free(uri);
    return rc;
}

void storage_writer_abort(storage_writer *w)
{
    if (!w)
        return;
    char *uri = w->uri;
    w->ops->writer_abort(w);
    free(uri);
}

int storage_open_fd(storage *s, const char *uri, kerr *e)
{
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e))
        return -1;
    int fd = s->ops->open_read(s, u.path, e);
    if (fd < 0)
        kerr_prefix(e, "%s", u.uri);
    storage_uri_free(&u);
    return fd;
}

storage_reader *storage_reader_open(storage *s, const char *uri, int64_t *size, kerr *e)
{
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e))
        return NULL;
    storage_reader *r = NULL;
    if (s->ops->reader_open) {
        r = s->ops->reader_open(s, u.path, size, e);
        if (r)
            r->ops = s->ops;
    } else {
        int fd = s->ops->open_read(s, u.path, e);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st)) {
            kerr_set(e, "fstat: %s", strerror(errno));
            close(fd);
            fd = -1;
        }
        if (fd >= 0) {
            r = xcalloc(1, sizeof *r);
            r->fd = fd;
            *size = (int64_t)st.st_size;
        }
    }
    if (r) {
        r->uri = u.uri;
        u.uri = NULL;
    } else {
        kerr_prefix(e, "%s", u.uri);
    }
    storage_uri_free(&u);
    return r;
}

ssize_t storage_reader_read(storage_reader *r, void *dst, size_t n, kerr *e)
{
    if (r->ops) {
        ssize_t got = r->ops->reader_read(r, dst, n, e);
        if (got < 0)
            kerr_prefix(e, "%s", r->uri);
        return got;
    }
    for (;;) {
        ssize_t got = read(r->fd, dst, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            kerr_set(e, "%s: read: %s", r->uri, strerror(errno));
        return got;
    }
}

int storage_reader_fd(const storage_reader *r)
{
    return r->fd;
}

void storage_reader_close(storage_reader *r)
{
    if (!r)
        return;
    char *uri = r->uri;
    if (r->ops) {
        r->ops->reader_close(r);
    } else {
        close(r->fd);
        free(r);
    }
    free(uri);
}

FILE *storage_open_file(storage *s, const char *uri, kerr *e)
{
    int fd = storage_open_fd(s, uri, e);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        kerr_set(e, "%s: fdopen: %s", uri, strerror(errno));
        close(fd);
    }
    return f;
}

int storage_read_all(storage *s, const char *uri, size_t max, buf *out, kerr *e)
{
    buf_reset(out);
    /* a remote backend downloads a file to open it: ask its size first, so
     * that a file over the cap is refused without fetching it */
    if (max && s->ops->remote) {
        int64_t size = storage_size(s, uri, e);
        if (size < 0)
            return -1;
        if ((uint64_t)size > max)
            return kerr_set(e, "%s: file is %lld bytes, more than the limit of %zu bytes", uri, (long long)size,
                            max);
    }
    int fd = storage_open_fd(s, uri, e);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st)) {
        rc = kerr_set(e, "%s: fstat: %s", uri, strerror(errno));
        goto done;
    }
    if (max && (uint64_t)st.st_size > max) {
        rc = kerr_set(e, "%s: file is %lld bytes, more than the limit of %zu bytes", uri,
                      (long long)st.st_size, max);
        goto done;
    }
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = kerr_set(e, "%s: read: %s", uri, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (max && out->len + (size_t)r > max) {
            rc = kerr_set(e, "%s: file grew past the limit of %zu bytes while read", uri, max);
            break;
        }
        if (buf_append(out, chunk, (size_t)r)) {
            rc = kerr_set(e, "%s: file is larger than the buffer's limit of %zu bytes", uri,
                          out->max);
            break;
        }
    }
    if (!rc && !out->data)
        buf_append(out, "", 0);   /* an empty file still gives a "" string */
done:
    close(fd);
    if (rc)
        buf_reset(out);
    return rc;
}

/* Fallback stat through open_read + fstat. */
static int stat_by_open(storage *s, const char *path, int64_t *size, kerr *e)
{
    kerr ignore = KERR_INIT;
    errno = 0;
    int fd = s->ops->open_read(s, path, &ignore);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        kerr_set(e, "%s", ignore.msg);
        return -1;
    }
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc)
        return kerr_set(e, "fstat: %s", strerror(errno));
    *size = st.st_size;
    return 1;
}

static int do_stat(storage *s, const char *uri, int64_t *size, storage_uri *u, kerr *e)
{
    if (storage_uri_parse(uri, 0, u, e))
        return -1;
    int rc = s->ops->stat ? s->ops->stat(s, u->path, size, e)
                          : stat_by_open(s, u->path, size, e);
    if (rc < 0)
        kerr_prefix(e, "%s", u->uri);
    return rc;
}

int storage_exists(storage *s, const char *uri, kerr *e)
{
    storage_uri u;
    int64_t size;
    int rc = do_stat(s, uri, &size, &u, e);
    storage_uri_free(&u);
    return rc;
}

int64_t storage_size(storage *s, const char *uri, kerr *e)
{
    storage_uri u;
    int64_t size = -1;
    int rc = do_stat(s, uri, &size, &u, e);
    if (rc == 0)
        kerr_set(e, "%s: no such file", u.uri);
    storage_uri_free(&u);
    return rc == 1 ? size : -1;
}

/* ---- listing ---------------------------------------------------------- */

typedef struct collect {
    storage_entry *items;   /* uri holds the decoded relative path while collecting */
    size_t n, cap;
} collect;

static void collect_add(void *ctx, const char *rel, int64_t size)
{
    collect *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = xrealloc(c->items, c->cap * sizeof *c->items);
    }
    c->items[c->n].uri = xstrdup(rel);
    c->items[c->n].size = size;
    c->n++;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const storage_entry *)a)->uri, ((const storage_entry *)b)->uri);
}

void storage_entries_free(storage_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i].uri);
    free(entries);
}

/* Relative decoded path to canonical URI. */
static char *rel_to_uri(const char *rel)
{
    buf b = BUF_INIT;
    buf_puts(&b, STORAGE_SCHEME "/");
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        storage_uri_encode_segment(&b, p, len);
        if (!slash)
            break;
        buf_putc(&b, '/');
        p = slash + 1;
    }
    return buf_steal(&b);
}

int storage_list(storage *s, const char *prefix, storage_entry **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    storage_uri u;
    if (storage_uri_parse(prefix, STORAGE_URI_FOLDER, &u, e))
        return -1;
    collect c = {NULL, 0, 0};
    if (s->ops->list(s, u.path, collect_add, &c, e)) {
        kerr_prefix(e, "%s", u.uri);
        storage_entries_free(c.items, c.n);
        storage_uri_free(&u);
        return -1;
    }
    if (c.n)
        qsort(c.items, c.n, sizeof *c.items, cmp_entry);
    for (size_t i = 0; i < c.n; i++) {
        char *uri = rel_to_uri(c.items[i].uri);
        free(c.items[i].uri);
        c.items[i].uri = uri;
    }
    *out = c.items;
    *n = c.n;
    storage_uri_free(&u);
    return 0;
}

int storage_delete(storage *s, const char *uri, kerr *e)
{
    storage_uri u;
    if (storage_uri_parse(uri, 0, &u, e))
        return -1;
    int rc = s->ops->remove(s, u.path, e);
    if (rc < 0)
        kerr_prefix(e, "%s", u.uri);
    storage_uri_free(&u);
    return rc;
}

long storage_delete_prefix(storage *s, const char *prefix, kerr *e)
{
    return storage_delete_prefix_kept(s, prefix, NULL, NULL, e);
}

void storage_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

long storage_delete_prefix_kept(storage *s, const char *prefix, char ***kept, size_t *n_kept,
                                kerr *e)
{
    char **k = NULL;
    size_t nk = 0;
    if (kept)
        *kept = NULL;
    if (n_kept)
        *n_kept = 0;
    storage_uri u;
    if (storage_uri_parse(prefix, STORAGE_URI_FOLDER, &u, e))
        return -1;
    long rc;
    if (u.depth == 0) {
        rc = kerr_set(e, "%s: refusing to delete the whole storage", u.uri);
    } else {
        rc = s->ops->remove_prefix(s, u.path, &k, &nk, e);
        if (rc < 0)
            kerr_prefix(e, "%s", u.uri);
    }
    storage_uri_free(&u);
    for (size_t i = 0; i < nk; i++) {
        /* rel_to_uri of "a/b/" ends in "/" too */
        char *uri = rel_to_uri(k[i]);
        free(k[i]);
        k[i] = uri;
    }
    if (rc >= 0 && kept) {
        *kept = k;
        if (n_kept)
            *n_kept = nk;
    } else {
        storage_strv_free(k, nk);
    }
    return rc;
}
