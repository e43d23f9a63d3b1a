/*
 * tar.c: tar archives, written and read (see tar.h).
 *
 * DESIGN
 * One 512-byte block at a time, both ways. The writer makes a ustar header
 * per entry and puts a pax extended header ('x', one "path" or "size" record)
 * in front of an entry whose name or size does not fit ustar's fields. The
 * reader keeps the long name of a pax or GNU 'L' header for the next entry,
 * checks each header's checksum, and keeps how much data of the current
 * entry is left so that tar_next can skip it. Everything it reads is
 * bounded: a name at most NAME_MAX_LEN bytes, a pax header at most PAX_MAX.
 */
#include "util/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/mem.h"

#define BLOCK 512
#define NAME_MAX_LEN 4096
#define PAX_MAX (64u << 10)
#define USTAR_SIZE_MAX 077777777777ULL

/* ---- writing ------------------------------------------------------------ */

struct tar_writer {
    int fd;
};

tar_writer *tar_writer_new(int fd)
{
    tar_writer *w = xcalloc(1, sizeof *w);
    w->fd = fd;
    return w;
}

void tar_writer_free(tar_writer *w)
{
    free(w);
}

static int write_all(int fd, const void *p, size_t n, kerr *e)
{
    const char *s = p;
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return kerr_set(e, "tar: write: %s", strerror(errno));
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_pad(tar_writer *w, uint64_t size, kerr *e)
{
    static const char zero[BLOCK];
    size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
    return pad ? write_all(w->fd, zero, pad, e) : 0;
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 digits and a NUL */
    snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

static unsigned checksum(const unsigned char *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum;
}

/* One raw header block. */
static int put_header(tar_writer *w, const char *name, char type, unsigned mode, uint64_t size,
                      kerr *e)
{
    unsigned char h[BLOCK];
    memset(h, 0, sizeof h);
    size_t n = strlen(name);
    memcpy(h, name, n > 100 ? 100 : n);
    octal((char *)h + 100, 8, mode & 07777);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size > USTAR_SIZE_MAX ? 0 : size);
    octal((char *)h + 136, 12, 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "root", 4);
    memcpy(h + 297, "root", 4);
    char ck[8];
    snprintf(ck, sizeof ck, "%06o", checksum(h));
    memcpy(h + 148, ck, 7);
    h[155] = ' ';
    return write_all(w->fd, h, sizeof h, e);
}

/* Appends one pax record "len key=value\n" (len counts itself). */
static void pax_record(buf *b, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t len = body + 1;
    for (;;) {
        char d[32];
        size_t total = body + (size_t)snprintf(d, sizeof d, "%zu", len);
        if (total == len)
            break;
        len = total;
    }
    buf_printf(b, "%zu %s=%s\n", len, key, value);
}

static int put_entry(tar_writer *w, const char *name, char type, unsigned mode, uint64_t size,
                     kerr *e)
{
    if (!*name || strlen(name) > NAME_MAX_LEN)
        return kerr_set(e, "tar: bad entry name '%.64s'", name);
    if (strlen(name) > 100 || size > USTAR_SIZE_MAX) {
        buf pax = BUF_INIT;
        if (strlen(name) > 100)
            pax_record(&pax, "path", name);
        if (size > USTAR_SIZE_MAX) {
            char s[32];
            snprintf(s, sizeof s, "%llu", (unsigned long long)size);
            pax_record(&pax, "size", s);
        }
        int rc = put_header(w, "PaxHeader", 'x', 0644, pax.len, e) ||
                 write_all(w->fd, pax.data, pax.len, e) || write_pad(w, pax.len, e);
        buf_free(&pax);
        if (rc)
            return -1;
    }
    return put_header(w, name, type, mode, size, e);
}

int tar_add_dir(tar_writer *w, const char *name, unsigned mode, kerr *e)
{
    char *n = xasprintf("%s/", name);
    int rc = put_entry(w, n, '5', mode, 0, e);
    free(n);
    return rc;
}

int tar_add_file(tar_writer *w, const char *name, const char *path, unsigned mode, kerr *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return kerr_set(e, "tar: cannot read %s: %s", path, strerror(err));
    }
    if (put_entry(w, name, '0', mode, (uint64_t)st.st_size, e)) {
        close(fd);
        return -1;
    }
    uint64_t left = (uint64_t)st.st_size;
    char chunk[65536];
    while (left) {
        ssize_t k = read(fd, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            /* the file shrank: the header's size must still be honoured */
            close(fd);
            return kerr_set(e, "tar: %s changed while it was archived", path);
        }
        if (write_all(w->fd, chunk, (size_t)k, e)) {
            close(fd);
            return -1;
        }
        left -= (uint64_t)k;
    }
    close(fd);
    return write_pad(w, (uint64_t)st.st_size, e);
}

