/*
 * test_ion.c: the Ion text writer and reader (util/ion.h): what Kestra's row
 * files hold, each type both ways, streaming over a small source, the
 * positions of errors, and bounded memory over many rows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/ion.h"

static int buf_sink(void *ud, const char *p, size_t n)
{
    return buf_append(ud, p, n);
}

/* Reads exactly one value from text (TAGGED when tagged) and returns it as
 * compact JSON; the caller frees. */
static char *read1(const char *text, int tagged, ion_type *t)
{
    ion_reader *r = ion_reader_new_mem(text, strlen(text), tagged ? ION_READ_TAGGED : 0);
    json_t *v;
    kerr e = KERR_INIT;
    int rc = ion_reader_next(r, &v, t, &e);
    if (rc != 1) {
        fprintf(stderr, "read1(%s): %d %s\n", text, rc, e.msg);
        ion_reader_free(r);
        return NULL;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(v);
    json_t *v2;
    assert_int_equal(ion_reader_next(r, &v2, NULL, &e), 0);
    ion_reader_free(r);
    return s;
}

static void expect_read(const char *text, int tagged, ion_type type, const char *json)
{
    ion_type t;
    char *s = read1(text, tagged, &t);
    assert_non_null(s);
    assert_string_equal(s, json);
    assert_int_equal(t, type);
    free(s);
}

static void expect_error(const char *text, const char *msg, int line, int col)
{
    ion_reader *r = ion_reader_new_mem(text, strlen(text), 0);
    json_t *v = NULL;
    kerr e = KERR_INIT;
    int rc;
    while ((rc = ion_reader_next(r, &v, NULL, &e)) == 1)
        json_decref(v);
    assert_int_equal(rc, -1);
    if (!strstr(e.msg, msg))
        fail_msg("'%s': error '%s' lacks '%s'", text, e.msg, msg);
    assert_int_equal(e.line, line);
    assert_int_equal(e.col, col);
    ion_reader_free(r);
}

static void test_scalars_read(void **state)
{
    expect_read("null", 0, ION_NULL, "null");
    expect_read("null.timestamp", 0, ION_NULL, "null");
    expect_read("true", 0, ION_BOOL, "true");
    expect_read("false", 0, ION_BOOL, "false");
    expect_read("-42", 0, ION_INT, "-42");
    expect_read("1_000_000", 0, ION_INT, "1000000");
    expect_read("0x1F", 0, ION_INT, "31");
    expect_read("-0b101", 0, ION_INT, "-5");
    expect_read("12.50", 0, ION_DECIMAL, "12.5");
    expect_read("12.50", 1, ION_DECIMAL, "{\"$ion_decimal\":\"12.50\"}");
    expect_read("15d-1", 1, ION_DECIMAL, "{\"$ion_decimal\":\"15d-1\"}");
    expect_read("1.5e0", 0, ION_FLOAT, "1.5");
    expect_read("-2.5E3", 0, ION_FLOAT, "-2500.0");
    expect_read("nan", 1, ION_FLOAT, "{\"$ion_float\":\"nan\"}");
    expect_read("-inf", 1, ION_FLOAT, "{\"$ion_float\":\"-inf\"}");
    expect_read("2024-01-02T03:04:05.123Z", 0, ION_TIMESTAMP, "\"2024-01-02T03:04:05.123Z\"");
    expect_read("2024T", 0, ION_TIMESTAMP, "\"2024T\"");
    expect_read("2024-01-02", 1, ION_TIMESTAMP, "{\"$ion_timestamp\":\"2024-01-02\"}");
    expect_read("2024-01-02T03:04-08:00", 0, ION_TIMESTAMP, "\"2024-01-02T03:04-08:00\"");
    expect_read("\"a\\nb\\u00e9\\U0001F600\\x41\"", 0, ION_STRING, "\"a\\nbé😀A\"");
    expect_read("'''long ''' /* c */ '''string'''", 0, ION_STRING, "\"long string\"");
    expect_read("red", 0, ION_SYMBOL, "\"red\"");
    expect_read("'two words'", 1, ION_SYMBOL, "{\"$ion_symbol\":\"two words\"}");
    expect_read("{{ aGVs bG8= }}", 0, ION_BLOB, "\"aGVsbG8=\"");
    expect_read("{{aGVsbG8=}}", 1, ION_BLOB, "{\"$ion_blob\":\"aGVsbG8=\"}");
    expect_read("{{\"text\"}}", 0, ION_CLOB, "\"text\"");
}

static void test_containers_and_annotations(void **state)
{
    expect_read("{id:1,name:\"a\",'odd key':[1,2.5e0,null],\"q\":{x:true}}", 0, ION_STRUCT,
                "{\"id\":1,\"name\":\"a\",\"odd key\":[1,2.5,null],\"q\":{\"x\":true}}");
    expect_read("[]", 0, ION_LIST, "[]");
    expect_read("{}", 0, ION_STRUCT, "{}");
    expect_read("(a + 1)", 0, ION_SEXP, "[\"a\",\"+\",1]");
    expect_read("ann::'b c'::{x:dollars::12}", 0, ION_STRUCT, "{\"x\":12}");
    expect_read("// a comment\n$ion_1_0 $ion_symbol_table::{symbols:[\"a\"]} 7", 0, ION_INT,
                "7");
    expect_read("{at:2024-01-02T03:04:05Z,n:1}", 0, ION_STRUCT,
                "{\"at\":\"2024-01-02T03:04:05Z\",\"n\":1}");
}

static void test_writer_each_type(void **state)
{
    buf b = BUF_INIT;
    ion_writer *w = ion_writer_new(buf_sink, &b);
    assert_int_equal(ion_begin_struct(w), 0);
    assert_int_equal(ion_write_field(w, "id"), 0);
    assert_int_equal(ion_write_int(w, -7), 0);
    assert_int_equal(ion_write_field(w, "amount"), 0);
    assert_int_equal(ion_write_decimal(w, "12.50"), 0);
    assert_int_equal(ion_write_field(w, "whole"), 0);
    assert_int_equal(ion_write_decimal(w, "100"), 0);
    assert_int_equal(ion_write_field(w, "exp"), 0);
    assert_int_equal(ion_write_decimal(w, "1.5E-7"), 0);
    assert_int_equal(ion_write_field(w, "f"), 0);
    assert_int_equal(ion_write_float(w, 0.1), 0);
    assert_int_equal(ion_write_field(w, "big"), 0);
    assert_int_equal(ion_write_int_text(w, "123456789012345678901234567890"), 0);
    assert_int_equal(ion_write_field(w, "at"), 0);
    assert_int_equal(ion_write_timestamp(w, "2024-01-02T03:04:05.123456+01:00"), 0);
    assert_int_equal(ion_write_field(w, "day"), 0);
    assert_int_equal(ion_write_timestamp(w, "2024-01-02"), 0);
    assert_int_equal(ion_write_field(w, "us"), 0);
    assert_int_equal(ion_write_timestamp_us(w, 1704164645123000LL, 0, 3), 0);
    assert_int_equal(ion_write_field(w, "null"), 0);
    assert_int_equal(ion_write_null(w), 0);
    assert_int_equal(ion_write_field(w, "s"), 0);
    assert_int_equal(ion_write_string(w, "a\"b\\c\n\x01é", 9), 0);
    assert_int_equal(ion_write_field(w, "sym"), 0);
    assert_int_equal(ion_write_symbol(w, "it's"), 0);
    assert_int_equal(ion_write_field(w, "bytes"), 0);
    assert_int_equal(ion_write_blob(w, "\x00\x01\x02", 3), 0);
    assert_int_equal(ion_write_field(w, "l"), 0);
    assert_int_equal(ion_begin_list(w), 0);
    assert_int_equal(ion_write_bool(w, 1), 0);
    assert_int_equal(ion_write_bool(w, 0), 0);
    assert_int_equal(ion_end_list(w), 0);
    assert_int_equal(ion_end_struct(w), 0);
    assert_int_equal(ion_write_int(w, 2), 0);
    assert_int_equal(ion_writer_flush(w), 0);
    assert_int_equal(ion_writer_count(w), 2);
    assert_string_equal(buf_str(&b),
                        "{id:-7,amount:12.50,whole:100.,exp:1.5d-7,f:0.1e0,"
                        "big:123456789012345678901234567890,"
                        "at:2024-01-02T03:04:05.123456+01:00,day:2024-01-02T,"
                        "us:2024-01-02T03:04:05.123Z,'null':null,"
                        "s:\"a\\\"b\\\\c\\n\\x01é\",sym:'it\\'s',bytes:{{AAEC}},"
                        "l:[true,false]}\n2\n");
    ion_writer_free(w);

    /* what was written reads back */
    ion_reader *r = ion_reader_new_mem(b.data, b.len, ION_READ_TAGGED);
    json_t *v;
    kerr e = KERR_INIT;
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 1);
    assert_string_equal(json_string_value(json_object_get(v, "s")), "a\"b\\c\n\x01é");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "amount"), "$ion_decimal")), "12.50");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "bytes"), "$ion_blob")), "AAEC");
    assert_true(json_real_value(json_object_get(v, "f")) == 0.1);

    /* and a TAGGED value is written back with the same text */
    buf b2 = BUF_INIT;
    ion_writer *w2 = ion_writer_new(buf_sink, &b2);
    assert_int_equal(ion_write_json(w2, v, 0), 0);
    ion_writer_free(w2);
    char *first = strndup(b.data, (size_t)(strchr(b.data, '\n') - b.data) + 1);
    /* jansson keeps insertion order, so the text is the same */
    assert_string_equal(buf_str(&b2), first);
    free(first);
    buf_free(&b2);
    json_decref(v);
    ion_reader_free(r);
    buf_free(&b);
}

