/*
 * boot.c: the one place that assembles a kite process from its
 * configuration: the store and the storage by URL, the engine, and, by
 * what the command asks for, the scheduler and the HTTP server.
 *
 * DESIGN
 * `kite run` wants an engine on the data folder; `kite server` wants the
 * engine, the scheduler and the server on it. Both come here, so a new
 * backend URL, a new role or a new part (a UI, a second executor) is added
 * once. The order matters and is kept here: the store and the storage open
 * first, the engine starts (recovering what a previous process left) before
 * the scheduler and the server exist, and those start last (cli_boot_serve)
 * once the command has done its own set-up (tokens, flows folder). Closing
 * goes the other way round.
 */
#include "cli/cli.h"
#include "tasks/tasks.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/netguard.h"
#include "util/proc.h"
#include "util/sandbox.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *cli_store_url(const cli_config *cfg)
{
    return xasprintf("sqlite:%s/kite.db", cfg->data);
}

char *cli_storage_url(const cli_config *cfg)
{
    return xasprintf("local:%s/storage", cfg->data);
}

storage *cli_storage_open(const cli_config *cfg, store *st, kerr *e)
{
    const json_t *m = cfg->storage;
    const char *url = m ? json_string_value(json_object_get(m, "url")) : NULL;
    if (!url || strncmp(url, "s3://", 5)) {
        char *def = url ? NULL : cli_storage_url(cfg);
        storage *s = storage_open(url ? url : def, e);
        free(def);
        return s;
    }
#define S(k) json_string_value(json_object_get(m, k))
    storage_s3_conf c = {.endpoint = S("endpoint"), .region = S("region"), .access_key = S("accessKeyId"),
                         .secret_key = S("secretKeyId"), .session_token = S("sessionToken"),
                         .path_style = json_is_true(json_object_get(m, "forcePathStyle")),
                         .part_size = (size_t)json_integer_value(json_object_get(m, "partSize")),
                         .tmp_dir = cfg->tmp_dir};
    buf key = BUF_INIT;
    const char *file = S("secretKeyIdFile"), *sec = S("secretKeyIdSecret");
#undef S
    if (sec) {
        /* NAMESPACE/NAME in kite's secrets store (checked by the config) */
        const char *slash = strrchr(sec, '/');
        char *ns = xstrndup(sec, (size_t)(slash - sec)), *v = NULL;
        size_t n = 0;
        int rc = !store_secrets_unlocked(st) && cli_secrets_unlock(st, cfg, e) ? -1
                 : store_secret_get(st, ns, slash + 1, &v, &n, e);
        free(ns);
        if (rc) {
            kerr_prefix(e, "storage.secretKeyIdSecret %s", sec);
            return NULL;
        }
        buf_append(&key, v, n);
        explicit_bzero(v, n);
        free(v);
        c.secret_key = buf_str(&key);
    }
    if (file) {
        if (fs_read_file(file, 4096, &key, e)) {
            kerr_prefix(e, "storage.secretKeyIdFile %s", file);
            return NULL;
        }
        while (key.len && (key.data[key.len - 1] == '\n' || key.data[key.len - 1] == '\r'))
            key.data[--key.len] = '\0';
        c.secret_key = buf_str(&key);
    }
    if (!c.endpoint || !*c.endpoint)
        c.endpoint = getenv("AWS_ENDPOINT_URL");
    if (!c.region || !*c.region)
        c.region = getenv("AWS_REGION");
    if (!c.region || !*c.region)
        c.region = getenv("AWS_DEFAULT_REGION");
    storage *s = storage_open_s3_url(url, &c, e);
    if (key.data)
        explicit_bzero(key.data, key.len);
    buf_free(&key);
    return s;
}

/* 1 when the folder at path exists and holds at least one entry. */
static int dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d)))
        found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return found;
}

/* Refuses to start on an empty store beside the files of a used one: a
 * kite.db deleted, or truncated to zero bytes (a full disk, a bad copy),
 * would otherwise be recreated empty and every flow, execution and kv row
 * silently gone while the storage folder still holds their files. A WAL
 * beside a zero-byte database is not this case: SQLite recovers from it. */
static int check_store_file(const cli_config *cfg, kerr *e)
{
    char *db = xasprintf("%s/kite.db", cfg->data);
    char *wal = xasprintf("%s/kite.db-wal", cfg->data);
    char *files = xasprintf("%s/storage", cfg->data);
    struct stat st, sw;
    int rc = 0;
    int missing = stat(db, &st) != 0;
    int empty = !missing && S_ISREG(st.st_mode) && st.st_size == 0 &&
                !(stat(wal, &sw) == 0 && sw.st_size > 0);
    if ((missing || empty) && dir_has_entries(files))
        rc = kerr_set(e,
                      "%s is %s but the storage folder %s is not empty: refusing to start "
                      "on an empty store over existing files (restore %s from a backup, or "
                      "move %s away to start afresh)",
                      db, missing ? "missing" : "empty (0 bytes)", files, db, files);
    free(db);
    free(wal);
    free(files);
    return rc;
}

int cli_secrets_unlock(store *st, const cli_config *cfg, kerr *e)
{
    unsigned char key[STORE_SECRET_KEY_LEN];
    char *source = NULL;
    int created = 0;
    if (store_secret_key_load(cfg->data, key, &source, &created, e))
        return -1;
    kerr e2 = KERR_INIT;
    int rc = store_secrets_unlock(st, key, &e2);
    explicit_bzero(key, sizeof key);
    if (rc)
        kerr_setc(e, e2.code, "%s/kite.db: %s (this process's key is from %s)", cfg->data, e2.msg, source);
    free(source);
    return rc ? -1 : 0;
}

