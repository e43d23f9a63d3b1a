/*
 * auth.c: bearer tokens, and the small SHA-256 they are hashed with.
 *
 * Tokens are never stored: their SHA-256 (hex) is the key of a row in the
 * reserved kv namespace "_kite.auth", whose value says who the token is
 * ({"name": "admin", "role": "admin"}). Checking a request is one hash and
 * one kv read, so revoking a token takes effect at once, and scoped tokens
 * (a role, namespaces) are new fields of that value, not a new mechanism.
 * The row "admin" remembers which hash is the admin token, so that a new
 * KITE_ADMIN_TOKEN replaces the previous one; that rotation revokes every
 * token of the namespace, not only the old admin one.
 *
 * The store refuses namespaces starting with "_kite" to every caller of
 * store_kv_* (flows' kv tasks and kv(), the KV API): this file alone reaches
 * them, through the store_kv_sys_* calls.
 */
#include "server/server_int.h"
#include "util/mem.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define AUTH_NS "_kite.auth"

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void server_sha256_hex(const void *data, size_t len, char hex[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t n = len;
    for (; n >= 64; n -= 64, p += 64)
        sha256_block(h, p);
    unsigned char tail[128] = {0};
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha256_block(h, tail);
    if (tl == 128)
        sha256_block(h, tail + 64);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        unsigned char byte = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
    hex[64] = '\0';
}

/* ---- tokens ------------------------------------------------------------------ */

static int token_store(server *s, const char *token, const char *name, const char *role, kerr *e)
{
    char hex[65];
    server_sha256_hex(token, strlen(token), hex);
    json_t *who = json_pack("{s:s,s:s,s:I}", "name", name, "role", role, "createdAt", (json_int_t)store_now_us());
    int rc = store_kv_sys_put(s->o.store, AUTH_NS, hex, who, 0, e);
    json_decref(who);
    return rc;
}

int server_auth_init(server *s, const char *token, char **generated, kerr *e)
{
    *generated = NULL;
    json_t *admin = NULL;
    kerr e2 = KERR_INIT;
    int have = store_kv_sys_get(s->o.store, AUTH_NS, "admin", &admin, &e2) == STORE_OK;
    const char *old = have ? json_string_value(json_object_get(admin, "sha256")) : NULL;
    char *fresh = NULL;
    if (!token || !*token) {
        if (have) {
            json_decref(admin);
            return 0;
        }
        unsigned char rnd[24];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return kerr_set(e, "cannot generate the admin token: getrandom failed");
        buf b;
        buf_init(&b, 0);
        buf_puts(&b, "kite_");
        for (size_t i = 0; i < sizeof rnd; i++)
            buf_printf(&b, "%02x", rnd[i]);
        fresh = buf_steal(&b);
        token = fresh;
    } else if (strlen(token) < 16) {
        json_decref(admin);
        return kerr_set(e, "KITE_ADMIN_TOKEN is too short: use at least 16 characters");
    }
    char hex[65];
    server_sha256_hex(token, strlen(token), hex);
    int rc = 0;
    if (!old || strcmp(old, hex)) {
        /* a new admin token revokes every token there is: the old admin
         * one, and any other row (a leak is answered by rotating) */
        rc = store_begin(s->o.store, e);
        if (!rc && old) {
            char **keys = NULL;
            size_t n = 0;
            rc = store_kv_sys_list(s->o.store, AUTH_NS, &keys, &n, e);
            for (size_t i = 0; !rc && i < n; i++)
                if (strcmp(keys[i], "admin"))
                    store_kv_sys_delete(s->o.store, AUTH_NS, keys[i], &e2);
            store_strings_free(keys, n);
        }
        if (!rc)
            rc = token_store(s, token, "admin", "admin", e);
        json_t *v = json_pack("{s:s}", "sha256", hex);
        if (!rc)
            rc = store_kv_sys_put(s->o.store, AUTH_NS, "admin", v, 0, e);
        json_decref(v);
        if (!rc)
            rc = store_commit(s->o.store, e);
        else
            store_rollback(s->o.store);
    }
    json_decref(admin);
    if (rc) {
        free(fresh);
        return -1;
    }
    *generated = fresh;
    return 0;
}

int srv_auth_check(srv_req *r)
{
    const char *h = srv_header(r, "Authorization");
    if (!h) {
        srv_error(r, MHD_HTTP_UNAUTHORIZED,
                  "authentication required: send 'Authorization: Bearer <token>' (the admin token is printed at "
                  "the server's first start, or set with KITE_ADMIN_TOKEN)");
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7)) {
        srv_error(r, MHD_HTTP_UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'");
        return -1;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    char hex[65];
    server_sha256_hex(tok, strlen(tok), hex);
    json_t *who = NULL;
    kerr e = KERR_INIT;
    if (store_kv_sys_get(r->s->o.store, AUTH_NS, hex, &who, &e) != STORE_OK) {
        srv_error(r, MHD_HTTP_UNAUTHORIZED, "invalid token");
        return -1;
    }
    const char *name = json_string_value(json_object_get(who, "name"));
    const char *role = json_string_value(json_object_get(who, "role"));
    snprintf(r->who.name, sizeof r->who.name, "%s", name ? name : "?");
    snprintf(r->who.role, sizeof r->who.role, "%s", role ? role : "");
    json_decref(who);
    return 0;
}
