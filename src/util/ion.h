/*
 * ion.h: Amazon Ion text, the row format of Kestra's internal storage files.
 *
 * Kestra's tasks that fetch rows (jdbc with fetchType STORE, MongoDB Find with
 * store, the serdes converters) write one Ion value per line, usually a
 * struct: `{id:1,name:"a",at:2024-01-02T03:04:05.000Z}`. There is no Ion
 * library in Debian, so both directions are written here, streamed:
 *
 *   - the writer appends values to a sink (a callback or a FILE) through a
 *     64 KiB buffer; containers are opened and closed around their members,
 *     so a row is never built in memory unless the caller wants it;
 *   - the reader pulls bytes from a source (a callback, a FILE or memory)
 *     through a 64 KiB window and yields one top-level value at a time as a
 *     jansson value, so a 10-million-row file is read in the memory of its
 *     largest row. A value's text is capped (ION_VALUE_MAX by default) and
 *     containers nest at most ION_DEPTH_MAX deep.
 *
 * What is read: null and typed nulls (null.int...), bool, int (decimal, 0x,
 * 0b, underscores), decimal (1.5, 1d3), float (1e0, nan, +inf, -inf),
 * timestamps (2024T to nanoseconds, with an offset), strings (short and
 * '''long''' ones, concatenated), symbols (identifiers, 'quoted', $10),
 * blob {{base64}}, clob {{"text"}}, list, sexp, struct; comments; annotations
 * (`a::b::value`) are read and dropped; the version marker $ion_1_0 and
 * top-level $ion_symbol_table:: structs are skipped.
 *
 * Ion types have no JSON twin for timestamp, decimal, blob, symbol, clob: the
 * reader maps them plainly (timestamp: its text; decimal: a JSON real; blob:
 * base64 text; symbol and clob: a string; sexp: a list; typed null: null), or,
 * with ION_READ_TAGGED, as a one-member object that keeps the type:
 *
 *   {"$ion_timestamp": "2024-01-02T03:04:05.000Z"}   {"$ion_decimal": "12.50"}
 *   {"$ion_blob": "AAEC"}   {"$ion_symbol": "red"}   {"$ion_clob": "text"}
 *
 * ion_write_json writes such objects back as the type they name, so a value
 * read TAGGED is written back unchanged in type.
 *
 * Ownership: ion_reader_next gives the caller a new reference (json_decref
 * it); the writer borrows everything it is given.
 */
#ifndef KITE_UTIL_ION_H
#define KITE_UTIL_ION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/err.h"

#define ION_VALUE_MAX (64u << 20) /* bytes of one scalar's text (a string, a blob) */
#define ION_DEPTH_MAX 100

typedef enum ion_type {
    ION_NULL,
    ION_BOOL,
    ION_INT,
    ION_FLOAT,
    ION_DECIMAL,
    ION_TIMESTAMP,
    ION_STRING,
    ION_SYMBOL,
    ION_BLOB,
    ION_CLOB,
    ION_LIST,
    ION_SEXP,
    ION_STRUCT
} ion_type;

/* "null", "bool", "int", ... "struct" (static). */
const char *ion_type_name(ion_type t);

/* ---- the writer ---- */

typedef struct ion_writer ion_writer;

/* Receives n bytes of text; returns 0, or non-zero to fail the writer (every
 * later call then returns -1 and the sink is not called again). */
typedef int (*ion_sink)(void *ud, const char *p, size_t n);

ion_writer *ion_writer_new(ion_sink sink, void *ud);
/* A writer on f (not closed by ion_writer_free). */
ion_writer *ion_writer_new_file(FILE *f);
/* Flushes what is buffered (ignoring a failure: call ion_writer_flush first
 * to know) and frees w. NULL does nothing. */
void ion_writer_free(ion_writer *w);
/* Hands the buffered text to the sink. 0, or -1 when the sink failed. */
int ion_writer_flush(ion_writer *w);
/* Top-level values written so far. */
uint64_t ion_writer_count(const ion_writer *w);

/*
 * Each call below writes one value (or opens/closes a container) and returns
 * 0, or -1 when the sink failed or the call is out of place (a value in a
 * struct without its field name, a close without an open). Top-level values
 * end with a newline: one per line, as Kestra's files are.
 */
int ion_write_null(ion_writer *w);
int ion_write_bool(ion_writer *w, int v);
int ion_write_int(ion_writer *w, int64_t v);
/* An int of any size from its decimal digits (an optional '-', then digits). */
int ion_write_int_text(ion_writer *w, const char *digits);
/* Shortest text that reads back as v: 1.5e0, nan, +inf, -inf. */
int ion_write_float(ion_writer *w, double v);
/* A float from text already in Ion's float syntax (digits, an optional
 * fraction, 'e', an exponent: 1.5e0, -2e-7), as a JSON number's digits
 * become one; the caller checks the syntax (ion_json.c does). */
int ion_write_float_text(ion_writer *w, const char *text, size_t n);
/* A decimal from its text as a database gives it ("12.50", "-3", "1.5E-7"):
 * written as an Ion decimal ("12.50", "-3.", "1.5d-7"). -1 when text is not
 * a decimal number. */
