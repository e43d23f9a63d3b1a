/*
 * funcs.c: the built-in functions, and the YAML and Ion text forms that
 * the yaml/toIon filters and the yaml/fromIon functions share.
 *
 * Functions get their arguments by parameter slot like filters (variadic
 * ones, max and min, get every positional in order). Host functions
 * (secret, kv, read, ...) are not here: the engine passes them in expr_env,
 * and eval.c looks them up before this table so a host can override a
 * built-in (a test may pin `now`).
 */
#include "expr/expr_int.h"
#include "util/aesgcm.h"
#include "util/datetime.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <yaml.h>

#define RENDER_MAX_PASSES 100

/* ---- random ---------------------------------------------------------------- */

static void random_bytes(void *p, size_t n)
{
    unsigned char *b = p;
    while (n) {
        ssize_t k = getrandom(b, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            /* no entropy source: fall back to something unique enough */
            for (size_t i = 0; i < n; i++)
                b[i] = (unsigned char)(rand() & 0xFF);
            return;
        }
        b += k;
        n -= (size_t)k;
    }
}

static json_t *fn_uuid(xr *r, const xnode *n, json_t **av, int nargs)
{
    unsigned char u[16];
    random_bytes(u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80);
    char s[37];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return json_string(s);
}

static json_t *fn_random_int(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (!json_is_integer(av[0]) || !json_is_integer(av[1]))
        return expr__err(r, n, "randomInt(lower, upper) needs two integers");
    long long lo = json_integer_value(av[0]), hi = json_integer_value(av[1]);
    if (hi <= lo)
        return expr__err(r, n, "randomInt: upper (%lld) must be greater than lower (%lld)", hi, lo);
    unsigned long long span = (unsigned long long)hi - (unsigned long long)lo, x;
    unsigned long long limit = UINT64_MAX - UINT64_MAX % span;
    do
        random_bytes(&x, sizeof x);
    while (x >= limit);
    return json_integer((long long)((unsigned long long)lo + x % span));
}

/* ---- numbers and lists ---------------------------------------------------------- */

static json_t *fn_range(xr *r, const xnode *n, json_t **av, int nargs)
{
    return expr__range(r, n, av[0], av[1], av[2]);
}

static json_t *minmax(xr *r, const xnode *n, json_t **av, int nargs, int want_max)
{
    json_t **v = av;
    int cnt = nargs;
    json_t *list[64] = {0};
    if (nargs == 1 && json_is_array(av[0])) {
        cnt = (int)(json_array_size(av[0]) < 64 ? json_array_size(av[0]) : 64);
        for (int i = 0; i < cnt; i++)
            list[i] = json_array_get(av[0], (size_t)i);
        v = list;
    }
    if (cnt == 0)
        return json_null();
    json_t *best = v[0];
    for (int i = 1; i < cnt; i++) {
        int ok;
        int c = expr__compare(v[i], best, &ok);
        if (!ok)
            return expr__err(r, n, "%s() cannot compare %s and %s", n->name, expr__type_name(v[i]),
                             expr__type_name(best));
        if (want_max ? c > 0 : c < 0)
            best = v[i];
    }
    return json_incref(best);
}

static json_t *fn_max(xr *r, const xnode *n, json_t **av, int nargs) { return minmax(r, n, av, nargs, 1); }
static json_t *fn_min(xr *r, const xnode *n, json_t **av, int nargs) { return minmax(r, n, av, nargs, 0); }

/* ---- JSON, YAML, Ion ------------------------------------------------------------ */

static json_t *fn_from_json(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (json_is_null(av[0]))
        return json_null();
    if (!json_is_string(av[0]))
        return json_incref(av[0]);
    json_error_t je;
    json_t *v = json_loadb_limited(json_string_value(av[0]), json_string_length(av[0]), JSON_DECODE_ANY,
                                   EXPR__VALUE_DEPTH, &je);
    if (!v) {
        char where[JSON_ERROR_TEXT_LENGTH + 32];
        kerr_format_pos(where, sizeof where, NULL, je.line, je.column, je.text);
        return expr__err(r, n, "%s(): invalid JSON: %s", n->name, where);
    }
    return v;
}

static json_t *fn_yaml(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (json_is_null(av[0]))
        return json_null();
    if (!json_is_string(av[0]))
        return json_incref(av[0]);
    kerr e = KERR_INIT;
    json_t *v = expr__yaml_parse(json_string_value(av[0]), &e);
    if (!v)
        return expr__err(r, n, "yaml(): %s", e.msg);
    return v;
}

