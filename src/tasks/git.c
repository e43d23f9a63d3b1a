/*
 * git.c: the Git family: git.clone (io.kestra.plugin.git.Clone) and
 * git.sync_flows (io.kestra.plugin.git.SyncFlows) on libgit2, and
 * tasks_flow_sync (tasks.h), the flow sync that SyncFlows and
 * `kite flow sync` share. SyncNamespaceFiles, PushFlows,
 * PushNamespaceFiles and Push are declared (flows using them validate) but
 * not run yet.
 *
 * A sync reads every *.yml / *.yaml file of a folder (and of its subfolders
 * with includeChildNamespaces, each subfolder a child namespace: _flows/a/b
 * goes to <targetNamespace>.a.b), rewrites the file's first `namespace:`
 * line to that namespace, as Kestra's SyncFlows does, validates it, and
 * stores it as a new revision when it changed. A file that does not
 * validate is reported with file:line:col and skipped; the others still
 * sync. With `delete`, flows of the namespace (and its children, with
 * includeChildNamespaces) that no file names are deleted, except the flow
 * running the sync. dryRun reports what would change and writes nothing.
 *
 * DESIGN
 * The flow store belongs to the engine, above this layer: a task stores a
 * flow through the optional task_ctx_ops.flow_put hook (the engine's
 * engine_flow_put: validation, revisions, the webhook index), and the CLI
 * passes engine_flow_put itself. Reading and deleting go to the store
 * directly (store.h is below). A running server on the same store sees the
 * new revisions: its API reads the store, and its scheduler re-reads flows
 * every few seconds.
 *
 * Credentials: username/password (a token) over HTTPS, or privateKey (the
 * key's text, written to a 0600 temporary file for libssh2 and removed
 * after the clone) over SSH; both are registered with the masking. libgit2
 * (1.5) does not check SSH host keys against known_hosts: kite accepts the
 * host key, as Kestra's default does (documented in docs/git.md).
 */
#include "tasks/tasks_int.h"

#include "flow/flow.h"
#include "util/fs.h"
#include "util/mem.h"

#include <git2.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOW_FILE_MAX (4u << 20)

/* ---- cloning ------------------------------------------------------------------------------ */

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
    git_libgit2_init();
}

typedef struct gauth {
    const char *user, *pass, *keyfile, *passphrase;
    int tries, key_tried, pass_tried, refused;
} gauth;

static int cred_cb(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed, void *payload)
{
    gauth *a = payload;
    /* asked again for what was already offered: it was refused (an sshd
     * drops the connection after a few tries, so never loop) */
    if (++a->tries > 4) {
        a->refused = 1;
        return GIT_EUSER;
    }
    const char *user = a->user && *a->user ? a->user : user_from_url && *user_from_url ? user_from_url : "git";
    if ((allowed & GIT_CREDENTIAL_USERNAME) && !(allowed & ~GIT_CREDENTIAL_USERNAME))
        return git_credential_username_new(out, user);
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && a->keyfile) {
        if (a->key_tried++) {
            a->refused = 1;
            return GIT_EUSER;
        }
        return git_credential_ssh_key_new(out, user, NULL, a->keyfile, a->passphrase ? a->passphrase : "");
    }
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && a->pass) {
        if (a->pass_tried++) {
            a->refused = 1;
            return GIT_EUSER;
        }
        return git_credential_userpass_plaintext_new(out, user, a->pass);
    }
    a->refused = 1;
    return GIT_EUSER;
}

static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
    (void)payload;
    (void)host;
    if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2)
        return 0; /* see the top of the file: SSH host keys are accepted */
    return valid ? 0 : -1;
}

