/*
 * utf8.c: encoding, validation, cleaning, counting, splitting and the
 * Latin-1 case mapping of UTF-8 text (see utf8.h).
 */
#include "util/utf8.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <string.h>

int utf8_encode(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_seq_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char ch = s[0];
    size_t len;
    if (ch < 0x80)
        return 1;
    else if (ch >= 0xC2 && ch <= 0xDF)
        len = 2;
    else if (ch >= 0xE0 && ch <= 0xEF)
        len = 3;
    else if (ch >= 0xF0 && ch <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if (len == 3 && ((ch == 0xE0 && s[1] < 0xA0) || (ch == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (len == 4 && ((ch == 0xF0 && s[1] < 0x90) || (ch == 0xF4 && s[1] >= 0x90)))
        return 0; /* overlong, above U+10FFFF */
    return len;
}

int utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq_ok(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

char *utf8_clean(const char *s, size_t n)
{
    buf b = BUF_INIT;
    size_t i = 0;
    while (i < n) {
        size_t len = s[i] ? utf8_seq_ok(s + i, n - i) : 0;
        if (len) {
            buf_append(&b, s + i, len);
            i += len;
        } else {
            buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    if (!b.data)
        return xstrdup("");
    return buf_steal(&b);
}

size_t utf8_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

size_t utf8_seq_len(const char *s, size_t n)
{
    size_t used = 1;
    while (used < n && used < 4 && ((unsigned char)s[used] & 0xC0) == 0x80)
        used++;
    return used;
}

size_t utf8_split(const char *b, size_t k)
{
    const unsigned char *u = (const unsigned char *)b;
    if ((u[k] & 0xC0) != 0x80)
        return k;
    for (size_t j = k; j > 0 && k - j < 3;) {
        j--;
        if ((u[j] & 0xC0) == 0xC0)
            return j > 0 ? j : k;
        if ((u[j] & 0xC0) != 0x80)
            return k;
    }
    return k;
}

size_t utf8_case_char(const char *str, size_t len, int up, char *o)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80) {
        o[0] = (char)(up ? toupper(s[0]) : tolower(s[0]));
        return 1;
    }
    if (s[0] == 0xC3 && len > 1) {
        unsigned cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        if (up && cp >= 0xE0 && cp <= 0xFE && cp != 0xF7)
            cp -= 0x20;
        else if (!up && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
            cp += 0x20;
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    size_t k = 1;
    while (k < len && (s[k] & 0xC0) == 0x80)
        k++;
    memcpy(o, s, k);
    return k;
}
