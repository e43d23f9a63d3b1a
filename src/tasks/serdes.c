/*
 * serdes.c: the row-file converters (io.kestra.plugin.serdes.*): CsvToIon,
 * IonToCsv, JsonToIon, IonToJson. Each reads one internal-storage file and
 * writes another, streamed (a CSV record, a JSON line or an Ion value at a
 * time), so memory does not grow with the file. Output `uri`.
 *
 * IonToCsv prints timestamps and Kestra's java.time values with its
 * dateFormat / timeFormat / dateTimeFormat patterns (serdes_datefmt.c) in
 * timeZoneId, as Kestra's AbstractTextWriter does.
 *
 * JSON and Ion are transcoded without a jansson tree (util/ion_json.c,
 * ion_reader_next_json), IonToCsv takes a row's fields one at a time
 * (ion_reader_next_fields), and text goes to storage 64 KiB at a time: a
 * tree per row and a write per row were most of the time. `charset` goes through
 * iconv (the section below). Avro is serdes_avro.c, Parquet
 * serdes_parquet.c.
 */
#include "tasks/tasks_int.h"

#include "storage/storage.h"
#include "tasks/serdes_datefmt.h"
#include "util/datetime.h"
#include "util/ion.h"
#include "util/ion_json.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv {
    FILE *in;
    storage_writer *sw;
    char *uri;
    buf out;         /* text on its way to sw, handed over 64 KiB at a time */
    tasks_dec *dec;  /* in is decoded from a charset (then in is the decoder) */
    iconv_t enc;     /* the output is encoded in enc_name from out[encoded] */
    char *enc_name;
    size_t encoded;
} conv;

#define CONV_OUT 65536

/* Appends n bytes for the output, writing to storage when 64 KiB are
 * gathered (a write per row was most of IonToJson's time). 0, or -1. */
static int conv_encode(conv *v, int64_t row, kerr *e);
static int conv_put(conv *v, const char *p, size_t n, kerr *e);

/* A row's text for the output, encoded (an error names the row). */
static int conv_row(conv *v, const char *p, size_t n, int64_t row, kerr *e)
{
    buf_append(&v->out, p, n);
    return conv_encode(v, row, e) || conv_put(v, "", 0, e) ? -1 : 0;
}

static int conv_put(conv *v, const char *p, size_t n, kerr *e)
{
    buf_append(&v->out, p, n);
    if (v->out.len < CONV_OUT)
        return 0;
    if (conv_encode(v, 0, e))
        return -1;
    int rc = storage_writer_write(v->sw, v->out.data, v->out.len, e);
    buf_reset(&v->out);
    v->encoded = 0;
    return rc;
}

static int sw_sink(void *ud, const char *p, size_t n)
{
    kerr e = KERR_INIT;
    return storage_writer_write(ud, p, n, &e);
}

static int conv_open(task_ctx *c, conv *v, const char *ext, kerr *e)
{
    memset(v, 0, sizeof *v);
    char *from = NULL;
    if (task_prop_string(c, "from", NULL, &from, e))
        return -1;
    if (!from)
        return kerr_set(e, "property 'from' is required (a kestra:/// URI)");
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    free(from);
    if (fd < 0)
        return kerr_set(e, "property 'from': %s", se.msg);
    v->in = fdopen(fd, "r");
    char name[300];
    snprintf(name, sizeof name, "%s.%s", c->task_id, ext);
    v->uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id, name, e);
    v->sw = v->uri ? storage_writer_new(c->storage, v->uri, e) : NULL;
    return v->sw ? 0 : -1;
}

static task_result conv_end(task_ctx *c, conv *v, int rc, kerr *e)
{
    if (v->in)
        fclose(v->in);
    if (!rc && conv_encode(v, 0, e))
        rc = -1;
    if (!rc && v->enc) { /* the encoding's closing shift state */
        char tmp[64], *op = tmp;
        size_t ol = sizeof tmp;
        iconv(v->enc, NULL, NULL, &op, &ol);
        buf_append(&v->out, tmp, (size_t)(op - tmp));
    }
    if (!rc && v->sw && v->out.len && storage_writer_write(v->sw, v->out.data, v->out.len, e))
        rc = -1;
    buf_free(&v->out);
    if (v->enc)
        iconv_close(v->enc);
    free(v->enc_name);
    if (v->sw) {
        if (rc)
            storage_writer_abort(v->sw);
        else if (storage_writer_commit(v->sw, e))
            rc = -1;
    }
    if (!rc)
        task_output(c, "uri", json_string(v->uri));
    free(v->uri);
    return rc ? TASK_FAILED : TASK_SUCCESS;
}

static int one_char(task_ctx *c, const char *prop, const char *dflt, int *out, kerr *e)
{
    char *s = NULL;
    if (task_prop_string(c, prop, dflt, &s, e))
        return -1;
    if (!s || strlen(s) != 1) {
        free(s);
        return kerr_set(e, "property '%s' must be one character", prop);
    }
    *out = (unsigned char)s[0];
    free(s);
    return 0;
}

