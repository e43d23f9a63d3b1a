/*
 * sql.c: the SQL family (io.kestra.plugin.jdbc.{postgresql,mysql,mariadb,
 * sqlite,duckdb}.*): what Query, Queries, CopyIn and CopyOut share whatever
 * the database, and the family's type table at the end. The databases are
 * drivers behind sql_driver (sql_int.h), one file each.
 *
 * What is common: the JDBC url (jdbc:<driver>://host:port/db?opt=v, or
 * jdbc:sqlite:/path, jdbc:duckdb:), username and password (never in a
 * message: targets are named without credentials or options, and the
 * password is scrubbed from what a server says), `parameters` (a map bound
 * by name: `:name` in the SQL becomes the driver's placeholder and the
 * value is bound, never pasted), `fetchType` and the older fetch / fetchOne
 * / store booleans, `timeZoneId`, `afterSQL` (in the same transaction),
 * outputs `row`, `rows`, `size`, `uri` as Kestra gives them, and Queries's
 * one entry per statement in `outputs`, in one transaction by default.
 *
 * DESIGN
 * Connections are pooled per (driver, url, user, password): a process-wide
 * list under one mutex. A task takes an idle connection (checking it is
 * alive) or opens one, and gives it back when it ends well; a failed
 * statement rolls back and the connection goes back too, unless the driver
 * says it is dead. At most SQL_POOL_IDLE idle connections per key are kept;
 * idle ones older than SQL_POOL_IDLE_US are closed.
 */
#include "tasks/sql/sql_int.h"

#include "storage/storage.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/dl.h"
#include "util/ion.h"
#include "util/mem.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQL_POOL_IDLE 8
#define SQL_POOL_IDLE_US (300 * 1000000LL)
#define SQL_CONNECT_TIMEOUT_US (10 * 1000000LL)

/* ---- values the drivers build ---- */

int sql__zone_offset(const char *tz, int y, int mo, int d, int h, int mi, int s)
{
    const tzone *z = tz && *tz ? tz_get(tz, NULL) : tz_utc();
    if (!z)
        z = tz_utc();
    civil c = {0};
    c.year = y;
    c.month = mo;
    c.day = d;
    c.hour = h;
    c.min = mi;
    c.sec = s;
    int64_t us = tz_from_civil(z, &c);
    return tz_offset_at(z, us) / 60;
}

json_t *sql__local_timestamp(const char *text, const char *tz)
{
    int y, mo, d, h, mi, s, n = 0;
    if (sscanf(text, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || !n)
        return json_string(text);
    const char *frac = text + n;
    size_t fl = 0;
    if (*frac == '.')
        for (fl = 1; isdigit((unsigned char)frac[fl]); fl++)
            ;
    if (frac[fl])
        return json_string(text);
    int off = sql__zone_offset(tz, y, mo, d, h, mi, s);
    char t[80];
    int k = snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d%.*s", y, mo, d, h, mi, s,
                     (int)fl, frac);
    if (off == 0)
        snprintf(t + k, sizeof t - (size_t)k, "Z");
    else
        snprintf(t + k, sizeof t - (size_t)k, "%c%02d:%02d", off < 0 ? '-' : '+',
                 abs(off) / 60, abs(off) % 60);
    json_t *o = json_object();
    json_object_set_new(o, "$ion_timestamp", json_string(t));
    return o;
}

json_t *sql__decimal(const char *text)
{
    json_t *o = json_object();
    json_object_set_new(o, "$ion_decimal", json_string(text));
    return o;
}

json_t *sql__blob(const void *p, size_t n)
{
    char *b = base64_encode(p, n);
    json_t *o = json_object();
    json_object_set_new(o, "$ion_blob", json_string(b));
    free(b);
    return o;
}

void sql__scrub(kerr *e, const char *secret)
{
    if (!e || !secret || strlen(secret) < 3)
        return;
    size_t n = strlen(secret);
    char *p;
    while ((p = strstr(e->msg, secret))) {
        memmove(p + 4, p + n, strlen(p + n) + 1);
        memcpy(p, "****", 4);
    }
}

/* A TAGGED value as the outputs show it: decimals as numbers, timestamps,
 * blobs and symbols as their text. New reference. */
static json_t *untag(json_t *v)
{
    if (json_is_object(v) && json_object_size(v) == 1) {
        const char *k = json_object_iter_key(json_object_iter(v));
        json_t *x = json_object_iter_value(json_object_iter(v));
        if (!strncmp(k, "$ion_", 5) && json_is_string(x)) {
            if (!strcmp(k, "$ion_decimal")) {
                const char *s = json_string_value(x);
                json_error_t je;
                json_t *num = strpbrk(s, ".eEdD") ? json_real(strtod(s, NULL))
                                                  : json_loads(s, JSON_DECODE_ANY, &je);
                return num ? num : json_incref(x);
            }
            if (!strcmp(k, "$ion_float"))
                return json_null();
            return json_incref(x);
        }
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
            json_object_set_new(o, k, untag(x));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            json_array_append_new(a, untag(x));
        return a;
    }
    return json_incref(v);
}

/* ---- the url ---- */

void sql__url_free(sql_url *u)
{
    free(u->host);
    free(u->db);
    free(u->user);
    free(u->password);
    free(u->target);
    json_decref(u->opts);
    memset(u, 0, sizeof *u);
}

static char *pct_decode(const char *s, size_t n)
{
    char *o = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 0 + 1 && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            o[k++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else
            o[k++] = s[i];
    }
    o[k] = 0;
    return o;
}

/* Parses url for driver d (whose name the url must carry; "mariadb" is
 * read by the mysql driver). user and password may be NULL. */