/* server.tls: reads the certificate and the key (at most 1 MiB each) and
 * checks them as the server will use them; errors name the key of kite.yml
 * and the file. A key that its group or others may read is served, with a
 * warning. *cert and *key are NULL without server.tls. */
static int load_tls(const cli_config *cfg, buf *cert, buf *key, kerr *e)
{
    if (!cfg->tls_cert && !cfg->tls_key)
        return 0;
    if (!cfg->tls_cert || !cfg->tls_key)
        return kerr_setc(e, KERR_INVALID, "server.tls needs both 'cert' and 'key'");
    if (fs_read_file(cfg->tls_cert, 1u << 20, cert, e)) {
        kerr_prefix(e, "server.tls.cert %s", cfg->tls_cert);
        return -1;
    }
    if (fs_read_file(cfg->tls_key, 1u << 20, key, e)) {
        kerr_prefix(e, "server.tls.key %s", cfg->tls_key);
        return -1;
    }
    struct stat st;
    if (!stat(cfg->tls_key, &st) && (st.st_mode & 077))
        fprintf(stderr,
                "kite server: warning: server.tls.key %s is readable by its group or others (mode %04o): "
                "chmod 600 it\n",
                cfg->tls_key, (unsigned)(st.st_mode & 07777));
    char *cn = xasprintf("server.tls.cert %s", cfg->tls_cert), *kn = xasprintf("server.tls.key %s", cfg->tls_key);
    int rc = server_tls_check(buf_str(cert), cn, buf_str(key), kn, cfg->tls_priorities, e);
    free(cn);
    free(kn);
    return rc;
}

int cli_boot(cli_proc *p, const cli_config *cfg, const cli_boot_opts *o, kerr *e)
{
    memset(p, 0, sizeof *p);
    if (fs_mkdir_p(cfg->data, e))
        return -1;
    /* security.ssrf: every task of this process asks it before connecting */
    if (netguard_configure(cfg->ssrf, e))
        return -1;
    /* the sandbox hides kite's own data folder from every task */
    const char *hidden[] = {cfg->data, NULL};
    if (sandbox_configure(cfg->sandbox, hidden, e) || tasks_set_default_runner(cfg->default_runner, e))
        return -1;
    if (check_store_file(cfg, e))
        return -1;
    char *url = cli_store_url(cfg);
    int rc = store_open(url, NULL, &p->st, e);
    free(url);
    if (rc || cli_secrets_unlock(p->st, cfg, e))
        return -1;
    p->fs = cli_storage_open(cfg, p->st, e);
    if (!p->fs)
        return -1;
    engine_opts eo = {.store = p->st, .storage = p->fs, .workers = cfg->workers, .globals = cfg->globals,
                      .env_prefix = cfg->env_prefix, .tmp_dir = cfg->tmp_dir, .min_log_level = cfg->min_level,
                      .max_task_runs = cfg->max_task_runs, .roles = o->roles, .on_log = o->on_log, .on_log_ud = o->on_log_ud,
                      .secret_backends = cfg->secret_backends};
    const char *ek = getenv("KITE_ENCRYPTION_KEY");
    eo.encryption_key = cfg->encryption_key ? cfg->encryption_key : (ek && *ek ? ek : NULL);
    p->en = engine_new(&eo, e);
    if (!p->en)
        return -1;
    /* task processes that leave their group are re-parented to us (proc.h) */
    kerr e2 = KERR_INIT;
    proc_init_subreaper(&e2);
    if (engine_start(p->en, e))
        return -1;
    if (o->parts & CLI_BOOT_SCHED) {
        sched_opts so = {0};
        p->sc = sched_new(p->en, p->st, &so, e);
        if (!p->sc)
            return -1;
    }
    if (o->parts & CLI_BOOT_SERVER) {
        buf cert = BUF_INIT, key = BUF_INIT;
        if (load_tls(cfg, &cert, &key, e)) {
            buf_free(&cert);
            if (key.data)
                explicit_bzero(key.data, key.len);
            buf_free(&key);
            return -1;
        }
        server_opts ho = {.engine = p->en, .store = p->st, .storage = p->fs, .host = cfg->host, .port = cfg->port,
                          .tmp_dir = cfg->tmp_dir, .quiet = o->quiet, .sched = p->sc, .timeout_s = o->timeout_s,
                          .tls_cert_pem = cert.len ? buf_str(&cert) : NULL,
                          .tls_key_pem = key.len ? buf_str(&key) : NULL, .tls_priorities = cfg->tls_priorities,
                          .trusted_proxies = cfg->trusted_proxies};
        ho.session_ttl_s = (unsigned)(cfg->session_ttl_us / 1000000);
        p->http = server_new(&ho, e);
        buf_free(&cert);
        if (key.data)
            explicit_bzero(key.data, key.len);
        buf_free(&key);
        if (!p->http)
            return -1;
    }
    return 0;
}

int cli_boot_serve(cli_proc *p, kerr *e)
{
    if (p->sc && sched_start(p->sc, e))
        return -1;
    if (p->http && server_start(p->http, e))
        return -1;
    return 0;
}

int cli_boot_close(cli_proc *p, int64_t grace_us)
{
    if (p->http)
        server_free(p->http);
    if (p->sc) {
        sched_stop(p->sc);
        sched_free(p->sc);
    }
    if (p->en) {
        engine_stop(p->en, grace_us);
        if (engine_stuck_threads(p->en))
            return 1; /* a thread left behind may still use all of it */
        engine_free(p->en);
    }
    storage_free(p->fs);
    store_free(p->st);
    memset(p, 0, sizeof *p);
    return 0;
}
