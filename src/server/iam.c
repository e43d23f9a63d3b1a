/*
 * iam.c: /api/v1/users, /tokens, /roles, /bindings, /audit, /auth/me:
 * the principals, their tokens, roles and bindings, and the audit log
 * (docs/security.md).
 *
 * POST /tokens {"name", "bindings": [{"role", "namespace"}], "expiresIn"}
 * creates the service account `name` when no principal has that name,
 * binds it to each binding it does not hold yet, and makes a token whose
 * scope is those bindings (so the token never carries more than it was
 * made for, even once its owner gains more); "owner" makes a token for an
 * existing principal instead. The token's text is in the answer only.
 * Every change here is audited (never a password or a token's text).
 */
#include "server/server_int.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/digest.h"
#include "util/mem.h"
#include "util/policy.h"

#include <sodium.h>
#include <string.h>

static json_t *date_or_null(int64_t us)
{
    if (!us)
        return json_null();
    char d[40];
    datetime_format(us, tz_utc(), d, sizeof d);
    return json_string(d);
}

int server_principal_check(const char *name, kerr *e)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n > 64)
        return kerr_setc(e, KERR_INVALID, "a principal's name has 1 to 64 characters");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.' || c == '@'))
            return kerr_setc(e, KERR_INVALID,
                             "principal name '%s': only letters, digits, '_', '-', '.' and '@' are allowed", name);
    }
    return 0;
}

int server_password_hash(const char *password, char **out, kerr *e)
{
    *out = NULL;
    size_t n = password ? strlen(password) : 0;
    if (n < 8 || n > 1024)
        return kerr_setc(e, KERR_INVALID, "a password has 8 to 1024 characters");
    if (sodium_init() < 0)
        return kerr_set(e, "libsodium cannot start");
    char h[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(h, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE))
        return kerr_set(e, "cannot hash the password (out of memory?)");
    *out = xstrdup(h);
    return 0;
}

int server_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || sodium_init() < 0)
        return 0;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

static json_t *bindings_of(store *st, const char *who)
{
    store_binding *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    json_t *a = json_array();
    if (store_binding_list(st, who, &v, &n, &e))
        return a;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", v[i].id, "role", v[i].role, "namespace",
                                           v[i].namespace));
    store_bindings_free(v, n);
    return a;
}

/* ---- users ------------------------------------------------------------------------------ */

enum MHD_Result srv_users_list(srv_req *r)
{
    store_principal *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_principal_list(r->s->o.store, &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, json_pack("{s:s,s:s,s:o,s:b,s:o}", "name", v[i].name, "kind", v[i].kind,
                                             "createdAt", date_or_null(v[i].created_us), "password",
                                             v[i].password_hash != NULL, "bindings",
                                             bindings_of(r->s->o.store, v[i].name)));
    store_principals_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)n));
}

enum MHD_Result srv_users_create(srv_req *r)
{
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    const char *name = json_string_value(json_object_get(b, "username"));
    if (!name)
        name = json_string_value(json_object_get(b, "name"));
    const char *kind = json_string_value(json_object_get(b, "kind"));
    const char *pw = json_string_value(json_object_get(b, "password"));
    kerr e = KERR_INIT;
    enum MHD_Result rc;
    char *hash = NULL;
    if (!kind)
        kind = "user";
    if (server_principal_check(name, &e) || (strcmp(kind, "user") && strcmp(kind, "service") &&
                                             kerr_setc(&e, KERR_INVALID, "'kind' is \"user\" or \"service\"")) ||
        (pw && server_password_hash(pw, &hash, &e))) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    store_principal old;
    if (store_principal_get(r->s->o.store, name, &old, &e) == STORE_OK) {
        store_principal_clear(&old);
        rc = srv_error(r, MHD_HTTP_CONFLICT, "principal %s already exists", name);
        goto out;
    }
    store_principal p = {.name = (char *)name, .kind = (char *)kind, .password_hash = hash};
    if (store_principal_put(r->s->o.store, &p, NULL, &e)) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    json_t *after = json_pack("{s:s,s:s}", "name", name, "kind", kind);
    srv_audit(r, "user:create", "user", NULL, name, NULL, after);
    rc = srv_json(r, MHD_HTTP_CREATED, after);
out:
    free(hash);
    json_decref(b);
    return rc;
}

