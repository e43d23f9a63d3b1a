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

/* ---- the configuration file (config.c) ---------------------------------- */

#include <jansson.h>
#include "store/store.h"
#include "util/err.h"

typedef struct cli_config {
    char *data;             /* the data folder (SQLite file, storage) */
    char *tmp_dir;          /* working folders; NULL: $TMPDIR or /tmp */
    int workers;            /* 0: one per core */
    json_t *globals;        /* variables.globals */
    char *env_prefix;       /* variables.envPrefix */
    int port;               /* server.port */
    char *host;             /* server.host */
    char *flows;            /* server.flows: a folder of flows to load and watch, or NULL */
    int64_t grace_us;       /* server.grace: SIGTERM's grace period (0: the default) */
    store_level min_level;  /* logLevel */
    size_t max_task_runs;   /* engine.maxTaskRuns (0: the engine's default) */
} cli_config;

/* Defaults: data from $KITE_DATA or ./kite-data, envPrefix ENV_, port 8080. */
void cli_config_defaults(cli_config *c);
/* Reads a kite.yml over the current values; an unknown key or a wrong type is
 * an error naming the file and the position. */
int cli_config_load(cli_config *c, const char *path, kerr *e);
void cli_config_free(cli_config *c);

/* True when argv holds -h or --help (commands call it first). */
int cli_wants_help(int argc, char **argv);

#endif
