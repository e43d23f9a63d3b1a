/*
 * auth.c: who is calling, and what may they do (docs/security.md).
 *
 * Tokens are never stored: their SHA-256 (hex) is the key of a row of the
 * store's tokens table (store/access.c), with the principal that owns it,
 * an optional scope (bindings that narrow the owner's rights), an expiry
 * and a revocation time. Checking a request is one hash and one indexed
 * read, so an expired or revoked token is refused at its next request.
 *
 * Decisions come from a compiled policy (util/policy.h) built from every
 * role and binding in the store, plus each scoped token's scope bound to
 * the pseudo-principal "token:<id>": a scoped token is allowed what both
 * its owner and its scope allow. The token read also returns the store's
 * access generation; when it moved on (a change by this server, or by
 * `kite binding ...` in another process), the policy is rebuilt before
 * the decision. Replaced policies stay allocated until server_free, since
 * requests in flight may still read them (a change is rare; each policy is
 * small).
 *
 * The admin token of kite's first versions (a row of the reserved kv
 * namespace _kite.auth) is moved into the tokens table at start: the
 * principal "admin" (a user without password), bound to the admin role on
 * "*", owns it. KITE_ADMIN_TOKEN still replaces it, and that rotation still
 * revokes every token there is.
 */
#include "server/server_int.h"
#include "util/digest.h"
#include "util/mem.h"
#include "util/policy.h"

#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define LEGACY_NS "_kite.auth"
#define ADMIN "admin"

/* ---- tokens ------------------------------------------------------------------ */

int server_token_generate(char **out /* OUT */, kerr *e)
{
    unsigned char rnd[24];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return kerr_set(e, "cannot generate a token: getrandom failed");
    buf b;
    buf_init(&b, 0);
    buf_puts(&b, "kite_");
    for (size_t i = 0; i < sizeof rnd; i++)
        buf_printf(&b, "%02x", rnd[i]);
    *out = buf_steal(&b);
    return 0;
}

/* The admin principal and its binding, once. */
static int ensure_admin(store *st, kerr *e)
{
    store_principal p;
    kerr e2 = KERR_INIT;
    if (store_principal_get(st, ADMIN, &p, &e2) == STORE_OK) {
        store_principal_clear(&p);
        return 0;
    }
    store_principal np = {.name = ADMIN, .kind = "user"};
    if (store_principal_put(st, &np, NULL, e))
        return -1;
    store_binding b = {.id = ADMIN, .principal = ADMIN, .role = "admin", .namespace = "*"};
    int rc = store_binding_insert(st, &b, &e2);
    return rc && rc != STORE_DUPLICATE ? kerr_set(e, "%s", e2.msg) : 0;
}

/* 1 when the admin owns an active token named admin (with hash hex, when
 * hex is not NULL). */
static int admin_token_active(store *st, const char *hex)
{
    store_token *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    int found = 0;
    int64_t now = store_now_us();
    if (store_token_list(st, ADMIN, &v, &n, &e))
        return 0;
    for (size_t i = 0; i < n && !found; i++)
        found = !strcmp(v[i].name, ADMIN) && !v[i].revoked_us && (!v[i].expires_us || v[i].expires_us > now) &&
                (!hex || !strcmp(v[i].sha256, hex));
    store_tokens_free(v, n);
    return found;
}

static int admin_token_put(store *st, const char *hex, kerr *e)
{
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    store_token t = {.id = id, .name = ADMIN, .owner = ADMIN, .sha256 = (char *)hex};
    return store_token_insert(st, &t, e);
}

/* The admin token of kv _kite.auth, moved to the tokens table. */
static int migrate_legacy(store *st, kerr *e)
{
    json_t *admin = NULL;
    kerr e2 = KERR_INIT;
    if (store_kv_sys_get(st, LEGACY_NS, "admin", &admin, &e2) != STORE_OK)
        return 0;
    const char *hex = json_string_value(json_object_get(admin, "sha256"));
    int rc = 0;
    if (hex && !admin_token_active(st, hex))
        rc = admin_token_put(st, hex, e);
    json_decref(admin);
    char **keys = NULL;
    size_t n = 0;
    if (!rc && !store_kv_sys_list(st, LEGACY_NS, &keys, &n, &e2)) {
        for (size_t i = 0; i < n; i++)
            store_kv_sys_delete(st, LEGACY_NS, keys[i], &e2);
        store_strings_free(keys, n);
    }
    return rc;
}

