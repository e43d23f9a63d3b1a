/*
 * fs.h: small file-system helpers shared by the CLI, the flow loader and
 * the engine.
 */
#ifndef KITE_UTIL_FS_H
#define KITE_UTIL_FS_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Reads the whole file at path into out (appending; out's own cap, if any,
 * is replaced by max). A file over max bytes is an error saying so; max 0
 * means no cap. Returns 0, or -1 with e set ("path: No such file..."). */
int fs_read_file(const char *path, size_t max, buf *out, kerr *e);
/* mkdir -p with mode 0700 for what it creates. Returns 0, or -1 with e set. */
int fs_mkdir_p(const char *path, kerr *e);

#endif