static json_t *fn_from_ion(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (json_is_null(av[0]))
        return json_null();
    if (!json_is_string(av[0]))
        return json_incref(av[0]);
    kerr e = KERR_INIT;
    json_t *v = expr__ion_parse(json_string_value(av[0]), &e);
    if (!v)
        return expr__err(r, n, "%s(): %s", n->name, e.msg);
    return v;
}

static json_t *fn_print_context(xr *r, const xnode *n, json_t **av, int nargs)
{
    buf b;
    buf_init(&b, expr__room(r));
    json_t *empty = json_object();
    const json_t *ctx = r->ctx ? r->ctx : empty;
    if (expr__write_json(&b, ctx, 0)) {
        buf_free(&b);
        expr__write_err(r, n, ctx);
        json_decref(empty);
        return NULL;
    }
    json_decref(empty);
    json_t *v = json_stringn_nocheck(buf_str(&b), b.len);
    buf_free(&b);
    return v;
}

/* ---- render ------------------------------------------------------------------------ */

static json_t *do_render(xr *r, const xnode *n, json_t *src, int recursive)
{
    if (!json_is_string(src))
        return json_incref(src);
    if (r->depth >= EXPR__MAX_DEPTH / 4)
        return expr__err(r, n, "render() nested too deeply (%d levels)", EXPR__MAX_DEPTH / 4);
    char *cur = xstrdup(json_string_value(src));
    for (int pass = 0;; pass++) {
        if (!expr_is_template(cur))
            break;
        if (pass == RENDER_MAX_PASSES) {
            free(cur);
            return expr__err(r, n, "render(): still a template after %d passes", RENDER_MAX_PASSES);
        }
        kerr e2 = KERR_INIT;
        expr_tmpl *t = expr_compile(cur, &e2);
        if (!t) {
            free(cur);
            return expr__err(r, n, "render(): %d:%d: %s", e2.line, e2.col, e2.msg);
        }
        buf b;
        buf_init(&b, r->max_out);
        kerr *saved = r->e;
        r->e = &e2;
        r->depth++;
        int rc = expr__render_nested(r, t, &b);
        r->depth--;
        r->e = saved;
        expr_tmpl_free(t);
        if (rc) {
            buf_free(&b);
            free(cur);
            return expr__err(r, n, "render(): %d:%d: %s", e2.line, e2.col, e2.msg);
        }
        expr__credit(r, b.len); /* charged as written; the result is charged once returned */
        char *next = buf_steal(&b);
        int same = !strcmp(next, cur);
        free(cur);
        cur = next;
        if (!recursive || same)
            break;
    }
    json_t *v = json_string(cur);
    if (!v)
        v = json_stringn_nocheck(cur, strlen(cur));
    free(cur);
    return v;
}

static json_t *fn_render(xr *r, const xnode *n, json_t **av, int nargs)
{
    int recursive = av[1] ? expr__truthy(av[1]) : 1;
    return do_render(r, n, av[0], recursive);
}

static json_t *fn_render_once(xr *r, const xnode *n, json_t **av, int nargs)
{
    return do_render(r, n, av[0], 0);
}

/* ---- encrypt, decrypt (Kestra's EncryptionService: AES/GCM/NoPadding) ---------------- */

static const char *crypt_text(xr *r, const xnode *n, json_t *v, const char *what)
{
    if (!json_is_string(v)) {
        expr__err(r, n, "%s(): '%s' must be a string, not %s", n->name, what,
                  v ? expr__type_name(v) : "missing");
        return NULL;
    }
    return json_string_value(v);
}

static json_t *fn_encrypt(xr *r, const xnode *n, json_t **av, int nargs)
{
    const char *key = crypt_text(r, n, av[0], "key");
    const char *plain = key ? crypt_text(r, n, av[1], "plaintext") : NULL;
    if (!plain)
        return NULL;
    kerr e = KERR_INIT;
    char *out = aesgcm_encrypt(key, plain, json_string_length(av[1]), &e);
    if (!out)
        return expr__err(r, n, "encrypt(): %s", e.msg);
    json_t *v = json_string(out);
    free(out);
    return v;
}

static json_t *fn_decrypt(xr *r, const xnode *n, json_t **av, int nargs)
{
    const char *key = crypt_text(r, n, av[0], "key");
    const char *enc = key ? crypt_text(r, n, av[1], "encrypted") : NULL;
    if (!enc)
        return NULL;
    kerr e = KERR_INIT;
    size_t len = 0;
    char *plain = aesgcm_decrypt(key, enc, &len, &e);
    if (!plain)
        return expr__err(r, n, "decrypt(): %s", e.msg);
    json_t *v = json_stringn(plain, len);
    if (!v) /* not UTF-8: Java's new String() would replace; kite keeps the bytes */
        v = json_stringn_nocheck(plain, len);
    free(plain);
    return v;
}

