/*
 * policy.c: roles, bindings and decisions (policy.h says the rules).
 *
 * Compiling turns every (binding, statement, resource) into a rule on one
 * effective pattern, the intersection of the binding's pattern and the
 * statement's resource (two patterns of this grammar intersect in one of
 * them or in nothing). Rules are folded into an open-addressing table keyed
 * by (principal, kind, base): kind 's' for "base and below" ("*" is base
 * ""), 'e' for exactly base; each slot holds the allow and deny masks of
 * every rule that landed there. A decision for namespace x.y.z probes
 * (p,'s',""), (p,'s',"x"), (p,'s',"x.y"), (p,'s',"x.y.z") and (p,'e',"x.y.z"),
 * hashing the namespace once, incrementally: the cost follows the
 * namespace's depth, not the number of bindings. A slot (p,'a',"") holds
 * the union of the principal's allow masks (policy_allowed_somewhere).
 *
 * The rules stay in a list for policy_explain, which walks them: slow and
 * exact, for `kite auth check`.
 */
#include "util/policy.h"
#include "util/mem.h"

#include <string.h>
#include <strings.h>

#define POLICY__NAME(id, name) name,
static const char *const action_names[PA__COUNT] = {POLICY_ACTIONS(POLICY__NAME)};
#undef POLICY__NAME

#define PATTERN_MAX 256

#define VEC_PUSH(v, n, cap) \
    ((n) == (cap) ? ((cap) = (cap) ? (cap) * 2 : 8, (v) = xrealloc((v), (cap) * sizeof *(v))) : 0, \
     memset(&(v)[(n)], 0, sizeof *(v)), &(v)[(n)++])

const char *policy_action_name(int a)
{
    return a >= 0 && a < PA__COUNT ? action_names[a] : NULL;
}

int policy_action_find(const char *name)
{
    for (int i = 0; i < PA__COUNT; i++)
        if (!strcmp(action_names[i], name))
            return i;
    return -1;
}

uint32_t policy_action_mask(const char *name)
{
    if (!name)
        return 0;
    if (!strcmp(name, "*"))
        return (1u << PA__COUNT) - 1;
    const char *colon = strchr(name, ':');
    if (!colon || strchr(colon + 1, ':'))
        return 0;
    size_t fl = (size_t)(colon - name);
    const char *verb = colon + 1;
    uint32_t m = 0;
    for (int i = 0; i < PA__COUNT; i++) {
        const char *an = action_names[i];
        const char *ac = strchr(an, ':');
        int fam = (fl == 1 && name[0] == '*') || ((size_t)(ac - an) == fl && !strncmp(an, name, fl));
        int vb = !strcmp(verb, "*") || !strcmp(verb, ac + 1);
        if (fam && vb)
            m |= 1u << i;
    }
    return m;
}

/* ---- patterns --------------------------------------------------------------------- */

/* kind 's' (base and below; "*" is base "") or 'e' (exactly base). */
typedef struct pat {
    char kind;
    char base[PATTERN_MAX + 1];
} pat;

static int seg_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int policy_check_pattern(const char *p, kerr *e)
{
    if (!p || !*p)
        return kerr_setc(e, KERR_INVALID, "a namespace pattern is empty (use '*', 'a.b' or 'a.b.*')");
    size_t n = strlen(p);
    if (n > PATTERN_MAX)
        return kerr_setc(e, KERR_INVALID, "namespace pattern is longer than %d bytes", PATTERN_MAX);
    if (!strcmp(p, "*"))
        return 0;
    if (n >= 2 && !strcmp(p + n - 2, ".*"))
        n -= 2;
    int seg = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (!seg)
                return kerr_setc(e, KERR_INVALID, "namespace pattern '%s' has an empty segment", p);
            seg = 0;
        } else if (seg_char((unsigned char)p[i])) {
            seg++;
        } else {
            return kerr_setc(e, KERR_INVALID,
                             "namespace pattern '%s': '%c' is not allowed (use '*', 'a.b' or 'a.b.*'; a '*' "
                             "only as the last segment)",
                             p, p[i]);
        }
    }
    if (!seg)
        return kerr_setc(e, KERR_INVALID, "namespace pattern '%s' has an empty segment", p);
    return 0;
}

static void pat_parse(const char *p, pat *out)
{
    size_t n = strlen(p);
    if (!strcmp(p, "*")) {
        out->kind = 's';
        out->base[0] = '\0';
    } else if (n >= 2 && !strcmp(p + n - 2, ".*")) {
        out->kind = 's';
        memcpy(out->base, p, n - 2);
        out->base[n - 2] = '\0';
    } else {
        out->kind = 'e';
        memcpy(out->base, p, n + 1);
    }
}

