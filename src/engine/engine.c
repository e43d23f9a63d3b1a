/*
 * engine.c: the engine object: its lifecycle (new, start, stop, free), the
 * cache of compiled flows and the cache of executions in memory.
 *
 * DESIGN
 * The engine's rooms, one job each:
 *   engine.c    the object, its lifecycle and its caches (this file)
 *   loop.c      the executor thread: lease events, step, write in one transaction
 *   executor.c  the step function (deterministic, in memory)
 *   worker.c    the worker threads that run runnable tasks
 *   ops.c       the operations on executions (submit, kill, resume, restart, replay, wait)
 *   log.c       log lines and secret masking
 *   secrets.c   where secret() looks: kite's store, Vault, SECRET_*
 *   view.c      Kestra's JSON of executions, task runs, flows and logs
 *   model.c     the compiled flow and the execution model, expression contexts
 *   inputs.c    typed inputs and outputs
 * engine_start starts the threads whose entry points live in loop.c and
 * worker.c; they use the caches below through engine_int.h.
 *
 * Both caches are refcounted under en->lock: engine_flow_get / _release,
 * engine_exec_get / _release. A flow is keyed by (namespace, id, revision)
 * and never changes once compiled; an execution is written only by the
 * executor thread (engine_int.h) and dropped from memory when it ends.
 *
 * The executor is the only writer of executions and task runs
 * (engine_int.h). Leases are held per process ("<worker_id>/executor",
 * "<worker_id>/worker-<n>"): at start-up the leases of processes known dead
 * and those past their deadline are handed back, those of live processes
 * are not; at stop the engine gives back its own. So a kill -9 loses
 * nothing committed, and a second process on the store steals nothing.
 */
#include "engine/engine_int.h"
#include "util/aesgcm.h"
#include "flow/schema.h"
#include "util/datetime.h"
#include "util/digest.h"
#include "util/mem.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- flows ------------------------------------------------------------------------------ */

/* "ns\x1fid" */
static void file_key(char *out, size_t outsz, const char *ns, const char *id)
{
    snprintf(out, outsz, "%s\x1f%s", ns, id);
}

int engine_webhook_index(store *st, const char *ns, const char *id, int revision, const json_t *doc, kerr *e)
{
    store_webhook_key *keys = NULL;
    size_t n = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "triggers"), i, t)
    {
        const char *type = json_string_value(json_object_get(t, "type"));
        const type_def *d = type ? flow_type_find(type) : NULL;
        const char *tid = json_string_value(json_object_get(t, "id"));
        const char *key = json_string_value(json_object_get(t, "key"));
        if (!d || strcmp(d->name, "trigger.webhook") || !tid || !*tid || !key)
            continue;
        keys = xrealloc(keys, (n + 1) * sizeof *keys);
        store_webhook_key *k = &keys[n++];
        k->trigger_id = xstrdup(tid);
        k->key_sha256 = NULL;
        k->key_template = NULL;
        if (expr_is_template(key)) {
            k->key_template = xstrdup(key);
        } else {
            char hex[65];
            digest_sha256_hex(key, strlen(key), hex);
            k->key_sha256 = xstrdup(hex);
        }
    }
    int rc = store_webhook_keys_put(st, ns, id, revision, keys, n, e);
    store_webhook_keys_free(keys, n);
    return rc;
}

/* Puts the compiled flow of a revision just stored in the cache, so that
 * the executor's first engine_flow_get does not parse it again; f is the
 * cache's then, else freed. Only for a flow put with a name: that is the
 * file engine_flow_get would parse it as (engine_flow_file). */
