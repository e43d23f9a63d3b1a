/*
 * ion_json.h: JSON text transcoded to Ion text, a token at a time.
 *
 * JsonToIon used to parse each line into a jansson tree and write the tree;
 * most of its time went to building and freeing the tree and to printing
 * each real twice to find its shortest form. This reader walks the JSON
 * text once and calls the ion_writer as it goes: objects become structs,
 * arrays lists, strings strings, integers ints (of any size: Ion has no
 * limit), numbers with a fraction or an exponent floats written from their
 * own digits (1.5 is 1.5e0), true/false/null themselves. Nothing is built,
 * so memory is the window (64 KiB when streamed) and the longest string.
 *
 * The grammar is RFC 8259's, checked as strictly as jansson checks it (no
 * leading zeros, no trailing commas, well-formed UTF-8, no \u0000, paired
 * surrogates, a real that overflows a double is an error), nesting at most
 * ION_DEPTH_MAX deep, a string at most ION_VALUE_MAX bytes.
 *
 * Errors: "line L, column C: message" (C counts characters), e's line and
 * column set.
 */
#ifndef KITE_UTIL_ION_JSON_H
#define KITE_UTIL_ION_JSON_H

#include "util/err.h"
#include "util/ion.h"

typedef struct ion_json_reader ion_json_reader;

/* A reader pulling from src (ion.h's source type) through a 64 KiB window. */
ion_json_reader *ion_json_reader_new(ion_source src, void *ud);
/* A reader on n bytes at p (borrowed), whose first line is numbered line. */
ion_json_reader *ion_json_reader_new_mem(const char *p, size_t n, long line);
/* Points a memory reader at other bytes (a reader reused for each line). */
void ion_json_reader_reset_mem(ion_json_reader *r, const char *p, size_t n, long line);
void ion_json_reader_free(ion_json_reader *r);

enum {
    ION_JSON_ONE = 0,    /* the input is one value: it is the row */
    ION_JSON_ARRAY = 1,  /* a top-level array gives a row per element; any other value is the row */
};

/*
 * Writes the next row to w: 1 when one was written, 0 when the input has no
 * more (after the one value, or the array's ']'), -1 on an error (bad JSON,
 * text after the value, or w failing: "writing the Ion output failed").
 * Empty input is an error ("expected a JSON value").
 */
int ion_json_next(ion_json_reader *r, ion_writer *w, int mode, kerr *e);

#endif
