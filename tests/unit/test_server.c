/*
 * test_server.c: the server layer in-process: SHA-256 against the FIPS
 * 180-4 vectors (token hashes), and a real server on an ephemeral loopback
 * port over a temporary store: health without a token, 401 without one,
 * the admin token generated once and then kept, 404/405 answers, the tenant
 * segment, a flow created and read back, and a stop while an event stream
 * is open. The whole API is driven end to end by tests/e2e/server_api.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "server/server.h"
#include "server/server_int.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- a live server ------------------------------------------------------------ */

typedef struct fx {
    char dir[64];
    store *st;
    storage *fs;
    engine *en;
    server *srv;
    char base[64];
    char *token;
} fx;

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    buf_append(ud, p, sz * n);
    return sz * n;
}

/* One request; returns the status, the body in out. */
static long call(fx *f, const char *method, const char *path, const char *token, const char *ctype, const char *body,
                 buf *out)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    struct curl_slist *h = NULL;
    char auth[256];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (ctype) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        h = curl_slist_append(h, ct);
    }
    buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kite-test-server-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    kerr e = KERR_INIT;
    char *url = xasprintf("sqlite:%s/kite.db", f->dir);
    assert_int_equal(store_open(url, NULL, &f->st, &e), 0);
    free(url);
    char *root = xasprintf("%s/storage", f->dir);
    f->fs = storage_open_local(root, &e);
    free(root);
    assert_non_null(f->fs);
    engine_opts eo = {.store = f->st, .storage = f->fs, .workers = 2, .tmp_dir = f->dir};
    f->en = engine_new(&eo, &e);
    assert_non_null(f->en);
    assert_int_equal(engine_start(f->en, &e), 0);
    server_opts so = {.engine = f->en, .store = f->st, .storage = f->fs, .port = 0, .quiet = 1, .tmp_dir = f->dir};
    f->srv = server_new(&so, &e);
    assert_non_null(f->srv);
    assert_int_equal(server_auth_init(f->srv, NULL, &f->token, &e), 0);
    assert_non_null(f->token);
    assert_int_equal(server_start(f->srv, &e), 0);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", server_port(f->srv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    server_free(f->srv);
    engine_stop(f->en, 0);
    engine_free(f->en);
    storage_free(f->fs);
    store_free(f->st);
    free(f->token);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    if (system(cmd)) {
    }
    free(cmd);
    free(f);
    return 0;
}

static void health_and_auth(void **state)
{
    fx *f = *state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(call(f, "GET", "/health", NULL, NULL, NULL, &b), 200);
    assert_string_equal(buf_str(&b), "{\"status\":\"UP\"}");
    assert_int_equal(call(f, "GET", "/api/v1/flows/search", NULL, NULL, NULL, &b), 401);
    assert_non_null(strstr(buf_str(&b), "\"message\""));
    assert_int_equal(call(f, "GET", "/api/v1/flows/search", "nope-nope-nope-nope", NULL, NULL, &b), 401);
    assert_int_equal(call(f, "GET", "/api/v1/flows/search", f->token, NULL, NULL, &b), 200);
    assert_string_equal(buf_str(&b), "{\"results\":[],\"total\":0}");
    assert_int_equal(call(f, "GET", "/api/v1/main/flows/search", f->token, NULL, NULL, &b), 200);
    /* a second init keeps the token and generates nothing */
    char *again = NULL;
    kerr e = KERR_INIT;
    assert_int_equal(server_auth_init(f->srv, NULL, &again, &e), 0);
    assert_null(again);
    assert_int_equal(call(f, "GET", "/api/v1/flows/search", f->token, NULL, NULL, &b), 200);
    buf_free(&b);
}

static void routing_errors(void **state)
{
    fx *f = *state;
    buf b;
    buf_init(&b, 0);
    assert_int_equal(call(f, "GET", "/api/v1/nothing", f->token, NULL, NULL, &b), 404);
    assert_non_null(strstr(buf_str(&b), "no route GET /api/v1/nothing"));
    assert_int_equal(call(f, "PATCH", "/api/v1/flows/a/b", f->token, NULL, NULL, &b), 405);
    assert_non_null(strstr(buf_str(&b), "use GET, PUT, DELETE"));
    assert_int_equal(call(f, "GET", "/api/v1/flows/search?page=0", f->token, NULL, NULL, &b), 400);
    assert_non_null(strstr(buf_str(&b), "query 'page'"));
    buf_free(&b);
}