/* ---- charsets (iconv) --------------------------------------------------------
 *
 * Reading, a file in another charset is turned into UTF-8 by a stdio stream
 * over iconv (fopencookie), so the CSV and JSON readers see UTF-8 whatever the
 * file holds; a byte sequence the charset does not define fails the read, and
 * the stream keeps the line it was on. Writing, each row's UTF-8 text is
 * encoded before it joins the output; a character the charset cannot hold
 * fails with the row. UTF-8 itself skips iconv (bytes that are not UTF-8 are
 * replaced with U+FFFD when written, as Java's decoder does).
 */

struct tasks_dec {
    FILE *raw;
    iconv_t cd;
    char *name;
    char in[65536];
    size_t inlen;
    int eof;
    long line;          /* lines of UTF-8 given so far, + 1 */
    long long off;      /* bytes of raw consumed */
    char err[300];
};

static ssize_t dec_read(void *cookie, char *out, size_t size)
{
    tasks_dec *d = cookie;
    if (d->err[0]) {
        errno = EILSEQ;
        return -1;
    }
    for (;;) {
        if (!d->eof && d->inlen < sizeof d->in) {
            size_t n = fread(d->in + d->inlen, 1, sizeof d->in - d->inlen, d->raw);
            if (n == 0)
                d->eof = 1;
            d->inlen += n;
        }
        if (d->inlen == 0)
            return 0;
        char *ip = d->in, *op = out;
        size_t il = d->inlen, ol = size;
        size_t r = iconv(d->cd, &ip, &il, &op, &ol);
        int er = r == (size_t)-1 ? errno : 0;
        size_t used = (size_t)(ip - d->in), made = (size_t)(op - out);
        for (char *q = out; (q = memchr(q, '\n', (size_t)(op - q))); q++)
            d->line++;
        d->off += (long long)used;
        memmove(d->in, ip, il);
        d->inlen = il;
        if (made > 0)
            return (ssize_t)made;
        if (er == EILSEQ || (er == EINVAL && d->eof)) {
            char hex[32] = "";
            for (size_t k = 0; k < il && k < 4; k++)
                snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%s0x%02X", k ? " " : "",
                         (unsigned char)d->in[k]);
            snprintf(d->err, sizeof d->err, "line %ld: %s at byte offset %lld (%s%s) %s %s", d->line,
                     er == EILSEQ ? "the bytes" : "the incomplete sequence", d->off, hex, il > 4 ? " ..." : "",
                     er == EILSEQ ? "are not valid" : "ends the file, not valid", d->name);
            errno = EILSEQ;
            return -1;
        }
        if (er == E2BIG && made == 0) {
            errno = EIO;
            return -1; /* stdio always reads with room for a character */
        }
        if (d->eof && d->inlen == 0)
            return 0;
    }
}

static int dec_close(void *cookie)
{
    tasks_dec *d = cookie;
    iconv_close(d->cd);
    int rc = fclose(d->raw);
    free(d->name);
    free(d);
    return rc;
}

static int charset_is_utf8(const char *cs)
{
    return !strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "UTF8");
}

FILE *tasks__decode_open(FILE *raw, const char *charset, tasks_dec **out, kerr *e)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return kerr_setc(e, KERR_INVALID,
                         "property 'charset': unknown charset '%s' (the names are iconv's: `iconv -l` lists them)",
                         charset),
               NULL;
    tasks_dec *d = xcalloc(1, sizeof *d);
    d->raw = raw;
    d->cd = cd;
    d->name = xstrdup(charset);
    d->line = 1;
    static const cookie_io_functions_t io = {.read = dec_read, .close = dec_close};
    FILE *f = fopencookie(d, "r", io);
    if (!f) {
        iconv_close(cd);
        free(d->name);
        free(d);
        kerr_set(e, "cannot open a decoding stream");
        return NULL;
    }
    *out = d;
    return f;
}

const char *tasks__decode_error(const tasks_dec *d)
{
    return d && d->err[0] ? d->err : NULL;
}

/* The task's `charset`: NULL for UTF-8 (nothing to do), else its name. */
static int charset_prop(task_ctx *c, char **cs, kerr *e)
{
    if (task_prop_string(c, "charset", "UTF-8", cs, e))
        return -1;
    if (charset_is_utf8(*cs)) {
        free(*cs);
        *cs = NULL;
    }
    return 0;
}

/* The input of v read through charset cs (v->dec set), or left alone for
 * UTF-8. */
static int conv_decode(conv *v, const char *cs, kerr *e)
{
    if (!cs)
        return 0;
    FILE *f = tasks__decode_open(v->in, cs, &v->dec, e);
    if (!f)
        return -1;
    v->in = f;
    return 0;
}

/* The output from now on encoded in cs (for UTF-8, nothing). */
static int conv_encoder(conv *v, const char *cs, kerr *e)
{
    if (!cs)
        return 0;
    v->enc = iconv_open(cs, "UTF-8");
    if (v->enc == (iconv_t)-1) {
        v->enc = NULL;
        return kerr_setc(e, KERR_INVALID,
                         "property 'charset': unknown charset '%s' (the names are iconv's: `iconv -l` lists them)", cs);
    }
    v->enc_name = xstrdup(cs);
    return 0;
}