enum MHD_Result srv_users_update(srv_req *r)
{
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    const char *pw = json_string_value(json_object_get(b, "password"));
    kerr e = KERR_INIT;
    char *hash = NULL;
    store_principal p;
    enum MHD_Result rc;
    if (store_principal_get(r->s->o.store, r->params[0], &p, &e)) {
        kerr_setc(&e, e.code, "user %s not found", r->params[0]);
        json_decref(b);
        return srv_kerr_error(r, &e);
    }
    if (!pw) {
        rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "the body needs 'password'");
    } else if (server_password_hash(pw, &hash, &e)) {
        rc = srv_kerr_error(r, &e);
    } else {
        free(p.password_hash);
        p.password_hash = hash;
        hash = NULL;
        if (store_principal_put(r->s->o.store, &p, NULL, &e)) {
            rc = srv_kerr_error(r, &e);
        } else {
            srv_audit(r, "user:password", "user", NULL, p.name, NULL, NULL);
            rc = srv_empty(r, MHD_HTTP_NO_CONTENT);
        }
    }
    store_principal_clear(&p);
    free(hash);
    json_decref(b);
    return rc;
}

enum MHD_Result srv_users_delete(srv_req *r)
{
    kerr e = KERR_INIT;
    if (!strcmp(r->params[0], r->who.name))
        return srv_error(r, MHD_HTTP_CONFLICT, "you cannot remove yourself (%s)", r->who.name);
    json_t *before = json_pack("{s:s,s:o}", "name", r->params[0], "bindings", bindings_of(r->s->o.store, r->params[0]));
    if (store_principal_delete(r->s->o.store, r->params[0], &e)) {
        json_decref(before);
        if (e.code == KERR_NOT_FOUND)
            kerr_setc(&e, KERR_NOT_FOUND, "user %s not found", r->params[0]);
        return srv_kerr_error(r, &e);
    }
    srv_audit(r, "user:delete", "user", NULL, r->params[0], before, NULL);
    json_decref(before);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- tokens ------------------------------------------------------------------------------ */

static json_t *token_json(const store_token *t)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:O}", "id", t->id, "name", t->name, "owner", t->owner, "createdAt",
                     date_or_null(t->created_us), "expiresAt", date_or_null(t->expires_us), "revokedAt",
                     date_or_null(t->revoked_us), "bindings", t->scope ? t->scope : json_null());
}

enum MHD_Result srv_tokens_list(srv_req *r)
{
    int all = srv_allowed(r, PA_USER_ADMIN, "");
    store_token *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_token_list(r->s->o.store, all ? NULL : r->who.name, &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, token_json(&v[i]));
    store_tokens_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)n));
}

/* Checks a bindings array [{"role", "namespace"}] against the roles that
 * exist; 0, or -1 with e set naming the entry. */
static int check_bindings(srv_req *r, const json_t *bs, kerr *e)
{
    if (!json_is_array(bs))
        return kerr_setc(e, KERR_INVALID, "'bindings' must be an array of {\"role\", \"namespace\"}");
    kerr e2 = KERR_INIT;
    const policy *p = srv_policy_current(r->s, &e2);
    size_t i;
    json_t *b;
    json_array_foreach(bs, i, b) {
        const char *role = json_string_value(json_object_get(b, "role"));
        const char *ns = json_string_value(json_object_get(b, "namespace"));
        if (!role || !ns)
            return kerr_setc(e, KERR_INVALID, "bindings[%zu] needs 'role' and 'namespace' (strings)", i);
        if (p && !policy_has_role(p, role))
            return kerr_setc(e, KERR_INVALID, "bindings[%zu]: role %s does not exist", i, role);
        if (policy_check_pattern(ns, &e2))
            return kerr_setc(e, KERR_INVALID, "bindings[%zu].namespace: %s", i, e2.msg);
    }
    return 0;
}

