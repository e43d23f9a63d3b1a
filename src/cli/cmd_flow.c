/*
 * cmd_flow.c: `kite flow sync SOURCE --namespace NS [--delete] [--dry-run]
 * [--include-child-namespaces] [--branch B] [--git-directory D]`: the flow
 * files of a folder, or of a Git repository (a URL: cloned first), synced
 * into a namespace of the configured store (--data, $KITE_DATA or
 * --config), as io.kestra.plugin.git.SyncFlows does (tasks_flow_sync,
 * tasks/git.c).
 *
 * The command opens the store and an engine it never starts (no executor,
 * no worker: it only validates and stores flows through engine_flow_put),
 * so it can run next to a server on the same store, which sees the new
 * revisions (its API reads the store; its scheduler re-reads flows every
 * few seconds). A bad file is printed as file:line:col and skipped; the
 * exit code is 0 when everything synced, 1 when a file was skipped or the
 * sync failed, 2 for a usage error.
 */
#include "cli/cli.h"

#include "tasks/tasks.h"
#include "util/fs.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: kite flow sync SOURCE --namespace NS [--delete] [--dry-run] [--include-child-namespaces]\n"
               "                     [--branch B] [--git-directory D] [--username U] [--data DIR] [--config kite.yml]\n"
               "  SOURCE is a folder of flow files, or a Git URL (https://, ssh://, file://, user@host:path):\n"
               "  a repository is cloned and its --git-directory (default _flows) synced.\n"
               "  The password or token of a Git URL is read from $KITE_GIT_PASSWORD, an SSH key's\n"
               "  text from the file named by $KITE_GIT_KEY_FILE.\n");
}

static int is_url(const char *s)
{
    struct stat st;
    if (stat(s, &st) == 0)
        return 0;
    return strstr(s, "://") != NULL || (strchr(s, '@') && strchr(s, ':'));
}

static int put(void *ud, const char *src, size_t len, const char *name, int *rev, diags *d)
{
    return engine_flow_put(ud, src, len, name, rev, d);
}

static void say(void *ud, int warn, const char *msg)
{
    (void)ud;
    fprintf(stderr, "%s%s\n", warn ? "warning: " : "", msg);
}

static void print_list(const json_t *rep, const char *key, const char *word)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rep, key), i, v)
        printf("%s %s\n", word, json_string_value(v));
}

static void say_server(void *ud, int warn, const char *msg)
{
    (void)ud;
    fprintf(stderr, "kite server: git sync: %s%s\n", warn ? "warning: " : "", msg);
}

/* $KITE_GIT_KNOWN_HOSTS: a known_hosts file; when set, SSH host keys are
 * checked against it (a changed or unknown key is refused). */
static int read_known_hosts(buf *kh, kerr *e)
{
    const char *f = getenv("KITE_GIT_KNOWN_HOSTS");
    if (!f || !*f)
        return 0;
    if (fs_read_file(f, 16u << 20, kh, e)) {
        kerr_prefix(e, "$KITE_GIT_KNOWN_HOSTS");
        return -1;
    }
    if (!kh->data)
        buf_append(kh, "", 0);
    return 0;
}

