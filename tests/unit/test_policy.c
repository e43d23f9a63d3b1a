/*
 * test_policy.c: util/policy.c, the access decisions: patterns, action
 * wildcards, deny over allow, the default deny, the built-in roles, role
 * validation with the field named, and the index agreeing with the
 * explanation's linear walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/policy.h"

static json_t *J(const char *s)
{
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    if (!j)
        fail_msg("bad JSON in test: %s", err.text);
    return j;
}

static void test_patterns(void **state)
{
    assert_true(policy_match("*", "a"));
    assert_true(policy_match("company.team", "company.team"));
    assert_false(policy_match("company.team", "company.team.sub"));
    assert_false(policy_match("company.team", "company"));
    assert_true(policy_match("company.team.*", "company.team"));
    assert_true(policy_match("company.team.*", "company.team.sub.x"));
    assert_false(policy_match("company.team.*", "company.teamx"));
    assert_false(policy_match("company.team.*", "company"));
    kerr e = KERR_INIT;
    assert_int_not_equal(policy_check_pattern("a..b", &e), 0);
    assert_non_null(strstr(e.msg, "empty segment"));
    assert_int_not_equal(policy_check_pattern("a.*.b", &e), 0);
    assert_int_not_equal(policy_check_pattern("", &e), 0);
    assert_int_not_equal(policy_check_pattern("a b", &e), 0);
    assert_int_equal(policy_check_pattern("a-b.c_d.*", &e), 0);
}

static void test_action_wildcards(void **state)
{
    assert_int_equal(policy_action_mask("flow:read"), 1u << PA_FLOW_READ);
    uint32_t f = policy_action_mask("flow:*");
    assert_true(f & (1u << PA_FLOW_WRITE));
    assert_true(f & (1u << PA_FLOW_DELETE));
    assert_false(f & (1u << PA_EXECUTION_READ));
    uint32_t r = policy_action_mask("*:read");
    assert_true(r & (1u << PA_LOG_READ));
    assert_false(r & (1u << PA_FLOW_WRITE));
    assert_int_equal(policy_action_mask("flw:read"), 0);
    assert_int_equal(policy_action_mask("flow"), 0);
    assert_int_equal(policy_action_find("execution:create"), PA_EXECUTION_CREATE);
}

static void test_default_deny_and_builtins(void **state)
{
    policy *p = policy_new();
    assert_int_equal(policy_bind(p, "v", "viewer", "company.team.*", "b1", NULL), 0);
    assert_int_equal(policy_bind(p, "ed", "editor", "company.team", "b2", NULL), 0);
    assert_int_equal(policy_bind(p, "root", "admin", "*", "b3", NULL), 0);
    assert_int_equal(policy_bind(p, "l", "launcher", "company.*", "b4", NULL), 0);
    assert_int_equal(policy_compile(p, NULL), 0);
    /* the viewer reads but does not start */
    assert_int_equal(policy_decide(p, "v", PA_FLOW_READ, "company.team.sub"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "v", PA_EXECUTION_CREATE, "company.team"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "v", PA_FLOW_READ, "company.other"), POLICY_DEFAULT_DENY);
    assert_true(policy_allowed_somewhere(p, "v", PA_FLOW_READ));
    assert_false(policy_allowed_somewhere(p, "v", PA_FLOW_WRITE));
    /* everywhere: only the admin on "*" (searches skip the check per row) */
    assert_false(policy_allowed_everywhere(p, "v", PA_FLOW_READ));
    assert_false(policy_allowed_everywhere(p, "l", PA_EXECUTION_CREATE));
    assert_true(policy_allowed_everywhere(p, "root", PA_EXECUTION_READ));
    assert_false(policy_allowed_everywhere(p, "stranger", PA_EXECUTION_READ));
    /* an exact binding does not reach below */
    assert_int_equal(policy_decide(p, "ed", PA_FLOW_WRITE, "company.team"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "ed", PA_FLOW_WRITE, "company.team.sub"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "ed", PA_USER_ADMIN, "company.team"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "root", PA_USER_ADMIN, "x"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "root", PA_SERVER_ADMIN, "x.y.z"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "l", PA_EXECUTION_CREATE, "company.a"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "l", PA_FLOW_WRITE, "company.a"), POLICY_DEFAULT_DENY);
    /* nobody else */
    assert_int_equal(policy_decide(p, "stranger", PA_FLOW_READ, "company.team"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "v", -1, "company.team"), POLICY_DEFAULT_DENY);
    policy_free(p);
}

