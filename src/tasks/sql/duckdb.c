/*
 * duckdb.c: the DuckDB driver of the SQL family (sql_int.h), on libduckdb
 * loaded with dlopen so that kite runs, and validates flows, without it.
 *
 * Debian has no DuckDB; the npm package @duckdb/node-bindings-linux-x64
 * ships a working libduckdb.so (../shared/notes/duckdb.md), which
 * scripts/setup.sh installs under vendor/duckdb/. The library is looked for
 * at $KITE_DUCKDB_LIB, then beside the binary (../vendor/duckdb/...), then
 * by the dynamic loader's own search (libduckdb.so). Where none loads,
 * `kite validate` warns that DuckDB tasks cannot run on this host and such
 * a task fails saying so.
 *
 * The few C API functions used are declared here (the package has no
 * header); they are DuckDB's stable C API (duckdb.h, 1.x). Results are
 * materialized by DuckDB before rows are read, so a DuckDB STORE holds its
 * whole result in DuckDB's memory (PostgreSQL and MySQL stream).
 */
#include "tasks/sql/sql_int.h"

#include "util/mem.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t idx_t;
typedef void *duckdb_database;
typedef void *duckdb_connection;
typedef void *duckdb_prepared_statement;
/* duckdb_result as duckdb.h 1.x declares it (passed by value to
 * duckdb_result_statement_type, so its size must be exact) */
typedef struct {
    idx_t column_count, row_count, rows_changed;
    void *columns;
    char *error_message;
    void *internal_data;
} duckdb_result;

static struct {
    int (*open)(const char *, duckdb_database *);
    int (*connect)(duckdb_database, duckdb_connection *);
    void (*disconnect)(duckdb_connection *);
    void (*close)(duckdb_database *);
    int (*prepare)(duckdb_connection, const char *, duckdb_prepared_statement *);
    const char *(*prepare_error)(duckdb_prepared_statement);
    void (*destroy_prepare)(duckdb_prepared_statement *);
    int (*bind_null)(duckdb_prepared_statement, idx_t);
    int (*bind_int64)(duckdb_prepared_statement, idx_t, int64_t);
    int (*bind_double)(duckdb_prepared_statement, idx_t, double);
    int (*bind_boolean)(duckdb_prepared_statement, idx_t, bool);
    int (*bind_varchar)(duckdb_prepared_statement, idx_t, const char *);
    int (*execute_prepared)(duckdb_prepared_statement, duckdb_result *);
    idx_t (*column_count)(duckdb_result *);
    idx_t (*row_count)(duckdb_result *);
    idx_t (*rows_changed)(duckdb_result *);
    const char *(*column_name)(duckdb_result *, idx_t);
    int (*column_type)(duckdb_result *, idx_t);
    bool (*value_is_null)(duckdb_result *, idx_t, idx_t);
    char *(*value_varchar)(duckdb_result *, idx_t, idx_t);
    void (*free_)(void *);
    const char *(*result_error)(duckdb_result *);
    void (*destroy_result)(duckdb_result *);
    int (*result_statement_type)(duckdb_result);
    const char *(*library_version)(void);
    int (*prepared_type)(duckdb_prepared_statement);
    idx_t (*pcol_count)(duckdb_prepared_statement);
    int (*pcol_type)(duckdb_prepared_statement, idx_t);
    const char *(*pcol_name)(duckdb_prepared_statement, idx_t);
} dk;

static pthread_once_t dk_once = PTHREAD_ONCE_INIT;
static const char *dk_why = "DuckDB tasks cannot run on this host: libduckdb.so was not found "
                            "(scripts/setup.sh installs it; or set KITE_DUCKDB_LIB)";
static int dk_ok;

static void *try_open(const char *path)
{
    return path && *path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
}

static void dk_load(void)
{
    void *h = try_open(getenv("KITE_DUCKDB_LIB"));
    if (!h) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = 0;
                char p[PATH_MAX + 128];
                snprintf(p, sizeof p,
                         "%s/../vendor/duckdb/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so",
                         exe);
                h = try_open(p);
            }
        }
    }
    if (!h)
        h = try_open("libduckdb.so");
    if (!h)
        return;
