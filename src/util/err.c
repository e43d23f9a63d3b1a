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
    if (!e->code)
        e->code = KERR_INTERNAL;
    char tmp[KERR_MSG_MAX];
    /* through a copy: callers may pass e->msg itself as an argument */
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(e->msg, tmp, sizeof e->msg);
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

int kerr_setc(kerr *e, int code, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    e->code = code ? code : KERR_INTERNAL;
    kerr_setv(e, fmt, ap);
    va_end(ap);
    e->line = e->col = 0;
    return -1;
}

int kerr_setc_at(kerr *e, int code, int line, int col, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    e->code = code ? code : KERR_INTERNAL;
    kerr_setv(e, fmt, ap);
    va_end(ap);
    e->line = line;
    e->col = col;
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

const char *kerr_code_name(int code)
{
    switch (code) {
    case KERR_OK: return "ok";
    case KERR_INTERNAL: return "internal";
    case KERR_NOT_FOUND: return "not found";
    case KERR_CONFLICT: return "conflict";
    case KERR_DUPLICATE: return "duplicate";
    case KERR_INVALID: return "invalid";
    case KERR_UNAVAILABLE: return "unavailable";
    }
    return "error";
}

char *kerr_format_pos(char *out, size_t outsz, const char *file, int line, int col, const char *msg)
{
    if (!out || !outsz)
        return out;
    if (!msg)
        msg = "";
    int has_file = file && *file;
    if (line > 0 && col > 0) {
        if (has_file)
            snprintf(out, outsz, "%s:%d:%d: %s", file, line, col, msg);
        else
            snprintf(out, outsz, "%d:%d: %s", line, col, msg);
    } else if (line > 0) {
        if (has_file)
            snprintf(out, outsz, "%s:%d: %s", file, line, msg);
        else
            snprintf(out, outsz, "%d: %s", line, msg);
    } else if (has_file) {
        snprintf(out, outsz, "%s: %s", file, msg);
    } else {
        snprintf(out, outsz, "%s", msg);
    }
    return out;
}

char *kerr_format(char *out, size_t outsz, const kerr *e, const char *file)
{
    return kerr_format_pos(out, outsz, file, e ? e->line : 0, e ? e->col : 0, e ? e->msg : "");
}

void kerr_locate(kerr *e, const char *file)
{
    if (!e)
        return;
    char tmp[KERR_MSG_MAX];
    kerr_format(tmp, sizeof tmp, e, file);
    memcpy(e->msg, tmp, sizeof e->msg);
}