static void flow_cache_put(engine *en, flow *f, int rev)
{
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%d", f->namespace, f->id, rev);
    pthread_mutex_lock(&en->lock);
    int have = json_object_get(en->flow_index, key) != NULL;
    pthread_mutex_unlock(&en->lock);
    if (have) {
        flow_free(f);
        return;
    }
    kerr e = KERR_INIT;
    eflow *fl = eflow_new(f, rev, &e);
    if (!fl)
        return;
    pthread_mutex_lock(&en->lock);
    if (json_object_get(en->flow_index, key)) {
        pthread_mutex_unlock(&en->lock);
        eflow_free(fl);
        return;
    }
    en->flows = xrealloc(en->flows, (en->nflows + 1) * sizeof *en->flows);
    en->flows[en->nflows] = fl;
    json_object_set_new(en->flow_index, key, json_integer((json_int_t)en->nflows));
    en->nflows++;
    fl->refs = 1; /* the cache's */
    pthread_mutex_unlock(&en->lock);
}

int engine_flow_put(engine *en, const char *source, size_t len, const char *name, int *revision, diags *d)
{
    flow *f;
    if (flow_load_text(source, len, name ? name : "<api>", &f, d))
        return -1;
    return engine_flow_put_parsed(en, f, name, revision, d);
}

int engine_flow_put_parsed(engine *en, flow *f, const char *name, int *revision, diags *d)
{
    kerr e = KERR_INIT;
    int rev = 0, created = 0;
    int rc = store_flow_put(en->o.store, f->namespace, f->id, f->source, f->doc, &rev, &created, &e);
    /* the webhook index follows the revision; if this write fails, the index
     * is stale and readers fall back to reading the flow, which is correct */
    if (!rc && engine_webhook_index(en->o.store, f->namespace, f->id, rev, f->doc, &e))
        kerr_clear(&e);
    if (rc) {
        diags_add(d, f->file, 0, 0, NULL, "cannot store the flow: %s", e.msg);
    } else {
        if (revision)
            *revision = rev;
        char key[600];
        file_key(key, sizeof key, f->namespace, f->id);
        pthread_mutex_lock(&en->lock);
        if (name)
            json_object_set_new(en->flow_files, key, json_string(name));
        else
            json_object_del(en->flow_files, key);
        pthread_mutex_unlock(&en->lock);
        if (name) {
            flow_cache_put(en, f, rev);
            return 0;
        }
    }
    flow_free(f);
    return rc ? -1 : 0;
}

int engine_flow_create(engine *en, const char *source, size_t len, int must_be_new, const char *ns, const char *id,
                       store_flow *row, diags *d, kerr *e)
{
    flow *f;
    int lrc = flow_load_text(source, len, "<api>", &f, d);
    if (lrc) {
        kerr_setc(e, KERR_INVALID, "the flow is not valid");
        return lrc == FLOW_NOT_YAML ? -2 : -1;
    }
    if (ns && id && (strcmp(f->namespace, ns) || strcmp(f->id, id))) {
        kerr_setc(e, KERR_INVALID,
                  "the body is flow %s.%s but the URL names %s.%s: a flow's namespace and id cannot change",
                  f->namespace, f->id, ns, id);
        flow_free(f);
        return -1;
    }
    store *st = en->o.store;
    int rc = store_begin(st, e);
    if (!rc) {
        store_flow cur = {0};
        kerr ge = KERR_INIT;
        int exists = store_flow_get(st, f->namespace, f->id, 0, &cur, &ge) == STORE_OK;
        store_flow_clear(&cur);
        if (!exists && ge.code != KERR_NOT_FOUND)
            rc = kerr_setc(e, ge.code, "%s", ge.msg);
        else if (must_be_new && exists)
            rc = kerr_setc(e, KERR_DUPLICATE, "flow %s.%s already exists", f->namespace, f->id);
        else if (!must_be_new && !exists)
            rc = kerr_setc(e, KERR_NOT_FOUND, "flow %s.%s not found", f->namespace, f->id);
        if (!rc)
            rc = store_flow_put(st, f->namespace, f->id, f->source, f->doc, NULL, NULL, e);
        if (!rc)
            rc = store_flow_get(st, f->namespace, f->id, 0, row, e);
        if (!rc) /* the webhook index follows the revision, in the same transaction */
            rc = engine_webhook_index(st, f->namespace, f->id, row->revision, f->doc, e);
        if (rc)
            store_rollback(st);
        else
            rc = store_commit(st, e);
    }
    if (!rc) {
        char key[600];
        file_key(key, sizeof key, f->namespace, f->id);
        pthread_mutex_lock(&en->lock);
        json_object_del(en->flow_files, key); /* an API flow: "{namespace}/{id}.yaml" */
        pthread_mutex_unlock(&en->lock);
    } else {
        store_flow_clear(row);
    }
    flow_free(f);
    return rc ? -1 : 0;
}

