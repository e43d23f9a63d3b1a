/*
 * dl_libs.c: the client libraries kite loads on first use (util/dl.h): one
 * line each, with the runtime soname and the Debian package that ships it.
 */
#include "util/dl_mongoc.h"

DL_DEFINE(mongoc, DL_MONGOC, "libmongoc-1.0.so.0", "MongoDB tasks", "libmongoc-1.0-0")
