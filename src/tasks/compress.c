/*
 * compress.c: the compress family: io.kestra.plugin.compress.ArchiveDecompress
 * (compress.archive_decompress) and ArchiveCompress (compress.archive_compress,
 * each file streamed from storage into a temporary archive), on libarchive, loaded on first use
 * (util/dl_archive.h): a kite command that does not unpack an archive never
 * maps it.
 *
 * libarchive parses; kite only chooses which readers it enables (the
 * `algorithm` and `compression` properties, nothing else: a TAR flow given a
 * zip file fails rather than guessing) and decides what of each entry lands
 * in internal storage:
 *   - a regular file is streamed, one libarchive block at a time, into a
 *     temporary file under c->tmp_root and then stored among the task run's
 *     files under its path in the archive (output `files`: path -> URI);
 *   - directories are skipped (their files carry their paths);
 *   - symlinks, hardlinks, devices, FIFOs and sockets are skipped with a
 *     warning in the task's log (they name other files, or nothing);
 *   - a path that is absolute or has a ".." part fails the task: an archive
 *     made to write outside its folder is not one to half-unpack.
 * Limits against archive bombs: at most ARCHIVE_MAX_ENTRIES entries and
 * ARCHIVE_MAX_BYTES bytes unpacked in all ($KITE_ARCHIVE_MAX_ENTRIES,
 * $KITE_ARCHIVE_MAX_BYTES override them); past either the task fails with
 * the limit in its message, and what it had stored stays with the task run
 * (removed with the execution's files, like any failed task's files).
 */
#include "tasks/tasks_int.h"

#include "util/dl_archive.h"
#include "util/mem.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARCHIVE_MAX_ENTRIES 100000                  /* entries of one archive */
#define ARCHIVE_MAX_BYTES (4LL * 1024 * 1024 * 1024) /* unpacked bytes, in all */

/* A limit: the environment's override when it is a positive number. */
static int64_t env_limit(const char *name, int64_t dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return (errno || *end || v <= 0) ? dflt : (int64_t)v;
}

/* Enables the reader of `algorithm` on a. 0, or -1 with e naming the property. */
static int enable_format(struct archive *a, const char *alg, kerr *e)
{
    int rc;
    if (!strcmp(alg, "TAR"))
        rc = archive_read_support_format_tar(a);
    else if (!strcmp(alg, "ZIP") || !strcmp(alg, "JAR"))
        rc = archive_read_support_format_zip(a);
    else if (!strcmp(alg, "CPIO"))
        rc = archive_read_support_format_cpio(a);
    else if (!strcmp(alg, "SEVEN_Z"))
        rc = archive_read_support_format_7zip(a);
    else if (!strcmp(alg, "AR"))
        rc = archive_read_support_format_ar(a);
    else if (!strcmp(alg, "ARJ") || !strcmp(alg, "DUMP"))
        return kerr_setc(e, KERR_INVALID,
                         "property 'algorithm': %s archives are not read by kite (libarchive has no "
                         "%s reader); kite reads AR, CPIO, JAR, SEVEN_Z, TAR and ZIP", alg, alg);
    else
        return kerr_setc(e, KERR_INVALID,
                         "property 'algorithm': unknown algorithm '%s' (AR, CPIO, JAR, SEVEN_Z, TAR, ZIP)", alg);
    if (rc < ARCHIVE_WARN)
        return kerr_set(e, "property 'algorithm': %s: %s", alg, archive_error_string(a));
    return 0;
}

/* Enables the decompressor of `compression` (NULL: none) on a. */
static int enable_filter(struct archive *a, const char *comp, kerr *e)
{
    int rc;
    if (!comp || !*comp)
        rc = archive_read_support_filter_none(a);
    else if (!strcmp(comp, "GZIP"))
        rc = archive_read_support_filter_gzip(a);
    else if (!strcmp(comp, "BZIP2"))
        rc = archive_read_support_filter_bzip2(a);
    else if (!strcmp(comp, "XZ"))
        rc = archive_read_support_filter_xz(a);
    else if (!strcmp(comp, "LZMA"))
        rc = archive_read_support_filter_lzma(a);
    else if (!strcmp(comp, "ZSTD"))
        rc = archive_read_support_filter_zstd(a);
    else if (!strcmp(comp, "LZ4FRAME"))
        rc = archive_read_support_filter_lz4(a);
    else if (!strcmp(comp, "Z"))
        rc = archive_read_support_filter_compress(a);
    else if (!strcmp(comp, "BROTLI") || !strcmp(comp, "DEFLATE") || !strcmp(comp, "DEFLATE64") ||
             !strcmp(comp, "LZ4BLOCK") || !strcmp(comp, "SNAPPY") || !strcmp(comp, "SNAPPYFRAME"))
        return kerr_setc(e, KERR_INVALID,
                         "property 'compression': %s is not read by kite (libarchive has no such "
                         "filter); kite reads BZIP2, GZIP, LZ4FRAME, LZMA, XZ, Z and ZSTD", comp);
    else
        return kerr_setc(e, KERR_INVALID, "property 'compression': unknown compression '%s'", comp);
    if (rc < ARCHIVE_WARN)
        return kerr_set(e, "property 'compression': %s: %s", comp, archive_error_string(a));
    return 0;
}

