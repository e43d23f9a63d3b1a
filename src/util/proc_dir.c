/*
 * proc_dir.c: the working folder of a task run (see proc.h).
 *
 * Each run gets a fresh folder (mkdtemp, mode 0700) and loses it afterwards,
 * except the output files the task declared. Removal walks the tree with
 * openat/fstatat/unlinkat relative to directory fds opened O_NOFOLLOW, so a
 * symbolic link planted by the script (to /, to $HOME) is removed as a link
 * and never followed, and a directory swapped for a link between two calls
 * makes openat fail instead of leading the walk elsewhere. The walk does not
 * cross into another file system (a bind mount inside the folder is left and
 * reported). It holds one fd per level of depth, up to MAX_DEPTH levels.
 * Read-only folders the script left are made writable first (its owner may).
 */
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

#define MAX_DEPTH 256

int proc_workdir_new(const char *root, const char *prefix, char **path, kerr *e)
{
    *path = NULL;
    if (!root || !*root)
        return kerr_set(e, "working folder: no root folder given");
    if (!prefix)
        prefix = "kite-run-";
    if (strchr(prefix, '/'))
        return kerr_set(e, "working folder: prefix '%s' holds '/'", prefix);
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    char *tmpl = xasprintf("%.*s/%sXXXXXX", (int)rl, root, prefix);
    if (!mkdtemp(tmpl)) {
        int er = errno;
        free(tmpl);
        return kerr_set(e, "working folder: cannot create a folder in '%s': %s", root,
                        strerror(er));
    }
    *path = tmpl;
    return 0;
}

/* ---- Globs -------------------------------------------------------------- */

/* [...] at p (p points after '['); sets *end past ']'. */
static int match_class(const char *p, char c, const char **end)
{
    int neg = 0, hit = 0;
    if (*p == '!' || *p == '^') {
        neg = 1;
        p++;
    }
    const char *start = p;
    while (*p && (*p != ']' || p == start)) {
        char lo = *p, hi = *p;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 2;
        }
        if (c >= lo && c <= hi)
            hit = 1;
        p++;
    }
    if (*p != ']') {        /* no closing bracket: '[' is a plain character */
        *end = NULL;
        return 0;
    }
    *end = p + 1;
    return hit != neg;
}

