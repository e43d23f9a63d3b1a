/*
 * cmd_run.c: `kite run FLOW.yaml`: one execution to its end, without a
 * server, on the embedded store; and `kite execution ...` on a data folder.
 *
 * Logs are printed live on stderr (time, task, level, message; colour on a
 * terminal). --json prints the execution in Kestra's JSON shape on stdout.
 * Exit status: 0 for SUCCESS, WARNING (and PAUSED: it waits for a person),
 * 1 for the other ends, 2 when the flow or an input is invalid.
 */
#include "cli/cli.h"
#include "engine/engine.h"
#include "tasks/tasks.h"
#include "util/datetime.h"
#include "util/fs.h"
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
#include <unistd.h>

typedef struct printer {
    int color;
    int quiet;
    pthread_mutex_t lock;
} printer;

static void print_log(void *ud, const engine_log *l)
{
    printer *p = ud;
    if (p->quiet)
        return;
    static const char *const colors[] = {"\033[2m", "\033[36m", "\033[32m", "\033[33m", "\033[31m"};
    civil c;
    tz_to_civil(tz_local(), l->at_us, &c);
    pthread_mutex_lock(&p->lock);
    const char *lvl = store_level_name(l->level);
    if (p->color)
        fprintf(stderr, "\033[2m%02d:%02d:%02d.%03d\033[0m %s%-5s\033[0m \033[1m%s\033[0m %s\n", c.hour, c.min,
                c.sec, c.usec / 1000, colors[l->level < 5 ? l->level : 2], lvl, l->task_id ? l->task_id : "-",
                l->message);
    else
        fprintf(stderr, "%02d:%02d:%02d.%03d %-5s %s %s\n", c.hour, c.min, c.sec, c.usec / 1000, lvl,
                l->task_id ? l->task_id : "-", l->message);
    pthread_mutex_unlock(&p->lock);
}

typedef struct embedded {
    cli_config cfg;
    cli_proc proc;              /* what cli_boot assembled; st, fs, en below are its */
    store *st;
    storage *fs;
    engine *en;
    printer pr;
    char retried_from[STORE_ID_LEN + 1];
} embedded;

/* The execution created by a flow retry of id (its originalId is id): id is
 * replaced by it. Waits up to a few seconds for it to appear (the retry's
 * delay). Returns 0, or -1 when there is none. */
static int follow_retry(embedded *m, char id[STORE_ID_LEN + 1], kerr *e)
{
    store_execution x = {0};
    if (store_execution_get(m->st, id, &x, e))
        return -1;
    store_execution_query q = {.namespace = x.namespace, .flow_id = x.flow_id, .limit = 100};
    for (int tries = 0; tries < 600; tries++) {
        store_execution *v = NULL;
        size_t n = 0;
        int found = 0;
        if (store_execution_search(m->st, &q, &v, &n, NULL, e)) {
            store_execution_clear(&x);
            return -1;
        }
        for (size_t i = 0; i < n && !found; i++)
            if (v[i].original_id && !strcmp(v[i].original_id, id)) {
                snprintf(m->retried_from, sizeof m->retried_from, "%s", id);
                snprintf(id, STORE_ID_LEN + 1, "%s", v[i].id);
                found = 1;
            }
        store_executions_free(v, n);
        if (found) {
            store_execution_clear(&x);
            return 0;
        }
        usleep(50000);
    }
    store_execution_clear(&x);
    return -1;
}

static int embedded_open(embedded *m, kerr *e)
{
    pthread_mutex_init(&m->pr.lock, NULL);
    m->pr.color = isatty(STDERR_FILENO);
    cli_boot_opts bo = {.on_log = print_log, .on_log_ud = &m->pr};
    int rc = cli_boot(&m->proc, &m->cfg, &bo, e);
    m->st = m->proc.st;
    m->fs = m->proc.fs;
    m->en = m->proc.en;
    return rc;
}

static void embedded_close(embedded *m)
{
    cli_boot_close(&m->proc, 0);
    cli_config_free(&m->cfg);
}

/* A file of the --flows folder: its namespace and id (read from the YAML
 * even when the flow is not valid), its document, and, when it was not
 * stored, its source and diagnostics. */
typedef struct folder_file {
    char *path, *ns, *id;
    json_t *doc;
    buf src;
    diags dg;
    int invalid;
} folder_file;

typedef struct folder {
    folder_file *v;
    size_t n, cap;
} folder;