#define SYM(field, name)                             \
    do {                                             \
        *(void **)&dk.field = dlsym(h, name);        \
        if (!dk.field)                               \
            return;                                  \
    } while (0)
    SYM(open, "duckdb_open");
    SYM(connect, "duckdb_connect");
    SYM(disconnect, "duckdb_disconnect");
    SYM(close, "duckdb_close");
    SYM(prepare, "duckdb_prepare");
    SYM(prepare_error, "duckdb_prepare_error");
    SYM(destroy_prepare, "duckdb_destroy_prepare");
    SYM(bind_null, "duckdb_bind_null");
    SYM(bind_int64, "duckdb_bind_int64");
    SYM(bind_double, "duckdb_bind_double");
    SYM(bind_boolean, "duckdb_bind_boolean");
    SYM(bind_varchar, "duckdb_bind_varchar");
    SYM(execute_prepared, "duckdb_execute_prepared");
    SYM(column_count, "duckdb_column_count");
    SYM(row_count, "duckdb_row_count");
    SYM(rows_changed, "duckdb_rows_changed");
    SYM(column_name, "duckdb_column_name");
    SYM(column_type, "duckdb_column_type");
    SYM(value_is_null, "duckdb_value_is_null");
    SYM(value_varchar, "duckdb_value_varchar");
    SYM(free_, "duckdb_free");
    SYM(result_error, "duckdb_result_error");
    SYM(destroy_result, "duckdb_destroy_result");
    SYM(result_statement_type, "duckdb_result_statement_type");
    SYM(library_version, "duckdb_library_version");
    SYM(prepared_type, "duckdb_prepared_statement_type");
    SYM(pcol_count, "duckdb_prepared_statement_column_count");
    SYM(pcol_type, "duckdb_prepared_statement_column_type");
    SYM(pcol_name, "duckdb_prepared_statement_column_name");
#undef SYM
    dk_ok = 1;
}

static const char *dk_unavailable(void)
{
    pthread_once(&dk_once, dk_load);
    return dk_ok ? NULL : dk_why;
}

struct sql_conn {
    duckdb_database db;
    duckdb_connection con;
    char tz[64];
};

static sql_conn *dk_connect(const sql_url *u, const char *tz, int64_t timeout_us, kerr *e)
{
    if (dk_unavailable()) {
        kerr_setc(e, KERR_UNAVAILABLE, "%s", dk_why);
        return NULL;
    }
    sql_conn *c = xcalloc(1, sizeof *c);
    if (dk.open(u->db, &c->db)) {
        kerr_setc(e, KERR_INVALID, "cannot open the database");
        free(c);
        return NULL;
    }
    if (dk.connect(c->db, &c->con)) {
        kerr_setc(e, KERR_INVALID, "cannot connect to the database");
        dk.close(&c->db);
        free(c);
        return NULL;
    }
    snprintf(c->tz, sizeof c->tz, "%s", tz);
    return c;
}

static void dk_close(sql_conn *c)
{
    if (!c)
        return;
    dk.disconnect(&c->con);
    dk.close(&c->db);
    free(c);
}

static int dk_alive(sql_conn *c)
{
    return 1;
}

enum { DK_BOOL = 1, DK_TINYINT, DK_SMALLINT, DK_INTEGER, DK_BIGINT, DK_UTINYINT, DK_USMALLINT,
       DK_UINTEGER, DK_UBIGINT, DK_FLOAT, DK_DOUBLE, DK_TIMESTAMP, DK_DATE, DK_TIME,
       DK_INTERVAL, DK_HUGEINT, DK_VARCHAR, DK_BLOB, DK_DECIMAL, DK_TIMESTAMP_S,
       DK_TIMESTAMP_MS, DK_TIMESTAMP_NS, DK_ENUM = 23, DK_LIST = 24, DK_STRUCT = 25, DK_MAP = 26,
       DK_UUID = 27, DK_UNION = 28, DK_BIT = 29, DK_TIME_TZ = 30, DK_TIMESTAMP_TZ = 31, DK_UHUGEINT = 32,
       DK_ARRAY = 33 };

/* duckdb_value_varchar renders neither nested values nor TIMESTAMPTZ /
 * TIMETZ (it gives NULL): a SELECT with such columns runs as
 *   SELECT * REPLACE (to_json("l") AS "l", CAST("tz" AS VARCHAR) AS "tz") FROM (<sql>)
 * (one execution, the same parameters), nested values then read back as
 * JSON. 1 for a nested type, 2 for one cast to text, 0 for the others. */
