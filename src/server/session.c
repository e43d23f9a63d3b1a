/*
 * session.c: browser sessions: POST /api/v1/login, POST /api/v1/logout,
 * GET /api/v1/me, the session cookie check srv_auth_check falls back to,
 * and the rate limit on failed logins.
 *
 * A login trades a bearer token, or a user's name and password (Argon2id,
 * crypto_pwhash_str_verify), for a session: a random id sent once as an
 * HttpOnly, SameSite=Strict cookie, stored hashed (SHA-256, like tokens in
 * auth.c) in the reserved kv namespace "_kite.sessions", whose value holds
 * the token's hash (or the user's name), a CSRF token and the expiry.
 * Checking a cookie is two reads: the session, then the token it was
 * opened with (or the user), so revoking or rotating the token, or
 * removing the user, ends its sessions at once, and the principal's rights
 * are as they are now (a token's scope still narrows them). Every request with the cookie other than GET and
 * HEAD must carry the session's CSRF token in X-CSRF-Token: a page of
 * another site can make the browser send the cookie, never read the token.
 *
 * The kv row outlives the expiry by SESSION_GRACE_US, so that a request
 * with an expired cookie is told "expired" rather than "unknown"; after
 * that the store hides the row.
 *
 * Failed logins are counted per client address, and per user name for
 * password logins, in a fixed window (LOGIN_WINDOW_US); past
 * LOGIN_MAX_FAILURES the address (or the user, from any address) gets 429
 * with Retry-After until the window ends. The table is in memory (a restart
 * forgets it) and bounded (LOGIN_SLOTS addresses, the oldest window is
 * reused).
 */
#include "server/server_int.h"
#include "util/datetime.h"
#include "util/digest.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sodium.h>

#define SESSION_NS "_kite.sessions"
#define SESSION_GRACE_US (24LL * 3600 * 1000000)
#define LOGIN_WINDOW_US (60LL * 1000000)
#define LOGIN_MAX_FAILURES 10
#define LOGIN_SLOTS 1024

typedef struct login_slot {
    char addr[INET6_ADDRSTRLEN];
    int64_t window_start;
    int failures;
} login_slot;

struct srv_logins {
    pthread_mutex_t lock;
    login_slot v[LOGIN_SLOTS];
};

/* ---- helpers ---------------------------------------------------------------------- */

static int random_hex(char *out, size_t bytes)
{
    unsigned char rnd[32];
    if (bytes > sizeof rnd || getrandom(rnd, bytes, 0) != (ssize_t)bytes)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    return 0;
}

/* Compares two strings in time independent of where they differ. */
static int same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na && i < nb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* The client's address (behind server.trustedProxies, the one they
 * forward: proxy.c), so that the login limit is per client, not per proxy. */
static void client_address(srv_req *r, char out[INET6_ADDRSTRLEN])
{
    snprintf(out, INET6_ADDRSTRLEN, "%s", srv_client_addr(r));
}

/* 1 when the request came over TLS (the server's own, or a trusted proxy's
 * that says so: proxy.c). */
static int over_tls(srv_req *r) { return srv_request_secure(r); }

static unsigned session_ttl_s(const server *s) { return s->o.session_ttl_s ? s->o.session_ttl_s : 12 * 3600; }

/* Queues j (stolen) with status and extra header pairs (NULL-ended). */
static enum MHD_Result json_with_headers(srv_req *r, unsigned status, json_t *j, ...)
{
    char *text = srv_dump(j);
    json_decref(j);
    if (!text)
        text = xstrdup("{}");
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    va_list ap;
    va_start(ap, j);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (v)
            MHD_add_response_header(resp, k, v);
    }
    va_end(ap);
    return srv_queue(r, status, resp);
}

enum MHD_Result srv_unauthorized(srv_req *r, const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a browser that sent a dead cookie drops it */
    int cookie = srv_cookie(r, SRV_SESSION_COOKIE) != NULL;
    return json_with_headers(r, MHD_HTTP_UNAUTHORIZED, json_pack("{s:s,s:s}", "message", msg, "reason", reason),
                             "Set-Cookie",
                             cookie ? SRV_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" : NULL,
                             NULL);
}

