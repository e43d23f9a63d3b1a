/*
 * serdes_parquet.c: Parquet row files (io.kestra.plugin.serdes.parquet.
 * IonToParquet and ParquetToIon, with the older ParquetWriter / ParquetReader
 * names), on DuckDB's own Parquet writer and reader, reached through the
 * dlopen of libduckdb that the SQL family's DuckDB driver makes
 * (tasks__duckdb_* in sql/duckdb.c). Output `uri`, metric `records`.
 *
 * Why through JSON lines: DuckDB streams read_json into COPY ... TO parquet
 * and read_parquet into COPY ... TO json with bounded memory, where an
 * in-memory table (the appender) or a materialized result would hold the
 * whole file. So each direction is two streamed passes over a temporary file:
 *
 *   IonToParquet: Ion rows -> JSON lines holding each column as DuckDB can
 *     cast it (timestamps as ISO text, decimals as text, blobs as base64) ->
 *     COPY (SELECT ... FROM read_json(tmp, columns = {...})) TO out.parquet.
 *     The columns come from the Avro `schema` when given (as Kestra reads it)
 *     or are inferred from the first numberOfRowsToScan rows.
 *   ParquetToIon: DESCRIBE read_parquet(file) gives the column types; COPY
 *     (SELECT each column in a form JSON keeps: epoch microseconds for
 *     timestamps, text for decimals, dates and big integers, base64 for blobs)
 *     TO tmp (FORMAT JSON) -> each line parsed and written as Ion, the
 *     top-level columns with their Ion type (timestamp, decimal, blob, int).
 *
 * The type mapping is in docs/serdes.md. Without libduckdb `kite validate`
 * warns that these types cannot run on this host and a run fails saying how
 * to install it.
 */
#include "tasks/tasks_int.h"

#include "storage/storage.h"
#include "util/buf.h"
#include "util/ion.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char pq_why[] =
    "the Parquet tasks run on DuckDB's Parquet reader and writer, and libduckdb.so was not found on this host: "
    "scripts/setup.sh installs it under vendor/duckdb (npm package @duckdb/node-bindings-linux-x64), "
    "or set KITE_DUCKDB_LIB to its path";

static void pq_check(vctx *v, const json_t *obj, const char *path)
{
    if (tasks__duckdb_unavailable())
        vctx_warn(v, path, "this type cannot run here: %s", pq_why);
}

static tasks_duckdb *pq_open(kerr *e)
{
    if (tasks__duckdb_unavailable()) {
        kerr_setc(e, KERR_UNAVAILABLE, "%s", pq_why);
        return NULL;
    }
    tasks_duckdb *d = tasks__duckdb_open(e);
    /* a bounded buffer pool that spills to the system's temporary folder;
     * one thread: each more holds its own JSON buffers and row groups (at
     * 3 M rows, 2 threads took 260 to 370 MiB where 1 took 108 MiB, and grew
     * with the rows) */
    if (d && (tasks__duckdb_exec(d, "SET memory_limit = '512MB'", NULL, NULL, e) ||
              tasks__duckdb_exec(d, "SET threads = 1", NULL, NULL, e))) {
        tasks__duckdb_close(d);
        return NULL;
    }
    return d;
}

/* DuckDB's message made readable: its first line only (the rest quotes our
 * SQL), the temporary path it names replaced by what the user knows. */
static void pq_msg(kerr *e, const char *path, const char *name)
{
    char *nl = strchr(e->msg, '\n');
    if (nl)
        *nl = '\0';
    char *at = path ? strstr(e->msg, path) : NULL;
    if (at) {
        buf b = BUF_INIT;
        buf_append(&b, e->msg, (size_t)(at - e->msg));
        buf_puts(&b, name);
        buf_puts(&b, at + strlen(path));
        snprintf(e->msg, sizeof e->msg, "%s", buf_str(&b));
        buf_free(&b);
    }
}

/* s quoted for SQL with q ('\'' a string, '"' a name), q doubled inside. */
static void sql_quote(buf *b, const char *s, char q)
{
    buf_putc(b, q);
    for (; *s; s++) {
        if (*s == q)
            buf_putc(b, q);
        buf_putc(b, *s);
    }
    buf_putc(b, q);
}

#define sql_str(b, s) sql_quote((b), (s), '\'')
#define sql_ident(b, s) sql_quote((b), (s), '"')

/* A temporary file's path (created empty, so the name is ours), or NULL. */
static char *tmp_path(task_ctx *c, kerr *e)
{
    char *p = NULL;
    FILE *f = tasks__tmp_file(c, &p, e);
    if (!f)
        return NULL;
    fclose(f);
    return p;
}

static char *task_uri(task_ctx *c, const char *ext, kerr *e)
{
    char name[300];
    snprintf(name, sizeof name, "%s.%s", c->task_id, ext);
    return storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id, c->taskrun_id, name, e);
}

/* ==== IonToParquet ========================================================== */

