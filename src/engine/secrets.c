/*
 * secrets.c: where secret('NAME') looks: the configured backends in order
 * (kite's own store, HashiCorp Vault's KV v2 API), then $SECRET_<NAME>.
 *
 * DESIGN
 * The backends are kite.yml's `secrets.backends` list (engine_opts
 * .secret_backends; none given: kite's store alone). Each lookup asks them
 * at the moment a template renders, so a value rotated in the store or in
 * Vault is what the next task sees, without a restart; nothing is cached
 * but Vault's AppRole token (until its lease runs out, or a 403 says it
 * was revoked). A namespace sees its own secrets, then its parents'
 * (company.team, then company), in every backend. Whatever a backend hands
 * out is registered with the masker before it is returned.
 *
 * Vault calls go through util/httpc with a connect timeout and a whole-
 * request timeout (`timeout`, 5 s by default): Vault down is a task error
 * naming the address and the cause, never a hang. Each thread keeps its
 * own client (a pthread key), as httpc.h asks. Layout in Vault: the secret
 * NAME of namespace NS is the KV v2 secret `<prefix>/<NS>/<NAME>` of the
 * mount, its value the field `value` (or the only field).
 */
#include "engine/engine_int.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/httpc.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SB_KITE, SB_VAULT } sb_kind;

struct engine_secret_backend {
    sb_kind kind;
    char *address;      /* Vault: http(s)://host:port, no trailing slash */
    char *token;        /* a static token, or NULL with AppRole */
    char *role_id, *secret_id;
    char *mount;        /* "secret" */
    char *prefix;       /* "" or "kite" (no slashes at the ends) */
    char *vnamespace;   /* X-Vault-Namespace, or NULL */
    long timeout_ms;
    int insecure;
    char *ca_file;
    pthread_mutex_t lock; /* the AppRole token below */
    char *login_token;
    int64_t login_until_us;
};

static httpc_per_thread clients = HTTPC_PER_THREAD_INIT;

/* This thread's client (made on first use, freed when the thread ends). */
static httpc *thread_client(void)
{
    return httpc_thread(&clients);
}

/* ---- configuration ---------------------------------------------------------------------- */

static char *opt_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? xstrdup(v) : NULL;
}

static char *trim_slashes(char *s)
{
    if (!s)
        return xstrdup("");
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] == '/')
        i++;
    memmove(s, s + i, n - i + 1);
    return s;
}

static void backend_free(engine_secret_backend *b)
{
    free(b->address);
    free(b->token);
    free(b->role_id);
    free(b->secret_id);
    free(b->mount);
    free(b->prefix);
    free(b->vnamespace);
    free(b->ca_file);
    free(b->login_token);
    pthread_mutex_destroy(&b->lock);
}

void engine__secrets_free(engine *en)
{
    for (size_t i = 0; i < en->nsecret_backends; i++)
        backend_free(&en->secret_backends[i]);
    free(en->secret_backends);
    en->secret_backends = NULL;
    en->nsecret_backends = 0;
}

int engine__secrets_init(engine *en, const json_t *cfg, kerr *e)
{
    if (!cfg || !json_array_size(cfg)) {
        en->secret_backends = xcalloc(1, sizeof *en->secret_backends);
        en->secret_backends[0].kind = SB_KITE;
        pthread_mutex_init(&en->secret_backends[0].lock, NULL);
        en->nsecret_backends = 1;
        return 0;
    }
    if (!json_is_array(cfg))
        return kerr_set(e, "secrets.backends must be a list");
    size_t n = json_array_size(cfg);
    en->secret_backends = xcalloc(n, sizeof *en->secret_backends);
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(cfg, i);
        engine_secret_backend *b = &en->secret_backends[i];
        pthread_mutex_init(&b->lock, NULL);
        en->nsecret_backends = i + 1;
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!json_is_object(o) || !type)
            return kerr_set(e, "secrets.backends[%zu]: a mapping with a `type` (kite or vault)", i);
        if (!strcmp(type, "kite")) {
            b->kind = SB_KITE;
            continue;
        }
        if (strcmp(type, "vault") != 0)
            return kerr_set(e, "secrets.backends[%zu].type: '%s' is not a backend (kite or vault)", i, type);
        b->kind = SB_VAULT;
        b->address = trim_slashes(opt_str(o, "address"));
        if (strncmp(b->address, "http://", 7) != 0 && strncmp(b->address, "https://", 8) != 0)
            return kerr_set(e, "secrets.backends[%zu].address: Vault's URL (http://host:8200) is required", i);
        b->token = opt_str(o, "token");
        b->role_id = opt_str(o, "roleId");
        b->secret_id = opt_str(o, "secretId");
        if (!b->token && !(b->role_id && b->secret_id))
            return kerr_set(e, "secrets.backends[%zu]: Vault needs a `token`, or `roleId` and `secretId` (AppRole)",
                            i);
        /* the credentials are secrets too: masked wherever they would show */
        if (b->token)
            engine_secret_register(en, b->token, strlen(b->token));
        if (b->secret_id)
            engine_secret_register(en, b->secret_id, strlen(b->secret_id));
        b->mount = trim_slashes(opt_str(o, "mount"));
        if (!*b->mount) {
            free(b->mount);
            b->mount = xstrdup("secret");
        }
        b->prefix = trim_slashes(opt_str(o, "prefix"));
        b->vnamespace = opt_str(o, "namespace");
        b->ca_file = opt_str(o, "caFile");
        b->insecure = json_is_true(json_object_get(o, "insecure"));
        b->timeout_ms = 5000;
        const char *t = json_string_value(json_object_get(o, "timeout"));
        if (t) {
            int64_t us;
            if (duration_parse(t, &us, e) || us <= 0) {
                kerr_set(e, "secrets.backends[%zu].timeout: '%s' is not a duration such as PT5S", i, t);
                return -1;
            }
            b->timeout_ms = (long)(us / 1000);
        }
    }
    return 0;
}