static void test_writer_rejects_misuse(void **state)
{
    buf b = BUF_INIT;
    ion_writer *w = ion_writer_new(buf_sink, &b);
    assert_int_equal(ion_write_decimal(w, "1.2.3"), -1);
    assert_int_equal(ion_write_decimal(w, "abc"), -1);
    assert_int_equal(ion_write_timestamp(w, "2024-13-01"), -1);
    assert_int_equal(ion_write_timestamp(w, "2024-01-01T10:00"), -1); /* no offset */
    assert_int_equal(ion_end_list(w), -1);
    assert_int_equal(ion_begin_struct(w), 0);
    assert_int_equal(ion_write_int(w, 1), -1); /* no field name */
    ion_writer_free(w);
    buf_free(&b);
}

static void test_errors_have_positions(void **state)
{
    expect_error("{a:1,\n b 2}", "expected ':'", 2, 4);
    expect_error("[1, 2", "unterminated list", 1, 6);
    expect_error("\"abc", "unterminated string", 1, 5);
    expect_error("2024-13-01T", "bad timestamp", 1, 12);
    expect_error("{{ @@ }}", "bad byte in a blob", 1, 4);
    expect_error("1\n2\n3x", "bad number", 3, 3);
    expect_error("null.nothing", "unknown typed null", 1, 13);
    expect_error("/* open", "unterminated comment", 1, 8);
    expect_error("\"\\q\"", "unknown escape", 1, 4);
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = 0;
    expect_error(deep, "nested deeper", 1, 102);
}