static int dk_rewrite_kind(int type)
{
    switch (type) {
    case DK_LIST: case DK_STRUCT: case DK_MAP: case DK_UNION: case DK_ARRAY: return 1;
    case DK_TIMESTAMP_TZ: case DK_TIME_TZ: case DK_ENUM: case DK_BIT: case DK_UUID: return 2;
    default: return 0;
    }
}

/* The wrapped statement for a SELECT whose n columns have these names and
 * types, or NULL when none is needed (or when two columns share a name,
 * which REPLACE cannot tell apart). */
static char *dk_wrap(idx_t nc, const char *const *names, const int *types, const char *sql)
{
    buf rep = BUF_INIT;
    json_t *seen = json_object();
    int need = 0, dup = 0;
    for (idx_t k = 0; k < nc; k++) {
        const char *name = names[k];
        if (!name || json_object_get(seen, name))
            dup = 1;
        else
            json_object_set_new(seen, name, json_true());
        int kind = dk_rewrite_kind(types[k]);
        if (!kind || !name)
            continue;
        buf q = BUF_INIT;
        buf_putc(&q, '"');
        for (const char *p = name; *p; p++) {
            if (*p == '"')
                buf_putc(&q, '"');
            buf_putc(&q, *p);
        }
        buf_putc(&q, '"');
        buf_printf(&rep, "%s%s(%s%s) AS %s", need ? ", " : "", kind == 1 ? "to_json" : "CAST", buf_str(&q),
                   kind == 1 ? "" : " AS VARCHAR", buf_str(&q));
        buf_free(&q);
        need = 1;
    }
    json_decref(seen);
    char *out = NULL;
    if (need && !dup) {
        size_t n = strlen(sql);
        while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\n' || sql[n - 1] == '\t' ||
                     sql[n - 1] == '\r'))
            n--;
        out = xasprintf("SELECT * REPLACE (%s) FROM (%.*s\n) AS kite_q", buf_str(&rep), (int)n, sql);
    }
    buf_free(&rep);
    return out;
}

/* "2024-01-02 03:04:05.123+00" (DuckDB prints TIMESTAMPTZ in its own zone, UTC by default). */
static json_t *dk_tstz(const char *s)
{
    char t[80];
    size_t n = strlen(s);
    if (n < 19 || n > sizeof t - 8)
        return json_string(s);
    memcpy(t, s, n + 1);
    t[10] = 'T';
    char *o = NULL;
    for (char *p = t + 19; *p; p++)
        if (*p == '+' || *p == '-')
            o = p;
    if (!o)
        return json_string(s);
    int hh = 0, mm = 0;
    sscanf(o + 1, "%d:%d", &hh, &mm);
    if (!hh && !mm)
        snprintf(o, sizeof t - (size_t)(o - t), "Z");
    else
        snprintf(o, sizeof t - (size_t)(o - t), "%c%02d:%02d", *o, hh, mm);
    json_t *r = json_object();
    json_object_set_new(r, "$ion_timestamp", json_string(t));
    return r;
}

static json_t *dk_value(int type, const char *s, const char *tz)
{
    switch (type) {
    case DK_BOOL: return json_boolean(!strcmp(s, "true"));
    case DK_TINYINT: case DK_SMALLINT: case DK_INTEGER: case DK_BIGINT: case DK_UTINYINT:
    case DK_USMALLINT: case DK_UINTEGER:
        return json_integer(strtoll(s, NULL, 10));
    case DK_UBIGINT: case DK_HUGEINT: case DK_UHUGEINT: case DK_DECIMAL:
        return sql__decimal(s);
    case DK_FLOAT: case DK_DOUBLE: return json_real(strtod(s, NULL));
    case DK_DATE: {
        json_t *o = json_object();
        json_object_set_new(o, "$ion_timestamp", json_string(s));
        return o;
    }
    case DK_TIMESTAMP: case DK_TIMESTAMP_S: case DK_TIMESTAMP_MS: case DK_TIMESTAMP_NS:
        return sql__local_timestamp(s, tz);
    case DK_TIMESTAMP_TZ: return dk_tstz(s);
    default: {
        json_t *v = json_string(s);
        return v ? v : sql__blob(s, strlen(s));
    }
    }
}

