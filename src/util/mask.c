/*
 * mask.c: secret masking (see mask.h).
 *
 * DESIGN
 * The masker keeps a flat list of byte strings, the "forms": every value and
 * each of its encodings, deduplicated. Applying searches each form with
 * memmem (glibc's two-way search, linear in the text), collects the matched
 * intervals, sorts and merges them, and copies the text with each merged
 * interval replaced once. So forms that overlap (a value and its JSON form,
 * two secrets sharing bytes) cannot leave a fragment of either visible, and
 * the cost is O(forms x text) with no allocation when nothing matches, which
 * is the common case for a log line.
 */
#include "util/mask.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

typedef struct form {
    char *p;
    size_t n;
} form;

struct masker {
    pthread_rwlock_t lock;
    form *forms;
    size_t nforms, capforms;
    size_t nvalues;
};

masker *masker_new(void)
{
    masker *m = xcalloc(1, sizeof *m);
    pthread_rwlock_init(&m->lock, NULL);
    return m;
}

void masker_free(masker *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nforms; i++) {
        explicit_bzero(m->forms[i].p, m->forms[i].n);
        free(m->forms[i].p);
    }
    free(m->forms);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static int has_form(const masker *m, const char *p, size_t n)
{
    for (size_t i = 0; i < m->nforms; i++)
        if (m->forms[i].n == n && memcmp(m->forms[i].p, p, n) == 0)
            return 1;
    return 0;
}

/* Adds one form under the write lock; short and known forms are skipped. */
static void add_form(masker *m, const char *p, size_t n, size_t min)
{
    if (n < min || has_form(m, p, n))
        return;
    if (m->nforms == m->capforms) {
        m->capforms = m->capforms ? m->capforms * 2 : 16;
        m->forms = xrealloc(m->forms, m->capforms * sizeof *m->forms);
    }
    char *c = xmalloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    m->forms[m->nforms++] = (form){c, n};
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of (shift zero bytes, then v) */
static void b64(const unsigned char *v, size_t n, int shift, buf *out)
{
    size_t total = n + (size_t)shift;
    for (size_t i = 0; i < total; i += 3) {
        uint32_t w = 0;
        for (size_t k = 0; k < 3; k++) {
            size_t j = i + k;
            unsigned char byte = 0;
            if (j >= (size_t)shift && j < total)
                byte = v[j - (size_t)shift];
            w = (w << 8) | byte;
        }
        size_t chars = total - i >= 3 ? 4 : (total - i) + 1;
        for (size_t k = 0; k < chars; k++)
            buf_putc(out, B64[(w >> (18 - 6 * k)) & 63]);
    }
}

/* The base64 characters that depend on v alone, for each alignment, in the
 * standard and the URL alphabet. */
static void add_base64_forms(masker *m, const char *v, size_t n)
{
    for (int shift = 0; shift < 3; shift++) {
        buf b = BUF_INIT;
        b64((const unsigned char *)v, n, shift, &b);
        size_t start = (size_t)(shift * 8 + 5) / 6;           /* ceil(shift*8/6) */
        size_t end = ((size_t)shift + n) * 8 / 6;             /* floor */
        if (end > start && end <= b.len) {
            add_form(m, b.data + start, end - start, MASK_MIN_FORM_LEN);
            /* padded whole form, as `base64` prints a lone value */
            if (shift == 0) {
                buf_reset(&b);
                b64((const unsigned char *)v, n, 0, &b);
                while (b.len % 4)
                    buf_putc(&b, '=');
                add_form(m, b.data, b.len, MASK_MIN_FORM_LEN);
                start = 0;
                end = b.len;
            }
            int url = 0;
            for (size_t i = start; i < end; i++)
                if (b.data[i] == '+' || b.data[i] == '/') {
                    b.data[i] = b.data[i] == '+' ? '-' : '_';
                    url = 1;
                }
            if (url)
                add_form(m, b.data + start, end - start, MASK_MIN_FORM_LEN);
        }
        explicit_bzero(b.data, b.cap);
        buf_free(&b);
    }
}

static void add_percent_forms(masker *m, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int plus = 0; plus < 2; plus++) {
        buf b = BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)v[i];
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                buf_putc(&b, (char)c);
            } else if (plus && c == ' ') {
                buf_putc(&b, '+');
            } else {
                char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                buf_append(&b, e, 3);
            }
        }
        if (b.len)
            add_form(m, b.data, b.len, MASK_MIN_FORM_LEN);
        /* lower-case hex digits, as some encoders write them */
        for (size_t i = 0; i + 2 < b.len; i++)
            if (b.data[i] == '%')
                for (size_t k = i + 1; k <= i + 2; k++)
                    if (b.data[k] >= 'A' && b.data[k] <= 'F')
                        b.data[k] = (char)(b.data[k] - 'A' + 'a');
        if (b.len)
            add_form(m, b.data, b.len, MASK_MIN_FORM_LEN);
        explicit_bzero(b.data, b.cap);
        buf_free(&b);
    }
}

