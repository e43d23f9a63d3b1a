/*
 * fuzz_json_ion.c: libFuzzer target for JsonToIon's transcoder
 * (util/ion_json.h), the parser of a user's JSON files.
 *
 * Input: bit 0 of the first byte picks the mode (one value, or an array's
 * elements), bit 1 reads from a 7-byte window-sized source instead of
 * memory (so tokens are cut at every place); the rest is JSON. The
 * transcoder must accept exactly what jansson accepts (except what it
 * allows on purpose: integers past 64 bits, nesting jansson allows deeper
 * than ION_DEPTH_MAX and a NUL byte, which jansson takes for the end, are
 * refused), and the Ion it writes must read back
 * (util/ion.h) equal to jansson's reading. An error carries a position.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ion.h"
#include "util/ion_json.h"

#include "fuzz_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, const char *p, size_t n)
{
    return buf_append(ud, p, n);
}

typedef struct src {
    const char *p;
    size_t n, at;
} src;

static ssize_t small_src(void *ud, char *b, size_t cap)
{
    src *s = ud;
    size_t k = s->n - s->at < 7 ? s->n - s->at : 7;
    if (k > cap)
        k = cap;
    memcpy(b, s->p + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    int mode = data[0] & 1 ? ION_JSON_ARRAY : ION_JSON_ONE;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    src s = {p, n, 0};
    ion_json_reader *jr = data[0] & 2 ? ion_json_reader_new(small_src, &s) : ion_json_reader_new_mem(p, n, 1);
    buf out = BUF_INIT;
    ion_writer *w = ion_writer_new(sink, &out);
    kerr e = KERR_INIT;
    int rc, rows = 0;
    while ((rc = ion_json_next(jr, w, mode, &e)) == 1)
        rows++;
    if (rc < 0 && (!e.msg[0] || e.line < 1))
        abort();
    if (ion_writer_flush(w))
        abort();
    ion_writer_free(w);
    ion_json_reader_free(jr);

    json_error_t je;
    json_t *want = json_loadb(p, n, JSON_DECODE_ANY, &je);
    if (!want) {
        /* jansson refuses: so must the transcoder, unless it is a big integer */
        if (rc == 0 && !strstr(je.text, "too big"))
            abort();
    } else if (rc < 0) {
        /* jansson stops at a NUL byte and calls it the end; kite refuses it */
        if (!strstr(e.msg, "nested deeper") && !memchr(p, 0, n))
            abort();
    } else {
        /* the rows read back as Ion equal jansson's value (or its elements) */
        ion_reader *r = ion_reader_new_mem(out.data ? out.data : "", out.len, 0);
        size_t i = 0;
        json_t *v;
        kerr e2 = KERR_INIT;
        int got;
        int many = mode == ION_JSON_ARRAY && json_is_array(want);
        while ((got = ion_reader_next(r, &v, NULL, &e2)) == 1) {
            const json_t *exp = many ? json_array_get(want, i) : (i == 0 ? want : NULL);
            if (!exp || !same(exp, v))
                abort();
            json_decref(v);
            i++;
        }
        if (got < 0 || i != (many ? json_array_size(want) : 1) || (int)i != rows)
            abort();
        ion_reader_free(r);
    }
    json_decref(want);
    buf_free(&out);
    return 0;
}