/* ---- blocks ----------------------------------------------------------------------- */

/* block("name"): the body of {% block name %} rendered again, here, as
 * Pebble's block(). */
static json_t *fn_block(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (!json_is_string(av[0]))
        return expr__err(r, n, "block() needs the name of a block, got %s", expr__type_name(av[0]));
    const char *name = json_string_value(av[0]);
    const snode *b = NULL;
    for (const snode *o = r->t ? r->t->blocks : NULL; o && !b; o = o->next_block)
        if (!strcmp(o->v1, name))
            b = o;
    if (!b)
        return expr__err(r, n, "block('%s'): no {%% block %s %%} in this template", name, name);
    if (r->depth >= EXPR__MAX_DEPTH / 4)
        return expr__err(r, n, "block('%s') nested too deeply (%d levels): does the block call itself?", name,
                         EXPR__MAX_DEPTH / 4);
    r->depth++;
    buf out;
    buf_init(&out, expr__room(r));
    int rc = expr__render_body(r, b->body, &out);
    r->depth--;
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    json_t *v = json_stringn_nocheck(buf_str(&out), out.len);
    buf_free(&out);
    return v;
}

/* parent(): Pebble's, for a block overriding one of the template it
 * extends; a flow property extends nothing, so it is Pebble's error. */
static json_t *fn_parent(xr *r, const xnode *n, json_t **av, int nargs)
{
    return expr__err(r, n, "Can not use parent function if template does not extend another template (kite has "
                           "no {%% extends %%}: a flow property is one template)");
}

/* ---- identifiers ---------------------------------------------------------------- */

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* id(): 22 base62 characters from 128 random bits, the length of Kestra's
 * IdUtils.create() (a UUID in base62), so the same columns fit. */
static json_t *fn_id(xr *r, const xnode *n, json_t **av, int nargs)
{
    char out[23];
    unsigned char rnd[64];
    size_t used = sizeof rnd, k = 0;
    while (k < 22) {
        if (used == sizeof rnd) {
            random_bytes(rnd, sizeof rnd);
            used = 0;
        }
        unsigned char c = rnd[used++];
        if (c >= 248) /* 4 * 62: keeps the digits uniform */
            continue;
        out[k++] = base62[c % 62];
    }
    out[22] = 0;
    return json_string(out);
}

/* ksuid(): a K-Sortable Unique IDentifier (segmentio/ksuid, what Kestra's
 * ksuid() gives): 4 bytes of seconds since 2014-05-13T16:53:20Z (epoch
 * 1400000000) and 16 random bytes, as 27 base62 digits, zero-padded, so
 * they sort as text in time order. */
static json_t *fn_ksuid(xr *r, const xnode *n, json_t **av, int nargs)
{
    unsigned char b[20];
    int64_t secs = time_now_us() / 1000000 - 1400000000LL;
    uint32_t t = secs < 0 ? 0 : (uint32_t)secs;
    b[0] = (unsigned char)(t >> 24), b[1] = (unsigned char)(t >> 16), b[2] = (unsigned char)(t >> 8);
    b[3] = (unsigned char)t;
    random_bytes(b + 4, 16);
    /* base 256 -> base 62, most significant first: repeated division */
    char out[28];
    memset(out, '0', 27);
    out[27] = 0;
    unsigned char num[20];
    memcpy(num, b, sizeof num);
    for (int pos = 26; pos >= 0; pos--) {
        unsigned rem = 0;
        for (size_t i = 0; i < sizeof num; i++) {
            unsigned acc = rem * 256 + num[i];
            num[i] = (unsigned char)(acc / 62);
            rem = acc % 62;
        }
        out[pos] = base62[rem];
    }
    return json_string(out);
}

/* nanoId(length=21, alphabet=0-9A-Za-z-_), length at most 1000. Each
 * character is drawn uniformly from the alphabet (Kestra masks a random
 * byte with size - 1, which never draws some characters of an alphabet
 * whose size is not a power of two; the default one, 64, is alike). */
