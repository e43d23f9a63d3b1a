/*
 * store.c: the store's front door: names of states and levels, ids, the
 * structs' lifecycles, argument checks, and dispatch to the backend.
 *
 * Every public function checks its inputs here, once, with a message that
 * names the field ("store: task_run.execution_id is missing"), then calls the
 * backend's operation. Backends therefore never see NULL required strings or
 * ids longer than STORE_ID_MAX, and a PostgreSQL backend inherits the same
 * checks for free. Documents inside rows (histories, attempts) are turned
 * into JSON text here too, so backends store the same shape.
 */
#include "store/store_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "util/json.h"
#include "util/mem.h"


/* ---- names -------------------------------------------------------------- */

static const char *const state_names[STATE__COUNT] = {
    "CREATED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS",
    "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRYING", "RETRIED", "SKIPPED",
};

const char *store_state_name(store_state st)
{
    if ((int)st < 0 || st >= STATE__COUNT)
        return "UNKNOWN";
    return state_names[st];
}

int store_state_parse(const char *name, store_state *st)
{
    if (!name)
        return -1;
    for (int i = 0; i < STATE__COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *st = (store_state)i;
            return 0;
        }
    return -1;
}

int store_state_is_terminated(store_state st)
{
    switch (st) {
    case STATE_SUCCESS: case STATE_WARNING: case STATE_FAILED: case STATE_KILLED:
    case STATE_CANCELLED: case STATE_RETRIED: case STATE_SKIPPED:
        return 1;
    default:
        return 0;
    }
}

static const char *const level_names[LEVEL__COUNT] = {
    "TRACE", "DEBUG", "INFO", "WARN", "ERROR",
};

const char *store_level_name(store_level l)
{
    if ((int)l < 0 || l >= LEVEL__COUNT)
        return "UNKNOWN";
    return level_names[l];
}

int store_level_parse(const char *name, store_level *l)
{
    if (!name)
        return -1;
    if (strcasecmp(name, "WARNING") == 0) {
        *l = LEVEL_WARN;
        return 0;
    }
    for (int i = 0; i < LEVEL__COUNT; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *l = (store_level)i;
            return 0;
        }
    return -1;
}

/* ---- ids and time ------------------------------------------------------- */

