/*
 * serdes_avro.c: Avro row files (io.kestra.plugin.serdes.avro.IonToAvro and
 * AvroToIon, with the older AvroWriter / AvroReader names), on Debian's
 * libavro (Apache Avro C). Both stream: one Ion value, then one Avro record
 * at a time, so memory does not grow with the file. Output `uri`.
 *
 * libavro knows the primitive and complex types but not logical types, so the
 * schema is also kept as JSON and walked beside each value: that is where
 * date, time-millis/-micros, timestamp-millis/-micros (and local-), decimal
 * (bytes or fixed) and uuid are mapped. Reading, the schema comes from the
 * file's own header (its "avro.schema" metadata, JSON as the writer wrote it,
 * logical types included), not from libavro's copy.
 *
 * IonToAvro reads Ion rows as ion.h's TAGGED values (a timestamp, a decimal,
 * a blob keep their type) and converts each field to the schema's type as
 * Kestra's AvroConverter does: strings in trueValues / falseValues /
 * nullValues, numbers from text, dates and timestamps from ISO-8601 text or
 * Ion timestamps (read in timeZoneId when they carry no offset), a union takes
 * its first branch the value fits. A field missing from a row is null when the
 * schema allows it, else its default, else an error naming the row and field.
 */
#include "tasks/tasks_int.h"

#include "storage/storage.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/dl_avro.h"
#include "util/ion.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the schema as JSON: named types -------------------------------------- */

typedef struct sctx {
    json_t *names;          /* full name -> schema node (borrowed from the root) */
    const tzone *tz;
    json_t *true_v, *false_v, *null_v;
    long row;               /* for messages */
} sctx;

static const char *prim_name(const json_t *s)
{
    if (json_is_string(s))
        return json_string_value(s);
    if (json_is_object(s)) {
        const json_t *t = json_object_get(s, "type");
        return json_is_string(t) ? json_string_value(t) : NULL;
    }
    return NULL;
}

static void collect_names(json_t *names, const json_t *s, const char *ns)
{
    if (json_is_array(s)) {
        size_t i;
        json_t *b;
        json_array_foreach(s, i, b) collect_names(names, b, ns);
        return;
    }
    if (!json_is_object(s))
        return;
    const char *t = prim_name(s);
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *own_ns = json_string_value(json_object_get(s, "namespace"));
    if (own_ns)
        ns = own_ns;
    if (t && name && (!strcmp(t, "record") || !strcmp(t, "enum") || !strcmp(t, "fixed") || !strcmp(t, "error"))) {
        json_object_set(names, name, (json_t *)s);
        if (ns && *ns && !strchr(name, '.')) {
            char *full = xasprintf("%s.%s", ns, name);
            json_object_set(names, full, (json_t *)s);
            free(full);
        }
    }
    const json_t *fields = json_object_get(s, "fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) collect_names(names, json_object_get(f, "type"), ns);
    if (json_is_object(json_object_get(s, "type")) || json_is_array(json_object_get(s, "type")))
        collect_names(names, json_object_get(s, "type"), ns);
    collect_names(names, json_object_get(s, "items"), ns);
    collect_names(names, json_object_get(s, "values"), ns);
}

/* The node a name refers to, or the node itself. */
static const json_t *resolve(const sctx *x, const json_t *s)
{
    if (json_is_string(s)) {
        const json_t *n = json_object_get(x->names, json_string_value(s));
        return n ? n : s;
    }
    /* {"type": "string", "logicalType": ...} keeps its own attributes; a
     * {"type": {...}} wrapper is the inner schema */
    if (json_is_object(s) && (json_is_object(json_object_get(s, "type")) || json_is_array(json_object_get(s, "type"))))
        return resolve(x, json_object_get(s, "type"));
    return s;
}

static const char *logical(const json_t *s)
{
    return json_is_object(s) ? json_string_value(json_object_get(s, "logicalType")) : NULL;
}

/* ---- Ion value -> Avro value ---------------------------------------------- */

static const char *tagged(const json_t *v, const char *tag)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    return json_string_value(json_object_get(v, tag));
}

/* The text of a scalar (tagged or not), or NULL. */
static const char *scalar_text(const json_t *v, char *tmp, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    const char *t;
    if ((t = tagged(v, "$ion_timestamp")) || (t = tagged(v, "$ion_decimal")) || (t = tagged(v, "$ion_symbol")) ||
        (t = tagged(v, "$ion_clob")))
        return t;
    if (json_is_integer(v)) {
        snprintf(tmp, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return tmp;
    }
    if (json_is_real(v)) {
        snprintf(tmp, n, "%.17g", json_real_value(v));
        return tmp;
    }
    return NULL;
}

static int in_list(const json_t *list, const char *s)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) if (json_is_string(it) && !strcmp(json_string_value(it), s)) return 1;
    return 0;
}

static int is_null_value(const sctx *x, const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && in_list(x->null_v, json_string_value(v)));
}