/* 1 when namespace a is b or below it (b "" is the root of all). */
static int under(const char *a, const char *b)
{
    size_t lb = strlen(b);
    return !lb || (!strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '.'));
}

static int pat_match(const pat *p, const char *ns)
{
    return p->kind == 'e' ? !strcmp(p->base, ns) : under(ns, p->base);
}

int policy_match(const char *pattern, const char *ns)
{
    if (!pattern || !ns || policy_check_pattern(pattern, NULL))
        return 0;
    pat p;
    pat_parse(pattern, &p);
    return pat_match(&p, ns);
}

/* The intersection of a and b into out; 0 when it is empty. */
static int pat_meet(const pat *a, const pat *b, pat *out)
{
    if (a->kind == 'e' && b->kind == 'e') {
        if (strcmp(a->base, b->base))
            return 0;
        *out = *a;
    } else if (a->kind == 'e') {
        if (!under(a->base, b->base))
            return 0;
        *out = *a;
    } else if (b->kind == 'e') {
        if (!under(b->base, a->base))
            return 0;
        *out = *b;
    } else if (under(a->base, b->base)) {
        *out = *a;
    } else if (under(b->base, a->base)) {
        *out = *b;
    } else {
        return 0;
    }
    return 1;
}

static const char *pat_text(const pat *p, char *out, size_t n)
{
    if (p->kind == 's')
        snprintf(out, n, "%s%s*", p->base, p->base[0] ? "." : "");
    else
        snprintf(out, n, "%s", p->base);
    return out;
}

/* ---- the policy ------------------------------------------------------------------------ */

typedef struct stmt {
    int effect;                 /* POLICY_ALLOW or POLICY_DENY */
    uint32_t mask;
    char *actions;              /* as written, for explanations */
    pat *res;
    size_t nres;
} stmt;

typedef struct role {
    char *name;
    stmt *st;
    size_t n;
} role;

typedef struct binding {
    char *principal, *role, *pattern, *id;
} binding;

typedef struct rule {
    size_t binding, stmt;
    int effect;
    uint32_t mask;
    pat where;
} rule;

typedef struct slot {
    uint64_t h;
    char *key;                  /* principal '\x1f' kind base; NULL: empty */
    size_t klen;
    uint32_t allow, deny;
} slot;

struct policy {
    role *roles;
    size_t nroles, caproles;
    binding *b;
    size_t nb, capb;
    rule *rules;
    size_t nrules, caprules;
    slot *tab;
    size_t cap;                 /* a power of two */
    size_t used;
};

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define STEP(h, c) (((h) ^ (unsigned char)(c)) * FNV_PRIME)

static const char *const builtin_json[][2] = {
    {"admin", "[{\"effect\":\"allow\",\"actions\":[\"*\"],\"resources\":[\"*\"]}]"},
    {"editor", "[{\"effect\":\"allow\",\"actions\":[\"flow:*\",\"execution:*\",\"log:read\",\"nsfile:*\","
               "\"kv:*\",\"secret:*\",\"trigger:*\",\"topic:*\"],\"resources\":[\"*\"]}]"},
    {"launcher", "[{\"effect\":\"allow\",\"actions\":[\"flow:read\",\"execution:read\",\"execution:create\","
                 "\"execution:kill\",\"execution:replay\",\"log:read\",\"trigger:read\",\"nsfile:read\"],"
                 "\"resources\":[\"*\"]}]"},
    {"viewer", "[{\"effect\":\"allow\",\"actions\":[\"flow:read\",\"execution:read\",\"log:read\","
               "\"trigger:read\",\"nsfile:read\",\"kv:read\",\"secret:read\"],\"resources\":[\"*\"]}]"},
};

const char *const policy_builtin_names[] = {"admin", "editor", "launcher", "viewer", NULL};

json_t *policy_builtin_role(const char *name)
{
    for (size_t i = 0; i < sizeof builtin_json / sizeof builtin_json[0]; i++)
        if (!strcmp(builtin_json[i][0], name))
            return json_loads(builtin_json[i][1], 0, NULL);
    return NULL;
}

policy *policy_new(void)
{
    policy *p = xcalloc(1, sizeof *p);
    for (size_t i = 0; i < sizeof builtin_json / sizeof builtin_json[0]; i++) {
        json_t *j = json_loads(builtin_json[i][1], 0, NULL);
        policy_add_role(p, builtin_json[i][0], j, NULL);
        json_decref(j);
    }
    return p;
}