static void fill_random(unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.17 once the pool is seeded;
             * an id that is not random would break uniqueness: stop. */
            perror("kite: getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

/* Ids start with the time in milliseconds (8 base62 digits, good until the
 * year 8888) so that rows keyed by id are appended in creation order: the
 * b-trees of executions and task runs then grow at their right edge instead
 * of touching a random page per insert, which keeps the working set in the
 * page cache once the database outgrows it. The remaining 14 digits are
 * random (about 83 bits), so ids stay unguessable and unique across threads
 * and processes. */
#define ID_TIME_DIGITS 8

void store_new_id(char out[STORE_ID_LEN + 1])
{
    static const char digits[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t ms = (uint64_t)(store_now_us() / 1000);
    for (int i = ID_TIME_DIGITS - 1; i >= 0; i--) {
        out[i] = digits[ms % 62];
        ms /= 62;
    }
    unsigned char rnd[32];
    size_t used = sizeof rnd, k = ID_TIME_DIGITS;
    while (k < STORE_ID_LEN) {
        if (used == sizeof rnd) {
            fill_random(rnd, sizeof rnd);
            used = 0;
        }
        unsigned char c = rnd[used++];
        if (c >= 248)   /* 248 = 4 * 62: keeps the digits uniform */
            continue;
        out[k++] = digits[c % 62];
    }
    out[STORE_ID_LEN] = '\0';
}

int64_t store_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- errors ------------------------------------------------------------- */

int store__fail(kerr *e, int rc, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        kerr_setv(e, fmt, ap);
        va_end(ap);
        e->line = e->col = 0;
        e->code = rc;
    }
    return rc;
}

/* Checks a required (or optional, when !required) id-like string. */
static int check_id(const char *v, const char *what, int required, kerr *e)
{
    if (!v) {
        if (required)
            return store__fail(e, STORE_ERROR, "store: %s is missing", what);
        return 0;
    }
    size_t n = strnlen(v, STORE_ID_MAX + 1);
    if (required && n == 0)
        return store__fail(e, STORE_ERROR, "store: %s is empty", what);
    if (n > STORE_ID_MAX)
        return store__fail(e, STORE_ERROR, "store: %s is longer than %d bytes", what,
                           STORE_ID_MAX);
    return 0;
}

#define CHECK_ID(v, what) do { int rc_ = check_id((v), (what), 1, e); if (rc_) return rc_; } while (0)
#define CHECK_OPT(v, what) do { int rc_ = check_id((v), (what), 0, e); if (rc_) return rc_; } while (0)
#define CHECK_PTR(p, what) do { if (!(p)) return store__fail(e, STORE_ERROR, "store: %s is missing", (what)); } while (0)

static int check_state(int st, const char *what, kerr *e)
{
    if (st < 0 || st >= STATE__COUNT)
        return store__fail(e, STORE_ERROR, "store: %s is not a valid state (%d)", what, st);
    return 0;
}

/* ---- documents inside rows ---------------------------------------------- */

char *store__json_dump(json_t *j)
{
    if (!j)
        return NULL;
    return kjson_dump(j);
}

json_t *store__json_load(const char *text)
{
    if (!text)
        return NULL;
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* The histories and attempts of every task run are written at each change
 * and read back by every answer about an execution: a dozen small arrays a
 * task. They are written and read here directly, in the one shape this file
 * writes (jansson's compact dump of the same objects); a text in any other
 * shape (an older kite's, a hand-edited row) goes through jansson, which also
 * reports what is corrupt. */

static char *put_i64(char *p, int64_t v)
{
    char t[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* A string that needs no JSON escape: printable ASCII or UTF-8, no quote or
 * backslash. */
static int plain_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

char *store__histories_to_json(const store_history *h, size_t n)
{
    /* {"state":"<at most 9>","date":<at most 20>}, */
    char *s = xmalloc(n * 64 + 3), *p = s;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = put_lit(p, "{\"state\":\"");
        p = put_lit(p, store_state_name(h[i].state));
        p = put_lit(p, "\",\"date\":");
        p = put_i64(p, h[i].at_us);
        *p++ = '}';
    }
    *p++ = ']';
    *p = 0;
    return s;
}

/* The reader of that shape: returns 0 and advances *pp past the literal, or
 * -1. */
static int take(const char **pp, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*pp, lit, n))
        return -1;
    *pp += n;
    return 0;
}

static int take_i64(const char **pp, int64_t *v)
{
    const char *p = *pp;
    int neg = *p == '-';
    p += neg;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t u = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        u = u * 10 + (uint64_t)(*p - '0');
    if (digits > 18) /* leave the edges of int64 to jansson */
        return -1;
    *v = neg ? -(int64_t)u : (int64_t)u;
    *pp = p;
    return 0;
}

/* "NAME" for a state: the quotes included. */
static int take_state(const char **pp, store_state *st)
{
    const char *p = *pp, *q = strchr(p, '"');
    if (!q || q - p > 15)
        return -1;
    char name[16];
    memcpy(name, p, (size_t)(q - p));
    name[q - p] = 0;
    if (store_state_parse(name, st))
        return -1;
    *pp = q + 1;
    return 0;
}

/* Room for the objects of p: one per '{' (at least as many as there are). */
static size_t objects_in(const char *p)
{
    size_t k = 0;
    for (; (p = strchr(p, '{')); p++)
        k++;
    return k;
}

static int histories_fast(const char *p, store_history **out, size_t *n)
{
    size_t cnt = 0, cap = objects_in(p);
    store_history *v = cap ? xmalloc(cap * sizeof *v) : NULL;
    if (take(&p, "["))
        goto bad;
    while (*p != ']') {
        if (cnt && take(&p, ","))
            goto bad;
        store_history h;
        if (cnt == cap || take(&p, "{\"state\":\"") || take_state(&p, &h.state) ||
            take(&p, ",\"date\":") || take_i64(&p, &h.at_us) || take(&p, "}"))
            goto bad;
        v[cnt++] = h;
    }
    if (p[1])
        goto bad;
    *out = v;
    *n = cnt;
    return 0;
bad:
    free(v);
    return -1;
}

int store__histories_from_json(const char *text, store_history **h, size_t *n, kerr *e)
{
    *h = NULL;
    *n = 0;
    if (!text)
        return 0;
    if (!histories_fast(text, h, n))
        return 0;
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return store__fail(e, STORE_ERROR, "store: corrupt state histories: %.60s", text);
    }
    size_t cnt = json_array_size(a);
    store_history *v = cnt ? xcalloc(cnt, sizeof *v) : NULL;
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(a, i);
        const char *st = json_string_value(json_object_get(it, "state"));
        if (store_state_parse(st, &v[i].state) != 0) {
            free(v);
            json_decref(a);
            return store__fail(e, STORE_ERROR, "store: corrupt state histories: %.60s", text);
        }
        v[i].at_us = json_integer_value(json_object_get(it, "date"));
    }
    json_decref(a);
    *h = v;
    *n = cnt;
    return 0;
}

static char *attempts_slow(const store_attempt *at, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:I,s:I}", "state", store_state_name(at[i].state),
                              "start", (json_int_t)at[i].start_us,
                              "end", (json_int_t)at[i].end_us);
        if (at[i].worker_id)
            json_object_set_new(o, "worker", json_string(at[i].worker_id));
        json_array_append_new(a, o);
    }
    char *s = store__json_dump(a);
    json_decref(a);
    return s;
}

char *store__attempts_to_json(const store_attempt *at, size_t n)
{
    size_t size = 3;
    for (size_t i = 0; i < n; i++) {
        /* {"state":"<9>","start":<20>,"end":<20>,"worker":"<w>"}, */
        size += 90;
        if (at[i].worker_id) {
            if (!plain_text(at[i].worker_id))
                return attempts_slow(at, n);
            size += strlen(at[i].worker_id);
        }
    }
    char *s = xmalloc(size), *p = s;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = put_lit(p, "{\"state\":\"");
        p = put_lit(p, store_state_name(at[i].state));
        p = put_lit(p, "\",\"start\":");
        p = put_i64(p, at[i].start_us);
        p = put_lit(p, ",\"end\":");
        p = put_i64(p, at[i].end_us);
        if (at[i].worker_id) {
            p = put_lit(p, ",\"worker\":\"");
            p = put_lit(p, at[i].worker_id);
            *p++ = '"';
        }
        *p++ = '}';
    }
    *p++ = ']';
    *p = 0;
    return s;
}

static void attempts_free(store_attempt *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k].worker_id);
    free(v);
}