static int fail_at(const sctx *x, const char *path, kerr *e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_at(const sctx *x, const char *path, kerr *e, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kerr_set(e, "row %ld, field '%s': %s", x->row, *path ? path : "(the row)", msg);
}

static int to_int64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v)) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    char tmp[64];
    const char *s = scalar_text(v, tmp, sizeof tmp);
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = n;
    return 0;
}

static int to_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    char tmp[64];
    const char *s = scalar_text(v, tmp, sizeof tmp);
    if (!s || !*s)
        return -1;
    char *end;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

/* An instant in microseconds from an Ion timestamp or ISO text. */
static int to_instant(const sctx *x, const json_t *v, int64_t *us)
{
    char tmp[64];
    const char *s = scalar_text(v, tmp, sizeof tmp);
    if (!s)
        return -1;
    if (json_is_integer(v)) { /* epoch milliseconds, as Kestra accepts */
        *us = json_integer_value(v) * 1000;
        return 0;
    }
    /* Ion writes a date as 2024-01-02T: a date */
    char buf2[80];
    size_t n = strlen(s);
    if (n < sizeof buf2 && n && s[n - 1] == 'T') {
        memcpy(buf2, s, n - 1);
        buf2[n - 1] = 0;
        s = buf2;
    }
    kerr e = KERR_INIT;
    return datetime_parse(s, x->tz, us, NULL, &e);
}

/* Microseconds since midnight from "HH:MM[:SS[.ffffff]]". */
static int to_time(const json_t *v, int64_t *us)
{
    char tmp[64];
    const char *s = scalar_text(v, tmp, sizeof tmp);
    int h, m, sec = 0, k = 0;
    if (!s || sscanf(s, "%2d:%2d%n", &h, &m, &k) != 2)
        return -1;
    s += k;
    int64_t frac = 0;
    if (*s == ':') {
        if (sscanf(s + 1, "%2d%n", &sec, &k) != 1)
            return -1;
        s += 1 + k;
        if (*s == '.') {
            int64_t scale = 100000;
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                if (scale)
                    frac += (*s - '0') * scale;
        }
    }
    if (h > 23 || m > 59 || sec > 60)
        return -1;
    *us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + frac;
    return 0;
}

/* The unscaled value of a decimal text at scale, big-endian two's complement
 * in out (at most 64 bytes); *n its length. */
static int decimal_bytes(const char *text, int scale, unsigned char *out, size_t *n)
{
    int neg = 0;
    const char *p = text;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    char digits[160];
    size_t nd = 0;
    int seen_dot = 0, frac = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (seen_dot && frac >= scale)
                continue; /* cut past the scale */
            if (nd + 1 >= sizeof digits)
                return -1;
            digits[nd++] = *p;
            frac += seen_dot;
        } else if (*p == '.' && !seen_dot) {
            seen_dot = 1;
        } else if (*p == 'd' || *p == 'D' || *p == 'e' || *p == 'E') {
            return -1; /* exponents: not handled */
        } else {
            return -1;
        }
    }
    for (; frac < scale; frac++) {
        if (nd + 1 >= sizeof digits)
            return -1;
        digits[nd++] = '0';
    }
    /* decimal digits -> base 256, little-endian in mag */
    unsigned char mag[64] = {0};
    size_t ml = 1;
    for (size_t i = 0; i < nd; i++) {
        unsigned carry = (unsigned)(digits[i] - '0');
        for (size_t j = 0; j < ml; j++) {
            unsigned v = mag[j] * 10u + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
        if (carry) {
            if (ml >= sizeof mag)
                return -1;
            mag[ml++] = (unsigned char)carry;
        }
    }
    if (neg) { /* two's complement */
        unsigned carry = 1;
        for (size_t j = 0; j < ml; j++) {
            unsigned v = (unsigned char)~mag[j] + carry;
            mag[j] = (unsigned char)v;
            carry = v >> 8;
        }
    }
    /* a sign byte when the top bit does not say the sign */
    unsigned char top = mag[ml - 1];
    if (!neg && (top & 0x80))
        mag[ml++] = 0;
    else if (neg && !(top & 0x80))
        mag[ml++] = 0xff;
    if (ml > sizeof mag)
        return -1;
    for (size_t j = 0; j < ml; j++)
        out[j] = mag[ml - 1 - j];
    *n = ml;
    return 0;
}

static int put_value(sctx *x, const json_t *schema, avro_value_t *out, const json_t *v, const char *path,
                     kerr *e);

/* Does v fit this branch of a union (a first, cheap look)? */
static int fits(sctx *x, const json_t *s, const json_t *v)
{
    s = resolve(x, s);
    const char *t = prim_name(s);
    if (!t)
        return 0;
    if (!strcmp(t, "null"))
        return is_null_value(x, v);
    if (is_null_value(x, v))
        return 0;
    if (!strcmp(t, "record") || !strcmp(t, "map"))
        return json_is_object(v) && !tagged(v, "$ion_timestamp") && !tagged(v, "$ion_decimal") &&
               !tagged(v, "$ion_blob");
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v) || (json_is_string(v) && (in_list(x->true_v, json_string_value(v)) ||
                                                            in_list(x->false_v, json_string_value(v))));
    const char *lt = logical(s);
    if (lt && (strstr(lt, "timestamp") || !strcmp(lt, "date"))) {
        int64_t us;
        return to_instant(x, v, &us) == 0;
    }
    if (!strcmp(t, "int") || !strcmp(t, "long")) {
        int64_t n;
        return to_int64(v, &n) == 0;
    }
    if (!strcmp(t, "float") || !strcmp(t, "double")) {
        double d;
        return to_double(v, &d) == 0;
    }
    if (!strcmp(t, "enum"))
        return json_is_string(v) && in_list(json_object_get(s, "symbols"), json_string_value(v));
    return 1; /* string, bytes, fixed take any scalar */
}