static void test_deny_beats_allow_on_parent(void **state)
{
    policy *p = policy_new();
    json_t *st = J("[{\"effect\":\"deny\",\"actions\":[\"*\"],\"resources\":[\"*\"]}]");
    assert_int_equal(policy_add_role(p, "nothing", st, NULL), 0);
    json_decref(st);
    assert_int_equal(policy_bind(p, "alice", "editor", "company.*", "b1", NULL), 0);
    assert_int_equal(policy_bind(p, "alice", "nothing", "company.secret.*", "b2", NULL), 0);
    assert_int_equal(policy_bind(p, "bob", "admin", "*", "b3", NULL), 0);
    assert_int_equal(policy_bind(p, "bob", "nothing", "company.secret.*", "b4", NULL), 0);
    assert_int_equal(policy_compile(p, NULL), 0);
    /* allowed on "*" but denied below: not everywhere */
    assert_false(policy_allowed_everywhere(p, "bob", PA_FLOW_READ));
    assert_int_equal(policy_decide(p, "bob", PA_FLOW_READ, "company.public"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "alice", PA_FLOW_READ, "company.public"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "alice", PA_FLOW_READ, "company.secret"), POLICY_DENY);
    assert_int_equal(policy_decide(p, "alice", PA_FLOW_READ, "company.secret.deep"), POLICY_DENY);
    assert_int_equal(policy_decide(p, "alice", PA_FLOW_READ, "company"), POLICY_ALLOW);
    assert_false(policy_allowed_everywhere(p, "alice", PA_FLOW_READ));
    buf b;
    buf_init(&b, 0);
    assert_int_equal(policy_explain(p, "alice", PA_FLOW_READ, "company.secret.deep", &b), POLICY_DENY);
    assert_non_null(strstr(buf_str(&b), "deny: binding b2 (alice nothing on company.secret.*), statement 0"));
    assert_non_null(strstr(buf_str(&b), "allow: binding b1 (alice editor on company.*)"));
    buf_free(&b);
    policy_free(p);
}

static void test_statement_resources_intersect(void **state)
{
    policy *p = policy_new();
    json_t *st = J("[{\"effect\":\"allow\",\"actions\":[\"flow:read\"],\"resources\":[\"a.b.*\"]},"
                   "{\"effect\":\"allow\",\"actions\":[\"kv:*\"],\"resources\":[\"x.*\"]}]");
    assert_int_equal(policy_add_role(p, "r", st, NULL), 0);
    json_decref(st);
    assert_int_equal(policy_bind(p, "u", "r", "a.*", NULL, NULL), 0);
    assert_int_equal(policy_compile(p, NULL), 0);
    assert_int_equal(policy_decide(p, "u", PA_FLOW_READ, "a.b.c"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "u", PA_FLOW_READ, "a.c"), POLICY_DEFAULT_DENY);
    /* x.* does not meet a.*: nothing */
    assert_int_equal(policy_decide(p, "u", PA_KV_READ, "x.y"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "u", PA_KV_READ, "a.x"), POLICY_DEFAULT_DENY);
    policy_free(p);
}

static void test_role_errors_name_the_field(void **state)
{
    policy *p = policy_new();
    kerr e = KERR_INIT;
    json_t *st = J("[{\"effect\":\"allow\",\"actions\":[\"flow:read\"]},{\"effect\":\"allow\",\"actions\":[\"flw:x\"]}]");
    assert_int_not_equal(policy_add_role(p, "bad", st, &e), 0);
    assert_string_equal(e.msg, "statements[1].actions[0]: unknown action 'flw:x' (e.g. flow:read, execution:*, *)");
    json_decref(st);
    st = J("[{\"effect\":\"maybe\",\"actions\":[\"*\"]}]");
    assert_int_not_equal(policy_add_role(p, "bad", st, &e), 0);
    assert_string_equal(e.msg, "statements[0].effect must be \"allow\" or \"deny\"");
    json_decref(st);
    st = J("[{\"effect\":\"deny\",\"actions\":[\"*\"],\"resources\":[\"a.*.b\"]}]");
    assert_int_not_equal(policy_add_role(p, "bad", st, &e), 0);
    assert_non_null(strstr(e.msg, "statements[0].resources[0]: "));
    json_decref(st);
    st = J("[{\"effect\":\"deny\",\"actions\":[\"*\"],\"resourcez\":[\"*\"]}]");
    assert_int_not_equal(policy_add_role(p, "bad", st, &e), 0);
    assert_non_null(strstr(e.msg, "unknown field 'resourcez'"));
    json_decref(st);
    assert_false(policy_has_role(p, "bad"));
    /* a binding to an unknown role gives nothing and says so */
    assert_int_equal(policy_bind(p, "u", "ghost", "*", "b9", NULL), 0);
    assert_int_equal(policy_compile(p, NULL), 0);
    assert_int_equal(policy_decide(p, "u", PA_FLOW_READ, "a"), POLICY_DEFAULT_DENY);
    buf b;
    buf_init(&b, 0);
    policy_explain(p, "u", PA_FLOW_READ, "a", &b);
    assert_non_null(strstr(buf_str(&b), "role ghost does not exist"));
    buf_free(&b);
    policy_free(p);
}

/* The topic actions exist in the policy before any route uses them (the
 * data hub, docs/security.md): roles name them, editors have them, viewers
 * and launchers do not, a deny on a topic action holds. */
