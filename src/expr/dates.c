/*
 * dates.c: the date filters (date, dateAdd, timestamp*) and now().
 *
 * Kestra formats dates with java.time: a date filter reads its input (an
 * ISO-8601 string, epoch seconds as an integer, or a string in
 * `existingFormat`), moves it to `timeZone` (the system zone when absent)
 * and prints it with a DateTimeFormatter pattern or one of the named
 * formats ("iso", "sql", "iso_date", ...). This file implements the
 * pattern letters flows use (y u M L d D E a h H k K m s S n X x Z O VV z Q
 * G, quoted text and optional sections) in English, on top of the civil
 * time and zones of util/datetime.h.
 */
#include "expr/expr_int.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"January", "February", "March",     "April",
                                          "May",     "June",     "July",      "August",
                                          "September", "October", "November", "December"};
static const char *const day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

static const char *arg_s(json_t *a) { return json_is_string(a) ? json_string_value(a) : NULL; }

static const tzone *zone_arg(xr *r, const xnode *n, json_t *a)
{
    if (!a || json_is_null(a))
        return tz_local();
    if (!json_is_string(a)) {
        expr__err(r, n, "filter '%s': timeZone must be a string such as 'Europe/Paris'", n->name);
        return NULL;
    }
    kerr e = KERR_INIT;
    const tzone *z = tz_get(json_string_value(a), &e);
    if (!z)
        expr__err(r, n, "unknown time zone '%s'", json_string_value(a));
    return z;
}

/* ---- formatting ---------------------------------------------------------------- */

static void put_num(buf *b, long long v, int width)
{
    if (v < 0) {
        buf_putc(b, '-');
        v = -v;
    }
    buf_printf(b, "%0*lld", width, v);
}

static void put_offset(buf *b, int off, int colon, int with_min, int z_for_zero, int with_sec)
{
    if (off == 0 && z_for_zero) {
        buf_putc(b, 'Z');
        return;
    }
    char sign = off < 0 ? '-' : '+';
    int a = off < 0 ? -off : off;
    int h = a / 3600, m = a / 60 % 60, s = a % 60;
    buf_printf(b, "%c%02d", sign, h);
    if (with_min || m || s)
        buf_printf(b, "%s%02d", colon ? ":" : "", m);
    if (with_sec && s)
        buf_printf(b, "%s%02d", colon ? ":" : "", s);
}

static int weeks_in_year(int y)
{
    int jan1 = (int)((days_from_civil(y, 1, 1) % 7 + 7 + 4) % 7); /* 0 = Sunday */
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return jan1 == 4 || (leap && jan1 == 3) ? 53 : 52;
}

/* ISO week-based year and week of c. */
static void iso_week(const civil *c, int *wyear, int *week)
{
    int wd = c->wday == 0 ? 7 : c->wday;
    int w = (c->yday - wd + 10) / 7, y = c->year;
    if (w < 1) {
        y--;
        w = weeks_in_year(y);
    } else if (w > weeks_in_year(y)) {
        y++;
        w = 1;
    }
    *wyear = y;
    *week = w;
}