struct slow {
    const char *p;
    size_t n, at;
};

/* A source that hands out 1 to 3 bytes at a time, to cross every window
 * boundary inside tokens. */
static ssize_t slow_source(void *ud, char *b, size_t cap)
{
    struct slow *s = ud;
    size_t k = 1 + s->at % 3;
    if (k > s->n - s->at)
        k = s->n - s->at;
    if (k > cap)
        k = cap;
    memcpy(b, s->p + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

static void test_stream_over_small_reads(void **state)
{
    const char *text = "$ion_1_0\n{id:1,s:'''a''' '''b''',t:2024-01-02T03:04:05.5Z}\n"
                       "{id:2,b:{{AAEC}},d:-1.25}\n// end\n[+inf]\n";
    struct slow s = {text, strlen(text), 0};
    ion_reader *r = ion_reader_new(slow_source, &s, 0);
    json_t *v;
    kerr e = KERR_INIT;
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 1);
    char *j = json_dumps(v, JSON_COMPACT);
    assert_string_equal(j, "{\"id\":1,\"s\":\"ab\",\"t\":\"2024-01-02T03:04:05.5Z\"}");
    free(j);
    json_decref(v);
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 1);
    j = json_dumps(v, JSON_COMPACT);
    assert_string_equal(j, "{\"id\":2,\"b\":\"AAEC\",\"d\":-1.25}");
    free(j);
    json_decref(v);
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 1);
    json_decref(v);
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 0);
    assert_int_equal(ion_reader_count(r), 3);
    ion_reader_free(r);
}

