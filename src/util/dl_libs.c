/*
 * dl_libs.c: the client libraries kite loads on first use (util/dl.h): one
 * line each, with the runtime soname and the Debian package that ships it.
 */
#include "util/dl_archive.h"
#include "util/dl_avro.h"
#include "util/dl_curl.h"
#include "util/dl_git2.h"
#include "util/dl_mariadb.h"
#include "util/dl_mongoc.h"
#include "util/dl_pq.h"
#include "util/dl_ssh.h"

DL_DEFINE(mongoc, DL_MONGOC, "libmongoc-1.0.so.0", "MongoDB tasks", "libmongoc-1.0-0")
DL_DEFINE(pq, DL_PQ, "libpq.so.5", "PostgreSQL tasks", "libpq5")
DL_DEFINE(mariadb, DL_MARIADB, "libmariadb.so.3", "MySQL and MariaDB tasks", "libmariadb3")
DL_DEFINE(git2, DL_GIT2, "libgit2.so.1.5", "Git tasks", "libgit2-1.5")
DL_DEFINE(ssh, DL_SSH, "libssh.so.4", "SSH, SFTP and Git tasks", "libssh-4")
DL_DEFINE(avro, DL_AVRO, "libavro.so.23", "Avro tasks", "libavro23")
DL_DEFINE(curl, DL_CURL, "libcurl.so.4", "HTTP requests", "libcurl4")
DL_DEFINE(archive, DL_ARCHIVE, "libarchive.so.13", "archive tasks", "libarchive13")
