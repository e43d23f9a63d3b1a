/*
 * cmd_server.c: `kite server local|standalone`: the engine, the scheduler
 * and the HTTP API in one process, on SQLite and a local folder.
 *
 * `local` takes its settings from flags over kite.yml; `standalone` takes
 * everything from the configuration file. The URL served is printed on
 * stdout once the socket listens; the admin token, when one is generated,
 * is printed once on stderr.
 *
 * DESIGN
 * SIGTERM and SIGINT are blocked in every thread before any starts (child
 * processes get a clear mask from proc.c); the main thread waits for them
 * with sigtimedwait, polling the --flows folder once a second meanwhile.
 * On a signal: the HTTP server stops taking connections and finishes the
 * requests in progress, the scheduler stops, the engine lets running tasks
 * finish within the grace period and requeues the rest, and the process
 * exits 0. Work requeued is picked up by the next start. The grace period
 * is a hard limit: a worker still busy ENGINE_STOP_MARGIN_US after it (an
 * in-process evaluation that ignores its cancel flag) is left behind and
 * the process exits; a watchdog ends a shutdown that hangs anywhere else.
 */
#include "cli/cli.h"
#include "util/fs.h"
#include "engine/engine.h"
#include "sched/sched.h"
#include "server/server.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/proc.h"
#include "util/strutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct srvmain {
    cli_config cfg;
    const char *flows_dir;
    int64_t grace_us;
    int grace_set;          /* --grace given: it wins over server.grace */
    int64_t http_timeout_us;
    int quiet;
    cli_proc proc;              /* what cli_boot assembled; the five below are its */
    store *st;
    storage *fs;
    engine *en;
    sched *sc;
    server *http;
    json_t *seen;               /* flows folder: path -> "mtime:size" */
} srvmain;

/* server.gitSync: one sync of the configured repository (GitOps); a
 * failure is reported and the next interval tries again. */
static void git_sync_pass(srvmain *m)
{
    kerr e = KERR_INIT;
    if (cli_git_sync_once(m->en, m->st, &m->cfg, &e))
        fprintf(stderr, "kite server: git sync: %s (the flows stored before are unchanged)\n", e.msg);
    else if (m->sc)
        sched_flows_changed(m->sc);
}

static void server_usage(FILE *out)
{
    fprintf(out,
            "usage: kite server local [options]\n"
            "       kite server standalone [--config kite.yml]\n\n"
            "Runs the engine, the scheduler and the HTTP API (Kestra's paths under /api/v1/)\n"
            "in one process, on SQLite and a local folder in the data folder.\n\n"
            "  --port N            port to listen on (default: server.port or 8080; 0: any free port)\n"
            "  --host ADDR         address to bind (default: server.host or 127.0.0.1)\n"
            "  --data DIR          the data folder (default: $KITE_DATA or ./kite-data)\n"
            "  --flows DIR         load the flows of DIR at start and whenever a file changes\n"
            "  --config FILE       a kite.yml (see docs/configuration.md)\n"
            "  --workers N         worker threads (default: 8 per core)\n"
            "  --grace DURATION    on SIGTERM, how long running tasks may finish (default PT30S)\n"
            "  --http-timeout DURATION  close connections idle that long (default PT60S)\n"
            "  --quiet             no access log on stderr\n\n"
            "Every /api call needs 'Authorization: Bearer <token>': the admin token comes from\n"
            "KITE_ADMIN_TOKEN, or is generated at the first start and printed once on stderr.\n"
            "See docs/server.md.\n");
}

/* ---- the flows folder -------------------------------------------------------------- */

static void put_file(srvmain *m, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "kite server: %s: %s\n", path, strerror(errno));
        return;
    }
    buf b;
    buf_init(&b, 4u << 20);
    char chunk[65536];
    size_t n;
    int too_big = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (buf_append(&b, chunk, n)) {
            too_big = 1;
            break;
        }
    fclose(fp);
    if (too_big) {
        fprintf(stderr, "kite server: %s: larger than 4 MiB, skipped\n", path);
        buf_free(&b);
        return;
    }
    diags dg = DIAGS_INIT;
    int rev = 0;
    if (engine_flow_put(m->en, buf_str(&b), b.len, path, &rev, &dg)) {
        diags_sort(&dg);
        for (size_t i = 0; i < dg.n; i++)
            diag_print(stderr, &dg.v[i], buf_str(&b), b.len, 0);
        fprintf(stderr, "kite server: skipped %s (not valid); the flows stored before are unchanged\n", path);
    } else if (m->sc) {
        sched_flows_changed(m->sc);
    }
    diags_free(&dg);
    buf_free(&b);
}

