/*
 * local.c: the `local` storage backend, files in a folder.
 *
 * A URI's relative path maps to the same path under the root folder given to
 * storage_open_local() ("<data>/storage"); folders are made on demand with
 * mode 0700, files are written with mode 0600.
 *
 * Containment. The root is opened once as a directory fd and every access
 * walks the path from it one segment at a time with openat(O_NOFOLLOW |
 * O_DIRECTORY), ending with O_NOFOLLOW on the final name. Paths reaching here
 * have no "..", "." or empty segment (uri.c), so no operation can resolve to
 * anything outside the root: a symbolic link anywhere below the root, even
 * one pointing inside it, is refused (reads, writes) or skipped (listing)
 * and is never followed; deleting removes the link itself, not its target.
 * Not covered: hard links and bind mounts made inside the root by someone who
 * can already write there, and the root path itself (it may be a symlink, it
 * is the operator's choice).
 *
 * Durability. A write goes to ".kite.tmp.<pid>.<n>" in the target folder,
 * is fsync'ed, renamed over the final name, and the folder is fsync'ed; new
 * folders are fsync'ed into their parents. So after a crash (kill -9, power
 * loss on a file system that honours fsync) a final name holds either its
 * previous content or the complete new one. A crash can leave a temporary
 * file behind: names starting with ".kite." are invisible to listings,
 * unreachable by URIs, and removed with their folder by delete_prefix (unless
 * the pid in the name is alive: see in_progress()).
 *
 * DESIGN
 * Thread safety: the backend's only shared state is the root fd (read-only
 * after open) and an atomic counter for temporary names; each call has its
 * own fds. Writers racing on one name: the last rename wins, each reader sees
 * one complete version. A write racing a delete_prefix of its folder is not
 * lost: while walking, it makes again a folder that vanished under it
 * (bounded retries); once its temporary file exists, delete_prefix leaves
 * that file and its folders in place (the write lands after the delete).
 * delete_prefix removes every entry its readdir pass sees, which includes
 * every file that existed when it began (readdir returns each entry present
 * for the whole pass); a folder found non-empty again at its rmdir got new
 * files from a concurrent writer: it is emptied again a few times
 * (KEEP_RETRIES), then left in place and reported as kept, so a writer that
 * never stops cannot make the delete fail.
 * New folders are fsync'ed into their parents at commit, not when made, so
 * that no slow fsync sits between making a folder and using it. With
 * STORAGE_LOCAL_NOSYNC there is no fsync at all: renames keep writes atomic
 * for readers and across a killed process, not across a power loss.
 *
 * Speed: on Linux >= 5.6 a folder is opened with one openat2(RESOLVE_BENEATH
 * | RESOLVE_NO_SYMLINKS), which gives the kernel the same guarantee as the
 * walk; the walk runs when openat2 is missing or refuses (then it also words
 * the error).
 */
#include "storage/storage_int.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "util/mem.h"

typedef struct local {
    storage base;
    int root_fd;
    char *root;
    int sync;       /* 0 with STORAGE_LOCAL_NOSYNC */
} local;

static atomic_ulong tmp_counter;
static atomic_int no_openat2;   /* set once openat2 turned out unavailable */

#define WALK_RETRIES 20

/* ---- walking ---------------------------------------------------------- */

/* Folders made by a walk: their parents, to fsync once the write is done. */
typedef struct made {
    int fds[STORAGE_DEPTH_MAX];
    int n;
} made;

/* fsyncs (when sync) and closes the parents in m; 0 or -1 with e set. */
static int made_done(made *m, int sync, kerr *e)
{
    int rc = 0;
    for (int i = 0; i < m->n; i++) {
        if (sync && !rc && fsync(m->fds[i]))
            rc = kerr_set(e, "fsync of a new folder's parent: %s", strerror(errno));
        close(m->fds[i]);
    }
    m->n = 0;
    return rc;
}

/* Opens the folder made of the first `dirlen` bytes of path (segments split
 * by '/'; dirlen 0 is the root). With m, missing folders are made, and the
 * fds of their parents added to m: the caller fsyncs them (made_done) after
 * its write, so that no slow fsync sits between making a folder and using
 * it (a concurrent delete_prefix would remove it meanwhile, every time).
 * Returns an fd, or -1 with errno set: ENOENT when a folder is missing (or
 * vanished during the walk), in which case e is untouched unless m; any
 * other failure also sets e. */