int cli_git_sync_once(engine *en, store *st, const cli_config *cfg, kerr *e)
{
    const json_t *g = cfg->git_sync;
    const char *url = json_string_value(json_object_get(g, "url"));
    const char *branch = json_string_value(json_object_get(g, "branch"));
    const char *gitdir = json_string_value(json_object_get(g, "gitDirectory"));
    const char *user = json_string_value(json_object_get(g, "username"));
    if (!gitdir)
        gitdir = "_flows";
    const char *root = cfg->tmp_dir ? cfg->tmp_dir : getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    char *clone = xasprintf("%s/kite-git-sync-XXXXXX", root);
    if (!mkdtemp(clone)) {
        free(clone);
        return kerr_set(e, "cannot create a folder under %s", root);
    }
    char *repo = xasprintf("%s/repo", clone), *dir = NULL;
    buf key = BUF_INIT;
    json_t *rep = NULL;
    int rc = -1;
    buf kh = BUF_INIT;
    const char *kf = getenv("KITE_GIT_KEY_FILE");
    if (kf && *kf && fs_read_file(kf, 1 << 20, &key, e))
        goto out;
    if (read_known_hosts(&kh, e))
        goto out;
    int crc = tasks_git_clone(url, branch, user, getenv("KITE_GIT_PASSWORD"), key.len ? buf_str(&key) : NULL,
                              getenv("KITE_GIT_PASSPHRASE"), kh.data ? buf_str(&kh) : NULL, getenv("KITE_GIT_CA_FILE"),
                              root, repo, e);
    buf_free(&kh);
    if (crc)
        goto out;
    dir = *gitdir && strcmp(gitdir, ".") ? xasprintf("%s/%s", repo, gitdir) : xstrdup(repo);
    tasks_flow_sync_opts o = {.dir = dir, .dir_name = gitdir, .ns = json_string_value(json_object_get(g, "namespace")),
                              .children = json_is_true(json_object_get(g, "includeChildNamespaces")),
                              .del = json_is_true(json_object_get(g, "delete"))};
    if (tasks_flow_sync(st, put, en, &o, say_server, NULL, &rep, e))
        goto out;
    size_t a = json_array_size(json_object_get(rep, "added")), u = json_array_size(json_object_get(rep, "updated"));
    size_t d = json_array_size(json_object_get(rep, "deleted")), bad = json_array_size(json_object_get(rep, "invalid"));
    if (a || u || d || bad)
        fprintf(stderr, "kite server: git sync %s: %zu added, %zu updated, %zu deleted, %zu unchanged, %zu invalid\n",
                url, a, u, d, json_array_size(json_object_get(rep, "unchanged")), bad);
    rc = 0;
out:
    json_decref(rep);
    buf_free(&key);
    char *cmd = xasprintf("rm -rf '%s'", clone);
    if (system(cmd)) {
    }
    free(cmd);
    free(clone);
    free(repo);
    free(dir);
    return rc;
}