int sql__url_parse(const char *url, const sql_driver *d, const char *user,
                     const char *password, sql_url *u, kerr *e)
{
    memset(u, 0, sizeof *u);
    u->drv = d;
    u->opts = json_object();
    const char *p = url;
    if (!strncasecmp(p, "jdbc:", 5))
        p += 5;
    const char *colon = strchr(p, ':');
    if (!colon)
        return kerr_setc(e, KERR_INVALID, "property 'url': expected jdbc:%s:..., got no scheme",
                         d->name);
    size_t sl = (size_t)(colon - p);
    char scheme[32];
    snprintf(scheme, sizeof scheme, "%.*s", (int)(sl < 31 ? sl : 31), p);
    for (char *s = scheme; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    int ok = !strcmp(scheme, d->name) ||
             (d == &sql__mysql && !strcmp(scheme, "mariadb")) ||
             (d == &sql__pg && !strcmp(scheme, "postgres"));
    if (!ok)
        return kerr_setc(e, KERR_INVALID, "property 'url': a %s task needs a jdbc:%s: url, not '%s:'",
                         d->name, d->name, scheme);
    p = colon + 1;
    /* messages name the database as the url does (mariadb://, mysql://) */
    const char *shown = d == &sql__mysql && !strcmp(scheme, "mariadb") ? "mariadb" : d->name;
    /* the query string */
    const char *q = strchr(p, '?');
    size_t body = q ? (size_t)(q - p) : strlen(p);
    if (q) {
        const char *s = q + 1;
        while (*s) {
            const char *amp = strpbrk(s, "&;");
            size_t n = amp ? (size_t)(amp - s) : strlen(s);
            const char *eq = memchr(s, '=', n);
            if (eq && eq > s) {
                char *k = pct_decode(s, (size_t)(eq - s));
                char *v = pct_decode(eq + 1, n - (size_t)(eq - s) - 1);
                if (!strcasecmp(k, "user"))
                    free(u->user), u->user = v, v = NULL;
                else if (!strcasecmp(k, "password"))
                    free(u->password), u->password = v, v = NULL;
                else
                    json_object_set_new(u->opts, k, json_string(v));
                free(k);
                free(v);
            }
            s += n;
            if (*s)
                s++;
        }
    }
    if (d == &sql__sqlite || d == &sql__duckdb) {
        /* jdbc:sqlite:/path/to.db, jdbc:sqlite:file.db, jdbc:sqlite::memory:, jdbc:duckdb: */
        char *path = xstrndup(p, body);
        if (!strncmp(path, "//", 2))
            memmove(path, path + 2, strlen(path + 2) + 1);
        if (!*path || !strcmp(path, ":memory:") || !strcmp(path, "memory:")) {
            free(path);
            path = NULL;
        }
        u->db = path;
        u->target = xasprintf("%s:%s", d->name, path ? path : ":memory:");
    } else {
        if (strncmp(p, "//", 2))
            return kerr_setc(e, KERR_INVALID, "property 'url': expected jdbc:%s://host:port/database",
                             d->name);
        p += 2;
        body -= 2;
        const char *slash = memchr(p, '/', body);
        size_t hl = slash ? (size_t)(slash - p) : body;
        const char *at = memchr(p, '@', hl);
        if (at) { /* user:password@ in the authority */
            const char *c2 = memchr(p, ':', (size_t)(at - p));
            free(u->user);
            u->user = pct_decode(p, (size_t)((c2 ? c2 : at) - p));
            if (c2) {
                free(u->password);
                u->password = pct_decode(c2 + 1, (size_t)(at - c2 - 1));
            }
            hl -= (size_t)(at + 1 - p);
            body -= (size_t)(at + 1 - p);
            p = at + 1;
        }
        const char *hp = p, *port = NULL;
        size_t hostlen = hl;
        if (*hp == '[') {
            const char *rb = memchr(hp, ']', hl);
            if (!rb)
                return kerr_setc(e, KERR_INVALID, "property 'url': unterminated '[' in the host");
            hostlen = (size_t)(rb - hp - 1);
            hp++;
            if (rb + 1 < p + hl && rb[1] == ':')
                port = rb + 2;
        } else {
            const char *pc = memchr(hp, ':', hl);
            if (pc) {
                hostlen = (size_t)(pc - hp);
                port = pc + 1;
            }
        }
        u->host = hostlen ? xstrndup(hp, hostlen) : xstrdup("localhost");
        if (port) {
            char *end;
            long pv = strtol(port, &end, 10);
            if (end == port || pv <= 0 || pv > 65535 || (end != p + hl))
                return kerr_setc(e, KERR_INVALID, "property 'url': bad port");
            u->port = (int)pv;
        }
        if (slash && (size_t)(slash - p) + 1 < body)
            u->db = pct_decode(slash + 1, body - (size_t)(slash - p) - 1);
        u->target = xasprintf("%s://%s%s%s:%d/%s", shown, strchr(u->host, ':') ? "[" : "",
                              u->host, strchr(u->host, ':') ? "]" : "",
                              u->port ? u->port : (d == &sql__pg ? 5432 : 3306),
                              u->db ? u->db : "");
    }
    if (user && *user)
        free(u->user), u->user = xstrdup(user);
    if (password && *password)
        free(u->password), u->password = xstrdup(password);
    return 0;
}

/* ---- the pool ---- */

typedef struct pooled {
    struct pooled *next;
    const sql_driver *drv;
    char *key;
    sql_conn *conn;
    int64_t idle_since;
} pooled;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pooled *pool_head;

static char *pool_key(const char *url, const sql_url *u, const char *tz)
{
    return xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s", u->drv->name, url, u->user ? u->user : "",
                     u->password ? u->password : "", tz);
}

/* An idle connection for key, or NULL. Closes idle ones that waited too long. */
static sql_conn *pool_take(const sql_driver *d, const char *key)
{
    int64_t now = time_mono_us();
    pooled *found = NULL, *stale = NULL;
    pthread_mutex_lock(&pool_mu);
    for (pooled **pp = &pool_head; *pp;) {
        pooled *p = *pp;
        if (now - p->idle_since > SQL_POOL_IDLE_US) {
            *pp = p->next;
            p->next = stale;
            stale = p;
            continue;
        }
        if (!found && p->drv == d && !strcmp(p->key, key)) {
            *pp = p->next;
            found = p;
            continue;
        }
        pp = &p->next;
    }
    pthread_mutex_unlock(&pool_mu);
    while (stale) {
        pooled *n = stale->next;
        stale->drv->close(stale->conn);
        free(stale->key);
        free(stale);
        stale = n;
    }
    if (!found)
        return NULL;
    sql_conn *c = found->conn;
    free(found->key);
    free(found);
    if (!d->alive(c)) {
        d->close(c);
        return NULL;
    }
    return c;
}

static void pool_give(const sql_driver *d, const char *key, sql_conn *c)
{
    int n = 0;
    pthread_mutex_lock(&pool_mu);
    for (pooled *p = pool_head; p; p = p->next)
        n += p->drv == d && !strcmp(p->key, key);
    if (n < SQL_POOL_IDLE) {
        pooled *p = xcalloc(1, sizeof *p);
        p->drv = d;
        p->key = xstrdup(key);
        p->conn = c;
        p->idle_since = time_mono_us();
        p->next = pool_head;
        pool_head = p;
        c = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    if (c)
        d->close(c);
}

/* ---- statements and parameters ---- */

/*
 * Rewrites :name placeholders into the driver's (?, or $1, $2...) and
 * appends their values to *args in order. Text in quotes, comments and
 * PostgreSQL's :: casts is left alone. A name missing from params is an
 * error naming it. params NULL: the SQL is returned as is.
 */
char *sql__bind_names(const char *sql, const json_t *params, char ph, json_t *args, kerr *e)
{
    buf b = BUF_INIT;
    int n = 0;
    for (const char *p = sql; *p;) {
        char c = *p;
        if (c == '\'' || c == '"' || c == '`') {
            const char *q = p + 1;
            while (*q && !(*q == c && q[1] != c))
                q += (*q == c && q[1] == c) ? 2 : (*q == '\\' && c != '"' && q[1]) ? 2 : 1;
            if (*q)
                q++;
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == '-' && p[1] == '-') {
            const char *q = strchr(p, '\n');
            q = q ? q : p + strlen(p);
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == '/' && p[1] == '*') {
            const char *q = strstr(p + 2, "*/");
            q = q ? q + 2 : p + strlen(p);
            buf_append(&b, p, (size_t)(q - p));
            p = q;
        } else if (c == ':' && p[1] == ':') {
            buf_append(&b, p, 2);
            p += 2;
        } else if (c == ':' && params && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
            char *name = xstrndup(p + 1, (size_t)(q - p - 1));
            json_t *v = json_object_get(params, name);
            if (!v) {
                kerr_setc(e, KERR_INVALID, "property 'parameters': no value for ':%s' in the SQL", name);
                free(name);
                buf_free(&b);
                return NULL;
            }
            free(name);
            json_array_append(args, v);
            n++;
            if (ph == '$')
                buf_printf(&b, "$%d", n);
            else
                buf_putc(&b, '?');
            p = q;
        } else {
            buf_putc(&b, c);
            p++;
        }
    }
    return buf_steal(&b);
}

/* Splits sql on ';' outside quotes, comments and $tag$ bodies; empty
 * statements are dropped. Returns a JSON array of strings. */
json_t *sql__split_statements(const char *sql)
{
    json_t *out = json_array();
    buf b = BUF_INIT;
    const char *p = sql;
    for (;;) {
        char c = *p;
        if (!c || c == ';') {
            const char *s = buf_str(&b);
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n && isspace((unsigned char)s[n - 1]))
                n--;
            if (n)
                json_array_append_new(out, json_stringn(s, n));
            buf_reset(&b);
            if (!c)
                break;
            p++;
            continue;
        }
        const char *q = p + 1;
        if (c == '\'' || c == '"' || c == '`') {
            while (*q && *q != c)
                q += (*q == '\\' && c != '"' && q[1]) ? 2 : 1;
            if (*q)
                q++;
        } else if (c == '-' && p[1] == '-') {
            q = strchr(p, '\n');
            q = q ? q : p + strlen(p);
        } else if (c == '/' && p[1] == '*') {
            q = strstr(p + 2, "*/");
            q = q ? q + 2 : p + strlen(p);
        } else if (c == '$') {
            const char *t = p + 1;
            while (isalnum((unsigned char)*t) || *t == '_')
                t++;
            if (*t == '$') {
                size_t tl = (size_t)(t - p + 1);
                char *tag = xstrndup(p, tl);
                const char *end = strstr(t + 1, tag);
                q = end ? end + tl : p + strlen(p);
                free(tag);
            }
        }
        buf_append(&b, p, (size_t)(q - p));
        p = q;
    }
    buf_free(&b);
    return out;
}

