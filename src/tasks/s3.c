/*
 * s3.c: the S3 family: Kestra's io.kestra.plugin.aws.s3 tasks Upload,
 * Download, Downloads, List, Delete, DeleteList, Copy and CreateBucket, on
 * util/s3 (libcurl with SigV4, multipart uploads streamed from internal
 * storage one part at a time, retries on 5xx and throttling).
 *
 * Every task takes Kestra's connection properties: region,
 * endpointOverride, accessKeyId, secretKeyId, sessionToken, forcePathStyle
 * and compatibilityMode (accepted; kite's client speaks plain S3 always, so
 * S3-compatible servers need nothing more). Without keys, the AWS_*
 * environment variables are used. The table of types is at the end.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tasks/tasks_int.h"

#include "util/httpc.h"
#include "util/mem.h"
#include "util/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- connection ------------------------------------------------------------------------ */

static s3_client *connect_s3(task_ctx *c, kerr *e)
{
    char *region = NULL, *endpoint = NULL, *ak = NULL, *sk = NULL, *tok = NULL;
    int path_style = 0, compat = 0;
    s3_client *cl = NULL;
    if (tasks__prop_text(c, "region", NULL, &region, e) || tasks__prop_text(c, "endpointOverride", NULL, &endpoint, e) ||
        tasks__prop_text(c, "accessKeyId", NULL, &ak, e) || tasks__prop_text(c, "secretKeyId", NULL, &sk, e) ||
        tasks__prop_text(c, "sessionToken", NULL, &tok, e) ||
        task_prop_bool(c, "forcePathStyle", 0, &path_style, e) ||
        task_prop_bool(c, "compatibilityMode", 0, &compat, e))
        goto out;
    /* a key written in the flow (not from secret()) is masked too */
    if (sk && *sk)
        task_secret(c, sk);
    if (tok && *tok)
        task_secret(c, tok);
    if ((ak && *ak) != (sk && *sk)) {
        kerr_set(e, "properties 'accessKeyId' and 'secretKeyId' go together: give both or neither");
        goto out;
    }
    s3_conf conf = {.endpoint = endpoint, .region = region, .access_key = ak && *ak ? ak : NULL,
                    .secret_key = sk && *sk ? sk : NULL, .session_token = tok && *tok ? tok : NULL,
                    .path_style = path_style};
    const char *ps = getenv("KITE_S3_PART_SIZE"); /* tests: small parts */
    if (ps)
        conf.part_size = (size_t)strtoull(ps, NULL, 10);
    cl = s3_new(&conf, e);
out:
    free(region);
    free(endpoint);
    free(ak);
    if (sk)
        explicit_bzero(sk, strlen(sk));
    free(sk);
    free(tok);
    return cl;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ETags come quoted from S3; Kestra's outputs carry them as S3 sent them. */

/* ---- Upload ------------------------------------------------------------------------------ */

static int upload_one(task_ctx *c, s3_client *cl, const char *bucket, const char *key, const char *from,
                      const char *ctype, const char *const *meta, s3_put_result *r, kerr *e)
{
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0)
        return kerr_set(e, "property 'from': %s", se.msg);
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0)
        rc = s3_put_fd(cl, bucket, key, fd, st.st_size, ctype, meta, r, e);
    else
        kerr_set(e, "property 'from': %s: %s", from, strerror(errno));
    close(fd);
    if (!rc)
        task_log(c, LEVEL_INFO, "uploaded %s to s3://%s/%s (%lld bytes%s)", from, bucket, key,
                 (long long)st.st_size, r->parts ? ", multipart" : "");
    return rc;
}

