/*
 * utf8.h: the UTF-8 pieces kite needs, in one place.
 *
 * Text in kite is UTF-8 everywhere (flows, expressions, logs, the store's
 * JSON). These helpers used to live beside each caller: the expression
 * lexer's \u escapes (encode), the case filters (case of ASCII and Latin-1
 * letters), the script runner's log lines (clean), the Return task's length
 * (count), the process line reader (where to split a long line) and the
 * validator that nothing used.
 *
 * "Well-formed" is Unicode's definition (table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
#ifndef KITE_UTIL_UTF8_H
#define KITE_UTIL_UTF8_H

#include <stddef.h>

/* Writes code point cp (at most U+10FFFF) as UTF-8 into o; returns the
 * number of bytes written (1 to 4). */
int utf8_encode(unsigned cp, char *o);
/* The length (1 to 4) of the well-formed sequence at the start of s (n bytes
 * available, n > 0), or 0 when those bytes are not one. A NUL byte is a
 * well-formed one-byte sequence. */
size_t utf8_seq_ok(const char *s, size_t n);
/* 1 when the n bytes at s are well-formed UTF-8 (NUL bytes allowed). */
int utf8_valid(const char *s, size_t n);
/* A copy of the n bytes at s with every byte that does not start a
 * well-formed sequence, and every NUL, replaced with U+FFFD: always valid
 * text for JSON and the store. The caller frees. */
char *utf8_clean(const char *s, size_t n);
/* Code points in NUL-terminated UTF-8 text (bytes that are not continuation
 * bytes; no validation). */
size_t utf8_count(const char *s);
/* The bytes of the sequence at s: 1 plus the continuation bytes that follow
 * it, at most 4 in all and at most n (n > 0). */
size_t utf8_seq_len(const char *s, size_t n);
/* Where to cut a piece of k bytes of b (b has k+1 bytes) so that a UTF-8
 * sequence is not cut in two: k when b[k] starts a sequence, else the start
 * of the sequence b[k] continues (when it starts after 0 and within 3 bytes);
 * k again when the bytes do not look like UTF-8. */
size_t utf8_split(const char *b, size_t k);
/* Case of one sequence s of len bytes (len from utf8_seq_len) into o (room
 * for 4 bytes): ASCII letters, and Latin-1 letters U+00C0..U+00FE, to upper
 * case (up 1) or lower case (up 0); anything else is copied. Returns the
 * bytes written. */
size_t utf8_case_char(const char *s, size_t len, int up, char *o);

#endif
