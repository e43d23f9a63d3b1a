/*
 * mysql.c: the MySQL / MariaDB driver of the SQL family (sql_int.h), on
 * libmariadb: io.kestra.plugin.jdbc.mysql.* and io.kestra.plugin.jdbc.mariadb.*
 * (urls jdbc:mysql:// and jdbc:mariadb://).
 *
 * A statement without parameters runs on the text protocol and streams its
 * rows (mysql_use_result); one with parameters is prepared and its values
 * bound (the binary protocol), the columns fetched as text. Values map by
 * the column's type as Kestra's MySQL converter maps them: integers,
 * floats, DECIMAL as a decimal, DATE, DATETIME as wall time in the task's
 * zone, TIMESTAMP (the session runs in UTC) converted to that zone, JSON
 * parsed, binary strings and BLOBs as bytes. LOAD DATA LOCAL reads only the
 * task's `inputFile`: a server asking for any other file is refused.
 */
#include "tasks/sql/sql_int.h"

#include "util/datetime.h"
#include "util/dl_mariadb.h"
#include "util/mem.h"
#include "util/netguard.h"

#include <stdlib.h>
#include <string.h>

struct sql_conn {
    MYSQL *my;
    char tz[64];
    FILE *infile;      /* what LOAD DATA LOCAL may read, NULL otherwise */
};

static int my_fail(MYSQL *my, kerr *e)
{
    return kerr_setc(e, KERR_INVALID, "%s", mysql_error(my));
}

/* ---- LOAD DATA LOCAL: only the task's file ---- */

static int li_init(void **ptr, const char *name, void *ud)
{
    *ptr = ud;
    return ((sql_conn *)ud)->infile ? 0 : 1;
}

static int li_read(void *ptr, char *b, unsigned int n)
{
    sql_conn *c = ptr;
    size_t k = fread(b, 1, n, c->infile);
    return ferror(c->infile) ? -1 : (int)k;
}

static void li_end(void *ptr) {}

static int li_error(void *ptr, char *msg, unsigned int n)
{
    snprintf(msg, n, "LOAD DATA LOCAL reads only the task's inputFile");
    return 2068;
}

static sql_conn *my_connect(const sql_url *u, const char *tz, int64_t timeout_us, kerr *e)
{
    MYSQL *my = mysql_init(NULL);
    if (!my) {
        kerr_set(e, "out of memory");
        return NULL;
    }
    unsigned int t = (unsigned int)(timeout_us / 1000000 > 0 ? timeout_us / 1000000 : 1);
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    unsigned int one = 1;
    mysql_options(my, MYSQL_OPT_LOCAL_INFILE, &one);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *ssl = json_string_value(json_object_get(u->opts, "useSSL"));
    const char *mode = json_string_value(json_object_get(u->opts, "sslMode"));
    if ((ssl && !strcmp(ssl, "true")) || (mode && strcasecmp(mode, "DISABLED"))) {
        my_bool yes = 1;
        mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &yes);
    }
    /* security.ssrf: connect to the address checked, not to a second lookup's */
    char addr[INET6_ADDRSTRLEN];
    const char *host = u->host;
    if (netguard_enabled()) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (netguard_resolve(u->host ? u->host : "localhost", u->port ? u->port : 3306, 0, &ss, &len, addr, e)) {
            mysql_close(my);
            return NULL;
        }
        host = addr;
    }
    if (!mysql_real_connect(my, host, u->user, u->password, u->db, (unsigned)(u->port ? u->port : 3306),
                            NULL, CLIENT_MULTI_RESULTS)) {
        my_fail(my, e);
        mysql_close(my);
        return NULL;
    }
    if (mysql_query(my, "SET time_zone = '+00:00'")) {
        my_fail(my, e);
        mysql_close(my);
        return NULL;
    }
    sql_conn *c = xcalloc(1, sizeof *c);
    c->my = my;
    snprintf(c->tz, sizeof c->tz, "%s", tz);
    mysql_set_local_infile_handler(my, li_init, li_read, li_end, li_error, c);
    return c;
}

static void my_close(sql_conn *c)
{
    if (!c)
        return;
    mysql_close(c->my);
    free(c);
}

static int my_alive(sql_conn *c)
{
    return mysql_ping(c->my) == 0;
}

/* ---- values ---- */

/* "2024-01-02 03:04:05[.ffffff]" in UTC as a TAGGED timestamp in tz. */
static json_t *utc_timestamp(const char *s, const char *tz)
{
    char t[64];
    snprintf(t, sizeof t, "%s", s);
    if (strlen(t) > 10 && t[10] == ' ')
        t[10] = 'T';
    int64_t us;
    if (datetime_parse(t, tz_utc(), &us, NULL, NULL))
        return json_string(s);
    const tzone *z = tz_get(tz, NULL);
    char out[64];
    datetime_format(us, z ? z : tz_utc(), out, sizeof out);
    json_t *o = json_object();
    json_object_set_new(o, "$ion_timestamp", json_string(out));
    return o;
}