enum MHD_Result srv_tokens_create(srv_req *r)
{
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    store *st = r->s->o.store;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *owner = json_string_value(json_object_get(b, "owner"));
    const char *exp = json_string_value(json_object_get(b, "expiresIn"));
    json_t *bs = json_object_get(b, "bindings");
    kerr e = KERR_INIT;
    enum MHD_Result rc;
    int64_t dur = 0;
    char *text = NULL;
    if (server_principal_check(name, &e) || (owner && server_principal_check(owner, &e)) ||
        (bs && check_bindings(r, bs, &e)) ||
        (exp && (duration_parse(exp, &dur, &e) || (dur <= 0 && kerr_setc(&e, KERR_INVALID, "expiresIn must be positive")))) ||
        (json_object_get(b, "expiresIn") && !exp && kerr_setc(&e, KERR_INVALID, "expiresIn is an ISO-8601 duration (P30D)"))) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    if (!owner)
        owner = name;
    store_principal p;
    int created = 0;
    int rcs = store_principal_get(st, owner, &p, &e);
    store_principal_clear(&p);
    if (rcs == STORE_NOT_FOUND && strcmp(owner, name)) {
        rc = srv_error(r, MHD_HTTP_NOT_FOUND, "principal %s not found", owner);
        goto out;
    }
    if (rcs && rcs != STORE_NOT_FOUND) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    if (store_begin(st, &e) || server_token_generate(&text, &e)) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    int frc = 0;
    if (rcs == STORE_NOT_FOUND) {
        store_principal np = {.name = (char *)owner, .kind = "service"};
        frc = store_principal_put(st, &np, NULL, &e);
        created = 1;
    }
    size_t i;
    json_t *x;
    if (created || !json_object_get(b, "owner"))
        json_array_foreach(bs, i, x) {
            if (frc)
                break;
            char bid[STORE_ID_LEN + 1];
            store_new_id(bid);
            store_binding sb = {.id = bid, .principal = (char *)owner,
                                .role = (char *)json_string_value(json_object_get(x, "role")),
                                .namespace = (char *)json_string_value(json_object_get(x, "namespace"))};
            kerr e2 = KERR_INIT;
            int brc = store_binding_insert(st, &sb, &e2);
            if (brc && brc != STORE_DUPLICATE) {
                frc = brc;
                e = e2;
            }
        }
    char id[STORE_ID_LEN + 1], hex[65];
    store_new_id(id);
    digest_sha256_hex(text, strlen(text), hex);
    json_t *scope = NULL;
    if (bs) {
        scope = json_array();
        json_array_foreach(bs, i, x)
            json_array_append_new(scope, json_pack("{s:O,s:O}", "role", json_object_get(x, "role"), "namespace",
                                                   json_object_get(x, "namespace")));
    }
    int64_t now = store_now_us();
    store_token t = {.id = id, .name = (char *)name, .owner = (char *)owner, .sha256 = hex, .scope = scope,
                     .created_us = now, .expires_us = dur ? now + dur : 0};
    if (!frc)
        frc = store_token_insert(st, &t, &e);
    if (!frc)
        frc = store_commit(st, &e);
    else
        store_rollback(st);
    if (frc) {
        json_decref(scope);
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    json_t *after = token_json(&t);
    srv_audit(r, "token:create", "token", NULL, id, NULL, after);
    json_object_set_new(after, "token", json_string(text));
    json_decref(scope);
    rc = srv_json(r, MHD_HTTP_CREATED, after);
out:
    if (text)
        sodium_memzero(text, strlen(text));
    free(text);
    json_decref(b);
    return rc;
}

enum MHD_Result srv_tokens_revoke(srv_req *r)
{
    store_token t;
    kerr e = KERR_INIT;
    int rc = store_token_get(r->s->o.store, r->params[0], &t, &e);
    if (rc == STORE_OK && strcmp(t.owner, r->who.name) && !srv_allowed(r, PA_USER_ADMIN, ""))
        rc = STORE_NOT_FOUND;
    if (rc == STORE_OK)
        rc = store_token_revoke(r->s->o.store, t.id, 0, &e);
    if (rc) {
        store_token_clear(&t);
        if (rc == STORE_NOT_FOUND)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "token %s not found", r->params[0]);
        return srv_kerr_error(r, &e);
    }
    json_t *before = token_json(&t);
    srv_audit(r, "token:revoke", "token", NULL, t.id, before, NULL);
    json_decref(before);
    store_token_clear(&t);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- roles ---------------------------------------------------------------------------------- */

static int is_builtin(const char *name)
{
    for (const char *const *b = policy_builtin_names; *b; b++)
        if (!strcmp(*b, name))
            return 1;
    return 0;
}

enum MHD_Result srv_roles_list(srv_req *r)
{
    json_t *res = json_array();
    for (const char *const *b = policy_builtin_names; *b; b++)
        json_array_append_new(res, json_pack("{s:s,s:b,s:o}", "name", *b, "builtin", 1, "statements",
                                             policy_builtin_role(*b)));
    store_role *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_role_list(r->s->o.store, &v, &n, &e)) {
        json_decref(res);
        return srv_kerr_error(r, &e);
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, json_pack("{s:s,s:b,s:O}", "name", v[i].name, "builtin", 0, "statements",
                                             v[i].statements));
    store_roles_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)json_array_size(res)));
}