/*
 * A column's type, as a small JSON tree: {"t": "BIGINT"}, {"t": "DECIMAL",
 * "s": scale}, {"t": "LIST", "of": type}, {"t": "STRUCT", "f": {name: type}},
 * and "NULL" while only nulls were seen. Inferred from values and merged
 * (BIGINT and DOUBLE give DOUBLE, DATE and TIMESTAMPTZ give TIMESTAMPTZ, any
 * other disagreement VARCHAR), or read from an Avro schema.
 */
static json_t *ty(const char *t)
{
    return json_pack("{ss}", "t", t);
}

static const char *ty_name(const json_t *x)
{
    return json_string_value(json_object_get(x, "t"));
}

/* A tagged value's tag ("timestamp", "decimal", ...) and text, or NULL. */
static const char *tag_of(const json_t *v, const char **text)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    void *it = json_object_iter((json_t *)v);
    const char *k = json_object_iter_key(it);
    const json_t *x = json_object_iter_value(it);
    if (strncmp(k, "$ion_", 5) || !json_is_string(x))
        return NULL;
    *text = json_string_value(x);
    return k + 5;
}

static int decimal_scale(const char *s)
{
    const char *d = strchr(s, '.');
    if (!d)
        return 0;
    int n = 0;
    for (d++; *d >= '0' && *d <= '9'; d++)
        n++;
    return n > 38 ? 38 : n;
}

static json_t *infer(const json_t *v);

static json_t *merge(json_t *a, json_t *b) /* consumes both */
{
    const char *x = ty_name(a), *y = ty_name(b);
    json_t *r;
    if (!strcmp(x, "NULL")) {
        json_decref(a);
        return b;
    }
    if (!strcmp(y, "NULL") || !strcmp(x, "VARCHAR")) {
        json_decref(b);
        return a;
    }
    if (!strcmp(x, y)) {
        if (!strcmp(x, "DECIMAL")) {
            json_int_t s1 = json_integer_value(json_object_get(a, "s")), s2 = json_integer_value(json_object_get(b, "s"));
            json_object_set_new(a, "s", json_integer(s1 > s2 ? s1 : s2));
        } else if (!strcmp(x, "LIST")) {
            json_object_set_new(a, "of", merge(json_incref(json_object_get(a, "of")), json_incref(json_object_get(b, "of"))));
        } else if (!strcmp(x, "STRUCT")) {
            json_t *fa = json_object_get(a, "f");
            const char *k;
            json_t *t;
            json_object_foreach(json_object_get(b, "f"), k, t) {
                json_t *old = json_object_get(fa, k);
                json_object_set_new(fa, k, old ? merge(json_incref(old), json_incref(t)) : json_incref(t));
            }
        }
        json_decref(b);
        return a;
    }
    if ((!strcmp(x, "BIGINT") && !strcmp(y, "DOUBLE")) || (!strcmp(x, "DOUBLE") && !strcmp(y, "BIGINT")))
        r = ty("DOUBLE");
    else if ((!strcmp(x, "DATE") && !strcmp(y, "TIMESTAMPTZ")) || (!strcmp(x, "TIMESTAMPTZ") && !strcmp(y, "DATE")))
        r = ty("TIMESTAMPTZ");
    else if ((!strcmp(x, "DECIMAL") && !strcmp(y, "BIGINT")) || (!strcmp(x, "BIGINT") && !strcmp(y, "DECIMAL"))) {
        r = json_deep_copy(!strcmp(x, "DECIMAL") ? a : b);
    } else
        r = ty("VARCHAR");
    json_decref(a);
    json_decref(b);
    return r;
}

static json_t *infer(const json_t *v)
{
    const char *text, *tag = tag_of(v, &text);
    if (tag) {
        if (!strcmp(tag, "timestamp"))
            return ty(strlen(text) <= 11 ? "DATE" : "TIMESTAMPTZ");
        if (!strcmp(tag, "decimal")) {
            json_t *t = ty("DECIMAL");
            json_object_set_new(t, "s", json_integer(decimal_scale(text)));
            return t;
        }
        if (!strcmp(tag, "blob"))
            return ty("BLOB");
        if (!strcmp(tag, "float"))
            return ty("DOUBLE");
        if (!strcmp(tag, "int")) { /* past 64 bits: Parquet's widest exact integer is a decimal */
            json_t *t = ty("DECIMAL");
            json_object_set_new(t, "s", json_integer(0));
            return t;
        }
        return ty("VARCHAR"); /* symbol, clob */
    }
    switch (json_typeof(v)) {
    case JSON_NULL: return ty("NULL");
    case JSON_TRUE: case JSON_FALSE: return ty("BOOLEAN");
    case JSON_INTEGER: return ty("BIGINT");
    case JSON_REAL: return ty("DOUBLE");
    case JSON_STRING: return ty("VARCHAR");
    case JSON_ARRAY: {
        json_t *of = ty("NULL");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) of = merge(of, infer(x));
        json_t *t = ty("LIST");
        json_object_set_new(t, "of", of);
        return t;
    }
    case JSON_OBJECT: {
        json_t *f = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(f, k, infer(x));
        if (!json_object_size(f)) {
            json_decref(f);
            return ty("VARCHAR");
        }
        json_t *t = ty("STRUCT");
        json_object_set_new(t, "f", f);
        return t;
    }
    }
    return ty("VARCHAR");
}

