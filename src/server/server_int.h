/*
 * server_int.h: what the server's files share: the request being served,
 * the route table's shape, and the response helpers. Nobody outside
 * src/server/ includes it.
 */
#ifndef KITE_SERVER_INT_H
#define KITE_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>

#include "server/server.h"
#include "util/buf.h"
#include "util/netguard.h"

#define SRV_MAX_PARAMS 6
#define SRV_PAGE_MAX 1000       /* cap on `size` for every search */
#define SRV_QUERY_MAX 1024      /* bytes of a search's `q` */
#define SRV_HEAVY_MAX 4         /* searches and listings running at once */
#define SRV_TARGET_MAX 16384    /* bytes of a request's path and query: else 414 */
#define SRV_HEADERS_MAX 32768   /* bytes of its header fields: else 431 */
/* libmicrohttpd's per-connection buffer (MHD_OPTION_CONNECTION_MEMORY_LIMIT):
 * room for both caps above, so that kite, not MHD, answers them (in JSON);
 * only a head past this size gets MHD's own HTML 414/431. Pages are
 * touched only as a request fills them. */
#define SRV_CONN_MEMORY (128 * 1024)

typedef struct srv_conn srv_conn;
enum { SRV_CONN_HEADERS, SRV_CONN_BODY, SRV_CONN_HANDLER, SRV_CONN_CLOSING };

struct server {
    server_opts o;
    char *host;
    char *tmp_dir;
    struct MHD_Daemon *d;
    int port;
    int stopping;               /* set by server_stop (atomic): event streams end */
    pthread_mutex_t lock;
    /* counters for /metrics */
    int64_t requests, errors_4xx, errors_5xx, webhooks;
    int64_t evicted, deadline_closed, busy_refused;
    /* the connection guard (conns.c) */
    pthread_mutex_t conn_lock;
    pthread_cond_t guard_cond;
    srv_conn *conns;            /* every open connection */
    pthread_t guard;
    int guard_running, guard_stop;
    size_t inflight;            /* body bytes held by requests (atomic) */
    int heavy_running;          /* ROUTE_HEAVY handlers running (under lock) */
    pthread_cond_t heavy_cond;
    time_t last_trim;
    struct srv_logins *logins;  /* failed logins per address (session.c) */
    /* the edges (tls.c, proxy.c) */
    int tls;                    /* 1: serving HTTPS */
    char *tls_cert, *tls_key, *tls_prio; /* copies of the options, for the daemon's life */
    netguard_list proxies;      /* server.trustedProxies */
    /* access control (auth.c): the compiled policy of generation pol_gen */
    pthread_mutex_t pol_lock;
    struct policy *pol;
    int64_t pol_gen;
    struct retired *pol_retired;
};

/* 1 once server_stop began: long requests (streams, waits) end. */
#define SRV_STOPPING(s) __atomic_load_n(&(s)->stopping, __ATOMIC_ACQUIRE)

/* Who is calling (auth.c): the principal owning the token, and the policy
 * the request's decisions read (valid until the server is freed). */
typedef struct srv_principal {
    char name[257];             /* the principal's name */
    char role[32];              /* "admin" (may do everything everywhere) or "user", for display */
    char token_id[STORE_ID_MAX + 1];
    int scoped;                 /* the token carries a scope: scope_key's rights narrow the owner's */
    char scope_key[STORE_ID_MAX + 8];
    const struct policy *pol;
} srv_principal;

typedef struct srv_req srv_req;
typedef enum MHD_Result (*srv_handler)(srv_req *r);

enum {
    ROUTE_NOAUTH = 1,           /* no bearer token (webhooks, health) */
    ROUTE_FORM = 2,             /* multipart/form-data accepted (files streamed to disk) */
    ROUTE_TEXT_BODY = 4,        /* documented as a YAML/text body */
    ROUTE_HEAVY = 8,            /* reads many rows: at most SRV_HEAVY_MAX at once */
    ROUTE_JSON_BODY = 16,       /* documented as a JSON body (the bulk routes, labels) */
};

