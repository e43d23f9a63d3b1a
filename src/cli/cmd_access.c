/*
 * cmd_access.c: `kite user`, `kite token`, `kite role`, `kite binding`,
 * `kite auth check` and `kite audit`: access control on the configured
 * store (--data, $KITE_DATA, or --config's `data`), the way `kite secret`
 * and `kite execution` find it (docs/security.md).
 *
 * A server running on the same data folder sees every change at its next
 * request (the store's access generation). Changes are audited with the
 * principal "cli:<login name>". Passwords are read from standard input
 * (never from the command line, which `ps` shows); a token's text is
 * printed once, on standard output, alone on its line.
 */
#include "cli/cli.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/policy.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGS_MAX 8

typedef struct cx {
    const char *cmd;            /* "user", ... (for messages) */
    const char *pos[ARGS_MAX];
    size_t npos;
    int json;
    const char *owner, *expires, *kind, *file;
    const char *f_principal, *f_action, *f_ns, *f_kind, *f_id;
    long limit;
    json_t *binds;              /* --bind ROLE=NAMESPACE, as [{"role", "namespace"}] */
    int service;
    store *st;
    char who[128];
} cx;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kite user add NAME [--service]     (a user's password on standard input)\n"
            "       kite user list [--json] | kite user passwd NAME | kite user remove NAME\n"
            "       kite token create NAME [--owner PRINCIPAL] [--bind ROLE=NAMESPACE]... [--expires P30D]\n"
            "       kite token list [--owner PRINCIPAL] [--json] | kite token revoke ID\n"
            "       kite role list [--json] | kite role show NAME | kite role set NAME [--file F] (JSON statements,\n"
            "            standard input by default) | kite role delete NAME\n"
            "       kite binding add PRINCIPAL ROLE NAMESPACE | kite binding list [PRINCIPAL] [--json]\n"
            "       kite binding remove ID\n"
            "       kite auth check PRINCIPAL ACTION NAMESPACE   (PRINCIPAL, or token:ID for a token's rights)\n"
            "       kite audit [--principal P] [--action A] [--namespace NS] [--kind K] [--id ID] [--limit N] [--json]\n"
            "options: --data DIR (default $KITE_DATA or ./kite-data), --config kite.yml\n"
            "`kite token create` makes the service account NAME when no principal has that name (or a token of\n"
            "--owner), binds it to each --bind it lacks, and scopes the token to them; it prints the token once.\n");
}

static int fail(cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kite %s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(j);
}

static const char *when(int64_t us, char *out, size_t n)
{
    if (!us)
        return "-";
    datetime_format(us, tz_utc(), out, n);
    return out;
}

static void audit(cx *c, const char *action, const char *kind, const char *ns, const char *id, json_t *before,
                  json_t *after)
{
    store_audit a = {.principal = c->who, .action = (char *)action, .kind = (char *)kind, .namespace = (char *)ns,
                     .object_id = (char *)id, .before = before, .after = after};
    kerr e = KERR_INIT;
    if (store_audit_append(c->st, &a, NULL, &e))
        fprintf(stderr, "kite %s: cannot write the audit log: %s\n", c->cmd, e.msg);
}

/* A password on standard input (one line, its newline removed). */
static char *read_password(cx *c)
{
    char line[1100];
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "password: ");
    if (!fgets(line, sizeof line, stdin)) {
        fail(c, "no password on standard input");
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *p = xstrdup(line);
    explicit_bzero(line, sizeof line);
    return p;
}

/* ---- user ------------------------------------------------------------------------ */