static json_t *fn_nano_id(xr *r, const xnode *n, json_t **av, int nargs)
{
    static const char dflt[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    long long len = 21;
    if (av[0] && !json_is_null(av[0])) {
        if (!json_is_integer(av[0]))
            return expr__err(r, n, "nanoId(): 'length' must be an integer, got %s", expr__type_name(av[0]));
        len = json_integer_value(av[0]);
        if (len > 1000)
            return expr__err(r, n, "nanoId(): 'length' must be lower than: 1000");
        if (len < 0)
            return expr__err(r, n, "nanoId(): 'length' must not be negative");
    }
    const char *alpha = dflt;
    size_t alen = sizeof dflt - 1;
    if (json_is_string(av[1]) && json_string_length(av[1])) {
        alpha = json_string_value(av[1]);
        alen = json_string_length(av[1]);
    }
    char *out = xmalloc((size_t)len + 1);
    uint32_t lim = UINT32_MAX - UINT32_MAX % (uint32_t)alen; /* rejection: uniform */
    uint32_t pool[64];
    size_t used = 64;
    for (long long i = 0; i < len;) {
        if (used == 64) { /* one getrandom for up to 64 characters */
            random_bytes(pool, sizeof pool);
            used = 0;
        }
        uint32_t x = pool[used++];
        if (x < lim)
            out[i++] = alpha[x % alen];
    }
    out[len] = 0;
    json_t *v = json_stringn(out, (size_t)len);
    if (!v) /* a multi-byte alphabet cut into bytes */
        v = expr__err(r, n, "nanoId(): 'alphabet' must be ASCII characters");
    free(out);
    return v;
}

/* ---- context ------------------------------------------------------------------------ */

/* env(name, default): envs[name], or default when missing or empty. */
static json_t *fn_env(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (!json_is_string(av[0]))
        return expr__err(r, n, "env() expects an argument 'name' (a string), got %s",
                         av[0] ? expr__type_name(av[0]) : "nothing");
    const json_t *envs = r->ctx ? json_object_get(r->ctx, "envs") : NULL;
    const json_t *v = json_is_object(envs) ? json_object_get(envs, json_string_value(av[0])) : NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
        return av[1] ? json_incref(av[1]) : json_null();
    return json_incref((json_t *)v);
}

/* loopOutputs(outputs.myLoop.outputs, 'name'): the output `name` of every
 * iteration of a Loop, in order, null where an iteration lacks it. */
static json_t *fn_loop_outputs(xr *r, const xnode *n, json_t **av, int nargs)
{
    if (!av[0] || json_is_null(av[0]))
        return expr__err(r, n, "loopOutputs() expects a non-null argument 'outputs'");
    if (!json_is_array(av[0]))
        return expr__err(r, n, "loopOutputs() expects 'outputs' to be a list (outputs.myLoop.outputs), got %s",
                         expr__type_name(av[0]));
    if (!av[1] || json_is_null(av[1]))
        return expr__err(r, n, "loopOutputs() expects a non-null argument 'name'");
    if (!json_is_string(av[1]))
        return expr__err(r, n, "loopOutputs() expects 'name' to be a string, got %s", expr__type_name(av[1]));
    const char *key = json_string_value(av[1]);
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(av[0], i, it) {
        const json_t *o = json_is_object(it) ? json_object_get(it, "outputs") : NULL;
        const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
        json_array_append_new(out, v ? json_incref((json_t *)v) : json_null());
    }
    return out;
}

const func_def expr__funcs[] = {
    {"now", expr__fn_now, 0, {"timeZone", "format", NULL}, 0},
    {"range", fn_range, 2, {"start", "end", "step", NULL}, 0},
    {"max", fn_max, 1, {NULL}, 1},
    {"min", fn_min, 1, {NULL}, 1},
    {"fromJson", fn_from_json, 1, {"json", NULL}, 0},
    {"json", fn_from_json, 1, {"json", NULL}, 0},
    {"jsonDecode", fn_from_json, 1, {"json", NULL}, 0},
    {"fromIon", fn_from_ion, 1, {"ion", NULL}, 0},
    {"ionDecode", fn_from_ion, 1, {"ion", NULL}, 0},
    {"yaml", fn_yaml, 1, {"yaml", NULL}, 0},
    {"uuid", fn_uuid, 0, {NULL}, 0},
    {"randomInt", fn_random_int, 2, {"lower", "upper", NULL}, 0},
    {"render", fn_render, 1, {"expression", "recursive", NULL}, 0},
    {"renderOnce", fn_render_once, 1, {"expression", NULL}, 0},
    {"printContext", fn_print_context, 0, {NULL}, 0},
    {"fetchContext", fn_print_context, 0, {NULL}, 0},
    {"block", fn_block, 1, {"name", NULL}, 0},
    {"parent", fn_parent, 0, {NULL}, 0},
    {"id", fn_id, 0, {NULL}, 0},
    {"ksuid", fn_ksuid, 0, {NULL}, 0},
    {"nanoId", fn_nano_id, 0, {"length", "alphabet", NULL}, 0},
    {"env", fn_env, 1, {"name", "default", NULL}, 0},
    {"loopOutputs", fn_loop_outputs, 2, {"outputs", "name", NULL}, 0},
    {"dayOfWeek", expr__fn_day_of_week, 1, {"date", NULL}, 0},
    {"dayOfMonth", expr__fn_day_of_month, 1, {"date", NULL}, 0},
    {"monthOfYear", expr__fn_month_of_year, 1, {"date", NULL}, 0},
    {"hourOfDay", expr__fn_hour_of_day, 1, {"date", NULL}, 0},
    {"isWeekend", expr__fn_is_weekend, 1, {"date", NULL}, 0},
    {"isDayWeekInMonth", expr__fn_is_day_week_in_month, 3, {"date", "dayOfWeek", "position", NULL}, 0},
    {"isLastWorkingDay", expr__fn_is_last_working_day, 1, {"date", "workingDays", NULL}, 0},
    {"isDateAfter", expr__fn_is_date_after, 2, {"date", "reference", NULL}, 0},
    {"isDateBefore", expr__fn_is_date_before, 2, {"date", "reference", NULL}, 0},
    {"isDateBetween", expr__fn_is_date_between, 3, {"date", "after", "before", NULL}, 0},
    {"encrypt", fn_encrypt, 2, {"key", "plaintext", NULL}, 0},
    {"decrypt", fn_decrypt, 2, {"key", "encrypted", NULL}, 0},
    {NULL, NULL, 0, {NULL}, 0},
};

/* ---- YAML ---------------------------------------------------------------------------- */

static json_t *yaml_scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        (ev->data.scalar.tag && !strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG)))
        return json_stringn(s, len);
    if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    const char *digits = s + (s[0] == '-' || s[0] == '+');
    if (isdigit((unsigned char)digits[0])) {
        long long i = strtoll(s, &end, 10);
        if (!*end && errno != ERANGE)
            return json_integer(i);
        double d = strtod(s, &end);
        if (!*end)
            return json_real(d);
    }
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf"))
        return json_real(INFINITY);
    if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf"))
        return json_real(-INFINITY);
    return json_stringn(s, len);
}