/* Encodes what was added to the output since the last call (row: for the
 * message; 0 when not in a row). 0, or -1 when a character has no place in
 * the charset. */
static int conv_encode(conv *v, int64_t row, kerr *e)
{
    if (!v->enc || v->encoded >= v->out.len) {
        v->encoded = v->out.len;
        return 0;
    }
    size_t n = v->out.len - v->encoded;
    char *src = xmalloc(n);
    memcpy(src, v->out.data + v->encoded, n);
    v->out.len = v->encoded;
    char *ip = src;
    size_t il = n;
    int rc = 0;
    while (il) {
        char tmp[8192], *op = tmp;
        size_t ol = sizeof tmp;
        size_t r = iconv(v->enc, &ip, &il, &op, &ol);
        buf_append(&v->out, tmp, (size_t)(op - tmp));
        if (r == (size_t)-1 && errno != E2BIG) {
            size_t k = utf8_seq_len(ip, il);
            char where[40] = "";
            if (row > 0)
                snprintf(where, sizeof where, "row %lld: ", (long long)row);
            rc = kerr_setc(e, KERR_INVALID, "%sthe character '%.*s' cannot be written in %s (property 'charset')", where,
                           (int)k, ip, v->enc_name);
            break;
        }
    }
    free(src);
    v->encoded = v->out.len;
    return rc;
}

/* ---- CSV -> Ion ------------------------------------------------------------ */

static void rec_push(csv_rec *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->f = xrealloc(r->f, r->cap * sizeof *r->f);
    }
    r->f[r->n++] = buf_steal(&r->cur);
}

static void rec_clear(csv_rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* Reads one record; 1 read, 0 end of file, -1 error. *line: the line it
 * started on (updated past it). */
int tasks__csv_next(FILE *f, int sep, int quote, int latin1, csv_rec *r, long *line, long *start, kerr *e)
{
    rec_clear(r);
    buf_reset(&r->cur);
    int ch, inq = 0, any = 0;
    *start = *line;
    while ((ch = getc(f)) != EOF) {
        any = 1;
        if (inq) {
            if (ch == quote) {
                int nx = getc(f);
                if (nx == quote) {
                    buf_putc(&r->cur, (char)quote);
                    continue;
                }
                inq = 0;
                if (nx == EOF)
                    break;
                ungetc(nx, f);
                continue;
            }
            if (ch == '\n')
                (*line)++;
        } else if (ch == quote && r->cur.len == 0) {
            inq = 1;
            continue;
        } else if (ch == sep) {
            rec_push(r);
            continue;
        } else if (ch == '\r') {
            int nx = getc(f);
            if (nx != '\n' && nx != EOF)
                ungetc(nx, f);
            (*line)++;
            rec_push(r);
            return 1;
        } else if (ch == '\n') {
            (*line)++;
            rec_push(r);
            return 1;
        }
        if (latin1 && ch >= 0x80) {
            buf_putc(&r->cur, (char)(0xC0 | (ch >> 6)));
            buf_putc(&r->cur, (char)(0x80 | (ch & 0x3F)));
        } else {
            buf_putc(&r->cur, (char)ch);
        }
    }
    if (inq)
        return kerr_set_at(e, (int)*start, 1, "property 'from': line %ld: a quoted field is not closed", *start);
    if (!any)
        return 0;
    rec_push(r);
    return 1;
}

static task_result csv_to_ion_run(task_ctx *c, kerr *e)
{
    conv v;
    int sep, quote, header, skip_empty, strict;
    int64_t skip;
    char *cs = NULL;
    if (one_char(c, "fieldSeparator", ",", &sep, e) || one_char(c, "textDelimiter", "\"", &quote, e) ||
        task_prop_bool(c, "header", 1, &header, e) || task_prop_bool(c, "skipEmptyRows", 0, &skip_empty, e) ||
        task_prop_bool(c, "errorOnDifferentFieldCount", 0, &strict, e) || task_prop_int(c, "skipRows", 0, &skip, e) ||
        charset_prop(c, &cs, e))
        return TASK_FAILED;
    int orc = conv_open(c, &v, "ion", e) || conv_decode(&v, cs, e);
    free(cs);
    if (orc)
        return conv_end(c, &v, -1, e);
    ion_writer *w = ion_writer_new(sw_sink, v.sw);
    csv_rec r = {0}, h = {0};
    buf_init(&r.cur, 0);
    long line = 1, start;
    int rc = 0, got;
    int64_t rows = 0;
    while ((got = tasks__csv_next(v.in, sep, quote, 0, &r, &line, &start, e)) == 1) {
        if (tasks__decode_error(v.dec))
            break;
        if (skip > 0) {
            skip--;
            continue;
        }
        int empty = r.n == 1 && !r.f[0][0];
        if (empty && skip_empty)
            continue;
        if (header && !h.f) {
            h = r;
            memset(&r, 0, sizeof r);
            buf_init(&r.cur, 0);
            continue;
        }
        if (strict && header && r.n != h.n) {
            rc = kerr_set_at(e, (int)start, 1, "property 'from': line %ld: %zu fields, the header has %zu", start,
                             r.n, h.n);
            break;
        }
        if (header) {
            rc = ion_begin_struct(w);
            for (size_t i = 0; !rc && i < h.n; i++) {
                rc = ion_write_field(w, h.f[i]);
                if (!rc)
                    rc = i < r.n ? ion_write_string(w, r.f[i], strlen(r.f[i])) : ion_write_null(w);
            }
            if (!rc)
                rc = ion_end_struct(w);
        } else {
            rc = ion_begin_list(w);
            for (size_t i = 0; !rc && i < r.n; i++)
                rc = ion_write_string(w, r.f[i], strlen(r.f[i]));
            if (!rc)
                rc = ion_end_list(w);
        }
        if (rc) {
            kerr_set(e, "internal storage: writing %s failed", v.uri);
            break;
        }
        rows++;
    }
    if (got < 0)
        rc = -1;
    if (tasks__decode_error(v.dec))
        rc = kerr_setc(e, KERR_INVALID, "property 'from': %s", tasks__decode_error(v.dec));
    if (!rc && ion_writer_flush(w))
        rc = kerr_set(e, "internal storage: writing %s failed", v.uri);
    ion_writer_free(w);
    rec_clear(&r);
    free(r.f);
    buf_free(&r.cur);
    rec_clear(&h);
    free(h.f);
    buf_free(&h.cur);
    if (!rc)
        task_metric(c, "records", METRIC_COUNTER, (double)rows, NULL);
    return conv_end(c, &v, rc, e);
}

/* ---- Ion -> CSV ------------------------------------------------------------ */

/* Kestra's NON_NUMERIC test: an optional sign, digits, at most one '.'. */
static int csv_numeric(const char *s, size_t n)
{
    size_t i = 0;
    int dot = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++) {
        if (s[i] == '.' && !dot)
            dot = 1;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* always: 1 quotes every field, QUOTE_NON_NUMERIC every one but numbers
 * (an empty field stays bare, as FastCSV leaves it), 0 those that need it. */
static void csv_field(buf *b, const char *s, size_t n, int sep, int quote, int always)
{
    int need = always == 2 ? n > 0 && !csv_numeric(s, n) : always;
    for (size_t i = 0; !need && i < n; i++)
        need = s[i] == sep || s[i] == quote || s[i] == '\n' || s[i] == '\r';
    if (!need) {
        buf_append(b, s, n);
        return;
    }
    buf_putc(b, (char)quote);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == quote)
            buf_putc(b, (char)quote);
        buf_putc(b, s[i]);
    }
    buf_putc(b, (char)quote);
}

