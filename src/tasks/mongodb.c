/*
 * mongodb.c: the MongoDB family over libmongoc (io.kestra.plugin.mongodb.*):
 * Find, InsertOne, Update (UPDATE_ONE, UPDATE_MANY, REPLACE_ONE), Delete
 * (DELETE_ONE, DELETE_MANY), Aggregate, Bulk (a file of JSON lines, one
 * write model each: insertOne, replaceOne, updateOne, updateMany, deleteOne,
 * deleteMany) and Load (an Ion row file from internal storage).
 *
 * Every task takes `connection.uri`, `database`, `collection`. Documents,
 * filters, projections, sorts and pipelines are a map or a string of
 * (Extended) JSON, as Kestra takes them: {"_id": {"$oid": "..."}} is an
 * ObjectId, {"$date": "..."} a date. Rows come back as Kestra gives them:
 * ObjectId as its hex text, dates as ISO-8601 text, decimals as numbers;
 * with `store: true` they go to internal storage as Ion (one struct a line,
 * dates as Ion timestamps, decimals as Ion decimals, binaries as blobs) and
 * the task outputs `uri` and `size` instead of `rows`.
 *
 * One client per run (mongoc_client_t is not thread safe and a run is
 * short); the task's timeout, when set, caps the server selection and the
 * socket timeouts so a hung server ends the task in time. Errors are one
 * line: "MongoDB mongodb://user:****@host:port/ db.coll: <cause>": the
 * URI's password is masked, and registered as a secret for the logs.
 *
 * Tested against tests/lib/mongod_fake.py only (docs/mongodb.md).
 */
#include "tasks/tasks_int.h"

#include "storage/storage.h"
#include "util/datetime.h"
#include "util/ion.h"
#include "util/dl_mongoc.h"
#include "util/netguard.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;
static void mongo_init(void) { mongoc_init(); }

typedef struct mconn {
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    char *where;   /* "mongodb://u:****@h/ db.coll", for messages */
    char *db, *cname;
} mconn;

/* The URI with its password replaced by ****. malloc'd. */
static char *mask_uri(const char *uri)
{
    const char *s = strstr(uri, "://");
    const char *start = s ? s + 3 : uri;
    const char *slash = strchr(start, '/');
    const char *at = NULL;
    for (const char *p = start; *p && (!slash || p < slash); p++)
        if (*p == '@')
            at = p;
    if (!at)
        return strdup(uri);
    const char *colon = memchr(start, ':', (size_t)(at - start));
    buf b;
    buf_init(&b, 0);
    buf_append(&b, uri, (size_t)((colon ? colon : at) - uri));
    if (colon)
        buf_puts(&b, ":****");
    buf_puts(&b, at);
    return buf_steal(&b);
}

static void mconn_close(mconn *m)
{
    if (m->coll)
        mongoc_collection_destroy(m->coll);
    if (m->client)
        mongoc_client_destroy(m->client);
    free(m->where);
    free(m->db);
    free(m->cname);
    memset(m, 0, sizeof *m);
}

static int fail(mconn *m, kerr *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(mconn *m, kerr *e, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kerr_set(e, "MongoDB %s: %s", m->where ? m->where : "?", msg);
}

/* Reads connection.uri, database, collection and opens the client. */
static int mconn_open(task_ctx *c, mconn *m, kerr *e)
{
    memset(m, 0, sizeof *m);
    const char *why = dl_mongoc_load();
    if (why)
        return kerr_setc(e, KERR_UNAVAILABLE, "%s", why);
    pthread_once(&mongo_once, mongo_init);
    json_t *conn = NULL;
    if (task_prop(c, "connection", &conn, e))
        return -1;
    json_t *ju = json_is_object(conn) ? json_object_get(conn, "uri") : NULL;
    if (!json_is_string(ju) || !*json_string_value(ju)) {
        json_decref(conn);
        return kerr_set(e, "property 'connection.uri' is required (mongodb://host:port)");
    }
    char *uri_s = strdup(json_string_value(ju));
    json_decref(conn);
    if (task_prop_string(c, "database", NULL, &m->db, e) ||
        task_prop_string(c, "collection", NULL, &m->cname, e)) {
        free(uri_s);
        return -1;
    }
    char *masked = mask_uri(uri_s);
    size_t wl = strlen(masked) + (m->db ? strlen(m->db) : 1) + (m->cname ? strlen(m->cname) : 1) + 4;
    m->where = malloc(wl);
    snprintf(m->where, wl, "%s %s.%s", masked, m->db ? m->db : "?", m->cname ? m->cname : "?");
    free(masked);
    bson_error_t err;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_s, &err);
    free(uri_s);
    if (!uri)
        return fail(m, e, "property 'connection.uri': %s", err.message);
    task_secret(c, mongoc_uri_get_password(uri));
    if (!m->db || !*m->db) {
        mongoc_uri_destroy(uri);
        return kerr_set(e, "property 'database' is required");
    }
    if (!m->cname || !*m->cname) {
        mongoc_uri_destroy(uri);
        return kerr_set(e, "property 'collection' is required");
    }
    if (c->deadline_us) {
        /* 9/10 of what is left, so that the driver says which server did not
         * answer before the engine ends the task */
        int64_t left = (c->deadline_us - time_mono_us()) / 1000 * 9 / 10;
        if (left < 1)
            left = 1;
        if (left < mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 30000))
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, (int32_t)left);
        if (left < mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 300000))
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, (int32_t)left);
        if (left < mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 10000))
            mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, (int32_t)left);
    }
    /* security.ssrf: the URI's hosts, every address of each (the driver
     * resolves them again itself: docs/security.md names what is left) */
    if (netguard_enabled()) {
        const char *srv = mongoc_uri_get_srv_hostname(uri);
        kerr ge = KERR_INIT;
        if (srv && !netguard_name_allowed(srv)) {
            mongoc_uri_destroy(uri);
            return fail(m, e, "security.ssrf: a mongodb+srv URI's servers come from DNS at connect time: list '%s' "
                              "in kite.yml security.ssrf.allow to use it",
                        srv);
        }
        for (const mongoc_host_list_t *h = srv ? NULL : mongoc_uri_get_hosts(uri); h; h = h->next) {
            int bad = h->family == AF_UNIX
                          ? kerr_setc(&ge, KERR_INVALID, "security.ssrf: %s is a Unix socket, which is local", h->host)
                          : netguard_check_host_all(h->host, h->port, &ge);
            if (bad) {
                mongoc_uri_destroy(uri);
                return fail(m, e, "%s", ge.msg);
            }
        }
    }
    m->client = mongoc_client_new_from_uri_with_error(uri, &err);
    mongoc_uri_destroy(uri);
    if (!m->client)
        return fail(m, e, "%s", err.message);
    mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(m->client, "kite");
    m->coll = mongoc_client_get_collection(m->client, m->db, m->cname);
    return 0;
}

