/*
 * sftp.c: the SFTP family: sftp.upload, sftp.uploads, sftp.download,
 * sftp.downloads, sftp.list, sftp.delete, sftp.move
 * (io.kestra.plugin.fs.sftp.*, also accepted as io.kestra.plugin.fs.ssh.*),
 * files moved between kite's internal storage and a host over SFTP
 * (libssh), on the connection code of ssh.c (ssh_int.h).
 *
 * Files are streamed in 32 KiB pieces between an SFTP handle and a storage
 * file descriptor or writer: nothing holds a whole file in memory. Remote
 * paths are used as given (absolute, or relative to the login folder);
 * outputs name remote files as Kestra does, `sftp://host:port/absolute/path`
 * (a relative path is made absolute with the server's realpath). A `from`
 * or `to` written as such a URI is read as its path. `regExp` is a Java
 * regular expression matched against the whole absolute path (PCRE2,
 * anchored at both ends, as Java's matches()). The List output is Kestra's
 * File shape: name, path, fileType (FILE or FOLDER), symbolicLink, size,
 * userId, groupId, permissions, flags, accessDate, updatedDate.
 */
#include "tasks/ssh_int.h"

#include "util/datetime.h"
#include "util/mem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <fcntl.h>
#include <libssh/sftp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (32 * 1024)

typedef struct sconn {
    ssh_session s;
    sftp_session f;
    char *base;   /* "sftp://host:port" */
} sconn;

static void sconn_close(sconn *k)
{
    if (k->f)
        sftp_free(k->f);
    tasks__ssh_close(k->s);
    free(k->base);
    memset(k, 0, sizeof *k);
}

static int sconn_open(task_ctx *c, sconn *k, kerr *e)
{
    memset(k, 0, sizeof *k);
    k->s = tasks__ssh_open(c, "keyfile", "passphrase", NULL, e);
    if (!k->s)
        return -1;
    k->f = sftp_new(k->s);
    if (!k->f || sftp_init(k->f) != SSH_OK) {
        kerr_set(e, "the SFTP subsystem could not be started: %s", ssh_get_error(k->s));
        sconn_close(k);
        return -1;
    }
    char *host = NULL, *port = NULL;
    tasks__prop_text(c, "host", NULL, &host, NULL);
    tasks__prop_text(c, "port", "22", &port, NULL);
    k->base = xasprintf("sftp://%s:%s", host ? host : "", port ? port : "22");
    free(host);
    free(port);
    return 0;
}

static const char *sftp_errtext(sconn *k)
{
    switch (sftp_get_error(k->f)) {
    case SSH_FX_NO_SUCH_FILE:
        return "no such file";
    case SSH_FX_PERMISSION_DENIED:
        return "permission denied";
    case SSH_FX_FAILURE:
        return "failure (an existing file, a folder that is not empty?)";
    case SSH_FX_OK:
        return ssh_get_error(k->s);
    default:
        return ssh_get_error(k->s);
    }
}

/* A remote path property: the text, an sftp:// URI's path, never empty. */
static int prop_path(task_ctx *c, const char *name, int required, char **out, kerr *e)
{
    if (tasks__prop_text(c, name, NULL, out, e))
        return -1;
    if (!*out || !**out) {
        free(*out);
        *out = NULL;
        return required ? kerr_set(e, "property '%s' is required (a remote path)", name) : 0;
    }
    if (!strncmp(*out, "sftp://", 7)) {
        const char *p = strchr(*out + 7, '/');
        char *t = xstrdup(p ? p : "/");
        free(*out);
        *out = t;
    }
    return 0;
}

/* The absolute form of path (the server's realpath of its folder when it
 * is relative); malloc'd. */
static char *absolute(sconn *k, const char *path)
{
    if (path[0] == '/')
        return xstrdup(path);
    char *home = sftp_canonicalize_path(k->f, ".");
    char *r = xasprintf("%s/%s", home ? home : "", path);
    if (home)
        ssh_string_free_char(home);
    return r;
}