static int walk_dir(local *l, const char *path, size_t dirlen, made *m, kerr *e)
{
    int create = m != NULL;
    char tmp[STORAGE_URI_MAX + 1];
    if (dirlen > STORAGE_URI_MAX) {
        kerr_set(e, "path too long");
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, dirlen);
    tmp[dirlen] = '\0';
#ifdef SYS_openat2
    /* Fast path: one openat2 that the kernel keeps beneath the root and off
     * every symlink, the same guarantee as the walk below. Whatever it
     * refuses (a link, a file, a missing folder to make) is left to the walk,
     * which makes folders and words the message. */
    if (dirlen && !atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)syscall(SYS_openat2, l->root_fd, tmp, &how, sizeof how);
        if (fd >= 0)
            return fd;
        if (errno == ENOENT && !create)
            return -1;
        if (errno == ENOSYS || errno == EPERM || errno == E2BIG)
            atomic_store(&no_openat2, 1);
    }
#endif
    int fd = dup(l->root_fd);
    if (fd < 0) {
        int err = errno;
        kerr_set(e, "dup: %s", strerror(err));
        errno = err;
        return -1;
    }
    size_t pos = 0;
    while (pos < dirlen) {
        char *name = tmp + pos;
        char *slash = strchr(name, '/');
        if (slash)
            *slash = '\0';
        size_t next = slash ? (size_t)(slash - tmp) + 1 : dirlen;
        int sub;
        for (int tries = 0;; tries++) {
            sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0 || errno != ENOENT || !create || tries == WALK_RETRIES)
                break;
            /* EEXIST: another thread made it; open it. Made but gone again
             * before the open: a delete_prefix raced us; make it again. */
            if (mkdirat(fd, name, 0700) == 0) {
                if (m->n < STORAGE_DEPTH_MAX) {
                    int keep = dup(fd);
                    if (keep >= 0)
                        m->fds[m->n++] = keep;
                }
            } else if (errno != EEXIST) {
                break;
            }
        }
        if (sub < 0) {
            int err = errno;
            int shown = (int)(slash ? (size_t)(slash - tmp) : dirlen);
            if (err == ENOENT && !create) {
                close(fd);
                errno = ENOENT;
                return -1;
            }
            struct stat st;
            if ((err == ELOOP || err == ENOTDIR) &&
                fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                kerr_set(e, "'%.*s' is a symbolic link, which storage never follows", shown,
                         path);
            else if (err == ELOOP || err == ENOTDIR || err == EEXIST)
                kerr_set(e, "'%.*s' is not a folder", shown, path);
            else
                kerr_set(e, "cannot open folder '%.*s': %s", shown, path, strerror(err));
            close(fd);
            errno = err == EEXIST ? ENOTDIR : err;
            return -1;
        }
        close(fd);
        fd = sub;
        pos = next;
    }
    return fd;
}

/* Length of the folder part of path, and its base name. */
static size_t split(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *base = path;
        return 0;
    }
    *base = slash + 1;
    return (size_t)(slash - path);
}

