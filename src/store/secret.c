/*
 * secret.c: kite's own secrets store, sealed at rest with libsodium.
 *
 * A value is stored as nonce || crypto_secretbox_easy(value) under the
 * store's one key (a fresh random nonce per write, so equal values never
 * look equal). The key comes from $KITE_SECRET_KEY or a 0600 file in the
 * data folder (store_secret_key_load); store_secrets_unlock checks it
 * against a key check value (a known text sealed with the key, kept in the
 * reserved kv namespace _kite.secrets) so that a host given the wrong key
 * refuses to start instead of failing on each value later, and never
 * writes values under a second key next to the first one's.
 *
 * The backends only see opaque bytes (store_ops.secret_*); the key lives
 * in sodium_malloc'd memory, wiped when the store is freed.
 */
#include "store/store_int.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYCHECK_NS STORE_RESERVED_NS ".secrets"
#define KEYCHECK_KEY "keycheck"
#define KEYCHECK_TEXT "kite secrets store key check v1"

_Static_assert(STORE_SECRET_KEY_LEN == crypto_secretbox_KEYBYTES, "secretbox key size");

static int sodium_ready(kerr *e)
{
    if (sodium_init() < 0)
        return store__fail(e, STORE_ERROR, "secrets: libsodium failed to initialise");
    return 0;
}

void store_secret_infos_free(store_secret_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].namespace);
        free(v[i].name);
    }
    free(v);
}

void store__secrets_close(store *s)
{
    if (s->secret_key)
        sodium_free(s->secret_key);
    s->secret_key = NULL;
}

/* ---- the key ---------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 hex digits or the base64 of 32 bytes (surrounding blanks ignored). */
static int parse_key(const char *text, size_t len, unsigned char key[STORE_SECRET_KEY_LEN])
{
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    while (len && isspace((unsigned char)*text))
        text++, len--;
    if (len == 2 * STORE_SECRET_KEY_LEN) {
        int ok = 1;
        for (size_t i = 0; i < STORE_SECRET_KEY_LEN && ok; i++) {
            int h = hexval(text[2 * i]), l = hexval(text[2 * i + 1]);
            ok = h >= 0 && l >= 0;
            key[i] = (unsigned char)(h << 4 | l);
        }
        if (ok)
            return 0;
    }
    size_t n = 0, bad = 0;
    char *raw = base64_decode(text, len, &n, &bad);
    int rc = -1;
    if (raw && n == STORE_SECRET_KEY_LEN) {
        memcpy(key, raw, n);
        rc = 0;
    }
    if (raw) {
        sodium_memzero(raw, n);
        free(raw);
    }
    return rc;
}

int store_secret_key_load(const char *dir, unsigned char key[STORE_SECRET_KEY_LEN], char **source,
                          int *created, kerr *e)
{
    if (sodium_ready(e))
        return STORE_ERROR;
    *created = 0;
    *source = NULL;
    const char *env = getenv("KITE_SECRET_KEY");
    if (env && *env) {
        if (parse_key(env, strlen(env), key))
            return store__fail(e, STORE_ERROR, "KITE_SECRET_KEY must hold 32 bytes as 64 hex digits or "
                                               "in base64 (e.g. `head -c32 /dev/urandom | base64`)");
        *source = xstrdup("KITE_SECRET_KEY");
        return 0;
    }
    char *path = xasprintf("%s/secret.key", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (st.st_mode & 077) {
            int rc = store__fail(e, STORE_ERROR, "%s: the secrets key file is readable by others (mode %04o): "
                                 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
            free(path);
            return rc;
        }
        buf b = BUF_INIT;
        kerr e2 = KERR_INIT;
        int rc = fs_read_file(path, 4096, &b, &e2);
        if (!rc && parse_key(b.data, b.len, key))
            rc = -1;
        if (b.data)
            sodium_memzero(b.data, b.len);
        buf_free(&b);
        if (rc) {
            rc = store__fail(e, STORE_ERROR, "%s: not a secrets key (64 hex digits expected)%s%s", path,
                             e2.msg[0] ? ": " : "", e2.msg);
            free(path);
            return rc;
        }
        *source = path;
        return 0;
    }
    if (errno != ENOENT) {
        int rc = store__fail(e, STORE_ERROR, "%s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    if (fs_mkdir_p(dir, e)) {
        free(path);
        return STORE_ERROR;
    }
    randombytes_buf(key, STORE_SECRET_KEY_LEN);
    char hex[2 * STORE_SECRET_KEY_LEN + 2];
    sodium_bin2hex(hex, sizeof hex - 1, key, STORE_SECRET_KEY_LEN);
    size_t hl = strlen(hex);
    hex[hl++] = '\n';
    /* O_EXCL: two processes starting at once on a new folder must not each
     * write a key of their own; the loser reads the winner's */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        sodium_memzero(hex, sizeof hex);
        free(path);
        usleep(50000);
        return store_secret_key_load(dir, key, source, created, e);
    }
    int ok = fd >= 0 && write(fd, hex, hl) == (ssize_t)hl && fsync(fd) == 0;
    int err = errno;
    if (fd >= 0)
        close(fd);
    sodium_memzero(hex, sizeof hex);
    if (!ok) {
        int rc = store__fail(e, STORE_ERROR, "%s: cannot write the secrets key: %s", path, strerror(err));
        unlink(path);
        free(path);
        return rc;
    }
    *created = 1;
    *source = path;
    return 0;
}

/* ---- sealing ---------------------------------------------------------------------------- */

static unsigned char *seal(const unsigned char *key, const void *value, size_t n, size_t *out_n)
{
    *out_n = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    unsigned char *out = xmalloc(*out_n);
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, value, n, out, key);
    return out;
}