static int fmt_pattern(xr *r, const xnode *n, buf *b, const char *pat, int64_t us, const tzone *z)
{
    civil c;
    tz_to_civil(z, us, &c);
    for (const char *p = pat; *p;) {
        char ch = *p;
        if (ch == '\'') {
            if (p[1] == '\'') {
                buf_putc(b, '\'');
                p += 2;
                continue;
            }
            p++;
            while (*p) {
                if (*p == '\'' && p[1] == '\'') {
                    buf_putc(b, '\'');
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    break;
                } else {
                    buf_putc(b, *p++);
                }
            }
            continue;
        }
        if (ch == '[' || ch == ']') {
            p++;
            continue;
        }
        if (!isalpha((unsigned char)ch)) {
            buf_putc(b, *p++);
            continue;
        }
        int cnt = 0;
        while (p[cnt] == ch)
            cnt++;
        p += cnt;
        switch (ch) {
        case 'y':
        case 'u':
        case 'Y':
            if (cnt == 2)
                put_num(b, ((c.year % 100) + 100) % 100, 2);
            else
                put_num(b, c.year, cnt);
            break;
        case 'G':
            buf_puts(b, cnt == 4 ? (c.year > 0 ? "Anno Domini" : "Before Christ") : (c.year > 0 ? "AD" : "BC"));
            break;
        case 'M':
        case 'L':
            if (cnt <= 2)
                put_num(b, c.month, cnt);
            else if (cnt == 3)
                buf_printf(b, "%.3s", month_names[c.month - 1]);
            else if (cnt == 4)
                buf_puts(b, month_names[c.month - 1]);
            else
                buf_putc(b, month_names[c.month - 1][0]);
            break;
        case 'Q':
        case 'q':
            if (cnt <= 2)
                put_num(b, (c.month - 1) / 3 + 1, cnt);
            else if (cnt == 3)
                buf_printf(b, "Q%d", (c.month - 1) / 3 + 1);
            else {
                static const char *const qn[] = {"1st quarter", "2nd quarter", "3rd quarter", "4th quarter"};
                buf_puts(b, qn[(c.month - 1) / 3]);
            }
            break;
        case 'd': put_num(b, c.day, cnt); break;
        case 'D': put_num(b, c.yday, cnt); break;
        case 'E':
            if (cnt <= 3)
                buf_printf(b, "%.3s", day_names[c.wday]);
            else if (cnt == 4)
                buf_puts(b, day_names[c.wday]);
            else
                buf_putc(b, day_names[c.wday][0]);
            break;
        case 'e':
        case 'c':
            if (cnt <= 2)
                put_num(b, c.wday + 1, cnt); /* US week: Sunday = 1 */
            else if (cnt == 3)
                buf_printf(b, "%.3s", day_names[c.wday]);
            else
                buf_puts(b, day_names[c.wday]);
            break;
        case 'w': {
            int wy, wk;
            iso_week(&c, &wy, &wk);
            put_num(b, wk, cnt);
            break;
        }
        case 'a': buf_puts(b, c.hour < 12 ? "AM" : "PM"); break;
        case 'h': put_num(b, c.hour % 12 == 0 ? 12 : c.hour % 12, cnt); break;
        case 'K': put_num(b, c.hour % 12, cnt); break;
        case 'H': put_num(b, c.hour, cnt); break;
        case 'k': put_num(b, c.hour == 0 ? 24 : c.hour, cnt); break;
        case 'm': put_num(b, c.min, cnt); break;
        case 's': put_num(b, c.sec, cnt); break;
        case 'S': {
            if (cnt > 9)
            {
                expr__err(r, n, "date pattern: too many 'S' (9 at most)");
                return -1;
            }
            char frac[10];
            snprintf(frac, sizeof frac, "%06d000", c.usec);
            buf_append(b, frac, (size_t)cnt);
            break;
        }
        case 'n': put_num(b, (long long)c.usec * 1000, cnt); break;
        case 'A':
            put_num(b, ((long long)c.hour * 3600 + c.min * 60 + c.sec) * 1000 + c.usec / 1000, cnt);
            break;
        case 'X':
        case 'x':
            if (cnt == 1)
                put_offset(b, c.offset, 0, 0, ch == 'X', 0);
            else if (cnt == 2 || cnt == 4)
                put_offset(b, c.offset, 0, 1, ch == 'X', cnt == 4);
            else
                put_offset(b, c.offset, 1, 1, ch == 'X', cnt == 5);
            break;
        case 'Z':
            if (cnt <= 3)
                put_offset(b, c.offset, 0, 1, 0, 0);
            else if (cnt == 4) {
                buf_puts(b, "GMT");
                if (c.offset)
                    put_offset(b, c.offset, 1, 1, 0, 0);
            } else
                put_offset(b, c.offset, 1, 1, 1, 0);
            break;
        case 'O':
            buf_puts(b, "GMT");
            if (c.offset) {
                int a = c.offset < 0 ? -c.offset : c.offset;
                if (cnt == 1 && a % 3600 == 0)
                    buf_printf(b, "%c%d", c.offset < 0 ? '-' : '+', a / 3600);
                else
                    put_offset(b, c.offset, 1, 1, 0, 0);
            }
            break;
        case 'V':
            buf_puts(b, tz_name(z));
            break;
        case 'z':
            /* no abbreviations in the tz API: the zone's name stands in */
            buf_puts(b, tz_name(z));
            break;
        default:
            expr__err(r, n, "date pattern: unknown letter '%c' (quote text with '...')", ch);
            return -1;
        }
    }
    return 0;
}

static void fmt_local_time(buf *b, const civil *c, int always_frac6)
{
    buf_printf(b, "%02d:%02d:%02d", c->hour, c->min, c->sec);
    if (always_frac6) {
        buf_printf(b, ".%06d", c->usec);
    } else if (c->usec) {
        if (c->usec % 1000 == 0)
            buf_printf(b, ".%03d", c->usec / 1000);
        else
            buf_printf(b, ".%06d", c->usec);
    }
}