static int attempts_fast(const char *p, store_attempt **out, size_t *n)
{
    size_t cnt = 0, cap = objects_in(p);
    store_attempt *v = cap ? xmalloc(cap * sizeof *v) : NULL;
    if (take(&p, "["))
        goto bad;
    while (*p != ']') {
        if (cnt && take(&p, ","))
            goto bad;
        store_attempt a = {0};
        if (cnt == cap || take(&p, "{\"state\":\"") || take_state(&p, &a.state) || take(&p, ",\"start\":") ||
            take_i64(&p, &a.start_us) || take(&p, ",\"end\":") || take_i64(&p, &a.end_us))
            goto bad;
        if (!take(&p, ",\"worker\":\"")) {
            const char *q = strchr(p, '"');
            if (!q || memchr(p, '\\', (size_t)(q - p)))
                goto bad;
            a.worker_id = xstrndup(p, (size_t)(q - p));
            p = q + 1;
        }
        if (take(&p, "}")) {
            free(a.worker_id);
            goto bad;
        }
        v[cnt++] = a;
    }
    if (p[1])
        goto bad;
    *out = v;
    *n = cnt;
    return 0;
bad:
    attempts_free(v, cnt);
    return -1;
}

int store__attempts_from_json(const char *text, store_attempt **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    if (!text)
        return 0;
    if (!attempts_fast(text, out, n))
        return 0;
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return store__fail(e, STORE_ERROR, "store: corrupt attempts: %.60s", text);
    }
    size_t cnt = json_array_size(a);
    store_attempt *v = cnt ? xcalloc(cnt, sizeof *v) : NULL;
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(a, i);
        const char *st = json_string_value(json_object_get(it, "state"));
        if (store_state_parse(st, &v[i].state) != 0) {
            attempts_free(v, i);
            json_decref(a);
            return store__fail(e, STORE_ERROR, "store: corrupt attempts: %.60s", text);
        }
        v[i].start_us = json_integer_value(json_object_get(it, "start"));
        v[i].end_us = json_integer_value(json_object_get(it, "end"));
        const char *w = json_string_value(json_object_get(it, "worker"));
        v[i].worker_id = w ? xstrdup(w) : NULL;
    }
    json_decref(a);
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- struct lifecycles -------------------------------------------------- */

void store_flow_clear(store_flow *f)
{
    if (!f)
        return;
    free(f->namespace);
    free(f->id);
    free(f->source);
    json_decref(f->json);
    memset(f, 0, sizeof *f);
}

void store_flows_free(store_flow *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_flow_clear(&v[i]);
    free(v);
}

void store_execution_clear(store_execution *x)
{
    if (!x)
        return;
    free(x->id);
    free(x->namespace);
    free(x->flow_id);
    free(x->histories);
    json_decref(x->inputs);
    json_decref(x->outputs);
    json_decref(x->labels);
    json_decref(x->variables);
    json_decref(x->trigger);
    free(x->parent_id);
    free(x->parent_task_run_id);
    free(x->original_id);
    memset(x, 0, sizeof *x);
}

void store_executions_free(store_execution *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_execution_clear(&v[i]);
    free(v);
}

static void history_append(store_history **h, size_t *n, store_state st, int64_t at_us)
{
    *h = xrealloc(*h, (*n + 1) * sizeof **h);
    (*h)[*n].state = st;
    (*h)[*n].at_us = at_us;
    (*n)++;
}

void store_execution_set_state(store_execution *x, store_state st, int64_t at_us)
{
    x->state = st;
    history_append(&x->histories, &x->n_histories, st, at_us);
}

void store_task_run_clear(store_task_run *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->execution_id);
    free(t->parent_task_run_id);
    free(t->task_id);
    free(t->value);
    free(t->histories);
    for (size_t i = 0; i < t->n_attempts; i++)
        free(t->attempts[i].worker_id);
    free(t->attempts);
    json_decref(t->outputs);
    memset(t, 0, sizeof *t);
}

void store_task_runs_free(store_task_run *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_task_run_clear(&v[i]);
    free(v);
}

void store_task_run_set_state(store_task_run *t, store_state st, int64_t at_us)
{
    t->state = st;
    history_append(&t->histories, &t->n_histories, st, at_us);
}

store_attempt *store_task_run_add_attempt(store_task_run *t, store_state st, int64_t start_us,
                                          const char *worker_id)
{
    t->attempts = xrealloc(t->attempts, (t->n_attempts + 1) * sizeof *t->attempts);
    store_attempt *a = &t->attempts[t->n_attempts++];
    a->state = st;
    a->start_us = start_us;
    a->end_us = 0;
    a->worker_id = worker_id ? xstrdup(worker_id) : NULL;
    return a;
}

void store_logs_free(store_log *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].execution_id);
        free(v[i].task_run_id);
        free(v[i].task_id);
        free(v[i].message);
    }
    free(v);
}

void store_metrics_free(store_metric *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].execution_id);
        free(v[i].task_run_id);
        free(v[i].task_id);
        free(v[i].name);
        json_decref(v[i].tags);
    }
    free(v);
}

void store_jobs_free(store_job *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].kind);
        free(v[i].execution_id);
        free(v[i].task_run_id);
        free(v[i].owner);
        json_decref(v[i].payload);
    }
    free(v);
}

void store_strings_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void store_trigger_clear(store_trigger *t)
{
    if (!t)
        return;
    free(t->namespace);
    free(t->flow_id);
    free(t->trigger_id);
    json_decref(t->state);
    memset(t, 0, sizeof *t);
}