int server_auth_init(server *s, const char *token, char **generated, kerr *e)
{
    *generated = NULL;
    store *st = s->o.store;
    if (token && *token && strlen(token) < 16)
        return kerr_set(e, "KITE_ADMIN_TOKEN is too short: use at least 16 characters");
    if (store_begin(st, e))
        return -1;
    int rc = ensure_admin(st, e);
    if (!rc)
        rc = migrate_legacy(st, e);
    char *fresh = NULL;
    if (!rc && (!token || !*token)) {
        if (!admin_token_active(st, NULL)) {
            rc = server_token_generate(&fresh, e);
            token = fresh;
        } else {
            token = NULL;
        }
    }
    if (!rc && token) {
        char hex[65];
        digest_sha256_hex(token, strlen(token), hex);
        if (!admin_token_active(st, hex)) {
            /* a new admin token revokes every token there is (a leak is
             * answered by rotating) */
            rc = store_token_revoke_all(st, NULL, 0, NULL, e);
            if (!rc)
                rc = admin_token_put(st, hex, e);
        }
    }
    if (!rc)
        rc = store_commit(st, e);
    else
        store_rollback(st);
    if (rc) {
        free(fresh);
        return -1;
    }
    *generated = fresh;
    return 0;
}

/* ---- the compiled policy ----------------------------------------------------------- */

int server_access_load(store *st, policy **out, kerr *e)
{
    return store_access_policy(st, out, e);
}

typedef struct retired {
    policy *p;
    struct retired *next;
} retired;

/* The policy for generation gen, rebuilt when it moved on. */
static const policy *policy_for(server *s, int64_t gen, kerr *e)
{
    pthread_mutex_lock(&s->pol_lock);
    if (!s->pol || s->pol_gen != gen) {
        policy *p = NULL;
        if (server_access_load(s->o.store, &p, e)) {
            pthread_mutex_unlock(&s->pol_lock);
            return NULL;
        }
        if (s->pol) {
            retired *r = xcalloc(1, sizeof *r);
            r->p = s->pol;
            r->next = s->pol_retired;
            s->pol_retired = r;
        }
        s->pol = p;
        s->pol_gen = gen;
    }
    const policy *p = s->pol;
    pthread_mutex_unlock(&s->pol_lock);
    return p;
}

void srv_access_free(server *s)
{
    policy_free(s->pol);
    s->pol = NULL;
    for (retired *r = s->pol_retired, *n; r; r = n) {
        n = r->next;
        policy_free(r->p);
        free(r);
    }
    s->pol_retired = NULL;
}

const policy *srv_policy_current(server *s, kerr *e)
{
    int64_t gen = 0;
    if (store_auth_generation(s->o.store, &gen, e))
        return NULL;
    return policy_for(s, gen, e);
}

/* ---- requests -------------------------------------------------------------------------- */

/* who->role for the answers that show one (login, /me): "admin" when the
 * caller may do everything everywhere, else "user". */
static void set_role(srv_principal *who)
{
    int admin = policy_decide(who->pol, who->name, PA_SERVER_ADMIN, "") == POLICY_ALLOW &&
                (!who->scoped || policy_decide(who->pol, who->scope_key, PA_SERVER_ADMIN, "") == POLICY_ALLOW);
    snprintf(who->role, sizeof who->role, "%s", admin ? "admin" : "user");
}