/* Puts every .yml/.yaml file of dir (recursively) that is new or changed
 * since the last scan. */
static void scan_folder(srvmain *m, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0)
            fprintf(stderr, "kite server: --flows %s: %s\n", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (depth < 16)
                scan_folder(m, p, depth + 1);
        } else if (stat(p, &sb) == 0 && (str_ends_with(de->d_name, ".yml") || str_ends_with(de->d_name, ".yaml"))) {
            char sig[96];
            snprintf(sig, sizeof sig, "%lld.%09ld:%lld", (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
                     (long long)sb.st_size);
            const char *old = json_string_value(json_object_get(m->seen, p));
            if (!old || strcmp(old, sig)) {
                json_object_set_new(m->seen, p, json_string(sig));
                put_file(m, p);
            }
        }
        free(p);
    }
    closedir(d);
}

/* ---- arguments ------------------------------------------------------------------------ */

static int parse_args(srvmain *m, int standalone, int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
    if (standalone && !config) {
        struct stat sb;
        if (stat("kite.yml", &sb)) {
            fprintf(stderr, "kite server standalone: no --config given and no ./kite.yml\n");
            return -1;
        }
        config = "kite.yml";
    }
    cli_config_defaults(&m->cfg);
    if (config) {
        kerr e = KERR_INIT;
        if (cli_config_load(&m->cfg, config, &e)) {
            fprintf(stderr, "kite server: %s\n", e.msg);
            return -1;
        }
    }
    m->grace_us = 30 * 1000000LL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--config") && has) {
            i++;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            m->quiet = 1;
        } else if (standalone) {
            fprintf(stderr, "kite server standalone: unknown option '%s': standalone takes everything from "
                            "--config (use `kite server local` for flags)\n", a);
            return -1;
        } else if (!strcmp(a, "--port") && has) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "kite server: --port: '%s' is not a port number (0-65535)\n", argv[i]);
                return -1;
            }
            m->cfg.port = (int)p;
        } else if (!strcmp(a, "--host") && has) {
            free(m->cfg.host);
            m->cfg.host = xstrdup(argv[++i]);
        } else if (!strcmp(a, "--data") && has) {
            free(m->cfg.data);
            m->cfg.data = xstrdup(argv[++i]);
        } else if (!strcmp(a, "--flows") && has) {
            m->flows_dir = argv[++i];
        } else if (!strcmp(a, "--workers") && has) {
            m->cfg.workers = atoi(argv[++i]);
            if (m->cfg.workers < 1) {
                fprintf(stderr, "kite server: --workers must be a positive number\n");
                return -1;
            }
        } else if (!strcmp(a, "--http-timeout") && has) {
            kerr e = KERR_INIT;
            if (duration_parse(argv[++i], &m->http_timeout_us, &e) || m->http_timeout_us < 1000000) {
                fprintf(stderr, "kite server: --http-timeout: %s\n", e.code ? e.msg : "at least one second (PT1S)");
                return -1;
            }
        } else if (!strcmp(a, "--grace") && has) {
            kerr e = KERR_INIT;
            m->grace_set = 1;
            if (duration_parse(argv[++i], &m->grace_us, &e)) {
                fprintf(stderr, "kite server: --grace: %s\n", e.msg);
                return -1;
            }
        } else {
            fprintf(stderr, "kite server: unknown option '%s' (see `kite server --help`)\n", a);
            return -1;
        }
    }
    return 0;
}

/* Stops everything; returns 1 when the engine left a busy thread behind
 * (then nothing it may use is freed: the caller exits at once). */
static int shutdown_all(srvmain *m)
{
    if (cli_boot_close(&m->proc, m->grace_us))
        return 1;
    json_decref(m->seen);
    cli_config_free(&m->cfg);
    return 0;
}

/* The last resort behind the grace period: should the shutdown itself
 * hang (past the grace, the engine's margin and 5 s more), the process
 * exits anyway. What was acknowledged is in the database already. */