const char *srv_cookie(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* ---- failed logins ---------------------------------------------------------------------- */

static struct srv_logins *logins(server *s)
{
    pthread_mutex_lock(&s->lock);
    if (!s->logins) {
        s->logins = xcalloc(1, sizeof *s->logins);
        pthread_mutex_init(&s->logins->lock, NULL);
    }
    struct srv_logins *l = s->logins;
    pthread_mutex_unlock(&s->lock);
    return l;
}

/* The slot of addr (found or taken over from the oldest window); under lock. */
static login_slot *slot_of(struct srv_logins *l, const char *addr, int64_t now)
{
    login_slot *oldest = &l->v[0];
    for (size_t i = 0; i < LOGIN_SLOTS; i++) {
        login_slot *s = &l->v[i];
        if (s->addr[0] && !strcmp(s->addr, addr)) {
            if (now - s->window_start >= LOGIN_WINDOW_US) {
                s->window_start = now;
                s->failures = 0;
            }
            return s;
        }
        if (!s->addr[0] || s->window_start < oldest->window_start)
            oldest = s;
        if (!s->addr[0])
            break;
    }
    snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
    oldest->window_start = now;
    oldest->failures = 0;
    return oldest;
}

/* Seconds until addr may try again, 0 when it may now. */
static int64_t login_blocked(server *s, const char *addr)
{
    struct srv_logins *l = logins(s);
    int64_t now = time_mono_us(), wait = 0;
    pthread_mutex_lock(&l->lock);
    login_slot *sl = slot_of(l, addr, now);
    if (sl->failures >= LOGIN_MAX_FAILURES)
        wait = (sl->window_start + LOGIN_WINDOW_US - now + 999999) / 1000000;
    pthread_mutex_unlock(&l->lock);
    return wait > 0 ? wait : 0;
}

static void login_record(server *s, const char *addr, int failed)
{
    struct srv_logins *l = logins(s);
    pthread_mutex_lock(&l->lock);
    login_slot *sl = slot_of(l, addr, time_mono_us());
    if (failed)
        sl->failures++;
    else
        sl->failures = 0;
    pthread_mutex_unlock(&l->lock);
}

void srv_session_free(server *s)
{
    if (!s->logins)
        return;
    pthread_mutex_destroy(&s->logins->lock);
    free(s->logins);
    s->logins = NULL;
}

/* ---- the cookie check --------------------------------------------------------------------- */

int srv_session_check(srv_req *r)
{
    const char *id = srv_cookie(r, SRV_SESSION_COOKIE);
    char key[65];
    digest_sha256_hex(id, strlen(id), key);
    store *st = r->s->o.store;
    json_t *sess = NULL;
    kerr e = KERR_INIT;
    if (store_kv_sys_get(st, SESSION_NS, key, &sess, &e) != STORE_OK) {
        srv_unauthorized(r, "invalid_session", "the session is unknown or was ended: log in again");
        return -1;
    }
    int64_t exp = json_integer_value(json_object_get(sess, "expiresAt"));
    if (exp <= store_now_us()) {
        char when[64];
        datetime_format(exp, tz_utc(), when, sizeof when);
        store_kv_sys_delete(st, SESSION_NS, key, &e);
        json_decref(sess);
        srv_unauthorized(r, "expired_session", "the session expired at %s: log in again", when);
        return -1;
    }
    const char *tok = json_string_value(json_object_get(sess, "token"));
    const char *user = json_string_value(json_object_get(sess, "principal"));
    int wrc = tok ? srv_who_of_hash(r->s, tok, &r->who, &e)
                  : user ? srv_who_of_principal(r->s, user, &r->who, &e) : SRV_WHO_UNKNOWN;
    if (wrc == SRV_WHO_ERROR) {
        json_decref(sess);
        srv_kerr_error(r, &e);
        return -1;
    }
    if (wrc) {
        store_kv_sys_delete(st, SESSION_NS, key, &e);
        json_decref(sess);
        if (tok)
            srv_unauthorized(r, "revoked_token",
                             "the token this session was opened with was revoked or expired: log in again");
        else
            srv_unauthorized(r, "invalid_session", "the user of this session was removed");
        return -1;
    }
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        const char *sent = srv_header(r, "X-CSRF-Token");
        const char *csrf = json_string_value(json_object_get(sess, "csrf"));
        if (!sent || !csrf || !same_secret(sent, csrf)) {
            srv_error(r, MHD_HTTP_FORBIDDEN,
                      sent ? "header 'X-CSRF-Token' does not match the session's CSRF token"
                           : "header 'X-CSRF-Token' is required with a session cookie on %s requests (the "
                             "csrfToken that login and GET /api/v1/me answer)",
                      r->method);
            json_decref(sess);
            return -1;
        }
    }
    snprintf(r->session_key, sizeof r->session_key, "%s", key);
    r->session = sess;
    return 0;
}