/* DuckDB's spelling of a type; a blob below the top level is base64 text,
 * a column of nulls only VARCHAR. */
static void ty_sql(buf *b, const json_t *t, int top)
{
    const char *n = ty_name(t);
    if (!strcmp(n, "NULL") || (!top && !strcmp(n, "BLOB")))
        buf_puts(b, "VARCHAR");
    else if (!strcmp(n, "DECIMAL"))
        buf_printf(b, "DECIMAL(%d,%d)",
                   json_integer_value(json_object_get(t, "p")) ? (int)json_integer_value(json_object_get(t, "p")) : 38,
                   (int)json_integer_value(json_object_get(t, "s")));
    else if (!strcmp(n, "LIST")) {
        ty_sql(b, json_object_get(t, "of"), 0);
        buf_puts(b, "[]");
    } else if (!strcmp(n, "STRUCT")) {
        buf_puts(b, "STRUCT(");
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(json_object_get(t, "f"), k, x) {
            if (!first)
                buf_puts(b, ", ");
            first = 0;
            sql_ident(b, k);
            buf_putc(b, ' ');
            ty_sql(b, x, 0);
        }
        buf_putc(b, ')');
    } else if (!strcmp(n, "MAP")) {
        buf_puts(b, "MAP(VARCHAR, ");
        ty_sql(b, json_object_get(t, "of"), 0);
        buf_putc(b, ')');
    } else
        buf_puts(b, n);
}

/* ---- the Avro schema as column types ---- */

static json_t *avro_ty(const json_t *s, json_t *names, kerr *e);

static json_t *avro_named(const char *n, json_t *names, kerr *e)
{
    static const struct { const char *avro, *duck; } prim[] = {
        {"null", "NULL"}, {"boolean", "BOOLEAN"}, {"int", "INTEGER"}, {"long", "BIGINT"}, {"float", "FLOAT"},
        {"double", "DOUBLE"}, {"bytes", "BLOB"}, {"string", "VARCHAR"}};
    for (size_t i = 0; i < sizeof prim / sizeof prim[0]; i++)
        if (!strcmp(n, prim[i].avro))
            return ty(prim[i].duck);
    json_t *t = json_object_get(names, n);
    if (!t) {
        const char *dot = strrchr(n, '.');
        t = dot ? json_object_get(names, dot + 1) : NULL;
    }
    if (!t) {
        kerr_set(e, "property 'schema': unknown type '%s'", n);
        return NULL;
    }
    return json_deep_copy(t);
}

static json_t *avro_ty(const json_t *s, json_t *names, kerr *e)
{
    if (json_is_string(s))
        return avro_named(json_string_value(s), names, e);
    if (json_is_array(s)) { /* a union: its branch that is not null */
        json_t *r = NULL;
        size_t i;
        json_t *b;
        json_array_foreach(s, i, b) {
            if (json_is_string(b) && !strcmp(json_string_value(b), "null"))
                continue;
            json_t *t = avro_ty(b, names, e);
            if (!t) {
                json_decref(r);
                return NULL;
            }
            r = r ? merge(r, t) : t;
        }
        return r ? r : ty("NULL");
    }
    if (!json_is_object(s)) {
        kerr_set(e, "property 'schema': a type must be a name, a union or an object");
        return NULL;
    }
    const char *t = json_string_value(json_object_get(s, "type"));
    const char *lt = json_string_value(json_object_get(s, "logicalType"));
    if (!t) {
        kerr_set(e, "property 'schema': a type object without \"type\"");
        return NULL;
    }
    json_t *r = NULL;
    if (lt && !strcmp(lt, "decimal")) {
        r = ty("DECIMAL");
        json_int_t p = json_integer_value(json_object_get(s, "precision"));
        json_object_set_new(r, "p", json_integer(p > 0 && p <= 38 ? p : 38));
        json_object_set_new(r, "s", json_integer(json_integer_value(json_object_get(s, "scale"))));
    } else if (lt && !strcmp(lt, "date"))
        r = ty("DATE");
    else if (lt && (!strcmp(lt, "time-millis") || !strcmp(lt, "time-micros")))
        r = ty("TIME");
    else if (lt && (!strcmp(lt, "timestamp-millis") || !strcmp(lt, "timestamp-micros")))
        r = ty("TIMESTAMPTZ");
    else if (lt && (!strcmp(lt, "local-timestamp-millis") || !strcmp(lt, "local-timestamp-micros")))
        r = ty("TIMESTAMP");
    else if (lt && !strcmp(lt, "uuid"))
        r = ty("UUID");
    else if (!strcmp(t, "record") || !strcmp(t, "error")) {
        r = ty("STRUCT");
        json_t *f = json_object();
        json_object_set_new(r, "f", f);
        const char *name = json_string_value(json_object_get(s, "name"));
        size_t i;
        json_t *fd;
        json_array_foreach(json_object_get(s, "fields"), i, fd) {
            const char *fn = json_string_value(json_object_get(fd, "name"));
            json_t *ft = fn ? avro_ty(json_object_get(fd, "type"), names, e) : NULL;
            if (!ft) {
                if (!fn)
                    kerr_set(e, "property 'schema': a field without a name");
                json_decref(r);
                return NULL;
            }
            json_object_set_new(f, fn, ft);
        }
        if (name)
            json_object_set(names, name, r);
    } else if (!strcmp(t, "enum")) {
        r = ty("VARCHAR");
        if (json_string_value(json_object_get(s, "name")))
            json_object_set(names, json_string_value(json_object_get(s, "name")), r);
    } else if (!strcmp(t, "fixed")) {
        r = ty("BLOB");
        if (json_string_value(json_object_get(s, "name")))
            json_object_set(names, json_string_value(json_object_get(s, "name")), r);
    } else if (!strcmp(t, "array") || !strcmp(t, "map")) {
        json_t *of = avro_ty(json_object_get(s, !strcmp(t, "array") ? "items" : "values"), names, e);
        if (!of)
            return NULL;
        r = ty(!strcmp(t, "array") ? "LIST" : "MAP");
        json_object_set_new(r, "of", of);
    } else
        r = avro_named(t, names, e);
    return r;
}