static task_result upload_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL, *key = NULL, *ctype = NULL;
    json_t *from = NULL, *meta = NULL;
    const char **mv = NULL;
    s3_client *cl = NULL;
    if (tasks__prop_required(c, "bucket", &bucket, e) || tasks__prop_required(c, "key", &key, e) ||
        tasks__prop_text(c, "contentType", NULL, &ctype, e) || task_prop(c, "from", &from, e) ||
        task_prop(c, "metadata", &meta, e))
        goto out;
    if (!from || !(json_is_string(from) || json_is_array(from) || json_is_object(from))) {
        kerr_set(e, "property 'from' is required: a kestra:/// URI, a list of them, or a map of key to URI");
        goto out;
    }
    if (json_is_object(meta)) {
        mv = xcalloc(json_object_size(meta) * 2 + 1, sizeof *mv);
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) {
                kerr_set(e, "property 'metadata': the value of '%s' must be a string", k);
                goto out;
            }
            mv[i++] = k;
            mv[i++] = json_string_value(v);
        }
    }
    if (!(cl = connect_s3(c, e)))
        goto out;
    if (json_is_string(from)) {
        s3_put_result r;
        if (upload_one(c, cl, bucket, key, json_string_value(from), ctype, mv, &r, e))
            goto out;
        task_output(c, "bucket", json_string(bucket));
        task_output(c, "key", json_string(key));
        task_output(c, "eTag", str_or_null(r.etag));
        task_output(c, "versionId", str_or_null(r.version_id));
        s3_put_result_clear(&r);
    } else {
        /* several files: key is a prefix (Kestra: a "directory"); a list uses
         * each file's name, a map its keys */
        size_t kl = strlen(key);
        const char *sep = kl && key[kl - 1] == '/' ? "" : "/";
        json_t *files = json_object();
        size_t i;
        json_t *v;
        const char *mk;
        void *it = json_is_object(from) ? json_object_iter(from) : NULL;
        for (i = 0;; i++) {
            const char *uri, *name;
            if (json_is_array(from)) {
                if (i >= json_array_size(from))
                    break;
                v = json_array_get(from, i);
                uri = json_string_value(v);
                name = uri ? strrchr(uri, '/') : NULL;
                name = name ? name + 1 : uri;
            } else {
                if (!it)
                    break;
                mk = json_object_iter_key(it);
                v = json_object_iter_value(it);
                it = json_object_iter_next(from, it);
                uri = json_string_value(v);
                name = mk;
            }
            if (!uri) {
                kerr_set(e, "property 'from': item %zu is not a kestra:/// URI", i);
                json_decref(files);
                goto out;
            }
            char *k2 = xasprintf("%s%s%s", key, sep, name);
            s3_put_result r;
            int rc = upload_one(c, cl, bucket, k2, uri, ctype, mv, &r, e);
            if (!rc)
                json_object_set_new(files, k2, json_pack("{s:s,s:o,s:o}", "key", k2, "eTag", str_or_null(r.etag),
                                                          "versionId", str_or_null(r.version_id)));
            s3_put_result_clear(&r);
            free(k2);
            if (rc) {
                json_decref(files);
                goto out;
            }
        }
        task_output(c, "bucket", json_string(bucket));
        task_output(c, "key", json_string(key));
        task_output(c, "files", files);
    }
    task_metric(c, "s3.requests", METRIC_COUNTER, (double)s3_requests(cl), NULL);
    res = TASK_SUCCESS;
out:
    s3_free(cl);
    free(mv);
    json_decref(from);
    json_decref(meta);
    free(bucket);
    free(key);
    free(ctype);
    return res;
}

/* ---- Download(s) ------------------------------------------------------------------------ */

/* Downloads bucket/key into the task run's files; *uri gets its kestra:/// URI. */
static int download_one(task_ctx *c, s3_client *cl, const char *bucket, const char *key, char **uri,
                        s3_get_result *g, kerr *e)
{
    char *tmp = NULL;
    FILE *f = tasks__tmp_file(c, &tmp, e);
    if (!f)
        return -1;
    int rc = s3_get_fd(cl, bucket, key, fileno(f), g, e);
    if (fclose(f) && !rc)
        rc = kerr_set(e, "writing the download of %s: %s", key, strerror(errno));
    if (!rc) {
        const char *name = strrchr(key, '/');
        name = name && name[1] ? name + 1 : key;
        rc = task_store_file(c, tmp, name, uri, e);
    }
    unlink(tmp);
    free(tmp);
    return rc;
}