static json_t *remote_uri(sconn *k, const char *path)
{
    char *a = absolute(k, path);
    json_t *j = json_sprintf("%s%s", k->base, a);
    free(a);
    return j;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* mkdir -p of the folder part of path. */
static void make_parents(sconn *k, const char *path)
{
    char *d = xstrdup(path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        sftp_attributes a = sftp_stat(k->f, d);
        if (a)
            sftp_attributes_free(a);
        else
            sftp_mkdir(k->f, d, 0755);
        *p = '/';
    }
    free(d);
}

/* Copies the internal file uri to the remote path. */
static int put_file(task_ctx *c, sconn *k, const char *uri, const char *path, kerr *e)
{
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, uri, &se);
    if (fd < 0)
        return kerr_set(e, "property 'from': %s", se.msg);
    make_parents(k, path);
    sftp_file f = sftp_open(k->f, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!f) {
        close(fd);
        return kerr_set(e, "%s%s: cannot be written: %s", k->base, path, sftp_errtext(k));
    }
    char b[CHUNK];
    int rc = 0;
    for (;;) {
        if (task_cancelled(c)) {
            rc = kerr_set(e, "the upload of %s was stopped (timeout or kill)", path);
            break;
        }
        ssize_t n = read(fd, b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kerr_set(e, "%s: %s", uri, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (sftp_write(f, b, (size_t)n) != n) {
            rc = kerr_set(e, "%s%s: write failed: %s", k->base, path, sftp_errtext(k));
            break;
        }
    }
    close(fd);
    if (sftp_close(f) != SSH_OK && !rc)
        rc = kerr_set(e, "%s%s: close failed: %s", k->base, path, sftp_errtext(k));
    return rc;
}

/* Copies the remote path to a new file of the task run; *uri its URI. */
static int get_file(task_ctx *c, sconn *k, const char *path, char **uri, kerr *e)
{
    *uri = NULL;
    sftp_file f = sftp_open(k->f, path, O_RDONLY, 0);
    if (!f)
        return kerr_set(e, "%s%s: cannot be read: %s", k->base, path, sftp_errtext(k));
    char *u = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id,
                                    base_name(path), e);
    storage_writer *w = u ? storage_writer_new(c->storage, u, e) : NULL;
    if (!w) {
        sftp_close(f);
        free(u);
        return -1;
    }
    char b[CHUNK];
    int rc = 0;
    for (;;) {
        if (task_cancelled(c)) {
            rc = kerr_set(e, "the download of %s was stopped (timeout or kill)", path);
            break;
        }
        ssize_t n = sftp_read(f, b, sizeof b);
        if (n < 0) {
            rc = kerr_set(e, "%s%s: read failed: %s", k->base, path, sftp_errtext(k));
            break;
        }
        if (n == 0)
            break;
        if (storage_writer_write(w, b, (size_t)n, e)) {
            rc = -1;
            break;
        }
    }
    sftp_close(f);
    if (rc) {
        storage_writer_abort(w);
        free(u);
        return rc;
    }
    if (storage_writer_commit(w, e)) {
        free(u);
        return -1;
    }
    *uri = u;
    return 0;
}

static char *iso_time(uint64_t t)
{
    char b[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(b);
}

/* Kestra's File object for one entry (attributes from lstat). */
static json_t *file_json(const char *dir, sftp_attributes a)
{
    int link = a->type == SSH_FILEXFER_TYPE_SYMLINK;
    int folder = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
    char *path = !strcmp(dir, "/") ? xasprintf("/%s", a->name) : xasprintf("%s/%s", dir, a->name);
    char *at = iso_time(a->atime), *mt = iso_time(a->mtime);
    json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:I,s:i,s:i,s:i,s:i,s:s,s:s}", "name", a->name, "path", path,
                          "fileType", folder ? "FOLDER" : "FILE", "symbolicLink", link, "size",
                          (json_int_t)a->size, "userId", (int)a->uid, "groupId", (int)a->gid, "permissions",
                          (int)a->permissions, "flags", (int)a->flags, "accessDate", at, "updatedDate", mt);
    free(path), free(at), free(mt);
    return j;
}

