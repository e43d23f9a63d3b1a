/*
 * access.c: the store's front door for access control (principals,
 * tokens, roles, bindings) and the audit log: argument checks, lifecycles,
 * dispatch to the backend (store.h says what each call does).
 *
 * The store keeps these rows and nothing else: what a role allows is the
 * server's policy (server/policy.c), which reads them all and compiles
 * them; store_auth_generation tells it when to read them again.
 */
#include "store/store_int.h"
#include "util/mem.h"
#include "util/policy.h"

#include <pthread.h>
#include <stdio.h>

#include <string.h>

static int check(const char *v, const char *what, int required, kerr *e)
{
    if (!v)
        return required ? store__fail(e, STORE_ERROR, "store: %s is missing", what) : 0;
    size_t n = strnlen(v, STORE_ID_MAX + 1);
    if (required && !n)
        return store__fail(e, STORE_ERROR, "store: %s is empty", what);
    if (n > STORE_ID_MAX)
        return store__fail(e, STORE_ERROR, "store: %s is longer than %d bytes", what, STORE_ID_MAX);
    return 0;
}

#define REQ(v, what) do { int rc_ = check((v), (what), 1, e); if (rc_) return rc_; } while (0)
#define OPT(v, what) do { int rc_ = check((v), (what), 0, e); if (rc_) return rc_; } while (0)

/* ---- lifecycles -------------------------------------------------------------- */

void store_principal_clear(store_principal *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->kind);
    if (p->password_hash)
        memset(p->password_hash, 0, strlen(p->password_hash));
    free(p->password_hash);
    memset(p, 0, sizeof *p);
}

void store_principals_free(store_principal *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_principal_clear(&v[i]);
    free(v);
}

void store_token_clear(store_token *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->name);
    free(t->owner);
    free(t->sha256);
    json_decref(t->scope);
    memset(t, 0, sizeof *t);
}

void store_tokens_free(store_token *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_token_clear(&v[i]);
    free(v);
}

void store_role_clear(store_role *r)
{
    if (!r)
        return;
    free(r->name);
    json_decref(r->statements);
    memset(r, 0, sizeof *r);
}

void store_roles_free(store_role *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_role_clear(&v[i]);
    free(v);
}

void store_binding_clear(store_binding *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->principal);
    free(b->role);
    free(b->namespace);
    memset(b, 0, sizeof *b);
}

void store_bindings_free(store_binding *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_binding_clear(&v[i]);
    free(v);
}

void store_audit_clear(store_audit *a)
{
    if (!a)
        return;
    free(a->principal);
    free(a->address);
    free(a->action);
    free(a->kind);
    free(a->namespace);
    free(a->object_id);
    json_decref(a->before);
    json_decref(a->after);
    memset(a, 0, sizeof *a);
}

void store_audits_free(store_audit *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_audit_clear(&v[i]);
    free(v);
}

/* ---- principals ----------------------------------------------------------------- */

int store_principal_put(store *s, const store_principal *p, int *created, kerr *e)
{
    REQ(p->name, "principal.name");
    REQ(p->kind, "principal.kind");
    if (strcmp(p->kind, "user") && strcmp(p->kind, "service"))
        return store__fail(e, STORE_ERROR, "store: principal.kind must be 'user' or 'service', not '%s'", p->kind);
    if (p->password_hash && strlen(p->password_hash) > 1024)
        return store__fail(e, STORE_ERROR, "store: principal.password_hash is too long");
    int c = 0;
    int rc = s->ops->principal_put(s->b, p, &c, store_now_us(), e);
    if (created)
        *created = c;
    return rc;
}

int store_principal_get(store *s, const char *name, store_principal *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    REQ(name, "principal name");
    return s->ops->principal_get(s->b, name, out, e);
}

