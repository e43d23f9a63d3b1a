/*
 * aesgcm.c: AES-GCM through OpenSSL's libcrypto EVP interface (see aesgcm.h).
 */
#include "util/aesgcm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "util/base64.h"
#include "util/mem.h"

static const EVP_CIPHER *cipher_for(size_t keylen)
{
    switch (keylen) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return NULL;
    }
}

/* Decodes the key; returns its bytes (malloc'd) or NULL with a message. */
static unsigned char *read_key(const char *key_b64, size_t *keylen, const EVP_CIPHER **c, kerr *e)
{
    if (!key_b64 || !*key_b64) {
        kerr_setc(e, KERR_INVALID, "the key is empty (a base64 AES key of 16, 24 or 32 bytes)");
        return NULL;
    }
    size_t bad = 0;
    unsigned char *k = (unsigned char *)base64_decode(key_b64, strlen(key_b64), keylen, &bad);
    if (!k) {
        kerr_setc(e, KERR_INVALID, "the key is not base64 (byte %zu)", bad + 1);
        return NULL;
    }
    *c = cipher_for(*keylen);
    if (!*c) {
        kerr_setc(e, KERR_INVALID, "invalid AES key length: %zu bytes (the base64 key must decode to 16, 24 "
                  "or 32 bytes)", *keylen);
        explicit_bzero(k, *keylen);
        free(k);
        return NULL;
    }
    return k;
}

static int fill_random(unsigned char *p, size_t n, kerr *e)
{
    while (n) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return kerr_set(e, "no random source for the IV: %s", strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

char *aesgcm_encrypt(const char *key_b64, const void *plain, size_t len, kerr *e)
{
    size_t keylen;
    const EVP_CIPHER *c;
    unsigned char *key = read_key(key_b64, &keylen, &c, e);
    if (!key)
        return NULL;
    if (len > (size_t)1 << 30) {
        explicit_bzero(key, keylen);
        free(key);
        kerr_setc(e, KERR_INVALID, "plaintext larger than 1 GiB");
        return NULL;
    }
    unsigned char *out = xmalloc(AESGCM_IV_LEN + len + AESGCM_TAG_LEN);
    char *text = NULL;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (!x) {
        kerr_set(e, "out of memory (libcrypto cipher context)");
        goto done;
    }
    if (fill_random(out, AESGCM_IV_LEN, e))
        goto done;
    if (EVP_EncryptInit_ex(x, c, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, AESGCM_IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(x, NULL, NULL, key, out) != 1 ||
        (len && EVP_EncryptUpdate(x, out + AESGCM_IV_LEN, &n, plain, (int)len) != 1) ||
        EVP_EncryptFinal_ex(x, out + AESGCM_IV_LEN + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, AESGCM_TAG_LEN, out + AESGCM_IV_LEN + n + fin) != 1) {
        kerr_set(e, "AES-GCM encryption failed in libcrypto");
        goto done;
    }
    text = base64_encode(out, AESGCM_IV_LEN + (size_t)n + (size_t)fin + AESGCM_TAG_LEN);
done:
    EVP_CIPHER_CTX_free(x);
    explicit_bzero(key, keylen);
    free(key);
    free(out);
    return text;
}

char *aesgcm_decrypt(const char *key_b64, const char *value_b64, size_t *outlen, kerr *e)
{
    size_t keylen;
    const EVP_CIPHER *c;
    unsigned char *key = read_key(key_b64, &keylen, &c, e);
    if (!key)
        return NULL;
    size_t inlen = 0, bad = 0;
    unsigned char *in = value_b64 ? (unsigned char *)base64_decode(value_b64, strlen(value_b64), &inlen, &bad)
                                  : NULL;
    char *plain = NULL;
    EVP_CIPHER_CTX *x = NULL;
    if (!in) {
        kerr_setc(e, KERR_INVALID, "the encrypted value is not base64 (byte %zu)", bad + 1);
        goto done;
    }
    if (inlen < AESGCM_IV_LEN + AESGCM_TAG_LEN) {
        kerr_setc(e, KERR_INVALID, "the encrypted value is too short (%zu bytes; an IV of %d and a tag of %d "
                  "at least)", inlen, AESGCM_IV_LEN, AESGCM_TAG_LEN);
        goto done;
    }
    size_t clen = inlen - AESGCM_IV_LEN - AESGCM_TAG_LEN;
    plain = xmalloc(clen + 1);
    x = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (!x) {
        free(plain);
        plain = NULL;
        kerr_set(e, "out of memory (libcrypto cipher context)");
        goto done;
    }
    if (EVP_DecryptInit_ex(x, c, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, AESGCM_IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(x, NULL, NULL, key, in) != 1 ||
        (clen && EVP_DecryptUpdate(x, (unsigned char *)plain, &n, in + AESGCM_IV_LEN, (int)clen) != 1) ||
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, AESGCM_TAG_LEN, in + inlen - AESGCM_TAG_LEN) != 1 ||
        EVP_DecryptFinal_ex(x, (unsigned char *)plain + n, &fin) != 1) {
        explicit_bzero(plain, clen + 1);
        free(plain);
        plain = NULL;
        kerr_setc(e, KERR_INVALID, "tag mismatch: the value was encrypted with another key, or altered");
        goto done;
    }
    plain[n + fin] = '\0';
    *outlen = (size_t)n + (size_t)fin;
done:
    EVP_CIPHER_CTX_free(x);
    explicit_bzero(key, keylen);
    free(key);
    free(in);
    return plain;
}
