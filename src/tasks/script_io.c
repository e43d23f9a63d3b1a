/*
 * script_io.c: what every script runner shares, whatever runs the script (a
 * local process today; SSH or a container later): reading its output, and
 * the files around it.
 *
 *   - output: each line is either a `::{...}::` marker (outputs merged into
 *     vars, metrics, logs: Kestra's TaskLogLineMatcher; not logged itself) or
 *     a log line, stdout at INFO and stderr at WARN (Kestra's
 *     DefaultLogConsumer); tasks__script_out_line has proc_spec.on_line's form;
 *   - input files: namespaceFiles, then inputFiles, written into the working
 *     folder, never outside it (each path segment is opened with O_NOFOLLOW
 *     relative to the folder);
 *   - output files: outputFiles (globs over the working folder) and every
 *     file of the output folder, stored as the task run's files.
 *
 * DESIGN
 * The output reader is called on one thread (proc_run calls it on the
 * caller's), so its state needs no lock. A process runner's own output cap
 * would drop marker lines past it, so the caller leaves it off and the cap on
 * logged volume is applied here: past it, lines are still read and parsed for
 * markers but no longer logged, and one notice says so. Lines longer than
 * TASKS__SCRIPT_LINE_MAX come in pieces: a marker's pieces are joined (up to
 * MARKER_MAX); other pieces are joined too (up to GLUE_MAX), masked as one
 * text and only then cut into log lines, so that a secret printed across a
 * cut is still masked. A line longer than GLUE_MAX is logged GLUE_MAX at a
 * time, keeping its last GLUE_CARRY bytes for the next part (a secret up to
 * that long is masked wherever it falls).
 */
#include "tasks/tasks_int.h"

#include "expr/expr.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"
#include "util/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What one task run may log: past either cap, output is read and parsed but
 * no longer logged. */
#define LOG_MAX_BYTES (8u << 20)
#define LOG_MAX_LINES 50000u
/* Longest `::{...}::` line accepted (joined from pieces). */
#define MARKER_MAX (16u << 20)
#define GLUE_MAX (1u << 20)
#define GLUE_CARRY (4u << 10)

/* ---- output: log lines and markers ------------------------------------------ */

void tasks__script_out_init(tasks__script_out *s, task_ctx *c)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->vars = json_object();
    for (int k = 0; k < 3; k++)
        buf_init(&s->marker[k], MARKER_MAX);
}

void tasks__script_out_free(tasks__script_out *s)
{
    json_decref(s->vars);
    s->vars = NULL;
    for (int k = 0; k < 3; k++)
        buf_free(&s->marker[k]);
}

void tasks__script_log(tasks__script_out *s, store_level lv, const char *line, size_t len)
{
    if (s->log_capped)
        return;
    if (s->logged_bytes + len > LOG_MAX_BYTES || s->logged_lines + 1 > LOG_MAX_LINES) {
        s->log_capped = 1;
        task_log(s->c, LEVEL_WARN,
                 "The output is too large to be logged: more than %u lines or %u MiB were logged; "
                 "the rest of stdout and stderr is read (outputs and metrics are still taken) "
                 "but not logged",
                 LOG_MAX_LINES, LOG_MAX_BYTES >> 20);
        return;
    }
    s->logged_bytes += len;
    s->logged_lines++;
    char *clean = utf8_clean(line, len);
    s->c->ops->log(s->c, lv, clean);
    free(clean);
}

/* Logs a long line in pieces of at most TASKS__SCRIPT_LINE_MAX, cut before
 * a UTF-8 continuation byte when one is near. */
static void log_pieces(tasks__script_out *s, store_level lv, const char *p, size_t n)
{
    while (n > 0) {
        size_t cut = n > TASKS__SCRIPT_LINE_MAX ? TASKS__SCRIPT_LINE_MAX : n;
        if (cut < n) {
            /* p[c] starts the next piece: not in the middle of a character */
            size_t c = cut;
            while (c > cut - 4 && ((unsigned char)p[c] & 0xC0) == 0x80)
                c--;
            if (((unsigned char)p[c] & 0xC0) != 0x80)
                cut = c;
        }
        tasks__script_log(s, lv, p, cut);
        p += cut;
        n -= cut;
    }
}

