/*
 * fuzz_policy.c: the access policy (util/policy.c) on any input.
 *
 * The input is lines: the first two are the statements (JSON) of roles r1
 * and r2, then "b PRINCIPAL ROLE PATTERN" lines bind and "q PRINCIPAL
 * ACTION NAMESPACE" lines ask. Beyond "does not crash", every decision of
 * the compiled index must equal a slow evaluation written from the rules
 * of policy.h alone (a statement applies where its resource and its
 * binding's pattern both match; deny over allow; default deny), and the
 * explanation must reach the same decision.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXB 64

typedef struct bind {
    char *who, *role, *pat;
} bind;

static json_t *role_json(const char *name, json_t *r1, json_t *r2, int ok1, int ok2)
{
    if (!strcmp(name, "r1"))
        return ok1 ? json_incref(r1) : NULL;
    if (!strcmp(name, "r2"))
        return ok2 ? json_incref(r2) : NULL;
    return policy_builtin_role(name);
}

static int slow(const bind *b, int nb, json_t *r1, json_t *r2, int ok1, int ok2, const char *who, int action,
                const char *ns)
{
    int allow = 0, deny = 0;
    for (int i = 0; i < nb; i++) {
        if (strcmp(b[i].who, who) || !policy_match(b[i].pat, ns))
            continue;
        json_t *st = role_json(b[i].role, r1, r2, ok1, ok2);
        size_t k;
        json_t *s;
        json_array_foreach(st, k, s) {
            uint32_t m = 0;
            size_t a;
            json_t *an;
            json_array_foreach(json_object_get(s, "actions"), a, an)
                m |= policy_action_mask(json_string_value(an));
            if (!(m & (1u << action)))
                continue;
            json_t *res = json_object_get(s, "resources");
            int hit = !res;
            json_array_foreach(res, a, an)
                hit |= policy_match(json_string_value(an), ns);
            if (!hit)
                continue;
            if (!strcasecmp(json_string_value(json_object_get(s, "effect")), "deny"))
                deny = 1;
            else
                allow = 1;
        }
        json_decref(st);
    }
    return deny ? POLICY_DENY : allow ? POLICY_ALLOW : POLICY_DEFAULT_DENY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    json_t *r1 = line ? json_loads(line, JSON_DECODE_ANY, NULL) : NULL;
    line = line ? strtok_r(NULL, "\n", &save) : NULL;
    json_t *r2 = line ? json_loads(line, JSON_DECODE_ANY, NULL) : NULL;
    policy *p = policy_new();
    int ok1 = r1 && policy_add_role(p, "r1", r1, NULL) == 0;
    int ok2 = r2 && policy_add_role(p, "r2", r2, NULL) == 0;
    bind b[MAXB];
    int nb = 0;
    char *qs[MAXB][3];
    int nq = 0;
    while (line && (line = strtok_r(NULL, "\n", &save))) {
        char *f[4] = {0};
        char *s2 = NULL;
        int n = 0;
        for (char *w = strtok_r(line, " ", &s2); w && n < 4; w = strtok_r(NULL, " ", &s2))
            f[n++] = w;
        if (n == 4 && !strcmp(f[0], "b") && nb < MAXB) {
            if (policy_bind(p, f[1], f[2], f[3], NULL, NULL) == 0) {
                b[nb].who = f[1];
                b[nb].role = f[2];
                b[nb].pat = f[3];
                nb++;
            }
        } else if (n == 4 && !strcmp(f[0], "q") && nq < MAXB) {
            qs[nq][0] = f[1];
            qs[nq][1] = f[2];
            qs[nq][2] = f[3];
            nq++;
        }
    }
    policy_compile(p, NULL);
    for (int i = 0; i < nq; i++) {
        int a = policy_action_find(qs[i][1]);
        if (a < 0)
            a = (int)(strlen(qs[i][1]) % PA__COUNT);
        int d = policy_decide(p, qs[i][0], a, qs[i][2]);
        if (d != slow(b, nb, r1, r2, ok1, ok2, qs[i][0], a, qs[i][2]))
            abort();
        buf out;
        buf_init(&out, 0);
        if (policy_explain(p, qs[i][0], a, qs[i][2], &out) != d)
            abort();
        buf_free(&out);
        if (d == POLICY_ALLOW && !policy_allowed_somewhere(p, qs[i][0], a))
            abort();
    }
    policy_free(p);
    json_decref(r1);
    json_decref(r2);
    free(text);
    return 0;
}