/* IonToCsv's date formats: Kestra's AbstractTextWriter. */
typedef struct csv_dates {
    datefmt *date, *time, *datetime;
    const tzone *tz;
} csv_dates;

static int ndigits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + (*p)[i] - '0';
    }
    *p += n;
    *out = v;
    return 0;
}

/* An Ion timestamp's text or a java.time value's ISO text: a date (2024,
 * 2024-01, 2024-01-02, with or without a T), a time (10:15[:30[.123]]), or
 * both, then an offset (Z, +01:00; -00:00 is Ion's unknown offset: *unknown)
 * and a [zone] (ignored: the offset says the instant). 0, or -1. */
static int parse_temporal(const char *s, dt_value *v, int *unknown)
{
    const char *p = s;
    memset(v, 0, sizeof *v);
    *unknown = 0;
    v->month = v->day = 1;
    if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && p[2] == ':')) {
        if (ndigits(&p, 4, &v->year))
            return -1;
        v->has_date = 1;
        if (*p == '-' && (p++, ndigits(&p, 2, &v->month)))
            return -1;
        if (*p == '-' && (p++, ndigits(&p, 2, &v->day)))
            return -1;
        if (v->month < 1 || v->month > 12 || v->day < 1 || v->day > 31)
            return -1;
        if (*p == 'T' || *p == ' ')
            p++;
        if (!*p)
            return 0;
    }
    if (ndigits(&p, 2, &v->hour) || *p++ != ':' || ndigits(&p, 2, &v->min))
        return -1;
    v->has_time = 1;
    if (*p == ':' && (p++, ndigits(&p, 2, &v->sec)))
        return -1;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; isdigit((unsigned char)*p); p++, n++)
            if (n < 9)
                v->nano = v->nano * 10 + *p - '0';
        if (!n)
            return -1;
        for (; n < 9; n++)
            v->nano *= 10;
    }
    if (v->hour > 23 || v->min > 59 || v->sec > 60)
        return -1;
    if (*p == 'Z' || *p == 'z') {
        v->has_offset = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int neg = *p++ == '-', h, m = 0;
        if (ndigits(&p, 2, &h) || (*p == ':' && (p++, ndigits(&p, 2, &m))) || h > 23 || m > 59)
            return -1;
        if (neg && !h && !m)
            *unknown = 1;
        else
            v->has_offset = 1;
        v->offset = (neg ? -1 : 1) * (h * 3600 + m * 60);
    }
    if (*p == '[') {
        p = strchr(p, ']');
        if (!p)
            return -1;
        p++;
    }
    return *p ? -1 : 0;
}