int store_principal_list(store *s, store_principal **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    int rc = s->ops->principal_list(s->b, out, n, e);
    if (rc) {
        store_principals_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int store_principal_delete(store *s, const char *name, kerr *e)
{
    REQ(name, "principal name");
    return s->ops->principal_delete(s->b, name, e);
}

/* ---- tokens --------------------------------------------------------------------- */

int store_token_insert(store *s, const store_token *t, kerr *e)
{
    REQ(t->id, "token.id");
    REQ(t->name, "token.name");
    REQ(t->owner, "token.owner");
    REQ(t->sha256, "token.sha256");
    if (t->scope && !json_is_array(t->scope))
        return store__fail(e, STORE_ERROR, "store: token.scope must be an array of bindings");
    return s->ops->token_insert(s->b, t, store_now_us(), e);
}

int store_token_find(store *s, const char *sha256, store_token *out, int64_t *generation, kerr *e)
{
    memset(out, 0, sizeof *out);
    REQ(sha256, "token hash");
    int64_t g = 0;
    int rc = s->ops->token_find(s->b, sha256, out, &g, e);
    if (generation)
        *generation = g;
    return rc;
}

int store_token_get(store *s, const char *id, store_token *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    REQ(id, "token id");
    return s->ops->token_get(s->b, id, out, e);
}

int store_token_list(store *s, const char *owner, store_token **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    OPT(owner, "token owner");
    int rc = s->ops->token_list(s->b, owner, out, n, e);
    if (rc) {
        store_tokens_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int store_token_revoke(store *s, const char *id, int64_t at_us, kerr *e)
{
    REQ(id, "token id");
    size_t n = 0;
    return s->ops->token_revoke(s->b, id, NULL, 0, at_us ? at_us : store_now_us(), &n, e);
}

int store_token_revoke_all(store *s, const char *owner, int64_t at_us, size_t *n, kerr *e)
{
    OPT(owner, "token owner");
    size_t k = 0;
    int rc = s->ops->token_revoke(s->b, NULL, owner, 1, at_us ? at_us : store_now_us(), &k, e);
    if (n)
        *n = k;
    return rc;
}

/* ---- roles and bindings ---------------------------------------------------------- */

int store_role_put(store *s, const store_role *r, int *created, kerr *e)
{
    REQ(r->name, "role.name");
    if (!json_is_array(r->statements))
        return store__fail(e, STORE_ERROR, "store: role.statements must be an array");
    if (created) {
        store_role old;
        kerr e2 = KERR_INIT;
        *created = store_role_get(s, r->name, &old, &e2) == STORE_NOT_FOUND;
        store_role_clear(&old);
    }
    return s->ops->role_put(s->b, r, store_now_us(), e);
}

int store_role_get(store *s, const char *name, store_role *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    REQ(name, "role name");
    return s->ops->role_get(s->b, name, out, e);
}

int store_role_list(store *s, store_role **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    int rc = s->ops->role_list(s->b, out, n, e);
    if (rc) {
        store_roles_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int store_role_delete(store *s, const char *name, kerr *e)
{
    REQ(name, "role name");
    return s->ops->role_delete(s->b, name, e);
}

int store_binding_insert(store *s, const store_binding *b, kerr *e)
{
    REQ(b->id, "binding.id");
    REQ(b->principal, "binding.principal");
    REQ(b->role, "binding.role");
    REQ(b->namespace, "binding.namespace");
    return s->ops->binding_insert(s->b, b, store_now_us(), e);
}

int store_binding_list(store *s, const char *principal, store_binding **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    OPT(principal, "binding principal");
    int rc = s->ops->binding_list(s->b, principal, out, n, e);
    if (rc) {
        store_bindings_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int store_binding_delete(store *s, const char *id, kerr *e)
{
    REQ(id, "binding id");
    return s->ops->binding_delete(s->b, id, e);
}

int store_auth_generation(store *s, int64_t *generation, kerr *e)
{
    *generation = 0;
    return s->ops->auth_generation(s->b, generation, e);
}

/* ---- audit ------------------------------------------------------------------------- */

int store_audit_append(store *s, const store_audit *a, int64_t *id, kerr *e)
{
    REQ(a->principal, "audit.principal");
    REQ(a->action, "audit.action");
    OPT(a->address, "audit.address");
    OPT(a->kind, "audit.kind");
    OPT(a->namespace, "audit.namespace");
    OPT(a->object_id, "audit.object_id");
    store_audit c = *a;
    if (!c.at_us)
        c.at_us = store_now_us();
    int64_t k = 0;
    int rc = s->ops->audit_append(s->b, &c, &k, e);
    if (id)
        *id = k;
    return rc;
}

int store_audit_search(store *s, const store_audit_query *q, store_audit **out, size_t *n, int64_t *total,
                       kerr *e)
{
    *out = NULL;
    *n = 0;
    int64_t t = 0;
    OPT(q->principal, "audit principal");
    OPT(q->action, "audit action");
    OPT(q->kind, "audit kind");
    OPT(q->object_id, "audit object id");
    OPT(q->ns_prefix, "audit namespace");
    int rc = s->ops->audit_search(s->b, q, out, n, &t, e);
    if (rc) {
        store_audits_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    if (total)
        *total = t;
    return rc;
}

/* ---- the compiled policy ------------------------------------------------------------ */

int store_access_policy(store *st, policy **out, kerr *e)
{
    *out = NULL;
    policy *p = policy_new();
    store_role *roles = NULL;
    size_t nr = 0;
    store_binding *bs = NULL;
    size_t nb = 0;
    store_token *toks = NULL;
    size_t nt = 0;
    int rc = store_role_list(st, &roles, &nr, e);
    if (!rc)
        rc = store_binding_list(st, NULL, &bs, &nb, e);
    if (!rc)
        rc = store_token_list(st, NULL, &toks, &nt, e);
    for (size_t i = 0; !rc && i < nr; i++) {
        kerr e2 = KERR_INIT;
        if (policy_add_role(p, roles[i].name, roles[i].statements, &e2))
            fprintf(stderr, "kite: role %s is ignored: %s\n", roles[i].name, e2.msg);
    }
    for (size_t i = 0; !rc && i < nb; i++) {
        kerr e2 = KERR_INIT;
        if (policy_bind(p, bs[i].principal, bs[i].role, bs[i].namespace, bs[i].id, &e2))
            fprintf(stderr, "kite: binding %s is ignored: %s\n", bs[i].id, e2.msg);
    }
    int64_t now = store_now_us();
    for (size_t i = 0; !rc && i < nt; i++) {
        if (!toks[i].scope || toks[i].revoked_us || (toks[i].expires_us && toks[i].expires_us <= now))
            continue;
        char who[96];
        snprintf(who, sizeof who, "token:%s", toks[i].id);
        size_t k;
        json_t *b;
        json_array_foreach(toks[i].scope, k, b) {
            kerr e2 = KERR_INIT;
            policy_bind(p, who, json_string_value(json_object_get(b, "role")),
                        json_string_value(json_object_get(b, "namespace")), toks[i].id, &e2);
        }
    }
    store_roles_free(roles, nr);
    store_bindings_free(bs, nb);
    store_tokens_free(toks, nt);
    if (!rc)
        rc = policy_compile(p, e);
    if (rc) {
        policy_free(p);
        return -1;
    }
    *out = p;
    return 0;
}


/* ---- flows within their namespace ----------------------------------------------------- */

struct store_access_cache {
    int64_t gen;
    policy *p;
    int configured;             /* a binding of someone else than admin exists */
};

static pthread_mutex_t access_lock = PTHREAD_MUTEX_INITIALIZER;

void store__access_close(store *s)
{
    if (!s->access)
        return;
    policy_free(s->access->p);
    free(s->access);
    s->access = NULL;
}

/* 1 when namespace a is b or below it. */
static int ns_under(const char *a, const char *b)
{
    size_t lb = strlen(b);
    return !strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '.');
}

static int reading(int action)
{
    return action == PA_KV_READ || action == PA_SECRET_USE || action == PA_NSFILE_READ ||
           action == PA_FLOW_READ || action == PA_EXECUTION_READ || action == PA_SECRET_READ ||
           action == PA_LOG_READ || action == PA_TRIGGER_READ;
}

int store_access_flow(store *s, const char *from, int action, const char *to, kerr *e)
{
    if (!from || !to || !strcmp(from, to) || (reading(action) && ns_under(from, to)))
        return 0;
    int64_t gen = 0;
    if (store_auth_generation(s, &gen, e))
        return -1;
    pthread_mutex_lock(&access_lock);
    if (!s->access || s->access->gen != gen) {
        policy *p = NULL;
        store_binding *bs = NULL;
        size_t nb = 0;
        if (store_access_policy(s, &p, e) || store_binding_list(s, NULL, &bs, &nb, e)) {
            policy_free(p);
            pthread_mutex_unlock(&access_lock);
            return -1;
        }
        int configured = 0;
        for (size_t i = 0; i < nb && !configured; i++)
            configured = strcmp(bs[i].principal, "admin") != 0;
        store_bindings_free(bs, nb);
        if (!s->access)
            s->access = xcalloc(1, sizeof *s->access);
        policy_free(s->access->p);
        s->access->p = p;
        s->access->gen = gen;
        s->access->configured = configured;
    }
    int ok = !s->access->configured;
    if (!ok) {
        char who[STORE_ID_MAX + 16];
        snprintf(who, sizeof who, "namespace:%s", from);
        ok = policy_decide(s->access->p, who, action, to) == POLICY_ALLOW;
    }
    pthread_mutex_unlock(&access_lock);
    if (ok)
        return 0;
    return kerr_setc(e, KERR_INVALID,
                     "a flow of namespace %s may not %s in namespace %s: access control is on, and no binding "
                     "allows namespace:%s there (docs/security.md)",
                     from, policy_action_name(action), to, from);
}