void engine_flow_file(engine *en, const char *ns, const char *id, char *out, size_t outsz)
{
    char key[600];
    file_key(key, sizeof key, ns, id);
    pthread_mutex_lock(&en->lock);
    const char *name = json_string_value(json_object_get(en->flow_files, key));
    if (name)
        snprintf(out, outsz, "%s", name);
    else
        snprintf(out, outsz, "%s/%s.yaml", ns, id);
    pthread_mutex_unlock(&en->lock);
}

/* The cached compiled flow of revision rev (> 0) of ns.id, a new
 * reference, or NULL when it is not in the cache. */
static eflow *flow_cache_ref(engine *en, const char *ns, const char *id, int rev)
{
    if (rev <= 0)
        return NULL;
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%d", ns, id, rev);
    eflow *fl = NULL;
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->flow_index, key);
    if (slot) {
        fl = en->flows[json_integer_value(slot)];
        fl->refs++;
    }
    pthread_mutex_unlock(&en->lock);
    return fl;
}

eflow *engine_flow_get(engine *en, const char *ns, const char *id, int revision, kerr *e)
{
    /* a revision's row never changes, so its deleted flag, cached with it,
     * holds too */
    eflow *cached = flow_cache_ref(en, ns, id, revision);
    if (cached)
        return cached;
    store_flow sf = {0};
    if (store_flow_get(en->o.store, ns, id, revision, &sf, e)) {
        if (e && e->code == STORE_NOT_FOUND) {
            if (revision)
                kerr_set(e, "flow %s.%s revision %d not found", ns, id, revision);
            else
                kerr_set(e, "flow %s.%s not found", ns, id);
        }
        return NULL;
    }
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%d", ns, id, sf.revision);
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->flow_index, key);
    if (slot) {
        eflow *fl = en->flows[json_integer_value(slot)];
        fl->refs++;
        pthread_mutex_unlock(&en->lock);
        store_flow_clear(&sf);
        return fl;
    }
    pthread_mutex_unlock(&en->lock);
    diags d = DIAGS_INIT;
    flow *f;
    char file[512];
    engine_flow_file(en, ns, id, file, sizeof file);
    if (flow_load_text(sf.source, strlen(sf.source), file, &f, &d)) {
        const diag *g = diags_first_error(&d);
        kerr_setc(e, KERR_INVALID, "flow %s.%s revision %d is not valid any more: %s", ns, id, sf.revision,
                  g ? g->msg : "?");
        diags_free(&d);
        store_flow_clear(&sf);
        return NULL;
    }
    diags_free(&d); /* a valid flow's warnings: validation printed them */
    eflow *fl = eflow_new(f, sf.revision, e);
    if (fl)
        fl->deleted = sf.deleted;
    store_flow_clear(&sf);
    pthread_mutex_lock(&en->lock);
    slot = json_object_get(en->flow_index, key);
    if (slot) { /* another thread loaded it meanwhile */
        eflow *other = en->flows[json_integer_value(slot)];
        other->refs++;
        pthread_mutex_unlock(&en->lock);
        eflow_free(fl);
        return other;
    }
    en->flows = xrealloc(en->flows, (en->nflows + 1) * sizeof *en->flows);
    en->flows[en->nflows] = fl;
    json_object_set_new(en->flow_index, key, json_integer((json_int_t)en->nflows));
    en->nflows++;
    fl->refs = 2; /* the cache's and the caller's */
    pthread_mutex_unlock(&en->lock);
    return fl;
}

