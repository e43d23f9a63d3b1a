/*
 * base64.h: base64 (RFC 4648) encoding and a lenient decoder.
 *
 * The expression filters base64encode/base64decode and the engine's
 * secrets (SECRET_* environment variables hold base64) use it.
 */
#ifndef KITE_UTIL_BASE64_H
#define KITE_UTIL_BASE64_H

#include <stddef.h>

/* The standard alphabet with '=' padding, NUL-terminated; the caller frees. */
char *base64_encode(const void *data, size_t len);
/* Decodes text (len bytes) into a fresh buffer (NUL-terminated, *outlen
 * bytes before the NUL); the caller frees. Lenient as Java's MIME decoder
 * is about layout: '=', spaces, CR and LF are skipped anywhere, and the URL
 * alphabet's '-' and '_' are read as '+' and '/'. Any other byte is an
 * error: NULL, with *bad the 0-based offset of that byte. */
char *base64_decode(const char *text, size_t len, size_t *outlen, size_t *bad);

#endif