/* One segment: p..pe against s..se, no '/' inside either. */
static int match_seg(const char *p, const char *pe, const char *s, const char *se)
{
    while (p < pe) {
        if (*p == '*') {
            while (p < pe && *p == '*')
                p++;
            if (p == pe)
                return 1;
            for (const char *t = s; t <= se; t++)
                if (match_seg(p, pe, t, se))
                    return 1;
            return 0;
        }
        if (s == se)
            return 0;
        if (*p == '?') {
            p++;
            s++;
            continue;
        }
        if (*p == '[') {
            const char *end;
            int m = match_class(p + 1, *s, &end);
            if (end && end <= pe) {
                if (!m)
                    return 0;
                p = end;
                s++;
                continue;
            }
        }
        if (*p == '\\' && p + 1 < pe)
            p++;
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return s == se;
}

static int match_path(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    const char *pe = strchr(p, '/');
    if (!pe)
        pe = p + strlen(p);
    if (pe - p == 2 && p[0] == '*' && p[1] == '*') {
        if (!*pe)
            return 1;               /* trailing ** takes everything left */
        const char *rest = pe + 1;
        for (const char *q = s;;) {
            if (match_path(rest, q))
                return 1;
            q = strchr(q, '/');
            if (!q)
                return 0;
            q++;
        }
    }
    if (!*s)
        return 0;
    const char *se = strchr(s, '/');
    if (!se)
        se = s + strlen(s);
    if (!match_seg(p, pe, s, se))
        return 0;
    if (!*pe)
        return !*se;
    if (!*se)
        return 0;
    return match_path(pe + 1, se + 1);
}

int proc_glob_match(const char *pattern, const char *path)
{
    while (pattern[0] == '.' && pattern[1] == '/')
        pattern += 2;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return match_path(pattern, path);
}

void proc_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* ---- Removal ------------------------------------------------------------ */

typedef struct rmwalk {
    const char *const *keep;
    dev_t dev;
    char **kept;
    size_t nkept, capkept;
    kerr *e;
    int failed;
    const char *root;
} rmwalk;

static void rm_fail(rmwalk *w, const char *rel, const char *what, int er)
{
    if (!w->failed)
        kerr_set(w->e, "working folder '%s': cannot remove '%s': %s%s", w->root, rel, what,
                 er ? strerror(er) : "");
    w->failed = 1;
}

static int keep_match(const rmwalk *w, const char *rel)
{
    for (const char *const *k = w->keep; k && *k; k++)
        if (proc_glob_match(*k, rel))
            return 1;
    return 0;
}

/* Scripts leave read-only folders behind (Go's module cache is 0555):
 * removing what is inside needs write permission on the folder, listing it
 * needs read permission. The owner may always grant them, so on EACCES the
 * folder is made 0700 and the call retried once. fchmod works on the fd we
 * hold; fchmodat with AT_SYMLINK_NOFOLLOW never follows a link. */
static int open_sub(int dfd, const char *name)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dfd, name, flags);
    if (fd < 0 && errno == EACCES &&
        fchmodat(dfd, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
        fd = openat(dfd, name, flags);
    return fd;
}

static int unlink_entry(int dfd, const char *name, int flags)
{
    if (unlinkat(dfd, name, flags) == 0)
        return 0;
    if ((errno != EACCES && errno != EPERM) || fchmod(dfd, 0700) != 0) {
        return -1;
    }
    return unlinkat(dfd, name, flags);
}

/* Empties the directory dfd (consumed) whose path relative to the root is
 * rel ("" for the root). Returns how many files it kept below. */
static size_t rm_dir(rmwalk *w, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        rm_fail(w, *rel ? rel : ".", "", errno);
        close(dfd);
        return 0;
    }
    size_t kept = 0;
    struct dirent *de;
    /* Removing entries while reading is fine with readdir on Linux: entries
     * are neither skipped nor repeated. */
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        char *sub = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rm_fail(w, sub, "", errno);
        } else if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != w->dev) {
                rm_fail(w, sub, "another file system is mounted there", 0);
                kept++;
            } else if (depth >= MAX_DEPTH) {
                rm_fail(w, sub, "folders nested too deep", 0);
                kept++;
            } else {
                int cfd = open_sub(dirfd(d), name);
                if (cfd < 0) {
                    rm_fail(w, sub, "", errno);
                    kept++;
                } else {
                    size_t k = rm_dir(w, cfd, sub, depth + 1);
                    kept += k;
                    if (!k && unlink_entry(dirfd(d), name, AT_REMOVEDIR) != 0) {
                        rm_fail(w, sub, "", errno);
                        kept++;
                    }
                }
            }
        } else if (S_ISREG(st.st_mode) && keep_match(w, sub)) {
            if (w->nkept + 2 > w->capkept) {
                w->capkept = w->capkept ? w->capkept * 2 : 8;
                w->kept = xrealloc(w->kept, w->capkept * sizeof *w->kept);
            }
            w->kept[w->nkept++] = sub;
            w->kept[w->nkept] = NULL;
            sub = NULL;
            kept++;
        } else if (unlink_entry(dirfd(d), name, 0) != 0 && errno != ENOENT) {
            rm_fail(w, sub, "", errno);
            kept++;
        }
        free(sub);
    }
    closedir(d);
    return kept;
}

int proc_workdir_remove(const char *dir, const char *const *keep, char ***kept, kerr *e)
{
    if (kept)
        *kept = NULL;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return kerr_set(e, "working folder '%s': %s", dir, strerror(errno));
    struct stat st;
    if (fstat(dfd, &st) != 0) {
        int er = errno;
        close(dfd);
        return kerr_set(e, "working folder '%s': %s", dir, strerror(er));
    }
    rmwalk w = {.keep = keep, .dev = st.st_dev, .e = e, .root = dir};
    size_t n = rm_dir(&w, dfd, "", 0);
    if (!n && rmdir(dir) != 0)
        rm_fail(&w, ".", "", errno);
    if (kept) {
        if (!w.kept)
            w.kept = xcalloc(1, sizeof *w.kept);
        *kept = w.kept;
    } else {
        proc_strv_free(w.kept);
    }
    if (w.failed) {
        if (kept) {
            proc_strv_free(*kept);
            *kept = NULL;
        }
        return -1;
    }
    return (int)w.nkept;
}

/* ---- Reused folders ------------------------------------------------------
 *
 * On this kind of disk a folder costs more than a spawn: ext4 mounted with
 * `discard` takes 0.1-0.2 ms a mkdir and up to 1 ms a rmdir (the freed block
 * is discarded), and a script task made and removed three. So a run's folder
 * that held only its named sub-folders is emptied (with the walk above:
 * links removed, never followed, no crossing into another file system),
 * every other entry removed, modes set back to 0700, and kept for the next
 * run with the same root and prefix: a few at most, removed at exit. A
 * folder that cannot be brought back to that state is removed as before. */