/* Appends the entries of dir (absolute) matching re (NULL: all) to files,
 * descending into folders when recursive. */
static int list_dir(task_ctx *c, sconn *k, const char *dir, pcre2_code *re, int recursive, json_t *files, kerr *e)
{
    sftp_dir d = sftp_opendir(k->f, dir);
    if (!d)
        return kerr_set(e, "%s%s: cannot be listed: %s", k->base, dir, sftp_errtext(k));
    json_t *subs = json_array();
    sftp_attributes a;
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    while ((a = sftp_readdir(k->f, d))) {
        if (!strcmp(a->name, ".") || !strcmp(a->name, "..")) {
            sftp_attributes_free(a);
            continue;
        }
        json_t *j = file_json(dir, a);
        const char *p = json_string_value(json_object_get(j, "path"));
        if (recursive && a->type == SSH_FILEXFER_TYPE_DIRECTORY)
            json_array_append_new(subs, json_string(p));
        if (!re || pcre2_match(re, (PCRE2_SPTR)p, strlen(p), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL) >= 0)
            json_array_append_new(files, j);
        else
            json_decref(j);
        sftp_attributes_free(a);
    }
    pcre2_match_data_free(md);
    sftp_closedir(d);
    size_t i;
    json_t *s;
    int rc = 0;
    json_array_foreach(subs, i, s) {
        if ((rc = task_cancelled(c) ? kerr_set(e, "the listing was stopped (timeout or kill)") : 0) ||
            (rc = list_dir(c, k, json_string_value(s), re, recursive, files, e)))
            break;
    }
    json_decref(subs);
    return rc;
}

/* Lists property `from` (a folder) with regExp and recursive into a new
 * array. */
static json_t *list_from(task_ctx *c, sconn *k, int dflt_recursive, kerr *e)
{
    char *from = NULL, *rx = NULL;
    int recursive = dflt_recursive;
    pcre2_code *re = NULL;
    json_t *files = NULL;
    if (prop_path(c, "from", 1, &from, e) || tasks__prop_text(c, "regExp", NULL, &rx, e) ||
        task_prop_bool(c, "recursive", dflt_recursive, &recursive, e))
        goto out;
    if (rx && *rx) {
        int err;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            kerr_set(e, "property 'regExp': at offset %zu: %s", (size_t)off, (char *)msg);
            goto out;
        }
    }
    char *abs = absolute(k, from);
    size_t l = strlen(abs);
    while (l > 1 && abs[l - 1] == '/')
        abs[--l] = '\0';
    files = json_array();
    if (list_dir(c, k, abs, re, recursive, files, e)) {
        json_decref(files);
        files = NULL;
    }
    free(abs);
out:
    pcre2_code_free(re);
    free(from);
    free(rx);
    return files;
}

/* ---- the tasks ----------------------------------------------------------------------------- */