static int is_region_zone(const tzone *z)
{
    const char *nm = tz_name(z);
    return strchr(nm, '/') != NULL;
}

/* Formats with a named format or a pattern. */
static int fmt_date(xr *r, const xnode *n, buf *b, const char *format, int64_t us, const tzone *z)
{
    civil c;
    tz_to_civil(z, us, &c);
    if (!strcmp(format, "iso"))
        return fmt_pattern(r, n, b, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", us, z);
    if (!strcmp(format, "iso_sec"))
        return fmt_pattern(r, n, b, "yyyy-MM-dd'T'HH:mm:ssXXX", us, z);
    if (!strcmp(format, "sql"))
        return fmt_pattern(r, n, b, "yyyy-MM-dd HH:mm:ss.SSSSSS", us, z);
    if (!strcmp(format, "sql_seq"))
        return fmt_pattern(r, n, b, "yyyy-MM-dd HH:mm:ss", us, z);
    if (!strcmp(format, "iso_local_date"))
        return fmt_pattern(r, n, b, "yyyy-MM-dd", us, z);
    if (!strcmp(format, "iso_date")) {
        fmt_pattern(r, n, b, "yyyy-MM-dd", us, z);
        put_offset(b, c.offset, 1, 1, 1, 1);
        return 0;
    }
    if (!strcmp(format, "iso_local_time")) {
        fmt_local_time(b, &c, 0);
        return 0;
    }
    if (!strcmp(format, "iso_time") || !strcmp(format, "iso_offset_time")) {
        fmt_local_time(b, &c, 0);
        put_offset(b, c.offset, 1, 1, 1, 1);
        return 0;
    }
    if (!strcmp(format, "iso_local_date_time")) {
        fmt_pattern(r, n, b, "yyyy-MM-dd'T'", us, z);
        fmt_local_time(b, &c, 0);
        return 0;
    }
    if (!strcmp(format, "iso_offset_date_time") || !strcmp(format, "iso_date_time") ||
        !strcmp(format, "iso_zoned_date_time")) {
        fmt_pattern(r, n, b, "yyyy-MM-dd'T'", us, z);
        fmt_local_time(b, &c, 0);
        put_offset(b, c.offset, 1, 1, 1, 1);
        if (strcmp(format, "iso_offset_date_time") && is_region_zone(z))
            buf_printf(b, "[%s]", tz_name(z));
        return 0;
    }
    if (!strcmp(format, "iso_instant")) {
        civil u;
        tz_to_civil(tz_utc(), us, &u);
        buf_printf(b, "%04d-%02d-%02dT", u.year, u.month, u.day);
        fmt_local_time(b, &u, 0);
        buf_putc(b, 'Z');
        return 0;
    }
    if (!strcmp(format, "iso_ordinal_date")) {
        buf_printf(b, "%04d-%03d", c.year, c.yday);
        put_offset(b, c.offset, 1, 1, 1, 1);
        return 0;
    }
    if (!strcmp(format, "iso_week_date")) {
        int wy, wk;
        iso_week(&c, &wy, &wk);
        buf_printf(b, "%04d-W%02d-%d", wy, wk, c.wday == 0 ? 7 : c.wday);
        put_offset(b, c.offset, 1, 1, 1, 1);
        return 0;
    }
    if (!strcmp(format, "rfc_1123_date_time")) {
        buf_printf(b, "%.3s, %d %.3s %04d %02d:%02d:%02d ", day_names[c.wday], c.day,
                   month_names[c.month - 1], c.year, c.hour, c.min, c.sec);
        if (c.offset == 0)
            buf_puts(b, "GMT");
        else
            put_offset(b, c.offset, 0, 1, 0, 0);
        return 0;
    }
    if (!strcmp(format, "full") || !strcmp(format, "long") || !strcmp(format, "medium") ||
        !strcmp(format, "short")) {
        if (!strcmp(format, "short"))
            return fmt_pattern(r, n, b, "M/d/yy, h:mm a", us, z);
        if (!strcmp(format, "medium"))
            return fmt_pattern(r, n, b, "MMM d, yyyy, h:mm:ss a", us, z);
        if (!strcmp(format, "long"))
            return fmt_pattern(r, n, b, "MMMM d, yyyy 'at' h:mm:ss a z", us, z);
        return fmt_pattern(r, n, b, "EEEE, MMMM d, yyyy 'at' h:mm:ss a z", us, z);
    }
    return fmt_pattern(r, n, b, format, us, z);
}

/* ---- parsing with a pattern ---------------------------------------------------- */

static int match_name(const char **ps, const char *const *names, int count, int abbrev)
{
    for (int i = 0; i < count; i++) {
        size_t len = abbrev ? 3 : strlen(names[i]);
        if (!strncasecmp(*ps, names[i], len)) {
            *ps += len;
            return i;
        }
    }
    return -1;
}

static int read_int(const char **ps, int min, int max, long long *out)
{
    const char *s = *ps;
    int neg = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    int k = 0;
    long long v = 0;
    while (k < max && isdigit((unsigned char)s[k])) {
        v = v * 10 + (s[k] - '0');
        k++;
    }
    if (k < min)
        return -1;
    *out = neg ? -v : v;
    *ps = s + k;
    return 0;
}

static int read_offset(const char **ps, int *off)
{
    const char *s = *ps;
    if (*s == 'Z' || *s == 'z') {
        *off = 0;
        *ps = s + 1;
        return 0;
    }
    if (!strncmp(s, "GMT", 3) || !strncmp(s, "UTC", 3)) {
        s += 3;
        if (*s != '+' && *s != '-') {
            *off = 0;
            *ps = s;
            return 0;
        }
    }
    if (*s != '+' && *s != '-')
        return -1;
    int sign = *s == '-' ? -1 : 1;
    s++;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    int h = s[0] - '0';
    s++;
    if (isdigit((unsigned char)s[0])) {
        h = h * 10 + s[0] - '0';
        s++;
    }
    int m = 0;
    if (*s == ':')
        s++;
    if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])) {
        m = (s[0] - '0') * 10 + s[1] - '0';
        s += 2;
    }
    *off = sign * (h * 3600 + m * 60);
    *ps = s;
    return 0;
}

