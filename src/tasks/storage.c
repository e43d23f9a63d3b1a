/*
 * storage.c: the internal-storage family: storage.write, storage.concat,
 * storage.split, storage.reverse, storage.delete, storage.size,
 * storage.purge_current_execution_files and the deprecated
 * storage.local_files (files in and out of a WorkingDirectory's folder),
 * storage.filter_items and storage.deduplicate_items. The type table is at
 * the end of the file.
 *
 * Every file a task makes lands among its task run's files
 * (kestra:///<ns>/<flow>/executions/<id>/tasks/<task>/<taskrun>/<name>), written
 * whole through the storage layer, so readers never see half a file. Concat
 * and Split stream through temporary files under c->tmp_root: a file of any
 * size goes through in constant memory (one line at a time for Split).
 *
 * Split reads lines as Java's readLine does for "\n" and "\r\n" endings and
 * writes each row followed by `separator`, as Kestra's StorageService does;
 * so splitting a file whose lines end with "\n" and concatenating the parts
 * gives the file back byte for byte.
 */
#include "tasks/tasks_int.h"

#include "expr/expr.h"
#include "util/ion.h"
#include "util/mem.h"
#include "util/proc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPLIT_PARTITIONS_MAX 256   /* each partition is an open file */
#define SPLIT_BUF (32 * 1024)      /* stdio buffer of each part: 8 MB at most */

/* A required string property naming a file of internal storage. */
static int prop_uri(task_ctx *c, const char *name, char **out, kerr *e)
{
    if (tasks__prop_text(c, name, NULL, out, e))
        return -1;
    if (!*out || !**out) {
        free(*out);
        *out = NULL;
        return kerr_set(e, "property '%s' is required (a kestra:/// URI)", name);
    }
    return 0;
}

/* Moves the finished temporary file tmp (closed) among the task run's files
 * as name, and unlinks it. */
static int store_tmp(task_ctx *c, const char *tmp, const char *name, char **uri, kerr *e)
{
    int rc = task_store_file(c, tmp, name, uri, e);
    unlink(tmp);
    return rc;
}

/* Closes f, reporting a write error that fclose or an earlier write saw. */
static int close_written(FILE *f, const char *what, kerr *e)
{
    int bad = ferror(f);
    if (fclose(f) || bad)
        return kerr_set(e, "writing %s failed: %s", what, strerror(errno ? errno : EIO));
    return 0;
}

/* ---- storage.write ---------------------------------------------------------- */

