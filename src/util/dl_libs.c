/*
 * dl_libs.c: the client libraries kite loads on first use (util/dl.h): one
 * line each, with the runtime soname and the Debian package that ships it.
 */
#include "util/dl_mariadb.h"
#include "util/dl_mongoc.h"
#include "util/dl_pq.h"

DL_DEFINE(mongoc, DL_MONGOC, "libmongoc-1.0.so.0", "MongoDB tasks", "libmongoc-1.0-0")
DL_DEFINE(pq, DL_PQ, "libpq.so.5", "PostgreSQL tasks", "libpq5")
DL_DEFINE(mariadb, DL_MARIADB, "libmariadb.so.3", "MySQL and MariaDB tasks", "libmariadb3")