void store_triggers_free(store_trigger *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_trigger_clear(&v[i]);
    free(v);
}

/* ---- opening ------------------------------------------------------------ */

int store_open(const char *url, const store_opts *opts, store **out, kerr *e)
{
    store_opts dflt = STORE_OPTS_INIT;
    *out = NULL;
    if (!url || !*url)
        return store__fail(e, STORE_ERROR, "store: no database path or URL given");
    if (!opts)
        opts = &dflt;
    const store_ops *ops = NULL;
    const char *target = url;
    if (strncmp(url, "sqlite:", 7) == 0) {
        ops = &store__sqlite_ops;
        target = url + 7;
        if (strncmp(target, "//", 2) == 0)
            target += 2;
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        return store__fail(e, STORE_ERROR,
                           "store: %s: the postgres backend is not built into this kite", url);
    } else if (strstr(url, "://")) {
        return store__fail(e, STORE_ERROR, "store: %s: unknown database URL scheme", url);
    } else {
        ops = &store__sqlite_ops;
    }
    if (!*target)
        return store__fail(e, STORE_ERROR, "store: %s: empty database path", url);
    void *b = NULL;
    int rc = ops->open(target, opts, &b, e);
    if (rc)
        return rc;
    store *s = xcalloc(1, sizeof *s);
    s->ops = ops;
    s->b = b;
    *out = s;
    return STORE_OK;
}

void store_free(store *s)
{
    if (!s)
        return;
    store__secrets_close(s);
    store__access_close(s);
    s->ops->close(s->b);
    free(s);
}

const char *store_backend(const store *s)
{
    return s->ops->name;
}

int store_schema_version(store *s)
{
    return s->ops->schema_version(s->b);
}

int store_schema_latest(void)
{
    return store__sqlite_migration_count;
}

/* ---- transactions ------------------------------------------------------- */

int store_begin(store *s, kerr *e)
{
    return s->ops->begin(s->b, e);
}

int store_commit(store *s, kerr *e)
{
    return s->ops->commit(s->b, e);
}

void store_rollback(store *s)
{
    s->ops->rollback(s->b);
}

int store_snapshot_begin(store *s, kerr *e)
{
    return s->ops->snapshot_begin(s->b, e);
}

void store_snapshot_end(store *s)
{
    s->ops->snapshot_end(s->b);
}

/* ---- flows -------------------------------------------------------------- */

int store_flow_put(store *s, const char *ns, const char *id, const char *source, json_t *json,
                   int *revision, int *created, kerr *e)
{
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    CHECK_PTR(source, "flow source");
    char *js = store__json_dump(json);
    int rev = 0, cr = 0;
    int rc = s->ops->flow_put(s->b, ns, id, source, js, &rev, &cr, e);
    free(js);
    if (rc == 0) {
        if (revision)
            *revision = rev;
        if (created)
            *created = cr;
    }
    return rc;
}

int store_flow_get(store *s, const char *ns, const char *id, int revision, store_flow *out,
                   kerr *e)
{
    memset(out, 0, sizeof *out);
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    if (revision < 0)
        return store__fail(e, STORE_ERROR, "store: flow revision %d is negative", revision);
    return s->ops->flow_get(s->b, ns, id, revision, out, e);
}

int store_flow_head(store *s, const char *ns, const char *id, int *revision, kerr *e)
{
    *revision = 0;
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    return s->ops->flow_head(s->b, ns, id, revision, e);
}

int store_flow_revisions(store *s, const char *ns, const char *id, store_flow **out,
                         size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    return s->ops->flow_revisions(s->b, ns, id, out, n, e);
}

int store_flow_delete(store *s, const char *ns, const char *id, kerr *e)
{
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    return s->ops->flow_delete(s->b, ns, id, e);
}

int store_flow_search(store *s, const store_flow_query *q, store_flow **out, size_t *n,
                      int64_t *total, kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_PTR(q, "flow query");
    CHECK_OPT(q->ns_prefix, "flow query namespace");
    if (q->text && strlen(q->text) > 4096)
        return store__fail(e, STORE_ERROR, "store: flow query text is longer than 4096 bytes");
    int64_t t = 0;
    int rc = s->ops->flow_search(s->b, q, out, n, &t, e);
    if (rc == 0 && total)
        *total = t;
    return rc;
}

/* ---- executions --------------------------------------------------------- */

static int check_execution(const store_execution *x, kerr *e)
{
    CHECK_PTR(x, "execution");
    CHECK_ID(x->id, "execution.id");
    CHECK_ID(x->namespace, "execution.namespace");
    CHECK_ID(x->flow_id, "execution.flow_id");
    CHECK_OPT(x->parent_id, "execution.parent_id");
    CHECK_OPT(x->parent_task_run_id, "execution.parent_task_run_id");
    CHECK_OPT(x->original_id, "execution.original_id");
    int rc = check_state((int)x->state, "execution.state", e);
    if (rc)
        return rc;
    for (size_t i = 0; i < x->n_histories; i++)
        if ((rc = check_state((int)x->histories[i].state, "execution.histories[].state", e)))
            return rc;
    if (x->flow_revision < 0)
        return store__fail(e, STORE_ERROR, "store: execution.flow_revision %d is negative",
                           x->flow_revision);
    return 0;
}