/* 200,000 rows through a pipe-like source and sink: the reader's and the
 * writer's memory stay the same whatever the count (each holds one window),
 * which the test checks by the values coming back in order one at a time. */
static void test_many_rows_round_trip(void **state)
{
    FILE *f = tmpfile();
    ion_writer *w = ion_writer_new_file(f);
    for (int i = 0; i < 200000; i++) {
        ion_begin_struct(w);
        ion_write_field(w, "i");
        ion_write_int(w, i);
        ion_write_field(w, "name");
        char t[32];
        int n = snprintf(t, sizeof t, "row %d", i);
        ion_write_string(w, t, (size_t)n);
        assert_int_equal(ion_end_struct(w), 0);
    }
    assert_int_equal(ion_writer_flush(w), 0);
    ion_writer_free(w);
    rewind(f);
    ion_reader *r = ion_reader_new_file(f, 0);
    json_t *v;
    kerr e = KERR_INIT;
    int i = 0;
    while (ion_reader_next(r, &v, NULL, &e) == 1) {
        assert_int_equal(json_integer_value(json_object_get(v, "i")), i);
        json_decref(v);
        i++;
    }
    assert_string_equal(e.msg, "");
    assert_int_equal(i, 200000);
    ion_reader_free(r);
    fclose(f);
}

static void test_value_cap(void **state)
{
    const char *text = "\"0123456789abcdef\"";
    ion_reader *r = ion_reader_new_mem(text, strlen(text), 0);
    ion_reader_set_max(r, 8);
    json_t *v;
    kerr e = KERR_INIT;
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "longer than 8 bytes"));
    ion_reader_free(r);
}

/* ION_READ_TIMES: timestamps tagged, Kestra's java.time annotated strings
 * tagged by their class, everything else plain; written back unchanged. */
static void test_read_times(void **state)
{
    const char *text = "{a:2024-01-02T,t:LocalTime::\"10:15:30\",x:other::\"s\",d:1.5,"
                       "z:ZonedDateTime::\"2024-01-02T03:04:05+01:00[Europe/Paris]\"}\n";
    ion_reader *r = ion_reader_new_mem(text, strlen(text), ION_READ_TIMES);
    json_t *v;
    kerr e = KERR_INIT;
    assert_int_equal(ion_reader_next(r, &v, NULL, &e), 1);
    char *s = json_dumps(v, JSON_COMPACT);
    assert_string_equal(s, "{\"a\":{\"$ion_timestamp\":\"2024-01-02T\"},\"t\":{\"$ion_LocalTime\":\"10:15:30\"},"
                           "\"x\":\"s\",\"d\":1.5,"
                           "\"z\":{\"$ion_ZonedDateTime\":\"2024-01-02T03:04:05+01:00[Europe/Paris]\"}}");
    free(s);
    buf b = BUF_INIT;
    ion_writer *w = ion_writer_new(buf_sink, &b);
    assert_int_equal(ion_write_json(w, v, 0), 0);
    ion_writer_free(w);
    assert_string_equal(buf_str(&b), "{a:2024-01-02T,t:LocalTime::\"10:15:30\",x:\"s\",d:1.5e0,"
                                     "z:ZonedDateTime::\"2024-01-02T03:04:05+01:00[Europe/Paris]\"}\n");
    buf_free(&b);
    json_decref(v);
    ion_reader_free(r);
    assert_string_equal(ion_java_time("OffsetTime"), "OffsetTime");
    assert_null(ion_java_time("timestamp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_read),
        cmocka_unit_test(test_containers_and_annotations),
        cmocka_unit_test(test_writer_each_type),
        cmocka_unit_test(test_writer_rejects_misuse),
        cmocka_unit_test(test_errors_have_positions),
        cmocka_unit_test(test_stream_over_small_reads),
        cmocka_unit_test(test_many_rows_round_trip),
        cmocka_unit_test(test_value_cap),
        cmocka_unit_test(test_read_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
