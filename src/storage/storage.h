/*
 * storage.h: internal file storage, the storage layer's whole contract.
 *
 * Files produced or uploaded by executions, namespace files and the kv area
 * live in one storage, named by URIs (Kestra's layout, with kite's scheme):
 *
 *   kestra:///<namespace as path>/<flow>/executions/<execution id>/tasks/<task id>/<taskrun id>/<name>
 *   kestra:///<namespace as path>/<flow>/executions/<execution id>/inputs/<input id>/<name>
 *   kestra:///<namespace as path>/<flow>/executions/<execution id>/trigger/<trigger id>/<name>
 *   kestra:///<namespace as path>/_files/<path>         (namespace files)
 *   kestra:///<namespace as path>/_kv/<key>             (the kv area)
 *
 * The namespace's dots become slashes ("io.kestra.tests" is io/kestra/tests).
 * "kestra:///..." (what kite wrote before) names the same file as
 * "kestra:///..."; kite always writes Kestra's "kestra:///". See docs/storage.md for the URI rules (percent-encoding,
 * reserved names, limits) and what the local backend guarantees.
 *
 * Every operation is atomic for readers: a put either leaves the previous
 * file or the complete new one under the final name, also across a crash.
 * A storage is safe to use from several threads at once.
 *
 * Ownership: functions that return char * or arrays give them to the caller,
 * who frees them (free(), storage_entries_free(), storage_uri_free()); every
 * const char * argument is borrowed.
 *
 * DESIGN
 * Backends are const vtables of operations (storage_int.h), as curl keeps its
 * protocol handlers: storage.c parses and validates every URI once and hands
 * the backend a clean relative path ("io/kestra/tests/f/executions/..."), so
 * a backend never sees "..", empty segments or percent escapes. There are
 * `local` (a folder, local.c) and `s3` (a bucket, s3.c).
 */
#ifndef KITE_STORAGE_STORAGE_H
#define KITE_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct storage storage;

/* ---- URIs ------------------------------------------------------------- */

#define STORAGE_URI_MAX      4096  /* bytes of URI text, scheme included */
#define STORAGE_SEGMENT_MAX  255   /* bytes of one decoded path segment */
#define STORAGE_DEPTH_MAX    64    /* segments in one path */

/* What a URI names, found from its shape (first marker segment wins). */
typedef enum storage_uri_kind {
    STORAGE_URI_OTHER = 0,      /* any other valid path */
    STORAGE_URI_TASK_FILE,      /* .../executions/<id>/tasks/<task>/<taskrun>/<name> */
    STORAGE_URI_INPUT_FILE,     /* .../executions/<id>/inputs/<input>/<name> */
    STORAGE_URI_TRIGGER_FILE,   /* .../executions/<id>/trigger/<trigger>/<name> */
    STORAGE_URI_NAMESPACE_FILE, /* <ns>/_files/<path> */
    STORAGE_URI_KV,             /* <ns>/_kv/<key> */
} storage_uri_kind;

/* A parsed URI. All strings are owned by the struct (storage_uri_free). */
typedef struct storage_uri {
    char *path;          /* decoded relative path, segments joined by '/';
                            "" for the root "kestra:///" */
    char *uri;           /* canonical text: "kestra:///" + encoded path
                            (+ "/" when it was written as a folder) */
    int is_folder;       /* written with a trailing '/' (or the root) */
    int depth;           /* number of segments */
    storage_uri_kind kind;
    char *namespace_id;  /* "io.kestra.tests"; NULL for STORAGE_URI_OTHER */
    char *flow_id;       /* execution kinds only, else NULL */
    char *execution_id;  /* execution kinds only, else NULL */
    char *task_id;       /* TASK_FILE */
    char *taskrun_id;    /* TASK_FILE */
    char *input_id;      /* INPUT_FILE */
    char *trigger_id;    /* TRIGGER_FILE */
    char *name;          /* the rest after the fixed part (may hold '/'):
                            file name, namespace file path or kv key;
                            for OTHER the last segment; NULL for the root */
} storage_uri;

#define STORAGE_URI_FOLDER 0x1u  /* accept a trailing '/' and the root */

/* Parses and validates `text` ("kestra:///..." or "kite:///...") into *out.
 * Without STORAGE_URI_FOLDER a trailing '/' and the bare root are refused.
 * Returns 0, or -1 with a message naming the byte column (1-based) and what
 * is wrong, e.g. "column 12: empty path segment ('//')"; *out is then zeroed
 * and needs no free. */
int storage_uri_parse(const char *text, unsigned flags, storage_uri *out /* OUT */,
                      kerr *e);
void storage_uri_free(storage_uri *u);
/* 1 when text starts with "kestra://" or "kite://" (any case): it is meant
 * as a storage URI (valid or not), rather than, say, a namespace file path
 * given to read(). */
int storage_uri_has_scheme(const char *text);

