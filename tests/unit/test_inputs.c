/*
 * test_inputs.c: an execution's inputs read against the flow's declared
 * inputs (engine_inputs_read) and flow outputs typed (engine_output_typed):
 * every type in its text and typed JSON forms, the exact messages of rejected
 * values, defaults, required inputs, validators and bounds, nested ids, FILE
 * uploads into a real storage in a temporary folder, and the inputs of
 * Kestra's own inputs.yaml with the values Kestra's InputsTest passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "flow/flow.h"
#include "storage/storage.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/mem.h"

#define COMPAT_INPUTS "/work/shared/compat/kestra/valids/inputs.yaml"

static kerr err;

static int setup(void **state)
{
    tasks_register_all();
    return 0;
}

/* A flow with the given inputs section (YAML lines, already indented). */
static flow *load_flow(const char *inputs)
{
    buf b = BUF_INIT;
    buf_printf(&b, "id: f\nnamespace: company.team\ninputs:\n%s"
                   "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
               inputs);
    flow *f = NULL;
    diags d = DIAGS_INIT;
    if (flow_load_text(buf_str(&b), b.len, "t.yaml", &f, &d)) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%d:%d: %s\n", d.v[i].line, d.v[i].col, d.v[i].msg);
        fail_msg("flow does not load:\n%s", buf_str(&b));
    }
    diags_free(&d);
    buf_free(&b);
    return f;
}

static json_t *parse(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad JSON in test: %s: %s", json, je.text);
    return j;
}

/* One input 'x' declared as decl ("type: INT\nmin: 1", indented here), read
 * with the given value (JSON text; NULL: nothing given). Returns the result
 * object or NULL with err set. */