const json_t *engine_flow_doc(const eflow *fl) { return fl->f->doc; }

int engine_flow_revision(const eflow *fl) { return fl->revision; }

void engine_flow_release(engine *en, eflow *fl)
{
    if (!fl)
        return;
    pthread_mutex_lock(&en->lock);
    fl->refs--;
    pthread_mutex_unlock(&en->lock);
}

/* ---- executions in memory ---------------------------------------------------------------- */

/* A store error that says the rows themselves are bad (they will be bad at
 * the next try too), not the database's state of the moment (locked, I/O). */
static int rows_are_bad(const kerr *e)
{
    return strstr(e->msg, "corrupt") != NULL;
}

/* Loads an execution with its task runs. When it can never load (a corrupt
 * row, a flow revision gone or invalid, more task runs than maxTaskRuns,
 * runs naming tasks its flow lacks), e->code is ENGINE_E_UNLOADABLE and the
 * executor quarantines it (loop.c); other failures may pass. */
static xexec *load_exec(engine *en, const char *id, kerr *e)
{
    store_execution row = {0};
    if (store_execution_get(en->o.store, id, &row, e)) {
        if (rows_are_bad(e))
            e->code = ENGINE_E_UNLOADABLE;
        return NULL;
    }
    /* a revision compiled already is not read from the store again */
    eflow *fl = flow_cache_ref(en, row.namespace, row.flow_id, row.flow_revision);
    if (!fl)
        fl = engine_flow_get(en, row.namespace, row.flow_id, row.flow_revision, e);
    if (!fl) {
        if (e->code == STORE_NOT_FOUND || strstr(e->msg, "not valid any more") || rows_are_bad(e))
            e->code = ENGINE_E_UNLOADABLE;
        store_execution_clear(&row);
        return NULL;
    }
    /* never more in memory than an execution may have */
    int64_t count = 0;
    if (store_task_run_count(en->o.store, id, &count, e)) {
        store_execution_clear(&row);
        engine_flow_release(en, fl);
        return NULL;
    }
    if ((size_t)count > en->max_task_runs) {
        kerr_set(e, "execution %s has %lld task runs, more than engine.maxTaskRuns (%zu)", id, (long long)count,
                 en->max_task_runs);
        e->code = ENGINE_E_UNLOADABLE;
        store_execution_clear(&row);
        engine_flow_release(en, fl);
        return NULL;
    }
    xexec *x = xexec_new(fl);
    x->row = row;
    /* a restarted process knows an execution's SECRET inputs again */
    engine__register_secret_inputs(en, fl->f, row.inputs);
    store_task_run *runs = NULL;
    size_t n = 0;
    int listed = store_task_run_list(en->o.store, id, &runs, &n, e) == 0;
    if (!listed || xexec_load_runs(x, runs, n, e)) {
        if (listed || rows_are_bad(e))
            e->code = ENGINE_E_UNLOADABLE;
        store_task_runs_free(runs, n);
        engine_flow_release(en, fl);
        x->fl = NULL;
        xexec_free(x);
        return NULL;
    }
    store_task_runs_free(runs, n);
    return x;
}

static void exec_destroy(engine *en, xexec *x)
{
    eflow *fl = x->fl;
    xexec_free(x);
    engine_flow_release(en, fl);
}

xexec *engine_exec_get(engine *en, const char *id, kerr *e)
{
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->exec_index, id);
    if (slot) {
        xexec *x = en->execs[json_integer_value(slot)];
        x->refs++;
        pthread_mutex_unlock(&en->lock);
        return x;
    }
    pthread_mutex_unlock(&en->lock);
    xexec *x = load_exec(en, id, e);
    if (!x)
        return NULL;
    pthread_mutex_lock(&en->lock);
    slot = json_object_get(en->exec_index, id);
    if (slot) {
        xexec *other = en->execs[json_integer_value(slot)];
        other->refs++;
        pthread_mutex_unlock(&en->lock);
        exec_destroy(en, x);
        return other;
    }
    /* reuse a free slot */
    size_t i;
    for (i = 0; i < en->nexecs; i++)
        if (!en->execs[i])
            break;
    if (i == en->nexecs) {
        en->execs = xrealloc(en->execs, (en->nexecs + 1) * sizeof *en->execs);
        en->nexecs++;
    }
    en->execs[i] = x;
    json_object_set_new(en->exec_index, id, json_integer((json_int_t)i));
    x->refs = 2;
    pthread_mutex_unlock(&en->lock);
    return x;
}