static void folder_free(folder *fo)
{
    for (size_t i = 0; i < fo->n; i++) {
        folder_file *f = &fo->v[i];
        free(f->path);
        free(f->ns);
        free(f->id);
        json_decref(f->doc);
        buf_free(&f->src);
        diags_free(&f->dg);
    }
    free(fo->v);
    memset(fo, 0, sizeof *fo);
}

/* Stores every flow of dir (and its subfolders); the files that are not
 * valid are kept in fo, reported later (report_folder). */
static int load_folder(embedded *m, const char *dir, int depth, folder *fo)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "kite run: --flows %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth < 16) {
            load_folder(m, p, depth + 1, fo);
        } else if (str_ends_with(de->d_name, ".yml") || str_ends_with(de->d_name, ".yaml")) {
            if (fo->n == fo->cap) {
                fo->cap = fo->cap ? fo->cap * 2 : 16;
                fo->v = xrealloc(fo->v, fo->cap * sizeof *fo->v);
            }
            folder_file *f = &fo->v[fo->n++];
            memset(f, 0, sizeof *f);
            f->path = xstrdup(p);
            f->src = (buf)BUF_INIT;
            f->dg = (diags)DIAGS_INIT;
            kerr e = KERR_INIT;
            if (fs_read_file(p, 4u << 20, &f->src, &e)) {
                fprintf(stderr, "kite run: skipped %s\n", e.msg);
                f->invalid = -1; /* reported already */
            } else {
                kerr ye = KERR_INIT;
                if (!yaml_load(buf_str(&f->src), f->src.len, NULL, &f->doc, NULL, &ye)) {
                    const char *ns = json_string_value(json_object_get(f->doc, "namespace"));
                    const char *id = json_string_value(json_object_get(f->doc, "id"));
                    f->ns = ns ? xstrdup(ns) : NULL;
                    f->id = id ? xstrdup(id) : NULL;
                }
                if (engine_flow_put(m->en, buf_str(&f->src), f->src.len, p, NULL, &f->dg))
                    f->invalid = 1;
            }
        }
        free(p);
    }
    closedir(d);
    return 0;
}

/* Adds to want the {namespace, flowId} of every Subflow, Flow and
 * ForEachItem task of doc (their namespace and flowId as written; a
 * templated one matches nothing). */
static void subflow_refs(const json_t *v, json_t *want)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
            subflow_refs(it, want);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *type = json_string_value(json_object_get(v, "type"));
    const char *ns = json_string_value(json_object_get(v, "namespace"));
    const char *fid = json_string_value(json_object_get(v, "flowId"));
    if (type && ns && fid &&
        (str_ends_with(type, ".Subflow") || str_ends_with(type, ".Flow") || str_ends_with(type, ".ForEachItem"))) {
        char *k = xasprintf("%s\n%s", ns, fid);
        json_object_set_new(want, k, json_true());
        free(k);
    }
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)v, key, child)
        subflow_refs(child, want);
}

/* Prints the full errors of the folder's invalid files that the flow run
 * (ns.id) calls, directly or through its subflows, and one line for the
 * others. */