static int user_cmd(cx *c)
{
    const char *sub = c->pos[0], *name = c->npos > 1 ? c->pos[1] : NULL;
    kerr e = KERR_INIT;
    if (!strcmp(sub, "list")) {
        store_principal *v = NULL;
        size_t n = 0;
        if (store_principal_list(c->st, &v, &n, &e))
            return fail(c, "%s", e.msg);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            char w[40];
            if (c->json)
                json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", v[i].name, "kind", v[i].kind,
                                                   "createdAt", when(v[i].created_us, w, sizeof w)));
            else
                printf("%-32s %-8s %s\n", v[i].name, v[i].kind, when(v[i].created_us, w, sizeof w));
        }
        store_principals_free(v, n);
        if (c->json)
            print_json(a);
        else
            json_decref(a);
        return 0;
    }
    if (!name)
        return fail(c, "%s needs a NAME", sub);
    if (server_principal_check(name, &e))
        return fail(c, "%s", e.msg);
    if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
        store_principal old;
        int exists = store_principal_get(c->st, name, &old, &e) == STORE_OK;
        if (!strcmp(sub, "add") && exists) {
            store_principal_clear(&old);
            return fail(c, "principal %s already exists", name);
        }
        if (!strcmp(sub, "passwd") && (!exists || !strcmp(old.kind, "service"))) {
            if (exists)
                store_principal_clear(&old);
            return fail(c, exists ? "%s is a service account: it has tokens, no password" : "user %s not found",
                        name);
        }
        if (exists)
            store_principal_clear(&old);
        char *hash = NULL;
        if (!c->service) {
            char *pw = read_password(c);
            if (!pw)
                return 1;
            int rc = server_password_hash(pw, &hash, &e);
            explicit_bzero(pw, strlen(pw));
            free(pw);
            if (rc)
                return fail(c, "%s", e.msg);
        }
        store_principal p = {.name = (char *)name, .kind = c->service ? "service" : "user", .password_hash = hash};
        int rc = store_principal_put(c->st, &p, NULL, &e);
        free(hash);
        if (rc)
            return fail(c, "%s", e.msg);
        json_t *after = json_pack("{s:s,s:s}", "name", name, "kind", p.kind);
        audit(c, !strcmp(sub, "add") ? "user:create" : "user:password", "user", NULL, name, NULL,
              !strcmp(sub, "add") ? after : NULL);
        json_decref(after);
        return 0;
    }
    if (!strcmp(sub, "remove")) {
        if (store_principal_delete(c->st, name, &e))
            return fail(c, "%s", e.code == KERR_NOT_FOUND ? "no such user" : e.msg);
        audit(c, "user:delete", "user", NULL, name, NULL, NULL);
        return 0;
    }
    return fail(c, "unknown subcommand '%s' (add, list, passwd, remove)", sub);
}

/* ---- token ----------------------------------------------------------------------- */

static int check_binds(cx *c, const json_t *binds)
{
    policy *p = NULL;
    kerr e = KERR_INIT;
    if (server_access_load(c->st, &p, &e))
        return fail(c, "%s", e.msg);
    size_t i;
    json_t *b;
    int rc = 0;
    json_array_foreach(binds, i, b) {
        const char *role = json_string_value(json_object_get(b, "role"));
        const char *ns = json_string_value(json_object_get(b, "namespace"));
        if (!policy_has_role(p, role)) {
            rc = fail(c, "role %s does not exist", role);
            break;
        }
        if (policy_check_pattern(ns, &e)) {
            rc = fail(c, "%s", e.msg);
            break;
        }
    }
    policy_free(p);
    return rc;
}

