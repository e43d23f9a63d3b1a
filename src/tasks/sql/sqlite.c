/*
 * sqlite.c: the SQLite driver of the SQL family (sql_int.h), on the
 * sqlite3 library kite's store already links.
 *
 * jdbc:sqlite:/path/file.db (created when missing, as the JDBC driver does)
 * or jdbc:sqlite::memory:. Values map by their storage class, as the JDBC
 * driver gives them: INTEGER as a number, REAL as a number, TEXT as text
 * (a DATE / DATETIME / TIMESTAMP column's text as a date or a timestamp in
 * the task's zone, when it parses), BLOB as bytes, NULL. A busy database is
 * waited for up to 5 s.
 */
#include "tasks/sql/sql_int.h"

#include "util/mem.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sql_conn {
    sqlite3 *db;
    char tz[64];
};

static sql_conn *lite_connect(const sql_url *u, const char *tz, int64_t timeout_us, kerr *e)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(u->db ? u->db : ":memory:", &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        kerr_setc(e, KERR_INVALID, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sql_conn *c = xcalloc(1, sizeof *c);
    c->db = db;
    snprintf(c->tz, sizeof c->tz, "%s", tz);
    return c;
}

static void lite_close(sql_conn *c)
{
    if (!c)
        return;
    sqlite3_close_v2(c->db);
    free(c);
}

static int lite_alive(sql_conn *c)
{
    return sqlite3_get_autocommit(c->db);
}

static int bind(sqlite3_stmt *st, const json_t *params, kerr *e)
{
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v) {
        int k = (int)i + 1, rc;
        if (json_is_null(v))
            rc = sqlite3_bind_null(st, k);
        else if (json_is_string(v))
            rc = sqlite3_bind_text(st, k, json_string_value(v), (int)json_string_length(v),
                                   SQLITE_TRANSIENT);
        else if (json_is_integer(v))
            rc = sqlite3_bind_int64(st, k, json_integer_value(v));
        else if (json_is_real(v))
            rc = sqlite3_bind_double(st, k, json_real_value(v));
        else if (json_is_boolean(v))
            rc = sqlite3_bind_int(st, k, json_is_true(v));
        else {
            char *t = kjson_dump(v);
            rc = sqlite3_bind_text(st, k, t, -1, free);
        }
        if (rc != SQLITE_OK)
            return kerr_setc(e, KERR_INVALID, "parameter %d: %s", k, sqlite3_errstr(rc));
    }
    return 0;
}

static json_t *text_value(const char *decl, const char *s, int n, const char *tz)
{
    if (decl && (strcasestr(decl, "DATE") || strcasestr(decl, "TIME"))) {
        if (n == 10 && s[4] == '-' && s[7] == '-') {
            json_t *o = json_object();
            json_object_set_new(o, "$ion_timestamp", json_stringn(s, (size_t)n));
            return o;
        }
        if (n >= 19)
            return sql__local_timestamp(s, tz);
    }
    json_t *v = json_stringn(s, (size_t)n);
    return v ? v : sql__blob(s, (size_t)n);
}

struct stopper {
    sql_stop_fn stop;
    void *ud;
};

/* Called by SQLite every 10,000 steps: non-zero interrupts the statement. */
static int progress(void *p)
{
    struct stopper *s = p;
    return s->stop(s->ud);
}

static int lite_exec(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn, sql_stop_fn stop, void *ud,
                     int *has_rows, int64_t *affected, kerr *e)
{
    *has_rows = 0;
    *affected = -1;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, &tail) != SQLITE_OK) {
        int off = sqlite3_error_offset(c->db);
        if (off >= 0)
            return kerr_setc(e, KERR_INVALID, "%s (at character %d of the SQL)",
                             sqlite3_errmsg(c->db), off + 1);
        return kerr_setc(e, KERR_INVALID, "%s", sqlite3_errmsg(c->db));
    }
    if (!st)
        return 0; /* only a comment or whitespace */
    if (bind(st, params, e)) {
        sqlite3_finalize(st);
        return -1;
    }
    struct stopper sp = {stop, ud};
    sqlite3_progress_handler(c->db, 10000, progress, &sp);
    int ncols = sqlite3_column_count(st);
    *has_rows = ncols > 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int i = 0; i < ncols; i++) {
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
            case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
            case SQLITE_TEXT:
                v = text_value(sqlite3_column_decltype(st, i),
                               (const char *)sqlite3_column_text(st, i), sqlite3_column_bytes(st, i),
                               c->tz);
                break;
            case SQLITE_BLOB:
                v = sql__blob(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
                break;
            default: v = json_null();
            }
            json_object_set_new(row, sqlite3_column_name(st, i), v);
        }
        int frc = fn(ud, row, e);
        json_decref(row);
        if (frc) {
            sqlite3_progress_handler(c->db, 0, NULL, NULL);
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    if (rc != SQLITE_DONE) {
        kerr_setc(e, KERR_INVALID, "%s", sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return -1;
    }
    if (!ncols)
        *affected = sqlite3_changes64(c->db);
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    sqlite3_finalize(st);
    return 0;
}

const sql_driver sql__sqlite = {
    .name = "sqlite",
    .placeholder = '?',
    .connect = lite_connect,
    .close = lite_close,
    .alive = lite_alive,
    .exec = lite_exec,
};