static void test_topic_actions(void **state)
{
    assert_int_equal(policy_action_find("topic:publish"), PA_TOPIC_PUBLISH);
    assert_int_equal(policy_action_find("topic:subscribe"), PA_TOPIC_SUBSCRIBE);
    assert_int_equal(policy_action_find("topic:replay"), PA_TOPIC_REPLAY);
    assert_int_equal(policy_action_find("topic:admin"), PA_TOPIC_ADMIN);
    uint32_t t = policy_action_mask("topic:*");
    assert_int_equal(t, (1u << PA_TOPIC_PUBLISH) | (1u << PA_TOPIC_SUBSCRIBE) | (1u << PA_TOPIC_REPLAY) |
                            (1u << PA_TOPIC_ADMIN));
    policy *p = policy_new();
    kerr e = KERR_INIT;
    json_t *st = J("[{\"effect\":\"allow\",\"actions\":[\"topic:subscribe\",\"topic:replay\"]},"
                   "{\"effect\":\"deny\",\"actions\":[\"topic:publish\"],\"resources\":[\"company.team.raw\"]}]");
    assert_int_equal(policy_add_role(p, "reader", st, &e), 0);
    json_decref(st);
    assert_int_equal(policy_bind(p, "ed", "editor", "company.team.*", "b1", NULL), 0);
    assert_int_equal(policy_bind(p, "ed", "reader", "company.team.*", "b2", NULL), 0);
    assert_int_equal(policy_bind(p, "v", "viewer", "company.*", "b3", NULL), 0);
    assert_int_equal(policy_bind(p, "l", "launcher", "company.*", "b4", NULL), 0);
    assert_int_equal(policy_compile(p, NULL), 0);
    assert_int_equal(policy_decide(p, "ed", PA_TOPIC_PUBLISH, "company.team"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "ed", PA_TOPIC_ADMIN, "company.team.sub"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "ed", PA_TOPIC_PUBLISH, "company.team.raw"), POLICY_DENY);
    assert_int_equal(policy_decide(p, "ed", PA_TOPIC_SUBSCRIBE, "company.team.raw"), POLICY_ALLOW);
    assert_int_equal(policy_decide(p, "ed", PA_TOPIC_PUBLISH, "company.other"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "v", PA_TOPIC_SUBSCRIBE, "company.team"), POLICY_DEFAULT_DENY);
    assert_int_equal(policy_decide(p, "l", PA_TOPIC_PUBLISH, "company.team"), POLICY_DEFAULT_DENY);
    st = J("[{\"effect\":\"allow\",\"actions\":[\"topic:delete\"]}]");
    assert_int_not_equal(policy_add_role(p, "bad", st, &e), 0);
    assert_non_null(strstr(e.msg, "unknown action 'topic:delete'"));
    json_decref(st);
    policy_free(p);
}

/* The index agrees with a linear evaluation over many random bindings. */
static int slow_decide(const char *const *pr, const char *const *ro, const char *const *pa, int n,
                       const char *who, int action, const char *ns)
{
    int allow = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(pr[i], who) || !policy_match(pa[i], ns))
            continue;
        if (!strcmp(ro[i], "deny-all"))
            return POLICY_DENY;
        json_t *st = policy_builtin_role(ro[i]);
        const char *a;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(json_array_get(st, 0), "actions"), k, v) {
            a = json_string_value(v);
            if (policy_action_mask(a) & (1u << action))
                allow = 1;
        }
        json_decref(st);
    }
    return allow ? POLICY_ALLOW : POLICY_DEFAULT_DENY;
}

static void test_index_matches_linear(void **state)
{
    static const char *const names[] = {"a", "b", "c"};
    static const char *const roles[] = {"viewer", "editor", "launcher", "deny-all", "admin"};
    static const char *const pats[] = {"*", "x", "x.*", "x.y", "x.y.*", "x.y.z", "w.*", "x.yz.*"};
    static const char *const nss[] = {"x", "x.y", "x.y.z", "x.yz", "w", "w.q", "x.y.z.t", "q"};
    const char *pr[300], *ro[300], *pa[300];
    policy *p = policy_new();
    json_t *st = J("[{\"effect\":\"deny\",\"actions\":[\"*\"]}]");
    policy_add_role(p, "deny-all", st, NULL);
    json_decref(st);
    srand(7);
    int n = 300;
    for (int i = 0; i < n; i++) {
        pr[i] = names[rand() % 3];
        ro[i] = roles[rand() % (i % 10 ? 3 : 5)];
        pa[i] = pats[rand() % 8];
        policy_bind(p, pr[i], ro[i], pa[i], NULL, NULL);
    }
    policy_compile(p, NULL);
    for (int w = 0; w < 3; w++)
        for (int a = 0; a < PA__COUNT; a++)
            for (int k = 0; k < 8; k++)
                assert_int_equal(policy_decide(p, names[w], a, nss[k]), slow_decide(pr, ro, pa, n, names[w], a, nss[k]));
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_action_wildcards),
        cmocka_unit_test(test_default_deny_and_builtins),
        cmocka_unit_test(test_deny_beats_allow_on_parent),
        cmocka_unit_test(test_statement_resources_intersect),
        cmocka_unit_test(test_role_errors_name_the_field),
        cmocka_unit_test(test_index_matches_linear),
        cmocka_unit_test(test_topic_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