/* The same instant in zone z, as java.time's withZone prints it. */
static void to_zone(dt_value *v, const tzone *z)
{
    int64_t us = (days_from_civil(v->year, v->month, v->day) * 86400LL + v->hour * 3600LL + v->min * 60LL + v->sec -
                  (v->has_offset ? v->offset : 0)) *
                     US_PER_SEC +
                 v->nano / 1000;
    civil c;
    tz_to_civil(z, us, &c);
    v->year = c.year;
    v->month = c.month;
    v->day = c.day;
    v->hour = c.hour;
    v->min = c.min;
    v->sec = c.sec;
    v->nano = c.usec * 1000 + v->nano % 1000;
    v->offset = c.offset;
    v->has_offset = 1;
}

/*
 * A timestamp (k "timestamp") or a java.time value (k "LocalTime"...) of
 * that text as Kestra's IonToCsv prints it: 1 and the text in out, 0 when
 * the text does not parse as one (then it is printed as it is), -1 on an
 * error. Kestra reads an Ion timestamp at offset Z or unknown as a LocalDate
 * when it is midnight, else as an Instant (printed in UTC), and one at another
 * offset as a ZonedDateTime (printed in timeZoneId).
 */
static int csv_temporal_text(const char *k, const char *text, const csv_dates *d, buf *out, kerr *e)
{
    dt_value v;
    int unknown;
    if (parse_temporal(text, &v, &unknown))
        return 0;
    const datefmt *f;
    if (!strcmp(k, "timestamp")) {
        if (!v.has_offset || v.offset == 0) {
            if (!v.has_time || !(v.hour | v.min | v.sec | v.nano)) {
                v.has_time = v.has_offset = 0;
                f = d->date;
            } else {
                v.has_offset = 1;
                v.offset = 0;
                f = d->datetime;
            }
        } else {
            to_zone(&v, d->tz);
            f = d->datetime;
        }
    } else if (!strcmp(k, "LocalDate") && v.has_date && !v.has_time) {
        f = d->date;
    } else if ((!strcmp(k, "LocalTime") || !strcmp(k, "OffsetTime")) && !v.has_date && v.has_time) {
        if (k[0] == 'L')
            v.has_offset = 0;
        f = d->time;
    } else if (!strcmp(k, "LocalDateTime") && v.has_date && v.has_time) {
        v.has_offset = 0;
        f = d->datetime;
    } else if (!strcmp(k, "Instant") && v.has_date && v.has_time && v.has_offset) {
        to_zone(&v, tz_utc());
        f = d->datetime;
    } else if ((!strcmp(k, "OffsetDateTime") || !strcmp(k, "ZonedDateTime")) && v.has_date && v.has_time &&
               v.has_offset) {
        to_zone(&v, d->tz);
        f = d->datetime;
    } else {
        return 0;
    }
    return datefmt_format(f, &v, out, e) ? -1 : 1;
}

static int csv_dates_init(task_ctx *c, csv_dates *d, kerr *e)
{
    memset(d, 0, sizeof *d);
    char *df = NULL, *tf = NULL, *dtf = NULL, *tz = NULL;
    int rc = -1;
    if (task_prop_string(c, "dateFormat", "yyyy-MM-dd", &df, e) ||
        task_prop_string(c, "timeFormat", "HH:mm:ss[XXX]", &tf, e) ||
        task_prop_string(c, "dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]", &dtf, e) ||
        task_prop_string(c, "timeZoneId", "UTC", &tz, e))
        goto out;
    if (!(d->date = datefmt_compile("dateFormat", df, e)) || !(d->time = datefmt_compile("timeFormat", tf, e)) ||
        !(d->datetime = datefmt_compile("dateTimeFormat", dtf, e)))
        goto out;
    if (!(d->tz = tz_get(tz, NULL))) {
        kerr_setc(e, KERR_INVALID, "property 'timeZoneId': unknown time zone '%s'", tz);
        goto out;
    }
    rc = 0;
out:
    free(df);
    free(tf);
    free(dtf);
    free(tz);
    return rc;
}

static void csv_dates_free(csv_dates *d)
{
    datefmt_free(d->date);
    datefmt_free(d->time);
    datefmt_free(d->datetime);
}

/* IonToCsv's quoteMode (Kestra's, over alwaysDelimitText when set):
 * ALWAYS quotes every field, REQUIRED only those that need it, NON_NUMERIC
 * every field but numbers (*always: 1, 0 or QUOTE_NON_NUMERIC). */
enum { QUOTE_NON_NUMERIC = 2 };