/* Masks a glued text as a whole, then logs it in pieces. */
static void log_glued(tasks__script_out *s, store_level lv, const char *p, size_t n)
{
    size_t mn = 0;
    char *m = s->c->ops->mask ? s->c->ops->mask(s->c, p, n, &mn) : NULL;
    log_pieces(s, lv, m ? m : p, m ? mn : n);
    free(m);
}

static int metric_type(const char *t, store_metric_type *out)
{
    if (!t)
        return -1;
    if (!strcasecmp(t, "counter")) {
        *out = METRIC_COUNTER;
        return 0;
    }
    if (!strcasecmp(t, "timer")) {
        *out = METRIC_TIMER;
        return 0;
    }
    return -1;
}

/* A timer's value: a number of seconds, or an ISO-8601 duration as Kestra's
 * Timer serializes it ("PT1.5S"). */
static int timer_value(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        int64_t us;
        kerr e = KERR_INIT;
        if (duration_parse(json_string_value(v), &us, &e))
            return -1;
        *out = (double)us / 1e6;
        return 0;
    }
    return -1;
}

/* Handles the JSON of one `::{...}::` line (Kestra's TaskLogLineMatcher):
 * outputs (and encryptedOutputs, in clear) merged into vars, metrics, logs. */
static void handle_marker(tasks__script_out *s, const char *json, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!o || !json_is_object(o)) {
        task_log(s->c, LEVEL_WARN, "Invalid outputs '%s'", o ? "not a JSON object" : je.text);
        json_decref(o);
        return;
    }
    json_t *outs = json_object_get(o, "outputs");
    if (json_is_object(outs))
        json_object_update(s->vars, outs);
    else if (outs && !json_is_null(outs))
        task_log(s->c, LEVEL_WARN, "Invalid outputs '\"outputs\" must be a JSON object'");
    /* as Kestra: stored encrypted ({type: io.kestra.datatype:aes_encrypted,
     * value}) with kite.yml's encryption.secretKey, decrypted for the tasks
     * that read them; without a key, kept in clear, said once per marker.
     * Either way the values are masked in logs from then on. */
    json_t *enc = json_object_get(o, "encryptedOutputs");
    if (json_is_object(enc) && json_object_size(enc)) {
        const char *k;
        json_t *v;
        int clear = 0;
        json_object_foreach(enc, k, v) {
            char *text = json_is_string(v) ? xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            task_secret(s->c, text);
            json_t *sealed = text ? tasks__encrypted(s->c, text, strlen(text)) : NULL;
            if (sealed) {
                json_object_set_new(s->vars, k, sealed);
            } else {
                json_object_set(s->vars, k, v);
                clear = 1;
            }
            free(text);
        }
        if (clear)
            task_log(s->c, LEVEL_WARN, "encryptedOutputs (%zu) are kept as outputs stored in clear: no encryption "
                                       "key (kite.yml encryption.secretKey, docs/configuration.md)",
                     json_object_size(enc));
    }
    json_t *ms = json_object_get(o, "metrics");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        store_metric_type t;
        json_t *val = json_object_get(m, "value");
        double d = 0;
        int ok = name && *name && !metric_type(json_string_value(json_object_get(m, "type")), &t);
        if (ok)
            ok = t == METRIC_TIMER ? !timer_value(val, &d) : json_is_number(val);
        if (ok && t == METRIC_COUNTER)
            d = json_number_value(val);
        if (!ok) {
            task_log(s->c, LEVEL_WARN,
                     "Invalid metric %zu: it needs a name, a type (counter or timer) and a numeric value", i);
            continue;
        }
        json_t *tags = json_object_get(m, "tags");
        json_t *tcopy = NULL;
        if (json_is_object(tags)) {
            tcopy = json_object();
            const char *k;
            json_t *tv;
            json_object_foreach(tags, k, tv) {
                if (json_is_string(tv))
                    json_object_set(tcopy, k, tv);
                else {
                    char *txt = json_dumps(tv, JSON_ENCODE_ANY | JSON_COMPACT);
                    json_object_set_new(tcopy, k, json_string(txt ? txt : ""));
                    free(txt);
                }
            }
        }
        task_metric(s->c, name, t, d, tcopy);
    }
    json_t *logs = json_object_get(o, "logs");
    json_array_foreach(logs, i, m) {
        const char *lvs = json_string_value(json_object_get(m, "level"));
        const char *msg = json_string_value(json_object_get(m, "message"));
        store_level lv = LEVEL_INFO;
        if (!msg || (lvs && store_level_parse(lvs, &lv))) {
            task_log(s->c, LEVEL_WARN, "Invalid log %zu: it needs a message and a level", i);
            continue;
        }
        tasks__script_log(s, lv, msg, strlen(msg));
    }
    json_decref(o);
}

