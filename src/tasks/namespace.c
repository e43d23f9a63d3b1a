/*
 * namespace.c: the namespace files family: namespace.upload_files,
 * namespace.download_files, namespace.delete_files and namespace.purge_files
 * (which has nothing to delete: kite keeps one version of a file), on the
 * namespace files of internal storage (kestra:///<ns path>/_files/<path>); the
 * type table is at the end of the file.
 *
 * Paths are written as Kestra writes them, "/scripts/etl.py", and glob
 * patterns match them with or without their leading '/' ("**" reaches
 * through folders, as in Kestra's glob PathMatcher; see proc_glob_match).
 */
#include "tasks/tasks_int.h"
#include "util/policy.h"

#include "util/buf.h"
#include "util/mem.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The namespace property (required) of a namespace files task, which the
 * flow's namespace must be allowed to do action in (store_access_flow: its
 * own namespace always, its parents for reads, another one only with a
 * binding of namespace:<flow's namespace> once access control is on). */
static int prop_ns(task_ctx *c, int action, char **ns, kerr *e)
{
    if (tasks__prop_text(c, "namespace", NULL, ns, e))
        return -1;
    if (!*ns || !**ns) {
        free(*ns);
        *ns = NULL;
        return kerr_set(e, "property 'namespace' is required");
    }
    if (store_access_flow(c->store, c->namespace, action, *ns, e)) {
        kerr_prefix(e, "property 'namespace'");
        free(*ns);
        *ns = NULL;
        return -1;
    }
    return 0;
}

/* `files` as an array of strings (a string is a list of one); NULL with e
 * set. */
static json_t *prop_patterns(task_ctx *c, const char *name, int required, kerr *e)
{
    json_t *v;
    if (task_prop(c, name, &v, e))
        return NULL;
    if (!v) {
        if (required)
            kerr_set(e, "property '%s' is required", name);
        return required ? NULL : json_array();
    }
    if (json_is_string(v)) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        return a;
    }
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        goto bad;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item))
            goto bad;
    }
    return v;
bad:
    json_decref(v);
    kerr_set(e, "property '%s' must be a pattern or a list of patterns", name);
    return NULL;
}

/* Does path (no leading '/') match one of the patterns? */
static int matches_any(const json_t *patterns, const char *path)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p) {
        const char *pat = json_string_value(p);
        while (*pat == '/')
            pat++;
        if (proc_glob_match(pat, path))
            return 1;
    }
    return 0;
}

/* The namespace's files: a fresh array of entries and the relative path of
 * each (same order; paths freed with proc_strv_free). */
static int ns_list(task_ctx *c, const char *ns, storage_entry **v, size_t *n, char ***paths,
                   kerr *e)
{
    *v = NULL;
    *n = 0;
    *paths = NULL;
    /* the folder's URI: a file's URI without the file's name */
    char *probe = storage_uri_namespace_file(ns, "x", e);
    if (!probe) {
        kerr_prefix(e, "property 'namespace'");
        return -1;
    }
    probe[strlen(probe) - 1] = 0;
    kerr se = KERR_INIT;
    int rc = storage_list(c->storage, probe, v, n, &se);
    free(probe);
    if (rc)
        return kerr_set(e, "listing the files of namespace %s: %s", ns, se.msg);
    *paths = xcalloc(*n + 1, sizeof **paths);
    for (size_t i = 0; i < *n; i++) {
        storage_uri u;
        if (storage_uri_parse((*v)[i].uri, 0, &u, &se) == 0) {
            (*paths)[i] = xstrdup(u.name ? u.name : "");
            storage_uri_free(&u);
        } else {
            (*paths)[i] = xstrdup("");
        }
    }
    return 0;
}

/* ---- namespace.download_files ------------------------------------------------ */

static task_result download_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *dest = NULL, **paths = NULL;
    json_t *patterns = NULL, *files = NULL;
    storage_entry *v = NULL;
    size_t n = 0;
    if (prop_ns(c, PA_NSFILE_READ, &ns, e) || !(patterns = prop_patterns(c, "files", 1, e)) ||
        tasks__prop_text(c, "destination", "", &dest, e))
        goto out;
    char *d = dest;
    while (*d == '/')
        d++;
    size_t dl = strlen(d);
    while (dl && d[dl - 1] == '/')
        d[--dl] = 0;
    if (ns_list(c, ns, &v, &n, &paths, e))
        goto out;
    files = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!*paths[i] || !matches_any(patterns, paths[i]))
            continue;
        buf b = BUF_INIT;
        kerr se = KERR_INIT;
        if (storage_read_all(c->storage, v[i].uri, 0, &b, &se)) {
            kerr_set(e, "reading namespace file '/%s': %s", paths[i], se.msg);
            buf_free(&b);
            goto out;
        }
        char *name = dl ? xasprintf("%s/%s", d, paths[i]) : xstrdup(paths[i]);
        char *uri = NULL;
        int rc = tasks__put_bytes(c, name, b.data ? b.data : "", b.len, &uri, e);
        buf_free(&b);
        free(name);
        if (rc)
            goto out;
        char *key = xasprintf("/%s", paths[i]);
        json_object_set_new(files, key, json_string(uri));
        task_log(c, LEVEL_DEBUG, "Downloaded %s", key);
        free(key);
        free(uri);
    }
    task_metric(c, "downloaded", METRIC_COUNTER, (double)json_object_size(files), NULL);
    task_output(c, "files", files);
    files = NULL;
    res = TASK_SUCCESS;