/* ---- Vault ---------------------------------------------------------------------------- */

static void vault_opts(const engine_secret_backend *b, httpc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = b->timeout_ms < 2000 ? b->timeout_ms : 2000;
    o->timeout_ms = b->timeout_ms;
    o->max_body = 1u << 20;
    o->insecure = b->insecure;
    o->ca_file = b->ca_file;
    o->trusted = 1; /* kite.yml's own address: not a flow's (security.ssrf) */
}

/* The token to send: the static one, or an AppRole login's (made when there
 * is none or it expired; force: a 403 said it is no longer good). */
static char *vault_token(engine_secret_backend *b, int force, kerr *e)
{
    if (b->token)
        return xstrdup(b->token);
    pthread_mutex_lock(&b->lock);
    if (!force && b->login_token && time_now_us() < b->login_until_us) {
        char *t = xstrdup(b->login_token);
        pthread_mutex_unlock(&b->lock);
        return t;
    }
    pthread_mutex_unlock(&b->lock);
    char *url = xasprintf("%s/v1/auth/approle/login", b->address);
    json_t *body = json_pack("{s:s,s:s}", "role_id", b->role_id, "secret_id", b->secret_id);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char nsh[300];
    const char *hdrs[3] = {"Content-Type: application/json", NULL, NULL};
    if (b->vnamespace) {
        snprintf(nsh, sizeof nsh, "X-Vault-Namespace: %s", b->vnamespace);
        hdrs[1] = nsh;
    }
    httpc_req rq = {.method = "POST", .url = url, .headers = hdrs, .body = text, .body_len = strlen(text)};
    httpc_opts o;
    vault_opts(b, &o);
    httpc_resp r = HTTPC_RESP_INIT;
    char *tok = NULL;
    kerr e2 = KERR_INIT;
    if (httpc_do(thread_client(), &rq, &o, &r, &e2)) {
        kerr_set(e, "Vault AppRole login: %s", e2.msg);
    } else if (r.status != 200) {
        kerr_set(e, "Vault AppRole login at %s answered HTTP %ld", url, r.status);
    } else {
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        json_t *auth = json_object_get(j, "auth");
        const char *ct = json_string_value(json_object_get(auth, "client_token"));
        json_int_t lease = json_integer_value(json_object_get(auth, "lease_duration"));
        if (!ct) {
            kerr_set(e, "Vault AppRole login at %s: no auth.client_token in the answer", url);
        } else {
            tok = xstrdup(ct);
            pthread_mutex_lock(&b->lock);
            free(b->login_token);
            b->login_token = xstrdup(ct);
            /* renew a little before the lease ends; 0 means no expiry */
            b->login_until_us = lease > 0 ? time_now_us() + (int64_t)lease * 900000 : INT64_MAX;
            pthread_mutex_unlock(&b->lock);
        }
        json_decref(j);
    }
    httpc_resp_free(&r);
    explicit_bzero(text, strlen(text));
    free(text);
    free(url);
    return tok;
}

/* One KV v2 read of <prefix>/<ns>/<name>. 1: found (*value), 0: not there,
 * -1: an error in e. */