/* The scheme and empty authority of every URI kite writes (Kestra's); the
 * path follows ("kestra:///a/b"). */
#define STORAGE_SCHEME "kestra://"

/* Percent-encodes one decoded segment (bytes outside RFC 3986 pchar, and
 * '%', become %XX); appends to b. */
void storage_uri_encode_segment(buf *b, const char *seg, size_t len);

/* Builders. Each validates its parts (a namespace is dot-separated non-empty
 * parts; ids are one segment; `name` and a namespace file path may hold '/'
 * between valid segments), percent-encodes them and returns a fresh
 * canonical "kestra:///" URI, or NULL with a message naming the part. */
char *storage_uri_task_file(const char *namespace_id, const char *flow_id,
                            const char *execution_id, const char *task_id,
                            const char *taskrun_id, const char *name, kerr *e);
char *storage_uri_input_file(const char *namespace_id, const char *flow_id,
                             const char *execution_id, const char *input_id,
                             const char *name, kerr *e);
char *storage_uri_trigger_file(const char *namespace_id, const char *flow_id,
                               const char *execution_id, const char *trigger_id,
                               const char *name, kerr *e);
/* The folder holding every file of an execution ("kestra:///.../executions/<id>/"),
 * for storage_list() and storage_delete_prefix(). */
char *storage_uri_execution(const char *namespace_id, const char *flow_id,
                            const char *execution_id, kerr *e);
char *storage_uri_namespace_file(const char *namespace_id, const char *path, kerr *e);
char *storage_uri_kv(const char *namespace_id, const char *key, kerr *e);

/* ---- Opening ---------------------------------------------------------- */

/* Opens the local backend rooted at folder `root` (the engine passes
 * "<data>/storage"), creating it and its parents (mode 0700) as needed.
 * Returns NULL with a message when the root cannot be made or opened. */
storage *storage_open_local(const char *root, kerr *e);
/* The same with options. STORAGE_LOCAL_NOSYNC skips every fsync: writes stay
 * atomic for readers and across a killed process (kill -9), but not across
 * an OS crash or power loss. For tests and throwaway runs only. */
#define STORAGE_LOCAL_NOSYNC 0x1u
storage *storage_open_local_ex(const char *root, unsigned flags, kerr *e);
/* Opens the storage a URL names: "local:<folder>" (also "local://<folder>",
 * "file:<folder>", "file://<folder>") or a plain folder path, all the local
 * backend; "s3://<bucket>[/<prefix>]", the s3 backend with its settings
 * from the environment ($AWS_ENDPOINT_URL, $AWS_REGION, the keys as
 * storage_open_s3). An unknown scheme is an error naming it. */
storage *storage_open(const char *url, kerr *e);
/* The s3 backend: every file an object of `bucket`, its key `prefix` + "/"
 * + the storage path. Strings are copied. Credentials: access_key and
 * secret_key, or both NULL for $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY
 * (and $AWS_SESSION_TOKEN). Writes spool to an unlinked file in tmp_dir
 * (NULL: $TMPDIR or /tmp) and upload on commit, multipart past part_size;
 * reads download into one: memory stays bounded. Opening lists the prefix
 * once, so a wrong endpoint, key or bucket is an error here, with S3's
 * answer. */
typedef struct storage_s3_conf {
    const char *bucket, *prefix;
    const char *endpoint;         /* NULL: AWS (https://s3.<region>.amazonaws.com) */
    const char *region;           /* NULL: us-east-1 */
    const char *access_key, *secret_key, *session_token;
    int path_style;               /* forcePathStyle (implied for IP and localhost endpoints) */
    size_t part_size;             /* 0: 8 MiB */
    const char *tmp_dir;
} storage_s3_conf;
storage *storage_open_s3(const storage_s3_conf *conf, kerr *e);
/* The same for "s3://<bucket>[/<prefix>]" with the other settings from base
 * (NULL: from the environment, as storage_open). */
storage *storage_open_s3_url(const char *url, const storage_s3_conf *base, kerr *e);
/* Closes the storage; NULL is a no-op. No call may be running on it. */
void storage_free(storage *s);
/* The backend's name ("local", "s3"). */
const char *storage_backend_name(const storage *s);

/* ---- Writing ---------------------------------------------------------- */

/* Stores len bytes at uri, atomically replacing any file there. */
int storage_put(storage *s, const char *uri, const void *data, size_t len, kerr *e);

#define STORAGE_PUT_MOVE 0x1u  /* rename the source into place (copying only
                                  when it is on another file system); the
                                  source path is gone on success */

/* Stores the regular file at local path `src` (symlinks are refused) at uri,
 * copying it unless STORAGE_PUT_MOVE. Atomic as storage_put. */
int storage_put_file(storage *s, const char *uri, const char *src, unsigned flags,
                     kerr *e);

