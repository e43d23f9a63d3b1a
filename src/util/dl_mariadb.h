/*
 * dl_mariadb.h: libmariadb (MySQL and MariaDB tasks), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_mariadb_load() first.
 */
#ifndef KITE_UTIL_DL_MARIADB_H
#define KITE_UTIL_DL_MARIADB_H

#include <mysql.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_MARIADB(X) \
    X(mysql_affected_rows) \
    X(mysql_close) \
    X(mysql_errno) \
    X(mysql_error) \
    X(mysql_fetch_fields) \
    X(mysql_fetch_lengths) \
    X(mysql_fetch_row) \
    X(mysql_field_count) \
    X(mysql_free_result) \
    X(mysql_init) \
    X(mysql_next_result) \
    X(mysql_num_fields) \
    X(mysql_options) \
    X(mysql_ping) \
    X(mysql_query) \
    X(mysql_real_connect) \
    X(mysql_real_query) \
    X(mysql_set_local_infile_handler) \
    X(mysql_stmt_affected_rows) \
    X(mysql_stmt_bind_param) \
    X(mysql_stmt_bind_result) \
    X(mysql_stmt_close) \
    X(mysql_stmt_error) \
    X(mysql_stmt_execute) \
    X(mysql_stmt_fetch) \
    X(mysql_stmt_fetch_column) \
    X(mysql_stmt_init) \
    X(mysql_stmt_param_count) \
    X(mysql_stmt_prepare) \
    X(mysql_stmt_result_metadata) \
    X(mysql_use_result)

struct dl_mariadb {
    DL_MARIADB(DL_SLOT)
};
extern struct dl_mariadb dl_mariadb;

/* Each call goes through the table. */
#define mysql_affected_rows (dl_mariadb.mysql_affected_rows)
#define mysql_close (dl_mariadb.mysql_close)
#define mysql_errno (dl_mariadb.mysql_errno)
#define mysql_error (dl_mariadb.mysql_error)
#define mysql_fetch_fields (dl_mariadb.mysql_fetch_fields)
#define mysql_fetch_lengths (dl_mariadb.mysql_fetch_lengths)
#define mysql_fetch_row (dl_mariadb.mysql_fetch_row)
#define mysql_field_count (dl_mariadb.mysql_field_count)
#define mysql_free_result (dl_mariadb.mysql_free_result)
#define mysql_init (dl_mariadb.mysql_init)
#define mysql_next_result (dl_mariadb.mysql_next_result)
#define mysql_num_fields (dl_mariadb.mysql_num_fields)
#define mysql_options (dl_mariadb.mysql_options)
#define mysql_ping (dl_mariadb.mysql_ping)
#define mysql_query (dl_mariadb.mysql_query)
#define mysql_real_connect (dl_mariadb.mysql_real_connect)
#define mysql_real_query (dl_mariadb.mysql_real_query)
#define mysql_set_local_infile_handler (dl_mariadb.mysql_set_local_infile_handler)
#define mysql_stmt_affected_rows (dl_mariadb.mysql_stmt_affected_rows)
#define mysql_stmt_bind_param (dl_mariadb.mysql_stmt_bind_param)
#define mysql_stmt_bind_result (dl_mariadb.mysql_stmt_bind_result)
#define mysql_stmt_close (dl_mariadb.mysql_stmt_close)
#define mysql_stmt_error (dl_mariadb.mysql_stmt_error)
#define mysql_stmt_execute (dl_mariadb.mysql_stmt_execute)
#define mysql_stmt_fetch (dl_mariadb.mysql_stmt_fetch)
#define mysql_stmt_fetch_column (dl_mariadb.mysql_stmt_fetch_column)
#define mysql_stmt_init (dl_mariadb.mysql_stmt_init)
#define mysql_stmt_param_count (dl_mariadb.mysql_stmt_param_count)
#define mysql_stmt_prepare (dl_mariadb.mysql_stmt_prepare)
#define mysql_stmt_result_metadata (dl_mariadb.mysql_stmt_result_metadata)
#define mysql_use_result (dl_mariadb.mysql_use_result)

#endif