static task_result download_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL, *key = NULL, *uri = NULL;
    s3_client *cl = NULL;
    if (tasks__prop_required(c, "bucket", &bucket, e) || tasks__prop_required(c, "key", &key, e) || !(cl = connect_s3(c, e)))
        goto out;
    s3_get_result g;
    if (download_one(c, cl, bucket, key, &uri, &g, e))
        goto out;
    task_log(c, LEVEL_INFO, "downloaded s3://%s/%s (%lld bytes)", bucket, key, (long long)g.size);
    json_t *meta = json_object();
    for (char **m = g.meta; m && m[0] && m[1]; m += 2)
        json_object_set_new(meta, m[0], json_string(m[1]));
    task_output(c, "uri", json_string(uri));
    task_output(c, "contentLength", json_integer(g.size));
    task_output(c, "contentType", str_or_null(g.content_type));
    task_output(c, "metadata", meta);
    task_output(c, "eTag", str_or_null(g.etag));
    task_output(c, "versionId", str_or_null(g.version_id));
    s3_get_result_clear(&g);
    res = TASK_SUCCESS;
out:
    s3_free(cl);
    free(bucket);
    free(key);
    free(uri);
    return res;
}

/* ---- listing, shared by List, Downloads and DeleteList ------------------------------------ */

/* Lists bucket/prefix with the task's delimiter, marker, maxKeys, regexp and
 * filter (FILES, DIRECTORY, BOTH); limit 0: all. */
static int list_filtered(task_ctx *c, s3_client *cl, const char *bucket, size_t limit, int dflt_files_only,
                         s3_object **out, size_t *n, kerr *e)
{
    char *prefix = NULL, *delim = NULL, *marker = NULL, *regexp = NULL, *filter = NULL;
    int64_t maxk = 1000;
    pcre2_code *re = NULL;
    int rc = -1;
    *out = NULL;
    *n = 0;
    if (tasks__prop_text(c, "prefix", NULL, &prefix, e) || tasks__prop_text(c, "delimiter", NULL, &delim, e) ||
        tasks__prop_text(c, "marker", NULL, &marker, e) || tasks__prop_text(c, "regexp", NULL, &regexp, e) ||
        tasks__prop_text(c, "filter", dflt_files_only ? "FILES" : "BOTH", &filter, e) ||
        task_prop_int(c, "maxKeys", 1000, &maxk, e))
        goto out;
    if (maxk < 1 || maxk > 1000) {
        kerr_set(e, "property 'maxKeys': %lld is not from 1 to 1000", (long long)maxk);
        goto out;
    }
    int want_files = strcmp(filter, "DIRECTORY") != 0, want_dirs = strcmp(filter, "FILES") != 0;
    if (strcmp(filter, "FILES") && strcmp(filter, "DIRECTORY") && strcmp(filter, "BOTH")) {
        kerr_set(e, "property 'filter': '%s' is not FILES, DIRECTORY or BOTH", filter);
        goto out;
    }
    if (regexp && *regexp) {
        int err;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)regexp, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF,
                           &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            kerr_set(e, "property 'regexp': %s at offset %zu", (char *)msg, (size_t)off);
            goto out;
        }
    }
    s3_list_query q = {.prefix = prefix, .delimiter = delim, .start_after = marker, .max_keys = (size_t)maxk};
    s3_object *all = NULL;
    size_t na = 0;
    if (s3_list(cl, bucket, &q, &all, &na, e))
        goto out;
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    for (size_t i = 0; i < na; i++) {
        /* a key ending in '/' is a "directory" object, as Kestra's filter sees it */
        size_t kl = strlen(all[i].key);
        int is_dir = all[i].is_prefix || (kl && all[i].key[kl - 1] == '/');
        int keep = (is_dir ? want_dirs : want_files) && (!limit || *n < limit);
        if (keep && re)
            keep = pcre2_match(re, (PCRE2_SPTR)all[i].key, kl, 0, 0, md, NULL) >= 0;
        if (keep) {
            *out = xrealloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = all[i];
        } else {
            free(all[i].key);
            free(all[i].etag);
            free(all[i].last_modified);
        }
    }
    free(all);
    pcre2_match_data_free(md);
    rc = 0;