static void add_json_form(masker *m, const char *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        switch (c) {
        case '"': buf_puts(&b, "\\\""); break;
        case '\\': buf_puts(&b, "\\\\"); break;
        case '\n': buf_puts(&b, "\\n"); break;
        case '\r': buf_puts(&b, "\\r"); break;
        case '\t': buf_puts(&b, "\\t"); break;
        case '\b': buf_puts(&b, "\\b"); break;
        case '\f': buf_puts(&b, "\\f"); break;
        case '/': buf_puts(&b, "\\/"); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(&b, e, 6);
            } else {
                buf_putc(&b, (char)c);
            }
        }
    }
    add_form(m, b.data, b.len, MASK_MIN_FORM_LEN);
    /* jansson writes '/' unescaped: the form without "\/" too */
    buf_reset(&b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            buf_putc(&b, '\\');
            buf_putc(&b, (char)c);
        } else if (c == '\n') {
            buf_puts(&b, "\\n");
        } else if (c == '\r') {
            buf_puts(&b, "\\r");
        } else if (c == '\t') {
            buf_puts(&b, "\\t");
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(&b, e, 6);
        } else {
            buf_putc(&b, (char)c);
        }
    }
    add_form(m, b.data, b.len, MASK_MIN_FORM_LEN);
    explicit_bzero(b.data, b.cap);
    buf_free(&b);
}

int masker_add(masker *m, const char *value, size_t n)
{
    if (!value || n < MASK_MIN_LEN)
        return 0;
    pthread_rwlock_wrlock(&m->lock);
    if (has_form(m, value, n)) {
        pthread_rwlock_unlock(&m->lock);
        return 0;
    }
    add_form(m, value, n, MASK_MIN_LEN);
    add_base64_forms(m, value, n);
    add_percent_forms(m, value, n);
    add_json_form(m, value, n);
    m->nvalues++;
    pthread_rwlock_unlock(&m->lock);
    return 1;
}

size_t masker_count(masker *m)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->nvalues;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

typedef struct span {
    size_t a, b;   /* [a, b) */
} span;

static int cmp_span(const void *x, const void *y)
{
    const span *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

char *masker_apply(masker *m, const char *s, size_t n, size_t *out_len)
{
    if (!m || !s)
        return NULL;
    span *sp = NULL;
    size_t nsp = 0, capsp = 0;
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < m->nforms; i++) {
        const form *f = &m->forms[i];
        const char *p = s, *end = s + n;
        while ((size_t)(end - p) >= f->n) {
            const char *hit = memmem(p, (size_t)(end - p), f->p, f->n);
            if (!hit)
                break;
            if (nsp == capsp) {
                capsp = capsp ? capsp * 2 : 8;
                sp = xrealloc(sp, capsp * sizeof *sp);
            }
            sp[nsp++] = (span){(size_t)(hit - s), (size_t)(hit - s) + f->n};
            p = hit + 1;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    if (!nsp)
        return NULL;
    qsort(sp, nsp, sizeof *sp, cmp_span);
    buf b = BUF_INIT;
    size_t at = 0;
    for (size_t i = 0; i < nsp;) {
        size_t a = sp[i].a, e = sp[i].b;
        for (i++; i < nsp && sp[i].a <= e; i++)
            if (sp[i].b > e)
                e = sp[i].b;
        if (a > at)
            buf_append(&b, s + at, a - at);
        buf_puts(&b, MASK_TEXT);
        at = e;
    }
    if (at < n)
        buf_append(&b, s + at, n - at);
    free(sp);
    if (out_len)
        *out_len = b.len;
    return buf_steal(&b);
}

char *masker_apply_dup(masker *m, const char *s)
{
    char *r = masker_apply(m, s, strlen(s), NULL);
    return r ? r : xstrdup(s);
}