static int token_cmd(cx *c)
{
    const char *sub = c->pos[0];
    kerr e = KERR_INIT;
    if (!strcmp(sub, "list")) {
        store_token *v = NULL;
        size_t n = 0;
        if (store_token_list(c->st, c->owner, &v, &n, &e))
            return fail(c, "%s", e.msg);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            char w1[40], w2[40], w3[40];
            if (c->json)
                json_array_append_new(
                    a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "id", v[i].id, "name", v[i].name, "owner",
                                 v[i].owner, "createdAt", when(v[i].created_us, w1, sizeof w1), "expiresAt",
                                 when(v[i].expires_us, w2, sizeof w2), "revokedAt",
                                 when(v[i].revoked_us, w3, sizeof w3), "bindings",
                                 v[i].scope ? v[i].scope : json_null()));
            else
                printf("%-22s %-20s %-20s expires %-28s %s\n", v[i].id, v[i].name, v[i].owner,
                       when(v[i].expires_us, w2, sizeof w2), v[i].revoked_us ? "REVOKED" : "");
        }
        store_tokens_free(v, n);
        if (c->json)
            print_json(a);
        else
            json_decref(a);
        return 0;
    }
    if (!strcmp(sub, "revoke")) {
        if (c->npos < 2)
            return fail(c, "revoke needs a token ID (kite token list)");
        if (store_token_revoke(c->st, c->pos[1], 0, &e))
            return fail(c, "%s", e.code == KERR_NOT_FOUND ? "no such token" : e.msg);
        audit(c, "token:revoke", "token", NULL, c->pos[1], NULL, NULL);
        return 0;
    }
    if (strcmp(sub, "create"))
        return fail(c, "unknown subcommand '%s' (create, list, revoke)", sub);
    if (c->npos < 2)
        return fail(c, "create needs a NAME");
    const char *name = c->pos[1], *owner = c->owner ? c->owner : name;
    if (server_principal_check(name, &e) || server_principal_check(owner, &e))
        return fail(c, "%s", e.msg);
    int64_t dur = 0;
    if (c->expires && (duration_parse(c->expires, &dur, &e) || dur <= 0))
        return fail(c, "--expires '%s' is not a positive ISO-8601 duration (P30D, PT12H)", c->expires);
    if (json_array_size(c->binds) && check_binds(c, c->binds))
        return 1;
    store_principal p;
    int rcs = store_principal_get(c->st, owner, &p, &e);
    store_principal_clear(&p);
    if (rcs == STORE_NOT_FOUND && c->owner)
        return fail(c, "principal %s not found", owner);
    char *text = NULL;
    if (server_token_generate(&text, &e) || store_begin(c->st, &e))
        return fail(c, "%s", e.msg);
    int rc = 0;
    if (rcs == STORE_NOT_FOUND) {
        store_principal np = {.name = (char *)owner, .kind = "service"};
        rc = store_principal_put(c->st, &np, NULL, &e);
    }
    size_t i;
    json_t *b;
    json_array_foreach(c->binds, i, b) {
        if (rc || c->owner)
            break;
        char bid[STORE_ID_LEN + 1];
        store_new_id(bid);
        store_binding sb = {.id = bid, .principal = (char *)owner,
                            .role = (char *)json_string_value(json_object_get(b, "role")),
                            .namespace = (char *)json_string_value(json_object_get(b, "namespace"))};
        kerr e2 = KERR_INIT;
        int brc = store_binding_insert(c->st, &sb, &e2);
        if (brc && brc != STORE_DUPLICATE) {
            rc = brc;
            e = e2;
        }
    }
    char id[STORE_ID_LEN + 1], hex[65];
    store_new_id(id);
    digest_sha256_hex(text, strlen(text), hex);
    int64_t now = store_now_us();
    store_token t = {.id = id, .name = (char *)name, .owner = (char *)owner, .sha256 = hex,
                     .scope = json_array_size(c->binds) ? c->binds : NULL, .created_us = now,
                     .expires_us = dur ? now + dur : 0};
    if (!rc)
        rc = store_token_insert(c->st, &t, &e);
    if (!rc)
        rc = store_commit(c->st, &e);
    else
        store_rollback(c->st);
    if (rc) {
        free(text);
        return fail(c, "%s", e.msg);
    }
    json_t *after = json_pack("{s:s,s:s,s:s,s:O}", "id", id, "name", name, "owner", owner, "bindings",
                              t.scope ? t.scope : json_null());
    audit(c, "token:create", "token", NULL, id, NULL, after);
    json_decref(after);
    char w[40];
    fprintf(stderr, "kite token: created %s (id %s, owner %s, expires %s); the token is shown once:\n", name, id,
            owner, when(t.expires_us, w, sizeof w));
    printf("%s\n", text);
    explicit_bzero(text, strlen(text));
    free(text);
    return 0;
}

/* ---- role ------------------------------------------------------------------------- */

