/*
 * strutil.h: small string helpers shared across layers.
 */
#ifndef KITE_UTIL_STRUTIL_H
#define KITE_UTIL_STRUTIL_H

#include <stddef.h>

/* Levenshtein distance, case-insensitive, capped at cap+1 (stops early). */
size_t str_edit_distance(const char *a, const char *b, size_t cap);
/* The candidate closest to word, or NULL when none is close enough to be a
 * plausible typo (distance at most a third of the word's length, at least 1,
 * at most 3). cands is an array of n strings; NULL entries are skipped. */
const char *str_suggest(const char *word, const char *const *cands, size_t n);
/* True when s starts with prefix. */
int str_starts_with(const char *s, const char *prefix);
/* True when s ends with suffix. */
int str_ends_with(const char *s, const char *suffix);
/* Validates UTF-8; returns 1 when valid. */
int str_valid_utf8(const char *s, size_t n);

#endif
