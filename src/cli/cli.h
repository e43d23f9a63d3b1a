/*
 * cli.h: the `kite <command>` entry points.
 *
 * Each command lives in its own file (cmd_<name>.c) and has the signature of
 * main(): it parses its own flags, prints its own errors and returns the
 * process exit code. main.c holds the table that dispatches to them.
 */
#ifndef KITE_CLI_H
#define KITE_CLI_H

#include <stdio.h>

#define KITE_VERSION "0.1.0"

int cli_cmd_validate(int argc, char **argv);
int cli_cmd_render(int argc, char **argv);
int cli_cmd_plugins(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_execution(int argc, char **argv);
int cli_cmd_server(int argc, char **argv);
int cli_cmd_flow(int argc, char **argv);   /* cmd_flow.c: kite flow sync */
int cli_cmd_secret(int argc, char **argv);
/* cmd_access.c: kite user, token, role, binding, auth check, audit */
int cli_cmd_user(int argc, char **argv);
int cli_cmd_token(int argc, char **argv);
int cli_cmd_role(int argc, char **argv);
int cli_cmd_binding(int argc, char **argv);
int cli_cmd_auth(int argc, char **argv);
int cli_cmd_audit(int argc, char **argv);

/* ---- the configuration file (config.c) ---------------------------------- */

#include <jansson.h>
#include "store/store.h"
#include "util/err.h"

typedef struct cli_config {
    char *data;             /* the data folder (SQLite file, storage) */
    char *tmp_dir;          /* working folders; NULL: $TMPDIR or /tmp */
    int workers;            /* 0: 8 per core (ENGINE_WORKERS_PER_CORE) */
    json_t *globals;        /* variables.globals */
    char *env_prefix;       /* variables.envPrefix */
    int port;               /* server.port */
    char *host;             /* server.host */
    char *flows;            /* server.flows: a folder of flows to load and watch, or NULL */
    int64_t grace_us;       /* server.grace: SIGTERM's grace period (0: the default) */
    store_level min_level;  /* logLevel */
    size_t max_task_runs;   /* engine.maxTaskRuns (0: the engine's default) */
    json_t *git_sync;       /* server.gitSync (docs/git.md): url, branch, gitDirectory,
                               namespace, includeChildNamespaces, delete, interval; or NULL */
    json_t *secret_backends; /* secrets.backends (NULL: kite's store alone) */
    int64_t session_ttl_us;  /* server.sessionTtl: a login session's life (0: 12 h) */
    char *tls_cert;         /* server.tls.cert: a PEM file, or NULL (plain HTTP) */
    char *tls_key;          /* server.tls.key */
    char *tls_priorities;   /* server.tls.priorities: GnuTLS's syntax, or NULL */
    json_t *trusted_proxies; /* server.trustedProxies: CIDRs (checked), or NULL */
    json_t *ssrf;           /* security.ssrf (checked, docs/security.md), or NULL */
    json_t *storage;        /* storage: {url, and the s3 settings} (checked), or NULL: DATA/storage */
    char *encryption_key;   /* encryption.secretKey, or NULL (boot.c falls back to $KITE_ENCRYPTION_KEY) */
    json_t *sandbox;        /* sandbox (checked, docs/configuration.md), or NULL */
    char *default_runner;   /* defaults.taskRunner, or NULL (runner.process) */
} cli_config;

/* Defaults: data from $KITE_DATA or ./kite-data, envPrefix ENV_, port 8080. */
void cli_config_defaults(cli_config *c);
/* Reads a kite.yml over the current values; an unknown key or a wrong type is
 * an error naming the file and the position. */
int cli_config_load(cli_config *c, const char *path, kerr *e);
void cli_config_free(cli_config *c);

/* ---- assembling a process (boot.c) --------------------------------------- */

#include "engine/engine.h"
#include "sched/sched.h"
#include "server/server.h"

/* What a command wants besides the engine (which every process has). */
#define CLI_BOOT_SCHED  0x1u    /* the scheduler (not started until cli_boot_serve) */
#define CLI_BOOT_SERVER 0x2u    /* the HTTP server (idem) */

typedef struct cli_boot_opts {
    unsigned parts;             /* CLI_BOOT_* */
    unsigned roles;             /* the engine's (engine_opts.roles); 0: executor and workers */
    engine_log_fn on_log;       /* live log lines (kite run); may be NULL */
    void *on_log_ud;
    int quiet;                  /* server: no access log */
    unsigned timeout_s;         /* server: idle connection timeout; 0: its default */
} cli_boot_opts;

/* A process's parts; NULL when not asked for. */
typedef struct cli_proc {
    store *st;
    storage *fs;
    engine *en;
    sched *sc;
    server *http;
} cli_proc;

/* The store's and the storage's URLs for a configuration (malloc'd):
 * sqlite:<data>/kite.db and local:<data>/storage. */
char *cli_store_url(const cli_config *cfg);
char *cli_storage_url(const cli_config *cfg);
/* Opens the configured storage: `storage` of kite.yml (local or s3, with
 * its settings; docs/configuration.md), else the local DATA/storage. st is
 * the open store, for storage.secretKeyIdSecret (its secrets are unlocked
 * when they are not yet). */
storage *cli_storage_open(const cli_config *cfg, store *st, kerr *e);
/* Opens the store's secrets with the data folder's key ($KITE_SECRET_KEY or
 * DATA/secret.key, made at the first start); a store sealed with another
 * key is refused with a message naming both. */
int cli_secrets_unlock(store *st, const cli_config *cfg, kerr *e);
/* Opens the data folder's store and storage, creates and starts the engine
 * (recovering what a previous process left), then creates the parts asked
 * for. On an error the parts made so far stay in p for cli_boot_close. */
int cli_boot(cli_proc *p, const cli_config *cfg, const cli_boot_opts *o, kerr *e);
/* Starts the scheduler and the server, when there are. */
int cli_boot_serve(cli_proc *p, kerr *e);
/* Stops and frees every part, the server first and the store last; running
 * tasks get grace_us to finish. p is zeroed. */
/* Returns 1 when the engine left a busy thread behind (engine_stop's hard
 * limit): then nothing is freed, and the caller exits at once. */
int cli_boot_close(cli_proc *p, int64_t grace_us);

/* One pass of server.gitSync (cmd_flow.c): clones cfg->git_sync's
 * repository and syncs its flows into the store; problems go to stderr as
 * "kite server: git sync: file:line:col: ...". */
int cli_git_sync_once(engine *en, store *st, const cli_config *cfg, kerr *e);

/* True when argv holds -h or --help (commands call it first). */
int cli_wants_help(int argc, char **argv);

#endif
