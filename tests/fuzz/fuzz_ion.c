/*
 * fuzz_ion.c: libFuzzer target for the Ion text reader and writer
 * (util/ion.h).
 *
 * Input: Ion text, read with ION_READ_TAGGED (flags in the first byte: bit 0
 * reads untagged instead, bit 1 adds ION_READ_TIMES). Every value read is written back inside a list
 * and read again, then written and read once more: the second and third
 * readings must be equal (the first may differ in spelling: 2024-01-02 comes
 * back as 2024-01-02T). A failed read must leave a message with a position.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ion.h"

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
    return 0;
}