/* ---- the task's settings ---- */

typedef enum { F_NONE, F_FETCH, F_FETCH_ONE, F_STORE } fetch_type;

typedef struct sql_task {
    task_ctx *c;
    const sql_driver *d;
    char *url_text, *tz, *key;
    sql_url u;
    json_t *params;     /* object or NULL */
    fetch_type fetch;
    sql_conn *conn;
    int broken;         /* the connection failed: close it, do not pool it */
    /* file databases (SQLite, DuckDB) with files of their own: sqliteFile,
     * databaseUri, inputFiles, outputFiles, outputDbFile, {{ workingDir }} */
    char *dir;          /* the task's folder, or NULL */
    char **out_names;   /* outputFiles, NULL-terminated, or NULL */
    int out_db;         /* outputDbFile */
    json_t *task_copy;  /* c->task with workingDir / outputFiles.x replaced */
    const json_t *task_orig;
} sql_task;

static void task_free(sql_task *t)
{
    if (t->conn) {
        /* a connection to a task's own files is never pooled */
        if (t->broken || t->dir || !t->d->alive(t->conn))
            t->d->close(t->conn);
        else
            pool_give(t->d, t->key, t->conn);
    }
    if (t->task_copy) {
        t->c->task = t->task_orig;
        json_decref(t->task_copy);
    }
    if (t->dir) {
        kerr e = KERR_INIT;
        if (proc_workdir_remove(t->dir, NULL, NULL, &e) < 0)
            task_log(t->c, LEVEL_WARN, "cannot remove the task's folder: %s", e.msg);
        free(t->dir);
    }
    proc_strv_free(t->out_names);
    free(t->url_text);
    free(t->tz);
    free(t->key);
    json_decref(t->params);
    sql__url_free(&t->u);
}

static int is_file_db(const sql_driver *d)
{
    return d == &sql__sqlite || d == &sql__duckdb;
}

/* The files of a file database, before it connects (Kestra's SQLite and
 * DuckDB tasks): a folder of the task's own when any is used, inputFiles
 * written into it (DuckDB), `{{ workingDir }}` and `{{ outputFiles.<name> }}`
 * replaced by their paths in the task's properties, the database file of
 * sqliteFile (named as the url names it) or databaseUri copied in, and a
 * file database instead of memory when outputDbFile asks for the file. */
static int local_prepare(task_ctx *c, sql_task *t, kerr *e)
{
    int duck = t->d == &sql__duckdb, rc = -1;
    char *dbsrc = NULL;
    json_t *inputs = NULL, *outs = NULL, *vars = NULL;
    if (tasks__prop_text(c, duck ? "databaseUri" : "sqliteFile", NULL, &dbsrc, e) ||
        task_prop_bool(c, "outputDbFile", 0, &t->out_db, e) ||
        (duck && (task_prop(c, "inputFiles", &inputs, e) || task_prop(c, "outputFiles", &outs, e))))
        goto out;
    if (duck && !dbsrc && tasks__prop_text(c, "databaseFile", NULL, &dbsrc, e))
        goto out;
    const json_t *sqlv = json_object_get(c->task, "sql");
    int uses_vars = json_is_string(sqlv) && (strstr(json_string_value(sqlv), "workingDir") ||
                                             strstr(json_string_value(sqlv), "outputFiles"));
    if (!dbsrc && !t->out_db && !inputs && !outs && !(duck && uses_vars)) {
        rc = 0;
        goto out;
    }
    if (outs && !json_is_array(outs)) {
        kerr_setc(e, KERR_INVALID, "property 'outputFiles': expected a list of file names");
        goto out;
    }
    if (proc_workdir_new(c->tmp_root, "kite-sql-", &t->dir, e))
        goto out;
    if (inputs && tasks__script_put_inputs(c, t->dir, e))
        goto out;
    vars = json_pack("{s:s}", "workingDir", t->dir);
    size_t i, n = json_array_size(outs);
    json_t *it;
    t->out_names = xcalloc(n + 1, sizeof *t->out_names);
    json_array_foreach(outs, i, it) {
        const char *name = json_string_value(it);
        if (!name) {
            kerr_setc(e, KERR_INVALID, "property 'outputFiles': item %zu is not a file name", i);
            goto out;
        }
        if (tasks__check_rel("outputFiles", name, e))
            goto out;
        t->out_names[i] = xstrdup(name);
        char *key = xasprintf("outputFiles.%s", name);
        json_object_set_new(vars, key, json_sprintf("%s/%s", t->dir, name));
        free(key);
    }
    int changed = 0;
    json_t *copy = tasks__subst_tree(c->task, vars, &changed);
    if (changed) {
        t->task_orig = c->task;
        t->task_copy = copy;
        c->task = copy;
    } else {
        json_decref(copy);
    }
    /* the database file: the url's name (SQLite: jdbc:sqlite:myfile.db),
     * inside the folder */
    if (dbsrc || t->out_db) {
        const char *base = t->u.db ? strrchr(t->u.db, '/') : NULL;
        base = base ? base + 1 : t->u.db;
        char *name = xstrdup(base && *base && strcmp(base, ":memory:") ? base : duck ? "database.duckdb" : "database.db");
        if (dbsrc && tasks__put_file(c, t->dir, name, dbsrc, e)) {
            kerr_prefix(e, "property '%s'", duck ? "databaseUri" : "sqliteFile");
            free(name);
            goto out;
        }
        free(t->u.db);
        t->u.db = xasprintf("%s/%s", t->dir, name);
        free(name);
    }
    rc = 0;
out:
    free(dbsrc);
    json_decref(inputs);
    json_decref(outs);
    json_decref(vars);
    return rc;
}

static int exec_plain(sql_task *t, const char *sql, kerr *e);

/* After a run that went well: the outputFiles (`outputFiles`: name -> URI)
 * and, with outputDbFile, the database file (`databaseUri`). */
static int local_finish(sql_task *t, kerr *e)
{
    if (!t->dir)
        return 0;
    if (t->out_names && t->out_names[0] &&
        tasks__script_store_outputs(t->c, t->dir, NULL, t->out_names, e))
        return -1;
    if (t->out_db) {
        if (t->d == &sql__duckdb && exec_plain(t, "CHECKPOINT", e))
            return -1;
        const char *base = strrchr(t->u.db, '/');
        char *uri = NULL;
        if (task_store_file(t->c, t->u.db, base ? base + 1 : t->u.db, &uri, e))
            return -1;
        task_output(t->c, "databaseUri", json_string(uri));
        free(uri);
    }
    return 0;
}

