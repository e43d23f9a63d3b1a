/*
 * proc_lines.c: cutting a child's output into lines (see proc.h).
 *
 * The rules every line of task output goes through, whether it comes from
 * proc_run's pipes or from elsewhere (an SSH channel): split on '\n', a '\r'
 * before it dropped, bytes passed as they are (invalid UTF-8, NUL), long
 * lines split on a UTF-8 boundary or cut with a marker, and one cap on the
 * bytes delivered for the whole run, past which output is only counted.
 *
 * Data is copied into one 64 KiB chunk and cut there: a line that lies wholly
 * inside it is passed to the callback in place (NUL-terminated over its '\n'),
 * so the common case of short lines costs one memcpy and one memchr per line.
 * Only a line spread over several chunks, or longer than max_line, goes
 * through the per-stream pending buffer, which never holds more than
 * max_line + one chunk.
 */
#include "util/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define CHUNK          (64 * 1024)
#define MAX_LINE_HARD  (16u * 1024 * 1024)

/* ---- Lines ------------------------------------------------------------- */

typedef struct lstate {
    proc_stream id;
    proc_stream_stats st;
    char *pend;             /* the current line's bytes not delivered yet */
    size_t plen, pcap;
    uint64_t cut;           /* cut mode: bytes of the current line dropped */
    int long_line;          /* current line already went past max_line */
    int open;               /* bytes of an unterminated line were seen */
    unsigned char last;     /* last raw byte of the current line */
} lstate;

struct proc_lines {
    size_t max_line;
    int cut_long_lines;
    uint64_t max_output;
    proc_line_fn fn;
    void *ud;
    uint64_t delivered;     /* bytes passed to fn, both streams */
    int capped;             /* max_output reached */
    lstate ls[2];
    char *chunk;            /* CHUNK + 1 bytes: lines are NUL-terminated in place */
};

static void pend_reserve(lstate *L, size_t more)
{
    if (L->plen + more + 1 <= L->pcap)
        return;
    size_t c = L->pcap ? L->pcap : 256;
    while (c < L->plen + more + 1)
        c *= 2;
    L->pend = xrealloc(L->pend, c);
    L->pcap = c;
}

/* Delivers one piece, or, past max_output, the notice (once). */
static void emit(proc_lines *R, lstate *L, char *text, size_t len, int flags)
{
    if (R->capped)
        return;
    if (R->max_output && R->delivered + len > R->max_output) {
        R->capped = 1;
        L->st.truncated = 1;
        if (R->fn) {
            char msg[160];
            int n = snprintf(msg, sizeof msg,
                             "[kite] output limit of %llu bytes reached: the rest of "
                             "the output is dropped", (unsigned long long)R->max_output);
            R->fn(R->ud, L->id, msg, (size_t)n, PROC_LINE_NOTICE);
        }
        return;
    }
    R->delivered += len;
    if (R->fn) {
        text[len] = '\0';
        R->fn(R->ud, L->id, text, len, flags);
    }
}

/* Where to split a piece of k bytes: before a UTF-8 sequence that b[k]
 * would otherwise cut, when the bytes look like UTF-8. b has k+1 bytes. */
static size_t utf8_split(const char *b, size_t k)
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

/* Adds bytes of the current (unterminated) line. */
static void add_partial(proc_lines *R, lstate *L, const char *p, size_t len)
{
    if (!len)
        return;
    L->open = 1;
    L->last = (unsigned char)p[len - 1];
    size_t max = R->max_line;
    if (R->cut_long_lines) {
        size_t room = max - L->plen;
        size_t take = len < room ? len : room;
        pend_reserve(L, take);
        memcpy(L->pend + L->plen, p, take);
        L->plen += take;
        if (len > take) {
            L->cut += len - take;
            L->long_line = 1;
        }
        return;
    }
    pend_reserve(L, len);
    memcpy(L->pend + L->plen, p, len);
    L->plen += len;
    /* Split only once more than max bytes wait, and not when the byte past
     * max is a '\r' that may be the one before '\n' (it will be stripped):
     * the pieces must not depend on how the bytes were chunked. */
    while (L->plen > max && !R->capped &&
           !(L->plen == max + 1 && L->pend[max] == '\r')) {
        size_t k = utf8_split(L->pend, max);
        char save = L->pend[k];
        L->long_line = 1;
        emit(R, L, L->pend, k, PROC_LINE_SPLIT);
        L->pend[k] = save;
        memmove(L->pend, L->pend + k, L->plen - k);
        L->plen -= k;
    }
}

