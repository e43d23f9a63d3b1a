/*
 * aesgcm.h: AES/GCM/NoPadding as Kestra's EncryptionService uses it, for the
 * encrypt() and decrypt() expression functions.
 *
 * The key is base64 text of 16, 24 or 32 bytes (AES-128/192/256). A value
 * is base64 (standard alphabet, '=' padded) of IV (12 random bytes) ||
 * ciphertext || GCM tag (16 bytes): what Java's Cipher writes after the IV
 * Kestra prepends. A value Kestra encrypted decrypts here, and back.
 */
#ifndef KITE_UTIL_AESGCM_H
#define KITE_UTIL_AESGCM_H

#include <stddef.h>

#include "util/err.h"

#define AESGCM_IV_LEN 12
#define AESGCM_TAG_LEN 16

/* Encrypts plain[0..len) under key_b64 with a fresh random IV; returns the
 * base64 text (malloc'd), or NULL with a message (bad key) in e. */
char *aesgcm_encrypt(const char *key_b64, const void *plain, size_t len, kerr *e);
/* Decrypts what aesgcm_encrypt (or Kestra) wrote; returns the plaintext
 * (malloc'd, NUL-terminated, *outlen bytes before the NUL), or NULL with a
 * message in e: a bad key, a value too short or not base64, or a tag that
 * does not match (another key, or an altered value). Never the key. */
char *aesgcm_decrypt(const char *key_b64, const char *value_b64, size_t *outlen, kerr *e);

#endif
