/*
 * s3.c: the `s3` storage backend: every file is an object in one bucket, its
 * key the configured prefix followed by the storage path
 * ("<prefix>/io/kestra/tests/f/executions/E/tasks/t/R/out.txt"), through the
 * S3 client of util/s3.c (SigV4, retries, multipart).
 *
 * DESIGN
 * Memory stays bounded whatever the file size: a writer spools to an
 * unlinked temporary file and uploads it on commit (one PutObject, or a
 * multipart upload of part_size parts, one part in memory at a time); a read
 * downloads into an unlinked temporary file and hands out its descriptor,
 * so callers keep the fd contract of storage.h (fstat, read, a FILE*).
 * Nothing is visible before the upload completes: S3 publishes a PutObject
 * or a completed multipart upload atomically, and readers see the previous
 * object or the new one whole. A delete of a prefix lists it and deletes
 * what it found in batches; an object written meanwhile is not lost.
 *
 * An s3_client belongs to one thread; the storage is shared by every worker,
 * so clients wait in a small pool (one per thread at work, each keeping its
 * curl connection alive) and an operation takes one and gives it back.
 *
 * S3 has no folders: a key "x" and a key "x/y" can both exist, where the
 * local backend refuses the second. Listings skip keys no storage URI can
 * name (empty segments, "." or "..", reserved ".kite." names), so objects
 * written into the bucket by something else never make a listing fail.
 */
#include "storage/storage_int.h"
#include "util/mem.h"
#include "util/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POOL_MAX 32

typedef struct s3store {
    storage base;
    char *bucket;
    char *prefix;        /* "" or ending in '/' */
    char *tmp_dir;
    char *endpoint, *region, *access_key, *secret_key, *session_token;
    s3_conf conf;        /* points into the strings above */
    pthread_mutex_t mu;
    s3_client *idle[POOL_MAX];
    size_t n_idle;
} s3store;

typedef struct s3_writer {
    storage_writer base;
    s3store *s;
    char *path;
} s3_writer;

static s3_client *take(s3store *s, kerr *e)
{
    pthread_mutex_lock(&s->mu);
    s3_client *c = s->n_idle ? s->idle[--s->n_idle] : NULL;
    pthread_mutex_unlock(&s->mu);
    return c ? c : s3_new(&s->conf, e);
}

static void give(s3store *s, s3_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->n_idle < POOL_MAX) {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    s3_free(c);
}

static char *key_of(const s3store *s, const char *path)
{
    return xasprintf("%s%s", s->prefix, path);
}