typedef struct srv_route {
    const char *method;         /* "GET", ... */
    const char *pattern;        /* "/api/v1/flows/{namespace}/{id}": {x} is one segment */
    srv_handler fn;
    unsigned flags;
    const char *summary;        /* for the OpenAPI document and docs/api.md */
    /* The query parameters the handler reads (srv_arg, srv_args_all), for the
     * OpenAPI document: "name[*][!][:type] ...", '*' may repeat, '!' required,
     * type string (the default), int, bool, date-time, duration, label
     * (key:value), or an enum
     * the server checks against its own table: state (store_state_name),
     * level (store_level_name), plugin-kind (srv__plugin_kinds). A handler
     * reading a name its route does not declare writes an internal error on
     * stderr, which the e2e suites fail on (no_sanitizer_reports). NULL: none. */
    const char *query;
} srv_route;

/* One parameter of a route's query spec. */
typedef struct srv_qparam {
    char name[32];
    char type[16];
    int repeat, required;
} srv_qparam;
/* Reads the next parameter of spec into *p: the rest of the spec, or NULL
 * at its end. A malformed token gives a parameter with type "" (the unit
 * test of the route table fails on it). */
const char *srv_query_next(const char *spec, srv_qparam *p /* OUT */);
/* 1 when rt's spec declares name (*p filled when p is not NULL), else 0. */
int srv_query_declares(const srv_route *rt, const char *name, srv_qparam *p /* OUT */);
/* The types a spec may name, NULL-terminated. */
extern const char *const srv_query_types[];
/* The plugin kinds GET /plugins?kind= takes (a fresh array of strings). */
json_t *srv__plugin_kinds(void);

struct srv_req {
    server *s;
    struct MHD_Connection *conn;
    const char *method;
    const srv_route *route;
    char *path;                 /* tenant segment removed */
    char *params[SRV_MAX_PARAMS];
    int nparams;
    srv_principal who;
    /* body */
    buf body;
    int too_large;              /* the body passed its cap: answered 413 */
    size_t dropped;             /* bytes read past the cap and dropped (cut_body) */
    struct MHD_PostProcessor *pp;
    json_t *form;               /* multipart fields: name -> string */
    json_t *raw_form;           /* the same as received, UTF-8 not checked yet */
    json_t *files;              /* multipart files: name -> temp path */
    FILE *cur_file;
    char *cur_file_key;
    size_t form_bytes, upload_bytes;
    char form_error[256];
    int answered;
    size_t held;                /* bytes of s->inflight this request holds */
    int busy;                   /* the server-wide body budget was exhausted: 503 */
    int heavy;                  /* holds one of the SRV_HEAVY_MAX slots */
    json_t *session;            /* the session of a cookie request (session.c), or NULL */
    char session_key[65];       /* its kv key (the SHA-256 of the cookie) */
    char client[INET6_ADDRSTRLEN]; /* srv_client_addr's answer, once computed */
    char host[256];             /* srv_request_host's answer */
    char obj_ns[STORE_ID_MAX + 1];  /* the namespace of the execution the route names (access.c) */
};

/* ---- responses (http.c) ------------------------------------------------- */

/* Answers are dumped only when they nest at most this deep (bodies are
 * refused past JSON_MAX_DEPTH, 128; the envelopes add a few levels; stored
 * task outputs may be deeper): deeper values would overflow the connection
 * thread's stack inside json_dumps. */
#define SRV_DUMP_MAX_DEPTH 256

/* The compact JSON text of j (any value), or NULL when it nests deeper than
 * SRV_DUMP_MAX_DEPTH. The caller frees it. */
char *srv_dump(const json_t *j);
/* Queues a JSON response (steals j); a value too deep to dump answers 500
 * with a message instead. */