enum MHD_Result srv_roles_put(srv_req *r)
{
    const char *name = r->params[0];
    if (is_builtin(name))
        return srv_error(r, MHD_HTTP_CONFLICT, "role %s is built in: choose another name", name);
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    json_t *stmts = json_object_get(b, "statements");
    kerr e = KERR_INIT;
    policy *check = policy_new();
    enum MHD_Result rc;
    if (server_principal_check(name, &e) || policy_add_role(check, name, stmts, &e)) {
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    store_role old;
    json_t *before = NULL;
    if (store_role_get(r->s->o.store, name, &old, &e) == STORE_OK)
        before = json_incref(old.statements);
    store_role_clear(&old);
    store_role ro = {.name = (char *)name, .statements = stmts};
    int created = 0;
    if (store_role_put(r->s->o.store, &ro, &created, &e)) {
        json_decref(before);
        rc = srv_kerr_error(r, &e);
        goto out;
    }
    srv_audit(r, "role:write", "role", NULL, name, before, stmts);
    json_decref(before);
    rc = srv_json(r, created ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                  json_pack("{s:s,s:b,s:O}", "name", name, "builtin", 0, "statements", stmts));
out:
    policy_free(check);
    json_decref(b);
    return rc;
}

enum MHD_Result srv_roles_delete(srv_req *r)
{
    if (is_builtin(r->params[0]))
        return srv_error(r, MHD_HTTP_CONFLICT, "role %s is built in", r->params[0]);
    store_role old;
    kerr e = KERR_INIT;
    if (store_role_get(r->s->o.store, r->params[0], &old, &e) ||
        store_role_delete(r->s->o.store, r->params[0], &e)) {
        store_role_clear(&old);
        if (e.code == KERR_NOT_FOUND)
            return srv_error(r, MHD_HTTP_NOT_FOUND, "role %s not found", r->params[0]);
        return srv_kerr_error(r, &e);
    }
    srv_audit(r, "role:delete", "role", NULL, r->params[0], old.statements, NULL);
    store_role_clear(&old);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- bindings --------------------------------------------------------------------------------- */

static json_t *binding_json(const store_binding *b)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", b->id, "principal", b->principal, "role", b->role, "namespace",
                     b->namespace, "createdAt", date_or_null(b->created_us));
}

enum MHD_Result srv_bindings_list(srv_req *r)
{
    store_binding *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_binding_list(r->s->o.store, srv_arg(r, "principal"), &v, &n, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(res, binding_json(&v[i]));
    store_bindings_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)n));
}

enum MHD_Result srv_bindings_create(srv_req *r)
{
    json_t *b = srv_body_json(r, 0);
    if (!b)
        return MHD_YES;
    const char *who = json_string_value(json_object_get(b, "principal"));
    kerr e = KERR_INIT;
    enum MHD_Result rc;
    json_t *one = json_pack("[O]", b);
    store_principal p;
    /* "namespace:NS" stands for the flows of NS (store_access_flow): no row */
    int flows = who && !strncmp(who, "namespace:", 10) && flow_valid_namespace(who + 10);
    if ((!flows && server_principal_check(who, &e)) || check_bindings(r, one, &e)) {
        rc = srv_kerr_error(r, &e);
    } else if (!flows && store_principal_get(r->s->o.store, who, &p, &e)) {
        rc = srv_error(r, MHD_HTTP_NOT_FOUND, "principal %s not found", who);
    } else {
        if (!flows)
            store_principal_clear(&p);
        char id[STORE_ID_LEN + 1];
        store_new_id(id);
        store_binding sb = {.id = id, .principal = (char *)who,
                            .role = (char *)json_string_value(json_object_get(b, "role")),
                            .namespace = (char *)json_string_value(json_object_get(b, "namespace")),
                            .created_us = store_now_us()};
        if (store_binding_insert(r->s->o.store, &sb, &e)) {
            rc = srv_kerr_error(r, &e);
        } else {
            json_t *after = binding_json(&sb);
            srv_audit(r, "binding:create", "binding", sb.namespace, id, NULL, after);
            rc = srv_json(r, MHD_HTTP_CREATED, after);
        }
    }
    json_decref(one);
    json_decref(b);
    return rc;
}