static json_t *read_one(const char *decl, const char *given_json)
{
    buf in = BUF_INIT;
    buf_puts(&in, "  - id: x\n");
    const char *p = decl;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        buf_printf(&in, "    %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    flow *f = load_flow(buf_str(&in));
    buf_free(&in);
    json_t *given = json_object();
    if (given_json)
        json_object_set_new(given, "x", parse(given_json));
    kerr_clear(&err);
    json_t *r = engine_inputs_read(f, given, NULL, NULL, "exec1", &err);
    json_decref(given);
    flow_free(f);
    return r;
}

/* Asserts that x reads as the expected JSON (same type: 3 is not 3.0). */
static void ok(const char *decl, const char *given_json, const char *expected_json)
{
    json_t *r = read_one(decl, given_json);
    if (!r)
        fail_msg("%s <- %s: unexpected error: %s", decl, given_json, err.msg);
    json_t *want = parse(expected_json);
    json_t *got = json_object_get(r, "x");
    if (!got || !json_equal(got, want)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : xstrdup("(absent)");
        fail_msg("%s <- %s: got %s, want %s", decl, given_json, g, expected_json);
    }
    assert_int_equal(json_object_size(r), 1);
    json_decref(want);
    json_decref(r);
}

static void bad(const char *decl, const char *given_json, const char *message)
{
    json_t *r = read_one(decl, given_json);
    if (r) {
        char *g = json_dumps(r, 0);
        fail_msg("%s <- %s: accepted as %s, want error '%s'", decl, given_json, g, message);
    }
    assert_string_equal(err.msg, message);
}

/* ---- scalar types ------------------------------------------------------ */

static void string_takes_any_scalar_as_text(void **state)
{
    ok("type: STRING", "\"abc\"", "\"abc\"");
    ok("type: STRING", "\"\"", "\"\"");
    ok("type: STRING", "42", "\"42\"");
    ok("type: STRING", "1.5", "\"1.5\"");
    ok("type: STRING", "0.1", "\"0.1\"");
    ok("type: STRING", "true", "\"true\"");
    ok("type: STRING", "\"h\\u00e9 \\u65e5\"", "\"h\\u00e9 \\u65e5\"");
    bad("type: STRING", "[1]", "input 'x': expected a string, not a list");
    bad("type: STRING", "{\"a\":1}", "input 'x': expected a string, not an object");
}

static void string_validator_must_match_the_whole_value(void **state)
{
    ok("type: STRING\nvalidator: A\\d+", "\"A123\"", "\"A123\"");
    bad("type: STRING\nvalidator: A\\d+", "\"xA123\"", "input 'x': 'xA123' does not match the validator 'A\\d+'");
    bad("type: STRING\nvalidator: A\\d+", "\"A123x\"", "input 'x': 'A123x' does not match the validator 'A\\d+'");
    bad("type: STRING\nvalidator: A\\d+", "\"A1\\nA2\"",
        "input 'x': 'A1\\nA2' does not match the validator 'A\\d+'");
    /* alternation binds inside the whole-value anchor */
    bad("type: STRING\nvalidator: a|b", "\"ab\"", "input 'x': 'ab' does not match the validator 'a|b'");
    ok("type: STRING\nvalidator: a|b", "\"b\"", "\"b\"");
    ok("type: SECRET\nvalidator: '[a-z]{3,}'", "\"hunter\"", "\"hunter\"");
    bad("type: SECRET\nvalidator: '[a-z]{3,}'", "\"ab\"", "input 'x': 'ab' does not match the validator '[a-z]{3,}'");
}

static void int_accepts_integers_and_integer_text(void **state)
{
    ok("type: INT", "\"42\"", "42");
    ok("type: INT", "\"-7\"", "-7");
    ok("type: INT", "\"+7\"", "7");
    ok("type: INT", "42", "42");
    ok("type: INT", "4.0", "4");
    ok("type: INT", "\"9223372036854775807\"", "9223372036854775807");
    bad("type: INT", "\"12a\"", "input 'x': '12a' is not an integer");
    bad("type: INT", "\"4.0\"", "input 'x': '4.0' is not an integer");
    bad("type: INT", "\" 4\"", "input 'x': ' 4' is not an integer");
    bad("type: INT", "\"\"", "input 'x': '' is not an integer");
    bad("type: INT", "4.5", "input 'x': 4.5 is not an integer");
    bad("type: INT", "\"99999999999999999999\"", "input 'x': '99999999999999999999' is not an integer (out of range)");
    bad("type: INT", "true", "input 'x': expected an integer, not a boolean");
}

static void int_min_and_max_are_inclusive(void **state)
{
    ok("type: INT\nmin: 10\nmax: 20", "\"10\"", "10");
    ok("type: INT\nmin: 10\nmax: 20", "20", "20");
    bad("type: INT\nmin: 10\nmax: 20", "\"9\"", "input 'x': 9 is less than the minimum 10");
    bad("type: INT\nmin: 10\nmax: 20", "21", "input 'x': 21 is more than the maximum 20");
}

static void float_accepts_numbers_and_decimal_text(void **state)
{
    ok("type: FLOAT", "\"42.42\"", "42.42");
    ok("type: FLOAT", "\"1e3\"", "1000.0");
    ok("type: FLOAT", "\".5\"", "0.5");
    ok("type: FLOAT", "3", "3.0");
    ok("type: FLOAT", "2.5", "2.5");
    bad("type: FLOAT", "\"abc\"", "input 'x': 'abc' is not a number");
    bad("type: FLOAT", "\"nan\"", "input 'x': 'nan' is not a number");
    bad("type: FLOAT", "\"0x10\"", "input 'x': '0x10' is not a number");
    bad("type: FLOAT", "\"1e400\"", "input 'x': '1e400' is not a number (out of range)");
    bad("type: FLOAT", "[]", "input 'x': expected a number, not a list");
    ok("type: FLOAT\nmin: 0.1\nmax: 0.5", "\"0.42\"", "0.42");
    bad("type: FLOAT\nmin: 0.1\nmax: 0.5", "\"0.6\"", "input 'x': 0.6 is more than the maximum 0.5");
    bad("type: FLOAT\nmin: 0.1\nmax: 0.5", "0.05", "input 'x': 0.05 is less than the minimum 0.1");
}

static void boolean_accepts_true_and_false_in_any_case(void **state)
{
    ok("type: BOOLEAN", "\"true\"", "true");
    ok("type: BOOLEAN", "\"FALSE\"", "false");
    ok("type: BOOL", "\"True\"", "true");
    ok("type: BOOLEAN", "false", "false");
    bad("type: BOOLEAN", "\"yes\"", "input 'x': 'yes' is not a boolean (expected true or false)");
    bad("type: BOOLEAN", "1", "input 'x': expected a boolean, not an integer");
}

static void enum_and_select_check_the_values(void **state)
{
    const char *env = "type: ENUM\nvalues: [dev, staging, prod]";
    ok(env, "\"prod\"", "\"prod\"");
    bad(env, "\"prd\"", "input 'x': 'prd' is not one of dev, staging, prod");
    bad(env, "\"PROD\"", "input 'x': 'PROD' is not one of dev, staging, prod");
    ok("type: ENUM\nvalues: ['1', '2']", "2", "\"2\"");
    ok("type: SELECT\nvalues: [a, b]", "\"a\"", "\"a\"");
    bad("type: SELECT\nvalues: [a, b]", "\"c\"", "input 'x': 'c' is not one of a, b");
    ok("type: SELECT\nvalues: [a, b]\nallowCustomValue: true", "\"c\"", "\"c\"");
    bad("type: SELECT\nvalues: [a, b]", "[\"a\"]", "input 'x': expected a string, not a list");
    /* values that are expressions are only known once rendered */
    ok("type: SELECT\nvalues: ['{{ vars.envs }}']", "\"anything\"", "\"anything\"");
}

static void multiselect_takes_a_list_or_its_json_text(void **state)
{
    const char *m = "type: MULTISELECT\nvalues: [a, b, c]";
    ok(m, "[\"a\", \"c\"]", "[\"a\", \"c\"]");
    ok(m, "\"[\\\"b\\\"]\"", "[\"b\"]");
    ok(m, "[]", "[]");
    bad(m, "[\"a\", \"z\"]", "input 'x'[1]: 'z' is not one of a, b, c");
    bad(m, "\"a,b\"", "input 'x': 'a,b' is not a list (expected a JSON list such as [\"a\", \"b\"])");
    bad(m, "3", "input 'x': expected a list, not an integer");
    ok("type: MULTISELECT\nvalues: [a]\nallowCustomValue: true", "[\"a\", \"q\"]", "[\"a\", \"q\"]");
}

/* ---- dates, times, durations ------------------------------------------------- */

static void datetime_is_normalized_to_utc(void **state)
{
    ok("type: DATETIME", "\"2019-10-06T18:27:49Z\"", "\"2019-10-06T18:27:49Z\"");
    ok("type: DATETIME", "\"2019-10-06T20:27:49+02:00\"", "\"2019-10-06T18:27:49Z\"");
    ok("type: DATETIME", "\"2023-12-24T23:00:00.000Z\"", "\"2023-12-24T23:00:00Z\"");
    ok("type: DATETIME", "\"2023-12-24T23:00:00.120Z\"", "\"2023-12-24T23:00:00.120Z\"");
    ok("type: DATETIME", "\"2023-12-24T23:00:00\"", "\"2023-12-24T23:00:00Z\"");
    bad("type: DATETIME", "\"2019-10-06\"",
        "input 'x': '2019-10-06' is not a date-time (expected ISO-8601 such as 2024-01-15T10:30:00Z)");
    bad("type: DATETIME", "\"yesterday\"",
        "input 'x': 'yesterday' is not a date-time (expected ISO-8601 such as 2024-01-15T10:30:00Z)");
    bad("type: DATETIME", "1570386469", "input 'x': expected a date-time text, not an integer");
    const char *b = "type: DATETIME\nafter: '2023-01-01T00:00:00Z'\nbefore: '2023-12-31T23:59:59Z'";
    ok(b, "\"2023-01-01T00:00:00Z\"", "\"2023-01-01T00:00:00Z\"");
    bad(b, "\"2022-12-31T23:59:59Z\"", "input 'x': 2022-12-31T23:59:59Z is before 2023-01-01T00:00:00Z");
    /* the bound is compared as an instant: +01:00 is an hour earlier in UTC */
    ok(b, "\"2024-01-01T00:00:00+01:00\"", "\"2023-12-31T23:00:00Z\"");
    bad(b, "\"2024-01-01T00:30:00-01:00\"", "input 'x': 2024-01-01T01:30:00Z is after 2023-12-31T23:59:59Z");
}

static void date_is_a_real_calendar_day(void **state)
{
    ok("type: DATE", "\"2019-10-06\"", "\"2019-10-06\"");
    ok("type: DATE", "\"2024-02-29\"", "\"2024-02-29\"");
    bad("type: DATE", "\"2023-02-29\"", "input 'x': '2023-02-29' is not a date (expected YYYY-MM-DD)");
    bad("type: DATE", "\"2023-1-5\"", "input 'x': '2023-1-5' is not a date (expected YYYY-MM-DD)");
    bad("type: DATE", "\"2023-01-05T00:00:00Z\"",
        "input 'x': '2023-01-05T00:00:00Z' is not a date (expected YYYY-MM-DD)");
    const char *b = "type: DATE\nafter: 2023-01-01\nbefore: 2023-12-31";
    ok(b, "\"2023-12-24\"", "\"2023-12-24\"");
    ok(b, "\"2023-12-31\"", "\"2023-12-31\"");
    bad(b, "\"2024-01-01\"", "input 'x': 2024-01-01 is after 2023-12-31");
    bad(b, "\"2022-06-01\"", "input 'x': 2022-06-01 is before 2023-01-01");
}

static void time_takes_hours_minutes_and_seconds(void **state)
{
    ok("type: TIME", "\"18:27:49\"", "\"18:27:49\"");
    ok("type: TIME", "\"18:27\"", "\"18:27:00\"");
    ok("type: TIME", "\"18:27:49.5\"", "\"18:27:49.500\"");
    bad("type: TIME", "\"24:00\"", "input 'x': '24:00' is not a time (expected HH:MM or HH:MM:SS)");
    bad("type: TIME", "\"6:00\"", "input 'x': '6:00' is not a time (expected HH:MM or HH:MM:SS)");
    const char *b = "type: TIME\nafter: '01:00:00'\nbefore: '11:59:59'";
    ok(b, "\"11:27:49\"", "\"11:27:49\"");
    bad(b, "\"12:00\"", "input 'x': 12:00:00 is after 11:59:59");
    bad(b, "\"00:59:59\"", "input 'x': 00:59:59 is before 01:00:00");
}

static void duration_is_iso_8601(void **state)
{
    ok("type: DURATION", "\"PT5M6S\"", "\"PT5M6S\"");
    ok("type: DURATION", "\"P1D\"", "\"PT24H\"");
    ok("type: DURATION", "\"PT90M\"", "\"PT1H30M\"");
    bad("type: DURATION", "\"5m\"", "input 'x': '5m' is not a duration (expected ISO-8601 such as PT5M or P1DT2H)");
    bad("type: DURATION", "300", "input 'x': expected an ISO-8601 duration text, not an integer");
    const char *b = "type: DURATION\nmin: PT10S\nmax: PT20S";
    ok(b, "\"PT15S\"", "\"PT15S\"");
    ok(b, "\"PT10S\"", "\"PT10S\"");
    bad(b, "\"PT9S\"", "input 'x': PT9S is less than the minimum PT10S");
    bad(b, "\"PT1M\"", "input 'x': PT1M is more than the maximum PT20S");
}

/* ---- structured and checked text types ------------------------------------------ */

static void json_text_is_parsed_and_typed_json_kept(void **state)
{
    ok("type: JSON", "\"{\\\"a\\\":\\\"b\\\"}\"", "{\"a\": \"b\"}");
    ok("type: JSON", "\"[1, 2]\"", "[1, 2]");
    ok("type: JSON", "\"3\"", "3");
    ok("type: JSON", "{\"k\": [true]}", "{\"k\": [true]}");
    ok("type: JSON", "7", "7");
    bad("type: JSON", "\"{a\"",
        "input 'x': '{a' is not valid JSON: 1:2: string or '}' expected near 'a'");
}

static void yaml_text_is_parsed_with_the_flow_loader(void **state)
{
    ok("type: YAML", "\"some: property\\nalist:\\n- of\\n- values\"",
       "{\"some\": \"property\", \"alist\": [\"of\", \"values\"]}");
    ok("type: YAML", "{\"k\": 1}", "{\"k\": 1}");
    json_t *r = read_one("type: YAML", "\"a: [1\"");
    assert_null(r);
    assert_true(strncmp(err.msg, "input 'x': 'a: [1' is not valid YAML: ", 38) == 0);
}

static void uri_and_email_are_checked(void **state)
{
    ok("type: URI", "\"https://www.google.com\"", "\"https://www.google.com\"");
    ok("type: URI", "\"postgres://db:5432/x?y=1\"", "\"postgres://db:5432/x?y=1\"");
    bad("type: URI", "\"www.google.com\"", "input 'x': 'www.google.com' is not a URI (expected scheme://...)");
    bad("type: URI", "\"http://a b\"", "input 'x': 'http://a b' is not a URI (expected scheme://...)");
    bad("type: URI", "\"http://\"", "input 'x': 'http://' is not a URI (expected scheme://...)");
    ok("type: EMAIL", "\"ops+kite@example.com\"", "\"ops+kite@example.com\"");
    bad("type: EMAIL", "\"ops@\"", "input 'x': 'ops@' is not an email address");
    bad("type: EMAIL", "\"a b@example.com\"", "input 'x': 'a b@example.com' is not an email address");
    bad("type: EMAIL", "\"a@b@c\"", "input 'x': 'a@b@c' is not an email address");
}

static void secret_is_kept_as_given(void **state)
{
    ok("type: SECRET", "\"s3cr3t\"", "\"s3cr3t\"");
}

static void array_items_are_converted_to_the_item_type(void **state)
{
    ok("type: ARRAY\nitemType: INT", "\"[1, 2, 3]\"", "[1, 2, 3]");
    ok("type: ARRAY\nitemType: INT", "[\"1\", 2]", "[1, 2]");
    ok("type: ARRAY\nitemType: STRING", "[1, \"a\"]", "[\"1\", \"a\"]");
    ok("type: ARRAY\nitemType: DATE", "[\"2024-01-01\"]", "[\"2024-01-01\"]");
    ok("type: ARRAY\nitemType: JSON", "[\"{\\\"a\\\":1}\"]", "[{\"a\": 1}]");
    bad("type: ARRAY\nitemType: INT", "\"[1, \\\"x\\\"]\"", "input 'x'[1]: 'x' is not an integer");
    bad("type: ARRAY\nitemType: INT", "[1, null]", "input 'x'[1]: null is not allowed in a list");
    bad("type: ARRAY\nitemType: INT", "\"1,2\"",
        "input 'x': '1,2' is not a list (expected a JSON list such as [\"a\", \"b\"])");
}

static void long_and_control_values_are_shown_safely(void **state)
{
    char big[200];
    memset(big, 'a', sizeof big);
    memcpy(big, "\"\\u0001", 7);
    big[sizeof big - 1] = '\0';
    big[sizeof big - 2] = '"';
    json_t *r = read_one("type: INT", big);
    assert_null(r);
    /* the control byte escaped, the text cut at 80 bytes with its length */
    assert_true(strstr(err.msg, "'\\x01aaaa") != NULL);
    assert_true(strstr(err.msg, "...' is not") == NULL);
    assert_true(strstr(err.msg, "... (192 bytes) is not an integer") != NULL);
}

/* ---- required, defaults, unknown, nesting ---------------------------------------------- */

static void a_missing_required_input_is_an_error(void **state)
{
    bad("type: STRING", NULL, "input 'x' is required: no value was given and it has no defaults");
    bad("type: INT\nrequired: true", "null", "input 'x' is required: no value was given and it has no defaults");
}

static void a_missing_optional_input_is_null(void **state)
{
    ok("type: STRING\nrequired: false", NULL, "null");
    ok("type: INT\nrequired: false", "null", "null");
}

static void defaults_apply_and_are_converted(void **state)
{
    ok("type: INT\ndefaults: 5", NULL, "5");
    ok("type: INT\ndefaults: '5'", NULL, "5");
    ok("type: INT\ndefaults: 5", "\"6\"", "6");
    ok("type: STRING\ndefaults: ''\nrequired: true", NULL, "\"\"");
    ok("type: DATETIME\ndefaults: '2013-08-09T14:19:00Z'", NULL, "\"2013-08-09T14:19:00Z\"");
    ok("type: ARRAY\nitemType: INT\ndefaults: [1, '2']", NULL, "[1, 2]");
    ok("type: YAML\ndefaults:\n  property: something", NULL, "{\"property\": \"something\"}");
    ok("type: INT\ndefaults: 5", "null", "5");
    /* an expression is kept as text: the engine renders it */
    ok("type: DATETIME\ndefaults: \"{{ now() }}\"", NULL, "\"{{ now() }}\"");
    bad("type: INT\ndefaults: 'five'", NULL, "input 'x' (defaults): 'five' is not an integer");
    bad("type: INT\nmin: 10\ndefaults: 5", NULL, "input 'x' (defaults): 5 is less than the minimum 10");
}

static void unknown_given_inputs_are_ignored(void **state)
{
    flow *f = load_flow("  - id: a\n    type: STRING\n");
    json_t *given = parse("{\"a\": \"1\", \"zzz\": 2}");
    json_t *r = engine_inputs_read(f, given, NULL, NULL, "e", &err);
    assert_non_null(r);
    assert_int_equal(json_object_size(r), 1);
    assert_string_equal(json_string_value(json_object_get(r, "a")), "1");
    json_decref(r);
    json_decref(given);
    flow_free(f);
}

static void dotted_ids_are_nested(void **state)
{
    flow *f = load_flow("  - id: nested.string\n    type: STRING\n"
                        "  - id: nested.more.int\n    type: INT\n    required: false\n"
                        "  - id: nested.bool\n    type: BOOLEAN\n");
    /* given flat, or nested (as a subflow's inputs may be) */
    json_t *given = parse("{\"nested.string\": \"a string\", \"nested\": {\"bool\": \"true\"}}");
    json_t *r = engine_inputs_read(f, given, NULL, NULL, "e", &err);
    assert_non_null(r);
    json_t *want = parse("{\"nested\": {\"string\": \"a string\", \"more\": {\"int\": null}, \"bool\": true}}");
    assert_true(json_equal(r, want));
    json_decref(want);
    json_decref(r);
    json_decref(given);
    flow_free(f);
}

static void an_input_and_its_nested_ids_conflict(void **state)
{
    flow *f = load_flow("  - id: a\n    type: STRING\n  - id: a.b\n    type: STRING\n");
    json_t *given = parse("{\"a\": \"1\", \"a.b\": \"2\"}");
    assert_null(engine_inputs_read(f, given, NULL, NULL, "e", &err));
    assert_string_equal(err.msg, "input 'a.b': cannot be nested under 'a', which is an input of its own");
    json_decref(given);
    flow_free(f);

    /* a JSON input's object is not merged with inputs nested under its id */
    f = load_flow("  - id: x.a\n    type: JSON\n  - id: x.a.b\n    type: STRING\n");
    given = parse("{\"x.a\": {\"c\": 1}, \"x.a.b\": \"2\"}");
    assert_null(engine_inputs_read(f, given, NULL, NULL, "e", &err));
    assert_string_equal(err.msg, "input 'x.a.b': cannot be nested under 'x.a', which is an input of its own");
    json_decref(given);
    flow_free(f);

    /* declared the other way round: the same message */
    f = load_flow("  - id: a.b\n    type: STRING\n  - id: a\n    type: STRING\n");
    given = parse("{\"a\": \"1\", \"a.b\": \"2\"}");
    assert_null(engine_inputs_read(f, given, NULL, NULL, "e", &err));
    assert_string_equal(err.msg, "input 'a.b': cannot be nested under 'a', which is an input of its own");
    json_decref(given);
    flow_free(f);
}

static void no_declared_inputs_gives_an_empty_object(void **state)
{
    const char *t = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    flow *f = NULL;
    diags d = DIAGS_INIT;
    assert_int_equal(flow_load_text(t, strlen(t), "t.yaml", &f, &d), 0);
    json_t *given = parse("{\"a\": 1}");
    json_t *r = engine_inputs_read(f, given, NULL, NULL, "e", &err);
    assert_non_null(r);
    assert_int_equal(json_object_size(r), 0);
    json_decref(r);
    r = engine_inputs_read(f, NULL, NULL, NULL, "e", &err);
    assert_non_null(r);
    json_decref(r);
    json_decref(given);
    flow_free(f);
}

/* ---- FILE inputs --------------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    char root[128];
    char local[160];
    storage *st;
} fx;

static int file_setup(void **state)
{
    fx *x = xcalloc(1, sizeof *x);
    strcpy(x->dir, "/tmp/kite-inputs-XXXXXX");
    if (!mkdtemp(x->dir))
        return -1;
    snprintf(x->root, sizeof x->root, "%s/storage", x->dir);
    snprintf(x->local, sizeof x->local, "%s/data.csv", x->dir);
    FILE *o = fopen(x->local, "w");
    if (!o)
        return -1;
    fputs("a,b\n1,2\n", o);
    fclose(o);
    kerr e = KERR_INIT;
    x->st = storage_open_local(x->root, &e);
    if (!x->st)
        return -1;
    *state = x;
    return 0;
}

static int file_teardown(void **state)
{
    fx *x = *state;
    storage_free(x->st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        return -1;
    free(x);
    return 0;
}

static void a_local_file_is_uploaded_to_the_execution(void **state)
{
    fx *x = *state;
    flow *f = load_flow("  - id: file\n    type: FILE\n");
    json_t *files = json_pack("{ss}", "file", x->local);
    json_t *r = engine_inputs_read(f, NULL, files, x->st, "exec1", &err);
    if (!r)
        fail_msg("%s", err.msg);
    const char *uri = json_string_value(json_object_get(r, "file"));
    assert_string_equal(uri, "kestra:///company/team/f/executions/exec1/inputs/file/data.csv");
    buf b = BUF_INIT;
    kerr e = KERR_INIT;
    assert_int_equal(storage_read_all(x->st, uri, 0, &b, &e), 0);
    assert_string_equal(buf_str(&b), "a,b\n1,2\n");
    buf_free(&b);
    /* the local file is copied, not moved */
    assert_int_equal(access(x->local, R_OK), 0);

    /* the URI given to another execution (as a subflow receives it) is kept */
    json_t *given = json_pack("{ss}", "file", "kestra:///company/team/f/executions/exec1/inputs/file/data.csv");
    json_t *r2 = engine_inputs_read(f, given, NULL, x->st, "exec2", &err);
    if (!r2)
        fail_msg("%s", err.msg);
    assert_string_equal(json_string_value(json_object_get(r2, "file")),
                        "kestra:///company/team/f/executions/exec1/inputs/file/data.csv");
    json_decref(r2);
    json_decref(given);
    json_decref(r);
    json_decref(files);
    flow_free(f);
}