int store_execution_insert(store *s, store_execution *x, kerr *e)
{
    int rc = check_execution(x, e);
    if (rc)
        return rc;
    int64_t old = x->version, old_created = x->created_us;
    x->version = 1;
    if (!x->created_us)
        x->created_us = store_now_us();
    rc = s->ops->execution_insert(s->b, x, e);
    if (rc) {
        x->version = old;
        x->created_us = old_created;
    }
    return rc;
}

int store_execution_update(store *s, store_execution *x, kerr *e)
{
    int rc = check_execution(x, e);
    if (rc)
        return rc;
    rc = s->ops->execution_update(s->b, x, e);
    if (rc == 0)
        x->version++;
    return rc;
}

int store_execution_get(store *s, const char *id, store_execution *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    CHECK_ID(id, "execution id");
    return s->ops->execution_get(s->b, id, out, e);
}

int store_execution_delete(store *s, const char *id, kerr *e)
{
    CHECK_ID(id, "execution id");
    return s->ops->execution_delete(s->b, id, e);
}

int store_execution_search(store *s, const store_execution_query *q, store_execution **out,
                           size_t *n, int64_t *total, kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_PTR(q, "execution query");
    CHECK_OPT(q->ns_prefix, "execution query namespace prefix");
    CHECK_OPT(q->namespace, "execution query namespace");
    CHECK_OPT(q->flow_id, "execution query flow id");
    CHECK_OPT(q->parent_id, "execution query parent id");
    if (q->states >> STATE__COUNT)
        return store__fail(e, STORE_ERROR, "store: execution query states 0x%x name no state",
                           q->states & ~((1u << STATE__COUNT) - 1));
    int64_t t = 0;
    int rc = s->ops->execution_search(s->b, q, out, n, &t, e);
    if (rc == 0 && total)
        *total = t;
    return rc;
}

/* ---- task runs ---------------------------------------------------------- */

static int check_task_run(const store_task_run *t, kerr *e)
{
    CHECK_PTR(t, "task run");
    CHECK_ID(t->id, "task_run.id");
    CHECK_ID(t->execution_id, "task_run.execution_id");
    CHECK_ID(t->task_id, "task_run.task_id");
    CHECK_OPT(t->parent_task_run_id, "task_run.parent_task_run_id");
    int rc = check_state((int)t->state, "task_run.state", e);
    if (rc)
        return rc;
    for (size_t i = 0; i < t->n_histories; i++)
        if ((rc = check_state((int)t->histories[i].state, "task_run.histories[].state", e)))
            return rc;
    for (size_t i = 0; i < t->n_attempts; i++) {
        if ((rc = check_state((int)t->attempts[i].state, "task_run.attempts[].state", e)))
            return rc;
        CHECK_OPT(t->attempts[i].worker_id, "task_run.attempts[].worker_id");
    }
    return 0;
}

int store_task_run_insert(store *s, const store_task_run *t, kerr *e)
{
    int rc = check_task_run(t, e);
    if (rc)
        return rc;
    return s->ops->task_run_insert(s->b, t, e);
}

int store_task_run_update(store *s, const store_task_run *t, kerr *e)
{
    int rc = check_task_run(t, e);
    if (rc)
        return rc;
    return s->ops->task_run_update(s->b, t, e);
}

int store_task_run_get(store *s, const char *id, store_task_run *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    CHECK_ID(id, "task run id");
    return s->ops->task_run_get(s->b, id, out, e);
}

int store_task_run_list(store *s, const char *execution_id, store_task_run **out, size_t *n,
                        kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_ID(execution_id, "execution id");
    return s->ops->task_run_list(s->b, execution_id, out, n, e);
}

int store_task_run_count(store *s, const char *execution_id, int64_t *n, kerr *e)
{
    *n = 0;
    CHECK_ID(execution_id, "execution id");
    return s->ops->task_run_count(s->b, execution_id, n, e);
}

int store_execution_end_bulk(store *s, const char *id, store_state state, int64_t at_us,
                             size_t *runs, kerr *e)
{
    size_t dummy;
    if (!runs)
        runs = &dummy;
    *runs = 0;
    CHECK_ID(id, "execution id");
    int rc = check_state(state, "state", e);
    if (rc)
        return rc;
    if (!store_state_is_terminated(state))
        return store__fail(e, STORE_ERROR, "store: ending an execution needs an ended state, not %s",
                           store_state_name(state));
    return s->ops->execution_end_bulk(s->b, id, state, at_us ? at_us : store_now_us(), runs, e);
}

/* ---- logs and metrics --------------------------------------------------- */

int store_log_append(store *s, const store_log *l, int64_t *id, kerr *e)
{
    CHECK_PTR(l, "log");
    CHECK_ID(l->execution_id, "log.execution_id");
    CHECK_OPT(l->task_run_id, "log.task_run_id");
    CHECK_OPT(l->task_id, "log.task_id");
    CHECK_PTR(l->message, "log.message");
    if ((int)l->level < 0 || l->level >= LEVEL__COUNT)
        return store__fail(e, STORE_ERROR, "store: log.level %d is not a level", (int)l->level);
    int64_t lid = 0;
    int rc = s->ops->log_append(s->b, l, &lid, e);
    if (rc == 0 && id)
        *id = lid;
    return rc;
}

