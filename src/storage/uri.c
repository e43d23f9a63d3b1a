/*
 * uri.c: storage URIs, parsed and built in one place.
 *
 * A URI is "kestra://" (or "kite://", same files), an empty authority, then
 * an absolute path of segments: "kestra:///io/kestra/tests/f/executions/...".
 * The parser is strict because URIs come from users (flow properties, API
 * calls, task outputs) and end up as file names:
 *   - the scheme is "kestra" or "kite" (any case); no host, query or fragment;
 *   - no empty segment ("//"), no "." or ".." segment (also when written
 *     with escapes, "%2E%2E"), no NUL and no '/' inside a segment (%00, %2F);
 *   - raw bytes allowed are RFC 3986 pchar (letters, digits, "-._~",
 *     "!$&'()*+,;=:@") and any byte >= 0x80; everything else (space, '"',
 *     '<', '>', '\\', '^', '`', '{', '|', '}', '[', ']', controls) must be
 *     percent-encoded; '%' must start a two-hex-digit escape;
 *   - segments starting with ".kite." are reserved for the backends;
 *   - at most STORAGE_URI_MAX bytes of text, STORAGE_SEGMENT_MAX bytes per
 *     decoded segment, STORAGE_DEPTH_MAX segments.
 * Escapes are decoded once; the canonical form re-encodes exactly the bytes
 * outside pchar, so "%41" and "A" name the same file.
 *
 * The kind of a URI is read from its shape: scanning segments left to right,
 * the first "_files" (after at least one namespace segment), "_kv" (followed
 * by exactly one key), or "executions" (after a namespace and a flow,
 * followed by "<id>/tasks/<task>/<taskrun>/<name...>", "<id>/inputs/<input>/
 * <name...>" or "<id>/trigger/<trigger>/<name...>") decides. Kestra's ids
 * never start with '_' and are never a bare marker word, so real URIs are not
 * ambiguous.
 */
#include "storage/storage_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

typedef struct seg {
    size_t off, len;   /* in the decoded path */
} seg;

int storage__is_reserved(const char *s, size_t len)
{
    size_t n = strlen(STORAGE__RESERVED_PREFIX);
    return len >= n && memcmp(s, STORAGE__RESERVED_PREFIX, n) == 0;
}

static int is_pchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void storage_uri_encode_segment(buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_pchar(c)) {
            buf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, 3);
        }
    }
}

void storage_uri_free(storage_uri *u)
{
    if (!u)
        return;
    free(u->path);
    free(u->uri);
    free(u->namespace_id);
    free(u->flow_id);
    free(u->execution_id);
    free(u->task_id);
    free(u->taskrun_id);
    free(u->input_id);
    free(u->trigger_id);
    free(u->name);
    memset(u, 0, sizeof *u);
}

/* ---- parsing ---------------------------------------------------------- */

int storage_uri_has_scheme(const char *text)
{
    return text && (strncasecmp(text, "kite://", 7) == 0 || strncasecmp(text, "kestra://", 9) == 0);
}

static int bad_at(kerr *e, size_t col, const char *what)
{
    return kerr_set_at(e, 0, (int)col, "invalid storage URI at column %zu: %s", col, what);
}

static int seg_is(const char *path, const seg *s, const char *word)
{
    return s->len == strlen(word) && memcmp(path + s->off, word, s->len) == 0;
}

static char *seg_dup(const char *path, const seg *s)
{
    return xstrndup(path + s->off, s->len);
}

/* Segments [from, to) of path joined by sep. */
static char *segs_join(const char *path, const seg *segs, int from, int to, char sep)
{
    buf b = BUF_INIT;
    for (int i = from; i < to; i++) {
        if (i > from)
            buf_putc(&b, sep);
        buf_append(&b, path + segs[i].off, segs[i].len);
    }
    return buf_steal(&b);
}

/* The rest of the path from segment `from` on, as stored (joined by '/'). */
static char *segs_rest(const char *path, const seg *segs, int from)
{
    return xstrdup(path + segs[from].off);
}