int tasks_git_clone(const char *url, const char *branch, const char *user, const char *pass, const char *key,
                    const char *passphrase, const char *tmp_root, const char *dest, kerr *e)
{
    pthread_once(&git_once, git_init_once);
    gauth a = {user, pass && *pass ? pass : NULL, NULL, passphrase, 0, 0, 0, 0};
    char *kpath = NULL;
    if (key && *key) {
        kpath = xasprintf("%s/kite-git-key-XXXXXX", tmp_root && *tmp_root ? tmp_root : "/tmp");
        int fd = mkstemp(kpath);
        size_t kl = strlen(key);
        int bad = fd < 0 || tasks__write_all(fd, key, kl) || (key[kl - 1] != '\n' && tasks__write_all(fd, "\n", 1));
        if (fd >= 0)
            close(fd);
        if (bad) {
            kerr_set(e, "cannot write the private key to a temporary file: %s", strerror(errno));
            if (fd >= 0)
                unlink(kpath);
            free(kpath);
            return -1;
        }
        a.keyfile = kpath;
    }
    git_clone_options o;
    git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
    if (branch && *branch)
        o.checkout_branch = branch;
    o.fetch_opts.callbacks.credentials = cred_cb;
    o.fetch_opts.callbacks.certificate_check = cert_cb;
    o.fetch_opts.callbacks.payload = &a;
    git_repository *repo = NULL;
    int rc = git_clone(&repo, url, dest, &o);
    if (kpath) {
        unlink(kpath);
        free(kpath);
    }
    if (rc) {
        const git_error *ge = git_error_last();
        if (a.refused)
            return kerr_set(e, "git clone %s: authentication failed (%s)", url,
                            a.key_tried || a.pass_tried ? "the credentials were refused" : "no credentials given");
        return kerr_set(e, "git clone %s%s%s: %s", url, branch && *branch ? " branch " : "", branch ? branch : "",
                        ge && ge->message ? ge->message : "failed");
    }
    git_repository_free(repo);
    return 0;
}

/* ---- the flow sync (tasks.h) --------------------------------------------------------------- */

/* The source with its first line starting "namespace:" replaced. */
static char *replace_namespace(const char *src, size_t len, const char *ns)
{
    buf b = BUF_INIT;
    const char *p = src, *end = src + len;
    int done = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl + 1 : end;
        if (!done && !strncmp(p, "namespace:", 10)) {
            buf_printf(&b, "namespace: %s\n", ns);
            done = 1;
        } else {
            buf_append(&b, p, (size_t)(le - p));
        }
        p = le;
    }
    if (!done) { /* no namespace line: the validator reports it */
    }
    return buf_steal(&b);
}

typedef struct syncer {
    store *st;
    tasks_flow_put_fn put;
    void *ud;
    const tasks_flow_sync_opts *o;
    json_t *rep, *seen; /* seen: "ns/id" -> true */
    tasks_flow_sync_log_fn log;
    void *log_ud;
    int invalid;
} syncer;