out:
    pcre2_code_free(re);
    free(prefix);
    free(delim);
    free(marker);
    free(regexp);
    free(filter);
    return rc;
}

static json_t *object_json(const char *bucket, const s3_object *o)
{
    json_t *j = json_pack("{s:s,s:o,s:I,s:o}", "key", o->key, "etag", str_or_null(o->etag), "size",
                          (json_int_t)o->size, "lastModified", str_or_null(o->last_modified));
    json_object_set_new(j, "uri", json_sprintf("s3://%s/%s", bucket, o->key));
    return j;
}

static task_result list_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL;
    s3_client *cl = NULL;
    int64_t max_files = 25;
    s3_object *v = NULL;
    size_t n = 0;
    if (tasks__prop_required(c, "bucket", &bucket, e) || task_prop_int(c, "maxFiles", 25, &max_files, e) ||
        !(cl = connect_s3(c, e)) || list_filtered(c, cl, bucket, 0, 0, &v, &n, e))
        goto out;
    if (max_files > 0 && n > (size_t)max_files) {
        task_log(c, LEVEL_WARN, "%zu objects match, more than maxFiles (%lld): only the first %lld are listed", n,
                 (long long)max_files, (long long)max_files);
        for (size_t i = (size_t)max_files; i < n; i++) {
            free(v[i].key);
            free(v[i].etag);
            free(v[i].last_modified);
        }
        n = (size_t)max_files;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, object_json(bucket, &v[i]));
    task_output(c, "objects", a);
    res = TASK_SUCCESS;
out:
    s3_objects_free(v, n);
    s3_free(cl);
    free(bucket);
    return res;
}

/* The action of Downloads on each object once it was read: MOVE (to
 * moveTo.bucket / moveTo.key + the object's name), DELETE or NONE. */
static int after_action(task_ctx *c, s3_client *cl, const char *bucket, const char *key, kerr *e)
{
    char *action = NULL;
    json_t *move = NULL;
    int rc = -1;
    if (tasks__prop_text(c, "action", NULL, &action, e) || task_prop(c, "moveTo", &move, e))
        goto out;
    if (!action) {
        kerr_set(e, "property 'action' is required: MOVE, DELETE or NONE");
        goto out;
    }
    if (!strcmp(action, "NONE")) {
        rc = 0;
    } else if (!strcmp(action, "DELETE")) {
        rc = s3_delete(cl, bucket, key, NULL, NULL, e);
    } else if (!strcmp(action, "MOVE")) {
        const char *tb = json_string_value(json_object_get(move, "bucket"));
        const char *tk = json_string_value(json_object_get(move, "key"));
        if (!tk) {
            kerr_set(e, "property 'moveTo': MOVE needs moveTo.key (and moveTo.bucket, by default the same bucket)");
            goto out;
        }
        const char *name = strrchr(key, '/');
        name = name ? name + 1 : key;
        size_t tl = strlen(tk);
        char *dst = xasprintf("%s%s%s", tk, tl && tk[tl - 1] == '/' ? "" : "/", name);
        s3_put_result r;
        rc = s3_copy(cl, bucket, key, NULL, tb ? tb : bucket, dst, &r, e);
        s3_put_result_clear(&r);
        if (!rc)
            rc = s3_delete(cl, bucket, key, NULL, NULL, e);
        free(dst);
    } else {
        kerr_set(e, "property 'action': '%s' is not MOVE, DELETE or NONE", action);
    }
out:
    free(action);
    json_decref(move);
    return rc;
}