/* The entry's path made relative and checked: "./a/b" -> "a/b". NULL for a
 * path that is empty after "./" prefixes (the archive's root); -1 in *bad
 * for one that is absolute or climbs (".."). */
static const char *entry_path(const char *p, int *bad)
{
    *bad = 0;
    if (!p)
        return NULL;
    if (*p == '/') {
        *bad = 1;
        return NULL;
    }
    while (p[0] == '.' && p[1] == '/')
        for (p += 2; *p == '/'; p++)
            ;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            *bad = 1;
            return NULL;
        }
        s += n;
        while (*s == '/')
            s++;
    }
    return (*p && strcmp(p, ".")) ? p : NULL;
}

/* Streams the current entry's data into a new temporary file; *path names
 * it. *total counts the bytes of every entry so far, up to max. */
static int entry_to_tmp(task_ctx *c, struct archive *a, const char *name, char **path,
                        int64_t *total, int64_t max, kerr *e)
{
    FILE *f = tasks__tmp_file(c, path, e);
    if (!f)
        return -1;
    int rc = 0;
    for (;;) {
        const void *blk;
        size_t n;
        la_int64_t off;
        int r = archive_read_data_block(a, &blk, &n, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = kerr_set(e, "property 'from': entry '%s': %s", name, archive_error_string(a));
            break;
        }
        /* sparse entries give offsets past the written end: the hole is zeros */
        if (off < 0) {
            rc = kerr_set(e, "property 'from': entry '%s': bad offset", name);
            break;
        }
        off_t cur = ftello(f);
        int64_t grow = (int64_t)off + (int64_t)n - (cur > 0 ? cur : 0);
        if (grow > 0 && (*total += grow) > max) {
            rc = kerr_set(e, "property 'from': the archive unpacks to more than %" PRId64
                          " bytes (the limit; $KITE_ARCHIVE_MAX_BYTES sets it)", max);
            break;
        }
        if ((cur < 0 || off != cur) && fseeko(f, off, SEEK_SET)) {
            rc = kerr_set(e, "writing entry '%s' failed: %s", name, strerror(errno));
            break;
        }
        if (n && fwrite(blk, 1, n, f) != n) {
            rc = kerr_set(e, "writing entry '%s' failed: %s", name, strerror(errno ? errno : EIO));
            break;
        }
    }
    int bad = ferror(f);
    if (fclose(f) || bad) {
        if (!rc)
            rc = kerr_set(e, "writing entry '%s' failed: %s", name, strerror(errno ? errno : EIO));
    }
    if (rc) {
        unlink(*path);
        free(*path);
        *path = NULL;
    }
    return rc;
}

static const char *kind_of(unsigned type)
{
    switch (type) {
    case AE_IFLNK: return "symlink";
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "FIFO";
    case AE_IFSOCK: return "socket";
    default: return "special file";
    }
}