static void say(syncer *s, int warn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(syncer *s, int warn, const char *fmt, ...)
{
    if (!s->log)
        return;
    char m[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    s->log(s->log_ud, warn, m);
}

static void add_row(syncer *s, const char *state, const char *ns, const char *id, int revision, const char *path)
{
    json_t *row = json_pack("{s:s,s:s,s:s,s:i}", "syncState", state, "flowId", id, "namespace", ns, "revision", revision);
    if (path)
        json_object_set_new(row, "gitPath", json_string(path));
    json_array_append_new(json_object_get(s->rep, "flows"), row);
    const char *key = !strcmp(state, "ADDED") ? "added" : !strcmp(state, "UPDATED") ? "updated"
                    : !strcmp(state, "DELETED") ? "deleted" : "unchanged";
    json_array_append_new(json_object_get(s->rep, key), json_sprintf("%s.%s", ns, id));
}

static int sync_file(syncer *s, const char *abs, const char *rel, const char *ns, kerr *e)
{
    buf src = BUF_INIT;
    kerr fe = KERR_INIT;
    if (fs_read_file(abs, FLOW_FILE_MAX, &src, &fe)) {
        say(s, 1, "%s: %s: skipped", rel, fe.msg);
        s->invalid++;
        json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
        buf_free(&src);
        return 0;
    }
    char *text = replace_namespace(buf_str(&src), src.len, ns);
    buf_free(&src);
    size_t tl = strlen(text);
    diags d = DIAGS_INIT;
    flow *fl = NULL;
    if (flow_load_text(text, tl, rel, &fl, &d)) {
        for (size_t i = 0; i < d.n; i++)
            if (!d.v[i].warning)
                say(s, 1, "%s:%d:%d: %s (skipped)", d.v[i].file ? d.v[i].file : rel, d.v[i].line, d.v[i].col,
                    d.v[i].msg);
        s->invalid++;
        json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
        /* the flow a broken file stands for is not deleted: its id is the file's name */
        const char *b = strrchr(rel, '/');
        char *id = xstrdup(b ? b + 1 : rel);
        char *dot = strrchr(id, '.');
        if (dot)
            *dot = '\0';
        char key[512];
        snprintf(key, sizeof key, "%s/%s", ns, id);
        json_object_set_new(s->seen, key, json_true());
        free(id);
        diags_free(&d);
        free(text);
        return 0;
    }
    diags_free(&d);
    char key[512];
    snprintf(key, sizeof key, "%s/%s", fl->namespace, fl->id);
    json_object_set_new(s->seen, key, json_true());
    store_flow cur;
    memset(&cur, 0, sizeof cur);
    kerr ge = KERR_INIT;
    int had = store_flow_get(s->st, fl->namespace, fl->id, 0, &cur, &ge) == 0;
    int before = had ? cur.revision : 0;
    int same = had && cur.source && !strcmp(cur.source, text);
    store_flow_clear(&cur);
    int rc = 0;
    if (s->o->dry_run) {
        add_row(s, !had ? "ADDED" : same ? "UNCHANGED" : "UPDATED", fl->namespace, fl->id, had ? before + !same : 1, rel);
    } else {
        int rev = 0;
        diags pd = DIAGS_INIT;
        if (s->put(s->ud, text, tl, rel, &rev, &pd)) {
            if (pd.n) {
                for (size_t i = 0; i < pd.n; i++)
                    if (!pd.v[i].warning)
                        say(s, 1, "%s:%d:%d: %s (skipped)", pd.v[i].file ? pd.v[i].file : rel, pd.v[i].line,
                            pd.v[i].col, pd.v[i].msg);
                s->invalid++;
                json_array_append_new(json_object_get(s->rep, "invalid"), json_string(rel));
            } else {
                rc = kerr_set(e, "%s: the flow could not be stored", rel);
            }
        } else {
            add_row(s, !had ? "ADDED" : rev == before ? "UNCHANGED" : "UPDATED", fl->namespace, fl->id, rev, rel);
        }
        diags_free(&pd);
    }
    flow_free(fl);
    free(text);
    return rc;
}

static int is_flow_file(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml")));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Syncs folder abs (rel: what messages call it) into namespace ns. */
static int sync_dir(syncer *s, const char *abs, const char *rel, const char *ns, kerr *e)
{
    DIR *d = opendir(abs);
    if (!d)
        return kerr_set(e, "%s: %s", rel, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *pa = xasprintf("%s/%s", abs, names[i]);
        char *pr = xasprintf("%s/%s", rel, names[i]);
        struct stat st;
        if (stat(pa, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (s->o->children) {
                char *cns = xasprintf("%s.%s", ns, names[i]);
                if (flow_valid_namespace(cns))
                    rc = sync_dir(s, pa, pr, cns, e);
                else
                    say(s, 1, "%s: '%s' is not a valid namespace: skipped", pr, cns);
                free(cns);
            }
        } else if (S_ISREG(st.st_mode) && is_flow_file(names[i])) {
            rc = sync_file(s, pa, pr, ns, e);
        }
        free(pa);
        free(pr);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int tasks_flow_sync(store *st, tasks_flow_put_fn put, void *ud, const tasks_flow_sync_opts *o,
                    tasks_flow_sync_log_fn log, void *log_ud, json_t **report, kerr *e)
{
    *report = NULL;
    if (!o->ns || !flow_valid_namespace(o->ns))
        return kerr_set(e, "'%s' is not a valid namespace", o->ns ? o->ns : "");
    struct stat sb;
    if (stat(o->dir, &sb) || !S_ISDIR(sb.st_mode))
        return kerr_set(e, "%s: not a folder", o->dir_name ? o->dir_name : o->dir);
    syncer s = {st, put, ud, o, NULL, json_object(), log, log_ud, 0};
    s.rep = json_pack("{s:[],s:[],s:[],s:[],s:[],s:[]}", "flows", "added", "updated", "deleted", "unchanged", "invalid");
    int rc = sync_dir(&s, o->dir, o->dir_name ? o->dir_name : o->dir, o->ns, e);
    if (!rc && o->del) {
        store_flow_query q = {.ns_prefix = o->ns};
        store_flow *v = NULL;
        size_t n = 0;
        if (store_flow_search(st, &q, &v, &n, NULL, e)) {
            rc = -1;
        } else {
            for (size_t i = 0; i < n && !rc; i++) {
                if (!o->children && strcmp(v[i].namespace, o->ns))
                    continue;
                char key[512];
                snprintf(key, sizeof key, "%s/%s", v[i].namespace, v[i].id);
                if (json_object_get(s.seen, key))
                    continue;
                if (o->keep_ns && o->keep_id && !strcmp(o->keep_ns, v[i].namespace) && !strcmp(o->keep_id, v[i].id))
                    continue;
                if (!o->dry_run && store_flow_delete(st, v[i].namespace, v[i].id, e)) {
                    rc = -1;
                    break;
                }
                add_row(&s, "DELETED", v[i].namespace, v[i].id, v[i].revision, NULL);
            }
            store_flows_free(v, n);
        }
    }
    json_decref(s.seen);
    if (rc) {
        json_decref(s.rep);
        return -1;
    }
    *report = s.rep;
    return 0;
}

/* ---- the tasks ------------------------------------------------------------------------------ */

typedef struct gprops {
    char *url, *branch, *user, *pass, *key, *passphrase;
} gprops;

static void gprops_free(gprops *g)
{
    free(g->url), free(g->branch), free(g->user), free(g->pass), free(g->key), free(g->passphrase);
}

static int read_gprops(task_ctx *c, const char *dflt_branch, gprops *g, kerr *e)
{
    memset(g, 0, sizeof *g);
    if (tasks__prop_text(c, "url", NULL, &g->url, e) || tasks__prop_text(c, "branch", dflt_branch, &g->branch, e) ||
        tasks__prop_text(c, "username", NULL, &g->user, e) || tasks__prop_text(c, "password", NULL, &g->pass, e) ||
        tasks__prop_text(c, "privateKey", NULL, &g->key, e) || tasks__prop_text(c, "passphrase", NULL, &g->passphrase, e))
        return -1;
    task_secret(c, g->pass);
    task_secret(c, g->key);
    task_secret(c, g->passphrase);
    if (!g->url || !*g->url)
        return kerr_set(e, "property 'url' is required (the repository's URL)");
    return 0;
}

static const char *tmp_root(task_ctx *c)
{
    const char *r = c->tmp_root && *c->tmp_root ? c->tmp_root : getenv("TMPDIR");
    return r && *r ? r : "/tmp";
}

static task_result clone_run(task_ctx *c, kerr *e)
{
    gprops g;
    char *dir = NULL, *dest = NULL;
    task_result res = TASK_FAILED;
    if (read_gprops(c, NULL, &g, e) || tasks__prop_text(c, "directory", NULL, &dir, e))
        goto out;
    if (dir && *dir && tasks__check_rel("directory", dir, e))
        goto out;
    const char *base = c->workdir;
    char *own = NULL;
    if (!base) {
        own = xasprintf("%s/kite-git-XXXXXX", tmp_root(c));
        if (!mkdtemp(own)) {
            kerr_set(e, "cannot create a folder under %s: %s", tmp_root(c), strerror(errno));
            free(own);
            goto out;
        }
        base = own;
        task_log(c, LEVEL_WARN, "not inside a WorkingDirectory: the clone goes to %s, which later tasks do not share", own);
    }
    dest = dir && *dir ? xasprintf("%s/%s", base, dir) : xstrdup(base);
    free(own);
    if (tasks_git_clone(g.url, g.branch, g.user, g.pass, g.key, g.passphrase, tmp_root(c), dest, e))
        goto out;
    task_output(c, "directory", json_string(dest));
    res = TASK_SUCCESS;
out:
    gprops_free(&g);
    free(dir), free(dest);
    return res;
}

static int task_put(void *ud, const char *src, size_t len, const char *name, int *rev, diags *d)
{
    task_ctx *c = ud;
    return c->ops->flow_put(c, src, len, name, rev, d);
}

static void task_say(void *ud, int warn, const char *msg)
{
    task_log(ud, warn ? LEVEL_WARN : LEVEL_INFO, "%s", msg);
}

static task_result sync_flows_run(task_ctx *c, kerr *e)
{
    gprops g;
    char *gitdir = NULL, *ns = NULL, *clone = NULL, *dir = NULL;
    int children = 0, del = 0, dry = 0;
    json_t *rep = NULL;
    task_result res = TASK_FAILED;
    if (read_gprops(c, "main", &g, e) || tasks__prop_text(c, "gitDirectory", "_flows", &gitdir, e) ||
        tasks__prop_text(c, "targetNamespace", NULL, &ns, e) ||
        task_prop_bool(c, "includeChildNamespaces", 0, &children, e) || task_prop_bool(c, "delete", 0, &del, e) ||
        task_prop_bool(c, "dryRun", 0, &dry, e))
        goto out;
    if (!ns || !*ns) {
        kerr_set(e, "property 'targetNamespace' is required");
        goto out;
    }
    if (!c->ops->flow_put) {
        kerr_set(e, "this engine cannot store flows from a task");
        goto out;
    }
    if (*gitdir && strcmp(gitdir, ".") && tasks__check_rel("gitDirectory", gitdir, e))
        goto out;
    clone = xasprintf("%s/kite-git-XXXXXX", tmp_root(c));
    if (!mkdtemp(clone)) {
        kerr_set(e, "cannot create a folder under %s: %s", tmp_root(c), strerror(errno));
        free(clone);
        clone = NULL;
        goto out;
    }
    char *repo = xasprintf("%s/repo", clone);
    int crc = tasks_git_clone(g.url, g.branch, g.user, g.pass, g.key, g.passphrase, tmp_root(c), repo, e);
    free(repo);
    if (crc)
        goto out;
    dir = *gitdir && strcmp(gitdir, ".") ? xasprintf("%s/repo/%s", clone, gitdir) : xasprintf("%s/repo", clone);
    tasks_flow_sync_opts o = {.dir = dir, .dir_name = *gitdir ? gitdir : ".", .ns = ns, .children = children,
                              .del = del, .dry_run = dry, .keep_ns = c->namespace, .keep_id = c->flow_id};
    int invalid = 0;
    if (tasks_flow_sync(c->store, task_put, c, &o, task_say, c, &rep, e))
        goto out;
    invalid = (int)json_array_size(json_object_get(rep, "invalid"));
    task_log(c, LEVEL_INFO, "%s%zu added, %zu updated, %zu deleted, %zu unchanged, %d invalid", dry ? "dry run: " : "",
             json_array_size(json_object_get(rep, "added")), json_array_size(json_object_get(rep, "updated")),
             json_array_size(json_object_get(rep, "deleted")), json_array_size(json_object_get(rep, "unchanged")), invalid);
    const char *k;
    json_t *v;
    json_object_foreach(rep, k, v)
        task_output(c, k, json_incref(v));
    res = invalid ? TASK_WARNING : TASK_SUCCESS;
out:
    if (clone) {
        kerr re = KERR_INIT;
        char *argv[] = {"rm", "-rf", clone, NULL};
        proc_spec sp;
        proc_spec_init(&sp);
        sp.argv = (const char *const *)argv;
        proc_result r;
        proc_run(&sp, &r, &re);
        free(clone);
    }
    json_decref(rep);
    gprops_free(&g);
    free(gitdir), free(ns), free(dir);
    return res;
}

static const struct task_hooks clone_hooks = {.run = clone_run};
static const struct task_hooks sync_flows_hooks = {.run = sync_flows_run};

/* ---- the family's types ---- */

#define P_GIT_CONN                                                                            \
    PSTR("url", PF_REQUIRED, NULL, "the repository (https://, ssh://, git@host:path, file://)"), \
    PSTR("username", 0, NULL, "the user (HTTPS; SSH: default from the URL, else git)"),      \
    PSTR("password", 0, NULL, "the password or token (HTTPS)"),                               \
    PSTR("privateKey", 0, NULL, "the SSH private key's text"),                                \
    PSTR("passphrase", 0, NULL, "the private key's passphrase"),                              \
    PSTR("gitConfig", 0, NULL, "git configuration (not used by kite)")

const type_def tasks__git[] = {
    {
        .name = "git.clone",
        .hooks = &clone_hooks,
        .aliases = ALIASES("io.kestra.plugin.git.Clone"),
        .desc = "Clone a Git repository into the working directory (output directory).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, NULL, "the branch (default: the remote's HEAD)"),
                       PSTR("directory", 0, NULL, "a folder inside the working directory"),
                       PINT("depth", 0, "1", "history depth (kite clones the whole history)"),
                       PBOOL("cloneSubmodules", 0, "false", "also the submodules (not done by kite yet)")),
    },
    {
        .name = "git.sync_flows",
        .hooks = &sync_flows_hooks,
        .aliases = ALIASES("io.kestra.plugin.git.SyncFlows"),
        .desc = "Sync the flows of a Git folder into a namespace (outputs flows, added, updated, deleted, "
                "unchanged, invalid).",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_flows\"", "the folder of the flows in the repository"),
                       PSTR("targetNamespace", PF_REQUIRED, NULL, "the namespace the flows go to"),
                       PBOOL("includeChildNamespaces", 0, "false", "subfolders are child namespaces"),
                       PBOOL("delete", 0, "false", "delete the namespace's flows that no file names"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing"),
                       PBOOL("ignoreInvalidFlows", 0, "false", "kite always skips invalid files (and reports them)")),
    },
    {
        .name = "git.sync_namespace_files",
        .flags = TF_DECLARED_ONLY,
        .aliases = ALIASES("io.kestra.plugin.git.SyncNamespaceFiles"),
        .desc = "Sync namespace files from a Git folder.",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_files\"", "the folder in the repository"),
                       PSTR("namespace", PF_REQUIRED, NULL, "the namespace"), PBOOL("delete", 0, "false", "delete what the source no longer has"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing")),
    },
    {
        .name = "git.push_flows",
        .flags = TF_DECLARED_ONLY,
        .aliases = ALIASES("io.kestra.plugin.git.PushFlows"),
        .desc = "Commit and push a namespace's flows to a Git folder.",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_flows\"", "the folder in the repository"),
                       PSTR("sourceNamespace", 0, NULL, "the namespace"), PANY("flows", 0, NULL, "flow ids or globs"),
                       PBOOL("includeChildNamespaces", 0, "false", "child namespaces too"), PBOOL("delete", 0, "true", "delete what the source no longer has"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing"), PSTR("commitMessage", 0, NULL, "the commit message"),
                       PANY("author", 0, NULL, "name and email")),
    },
    {
        .name = "git.push_namespace_files",
        .flags = TF_DECLARED_ONLY,
        .aliases = ALIASES("io.kestra.plugin.git.PushNamespaceFiles"),
        .desc = "Commit and push namespace files to a Git folder.",
        .props = PROPS(P_GIT_CONN, PSTR("branch", 0, "\"main\"", "the branch"),
                       PSTR("gitDirectory", 0, "\"_files\"", "the folder in the repository"),
                       PSTR("namespace", 0, NULL, "the namespace"), PANY("files", 0, NULL, "globs"),
                       PBOOL("delete", 0, "true", "delete what the source no longer has"), PBOOL("dryRun", 0, "false", "report only, change nothing"),
                       PSTR("commitMessage", 0, NULL, "the commit message"), PANY("author", 0, NULL, "name and email")),
    },
    {
        .name = "git.push",
        .flags = TF_DECLARED_ONLY,
        .aliases = ALIASES("io.kestra.plugin.git.Push"),
        .desc = "Commit and push the working directory to a Git branch.",
        .props = PROPS(P_GIT_CONN, PSTR("branch", PF_REQUIRED, NULL, "the branch"),
                       PSTR("directory", 0, NULL, "the clone's folder"), PSTR("commitMessage", PF_REQUIRED, NULL, "the commit message"),
                       PANY("author", 0, NULL, "name and email"), PANY("addFilesPattern", 0, NULL, "globs"),
                       PANY("inputFiles", 0, NULL, "files to write before the commit"), PANY("namespaceFiles", 0, NULL, "namespace files to include"),
                       PBOOL("dryRun", 0, "false", "report only, change nothing")),
    },
};

const size_t tasks__git_count = sizeof tasks__git / sizeof tasks__git[0];