/* Downloads (fire NULL) and the Trigger's poll: lists, downloads each
 * object into the run's files, then applies `action`. The task applies it
 * object by object; the Trigger fires first with the objects and applies it
 * only once the execution exists, so that a crash in between starts the
 * flow twice, never zero times. Returns 1 when it fired (or, for the task,
 * finished), 0 when the Trigger found nothing, -1 with e set. */
static int downloads(task_ctx *c, task_fire_fn fire, kerr *e)
{
    int res = -1;
    char *bucket = NULL, *action = NULL;
    s3_client *cl = NULL;
    int64_t max_files = 25;
    s3_object *v = NULL;
    size_t n = 0;
    json_t *objs = NULL, *files = NULL;
    if (tasks__prop_required(c, "bucket", &bucket, e) || tasks__prop_required(c, "action", &action, e) ||
        task_prop_int(c, "maxFiles", 25, &max_files, e) || !(cl = connect_s3(c, e)) ||
        list_filtered(c, cl, bucket, 0, 1, &v, &n, e))
        goto out;
    if (fire && !n) {
        res = 0;
        goto out;
    }
    if (max_files > 0 && n > (size_t)max_files) {
        task_log(c, LEVEL_WARN, "%zu objects match, more than maxFiles (%lld): only the first %lld are downloaded",
                 n, (long long)max_files, (long long)max_files);
        for (size_t i = (size_t)max_files; i < n; i++) {
            free(v[i].key);
            free(v[i].etag);
            free(v[i].last_modified);
        }
        n = (size_t)max_files;
    }
    objs = json_array();
    files = json_object();
    for (size_t i = 0; i < n; i++) {
        char *uri = NULL;
        s3_get_result g;
        if (download_one(c, cl, bucket, v[i].key, &uri, &g, e))
            goto out;
        s3_get_result_clear(&g);
        json_t *o = object_json(bucket, &v[i]);
        json_object_set_new(o, "uri", json_string(uri));
        json_array_append_new(objs, o);
        json_object_set_new(files, v[i].key, json_string(uri));
        free(uri);
        if (!fire && after_action(c, cl, bucket, v[i].key, e))
            goto out;
    }
    if (fire) {
        json_t *vars = json_pack("{s:O}", "objects", objs);
        if (fire(c, vars, e))
            goto out;
        for (size_t i = 0; i < n; i++)
            if (after_action(c, cl, bucket, v[i].key, e)) {
                kerr_prefix(e, "the flow was started, but %s of s3://%s/%s failed (the object will be seen again)",
                            action, bucket, v[i].key);
                res = 1;
                goto out;
            }
    } else {
        task_log(c, LEVEL_INFO, "downloaded %zu objects from s3://%s (action %s)", n, bucket, action);
        task_output(c, "objects", json_incref(objs));
        task_output(c, "outputFiles", json_incref(files));
    }
    res = 1;
out:
    json_decref(objs);
    json_decref(files);
    s3_objects_free(v, n);
    s3_free(cl);
    free(bucket);
    free(action);
    return res;
}

static task_result downloads_run(task_ctx *c, kerr *e)
{
    return downloads(c, NULL, e) < 0 ? TASK_FAILED : TASK_SUCCESS;
}

static int trigger_poll(task_ctx *c, task_fire_fn fire, kerr *e)
{
    return downloads(c, fire, e);
}

/* ---- Delete, DeleteList, Copy, CreateBucket ------------------------------------------------- */