/* Binds params (positional) to st. 0, or -1 with e set. */
static int dk_bind(duckdb_prepared_statement st, const json_t *params, kerr *e)
{
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v) {
        idx_t k = i + 1;
        int rc;
        if (json_is_null(v))
            rc = dk.bind_null(st, k);
        else if (json_is_integer(v))
            rc = dk.bind_int64(st, k, json_integer_value(v));
        else if (json_is_real(v))
            rc = dk.bind_double(st, k, json_real_value(v));
        else if (json_is_boolean(v))
            rc = dk.bind_boolean(st, k, json_is_true(v));
        else if (json_is_string(v))
            rc = dk.bind_varchar(st, k, json_string_value(v));
        else {
            char *t = kjson_dump(v);
            rc = dk.bind_varchar(st, k, t);
            free(t);
        }
        if (rc)
            return kerr_setc(e, KERR_INVALID, "parameter %zu cannot be bound", i + 1);
    }
    return 0;
}

static int dk_exec(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn, sql_stop_fn stop, void *ud,
                   int *has_rows, int64_t *affected, kerr *e)
{
    *has_rows = 0;
    *affected = -1;
    duckdb_prepared_statement st = NULL;
    if (dk.prepare(c->con, sql, &st)) {
        kerr_setc(e, KERR_INVALID, "%s", st ? dk.prepare_error(st) : "prepare failed");
        dk.destroy_prepare(&st);
        return -1;
    }
    /* nested and zoned columns: their original types, then the wrapped statement */
    int *orig = NULL;
    char *wrapped = NULL;
    if (dk.prepared_type(st) == 1) {
        idx_t onc = dk.pcol_count(st);
        orig = xcalloc(onc + 1, sizeof *orig);
        const char **onames = xcalloc(onc + 1, sizeof *onames);
        for (idx_t k = 0; k < onc; k++) {
            orig[k] = dk.pcol_type(st, k);
            onames[k] = dk.pcol_name(st, k);
        }
        wrapped = dk_wrap(onc, onames, orig, sql);
        free(onames);
        if (!wrapped) {
            free(orig);
            orig = NULL;
        }
    }
    if (wrapped) {
        duckdb_prepared_statement w = NULL;
        if (dk.prepare(c->con, wrapped, &w)) {
            dk.destroy_prepare(&w); /* keep the original: values as before */
            free(orig);
            orig = NULL;
        } else {
            dk.destroy_prepare(&st);
            st = w;
        }
        free(wrapped);
    }
    if (dk_bind(st, params, e)) {
        dk.destroy_prepare(&st);
        free(orig);
        return -1;
    }
    duckdb_result res;
    memset(&res, 0, sizeof res);
    if (dk.execute_prepared(st, &res)) {
        kerr_setc(e, KERR_INVALID, "%s", dk.result_error(&res) ? dk.result_error(&res) : "failed");
        dk.destroy_result(&res);
        dk.destroy_prepare(&st);
        free(orig);
        return -1;
    }
    dk.destroy_prepare(&st);
    /* 1: SELECT; other statements' results (INSERT's "Count") are not rows */
    int stype = dk.result_statement_type(res);
    idx_t nc = dk.column_count(&res), nr = dk.row_count(&res);
    int rc = 0;
    if (stype != 1 && stype != 0 /* invalid: keep what the result says */) {
        *affected = (int64_t)dk.rows_changed(&res);
        if (stype != 4 /* EXPLAIN */ && stype != 17 /* PRAGMA */ && stype != 19 /* CALL */) {
            dk.destroy_result(&res);
            free(orig);
            return 0;
        }
    }
    *has_rows = 1;
    int *types = xcalloc(nc + 1, sizeof *types);
    for (idx_t k = 0; k < nc; k++)
        types[k] = dk.column_type(&res, k);
    if (!orig && stype == 1) {
        /* a statement with parameters has no column types before it runs:
         * when its result has nested or zoned columns, the SELECT runs
         * once more, wrapped (the only case that runs a statement twice) */
        const char **names = xcalloc(nc + 1, sizeof *names);
        for (idx_t k = 0; k < nc; k++)
            names[k] = dk.column_name(&res, k);
        char *w = dk_wrap(nc, names, types, sql);
        free(names);
        duckdb_prepared_statement ws = NULL;
        duckdb_result wres;
        memset(&wres, 0, sizeof wres);
        if (w && !dk.prepare(c->con, w, &ws) && !dk_bind(ws, params, e) && !dk.execute_prepared(ws, &wres)) {
            dk.destroy_result(&res);
            res = wres;
            orig = types;
            types = xcalloc(nc + 1, sizeof *types);
            for (idx_t k = 0; k < nc; k++)
                types[k] = dk.column_type(&res, k);
            nr = dk.row_count(&res);
        } else if (w) {
            dk.destroy_result(&wres);
        }
        dk.destroy_prepare(&ws);
        free(w);
    }
    for (idx_t r = 0; r < nr && !rc; r++) {
        json_t *row = json_object();
        for (idx_t k = 0; k < nc; k++) {
            if (dk.value_is_null(&res, k, r)) {
                json_object_set_new(row, dk.column_name(&res, k), json_null());
                continue;
            }
            char *s = dk.value_varchar(&res, k, r);
            json_t *val = NULL;
            if (orig && s && dk_rewrite_kind(orig[k]) == 1)
                val = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            else if (orig && s && orig[k] == DK_TIMESTAMP_TZ)
                val = dk_tstz(s);
            if (!val)
                val = dk_value(types[k], s ? s : "", c->tz);
            json_object_set_new(row, dk.column_name(&res, k), val);
            dk.free_(s);
        }
        if (fn(ud, row, e))
            rc = -1;
        json_decref(row);
    }
    free(types);
    free(orig);
    dk.destroy_result(&res);
    return rc;
}

