/*
 * test_yaml.c: the YAML loader: typing of scalars, positions of nodes, and
 * hostile input (duplicate keys, aliases, size, depth, bad UTF-8).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "util/mem.h"

static json_t *load(const char *text, posmap **pm, kerr *e)
{
    json_t *out = NULL;
    if (yaml_load(text, strlen(text), NULL, &out, pm, e))
        return NULL;
    return out;
}

static void scalars_are_typed_as_kestra_reads_them(void **state)
{
    kerr e = KERR_INIT;
    json_t *j = load("a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: null\ng: ~\nh:\ni: '1'\nj: \"true\"\n"
                     "k: 0x1F\nl: 1e3\nm: hello\nn: 2023-01-01\no: yes\np: 1_000\n",
                     NULL, &e);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "b")), -2);
    assert_true(json_is_real(json_object_get(j, "c")));
    assert_true(json_is_true(json_object_get(j, "d")));
    assert_true(json_is_false(json_object_get(j, "e")));
    assert_true(json_is_null(json_object_get(j, "f")));
    assert_true(json_is_null(json_object_get(j, "g")));
    assert_true(json_is_null(json_object_get(j, "h")));
    assert_string_equal(json_string_value(json_object_get(j, "i")), "1");
    assert_string_equal(json_string_value(json_object_get(j, "j")), "true");
    assert_int_equal(json_integer_value(json_object_get(j, "k")), 31);
    assert_true(json_is_real(json_object_get(j, "l")));
    assert_string_equal(json_string_value(json_object_get(j, "m")), "hello");
    assert_string_equal(json_string_value(json_object_get(j, "n")), "2023-01-01");
    assert_string_equal(json_string_value(json_object_get(j, "o")), "yes");
    assert_int_equal(json_integer_value(json_object_get(j, "p")), 1000);
    json_decref(j);
}

static void positions_name_line_and_column_of_keys_and_values(void **state)
{
    kerr e = KERR_INIT;
    posmap *pm = NULL;
    json_t *j = load("id: x\ntasks:\n  - id: a\n    type: log\n    message: \"hi\"\n  - id: b/c\n", &pm, &e);
    assert_non_null(j);
    const ypos *p = posmap_get(pm, "/tasks/0/type");
    assert_non_null(p);
    assert_int_equal(p->line, 4);
    assert_int_equal(p->col, 11);
    assert_int_equal(p->key_line, 4);
    assert_int_equal(p->key_col, 5);
    p = posmap_get(pm, "/tasks/1");
    assert_non_null(p);
    assert_int_equal(p->line, 6);
    assert_int_equal(p->col, 5);
    p = posmap_get(pm, "/tasks/1/id");
    assert_non_null(p);
    assert_int_equal(p->col, 9);
    /* an unknown pointer falls back to its nearest ancestor */
    p = posmap_find(pm, "/tasks/0/nope/deeper");
    assert_non_null(p);
    assert_int_equal(p->line, 3);
    json_decref(j);
    posmap_free(pm);
}

static void keys_with_slash_and_tilde_are_escaped(void **state)
{
    kerr e = KERR_INIT;
    posmap *pm = NULL;
    json_t *j = load("inputFiles:\n  dir/a.txt: x\n  til~de: y\n", &pm, &e);
    assert_non_null(j);
    assert_non_null(posmap_get(pm, "/inputFiles/dir~1a.txt"));
    assert_non_null(posmap_get(pm, "/inputFiles/til~0de"));
    json_decref(j);
    posmap_free(pm);
}

static void duplicate_keys_are_rejected_with_both_lines(void **state)
{
    kerr e = KERR_INIT;
    json_t *j = load("a: 1\nb:\n  c: 1\n  c: 2\n", NULL, &e);
    assert_null(j);
    assert_int_equal(e.line, 4);
    assert_int_equal(e.col, 3);
    assert_string_equal(e.msg, "duplicate key 'c' (first defined at line 3)");
}

static void syntax_errors_have_positions(void **state)
{
    kerr e = KERR_INIT;
    json_t *j = load("a: [1, 2\nb: 3\n", NULL, &e);
    assert_null(j);
    assert_true(e.line >= 1);
    assert_non_null(strstr(e.msg, "flow sequence"));
    j = load("a: b: c\n", NULL, &e);
    assert_null(j);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.col, 5);
}

static void aliases_share_values(void **state)
{
    kerr e = KERR_INIT;
    json_t *j = load("base: &b {x: 1, y: [1,2]}\ncopy: *b\n", NULL, &e);
    assert_non_null(j);
    assert_true(json_equal(json_object_get(j, "base"), json_object_get(j, "copy")));
    json_decref(j);
}