int srv_who_of_hash(server *s, const char *hex, srv_principal *who, kerr *e)
{
    store_token t;
    int64_t gen = 0;
    int rc = store_token_find(s->o.store, hex, &t, &gen, e);
    if (rc == STORE_NOT_FOUND)
        return SRV_WHO_UNKNOWN;
    if (rc)
        return SRV_WHO_ERROR;
    int64_t now = store_now_us();
    if (t.revoked_us || (t.expires_us && t.expires_us <= now)) {
        kerr_set(e, "token %s %s", t.id, t.revoked_us ? "was revoked" : "has expired");
        rc = t.revoked_us ? SRV_WHO_REVOKED : SRV_WHO_EXPIRED;
        store_token_clear(&t);
        return rc;
    }
    const policy *p = policy_for(s, gen, e);
    if (!p) {
        store_token_clear(&t);
        return SRV_WHO_ERROR;
    }
    memset(who, 0, sizeof *who);
    snprintf(who->name, sizeof who->name, "%s", t.owner);
    snprintf(who->token_id, sizeof who->token_id, "%s", t.id);
    who->scoped = t.scope != NULL;
    if (who->scoped)
        snprintf(who->scope_key, sizeof who->scope_key, "token:%s", t.id);
    who->pol = p;
    set_role(who);
    store_token_clear(&t);
    return 0;
}

int srv_who_of_principal(server *s, const char *name, srv_principal *who, kerr *e)
{
    store_principal p;
    int rc = store_principal_get(s->o.store, name, &p, e);
    store_principal_clear(&p);
    if (rc == STORE_NOT_FOUND)
        return SRV_WHO_UNKNOWN;
    if (rc)
        return SRV_WHO_ERROR;
    const policy *pol = srv_policy_current(s, e);
    if (!pol)
        return SRV_WHO_ERROR;
    memset(who, 0, sizeof *who);
    snprintf(who->name, sizeof who->name, "%s", name);
    who->pol = pol;
    set_role(who);
    return 0;
}

int srv_token_lookup(server *s, const char *token, srv_principal *who, char hex[65])
{
    digest_sha256_hex(token, strlen(token), hex);
    kerr e = KERR_INIT;
    return srv_who_of_hash(s, hex, who, &e) ? -1 : 0;
}

int srv_auth_token(srv_req *r, const char *tok)
{
    char hex[65];
    digest_sha256_hex(tok, strlen(tok), hex);
    kerr e = KERR_INIT;
    switch (srv_who_of_hash(r->s, hex, &r->who, &e)) {
    case 0: return 0;
    case SRV_WHO_UNKNOWN: srv_unauthorized(r, "invalid_token", "invalid token"); break;
    case SRV_WHO_EXPIRED: srv_unauthorized(r, "expired_token", "%s", e.msg); break;
    case SRV_WHO_REVOKED: srv_unauthorized(r, "revoked_token", "%s", e.msg); break;
    default: srv_kerr_error(r, &e); break;
    }
    return -1;
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
    return srv_auth_token(r, tok);
}

int srv_allowed(const srv_req *r, int action, const char *ns)
{
    const policy *p = r->who.pol;
    if (!p)
        return 0;
    if (policy_decide(p, r->who.name, action, ns) != POLICY_ALLOW)
        return 0;
    return !r->who.scoped || policy_decide(p, r->who.scope_key, action, ns) == POLICY_ALLOW;
}

int srv_allowed_somewhere(const srv_req *r, int action)
{
    const policy *p = r->who.pol;
    if (!p || !policy_allowed_somewhere(p, r->who.name, action))
        return 0;
    return !r->who.scoped || policy_allowed_somewhere(p, r->who.scope_key, action);
}

/* store_ns_filter's callback: ud is a srv_ns_filter. */
static int filter_allow(void *ud, const char *ns)
{
    const srv_ns_filter *f = ud;
    return srv_allowed(f->r, f->action, ns);
}

const store_ns_filter *srv_ns_filter_init(srv_ns_filter *f, const srv_req *r, int action)
{
    /* a caller allowed everywhere (the admin) needs no check per row */
    const policy *p = r->who.pol;
    if (p && policy_allowed_everywhere(p, r->who.name, action) &&
        (!r->who.scoped || policy_allowed_everywhere(p, r->who.scope_key, action)))
        return NULL;
    f->r = r;
    f->action = action;
    f->sf.allow = filter_allow;
    f->sf.ud = f;
    return &f->sf;
}