/* ---- writing ---------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies the rest of in to out. */
static int copy_fd(int in, int out, kerr *e)
{
    for (;;) {
        ssize_t r = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (r == 0)
            return 0;
        if (r > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return kerr_set(e, "copy: %s", strerror(errno));
        break;   /* fall back to read/write from where we are */
    }
    char chunk[65536];
    for (;;) {
        ssize_t r = read(in, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kerr_set(e, "read: %s", strerror(errno));
        if (r == 0)
            return 0;
        if (write_all(out, chunk, (size_t)r))
            return kerr_set(e, "write: %s", strerror(errno));
    }
}

/* Creates a fresh temporary file in dfd; its name goes to name[64]. */
static int make_temp(int dfd, char name[64])
{
    for (int tries = 0; tries < 100; tries++) {
        unsigned long n = atomic_fetch_add(&tmp_counter, 1);
        snprintf(name, 64, STORAGE__RESERVED_PREFIX "tmp.%ld.%lu", (long)getpid(), n);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* A write in progress: the temporary file `tmp` in folder dfd, to be renamed
 * to `base`. While it exists, delete_prefix leaves its folder in place
 * (in_progress()), so the rename cannot lose its folder. */
typedef struct local_writer {
    storage_writer pub;   /* pub.fd: the temporary file */
    int dfd;
    char tmp[64];
    char *base;
    char *path;
    int sync;
    made m;
} local_writer;

static storage_writer *local_writer_open(storage *s, const char *path, kerr *e)
{
    local *l = (local *)s;
    const char *base;
    size_t dirlen = split(path, &base);
    local_writer *w = xcalloc(1, sizeof *w);
    for (int attempt = 0;; attempt++) {
        w->dfd = walk_dir(l, path, dirlen, &w->m, e);
        if (w->dfd < 0 && errno == ENOENT && attempt < WALK_RETRIES)
            continue;   /* a parent was deleted under us: walk again */
        if (w->dfd < 0)
            break;
        w->pub.fd = make_temp(w->dfd, w->tmp);
        if (w->pub.fd >= 0) {
            w->sync = l->sync;
            w->base = xstrdup(base);
            w->path = xstrdup(path);
            return &w->pub;
        }
        int err = errno;
        close(w->dfd);
        if (err == ENOENT && attempt < WALK_RETRIES)
            continue;   /* the folder was deleted between the walk and now */
        kerr_set(e, "cannot create a temporary file: %s", strerror(err));
        break;
    }
    made_done(&w->m, 0, e);
    free(w);
    return NULL;
}

static void writer_free(local_writer *w)
{
    free(w->base);
    free(w->path);
    free(w);
}

static void local_writer_abort(storage_writer *pub)
{
    local_writer *w = (local_writer *)pub;
    close(w->pub.fd);
    unlinkat(w->dfd, w->tmp, 0);
    close(w->dfd);
    made_done(&w->m, 0, NULL);
    writer_free(w);
}

/* fsync the data, rename into place, fsync the folder and the parents of
 * new folders: only then is the file durable under its name. */
static int local_writer_commit(storage_writer *pub, kerr *e)
{
    local_writer *w = (local_writer *)pub;
    int rc = 0;
    if (w->sync && fsync(w->pub.fd))
        rc = kerr_set(e, "fsync: %s", strerror(errno));
    if (close(w->pub.fd) && !rc)
        rc = kerr_set(e, "close: %s", strerror(errno));
    if (!rc && renameat(w->dfd, w->tmp, w->dfd, w->base)) {
        int err = errno;
        if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
            rc = kerr_set(e, "'%s' is a folder", w->path);
        else
            rc = kerr_set(e, "rename: %s", strerror(err));
    }
    if (rc)
        unlinkat(w->dfd, w->tmp, 0);
    else if (w->sync && fsync(w->dfd))
        rc = kerr_set(e, "fsync of the folder: %s", strerror(errno));
    close(w->dfd);
    int mrc = made_done(&w->m, w->sync && rc == 0, e);
    writer_free(w);
    return rc ? rc : mrc;
}

static int local_put(storage *s, const char *path, const void *data, size_t len, kerr *e)
{
    storage_writer *w = local_writer_open(s, path, e);
    if (!w)
        return -1;
    if (len && write_all(w->fd, data, len)) {
        kerr_set(e, "write: %s", strerror(errno));
        local_writer_abort(w);
        return -1;
    }
    return local_writer_commit(w, e);
}

/* Renames the local file src into place; 1 when src is on another file
 * system (the caller copies), 0 done, -1 error. */
static int move_into(local *l, const char *path, const char *srcpath, kerr *e)
{
    const char *base;
    size_t dirlen = split(path, &base);
    int sfd = open(srcpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return kerr_set(e, "source '%s': %s", srcpath, strerror(errno));
    /* The data must be on disk before the name points at it. */
    int rc = 0;
    if ((l->sync && fsync(sfd)) || fchmod(sfd, 0600))
        rc = kerr_set(e, "source '%s': %s", srcpath, strerror(errno));
    close(sfd);
    if (rc)
        return rc;
    made m = {.n = 0};
    for (int attempt = 0;; attempt++) {
        int dfd = walk_dir(l, path, dirlen, &m, e);
        if (dfd < 0 && errno == ENOENT && attempt < WALK_RETRIES)
            continue;
        if (dfd < 0) {
            rc = -1;
            break;
        }
        if (renameat(AT_FDCWD, srcpath, dfd, base)) {
            int err = errno;
            close(dfd);
            if (err == EXDEV) {
                rc = 1;
                break;
            }
            if (err == ENOENT && attempt < WALK_RETRIES && access(srcpath, F_OK) == 0)
                continue;
            if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
                rc = kerr_set(e, "'%s' is a folder", path);
            else
                rc = kerr_set(e, "cannot move '%s' into storage: %s", srcpath, strerror(err));
            break;
        }
        /* The source was checked before the rename; make sure what landed is
         * still a regular file (the source path is the caller's, not ours). */
        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
            unlinkat(dfd, base, 0);
            rc = kerr_set(e, "source '%s' is not a regular file", srcpath);
        } else if (l->sync && fsync(dfd)) {
            rc = kerr_set(e, "fsync of the folder: %s", strerror(errno));
        }
        close(dfd);
        break;
    }
    /* on EXDEV too: the copy that follows finds these folders made */
    int mrc = made_done(&m, l->sync && rc >= 0, e);
    return rc ? rc : mrc;
}

static int local_put_file(storage *s, const char *path, const char *srcpath, unsigned flags,
                          kerr *e)
{
    local *l = (local *)s;
    struct stat st;
    if (lstat(srcpath, &st))
        return kerr_set(e, "source '%s': %s", srcpath, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return kerr_set(e, "source '%s' is a symbolic link", srcpath);
    if (!S_ISREG(st.st_mode))
        return kerr_set(e, "source '%s' is not a regular file", srcpath);
    if (flags & STORAGE_PUT_MOVE) {
        int rc = move_into(l, path, srcpath, e);
        if (rc <= 0)
            return rc;
    }
    int fd = open(srcpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kerr_set(e, "source '%s': %s", srcpath, strerror(errno));
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return kerr_set(e, "source '%s' is not a regular file", srcpath);
    }
    storage_writer *w = local_writer_open(s, path, e);
    int rc = -1;
    if (w) {
        rc = copy_fd(fd, w->fd, e);
        if (rc)
            local_writer_abort(w);
        else
            rc = local_writer_commit(w, e);
    }
    close(fd);
    if (!rc && (flags & STORAGE_PUT_MOVE) && unlink(srcpath))
        return kerr_set(e, "stored, but cannot remove source '%s': %s", srcpath,
                        strerror(errno));
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

static int local_open_read(storage *s, const char *path, kerr *e)
{
    local *l = (local *)s;
    const char *base;
    size_t dirlen = split(path, &base);
    int dfd = walk_dir(l, path, dirlen, NULL, e);
    if (dfd < 0) {
        int err = errno;
        if (err == ENOENT)
            kerr_set(e, "no such file");
        errno = err;
        return -1;
    }
    /* O_NONBLOCK: a FIFO planted in the root must not block the open. */
    int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int err = errno;
    close(dfd);
    if (fd < 0) {
        if (err == ENOENT)
            kerr_set(e, "no such file");
        else if (err == ELOOP)
            kerr_set(e, "is a symbolic link, which storage never follows");
        else
            kerr_set(e, "open: %s", strerror(err));
        errno = err;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        err = errno;
        close(fd);
        kerr_set(e, "fstat: %s", strerror(err));
        errno = err;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        int isdir = S_ISDIR(st.st_mode);
        close(fd);
        kerr_set(e, isdir ? "is a folder, not a file" : "is not a regular file");
        errno = isdir ? EISDIR : EINVAL;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        err = errno;
        close(fd);
        kerr_set(e, "fcntl: %s", strerror(err));
        errno = err;
        return -1;
    }
    return fd;
}

static int local_stat(storage *s, const char *path, int64_t *size, kerr *e)
{
    local *l = (local *)s;
    const char *base;
    size_t dirlen = split(path, &base);
    int dfd = walk_dir(l, path, dirlen, NULL, e);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? (kerr_clear(e), 0) : -1;
    struct stat st;
    int r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
    int err = errno;
    close(dfd);
    if (r) {
        if (err == ENOENT)
            return 0;
        return kerr_set(e, "stat: %s", strerror(err));
    }
    if (S_ISLNK(st.st_mode))
        return kerr_set(e, "is a symbolic link, which storage never follows");
    if (!S_ISREG(st.st_mode))
        return 0;
    *size = st.st_size;
    return 1;
}

/* ---- listing ---------------------------------------------------------- */

typedef void (*add_fn)(void *ctx, const char *rel, int64_t size);

/* Adds every regular file below dfd (consumed), rel being its path. */
static int walk_tree(int dfd, buf *rel, int depth, add_fn add, void *ctx, kerr *e)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return kerr_set(e, "opendir: %s", strerror(errno));
    }
    int rc = 0;
    size_t keep = rel->len;
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        size_t nlen = strlen(name);
        if (!strcmp(name, ".") || !strcmp(name, "..") || storage__is_reserved(name, nlen))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW))
            continue;   /* deleted meanwhile */
        rel->len = keep;
        if (keep)
            buf_putc(rel, '/');
        buf_append(rel, name, nlen);
        if (S_ISREG(st.st_mode)) {
            add(ctx, rel->data, st.st_size);
        } else if (S_ISDIR(st.st_mode) && depth < STORAGE_DEPTH_MAX) {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = walk_tree(sub, rel, depth + 1, add, ctx, e);
        }
        /* symbolic links and special files are not storage files: skipped */
    }
    if (!rc && errno)
        rc = kerr_set(e, "readdir: %s", strerror(errno));
    rel->len = keep;
    if (rel->data)
        rel->data[keep] = '\0';
    closedir(d);
    return rc;
}

static int local_list(storage *s, const char *path, add_fn add, void *ctx, kerr *e)
{
    local *l = (local *)s;
    if (*path) {
        int64_t size;
        int r = local_stat(s, path, &size, e);
        if (r < 0)
            return -1;
        if (r == 1) {
            add(ctx, path, size);
            return 0;
        }
    }
    int dfd = walk_dir(l, path, strlen(path), NULL, e);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? (kerr_clear(e), 0) : -1;
    buf rel = BUF_INIT;
    buf_puts(&rel, path);
    int rc = walk_tree(dfd, &rel, 0, add, ctx, e);
    buf_free(&rel);
    return rc;
}

/* ---- deleting --------------------------------------------------------- */

static int local_remove(storage *s, const char *path, kerr *e)
{
    local *l = (local *)s;
    const char *base;
    size_t dirlen = split(path, &base);
    int dfd = walk_dir(l, path, dirlen, NULL, e);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? (kerr_clear(e), 0) : -1;
    int rc = 1;
    if (unlinkat(dfd, base, 0)) {
        if (errno == ENOENT)
            rc = 0;
        else if (errno == EISDIR)
            rc = kerr_set(e, "is a folder (delete it with storage_delete_prefix)");
        else
            rc = kerr_set(e, "unlink: %s", strerror(errno));
    } else if (l->sync && fsync(dfd)) {
        rc = kerr_set(e, "fsync of the folder: %s", strerror(errno));
    }
    close(dfd);
    return rc;
}

/* Passes over a folder that a concurrent writer keeps filling before it is
 * left in place and reported as kept. */
#define KEEP_RETRIES 3

/* What one delete_prefix found. */
typedef struct removal {
    long count;   /* regular files removed (temporary files not counted) */
    buf rel;      /* the folder being removed, relative to the root */
    char **kept;  /* folders left in place (rel, ending in '/') */
    size_t n_kept;
} removal;

static void keep_folder(removal *r)
{
    r->kept = xrealloc(r->kept, (r->n_kept + 1) * sizeof *r->kept);
    r->kept[r->n_kept++] = xasprintf("%s/", buf_str(&r->rel));
}

static int remove_tree(int pfd, const char *name, int depth, removal *r, kerr *e);

/* True when name is the temporary file of a write still in progress: of this
 * process (a failed write always removes its own), or of a live process.
 * Anything else reserved is a crash leftover. A reused pid can keep a
 * leftover alive until a later delete; that is the only cost. */
static int in_progress(const char *name)
{
    long pid;
    unsigned long n;
    if (sscanf(name, STORAGE__RESERVED_PREFIX "tmp.%ld.%lu", &pid, &n) != 2 || pid <= 0)
        return 0;
    if (pid == (long)getpid())
        return 1;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Empties the folder dfd (consumed); adds the regular files removed to
 * r->count. Returns -1 on error, 1 when something stays in it (a write in
 * progress, a folder kept), 0 when it was emptied. */
static int empty_tree(int dfd, int depth, removal *r, kerr *e)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return kerr_set(e, "opendir: %s", strerror(errno));
    }
    int rc = 0, stays = 0;
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW))
            continue;
        int reserved = storage__is_reserved(name, strlen(name));
        if (S_ISDIR(st.st_mode)) {
            rc = remove_tree(dirfd(d), name, depth + 1, r, e);
            if (rc > 0) {
                stays = 1;
                rc = 0;
            }
        } else if (reserved && in_progress(name)) {
            stays = 1;   /* its rename will land; the folder stays */
        } else if (unlinkat(dirfd(d), name, 0) == 0) {
            r->count += S_ISREG(st.st_mode) && !reserved;
        } else if (errno != ENOENT) {
            rc = kerr_set(e, "unlink '%s': %s", name, strerror(errno));
        }
    }
    if (!rc && errno)
        rc = kerr_set(e, "readdir: %s", strerror(errno));
    closedir(d);
    return rc ? rc : stays;
}