static int put_value(sctx *x, const json_t *schema, avro_value_t *out, const json_t *v, const char *path,
                     kerr *e)
{
    const json_t *s = resolve(x, schema);
    if (json_is_array(s)) { /* a union */
        size_t i;
        json_t *b;
        json_array_foreach(s, i, b) {
            if (!fits(x, b, v))
                continue;
            avro_value_t br;
            if (avro_value_set_branch(out, (int)i, &br))
                return fail_at(x, path, e, "%s", avro_strerror());
            return put_value(x, b, &br, v, path, e);
        }
        char *d = json_dumps(v ? v : json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
        int r = fail_at(x, path, e, "%.80s fits no type of the union", d ? d : "?");
        free(d);
        return r;
    }
    const char *t = prim_name(s);
    const char *lt = logical(s);
    if (!t)
        return fail_at(x, path, e, "the schema has no type here");
    char tmp[64];
    if (!strcmp(t, "null")) {
        if (!is_null_value(x, v))
            return fail_at(x, path, e, "a value where the schema says null");
        return avro_value_set_null(out) ? fail_at(x, path, e, "%s", avro_strerror()) : 0;
    }
    if (is_null_value(x, v))
        return fail_at(x, path, e, "null, and the schema does not allow it (make it a union with \"null\")");
    int rc = 0;
    if (!strcmp(t, "boolean")) {
        int b;
        if (json_is_boolean(v))
            b = json_is_true(v);
        else if (json_is_string(v) && in_list(x->true_v, json_string_value(v)))
            b = 1;
        else if (json_is_string(v) && in_list(x->false_v, json_string_value(v)))
            b = 0;
        else
            return fail_at(x, path, e, "not a boolean (trueValues, falseValues)");
        rc = avro_value_set_boolean(out, b);
    } else if (!strcmp(t, "int") || !strcmp(t, "long")) {
        int64_t n;
        if (lt && !strcmp(lt, "date")) {
            int64_t us;
            if (to_instant(x, v, &us))
                return fail_at(x, path, e, "not a date");
            /* the day in timeZoneId */
            civil c;
            tz_to_civil(x->tz, us, &c);
            n = days_from_civil(c.year, c.month, c.day);
        } else if (lt && (!strcmp(lt, "time-millis") || !strcmp(lt, "time-micros"))) {
            if (to_time(v, &n))
                return fail_at(x, path, e, "not a time (HH:MM:SS)");
            if (!strcmp(lt, "time-millis"))
                n /= 1000;
        } else if (lt && strstr(lt, "timestamp-")) {
            if (to_instant(x, v, &n))
                return fail_at(x, path, e, "not a date-time");
            if (!strncmp(lt, "local-", 6)) {
                int off = tz_offset_at(x->tz, n);
                n += (int64_t)off * 1000000;
            }
            if (strstr(lt, "millis"))
                n = n >= 0 ? n / 1000 : -((-n + 999) / 1000);
        } else if (to_int64(v, &n)) {
            return fail_at(x, path, e, "not an integer");
        }
        if (!strcmp(t, "int")) {
            if (n < INT32_MIN || n > INT32_MAX)
                return fail_at(x, path, e, "%lld is out of an Avro int's range", (long long)n);
            rc = avro_value_set_int(out, (int32_t)n);
        } else {
            rc = avro_value_set_long(out, n);
        }
    } else if (!strcmp(t, "float") || !strcmp(t, "double")) {
        double d;
        if (to_double(v, &d))
            return fail_at(x, path, e, "not a number");
        rc = !strcmp(t, "float") ? avro_value_set_float(out, (float)d) : avro_value_set_double(out, d);
    } else if (!strcmp(t, "string")) {
        const char *str = scalar_text(v, tmp, sizeof tmp);
        char *dump = NULL;
        if (!str && json_is_boolean(v))
            str = json_is_true(v) ? "true" : "false";
        if (!str)
            str = dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        rc = avro_value_set_string(out, str);
        free(dump);
    } else if (!strcmp(t, "bytes") || !strcmp(t, "fixed")) {
        unsigned char dec[64];
        size_t dn = 0;
        void *raw = NULL;
        const void *p = NULL;
        size_t n = 0;
        if (lt && !strcmp(lt, "decimal")) {
            int scale = (int)json_integer_value(json_object_get(s, "scale"));
            const char *txt = scalar_text(v, tmp, sizeof tmp);
            if (!txt || decimal_bytes(txt, scale, dec, &dn))
                return fail_at(x, path, e, "not a decimal of scale %d", scale);
            if (!strcmp(t, "fixed")) { /* sign-extend to the size */
                size_t size = (size_t)json_integer_value(json_object_get(s, "size"));
                if (dn > size || size > sizeof dec)
                    return fail_at(x, path, e, "the decimal does not fit %zu bytes", size);
                memmove(dec + (size - dn), dec, dn);
                memset(dec, dec[size - dn] & 0x80 ? 0xff : 0, size - dn);
                dn = size;
            }
            p = dec;
            n = dn;
        } else if (tagged(v, "$ion_blob")) {
            size_t bn;
            size_t bad;
            raw = base64_decode(tagged(v, "$ion_blob"), strlen(tagged(v, "$ion_blob")), &bn, &bad);
            if (!raw)
                return fail_at(x, path, e, "a blob that is not base64");
            p = raw;
            n = bn;
        } else {
            const char *txt = scalar_text(v, tmp, sizeof tmp);
            if (!txt)
                return fail_at(x, path, e, "not bytes");
            p = txt;
            n = strlen(txt);
        }
        if (!strcmp(t, "fixed")) {
            size_t size = (size_t)json_integer_value(json_object_get(s, "size"));
            if (n != size) {
                free(raw);
                return fail_at(x, path, e, "%zu bytes for a fixed of %zu", n, size);
            }
            rc = avro_value_set_fixed(out, (void *)p, n);
        } else {
            rc = avro_value_set_bytes(out, (void *)p, n);
        }
        free(raw);
    } else if (!strcmp(t, "enum")) {
        const json_t *syms = json_object_get(s, "symbols");
        const char *str = json_string_value(v);
        size_t i;
        json_t *it;
        int idx = -1;
        json_array_foreach(syms, i, it) if (str && !strcmp(json_string_value(it), str)) idx = (int)i;
        if (idx < 0)
            return fail_at(x, path, e, "'%s' is not a symbol of the enum", str ? str : "?");
        rc = avro_value_set_enum(out, idx);
    } else if (!strcmp(t, "array")) {
        if (!json_is_array(v))
            return fail_at(x, path, e, "not a list");
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) {
            avro_value_t el;
            if (avro_value_append(out, &el, NULL))
                return fail_at(x, path, e, "%s", avro_strerror());
            char *p2 = xasprintf("%s[%zu]", path, i);
            int r = put_value(x, json_object_get(s, "items"), &el, it, p2, e);
            free(p2);
            if (r)
                return -1;
        }
    } else if (!strcmp(t, "map")) {
        if (!json_is_object(v))
            return fail_at(x, path, e, "not a map");
        const char *k;
        json_t *it;
        json_object_foreach((json_t *)v, k, it) {
            avro_value_t el;
            if (avro_value_add(out, k, &el, NULL, NULL))
                return fail_at(x, path, e, "%s", avro_strerror());
            char *p2 = xasprintf("%s.%s", path, k);
            int r = put_value(x, json_object_get(s, "values"), &el, it, p2, e);
            free(p2);
            if (r)
                return -1;
        }
    } else if (!strcmp(t, "record") || !strcmp(t, "error")) {
        if (!json_is_object(v))
            return fail_at(x, path, e, "not a struct");
        const json_t *fields = json_object_get(s, "fields");
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) {
            const char *fname = json_string_value(json_object_get(f, "name"));
            avro_value_t fv;
            if (!fname || avro_value_get_by_index(out, i, &fv, NULL))
                return fail_at(x, path, e, "the schema's field %zu has no name", i);
            char *p2 = *path ? xasprintf("%s.%s", path, fname) : xstrdup(fname);
            const json_t *val = json_object_get(v, fname);
            if (!val && json_object_get(f, "default"))
                val = json_object_get(f, "default");
            int r = put_value(x, json_object_get(f, "type"), &fv, val, p2, e);
            free(p2);
            if (r)
                return -1;
        }
    } else {
        return fail_at(x, path, e, "unknown Avro type '%s'", t);
    }
    return rc ? fail_at(x, path, e, "%s", avro_strerror()) : 0;
}