static task_result upload_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *from = NULL, *to = NULL, *dest = NULL;
    task_result res = TASK_FAILED;
    if (tasks__prop_text(c, "from", NULL, &from, e) || prop_path(c, "to", 0, &to, e))
        goto out;
    if (!from || !*from) {
        kerr_set(e, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (sconn_open(c, &k, e))
        goto out;
    const char *name = base_name(from);
    dest = !to ? xstrdup(name) : to[strlen(to) - 1] == '/' ? xasprintf("%s%s", to, name) : xstrdup(to);
    if (put_file(c, &k, from, dest, e))
        goto out;
    task_output(c, "from", json_string(from));
    task_output(c, "to", remote_uri(&k, dest));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    free(from), free(to), free(dest);
    return res;
}

/* The (name or NULL, URI) pairs of Uploads' `from`: one URI, a list, or a
 * map of remote file names to URIs. */
static int uploads_from(task_ctx *c, json_t **pairs, kerr *e)
{
    json_t *v = NULL;
    *pairs = json_array();
    if (task_prop(c, "from", &v, e))
        return -1;
    if (json_is_string(v)) {
        json_array_append_new(*pairs, json_pack("[n,O]", v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) {
            if (!json_is_string(it)) {
                json_decref(v);
                return kerr_set(e, "property 'from': item %zu is not a kestra:/// URI", i);
            }
            json_array_append_new(*pairs, json_pack("[n,O]", it));
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *it;
        json_object_foreach(v, key, it) {
            if (!json_is_string(it)) {
                json_decref(v);
                return kerr_set(e, "property 'from': '%s' is not a kestra:/// URI", key);
            }
            json_array_append_new(*pairs, json_pack("[s,O]", key, it));
        }
    } else {
        json_decref(v);
        return kerr_set(e, "property 'from' is required: a kestra:/// URI, a list of them or a map name -> URI");
    }
    json_decref(v);
    return 0;
}

static task_result uploads_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *to = NULL;
    json_t *pairs = NULL, *files = json_array();
    int64_t max = 25;
    task_result res = TASK_FAILED;
    if (uploads_from(c, &pairs, e) || prop_path(c, "to", 1, &to, e) || task_prop_int(c, "maxFiles", 25, &max, e))
        goto out;
    if (json_array_size(pairs) > (size_t)max) {
        task_log(c, LEVEL_WARN, "Too many files to process (%zu), limiting to %lld", json_array_size(pairs), (long long)max);
        while (json_array_size(pairs) > (size_t)max)
            json_array_remove(pairs, json_array_size(pairs) - 1);
    }
    if (sconn_open(c, &k, e))
        goto out;
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p) {
        const char *name = json_string_value(json_array_get(p, 0));
        const char *uri = json_string_value(json_array_get(p, 1));
        char *dest = xasprintf("%s%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/", name ? name : base_name(uri));
        int rc = put_file(c, &k, uri, dest, e);
        if (!rc)
            json_array_append_new(files, remote_uri(&k, dest));
        free(dest);
        if (rc)
            goto out;
    }
    task_output(c, "files", json_incref(files));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    json_decref(pairs);
    json_decref(files);
    free(to);
    return res;
}

static task_result download_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *from = NULL, *uri = NULL;
    task_result res = TASK_FAILED;
    if (prop_path(c, "from", 1, &from, e) || sconn_open(c, &k, e) || get_file(c, &k, from, &uri, e))
        goto out;
    task_output(c, "from", remote_uri(&k, from));
    task_output(c, "to", json_string(uri));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    free(from), free(uri);
    return res;
}

/* After Downloads: moves (into moveDirectory) or deletes the remote file. */
static int archive(sconn *k, const char *action, const char *movedir, const char *path, kerr *e)
{
    if (!strcmp(action, "DELETE")) {
        if (sftp_unlink(k->f, path) != SSH_OK)
            return kerr_set(e, "%s%s: cannot be deleted: %s", k->base, path, sftp_errtext(k));
    } else if (!strcmp(action, "MOVE")) {
        char *dest = xasprintf("%s%s%s", movedir, movedir[strlen(movedir) - 1] == '/' ? "" : "/", base_name(path));
        make_parents(k, dest);
        sftp_unlink(k->f, dest);
        int rc = sftp_rename(k->f, path, dest);
        free(dest);
        if (rc != SSH_OK)
            return kerr_set(e, "%s%s: cannot be moved to %s: %s", k->base, path, movedir, sftp_errtext(k));
    }
    return 0;
}