static void role_clear(role *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->st[i].actions);
        free(r->st[i].res);
    }
    free(r->st);
    free(r->name);
}

static void tab_clear(policy *p)
{
    for (size_t i = 0; i < p->cap; i++)
        free(p->tab[i].key);
    free(p->tab);
    p->tab = NULL;
    p->cap = p->used = 0;
}

void policy_free(policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nroles; i++)
        role_clear(&p->roles[i]);
    free(p->roles);
    for (size_t i = 0; i < p->nb; i++) {
        free(p->b[i].principal);
        free(p->b[i].role);
        free(p->b[i].pattern);
        free(p->b[i].id);
    }
    free(p->b);
    free(p->rules);
    tab_clear(p);
    free(p);
}

static role *role_find(const policy *p, const char *name)
{
    for (size_t i = 0; i < p->nroles; i++)
        if (!strcmp(p->roles[i].name, name))
            return &p->roles[i];
    return NULL;
}

int policy_has_role(const policy *p, const char *name)
{
    return role_find(p, name) != NULL;
}

static int parse_stmt(const json_t *j, size_t i, stmt *s, kerr *e)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(j))
        return kerr_setc(e, KERR_INVALID, "statements[%zu]: a statement is an object {effect, actions, resources}",
                         i);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        if (strcmp(k, "effect") && strcmp(k, "actions") && strcmp(k, "resources"))
            return kerr_setc(e, KERR_INVALID, "statements[%zu]: unknown field '%s' (effect, actions, resources)", i,
                             k);
    }
    const char *eff = json_string_value(json_object_get(j, "effect"));
    if (eff && !strcasecmp(eff, "allow"))
        s->effect = POLICY_ALLOW;
    else if (eff && !strcasecmp(eff, "deny"))
        s->effect = POLICY_DENY;
    else
        return kerr_setc(e, KERR_INVALID, "statements[%zu].effect must be \"allow\" or \"deny\"", i);
    const json_t *acts = json_object_get(j, "actions");
    if (!json_is_array(acts) || !json_array_size(acts))
        return kerr_setc(e, KERR_INVALID, "statements[%zu].actions must be a non-empty array (e.g. [\"flow:read\"])",
                         i);
    buf b;
    buf_init(&b, 0);
    size_t ai;
    json_t *a;
    json_array_foreach(acts, ai, a) {
        uint32_t m = policy_action_mask(json_string_value(a));
        if (!m) {
            buf_free(&b);
            return kerr_setc(e, KERR_INVALID,
                             "statements[%zu].actions[%zu]: unknown action '%s' (e.g. flow:read, execution:*, *)", i,
                             ai, json_is_string(a) ? json_string_value(a) : "(not a string)");
        }
        s->mask |= m;
        buf_printf(&b, "%s%s", ai ? "," : "", json_string_value(a));
    }
    s->actions = buf_steal(&b);
    const json_t *res = json_object_get(j, "resources");
    if (!res) {
        s->res = xcalloc(1, sizeof *s->res);
        s->res[0].kind = 's';
        s->nres = 1;
        return 0;
    }
    if (!json_is_array(res) || !json_array_size(res)) {
        free(s->actions);
        s->actions = NULL;
        return kerr_setc(e, KERR_INVALID, "statements[%zu].resources must be a non-empty array of namespace patterns",
                         i);
    }
    s->res = xcalloc(json_array_size(res), sizeof *s->res);
    json_array_foreach(res, ai, a) {
        kerr e2 = KERR_INIT;
        if (policy_check_pattern(json_string_value(a), &e2)) {
            free(s->actions);
            free(s->res);
            s->actions = NULL;
            s->res = NULL;
            return kerr_setc(e, KERR_INVALID, "statements[%zu].resources[%zu]: %s", i, ai, e2.msg);
        }
        pat_parse(json_string_value(a), &s->res[s->nres++]);
    }
    return 0;
}

int policy_add_role(policy *p, const char *name, const json_t *statements, kerr *e)
{
    if (!name || !*name || strlen(name) > 128)
        return kerr_setc(e, KERR_INVALID, "a role needs a name (at most 128 bytes)");
    if (!json_is_array(statements))
        return kerr_setc(e, KERR_INVALID, "role %s: statements must be an array", name);
    role r = {0};
    r.st = xcalloc(json_array_size(statements) + 1, sizeof *r.st);
    size_t i;
    json_t *j;
    json_array_foreach(statements, i, j) {
        if (parse_stmt(j, i, &r.st[r.n], e)) {
            r.name = NULL;
            role_clear(&r);
            return -1;
        }
        r.n++;
    }
    r.name = xstrdup(name);
    role *old = role_find(p, name);
    if (old) {
        role_clear(old);
        *old = r;
    } else {
        *VEC_PUSH(p->roles, p->nroles, p->caproles) = r;
    }
    return 0;
}