/* ---- the container file's header --------------------------------------------- */

/* The header of an object container file: the magic "Obj\1", the metadata
 * map (Avro binary: zig-zag varint counts, then each key and value as a
 * length and its bytes) and the 16-byte sync marker. */
static int read_varlong(FILE *f, int64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        int ch = fgetc(f);
        if (ch == EOF)
            return -1;
        u |= (uint64_t)(ch & 0x7f) << shift;
        if (!(ch & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1;
}

/* Reads the header of f up to the data blocks: the metadata as a new array
 * of [key, value] pairs in file order, the sync marker into sync; NULL with
 * e set when f is not a container file. */
static json_t *read_header(FILE *f, unsigned char sync[16], kerr *e)
{
    unsigned char magic[4];
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "Obj\x01", 4)) {
        kerr_set(e, "not an Avro object container file (no 'Obj' magic)");
        return NULL;
    }
    json_t *meta = json_array();
    for (;;) {
        int64_t count;
        if (read_varlong(f, &count))
            goto bad;
        if (count == 0)
            break;
        if (count < 0) { /* a negative count is followed by the block's size */
            int64_t bytes;
            count = -count;
            if (read_varlong(f, &bytes))
                goto bad;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t kl, vl;
            if (read_varlong(f, &kl) || kl < 0 || kl > 4096)
                goto bad;
            char *k = xmalloc((size_t)kl + 1);
            if (fread(k, 1, (size_t)kl, f) != (size_t)kl || read_varlong(f, &vl) || vl < 0 || vl > (64 << 20)) {
                free(k);
                goto bad;
            }
            k[kl] = 0;
            char *v = xmalloc((size_t)vl + 1);
            if (fread(v, 1, (size_t)vl, f) != (size_t)vl) {
                free(k);
                free(v);
                goto bad;
            }
            json_t *pair = json_pack("[s, s#]", k, v, (int)vl);
            free(k);
            free(v);
            if (!pair) /* a key or value that is not UTF-8 text */
                goto bad;
            json_array_append_new(meta, pair);
        }
    }
    if (fread(sync, 1, 16, f) != 16)
        goto bad;
    return meta;
bad:
    json_decref(meta);
    kerr_set(e, "the Avro file's header is truncated or malformed");
    return NULL;
}