/* Reads the connection properties and takes a connection. */
static int task_open(task_ctx *c, const sql_driver *d, sql_task *t, kerr *e)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->d = d;
    const char *why = d->unavailable ? d->unavailable() : NULL;
    if (why)
        return kerr_setc(e, KERR_UNAVAILABLE, "%s", why);
    char *user = NULL, *password = NULL, *ft = NULL;
    int fetch = 0, fetch_one = 0, store_ = 0, rc = -1;
    if (task_prop_string(c, "url", NULL, &t->url_text, e) ||
        tasks__prop_text(c, "username", NULL, &user, e) ||
        tasks__prop_text(c, "password", NULL, &password, e) ||
        task_prop_string(c, "timeZoneId", "UTC", &t->tz, e) ||
        task_prop_string(c, "fetchType", "NONE", &ft, e) ||
        task_prop_bool(c, "fetch", 0, &fetch, e) || task_prop_bool(c, "fetchOne", 0, &fetch_one, e) ||
        task_prop_bool(c, "store", 0, &store_, e) || task_prop(c, "parameters", &t->params, e))
        goto out;
    if (!t->url_text && d == &sql__duckdb)
        t->url_text = xstrdup("jdbc:duckdb:"); /* Kestra's default: in memory */
    if (!t->url_text) {
        kerr_setc(e, KERR_INVALID, "property 'url' is required");
        goto out;
    }
    if (t->params && !json_is_object(t->params)) {
        kerr_setc(e, KERR_INVALID, "property 'parameters': expected a mapping of names to values");
        goto out;
    }
    if (!tz_get(t->tz, NULL)) {
        kerr_setc(e, KERR_INVALID, "property 'timeZoneId': unknown time zone '%s'", t->tz);
        goto out;
    }
    /* the older booleans win, in Kestra's order */
    t->fetch = fetch ? F_FETCH : fetch_one ? F_FETCH_ONE : store_ ? F_STORE
             : !strcmp(ft, "FETCH") ? F_FETCH : !strcmp(ft, "FETCH_ONE") ? F_FETCH_ONE
             : !strcmp(ft, "STORE") ? F_STORE : F_NONE;
    if (sql__url_parse(t->url_text, d, user, password, &t->u, e))
        goto out;
    if (is_file_db(d) && local_prepare(c, t, e))
        goto out;
    t->key = pool_key(t->url_text, &t->u, t->tz);
    t->conn = t->dir ? NULL : pool_take(d, t->key);
    if (!t->conn) {
        int64_t timeout = SQL_CONNECT_TIMEOUT_US;
        if (c->deadline_us) {
            int64_t left = c->deadline_us - time_mono_us();
            if (left < timeout)
                timeout = left > 1000000 ? left : 1000000;
        }
        t->conn = d->connect(&t->u, t->tz, timeout, e);
        if (!t->conn) {
            sql__scrub(e, t->u.password);
            kerr_prefix(e, "%s", t->u.target);
            goto out;
        }
    }
    if (t->dir && d == &sql__duckdb) {
        /* relative paths in the SQL (read_csv('in.csv')) are the folder's */
        buf b = BUF_INIT;
        buf_puts(&b, "SET file_search_path = '");
        for (const char *p = t->dir; *p; p++) {
            if (*p == '\'')
                buf_putc(&b, '\'');
            buf_putc(&b, *p);
        }
        buf_puts(&b, "'");
        int r = exec_plain(t, buf_str(&b), e);
        buf_free(&b);
        if (r)
            goto out;
    }
    rc = 0;
out:
    if (password)
        memset(password, 0, strlen(password));
    free(user);
    free(password);
    free(ft);
    return rc;
}

/* The SQL property `name`, rendered; `{{ inputFile }}` in it (MySQL's LOAD
 * DATA LOCAL INFILE '{{ inputFile }}') names the task's input file. */
static int render_sql(task_ctx *c, const char *name, int infile, char **out, kerr *e)
{
    const json_t *raw = json_object_get(c->task, name);
    if (!infile || !json_is_string(raw) || !strstr(json_string_value(raw), "inputFile"))
        return task_prop_string(c, name, NULL, out, e);
    buf b = BUF_INIT;
    for (const char *p = json_string_value(raw); *p;) {
        if (p[0] == '{' && p[1] == '{') {
            const char *q = p + 2;
            while (*q == ' ')
                q++;
            if (!strncmp(q, "inputFile", 9)) {
                q += 9;
                while (*q == ' ')
                    q++;
                if (q[0] == '}' && q[1] == '}') {
                    buf_puts(&b, "kite-input-file");
                    p = q + 2;
                    continue;
                }
            }
        }
        buf_putc(&b, *p++);
    }
    int rc = task_render_text(c, buf_str(&b), out, e);
    if (rc)
        task_prop_locate(c, name, NULL, e);
    buf_free(&b);
    return rc;
}

/* Opens the task's inputFile for LOAD DATA LOCAL, when the driver takes one. */
static int open_infile(sql_task *t, FILE **in, kerr *e)
{
    *in = NULL;
    if (!t->d->set_infile)
        return 0;
    char *uri = NULL;
    if (task_prop_string(t->c, "inputFile", NULL, &uri, e))
        return -1;
    if (!uri)
        return 0;
    *in = storage_open_file(t->c->storage, uri, e);
    free(uri);
    if (!*in) {
        kerr_prefix(e, "property 'inputFile'");
        return -1;
    }
    t->d->set_infile(t->conn, *in);
    return 0;
}

static void close_infile(sql_task *t, FILE *in)
{
    if (!in)
        return;
    t->d->set_infile(t->conn, NULL);
    fclose(in);
}

/* ---- where rows go ---- */

typedef struct sink {
    sql_task *t;
    fetch_type fetch;
    json_t *rows;          /* FETCH */
    json_t *row;           /* FETCH_ONE: the first */
    int64_t size;
    storage_writer *sw;    /* STORE */
    ion_writer *iw;
    kerr *e;
} sink;

static int sw_sink(void *ud, const char *p, size_t n)
{
    sink *s = ud;
    return storage_writer_write(s->sw, p, n, s->e);
}

static int should_stop(void *ud)
{
    sink *s = ud;
    task_ctx *c = s->t->c;
    return task_cancelled(c) || (c->deadline_us && time_mono_us() >= c->deadline_us);
}

static int on_row(void *ud, json_t *row, kerr *e)
{
    sink *s = ud;
    if ((s->size & 1023) == 0 && task_cancelled(s->t->c))
        return kerr_setc(e, KERR_UNAVAILABLE, "killed");
    switch (s->fetch) {
    case F_FETCH:
        json_array_append_new(s->rows, untag(row));
        break;
    case F_FETCH_ONE:
        if (!s->row)
            s->row = untag(row);
        break;
    case F_STORE:
        s->e = e;
        if (ion_write_json(s->iw, row, 0))
            return e->msg[0] ? -1 : kerr_set(e, "writing the Ion file failed");
        break;
    case F_NONE:
        break;
    }
    s->size++;
    return 0;
}

static int sink_open(sink *s, sql_task *t, fetch_type f, int index, kerr *e)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->fetch = f;
    s->e = e;
    if (f == F_FETCH)
        s->rows = json_array();
    if (f == F_STORE) {
        task_ctx *c = t->c;
        char name[48];
        if (index >= 0)
            snprintf(name, sizeof name, "result-%d.ion", index);
        else
            snprintf(name, sizeof name, "result.ion");
        char *uri = storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id,
                                          c->taskrun_id, name, e);
        if (!uri)
            return -1;
        s->sw = storage_writer_new(c->storage, uri, e);
        free(uri);
        if (!s->sw)
            return -1;
        s->iw = ion_writer_new(sw_sink, s);
    }
    return 0;
}

static void sink_abort(sink *s)
{
    json_decref(s->rows);
    json_decref(s->row);
    if (s->iw)
        ion_writer_free(s->iw);
    if (s->sw)
        storage_writer_abort(s->sw);
    memset(s, 0, sizeof *s);
}