static void an_uploaded_file_name_is_percent_encoded(void **state)
{
    fx *x = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/my report \xc3\xa9.csv", x->dir);
    FILE *o = fopen(path, "w");
    assert_non_null(o);
    fputs("x\n", o);
    fclose(o);
    flow *f = load_flow("  - id: file\n    type: FILE\n");
    json_t *files = json_pack("{ss}", "file", path);
    json_t *r = engine_inputs_read(f, NULL, files, x->st, "exec1", &err);
    if (!r)
        fail_msg("%s", err.msg);
    const char *uri = json_string_value(json_object_get(r, "file"));
    assert_string_equal(uri, "kestra:///company/team/f/executions/exec1/inputs/file/my%20report%20%C3%A9.csv");
    kerr e = KERR_INIT;
    assert_int_equal(storage_exists(x->st, uri, &e), 1);
    json_decref(r);
    json_decref(files);
    flow_free(f);
}

static void a_file_input_refuses_paths_and_missing_uris(void **state)
{
    fx *x = *state;
    flow *f = load_flow("  - id: file\n    type: FILE\n");
    json_t *given = json_pack("{ss}", "file", "/etc/passwd");
    assert_null(engine_inputs_read(f, given, NULL, x->st, "e1", &err));
    assert_string_equal(err.msg, "input 'file': '/etc/passwd' is not a kestra:/// (or kite:///) URI of a file in storage");
    json_decref(given);

    given = json_pack("{ss}", "file", "kestra:///company/team/f/executions/nope/inputs/file/x.txt");
    assert_null(engine_inputs_read(f, given, NULL, x->st, "e1", &err));
    assert_string_equal(err.msg, "input 'file': 'kestra:///company/team/f/executions/nope/inputs/file/x.txt': "
                                 "no such file in storage");
    json_decref(given);

    given = json_pack("{ss}", "file", "kestra:///a//b");
    assert_null(engine_inputs_read(f, given, NULL, x->st, "e1", &err));
    assert_true(strncmp(err.msg, "input 'file': 'kestra:///a//b' is not a valid storage URI: ", 57) == 0);
    json_decref(given);

    assert_null(engine_inputs_read(f, NULL, NULL, x->st, "e1", &err));
    assert_string_equal(err.msg, "input 'file' is required: no value was given and it has no defaults");

    json_t *files = json_pack("{ss}", "file", "/nonexistent/in.txt");
    assert_null(engine_inputs_read(f, NULL, files, x->st, "e1", &err));
    assert_true(strncmp(err.msg, "input 'file': cannot upload '/nonexistent/in.txt': ", 51) == 0);
    json_decref(files);
    flow_free(f);
}