static void put_varlong(buf *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        buf_putc(b, (char)(u | 0x80));
        u >>= 7;
    }
    buf_putc(b, (char)u);
}

/* libavro writes its own rendering of the schema into the header, without
 * the logical types (it does not know them): the header is written again
 * with the schema's own JSON text, so that readers (Avro's Java and Python
 * libraries, Kestra's AvroToIon, AvroToIon here) see dates, timestamps and
 * decimals. The blocks after the header are copied as they are. */
static int rewrite_header(const char *path, const char *schema_json, kerr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kerr_set(e, "cannot read the Avro file: %s", strerror(errno));
    buf h = BUF_INIT;
    char *tmp = xasprintf("%s.h", path);
    FILE *o = NULL;
    int rc = -1;
    unsigned char sync[16];
    json_t *meta = read_header(f, sync, e);
    if (!meta)
        goto done;
    buf_append(&h, "Obj\x01", 4);
    put_varlong(&h, (int64_t)json_array_size(meta));
    size_t i;
    json_t *kv;
    json_array_foreach(meta, i, kv) {
        const char *k = json_string_value(json_array_get(kv, 0));
        const char *v = json_string_value(json_array_get(kv, 1));
        size_t vl = json_string_length(json_array_get(kv, 1));
        if (!strcmp(k, "avro.schema")) {
            v = schema_json;
            vl = strlen(schema_json);
        }
        put_varlong(&h, (int64_t)strlen(k));
        buf_puts(&h, k);
        put_varlong(&h, (int64_t)vl);
        buf_append(&h, v, vl);
    }
    put_varlong(&h, 0);
    buf_append(&h, (const char *)sync, 16);
    json_decref(meta);
    meta = NULL;
    if (!(o = fopen(tmp, "wb")) || fwrite(h.data, 1, h.len, o) != h.len)
        goto io;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (fwrite(chunk, 1, n, o) != n)
            goto io;
    if (ferror(f) || fclose(o)) {
        o = NULL;
        goto io;
    }
    o = NULL;
    if (rename(tmp, path))
        goto io;
    rc = 0;
    goto done;
io:
    kerr_set(e, "cannot write the Avro file: %s", strerror(errno));
done:
    if (o)
        fclose(o);
    unlink(tmp);
    free(tmp);
    fclose(f);
    buf_free(&h);
    return rc;
}

/* ---- the tasks ---------------------------------------------------------------- */

static int list_prop(task_ctx *c, const char *name, const char *const *dflt, json_t **out, kerr *e)
{
    if (task_prop(c, name, out, e))
        return -1;
    if (!*out) {
        *out = json_array();
        for (const char *const *p = dflt; *p; p++)
            json_array_append_new(*out, json_string(*p));
    } else if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        return kerr_set(e, "property '%s': expected a list of strings", name);
    }
    return 0;
}