static task_result delete_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL, *key = NULL, *ver = NULL;
    int marker = 0;
    s3_client *cl = NULL;
    if (tasks__prop_required(c, "bucket", &bucket, e) || tasks__prop_required(c, "key", &key, e) || !(cl = connect_s3(c, e)) ||
        s3_delete(cl, bucket, key, &ver, &marker, e))
        goto out;
    task_output(c, "versionId", str_or_null(ver));
    task_output(c, "deleteMarker", json_boolean(marker));
    res = TASK_SUCCESS;
out:
    s3_free(cl);
    free(bucket);
    free(key);
    free(ver);
    return res;
}

static task_result delete_list_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL;
    int error_on_empty = 0;
    s3_client *cl = NULL;
    s3_object *v = NULL;
    size_t n = 0;
    if (tasks__prop_required(c, "bucket", &bucket, e) || task_prop_bool(c, "errorOnEmpty", 0, &error_on_empty, e) ||
        !(cl = connect_s3(c, e)) || list_filtered(c, cl, bucket, 0, 1, &v, &n, e))
        goto out;
    if (!n && error_on_empty) {
        kerr_set(e, "no object matched in bucket %s (errorOnEmpty)", bucket);
        goto out;
    }
    char **keys = xcalloc(n ? n : 1, sizeof *keys);
    int64_t size = 0;
    for (size_t i = 0; i < n; i++) {
        keys[i] = v[i].key;
        size += v[i].size;
    }
    int rc = s3_delete_many(cl, bucket, keys, n, e);
    free(keys);
    if (rc)
        goto out;
    task_log(c, LEVEL_INFO, "deleted %zu objects (%lld bytes) from s3://%s", n, (long long)size, bucket);
    task_output(c, "count", json_integer((json_int_t)n));
    task_output(c, "size", json_integer(size));
    res = TASK_SUCCESS;
out:
    s3_objects_free(v, n);
    s3_free(cl);
    free(bucket);
    return res;
}

static task_result copy_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    json_t *from = NULL, *to = NULL;
    int del = 0;
    s3_client *cl = NULL;
    if (task_prop(c, "from", &from, e) || task_prop(c, "to", &to, e) || task_prop_bool(c, "delete", 0, &del, e))
        goto out;
    const char *fb = json_string_value(json_object_get(from, "bucket"));
    const char *fk = json_string_value(json_object_get(from, "key"));
    const char *fv = json_string_value(json_object_get(from, "versionId"));
    const char *tb = json_string_value(json_object_get(to, "bucket"));
    const char *tk = json_string_value(json_object_get(to, "key"));
    if (!fb || !fk) {
        kerr_set(e, "property 'from': bucket and key are required");
        goto out;
    }
    if (!tk)
        tk = fk;
    if (!tb)
        tb = fb;
    if (!(cl = connect_s3(c, e)))
        goto out;
    s3_put_result r;
    if (s3_copy(cl, fb, fk, fv, tb, tk, &r, e))
        goto out;
    if (del && s3_delete(cl, fb, fk, NULL, NULL, e)) {
        s3_put_result_clear(&r);
        goto out;
    }
    task_log(c, LEVEL_INFO, "copied s3://%s/%s to s3://%s/%s%s", fb, fk, tb, tk, del ? " (source deleted)" : "");
    task_output(c, "bucket", json_string(tb));
    task_output(c, "key", json_string(tk));
    task_output(c, "eTag", str_or_null(r.etag));
    task_output(c, "versionId", str_or_null(r.version_id));
    s3_put_result_clear(&r);
    res = TASK_SUCCESS;
out:
    s3_free(cl);
    json_decref(from);
    json_decref(to);
    return res;
}

static task_result create_bucket_run(task_ctx *c, kerr *e)
{
    task_result res = TASK_FAILED;
    char *bucket = NULL, *region = NULL;
    s3_client *cl = NULL;
    if (tasks__prop_required(c, "bucket", &bucket, e) || tasks__prop_text(c, "region", "us-east-1", &region, e) ||
        !(cl = connect_s3(c, e)) || s3_create_bucket(cl, bucket, e))
        goto out;
    task_output(c, "bucket", json_string(bucket));
    task_output(c, "region", json_string(region));
    res = TASK_SUCCESS;
out:
    s3_free(cl);
    free(bucket);
    free(region);
    return res;
}