static int parse_with_pattern(const char *pat, const char *s, const tzone *dflt, int64_t *us, char *why,
                              size_t whysz)
{
    long long year = 1970, month = 1, day = 1, hour = 0, min = 0, sec = 0, usec = 0, v;
    int pm = -1, have_off = 0, off = 0, hour12 = 0;
    const tzone *zone = NULL;
    const char *q = s;
    for (const char *p = pat; *p;) {
        char ch = *p;
        if (ch == '\'') {
            p++;
            while (*p && !(*p == '\'' && p[1] != '\'')) {
                if (*p == '\'' )
                    p++;
                if (*q != *p) {
                    snprintf(why, whysz, "expected '%c' at character %ld", *p, (long)(q - s) + 1);
                    return -1;
                }
                p++;
                q++;
            }
            if (*p)
                p++;
            continue;
        }
        if (ch == '[' || ch == ']') {
            p++;
            continue;
        }
        if (!isalpha((unsigned char)ch)) {
            if (*q != ch) {
                snprintf(why, whysz, "expected '%c' at character %ld", ch, (long)(q - s) + 1);
                return -1;
            }
            p++;
            q++;
            continue;
        }
        int cnt = 0;
        while (p[cnt] == ch)
            cnt++;
        p += cnt;
        int adjacent = isalpha((unsigned char)*p) && *p != '\'';
        int mind = adjacent ? cnt : 1;
        int rc = 0;
        switch (ch) {
        case 'y':
        case 'u':
            rc = read_int(&q, cnt == 2 ? 2 : mind, cnt == 2 ? 2 : (adjacent ? cnt : 9), &year);
            if (!rc && cnt == 2)
                year += 2000;
            break;
        case 'M':
        case 'L':
            if (cnt >= 3) {
                int m = match_name(&q, month_names, 12, cnt == 3);
                rc = m < 0 ? -1 : 0;
                month = m + 1;
            } else {
                rc = read_int(&q, mind, adjacent ? cnt : 2, &month);
            }
            break;
        case 'd': rc = read_int(&q, mind, adjacent ? cnt : 2, &day); break;
        case 'H':
        case 'k': rc = read_int(&q, mind, adjacent ? cnt : 2, &hour); break;
        case 'h':
        case 'K':
            rc = read_int(&q, mind, adjacent ? cnt : 2, &hour);
            hour12 = 1;
            break;
        case 'm': rc = read_int(&q, mind, adjacent ? cnt : 2, &min); break;
        case 's': rc = read_int(&q, mind, adjacent ? cnt : 2, &sec); break;
        case 'S': {
            long long frac = 0;
            const char *q0 = q;
            rc = read_int(&q, cnt, cnt, &frac);
            int digits = (int)(q - q0);
            while (digits < 6) {
                frac *= 10;
                digits++;
            }
            while (digits > 6) {
                frac /= 10;
                digits--;
            }
            usec = frac;
            break;
        }
        case 'E':
            rc = match_name(&q, day_names, 7, cnt <= 3) < 0 ? -1 : 0;
            break;
        case 'a':
            if (!strncasecmp(q, "AM", 2))
                pm = 0;
            else if (!strncasecmp(q, "PM", 2))
                pm = 1;
            else
                rc = -1;
            q += rc ? 0 : 2;
            break;
        case 'X':
        case 'x':
        case 'Z':
        case 'O':
            rc = read_offset(&q, &off);
            have_off = !rc;
            break;
        case 'V':
        case 'z': {
            const char *e = q;
            while (*e && (isalnum((unsigned char)*e) || strchr("/_+-", *e)))
                e++;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(e - q), q);
            kerr ke = KERR_INIT;
            zone = tz_get(name, &ke);
            rc = zone ? 0 : -1;
            q = e;
            break;
        }
        case 'D': rc = read_int(&q, mind, adjacent ? cnt : 3, &v); break;
        default:
            snprintf(why, whysz, "pattern letter '%c' cannot be parsed", ch);
            return -1;
        }
        if (rc) {
            snprintf(why, whysz, "text '%s' does not match the pattern at character %ld", s,
                     (long)(q - s) + 1);
            return -1;
        }
    }
    if (*q) {
        snprintf(why, whysz, "unparsed text '%s' after the date", q);
        return -1;
    }
    if (hour12 && pm == 1 && hour < 12)
        hour += 12;
    if (hour12 && pm == 0 && hour == 12)
        hour = 0;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || min > 59 || sec > 60) {
        snprintf(why, whysz, "date '%s' is out of range", s);
        return -1;
    }
    civil c = {0};
    c.year = (int)year;
    c.month = (int)month;
    c.day = (int)day;
    c.hour = (int)hour;
    c.min = (int)min;
    c.sec = (int)sec;
    c.usec = (int)usec;
    if (have_off) {
        *us = (days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.min * 60 + c.sec -
               off) * US_PER_SEC + c.usec;
    } else {
        *us = tz_from_civil(zone ? zone : dflt, &c);
    }
    return 0;
}