/* ---- JSON <-> BSON ------------------------------------------------------------ */

/* Ion's tagged values (ION_READ_TAGGED) as Extended JSON, in place. */
static json_t *ion_to_ejson(json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_set_new(v, i, ion_to_ejson(json_incref(x)));
        return v;
    }
    if (!json_is_object(v))
        return v;
    if (json_object_size(v) == 1) {
        const char *k = json_object_iter_key(json_object_iter(v));
        json_t *x = json_object_get(v, k);
        const char *s = json_string_value(x);
        json_t *r = NULL;
        if (s && !strcmp(k, "$ion_timestamp"))
            r = json_pack("{s:s}", "$date", s);
        else if (s && (!strcmp(k, "$ion_decimal") || !strcmp(k, "$ion_int")))
            r = json_pack("{s:s}", "$numberDecimal", s);
        else if (s && !strcmp(k, "$ion_blob"))
            r = json_pack("{s:{s:s,s:s}}", "$binary", "base64", s, "subType", "00");
        else if (s && (!strcmp(k, "$ion_symbol") || !strcmp(k, "$ion_clob")))
            r = json_string(s);
        else if (s && !strcmp(k, "$ion_float"))
            r = json_pack("{s:s}", "$numberDouble",
                          !strcmp(s, "nan") ? "NaN" : !strcmp(s, "+inf") ? "Infinity" : "-Infinity");
        if (r) {
            json_decref(v);
            return r;
        }
    }
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, x) json_object_set_new(v, k, ion_to_ejson(json_incref(x)));
    return v;
}

/* A BSON document from a JSON value: an object, or a string of Extended
 * JSON. what names the property in errors. NULL with e set. */
static bson_t *to_bson(const json_t *v, const char *what, kerr *e)
{
    bson_error_t err;
    bson_t *b;
    if (json_is_string(v)) {
        b = bson_new_from_json((const uint8_t *)json_string_value(v), (ssize_t)json_string_length(v), &err);
    } else if (json_is_object(v) || json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        b = bson_new_from_json((const uint8_t *)s, -1, &err);
        free(s);
    } else {
        kerr_set(e, "property '%s' must be a map or a JSON string", what);
        return NULL;
    }
    if (!b)
        kerr_set(e, "property '%s': invalid (Extended) JSON: %s", what, err.message);
    return b;
}

/* The BSON of property name, NULL (no error) when absent unless required. */
static int prop_bson(task_ctx *c, const char *name, int required, bson_t **out, kerr *e)
{
    *out = NULL;
    json_t *v = NULL;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v) {
        if (required)
            return kerr_set(e, "property '%s' is required", name);
        return 0;
    }
    *out = to_bson(v, name, e);
    json_decref(v);
    return *out ? 0 : -1;
}

static json_t *iter_to_json(bson_iter_t *it);

static json_t *doc_to_json(const uint8_t *data, uint32_t len, int array)
{
    bson_t b;
    bson_iter_t it;
    json_t *out = array ? json_array() : json_object();
    if (!bson_init_static(&b, data, len) || !bson_iter_init(&it, &b))
        return out;
    while (bson_iter_next(&it)) {
        json_t *x = iter_to_json(&it);
        if (array)
            json_array_append_new(out, x);
        else
            json_object_set_new(out, bson_iter_key(&it), x);
    }
    return out;
}