int cli_cmd_flow(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "sync")) {
        usage(stderr);
        return 2;
    }
    const char *source = argv[2], *ns = NULL, *branch = NULL, *gitdir = NULL, *user = NULL;
    tasks_flow_sync_opts o = {0};
    cli_config cfg;
    cli_config_defaults(&cfg);
    kerr e = KERR_INIT;
    int rc = 2, json_out = 0;
    char *clone = NULL, *dir = NULL;
    store *st = NULL;
    storage *fs = NULL;
    engine *en = NULL;
    json_t *rep = NULL;
    for (int i = 3; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config") && cli_config_load(&cfg, argv[i + 1], &e)) {
            fprintf(stderr, "kite flow sync: %s\n", e.msg);
            goto out;
        }
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--namespace") && has)
            ns = argv[++i];
        else if (!strcmp(a, "--delete"))
            o.del = 1;
        else if (!strcmp(a, "--dry-run"))
            o.dry_run = 1;
        else if (!strcmp(a, "--include-child-namespaces"))
            o.children = 1;
        else if (!strcmp(a, "--json"))
            json_out = 1;
        else if (!strcmp(a, "--branch") && has)
            branch = argv[++i];
        else if (!strcmp(a, "--git-directory") && has)
            gitdir = argv[++i];
        else if (!strcmp(a, "--username") && has)
            user = argv[++i];
        else if (!strcmp(a, "--data") && has) {
            free(cfg.data);
            cfg.data = xstrdup(argv[++i]);
        } else if (!strcmp(a, "--config") && has)
            i++;
        else {
            fprintf(stderr, "kite flow sync: unknown option '%s'\n", a);
            usage(stderr);
            goto out;
        }
    }
    if (!ns) {
        fprintf(stderr, "kite flow sync: --namespace is required\n");
        goto out;
    }
    rc = 1;
    if (is_url(source)) {
        const char *root = cfg.tmp_dir ? cfg.tmp_dir : getenv("TMPDIR");
        clone = xasprintf("%s/kite-flow-sync-XXXXXX", root && *root ? root : "/tmp");
        if (!mkdtemp(clone)) {
            fprintf(stderr, "kite flow sync: cannot create %s\n", clone);
            free(clone);
            clone = NULL;
            goto out;
        }
        char *repo = xasprintf("%s/repo", clone);
        buf key = BUF_INIT;
        const char *kf = getenv("KITE_GIT_KEY_FILE");
        if (kf && *kf && fs_read_file(kf, 1 << 20, &key, &e)) {
            fprintf(stderr, "kite flow sync: $KITE_GIT_KEY_FILE: %s\n", e.msg);
            free(repo);
            buf_free(&key);
            goto out;
        }
        buf kh = BUF_INIT;
        if (read_known_hosts(&kh, &e)) {
            fprintf(stderr, "kite flow sync: %s\n", e.msg);
            free(repo);
            buf_free(&key);
            goto out;
        }
        int crc = tasks_git_clone(source, branch, user, getenv("KITE_GIT_PASSWORD"), key.len ? buf_str(&key) : NULL,
                                  getenv("KITE_GIT_PASSPHRASE"), kh.data ? buf_str(&kh) : NULL,
                                  getenv("KITE_GIT_CA_FILE"), root && *root ? root : "/tmp", repo, &e);
        buf_free(&key);
        buf_free(&kh);
        if (crc) {
            fprintf(stderr, "kite flow sync: %s\n", e.msg);
            free(repo);
            goto out;
        }
        const char *g = gitdir ? gitdir : "_flows";
        dir = *g && strcmp(g, ".") ? xasprintf("%s/%s", repo, g) : xstrdup(repo);
        free(repo);
        o.dir_name = g;
    } else {
        dir = xstrdup(source);
        if (gitdir) {
            free(dir);
            dir = xasprintf("%s/%s", source, gitdir);
        }
        o.dir_name = NULL;
    }
    o.dir = dir;
    o.ns = ns;
    if (fs_mkdir_p(cfg.data, &e)) {
        fprintf(stderr, "kite flow sync: %s\n", e.msg);
        goto out;
    }
    char *url = cli_store_url(&cfg);
    int src = store_open(url, NULL, &st, &e);
    free(url);
    fs = src ? NULL : cli_storage_open(&cfg, st, &e);
    engine_opts eo = {.store = st, .storage = fs, .globals = cfg.globals, .env_prefix = cfg.env_prefix,
                      .tmp_dir = cfg.tmp_dir};
    if (src || !fs || !(en = engine_new(&eo, &e))) {
        fprintf(stderr, "kite flow sync: %s\n", e.msg);
        goto out;
    }
    if (tasks_flow_sync(st, put, en, &o, say, NULL, &rep, &e)) {
        fprintf(stderr, "kite flow sync: %s\n", e.msg);
        goto out;
    }
    if (json_out) {
        char *s = json_dumps(rep, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else {
        const char *w = o.dry_run ? "would " : "";
        char a[32], u[32], d[32];
        snprintf(a, sizeof a, "%sadd", w);
        snprintf(u, sizeof u, "%supdate", w);
        snprintf(d, sizeof d, "%sdelete", w);
        print_list(rep, "added", a);
        print_list(rep, "updated", u);
        print_list(rep, "deleted", d);
        printf("%s%zu added, %zu updated, %zu deleted, %zu unchanged, %zu invalid\n", o.dry_run ? "dry run: " : "",
               json_array_size(json_object_get(rep, "added")), json_array_size(json_object_get(rep, "updated")),
               json_array_size(json_object_get(rep, "deleted")), json_array_size(json_object_get(rep, "unchanged")),
               json_array_size(json_object_get(rep, "invalid")));
    }
    rc = json_array_size(json_object_get(rep, "invalid")) ? 1 : 0;
out:
    json_decref(rep);
    if (en)
        engine_free(en);
    if (fs)
        storage_free(fs);
    if (st)
        store_free(st);
    if (clone) {
        char *cmd = xasprintf("rm -rf '%s'", clone);
        if (system(cmd)) {
        }
        free(cmd);
        free(clone);
    }
    free(dir);
    cli_config_free(&cfg);
    return rc;
}