/* Reads a date input into an instant. */
static int to_instant(xr *r, const xnode *n, json_t *in, const char *existing, const tzone *z, int64_t *us)
{
    if (json_is_integer(in)) {
        long long s = json_integer_value(in);
        if (s > INT64_MAX / US_PER_SEC || s < INT64_MIN / US_PER_SEC) {
            expr__err(r, n, "filter '%s': epoch seconds %lld out of range", n->name, s);
            return -1;
        }
        *us = s * US_PER_SEC;
        return 0;
    }
    if (json_is_real(in)) {
        double d = json_real_value(in);
        if (!(fabs(d) < 9e12)) {
            expr__err(r, n, "filter '%s': epoch seconds out of range", n->name);
            return -1;
        }
        *us = (int64_t)llround(d * 1e6);
        return 0;
    }
    if (!json_is_string(in)) {
        expr__err(r, n, "filter '%s' needs a date (an ISO-8601 string or epoch seconds), got %s",
                  n->name, expr__type_name(in));
        return -1;
    }
    const char *s = json_string_value(in);
    if (existing) {
        char why[256];
        if (parse_with_pattern(existing, s, z, us, why, sizeof why)) {
            expr__err(r, n, "filter '%s': cannot read '%s' with format '%s': %s", n->name, s, existing, why);
            return -1;
        }
        return 0;
    }
    kerr e = KERR_INIT;
    if (datetime_parse(s, z, us, NULL, &e)) {
        expr__err(r, n, "filter '%s': '%s' is not an ISO-8601 date (%s)", n->name, s, e.msg);
        return -1;
    }
    return 0;
}

static json_t *format_result(xr *r, const xnode *n, const char *format, int64_t us, const tzone *z)
{
    buf b;
    buf_init(&b, 4096);
    if (fmt_date(r, n, &b, format, us, z)) {
        buf_free(&b);
        return NULL;
    }
    json_t *v = json_stringn(buf_str(&b), b.len);
    buf_free(&b);
    if (!v)
        return expr__err(r, n, "filter '%s': the format is not valid UTF-8", n->name);
    return v;
}

json_t *expr__f_date(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    const tzone *z = zone_arg(r, n, av[1]);
    if (!z)
        return NULL;
    int64_t us;
    if (to_instant(r, n, in, arg_s(av[2]), z, &us))
        return NULL;
    const char *format = arg_s(av[0]);
    return format_result(r, n, format ? format : "iso", us, z);
}

