/*
 * err.h: the error context.
 *
 * A failing function stores its message in a kerr at the failure site (as
 * curl's failf and SQLite's sqlite3ErrorMsg do) and returns non-zero; callers
 * propagate the code plainly and only the CLI or the API prints the message.
 * A message may carry a position (line and column, 1-based; 0 when unknown)
 * inside the input the failing function was reading.
 */
#ifndef KITE_UTIL_ERR_H
#define KITE_UTIL_ERR_H

#include <stdarg.h>

#define KERR_MSG_MAX 1024

typedef struct kerr {
    int code;                  /* 0: no error */
    int line, col;             /* position in the input, 0 when unknown */
    char msg[KERR_MSG_MAX];
} kerr;

#define KERR_INIT {0, 0, 0, {0}}

/* Sets the message (printf-style) and returns -1, so that
 * `return kerr_set(e, "...")` both records and fails. e may be NULL. */
int kerr_set(kerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kerr_setv(kerr *e, const char *fmt, va_list ap);
/* Same, with a position. */
int kerr_set_at(kerr *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kerr_clear(kerr *e);
/* Prefixes the current message: "prefix: old message". */
void kerr_prefix(kerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