typedef struct anchor {
    char *name;
    json_t *v;
    struct anchor *next;
} anchor;

static json_t *yaml_node(yaml_parser_t *p, yaml_event_t *ev, anchor **anchors, int depth, kerr *e);

static json_t *yaml_next(yaml_parser_t *p, anchor **anchors, int depth, kerr *e)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev)) {
        kerr_set_at(e, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1, "%s",
                    p->problem ? p->problem : "syntax error");
        kerr_locate(e, NULL);
        kerr_prefix(e, "invalid YAML");
        return NULL;
    }
    json_t *v = yaml_node(p, &ev, anchors, depth, e);
    yaml_event_delete(&ev);
    return v;
}

static void keep_anchor(anchor **anchors, const yaml_char_t *name, json_t *v)
{
    if (!name || !v)
        return;
    anchor *a = xmalloc(sizeof *a);
    a->name = xstrdup((const char *)name);
    a->v = json_incref(v);
    a->next = *anchors;
    *anchors = a;
}

/* Builds the node that starts with ev; NULL with e set on error; for a
 * sequence/mapping end event returns NULL with e->code still 0. */
static json_t *yaml_node(yaml_parser_t *p, yaml_event_t *ev, anchor **anchors, int depth, kerr *e)
{
    if (depth > EXPR__VALUE_DEPTH) {
        kerr_set(e, "YAML nested deeper than %d levels", EXPR__VALUE_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        json_t *v = yaml_scalar(ev);
        if (!v)
            kerr_set(e, "YAML text is not valid UTF-8");
        keep_anchor(anchors, ev->data.scalar.anchor, v);
        return v;
    }
    case YAML_ALIAS_EVENT:
        for (anchor *a = *anchors; a; a = a->next)
            if (!strcmp(a->name, (const char *)ev->data.alias.anchor))
                return json_incref(a->v);
        kerr_set(e, "unknown YAML alias '*%s'", ev->data.alias.anchor);
        return NULL;
    case YAML_SEQUENCE_START_EVENT: {
        json_t *arr = json_array();
        for (;;) {
            json_t *x = yaml_next(p, anchors, depth + 1, e);
            if (!x) {
                if (e->code) {
                    json_decref(arr);
                    return NULL;
                }
                break;
            }
            json_array_append_new(arr, x);
        }
        keep_anchor(anchors, ev->data.sequence_start.anchor, arr);
        return arr;
    }
    case YAML_MAPPING_START_EVENT: {
        json_t *obj = json_object();
        for (;;) {
            json_t *k = yaml_next(p, anchors, depth + 1, e);
            if (!k) {
                if (e->code) {
                    json_decref(obj);
                    return NULL;
                }
                break;
            }
            json_t *v = yaml_next(p, anchors, depth + 1, e);
            if (!v) {
                json_decref(k);
                json_decref(obj);
                if (!e->code)
                    kerr_set(e, "YAML mapping key without a value");
                return NULL;
            }
            char *ks = expr__to_str(k);
            if (!strcmp(ks, "<<") && json_is_object(v))
                json_object_update_missing(obj, v);
            else
                json_object_set(obj, ks, v);
            free(ks);
            json_decref(k);
            json_decref(v);
        }
        keep_anchor(anchors, ev->data.mapping_start.anchor, obj);
        return obj;
    }
    default:
        return NULL;
    }
}