static task_result write_run(task_ctx *c, kerr *e)
{
    char *content = NULL, *ext = NULL, *name = NULL, *uri = NULL;
    task_result res = TASK_FAILED;
    /* no extension: ".tmp", the suffix of Kestra's temporary file */
    if (tasks__prop_text(c, "content", NULL, &content, e) ||
        tasks__prop_text(c, "extension", ".tmp", &ext, e))
        goto out;
    if (!content) {
        kerr_set(e, "property 'content' is required");
        goto out;
    }
    if (tasks__check_extension("extension", ext, e))
        goto out;
    name = xasprintf("write%s", ext);
    if (tasks__put_bytes(c, name, content, strlen(content), &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    res = TASK_SUCCESS;
out:
    free(content);
    free(ext);
    free(name);
    free(uri);
    return res;
}

/* ---- storage.concat ------------------------------------------------------- */

/* The `files` property as an array of URIs: a list, or a string holding a
 * JSON list (or one URI). New reference or NULL with e set. */
static json_t *concat_files(task_ctx *c, kerr *e)
{
    json_t *v;
    if (task_prop(c, "files", &v, e))
        return NULL;
    if (!v) {
        kerr_set(e, "property 'files' is required");
        return NULL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        json_error_t je;
        json_t *parsed = json_loads(s, JSON_DECODE_ANY, &je);
        if (json_is_array(parsed)) {
            json_decref(v);
            v = parsed;
        } else {
            json_decref(parsed);
            if (strncmp(s, "kite://", 7) && strncmp(s, "kestra://", 9)) {
                kerr_set(e, "property 'files': '%.80s' is neither a list of URIs nor a JSON "
                            "string of one", s);
                json_decref(v);
                return NULL;
            }
            json_t *a = json_array();
            json_array_append_new(a, v);
            v = a;
        }
    }
    if (!json_is_array(v)) {
        kerr_set(e, "property 'files' must be a list of URIs");
        json_decref(v);
        return NULL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            kerr_set(e, "property 'files': item %zu is not a URI string", i + 1);
            json_decref(v);
            return NULL;
        }
    }
    return v;
}

/* Appends the file at uri to out. */
static int copy_into(task_ctx *c, const char *uri, FILE *out, size_t idx, kerr *e)
{
    kerr se = KERR_INIT;
    FILE *in = storage_open_file(c->storage, uri, &se);
    if (!in)
        return kerr_set(e, "property 'files': item %zu: %s", idx, se.msg);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        if (fwrite(chunk, 1, n, out) != n) {
            rc = kerr_set(e, "writing the concatenation failed: %s", strerror(errno));
            break;
        }
    if (!rc && ferror(in))
        rc = kerr_set(e, "property 'files': item %zu: reading %s failed", idx, uri);
    fclose(in);
    return rc;
}

static task_result concat_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *sep = NULL, *ext = NULL, *tmp = NULL, *name = NULL, *uri = NULL;
    FILE *out = NULL;
    json_t *files = concat_files(c, e);
    if (!files)
        return TASK_FAILED;
    if (tasks__prop_text(c, "separator", NULL, &sep, e) ||
        tasks__prop_text(c, "extension", ".tmp", &ext, e) ||
        tasks__check_extension("extension", ext, e))
        goto out;
    out = tasks__tmp_file(c, &tmp, e);
    if (!out)
        goto out;
    size_t i;
    json_t *item;
    json_array_foreach(files, i, item) {
        if (task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
        if (copy_into(c, json_string_value(item), out, i + 1, e))
            goto out;
        /* Kestra writes the separator after every file, the last included */
        if (sep)
            fputs(sep, out);
    }
    FILE *f = out;
    out = NULL;
    if (close_written(f, "the concatenation", e))
        goto out;
    name = xasprintf("concat%s", ext);
    if (store_tmp(c, tmp, name, &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    res = TASK_SUCCESS;
out:
    if (out)
        fclose(out);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(sep);
    free(ext);
    free(name);
    free(uri);
    json_decref(files);
    return res;
}

/* ---- storage.split -------------------------------------------------------- */

/* Reads a size: a number of bytes, or a number followed by B, KB, MB, GB or
 * TB (powers of 1024, any case, as Micronaut reads "10MB"). */
static int parse_size(const char *prop, const char *s, int64_t *out, kerr *e)
{
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return kerr_set(e, "property '%s': '%s' is not a size such as 10MB", prop, s);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(p, &end, 10);
    if (errno)
        return kerr_set(e, "property '%s': '%s' is too large", prop, s);
    while (isspace((unsigned char)*end))
        end++;
    unsigned long long mul = 1;
    if (!*end || !strcasecmp(end, "B"))
        mul = 1;
    else if (!strcasecmp(end, "KB"))
        mul = 1ULL << 10;
    else if (!strcasecmp(end, "MB"))
        mul = 1ULL << 20;
    else if (!strcasecmp(end, "GB"))
        mul = 1ULL << 30;
    else if (!strcasecmp(end, "TB"))
        mul = 1ULL << 40;
    else
        return kerr_set(e, "property '%s': unknown unit '%s' in '%s' (B, KB, MB, GB, TB)", prop,
                        end, s);
    if (n == 0)
        return kerr_set(e, "property '%s' must be more than 0 bytes", prop);
    if (n > (unsigned long long)INT64_MAX / mul)
        return kerr_set(e, "property '%s': '%s' is too large", prop, s);
    *out = (int64_t)(n * mul);
    return 0;
}

typedef struct part {
    FILE *f;
    char *path;
    int64_t bytes, rows;
    char *key;          /* regexPattern: the captured value routed here */
} part;

typedef struct splitter {
    task_ctx *c;
    part *v;
    size_t n, cap;
} splitter;

static part *split_new_part(splitter *sp, kerr *e)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 8;
        sp->v = xrealloc(sp->v, sp->cap * sizeof *sp->v);
    }
    part *p = &sp->v[sp->n];
    memset(p, 0, sizeof *p);
    p->f = tasks__tmp_file(sp->c, &p->path, e);
    if (!p->f)
        return NULL;
    setvbuf(p->f, NULL, _IOFBF, SPLIT_BUF);
    sp->n++;
    return p;
}

static void split_free(splitter *sp)
{
    for (size_t i = 0; i < sp->n; i++) {
        if (sp->v[i].f)
            fclose(sp->v[i].f);
        if (sp->v[i].path)
            unlink(sp->v[i].path);
        free(sp->v[i].path);
        free(sp->v[i].key);
    }
    free(sp->v);
}

/* The extension of the source file's name ("" + ".tmp" when it has none), as
 * Kestra names the parts. */
static char *split_extension(const char *uri)
{
    const char *slash = strrchr(uri, '/');
    const char *name = slash ? slash + 1 : uri;
    const char *dot = strrchr(name, '.');
    if (!dot || strlen(dot) > 64)
        return xstrdup(".tmp");
    return xstrdup(dot);
}

typedef enum split_mode { SPLIT_BYTES, SPLIT_ROWS, SPLIT_PARTITIONS, SPLIT_REGEX } split_mode;

/* Compiles the regexPattern property; NULL with e set. */
static pcre2_code *split_compile(const char *pat, kerr *e)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off,
                                   NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        kerr_set(e, "property 'regexPattern': %s at offset %zu", (const char *)msg, (size_t)off);
    }
    return re;
}

/* The part of the lines whose first capture group is key[0..klen), made on
 * first sight (parts keep the order in which their keys first appear). */
static part *split_route(splitter *sp, const char *key, size_t klen, kerr *e)
{
    for (size_t i = 0; i < sp->n; i++)
        if (strlen(sp->v[i].key) == klen && !memcmp(sp->v[i].key, key, klen))
            return &sp->v[i];
    if (sp->n >= SPLIT_PARTITIONS_MAX) {
        kerr_set(e, "property 'regexPattern': more than %d distinct captured values",
                 SPLIT_PARTITIONS_MAX);
        return NULL;
    }
    part *p = split_new_part(sp, e);
    if (p)
        p->key = xstrndup(key, klen);
    return p;
}