static task_result downloads_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *action = NULL, *movedir = NULL;
    json_t *files = NULL, *out = json_array(), *outfiles = json_object();
    task_result res = TASK_FAILED;
    if (tasks__prop_text(c, "action", "NONE", &action, e) || prop_path(c, "moveDirectory", 0, &movedir, e))
        goto out;
    if (strcmp(action, "NONE") && strcmp(action, "MOVE") && strcmp(action, "DELETE")) {
        kerr_set(e, "property 'action': '%s' is not one of MOVE, DELETE, NONE", action);
        goto out;
    }
    if (!strcmp(action, "MOVE") && !movedir) {
        kerr_set(e, "property 'moveDirectory' is required with action MOVE");
        goto out;
    }
    if (sconn_open(c, &k, e) || !(files = list_from(c, &k, 0, e)))
        goto out;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        if (strcmp(json_string_value(json_object_get(f, "fileType")), "FILE"))
            continue;
        const char *path = json_string_value(json_object_get(f, "path"));
        char *uri = NULL;
        if (get_file(c, &k, path, &uri, e))
            goto out;
        json_t *o = json_deep_copy(f);
        json_object_set_new(o, "path", json_string(uri));
        json_array_append_new(out, o);
        json_object_set_new(outfiles, json_string_value(json_object_get(f, "name")), json_string(uri));
        free(uri);
    }
    json_array_foreach(files, i, f) {
        if (strcmp(json_string_value(json_object_get(f, "fileType")), "FILE"))
            continue;
        if (archive(&k, action, movedir, json_string_value(json_object_get(f, "path")), e))
            goto out;
    }
    task_output(c, "files", json_incref(out));
    task_output(c, "outputFiles", json_incref(outfiles));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    json_decref(files), json_decref(out), json_decref(outfiles);
    free(action), free(movedir);
    return res;
}

static task_result list_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    json_t *files = NULL;
    task_result res = TASK_FAILED;
    if (sconn_open(c, &k, e) || !(files = list_from(c, &k, 0, e)))
        goto out;
    task_output(c, "files", files);
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    return res;
}

static task_result delete_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *path = NULL;
    int must = 0;
    task_result res = TASK_FAILED;
    if (prop_path(c, "uri", 1, &path, e) || task_prop_bool(c, "errorOnMissing", 0, &must, e) || sconn_open(c, &k, e))
        goto out;
    int deleted = 1;
    if (sftp_unlink(k.f, path) != SSH_OK) {
        if (sftp_get_error(k.f) != SSH_FX_NO_SUCH_FILE) {
            kerr_set(e, "%s%s: cannot be deleted: %s", k.base, path, sftp_errtext(&k));
            goto out;
        }
        if (must) {
            kerr_set(e, "%s%s: no such file (errorOnMissing)", k.base, path);
            goto out;
        }
        deleted = 0;
    }
    task_output(c, "uri", remote_uri(&k, path));
    task_output(c, "deleted", json_boolean(deleted));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    free(path);
    return res;
}

static task_result move_run(task_ctx *c, kerr *e)
{
    sconn k = {0};
    char *from = NULL, *to = NULL, *dest = NULL;
    task_result res = TASK_FAILED;
    if (prop_path(c, "from", 1, &from, e) || prop_path(c, "to", 1, &to, e) || sconn_open(c, &k, e))
        goto out;
    dest = to[strlen(to) - 1] == '/' ? xasprintf("%s%s", to, base_name(from)) : xstrdup(to);
    sftp_attributes a = sftp_stat(k.f, from);
    if (!a) {
        kerr_set(e, "%s%s: cannot be moved: %s", k.base, from, sftp_errtext(&k));
        goto out;
    }
    sftp_attributes_free(a);
    make_parents(&k, dest);
    sftp_unlink(k.f, dest); /* "If the destFile exists, it is deleted first." */
    if (sftp_rename(k.f, from, dest) != SSH_OK) {
        kerr_set(e, "%s%s: cannot be moved to %s: %s", k.base, from, dest, sftp_errtext(&k));
        goto out;
    }
    task_output(c, "from", remote_uri(&k, from));
    task_output(c, "to", remote_uri(&k, dest));
    res = TASK_SUCCESS;
out:
    sconn_close(&k);
    free(from), free(to), free(dest);
    return res;
}

static const struct task_hooks upload_hooks = {.run = upload_run};
static const struct task_hooks uploads_hooks = {.run = uploads_run};
static const struct task_hooks download_hooks = {.run = download_run};
static const struct task_hooks downloads_hooks = {.run = downloads_run};
static const struct task_hooks list_hooks = {.run = list_run};
static const struct task_hooks delete_hooks = {.run = delete_run};
static const struct task_hooks move_hooks = {.run = move_run};

/* ---- the family's types ---- */