json_t *expr__yaml_parse(const char *s, kerr *e)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)s, strlen(s));
    anchor *anchors = NULL;
    json_t *out = NULL;
    kerr_clear(e);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            kerr_set_at(e, (int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1, "%s",
                        p.problem ? p.problem : "syntax error");
            kerr_locate(e, NULL);
            kerr_prefix(e, "invalid YAML");
            break;
        }
        int type = ev.type;
        if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT ||
            type == YAML_MAPPING_START_EVENT || type == YAML_ALIAS_EVENT) {
            if (!out)
                out = yaml_node(&p, &ev, &anchors, 0, e);
            else {
                json_t *extra = yaml_node(&p, &ev, &anchors, 0, e);
                json_decref(extra);
            }
        }
        yaml_event_delete(&ev);
        if (e->code || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    while (anchors) {
        anchor *a = anchors->next;
        free(anchors->name);
        json_decref(anchors->v);
        free(anchors);
        anchors = a;
    }
    if (e->code) {
        json_decref(out);
        return NULL;
    }
    return out ? out : json_null();
}

/* Whether a string must be quoted to read back as the same string. */
static int yaml_needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    static const char *const words[] = {"true", "false", "null", "yes", "no", "on", "off", "~",
                                        "True", "False", "Null", "Yes", "No", "On", "Off",
                                        "TRUE", "FALSE", "NULL", "YES", "NO", "ON", "OFF", NULL};
    for (int i = 0; words[i]; i++)
        if (!strcmp(s, words[i]))
            return 1;
    if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) || isdigit((unsigned char)s[0]) || s[0] == '.')
        return 1;
    size_t len = strlen(s);
    if (s[len - 1] == ' ' || s[len - 1] == ':')
        return 1;
    for (const char *q = s; *q; q++) {
        if ((unsigned char)*q < 0x20)
            return 1;
        if ((q[0] == ':' && q[1] == ' ') || (q[0] == ' ' && q[1] == '#'))
            return 1;
    }
    return 0;
}

static int yaml_scalar_write(buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!yaml_needs_quotes(s))
            return buf_puts(b, s);
        return expr__write_json(b, v, 0);
    }
    if (json_is_null(v))
        return buf_puts(b, "null");
    return expr__write_value(b, v);
}

static int yw_map(buf *b, const json_t *v, int indent, int inline_first, int level);
static int yw_list(buf *b, const json_t *v, int indent, int inline_first, int level);

static int yw_leaf(buf *b, const json_t *x)
{
    if (json_is_object(x))
        return buf_puts(b, "{}\n");
    if (json_is_array(x))
        return buf_puts(b, "[]\n");
    if (yaml_scalar_write(b, x))
        return -1;
    return buf_putc(b, '\n');
}

static int yw_map(buf *b, const json_t *v, int indent, int inline_first, int level)
{
    if (level >= EXPR__VALUE_DEPTH)
        return -1;
    const char *k;
    json_t *x;
    int first = 1;
    json_object_foreach((json_t *)v, k, x) {
        if (!(first && inline_first) && buf_printf(b, "%*s", indent, ""))
            return -1;
        first = 0;
        json_t *ks = json_string(k);
        int rc = ks ? yaml_scalar_write(b, ks) : buf_puts(b, "\"\"");
        json_decref(ks);
        if (rc || buf_putc(b, ':'))
            return -1;
        if (json_is_object(x) && json_object_size(x))
            rc = buf_putc(b, '\n') || yw_map(b, x, indent + 2, 0, level + 1);
        else if (json_is_array(x) && json_array_size(x))
            rc = buf_putc(b, '\n') || yw_list(b, x, indent, 0, level + 1);
        else
            rc = buf_putc(b, ' ') || yw_leaf(b, x);
        if (rc)
            return -1;
    }
    return 0;
}

