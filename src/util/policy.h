/*
 * policy.h: access decisions: roles of allow/deny statements, bound to
 * principals on namespace patterns, compiled for fast answers.
 *
 * A role is a list of statements {"effect": "allow"|"deny", "actions":
 * [...], "resources": [...]}; actions are names of POLICY_ACTIONS below or
 * wildcards ("*", "flow:*", "*:read"); resources are namespace patterns.
 * A binding gives a principal a role on a namespace pattern; a statement
 * then applies on the namespaces both its resource and the binding's
 * pattern match. Patterns: "*" (every namespace), "a.b" (a.b only), "a.b.*"
 * (a.b and every namespace below it). A decision collects every statement
 * that applies to (principal, action, namespace): one deny decides DENY,
 * else one allow decides ALLOW, else the default is DENY.
 *
 * Built-in roles (policy_new adds them; a stored role of the same name
 * replaces one): admin, editor, launcher, viewer (docs/security.md lists
 * what each allows; policy_builtin_roles gives their statements).
 *
 * Usage: policy_new, policy_add_role and policy_bind as often as needed,
 * policy_compile once, then policy_decide from any number of threads (a
 * compiled policy is read-only). A decision costs one hash probe per level
 * of the namespace, whatever the number of bindings.
 *
 * Ownership: every function copies what it keeps; json_t arguments are
 * borrowed.
 */
#ifndef KITE_UTIL_POLICY_H
#define KITE_UTIL_POLICY_H

#include <jansson.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

/* The actions, in a fixed order (their bit in a mask is 1 << index). */
#define POLICY_ACTIONS(X) \
    X(FLOW_READ, "flow:read") X(FLOW_WRITE, "flow:write") X(FLOW_DELETE, "flow:delete") \
    X(EXECUTION_READ, "execution:read") X(EXECUTION_CREATE, "execution:create") \
    X(EXECUTION_KILL, "execution:kill") X(EXECUTION_REPLAY, "execution:replay") \
    X(EXECUTION_DELETE, "execution:delete") X(LOG_READ, "log:read") \
    X(NSFILE_READ, "nsfile:read") X(NSFILE_WRITE, "nsfile:write") \
    X(KV_READ, "kv:read") X(KV_WRITE, "kv:write") \
    X(SECRET_USE, "secret:use") X(SECRET_READ, "secret:read") X(SECRET_WRITE, "secret:write") \
    X(TRIGGER_READ, "trigger:read") X(TRIGGER_WRITE, "trigger:write") \
    X(TOPIC_PUBLISH, "topic:publish") X(TOPIC_SUBSCRIBE, "topic:subscribe") \
    X(TOPIC_REPLAY, "topic:replay") X(TOPIC_ADMIN, "topic:admin") \
    X(USER_ADMIN, "user:admin") X(AUDIT_READ, "audit:read") X(SERVER_ADMIN, "server:admin")

#define POLICY__ENUM(id, name) PA_##id,
typedef enum policy_action { POLICY_ACTIONS(POLICY__ENUM) PA__COUNT } policy_action;
#undef POLICY__ENUM

/* The action's name ("flow:read"), or NULL out of range. */
const char *policy_action_name(int a);
/* The action named name, or -1. */
int policy_action_find(const char *name);
/* The mask of a name or wildcard ("*", "flow:*", "*:read"); 0 when it
 * matches no action. */
uint32_t policy_action_mask(const char *name);

/* 0 when pattern is a valid namespace pattern; otherwise fails with a
 * message saying why. */
int policy_check_pattern(const char *pattern, kerr *e);
/* 1 when namespace ns matches pattern. */
int policy_match(const char *pattern, const char *ns);

typedef struct policy policy;

policy *policy_new(void);
void policy_free(policy *p);

/* Adds (or replaces) role name; statements must be an array of valid
 * statements, else it fails naming the statement and the field. */
int policy_add_role(policy *p, const char *name, const json_t *statements, kerr *e);
/* 1 when role name exists (built-in or added). */
int policy_has_role(const policy *p, const char *name);
/* Binds principal to role on pattern; id names the binding in
 * explanations (may be NULL). The role must exist by policy_compile. */
int policy_bind(policy *p, const char *principal, const char *role, const char *pattern, const char *id,
                kerr *e);
/* Builds the index the decisions use. Bindings to a role that does not
 * exist are kept out (policy_explain says so). */
int policy_compile(policy *p, kerr *e);

enum { POLICY_DEFAULT_DENY = 0, POLICY_ALLOW = 1, POLICY_DENY = 2 };

/* The decision for principal doing action on namespace ns (compiled
 * policy): POLICY_ALLOW, POLICY_DENY (a statement denies) or
 * POLICY_DEFAULT_DENY (nothing allows). */
int policy_decide(const policy *p, const char *principal, int action, const char *ns);
/* 1 when principal is allowed action on at least one namespace (used to
 * answer 403 rather than 404, and for routes without a namespace that need
 * an action somewhere). */
int policy_allowed_somewhere(const policy *p, const char *principal, int action);
/* 1 when principal is allowed action on every namespace: allowed on "*" and
 * denied nowhere (a search then needs no per-row namespace check). */
int policy_allowed_everywhere(const policy *p, const char *principal, int action);
/* The same decision, with every binding and statement that applied written
 * to out, one a line ("allow: binding b1 (alice editor on company.*),
 * statement 0 [flow:*] on *"). */
int policy_explain(const policy *p, const char *principal, int action, const char *ns, buf *out);

/* The statements of the built-in role name (a new reference), or NULL. */
json_t *policy_builtin_role(const char *name);
/* The names of the built-in roles, NULL-terminated. */
extern const char *const policy_builtin_names[];

#endif