/* ---- the rows as JSON for DuckDB ---- */

/* An Ion timestamp's text as DuckDB casts it: a date alone without its T
 * (2024T is 2024-01-01), minutes without seconds given :00. */
static json_t *ts_text(const char *s)
{
    size_t n = strlen(s);
    char t[96];
    if (n >= sizeof t - 8)
        return json_string(s);
    if (n == 5)
        snprintf(t, sizeof t, "%.4s-01-01", s);
    else if (n == 8)
        snprintf(t, sizeof t, "%.7s-01", s);
    else if (n == 11)
        snprintf(t, sizeof t, "%.10s", s);
    else if (n > 16 && s[13] == ':' && s[16] != ':')
        snprintf(t, sizeof t, "%.16s:00%s", s, s + 16);
    else
        snprintf(t, sizeof t, "%s", s);
    return json_string(t);
}

/* A row's value with its Ion tags turned into what DuckDB's read_json casts
 * to the column's type. New reference. */
static json_t *plain(const json_t *v)
{
    const char *text, *tag = tag_of(v, &text);
    if (tag) {
        if (!strcmp(tag, "timestamp"))
            return ts_text(text);
        if (!strcmp(tag, "float"))
            return json_string(!strcmp(text, "nan") ? "nan" : text[0] == '-' ? "-inf" : "inf");
        return json_string(text); /* decimal, int, blob (base64), symbol, clob */
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, plain(x));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, plain(x));
        return o;
    }
    return json_incref((json_t *)v);
}

typedef struct col {
    char *name;
    json_t *type;
} col;

typedef struct cols {
    col *c;
    size_t n, cap;
} cols;

static void cols_add(cols *cs, const char *name, json_t *type)
{
    for (size_t i = 0; i < cs->n; i++)
        if (!strcmp(cs->c[i].name, name)) {
            cs->c[i].type = merge(cs->c[i].type, type);
            return;
        }
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->c = xrealloc(cs->c, cs->cap * sizeof *cs->c);
    }
    cs->c[cs->n].name = xstrdup(name);
    cs->c[cs->n].type = type;
    cs->n++;
}

static void cols_free(cols *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->c[i].name);
        json_decref(cs->c[i].type);
    }
    free(cs->c);
}

/* One Ion row written to the staging file as a JSON line of its columns
 * (a row that is not a struct fails). */
static int stage_row(FILE *f, const json_t *row, const cols *cs, int64_t no, kerr *e)
{
    if (!json_is_object(row) || tag_of(row, &(const char *){NULL}))
        return kerr_setc(e, KERR_INVALID, "row %lld: a Parquet row must be a struct, not %s", (long long)no,
                         json_is_array(row) ? "a list" : "a scalar");
    json_t *o = json_object();
    for (size_t i = 0; i < cs->n; i++) {
        const json_t *x = json_object_get(row, cs->c[i].name);
        json_object_set_new(o, cs->c[i].name, x ? plain(x) : json_null());
    }
    int rc = json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(17)) || fputc('\n', f) == EOF;
    json_decref(o);
    return rc ? kerr_set(e, "writing a temporary file failed: %s", strerror(errno)) : 0;
}