static int quote_mode(task_ctx *c, int *always, kerr *e)
{
    char *m = NULL;
    if (task_prop_string(c, "quoteMode", NULL, &m, e))
        return -1;
    if (!m)
        return 0;
    int rc = 0;
    if (!strcmp(m, "ALWAYS"))
        *always = 1;
    else if (!strcmp(m, "REQUIRED"))
        *always = 0;
    else if (!strcmp(m, "NON_NUMERIC"))
        *always = QUOTE_NON_NUMERIC;
    else
        rc = kerr_setc(e, KERR_INVALID, "property 'quoteMode': '%s' is not one of ALWAYS, REQUIRED, NON_NUMERIC", m);
    free(m);
    return rc;
}

/*
 * IonToCsv's rows, read a member at a time (ion_reader_next_fields): the
 * columns are the first struct row's field names (a later row's other
 * fields are dropped, a missing one is empty); list rows and scalars give
 * their values in order. Each value is formatted and quoted as it comes, into
 * its column's buffer; the line is joined when the row ends.
 */
typedef struct csv_rows {
    char **names;
    size_t ncol, ncap;
    buf *vals;       /* this row's fields by column (struct rows) or in order */
    char *set;
    size_t nvals;
    size_t seq;      /* list rows: values so far */
    size_t hint;     /* the column the next field likely is */
    int have_names;  /* the first struct row is done */
    int64_t row;     /* 1-based, of the row being read */
    const csv_dates *d;
    int sep, quote, always, failed;
    buf tmp;
    kerr *e;
} csv_rows;

static int csv_row_field(void *ud, const char *name, ion_type t, const char *jtime, const char *text, size_t n)
{
    csv_rows *st = ud;
    size_t col;
    if (name) {
        col = st->hint;
        if (!(col < st->ncol && !strcmp(st->names[col], name))) {
            for (col = 0; col < st->ncol && strcmp(st->names[col], name); col++)
                ;
            if (col == st->ncol) {
                if (st->have_names)
                    return 0; /* not a column */
                if (st->ncol == st->ncap) {
                    st->ncap = st->ncap ? st->ncap * 2 : 16;
                    st->names = xrealloc(st->names, st->ncap * sizeof *st->names);
                }
                st->names[st->ncol++] = xstrdup(name);
            }
        }
        st->hint = col + 1;
    } else
        col = st->seq++;
    if (col >= st->nvals) {
        size_t n2 = col + 16;
        st->vals = xrealloc(st->vals, n2 * sizeof *st->vals);
        st->set = xrealloc(st->set, n2);
        for (size_t i = st->nvals; i < n2; i++) {
            buf_init(&st->vals[i], 0);
            st->set[i] = 0;
        }
        st->nvals = n2;
    }
    buf *o = &st->vals[col];
    buf_reset(o);
    st->set[col] = 1;
    if (!text)
        return 0;
    if (t == ION_TIMESTAMP || jtime) {
        buf_reset(&st->tmp);
        int rc = csv_temporal_text(jtime ? jtime : "timestamp", text, st->d, &st->tmp, st->e);
        if (rc < 0) {
            st->failed = 1;
            if (name)
                kerr_prefix(st->e, "row %lld, field '%s'", (long long)st->row, name);
            else
                kerr_prefix(st->e, "row %lld, column %zu", (long long)st->row, col + 1);
            return -1;
        }
        if (rc > 0) {
            csv_field(o, st->tmp.data ? st->tmp.data : "", st->tmp.len, st->sep, st->quote, st->always);
            return 0;
        }
    }
    csv_field(o, text, n, st->sep, st->quote, st->always);
    return 0;
}

/* After a row: the next one starts empty. */
static void csv_rows_next(csv_rows *st)
{
    st->row++;
    memset(st->set, 0, st->nvals);
    st->seq = st->hint = 0;
}

static void csv_rows_free(csv_rows *st)
{
    for (size_t i = 0; i < st->ncol; i++)
        free(st->names[i]);
    free(st->names);
    for (size_t i = 0; i < st->nvals; i++)
        buf_free(&st->vals[i]);
    free(st->vals);
    free(st->set);
    buf_free(&st->tmp);
}

