/*
 * test_mongo_fake.c: tests/lib/mongod_fake.py, the MongoDB stand-in of the
 * e2e suite, driven by the real client library (libmongoc 1.23): handshake,
 * ping, buildInfo, insert, find with filter/projection/sort/skip/limit and
 * getMore over several batches, killCursors, update one/many/replace/upsert,
 * delete one/many, aggregate ($match $group $sum $sort $project $limit
 * $skip), count_documents, bulk writes, duplicate keys, the query operators
 * and dotted paths, and SCRAM-SHA-256 logins (right and wrong password).
 * What passes here is what the fake does as libmongoc expects; the kite
 * tasks are tested against the same fake in tests/e2e/mongodb.sh.
 */
#include <mongoc/mongoc.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static pid_t fake_pid[2];
static int fake_port[2];
static char dir[256];

static int start_fake(int i, const char *user, const char *pass)
{
    char pf[300];
    snprintf(pf, sizeof pf, "%s/port%d", dir, i);
    pid_t p = fork();
    if (p == 0) {
        if (user)
            execlp("python3", "python3", "tests/lib/mongod_fake.py", "--port-file", pf, "--user", user,
                   "--password", pass, (char *)NULL);
        else
            execlp("python3", "python3", "tests/lib/mongod_fake.py", "--port-file", pf, (char *)NULL);
        _exit(127);
    }
    fake_pid[i] = p;
    for (int t = 0; t < 1200; t++) { /* 30 s: Python starts slowly on a loaded machine */
        FILE *f = fopen(pf, "r");
        if (f) {
            int ok = fscanf(f, "%d", &fake_port[i]) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        usleep(25000);
    }
    return -1;
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mongofake.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    mongoc_init();
    if (start_fake(0, NULL, NULL) || start_fake(1, "alice", "s3cr3t pass"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        if (fake_pid[i] > 0) {
            kill(fake_pid[i], SIGTERM);
            waitpid(fake_pid[i], NULL, 0);
        }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return -1;
    mongoc_cleanup();
    return 0;
}

static mongoc_client_t *client_for(int i, const char *userinfo)
{
    char uri[256];
    snprintf(uri, sizeof uri, "mongodb://%s127.0.0.1:%d/?serverSelectionTimeoutMS=3000%s", userinfo ? userinfo : "",
             fake_port[i], userinfo ? "&authSource=admin" : "");
    mongoc_client_t *c = mongoc_client_new(uri);
    assert_non_null(c);
    return c;
}

static bson_t *J(const char *json)
{
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
    if (!b)
        fail_msg("bad JSON in test: %s: %s", json, err.message);
    return b;
}

/* The documents of a cursor as one relaxed extended JSON array text. */
static char *drain(mongoc_cursor_t *cur)
{
    const bson_t *doc;
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    out[len++] = '[';
    int first = 1;
    while (mongoc_cursor_next(cur, &doc)) {
        char *s = bson_as_relaxed_extended_json(doc, NULL);
        size_t n = strlen(s);
        while (len + n + 4 > cap)
            out = realloc(out, cap *= 2);
        if (!first)
            out[len++] = ',';
        first = 0;
        memcpy(out + len, s, n);
        len += n;
        bson_free(s);
    }
    bson_error_t err;
    if (mongoc_cursor_error(cur, &err))
        fail_msg("cursor: %s", err.message);
    out[len++] = ']';
    out[len] = 0;
    return out;
}

static char *find_json(mongoc_collection_t *c, const char *filter, const char *opts)
{
    bson_t *f = J(filter), *o = opts ? J(opts) : NULL;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, f, o, NULL);
    char *s = drain(cur);
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    if (o)
        bson_destroy(o);
    return s;
}

static int64_t reply_int(const bson_t *reply, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply, key))
        return -1;
    return bson_iter_as_int64(&it);
}

