/*
 * sql_int.h: the SQL family's driver table, shared by sql.c (the common
 * Query / Queries logic) and one file per database (pg.c, mysql.c,
 * sqlite.c, duckdb.c), as curl's lib/vtls/ keeps one backend per file
 * behind struct Curl_ssl. sql.c never names a database library.
 *
 * DESIGN
 * A driver runs one statement at a time and hands each row to a callback as
 * a JSON object in the Ion reader's TAGGED form (util/ion.h): decimals as
 * {"$ion_decimal": "12.50"}, timestamps and dates as {"$ion_timestamp":
 * "..."} (already in the task's time zone), bytes as {"$ion_blob": base64}.
 * sql.c writes those rows to an Ion file as they come (STORE: memory stays
 * one row), or collects them for the outputs with the tags taken off
 * (FETCH, FETCH_ONE), so every database maps types the same way.
 *
 * Connections are pooled per (driver, url, user, password) in sql.c: a task
 * takes one, runs, and gives it back (closed instead when it failed in a way
 * that leaves it unusable). Drivers are called from worker threads, one
 * connection by one thread at a time.
 */
#ifndef KITE_TASKS_SQL_INT_H
#define KITE_TASKS_SQL_INT_H

#include "tasks/tasks_int.h"
#include "util/json.h"

#include <jansson.h>
#include <stdint.h>

typedef struct sql_conn sql_conn;   /* each driver defines its own */

/* A parsed JDBC-style url (jdbc:postgresql://host:5432/db?sslmode=require). */
typedef struct sql_url {
    const struct sql_driver *drv;
    char *host;        /* NULL for file databases */
    int port;          /* 0: the driver's default */
    char *db;          /* database name, or the file of sqlite/duckdb (NULL: memory) */
    json_t *opts;      /* the query string's options, object of strings (user/password removed) */
    char *user;
    char *password;
    char *target;      /* what messages name: "postgresql://127.0.0.1:5432/db", no credentials */
} sql_url;

/* A row (borrowed, TAGGED form): 0 to go on, -1 to fail (e set). */
typedef int (*sql_row_fn)(void *ud, json_t *row, kerr *e);
/* 1 when the task must stop (killed, or past its timeout): a driver that can
 * cancel a running statement asks it at least every 100 ms. */
typedef int (*sql_stop_fn)(void *ud);

typedef struct sql_driver {
    const char *name;            /* "postgresql", "mysql", "sqlite", "duckdb" */
    char placeholder;            /* '$' for $1, $2 (PostgreSQL); '?' otherwise */
    /* NULL when the driver can run on this host, else why not (static). */
    const char *(*unavailable)(void);
    /* Opens a connection; tz is the time zone rows are given in. NULL with e
     * set ("connection refused", "password authentication failed ..."):
     * the message never holds the password. */
    sql_conn *(*connect)(const sql_url *u, const char *tz, int64_t timeout_us, kerr *e);
    void (*close)(sql_conn *c);
    /* 1 when a pooled connection can be used again. */
    int (*alive)(sql_conn *c);
    /*
     * Runs one statement with params (a JSON array, bound by position, never
     * pasted into the text); rows go to fn as they come. *has_rows is 1 when
     * the statement returns a result set (a SELECT, even with no row).
     * *affected: rows changed, -1 when unknown. 0, or -1 with e set (the
     * server's message, with its position when it gives one).
     */
    int (*exec)(sql_conn *c, const char *sql, const json_t *params, sql_row_fn fn,
                sql_stop_fn stop, void *ud, int *has_rows, int64_t *affected, kerr *e);
    /* Optional: loads a file into a table with COPY ... FROM STDIN (CopyIn). */
    int (*copy_in)(sql_conn *c, const char *sql, FILE *in, int64_t *rows, kerr *e);
    /* Optional: the one file LOAD DATA LOCAL may read from now on (NULL: none). */
    void (*set_infile)(sql_conn *c, FILE *in);
    /* Optional: writes a COPY ... TO STDOUT to out. */
    int (*copy_out)(sql_conn *c, const char *sql, FILE *out, int64_t *rows, kerr *e);
} sql_driver;

extern const sql_driver sql__pg, sql__mysql, sql__sqlite, sql__duckdb;

/* ---- what the drivers share (sql.c) ---- */

/* The offset of wall time y-m-d h:m:s in zone tz, in minutes east of UTC
 * (UTC for an unknown zone). */
int sql__zone_offset(const char *tz, int y, int mo, int d, int h, int mi, int s);
/* A date-time text "YYYY-MM-DD[ T]hh:mm:ss[.ffffff]" taken as wall time in tz:
 * a TAGGED timestamp with the zone's offset, or a string when it does not
 * parse. */
json_t *sql__local_timestamp(const char *text, const char *tz);
/* A number's text as a TAGGED decimal. */
json_t *sql__decimal(const char *text);
/* Bytes as a TAGGED blob. */
json_t *sql__blob(const void *p, size_t n);
/* Replaces every occurrence of secret (when at least 3 bytes) in e's message
 * with "****". */
void sql__scrub(kerr *e, const char *secret);

/* Parses a JDBC url for driver d (user and password, when not NULL, win over
 * the url's); 0, or -1 with e naming property 'url'. sql__url_free frees
 * what it holds. */
int sql__url_parse(const char *url, const sql_driver *d, const char *user, const char *password,
                   sql_url *u /* OUT */, kerr *e);
void sql__url_free(sql_url *u);
/* The SQL with each :name (outside quotes, comments and :: casts) replaced
 * by the driver's placeholder ph ('?' or '$' for $1, $2...), the values
 * appended to args in order; NULL with e set when params lacks a name.
 * params NULL: the SQL unchanged. The caller frees. */
char *sql__bind_names(const char *sql, const json_t *params, char ph, json_t *args, kerr *e);
/* The statements of sql split on ';' outside quotes, comments and $tag$
 * bodies, trimmed, empty ones dropped: a new JSON array of strings. */
json_t *sql__split_statements(const char *sql);

/* The task runs the family files point their hooks at (sql.c). */
task_result sql__run_query(task_ctx *c, const sql_driver *d, kerr *e);
task_result sql__run_queries(task_ctx *c, const sql_driver *d, kerr *e);
task_result sql__run_copy_in(task_ctx *c, const sql_driver *d, kerr *e);
task_result sql__run_copy_out(task_ctx *c, const sql_driver *d, kerr *e);
/* The Trigger's poll (task_hooks.poll): the query and afterSQL in one
 * transaction, fire() when the query returned rows, then the COMMIT. */
int sql__poll(task_ctx *c, const sql_driver *d, task_fire_fn fire, kerr *e);
/* Validation: a warning when the driver cannot run on this host. */
void sql__check_available(vctx *v, const json_t *obj, const char *path, const sql_driver *d);

#endif