static task_result split_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *bytes_s = NULL, *sep = NULL, *ext = NULL, *line = NULL, *pat = NULL;
    FILE *in = NULL;
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    int64_t limit = 0, rows = 0, partitions = 0;
    splitter sp = {.c = c};
    json_t *uris = NULL;

    if (prop_uri(c, "from", &from, e) || tasks__prop_text(c, "bytes", NULL, &bytes_s, e) ||
        task_prop_int(c, "rows", 0, &rows, e) ||
        task_prop_int(c, "partitions", 0, &partitions, e) ||
        tasks__prop_text(c, "regexPattern", NULL, &pat, e) ||
        tasks__prop_text(c, "separator", "\n", &sep, e))
        goto out;
    int set = !!bytes_s + !!json_object_get(c->task, "rows") +
              !!json_object_get(c->task, "partitions") + !!pat;
    if (set != 1) {
        kerr_set(e, set ? "properties 'bytes', 'rows', 'partitions' and 'regexPattern': set "
                          "only one of them"
                        : "set one of the properties 'bytes', 'rows', 'partitions' or "
                          "'regexPattern'");
        goto out;
    }
    split_mode mode;
    if (pat) {
        mode = SPLIT_REGEX;
        re = split_compile(pat, e);
        if (!re)
            goto out;
        md = pcre2_match_data_create_from_pattern(re, NULL);
    } else if (bytes_s) {
        mode = SPLIT_BYTES;
        if (parse_size("bytes", bytes_s, &limit, e))
            goto out;
    } else if (json_object_get(c->task, "rows")) {
        mode = SPLIT_ROWS;
        if (rows < 1) {
            kerr_set(e, "property 'rows' must be at least 1");
            goto out;
        }
    } else {
        mode = SPLIT_PARTITIONS;
        if (partitions < 1 || partitions > SPLIT_PARTITIONS_MAX) {
            kerr_set(e, "property 'partitions' must be between 1 and %d", SPLIT_PARTITIONS_MAX);
            goto out;
        }
        for (int64_t i = 0; i < partitions; i++)
            if (!split_new_part(&sp, e))
                goto out;
    }

    kerr se = KERR_INIT;
    in = storage_open_file(c->storage, from, &se);
    if (!in) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    setvbuf(in, NULL, _IOFBF, 64 * 1024);
    size_t seplen = strlen(sep), cap = 0;
    ssize_t len;
    int64_t row = 0;
    part *cur = NULL;
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') {
            len--;
            if (len > 0 && line[len - 1] == '\r')
                len--;
        }
        int64_t add = (int64_t)len + (int64_t)seplen;
        if (mode == SPLIT_REGEX) {
            /* lines that do not match, or match without a group, are dropped */
            int m = pcre2_match(re, (PCRE2_SPTR)line, (size_t)len, 0, 0, md, NULL);
            if (m == PCRE2_ERROR_NOMATCH || (m >= 0 && pcre2_get_ovector_count(md) < 2))
                goto next;
            if (m < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(m, msg, sizeof msg);
                kerr_set(e, "property 'regexPattern': row %" PRId64 ": %s", row + 1,
                         (const char *)msg);
                goto out;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ks = 0, kl = 0; /* an unset group routes as "" */
            if (m >= 2 && ov[2] != PCRE2_UNSET) {
                ks = ov[2];
                kl = ov[3] - ov[2];
            }
            cur = split_route(&sp, line + ks, kl, e);
            if (!cur)
                goto out;
        } else if (mode == SPLIT_PARTITIONS) {
            cur = &sp.v[row % partitions];
        } else if (!cur || (mode == SPLIT_ROWS && cur->rows >= rows) ||
                   (mode == SPLIT_BYTES && cur->rows > 0 && cur->bytes + add > limit)) {
            /* a part holds at most `bytes` bytes, unless one row alone is
             * larger: then that row is a part of its own */
            if (cur) {
                FILE *f = cur->f;
                cur->f = NULL;
                if (close_written(f, "a part", e))
                    goto out;
            }
            cur = split_new_part(&sp, e);
            if (!cur)
                goto out;
        }
        /* one thread owns these streams: skip stdio's per-call locking */
        if (fwrite_unlocked(line, 1, (size_t)len, cur->f) != (size_t)len ||
            fwrite_unlocked(sep, 1, seplen, cur->f) != seplen) {
            kerr_set(e, "writing a part failed: %s", strerror(errno));
            goto out;
        }
        cur->bytes += add;
        cur->rows++;
    next:
        row++;
        if ((row & 0xfff) == 0 && task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    if (ferror(in)) {
        kerr_set(e, "property 'from': reading %s failed", from);
        goto out;
    }

    ext = split_extension(from);
    uris = json_array();
    size_t kept = 0;
    for (size_t i = 0; i < sp.n; i++) {
        part *p = &sp.v[i];
        if (p->f) {
            FILE *f = p->f;
            p->f = NULL;
            if (close_written(f, "a part", e))
                goto out;
        }
        if (p->rows == 0) /* an empty partition is dropped, as Kestra does */
            continue;
        char *name = xasprintf("split-%05zu%s", ++kept, ext);
        char *uri = NULL;
        int rc = store_tmp(c, p->path, name, &uri, e);
        free(name);
        if (rc)
            goto out;
        json_array_append_new(uris, json_string(uri));
        free(uri);
    }
    task_output(c, "uris", uris);
    uris = NULL;
    task_log(c, LEVEL_DEBUG, "split %" PRId64 " rows into %zu files", row, kept);
    res = TASK_SUCCESS;
out:
    if (in)
        fclose(in);
    split_free(&sp);
    json_decref(uris);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    free(pat);
    free(line);
    free(from);
    free(bytes_s);
    free(sep);
    free(ext);
    return res;
}

/* ---- storage.reverse ------------------------------------------------------ */

/* Writes the lines of the file at uri last first, each followed by sep.
 * Lines end at "\n", "\r\n" or "\r" (as Apache's ReversedLinesFileReader
 * reads them); a final line end does not make an empty last line. The file
 * is mapped, not read into memory. */
static task_result reverse_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *sep = NULL, *charset = NULL, *tmp = NULL, *ext = NULL, *name = NULL,
         *uri = NULL;
    FILE *out = NULL;
    int fd = -1;
    const char *d = MAP_FAILED;
    size_t size = 0;
    if (prop_uri(c, "from", &from, e) || tasks__prop_text(c, "separator", "\n", &sep, e) ||
        tasks__prop_text(c, "charset", "UTF-8", &charset, e))
        goto out;
    if (strcasecmp(charset, "UTF-8") && strcasecmp(charset, "UTF8") &&
        strcasecmp(charset, "US-ASCII")) {
        kerr_set(e, "property 'charset': '%s' is not supported (UTF-8 only)", charset);
        goto out;
    }
    kerr se = KERR_INIT;
    fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        kerr_set(e, "property 'from': %s: %s", from, strerror(errno));
        goto out;
    }
    size = (size_t)st.st_size;
    if (size) {
        d = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (d == MAP_FAILED) {
            kerr_set(e, "property 'from': cannot map %s: %s", from, strerror(errno));
            goto out;
        }
    }
    out = tasks__tmp_file(c, &tmp, e);
    if (!out)
        goto out;
    setvbuf(out, NULL, _IOFBF, 64 * 1024);
    size_t seplen = strlen(sep), end = size, rows = 0;
    if (end && d[end - 1] == '\n') {
        end--;
        if (end && d[end - 1] == '\r')
            end--;
    } else if (end && d[end - 1] == '\r') {
        end--;
    }
    while (size) {
        size_t start = end;
        while (start > 0 && d[start - 1] != '\n' && d[start - 1] != '\r')
            start--;
        if (fwrite_unlocked(d + start, 1, end - start, out) != end - start ||
            fwrite_unlocked(sep, 1, seplen, out) != seplen) {
            kerr_set(e, "writing the reversed file failed: %s", strerror(errno));
            goto out;
        }
        if (start == 0)
            break;
        end = start - 1; /* d[end] ends the line before */
        if (d[end] == '\n' && end > 0 && d[end - 1] == '\r')
            end--;
        if ((++rows & 0xfff) == 0 && task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    FILE *f = out;
    out = NULL;
    if (close_written(f, "the reversed file", e))
        goto out;
    ext = split_extension(from);
    name = xasprintf("reverse%s", ext);
    if (store_tmp(c, tmp, name, &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    res = TASK_SUCCESS;
out:
    if (d != MAP_FAILED)
        munmap((void *)d, size);
    if (fd >= 0)
        close(fd);
    if (out)
        fclose(out);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(from);
    free(sep);
    free(charset);
    free(ext);
    free(name);
    free(uri);
    return res;
}

/* ---- storage.filter_items, storage.deduplicate_items ---------------------------- */

/* One line of an ION file (Kestra's internal storage format: one Ion text
 * value per line, util/ion.h) as JSON; NULL when the line is not one value. */
static json_t *ion_line_value(const char *line, size_t len)
{
    ion_reader *r = ion_reader_new_mem(line, len, 0);
    json_t *v = NULL, *more = NULL;
    ion_type t;
    kerr e = KERR_INIT;
    if (ion_reader_next(r, &v, &t, &e) != 1 || ion_reader_next(r, &more, &t, &e) != 0) {
        json_decref(v);
        v = NULL;
    }
    json_decref(more);
    ion_reader_free(r);
    return v;
}

/* Renders tmpl (a template that is not rendered with the task: Kestra's
 * "non-dynamic") for one item: the item's fields are the variables, and a
 * value that is not a map is `value`. */
static int item_render(const expr_tmpl *t, const json_t *item, char **out, kerr *e)
{
    json_t *ctx = json_is_object(item) ? json_incref((json_t *)item) : json_pack("{s:O}", "value", item);
    int rc = expr_render(t, ctx, NULL, out, e);
    json_decref(ctx);
    return rc;
}

typedef struct item_pass {
    task_ctx *c;
    const char *what;     /* "filtered", "deduplicated" */
    FILE *in;
    char *line;
    size_t cap;
    int64_t row;
} item_pass;

/* The next line (without its end of line) in p->line, its length in *n;
 * 0 at the end. Empty lines are skipped. */
static int item_next(item_pass *p, size_t *n)
{
    for (;;) {
        ssize_t r = getline(&p->line, &p->cap, p->in);
        if (r < 0)
            return 0;
        p->row++;
        while (r > 0 && (p->line[r - 1] == '\n' || p->line[r - 1] == '\r'))
            r--;
        if (r == 0)
            continue;
        p->line[r] = 0;
        *n = (size_t)r;
        return 1;
    }
}

static int item_open(task_ctx *c, item_pass *p, const char *from, kerr *e)
{
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0)
        return kerr_set(e, "property 'from': %s", se.msg);
    p->in = fdopen(fd, "r");
    if (!p->in) {
        close(fd);
        return kerr_set(e, "property 'from': %s: %s", from, strerror(errno));
    }
    p->row = 0;
    return 0;
}

/* Keeps the items for which filterCondition is truthy (filterType
 * INCLUDE) or not (EXCLUDE); errorOrNullBehavior says what an item whose
 * condition fails or renders null does. Outputs uri, processedItemsTotal,
 * droppedItemsTotal, as Kestra. Lines are copied as they are. */
static task_result filter_items_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *ftype = NULL, *onerr = NULL, *tmp = NULL, *name = NULL, *uri = NULL, *ext = NULL;
    expr_tmpl *t = NULL;
    FILE *out = NULL;
    item_pass p = {.c = c};
    if (prop_uri(c, "from", &from, e) || tasks__prop_text(c, "filterType", "INCLUDE", &ftype, e) ||
        tasks__prop_text(c, "errorOrNullBehavior", "FAIL", &onerr, e))
        goto out;
    const json_t *cond = json_object_get(c->task, "filterCondition");
    if (!json_is_string(cond)) {
        kerr_set(e, "property 'filterCondition' is required");
        goto out;
    }
    int include = strcasecmp(ftype, "EXCLUDE") != 0;
    kerr ce = KERR_INIT;
    t = expr_compile(json_string_value(cond), &ce);
    if (!t) {
        kerr_set(e, "property 'filterCondition': %s", ce.msg);
        goto out;
    }
    if (item_open(c, &p, from, e))
        goto out;
    out = tasks__tmp_file(c, &tmp, e);
    if (!out)
        goto out;
    int64_t processed = 0, dropped = 0;
    size_t n;
    while (item_next(&p, &n)) {
        processed++;
        json_t *item = ion_line_value(p.line, n);
        char *r = NULL;
        kerr re = KERR_INIT;
        int keep;
        if (!item) {
            kerr_set(&re, "line %" PRId64 " is not an ION or JSON value", p.row);
        } else if (item_render(t, item, &r, &re) == 0 && strcmp(r, "null")) {
            keep = tasks__truthy(r) ? include : !include;
            goto decided;
        } else if (!re.msg[0]) {
            kerr_set(&re, "the condition rendered null");
        }
        if (!strcasecmp(onerr, "FAIL")) {
            kerr_set(e, "property 'filterCondition': item %" PRId64 ": %s", processed, re.msg);
            free(r);
            json_decref(item);
            goto out;
        }
        keep = !strcasecmp(onerr, "INCLUDE");
    decided:
        free(r);
        json_decref(item);
        if (keep) {
            fwrite_unlocked(p.line, 1, n, out);
            fputc_unlocked('\n', out);
        } else {
            dropped++;
        }
        if ((processed & 0xfff) == 0 && task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    FILE *f = out;
    out = NULL;
    if (close_written(f, "the filtered file", e))
        goto out;
    ext = split_extension(from);
    name = xasprintf("filter%s", ext);
    if (store_tmp(c, tmp, name, &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    task_output(c, "processedItemsTotal", json_integer(processed));
    task_output(c, "droppedItemsTotal", json_integer(dropped));
    task_log(c, LEVEL_DEBUG, "kept %" PRId64 " of %" PRId64 " items", processed - dropped, processed);
    res = TASK_SUCCESS;
out:
    if (out) {
        fclose(out);
        unlink(tmp);
    }
    if (p.in)
        fclose(p.in);
    free(p.line);
    expr_tmpl_free(t);
    free(from);
    free(ftype);
    free(onerr);
    free(tmp);
    free(name);
    free(uri);
    free(ext);
    return res;
}

/* Keeps, for each key (expr rendered per item), the last item with that key,
 * in the file's order: two passes, as Kestra (the first maps each key to
 * the row of its last item, the second copies those rows). Outputs uri,
 * numKeys, processedItemsTotal, droppedItemsTotal. */
static task_result deduplicate_items_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *from = NULL, *tmp = NULL, *name = NULL, *uri = NULL, *ext = NULL;
    expr_tmpl *t = NULL;
    FILE *out = NULL;
    json_t *last = json_object(); /* key -> row of its last item */
    unsigned char *keep = NULL;
    item_pass p = {.c = c};
    if (prop_uri(c, "from", &from, e))
        goto out;
    const json_t *ex = json_object_get(c->task, "expr");
    if (!json_is_string(ex)) {
        kerr_set(e, "property 'expr' is required");
        goto out;
    }
    kerr ce = KERR_INIT;
    t = expr_compile(json_string_value(ex), &ce);
    if (!t) {
        kerr_set(e, "property 'expr': %s", ce.msg);
        goto out;
    }
    if (item_open(c, &p, from, e))
        goto out;
    int64_t processed = 0;
    size_t n;
    while (item_next(&p, &n)) {
        json_t *item = ion_line_value(p.line, n);
        if (!item) {
            kerr_set(e, "property 'from': line %" PRId64 " is not an ION or JSON value", p.row);
            goto out;
        }
        char *k = NULL;
        kerr re = KERR_INIT;
        int rc = item_render(t, item, &k, &re);
        json_decref(item);
        if (rc) {
            kerr_set(e, "property 'expr': item %" PRId64 ": %s", processed + 1, re.msg);
            goto out;
        }
        json_object_set_new(last, k, json_integer(processed));
        free(k);
        processed++;
        if ((processed & 0xfff) == 0 && task_cancelled(c)) {
            res = TASK_KILLED;
            goto out;
        }
    }
    keep = xcalloc((size_t)processed + 1, 1);
    const char *key;
    json_t *rv;
    json_object_foreach(last, key, rv)
        keep[json_integer_value(rv)] = 1;
    fclose(p.in);
    p.in = NULL;
    if (item_open(c, &p, from, e))
        goto out;
    out = tasks__tmp_file(c, &tmp, e);
    if (!out)
        goto out;
    int64_t i = 0;
    while (item_next(&p, &n) && i < processed) {
        if (keep[i++]) {
            fwrite_unlocked(p.line, 1, n, out);
            fputc_unlocked('\n', out);
        }
    }
    FILE *f = out;
    out = NULL;
    if (close_written(f, "the deduplicated file", e))
        goto out;
    ext = split_extension(from);
    name = xasprintf("deduplicate%s", ext);
    if (store_tmp(c, tmp, name, &uri, e))
        goto out;
    int64_t keys = (int64_t)json_object_size(last);
    task_output(c, "uri", json_string(uri));
    task_output(c, "numKeys", json_integer(keys));
    task_output(c, "processedItemsTotal", json_integer(processed));
    task_output(c, "droppedItemsTotal", json_integer(processed - keys));
    res = TASK_SUCCESS;
out:
    if (out) {
        fclose(out);
        unlink(tmp);
    }
    if (p.in)
        fclose(p.in);
    free(p.line);
    free(keep);
    json_decref(last);
    expr_tmpl_free(t);
    free(from);
    free(tmp);
    free(name);
    free(uri);
    free(ext);
    return res;
}

/* ---- storage.purge_current_execution_files --------------------------------- */

/* Deletes every file of the current execution; output `uris`: what was
 * deleted. */
static task_result purge_run(task_ctx *c, kerr *e)
{
    char *prefix = storage_uri_execution(c->namespace, c->flow_id, c->execution_id, e);
    if (!prefix)
        return TASK_FAILED;
    task_result res = TASK_FAILED;
    storage_entry *v = NULL;
    size_t n = 0;
    kerr se = KERR_INIT;
    if (storage_list(c->storage, prefix, &v, &n, &se)) {
        kerr_set(e, "listing the execution's files: %s", se.msg);
        goto out;
    }
    if (storage_delete_prefix(c->storage, prefix, &se) < 0) {
        kerr_set(e, "deleting the execution's files: %s", se.msg);
        goto out;
    }
    json_t *uris = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(uris, json_string(v[i].uri));
    task_output(c, "uris", uris);
    res = TASK_SUCCESS;
out:
    storage_entries_free(v, n);
    free(prefix);
    return res;
}

/* ---- storage.local_files ---------------------------------------------------- */

#define LOCAL_FILES_MAX 10000   /* files a pattern may send to storage */

/* Checks a relative path given by the flow: segments that are not empty,
 * "." nor "..", no leading '/'. */
static int check_rel_path(const char *what, const char *path, kerr *e)
{
    if (!*path || *path == '/')
        return kerr_set(e, "%s: '%s' must be a relative path", what, path);
    if (strlen(path) > 1024)
        return kerr_set(e, "%s: a path longer than 1024 bytes", what);
    for (const char *p = path; *p;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return kerr_set(e, "%s: '%s' may not hold empty, '.' or '..' segments", what, path);
        p += n + (q ? 1 : 0);
        if (q && !*p)
            return kerr_set(e, "%s: '%s' names a folder, not a file", what, path);
    }
    return 0;
}

/* Opens rel (checked) under the folder dirfd for writing, making its
 * folders, never following a symbolic link (a script run before may have
 * left one). Returns the descriptor or -1 with e set. */
static int open_beneath(int dirfd, const char *rel, kerr *e)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return kerr_set(e, "'%s': %s", rel, strerror(errno));
    char *copy = xstrdup(rel);
    char *seg = copy;
    for (char *slash; fd >= 0 && (slash = strchr(seg, '/')); seg = slash + 1) {
        *slash = 0;
        if (mkdirat(fd, seg, 0755) && errno != EEXIST) {
            kerr_set(e, "'%s': cannot make folder '%s': %s", rel, seg, strerror(errno));
            close(fd);
            fd = -1;
            break;
        }
        int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            kerr_set(e, "'%s': '%s' is not a folder: %s", rel, seg, strerror(errno));
        close(fd);
        fd = next;
    }
    int out = -1;
    if (fd >= 0) {
        out = openat(fd, seg, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (out < 0)
            kerr_set(e, "'%s': %s", rel, strerror(errno));
        close(fd);
    }
    free(copy);
    return out;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Creates one input file: the content, or the file of internal storage that
 * the content names. */
static int local_input(task_ctx *c, int dirfd, const char *name, const json_t *v, kerr *e)
{
    if (check_rel_path("property 'inputs'", name, e))
        return -1;
    char *text = json_is_string(v) ? xstrdup(json_string_value(v)) : expr_value_to_text(v);
    int rc = 0, out = open_beneath(dirfd, name, e);
    if (out < 0) {
        kerr_prefix(e, "property 'inputs'");
        free(text);
        return -1;
    }
    if (!strncmp(text, "kite://", 7) || !strncmp(text, "kestra://", 9)) {
        kerr se = KERR_INIT;
        int in = storage_open_fd(c->storage, text, &se);
        if (in < 0) {
            rc = kerr_set(e, "property 'inputs': file '%s': %s", name, se.msg);
        } else {
            char chunk[65536];
            ssize_t n;
            while ((n = read(in, chunk, sizeof chunk)) > 0)
                if (write_all(out, chunk, (size_t)n)) {
                    n = -1;
                    break;
                }
            if (n < 0)
                rc = kerr_set(e, "property 'inputs': file '%s': %s", name, strerror(errno));
            close(in);
        }
    } else if (write_all(out, text, strlen(text))) {
        rc = kerr_set(e, "property 'inputs': file '%s': %s", name, strerror(errno));
    }
    if (close(out) && !rc)
        rc = kerr_set(e, "property 'inputs': file '%s': %s", name, strerror(errno));
    free(text);
    return rc;
}

/* Walks folder `path` (relative `rel` under the working folder) and stores
 * every regular file whose relative path matches one of the patterns. */
static int local_walk(task_ctx *c, buf *path, size_t root_len, const json_t *globs, json_t *uris,
                      kerr *e)
{
    DIR *d = opendir(buf_str(path));
    if (!d)
        return kerr_set(e, "reading %s: %s", buf_str(path), strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t keep = path->len;
        buf_putc(path, '/');
        buf_puts(path, de->d_name);
        struct stat st;
        if (lstat(buf_str(path), &st) == 0) {
            const char *rel = buf_str(path) + root_len + 1;
            if (S_ISDIR(st.st_mode)) {
                rc = local_walk(c, path, root_len, globs, uris, e);
            } else if (S_ISREG(st.st_mode)) {
                size_t i;
                json_t *g;
                json_array_foreach(globs, i, g) {
                    if (!proc_glob_match(json_string_value(g), rel))
                        continue;
                    if (json_object_size(uris) >= LOCAL_FILES_MAX) {
                        rc = kerr_set(e, "property 'outputs': more than %d files match",
                                      LOCAL_FILES_MAX);
                        break;
                    }
                    char *uri = NULL;
                    if (task_store_file(c, buf_str(path), rel, &uri, e)) {
                        kerr_prefix(e, "property 'outputs': file '%s'", rel);
                        rc = -1;
                        break;
                    }
                    json_object_set_new(uris, rel, json_string(uri));
                    free(uri);
                    break;
                }
            }
        }
        path->len = keep;
        path->data[keep] = 0;
    }
    closedir(d);
    return rc;
}

/* Kestra's deprecated LocalFiles: creates `inputs` in the WorkingDirectory's
 * folder and sends the files matching `outputs` to internal storage (output
 * `uris`: relative path -> URI). */
static task_result local_files_run(task_ctx *c, kerr *e)
{
    if (!c->workdir) {
        kerr_set(e, "storage.local_files works inside a WorkingDirectory: there is no working "
                    "folder here");
        return TASK_FAILED;
    }
    task_result res = TASK_FAILED;
    json_t *inputs = NULL, *globs = NULL, *uris = NULL;
    int dirfd = -1;
    buf path = BUF_INIT;
    if (task_prop(c, "inputs", &inputs, e) || task_prop(c, "outputs", &globs, e))
        goto out;
    if (json_is_string(inputs)) { /* a JSON string of a map */
        json_error_t je;
        json_t *m = json_loads(json_string_value(inputs), 0, &je);
        json_decref(inputs);
        inputs = m;
        if (!json_is_object(m)) {
            kerr_set(e, "property 'inputs' must be a map of file names to contents");
            goto out;
        }
    }
    if (inputs && !json_is_object(inputs)) {
        kerr_set(e, "property 'inputs' must be a map of file names to contents");
        goto out;
    }
    if (json_is_string(globs)) {
        json_t *a = json_array();
        json_array_append_new(a, globs);
        globs = a;
    }
    if (globs && !json_is_array(globs)) {
        kerr_set(e, "property 'outputs' must be a list of glob patterns");
        goto out;
    }
    size_t i;
    json_t *g;
    json_array_foreach(globs, i, g) {
        if (!json_is_string(g)) {
            kerr_set(e, "property 'outputs': item %zu is not a pattern", i + 1);
            goto out;
        }
    }
    dirfd = open(c->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        kerr_set(e, "the working folder %s: %s", c->workdir, strerror(errno));
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(inputs, name, v) {
        if (local_input(c, dirfd, name, v, e))
            goto out;
    }
    uris = json_object();
    if (globs && json_array_size(globs)) {
        buf_puts(&path, c->workdir);
        while (path.len > 1 && path.data[path.len - 1] == '/')
            path.data[--path.len] = 0;
        if (local_walk(c, &path, path.len, globs, uris, e))
            goto out;
    }
    task_output(c, "uris", uris);
    uris = NULL;
    res = TASK_SUCCESS;
out:
    if (dirfd >= 0)
        close(dirfd);
    buf_free(&path);
    json_decref(inputs);
    json_decref(globs);
    json_decref(uris);
    return res;
}

/* ---- storage.delete, storage.size ----------------------------------------- */

/* 1 if ns is the flow's namespace or one below it. */
static int ns_within(const char *ns, const char *mine)
{
    size_t n = strlen(mine);
    return !strncmp(ns, mine, n) && (ns[n] == 0 || ns[n] == '.');
}

static task_result delete_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *uri = NULL;
    int must;
    storage_uri u = {0};
    if (prop_uri(c, "uri", &uri, e) || task_prop_bool(c, "errorOnMissing", 0, &must, e))
        goto out;
    if (storage_uri_parse(uri, 0, &u, e)) {
        kerr_prefix(e, "property 'uri': '%s'", uri);
        goto out;
    }
    if (!u.namespace_id || !c->namespace || !ns_within(u.namespace_id, c->namespace)) {
        kerr_set(e, "property 'uri': '%s' is not a file of namespace %s: a flow deletes only "
                    "its own namespace's files", uri, c->namespace ? c->namespace : "?");
        goto out;
    }
    kerr se = KERR_INIT;
    int rc = storage_delete(c->storage, uri, &se);
    if (rc < 0) {
        kerr_set(e, "property 'uri': %s", se.msg);
        goto out;
    }
    if (rc == 0 && must) {
        kerr_set(e, "property 'uri': no file at '%s' and 'errorOnMissing' is true", uri);
        goto out;
    }
    task_output(c, "uri", json_string(u.uri));
    task_output(c, "deleted", json_boolean(rc == 1));
    res = TASK_SUCCESS;
out:
    storage_uri_free(&u);
    free(uri);
    return res;
}

static task_result size_run(task_ctx *c, kerr *e)
{
    char *uri;
    if (prop_uri(c, "uri", &uri, e))
        return TASK_FAILED;
    kerr se = KERR_INIT;
    int64_t n = storage_size(c->storage, uri, &se);
    free(uri);
    if (n < 0) {
        kerr_set(e, "property 'uri': %s", se.msg);
        return TASK_FAILED;
    }
    task_output(c, "size", json_integer(n));
    return TASK_SUCCESS;
}

static const struct task_hooks write_hooks = {.run = write_run};
static const struct task_hooks concat_hooks = {.run = concat_run};
static const struct task_hooks split_hooks = {.run = split_run};
static const struct task_hooks delete_hooks = {.run = delete_run};
static const struct task_hooks size_hooks = {.run = size_run};
static const struct task_hooks reverse_hooks = {.run = reverse_run};
static const struct task_hooks purge_hooks = {.run = purge_run};
static const struct task_hooks local_files_hooks = {.run = local_files_run};
static const struct task_hooks filter_items_hooks = {.run = filter_items_run};
static const struct task_hooks deduplicate_items_hooks = {.run = deduplicate_items_run};

/* ---- the family's types ---- */

const type_def tasks__storage[] = {
    {
        .name = "storage.write",
        .hooks = &write_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Write"),
        .desc = "Write content to a file of internal storage (output `uri`).",
        .props = PROPS(PSTR("content", PF_REQUIRED, NULL, "the content"),
                       PSTR("extension", 0, NULL, "the file's extension")),
    },
    {
        .name = "storage.concat",
        .hooks = &concat_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Concat",
                           "io.kestra.core.tasks.storages.Concat"),
        .desc = "Concatenate files of internal storage into one.",
        .props = PROPS(PANY("files", PF_REQUIRED, NULL,
                            "URIs of the files: a list, or a JSON string of one"),
                       PSTR("separator", 0, NULL, "written between files"),
                       PSTR("extension", 0, "\".tmp\"", "the result's extension")),
    },
    {
        .name = "storage.split",
        .hooks = &split_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Split",
                           "io.kestra.core.tasks.storages.Split"),
        .desc = "Split a file of internal storage by size, rows or partitions.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("bytes", 0, NULL, "size of each part (\"10MB\")"),
                       PINT("partitions", 0, NULL, "number of parts"),
                       PINT("rows", 0, NULL, "rows of each part"),
                       PSTR("regexPattern", 0, NULL,
                            "group lines by the first capture group of this regex"),
                       PSTR("separator", 0, "\"\\n\"", "the row separator")),
    },
    {
        .name = "storage.delete",
        .hooks = &delete_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Delete",
                           "io.kestra.core.tasks.storages.Delete"),
        .desc = "Delete a file of internal storage.",
        .props = PROPS(PSTR("uri", PF_REQUIRED, NULL, "URI of the file"),
                       PBOOL("errorOnMissing", 0, "false", "fail when it is missing")),
    },
    {
        .name = "storage.size",
        .hooks = &size_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Size",
                           "io.kestra.core.tasks.storages.Size"),
        .desc = "Output the size of a file of internal storage.",
        .props = PROPS(PSTR("uri", PF_REQUIRED, NULL, "URI of the file")),
    },
    {
        .name = "storage.local_files",
        .hooks = &local_files_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.LocalFiles",
                           "io.kestra.core.tasks.storages.LocalFiles"),
        .flags = TF_DEPRECATED,
        .desc = "Create files in, or keep files from, a WorkingDirectory "
                "(deprecated: use inputFiles/outputFiles).",
        .props = PROPS(PANY("inputs", 0, NULL, "files to create: map of name to content"),
                       PSTRL("outputs", 0, NULL, "glob patterns of files to keep")),
    },
    {
        .name = "storage.deduplicate_items",
        .aliases = ALIASES("io.kestra.plugin.core.storage.DeduplicateItems",
                           "io.kestra.core.tasks.storages.DeduplicateItems"),
        .hooks = &deduplicate_items_hooks,
        .desc = "Remove duplicate items of an ION file, by a key expression.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("expr", PF_REQUIRED, NULL, "expression giving an item's key")),
    },
    {
        .name = "storage.filter_items",
        .aliases = ALIASES("io.kestra.plugin.core.storage.FilterItems",
                           "io.kestra.core.tasks.storages.FilterItems"),
        .hooks = &filter_items_hooks,
        .desc = "Keep or drop the items of an ION file matching a condition.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("filterCondition", PF_REQUIRED, NULL, "expression tested per item"),
                       PENUM("filterType", 0, "\"INCLUDE\"", ENUMS("INCLUDE", "EXCLUDE"),
                             "keep or drop the matching items"),
                       PENUM("errorOrNullBehavior", 0, "\"FAIL\"",
                             ENUMS("FAIL", "INCLUDE", "EXCLUDE"),
                             "what an error or a null result does")),
    },
    {
        .name = "storage.purge_current_execution_files",
        .hooks = &purge_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
                           "io.kestra.plugin.core.storage.PurgeExecution",
                           "io.kestra.core.tasks.storages.PurgeExecution"),
        .desc = "Delete every file of the current execution from internal storage.",
        .props = NO_PROPS,
    },
    {
        .name = "storage.reverse",
        .hooks = &reverse_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.storage.Reverse",
                           "io.kestra.core.tasks.storages.Reverse"),
        .desc = "Reverse the lines of a file of internal storage.",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "URI of the file"),
                       PSTR("separator", 0, "\"\\n\"", "the line separator"),
                       PSTR("charset", 0, "\"UTF-8\"", "the file's charset")),
    },
};

const size_t tasks__storage_count = sizeof tasks__storage / sizeof tasks__storage[0];