/* The output object of one statement (Kestra's AbstractJdbcBaseQuery.Output). */
static json_t *sink_close(sink *s, int has_rows, kerr *e)
{
    json_t *o = json_object();
    if (!has_rows) {
        sink_abort(s);
        return o;
    }
    if (s->fetch == F_STORE) {
        s->e = e;
        int rc = ion_writer_flush(s->iw);
        ion_writer_free(s->iw);
        s->iw = NULL;
        if (rc || storage_writer_commit(s->sw, e)) {
            if (rc) {
                storage_writer_abort(s->sw);
                if (!e->msg[0])
                    kerr_set(e, "writing the Ion file failed");
            }
            s->sw = NULL;
            json_decref(o);
            return NULL;
        }
        s->sw = NULL;
    }
    switch (s->fetch) {
    case F_FETCH:
        json_object_set_new(o, "rows", s->rows);
        s->rows = NULL;
        json_object_set_new(o, "size", json_integer(s->size));
        break;
    case F_FETCH_ONE:
        json_object_set_new(o, "row", s->row ? s->row : json_null());
        s->row = NULL;
        json_object_set_new(o, "size", json_integer(s->size ? 1 : 0));
        break;
    case F_STORE: {
        /* the URI the writer committed to: rebuild it as sink_open made it */
        json_object_set_new(o, "size", json_integer(s->size));
        break;
    }
    case F_NONE:
        break;
    }
    return o;
}

static char *store_uri(sql_task *t, int index, kerr *e)
{
    task_ctx *c = t->c;
    char name[48];
    if (index >= 0)
        snprintf(name, sizeof name, "result-%d.ion", index);
    else
        snprintf(name, sizeof name, "result.ion");
    return storage_uri_task_file(c->namespace, c->flow_id, c->execution_id, c->task_id,
                                 c->taskrun_id, name, e);
}

/* Runs one statement of the task (its :names bound), its rows into a fresh
 * sink of fetch type f; *out the statement's output (NULL when it has no
 * result set and nothing to say). index: Queries's statement number, -1 for
 * Query. */
static int run_one(sql_task *t, const char *sql, fetch_type f, int index, json_t **out,
                   int64_t *size, kerr *e)
{
    *out = NULL;
    json_t *args = json_array();
    char *text = sql__bind_names(sql, t->params, t->d->placeholder, args, e);
    if (!text) {
        json_decref(args);
        return -1;
    }
    sink s;
    if (sink_open(&s, t, f, index, e)) {
        free(text);
        json_decref(args);
        return -1;
    }
    int has_rows = 0;
    int64_t affected = -1;
    int rc = t->d->exec(t->conn, text, args, on_row, should_stop, &s, &has_rows, &affected, e);
    free(text);
    json_decref(args);
    if (rc) {
        sql__scrub(e, t->u.password);
        sink_abort(&s);
        return -1;
    }
    int64_t n = s.size;
    json_t *o = sink_close(&s, has_rows, e);
    if (!o)
        return -1;
    if (has_rows && f == F_STORE) {
        char *uri = store_uri(t, index, e);
        if (!uri) {
            json_decref(o);
            return -1;
        }
        json_object_set_new(o, "uri", json_string(uri));
        free(uri);
    }
    if (has_rows && f == F_NONE)
        task_log(t->c, LEVEL_INFO, "fetchType is set to NONE, no output will be returned");
    *size += has_rows && f != F_NONE ? (f == F_FETCH_ONE ? (n ? 1 : 0) : n) : 0;
    if (!has_rows && affected >= 0)
        task_log(t->c, LEVEL_DEBUG, "%lld row(s) affected", (long long)affected);
    *out = has_rows ? o : (json_decref(o), NULL);
    if (!has_rows && index < 0)
        *out = json_object();
    return 0;
}

static int exec_plain(sql_task *t, const char *sql, kerr *e)
{
    int has_rows = 0;
    int64_t affected;
    sink s;
    memset(&s, 0, sizeof s);
    s.t = t;
    s.fetch = F_NONE;
    int rc = t->d->exec(t->conn, sql, NULL, on_row, should_stop, &s, &has_rows, &affected, e);
    if (rc)
        sql__scrub(e, t->u.password);
    return rc;
}

/* The error of a statement, as one line naming the target. */
static task_result fail_stmt(sql_task *t, kerr *e)
{
    kerr_prefix(e, "%s", t->u.target);
    /* at a timeout the engine words the task's error itself: the log keeps
     * which target was cut off */
    if (t->c->deadline_us && time_mono_us() >= t->c->deadline_us)
        task_log(t->c, LEVEL_ERROR, "%s", e->msg);
    return TASK_FAILED;
}

static void metric_size(task_ctx *c, int64_t size, fetch_type f)
{
    json_t *tags = json_pack("{s:s,s:s}", "fetch", f == F_FETCH || f == F_FETCH_ONE ? "true" : "false",
                             "store", f == F_STORE ? "true" : "false");
    task_metric(c, "fetch.size", METRIC_COUNTER, (double)size, tags);
}

task_result sql__run_query(task_ctx *c, const sql_driver *d, kerr *e)
{
    sql_task t;
    char *sql = NULL, *after = NULL;
    task_result r = TASK_FAILED;
    FILE *in = NULL;
    if (task_open(c, d, &t, e))
        goto out;
    if (render_sql(c, "sql", d->set_infile != NULL, &sql, e) ||
        task_prop_string(c, "afterSQL", NULL, &after, e) || open_infile(&t, &in, e))
        goto out;
    if (!sql) {
        kerr_setc(e, KERR_INVALID, "property 'sql' is required");
        goto out;
    }
    if (after && exec_plain(&t, "BEGIN", e)) {
        r = fail_stmt(&t, e);
        goto out;
    }
    json_t *o;
    int64_t size = 0;
    if (run_one(&t, sql, t.fetch, -1, &o, &size, e)) {
        if (after)
            exec_plain(&t, "ROLLBACK", &(kerr)KERR_INIT);
        r = fail_stmt(&t, e);
        goto out;
    }
    if (after) {
        json_t *o2;
        int64_t s2 = 0;
        if (run_one(&t, after, F_NONE, -2, &o2, &s2, e) || exec_plain(&t, "COMMIT", e)) {
            exec_plain(&t, "ROLLBACK", &(kerr)KERR_INIT);
            json_decref(o);
            kerr_prefix(e, "afterSQL");
            r = fail_stmt(&t, e);
            goto out;
        }
        json_decref(o2);
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
        task_output(c, k, json_incref(v));
    json_decref(o);
    metric_size(c, size, t.fetch);
    if (local_finish(&t, e)) {
        r = fail_stmt(&t, e);
        goto out;
    }
    r = TASK_SUCCESS;
out:
    if (t.conn)
        close_infile(&t, in);
    free(sql);
    free(after);
    task_free(&t);
    return r;
}

task_result sql__run_queries(task_ctx *c, const sql_driver *d, kerr *e)
{
    sql_task t;
    char *sql = NULL, *after = NULL;
    int tx = 1;
    json_t *stmts = NULL, *outs = json_array();
    task_result r = TASK_FAILED;
    FILE *in = NULL;
    if (task_open(c, d, &t, e))
        goto out;
    if (render_sql(c, "sql", d->set_infile != NULL, &sql, e) ||
        task_prop_string(c, "afterSQL", NULL, &after, e) ||
        task_prop_bool(c, "transaction", 1, &tx, e) || open_infile(&t, &in, e))
        goto out;
    if (!sql) {
        kerr_setc(e, KERR_INVALID, "property 'sql' is required");
        goto out;
    }
    stmts = sql__split_statements(sql);
    if (after)
        json_array_append_new(stmts, json_string(after));
    if (tx && exec_plain(&t, "BEGIN", e)) {
        r = fail_stmt(&t, e);
        goto out;
    }
    int64_t size = 0;
    size_t i;
    json_t *s;
    int k = 0;
    json_array_foreach(stmts, i, s) {
        json_t *o;
        int is_after = after && i == json_array_size(stmts) - 1;
        if (run_one(&t, json_string_value(s), is_after ? F_NONE : t.fetch, k, &o, &size, e)) {
            if (tx)
                exec_plain(&t, "ROLLBACK", &(kerr)KERR_INIT);
            kerr_prefix(e, "statement %zu", i + 1);
            r = fail_stmt(&t, e);
            goto out;
        }
        if (o) {
            json_array_append_new(outs, o);
            k++;
        }
        if (task_cancelled(c)) {
            if (tx)
                exec_plain(&t, "ROLLBACK", &(kerr)KERR_INIT);
            r = TASK_KILLED;
            goto out;
        }
    }
    if (tx && exec_plain(&t, "COMMIT", e)) {
        r = fail_stmt(&t, e);
        goto out;
    }
    task_output(c, "outputs", outs);
    outs = NULL;
    metric_size(c, size, t.fetch);
    if (local_finish(&t, e)) {
        r = fail_stmt(&t, e);
        goto out;
    }
    r = TASK_SUCCESS;
out:
    if (t.conn)
        close_infile(&t, in);
    json_decref(outs);
    json_decref(stmts);
    free(sql);
    free(after);
    task_free(&t);
    return r;
}

/* ---- CopyIn / CopyOut (PostgreSQL) ---- */

/* A table name or column list checked to be identifiers (letters, digits,
 * '_', '.', '"'), since COPY cannot bind them. */
static int ident_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.\"$ ,", *s))
            return 0;
    return 1;
}