static void a_failed_read_leaves_no_uploaded_file(void **state)
{
    fx *x = *state;
    flow *f = load_flow("  - id: one\n    type: FILE\n  - id: two\n    type: FILE\n");
    json_t *files = json_pack("{ssss}", "one", x->local, "two", "/nonexistent/two.txt");
    assert_null(engine_inputs_read(f, NULL, files, x->st, "e9", &err));
    assert_true(strstr(err.msg, "input 'two': cannot upload") == err.msg);
    storage_entry *ents = NULL;
    size_t n = 99;
    kerr e = KERR_INIT;
    assert_int_equal(storage_list(x->st, "kestra:///company/team/f/executions/e9/", &ents, &n, &e), 0);
    assert_int_equal(n, 0);
    storage_entries_free(ents, n);
    json_decref(files);
    flow_free(f);

    /* a bad non-FILE input stops the read before any upload */
    f = load_flow("  - id: one\n    type: FILE\n  - id: n\n    type: INT\n");
    files = json_pack("{ss}", "one", x->local);
    json_t *given = json_pack("{ss}", "n", "x");
    assert_null(engine_inputs_read(f, given, files, x->st, "e10", &err));
    assert_string_equal(err.msg, "input 'n': 'x' is not an integer");
    assert_int_equal(storage_list(x->st, "kestra:///company/team/f/executions/e10/", &ents, &n, &e), 0);
    assert_int_equal(n, 0);
    storage_entries_free(ents, n);
    json_decref(given);
    json_decref(files);
    flow_free(f);
}

