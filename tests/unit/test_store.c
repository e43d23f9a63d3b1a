/*
 * test_store.c: the store against a real SQLite file in a temp folder.
 *
 * Every operation of store.h, paging, optimistic concurrency, the queue's
 * leases (from four threads at once: run under SANITIZER=thread too), lease
 * expiry, migrations and the refusal of a newer schema, transactions seen
 * from another thread, and bad inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fx {
    char dir[64];
    char path[128];
    store *s;
} fx;

static void rm_db(const char *path)
{
    char p[256];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/kite-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/kite.db", f->dir);
    kerr e = KERR_INIT;
    if (store_open(f->path, NULL, &f->s, &e) != 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_free(f->s);
    rm_db(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* An execution with the required fields, its strings owned. */
static void make_exec(store_execution *x, const char *id, const char *ns, const char *flow)
{
    memset(x, 0, sizeof *x);
    x->id = strdup(id);
    x->namespace = strdup(ns);
    x->flow_id = strdup(flow);
    x->flow_revision = 1;
    store_execution_set_state(x, STATE_CREATED, 1000);
}

static void make_tr(store_task_run *t, const char *id, const char *exec, const char *task)
{
    memset(t, 0, sizeof *t);
    t->id = strdup(id);
    t->execution_id = strdup(exec);
    t->task_id = strdup(task);
    store_task_run_set_state(t, STATE_CREATED, 2000);
}

static void insert_exec(store *s, const char *id, const char *ns, const char *flow)
{
    kerr e = KERR_INIT;
    store_execution x;
    make_exec(&x, id, ns, flow);
    assert_int_equal(store_execution_insert(s, &x, &e), 0);
    store_execution_clear(&x);
}

/* ---- names, ids --------------------------------------------------------- */

static void test_state_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < STATE__COUNT; i++) {
        store_state st;
        assert_int_equal(store_state_parse(store_state_name((store_state)i), &st), 0);
        assert_int_equal(st, i);
    }
    store_state st;
    assert_int_equal(store_state_parse("success", &st), -1);
    assert_int_equal(store_state_parse(NULL, &st), -1);
    assert_string_equal(store_state_name(STATE_CANCELLED), "CANCELLED");
    assert_string_equal(store_state_name((store_state)99), "UNKNOWN");
    assert_true(store_state_is_terminated(STATE_WARNING));
    assert_true(store_state_is_terminated(STATE_RETRIED));
    assert_false(store_state_is_terminated(STATE_PAUSED));
    assert_false(store_state_is_terminated(STATE_RETRYING));
    store_level l;
    assert_int_equal(store_level_parse("warning", &l), 0);
    assert_int_equal(l, LEVEL_WARN);
    assert_int_equal(store_level_parse("ERROR", &l), 0);
    assert_int_equal(l, LEVEL_ERROR);
    assert_int_equal(store_level_parse("LOUD", &l), -1);
}

static void test_new_id_is_base62_and_unique(void **state)
{
    (void)state;
    enum { N = 2000 };
    char (*ids)[STORE_ID_LEN + 1] = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) {
        store_new_id(ids[i]);
        assert_int_equal(strlen(ids[i]), STORE_ID_LEN);
        for (int k = 0; k < STORE_ID_LEN; k++) {
            char ch = ids[i][k];
            assert_true((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= 'A' && ch <= 'Z'));
        }
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(ids[i], ids[j]);
    /* made in a later millisecond, an id sorts later (rows append in order) */
    char a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
    store_new_id(a);
    usleep(2000);
    store_new_id(b);
    assert_true(strcmp(a, b) < 0);
    free(ids);
}

/* ---- opening and migrations --------------------------------------------- */

static void test_open_migrates_an_empty_file(void **state)
{
    fx *f = *state;
    assert_string_equal(store_backend(f->s), "sqlite");
    assert_int_equal(store_schema_version(f->s), store_schema_latest());
    assert_true(store_schema_latest() >= 1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'",
                                        -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(atoi((const char *)sqlite3_column_text(st, 0)), store_schema_latest());
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* reopening an up-to-date file changes nothing and keeps the data */
    kerr e = KERR_INIT;
    insert_exec(f->s, "e1", "ns", "flow");
    store_free(f->s);
    assert_int_equal(store_open(f->path, NULL, &f->s, &e), 0);
    store_execution x;
    assert_int_equal(store_execution_get(f->s, "e1", &x, &e), 0);
    store_execution_clear(&x);
}

/* Every row of sqlite_master and meta of the file at path, one string. */
static char *schema_dump(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type || '|' || name || '|' || tbl_name || '|' || "
                                        "coalesce(sql, '') FROM sqlite_master UNION ALL "
                                        "SELECT 'meta|' || key || '|' || value FROM meta ORDER BY 1",
                                        -1, &st, NULL), SQLITE_OK);
    size_t len = 0;
    char *out = calloc(1, 1);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        out = realloc(out, len + strlen(row) + 2);
        memcpy(out + len, row, strlen(row));
        len += strlen(row);
        out[len++] = '\n';
        out[len] = 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* A new store is written from the seed (scripts/store_seed.c): it must hold
 * what the migrations make of an empty file, and leave no file beside it. */
static void test_a_new_store_is_what_the_migrations_make(void **state)
{
    fx *f = *state;
    char other[160];
    snprintf(other, sizeof other, "%s/migrated.db", f->dir);
    FILE *fp = fopen(other, "w"); /* an empty file: migrated, not seeded */
    assert_non_null(fp);
    fclose(fp);
    kerr e = KERR_INIT;
    store *m;
    assert_int_equal(store_open(other, NULL, &m, &e), 0);
    store_free(m);
    char *seeded = schema_dump(f->path), *migrated = schema_dump(other);
    assert_true(strlen(seeded) > 1000);
    assert_string_equal(seeded, migrated);
    free(seeded);
    free(migrated);
    rm_db(other);
    /* nothing but kite.db and SQLite's own files in the folder */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A %s | grep -qv '^kite\\.db\\(-wal\\|-shm\\)\\?$'", f->dir);
    assert_int_not_equal(system(cmd), 0);
}

/* The webhook index: fresh for the revision it was written from, stale
 * (fresh 0) once a newer revision exists, NOT_FOUND for a deleted flow. */
static void test_webhook_keys_follow_the_latest_revision(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int rev = 0, fresh = -1;
    store_webhook_key *keys = NULL;
    size_t n = 9;
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), STORE_NOT_FOUND);
    assert_int_equal(store_flow_put(f->s, "ns", "hook", "id: hook\n", NULL, &rev, NULL, &e), 0);
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), 0);
    assert_int_equal(fresh, 0); /* never indexed */
    store_webhook_key k[2] = {{"a", "00ff", NULL}, {"b", NULL, "{{ secret('K') }}"}};
    assert_int_equal(store_webhook_keys_put(f->s, "ns", "hook", rev, k, 2, &e), 0);
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), 0);
    assert_int_equal(fresh, rev);
    assert_int_equal(n, 2);
    int ia = strcmp(keys[0].trigger_id, "a") ? 1 : 0;
    assert_string_equal(keys[ia].key_sha256, "00ff");
    assert_null(keys[ia].key_template);
    assert_string_equal(keys[1 - ia].key_template, "{{ secret('K') }}");
    store_webhook_keys_free(keys, n);
    /* a flow without webhooks is indexed as such */
    assert_int_equal(store_webhook_keys_put(f->s, "ns", "hook", rev, NULL, 0, &e), 0);
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), 0);
    assert_int_equal(fresh, rev);
    assert_int_equal(n, 0);
    /* a newer revision makes it stale */
    assert_int_equal(store_flow_put(f->s, "ns", "hook", "id: hook\n# v2\n", NULL, &rev, NULL, &e), 0);
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), 0);
    assert_int_equal(fresh, 0);
    assert_int_equal(n, 0);
    /* exactly one of hash and template */
    store_webhook_key bad = {"c", "00", "{{ x }}"};
    assert_int_not_equal(store_webhook_keys_put(f->s, "ns", "hook", rev, &bad, 1, &e), 0);
    assert_int_equal(store_flow_delete(f->s, "ns", "hook", &e), 0);
    assert_int_equal(store_webhook_keys_get(f->s, "ns", "hook", &fresh, &keys, &n, &e), STORE_NOT_FOUND);
}

/* The dashboards' aggregates (store_execution_stats): buckets per state,
 * nearest-rank percentiles, failing flows, task runs per task; a caller's
 * namespace filter applies in the query, as do namespace and flow. */
static int only_c(void *ud, const char *ns)
{
    (void)ud;
    return !strcmp(ns, "c");
}

static json_t *stats_row(json_t *arr, size_t i) { return json_array_get(arr, i); }