static task_result archive_decompress_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *alg = NULL, *comp = NULL;
    struct archive *a = NULL;
    json_t *files = json_object();
    int fd = -1;
    const char *why = dl_archive_load();
    if (why) {
        kerr_set(e, "%s", why);
        goto out;
    }
    if (task_prop_string(c, "from", NULL, &from, e) || task_prop_string(c, "algorithm", NULL, &alg, e) ||
        task_prop_string(c, "compression", NULL, &comp, e))
        goto out;
    if (!from || !*from) {
        kerr_setc(e, KERR_INVALID, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (!alg || !*alg) {
        kerr_setc(e, KERR_INVALID, "property 'algorithm' is required (AR, CPIO, JAR, SEVEN_Z, TAR, ZIP)");
        goto out;
    }
    a = archive_read_new();
    if (!a) {
        kerr_set(e, "libarchive: out of memory");
        goto out;
    }
    if (enable_format(a, alg, e) || enable_filter(a, comp, e))
        goto out;
    if ((fd = storage_open_fd(c->storage, from, e)) < 0) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
        kerr_set(e, "property 'from': not a%s %s archive%s%s: %s", strchr("AEIOU", alg[0]) ? "n" : "",
                 alg, comp ? " compressed with " : "", comp ? comp : "", archive_error_string(a));
        goto out;
    }
    int64_t max_bytes = env_limit("KITE_ARCHIVE_MAX_BYTES", ARCHIVE_MAX_BYTES);
    int64_t max_entries = env_limit("KITE_ARCHIVE_MAX_ENTRIES", ARCHIVE_MAX_ENTRIES);
    int64_t total = 0, entries = 0, skipped = 0;
    for (;;) {
        struct archive_entry *en;
        int r = archive_read_next_header(a, &en);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            kerr_set(e, "property 'from': %s archive%s%s: %s", alg, comp ? " compressed with " : "",
                     comp ? comp : "", archive_error_string(a));
            goto out;
        }
        if (++entries > max_entries) {
            kerr_set(e, "property 'from': the archive has more than %" PRId64
                     " entries (the limit; $KITE_ARCHIVE_MAX_ENTRIES sets it)", max_entries);
            goto out;
        }
        const char *raw = archive_entry_pathname(en);
        int bad;
        const char *name = entry_path(raw, &bad);
        if (bad) {
            kerr_setc(e, KERR_INVALID, "property 'from': entry '%s' has an absolute path or a '..' "
                      "part: refused (nothing is written outside the task's files)", raw);
            goto out;
        }
        unsigned type = archive_entry_filetype(en);
        if (type == AE_IFDIR || !name)
            continue;
        if (archive_entry_hardlink(en)) {
            task_log(c, LEVEL_WARN, "entry '%s' is a hardlink to '%s': skipped", name,
                     archive_entry_hardlink(en));
            skipped++;
            continue;
        }
        /* 0: no type bits (ar's deterministic mode "644"): a plain file */
        if (type != AE_IFREG && type != 0) {
            task_log(c, LEVEL_WARN, "entry '%s' is a %s: skipped", name, kind_of(type));
            skipped++;
            continue;
        }
        char *tmp = NULL, *uri = NULL;
        if (entry_to_tmp(c, a, name, &tmp, &total, max_bytes, e))
            goto out;
        int src = task_store_file(c, tmp, name, &uri, e);
        unlink(tmp);
        free(tmp);
        if (src) {
            kerr_prefix(e, "entry '%s'", name);
            goto out;
        }
        json_object_set_new(files, name, json_string(uri));
        free(uri);
    }
    task_log(c, LEVEL_DEBUG, "unpacked %zu files (%" PRId64 " bytes), skipped %" PRId64,
             json_object_size(files), total, skipped);
    task_output(c, "files", files);
    files = NULL;
    res = TASK_SUCCESS;
out:
    if (a)
        archive_read_free(a);
    if (fd >= 0)
        close(fd);
    json_decref(files);
    free(from);
    free(alg);
    free(comp);
    return res;
}

/* ---- ArchiveCompress ------------------------------------------------------ */

/* Sets the writer of `algorithm` on a; *ext its file extension. */
static int set_write_format(struct archive *a, const char *alg, const char **ext, kerr *e)
{
    int rc;
    if (!strcmp(alg, "TAR"))
        rc = archive_write_set_format_pax_restricted(a), *ext = ".tar";
    else if (!strcmp(alg, "ZIP"))
        rc = archive_write_set_format_zip(a), *ext = ".zip";
    else if (!strcmp(alg, "JAR"))
        rc = archive_write_set_format_zip(a), *ext = ".jar";
    else if (!strcmp(alg, "CPIO"))
        rc = archive_write_set_format_cpio_newc(a), *ext = ".cpio";
    else if (!strcmp(alg, "SEVEN_Z"))
        rc = archive_write_set_format_7zip(a), *ext = ".7z";
    else if (!strcmp(alg, "AR"))
        rc = archive_write_set_format_ar_svr4(a), *ext = ".a";
    else
        return kerr_setc(e, KERR_INVALID, "property 'algorithm': kite writes AR, CPIO, JAR, SEVEN_Z, TAR "
                         "and ZIP archives, not '%s'", alg);
    if (rc < ARCHIVE_WARN)
        return kerr_set(e, "property 'algorithm': %s: %s", alg, archive_error_string(a));
    return 0;
}