/* Removes the entry name of folder pfd: a folder with everything below it,
 * or a file or link. A folder a writer adds to meanwhile is emptied again, a
 * bounded number of times, then left in place; so is one holding a write in
 * progress. Returns -1 on error, 0 when removed, 1 when the folder was left
 * in place (and recorded in r->kept). */
static int remove_tree(int pfd, const char *name, int depth, removal *r, kerr *e)
{
    if (depth > STORAGE_DEPTH_MAX + 1)
        return kerr_set(e, "folders nested too deep");
    size_t mark = r->rel.len;
    if (mark)
        buf_putc(&r->rel, '/');
    buf_puts(&r->rel, name);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                break;
            /* a file (or link) by that name: removed like a file */
            struct stat st;
            if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                unlinkat(pfd, name, 0) == 0) {
                r->count += S_ISREG(st.st_mode);
                break;
            }
            if (errno != ENOENT)
                rc = kerr_set(e, "open '%s': %s", name, strerror(errno));
            break;
        }
        int inner = empty_tree(fd, depth, r, e);
        if (inner < 0) {
            rc = -1;
            break;
        }
        if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            break;
        if (errno != ENOTEMPTY) {
            rc = kerr_set(e, "rmdir '%s': %s", name, strerror(errno));
            break;
        }
        /* what stays is what a concurrent writer put there after this pass
         * began (a write in progress, a kept folder, or new files: those
         * are emptied again a few times) */
        if (inner > 0 || attempt >= KEEP_RETRIES) {
            keep_folder(r);
            rc = 1;
            break;
        }
    }
    r->rel.len = mark;
    r->rel.data[mark] = '\0';
    return rc;
}