static void classify(storage_uri *u, const seg *segs, int n)
{
    const char *p = u->path;
    for (int i = 1; i < n; i++) {
        if (seg_is(p, &segs[i], "_files") && n > i + 1) {
            u->kind = STORAGE_URI_NAMESPACE_FILE;
            u->namespace_id = segs_join(p, segs, 0, i, '.');
            u->name = segs_rest(p, segs, i + 1);
            return;
        }
        if (seg_is(p, &segs[i], "_kv") && n == i + 2) {
            u->kind = STORAGE_URI_KV;
            u->namespace_id = segs_join(p, segs, 0, i, '.');
            u->name = seg_dup(p, &segs[i + 1]);
            return;
        }
        if (i < 2 || !seg_is(p, &segs[i], "executions") || n < i + 5)
            continue;
        const seg *area = &segs[i + 2];
        storage_uri_kind kind;
        int name_at;
        if (seg_is(p, area, "tasks") && n >= i + 6) {
            kind = STORAGE_URI_TASK_FILE;
            name_at = i + 5;
        } else if (seg_is(p, area, "inputs")) {
            kind = STORAGE_URI_INPUT_FILE;
            name_at = i + 4;
        } else if (seg_is(p, area, "trigger")) {
            kind = STORAGE_URI_TRIGGER_FILE;
            name_at = i + 4;
        } else {
            continue;
        }
        u->kind = kind;
        u->namespace_id = segs_join(p, segs, 0, i - 1, '.');
        u->flow_id = seg_dup(p, &segs[i - 1]);
        u->execution_id = seg_dup(p, &segs[i + 1]);
        if (kind == STORAGE_URI_TASK_FILE) {
            u->task_id = seg_dup(p, &segs[i + 3]);
            u->taskrun_id = seg_dup(p, &segs[i + 4]);
        } else if (kind == STORAGE_URI_INPUT_FILE) {
            u->input_id = seg_dup(p, &segs[i + 3]);
        } else {
            u->trigger_id = seg_dup(p, &segs[i + 3]);
        }
        u->name = segs_rest(p, segs, name_at);
        return;
    }
    u->kind = STORAGE_URI_OTHER;
    if (n > 0)
        u->name = seg_dup(p, &segs[n - 1]);
}