static void test_ping_and_build_info(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(0, NULL);
    bson_error_t err;
    bson_t reply;
    bson_t *cmd = J("{\"ping\": 1}");
    assert_true(mongoc_client_command_simple(c, "admin", cmd, NULL, &reply, &err));
    bson_destroy(&reply);
    bson_destroy(cmd);
    cmd = J("{\"buildInfo\": 1}");
    assert_true(mongoc_client_command_simple(c, "admin", cmd, NULL, &reply, &err));
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &reply, "version"));
    bson_destroy(&reply);
    bson_destroy(cmd);
    mongoc_client_destroy(c);
}

static void seed(mongoc_collection_t *coll)
{
    const char *docs[] = {
        "{\"_id\": 1, \"name\": \"ada\", \"age\": 36, \"city\": \"London\", \"tags\": [\"math\", \"code\"], \"addr\": {\"zip\": \"N1\"}}",
        "{\"_id\": 2, \"name\": \"bob\", \"age\": 25, \"city\": \"Paris\", \"tags\": [\"art\"], \"addr\": {\"zip\": \"75001\"}}",
        "{\"_id\": 3, \"name\": \"cyd\", \"age\": 41, \"city\": \"Paris\", \"score\": null}",
        "{\"_id\": 4, \"name\": \"dee\", \"age\": 19, \"city\": \"Rome\"}",
    };
    bson_error_t err;
    for (size_t i = 0; i < 4; i++) {
        bson_t *d = J(docs[i]);
        assert_true(mongoc_collection_insert_one(coll, d, NULL, NULL, &err));
        bson_destroy(d);
    }
}