out:
    storage_entries_free(v, n);
    proc_strv_free(paths);
    json_decref(patterns);
    json_decref(files);
    free(ns);
    free(dest);
    return res;
}

/* ---- namespace.delete_files -------------------------------------------------- */

static task_result delete_files_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, **paths = NULL;
    json_t *patterns = NULL;
    storage_entry *v = NULL;
    size_t n = 0;
    if (prop_ns(c, PA_NSFILE_WRITE, &ns, e) || !(patterns = prop_patterns(c, "files", 1, e)) ||
        ns_list(c, ns, &v, &n, &paths, e))
        goto out;
    int64_t deleted = 0;
    for (size_t i = 0; i < n; i++) {
        if (!*paths[i] || !matches_any(patterns, paths[i]))
            continue;
        kerr se = KERR_INIT;
        int rc = storage_delete(c->storage, v[i].uri, &se);
        if (rc < 0) {
            kerr_set(e, "deleting namespace file '/%s': %s", paths[i], se.msg);
            goto out;
        }
        if (rc == 1) {
            deleted++;
            task_log(c, LEVEL_DEBUG, "Deleted /%s", paths[i]);
        }
    }
    task_metric(c, "deleted", METRIC_COUNTER, (double)deleted, NULL);
    res = TASK_SUCCESS;
out:
    storage_entries_free(v, n);
    proc_strv_free(paths);
    json_decref(patterns);
    free(ns);
    return res;
}

/* ---- namespace.purge_files ------------------------------------------------------- */

/* Kestra keeps versions of namespace files and PurgeFiles deletes the old
 * ones (by default all but the latest). kite's namespace files have one
 * version, the latest, which a purge always keeps: the task reads its
 * scope (namespaces, filePattern, behavior), counts the files it covers and
 * deletes nothing. Output `size` (0: versions deleted), metric `files`. */
static task_result purge_files_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *nss = NULL;
    char *pattern = NULL;
    tasks__purge_behavior b;
    if (tasks__purge_namespaces(c, PA_NSFILE_WRITE, &nss, e) || tasks__prop_text(c, "filePattern", NULL, &pattern, e) ||
        tasks__purge_behavior_read(c, "version", &b, e))
        goto out;
    if (strcmp(b.type, "version")) {
        kerr_set(e, "property 'behavior': PurgeFiles purges versions (type: version)");
        goto out;
    }
    int64_t files = 0;
    size_t i;
    json_t *it;
    json_array_foreach(nss, i, it) {
        storage_entry *v = NULL;
        char **paths = NULL;
        size_t n = 0;
        if (ns_list(c, json_string_value(it), &v, &n, &paths, e))
            goto out;
        for (size_t k = 0; k < n; k++)
            if (*paths[k] && (!pattern || !*pattern || proc_glob_match(pattern, paths[k])))
                files++;
        storage_entries_free(v, n);
        proc_strv_free(paths);
    }
    task_log(c, LEVEL_INFO, "%" PRId64 " namespace file(s) in scope; kite keeps only their latest version, which "
                            "a purge keeps: nothing to delete", files);
    task_metric(c, "files", METRIC_COUNTER, (double)files, NULL);
    task_output(c, "size", json_integer(0));
    res = TASK_SUCCESS;
out:
    json_decref(nss);
    free(pattern);
    return res;
}

/* ---- namespace.upload_files -------------------------------------------------- */

typedef enum conflict { CONFLICT_OVERWRITE, CONFLICT_ERROR, CONFLICT_SKIP } conflict;

typedef struct uploader {
    task_ctx *c;
    const char *ns;
    conflict mode;
    json_t *files;   /* destination path -> namespace file URI */
} uploader;

/* Joins destination folder and a relative path into "/a/b" form (no
 * leading '/' in the result, which is a namespace file path). */