static int parquet_opts(task_ctx *c, buf *o, int64_t *row_group_bytes, kerr *e)
{
    char *codec = NULL, *ver = NULL;
    int64_t rg = 0;
    if (task_prop_string(c, "compressionCodec", "GZIP", &codec, e) ||
        task_prop_string(c, "parquetVersion", "V2", &ver, e)) {
        free(codec);
        return -1;
    }
    static const char *const codecs[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", NULL};
    int ok = 0;
    for (int i = 0; codecs[i]; i++)
        ok |= !strcasecmp(codec, codecs[i]);
    if (!ok)
        kerr_setc(e, KERR_INVALID, "property 'compressionCodec': '%s' is not one of UNCOMPRESSED, SNAPPY, GZIP, ZSTD",
                  codec);
    else if (strcasecmp(ver, "V1") && strcasecmp(ver, "V2")) {
        kerr_setc(e, KERR_INVALID, "property 'parquetVersion': '%s' is not V1 or V2", ver);
        ok = 0;
    }
    if (ok)
        buf_printf(o, "FORMAT PARQUET, COMPRESSION '%s', PARQUET_VERSION '%s'", codec, ver);
    free(codec);
    free(ver);
    if (!ok)
        return -1;
    if (task_prop_int(c, "rowGroupSize", 0, &rg, e))
        return -1;
    if (rg < 0)
        return kerr_setc(e, KERR_INVALID, "property 'rowGroupSize': must be a positive number of bytes");
    *row_group_bytes = rg;
    return 0;
}

static task_result ion_to_parquet_run(task_ctx *c, kerr *e)
{
    char *from = NULL, *schema = NULL, *stage = NULL, *out = NULL, *uri = NULL;
    int64_t scan, rg_bytes = 0;
    FILE *in = NULL, *sf = NULL;
    tasks_duckdb *d = NULL;
    ion_reader *r = NULL;
    cols cs = {0};
    json_t *names = json_object(), *buffered = json_array();
    buf opts = BUF_INIT, sql = BUF_INIT;
    int rc = -1, got;
    int64_t rows = 0;

    if (task_prop_string(c, "from", NULL, &from, e) || task_prop_string(c, "schema", NULL, &schema, e) ||
        task_prop_int(c, "numberOfRowsToScan", 100, &scan, e) || parquet_opts(c, &opts, &rg_bytes, e))
        goto out;
    if (!from) {
        kerr_set(e, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (!(d = pq_open(e)))
        goto out;
    if (schema) {
        json_error_t je;
        json_t *s = json_loads(schema, 0, &je);
        if (!s) {
            kerr_setc(e, KERR_INVALID, "property 'schema': line %d, column %d: %s", je.line, je.column, je.text);
            goto out;
        }
        json_t *t = avro_ty(s, names, e);
        json_decref(s);
        if (!t)
            goto out;
        if (strcmp(ty_name(t), "STRUCT")) {
            json_decref(t);
            kerr_setc(e, KERR_INVALID, "property 'schema': the schema must be a record");
            goto out;
        }
        const char *k;
        json_t *x;
        json_object_foreach(json_object_get(t, "f"), k, x) cols_add(&cs, k, json_incref(x));
        json_decref(t);
    }
    kerr se = KERR_INIT;
    int fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    in = fdopen(fd, "r");
    r = ion_reader_new_file(in, ION_READ_TAGGED);
    if (!(stage = tmp_path(c, e)) || !(out = tmp_path(c, e)))
        goto out;
    sf = fopen(stage, "w");
    if (!sf) {
        kerr_set(e, "cannot write %s: %s", stage, strerror(errno));
        goto out;
    }
    /* without a schema: the first numberOfRowsToScan rows give the columns,
     * then they are staged with the rest */
    json_t *row;
    int inferring = !schema;
    while ((got = ion_reader_next(r, &row, NULL, e)) == 1) {
        rows++;
        if (inferring && (int64_t)json_array_size(buffered) < (scan > 0 ? scan : 1)) {
            if (json_is_object(row)) {
                const char *k;
                json_t *x;
                json_object_foreach(row, k, x) cols_add(&cs, k, infer(x));
            }
            json_array_append_new(buffered, row);
            continue;
        }
        if (json_array_size(buffered)) {
            size_t i;
            json_t *b;
            json_array_foreach(buffered, i, b) if (stage_row(sf, b, &cs, (int64_t)i + 1, e)) goto out_row;
            json_array_clear(buffered);
            inferring = 0;
        }
        if (stage_row(sf, row, &cs, rows, e))
            goto out_row;
        json_decref(row);
        continue;
    out_row:
        json_decref(row);
        goto out;
    }
    if (got < 0) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    size_t i;
    json_t *b;
    json_array_foreach(buffered, i, b) if (stage_row(sf, b, &cs, (int64_t)i + 1, e)) goto out;
    long staged = ftell(sf);
    if (fclose(sf)) {
        sf = NULL;
        kerr_set(e, "writing %s failed: %s", stage, strerror(errno));
        goto out;
    }
    sf = NULL;
    /* rowGroupSize is bytes (Kestra's); DuckDB counts a row group in rows
     * (its byte target would give up the rows' order): the rows that many
     * bytes hold, as the staged rows measure them */
    if (rg_bytes > 0 && rows > 0 && staged > 0) {
        double per = (double)staged / (double)rows;
        long long n = (long long)((double)rg_bytes / per);
        buf_printf(&opts, ", ROW_GROUP_SIZE %lld", n < 1 ? 1 : n);
    }
    if (!cs.n) {
        kerr_setc(e, KERR_INVALID,
                  "property 'from': no struct rows to take the columns from; give 'schema' (an Avro record)");
        goto out;
    }
    /* COPY (SELECT cols FROM read_json(stage, columns = {...})) TO out (...) */
    buf_puts(&sql, "COPY (SELECT ");
    for (size_t k = 0; k < cs.n; k++) {
        if (k)
            buf_puts(&sql, ", ");
        if (!strcmp(ty_name(cs.c[k].type), "BLOB")) {
            buf_puts(&sql, "from_base64(");
            sql_ident(&sql, cs.c[k].name);
            buf_puts(&sql, ") AS ");
        }
        sql_ident(&sql, cs.c[k].name);
    }
    buf_puts(&sql, " FROM read_json(");
    sql_str(&sql, stage);
    buf_puts(&sql, ", format = 'newline_delimited', maximum_object_size = 16777216, columns = {");
    for (size_t k = 0; k < cs.n; k++) {
        buf tb = BUF_INIT;
        if (k)
            buf_puts(&sql, ", ");
        sql_str(&sql, cs.c[k].name);
        buf_puts(&sql, ": ");
        if (!strcmp(ty_name(cs.c[k].type), "BLOB"))
            buf_puts(&tb, "VARCHAR");
        else
            ty_sql(&tb, cs.c[k].type, 1);
        sql_str(&sql, buf_str(&tb));
        buf_free(&tb);
    }
    buf_puts(&sql, "})) TO ");
    sql_str(&sql, out);
    buf_printf(&sql, " (%s)", buf_str(&opts));
    if (tasks__duckdb_exec(d, buf_str(&sql), NULL, NULL, e)) {
        pq_msg(e, stage, "the Ion rows (a line is a row)");
        kerr_prefix(e, "property 'from': DuckDB");
        goto out;
    }
    if (!(uri = task_uri(c, "parquet", e)) || storage_put_file(c->storage, uri, out, STORAGE_PUT_MOVE, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    task_metric(c, "records", METRIC_COUNTER, (double)rows, NULL);
    rc = 0;
out:
    if (sf)
        fclose(sf);
    if (stage)
        unlink(stage);
    if (out)
        unlink(out);
    ion_reader_free(r);
    if (in)
        fclose(in);
    tasks__duckdb_close(d);
    cols_free(&cs);
    json_decref(names);
    json_decref(buffered);
    buf_free(&opts);
    buf_free(&sql);
    free(from);
    free(schema);
    free(stage);
    free(out);
    free(uri);
    return rc ? TASK_FAILED : TASK_SUCCESS;
}

/* ==== ParquetToIon ========================================================== */

enum { K_PLAIN, K_TSTZ, K_TS, K_DATE, K_DECIMAL, K_BIGINT, K_BLOB, K_TEXT, K_FLOAT };

typedef struct pcol {
    char *name;
    int kind;
} pcol;

typedef struct pcols {
    pcol *c;
    size_t n, cap;
} pcols;

static int describe_row(void *ud, size_t ncol, const char *const *names, char *const *vals, kerr *e)
{
    pcols *ps = ud;
    const char *name = NULL, *type = NULL;
    for (size_t k = 0; k < ncol; k++) {
        if (!strcmp(names[k], "column_name"))
            name = vals[k];
        else if (!strcmp(names[k], "column_type"))
            type = vals[k];
    }
    if (!name || !type)
        return kerr_set(e, "DuckDB's DESCRIBE gave no column_name / column_type");
    int kind = K_PLAIN;
    if (!strcmp(type, "TIMESTAMP WITH TIME ZONE"))
        kind = K_TSTZ;
    else if (!strncmp(type, "TIMESTAMP", 9))
        kind = K_TS;
    else if (!strcmp(type, "DATE"))
        kind = K_DATE;
    else if (!strncmp(type, "DECIMAL", 7))
        kind = K_DECIMAL;
    else if (!strcmp(type, "HUGEINT") || !strcmp(type, "UHUGEINT") || !strcmp(type, "UBIGINT"))
        kind = K_BIGINT;
    else if (!strcmp(type, "BLOB"))
        kind = K_BLOB;
    else if (!strcmp(type, "BOOLEAN") || !strcmp(type, "TINYINT") || !strcmp(type, "SMALLINT") ||
             !strcmp(type, "INTEGER") || !strcmp(type, "BIGINT") || !strcmp(type, "UTINYINT") ||
             !strcmp(type, "USMALLINT") || !strcmp(type, "UINTEGER") || !strcmp(type, "VARCHAR") ||
             strchr(type, '[') || !strncmp(type, "STRUCT", 6) || !strncmp(type, "MAP", 3))
        kind = K_PLAIN;
    else if (!strcmp(type, "FLOAT") || !strcmp(type, "DOUBLE"))
        kind = K_FLOAT; /* as text: JSON has no nan or inf */
    else
        kind = K_TEXT; /* TIME, INTERVAL, UUID, ENUM... as their text */
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->c = xrealloc(ps->c, ps->cap * sizeof *ps->c);
    }
    ps->c[ps->n].name = xstrdup(name);
    ps->c[ps->n].kind = kind;
    ps->n++;
    return 0;
}

/* One JSON line from DuckDB written as an Ion row. */
static int write_row(ion_writer *w, const json_t *row, const pcols *ps, kerr *e)
{
    if (ion_begin_struct(w))
        return -1;
    const char *k;
    json_t *x;
    size_t i = 0;
    json_object_foreach((json_t *)row, k, x) {
        int kind = i < ps->n ? ps->c[i].kind : K_PLAIN;
        i++;
        if (ion_write_field(w, k))
            return -1;
        int rc;
        if (json_is_null(x) || kind == K_PLAIN)
            rc = ion_write_json(w, x, 0);
        else if ((kind == K_TSTZ || kind == K_TS) && json_is_integer(x)) {
            json_int_t us = json_integer_value(x);
            rc = ion_write_timestamp_us(w, us, 0, us % 1000 ? 6 : 3);
        } else if (kind == K_DATE && json_is_string(x))
            rc = ion_write_timestamp(w, json_string_value(x));
        else if (kind == K_DECIMAL && json_is_string(x))
            rc = ion_write_decimal(w, json_string_value(x));
        else if (kind == K_FLOAT && json_is_string(x))
            rc = ion_write_float(w, strtod(json_string_value(x), NULL));
        else if (kind == K_BIGINT && json_is_string(x))
            rc = ion_write_int_text(w, json_string_value(x));
        else if (kind == K_BLOB && json_is_string(x)) {
            json_t *t = json_pack("{sO}", "$ion_blob", x);
            rc = ion_write_json(w, t, 0);
            json_decref(t);
        } else
            rc = ion_write_json(w, x, 0);
        if (rc)
            return kerr_set(e, "column '%s': cannot write its value as Ion", k);
    }
    return ion_end_struct(w);
}

static int sw_sink(void *ud, const char *p, size_t n)
{
    kerr e = KERR_INIT;
    return storage_writer_write(ud, p, n, &e);
}

static task_result parquet_to_ion_run(task_ctx *c, kerr *e)
{
    char *from = NULL, *stage = NULL, *uri = NULL, *line = NULL;
    tasks_duckdb *d = NULL;
    pcols ps = {0};
    buf sql = BUF_INIT, src = BUF_INIT;
    FILE *sf = NULL;
    storage_writer *sw = NULL;
    ion_writer *w = NULL;
    int fd = -1, rc = -1;
    int64_t rows = 0;
    if (task_prop_string(c, "from", NULL, &from, e))
        goto out;
    if (!from) {
        kerr_set(e, "property 'from' is required (a kestra:/// URI)");
        goto out;
    }
    if (!(d = pq_open(e)))
        goto out;
    kerr se = KERR_INIT;
    fd = storage_open_fd(c->storage, from, &se);
    if (fd < 0) {
        kerr_set(e, "property 'from': %s", se.msg);
        goto out;
    }
    /* DuckDB opens the file by name: the descriptor's, so that any storage
     * backend's local copy will do */
    buf_printf(&src, "/proc/self/fd/%d", fd);
    buf_puts(&sql, "DESCRIBE SELECT * FROM read_parquet(");
    sql_str(&sql, buf_str(&src));
    buf_putc(&sql, ')');
    if (tasks__duckdb_exec(d, buf_str(&sql), describe_row, &ps, e)) {
        pq_msg(e, buf_str(&src), from);
        if (strstr(e->msg, "magic") || strstr(e->msg, "too small") || strstr(e->msg, "Parquet"))
            kerr_prefix(e, "property 'from': not a Parquet file (DuckDB)");
        else
            kerr_prefix(e, "property 'from': DuckDB cannot read it");
        goto out;
    }
    if (!(stage = tmp_path(c, e)))
        goto out;
    buf_reset(&sql);
    buf_puts(&sql, "COPY (SELECT ");
    for (size_t k = 0; k < ps.n; k++) {
        if (k)
            buf_puts(&sql, ", ");
        const char *fn = ps.c[k].kind == K_TSTZ || ps.c[k].kind == K_TS ? "epoch_us("
                         : ps.c[k].kind == K_BLOB                       ? "to_base64("
                         : ps.c[k].kind == K_PLAIN                      ? "("
                                                                        : "CAST(";
        buf_puts(&sql, fn);
        sql_ident(&sql, ps.c[k].name);
        buf_puts(&sql, ps.c[k].kind == K_PLAIN || ps.c[k].kind == K_TSTZ || ps.c[k].kind == K_TS ||
                               ps.c[k].kind == K_BLOB
                           ? ")"
                           : " AS VARCHAR)");
        buf_puts(&sql, " AS ");
        sql_ident(&sql, ps.c[k].name);
    }
    if (!ps.n)
        buf_putc(&sql, '*');
    buf_puts(&sql, " FROM read_parquet(");
    sql_str(&sql, buf_str(&src));
    buf_puts(&sql, ")) TO ");
    sql_str(&sql, stage);
    buf_puts(&sql, " (FORMAT JSON)");
    if (tasks__duckdb_exec(d, buf_str(&sql), NULL, NULL, e)) {
        pq_msg(e, buf_str(&src), from);
        kerr_prefix(e, "property 'from': DuckDB");
        goto out;
    }
    if (!(uri = task_uri(c, "ion", e)) || !(sw = storage_writer_new(c->storage, uri, e)))
        goto out;
    w = ion_writer_new(sw_sink, sw);
    sf = fopen(stage, "r");
    if (!sf) {
        kerr_set(e, "cannot read %s: %s", stage, strerror(errno));
        goto out;
    }
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, sf)) >= 0) {
        if (n <= 1)
            continue;
        json_error_t je;
        json_t *row = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &je);
        if (!row) {
            kerr_set(e, "DuckDB's JSON, line %lld: %s", (long long)rows + 1, je.text);
            goto out;
        }
        int wr = write_row(w, row, &ps, e);
        json_decref(row);
        if (wr) {
            kerr_prefix(e, "row %lld", (long long)rows + 1);
            goto out;
        }
        rows++;
    }
    if (ion_writer_flush(w)) {
        kerr_set(e, "internal storage: writing %s failed", uri);
        goto out;
    }
    rc = 0;
out:
    ion_writer_free(w);
    if (sw) {
        if (rc)
            storage_writer_abort(sw);
        else if (storage_writer_commit(sw, e))
            rc = -1;
    }
    if (!rc) {
        task_output(c, "uri", json_string(uri));
        task_metric(c, "records", METRIC_COUNTER, (double)rows, NULL);
    }
    if (sf)
        fclose(sf);
    if (stage)
        unlink(stage);
    if (fd >= 0)
        close(fd);
    tasks__duckdb_close(d);
    for (size_t k = 0; k < ps.n; k++)
        free(ps.c[k].name);
    free(ps.c);
    buf_free(&sql);
    buf_free(&src);
    free(line);
    free(from);
    free(stage);
    free(uri);
    return rc ? TASK_FAILED : TASK_SUCCESS;
}