static void test_find_operators(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(0, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "people");
    seed(coll);
    struct {
        const char *filter, *opts, *want;
    } cases[] = {
        {"{\"city\": \"Paris\"}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 2 },{ \"_id\" : 3 }]"},
        {"{\"age\": {\"$gt\": 30}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 3 }]"},
        {"{\"age\": {\"$gte\": 25, \"$lt\": 41}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 2 }]"},
        {"{\"age\": {\"$lte\": 19}}", "{\"projection\": {\"name\": 1, \"_id\": 0}}", "[{ \"name\" : \"dee\" }]"},
        {"{\"city\": {\"$ne\": \"Paris\"}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 4 }]"},
        {"{\"city\": {\"$in\": [\"Rome\", \"London\"]}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 4 }]"},
        {"{\"city\": {\"$nin\": [\"Rome\", \"London\"]}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 2 },{ \"_id\" : 3 }]"},
        {"{\"tags\": \"code\"}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 }]"},
        {"{\"addr.zip\": \"75001\"}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 2 }]"},
        {"{\"tags\": {\"$exists\": false}}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 3 },{ \"_id\" : 4 }]"},
        {"{\"$or\": [{\"age\": 19}, {\"name\": \"ada\"}]}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 4 }]"},
        {"{\"$and\": [{\"city\": \"Paris\"}, {\"age\": {\"$gt\": 30}}]}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 3 }]"},
        {"{\"score\": null}", "{\"projection\": {\"_id\": 1}}", "[{ \"_id\" : 1 },{ \"_id\" : 2 },{ \"_id\" : 3 },{ \"_id\" : 4 }]"},
        {"{}", "{\"sort\": {\"age\": -1}, \"skip\": 1, \"limit\": 2, \"projection\": {\"age\": 1}}",
         "[{ \"_id\" : 1, \"age\" : 36 },{ \"_id\" : 2, \"age\" : 25 }]"},
        {"{}", "{\"projection\": {\"tags\": 0, \"addr\": 0, \"score\": 0, \"city\": 0, \"age\": 0}, \"limit\": 1}",
         "[{ \"_id\" : 1, \"name\" : \"ada\" }]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = find_json(coll, cases[i].filter, cases[i].opts);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("find %s %s: got %s, want %s", cases[i].filter, cases[i].opts, got, cases[i].want);
        free(got);
    }
    /* an unknown operator is the server's error, through the cursor */
    bson_t *f = J("{\"age\": {\"$near\": 1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, NULL, NULL);
    const bson_t *doc;
    assert_false(mongoc_cursor_next(cur, &doc));
    bson_error_t err;
    assert_true(mongoc_cursor_error(cur, &err));
    assert_non_null(strstr(err.message, "unknown operator"));
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_get_more_and_kill_cursors(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(0, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "many");
    bson_error_t err;
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(coll, NULL);
    for (int i = 0; i < 1000; i++) {
        bson_t d = BSON_INITIALIZER;
        BSON_APPEND_INT32(&d, "n", i);
        mongoc_bulk_operation_insert(bulk, &d);
        bson_destroy(&d);
    }
    bson_t reply;
    assert_true(mongoc_bulk_operation_execute(bulk, &reply, &err));
    assert_int_equal(reply_int(&reply, "nInserted"), 1000);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);

    /* batches of 101 then getMore until the end: every document once, in order */
    bson_t *f = J("{}"), *o = J("{\"batchSize\": 101}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, o, NULL);
    const bson_t *doc;
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, doc, "n"));
        assert_int_equal(bson_iter_int32(&it), n);
        n++;
    }
    assert_false(mongoc_cursor_error(cur, &err));
    assert_int_equal(n, 1000);
    mongoc_cursor_destroy(cur);
    /* a cursor left open is killed by destroy (killCursors) without error */
    cur = mongoc_collection_find_with_opts(coll, f, o, NULL);
    assert_true(mongoc_cursor_next(cur, &doc));
    assert_int_not_equal(mongoc_cursor_get_id(cur), 0);
    mongoc_cursor_destroy(cur);
    bson_destroy(f);
    bson_destroy(o);

    f = J("{\"n\": {\"$gte\": 990}}");
    assert_int_equal(mongoc_collection_count_documents(coll, f, NULL, NULL, NULL, &err), 10);
    bson_destroy(f);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_update_delete(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(0, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "upd");
    seed(coll);
    bson_error_t err;
    bson_t reply;
    bson_t *q = J("{\"city\": \"Paris\"}"), *u = J("{\"$set\": {\"country\": \"FR\"}, \"$inc\": {\"age\": 1}}");
    assert_true(mongoc_collection_update_many(coll, q, u, NULL, &reply, &err));
    assert_int_equal(reply_int(&reply, "matchedCount"), 2);
    assert_int_equal(reply_int(&reply, "modifiedCount"), 2);
    bson_destroy(&reply);
    char *got = find_json(coll, "{\"country\": \"FR\"}", "{\"projection\": {\"age\": 1}}");
    assert_string_equal(got, "[{ \"_id\" : 2, \"age\" : 26 },{ \"_id\" : 3, \"age\" : 42 }]");
    free(got);
    bson_destroy(q);
    bson_destroy(u);

    q = J("{\"city\": \"Paris\"}");
    u = J("{\"$unset\": {\"country\": \"\"}}");
    assert_true(mongoc_collection_update_one(coll, q, u, NULL, &reply, &err));
    assert_int_equal(reply_int(&reply, "matchedCount"), 1);
    bson_destroy(&reply);
    bson_destroy(q);
    bson_destroy(u);

    q = J("{\"_id\": 4}");
    u = J("{\"name\": \"dee2\", \"age\": 20}");
    assert_true(mongoc_collection_replace_one(coll, q, u, NULL, &reply, &err));
    assert_int_equal(reply_int(&reply, "modifiedCount"), 1);
    bson_destroy(&reply);
    got = find_json(coll, "{\"_id\": 4}", NULL);
    assert_string_equal(got, "[{ \"_id\" : 4, \"name\" : \"dee2\", \"age\" : 20 }]");
    free(got);
    bson_destroy(q);
    bson_destroy(u);

    q = J("{\"name\": \"zed\"}");
    u = J("{\"$set\": {\"age\": 50}}");
    bson_t *o = J("{\"upsert\": true}");
    assert_true(mongoc_collection_update_one(coll, q, u, o, &reply, &err));
    assert_int_equal(reply_int(&reply, "upsertedCount"), 1);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &reply, "upsertedId"));
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_OID);
    bson_destroy(&reply);
    bson_destroy(q);
    bson_destroy(u);
    bson_destroy(o);

    q = J("{\"city\": \"Paris\"}");
    assert_true(mongoc_collection_delete_one(coll, q, NULL, &reply, &err));
    assert_int_equal(reply_int(&reply, "deletedCount"), 1);
    bson_destroy(&reply);
    bson_destroy(q);
    q = J("{\"age\": {\"$gte\": 0}}");
    assert_true(mongoc_collection_delete_many(coll, q, NULL, &reply, &err));
    assert_int_equal(reply_int(&reply, "deletedCount"), 4);
    bson_destroy(&reply);
    bson_destroy(q);

    /* a duplicate _id is a write error with code 11000 */
    bson_t *d = J("{\"_id\": 7}");
    assert_true(mongoc_collection_insert_one(coll, d, NULL, NULL, &err));
    assert_false(mongoc_collection_insert_one(coll, d, NULL, NULL, &err));
    assert_int_equal(err.code, 11000);
    bson_destroy(d);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_aggregate(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(0, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "agg");
    seed(coll);
    bson_t *p = J("{\"pipeline\": [{\"$match\": {\"age\": {\"$gt\": 18}}},"
                  "{\"$group\": {\"_id\": \"$city\", \"n\": {\"$sum\": 1}, \"total\": {\"$sum\": \"$age\"}}},"
                  "{\"$sort\": {\"n\": -1, \"_id\": 1}}, {\"$skip\": 0}, {\"$limit\": 2},"
                  "{\"$project\": {\"_id\": 0, \"city\": \"$_id\", \"n\": 1, \"total\": 1}}]}");
    mongoc_cursor_t *cur = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL);
    char *got = drain(cur);
    assert_string_equal(got, "[{ \"city\" : \"Paris\", \"n\" : 2, \"total\" : 66 },{ \"city\" : \"London\", \"n\" : 1, \"total\" : 36 }]");
    free(got);
    mongoc_cursor_destroy(cur);
    bson_destroy(p);
    p = J("{\"pipeline\": [{\"$bogus\": {}}]}");
    cur = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    assert_false(mongoc_cursor_next(cur, &doc));
    assert_true(mongoc_cursor_error(cur, &err));
    assert_non_null(strstr(err.message, "$bogus"));
    mongoc_cursor_destroy(cur);
    bson_destroy(p);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_scram_sha_256(void **state)
{
    (void)state;
    bson_error_t err;
    bson_t *cmd = J("{\"find\": \"x\", \"filter\": {}}");
    bson_t reply;
    /* the right password (with a space, percent-encoded) */
    mongoc_client_t *c = client_for(1, "alice:s3cr3t%20pass@");
    bson_t *ping = J("{\"ping\": 1}");
    assert_true(mongoc_client_command_simple(c, "admin", ping, NULL, &reply, &err));
    bson_destroy(&reply);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "secured");
    bson_t *d = J("{\"a\": 1}");
    if (!mongoc_collection_insert_one(coll, d, NULL, NULL, &err))
        fail_msg("insert with a good login: %s", err.message);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    /* a wrong password */
    c = client_for(1, "alice:wrong@");
    assert_false(mongoc_client_command_simple(c, "t", cmd, NULL, &reply, &err));
    bson_destroy(&reply);
    assert_non_null(strstr(err.message, "Authentication failed"));
    mongoc_client_destroy(c);
    /* no login at all: the command is refused */
    c = client_for(1, NULL);
    assert_false(mongoc_client_command_simple(c, "t", cmd, NULL, &reply, &err));
    bson_destroy(&reply);
    assert_non_null(strstr(err.message, "requires authentication"));
    mongoc_client_destroy(c);
    bson_destroy(d);
    bson_destroy(ping);
    bson_destroy(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_build_info),
        cmocka_unit_test(test_find_operators),
        cmocka_unit_test(test_get_more_and_kill_cursors),
        cmocka_unit_test(test_update_delete),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_scram_sha_256),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