int store_log_search(store *s, const store_log_query *q, store_log **out, size_t *n,
                     int64_t *total, kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_PTR(q, "log query");
    CHECK_ID(q->execution_id, "log query execution id");
    CHECK_OPT(q->task_id, "log query task id");
    CHECK_OPT(q->task_run_id, "log query task run id");
    if ((int)q->min_level < 0 || q->min_level >= LEVEL__COUNT)
        return store__fail(e, STORE_ERROR, "store: log query level %d is not a level",
                           (int)q->min_level);
    int64_t t = 0;
    int rc = s->ops->log_search(s->b, q, out, n, &t, e);
    if (rc == 0 && total)
        *total = t;
    return rc;
}

int store_metric_add(store *s, const store_metric *m, kerr *e)
{
    CHECK_PTR(m, "metric");
    CHECK_ID(m->name, "metric.name");
    CHECK_OPT(m->execution_id, "metric.execution_id");
    CHECK_OPT(m->task_run_id, "metric.task_run_id");
    CHECK_OPT(m->task_id, "metric.task_id");
    if (m->type != METRIC_COUNTER && m->type != METRIC_TIMER)
        return store__fail(e, STORE_ERROR, "store: metric.type %d is neither counter nor timer",
                           (int)m->type);
    if (!isfinite(m->value))
        return store__fail(e, STORE_ERROR, "store: metric.value of '%s' is not a finite number",
                           m->name);
    if (m->tags && !json_is_object(m->tags))
        return store__fail(e, STORE_ERROR, "store: metric.tags must be an object");
    return s->ops->metric_add(s->b, m, e);
}

int store_metric_list(store *s, const char *execution_id, store_metric **out, size_t *n,
                      kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_ID(execution_id, "execution id");
    return s->ops->metric_list(s->b, execution_id, out, n, e);
}

/* ---- queue -------------------------------------------------------------- */

int store_queue_push(store *s, const char *kind, const char *execution_id,
                     const char *task_run_id, json_t *payload, int64_t available_us,
                     int64_t *id, kerr *e)
{
    CHECK_ID(kind, "job kind");
    CHECK_OPT(execution_id, "job execution id");
    CHECK_OPT(task_run_id, "job task run id");
    if (available_us == 0)
        available_us = store_now_us();
    char *p = store__json_dump(payload);
    int64_t jid = 0;
    int rc = s->ops->queue_push(s->b, kind, execution_id, task_run_id, p, available_us, &jid, e);
    free(p);
    if (rc == 0 && id)
        *id = jid;
    return rc;
}

int store_queue_push_leased(store *s, const char *kind, const char *execution_id,
                            const char *task_run_id, json_t *payload, const char *owner,
                            int64_t lease_us, int64_t *id, kerr *e)
{
    CHECK_ID(kind, "job kind");
    CHECK_OPT(execution_id, "job execution id");
    CHECK_OPT(task_run_id, "job task run id");
    CHECK_ID(owner, "lease owner");
    if (lease_us <= 0)
        return store__fail(e, STORE_ERROR, "store: lease duration must be positive");
    char *p = store__json_dump(payload);
    int64_t jid = 0;
    int rc = s->ops->queue_push_leased(s->b, kind, execution_id, task_run_id, p, owner,
                                       store_now_us() + lease_us, &jid, e);
    free(p);
    if (rc == 0 && id)
        *id = jid;
    return rc;
}

int store_queue_lease(store *s, const char *kind, size_t max, const char *owner,
                      int64_t lease_us, int64_t now_us, store_job **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_ID(kind, "job kind");
    CHECK_ID(owner, "lease owner");
    if (lease_us <= 0)
        return store__fail(e, STORE_ERROR, "store: lease duration must be positive");
    if (max == 0)
        return 0;
    if (max > 10000)
        max = 10000;
    if (now_us == 0)
        now_us = store_now_us();
    return s->ops->queue_lease(s->b, kind, max, owner, now_us + lease_us, now_us, out, n, e);
}

int store_queue_ack(store *s, int64_t id, const char *owner, kerr *e)
{
    CHECK_ID(owner, "lease owner");
    return s->ops->queue_ack(s->b, id, owner, e);
}

int store_queue_extend(store *s, int64_t id, const char *owner, int64_t until_us, kerr *e)
{
    CHECK_ID(owner, "lease owner");
    return s->ops->queue_extend(s->b, id, owner, until_us, e);
}

int store_queue_expire(store *s, int64_t now_us, size_t *requeued, size_t *dropped, kerr *e)
{
    size_t r = 0, d = 0;
    if (now_us == 0)
        now_us = store_now_us();
    int rc = s->ops->queue_expire(s->b, now_us, &r, &d, e);
    if (rc == 0) {
        if (requeued)
            *requeued = r;
        if (dropped)
            *dropped = d;
    }
    return rc;
}

uint64_t store_commits(store *s)
{
    return s->ops->commits ? s->ops->commits(s->b) : 0;
}

int store_queue_depth(store *s, const char *kind, int64_t *waiting, int64_t *leased, kerr *e)
{
    CHECK_OPT(kind, "job kind");
    int64_t w = 0, l = 0;
    int rc = s->ops->queue_depth(s->b, kind, &w, &l, e);
    if (rc == 0) {
        if (waiting)
            *waiting = w;
        if (leased)
            *leased = l;
    }
    return rc;
}

int store_queue_owners(store *s, char ***owners, size_t *n, kerr *e)
{
    *owners = NULL;
    *n = 0;
    int rc = s->ops->queue_owners(s->b, owners, n, e);
    if (rc) {
        store_strings_free(*owners, *n);
        *owners = NULL;
        *n = 0;
    }
    return rc;
}