static void test_execution_stats_aggregates_in_the_store(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const int64_t base = 1700000000LL * 1000000, s1 = 1000000;
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "ab%02d", i);
        store_execution x;
        make_exec(&x, id, "a.b", "f");
        x.created_us = x.start_us = base + i * s1;
        x.end_us = x.start_us + (i + 1) * s1; /* durations 1..20 s */
        store_execution_set_state(&x, i % 5 == 0 ? STATE_FAILED : STATE_SUCCESS, x.end_us);
        assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
        store_execution_clear(&x);
    }
    store_execution x;
    make_exec(&x, "c1", "c", "g");
    x.created_us = x.start_us = base + 5 * s1;
    store_execution_set_state(&x, STATE_RUNNING, x.start_us);
    assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
    store_execution_clear(&x);
    make_exec(&x, "late", "a.b", "f");
    x.created_us = base + 3600 * s1;
    assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
    store_execution_clear(&x);
    for (int i = 0; i < 2; i++) {
        store_task_run t;
        char id[16], ex[16];
        snprintf(ex, sizeof ex, "ab%02d", i);
        snprintf(id, sizeof id, "t%d-log", i);
        make_tr(&t, id, ex, "log");
        store_task_run_set_state(&t, STATE_SUCCESS, 3000);
        assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
        store_task_run_clear(&t);
        snprintf(id, sizeof id, "t%d-boom", i);
        make_tr(&t, id, ex, "boom");
        store_task_run_set_state(&t, STATE_FAILED, 3000);
        assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
        store_task_run_clear(&t);
    }

    store_stats_query q = {.from_us = base, .to_us = base + 60 * s1, .interval_us = 10 * s1};
    json_t *out = NULL;
    assert_int_equal(store_execution_stats(f->s, &q, &out, &e), 0);
    json_t *b = json_object_get(out, "buckets");
    /* [0, 10 s): FAILED 2 (i = 0, 5), RUNNING 1 (c1), SUCCESS 8; [10 s, 20 s): 2 and 8 */
    assert_int_equal(json_array_size(b), 5);
    const char *want_state[] = {"FAILED", "RUNNING", "SUCCESS", "FAILED", "SUCCESS"};
    const int want_count[] = {2, 1, 8, 2, 8};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(json_integer_value(json_object_get(stats_row(b, i), "start")), base + (i < 3 ? 0 : 10 * s1));
        assert_string_equal(json_string_value(json_object_get(stats_row(b, i), "state")), want_state[i]);
        assert_int_equal(json_integer_value(json_object_get(stats_row(b, i), "count")), want_count[i]);
    }
    json_t *d = json_object_get(out, "durations");
    assert_int_equal(json_array_size(d), 1); /* c1 has not ended */
    assert_string_equal(json_string_value(json_object_get(stats_row(d, 0), "flowId")), "f");
    assert_int_equal(json_integer_value(json_object_get(stats_row(d, 0), "count")), 20);
    /* nearest rank over 1..20 s: p50 the 10th, p95 the 19th */
    assert_int_equal(json_integer_value(json_object_get(stats_row(d, 0), "p50")), 10 * s1);
    assert_int_equal(json_integer_value(json_object_get(stats_row(d, 0), "p95")), 19 * s1);
    assert_int_equal(json_integer_value(json_object_get(stats_row(d, 0), "max")), 20 * s1);
    json_t *fl = json_object_get(out, "failing");
    assert_int_equal(json_array_size(fl), 1);
    assert_int_equal(json_integer_value(json_object_get(stats_row(fl, 0), "failed")), 4);
    assert_int_equal(json_integer_value(json_object_get(stats_row(fl, 0), "total")), 20);
    json_t *tr = json_object_get(out, "taskRuns");
    assert_int_equal(json_array_size(tr), 2);
    assert_string_equal(json_string_value(json_object_get(stats_row(tr, 0), "taskId")), "boom");
    assert_string_equal(json_string_value(json_object_get(stats_row(tr, 0), "state")), "FAILED");
    assert_int_equal(json_integer_value(json_object_get(stats_row(tr, 0), "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(stats_row(tr, 1), "revision")), 1);
    json_decref(out);

    /* a caller that may read only namespace c */
    store_ns_filter flt = {.allow = only_c};
    q.ns_filter = &flt;
    assert_int_equal(store_execution_stats(f->s, &q, &out, &e), 0);
    b = json_object_get(out, "buckets");
    assert_int_equal(json_array_size(b), 1);
    assert_string_equal(json_string_value(json_object_get(stats_row(b, 0), "state")), "RUNNING");
    assert_int_equal(json_array_size(json_object_get(out, "durations")), 0);
    assert_int_equal(json_array_size(json_object_get(out, "failing")), 0);
    assert_int_equal(json_array_size(json_object_get(out, "taskRuns")), 0);
    json_decref(out);

    /* namespace prefix "a" takes a.b, flowId g takes c.g only */
    q.ns_filter = NULL;
    q.ns_prefix = "a";
    assert_int_equal(store_execution_stats(f->s, &q, &out, &e), 0);
    assert_int_equal(json_array_size(json_object_get(out, "buckets")), 4);
    json_decref(out);
    q.ns_prefix = NULL;
    q.flow_id = "g";
    assert_int_equal(store_execution_stats(f->s, &q, &out, &e), 0);
    assert_int_equal(json_array_size(json_object_get(out, "buckets")), 1);
    assert_int_equal(json_array_size(json_object_get(out, "durations")), 0);
    json_decref(out);
}

/* A database left at version 1 by an older kite is brought up to date, its
 * rows kept. */
static void test_open_applies_missing_migrations_in_order(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_true(store_schema_latest() >= 2);
    insert_exec(f->s, "old", "ns", "flow");
    store_free(f->s);
    f->s = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP INDEX executions_unfinished; DROP TABLE webhook_keys; DROP TABLE secrets;"
                                  " DROP TABLE principals; DROP TABLE tokens; DROP TABLE roles; DROP TABLE bindings;"
                                  " DROP TABLE audit; DROP TABLE auth_generation;"
                                  " DROP INDEX executions_stats; CREATE INDEX executions_created ON executions (created);"
                                  " UPDATE meta SET value = '1' WHERE key = 'schema_version'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(f->path, NULL, &f->s, &e), 0);
    assert_int_equal(store_schema_version(f->s), store_schema_latest());
    store_execution x;
    assert_int_equal(store_execution_get(f->s, "old", &x, &e), 0);
    store_execution_clear(&x);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE"
                                        " name IN ('executions_unfinished', 'executions_stats')"
                                        " AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'executions_created')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_open_refuses_a_newer_schema(void **state)
{
    fx *f = *state;
    store_free(f->s);
    f->s = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
             store_schema_latest() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    kerr e = KERR_INIT;
    assert_int_equal(store_open(f->path, NULL, &f->s, &e), STORE_ERROR);
    assert_null(f->s);
    assert_non_null(strstr(e.msg, "newer kite"));
    assert_non_null(strstr(e.msg, f->path));
}

static void test_open_refuses_foreign_files_and_urls(void **state)
{
    fx *f = *state;
    char other[160];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE users (id)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    kerr e = KERR_INIT;
    store *s = NULL;
    assert_int_equal(store_open(other, NULL, &s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "not a kite store"));
    rm_db(other);

    FILE *fp = fopen(other, "w");
    fputs("id: not a database at all, a flow file put in the wrong place\n", fp);
    fclose(fp);
    assert_int_equal(store_open(other, NULL, &s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "file is not a database"));
    rm_db(other);

    assert_int_equal(store_open("postgres://localhost/kite", NULL, &s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "postgres"));
    assert_int_equal(store_open(":memory:", NULL, &s, &e), STORE_ERROR);
    assert_int_equal(store_open("", NULL, &s, &e), STORE_ERROR);
    assert_int_equal(store_open("/nonexistent-kite-dir/kite.db", NULL, &s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "cannot open /nonexistent-kite-dir/kite.db"));
    assert_int_equal(store_open(f->dir, NULL, &s, &e), STORE_ERROR);   /* a folder */
    assert_int_equal(store_open("ftp://x", NULL, &s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "unknown database URL scheme"));

    /* "sqlite:" prefix and sync=FULL work */
    char url[200];
    snprintf(url, sizeof url, "sqlite:%s/full.db", f->dir);
    store_opts o = STORE_OPTS_INIT;
    o.sync_full = 1;
    assert_int_equal(store_open(url, &o, &s, &e), 0);
    insert_exec(s, "x", "ns", "f");
    store_free(s);
    rm_db(url + 7);
}

/* ---- flows -------------------------------------------------------------- */

static void test_flow_revisions_only_when_source_changes(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int rev = 0, created = 0;
    json_t *j = json_pack("{s:s}", "id", "hello");
    assert_int_equal(store_flow_put(f->s, "company.team", "hello", "id: hello\n", j, &rev,
                                    &created, &e), 0);
    assert_int_equal(rev, 1);
    assert_int_equal(created, 1);
    assert_int_equal(store_flow_put(f->s, "company.team", "hello", "id: hello\n", j, &rev,
                                    &created, &e), 0);
    assert_int_equal(rev, 1);
    assert_int_equal(created, 0);
    assert_int_equal(store_flow_put(f->s, "company.team", "hello", "id: hello\n# v2\n", NULL,
                                    &rev, &created, &e), 0);
    assert_int_equal(rev, 2);
    assert_int_equal(created, 1);
    json_decref(j);

    store_flow fl;
    assert_int_equal(store_flow_get(f->s, "company.team", "hello", 0, &fl, &e), 0);
    assert_int_equal(fl.revision, 2);
    assert_string_equal(fl.source, "id: hello\n# v2\n");
    assert_null(fl.json);
    assert_true(fl.created_us > 0);
    store_flow_clear(&fl);
    assert_int_equal(store_flow_get(f->s, "company.team", "hello", 1, &fl, &e), 0);
    assert_string_equal(fl.source, "id: hello\n");
    assert_string_equal(json_string_value(json_object_get(fl.json, "id")), "hello");
    store_flow_clear(&fl);
    assert_int_equal(store_flow_get(f->s, "company.team", "hello", 7, &fl, &e), STORE_NOT_FOUND);
    assert_int_equal(e.code, STORE_NOT_FOUND);
    assert_int_equal(store_flow_get(f->s, "company.team", "nope", 0, &fl, &e), STORE_NOT_FOUND);

    /* delete is a revision; the latest then reads as absent */
    assert_int_equal(store_flow_delete(f->s, "company.team", "hello", &e), 0);
    assert_int_equal(store_flow_get(f->s, "company.team", "hello", 0, &fl, &e), STORE_NOT_FOUND);
    assert_non_null(strstr(e.msg, "deleted"));
    assert_int_equal(store_flow_delete(f->s, "company.team", "hello", &e), STORE_NOT_FOUND);
    store_flow *v;
    size_t n;
    assert_int_equal(store_flow_revisions(f->s, "company.team", "hello", &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].revision, 1);
    assert_int_equal(v[2].revision, 3);
    assert_true(v[2].deleted);
    assert_false(v[1].deleted);
    store_flows_free(v, n);

    /* putting the same source again after a delete revives it */
    assert_int_equal(store_flow_put(f->s, "company.team", "hello", "id: hello\n# v2\n", NULL,
                                    &rev, &created, &e), 0);
    assert_int_equal(rev, 4);
    assert_int_equal(created, 1);
}

static void test_flow_search_prefix_text_paging(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *flows[][3] = {
        {"a", "one", "id: one\ntasks: [log]"},
        {"a.b", "two", "id: two\ndescription: Nightly BACKUP"},
        {"a.b.c", "three", "id: three"},
        {"ab", "four", "id: four\n# backup"},
        {"z", "five", "id: five"},
    };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(store_flow_put(f->s, flows[i][0], flows[i][1], flows[i][2], NULL, NULL,
                                        NULL, &e), 0);
    /* a second revision must not show twice */
    assert_int_equal(store_flow_put(f->s, "a.b", "two", "id: two\ndescription: nightly backup",
                                    NULL, NULL, NULL, &e), 0);
    assert_int_equal(store_flow_delete(f->s, "z", "five", &e), 0);

    store_flow *v;
    size_t n;
    int64_t total;
    store_flow_query q = {0};
    assert_int_equal(store_flow_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 4);
    assert_int_equal(total, 4);
    assert_string_equal(v[0].namespace, "a");
    assert_string_equal(v[1].namespace, "a.b");
    assert_int_equal(v[1].revision, 2);
    store_flows_free(v, n);

    q.ns_prefix = "a";
    assert_int_equal(store_flow_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 3);   /* a, a.b, a.b.c; not ab */
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(v[i].namespace, "ab");
    store_flows_free(v, n);

    q.ns_prefix = NULL;
    q.text = "BackUp";
    assert_int_equal(store_flow_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, "two");
    assert_string_equal(v[1].id, "four");
    store_flows_free(v, n);

    q.text = NULL;
    q.limit = 2;
    q.offset = 2;
    assert_int_equal(store_flow_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(total, 4);
    assert_string_equal(v[0].id, "three");
    assert_string_equal(v[1].id, "four");
    store_flows_free(v, n);
    q.offset = 10;
    assert_int_equal(store_flow_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 0);
    assert_null(v);
}

/* ---- executions --------------------------------------------------------- */

static void test_execution_round_trip(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    store_execution x;
    make_exec(&x, "exec1", "company.team", "etl");
    x.flow_revision = 3;
    store_execution_set_state(&x, STATE_RUNNING, 1500);
    x.inputs = json_pack("{s:i,s:s}", "n", 5, "who", "world");
    x.labels = json_pack("[{s:s,s:s}]", "key", "env", "value", "prod");
    x.trigger = json_pack("{s:s}", "type", "schedule");
    x.parent_id = strdup("parent1");
    x.parent_task_run_id = strdup("ptr1");
    x.original_id = strdup("orig1");
    x.created_us = 1000;
    x.start_us = 1500;
    assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
    assert_int_equal(x.version, 1);
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_DUPLICATE);
    assert_non_null(strstr(e.msg, "exec1"));

    store_execution y;
    assert_int_equal(store_execution_get(f->s, "exec1", &y, &e), 0);
    assert_string_equal(y.namespace, "company.team");
    assert_string_equal(y.flow_id, "etl");
    assert_int_equal(y.flow_revision, 3);
    assert_int_equal(y.state, STATE_RUNNING);
    assert_int_equal(y.n_histories, 2);
    assert_int_equal(y.histories[0].state, STATE_CREATED);
    assert_int_equal(y.histories[0].at_us, 1000);
    assert_int_equal(y.histories[1].state, STATE_RUNNING);
    assert_int_equal(y.histories[1].at_us, 1500);
    assert_true(json_equal(y.inputs, x.inputs));
    assert_true(json_equal(y.labels, x.labels));
    assert_true(json_equal(y.trigger, x.trigger));
    assert_null(y.outputs);
    assert_null(y.variables);
    assert_string_equal(y.parent_id, "parent1");
    assert_string_equal(y.parent_task_run_id, "ptr1");
    assert_string_equal(y.original_id, "orig1");
    assert_int_equal(y.created_us, 1000);
    assert_int_equal(y.start_us, 1500);
    assert_int_equal(y.end_us, 0);
    assert_int_equal(y.version, 1);
    store_execution_clear(&y);
    store_execution_clear(&x);
    assert_int_equal(store_execution_get(f->s, "nope", &y, &e), STORE_NOT_FOUND);
    assert_non_null(strstr(e.msg, "nope"));
}

static void test_execution_update_detects_stale_versions(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    store_execution z;
    make_exec(&z, "e1", "ns", "flow");
    assert_int_equal(store_execution_insert(f->s, &z, &e), 0);
    assert_true(z.created_us > 0);   /* set by insert, kept by later updates */
    int64_t created = z.created_us;
    store_execution_clear(&z);
    store_execution a, b;
    assert_int_equal(store_execution_get(f->s, "e1", &a, &e), 0);
    assert_int_equal(store_execution_get(f->s, "e1", &b, &e), 0);

    store_execution_set_state(&a, STATE_RUNNING, 2000);
    assert_int_equal(store_execution_update(f->s, &a, &e), 0);
    assert_int_equal(a.version, 2);

    store_execution_set_state(&b, STATE_KILLING, 2001);
    kerr_clear(&e);
    assert_int_equal(store_execution_update(f->s, &b, &e), STORE_CONFLICT);
    assert_int_equal(e.code, STORE_CONFLICT);
    assert_non_null(strstr(e.msg, "concurrently"));
    assert_int_equal(b.version, 1);

    /* the winner's write stands; a reread then succeeds */
    store_execution_clear(&b);
    assert_int_equal(store_execution_get(f->s, "e1", &b, &e), 0);
    assert_int_equal(b.state, STATE_RUNNING);
    assert_int_equal(b.version, 2);
    a.outputs = json_pack("{s:i}", "x", 1);
    store_execution_set_state(&a, STATE_SUCCESS, 3000);
    a.end_us = 3000;
    assert_int_equal(store_execution_update(f->s, &a, &e), 0);
    store_execution_clear(&b);
    assert_int_equal(store_execution_get(f->s, "e1", &b, &e), 0);
    assert_int_equal(b.state, STATE_SUCCESS);
    assert_int_equal(b.n_histories, 3);
    assert_int_equal(b.end_us, 3000);
    assert_int_equal(b.created_us, created);
    assert_int_equal(json_integer_value(json_object_get(b.outputs, "x")), 1);
    assert_int_equal(b.version, 3);
    store_execution_clear(&b);

    free(a.id);
    a.id = strdup("missing");
    assert_int_equal(store_execution_update(f->s, &a, &e), STORE_NOT_FOUND);
    store_execution_clear(&a);
}

static void test_execution_search_and_paging(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    for (int i = 0; i < 25; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%02d", i);
        store_execution x;
        make_exec(&x, id, i % 2 ? "prod.db" : "dev", i % 3 ? "backup" : "report");
        x.created_us = 10000 + i;
        if (i % 5 == 0)
            store_execution_set_state(&x, STATE_FAILED, 20000);
        if (i == 3 || i == 4)
            x.parent_id = strdup("e02");
        assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
        store_execution_clear(&x);
    }
    store_execution *v;
    size_t n;
    int64_t total;
    store_execution_query q = {.limit = 10};
    assert_int_equal(store_execution_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 10);
    assert_int_equal(total, 25);
    assert_string_equal(v[0].id, "e24");   /* newest first */
    assert_string_equal(v[9].id, "e15");
    store_executions_free(v, n);
    q.offset = 20;
    assert_int_equal(store_execution_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 5);
    assert_string_equal(v[4].id, "e00");
    store_executions_free(v, n);

    store_execution_query q2 = {.ns_prefix = "prod", .flow_id = "backup"};
    assert_int_equal(store_execution_search(f->s, &q2, &v, &n, &total, &e), 0);
    /* odd i not divisible by 3: 1,5,7,11,13,17,19,23 */
    assert_int_equal(n, 8);
    assert_int_equal(total, 8);
    store_executions_free(v, n);
    store_execution_query q3 = {.states = STORE_STATE_BIT(STATE_FAILED)};
    assert_int_equal(store_execution_search(f->s, &q3, &v, &n, &total, &e), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i].state, STATE_FAILED);
    store_executions_free(v, n);
    store_execution_query q4 = {.unfinished = 1, .limit = 3};
    assert_int_equal(store_execution_search(f->s, &q4, &v, &n, &total, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(total, 20);
    store_executions_free(v, n);
    store_execution_query q6 = {.namespace = "prod"};
    assert_int_equal(store_execution_search(f->s, &q6, &v, &n, &total, &e), 0);
    assert_int_equal(n, 0);   /* exact: "prod" is not "prod.db" */
    q6.namespace = "prod.db";
    q6.flow_id = "backup";
    q6.unfinished = 1;
    assert_int_equal(store_execution_search(f->s, &q6, &v, &n, &total, &e), 0);
    /* 1,7,11,13,17,19,23 (5 failed) */
    assert_int_equal(n, 7);
    assert_int_equal(total, 7);
    store_executions_free(v, n);
    store_execution_query q5 = {.parent_id = "e02"};
    assert_int_equal(store_execution_search(f->s, &q5, &v, &n, &total, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, "e04");
    assert_string_equal(v[1].id, "e03");
    store_executions_free(v, n);
    /* a prefix stops at a dot: "prod" is not the parent of "prod-x" or "prodb" */
    insert_exec(f->s, "x1", "prod-x", "backup");
    insert_exec(f->s, "x2", "prodb", "backup");
    insert_exec(f->s, "x3", "prod.db.eu", "backup");
    assert_int_equal(store_execution_search(f->s, &q2, &v, &n, &total, &e), 0);
    assert_int_equal(n, 9);
    for (size_t i = 0; i < n; i++)
        assert_true(strcmp(v[i].id, "x1") != 0 && strcmp(v[i].id, "x2") != 0);
    store_executions_free(v, n);
    q3.states |= STORE_STATE_BIT(STATE_CREATED);
    assert_int_equal(store_execution_search(f->s, &q3, &v, &n, &total, &e), 0);
    assert_int_equal(n, 28);
    store_executions_free(v, n);
    store_execution_query bad = {.states = 1u << 20};
    assert_int_equal(store_execution_search(f->s, &bad, &v, &n, &total, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "state"));
}

/* ---- task runs ---------------------------------------------------------- */

/* Histories and attempts are written and read in one compact shape without
 * jansson; what that shape does not cover (a worker id to escape, a row an
 * older kite or a hand wrote with spaces, a negative date) still round-trips
 * and a broken one is still refused. */
static void test_task_run_documents_in_any_json_shape(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "docs", "ns", "flow");
    store_task_run t;
    make_tr(&t, "docs-1", "docs", "task");
    store_task_run_set_state(&t, STATE_RUNNING, -5);
    store_task_run_set_state(&t, STATE_SUCCESS, 1733200000123456);
    store_attempt *a = store_task_run_add_attempt(&t, STATE_FAILED, 10, "host \"a\"\\worker-1");
    a->end_us = 20;
    a = store_task_run_add_attempt(&t, STATE_SUCCESS, 30, NULL);
    a->end_us = 40;
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_task_run_clear(&t);
    make_tr(&t, "docs-2", "docs", "task");
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_task_run_clear(&t);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE task_runs SET histories = '[ {\"date\": 7, \"state\": \"KILLED\"} ]', "
                                      "attempts = '[{\"state\":\"KILLED\",\"start\":1,\"end\":2,\"worker\":\"w\"}]' "
                                      "WHERE id = 'docs-2'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    store_task_run *v;
    size_t n;
    assert_int_equal(store_task_run_list(f->s, "docs", &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].n_histories, 3); /* CREATED, RUNNING, SUCCESS */
    assert_int_equal(v[0].histories[1].state, STATE_RUNNING);
    assert_true(v[0].histories[1].at_us == -5);
    assert_int_equal(v[0].histories[2].state, STATE_SUCCESS);
    assert_true(v[0].histories[2].at_us == 1733200000123456);
    assert_int_equal(v[0].n_attempts, 2);
    assert_string_equal(v[0].attempts[0].worker_id, "host \"a\"\\worker-1");
    assert_true(v[0].attempts[0].start_us == 10 && v[0].attempts[0].end_us == 20);
    assert_int_equal(v[0].attempts[1].state, STATE_SUCCESS);
    assert_null(v[0].attempts[1].worker_id);
    assert_int_equal(v[1].n_histories, 1);
    assert_int_equal(v[1].histories[0].state, STATE_KILLED);
    assert_true(v[1].histories[0].at_us == 7);
    assert_int_equal(v[1].n_attempts, 1);
    assert_string_equal(v[1].attempts[0].worker_id, "w");
    store_task_runs_free(v, n);
    assert_int_equal(sqlite3_exec(db, "UPDATE task_runs SET histories = '[{\"state\":\"RUNNING\",\"date\":1}' "
                                      "WHERE id = 'docs-2'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_not_equal(store_task_run_list(f->s, "docs", &v, &n, &e), 0);
    assert_non_null(strstr(e.msg, "corrupt state histories"));
}


static void test_task_runs_in_creation_order_with_attempts(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "e1", "ns", "flow");
    insert_exec(f->s, "e2", "ns", "flow");
    /* ids sort differently from creation order on purpose */
    const char *ids[] = {"zz", "aa", "mm"};
    for (int i = 0; i < 3; i++) {
        store_task_run t;
        make_tr(&t, ids[i], "e1", i == 2 ? "each" : "log");
        if (i == 2) {
            t.value = strdup("{\"k\":1}");
            t.iteration = 4;
            t.parent_task_run_id = strdup("zz");
        }
        assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
        store_task_run_clear(&t);
    }
    store_task_run other;
    make_tr(&other, "x1", "e2", "log");
    assert_int_equal(store_task_run_insert(f->s, &other, &e), 0);
    assert_int_equal(store_task_run_insert(f->s, &other, &e), STORE_DUPLICATE);
    store_task_run_clear(&other);
    make_tr(&other, "orphan", "no-such-exec", "log");
    assert_int_equal(store_task_run_insert(f->s, &other, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "no-such-exec"));
    store_task_run_clear(&other);

    store_task_run *v;
    size_t n;
    assert_int_equal(store_task_run_list(f->s, "e1", &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].id, "zz");
    assert_string_equal(v[1].id, "aa");
    assert_string_equal(v[2].id, "mm");
    assert_string_equal(v[2].value, "{\"k\":1}");
    assert_int_equal(v[2].iteration, 4);
    assert_string_equal(v[2].parent_task_run_id, "zz");
    assert_null(v[0].value);

    /* a worker runs "aa": two attempts, outputs */
    store_task_run *t = &v[1];
    store_task_run_set_state(t, STATE_RUNNING, 3000);
    store_attempt *a = store_task_run_add_attempt(t, STATE_FAILED, 3000, "worker-1");
    a->end_us = 3100;
    a = store_task_run_add_attempt(t, STATE_SUCCESS, 3200, NULL);
    a->end_us = 3300;
    store_task_run_set_state(t, STATE_SUCCESS, 3300);
    t->outputs = json_pack("{s:s}", "value", "done");
    int64_t created = t->created_us;
    assert_true(created > 0);
    t->created_us = 0;   /* update never rewrites the creation time */
    t->updated_us = 0;
    assert_int_equal(store_task_run_update(f->s, t, &e), 0);
    store_task_runs_free(v, n);

    store_task_run g;
    assert_int_equal(store_task_run_get(f->s, "aa", &g, &e), 0);
    assert_int_equal(g.state, STATE_SUCCESS);
    assert_int_equal(g.created_us, created);
    assert_true(g.updated_us >= created);
    assert_int_equal(g.n_histories, 3);
    assert_int_equal(g.n_attempts, 2);
    assert_int_equal(g.attempts[0].state, STATE_FAILED);
    assert_string_equal(g.attempts[0].worker_id, "worker-1");
    assert_int_equal(g.attempts[0].end_us, 3100);
    assert_null(g.attempts[1].worker_id);
    assert_int_equal(g.attempts[1].start_us, 3200);
    assert_string_equal(json_string_value(json_object_get(g.outputs, "value")), "done");
    free(g.id);
    g.id = strdup("ghost");
    assert_int_equal(store_task_run_update(f->s, &g, &e), STORE_NOT_FOUND);
    store_task_run_clear(&g);
    assert_int_equal(store_task_run_get(f->s, "ghost", &g, &e), STORE_NOT_FOUND);

    assert_int_equal(store_task_run_list(f->s, "e2", &v, &n, &e), 0);
    assert_int_equal(n, 1);
    store_task_runs_free(v, n);
}

static void test_execution_delete_takes_its_rows(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "e1", "ns", "flow");
    insert_exec(f->s, "e2", "ns", "flow");
    store_task_run t;
    make_tr(&t, "t1", "e1", "log");
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_task_run_clear(&t);
    store_log l = {.execution_id = "e1", .message = "hi", .level = LEVEL_INFO};
    assert_int_equal(store_log_append(f->s, &l, NULL, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "e1", "t1", NULL, 0, NULL, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "e2", NULL, NULL, 0, NULL, &e), 0);

    assert_int_equal(store_execution_delete(f->s, "e1", &e), 0);
    assert_int_equal(store_execution_delete(f->s, "e1", &e), STORE_NOT_FOUND);
    store_task_run g;
    assert_int_equal(store_task_run_get(f->s, "t1", &g, &e), STORE_NOT_FOUND);
    store_log *lv;
    size_t n;
    store_log_query q = {.execution_id = "e1"};
    assert_int_equal(store_log_search(f->s, &q, &lv, &n, NULL, &e), 0);
    assert_int_equal(n, 0);
    int64_t waiting;
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, NULL, &e), 0);
    assert_int_equal(waiting, 1);
}

/* ---- logs and metrics --------------------------------------------------- */

static void test_logs_filters_paging_and_cursor(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t ids[12];
    for (int i = 0; i < 12; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "line %d", i);
        store_log l = {
            .execution_id = "e1",
            .task_run_id = i < 6 ? "tr-a" : "tr-b",
            .task_id = i < 6 ? "a" : "b",
            .attempt = 1,
            .at_us = 5000 + i,
            .level = (store_level)(i % LEVEL__COUNT),
            .message = msg,
        };
        assert_int_equal(store_log_append(f->s, &l, &ids[i], &e), 0);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    store_log other = {.execution_id = "e2", .message = "elsewhere"};
    assert_int_equal(store_log_append(f->s, &other, NULL, &e), 0);

    store_log *v;
    size_t n;
    int64_t total;
    store_log_query q = {.execution_id = "e1"};
    assert_int_equal(store_log_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 12);
    assert_int_equal(total, 12);
    assert_string_equal(v[3].message, "line 3");
    assert_int_equal(v[3].level, LEVEL_WARN);
    assert_int_equal(v[3].at_us, 5003);
    assert_string_equal(v[3].task_id, "a");
    assert_int_equal(v[3].attempt, 1);
    store_logs_free(v, n);

    q.task_id = "b";
    q.min_level = LEVEL_WARN;   /* i in 6..11 with i%5 >= 3: 8, 9 */
    assert_int_equal(store_log_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].message, "line 8");
    assert_string_equal(v[1].message, "line 9");
    store_logs_free(v, n);

    store_log_query qp = {.execution_id = "e1", .task_run_id = "tr-a", .offset = 2, .limit = 3};
    assert_int_equal(store_log_search(f->s, &qp, &v, &n, &total, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(total, 6);
    assert_string_equal(v[0].message, "line 2");
    store_logs_free(v, n);

    /* following: only what came after the cursor */
    store_log_query qc = {.execution_id = "e1", .since_id = ids[9]};
    assert_int_equal(store_log_search(f->s, &qc, &v, &n, NULL, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, ids[10]);
    store_logs_free(v, n);
}

static void test_metrics_round_trip(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *tags = json_pack("{s:s}", "host", "db1");
    store_metric m = {.execution_id = "e1", .task_id = "t", .name = "rows",
                      .type = METRIC_COUNTER, .value = 42, .tags = tags, .at_us = 7};
    assert_int_equal(store_metric_add(f->s, &m, &e), 0);
    m.name = "duration";
    m.type = METRIC_TIMER;
    m.value = 1.5;
    m.tags = NULL;
    assert_int_equal(store_metric_add(f->s, &m, &e), 0);
    m.value = NAN;
    assert_int_equal(store_metric_add(f->s, &m, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "not a finite number"));
    m.value = 1.5;
    m.tags = json_integer(1);
    assert_int_equal(store_metric_add(f->s, &m, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "tags"));
    json_decref(m.tags);
    store_metric *v;
    size_t n;
    assert_int_equal(store_metric_list(f->s, "e1", &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "rows");
    assert_int_equal(v[0].type, METRIC_COUNTER);
    assert_true(v[0].value == 42.0);
    assert_true(json_equal(v[0].tags, tags));
    assert_int_equal(v[1].type, METRIC_TIMER);
    assert_true(v[1].value == 1.5);
    assert_null(v[1].tags);
    store_metrics_free(v, n);
    json_decref(tags);
}

/* ---- the queue ---------------------------------------------------------- */

static void test_queue_lease_ack_extend_depth(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t now = 1000000000;
    int64_t a, b, c;
    json_t *pl = json_pack("{s:i}", "n", 1);
    assert_int_equal(store_queue_push(f->s, "task", "e1", "t1", pl, now - 10, &a, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "e1", "t2", NULL, now - 5, &b, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "e1", "t3", NULL, now + 60000000, &c, &e), 0);
    assert_int_equal(store_queue_push(f->s, "event", "e1", NULL, NULL, now - 20, NULL, &e), 0);
    json_decref(pl);

    int64_t waiting, leased;
    assert_int_equal(store_queue_depth(f->s, "task", &waiting, &leased, &e), 0);
    assert_int_equal(waiting, 3);
    assert_int_equal(leased, 0);

    store_job *j;
    size_t n;
    assert_int_equal(store_queue_lease(f->s, "task", 10, "w1", 30000000, now, &j, &n, &e), 0);
    assert_int_equal(n, 2);   /* t3 is delayed, the event is another kind */
    assert_int_equal(j[0].id, a);
    assert_int_equal(j[1].id, b);
    assert_string_equal(j[0].kind, "task");
    assert_string_equal(j[0].task_run_id, "t1");
    assert_int_equal(json_integer_value(json_object_get(j[0].payload, "n")), 1);
    assert_int_equal(j[0].attempt, 1);
    assert_string_equal(j[0].owner, "w1");
    assert_int_equal(j[0].lease_until_us, now + 30000000);
    store_jobs_free(j, n);

    /* nothing more is ready; the delayed job comes when its time does */
    assert_int_equal(store_queue_lease(f->s, "task", 10, "w2", 30000000, now, &j, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_queue_lease(f->s, "task", 10, "w2", 30000000, now + 60000000, &j,
                                       &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(j[0].id, c);
    store_jobs_free(j, n);

    assert_int_equal(store_queue_depth(f->s, "task", &waiting, &leased, &e), 0);
    assert_int_equal(waiting, 0);
    assert_int_equal(leased, 3);
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, &leased, &e), 0);
    assert_int_equal(waiting, 1);

    assert_int_equal(store_queue_ack(f->s, a, "w2", &e), STORE_CONFLICT);
    assert_non_null(strstr(e.msg, "now leased by w1"));
    assert_int_equal(store_queue_extend(f->s, a, "w1", now + 90000000, &e), 0);
    assert_int_equal(store_queue_ack(f->s, a, "w1", &e), 0);
    assert_int_equal(store_queue_ack(f->s, a, "w1", &e), STORE_NOT_FOUND);
    assert_int_equal(store_queue_extend(f->s, a, "w1", now, &e), STORE_NOT_FOUND);
    assert_int_equal(store_queue_lease(f->s, "task", 0, "w1", 1, now, &j, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_queue_lease(f->s, "task", 1, "w1", 0, now, &j, &n, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "lease"));
}

static void test_queue_expiry_requeues_or_drops(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t now = 2000000000;
    insert_exec(f->s, "live", "ns", "flow");
    store_execution done_x;
    make_exec(&done_x, "ended", "ns", "flow");
    store_execution_set_state(&done_x, STATE_KILLED, 5);
    assert_int_equal(store_execution_insert(f->s, &done_x, &e), 0);
    store_execution_clear(&done_x);

    int64_t live_job, ended_job, free_job;
    assert_int_equal(store_queue_push(f->s, "task", "live", "t1", NULL, now, &live_job, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "ended", "t2", NULL, now, &ended_job, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", NULL, NULL, NULL, now, &free_job, &e), 0);
    store_job *j;
    size_t n;
    assert_int_equal(store_queue_lease(f->s, "task", 10, "w1", 1000, now, &j, &n, &e), 0);
    assert_int_equal(n, 3);
    store_jobs_free(j, n);

    size_t requeued = 99, dropped = 99;
    /* before the deadline nothing moves */
    assert_int_equal(store_queue_expire(f->s, now + 999, &requeued, &dropped, &e), 0);
    assert_int_equal(requeued, 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(store_queue_expire(f->s, now + 1001, &requeued, &dropped, &e), 0);
    assert_int_equal(requeued, 2);
    assert_int_equal(dropped, 1);

    /* the old owner lost it */
    assert_int_equal(store_queue_ack(f->s, live_job, "w1", &e), STORE_CONFLICT);
    assert_non_null(strstr(e.msg, "back in the queue"));
    assert_int_equal(store_queue_ack(f->s, ended_job, "w1", &e), STORE_NOT_FOUND);

    assert_int_equal(store_queue_lease(f->s, "task", 10, "w2", 1000, now + 1001, &j, &n, &e), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(j[i].attempt, 2);
        assert_true(j[i].id == live_job || j[i].id == free_job);
    }
    store_jobs_free(j, n);
}

enum { QJOBS = 1200, QTHREADS = 4 };

typedef struct qctx {
    store *s;
    atomic_int *seen;           /* indexed by job id */
    int64_t max_id;
    atomic_int errors;
    atomic_int taken;
} qctx;

typedef struct qarg {
    qctx *q;
    int n;
} qarg;

static void *lease_worker(void *p)
{
    qarg *a = p;
    qctx *q = a->q;
    char owner[16];
    snprintf(owner, sizeof owner, "w%d", a->n);
    for (;;) {
        kerr e = KERR_INIT;
        store_job *j;
        size_t n;
        if (store_queue_lease(q->s, "task", 7, owner, 60000000, 0, &j, &n, &e) != 0) {
            atomic_fetch_add(&q->errors, 1);
            break;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (j[i].id < 1 || j[i].id > q->max_id || strcmp(j[i].owner, owner) != 0)
                atomic_fetch_add(&q->errors, 1);
            else
                atomic_fetch_add(&q->seen[j[i].id], 1);
            atomic_fetch_add(&q->taken, 1);
            if (store_queue_ack(q->s, j[i].id, owner, &e) != 0)
                atomic_fetch_add(&q->errors, 1);
        }
        store_jobs_free(j, n);
    }
    return NULL;
}

static void test_queue_four_threads_never_share_a_job(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t id = 0;
    assert_int_equal(store_begin(f->s, &e), 0);
    for (int i = 0; i < QJOBS; i++)
        assert_int_equal(store_queue_push(f->s, "task", "e", NULL, NULL, 1, &id, &e), 0);
    assert_int_equal(store_commit(f->s, &e), 0);
    qctx q = {.s = f->s, .max_id = id};
    q.seen = calloc((size_t)id + 1, sizeof *q.seen);
    pthread_t th[QTHREADS];
    qarg args[QTHREADS];
    for (int i = 0; i < QTHREADS; i++) {
        args[i] = (qarg){&q, i};
        assert_int_equal(pthread_create(&th[i], NULL, lease_worker, &args[i]), 0);
    }
    for (int i = 0; i < QTHREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&q.errors), 0);
    assert_int_equal(atomic_load(&q.taken), QJOBS);
    int once = 0;
    for (int64_t i = 1; i <= id; i++)
        if (atomic_load(&q.seen[i]) == 1)
            once++;
        else
            assert_int_equal(atomic_load(&q.seen[i]), 0);
    assert_int_equal(once, QJOBS);
    free(q.seen);
    int64_t waiting = -1, leased = -1;
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, &leased, &e), 0);
    assert_int_equal(waiting, 0);
    assert_int_equal(leased, 0);
}

/* Two processes on one file (a server and the CLI, say): leases still never
 * overlap, the file lock orders them. Each child prints the ids it got. */
static void test_queue_two_processes_never_share_a_job(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    enum { JOBS = 400, PROCS = 2 };
    assert_int_equal(store_begin(f->s, &e), 0);
    int64_t last = 0;
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(store_queue_push(f->s, "task", NULL, NULL, NULL, 1, &last, &e), 0);
    assert_int_equal(store_commit(f->s, &e), 0);
    /* no fork with a store open: its checkpointer thread may hold one of
     * SQLite's mutexes, which the child would inherit locked */
    store_free(f->s);
    f->s = NULL;
    int fds[PROCS][2];
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(fds[p][0]);
            store *s;
            kerr ce = KERR_INIT;
            char owner[16];
            snprintf(owner, sizeof owner, "proc%d", p);
            if (store_open(f->path, NULL, &s, &ce) != 0)
                _exit(2);
            for (;;) {
                store_job *j;
                size_t n;
                if (store_queue_lease(s, "task", 5, owner, 60000000, 0, &j, &n, &ce) != 0)
                    _exit(3);
                if (n == 0)
                    break;
                for (size_t i = 0; i < n; i++) {
                    char line[32];
                    int len = snprintf(line, sizeof line, "%lld\n", (long long)j[i].id);
                    if (write(fds[p][1], line, (size_t)len) != len)
                        _exit(4);
                    if (store_queue_ack(s, j[i].id, owner, &ce) != 0)
                        _exit(5);
                }
                store_jobs_free(j, n);
            }
            store_free(s);
            _exit(0);
        }
        close(fds[p][1]);
    }
    int *seen = calloc((size_t)last + 1, sizeof *seen);
    int total = 0;
    for (int p = 0; p < PROCS; p++) {
        FILE *in = fdopen(fds[p][0], "r");
        long long id;
        while (fscanf(in, "%lld", &id) == 1) {
            assert_true(id >= 1 && id <= last);
            seen[id]++;
            total++;
        }
        fclose(in);
        int status;
        waitpid(pids[p], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(total, JOBS);
    for (int64_t i = 1; i <= last; i++)
        assert_true(seen[i] <= 1);
    free(seen);
    assert_int_equal(store_open(f->path, NULL, &f->s, &e), 0);
    int64_t waiting = -1, leased = -1;
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, &leased, &e), 0);
    assert_int_equal(waiting + leased, 0);
}

typedef struct peek_write {
    store *s;
    int rc;
    char msg[KERR_MSG_MAX];
} peek_write;

static void *write_thread(void *p)
{
    peek_write *k = p;
    kerr e = KERR_INIT;
    k->rc = store_kv_put(k->s, "ns", "k", json_true(), 0, &e);
    memcpy(k->msg, e.msg, sizeof k->msg);
    return NULL;
}

/* Another process holding the write lock: writes wait busy_timeout then fail
 * with a clear message, reads go on (WAL). */
static void test_locked_database_fails_writes_not_reads(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "before", "ns", "flow");
    store_free(f->s);
    store_opts o = STORE_OPTS_INIT;
    o.busy_timeout_ms = 100;
    assert_int_equal(store_open(f->path, &o, &f->s, &e), 0);
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; INSERT INTO meta VALUES ('x', 'y')",
                                  NULL, NULL, NULL), SQLITE_OK);
    store_execution x;
    make_exec(&x, "during", "ns", "flow");
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "locked"));
    store_execution y;
    assert_int_equal(store_execution_get(f->s, "before", &y, &e), 0);
    store_execution_clear(&y);
    /* an idle consumer polling an empty queue never needs the write lock */
    store_job *j;
    size_t n = 99;
    assert_int_equal(store_queue_lease(f->s, "task", 5, "w", 1000, 0, &j, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    /* the lock gone, the same write goes through */
    assert_int_equal(store_execution_insert(f->s, &x, &e), 0);
    store_execution_clear(&x);

    /* a thread of this process sitting in its transaction: the same limit */
    assert_int_equal(store_begin(f->s, &e), 0);
    peek_write k = {f->s, 99, ""};
    pthread_t th;
    pthread_create(&th, NULL, write_thread, &k);
    pthread_join(th, NULL);
    assert_int_equal(k.rc, STORE_ERROR);
    assert_non_null(strstr(k.msg, "another thread held its write transaction"));
    store_rollback(f->s);
    k.rc = 99;
    pthread_create(&th, NULL, write_thread, &k);
    pthread_join(th, NULL);
    assert_int_equal(k.rc, 0);
}

/* ---- kv ----------------------------------------------------------------- */

static void test_kv_put_get_expire_list_delete(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *v1 = json_pack("{s:[i,i]}", "a", 1, 2);
    json_t *v2 = json_string("two");
    json_t *v3 = json_integer(3);
    int64_t now = store_now_us();
    assert_int_equal(store_kv_put(f->s, "ns", "k1", v1, 0, &e), 0);
    assert_int_equal(store_kv_put(f->s, "ns", "k2", v2, now + 3600LL * 1000000, &e), 0);
    assert_int_equal(store_kv_put(f->s, "ns", "old", v3, now - 1, &e), 0);
    assert_int_equal(store_kv_put(f->s, "other", "k1", v3, 0, &e), 0);

    json_t *got;
    assert_int_equal(store_kv_get(f->s, "ns", "k1", &got, &e), 0);
    assert_true(json_equal(got, v1));
    json_decref(got);
    assert_int_equal(store_kv_get(f->s, "ns", "k2", &got, &e), 0);
    assert_string_equal(json_string_value(got), "two");
    json_decref(got);
    assert_int_equal(store_kv_get(f->s, "ns", "old", &got, &e), STORE_NOT_FOUND);
    assert_null(got);
    assert_non_null(strstr(e.msg, "'old'"));

    /* overwrite */
    assert_int_equal(store_kv_put(f->s, "ns", "k1", v3, 0, &e), 0);
    assert_int_equal(store_kv_get(f->s, "ns", "k1", &got, &e), 0);
    assert_int_equal(json_integer_value(got), 3);
    json_decref(got);

    char **keys;
    size_t n;
    assert_int_equal(store_kv_list(f->s, "ns", &keys, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0], "k1");
    assert_string_equal(keys[1], "k2");
    store_strings_free(keys, n);

    assert_int_equal(store_kv_delete(f->s, "ns", "old", &e), STORE_NOT_FOUND);
    assert_int_equal(store_kv_delete(f->s, "ns", "k1", &e), 0);
    assert_int_equal(store_kv_delete(f->s, "ns", "k1", &e), STORE_NOT_FOUND);
    assert_int_equal(store_kv_get(f->s, "ns", "k1", &got, &e), STORE_NOT_FOUND);
    assert_int_equal(store_kv_get(f->s, "other", "k1", &got, &e), 0);
    json_decref(got);
    assert_int_equal(store_kv_put(f->s, "ns", "k", NULL, 0, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "kv value"));
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
}

/* "_kite*" namespaces are kite's own: store_kv_* refuse them on every route,
 * store_kv_sys_* reach only them. */
static void test_kv_reserved_namespaces(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    json_t *v = json_string("admin");
    json_t *got = NULL;
    char **keys = NULL;
    size_t n = 0;
    assert_int_equal(store_kv_sys_put(f->s, "_kite.auth", "h", v, 0, &e), 0);
    const char *reserved[] = {"_kite.auth", "_kite", "_kitex.y"};
    for (size_t i = 0; i < 3; i++) {
        kerr_clear(&e);
        assert_int_equal(store_kv_put(f->s, reserved[i], "h", v, 0, &e), STORE_ERROR);
        assert_non_null(strstr(e.msg, "is reserved for kite itself"));
        assert_int_equal(store_kv_get(f->s, reserved[i], "h", &got, &e), STORE_ERROR);
        assert_null(got);
        assert_non_null(strstr(e.msg, "is reserved for kite itself"));
        assert_int_equal(store_kv_delete(f->s, reserved[i], "h", &e), STORE_ERROR);
        assert_non_null(strstr(e.msg, "is reserved for kite itself"));
        assert_int_equal(store_kv_list(f->s, reserved[i], &keys, &n, &e), STORE_ERROR);
        assert_non_null(strstr(e.msg, "is reserved for kite itself"));
        assert_int_equal(store_kv_check_namespace(reserved[i], &e), STORE_ERROR);
        assert_true(store_kv_reserved(reserved[i]));
    }
    /* the row is untouched and the privileged path still reads it */
    assert_int_equal(store_kv_sys_get(f->s, "_kite.auth", "h", &got, &e), 0);
    assert_string_equal(json_string_value(got), "admin");
    json_decref(got);
    assert_int_equal(store_kv_sys_list(f->s, "_kite.auth", &keys, &n, &e), 0);
    assert_int_equal(n, 1);
    store_strings_free(keys, n);
    /* the privileged path reaches no user namespace */
    assert_int_equal(store_kv_sys_put(f->s, "team", "h", v, 0, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "not a reserved one"));
    assert_int_equal(store_kv_sys_get(f->s, "team", "h", &got, &e), STORE_ERROR);
    assert_false(store_kv_reserved("kite._auth"));
    assert_int_equal(store_kv_check_namespace("team._kite", &e), 0);
    assert_int_equal(store_kv_sys_delete(f->s, "_kite.auth", "h", &e), 0);
    json_decref(v);
}

/* ---- triggers ----------------------------------------------------------- */

static void test_triggers_state_and_ticks_fire_once(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    store_trigger t = {.namespace = "a.b", .flow_id = "f", .trigger_id = "cron",
                       .next_us = 5000, .last_fired_us = 4000};
    t.state = json_pack("{s:s}", "cron", "* * * * *");
    assert_int_equal(store_trigger_put(f->s, &t, &e), 0);
    t.next_us = 6000;
    t.disabled = 1;
    assert_int_equal(store_trigger_put(f->s, &t, &e), 0);   /* replaces */
    store_trigger t2 = {.namespace = "z", .flow_id = "g", .trigger_id = "hook"};
    assert_int_equal(store_trigger_put(f->s, &t2, &e), 0);

    store_trigger g;
    assert_int_equal(store_trigger_get(f->s, "a.b", "f", "cron", &g, &e), 0);
    assert_int_equal(g.next_us, 6000);
    assert_int_equal(g.disabled, 1);
    assert_int_equal(g.last_fired_us, 4000);
    assert_true(json_equal(g.state, t.state));
    assert_true(g.updated_us > 0);
    store_trigger_clear(&g);
    json_decref(t.state);

    store_trigger *v;
    size_t n;
    assert_int_equal(store_trigger_list(f->s, "a", &v, &n, &e), 0);
    assert_int_equal(n, 1);
    store_triggers_free(v, n);
    assert_int_equal(store_trigger_list(f->s, NULL, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    store_triggers_free(v, n);

    /* a tick with its execution, in one transaction, fires once */
    int fired = 0;
    for (int round = 0; round < 3; round++) {
        char id[STORE_ID_LEN + 1];
        store_new_id(id);
        assert_int_equal(store_begin(f->s, &e), 0);
        int rc = store_trigger_tick(f->s, "a.b", "f", "cron", 60000000, id, &e);
        if (rc == STORE_DUPLICATE) {
            assert_non_null(strstr(e.msg, "already fired"));
            store_rollback(f->s);
            continue;
        }
        assert_int_equal(rc, 0);
        insert_exec(f->s, id, "a.b", "f");
        assert_int_equal(store_commit(f->s, &e), 0);
        fired++;
    }
    assert_int_equal(fired, 1);
    store_execution *xv;
    int64_t total;
    store_execution_query q = {.ns_prefix = "a.b"};
    assert_int_equal(store_execution_search(f->s, &q, &xv, &n, &total, &e), 0);
    assert_int_equal(n, 1);
    store_executions_free(xv, n);
    assert_int_equal(store_trigger_tick(f->s, "a.b", "f", "cron", 120000000, NULL, &e), 0);

    assert_int_equal(store_trigger_delete(f->s, "a.b", "f", "cron", &e), 0);
    assert_int_equal(store_trigger_delete(f->s, "a.b", "f", "cron", &e), STORE_NOT_FOUND);
    assert_int_equal(store_trigger_get(f->s, "a.b", "f", "cron", &g, &e), STORE_NOT_FOUND);
}

static atomic_int tick_wins, tick_dups;

static void *tick_thread(void *p)
{
    store *s = p;
    kerr e = KERR_INIT;
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    if (store_begin(s, &e))
        return NULL;
    int rc = store_trigger_tick(s, "race", "f", "cron", 42000000, id, &e);
    if (rc == STORE_DUPLICATE) {
        atomic_fetch_add(&tick_dups, 1);
        store_rollback(s);
        return NULL;
    }
    store_execution x;
    make_exec(&x, id, "race", "f");
    if (rc == 0 && store_execution_insert(s, &x, &e) == 0 && store_commit(s, &e) == 0)
        atomic_fetch_add(&tick_wins, 1);
    else
        store_rollback(s);
    store_execution_clear(&x);
    return NULL;
}

/* Four schedulers racing for one tick: one execution. */
static void test_racing_schedulers_fire_a_tick_once(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, tick_thread, f->s);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&tick_wins), 1);
    assert_int_equal(atomic_load(&tick_dups), 3);
    store_execution *v;
    size_t n;
    int64_t total;
    store_execution_query q = {.namespace = "race"};
    assert_int_equal(store_execution_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(n, 1);
    store_executions_free(v, n);
}

/* ---- transactions ------------------------------------------------------- */

typedef struct peek {
    store *s;
    const char *id;
    int rc;
} peek;

static void *peek_thread(void *p)
{
    peek *k = p;
    kerr e = KERR_INIT;
    store_execution x;
    k->rc = store_execution_get(k->s, k->id, &x, &e);
    store_execution_clear(&x);
    return NULL;
}

static int seen_from_another_thread(store *s, const char *id)
{
    peek k = {s, id, 99};
    pthread_t th;
    pthread_create(&th, NULL, peek_thread, &k);
    pthread_join(th, NULL);
    return k.rc == 0;
}

static void test_transactions_commit_rollback_and_isolation(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    assert_int_equal(store_begin(f->s, &e), 0);
    insert_exec(f->s, "t1", "ns", "flow");
    store_task_run t;
    make_tr(&t, "tr1", "t1", "log");
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    assert_int_equal(store_queue_push(f->s, "task", "t1", "tr1", NULL, 0, NULL, &e), 0);
    /* the thread sees its own writes, others do not yet */
    store_execution x;
    assert_int_equal(store_execution_get(f->s, "t1", &x, &e), 0);
    store_execution_clear(&x);
    assert_false(seen_from_another_thread(f->s, "t1"));
    assert_int_equal(store_commit(f->s, &e), 0);
    assert_true(seen_from_another_thread(f->s, "t1"));

    /* rollback undoes every write of the transaction */
    assert_int_equal(store_begin(f->s, &e), 0);
    insert_exec(f->s, "t2", "ns", "flow");
    free(t.id);
    t.id = strdup("tr2");
    free(t.execution_id);
    t.execution_id = strdup("t2");
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_rollback(f->s);
    assert_int_equal(store_execution_get(f->s, "t2", &x, &e), STORE_NOT_FOUND);
    store_task_run g;
    assert_int_equal(store_task_run_get(f->s, "tr2", &g, &e), STORE_NOT_FOUND);

    /* nesting: an inner rollback dooms the outer commit */
    assert_int_equal(store_begin(f->s, &e), 0);
    insert_exec(f->s, "t3", "ns", "flow");
    assert_int_equal(store_begin(f->s, &e), 0);
    store_rollback(f->s);
    assert_int_equal(store_commit(f->s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "inner rollback"));
    assert_int_equal(store_execution_get(f->s, "t3", &x, &e), STORE_NOT_FOUND);

    /* nesting: inner commit only counts */
    assert_int_equal(store_begin(f->s, &e), 0);
    assert_int_equal(store_begin(f->s, &e), 0);
    insert_exec(f->s, "t4", "ns", "flow");
    assert_int_equal(store_commit(f->s, &e), 0);
    assert_false(seen_from_another_thread(f->s, "t4"));
    assert_int_equal(store_commit(f->s, &e), 0);
    assert_true(seen_from_another_thread(f->s, "t4"));

    /* a failed operation inside a transaction leaves the rest of it alone */
    assert_int_equal(store_begin(f->s, &e), 0);
    insert_exec(f->s, "t5", "ns", "flow");
    store_execution dup;
    make_exec(&dup, "t5", "ns", "flow");
    assert_int_equal(store_execution_insert(f->s, &dup, &e), STORE_DUPLICATE);
    store_execution_clear(&dup);
    insert_exec(f->s, "t6", "ns", "flow");
    assert_int_equal(store_commit(f->s, &e), 0);
    assert_true(seen_from_another_thread(f->s, "t5"));
    assert_true(seen_from_another_thread(f->s, "t6"));

    assert_int_equal(store_commit(f->s, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "without a transaction"));
    store_rollback(f->s);   /* harmless without a transaction */
    store_task_run_clear(&t);
}

static void *forgetful_thread(void *p)
{
    store *s = p;
    kerr e = KERR_INIT;
    if (store_begin(s, &e) == 0)
        insert_exec(s, "forgotten", "ns", "flow");
    return NULL;   /* exits inside its transaction */
}

static void test_thread_exiting_in_a_transaction_rolls_it_back(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    pthread_t th;
    pthread_create(&th, NULL, forgetful_thread, f->s);
    pthread_join(th, NULL);
    /* the write lock came back, the writes did not */
    insert_exec(f->s, "after", "ns", "flow");
    store_execution x;
    assert_int_equal(store_execution_get(f->s, "forgotten", &x, &e), STORE_NOT_FOUND);
    assert_int_equal(store_execution_get(f->s, "after", &x, &e), 0);
    store_execution_clear(&x);
}

static void test_large_documents_round_trip(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "e1", "ns", "flow");
    /* 2 MB of outputs: far past a page, in the clustered task-run b-tree */
    size_t big = 2 * 1024 * 1024;
    char *text = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)('a' + i % 26);
    text[big] = '\0';
    store_task_run t;
    make_tr(&t, "tr", "e1", "t");
    t.outputs = json_pack("{s:s}", "blob", text);
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_task_run g;
    assert_int_equal(store_task_run_get(f->s, "tr", &g, &e), 0);
    assert_true(json_equal(g.outputs, t.outputs));
    store_task_run_clear(&g);
    store_task_run_clear(&t);

    /* kv values are capped */
    json_t *huge = json_array();
    for (int i = 0; i < 9; i++)
        json_array_append_new(huge, json_string(text));
    assert_int_equal(store_kv_put(f->s, "ns", "huge", huge, 0, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "larger than"));
    json_decref(huge);
    free(text);
}

