/*
 * err.h: the error context.
 *
 * A failing function stores its message in a kerr at the failure site (as
 * curl's failf and SQLite's sqlite3ErrorMsg do) and returns non-zero; callers
 * propagate the code plainly and only the CLI or the API prints the message.
 * A message may carry a position (line and column, 1-based; 0 when unknown)
 * inside the input the failing function was reading.
 *
 * The code is the error's class (kerr_code, as curl's CURLcode keeps its
 * class through failf): it is set once, where the failure is known, and
 * survives every rewording on the way up (kerr_set and kerr_prefix keep it),
 * so the API can map it to an HTTP status in one place without reading the
 * store again to find out what went wrong.
 */
#ifndef KITE_UTIL_ERR_H
#define KITE_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define KERR_MSG_MAX 1024

/* The classes. The store's store_rc values are the same numbers (store.h). */
typedef enum kerr_code {
    KERR_OK = 0,
    KERR_INTERNAL = -1,    /* I/O, a bug, anything not classified: the default */
    KERR_NOT_FOUND = -2,   /* no such flow, execution, key, ... */
    KERR_CONFLICT = -3,    /* stale version, or a state that forbids the request */
    KERR_DUPLICATE = -4,   /* the thing to create already exists */
    KERR_INVALID = -5,     /* the caller's input is wrong (a flow, a body, an argument) */
    KERR_UNAVAILABLE = -6, /* shutting down, full, timed out: try again later */
} kerr_code;

typedef struct kerr {
    int code;                  /* 0: no error; otherwise a kerr_code */
    int line, col;             /* position in the input, 0 when unknown */
    char msg[KERR_MSG_MAX];
} kerr;

#define KERR_INIT {0, 0, 0, {0}}

/* Sets the message (printf-style) and returns -1, so that
 * `return kerr_set(e, "...")` both records and fails. e may be NULL.
 * The class already in e is kept (a rewording of an error keeps its class);
 * a fresh error is KERR_INTERNAL. The position is cleared. */
int kerr_set(kerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kerr_setv(kerr *e, const char *fmt, va_list ap);
/* Same, with a position. */
int kerr_set_at(kerr *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the message and the class (replacing any class in e); returns -1. */
int kerr_setc(kerr *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kerr_setc_at(kerr *e, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void kerr_clear(kerr *e);
/* Prefixes the current message: "prefix: old message". Class and position kept. */
void kerr_prefix(kerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "invalid", "not found", ... ("error" for an unknown code). Static. */
const char *kerr_code_name(int code);

/* The one formatter of positioned messages: "file:line:col: message",
 * "file: message" when line is 0, "line:col: message" when file is NULL or
 * empty, "message" when both are missing. Writes at most outsz bytes (NUL
 * included) and returns out. Every message that names a position goes
 * through here, so they all read alike. */
char *kerr_format_pos(char *out, size_t outsz, const char *file, int line, int col, const char *msg);
/* The same, for a kerr's own position and message. */
char *kerr_format(char *out, size_t outsz, const kerr *e, const char *file);
/* Rewrites e's message as kerr_format gives it (class and position kept). */
void kerr_locate(kerr *e, const char *file);

#endif