void engine_exec_release(engine *en, xexec *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&en->lock);
    int last = --x->refs == 0;
    pthread_mutex_unlock(&en->lock);
    if (last)
        exec_destroy(en, x);
}

void engine_exec_forget(engine *en, const char *id)
{
    pthread_mutex_lock(&en->lock);
    json_t *slot = json_object_get(en->exec_index, id);
    xexec *x = NULL;
    if (slot) {
        size_t i = (size_t)json_integer_value(slot);
        x = en->execs[i];
        en->execs[i] = NULL;
        json_object_del(en->exec_index, id);
        if (--x->refs > 0)
            x = NULL;
    }
    pthread_mutex_unlock(&en->lock);
    if (x)
        exec_destroy(en, x);
}

/* ---- waking the executor ------------------------------------------------------------------ */

/* Events were committed: the executor thread (loop.c) takes them now
 * rather than at its next poll. */
void engine_wake_executor(engine *en)
{
    /* the executor waits on the store's wake-up (store_queue_wait), which a
     * commit that pushed events moves on by itself; this covers the rest */
    store_queue_notify(en->o.store, "event");
}

/* ---- start-up recovery ---------------------------------------------------------------- */

/* Whether the process that held leases as owner is gone for sure. Owners
 * are "<worker id>/<role>". Our own worker id is a previous run of this
 * process (two live processes never share one); "<our host>-<pid>[.<n>]"
 * is dead when no process has that pid (one that reused it keeps its
 * leases until their deadline: the safe side). Owners without a "/" come
 * from kites that ran alone on their store. Anything else may be alive. */
static int owner_dead(const engine *en, const char *owner, const char *host)
{
    const char *slash = strchr(owner, '/');
    if (!slash)
        return 1;
    size_t wl = (size_t)(slash - owner);
    if (wl == strlen(en->worker_id) && !strncmp(owner, en->worker_id, wl))
        return 1;
    /* "<host>-<pid>" with an optional ".<n>" */
    const char *end = slash;
    const char *dot = memrchr(owner, '.', wl);
    if (dot && dot + 1 < end && strspn(dot + 1, "0123456789") == (size_t)(end - dot - 1))
        end = dot;
    const char *dash = memrchr(owner, '-', (size_t)(end - owner));
    if (!dash || dash + 1 >= end || strspn(dash + 1, "0123456789") != (size_t)(end - dash - 1))
        return 0;
    if ((size_t)(dash - owner) != strlen(host) || strncmp(owner, host, (size_t)(dash - owner)))
        return 0;
    long pid = strtol(dash + 1, NULL, 10);
    if (pid <= 0 || pid == (long)getpid())
        return 0; /* another engine of this process: alive, or it gave its leases back */
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Hands back the leases of dead owners, then those past their deadline. */
static int recover_leases(engine *en, kerr *e)
{
    char host[64] = "kite";
    gethostname(host, sizeof host - 1);
    char **owners = NULL;
    size_t n = 0;
    if (store_queue_owners(en->o.store, &owners, &n, e))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!owner_dead(en, owners[i], host))
            continue;
        const char *slash = strchr(owners[i], '/');
        char *prefix = slash ? xasprintf("%.*s/", (int)(slash - owners[i]), owners[i]) : xstrdup(owners[i]);
        rc = store_queue_release(en->o.store, prefix, NULL, NULL, e);
        free(prefix);
    }
    store_strings_free(owners, n);
    if (!rc)
        rc = store_queue_expire(en->o.store, 0, NULL, NULL, e);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static json_t *envs_from_environ(const char *prefix)
{
    extern char **environ;
    json_t *o = json_object();
    size_t pl = strlen(prefix);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, prefix, pl))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || eq - *e <= (long)pl)
            continue;
        char name[256];
        size_t n = (size_t)(eq - *e) - pl;
        if (n >= sizeof name)
            continue;
        for (size_t i = 0; i < n; i++) {
            char c = (*e)[pl + i];
            name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        name[n] = '\0';
        json_object_set_new(o, name, json_string(eq + 1));
    }
    return o;
}