static void iso_ms(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* One BSON value as Kestra's rows give it. */
static json_t *iter_to_json(bson_iter_t *it)
{
    char tmp[64];
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE:
        return json_real(bson_iter_double(it));
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        return json_stringn(s, n);
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        const uint8_t *d;
        uint32_t n;
        int arr = bson_iter_type(it) == BSON_TYPE_ARRAY;
        if (arr)
            bson_iter_array(it, &n, &d);
        else
            bson_iter_document(it, &n, &d);
        return doc_to_json(d, n, arr);
    }
    case BSON_TYPE_OID:
        bson_oid_to_string(bson_iter_oid(it), tmp);
        return json_string(tmp);
    case BSON_TYPE_BOOL:
        return json_boolean(bson_iter_bool(it));
    case BSON_TYPE_DATE_TIME:
        iso_ms(bson_iter_date_time(it), tmp, sizeof tmp);
        return json_string(tmp);
    case BSON_TYPE_INT32:
        return json_integer(bson_iter_int32(it));
    case BSON_TYPE_INT64:
        return json_integer(bson_iter_int64(it));
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t d;
        char s[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &d);
        bson_decimal128_to_string(&d, s);
        char *end;
        double x = strtod(s, &end);
        return *end ? json_string(s) : json_real(x);
    }
    case BSON_TYPE_BINARY: {
        const uint8_t *p;
        uint32_t n;
        bson_subtype_t st;
        bson_iter_binary(it, &st, &n, &p);
        bson_t b = BSON_INITIALIZER;
        bson_append_binary(&b, "b", 1, st, p, n);
        char *s = bson_as_canonical_extended_json(&b, NULL);
        json_t *j = json_loads(s, 0, NULL);
        bson_free(s);
        bson_destroy(&b);
        json_t *bin = json_object_get(json_object_get(j, "b"), "$binary");
        json_t *r = json_incref(json_object_get(bin, "base64"));
        json_decref(j);
        return r ? r : json_null();
    }
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
        return json_null();
    default: {
        /* timestamps, regexes, min/max keys...: their relaxed Extended JSON */
        bson_t b = BSON_INITIALIZER;
        bson_append_iter(&b, "v", 1, it);
        char *s = bson_as_relaxed_extended_json(&b, NULL);
        json_t *j = json_loads(s, 0, NULL);
        bson_free(s);
        bson_destroy(&b);
        json_t *r = json_incref(json_object_get(j, "v"));
        json_decref(j);
        return r ? r : json_null();
    }
    }
}

static json_t *bson_to_json(const bson_t *b)
{
    return doc_to_json(bson_get_data(b), b->len, 0);
}

/* One BSON value into the Ion writer. */
static int iter_to_ion(ion_writer *w, bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        const uint8_t *d;
        uint32_t n;
        int arr = bson_iter_type(it) == BSON_TYPE_ARRAY;
        if (arr)
            bson_iter_array(it, &n, &d);
        else
            bson_iter_document(it, &n, &d);
        bson_t b;
        bson_iter_t ci;
        if (!bson_init_static(&b, d, n) || !bson_iter_init(&ci, &b))
            return ion_write_null(w);
        if ((arr ? ion_begin_list(w) : ion_begin_struct(w)))
            return -1;
        while (bson_iter_next(&ci)) {
            if (!arr && ion_write_field(w, bson_iter_key(&ci)))
                return -1;
            if (iter_to_ion(w, &ci))
                return -1;
        }
        return arr ? ion_end_list(w) : ion_end_struct(w);
    }
    case BSON_TYPE_DATE_TIME:
        return ion_write_timestamp_us(w, bson_iter_date_time(it) * 1000, 0, 3);
    case BSON_TYPE_INT32:
        return ion_write_int(w, bson_iter_int32(it));
    case BSON_TYPE_INT64:
        return ion_write_int(w, bson_iter_int64(it));
    case BSON_TYPE_DOUBLE:
        return ion_write_float(w, bson_iter_double(it));
    case BSON_TYPE_BOOL:
        return ion_write_bool(w, bson_iter_bool(it));
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t d;
        char s[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &d);
        bson_decimal128_to_string(&d, s);
        if (ion_write_decimal(w, s) == 0)
            return 0;
        return ion_write_string(w, s, strlen(s));
    }
    case BSON_TYPE_BINARY: {
        const uint8_t *p;
        uint32_t n;
        bson_subtype_t st;
        bson_iter_binary(it, &st, &n, &p);
        return ion_write_blob(w, p, n);
    }
    default: {
        json_t *j = iter_to_json(it);
        int rc = ion_write_json(w, j, 0);
        json_decref(j);
        return rc;
    }
    }
}

/* ---- rows out: FETCH into `rows`, or STORE into an Ion file ------------------ */

static int sw_sink(void *ud, const char *p, size_t n)
{
    kerr e = KERR_INIT;
    return storage_writer_write(ud, p, n, &e);
}