static const struct task_hooks upload_hooks = {.run = upload_run};
static const struct task_hooks download_hooks = {.run = download_run};
static const struct task_hooks downloads_hooks = {.run = downloads_run};
static const struct task_hooks list_hooks = {.run = list_run};
static const struct task_hooks delete_hooks = {.run = delete_run};
static const struct task_hooks delete_list_hooks = {.run = delete_list_run};
static const struct task_hooks copy_hooks = {.run = copy_run};
static const struct task_hooks create_bucket_hooks = {.run = create_bucket_run};
static const struct task_hooks trigger_hooks = {.poll = trigger_poll};

/* ---- the family's types ---- */

#define P_S3_CONN                                                                                      \
    PSTR("region", 0, NULL, "the AWS region (default us-east-1)"),                                     \
    PSTR("endpointOverride", 0, NULL, "an S3-compatible endpoint, e.g. http://127.0.0.1:9000"),         \
    PSTR("accessKeyId", 0, NULL, "the access key (default $AWS_ACCESS_KEY_ID)"),                       \
    PSTR("secretKeyId", 0, NULL, "the secret key (default $AWS_SECRET_ACCESS_KEY)"),                   \
    PSTR("sessionToken", 0, NULL, "a session token of temporary credentials"),                          \
    PBOOL("forcePathStyle", 0, "false", "address buckets as endpoint/bucket/key (always for an IP endpoint)"), \
    PBOOL("compatibilityMode", 0, "false", "ignored by kite: its client speaks plain S3 always")

#define P_S3_LIST                                                                                        \
    PSTR("prefix", 0, NULL, "only keys starting with this"),                                             \
    PSTR("delimiter", 0, NULL, "group keys by this character (\"directories\")"),                       \
    PSTR("marker", 0, NULL, "start after this key"),                                                     \
    PSTR("encodingType", 0, NULL, "ignored by kite: keys are always decoded"),                            \
    PINT("maxKeys", 0, "1000", "keys per request (1 to 1000)"),                                          \
    PSTR("expectedBucketOwner", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),                                         \
    PSTR("regexp", 0, NULL, "only keys matching this regular expression (whole key)"),                   \
    PENUM("filter", 0, "\"BOTH\"", ENUMS("FILES", "DIRECTORY", "BOTH"), "files, directories or both")

static const prop_def s3_copy_object[] = {
    PSTR("bucket", 0, NULL, "the bucket"),
    PSTR("key", 0, NULL, "the key"),
    PSTR("versionId", 0, NULL, "a version of the source"),
    {0},
};