static int vault_read(engine_secret_backend *b, const char *ns, const char *name, char **value, size_t *n,
                      kerr *e)
{
    buf path = BUF_INIT;
    buf_printf(&path, "%s/v1/", b->address);
    httpc_escape(b->mount, strlen(b->mount), &path); /* a mount "a/b" keeps working below */
    buf_puts(&path, "/data/");
    if (*b->prefix) {
        buf_puts(&path, b->prefix);
        buf_puts(&path, "/");
    }
    httpc_escape(ns, strlen(ns), &path);
    buf_puts(&path, "/");
    httpc_escape(name, strlen(name), &path);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *tok = vault_token(b, attempt > 0, e);
        if (!tok)
            break;
        char th[4200], nsh[300];
        snprintf(th, sizeof th, "X-Vault-Token: %s", tok);
        explicit_bzero(tok, strlen(tok));
        free(tok);
        const char *hdrs[3] = {th, NULL, NULL};
        if (b->vnamespace) {
            snprintf(nsh, sizeof nsh, "X-Vault-Namespace: %s", b->vnamespace);
            hdrs[1] = nsh;
        }
        httpc_req rq = {.method = "GET", .url = buf_str(&path), .headers = hdrs};
        httpc_opts o;
        vault_opts(b, &o);
        httpc_resp r = HTTPC_RESP_INIT;
        kerr e2 = KERR_INIT;
        int hrc = httpc_do(thread_client(), &rq, &o, &r, &e2);
        explicit_bzero(th, sizeof th);
        if (hrc) {
            kerr_set(e, "Vault: %s", e2.msg);
            httpc_resp_free(&r);
            break;
        }
        if (r.status == 404) {
            rc = 0;
        } else if (r.status == 403 && attempt == 0 && !b->token) {
            httpc_resp_free(&r);
            continue; /* the AppRole token expired or was revoked: log in again */
        } else if (r.status != 200) {
            kerr_set(e, "Vault: GET %s answered HTTP %ld", buf_str(&path), r.status);
        } else {
            json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
            json_t *data = json_object_get(json_object_get(j, "data"), "data");
            json_t *v = json_object_get(data, "value");
            if (!v && json_object_size(data) == 1)
                v = json_object_iter_value(json_object_iter(data));
            if (json_is_string(v)) {
                *n = json_string_length(v);
                *value = xstrndup(json_string_value(v), *n);
                rc = 1;
            } else if (!json_is_object(data) || json_is_null(data)) {
                rc = 0; /* deleted version: data is null */
            } else {
                kerr_set(e, "Vault: %s holds no string field `value`", buf_str(&path));
            }
            json_decref(j);
        }
        if (r.body.data)
            explicit_bzero(r.body.data, r.body.len);
        httpc_resp_free(&r);
        break;
    }
    buf_free(&path);
    return rc;
}

/* ---- the lookup ------------------------------------------------------------------------- */

/* The value of $SECRET_<name>, base64-decoded (Kestra's convention), without
 * the newline `echo | base64` leaves. 1 found, 0 absent, -1 not base64. */
static int env_secret(const char *name, char **value, size_t *n)
{
    char var[300];
    snprintf(var, sizeof var, "SECRET_%s", name);
    const char *b64 = getenv(var);
    if (!b64)
        return 0;
    size_t bad = 0;
    *value = base64_decode(b64, strlen(b64), n, &bad);
    if (!*value)
        return -1;
    while (*n && ((*value)[*n - 1] == '\n' || (*value)[*n - 1] == '\r'))
        (*value)[--*n] = '\0';
    return 1;
}

int engine_secret_lookup(engine *en, const char *ns, const char *name, char **value, size_t *n, kerr *e)
{
    *value = NULL;
    *n = 0;
    kerr ne = KERR_INIT;
    if (store_secret_check_name(name, &ne))
        return kerr_setc(e, KERR_INVALID, "%s", ne.msg);
    for (size_t i = 0; ns && *ns && i < en->nsecret_backends; i++) {
        engine_secret_backend *b = &en->secret_backends[i];
        if (b->kind == SB_KITE) {
            if (!store_secrets_unlocked(en->o.store))
                continue; /* a process given no key (unit tests, tools) */
            kerr e2 = KERR_INIT;
            int rc = store_secret_lookup(en->o.store, ns, name, value, n, NULL, &e2);
            if (rc == STORE_NOT_FOUND)
                continue;
            if (rc)
                return kerr_set(e, "secret '%s': %s", name, e2.msg);
            break;
        }
        char *cur = xstrdup(ns);
        int rc = 0;
        for (;;) {
            kerr e2 = KERR_INIT;
            rc = vault_read(b, cur, name, value, n, &e2);
            if (rc < 0) {
                free(cur);
                return kerr_set(e, "secret '%s': %s", name, e2.msg);
            }
            char *dot = rc ? NULL : strrchr(cur, '.');
            if (!dot)
                break;
            *dot = '\0';
        }
        free(cur);
        if (rc)
            break;
    }
    if (!*value) {
        int rc = env_secret(name, value, n);
        if (rc < 0)
            return kerr_set(e, "secret '%s': SECRET_%s is not valid base64", name, name);
        if (rc == 0 && ns && *ns)
            return kerr_setc(e, KERR_NOT_FOUND, "secret '%s' not found in namespace %s or its parents "
                             "(set it with `kite secret set %s %s`, or SECRET_%s to its value in base64)",
                             name, ns, ns, name, name);
        if (rc == 0)
            return kerr_setc(e, KERR_NOT_FOUND, "secret '%s' not found (set SECRET_%s to its value in base64)",
                             name, name);
    }
    engine_secret_register(en, *value, *n);
    return 0;
}