static long local_remove_prefix(storage *s, const char *path, char ***kept, size_t *n_kept,
                                kerr *e)
{
    local *l = (local *)s;
    const char *base;
    size_t dirlen = split(path, &base);
    int pfd = walk_dir(l, path, dirlen, NULL, e);
    if (pfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? (kerr_clear(e), 0) : -1;
    removal r = {0, BUF_INIT, NULL, 0};
    buf_append(&r.rel, path, dirlen);
    int rc = remove_tree(pfd, base, 1, &r, e);
    if (rc >= 0 && l->sync && fsync(pfd))
        rc = kerr_set(e, "fsync of the folder: %s", strerror(errno));
    close(pfd);
    buf_free(&r.rel);
    if (rc < 0) {
        for (size_t i = 0; i < r.n_kept; i++)
            free(r.kept[i]);
        free(r.kept);
        return -1;
    }
    *kept = r.kept;
    *n_kept = r.n_kept;
    return r.count;
}

/* ---- opening ---------------------------------------------------------- */

void storage__local_use_openat2(int on)
{
    atomic_store(&no_openat2, !on);
}

static void local_free(storage *s)
{
    local *l = (local *)s;
    close(l->root_fd);
    free(l->root);
    free(l);
}

static const storage_ops local_ops = {
    .name = "local",
    .free = local_free,
    .put = local_put,
    .put_file = local_put_file,
    .writer_open = local_writer_open,
    .writer_commit = local_writer_commit,
    .writer_abort = local_writer_abort,
    .open_read = local_open_read,
    .stat = local_stat,
    .list = local_list,
    .remove = local_remove,
    .remove_prefix = local_remove_prefix,
};

/* mkdir -p with mode 0700 for what is missing. */
static int make_dirs(const char *root, kerr *e)
{
    char *p = xstrdup(root);
    int rc = 0;
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char c = *q;
        *q = '\0';
        if (mkdir(p, 0700) && errno != EEXIST) {
            rc = kerr_set(e, "storage root: cannot create '%s': %s", p, strerror(errno));
            break;
        }
        *q = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

storage *storage_open_local(const char *root, kerr *e)
{
    return storage_open_local_ex(root, 0, e);
}

storage *storage_open_local_ex(const char *root, unsigned flags, kerr *e)
{
    if (!root || !*root) {
        kerr_set(e, "storage root: empty path");
        return NULL;
    }
    if (make_dirs(root, e))
        return NULL;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        kerr_set(e, "storage root '%s': %s", root, strerror(errno));
        return NULL;
    }
    local *l = xcalloc(1, sizeof *l);
    l->base.ops = &local_ops;
    l->root_fd = fd;
    l->root = xstrdup(root);
    l->sync = !(flags & STORAGE_LOCAL_NOSYNC);
    return &l->base;
}