/* Appends ", NAME value" options of COPY from the task's properties. */
static int copy_options(task_ctx *c, buf *b, kerr *e)
{
    char *format = NULL, *delim = NULL, *nullstr = NULL, *quote = NULL, *escape = NULL,
         *encoding = NULL;
    int header = 0, rc = -1;
    if (task_prop_string(c, "format", "TEXT", &format, e) ||
        task_prop_string(c, "delimiter", NULL, &delim, e) ||
        task_prop_string(c, "nullString", NULL, &nullstr, e) ||
        task_prop_string(c, "quote", NULL, &quote, e) ||
        task_prop_string(c, "escape", NULL, &escape, e) ||
        task_prop_string(c, "encoding", NULL, &encoding, e) ||
        task_prop_bool(c, "header", 0, &header, e))
        goto out;
    if (strcmp(format, "TEXT") && strcmp(format, "CSV") && strcmp(format, "BINARY")) {
        kerr_setc(e, KERR_INVALID, "property 'format': expected TEXT, CSV or BINARY");
        goto out;
    }
    buf_printf(b, " WITH (FORMAT %s", format);
    /* one-character options are quoted as SQL literals; a quote doubles */
    const char *names[] = {"DELIMITER", "NULL", "QUOTE", "ESCAPE", "ENCODING"};
    char *vals[] = {delim, nullstr, quote, escape, encoding};
    for (int i = 0; i < 5; i++) {
        if (!vals[i])
            continue;
        buf_printf(b, ", %s '", names[i]);
        for (const char *p = vals[i]; *p; p++) {
            if (*p == '\'')
                buf_putc(b, '\'');
            buf_putc(b, *p);
        }
        buf_putc(b, '\'');
    }
    if (header)
        buf_puts(b, ", HEADER true");
    /* CopyIn's freeze, forceNotNull, forceNull; CopyOut's forceQuote: only
     * the type that declares one can have it (validation) */
    int freeze = 0;
    if (task_prop_bool(c, "freeze", 0, &freeze, e))
        goto out;
    if (freeze)
        buf_puts(b, ", FREEZE true");
    static const char *const lists[][2] = {
        {"forceNotNull", "FORCE_NOT_NULL"}, {"forceNull", "FORCE_NULL"}, {"forceQuote", "FORCE_QUOTE"}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        json_t *cols = NULL;
        if (task_prop(c, lists[i][0], &cols, e))
            goto out;
        if (json_is_string(cols)) { /* one column, or "*" (forceQuote) */
            json_t *one = json_array();
            json_array_append(one, cols);
            json_decref(cols);
            cols = one;
        }
        if (!json_array_size(cols)) {
            json_decref(cols);
            continue;
        }
        if (json_array_size(cols) == 1 && !strcmp(json_string_value(json_array_get(cols, 0)) ?: "", "*") &&
            !strcmp(lists[i][1], "FORCE_QUOTE")) {
            buf_puts(b, ", FORCE_QUOTE *");
            json_decref(cols);
            continue;
        }
        buf_printf(b, ", %s (", lists[i][1]);
        size_t k;
        json_t *x;
        json_array_foreach(cols, k, x) {
            if (!json_is_string(x) || !ident_ok(json_string_value(x))) {
                kerr_setc(e, KERR_INVALID, "property '%s': item %zu is not a column name", lists[i][0], k + 1);
                json_decref(cols);
                goto out;
            }
            buf_printf(b, "%s%s", k ? ", " : "", json_string_value(x));
        }
        buf_putc(b, ')');
        json_decref(cols);
    }
    buf_putc(b, ')');
    rc = 0;
out:
    free(format);
    free(delim);
    free(nullstr);
    free(quote);
    free(escape);
    free(encoding);
    return rc;
}

task_result sql__run_copy_in(task_ctx *c, const sql_driver *d, kerr *e)
{
    sql_task t;
    char *table = NULL, *from = NULL;
    json_t *cols = NULL;
    FILE *in = NULL;
    buf q = BUF_INIT;
    task_result r = TASK_FAILED;
    if (task_open(c, d, &t, e))
        goto out;
    if (task_prop_string(c, "table", NULL, &table, e) || task_prop_string(c, "from", NULL, &from, e) ||
        task_prop(c, "columns", &cols, e))
        goto out;
    if (!table || !from) {
        kerr_setc(e, KERR_INVALID, "property '%s' is required", table ? "from" : "table");
        goto out;
    }
    if (!ident_ok(table)) {
        kerr_setc(e, KERR_INVALID, "property 'table': '%s' is not a table name", table);
        goto out;
    }
    buf_printf(&q, "COPY %s", table);
    if (json_array_size(cols)) {
        buf_puts(&q, " (");
        size_t i;
        json_t *x;
        json_array_foreach(cols, i, x) {
            if (!json_is_string(x) || !ident_ok(json_string_value(x))) {
                kerr_setc(e, KERR_INVALID, "property 'columns': item %zu is not a column name", i + 1);
                goto out;
            }
            buf_printf(&q, "%s%s", i ? ", " : "", json_string_value(x));
        }
        buf_putc(&q, ')');
    }
    buf_puts(&q, " FROM STDIN");
    if (copy_options(c, &q, e))
        goto out;
    in = storage_open_file(c->storage, from, e);
    if (!in) {
        kerr_prefix(e, "property 'from'");
        goto out;
    }
    int64_t rows = 0;
    if (d->copy_in(t.conn, buf_str(&q), in, &rows, e)) {
        sql__scrub(e, t.u.password);
        r = fail_stmt(&t, e);
        goto out;
    }
    task_output(c, "rowCount", json_integer(rows));
    r = TASK_SUCCESS;
out:
    if (in)
        fclose(in);
    buf_free(&q);
    json_decref(cols);
    free(table);
    free(from);
    task_free(&t);
    return r;
}

task_result sql__run_copy_out(task_ctx *c, const sql_driver *d, kerr *e)
{
    sql_task t;
    char *table = NULL, *sql = NULL;
    buf q = BUF_INIT;
    FILE *tmp = NULL;
    char path[4096] = "";
    task_result r = TASK_FAILED;
    if (task_open(c, d, &t, e))
        goto out;
    if (task_prop_string(c, "table", NULL, &table, e) || task_prop_string(c, "sql", NULL, &sql, e))
        goto out;
    if (!table && !sql) {
        kerr_setc(e, KERR_INVALID, "property 'table' or 'sql' is required");
        goto out;
    }
    if (table && !ident_ok(table)) {
        kerr_setc(e, KERR_INVALID, "property 'table': '%s' is not a table name", table);
        goto out;
    }
    if (sql)
        buf_printf(&q, "COPY (%s) TO STDOUT", sql);
    else
        buf_printf(&q, "COPY %s TO STDOUT", table);
    if (copy_options(c, &q, e))
        goto out;
    snprintf(path, sizeof path, "%s/kite-copyout-XXXXXX", c->tmp_root ? c->tmp_root : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        kerr_set(e, "cannot create a temporary file in %s", c->tmp_root ? c->tmp_root : "/tmp");
        path[0] = 0;
        goto out;
    }
    tmp = fdopen(fd, "w+");
    int64_t rows = 0;
    if (d->copy_out(t.conn, buf_str(&q), tmp, &rows, e)) {
        sql__scrub(e, t.u.password);
        r = fail_stmt(&t, e);
        goto out;
    }
    if (fflush(tmp)) {
        kerr_set(e, "writing the copy failed");
        goto out;
    }
    char *uri;
    if (task_store_file(c, path, "copy-out.csv", &uri, e))
        goto out;
    task_output(c, "uri", json_string(uri));
    task_output(c, "rowCount", json_integer(rows));
    free(uri);
    r = TASK_SUCCESS;
out:
    if (tmp)
        fclose(tmp);
    if (path[0])
        unlink(path);
    buf_free(&q);
    free(table);
    free(sql);
    task_free(&t);
    return r;
}