static void *bump_thread(void *p)
{
    store *s = p;
    kerr e = KERR_INIT;
    store_execution x;
    if (store_execution_get(s, "snap", &x, &e) == 0) {
        store_execution_set_state(&x, STATE_RUNNING, 2);
        store_execution_update(s, &x, &e);
        store_task_run t;
        make_tr(&t, "snap-tr2", "snap", "second");
        store_task_run_insert(s, &t, &e);
        store_task_run_clear(&t);
    }
    store_execution_clear(&x);
    return NULL;
}

static void test_snapshot_reads_one_state_of_the_database(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "snap", "ns", "flow");
    store_task_run t;
    make_tr(&t, "snap-tr1", "snap", "first");
    assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
    store_task_run_clear(&t);

    assert_int_equal(store_snapshot_begin(f->s, &e), 0);
    assert_int_equal(store_snapshot_begin(f->s, &e), STORE_ERROR);
    store_execution x;
    assert_int_equal(store_execution_get(f->s, "snap", &x, &e), 0);
    assert_int_equal(x.version, 1);
    store_execution_clear(&x);
    /* another thread writes meanwhile; it is not blocked */
    pthread_t th;
    pthread_create(&th, NULL, bump_thread, f->s);
    pthread_join(th, NULL);
    assert_int_equal(store_execution_get(f->s, "snap", &x, &e), 0);
    assert_int_equal(x.version, 1);
    assert_int_equal(x.state, STATE_CREATED);
    store_execution_clear(&x);
    store_task_run *v;
    size_t n;
    assert_int_equal(store_task_run_list(f->s, "snap", &v, &n, &e), 0);
    assert_int_equal(n, 1);
    store_task_runs_free(v, n);
    store_snapshot_end(f->s);

    assert_int_equal(store_execution_get(f->s, "snap", &x, &e), 0);
    assert_int_equal(x.version, 2);
    store_execution_clear(&x);
    assert_int_equal(store_task_run_list(f->s, "snap", &v, &n, &e), 0);
    assert_int_equal(n, 2);
    store_task_runs_free(v, n);
    store_snapshot_end(f->s);   /* none open: nothing */
}