static char *join_dest(const char *dest, const char *rel)
{
    while (*dest == '/')
        dest++;
    while (*rel == '/')
        rel++;
    size_t dl = strlen(dest);
    while (dl && dest[dl - 1] == '/')
        dl--;
    return dl ? xasprintf("%.*s/%s", (int)dl, dest, rel) : xstrdup(rel);
}

/* Puts the local file src, or the storage file src_uri, at namespace path
 * `path`, minding the conflict mode. */
static int upload_one(uploader *up, const char *path, const char *src, const char *src_uri,
                      kerr *e)
{
    char *dst = storage_uri_namespace_file(up->ns, path, e);
    if (!dst) {
        kerr_prefix(e, "namespace file '/%s'", path);
        return -1;
    }
    int rc = 0;
    kerr se = KERR_INIT;
    int ex = storage_exists(up->c->storage, dst, &se);
    if (ex < 0) {
        rc = kerr_set(e, "namespace file '/%s': %s", path, se.msg);
    } else if (ex && up->mode == CONFLICT_ERROR) {
        rc = kerr_set(e, "property 'conflict': namespace file '/%s' already exists in %s "
                         "and conflict is ERROR", path, up->ns);
    } else if (ex && up->mode == CONFLICT_SKIP) {
        task_log(up->c, LEVEL_DEBUG, "skipped /%s: it exists", path);
    } else {
        if (src) {
            rc = storage_put_file(up->c->storage, dst, src, 0, &se);
        } else {
            buf b = BUF_INIT;
            rc = storage_read_all(up->c->storage, src_uri, 0, &b, &se);
            if (!rc)
                rc = storage_put(up->c->storage, dst, b.data ? b.data : "", b.len, &se);
            buf_free(&b);
        }
        if (rc)
            kerr_set(e, "uploading '/%s': %s", path, se.msg);
        else {
            char *key = xasprintf("/%s", path);
            json_object_set_new(up->files, key, json_string(dst));
            free(key);
        }
    }
    free(dst);
    return rc ? -1 : 0;
}

/* The last segment of a URI. */
static const char *uri_file_name(const char *uri)
{
    const char *s = strrchr(uri, '/');
    return s ? s + 1 : uri;
}

/* Uploads every file under the working folder matching the patterns. */
static int upload_walk(uploader *up, buf *path, size_t root_len, const json_t *patterns,
                       const char *dest, kerr *e)
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
                rc = upload_walk(up, path, root_len, patterns, dest, e);
            } else if (S_ISREG(st.st_mode) && matches_any(patterns, rel)) {
                char *target = join_dest(dest, rel);
                rc = upload_one(up, target, buf_str(path), NULL, e);
                free(target);
            }
        }
        path->len = keep;
        path->data[keep] = 0;
    }
    closedir(d);
    return rc;
}

/* files (or filesMap) as a map: destination path -> source URI. */
static int upload_map(uploader *up, const json_t *map, const char *prop, kerr *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) {
        if (!json_is_string(v))
            return kerr_set(e, "property '%s': '%s' must map to a URI", prop, k);
        kerr se = KERR_INIT;
        int ex = storage_exists(up->c->storage, json_string_value(v), &se);
        if (ex < 0)
            return kerr_set(e, "property '%s': '%s': %s", prop, k, se.msg);
        if (!ex) { /* as Kestra: a missing source is skipped */
            task_log(up->c, LEVEL_WARN, "no file at %s: '%s' not uploaded", json_string_value(v), k);
            continue;
        }
        char *target = join_dest("", k);
        int rc = upload_one(up, target, NULL, json_string_value(v), e);
        free(target);
        if (rc)
            return -1;
    }
    return 0;
}