int sql__poll(task_ctx *c, const sql_driver *d, task_fire_fn fire, kerr *e)
{
    sql_task t;
    char *sql = NULL, *after = NULL;
    int r = -1, open = 0;
    json_t *o = NULL;
    if (task_open(c, d, &t, e))
        goto out;
    if (task_prop_string(c, "sql", NULL, &sql, e) || task_prop_string(c, "afterSQL", NULL, &after, e))
        goto out;
    if (!sql) {
        kerr_setc(e, KERR_INVALID, "property 'sql' is required");
        goto out;
    }
    if (exec_plain(&t, "BEGIN", e)) {
        fail_stmt(&t, e);
        goto out;
    }
    open = 1;
    int64_t size = 0;
    if (run_one(&t, sql, t.fetch, -1, &o, &size, e)) {
        fail_stmt(&t, e);
        goto out;
    }
    if (size == 0) { /* Kestra's rule: no row (or fetchType NONE), no execution */
        r = 0;
        goto out;
    }
    if (after) {
        json_t *o2 = NULL;
        int64_t s2 = 0;
        if (run_one(&t, after, F_NONE, -2, &o2, &s2, e)) {
            kerr_prefix(e, "afterSQL");
            fail_stmt(&t, e);
            goto out;
        }
        json_decref(o2);
    }
    /* the execution first, then the COMMIT that consumes the rows (afterSQL
     * marking them done): a crash in between starts the flow twice, never
     * zero times */
    json_t *vars = o;
    o = NULL;
    if (fire(c, vars, e))
        goto out;
    open = 0;
    if (exec_plain(&t, "COMMIT", e)) {
        kerr_prefix(e, "the flow was started, but the COMMIT after it failed (the rows will be seen again)");
        fail_stmt(&t, e);
        r = 1;
        goto out;
    }
    r = 1;
out:
    if (open)
        exec_plain(&t, "ROLLBACK", &(kerr)KERR_INIT);
    json_decref(o);
    free(sql);
    free(after);
    task_free(&t);
    return r;
}

void sql__check_available(vctx *v, const json_t *obj, const char *path, const sql_driver *d)
{
    const char *why = d->unavailable ? d->unavailable() : NULL;
    if (why)
        vctx_warn(v, path, "%s", why);
}

/* ---- the family's types ---- */

#define HOOKS(drv, what)                                                   \
    static task_result drv##_##what(task_ctx *c, kerr *e)                  \
    {                                                                      \
        return sql__run_##what(c, &sql__##drv, e);                         \
    }                                                                      \
    static const struct task_hooks drv##_##what##_hooks = {.run = drv##_##what}

HOOKS(pg, query);
HOOKS(pg, queries);
HOOKS(pg, copy_in);
HOOKS(pg, copy_out);
HOOKS(mysql, query);
HOOKS(mysql, queries);
HOOKS(sqlite, query);
HOOKS(sqlite, queries);
HOOKS(duckdb, query);
HOOKS(duckdb, queries);