static task_result ion_to_csv_run(task_ctx *c, kerr *e)
{
    conv v;
    int sep, quote, header, always;
    char *nl = NULL, *cs = NULL;
    csv_dates d;
    if (one_char(c, "fieldSeparator", ",", &sep, e) || one_char(c, "textDelimiter", "\"", &quote, e) ||
        task_prop_bool(c, "header", 1, &header, e) || task_prop_bool(c, "alwaysDelimitText", 0, &always, e) ||
        quote_mode(c, &always, e) || task_prop_string(c, "lineDelimiter", "\n", &nl, e) ||
        charset_prop(c, &cs, e)) {
        free(nl);
        return TASK_FAILED;
    }
    if (csv_dates_init(c, &d, e)) {
        csv_dates_free(&d);
        free(nl);
        return TASK_FAILED;
    }
    if (conv_open(c, &v, "csv", e) || conv_encoder(&v, cs, e)) {
        csv_dates_free(&d);
        free(nl);
        free(cs);
        return conv_end(c, &v, -1, e);
    }
    free(cs);
    ion_reader *r = ion_reader_new_file(v.in, ION_READ_TIMES);
    csv_rows st;
    memset(&st, 0, sizeof st);
    st.d = &d;
    st.sep = sep;
    st.quote = quote;
    st.always = always;
    st.e = e;
    st.row = 1;
    ion_type t;
    int rc = 0, got;
    buf b;
    buf_init(&b, 0);
    while ((got = ion_reader_next_fields(r, csv_row_field, &st, &t, e)) == 1) {
        buf_reset(&b);
        if (t == ION_STRUCT) {
            if (!st.have_names) {
                st.have_names = 1;
                if (header) {
                    for (size_t i = 0; i < st.ncol; i++) {
                        if (i)
                            buf_putc(&b, (char)sep);
                        csv_field(&b, st.names[i], strlen(st.names[i]), sep, quote, always);
                    }
                    buf_puts(&b, nl);
                }
            }
            for (size_t i = 0; i < st.ncol; i++) {
                if (i)
                    buf_putc(&b, (char)sep);
                if (i < st.nvals && st.set[i])
                    buf_append(&b, st.vals[i].data, st.vals[i].len);
            }
        } else {
            for (size_t i = 0; i < st.seq; i++) {
                if (i)
                    buf_putc(&b, (char)sep);
                buf_append(&b, st.vals[i].data, st.vals[i].len);
            }
        }
        buf_puts(&b, nl);
        if (conv_row(&v, b.data, b.len, st.row, e)) {
            rc = -1;
            break;
        }
        csv_rows_next(&st);
    }
    if (got < 0) {
        if (!st.failed)
            kerr_prefix(e, "property 'from'");
        rc = -1;
    }
    int64_t rows = st.row - 1;
    csv_rows_free(&st);
    buf_free(&b);
    free(nl);
    ion_reader_free(r);
    csv_dates_free(&d);
    if (!rc)
        task_metric(c, "records", METRIC_COUNTER, (double)rows, NULL);
    return conv_end(c, &v, rc, e);
}

/* ---- JSON <-> Ion ------------------------------------------------------------ */

static ssize_t file_src(void *ud, char *b, size_t cap)
{
    size_t n = fread(b, 1, cap, (FILE *)ud);
    return n == 0 && ferror((FILE *)ud) ? -1 : (ssize_t)n;
}

/* JSON lines (each line one value; a trailing ',' and blank lines are
 * allowed, as Kestra's reader allows them) or one JSON value, an array's
 * elements being the rows: transcoded to Ion by ion_json.c, no tree built. */
static task_result json_to_ion_run(task_ctx *c, kerr *e)
{
    conv v;
    int newline;
    char *cs = NULL;
    if (task_prop_bool(c, "newLine", 1, &newline, e) || charset_prop(c, &cs, e))
        return TASK_FAILED;
    int orc = conv_open(c, &v, "ion", e) || conv_decode(&v, cs, e);
    free(cs);
    if (orc)
        return conv_end(c, &v, -1, e);
    ion_writer *w = ion_writer_new(sw_sink, v.sw);
    int rc = 0, got;
    int64_t rows = 0;
    if (newline) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long no = 0;
        ion_json_reader *jr = ion_json_reader_new_mem("", 0, 1);
        while (!rc && (n = getline(&line, &cap, v.in)) >= 0 && !tasks__decode_error(v.dec)) {
            no++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == ','))
                n--;
            if (n == 0)
                continue;
            ion_json_reader_reset_mem(jr, line, (size_t)n, no);
            if (ion_json_next(jr, w, ION_JSON_ONE, e) < 0)
                rc = -1;
            rows++;
        }
        ion_json_reader_free(jr);
        free(line);
    } else {
        ion_json_reader *jr = ion_json_reader_new(file_src, v.in);
        while ((got = ion_json_next(jr, w, ION_JSON_ARRAY, e)) == 1)
            rows++;
        rc = got < 0 ? -1 : 0;
        ion_json_reader_free(jr);
    }
    if (tasks__decode_error(v.dec))
        rc = kerr_setc(e, KERR_INVALID, "%s", tasks__decode_error(v.dec));
    if (rc && e->code == KERR_INVALID)
        kerr_prefix(e, "property 'from'");
    if (!rc && ion_writer_flush(w))
        rc = kerr_set(e, "internal storage: writing %s failed", v.uri);
    ion_writer_free(w);
    if (!rc)
        task_metric(c, "records", METRIC_COUNTER, (double)rows, NULL);
    return conv_end(c, &v, rc, e);
}