int ion_write_decimal(ion_writer *w, const char *text);
/* A timestamp from ISO 8601 text (2024-01-02T03:04:05.123456+01:00, or a
 * date 2024-01-02, written 2024-01-02T). The text is checked for Ion's
 * timestamp syntax: -1 when it does not fit. */
int ion_write_timestamp(ion_writer *w, const char *iso);
/* A timestamp from microseconds since the epoch, written at offset
 * off_min minutes east of UTC with 'digits' fraction digits (0, 3 or 6):
 * 2024-01-02T03:04:05.123Z. */
int ion_write_timestamp_us(ion_writer *w, int64_t us, int off_min, int digits);
int ion_write_string(ion_writer *w, const char *s, size_t n);
int ion_write_symbol(ion_writer *w, const char *s);
int ion_write_blob(ion_writer *w, const void *p, size_t n);
int ion_write_clob(ion_writer *w, const char *s, size_t n);

int ion_begin_list(ion_writer *w);
int ion_end_list(ion_writer *w);
int ion_begin_struct(ion_writer *w);
int ion_end_struct(ion_writer *w);
/* Inside a struct: the name of the next value (written as an identifier when
 * it can be, 'quoted' otherwise). */
int ion_write_field(ion_writer *w, const char *name);

/* Any JSON value: objects as structs, arrays as lists, integers as ints, reals
 * as floats (or as decimals with ION_WRITE_REAL_DECIMAL), strings as strings,
 * and the tagged one-member objects of ION_READ_TAGGED as their type. */
enum { ION_WRITE_REAL_DECIMAL = 1 };
int ion_write_json(ion_writer *w, const json_t *v, int flags);

/* ---- the reader ---- */

typedef struct ion_reader ion_reader;

/* Fills up to cap bytes into buf; returns the count, 0 at the end, -1 on an
 * error. */
typedef ssize_t (*ion_source)(void *ud, char *buf, size_t cap);

enum {
    ION_READ_TAGGED = 1,  /* timestamps, decimals, blobs, symbols, clobs as tagged objects */
    /* Timestamps as {"$ion_timestamp": ...} (the other types plainly, unless
     * TAGGED), and a string annotated with the java.time class that Kestra's
     * Ion writer names a value by (LocalDate, LocalTime, OffsetTime,
     * LocalDateTime, OffsetDateTime, ZonedDateTime, Instant) as a one-member
     * object named by it: {"$ion_LocalTime": "10:15:30"}. ion_write_json
     * writes such an object back as LocalTime::"10:15:30". */
    ION_READ_TIMES = 2,
};
/* The java.time class an "$ion_..." tag names (static), or NULL. */
const char *ion_java_time(const char *name);

ion_reader *ion_reader_new(ion_source src, void *ud, int flags);
/* A reader on f (not closed by ion_reader_free). */
ion_reader *ion_reader_new_file(FILE *f, int flags);
/* A reader on n bytes at p (borrowed: they must outlive the reader). */
ion_reader *ion_reader_new_mem(const char *p, size_t n, int flags);
void ion_reader_free(ion_reader *r);
/* Caps one scalar's text (default ION_VALUE_MAX). */
void ion_reader_set_max(ion_reader *r, size_t max);

/*
 * The next top-level value: 1 with *out (a new reference) and *type (may be
 * NULL) set; 0 at the end of the input; -1 on an error, with the message in
 * e ("ion: line L, column C: ...", and e's line/col set). After an error the
 * reader stays failed.
 */
int ion_reader_next(ion_reader *r, json_t **out /* OUT */, ion_type *type /* OUT */, kerr *e);
/*
 * The next top-level value appended to out as compact JSON text, without
 * building it: what ion_reader_next's plain reading (no flags) would give
 * and jansson would print, except that floats and decimals keep their own
 * digits (1.5e0 is 1.5, 12.50 stays 12.50; a value near or past a double's
 * range goes through strtod and is printed as jansson prints a real, an
 * infinity as null) and an integer past 64 bits keeps its digits. Returns as ion_reader_next does; on -1, out may hold
 * part of the value. IonToJson's path.
 */
struct buf;
int ion_reader_next_json(ion_reader *r, struct buf *out, ion_type *type /* OUT */, kerr *e);
/*
 * A top-level value's members given one at a time, nothing built (IonToCsv's
 * path): for a struct, fn(ud, name, ...) for each field; for a list or sexp,
 * fn(ud, NULL, ...) for each element; for a scalar, fn once with name NULL.
 * text is a string's, symbol's or clob's content, a timestamp's text, a
 * blob's base64 (n bytes, borrowed for the call); a number, bool, list or
 * struct as ion_reader_next_json's JSON text; NULL for null and for nan and
 * the infinities. jtime: with ION_READ_TIMES, the java.time class a string is
 * annotated with, else NULL. fn returns 0, or non-zero to stop (with e set by
 * it): the reader then fails. Returns as ion_reader_next does, *type the
 * top-level value's type. The version marker and symbol tables are skipped.
 */
typedef int (*ion_field_fn)(void *ud, const char *name, ion_type t, const char *jtime, const char *text, size_t n);
int ion_reader_next_fields(ion_reader *r, ion_field_fn fn, void *ud, ion_type *type /* OUT */, kerr *e);
/* Top-level values read so far. */
uint64_t ion_reader_count(const ion_reader *r);

#endif