static task_result ion_to_avro_run(task_ctx *c, kerr *e)
{
    static const char *const trues[] = {"t", "true", "enabled", "1", "on", "yes", NULL};
    static const char *const falses[] = {"f", "false", "disabled", "0", "off", "no", "", NULL};
    static const char *const nulls[] = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                                        "1.#IND", "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null",
                                        NULL};
    task_result res = TASK_FAILED;
    char *from = NULL, *schema_text = NULL, *tzname = NULL, *tmp = NULL, *uri = NULL;
    json_t *schema = NULL;
    sctx x = {0};
    avro_schema_t as = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t val;
    int have_val = 0;
    avro_file_writer_t w = NULL;
    FILE *in = NULL;
    ion_reader *r = NULL;
    if (task_prop_string(c, "from", NULL, &from, e) || tasks__prop_text(c, "schema", NULL, &schema_text, e) ||
        task_prop_string(c, "timeZoneId", "UTC", &tzname, e) || list_prop(c, "trueValues", trues, &x.true_v, e) ||
        list_prop(c, "falseValues", falses, &x.false_v, e) || list_prop(c, "nullValues", nulls, &x.null_v, e))
        goto out;
    if (!from || !schema_text) {
        kerr_setc(e, KERR_INVALID, "property '%s' is required", from ? "schema" : "from");
        goto out;
    }
    if (!(x.tz = tz_get(tzname, NULL))) {
        kerr_setc(e, KERR_INVALID, "property 'timeZoneId': unknown time zone '%s'", tzname);
        goto out;
    }
    json_error_t je;
    schema = json_loads(schema_text, JSON_DECODE_ANY, &je);
    if (!schema) {
        kerr_set_at(e, je.line, je.column, "property 'schema': line %d, column %d: %s", je.line, je.column, je.text);
        goto out;
    }
    if (avro_schema_from_json_length(schema_text, strlen(schema_text), &as)) {
        kerr_setc(e, KERR_INVALID, "property 'schema': %s", avro_strerror());
        goto out;
    }
    x.names = json_object();
    collect_names(x.names, schema, NULL);
    iface = avro_generic_class_from_schema(as);
    if (!iface || avro_generic_value_new(iface, &val)) {
        kerr_set(e, "property 'schema': %s", avro_strerror());
        goto out;
    }
    have_val = 1;
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    in = fdopen(fd, "r");
    FILE *tf = tasks__tmp_file(c, &tmp, e);
    if (!tf)
        goto out;
    fclose(tf);
    unlink(tmp); /* libavro creates it */
    if (avro_file_writer_create_with_codec(tmp, as, &w, "null", 0)) {
        kerr_set(e, "cannot write the Avro file: %s", avro_strerror());
        goto out;
    }
    r = ion_reader_new_file(in, ION_READ_TAGGED);
    json_t *row;
    ion_type it;
    int got;
    while ((got = ion_reader_next(r, &row, &it, e)) == 1) {
        x.row++;
        avro_value_reset(&val);
        int rc2 = put_value(&x, schema, &val, row, "", e);
        json_decref(row);
        if (rc2)
            goto out;
        if (avro_file_writer_append_value(w, &val)) {
            kerr_set(e, "row %ld: %s", x.row, avro_strerror());
            goto out;
        }
    }
    if (got < 0) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    if (avro_file_writer_close(w)) {
        w = NULL;
        kerr_set(e, "cannot write the Avro file: %s", avro_strerror());
        goto out;
    }
    w = NULL;
    char *compact = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    int hrc = rewrite_header(tmp, compact, e);
    free(compact);
    if (hrc)
        goto out;
    char name[300];
    snprintf(name, sizeof name, "%s.avro", c->task_id);
    if (task_store_file(c, tmp, name, &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    task_metric(c, "records", METRIC_COUNTER, (double)x.row, NULL);
    res = TASK_SUCCESS;
out:
    if (w)
        avro_file_writer_close(w);
    ion_reader_free(r);
    if (in)
        fclose(in);
    if (have_val)
        avro_value_decref(&val);
    if (iface)
        avro_value_iface_decref(iface);
    if (as)
        avro_schema_decref(as);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    json_decref(schema);
    json_decref(x.names);
    json_decref(x.true_v);
    json_decref(x.false_v);
    json_decref(x.null_v);
    free(from);
    free(schema_text);
    free(tzname);
    free(uri);
    return res;
}

/* ---- Avro value -> Ion value ----------------------------------------------- */

/* The writer's schema, as JSON, from the file's "avro.schema" metadata. */
static json_t *header_schema(const char *path, kerr *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        kerr_set(e, "cannot open the Avro file: %s", strerror(errno));
        return NULL;
    }
    unsigned char sync[16];
    json_t *meta = read_header(f, sync, e), *out = NULL;
    fclose(f);
    size_t i;
    json_t *kv;
    json_array_foreach(meta, i, kv) {
        if (strcmp(json_string_value(json_array_get(kv, 0)), "avro.schema"))
            continue;
        json_error_t je;
        out = json_loads(json_string_value(json_array_get(kv, 1)), JSON_DECODE_ANY, &je);
        if (!out)
            kerr_set(e, "the file's schema is not JSON: %s", je.text);
        break;
    }
    if (meta && !out && !e->code)
        kerr_set(e, "the Avro file has no schema in its header");
    json_decref(meta);
    return out;
}