int storage_uri_parse(const char *text, unsigned flags, storage_uri *out, kerr *e)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return kerr_set(e, "invalid storage URI: missing (NULL)");
    size_t tlen = strnlen(text, STORAGE_URI_MAX + 1);
    if (tlen > STORAGE_URI_MAX)
        return kerr_set(e, "invalid storage URI: longer than %d bytes", STORAGE_URI_MAX);
    if (tlen == 0)
        return kerr_set(e, "invalid storage URI: empty");

    size_t i;
    if (strncasecmp(text, "kite:", 5) == 0) {
        i = 5;
    } else if (strncasecmp(text, "kestra:", 7) == 0) {
        i = 7;
    } else {
        const char *colon = strchr(text, ':');
        if (colon && colon - text < 32 && colon > text)
            return kerr_set(e, "invalid storage URI: unknown scheme '%.*s' "
                            "(expected kestra:/// or kite:///)", (int)(colon - text), text);
        return kerr_set(e, "invalid storage URI: not a kestra:/// or kite:/// URI");
    }
    if (text[i] != '/' || text[i + 1] != '/')
        return bad_at(e, i + 1, "expected '//' after the scheme (kestra:///path)");
    i += 2;
    if (text[i] != '/') {
        if (text[i] == '\0')
            return bad_at(e, i + 1, "missing path (kestra:///path)");
        return bad_at(e, i + 1, "a host is not allowed (write three slashes: kestra:///path)");
    }
    i++;   /* text[i] is the first byte of the path */

    buf path = BUF_INIT;
    seg segs[STORAGE_DEPTH_MAX];
    int n = 0, folder = 0;
    int rc = 0;
    size_t seg_col = i + 1;
    seg cur = {0, 0};
    for (;; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t col = i + 1;
        if (c == '/' || c == '\0') {
            if (cur.len == 0) {
                if (c == '\0' && (n == 0 || text[i - 1] == '/')) {
                    /* "kestra:///" (root) or "kestra:///a/b/" (folder) */
                    if (!(flags & STORAGE_URI_FOLDER)) {
                        rc = n == 0 ? bad_at(e, col, "empty path (the root is not a file)")
                                    : bad_at(e, col - 1, "trailing '/' (a file URI ends with a name)");
                        goto fail;
                    }
                    folder = 1;
                    if (n > 0)
                        path.data[--path.len] = '\0';
                    break;
                }
                rc = bad_at(e, col, "empty path segment ('//')");
                goto fail;
            }
            const char *s = path.data + cur.off;
            if ((cur.len == 1 && s[0] == '.') || (cur.len == 2 && s[0] == '.' && s[1] == '.')) {
                rc = bad_at(e, seg_col, cur.len == 1 ? "'.' segment is not allowed"
                                                     : "'..' segment is not allowed");
                goto fail;
            }
            if (storage__is_reserved(s, cur.len)) {
                rc = bad_at(e, seg_col, "segments starting with '" STORAGE__RESERVED_PREFIX
                                        "' are reserved");
                goto fail;
            }
            if (n == STORAGE_DEPTH_MAX) {
                rc = kerr_set_at(e, 0, (int)seg_col, "invalid storage URI at column %zu: "
                                 "more than %d path segments", seg_col, STORAGE_DEPTH_MAX);
                goto fail;
            }
            segs[n++] = cur;
            if (c == '\0')
                break;
            buf_putc(&path, '/');
            cur.off = path.len;
            cur.len = 0;
            seg_col = col + 1;
            continue;
        }
        unsigned char d = c;
        if (c == '%') {
            int h = hexval((unsigned char)text[i + 1]);
            int l = h < 0 ? -1 : hexval((unsigned char)text[i + 2]);
            if (h < 0 || l < 0) {
                rc = bad_at(e, col, "'%' must start an escape of two hex digits (%20)");
                goto fail;
            }
            d = (unsigned char)(h * 16 + l);
            if (d == 0) {
                rc = bad_at(e, col, "%00 (NUL) is not allowed");
                goto fail;
            }
            if (d == '/') {
                rc = bad_at(e, col, "%2F ('/') is not allowed inside a segment");
                goto fail;
            }
            i += 2;
        } else if (c == ' ') {
            rc = bad_at(e, col, "a space must be written %20");
            goto fail;
        } else if (c == '?') {
            rc = bad_at(e, col, "a query ('?') is not allowed");
            goto fail;
        } else if (c == '#') {
            rc = bad_at(e, col, "a fragment ('#') is not allowed");
            goto fail;
        } else if (c < 0x20 || c == 0x7f) {
            char msg[64];
            snprintf(msg, sizeof msg, "control character 0x%02x is not allowed", c);
            rc = bad_at(e, col, msg);
            goto fail;
        } else if (c < 0x80 && !is_pchar(c)) {
            char msg[64];
            snprintf(msg, sizeof msg, "'%c' must be percent-encoded (%%%02X)", c, c);
            rc = bad_at(e, col, msg);
            goto fail;
        }
        if (cur.len == STORAGE_SEGMENT_MAX) {
            rc = kerr_set_at(e, 0, (int)seg_col, "invalid storage URI at column %zu: "
                             "path segment longer than %d bytes", seg_col,
                             STORAGE_SEGMENT_MAX);
            goto fail;
        }
        buf_putc(&path, (char)d);
        cur.len++;
    }

    out->path = buf_steal(&path);
    out->depth = n;
    out->is_folder = folder;
    buf cu = BUF_INIT;
    buf_puts(&cu, STORAGE_SCHEME "/");
    for (int k = 0; k < n; k++) {
        if (k)
            buf_putc(&cu, '/');
        storage_uri_encode_segment(&cu, out->path + segs[k].off, segs[k].len);
    }
    if (folder && n > 0)
        buf_putc(&cu, '/');
    out->uri = buf_steal(&cu);
    classify(out, segs, n);
    return 0;

fail:
    buf_free(&path);
    return rc;
}

/* ---- building --------------------------------------------------------- */

/* Checks one decoded segment s[0..len) standing for `what`. */
static int check_segment(const char *what, const char *whole, const char *s, size_t len,
                         kerr *e)
{
    if (len == 0)
        return kerr_set(e, "%s '%s': empty segment", what, whole);
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return kerr_set(e, "%s '%s': '%.*s' is not allowed", what, whole, (int)len, s);
    if (len > STORAGE_SEGMENT_MAX)
        return kerr_set(e, "%s: segment longer than %d bytes", what, STORAGE_SEGMENT_MAX);
    if (storage__is_reserved(s, len))
        return kerr_set(e, "%s '%s': names starting with '" STORAGE__RESERVED_PREFIX
                        "' are reserved", what, whole);
    return 0;
}

/* Appends "/<part>" for each part of s split on sep, validating each. A NULL
 * or empty s is refused. */
static int add_parts(buf *b, const char *what, const char *s, char sep, kerr *e)
{
    if (!s || !*s)
        return kerr_set(e, "%s is empty", what);
    if (sep != '/' && strchr(s, '/'))
        return kerr_set(e, "%s '%s': '/' is not allowed", what, s);
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (check_segment(what, s, p, len, e))
            return -1;
        buf_putc(b, '/');
        storage_uri_encode_segment(b, p, len);
        if (!end)
            return 0;
        p = end + 1;
    }
}