static int is_marker(const char *line, size_t len)
{
    return len >= 5 && !memcmp(line, "::{", 3) && !memcmp(line + len - 3, "}::", 3);
}

void tasks__script_out_line(void *ud, proc_stream st, const char *line, size_t len, int flags)
{
    tasks__script_out *s = ud;
    int k = st == PROC_STDERR ? 2 : 1;
    store_level lv = st == PROC_STDERR ? LEVEL_WARN : LEVEL_INFO;
    if (flags & PROC_LINE_NOTICE) {
        task_log(s->c, LEVEL_WARN, "%.*s", (int)len, line);
        return;
    }
    int split = flags & PROC_LINE_SPLIT;
    if (split || s->in_split[k]) {
        if (!s->in_split[k]) {
            /* first piece of a long line */
            s->in_split[k] = 1;
            s->split_marker[k] = len >= 3 && !memcmp(line, "::{", 3);
            s->marker_too_long[k] = 0;
            buf_reset(&s->marker[k]);
            if (k == 2)
                s->stderr_lines++;
            else
                s->stdout_lines++;
        }
        if (s->split_marker[k]) {
            if (!s->marker_too_long[k] && buf_append(&s->marker[k], line, len))
                s->marker_too_long[k] = 1;
        } else {
            buf *b = &s->marker[k];
            buf_append(b, line, len);   /* len <= TASKS__SCRIPT_LINE_MAX: within MARKER_MAX */
            if (b->len > GLUE_MAX) {
                /* log all but a carry; mask before cutting, as for the whole */
                size_t keep = GLUE_CARRY, out = b->len - keep;
                while (out > 0 && ((unsigned char)b->data[out] & 0xC0) == 0x80)
                    out--, keep++;
                log_glued(s, lv, b->data, out);
                memmove(b->data, b->data + out, keep);
                b->len = keep;
                b->data[keep] = '\0';
            }
        }
        if (!split) {
            /* last piece */
            s->in_split[k] = 0;
            if (s->split_marker[k]) {
                buf *b = &s->marker[k];
                if (s->marker_too_long[k])
                    task_log(s->c, LEVEL_WARN, "Invalid outputs 'a ::{...}:: line longer than %u MiB'",
                             MARKER_MAX >> 20);
                else if (is_marker(b->data, b->len))
                    handle_marker(s, b->data + 2, b->len - 4);
                else
                    log_pieces(s, lv, b->data, b->len);
                buf_reset(b);
            } else {
                log_glued(s, lv, s->marker[k].data, s->marker[k].len);
                buf_reset(&s->marker[k]);
            }
        }
        return;
    }
    if (k == 2)
        s->stderr_lines++;
    else
        s->stdout_lines++;
    if (is_marker(line, len))
        handle_marker(s, line + 2, len - 4);
    else
        tasks__script_log(s, lv, line, len);
}

/* ---- input and output files --------------------------------------------------- */

/* Checks a relative path given by the flow (an input file's name, an output
 * pattern): not empty, not absolute, no "." or ".." segment, no empty
 * segment. */
