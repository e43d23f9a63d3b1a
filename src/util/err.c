/*
 * err.c: the error context (see err.h).
 */
#include "err.h"

#include <stdio.h>
#include <string.h>

int kerr_setv(kerr *e, const char *fmt, va_list ap)
{
    if (!e)
        return -1;
    e->code = -1;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return -1;
}

int kerr_set(kerr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kerr_setv(e, fmt, ap);
    va_end(ap);
    if (e)
        e->line = e->col = 0;
    return -1;
}

int kerr_set_at(kerr *e, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kerr_setv(e, fmt, ap);
    va_end(ap);
    if (e) {
        e->line = line;
        e->col = col;
    }
    return -1;
}

void kerr_clear(kerr *e)
{
    if (!e)
        return;
    e->code = 0;
    e->line = e->col = 0;
    e->msg[0] = '\0';
}

void kerr_prefix(kerr *e, const char *fmt, ...)
{
    if (!e)
        return;
    char pre[KERR_MSG_MAX], old[KERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strnlen(pre, sizeof pre - 3);
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t room = sizeof e->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = '\0';
}