enum MHD_Result srv_json(srv_req *r, unsigned status, json_t *j);
/* Queues {"message": "..."} with status. */
enum MHD_Result srv_error(srv_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Queues resp with status (destroys resp; sets r->answered). */
enum MHD_Result srv_queue(srv_req *r, unsigned status, struct MHD_Response *resp);
/* 200 with an attachment: len bytes of fd (taken: closed by MHD) when fd >=
 * 0, else data (taken, freed by MHD; NULL for an empty body). */
enum MHD_Result srv_download(srv_req *r, const char *ctype, const char *filename, char *data, size_t len, int fd);
/* 200 with the storage file uri as an attachment named name, into *rc: a
 * local file from its descriptor, a remote one (s3) streamed as the client
 * reads (storage_reader: no copy staged). -1 with e set, nothing queued,
 * when the file cannot be opened (the caller answers). executions.c. */
int srv_download_file(srv_req *r, const char *uri, const char *name, enum MHD_Result *rc /* OUT */, kerr *e);
/* The same with a response already built (a streamed one); NULL answers 500. */
enum MHD_Result srv_download_resp(srv_req *r, const char *ctype, const char *filename, struct MHD_Response *resp);
/* Queues a body as is. */
enum MHD_Result srv_text(srv_req *r, unsigned status, const char *ctype, const char *text, size_t len);
/* 204 No Content. */
enum MHD_Result srv_empty(srv_req *r, unsigned status);
/* A store error as a response: NOT_FOUND 404, CONFLICT 409, otherwise 500. */
/* Answers e with the status its class means (util/err.h), the one place
 * that maps classes to statuses: KERR_NOT_FOUND 404, KERR_CONFLICT and
 * KERR_DUPLICATE 409, KERR_INVALID 422, KERR_UNAVAILABLE 503, anything else
 * 500. The message is e's. */
enum MHD_Result srv_kerr_error(srv_req *r, const kerr *e);

/* A query argument (borrowed) or NULL. */
const char *srv_arg(srv_req *r, const char *name);
/* A header (borrowed) or NULL. */
const char *srv_header(srv_req *r, const char *name);
/* Paging from `page` (1-based) and `size` (default 10, capped at
 * SRV_PAGE_MAX). Returns -1 after answering 400 for a bad value. */
int srv_paging(srv_req *r, size_t *offset, size_t *limit, size_t *page);
/* The body as JSON (object or any value when any is 1); NULL after answering
 * 400 with the parse error's position. */
json_t *srv_body_json(srv_req *r, int any);
/* Every value of a repeated query argument (e.g. labels=k:v&labels=a:b). */
json_t *srv_args_all(srv_req *r, const char *name);
/* The `state` arguments (repeated) as a set of STORE_STATE_BIT; -1 after
 * answering 400 for a name that is not a state. */
int srv_args_states(srv_req *r, unsigned *states /* OUT */);

/* The route table, for the OpenAPI document. */
const srv_route *srv_routes(size_t *n);

/* ---- event streams (sse.c) ------------------------------------------------ */

/* A producer fills out with zero or more complete events ("data: ...\n\n")
 * each time it is called; returns 1 when the stream is over after what it
 * wrote. It is polled every poll_us until then. */
typedef int (*srv_sse_fn)(void *ud, buf *out);
enum MHD_Result srv_sse(srv_req *r, srv_sse_fn fn, void *ud, void (*ud_free)(void *), int64_t poll_us);

/* ---- the connection guard (conns.c) ---------------------------------------- */

/* MHD_OPTION_NOTIFY_CONNECTION: tracks a connection from accept to close,
 * evicting the oldest unfinished one past the caps. */
void srv_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
/* Where the request of r's connection is: SRV_CONN_BODY once its headers
 * are in, SRV_CONN_HANDLER when its handler runs, SRV_CONN_HEADERS again
 * when it completed (the next request's deadline starts then). */
void srv_conn_state(srv_req *r, int state);
/* The watchdog thread that closes connections past their deadlines. */
int srv_guard_start(server *s);
void srv_guard_stop(server *s);

/* ---- auth (auth.c) -------------------------------------------------------- */

/* 0 when the request carries a valid token (r->who is filled); otherwise it
 * answers 401 (no token, unknown, expired, revoked) and returns -1. */
int srv_auth_check(srv_req *r);
/* The principal of a bearer token: 0 with *who and hex (the token's
 * SHA-256) filled, -1 when no such token exists or it expired or was
 * revoked. */
int srv_token_lookup(server *s, const char *token, srv_principal *who /* OUT */, char hex[65] /* OUT */);
/* Answers 401 {"message", "reason"} (reason: missing, invalid_token,
 * invalid_session, expired_session, revoked_token), dropping a dead
 * session cookie. */
enum MHD_Result srv_unauthorized(srv_req *r, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- sessions (session.c) ---------------------------------------------------- */

#define SRV_SESSION_COOKIE "kite_session"
/* A cookie's value (borrowed) or NULL. */
const char *srv_cookie(srv_req *r, const char *name);
/* The session cookie's check, as srv_auth_check for a bearer token: 0
 * with r->who, r->session and r->session_key set; -1 after answering 401
 * (unknown, expired, revoked) or 403 (a non-GET/HEAD request without the
 * session's X-CSRF-Token). */
int srv_session_check(srv_req *r);
/* Frees the failed-login table (server_free). */
void srv_session_free(server *s);
enum MHD_Result srv_login(srv_req *r);
enum MHD_Result srv_logout(srv_req *r);
enum MHD_Result srv_me(srv_req *r);
/* The same for a token's text. */
int srv_auth_token(srv_req *r, const char *token);
/* Who a token's SHA-256 (hex) stands for: 0 with *who filled, or
 * SRV_WHO_UNKNOWN, _EXPIRED, _REVOKED (e says which token), _ERROR. */
enum { SRV_WHO_UNKNOWN = -1, SRV_WHO_EXPIRED = -2, SRV_WHO_REVOKED = -3, SRV_WHO_ERROR = -4 };
int srv_who_of_hash(server *s, const char *hex, srv_principal *who /* OUT */, kerr *e);
/* Who principal name is with its own bindings (a password session): 0, or
 * SRV_WHO_UNKNOWN when it was removed, SRV_WHO_ERROR. */
int srv_who_of_principal(server *s, const char *name, srv_principal *who /* OUT */, kerr *e);
/* 1 when the caller may do action (a policy_action) on namespace ns: its
 * owner's bindings allow it and, for a scoped token, its scope too. */
int srv_allowed(const srv_req *r, int action, const char *ns);
/* 1 when the caller may do action on at least one namespace. */
int srv_allowed_somewhere(const srv_req *r, int action);
/* A store_ns_filter keeping the namespaces where the caller may do action
 * (for searches: filtered in the query). f must outlive the query. NULL (no
 * filter) when the caller may do action on every namespace. */
typedef struct srv_ns_filter {
    const srv_req *r;
    int action;
    store_ns_filter sf;
} srv_ns_filter;
const store_ns_filter *srv_ns_filter_init(srv_ns_filter *f, const srv_req *r, int action);
/* The current policy (rebuilt when the store's access generation moved). */
const struct policy *srv_policy_current(server *s, kerr *e);
void srv_access_free(server *s);

/* ---- access per route (access.c) ---------------------------------------------- */

/* Checks the route's declared action against the caller, before the body
 * is read: 0 to go on; -1 after answering 404 (the caller may not read the
 * object: the same answer as a missing one) or 403 (readable, not allowed). */
int srv_access_route(srv_req *r);
/* For handlers that learn the namespace from the body: 0 when the caller
 * may do action on ns; otherwise answers 403 and returns -1. */
int srv_authorize(srv_req *r, int action, const char *ns);
/* The action a route declares, or -1 when it declares none (tests: every
 * route that needs a token declares one). */
int srv__route_action(const srv_route *rt, int *target /* OUT */);

/* ---- audit (access.c) ------------------------------------------------------- */

/* Appends one change made by the caller to the audit log (before and after
 * borrowed, may be NULL). Failing to write it is logged, not answered: the
 * change is already committed. */
void srv_audit(srv_req *r, const char *action, const char *kind, const char *ns, const char *id,
               json_t *before, json_t *after);

/* ---- behind a reverse proxy (proxy.c) -------------------------------------- */

/* The client's address as text (borrowed from r): the connection's peer,
 * or, when the peer is one of server.trustedProxies, the address its
 * X-Forwarded-For names (the rightmost entry that is not itself a trusted
 * proxy). What the access log, the per-address caps and the audit log use. */
const char *srv_client_addr(srv_req *r);
/* 1 when the client reached kite over HTTPS: the server serves TLS, or a
 * trusted proxy says X-Forwarded-Proto: https (a Secure cookie's test). */
int srv_request_secure(srv_req *r);
/* The host the client asked for (borrowed): X-Forwarded-Host from a trusted
 * proxy, else Host; NULL when neither is there or it is malformed. */
const char *srv_request_host(srv_req *r);
/* 1 when the connection's peer is a trusted proxy. */
int srv_peer_trusted(srv_req *r);
/* The rule of srv_client_addr on its parts, for tests/fuzz: the peer's
 * text, the X-Forwarded-For values joined by ',' (NULL: none), writes the
 * client's address into out (INET6_ADDRSTRLEN bytes). */
void srv__client_from(const netguard_list *proxies, const char *peer, const char *xff, char *out);

/* ---- plugins (plugins.c) ------------------------------------------------------- */

enum MHD_Result srv_plugins_list(srv_req *r);
enum MHD_Result srv_plugins_schema(srv_req *r);
enum MHD_Result srv_plugins_get(srv_req *r);

/* ---- handlers ------------------------------------------------------------- */

enum MHD_Result srv_flow_create(srv_req *r);
enum MHD_Result srv_flow_update(srv_req *r);
enum MHD_Result srv_flow_get(srv_req *r);
enum MHD_Result srv_flow_delete(srv_req *r);
enum MHD_Result srv_flow_search(srv_req *r);
enum MHD_Result srv_flow_revisions(srv_req *r);
enum MHD_Result srv_flow_validate(srv_req *r);
enum MHD_Result srv_flow_namespace_list(srv_req *r);
enum MHD_Result srv_flow_namespace_replace(srv_req *r);
enum MHD_Result srv_flow_graph(srv_req *r);

enum MHD_Result srv_exec_create(srv_req *r);
enum MHD_Result srv_exec_get(srv_req *r);
enum MHD_Result srv_exec_search(srv_req *r);
enum MHD_Result srv_exec_delete(srv_req *r);
enum MHD_Result srv_exec_kill(srv_req *r);
enum MHD_Result srv_exec_restart(srv_req *r);
enum MHD_Result srv_exec_replay(srv_req *r);
enum MHD_Result srv_exec_resume(srv_req *r);
enum MHD_Result srv_exec_follow(srv_req *r);
enum MHD_Result srv_exec_file(srv_req *r);
/* taskruns.c */
enum MHD_Result srv_exec_taskruns(srv_req *r);
enum MHD_Result srv_exec_taskrun_groups(srv_req *r);
enum MHD_Result srv_exec_stats(srv_req *r);
enum MHD_Result srv_exec_labels(srv_req *r);
enum MHD_Result srv_exec_labels_ids(srv_req *r);
enum MHD_Result srv_exec_kill_ids(srv_req *r);
enum MHD_Result srv_exec_restart_ids(srv_req *r);
enum MHD_Result srv_exec_delete_ids(srv_req *r);
enum MHD_Result srv_flow_dependencies(srv_req *r);

enum MHD_Result srv_logs_get(srv_req *r);
enum MHD_Result srv_metrics_execution(srv_req *r);
enum MHD_Result srv_logs_follow(srv_req *r);
enum MHD_Result srv_logs_download(srv_req *r);

enum MHD_Result srv_webhook(srv_req *r);
/* The one 404 of webhooks (unknown flow, wrong key, disabled: all alike). */
enum MHD_Result srv_webhook_not_found(srv_req *r);

enum MHD_Result srv_kv_list(srv_req *r);
enum MHD_Result srv_kv_get(srv_req *r);
enum MHD_Result srv_kv_put(srv_req *r);
enum MHD_Result srv_kv_delete(srv_req *r);
enum MHD_Result srv_secret_list(srv_req *r);
enum MHD_Result srv_secret_put(srv_req *r);
enum MHD_Result srv_secret_delete(srv_req *r);

enum MHD_Result srv_triggers_search(srv_req *r);
enum MHD_Result srv_triggers_update(srv_req *r);

enum MHD_Result srv_users_list(srv_req *r);
enum MHD_Result srv_users_create(srv_req *r);
enum MHD_Result srv_users_update(srv_req *r);
enum MHD_Result srv_users_delete(srv_req *r);
enum MHD_Result srv_tokens_list(srv_req *r);
enum MHD_Result srv_tokens_create(srv_req *r);
enum MHD_Result srv_tokens_revoke(srv_req *r);
enum MHD_Result srv_roles_list(srv_req *r);
enum MHD_Result srv_roles_put(srv_req *r);
enum MHD_Result srv_roles_delete(srv_req *r);
enum MHD_Result srv_bindings_list(srv_req *r);
enum MHD_Result srv_bindings_create(srv_req *r);
enum MHD_Result srv_bindings_delete(srv_req *r);
enum MHD_Result srv_audit_search(srv_req *r);
enum MHD_Result srv_auth_me(srv_req *r);

enum MHD_Result srv_metrics(srv_req *r);
enum MHD_Result srv_health(srv_req *r);
enum MHD_Result srv_openapi(srv_req *r);
enum MHD_Result srv_ui_root(srv_req *r);
enum MHD_Result srv_ui(srv_req *r);

/* Kestra's Flow JSON for a stored revision (new reference). */
json_t *srv_flow_json(const store_flow *f, int with_source);
/* Submits an execution and answers it (used by executions.c and webhooks.c):
 * waits for its end when wait is 1. */
enum MHD_Result srv_exec_submit(srv_req *r, engine_submit_opts *o, int wait);
/* Answers execution id (its outputs only when outputs_only) with status,
 * once it has ended when wait is 1. */
enum MHD_Result srv_exec_answer(srv_req *r, const char *id, int wait, unsigned status, int outputs_only);

/* ---- the server's own parsing, exposed for tests/fuzz/fuzz_server_*.c ---- */

/* The route for method and url (its query ignored, a trailing slash and the
 * tenant segment removed as for requests): the table entry, or NULL. Sets
 * *path (normalized; the caller frees it), params (up to SRV_MAX_PARAMS,
 * *np of them, the caller frees each) and, when no route has that method,
 * the methods that path allows in allow (may be NULL). */
const srv_route *srv__route_find(const char *method, const char *url, char **path /* OUT */,
                                 char **params /* OUT */, int *np /* OUT */, buf *allow);
/* Percent-decodes s in place as libmicrohttpd does, except that %00 becomes
 * DEL (0x7f); returns the new length (never more than the old one). */
size_t srv__unescape(char *s);
/* Reads a decimal in [min, max] into *out; -1 for anything else. */
int srv__parse_size(const char *s, long min, long max, long *out /* OUT */);
/* The multipart field callback (MHD_PostDataIterator) on request r (cls):
 * fields are joined by piece into r->raw_form, files streamed under
 * r->s->tmp_dir into r->files; caps set r->form_error. */
enum MHD_Result srv__post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *ctype, const char *enc, const char *data, uint64_t off, size_t size);
/* Closes the upload in progress and checks the fields as UTF-8 into
 * r->form: NULL, or the name of the first field that is not valid UTF-8. */
const char *srv__form_finish(srv_req *r);
/* The FlowGraph of a flow document (graph.c; a new reference). */
json_t *srv__flow_graph(const json_t *doc);
/* Frees r and what it holds; removes its uploaded files. */
void srv__req_release(srv_req *r);

#endif
