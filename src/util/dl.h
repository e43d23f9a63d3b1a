/*
 * dl.h: client libraries loaded on first use (dlopen), so that a kite
 * command that does not use them never maps them.
 *
 * kite's binary links only its core (yaml, jansson, sqlite3, pcre2,
 * microhttpd, sodium, crypto, gnutls, seccomp, jq). The database, Git, SSH,
 * Avro and HTTP client libraries cost 1.5-9 ms each to map and relocate at
 * every start (libmongoc's constructor alone runs mongoc_init: 18 M
 * instructions), so each is opened by its runtime soname the first time a
 * task, a notification or the server needs it (docs/engine.md, "Start-up").
 *
 * One library is one dl_lib (defined in dl_libs.c) plus one header
 * util/dl_<name>.h that includes the library's own header, lists the
 * functions kite calls in an X-macro, declares a struct of pointers typed
 * from the real prototypes (__typeof__), and then #defines each function's
 * name to its pointer: call sites keep the library's names and types,
 * checked by the compiler, and header macros that expand into functions
 * (BSON_APPEND_UTF8 -> bson_append_utf8) go through the table too. A name
 * called but not listed is an undefined symbol when kite links (kite does
 * not link the library): the list cannot silently fall behind.
 *
 * A missing library is not an error until a type that needs it runs (its
 * task fails with the message below) or a flow using it is validated
 * (`kite validate` warns at the type); type_def.needs names the loader.
 *
 * $KITE_DL_<NAME> (KITE_DL_MONGOC, KITE_DL_PQ, ...) names a file opened
 * instead of the soname: a library kept outside the loader's search path,
 * or, in tests, a path that does not exist.
 *
 * DESIGN
 * Each loader runs once (pthread_once) and is safe from any thread; after
 * it returned NULL the table is filled and never changes. Libraries are
 * opened RTLD_NOW (a missing symbol fails the load, not a later call) and
 * RTLD_LOCAL (no library's symbols leak into another's lookups).
 */
#ifndef KITE_UTIL_DL_H
#define KITE_UTIL_DL_H

#include <pthread.h>
#include <stddef.h>

typedef struct dl_lib {
    const char *name;            /* "mongoc": $KITE_DL_MONGOC */
    const char *soname;          /* "libmongoc-1.0.so.0" */
    const char *what;            /* "MongoDB tasks" (plural: "... need ...") */
    const char *package;         /* "libmongoc-1.0-0", the Debian package */
    const char *const *names;    /* the functions, in the order of the table */
    void *table;                 /* a struct of as many function pointers */
    size_t n;
    pthread_once_t once;
    const char *why;             /* after the load: NULL, or msg */
    char msg[600];
} dl_lib;

/* Loads l on the first call (later calls return at once). NULL when every
 * function of l's table is set; else the reason, kept in l: "MongoDB tasks
 * need libmongoc-1.0.so.0 (Debian package libmongoc-1.0-0): <dlerror>". */
const char *dl_load(dl_lib *l);

/* The loaders (dl_libs.c): NULL once the library is loaded (on the first
 * call), else why not (dl_load). A task type names its loader in
 * type_def.needs; the per-library headers (util/dl_<name>.h) give the rest. */
const char *dl_mongoc_load(void);    /* libmongoc + libbson: MongoDB tasks */
const char *dl_pq_load(void);        /* libpq: PostgreSQL tasks */
const char *dl_mariadb_load(void);   /* libmariadb: MySQL and MariaDB tasks */
const char *dl_git2_load(void);      /* libgit2: Git tasks, git sync */
const char *dl_ssh_load(void);       /* libssh: SSH and SFTP tasks, Git host keys */
const char *dl_avro_load(void);      /* libavro: IonToAvro, AvroToIon */
const char *dl_curl_load(void);      /* libcurl: util/httpc.c, httpc_smtp.c only */
const char *dl_archive_load(void);   /* libarchive: ArchiveDecompress */

/* For the per-library headers: a struct member, and a name in the list. */
#define DL_SLOT(fn) __typeof__(fn) *fn;
#define DL_NAME(fn) #fn,

/* Defines library name's table and its loader dl_<name>_load (dl_libs.c). */
#define DL_DEFINE(name, LIST, so, what_, pkg)                                         \
    struct dl_##name dl_##name;                                                       \
    static const char *const dl_##name##_names[] = {LIST(DL_NAME) NULL};              \
    static dl_lib dl_##name##_lib = {                                                 \
        #name, so, what_, pkg, dl_##name##_names, &dl_##name,                        \
        sizeof(struct dl_##name) / sizeof(void (*)(void)), PTHREAD_ONCE_INIT, NULL, {0}}; \
    const char *dl_##name##_load(void) { return dl_load(&dl_##name##_lib); }

#endif