int policy_bind(policy *p, const char *principal, const char *rolename, const char *pattern, const char *id,
                kerr *e)
{
    if (!principal || !*principal || strlen(principal) > 256)
        return kerr_setc(e, KERR_INVALID, "a binding needs a principal");
    if (!rolename || !*rolename)
        return kerr_setc(e, KERR_INVALID, "a binding needs a role");
    if (policy_check_pattern(pattern, e))
        return -1;
    binding *b = VEC_PUSH(p->b, p->nb, p->capb);
    b->principal = xstrdup(principal);
    b->role = xstrdup(rolename);
    b->pattern = xstrdup(pattern);
    b->id = id ? xstrdup(id) : NULL;
    return 0;
}

/* ---- the table ------------------------------------------------------------------------- */

static uint64_t key_hash(const char *principal, char kind, const char *base, size_t blen)
{
    uint64_t h = FNV_OFF;
    for (const char *c = principal; *c; c++)
        h = STEP(h, *c);
    h = STEP(h, 0x1f);
    h = STEP(h, kind);
    for (size_t i = 0; i < blen; i++)
        h = STEP(h, base[i]);
    return h;
}

static slot *tab_slot(policy *p, const char *principal, char kind, const char *base)
{
    size_t pl = strlen(principal), bl = strlen(base);
    uint64_t h = key_hash(principal, kind, base, bl);
    if (2 * (p->used + 1) > p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        slot *nt = xcalloc(ncap, sizeof *nt);
        for (size_t i = 0; i < p->cap; i++) {
            if (!p->tab[i].key)
                continue;
            size_t j = p->tab[i].h & (ncap - 1);
            while (nt[j].key)
                j = (j + 1) & (ncap - 1);
            nt[j] = p->tab[i];
        }
        free(p->tab);
        p->tab = nt;
        p->cap = ncap;
    }
    size_t j = h & (p->cap - 1);
    for (; p->tab[j].key; j = (j + 1) & (p->cap - 1)) {
        slot *s = &p->tab[j];
        if (s->h == h && s->klen == pl + 2 + bl && !memcmp(s->key, principal, pl) && s->key[pl + 1] == kind &&
            !memcmp(s->key + pl + 2, base, bl))
            return s;
    }
    slot *s = &p->tab[j];
    s->h = h;
    s->klen = pl + 2 + bl;
    s->key = xmalloc(s->klen + 1);
    memcpy(s->key, principal, pl);
    s->key[pl] = 0x1f;
    s->key[pl + 1] = kind;
    memcpy(s->key + pl + 2, base, bl + 1);
    p->used++;
    return s;
}

int policy_compile(policy *p, kerr *e)
{
    tab_clear(p);
    p->nrules = 0;
    for (size_t i = 0; i < p->nb; i++) {
        const binding *b = &p->b[i];
        const role *r = role_find(p, b->role);
        if (!r)
            continue;
        pat bp;
        pat_parse(b->pattern, &bp);
        slot *any = tab_slot(p, b->principal, 'a', "");
        for (size_t k = 0; k < r->n; k++) {
            const stmt *s = &r->st[k];
            for (size_t q = 0; q < s->nres; q++) {
                pat w;
                if (!pat_meet(&bp, &s->res[q], &w))
                    continue;
                rule *ru = VEC_PUSH(p->rules, p->nrules, p->caprules);
                ru->binding = i;
                ru->stmt = k;
                ru->effect = s->effect;
                ru->mask = s->mask;
                ru->where = w;
                slot *sl = tab_slot(p, b->principal, w.kind, w.base);
                if (s->effect == POLICY_DENY) {
                    sl->deny |= s->mask;
                } else {
                    sl->allow |= s->mask;
                    any = tab_slot(p, b->principal, 'a', ""); /* the table may have moved */
                    any->allow |= s->mask;
                }
            }
        }
    }
    return 0;
}

static const slot *probe(const policy *p, uint64_t h, const char *principal, size_t pl, char kind,
                         const char *base, size_t bl)
{
    for (size_t j = h & (p->cap - 1); p->tab[j].key; j = (j + 1) & (p->cap - 1)) {
        const slot *s = &p->tab[j];
        if (s->h == h && s->klen == pl + 2 + bl && s->key[pl + 1] == kind && !memcmp(s->key, principal, pl) &&
            !memcmp(s->key + pl + 2, base, bl))
            return s;
    }
    return NULL;
}