#define POOL_MAX 8

static struct pooled {
    char *dir;       /* root/prefixXXXXXX */
    size_t keylen;   /* the length of root/prefix */
} pool[POOL_MAX];
static int npool, pool_atexit;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void pool_drain(void)
{
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < npool; i++) {
        kerr e = KERR_INIT;
        proc_workdir_remove(pool[i].dir, NULL, NULL, &e);
        free(pool[i].dir);
    }
    npool = 0;
    pthread_mutex_unlock(&pool_lock);
}

int proc_workdir_take(const char *root, const char *prefix, char **path, int *reused, kerr *e)
{
    *reused = 0;
    *path = NULL;
    if (root && *root && prefix && !strchr(prefix, '/')) {
        size_t rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
            rl--;
        char *key = xasprintf("%.*s/%s", (int)rl, root, prefix);
        size_t kl = strlen(key);
        pthread_mutex_lock(&pool_lock);
        for (int i = npool - 1; i >= 0; i--)
            if (pool[i].keylen == kl && !strncmp(pool[i].dir, key, kl)) {
                *path = pool[i].dir;
                pool[i] = pool[--npool];
                break;
            }
        pthread_mutex_unlock(&pool_lock);
        free(key);
        if (*path) {
            *reused = 1;
            return 0;
        }
    }
    return proc_workdir_new(root, prefix, path, e);
}

/* Empties dir but for its sub-folders named in subdirs, themselves emptied:
 * 0 when dir then holds exactly those, empty, mode 0700; -1 otherwise. */
static int recycle(const char *dir, const char *const *subdirs, const char *const *kept)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    struct stat st;
    if (fstat(dfd, &st) != 0 || fchmod(dfd, 0700) != 0) {
        close(dfd);
        return -1;
    }
    kerr e = KERR_INIT;
    rmwalk w = {.dev = st.st_dev, .e = &e, .root = dir};
    size_t found = 0, nsub = 0;
    for (const char *const *n = subdirs; n && *n; n++)
        nsub++;
    for (const char *const *n = kept; n && *n; n++)
        nsub++;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) && !w.failed) {
        const char *name = de->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        int named = 0;
        for (const char *const *n = subdirs; n && *n && !named; n++)
            named = !strcmp(*n, name);
        int keep = 0;
        for (const char *const *n = kept; n && *n && !named && !keep; n++)
            keep = !strcmp(*n, name);
        struct stat cs;
        if (fstatat(dirfd(d), name, &cs, AT_SYMLINK_NOFOLLOW) != 0) {
            w.failed = 1;
            break;
        }
        if (keep) {
            if (S_ISDIR(cs.st_mode) && cs.st_dev == st.st_dev)
                found++; /* kept as it is: the taker checks it */
            else
                w.failed = 1;
        } else if (S_ISDIR(cs.st_mode) && cs.st_dev == st.st_dev) {
            int cfd = open_sub(dirfd(d), name);
            if (cfd < 0) {
                w.failed = 1;
                break;
            }
            if (named && fchmod(cfd, 0700) != 0) {
                close(cfd);
                w.failed = 1;
                break;
            }
            if (rm_dir(&w, cfd, name, 1) || w.failed) {
                w.failed = 1;
                break;
            }
            if (named)
                found++;
            else if (unlink_entry(dirfd(d), name, AT_REMOVEDIR) != 0)
                w.failed = 1;
        } else if (named || S_ISDIR(cs.st_mode) || unlink_entry(dirfd(d), name, 0) != 0) {
            w.failed = 1; /* a named entry that is no folder, another file system */
        }
    }
    closedir(d);
    return w.failed || found != nsub ? -1 : 0;
}

int proc_workdir_give(const char *dir, const char *const *subdirs, const char *const *kept, kerr *e)
{
    /* root/prefixXXXXXX: the key is all but mkdtemp's six characters */
    size_t dl = strlen(dir), keylen = dl > 6 ? dl - 6 : 0;
    if (keylen && !recycle(dir, subdirs, kept)) {
        pthread_mutex_lock(&pool_lock);
        if (npool < POOL_MAX) {
            if (!pool_atexit) {
                pool_atexit = 1;
                atexit(pool_drain);
            }
            pool[npool].dir = xstrdup(dir);
            pool[npool].keylen = keylen;
            npool++;
            pthread_mutex_unlock(&pool_lock);
            return 0;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    return proc_workdir_remove(dir, NULL, NULL, e) < 0 ? -1 : 0;
}
