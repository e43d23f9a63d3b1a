/*
 * config.c: the configuration file, kite.yml, shared by `kite run`,
 * `kite execution` and `kite server`. Every key is documented in
 * docs/configuration.md; an unknown key is an error with its position, so a
 * typo never silently falls back to a default.
 */
#include "cli/cli.h"
#include "flow/flow.h"
#include "util/datetime.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/netguard.h"
#include "util/sandbox.h"
#include "util/strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {"data", "workers", "variables", "server", "tmpDir", "logLevel", "engine",
                                       "secrets", "security", "storage", "encryption", "defaults", "sandbox", NULL};
static const char *const storage_keys[] = {"url", "endpoint", "region", "accessKeyId", "secretKeyId",
                                           "secretKeyIdFile", "secretKeyIdSecret", "sessionToken", "forcePathStyle",
                                           "partSize", NULL};
static const char *const encryption_keys[] = {"secretKey", NULL};
static const char *const secrets_keys[] = {"backends", NULL};
static const char *const backend_keys[] = {"type", "address", "token", "roleId", "secretId", "mount", "prefix",
                                           "namespace", "timeout", "caFile", "insecure", NULL};
static const char *const engine_keys[] = {"maxTaskRuns", NULL};
static const char *const var_keys[] = {"globals", "envPrefix", NULL};
static const char *const server_keys[] = {"port", "host", "flows", "grace", "gitSync", "sessionTtl", "tls", "trustedProxies", NULL};
static const char *const tls_keys[] = {"cert", "key", "priorities", NULL};
static const char *const security_keys[] = {"ssrf", NULL};
static const char *const defaults_keys[] = {"taskRunner", NULL};
static const char *const git_sync_keys[] = {"url", "branch", "gitDirectory", "namespace", "includeChildNamespaces",
                                            "delete", "interval", "username", NULL};

static int check_keys(const json_t *obj, const char *path, const char *const *keys, const posmap *pm,
                      const char *file, kerr *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        int ok = 0;
        size_t n = 0;
        for (const char *const *p = keys; *p; p++, n++)
            ok |= !strcmp(*p, k);
        if (ok)
            continue;
        buf b = BUF_INIT;
        buf_puts(&b, path);
        json_pointer_append(&b, k);
        const ypos *pos = posmap_get(pm, buf_str(&b));
        buf_free(&b);
        const char *sug = str_suggest(k, keys, n);
        kerr_setc_at(e, KERR_INVALID, pos ? pos->key_line : 0, pos ? pos->key_col : 0,
                     "unknown key '%s'%s%s%s", k, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        kerr_locate(e, file);
        return -1;
    }
    return 0;
}

void cli_config_defaults(cli_config *c)
{
    memset(c, 0, sizeof *c);
    const char *d = getenv("KITE_DATA");
    c->data = xstrdup(d && *d ? d : "kite-data");
    c->env_prefix = xstrdup("ENV_");
    c->globals = json_object();
    c->port = 8080;
    c->host = xstrdup("127.0.0.1");
    c->min_level = LEVEL_TRACE;
}

void cli_config_free(cli_config *c)
{
    free(c->data);
    free(c->env_prefix);
    free(c->host);
    free(c->flows);
    free(c->tmp_dir);
    json_decref(c->globals);
    json_decref(c->git_sync);
    json_decref(c->secret_backends);
    if (c->encryption_key) {
        explicit_bzero(c->encryption_key, strlen(c->encryption_key));
        free(c->encryption_key);
    }
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_priorities);
    json_decref(c->trusted_proxies);
    json_decref(c->ssrf);
    json_decref(c->storage);
    json_decref(c->sandbox);
    free(c->default_runner);
    memset(c, 0, sizeof *c);
}

/* storage: a URL ("s3://bucket/prefix", "local:/folder"), or a mapping of
 * the URL and the s3 settings; kept as the mapping {url, ...}, checked. */
