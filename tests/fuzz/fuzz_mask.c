/*
 * fuzz_mask.c: secret masking on any bytes.
 *
 * The input is split at the first two 0xFF bytes into up to two secrets and
 * a text. Beyond "does not crash", it checks what masking promises: no
 * registered secret (without '*', which the mask itself is made of) is left
 * in the masked text, and a text without any secret comes back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    const char *s1 = p, *s2 = NULL, *text;
    size_t n1, n2 = 0;
    const char *cut = memchr(p, 0xFF, size);
    if (!cut)
        return 0;
    n1 = (size_t)(cut - s1);
    text = cut + 1;
    const char *cut2 = memchr(text, 0xFF, (size_t)(end - text));
    if (cut2) {
        s2 = text;
        n2 = (size_t)(cut2 - s2);
        text = cut2 + 1;
    }
    size_t nt = (size_t)(end - text);
    masker *m = masker_new();
    int a1 = masker_add(m, s1, n1);
    int a2 = s2 ? masker_add(m, s2, n2) : 0;
    size_t outn = 0;
    char *r = masker_apply(m, text, nt, &outn);
    const char *res = r ? r : text;
    size_t rn = r ? outn : nt;
    if (a1 && !memchr(s1, '*', n1) && memmem(res, rn, s1, n1))
        abort();
    if (a2 && !memchr(s2, '*', n2) && memmem(res, rn, s2, n2))
        abort();
    if (r && !memmem(r, outn, MASK_TEXT, strlen(MASK_TEXT)))
        abort();
    free(r);
    masker_free(m);
    return 0;
}
