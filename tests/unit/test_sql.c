/*
 * test_sql.c: the SQL family's shared pieces (tasks/sql/sql_int.h) without a
 * server: JDBC urls (what messages name, credentials kept out of it),
 * :name parameters rewritten into placeholders outside quotes, comments and
 * :: casts, and Queries's statement splitting. The drivers themselves run
 * against real servers in tests/e2e/sql.sh.
 */
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>

#include "tasks/sql/sql_int.h"

static void test_url_postgresql(void **state)
{
    sql_url u;
    kerr e = KERR_INIT;
    assert_int_equal(sql__url_parse("jdbc:postgresql://db1.internal:6543/shop?sslmode=require&user=bob&password=s3cret",
                                    &sql__pg, NULL, NULL, &u, &e), 0);
    assert_string_equal(u.host, "db1.internal");
    assert_int_equal(u.port, 6543);
    assert_string_equal(u.db, "shop");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(json_string_value(json_object_get(u.opts, "sslmode")), "require");
    assert_null(json_object_get(u.opts, "password"));
    assert_string_equal(u.target, "postgresql://db1.internal:6543/shop");
    sql__url_free(&u);
    /* the task's username/password win; default port; IPv6 */
    assert_int_equal(sql__url_parse("jdbc:postgresql://[::1]/x?user=a", &sql__pg, "kite", "pw", &u, &e), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.user, "kite");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.target, "postgresql://[::1]:5432/x");
    sql__url_free(&u);
}

static void test_url_others(void **state)
{
    sql_url u;
    kerr e = KERR_INIT;
    assert_int_equal(sql__url_parse("jdbc:mariadb://u:p%40ss@127.0.0.1:3307/kite", &sql__mysql, NULL, NULL, &u, &e), 0);
    assert_string_equal(u.user, "u");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.target, "mariadb://127.0.0.1:3307/kite");
    sql__url_free(&u);
    assert_int_equal(sql__url_parse("jdbc:sqlite:/tmp/a.db", &sql__sqlite, NULL, NULL, &u, &e), 0);
    assert_string_equal(u.db, "/tmp/a.db");
    assert_string_equal(u.target, "sqlite:/tmp/a.db");
    sql__url_free(&u);
    assert_int_equal(sql__url_parse("jdbc:duckdb:", &sql__duckdb, NULL, NULL, &u, &e), 0);
    assert_null(u.db);
    sql__url_free(&u);
}

static void test_url_errors(void **state)
{
    sql_url u;
    kerr e = KERR_INIT;
    assert_int_equal(sql__url_parse("jdbc:mysql://h/db", &sql__pg, NULL, NULL, &u, &e), -1);
    assert_non_null(strstr(e.msg, "a postgresql task needs a jdbc:postgresql: url, not 'mysql:'"));
    sql__url_free(&u);
    kerr_clear(&e);
    assert_int_equal(sql__url_parse("jdbc:postgresql://h:99999/db?password=zz", &sql__pg, NULL, NULL, &u, &e), -1);
    assert_non_null(strstr(e.msg, "bad port"));
    assert_null(strstr(e.msg, "zz"));
    sql__url_free(&u);
}

static void test_names_become_placeholders(void **state)
{
    json_t *params = json_pack("{s:i,s:s}", "id", 7, "name", "x");
    json_t *args = json_array();
    kerr e = KERR_INIT;
    char *s = sql__bind_names("SELECT ':id', \"a:b\", x::int -- :name\n FROM t WHERE id = :id "
                              "AND n = :name /* :id */ OR id = :id",
                              params, '$', args, &e);
    assert_string_equal(s, "SELECT ':id', \"a:b\", x::int -- :name\n FROM t WHERE id = $1 "
                           "AND n = $2 /* :id */ OR id = $3");
    assert_int_equal(json_array_size(args), 3);
    assert_int_equal(json_integer_value(json_array_get(args, 2)), 7);
    free(s);
    json_array_clear(args);
    s = sql__bind_names("SELECT :name", params, '?', args, &e);
    assert_string_equal(s, "SELECT ?");
    free(s);
    assert_null(sql__bind_names("SELECT :missing", params, '?', args, &e));
    assert_non_null(strstr(e.msg, "no value for ':missing'"));
    /* no parameters: the SQL as written */
    s = sql__bind_names("SELECT :x", NULL, '?', args, &e);
    assert_string_equal(s, "SELECT :x");
    free(s);
    json_decref(args);
    json_decref(params);
}

static void test_split_statements(void **state)
{
    json_t *a = sql__split_statements("CREATE TABLE t (s text);\n INSERT INTO t VALUES ('a;b');"
                                      " -- c;d\n SELECT 1 /* ; */;;\n"
                                      "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;  ");
    assert_int_equal(json_array_size(a), 4);
    assert_string_equal(json_string_value(json_array_get(a, 1)), "INSERT INTO t VALUES ('a;b')");
    assert_string_equal(json_string_value(json_array_get(a, 2)), "-- c;d\n SELECT 1 /* ; */");
    assert_string_equal(json_string_value(json_array_get(a, 3)),
                        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql");
    json_decref(a);
}

static void test_scrub(void **state)
{
    kerr e = KERR_INIT;
    kerr_set(&e, "login hunter2 failed (hunter2)");
    sql__scrub(&e, "hunter2");
    assert_string_equal(e.msg, "login **** failed (****)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_postgresql),
        cmocka_unit_test(test_url_others),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_names_become_placeholders),
        cmocka_unit_test(test_split_statements),
        cmocka_unit_test(test_scrub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