static void report_folder(embedded *m, folder *fo, const char *dir, const json_t *run_doc)
{
    json_t *want = json_object(), *seen = json_object();
    subflow_refs(run_doc, want);
    /* the closure: the subflows' own subflows (each file looked at once) */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < fo->n; i++) {
            folder_file *f = &fo->v[i];
            if (!f->ns || !f->id || !f->doc)
                continue;
            char *k = xasprintf("%s\n%s", f->ns, f->id);
            if (json_object_get(want, k) && !json_object_get(seen, k)) {
                json_object_set_new(seen, k, json_true());
                subflow_refs(f->doc, want);
                changed = 1;
            }
            free(k);
        }
    }
    size_t others = 0;
    buf names = BUF_INIT;
    for (size_t i = 0; i < fo->n; i++) {
        folder_file *f = &fo->v[i];
        if (f->invalid != 1)
            continue;
        char *k = f->ns && f->id ? xasprintf("%s\n%s", f->ns, f->id) : NULL;
        if (k && json_object_get(want, k)) {
            for (size_t j = 0; j < f->dg.n; j++)
                diag_print(stderr, &f->dg.v[j], buf_str(&f->src), f->src.len, m->pr.color);
            fprintf(stderr, "kite run: skipped %s (not valid; the flow calls %s.%s)\n", f->path, f->ns, f->id);
        } else {
            if (others < 5) {
                const char *base = strrchr(f->path, '/');
                buf_printf(&names, "%s%s", others ? ", " : "", base ? base + 1 : f->path);
            }
            others++;
        }
        free(k);
    }
    if (others)
        fprintf(stderr, "kite run: %zu invalid flow file%s in %s skipped (not called by this flow): %s%s "
                        "(`kite validate %s` shows why)\n",
                others, others > 1 ? "s" : "", dir, buf_str(&names), others > 5 ? ", ..." : "", dir);
    buf_free(&names);
    json_decref(want);
    json_decref(seen);
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: kite run FLOW.yaml [options]\n\n"
            "Runs one execution of the flow to its end (or until a Pause waits for a person),\n"
            "printing its logs on stderr. No server is needed: the execution is kept in the\n"
            "data folder (an SQLite file and a storage folder).\n\n"
            "  --input KEY=VALUE   an input value (repeat for each input)\n"
            "  --file KEY=PATH     a FILE input: the local file is uploaded\n"
            "  --flows DIR         load the flows of DIR too (subflows, flow triggers)\n"
            "  --config FILE       a kite.yml (see docs/configuration.md)\n"
            "  --data DIR          the data folder (default: $KITE_DATA or ./kite-data)\n"
            "  --workers N         worker threads (default: 8 per core)\n"
            "  --json              print the execution as JSON on stdout at the end\n"
            "  --quiet             no logs on stderr\n\n"
            "Exit status: 0 SUCCESS, WARNING or PAUSED; 1 FAILED, KILLED or CANCELLED;\n"
            "2 when the flow or an input is invalid.\n");
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { interrupted = sig; }

/* Waits for the execution, killing it on the first Ctrl-C. */
static int wait_end(embedded *m, const char *id, store_state *st, kerr *e)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int killed = 0;
    for (;;) {
        kerr_clear(e);
        if (!engine_wait(m->en, id, 1, 200000, st, e)) {
            if (*st != STATE_PAUSED || engine_waiting_for_person(m->en, id))
                return 0;
            usleep(20000); /* a pause with a delay or a timeout goes on by itself */
            continue;
        }
        if (e->code && !strstr(e->msg, "still"))
            return -1;
        if (interrupted && !killed) {
            fprintf(stderr, "kite run: interrupted: killing execution %s\n", id);
            engine_kill(m->en, id, e);
            killed = 1;
        }
    }
}

static int finish(embedded *m, const char *id, store_state st, int json_out)
{
    kerr e = KERR_INIT;
    if (json_out) {
        json_t *j = engine_execution_json(m->en, id, &e);
        if (j) {
            /* the task metrics, in Kestra's MetricEntry shape */
            json_t *ms = engine_execution_metrics_json(m->st, id, &e);
            json_object_set_new(j, "metrics", ms ? ms : json_array());
            char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
            char *masked = engine_mask(m->en, s, strlen(s), NULL);  /* outputs, labels, inputs */
            printf("%s\n", masked ? masked : s);
            free(masked);
            free(s);
            json_decref(j);
        }
    }
    if (!m->pr.quiet) {
        if (st == STATE_PAUSED)
            fprintf(stderr, "execution %s is PAUSED: resume it with `kite execution resume %s --data %s`\n", id, id,
                    m->cfg.data);
        else
            fprintf(stderr, "execution %s ended %s\n", id, store_state_name(st));
    }
    return (st == STATE_SUCCESS || st == STATE_WARNING || st == STATE_PAUSED) ? 0 : 1;
}

static int parse_common(embedded *m, int argc, char **argv, int *i, const char *cmd, int *json_out)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--data") && *i + 1 < argc) {
        free(m->cfg.data);
        m->cfg.data = xstrdup(argv[++*i]);
    } else if (!strcmp(a, "--workers") && *i + 1 < argc) {
        m->cfg.workers = atoi(argv[++*i]);
        if (m->cfg.workers < 1) {
            fprintf(stderr, "kite %s: --workers must be a positive number\n", cmd);
            return -1;
        }
    } else if (!strcmp(a, "--json")) {
        *json_out = 1;
    } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
        m->pr.quiet = 1;
    } else {
        return 1;
    }
    return 0;
}

