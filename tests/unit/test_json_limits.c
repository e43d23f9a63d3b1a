/*
 * test_json_limits.c: util/json_limits: the text check (brackets inside
 * strings and escapes not counted, the position of the offending bracket),
 * the tree check (arrays and objects, exactly at and one past the limit),
 * and the limited loader's error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/json_limits.h"
#include "util/mem.h"

static char *nested(int n, char open, char close)
{
    char *s = xmalloc((size_t)n * 2 + 1);
    memset(s, open, (size_t)n);
    memset(s + n, close, (size_t)n);
    s[2 * n] = '\0';
    return s;
}

static void text_depth(void **state)
{
    char *s = nested(128, '[', ']');
    assert_int_equal(json_text_depth_exceeds(s, strlen(s), 128, NULL, NULL), 0);
    free(s);
    s = nested(129, '[', ']');
    int line = 0, col = 0;
    assert_int_equal(json_text_depth_exceeds(s, strlen(s), 128, &line, &col), 1);
    assert_int_equal(line, 1);
    assert_int_equal(col, 129);
    free(s);
    const char *str = "[\"[[[[[[\\\"[[[[\", {\"a\": \"}}}{{{\"}]";
    assert_int_equal(json_text_depth_exceeds(str, strlen(str), 2, NULL, NULL), 0);
    assert_int_equal(json_text_depth_exceeds(str, strlen(str), 1, NULL, NULL), 1);
    const char *lines = "{\n \"a\":\n  [\n   [1]]}";
    assert_int_equal(json_text_depth_exceeds(lines, strlen(lines), 2, &line, &col), 1);
    assert_int_equal(line, 4);
    assert_int_equal(col, 4);
    assert_int_equal(json_text_depth_exceeds("", 0, 0, NULL, NULL), 0);
    assert_int_equal(json_text_depth_exceeds("1", 1, 0, NULL, NULL), 0);
}

static void tree_depth(void **state)
{
    assert_int_equal(json_depth_exceeds(NULL, 1), 0);
    json_t *one = json_integer(1);
    assert_int_equal(json_depth_exceeds(one, 0), 0);
    json_decref(one);
    for (int n = 127; n <= 129; n++) {
        char *s = nested(n, '[', ']');
        json_t *a = json_loads(s, 0, NULL);
        assert_non_null(a);
        assert_int_equal(json_depth_exceeds(a, 128), n > 128);
        json_decref(a);
        free(s);
    }
    /* objects, and a deep branch after shallow siblings */
    json_t *o = json_loads("{\"x\": 1, \"y\": [1, 2, {\"z\": [[3]]}], \"w\": {}}", 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_depth_exceeds(o, 5), 0);
    assert_int_equal(json_depth_exceeds(o, 4), 1);
    json_decref(o);
    /* 3,000 levels, far past what a recursive walk on a small stack survives */
    json_t *root = json_object();
    for (int i = 1; i < 3000; i++) {
        json_t *parent = i % 2 ? json_array() : json_object();
        if (json_is_array(parent))
            json_array_append_new(parent, root);
        else
            json_object_set_new(parent, "k", root);
        root = parent;
    }
    assert_int_equal(json_depth_exceeds(root, 128), 1);
    assert_int_equal(json_depth_exceeds(root, 5000), 0);
    assert_int_equal(json_depth_exceeds(root, 3000), 0);
    assert_int_equal(json_depth_exceeds(root, 2999), 1);
    json_decref(root);
}

static void limited_loader(void **state)
{
    char *s = nested(1700, '[', ']');
    json_error_t je;
    assert_null(json_loadb_limited(s, strlen(s), 0, JSON_MAX_DEPTH, &je));
    assert_non_null(strstr(je.text, "128"));
    assert_int_equal(je.column, 129);
    free(s);
    json_t *ok = json_loadb_limited("{\"a\": [1]}", 10, 0, JSON_MAX_DEPTH, &je);
    assert_non_null(ok);
    json_decref(ok);
    assert_null(json_loadb_limited("{\"a\": ", 6, 0, JSON_MAX_DEPTH, &je)); /* jansson's own error */
    assert_non_null(strstr(je.text, "end of file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_depth),
        cmocka_unit_test(tree_depth),
        cmocka_unit_test(limited_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
