/*
 * digest.h: MD5, SHA-1, SHA-256 and SHA-512 of whole buffers.
 *
 * The one implementation of each in kite (the expression filters md5,
 * sha1, sha256, sha512 and the server's bearer-token hashes use it). Not for
 * passwords or MACs: plain digests only.
 */
#ifndef KITE_UTIL_DIGEST_H
#define KITE_UTIL_DIGEST_H

#include <stddef.h>

void digest_md5(const void *data, size_t len, unsigned char out[16]);
void digest_sha1(const void *data, size_t len, unsigned char out[20]);
void digest_sha256(const void *data, size_t len, unsigned char out[32]);
void digest_sha512(const void *data, size_t len, unsigned char out[64]);

/* Lower-case hex digest of data with alg ("md5", "sha1", "sha256",
 * "sha512"), in a fresh string the caller frees; NULL for another alg. */
char *digest_hex(const char *alg, const void *data, size_t len);
/* Lower-case hex SHA-256 of data into hex (64 digits and a NUL). */
void digest_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