static int role_cmd(cx *c)
{
    const char *sub = c->pos[0], *name = c->npos > 1 ? c->pos[1] : NULL;
    kerr e = KERR_INIT;
    if (!strcmp(sub, "list")) {
        json_t *a = json_array();
        for (const char *const *b = policy_builtin_names; *b; b++)
            json_array_append_new(a, json_pack("{s:s,s:b,s:o}", "name", *b, "builtin", 1, "statements",
                                               policy_builtin_role(*b)));
        store_role *v = NULL;
        size_t n = 0;
        if (store_role_list(c->st, &v, &n, &e)) {
            json_decref(a);
            return fail(c, "%s", e.msg);
        }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s,s:b,s:O}", "name", v[i].name, "builtin", 0, "statements",
                                               v[i].statements));
        store_roles_free(v, n);
        if (c->json) {
            print_json(a);
            return 0;
        }
        size_t k;
        json_t *r;
        json_array_foreach(a, k, r) {
            char *s = json_dumps(json_object_get(r, "statements"), JSON_COMPACT);
            printf("%-16s %s%s\n", json_string_value(json_object_get(r, "name")),
                   json_is_true(json_object_get(r, "builtin")) ? "(built-in) " : "", s);
            free(s);
        }
        json_decref(a);
        return 0;
    }
    if (!name)
        return fail(c, "%s needs a NAME", sub);
    int builtin = 0;
    for (const char *const *b = policy_builtin_names; *b; b++)
        builtin |= !strcmp(*b, name);
    if (!strcmp(sub, "show")) {
        json_t *st = policy_builtin_role(name);
        store_role r;
        if (!st && store_role_get(c->st, name, &r, &e) == STORE_OK) {
            st = json_incref(r.statements);
            store_role_clear(&r);
        }
        if (!st)
            return fail(c, "role %s not found", name);
        print_json(st);
        return 0;
    }
    if (builtin)
        return fail(c, "role %s is built in: choose another name", name);
    if (!strcmp(sub, "delete")) {
        if (store_role_delete(c->st, name, &e))
            return fail(c, "%s", e.code == KERR_NOT_FOUND ? "no such role" : e.msg);
        audit(c, "role:delete", "role", NULL, name, NULL, NULL);
        return 0;
    }
    if (strcmp(sub, "set"))
        return fail(c, "unknown subcommand '%s' (list, show, set, delete)", sub);
    json_error_t je;
    json_t *j = c->file ? json_load_file(c->file, 0, &je) : json_loadf(stdin, 0, &je);
    if (!j)
        return fail(c, "%s:%d:%d: %s", c->file ? c->file : "<stdin>", je.line, je.column, je.text);
    json_t *stmts = json_is_object(j) ? json_object_get(j, "statements") : j;
    policy *chk = policy_new();
    int rc = policy_add_role(chk, name, stmts, &e);
    policy_free(chk);
    if (rc) {
        json_decref(j);
        return fail(c, "%s", e.msg);
    }
    store_role old;
    json_t *before = NULL;
    if (store_role_get(c->st, name, &old, &e) == STORE_OK)
        before = json_incref(old.statements);
    store_role_clear(&old);
    store_role ro = {.name = (char *)name, .statements = stmts};
    rc = store_role_put(c->st, &ro, NULL, &e);
    if (!rc)
        audit(c, "role:write", "role", NULL, name, before, stmts);
    json_decref(before);
    json_decref(j);
    return rc ? fail(c, "%s", e.msg) : 0;
}

/* ---- binding ----------------------------------------------------------------------- */

static int binding_cmd(cx *c)
{
    const char *sub = c->pos[0];
    kerr e = KERR_INIT;
    if (!strcmp(sub, "list")) {
        store_binding *v = NULL;
        size_t n = 0;
        if (store_binding_list(c->st, c->npos > 1 ? c->pos[1] : NULL, &v, &n, &e))
            return fail(c, "%s", e.msg);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            if (c->json)
                json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "id", v[i].id, "principal", v[i].principal,
                                                   "role", v[i].role, "namespace", v[i].namespace));
            else
                printf("%-22s %-24s %-12s %s\n", v[i].id, v[i].principal, v[i].role, v[i].namespace);
        }
        store_bindings_free(v, n);
        if (c->json)
            print_json(a);
        else
            json_decref(a);
        return 0;
    }
    if (!strcmp(sub, "remove")) {
        if (c->npos < 2)
            return fail(c, "remove needs a binding ID (kite binding list)");
        if (store_binding_delete(c->st, c->pos[1], &e))
            return fail(c, "%s", e.code == KERR_NOT_FOUND ? "no such binding" : e.msg);
        audit(c, "binding:delete", "binding", NULL, c->pos[1], NULL, NULL);
        return 0;
    }
    if (strcmp(sub, "add"))
        return fail(c, "unknown subcommand '%s' (add, list, remove)", sub);
    if (c->npos < 4)
        return fail(c, "add needs PRINCIPAL ROLE NAMESPACE");
    const char *who = c->pos[1], *role = c->pos[2], *ns = c->pos[3];
    store_principal p;
    int flows = !strncmp(who, "namespace:", 10) && flow_valid_namespace(who + 10);
    if (!flows && store_principal_get(c->st, who, &p, &e))
        return fail(c, "principal %s not found (kite user add, or kite token create; namespace:NS for a "
                       "namespace's flows)", who);
    if (!flows)
        store_principal_clear(&p);
    json_t *one = json_pack("[{s:s,s:s}]", "role", role, "namespace", ns);
    int rc = check_binds(c, one);
    json_decref(one);
    if (rc)
        return 1;
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    store_binding b = {.id = id, .principal = (char *)who, .role = (char *)role, .namespace = (char *)ns};
    if (store_binding_insert(c->st, &b, &e))
        return fail(c, "%s", e.msg);
    json_t *after = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "principal", who, "role", role, "namespace", ns);
    audit(c, "binding:create", "binding", ns, id, NULL, after);
    json_decref(after);
    printf("%s\n", id);
    return 0;
}