static int yw_list(buf *b, const json_t *v, int indent, int inline_first, int level)
{
    if (level >= EXPR__VALUE_DEPTH)
        return -1;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!(i == 0 && inline_first) && buf_printf(b, "%*s", indent, ""))
            return -1;
        if (buf_puts(b, "- "))
            return -1;
        int rc;
        if (json_is_object(x) && json_object_size(x))
            rc = yw_map(b, x, indent + 2, 1, level + 1);
        else if (json_is_array(x) && json_array_size(x))
            rc = yw_list(b, x, indent + 2, 1, level + 1);
        else
            rc = yw_leaf(b, x);
        if (rc)
            return -1;
    }
    return 0;
}

int expr__yaml_write(buf *b, const json_t *v, int indent)
{
    if (json_is_object(v) && json_object_size(v))
        return yw_map(b, v, indent, 0, 0);
    if (json_is_array(v) && json_array_size(v))
        return yw_list(b, v, indent, 0, 0);
    return yw_leaf(b, v);
}

/* ---- Ion ------------------------------------------------------------------------------ */

static int ion_symbol_ok(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_' || *s == '$'))
        return 0;
    for (const char *q = s; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '_' || *q == '$'))
            return 0;
    static const char *const kw[] = {"null", "true", "false", "nan", NULL};
    for (int i = 0; kw[i]; i++)
        if (!strcmp(s, kw[i]))
            return 0;
    return 1;
}

static int ion_write_rec(buf *b, const json_t *v, int level);

int expr__ion_write(buf *b, const json_t *v) { return ion_write_rec(b, v, 0); }

static int ion_write_rec(buf *b, const json_t *v, int level)
{
    char num[64];
    if ((json_is_array(v) || json_is_object(v)) && level >= EXPR__VALUE_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_NULL: return buf_puts(b, "null");
    case JSON_TRUE: return buf_puts(b, "true");
    case JSON_FALSE: return buf_puts(b, "false");
    case JSON_INTEGER: return buf_printf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL: {
        double d = json_real_value(v);
        if (isnan(d))
            return buf_puts(b, "nan");
        if (isinf(d))
            return buf_puts(b, d > 0 ? "+inf" : "-inf");
        expr__fmt_double(num, sizeof num, d);
        char *E = strchr(num, 'E');
        if (E) {
            *E = 'e';
            return buf_puts(b, num);
        }
        return buf_printf(b, "%se0", num);
    }
    case JSON_STRING: return expr__write_json(b, v, 0);
    case JSON_ARRAY: {
        if (buf_putc(b, '['))
            return -1;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if ((i && buf_putc(b, ',')) || ion_write_rec(b, x, level + 1))
                return -1;
        }
        return buf_putc(b, ']');
    }
    case JSON_OBJECT: {
        if (buf_putc(b, '{'))
            return -1;
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (!first && buf_putc(b, ','))
                return -1;
            first = 0;
            if (ion_symbol_ok(k)) {
                if (buf_puts(b, k))
                    return -1;
            } else {
                json_t *ks = json_string(k);
                int rc = expr__write_json(b, ks, 0);
                json_decref(ks);
                if (rc)
                    return -1;
            }
            if (buf_putc(b, ':') || ion_write_rec(b, x, level + 1))
                return -1;
        }
        return buf_putc(b, '}');
    }
    }
    return -1;
}

typedef struct ionp {
    const char *s, *p;
    kerr *e;
    int depth;
} ionp;

static void ion_ws(ionp *ip)
{
    for (;;) {
        while (isspace((unsigned char)*ip->p))
            ip->p++;
        if (ip->p[0] == '/' && ip->p[1] == '/') {
            while (*ip->p && *ip->p != '\n')
                ip->p++;
        } else if (ip->p[0] == '/' && ip->p[1] == '*') {
            const char *end = strstr(ip->p + 2, "*/");
            ip->p = end ? end + 2 : ip->p + strlen(ip->p);
        } else {
            return;
        }
    }
}

static json_t *ion_fail(ionp *ip, const char *what)
{
    kerr_set(ip->e, "invalid Ion at character %ld: %s", (long)(ip->p - ip->s) + 1, what);
    return NULL;
}

static json_t *ion_string(ionp *ip, char q)
{
    /* the JSON string reader handles escapes: rewrite 'x' as "x" */
    buf b;
    buf_init(&b, 0);
    buf_putc(&b, '"');
    ip->p++;
    while (*ip->p && *ip->p != q) {
        if (*ip->p == '\\' && ip->p[1]) {
            if (ip->p[1] == '\'') {
                buf_putc(&b, '\'');
            } else {
                buf_append(&b, ip->p, 2);
            }
            ip->p += 2;
            continue;
        }
        if (*ip->p == '"')
            buf_puts(&b, "\\\"");
        else
            buf_putc(&b, *ip->p);
        ip->p++;
    }
    if (*ip->p != q) {
        buf_free(&b);
        return ion_fail(ip, "unclosed string");
    }
    ip->p++;
    buf_putc(&b, '"');
    json_t *v = json_loads(buf_str(&b), JSON_DECODE_ANY, NULL);
    buf_free(&b);
    if (!v)
        return ion_fail(ip, "bad string");
    return v;
}