#define POLL_HOOKS(drv)                                                    \
    static int drv##_poll(task_ctx *c, task_fire_fn fire, kerr *e)         \
    {                                                                      \
        return sql__poll(c, &sql__##drv, fire, e);                         \
    }                                                                      \
    static const struct task_hooks drv##_trigger_hooks = {.poll = drv##_poll}

POLL_HOOKS(pg);
POLL_HOOKS(mysql);
POLL_HOOKS(sqlite);
POLL_HOOKS(duckdb);

static void duckdb_check(vctx *v, const json_t *obj, const char *path)
{
    sql__check_available(v, obj, path, &sql__duckdb);
}

#define P_CONN_REST                                                                      \
    PSTR("username", 0, NULL, "the user"),                                               \
    PSTR("password", 0, NULL, "the password (never logged)"),                            \
    PSTR("timeZoneId", 0, "\"UTC\"", "the zone dates and timestamps are given in")

#define P_CONN                                                                           \
    PSTR("url", PF_REQUIRED, NULL, "the JDBC url (jdbc:postgresql://host:5432/db?sslmode=require)"), \
    P_CONN_REST

/* Kestra's DuckDB tasks need no url: without one the database is in memory */
#define P_DUCKDB_CONN                                                                    \
    PSTR("url", 0, "\"jdbc:duckdb:\"", "jdbc:duckdb: (in memory) or jdbc:duckdb:/path/file.duckdb"), \
    P_CONN_REST

#define P_QUERY P_CONN, P_QUERY_REST
#define P_QUERY_REST                                                                     \
    PSTR("sql", PF_REQUIRED, NULL, "the SQL; `:name` placeholders take `parameters`"),   \
    PMAP("parameters", 0, NULL, &tasks__item_any, "values bound to the SQL's :name placeholders"), \
    PENUM("fetchType", 0, "\"NONE\"", ENUMS("FETCH", "FETCH_ONE", "STORE", "NONE"),     \
          "rows to the outputs (FETCH, FETCH_ONE), to an Ion file (STORE), or none"),   \
    PBOOL("fetch", PF_DEPRECATED, "false", "old form of fetchType: FETCH"),             \
    PBOOL("fetchOne", PF_DEPRECATED, "false", "old form of fetchType: FETCH_ONE"),      \
    PBOOL("store", PF_DEPRECATED, "false", "old form of fetchType: STORE"),             \
    PINT("fetchSize", 0, "10000", "rows per round trip (a hint; PostgreSQL streams row by row)"), \
    PSTR("afterSQL", 0, NULL, "SQL run after `sql`, in the same transaction")

#define P_TRANSACTION PBOOL("transaction", 0, "true", "run every statement in one transaction")
#define P_QUERIES P_QUERY, P_TRANSACTION

#define P_TRIGGER                                                                        \
    P_QUERY, PDUR("interval", 0, "\"PT1M\"", "how often to run the query")

#define P_SQLITE_FILES                                                                   \
    PSTR("sqliteFile", 0, NULL, "a database file from internal storage, put where the url names it"), \
    PBOOL("outputDbFile", 0, "false", "store the database file afterwards (output `databaseUri`)")

#define P_DUCKDB_FILES                                                                   \
    PMAP("inputFiles", 0, NULL, &tasks__item_any,                                        \
         "files (name: content or kestra:/// URI) written into the task's folder, read by name or `{{ workingDir }}/name`"), \
    PSTRL("outputFiles", 0, NULL, "files the SQL writes at `{{ outputFiles.<name> }}`, stored afterwards (output `outputFiles`)"), \
    PSTR("databaseUri", 0, NULL, "an existing DuckDB database file from internal storage"), \
    PSTR("databaseFile", PF_DEPRECATED, NULL, "old name of databaseUri"),                \
    PBOOL("outputDbFile", 0, "false", "store the database file afterwards (output `databaseUri`)")

#define P_COPY                                                                           \
    P_CONN,                                                                              \
    PENUM("format", 0, "\"TEXT\"", ENUMS("TEXT", "CSV", "BINARY"), "the file's format"), \
    PBOOL("header", 0, "false", "the file has a header line (CSV)"),                     \
    PSTR("delimiter", 0, NULL, "the column separator"),                                  \
    PSTR("nullString", 0, NULL, "the text of NULL"),                                     \
    PSTR("quote", 0, NULL, "the quote character (CSV)"),                                 \
    PSTR("escape", 0, NULL, "the escape character (CSV)"),                               \
    PSTR("encoding", 0, NULL, "the file's encoding"),                                    \
    PSTRL("columns", 0, NULL, "the columns, in the file's order"),                       \
    PBOOL("oids", PF_DEPRECATED, "false", "not supported by PostgreSQL 12+")

const type_def tasks__sql[] = {
    {
        .name = "postgresql.query",
        .aliases = ALIASES("io.kestra.plugin.jdbc.postgresql.Query"),
        .hooks = &pg_query_hooks,
        .needs = dl_pq_load,
        .desc = "Run a PostgreSQL query (outputs `row`, `rows`, `size`, `uri`).",
        .props = PROPS(P_QUERY),
    },
    {
        .name = "postgresql.queries",
        .aliases = ALIASES("io.kestra.plugin.jdbc.postgresql.Queries"),
        .hooks = &pg_queries_hooks,
        .needs = dl_pq_load,
        .desc = "Run PostgreSQL statements, one entry per result in `outputs`.",
        .props = PROPS(P_QUERIES),
    },
    {
        .name = "postgresql.copy_in",
        .aliases = ALIASES("io.kestra.plugin.jdbc.postgresql.CopyIn"),
        .hooks = &pg_copy_in_hooks,
        .needs = dl_pq_load,
        .desc = "Load an internal-storage file into a PostgreSQL table with COPY (output `rowCount`).",
        .props = PROPS(P_COPY, PSTR("table", PF_REQUIRED, NULL, "the table"),
                       PSTR("from", PF_REQUIRED, NULL, "the file's kestra:/// URI"),
                       PBOOL("freeze", 0, "false", "COPY FREEZE"),
                       PSTRL("forceNotNull", 0, NULL, "columns never NULL (CSV)"),
                       PSTRL("forceNull", 0, NULL, "columns whose quoted empty text is NULL (CSV)")),
    },
    {
        .name = "postgresql.copy_out",
        .aliases = ALIASES("io.kestra.plugin.jdbc.postgresql.CopyOut"),
        .hooks = &pg_copy_out_hooks,
        .needs = dl_pq_load,
        .desc = "Copy a PostgreSQL table or query to an internal-storage file (outputs `uri`, `rowCount`).",
        .props = PROPS(P_COPY, PSTR("table", 0, NULL, "the table (or `sql`)"),
                       PSTR("sql", 0, NULL, "the query to copy (or `table`)"),
                       PSTRL("forceQuote", 0, NULL, "columns always quoted (CSV)")),
    },
    {
        .name = "postgresql.trigger",
        .aliases = ALIASES("io.kestra.plugin.jdbc.postgresql.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &pg_trigger_hooks,
        .needs = dl_pq_load,
        .desc = "Start the flow when a PostgreSQL query returns rows (`trigger.rows`, `row`, `size`, `uri`); afterSQL commits after the execution is created.",
        .props = PROPS(P_TRIGGER),
    },
    {
        .name = "mysql.query",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mysql.Query"),
        .hooks = &mysql_query_hooks,
        .needs = dl_mariadb_load,
        .desc = "Run a MySQL query (outputs `row`, `rows`, `size`, `uri`); `inputFile` feeds LOAD DATA LOCAL.",
        .props = PROPS(P_QUERY, PSTR("inputFile", 0, NULL, "the file LOAD DATA LOCAL INFILE reads")),
    },
    {
        .name = "mysql.queries",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mysql.Queries"),
        .hooks = &mysql_queries_hooks,
        .needs = dl_mariadb_load,
        .desc = "Run MySQL statements, one entry per result in `outputs`.",
        .props = PROPS(P_QUERIES, PSTR("inputFile", 0, NULL, "the file LOAD DATA LOCAL INFILE reads")),
    },
    {
        .name = "mysql.trigger",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mysql.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &mysql_trigger_hooks,
        .needs = dl_mariadb_load,
        .desc = "Start the flow when a MySQL query returns rows.",
        .props = PROPS(P_TRIGGER),
    },
    {
        .name = "mariadb.query",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mariadb.Query"),
        .hooks = &mysql_query_hooks,
        .needs = dl_mariadb_load,
        .desc = "Run a MariaDB query (outputs `row`, `rows`, `size`, `uri`); `inputFile` feeds LOAD DATA LOCAL.",
        .props = PROPS(P_QUERY, PSTR("inputFile", 0, NULL, "the file LOAD DATA LOCAL INFILE reads")),
    },
    {
        .name = "mariadb.queries",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mariadb.Queries"),
        .hooks = &mysql_queries_hooks,
        .needs = dl_mariadb_load,
        .desc = "Run MariaDB statements, one entry per result in `outputs`.",
        .props = PROPS(P_QUERIES, PSTR("inputFile", 0, NULL, "the file LOAD DATA LOCAL INFILE reads")),
    },
    {
        .name = "mariadb.trigger",
        .aliases = ALIASES("io.kestra.plugin.jdbc.mariadb.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &mysql_trigger_hooks,
        .needs = dl_mariadb_load,
        .desc = "Start the flow when a MariaDB query returns rows.",
        .props = PROPS(P_TRIGGER),
    },
    {
        .name = "sqlite.query",
        .aliases = ALIASES("io.kestra.plugin.jdbc.sqlite.Query"),
        .hooks = &sqlite_query_hooks,
        .desc = "Run an SQLite query (outputs `row`, `rows`, `size`, `uri`).",
        .props = PROPS(P_QUERY, P_SQLITE_FILES),
    },
    {
        .name = "sqlite.queries",
        .aliases = ALIASES("io.kestra.plugin.jdbc.sqlite.Queries"),
        .hooks = &sqlite_queries_hooks,
        .desc = "Run SQLite statements, one entry per result in `outputs`.",
        .props = PROPS(P_QUERIES, P_SQLITE_FILES),
    },
    {
        .name = "sqlite.trigger",
        .aliases = ALIASES("io.kestra.plugin.jdbc.sqlite.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &sqlite_trigger_hooks,
        .desc = "Start the flow when an SQLite query returns rows.",
        .props = PROPS(P_TRIGGER),
    },
    {
        .name = "duckdb.query",
        .aliases = ALIASES("io.kestra.plugin.jdbc.duckdb.Query"),
        .hooks = &duckdb_query_hooks,
        .check = duckdb_check,
        .desc = "Run a DuckDB query (outputs `row`, `rows`, `size`, `uri`), where libduckdb is installed.",
        .props = PROPS(P_DUCKDB_CONN, P_QUERY_REST, P_DUCKDB_FILES),
    },
    {
        .name = "duckdb.queries",
        .aliases = ALIASES("io.kestra.plugin.jdbc.duckdb.Queries"),
        .hooks = &duckdb_queries_hooks,
        .check = duckdb_check,
        .desc = "Run DuckDB statements, one entry per result in `outputs`, where libduckdb is installed.",
        .props = PROPS(P_DUCKDB_CONN, P_QUERY_REST, P_TRANSACTION, P_DUCKDB_FILES),
    },
    {
        .name = "duckdb.trigger",
        .aliases = ALIASES("io.kestra.plugin.jdbc.duckdb.Trigger"),
        .kind = TK_TRIGGER,
        .hooks = &duckdb_trigger_hooks,
        .check = duckdb_check,
        .desc = "Start the flow when a DuckDB query returns rows, where libduckdb is installed.",
        .props = PROPS(P_TRIGGER),
    },
};

const size_t tasks__sql_count = sizeof tasks__sql / sizeof tasks__sql[0];