/* ---- auth check and audit ------------------------------------------------------------- */

static int auth_cmd(cx *c)
{
    if (strcmp(c->pos[0], "check") || c->npos != 4)
        return fail(c, "usage: kite auth check PRINCIPAL ACTION NAMESPACE");
    const char *who = c->pos[1], *an = c->pos[2], *ns = c->pos[3];
    int action = policy_action_find(an);
    if (action < 0)
        return fail(c, "unknown action '%s' (flow:read, execution:create, ...: docs/security.md)", an);
    policy *p = NULL;
    kerr e = KERR_INIT;
    if (server_access_load(c->st, &p, &e))
        return fail(c, "%s", e.msg);
    buf out = BUF_INIT;
    int d;
    if (!strncmp(who, "token:", 6)) {
        store_token t;
        if (store_token_get(c->st, who + 6, &t, &e)) {
            policy_free(p);
            return fail(c, "token %s not found", who + 6);
        }
        int64_t now = store_now_us();
        buf_printf(&out, "token %s (%s) of %s:\n", t.id, t.name, t.owner);
        d = policy_explain(p, t.owner, action, ns, &out);
        if (t.scope) {
            buf_printf(&out, "the token's scope:\n");
            int ds = policy_explain(p, who, action, ns, &out);
            if (ds != POLICY_ALLOW && d == POLICY_ALLOW)
                d = ds;
        }
        if (t.revoked_us || (t.expires_us && t.expires_us <= now)) {
            buf_printf(&out, "but the token %s: every request is refused (401)\n",
                       t.revoked_us ? "was revoked" : "has expired");
            d = POLICY_DEFAULT_DENY;
        }
        store_token_clear(&t);
    } else {
        d = policy_explain(p, who, action, ns, &out);
    }
    fputs(buf_str(&out), stdout);
    buf_free(&out);
    policy_free(p);
    return d == POLICY_ALLOW ? 0 : 1;
}

static int audit_cmd(cx *c)
{
    store_audit_query q = {.principal = c->f_principal, .action = c->f_action, .ns_prefix = c->f_ns,
                           .kind = c->f_kind, .object_id = c->f_id, .limit = c->limit > 0 ? (size_t)c->limit : 50};
    store_audit *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    kerr e = KERR_INIT;
    if (store_audit_search(c->st, &q, &v, &n, &total, &e))
        return fail(c, "%s", e.msg);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char w[40];
        if (c->json) {
            json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:s,s:s?,s:s?,s:s?}", "id", (json_int_t)v[i].id, "date",
                                  when(v[i].at_us, w, sizeof w), "principal", v[i].principal, "address",
                                  v[i].address, "action", v[i].action, "kind", v[i].kind, "namespace",
                                  v[i].namespace, "objectId", v[i].object_id);
            json_object_set(o, "before", v[i].before ? v[i].before : json_null());
            json_object_set(o, "after", v[i].after ? v[i].after : json_null());
            json_array_append_new(a, o);
        } else {
            printf("%s %-20s %-16s %-18s %s%s%s\n", when(v[i].at_us, w, sizeof w), v[i].principal,
                   v[i].address ? v[i].address : "-", v[i].action, v[i].namespace ? v[i].namespace : "",
                   v[i].namespace && v[i].object_id ? " " : "", v[i].object_id ? v[i].object_id : "");
        }
    }
    store_audits_free(v, n);
    if (c->json)
        print_json(a);
    else
        json_decref(a);
    if (!c->json && total > (int64_t)n)
        fprintf(stderr, "(%zu of %lld: --limit N for more)\n", n, (long long)total);
    return 0;
}