/* Ends the current line: strips a '\r', delivers the rest. */
static void end_line(proc_lines *R, lstate *L)
{
    if (R->capped)      /* the cap came in the middle of this line */
        goto reset;
    if (L->last == '\r') {
        if (L->cut)
            L->cut--;
        else if (L->plen)
            L->plen--;
    }
    if (R->cut_long_lines)
        L->long_line = L->cut > 0;   /* a cut '\r' alone made no long line */
    int flags = 0;
    if (L->cut) {
        char mark[64];
        int n = snprintf(mark, sizeof mark, " [... %llu bytes cut]", (unsigned long long)L->cut);
        pend_reserve(L, (size_t)n);
        memcpy(L->pend + L->plen, mark, (size_t)n);
        L->plen += (size_t)n;
        flags = PROC_LINE_CUT;
    }
    if (L->long_line || L->cut)
        L->st.long_lines++;
    pend_reserve(L, 0);
    emit(R, L, L->pend, L->plen, flags);
reset:
    L->plen = 0;
    L->cut = 0;
    L->long_line = 0;
    L->open = 0;
    L->last = 0;
}

static uint64_t count_nl(const char *p, size_t n)
{
    uint64_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

/* Once the output cap is reached, data is only counted. */
static void drop(lstate *L, const char *p, size_t n)
{
    if (!n)
        return;
    L->st.truncated = 1;
    L->st.lines += count_nl(p, n);
    L->open = p[n - 1] != '\n';
    L->plen = 0;
    L->cut = 0;
}

/* Cuts data (in R->chunk, which has a spare byte past n) into lines. A line
 * wholly inside the chunk is delivered from it without another copy. */
static void process(proc_lines *R, lstate *L, char *data, size_t n)
{
    L->st.bytes += n;
    char *p = data, *end = data + n;
    while (p < end) {
        if (R->capped) {
            drop(L, p, (size_t)(end - p));
            return;
        }
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            add_partial(R, L, p, (size_t)(end - p));
            return;
        }
        size_t len = (size_t)(nl - p);
        int cr = len && p[len - 1] == '\r';
        len -= (size_t)cr;
        L->st.lines++;
        if (!L->open && len <= R->max_line) {
            emit(R, L, p, len, 0);
        } else {
            add_partial(R, L, p, len + (size_t)cr);   /* end_line strips the '\r' */
            end_line(R, L);
        }
        L->open = 0;
        p = nl + 1;
    }
}

static lstate *stream(proc_lines *R, proc_stream s)
{
    return &R->ls[s == PROC_STDERR];
}

proc_lines *proc_lines_new(size_t max_line, int cut_long_lines, uint64_t max_output,
                           proc_line_fn fn, void *ud)
{
    proc_lines *R = xcalloc(1, sizeof *R);
    R->max_line = max_line && max_line < MAX_LINE_HARD ? max_line : MAX_LINE_HARD;
    R->cut_long_lines = cut_long_lines;
    R->max_output = max_output;
    R->fn = fn;
    R->ud = ud;
    R->ls[0].id = PROC_STDOUT;
    R->ls[1].id = PROC_STDERR;
    R->chunk = xmalloc(CHUNK + 1);
    return R;
}

void proc_lines_free(proc_lines *R)
{
    if (!R)
        return;
    free(R->ls[0].pend);
    free(R->ls[1].pend);
    free(R->chunk);
    free(R);
}

void proc_lines_feed(proc_lines *R, proc_stream s, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        size_t k = n < CHUNK ? n : CHUNK;
        memcpy(R->chunk, p, k);
        process(R, stream(R, s), R->chunk, k);
        p += k;
        n -= k;
    }
}

void proc_lines_end(proc_lines *R, proc_stream s)
{
    lstate *L = stream(R, s);
    if (L->open) {
        L->st.lines++;
        if (!R->capped)
            end_line(R, L);
        else
            L->st.truncated = 1;
        L->open = 0;
    }
}

const proc_stream_stats *proc_lines_stats(const proc_lines *R, proc_stream s)
{
    return &R->ls[s == PROC_STDERR].st;
}
