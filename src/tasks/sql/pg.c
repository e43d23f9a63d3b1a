/*
 * pg.c: the PostgreSQL driver of the SQL family (sql_int.h), on libpq.
 *
 * Statements go through PQsendQueryParams (parameters as text, their types
 * inferred by the server) in single-row mode, so a STORE of millions of rows
 * holds one row at a time. Values come back as text and are mapped by the
 * column's type OID as Kestra's PostgreSQL cell converter maps them:
 * integers and floats as numbers, numeric as a decimal, bool, date and
 * timestamps (timestamptz in the session time zone, set to the task's
 * timeZoneId; timestamp as wall time in that zone), json/jsonb parsed,
 * bytea as bytes, arrays as lists, anything else as its text.
 */
#include "tasks/sql/sql_int.h"

#include "util/buf.h"
#include "util/dl_pq.h"
#include "util/mem.h"
#include "util/netguard.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sql_conn {
    PGconn *pg;
    char tz[64];
};

/* libpq's messages end with a newline and may span lines: one line. */
static int pg_fail(kerr *e, const char *msg)
{
    char t[KERR_MSG_MAX];
    snprintf(t, sizeof t, "%s", msg ? msg : "unknown error");
    for (char *p = t; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(t);
    while (n && t[n - 1] == ' ')
        t[--n] = 0;
    /* "connection to server at "127.0.0.1", port 5432 failed: FATAL:  x": the cause */
    const char *cause = strstr(t, "failed: ");
    cause = cause ? cause + 8 : t;
    char c2[KERR_MSG_MAX];
    snprintf(c2, sizeof c2, "%s", cause);
    char *sp;
    while ((sp = strstr(c2, "  ")))
        memmove(sp, sp + 1, strlen(sp));
    return kerr_setc(e, KERR_INVALID, "%s", c2);
}

/* security.ssrf: each host of u (libpq takes "h1,h2") resolved and checked,
 * their addresses into hostaddr ("a1,a2") so that libpq connects to what
 * was checked and not to what a second lookup would answer; host stays
 * for TLS and .pgpass. A Unix socket path is local: refused. */
static int pg_guard(const sql_url *u, int port, buf *hostaddr, kerr *e)
{
    if (!netguard_enabled() || !u->host)
        return 0;
    char *hosts = xstrdup(u->host), *save = NULL;
    int rc = 0;
    for (char *h = strtok_r(hosts, ",", &save); h && !rc; h = strtok_r(NULL, ",", &save)) {
        if (h[0] == '/' || h[0] == '@') {
            rc = kerr_setc(e, KERR_INVALID, "security.ssrf: host '%s' is a Unix socket, which is local: "
                                            "use a network address", h);
            break;
        }
        struct sockaddr_storage ss;
        socklen_t len;
        char a[INET6_ADDRSTRLEN];
        rc = netguard_resolve(h, port, 0, &ss, &len, a, e);
        if (!rc)
            buf_printf(hostaddr, "%s%s", hostaddr->len ? "," : "", a);
    }
    free(hosts);
    return rc;
}

static sql_conn *pg_connect(const sql_url *u, const char *tz, int64_t timeout_us, kerr *e)
{
    buf hostaddr = BUF_INIT;
    if (pg_guard(u, u->port ? u->port : 5432, &hostaddr, e)) {
        buf_free(&hostaddr);
        return NULL;
    }
    const char *keys[32], *vals[32];
    int n = 0;
    char port[16], tmo[16], opts[160];
    snprintf(port, sizeof port, "%d", u->port ? u->port : 5432);
    snprintf(tmo, sizeof tmo, "%lld", (long long)(timeout_us / 1000000 > 0 ? timeout_us / 1000000 : 1));
    snprintf(opts, sizeof opts, "-c TimeZone=%s", tz);
    keys[n] = "host", vals[n++] = u->host;
    if (hostaddr.len)
        keys[n] = "hostaddr", vals[n++] = buf_str(&hostaddr);
    keys[n] = "port", vals[n++] = port;
    if (u->db)
        keys[n] = "dbname", vals[n++] = u->db;
    if (u->user)
        keys[n] = "user", vals[n++] = u->user;
    if (u->password)
        keys[n] = "password", vals[n++] = u->password;
    keys[n] = "connect_timeout", vals[n++] = tmo;
    keys[n] = "options", vals[n++] = opts;
    keys[n] = "application_name", vals[n++] = "kite";
    /* libpq options the url may carry */
    static const char *const pass[] = {"sslmode", "sslrootcert", "sslcert", "sslkey",
                                       "target_session_attrs", "gssencmode", NULL};
    for (int i = 0; pass[i] && n < 30; i++) {
        const char *v = json_string_value(json_object_get(u->opts, pass[i]));
        if (v)
            keys[n] = pass[i], vals[n++] = v;
    }
    /* jdbc's ssl=true */
    const char *ssl = json_string_value(json_object_get(u->opts, "ssl"));
    if (ssl && !strcmp(ssl, "true") && !json_object_get(u->opts, "sslmode") && n < 30)
        keys[n] = "sslmode", vals[n++] = "require";
    keys[n] = NULL;
    vals[n] = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 0);
    buf_free(&hostaddr);
    if (!pg) {
        kerr_set(e, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_fail(e, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    sql_conn *c = xcalloc(1, sizeof *c);
    c->pg = pg;
    snprintf(c->tz, sizeof c->tz, "%s", tz);
    return c;
}

static void pg_close(sql_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

static int pg_alive(sql_conn *c)
{
    return PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

/* ---- values ---- */

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700, OID_DATE = 1082,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_JSONB = 3802,
};

/* The element OID of an array type OID, 0 when it is not one kite maps. */
static Oid array_elem(Oid t)
{
    switch (t) {
    case 1000: return OID_BOOL;
    case 1005: return OID_INT2;
    case 1007: return OID_INT4;
    case 1016: return OID_INT8;
    case 1021: return OID_FLOAT4;
    case 1022: return OID_FLOAT8;
    case 1231: return OID_NUMERIC;
    case 1009: case 1015: case 1014: case 2951: return 25; /* text, varchar, bpchar, uuid */
    case 1182: return OID_DATE;
    case 1115: return OID_TIMESTAMP;
    case 1185: return OID_TIMESTAMPTZ;
    case 199: return OID_JSON;
    case 3807: return OID_JSONB;
    default: return 0;
    }
}

static json_t *pg_value(Oid t, const char *s, size_t len, const char *tz);

/* "2024-01-02 03:04:05.123+01" (or +05:30, +01:00:00) as a TAGGED timestamp. */
static json_t *tstz(const char *s)
{
    char t[80];
    size_t n = strlen(s);
    if (n >= sizeof t - 8 || n < 19)
        return json_string(s);
    memcpy(t, s, n + 1);
    if (t[10] == ' ')
        t[10] = 'T';
    /* the offset: the last '+' or '-' after the time */
    char *o = NULL;
    for (char *p = t + 19; *p; p++)
        if (*p == '+' || *p == '-')
            o = p;
    if (!o)
        return json_string(s);
    int hh = 0, mm = 0, ss = 0;
    if (sscanf(o + 1, "%d:%d:%d", &hh, &mm, &ss) < 1)
        return json_string(s);
    if (hh == 0 && mm == 0)
        snprintf(o, sizeof t - (size_t)(o - t), "Z");
    else
        snprintf(o, sizeof t - (size_t)(o - t), "%c%02d:%02d", *o, hh, mm);
    json_t *r = json_object();
    json_object_set_new(r, "$ion_timestamp", json_string(t));
    return r;
}

/* {1,2,NULL,"a b"} as a list, elements mapped by type el. */
static json_t *pg_array(Oid el, const char *s, const char *tz, const char **endp)
{
    json_t *a = json_array();
    if (*s != '{') {
        *endp = s;
        return a;
    }
    s++;
    buf b = BUF_INIT;
    while (*s && *s != '}') {
        if (*s == '{') {
            json_array_append_new(a, pg_array(el, s, tz, &s));
        } else {
            buf_reset(&b);
            int quoted = *s == '"';
            if (quoted) {
                s++;
                while (*s && *s != '"') {
                    if (*s == '\\' && s[1])
                        s++;
                    buf_putc(&b, *s++);
                }
                if (*s)
                    s++;
            } else
                while (*s && *s != ',' && *s != '}')
                    buf_putc(&b, *s++);
            if (!quoted && !strcmp(buf_str(&b), "NULL"))
                json_array_append_new(a, json_null());
            else
                json_array_append_new(a, pg_value(el, buf_str(&b), b.len, tz));
        }
        if (*s == ',')
            s++;
    }
    if (*s == '}')
        s++;
    *endp = s;
    buf_free(&b);
    return a;
}

static json_t *pg_value(Oid t, const char *s, size_t len, const char *tz)
{
    switch (t) {
    case OID_BOOL:
        return json_boolean(s[0] == 't');
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        return json_integer(strtoll(s, NULL, 10));
    case OID_FLOAT4: case OID_FLOAT8: {
        char *end;
        double d = strtod(s, &end);
        if (*end || !isfinite(d)) {
            json_t *o = json_object();
            json_object_set_new(o, "$ion_float",
                                json_string(!strcmp(s, "NaN") ? "nan" : s[0] == '-' ? "-inf" : "+inf"));
            return o;
        }
        return json_real(d);
    }
    case OID_NUMERIC:
        if (!strcmp(s, "NaN") || strstr(s, "Infinity")) {
            json_t *o = json_object();
            json_object_set_new(o, "$ion_float",
                                json_string(!strcmp(s, "NaN") ? "nan" : s[0] == '-' ? "-inf" : "+inf"));
            return o;
        }
        return sql__decimal(s);
    case OID_DATE: {
        if (len != 10)
            return json_string(s);
        json_t *o = json_object();
        json_object_set_new(o, "$ion_timestamp", json_string(s));
        return o;
    }
    case OID_TIMESTAMP:
        return sql__local_timestamp(s, tz);
    case OID_TIMESTAMPTZ:
        return tstz(s);
    case OID_JSON: case OID_JSONB: {
        json_error_t je;
        json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        return v ? v : json_stringn(s, len);
    }
    case OID_BYTEA: {
        if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
            size_t n = (len - 2) / 2;
            unsigned char *b = xmalloc(n + 1);
            for (size_t i = 0; i < n; i++) {
                char h[3] = {s[2 + 2 * i], s[3 + 2 * i], 0};
                b[i] = (unsigned char)strtol(h, NULL, 16);
            }
            json_t *o = sql__blob(b, n);
            free(b);
            return o;
        }
        return sql__blob(s, len);
    }
    default: {
        Oid el = array_elem(t);
        if (el) {
            const char *end;
            return pg_array(el, s, tz, &end);
        }
        json_t *v = json_stringn(s, len);
        return v ? v : sql__blob(s, len);
    }
    }
}

/* The server's error: its message, with the statement position when it
 * gives one ("syntax error at or near "FROM" (position 8)"). */
static int pg_result_fail(const PGresult *r, PGconn *pg, kerr *e)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    if (!msg)
        return pg_fail(e, PQerrorMessage(pg));
    if (pos)
        return kerr_setc(e, KERR_INVALID, "%s (at character %s of the SQL)", msg, pos);
    return kerr_setc(e, KERR_INVALID, "%s", msg);
}

static int pg_exec(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn, sql_stop_fn stop, void *ud,
                   int *has_rows, int64_t *affected, kerr *e)
{
    *has_rows = 0;
    *affected = -1;
    size_t np = json_array_size(params);
    const char **vals = np ? xcalloc(np, sizeof *vals) : NULL;
    char **own = np ? xcalloc(np, sizeof *own) : NULL;
    for (size_t i = 0; i < np; i++) {
        json_t *v = json_array_get(params, i);
        if (json_is_null(v))
            continue;
        if (json_is_string(v))
            vals[i] = json_string_value(v);
        else if (json_is_true(v))
            vals[i] = "true";
        else if (json_is_false(v))
            vals[i] = "false";
        else if (json_is_integer(v))
            vals[i] = own[i] = xasprintf("%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            vals[i] = own[i] = xasprintf("%.17g", json_real_value(v));
        else
            vals[i] = own[i] = kjson_dump(v);
    }
    int ok = PQsendQueryParams(c->pg, sql, (int)np, NULL, vals, NULL, NULL, 0);
    for (size_t i = 0; i < np; i++)
        free(own[i]);
    free(own);
    free(vals);
    if (!ok)
        return pg_fail(e, PQerrorMessage(c->pg));
    PQsetSingleRowMode(c->pg);
    int rc = 0;
    PGresult *r;
    json_t **names = NULL;
    Oid *types = NULL;
    int ncols = -1;
    int cancelled = 0;
    for (;;) {
        /* wait for the next result without blocking, so that a kill or the
         * task's timeout cancels the statement on the server */
        while (PQisBusy(c->pg)) {
            if (!cancelled && stop(ud)) {
                cancelled = 1;
                PGcancel *cn = PQgetCancel(c->pg);
                if (cn) {
                    char eb[256];
                    PQcancel(cn, eb, sizeof eb);
                    PQfreeCancel(cn);
                }
            }
            struct pollfd pf = {.fd = PQsocket(c->pg), .events = POLLIN};
            if (poll(&pf, 1, 100) < 0 && errno != EINTR)
                break;
            if (!PQconsumeInput(c->pg))
                break;
        }
        r = PQgetResult(c->pg);
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (rc) {
            PQclear(r);
            continue;
        }
        if (st == PGRES_SINGLE_TUPLE) {
            *has_rows = 1;
            if (ncols < 0) {
                ncols = PQnfields(r);
                names = xcalloc((size_t)ncols + 1, sizeof *names);
                types = xcalloc((size_t)ncols + 1, sizeof *types);
                for (int i = 0; i < ncols; i++) {
                    names[i] = json_string(PQfname(r, i));
                    types[i] = PQftype(r, i);
                }
            }
            json_t *row = json_object();
            for (int i = 0; i < ncols; i++) {
                json_t *v = PQgetisnull(r, 0, i)
                                ? json_null()
                                : pg_value(types[i], PQgetvalue(r, 0, i),
                                           (size_t)PQgetlength(r, 0, i), c->tz);
                json_object_set_new(row, json_string_value(names[i]), v);
            }
            if (fn(ud, row, e)) {
                rc = -1;
                /* the rest is drained (and discarded) by the loop */
                PGcancel *cn = PQgetCancel(c->pg);
                if (cn) {
                    char eb[256];
                    PQcancel(cn, eb, sizeof eb);
                    PQfreeCancel(cn);
                }
            }
            json_decref(row);
        } else if (st == PGRES_TUPLES_OK) {
            *has_rows = 1;
        } else if (st == PGRES_COMMAND_OK) {
            const char *t = PQcmdTuples(r);
            if (t && *t)
                *affected = strtoll(t, NULL, 10);
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            kerr_setc(e, KERR_INVALID, "COPY needs the CopyIn or CopyOut task");
            rc = -1;
            PQputCopyEnd(c->pg, "not supported here");
        } else {
            pg_result_fail(r, c->pg, e);
            if (cancelled)
                kerr_setc(e, KERR_UNAVAILABLE, "the statement was canceled (the task was killed or timed out)");
            rc = -1;
        }
        PQclear(r);
    }
    if (names)
        for (int i = 0; i < ncols; i++)
            json_decref(names[i]);
    free(names);
    free(types);
    return rc;
}

static int pg_copy_in(sql_conn *c, const char *sql, FILE *in, int64_t *rows, kerr *e)
{
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        pg_result_fail(r, c->pg, e);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0)
        if (PQputCopyData(c->pg, b, (int)n) != 1) {
            pg_fail(e, PQerrorMessage(c->pg));
            break;
        }
    PQputCopyEnd(c->pg, ferror(in) ? "reading the file failed" : NULL);
    int rc = 0;
    while ((r = PQgetResult(c->pg))) {
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            *rows = strtoll(PQcmdTuples(r), NULL, 10);
        else if (!rc) {
            pg_result_fail(r, c->pg, e);
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

static int pg_copy_out(sql_conn *c, const char *sql, FILE *out, int64_t *rows, kerr *e)
{
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        pg_result_fail(r, c->pg, e);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *b;
    int n, rc = 0;
    while ((n = PQgetCopyData(c->pg, &b, 0)) > 0) {
        if (!rc && fwrite(b, 1, (size_t)n, out) != (size_t)n) {
            kerr_set(e, "writing the copy failed");
            rc = -1;
        }
        PQfreemem(b);
    }
    while ((r = PQgetResult(c->pg))) {
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            *rows = strtoll(PQcmdTuples(r), NULL, 10);
        else if (!rc) {
            pg_result_fail(r, c->pg, e);
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

const sql_driver sql__pg = {
    .name = "postgresql",
    .placeholder = '$',
    .unavailable = dl_pq_load,
    .connect = pg_connect,
    .close = pg_close,
    .alive = pg_alive,
    .exec = pg_exec,
    .copy_in = pg_copy_in,
    .copy_out = pg_copy_out,
};