static task_result ion_to_json_run(task_ctx *c, kerr *e)
{
    conv v;
    int newline;
    char *cs = NULL;
    if (task_prop_bool(c, "newLine", 1, &newline, e) || charset_prop(c, &cs, e))
        return TASK_FAILED;
    int orc = conv_open(c, &v, newline ? "jsonl" : "json", e) || conv_encoder(&v, cs, e);
    free(cs);
    if (orc)
        return conv_end(c, &v, -1, e);
    /* straight from Ion text to JSON text (ion_reader_next_json), into
     * the output buffer, no tree built */
    ion_reader *r = ion_reader_new_file(v.in, 0);
    ion_type t;
    int rc = 0, got = 0;
    if (!newline)
        buf_putc(&v.out, '[');
    for (;;) {
        size_t mark = v.out.len;
        if (!newline && ion_reader_count(r))
            buf_putc(&v.out, ',');
        if ((got = ion_reader_next_json(r, &v.out, &t, e)) != 1) {
            v.out.len = mark;
            break;
        }
        if (newline)
            buf_putc(&v.out, '\n');
        if (conv_encode(&v, (int64_t)ion_reader_count(r), e) || (v.out.len >= CONV_OUT && conv_put(&v, "", 0, e))) {
            rc = -1;
            break;
        }
    }
    if (!rc && got < 0) {
        kerr_prefix(e, "property 'from'");
        rc = -1;
    }
    if (!rc && !newline)
        rc = conv_put(&v, "]\n", 2, e);
    ion_reader_free(r);
    return conv_end(c, &v, rc, e);
}

static const struct task_hooks csv_to_ion_hooks = {.run = csv_to_ion_run};
static const struct task_hooks ion_to_csv_hooks = {.run = ion_to_csv_run};
static const struct task_hooks json_to_ion_hooks = {.run = json_to_ion_run};
static const struct task_hooks ion_to_json_hooks = {.run = ion_to_json_run};

const type_def tasks__serdes[] = {
    {
        .name = "serdes.csv_to_ion",
        .hooks = &csv_to_ion_hooks,
        .aliases = ALIASES("io.kestra.plugin.serdes.csv.CsvToIon", "io.kestra.plugin.serdes.csv.CsvReader"),
        .desc = "Convert a CSV file to Ion rows (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI"),
                       PSTR("fieldSeparator", 0, "\",\"", "field separator character"),
                       PSTR("textDelimiter", 0, "\"\\\"\"", "text delimiter character"),
                       PBOOL("header", 0, "true", "the first line is the header"),
                       PBOOL("skipEmptyRows", 0, "false", "skip empty rows"),
                       PINT("skipRows", 0, "0", "lines to skip at the start"),
                       PBOOL("errorOnDifferentFieldCount", 0, "false", "fail on a row with another field count"),
                       PSTR("charset", 0, "\"UTF-8\"", "the file's charset (iconv's names: ISO-8859-1, windows-1252, UTF-16...)")),
    },
    {
        .name = "serdes.ion_to_csv",
        .hooks = &ion_to_csv_hooks,
        .aliases = ALIASES("io.kestra.plugin.serdes.csv.IonToCsv", "io.kestra.plugin.serdes.csv.CsvWriter"),
        .desc = "Convert Ion rows to a CSV file (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI"),
                       PSTR("fieldSeparator", 0, "\",\"", "field separator character"),
                       PSTR("textDelimiter", 0, "\"\\\"\"", "text delimiter character"),
                       PBOOL("header", 0, "true", "write a header line"),
                       PBOOL("alwaysDelimitText", 0, "false", "always quote fields (quoteMode wins when set)"),
                       PENUM("quoteMode", 0, NULL, ENUMS("ALWAYS", "REQUIRED", "NON_NUMERIC"),
                             "which fields are quoted: all, those that need it, all but numbers"),
                       PSTR("lineDelimiter", 0, "\"\\n\"", "line delimiter"),
                       PSTR("charset", 0, "\"UTF-8\"", "the output's charset (iconv's names)"),
                       PSTR("dateFormat", 0, "\"yyyy-MM-dd\"", "Java DateTimeFormatter pattern for dates"),
                       PSTR("timeFormat", 0, "\"HH:mm:ss[XXX]\"", "pattern for times"),
                       PSTR("dateTimeFormat", 0, "\"yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]\"",
                            "pattern for date-times"),
                       PSTR("timeZoneId", 0, "\"UTC\"", "the zone date-times with an offset are printed in")),
    },
    {
        .name = "serdes.json_to_ion",
        .hooks = &json_to_ion_hooks,
        .aliases = ALIASES("io.kestra.plugin.serdes.json.JsonToIon", "io.kestra.plugin.serdes.json.JsonReader"),
        .desc = "Convert JSON lines (or one array) to Ion rows (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI"),
                       PBOOL("newLine", 0, "true", "JSON lines; false: one JSON array"),
                       PSTR("charset", 0, "\"UTF-8\"", "the file's charset (iconv's names)")),
    },
    {
        .name = "serdes.ion_to_json",
        .hooks = &ion_to_json_hooks,
        .aliases = ALIASES("io.kestra.plugin.serdes.json.IonToJson", "io.kestra.plugin.serdes.json.JsonWriter"),
        .desc = "Convert Ion rows to JSON lines (or one array) (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI"),
                       PBOOL("newLine", 0, "true", "JSON lines; false: one JSON array"),
                       PSTR("charset", 0, "\"UTF-8\"", "the output's charset (iconv's names)")),
    },
};

const size_t tasks__serdes_count = sizeof tasks__serdes / sizeof tasks__serdes[0];