static json_t *my_value(const MYSQL_FIELD *f, const char *s, unsigned long n, const char *tz)
{
    int binary = f->charsetnr == 63;
    switch (f->type) {
    case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_LONG: case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
        if (f->flags & UNSIGNED_FLAG && f->type == MYSQL_TYPE_LONGLONG && s[0] != '-' &&
            strtoull(s, NULL, 10) > (unsigned long long)INT64_MAX)
            return sql__decimal(s);
        return json_integer(strtoll(s, NULL, 10));
    case MYSQL_TYPE_FLOAT: case MYSQL_TYPE_DOUBLE:
        return json_real(strtod(s, NULL));
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL:
        return sql__decimal(s);
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: {
        if (n != 10 || !strcmp(s, "0000-00-00"))
            return json_string(s);
        json_t *o = json_object();
        json_object_set_new(o, "$ion_timestamp", json_string(s));
        return o;
    }
    case MYSQL_TYPE_DATETIME:
        return sql__local_timestamp(s, tz);
    case MYSQL_TYPE_TIMESTAMP:
        return utc_timestamp(s, tz);
    case MYSQL_TYPE_JSON: {
        json_error_t je;
        json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &je);
        return v ? v : json_stringn(s, n);
    }
    case MYSQL_TYPE_BIT:
        if (f->length == 1)
            return json_boolean(n && s[0]);
        return sql__blob(s, n);
    case MYSQL_TYPE_TINY_BLOB: case MYSQL_TYPE_MEDIUM_BLOB: case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB: case MYSQL_TYPE_STRING: case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
        if (binary)
            return sql__blob(s, n);
        /* fall through */
    default: {
        json_t *v = json_stringn(s, n);
        return v ? v : sql__blob(s, n);
    }
    }
}

/* ---- the text protocol (no parameters) ---- */

static int text_exec(sql_conn *c, const char *sql, sql_row_fn fn, void *ud, int *has_rows,
                     int64_t *affected, kerr *e)
{
    if (mysql_real_query(c->my, sql, strlen(sql)))
        return my_fail(c->my, e);
    int rc = 0;
    do {
        MYSQL_RES *res = mysql_use_result(c->my);
        if (!res) {
            if (mysql_field_count(c->my)) {
                if (!rc)
                    rc = my_fail(c->my, e);
            } else if (!rc)
                *affected = (int64_t)mysql_affected_rows(c->my);
            continue;
        }
        *has_rows = 1;
        unsigned nf = mysql_num_fields(res);
        MYSQL_FIELD *fs = mysql_fetch_fields(res);
        MYSQL_ROW r;
        while ((r = mysql_fetch_row(res))) {
            if (rc)
                continue;
            unsigned long *len = mysql_fetch_lengths(res);
            json_t *row = json_object();
            for (unsigned i = 0; i < nf; i++)
                json_object_set_new(row, fs[i].name,
                                    r[i] ? my_value(&fs[i], r[i], len[i], c->tz) : json_null());
            if (fn(ud, row, e))
                rc = -1;
            json_decref(row);
        }
        if (!rc && mysql_errno(c->my))
            rc = my_fail(c->my, e);
        mysql_free_result(res);
    } while (mysql_next_result(c->my) == 0);
    if (!rc && mysql_errno(c->my))
        rc = my_fail(c->my, e);
    return rc;
}

/* ---- prepared statements (parameters bound) ---- */

static int stmt_fail(MYSQL_STMT *st, kerr *e)
{
    return kerr_setc(e, KERR_INVALID, "%s", mysql_stmt_error(st));
}