static int load_storage(cli_config *c, const json_t *v, const posmap *pm, const char *path, kerr *e)
{
    json_t *m;
    if (json_is_string(v)) {
        m = json_pack("{s:O}", "url", v);
    } else if (json_is_object(v)) {
        if (check_keys(v, "/storage", storage_keys, pm, path, e))
            return -1;
        m = json_deep_copy(v);
    } else {
        return kerr_set(e, "%s: 'storage' must be a URL (s3://BUCKET/PREFIX, local:FOLDER) or a mapping with 'url'",
                        path);
    }
    const char *k;
    json_t *fv;
    int rc = 0;
    json_object_foreach(m, k, fv) {
        int ok = !strcmp(k, "forcePathStyle") ? json_is_boolean(fv)
                 : !strcmp(k, "partSize")     ? json_is_integer(fv) && json_integer_value(fv) >= (5 << 20) &&
                                                json_integer_value(fv) <= (5LL << 30)
                                              : json_is_string(fv);
        if (!ok) {
            const char *want = !strcmp(k, "forcePathStyle") ? "true or false"
                               : !strcmp(k, "partSize")     ? "a number of bytes from 5242880 (5 MiB) to 5 GiB"
                                                            : "a string";
            rc = kerr_set(e, "%s: 'storage.%s' must be %s", path, k, want);
            break;
        }
    }
    const char *url = json_string_value(json_object_get(m, "url"));
    if (!rc && !url)
        rc = kerr_set(e, "%s: 'storage' needs 'url' (s3://BUCKET/PREFIX or local:FOLDER)", path);
    int s3 = url && !strncmp(url, "s3://", 5);
    if (!rc && s3 && (url[5] == '\0' || url[5] == '/'))
        rc = kerr_set(e, "%s: 'storage.url' %s has no bucket (write s3://BUCKET/PREFIX)", path, url);
    if (!rc && !s3) {
        json_object_foreach(m, k, fv) {
            if (strcmp(k, "url")) {
                rc = kerr_set(e, "%s: 'storage.%s' is a setting of the s3 backend, and 'storage.url' is not an "
                                 "s3:// URL", path, k);
                break;
            }
        }
    }
    if (!rc && !!json_object_get(m, "secretKeyId") + !!json_object_get(m, "secretKeyIdFile") +
                       !!json_object_get(m, "secretKeyIdSecret") > 1)
        rc = kerr_set(e, "%s: give one of 'storage.secretKeyId', 'storage.secretKeyIdFile' and "
                         "'storage.secretKeyIdSecret'", path);
    const char *ss = json_string_value(json_object_get(m, "secretKeyIdSecret"));
    if (!rc && ss) {
        const char *slash = strrchr(ss, '/');
        char *ns = slash ? xstrndup(ss, (size_t)(slash - ss)) : NULL;
        if (!slash || !flow_valid_namespace(ns) || store_secret_check_name(slash + 1, NULL))
            rc = kerr_set(e, "%s: 'storage.secretKeyIdSecret' must be NAMESPACE/NAME, a secret of kite's store "
                             "(kite secret set NAMESPACE NAME)", path);
        free(ns);
    }
    if (rc) {
        json_decref(m);
        return -1;
    }
    json_decref(c->storage);
    c->storage = m;
    return 0;
}