/* Drains cursor into the outputs: rows (store 0) or uri (store 1), size. */
static int emit_rows(task_ctx *c, mconn *m, mongoc_cursor_t *cur, int to_store, kerr *e)
{
    const bson_t *doc;
    json_t *rows = to_store ? NULL : json_array();
    storage_writer *sw = NULL;
    ion_writer *w = NULL;
    char *uri = NULL;
    int64_t n = 0;
    if (to_store) {
        uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id,
                                    "rows.ion", e);
        sw = uri ? storage_writer_new(c->storage, uri, e) : NULL;
        if (!sw) {
            free(uri);
            return -1;
        }
        w = ion_writer_new(sw_sink, sw);
    }
    int rc = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        n++;
        if (to_store) {
            bson_iter_t it;
            bson_iter_init(&it, doc);
            rc = ion_begin_struct(w);
            while (!rc && bson_iter_next(&it))
                rc = ion_write_field(w, bson_iter_key(&it)) || iter_to_ion(w, &it);
            if (!rc)
                rc = ion_end_struct(w);
            if (rc) {
                kerr_set(e, "internal storage: writing %s failed", uri);
                break;
            }
        } else {
            json_array_append_new(rows, bson_to_json(doc));
        }
        if ((n & 1023) == 0 && task_cancelled(c)) {
            rc = kerr_set(e, "stopped (timeout or kill) after %lld documents", (long long)n);
            break;
        }
    }
    bson_error_t err;
    if (!rc && mongoc_cursor_error(cur, &err))
        rc = fail(m, e, "%s", err.message);
    if (to_store) {
        if (!rc && ion_writer_flush(w))
            rc = kerr_set(e, "internal storage: writing %s failed", uri);
        ion_writer_free(w);
        if (rc)
            storage_writer_abort(sw);
        else if (storage_writer_commit(sw, e))
            rc = -1;
        if (!rc)
            task_output(c, "uri", json_string(uri));
        free(uri);
    } else if (rc) {
        json_decref(rows);
    } else {
        task_output(c, "rows", rows);
    }
    if (!rc) {
        task_output(c, "size", json_integer(n));
        task_metric(c, "records", METRIC_COUNTER, (double)n, NULL);
    }
    return rc;
}

/* ---- the tasks ---------------------------------------------------------------- */

static task_result find_run(task_ctx *c, kerr *e)
{
    mconn m;
    bson_t *filter = NULL, *proj = NULL, *sort = NULL;
    int64_t limit, skip;
    int to_store;
    task_result res = TASK_FAILED;
    if (mconn_open(c, &m, e) || prop_bson(c, "filter", 0, &filter, e) || prop_bson(c, "projection", 0, &proj, e) ||
        prop_bson(c, "sort", 0, &sort, e) || task_prop_int(c, "limit", 0, &limit, e) ||
        task_prop_int(c, "skip", 0, &skip, e) || task_prop_bool(c, "store", 0, &to_store, e))
        goto out;
    bson_t opts = BSON_INITIALIZER;
    if (proj)
        BSON_APPEND_DOCUMENT(&opts, "projection", proj);
    if (sort)
        BSON_APPEND_DOCUMENT(&opts, "sort", sort);
    if (limit > 0)
        BSON_APPEND_INT64(&opts, "limit", limit);
    if (skip > 0)
        BSON_APPEND_INT64(&opts, "skip", skip);
    bson_t empty = BSON_INITIALIZER;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(m.coll, filter ? filter : &empty, &opts, NULL);
    if (emit_rows(c, &m, cur, to_store, e) == 0)
        res = TASK_SUCCESS;
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
out:
    bson_destroy(filter);
    bson_destroy(proj);
    bson_destroy(sort);
    mconn_close(&m);
    return res;
}

static task_result aggregate_run(task_ctx *c, kerr *e)
{
    mconn m;
    json_t *pipe = NULL;
    int64_t max_ms, batch;
    int disk, to_store;
    task_result res = TASK_FAILED;
    bson_t *p = NULL;
    if (mconn_open(c, &m, e) || task_prop(c, "pipeline", &pipe, e) ||
        task_prop_bool(c, "allowDiskUse", 1, &disk, e) || task_prop_int(c, "maxTimeMs", 60000, &max_ms, e) ||
        task_prop_int(c, "batchSize", 1000, &batch, e) || task_prop_bool(c, "store", 0, &to_store, e))
        goto out;
    if (json_is_string(pipe)) {
        json_error_t je;
        json_t *x = json_loads(json_string_value(pipe), 0, &je);
        json_decref(pipe);
        pipe = x;
        if (!pipe) {
            kerr_set(e, "property 'pipeline': invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
            goto out;
        }
    }
    if (!json_is_array(pipe)) {
        kerr_set(e, "property 'pipeline' is required: a list of stages");
        goto out;
    }
    json_t *wrap = json_pack("{sO}", "pipeline", pipe);
    p = to_bson(wrap, "pipeline", e);
    json_decref(wrap);
    if (!p)
        goto out;
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "allowDiskUse", disk);
    if (max_ms > 0)
        BSON_APPEND_INT64(&opts, "maxTimeMS", max_ms);
    if (batch > 0)
        BSON_APPEND_INT32(&opts, "batchSize", (int32_t)batch);
    mongoc_cursor_t *cur = mongoc_collection_aggregate(m.coll, MONGOC_QUERY_NONE, p, &opts, NULL);
    if (emit_rows(c, &m, cur, to_store, e) == 0)
        res = TASK_SUCCESS;
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
out:
    json_decref(pipe);
    bson_destroy(p);
    mconn_close(&m);
    return res;
}