engine *engine_new(const engine_opts *o, kerr *e)
{
    if (!o->store || !o->storage) {
        kerr_set(e, "engine: a store and a storage are required");
        return NULL;
    }
    engine *en = xcalloc(1, sizeof *en);
    en->o = *o;
    if (o->worker_id) {
        snprintf(en->worker_id, sizeof en->worker_id, "%s", o->worker_id);
    } else {
        /* unique among the engines of this process too */
        static atomic_int engines;
        int nth = atomic_fetch_add(&engines, 1);
        char host[64] = "kite";
        gethostname(host, sizeof host - 1);
        if (nth)
            snprintf(en->worker_id, sizeof en->worker_id, "%s-%d.%d", host, (int)getpid(), nth + 1);
        else
            snprintf(en->worker_id, sizeof en->worker_id, "%s-%d", host, (int)getpid());
    }
    snprintf(en->exec_owner, sizeof en->exec_owner, "%s/executor", en->worker_id);
    en->roles = o->roles ? o->roles : ENGINE_EXECUTOR | ENGINE_WORKER;
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    en->tmp_dir = xstrdup(tmp && *tmp ? tmp : "/tmp");
    en->env_prefix = xstrdup(o->env_prefix ? o->env_prefix : "ENV_");
    en->envs = envs_from_environ(en->env_prefix);
    en->globals = o->globals ? json_incref(o->globals) : json_object();
    en->envs_refs = json_share(en->envs);
    en->globals_refs = json_share(en->globals);
    /* tasks mostly wait (on a process, a server, a sleep): as Kestra, which
     * runs 8 worker threads per core, the default is 8 per core */
    if (o->workers > 0) {
        en->nworkers = o->workers;
    } else {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        en->nworkers = (int)(ncpu > 0 ? ncpu : 1) * ENGINE_WORKERS_PER_CORE;
    }
    if (en->nworkers < 2)
        en->nworkers = 2;
    en->max_task_runs = o->max_task_runs ? o->max_task_runs : ENGINE_MAX_TASK_RUNS;
    en->max_active = 256;
    if ((size_t)en->nworkers * 4 > en->max_active)
        en->max_active = (size_t)en->nworkers * 4;
    if (!en->o.lease_us)
        en->o.lease_us = 300LL * US_PER_SEC;
    pthread_mutex_init(&en->lock, NULL);
    pthread_cond_init(&en->work_wake, NULL);
    pthread_cond_init(&en->ended, NULL);
    en->mask = masker_new();
    engine__register_env_secrets(en);
    en->flow_index = json_object();
    en->flow_files = json_object();
    en->exec_index = json_object();
    en->cancels = json_object();
    engine__host_init(en);
    if (o->encryption_key && *o->encryption_key) {
        char *probe = aesgcm_encrypt(o->encryption_key, "", 0, e);
        if (!probe) {
            kerr_prefix(e, "encryption.secretKey");
            engine_free(en);
            return NULL;
        }
        free(probe);
        en->enc_key = xstrdup(o->encryption_key);
    }
    if (engine__secrets_init(en, o->secret_backends, e)) {
        engine_free(en);
        return NULL;
    }
    return en;
}

/* The engine's threads, counted while they live: engine_stop may leave one
 * behind, and engine_free frees nothing until the count is back to 0. */