static int add_months(const tzone *z, int64_t us, long long months, int64_t *out)
{
    civil c;
    tz_to_civil(z, us, &c);
    long long total = (long long)c.year * 12 + (c.month - 1) + months;
    if (total < -12LL * 200000 || total > 12LL * 200000)
        return -1;
    c.year = (int)(total >= 0 ? total / 12 : -((-total + 11) / 12));
    c.month = (int)(total - (long long)c.year * 12) + 1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (c.year % 4 == 0 && c.year % 100 != 0) || c.year % 400 == 0;
    int dim = mdays[c.month - 1] + (c.month == 2 && leap);
    if (c.day > dim)
        c.day = dim;
    *out = tz_from_civil(z, &c);
    return 0;
}

json_t *expr__f_date_add(xr *r, const xnode *n, json_t *in, json_t **av)
{
    if (json_is_null(in))
        return json_null();
    if (!json_is_integer(av[0]))
        return expr__err(r, n, "filter 'dateAdd': amount must be an integer, got %s", expr__type_name(av[0]));
    const char *unit = arg_s(av[1]);
    if (!unit)
        return expr__err(r, n, "filter 'dateAdd': unit must be a string such as 'DAYS'");
    const tzone *z = zone_arg(r, n, av[3]);
    if (!z)
        return NULL;
    int64_t us;
    if (to_instant(r, n, in, arg_s(av[4]), z, &us))
        return NULL;
    long long amount = json_integer_value(av[0]);
    static const struct {
        const char *name;
        int64_t us;
        int months;
    } units[] = {
        {"NANOS", 0, 0},          {"MICROS", 1, 0},           {"MILLIS", 1000, 0},
        {"SECONDS", US_PER_SEC, 0}, {"MINUTES", 60 * US_PER_SEC, 0}, {"HOURS", 3600 * US_PER_SEC, 0},
        {"HALF_DAYS", 43200 * US_PER_SEC, 0}, {"DAYS", -1, 0},  {"WEEKS", -7, 0},
        {"MONTHS", 0, 1},         {"YEARS", 0, 12},           {"DECADES", 0, 120},
        {"CENTURIES", 0, 1200},   {"MILLENNIA", 0, 12000},
    };
    int found = -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcasecmp(units[i].name, unit))
            found = (int)i;
    if (found < 0)
        return expr__err(r, n, "filter 'dateAdd': unknown unit '%s' (SECONDS, MINUTES, HOURS, DAYS, "
                               "WEEKS, MONTHS, YEARS, ...)", unit);
    int64_t out = us;
    if (units[found].months) {
        if (__builtin_mul_overflow(amount, (long long)units[found].months, &amount) ||
            add_months(z, us, amount, &out))
            return expr__err(r, n, "filter 'dateAdd': result out of range");
    } else if (units[found].us < 0) {
        /* days and weeks move the calendar date, keeping the local time */
        long long days = amount * -units[found].us;
        if (llabs(amount) > 100000000LL)
            return expr__err(r, n, "filter 'dateAdd': result out of range");
        civil c;
        tz_to_civil(z, us, &c);
        int64_t d = days_from_civil(c.year, c.month, c.day) + days;
        int y, m, dd;
        civil_from_days(d, &y, &m, &dd);
        c.year = y;
        c.month = m;
        c.day = dd;
        out = tz_from_civil(z, &c);
    } else if (units[found].us == 0) {
        out = us + amount / 1000;
    } else {
        int64_t delta;
        if (__builtin_mul_overflow(amount, units[found].us, &delta) || __builtin_add_overflow(us, delta, &out))
            return expr__err(r, n, "filter 'dateAdd': result out of range");
    }
    const char *format = arg_s(av[2]);
    return format_result(r, n, format ? format : "iso", out, z);
}

static json_t *timestamp(xr *r, const xnode *n, json_t *in, json_t **av, int64_t per_sec_num, int mul)
{
    if (json_is_null(in))
        return json_null();
    const tzone *z = zone_arg(r, n, av[0]);
    if (!z)
        return NULL;
    int64_t us;
    if (to_instant(r, n, in, arg_s(av[1]), z, &us))
        return NULL;
    if (mul) {
        int64_t v;
        if (__builtin_mul_overflow(us, (int64_t)1000, &v))
            return expr__err(r, n, "filter '%s': out of range", n->name);
        return json_integer(v);
    }
    /* floor division so that instants before 1970 round down */
    int64_t q = us / per_sec_num, rem = us % per_sec_num;
    if (rem < 0)
        q--;
    return json_integer(q);
}