int cli_config_load(cli_config *c, const char *path, kerr *e)
{
    buf b = BUF_INIT;
    if (fs_read_file(path, 1u << 20, &b, e)) {
        buf_free(&b);
        return -1;
    }
    json_t *doc;
    posmap *pm;
    if (yaml_load(buf_str(&b), b.len, NULL, &doc, &pm, e)) {
        buf_free(&b);
        kerr_locate(e, path);
        return -1;
    }
    buf_free(&b);
    int rc = 0;
    if (json_is_null(doc))
        goto done;
    if (!json_is_object(doc)) {
        rc = kerr_set(e, "%s: the configuration must be a mapping of keys", path);
        goto done;
    }
    if ((rc = check_keys(doc, "", top_keys, pm, path, e)))
        goto done;
    const json_t *v;
    if ((v = json_object_get(doc, "data"))) {
        if (!json_is_string(v)) {
            rc = kerr_set(e, "%s: 'data' must be a folder path", path);
            goto done;
        }
        free(c->data);
        c->data = xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(doc, "tmpDir"))) {
        if (!json_is_string(v)) {
            rc = kerr_set(e, "%s: 'tmpDir' must be a folder path", path);
            goto done;
        }
        free(c->tmp_dir);
        c->tmp_dir = xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(doc, "workers"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1024) {
            rc = kerr_set(e, "%s: 'workers' must be an integer from 1 to 1024", path);
            goto done;
        }
        c->workers = (int)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "logLevel"))) {
        if (!json_is_string(v) || store_level_parse(json_string_value(v), &c->min_level)) {
            rc = kerr_set(e, "%s: 'logLevel' must be TRACE, DEBUG, INFO, WARN or ERROR", path);
            goto done;
        }
    }
    const json_t *vars = json_object_get(doc, "variables");
    if (vars) {
        if (!json_is_object(vars)) {
            rc = kerr_set(e, "%s: 'variables' must be a mapping", path);
            goto done;
        }
        if ((rc = check_keys(vars, "/variables", var_keys, pm, path, e)))
            goto done;
        if ((v = json_object_get(vars, "globals"))) {
            if (!json_is_object(v)) {
                rc = kerr_set(e, "%s: 'variables.globals' must be a mapping", path);
                goto done;
            }
            json_decref(c->globals);
            c->globals = json_deep_copy(v);
        }
        if ((v = json_object_get(vars, "envPrefix"))) {
            if (!json_is_string(v)) {
                rc = kerr_set(e, "%s: 'variables.envPrefix' must be a string", path);
                goto done;
            }
            free(c->env_prefix);
            c->env_prefix = xstrdup(json_string_value(v));
        }
    }
    const json_t *eng = json_object_get(doc, "engine");
    if (eng) {
        if (!json_is_object(eng) || (rc = check_keys(eng, "/engine", engine_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'engine' must be a mapping", path);
            goto done;
        }
        if ((v = json_object_get(eng, "maxTaskRuns"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000000) {
                rc = kerr_set(e, "%s: 'engine.maxTaskRuns' must be an integer from 1 to 100000000", path);
                goto done;
            }
            c->max_task_runs = (size_t)json_integer_value(v);
        }
    }
    const json_t *enc = json_object_get(doc, "encryption");
    if (enc) {
        if (!json_is_object(enc) || (rc = check_keys(enc, "/encryption", encryption_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'encryption' must be a mapping", path);
            goto done;
        }
        const json_t *k = json_object_get(enc, "secretKey");
        if (k && (!json_is_string(k) || !json_string_length(k))) {
            rc = kerr_set(e, "%s: 'encryption.secretKey' must be the base64 of a 16, 24 or 32-byte key", path);
            goto done;
        }
        if (k) {
            free(c->encryption_key);
            c->encryption_key = xstrdup(json_string_value(k));
        }
    }
    const json_t *sec = json_object_get(doc, "secrets");
    if (sec) {
        if (!json_is_object(sec) || (rc = check_keys(sec, "/secrets", secrets_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'secrets' must be a mapping", path);
            goto done;
        }
        const json_t *bl = json_object_get(sec, "backends");
        if (bl && !json_is_array(bl)) {
            rc = kerr_set(e, "%s: 'secrets.backends' must be a list of backends", path);
            goto done;
        }
        size_t i;
        const json_t *bv;
        json_array_foreach(bl, i, bv) {
            char where[64];
            snprintf(where, sizeof where, "/secrets/backends/%zu", i);
            const char *t = json_string_value(json_object_get(bv, "type"));
            if (!json_is_object(bv) || !t || (strcmp(t, "kite") && strcmp(t, "vault"))) {
                const ypos *pos = posmap_get(pm, where);
                kerr_setc_at(e, KERR_INVALID, pos ? pos->line : 0, pos ? pos->col : 0,
                             "secrets.backends[%zu]: a mapping with `type: kite` or `type: vault`", i);
                kerr_locate(e, path);
                rc = -1;
                goto done;
            }
            if ((rc = check_keys(bv, where, backend_keys, pm, path, e)))
                goto done;
            const char *k;
            const json_t *fv;
            json_object_foreach((json_t *)bv, k, fv) {
                if (!json_is_string(fv) && !(strcmp(k, "insecure") == 0 && json_is_boolean(fv))) {
                    rc = kerr_set(e, "%s: 'secrets.backends[%zu].%s' must be a string", path, i, k);
                    goto done;
                }
            }
        }
        json_decref(c->secret_backends);
        c->secret_backends = bl ? json_deep_copy(bl) : NULL;
    }
    const json_t *srv = json_object_get(doc, "server");
    if (srv) {
        if (!json_is_object(srv) || (rc = check_keys(srv, "/server", server_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'server' must be a mapping", path);
            goto done;
        }
        if ((v = json_object_get(srv, "port"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
                rc = kerr_set(e, "%s: 'server.port' must be a port number", path);
                goto done;
            }
            c->port = (int)json_integer_value(v);
        }
        if ((v = json_object_get(srv, "flows"))) {
            if (!json_is_string(v)) {
                rc = kerr_set(e, "%s: 'server.flows' must be a folder path", path);
                goto done;
            }
            free(c->flows);
            c->flows = xstrdup(json_string_value(v));
        }
        if ((v = json_object_get(srv, "grace"))) {
            if (!json_is_string(v) || duration_parse(json_string_value(v), &c->grace_us, e)) {
                if (!json_is_string(v))
                    kerr_set(e, "'server.grace' must be a duration such as PT30S");
                kerr_prefix(e, "%s", path);
                rc = -1;
                goto done;
            }
        }
        if ((v = json_object_get(srv, "sessionTtl"))) {
            int64_t us = 0;
            if (!json_is_string(v) || duration_parse(json_string_value(v), &us, e) || us < 1000000 ||
                us > 366LL * 24 * 3600 * 1000000) {
                rc = kerr_set(e, "%s: 'server.sessionTtl' must be a duration from PT1S to P366D, such as PT12H", path);
                goto done;
            }
            c->session_ttl_us = us;
        }
        if ((v = json_object_get(srv, "host"))) {
            if (!json_is_string(v)) {
                rc = kerr_set(e, "%s: 'server.host' must be a string", path);
                goto done;
            }
            free(c->host);
            c->host = xstrdup(json_string_value(v));
        }
        if ((v = json_object_get(srv, "gitSync"))) {
            if (!json_is_object(v) || (rc = check_keys(v, "/server/gitSync", git_sync_keys, pm, path, e))) {
                if (!rc)
                    rc = kerr_set(e, "%s: 'server.gitSync' must be a mapping", path);
                goto done;
            }
            const json_t *u = json_object_get(v, "url"), *n = json_object_get(v, "namespace");
            const json_t *iv = json_object_get(v, "interval");
            int64_t us = 0;
            if (!json_is_string(u) || !json_is_string(n)) {
                rc = kerr_set(e, "%s: 'server.gitSync' needs 'url' and 'namespace' (strings)", path);
                goto done;
            }
            if (iv && (!json_is_string(iv) || duration_parse(json_string_value(iv), &us, e) || us < 1000000)) {
                rc = kerr_set(e, "%s: 'server.gitSync.interval' must be a duration of at least 1 s, such as PT1M", path);
                goto done;
            }
            json_decref(c->git_sync);
            c->git_sync = json_deep_copy(v);
        }
        if ((v = json_object_get(srv, "tls"))) {
            if (!json_is_object(v) || (rc = check_keys(v, "/server/tls", tls_keys, pm, path, e))) {
                if (!rc)
                    rc = kerr_set(e, "%s: 'server.tls' must be a mapping (cert, key, priorities)", path);
                goto done;
            }
            const json_t *cert = json_object_get(v, "cert"), *key = json_object_get(v, "key");
            const json_t *prio = json_object_get(v, "priorities");
            if (!json_is_string(cert) || !json_is_string(key) || (prio && !json_is_string(prio))) {
                rc = kerr_set(e, "%s: 'server.tls' needs 'cert' and 'key' (the paths of PEM files)%s", path,
                              prio && !json_is_string(prio) ? ", and 'priorities' must be a string" : "");
                goto done;
            }
            free(c->tls_cert);
            free(c->tls_key);
            free(c->tls_priorities);
            c->tls_cert = xstrdup(json_string_value(cert));
            c->tls_key = xstrdup(json_string_value(key));
            c->tls_priorities = prio ? xstrdup(json_string_value(prio)) : NULL;
        }
        if ((v = json_object_get(srv, "trustedProxies"))) {
            netguard_list l;
            if (netguard_list_parse(v, "server.trustedProxies", &l, e)) {
                kerr_prefix(e, "%s", path);
                rc = -1;
                goto done;
            }
            netguard_list_free(&l);
            json_decref(c->trusted_proxies);
            c->trusted_proxies = json_deep_copy(v);
        }
    }
    if ((v = json_object_get(doc, "storage")) && (rc = load_storage(c, v, pm, path, e)))
        goto done;
    const json_t *secu = json_object_get(doc, "security");
    if (secu) {
        if (!json_is_object(secu) || (rc = check_keys(secu, "/security", security_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'security' must be a mapping", path);
            goto done;
        }
        if ((v = json_object_get(secu, "ssrf"))) {
            /* checked here (a bad entry names the file), applied by cli_boot */
            if (netguard_configure(v, e)) {
                netguard_configure(NULL, NULL);
                kerr_prefix(e, "%s", path);
                rc = -1;
                goto done;
            }
            netguard_configure(NULL, NULL);
            json_decref(c->ssrf);
            c->ssrf = json_deep_copy(v);
        }
    }
    const json_t *dfl = json_object_get(doc, "defaults");
    if (dfl) {
        if (!json_is_object(dfl) || (rc = check_keys(dfl, "/defaults", defaults_keys, pm, path, e))) {
            if (!rc)
                rc = kerr_set(e, "%s: 'defaults' must be a mapping (taskRunner)", path);
            goto done;
        }
        if ((v = json_object_get(dfl, "taskRunner"))) {
            /* a type name, or {type: ...} as a task writes it */
            const json_t *t = json_is_object(v) ? json_object_get(v, "type") : v;
            if (!json_is_string(t)) {
                rc = kerr_set(e, "%s: 'defaults.taskRunner' must be a runner type (runner.process, runner.sandbox)",
                              path);
                goto done;
            }
            free(c->default_runner);
            c->default_runner = xstrdup(json_string_value(t));
        }
    }
    if ((v = json_object_get(doc, "sandbox"))) {
        /* checked here (a bad entry names the file), applied by cli_boot */
        if (sandbox_configure(v, NULL, e)) {
            sandbox_configure(NULL, NULL, NULL);
            kerr_prefix(e, "%s", path);
            rc = -1;
            goto done;
        }
        json_decref(c->sandbox);
        c->sandbox = json_deep_copy(v);
    }
done:
    json_decref(doc);
    posmap_free(pm);
    return rc;
}