static void allowed_file_extensions_are_checked(void **state)
{
    fx *x = *state;
    flow *f = load_flow("  - id: file\n    type: FILE\n    allowedFileExtensions: ['.json', 'txt']\n");
    json_t *files = json_pack("{ss}", "file", x->local);
    assert_null(engine_inputs_read(f, NULL, files, x->st, "e1", &err));
    assert_string_equal(err.msg, "input 'file': 'data.csv' does not have an allowed extension (.json, txt)");
    json_decref(files);
    flow_free(f);
    f = load_flow("  - id: file\n    type: FILE\n    allowedFileExtensions: ['.CSV']\n");
    files = json_pack("{ss}", "file", x->local);
    json_t *r = engine_inputs_read(f, NULL, files, x->st, "e1", &err);
    assert_non_null(r);
    json_decref(r);
    json_decref(files);
    flow_free(f);
}

/* ---- Kestra's inputs.yaml with InputsTest's values -------------------------------------- */

static void kestra_inputs_flow_reads_as_kestra_does(void **state)
{
    fx *x = *state;
    if (access(COMPAT_INPUTS, R_OK) != 0)
        skip();
    flow *f = NULL;
    diags d = DIAGS_INIT;
    assert_int_equal(flow_load_file(COMPAT_INPUTS, &f, &d), 0);
    json_t *given = json_pack(
        "{ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss ss}", "string", "myString", "enum",
        "ENUM_VALUE", "int", "42", "float", "42.42", "bool", "false", "instant", "2019-10-06T18:27:49Z", "date",
        "2019-10-06", "time", "18:27:49", "duration", "PT5M6S", "json", "{\"a\":\"b\"}", "uri",
        "https://www.google.com", "nested.string", "a string", "nested.more.int", "123", "nested.bool", "true",
        "validatedString", "A123", "validatedInt", "12", "validatedDate", "2023-12-24", "validatedDateTime",
        "2023-12-24T23:00:00.000Z", "validatedDuration", "PT15S", "validatedFloat", "0.42", "validatedTime",
        "11:27:49", "secret", "secret", "array", "[1, 2, 3]", "yaml", "some: property\nalist:\n- of\n- values",
        "instantDefaults", "2013-08-09T14:19:00Z");
    json_t *files = json_pack("{ss}", "file", x->local);
    json_t *r = engine_inputs_read(f, given, files, x->st, "test", &err);
    if (!r)
        fail_msg("%s", err.msg);
    json_t *want = parse(
        "{\"string\": \"myString\", \"enum\": \"ENUM_VALUE\", \"optional\": null, \"int\": 42, \"bool\": false,"
        " \"float\": 42.42, \"instant\": \"2019-10-06T18:27:49Z\", \"date\": \"2019-10-06\", \"time\": \"18:27:49\","
        " \"duration\": \"PT5M6S\","
        " \"file\": \"kestra:///io/kestra/tests/inputs/executions/test/inputs/file/data.csv\","
        " \"optionalFile\": null, \"instantDefaults\": \"2013-08-09T14:19:00Z\", \"json\": {\"a\": \"b\"},"
        " \"uri\": \"https://www.google.com\","
        " \"nested\": {\"string\": \"a string\", \"more\": {\"int\": 123}, \"bool\": true},"
        " \"validatedString\": \"A123\", \"validatedInt\": 12, \"validatedDate\": \"2023-12-24\","
        " \"validatedDateTime\": \"2023-12-24T23:00:00Z\", \"validatedDuration\": \"PT15S\","
        " \"validatedFloat\": 0.42, \"validatedTime\": \"11:27:49\", \"secret\": \"secret\", \"array\": [1, 2, 3],"
        " \"yaml\": {\"some\": \"property\", \"alist\": [\"of\", \"values\"]}, \"empty\": \"\"}");
    if (!json_equal(r, want)) {
        char *g = json_dumps(r, JSON_SORT_KEYS);
        fail_msg("got %s", g);
    }
    /* declaration order is kept */
    void *it = json_object_iter(r);
    assert_string_equal(json_object_iter_key(it), "string");
    json_decref(want);
    json_decref(r);

    /* without the optional ones, the yaml default applies */
    json_t *min = json_pack("{ss ss ss ss ss ss ss}", "string", "s", "enum", "OTHER_ONE", "int", "1", "float", "1",
                            "instant", "2019-10-06T18:27:49Z", "secret", "x", "array", "[]");
    r = engine_inputs_read(f, min, files, x->st, "test2", &err);
    if (!r)
        fail_msg("%s", err.msg);
    json_t *yaml = parse("{\"property\": \"something\", \"list\": [{\"key\": \"key1\", \"value\": \"value1\"},"
                         " {\"key\": \"key2\", \"value\": \"value2\"}]}");
    assert_true(json_equal(json_object_get(r, "yaml"), yaml));
    assert_true(json_is_null(json_object_get(json_object_get(r, "nested"), "bool")));
    json_decref(yaml);
    json_decref(r);

    /* one bad value, named */
    json_object_set_new(min, "validatedInt", json_string("21"));
    assert_null(engine_inputs_read(f, min, files, x->st, "test3", &err));
    assert_string_equal(err.msg, "input 'validatedInt': 21 is more than the maximum 20");
    json_object_del(min, "validatedInt");
    json_object_set_new(min, "enum", json_string("NOPE"));
    assert_null(engine_inputs_read(f, min, files, x->st, "test3", &err));
    assert_string_equal(err.msg, "input 'enum': 'NOPE' is not one of ENUM_VALUE, OTHER_ONE");
    json_object_del(min, "string");
    assert_null(engine_inputs_read(f, min, files, x->st, "test3", &err));
    assert_string_equal(err.msg, "input 'string' is required: no value was given and it has no defaults");

    json_decref(min);
    json_decref(files);
    json_decref(given);
    flow_free(f);
    diags_free(&d);
}