static json_t *ion_value(ionp *ip)
{
    if (++ip->depth > EXPR__VALUE_DEPTH)
        return ion_fail(ip, "nested deeper than 128 levels");
    ion_ws(ip);
    const char *p = ip->p;
    json_t *v = NULL;
    if (*p == '"' || *p == '\'') {
        v = ion_string(ip, *p);
    } else if (*p == '[' || *p == '(') {
        char close = *p == '[' ? ']' : ')';
        ip->p++;
        v = json_array();
        for (;;) {
            ion_ws(ip);
            if (*ip->p == close) {
                ip->p++;
                break;
            }
            json_t *x = ion_value(ip);
            if (!x) {
                json_decref(v);
                return NULL;
            }
            json_array_append_new(v, x);
            ion_ws(ip);
            if (*ip->p == ',')
                ip->p++;
            else if (*ip->p != close && close == ']') {
                json_decref(v);
                return ion_fail(ip, "expected ',' or ']'");
            }
        }
    } else if (*p == '{') {
        ip->p++;
        v = json_object();
        for (;;) {
            ion_ws(ip);
            if (*ip->p == '}') {
                ip->p++;
                break;
            }
            json_t *k = ion_value(ip);
            if (!k || !json_is_string(k)) {
                json_decref(k);
                json_decref(v);
                return k ? ion_fail(ip, "a struct field name must be a symbol or a string") : NULL;
            }
            ion_ws(ip);
            if (*ip->p != ':') {
                json_decref(k);
                json_decref(v);
                return ion_fail(ip, "expected ':'");
            }
            ip->p++;
            json_t *x = ion_value(ip);
            if (!x) {
                json_decref(k);
                json_decref(v);
                return NULL;
            }
            json_object_set_new(v, json_string_value(k), x);
            json_decref(k);
            ion_ws(ip);
            if (*ip->p == ',')
                ip->p++;
            else if (*ip->p != '}') {
                json_decref(v);
                return ion_fail(ip, "expected ',' or '}'");
            }
        }
    } else if (isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
        const char *q = p + 1;
        while (*q && (isalnum((unsigned char)*q) || strchr(".-+:_", *q)))
            q++;
        char tmp[128];
        size_t len = (size_t)(q - p) < sizeof tmp - 1 ? (size_t)(q - p) : sizeof tmp - 1;
        size_t k = 0;
        for (size_t i = 0; i < len; i++)
            if (p[i] != '_')
                tmp[k++] = p[i] == 'd' || p[i] == 'D' ? 'e' : p[i];
        tmp[k] = '\0';
        char *end;
        errno = 0;
        long long iv = strtoll(tmp, &end, 10);
        if (!*end && errno != ERANGE)
            v = json_integer(iv);
        else {
            double d = strtod(tmp, &end);
            if (!*end)
                v = json_real(d);
            else /* a timestamp such as 2024-01-15T10:00:00Z */
                v = json_stringn(p, (size_t)(q - p));
        }
        ip->p = q;
    } else if (isalpha((unsigned char)*p) || *p == '_' || *p == '$') {
        const char *q = p;
        while (isalnum((unsigned char)*q) || *q == '_' || *q == '$' || *q == '.')
            q++;
        size_t len = (size_t)(q - p);
        if ((len == 4 && !memcmp(p, "null", 4)) || (len > 5 && !memcmp(p, "null.", 5)))
            v = json_null();
        else if (len == 4 && !memcmp(p, "true", 4))
            v = json_true();
        else if (len == 5 && !memcmp(p, "false", 5))
            v = json_false();
        else
            v = json_stringn(p, len);
        ip->p = q;
        ion_ws(ip);
        if (ip->p[0] == ':' && ip->p[1] == ':') { /* annotation: skip it */
            ip->p += 2;
            json_decref(v);
            v = ion_value(ip);
            ip->depth--;
        }
    } else {
        return ion_fail(ip, *p ? "unexpected character" : "unexpected end");
    }
    ip->depth--;
    return v;
}

json_t *expr__ion_parse(const char *s, kerr *e)
{
    ionp ip = {s, s, e, 0};
    json_t *v = ion_value(&ip);
    if (!v)
        return NULL;
    ion_ws(&ip);
    if (*ip.p) {
        json_decref(v);
        return ion_fail(&ip, "text after the value");
    }
    return v;
}