static int add_id(buf *b, const char *what, const char *s, kerr *e)
{
    if (!s || !*s)
        return kerr_set(e, "%s is empty", what);
    if (strchr(s, '/'))
        return kerr_set(e, "%s '%s': '/' is not allowed", what, s);
    return add_parts(b, what, s, '/', e);
}

static void add_word(buf *b, const char *w)
{
    buf_putc(b, '/');
    buf_puts(b, w);
}

/* Frees b and returns NULL on rc != 0; checks the limits and returns the
 * URI otherwise. */
static char *finish(buf *b, int rc, int folder, kerr *e)
{
    if (rc) {
        buf_free(b);
        return NULL;
    }
    if (folder)
        buf_putc(b, '/');
    if (b->len > STORAGE_URI_MAX) {
        buf_free(b);
        kerr_set(e, "storage URI would be longer than %d bytes", STORAGE_URI_MAX);
        return NULL;
    }
    size_t depth = 0;
    for (size_t i = sizeof STORAGE_SCHEME; i < b->len; i++)
        depth += b->data[i] == '/';
    if (depth + !folder > STORAGE_DEPTH_MAX) {
        buf_free(b);
        kerr_set(e, "storage URI would have more than %d path segments", STORAGE_DEPTH_MAX);
        return NULL;
    }
    /* b holds "kestra://" + "/seg/seg"; that is the "kestra:///seg/seg" form. */
    return buf_steal(b);
}

static int add_execution(buf *b, const char *ns, const char *flow, const char *exec, kerr *e)
{
    buf_puts(b, STORAGE_SCHEME);
    if (add_parts(b, "namespace", ns, '.', e) || add_id(b, "flow id", flow, e))
        return -1;
    add_word(b, "executions");
    return add_id(b, "execution id", exec, e);
}

char *storage_uri_task_file(const char *ns, const char *flow, const char *exec,
                            const char *task_id, const char *taskrun_id, const char *name,
                            kerr *e)
{
    buf b = BUF_INIT;
    int rc = add_execution(&b, ns, flow, exec, e);
    if (!rc) {
        add_word(&b, "tasks");
        rc = add_id(&b, "task id", task_id, e) || add_id(&b, "taskrun id", taskrun_id, e) ||
             add_parts(&b, "file name", name, '/', e);
    }
    return finish(&b, rc, 0, e);
}

char *storage_uri_input_file(const char *ns, const char *flow, const char *exec,
                             const char *input_id, const char *name, kerr *e)
{
    buf b = BUF_INIT;
    int rc = add_execution(&b, ns, flow, exec, e);
    if (!rc) {
        add_word(&b, "inputs");
        rc = add_id(&b, "input id", input_id, e) || add_parts(&b, "file name", name, '/', e);
    }
    return finish(&b, rc, 0, e);
}

char *storage_uri_trigger_file(const char *ns, const char *flow, const char *exec,
                               const char *trigger_id, const char *name, kerr *e)
{
    buf b = BUF_INIT;
    int rc = add_execution(&b, ns, flow, exec, e);
    if (!rc) {
        add_word(&b, "trigger");
        rc = add_id(&b, "trigger id", trigger_id, e) ||
             add_parts(&b, "file name", name, '/', e);
    }
    return finish(&b, rc, 0, e);
}

char *storage_uri_execution(const char *ns, const char *flow, const char *exec, kerr *e)
{
    buf b = BUF_INIT;
    int rc = add_execution(&b, ns, flow, exec, e);
    return finish(&b, rc, 1, e);
}

char *storage_uri_namespace_file(const char *ns, const char *path, kerr *e)
{
    buf b = BUF_INIT;
    buf_puts(&b, STORAGE_SCHEME);
    int rc = add_parts(&b, "namespace", ns, '.', e);
    if (!rc) {
        add_word(&b, "_files");
        /* Namespace file paths are often written "/dir/file.txt". */
        while (path && *path == '/')
            path++;
        rc = add_parts(&b, "namespace file path", path, '/', e);
    }
    return finish(&b, rc, 0, e);
}

char *storage_uri_kv(const char *ns, const char *key, kerr *e)
{
    buf b = BUF_INIT;
    buf_puts(&b, STORAGE_SCHEME);
    int rc = add_parts(&b, "namespace", ns, '.', e);
    if (!rc) {
        add_word(&b, "_kv");
        rc = add_id(&b, "kv key", key, e);
    }
    return finish(&b, rc, 0, e);
}