int tar_add_tree(tar_writer *w, const char *name, const char *dir, unsigned dir_mode, kerr *e)
{
    if (tar_add_dir(w, name, dir_mode, e))
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return kerr_set(e, "tar: cannot read the folder %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        char *n = xasprintf("%s/%s", name, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = tar_add_tree(w, n, p, dir_mode, e);
            else if (S_ISREG(st.st_mode))
                rc = tar_add_file(w, n, p, (unsigned)st.st_mode | 0644, e);
        }
        free(p);
        free(n);
    }
    closedir(d);
    return rc;
}

int tar_finish(tar_writer *w, kerr *e)
{
    static const char zero[2 * BLOCK];
    return write_all(w->fd, zero, sizeof zero, e);
}

/* ---- reading ------------------------------------------------------------ */

struct tar_reader {
    tar_read_fn in;
    void *ud;
    uint64_t left;        /* data of the current entry not read yet */
    uint64_t pad;         /* padding after it */
    long index;           /* entries seen, for messages */
    int done;
    buf name;             /* the current entry's name */
    buf longname;         /* from a pax or GNU header, for the next entry */
    int have_long;
    uint64_t pax_size;    /* from a pax header, for the next entry */
    int have_size;
};

tar_reader *tar_reader_new(tar_read_fn in, void *ud)
{
    tar_reader *r = xcalloc(1, sizeof *r);
    r->in = in;
    r->ud = ud;
    buf_init(&r->name, NAME_MAX_LEN + 1);
    buf_init(&r->longname, NAME_MAX_LEN + 1);
    return r;
}

void tar_reader_free(tar_reader *r)
{
    if (!r)
        return;
    buf_free(&r->name);
    buf_free(&r->longname);
    free(r);
}

/* Reads exactly n bytes: 1, 0 at a clean end before any byte, -1 otherwise. */
static int read_full(tar_reader *r, void *p, size_t n, kerr *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = r->in(r->ud, (char *)p + got, n - got);
        if (k < 0)
            return kerr_set(e, "tar: read error after entry %ld", r->index);
        if (k == 0) {
            if (got == 0)
                return 0;
            return kerr_set(e, "tar: the archive ends inside entry %ld", r->index);
        }
        got += (size_t)k;
    }
    return 1;
}

static int skip(tar_reader *r, uint64_t n, kerr *e)
{
    char chunk[4096];
    while (n) {
        size_t k = n < sizeof chunk ? (size_t)n : sizeof chunk;
        int rc = read_full(r, chunk, k, e);
        if (rc <= 0)
            return rc == 0 ? kerr_set(e, "tar: the archive ends inside entry %ld", r->index) : -1;
        n -= k;
    }
    return 0;
}

/* A numeric field: octal digits (spaces and NULs around them) or GNU's
 * base-256 form (first byte 0x80). -1 when malformed. */