/* ---- the routes ------------------------------------------------------------------------- */

/* A well-formed Argon2id hash of nothing anyone knows: a login for a user
 * that does not exist verifies against it, so that it takes as long as
 * one for a user that does (no user-name oracle by timing). */
static char dummy[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    unsigned char rnd[16];
    if (sodium_init() >= 0) {
        randombytes_buf(rnd, sizeof rnd);
        if (crypto_pwhash_str(dummy, (const char *)rnd, sizeof rnd, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE))
            dummy[0] = '\0';
    }
}

static const char *dummy_hash(void)
{
    pthread_once(&dummy_once, make_dummy);
    return dummy[0] ? dummy : NULL;
}

/* Who the body of a login names: 0 with what the session records (*tok_hash,
 * the token's SHA-256, or *user, the user's name) and r->who filled, or -1
 * after answering. {"token": ...} or {"username", "password"}. */
static int login_principal(srv_req *r, const json_t *body, char tok_hash[65], char user[257], const char *addr)
{
    const json_t *tok = json_object_get(body, "token");
    tok_hash[0] = user[0] = '\0';
    if (!tok && json_object_get(body, "username")) {
        const char *name = json_string_value(json_object_get(body, "username"));
        const char *pw = json_string_value(json_object_get(body, "password"));
        if (!name || !*name || !pw) {
            srv_error(r, MHD_HTTP_BAD_REQUEST, "a password login is {\"username\": \"...\", \"password\": \"...\"}");
            return -1;
        }
        char ukey[300];
        snprintf(ukey, sizeof ukey, "user:%s", name);
        int64_t wait = login_blocked(r->s, ukey);
        if (wait) {
            char ra[32];
            snprintf(ra, sizeof ra, "%lld", (long long)wait);
            char msg[512];
            snprintf(msg, sizeof msg, "too many failed logins for %.64s: retry in %lld s", name, (long long)wait);
            json_with_headers(r, MHD_HTTP_TOO_MANY_REQUESTS, json_pack("{s:s}", "message", msg), "Retry-After", ra,
                              NULL);
            return -1;
        }
        store_principal p;
        kerr e = KERR_INIT;
        int found = server_principal_check(name, NULL) == 0 &&
                    store_principal_get(r->s->o.store, name, &p, &e) == STORE_OK;
        int good = found && p.password_hash ? server_password_verify(p.password_hash, pw)
                                            : (server_password_verify(dummy_hash(), pw), 0);
        if (found)
            store_principal_clear(&p);
        if (!good || srv_who_of_principal(r->s, name, &r->who, &e)) {
            login_record(r->s, addr, 1);
            login_record(r->s, ukey, 1);
            srv_unauthorized(r, "invalid_password", "wrong user name or password");
            return -1;
        }
        login_record(r->s, ukey, 0);
        snprintf(user, 257, "%s", name);
        return 0;
    }
    if (!tok) {
        srv_error(r, MHD_HTTP_BAD_REQUEST,
                  "field 'token' is required: {\"token\": \"<admin or API token>\"} (or {\"username\", \"password\"})");
        return -1;
    }
    if (!json_is_string(tok) || !json_string_length(tok)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "field 'token' must be a non-empty string");
        return -1;
    }
    if (srv_token_lookup(r->s, json_string_value(tok), &r->who, tok_hash)) {
        login_record(r->s, addr, 1);
        srv_unauthorized(r, "invalid_token", "invalid token");
        return -1;
    }
    return 0;
}