static void flow_round_trip(void **state)
{
    fx *f = *state;
    buf b;
    buf_init(&b, 0);
    const char *y = "id: t\nnamespace: unit.server\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n"
                    "    message: hi\n";
    assert_int_equal(call(f, "POST", "/api/v1/flows", f->token, "application/x-yaml", y, &b), 200);
    assert_non_null(strstr(buf_str(&b), "\"revision\":1"));
    assert_int_equal(call(f, "GET", "/api/v1/flows/unit.server/t?source=false", f->token, NULL, NULL, &b), 200);
    assert_null(strstr(buf_str(&b), "\"source\""));
    assert_int_equal(call(f, "POST", "/api/v1/flows", f->token, "application/x-yaml", "id: [", &b), 400);
    assert_non_null(strstr(buf_str(&b), "body:2:1: invalid YAML"));
    assert_int_equal(call(f, "POST", "/api/v1/executions/unit.server/t?wait=true", f->token, NULL, NULL, &b), 200);
    assert_non_null(strstr(buf_str(&b), "\"current\":\"SUCCESS\""));
    buf_free(&b);
}

typedef struct follower {
    fx *f;
    char path[128];
    long status;
    buf body;
} follower;

/* Every route that needs a token declares the action it needs
 * (server/access.c): a route added without one would be refused to all
 * but server:admin, and fails here first. */
static void every_route_declares_an_action(void **state)
{
    (void)state;
    size_t n = 0;
    const srv_route *rt = srv_routes(&n);
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (rt[i].flags & ROUTE_NOAUTH)
            continue;
        int target = 0;
        if (srv__route_action(&rt[i], &target) < 0) {
            fprintf(stderr, "route %s %s declares no action in src/server/access.c\n", rt[i].method, rt[i].pattern);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
    assert_true(n > 40);
}

/* Every route's query spec (srv_route.query) parses: known types, no name
 * twice, none that is also a path parameter. The OpenAPI document is made
 * from these, and srv_arg says on stderr when a handler reads a name its
 * route does not declare. */
static void every_route_query_spec_parses(void **state)
{
    (void)state;
    size_t n = 0;
    const srv_route *rt = srv_routes(&n);
    int bad = 0, declared = 0;
    for (size_t i = 0; i < n; i++) {
        srv_qparam q, seen[16];
        size_t k = 0;
        for (const char *s = rt[i].query; (s = srv_query_next(s, &q));) {
            char brace[40];
            snprintf(brace, sizeof brace, "{%s}", q.name);
            int twice = 0;
            for (size_t j = 0; j < k; j++)
                twice |= !strcmp(seen[j].name, q.name);
            if (!q.type[0] || !q.name[0] || twice || strstr(rt[i].pattern, brace) || k == 16) {
                fprintf(stderr, "route %s %s: query '%s' (type '%s'): malformed, twice or a path parameter\n",
                        rt[i].method, rt[i].pattern, q.name, q.type);
                bad++;
                break;
            }
            seen[k++] = q;
            declared++;
        }
    }
    assert_int_equal(bad, 0);
    assert_true(declared > 40);
    srv_qparam q;
    assert_null(srv_query_next("", &q));
    assert_non_null(srv_query_next("state*!:state", &q));
    assert_string_equal(q.name, "state");
    assert_string_equal(q.type, "state");
    assert_true(q.repeat && q.required);
    srv_query_next("n:integer", &q);
    assert_string_equal(q.type, ""); /* not a type */
    srv_query_next("n?", &q);
    assert_string_equal(q.type, "");
    srv_route one = {.query = "a b:int"};
    assert_true(srv_query_declares(&one, "b", &q) && !strcmp(q.type, "int"));
    assert_false(srv_query_declares(&one, "c", NULL));
}

static void *follow_main(void *arg)
{
    follower *w = arg;
    w->status = call(w->f, "GET", w->path, w->f->token, NULL, NULL, &w->body);
    return NULL;
}

static void stop_ends_streams(void **state)
{
    fx *f = *state;
    buf b;
    buf_init(&b, 0);
    const char *y = "id: p\nnamespace: unit.server\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.flow.Pause\n";
    assert_int_equal(call(f, "POST", "/api/v1/flows", f->token, "application/x-yaml", y, &b), 200);
    assert_int_equal(call(f, "POST", "/api/v1/executions/unit.server/p?wait=true", f->token, NULL, NULL, &b), 200);
    assert_non_null(strstr(buf_str(&b), "\"current\":\"PAUSED\""));
    /* a paused execution does not end by itself: only the stop ends its stream */
    follower w = {.f = f};
    buf_init(&w.body, 0);
    snprintf(w.path, sizeof w.path, "/api/v1/executions/%.22s/follow", strstr(buf_str(&b), "\"id\":\"") + 6);
    pthread_t th;
    pthread_create(&th, NULL, follow_main, &w);
    usleep(400000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    server_stop(f->srv);
    pthread_join(th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(w.status, 200);
    assert_non_null(strstr(buf_str(&w.body), "event: execution"));
    assert_non_null(strstr(buf_str(&w.body), "PAUSED"));
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    buf_free(&w.body);
    buf_free(&b);
}

int main(void)
{
    tasks_register_all();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(health_and_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(flow_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_ends_streams, setup, teardown),
        cmocka_unit_test(every_route_declares_an_action),
        cmocka_unit_test(every_route_query_spec_parses),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
