/*
 * storage_int.h: what the storage layer's files share, and nobody else needs:
 * the backend vtable.
 *
 * storage.c parses every URI and calls a backend operation with `path`, the
 * decoded relative path of storage_uri (segments joined by '/', each non-empty,
 * never "." or "..", never holding NUL or '/', never starting with the reserved
 * ".kite."; "" only for the root folder). Operations store their message in e
 * without the URI; storage.c prefixes it with the URI. A backend may leave a
 * hook NULL where noted; storage.c then uses a generic fallback.
 */
#ifndef KITE_STORAGE_STORAGE_INT_H
#define KITE_STORAGE_STORAGE_INT_H

#include "storage/storage.h"

/* Names starting with this are the backend's own (temporary files): URIs
 * cannot name them and listings skip them. */
#define STORAGE__RESERVED_PREFIX ".kite."

typedef struct storage_ops {
    const char *name;
    /* 1 when opening a file fetches it (s3): storage_read_all then asks the
     * size first and refuses a file over its cap without fetching it */
    int remote;
    /* Releases the backend's state and s itself. */
    void (*free)(storage *s);
    /* Atomically stores len bytes at path. */
    int (*put)(storage *s, const char *path, const void *data, size_t len, kerr *e);
    /* Atomically stores the local file src at path; flags as storage_put_file. */
    int (*put_file)(storage *s, const char *path, const char *src, unsigned flags,
                    kerr *e);
    /* Starts a streaming write of path: a writer whose fd takes the bytes;
     * NULL on error. The backend's writer struct starts with storage_writer;
     * storage.c fills its ops and uri. */
    storage_writer *(*writer_open)(storage *s, const char *path, kerr *e);
    /* Makes the written bytes the file at path, atomically; frees w. */
    int (*writer_commit)(storage_writer *w, kerr *e);
    /* Drops the bytes; frees w. */
    void (*writer_abort)(storage_writer *w);
    /* Opens path for reading: an fd, or -1. A missing file sets errno to
     * ENOENT (storage.c then words the message). */
    int (*open_read)(storage *s, const char *path, kerr *e);
    /* A sequential reader of path (its struct starts with storage_reader;
     * storage.c fills ops and uri), *size the file's length; NULL on error,
     * errno ENOENT for a missing file. NULL hook: open_read's descriptor. */
    storage_reader *(*reader_open)(storage *s, const char *path, int64_t *size /* OUT */, kerr *e);
    /* Up to n bytes: the count, 0 at the end, -1 on error. */
    ssize_t (*reader_read)(storage_reader *r, void *dst, size_t n, kerr *e);
    /* Frees r. */
    void (*reader_close)(storage_reader *r);
    /* *size of the file at path; returns 1 found, 0 absent, -1 error.
     * NULL: open_read + fstat. */
    int (*stat)(storage *s, const char *path, int64_t *size /* OUT */, kerr *e);
    /* Calls add(ctx, relative path, size) for every file below the folder
     * path (or path itself when it is a file), any order; 0 or -1. */
    int (*list)(storage *s, const char *path,
                void (*add)(void *ctx, const char *rel, int64_t size), void *ctx,
                kerr *e);
    /* 1 deleted, 0 absent, -1 error. */
    int (*remove)(storage *s, const char *path, kerr *e);
    /* Removes the folder path recursively; number of files removed, or -1.
     * kept (may be NULL) receives the folders (paths relative to the root,
     * ending in '/', deepest first) left in place because a concurrent
     * write landed in them or is under way; *n_kept their number. */
    long (*remove_prefix)(storage *s, const char *path, char ***kept, size_t *n_kept,
                          kerr *e);
} storage_ops;

/* Every backend's writer starts with this. */
struct storage_writer {
    int fd;                  /* the backend's: where the bytes go */
    const storage_ops *ops;  /* storage.c's: the backend that made it */
    char *uri;               /* storage.c's: canonical URI, for messages */
};

/* Every backend's reader starts with this. */
struct storage_reader {
    int fd;                  /* the backend's: the file's descriptor, or -1 */
    const storage_ops *ops;  /* storage.c's: NULL for storage.c's own fd reader */
    char *uri;               /* storage.c's: canonical URI, for messages */
};

/* Every backend's struct starts with this. */
struct storage {
    const storage_ops *ops;
};

/* True when a decoded segment of len bytes is reserved for backends. */
int storage__is_reserved(const char *seg, size_t len);

/* local.c: tests turn the openat2 fast path off (0) to run the portable
 * walk alone; on (1) it is used when the kernel has it. */
void storage__local_use_openat2(int on);

#endif