static int parse_num(const unsigned char *f, size_t w, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return -1; /* negative */
        for (size_t i = 1; i < w; i++) {
            if (v >> 56)
                return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < w && f[i] == ' ')
        i++;
    int digits = 0;
    for (; i < w && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    for (; i < w; i++)
        if (f[i] != ' ' && f[i] != 0)
            return -1;
    *out = v;
    return 0;
}

/* Reads the data of a pax header (size bytes) and keeps path and size. */
static int read_pax(tar_reader *r, uint64_t size, kerr *e)
{
    if (size > PAX_MAX)
        return kerr_set(e, "tar: entry %ld: pax header of %llu bytes (at most %u)", r->index,
                        (unsigned long long)size, PAX_MAX);
    char *d = xmalloc((size_t)size + 1);
    int rc = read_full(r, d, (size_t)size, e);
    if (rc <= 0) {
        free(d);
        return rc == 0 ? kerr_set(e, "tar: the archive ends inside entry %ld", r->index) : -1;
    }
    d[size] = 0;
    size_t pos = 0;
    while (pos < size) {
        char *end;
        errno = 0;
        unsigned long len = strtoul(d + pos, &end, 10);
        if (end == d + pos || *end != ' ' || len < 5 || len > size - pos || d[pos + len - 1] != '\n') {
            free(d);
            return kerr_set(e, "tar: entry %ld: malformed pax record", r->index);
        }
        char *kv = end + 1;
        char *eq = memchr(kv, '=', (size_t)(d + pos + len - 1 - kv));
        if (!eq) {
            free(d);
            return kerr_set(e, "tar: entry %ld: malformed pax record", r->index);
        }
        size_t vlen = (size_t)(d + pos + len - 1 - (eq + 1));
        if ((size_t)(eq - kv) == 4 && !memcmp(kv, "path", 4)) {
            buf_reset(&r->longname);
            if (vlen > NAME_MAX_LEN || buf_append(&r->longname, eq + 1, vlen)) {
                free(d);
                return kerr_set(e, "tar: entry %ld: name over %d bytes", r->index, NAME_MAX_LEN);
            }
            r->have_long = 1;
        } else if ((size_t)(eq - kv) == 4 && !memcmp(kv, "size", 4)) {
            char num[32];
            if (vlen == 0 || vlen >= sizeof num) {
                free(d);
                return kerr_set(e, "tar: entry %ld: bad pax size", r->index);
            }
            memcpy(num, eq + 1, vlen);
            num[vlen] = 0;
            char *ne;
            unsigned long long s = strtoull(num, &ne, 10);
            if (*ne || num[0] == '-') {
                free(d);
                return kerr_set(e, "tar: entry %ld: bad pax size", r->index);
            }
            r->pax_size = s;
            r->have_size = 1;
        }
        pos += len;
    }
    free(d);
    return skip(r, (BLOCK - size % BLOCK) % BLOCK, e);
}

int tar_next(tar_reader *r, tar_entry *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    if (r->done)
        return 0;
    if (skip(r, r->left + r->pad, e))
        return -1;
    r->left = r->pad = 0;
    for (;;) {
        unsigned char h[BLOCK];
        int rc = read_full(r, h, BLOCK, e);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            r->done = 1;
            return 0; /* no end blocks: accepted, as GNU tar does */
        }
        int zero = 1;
        for (size_t i = 0; i < BLOCK && zero; i++)
            zero = h[i] == 0;
        if (zero) {
            r->done = 1;
            return 0;
        }
        r->index++;
        uint64_t ck, size, mode;
        if (parse_num(h + 148, 8, &ck) || parse_num(h + 124, 12, &size) || parse_num(h + 100, 8, &mode))
            return kerr_set(e, "tar: entry %ld: malformed header", r->index);
        if (ck != checksum(h)) {
            /* some writers summed signed bytes */
            int sum = 0;
            for (size_t i = 0; i < BLOCK; i++)
                sum += (i >= 148 && i < 156) ? ' ' : (signed char)h[i];
            if ((int64_t)ck != sum)
                return kerr_set(e, "tar: entry %ld: bad header checksum", r->index);
        }
        char type = (char)h[156];
        if (type == 'x' || type == 'g') {
            if (type == 'x') {
                if (read_pax(r, size, e))
                    return -1;
            } else if (skip(r, size + (BLOCK - size % BLOCK) % BLOCK, e)) {
                return -1;
            }
            continue;
        }
        if (type == 'L') {
            if (size > NAME_MAX_LEN)
                return kerr_set(e, "tar: entry %ld: name over %d bytes", r->index, NAME_MAX_LEN);
            char nm[NAME_MAX_LEN + 1];
            rc = read_full(r, nm, (size_t)size, e);
            if (rc <= 0)
                return rc == 0 ? kerr_set(e, "tar: the archive ends inside entry %ld", r->index) : -1;
            buf_reset(&r->longname);
            buf_append(&r->longname, nm, strnlen(nm, (size_t)size));
            r->have_long = 1;
            if (skip(r, (BLOCK - size % BLOCK) % BLOCK, e))
                return -1;
            continue;
        }
        buf_reset(&r->name);
        if (r->have_long) {
            buf_append(&r->name, r->longname.data ? r->longname.data : "", r->longname.len);
        } else {
            if (!memcmp(h + 257, "ustar", 5) && h[345]) {
                buf_append(&r->name, h + 345, strnlen((const char *)h + 345, 155));
                buf_putc(&r->name, '/');
            }
            buf_append(&r->name, h, strnlen((const char *)h, 100));
        }
        if (r->have_size)
            size = r->pax_size;
        r->have_long = r->have_size = 0;
        if (type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6')
            size = type == '5' ? 0 : size; /* links and devices carry no data but may say so */
        out->type = type ? type : '0';
        out->name = buf_str(&r->name);
        out->size = size;
        out->mode = (unsigned)(mode & 07777);
        r->left = size;
        r->pad = (BLOCK - size % BLOCK) % BLOCK;
        return 1;
    }
}

ssize_t tar_data(tar_reader *r, void *p, size_t n, kerr *e)
{
    if (!r->left)
        return 0;
    if (n > r->left)
        n = (size_t)r->left;
    int rc = read_full(r, p, n, e);
    if (rc <= 0)
        return rc == 0 ? kerr_set(e, "tar: the archive ends inside entry %ld", r->index) : -1;
    r->left -= n;
    return (ssize_t)n;
}

/* ---- extracting ------------------------------------------------------------ */

static ssize_t fd_read(void *ud, void *p, size_t n)
{
    int fd = *(int *)ud;
    for (;;) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        return k;
    }
}