static int64_t reply_int(const bson_t *r, const char *k)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, r, k) ? bson_iter_as_int64(&it) : 0;
}

static json_t *id_json(const bson_iter_t *src)
{
    bson_iter_t it = *src;
    json_t *j = iter_to_json(&it);
    if (json_is_string(j))
        return j;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    json_t *r = json_string(s);
    free(s);
    return r;
}

static task_result insert_one_run(task_ctx *c, kerr *e)
{
    mconn m;
    bson_t *doc = NULL;
    task_result res = TASK_FAILED;
    if (mconn_open(c, &m, e) || prop_bson(c, "document", 1, &doc, e))
        goto out;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id")) {
        /* the _id is made here so that insertedId can say it */
        bson_t *d2 = bson_new();
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        BSON_APPEND_OID(d2, "_id", &oid);
        bson_concat(d2, doc);
        bson_destroy(doc);
        doc = d2;
        bson_iter_init_find(&it, doc, "_id");
    }
    bson_error_t err;
    bson_t reply;
    if (!mongoc_collection_insert_one(m.coll, doc, NULL, &reply, &err)) {
        fail(&m, e, "%s", err.message);
        bson_destroy(&reply);
        goto out;
    }
    bson_destroy(&reply);
    task_output(c, "insertedId", id_json(&it));
    task_output(c, "wasAcknowledged", json_true());
    task_metric(c, "inserted.count", METRIC_COUNTER, 1, NULL);
    res = TASK_SUCCESS;
out:
    bson_destroy(doc);
    mconn_close(&m);
    return res;
}

static task_result update_run(task_ctx *c, kerr *e)
{
    mconn m;
    bson_t *doc = NULL, *filter = NULL;
    char *op = NULL;
    task_result res = TASK_FAILED;
    if (mconn_open(c, &m, e) || prop_bson(c, "document", 1, &doc, e) || prop_bson(c, "filter", 1, &filter, e) ||
        task_prop_string(c, "operation", "UPDATE_ONE", &op, e))
        goto out;
    bson_error_t err;
    bson_t reply;
    bool ok;
    if (!strcmp(op, "UPDATE_ONE"))
        ok = mongoc_collection_update_one(m.coll, filter, doc, NULL, &reply, &err);
    else if (!strcmp(op, "UPDATE_MANY"))
        ok = mongoc_collection_update_many(m.coll, filter, doc, NULL, &reply, &err);
    else if (!strcmp(op, "REPLACE_ONE"))
        ok = mongoc_collection_replace_one(m.coll, filter, doc, NULL, &reply, &err);
    else {
        kerr_set(e, "property 'operation': '%s' is not one of UPDATE_ONE, UPDATE_MANY, REPLACE_ONE", op);
        goto out;
    }
    if (!ok) {
        fail(&m, e, "%s", err.message);
        bson_destroy(&reply);
        goto out;
    }
    task_output(c, "matchedCount", json_integer(reply_int(&reply, "matchedCount")));
    task_output(c, "modifiedCount", json_integer(reply_int(&reply, "modifiedCount")));
    bson_iter_t it;
    if (bson_iter_init_find(&it, &reply, "upsertedId"))
        task_output(c, "upsertedId", id_json(&it));
    task_output(c, "wasAcknowledged", json_true());
    task_metric(c, "updated.count", METRIC_COUNTER, (double)reply_int(&reply, "modifiedCount"), NULL);
    bson_destroy(&reply);
    res = TASK_SUCCESS;
out:
    free(op);
    bson_destroy(doc);
    bson_destroy(filter);
    mconn_close(&m);
    return res;
}

static task_result delete_run(task_ctx *c, kerr *e)
{
    mconn m;
    bson_t *filter = NULL;
    char *op = NULL;
    task_result res = TASK_FAILED;
    if (mconn_open(c, &m, e) || prop_bson(c, "filter", 0, &filter, e) ||
        task_prop_string(c, "operation", "DELETE_ONE", &op, e))
        goto out;
    bson_t empty = BSON_INITIALIZER;
    bson_error_t err;
    bson_t reply;
    bool ok;
    if (!strcmp(op, "DELETE_ONE"))
        ok = mongoc_collection_delete_one(m.coll, filter ? filter : &empty, NULL, &reply, &err);
    else if (!strcmp(op, "DELETE_MANY"))
        ok = mongoc_collection_delete_many(m.coll, filter ? filter : &empty, NULL, &reply, &err);
    else {
        kerr_set(e, "property 'operation': '%s' is not one of DELETE_ONE, DELETE_MANY", op);
        goto out;
    }
    if (!ok) {
        fail(&m, e, "%s", err.message);
        bson_destroy(&reply);
        goto out;
    }
    task_output(c, "deletedCount", json_integer(reply_int(&reply, "deletedCount")));
    task_output(c, "wasAcknowledged", json_true());
    task_metric(c, "deleted.count", METRIC_COUNTER, (double)reply_int(&reply, "deletedCount"), NULL);
    bson_destroy(&reply);
    res = TASK_SUCCESS;
out:
    free(op);
    bson_destroy(filter);
    mconn_close(&m);
    return res;
}

/* ---- Bulk and Load: write models in chunks ----------------------------------- */

