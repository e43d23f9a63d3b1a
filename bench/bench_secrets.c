/*
 * bench_secrets.c: secret() lookups per second, from kite's store and from
 * SECRET_<NAME>, next to the bare calls under them.
 *
 *   - engine_secret_lookup of a secret of the execution's own namespace
 *     (one SQLite read, one secretbox open, the masker registration);
 *   - the same inherited from the parent (company.team -> company: a miss
 *     then a hit);
 *   - a name only in the environment (every backend asked first, then
 *     getenv and base64);
 *   - bare: store_secret_get (read + open) and getenv + base64_decode.
 * BENCH_SECONDS (default 1) per figure, in a fresh folder under TMPDIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "storage/storage.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/mem.h"

static double seconds = 1.0;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_secrets: %s: %s\n", what, msg);
    exit(1);
}

typedef int (*op_fn)(void *ud);

static void run(const char *label, op_fn fn, void *ud)
{
    long n = 0;
    double t0 = mono(), t;
    do {
        for (int i = 0; i < 100; i++)
            if (fn(ud))
                die(label, "failed");
        n += 100;
    } while ((t = mono() - t0) < seconds);
    printf("  %-52s %10.0f /s  %8.2f us\n", label, n / t, t * 1e6 / n);
}

static engine *en;
static store *st;

static int lookup(const char *ns, const char *name)
{
    char *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (engine_secret_lookup(en, ns, name, &v, &n, &e))
        die(name, e.msg);
    free(v);
    return 0;
}

static int op_own(void *ud) { return lookup("company.team", "OWN"); }
static int op_inherited(void *ud) { return lookup("company.team", "PARENT"); }
static int op_env(void *ud) { return lookup("company.team", "BENCH_ENV"); }

static int op_bare_store(void *ud)
{
    char *v = NULL;
    size_t n = 0;
    kerr e = KERR_INIT;
    if (store_secret_get(st, "company.team", "OWN", &v, &n, &e))
        die("store_secret_get", e.msg);
    free(v);
    return 0;
}

static int op_bare_env(void *ud)
{
    const char *b = getenv("SECRET_BENCH_ENV");
    size_t n, bad;
    char *v = base64_decode(b, strlen(b), &n, &bad);
    free(v);
    return v == NULL;
}

int main(void)
{
    const char *s = getenv("BENCH_SECONDS");
    if (s && atof(s) > 0)
        seconds = atof(s);
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench_secrets.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp", dir);
    setenv("SECRET_BENCH_ENV", "ZW52LXZhbHVlLTEyMw==", 1);
    kerr e = KERR_INIT;
    char *url = xasprintf("sqlite:%s/kite.db", dir);
    if (store_open(url, NULL, &st, &e))
        die("store_open", e.msg);
    free(url);
    unsigned char key[STORE_SECRET_KEY_LEN];
    char *src = NULL;
    int created;
    if (store_secret_key_load(dir, key, &src, &created, &e) || store_secrets_unlock(st, key, &e))
        die("key", e.msg);
    free(src);
    if (store_secret_put(st, "company.team", "OWN", "own-value-123", 13, &e) ||
        store_secret_put(st, "company", "PARENT", "parent-value-456", 16, &e))
        die("put", e.msg);
    url = xasprintf("local:%s/storage", dir);
    storage *fs = storage_open(url, &e);
    free(url);
    if (!fs)
        die("storage", e.msg);
    engine_opts o = {.store = st, .storage = fs, .workers = 2};
    en = engine_new(&o, &e);
    if (!en)
        die("engine_new", e.msg);
    printf("bench_secrets: secret() lookups (%.1f s each)\n", seconds);
    run("secret(): kite store, own namespace", op_own, NULL);
    run("secret(): kite store, inherited from the parent", op_inherited, NULL);
    run("secret(): SECRET_<NAME> (after the store missed)", op_env, NULL);
    run("bare store_secret_get (SQLite read + secretbox open)", op_bare_store, NULL);
    run("bare getenv + base64_decode", op_bare_env, NULL);
    engine_free(en);
    storage_free(fs);
    store_free(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