enum MHD_Result srv_login(srv_req *r)
{
    char addr[INET6_ADDRSTRLEN];
    client_address(r, addr);
    int64_t wait = login_blocked(r->s, addr);
    if (wait) {
        char ra[32];
        snprintf(ra, sizeof ra, "%lld", (long long)wait);
        char msg[256];
        snprintf(msg, sizeof msg, "too many failed logins from %s: retry in %lld s", addr, (long long)wait);
        return json_with_headers(r, MHD_HTTP_TOO_MANY_REQUESTS, json_pack("{s:s}", "message", msg), "Retry-After",
                                 ra, NULL);
    }
    json_t *body = srv_body_json(r, 0);
    if (!body)
        return MHD_YES;
    char tok_hash[65], user[257];
    int rc = login_principal(r, body, tok_hash, user, addr);
    json_decref(body);
    if (rc)
        return MHD_YES;
    char id[65], csrf[49];
    if (random_hex(id, 32) || random_hex(csrf, 24))
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open a session: getrandom failed");
    char key[65];
    digest_sha256_hex(id, strlen(id), key);
    unsigned ttl = session_ttl_s(r->s);
    int64_t now = store_now_us(), exp = now + (int64_t)ttl * 1000000;
    json_t *sess = json_pack("{s:s,s:s,s:I,s:I,s:s}", tok_hash[0] ? "token" : "principal", tok_hash[0] ? tok_hash : user,
                             "csrf", csrf, "createdAt", (json_int_t)now, "expiresAt", (json_int_t)exp, "address", addr);
    kerr e = KERR_INIT;
    rc = store_kv_sys_put(r->s->o.store, SESSION_NS, key, sess, exp + SESSION_GRACE_US, &e);
    json_decref(sess);
    if (rc)
        return srv_kerr_error(r, &e);
    login_record(r->s, addr, 0);
    char when[64];
    datetime_format(exp, tz_utc(), when, sizeof when);
    char *cookie = xasprintf(SRV_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u%s", id, ttl,
                             over_tls(r) ? "; Secure" : "");
    enum MHD_Result res = json_with_headers(r, MHD_HTTP_OK,
                                            json_pack("{s:s,s:s,s:s,s:s}", "name", r->who.name, "role", r->who.role,
                                                      "csrfToken", csrf, "expiresAt", when),
                                            "Set-Cookie", cookie, NULL);
    free(cookie);
    return res;
}

enum MHD_Result srv_logout(srv_req *r)
{
    if (r->session_key[0]) {
        kerr e = KERR_INIT;
        if (store_kv_sys_delete(r->s->o.store, SESSION_NS, r->session_key, &e) && e.code != KERR_NOT_FOUND)
            return srv_kerr_error(r, &e);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Set-Cookie", SRV_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    return srv_queue(r, MHD_HTTP_NO_CONTENT, resp);
}

enum MHD_Result srv_me(srv_req *r)
{
    json_t *j = json_pack("{s:s,s:s,s:s}", "name", r->who.name, "role", r->who.role, "via",
                          r->session ? "session" : "token");
    if (r->session) {
        char when[64];
        datetime_format(json_integer_value(json_object_get(r->session, "expiresAt")), tz_utc(), when, sizeof when);
        json_object_set_new(j, "expiresAt", json_string(when));
        json_object_set(j, "csrfToken", json_object_get(r->session, "csrf"));
    }
    return srv_json(r, MHD_HTTP_OK, j);
}