#define P_SFTP_CONN                                                                      \
    P_SSH_CONN,                                                                          \
    PSTR("keyfile", 0, NULL, "the private key's text (OpenSSH or PEM)"),                 \
    PSTR("passphrase", 0, NULL, "the private key's passphrase"),                         \
    PBOOL("rootDir", 0, "true", "paths are absolute (kite: a relative path is relative " \
                                "to the login folder either way)")

const type_def tasks__sftp[] = {
    {
        .name = "sftp.upload",
        .hooks = &upload_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Upload", "io.kestra.plugin.fs.ssh.Upload"),
        .desc = "Upload an internal file to a host over SFTP (outputs from, to).",
        .props = PROPS(P_SFTP_CONN, PSTR("from", PF_REQUIRED, NULL, "the kestra:/// URI of the file"),
                       PSTR("to", 0, NULL, "the remote path (a folder when it ends with '/'; default: the file's name)")),
    },
    {
        .name = "sftp.uploads",
        .hooks = &uploads_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Uploads", "io.kestra.plugin.fs.ssh.Uploads"),
        .desc = "Upload internal files into a remote folder over SFTP (output files).",
        .props = PROPS(P_SFTP_CONN,
                       PANY("from", PF_REQUIRED, NULL, "a kestra:/// URI, a list of them, or a map remote name -> URI"),
                       PSTR("to", PF_REQUIRED, NULL, "the remote folder"),
                       PINT("maxFiles", 0, "25", "at most this many files")),
    },
    {
        .name = "sftp.download",
        .hooks = &download_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Download", "io.kestra.plugin.fs.ssh.Download"),
        .desc = "Download a remote file into internal storage over SFTP (outputs from, to).",
        .props = PROPS(P_SFTP_CONN, PSTR("from", PF_REQUIRED, NULL, "the remote path")),
    },
    {
        .name = "sftp.downloads",
        .hooks = &downloads_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Downloads", "io.kestra.plugin.fs.ssh.Downloads"),
        .desc = "Download the files of a remote folder over SFTP, then move or delete them (outputs files, "
                "outputFiles).",
        .props = PROPS(P_SFTP_CONN, PSTR("from", PF_REQUIRED, NULL, "the remote folder"),
                       PSTR("regExp", 0, NULL, "a regular expression the whole path must match"),
                       PBOOL("recursive", 0, "false", "also the files of its subfolders"),
                       PENUM("action", 0, "\"NONE\"", ENUMS("MOVE", "DELETE", "NONE"), "what to do with the remote files after"),
                       PSTR("moveDirectory", 0, NULL, "where MOVE puts them")),
    },
    {
        .name = "sftp.list",
        .hooks = &list_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.List", "io.kestra.plugin.fs.ssh.List"),
        .desc = "List a remote folder over SFTP (output files).",
        .props = PROPS(P_SFTP_CONN, PSTR("from", PF_REQUIRED, NULL, "the remote folder"),
                       PSTR("regExp", 0, NULL, "a regular expression the whole path must match"),
                       PBOOL("recursive", 0, "false", "list subfolders too")),
    },
    {
        .name = "sftp.delete",
        .hooks = &delete_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Delete", "io.kestra.plugin.fs.ssh.Delete"),
        .desc = "Delete a remote file over SFTP (outputs uri, deleted).",
        .props = PROPS(P_SFTP_CONN, PSTR("uri", PF_REQUIRED, NULL, "the remote path"),
                       PBOOL("errorOnMissing", 0, "false", "fail when the file does not exist")),
    },
    {
        .name = "sftp.move",
        .hooks = &move_hooks,
        .needs = dl_ssh_load,
        .aliases = ALIASES("io.kestra.plugin.fs.sftp.Move", "io.kestra.plugin.fs.ssh.Move"),
        .desc = "Move or rename a remote file over SFTP (outputs from, to).",
        .props = PROPS(P_SFTP_CONN, PSTR("from", PF_REQUIRED, NULL, "the remote path"),
                       PSTR("to", PF_REQUIRED, NULL, "the new path (a folder when it ends with '/'); an existing "
                                                    "file there is replaced")),
    },
};

const size_t tasks__sftp_count = sizeof tasks__sftp / sizeof tasks__sftp[0];