static const struct task_hooks ion_to_parquet_hooks = {.run = ion_to_parquet_run};
static const struct task_hooks parquet_to_ion_hooks = {.run = parquet_to_ion_run};

const type_def tasks__parquet[] = {
    {
        .name = "serdes.ion_to_parquet",
        .hooks = &ion_to_parquet_hooks,
        .check = pq_check,
        .aliases = ALIASES("io.kestra.plugin.serdes.parquet.IonToParquet",
                           "io.kestra.plugin.serdes.parquet.ParquetWriter"),
        .desc = "Convert Ion rows to a Parquet file, on DuckDB's Parquet writer (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI (Ion rows)"),
                       PSTR("schema", 0, NULL, "an Avro record schema (JSON text); without it the columns are "
                                               "inferred from the first numberOfRowsToScan rows"),
                       PINT("numberOfRowsToScan", 0, "100", "rows read to infer the columns without a schema"),
                       PENUM("compressionCodec", 0, "\"GZIP\"", ENUMS("UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"),
                             "the compression"),
                       PENUM("parquetVersion", 0, "\"V2\"", ENUMS("V1", "V2"), "the Parquet format version"),
                       PINT("rowGroupSize", 0, NULL, "target row group size in bytes (DuckDB's default without it)"),
                       PINT("pageSize", 0, NULL, "accepted as Kestra's; DuckDB sizes its own pages"),
                       PINT("dictionaryPageSize", 0, NULL, "accepted as Kestra's; DuckDB sizes its own dictionaries"),
                       PSTR("timeZoneId", 0, NULL, "accepted as Kestra's (timestamps keep their own offset)"),
                       PSTRL("trueValues", 0, NULL, "accepted as Kestra's (DuckDB casts text to the column type)"),
                       PSTRL("falseValues", 0, NULL, "accepted as Kestra's"),
                       PSTRL("nullValues", 0, NULL, "accepted as Kestra's"),
                       PSTR("dateFormat", 0, NULL, "accepted as Kestra's; ISO-8601 dates are read"),
                       PSTR("datetimeFormat", 0, NULL, "accepted as Kestra's; ISO-8601 date-times are read"),
                       PSTR("timeFormat", 0, NULL, "accepted as Kestra's"),
                       PBOOL("inferAllFields", 0, "false", "accepted as Kestra's"),
                       PBOOL("strictSchema", 0, "false", "accepted as Kestra's (a row's unknown fields are dropped)")),
    },
    {
        .name = "serdes.parquet_to_ion",
        .hooks = &parquet_to_ion_hooks,
        .check = pq_check,
        .aliases = ALIASES("io.kestra.plugin.serdes.parquet.ParquetToIon",
                           "io.kestra.plugin.serdes.parquet.ParquetReader"),
        .desc = "Convert a Parquet file to Ion rows, on DuckDB's Parquet reader (output `uri`).",
        .props = PROPS(PSTR("from", PF_REQUIRED, NULL, "source file URI (a Parquet file)")),
    },
};

const size_t tasks__parquet_count = sizeof tasks__parquet / sizeof tasks__parquet[0];