int policy_decide(const policy *p, const char *principal, int action, const char *ns)
{
    if (!p || !p->cap || action < 0 || action >= PA__COUNT || !principal || !ns)
        return POLICY_DEFAULT_DENY;
    uint32_t bit = 1u << action, allow = 0, deny = 0;
    size_t pl = 0;
    uint64_t h0 = FNV_OFF;
    for (const char *c = principal; *c; c++, pl++)
        h0 = STEP(h0, *c);
    h0 = STEP(h0, 0x1f);
    uint64_t hs = STEP(h0, 's'), he = STEP(h0, 'e');
    const slot *s = probe(p, hs, principal, pl, 's', "", 0);
    if (s) {
        allow |= s->allow;
        deny |= s->deny;
    }
    size_t i = 0;
    for (; ns[i]; i++) {
        hs = STEP(hs, ns[i]);
        he = STEP(he, ns[i]);
        if (ns[i + 1] == '.' || ns[i + 1] == '\0') {
            s = probe(p, hs, principal, pl, 's', ns, i + 1);
            if (s) {
                allow |= s->allow;
                deny |= s->deny;
            }
        }
    }
    if (i) {
        s = probe(p, he, principal, pl, 'e', ns, i);
        if (s) {
            allow |= s->allow;
            deny |= s->deny;
        }
    }
    if (deny & bit)
        return POLICY_DENY;
    return (allow & bit) ? POLICY_ALLOW : POLICY_DEFAULT_DENY;
}

int policy_allowed_somewhere(const policy *p, const char *principal, int action)
{
    if (!p || !p->cap || action < 0 || action >= PA__COUNT || !principal)
        return 0;
    size_t pl = strlen(principal);
    const slot *s = probe(p, key_hash(principal, 'a', "", 0), principal, pl, 'a', "", 0);
    return s && (s->allow & (1u << action));
}

int policy_allowed_everywhere(const policy *p, const char *principal, int action)
{
    if (!p || !p->cap || action < 0 || action >= PA__COUNT || !principal)
        return 0;
    uint32_t bit = 1u << action;
    /* allowed on "*" (the subtree slot of the root, which policy_decide
     * reads first for every namespace)... */
    size_t pl = strlen(principal);
    const slot *s = probe(p, key_hash(principal, 's', "", 0), principal, pl, 's', "", 0);
    if (!s || !(s->allow & bit))
        return 0;
    /* ...and denied nowhere */
    for (size_t i = 0; i < p->nrules; i++) {
        const rule *ru = &p->rules[i];
        if (ru->effect == POLICY_DENY && (ru->mask & bit) && !strcmp(p->b[ru->binding].principal, principal))
            return 0;
    }
    return 1;
}

int policy_explain(const policy *p, const char *principal, int action, const char *ns, buf *out)
{
    int d = policy_decide(p, principal, action, ns);
    const char *an = policy_action_name(action);
    int lines = 0;
    for (size_t i = 0; i < p->nb; i++) {
        const binding *b = &p->b[i];
        if (strcmp(b->principal, principal))
            continue;
        const role *r = role_find(p, b->role);
        if (!r) {
            buf_printf(out, "skipped: binding %s (%s %s on %s): role %s does not exist\n", b->id ? b->id : "-",
                       b->principal, b->role, b->pattern, b->role);
            continue;
        }
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const rule *ru = &p->rules[i];
        const binding *b = &p->b[ru->binding];
        if (strcmp(b->principal, principal) || !(ru->mask & (1u << action)) || !pat_match(&ru->where, ns))
            continue;
        const role *r = role_find(p, b->role);
        char w[PATTERN_MAX + 4];
        buf_printf(out, "%s: binding %s (%s %s on %s), statement %zu [%s] on %s\n",
                   ru->effect == POLICY_DENY ? "deny" : "allow", b->id ? b->id : "-", b->principal, b->role,
                   b->pattern, ru->stmt, r ? r->st[ru->stmt].actions : "?", pat_text(&ru->where, w, sizeof w));
        lines++;
    }
    if (!lines)
        buf_printf(out, "no binding of %s gives a statement on %s for %s\n", principal, ns, an ? an : "?");
    buf_printf(out, "decision: %s %s on %s: %s\n", principal, an ? an : "?", ns,
               d == POLICY_ALLOW ? "ALLOW" : d == POLICY_DENY ? "DENY (a deny statement applies)"
                                                              : "DENY (nothing allows it: the default)");
    return d;
}