static int write_value(sctx *x, const json_t *schema, avro_value_t *v, ion_writer *w, kerr *e)
{
    const json_t *s = resolve(x, schema);
    avro_type_t t = avro_value_get_type(v);
    if (t == AVRO_UNION) {
        int disc;
        avro_value_t br;
        if (avro_value_get_discriminant(v, &disc) || avro_value_get_current_branch(v, &br))
            return kerr_set(e, "record %ld: %s", x->row, avro_strerror());
        return write_value(x, json_is_array(s) ? json_array_get(s, (size_t)disc) : s, &br, w, e);
    }
    const char *lt = logical(s);
    switch (t) {
    case AVRO_NULL:
        return ion_write_null(w);
    case AVRO_BOOLEAN: {
        int b;
        avro_value_get_boolean(v, &b);
        return ion_write_bool(w, b);
    }
    case AVRO_INT32:
    case AVRO_INT64: {
        int64_t n;
        if (t == AVRO_INT32) {
            int32_t i;
            avro_value_get_int(v, &i);
            n = i;
        } else {
            avro_value_get_long(v, &n);
        }
        if (lt && !strcmp(lt, "date")) {
            int y, m, d;
            civil_from_days(n, &y, &m, &d);
            char txt[32];
            snprintf(txt, sizeof txt, "%04d-%02d-%02d", y, m, d);
            return ion_write_timestamp(w, txt);
        }
        if (lt && strstr(lt, "timestamp-")) {
            int64_t us = strstr(lt, "millis") ? n * 1000 : n;
            return ion_write_timestamp_us(w, us, 0, strstr(lt, "millis") ? 3 : 6);
        }
        if (lt && strstr(lt, "time-")) {
            int64_t us = strstr(lt, "millis") ? n * 1000 : n;
            char txt[32];
            snprintf(txt, sizeof txt, "%02d:%02d:%02d.%06d", (int)(us / 3600000000LL), (int)(us / 60000000 % 60),
                     (int)(us / 1000000 % 60), (int)(us % 1000000));
            return ion_write_string(w, txt, strlen(txt));
        }
        return ion_write_int(w, n);
    }
    case AVRO_FLOAT: {
        float f;
        avro_value_get_float(v, &f);
        return ion_write_float(w, f);
    }
    case AVRO_DOUBLE: {
        double d;
        avro_value_get_double(v, &d);
        return ion_write_float(w, d);
    }
    case AVRO_STRING: {
        const char *str;
        size_t n;
        avro_value_get_string(v, &str, &n);
        return ion_write_string(w, str, n ? n - 1 : 0);
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
        const void *p;
        size_t n;
        if (t == AVRO_BYTES)
            avro_value_get_bytes(v, &p, &n);
        else
            avro_value_get_fixed(v, &p, &n);
        if (lt && !strcmp(lt, "decimal") && n <= 16 && n > 0) {
            /* unscaled two's complement -> decimal text at scale */
            const unsigned char *b = p;
            __int128 u = (b[0] & 0x80) ? -1 : 0;
            for (size_t i = 0; i < n; i++)
                u = (u << 8) | b[i];
            int scale = (int)json_integer_value(json_object_get(s, "scale"));
            int neg = u < 0;
            unsigned __int128 m = neg ? (unsigned __int128)(-u) : (unsigned __int128)u;
            char dig[64];
            int k = 0;
            do {
                dig[k++] = (char)('0' + (int)(m % 10));
                m /= 10;
            } while (m && k < 60);
            while (k <= scale)
                dig[k++] = '0';
            char txt[80];
            int o = 0;
            if (neg)
                txt[o++] = '-';
            for (int i = k - 1; i >= 0; i--) {
                txt[o++] = dig[i];
                if (i == scale && scale > 0)
                    txt[o++] = '.';
            }
            txt[o] = 0;
            return ion_write_decimal(w, txt);
        }
        return ion_write_blob(w, p, n);
    }
    case AVRO_ENUM: {
        int i;
        avro_value_get_enum(v, &i);
        const char *sym = json_string_value(json_array_get(json_object_get(s, "symbols"), (size_t)i));
        return ion_write_symbol(w, sym ? sym : "?");
    }
    case AVRO_ARRAY: {
        size_t n;
        avro_value_get_size(v, &n);
        if (ion_begin_list(w))
            return -1;
        for (size_t i = 0; i < n; i++) {
            avro_value_t el;
            if (avro_value_get_by_index(v, i, &el, NULL) || write_value(x, json_object_get(s, "items"), &el, w, e))
                return -1;
        }
        return ion_end_list(w);
    }
    case AVRO_MAP:
    case AVRO_RECORD: {
        size_t n;
        avro_value_get_size(v, &n);
        if (ion_begin_struct(w))
            return -1;
        for (size_t i = 0; i < n; i++) {
            avro_value_t el;
            const char *name;
            if (avro_value_get_by_index(v, i, &el, &name))
                return kerr_set(e, "record %ld: %s", x->row, avro_strerror());
            const json_t *fs = t == AVRO_MAP ? json_object_get(s, "values")
                                             : json_object_get(json_array_get(json_object_get(s, "fields"), i), "type");
            if (ion_write_field(w, name) || write_value(x, fs, &el, w, e))
                return -1;
        }
        return ion_end_struct(w);
    }
    default:
        return kerr_set(e, "record %ld: an Avro type kite does not read (%d)", x->row, (int)t);
    }
}

static int sw_sink(void *ud, const char *p, size_t n)
{
    kerr e = KERR_INIT;
    return storage_writer_write(ud, p, n, &e);
}