int cli_cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        run_usage(stdout);
        return 0;
    }
    embedded m;
    memset(&m, 0, sizeof m);
    cli_config_defaults(&m.cfg);
    const char *flow_path = NULL, *flows_dir = NULL;
    json_t *inputs = json_object(), *files = json_object();
    int json_out = 0, rc = 2;
    kerr e = KERR_INIT;
    /* the config file first, so that flags override it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") && cli_config_load(&m.cfg, argv[i + 1], &e)) {
            fprintf(stderr, "kite run: %s\n", e.msg);
            goto out;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = parse_common(&m, argc, argv, &i, "run", &json_out);
        if (c < 0)
            goto out;
        if (c == 0)
            continue;
        if (!strcmp(a, "--config") && i + 1 < argc) {
            i++;
        } else if ((!strcmp(a, "--input") || !strcmp(a, "-i") || !strcmp(a, "--file")) && i + 1 < argc) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "kite run: %s expects KEY=VALUE, got '%s'\n", a, kv);
                goto out;
            }
            char *k = xstrndup(kv, (size_t)(eq - kv));
            json_object_set_new(!strcmp(a, "--file") ? files : inputs, k, json_string(eq + 1));
            free(k);
        } else if (!strcmp(a, "--flows") && i + 1 < argc) {
            flows_dir = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kite run: unknown option '%s' (see kite run --help)\n", a);
            goto out;
        } else if (!flow_path) {
            flow_path = a;
        } else {
            fprintf(stderr, "kite run: one flow file at a time ('%s' and '%s')\n", flow_path, a);
            goto out;
        }
    }
    if (!flow_path) {
        run_usage(stderr);
        goto out;
    }
    /* the flow must be valid before anything is created */
    flow *f = NULL;
    diags d = DIAGS_INIT;
    if (flow_load_file(flow_path, &f, &d)) {
        buf src = BUF_INIT;
        kerr re = KERR_INIT;
        fs_read_file(flow_path, 4u << 20, &src, &re); /* for the carets; best effort */
        for (size_t k = 0; k < d.n; k++)
            diag_print(stderr, &d.v[k], src.data, src.len, isatty(STDERR_FILENO));
        buf_free(&src);
        diags_free(&d);
        goto out;
    }
    /* a valid flow may still have warnings (a template reading an undeclared input) */
    diags_sort(&d);
    for (size_t k = 0; k < d.n; k++)
        diag_print(stderr, &d.v[k], f->source, f->source_len, isatty(STDERR_FILENO));
    diags_free(&d);
    char *ns = xstrdup(f->namespace), *fid = xstrdup(f->id);
    if (embedded_open(&m, &e)) {
        fprintf(stderr, "kite run: %s\n", e.msg);
        rc = 1;
        flow_free(f);
        free(ns);
        free(fid);
        goto out;
    }
    if (flows_dir) {
        folder fo = {0};
        load_folder(&m, flows_dir, 0, &fo);
        report_folder(&m, &fo, flows_dir, f->doc);
        folder_free(&fo);
    }
    /* the flow as loaded above: not parsed again (engine_flow_put_parsed takes it) */
    if (engine_flow_put_parsed(m.en, f, flow_path, NULL, &d)) {
        const diag *g = diags_first_error(&d);
        fprintf(stderr, "kite run: %s\n", g ? g->msg : "cannot store the flow");
        diags_free(&d);
        free(ns);
        free(fid);
        rc = 1;
        goto out;
    }
    char id[STORE_ID_LEN + 1];
    engine_submit_opts so = {.namespace = ns, .flow_id = fid, .inputs = inputs, .files = files};
    if (engine_submit(m.en, &so, id, &e)) {
        fprintf(stderr, "kite run: %s\n", e.msg);
        free(ns);
        free(fid);
        rc = 2;
        goto out;
    }
    free(ns);
    free(fid);
    store_state st;
    if (wait_end(&m, id, &st, &e)) {
        fprintf(stderr, "kite run: %s\n", e.msg);
        rc = 1;
        goto out;
    }
    /* a flow retry with CREATE_NEW_EXECUTION: follow the new execution */
    while (st == STATE_RETRIED && !follow_retry(&m, id, &e)) {
        if (!m.pr.quiet)
            fprintf(stderr, "execution %s was retried as %s\n", m.retried_from, id);
        if (wait_end(&m, id, &st, &e)) {
            fprintf(stderr, "kite run: %s\n", e.msg);
            rc = 1;
            goto out;
        }
    }
    rc = finish(&m, id, st, json_out);
out:
    json_decref(inputs);
    json_decref(files);
    embedded_close(&m);
    return rc;
}