static int stmt_exec(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn, sql_stop_fn stop, void *ud,
                     int *has_rows, int64_t *affected, kerr *e)
{
    MYSQL_STMT *st = mysql_stmt_init(c->my);
    if (!st)
        return my_fail(c->my, e);
    int rc = -1;
    size_t np = json_array_size(params);
    MYSQL_BIND *pb = xcalloc(np + 1, sizeof *pb);
    long long *ints = xcalloc(np + 1, sizeof *ints);
    double *dbls = xcalloc(np + 1, sizeof *dbls);
    char **texts = xcalloc(np + 1, sizeof *texts);
    unsigned long *plen = xcalloc(np + 1, sizeof *plen);
    MYSQL_BIND *rb = NULL;
    char **bufs = NULL;
    unsigned long *lens = NULL;
    my_bool *nulls = NULL, *errs = NULL;
    unsigned nf = 0;
    MYSQL_RES *meta = NULL;
    if (mysql_stmt_prepare(st, sql, strlen(sql))) {
        stmt_fail(st, e);
        goto out;
    }
    if (mysql_stmt_param_count(st) != np) {
        kerr_setc(e, KERR_INVALID, "the SQL has %lu placeholders for %zu parameters",
                  mysql_stmt_param_count(st), np);
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        json_t *v = json_array_get(params, i);
        if (json_is_null(v))
            pb[i].buffer_type = MYSQL_TYPE_NULL;
        else if (json_is_integer(v) || json_is_boolean(v)) {
            ints[i] = json_is_integer(v) ? json_integer_value(v) : json_is_true(v);
            pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            pb[i].buffer = &ints[i];
        } else if (json_is_real(v)) {
            dbls[i] = json_real_value(v);
            pb[i].buffer_type = MYSQL_TYPE_DOUBLE;
            pb[i].buffer = &dbls[i];
        } else {
            texts[i] = json_is_string(v) ? xstrdup(json_string_value(v)) : kjson_dump(v);
            plen[i] = (unsigned long)strlen(texts[i]);
            pb[i].buffer_type = MYSQL_TYPE_STRING;
            pb[i].buffer = texts[i];
            pb[i].buffer_length = plen[i];
            pb[i].length = &plen[i];
        }
    }
    if (np && mysql_stmt_bind_param(st, pb)) {
        stmt_fail(st, e);
        goto out;
    }
    if (mysql_stmt_execute(st)) {
        stmt_fail(st, e);
        goto out;
    }
    meta = mysql_stmt_result_metadata(st);
    if (!meta) {
        *affected = (int64_t)mysql_stmt_affected_rows(st);
        rc = 0;
        goto out;
    }
    *has_rows = 1;
    nf = mysql_num_fields(meta);
    MYSQL_FIELD *fs = mysql_fetch_fields(meta);
    rb = xcalloc(nf, sizeof *rb);
    bufs = xcalloc(nf, sizeof *bufs);
    lens = xcalloc(nf, sizeof *lens);
    nulls = xcalloc(nf, sizeof *nulls);
    errs = xcalloc(nf, sizeof *errs);
    for (unsigned i = 0; i < nf; i++) {
        bufs[i] = xmalloc(256);
        rb[i].buffer_type = MYSQL_TYPE_STRING;
        rb[i].buffer = bufs[i];
        rb[i].buffer_length = 255;
        rb[i].length = &lens[i];
        rb[i].is_null = &nulls[i];
        rb[i].error = &errs[i];
    }
    if (mysql_stmt_bind_result(st, rb)) {
        stmt_fail(st, e);
        goto out;
    }
    int f;
    rc = 0;
    while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
        if (rc)
            continue;
        json_t *row = json_object();
        for (unsigned i = 0; i < nf; i++) {
            if (nulls[i]) {
                json_object_set_new(row, fs[i].name, json_null());
                continue;
            }
            char *s = bufs[i];
            char *big = NULL;
            if (lens[i] > 255) {
                big = xmalloc(lens[i] + 1);
                MYSQL_BIND one = rb[i];
                one.buffer = big;
                one.buffer_length = lens[i] + 1;
                mysql_stmt_fetch_column(st, &one, i, 0);
                s = big;
            }
            s[lens[i]] = 0;
            json_object_set_new(row, fs[i].name, my_value(&fs[i], s, lens[i], c->tz));
            free(big);
        }
        if (fn(ud, row, e))
            rc = -1;
        json_decref(row);
    }
    if (!rc && f != MYSQL_NO_DATA)
        rc = stmt_fail(st, e);
out:
    if (meta)
        mysql_free_result(meta);
    for (unsigned i = 0; i < nf; i++)
        free(bufs[i]);
    free(bufs);
    free(rb);
    free(lens);
    free(nulls);
    free(errs);
    for (size_t i = 0; i < np; i++)
        free(texts[i]);
    free(texts);
    free(plen);
    free(ints);
    free(dbls);
    free(pb);
    mysql_stmt_close(st);
    return rc;
}

static int my_exec(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn, sql_stop_fn stop, void *ud,
                   int *has_rows, int64_t *affected, kerr *e)
{
    *has_rows = 0;
    *affected = -1;
    if (json_array_size(params))
        return stmt_exec(c, sql, params, fn, stop, ud, has_rows, affected, e);
    return text_exec(c, sql, fn, ud, has_rows, affected, e);
}

static void my_set_infile(sql_conn *c, FILE *in)
{
    c->infile = in;
}

const sql_driver sql__mysql = {
    .name = "mysql",
    .placeholder = '?',
    .unavailable = dl_mariadb_load,
    .connect = my_connect,
    .close = my_close,
    .alive = my_alive,
    .exec = my_exec,
    .set_infile = my_set_infile,
};