/* Adds the compressor of `compression` (NULL: none); *ext its extension. */
static int add_write_filter(struct archive *a, const char *comp, const char **ext, kerr *e)
{
    int rc;
    *ext = "";
    if (!comp || !*comp)
        return 0;
    if (!strcmp(comp, "GZIP"))
        rc = archive_write_add_filter_gzip(a), *ext = ".gz";
    else if (!strcmp(comp, "BZIP2"))
        rc = archive_write_add_filter_bzip2(a), *ext = ".bz2";
    else if (!strcmp(comp, "XZ"))
        rc = archive_write_add_filter_xz(a), *ext = ".xz";
    else if (!strcmp(comp, "LZMA"))
        rc = archive_write_add_filter_lzma(a), *ext = ".lzma";
    else if (!strcmp(comp, "ZSTD"))
        rc = archive_write_add_filter_zstd(a), *ext = ".zst";
    else if (!strcmp(comp, "LZ4FRAME"))
        rc = archive_write_add_filter_lz4(a), *ext = ".lz4";
    else if (!strcmp(comp, "Z"))
        rc = archive_write_add_filter_compress(a), *ext = ".Z";
    else
        return kerr_setc(e, KERR_INVALID, "property 'compression': %s is not written by kite; kite "
                         "writes BZIP2, GZIP, LZ4FRAME, LZMA, XZ, Z and ZSTD", comp);
    if (rc < ARCHIVE_WARN)
        return kerr_set(e, "property 'compression': %s: %s", comp, archive_error_string(a));
    return 0;
}

/* The `from` property: an object of names to URIs, or a string of one in JSON. */
static json_t *compress_from(task_ctx *c, kerr *e)
{
    json_t *v;
    if (task_prop(c, "from", &v, e))
        return NULL;
    if (json_is_string(v)) {
        json_t *parsed = json_loads(json_string_value(v), 0, NULL);
        json_decref(v);
        v = parsed;
    }
    if (!json_is_object(v) || !json_object_size(v)) {
        json_decref(v);
        kerr_setc(e, KERR_INVALID, "property 'from' is required: a map of file names to kestra:/// URIs");
        return NULL;
    }
    const char *k;
    json_t *u;
    json_object_foreach(v, k, u) {
        int bad;
        if (!json_is_string(u) || !entry_path(k, &bad) || bad) {
            kerr_setc(e, KERR_INVALID, json_is_string(u) ? "property 'from': name '%s' is empty, "
                      "absolute or has a '..' part" : "property 'from': '%s' is not a URI string", k);
            json_decref(v);
            return NULL;
        }
    }
    return v;
}

/* Writes the file at uri as entry name of a, streamed. */
static int add_entry(task_ctx *c, struct archive *a, const char *name, const char *uri, kerr *e)
{
    int fd = storage_open_fd(c->storage, uri, e);
    if (fd < 0) {
        kerr_prefix(e, "property 'from': '%s'", name);
        return -1;
    }
    struct stat st;
    struct archive_entry *en = archive_entry_new();
    int rc = 0;
    if (fstat(fd, &st)) {
        rc = kerr_set(e, "property 'from': '%s': %s", name, strerror(errno));
        goto out;
    }
    archive_entry_set_pathname(en, name);
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_size(en, st.st_size);
    archive_entry_set_mtime(en, st.st_mtime, 0);
    if (archive_write_header(a, en) < ARCHIVE_WARN) {
        rc = kerr_set(e, "writing entry '%s' failed: %s", name, archive_error_string(a));
        goto out;
    }
    char blk[64 * 1024];
    int64_t left = st.st_size;
    while (left > 0) {
        ssize_t n = read(fd, blk, sizeof blk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = kerr_set(e, "reading '%s' failed: %s", name, n ? strerror(errno) : "the file shrank");
            goto out;
        }
        if (n > left)
            n = (ssize_t)left;
        if (archive_write_data(a, blk, (size_t)n) < 0) {
            rc = kerr_set(e, "writing entry '%s' failed: %s", name, archive_error_string(a));
            goto out;
        }
        left -= n;
    }
out:
    archive_entry_free(en);
    close(fd);
    return rc;
}