/* NULL when the bytes were not sealed with key (or were altered). */
static char *unseal(const unsigned char *key, const unsigned char *sealed, size_t n, size_t *out_n)
{
    if (n < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return NULL;
    size_t m = n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *out = xmalloc(m + 1);
    if (crypto_secretbox_open_easy((unsigned char *)out, sealed + crypto_secretbox_NONCEBYTES,
                                   n - crypto_secretbox_NONCEBYTES, sealed, key) != 0) {
        free(out);
        return NULL;
    }
    out[m] = '\0';
    *out_n = m;
    return out;
}

int store_secrets_unlock(store *s, const unsigned char key[STORE_SECRET_KEY_LEN], kerr *e)
{
    if (sodium_ready(e))
        return STORE_ERROR;
    json_t *v = NULL;
    kerr e2 = KERR_INIT;
    int rc = store_kv_sys_get(s, KEYCHECK_NS, KEYCHECK_KEY, &v, &e2);
    if (rc == STORE_NOT_FOUND) {
        size_t n;
        unsigned char *sealed = seal(key, KEYCHECK_TEXT, strlen(KEYCHECK_TEXT), &n);
        char *b64 = base64_encode(sealed, n);
        free(sealed);
        json_t *j = json_string(b64);
        free(b64);
        rc = store_kv_sys_put(s, KEYCHECK_NS, KEYCHECK_KEY, j, 0, e);
        json_decref(j);
        if (rc)
            return rc;
    } else if (rc) {
        return store__fail(e, rc, "%s", e2.msg);
    } else {
        const char *b64 = json_string_value(v);
        size_t n = 0, bad = 0, m = 0;
        char *sealed = b64 ? base64_decode(b64, strlen(b64), &n, &bad) : NULL;
        char *text = sealed ? unseal(key, (unsigned char *)sealed, n, &m) : NULL;
        int good = text && m == strlen(KEYCHECK_TEXT) && !memcmp(text, KEYCHECK_TEXT, m);
        free(text);
        free(sealed);
        json_decref(v);
        if (!good)
            return store__fail(e, STORE_CONFLICT,
                               "the secrets store was encrypted with another key: give this host the key it "
                               "was made with (KITE_SECRET_KEY, or the data folder's secret.key)");
    }
    if (!s->secret_key) {
        s->secret_key = sodium_malloc(STORE_SECRET_KEY_LEN);
        if (!s->secret_key)
            abort();
    }
    memcpy(s->secret_key, key, STORE_SECRET_KEY_LEN);
    return 0;
}

int store_secrets_unlocked(const store *s)
{
    return s->secret_key != NULL;
}

/* ---- the calls ---------------------------------------------------------------------------- */

int store_secret_check_name(const char *name, kerr *e)
{
    if (!name || !*name)
        return store__fail(e, STORE_ERROR, "a secret needs a name");
    int bad = !(isalpha((unsigned char)name[0]) || name[0] == '_');
    size_t i = 1;
    for (; name[i] && !bad; i++)
        bad = !(isalnum((unsigned char)name[i]) || name[i] == '_');
    if (bad || strlen(name) >= STORE_ID_MAX)
        return store__fail(e, STORE_ERROR,
                           "'%s' is not a valid secret name: a letter or '_', then letters, digits and '_', "
                           "fewer than %d bytes", name, STORE_ID_MAX);
    return 0;
}

static int check_ns(const char *ns, kerr *e)
{
    if (!ns || !*ns || strlen(ns) >= STORE_ID_MAX)
        return store__fail(e, STORE_ERROR, "a secret needs a namespace (fewer than %d bytes)", STORE_ID_MAX);
    if (store_kv_reserved(ns))
        return store__fail(e, STORE_ERROR, "namespace '%s' is reserved for kite itself", ns);
    return 0;
}

static int need_key(const store *s, kerr *e)
{
    if (!s->secret_key)
        return store__fail(e, STORE_ERROR, "the secrets store is locked (no key was given to this process)");
    return 0;
}

int store_secret_put(store *s, const char *ns, const char *name, const void *value, size_t n, kerr *e)
{
    int rc;
    if ((rc = check_ns(ns, e)) || (rc = store_secret_check_name(name, e)) || (rc = need_key(s, e)))
        return rc;
    if (n > STORE_SECRET_MAX)
        return store__fail(e, STORE_ERROR, "secret '%s' is larger than %d bytes", name, STORE_SECRET_MAX);
    size_t sn;
    unsigned char *sealed = seal(s->secret_key, value, n, &sn);
    rc = s->ops->secret_put(s->b, ns, name, sealed, sn, store_now_us(), e);
    free(sealed);
    return rc;
}

int store_secret_get(store *s, const char *ns, const char *name, char **value, size_t *n, kerr *e)
{
    int rc;
    *value = NULL;
    if ((rc = check_ns(ns, e)) || (rc = store_secret_check_name(name, e)) || (rc = need_key(s, e)))
        return rc;
    void *sealed = NULL;
    size_t sn = 0;
    if ((rc = s->ops->secret_get(s->b, ns, name, &sealed, &sn, e)))
        return rc;
    *value = unseal(s->secret_key, sealed, sn, n);
    free(sealed);
    if (!*value)
        return store__fail(e, STORE_ERROR, "secret '%s' of namespace %s does not open with this key "
                           "(altered, or written under another key)", name, ns);
    return 0;
}

int store_secret_lookup(store *s, const char *ns, const char *name, char **value, size_t *n, char **found_ns,
                        kerr *e)
{
    int rc;
    *value = NULL;
    if (found_ns)
        *found_ns = NULL;
    if ((rc = check_ns(ns, e)) || (rc = store_secret_check_name(name, e)) || (rc = need_key(s, e)))
        return rc;
    char *cur = xstrdup(ns);
    for (;;) {
        kerr e2 = KERR_INIT;
        rc = store_secret_get(s, cur, name, value, n, &e2);
        if (rc != STORE_NOT_FOUND) {
            if (rc)
                store__fail(e, rc, "%s", e2.msg);
            else if (found_ns)
                *found_ns = xstrdup(cur);
            break;
        }
        char *dot = strrchr(cur, '.');
        if (!dot) {
            rc = store__fail(e, STORE_NOT_FOUND, "secret '%s' is not in namespace %s or its parents", name, ns);
            break;
        }
        *dot = '\0';
    }
    free(cur);
    return rc;
}

int store_secret_delete(store *s, const char *ns, const char *name, kerr *e)
{
    int rc;
    if ((rc = check_ns(ns, e)) || (rc = store_secret_check_name(name, e)))
        return rc;
    return s->ops->secret_delete(s->b, ns, name, e);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const store_secret_info *)a)->name, ((const store_secret_info *)b)->name);
}

int store_secret_list(store *s, const char *ns, store_secret_info **out, size_t *n, kerr *e)
{
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = check_ns(ns, e)))
        return rc;
    char *cur = xstrdup(ns);
    for (;;) {
        store_secret_info *v = NULL;
        size_t m = 0;
        if ((rc = s->ops->secret_list(s->b, cur, &v, &m, e)))
            break;
        for (size_t i = 0; i < m; i++) {
            int shadowed = 0;
            for (size_t j = 0; j < *n && !shadowed; j++)
                shadowed = !strcmp((*out)[j].name, v[i].name);
            if (shadowed) {
                free(v[i].name);
                free(v[i].namespace);
                continue;
            }
            *out = xrealloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = v[i];
        }
        free(v);
        char *dot = strrchr(cur, '.');
        if (!dot)
            break;
        *dot = '\0';
    }
    free(cur);
    if (rc) {
        store_secret_infos_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, by_name);
    return 0;
}
