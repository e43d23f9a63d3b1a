/*
 * mask.h: secret masking, the one place that knows which strings are secret
 * and the shapes they take once encoded.
 *
 * A masker holds secret values. Registering a value registers the forms it
 * takes on the way out of kite too, so that a secret is masked whether a
 * task prints it, an output carries it, an API answer serialises it into
 * JSON or a script base64-encodes it into an Authorization header:
 *   - the value itself;
 *   - its base64 (standard and URL alphabets), in the three alignments it can
 *     have inside a longer base64 text (what stays the same whatever bytes
 *     surround it; GitHub's runner masks base64 the same way);
 *   - its percent-encoded form (RFC 3986, and with '+' for spaces);
 *   - its JSON string form (quotes, backslashes and control characters
 *     escaped), as it appears in a serialised answer.
 * Each occurrence of any form is replaced by MASK_TEXT. Overlapping matches
 * merge into one replacement.
 *
 * Values shorter than MASK_MIN_LEN bytes are not registered (masking "ab"
 * would mangle every log line), nor are encoded forms shorter than
 * MASK_MIN_FORM_LEN.
 *
 * Threads: a masker may be shared; adding takes a write lock, applying a
 * read lock. The masker copies what it is given.
 */
#ifndef KITE_UTIL_MASK_H
#define KITE_UTIL_MASK_H

#include <stddef.h>

#define MASK_TEXT "******"
#define MASK_MIN_LEN 3
#define MASK_MIN_FORM_LEN 4

typedef struct masker masker;

masker *masker_new(void);
void masker_free(masker *m);

/* Registers a secret value (n bytes; it may hold any byte) and its encoded
 * forms. Returns 1 when the value is new, 0 when known or too short. */
int masker_add(masker *m, const char *value, size_t n);

/* How many distinct values were registered. */
size_t masker_count(masker *m);

/* Masks s (n bytes). Returns NULL when nothing matched (the caller keeps
 * using s), else a new NUL-terminated string the caller frees, its length in
 * *out_len when out_len is not NULL. */
char *masker_apply(masker *m, const char *s, size_t n, size_t *out_len);

/* Same for a C string; returns a new string always (the caller frees). */
char *masker_apply_dup(masker *m, const char *s);

#endif