/* ---- kite execution ------------------------------------------------------------------------ */

static void exec_usage(FILE *out)
{
    fprintf(out, "usage: kite execution <command> ID [options]\n\n"
                 "Acts on an execution kept in a data folder, then runs it to its end:\n"
                 "  restart ID            run its failed task runs again, in the same execution\n"
                 "  replay ID [--from TASKRUN]   a new execution of the same flow and inputs\n"
                 "  resume ID [--input K=V]...   resume a PAUSED execution\n"
                 "  kill ID               kill it (and its subflows)\n"
                 "  follow ID             carry it on to its end (after a crash, say), printing its logs\n"
                 "  show ID               print it as JSON\n\n"
                 "  --data DIR   the data folder (default: $KITE_DATA or ./kite-data)\n"
                 "  --config F   a kite.yml\n"
                 "  --json       print the execution as JSON at the end\n"
                 "  --quiet      no logs on stderr\n");
}

int cli_cmd_execution(int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 3) {
        exec_usage(argc < 3 && !cli_wants_help(argc, argv) ? stderr : stdout);
        return argc < 3 && !cli_wants_help(argc, argv) ? 2 : 0;
    }
    const char *sub = argv[1], *id = argv[2], *from = NULL;
    embedded m;
    memset(&m, 0, sizeof m);
    cli_config_defaults(&m.cfg);
    json_t *inputs = json_object();
    int json_out = 0, rc = 2;
    kerr e = KERR_INIT;
    for (int i = 3; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") && cli_config_load(&m.cfg, argv[i + 1], &e)) {
            fprintf(stderr, "kite execution: %s\n", e.msg);
            goto out;
        }
    for (int i = 3; i < argc; i++) {
        int c = parse_common(&m, argc, argv, &i, "execution", &json_out);
        if (c < 0)
            goto out;
        if (c == 0)
            continue;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            i++;
        } else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
            from = argv[++i];
        } else if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "kite execution: --input expects KEY=VALUE\n");
                goto out;
            }
            char *k = xstrndup(kv, (size_t)(eq - kv));
            json_object_set_new(inputs, k, json_string(eq + 1));
            free(k);
        } else {
            fprintf(stderr, "kite execution: unknown option '%s'\n", argv[i]);
            goto out;
        }
    }
    struct stat sst;
    if (stat(m.cfg.data, &sst) != 0) {
        fprintf(stderr, "kite execution: no data folder at %s (use --data)\n", m.cfg.data);
        goto out;
    }
    if (embedded_open(&m, &e)) {
        fprintf(stderr, "kite execution: %s\n", e.msg);
        rc = 1;
        goto out;
    }
    char target[STORE_ID_LEN + 1];
    snprintf(target, sizeof target, "%s", id);
    int r = 0;
    if (!strcmp(sub, "show")) {
        json_t *j = engine_execution_json(m.en, id, &e);
        if (!j) {
            fprintf(stderr, "kite execution: %s\n", e.msg);
            rc = 1;
            goto out;
        }
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        char *masked = engine_mask(m.en, s, strlen(s), NULL);
        printf("%s\n", masked ? masked : s);
        free(masked);
        free(s);
        json_decref(j);
        rc = 0;
        goto out;
    } else if (!strcmp(sub, "restart")) {
        r = engine_restart(m.en, id, &e);
    } else if (!strcmp(sub, "replay")) {
        r = engine_replay(m.en, id, from, target, &e);
    } else if (!strcmp(sub, "resume")) {
        r = engine_resume(m.en, id, inputs, &e);
    } else if (!strcmp(sub, "kill")) {
        r = engine_kill(m.en, id, &e);
    } else if (!strcmp(sub, "follow")) {
        store_execution row = {0};
        r = store_execution_get(m.st, id, &row, &e);
        store_execution_clear(&row);
    } else {
        fprintf(stderr, "kite execution: unknown command '%s'\n", sub);
        exec_usage(stderr);
        goto out;
    }
    if (r) {
        fprintf(stderr, "kite execution %s: %s\n", sub, e.msg);
        rc = 1;
        goto out;
    }
    store_state st;
    if (wait_end(&m, target, &st, &e)) {
        fprintf(stderr, "kite execution: %s\n", e.msg);
        rc = 1;
        goto out;
    }
    rc = finish(&m, target, st, json_out);
out:
    json_decref(inputs);
    embedded_close(&m);
    return rc;
}