/* ---- flow outputs --------------------------------------------------------------------- */

static void output_typed(const char *type, const char *value_json, const char *want_json)
{
    json_t *v = parse(value_json);
    kerr_clear(&err);
    json_t *r = engine_output_typed("o", type, v, &err);
    if (!r)
        fail_msg("%s %s: %s", type, value_json, err.msg);
    json_t *want = parse(want_json);
    if (!json_equal(r, want))
        fail_msg("%s %s: got %s", type, value_json, json_dumps(r, JSON_ENCODE_ANY));
    json_decref(want);
    json_decref(r);
    json_decref(v);
}

static void output_bad(const char *type, const char *value_json, const char *message)
{
    json_t *v = parse(value_json);
    kerr_clear(&err);
    assert_null(engine_output_typed("o", type, v, &err));
    assert_string_equal(err.msg, message);
    json_decref(v);
}

static void outputs_are_typed_as_declared(void **state)
{
    output_typed("STRING", "\"3\"", "\"3\"");
    output_typed("INT", "\"3\"", "3");
    output_typed("FLOAT", "\"2.5\"", "2.5");
    output_typed("BOOLEAN", "\"true\"", "true");
    output_typed("JSON", "\"{\\\"a\\\": [1]}\"", "{\"a\": [1]}");
    output_typed("ARRAY", "\"[1, 2]\"", "[1, 2]");
    output_typed("DATETIME", "\"2024-01-15T11:30:00+01:00\"", "\"2024-01-15T10:30:00Z\"");
    output_typed("STRING", "{\"a\": 1}", "\"{\\\"a\\\":1}\"");
    output_typed("SECRET", "\"pw\"", "\"pw\"");
    output_typed("FILE", "\"kestra:///company/team/f/executions/e/tasks/t/r/out.csv\"",
                 "\"kestra:///company/team/f/executions/e/tasks/t/r/out.csv\"");
    output_typed("FILE", "\"kestra:///company/team/out.csv\"", "\"kestra:///company/team/out.csv\"");
    output_typed("INT", "null", "null");
    json_t *r = engine_output_typed("o", "int", NULL, &err);
    assert_true(json_is_null(r));
    json_decref(r);

    output_bad("INT", "\"3.5\"", "output 'o': '3.5' is not an integer");
    output_bad("FILE", "\"/tmp/out.csv\"", "output 'o': '/tmp/out.csv' is not a kestra:/// (or kite:///) URI of a file in storage");
    output_bad("JSON", "\"nope\"", "output 'o': 'nope' is not valid JSON: 1:4: invalid token near 'nope'");
    output_bad("WHATEVER", "\"1\"", "output 'o': unknown type 'WHATEVER'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_takes_any_scalar_as_text),
        cmocka_unit_test(string_validator_must_match_the_whole_value),
        cmocka_unit_test(int_accepts_integers_and_integer_text),
        cmocka_unit_test(int_min_and_max_are_inclusive),
        cmocka_unit_test(float_accepts_numbers_and_decimal_text),
        cmocka_unit_test(boolean_accepts_true_and_false_in_any_case),
        cmocka_unit_test(enum_and_select_check_the_values),
        cmocka_unit_test(multiselect_takes_a_list_or_its_json_text),
        cmocka_unit_test(datetime_is_normalized_to_utc),
        cmocka_unit_test(date_is_a_real_calendar_day),
        cmocka_unit_test(time_takes_hours_minutes_and_seconds),
        cmocka_unit_test(duration_is_iso_8601),
        cmocka_unit_test(json_text_is_parsed_and_typed_json_kept),
        cmocka_unit_test(yaml_text_is_parsed_with_the_flow_loader),
        cmocka_unit_test(uri_and_email_are_checked),
        cmocka_unit_test(secret_is_kept_as_given),
        cmocka_unit_test(array_items_are_converted_to_the_item_type),
        cmocka_unit_test(long_and_control_values_are_shown_safely),
        cmocka_unit_test(a_missing_required_input_is_an_error),
        cmocka_unit_test(a_missing_optional_input_is_null),
        cmocka_unit_test(defaults_apply_and_are_converted),
        cmocka_unit_test(unknown_given_inputs_are_ignored),
        cmocka_unit_test(dotted_ids_are_nested),
        cmocka_unit_test(an_input_and_its_nested_ids_conflict),
        cmocka_unit_test(no_declared_inputs_gives_an_empty_object),
        cmocka_unit_test_setup_teardown(a_local_file_is_uploaded_to_the_execution, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(an_uploaded_file_name_is_percent_encoded, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(a_file_input_refuses_paths_and_missing_uris, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(a_failed_read_leaves_no_uploaded_file, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(allowed_file_extensions_are_checked, file_setup, file_teardown),
        cmocka_unit_test_setup_teardown(kestra_inputs_flow_reads_as_kestra_does, file_setup, file_teardown),
        cmocka_unit_test(outputs_are_typed_as_declared),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