static void billion_laughs_fails_fast(void **state)
{
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    kerr e = KERR_INIT;
    json_t *j = load(bomb, NULL, &e);
    assert_null(j);
    assert_non_null(strstr(e.msg, "aliases are expanded"));
}

static void depth_and_size_are_capped(void **state)
{
    yaml_limits lim;
    yaml_limits_default(&lim);
    lim.max_depth = 10;
    char deep[200] = "";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    kerr e = KERR_INIT;
    json_t *out;
    assert_int_equal(yaml_load(deep, strlen(deep), &lim, &out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "nesting deeper than 10"));
    lim.max_bytes = 8;
    assert_int_equal(yaml_load("a: 123456789", 12, &lim, &out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "file too large"));
}

static void invalid_utf8_and_nul_are_rejected(void **state)
{
    kerr e = KERR_INIT;
    json_t *out;
    const char bad[] = "a: \xff\xfe\n";
    assert_int_equal(yaml_load(bad, sizeof bad - 1, NULL, &out, NULL, &e), -1);
    assert_int_equal(e.line, 1);
    const char nul[] = "a: b\nc: d\0e\n";
    assert_int_equal(yaml_load(nul, sizeof nul - 1, NULL, &out, NULL, &e), -1);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 5);
    assert_non_null(strstr(e.msg, "NUL"));
}

/* libyaml's reader gives only a byte offset (its mark stays at 1:1): the
 * loader counts the line and the column (in characters) of the character
 * that is broken, also past multibyte characters and inside comments. */
static void invalid_utf8_is_reported_at_its_line_and_column(void **state)
{
    kerr e = KERR_INIT;
    json_t *out;
    const char trail[] = "id: a\nnamespace: b\ntasks:\n  - msg: \"\xc3\xa9t\xc3\xa9 caf\xe9 ok\"\n";
    assert_int_equal(yaml_load(trail, sizeof trail - 1, NULL, &out, NULL, &e), -1);
    assert_int_equal(e.line, 4);
    assert_int_equal(e.col, 18); /* "  - msg: \"été caf" is 17 characters */
    assert_non_null(strstr(e.msg, "invalid UTF-8"));
    assert_non_null(strstr(e.msg, "0xe9"));
    kerr_clear(&e);
    const char lead[] = "a: 1\n# comment\nb: x\xffy\n";
    assert_int_equal(yaml_load(lead, sizeof lead - 1, NULL, &out, NULL, &e), -1);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.col, 5);
    assert_non_null(strstr(e.msg, "0xff"));
    kerr_clear(&e);
    const char cut[] = "a: 1\nb: \xe2\x82";  /* a character cut by the end of the file */
    assert_int_equal(yaml_load(cut, sizeof cut - 1, NULL, &out, NULL, &e), -1);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 4);
    kerr_clear(&e);
}

static void several_documents_are_refused(void **state)
{
    kerr e = KERR_INIT;
    assert_null(load("a: 1\n---\nb: 2\n", NULL, &e));
    assert_non_null(strstr(e.msg, "more than one YAML document"));
    assert_int_equal(e.line, 2);
}

static void tags_are_honoured_or_refused(void **state)
{
    kerr e = KERR_INIT;
    json_t *j = load("a: !!str 12\nb: !!int \"7\"\n", NULL, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "a")), "12");
    assert_int_equal(json_integer_value(json_object_get(j, "b")), 7);
    json_decref(j);
    assert_null(load("a: !custom x\n", NULL, &e));
    assert_non_null(strstr(e.msg, "unsupported YAML tag"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_are_typed_as_kestra_reads_them),
        cmocka_unit_test(positions_name_line_and_column_of_keys_and_values),
        cmocka_unit_test(keys_with_slash_and_tilde_are_escaped),
        cmocka_unit_test(duplicate_keys_are_rejected_with_both_lines),
        cmocka_unit_test(syntax_errors_have_positions),
        cmocka_unit_test(aliases_share_values),
        cmocka_unit_test(billion_laughs_fails_fast),
        cmocka_unit_test(depth_and_size_are_capped),
        cmocka_unit_test(invalid_utf8_and_nul_are_rejected),
        cmocka_unit_test(invalid_utf8_is_reported_at_its_line_and_column),
        cmocka_unit_test(several_documents_are_refused),
        cmocka_unit_test(tags_are_honoured_or_refused),
    };
    return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