/* An unlinked read-write temporary file in tmp_dir. */
static int spool(const s3store *s, kerr *e)
{
    int fd = open(s->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char *t = xasprintf("%s/.kite.s3.XXXXXX", s->tmp_dir);
    fd = mkostemp(t, O_CLOEXEC);
    if (fd >= 0)
        unlink(t);
    else
        kerr_set(e, "cannot create a temporary file in '%s': %s", s->tmp_dir, strerror(errno));
    free(t);
    return fd;
}

static void s3b_free(storage *st)
{
    s3store *s = (s3store *)st;
    for (size_t i = 0; i < s->n_idle; i++)
        s3_free(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    free(s->bucket);
    free(s->prefix);
    free(s->tmp_dir);
    free(s->endpoint);
    free(s->region);
    free(s->access_key);
    if (s->secret_key)
        explicit_bzero(s->secret_key, strlen(s->secret_key));
    free(s->secret_key);
    free(s->session_token);
    free(s);
}

static int s3b_put(storage *st, const char *path, const void *data, size_t len, kerr *e)
{
    s3store *s = (s3store *)st;
    s3_client *c = take(s, e);
    if (!c)
        return -1;
    char *key = key_of(s, path);
    s3_put_result r;
    int rc = s3_put(c, s->bucket, key, data ? data : "", len, NULL, &r, e);
    if (!rc)
        s3_put_result_clear(&r);
    free(key);
    give(s, c);
    return rc;
}

/* Uploads the size bytes of fd from offset 0 as path. */
static int upload_fd(s3store *s, const char *path, int fd, int64_t size, kerr *e)
{
    if (lseek(fd, 0, SEEK_SET) < 0)
        return kerr_set(e, "lseek: %s", strerror(errno));
    s3_client *c = take(s, e);
    if (!c)
        return -1;
    char *key = key_of(s, path);
    s3_put_result r;
    int rc = s3_put_fd(c, s->bucket, key, fd, size, NULL, NULL, &r, e);
    if (!rc)
        s3_put_result_clear(&r);
    free(key);
    give(s, c);
    return rc;
}

static int s3b_put_file(storage *st, const char *path, const char *src, unsigned flags, kerr *e)
{
    s3store *s = (s3store *)st;
    int fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return kerr_set(e, "source '%s' is a symbolic link", src);
        return kerr_set(e, "source '%s': %s", src, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return kerr_set(e, "source '%s' is not a regular file", src);
    }
    int rc = upload_fd(s, path, fd, (int64_t)sb.st_size, e);
    close(fd);
    if (!rc && (flags & STORAGE_PUT_MOVE) && unlink(src))
        rc = kerr_set(e, "uploaded, but cannot remove the source '%s': %s", src, strerror(errno));
    return rc;
}

static storage_writer *s3b_writer_open(storage *st, const char *path, kerr *e)
{
    s3store *s = (s3store *)st;
    int fd = spool(s, e);
    if (fd < 0)
        return NULL;
    s3_writer *w = xcalloc(1, sizeof *w);
    w->base.fd = fd;
    w->s = s;
    w->path = xstrdup(path);
    return &w->base;
}

static void writer_free(s3_writer *w)
{
    close(w->base.fd);
    free(w->path);
    free(w);
}

static int s3b_writer_commit(storage_writer *bw, kerr *e)
{
    s3_writer *w = (s3_writer *)bw;
    struct stat sb;
    int rc = fstat(w->base.fd, &sb) ? kerr_set(e, "fstat: %s", strerror(errno))
                                    : upload_fd(w->s, w->path, w->base.fd, (int64_t)sb.st_size, e);
    writer_free(w);
    return rc;
}

static void s3b_writer_abort(storage_writer *bw)
{
    writer_free((s3_writer *)bw);
}

/* A read's S3 error (e2) as storage.c words it: "no such file" with errno
 * ENOENT for a missing key, else S3's message and EIO. */
static void read_failed(const kerr *e2, kerr *e)
{
    if (e2->code == KERR_NOT_FOUND) {
        kerr_set(e, "no such file");
        errno = ENOENT;
    } else {
        kerr_set(e, "%s", e2->msg);
        errno = EIO;
    }
}

static int s3b_open_read(storage *st, const char *path, kerr *e)
{
    s3store *s = (s3store *)st;
    if (!*path) {
        kerr_set(e, "is a folder, not a file");
        errno = EISDIR;
        return -1;
    }
    int fd = spool(s, e);
    if (fd < 0)
        return -1;
    s3_client *c = take(s, e);
    if (!c) {
        close(fd);
        return -1;
    }
    char *key = key_of(s, path);
    s3_get_result r;
    kerr e2 = KERR_INIT;
    int rc = s3_get_fd(c, s->bucket, key, fd, &r, &e2);
    free(key);
    give(s, c);
    if (rc) {
        close(fd);
        read_failed(&e2, e);
        return -1;
    }
    s3_get_result_clear(&r);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        kerr_set(e, "lseek: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- streamed reads (storage_reader) ---- */

#define READ_CHUNK (4u << 20) /* one ranged GET; what a reader holds in memory */

typedef struct s3_reader {
    storage_reader base;
    s3store *s;
    char *key, *etag;
    int64_t size, fetched;   /* the object's length; bytes fetched so far */
    char *chunk;             /* READ_CHUNK bytes, allocated at the first read */
    size_t clen, coff;       /* bytes in chunk; bytes of them handed out */
} s3_reader;

static storage_reader *s3b_reader_open(storage *st, const char *path, int64_t *size, kerr *e)
{
    s3store *s = (s3store *)st;
    if (!*path) {
        kerr_set(e, "is a folder, not a file");
        errno = EISDIR;
        return NULL;
    }
    s3_client *c = take(s, e);
    if (!c)
        return NULL;
    char *key = key_of(s, path);
    s3_get_result g;
    kerr e2 = KERR_INIT;
    int rc = s3_head(c, s->bucket, key, &g, &e2);
    give(s, c);
    if (rc) {
        free(key);
        read_failed(&e2, e);
        return NULL;
    }
    s3_reader *r = xcalloc(1, sizeof *r);
    r->base.fd = -1;
    r->s = s;
    r->key = key;
    r->etag = g.etag;
    g.etag = NULL;
    r->size = *size = g.size;
    s3_get_result_clear(&g);
    return &r->base;
}

static ssize_t s3b_reader_read(storage_reader *br, void *dst, size_t n, kerr *e)
{
    s3_reader *r = (s3_reader *)br;
    if (r->coff == r->clen) {
        if (r->fetched >= r->size)
            return 0;
        if (!r->chunk)
            r->chunk = xmalloc(READ_CHUNK);
        int64_t left = r->size - r->fetched;
        size_t want = left < (int64_t)READ_CHUNK ? (size_t)left : READ_CHUNK;
        s3_client *c = take(r->s, e);
        if (!c)
            return -1;
        size_t got = 0;
        int rc = s3_get_range(c, r->s->bucket, r->key, r->etag, r->fetched, want, r->chunk, &got, e);
        give(r->s, c);
        if (rc)
            return -1;
        if (!got) {
            kerr_set(e, "the object ended after %lld of %lld bytes", (long long)r->fetched, (long long)r->size);
            return -1;
        }
        r->fetched += (int64_t)got;
        r->clen = got;
        r->coff = 0;
    }
    size_t k = r->clen - r->coff < n ? r->clen - r->coff : n;
    memcpy(dst, r->chunk + r->coff, k);
    r->coff += k;
    return (ssize_t)k;
}

static void s3b_reader_close(storage_reader *br)
{
    s3_reader *r = (s3_reader *)br;
    free(r->key);
    free(r->etag);
    free(r->chunk);
    free(r);
}

static int s3b_stat(storage *st, const char *path, int64_t *size, kerr *e)
{
    s3store *s = (s3store *)st;
    if (!*path)
        return 0;
    s3_client *c = take(s, e);
    if (!c)
        return -1;
    char *key = key_of(s, path);
    s3_get_result r;
    kerr e2 = KERR_INIT;
    int rc = s3_head(c, s->bucket, key, &r, &e2);
    free(key);
    give(s, c);
    if (rc) {
        if (e2.code == KERR_NOT_FOUND)
            return 0;
        kerr_set(e, "%s", e2.msg);
        return -1;
    }
    *size = r.size;
    s3_get_result_clear(&r);
    return 1;
}

/* 1 when rel (a key without the prefix) is a path a storage URI can name. */
static int nameable(const char *rel)
{
    if (!*rel)
        return 0;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > STORAGE_SEGMENT_MAX || (len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.') || storage__is_reserved(p, len))
            return 0;
        if (!slash)
            return 1;
        p = slash + 1;
    }
}

/* The objects below the folder path (or path itself), relative to the
 * prefix, into *out (keys owned by the array). */
static int list_below(s3store *s, const char *path, s3_object **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    s3_client *c = take(s, e);
    if (!c)
        return -1;
    char *kp = key_of(s, path);
    s3_list_query q = {.prefix = kp};
    int rc = s3_list(c, s->bucket, &q, out, n, e);
    give(s, c);
    free(kp);
    if (rc)
        return -1;
    size_t plen = strlen(s->prefix), len = strlen(path), k = 0;
    for (size_t i = 0; i < *n; i++) {
        s3_object *o = &(*out)[i];
        const char *rel = o->is_prefix || strlen(o->key) < plen ? "" : o->key + plen;
        int in = nameable(rel) &&
                 (!len || !strcmp(rel, path) || (!strncmp(rel, path, len) && rel[len] == '/'));
        if (in) {
            memmove(o->key, rel, strlen(rel) + 1);
            (*out)[k++] = *o;
        } else {
            free(o->key);
            free(o->etag);
            free(o->last_modified);
        }
    }
    *n = k;
    return 0;
}

static int s3b_list(storage *st, const char *path, void (*add)(void *ctx, const char *rel, int64_t size),
                    void *ctx, kerr *e)
{
    s3_object *v;
    size_t n;
    if (list_below((s3store *)st, path, &v, &n, e))
        return -1;
    for (size_t i = 0; i < n; i++)
        add(ctx, v[i].key, v[i].size);
    s3_objects_free(v, n);
    return 0;
}

static int s3b_remove(storage *st, const char *path, kerr *e)
{
    s3store *s = (s3store *)st;
    int64_t size;
    int found = s3b_stat(st, path, &size, e);
    if (found <= 0)
        return found;
    s3_client *c = take(s, e);
    if (!c)
        return -1;
    char *key = key_of(s, path);
    int rc = s3_delete(c, s->bucket, key, NULL, NULL, e);
    free(key);
    give(s, c);
    return rc ? -1 : 1;
}

static long s3b_remove_prefix(storage *st, const char *path, char ***kept, size_t *n_kept, kerr *e)
{
    s3store *s = (s3store *)st;
    s3_object *v;
    size_t n;
    if (list_below(s, path, &v, &n, e))
        return -1;
    long rc = (long)n;
    if (n) {
        char **keys = xcalloc(n, sizeof *keys);
        for (size_t i = 0; i < n; i++)
            keys[i] = key_of(s, v[i].key);
        s3_client *c = take(s, e);
        if (!c || s3_delete_many(c, s->bucket, keys, n, e))
            rc = -1;
        give(s, c);
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
    }
    s3_objects_free(v, n);
    /* no folders: nothing is ever kept */
    *kept = NULL;
    *n_kept = 0;
    return rc;
}

static const storage_ops s3_ops = {
    .name = "s3",
    .remote = 1,
    .free = s3b_free,
    .put = s3b_put,
    .put_file = s3b_put_file,
    .writer_open = s3b_writer_open,
    .writer_commit = s3b_writer_commit,
    .writer_abort = s3b_writer_abort,
    .open_read = s3b_open_read,
    .reader_open = s3b_reader_open,
    .reader_read = s3b_reader_read,
    .reader_close = s3b_reader_close,
    .stat = s3b_stat,
    .list = s3b_list,
    .remove = s3b_remove,
    .remove_prefix = s3b_remove_prefix,
};

static char *dup_or_null(const char *v)
{
    return v && *v ? xstrdup(v) : NULL;
}

storage *storage_open_s3(const storage_s3_conf *conf, kerr *e)
{
    if (!conf->bucket || !*conf->bucket) {
        kerr_set(e, "storage s3: no bucket given (storage: s3://BUCKET/PREFIX)");
        return NULL;
    }
    if ((conf->access_key && *conf->access_key) != (conf->secret_key && *conf->secret_key)) {
        kerr_set(e, "storage s3://%s: 'accessKeyId' and 'secretKeyId' go together: give both or neither",
                 conf->bucket);
        return NULL;
    }
    s3store *s = xcalloc(1, sizeof *s);
    s->base.ops = &s3_ops;
    pthread_mutex_init(&s->mu, NULL);
    s->bucket = xstrdup(conf->bucket);
    /* the prefix without leading or trailing slashes, then one '/' */
    const char *p = conf->prefix ? conf->prefix : "";
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    s->prefix = pl ? xasprintf("%.*s/", (int)pl, p) : xstrdup("");
    const char *t = conf->tmp_dir && *conf->tmp_dir ? conf->tmp_dir : getenv("TMPDIR");
    s->tmp_dir = xstrdup(t && *t ? t : "/tmp");
    s->endpoint = dup_or_null(conf->endpoint);
    s->region = dup_or_null(conf->region);
    s->access_key = dup_or_null(conf->access_key);
    s->secret_key = dup_or_null(conf->secret_key);
    s->session_token = dup_or_null(conf->session_token);
    s->conf = (s3_conf){.endpoint = s->endpoint, .region = s->region, .access_key = s->access_key,
                        .secret_key = s->secret_key, .session_token = s->session_token,
                        .path_style = conf->path_style, .part_size = conf->part_size};
    if (!s->conf.part_size) {
        const char *ps = getenv("KITE_S3_PART_SIZE"); /* tests: small parts */
        if (ps)
            s->conf.part_size = (size_t)strtoull(ps, NULL, 10);
    }
    /* reach the bucket once now (one signed ListObjectsV2 of at most one
     * key), so a wrong endpoint, key or bucket stops the start with S3's
     * answer (NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, or
     * the connection's error) rather than failing the first task */
    kerr e2 = KERR_INIT;
    s3_client *c = s3_new(&s->conf, &e2);
    s3_object *v = NULL;
    size_t n = 0;
    s3_list_query q = {.prefix = s->prefix, .max_keys = 1, .limit = 1};
    if (!c) {
        kerr_set(e, "storage s3://%s/%s: %s", s->bucket, s->prefix, e2.msg);
        s3b_free(&s->base);
        return NULL;
    }
    if (s3_list(c, s->bucket, &q, &v, &n, &e2)) {
        kerr_set(e, "storage s3://%s/%s (endpoint %s): the bucket does not answer: %s", s->bucket, s->prefix,
                 s3_endpoint(c), e2.msg);
        s3_free(c);
        s3b_free(&s->base);
        return NULL;
    }
    s3_objects_free(v, n);
    give(s, c);
    return &s->base;
}