/* ---- bad inputs --------------------------------------------------------- */

/* An execution too damaged to read ends in bulk: its row and its unfinished
 * task runs take the state, corrupt documents are replaced, its jobs go. */
static void test_execution_end_bulk_ends_and_repairs(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    insert_exec(f->s, "bulk", "ns", "flow");
    const char *ids[] = {"bulk-1", "bulk-2", "bulk-3"};
    store_state sts[] = {STATE_SUCCESS, STATE_RUNNING, STATE_RUNNING};
    for (int i = 0; i < 3; i++) {
        store_task_run t;
        make_tr(&t, ids[i], "bulk", "task");
        store_task_run_set_state(&t, sts[i], 3000);
        assert_int_equal(store_task_run_insert(f->s, &t, &e), 0);
        store_task_run_clear(&t);
    }
    assert_int_equal(store_queue_push(f->s, "task", "bulk", "bulk-2", NULL, 0, NULL, &e), 0);
    int64_t n = 0;
    assert_int_equal(store_task_run_count(f->s, "bulk", &n, &e), 0);
    assert_int_equal(n, 3);
    /* damage: a history that is not JSON, a state kite does not know */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE task_runs SET histories = '{broken' WHERE id = 'bulk-3';"
                                      "UPDATE executions SET state = 'BOGUS' WHERE id = 'bulk'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    store_execution x;
    assert_int_not_equal(store_execution_get(f->s, "bulk", &x, &e), 0);
    store_task_run *runs;
    size_t nr;
    assert_int_not_equal(store_task_run_list(f->s, "bulk", &runs, &nr, &e), 0);

    size_t ended = 0;
    assert_int_equal(store_execution_end_bulk(f->s, "bulk", STATE_FAILED, 5000, &ended, &e), 0);
    assert_int_equal(ended, 2);
    assert_int_equal(store_execution_get(f->s, "bulk", &x, &e), 0);
    assert_int_equal(x.state, STATE_FAILED);
    assert_int_equal(x.end_us, 5000);
    assert_int_equal(x.histories[x.n_histories - 1].state, STATE_FAILED);
    store_execution_clear(&x);
    assert_int_equal(store_task_run_list(f->s, "bulk", &runs, &nr, &e), 0);
    assert_int_equal(nr, 3);
    assert_int_equal(runs[0].state, STATE_SUCCESS);
    assert_int_equal(runs[1].state, STATE_FAILED);
    assert_int_equal(runs[1].histories[runs[1].n_histories - 1].at_us, 5000);
    assert_int_equal(runs[2].state, STATE_FAILED);
    store_task_runs_free(runs, nr);
    int64_t waiting = -1, leased = -1;
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, &leased, &e), 0);
    assert_int_equal(waiting + leased, 0);
    assert_int_equal(store_execution_end_bulk(f->s, "nope", STATE_FAILED, 0, NULL, &e), STORE_NOT_FOUND);
    assert_int_not_equal(store_execution_end_bulk(f->s, "bulk", STATE_RUNNING, 0, NULL, &e), 0);
}

