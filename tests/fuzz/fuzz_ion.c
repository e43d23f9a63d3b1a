/*
 * fuzz_ion.c: libFuzzer target for the Ion text reader and writer
 * (util/ion.h).
 *
 * Input: Ion text, read with ION_READ_TAGGED (flags in the first byte: bit 0
 * reads untagged instead, bit 1 adds ION_READ_TIMES). Every value read is written back inside a list
 * and read again, then written and read once more: the second and third
 * readings must be equal (the first may differ in spelling: 2024-01-02 comes
 * back as 2024-01-02T). A failed read must leave a message with a position.
 *
 * Then the input is read again with ion_reader_next_json (IonToJson's path,
 * no tree): it must accept what the plain reader accepts, and give JSON that
 * jansson reads back equal to the plain reading (numbers compared as
 * doubles, since the JSON path keeps Ion's digits). And once more with
 * ion_reader_next_fields (IonToCsv's path, ION_READ_TIMES): it accepts the
 * same values, gives a struct at least one member per distinct field, a
 * list one per element, a scalar one call.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ion.h"

#include "fuzz_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, const char *p, size_t n)
{
    return buf_append(ud, p, n);
}

/* v written as [v] and read back: the inner value, or NULL when v cannot be
 * written (a tagged-looking struct with bad text). */
static json_t *again(const json_t *v, int flags)
{
    buf b = BUF_INIT;
    ion_writer *w = ion_writer_new(sink, &b);
    int rc = ion_begin_list(w) || ion_write_json(w, v, 0) || ion_end_list(w) ||
             ion_writer_flush(w);
    ion_writer_free(w);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    ion_reader *r = ion_reader_new_mem(b.data, b.len, flags);
    json_t *x = NULL;
    kerr e = KERR_INIT;
    if (ion_reader_next(r, &x, NULL, &e) != 1 || json_array_size(x) != 1)
        abort(); /* what the writer wrote must read back as one list */
    json_t *inner = json_incref(json_array_get(x, 0));
    json_decref(x);
    ion_reader_free(r);
    buf_free(&b);
    return inner;
}


/* The JSON path against the plain reading of the same text. */
static void json_path(const char *p, size_t n)
{
    ion_reader *plain = ion_reader_new_mem(p, n, 0), *fast = ion_reader_new_mem(p, n, 0);
    buf out = BUF_INIT;
    for (;;) {
        json_t *v = NULL;
        kerr e1 = KERR_INIT, e2 = KERR_INIT;
        int a = ion_reader_next(plain, &v, NULL, &e1);
        buf_reset(&out);
        int b = ion_reader_next_json(fast, &out, NULL, &e2);
        /* one may not accept what the other refuses, but for a field name
         * that is not UTF-8 (jansson's trees take it; JSON cannot) */
        if (a != b && !(a == 1 && b == -1 && strstr(e2.msg, "field name")))
            abort();
        if (a != 1 || b != 1) {
            json_decref(v);
            break;
        }
        json_error_t je;
        json_t *x = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!x && strstr(je.text, "too big")) {
            /* an integer past 64 bits: the plain reading has it as a real */
            json_decref(v);
            continue;
        }
        if (!x || !same(v, x))
            abort();
        json_decref(x);
        json_decref(v);
    }
    buf_free(&out);
    ion_reader_free(plain);
    ion_reader_free(fast);
}

static int count_field(void *ud, const char *name, ion_type t, const char *jtime, const char *text, size_t n)
{
    (*(size_t *)ud)++;
    if (text && n && !text[0] && t != ION_STRING && t != ION_CLOB && t != ION_SYMBOL)
        abort(); /* text is n bytes, not an empty string */
    return 0;
}

static void fields_path(const char *p, size_t n)
{
    ion_reader *plain = ion_reader_new_mem(p, n, ION_READ_TIMES), *fast = ion_reader_new_mem(p, n, ION_READ_TIMES);
    for (;;) {
        json_t *v = NULL;
        kerr e1 = KERR_INIT, e2 = KERR_INIT;
        size_t calls = 0;
        ion_type t;
        int a = ion_reader_next(plain, &v, NULL, &e1);
        int b = ion_reader_next_fields(fast, count_field, &calls, &t, &e2);
        if (a != b && !(a == 1 && b == -1 && strstr(e2.msg, "field name")))
            abort();
        if (a != 1 || b != 1) {
            json_decref(v);
            break;
        }
        if (t == ION_STRUCT ? calls < json_object_size(v) - (json_object_size(v) == 1 && json_is_string(json_object_iter_value(json_object_iter(v))) ? 1 : 0)
            : (t == ION_LIST || t == ION_SEXP) ? calls != json_array_size(v) : calls != 1)
            abort();
        json_decref(v);
    }
    ion_reader_free(plain);
    ion_reader_free(fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int flags = ((data[0] & 1) ? 0 : ION_READ_TAGGED) | ((data[0] & 2) ? ION_READ_TIMES : 0);
    ion_reader *r = ion_reader_new_mem((const char *)data + 1, size - 1, flags);
    json_t *v;
    kerr e = KERR_INIT;
    int rc;
    while ((rc = ion_reader_next(r, &v, NULL, &e)) == 1) {
        json_t *a = again(v, flags);
        json_t *b = a ? again(a, flags) : NULL;
        if (a && (!b || !json_equal(a, b)))
            abort();
        json_decref(a);
        json_decref(b);
        json_decref(v);
    }
    if (rc < 0 && (!e.msg[0] || e.line < 1))
        abort();
    ion_reader_free(r);
    json_path((const char *)data + 1, size - 1);
    fields_path((const char *)data + 1, size - 1);
    return 0;
}