static void *run_executor(void *arg)
{
    engine *en = arg;
    executor_main(en);
    atomic_fetch_sub(&en->live, 1);
    return NULL;
}

static void *run_worker(void *arg)
{
    engine *en = arg;
    worker_main(en);
    atomic_fetch_sub(&en->live, 1);
    return NULL;
}

/* The workers' slots (engine_int.h), and results handed and never written
 * (a stop that left the executor behind): their jobs stay leased and run
 * again. */
static void slots_free(engine *en)
{
    for (int i = 0; i < en->nslots; i++) {
        pthread_cond_destroy(&en->slots[i].wake);
        store_jobs_free(en->slots[i].job, en->slots[i].job ? 1 : 0);
    }
    free(en->slots);
    en->slots = NULL;
    en->nslots = 0;
    while (en->results) {
        hresult *h = en->results;
        en->results = h->next;
        engine__hresult_free(h);
    }
    en->results_tail = &en->results;
}

int engine_start(engine *en, kerr *e)
{
    if (recover_leases(en, e))
        return -1;
    atomic_store(&en->running, 1);
    en->results_tail = &en->results;
    /* embedded: tasks and results travel in memory between the two roles */
    en->handoff = (en->roles & (ENGINE_EXECUTOR | ENGINE_WORKER)) == (ENGINE_EXECUTOR | ENGINE_WORKER);
    if (en->roles & ENGINE_EXECUTOR) {
        atomic_fetch_add(&en->live, 1);
        if (pthread_create(&en->executor, NULL, run_executor, en)) {
            atomic_fetch_sub(&en->live, 1);
            atomic_store(&en->running, 0);
            return kerr_set(e, "cannot start the executor thread");
        }
        en->executor_started = 1;
    }
    if (en->roles & ENGINE_WORKER) {
        /* under the lock: the executor, started above, reads the slots */
        pthread_mutex_lock(&en->lock);
        en->jobs_pending = 1;   /* one worker leases what a crash left */
        en->poller = -1;
        slots_free(en);
        en->slots = xcalloc((size_t)en->nworkers + 1, sizeof *en->slots);
        en->nslots = en->nworkers;
        atomic_store(&en->slot_seq, 0);
        for (int i = 0; i < en->nworkers; i++) {
            pthread_cond_init(&en->slots[i].wake, NULL);
            snprintf(en->slots[i].owner, sizeof en->slots[i].owner, "%s/worker-%d", en->worker_id,
                     atomic_fetch_add(&en->worker_seq, 1));
        }
        pthread_mutex_unlock(&en->lock);
        en->workers = xcalloc((size_t)en->nworkers + 1, sizeof *en->workers);
        for (int i = 0; i < en->nworkers; i++) {
            atomic_fetch_add(&en->live, 1);
            if (!pthread_create(&en->workers[en->nstarted], NULL, run_worker, en))
                en->nstarted++;
            else
                atomic_fetch_sub(&en->live, 1);
        }
        if (!en->nstarted) {
            engine_stop(en, 0);
            return kerr_set(e, "cannot start the worker threads");
        }
    }
    return 0;
}