int store_queue_release(store *s, const char *owner_prefix, size_t *requeued, size_t *dropped, kerr *e)
{
    CHECK_ID(owner_prefix, "lease owner");
    size_t r = 0, d = 0;
    int rc = s->ops->queue_release(s->b, owner_prefix, &r, &d, e);
    if (rc == 0) {
        if (requeued)
            *requeued = r;
        if (dropped)
            *dropped = d;
    }
    return rc;
}

int store_queue_wait(store *s, const char *kind, uint64_t seen, int64_t timeout_us, uint64_t *seq, kerr *e)
{
    CHECK_ID(kind, "job kind");
    uint64_t v = 0;
    int rc = s->ops->wait_jobs(s->b, kind, seen, seen ? timeout_us : 0, &v);
    if (seq)
        *seq = v;
    return rc;
}

void store_queue_notify(store *s, const char *kind)
{
    if (kind)
        s->ops->notify_jobs(s->b, kind);
}

/* ---- kv ----------------------------------------------------------------- */

#define KV_VALUE_MAX (16 * 1024 * 1024)

int store_kv_reserved(const char *ns)
{
    return ns && !strncmp(ns, STORE_RESERVED_NS, sizeof STORE_RESERVED_NS - 1);
}

int store_kv_check_namespace(const char *ns, kerr *e)
{
    if (store_kv_reserved(ns))
        return store__fail(e, STORE_ERROR, "kv namespace '%.*s' is reserved for kite itself",
                           STORE_ID_MAX, ns);
    return 0;
}

/* sys: the caller is kite's own code (store_kv_sys_*), which may use only the
 * reserved namespaces; everyone else may use only the others. */
static int kv_ns(const char *ns, int sys, kerr *e)
{
    CHECK_ID(ns, "kv namespace");
    if (!sys)
        return store_kv_check_namespace(ns, e);
    if (!store_kv_reserved(ns))
        return store__fail(e, STORE_ERROR, "store: kv namespace '%s' is not a reserved one "
                           "(the kv_sys calls reach only '" STORE_RESERVED_NS "*')", ns);
    return 0;
}

#define CHECK_KV_NS(ns, sys) do { int rc_ = kv_ns((ns), (sys), e); if (rc_) return rc_; } while (0)

static int kv_put(store *s, const char *ns, const char *key, json_t *value, int64_t expires_us,
                  int sys, kerr *e)
{
    CHECK_KV_NS(ns, sys);
    CHECK_ID(key, "kv key");
    CHECK_PTR(value, "kv value");
    char *v = store__json_dump(value);
    if (strlen(v) > KV_VALUE_MAX) {
        free(v);
        return store__fail(e, STORE_ERROR, "store: kv value of '%s' is larger than %d bytes",
                           key, KV_VALUE_MAX);
    }
    int rc = s->ops->kv_put(s->b, ns, key, v, expires_us, store_now_us(), e);
    free(v);
    return rc;
}

static int kv_get(store *s, const char *ns, const char *key, json_t **value, int sys, kerr *e)
{
    *value = NULL;
    CHECK_KV_NS(ns, sys);
    CHECK_ID(key, "kv key");
    char *text = NULL;
    int rc = s->ops->kv_get(s->b, ns, key, store_now_us(), &text, e);
    if (rc)
        return rc;
    *value = store__json_load(text);
    free(text);
    if (!*value)
        return store__fail(e, STORE_ERROR, "store: kv value of '%s' is not valid JSON", key);
    return 0;
}

static int kv_delete(store *s, const char *ns, const char *key, int sys, kerr *e)
{
    CHECK_KV_NS(ns, sys);
    CHECK_ID(key, "kv key");
    return s->ops->kv_delete(s->b, ns, key, store_now_us(), e);
}

int store_kv_purge(store *s, const char *ns, const char *glob, int expired_only, size_t *n, kerr *e)
{
    *n = 0;
    CHECK_KV_NS(ns, 0);
    return s->ops->kv_purge(s->b, ns, glob, expired_only, store_now_us(), n, e);
}

int store_log_purge_run(store *s, const store_log_purge *q, size_t *n, kerr *e)
{
    *n = 0;
    CHECK_PTR(q, "log purge");
    if (q->before_us <= 0)
        return store__fail(e, STORE_ERROR, "store: a log purge needs an end date");
    return s->ops->log_purge(s->b, q, n, e);
}

int store_flow_purge(store *s, const char *ns, const char *id, int keep, int64_t before_us, size_t *n, kerr *e)
{
    *n = 0;
    CHECK_ID(ns, "flow namespace");
    CHECK_ID(id, "flow id");
    return s->ops->flow_purge(s->b, ns, id, keep < 1 ? 1 : keep, before_us, n, e);
}

static int kv_list(store *s, const char *ns, char ***keys, size_t *n, int sys, kerr *e)
{
    *keys = NULL;
    *n = 0;
    CHECK_KV_NS(ns, sys);
    return s->ops->kv_list(s->b, ns, store_now_us(), keys, n, e);
}

int store_kv_put(store *s, const char *ns, const char *key, json_t *value, int64_t expires_us,
                 kerr *e)
{
    return kv_put(s, ns, key, value, expires_us, 0, e);
}

int store_kv_get(store *s, const char *ns, const char *key, json_t **value, kerr *e)
{
    return kv_get(s, ns, key, value, 0, e);
}

int store_kv_delete(store *s, const char *ns, const char *key, kerr *e)
{
    return kv_delete(s, ns, key, 0, e);
}