typedef struct bulk_run {
    mconn *m;
    mongoc_bulk_operation_t *op;
    int64_t pending, chunk, size;
    int64_t inserted, matched, modified, deleted;
} bulk_run;

static int bulk_flush(bulk_run *b, kerr *e)
{
    if (!b->op)
        return 0;
    bson_t reply;
    bson_error_t err;
    uint32_t ok = b->pending ? mongoc_bulk_operation_execute(b->op, &reply, &err) : 1;
    if (b->pending) {
        b->inserted += reply_int(&reply, "nInserted");
        b->matched += reply_int(&reply, "nMatched");
        b->modified += reply_int(&reply, "nModified");
        b->deleted += reply_int(&reply, "nRemoved");
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(b->op);
    b->op = NULL;
    b->pending = 0;
    if (!ok)
        return fail(b->m, e, "%s", err.message);
    return 0;
}

static void bulk_ready(bulk_run *b)
{
    if (!b->op) {
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", true);
        b->op = mongoc_collection_create_bulk_operation_with_opts(b->m->coll, &opts);
        bson_destroy(&opts);
    }
}

static void bulk_outputs(task_ctx *c, bulk_run *b)
{
    task_output(c, "insertedCount", json_integer(b->inserted));
    task_output(c, "matchedCount", json_integer(b->matched));
    task_output(c, "modifiedCount", json_integer(b->modified));
    task_output(c, "deletedCount", json_integer(b->deleted));
    task_output(c, "size", json_integer(b->size));
    task_metric(c, "requests.count", METRIC_COUNTER, (double)b->size, NULL);
}

/* A subdocument of model (borrowed data copied into out); 0 when absent. */
static int sub_doc(const bson_t *model, const char *key, bson_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, model, key))
        return 0;
    const uint8_t *d;
    uint32_t n;
    if (BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_iter_document(&it, &n, &d);
    else if (BSON_ITER_HOLDS_ARRAY(&it))
        bson_iter_array(&it, &n, &d);
    else
        return 0;
    return bson_init_static(out, d, n) ? 1 : 0;
}

/* Adds one line of a Bulk file ({"insertOne": {...}} etc.). */
static int bulk_add_line(bulk_run *b, const char *line, size_t len, long lineno, kerr *e)
{
    bson_error_t err;
    bson_t *model = bson_new_from_json((const uint8_t *)line, (ssize_t)len, &err);
    if (!model)
        return kerr_set_at(e, (int)lineno, 1, "property 'from': line %ld: invalid JSON: %s", lineno, err.message);
    bson_iter_t it;
    if (!bson_iter_init(&it, model) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_destroy(model);
        return kerr_set_at(e, (int)lineno, 1, "property 'from': line %ld: expected {\"<operation>\": {...}}", lineno);
    }
    const char *kind = bson_iter_key(&it);
    const uint8_t *d;
    uint32_t n;
    bson_iter_document(&it, &n, &d);
    bson_t body, filter, upd, opts = BSON_INITIALIZER;
    bson_init_static(&body, d, n);
    bson_iter_t ui;
    if (bson_iter_init_find(&ui, &body, "upsert"))
        BSON_APPEND_BOOL(&opts, "upsert", bson_iter_as_bool(&ui));
    bson_t empty = BSON_INITIALIZER;
    int have_f = sub_doc(&body, "filter", &filter);
    bulk_ready(b);
    bool ok = true;
    if (!strcmp(kind, "insertOne")) {
        bson_t doc;
        ok = mongoc_bulk_operation_insert_with_opts(b->op, sub_doc(&body, "document", &doc) ? &doc : &body, NULL,
                                                    &err);
    } else if (!strcmp(kind, "replaceOne") && sub_doc(&body, "replacement", &upd)) {
        ok = mongoc_bulk_operation_replace_one_with_opts(b->op, have_f ? &filter : &empty, &upd, &opts, &err);
    } else if ((!strcmp(kind, "updateOne") || !strcmp(kind, "updateMany")) && sub_doc(&body, "update", &upd)) {
        ok = kind[6] == 'O'
                 ? mongoc_bulk_operation_update_one_with_opts(b->op, have_f ? &filter : &empty, &upd, &opts, &err)
                 : mongoc_bulk_operation_update_many_with_opts(b->op, have_f ? &filter : &empty, &upd, &opts, &err);
    } else if (!strcmp(kind, "deleteOne")) {
        ok = mongoc_bulk_operation_remove_one_with_opts(b->op, have_f ? &filter : &empty, NULL, &err);
    } else if (!strcmp(kind, "deleteMany")) {
        ok = mongoc_bulk_operation_remove_many_with_opts(b->op, have_f ? &filter : &empty, NULL, &err);
    } else {
        bson_destroy(&opts);
        kerr_set_at(e, (int)lineno, 1,
                    "property 'from': line %ld: '%s' is not insertOne, replaceOne (with replacement), updateOne or "
                    "updateMany (with update), deleteOne, deleteMany",
                    lineno, kind);
        bson_destroy(model);
        return -1;
    }
    bson_destroy(&opts);
    bson_destroy(model);
    if (!ok)
        return kerr_set_at(e, (int)lineno, 1, "property 'from': line %ld: %s", lineno, err.message);
    b->size++;
    if (++b->pending >= b->chunk)
        return bulk_flush(b, e);
    return 0;
}

