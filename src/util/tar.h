/*
 * tar.h: writing and reading tar archives (POSIX ustar with pax extended
 * headers), for the Docker runner: the Engine API takes and gives a
 * container's files as tar streams (PUT and GET /containers/{id}/archive).
 *
 * The writer emits what Docker's own Go reader (archive/tar) accepts:
 * ustar headers, a pax "path" record for names over 100 bytes, two zero
 * blocks at the end. The reader accepts ustar, pax (path, size) and GNU long
 * names ('L'), the formats Docker produces; it pulls entries one at a time
 * from a read function, so an archive of any size streams through a fixed
 * buffer. tar_extract writes the regular files and folders of an archive
 * under one folder and never outside it: names are checked segment by
 * segment ("..", absolute names refused) and every folder is opened with
 * O_NOFOLLOW relative to its parent, so neither a hostile name nor a
 * symbolic link already in the folder can lead a write elsewhere; links,
 * devices and fifos in the archive are skipped.
 *
 * Errors: -1 with e set, one line ("tar: entry 3: bad header checksum").
 */
#ifndef KITE_UTIL_TAR_H
#define KITE_UTIL_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* ---- writing ------------------------------------------------------------ */

typedef struct tar_writer tar_writer;

/* A writer appending to fd (which it does not close). */
tar_writer *tar_writer_new(int fd);
void tar_writer_free(tar_writer *w);

/* A folder entry; name is relative ("a/b"), no leading '/'. */
int tar_add_dir(tar_writer *w, const char *name, unsigned mode, kerr *e);
/* A regular file entry with the content of the file at path. */
int tar_add_file(tar_writer *w, const char *name, const char *path, unsigned mode, kerr *e);
/* dir and everything under it as name/...: folders (mode dir_mode), regular
 * files (their own mode); other kinds of files are left out. */
int tar_add_tree(tar_writer *w, const char *name, const char *dir, unsigned dir_mode, kerr *e);
/* The end of the archive (two zero blocks). */
int tar_finish(tar_writer *w, kerr *e);

/* ---- reading ------------------------------------------------------------ */

/* Reads up to n bytes into p; returns how many (0 at the end), -1 on error. */
typedef ssize_t (*tar_read_fn)(void *ud, void *p, size_t n);

typedef struct tar_reader tar_reader;

typedef struct tar_entry {
    char type;           /* '0' file, '5' folder, '2' symlink, '1' link, ... */
    const char *name;    /* as in the archive; borrowed until the next tar_next */
    uint64_t size;       /* bytes of data (files) */
    unsigned mode;
} tar_entry;

tar_reader *tar_reader_new(tar_read_fn in, void *ud);
void tar_reader_free(tar_reader *r);
/* The next entry: 1 and *out filled, 0 at the end of the archive, -1 with e
 * set. The data of the previous entry that was not read is skipped. */
int tar_next(tar_reader *r, tar_entry *out /* OUT */, kerr *e);
/* Reads the current entry's data: bytes read (0 at its end), -1 with e set. */
ssize_t tar_data(tar_reader *r, void *p, size_t n, kerr *e);

/* Extracts the archive read from fd into the folder dest (which exists),
 * dropping the first strip segments of each name (an entry left with no
 * name is skipped). Existing files are replaced. At most max_bytes of file
 * data (0: no cap) are written. Returns the number of files written, or -1
 * with e set. */
long tar_extract(int fd, const char *dest, int strip, uint64_t max_bytes, kerr *e);

#endif
