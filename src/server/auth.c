/*
 * auth.c: bearer tokens, hashed with SHA-256 (util/digest.h).
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
#include "util/digest.h"
#include "util/mem.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define AUTH_NS "_kite.auth"

/* ---- tokens ------------------------------------------------------------------ */

static int token_store(server *s, const char *token, const char *name, const char *role, kerr *e)
{
    char hex[65];
    digest_sha256_hex(token, strlen(token), hex);
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
    digest_sha256_hex(token, strlen(token), hex);
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

int srv_token_lookup(server *s, const char *token, srv_principal *who, char hex[65])
{
    digest_sha256_hex(token, strlen(token), hex);
    json_t *row = NULL;
    kerr e = KERR_INIT;
    if (store_kv_sys_get(s->o.store, AUTH_NS, hex, &row, &e) != STORE_OK)
        return -1;
    const char *name = json_string_value(json_object_get(row, "name"));
    const char *role = json_string_value(json_object_get(row, "role"));
    snprintf(who->name, sizeof who->name, "%s", name ? name : "?");
    snprintf(who->role, sizeof who->role, "%s", role ? role : "");
    json_decref(row);
    return 0;
}

int srv_auth_check(srv_req *r)
{
    const char *h = srv_header(r, "Authorization");
    /* a browser's session cookie, when no token is sent (session.c) */
    if (!h && srv_cookie(r, SRV_SESSION_COOKIE))
        return srv_session_check(r);
    if (!h) {
        srv_unauthorized(r, "missing",
                         "authentication required: send 'Authorization: Bearer <token>' or log in with POST "
                         "/api/v1/login (the admin token is printed at the server's first start, or set with "
                         "KITE_ADMIN_TOKEN)");
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7)) {
        srv_unauthorized(r, "invalid_token", "the Authorization header must be 'Bearer <token>'");
        return -1;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    char hex[65];
    if (srv_token_lookup(r->s, tok, &r->who, hex)) {
        srv_unauthorized(r, "invalid_token", "invalid token");
        return -1;
    }
    return 0;
}