static void *shutdown_watchdog(void *arg)
{
    int64_t us = *(int64_t *)arg + ENGINE_STOP_MARGIN_US + 5 * US_PER_SEC;
    struct timespec ts = {(time_t)(us / US_PER_SEC), (long)(us % US_PER_SEC) * 1000};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
    fprintf(stderr, "kite server: the shutdown did not finish %lld ms after the grace period: exiting now\n",
            (long long)((us - *(int64_t *)arg) / 1000));
    _exit(1);
    return NULL;
}

int cli_cmd_server(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        server_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    int standalone = !strcmp(argv[1], "standalone");
    if (!standalone && strcmp(argv[1], "local")) {
        fprintf(stderr, "kite server: unknown mode '%s': use `kite server local` or `kite server standalone`\n",
                argv[1]);
        return 2;
    }
    srvmain m = {0};
    m.seen = json_object();
    if (parse_args(&m, standalone, argc, argv)) {
        json_decref(m.seen);
        cli_config_free(&m.cfg);
        return 2;
    }
    /* block the stop signals before any thread starts: only sigtimedwait sees them */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);

    kerr e = KERR_INIT;
    int rc = 1;
    cli_boot_opts bo = {.parts = CLI_BOOT_SCHED | CLI_BOOT_SERVER, .quiet = m.quiet,
                        .timeout_s = (unsigned)(m.http_timeout_us / 1000000)};
    if (cli_boot(&m.proc, &m.cfg, &bo, &e))
        goto fail;
    m.st = m.proc.st;
    m.fs = m.proc.fs;
    m.en = m.proc.en;
    m.sc = m.proc.sc;
    m.http = m.proc.http;
    char *token = NULL;
    if (server_auth_init(m.http, getenv("KITE_ADMIN_TOKEN"), &token, &e))
        goto fail;
    if (token) {
        fprintf(stderr,
                "kite server: generated the admin token (shown once, stored hashed; set KITE_ADMIN_TOKEN to "
                "replace it):\n\n    %s\n\n",
                token);
        free(token);
    }
    if (!m.flows_dir && m.cfg.flows)
        m.flows_dir = m.cfg.flows; /* server.flows in the configuration */
    if (m.cfg.grace_us > 0 && !m.grace_set)
        m.grace_us = m.cfg.grace_us;
    if (m.flows_dir)
        scan_folder(&m, m.flows_dir, 0);
    int64_t git_every = 60 * 1000000LL, git_last = 0;
    if (m.cfg.git_sync) {
        const json_t *iv = json_object_get(m.cfg.git_sync, "interval");
        if (json_is_string(iv))
            duration_parse(json_string_value(iv), &git_every, NULL);
        git_sync_pass(&m);
        git_last = time_mono_us();
    }
    if (cli_boot_serve(&m.proc, &e))
        goto fail;
    const char *shown = m.cfg.host;
    if (!strcmp(shown, "0.0.0.0") || !strcmp(shown, "::"))
        shown = "127.0.0.1";
    printf("kite server: serving %s://%s%s%s:%d/ (data %s)\n", server_scheme(m.http), strchr(shown, ':') ? "[" : "",
           shown, strchr(shown, ':') ? "]" : "", server_port(m.http), m.cfg.data);
    fflush(stdout);

    for (;;) {
        struct timespec ts = {1, 0};
        int sig = sigtimedwait(&stopset, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(stderr, "kite server: %s: stopping (running tasks have %lld ms to finish)\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)(m.grace_us / 1000));
            pthread_t wd;
            if (!pthread_create(&wd, NULL, shutdown_watchdog, &m.grace_us))
                pthread_detach(wd);
            break;
        }
        if (m.flows_dir)
            scan_folder(&m, m.flows_dir, 0);
        if (m.cfg.git_sync && time_mono_us() - git_last >= git_every) {
            git_sync_pass(&m);
            git_last = time_mono_us();
        }
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "kite server: %s\n", e.msg);
out:
    if (shutdown_all(&m)) {
        /* a worker is still busy in an evaluation that ignores its cancel
         * flag: the grace period is a hard limit, exit without it (its task
         * is still leased and runs again at the next start) */
        fprintf(stderr, "kite server: stopped (a busy worker was left behind)\n");
        fflush(stdout);
        _exit(rc);
    }
    if (!rc)
        fprintf(stderr, "kite server: stopped\n");
    return rc;
}