int tasks__check_rel(const char *what, const char *p, kerr *e)
{
    if (!*p)
        return kerr_set(e, "%s: an empty file name", what);
    if (*p == '/')
        return kerr_set(e, "%s '%s': the path must be relative to the working folder", what, p);
    const char *seg = p;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return kerr_set(e, "%s '%s': the path must stay inside the working folder "
                               "(no '..', '.' or empty segment)", what, p);
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;
}

/* Opens (creating) the file at relative path rel under dirfd for writing,
 * creating the folders on the way; no symbolic link is followed, so the file
 * is inside the folder. Returns an fd or -1 with e set. */
static int open_inside(int dirfd, const char *rel, kerr *e)
{
    char *p = xstrdup(rel);
    int fd = dup(dirfd);
    char *seg = p;
    for (;;) {
        char *slash = strchr(seg, '/');
        if (!slash)
            break;
        *slash = '\0';
        if (mkdirat(fd, seg, 0755) && errno != EEXIST) {
            kerr_set(e, "input file '%s': cannot create the folder '%s': %s", rel, seg, strerror(errno));
            goto fail;
        }
        int sub = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            kerr_set(e, "input file '%s': '%s' is not a folder inside the working folder: %s", rel, seg,
                     strerror(errno));
            goto fail;
        }
        close(fd);
        fd = sub;
        seg = slash + 1;
    }
    int f = openat(fd, seg, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0) {
        kerr_set(e, "input file '%s': cannot create it: %s", rel, strerror(errno));
        goto fail;
    }
    close(fd);
    free(p);
    return f;
fail:
    close(fd);
    free(p);
    return -1;
}

int tasks__write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes one input file: content, or the storage file a kestra:/// (or
 * kestra:///) URI names. */
static int put_input_file(task_ctx *c, int dirfd, const char *name, const char *content, kerr *e)
{
    if (tasks__check_rel("input file", name, e))
        return -1;
    int fd = open_inside(dirfd, name, e);
    if (fd < 0)
        return -1;
    int rc = 0;
    if (storage_uri_has_scheme(content) && !strchr(content, '\n')) {
        int in = storage_open_fd(c->storage, content, e);
        if (in < 0) {
            kerr_prefix(e, "input file '%s'", name);
            close(fd);
            return -1;
        }
        char chunk[65536];
        for (;;) {
            ssize_t n = read(in, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = kerr_set(e, "input file '%s': cannot read %s: %s", name, content, strerror(errno));
                break;
            }
            if (n == 0)
                break;
            if (tasks__write_all(fd, chunk, (size_t)n)) {
                rc = kerr_set(e, "input file '%s': cannot write: %s", name, strerror(errno));
                break;
            }
        }
        close(in);
    } else if (tasks__write_all(fd, content, strlen(content))) {
        rc = kerr_set(e, "input file '%s': cannot write: %s", name, strerror(errno));
    }
    if (close(fd) && !rc)
        rc = kerr_set(e, "input file '%s': cannot write: %s", name, strerror(errno));
    return rc;
}

static int put_namespace_files(task_ctx *c, int dirfd, kerr *e);
static int put_input_map(task_ctx *c, int dirfd, kerr *e);

int tasks__script_put_inputs(task_ctx *c, const char *dir, kerr *e)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return kerr_set(e, "cannot open the working folder %s: %s", dir, strerror(errno));
    int rc = put_namespace_files(c, dirfd, e);
    if (!rc)
        rc = put_input_map(c, dirfd, e);
    close(dirfd);
    return rc;
}

static int put_input_map(task_ctx *c, int dirfd, kerr *e)
{
    json_t *v;
    if (task_prop(c, "inputFiles", &v, e))
        return -1;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        /* a JSON string, as Kestra accepts */
        json_error_t je;
        json_t *o = json_loads(json_string_value(v), 0, &je);
        json_decref(v);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            return kerr_set(e, "property 'inputFiles': a string must hold a JSON object of name to "
                               "content (%s)", o ? "not an object" : je.text);
        }
        v = o;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return kerr_set(e, "property 'inputFiles' must be a map of file name to content or storage URI");
    }
    int rc = 0;
    const char *name;
    json_t *val;
    json_object_foreach(v, name, val) {
        char *text = json_is_string(val) ? xstrdup(json_string_value(val))
                     : json_is_null(val) ? xstrdup("")
                                         : expr_value_to_text(val);
        rc = put_input_file(c, dirfd, name, text, e);
        free(text);
        if (rc)
            break;
    }
    json_decref(v);
    return rc;
}