static task_result upload_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *ns = NULL, *dest = NULL, *mode = NULL;
    json_t *files = NULL, *files_map = NULL, *globs = json_array();
    uploader up = {.c = c, .files = json_object()};
    buf path = BUF_INIT;
    if (prop_ns(c, PA_NSFILE_WRITE, &ns, e) || task_prop(c, "files", &files, e) ||
        task_prop(c, "filesMap", &files_map, e) ||
        tasks__prop_text(c, "destination", "/", &dest, e) ||
        task_prop_string(c, "conflict", "OVERWRITE", &mode, e))
        goto out;
    up.ns = ns;
    if (!strcmp(mode, "OVERWRITE"))
        up.mode = CONFLICT_OVERWRITE;
    else if (!strcmp(mode, "ERROR"))
        up.mode = CONFLICT_ERROR;
    else if (!strcmp(mode, "SKIP"))
        up.mode = CONFLICT_SKIP;
    else {
        kerr_set(e, "property 'conflict': '%s' is not OVERWRITE, ERROR or SKIP", mode);
        goto out;
    }
    if (files_map && (!json_is_object(files_map) || upload_map(&up, files_map, "filesMap", e))) {
        if (!json_is_object(files_map))
            kerr_set(e, "property 'filesMap' must be a map of destination paths to URIs");
        goto out;
    }
    if (json_is_string(files)) {
        json_t *a = json_array();
        json_array_append_new(a, files);
        files = a;
    }
    if (json_is_object(files)) {
        if (upload_map(&up, files, "files", e))
            goto out;
    } else if (json_is_array(files)) {
        size_t i;
        json_t *item;
        json_array_foreach(files, i, item) {
            if (!json_is_string(item)) {
                kerr_set(e, "property 'files': item %zu is not a URI nor a pattern", i + 1);
                goto out;
            }
            const char *s = json_string_value(item);
            if (strncmp(s, "kite://", 7) && strncmp(s, "kestra://", 9)) {
                json_array_append(globs, item);
                continue;
            }
            kerr se = KERR_INIT;
            int ex = storage_exists(c->storage, s, &se);
            if (ex < 0) {
                kerr_set(e, "property 'files': item %zu: %s", i + 1, se.msg);
                goto out;
            }
            if (!ex) {
                task_log(c, LEVEL_WARN, "no file at %s: not uploaded", s);
                continue;
            }
            char *target = join_dest(dest, uri_file_name(s));
            int rc = upload_one(&up, target, NULL, s, e);
            free(target);
            if (rc)
                goto out;
        }
        if (json_array_size(globs) && c->workdir) {
            buf_puts(&path, c->workdir);
            while (path.len > 1 && path.data[path.len - 1] == '/')
                path.data[--path.len] = 0;
            if (upload_walk(&up, &path, path.len, globs, dest, e))
                goto out;
        }
    } else if (files) {
        kerr_set(e, "property 'files' must be a list of URIs and patterns, or a map of "
                    "destination paths to URIs");
        goto out;
    }
    task_output(c, "files", up.files);
    up.files = NULL;
    res = TASK_SUCCESS;
out:
    buf_free(&path);
    json_decref(files);
    json_decref(files_map);
    json_decref(globs);
    json_decref(up.files);
    free(ns);
    free(dest);
    free(mode);
    return res;
}

static const struct task_hooks upload_hooks = {.run = upload_run};
static const struct task_hooks download_hooks = {.run = download_run};
static const struct task_hooks delete_files_hooks = {.run = delete_files_run};
static const struct task_hooks purge_files_hooks = {.run = purge_files_run};

/* ---- the family's types ---- */

const type_def tasks__namespace[] = {
    {
        .name = "namespace.upload_files",
        .hooks = &upload_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.namespace.UploadFiles"),
        .desc = "Upload files to the namespace's files.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the target namespace"),
                       PANY("files", 0, NULL, "files: list of URIs/globs, or map of "
                                              "destination to URI"),
                       PANY("filesMap", 0, NULL, "map of destination path to URI"),
                       PSTR("destination", 0, "\"/\"", "destination folder"),
                       PENUM("conflict", 0, "\"OVERWRITE\"", ENUMS("OVERWRITE", "ERROR", "SKIP"),
                             "what to do when a file exists")),
    },
    {
        .name = "namespace.download_files",
        .hooks = &download_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.namespace.DownloadFiles"),
        .desc = "Download namespace files (output `files`).",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the source namespace"),
                       PSTRL("files", PF_REQUIRED, NULL, "glob patterns of the files"),
                       PSTR("destination", 0, "\"\"", "destination folder")),
    },
    {
        .name = "namespace.delete_files",
        .hooks = &delete_files_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.namespace.DeleteFiles"),
        .desc = "Delete namespace files.",
        .props = PROPS(PSTR("namespace", PF_REQUIRED, NULL, "the namespace"),
                       PSTRL("files", PF_REQUIRED, NULL, "glob patterns of the files"),
                       PBOOL("deleteParentFolder", 0, "false",
                             "also delete folders left empty")),
    },
    {
        .name = "namespace.purge_files",
        .hooks = &purge_files_hooks,
        .aliases = ALIASES("io.kestra.plugin.core.namespace.PurgeFiles"),
        .desc = "Delete old versions of namespace files (by default all but the latest).",
        .props = PROPS(PSTR("filePattern", 0, NULL, "only files matching this glob"),
                       P_PURGE_SCOPE("files")),
    },
};

const size_t tasks__namespace_count = sizeof tasks__namespace / sizeof tasks__namespace[0];