static task_result archive_compress_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *alg = NULL, *comp = NULL, *tmp = NULL, *name = NULL, *uri = NULL;
    json_t *from = NULL;
    struct archive *a = NULL;
    FILE *tf = NULL;
    const char *why = dl_archive_load();
    if (why) {
        kerr_set(e, "%s", why);
        goto out;
    }
    if (!(from = compress_from(c, e)) || task_prop_string(c, "algorithm", NULL, &alg, e) ||
        task_prop_string(c, "compression", NULL, &comp, e))
        goto out;
    if (!alg || !*alg) {
        kerr_setc(e, KERR_INVALID, "property 'algorithm' is required (AR, CPIO, JAR, SEVEN_Z, TAR, ZIP)");
        goto out;
    }
    const char *ext = "", *cext = "";
    if (!(a = archive_write_new())) {
        kerr_set(e, "libarchive: out of memory");
        goto out;
    }
    if (set_write_format(a, alg, &ext, e) || add_write_filter(a, comp, &cext, e))
        goto out;
    if (!(tf = tasks__tmp_file(c, &tmp, e)))
        goto out;
    if (archive_write_open_fd(a, fileno(tf)) != ARCHIVE_OK) {
        kerr_set(e, "writing the archive failed: %s", archive_error_string(a));
        goto out;
    }
    const char *k;
    json_t *u;
    json_object_foreach(from, k, u) {
        int bad;
        if (add_entry(c, a, entry_path(k, &bad), json_string_value(u), e))
            goto out;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        kerr_set(e, "writing the archive failed: %s", archive_error_string(a));
        goto out;
    }
    if (fclose(tf)) {
        tf = NULL;
        kerr_set(e, "writing the archive failed: %s", strerror(errno));
        goto out;
    }
    tf = NULL;
    name = xasprintf("archive%s%s", ext, cext);
    if (task_store_file(c, tmp, name, &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    res = TASK_SUCCESS;
out:
    if (a)
        archive_write_free(a);
    if (tf)
        fclose(tf);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    json_decref(from);
    free(alg);
    free(comp);
    free(name);
    free(uri);
    return res;
}

static const struct task_hooks archive_decompress_hooks = {.run = archive_decompress_run};
static const struct task_hooks archive_compress_hooks = {.run = archive_compress_run};

#define ALGORITHMS ENUMS("AR", "ARJ", "CPIO", "DUMP", "JAR", "SEVEN_Z", "TAR", "ZIP")
#define COMPRESSIONS                                                                       \
    ENUMS("BROTLI", "BZIP2", "DEFLATE", "DEFLATE64", "GZIP", "LZ4BLOCK", "LZ4FRAME", "LZMA", \
          "SNAPPY", "SNAPPYFRAME", "XZ", "Z", "ZSTD")

const type_def tasks__compress[] = {
    {
        .name = "compress.archive_decompress",
        .hooks = &archive_decompress_hooks,
        .needs = dl_archive_load,
        .aliases = ALIASES("io.kestra.plugin.compress.ArchiveDecompress"),
        .desc = "Unpack an archive of internal storage (output `files`: path -> URI).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the archive"),
                       PENUM("algorithm", PF_REQUIRED, NULL, ALGORITHMS,
                             "the archive format (kite reads AR, CPIO, JAR, SEVEN_Z, TAR, ZIP)"),
                       PENUM("compression", 0, NULL, COMPRESSIONS,
                             "the archive's compression (kite reads BZIP2, GZIP, LZ4FRAME, LZMA, XZ, Z, ZSTD)")),
    },
    {
        .name = "compress.archive_compress",
        .hooks = &archive_compress_hooks,
        .needs = dl_archive_load,
        .aliases = ALIASES("io.kestra.plugin.compress.ArchiveCompress"),
        .desc = "Pack files of internal storage into an archive (output `uri`).",
        .props = PROPS(PANY("from", PF_REQUIRED, NULL,
                            "the files: a map of names in the archive to URIs (or a JSON string of one)"),
                       PENUM("algorithm", PF_REQUIRED, NULL, ALGORITHMS,
                             "the archive format (kite writes AR, CPIO, JAR, SEVEN_Z, TAR, ZIP)"),
                       PENUM("compression", 0, NULL, COMPRESSIONS,
                             "the archive's compression (kite writes BZIP2, GZIP, LZ4FRAME, LZMA, XZ, Z, ZSTD)")),
    },
};

const size_t tasks__compress_count = sizeof tasks__compress / sizeof tasks__compress[0];
