/*
 * dl_archive.h: libarchive (ArchiveDecompress, ArchiveCompress), loaded on first use
 * (util/dl.h). Include it instead of the library's headers; call
 * dl_archive_load() first.
 */
#ifndef KITE_UTIL_DL_ARCHIVE_H
#define KITE_UTIL_DL_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_ARCHIVE(X) \
    X(archive_entry_filetype) \
    X(archive_entry_free) \
    X(archive_entry_hardlink) \
    X(archive_entry_new) \
    X(archive_entry_pathname) \
    X(archive_entry_set_filetype) \
    X(archive_entry_set_mtime) \
    X(archive_entry_set_pathname) \
    X(archive_entry_set_perm) \
    X(archive_entry_set_size) \
    X(archive_error_string) \
    X(archive_read_data_block) \
    X(archive_read_free) \
    X(archive_read_new) \
    X(archive_read_next_header) \
    X(archive_read_open_fd) \
    X(archive_read_support_filter_bzip2) \
    X(archive_read_support_filter_compress) \
    X(archive_read_support_filter_gzip) \
    X(archive_read_support_filter_lz4) \
    X(archive_read_support_filter_lzma) \
    X(archive_read_support_filter_none) \
    X(archive_read_support_filter_xz) \
    X(archive_read_support_filter_zstd) \
    X(archive_read_support_format_7zip) \
    X(archive_read_support_format_ar) \
    X(archive_read_support_format_cpio) \
    X(archive_read_support_format_tar) \
    X(archive_read_support_format_zip) \
    X(archive_write_add_filter_bzip2) \
    X(archive_write_add_filter_compress) \
    X(archive_write_add_filter_gzip) \
    X(archive_write_add_filter_lz4) \
    X(archive_write_add_filter_lzma) \
    X(archive_write_add_filter_xz) \
    X(archive_write_add_filter_zstd) \
    X(archive_write_close) \
    X(archive_write_data) \
    X(archive_write_free) \
    X(archive_write_header) \
    X(archive_write_new) \
    X(archive_write_open_fd) \
    X(archive_write_set_format_7zip) \
    X(archive_write_set_format_ar_svr4) \
    X(archive_write_set_format_cpio_newc) \
    X(archive_write_set_format_pax_restricted) \
    X(archive_write_set_format_zip)


struct dl_archive {
    DL_ARCHIVE(DL_SLOT)
};
extern struct dl_archive dl_archive;

/* Each call goes through the table. */
#define archive_entry_filetype (dl_archive.archive_entry_filetype)
#define archive_entry_free (dl_archive.archive_entry_free)
#define archive_entry_hardlink (dl_archive.archive_entry_hardlink)
#define archive_entry_new (dl_archive.archive_entry_new)
#define archive_entry_pathname (dl_archive.archive_entry_pathname)
#define archive_entry_set_filetype (dl_archive.archive_entry_set_filetype)
#define archive_entry_set_mtime (dl_archive.archive_entry_set_mtime)
#define archive_entry_set_pathname (dl_archive.archive_entry_set_pathname)
#define archive_entry_set_perm (dl_archive.archive_entry_set_perm)
#define archive_entry_set_size (dl_archive.archive_entry_set_size)
#define archive_error_string (dl_archive.archive_error_string)
#define archive_read_data_block (dl_archive.archive_read_data_block)
#define archive_read_free (dl_archive.archive_read_free)
#define archive_read_new (dl_archive.archive_read_new)
#define archive_read_next_header (dl_archive.archive_read_next_header)
#define archive_read_open_fd (dl_archive.archive_read_open_fd)
#define archive_read_support_filter_bzip2 (dl_archive.archive_read_support_filter_bzip2)
#define archive_read_support_filter_compress (dl_archive.archive_read_support_filter_compress)
#define archive_read_support_filter_gzip (dl_archive.archive_read_support_filter_gzip)
#define archive_read_support_filter_lz4 (dl_archive.archive_read_support_filter_lz4)
#define archive_read_support_filter_lzma (dl_archive.archive_read_support_filter_lzma)
#define archive_read_support_filter_none (dl_archive.archive_read_support_filter_none)
#define archive_read_support_filter_xz (dl_archive.archive_read_support_filter_xz)
#define archive_read_support_filter_zstd (dl_archive.archive_read_support_filter_zstd)
#define archive_read_support_format_7zip (dl_archive.archive_read_support_format_7zip)
#define archive_read_support_format_ar (dl_archive.archive_read_support_format_ar)
#define archive_read_support_format_cpio (dl_archive.archive_read_support_format_cpio)
#define archive_read_support_format_tar (dl_archive.archive_read_support_format_tar)
#define archive_read_support_format_zip (dl_archive.archive_read_support_format_zip)
#define archive_write_add_filter_bzip2 (dl_archive.archive_write_add_filter_bzip2)
#define archive_write_add_filter_compress (dl_archive.archive_write_add_filter_compress)
#define archive_write_add_filter_gzip (dl_archive.archive_write_add_filter_gzip)
#define archive_write_add_filter_lz4 (dl_archive.archive_write_add_filter_lz4)
#define archive_write_add_filter_lzma (dl_archive.archive_write_add_filter_lzma)
#define archive_write_add_filter_xz (dl_archive.archive_write_add_filter_xz)
#define archive_write_add_filter_zstd (dl_archive.archive_write_add_filter_zstd)
#define archive_write_close (dl_archive.archive_write_close)
#define archive_write_data (dl_archive.archive_write_data)
#define archive_write_free (dl_archive.archive_write_free)
#define archive_write_header (dl_archive.archive_write_header)
#define archive_write_new (dl_archive.archive_write_new)
#define archive_write_open_fd (dl_archive.archive_write_open_fd)
#define archive_write_set_format_7zip (dl_archive.archive_write_set_format_7zip)
#define archive_write_set_format_ar_svr4 (dl_archive.archive_write_set_format_ar_svr4)
#define archive_write_set_format_cpio_newc (dl_archive.archive_write_set_format_cpio_newc)
#define archive_write_set_format_pax_restricted (dl_archive.archive_write_set_format_pax_restricted)
#define archive_write_set_format_zip (dl_archive.archive_write_set_format_zip)

#endif
