/*
 * strutil.h: small string helpers shared across layers.
 */
#ifndef KITE_UTIL_STRUTIL_H
#define KITE_UTIL_STRUTIL_H

#include <stddef.h>

/*
 * "Did you mean": the one rule kite uses wherever it suggests a name (flow
 * keys and types, config keys, expression functions, filters, tests, tags,
 * variables).
 *
 * Distance: optimal string alignment (insertions, deletions, substitutions,
 * and the transposition of two adjacent letters, each one edit), ignoring
 * ASCII case. Threshold: a candidate is a plausible typo when its distance
 * is at most str_suggest_limit(strlen(word)): a third of the length, at
 * least 1, at most 3. The closest wins; among equals, the first.
 */
/* The distance of a and b, or cap+1 when it is more than cap (stops early). */
size_t str_edit_distance(const char *a, const char *b, size_t cap);
/* The largest distance at which a word of len bytes gets a suggestion. */
size_t str_suggest_limit(size_t len);
/* The candidate closest to word within the limit, or NULL. cands is an array
 * of n strings; NULL entries are skipped. */
const char *str_suggest(const char *word, const char *const *cands, size_t n);
/* The same over a NULL-terminated array. */
const char *str_suggest_list(const char *word, const char *const *cands);
/* The value of a hex digit (either case), or -1. */
int str_hexval(int c);
/* Lower-case hex of n bytes into out (2n digits and a NUL). */
void str_hex_encode(const void *data, size_t n, char *out);
/* True when s starts with prefix. */
int str_starts_with(const char *s, const char *prefix);
/* True when s ends with suffix. */
int str_ends_with(const char *s, const char *suffix);
/* A size as Docker and Kubernetes write one: a number (decimals allowed),
 * optional spaces, and a unit of 1024-based steps in any case: b, k, kb,
 * ki, kib, m, mb, mi, mib, g..., t... ("512Mb", "256Mi", "1g", "1073741824").
 * 0 with *bytes, or -1 when malformed, negative or past 2^63. */
int str_parse_bytes(const char *s, long long *bytes /* OUT */);

#endif