/* Walks dir (relative prefix rel) and calls fn for each regular file (symbolic
 * links are not followed, nor listed). */
typedef int (*walk_fn)(void *ud, const char *abs, const char *rel, kerr *e);

static int walk(const char *dir, const char *rel, int depth, walk_fn fn, void *ud, kerr *e)
{
    if (depth > 64)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *abs = xasprintf("%s/%s", dir, de->d_name);
        char *r = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        struct stat st;
        if (lstat(abs, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(abs, r, depth + 1, fn, ud, e);
            else if (S_ISREG(st.st_mode))
                rc = fn(ud, abs, r, e);
        }
        free(abs);
        free(r);
    }
    closedir(d);
    return rc;
}

typedef struct outmatch {
    task_ctx *c;
    char **patterns;      /* NULL: every file */
    json_t *files;        /* name -> uri */
} outmatch;

static int store_one(void *ud, const char *abs, const char *rel, kerr *e)
{
    outmatch *m = ud;
    if (json_object_get(m->files, rel))
        return 0;
    if (m->patterns) {
        int hit = 0;
        for (char **p = m->patterns; *p && !hit; p++)
            hit = proc_glob_match(*p, rel);
        if (!hit)
            return 0;
    }
    char *uri;
    if (task_store_file(m->c, abs, rel, &uri, e)) {
        kerr_prefix(e, "output file '%s'", rel);
        return -1;
    }
    json_object_set_new(m->files, rel, json_string(uri));
    free(uri);
    return 0;
}

int tasks__script_store_outputs(task_ctx *c, const char *workdir, const char *outdir, char **patterns, kerr *e)
{
    outmatch m = {c, patterns, json_object()};
    int rc = 0;
    if (patterns) {
        /* the output folder is never inside the working folder (the local
         * runner keeps it in its run folder), so a "**" pattern does not
         * list it twice */
        rc = walk(workdir, "", 0, store_one, &m, e);
        for (char **p = patterns; !rc && *p; p++)
            if (!strpbrk(*p, "*?[")) {
                struct stat st;
                char *abs = xasprintf("%s/%s", workdir, *p);
                if (lstat(abs, &st) == 0 && S_ISLNK(st.st_mode))
                    task_log(c, LEVEL_WARN, "output file '%s' is a symbolic link: not stored", *p);
                free(abs);
            }
    }
    if (!rc && outdir) {
        m.patterns = NULL;
        rc = walk(outdir, "", 0, store_one, &m, e);
    }
    if (json_object_size(m.files))
        task_output(c, "outputFiles", m.files);
    else
        json_decref(m.files);
    return rc;
}

int tasks__script_store_dir(task_ctx *c, const char *dir, const char *prefix, json_t *files, kerr *e)
{
    outmatch m = {c, NULL, files};
    return walk(dir, prefix, 0, store_one, &m, e);
}
/* ---- namespace files ------------------------------------------------------ */

/* One rendered list property of the namespaceFiles map (nf), as a vector. */
static char **nf_list(const json_t *nf, const char *key)
{
    const json_t *v = json_object_get(nf, key);
    if (json_is_string(v)) {
        char **r = xcalloc(2, sizeof *r);
        r[0] = xstrdup(json_string_value(v));
        return r;
    }
    if (!json_is_array(v))
        return NULL;
    char **r = xcalloc(json_array_size(v) + 1, sizeof *r);
    size_t i, n = 0;
    const json_t *it;
    json_array_foreach(v, i, it) if (json_is_string(it)) r[n++] = xstrdup(json_string_value(it));
    return r;
}

static int any_match(char **pats, const char *path)
{
    for (char **p = pats; p && *p; p++)
        if (proc_glob_match(*p, path))
            return 1;
    return 0;
}