const type_def tasks__s3[] = {
    {
        .name = "s3.upload",
        .hooks = &upload_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Upload"),
        .desc = "Upload files of internal storage to S3, multipart for large ones (outputs `bucket`, `key`, `eTag`, `versionId`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       PSTR("key", PF_REQUIRED, NULL, "the key (a prefix when `from` holds several files)"),
                       PANY("from", PF_REQUIRED, NULL, "a kestra:/// URI, a list of them, or a map of key to URI"),
                       PSTR("contentType", 0, NULL, "the object's Content-Type"),
                       PMAP("metadata", 0, NULL, &tasks__item_string, "x-amz-meta-* values"),
                       P_S3_CONN),
    },
    {
        .name = "s3.download",
        .hooks = &download_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Download"),
        .desc = "Download an object to internal storage (outputs `uri`, `contentLength`, `contentType`, `metadata`, `eTag`, `versionId`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       PSTR("key", PF_REQUIRED, NULL, "the key"),
                       P_S3_CONN),
    },
    {
        .name = "s3.downloads",
        .hooks = &downloads_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Downloads"),
        .desc = "Download the objects under a prefix, then MOVE, DELETE or keep them (outputs `objects`, `outputFiles`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       P_S3_LIST,
                       PENUM("action", PF_REQUIRED, NULL, ENUMS("MOVE", "DELETE", "NONE"), "what to do with each object once downloaded"),
                       POBJ("moveTo", 0, NULL, s3_copy_object, "MOVE's destination: bucket and key (a prefix)"),
                       PINT("maxFiles", 0, "25", "at most this many objects"),
                       P_S3_CONN),
    },
    {
        .name = "s3.list",
        .hooks = &list_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.List"),
        .desc = "List the objects of a bucket (output `objects`: key, etag, size, lastModified, uri).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       P_S3_LIST,
                       PINT("maxFiles", 0, "25", "at most this many objects"),
                       P_S3_CONN),
    },
    {
        .name = "s3.delete",
        .hooks = &delete_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Delete"),
        .desc = "Delete an object (outputs `versionId`, `deleteMarker`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       PSTR("key", PF_REQUIRED, NULL, "the key"),
                       PBOOL("bypassGovernanceRetention", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("mfa", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("requestPayer", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       P_S3_CONN),
    },
    {
        .name = "s3.delete_list",
        .hooks = &delete_list_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.DeleteList"),
        .desc = "Delete the objects under a prefix, 1,000 per request (outputs `count`, `size`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       P_S3_LIST,
                       PINT("concurrent", 0, NULL, "ignored by kite: deletes go 1,000 keys a request"),
                       PBOOL("errorOnEmpty", 0, "false", "fail when nothing matched"),
                       P_S3_CONN),
    },
    {
        .name = "s3.copy",
        .hooks = &copy_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Copy"),
        .desc = "Copy an object inside S3, optionally deleting the source (outputs `bucket`, `key`, `eTag`, `versionId`).",
        .props = PROPS(POBJ("from", PF_REQUIRED, NULL, s3_copy_object, "the source: bucket, key, versionId"),
                       POBJ("to", PF_REQUIRED, NULL, s3_copy_object, "the destination: bucket (default the source's), key"),
                       PBOOL("delete", 0, "false", "delete the source afterwards (a move)"),
                       P_S3_CONN),
    },
    {
        .name = "s3.create_bucket",
        .hooks = &create_bucket_hooks,
        .needs = httpc_unavailable,
        .aliases = ALIASES("io.kestra.plugin.aws.s3.CreateBucket"),
        .desc = "Create a bucket; one that exists and is ours is fine (outputs `bucket`, `region`).",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       PSTR("acl", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PBOOL("objectLockEnabledForBucket", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("grantFullControl", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("grantRead", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("grantReadACP", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("grantWrite", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       PSTR("grantWriteACP", 0, NULL, "ignored by kite (accepted so that Kestra flows validate)"),
                       P_S3_CONN),
    },
    {
        .name = "s3.trigger",
        .aliases = ALIASES("io.kestra.plugin.aws.s3.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &trigger_hooks,
        .needs = httpc_unavailable,
        .desc = "Poll a prefix, download the objects and start the flow with them (`trigger.objects`), then MOVE, DELETE or keep them.",
        .props = PROPS(PSTR("bucket", PF_REQUIRED, NULL, "the bucket"),
                       P_S3_LIST,
                       PDUR("interval", 0, "\"PT60S\"", "time between polls"),
                       PENUM("action", PF_REQUIRED, NULL, ENUMS("MOVE", "DELETE", "NONE"), "what to do with each object"),
                       POBJ("moveTo", 0, NULL, s3_copy_object, "MOVE's destination: bucket and key (a prefix)"),
                       PINT("maxFiles", 0, "25", "at most this many objects a poll"),
                       P_S3_CONN),
    },
};

const size_t tasks__s3_count = sizeof tasks__s3 / sizeof tasks__s3[0];