json_t *expr__f_timestamp(xr *r, const xnode *n, json_t *in, json_t **av) { return timestamp(r, n, in, av, US_PER_SEC, 0); }
json_t *expr__f_timestamp_milli(xr *r, const xnode *n, json_t *in, json_t **av) { return timestamp(r, n, in, av, 1000, 0); }
json_t *expr__f_timestamp_micro(xr *r, const xnode *n, json_t *in, json_t **av) { return timestamp(r, n, in, av, 1, 0); }
json_t *expr__f_timestamp_nano(xr *r, const xnode *n, json_t *in, json_t **av) { return timestamp(r, n, in, av, 1, 1); }

json_t *expr__fn_now(xr *r, const xnode *n, json_t **av, int nargs)
{
    const tzone *z = zone_arg(r, n, av[0]);
    if (!z)
        return NULL;
    const char *format = arg_s(av[1]);
    return format_result(r, n, format ? format : "iso", time_now_us(), z);
}

/* ---- calendar functions (Kestra's dayOfWeek, isWeekend, ...) --------------------------- */

static const char *const week_days[] = {"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY",
                                        "THURSDAY", "FRIDAY", "SATURDAY"};

/* Reads argument `arg` of function n->name: an ISO-8601 date or date-time
 * string. The civil fields are those written (Kestra takes the local date
 * and hour as written, no conversion to UTC: "2025-01-06T00:30:00+02:00" is
 * a Monday). need_time: a date alone is refused (hourOfDay). has_zone: set to
 * whether an offset or zone was written. */
static int cal_arg(xr *r, const xnode *n, json_t *v, const char *arg, int need_time, civil *c, int64_t *us,
                   int *has_zone)
{
    if (!v || json_is_null(v)) {
        expr__err(r, n, "%s() expects a '%s' argument", n->name, arg);
        return -1;
    }
    if (!json_is_string(v)) {
        expr__err(r, n, "%s() could not parse '%s': an ISO-8601 date or date-time string is needed, got %s",
                  n->name, arg, expr__type_name(v));
        return -1;
    }
    const char *s = json_string_value(v);
    const char *t = strchr(s, 'T');
    if (!t)
        t = strchr(s, 't');
    if (need_time && !t) {
        expr__err(r, n, "%s() could not parse '%s': '%s' has no time (an ISO-8601 date-time is needed)", n->name,
                  arg, s);
        return -1;
    }
    kerr e = KERR_INIT;
    int off = 0;
    if (datetime_parse(s, tz_utc(), us, &off, &e)) {
        expr__err(r, n, "%s() could not parse '%s': '%s' is not an ISO-8601 date or date-time (%s)", n->name, arg,
                  s, e.msg);
        return -1;
    }
    if (has_zone)
        *has_zone = t && (strpbrk(t, "Zz+[") || strchr(t, '-'));
    tz_to_civil(tz_utc(), *us + (int64_t)off * US_PER_SEC, c);
    return 0;
}

json_t *expr__fn_day_of_week(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    return json_string(week_days[c.wday]);
}

json_t *expr__fn_day_of_month(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    return json_integer(c.day);
}

json_t *expr__fn_month_of_year(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    return json_integer(c.month);
}

json_t *expr__fn_hour_of_day(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 1, &c, &us, NULL))
        return NULL;
    return json_integer(c.hour);
}

json_t *expr__fn_is_weekend(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    return json_boolean(c.wday == 0 || c.wday == 6);
}

/* A day name (any case) to 0 = Sunday .. 6, or -1. */
static int day_index(const char *s, size_t len)
{
    for (int d = 0; d < 7; d++)
        if (strlen(week_days[d]) == len && !strncasecmp(week_days[d], s, len))
            return d;
    return -1;
}

static int days_in_month(int y, int m)
{
    int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
    return (int)(days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1));
}

/* weekday of y-m-d, 0 = Sunday */
static int wday_of(int y, int m, int d)
{
    int64_t days = days_from_civil(y, m, d); /* 1970-01-01 was a Thursday */
    return (int)(((days % 7) + 11) % 7);
}