/* Copies the namespace files (kestra:///<ns>/_files/...) into the working
 * folder, as Kestra's namespaceFiles: include / exclude globs over the
 * file's path, several namespaces, one sub-folder per namespace, and what to
 * do with a file already there (ifExists). Written before inputFiles, which
 * may replace them. */
static int put_namespace_files(task_ctx *c, int dirfd, kerr *e)
{
    json_t *nf;
    if (task_prop(c, "namespaceFiles", &nf, e))
        return -1;
    if (!nf)
        return 0;
    if (!json_is_object(nf)) {
        json_decref(nf);
        return kerr_set(e, "property 'namespaceFiles' must be a map (enabled, include, exclude, ...)");
    }
    const json_t *en = json_object_get(nf, "enabled");
    if ((en && json_is_false(en)) ||
        (json_is_string(en) && !strcasecmp(json_string_value(en), "false"))) {
        json_decref(nf);
        return 0;
    }
    char **inc = nf_list(nf, "include"), **exc = nf_list(nf, "exclude"), **nss = nf_list(nf, "namespaces");
    const json_t *fpn = json_object_get(nf, "folderPerNamespace");
    int per_ns = json_is_true(fpn) || (json_is_string(fpn) && !strcasecmp(json_string_value(fpn), "true"));
    const char *if_exists = json_string_value(json_object_get(nf, "ifExists"));
    if (!if_exists)
        if_exists = "OVERWRITE";
    const char *own[] = {c->namespace, NULL};
    int rc = 0;
    size_t copied = 0;
    for (const char *const *ns = nss && nss[0] ? (const char *const *)nss : own; !rc && *ns; ns++) {
        char *probe = storage_uri_namespace_file(*ns, "x", e);
        if (!probe) {
            rc = -1;
            kerr_prefix(e, "namespaceFiles");
            break;
        }
        probe[strlen(probe) - 1] = '\0'; /* the folder: kestra:///<ns>/_files/ */
        storage_entry *ent = NULL;
        size_t n = 0;
        rc = storage_list(c->storage, probe, &ent, &n, e);
        free(probe);
        for (size_t i = 0; !rc && i < n; i++) {
            storage_uri u;
            kerr pe = KERR_INIT;
            if (storage_uri_parse(ent[i].uri, 0, &u, &pe))
                continue;
            const char *path = u.kind == STORAGE_URI_NAMESPACE_FILE ? u.name : NULL;
            if (!path || (inc && inc[0] && !any_match(inc, path)) || any_match(exc, path)) {
                storage_uri_free(&u);
                continue;
            }
            char *rel = per_ns ? xasprintf("%s/%s", *ns, path) : xstrdup(path);
            struct stat st;
            int exists = fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
            if (exists && !strcasecmp(if_exists, "FAIL")) {
                rc = kerr_set(e, "namespaceFiles: '%s' is already in the working folder (ifExists: FAIL)", rel);
            } else if (exists && !strcasecmp(if_exists, "WARN")) {
                task_log(c, LEVEL_WARN, "namespace file '%s' is already in the working folder: kept as it is",
                         rel);
            } else if (!(exists && !strcasecmp(if_exists, "IGNORE"))) {
                rc = put_input_file(c, dirfd, rel, ent[i].uri, e);
                if (rc)
                    kerr_prefix(e, "namespaceFiles");
                else
                    copied++;
            }
            free(rel);
            storage_uri_free(&u);
        }
        storage_entries_free(ent, n);
    }
    if (!rc && copied == 0)
        task_log(c, LEVEL_WARN, "namespaceFiles: no namespace file matched: none was copied");
    proc_strv_free(inc);
    proc_strv_free(exc);
    proc_strv_free(nss);
    json_decref(nf);
    return rc;
}

int tasks__put_file(task_ctx *c, const char *dir, const char *name, const char *content, kerr *e)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return kerr_set(e, "cannot open %s: %s", dir, strerror(errno));
    int rc = put_input_file(c, dirfd, name, content, e);
    close(dirfd);
    return rc;
}