/* Splits name into its segments (in place in copy): "." and empty ones are
 * dropped, ".." and an absolute name refused. Returns the count, or -1. */
static int split_name(char *copy, char **seg, int max)
{
    if (copy[0] == '/')
        return -1;
    int n = 0;
    for (char *save = NULL, *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (!strcmp(s, "."))
            continue;
        if (!strcmp(s, "..") || n == max)
            return -1;
        seg[n++] = s;
    }
    return n;
}

/* Opens (creating) the folders seg[0..n) under dfd; a new fd, or -1. */
static int open_dirs(int dfd, char **seg, int n)
{
    int fd = dup(dfd);
    for (int i = 0; fd >= 0 && i < n; i++) {
        if (mkdirat(fd, seg[i], 0755) && errno != EEXIST) {
            close(fd);
            return -1;
        }
        int next = openat(fd, seg[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    return fd;
}

long tar_extract(int fd, const char *dest, int strip, uint64_t max_bytes, kerr *e)
{
    int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return kerr_set(e, "tar: cannot open the folder %s: %s", dest, strerror(errno));
    tar_reader *r = tar_reader_new(fd_read, &fd);
    long files = 0;
    uint64_t written = 0;
    int rc;
    tar_entry en;
    char chunk[65536];
    while ((rc = tar_next(r, &en, e)) == 1) {
        if (en.type != '0' && en.type != '7' && en.type != '5')
            continue; /* links, devices, fifos: never made */
        char *copy = xstrdup(en.name);
        char *seg[512];
        int n = split_name(copy, seg, 512);
        if (n < 0) {
            kerr_set(e, "tar: entry '%.200s' leaves the folder", en.name);
            free(copy);
            rc = -1;
            break;
        }
        if (n <= strip) {
            free(copy);
            continue;
        }
        char **s = seg + strip;
        n -= strip;
        if (en.type == '5') {
            int d = open_dirs(dfd, s, n);
            if (d < 0) {
                kerr_set(e, "tar: cannot create the folder %s/%s: %s", dest, en.name, strerror(errno));
                free(copy);
                rc = -1;
                break;
            }
            close(d);
            free(copy);
            continue;
        }
        int pfd = open_dirs(dfd, s, n - 1);
        int out = -1;
        if (pfd >= 0) {
            if (unlinkat(pfd, s[n - 1], 0) && errno != ENOENT)
                out = -1;
            out = openat(pfd, s[n - 1], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         (en.mode & 0777) | 0600);
        }
        if (out < 0) {
            kerr_set(e, "tar: cannot create %s/%s: %s", dest, en.name, strerror(errno));
            if (pfd >= 0)
                close(pfd);
            free(copy);
            rc = -1;
            break;
        }
        close(pfd);
        ssize_t k;
        while ((k = tar_data(r, chunk, sizeof chunk, e)) > 0) {
            written += (uint64_t)k;
            if (max_bytes && written > max_bytes) {
                kerr_set(e, "tar: more than %llu bytes of files", (unsigned long long)max_bytes);
                k = -1;
                break;
            }
            if (write_all(out, chunk, (size_t)k, e)) {
                k = -1;
                break;
            }
        }
        close(out);
        free(copy);
        if (k < 0) {
            rc = -1;
            break;
        }
        files++;
    }
    tar_reader_free(r);
    close(dfd);
    return rc < 0 ? -1 : files;
}