json_t *expr__fn_is_day_week_in_month(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    const char *dw = json_is_string(av[1]) ? json_string_value(av[1]) : NULL;
    int want = dw ? day_index(dw, strlen(dw)) : -1;
    if (want < 0)
        return expr__err(r, n, "%s() received an invalid 'dayOfWeek' value: '%s'. Expected one of: MONDAY, "
                               "TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY",
                         n->name, dw ? dw : expr__type_name(av[1]));
    static const char *const pos[] = {"FIRST", "SECOND", "THIRD", "FOURTH", "LAST"};
    const char *ps = json_is_string(av[2]) ? json_string_value(av[2]) : NULL;
    int p = -1;
    for (int i = 0; ps && i < 5; i++)
        if (!strcasecmp(ps, pos[i]))
            p = i;
    if (p < 0)
        return expr__err(r, n, "%s() received an invalid 'position' value: '%s'. Expected one of: FIRST, SECOND, "
                               "THIRD, FOURTH, LAST",
                         n->name, ps ? ps : expr__type_name(av[2]));
    int day;
    if (p < 4) {
        int first = 1 + (want - wday_of(c.year, c.month, 1) + 7) % 7;
        day = first + 7 * p; /* Kestra: FIRST plus weeks, may spill into next month: never equal then */
    } else {
        int last = days_in_month(c.year, c.month);
        day = last - (wday_of(c.year, c.month, last) - want + 7) % 7;
    }
    return json_boolean(day == c.day);
}

json_t *expr__fn_is_last_working_day(xr *r, const xnode *n, json_t **av, int nargs)
{
    civil c;
    int64_t us;
    if (cal_arg(r, n, av[0], "date", 0, &c, &us, NULL))
        return NULL;
    int work[7] = {0, 1, 1, 1, 1, 1, 0};
    const char *wd = json_is_string(av[1]) ? json_string_value(av[1]) : NULL;
    int blank = 1;
    for (const char *q = wd; q && *q; q++)
        if (!isspace((unsigned char)*q))
            blank = 0;
    if (av[1] && !json_is_null(av[1]) && !wd)
        return expr__err(r, n, "%s() expects 'workingDays' to be a string of day names, got %s", n->name,
                         expr__type_name(av[1]));
    if (wd && !blank) {
        memset(work, 0, sizeof work);
        int any = 0;
        for (const char *q = wd; *q;) {
            while (*q == ',' || isspace((unsigned char)*q))
                q++;
            const char *st = q;
            while (*q && *q != ',' && !isspace((unsigned char)*q))
                q++;
            if (q == st)
                continue;
            int d = day_index(st, (size_t)(q - st));
            if (d < 0)
                return expr__err(r, n, "%s() received an invalid 'workingDays' value: '%.*s'. Expected day "
                                       "names like MONDAY, TUESDAY, etc.",
                                 n->name, (int)(q - st), st);
            work[d] = any = 1;
        }
        if (!any)
            return expr__err(r, n, "%s() requires at least one valid day in 'workingDays'", n->name);
    }
    if (!work[c.wday])
        return json_false();
    int d = days_in_month(c.year, c.month);
    while (!work[wday_of(c.year, c.month, d)])
        d--;
    return json_boolean(d == c.day);
}

static json_t *compare_dates(xr *r, const xnode *n, json_t **av, int after)
{
    civil c;
    int64_t a, b;
    if (cal_arg(r, n, av[0], "date", 0, &c, &a, NULL) || cal_arg(r, n, av[1], "reference", 0, &c, &b, NULL))
        return NULL;
    return json_boolean(after ? a > b : a < b);
}

/* isDateAfter(date, reference), isDateBefore(date, reference): instants
 * compared; a date or date-time without offset is read as UTC. */
json_t *expr__fn_is_date_after(xr *r, const xnode *n, json_t **av, int nargs) { return compare_dates(r, n, av, 1); }
json_t *expr__fn_is_date_before(xr *r, const xnode *n, json_t **av, int nargs) { return compare_dates(r, n, av, 0); }

/* isDateBetween(date, after, before): strictly between, as instants; every
 * value needs an offset or zone (Kestra refuses a local date-time). */
json_t *expr__fn_is_date_between(xr *r, const xnode *n, json_t **av, int nargs)
{
    static const char *const names[] = {"date", "after", "before"};
    int64_t us[3];
    for (int i = 0; i < 3; i++) {
        civil c;
        int z = 0;
        if (cal_arg(r, n, av[i], names[i], 0, &c, &us[i], &z))
            return NULL;
        if (!z)
            return expr__err(r, n, "%s() could not parse '%s': '%s' has no offset (write it as "
                                   "2026-01-01T00:00:00Z or with +HH:MM)",
                             n->name, names[i], json_string_value(av[i]));
    }
    return json_boolean(us[0] > us[1] && us[0] < us[2]);
}