static task_result bulk_run_task(task_ctx *c, kerr *e)
{
    mconn m;
    char *from = NULL;
    bulk_run b = {0};
    task_result res = TASK_FAILED;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (mconn_open(c, &m, e) || task_prop_string(c, "from", NULL, &from, e) ||
        task_prop_int(c, "chunk", 1000, &b.chunk, e))
        goto out;
    if (!from) {
        kerr_set(e, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (b.chunk < 1)
        b.chunk = 1000;
    b.m = &m;
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    f = fdopen(fd, "r");
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        if (n == 0)
            continue;
        if (bulk_add_line(&b, line, (size_t)n, lineno, e))
            goto out;
        if (task_cancelled(c)) {
            kerr_set(e, "stopped (timeout or kill) at line %ld", lineno);
            goto out;
        }
    }
    if (bulk_flush(&b, e))
        goto out;
    bulk_outputs(c, &b);
    res = TASK_SUCCESS;
out:
    if (b.op)
        mongoc_bulk_operation_destroy(b.op);
    if (f)
        fclose(f);
    free(line);
    free(from);
    mconn_close(&m);
    return res;
}

static int is_oid_text(const char *s)
{
    return s && strlen(s) == 24 && bson_oid_is_valid(s, 24);
}

static task_result load_run(task_ctx *c, kerr *e)
{
    mconn m;
    char *from = NULL, *idkey = NULL;
    int remove_id;
    bulk_run b = {0};
    task_result res = TASK_FAILED;
    FILE *f = NULL;
    ion_reader *r = NULL;
    if (mconn_open(c, &m, e) || task_prop_string(c, "from", NULL, &from, e) ||
        task_prop_int(c, "chunk", 1000, &b.chunk, e) || task_prop_string(c, "idKey", NULL, &idkey, e) ||
        task_prop_bool(c, "removeIdKey", 1, &remove_id, e))
        goto out;
    if (!from) {
        kerr_set(e, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (b.chunk < 1)
        b.chunk = 1000;
    b.m = &m;
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    f = fdopen(fd, "r");
    r = ion_reader_new_file(f, ION_READ_TAGGED);
    json_t *row;
    ion_type t;
    int rc;
    while ((rc = ion_reader_next(r, &row, &t, e)) == 1) {
        if (!json_is_object(row)) {
            json_decref(row);
            kerr_set(e, "property 'from': row %lld is not a struct", (long long)b.size + 1);
            goto out;
        }
        row = ion_to_ejson(row);
        if (idkey) {
            json_t *id = json_object_get(row, idkey);
            if (id) {
                json_incref(id);
                json_t *nid = is_oid_text(json_string_value(id)) ? json_pack("{s:O}", "$oid", id) : json_incref(id);
                if (remove_id)
                    json_object_del(row, idkey);
                json_t *nrow = json_pack("{s:o}", "_id", nid);
                json_object_update(nrow, row);
                json_decref(row);
                row = nrow;
                json_decref(id);
            }
        }
        bson_t *doc = to_bson(row, "from", e);
        json_decref(row);
        if (!doc) {
            kerr_prefix(e, "row %lld", (long long)b.size + 1);
            goto out;
        }
        bulk_ready(&b);
        bson_error_t err;
        bool ok = mongoc_bulk_operation_insert_with_opts(b.op, doc, NULL, &err);
        bson_destroy(doc);
        if (!ok) {
            kerr_set(e, "row %lld: %s", (long long)b.size + 1, err.message);
            goto out;
        }
        b.size++;
        if (++b.pending >= b.chunk && bulk_flush(&b, e))
            goto out;
        if ((b.size & 1023) == 0 && task_cancelled(c)) {
            kerr_set(e, "stopped (timeout or kill) after %lld rows", (long long)b.size);
            goto out;
        }
    }
    if (rc < 0) {
        kerr_prefix(e, "property 'from': %s", from);
        goto out;
    }
    if (bulk_flush(&b, e))
        goto out;
    bulk_outputs(c, &b);
    res = TASK_SUCCESS;
out:
    if (b.op)
        mongoc_bulk_operation_destroy(b.op);
    ion_reader_free(r);
    if (f)
        fclose(f);
    free(from);
    free(idkey);
    mconn_close(&m);
    return res;
}

static const struct task_hooks find_hooks = {.run = find_run};
static const struct task_hooks aggregate_hooks = {.run = aggregate_run};
static const struct task_hooks insert_one_hooks = {.run = insert_one_run};
static const struct task_hooks update_hooks = {.run = update_run};
static const struct task_hooks delete_hooks = {.run = delete_run};
static const struct task_hooks bulk_hooks = {.run = bulk_run_task};
static const struct task_hooks load_hooks = {.run = load_run};

/* ---- the family's types -------------------------------------------------------- */

static const prop_def mongo_connection[] = {
    PSTR("uri", PF_REQUIRED, NULL, "connection string: mongodb://user:password@host:27017/?authSource=admin"),
    {0},
};

#define P_MONGO                                                                              \
    POBJ("connection", PF_REQUIRED, NULL, mongo_connection, "MongoDB connection properties"), \
    PSTR("database", PF_REQUIRED, NULL, "MongoDB database"),                                  \
    PSTR("collection", PF_REQUIRED, NULL, "MongoDB collection")

static int trigger_poll(task_ctx *c, task_fire_fn fire, kerr *e)
{
    return tasks__poll_run(c, find_run, fire, e);
}

static const struct task_hooks trigger_hooks = {.poll = trigger_poll};

const type_def tasks__mongodb[] = {
    {
        .name = "mongodb.find",
        .hooks = &find_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Find"),
        .desc = "Find documents (outputs `rows` and `size`, or `uri` of an Ion file with `store`).",
        .props = PROPS(P_MONGO, PANY("filter", 0, NULL, "MongoDB BSON filter: a map or an Extended JSON string"),
                       PANY("projection", 0, NULL, "MongoDB BSON projection"),
                       PANY("sort", 0, NULL, "MongoDB BSON sort"), PINT("limit", 0, NULL, "number of documents"),
                       PINT("skip", 0, NULL, "number of documents to skip"),
                       PBOOL("store", 0, "false", "store the rows as an Ion file in internal storage")),
    },
    {
        .name = "mongodb.trigger",
        .kind = TK_TRIGGER,
        .hooks = &trigger_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Trigger"),
        .desc = "Start the flow when a find returns documents (`trigger.rows`, `size`, or `uri` with `store`).",
        .props = PROPS(P_MONGO, PANY("filter", 0, NULL, "MongoDB BSON filter: a map or an Extended JSON string"),
                       PANY("projection", 0, NULL, "MongoDB BSON projection"),
                       PANY("sort", 0, NULL, "MongoDB BSON sort"), PINT("limit", 0, NULL, "number of documents"),
                       PINT("skip", 0, NULL, "number of documents to skip"),
                       PBOOL("store", 0, "false", "store the rows as an Ion file in internal storage"),
                       PDUR("interval", 0, "\"PT60S\"", "time between polls")),
    },
    {
        .name = "mongodb.aggregate",
        .hooks = &aggregate_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Aggregate"),
        .desc = "Run an aggregation pipeline (outputs `rows` and `size`, or `uri` with `store`).",
        .props = PROPS(P_MONGO, PANY("pipeline", PF_REQUIRED, NULL, "the pipeline: a list of stages"),
                       PBOOL("allowDiskUse", 0, "true", "let stages write temporary files"),
                       PINT("maxTimeMs", 0, "60000", "time limit of the aggregation on the server"),
                       PINT("batchSize", 0, "1000", "documents per batch"),
                       PBOOL("store", 0, "false", "store the rows as an Ion file in internal storage")),
    },
    {
        .name = "mongodb.insert_one",
        .hooks = &insert_one_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.InsertOne"),
        .desc = "Insert a document (outputs `insertedId`, `wasAcknowledged`).",
        .props = PROPS(P_MONGO, PANY("document", PF_REQUIRED, NULL, "the document: a map or a JSON string")),
    },
    {
        .name = "mongodb.update",
        .hooks = &update_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Update"),
        .desc = "Update or replace documents (outputs `matchedCount`, `modifiedCount`, `upsertedId`).",
        .props = PROPS(P_MONGO, PANY("document", PF_REQUIRED, NULL, "the update ($set...) or the replacement"),
                       PANY("filter", PF_REQUIRED, NULL, "MongoDB BSON filter"),
                       PENUM("operation", 0, "\"UPDATE_ONE\"", ENUMS("REPLACE_ONE", "UPDATE_ONE", "UPDATE_MANY"),
                             "operation to use")),
    },
    {
        .name = "mongodb.delete",
        .hooks = &delete_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Delete"),
        .desc = "Delete documents (output `deletedCount`).",
        .props = PROPS(P_MONGO, PANY("filter", 0, NULL, "MongoDB BSON filter"),
                       PENUM("operation", 0, "\"DELETE_ONE\"", ENUMS("DELETE_ONE", "DELETE_MANY"), "operation to use")),
    },
    {
        .name = "mongodb.bulk",
        .hooks = &bulk_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Bulk"),
        .desc = "Run the write models of a JSON-lines file (insertOne, updateOne, deleteMany...).",
        .props = PROPS(P_MONGO, PSTR("from", PF_REQUIRED, NULL, "the source file (kestra:/// URI)"),
                       PINT("chunk", 0, "1000", "write models per bulk request")),
    },
    {
        .name = "mongodb.load",
        .hooks = &load_hooks,
        .needs = dl_mongoc_load,
        .aliases = ALIASES("io.kestra.plugin.mongodb.Load"),
        .desc = "Insert the rows of an Ion file from internal storage.",
        .props = PROPS(P_MONGO, PSTR("from", PF_REQUIRED, NULL, "the source file (kestra:/// URI)"),
                       PINT("chunk", 0, "1000", "documents per bulk request"),
                       PSTR("idKey", 0, NULL, "use this key as _id (24 hex digits become an ObjectId)"),
                       PBOOL("removeIdKey", 0, "true", "remove idKey from the document")),
    },
};

const size_t tasks__mongodb_count = sizeof tasks__mongodb / sizeof tasks__mongodb[0];
