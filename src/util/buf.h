/*
 * buf.h: a growable byte buffer, always NUL-terminated.
 *
 * A buffer may carry a maximum size (curl's dynbuf habit): appends that would
 * pass it fail with -1 and leave the content unchanged, so data that a user or
 * a network sent can never grow without bound. max == 0 means no cap.
 */
#ifndef KITE_UTIL_BUF_H
#define KITE_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;   /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;   /* 0: unlimited */
} buf;

#define BUF_INIT {NULL, 0, 0, 0}

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
void buf_reset(buf *b);                 /* len = 0, keeps the memory */
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Returns the content (never NULL, "" when empty) and gives up ownership:
 * the caller frees it, the buffer is left empty. */
char *buf_steal(buf *b);
/* The content as a C string, "" when empty; borrowed. */
const char *buf_str(const buf *b);

#endif