int store_kv_list(store *s, const char *ns, char ***keys, size_t *n, kerr *e)
{
    return kv_list(s, ns, keys, n, 0, e);
}

int store_kv_sys_put(store *s, const char *ns, const char *key, json_t *value,
                     int64_t expires_us, kerr *e)
{
    return kv_put(s, ns, key, value, expires_us, 1, e);
}

int store_kv_sys_get(store *s, const char *ns, const char *key, json_t **value, kerr *e)
{
    return kv_get(s, ns, key, value, 1, e);
}

int store_kv_sys_delete(store *s, const char *ns, const char *key, kerr *e)
{
    return kv_delete(s, ns, key, 1, e);
}

int store_kv_sys_list(store *s, const char *ns, char ***keys, size_t *n, kerr *e)
{
    return kv_list(s, ns, keys, n, 1, e);
}

/* ---- triggers ----------------------------------------------------------- */

#define CHECK_TRIGGER_KEY(ns, f, t) do { \
        CHECK_ID((ns), "trigger namespace"); \
        CHECK_ID((f), "trigger flow id"); \
        CHECK_ID((t), "trigger id"); } while (0)

int store_trigger_put(store *s, const store_trigger *t, kerr *e)
{
    CHECK_PTR(t, "trigger");
    CHECK_TRIGGER_KEY(t->namespace, t->flow_id, t->trigger_id);
    char *st = store__json_dump(t->state);
    int rc = s->ops->trigger_put(s->b, t, st, e);
    free(st);
    return rc;
}

int store_trigger_get(store *s, const char *ns, const char *flow_id, const char *trigger_id,
                      store_trigger *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    CHECK_TRIGGER_KEY(ns, flow_id, trigger_id);
    return s->ops->trigger_get(s->b, ns, flow_id, trigger_id, out, e);
}

int store_trigger_list(store *s, const char *ns_prefix, store_trigger **out, size_t *n,
                       kerr *e)
{
    *out = NULL;
    *n = 0;
    CHECK_OPT(ns_prefix, "trigger namespace");
    return s->ops->trigger_list(s->b, ns_prefix, out, n, e);
}

int store_trigger_delete(store *s, const char *ns, const char *flow_id,
                         const char *trigger_id, kerr *e)
{
    CHECK_TRIGGER_KEY(ns, flow_id, trigger_id);
    return s->ops->trigger_delete(s->b, ns, flow_id, trigger_id, e);
}

int store_trigger_tick(store *s, const char *ns, const char *flow_id, const char *trigger_id,
                       int64_t scheduled_us, const char *execution_id, kerr *e)
{
    CHECK_TRIGGER_KEY(ns, flow_id, trigger_id);
    CHECK_OPT(execution_id, "trigger tick execution id");
    return s->ops->trigger_tick(s->b, ns, flow_id, trigger_id, scheduled_us, execution_id,
                                store_now_us(), e);
}

/* ---- webhook keys ----------------------------------------------------------------- */

void store_webhook_keys_free(store_webhook_key *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].trigger_id);
        free(v[i].key_sha256);
        free(v[i].key_template);
    }
    free(v);
}

int store_webhook_keys_put(store *s, const char *ns, const char *flow_id, int revision,
                           const store_webhook_key *keys, size_t n, kerr *e)
{
    CHECK_TRIGGER_KEY(ns, flow_id, "webhook");
    for (size_t i = 0; i < n; i++)
        if (!keys[i].trigger_id || !keys[i].trigger_id[0] || (!keys[i].key_sha256 == !keys[i].key_template))
            return store__fail(e, STORE_ERROR, "store: webhook key %zu: a trigger id and exactly one of "
                                                 "key_sha256 and key_template are required", i);
    return s->ops->webhook_keys_put(s->b, ns, flow_id, revision, keys, n, e);
}

int store_webhook_keys_get(store *s, const char *ns, const char *flow_id, int *fresh,
                           store_webhook_key **keys, size_t *n, kerr *e)
{
    *fresh = 0;
    *keys = NULL;
    *n = 0;
    CHECK_TRIGGER_KEY(ns, flow_id, "webhook");
    return s->ops->webhook_keys_get(s->b, ns, flow_id, fresh, keys, n, e);
}

/* ---- aggregates ----------------------------------------------------------- */

void store_ns_counts_free(store_ns_count *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].namespace);
    free(v);
}

int store_namespace_counts(store *s, store_ns_count **out, size_t *n, kerr *e)
{
    *out = NULL;
    *n = 0;
    return s->ops->namespace_counts(s->b, out, n, e);
}

int store_execution_stats(store *s, const store_stats_query *q, json_t **out, kerr *e)
{
    *out = NULL;
    if (q->interval_us <= 0 || q->to_us <= q->from_us)
        return store__fail(e, STORE_ERROR, "store: statistics need an interval and a range that is not empty");
    if ((q->to_us - q->from_us) / q->interval_us > 100000)
        return store__fail(e, STORE_ERROR, "store: statistics: more than 100,000 buckets (widen the interval)");
    if ((q->ns_prefix && strlen(q->ns_prefix) > STORE_ID_MAX) || (q->flow_id && strlen(q->flow_id) > STORE_ID_MAX))
        return store__fail(e, STORE_ERROR, "store: statistics: namespace or flow id longer than %d bytes",
                           STORE_ID_MAX);
    return s->ops->execution_stats(s->b, q, out, e);
}