const sql_driver sql__duckdb = {
    .name = "duckdb",
    .placeholder = '?',
    .unavailable = dk_unavailable,
    .connect = dk_connect,
    .close = dk_close,
    .alive = dk_alive,
    .exec = dk_exec,
};

/* ---- DuckDB for other families (tasks_int.h: the Parquet converters) ---- */

struct tasks_duckdb {
    duckdb_database db;
    duckdb_connection con;
};

const char *tasks__duckdb_unavailable(void)
{
    return dk_unavailable();
}

tasks_duckdb *tasks__duckdb_open(kerr *e)
{
    if (dk_unavailable()) {
        kerr_setc(e, KERR_UNAVAILABLE, "%s", dk_why);
        return NULL;
    }
    tasks_duckdb *d = xcalloc(1, sizeof *d);
    if (dk.open(NULL, &d->db)) {
        free(d);
        kerr_set(e, "DuckDB: cannot open an in-memory database");
        return NULL;
    }
    if (dk.connect(d->db, &d->con)) {
        dk.close(&d->db);
        free(d);
        kerr_set(e, "DuckDB: cannot connect");
        return NULL;
    }
    return d;
}

void tasks__duckdb_close(tasks_duckdb *d)
{
    if (!d)
        return;
    dk.disconnect(&d->con);
    dk.close(&d->db);
    free(d);
}

int tasks__duckdb_exec(tasks_duckdb *d, const char *sql, tasks_duckdb_row_fn fn, void *ud, kerr *e)
{
    duckdb_prepared_statement st = NULL;
    if (dk.prepare(d->con, sql, &st)) {
        kerr_setc(e, KERR_INVALID, "%s", st && dk.prepare_error(st) ? dk.prepare_error(st) : "prepare failed");
        dk.destroy_prepare(&st);
        return -1;
    }
    duckdb_result res;
    memset(&res, 0, sizeof res);
    if (dk.execute_prepared(st, &res)) {
        kerr_setc(e, KERR_INVALID, "%s", dk.result_error(&res) ? dk.result_error(&res) : "failed");
        dk.destroy_result(&res);
        dk.destroy_prepare(&st);
        return -1;
    }
    dk.destroy_prepare(&st);
    idx_t nc = dk.column_count(&res), nr = dk.row_count(&res);
    const char **names = xcalloc(nc + 1, sizeof *names);
    char **vals = xcalloc(nc + 1, sizeof *vals);
    for (idx_t k = 0; k < nc; k++)
        names[k] = dk.column_name(&res, k);
    int rc = 0;
    for (idx_t r = 0; fn && r < nr && !rc; r++) {
        for (idx_t k = 0; k < nc; k++)
            vals[k] = dk.value_is_null(&res, k, r) ? NULL : dk.value_varchar(&res, k, r);
        rc = fn(ud, nc, names, vals, e) ? -1 : 0;
        for (idx_t k = 0; k < nc; k++)
            if (vals[k])
                dk.free_(vals[k]);
    }
    free(names);
    free(vals);
    dk.destroy_result(&res);
    return rc;
}