void engine_stop(engine *en, int64_t grace_us)
{
    if (!atomic_load(&en->running))
        return;
    pthread_mutex_lock(&en->lock);
    en->stopping = 1;
    for (int i = 0; i < en->nslots; i++)
        pthread_cond_signal(&en->slots[i].wake);   /* idle workers end */
    pthread_mutex_unlock(&en->lock);
    /* let running tasks finish within the grace period, then cancel them */
    int64_t deadline = time_mono_us() + grace_us;
    for (;;) {
        pthread_mutex_lock(&en->lock);
        size_t running = json_object_size(en->cancels);
        pthread_mutex_unlock(&en->lock);
        if (!running || time_mono_us() >= deadline)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&en->lock);
    /* what still runs is stopped and handed back (below, once the threads
     * are joined: attempt + 1, ready at once) */
    atomic_store(&en->aborting, 1);
    const char *k;
    json_t *flag;
    json_object_foreach(en->cancels, k, flag) atomic_store((atomic_int *)(uintptr_t)json_integer_value(flag), 1);
    atomic_store(&en->running, 0);
    pthread_cond_broadcast(&en->work_wake);
    for (int i = 0; i < en->nslots; i++)
        pthread_cond_broadcast(&en->slots[i].wake);
    pthread_cond_broadcast(&en->ended);
    pthread_mutex_unlock(&en->lock);
    store_queue_notify(en->o.store, "event"); /* the executor waits there */
    /* a hard limit: cancelled tasks get ENGINE_STOP_MARGIN_US to wind down
     * (a script's SIGTERM, then SIGKILL after 5 s); a thread still busy
     * then (an in-process evaluation that never checks its cancel flag) is
     * left behind, detached, with the leases of this process: they go back
     * at the next start, and engine_free leaves what it may still use */
    int64_t margin = en->o.stop_margin_us > 0 ? en->o.stop_margin_us : ENGINE_STOP_MARGIN_US;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t nsec = (int64_t)ts.tv_nsec + (margin % US_PER_SEC) * 1000;
    ts.tv_sec += (time_t)(margin / US_PER_SEC + nsec / 1000000000);
    ts.tv_nsec = (long)(nsec % 1000000000);
    int stuck = 0;
    if (en->executor_started && pthread_timedjoin_np(en->executor, NULL, &ts)) {
        pthread_detach(en->executor);
        stuck++;
    }
    en->executor_started = 0;
    for (int i = 0; i < en->nstarted; i++)
        if (pthread_timedjoin_np(en->workers[i], NULL, &ts)) {
            pthread_detach(en->workers[i]);
            stuck++;
        }
    en->nstarted = 0;
    if (stuck) {
        fprintf(stderr, "kite: engine: %d thread%s still busy %.1f s after the grace period: left behind (their tasks run again at the next start)\n",
                stuck, stuck == 1 ? "" : "s", margin / 1e6);
        return;
    }
    free(en->workers);
    en->workers = NULL;
    /* the leases still held (tasks stopped, events not written) */
    char prefix[sizeof en->worker_id + 1];
    snprintf(prefix, sizeof prefix, "%s/", en->worker_id);
    kerr e = KERR_INIT;
    if (store_queue_release(en->o.store, prefix, NULL, NULL, &e))
        fprintf(stderr, "kite: engine: giving back leases: %s\n", e.msg);
}

int engine_stuck_threads(engine *en)
{
    return atomic_load(&en->running) ? 0 : atomic_load(&en->live);
}

const char *engine_encryption_key(const engine *en) { return en ? en->enc_key : NULL; }

void engine_free(engine *en)
{
    if (!en)
        return;
    engine_stop(en, 0);
    if (atomic_load(&en->live))
        return; /* a thread left behind may still use all of it */
    free(en->workers);
    slots_free(en);
    for (size_t i = 0; i < en->nexecs; i++)
        if (en->execs[i])
            exec_destroy(en, en->execs[i]);
    free(en->execs);
    for (size_t i = 0; i < en->nflows; i++)
        eflow_free(en->flows[i]);
    free(en->flows);
    json_decref(en->flow_index);
    json_decref(en->flow_files);
    json_decref(en->exec_index);
    json_decref(en->cancels);
    json_unshare(en->envs, en->envs_refs);
    json_unshare(en->globals, en->globals_refs);
    json_decref(en->envs);
    json_decref(en->globals);
    masker_free(en->mask);
    engine__secrets_free(en);
    free(en->host0);
    pthread_mutex_destroy(&en->lock);
    pthread_cond_destroy(&en->work_wake);
    pthread_cond_destroy(&en->ended);
    free(en->tmp_dir);
    free(en->env_prefix);
    if (en->enc_key) {
        explicit_bzero(en->enc_key, strlen(en->enc_key));
        free(en->enc_key);
    }
    free(en);
}
