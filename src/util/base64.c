/*
 * base64.c: base64 encoding and decoding (see base64.h).
 */
#include "util/base64.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
    const unsigned char *s = data;
    char *o = xmalloc(4 * ((len + 2) / 3) + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        o[k++] = b64[(v >> 18) & 63];
        o[k++] = b64[(v >> 12) & 63];
        o[k++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        o[k++] = i + 2 < len ? b64[v & 63] : '=';
    }
    o[k] = '\0';
    return o;
}

static int digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

char *base64_decode(const char *text, size_t len, size_t *outlen, size_t *bad)
{
    char *o = xmalloc(len + 1);
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        int d = digit(c);
        if (d < 0) {
            free(o);
            if (bad)
                *bad = i;
            return NULL;
        }
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (char)((acc >> bits) & 0xFF);
        }
    }
    o[k] = '\0';
    if (outlen)
        *outlen = k;
    return o;
}