static atomic_int wal_readers_stop;

static void *wal_reader(void *p)
{
    store *s = p;
    while (!atomic_load(&wal_readers_stop)) {
        kerr e = KERR_INIT;
        store_execution x;
        if (store_execution_get(s, "wal", &x, &e) == 0)
            store_execution_clear(&x);
    }
    return NULL;
}

static long wal_bytes(const char *path)
{
    char p[256];
    snprintf(p, sizeof p, "%s-wal", path);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return 0;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

/* Readers that never all rest at once (a busy engine's) kept the WAL from
 * ever being rewound: it grew with every commit (270 MB during a ForEach).
 * Here 3,000 commits of a 3 KB row, with 200 pages as the checkpoint
 * threshold and three readers that never rest: unbounded, the WAL reached
 * 69 MB; rewound, it stays under 10 MB (the growth while a checkpoint runs). */
static void test_wal_stays_bounded_under_constant_reads(void **state)
{
    fx *f = *state;
    char path[192];
    snprintf(path, sizeof path, "%s/wal.db", f->dir);
    store_opts o = STORE_OPTS_INIT;
    o.checkpoint_pages = 200;
    store *s;
    kerr e = KERR_INIT;
    assert_int_equal(store_open(path, &o, &s, &e), 0);
    insert_exec(s, "wal", "ns", "flow");
    atomic_store(&wal_readers_stop, 0);
    pthread_t rd[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&rd[i], NULL, wal_reader, s);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    long peak = 0;
    for (int i = 0; i < 3000; i++) {
        store_task_run t;
        char id[32];
        snprintf(id, sizeof id, "wal-tr-%d", i);
        make_tr(&t, id, "wal", "task");
        t.outputs = json_pack("{s:s}", "big", big);
        assert_int_equal(store_task_run_insert(s, &t, &e), 0);
        store_task_run_clear(&t);
        if (i % 20 == 0) {
            long w = wal_bytes(path);
            if (w > peak)
                peak = w;
        }
    }
    atomic_store(&wal_readers_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(rd[i], NULL);
    store_free(s);
    rm_db(path);
    if (peak >= 24L << 20)
        fail_msg("the WAL reached %ld bytes", peak);
}

static void test_bad_inputs_are_rejected_with_the_field_named(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    char big[STORE_ID_MAX + 50];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    store_execution x;
    make_exec(&x, "ok", "ns", "flow");
    free(x.namespace);
    x.namespace = NULL;
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: execution.namespace is missing");
    x.namespace = strdup(big);
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "execution.namespace is longer than 256 bytes"));
    free(x.namespace);
    x.namespace = strdup("");
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: execution.namespace is empty");
    free(x.namespace);
    x.namespace = strdup("ns");
    x.state = (store_state)77;
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "execution.state"));
    x.state = STATE_CREATED;
    x.parent_id = strdup(big);
    assert_int_equal(store_execution_insert(f->s, &x, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "execution.parent_id"));
    store_execution_clear(&x);

    store_execution y;
    assert_int_equal(store_execution_get(f->s, NULL, &y, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: execution id is missing");
    assert_int_equal(store_execution_get(f->s, big, &y, &e), STORE_ERROR);

    store_task_run t;
    make_tr(&t, "tr", "ok", "log");
    free(t.task_id);
    t.task_id = NULL;
    assert_int_equal(store_task_run_insert(f->s, &t, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: task_run.task_id is missing");
    store_task_run_clear(&t);

    assert_int_equal(store_flow_put(f->s, "ns", big, "x", NULL, NULL, NULL, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "flow id is longer"));
    assert_int_equal(store_flow_put(f->s, "ns", "id", NULL, NULL, NULL, NULL, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: flow source is missing");
    store_flow fl;
    assert_int_equal(store_flow_get(f->s, "ns", "id", -1, &fl, &e), STORE_ERROR);
    assert_int_equal(store_queue_push(f->s, NULL, NULL, NULL, NULL, 0, NULL, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: job kind is missing");
    store_job *j;
    size_t n;
    assert_int_equal(store_queue_lease(f->s, "task", 1, big, 1, 0, &j, &n, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "lease owner"));
    store_log l = {.execution_id = "e", .message = NULL};
    assert_int_equal(store_log_append(f->s, &l, NULL, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: log.message is missing");
    l.message = "m";
    l.level = (store_level)9;
    assert_int_equal(store_log_append(f->s, &l, NULL, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "log.level"));
    json_t *v = json_true();
    assert_int_equal(store_kv_put(f->s, "ns", big, v, 0, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "kv key"));
    store_trigger tr = {.namespace = "ns", .flow_id = "f"};
    assert_int_equal(store_trigger_put(f->s, &tr, &e), STORE_ERROR);
    assert_string_equal(e.msg, "store: trigger id is missing");
    store_metric m = {.name = "x", .type = (store_metric_type)5};
    assert_int_equal(store_metric_add(f->s, &m, &e), STORE_ERROR);
    assert_non_null(strstr(e.msg, "metric.type"));
    store_flow_query fq = {.ns_prefix = big};
    store_flow *fv;
    assert_int_equal(store_flow_search(f->s, &fq, &fv, &n, NULL, &e), STORE_ERROR);
    assert_int_equal(store_flow_search(f->s, NULL, &fv, &n, NULL, &e), STORE_ERROR);

    /* nothing of the above reached the database */
    int64_t waiting;
    assert_int_equal(store_queue_depth(f->s, NULL, &waiting, NULL, &e), 0);
    assert_int_equal(waiting, 0);
}

/* ---- owners, release and wake-ups -------------------------------------------------- */

/* store_queue_release hands back every lease of one process ("<id>/"),
 * whatever its deadline, and no one else's (not "p10/" for "p1/"). */
static void test_queue_release_by_owner_prefix(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    const char *owners[] = {"p1/executor", "p1/worker-0", "p10/worker-0"};
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_queue_push(f->s, "task", NULL, NULL, NULL, 0, &ids[i], &e), 0);
        store_job *j = NULL;
        size_t n = 0;
        assert_int_equal(store_queue_lease(f->s, "task", 1, owners[i], 3600LL * 1000000, 0, &j, &n, &e), 0);
        assert_int_equal(n, 1);
        store_jobs_free(j, n);
    }
    char **who = NULL;
    size_t nw = 0;
    assert_int_equal(store_queue_owners(f->s, &who, &nw, &e), 0);
    assert_int_equal(nw, 3);
    assert_string_equal(who[0], "p1/executor");
    assert_string_equal(who[2], "p10/worker-0");
    store_strings_free(who, nw);
    size_t requeued = 0, dropped = 0;
    assert_int_equal(store_queue_release(f->s, "p1/", &requeued, &dropped, &e), 0);
    assert_int_equal(requeued, 2);
    assert_int_equal(dropped, 0);
    assert_int_equal(store_queue_extend(f->s, ids[0], "p1/executor", 1, &e), STORE_CONFLICT);
    assert_int_equal(store_queue_extend(f->s, ids[2], "p10/worker-0", store_now_us() + 1000000, &e), 0);
    store_job *j = NULL;
    size_t n = 0;
    assert_int_equal(store_queue_lease(f->s, "task", 10, "p2/worker-0", 1000000, 0, &j, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(j[0].attempt, 2);
    store_jobs_free(j, n);
}

typedef struct waiter {
    store *s;
    uint64_t seen, got;
} waiter;

static void *wait_events(void *arg)
{
    waiter *w = arg;
    kerr e = KERR_INIT;
    store_queue_wait(w->s, "event", w->seen, 30LL * 1000000, &w->got, &e);
    return NULL;
}

/* The wake-up counter of a kind moves on at the commit that pushed a job of
 * that kind (not before, not for another kind), and wakes a waiter. */
static void test_queue_wait_wakes_at_commit(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    uint64_t ev0 = 0, task0 = 0, now = 0;
    assert_int_equal(store_queue_wait(f->s, "event", 0, 0, &ev0, &e), 0);
    assert_int_equal(store_queue_wait(f->s, "task", 0, 0, &task0, &e), 0);
    assert_int_equal(store_begin(f->s, &e), 0);
    assert_int_equal(store_queue_push(f->s, "event", NULL, NULL, NULL, 0, NULL, &e), 0);
    assert_int_equal(store_queue_wait(f->s, "event", ev0, 0, &now, &e), 0);
    assert_true(now == ev0); /* not committed yet */
    assert_int_equal(store_commit(f->s, &e), 0);
    assert_int_equal(store_queue_wait(f->s, "event", ev0, 0, &now, &e), 0);
    assert_true(now != ev0);
    assert_int_equal(store_queue_wait(f->s, "task", task0, 0, &now, &e), 0);
    assert_true(now == task0);
    /* a rolled back push moves nothing */
    assert_int_equal(store_queue_wait(f->s, "event", 0, 0, &ev0, &e), 0);
    assert_int_equal(store_begin(f->s, &e), 0);
    assert_int_equal(store_queue_push(f->s, "event", NULL, NULL, NULL, 0, NULL, &e), 0);
    store_rollback(f->s);
    assert_int_equal(store_queue_wait(f->s, "event", ev0, 0, &now, &e), 0);
    assert_true(now == ev0);
    /* a waiter on another thread returns with the moved counter */
    waiter w = {.s = f->s, .seen = ev0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_events, &w), 0);
    assert_int_equal(store_queue_push(f->s, "event", NULL, NULL, NULL, 0, NULL, &e), 0);
    pthread_join(t, NULL);
    assert_true(w.got != ev0);
    /* and notify moves it too */
    assert_int_equal(store_queue_wait(f->s, "task", 0, 0, &task0, &e), 0);
    store_queue_notify(f->s, "task");
    assert_int_equal(store_queue_wait(f->s, "task", task0, 0, &now, &e), 0);
    assert_true(now != task0);
}

/* ---- access control and audit ------------------------------------------- */

static int only_team(void *ud, const char *ns)
{
    (void)ud;
    return !strcmp(ns, "company.team");
}

static void test_access_rows_generation_and_audit(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int64_t g0 = 0, g1 = 0, g2 = 0;
    assert_int_equal(store_auth_generation(f->s, &g0, &e), 0);
    store_principal p = {.name = "ci", .kind = "service"};
    int created = 0;
    assert_int_equal(store_principal_put(f->s, &p, &created, &e), 0);
    assert_int_equal(created, 1);
    p.kind = "user";
    p.password_hash = "$argon2id$x";
    assert_int_equal(store_principal_put(f->s, &p, &created, &e), 0);
    assert_int_equal(created, 0);
    store_principal got;
    assert_int_equal(store_principal_get(f->s, "ci", &got, &e), 0);
    assert_string_equal(got.kind, "user");
    assert_string_equal(got.password_hash, "$argon2id$x");
    store_principal_clear(&got);
    p.kind = "robot";
    assert_int_not_equal(store_principal_put(f->s, &p, NULL, &e), 0);
    assert_non_null(strstr(e.msg, "principal.kind"));

    json_t *scope = json_pack("[{s:s,s:s}]", "role", "viewer", "namespace", "a.*");
    store_token t = {.id = "t1", .name = "ci", .owner = "ci", .sha256 = "abc", .scope = scope, .expires_us = 99};
    assert_int_equal(store_token_insert(f->s, &t, &e), 0);
    assert_int_equal(store_auth_generation(f->s, &g1, &e), 0);
    assert_true(g1 > g0);
    store_token ft;
    int64_t gen = 0;
    assert_int_equal(store_token_find(f->s, "abc", &ft, &gen, &e), 0);
    assert_int_equal(gen, g1);
    assert_string_equal(ft.owner, "ci");
    assert_int_equal(ft.expires_us, 99);
    assert_true(json_equal(ft.scope, scope));
    store_token_clear(&ft);
    assert_int_equal(store_token_find(f->s, "nope", &ft, NULL, &e), STORE_NOT_FOUND);
    assert_int_equal(store_token_revoke(f->s, "t1", 5, &e), 0);
    assert_int_equal(store_token_revoke(f->s, "t1", 7, &e), 0);
    assert_int_equal(store_token_get(f->s, "t1", &ft, &e), 0);
    assert_int_equal(ft.revoked_us, 5); /* the first revocation stays */
    store_token_clear(&ft);
    assert_int_equal(store_token_revoke(f->s, "t9", 5, &e), STORE_NOT_FOUND);
    json_decref(scope);

    json_t *st = json_pack("[{s:s,s:[s]}]", "effect", "deny", "actions", "*");
    store_role ro = {.name = "nothing", .statements = st};
    assert_int_equal(store_role_put(f->s, &ro, &created, &e), 0);
    assert_int_equal(created, 1);
    json_decref(st);
    store_binding b = {.id = "b1", .principal = "ci", .role = "nothing", .namespace = "a.*"};
    assert_int_equal(store_binding_insert(f->s, &b, &e), 0);
    b.id = "b2";
    assert_int_equal(store_binding_insert(f->s, &b, &e), STORE_DUPLICATE);
    store_binding *bs = NULL;
    size_t n = 0;
    assert_int_equal(store_binding_list(f->s, "ci", &bs, &n, &e), 0);
    assert_int_equal(n, 1);
    store_bindings_free(bs, n);
    /* removing a principal takes its tokens and bindings */
    assert_int_equal(store_principal_delete(f->s, "ci", &e), 0);
    assert_int_equal(store_binding_list(f->s, NULL, &bs, &n, &e), 0);
    assert_int_equal(n, 0);
    store_bindings_free(bs, n);
    assert_int_equal(store_token_get(f->s, "t1", &ft, &e), STORE_NOT_FOUND);
    assert_int_equal(store_auth_generation(f->s, &g2, &e), 0);
    assert_true(g2 > g1);

    /* the audit log: appended, searched newest first, never changed */
    json_t *after = json_pack("{s:s}", "source", "id: f");
    store_audit a = {.principal = "alice", .address = "127.0.0.1", .action = "flow:write", .kind = "flow",
                     .namespace = "company.team", .object_id = "f", .after = after};
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(store_audit_append(f->s, &a, &id1, &e), 0);
    a.action = "flow:delete";
    a.namespace = "company.other";
    assert_int_equal(store_audit_append(f->s, &a, &id2, &e), 0);
    json_decref(after);
    assert_true(id2 > id1);
    store_audit *v = NULL;
    int64_t total = 0;
    store_audit_query q = {.ns_prefix = "company"};
    assert_int_equal(store_audit_search(f->s, &q, &v, &n, &total, &e), 0);
    assert_int_equal(total, 2);
    assert_int_equal(v[0].id, id2);
    assert_string_equal(json_string_value(json_object_get(v[1].after, "source")), "id: f");
    store_audits_free(v, n);
    store_audit_query q2 = {.action = "flow:write"};
    assert_int_equal(store_audit_search(f->s, &q2, &v, &n, &total, &e), 0);
    assert_int_equal(total, 1);
    store_audits_free(v, n);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET principal = 'x'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A caller's namespace filter applies in the query: pages and totals. */
static void test_search_namespace_filter(void **state)
{
    fx *f = *state;
    kerr e = KERR_INIT;
    int rev;
    assert_int_equal(store_flow_put(f->s, "company.team", "a", "id: a\n", NULL, &rev, NULL, &e), 0);
    assert_int_equal(store_flow_put(f->s, "company.other", "b", "id: b\n", NULL, &rev, NULL, &e), 0);
    insert_exec(f->s, "x1", "company.team", "a");
    insert_exec(f->s, "x2", "company.other", "b");
    insert_exec(f->s, "x3", "company.other", "b");
    store_ns_filter nf = {.allow = only_team};
    store_flow_query q = {.ns_filter = &nf};
    store_flow *fl = NULL;
    size_t n = 0;
    int64_t total = 0;
    assert_int_equal(store_flow_search(f->s, &q, &fl, &n, &total, &e), 0);
    assert_int_equal(total, 1);
    assert_int_equal(n, 1);
    assert_string_equal(fl[0].namespace, "company.team");
    store_flows_free(fl, n);
    store_execution_query xq = {.ns_filter = &nf};
    store_execution *xs = NULL;
    assert_int_equal(store_execution_search(f->s, &xq, &xs, &n, &total, &e), 0);
    assert_int_equal(total, 1);
    assert_string_equal(xs[0].id, "x1");
    store_executions_free(xs, n);
    store_execution_query all = {0};
    assert_int_equal(store_execution_search(f->s, &all, &xs, &n, &total, &e), 0);
    assert_int_equal(total, 3);
    store_executions_free(xs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_round_trip),
        cmocka_unit_test(test_new_id_is_base62_and_unique),
        cmocka_unit_test_setup_teardown(test_access_rows_generation_and_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_namespace_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_migrates_an_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_new_store_is_what_the_migrations_make, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_applies_missing_migrations_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_foreign_files_and_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_revisions_only_when_source_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flow_search_prefix_text_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execution_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execution_update_detects_stale_versions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_execution_search_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_runs_in_creation_order_with_attempts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_execution_delete_takes_its_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_filters_paging_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_lease_ack_extend_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_expiry_requeues_or_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_stays_bounded_under_constant_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_release_by_owner_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_wait_wakes_at_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execution_end_bulk_ends_and_repairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_four_threads_never_share_a_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queue_two_processes_never_share_a_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locked_database_fails_writes_not_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kv_put_get_expire_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_reserved_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triggers_state_and_ticks_fire_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_schedulers_fire_a_tick_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transactions_commit_rollback_and_isolation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_thread_exiting_in_a_transaction_rolls_it_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_documents_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_run_documents_in_any_json_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_keys_follow_the_latest_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_reads_one_state_of_the_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs_are_rejected_with_the_field_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_execution_stats_aggregates_in_the_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