static task_result avro_to_ion_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *tmp = NULL, *uri = NULL;
    json_t *schema = NULL;
    sctx x = {0};
    avro_file_reader_t rd = NULL;
    avro_schema_t ws = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t val;
    int have_val = 0;
    storage_writer *sw = NULL;
    ion_writer *w = NULL;
    if (task_prop_string(c, "from", NULL, &from, e))
        goto out;
    if (!from) {
        kerr_setc(e, KERR_INVALID, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    /* libavro reads a path: the file is copied out of storage first */
    FILE *tf = tasks__tmp_file(c, &tmp, e);
    if (!tf)
        goto out;
    fclose(tf);
    char *dir = xstrdup(tmp), *slash = strrchr(dir, '/');
    *slash = 0;
    int prc = tasks__put_file(c, dir, slash + 1, from, e);
    free(dir);
    if (prc) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    if (!(schema = header_schema(tmp, e))) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    x.names = json_object();
    collect_names(x.names, schema, NULL);
    if (avro_file_reader(tmp, &rd)) {
        kerr_set(e, "property 'from': %s", avro_strerror());
        goto out;
    }
    ws = avro_file_reader_get_writer_schema(rd);
    iface = avro_generic_class_from_schema(ws);
    if (!iface || avro_generic_value_new(iface, &val)) {
        kerr_set(e, "property 'from': %s", avro_strerror());
        goto out;
    }
    have_val = 1;
    char name[300];
    snprintf(name, sizeof name, "%s.ion", c->task_id);
    if (!(uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id, name, e)) ||
        !(sw = storage_writer_new(c->storage, uri, e)))
        goto out;
    w = ion_writer_new(sw_sink, sw);
    int rc;
    while ((rc = avro_file_reader_read_value(rd, &val)) == 0) {
        x.row++;
        if (write_value(&x, schema, &val, w, e)) {
            if (!e->code)
                kerr_set(e, "internal storage: writing %s failed", uri);
            goto out;
        }
        avro_value_reset(&val);
    }
    if (rc != EOF) {
        kerr_set(e, "property 'from': record %ld: %s", x.row + 1, avro_strerror());
        goto out;
    }
    if (ion_writer_flush(w)) {
        kerr_set(e, "internal storage: writing %s failed", uri);
        goto out;
    }
    if (storage_writer_commit(sw, e)) {
        sw = NULL;
        goto out;
    }
    sw = NULL;
    task_output(c, "uri", json_string(uri));
    task_metric(c, "records", METRIC_COUNTER, (double)x.row, NULL);
    res = TASK_SUCCESS;
out:
    ion_writer_free(w);
    if (sw)
        storage_writer_abort(sw);
    if (have_val)
        avro_value_decref(&val);
    if (iface)
        avro_value_iface_decref(iface);
    if (ws)
        avro_schema_decref(ws);
    if (rd)
        avro_file_reader_close(rd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    json_decref(schema);
    json_decref(x.names);
    free(from);
    free(uri);
    return res;
}

static const struct task_hooks ion_to_avro_hooks = {.run = ion_to_avro_run};
static const struct task_hooks avro_to_ion_hooks = {.run = avro_to_ion_run};

const type_def tasks__avro[] = {
    {
        .name = "serdes.ion_to_avro",
        .hooks = &ion_to_avro_hooks,
        .needs = dl_avro_load,
        .aliases = ALIASES("io.kestra.plugin.serdes.avro.IonToAvro", "io.kestra.plugin.serdes.avro.AvroWriter"),
        .desc = "Convert Ion rows to an Avro file with the given schema (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI (Ion rows)"),
                       PSTR("schema", PF_REQUIRED, NULL, "the Avro schema, as JSON text"),
                       PSTR("timeZoneId", 0, "\"UTC\"", "the zone of dates and times without an offset"),
                       PSTRL("trueValues", 0, NULL, "texts read as true (t, true, enabled, 1, on, yes)"),
                       PSTRL("falseValues", 0, NULL, "texts read as false (f, false, disabled, 0, off, no, \"\")"),
                       PSTRL("nullValues", 0, NULL, "texts read as null (\"\", N/A, NULL, null, NaN...)"),
                       PSTR("dateFormat", 0, NULL, "accepted as Kestra's; kite reads ISO-8601 dates"),
                       PSTR("datetimeFormat", 0, NULL, "accepted as Kestra's; kite reads ISO-8601 date-times"),
                       PSTR("timeFormat", 0, NULL, "accepted as Kestra's; kite reads HH:mm[:ss[.SSSSSS]]"),
                       PBOOL("inferAllFields", 0, "false", "accepted as Kestra's (fields come from the schema)"),
                       PBOOL("strictSchema", 0, "false", "accepted as Kestra's (a row's unknown fields are dropped)")),
    },
    {
        .name = "serdes.avro_to_ion",
        .hooks = &avro_to_ion_hooks,
        .needs = dl_avro_load,
        .aliases = ALIASES("io.kestra.plugin.serdes.avro.AvroToIon", "io.kestra.plugin.serdes.avro.AvroReader"),
        .desc = "Convert an Avro file to Ion rows, logical types as Ion timestamps and decimals (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI (an Avro object container file)")),
    },
};

const size_t tasks__avro_count = sizeof tasks__avro / sizeof tasks__avro[0];