/* A streaming write, for content made piece by piece (a concatenation, an
 * upload): nothing is visible under uri until storage_writer_commit, which
 * publishes it atomically as storage_put does. Every writer ends with exactly
 * one commit or abort, which free it. A writer belongs to one thread. */
typedef struct storage_writer storage_writer;

storage_writer *storage_writer_new(storage *s, const char *uri, kerr *e);
/* Appends len bytes. */
int storage_writer_write(storage_writer *w, const void *data, size_t len, kerr *e);
/* A file descriptor to write to directly (write(2), a child's stdout, ...);
 * borrowed: do not close it, and do not seek it backwards. */
int storage_writer_fd(const storage_writer *w);
/* Publishes the content under the URI; frees w, also on error. */
int storage_writer_commit(storage_writer *w, kerr *e);
/* Drops the content; frees w. NULL is a no-op. */
void storage_writer_abort(storage_writer *w);

/* ---- Reading ---------------------------------------------------------- */

/* Opens the file at uri for reading: returns a file descriptor (O_CLOEXEC)
 * the caller closes, or -1 with "kestra:///...: no such file" or another
 * message. */
int storage_open_fd(storage *s, const char *uri, kerr *e);
/* The same as a FILE* ("rb"), which the caller fcloses; NULL on error. */
FILE *storage_open_file(storage *s, const char *uri, kerr *e);
/* Reads the whole file into out (which is reset first; NUL-terminated),
 * refusing files larger than max bytes (0: no cap) with a message giving
 * both sizes. */
int storage_read_all(storage *s, const char *uri, size_t max, buf *out, kerr *e);

/* A sequential reader, for handing a file on without a copy of it (the API's
 * downloads): on a local folder it reads the file's descriptor, which
 * storage_reader_fd lends (for sendfile); on s3 it fetches the object
 * version it opened in ranges (If-Match on the ETag), one chunk in memory,
 * so the first bytes go out before the rest is fetched and nothing is staged
 * in tmpDir. A reader belongs to one thread; close it exactly once. */
typedef struct storage_reader storage_reader;

/* Opens uri; *size its length. NULL with "kestra:///...: no such file" or
 * another message. */
storage_reader *storage_reader_open(storage *s, const char *uri, int64_t *size /* OUT */, kerr *e);
/* Up to n bytes into dst: the count, 0 at the end of the file, -1 on error
 * (also when an s3 object changed since the open). */
ssize_t storage_reader_read(storage_reader *r, void *dst, size_t n, kerr *e);
/* The file's descriptor when the backend has one (local), else -1; still
 * the reader's (dup it to keep it). */
int storage_reader_fd(const storage_reader *r);
/* Frees r. NULL is a no-op. */
void storage_reader_close(storage_reader *r);

/* 1 if a file exists at uri, 0 if not (folders are not files), -1 on error. */
int storage_exists(storage *s, const char *uri, kerr *e);
/* The file's size in bytes, or -1 with a message (also when absent). */
int64_t storage_size(storage *s, const char *uri, kerr *e);

/* ---- Listing and deleting --------------------------------------------- */

typedef struct storage_entry {
    char *uri;       /* canonical "kestra:///..." of a file */
    int64_t size;
} storage_entry;

/* Lists every file below the folder `prefix` (with or without trailing '/';
 * "kestra:///" lists everything), recursively, sorted by path bytes, into a
 * fresh array *out of *n entries. A missing folder gives 0 entries; a prefix
 * naming a file gives that file. Temporary files of writes in progress are
 * never listed. */
int storage_list(storage *s, const char *prefix, storage_entry **out /* OUT */,
                 size_t *n /* OUT */, kerr *e);
void storage_entries_free(storage_entry *entries, size_t n);

/* Deletes the file at uri. Returns 1 if it was deleted, 0 if there was no
 * file, -1 on error. */
int storage_delete(storage *s, const char *uri, kerr *e);
/* Deletes the folder `prefix` and everything below it (at least one segment:
 * the root is refused; a prefix naming a file deletes that file). Returns the
 * number of files deleted (0 if the folder did not exist), or -1. A write in
 * progress meanwhile is not lost: it lands, and keeps its folders. */
long storage_delete_prefix(storage *s, const char *prefix, kerr *e);
/* The same, saying what a concurrent writer kept. Every file that existed
 * when the call began is deleted; a file written into the folder while the
 * delete runs (a put that lands meanwhile, a writer still open) is not lost:
 * it stays, with the folders that lead to it. Those folders are *kept (NULL
 * when nothing was kept; free with storage_strv_free): their URIs, ending in
 * '/', deepest first, *n_kept of them. When *n_kept is 0 the folder is gone
 * entirely. kept and n_kept may be NULL. */
long storage_delete_prefix_kept(storage *s, const char *prefix, char ***kept /* OUT */,
                                size_t *n_kept /* OUT */, kerr *e);
void storage_strv_free(char **v, size_t n);

#endif
