/*
 * fuzz_csv.c: libFuzzer target for the CSV reader of CsvToIon
 * (tasks__csv_next in tasks/serdes.c), the parser of a user's CSV files.
 *
 * Input: the first byte picks the separator (',' ';' '\t' '|'), the second
 * the quote ('"' or '\''), bit 0 of the third ISO-8859-1 decoding, bits 1-2
 * of the third a charset the file is decoded from through iconv
 * (tasks__decode_open: none, windows-1252, UTF-16, SHIFT_JIS); the rest is
 * the file. Every record is read to the end of the file or its first error;
 * an error must carry a message, every field must be a string (UTF-8 when
 * decoded), the line numbers never go back, and a decoding error names a
 * line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const char seps[] = {',', ';', '\t', '|'};
    int sep = seps[data[0] & 3];
    int quote = data[1] & 1 ? '\'' : '"';
    int latin1 = data[2] & 1;
    static const char *const charsets[] = {NULL, "WINDOWS-1252", "UTF-16", "SHIFT_JIS"};
    const char *cs = charsets[(data[2] >> 1) & 3];
    data += 3;
    size -= 3;
    char *copy = malloc(size + 1);
    if (size)
        memcpy(copy, data, size);
    FILE *f = fmemopen(copy, size ? size : 1, "r");
    if (!f) {
        free(copy);
        return 0;
    }
    if (!size)
        fgetc(f); /* fmemopen wants a non-empty buffer: read the one byte off */
    tasks_dec *dec = NULL;
    if (cs) {
        kerr oe = KERR_INIT;
        FILE *d = tasks__decode_open(f, cs, &dec, &oe);
        if (!d)
            abort(); /* glibc knows these */
        f = d;
        latin1 = 0;
    }
    csv_rec r = {0};
    long line = 1, start = 0, last = 0;
    int rc;
    for (;;) {
        kerr e = KERR_INIT;
        rc = tasks__csv_next(f, sep, quote, latin1, &r, &line, &start, &e);
        if (rc < 0 && !e.msg[0])
            abort();
        if (rc <= 0)
            break;
        for (size_t i = 0; i < r.n; i++)
            if (!r.f[i] || (cs && !tasks__decode_error(dec) && !utf8_valid(r.f[i], strlen(r.f[i]))))
                abort();
        if (line < last)
            abort();
        last = line;
        for (size_t i = 0; i < r.n; i++)
            free(r.f[i]);
        r.n = 0;
    }
    const char *de = tasks__decode_error(dec);
    if (de && strncmp(de, "line ", 5))
        abort();
    for (size_t i = 0; i < r.n; i++)
        free(r.f[i]);
    free(r.f);
    buf_free(&r.cur);
    fclose(f);
    free(copy);
    return 0;
}