enum MHD_Result srv_bindings_delete(srv_req *r)
{
    store_binding *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    json_t *before = NULL;
    if (!store_binding_list(r->s->o.store, NULL, &v, &n, &e))
        for (size_t i = 0; i < n && !before; i++)
            if (!strcmp(v[i].id, r->params[0]))
                before = binding_json(&v[i]);
    store_bindings_free(v, n);
    if (!before || store_binding_delete(r->s->o.store, r->params[0], &e)) {
        json_decref(before);
        return srv_error(r, MHD_HTTP_NOT_FOUND, "binding %s not found", r->params[0]);
    }
    srv_audit(r, "binding:delete", "binding", json_string_value(json_object_get(before, "namespace")), r->params[0],
              before, NULL);
    json_decref(before);
    return srv_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- audit and me ------------------------------------------------------------------------------- */

static int arg_date(srv_req *r, const char *name, int64_t *us)
{
    const char *v = srv_arg(r, name);
    *us = 0;
    if (!v)
        return 0;
    kerr e = KERR_INIT;
    if (datetime_parse(v, tz_utc(), us, NULL, &e)) {
        srv_error(r, MHD_HTTP_BAD_REQUEST, "'%s' is not a date: %s", name, e.msg);
        return -1;
    }
    return 0;
}

enum MHD_Result srv_audit_search(srv_req *r)
{
    size_t off, lim;
    if (srv_paging(r, &off, &lim, NULL))
        return MHD_YES;
    store_audit_query q = {.principal = srv_arg(r, "principal"), .action = srv_arg(r, "action"),
                           .kind = srv_arg(r, "kind"), .object_id = srv_arg(r, "id"),
                           .ns_prefix = srv_arg(r, "namespace"), .offset = off, .limit = lim};
    if (arg_date(r, "from", &q.from_us) || arg_date(r, "to", &q.to_us))
        return MHD_YES;
    store_audit *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    kerr e = KERR_INIT;
    if (store_audit_search(r->s->o.store, &q, &v, &n, &total, &e))
        return srv_kerr_error(r, &e);
    json_t *res = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_pack("{s:I,s:o,s:s,s:s?,s:s,s:s?,s:s?,s:s?}", "id", (json_int_t)v[i].id, "date",
                              date_or_null(v[i].at_us), "principal", v[i].principal, "address", v[i].address,
                              "action", v[i].action, "kind", v[i].kind, "namespace", v[i].namespace, "objectId",
                              v[i].object_id);
        json_object_set(a, "before", v[i].before ? v[i].before : json_null());
        json_object_set(a, "after", v[i].after ? v[i].after : json_null());
        json_array_append_new(res, a);
    }
    store_audits_free(v, n);
    return srv_json(r, MHD_HTTP_OK, json_pack("{s:o,s:I}", "results", res, "total", (json_int_t)total));
}

enum MHD_Result srv_auth_me(srv_req *r)
{
    store_token t;
    kerr e = KERR_INIT;
    json_t *scope = NULL;
    if (r->who.token_id[0] && store_token_get(r->s->o.store, r->who.token_id, &t, &e) == STORE_OK) {
        scope = t.scope ? json_incref(t.scope) : NULL;
        store_token_clear(&t);
    }
    return srv_json(r, MHD_HTTP_OK,
                    json_pack("{s:s,s:s,s:o,s:o}", "name", r->who.name, "tokenId", r->who.token_id, "scope",
                              scope ? scope : json_null(), "bindings", bindings_of(r->s->o.store, r->who.name)));
}