/* ---- the front door --------------------------------------------------------------------- */

static int run(const char *cmd, int argc, char **argv, int (*fn)(cx *))
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cx c = {.cmd = cmd, .binds = json_array()};
    cli_config cfg;
    cli_config_defaults(&cfg);
    kerr e = KERR_INIT;
    int rc = 2;
    const char *data = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--config") && more) {
            if (cli_config_load(&cfg, argv[++i], &e)) {
                fail(&c, "%s", e.msg);
                goto out;
            }
        } else if (!strcmp(a, "--data") && more) {
            data = argv[++i];
        } else if (!strcmp(a, "--json")) {
            c.json = 1;
        } else if (!strcmp(a, "--service")) {
            c.service = 1;
        } else if (!strcmp(a, "--owner") && more) {
            c.owner = argv[++i];
        } else if (!strcmp(a, "--expires") && more) {
            c.expires = argv[++i];
        } else if (!strcmp(a, "--file") && more) {
            c.file = argv[++i];
        } else if (!strcmp(a, "--principal") && more) {
            c.f_principal = argv[++i];
        } else if (!strcmp(a, "--action") && more) {
            c.f_action = argv[++i];
        } else if (!strcmp(a, "--namespace") && more) {
            c.f_ns = argv[++i];
        } else if (!strcmp(a, "--kind") && more) {
            c.f_kind = argv[++i];
        } else if (!strcmp(a, "--id") && more) {
            c.f_id = argv[++i];
        } else if (!strcmp(a, "--limit") && more) {
            c.limit = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--bind") && more) {
            const char *b = argv[++i], *eq = strchr(b, '=');
            if (!eq || eq == b || !eq[1]) {
                fail(&c, "--bind takes ROLE=NAMESPACE (editor=company.team.*), not '%s'", b);
                goto out;
            }
            json_array_append_new(c.binds, json_pack("{s:s%,s:s}", "role", b, (size_t)(eq - b), "namespace", eq + 1));
        } else if (a[0] == '-' && a[1]) {
            fail(&c, "unknown option '%s' (kite %s --help)", a, cmd);
            goto out;
        } else if (c.npos < ARGS_MAX) {
            c.pos[c.npos++] = a;
        } else {
            fail(&c, "too many arguments");
            goto out;
        }
    }
    if (fn != audit_cmd && !c.npos) {
        usage(stderr);
        goto out;
    }
    if (data) {
        free(cfg.data);
        cfg.data = xstrdup(data);
    }
    struct passwd *pw = getpwuid(getuid());
    snprintf(c.who, sizeof c.who, "cli:%s", pw && pw->pw_name ? pw->pw_name : "?");
    rc = 1;
    char *url = cli_store_url(&cfg);
    if (fs_mkdir_p(cfg.data, &e) || store_open(url, NULL, &c.st, &e)) {
        fail(&c, "%s", e.msg);
        free(url);
        goto out;
    }
    free(url);
    rc = fn(&c);
out:
    store_free(c.st);
    json_decref(c.binds);
    cli_config_free(&cfg);
    return rc;
}

int cli_cmd_user(int argc, char **argv) { return run("user", argc, argv, user_cmd); }
int cli_cmd_token(int argc, char **argv) { return run("token", argc, argv, token_cmd); }
int cli_cmd_role(int argc, char **argv) { return run("role", argc, argv, role_cmd); }
int cli_cmd_binding(int argc, char **argv) { return run("binding", argc, argv, binding_cmd); }
int cli_cmd_auth(int argc, char **argv) { return run("auth", argc, argv, auth_cmd); }
int cli_cmd_audit(int argc, char **argv) { return run("audit", argc, argv, audit_cmd); }
